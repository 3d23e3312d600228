#include "status_page.hpp"

namespace switchboard::app {

std::string_view status_page_html() {
  static constexpr std::string_view html = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Switchboard status</title>
<style>
  :root { color-scheme: light dark; --fg:#1d2433; --muted:#6b7385; --card:#f5f7fb; --accent:#2f6fec; }
  @media (prefers-color-scheme: dark) { :root { --fg:#e6e9f0; --muted:#97a0b3; --card:#1c2230; } }
  body { font: 15px/1.45 system-ui, sans-serif; margin: 0; color: var(--fg); }
  header { padding: 20px 28px; border-bottom: 1px solid #8883; display:flex; align-items:baseline; gap:14px; }
  h1 { font-size: 20px; margin: 0; }
  .muted { color: var(--muted); }
  main { padding: 24px 28px; display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 14px; }
  .card { background: var(--card); border-radius: 10px; padding: 14px 16px; }
  .card .label { color: var(--muted); font-size: 13px; }
  .card .value { font-size: 24px; font-variant-numeric: tabular-nums; margin-top: 4px; }
  .card .rate { color: var(--muted); font-size: 13px; font-variant-numeric: tabular-nums; }
  #state.ok { color: #1f9d55; } #state.down { color: #d33; }
  footer { padding: 0 28px 24px; font-size: 13px; }
  a { color: var(--accent); }
</style>
</head>
<body>
<header><h1>Switchboard</h1><span class="muted" id="version"></span><span id="state">connecting…</span></header>
<main id="cards"></main>
<footer class="muted">Refreshed every second from <a href="/status.json">/status.json</a>.
Prometheus: <a href="/metrics">/metrics</a>. WebSocket echo: <code>/echo</code>.</footer>
<script>
const fields = [
  ["uptime_seconds", "Uptime", v => fmtDuration(v)],
  ["websockets_open", "WebSocket connections", fmt],
  ["connections_open", "Sockets open", fmt],
  ["connections_accepted_total", "Sockets accepted", fmt, true],
  ["messages_in_total", "Messages in", fmt, true],
  ["messages_out_total", "Messages out", fmt, true],
  ["bytes_in_total", "Bytes in", fmtBytes, true],
  ["bytes_out_total", "Bytes out", fmtBytes, true],
  ["http_requests_total", "HTTP requests", fmt, true],
  ["resident_bytes", "Memory (RSS)", fmtBytes],
  ["slow_consumer_closes_total", "Slow consumers closed", fmt],
  ["protocol_errors_total", "Protocol errors", fmt],
];
function fmt(v) { return Math.round(v).toLocaleString(); }
function fmtBytes(v) { const u = ["B","KiB","MiB","GiB","TiB"]; let i = 0; while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; } return v.toFixed(i ? 1 : 0) + " " + u[i]; }
function fmtDuration(s) { s = Math.floor(s); const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60); return (d ? d + "d " : "") + (h || d ? h + "h " : "") + m + "m " + (s % 60) + "s"; }
const cards = document.getElementById("cards");
for (const [key, label] of fields) {
  cards.insertAdjacentHTML("beforeend", `<div class="card"><div class="label">${label}</div><div class="value" id="v-${key}">–</div><div class="rate" id="r-${key}">&nbsp;</div></div>`);
}
let last = null;
async function refresh() {
  const state = document.getElementById("state");
  try {
    const s = await (await fetch("/status.json", {cache: "no-store"})).json();
    document.getElementById("version").textContent = "v" + s.version;
    for (const [key, , f, rate] of fields) {
      document.getElementById("v-" + key).textContent = f(s[key] ?? 0);
      if (rate && last) {
        const dt = s.uptime_seconds - last.uptime_seconds;
        if (dt > 0) document.getElementById("r-" + key).textContent = f((s[key] - last[key]) / dt) + " /s";
      }
    }
    last = s;
    state.textContent = "up"; state.className = "ok";
  } catch (e) {
    state.textContent = "unreachable"; state.className = "down";
  }
}
refresh(); setInterval(refresh, 1000);
</script>
</body>
</html>
)html";
  return html;
}

}  // namespace switchboard::app
