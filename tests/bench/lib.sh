# lib.sh: what the benchmark scripts (run, run_echo.sh, run_fanout.sh) share. Sourced after the
# script has set `out` (its scratch folder), `server_cpu` and defined log(); `server_pid` is the
# running server's pid, or empty; `extra_pids` lists the other processes of a multi-process
# server (the cluster scenario's other nodes and its redis-server), stopped with it.

stop_server() {
  local p
  for p in ${extra_pids:-}; do kill -TERM "$p" 2>/dev/null || true; done
  for p in ${extra_pids:-}; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  extra_pids=
  [ -n "$server_pid" ] || return 0
  kill -TERM "$server_pid" 2>/dev/null || true
  for _ in $(seq 50); do
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=
}

cleanup() {
  stop_server
  if [ "${KEEP:-0}" = 1 ]; then log "raw results kept in $out"; else rm -rf "$out"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# True if a TCP socket listens on port $1 (IPv4), from /proc/net/tcp: state 0A is LISTEN.
port_listening() {
  awk -v p=":$(printf '%04X' "$1")" '$2 ~ p "$" && $4 == "0A" {found = 1} END {exit !found}' \
    /proc/net/tcp
}

# Busy CPU ticks of the whole machine so far (user, nice, system, irq, softirq, steal).
busy_ticks() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9; exit}' /proc/stat; }

# Starts a server pinned to $server_cpu and waits until it listens: start_server NAME PORT CMD...
# Its output goes to $out/NAME.log; exits the script if it does not come up within 10 s.
start_server() {
  local name=$1 port=$2
  shift 2
  if port_listening "$port"; then
    log "port $port is already in use: stop whatever listens there first"
    exit 1
  fi
  taskset -c "$server_cpu" "$@" >>"$out/$name.log" 2>&1 &
  server_pid=$!  # taskset execs the server: same pid
  for _ in $(seq 100); do
    port_listening "$port" && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  log "$name did not start listening on $port; its output:"
  cat "$out/$name.log" >&2
  exit 1
}

# Busy CPUs (cores) over the next 2 s: other work skews every figure.
idle_check() {
  local t0 t1
  t0=$(busy_ticks); sleep 2; t1=$(busy_ticks)
  awk -v d=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.2f", d / hz / 2}'
}

# One line describing the machine, for RESULTS.md.
machine_line() {
  echo "$(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(awk '/MemTotal/{printf "%.0f GiB RAM", $2 / 1048576}' /proc/meminfo), $(uname -sr), open files $(ulimit -n)"
}

# The tree measured: commit, and whether it had uncommitted changes.
tree_line() {
  echo "$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo 'no commit yet')$(git -C "$root" status --porcelain 2>/dev/null | grep -q . && echo ' + uncommitted changes')"
}
