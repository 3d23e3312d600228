"""Shared helpers for tests/daemon/: raw HTTP and WebSocket clients, a bounded unittest runner.

Everything talks to a real switchboard process over real loopback sockets. The daemon is
started by tests/support/sbtest.py (`Daemon(args)`), which reads $SWITCHBOARD_BIN.

Before the first test the binary is copied to a private temporary file and $SWITCHBOARD_BIN
points at the copy: other engineers relink build/bin/switchboard concurrently, and a relink in
the middle of a run must not change (or truncate) the binary under test.
"""
import base64
import hashlib
import json
import os
import shutil
import signal
import socket
import struct
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
import sbtest  # noqa: E402

TEST_TIMEOUT = 30  # seconds, hard bound per test (SIGALRM)
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


# --------------------------------------------------------------------------- binary

_binary_copy = None


def pin_binary():
    """Copy the daemon binary once per process and point $SWITCHBOARD_BIN at the copy."""
    global _binary_copy
    if _binary_copy is not None:
        return _binary_copy
    src = sbtest.daemon_path()
    if not os.access(src, os.X_OK):
        raise RuntimeError(f"daemon binary {src} is missing or not executable")
    d = tempfile.mkdtemp(prefix="sb-daemon-bin-")
    dst = os.path.join(d, "switchboard")
    shutil.copy2(src, dst)
    os.environ["SWITCHBOARD_BIN"] = dst
    _binary_copy = dst
    return dst


# --------------------------------------------------------------------------- test case base

class TestTimeout(Exception):
    pass


def _on_alarm(signum, frame):
    raise TestTimeout("test exceeded its time bound (BoundedTestCase.timeout)")


class BoundedTestCase(unittest.TestCase):
    """Every test is killed (fails) after `timeout` seconds (TEST_TIMEOUT unless a class says)."""

    timeout = TEST_TIMEOUT

    def setUp(self):
        signal.signal(signal.SIGALRM, _on_alarm)
        signal.alarm(self.timeout)
        self._t0 = time.monotonic()

    def tearDown(self):
        signal.alarm(0)


# --------------------------------------------------------------------------- runner

class _CountingResult(unittest.TextTestResult):
    pass


def main():
    """Run the calling module's tests (or those named on the command line); print
    'N passed, N failed' last; exit non-zero on any failure or error."""
    pin_binary()
    argv = [a for a in sys.argv[1:] if not a.startswith("-")]
    loader = unittest.TestLoader()
    module = sys.modules["__main__"]
    if argv:
        suite = loader.loadTestsFromNames(argv, module)
    else:
        suite = loader.loadTestsFromModule(module)
    runner = unittest.TextTestRunner(verbosity=2, stream=sys.stdout, resultclass=_CountingResult)
    started = time.monotonic()
    result = runner.run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    passed = result.testsRun - failed - len(result.skipped)
    print(f"({time.monotonic() - started:.1f} s)")
    sys.stdout.flush()
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed or result.testsRun == 0 else 0)


# --------------------------------------------------------------------------- HTTP

class HTTPResponse:
    def __init__(self, status, reason, headers, body, raw_head):
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (name, value)
        self.body = body
        self.raw_head = raw_head

    def header(self, name, default=None):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return default

    def header_all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def __repr__(self):
        return f"<HTTP {self.status} {self.reason} {len(self.body)} body bytes>"


class Reader:
    """Buffered reads from a socket with an absolute deadline."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()
        self.eof = False

    def _fill(self, deadline):
        if self.eof:
            raise EOFError("connection closed by the peer")
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("deadline passed")
        self.sock.settimeout(left)
        data = self.sock.recv(1 << 20)
        if not data:
            self.eof = True
            raise EOFError("connection closed by the peer")
        self.buf += data

    def read_exact(self, n, deadline):
        while len(self.buf) < n:
            self._fill(deadline)
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def read_until(self, sep, deadline, limit=1 << 20):
        while True:
            i = self.buf.find(sep)
            if i >= 0:
                out = bytes(self.buf[:i + len(sep)])
                del self.buf[:i + len(sep)]
                return out
            if len(self.buf) > limit:
                raise ValueError("separator not found within limit")
            self._fill(deadline)

    def read_to_eof(self, deadline):
        try:
            while True:
                self._fill(deadline)
        except EOFError:
            pass
        out = bytes(self.buf)
        self.buf.clear()
        return out


def read_response(reader, deadline, head_request=False, sha=None):
    """Parse one HTTP/1.1 response (Content-Length framed). With `sha` (a hashlib object) the
    body is hashed instead of kept (for large files)."""
    head = reader.read_until(b"\r\n\r\n", deadline)
    lines = head.decode("iso-8859-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise AssertionError(f"bad status line {lines[0][:100]!r} (response head of "
                             f"{len(head)} bytes)")
    status = int(parts[1])
    reason = parts[2] if len(parts) > 2 else ""
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        k, _, v = line.partition(":")
        headers.append((k.strip(), v.strip()))
    resp = HTTPResponse(status, reason, headers, b"", head)
    if head_request or status in (204, 304) or 100 <= status < 200:
        return resp
    cl = resp.header("Content-Length")
    if cl is None:
        resp.body = reader.read_to_eof(deadline)
        return resp
    n = int(cl)
    if sha is None:
        resp.body = reader.read_exact(n, deadline)
    else:
        left = n
        while left:
            if not reader.buf:
                reader._fill(deadline)
            take = min(left, len(reader.buf))
            sha.update(reader.buf[:take])
            del reader.buf[:take]
            left -= take
    return resp


def connect(port, host="127.0.0.1", timeout=5.0, rcvbuf=None, mss=None):
    """A connected TCP socket; rcvbuf (SO_RCVBUF) and mss (TCP_MAXSEG) are set before connect,
    so they shape the window and segment size the server sees."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    if mss is not None:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, mss)
    s.settimeout(timeout)
    s.connect((host, port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def request_bytes(method, target, headers=(), body=b"", close=False, host="127.0.0.1"):
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    for k, v in headers:
        lines.append(f"{k}: {v}")
    if body:
        lines.append(f"Content-Length: {len(body)}")
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("iso-8859-1") + body


def http(port, method, target, headers=(), body=b"", timeout=10.0):
    """One request on a fresh connection; returns the parsed response."""
    with connect(port) as s:
        s.sendall(request_bytes(method, target, headers, body))
        return read_response(Reader(s), time.monotonic() + timeout, head_request=method == "HEAD")


def raw_exchange(port, data, timeout=5.0):
    """Send raw bytes, read until the server closes (or timeout); returns all bytes."""
    with connect(port) as s:
        s.sendall(data)
        r = Reader(s)
        try:
            return r.read_to_eof(time.monotonic() + timeout)
        except (socket.timeout, ConnectionResetError):
            return bytes(r.buf)


def status_json(port):
    r = http(port, "GET", "/status.json")
    if r.status != 200:
        raise AssertionError(f"/status.json answered {r.status}")
    return json.loads(r.body)


# --------------------------------------------------------------------------- WebSocket

def mask(data, key):
    n = len(data)
    if n == 0:
        return b""
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(k, "little")).to_bytes(n, "little")


def client_frame(opcode, payload=b"", fin=True):
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    n = len(payload)
    b0 = (0x80 if fin else 0) | opcode
    if n < 126:
        hdr = struct.pack("!BB", b0, 0x80 | n)
    elif n < 65536:
        hdr = struct.pack("!BBH", b0, 0x80 | 126, n)
    else:
        hdr = struct.pack("!BBQ", b0, 0x80 | 127, n)
    key = os.urandom(4)
    return hdr + key + mask(payload, key)


def close_payload(code, reason=b""):
    return struct.pack("!H", code) + reason


class WSClosed(Exception):
    """The TCP stream ended (EOF or reset) while a frame was expected."""

    def __init__(self, msg, reset=False):
        super().__init__(msg)
        self.reset = reset


class RawWS:
    """A hand-made WebSocket client on a raw socket (so a test controls reads, pongs and
    socket buffers exactly)."""

    def __init__(self, port, path="/echo", rcvbuf=None, timeout=5.0, host="127.0.0.1", mss=None):
        self.sock = connect(port, host=host, timeout=timeout, rcvbuf=rcvbuf, mss=mss)
        self.reader = Reader(self.sock)
        key = base64.b64encode(os.urandom(16)).decode()
        req = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               f"Sec-WebSocket-Version: 13\r\n\r\n").encode()
        self.sock.sendall(req)
        head = self.reader.read_until(b"\r\n\r\n", time.monotonic() + timeout)
        if not head.startswith(b"HTTP/1.1 101"):
            raise AssertionError(f"handshake refused: {head[:200]!r}")
        accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        if f"Sec-WebSocket-Accept: {accept}".lower().encode() not in head.lower():
            raise AssertionError(f"bad Sec-WebSocket-Accept in {head!r}")

    def send(self, opcode, payload=b"", fin=True):
        self.sock.sendall(client_frame(opcode, payload, fin))

    def send_text(self, text):
        self.send(OP_TEXT, text)

    def send_close(self, code=1000, reason=b""):
        self.send(OP_CLOSE, close_payload(code, reason))

    def recv_frame(self, timeout=5.0, deadline=None):
        """Returns (fin, opcode, payload). Raises WSClosed at EOF/reset, socket.timeout."""
        if deadline is None:
            deadline = time.monotonic() + timeout
        try:
            h = self.reader.read_exact(2, deadline)
            b0, b1 = h[0], h[1]
            if b1 & 0x80:
                raise AssertionError("server frame is masked")
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self.reader.read_exact(2, deadline))[0]
            elif n == 127:
                n = struct.unpack("!Q", self.reader.read_exact(8, deadline))[0]
            payload = self.reader.read_exact(n, deadline)
        except EOFError as e:
            raise WSClosed(str(e)) from None
        except ConnectionResetError as e:
            raise WSClosed(str(e), reset=True) from None
        return bool(b0 & 0x80), b0 & 0x0F, payload

    def recv_message(self, timeout=5.0, answer_pings=True):
        """Next data message (opcode, payload); pings answered; a close frame raises
        AssertionError carrying its code."""
        deadline = time.monotonic() + timeout
        while True:
            fin, op, payload = self.recv_frame(deadline=deadline)
            if op == OP_PING:
                if answer_pings:
                    self.send(OP_PONG, payload)
                continue
            if op == OP_PONG:
                continue
            if op == OP_CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                raise AssertionError(f"unexpected close frame, code {code}")
            if not fin:
                raise AssertionError("fragmented server message (not expected here)")
            return op, payload

    def expect_close(self, timeout=5.0):
        """Read until a close frame; returns (code, reason, seconds waited). Data frames are
        skipped; EOF before the close frame raises WSClosed."""
        t0 = time.monotonic()
        deadline = t0 + timeout
        while True:
            fin, op, payload = self.recv_frame(deadline=deadline)
            if op == OP_CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                return code, payload[2:], time.monotonic() - t0

    def wait_eof(self, timeout=5.0):
        """Read (discarding) until EOF/reset; returns seconds waited. Raises socket.timeout."""
        t0 = time.monotonic()
        deadline = t0 + timeout
        try:
            while True:
                self.reader.buf.clear()
                self.reader._fill(deadline)
        except EOFError:
            return time.monotonic() - t0
        except ConnectionResetError:
            return time.monotonic() - t0

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def wait_until(predicate, timeout, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = predicate()
        if v:
            return v
        time.sleep(interval)
    return predicate()
