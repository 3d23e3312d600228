#!/usr/bin/env bash
# run_echo.sh: the echo benchmark. The Switchboard daemon and the Boost.Beast peer
# (peers/beast_echo_server.cpp) run the same four scenarios in the same run, one server at a time,
# each pinned to CPU 0 while swbench runs pinned to CPU 1. Appends a dated section with the
# machine, the exact commands and one table per scenario to tests/bench/RESULTS.md.
# See tests/bench/README.md for what the scenarios mean and how to read the figures.
#
# Usage: tests/bench/run_echo.sh   (2 minutes on an idle machine, at most 4 when runs are repeated;
#                                    builds what is missing first; as long again per extra mode)
# Environment: BUILD_DIR (build), DURATION (10), WARMUP (2), SERVERS ("switchboard beast"),
#   SCENARIOS ("a b c d"), MODES ("plain"; any of "plain tls deflate": tls is wss with a
#   throwaway self-signed certificate made here with the openssl CLI, deflate is
#   permessage-deflate with JSON-like payloads), SB_PORT (18080), BEAST_PORT (18081),
#   SERVER_CPU (0), CLIENT_CPU (1), RESULTS (tests/bench/RESULTS.md; /dev/null for a dry run),
#   KEEP (1: keep the raw JSON), NOISE_LIMIT (0.1) and RETRIES (1): a run during which other
#   processes used more than NOISE_LIMIT cores is repeated up to RETRIES times (see below).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${BUILD_DIR:-$root/build}
duration=${DURATION:-10}
warmup=${WARMUP:-2}
servers=${SERVERS:-switchboard beast}
scenarios=${SCENARIOS:-a b c d}
modes=${MODES:-plain}
sb_port=${SB_PORT:-18080}
beast_port=${BEAST_PORT:-18081}
server_cpu=${SERVER_CPU:-0}
client_cpu=${CLIENT_CPU:-1}
results=${RESULTS:-$root/tests/bench/RESULTS.md}
out=$(mktemp -d /tmp/sb-bench-echo.XXXXXX)
server_pid=

# Scenario: connections, payload bytes, depth (messages in flight per connection).
declare -A scenario_args=([a]="100 32 1" [b]="1000 32 1" [c]="100 512 8" [d]="1000 512 4")

log() { echo "run_echo: $*" >&2; }

for m in $modes; do
  case $m in
    plain | tls | deflate) ;;
    *) log "unknown mode $m (plain, tls, deflate)"; exit 2 ;;
  esac
done

# stop_server, cleanup (on exit), port_listening, busy_ticks, start_server, idle_check.
. "$root/tests/bench/lib.sh"


# TLS runs use a throwaway self-signed certificate (P-256), made for this run.
cert=$out/cert.pem
key=$out/key.pem

server_command() {  # name [mode] -> the command line, without taskset
  local extra=
  case ${2:-plain} in
    tls) extra=" --tls-cert $cert --tls-key $key" ;;  # the daemon's follow their --listen
    deflate) extra=" --permessage-deflate" ;;
  esac
  case $1 in
    switchboard) echo "$build/bin/switchboard --listen 127.0.0.1:$sb_port$extra --threads 1 --log-level warn" ;;
    beast) echo "$build/bin/beast_echo_server --listen 127.0.0.1:$beast_port$extra --threads 1" ;;
  esac
}

server_port() { [ "$1" = switchboard ] && echo "$sb_port" || echo "$beast_port"; }

start_server_mode() {  # name mode
  # shellcheck disable=SC2046 # the command line is split on purpose
  start_server "$1" "$(server_port "$1")" $(server_command "$1" "$2")
}

swbench_command() {  # name scenario [mode] -> the command line, without taskset and per-run flags
  local conns size depth extra=
  read -r conns size depth <<<"${scenario_args[$2]}"
  case ${3:-plain} in
    tls) extra=" --tls" ;;
    deflate) extra=" --deflate" ;;
  esac
  echo "$build/bin/swbench echo --url ws://127.0.0.1:$(server_port "$1")/echo" \
    "--connections $conns --size $size --depth $depth --duration $duration --warmup $warmup$extra"
}

# Build what is missing (the daemon is the lead's target; the peer and swbench are ours).
[ "$(nproc)" -ge 2 ] || log "warning: fewer than 2 CPUs: server and swbench will share one"
targets=()
for s in $servers; do
  case $s in
    switchboard) targets+=(switchboard) ;;
    beast) targets+=(beast_echo_server) ;;
    *) log "unknown server $s"; exit 2 ;;
  esac
done
[ -f "$build/CMakeCache.txt" ] || cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >&2
cmake --build "$build" -j"$(nproc)" --target swbench "${targets[@]}" >&2

case " $modes " in
  *" tls "*)
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
      -subj /CN=127.0.0.1 -keyout "$key" -out "$cert" 2>"$out/openssl.log" || {
      log "openssl could not make the test certificate:"
      cat "$out/openssl.log" >&2
      exit 1
    }
    ;;
esac

# Busy CPUs over 2 s before the first run: other work skews every figure.
idle_check=$(idle_check)
awk -v b="$idle_check" 'BEGIN{exit !(b > 0.2)}' &&
  log "warning: the machine is not idle ($idle_check CPUs busy before the run)"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u '+%Y-%m-%d %H:%M UTC')
# One measurement of server $1 in scenario $2, mode $4, attempt $3, into
# $out/$4-$2-$1.$3.{json,txt}.
measure() {
  local base=$out/$4-$2-$1.$3 rc
  start_server_mode "$1" "$4"
  set +e
  # shellcheck disable=SC2046 # the command line is split on purpose
  timeout "$(awk -v d="$duration" -v w="$warmup" 'BEGIN{print int(d + w + 90)}')" \
    taskset -c "$client_cpu" $(swbench_command "$1" "$2" "$4") \
    --server-pid "$server_pid" --json "$base.json" --quiet >"$base.txt" 2>&1
  rc=$?
  set -e
  cat "$base.txt" >&2
  [ "$rc" -le 1 ] || log "swbench exited with $rc"
  kill -0 "$server_pid" 2>/dev/null || log "warning: $1 died during scenario $2"
  stop_server
}

# CPU time other processes took during a measurement (cores), from its JSON; 9 if none.
other_load() {
  awk -F': ' '/"other_cpu_util"/{v=$2; sub(/,$/, "", v); print v + 0; found=1} END{if (!found) print 9}' \
    "$1" 2>/dev/null || echo 9
}

# Other work on the machine comes in bursts: a measurement during which other processes used
# more than $noise_limit cores is repeated, up to $retries times, and the least disturbed attempt
# is kept (chosen by that noise figure alone, never by the result). The table says so.
noise_limit=${NOISE_LIMIT:-0.1}
retries=${RETRIES:-1}
for sc in $scenarios; do
  [ -n "${scenario_args[$sc]:-}" ] || { log "unknown scenario $sc"; exit 2; }
done
for mode in $modes; do
  for sc in $scenarios; do
    for s in $servers; do
      best='' best_other=''
      for attempt in $(seq $((retries + 1))); do
        log "$mode, scenario $sc (${scenario_args[$sc]}): $s, attempt $attempt"
        measure "$s" "$sc" "$attempt" "$mode"
        other=$(other_load "$out/$mode-$sc-$s.$attempt.json")
        if [ -z "$best" ] || awk -v a="$other" -v b="$best_other" 'BEGIN{exit !(a < b)}'; then
          best=$attempt best_other=$other
        fi
        awk -v a="$other" -v l="$noise_limit" 'BEGIN{exit !(a > l)}' || break
        log "other processes used $other cores during that run"
      done
      [ -f "$out/$mode-$sc-$s.$best.json" ] && cp "$out/$mode-$sc-$s.$best.json" "$out/$mode-$sc-$s.json"
      echo "$attempt $best" >"$out/$mode-$sc-$s.attempts"
    done
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# The RESULTS.md section.
report=$out/section.md
mode_names() {  # "plain tls deflate" -> "plain, wss and permessage-deflate"
  local names=() m
  for m in $modes; do
    case $m in
      plain) names+=(plain) ;;
      tls) names+=(wss) ;;
      deflate) names+=(permessage-deflate) ;;
    esac
  done
  local n=${#names[@]} text=${names[0]} i
  for ((i = 1; i < n; i++)); do
    if ((i == n - 1)); then text+=" and ${names[i]}"; else text+=", ${names[i]}"; fi
  done
  echo "$text"
}
{
  echo
  if [ "$modes" = plain ]; then echo "## Echo, $started"; else echo "## Echo ($(mode_names)), $started"; fi
  echo
  echo "- Machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), kernel $(uname -r)"
  echo "- Tree: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo 'no commit yet')$(git -C "$root" status --porcelain 2>/dev/null | grep -q . && echo ' + uncommitted changes')"
  echo "- Idle check: $idle_check CPUs busy in the 2 s before the first run; load average before / after: $load_before / $load_after (other work skews the figures: see the \"other load\" rows)"
  echo "- Pinning: server on CPU $server_cpu, swbench on CPU $client_cpu (\`taskset -c\`); ${duration} s measured after ${warmup} s warmup"
  case " $modes " in
    *" tls "*) echo "- TLS: \`CERT\` and \`KEY\` are a throwaway self-signed P-256 certificate made for the run (\`openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=127.0.0.1\`); swbench does not verify it. Protocol and cipher as agreed: $(/usr/bin/python3 -c 'import json,glob,sys; r=[json.load(open(p)).get("tls_session","") for p in sorted(glob.glob(sys.argv[1]+"/tls-*-*.json"))]; print(", ".join(sorted(set(x for x in r if x))) or "n/a")' "$out")" ;;
  esac
  case " $modes " in
    *" deflate "*) echo "- permessage-deflate: both servers at zlib level 6, memLevel 1, window 15, context takeover negotiated both ways (Beast compresses with its own zlib port, every message, and ends each with a full flush that drops its history; the daemon compresses messages of 32 B and up); swbench at level 6, memLevel 8. Payloads: JSON-like text cut to the size (see tests/bench/README.md), numbers and names changing per message; echoes compared byte for byte" ;;
  esac
  echo "- Commands (\`PID\` is the server's pid):"
  for mode in $modes; do
    for s in $servers; do
      echo "  - $([ "$modes" = plain ] || echo "$mode, ")\`taskset -c $server_cpu $(server_command "$s" "$mode" | sed -e "s|$root/||" -e "s|$cert|CERT|" -e "s|$key|KEY|")\`"
    done
  done
  for mode in $modes; do
    for sc in $scenarios; do
      for s in $servers; do
        echo "  - $([ "$modes" = plain ] || echo "$mode, ")$sc, $s: \`taskset -c $client_cpu $(swbench_command "$s" "$sc" "$mode" | sed "s|$root/||") --server-pid PID\`"
      done
    done
  done
  /usr/bin/python3 - "$out" "$scenarios" "${scenario_args[a]}" "${scenario_args[b]}" \
    "${scenario_args[c]}" "${scenario_args[d]}" "$servers" "$modes" "$noise_limit" <<'EOF'
import glob, json, os, sys
out, scenarios, servers = sys.argv[1], sys.argv[2].split(), sys.argv[7].split()
args = dict(zip("abcd", sys.argv[3:7]))
modes, noise_limit = sys.argv[8].split(), float(sys.argv[9])
names = {"switchboard": "Switchboard", "beast": "Beast"}
mode_titles = {"plain": "", "tls": "wss: ", "deflate": "permessage-deflate: "}

# How noisy the machine was: other load in every measurement taken, kept or not.
others, repeated, total = [], 0, 0
for mode in modes:
    for sc in scenarios:
        for s in servers:
            total += 1
            tried = os.path.join(out, f"{mode}-{sc}-{s}.attempts")
            if os.path.exists(tried) and open(tried).read().split()[0] != "1":
                repeated += 1
            for p in glob.glob(os.path.join(out, f"{mode}-{sc}-{s}.[0-9]*.json")):
                try:
                    others.append(json.load(open(p))["other_cpu_util"])
                except (ValueError, KeyError):
                    pass
if others:
    others.sort()
    print(f"- Noise: other processes used {others[0]:.2f} to {others[-1]:.2f} cores (median"
          f" {others[len(others) // 2]:.2f}) during the {len(others)} measurements taken;"
          f" {repeated} of {total} were repeated for exceeding NOISE_LIMIT {noise_limit:g}"
          " (see the \"other load\" rows and the notes under the tables)")

def load(mode, sc, s):
    p = os.path.join(out, f"{mode}-{sc}-{s}.json")
    return json.load(open(p)) if os.path.exists(p) else None

rows = [  # label, key or function, format, ratio?
    ("msgs/s", "msgs_per_s", "{:,.0f}", True),
    ("msgs per server-CPU-s", "msgs_per_server_cpu_s", "{:,.0f}", True),
    ("latency p50 (µs)", "latency_p50_us", "{:,.0f}", True),
    ("latency p99 (µs)", "latency_p99_us", "{:,.0f}", True),
    ("latency p99.9 (µs)", "latency_p999_us", "{:,.0f}", True),
    ("server CPU (cores)", "server_cpu_util", "{:.2f}", False),
    ("swbench CPU (cores)", "client_cpu_util", "{:.2f}", False),
    ("other load (cores)", "other_cpu_util", "{:.2f}", False),
    ("server RSS (MiB)", lambda r: r["server_rss_bytes"] / 1048576, "{:.1f}", False),
    ("errors", "errors", "{:d}", False),
]
deflate_rows = [
    ("server's compressed size (of payload)", "deflate_received_ratio", "{:.3f}", True),
    ("swbench's compressed size (of payload)", "deflate_sent_ratio", "{:.3f}", False),
]
for mode, sc in [(m, sc) for m in modes for sc in scenarios]:
    conns, size, depth = args[sc].split()
    kind = "JSON-like text" if mode == "deflate" and int(size) >= 17 else "text"
    print(f"\n### ({sc}) {mode_titles[mode]}{int(conns):,} connections, {size} B {kind}, depth {depth}\n")
    res = {s: load(mode, sc, s) for s in servers}
    ratio = "switchboard" in servers and "beast" in servers
    head = "| | " + " | ".join(names[s] for s in servers) + (" | ours/Beast |" if ratio else " |")
    print(head)
    print("|---" * (len(servers) + 1 + ratio) + "|")
    for label, key, fmt, has_ratio in rows + (deflate_rows if mode == "deflate" else []):
        get = key if callable(key) else (lambda r, k=key: r[k])
        vals = [get(res[s]) if res[s] else None for s in servers]
        cells = [fmt.format(v) if v is not None else "n/a" for v in vals]
        line = f"| {label} | " + " | ".join(cells)
        if ratio:
            a, b = get(res["switchboard"]) if res["switchboard"] else None, get(res["beast"]) if res["beast"] else None
            line += " | " + (f"{a / b:.2f}" if has_ratio and a is not None and b else "")
        print(line + " |")
    for s in servers:
        r = res[s]
        tried = os.path.join(out, f"{mode}-{sc}-{s}.attempts")
        if os.path.exists(tried):
            n, kept = open(tried).read().split()
            if n != "1":
                print(f"\n{names[s]}: {n} attempts (other processes were busy); attempt {kept},"
                      " the least disturbed, is shown.")
        if r and r["other_cpu_util"] > noise_limit:
            print(f"\nNoisy: other processes used {r['other_cpu_util']:.2f} cores during the"
                  f" {names[s]} run; rerun on an idle machine before trusting it.")
        if r and r["client_cpu_util"] > 0.9:
            print(f"\nswbench was CPU-bound in the {names[s]} run ({r['client_cpu_util']:.2f} cores):"
                  f" msgs/s understates {names[s]}; compare msgs per server-CPU-s.")
        if res[s] and res[s]["errors"]:
            print(f"\n{names[s]}: {res[s]['errors']} errors, first: {res[s]['first_error']}")
        if res[s] is None:
            print(f"\n{names[s]}: no result (see the run's log)")
EOF
} >"$report"

cat "$report"
if [ "$results" != /dev/null ]; then
  [ -f "$results" ] || printf '# Benchmark results\n\nAppended by the scripts in this folder; newest last. See README.md for how to read them.\n' >"$results"
  cat "$report" >>"$results"
  log "appended to $results"
fi
