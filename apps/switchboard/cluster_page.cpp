// cluster_page.cpp: the /cluster page, /cluster.json and the cluster lines of /metrics
// (cluster_page.hpp). The page is static HTML that polls /cluster.json once a second, like the
// status page, so the daemon renders nothing per viewer but one JSON document.
#include "cluster_page.hpp"

#include "runtime/text.hpp"

namespace switchboard::app {
namespace {

// A Prometheus label value: backslash, quote and newline escaped.
std::string label(const std::string& s) {
  std::string out;
  for (const char c : s) {
    if (c == '\\' || c == '"')
      out += '\\', out += c;
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

void metric(std::string& out, const char* name, const char* type, const char* help,
            std::uint64_t value) {
  out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
         name + " " + std::to_string(value) + "\n";
}

}  // namespace

std::string render_cluster_json(cluster::node& self, const cluster::broker& bus,
                                const cluster_parts& parts) {
  const cluster::balancer* lb = parts.lb;
  const auto nodes = self.nodes();
  const cluster::broker_stats link = bus.stats();
  std::string j = "{\"self\":" + runtime::json_quote(self.id()) + ",\"nodes\":[";
  bool first = true;
  for (const auto& n : nodes) {
    if (!first) j += ",";
    first = false;
    j += "{\"id\":" + runtime::json_quote(n.id) + ",\"role\":" + runtime::json_quote(n.role) +
         ",\"url\":" + runtime::json_quote(n.url) + ",\"load\":" + std::to_string(n.load) +
         ",\"connections\":" + std::to_string(n.connections) +
         ",\"started_ms\":" + std::to_string(n.started_ms) +
         ",\"draining\":" + (n.draining ? "true" : "false") +
         ",\"self\":" + (n.self ? "true" : "false") + "}";
  }
  j += "],\"link\":{\"endpoint\":" + runtime::json_quote(link.endpoint) +
       ",\"connected\":" + (link.connected ? "true" : "false") +
       ",\"outages\":" + std::to_string(link.outages) +
       ",\"reconnects\":" + std::to_string(link.reconnects) +
       ",\"published\":" + std::to_string(link.published) +
       ",\"received\":" + std::to_string(link.received) +
       ",\"failed\":" + std::to_string(link.failed) + ",\"topics\":" + std::to_string(link.topics) +
       ",\"dropped\":" + std::to_string(link.dropped) +
       ",\"last_error\":" + runtime::json_quote(link.last_error) + "}";
  if (parts.sgc) {
    const auto s = parts.sgc->stats();
    j += ",\"sgc\":{\"outbox\":" + std::to_string(s.outbox) +
         ",\"refused\":" + std::to_string(s.refused) + ",\"dropped\":" + std::to_string(s.dropped) +
         ",\"rpc_forwarded\":" + std::to_string(s.rpc_forwarded) +
         ",\"rpc_timeouts\":" + std::to_string(s.rpc_timeouts) +
         ",\"remote_connections\":" + std::to_string(s.known_guids) + "}";
  }
  if (lb) {
    const auto s = lb->stats();
    j += ",\"balancer\":{\"assigned\":" + std::to_string(s.assigned) +
         ",\"redirected\":" + std::to_string(s.redirected) +
         ",\"proxied\":" + std::to_string(s.proxied) +
         ",\"proxy_failed\":" + std::to_string(s.proxy_failed) +
         ",\"no_node\":" + std::to_string(s.no_node) +
         ",\"tunnels_open\":" + std::to_string(s.tunnels_open) + "}";
  }
  return j + "}";
}

std::string render_cluster_prometheus(cluster::node& self, const cluster::broker& bus,
                                      const cluster_parts& parts) {
  const cluster::balancer* lb = parts.lb;
  const auto nodes = self.nodes();
  const cluster::broker_stats link = bus.stats();
  std::string out;
  metric(out, "switchboard_cluster_nodes_live", "gauge",
         "Live nodes in the registry, this one included.", nodes.size());
  metric(out, "switchboard_cluster_link_up", "gauge",
         "1 while the link to the cluster broker is up.", link.connected ? 1 : 0);
  metric(out, "switchboard_cluster_outages_total", "counter", "Losses of the broker link.",
         link.outages);
  metric(out, "switchboard_cluster_reconnects_total", "counter",
         "Broker links re-established after a loss.", link.reconnects);
  metric(out, "switchboard_cluster_published_total", "counter",
         "Messages published to the other nodes.", link.published);
  metric(out, "switchboard_cluster_received_total", "counter",
         "Messages received from the other nodes.", link.received);
  metric(out, "switchboard_cluster_failed_total", "counter",
         "Broker operations answered with an error.", link.failed);
  metric(out, "switchboard_cluster_topics", "gauge",
         "Broker topics this node subscribes to (federated channels, groups, presence).",
         link.topics);
  // Malformed messages from other nodes, wherever they were caught: the broker's framing or a
  // bridge's envelope.
  std::uint64_t dropped = link.dropped;
  if (parts.sgc) {
    const auto s = parts.sgc->stats();
    dropped += s.dropped;
    metric(out, "switchboard_cluster_sgc_outbox", "gauge",
           "sgc publishes waiting for the broker link (delivered locally already).", s.outbox);
    metric(out, "switchboard_cluster_sgc_refused_total", "counter",
           "sgc publishes refused with -32004: the outbox was full.", s.refused);
    metric(out, "switchboard_cluster_sgc_rpc_forwarded_total", "counter",
           "RPCs sent to the node that serves the method.", s.rpc_forwarded);
    metric(out, "switchboard_cluster_sgc_rpc_timeouts_total", "counter",
           "Forwarded RPCs answered with a timeout.", s.rpc_timeouts);
  }
  if (parts.presence) {
    const auto s = parts.presence->stats();
    dropped += s.dropped;
    metric(out, "switchboard_cluster_presence_applied_total", "counter",
           "Presence changes of other nodes applied here.", s.applied);
  }
  if (parts.hub) {
    const auto s = parts.hub->stats();
    dropped += s.dropped;
    metric(out, "switchboard_cluster_hub_applied_total", "counter",
           "Broadcasts of other nodes delivered here.", s.applied);
  }
  metric(out, "switchboard_cluster_dropped_total", "counter",
         "Malformed messages from other nodes, dropped.", dropped);
  out +=
      "# HELP switchboard_cluster_node_load Open WebSocket connections of each live node.\n"
      "# TYPE switchboard_cluster_node_load gauge\n";
  for (const auto& n : nodes)
    out += "switchboard_cluster_node_load{node=\"" + label(n.id) + "\",role=\"" + label(n.role) +
           "\",draining=\"" + (n.draining ? "true" : "false") + "\"} " + std::to_string(n.load) +
           "\n";
  if (lb) {
    const auto s = lb->stats();
    metric(out, "switchboard_balancer_assigned_total", "counter", "Clients sent to a node.",
           s.assigned);
    metric(out, "switchboard_balancer_redirected_total", "counter",
           "WebSocket upgrades answered 307.", s.redirected);
    metric(out, "switchboard_balancer_proxied_total", "counter",
           "WebSocket upgrades relayed to a node.", s.proxied);
    metric(out, "switchboard_balancer_proxy_failed_total", "counter",
           "Relays whose node could not be reached.", s.proxy_failed);
    metric(out, "switchboard_balancer_no_node_total", "counter",
           "Requests answered 503: no live node.", s.no_node);
    metric(out, "switchboard_balancer_tunnels_open", "gauge", "Relayed connections open now.",
           s.tunnels_open);
  }
  return out;
}

std::string_view cluster_page_html() {
  static constexpr std::string_view html = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Switchboard cluster</title>
<style>
  :root { color-scheme: light dark; --fg:#1d2433; --muted:#6b7385; --card:#f5f7fb; --accent:#2f6fec; }
  @media (prefers-color-scheme: dark) { :root { --fg:#e6e9f0; --muted:#97a0b3; --card:#1c2230; } }
  body { font: 15px/1.45 system-ui, sans-serif; margin: 0; color: var(--fg); }
  header { padding: 20px 28px; border-bottom: 1px solid #8883; display:flex; align-items:baseline; gap:14px; }
  h1 { font-size: 20px; margin: 0; } h2 { font-size: 16px; margin: 22px 0 8px; }
  .muted { color: var(--muted); }
  main { padding: 0 28px 24px; }
  table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
  th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid #8883; }
  th { color: var(--muted); font-weight: normal; font-size: 13px; }
  .ok { color: #1f9d55; } .down { color: #d33; } .drain { color: #c80; }
  a { color: var(--accent); }
</style>
</head>
<body>
<header><h1>Switchboard cluster</h1><span class="muted" id="self"></span><span id="state">connecting…</span></header>
<main>
<h2>Nodes</h2>
<table><thead><tr><th>Node</th><th>Role</th><th>URL</th><th>Load</th><th>State</th><th>Up since</th></tr></thead>
<tbody id="nodes"></tbody></table>
<h2>Broker link</h2>
<table><tbody id="link"></tbody></table>
<h2 id="lb-title" hidden>Balancer</h2>
<table><tbody id="lb"></tbody></table>
<p class="muted">Refreshed every second from <a href="/cluster.json">/cluster.json</a>.
Prometheus: <a href="/metrics">/metrics</a>.</p>
</main>
<script>
const esc = s => String(s).replace(/[&<>"]/g, c => ({"&":"&amp;","<":"&lt;",">":"&gt;","\"":"&quot;"}[c]));
const rows = o => Object.entries(o).map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join("");
async function refresh() {
  const state = document.getElementById("state");
  try {
    const c = await (await fetch("/cluster.json", {cache: "no-store"})).json();
    document.getElementById("self").textContent = "node " + c.self;
    document.getElementById("nodes").innerHTML = c.nodes.map(n =>
      `<tr><td>${esc(n.id)}${n.self ? " (this one)" : ""}</td><td>${esc(n.role)}</td><td>${esc(n.url)}</td>` +
      `<td>${n.load}</td><td class="${n.draining ? "drain" : "ok"}">${n.draining ? "draining" : "live"}</td>` +
      `<td>${new Date(n.started_ms).toLocaleString()}</td></tr>`).join("");
    const l = c.link;
    document.getElementById("link").innerHTML =
      `<tr><th>endpoint</th><td>${esc(l.endpoint)}</td></tr>` +
      `<tr><th>connected</th><td class="${l.connected ? "ok" : "down"}">${l.connected ? "yes" : "no"}</td></tr>` +
      rows({"topics subscribed": l.topics, outages: l.outages, reconnects: l.reconnects,
            published: l.published, received: l.received, failed: l.failed,
            "last error": l.last_error || "–"});
    if (c.balancer) {
      document.getElementById("lb-title").hidden = false;
      document.getElementById("lb").innerHTML = rows(c.balancer);
    }
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
