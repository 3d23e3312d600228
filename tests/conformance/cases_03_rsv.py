"""Group 3 -- Reserved bits (RFC 6455 5.2; Autobahn 3.x).

"RSV1, RSV2, RSV3: MUST be 0 unless an extension is negotiated that defines meanings for
non-zero values. If a nonzero value is received and none of the negotiated extensions defines
the meaning of such a nonzero value, the receiving endpoint MUST _Fail the WebSocket
Connection_." The suite never offers an extension, so every RSV combination (1..7) on every
frame type must fail the connection with 1002.

3.<rsv>.<kind>: rsv is the 3-bit value (4 = RSV1, 2 = RSV2, 1 = RSV3).

Project requirement beyond the RFC (3.<rsv>.7 and .8): a valid message sent in the same write
*before* the bad frame is still echoed before the close (Autobahn rates a server that skips
the echo NON-STRICT). A ping sent after the bad frame must not be answered.
"""
from wsframe import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, register, frame,
                     text, ping, close_payload, binary_payload)


def _rsv_name(r):
    return "+".join(n for bit, n in ((4, "RSV1"), (2, "RSV2"), (1, "RSV3")) if r & bit)


KINDS = [
    ("text 'Hello' with", lambda r: frame(OP_TEXT, "Hello", rsv=r), ()),
    ("empty text with", lambda r: frame(OP_TEXT, b"", rsv=r), ()),
    ("binary 200 bytes with", lambda r: frame(OP_BINARY, binary_payload(200), rsv=r), ()),
    ("ping with", lambda r: frame(OP_PING, b"rsv-ping", rsv=r), ()),
    ("pong with", lambda r: frame(OP_PONG, b"rsv-pong", rsv=r), ()),
    ("close 1000 with", lambda r: frame(OP_CLOSE, close_payload(1000), rsv=r), ()),
    ("valid text echoed, then text with",
     lambda r: text("first") + frame(OP_TEXT, "second", rsv=r) + ping(b"must not pong"),
     ((OP_TEXT, b"first"),)),
    ("valid text echoed, then ping with",
     lambda r: text("first") + frame(OP_PING, b"p", rsv=r) + ping(b"must not pong"),
     ((OP_TEXT, b"first"),)),
    ("text fragment ok, continuation with",
     lambda r: frame(OP_TEXT, "frag-1", fin=False) + frame(OP_CONT, "frag-2", rsv=r), ()),
]


def _mk(r, build, echo_first, chop=None):
    def fn(ctx):
        with ctx.connect() as c:
            data = build(r)
            if chop:
                c.send_chopped(data, chop)
            else:
                c.send(data)
            for op, p in echo_first:
                c.expect_message(op, p)
            c.expect_close(1002)
    return fn


for r in range(1, 8):
    for k, (desc, build, echo_first) in enumerate(KINDS, 1):
        register("3.%d.%d" % (r, k), "%s %s -> 1002" % (desc, _rsv_name(r)),
                 _mk(r, build, echo_first))
    # same as kind 7 but delivered one byte per write
    register("3.%d.%d" % (r, len(KINDS) + 1),
             "valid text echoed, then text with %s, sent 1 byte per write -> 1002" % _rsv_name(r),
             _mk(r, KINDS[6][1], KINDS[6][2], chop=1))
