"""TLS on the daemon's bindings (issue 3, server side): wss:// with python3-websockets, HTTPS,
ALPN, minimum version, client-certificate verification, bad certificate configuration, and a
plain and a TLS binding served by one process.

Certificates are made per run with the openssl command line (EC P-256, valid for 127.0.0.1).
"""
import asyncio
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import urllib.request

import dtest
import sbtest
import websockets

CERTS = tempfile.mkdtemp(prefix="sb-tls-test-")


def make_cert(name, issuer=None, ca=False):
    """A PEM key and certificate for 127.0.0.1, self-signed or signed by `issuer`."""
    key, cert = os.path.join(CERTS, name + ".key"), os.path.join(CERTS, name + ".pem")
    subj = "/CN=" + name
    if issuer is None:
        ext = ["-addext", "basicConstraints=critical,CA:TRUE"] if ca else \
              ["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"]
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "2", "-subj", subj] + ext, check=True, capture_output=True)
    else:
        csr = os.path.join(CERTS, name + ".csr")
        subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", csr,
                        "-subj", subj], check=True, capture_output=True)
        subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", issuer[1], "-CAkey",
                        issuer[0], "-CAcreateserial", "-out", cert, "-days", "2"],
                       check=True, capture_output=True)
    return key, cert


SERVER_KEY, SERVER_CERT = make_cert("server")
CA_KEY, CA_CERT = make_cert("test-ca", ca=True)
CLIENT_KEY, CLIENT_CERT = make_cert("client", issuer=(CA_KEY, CA_CERT))
OTHER_CA_KEY, OTHER_CA_CERT = make_cert("other-ca", ca=True)
STRANGER_KEY, STRANGER_CERT = make_cert("stranger", issuer=(OTHER_CA_KEY, OTHER_CA_CERT))


def tls_flags(*extra):
    return ["--tls-cert", SERVER_CERT, "--tls-key", SERVER_KEY] + list(extra)


def client_context(cert=None, key=None):
    ctx = ssl.create_default_context(cafile=SERVER_CERT)
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx


async def echo_round_trip(url, ctx, payloads):
    async with websockets.connect(url, ssl=ctx, max_size=None) as ws:
        for p in payloads:
            await ws.send(p)
            assert await ws.recv() == p
        return ws.transport.get_extra_info("ssl_object")


class TlsTest(dtest.BoundedTestCase):
    def test_wss_echo_with_python_websockets(self):
        with sbtest.Daemon(tls_flags()) as d:
            payloads = ["hello", "é" * 50000, os.urandom(3 << 20), b""]
            so = asyncio.run(echo_round_trip(d.url("/echo", "wss"), client_context(), payloads))
            self.assertIn(so.version(), ("TLSv1.2", "TLSv1.3"))

    def test_alpn_http11_is_selected(self):
        with sbtest.Daemon(tls_flags()) as d:
            ctx = client_context()
            ctx.set_alpn_protocols(["h2", "http/1.1"])
            with socket.create_connection((d.host, d.port)) as raw:
                with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                    self.assertEqual(s.selected_alpn_protocol(), "http/1.1")

    def test_https_static_and_status(self):
        root = tempfile.mkdtemp(prefix="sb-tls-root-")
        with open(os.path.join(root, "hello.txt"), "w") as f:
            f.write("over TLS\n")
        with sbtest.Daemon(tls_flags("--document-root", root)) as d:
            ctx = client_context()
            body = urllib.request.urlopen(f"https://127.0.0.1:{d.port}/hello.txt", context=ctx).read()
            self.assertEqual(body, b"over TLS\n")
            status = urllib.request.urlopen(f"https://127.0.0.1:{d.port}/status.json", context=ctx)
            self.assertEqual(status.status, 200)
        shutil.rmtree(root)

    def test_plain_and_tls_bindings_in_one_process(self):
        plain_port = sbtest.free_port()
        with sbtest.Daemon(tls_flags("--listen", f"127.0.0.1:{plain_port}")) as d:
            asyncio.run(echo_round_trip(d.url("/echo", "wss"), client_context(), ["secure"]))

            async def plain():
                async with websockets.connect(f"ws://127.0.0.1:{plain_port}/echo") as ws:
                    await ws.send("plain")
                    return await ws.recv()
            self.assertEqual(asyncio.run(plain()), "plain")

    def test_min_version_13_refuses_a_12_client(self):
        with sbtest.Daemon(tls_flags("--tls-min-version", "1.3")) as d:
            ctx = client_context()
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            with self.assertRaises(ssl.SSLError):
                with socket.create_connection((d.host, d.port), timeout=5) as raw:
                    ctx.wrap_socket(raw, server_hostname="127.0.0.1")
            ctx13 = client_context()
            so = asyncio.run(echo_round_trip(d.url("/echo", "wss"), ctx13, ["ok"]))
            self.assertEqual(so.version(), "TLSv1.3")

    def test_default_min_version_refuses_tls11(self):
        with sbtest.Daemon(tls_flags()) as d:
            ctx = client_context()
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.maximum_version = ssl.TLSVersion.TLSv1_1
            with self.assertRaises((ssl.SSLError, ConnectionResetError)):
                with socket.create_connection((d.host, d.port), timeout=5) as raw:
                    ctx.wrap_socket(raw, server_hostname="127.0.0.1")

    def test_client_certificate_verification(self):
        with sbtest.Daemon(tls_flags("--tls-ca", CA_CERT, "--tls-verify-client")) as d:
            url = d.url("/echo", "wss")
            # Signed by the configured CA: accepted.
            asyncio.run(echo_round_trip(url, client_context(CLIENT_CERT, CLIENT_KEY), ["mutual"]))
            # No certificate, or one from another CA: the handshake fails.
            for ctx in (client_context(), client_context(STRANGER_CERT, STRANGER_KEY)):
                with self.assertRaises((ssl.SSLError, websockets.exceptions.InvalidMessage,
                                        ConnectionResetError, EOFError)):
                    asyncio.run(echo_round_trip(url, ctx, ["refused"]))

    def test_garbage_instead_of_a_client_hello_is_dropped(self):
        with sbtest.Daemon(tls_flags()) as d:
            with socket.create_connection((d.host, d.port), timeout=5) as s:
                s.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")  # plain HTTP to a TLS port
                s.settimeout(5)
                data = b""
                try:
                    while True:
                        chunk = s.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                except ConnectionResetError:
                    pass
                self.assertNotIn(b"HTTP/1.1", data)  # at most a TLS alert, never plaintext
            # And the daemon still serves TLS clients afterwards.
            asyncio.run(echo_round_trip(d.url("/echo", "wss"), client_context(), ["still up"]))

    def test_bad_certificate_configuration_stops_the_daemon(self):
        port = sbtest.free_port()
        cases = [
            (["--tls-cert", "/nonexistent.pem"], "cannot load certificate"),
            (["--tls-cert", SERVER_CERT, "--tls-key", CLIENT_KEY], "mismatch"),
            (tls_flags("--tls-min-version", "1.1"), "min_version"),
            (tls_flags("--tls-verify-client"), "CA file"),
        ]
        for flags, expected in cases:
            p = subprocess.run([sbtest.daemon_path(), "--listen", f"127.0.0.1:{port}"] + flags,
                               capture_output=True, text=True, timeout=10)
            self.assertEqual(p.returncode, 1, (flags, p.stderr))
            self.assertIn(expected, p.stderr, flags)
        p = subprocess.run([sbtest.daemon_path(), "--tls-cert", SERVER_CERT],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(p.returncode, 2)
        self.assertIn("must follow the --listen", p.stderr)


if __name__ == "__main__":
    try:
        dtest.main()
    finally:
        shutil.rmtree(CERTS, ignore_errors=True)
