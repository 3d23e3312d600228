#!/usr/bin/env python3
"""report.py: turns one `tests/bench/run` into a RESULTS.md section and the SVG chart.

Reads swbench's JSON files (DIR/SCENARIO-SERVER.json) and the command lines the run used, then
appends a dated section to RESULTS.md (machine, commands, a table per scenario with ours/peer
ratios, each issue-7 target with how far it is met or missed) and rewrites the chart: one panel
per scenario, the servers side by side on that scenario's headline figure. Standard library only;
called by tests/bench/run (see there for the arguments).
"""
import argparse
import html
import json
import os

NAMES = {
    "switchboard": "Switchboard",
    "beast": "Beast",
    "ws": "node ws",
    "ws-broadcast": "node ws",
    "socketio": "socket.io",
    "floor": "floor (one epoll thread, no protocol)",
    "floor-broadcast": "floor (one epoll thread, no protocol)",
    "switchboard-actor": "Switchboard, an actor per connection",
    "switchboard-sgc": "Switchboard sgc",
    "switchboard-presence": "Switchboard presence",
    "switchboard-cluster3": "Switchboard, 3 nodes over Redis (publisher on node 1, subscribers on 2 and 3)",
}
OURS = ("switchboard", "switchboard-sgc")


def fmt_int(v):
    return f"{v:,.0f}"


def fmt_ms(v):  # microseconds in, milliseconds out
    return f"{v / 1000:,.2f}"


def fmt_mib(v):
    return f"{v / 1048576:,.1f}"


def fmt2(v):
    return f"{v:.2f}"


# Per scenario: title, columns (label, key or function, format), the headline figure for the
# chart and ratios (key, label, higher is better?), and the targets.
SCENARIOS = {
    "echo-d1": {
        "title": "Echo: 100 connections, 32 B text, depth 1",
        "unit": "msgs per server-CPU-s",
        "headline": "msgs_per_server_cpu_s",
        "higher": True,
    },
    "echo-d8": {
        "title": "Echo: 100 connections, 32 B text, depth 8",
        "unit": "msgs per server-CPU-s",
        "headline": "msgs_per_server_cpu_s",
        "higher": True,
    },
    "echo-512-d8": {
        "title": "Echo: 100 connections, 512 B text, depth 8",
        "unit": "msgs per server-CPU-s",
        "headline": "msgs_per_server_cpu_s",
        "higher": True,
    },
    "idle": {
        "title": "Idle connections: server RSS per connection",
        "unit": "bytes per idle connection",
        "headline": "bytes_per_connection",
        "higher": False,
    },
    "handshakes": {
        "title": "Handshakes: 100 connectors, open, upgrade, close, repeat",
        "unit": "handshakes per s",
        "headline": "handshakes_per_s",
        "higher": True,
    },
    "fanout": {
        "title": "Fan-out: 1 publisher to many subscribers, as fast as delivered",
        "unit": "deliveries per s",
        "headline": "deliveries_per_s",
        "higher": True,
    },
    "fanout-d16": {
        "title": "Fan-out with more in flight: 1 publisher to many subscribers, as fast as delivered",
        "unit": "deliveries per s",
        "headline": "deliveries_per_s",
        "higher": True,
    },
    "cluster-fanout": {
        "title": "Cross-node fan-out: 1 publisher to many subscribers, one node beside three",
        "unit": "deliveries per s",
        "headline": "deliveries_per_s",
        "higher": True,
    },
    "churn": {
        "title": "Churn: members leaving and rejoining one channel",
        "unit": "joins + leaves per s",
        "headline": "ops_per_s",
        "higher": True,
    },
}

ECHO_COLUMNS = [
    ("msgs/s", "msgs_per_s", fmt_int),
    ("msgs per server-CPU-s", "msgs_per_server_cpu_s", fmt_int),
    ("p50 (ms)", "latency_p50_us", fmt_ms),
    ("p99 (ms)", "latency_p99_us", fmt_ms),
    ("server CPU", "server_cpu_util", fmt2),
    ("swbench CPU", "client_cpu_util", fmt2),
    ("other load", "other_cpu_util", fmt2),
    ("server RSS (MiB)", "server_rss_bytes", fmt_mib),
    ("errors", "errors", str),
]
COLUMNS = {
    "echo": ECHO_COLUMNS,
    "idle": [
        ("open / at end", lambda r: f"{r['connections_open']:,} / {r['connections_open_at_end']:,}", None),
        ("opened per s", "connects_per_s", fmt_int),
        ("RSS before (MiB)", "server_rss_before_bytes", fmt_mib),
        ("RSS held (MiB)", "server_rss_bytes", fmt_mib),
        ("bytes per connection", "bytes_per_connection", fmt_int),
        ("server CPU (hold)", "server_cpu_util", lambda v: f"{v:.3f}"),
        ("other load", "other_cpu_util", fmt2),
        ("errors", "errors", str),
    ],
    "handshakes": [
        ("handshakes/s", "handshakes_per_s", fmt_int),
        ("per server-CPU-s", "handshakes_per_server_cpu_s", fmt_int),
        ("handshake p50 (ms)", "latency_p50_us", fmt_ms),
        ("handshake p99 (ms)", "latency_p99_us", fmt_ms),
        ("cycle p50 (ms)", "cycle_p50_us", fmt_ms),
        ("server CPU", "server_cpu_util", fmt2),
        ("swbench CPU", "client_cpu_util", fmt2),
        ("other load", "other_cpu_util", fmt2),
        ("errors", "errors", str),
    ],
    "fanout": [
        ("subscribers", "subscribers_confirmed", fmt_int),
        ("publishes/s", "publishes_per_s", fmt_int),
        ("deliveries/s", "deliveries_per_s", fmt_int),
        ("per server-CPU-s", "deliveries_per_server_cpu_s", fmt_int),
        ("p50 (ms)", "latency_p50_us", fmt_ms),
        ("p99 (ms)", "latency_p99_us", fmt_ms),
        ("losses", lambda r: f"{r['losses']:,} of {r['deliveries_expected']:,}", None),
        ("server CPU", "server_cpu_util", fmt2),
        ("swbench CPU", "client_cpu_util", fmt2),
        ("other load", "other_cpu_util", fmt2),
        ("errors", "errors", str),
    ],
    "churn": [
        ("members", "members_joined", fmt_int),
        ("setup (s)", "connect_s", fmt2),
        ("setup events", "setup_events", fmt_int),
        ("joins+leaves/s", "ops_per_s", fmt_int),
        ("per server-CPU-s", "ops_per_server_cpu_s", fmt_int),
        ("events/s", "events_per_s", fmt_int),
        ("events per server-CPU-s", "events_per_server_cpu_s", fmt_int),
        ("bytes per member", "bytes_per_member", fmt_int),
        ("cycle p50 (ms)", "latency_p50_us", fmt_ms),
        ("cycle p99 (ms)", "latency_p99_us", fmt_ms),
        ("other load", "other_cpu_util", fmt2),
        ("errors", "errors", str),
    ],
}


def columns_of(sc):
    return COLUMNS["echo" if sc.startswith("echo") else "fanout" if "fanout" in sc else sc]


def load(d, sc, s):
    try:
        with open(os.path.join(d, f"{sc}-{s}.json")) as f:
            r = json.load(f)
    except (OSError, ValueError):
        return None
    return None if "missing" in r else r


def ratio(a, b):
    return a / b if a is not None and b else None


def target_lines(sc, res):
    """The issue-7 targets for this scenario: (text, met?) with the measured figure."""
    ours = res.get("switchboard")
    out = []

    def vs(peer, key, want, label):
        r = ratio(ours.get(key) if ours else None, res[peer][key] if res.get(peer) else None)
        if r is None:
            out.append((f"{label}: at least {want}x {NAMES[peer]}: not measured", False))
            return
        verdict = "met" if r >= want else f"missed by {(1 - r / want) * 100:.0f}%"
        out.append((f"{label}: at least {want}x {NAMES[peer]}: {r:.2f}x, {verdict}", r >= want))

    if sc == "echo-d1":
        vs("beast", "msgs_per_server_cpu_s", 1.75, "msgs per server-CPU-s")
        vs("ws", "msgs_per_server_cpu_s", 4, "msgs per server-CPU-s")
    elif sc in ("echo-d8", "echo-512-d8"):
        vs("beast", "msgs_per_server_cpu_s", 8, "msgs per server-CPU-s")
        vs("ws", "msgs_per_server_cpu_s", 4, "msgs per server-CPU-s")
    elif sc == "idle" and ours:
        # The target is for connections that are each an actor: the hub's row when measured.
        held = res.get("switchboard-actor") or ours
        n, b = held["connections_open_at_end"], held["bytes_per_connection"]
        ok = b <= 2048 and n >= 19000
        verdict = "met" if ok else (f"missed by {(b / 2048 - 1) * 100:.0f}%" if b > 2048 else "not at 19,000 connections")
        who = "an actor per connection" if held is not ours else "runtime only"
        out.append((f"19,000 connections at most 2,048 bytes each ({who}): {n:,} held at {b:,.0f}"
                    f" bytes, {verdict}", ok))
    elif sc == "handshakes":
        vs("beast", "handshakes_per_s", 1.5, "handshakes/s")
    elif sc in ("fanout", "fanout-d16") and ours:
        d, p99 = ours["deliveries_per_s"], ours["latency_p99_us"] / 1000
        out.append((f"at least 1,000,000 deliveries/s: {d:,.0f}, "
                    + ("met" if d >= 1e6 else f"missed by {(1 - d / 1e6) * 100:.0f}%"), d >= 1e6))
        out.append((f"p99 under 100 ms: {p99:,.1f} ms, " + ("met" if p99 < 100 else "missed"), p99 < 100))
        if sc == "fanout":
            vs("socketio", "deliveries_per_s", 3, "deliveries/s")
            vs("ws-broadcast", "deliveries_per_s", 1.5, "deliveries/s")
    elif sc == "cluster-fanout" and ours and res.get("switchboard-cluster3"):
        # Issue 6 sets no figure: the row is reported beside the single node, as a ratio.
        c = res["switchboard-cluster3"]
        r = ratio(c["deliveries_per_s"], ours["deliveries_per_s"])
        out.append((f"three nodes deliver {r:.2f}x one node's deliveries/s, p99"
                    f" {c['latency_p99_us'] / 1000:,.1f} ms beside {ours['latency_p99_us'] / 1000:,.1f} ms,"
                    f" losses {c['losses']:,}", c["losses"] == 0))
    return out


def markdown(args, scenarios, data):
    lines = ["", f"## All scenarios (`{args.command}`), {args.started}", ""]
    lines.append(f"- Machine: {args.machine}; node {args.node}")
    lines.append(f"- Tree: {args.tree}")
    lines.append(f"- Peers: {args.peers}")
    lines.append(f"- Idle check: {args.idle} CPUs busy in the 2 s before the first run; load average"
                 f" before / after: {args.load}")
    lines.append(f"- Pinning: {args.pinning}")
    lines.append(f"- Time: {args.timing}")
    # The three-node row's other load is its own nodes 2 and 3 and redis-server.
    noisy = [(sc, s, r["other_cpu_util"]) for sc in scenarios for s, r in data[sc].items()
             if r and r.get("other_cpu_util", 0) > args.noise_limit
             and s != "switchboard-cluster3"]
    if noisy:
        lines.append(f"- Noisy (other processes above {args.noise_limit} cores after the retries): "
                     + ", ".join(f"{sc} {NAMES[s]} {o:.2f}" for sc, s, o in noisy)
                     + ". Rerun on an idle machine before trusting those rows.")
    lines.append("- Commands (`PID` is the server's pid; one server at a time, same port):")
    seen = set()
    for sc, s, server_cmd, _ in args.command_rows:
        if server_cmd not in seen:
            seen.add(server_cmd)
            lines.append(f"  - {NAMES[s]}: `{server_cmd}`")
    for sc, s, _, client_cmd in args.command_rows:
        lines.append(f"  - {sc}, {NAMES[s]}: `{client_cmd}`")
    for sc in scenarios:
        spec = SCENARIOS[sc]
        res = data[sc]
        title = spec["title"]
        first = next((r for r in res.values() if r), None)
        if sc == "idle" and first:
            title += f" ({first['connections']:,} connections)"
        if "fanout" in sc and first:
            title += f" ({first['subscribers']:,} subscribers, 64 B, at most {first['depth']} in flight)"
        if sc == "churn" and first:
            title += f" ({first['members']:,} members, {first['churners']} churning)"
        lines += ["", f"### {title}", ""]
        cols = columns_of(sc)
        lines.append("| server | " + " | ".join(c[0] for c in cols) + " |")
        lines.append("|---" * (len(cols) + 1) + "|")
        for s, r in res.items():
            if r is None:
                lines.append(f"| {NAMES[s]} | " + " | ".join("n/a" for _ in cols) + " |")
                continue
            cells = []
            for _, key, f in cols:
                try:
                    cells.append(key(r) if callable(key) else f(r[key]))
                except (KeyError, TypeError, ZeroDivisionError):
                    cells.append("n/a")
            lines.append(f"| {NAMES[s]} | " + " | ".join(cells) + " |")
        ours = next((s for s in res if s in OURS), None)
        key = spec["headline"]
        if sc == "churn" and res.get("switchboard-sgc") and res.get("switchboard-presence"):
            a, b = res["switchboard-presence"], res["switchboard-sgc"]
            parts = [f"{label} {ratio(a[k], b[k]):.2f}" for label, k in (
                ("joins + leaves per s", "ops_per_s"), ("events per s", "events_per_s"),
                ("bytes per member", "bytes_per_member")) if ratio(a[k], b[k]) is not None]
            lines += ["", "- presence/sgc: " + ", ".join(parts)]
        elif ours and res.get(ours):
            notes = []
            for s, r in res.items():
                if s == ours or not r:
                    continue
                q = ratio(res[ours][key], r[key])
                if q is not None:
                    notes.append(f"{NAMES[ours]}/{NAMES[s]} {spec['unit']}: {q:.2f}"
                                 + ("" if spec["higher"] else " (below 1 is better)"))
            if notes:
                lines.append("")
                lines += [f"- {n}" for n in notes]
        targets = target_lines(sc, res)
        if targets:
            lines.append("")
            issue = "issue 6" if sc == "cluster-fanout" else "issue 7"
            lines += [f"- Target ({issue}), {t}" for t, _ in targets]
        for s, r in res.items():
            if r is None:
                lines.append(f"\n{NAMES[s]}: no result (see the run's log).")
                continue
            if r.get("errors"):
                lines.append(f"\n{NAMES[s]}: {r['errors']} errors, first: {r.get('first_error', '')}")
            if r.get("client_cpu_util", 0) > 0.9:
                lines.append(f"\nswbench was CPU-bound in the {NAMES[s]} run ({r['client_cpu_util']:.2f}"
                             " cores): rates may understate the server; compare the per-server-CPU-s figures.")
        if sc == "churn":
            lines.append("\nThe sgc row is the same churn on the default protocol (sgc@subscribe and"
                         " sgc@unsubscribe on /sgc, each confirmed to the member alone); the presence"
                         " row tells every member of the channel about each join and leave, so its"
                         " events per operation are the channel's size. Memory per member includes"
                         " the connection.")
        if sc == "cluster-fanout":
            lines.append("\nThe three-node row runs a redis-server (`redis-server --port PORT+10 --save ''"
                         " --appendonly no`) and nodes 2 and 3 like node 1 on the next two ports, all"
                         " pinned to the server CPU with node 1; its server CPU and per-server-CPU-s"
                         " figures are node 1's alone (the publisher's node). Every publish goes"
                         " through Redis (sequence, log, PUBLISH) before any node delivers it.")
    return "\n".join(lines) + "\n"


def human(v):
    for div, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return f"{v / div:.3g}{suffix}"
    return f"{v:.3g}"


def noise_note(args, scenarios, data):
    rows = [r for sc in scenarios if sc != "idle" for s, r in data[sc].items()
            if r and s != "switchboard-cluster3"]
    noisy = [r for r in rows if r.get("other_cpu_util", 0) > args.noise_limit]
    if not noisy:
        return ""
    return (f"Noisy: other processes were busy during {len(noisy)} of {len(rows)}"
            " measurements (see RESULTS.md).")


def chart(args, scenarios, data):
    """Hand-written SVG: one panel per scenario, bars per server, our ratio over each peer."""
    cols, pw, ph = 4, 300, 230
    rows = (len(scenarios) + cols - 1) // cols
    width, height = cols * pw + 20, rows * ph + 75
    ours_color, peer_colors = "#2563eb", ["#9ca3af", "#f59e0b", "#10b981"]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
           f'<text x="10" y="22" font-size="15" font-weight="bold">Switchboard beside its peers'
           f' ({html.escape(args.command)}, {html.escape(args.started)})</text>',
           f'<text x="10" y="40" fill="#555">{html.escape(args.machine)}. One server thread each,'
           ' pinned; the same swbench command for every server of a panel. Blue: ours.</text>',
           f'<text x="10" y="55" fill="#b45309">{html.escape(noise_note(args, scenarios, data))}</text>']
    for i, sc in enumerate(scenarios):
        spec = SCENARIOS[sc]
        x0, y0 = 10 + (i % cols) * pw, 65 + (i // cols) * ph
        res = [(s, r) for s, r in data[sc].items()]
        key = spec["headline"]
        vals = [(s, r[key] if r else None) for s, r in res]
        top = max([v for _, v in vals if v] + [1])
        out.append(f'<rect x="{x0}" y="{y0}" width="{pw - 10}" height="{ph - 10}" fill="none" stroke="#ddd"/>')
        first = next((r for _, r in res if r), None)
        size = ""
        if first and sc == "idle":
            size = f" ({first['connections']:,} connections)"
        elif first and "fanout" in sc:
            size = f" ({first['subscribers']:,} subscribers)"
        elif first and sc == "churn":
            size = f" ({first['members']:,} members)"
        out.append(f'<text x="{x0 + 8}" y="{y0 + 18}" font-weight="bold">{html.escape(sc + size)}</text>')
        out.append(f'<text x="{x0 + 8}" y="{y0 + 32}" fill="#555">{html.escape(spec["unit"])}'
                   f'{"" if spec["higher"] else " (lower is better)"}</text>')
        base_y, bar_h = y0 + ph - 45, ph - 110
        n = max(len(vals), 1)
        bw = min(60, (pw - 40) // n - 12)
        ours_v = next((v for s, v in vals if s in OURS), None)
        peer_i = 0
        for j, (s, v) in enumerate(vals):
            bx = x0 + 20 + j * ((pw - 40) // n)
            if s in OURS:
                color = ours_color
            elif s.startswith("switchboard"):  # ours too (churn: presence beside sgc)
                color = "#93c5fd"
            else:
                color = peer_colors[peer_i % len(peer_colors)]
                peer_i += 1
            if v is None:
                out.append(f'<text x="{bx}" y="{base_y - 4}" fill="#999">n/a</text>')
            else:
                h = max(1.0, bar_h * v / top)
                out.append(f'<rect x="{bx}" y="{base_y - h:.1f}" width="{bw}" height="{h:.1f}" fill="{color}"/>')
                out.append(f'<text x="{bx + bw / 2}" y="{base_y - h - 4:.1f}" text-anchor="middle">{human(v)}</text>')
                if not s.startswith("switchboard") and ours_v and v:
                    q = ours_v / v
                    out.append(f'<text x="{bx + bw / 2}" y="{base_y + 28}" text-anchor="middle" '
                               f'fill="{ours_color}" font-weight="bold">ours {q:.2f}x</text>')
            out.append(f'<text x="{bx + bw / 2}" y="{base_y + 14}" text-anchor="middle">'
                       f'{html.escape(NAMES[s])}</text>')
        out.append(f'<line x1="{x0 + 10}" y1="{base_y}" x2="{x0 + pw - 20}" y2="{base_y}" stroke="#333"/>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    p = argparse.ArgumentParser()
    for name in ("dir", "commands", "scenarios", "results", "svg", "started", "command", "machine",
                 "tree", "node", "peers", "idle", "load", "pinning", "timing"):
        p.add_argument("--" + name, required=True)
    p.add_argument("--noise-limit", type=float, default=0.15)
    args = p.parse_args()
    scenarios = args.scenarios.split()
    args.command_rows = []
    with open(args.commands) as f:
        for line in f:
            sc, s, server_cmd, client_cmd = line.rstrip("\n").split("\t")
            args.command_rows.append((sc, s, server_cmd, client_cmd))
    data = {sc: {} for sc in scenarios}
    for sc, s, _, _ in args.command_rows:
        data[sc][s] = load(args.dir, sc, s)
    section = markdown(args, scenarios, data)
    print(section)
    if args.results != "/dev/null":
        if not os.path.exists(args.results):
            with open(args.results, "w") as f:
                f.write("# Benchmark results\n\nAppended by the scripts in this folder; newest last."
                        " See README.md for how to read them.\n")
        with open(args.results, "a") as f:
            f.write(section)
    if args.svg != "/dev/null":
        with open(args.svg, "w") as f:
            f.write(chart(args, scenarios, data))


if __name__ == "__main__":
    main()
