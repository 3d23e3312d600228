// options.hpp: the daemon's command line. A --config file is read first; flags override it.
#pragma once

#include "runtime/config.hpp"
#include "runtime/log.hpp"

#include <string>

namespace switchboard::app {

struct daemon_options {
  runtime::server_options server;
  runtime::log::level log_level = runtime::log::level::info;
  std::string sgc_path = "/sgc";  // the default sgc protocol (esegece.com); "" = off
  bool show_help = false;
  bool show_version = false;
};

// Throws runtime::config_error with a message naming the bad flag or setting.
daemon_options parse_command_line(int argc, char** argv);

const char* usage();

}  // namespace switchboard::app
