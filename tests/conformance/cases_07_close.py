"""Group 7 -- Close handling (RFC 6455 5.5.1, 7.1, 7.4; Autobahn 7.x).

Every case checks the full closing handshake: the server's close frame (code as expected) and
that the *server* then closes the TCP connection (RFC 7.1.1: "the server SHOULD close the
underlying TCP connection first"; for failures 7.1.7 requires closing the connection) while
the client keeps its socket open. After its close frame the server must send nothing else.

Codes (7.4): valid on the wire 1000-1003, 1007-1011 (and IANA 1012-1014), 3000-4999. Invalid:
0-999, 1004 (reserved), 1005/1006/1015 ("MUST NOT be set as a status code in a Close control
frame"), 1016-2999 (reserved for future RFCs), >= 5000. Receiving an invalid code is a protocol
error -> 1002. 7.11 checks the server-initiated closing handshake on shutdown (SIGTERM -> 1001;
it needs a private daemon, so it is skipped under --url). 1012-1014 are not tested (registered by IANA after RFC 6455; servers differ).

Project requirement beyond the RFC (7.1.3, 7.1.11, 7.1.14, 7.3.5, 7.10.3): messages that arrive
before the client's close frame -- even in the same write -- are echoed before the close reply
(the /echo contract). The RFC does not oblige an endpoint to deliver data that precedes a close;
Autobahn rates the equivalent cases INFORMATIONAL.

RFC alternative (7.1.1): a close frame without a status code may be answered with an empty
close frame or with 1000; both are accepted. Close reason text must be UTF-8 (5.5.1) -> 1007.
"""
from wsframe import (OP_BINARY, OP_CLOSE, OP_TEXT, CaseFailure, Skip, register, frame, fragments,
                     text, binary, ping, close, close_payload, text_payload)


def _close_ok(build, code, allow_empty=False, echo_first=(), chop=None):
    def fn(ctx):
        with ctx.connect() as c:
            data = build()
            if chop:
                c.send_chopped(data, chop)
            else:
                c.send(data)
            for op, p in echo_first:
                c.expect_message(op, p)
            c.expect_close(code, allow_empty=allow_empty)
    return fn


# ---- 7.1 basic
register("7.1.1", "close without payload -> empty close or 1000, then TCP close",
         _close_ok(lambda: close(), 1000, allow_empty=True))
register("7.1.2", "close 1000 -> close 1000, then TCP close", _close_ok(lambda: close(1000), 1000))
register("7.1.3", "text, then close -> echo, close 1000",
         _close_ok(lambda: text("before close") + close(1000), 1000,
                   echo_first=[(OP_TEXT, b"before close")]))
register("7.1.4", "close, then text -> close only (data after close ignored)",
         _close_ok(lambda: close(1000) + text("after close"), 1000))
register("7.1.5", "close, then binary and a fragmented text -> close only",
         _close_ok(lambda: close(1000) + binary(b"x" * 300)
                   + b"".join(fragments(OP_TEXT, b"abcdef", 2)), 1000))
register("7.1.6", "close twice -> one close frame only", _close_ok(lambda: close(1000) + close(1001),
                                                                  1000))
register("7.1.7", "close, then garbage (invalid frame) -> normal close echoed, no 1002",
         _close_ok(lambda: close(1000) + frame(5, b"junk", rsv=7, mask=False), 1000))
register("7.1.8", "close 1000 sent 1 byte per write", _close_ok(lambda: close(1000, "bye"), 1000,
                                                                chop=1))
register("7.1.9", "close 1000 with reason 'Goodbye' -> 1000",
         _close_ok(lambda: close(1000, "Goodbye"), 1000))
register("7.1.10", "close 1000 with multi-byte UTF-8 reason 'κόσμε 😀' -> 1000",
         _close_ok(lambda: close(1000, "κόσμε 😀"), 1000))
register("7.1.11", "large text message, then close -> echo, then close",
         _close_ok(lambda: text(text_payload(200000)) + close(1000), 1000,
                   echo_first=[(OP_TEXT, text_payload(200000))]))
register("7.1.12", "close in the same write as the handshake request -> close 1000",
         lambda ctx: _close_in_handshake(ctx))


def _close_in_handshake(ctx):
    with ctx.connect(extra=close(1000)) as c:
        c.expect_close(1000)


def _data_after_server_close(ctx):
    """After the close handshake the client keeps writing; the server must not answer."""
    with ctx.connect() as c:
        c.send(close(1000))
        ev = c.recv_event(what="close 1000")
        if ev.opcode != OP_CLOSE or ev.code != 1000:
            raise CaseFailure("expected close 1000, got %s" % ev.describe())
        c.send(text("late"))  # may fail with EPIPE if the server already closed: fine
        c.send(ping(b"late"))
        c.expect_tcp_close()


register("7.1.13", "data written after the server's close reply is ignored; server closes TCP",
         _data_after_server_close)


def _close_after_big_pipeline(ctx):
    msgs = [text_payload(1000 + i) for i in range(50)]
    with ctx.connect() as c:
        c.send(b"".join(text(m) for m in msgs) + close(1000))
        for m in msgs:
            c.expect_message(OP_TEXT, m)
        c.expect_close(1000)


register("7.1.14", "50 messages then close in one write -> all echoed, then close",
         _close_after_big_pipeline)

# ---- 7.3 payload length
register("7.3.1", "close with 1-byte payload -> 1002",
         _close_ok(lambda: frame(OP_CLOSE, b"\x03"), 1002))
register("7.3.2", "close with code only (2 bytes) -> 1000", _close_ok(lambda: close(1000), 1000))
register("7.3.3", "close with reason of 123 bytes (payload 125, maximum) -> 1000",
         _close_ok(lambda: close(1000, "r" * 123), 1000))
register("7.3.4", "close with reason of 124 bytes (payload 126) -> 1002",
         _close_ok(lambda: close(1000, "r" * 124), 1002))
register("7.3.5", "valid text, then close with 1-byte payload E8 -> echo, then 1002",
         _close_ok(lambda: text("hi") + frame(OP_CLOSE, b"\xe8"), 1002,
                   echo_first=[(OP_TEXT, b"hi")]))
register("7.3.6", "close with 123-byte multi-byte UTF-8 reason -> 1000",
         _close_ok(lambda: close(1000, ("é" * 61 + "a").encode()), 1000))

# ---- 7.5 close reason must be UTF-8
BAD_REASONS = [
    ("lone FF", b"\xff"),
    ("overlong C0 AF", b"\xc0\xaf"),
    ("surrogate ED A0 80", b"Hello \xed\xa0\x80"),
    ("truncated at end E2 82", b"bye \xe2\x82"),
    ("U+110000", b"\xf4\x90\x80\x80"),
    ("continuation byte 80", b"\x80abc"),
    ("Greek then surrogate (like Autobahn 7.5.1's shape)", "κόσμε".encode() + b"\xed\xa0\x80edited"),
]
for i, (desc, reason) in enumerate(BAD_REASONS, 1):
    register("7.5.%d" % i, "close 1000 with invalid UTF-8 reason (%s) -> 1007" % desc,
             _close_ok(lambda reason=reason: close(1000, reason), 1007))

# ---- 7.7 valid codes are echoed
VALID_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999]
for i, code in enumerate(VALID_CODES, 1):
    register("7.7.%d" % i, "close with valid code %d -> close %d echoed" % (code, code),
             _close_ok(lambda code=code: close(code, "code %d" % code), code))

# ---- 7.9 invalid codes -> 1002
INVALID_CODES = [0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]
for i, code in enumerate(INVALID_CODES, 1):
    register("7.9.%d" % i, "close with invalid code %d -> 1002" % code,
             _close_ok(lambda code=code: close(code), 1002))

# ---- 7.10 misc
register("7.10.1", "close with code 1000 as an unmasked frame -> 1002",
         _close_ok(lambda: close(1000, mask=False), 1002))
register("7.10.2", "close code 1000 with reason, non-minimal 16-bit length -> 1002",
         _close_ok(lambda: frame(OP_CLOSE, close_payload(1000, "x"), enc=16), 1002))
register("7.10.3", "binary echoed, close 4000 with reason -> echo, close 4000",
         _close_ok(lambda: binary(b"\x00\x01") + close(4000, "app"), 4000,
                   echo_first=[(OP_BINARY, b"\x00\x01")]))


def _client_half_close(ctx):
    """Client sends close and shuts down its write side: server must still reply and close."""
    import socket as _s
    with ctx.connect() as c:
        c.send(close(1000))
        c.sock.shutdown(_s.SHUT_WR)
        c.expect_close(1000)


register("7.10.4", "close then client half-close (SHUT_WR) -> close 1000, server closes TCP",
         _client_half_close)


def _tcp_close_without_ws_close(ctx):
    """Abrupt TCP close by the client must not disturb the server (checked on a new connection)."""
    c = ctx.connect()
    c.send(frame(OP_TEXT, "half a message", fin=False))
    c.close()
    with ctx.connect() as c2:
        c2.send(text("alive"))
        c2.expect_message(OP_TEXT, b"alive")


register("7.10.5", "client drops TCP mid-message; server keeps serving others",
         _tcp_close_without_ws_close)


# ---- 7.11 server-initiated close (RFC 7.1.2 / 7.4.1 code 1001 "going away")
def _shutdown_going_away(ctx):
    """SIGTERM makes the daemon close every WebSocket with 1001 (Switchboard contract): the
    server starts the closing handshake, the client answers, the server closes TCP."""
    spawn = ctx.config.get("spawn_daemon")
    if spawn is None:
        raise Skip("needs a private daemon (not available with --url)")
    from wsframe import Context
    d = spawn()
    d.start()
    try:
        host, port = ctx.config.get("address_of", lambda daemon: (daemon.host, daemon.port))(d)
        pctx = Context(host, port, "/echo", ctx.config)
        idle = pctx.connect()
        mid = pctx.connect()
        busy = pctx.connect()
        mid.send(frame(OP_TEXT, "unfinished", fin=False))
        busy.send(text("echo me"))
        busy.expect_message(OP_TEXT, b"echo me")
        mid.assert_quiet()
        d.proc.terminate()
        for name, c in (("idle", idle), ("mid-message", mid), ("busy", busy)):
            try:
                ev = c.recv_event(5.0, "server close 1001 after SIGTERM")
                if ev.opcode != OP_CLOSE or ev.code != 1001:
                    raise CaseFailure("expected CLOSE 1001, got %s" % ev.describe())
                c.send(close(1001))  # complete the closing handshake
                c.expect_tcp_close()
            except AssertionError as e:
                raise CaseFailure("%s connection: %s" % (name, e))
            finally:
                c.close()
        try:
            d.proc.wait(10)
        except Exception:  # noqa: BLE001
            raise CaseFailure("daemon still running 10 s after SIGTERM")
    finally:
        d.stop()


register("7.11.1", "daemon SIGTERM: every connection gets close 1001, client answers, server "
         "closes TCP, process exits", _shutdown_going_away)
