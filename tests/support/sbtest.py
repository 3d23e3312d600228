"""Shared helpers for Switchboard's Python test suites (conformance, interop).

Starts a real daemon on a free loopback port below 32768 and stops it, so every test talks to
the real server over a real socket. Run with Debian's /usr/bin/python3 (it sees python3-websockets).

The daemon binary comes from $SWITCHBOARD_BIN (CTest sets it), else build/bin/switchboard.
"""
import os
import random
import socket
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def daemon_path():
    return os.environ.get("SWITCHBOARD_BIN", os.path.join(ROOT, "build", "bin", "switchboard"))


def free_port(host="127.0.0.1"):
    """A port in 20000-32000 that nothing listens on now (ephemeral ports start above)."""
    for _ in range(200):
        port = random.randint(20000, 32000)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
                return port
            except OSError:
                continue
    raise RuntimeError("no free port found in 20000-32000")


def wait_for_port(host, port, timeout=10.0, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"daemon exited early with code {proc.returncode}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


class Daemon:
    """A switchboard process on 127.0.0.1:<port>. Use as a context manager.

    Extra command-line flags go in `args`. `port` is chosen for you; `url(path)` builds
    ws://127.0.0.1:<port><path>.
    """

    def __init__(self, args=(), host="127.0.0.1", env=None, preexec=None):
        self.host = host
        self.args = list(args)
        self.env = env
        self.preexec = preexec  # runs in the child before exec (e.g. to lower a limit)
        self.proc = None
        self.port = None

    def start(self):
        for attempt in range(5):
            self.port = free_port(self.host)
            cmd = [daemon_path(), "--listen", f"{self.host}:{self.port}", "--log-level", "warn"]
            cmd += self.args
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, env=self.env,
                                         preexec_fn=self.preexec)
            try:
                wait_for_port(self.host, self.port, proc=self.proc)
                return self
            except RuntimeError:
                if attempt == 4:
                    raise  # exited early 5 times: not a port race
        return self

    def stop(self, timeout=10.0):
        """SIGTERM, then wait; returns the exit code (SIGKILL after `timeout`)."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.terminate()
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def url(self, path="/echo", scheme="ws"):
        return f"{scheme}://{self.host}:{self.port}{path}"

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
