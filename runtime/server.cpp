#include "runtime/server.hpp"

#include "runtime/error.hpp"
#include "runtime/http/static_files.hpp"
#include "runtime/log.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

namespace switchboard::runtime {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {
constexpr int accepts_per_turn = 64;  // then the listener's other work (and other sockets) go on
}  // namespace

// A listening socket in its worker's epoll set: readable means connections wait in its queue.
struct server::listener final : poll_target {
  listener(server& s, worker& w) : owner(s), home(w), retry(w) {}
  ~listener() {
    if (fd >= 0) ::close(fd);
  }
  listener(const listener&) = delete;
  listener& operator=(const listener&) = delete;
  void on_events(std::uint32_t) override { owner.accept(*this); }

  server& owner;
  worker& home;
  int fd = -1;
  timer retry;  // backs off when accept fails (e.g. out of file descriptors)
  binding bound;
  std::shared_ptr<tls_context> tls;  // null for plain TCP
  bool primary = false;              // the first of its binding's sockets (one per worker)
};

void echo_handler::on_message(const connection_ptr& c, websocket::opcode op,
                              std::string_view payload) {
  c->send_now(op, payload);
}

server::server(server_options options) : options_(std::move(options)), pool_(options_.threads) {
  validate(options_);
  if (!options_.document_root.empty())
    files_ = std::make_unique<static_files>(options_.document_root);
  auth_ = auth::make_chain(options_.auth);
}

server::~server() {
  stop();
}

void server::add_websocket_route(std::string path, websocket_handler* handler,
                                 subprotocol_selector select) {
  websocket_routes_.push_back({std::move(path), handler, std::move(select)});
}

void server::add_http_route(std::string path, http_handler handler) {
  http_routes_.push_back({std::move(path), std::move(handler)});
}

void server::add_stream_route(std::string path, stream_handler* handler) {
  stream_routes_.push_back({std::move(path), handler});
}

namespace {
// "/exact" or "/prefix/*".
bool route_matches(const std::string& route, std::string_view path) {
  if (!route.empty() && route.back() == '*')
    return path.substr(0, route.size() - 1) == std::string_view(route).substr(0, route.size() - 1);
  return path == route;
}
}  // namespace

const server::stream_route* server::find_stream_route(std::string_view path) const {
  for (const auto& r : stream_routes_)
    if (route_matches(r.path, path)) return &r;
  return nullptr;
}

void server::add_upgrade_route(std::string path, upgrade_handler* handler) {
  upgrade_routes_.push_back({std::move(path), handler});
}

const server::upgrade_route* server::find_upgrade_route(std::string_view path) const {
  for (const auto& r : upgrade_routes_)
    if (route_matches(r.path, path)) return &r;
  return nullptr;
}

const server::websocket_route* server::find_websocket_route(std::string_view path) const {
  for (const auto& r : websocket_routes_)
    if (route_matches(r.path, path)) return &r;
  return nullptr;
}

void server::start() {
  if (started_) return;
  if (!options_.plain_tcp_route.empty() && !find_websocket_route(options_.plain_tcp_route))
    throw config_error("plain TCP route " + options_.plain_tcp_route +
                       " is not a WebSocket route of this server");
  // One listening socket per binding and worker, in that worker's epoll set: each worker
  // accepts its own connections (SO_REUSEPORT: the kernel spreads them), so none crosses a
  // thread. The first socket binds without SO_REUSEPORT and sets it only once bound, so a port
  // already held by anyone (another daemon too) still fails with "address in use", and port 0
  // is resolved once for all.
  // The bindings are set up last to first, so once the first one accepts connections (what a
  // supervisor probing the first address waits for) every other one does too.
  const std::size_t per_binding = pool_.size();
  std::vector<std::vector<std::unique_ptr<listener>>> made(options_.bindings.size());
  for (std::size_t i = options_.bindings.size(); i-- > 0;) {
    const binding& b = options_.bindings[i];
    std::shared_ptr<tls_context> tls;
    if (b.tls.enabled()) tls = tls_context::make_server(b.tls);
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(b.host, ec);
    if (ec) throw config_error("cannot listen on " + b.host + ": not an IP address");
    tcp::endpoint endpoint(address, b.port);
    for (std::size_t w = 0; w < per_binding; ++w) {
      auto l = std::make_unique<listener>(*this, pool_.at(w));
      l->tls = tls;
      l->primary = w == 0;
      const bool shared = per_binding > 1;
      int err = 0;
      l->fd = ::socket(endpoint.protocol().family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      const int one = 1;
      // TCP_NODELAY on the listener is inherited by every accepted socket: no setsockopt each.
      if (l->fd < 0 || ::setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
          ::setsockopt(l->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0 ||
          (shared && !l->primary &&
           ::setsockopt(l->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) ||
          ::bind(l->fd, endpoint.data(), static_cast<socklen_t>(endpoint.size())) != 0 ||
          (shared && l->primary &&
           ::setsockopt(l->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) ||
          ::listen(l->fd, options_.listen_backlog) != 0)
        err = errno;
      socklen_t length = static_cast<socklen_t>(endpoint.capacity());
      if (!err && ::getsockname(l->fd, endpoint.data(), &length) != 0) err = errno;
      if (err)
        throw config_error("cannot listen on " + b.host + ":" + std::to_string(b.port) + ": " +
                           std::error_code(err, std::system_category()).message());
      endpoint.resize(length);  // the others bind where the first one did (port 0 resolved)
      l->bound = b;
      l->bound.host = endpoint.address().to_string();
      l->bound.port = endpoint.port();
      if (l->primary)
        SB_LOG(info, "listening on %s:%u%s", l->bound.host.c_str(), l->bound.port,
               l->tls ? " (TLS)" : "");
      made[i].push_back(std::move(l));
    }
  }
  for (auto& group : made)  // in configured order: local_bindings() reports them so
    for (auto& l : group)
      listeners_.push_back(std::move(l));
  for (auto& l : listeners_)
    l->home.watch(l.get(), l->fd, EPOLLIN);  // the loops are not running yet
  started_ = true;
  pool_.start();
}

std::vector<binding> server::local_bindings() const {
  std::vector<binding> out;
  for (const auto& l : listeners_)
    if (l->primary) out.push_back(l->bound);
  return out;
}

// On the listener's worker, when its socket is readable: takes up to accepts_per_turn
// connections and starts them on this worker.
void server::accept(listener& l) {
  for (int i = 0; i < accepts_per_turn && l.fd >= 0 && !stopping_; ++i) {
    sockaddr_storage peer_address{};
    socklen_t peer_size = sizeof peer_address;
    const int fd = ::accept4(l.fd, reinterpret_cast<sockaddr*>(&peer_address), &peer_size,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO || errno == EPERM) continue;
      // Out of descriptors or memory: keep the listener, stop watching it, try again shortly.
      SB_LOG(warn, "accept on %s:%u failed: %s", l.bound.host.c_str(), l.bound.port,
             std::error_code(errno, std::system_category()).message().c_str());
      l.home.rewatch(&l, l.fd, 0);
      l.retry.expires_after(std::chrono::milliseconds(100));
      l.retry.async_wait([this, &l](const std::error_code& e) {
        if (!e && !stopping_ && l.fd >= 0) l.home.rewatch(&l, l.fd, EPOLLIN);
      });
      return;
    }
    tcp_socket socket(fd);
    socket.set_peer(reinterpret_cast<const sockaddr*>(&peer_address), peer_size);
    tcp::endpoint peer;
    if (peer_size <= peer.capacity()) {
      std::memcpy(peer.data(), &peer_address, peer_size);
      peer.resize(peer_size);
    }
    std::string why;
    if (!admit(peer.address(), why)) {
      // Refused at the door: a short 503, best effort (the socket is fresh, so it fits), then
      // close. No connection object, no actor: a flood of refusals stays cheap.
      const std::string response =
          "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
          "Retry-After: 1\r\nConnection: close\r\nContent-Length: " +
          std::to_string(why.size()) + "\r\n\r\n" + why;
      ::send(fd, response.data(), response.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      l.home.stats.connections_refused.add();
      continue;  // `socket` closes it
    }
    transport_limits limits{options_.max_backpressure, options_.slow_consumer,
                            options_.throttle_bytes_per_sec};
    auto c = std::make_shared<connection>(*this, l.home, std::move(socket), limits, l.tls.get());
    l.home.stats.connections_accepted.add();
    c->start();
  }
}

bool server::admit(const boost::asio::ip::address& peer, std::string& why) {
  if (options_.max_connections &&
      admitted_.fetch_add(1, std::memory_order_relaxed) >= options_.max_connections) {
    admitted_.fetch_sub(1, std::memory_order_relaxed);
    why = "server full: too many connections\n";
    return false;
  }
  if (!options_.max_connections) admitted_.fetch_add(1, std::memory_order_relaxed);
  if (options_.max_connections_per_ip) {
    std::lock_guard<std::mutex> lock(per_ip_mutex_);
    std::uint32_t& n = per_ip_[peer.to_string()];
    if (n >= options_.max_connections_per_ip) {
      if (n == 0) per_ip_.erase(peer.to_string());
      admitted_.fetch_sub(1, std::memory_order_relaxed);
      why = "too many connections from your address\n";
      return false;
    }
    ++n;
  }
  return true;
}

void server::release(const boost::asio::ip::address& peer) {
  admitted_.fetch_sub(1, std::memory_order_relaxed);
  if (!options_.max_connections_per_ip) return;
  std::lock_guard<std::mutex> lock(per_ip_mutex_);
  const auto it = per_ip_.find(peer.to_string());
  if (it != per_ip_.end() && --it->second == 0) per_ip_.erase(it);
}

void server::register_connection(const connection_ptr& c) {
  registry_shard& s = shard(c->id());
  std::lock_guard<std::mutex> lock(s.mutex);
  s.map.emplace(c->id(), c);
}

void server::unregister_connection(connection_id id) {
  registry_shard& s = shard(id);
  std::lock_guard<std::mutex> lock(s.mutex);
  s.map.erase(id);
}

connection_ptr server::find(connection_id id) const {
  registry_shard& s = shard(id);
  std::lock_guard<std::mutex> lock(s.mutex);
  const auto it = s.map.find(id);
  return it == s.map.end() ? nullptr : it->second.lock();
}

void server::broadcast(const shared_buffer& frame, const websocket_handler* only) {
  for (std::size_t i = 0; i < pool_.size(); ++i) {
    worker& w = pool_.at(i);
    w.post([&w, frame, only] {
      for (transport* t = w.first(); t != nullptr; t = t->next_) {
        connection* c = t->as_server_connection();
        if (c && (!only || c->handler() == only)) c->deliver(frame);
      }
    });
  }
}

template <class Send>
void server::post_by_worker(const std::vector<connection_ptr>& targets, const shared_buffer& data,
                            Send send) {
  std::vector<std::vector<connection_ptr>> by_worker(pool_.size());
  for (const auto& c : targets)
    if (c) by_worker[c->home().index()].push_back(c);
  for (std::size_t i = 0; i < pool_.size(); ++i) {
    if (by_worker[i].empty()) continue;
    pool_.at(i).post([data, send, batch = std::move(by_worker[i])] {
      for (const auto& c : batch)
        send(*c, data);
    });
  }
}

void server::fanout(const std::vector<connection_ptr>& targets, const shared_buffer& frame) {
  post_by_worker(targets, frame, [](connection& c, const shared_buffer& f) { c.deliver(f); });
}

void server::fanout_stream(const std::vector<connection_ptr>& targets, const shared_buffer& bytes) {
  post_by_worker(targets, bytes, [](connection& c, const shared_buffer& b) { c.send_stream(b); });
}

server_stats server::stats() const {
  server_stats s;
  for (std::size_t i = 0; i < pool_.size(); ++i) {
    const worker_stats& w = const_cast<io_pool&>(pool_).at(i).stats;
    s.connections_accepted += w.connections_accepted.get();
    s.connections_refused += w.connections_refused.get();
    s.connections_open += w.connections_open.get();
    s.websockets_open += w.websockets_open.get();
    s.http_requests += w.http_requests.get();
    s.messages_in += w.messages_in.get();
    s.messages_out += w.messages_out.get();
    s.bytes_in += w.bytes_in.get();
    s.bytes_out += w.bytes_out.get();
    s.dropped_messages += w.dropped_messages.get();
    s.slow_consumer_closes += w.slow_consumer_closes.get();
    s.protocol_errors += w.protocol_errors.get();
  }
  return s;
}

void server::stop(std::uint16_t code, std::uint32_t grace_ms) {
  std::lock_guard<std::mutex> lock(stop_mutex_);
  if (!started_ || stopping_.exchange(true)) return;
  for (auto& l : listeners_) {
    listener* lp = l.get();
    lp->home.post([lp] {
      if (lp->fd >= 0) ::close(lp->fd);  // also leaves the epoll set
      lp->fd = -1;
      lp->retry.cancel();
    });
  }
  for (std::size_t i = 0; i < pool_.size(); ++i) {
    worker& w = pool_.at(i);
    w.post([&w, code] {
      for (transport* t = w.first(); t != nullptr;) {
        transport* next = t->next_;
        if (connection* c = t->as_server_connection(); c && c->is_websocket())
          c->close(code, "server shutting down");
        else
          t->close_gracefully(500);
        t = next;
      }
    });
  }
  // Wait for the close handshakes, bounded by the grace period.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
  while (std::chrono::steady_clock::now() < deadline && stats().connections_open > 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  pool_.stop();
  pool_.join();
  // The io threads are gone: close what is left from here, so every connection's close is
  // reported (peers that never answered our close frame within the grace period).
  pool_.abort_all(make_error_code(errc::shutting_down));
  SB_LOG(info, "stopped");
}

}  // namespace switchboard::runtime
