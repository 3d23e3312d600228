"""Group 2 -- Pings and pongs (RFC 6455 5.5.2, 5.5.3, 5.5; Autobahn 2.x).

RFC alternatives, documented:
* 2.3.x: when several pings arrive before the server answered, RFC 6455 5.5.3 lets it answer
  only the most recent one. Cases that send pings back to back therefore accept any in-order
  subsequence of pongs that ends with the pong of the last ping. Cases that wait for each pong
  before sending the next ping require every pong.
* 2.4.3: the order of a pong relative to data echoes is not specified by the RFC (pongs should
  be sent "as soon as is practical"); only data-message order is required there.
"""
import os

from wsframe import (OP_BINARY, OP_PONG, OP_TEXT, CaseFailure, register, text, binary, ping, pong,
                     close, binary_payload)


def _ping_echo(payload, chop=None):
    def fn(ctx):
        with ctx.connect() as c:
            f = ping(payload)
            if chop:
                c.send_chopped(f, chop)
            else:
                c.send(f)
            c.expect_pong(payload)
            c.assert_quiet(what="exactly one pong")
    return fn


register("2.1.1", "ping without payload -> pong without payload", _ping_echo(b""))
register("2.1.2", "ping with text payload 'Hello, world!' -> same pong payload",
         _ping_echo(b"Hello, world!"))
register("2.1.3", "ping with binary payload 00 ff fe 80 ... -> same pong payload",
         _ping_echo(b"\x00\xff\xfe\x80\x81\x00\x01" * 3))
register("2.1.4", "ping with 125-byte payload (maximum) -> pong", _ping_echo(binary_payload(125)))
register("2.1.5", "ping with 125-byte payload sent 1 byte per write -> pong",
         _ping_echo(binary_payload(125), chop=1))
register("2.1.6", "ping with invalid-UTF-8 payload (pings are not text) -> pong",
         _ping_echo(b"\xc0\xaf\xed\xa0\x80\xff"))
for i, n in enumerate((1, 2, 3, 4, 5, 64, 124), 7):
    register("2.1.%d" % i, "ping with %d-byte payload -> pong" % n, _ping_echo(os.urandom(n)))


def _fail(data_fn, code=1002, echo_first=()):
    def fn(ctx):
        with ctx.connect() as c:
            c.send(data_fn())
            for op, p in echo_first:
                c.expect_message(op, p)
            c.expect_close(code)
    return fn


register("2.2.1", "ping with 126-byte payload (control frame too long) -> 1002",
         _fail(lambda: ping(binary_payload(126))))
register("2.2.2", "ping with 1000-byte payload -> 1002", _fail(lambda: ping(binary_payload(1000))))
register("2.2.3", "ping with 65536-byte payload (64-bit length) -> 1002",
         _fail(lambda: ping(binary_payload(65536))))
register("2.2.4", "pong with 126-byte payload -> 1002", _fail(lambda: pong(binary_payload(126))))
register("2.2.5", "text echoed, then 126-byte ping -> 1002 and no pong",
         _fail(lambda: text("before") + ping(binary_payload(126)) + ping(b"after"),
               echo_first=[(OP_TEXT, b"before")]))


def _pings_back_to_back(n, payload_len, chop=None):
    def fn(ctx):
        payloads = [("p%03d-" % i).encode() + os.urandom(max(0, payload_len - 5))
                    for i in range(n)]
        with ctx.connect() as c:
            data = b"".join(ping(p) for p in payloads)
            if chop:
                c.send_chopped(data, chop)
            else:
                c.send(data)
            idx = 0
            while True:
                ev = c.recv_event(what="pong for ping %d of %d" % (idx + 1, n))
                if ev.opcode != OP_PONG:
                    raise CaseFailure("expected pongs, got %s" % ev.describe())
                while idx < n and payloads[idx] != ev.payload:
                    idx += 1
                if idx == n:
                    raise CaseFailure("pong payload %r matches no ping sent after the previous "
                                      "pong (out of order or corrupted)" % ev.payload[:16])
                idx += 1
                if idx == n:
                    break
            c.assert_quiet(what="no extra pongs")
    return fn


register("2.3.1", "10 pings in one write -> pongs in order ending with the last ping's",
         _pings_back_to_back(10, 20))
register("2.3.2", "10 pings of 125 bytes, 1 byte per write -> pongs in order",
         _pings_back_to_back(10, 125, chop=1))
register("2.3.3", "100 pings in one write -> pongs in order ending with the last ping's",
         _pings_back_to_back(100, 16))


def _pings_sequential(n):
    def fn(ctx):
        with ctx.connect() as c:
            for i in range(n):
                p = ("seq-%d" % i).encode()
                c.send(ping(p))
                c.expect_pong(p)
    return fn


register("2.3.4", "100 sequential ping round trips, every pong required", _pings_sequential(100))


def _unsolicited(frames_fn):
    def fn(ctx):
        with ctx.connect() as c:
            c.send(frames_fn())
            c.assert_quiet(what="no reply to an unsolicited pong")
            c.send(text("still open"))
            c.expect_message(OP_TEXT, b"still open")
    return fn


register("2.4.1", "unsolicited empty pong is ignored", _unsolicited(lambda: pong(b"")))
register("2.4.2", "unsolicited pong with 125-byte payload is ignored",
         _unsolicited(lambda: pong(binary_payload(125))))


def _pong_then_ping(ctx):
    with ctx.connect() as c:
        c.send(pong(b"unsolicited") + ping(b"solicited"))
        c.expect_pong(b"solicited")
        c.assert_quiet()


register("2.4.3", "unsolicited pong then ping -> exactly one pong, with the ping's payload",
         _pong_then_ping)


def _ping_between_messages(ctx):
    with ctx.connect() as c:
        c.send(text("A") + ping(b"mid") + binary(b"B"))
        c.expect_mixed(data=[(OP_TEXT, b"A"), (OP_BINARY, b"B")], pongs=[b"mid"])
        c.assert_quiet()


register("2.4.4", "text, ping, binary in one write -> both echoes in order plus the pong",
         _ping_between_messages)


def _ping_after_close(extra):
    def fn(ctx):
        with ctx.connect() as c:
            c.send(close(1000) + extra())
            c.expect_close(1000)  # next frame must be the close (no pong), then TCP close
    return fn


register("2.5.1", "ping after close is ignored (close echoed, no pong, TCP closed)",
         _ping_after_close(lambda: ping(b"after close")))
register("2.5.2", "10 pings after close are ignored",
         _ping_after_close(lambda: b"".join(ping(b"x%d" % i) for i in range(10))))
register("2.5.3", "ping with 126 bytes after close is ignored (no 1002, normal close echoed)",
         _ping_after_close(lambda: ping(binary_payload(126))))


def _ping_in_handshake_packet(ctx):
    with ctx.connect(extra=ping(b"early")) as c:
        c.expect_pong(b"early")


register("2.6.1", "ping in the same write as the handshake request -> pong", _ping_in_handshake_packet)


def _ping_during_large_message(ctx):
    data = binary_payload(300000)
    with ctx.connect() as c:
        c.send(binary(data) + ping(b"behind big"))
        c.expect_mixed(data=[(OP_BINARY, data)], pongs=[b"behind big"])
        c.assert_quiet()


register("2.6.2", "ping queued behind a 300 KB message -> echo and pong (any order)",
         _ping_during_large_message)
