// switchboard: the daemon. With no arguments it listens on 127.0.0.1:8080 and serves
//   /echo        WebSocket echo (each message back with its opcode)
//   /broadcast   WebSocket broadcast (each message to every /broadcast client)
//   /sgc         the default sgc protocol (protocols/sgc/: channels, RPC, QoS, queues)
//   /sse/<ch>    channel <ch> of that protocol as Server-Sent Events
//   /sgc.js      its browser client, /chat the chat demo on it (web_assets.hpp)
//   /            the status page, refreshed live from /status.json
//   /metrics     Prometheus text
// plus static files from --document-root. SIGINT/SIGTERM close every connection with 1001.
#include "actors/hub.hpp"
#include "options.hpp"
#include "protocols/sgc/server.hpp"
#include "runtime/metrics.hpp"
#include "runtime/server.hpp"
#include "status_page.hpp"
#include "web_assets.hpp"

#include <chrono>
#include <cstdio>
#include <exception>
#include <memory>
#include <string>

using namespace switchboard;

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

  try {
    actors::hub_options hub_options;
    hub_options.server = options.server;
    actors::hub hub(hub_options);
    std::unique_ptr<protocols::sgc::server> sgc;
    if (!options.sgc_path.empty()) {
      sgc = std::make_unique<protocols::sgc::server>(hub.system(), hub.server());
      sgc->attach(options.sgc_path);
      sgc->attach_sse("/sse/");  // GET /sse/<channel>: the channel as Server-Sent Events
      hub.on_stopped([&sgc] { sgc->stop(); });
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
    if (sgc) {
      // The page finds the WebSocket route in <meta name="sgc-path" content="/sgc">.
      std::string chat(app::chat_html());
      const std::string meta = "<meta name=\"sgc-path\" content=\"/sgc\">";
      if (const auto at = chat.find(meta); at != std::string::npos && options.sgc_path != "/sgc") {
        std::string path;  // an HTML attribute value
        for (const char c : options.sgc_path)
          path += c == '"' ? "&quot;" : c == '&' ? "&amp;" : c == '<' ? "&lt;" : std::string(1, c);
        chat.replace(at, meta.size(), "<meta name=\"sgc-path\" content=\"" + path + "\">");
      }
      hub.on_http("/chat", [chat](const runtime::http_request&, runtime::http_response& r) {
        r.content_type = "text/html; charset=utf-8";
        r.body = chat;
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
    hub.on_http(
        "/metrics", [&hub, process](const runtime::http_request&, runtime::http_response& r) {
          r.content_type = "text/plain; version=0.0.4; charset=utf-8";
          r.body = runtime::render_prometheus(hub.server().stats(), process(), SWITCHBOARD_VERSION);
          return true;
        });
    hub.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "switchboard: %s\n", e.what());
    return 1;
  }
  return 0;
}
