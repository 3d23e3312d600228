// dialer.hpp: opens the TCP connection a client speaks over, directly or through a proxy.
//
// dial() resolves the target (or the proxy), connects to each address in turn, and through a
// proxy runs its handshake (proxy.hpp: HTTP CONNECT or SOCKS5, with credentials) until the
// tunnel is open. The whole of it is bounded by one timeout. It completes on the worker it was
// given, with a connected socket ready for TLS or the WebSocket upgrade, or with an error and
// a sentence saying what failed ("proxy 127.0.0.1:3128 refused: 407 Proxy Authentication
// Required"). Through SOCKS5 and HTTP CONNECT the proxy resolves the target's name.
//
// It runs on the worker's loop (io_pool.hpp): a non-blocking connect watched for EPOLLOUT in
// the worker's epoll set, a worker timer for the timeout, the proxy exchange with plain
// send/recv. IP literals need no lookup; a name is looked up with getaddrinfo on a short-lived
// thread whose answer is posted back to the worker.
#pragma once

#include "runtime/io_pool.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <system_error>

namespace switchboard::runtime {

struct proxy_options {
  enum class kind : std::uint8_t { none, http, socks5 };
  kind type = kind::none;
  std::string host;
  std::uint16_t port = 0;
  std::string user;  // empty: no authentication
  std::string password;

  // "http://[user:password@]host:port" (HTTP CONNECT) or "socks5://[user:password@]host:port".
  // nullopt with `why` set for anything else.
  static std::optional<proxy_options> parse(const std::string& text, std::string* why = nullptr);
  std::string to_string() const;  // without credentials, for messages
};

struct dial_request {
  std::string host;  // name or IP literal (IPv6 without brackets)
  std::uint16_t port = 0;
  proxy_options proxy;
  std::uint32_t timeout_ms = 10000;  // 0: none
};

// `what` explains a failure in a sentence; on success `socket` is connected (to the target, or
// to the proxy with the tunnel open).
using dial_handler =
    std::function<void(const std::error_code& ec, const std::string& what, tcp_socket socket)>;

// Starts dialing; `done` runs once, on `home`'s thread. Call from any thread.
void dial(worker& home, dial_request request, dial_handler done);

}  // namespace switchboard::runtime
