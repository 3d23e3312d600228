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
//   /metrics     Prometheus text
// plus static files from --document-root. SIGINT/SIGTERM close every connection with 1001.
#include "actors/hub.hpp"
#include "options.hpp"
#include "protocols/files/server.hpp"
#include "protocols/presence/server.hpp"
#include "protocols/sgc/server.hpp"
#include "runtime/metrics.hpp"
#include "runtime/server.hpp"
#include "status_page.hpp"
#include "web_assets.hpp"

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
