"""Group 10 -- Maximum message size (RFC 6455 7.4.1 code 1009 "message that is too big for it
to process"). Autobahn's group 10 is auto-fragmentation; ours covers the daemon's
--max-message-size limit instead (see README).

10.1-10.3 run against a daemon started with --max-message-size 100000 (configuration "maxsize");
10.4 against the default daemon (16 MiB = 16777216 bytes, limit inclusive).

The limit applies to the whole (reassembled) message, not to single frames.

Project requirement beyond the RFC (10.2.5-10.2.9, 10.4.3): when a frame header already
declares a length that takes the message over the limit, the server closes with 1009 at once,
without waiting for (or buffering) the payload. The RFC does not say when the check happens.
"""
from wsframe import (OP_BINARY, OP_CONT, OP_TEXT, register, frame, fragments, text, binary, ping,
                     cont, text_payload, binary_payload)

MAX = 100000
DEFAULT_MAX = 16 * 1024 * 1024


def _payload(op, n):
    return text_payload(n) if op == OP_TEXT else binary_payload(n)


def _echo(op, n, frag=None, config="maxsize"):
    def fn(ctx):
        data = _payload(op, n)
        wire = b"".join(fragments(op, data, frag)) if frag else frame(op, data)
        with ctx.connect() as c:
            c.send_bg(wire)
            c.expect_message(op, data, timeout=30)
            c.join_send()
            c.assert_quiet()
    return fn


def _too_big(build, echo_first=(), timeout=5.0):
    def fn(ctx):
        with ctx.connect() as c:
            c.send_bg(build())  # the server may stop reading and close: send errors are fine
            for op, p in echo_first:
                c.expect_message(op, p, timeout=30)
            c.expect_close(1009, timeout=timeout)
    return fn


def reg(cid, title, fn, config="maxsize"):
    register(cid, title, fn, config=config)


reg("10.1.1", "text of exactly max size (%d) in one frame -> echo" % MAX, _echo(OP_TEXT, MAX))
reg("10.1.2", "binary of exactly max size in one frame -> echo", _echo(OP_BINARY, MAX))
reg("10.1.3", "binary of exactly max size in 4 fragments -> echo",
    _echo(OP_BINARY, MAX, frag=MAX // 4))
reg("10.1.4", "text of exactly max size in 1000-byte fragments -> echo",
    _echo(OP_TEXT, MAX, frag=1000))
reg("10.1.5", "binary of max size - 1 -> echo", _echo(OP_BINARY, MAX - 1))

reg("10.2.1", "text of max size + 1 in one frame -> 1009",
    _too_big(lambda: text(text_payload(MAX + 1))))
reg("10.2.2", "binary of max size + 1 in one frame -> 1009",
    _too_big(lambda: binary(binary_payload(MAX + 1))))
reg("10.2.3", "binary of max size + 1 in 2 fragments (each under the limit) -> 1009",
    _too_big(lambda: b"".join(fragments(OP_BINARY, binary_payload(MAX + 1), [MAX // 2]))))
reg("10.2.4", "text fragments of 1 KiB, 200 KiB in total, never finished -> 1009",
    _too_big(lambda: frame(OP_TEXT, text_payload(1024), fin=False)
             + b"".join(cont(text_payload(1024), fin=False) for _ in range(199))))
reg("10.2.5", "header declaring max size + 1, payload never sent -> 1009 at once",
    _too_big(lambda: frame(OP_BINARY, b"", length=MAX + 1)))
reg("10.2.6", "header declaring 2^40 bytes, payload never sent -> 1009 at once",
    _too_big(lambda: frame(OP_BINARY, b"", length=1 << 40)))
reg("10.2.7", "text header declaring 2^63-1 bytes (MSB clear), payload never sent -> 1009",
    _too_big(lambda: frame(OP_TEXT, b"", length=(1 << 63) - 1)))
reg("10.2.8", "first fragment (FIN=0) header declaring max size + 1 -> 1009 at once",
    _too_big(lambda: frame(OP_BINARY, b"", fin=False, length=MAX + 1)))
reg("10.2.9", "fragment of 60000 bytes, then a continuation header declaring 50000 -> 1009 at once",
    _too_big(lambda: frame(OP_BINARY, binary_payload(60000), fin=False)
             + frame(OP_CONT, b"", length=50000)))
reg("10.2.10", "max-size message echoed, then a max+1 message -> echo, then 1009",
    _too_big(lambda: binary(binary_payload(MAX)) + binary(binary_payload(MAX + 1)),
             echo_first=[(OP_BINARY, binary_payload(MAX))]))
reg("10.2.11", "text of max size + 1 in 1-byte fragments (only the count exceeds) -> 1009",
    _too_big(lambda: b"".join(fragments(OP_TEXT, text_payload(MAX + 1), 1)), timeout=15))


def _control_unaffected(ctx):
    data = binary_payload(MAX)
    fr = fragments(OP_BINARY, data, [MAX // 2])
    with ctx.connect() as c:
        c.send(fr[0] + ping(b"p" * 125) + fr[1])
        evs = sorted((e.opcode, e.payload) for e in (c.recv_event(), c.recv_event()))
        if evs != sorted([(OP_BINARY, data), (0xA, b"p" * 125)]):
            raise AssertionError("expected echo of the max-size message and the pong, got %r"
                                 % [(o, len(p)) for o, p in evs])


reg("10.3.1", "max-size fragmented message with a 125-byte ping inside -> echo and pong",
    _control_unaffected)

# ---- default limit 16 MiB
reg("10.4.1", "binary of exactly 16 MiB (default limit) in one frame -> echo",
    _echo(OP_BINARY, DEFAULT_MAX), config="default")
reg("10.4.2", "text of exactly 16 MiB in 1 MiB fragments -> echo",
    _echo(OP_TEXT, DEFAULT_MAX, frag=1 << 20), config="default")
reg("10.4.3", "header declaring 16 MiB + 1, payload never sent -> 1009 at once",
    _too_big(lambda: frame(OP_BINARY, b"", length=DEFAULT_MAX + 1)), config="default")
reg("10.4.4", "binary of 16 MiB + 1 in 4 MiB fragments -> 1009",
    _too_big(lambda: b"".join(fragments(OP_BINARY, binary_payload(DEFAULT_MAX + 1), 4 << 20)),
             timeout=15), config="default")
reg("10.4.5", "header declaring 2^40 bytes on the default daemon -> 1009 at once",
    _too_big(lambda: frame(OP_TEXT, b"", length=1 << 40)), config="default")
