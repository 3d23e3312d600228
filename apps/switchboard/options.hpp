// options.hpp: the daemon's command line. A --config file is read first; flags override it.
#pragma once

#include "runtime/config.hpp"
#include "runtime/log.hpp"

#include <cstdint>
#include <string>

namespace switchboard::app {

struct daemon_options {
  runtime::server_options server;
  runtime::log::level log_level = runtime::log::level::info;
  std::string sgc_path = "/sgc";               // the default sgc protocol (esegece.com); "" = off
  std::string presence_path = "/ws/presence";  // the Presence protocol; "" = off (and no /presence)
  std::string files_path = "/ws/files";        // the Files protocol; "" = off
  // Where the Files route writes what clients send; "" = default_files_dir().
  std::string files_dir;
  std::int64_t files_max_size = std::int64_t{64} << 20;  // larger files: "File too large."
  // The cluster (cluster/): "" = a local single node; redis://HOST:PORT[/DB] joins a cluster.
  std::string cluster_url;
  std::string role = "node";  // "node" or "balancer" (needs cluster_url)
  std::string advertise;      // the URL clients are sent to; "" = ws://<first listen>
  std::string node_id;        // "" = random 64-bit hex
  std::uint32_t cluster_dead_after_ms = 10000;  // a silent node is gone after this
  std::string lb_mode = "redirect";             // balancer: "redirect" (307) or "proxy"
  bool show_help = false;
  bool show_version = false;
};

// Throws runtime::config_error with a message naming the bad flag or setting.
daemon_options parse_command_line(int argc, char** argv);

const char* usage();

// The receive directory when --files-dir is not given: $TMPDIR (else /tmp) +
// "/switchboard-files-<uid>", private to the user the daemon runs as.
std::string default_files_dir();

}  // namespace switchboard::app
