"""smoke_test.py: every swbench mode against the real daemon, in seconds, with small counts.

Not a benchmark (nothing here is timed or compared): it checks that each mode runs end to end
against the daemon and that what was delivered is right, from swbench's own --json report:

  echo         4 connections for 1 s: round trips made, every echo matched, no errors
  fanout       20 subscribers: deliveries == publishes x subscribers, nothing lost or reordered
  connections  200 idle connections in 2 worker processes: all opened and still open after
               the hold, RSS per connection reported
  handshakes   200 cycles (open, upgrade, close handshake), then 200 with one echo each: all 200
               completed, none failed
  churn sgc    100 members, 10 churners, 100 cycles: 200 confirmations, stable members untouched
  churn presence (when the daemon serves /ws/presence) the same: every stable member heard of
               every one of the 200 joins and leaves

Each mode also exits 0 only when its own checks pass. Run by ctest (label bench_smoke) with
SWITCHBOARD_BIN and SWBENCH_BIN set; with /usr/bin/python3. Prints "N passed, N failed" last.
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import sbtest  # noqa: E402

SWBENCH = os.environ.get("SWBENCH_BIN", os.path.join(sbtest.ROOT, "build", "bin", "swbench"))
SOURCES = "127.0.0.2-127.0.0.40"


def swbench(daemon, mode, path, *args):
    """Runs one swbench mode against `daemon`; returns (exit code, JSON report)."""
    with tempfile.TemporaryDirectory() as d:
        report = os.path.join(d, "r.json")
        cmd = [SWBENCH, mode, "--url", daemon.url(path), "--server-pid", str(daemon.proc.pid),
               "--json", report, "--quiet", *args]
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=40,
                           text=True)
        sys.stdout.write(p.stdout)
        with open(report) as f:
            return p.returncode, json.load(f)


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def test_echo(daemon):
    rc, r = swbench(daemon, "echo", "/echo", "--connections", "4", "--duration", "1",
                    "--warmup", "0.2")
    check(r["connections_open"] == 4, f"4 connections open, got {r['connections_open']}")
    check(r["messages"] > 0, "no round trip in the window")
    check(r["errors"] == 0 and r["errors_bad_echo"] == 0, f"errors: {r['first_error']}")
    check(rc == 0, f"swbench exited {rc}")


def test_fanout(daemon):
    rc, r = swbench(daemon, "fanout", "/sgc", "--dialect", "sgc", "--connections", "20",
                    "--size", "64", "--rate", "200", "--duration", "1", "--warmup", "0.2",
                    "--source-ips", SOURCES)
    check(r["subscribers_confirmed"] == 20, f"20 subscribers confirmed, got {r['subscribers_confirmed']}")
    check(r["publishes"] > 0, "nothing published")
    check(r["deliveries_received"] == r["publishes"] * 20,
          f"{r['deliveries_received']} deliveries for {r['publishes']} publishes x 20")
    check(r["losses"] == 0 and r["errors"] == 0, f"losses {r['losses']}, errors: {r['first_error']}")
    check(rc == 0, f"swbench exited {rc}")


def test_connections(daemon):
    rc, r = swbench(daemon, "connections", "/echo", "--connections", "200", "--processes", "2",
                    "--duration", "1", "--warmup", "0.2", "--source-ips", SOURCES)
    check(r["processes"] == 2, "not run in 2 processes")
    check(r["connections_open"] == 200, f"200 opened, got {r['connections_open']}")
    check(r["connections_open_at_end"] == 200, f"200 held, got {r['connections_open_at_end']}")
    check(r["server_rss_bytes"] > 0 and r["server_rss_before_bytes"] > 0, "no server RSS read")
    check(r["errors"] == 0, f"errors: {r['first_error']}")
    check(rc == 0, f"swbench exited {rc}")


def test_handshakes(daemon):
    for extra in ([], ["--echo", "--size", "100"]):
        rc, r = swbench(daemon, "handshakes", "/echo", "--connections", "20", "--count", "200",
                        "--warmup", "0", "--duration", "20", "--source-ips", SOURCES, *extra)
        check(r["handshakes_completed"] == 200, f"200 handshakes, got {r['handshakes_completed']}")
        check(r["handshakes_failed"] == 0 and r["errors"] == 0, f"errors: {r['first_error']}")
        check(r["handshakes"] > 0 and r["latency_p50_us"] > 0, "no handshake measured")
        check(rc == 0, f"swbench exited {rc}")


def churn(daemon, dialect, path):
    rc, r = swbench(daemon, "churn", path, "--dialect", dialect, "--connections", "100",
                    "--churners", "10", "--count", "100", "--warmup", "0", "--duration", "20",
                    "--source-ips", SOURCES)
    check(r["members_joined"] == 100, f"100 members joined, got {r['members_joined']}")
    check(r["cycles"] == 100 and r["cycles_unfinished"] == 0,
          f"100 cycles, got {r['cycles']} ({r['cycles_unfinished']} unfinished)")
    check(r["errors"] == 0, f"errors: {r['first_error']}")
    check(rc == 0, f"swbench exited {rc}")
    return r


def test_churn_sgc(daemon):
    r = churn(daemon, "sgc", "/sgc")
    check(r["events_total"] == 200, f"200 confirmations, got {r['events_total']}")


def presence_served(daemon):
    """True when /ws/presence speaks Presence: two members can join and churn once."""
    p = subprocess.run([SWBENCH, "churn", "--url", daemon.url("/ws/presence"), "--dialect",
                        "presence", "--connections", "2", "--churners", "1", "--count", "1",
                        "--warmup", "0", "--duration", "1", "--connect-timeout", "3", "--quiet"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=20)
    return p.returncode == 0


def test_churn_presence(daemon):
    if not presence_served(daemon):
        print("  (skipped: this daemon does not serve /ws/presence)")
        return
    r = churn(daemon, "presence", "/ws/presence")
    # 90 stable members each hear of 200 joins and leaves (checked per member by swbench); the
    # churners hear them too, so the total is at least that.
    check(r["events_total"] >= 90 * 200, f"at least 18,000 events, got {r['events_total']}")


def main():
    tests = [test_echo, test_fanout, test_connections, test_handshakes, test_churn_sgc,
             test_churn_presence]
    passed = failed = 0
    with sbtest.Daemon(["--threads", "1"]) as daemon:
        for t in tests:
            try:
                t(daemon)
                passed += 1
                print(f"PASS {t.__name__}")
            except Exception as e:  # noqa: BLE001 - report every failure and go on
                failed += 1
                print(f"FAIL {t.__name__}: {e}")
            sys.stdout.flush()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
