// options.hpp: swbench's command line, parsed once in main.cpp and shared by every mode.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <string>
#include <vector>

namespace switchboard::swbench {

// Where the WebSocket server is, from --url ws://HOST:PORT/PATH (or wss://).
struct ws_target {
  sockaddr_in addr{};  // server address (IPv4; swbench stays on loopback)
  std::string host;    // Host header value, "HOST:PORT"
  std::string path;    // request target, "/echo"
  bool tls = false;    // the URL said wss://
};

struct options {
  std::string mode;                              // echo, fanout, connections, handshakes, churn
  std::string url = "ws://127.0.0.1:8080/echo";  // --url
  ws_target target;                              // parsed from url
  std::uint32_t connections = 100;               // --connections
  std::uint32_t size = 32;                       // --size: payload bytes per message
  std::uint32_t depth = 1;                       // --depth: messages in flight per connection
  double duration_s = 10;                        // --duration: measured window
  double warmup_s = 2;                           // --warmup: after all connections are open
  bool binary = false;                           // --binary: binary frames instead of text
  bool tls = false;                              // --tls (or a wss:// URL): TLS, no verification
  bool deflate = false;                          // --deflate: permessage-deflate, JSON payloads
  std::vector<std::uint32_t> source_ips;         // --source-ips, host order; empty: any
  int server_pid = 0;                            // --server-pid: for server CPU and RSS
  std::string json_path;                         // --json FILE
  unsigned threads = 1;                          // --threads: one epoll loop per thread
  double connect_timeout_s = 30;                 // --connect-timeout: for opening them all
  std::uint32_t max_connecting = 256;            // --max-connecting: per thread, in flight
  bool progress = true;                          // --quiet turns the per-second line off
  // fanout (fanout_mode.hpp): --connections counts the subscribers, --depth bounds --rate 0.
  std::string dialect = "sgc";  // --dialect: sgc, raw or socketio
  double rate = 1000;           // --rate: publishes per second; 0: as fast as --depth allows
  // A cluster (issue 6): the publisher on --publish-url, the subscriber threads round robin over
  // --subscribe-urls (thread t on URL t mod count). Empty: both on --url.
  std::string publish_url;                   // --publish-url
  ws_target publish_target;                  // parsed from publish_url
  std::vector<ws_target> subscribe_targets;  // --subscribe-urls URL,URL,...
  // connections (connections_mode.hpp): worker processes; 0: as many as the fd limit needs.
  unsigned processes = 0;  // --processes
  // handshakes, churn: stop after this many cycles in all (0: run the whole --duration).
  std::uint64_t count = 0;  // --count
  bool echo = false;        // --echo: handshakes: one echo of --size bytes per connection
  // churn (churn_mode.hpp): members that leave and rejoin; the others stay and watch.
  std::uint32_t churners = 100;  // --churners
};

}  // namespace switchboard::swbench
