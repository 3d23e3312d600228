#!/usr/bin/python3
"""Interop, client side: our WebSocket client (the real `swcat` binary) against real peers.

Peers, all on 127.0.0.x ports 20000-32000, started by this file and stopped at the end:
  - python3-websockets 10.4 servers, run in this process (an asyncio loop on a thread), with a
    protocol subclass that counts the bytes on the wire;
  - npm `ws` servers (lib/ws_echo_server.js, a node process each);
  - raw-socket servers written here (a thread each) for what libraries will not do: never answer
    pings, record the exact frames the client sends, send fragments, a deflate bomb;
  - lib/pubsub_server.py, a python3-websockets process the reconnect test SIGKILLs and restarts;
  - the proxies tinyproxy (HTTP CONNECT), microsocks and danted (SOCKS5).
TLS certificates are throwaway ones made with the openssl CLI in a temporary directory.

Echo servers answer the text message `?info` with one line of JSON (the negotiated
Sec-WebSocket-Extensions, the subprotocol, and the bytes read and written on the connection so
far: that is how a check sees that messages really travelled compressed), `?headers` with
the request's headers, path and peer address, `?frag` with a message in three frames, and
`?close` with a close 4000; everything else is echoed.

Checks are grouped by a prefix of their name (peers:, handshake:, tls:, proxy:, reconnect:,
heartbeat:, frames:); CTest runs peers: as interop.client.peers and the rest as
interop.client.features.

Run all:        /usr/bin/python3 tests/interop/client_test.py
Run a group:    /usr/bin/python3 tests/interop/client_test.py proxy:
Run some:       /usr/bin/python3 tests/interop/client_test.py "peers: node wss" heartbeat
                (every argument is a substring; a check runs when its name contains any)
Binary:         SWCAT_BIN=/path/to/swcat (default build/bin/swcat); node: SWITCHBOARD_NODE
Last line:      "N passed, N failed" (exit code 1 on any failure).
"""
import asyncio
import atexit
import base64
import contextlib
import hashlib
from http import HTTPStatus
import json
import logging
import os
import queue
import random
import re
import shutil
import signal
import socket
import ssl
import string
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
import sbtest  # noqa: E402

import websockets  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory  # noqa: E402
from websockets.frames import Opcode  # noqa: E402
from websockets.legacy.framing import Frame  # noqa: E402
from websockets.legacy.server import WebSocketServerProtocol  # noqa: E402

SWCAT = os.environ.get("SWCAT_BIN", os.path.join(sbtest.ROOT, "build", "bin", "swcat"))
NODE = os.environ.get("SWITCHBOARD_NODE") or shutil.which("node") or "node"
PYTHON = "/usr/bin/python3"
NODE_SERVER = os.path.join(HERE, "lib", "ws_echo_server.js")
PUBSUB_SERVER = os.path.join(HERE, "lib", "pubsub_server.py")

FILE_BUDGET = 110.0  # seconds per run: past this, remaining checks fail at once (CTest: 150)
RECV_TIMEOUT = 10.0  # seconds to wait for one message or event
STARTED = time.monotonic()
MIB = 1 << 20

logging.getLogger("websockets").setLevel(logging.CRITICAL)  # refused handshakes are expected
logging.getLogger("asyncio").setLevel(logging.CRITICAL)     # so are failed TLS handshakes


class Failed(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failed(msg)


# --- processes -----------------------------------------------------------------------------

_procs = []
_procs_lock = threading.Lock()


def spawn(cmd, **kw):
    """Starts a process in a session of its own (so its children can be stopped with it)."""
    kw.setdefault("stdin", subprocess.DEVNULL)
    p = subprocess.Popen(cmd, start_new_session=True, **kw)
    with _procs_lock:
        _procs.append(p)
    return p


def stop_proc(p, sig=signal.SIGTERM, timeout=5.0):
    """Stops a process we started, and its process group (danted forks workers)."""
    if p.poll() is None:
        try:
            os.killpg(p.pid, sig)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(p.pid, signal.SIGKILL)  # leftovers of the group, if any
    except (ProcessLookupError, PermissionError):
        pass
    if p.poll() is None:
        p.kill()
        p.wait(timeout=5)
    for f in (p.stdin, p.stdout, p.stderr):
        if f is not None:
            with contextlib.suppress(Exception):
                f.close()


def stop_all():
    with _procs_lock:
        procs = list(_procs)
    for p in procs:
        with contextlib.suppress(Exception):
            stop_proc(p, timeout=2.0)


atexit.register(stop_all)

_tmp = None
_tmp_lock = threading.Lock()


def tmp_path(name):
    """A path in this run's temporary directory (made on first use, removed at the end)."""
    global _tmp
    with _tmp_lock:
        if _tmp is None:
            _tmp = tempfile.mkdtemp(prefix="swcat-interop-")
    return os.path.join(_tmp, name)


def remove_tmp():
    if _tmp is not None:
        shutil.rmtree(_tmp, ignore_errors=True)


atexit.register(remove_tmp)


def free_port():
    return sbtest.free_port("127.0.0.1")


class LineProc:
    """A helper process whose stdout lines are collected on a thread."""

    def __init__(self, cmd, stack, stderr=None, env=None, sig=signal.SIGTERM):
        self.cmd = cmd
        self.lines = queue.Queue()
        self.proc = spawn(cmd, stdout=subprocess.PIPE, stderr=stderr, env=env)
        stack.callback(stop_proc, self.proc, sig)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for raw in self.proc.stdout:
            self.lines.put(raw.decode("utf-8", "replace").rstrip("\n"))
        self.lines.put(None)

    def wait_line(self, prefix, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failed(f"{self.cmd[:3]}: no line starting '{prefix}' within {timeout:.0f} s")
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise Failed(f"{' '.join(self.cmd[:4])} exited with {self.proc.wait()} "
                             f"before printing '{prefix}'")
            if line.startswith(prefix):
                return line


# --- swcat ---------------------------------------------------------------------------------

CONNECTED_RE = re.compile(
    r"^swcat: connected url=(?P<url>\S*) subprotocol=(?P<sub>\S*) extensions=(?P<ext>.*) "
    r"reconnected=(?P<re>[01])$")


def wait_for_binary():
    """The lead may be rebuilding swcat: wait up to 60 s for it to be there."""
    deadline = time.monotonic() + 60
    while not os.access(SWCAT, os.X_OK):
        if time.monotonic() > deadline:
            raise Failed(f"{SWCAT} is missing (build it: cmake --build build --target swcat)")
        time.sleep(0.2)


class Swcat:
    """A running swcat: send() writes a line to its stdin, recv() returns the next line it
    printed on stdout, wait_event() waits for a line on stderr matching a regex."""

    def __init__(self, url, *args, stack):
        self.cmd = [SWCAT, *args, url]
        deadline = time.monotonic() + 60
        while True:
            wait_for_binary()
            try:
                self.proc = spawn(self.cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
                break
            except OSError:  # ETXTBSY / ENOENT while the binary is being replaced
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        self.started = time.monotonic()
        stack.callback(stop_proc, self.proc, signal.SIGKILL)
        self.out = queue.Queue()
        self.err = []
        self.err_times = []
        self.cond = threading.Condition()
        self.inq = queue.Queue()
        threading.Thread(target=self._read_out, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()
        threading.Thread(target=self._write, daemon=True).start()

    def _read_out(self):
        with contextlib.suppress(Exception):
            for raw in self.proc.stdout:
                self.out.put(raw[:-1] if raw.endswith(b"\n") else raw)
        self.out.put(None)

    def _read_err(self):
        with contextlib.suppress(Exception):
            for raw in self.proc.stderr:
                with self.cond:
                    self.err.append(raw.decode("utf-8", "replace").rstrip("\n"))
                    self.err_times.append(time.monotonic())
                    self.cond.notify_all()
        with self.cond:
            self.err.append(None)
            self.err_times.append(time.monotonic())
            self.cond.notify_all()

    def _write(self):
        while True:
            data = self.inq.get()
            try:
                if data is None:
                    self.proc.stdin.close()
                    return
                self.proc.stdin.write(data)
                self.proc.stdin.flush()
            except (BrokenPipeError, ValueError, OSError):
                return

    # Input.
    def send(self, text):
        self.inq.put(text.encode("utf-8") + b"\n")

    def close_input(self):
        self.inq.put(None)

    # Output.
    def describe(self):
        args = " ".join(a if len(a) < 80 else a[:60] + "..." for a in self.cmd[1:])
        with self.cond:
            lines = [line for line in self.err if line is not None][-12:]
        tail = "\n    ".join(lines) if lines else "(nothing)"
        return f"\n  swcat {args}\n  its stderr:\n    {tail}"

    def fail(self, msg):
        raise Failed(msg + self.describe())

    def recv(self, timeout=RECV_TIMEOUT, what="a message"):
        try:
            line = self.out.get(timeout=timeout)
        except queue.Empty:
            self.fail(f"waiting for {what}: nothing on stdout within {timeout:.0f} s")
        if line is None:
            self.fail(f"waiting for {what}: swcat's stdout ended (exit code {self.proc.poll()})")
        return line.decode("utf-8", "replace")

    def drain(self):
        """Lines already printed, without waiting."""
        got = []
        while True:
            try:
                line = self.out.get_nowait()
            except queue.Empty:
                return got
            if line is None:
                self.out.put(None)
                return got
            got.append(line.decode("utf-8", "replace"))

    def events(self):
        with self.cond:
            return [line for line in self.err if line is not None]

    def wait_event(self, pattern, timeout=RECV_TIMEOUT, start=0):
        """Waits for a stderr line matching `pattern` (from line index `start`); returns
        (index, match). Fails when swcat's stderr ends or time runs out."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            i = start
            while True:
                while i < len(self.err):
                    line = self.err[i]
                    if line is None:
                        break
                    m = rx.search(line)
                    if m:
                        return i, m
                    i += 1
                if i < len(self.err) and self.err[i] is None:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(left)
        self.fail(f"no stderr line matching /{pattern}/ within {timeout:.1f} s")

    def event_time(self, index):
        with self.cond:
            return self.err_times[index]

    def connected(self, timeout=RECV_TIMEOUT):
        """Waits for the `connected` line and returns its fields."""
        _, m = self.wait_event(r"^swcat: connected ", timeout)
        full = CONNECTED_RE.match(m.string)
        if not full:
            self.fail(f"malformed connected line: {m.string!r}")
        return full.groupdict()

    def wait(self, timeout=15.0):
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.fail(f"swcat still running after {timeout:.0f} s")
        # Let the readers reach the end of its output.
        with self.cond:
            end = time.monotonic() + 2
            while (not self.err or self.err[-1] is not None) and time.monotonic() < end:
                self.cond.wait(0.1)
        return rc

    def info(self, what="?info"):
        self.send(what)
        line = self.recv(what=f"the answer to {what}")
        try:
            return json.loads(line)
        except ValueError:
            self.fail(f"the answer to {what} is not JSON: {line[:200]!r}")


def swcat_once(url, *args, stack, lines=(), timeout=15.0):
    """Runs swcat to its end, with `lines` as input; returns (exit code, stdout lines, stderr
    lines, the Swcat)."""
    sw = Swcat(url, *args, stack=stack)
    for line in lines:
        sw.send(line)
    sw.close_input()
    rc = sw.wait(timeout)
    out = sw.drain()
    return rc, out, sw.events(), sw


def expect_failure(sw, rc, *needles, status=1):
    """swcat failed with exit `status` and a final error line containing every needle."""
    errors = [e for e in sw.events() if e.startswith("swcat: error:")]
    if rc != status:
        sw.fail(f"expected exit code {status}, got {rc}")
    if not errors:
        sw.fail("expected an error line, there is none")
    last = errors[-1]
    if "(final=1)" not in last:
        sw.fail(f"the last error line is not final: {last!r}")
    for n in needles:
        if isinstance(n, re.Pattern):
            if not n.search(last):
                sw.fail(f"the error line does not match /{n.pattern}/: {last!r}")
        elif n.lower() not in last.lower():
            sw.fail(f"the error line does not name '{n}': {last!r}")
    if any(e.startswith("swcat: connected") for e in sw.events()):
        sw.fail("swcat reported a connection that should not have opened")
    note(last)
    return last


# --- payloads ------------------------------------------------------------------------------

def text_of(n, seed=0):
    """Text of exactly n UTF-8 bytes without a newline, mixing 1- to 4-byte characters (very
    compressible: it repeats a short cycle)."""
    cycle = ("a", "\u00e9", "\u20ac", "\U0001F600", "Z", "0", " ", "q")
    out, total, i = [], 0, seed
    while total < n:
        c = cycle[i % len(cycle)]
        b = len(c.encode("utf-8"))
        if total + b > n:
            c, b = "x", 1
        out.append(c)
        total += b
        i += 1
    return "".join(out)


def random_letters(n, seed):
    """n random ASCII letters: deflate gets them only down to ~75%, unless it has seen them."""
    return "".join(random.Random(seed).choices(string.ascii_letters, k=n))


# --- python3-websockets servers, in this process -------------------------------------------

class _Loop:
    def __init__(self):
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

    def run(self, coro, timeout=15.0):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


_loop = None


def pyloop():
    global _loop
    if _loop is None:
        _loop = _Loop()
    return _loop


class CountingProtocol(WebSocketServerProtocol):
    """python3-websockets' server protocol, counting the bytes read and written on the wire
    (after TLS) and the pings received."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.bytes_in = 0
        self.bytes_out = 0
        self.sb_pings = 0

    def data_received(self, data):
        self.bytes_in += len(data)
        super().data_received(data)

    def write_frame_sync(self, fin, opcode, data):
        frame = Frame(fin, Opcode(opcode), data)

        def write(chunk):
            self.bytes_out += len(chunk)
            self.transport.write(chunk)

        frame.write(write, mask=self.is_client, extensions=self.extensions)

    async def read_frame(self, max_size):
        frame = await super().read_frame(max_size)
        if frame.opcode == Opcode.PING:
            self.sb_pings += 1
        return frame


FRAG_PARTS = ("fragmented ", "hello ", "world " * 300)  # the answer to ?frag, one frame each


def py_info(ws):
    return {"extensions": ws.response_headers.get("Sec-WebSocket-Extensions", ""),
            "subprotocol": ws.subprotocol or "",
            "bytes_in": ws.bytes_in, "bytes_out": ws.bytes_out, "pings": ws.sb_pings}


def py_headers(ws):
    return {"headers": {k.lower(): v for k, v in ws.request_headers.raw_items()},
            "path": ws.path, "peer": ws.remote_address[0]}


async def py_echo(ws, path=None):
    try:
        async for msg in ws:
            if msg == "?info":
                await ws.send(json.dumps(py_info(ws)))
            elif msg == "?headers":
                await ws.send(json.dumps(py_headers(ws)))
            elif msg == "?close":
                await ws.close(4000, "server says bye")
            elif msg == "?frag":
                async def parts():
                    for part in FRAG_PARTS:
                        yield part
                await ws.send(parts())  # one frame per part
            else:
                await ws.send(msg)
    except ConnectionClosed:
        pass


def tls_server_context(name, sni_seen=None):
    """A server context with certificate `name`; the SNI of each handshake (None when the
    client sent none) is appended to the list `sni_seen`."""
    certs = certificates()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certs[name + ".pem"], certs[name + ".key"])
    if sni_seen is not None:
        ctx.sni_callback = lambda sslobj, server_name, context: sni_seen.append(server_name)
    return ctx


def py_serve(stack, handler=py_echo, tls=None, port=None, sni_seen=None, **kw):
    """Starts a python3-websockets server on 127.0.0.1; returns its port. tls: a certificate
    name from certificates() ("good", "other")."""
    kw.setdefault("compression", None)
    kw.setdefault("max_size", 64 * MIB)
    kw.setdefault("ping_interval", None)
    kw.setdefault("create_protocol", CountingProtocol)
    ctx = tls_server_context(tls, sni_seen) if tls else None
    loop = pyloop()

    async def start(p):
        return await websockets.serve(handler, "127.0.0.1", p, ssl=ctx, **kw)

    async def stop(server):
        server.close()
        await server.wait_closed()

    for attempt in range(5):
        p = port or free_port()
        try:
            server = loop.run(start(p))
        except OSError:
            if port or attempt == 4:
                raise
            continue
        stack.callback(lambda: loop.run(stop(server)))
        return p


# --- node ws servers -----------------------------------------------------------------------

def node_serve(stack, tls=None, deflate=None, subprotocols=None):
    """Starts lib/ws_echo_server.js; returns its port. deflate: ws perMessageDeflate options
    (a dict; {} for the defaults) or None for no extension."""
    if not os.path.isdir(os.path.join(HERE, "node_modules", "ws")):
        raise Failed("npm package ws is missing from tests/interop/node_modules "
                     "(run scripts/setup.sh)")
    args = []
    if tls:
        certs = certificates()
        args += ["--tls", certs[tls + ".pem"], certs[tls + ".key"]]
    args += ["--deflate", "off" if deflate is None else json.dumps(deflate)]
    if subprotocols:
        args += ["--subprotocols", ",".join(subprotocols)]
    for attempt in range(5):
        port = free_port()
        proc = LineProc([NODE, NODE_SERVER, "--port", str(port), *args], stack)
        try:
            proc.wait_line("listening", timeout=10)
            return port
        except Failed:
            stop_proc(proc.proc)
            if attempt == 4:
                raise


# --- certificates --------------------------------------------------------------------------

_certs = None
_certs_lock = threading.Lock()


def certificates():
    """Throwaway self-signed certificates (each is its own CA), made once per run:
    good: DNS:localhost, IP:127.0.0.1; other: DNS:other.example only."""
    global _certs
    with _certs_lock:
        if _certs is None:
            made = {}
            for name, san in (("good", "DNS:localhost,IP:127.0.0.1"),
                              ("other", "DNS:other.example")):
                key, pem = tmp_path(name + ".key"), tmp_path(name + ".pem")
                r = subprocess.run(
                    ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                     "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", pem,
                     "-days", "2", "-subj", f"/CN=switchboard test {name}",
                     "-addext", f"subjectAltName={san}"],
                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=30)
                if r.returncode != 0:
                    raise Failed(f"openssl req failed: {r.stderr.decode(errors='replace')}")
                made[name + ".key"], made[name + ".pem"] = key, pem
            _certs = made
        return _certs


# --- raw-socket servers --------------------------------------------------------------------

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3


class RawFrame:
    def __init__(self, fin, rsv1, opcode, masked, payload):
        self.fin, self.rsv1, self.opcode = fin, rsv1, opcode
        self.masked, self.payload = masked, payload

    def __repr__(self):
        return (f"<frame fin={int(self.fin)} rsv1={int(self.rsv1)} opcode={self.opcode} "
                f"masked={int(self.masked)} {len(self.payload)} bytes>")


def unmask(data, key):
    if not data:
        return data
    k = (key * (len(data) // 4 + 1))[:len(data)]
    return (int.from_bytes(data, "big") ^ int.from_bytes(k, "big")).to_bytes(len(data), "big")


def server_frame(opcode, payload=b"", fin=True, rsv1=False, length=None):
    """An unmasked frame; `length` overrides the length field (the payload may be partial)."""
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    if n < 126:
        head = bytes([b0, n])
    elif n < 65536:
        head = bytes([b0, 126]) + struct.pack("!H", n)
    else:
        head = bytes([b0, 127]) + struct.pack("!Q", n)
    return head + payload


class RawConn:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.request = None
        self.headers = {}

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("the client closed the connection")
        self.buf += data

    def read_exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_request(self):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        self.request = lines[0]
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()
        return self.request, self.headers

    def accept(self, extensions=None, protocol=None, accept_value=None, upgrade="websocket",
               connection="Upgrade", then=b""):
        """Answers 101; `then` (bytes, e.g. a first frame) goes out in the same send."""
        key = self.headers.get("sec-websocket-key", "")
        digest = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        if accept_value is not None:
            digest = accept_value
        resp = (f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: {upgrade}\r\n"
                f"Connection: {connection}\r\nSec-WebSocket-Accept: {digest}\r\n")
        if extensions:
            resp += f"Sec-WebSocket-Extensions: {extensions}\r\n"
        if protocol:
            resp += f"Sec-WebSocket-Protocol: {protocol}\r\n"
        self.sock.sendall((resp + "\r\n").encode() + then)

    def read_frame(self):
        b0, b1 = self.read_exact(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self.read_exact(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self.read_exact(8))[0]
        masked = bool(b1 & 0x80)
        key = self.read_exact(4) if masked else None
        payload = self.read_exact(n)
        if masked:
            payload = unmask(payload, key)
        return RawFrame(bool(b0 & 0x80), bool(b0 & 0x40), b0 & 0x0F, masked, payload)

    def send(self, data):
        self.sock.sendall(data)

    def answer_close(self, frame):
        """Answers a close frame with the same status code."""
        self.send(server_frame(0x8, frame.payload[:2]))


class RawServer:
    """A TCP server on 127.0.0.1 whose connections run `handler(conn, facts)` on a thread each.
    `facts` is a dict the handler fills for the check; `done` is set when a handler returns."""

    def __init__(self, handler, stack, conn_timeout=10.0):
        self.handler = handler
        self.facts = {"errors": []}
        self.done = threading.Event()
        self.conn_timeout = conn_timeout
        self.conns = []
        self.closed = False
        for attempt in range(20):
            self.port = free_port()
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                self.sock.bind(("127.0.0.1", self.port))
                break
            except OSError:
                self.sock.close()
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        stack.callback(self.close)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.settimeout(self.conn_timeout)
            self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            self.handler(RawConn(conn), self.facts)
        except Exception as e:  # recorded for the check to report
            self.facts["errors"].append(f"{type(e).__name__}: {e}")
        finally:
            with contextlib.suppress(OSError):
                conn.close()
            self.done.set()

    def close(self):
        self.closed = True
        with contextlib.suppress(OSError):
            self.sock.close()
        for c in self.conns:
            with contextlib.suppress(OSError):
                c.close()

    def url(self, path="/"):
        return f"ws://127.0.0.1:{self.port}{path}"


# --- the runner ----------------------------------------------------------------------------

CHECKS = []
_notes = []


def note(text):
    """A measurement worth seeing in the output of a passing check (printed as `# text`)."""
    _notes.append(text)


def case(name, timeout=30.0):
    def deco(fn):
        CHECKS.append((name, fn, timeout))
        return fn
    return deco


def run(argv):
    filters = argv[1:]
    selected = [c for c in CHECKS if not filters or any(f in c[0] for f in filters)]
    if not selected:
        print(f"no check matches {filters}")
        print("0 passed, 1 failed", flush=True)
        return 1
    passed = failed = 0
    for name, fn, limit in selected:
        t0 = time.monotonic()
        error = None
        del _notes[:]
        stack = contextlib.ExitStack()
        if t0 - STARTED > FILE_BUDGET:
            error = Failed(f"not run: earlier checks used up this file's {FILE_BUDGET:.0f} s "
                           "budget")
        else:
            box = {}

            def body():
                try:
                    fn(stack)
                except BaseException as e:  # noqa: B902 (reported below)
                    box["error"] = e

            th = threading.Thread(target=body, daemon=True)
            th.start()
            th.join(limit)
            if th.is_alive():
                error = Failed(f"timed out after {limit:.0f} s")
            else:
                error = box.get("error")
        try:
            stack.close()  # stops everything the check started
        except Exception as e:
            error = error or e
        ms = (time.monotonic() - t0) * 1000
        if error is None:
            passed += 1
            print(f"ok - {name} ({ms:.0f} ms)", flush=True)
            for n in _notes:
                print(f"  # {n}", flush=True)
        else:
            failed += 1
            detail = str(error) if isinstance(error, Failed) else f"{type(error).__name__}: {error}"
            print(f"not ok - {name} ({ms:.0f} ms)\n  " + detail.replace("\n", "\n  "), flush=True)
    stop_all()
    print(f"{passed} passed, {failed} failed", flush=True)
    return 0 if failed == 0 and passed > 0 else 1


# ===========================================================================================
# peers: echo through python3-websockets and node ws, plain and TLS, with and without deflate
# ===========================================================================================

ECHO_SIZES = (0, 1, 125, 126, 65536, MIB)


def ext_params(value):
    """'permessage-deflate; a; b=1' -> ('permessage-deflate', {'a': None, 'b': '1'})."""
    if not value:
        return "", {}
    parts = [p.strip() for p in value.split(";")]
    params = {}
    for p in parts[1:]:
        k, _, v = p.partition("=")
        params[k.strip().lower()] = v.strip().strip('"') or None
    return parts[0].lower(), params


def echo_session(sw, expect_ext, expect_compressed, peer, window=None):
    """The echo check on an open swcat (started with --keep-open --count SESSION_COUNT).

    expect_ext: None (no extension), or the set of no_context_takeover parameters expected in
    the negotiated permessage-deflate. expect_compressed: whether messages must travel
    compressed. window: the --max-window-bits given (the server must answer
    server_max_window_bits with it; the context-takeover probe shrinks to fit the window)."""
    conn = sw.connected()
    got_name, got = ext_params(conn["ext"])
    if expect_ext is None:
        check(conn["ext"] == "", f"{peer}: expected no extension, swcat reports "
                                 f"extensions={conn['ext']!r}" + sw.describe())
    else:
        check(got_name == "permessage-deflate",
              f"{peer}: expected permessage-deflate, swcat reports extensions={conn['ext']!r}"
              + sw.describe())
        if window is not None:
            check(got.get("server_max_window_bits") == str(window),
                  f"{peer}: asked server_max_window_bits={window}, negotiated {conn['ext']!r}")
        flags = {k for k in got if k.endswith("no_context_takeover")}
        check(flags == set(expect_ext),
              f"{peer}: expected the no_context_takeover parameters {sorted(expect_ext)}, "
              f"negotiated {conn['ext']!r}" + sw.describe())

    info0 = sw.info()
    check(info0["extensions"] == conn["ext"],
          f"{peer}: the server sent Sec-WebSocket-Extensions {info0['extensions']!r}, swcat "
          f"reports {conn['ext']!r}")
    for size in ECHO_SIZES:
        msg = text_of(size, seed=size)
        sw.send(msg)
        back = sw.recv(what=f"the echo of {size} bytes")
        if back != msg:
            sw.fail(f"{peer}: echo of {size} bytes came back as {len(back.encode())} bytes "
                    f"{'(same length, different content)' if len(back) == len(msg) else ''}")
    info1 = sw.info()
    sent = sum(ECHO_SIZES)
    wire_in = info1["bytes_in"] - info0["bytes_in"]
    wire_out = info1["bytes_out"] - info0["bytes_out"]
    if expect_compressed:
        check(wire_in < sent // 8,
              f"{peer}: {sent} bytes of repetitive text took {wire_in} bytes on the wire to the "
              f"server: the client did not compress")
        check(wire_out < sent // 8,
              f"{peer}: {sent} bytes came back in {wire_out} wire bytes: the server did not "
              f"compress")
    else:
        check(wire_in >= sent and wire_out >= sent,
              f"{peer}: {sent} bytes took {wire_in} bytes in, {wire_out} out without deflate")

    # Context takeover: the same random letters twice (2,000; 600 within a 1 KiB window). With
    # the context kept, the second copy is a back-reference of a few bytes; reset, it costs
    # ~75% of its size again.
    probe = 600 if window is not None else 2000
    rnd = random_letters(probe, seed=7)
    sw.send(rnd)
    check(sw.recv(what="the first random message") == rnd, f"{peer}: random message 1 differs")
    info2 = sw.info()
    sw.send(rnd)
    check(sw.recv(what="the second random message") == rnd, f"{peer}: random message 2 differs")
    info3 = sw.info()
    if expect_compressed:
        second_in = info3["bytes_in"] - info2["bytes_in"]
        second_out = info3["bytes_out"] - info2["bytes_out"]  # with one small ?info answer
        client_keeps = "client_no_context_takeover" not in got
        server_keeps = "server_no_context_takeover" not in got
        limit_in = probe // 5  # a ?info frame (11 bytes) is part of it
        limit_out = limit_in + 200  # and the small JSON answer to one ?info
        check((second_in < limit_in) == client_keeps,
              f"{peer}: the repeated message took {second_in} wire bytes to the server; with "
              f"{conn['ext']!r} the client should {'keep' if client_keeps else 'reset'} its "
              f"compression context")
        check((second_out < limit_out) == server_keeps,
              f"{peer}: the repeated echo took {second_out} wire bytes back; with "
              f"{conn['ext']!r} the server should {'keep' if server_keeps else 'reset'} its "
              f"context")
        note(f"extensions={conn['ext']!r}; {sent} bytes of text: {wire_in} wire bytes in, "
             f"{wire_out} out; the repeated {probe} random letters: {second_in} in, "
             f"{second_out} out")
    else:
        note(f"extensions={conn['ext']!r}; {sent} bytes of text: {wire_in} wire bytes in, "
             f"{wire_out} out")
    rc = sw.wait(15)
    if rc != 0:
        sw.fail(f"{peer}: swcat exited with {rc} after --count, expected 0")
    sw.wait_event(r"^swcat: disconnected code=1000 ", 1)


SESSION_COUNT = len(ECHO_SIZES) + 6


def _peer_case(peer, scheme, mode):
    """mode: plain (no offer), deflate, nct (client asks no_context_takeover), server-nct
    (the server forces no_context_takeover on both sides), declined (the server has no
    deflate)."""
    label = {"plain": "no extension", "deflate": "deflate",
             "nct": "deflate, client asks no_context_takeover",
             "server-nct": "deflate, server forces no_context_takeover",
             "declined": "deflate offered, server declines",
             "window10": "deflate, --max-window-bits 10"}[mode]

    def body(stack):
        tls = "good" if scheme == "wss" else None
        if peer == "python":
            exts = []
            if mode in ("deflate", "nct", "window10"):
                exts = [ServerPerMessageDeflateFactory()]
            elif mode == "server-nct":
                exts = [ServerPerMessageDeflateFactory(server_no_context_takeover=True,
                                                       client_no_context_takeover=True)]
            port = py_serve(stack, tls=tls, extensions=exts)
            host = "localhost" if tls else "127.0.0.1"  # the certificate's DNS name
        else:
            deflate = None
            if mode in ("deflate", "nct", "window10"):
                deflate = {}
            elif mode == "server-nct":
                deflate = {"serverNoContextTakeover": True, "clientNoContextTakeover": True}
            port = node_serve(stack, tls=tls, deflate=deflate)
            host = "127.0.0.1"  # the certificate's IP address
        args = ["--keep-open", "--count", str(SESSION_COUNT)]
        if tls:
            args += ["--ca", certificates()["good.pem"]]
        if mode != "plain":
            args.append("--deflate")
        if mode == "nct":
            args.append("--no-context-takeover")
        if mode == "window10":
            args += ["--max-window-bits", "10"]
        sw = Swcat(f"{scheme}://{host}:{port}/echo", *args, stack=stack)
        if mode in ("plain", "declined"):
            expect = None
        elif mode in ("deflate", "window10"):
            expect = set()
        else:
            expect = {"server_no_context_takeover", "client_no_context_takeover"}
        echo_session(sw, expect, expect is not None, f"{peer} {scheme}",
                     window=10 if mode == "window10" else None)

    case(f"peers: {peer} {scheme}:// {label}", timeout=40)(body)


for _peer in ("python", "node"):
    for _scheme in ("ws", "wss"):
        for _mode in ("plain", "deflate", "nct", "server-nct"):
            _peer_case(_peer, _scheme, _mode)
    _peer_case(_peer, "ws", "declined")
    _peer_case(_peer, "ws", "window10")


# ===========================================================================================
# handshake: subprotocols, headers, Origin, credentials, redirects, refusals
# ===========================================================================================

def one_echo(sw, text="hello"):
    sw.send(text)
    back = sw.recv(what=f"the echo of {text!r}")
    if back != text:
        sw.fail(f"sent {text!r}, got back {back!r}")


def finish_clean(sw):
    rc = sw.wait(15)
    if rc != 0:
        sw.fail(f"expected exit code 0 after --count, got {rc}")


def subprotocol_case(peer, server_list, offered, expected):
    def body(stack):
        if peer == "python":
            port = py_serve(stack, subprotocols=server_list)
        else:
            port = node_serve(stack, subprotocols=server_list)
        args = ["--keep-open", "--count", "2"]
        for p in offered:
            args += ["--subprotocol", p]
        sw = Swcat(f"ws://127.0.0.1:{port}/echo", *args, stack=stack)
        conn = sw.connected()
        if conn["sub"] != expected:
            sw.fail(f"server supports {server_list}, client offered {offered}: expected "
                    f"subprotocol={expected!r}, swcat reports {conn['sub']!r}")
        info = sw.info()
        check(info["subprotocol"] == expected,
              f"the server says it chose {info['subprotocol']!r}, expected {expected!r}")
        one_echo(sw)
        finish_clean(sw)

    what = f"picks {expected}" if expected else "picks none"
    case(f"handshake: {peer} subprotocol, server {what}")(body)


subprotocol_case("python", ["v2.chat", "v3.chat"], ["v1.chat", "v2.chat"], "v2.chat")
subprotocol_case("python", ["other"], ["v1.chat", "v2.chat"], "")
subprotocol_case("node", ["v3.chat", "v2.chat"], ["v1.chat", "v2.chat", "v3.chat"], "v2.chat")
subprotocol_case("node", ["other"], ["v1.chat"], "")


def headers_case(peer):
    def body(stack):
        port = py_serve(stack) if peer == "python" else node_serve(stack)
        sw = Swcat(f"ws://127.0.0.1:{port}/echo?room=7", "--keep-open", "--count", "2",
                   "--header", "X-Sb-Test: hello header", "--header", "X-Second:2",
                   "--origin", "https://origin.example", stack=stack)
        sw.connected()
        h = sw.info("?headers")
        got = h["headers"]
        check(got.get("x-sb-test") == "hello header",
              f"{peer} saw X-Sb-Test={got.get('x-sb-test')!r}, expected 'hello header'")
        check(got.get("x-second") == "2", f"{peer} saw X-Second={got.get('x-second')!r}")
        check(got.get("origin") == "https://origin.example",
              f"{peer} saw Origin={got.get('origin')!r}")
        check(h["path"] == "/echo?room=7", f"{peer} saw the request target {h['path']!r}")
        check(got.get("host") == f"127.0.0.1:{port}", f"{peer} saw Host={got.get('host')!r}")
        one_echo(sw)
        finish_clean(sw)

    case(f"handshake: {peer} custom headers, Origin, path and query reach the server")(body)


headers_case("python")
headers_case("node")


def auth_server(stack, peer_port_for_redirect=None, tls_port_for_redirect=None):
    """A python3-websockets server whose process_request plays the HTTP side: Basic and Bearer
    checks, refusals and redirects (python3-websockets 10.4 wants an HTTPStatus, not an int).
    Returns its port."""
    port_box = {}
    good_basic = "Basic " + base64.b64encode(b"alice:p@ss:w rd").decode()

    def process_request(path, headers):
        route = path.split("?")[0]
        auth = headers.get("Authorization", "")
        port = port_box["port"]
        if route == "/basic":
            if auth != good_basic:
                return (HTTPStatus(401), [("WWW-Authenticate", 'Basic realm="sb"')],
                        b"who are you?\n")
        elif route == "/bearer":
            if auth != "Bearer tok.en-123":
                return HTTPStatus(401), [("WWW-Authenticate", 'Bearer realm="sb"')], b"no token\n"
        elif route == "/forbidden":
            return HTTPStatus(403), [], b"forbidden\n"
        elif route == "/unauthorized":
            return HTTPStatus(401), [("WWW-Authenticate", 'Basic realm="closed"')], b"no\n"
        elif route == "/r301":
            return HTTPStatus(301), [("Location", "/echo?via=301")], b""
        elif route == "/dir/r302":
            return HTTPStatus(302), [("Location", "echo2")], b""  # relative path: /dir/echo2
        elif route == "/r307abs":
            return HTTPStatus(307), [("Location", f"http://127.0.0.1:{port}/echo?via=307")], b""
        elif route == "/chain":
            return HTTPStatus(302), [("Location", "/r301")], b""
        elif route == "/elsewhere":
            return (HTTPStatus(301),
                    [("Location", f"ws://127.0.0.1:{peer_port_for_redirect}/echo")], b"")
        elif route == "/to-tls":
            return HTTPStatus(308), [("Location",
                                      f"https://localhost:{tls_port_for_redirect}/echo")], b""
        elif route == "/loop":
            return HTTPStatus(302), [("Location", "/loop")], b""
        elif route not in ("/echo", "/dir/echo2"):
            return HTTPStatus(404), [], b"not found\n"
        return None

    port = py_serve(stack, process_request=process_request)
    port_box["port"] = port
    return port


@case("handshake: Basic credentials from the URL (percent-encoded) are accepted")
def _(stack):
    port = auth_server(stack)
    sw = Swcat(f"ws://alice:p%40ss%3Aw%20rd@127.0.0.1:{port}/basic", "--keep-open", "--count", "1",
               stack=stack)
    sw.connected()
    one_echo(sw)
    finish_clean(sw)


@case("handshake: Basic credentials from --user/--password are accepted")
def _(stack):
    port = auth_server(stack)
    sw = Swcat(f"ws://127.0.0.1:{port}/basic", "--user", "alice", "--password", "p@ss:w rd",
               "--keep-open", "--count", "1", stack=stack)
    sw.connected()
    one_echo(sw)
    finish_clean(sw)


@case("handshake: a wrong Basic password gives exit 1 and an error naming 401")
def _(stack):
    port = auth_server(stack)
    rc, _, _, sw = swcat_once(f"ws://alice:wrong@127.0.0.1:{port}/basic", "--keep-open",
                              stack=stack)
    expect_failure(sw, rc, "401", 'realm="sb"')


@case("handshake: --bearer sends Authorization: Bearer (and wins over --user)")
def _(stack):
    port = auth_server(stack)
    sw = Swcat(f"ws://127.0.0.1:{port}/bearer", "--bearer", "tok.en-123", "--user", "alice",
               "--password", "x", "--keep-open", "--count", "1", stack=stack)
    sw.connected()
    one_echo(sw)
    finish_clean(sw)


@case("handshake: a 401 refusal gives exit 1 and an error naming the status")
def _(stack):
    port = auth_server(stack)
    rc, _, _, sw = swcat_once(f"ws://127.0.0.1:{port}/unauthorized", stack=stack)
    expect_failure(sw, rc, "401")


@case("handshake: a 403 refusal gives exit 1 and an error naming the status")
def _(stack):
    port = auth_server(stack)
    rc, _, _, sw = swcat_once(f"ws://127.0.0.1:{port}/forbidden", stack=stack)
    expect_failure(sw, rc, "403")


def redirect_case(name, path, final_path, via_node=False):
    def body(stack):
        node_port = node_serve(stack) if via_node else None
        port = auth_server(stack, peer_port_for_redirect=node_port)
        sw = Swcat(f"ws://127.0.0.1:{port}{path}", "--keep-open", "--count", "2", stack=stack)
        conn = sw.connected()
        final = f"ws://127.0.0.1:{node_port if via_node else port}{final_path}"
        if conn["url"] != final:
            sw.fail(f"expected to end up at {final}, swcat reports url={conn['url']}")
        h = sw.info("?headers")
        check(h["path"] == final_path, f"the final server saw the path {h['path']!r}, "
                                       f"expected {final_path!r}")
        one_echo(sw)
        finish_clean(sw)

    case(f"handshake: redirect {name}")(body)


redirect_case("301 to a relative Location (/echo?via=301)", "/r301", "/echo?via=301")
redirect_case("302 to a relative path (echo2 from /dir/r302)", "/dir/r302", "/dir/echo2")
redirect_case("307 to an absolute http:// Location (becomes ws://)", "/r307abs", "/echo?via=307")
redirect_case("302 then 301 (two hops)", "/chain", "/echo?via=301")
redirect_case("301 from a python server to a node ws server", "/elsewhere", "/echo", via_node=True)


@case("handshake: redirect 308 from ws:// to an https:// Location (becomes wss://, verified)")
def _(stack):
    tls_port = py_serve(stack, tls="good")
    port = auth_server(stack, tls_port_for_redirect=tls_port)
    sw = Swcat(f"ws://127.0.0.1:{port}/to-tls", "--ca", certificates()["good.pem"],
               "--keep-open", "--count", "1", stack=stack)
    conn = sw.connected()
    final = f"wss://localhost:{tls_port}/echo"
    if conn["url"] != final:
        sw.fail(f"expected to end up at {final}, swcat reports url={conn['url']}")
    one_echo(sw)
    finish_clean(sw)


@case("handshake: a redirect loop stops with an error naming too many redirects")
def _(stack):
    port = auth_server(stack)
    t0 = time.monotonic()
    rc, _, _, sw = swcat_once(f"ws://127.0.0.1:{port}/loop", stack=stack)
    expect_failure(sw, rc, re.compile(r"too many redirects|more than \d+ redirects", re.I))
    check(time.monotonic() - t0 < 10, "the redirect loop took more than 10 s to stop")


@case("handshake: a close from the server (4000, reason) is reported and gives exit 1")
def _(stack):
    port = py_serve(stack)
    sw = Swcat(f"ws://127.0.0.1:{port}/echo", "--keep-open", stack=stack)
    sw.connected()
    sw.send("?close")
    sw.wait_event(r"^swcat: disconnected code=4000 reason=server says bye$")
    rc = sw.wait(10)
    if rc != 1:
        sw.fail(f"a close with 4000 should give exit 1, got {rc}")


def bad_answer_case(name, needle, accept_kw, client_args=()):
    """A raw server answers 101 with something a client must refuse (RFC 6455 section 4.1)."""
    def body(stack):
        def answer(conn, facts):
            conn.read_request()
            conn.accept(**accept_kw)
            with contextlib.suppress(EOFError, OSError):
                conn.read_frame()  # whatever comes, until the client hangs up

        srv = RawServer(answer, stack)
        rc, _, _, sw = swcat_once(srv.url(), *client_args, stack=stack)
        expect_failure(sw, rc, needle)

    case(f"handshake: {name}")(body)


bad_answer_case("a wrong Sec-WebSocket-Accept fails the connection", "Sec-WebSocket-Accept",
                {"accept_value": base64.b64encode(b"0123456789abcdefghij").decode()})
bad_answer_case("a subprotocol that was not offered fails the connection", "subprotocol",
                {"protocol": "v9.other"}, ("--subprotocol", "v1.chat"))
bad_answer_case("a subprotocol answered when none was offered fails the connection",
                "subprotocol", {"protocol": "v1.chat"})
bad_answer_case("an extension that was not offered fails the connection", "extension",
                {"extensions": "permessage-deflate"})


@case("handshake: a server that never answers the upgrade: --connect-timeout 500 ends it")
def _(stack):
    def mute(conn, facts):
        conn.read_request()
        with contextlib.suppress(EOFError, OSError):
            conn.read_exact(1)  # until the client gives up

    srv = RawServer(mute, stack)
    t0 = time.monotonic()
    rc, _, _, sw = swcat_once(srv.url(), "--connect-timeout", "500", stack=stack)
    took = time.monotonic() - t0
    expect_failure(sw, rc, "in time")
    check(took < 3.0, f"a 500 ms connect timeout took {took:.1f} s")


# ===========================================================================================
# tls: verification failures, --insecure
# ===========================================================================================

@case("tls: a certificate for another name, dialled as localhost: verify failed, mismatch")
def _(stack):
    port = py_serve(stack, tls="other")
    rc, _, _, sw = swcat_once(f"wss://localhost:{port}/echo", "--ca",
                              certificates()["other.pem"], stack=stack)
    expect_failure(sw, rc, "certificate verify failed", "mismatch")


@case("tls: a certificate for another name, dialled as 127.0.0.1: verify failed, mismatch")
def _(stack):
    port = node_serve(stack, tls="other")
    rc, _, _, sw = swcat_once(f"wss://127.0.0.1:{port}/echo", "--ca",
                              certificates()["other.pem"], stack=stack)
    expect_failure(sw, rc, "certificate verify failed", "mismatch")


@case("tls: a self-signed certificate without --ca: verify failed")
def _(stack):
    port = py_serve(stack, tls="good")
    rc, _, _, sw = swcat_once(f"wss://localhost:{port}/echo", stack=stack)
    expect_failure(sw, rc, "certificate verify failed")


@case("tls: --ca with a different certificate than the server's: verify failed")
def _(stack):
    port = py_serve(stack, tls="good")
    rc, _, _, sw = swcat_once(f"wss://localhost:{port}/echo", "--ca",
                              certificates()["other.pem"], stack=stack)
    expect_failure(sw, rc, "certificate verify failed")


@case("tls: --insecure connects to the wrong-name self-signed server (python, node)")
def _(stack):
    for port in (py_serve(stack, tls="other"), node_serve(stack, tls="other")):
        sw = Swcat(f"wss://127.0.0.1:{port}/echo", "--insecure", "--keep-open", "--count", "1",
                   stack=stack)
        sw.connected()
        one_echo(sw, "insecure but working")
        finish_clean(sw)


@case("tls: SNI carries the host name for wss://localhost and is absent for wss://127.0.0.1")
def _(stack):
    seen = []
    port = py_serve(stack, tls="good", sni_seen=seen)
    for host in ("localhost", "127.0.0.1"):
        sw = Swcat(f"wss://{host}:{port}/echo", "--ca", certificates()["good.pem"], "--keep-open",
                   "--count", "1", stack=stack)
        sw.connected()
        one_echo(sw)
        finish_clean(sw)
    # RFC 6066 section 3: "Literal IPv4 and IPv6 addresses are not permitted in HostName".
    check(seen == ["localhost", None], f"SNI seen by the server: {seen}, expected "
                                       f"['localhost', None]")


# ===========================================================================================
# proxy: tinyproxy (HTTP CONNECT), microsocks and danted (SOCKS5)
# ===========================================================================================

PROXY_EGRESS = "127.0.0.3"  # proxies dial out from here: the echo server sees who connected


def start_listener(stack, name, make_cmd, timeout=10.0):
    """Starts a server process on a free port: make_cmd(port) writes its config and returns its
    command line; output goes to a log file. Retries with another port when the process exits
    before it listens (the port was taken meanwhile). Returns the port."""
    for attempt in range(5):
        port = free_port()
        cmd = make_cmd(port)
        log = open(tmp_path(f"{name}-{port}.log"), "w")
        stack.callback(log.close)
        p = spawn(cmd, stdout=log, stderr=subprocess.STDOUT)
        stack.callback(stop_proc, p)
        try:
            sbtest.wait_for_port("127.0.0.1", port, timeout=timeout, proc=p)
            return port
        except (RuntimeError, TimeoutError) as e:
            stop_proc(p)
            if attempt == 4:
                with open(tmp_path(f"{name}-{port}.log")) as f:
                    raise Failed(f"{name} did not start: {e}\n{f.read()[-2000:]}")


def start_tinyproxy(stack, auth=None):
    def cmd(port):
        conf = tmp_path(f"tinyproxy-{port}.conf")
        lines = [f"Port {port}", "Listen 127.0.0.1", f"Bind {PROXY_EGRESS}", "Timeout 30",
                 "Allow 127.0.0.1", "MaxClients 50", "LogLevel Connect"]
        if auth:
            lines.append(f"BasicAuth {auth[0]} {auth[1]}")
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        return ["tinyproxy", "-d", "-c", conf]  # no ConnectPort lines: any port may be dialled

    return start_listener(stack, "tinyproxy", cmd)


def start_microsocks(stack, auth=None):
    def cmd(port):
        c = ["microsocks", "-i", "127.0.0.1", "-p", str(port), "-b", PROXY_EGRESS]
        if auth:
            c += ["-u", auth[0], "-P", auth[1]]
        return c

    return start_listener(stack, "microsocks", cmd)


def start_danted(stack):
    def cmd(port):
        conf = tmp_path(f"danted-{port}.conf")
        with open(conf, "w") as f:
            f.write(f"""logoutput: stderr
internal: 127.0.0.1 port = {port}
external: {PROXY_EGRESS}
clientmethod: none
socksmethod: none
user.privileged: root
user.unprivileged: nobody
client pass {{
  from: 127.0.0.0/8 to: 0.0.0.0/0
}}
socks pass {{
  from: 127.0.0.0/8 to: 0.0.0.0/0
}}
""")
        return ["danted", "-f", conf, "-N", "1"]

    return start_listener(stack, "danted", cmd, timeout=15)


def through_proxy(stack, proxy_url, scheme):
    """ws:// (to 127.0.0.1) or wss:// (to localhost, so the proxy resolves the name and TLS
    checks it) echo through the proxy; the echo server must see the proxy's egress address."""
    if scheme == "ws":
        port = py_serve(stack)
        url, extra = f"ws://127.0.0.1:{port}/echo", []
    else:
        port = py_serve(stack, tls="good")
        url, extra = f"wss://localhost:{port}/echo", ["--ca", certificates()["good.pem"]]
    sw = Swcat(url, "--proxy", proxy_url, *extra, "--keep-open", "--count", "3", "--deflate",
               stack=stack)
    sw.connected()
    one_echo(sw, "through the proxy")
    one_echo(sw, text_of(65536, 3))
    h = sw.info("?headers")
    check(h["peer"] == PROXY_EGRESS,
          f"the echo server saw a connection from {h['peer']}, not from the proxy's "
          f"{PROXY_EGRESS}: the proxy was not used")
    finish_clean(sw)


def proxy_cases(name, start, scheme_url, auth=None):
    for scheme in ("ws", "wss"):
        def body(stack, scheme=scheme):
            pport = start(stack, auth) if auth is not None else start(stack)
            creds = f"{auth[0]}:{auth[1]}@" if auth else ""
            through_proxy(stack, f"{scheme_url}://{creds}127.0.0.1:{pport}", scheme)
        suffix = " with credentials" if auth else ""
        case(f"proxy: {name}{suffix}, {scheme}:// echo")(body)


proxy_cases("tinyproxy (HTTP CONNECT)", start_tinyproxy, "http")
proxy_cases("tinyproxy (HTTP CONNECT)", start_tinyproxy, "http", auth=("pxuser", "pxpass"))
proxy_cases("microsocks (SOCKS5)", start_microsocks, "socks5")
proxy_cases("microsocks (SOCKS5)", start_microsocks, "socks5", auth=("sockuser", "sockpass"))
proxy_cases("danted (SOCKS5)", lambda stack: start_danted(stack), "socks5")


@case("proxy: tinyproxy with BasicAuth, no credentials: error naming 407")
def _(stack):
    pport = start_tinyproxy(stack, ("pxuser", "pxpass"))
    port = py_serve(stack)
    rc, _, _, sw = swcat_once(f"ws://127.0.0.1:{port}/echo", "--proxy",
                              f"http://127.0.0.1:{pport}", stack=stack)
    expect_failure(sw, rc, "407")


@case("proxy: tinyproxy with BasicAuth, wrong password: the refusal is an error")
def _(stack):
    # tinyproxy 1.11 answers a wrong Proxy-Authorization with 401 (a missing one with 407).
    pport = start_tinyproxy(stack, ("pxuser", "pxpass"))
    port = py_serve(stack)
    rc, _, _, sw = swcat_once(f"ws://127.0.0.1:{port}/echo", "--proxy",
                              f"http://pxuser:wrong@127.0.0.1:{pport}", stack=stack)
    expect_failure(sw, rc, "proxy", re.compile(r"\b40[17]\b"))


@case("proxy: microsocks with credentials, wrong password: error")
def _(stack):
    pport = start_microsocks(stack, ("sockuser", "sockpass"))
    port = py_serve(stack)
    rc, _, _, sw = swcat_once(f"ws://127.0.0.1:{port}/echo", "--proxy",
                              f"socks5://sockuser:wrong@127.0.0.1:{pport}", stack=stack)
    expect_failure(sw, rc, "SOCKS5", "rejected the user name or password")


@case("proxy: microsocks with credentials, none given: error")
def _(stack):
    pport = start_microsocks(stack, ("sockuser", "sockpass"))
    port = py_serve(stack)
    rc, _, _, sw = swcat_once(f"ws://127.0.0.1:{port}/echo", "--proxy",
                              f"socks5://127.0.0.1:{pport}", stack=stack)
    expect_failure(sw, rc, "SOCKS5", "authentication method")


@case("proxy: tinyproxy cannot reach the target (dead port): the refusal is an error")
def _(stack):
    pport = start_tinyproxy(stack)
    rc, _, _, sw = swcat_once(f"ws://127.0.0.1:{free_port()}/echo", "--proxy",
                              f"http://127.0.0.1:{pport}", stack=stack)
    expect_failure(sw, rc, "proxy", re.compile(r"\b5\d\d\b"))


@case("proxy: microsocks cannot reach the target (dead port): SOCKS5 connection refused")
def _(stack):
    pport = start_microsocks(stack)
    rc, _, _, sw = swcat_once(f"ws://127.0.0.1:{free_port()}/echo", "--proxy",
                              f"socks5://127.0.0.1:{pport}", stack=stack)
    expect_failure(sw, rc, "SOCKS5", "refused")


@case("proxy: a proxy that never answers CONNECT: --connect-timeout 500 ends it")
def _(stack):
    def mute(conn, facts):
        with contextlib.suppress(EOFError, OSError):
            while True:
                conn.read_exact(1)

    srv = RawServer(mute, stack)
    t0 = time.monotonic()
    rc, _, _, sw = swcat_once(f"ws://127.0.0.1:{free_port()}/echo", "--proxy",
                              f"http://127.0.0.1:{srv.port}",
                              "--connect-timeout", "500", stack=stack)
    took = time.monotonic() - t0
    expect_failure(sw, rc, "proxy")
    check(took < 3.0, f"a 500 ms connect timeout took {took:.1f} s")


# ===========================================================================================
# reconnect: the watchdog and the resubscribe hook
# ===========================================================================================

def start_pubsub(stack, port, log):
    p = LineProc([PYTHON, PUBSUB_SERVER, str(port), log], stack)
    p.wait_line("listening", timeout=10)
    return p


def read_log(path):
    with contextlib.suppress(FileNotFoundError):
        with open(path) as f:
            return f.read().split()
    return []


@case("reconnect: SIGKILLed server, restarted on its port: reconnected=1, resubscribed, "
      "publishes flow again", timeout=40)
def _(stack):
    for attempt in range(5):  # a free port can be taken before the server binds it
        port = free_port()
        log1, log2 = tmp_path(f"subs-{port}-1.log"), tmp_path(f"subs-{port}-2.log")
        try:
            server = start_pubsub(stack, port, log1)
            break
        except Failed:
            if attempt == 4:
                raise
    sw = Swcat(f"ws://127.0.0.1:{port}/", "--reconnect", "--reconnect-delay", "200",
               "--on-connect-send", "subscribe:news", "--keep-open", stack=stack)
    conn = sw.connected()
    check(conn["re"] == "0", f"the first connection says reconnected={conn['re']}")
    first = sw.recv(5, what="a first publish")
    check(first.startswith("published:news:"), f"expected a publish, got {first!r}")
    check(read_log(log1) == ["news"], f"the first server got subscriptions {read_log(log1)}")

    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait(5)
    idx, _ = sw.wait_event(r"^swcat: disconnected code=1006", 5)
    time.sleep(0.5)  # down for a while: at least one failed attempt
    start_pubsub(stack, port, log2)
    restarted = time.monotonic()
    idx2, m = sw.wait_event(r"^swcat: connected .*reconnected=1$", 10, start=idx)
    failed_meanwhile = [e for e in sw.events()[idx:idx2] if e.startswith("swcat: error:")]
    note(f"reconnected {(sw.event_time(idx2) - restarted) * 1000:.0f} ms after the restart, "
         f"{len(failed_meanwhile)} failed attempt(s) while down")
    deadline = time.monotonic() + 5
    while read_log(log2) != ["news"] and time.monotonic() < deadline:
        time.sleep(0.05)
    check(read_log(log2) == ["news"],
          f"the restarted server got subscriptions {read_log(log2)}, expected ['news'] "
          f"(--on-connect-send on reconnect)" + sw.describe())
    sw.drain()
    again = sw.recv(5, what="a publish after the reconnect")
    check(again.startswith("published:news:"), f"expected a publish, got {again!r}")
    finals = [e for e in sw.events() if "final=1" in e]
    check(not finals, f"the watchdog gave up: {finals}")
    check(sw.proc.poll() is None, "swcat exited although --reconnect is on")


@case("reconnect: --max-attempts 3 against a dead port ends with a final error and exit 1")
def _(stack):
    port = free_port()
    t0 = time.monotonic()
    sw = Swcat(f"ws://127.0.0.1:{port}/", "--reconnect", "--max-attempts", "3",
               "--reconnect-delay", "200", "--keep-open", stack=stack)
    rc = sw.wait(15)
    took = time.monotonic() - t0
    errors = [e for e in sw.events() if e.startswith("swcat: error:")]
    if rc != 1:
        sw.fail(f"expected exit 1, got {rc}")
    if len(errors) != 3:
        sw.fail(f"expected 3 error lines (3 attempts), got {len(errors)}")
    if "(final=1)" not in errors[-1] or any("final=1" in e for e in errors[:-1]):
        sw.fail("only the third error line should be final")
    check(took < 8, f"3 attempts with a 200 ms delay took {took:.1f} s")
    # Backoff: 200 ms, then 400 ms (each +-20%); the error lines are stamped as read.
    idx = [i for i, e in enumerate(sw.events()) if e.startswith("swcat: error:")]
    gaps = [sw.event_time(idx[i + 1]) - sw.event_time(idx[i]) for i in range(2)]
    note(f"gaps between attempts (as read): {gaps[0] * 1000:.0f} ms, {gaps[1] * 1000:.0f} ms; "
         f"{errors[-1]}")


@case("reconnect: the delay doubles: --reconnect-delay 300 --max-attempts 4 takes >= 1.68 s")
def _(stack):
    # Delays 300, 600, 1200 ms, each +-20%: at least 1.68 s in all (without doubling at most
    # 3 x 360 ms). Load only adds time, so the lower bound is safe.
    port = free_port()
    t0 = time.monotonic()
    sw = Swcat(f"ws://127.0.0.1:{port}/", "--reconnect", "--max-attempts", "4",
               "--reconnect-delay", "300", "--keep-open", stack=stack)
    rc = sw.wait(15)
    took = time.monotonic() - t0
    errors = [e for e in sw.events() if e.startswith("swcat: error:")]
    note(f"4 attempts took {took:.2f} s")
    if rc != 1 or len(errors) != 4:
        sw.fail(f"expected 4 error lines and exit 1, got {len(errors)} and {rc}")
    check(1.68 <= took <= 6.0, f"4 attempts took {took:.2f} s, expected 1.68-6 s (doubling delays)")


# ===========================================================================================
# heartbeat
# ===========================================================================================

@case("heartbeat: a server that never answers pings is dropped (1006) within ~2 s")
def _(stack):
    def silent(conn, facts):
        conn.read_request()
        conn.accept()
        facts["pings"] = 0
        facts["masked"] = True
        try:
            while True:
                f = conn.read_frame()
                if f.opcode == 0x9:
                    facts["pings"] += 1
                    facts["masked"] = facts["masked"] and f.masked
        except (EOFError, OSError):
            facts["eof"] = time.monotonic()

    srv = RawServer(silent, stack)
    sw = Swcat(srv.url(), "--heartbeat", "200", "--heartbeat-timeout", "600", "--keep-open",
               stack=stack)
    ci, _ = sw.wait_event(r"^swcat: connected ")
    di, _ = sw.wait_event(r"^swcat: disconnected code=1006", 4)
    took = sw.event_time(di) - sw.event_time(ci)
    check(took <= 2.0, f"disconnected {took:.2f} s after connecting, expected within ~2 s")
    rc = sw.wait(5)
    check(rc == 1, f"expected exit 1 after an abnormal end, got {rc}")
    srv.done.wait(3)
    check(srv.facts.get("pings", 0) >= 1, f"the server received {srv.facts.get('pings')} pings")
    note(f"disconnected {took * 1000:.0f} ms after connecting; {srv.facts['pings']} pings "
         "unanswered")
    check(srv.facts.get("masked"), "a ping from the client was not masked")


@case("heartbeat: a normal server (answers pings) keeps the connection for 2.5 s")
def _(stack):
    port = py_serve(stack)
    sw = Swcat(f"ws://127.0.0.1:{port}/echo", "--heartbeat", "200", "--heartbeat-timeout", "600",
               "--keep-open", "--count", "2", stack=stack)
    sw.connected()
    time.sleep(2.5)
    gone = [e for e in sw.events() if e.startswith(("swcat: disconnected", "swcat: error"))]
    if gone:
        sw.fail(f"the connection ended although the server answers pings: {gone}")
    info = sw.info()
    check(info["pings"] >= 5, f"the server received only {info['pings']} pings in 2.5 s")
    note(f"{info['pings']} pings answered in 2.5 s")
    one_echo(sw, "still here")
    finish_clean(sw)


@case("heartbeat: the server's own keepalive pings (every 200 ms, 1 s timeout) are answered")
def _(stack):
    port = py_serve(stack, ping_interval=0.2, ping_timeout=1.0)
    sw = Swcat(f"ws://127.0.0.1:{port}/echo", "--keep-open", "--count", "1", stack=stack)
    sw.connected()
    time.sleep(2.0)  # without pongs python3-websockets closes 1011 after 1.2 s
    gone = [e for e in sw.events() if e.startswith(("swcat: disconnected", "swcat: error"))]
    if gone:
        sw.fail(f"the server dropped the connection (pongs missing?): {gone}")
    one_echo(sw, "pongs were sent")
    finish_clean(sw)


# ===========================================================================================
# frames: fragments sent and received, limits on received messages
# ===========================================================================================

def close_handshake(conn, facts, key="close"):
    """Reads frames up to the client's close, records it, answers it."""
    while True:
        f = conn.read_frame()
        if f.opcode == 0x8:
            facts[key] = struct.unpack("!H", f.payload[:2])[0] if len(f.payload) >= 2 else None
            facts[key + "_masked"] = f.masked
            conn.answer_close(f)
            return


@case("frames: --fragment 3 sends a 10-byte message as masked frames of 3, 3, 3, 1")
def _(stack):
    def recorder(conn, facts):
        conn.read_request()
        conn.accept()
        frames = []
        while True:
            f = conn.read_frame()
            frames.append(f)
            if f.opcode in (0x1, 0x2, 0x0) and f.fin:
                break
        facts["frames"] = frames
        conn.send(server_frame(0x1, b"got it"))
        close_handshake(conn, facts)

    srv = RawServer(recorder, stack)
    sw = Swcat(srv.url(), "--fragment", "3", "--keep-open", "--count", "1", stack=stack)
    sw.connected()
    sw.send("abcdefghij")
    check(sw.recv(what="the server's answer") == "got it", "unexpected answer")
    finish_clean(sw)
    srv.done.wait(3)
    frames = srv.facts.get("frames")
    check(frames is not None, f"the server got no complete message: {srv.facts['errors']}")
    shape = [(int(f.fin), f.opcode, f.payload.decode("latin-1")) for f in frames]
    expected = [(0, 1, "abc"), (0, 0, "def"), (0, 0, "ghi"), (1, 0, "j")]
    check(shape == expected, f"frames (fin, opcode, payload): got {shape}, expected {expected}")
    check(all(f.masked for f in frames), f"not every frame was masked: {frames}")
    check(srv.facts.get("close") == 1000 and srv.facts.get("close_masked"),
          f"expected a masked close 1000, got {srv.facts.get('close')}")


@case("frames: --report-fragments reports received fragments; a ping between them is answered")
def _(stack):
    def fragmenter(conn, facts):
        conn.read_request()
        conn.accept()
        conn.send(server_frame(0x1, b"hel", fin=False))
        conn.send(server_frame(0x9, b"mid-ping"))
        conn.send(server_frame(0x0, b"lo ", fin=False))
        conn.send(server_frame(0x0, b"world", fin=True))
        f = conn.read_frame()
        facts["pong"] = f
        close_handshake(conn, facts)

    srv = RawServer(fragmenter, stack)
    sw = Swcat(srv.url(), "--report-fragments", "--keep-open", "--count", "1", stack=stack)
    sw.connected()
    msg = sw.recv(what="the reassembled message")
    check(msg == "hello world", f"expected 'hello world', got {msg!r}")
    finish_clean(sw)
    frags = [e for e in sw.events() if e.startswith("swcat: fragment ")]
    # client.hpp: on_fragment for each non-final frame of a fragmented message.
    check(frags == ["swcat: fragment 3 bytes", "swcat: fragment 3 bytes"],
          f"expected two fragment events of 3 bytes (the non-final frames), got {frags}"
          + sw.describe())
    srv.done.wait(3)
    pong = srv.facts.get("pong")
    check(pong is not None and pong.opcode == 0xA and pong.payload == b"mid-ping" and pong.masked,
          f"expected a masked pong 'mid-ping' after the ping, got {pong!r} {srv.facts['errors']}")


_BOMB = None


def deflate_bomb():
    """64 MiB of zeros as one permessage-deflate payload (raw deflate, no trailing 00 00 ff ff,
    RFC 7692 section 7.2.1): about 64 KiB."""
    global _BOMB
    if _BOMB is None:
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        chunk = bytes(MIB)
        data = b"".join(c.compress(chunk) for _ in range(64)) + c.flush(zlib.Z_SYNC_FLUSH)
        assert data.endswith(b"\x00\x00\xff\xff")
        _BOMB = data[:-4]
    return _BOMB


@case("frames: a deflate bomb (64 KiB inflating to 64 MiB) is closed with 1009")
def _(stack):
    bomb = deflate_bomb()

    def bomber(conn, facts):
        _, headers = conn.read_request()
        facts["offer"] = headers.get("sec-websocket-extensions", "")
        conn.accept(extensions="permessage-deflate")
        conn.send(server_frame(0x2, bomb, rsv1=True))
        close_handshake(conn, facts)

    srv = RawServer(bomber, stack)
    sw = Swcat(srv.url(), "--deflate", "--keep-open", stack=stack)
    conn = sw.connected()
    check(conn["ext"] == "permessage-deflate", f"negotiated {conn['ext']!r}")
    sw.wait_event(r"^swcat: disconnected code=1009", 10)
    rc = sw.wait(10)
    check(rc == 1, f"expected exit 1, got {rc}")
    srv.done.wait(3)
    check(srv.facts.get("close") == 1009,
          f"the client's close frame carried {srv.facts.get('close')}, expected 1009 "
          f"{srv.facts['errors']}")
    out = sw.drain()
    check(not out, f"swcat printed {len(out)} lines of the bomb")


@case("frames: a frame header announcing 17 MiB (over the 16 MiB limit) is closed with 1009")
def _(stack):
    def big(conn, facts):
        conn.read_request()
        conn.accept()
        conn.send(server_frame(0x2, bytes(65536), length=17 * MIB))
        close_handshake(conn, facts)

    srv = RawServer(big, stack)
    sw = Swcat(srv.url(), "--keep-open", stack=stack)
    sw.connected()
    sw.wait_event(r"^swcat: disconnected code=1009", 10)
    check(sw.wait(10) == 1, "expected exit 1")
    srv.done.wait(3)
    check(srv.facts.get("close") == 1009,
          f"the client's close frame carried {srv.facts.get('close')}, expected 1009 "
          f"{srv.facts['errors']}")


@case("frames: --binary sends binary messages (the server echoes `?info` instead of answering)")
def _(stack):
    port = py_serve(stack)
    sw = Swcat(f"ws://127.0.0.1:{port}/echo", "--binary", "--keep-open", "--count", "2",
               stack=stack)
    sw.connected()
    one_echo(sw, "?info")  # as text it would get a JSON answer
    one_echo(sw, text_of(65536, 5))
    finish_clean(sw)


def peer_fragments_case(peer, deflate):
    def body(stack):
        if peer == "python":
            exts = [ServerPerMessageDeflateFactory()] if deflate else []
            port = py_serve(stack, extensions=exts)
        else:
            port = node_serve(stack, deflate={"threshold": 0} if deflate else None)
        args = ["--report-fragments", "--keep-open", "--count", "1"]
        if deflate:
            args.append("--deflate")
        sw = Swcat(f"ws://127.0.0.1:{port}/echo", *args, stack=stack)
        conn = sw.connected()
        check(bool(conn["ext"]) == deflate, f"negotiated extensions={conn['ext']!r}")
        sw.send("?frag")
        got = sw.recv(what="the fragmented message")
        whole = "".join(FRAG_PARTS)
        check(got == whole, f"expected the {len(whole)}-byte message reassembled, got "
                            f"{len(got)} bytes: {got[:40]!r}...")
        finish_clean(sw)
        frags = [e for e in sw.events() if e.startswith("swcat: fragment ")]
        if deflate:
            # client.hpp: fragments of a compressed message are not reported one by one.
            note(f"fragment events: {frags}")
        else:
            # python3-websockets 10.4 sends every part with FIN=0 and ends with an empty FIN=1
            # continuation; node ws sets FIN on the last part.
            nonfinal = FRAG_PARTS if peer == "python" else FRAG_PARTS[:-1]
            want = [f"swcat: fragment {len(p)} bytes" for p in nonfinal]
            check(frags == want, f"expected fragment events {want}, got {frags}")

    what = ("compressed (deflate), reassembled" if deflate
            else "fragment events for non-final frames")
    case(f"frames: {peer} sends a message in three frames: {what}")(body)


for _peer in ("python", "node"):
    peer_fragments_case(_peer, False)
    peer_fragments_case(_peer, True)


@case("frames: a 101 with `Upgrade: WebSocket`, `Connection: keep-alive, Upgrade` and the "
      "first message in the same segment")
def _(stack):
    def eager(conn, facts):
        conn.read_request()
        conn.accept(upgrade="WebSocket", connection="keep-alive, Upgrade",
                    then=server_frame(0x1, b"first") + server_frame(0x1, b"second"))
        close_handshake(conn, facts)

    srv = RawServer(eager, stack)
    sw = Swcat(srv.url(), "--keep-open", "--count", "2", stack=stack)
    sw.connected()
    got = [sw.recv(what="the first message"), sw.recv(what="the second message")]
    check(got == ["first", "second"], f"expected ['first', 'second'], got {got}")
    finish_clean(sw)


@case("frames: a close 1000 from the server is answered (masked, same code); exit 0")
def _(stack):
    def closer(conn, facts):
        conn.read_request()
        conn.accept()
        conn.send(server_frame(0x8, struct.pack("!H", 1000) + b"server done"))
        f = conn.read_frame()
        facts["answer"] = f

    srv = RawServer(closer, stack)
    sw = Swcat(srv.url(), "--keep-open", stack=stack)
    sw.connected()
    sw.wait_event(r"^swcat: disconnected code=1000 reason=server done$")
    check(sw.wait(10) == 0, "a close 1000 from the server should give exit 0")
    srv.done.wait(3)
    f = srv.facts.get("answer")
    check(f is not None and f.opcode == 0x8 and f.masked and f.payload[:2] == b"\x03\xe8",
          f"expected a masked close 1000 in answer, got {f!r} {srv.facts['errors']}")


@case("frames: the server dropping TCP without a close frame gives 1006 and exit 1")
def _(stack):
    def dropper(conn, facts):
        conn.read_request()
        conn.accept(then=server_frame(0x1, b"bye"))
        time.sleep(0.2)

    srv = RawServer(dropper, stack)
    sw = Swcat(srv.url(), "--keep-open", stack=stack)
    sw.connected()
    check(sw.recv() == "bye", "the message before the drop is lost")
    sw.wait_event(r"^swcat: disconnected code=1006")
    check(sw.wait(10) == 1, "expected exit 1")


@case("frames: a server that never answers our close: 1006 within the 3 s close timeout")
def _(stack):
    def deaf(conn, facts):
        conn.read_request()
        conn.accept(then=server_frame(0x1, b"one"))
        with contextlib.suppress(EOFError, OSError):
            while True:
                f = conn.read_frame()
                if f.opcode == 0x8:
                    facts["close_at"] = time.monotonic()

    srv = RawServer(deaf, stack, conn_timeout=8)
    sw = Swcat(srv.url(), "--keep-open", "--count", "1", stack=stack)
    sw.connected()
    sw.recv()
    t0 = time.monotonic()
    rc = sw.wait(8)
    took = time.monotonic() - t0
    ev = [e for e in sw.events() if e.startswith("swcat: disconnected")]
    note(f"ended {took:.1f} s after the close was sent: {ev}, exit {rc}")
    check(took <= 6.0, f"swcat took {took:.1f} s to give up on the close handshake (3 s timeout)")
    # No close frame was received: RFC 6455 section 7.1.5 makes that 1006, not our own code.
    check(ev and ev[0].startswith("swcat: disconnected code=1006"), f"expected 1006, got {ev}")
    check(rc == 1, f"expected exit 1 after an unanswered close, got {rc}")


def protocol_error_case(name, frame, code):
    """A raw server sends one bad frame; the client must close with `code` (RFC 6455 5.1, 5.2,
    8.1) and report it."""
    def body(stack):
        def bad(conn, facts):
            conn.read_request()
            conn.accept()
            conn.send(frame)
            close_handshake(conn, facts)

        srv = RawServer(bad, stack)
        sw = Swcat(srv.url(), "--keep-open", stack=stack)
        sw.connected()
        sw.wait_event(rf"^swcat: disconnected code={code}\b", 10)
        check(sw.wait(10) == 1, "expected exit 1")
        srv.done.wait(3)
        check(srv.facts.get("close") == code,
              f"the client's close frame carried {srv.facts.get('close')}, expected {code} "
              f"{srv.facts['errors']}")
        check(not sw.drain(), "swcat printed the bad message")

    case(f"frames: {name} is closed with {code}")(body)


def _masked_server_frame(payload, key=b"\x11\x22\x33\x44"):
    return bytes([0x81, 0x80 | len(payload)]) + key + unmask(payload, key)


protocol_error_case("a masked frame from the server", _masked_server_frame(b"masked"), 1002)
protocol_error_case("RSV1 without a negotiated extension", server_frame(0x1, b"x", rsv1=True),
                    1002)
protocol_error_case("invalid UTF-8 in a text message", server_frame(0x1, b"ok \xff\xfe"), 1007)


if __name__ == "__main__":
    code = 1
    try:
        code = run(sys.argv)
    finally:
        stop_all()
        remove_tmp()
        sys.stdout.flush()
        os._exit(code)  # daemon threads may still sit in blocking reads
