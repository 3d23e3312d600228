"""Group 1 -- Framing (RFC 6455 5.2, 5.3, 5.6; Autobahn 1.x).

1.1.*  text messages of many lengths covering the 7-bit, 16-bit and 64-bit length encodings
1.2.*  the same for binary messages
1.3.*  framing variants: special masking keys, pipelined messages, headers split across writes
1.4.*  frame header errors: unmasked client frames (5.1), non-minimal length encodings (5.2
       "the minimal number of bytes MUST be used"), 64-bit length with the MSB set (5.2 "the
       most significant bit MUST be 0"). All -> close 1002.

RFC note (1.4.2x/1.4.3x): RFC 6455 states the minimal-length and MSB rules as sender
requirements; it does not spell out what a receiver must do. Switchboard's contract is to fail
the connection with 1002 (project requirement, strict here).
"""
from wsframe import (OP_BINARY, OP_TEXT, OP_PING, register, frame, text, binary, ping, close,
                     pong, cont, text_payload, binary_payload)

LENGTHS = [0, 1, 2, 7, 16, 64, 124, 125, 126, 127, 128, 200, 1000, 4096, 65534, 65535, 65536,
           65537, 100000]


def _echo_case(opcode, n, chop=None):
    def fn(ctx):
        data = text_payload(n) if opcode == OP_TEXT else binary_payload(n)
        with ctx.connect() as c:
            f = frame(opcode, data)
            if chop:
                c.send_chopped(f, chop)
            else:
                c.send(f)
            c.expect_message(opcode, data)
            c.assert_quiet(what="exactly one echo")
    return fn


def _enc_name(n):
    return "7-bit" if n < 126 else ("16-bit" if n < 65536 else "64-bit")


for i, n in enumerate(LENGTHS, 1):
    register("1.1.%d" % i, "text message, payload %d bytes (%s length)" % (n, _enc_name(n)),
             _echo_case(OP_TEXT, n))
    register("1.2.%d" % i, "binary message, payload %d bytes (%s length)" % (n, _enc_name(n)),
             _echo_case(OP_BINARY, n))

register("1.1.30", "text message 65536 bytes sent in 997-byte writes", _echo_case(OP_TEXT, 65536, 997))
register("1.2.30", "binary message 65536 bytes sent in 997-byte writes",
         _echo_case(OP_BINARY, 65536, 997))
register("1.1.31", "text message 300 bytes sent 1 byte per write", _echo_case(OP_TEXT, 300, 1))
register("1.2.31", "binary message 300 bytes sent 1 byte per write", _echo_case(OP_BINARY, 300, 1))


# ---------------------------------------------------------------- 1.3 framing variants

def _mask_key_case(key):
    def fn(ctx):
        data = text_payload(500)
        with ctx.connect() as c:
            c.send(frame(OP_TEXT, data, key=key))
            c.expect_message(OP_TEXT, data)
            c.send(frame(OP_BINARY, binary_payload(70), key=key))
            c.expect_message(OP_BINARY, binary_payload(70))
    return fn


register("1.3.1", "masking key 00000000 (masked, identity XOR)", _mask_key_case(b"\x00\x00\x00\x00"))
register("1.3.2", "masking key ffffffff", _mask_key_case(b"\xff\xff\xff\xff"))
register("1.3.3", "masking key 80 00 00 01 (payload offsets use key[i % 4])",
         _mask_key_case(b"\x80\x00\x00\x01"))


def _pipelined(ctx):
    msgs = []
    for i in range(20):
        if i % 2:
            msgs.append((OP_BINARY, binary_payload(i * 37)))
        else:
            msgs.append((OP_TEXT, text_payload(i * 41)))
    with ctx.connect() as c:
        c.send(b"".join(frame(op, p) for op, p in msgs))
        for op, p in msgs:
            c.expect_message(op, p)
        c.assert_quiet()


register("1.3.4", "20 text/binary messages in one write are echoed in order with their opcodes",
         _pipelined)


def _header_split(n, opcode):
    def fn(ctx):
        data = text_payload(n) if opcode == OP_TEXT else binary_payload(n)
        f = frame(opcode, data)
        hlen = 6 if n < 126 else (8 if n < 65536 else 14)
        with ctx.connect() as c:
            for pos in range(1, hlen + 1):
                c.send_split(f, [pos])
                c.expect_message(opcode, data, what="echo with frame split after byte %d" % pos)
    return fn


register("1.3.5", "7-bit header split at every header byte (separate writes)", _header_split(20, OP_TEXT))
register("1.3.6", "16-bit header split at every header byte (separate writes)",
         _header_split(300, OP_BINARY))
register("1.3.7", "64-bit header split at every header byte (separate writes)",
         _header_split(70000, OP_BINARY))


def _nul_text(ctx):
    data = b"\x00a\x00\x00b\x00"
    with ctx.connect() as c:
        c.send(text(data))
        c.expect_message(OP_TEXT, data)


register("1.3.8", "text containing U+0000 characters is valid and echoed", _nul_text)


def _two_writes_per_message(ctx):
    with ctx.connect() as c:
        for n in (0, 5, 125, 126, 1000):
            data = binary_payload(n)
            f = binary(data)
            c.send_split(f, [len(f) // 2])
            c.expect_message(OP_BINARY, data)


register("1.3.9", "binary frames each split in the middle across two writes", _two_writes_per_message)


def _frame_spanning(ctx):
    # end of one frame and start of the next in the same write
    a, b = text_payload(50), text_payload(90)
    fa, fb = text(a), text(b)
    stream = fa + fb
    with ctx.connect() as c:
        c.send_split(stream, [len(fa) - 3, len(fa) + 4])
        c.expect_message(OP_TEXT, a)
        c.expect_message(OP_TEXT, b)


register("1.3.10", "writes straddling two frames (tail of one + head of the next)", _frame_spanning)


# ---------------------------------------------------------------- 1.4 header errors

def _fail(frames, code=1002, echo_first=None):
    def fn(ctx):
        with ctx.connect() as c:
            c.send(frames() if callable(frames) else frames)
            if echo_first:
                for op, p in echo_first:
                    c.expect_message(op, p)
            c.expect_close(code)
    return fn


unmasked = [
    ("text 'Hello'", lambda: text("Hello", mask=False)),
    ("empty text", lambda: text(b"", mask=False)),
    ("binary 10 bytes", lambda: binary(binary_payload(10), mask=False)),
    ("binary 300 bytes (16-bit length)", lambda: binary(binary_payload(300), mask=False)),
    ("ping", lambda: ping(b"unmasked", mask=False)),
    ("pong", lambda: pong(b"unmasked", mask=False)),
    ("close 1000", lambda: close(1000, mask=False)),
    ("first fragment of a text message", lambda: frame(OP_TEXT, "frag", fin=False, mask=False)),
]
for i, (desc, fb) in enumerate(unmasked, 1):
    register("1.4.%d" % i, "unmasked client frame (%s) -> 1002" % desc, _fail(fb))

register("1.4.9", "masked text then unmasked text: first echoed, then 1002",
         _fail(lambda: text("masked ok") + text("unmasked", mask=False),
               echo_first=[(OP_TEXT, b"masked ok")]))
register("1.4.10", "text fragment masked, continuation unmasked -> 1002",
         _fail(lambda: frame(OP_TEXT, "part1", fin=False) + cont("part2", mask=False)))

nonminimal = [
    (OP_TEXT, 16, 0), (OP_TEXT, 16, 1), (OP_TEXT, 16, 125),
    (OP_BINARY, 16, 0), (OP_BINARY, 16, 100),
    (OP_TEXT, 64, 0), (OP_TEXT, 64, 1), (OP_TEXT, 64, 125), (OP_TEXT, 64, 126),
    (OP_BINARY, 64, 65535), (OP_BINARY, 64, 1000),
    (OP_PING, 16, 5), (OP_PING, 64, 5),
]
for i, (op, enc, n) in enumerate(nonminimal, 21):
    name = {OP_TEXT: "text", OP_BINARY: "binary", OP_PING: "ping"}[op]

    def mk(op=op, enc=enc, n=n):
        data = text_payload(n) if op == OP_TEXT else binary_payload(n)
        return frame(op, data, enc=enc)
    register("1.4.%d" % i, "non-minimal length: %s %d bytes in %d-bit encoding -> 1002"
             % (name, n, enc), _fail(mk))

register("1.4.34", "valid text, then non-minimal 16-bit length text: echo, then 1002",
         _fail(lambda: text("first") + frame(OP_TEXT, "second", enc=16),
               echo_first=[(OP_TEXT, b"first")]))

msb = [(OP_TEXT, 1 << 63), (OP_TEXT, (1 << 63) + 5), (OP_BINARY, (1 << 64) - 1),
       (OP_BINARY, (1 << 63) + 65536)]
for i, (op, n) in enumerate(msb, 41):
    name = "text" if op == OP_TEXT else "binary"
    # Only the header and a few payload bytes are sent: the length is invalid in itself.
    register("1.4.%d" % i, "64-bit length with MSB set (%s, length 0x%x) -> 1002 without payload"
             % (name, n), _fail(lambda op=op, n=n: frame(op, b"abcd", enc=64, length=n)))
