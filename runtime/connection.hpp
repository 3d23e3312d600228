// connection.hpp: one accepted socket, from its first HTTP byte to its close.
//
// A connection starts as HTTP/1.1 (Beast's parser: keep-alive, pipelining, route handlers,
// static files, the limits that answer 413 and 431) and may upgrade to WebSocket (RFC 6455:
// handshake checks with 400/403/426, authentication, subprotocol and permessage-deflate
// negotiation). Open, it behaves as websocket_stream.hpp describes and hands each message to
// its route's websocket_handler.
//
// Plain TCP (server_options::plain_tcp_route): when the first bytes are not an HTTP request
// line, the connection serves that route as a stream of terminator-framed messages instead,
// through the same handler; what the route sends gets the terminator appended.
//
// Threads: a connection lives on one worker. The send*/close members may be called from any
// thread (they post to the worker when needed); everything else runs on the worker. Handler
// callbacks run on the worker; a message payload view is valid only during on_message.
#pragma once

#include "runtime/websocket_stream.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::runtime {

class server;
class connection;
using connection_ptr = std::shared_ptr<connection>;
using connection_id = std::uint64_t;  // unique in the process, never reused

// Receives the events of the WebSocket connections of one route, on their io threads.
class websocket_handler {
 public:
  virtual ~websocket_handler() = default;
  // The handshake succeeded; the connection is open.
  virtual void on_open(const connection_ptr& c) {}
  // A whole message (fragments already joined). `payload` is valid during the call only.
  virtual void on_message(const connection_ptr& c, websocket::opcode op,
                          std::string_view payload) = 0;
  // The connection is closed. `code` is the peer's close code, the code we failed it with,
  // 1005 when the peer's close had none, or 1006 when the socket ended without a close frame.
  virtual void on_close(const connection_ptr& c, std::uint16_t code, std::string_view reason) {}
};

struct http_request;
struct http_response;

// Serves long-lived HTTP responses (Server-Sent Events) on the routes it is added to. The
// response head carries no length: the body is what is sent to the connection afterwards
// (connection::send_stream, server::fanout_stream) until either side closes it.
class stream_handler {
 public:
  virtual ~stream_handler() = default;
  // A GET on the route, on the io thread. True: stream, with `response`'s status, content
  // type and headers as the head (its body is ignored). False: `response` is sent as an
  // ordinary response and the connection goes on as HTTP.
  virtual bool on_request(const connection_ptr& c, const http_request& r,
                          http_response& response) = 0;
  // The stream ended (the peer closed, or the server stopped).
  virtual void on_close(const connection_ptr& c) {}
};

// Answers WebSocket upgrades on paths no WebSocket route takes (server::add_upgrade_route): the
// load balancer's redirect (an ordinary response) and its proxy (a raw byte tunnel to another
// server, which does the handshake itself).
class upgrade_handler {
 public:
  virtual ~upgrade_handler() = default;
  // On the io thread, after the handshake checks and authentication. False: `response` is sent
  // and the connection closes. True: the connection becomes a tunnel: nothing is sent;
  // on_tunnel_data gets the request head (re-serialized) and then every byte the peer sends;
  // connection::send_stream writes bytes as they are; close() ends it gracefully.
  virtual bool on_upgrade(const connection_ptr& c, const http_request& r,
                          http_response& response) = 0;
  virtual void on_tunnel_data(const connection_ptr& c, std::string_view bytes) {}
  // The tunnel ended (the peer closed, or the server stopped).
  virtual void on_tunnel_close(const connection_ptr& c) {}
};

// Picks the subprotocol to answer with from the client's offer, or "" for none.
using subprotocol_selector = std::function<std::string(const std::vector<std::string_view>&)>;

// Something an upper layer attaches to a connection (the actor layer keeps its actor here).
struct connection_attachment {
  virtual ~connection_attachment() = default;
};

// Builds a server frame (unmasked, FIN) once, to be queued on many connections.
shared_buffer make_frame(websocket::opcode op, std::string_view payload);

class connection final : public websocket_stream {
 public:
  connection(server& owner, worker& home, tcp_socket socket, transport_limits limits,
             const tls_context* tls = nullptr);
  ~connection() override;

  connection_id id() const noexcept { return id_; }
  connection* as_server_connection() noexcept override { return this; }

  // --- Any thread -------------------------------------------------------------------------
  void send_text(std::string_view text);
  void send_binary(std::string_view data);
  // Queues a frame made by make_frame() (shared: encode once, send to many).
  void send_frame(shared_buffer frame);
  // Starts the close handshake (code 0 sends a close frame without a code).
  void close(std::uint16_t code = websocket::close_code::normal, std::string reason = {});

  // Set at the handshake and constant afterwards; read them from the handler callbacks or
  // after on_open.
  const std::string& target() const noexcept { return target_; }
  const std::string& subprotocol() const noexcept { return subprotocol_; }
  // The user the handshake authenticated ("" without authentication).
  const std::string& user() const noexcept { return user_; }
  websocket_handler* handler() const noexcept { return handler_; }

  // --- Home worker only -------------------------------------------------------------------
  // Queues a message or fails with send_status::dropped (policy or closing).
  send_status send_now(websocket::opcode op, std::string_view payload);
  // Queues a frame made by make_frame() (a plain TCP connection sends its payload instead;
  // a streaming response takes none).
  send_status deliver(const shared_buffer& frame);
  // Queues bytes on a streaming response as they are (dropped in any other phase).
  send_status send_stream(const shared_buffer& bytes);
  bool is_plain_tcp() const noexcept { return phase_ == phase::plain_tcp; }
  std::unique_ptr<connection_attachment> attachment;

 private:
  struct http_state;
  enum class phase : std::uint8_t { http, websocket, plain_tcp, stream, tunnel, closed };

  void on_data(std::uint8_t* data, std::size_t size) override;
  void on_closed(const std::error_code& ec) override;
  void on_slow_consumer() override;
  void on_drained() override;
  void on_tick(std::uint32_t now) override;

  // HTTP phase.
  void http_data(const std::uint8_t* data, std::size_t size);
  bool handle_request();  // false: stop parsing (upgraded or closing)
  void respond(unsigned status, std::string_view content_type, std::string body, bool keep_alive,
               std::vector<std::pair<std::string, std::string>> headers = {});
  void respond_error(unsigned status, std::string_view why,
                     std::vector<std::pair<std::string, std::string>> headers = {});
  bool serve_file(bool keep_alive, bool head_only);
  void pump_file();
  bool upgrade(websocket_handler* handler, const subprotocol_selector& select);

  // Streaming response phase.
  // True: streaming; false: the handler's response went out as an ordinary one.
  bool start_stream(stream_handler* handler, const http_request& r, bool keep_alive);
  // An upgrade route: false when it answered (the connection closes), true for a tunnel.
  bool start_tunnel(upgrade_handler* handler, const http_request& r);

  // Plain TCP phase.
  void start_plain_tcp();
  void plain_tcp_data(const std::uint8_t* data, std::size_t size);

  // WebSocket phase.
  void on_ws_message(websocket::opcode op, std::string_view payload) override;
  void on_ws_closed(std::uint16_t code, std::string_view reason) override;
  std::string log_name() const override;
  void run_on_home(std::function<void(connection&)> fn);

  // Ordered to leave no padding, and what few connections use is allocated when used: an idle
  // connection's size counts (issue 7).
  server& owner_;
  connection_id id_;
  std::unique_ptr<http_state> http_;  // only while speaking HTTP
  // Plain TCP: the start of an unfinished message (null when there is none).
  std::unique_ptr<std::string> plain_input_;
  stream_handler* stream_handler_ = nullptr;
  upgrade_handler* tunnel_handler_ = nullptr;
  websocket_handler* handler_ = nullptr;
  std::string target_;
  std::string subprotocol_;
  std::string user_;
  std::uint32_t stream_tick_ = 0;  // when the streaming response started (keep-alive comments)
  phase phase_ = phase::http;
};

}  // namespace switchboard::runtime
