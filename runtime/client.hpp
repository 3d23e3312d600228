// client.hpp: the WebSocket client (RFC 6455 section 4.1 and onwards), in two styles.
//
// websocket_client is the callback style: it runs on one io worker and reports events there.
// A connection attempt dials (dialer.hpp: DNS, TCP, an HTTP CONNECT or SOCKS5 proxy), runs TLS
// for wss:// (tls.hpp: SNI, chain and host-name verification), sends the upgrade request
// (subprotocols, permessage-deflate offer, custom headers, Basic or Bearer credentials),
// follows redirects (3xx with Location, at most max_redirects), and checks the 101 response
// (Upgrade, Connection, Sec-WebSocket-Accept, the chosen subprotocol and extension must be
// ones we offered). Open, the connection is a websocket_stream in the client role (masking,
// heartbeat, close handshake, deflate; websocket_stream.hpp). The whole attempt is bounded by
// connect_timeout_ms.
//
// The watchdog: with reconnect.enabled, a connection that fails to open or that closes for
// any reason other than our close() is dialed again after a delay that starts at
// initial_delay_ms and doubles up to max_delay_ms (with +-20% jitter so a fleet of clients
// does not return in step), at most max_attempts times in a row (0: forever). on_connect
// reports every open with `reconnected` set after the first: that is the hook a protocol
// uses to subscribe again.
//
// blocking_client is the blocking style, for scripts and tests: connect() returns once open
// or failed, receive() waits for the next message. It runs a websocket_client on an io thread
// of its own.
//
// Lifetime: close() keeps the client alive until the close handshake is reported, whoever
// holds it; dropping the last reference without close() drops the connection at once.
//
// Threads: websocket_client's members may be called from any thread; its events run on its
// worker's thread, one at a time. A message payload view is valid during on_message only.
#pragma once

#include "runtime/config.hpp"
#include "runtime/dialer.hpp"
#include "runtime/io_pool.hpp"
#include "runtime/tls.hpp"
#include "runtime/url.hpp"
#include "runtime/websocket/deflate.hpp"
#include "runtime/websocket/rfc6455.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace switchboard::runtime {

struct reconnect_options {
  bool enabled = false;
  unsigned max_attempts = 0;  // failed attempts in a row before giving up; 0 = forever
  std::uint32_t initial_delay_ms = 500;
  std::uint32_t max_delay_ms = 30000;
};

struct client_options {
  std::string url;  // ws://host[:port]/path?query or wss://...; user:password@ means Basic
  std::vector<std::string> subprotocols;  // offered in order; the server picks one or none
  std::vector<std::pair<std::string, std::string>> headers;  // extra request headers
  std::string origin;                                        // Origin header, when set
  std::string user;  // Basic credentials (the URL's user information overrides)
  std::string password;
  std::string bearer_token;  // Authorization: Bearer (a JWT); wins over Basic

  bool permessage_deflate = false;  // offer RFC 7692 (the server may decline: no error)
  websocket::deflate_options deflate;
  std::size_t deflate_min_size = 32;  // smaller messages are sent uncompressed

  tls_client_options tls;  // for wss://
  proxy_options proxy;     // none by default

  std::uint32_t connect_timeout_ms = 10000;  // dial, proxy, TLS and upgrade together
  unsigned max_redirects = 5;
  std::size_t max_message_size = 16u << 20;  // received (close 1009 beyond)
  std::size_t max_backpressure = 4u << 20;   // unsent bytes before send() refuses
  std::size_t fragment_size = 0;             // split sent messages into frames this big
  bool report_fragments = false;             // on_fragment for each received fragment
  std::uint32_t heartbeat_interval_ms = 0;   // ping this often (0: never)
  std::uint32_t heartbeat_timeout_ms = 0;    // drop the connection without a pong in time
  std::uint32_t close_timeout_ms = 3000;     // wait this long for the answer to our close
  reconnect_options reconnect;
  // Before each attempt (the first and every reconnect): the URL to dial instead of `url`
  // ("", or anything but a ws:// or wss:// URL: `url`). It runs on the client's io thread, so
  // it must be bounded (the sgc client asks a load balancer here, with a short timeout).
  std::function<std::string()> choose_url;
};

struct connect_info {
  std::string url;           // where we ended up (after redirects)
  std::string subprotocol;   // "" when none was agreed
  std::string extensions;    // the response's Sec-WebSocket-Extensions ("" when none)
  bool reconnected = false;  // a reconnect after an earlier open: subscribe again
  unsigned attempt = 1;      // attempts this open took
};

struct client_events {
  std::function<void(const connect_info&)> on_connect;
  // A whole message: op is text or binary.
  std::function<void(websocket::opcode op, std::string_view payload)> on_message;
  // With report_fragments: each non-final frame of an uncompressed fragmented message.
  std::function<void(websocket::opcode op, std::string_view payload)> on_fragment;
  // An open connection ended: the close code (1006 when the socket just ended) and reason.
  std::function<void(std::uint16_t code, std::string_view reason)> on_disconnect;
  // An attempt failed (`what` says how) or the watchdog gave up (`final` set). With
  // reconnect enabled and attempts left, another attempt follows.
  std::function<void(const std::error_code& ec, const std::string& what, bool final)> on_error;
};

class client_stream;

class websocket_client : public std::enable_shared_from_this<websocket_client> {
 public:
  enum class state : std::uint8_t { idle, connecting, open, closing, waiting, stopped };

  // The client runs on one worker of `pool` (which must be started, and outlive it).
  static std::shared_ptr<websocket_client> make(io_pool& pool, client_options options,
                                                client_events events);
  ~websocket_client();

  // Starts connecting (again, after close()). Throws config_error for a bad URL or TLS setup.
  void connect();
  // Queues a message; false when not open or refused by backpressure. `fragment_size` 0: the
  // configured one.
  bool send(websocket::opcode op, std::string_view payload, std::size_t fragment_size = 0);
  bool send_text(std::string_view text) { return send(websocket::opcode::text, text); }
  bool send_binary(std::string_view data) { return send(websocket::opcode::binary, data); }
  bool ping(std::string_view payload = {});
  // Closes (or stops a pending attempt or reconnect) and stops the watchdog.
  void close(std::uint16_t code = websocket::close_code::normal, std::string reason = {});

  // Bytes queued and not yet written (0 when not open). Home worker's thread only: a protocol
  // that streams large data paces itself with it instead of meeting max_backpressure.
  std::size_t queued_bytes() const noexcept;

  state current_state() const noexcept { return state_.load(std::memory_order_acquire); }
  bool is_open() const noexcept { return current_state() == state::open; }
  const client_options& options() const noexcept { return options_; }

  // For the stream (internal).
  struct access;

 private:
  websocket_client(worker& home, client_options options, client_events events);

  void attempt();
  void dial_target(const url& target);
  void on_dialed(const std::error_code& ec, const std::string& what, tcp_socket s,
                 const url& target);
  void attempt_failed(const std::error_code& ec, const std::string& what);
  void redirected(const url& target, const std::string& location);
  void opened(connect_info info);
  void stream_closed(std::uint16_t code, std::string_view reason);
  void schedule_reconnect();
  void set_state(state s) { state_.store(s, std::memory_order_release); }

  worker& home_;
  client_options options_;
  client_events events_;
  url url_;                                // as configured
  std::shared_ptr<tls_context> tls_;       // for wss:// (made on first use)
  std::shared_ptr<client_stream> stream_;  // the current attempt or connection
  timer retry_timer_;
  std::atomic<state> state_{state::idle};
  unsigned failures_ = 0;   // failed attempts since the last open
  unsigned redirects_ = 0;  // in the current attempt
  bool ever_opened_ = false;
  bool user_closed_ = false;
  std::shared_ptr<websocket_client> closing_self_;  // set from close() until the close ends
  std::uint64_t generation_ = 0;  // bumps on close(): late callbacks of old attempts are ignored
};

// The blocking style.
class blocking_client {
 public:
  struct message {
    websocket::opcode op = websocket::opcode::text;
    std::string payload;
  };

  explicit blocking_client(client_options options);
  ~blocking_client();  // closes (bounded by close_timeout_ms) and stops the io thread

  // Connects; returns an error (and what() says why) when the attempt failed.
  std::error_code connect();
  const std::string& what() const noexcept { return what_; }
  const connect_info& info() const noexcept { return info_; }

  bool send_text(std::string_view text) { return client_->send_text(text); }
  bool send_binary(std::string_view data) { return client_->send_binary(data); }
  bool send(websocket::opcode op, std::string_view payload, std::size_t fragment_size = 0) {
    return client_->send(op, payload, fragment_size);
  }
  // The next message, or nullopt on timeout or once closed with nothing left.
  std::optional<message> receive(std::chrono::milliseconds timeout);
  // Closes and waits (up to close_timeout_ms) for the close handshake to finish.
  void close(std::uint16_t code = websocket::close_code::normal, std::string reason = {});

  bool is_open() const { return client_->is_open(); }
  // After the connection ended: the close code and reason (1006 when there was none).
  std::uint16_t close_code() const;
  std::string close_reason() const;

 private:
  io_pool pool_{1};
  std::shared_ptr<websocket_client> client_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<message> inbox_;
  bool connected_ = false;
  bool ended_ = false;  // the connection closed, or the attempt failed
  std::error_code error_;
  std::string what_;
  connect_info info_;
  std::uint16_t close_code_ = websocket::close_code::abnormal;
  std::string close_reason_;
};

}  // namespace switchboard::runtime
