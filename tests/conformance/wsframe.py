"""Minimal RFC 6455 client toolkit for the Switchboard server conformance suite.

Standard library only (socket, struct, os, base64, hashlib). Everything is done by hand on raw
TCP sockets so that a case can send *exactly* the bytes it wants, including invalid ones:

* `frame()` builds one client frame: any opcode, FIN, RSV bits, masked or not, any length
  encoding (minimal, or forced 7/16/64-bit, or a declared length that differs from the payload).
* `WSConn` reads server frames with deadlines, checks that every frame the *server* sends is
  itself valid (unmasked, RSV clear -- RSV1 allowed on the first frame of a data message once
  permessage-deflate is agreed --, known opcode, minimal length, control frames <= 125 bytes
  and unfragmented, text is valid UTF-8, close payload well formed), reassembles fragmented
  server messages, and offers the assertions the cases use (`expect_message`, `expect_pong`,
  `expect_close`, `expect_tcp_close`, `assert_quiet`).
* `http_exchange()` / `open_ws()` do the opening handshake (RFC 6455 section 4).
* permessage-deflate (RFC 7692): `Context.connect_pmd()` offers it and checks the response
  (`check_pmd_response`); `PMDSender` compresses our messages (7.2.1), `PMDReceiver` inflates
  the server's RSV1 messages (7.2.2) with the agreed window, and `inflate_py()` is a small
  RFC 1951 inflater that also reports how far back the server's references reach.
* `register()` / `case()` hold the case registry that run.py executes.

Each case is a function `fn(ctx)` that raises AssertionError (usually CaseFailure) on failure.
"""
import base64
import hashlib
import os
import random
import re
import socket
import struct
import time
import zlib

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA
OPNAMES = {0: "CONT", 1: "TEXT", 2: "BINARY", 8: "CLOSE", 9: "PING", 10: "PONG"}

# Close codes an endpoint may put on the wire (RFC 6455 7.4.1/7.4.2; IANA registry for 1012-1014).
SENDABLE_CLOSE_CODES = set(range(1000, 1004)) | set(range(1007, 1015)) | set(range(3000, 5000))

DEFAULT_TIMEOUT = 5.0   # waiting for something that must arrive
CLOSE_TIMEOUT = 4.0     # waiting for the server to close TCP after a close frame


class CaseFailure(AssertionError):
    pass


class Timeout(CaseFailure):
    pass


class Skip(Exception):
    """Raised by a case that cannot run in this setup (e.g. needs its own daemon under --url)."""


class TCPClosed(CaseFailure):
    def __init__(self, msg, reset=False):
        super().__init__(msg)
        self.reset = reset


class ServerProtocolError(CaseFailure):
    """The server itself sent something RFC 6455 forbids."""


def opname(op):
    return OPNAMES.get(op, "op%d" % op)


def short(data, limit=48):
    """Human readable summary of a payload for failure messages."""
    if data is None:
        return "None"
    n = len(data)
    head = bytes(data[:limit])
    s = repr(head)
    if n > limit:
        s += "...(%d bytes total)" % n
    return s


# --------------------------------------------------------------------------- masking / frames

def mask_bytes(data, key):
    """XOR `data` with the 4-byte masking `key` (RFC 6455 5.3). Fast for large payloads."""
    n = len(data)
    if n == 0:
        return b""
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(k, "little")).to_bytes(n, "little")


def frame(opcode, payload=b"", fin=True, rsv=0, mask=True, key=None, enc=None, length=None):
    """Build one client frame.

    opcode  -- 0..15 (reserved ones allowed)
    rsv     -- 3-bit value: 4 = RSV1, 2 = RSV2, 1 = RSV3
    mask    -- False sends an unmasked frame (a protocol error from a client)
    key     -- masking key (4 bytes); random if None
    enc     -- None: minimal length encoding; 7, 16 or 64 forces that encoding
    length  -- declared payload length (defaults to len(payload)); lets a case lie about it
    """
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    payload = bytes(payload)
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0x0F)
    mbit = 0x80 if mask else 0
    if enc is None:
        enc = 7 if n < 126 else (16 if n < 65536 else 64)
    if enc == 7:
        if n > 125:
            raise ValueError("length %d does not fit the 7-bit encoding" % n)
        hdr = struct.pack("!BB", b0, mbit | n)
    elif enc == 16:
        hdr = struct.pack("!BBH", b0, mbit | 126, n)
    elif enc == 64:
        hdr = struct.pack("!BBQ", b0, mbit | 127, n)
    else:
        raise ValueError("enc must be 7, 16 or 64")
    if mask:
        if key is None:
            key = os.urandom(4)
        return hdr + key + mask_bytes(payload, key)
    return hdr + payload


def close_payload(code=None, reason=b""):
    if isinstance(reason, str):
        reason = reason.encode("utf-8")
    if code is None:
        return b""
    return struct.pack("!H", code) + reason


def text(s, **kw):
    return frame(OP_TEXT, s, **kw)


def binary(b, **kw):
    return frame(OP_BINARY, b, **kw)


def ping(p=b"", **kw):
    return frame(OP_PING, p, **kw)


def pong(p=b"", **kw):
    return frame(OP_PONG, p, **kw)


def close(code=None, reason=b"", **kw):
    return frame(OP_CLOSE, close_payload(code, reason), **kw)


def cont(p=b"", **kw):
    return frame(OP_CONT, p, **kw)


def fragments(opcode, payload, sizes=None, pieces=None, rsv=0):
    """Split `payload` into a fragmented message: list of frames.

    sizes  -- fragment size (int, the last may be shorter) or explicit list of sizes
    pieces -- explicit list of payload pieces (may contain empty ones)
    rsv    -- RSV bits of the first frame (4 = RSV1: a compressed message, RFC 7692 6)
    """
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    if pieces is None:
        pieces = []
        if isinstance(sizes, int):
            for i in range(0, len(payload), sizes):
                pieces.append(payload[i:i + sizes])
            if not pieces:
                pieces = [b""]
        else:
            pos = 0
            for s in sizes:
                pieces.append(payload[pos:pos + s])
                pos += s
            if pos < len(payload):
                pieces.append(payload[pos:])
    out = []
    for i, p in enumerate(pieces):
        out.append(frame(opcode if i == 0 else OP_CONT, p, fin=(i == len(pieces) - 1),
                         rsv=rsv if i == 0 else 0))
    return out


# --------------------------------------------------------------------------- payloads

_TEXT_UNIT = "Hé€😀 ws-".encode("utf-8")   # 1+2+3+4 byte characters and ASCII


def text_payload(n):
    """Exactly n bytes of valid UTF-8 mixing 1-4 byte characters (ASCII padding at the end)."""
    unit = _TEXT_UNIT
    reps = n // len(unit)
    out = unit * reps
    tail = n - len(out)
    out += (b"abcdefghijklmnopqrstuvwxyz0123456789" * (tail // 36 + 1))[:tail]
    return out


def binary_payload(n):
    """n bytes covering every byte value: a counting pattern plus a pseudo-random tail.
    Deterministic (same n -> same bytes) so a case can rebuild the expected echo."""
    base = bytes(range(256))
    out = base * (n // 256) + base[:n % 256]
    if n > 1024:
        out = out[:n - 512] + random.Random(n).randbytes(512)
    return out


# --------------------------------------------------------------------------- UTF-8 (RFC 3629)

def utf8_valid(data):
    """Strict RFC 3629 validation (Python's codec rejects overlongs, surrogates, > U+10FFFF)."""
    try:
        bytes(data).decode("utf-8", "strict")
        return True
    except UnicodeDecodeError:
        return False


# --------------------------------------------------------------------------- handshake

def make_key():
    return base64.b64encode(os.urandom(16)).decode("ascii")


def accept_for(key):
    return base64.b64encode(hashlib.sha1((key + GUID).encode("ascii")).digest()).decode("ascii")


def request_headers(host, port, key=None, version="13"):
    """The header list of a valid opening handshake, as a list of [name, value] pairs."""
    return [
        ["Host", "%s:%d" % (host, port)],
        ["Upgrade", "websocket"],
        ["Connection", "Upgrade"],
        ["Sec-WebSocket-Key", key or make_key()],
        ["Sec-WebSocket-Version", version],
    ]


def build_request(path, headers, method="GET", version="HTTP/1.1", request_line=None):
    line = request_line if request_line is not None else "%s %s %s" % (method, path, version)
    out = line + "\r\n"
    for name, value in headers:
        # value None emits the bare line `name` (lets a case send a header line without colon)
        out += ("%s: %s\r\n" % (name, value)) if value is not None else name + "\r\n"
    out += "\r\n"
    return out.encode("latin-1")


class HttpResponse:
    def __init__(self, version, status, reason, headers, raw):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (name, value)
        self.raw = raw

    def get(self, name, default=None):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default

    def get_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def summary(self):
        return "%s %s %s" % (self.version, self.status, self.reason)


def connect_tcp(host, port, timeout=DEFAULT_TIMEOUT):
    s = socket.create_connection((host, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_http_response(sock, buf, timeout=DEFAULT_TIMEOUT):
    """Read an HTTP response head from `sock`. Returns (HttpResponse, leftover bytes)."""
    deadline = time.monotonic() + timeout
    buf = bytearray(buf)
    while b"\r\n\r\n" not in buf:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise Timeout("no HTTP response within %.1fs (got %s)" % (timeout, short(bytes(buf))))
        sock.settimeout(remaining)
        try:
            data = sock.recv(65536)
        except socket.timeout:
            raise Timeout("no HTTP response within %.1fs (got %s)" % (timeout, short(bytes(buf))))
        except (ConnectionResetError, BrokenPipeError) as e:
            raise TCPClosed("connection reset before a complete HTTP response (got %s): %s"
                            % (short(bytes(buf)), e), reset=True)
        if not data:
            raise TCPClosed("server closed TCP before a complete HTTP response (got %s)"
                            % short(bytes(buf)))
        buf += data
        if len(buf) > 65536:
            raise CaseFailure("HTTP response head larger than 64 KiB")
    idx = buf.index(b"\r\n\r\n")
    head = bytes(buf[:idx]).decode("latin-1")
    rest = bytes(buf[idx + 4:])
    lines = head.split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise CaseFailure("malformed HTTP status line: %r" % lines[0])
    headers = []
    for ln in lines[1:]:
        if ":" not in ln:
            raise CaseFailure("malformed HTTP response header line: %r" % ln)
        k, v = ln.split(":", 1)
        headers.append((k.strip(), v.strip()))
    return HttpResponse(parts[0], int(parts[1]), parts[2] if len(parts) > 2 else "", headers,
                        head), rest


def http_exchange(host, port, raw, timeout=DEFAULT_TIMEOUT, chop=None):
    """Send raw request bytes, return (HttpResponse, socket, leftover). Caller closes socket."""
    sock = connect_tcp(host, port, timeout)
    try:
        if chop:
            for i in range(0, len(raw), chop):
                sock.sendall(raw[i:i + chop])
        else:
            sock.sendall(raw)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server may reject before reading everything; its response is still queued
    try:
        resp, rest = read_http_response(sock, b"", timeout)
    except BaseException:
        sock.close()
        raise
    return resp, sock, rest


def check_101(resp, key, offered_protocols=(), extensions_offered=False):
    """Assert that `resp` is a valid RFC 6455 4.2.2 acceptance for `key`. With
    extensions_offered the caller checks Sec-WebSocket-Extensions (check_pmd_response)."""
    if resp.status != 101:
        raise CaseFailure("expected HTTP 101, got %s" % resp.summary())
    up = resp.get("Upgrade")
    if up is None or up.lower() != "websocket":
        raise CaseFailure("101 response: Upgrade header is %r, expected 'websocket'" % up)
    conn = resp.get("Connection")
    if conn is None or "upgrade" not in [t.strip().lower() for t in conn.split(",")]:
        raise CaseFailure("101 response: Connection header is %r, expected token 'Upgrade'" % conn)
    acc = resp.get("Sec-WebSocket-Accept")
    if acc != accept_for(key):
        raise CaseFailure("101 response: Sec-WebSocket-Accept is %r, expected %r"
                          % (acc, accept_for(key)))
    if len(resp.get_all("Sec-WebSocket-Accept")) != 1:
        raise CaseFailure("101 response: Sec-WebSocket-Accept present more than once")
    ext = resp.get("Sec-WebSocket-Extensions")
    if ext is not None and not extensions_offered:
        raise CaseFailure("101 response selects extension %r that the client did not offer" % ext)
    proto = resp.get("Sec-WebSocket-Protocol")
    if proto is not None and proto not in offered_protocols:
        raise CaseFailure("101 response selects subprotocol %r not offered (offered %r)"
                          % (proto, list(offered_protocols)))


# --------------------------------------------------------------------------- permessage-deflate

PMD_NAME = "permessage-deflate"
PMD_TAIL = b"\x00\x00\xff\xff"  # removed by the sender (RFC 7692 7.2.1), appended again (7.2.2)
PMD_STRICT_LIMIT = 64 * 1024    # compressed server messages up to this go through inflate_py


class PMDError(Exception):
    """Compressed data that does not inflate under the RFC 7692 7.2.2 / RFC 1951 rules."""


_TCHARS = frozenset("!#$%&'*+-.^_`|~0123456789"
                    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def parse_extensions(value, allow_empty=False):
    """Parse a Sec-WebSocket-Extensions value (RFC 6455 9.1: a comma list of
    `token *( ";" token [ "=" ( token | quoted-string ) ] )`, optional whitespace around the
    separators; a quoted value is unescaped). Returns [(name, [(param, value or None), ...])].
    Raises ValueError on anything else. Empty list elements ("a, ,b") are skipped with
    allow_empty (what a recipient must accept, RFC 7230 7), else an error."""
    s, n = value, len(value)
    i = 0

    def ows(i):
        while i < n and s[i] in " \t":
            i += 1
        return i

    def token(i):
        j = i
        while i < n and s[i] in _TCHARS:
            i += 1
        if i == j:
            raise ValueError("expected a token at offset %d of %r" % (j, s))
        return s[j:i], i

    def quoted(i):
        i += 1  # opening quote
        out = []
        while i < n and s[i] != '"':
            if s[i] == "\\":
                i += 1
                if i == n:
                    break
            out.append(s[i])
            i += 1
        if i >= n:
            raise ValueError("unterminated quoted-string in %r" % s)
        return "".join(out), i + 1

    elements = []
    while True:
        i = ows(i)
        if allow_empty and (i == n or s[i] == ","):
            if i == n:
                return elements
            i += 1
            continue
        name, i = token(i)
        params = []
        i = ows(i)
        while i < n and s[i] == ";":
            i = ows(i + 1)
            pname, i = token(i)
            i = ows(i)
            pvalue = None
            if i < n and s[i] == "=":
                i = ows(i + 1)
                if i < n and s[i] == '"':
                    pvalue, i = quoted(i)
                    if not pvalue or any(ch not in _TCHARS for ch in pvalue):
                        raise ValueError("quoted value %r is not a token (RFC 6455 9.1)" % pvalue)
                else:
                    pvalue, i = token(i)
                i = ows(i)
            params.append((pname, pvalue))
        elements.append((name, params))
        if i == n:
            return elements
        if s[i] != ",":
            raise ValueError("unexpected %r at offset %d of %r" % (s[i], i, s))
        i += 1


class PMDParams:
    """The parameters of one permessage-deflate element. snct/cnct: server_/client_no_context_
    takeover present. smwb/cmwb: server_/client_max_window_bits, None when absent, 0 when
    present without a value (client_max_window_bits in an offer), else 8..15."""

    def __init__(self):
        self.snct = False
        self.cnct = False
        self.smwb = None
        self.cmwb = None

    def __repr__(self):
        return "PMDParams(snct=%s, cnct=%s, smwb=%s, cmwb=%s)" % (self.snct, self.cnct,
                                                                  self.smwb, self.cmwb)


def pmd_params(params, response):
    """Apply the parameter rules of RFC 7692 7.1 to one element (of an offer, or of the
    server's response when `response`). Returns (PMDParams, None) or (None, what is wrong)."""
    p = PMDParams()
    seen = set()
    for name, value in params:
        if name in seen:
            return None, "parameter %s appears twice" % name
        seen.add(name)
        if name in ("server_no_context_takeover", "client_no_context_takeover"):
            if value is not None:
                return None, "%s takes no value (got %r)" % (name, value)
            setattr(p, "snct" if name[0] == "s" else "cnct", True)
        elif name in ("server_max_window_bits", "client_max_window_bits"):
            attr = "smwb" if name[0] == "s" else "cmwb"
            if value is None:
                if name == "client_max_window_bits" and not response:
                    p.cmwb = 0
                    continue
                return None, "%s needs a value" % name
            if not re.fullmatch(r"[1-9][0-9]?", value) or not 8 <= int(value) <= 15:
                return None, "%s=%s is not a decimal 8..15 without leading zeros" % (name, value)
            setattr(p, attr, int(value))
        else:
            return None, "unknown parameter %r" % name
    return p, None


def check_pmd_response(resp, offer, accept):
    """Check the 101's Sec-WebSocket-Extensions against our offer (RFC 6455 9.1, RFC 7692 5
    and 7.1). `offer` is the offered value (all header lines joined with ", "); `accept` the
    index of the offer element the server must have accepted, or None when it must decline
    (then the response has no Sec-WebSocket-Extensions at all). Returns (agreed, offered) as
    PMDParams, or None."""
    lines = resp.get_all("Sec-WebSocket-Extensions")
    if accept is None:
        if lines:
            raise CaseFailure("expected the offer %r to be declined (no Sec-WebSocket-Extensions "
                              "in the 101), got Sec-WebSocket-Extensions %r" % (offer, lines))
        return None
    if not lines:
        raise CaseFailure("expected permessage-deflate to be accepted (offer %r), but the 101 "
                          "has no Sec-WebSocket-Extensions" % offer)
    value = ", ".join(lines)
    try:
        elements = parse_extensions(value)
    except ValueError as e:
        raise CaseFailure("101 response: malformed Sec-WebSocket-Extensions: %s" % e)
    if len(elements) != 1 or elements[0][0].lower() != PMD_NAME:
        raise CaseFailure("101 response: Sec-WebSocket-Extensions %r must be exactly one "
                          "permessage-deflate element (the only extension offered)" % value)
    got, err = pmd_params(elements[0][1], response=True)
    if err:
        raise CaseFailure("101 response: Sec-WebSocket-Extensions %r: %s (RFC 7692 7.1)"
                          % (value, err))
    want, err = pmd_params(parse_extensions(offer, allow_empty=True)[accept][1], response=False)
    if err:
        raise ValueError("case error: offer %d of %r is not acceptable: %s" % (accept, offer, err))
    where = "101 response %r to offer %r" % (value, offer)
    if want.snct and not got.snct:
        raise CaseFailure("%s: the accepted offer has server_no_context_takeover, so the "
                          "response must include it (RFC 7692 7.1.1.1)" % where)
    if want.smwb is not None and (got.smwb is None or got.smwb > want.smwb):
        raise CaseFailure("%s: the accepted offer has server_max_window_bits=%d, so the "
                          "response must have server_max_window_bits <= %d (RFC 7692 7.1.2.1)"
                          % (where, want.smwb, want.smwb))
    if want.cmwb is None and got.cmwb is not None:
        raise CaseFailure("%s: client_max_window_bits in the response, but the accepted offer "
                          "does not have it (RFC 7692 7.1.2.2)" % where)
    return got, want


class PMDSender:
    """Our compressor for one connection (RFC 7692 7.2.1): raw DEFLATE, Z_SYNC_FLUSH at the end
    of each message, the trailing 00 00 ff ff removed. With context takeover one zlib stream
    carries over; with no_context_takeover each message starts a fresh stream.

    zlib refuses a raw 256-byte window (windowBits 8); for 8 we run it with 9. zlib's deflate
    emits no distance above its window minus MIN_LOOKAHEAD (262), i.e. 250 here, which stays
    inside 2**8."""

    def __init__(self, wbits=15, no_context_takeover=False, level=6,
                 strategy=zlib.Z_DEFAULT_STRATEGY):
        self.wbits = wbits
        self.no_context_takeover = no_context_takeover
        self.level = level
        self.strategy = strategy
        self._z = None

    def new_stream(self):
        return zlib.compressobj(self.level, zlib.DEFLATED, -max(9, self.wbits), 8, self.strategy)

    def compress(self, payload, flush=zlib.Z_SYNC_FLUSH):
        """The RSV1 payload for one whole message. flush=Z_FULL_FLUSH also ends in 00 00 ff ff.
        An empty message comes out as the single byte 0x00 (7.2.3.6)."""
        if isinstance(payload, str):
            payload = payload.encode("utf-8")
        if self._z is None or self.no_context_takeover:
            self._z = self.new_stream()
        out = self._z.compress(bytes(payload)) + self._z.flush(flush)
        if not out.endswith(PMD_TAIL):
            raise AssertionError("zlib flush did not end with 00 00 ff ff: %s" % short(out[-8:]))
        return out[:-4]

    def frames(self, opcode, payload, sizes=None, pieces=None):
        """One compressed message as client frames, RSV1 on the first. sizes / pieces split the
        *compressed* bytes as in fragments(); pieces is a function of the compressed bytes."""
        data = self.compress(payload)
        if sizes is None and pieces is None:
            return [frame(opcode, data, rsv=4)]
        if callable(pieces):
            pieces = pieces(data)
        return fragments(opcode, data, sizes=sizes, pieces=pieces, rsv=4)


def final_deflate(payload, level=6, strategy=zlib.Z_DEFAULT_STRATEGY, wbits=15):
    """A whole raw DEFLATE stream (Z_FINISH): its last block has BFINAL set. Byte aligned."""
    z = zlib.compressobj(level, zlib.DEFLATED, -max(9, wbits), 8, strategy)
    return z.compress(payload) + z.flush(zlib.Z_FINISH)


class _BitReader:
    __slots__ = ("data", "pos", "nbits")

    def __init__(self, data):
        self.data = data
        self.pos = 0
        self.nbits = len(data) * 8

    def bits(self, n):
        """n bits, least significant first (RFC 1951 3.1.1)."""
        if self.pos + n > self.nbits:
            raise PMDError("the data ends inside a block (after the 00 00 ff ff of 7.2.2)")
        v = 0
        data, pos = self.data, self.pos
        for k in range(n):
            v |= ((data[(pos + k) >> 3] >> ((pos + k) & 7)) & 1) << k
        self.pos = pos + n
        return v

    def align(self):
        self.pos = (self.pos + 7) & ~7


def _huffman(lengths, what):
    """Canonical Huffman decoding table (RFC 1951 3.2.2): per code length, code -> symbol."""
    count = [0] * 16
    for ln in lengths:
        count[ln] += 1
    count[0] = 0
    left = 1
    for ln in range(1, 16):
        left = (left << 1) - count[ln]
        if left < 0:
            raise PMDError("over-subscribed %s code" % what)
    code, nxt = 0, [0] * 16
    for ln in range(1, 16):
        code = (code + count[ln - 1]) << 1
        nxt[ln] = code
    table = [dict() for _ in range(16)]
    for sym, ln in enumerate(lengths):
        if ln:
            table[ln][nxt[ln]] = sym
            nxt[ln] += 1
    return table


def _decode(br, table):
    code = 0
    for ln in range(1, 16):
        code = (code << 1) | br.bits(1)
        sym = table[ln].get(code)
        if sym is not None:
            return sym
    raise PMDError("invalid Huffman code")


_LBASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99,
          115, 131, 163, 195, 227, 258]
_LEXTRA = [0] * 8 + [1] * 4 + [2] * 4 + [3] * 4 + [4] * 4 + [5] * 4 + [0]
_DBASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025,
          1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]
_DEXTRA = [0, 0, 0, 0] + [k for k in range(1, 14) for _ in (0, 1)]
_CLORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]
_FIXED = None


def _fixed_tables():
    global _FIXED
    if _FIXED is None:
        lit = [8] * 144 + [9] * 112 + [7] * 24 + [8] * 8
        _FIXED = (_huffman(lit, "literal/length"), _huffman([5] * 30, "distance"))
    return _FIXED


def _dynamic_tables(br):
    hlit = br.bits(5) + 257
    hdist = br.bits(5) + 1
    hclen = br.bits(4) + 4
    if hlit > 286 or hdist > 30:
        raise PMDError("dynamic block header: too many length or distance symbols")
    cl = [0] * 19
    for k in range(hclen):
        cl[_CLORDER[k]] = br.bits(3)
    cltab = _huffman(cl, "code length")
    lengths = []
    while len(lengths) < hlit + hdist:
        sym = _decode(br, cltab)
        if sym < 16:
            lengths.append(sym)
        elif sym == 16:
            if not lengths:
                raise PMDError("dynamic block header: repeat with no previous length")
            lengths += [lengths[-1]] * (3 + br.bits(2))
        elif sym == 17:
            lengths += [0] * (3 + br.bits(3))
        else:
            lengths += [0] * (11 + br.bits(7))
    if len(lengths) > hlit + hdist:
        raise PMDError("dynamic block header: code lengths overrun")
    if lengths[256] == 0:
        raise PMDError("dynamic block without an end-of-block code")
    return (_huffman(lengths[:hlit], "literal/length"),
            _huffman(lengths[hlit:], "distance"))


def inflate_py(data, history=b"", limit=64 << 20):
    """Inflate one whole compressed message, the 7.2.2 tail already appended, in pure Python
    (RFC 1951). Returns (output, largest back-reference distance used).

    Strict about the 7.2.1 framing: the data must be used up exactly at the end of a block, which
    the empty stored block of 7.2.1 guarantees. After a block with BFINAL (7.2.3.4) the next
    block starts on a byte boundary. `history` holds earlier messages' output (context
    takeover); a reference further back than it reaches raises PMDError. The caller compares
    the distance with the agreed window. For messages of modest size only: about 1 us a bit."""
    br = _BitReader(bytes(data))
    out = bytearray(history)
    base = len(history)
    maxdist = 0
    while br.pos < br.nbits:
        final = br.bits(1)
        btype = br.bits(2)
        if btype == 0:
            br.align()
            ln, nln = br.bits(16), br.bits(16)
            if ln != nln ^ 0xFFFF:
                raise PMDError("stored block LEN %d does not match NLEN %d" % (ln, nln))
            if br.pos + 8 * ln > br.nbits:
                raise PMDError("the data ends inside a stored block of %d bytes" % ln)
            start = br.pos >> 3
            out += br.data[start:start + ln]
            br.pos += 8 * ln
        elif btype == 3:
            raise PMDError("invalid block type 3")
        else:
            lit, dist = _fixed_tables() if btype == 1 else _dynamic_tables(br)
            while True:
                sym = _decode(br, lit)
                if sym < 256:
                    out.append(sym)
                    continue
                if sym == 256:
                    break
                if sym > 285:
                    raise PMDError("invalid length symbol %d" % sym)
                length = _LBASE[sym - 257] + br.bits(_LEXTRA[sym - 257])
                dsym = _decode(br, dist)
                if dsym > 29:
                    raise PMDError("invalid distance symbol %d" % dsym)
                d = _DBASE[dsym] + br.bits(_DEXTRA[dsym])
                if d > len(out):
                    raise PMDError("a reference %d bytes back reaches before the start of the "
                                   "context (%d bytes)" % (d, len(out)))
                maxdist = max(maxdist, d)
                if d >= length:
                    out += out[len(out) - d:len(out) - d + length]
                else:
                    for _ in range(length):
                        out.append(out[-d])
                if len(out) - base > limit:
                    raise PMDError("inflates past %d bytes" % limit)
        if len(out) - base > limit:
            raise PMDError("inflates past %d bytes" % limit)
        if final:
            br.align()
    return bytes(out[base:]), maxdist


def _inflate_zlib(data, history, wbits, limit):
    """zlib inflate of a whole message (tail appended), restarting after a final block with the
    window kept. zlib checks a distance only where it leaves its own buffers."""
    out = bytearray()
    window = bytes(history[-(1 << wbits):])
    while True:
        d = zlib.decompressobj(-wbits, zdict=window) if window else zlib.decompressobj(-wbits)
        try:
            out += d.decompress(data, limit - len(out) + 1)
        except zlib.error as e:
            raise PMDError("zlib: %s" % e)
        if len(out) > limit or d.unconsumed_tail:
            raise PMDError("inflates past %d bytes" % limit)
        if not d.eof or not d.unused_data:
            return bytes(out)
        data = d.unused_data
        window = bytes((history + out)[-(1 << wbits):])


class PMDReceiver:
    """Inflates the server's compressed messages (RFC 7692 7.2.2) with the agreed window of
    2**wbits bytes, starting every message from an empty context when server_no_context_takeover
    was agreed. Messages of up to PMD_STRICT_LIMIT compressed bytes go through inflate_py, which
    also proves that no reference reaches further back than the window, across messages too;
    larger ones through zlib."""

    def __init__(self, wbits=15, no_context_takeover=False):
        self.wbits = wbits
        self.no_context_takeover = no_context_takeover
        self.history = b""
        self.max_distance = 0  # over all messages so far
        self.count = 0         # compressed messages inflated

    def inflate(self, payload, limit=64 << 20):
        hist = b"" if self.no_context_takeover else self.history
        data = bytes(payload) + PMD_TAIL
        if len(payload) <= PMD_STRICT_LIMIT:
            out, maxdist = inflate_py(data, hist, limit)
            if maxdist > 1 << self.wbits:
                raise PMDError("a reference reaches %d bytes back, beyond the agreed window of %d "
                               "bytes (window bits %d%s)"
                               % (maxdist, 1 << self.wbits, self.wbits,
                                  ", context from earlier messages" if maxdist > len(out) else ""))
            self.max_distance = max(self.max_distance, maxdist)
        else:
            out = _inflate_zlib(data, hist, self.wbits, limit)
        self.history = (hist + out)[-32768:]
        self.count += 1
        return out


# --------------------------------------------------------------------------- connection

class Event:
    """A complete thing received from the server: a data message or a control frame."""

    def __init__(self, opcode, payload, nframes=1, compressed=False):
        self.opcode = opcode
        self.payload = bytes(payload)
        self.nframes = nframes
        self.compressed = compressed  # arrived with RSV1 (permessage-deflate) and was inflated
        self.code = None
        self.reason = b""
        if opcode == OP_CLOSE and len(self.payload) >= 2:
            self.code = struct.unpack("!H", self.payload[:2])[0]
            self.reason = self.payload[2:]

    def describe(self):
        if self.opcode == OP_CLOSE:
            if self.code is None:
                return "CLOSE (no status code)"
            return "CLOSE code=%d reason=%s" % (self.code, short(self.reason))
        frag = " in %d frames" % self.nframes if self.nframes > 1 else ""
        if self.compressed:
            frag += " (compressed)"
        return "%s len=%d%s %s" % (opname(self.opcode), len(self.payload), frag,
                                   short(self.payload, 24))


class WSConn:
    """An established (or raw) WebSocket client connection."""

    def __init__(self, sock, leftover=b"", name=""):
        self.sock = sock
        self.buf = bytearray(leftover)
        self.pos = 0
        self.name = name
        self.send_failed = None
        self.closed_by_server = False
        self._frag_op = None
        self._frag_parts = []
        self._frag_n = 0
        self.got_close = False
        self.server_pings = 0
        # permessage-deflate, set by Context.connect_pmd when the server accepted the offer:
        # pmd (the agreed PMDParams), pmd_tx (our compressor), pmd_rx (inflates the server's
        # RSV1 messages). Without it any RSV bit from the server is a protocol error.
        self.pmd = None
        self.pmd_tx = None
        self.pmd_rx = None
        self.last_rsv = 0
        self._frag_compressed = False

    # ---- sending
    def send(self, data):
        """sendall; a reset/broken pipe is recorded (the server may have failed us already)."""
        if isinstance(data, (list, tuple)):
            data = b"".join(data)
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError) as e:
            if self.send_failed is None:
                self.send_failed = e
        except socket.timeout:
            raise Timeout("send of %d bytes blocked > %.1fs (server not reading?)"
                          % (len(data), self.sock.gettimeout() or 0))

    def send_pmd(self, opcode, payload, sizes=None, pieces=None):
        """Send one message compressed with pmd_tx (see PMDSender.frames); returns the frames."""
        frames = self.pmd_tx.frames(opcode, payload, sizes=sizes, pieces=pieces)
        self.send(frames)
        return frames

    def send_bg(self, data, chop=None):
        """Send from a background thread while the caller reads (no deadlock with a server
        that applies backpressure or streams its echo). Call join_send() afterwards."""
        import threading

        def run():
            try:
                if chop:
                    self.send_chopped(data, chop)
                else:
                    self.send(data)
            except Exception as e:  # noqa: BLE001 -- reported by join_send
                self._bg_error = e
        self._bg_error = None
        self._bg = threading.Thread(target=run, daemon=True)
        self._bg.start()
        return self._bg

    def join_send(self, timeout=30.0):
        self._bg.join(timeout)
        if self._bg.is_alive():
            raise Timeout("background send did not finish within %.0fs" % timeout)
        if self._bg_error is not None:
            raise CaseFailure("background send failed: %s" % self._bg_error)

    def send_chopped(self, data, size, delay=0.0):
        """Send `data` `size` bytes per write (TCP_NODELAY is on), optionally sleeping."""
        if isinstance(data, (list, tuple)):
            data = b"".join(data)
        for i in range(0, len(data), size):
            self.send(data[i:i + size])
            if delay:
                time.sleep(delay)
            if self.send_failed:
                return

    def send_split(self, data, positions, delay=0.003):
        """Send `data` in writes split at the given byte offsets with a short pause between."""
        last = 0
        for p in positions:
            self.send(data[last:p])
            time.sleep(delay)
            last = p
        self.send(data[last:])

    # ---- receiving
    def _fill(self, deadline, what):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise Timeout("timed out waiting for %s" % what)
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(1 << 20)
        except socket.timeout:
            raise Timeout("timed out waiting for %s" % what)
        except ConnectionResetError:
            self.closed_by_server = True
            raise TCPClosed("TCP connection reset by server while waiting for %s" % what,
                            reset=True)
        if not data:
            self.closed_by_server = True
            raise TCPClosed("server closed TCP while waiting for %s" % what)
        if self.pos > (1 << 20) and self.pos * 2 > len(self.buf):
            del self.buf[:self.pos]
            self.pos = 0
        self.buf += data

    def _need(self, n, deadline, what):
        while len(self.buf) - self.pos < n:
            self._fill(deadline, what)

    def _take(self, n):
        b = self.buf[self.pos:self.pos + n]
        self.pos += n
        return b

    def recv_frame(self, timeout=DEFAULT_TIMEOUT, what="a frame"):
        """Read one raw frame and validate it as a *server* frame. Returns (fin, opcode, payload)."""
        deadline = time.monotonic() + timeout
        self._need(2, deadline, what)
        b0, b1 = self.buf[self.pos], self.buf[self.pos + 1]
        self.pos += 2
        fin = bool(b0 & 0x80)
        rsv = (b0 >> 4) & 7
        op = b0 & 0x0F
        masked = bool(b1 & 0x80)
        n = b1 & 0x7F
        if n == 126:
            self._need(2, deadline, what)
            n = struct.unpack("!H", bytes(self._take(2)))[0]
            if n < 126:
                raise ServerProtocolError("server used non-minimal 16-bit length for %d bytes" % n)
        elif n == 127:
            self._need(8, deadline, what)
            n = struct.unpack("!Q", bytes(self._take(8)))[0]
            if n >> 63:
                raise ServerProtocolError("server frame 64-bit length has MSB set")
            if n < 65536:
                raise ServerProtocolError("server used non-minimal 64-bit length for %d bytes" % n)
        if masked:
            raise ServerProtocolError("server sent a masked frame (RFC 6455 5.1 forbids it)")
        if rsv:
            if self.pmd_rx is None:
                raise ServerProtocolError("server frame has RSV bits 0x%x set without an extension"
                                          % rsv)
            if rsv != 4:
                raise ServerProtocolError("server frame has RSV2/RSV3 set (bits 0x%x); "
                                          "permessage-deflate defines only RSV1" % rsv)
            if op not in (OP_TEXT, OP_BINARY):
                raise ServerProtocolError("server set RSV1 on a %s frame (RFC 7692 6: only the "
                                          "first frame of a data message)" % opname(op))
        self.last_rsv = rsv
        if op not in OPNAMES:
            raise ServerProtocolError("server sent reserved opcode %d" % op)
        if op >= 8 and (not fin or n > 125):
            raise ServerProtocolError("server sent an invalid control frame (%s fin=%s len=%d)"
                                      % (opname(op), fin, n))
        if n > 64 * 1024 * 1024:
            raise ServerProtocolError("server frame claims %d bytes" % n)
        self._need(n, deadline, what)
        payload = bytes(self._take(n))
        return fin, op, payload

    def recv_event(self, timeout=DEFAULT_TIMEOUT, what="a message"):
        """Next complete message or control frame. Server pings are skipped (counted)."""
        deadline = time.monotonic() + timeout
        while True:
            if self.got_close:
                # Anything after the server's close frame is a violation (RFC 6455 5.5.1).
                remaining = max(0.0, deadline - time.monotonic())
                fin, op, payload = self.recv_frame(remaining, what)
                raise ServerProtocolError("server sent %s after its close frame" % opname(op))
            fin, op, payload = self.recv_frame(max(0.0, deadline - time.monotonic()), what)
            if op >= 8:
                if op == OP_PING:
                    self.server_pings += 1
                    continue
                ev = Event(op, payload)
                if op == OP_CLOSE:
                    self.got_close = True
                    self._check_close_payload(ev)
                return ev
            if op == OP_CONT:
                if self._frag_op is None:
                    raise ServerProtocolError("server sent a continuation frame with no message "
                                              "in progress")
                self._frag_parts.append(payload)
                self._frag_n += 1
            else:
                if self._frag_op is not None:
                    raise ServerProtocolError("server started a new %s message inside a "
                                              "fragmented %s message"
                                              % (opname(op), opname(self._frag_op)))
                self._frag_op = op
                self._frag_parts = [payload]
                self._frag_n = 1
                self._frag_compressed = self.last_rsv == 4
            if fin:
                op, data, nfr = self._frag_op, b"".join(self._frag_parts), self._frag_n
                compressed = self._frag_compressed
                self._frag_op, self._frag_parts, self._frag_n = None, [], 0
                self._frag_compressed = False
                if compressed:
                    try:
                        data = self.pmd_rx.inflate(data)
                    except PMDError as e:
                        raise ServerProtocolError("server's compressed %s message (%d bytes on the "
                                                  "wire): %s" % (opname(op), len(data), e))
                if op == OP_TEXT and not utf8_valid(data):
                    raise ServerProtocolError("server sent a TEXT message that is not valid UTF-8: "
                                              "%s" % short(data))
                return Event(op, data, nfr, compressed)

    @staticmethod
    def _check_close_payload(ev):
        if len(ev.payload) == 1:
            raise ServerProtocolError("server close frame has a 1-byte payload")
        if ev.code is not None:
            if ev.code not in SENDABLE_CLOSE_CODES:
                raise ServerProtocolError("server close frame carries code %d which must not be "
                                          "sent (RFC 6455 7.4)" % ev.code)
            if not utf8_valid(ev.reason):
                raise ServerProtocolError("server close reason is not valid UTF-8: %s"
                                          % short(ev.reason))

    # ---- assertions
    def expect_message(self, opcode, payload, timeout=DEFAULT_TIMEOUT, what=None):
        if isinstance(payload, str):
            payload = payload.encode("utf-8")
        what = what or "echo of %s len=%d" % (opname(opcode), len(payload))
        ev = self.recv_event(timeout, what)
        if ev.opcode != opcode or ev.payload != payload:
            raise CaseFailure("expected %s, got %s%s" % (what, ev.describe(),
                                                         _diff(payload, ev.payload)
                                                         if ev.opcode == opcode else ""))
        return ev

    def expect_echo(self, opcode, payload, timeout=DEFAULT_TIMEOUT):
        return self.expect_message(opcode, payload, timeout)

    def expect_pong(self, payload, timeout=DEFAULT_TIMEOUT):
        if isinstance(payload, str):
            payload = payload.encode("utf-8")
        return self.expect_message(OP_PONG, payload, timeout,
                                   what="PONG with payload %s" % short(payload))

    def expect_close(self, code=None, codes=None, timeout=CLOSE_TIMEOUT, allow_empty=False,
                     tcp_close=True):
        """Next event must be a close frame with `code` (or one of `codes`); then TCP close.

        allow_empty -- a close frame without status code is also accepted.
        """
        want = set(codes or ([] if code is None else [code]))
        desc = "/".join(str(c) for c in sorted(want)) or "any"
        if allow_empty:
            desc += " or no code"
        try:
            ev = self.recv_event(timeout, "CLOSE %s" % desc)
        except TCPClosed as e:
            raise CaseFailure("expected CLOSE %s, but %s" % (desc, e))
        if ev.opcode != OP_CLOSE:
            raise CaseFailure("expected CLOSE %s, got %s" % (desc, ev.describe()))
        if ev.code is None:
            if not allow_empty:
                raise CaseFailure("expected CLOSE %s, got CLOSE without status code" % desc)
        elif want and ev.code not in want:
            raise CaseFailure("expected CLOSE %s, got %s" % (desc, ev.describe()))
        if tcp_close:
            self.expect_tcp_close()
        return ev

    def expect_tcp_close(self, timeout=CLOSE_TIMEOUT):
        """The server must close the TCP connection (EOF or reset) and send nothing more."""
        deadline = time.monotonic() + timeout
        # Bytes already buffered after the close frame are a violation.
        if len(self.buf) > self.pos:
            raise ServerProtocolError("server sent %d bytes after its close frame: %s"
                                      % (len(self.buf) - self.pos, short(bytes(self.buf[self.pos:]))))
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Timeout("server did not close the TCP connection within %.1fs after the "
                              "close frame" % timeout)
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except ConnectionResetError:
                self.closed_by_server = True
                return
            if not data:
                self.closed_by_server = True
                return
            raise ServerProtocolError("server sent %d bytes after its close frame: %s"
                                      % (len(data), short(data)))

    def assert_quiet(self, timeout=DEFAULT_TIMEOUT, what="nothing else"):
        """Ping round trip: the next thing from the server must be our pong (so nothing else
        was sent in between). Proves 'nothing else arrived' without sleeping."""
        tag = b"quiet-" + os.urandom(6).hex().encode()
        self.send(ping(tag))
        try:
            ev = self.recv_event(timeout, "PONG %s (%s)" % (tag.decode(), what))
        except TCPClosed as e:
            raise CaseFailure("expected %s (checked with a ping round trip) but %s" % (what, e))
        if ev.opcode != OP_PONG or ev.payload != tag:
            raise CaseFailure("expected %s before the pong of our probe ping, got %s"
                              % (what, ev.describe()))

    def expect_mixed(self, data=(), pongs=(), timeout=DEFAULT_TIMEOUT):
        """Read len(data)+len(pongs) events: the data messages must arrive in the given order,
        the pongs in any position relative to them (RFC 6455 does not order pongs against data
        messages), in their own order."""
        want_data = [(op, p.encode() if isinstance(p, str) else p) for op, p in data]
        want_pongs = [p.encode() if isinstance(p, str) else p for p in pongs]
        got = []
        for _ in range(len(want_data) + len(want_pongs)):
            got.append(self.recv_event(timeout, "%d data messages and %d pongs"
                                       % (len(want_data), len(want_pongs))))
        got_data = [(e.opcode, e.payload) for e in got if e.opcode != OP_PONG]
        got_pongs = [e.payload for e in got if e.opcode == OP_PONG]
        if got_data != want_data or got_pongs != want_pongs:
            raise CaseFailure("expected data %s and pongs %s, got: %s"
                              % (["%s len=%d" % (opname(o), len(p)) for o, p in want_data],
                                 [short(p, 16) for p in want_pongs],
                                 ", ".join(e.describe() for e in got)))
        return got

    def assert_silent_for(self, seconds, what="nothing"):
        """For the rare case where a ping probe is impossible (we are in the middle of sending a
        frame): the server must send nothing and keep the connection open for `seconds`."""
        if len(self.buf) > self.pos:
            raise CaseFailure("expected %s, but the server sent %s"
                              % (what, short(bytes(self.buf[self.pos:]))))
        self.sock.settimeout(seconds)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return
        except ConnectionResetError:
            raise CaseFailure("expected %s, but the server reset the connection" % what)
        if not data:
            raise CaseFailure("expected %s, but the server closed TCP" % what)
        self.buf += data
        ev = self.recv_event(1.0, "the rest of an unexpected frame")
        raise CaseFailure("expected %s, but the server sent %s" % (what, ev.describe()))

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _diff(want, got):
    if want == got:
        return ""
    n = min(len(want), len(got))
    i = 0
    while i < n and want[i] == got[i]:
        i += 1
    return " (expected len=%d, first difference at offset %d)" % (len(want), i)


# --------------------------------------------------------------------------- case registry

class Case:
    def __init__(self, cid, title, fn, config="default"):
        self.id = cid
        self.title = title
        self.fn = fn
        self.config = config

    @property
    def group(self):
        return self.id.split(".")[0]

    def sort_key(self):
        return tuple(int(x) if x.isdigit() else x for x in self.id.split("."))


REGISTRY = []
_IDS = set()


def register(cid, title, fn, config="default"):
    if cid in _IDS:
        raise ValueError("duplicate case id %s" % cid)
    _IDS.add(cid)
    REGISTRY.append(Case(cid, title, fn, config))


def case(cid, title, config="default"):
    def deco(fn):
        register(cid, title, fn, config)
        return fn
    return deco


class Context:
    """What a case gets: where the server is and how it is configured."""

    def __init__(self, host, port, path="/echo", config=None):
        self.host = host
        self.port = port
        self.path = path
        self.config = config or {}

    def connect(self, headers=None, extra=b"", chop=None, timeout=DEFAULT_TIMEOUT):
        """TCP connect + valid opening handshake; `extra` bytes go in the same write as the
        request. Returns a WSConn with any bytes that followed the 101 response buffered."""
        key = make_key()
        hdrs = request_headers(self.host, self.port, key)
        if headers:
            hdrs += headers
        raw = build_request(self.path, hdrs) + extra
        resp, sock, rest = http_exchange(self.host, self.port, raw, timeout, chop=chop)
        try:
            check_101(resp, key)
        except BaseException:
            sock.close()
            raise
        sock.settimeout(timeout)
        return WSConn(sock, rest)

    def connect_pmd(self, offer=PMD_NAME, accept=0, headers=None, extra=b"",
                    timeout=DEFAULT_TIMEOUT):
        """Like connect(), offering permessage-deflate (RFC 7692).

        offer  -- the Sec-WebSocket-Extensions value; a list sends one header line per item;
                  None sends no Sec-WebSocket-Extensions at all
        accept -- index of the offer element (counted over all lines) that the server must
                  accept, or None when it must decline; checked with check_pmd_response
        The WSConn has pmd (agreed PMDParams), pmd_tx and pmd_rx set when accepted: pmd_tx
        compresses within the smaller of the offered and the agreed client window, resetting
        per message if either side asked for client_no_context_takeover."""
        lines = [] if offer is None else ([offer] if isinstance(offer, str) else list(offer))
        key = make_key()
        hdrs = request_headers(self.host, self.port, key)
        hdrs += [["Sec-WebSocket-Extensions", v] for v in lines]
        if headers:
            hdrs += headers
        raw = build_request(self.path, hdrs) + extra
        resp, sock, rest = http_exchange(self.host, self.port, raw, timeout)
        try:
            check_101(resp, key, extensions_offered=True)
            agreed = check_pmd_response(resp, ", ".join(lines), accept)
        except BaseException:
            sock.close()
            raise
        sock.settimeout(timeout)
        c = WSConn(sock, rest)
        if agreed:
            got, want = agreed
            c.pmd = got
            c.pmd_tx = PMDSender(min(got.cmwb or 15, want.cmwb or 15), got.cnct or want.cnct)
            c.pmd_rx = PMDReceiver(got.smwb or 15, got.snct)
        return c

    def request(self, raw, timeout=DEFAULT_TIMEOUT, chop=None):
        """Send a raw HTTP request, return the HttpResponse (socket closed)."""
        resp, sock, rest = http_exchange(self.host, self.port, raw, timeout, chop=chop)
        sock.close()
        return resp
