// server.hpp: listeners, routes and the live connections of one process.
//
// The server binds every configured address once per io worker (SO_REUSEPORT: the kernel
// spreads new connections over the workers; a socket stays on its worker). Each listening
// socket is non-blocking and lives in its worker's epoll set (io_pool.hpp): when it is readable
// that worker accepts (accept4, a bounded number per loop turn) and starts the connections
// itself, so no connection crosses a thread to begin. Requests are routed by
// path: WebSocket routes take upgrades, HTTP routes take the rest, then the document root,
// then 404. Each worker runs a coarse sweep (every worker::tick_ms) that drives heartbeats,
// idle and handshake timeouts and lingering closes, so no connection owns a timer.
//
// Threads: configure (add_*_route) before start(); find(), broadcast(), fanout(), stats()
// and stop() are safe from any thread.
#pragma once

#include "runtime/config.hpp"
#include "runtime/connection.hpp"
#include "runtime/http/message.hpp"
#include "runtime/io_pool.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace switchboard::runtime {

class static_files;
namespace auth {
class chain;
}

// Sums of the workers' counters.
struct server_stats {
  std::uint64_t connections_accepted = 0, connections_refused = 0, connections_open = 0,
                websockets_open = 0, http_requests = 0, messages_in = 0, messages_out = 0,
                bytes_in = 0, bytes_out = 0, dropped_messages = 0, slow_consumer_closes = 0,
                protocol_errors = 0;
};

// The /echo route: sends every message back with its opcode.
class echo_handler final : public websocket_handler {
 public:
  void on_message(const connection_ptr& c, websocket::opcode op, std::string_view payload) override;
};

class server {
 public:
  explicit server(server_options options);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Routes match the exact path, or every path under a prefix written "/prefix/*" ("/*" is
  // everything). The first match in order of registration wins.
  void add_websocket_route(std::string path, websocket_handler* handler,
                           subprotocol_selector select = {});
  void add_http_route(std::string path, http_handler handler);
  // A route for long-lived responses (Server-Sent Events); tried before the HTTP routes.
  void add_stream_route(std::string path, stream_handler* handler);
  // Upgrade requests on paths that no WebSocket route takes (the load balancer: "/*").
  void add_upgrade_route(std::string path, upgrade_handler* handler);

  // Binds every listener and starts the io threads. Throws config_error naming the address
  // that could not be bound.
  void start();

  // Stops accepting, closes every WebSocket with `code` (and every HTTP connection), waits up
  // to grace_ms for the close handshakes, then stops the io threads. Idempotent.
  void stop(std::uint16_t code = websocket::close_code::going_away, std::uint32_t grace_ms = 2000);

  // The connection with this id while it is an open WebSocket, else null.
  connection_ptr find(connection_id id) const;

  // Queues `frame` on every open WebSocket (of one route's handler, when given).
  void broadcast(const shared_buffer& frame, const websocket_handler* only = nullptr);
  // Queues `frame` on each target, one post per worker.
  void fanout(const std::vector<connection_ptr>& targets, const shared_buffer& frame);
  // The same for bytes on streaming responses (connection::send_stream).
  void fanout_stream(const std::vector<connection_ptr>& targets, const shared_buffer& bytes);

  server_stats stats() const;
  const server_options& options() const noexcept { return options_; }
  io_pool& pool() noexcept { return pool_; }
  // The addresses actually bound (port 0 resolved), after start().
  std::vector<binding> local_bindings() const;

 private:
  friend class connection;
  struct websocket_route {
    std::string path;
    websocket_handler* handler;
    subprotocol_selector select;
  };
  struct http_route {
    std::string path;
    http_handler handler;
  };
  struct stream_route {
    std::string path;
    stream_handler* handler;
  };
  struct upgrade_route {
    std::string path;
    upgrade_handler* handler;
  };
  struct registry_shard {
    mutable std::mutex mutex;
    std::unordered_map<connection_id, std::weak_ptr<connection>> map;
  };
  struct listener;

  const websocket_route* find_websocket_route(std::string_view path) const;
  const std::vector<http_route>& http_routes() const noexcept { return http_routes_; }
  const stream_route* find_stream_route(std::string_view path) const;
  const upgrade_route* find_upgrade_route(std::string_view path) const;
  template <class Send>
  void post_by_worker(const std::vector<connection_ptr>& targets, const shared_buffer& data,
                      Send send);
  const static_files* files() const noexcept { return files_.get(); }
  const auth::chain* authenticator() const noexcept { return auth_.get(); }
  connection_id next_id() noexcept { return next_id_.fetch_add(1, std::memory_order_relaxed); }
  void register_connection(const connection_ptr& c);
  void unregister_connection(connection_id id);
  registry_shard& shard(connection_id id) const { return shards_[id % shards_.size()]; }
  void accept(listener& l);
  // Connection caps: admit() takes a slot for a new socket (false: refuse it with 503),
  // release() gives it back when the socket closes.
  bool admit(const boost::asio::ip::address& peer, std::string& why);
  void release(const boost::asio::ip::address& peer);

  server_options options_;
  io_pool pool_;
  std::unique_ptr<static_files> files_;
  std::unique_ptr<auth::chain> auth_;  // null: no authentication
  std::vector<websocket_route> websocket_routes_;
  std::vector<http_route> http_routes_;
  std::vector<stream_route> stream_routes_;
  std::vector<upgrade_route> upgrade_routes_;
  std::vector<std::unique_ptr<listener>> listeners_;
  mutable std::array<registry_shard, 16> shards_;
  std::atomic<connection_id> next_id_{1};
  std::atomic<std::size_t> admitted_{0};  // sockets holding a slot
  std::mutex per_ip_mutex_;
  std::unordered_map<std::string, std::uint32_t> per_ip_;  // open sockets per peer address
  std::atomic<bool> stopping_{false};
  bool started_ = false;
  std::mutex stop_mutex_;
};

}  // namespace switchboard::runtime
