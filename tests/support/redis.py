"""A real redis-server for a test: on a free loopback port below 32768, in a temporary
directory of its own, stopped (and the directory removed) on exit. Use as a context manager.

    with RedisServer() as redis:             # answers PING when this returns
        daemon_args = ["--cluster", redis.url]
        redis.kill()                         # SIGKILL: an outage
        redis.restart()                      # same port and directory

append_only=True logs every write with fsync (appendfsync always), so a kill and restart loses
nothing Redis acknowledged; without it a restart comes back empty.
"""
import os
import shutil
import socket
import subprocess
import tempfile
import time

import sbtest


class RedisServer:
    def __init__(self, append_only=False):
        self.append_only = append_only
        self.port = sbtest.free_port()
        self.url = f"redis://127.0.0.1:{self.port}"
        self.dir = None
        self.proc = None

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="sb-redis-")
        self.start()
        return self

    def __exit__(self, *exc):
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    def start(self):
        args = ["/usr/bin/redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", self.dir, "--save", "", "--daemonize", "no",
                "--logfile", os.path.join(self.dir, "redis.log"),
                "--appendonly", "yes" if self.append_only else "no"]
        if self.append_only:
            args += ["--appendfsync", "always"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not self.ping():
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited at start (log in {self.dir})")
            if time.monotonic() > deadline:
                raise TimeoutError(f"redis-server on {self.port}: no PONG within 10 s")
            time.sleep(0.02)

    def ping(self):
        return self.command("PING") == "+PONG"

    def command(self, *words):
        """One inline command; the first reply line (e.g. "+PONG", ":3"), or None."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall((" ".join(words) + "\r\n").encode())
                return s.recv(4096).split(b"\r\n")[0].decode(errors="replace")
        except OSError:
            return None

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self):
        self.kill()
        self.start()
