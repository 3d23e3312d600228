"""Group 4 -- Reserved opcodes (RFC 6455 5.2; Autobahn 4.1 non-control 3-7, 4.2 control 11-15).

"If an unknown opcode is received, the receiving endpoint MUST _Fail the WebSocket
Connection_." -> close 1002 (7.4.1: 1002 = protocol error).

4.1.* opcodes 3..7, 4.2.* opcodes 11..15; for each opcode (4.x.<opcode>.<variant>):
  .1 empty frame            .2 frame with payload         .3 valid text first (must be echoed
  first -- project requirement, see group 3 notes), then the bad frame, then a ping (no pong)
  .4 the bad opcode with FIN=0                             .5 bad opcode between the fragments
  of a text message (no echo)                              .6 like .3, one byte per write
"""
from wsframe import OP_TEXT, OP_CONT, register, frame, text, ping, binary_payload


def _variants(op):
    return [
        ("empty frame", lambda: frame(op, b""), ()),
        ("frame with 20-byte payload", lambda: frame(op, binary_payload(20)), ()),
        ("after a valid text (echoed first), followed by a ping (no pong)",
         lambda: text("valid") + frame(op, b"reserved") + ping(b"no pong"), ((OP_TEXT, b"valid"),)),
        ("with FIN=0", lambda: frame(op, b"frag", fin=False) + frame(OP_CONT, b"end"), ()),
        ("between two fragments of a text message",
         lambda: frame(OP_TEXT, "abc", fin=False) + frame(op, b"x") + frame(OP_CONT, "def"), ()),
    ]


def _mk(build, echo_first, chop=None):
    def fn(ctx):
        with ctx.connect() as c:
            data = build()
            if chop:
                c.send_chopped(data, chop)
            else:
                c.send(data)
            for o, p in echo_first:
                c.expect_message(o, p)
            c.expect_close(1002)
    return fn


for sub, ops, kind in ((1, range(3, 8), "non-control"), (2, range(11, 16), "control")):
    for op in ops:
        vs = _variants(op)
        for v, (desc, build, echo_first) in enumerate(vs, 1):
            register("4.%d.%d.%d" % (sub, op, v), "reserved %s opcode %d: %s -> 1002"
                     % (kind, op, desc), _mk(build, echo_first))
        register("4.%d.%d.%d" % (sub, op, len(vs) + 1),
                 "reserved %s opcode %d after a valid text, 1 byte per write -> echo, 1002"
                 % (kind, op), _mk(vs[2][1], vs[2][2], chop=1))
