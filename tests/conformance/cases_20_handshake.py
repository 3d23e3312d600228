"""Group 20 -- Opening handshake (RFC 6455 section 4, RFC 7230 message syntax). Not an
Autobahn group (Autobahn does not test server handshakes); numbered 20 to stay clear of
Autobahn's numbers.

20.1 valid handshakes: 101, Upgrade/Connection tokens, Sec-WebSocket-Accept for given keys
     (including the RFC 6455 1.3 sample), case-insensitivity, data in the same packet.
20.2 invalid requests -> the status codes of the Switchboard contract.
20.3 Origin allow-list (daemon run with --allowed-origin http://good.example
     --allowed-origin https://app.good.example:8443).

Where the RFCs allow alternatives (documented per case, all others are strict):
* 20.2.14-20.2.17 (no usable Upgrade/Connection): the request is not a WebSocket handshake at
  all, so a server may answer it as plain HTTP (e.g. 400, 404, 426). Any status except 101
  passes; 101 fails.
* 20.2.18/20.2.19 (POST/DELETE upgrade): 400 or 405.
* 20.2.32 (request line over 8 KiB): 414 (URI Too Long) or 431.
* "Missing Sec-WebSocket-Version -> 426" is the Switchboard contract; RFC 6455 4.2.1 would also
  allow 400 for a request missing a required field.
* A missing Origin header with an allow-list configured is not tested (policy not specified).
"""
import base64
import os

from wsframe import (OP_BINARY, OP_TEXT, CaseFailure, build_request, check_101, register, text,
                     binary, ping, make_key, request_headers, WSConn, http_exchange,
                     binary_payload)


def _headers(ctx, key=None, version="13"):
    return request_headers(ctx.host, ctx.port, key, version)


def _drop(hdrs, name):
    return [h for h in hdrs if h[0].lower() != name.lower()]


def _set(hdrs, name, value):
    out = _drop(hdrs, name)
    out.append([name, value])
    return out


def _key_of(hdrs):
    for k, v in hdrs:
        if k.lower() == "sec-websocket-key":
            return v
    return None


# ---------------------------------------------------------------- 20.1 valid handshakes
def _accept_case(key, expected=None):
    def fn(ctx):
        hdrs = _headers(ctx, key=key)
        resp, sock, rest = http_exchange(ctx.host, ctx.port, build_request(ctx.path, hdrs))
        try:
            if resp.version != "HTTP/1.1":
                raise CaseFailure("101 response must be HTTP/1.1, got %s" % resp.version)
            check_101(resp, key)
            if expected and resp.get("Sec-WebSocket-Accept") != expected:
                raise CaseFailure("Sec-WebSocket-Accept %r, RFC sample says %r"
                                  % (resp.get("Sec-WebSocket-Accept"), expected))
            c = WSConn(sock, rest)
            c.send(text("after handshake"))
            c.expect_message(OP_TEXT, b"after handshake")
        finally:
            sock.close()
    return fn


KEYS = [
    ("RFC 6455 sample key dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZQ==",
     "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
    ("key of 16 zero bytes", base64.b64encode(b"\x00" * 16).decode(), None),
    ("key of 16 FF bytes (base64 '/' chars)", base64.b64encode(b"\xff" * 16).decode(), None),
    ("key with '+' characters", base64.b64encode(b"\xfb\xef\xbe" * 5 + b"\xfb").decode(), None),
    ("random key 1", make_key(), None),
    ("random key 2", make_key(), None),
    ("random key 3", make_key(), None),
]
for i, (desc, key, expected) in enumerate(KEYS, 1):
    register("20.1.%d" % i, "Sec-WebSocket-Accept for %s" % desc, _accept_case(key, expected))


def _variant(mutate, offered=(), chop=None):
    def fn(ctx):
        key = make_key()
        hdrs = mutate(_headers(ctx, key=key))
        raw = build_request(ctx.path, hdrs)
        resp, sock, rest = http_exchange(ctx.host, ctx.port, raw, chop=chop)
        try:
            check_101(resp, key, offered_protocols=offered)
            c = WSConn(sock, rest)
            c.send(binary(b"\x01\x02"))
            c.expect_message(OP_BINARY, b"\x01\x02")
        finally:
            sock.close()
    return fn


def _rename(fn_name):
    return lambda hdrs: [[fn_name(k), v] for k, v in hdrs]


register("20.1.10", "header names in lower case -> 101", _variant(_rename(str.lower)))
register("20.1.11", "header names in UPPER case -> 101", _variant(_rename(str.upper)))
register("20.1.12", "'Upgrade: WebSocket' (value case-insensitive) -> 101",
         _variant(lambda h: _set(h, "Upgrade", "WebSocket")))
register("20.1.13", "'Upgrade: WEBSOCKET' -> 101", _variant(lambda h: _set(h, "Upgrade", "WEBSOCKET")))
register("20.1.14", "'Connection: keep-alive, Upgrade' (token list) -> 101",
         _variant(lambda h: _set(h, "Connection", "keep-alive, Upgrade")))
register("20.1.15", "'Connection: upgrade' (lower case token) -> 101",
         _variant(lambda h: _set(h, "Connection", "upgrade")))
register("20.1.16", "extra whitespace around header values -> 101",
         _variant(lambda h: [[k, "  %s \t" % v] for k, v in h]))
register("20.1.17", "unrelated extra headers (User-Agent, Cookie, Accept-Encoding, Pragma) -> 101",
         _variant(lambda h: h + [["User-Agent", "conformance/1.0"], ["Cookie", "a=b; c=d"],
                                 ["Accept-Encoding", "gzip, deflate"], ["Pragma", "no-cache"]]))
register("20.1.18", "unknown extension offered -> 101 without Sec-WebSocket-Extensions",
         _variant(lambda h: h + [["Sec-WebSocket-Extensions", "x-unknown-ext; foo=1"]]))
register("20.1.19", "subprotocols offered -> 101, selected protocol (if any) is one offered",
         _variant(lambda h: h + [["Sec-WebSocket-Protocol", "chat, superchat"]],
                  offered=("chat", "superchat")))
register("20.1.20", "handshake request sent 1 byte per write -> 101", _variant(lambda h: h, chop=1))
register("20.1.21", "Host without port -> 101", _variant(lambda h: _set(h, "Host", "127.0.0.1")))
register("20.1.22", "any Origin accepted when no allow-list is configured -> 101",
         _variant(lambda h: h + [["Origin", "http://anything.example"]]))
register("20.1.23", "Sec-WebSocket-Version before Sec-WebSocket-Key (header order irrelevant) -> 101",
         _variant(lambda h: list(reversed(h))))


def _data_in_handshake_packet(ctx):
    extra = text("first") + binary(b"\x00second") + ping(b"third")
    with ctx.connect(extra=extra) as c:
        c.expect_mixed(data=[(OP_TEXT, b"first"), (OP_BINARY, b"\x00second")], pongs=[b"third"])


register("20.1.30", "frames in the same write as the handshake request are processed",
         _data_in_handshake_packet)


def _partial_frame_in_handshake_packet(ctx):
    f = binary(binary_payload(1000))
    with ctx.connect(extra=f[:10]) as c:
        c.send(f[10:])
        c.expect_message(OP_BINARY, binary_payload(1000))


register("20.1.31", "handshake request + first 10 bytes of a frame in one write, rest later -> echo",
         _partial_frame_in_handshake_packet)


def _big_message_in_handshake_packet(ctx):
    data = binary_payload(200000)
    with ctx.connect(extra=binary(data)) as c:
        c.expect_message(OP_BINARY, data)


register("20.1.32", "handshake request + a 200 KB frame in one write -> echo",
         _big_message_in_handshake_packet)


def _second_request_is_frame_data(ctx):
    # After the 101, bytes are WebSocket frames: a pipelined second HTTP request starts with
    # 'G' = 0x47 = FIN 0, RSV1 set, opcode 7 -> protocol error.
    second = build_request(ctx.path, _headers(ctx))
    with ctx.connect(extra=second) as c:
        c.expect_close(1002)


register("20.1.33", "a second HTTP request pipelined after the upgrade is frame data -> 1002",
         _second_request_is_frame_data)


# ---------------------------------------------------------------- 20.2 invalid requests
def _status(build, statuses, header_check=None, accept_any_non101=False):
    """build(ctx) -> raw request bytes."""
    def fn(ctx):
        resp = ctx.request(build(ctx))
        if accept_any_non101:
            if resp.status == 101:
                raise CaseFailure("expected a non-101 HTTP response, got %s" % resp.summary())
        elif resp.status not in statuses:
            raise CaseFailure("expected HTTP %s, got %s"
                              % (" or ".join(map(str, statuses)), resp.summary()))
        if header_check:
            header_check(resp)
    return fn


def _req(mutate=lambda h: h, method="GET", version="HTTP/1.1", line=None, path=None):
    def build(ctx):
        hdrs = mutate(_headers(ctx))
        return build_request(path or ctx.path, hdrs, method=method, version=version,
                             request_line=line)
    return build


def _raw_line(line):
    return lambda ctx: build_request(ctx.path, _headers(ctx), request_line=line)


register("20.2.1", "request line 'GARBAGE' -> 400", _status(_raw_line("GARBAGE"), [400]))
register("20.2.2", "request line without HTTP version 'GET /echo' -> 400",
         _status(lambda ctx: build_request(ctx.path, _headers(ctx), request_line="GET " + ctx.path),
                 [400]))
register("20.2.3", "request line with 4 parts 'GET /echo HTTP/1.1 extra' -> 400",
         _status(lambda ctx: build_request(ctx.path, _headers(ctx),
                                           request_line="GET %s HTTP/1.1 extra" % ctx.path), [400]))
register("20.2.4", "request line with version 'HTTP/x.y' -> 400",
         _status(_req(version="HTTP/x.y"), [400]))
register("20.2.5", "request line with empty method ' /echo HTTP/1.1' -> 400",
         _status(lambda ctx: build_request(ctx.path, _headers(ctx),
                                           request_line=" %s HTTP/1.1" % ctx.path), [400]))
register("20.2.6", "binary garbage instead of a request -> 400",
         _status(lambda ctx: b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + os.urandom(64)
                 + b"\r\n\r\n", [400]))
register("20.2.7", "missing Host header -> 400", _status(_req(lambda h: _drop(h, "Host")), [400]))
register("20.2.8", "missing Sec-WebSocket-Key -> 400",
         _status(_req(lambda h: _drop(h, "Sec-WebSocket-Key")), [400]))
register("20.2.9", "Sec-WebSocket-Key decoding to 15 bytes -> 400",
         _status(_req(lambda h: _set(h, "Sec-WebSocket-Key",
                                     base64.b64encode(os.urandom(15)).decode())), [400]))
register("20.2.10", "Sec-WebSocket-Key decoding to 17 bytes -> 400",
         _status(_req(lambda h: _set(h, "Sec-WebSocket-Key",
                                     base64.b64encode(os.urandom(17)).decode())), [400]))
register("20.2.11", "Sec-WebSocket-Key of 24 characters that are not base64 -> 400",
         _status(_req(lambda h: _set(h, "Sec-WebSocket-Key", "!!!!!!!!!!!!!!!!!!!!!!==")), [400]))
register("20.2.12", "empty Sec-WebSocket-Key -> 400",
         _status(_req(lambda h: _set(h, "Sec-WebSocket-Key", "")), [400]))
register("20.2.13", "Sec-WebSocket-Key header twice (RFC 6455 11.3.1: MUST NOT) -> 400",
         _status(_req(lambda h: h + [["Sec-WebSocket-Key", make_key()]]), [400]))
register("20.2.14", "missing Upgrade header -> any non-101 response (plain HTTP allowed)",
         _status(_req(lambda h: _drop(h, "Upgrade")), [], accept_any_non101=True))
register("20.2.15", "'Upgrade: h2c' -> any non-101 response",
         _status(_req(lambda h: _set(h, "Upgrade", "h2c")), [], accept_any_non101=True))
register("20.2.16", "missing Connection header -> any non-101 response",
         _status(_req(lambda h: _drop(h, "Connection")), [], accept_any_non101=True))
register("20.2.17", "'Connection: keep-alive' (no upgrade token) -> any non-101 response",
         _status(_req(lambda h: _set(h, "Connection", "keep-alive")), [], accept_any_non101=True))
register("20.2.18", "POST with upgrade headers -> 400 or 405", _status(_req(method="POST"), [400, 405]))
register("20.2.19", "DELETE with upgrade headers -> 400 or 405",
         _status(_req(method="DELETE"), [400, 405]))
register("20.2.20", "HTTP/1.0 request -> 400", _status(_req(version="HTTP/1.0"), [400]))


def _version_hdr(resp):
    vals = [t.strip() for v in resp.get_all("Sec-WebSocket-Version") for t in v.split(",")]
    if "13" not in vals:
        raise CaseFailure("426 response must carry 'Sec-WebSocket-Version: 13', got %r"
                          % resp.get_all("Sec-WebSocket-Version"))


for i, ver in enumerate(["8", None, "14", "0", "7", "abc", "12"], 21):
    if ver is None:
        mut, desc = (lambda h: _drop(h, "Sec-WebSocket-Version")), "missing Sec-WebSocket-Version"
    else:
        mut, desc = (lambda h, ver=ver: _set(h, "Sec-WebSocket-Version", ver)), \
            "Sec-WebSocket-Version: %s" % ver
    register("20.2.%d" % i, "%s -> 426 with 'Sec-WebSocket-Version: 13'" % desc,
             _status(_req(mut), [426], header_check=_version_hdr))

register("20.2.28", "one 9 KiB header (request > 8 KiB) -> 431",
         _status(_req(lambda h: h + [["X-Big", "a" * 9216]]), [431]))
register("20.2.29", "200 headers of 60 bytes (12 KiB in total) -> 431",
         _status(_req(lambda h: h + [["X-Many-%03d" % i, "b" * 48] for i in range(200)]), [431]))
register("20.2.30", "64 KiB of headers -> 431",
         _status(_req(lambda h: h + [["X-Huge-%d" % i, "c" * 4000] for i in range(16)]), [431]))
register("20.2.31", "request of about 6 KiB (under the 8 KiB limit) -> 101",
         _variant(lambda h: h + [["X-Medium", "d" * 6000]]))
register("20.2.32", "9 KiB request-target -> 414 or 431",
         _status(_req(path="/echo?" + "q" * 9216), [414, 431]))
register("20.2.33", "header line without a colon -> 400",
         _status(_req(lambda h: h + [["This-Is-Not-A-Header", None]]), [400]))
register("20.2.34", "whitespace between header name and colon 'Host : x' (RFC 7230 3.2.4) -> 400",
         _status(_req(lambda h: [[k + " " if k == "Host" else k, v] for k, v in h]), [400]))


# ---------------------------------------------------------------- 20.3 Origin allow-list
def _origin_ok(origin):
    def fn(ctx):
        with ctx.connect(headers=[["Origin", origin]]) as c:
            c.send(text("origin ok"))
            c.expect_message(OP_TEXT, b"origin ok")
    return fn


def _origin_403(origin):
    def fn(ctx):
        resp = ctx.request(_req(lambda h: h + [["Origin", origin]])(ctx))
        if resp.status != 403:
            raise CaseFailure("Origin %r is not in the allow-list: expected HTTP 403, got %s"
                              % (origin, resp.summary()))
    return fn


ORIGINS_OK = ["http://good.example", "https://app.good.example:8443"]
ORIGINS_BAD = [
    "http://evil.example",
    "http://good.example.evil.example",   # allowed origin as a prefix
    "http://evil.example/http://good.example",
    "http://good.example:8080",           # same host, other port
    "https://good.example",               # same host, other scheme
    "http://sub.good.example",            # subdomain
    "https://app.good.example",           # allowed host without its port
    "null",                               # opaque origin (sandboxed iframe, file://)
    "",                                   # empty value
]
for i, o in enumerate(ORIGINS_OK, 1):
    register("20.3.%d" % i, "allow-listed Origin %s -> 101" % o, _origin_ok(o), config="origin")
for i, o in enumerate(ORIGINS_BAD, 11):
    register("20.3.%d" % i, "Origin %r not in the allow-list -> 403" % o, _origin_403(o),
             config="origin")
