"""Authentication at the WebSocket handshake (issue 3): the manual's schemes end to end with
python3-websockets and raw HTTP: Basic, the URL form, the session form (token request, then
connect; single use), Bearer JWT (HS256 signed here with the standard library), and the
refusals: 401 with a Basic challenge, wrong password, expired or forged token, reused session
token. Plain HTTP stays open (authentication guards WebSocket upgrades).
"""
import asyncio
import base64
import hashlib
import hmac
import json
import os
import tempfile
import time
import urllib.error
import urllib.request

import dtest
import sbtest
import websockets

SECRET = "correct horse battery staple, 32+ bytes long"


def users_file():
    f = tempfile.NamedTemporaryFile("w", suffix=".users", delete=False)
    f.write("# test users\nalice=wonderland\nbob=builder\n")
    f.close()
    return f.name


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256(claims, secret=SECRET):
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims).encode())
    sig = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(sig)}"


async def echo(url, headers=None):
    async with websockets.connect(url, extra_headers=headers or {}) as ws:
        await ws.send("authenticated")
        return await ws.recv()


def refused_status(url, headers=None):
    try:
        asyncio.run(echo(url, headers))
    except websockets.exceptions.InvalidStatusCode as e:
        return e.status_code, e.headers
    raise AssertionError("the upgrade was accepted")


class AuthTest(dtest.BoundedTestCase):
    def setUp(self):
        super().setUp()
        self.users = users_file()

    def tearDown(self):
        os.unlink(self.users)
        super().tearDown()

    def test_basic(self):
        with sbtest.Daemon(["--auth-users", self.users]) as d:
            good = {"Authorization": "Basic " + base64.b64encode(b"alice:wonderland").decode()}
            self.assertEqual(asyncio.run(echo(d.url("/echo"), good)), "authenticated")
            status, headers = refused_status(d.url("/echo"))
            self.assertEqual(status, 401)
            self.assertIn("Basic", headers.get("WWW-Authenticate", ""))
            bad = {"Authorization": "Basic " + base64.b64encode(b"alice:queen").decode()}
            self.assertEqual(refused_status(d.url("/echo"), bad)[0], 401)
            garbage = {"Authorization": "Basic !!!notbase64"}
            self.assertEqual(refused_status(d.url("/echo"), garbage)[0], 401)

    def test_url_form_routes_what_follows_the_credentials(self):
        with sbtest.Daemon(["--auth-users", self.users]) as d:
            url = d.url("/sgc/auth/url/bob/builder/echo")
            self.assertEqual(asyncio.run(echo(url)), "authenticated")
            self.assertEqual(refused_status(d.url("/sgc/auth/url/bob/wrong/echo"))[0], 401)

    def test_session_form_single_use_token(self):
        with sbtest.Daemon(["--auth-users", self.users]) as d:
            base = f"http://127.0.0.1:{d.port}"
            token = urllib.request.urlopen(base + "/sgc/req/auth/session/alice/wonderland").read()
            token = token.decode().strip()
            self.assertGreater(len(token), 20)
            url = d.url(f"/sgc/auth/session/{token}/echo")
            self.assertEqual(asyncio.run(echo(url)), "authenticated")
            self.assertEqual(refused_status(url)[0], 401)  # single use
            with self.assertRaises(urllib.error.HTTPError) as e:
                urllib.request.urlopen(base + "/sgc/req/auth/session/alice/nope")
            self.assertEqual(e.exception.code, 401)

    def test_bearer_jwt_hs256(self):
        with sbtest.Daemon(["--jwt-secret", SECRET]) as d:
            now = int(time.time())
            good = hs256({"sub": "carol", "exp": now + 300})
            headers = {"Authorization": "Bearer " + good}
            self.assertEqual(asyncio.run(echo(d.url("/echo"), headers)), "authenticated")
            for token in (hs256({"sub": "carol", "exp": now - 3600}),          # expired
                          hs256({"sub": "carol", "exp": now + 300}, "x" * 40),  # forged
                          hs256({"sub": "carol", "nbf": now + 3600, "exp": now + 7200}),
                          good[:-4] + "AAAA"):                                  # bad signature
                self.assertEqual(
                    refused_status(d.url("/echo"), {"Authorization": "Bearer " + token})[0], 401)

    def test_plain_http_stays_open_and_config_errors_stop_the_daemon(self):
        with sbtest.Daemon(["--auth-users", self.users]) as d:
            self.assertEqual(dtest.status_json(d.port)["websockets_open"], 0)
        import subprocess
        port = sbtest.free_port()
        for flags, expected in ((["--auth-users", "/nonexistent"], "nonexistent"),
                                (["--jwt-secret", "short"], "32")):
            p = subprocess.run([sbtest.daemon_path(), "--listen", f"127.0.0.1:{port}"] + flags,
                               capture_output=True, text=True, timeout=10)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn(expected, p.stderr)


if __name__ == "__main__":
    dtest.main()
