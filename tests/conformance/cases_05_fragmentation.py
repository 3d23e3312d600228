"""Group 5 -- Fragmentation (RFC 6455 5.4, 5.5; Autobahn 5.x).

Rules exercised:
* a message = one frame with FIN=0 and opcode text/binary, zero or more continuation frames
  with FIN=0, and one continuation with FIN=1; fragments may be empty;
* control frames may be injected between fragments and must be handled there (pong answered);
* control frames themselves MUST NOT be fragmented -> 1002;
* a continuation frame with no message in progress -> 1002;
* a new text/binary frame while a fragmented message is in progress -> 1002
  ("fragments of one message MUST NOT be interleaved" / the 5.4 grammar).

RFC alternatives, documented:
* 5.3.1 / 5.3.2: the relative order of the pong and the echo is not fixed by the RFC; both must
  arrive. 5.3.4 is stricter on purpose: the final fragment is withheld until the pong arrives,
  i.e. the server must answer a ping in the middle of a fragmented message without waiting for
  the message to complete (RFC 5.5.3: pong "as soon as is practical"; 5.4: an endpoint "MUST be
  capable of handling control frames in the middle of a fragmented message").
* The server may re-fragment its echo; the suite reassembles (only the message matters).
"""
import time

from wsframe import (OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, CaseFailure, register, frame,
                     fragments, text, binary, ping, pong, close, cont, close_payload, text_payload,
                     binary_payload)


def _echo(build, expect, chop=None, split_delay=False):
    """build() -> list of frames; expect = list of (opcode, payload) echoes, then quiet."""
    def fn(ctx):
        with ctx.connect() as c:
            frames = build()
            if split_delay:
                for f in frames:
                    c.send(f)
                    time.sleep(0.003)
            elif chop:
                c.send_chopped(b"".join(frames), chop)
            else:
                c.send(b"".join(frames))
            for op, p in expect:
                c.expect_message(op, p)
            c.assert_quiet()
    return fn


def _fail(build, code=1002, echo_first=()):
    def fn(ctx):
        with ctx.connect() as c:
            c.send(b"".join(build()))
            for op, p in echo_first:
                c.expect_message(op, p)
            c.expect_close(code)
    return fn


MSG = "fragmented message, κόσμε 日本 😀!"
MSGB = MSG.encode()

# ---- 5.1 basic fragmented messages
register("5.1.1", "text in 2 fragments, one write",
         _echo(lambda: fragments(OP_TEXT, MSGB, [10]), [(OP_TEXT, MSGB)]))
register("5.1.2", "binary in 2 fragments, one write",
         _echo(lambda: fragments(OP_BINARY, binary_payload(300), [100]),
               [(OP_BINARY, binary_payload(300))]))
register("5.1.3", "text in 2 fragments, separate writes",
         _echo(lambda: fragments(OP_TEXT, MSGB, [10]), [(OP_TEXT, MSGB)], split_delay=True))
register("5.1.4", "binary in 5 fragments, separate writes",
         _echo(lambda: fragments(OP_BINARY, binary_payload(500), 100),
               [(OP_BINARY, binary_payload(500))], split_delay=True))
register("5.1.5", "text in 3 fragments of 16-bit length",
         _echo(lambda: fragments(OP_TEXT, text_payload(1200), 400), [(OP_TEXT, text_payload(1200))]))
register("5.1.6", "binary 70000 bytes in 2 fragments, one with 64-bit length",
         _echo(lambda: fragments(OP_BINARY, binary_payload(70000), [65536]),
               [(OP_BINARY, binary_payload(70000))]))
register("5.1.7", "two fragmented messages back to back (text then binary)",
         _echo(lambda: fragments(OP_TEXT, MSGB, 7) + fragments(OP_BINARY, b"0123456789", 3),
               [(OP_TEXT, MSGB), (OP_BINARY, b"0123456789")]))
register("5.1.8", "fragmented text, whole write sent 1 byte per write",
         _echo(lambda: fragments(OP_TEXT, MSGB, 5), [(OP_TEXT, MSGB)], chop=1))
register("5.1.9", "fragmented, unfragmented, fragmented messages interleaved in order",
         _echo(lambda: fragments(OP_TEXT, b"one-two", 3) + [binary(b"mid")]
               + fragments(OP_BINARY, b"three-four", 4),
               [(OP_TEXT, b"one-two"), (OP_BINARY, b"mid"), (OP_BINARY, b"three-four")]))


def _split_every(opcode, data):
    def fn(ctx):
        with ctx.connect() as c:
            for k in range(0, len(data) + 1):
                c.send(b"".join(fragments(opcode, data, pieces=[data[:k], data[k:]])))
                c.expect_message(opcode, data, what="echo of message split at %d" % k)
    return fn


register("5.1.10", "text split into 2 fragments at every byte position (0..n)",
         _split_every(OP_TEXT, b"Hello, fragmented world"))
register("5.1.11", "binary split into 2 fragments at every byte position (0..n)",
         _split_every(OP_BINARY, binary_payload(40)))

# ---- 5.2 empty fragments
EMPTY = [
    ("first fragment empty", [b"", b"abc", b"def"]),
    ("middle fragment empty", [b"abc", b"", b"def"]),
    ("last fragment empty", [b"abc", b"def", b""]),
    ("all three fragments empty", [b"", b"", b""]),
    ("two empty fragments (empty message)", [b"", b""]),
    ("many empty fragments around data", [b""] * 5 + [b"x"] + [b""] * 5),
]
for i, (desc, pieces) in enumerate(EMPTY, 1):
    data = b"".join(pieces)
    register("5.2.%d" % i, "text: %s" % desc,
             _echo(lambda pieces=pieces: fragments(OP_TEXT, None, pieces=pieces), [(OP_TEXT, data)]))
    register("5.2.%d" % (i + 10), "binary: %s" % desc,
             _echo(lambda pieces=pieces: fragments(OP_BINARY, None, pieces=pieces),
                   [(OP_BINARY, data)]))

# ---- 5.3 control frames between fragments


def _ping_in_fragments(chop=None):
    def fn(ctx):
        with ctx.connect() as c:
            fr = fragments(OP_TEXT, MSGB, [12])
            data = fr[0] + ping(b"inside") + fr[1]
            if chop:
                c.send_chopped(data, chop)
            else:
                c.send(data)
            got = [c.recv_event(what="pong and echo"), c.recv_event(what="pong and echo")]
            if sorted((e.opcode, e.payload) for e in got) != sorted([(OP_TEXT, MSGB),
                                                                     (OP_PONG, b"inside")]):
                raise CaseFailure("expected pong 'inside' and the text echo, got %s"
                                  % ", ".join(e.describe() for e in got))
            c.assert_quiet()
    return fn


register("5.3.1", "ping between two text fragments, one write -> pong and echo", _ping_in_fragments())
register("5.3.2", "ping between two text fragments, 1 byte per write -> pong and echo",
         _ping_in_fragments(chop=1))
register("5.3.3", "unsolicited pong between fragments is ignored, message echoed",
         _echo(lambda: [frame(OP_TEXT, "abc", fin=False), pong(b"x"), cont("def")],
               [(OP_TEXT, b"abcdef")]))


def _ping_answered_mid_message(ctx):
    with ctx.connect() as c:
        c.send(frame(OP_BINARY, b"part-1", fin=False) + ping(b"mid-message"))
        c.expect_pong(b"mid-message")  # before the message is complete
        c.send(cont(b"part-2", fin=False))
        c.send(ping(b"again"))
        c.expect_pong(b"again")
        c.send(cont(b"part-3"))
        c.expect_message(OP_BINARY, b"part-1part-2part-3")


register("5.3.4", "ping mid-message is answered before the final fragment is sent",
         _ping_answered_mid_message)


def _ping_after_each_fragment(ctx):
    # RFC 5.5.3 lets a server answer only the newest of several pending pings: accept an
    # in-order subsequence of pongs that ends with the last ping's.
    data = text_payload(60)
    fr = fragments(OP_TEXT, data, 6)
    expected = [b"p%d" % i for i in range(len(fr))]
    with ctx.connect() as c:
        c.send(b"".join(f + ping(p) for f, p in zip(fr, expected)))
        pongs, echo = [], None
        while echo is None or not pongs or pongs[-1] != expected[-1]:
            e = c.recv_event(what="pongs and echo")
            if e.opcode == OP_PONG:
                pongs.append(e.payload)
            elif e.opcode == OP_TEXT and echo is None:
                echo = e.payload
            else:
                raise CaseFailure("unexpected %s (pongs so far %r)" % (e.describe(), pongs))
        it = iter(expected)
        if not all(p in it for p in pongs):
            raise CaseFailure("pongs out of order or unknown: %r" % pongs)
        if echo != data:
            raise CaseFailure("echo differs from the message (len %d vs %d)" % (len(echo), len(data)))
        c.assert_quiet()


register("5.3.5", "ping after each of 10 fragments -> pongs (in order) and one echo",
         _ping_after_each_fragment)


def _close_mid_message(ctx):
    with ctx.connect() as c:
        c.send(frame(OP_TEXT, "never finished", fin=False) + close(1000))
        c.expect_close(1000)


register("5.3.6", "close between fragments -> close 1000 echoed, no partial message",
         _close_mid_message)


def _incomplete_message_not_echoed(ctx):
    with ctx.connect() as c:
        c.send(frame(OP_TEXT, "still", fin=False) + cont(" open", fin=False))
        c.assert_quiet(what="no echo of an unfinished message")
        c.send(cont(" ... done"))
        c.expect_message(OP_TEXT, b"still open ... done")


register("5.3.7", "unfinished fragmented message is not delivered early",
         _incomplete_message_not_echoed)

# ---- 5.4 fragmented control frames -> 1002
register("5.4.1", "fragmented ping (FIN=0 ping + continuation) -> 1002",
         _fail(lambda: [frame(OP_PING, b"frag", fin=False), cont(b"ment")]))
register("5.4.2", "fragmented pong -> 1002",
         _fail(lambda: [frame(OP_PONG, b"frag", fin=False), cont(b"ment")]))
register("5.4.3", "fragmented close (FIN=0 close) -> 1002",
         _fail(lambda: [frame(OP_CLOSE, close_payload(1000), fin=False), cont(b"")]))
register("5.4.4", "FIN=0 ping alone (no continuation sent) -> 1002",
         _fail(lambda: [frame(OP_PING, b"x", fin=False)]))
register("5.4.5", "FIN=0 ping inside a fragmented text message -> 1002",
         _fail(lambda: [frame(OP_TEXT, b"abc", fin=False), frame(OP_PING, b"x", fin=False),
                        cont(b"y"), cont(b"def")]))
register("5.4.6", "valid text echoed, then fragmented ping -> 1002",
         _fail(lambda: [text("ok"), frame(OP_PING, b"", fin=False), cont(b"")],
               echo_first=[(OP_TEXT, b"ok")]))

# ---- 5.5 continuation without a message in progress -> 1002
register("5.5.1", "continuation FIN=1 with no message in progress -> 1002",
         _fail(lambda: [cont(b"fragment")]))
register("5.5.2", "continuation FIN=0 then FIN=1 with no message in progress -> 1002",
         _fail(lambda: [cont(b"frag", fin=False), cont(b"ment")]))
register("5.5.3", "empty continuation FIN=1 with no message in progress -> 1002",
         _fail(lambda: [cont(b"")]))
register("5.5.4", "continuation sent 1 byte per write with no message in progress -> 1002",
         lambda ctx: _chopped_fail(ctx, [cont(b"Hello"), text("never echoed")]))
register("5.5.5", "complete text, then a continuation -> echo, then 1002",
         _fail(lambda: [text("complete"), cont(b"dangling")], echo_first=[(OP_TEXT, b"complete")]))
register("5.5.6", "complete fragmented text, then an extra continuation -> echo, then 1002",
         _fail(lambda: fragments(OP_TEXT, b"a-b-c", 2) + [cont(b"extra")],
               echo_first=[(OP_TEXT, b"a-b-c")]))
register("5.5.7", "continuation with no message, followed by a valid text (never echoed) -> 1002",
         _fail(lambda: [cont(b"x", fin=False), text("valid")]))


def _chopped_fail(ctx, frames, code=1002):
    with ctx.connect() as c:
        c.send_chopped(b"".join(frames), 1)
        c.expect_close(code)


# ---- 5.6 new data message inside a fragmented message -> 1002
register("5.6.1", "text FIN=0, then text FIN=1 -> 1002",
         _fail(lambda: [frame(OP_TEXT, b"first", fin=False), text("second")]))
register("5.6.2", "text FIN=0, then binary FIN=0 -> 1002",
         _fail(lambda: [frame(OP_TEXT, b"first", fin=False), frame(OP_BINARY, b"2", fin=False),
                        cont(b"end")]))
register("5.6.3", "binary FIN=0, continuation, then text FIN=0 -> 1002",
         _fail(lambda: [frame(OP_BINARY, b"a", fin=False), cont(b"b", fin=False),
                        frame(OP_TEXT, b"c", fin=False), cont(b"d")]))
register("5.6.4", "binary FIN=0, then binary FIN=1 -> 1002",
         _fail(lambda: [frame(OP_BINARY, b"a", fin=False), binary(b"b")]))
register("5.6.5", "text FIN=0, then empty text FIN=1 -> 1002",
         _fail(lambda: [frame(OP_TEXT, b"a", fin=False), text(b"")]))
register("5.6.6", "text FIN=0 and text FIN=1 sent 1 byte per write -> 1002",
         lambda ctx: _chopped_fail(ctx, [frame(OP_TEXT, b"first", fin=False), text("second")]))

# ---- 5.7 many tiny fragments


def _tiny(opcode, data, size, chop=None):
    return _echo(lambda: fragments(opcode, data, size), [(opcode, data)], chop=chop)


register("5.7.1", "text of 100 bytes in 100 one-byte fragments",
         _tiny(OP_TEXT, text_payload(100), 1))
register("5.7.2", "binary of 1000 bytes in 1000 one-byte fragments",
         _tiny(OP_BINARY, binary_payload(1000), 1))
register("5.7.3", "text of 10000 bytes in 10000 one-byte fragments",
         _tiny(OP_TEXT, text_payload(10000), 1))
register("5.7.4", "binary of 64 KiB in 2-byte fragments", _tiny(OP_BINARY, binary_payload(65536), 2))
register("5.7.5", "text of 300 bytes in 1-byte fragments, 1 byte per write",
         _tiny(OP_TEXT, text_payload(300), 1, chop=1))
register("5.7.6", "binary 1000 bytes in 3-byte fragments, with a ping after every 50th fragment",
         lambda ctx: _tiny_with_pings(ctx))


def _tiny_with_pings(ctx):
    data = binary_payload(1000)
    fr = fragments(OP_BINARY, data, 3)
    out = []
    pings = []
    for i, f in enumerate(fr):
        out.append(f)
        if i % 50 == 49:
            p = b"t%d" % i
            pings.append(p)
            out.append(ping(p))
    with ctx.connect() as c:
        c.send(b"".join(out))
        pongs, echo = [], None
        while echo is None or not pongs or pongs[-1] != pings[-1]:
            e = c.recv_event(what="pongs and echo")
            if e.opcode == OP_PONG:
                pongs.append(e.payload)
            elif e.opcode == OP_BINARY and echo is None:
                echo = e.payload
            else:
                raise CaseFailure("unexpected %s" % e.describe())
        it = iter(pings)
        if not all(p in it for p in pongs):
            raise CaseFailure("pongs out of order/unknown: %r" % pongs)
        if echo != data:
            raise CaseFailure("echo differs from the message")
        c.assert_quiet()


register("5.7.7", "binary 2 MiB in 1000 fragments of 2 KiB+",
         _tiny(OP_BINARY, binary_payload(2 * 1024 * 1024), 2098))
