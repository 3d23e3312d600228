// switchboard: the daemon. With no arguments it listens on 127.0.0.1:8080 and serves
//   /echo        WebSocket echo (each message back with its opcode)
//   /broadcast   WebSocket broadcast (each message to every /broadcast client)
//   /sgc         the default sgc protocol (protocols/sgc/: channels, RPC, QoS, queues)
//   /sse/<ch>    channel <ch> of that protocol as Server-Sent Events
//   /sgc.js      its browser client, /chat the chat demo on it (web_assets.hpp)
//   /ws/presence the Presence protocol (protocols/presence/: members, channels, invitations)
//   /ws/files    the Files protocol (protocols/files/: transfers with QoS 0/1/2; a file sent to
//                a channel is relayed to the channel's other subscribers)
//   /presence.js, /files.js  their browser clients; /presence the demo on both
//   /            the status page, refreshed live from /status.json
//   /metrics     Prometheus text (with the cluster's switchboard_cluster_* lines)
//   /cluster     the cluster page (nodes, load, the broker link), from /cluster.json
// plus static files from --document-root. SIGINT/SIGTERM drain the node (the balancer sends
// nobody more, the registry forgets it), then close every connection with 1001.
//
// Every daemon is a cluster node (cluster/node.hpp): alone on the in-process broker by default,
// or with --cluster redis://... one of many. With --role balancer it serves the load balancer
// (cluster/balancer.hpp: GET /lb/node, 307 or proxy for upgrades) instead of the protocols; its
// /broadcast stays, and the hub bridge carries what is sent there to every node.
#include "actors/hub.hpp"
#include "cluster/balancer.hpp"
#include "cluster/broker.hpp"
#include "cluster/hub_bridge.hpp"
#include "cluster/node.hpp"
#include "cluster/presence_bridge.hpp"
#include "cluster/sgc_bridge.hpp"
#include "cluster_page.hpp"
#include "options.hpp"
#include "protocols/files/server.hpp"
#include "protocols/presence/server.hpp"
#include "protocols/sgc/server.hpp"
#include "runtime/metrics.hpp"
#include "runtime/server.hpp"
#include "status_page.hpp"
#include "web_assets.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <string>

using namespace switchboard;

namespace {

// `html` with <meta name="NAME" content="DEFAULT"> naming `value` instead (an HTML attribute).
std::string with_meta(std::string html, const std::string& name, const std::string& fallback,
                      const std::string& value) {
  const std::string meta = "<meta name=\"" + name + "\" content=\"" + fallback + "\">";
  const auto at = html.find(meta);
  if (at == std::string::npos || value == fallback) return html;
  std::string attr;
  for (const char c : value)
    attr += c == '"' ? "&quot;" : c == '&' ? "&amp;" : c == '<' ? "&lt;" : std::string(1, c);
  html.replace(at, meta.size(), "<meta name=\"" + name + "\" content=\"" + attr + "\">");
  return html;
}

// The default receive directory is in a shared temporary directory: create it private, and
// refuse one that another user made (or a symlink planted there).
void prepare_default_files_dir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    throw runtime::config_error("cannot create " + dir + ": " + std::strerror(errno));
  struct stat st;
  if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::getuid())
    throw runtime::config_error(dir + " is not a directory of this user (give --files-dir)");
}

// What other nodes and the balancer give clients: --advertise, else the first listen address.
std::string advertised_url(const app::daemon_options& o) {
  if (!o.advertise.empty()) return o.advertise;
  const runtime::binding& b = o.server.bindings.front();
  const std::string host = b.host.find(':') != std::string::npos ? "[" + b.host + "]" : b.host;
  return std::string(b.tls.enabled() ? "wss://" : "ws://") + host + ":" + std::to_string(b.port);
}

}  // namespace

int main(int argc, char** argv) {
  app::daemon_options options;
  try {
    options = app::parse_command_line(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "switchboard: %s\n", e.what());
    return 2;
  }
  if (options.show_help) {
    std::fputs(app::usage(), stdout);
    return 0;
  }
  if (options.show_version) {
    std::printf("switchboard %s\n", SWITCHBOARD_VERSION);
    return 0;
  }
  runtime::log::set_level(options.log_level);

  // Block SIGINT and SIGTERM in every thread (the io and actor threads inherit the mask), then
  // wait for one below: the node drains before the hub closes its connections.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  try {
    const bool balancer_role = options.role == "balancer";
    actors::hub_options hub_options;
    hub_options.server = options.server;
    if (balancer_role) {
      // Every upgrade but /broadcast goes to a node: no echo, no application paths here.
      hub_options.echo_endpoint = false;
      hub_options.paths.clear();
    }
    actors::hub hub(hub_options);

    const std::unique_ptr<cluster::broker> bus = cluster::make_broker(options.cluster_url);
    cluster::node_options node_options;
    node_options.id = options.node_id;
    node_options.role = options.role;
    node_options.url = advertised_url(options);
    node_options.dead_after = std::chrono::milliseconds(options.cluster_dead_after_ms);
    cluster::node self(*bus, node_options);
    self.set_load_source([&hub] { return hub.server().stats().websockets_open; });
    std::unique_ptr<cluster::balancer> lb;
    if (balancer_role) {
      cluster::balancer_options bo;
      bo.mode = *cluster::parse_balancer_mode(options.lb_mode);
      lb = std::make_unique<cluster::balancer>(self, bo);
      lb->attach(hub.server());
      options.sgc_path.clear(), options.presence_path.clear(), options.files_path.clear();
    }

    std::unique_ptr<protocols::sgc::server> sgc;
    if (!options.sgc_path.empty()) {
      sgc = std::make_unique<protocols::sgc::server>(hub.system(), hub.server());
      sgc->attach(options.sgc_path);
      sgc->attach_sse("/sse/");  // GET /sse/<channel>: the channel as Server-Sent Events
      hub.on_stopped([&sgc] { sgc->stop(); });
    }
    std::unique_ptr<protocols::presence::server> presence;
    if (!options.presence_path.empty()) {
      presence = std::make_unique<protocols::presence::server>(hub.system(), hub.server());
      presence->attach(options.presence_path);
      hub.on_stopped([&presence] { presence->stop(); });
    }
    std::unique_ptr<protocols::files::server> files;
    if (!options.files_path.empty()) {
      if (options.files_dir == app::default_files_dir())
        prepare_default_files_dir(options.files_dir);
      protocols::files::server_options fo;
      fo.transfer.receive_dir = options.files_dir;
      fo.transfer.max_file_size = options.files_max_size;
      fo.relay_channel_files = true;  // the /presence demo: one page uploads, the room receives
      files = std::make_unique<protocols::files::server>(hub.server(), fo);
      files->attach(options.files_path);
    }

    const auto started = std::chrono::steady_clock::now();
    const auto process = [started] {
      const std::chrono::duration<double> up = std::chrono::steady_clock::now() - started;
      return runtime::read_process_info(up.count());
    };
    hub.on_http("/", [](const runtime::http_request&, runtime::http_response& r) {
      r.content_type = "text/html; charset=utf-8";
      r.body = std::string(app::status_page_html());
      return true;
    });
    hub.on_http("/sgc.js", [](const runtime::http_request&, runtime::http_response& r) {
      r.content_type = "application/javascript; charset=utf-8";
      r.body = std::string(app::sgc_js());
      return true;
    });
    hub.on_http("/presence.js", [](const runtime::http_request&, runtime::http_response& r) {
      r.content_type = "application/javascript; charset=utf-8";
      r.body = std::string(app::presence_js());
      return true;
    });
    hub.on_http("/files.js", [](const runtime::http_request&, runtime::http_response& r) {
      r.content_type = "application/javascript; charset=utf-8";
      r.body = std::string(app::files_js());
      return true;
    });
    if (sgc) {
      // The page finds the WebSocket route in <meta name="sgc-path" content="/sgc">.
      const std::string chat =
          with_meta(std::string(app::chat_html()), "sgc-path", "/sgc", options.sgc_path);
      hub.on_http("/chat", [chat](const runtime::http_request&, runtime::http_response& r) {
        r.content_type = "text/html; charset=utf-8";
        r.body = chat;
        return true;
      });
    }
    if (presence) {
      // The routes, in the presence-path and files-path meta tags ("" : no upload control).
      const std::string page =
          with_meta(with_meta(std::string(app::presence_html()), "presence-path", "/ws/presence",
                              options.presence_path),
                    "files-path", "/ws/files", options.files_path);
      hub.on_http("/presence", [page](const runtime::http_request&, runtime::http_response& r) {
        r.content_type = "text/html; charset=utf-8";
        r.body = page;
        return true;
      });
    }
    hub.on_http(
        "/status.json", [&hub, process](const runtime::http_request&, runtime::http_response& r) {
          r.content_type = "application/json";
          r.headers.emplace_back("Cache-Control", "no-store");
          r.body = runtime::render_json(hub.server().stats(), process(), SWITCHBOARD_VERSION);
          return true;
        });
    app::cluster_parts parts;  // what /cluster.json and /metrics read; the bridges join below
    parts.lb = lb.get();
    hub.on_http("/metrics", [&hub, &self, &bus, &parts, process](const runtime::http_request&,
                                                                 runtime::http_response& r) {
      r.content_type = "text/plain; version=0.0.4; charset=utf-8";
      r.body = runtime::render_prometheus(hub.server().stats(), process(), SWITCHBOARD_VERSION) +
               app::render_cluster_prometheus(self, *bus, parts);
      return true;
    });
    hub.on_http("/cluster", [](const runtime::http_request&, runtime::http_response& r) {
      r.content_type = "text/html; charset=utf-8";
      r.body = std::string(app::cluster_page_html());
      return true;
    });
    hub.on_http("/cluster.json",
                [&self, &bus, &parts](const runtime::http_request&, runtime::http_response& r) {
                  r.content_type = "application/json";
                  r.headers.emplace_back("Cache-Control", "no-store");
                  r.body = app::render_cluster_json(self, *bus, parts);
                  return true;
                });

    // What spans nodes with --cluster: the sgc protocol, presence, and the hub's broadcasts
    // and groups (/broadcast included, which is how a broadcast sent to the balancer reaches
    // every node). Without it the daemon is a one-node cluster on the local broker (its
    // /cluster page works) and the protocols serve on their own, with no hop through a broker
    // on the publish path. The sgc bridge federates its server before the first connection;
    // the others federate in start().
    const bool federated = !options.cluster_url.empty();
    std::unique_ptr<cluster::sgc_bridge> sgc_bridge;
    if (sgc && federated) sgc_bridge = std::make_unique<cluster::sgc_bridge>(*sgc, self);
    std::unique_ptr<cluster::presence_bridge> presence_bridge;
    if (presence && federated) {
      presence_bridge = std::make_unique<cluster::presence_bridge>(self, *presence);
      self.on_node_up(
          [p = presence_bridge.get()](const cluster::node_info& n) { p->node_up(n.id); });
      self.on_node_down(
          [p = presence_bridge.get()](const cluster::node_info& n) { p->node_down(n.id); });
      bus->on_link([p = presence_bridge.get()](bool up) { p->link(up); });
    }
    std::unique_ptr<cluster::hub_bridge> hub_bridge;
    if (federated) hub_bridge = std::make_unique<cluster::hub_bridge>(self, hub);
    parts.sgc = sgc_bridge.get();
    parts.presence = presence_bridge.get();
    parts.hub = hub_bridge.get();

    hub.start();
    bus->start();
    if (hub_bridge) hub_bridge->start();
    if (presence_bridge) presence_bridge->start();
    self.start();
    if (sgc_bridge) sgc_bridge->start();
    int received = 0;
    sigwait(&signals, &received);
    SB_LOG(info, "%s received: draining, then closing connections with 1001",
           received == SIGINT ? "SIGINT" : "SIGTERM");
    self.stop();                         // drain first: the balancer stops sending clients here
    if (hub_bridge) hub_bridge->stop();  // before the hub goes
    hub.stop();                          // connections close: their leaves and removals still cross
    if (presence_bridge) presence_bridge->stop();
    if (sgc_bridge) sgc_bridge->stop();
    bus->stop();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "switchboard: %s\n", e.what());
    return 1;
  }
  return 0;
}
