// config.hpp: every setting of the server, with its default, in one place.
//
// Defaults are the embedded configuration the daemon runs with when given no arguments.
// A TOML file (load_toml) and command-line flags (the daemon's main) override them; unknown
// keys and out-of-range values are rejected at load time by name (config_error), never
// ignored. Times are in milliseconds, sizes in bytes.
#pragma once

#include "runtime/auth/authenticator.hpp"
#include "runtime/tls.hpp"
#include "runtime/websocket/deflate.hpp"

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace switchboard::runtime {

struct binding {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  tls_options tls;  // TLS on this binding when tls.enabled()
};

// What happens to a connection whose unsent data passes max_backpressure.
enum class slow_consumer_policy : std::uint8_t {
  close,  // close it with slow_consumer_close_code (1008 or 1013); the others go on
  drop,   // keep it, discard messages that do not fit (counted in /metrics)
};

struct server_options {
  std::vector<binding> bindings{binding{}};
  std::size_t threads = 0;                   // io threads; 0 = one per hardware thread
  std::string document_root;                 // static files; empty = none
  std::vector<std::string> allowed_origins;  // WebSocket Origin allow-list; empty = any

  // permessage-deflate (RFC 7692): accepted when a client offers it. Off by default: each
  // connection that uses it holds up to about 174 KiB of zlib state (deflate.hpp).
  bool permessage_deflate = false;
  websocket::deflate_options deflate;
  std::size_t deflate_min_size = 32;  // smaller messages are sent uncompressed

  // Plain TCP on the same port (the manual's "TCP connections"): a client whose first bytes
  // are not an HTTP request line (http/sniff.hpp) is served by the WebSocket route at
  // plain_tcp_route as a stream of messages, each ended by plain_tcp_terminator (empty: each
  // read is a message). Every message arrives as binary; what the route sends goes out with
  // the terminator appended. Off while the route is empty.
  std::string plain_tcp_route;
  std::string plain_tcp_terminator = "\n";

  // Authentication of WebSocket upgrades (runtime/auth/): off unless a scheme is configured
  // (users file for Basic / URL / session, JWT secret or public key for Bearer tokens).
  auth::auth_config auth;

  // Limits.
  std::size_t max_message_size = 16u << 20;  // WebSocket message, over fragments (close 1009)
  std::size_t max_header_size = 8u << 10;    // HTTP request head (431)
  std::size_t max_body_size = 1u << 20;      // HTTP request body (413)
  std::size_t max_backpressure = 1u << 20;   // unsent bytes queued per connection
  std::uint64_t throttle_bytes_per_sec = 0;  // per connection and direction (0 = unthrottled)
  std::size_t max_connections = 0;           // sockets open at once; past it: 503 (0 = no cap)
  std::size_t max_connections_per_ip = 0;    // sockets open at once per peer address (0 = no cap)
  slow_consumer_policy slow_consumer = slow_consumer_policy::close;
  std::uint16_t slow_consumer_close_code = 1008;  // 1008 policy violation or 1013 try later

  // Timers (milliseconds; 0 = off).
  std::uint32_t heartbeat_interval_ms = 0;      // send a ping this often
  std::uint32_t heartbeat_timeout_ms = 0;       // close when no pong within this after a ping
  std::uint32_t idle_timeout_ms = 0;            // close a WebSocket that received nothing this long
  std::uint32_t handshake_timeout_ms = 10000;   // a request head must arrive within this
  std::uint32_t keep_alive_timeout_ms = 30000;  // idle HTTP keep-alive connections
  std::uint32_t close_timeout_ms = 3000;        // wait this long for the peer's close frame

  int listen_backlog = 1024;
};

struct config_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Parses "HOST:PORT" (IPv6 as "[::1]:PORT"). Throws config_error.
binding parse_binding(const std::string& text);

// Checks ranges and relations between settings. Throws config_error naming the setting.
void validate(const server_options& options);

// Reads a TOML file over `options` (keys documented in README: [server] listen, threads, ...;
// [limits]; [timeouts]). Also returns the log level if the file sets one ("" otherwise).
// Throws config_error with the file, key and reason.
std::string load_toml(const std::string& path, server_options& options);

}  // namespace switchboard::runtime
