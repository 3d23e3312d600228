"""Plain TCP on the WebSocket port (issue 3, the manual's "TCP connections"): with --plain-tcp
ROUTE a client whose first bytes are not an HTTP request line is served by that route as a
stream of terminator-framed messages, while HTTP and WebSocket clients keep working on the
same port. Covers: echo with messages split across and packed into reads, a custom
multi-byte terminator, the empty terminator (every read is a message), STOMP's "CONNECT\\n"
(an HTTP method without its space is not HTTP), a broadcast reaching WebSocket and plain TCP
clients alike, plain TCP over TLS, a message past --max-message-size without a terminator
closing the connection, the TOML [plain_tcp] section, and plain TCP off by default.
"""
import asyncio
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time

import websockets

import dtest
import sbtest


def tcp(port, source="127.0.0.1"):
    s = socket.socket()
    s.settimeout(5)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


def recv_until(s, want, timeout=5.0):
    """Reads until `want` bytes arrived or the peer closed; returns what arrived."""
    data = b""
    deadline = time.monotonic() + timeout
    while len(data) < want and time.monotonic() < deadline:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        data += chunk
    return data


class PlainTcpTest(dtest.BoundedTestCase):
    def test_echo_with_split_and_packed_messages(self):
        with sbtest.Daemon(["--plain-tcp", "/echo"]) as d:
            s = tcp(d.port)
            s.sendall(b"hel")
            time.sleep(0.1)
            s.sendall(b"lo\nwor")
            time.sleep(0.1)
            s.sendall(b"ld\n\nthree\n")
            self.assertEqual(recv_until(s, 19), b"hello\nworld\n\nthree\n")
            s.close()

    def test_multi_byte_terminator_and_stomp_connect(self):
        # STOMP frames end with NUL LF; its first frame is "CONNECT\n": not an HTTP request.
        with sbtest.Daemon(["--plain-tcp", "/echo", "--plain-tcp-terminator", "\\0\\n"]) as d:
            s = tcp(d.port)
            frame = b"CONNECT\naccept-version:1.2\nhost:x\n\n\x00\n"
            s.sendall(frame[:5])
            time.sleep(0.1)
            s.sendall(frame[5:] + b"SEND\n\nbody\x00")
            time.sleep(0.1)
            s.sendall(b"\n")
            self.assertEqual(recv_until(s, len(frame) + 12), frame + b"SEND\n\nbody\x00\n")
            s.close()

    def test_empty_terminator_makes_each_read_a_message(self):
        with sbtest.Daemon(["--plain-tcp", "/echo", "--plain-tcp-terminator", ""]) as d:
            s = tcp(d.port)
            s.sendall(b"\x01\x02binary")
            self.assertEqual(recv_until(s, 8), b"\x01\x02binary")
            s.close()

    def test_http_and_websocket_still_served_on_the_same_port(self):
        with sbtest.Daemon(["--plain-tcp", "/echo"]) as d:
            response = dtest.http(d.port, "GET", "/metrics")
            self.assertEqual(response.status, 200)
            self.assertIn(b"switchboard_connections_accepted_total", response.body)

            async def echo():
                async with websockets.connect(d.url("/echo")) as ws:
                    await ws.send("over websocket")
                    return await ws.recv()

            self.assertEqual(asyncio.run(echo()), "over websocket")

    def test_broadcast_reaches_websocket_and_plain_tcp_clients(self):
        with sbtest.Daemon(["--plain-tcp", "/broadcast"]) as d:
            listener = tcp(d.port)

            async def publish():
                async with websockets.connect(d.url("/broadcast")) as ws:
                    listener.sendall(b"hi from tcp\n")  # first bytes: a plain TCP client
                    got_tcp = await ws.recv()  # the plain TCP client's message, broadcast
                    await ws.send("from websocket")
                    got_own = await ws.recv()
                    return got_tcp, got_own

            got_tcp, got_own = asyncio.run(publish())
            self.assertEqual(got_tcp, b"hi from tcp")  # plain TCP messages arrive as binary
            self.assertEqual(got_own, "from websocket")
            data = recv_until(listener, len(b"hi from tcp\nfrom websocket\n"))
            self.assertEqual(data, b"hi from tcp\nfrom websocket\n")
            listener.close()

    def test_plain_tcp_over_tls(self):
        tmp = tempfile.mkdtemp()
        try:
            cert, key = os.path.join(tmp, "c.pem"), os.path.join(tmp, "k.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                            "-days", "1", "-subj", "/CN=127.0.0.1", "-addext",
                            "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
            port = sbtest.free_port()
            with sbtest.Daemon(["--listen", f"127.0.0.1:{port}", "--tls-cert", cert,
                                "--tls-key", key, "--plain-tcp", "/echo"]):
                ctx = ssl.create_default_context(cafile=cert)
                with ctx.wrap_socket(tcp(port), server_hostname="127.0.0.1") as s:
                    s.sendall(b"secret line\n")
                    self.assertEqual(recv_until(s, 12), b"secret line\n")
        finally:
            shutil.rmtree(tmp)

    def test_message_past_the_limit_without_terminator_closes(self):
        with sbtest.Daemon(["--plain-tcp", "/echo", "--max-message-size", "1000"]) as d:
            s = tcp(d.port)
            s.sendall(b"x" * 999 + b"\n")
            self.assertEqual(recv_until(s, 1000), b"x" * 999 + b"\n")
            try:
                s.sendall(b"y" * 5000)
            except OSError:
                pass
            self.assertEqual(recv_until(s, 1), b"")  # closed, nothing echoed
            s.close()
            self.assertGreaterEqual(dtest.status_json(d.port)["protocol_errors_total"], 1)

    def test_toml_section(self):
        tmp = tempfile.mkdtemp()
        try:
            path = os.path.join(tmp, "sb.toml")
            with open(path, "w") as f:
                f.write('[plain_tcp]\nroute = "/echo"\nterminator = "\\r\\n"\n')
            with sbtest.Daemon(["--config", path]) as d:
                s = tcp(d.port)
                s.sendall(b"a\r\nb\nc\r\n")
                self.assertEqual(recv_until(s, 9), b"a\r\nb\nc\r\n")
                s.close()
        finally:
            shutil.rmtree(tmp)

    def test_off_by_default(self):
        with sbtest.Daemon([]) as d:
            s = tcp(d.port)
            s.sendall(b"hello\n\r\n\r\n")
            reply = recv_until(s, 12)
            self.assertTrue(reply.startswith(b"HTTP/1.1 400"), reply)
            s.close()

    def test_route_must_be_a_path(self):
        proc = subprocess.run([sbtest.daemon_path(), "--listen", f"127.0.0.1:{sbtest.free_port()}",
                               "--plain-tcp", "echo"], capture_output=True, timeout=10)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn(b"plain_tcp route must be a path", proc.stderr)


if __name__ == "__main__":
    dtest.main()
