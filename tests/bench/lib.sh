# lib.sh: what the benchmark scripts (run_echo.sh, run_fanout.sh) share. Sourced after the
# script has set `out` (its scratch folder) and defined log(); `server_pid` is the running
# server's pid, or empty.

stop_server() {
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
