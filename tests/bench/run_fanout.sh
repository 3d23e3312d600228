#!/usr/bin/env bash
# run_fanout.sh: the fan-out benchmark. One publisher to SUBSCRIBERS subscribers on one channel,
# measured by `swbench fanout` against the Switchboard daemon (sgc@publish on /sgc), a node `ws`
# broadcast server (peers/ws_broadcast_server.js) and socket.io rooms
# (peers/socketio_rooms_server.js), in the same run, one server at a time, each pinned to CPU 0
# while swbench runs pinned to CPU 1. First every server at the same fixed publish rate (RATE),
# then (MAX=1) every server at its maximum: --rate 0 with at most DEPTH publishes in flight.
# Appends a dated section with the machine, the exact commands and the tables to
# tests/bench/RESULTS.md. See tests/bench/README.md for what the figures mean.
#
# Usage: tests/bench/run_fanout.sh   (about 2 minutes; builds what is missing, installs the npm
#                                     peers into tests/bench/peers/node_modules if missing)
# Environment: BUILD_DIR (build), DURATION (10), WARMUP (2), SUBSCRIBERS (1000), SIZE (64),
#   RATE (50 publishes/s), MAX (1: also the max-rate runs; 0: not), DEPTH (16: publishes in
#   flight in the max-rate runs), SERVERS ("switchboard ws socketio"), SB_PORT (18090),
#   WS_PORT (18091), SIO_PORT (18092), SERVER_CPU (0), CLIENT_CPU (1),
#   RESULTS (tests/bench/RESULTS.md; /dev/null for a dry run), KEEP (1: keep the raw JSON).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${BUILD_DIR:-$root/build}
duration=${DURATION:-10}
warmup=${WARMUP:-2}
subscribers=${SUBSCRIBERS:-1000}
size=${SIZE:-64}
rate=${RATE:-50}
max=${MAX:-1}
depth=${DEPTH:-16}
servers=${SERVERS:-switchboard ws socketio}
sb_port=${SB_PORT:-18090}
ws_port=${WS_PORT:-18091}
sio_port=${SIO_PORT:-18092}
server_cpu=${SERVER_CPU:-0}
client_cpu=${CLIENT_CPU:-1}
results=${RESULTS:-$root/tests/bench/RESULTS.md}
peers=$root/tests/bench/peers
out=$(mktemp -d /tmp/sb-bench-fanout.XXXXXX)
server_pid=

log() { echo "run_fanout: $*" >&2; }

# stop_server, cleanup (on exit), port_listening, busy_ticks, start_server, idle_check.
. "$root/tests/bench/lib.sh"


server_port() {
  case $1 in switchboard) echo "$sb_port" ;; ws) echo "$ws_port" ;; socketio) echo "$sio_port" ;; esac
}

server_command() {  # name -> the command line, without taskset
  case $1 in
    switchboard) echo "$build/bin/switchboard --listen 127.0.0.1:$sb_port --threads 1 --log-level warn" ;;
    ws) echo "node $peers/ws_broadcast_server.js --listen 127.0.0.1:$ws_port" ;;
    socketio) echo "node $peers/socketio_rooms_server.js --listen 127.0.0.1:$sio_port" ;;
  esac
}

swbench_command() {  # name kind(rate|max) -> the command line, without taskset and per-run flags
  local url dialect load
  case $1 in
    switchboard) url="ws://127.0.0.1:$sb_port/sgc" dialect=sgc ;;
    ws) url="ws://127.0.0.1:$ws_port/" dialect=raw ;;
    socketio) url="ws://127.0.0.1:$sio_port/socket.io/?EIO=4&transport=websocket" dialect=socketio ;;
  esac
  if [ "$2" = max ]; then load="--rate 0 --depth $depth"; else load="--rate $rate"; fi
  echo "$build/bin/swbench fanout --url $url --dialect $dialect --connections $subscribers" \
    "--size $size $load --duration $duration --warmup $warmup --source-ips 127.0.0.2-127.0.0.9"
}

# Build and install what is missing.
[ "$(nproc)" -ge 2 ] || log "warning: fewer than 2 CPUs: server and swbench will share one"
for s in $servers; do
  case $s in switchboard | ws | socketio) ;; *) log "unknown server $s"; exit 2 ;; esac
done
[ -f "$build/CMakeCache.txt" ] || cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >&2
case " $servers " in
  *" switchboard "*) cmake --build "$build" -j"$(nproc)" --target swbench switchboard >&2 ;;
  *) cmake --build "$build" -j"$(nproc)" --target swbench >&2 ;;
esac
case " $servers " in
  *" ws "* | *" socketio "*)
    command -v node >/dev/null || { log "node is needed for the ws and socketio peers"; exit 1; }
    if [ ! -d "$peers/node_modules/ws" ] || [ ! -d "$peers/node_modules/socket.io" ]; then
      log "installing the npm peers (tests/bench/peers/package.json)"
      (cd "$peers" && npm install --no-package-lock --no-audit --no-fund --loglevel=error >&2)
    fi
    ;;
esac

idle_check=$(idle_check)
awk -v b="$idle_check" 'BEGIN{exit !(b > 0.2)}' &&
  log "warning: the machine is not idle ($idle_check CPUs busy before the run)"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u '+%Y-%m-%d %H:%M UTC')

kinds=rate
[ "$max" = 1 ] && kinds="rate max"
for kind in $kinds; do
  for s in $servers; do
    log "$kind: $s"
    # shellcheck disable=SC2046 # the command line is split on purpose
    start_server "$s" "$(server_port "$s")" $(server_command "$s")
    set +e
    # shellcheck disable=SC2046 # the command line is split on purpose
    timeout "$(awk -v d="$duration" -v w="$warmup" 'BEGIN{print int(d + w + 90)}')" \
      taskset -c "$client_cpu" $(swbench_command "$s" "$kind") \
      --server-pid "$server_pid" --json "$out/$kind-$s.json" --quiet >"$out/$kind-$s.txt" 2>&1
    rc=$?
    set -e
    cat "$out/$kind-$s.txt" >&2
    [ "$rc" -le 1 ] || log "swbench exited with $rc"
    kill -0 "$server_pid" 2>/dev/null || log "warning: $s died during the $kind run"
    stop_server
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

report=$out/section.md
{
  echo
  echo "## Fan-out, $started"
  echo
  echo "- Machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), kernel $(uname -r), node $(node --version 2>/dev/null || echo n/a)"
  echo "- Tree: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo 'no commit yet')$(git -C "$root" status --porcelain 2>/dev/null | grep -q . && echo ' + uncommitted changes')"
  echo "- Peers: ws $(node -p "require('$peers/node_modules/ws/package.json').version" 2>/dev/null || echo n/a), socket.io $(node -p "require('$peers/node_modules/socket.io/package.json').version" 2>/dev/null || echo n/a) (tests/bench/peers/package.json)"
  echo "- Idle check: $idle_check CPUs busy in the 2 s before the first run; load average before / after: $load_before / $load_after (the machine is shared: see the \"other load\" column)"
  echo "- Pinning: server on CPU $server_cpu, swbench on CPU $client_cpu (\`taskset -c\`); ${duration} s measured after ${warmup} s warmup; $subscribers subscribers + 1 publisher, ${size} B payloads"
  echo "- Commands (\`PID\` is the server's pid):"
  for s in $servers; do
    echo "  - \`taskset -c $server_cpu $(server_command "$s" | sed "s|$root/||g")\`"
  done
  for kind in $kinds; do
    for s in $servers; do
      echo "  - \`taskset -c $client_cpu $(swbench_command "$s" "$kind" | sed "s|$root/||g") --server-pid PID\`"
    done
  done
  /usr/bin/python3 - "$out" "$servers" "$kinds" "$rate" "$depth" "$subscribers" <<'EOF'
import json, os, sys
out, servers, kinds = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
rate, depth, subs = sys.argv[4], sys.argv[5], int(sys.argv[6])
names = {"switchboard": "Switchboard (sgc)", "ws": "node ws broadcast", "socketio": "socket.io rooms"}
short = {"ws": "ws", "socketio": "socket.io"}

def load(kind, s):
    p = os.path.join(out, f"{kind}-{s}.json")
    try:
        return json.load(open(p))
    except (OSError, ValueError):
        return None

for kind in kinds:
    if kind == "rate":
        print(f"\n### {int(rate):,} publishes/s to {subs:,} subscribers (target {int(rate) * subs:,} deliveries/s)\n")
    else:
        print(f"\n### Maximum: as fast as delivered, at most {depth} publishes in flight, {subs:,} subscribers\n")
    print("| server | publishes/s | deliveries/s | p50 (ms) | p99 (ms) | max (ms) | losses | server CPU-s | deliveries per server-CPU-s | swbench CPU (cores) | other load (cores) | errors |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    res = {s: load(kind, s) for s in servers}
    for s in servers:
        r = res[s]
        if r is None:
            print(f"| {names[s]} | n/a (no result, see the log) |||||||||||")
            continue
        print(f"| {names[s]} | {r['publishes_per_s']:,.0f} | {r['deliveries_per_s']:,.0f} |"
              f" {r['latency_p50_us'] / 1000:,.2f} | {r['latency_p99_us'] / 1000:,.2f} |"
              f" {r['latency_max_us'] / 1000:,.2f} | {r['losses']:,} of {r['deliveries_expected']:,} |"
              f" {r['server_cpu_s']:.2f} | {r['deliveries_per_server_cpu_s']:,.0f} |"
              f" {r['client_cpu_util']:.2f} | {r['other_cpu_util']:.2f} | {r['errors']} |")
    sb = res.get("switchboard")
    ratios = []
    if sb:
        for peer in ("ws", "socketio"):
            r = res.get(peer)
            if not r:
                continue
            def q(a, b, fmt="{:.2f}"):
                return fmt.format(a / b) if b else "n/a"
            ratios.append(f"ours/{short[peer]}: deliveries/s {q(sb['deliveries_per_s'], r['deliveries_per_s'])},"
                          f" deliveries per server-CPU-s {q(sb['deliveries_per_server_cpu_s'], r['deliveries_per_server_cpu_s'])},"
                          f" p99 {q(sb['latency_p99_us'], r['latency_p99_us'], '{:.3f}')} (below 1 is better)")
    if ratios:
        print()
        for line in ratios:
            print(f"- {line}")
    for s in servers:
        r = res[s]
        if r and r["errors"]:
            print(f"\n{names[s]}: {r['errors']} errors, first: {r['first_error']}")
        if r and r["subscribers_confirmed"] < subs:
            print(f"\n{names[s]}: only {r['subscribers_confirmed']} of {subs} subscribers confirmed")
        if r and r["other_cpu_util"] > 0.1:
            print(f"\nNoisy: other processes used {r['other_cpu_util']:.2f} cores during the {names[s]} run.")
        if r and r["client_cpu_util"] > 0.9:
            print(f"\nswbench was CPU-bound in the {names[s]} run ({r['client_cpu_util']:.2f} cores):"
                  " deliveries/s may understate the server; compare deliveries per server-CPU-s.")
EOF
} >"$report"

cat "$report"
if [ "$results" != /dev/null ]; then
  cat "$report" >>"$results"
  log "appended to $results"
fi
