#!/usr/bin/python3
"""Switchboard WebSocket server conformance suite (RFC 6455 / RFC 3629) -- runner.

Discovers the cases in cases_*.py, starts one switchboard daemon per configuration the cases
need (tests/support/sbtest.py), runs the cases concurrently over several sockets, prints
failures, per-group totals and a final line "N passed, N failed[, N skipped]".
Exit status: 0 all passed, 1 some failed, 2 usage / startup error.

  /usr/bin/python3 tests/conformance/run.py                 # start the daemon(s) and run everything
  /usr/bin/python3 tests/conformance/run.py -k 6.4 -k close # only ids/titles containing 6.4 or close
  /usr/bin/python3 tests/conformance/run.py --url ws://127.0.0.1:9000/echo
        # against a running server: cases needing another daemon configuration are skipped,
        # unless given --config-url maxsize=ws://... / --config-url origin=ws://... (also
        # deflate=, deflatemax=)
"""
import argparse
import glob
import importlib
import os
import re
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

sys.dont_write_bytecode = True  # keep the source tree clean (no __pycache__)
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "support"))

import wsframe  # noqa: E402

MAXSIZE_LIMIT = 100000  # --max-message-size used by the "maxsize" configuration (group 10)
ALLOWED_ORIGINS = ["http://good.example", "https://app.good.example:8443"]

# name -> (daemon command-line flags, what the cases may assume about that daemon)
CONFIGS = {
    "default": ([], {"max_message_size": 16 * 1024 * 1024, "allowed_origins": None}),
    "maxsize": (["--max-message-size", str(MAXSIZE_LIMIT)],
                {"max_message_size": MAXSIZE_LIMIT, "allowed_origins": None}),
    "origin": ([a for o in ALLOWED_ORIGINS for a in ("--allowed-origin", o)],
               {"max_message_size": 16 * 1024 * 1024, "allowed_origins": list(ALLOWED_ORIGINS)}),
    # permessage-deflate (group 12); the second one also limits the inflated message size
    "deflate": (["--permessage-deflate"],
                {"max_message_size": 16 * 1024 * 1024, "allowed_origins": None}),
    "deflatemax": (["--permessage-deflate", "--max-message-size", str(MAXSIZE_LIMIT)],
                   {"max_message_size": MAXSIZE_LIMIT, "allowed_origins": None}),
}

TLS_FLAGS = []  # daemon flags for TLS, set by --tls
TLS_CONTEXT = []  # the client TLS context, set by --tls


def enable_tls():
    """Makes a throwaway certificate for 127.0.0.1, has every daemon serve TLS with it, and
    has every case connect with TLS (verifying the certificate)."""
    import shutil
    import ssl
    import subprocess
    import tempfile
    tmp = tempfile.mkdtemp(prefix="sb-conformance-tls-")
    import atexit
    atexit.register(shutil.rmtree, tmp, True)
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert, "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    # sbtest puts --listen first, so these apply to that binding.
    TLS_FLAGS[:] = ["--tls-cert", cert, "--tls-key", key]
    for name, (flags, cfg) in list(CONFIGS.items()):
        CONFIGS[name] = (flags + TLS_FLAGS, cfg)
    TLS_CONTEXT.append(ssl.create_default_context(cafile=cert))


GROUP_NAMES = {
    "1": "Framing",
    "2": "Pings/Pongs",
    "3": "Reserved bits",
    "4": "Opcodes",
    "5": "Fragmentation",
    "6": "UTF-8",
    "7": "Close",
    "9": "Limits",
    "10": "Max message size",
    "12": "permessage-deflate",
    "20": "Opening handshake",
}


def load_cases():
    for path in sorted(glob.glob(os.path.join(HERE, "cases_*.py"))):
        importlib.import_module(os.path.splitext(os.path.basename(path))[0])
    return sorted(wsframe.REGISTRY, key=lambda c: c.sort_key())


def parse_ws_url(url):
    u = urlparse(url)
    if u.scheme != "ws" or not u.hostname or not u.port:
        raise SystemExit("bad --url %r: expected ws://host:port/path" % url)
    return u.hostname, u.port, (u.path or "/")


def run_one(c, ctx, verbose, lock):
    t0 = time.monotonic()
    try:
        c.fn(ctx)
        ok, msg = True, ""
    except wsframe.Skip as e:
        return "skip", str(e), time.monotonic() - t0
    except AssertionError as e:
        ok, msg = False, str(e) or e.__class__.__name__
    except Exception as e:  # noqa: BLE001 -- a crash in a case is a failure, with details
        ok, msg = False, "%s: %s" % (e.__class__.__name__, e)
        if verbose > 1:
            msg += "\n" + traceback.format_exc()
    dt = time.monotonic() - t0
    if verbose or not ok:
        with lock:
            print("%s %-9s %s (%.2fs)%s" % ("ok  " if ok else "FAIL", c.id, c.title, dt,
                                            "" if ok else "\n       -> " + msg), flush=True)
    return ("pass" if ok else "fail"), msg, dt


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("-k", action="append", default=[], metavar="PATTERN",
                    help="run only matching cases (repeatable): a dotted number selects that id and\n"
                         "its sub-cases (-k 6.4); anything else is a case-insensitive substring\n"
                         "of the id or title (-k close)")
    ap.add_argument("--url", help="run against an already running server ws://host:port/echo")
    ap.add_argument("--config-url", action="append", default=[], metavar="NAME=URL",
                    help="with --url: server to use for configuration NAME (maxsize, origin,\n"
                         "deflate, deflatemax)")
    ap.add_argument("-j", type=int, default=8, help="concurrent cases (default 8)")
    ap.add_argument("-v", action="count", default=0, help="print every case (-vv: tracebacks)")
    ap.add_argument("--list", action="store_true", help="list the selected cases and exit")
    ap.add_argument("--tls", action="store_true",
                    help="run every case over TLS (wss://): the daemon gets a throwaway certificate")
    args = ap.parse_args()
    if args.tls:
        enable_tls()

    cases = load_cases()
    if args.k:
        def selected(c):
            for p in args.k:
                if re.match(r"^\d+(\.\d+)*$", p):  # an id or id prefix: 6.4 selects 6.4.*
                    if c.id == p or c.id.startswith(p + "."):
                        return True
                elif p.lower() in c.title.lower() or p.lower() in c.id.lower():
                    return True
            return False
        cases = [c for c in cases if selected(c)]
    if args.list:
        for c in cases:
            print("%-9s [%s] %s" % (c.id, c.config, c.title))
        print("%d cases" % len(cases))
        return 0
    if not cases:
        print("no cases selected")
        print("0 passed, 0 failed")
        return 1

    results = {}  # id -> (status, msg, dt)   status: pass / fail / skip
    lock = threading.Lock()
    extra_failures = []
    t_start = time.monotonic()

    external = {}
    if args.url:
        external["default"] = parse_ws_url(args.url)
        for item in args.config_url:
            name, _, url = item.partition("=")
            if name not in CONFIGS:
                raise SystemExit("unknown configuration %r in --config-url" % name)
            external[name] = parse_ws_url(url)

    by_config = {}
    for c in cases:
        by_config.setdefault(c.config, []).append(c)

    for cfg_name in [n for n in CONFIGS if n in by_config]:
        cfg_cases = by_config[cfg_name]
        flags, cfg = CONFIGS[cfg_name]
        daemon = None
        if args.url:
            if cfg_name not in external:
                for c in cfg_cases:
                    results[c.id] = ("skip", "needs daemon configuration %r (%s)"
                                     % (cfg_name, " ".join(flags)), 0.0)
                continue
            host, port, path = external[cfg_name]
        else:
            import sbtest
            binpath = sbtest.daemon_path()
            if not os.path.exists(binpath):
                print("switchboard binary not found at %s (set SWITCHBOARD_BIN, build it, or use "
                      "--url)" % binpath)
                return 2
            daemon = sbtest.Daemon(flags)
            try:
                daemon.start()
            except Exception as e:  # noqa: BLE001
                print("could not start %s %s: %s" % (binpath, " ".join(flags), e))
                return 2
            host, port, path = daemon.host, daemon.port, "/echo"
        cfg = dict(cfg)
        if daemon is not None:
            # lets a case start a private daemon (e.g. to stop it with SIGTERM)
            cfg["spawn_daemon"] = lambda extra=(): sbtest.Daemon(list(extra) + TLS_FLAGS)
        if TLS_CONTEXT:
            # Cases speak plain TCP to a local relay that speaks TLS to the daemon.
            from tls_relay import TlsRelay
            cfg["tls"] = True
            cfg["address_of"] = lambda d: ("127.0.0.1", TlsRelay(d.host, d.port, TLS_CONTEXT[0]).port)
            host, port = "127.0.0.1", TlsRelay(host, port, TLS_CONTEXT[0]).port
        ctx = wsframe.Context(host, port, path, cfg)
        print("== configuration %s: %d cases against ws://%s:%d%s%s" % (
            cfg_name, len(cfg_cases), host, port, path,
            (" (daemon flags: %s)" % " ".join(flags)) if daemon and flags else ""), flush=True)
        # Long-running cases first so they overlap with the many short ones.
        order = sorted(cfg_cases, key=lambda c: 0 if c.group in ("9", "10") else 1)
        try:
            with ThreadPoolExecutor(max_workers=max(1, args.j)) as pool:
                futs = {c.id: pool.submit(run_one, c, ctx, args.v, lock) for c in order}
                for cid, f in futs.items():
                    results[cid] = f.result()
        finally:
            if daemon is not None:
                rc = daemon.proc.poll()
                if rc is not None:
                    extra_failures.append("daemon (configuration %s) died during the run, exit "
                                          "code %s" % (cfg_name, rc))
                else:
                    try:
                        rc = daemon.stop()
                        if rc not in (0, None):
                            print("note: daemon (configuration %s) exited with code %s on SIGTERM"
                                  % (cfg_name, rc))
                    except Exception as e:  # noqa: BLE001
                        extra_failures.append("daemon (configuration %s) did not stop on SIGTERM: %s"
                                              % (cfg_name, e))

    # ---- report
    print()
    print("%-5s %-20s %7s %7s %7s" % ("group", "name", "passed", "failed", "skipped"))
    totals = {"pass": 0, "fail": 0, "skip": 0}
    groups = {}
    for c in cases:
        st = results[c.id][0]
        groups.setdefault(c.group, {"pass": 0, "fail": 0, "skip": 0})[st] += 1
        totals[st] += 1
    for g in sorted(groups, key=int):
        r = groups[g]
        print("%-5s %-20s %7d %7d %7d" % (g, GROUP_NAMES.get(g, "?"), r["pass"], r["fail"],
                                          r["skip"]))
    failed = [c for c in cases if results[c.id][0] == "fail"]
    if failed:
        print()
        print("failed cases:")
        for c in failed:
            print("  %-9s %s\n            -> %s" % (c.id, c.title,
                                                     results[c.id][1].replace("\n", "\n               ")))
    for msg in extra_failures:
        print("FAIL %s" % msg)
    slow = sorted(((results[c.id][2], c.id) for c in cases), reverse=True)[:3]
    print()
    print("elapsed %.1fs; slowest: %s" % (time.monotonic() - t_start,
                                           ", ".join("%s %.1fs" % (i, d) for d, i in slow)))
    nfail = totals["fail"] + len(extra_failures)
    line = "%d passed, %d failed" % (totals["pass"], nfail)
    if totals["skip"]:
        line += ", %d skipped" % totals["skip"]
    print(line)
    return 1 if nfail else 0


if __name__ == "__main__":
    sys.exit(main())
