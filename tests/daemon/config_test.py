#!/usr/bin/python3
"""Configuration of the switchboard daemon: a TOML file (--config) and command-line flags, their
precedence, the errors they are refused with (exit codes and messages), and several --listen
bindings at once.

Run all:   /usr/bin/python3 tests/daemon/config_test.py
Binary:    SWITCHBOARD_BIN=/path/to/switchboard (default build/bin/switchboard)
"""
import os
import shutil
import socket
import subprocess
import tempfile
import time

import dtest
from dtest import RawWS, OP_TEXT, OP_BINARY

sbtest = dtest.sbtest


def run_daemon(args, timeout=5.0):
    """Runs the daemon expecting it to exit by itself; returns (rc, stdout, stderr)."""
    p = subprocess.run([sbtest.daemon_path()] + args, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


class Running:
    """A daemon started with exactly `args` (no --listen added); waits for `port`."""

    def __init__(self, args, ports):
        self.args, self.ports = args, ports
        self.err = tempfile.TemporaryFile()

    def __enter__(self):
        self.proc = subprocess.Popen([sbtest.daemon_path()] + self.args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self.err)
        try:
            for p in self.ports:
                sbtest.wait_for_port("127.0.0.1", p, timeout=5.0, proc=self.proc)
        except Exception:
            self.__exit__()
            raise
        return self

    def stderr(self):
        self.err.seek(0)
        return self.err.read().decode(errors="replace")

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def echo_ok(port, size):
    with RawWS(port, "/echo") as ws:
        ws.send(OP_BINARY, b"m" * size)
        return ws.recv_message(timeout=5) == (OP_BINARY, b"m" * size)


def close_code_for(port, size):
    with RawWS(port, "/echo") as ws:
        ws.send(OP_BINARY, b"m" * size)
        code, _, _ = ws.expect_close(timeout=5)
        return code


def refused(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except OSError:
        return True


class ConfigFileTest(dtest.BoundedTestCase):
    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix="sb-config-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)
        super().tearDown()

    def write(self, text, name="sb.toml"):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def good_config(self, port):
        return self.write(f"""# switchboard test configuration
[server]
listen = ["127.0.0.1:{port}"]
threads = 1
log_level = "warn"

[limits]
max_message_size = 2000

[timeouts]
idle_timeout_ms = 0
""")

    def test_file_honoured(self):
        port = sbtest.free_port()
        cfg = self.good_config(port)
        with Running(["--config", cfg], [port]) as d:  # no --listen: the file's address
            self.assertTrue(echo_ok(port, 2000), "2000-byte message (the file's limit) not echoed")
            self.assertEqual(close_code_for(port, 2001), 1009,
                             "max_message_size = 2000 from the file not enforced")
            self.assertEqual(close_code_for(port, 5000), 1009)
            # idle_timeout_ms = 0: a silent client is not closed
            with RawWS(port, "/echo") as ws:
                time.sleep(1.5)
                ws.send_text("late")
                self.assertEqual(ws.recv_message(), (OP_TEXT, b"late"))
        # log_level = "warn": the info line about listening is not printed
        self.assertNotIn("listening on", d.stderr(), "log_level = \"warn\" from the file ignored")

    def test_info_level_logs_listening(self):
        # the control for the assertion above: at info level the line is there
        port = sbtest.free_port()
        with Running(["--listen", f"127.0.0.1:{port}", "--log-level", "info"], [port]) as d:
            time.sleep(0.2)
        self.assertIn("listening on", d.stderr())

    def test_flags_override_file(self):
        port = sbtest.free_port()
        other = sbtest.free_port()
        while other == port:
            other = sbtest.free_port()
        cfg = self.good_config(port)
        args = ["--max-message-size", "5000", "--config", cfg, "--listen", f"127.0.0.1:{other}",
                "--log-level", "info"]  # flags before and after --config: flags still win
        with Running(args, [other]) as d:
            self.assertTrue(refused(port), "the file's listen address is used despite --listen")
            self.assertTrue(echo_ok(other, 2001), "--max-message-size 5000 did not override 2000")
            self.assertTrue(echo_ok(other, 5000))
            self.assertEqual(close_code_for(other, 5001), 1009)
            time.sleep(0.2)
        self.assertIn("listening on", d.stderr(), "--log-level info did not override the file")

    def assert_config_error(self, text, must_name, rc=2):
        cfg = self.write(text)
        code, out, err = run_daemon(["--config", cfg, "--listen", f"127.0.0.1:{sbtest.free_port()}"])
        self.assertEqual(code, rc, f"exit code for {text!r}: {code}, stderr {err!r}")
        self.assertIn(must_name, err, f"stderr does not name {must_name!r}: {err!r}")
        return err

    def test_unknown_key(self):
        self.assert_config_error('[server]\nthreads = 1\nbogus_key = 3\n', "bogus_key")
        self.assert_config_error('[limits]\nmax_mesage_size = 2000\n', "max_mesage_size")
        self.assert_config_error('[timeouts]\nidle_timeout = 5\n', "idle_timeout")
        self.assert_config_error('[serverz]\nthreads = 1\n', "serverz")

    def test_bad_value_type(self):
        self.assert_config_error('[server]\nthreads = "two"\n', "threads")
        self.assert_config_error('[limits]\nmax_message_size = "big"\n', "max_message_size")
        self.assert_config_error('[server]\nlisten = "127.0.0.1:8080"\n', "listen")
        self.assert_config_error('[timeouts]\nidle_timeout_ms = 1.5\n', "idle_timeout_ms")
        self.assert_config_error('[limits]\nmax_backpressure = -1\n', "max_backpressure")

    def test_bad_value(self):
        self.assert_config_error('[limits]\nslow_consumer = "maybe"\n', "slow_consumer")
        self.assert_config_error('[limits]\nslow_consumer_close_code = 1000\n',
                                 "slow_consumer_close_code")
        self.assert_config_error('[server]\nlog_level = "loud"\n', "log_level")

    def test_toml_syntax_error(self):
        err = self.assert_config_error('[server\nthreads = 1\n', "sb.toml")
        self.assertTrue(err.startswith("switchboard:"), err)

    def test_missing_file(self):
        missing = os.path.join(self.tmp, "nope.toml")
        code, _, err = run_daemon(["--config", missing])
        self.assertEqual(code, 2, err)
        self.assertIn("nope.toml", err)


class CommandLineTest(dtest.BoundedTestCase):
    def test_help(self):
        code, out, err = run_daemon(["--help"])
        self.assertEqual(code, 0)
        self.assertIn("--listen", out)
        self.assertIn("--config", out)

    def test_version(self):
        code, out, err = run_daemon(["--version"])
        self.assertEqual(code, 0)
        self.assertTrue(out.startswith("switchboard "), out)

    def test_unknown_flag(self):
        for args in (["--no-such-flag"], ["--no-such-flag", "1"],
                     ["--listen", "127.0.0.1:1", "--no-such-flag", "x"]):
            code, out, err = run_daemon(args)
            self.assertEqual(code, 2, f"{args}: exit {code}, stderr {err!r}")
            self.assertIn("--no-such-flag", err, args)

    def test_bad_flag_values(self):
        for args, name in ((["--threads", "many"], "--threads"),
                           (["--max-message-size", "-5"], "--max-message-size"),
                           (["--slow-consumer", "explode"], "--slow-consumer"),
                           (["--slow-consumer-code", "1000"], "slow_consumer_close_code"),
                           (["--listen", "nohostport"], "nohostport"),
                           (["--listen", "127.0.0.1:99999"], "127.0.0.1:99999"),
                           (["--heartbeat-timeout-ms", "1000"], "heartbeat")):
            code, out, err = run_daemon(args)
            self.assertEqual(code, 2, f"{args}: exit {code}, stderr {err!r}")
            self.assertIn(name, err, args)

    def test_listen_port_in_use(self):
        with socket.socket() as blocker:
            blocker.bind(("127.0.0.1", 0))
            blocker.listen(1)
            port = blocker.getsockname()[1]
            code, out, err = run_daemon(["--listen", f"127.0.0.1:{port}"])
        self.assertEqual(code, 1, f"exit {code}, stderr {err!r}")
        self.assertIn(f"127.0.0.1:{port}", err)

    def test_listen_not_an_address(self):
        code, out, err = run_daemon(["--listen", "localhost.invalid:8080"])
        self.assertEqual(code, 1, f"exit {code}, stderr {err!r}")
        self.assertIn("localhost.invalid", err)


class TwoListenersTest(dtest.BoundedTestCase):
    def test_two_listen_bindings(self):
        a = sbtest.free_port()
        b = sbtest.free_port()
        while b == a:
            b = sbtest.free_port()
        with Running(["--listen", f"127.0.0.1:{a}", "--listen", f"127.0.0.1:{b}",
                      "--log-level", "warn"], [a, b]):
            # one client on each at the same time
            with RawWS(a, "/echo") as wa, RawWS(b, "/echo") as wb:
                wa.send_text("via a")
                wb.send_text("via b")
                self.assertEqual(wa.recv_message(), (OP_TEXT, b"via a"))
                self.assertEqual(wb.recv_message(), (OP_TEXT, b"via b"))
            # both counted by the same process
            doc = dtest.status_json(b)
            self.assertGreaterEqual(doc["messages_in_total"], 2)
            self.assertEqual(dtest.http(a, "GET", "/status.json").status, 200)


if __name__ == "__main__":
    dtest.main()
