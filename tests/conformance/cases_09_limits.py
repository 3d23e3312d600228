"""Group 9 -- Limits and throughput (Autobahn 9.x), against the default daemon (16 MiB limit).

9.1/9.2  text/binary message of 64 KiB, 256 KiB, 1 MiB, 4 MiB, 8 MiB in one frame
9.3/9.4  4 MiB text/binary message fragmented into 64 B ... 4 MiB pieces
9.5/9.6  text/binary message sent in chopped TCP writes (1 B ... 64 KiB per write)
9.7/9.8  1000 sequential round trips of text/binary messages of 0 ... 4 KiB
9.9      pipelining and many connections

Every echo must be byte-identical and keep its opcode. The pipelines in 9.9 stay under the
daemon's default per-connection backpressure budget (1 MiB of unsent data, --max-backpressure):
a Python client that reads more slowly than the server echoes (e.g. under CPU contention) may
otherwise be closed with 1008 "slow consumer", which is the daemon's policy working as designed,
not a conformance failure. Data is sent from a background thread
while the case reads, so a server that streams its echo or applies backpressure cannot
deadlock with the client.
"""
import os

from wsframe import (OP_BINARY, OP_TEXT, register, frame, fragments, text, binary, text_payload,
                     binary_payload)

KiB, MiB = 1024, 1024 * 1024


def _payload(op, n):
    return text_payload(n) if op == OP_TEXT else binary_payload(n)


def _big(op, n, frag=None, chop=None, timeout=30.0):
    def fn(ctx):
        data = _payload(op, n)
        if frag:
            wire = b"".join(fragments(op, data, frag))
        else:
            wire = frame(op, data)
        with ctx.connect() as c:
            c.send_bg(wire, chop=chop)
            c.expect_message(op, data, timeout=timeout)
            c.join_send()
            c.assert_quiet()
    return fn


def _size(n):
    return "%d MiB" % (n // MiB) if n >= MiB else "%d KiB" % (n // KiB) if n >= KiB else "%d B" % n


for sub, op, name in ((1, OP_TEXT, "text"), (2, OP_BINARY, "binary")):
    for i, n in enumerate((64 * KiB, 256 * KiB, MiB, 4 * MiB, 8 * MiB), 1):
        register("9.%d.%d" % (sub, i), "%s message of %s in one frame -> echo" % (name, _size(n)),
                 _big(op, n))

for sub, op, name in ((3, OP_TEXT, "text"), (4, OP_BINARY, "binary")):
    for i, fs in enumerate((64, 256, KiB, 4 * KiB, 16 * KiB, 64 * KiB, 256 * KiB, MiB, 4 * MiB), 1):
        register("9.%d.%d" % (sub, i), "%s message of 4 MiB in fragments of %s -> echo"
                 % (name, _size(fs)), _big(op, 4 * MiB, frag=fs))

CHOPS = [(1, 64 * KiB), (3, 64 * KiB), (7, 256 * KiB), (64, MiB), (128, MiB), (256, MiB),
         (1024, MiB), (4 * KiB, 4 * MiB), (64 * KiB, 4 * MiB)]
for sub, op, name in ((5, OP_TEXT, "text"), (6, OP_BINARY, "binary")):
    for i, (chop, n) in enumerate(CHOPS, 1):
        register("9.%d.%d" % (sub, i), "%s message of %s sent in %s writes -> echo"
                 % (name, _size(n), _size(chop)), _big(op, n, chop=chop))


def _round_trips(op, n, count=1000):
    def fn(ctx):
        data = _payload(op, n)
        with ctx.connect() as c:
            for i in range(count):
                c.send(frame(op, data))
                c.expect_message(op, data, what="echo %d of %d" % (i + 1, count))
    return fn


for sub, op, name in ((7, OP_TEXT, "text"), (8, OP_BINARY, "binary")):
    for i, n in enumerate((0, 16, 64, 256, KiB, 4 * KiB), 1):
        register("9.%d.%d" % (sub, i), "1000 sequential round trips of %s %d-byte messages"
                 % (name, n), _round_trips(op, n))


def _pipeline(count, n):
    def fn(ctx):
        msgs = [(OP_TEXT if i % 2 else OP_BINARY, _payload(OP_TEXT if i % 2 else OP_BINARY,
                                                             n + i % 7)) for i in range(count)]
        with ctx.connect() as c:
            c.send_bg(b"".join(frame(op, p) for op, p in msgs))
            for i, (op, p) in enumerate(msgs):
                c.expect_message(op, p, timeout=20, what="echo %d of %d" % (i + 1, count))
            c.join_send()
            c.assert_quiet()
    return fn


register("9.9.1", "500 messages of ~1 KiB pipelined in one write -> all echoed in order",
         _pipeline(500, KiB))
register("9.9.2", "10000 messages of ~16 B pipelined -> all echoed in order", _pipeline(10000, 16))
register("9.9.3", "12 messages of ~64 KiB pipelined (768 KiB) -> all echoed in order",
         _pipeline(12, 64 * KiB))
# Far past the server's default 1 MiB backpressure limit: a client that writes faster than it
# reads its echoes must be slowed down by TCP flow control (the server stops reading from it),
# not closed as a slow consumer.
register("9.9.7", "200 messages of ~64 KiB pipelined (12.5 MiB) -> all echoed in order",
         _pipeline(200, 64 * KiB))


def _many_connections(n):
    def fn(ctx):
        conns = []
        try:
            for i in range(n):
                conns.append(ctx.connect())
            for i, c in enumerate(conns):
                c.send(text("conn %d" % i))
            for i, c in enumerate(conns):
                c.expect_message(OP_TEXT, ("conn %d" % i).encode())
        finally:
            for c in conns:
                c.close()
    return fn


register("9.9.4", "100 simultaneous connections, each echoes its own message", _many_connections(100))


def _interleaved_big_and_small(ctx):
    big = binary_payload(2 * MiB)
    with ctx.connect() as c, ctx.connect() as d:
        c.send_bg(binary(big))
        for i in range(200):  # another connection stays responsive meanwhile
            d.send(text("small %d" % i))
            d.expect_message(OP_TEXT, ("small %d" % i).encode())
        c.expect_message(OP_BINARY, big, timeout=30)
        c.join_send()


register("9.9.5", "2 MiB echo on one connection while another does 200 small round trips",
         _interleaved_big_and_small)


def _random_sizes(ctx):
    rnd = os.urandom(64)
    sizes = [b % 200 * 37 for b in rnd]
    with ctx.connect() as c:
        for n in sizes:
            d = binary_payload(n)
            c.send(binary(d))
            c.expect_message(OP_BINARY, d)


register("9.9.6", "64 binary messages of pseudo-random sizes 0..7363 bytes", _random_sizes)
