// balancer.cpp: the load balancer role (balancer.hpp): choosing a node, GET /lb/node, the 307
// redirect and the proxy tunnel.
//
// The proxy: the balancer's connection becomes a raw tunnel (runtime::upgrade_handler) and the
// node's side is a runtime::transport dialed on the same io worker, so both halves of a tunnel
// run on one thread and need no lock. Each direction is bounded: toward the client by the
// connection's own backpressure limit, toward the node by the node transport's; past a limit
// (or when either side ends) both sides close together.
#include "cluster/balancer.hpp"

#include "runtime/connection.hpp"
#include "runtime/dialer.hpp"
#include "runtime/log.hpp"
#include "runtime/text.hpp"
#include "runtime/transport.hpp"
#include "runtime/url.hpp"

#include <algorithm>
#include <atomic>
#include <deque>
#include <mutex>
#include <random>
#include <unordered_map>

namespace switchboard::cluster {
namespace {

// Wall clock, ms: assignments are compared with the heartbeat times nodes write.
std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The node's half of a tunnel.
class node_link final : public runtime::transport {
 public:
  node_link(runtime::worker& home, runtime::tcp_socket socket, runtime::transport_limits limits,
            std::weak_ptr<runtime::connection> client)
      : transport(home, std::move(socket), limits), client_(std::move(client)) {}

 protected:
  void on_data(std::uint8_t* data, std::size_t size) override {
    const auto c = client_.lock();
    if (!c) return abort();
    auto bytes = std::make_shared<const std::string>(reinterpret_cast<const char*>(data), size);
    if (c->send_stream(bytes) != runtime::send_status::queued) {
      c->close();
      abort();
    }
  }
  void on_closed(const std::error_code&) override {
    if (const auto c = client_.lock()) c->close();  // graceful: what is queued still goes
  }

 private:
  std::weak_ptr<runtime::connection> client_;
};

// The client's half: kept on the connection (home worker only).
struct tunnel final : runtime::connection_attachment {
  std::shared_ptr<node_link> link;  // null while dialing
  std::string pending;              // client bytes that arrived before the node answered
  bool client_closed = false;
};

}  // namespace

std::optional<balancer_mode> parse_balancer_mode(const std::string& text) {
  if (text == "redirect") return balancer_mode::redirect;
  if (text == "proxy") return balancer_mode::proxy;
  return std::nullopt;
}

struct balancer::impl final : runtime::upgrade_handler {
  node& view;
  balancer_options options;
  mutable std::mutex mutex;                                          // guards recent and rng
  std::unordered_map<std::string, std::deque<std::int64_t>> recent;  // id -> assignment times
  std::mt19937_64 rng{std::random_device{}()};
  std::atomic<std::uint64_t> assigned{0}, redirected{0}, proxied{0}, proxy_failed{0}, no_node{0},
      tunnels{0};

  impl(node& v, balancer_options o) : view(v), options(o) {}

  std::optional<node_info> choose() {
    const auto nodes = view.nodes();
    const std::int64_t now = unix_ms();
    const std::int64_t window = options.assignment_window.count();
    std::lock_guard<std::mutex> lock(mutex);
    std::vector<const node_info*> best;
    std::uint64_t best_load = 0;
    for (const auto& n : nodes) {
      if (n.role != "node" || n.draining || n.url.empty()) continue;
      auto& sent = recent[n.id];
      while (!sent.empty() && now - sent.front() > window)
        sent.pop_front();
      // The clients sent there after the heartbeat that measured its load (a node's clock
      // that is off by more than the window counts the window's).
      const auto after = std::upper_bound(sent.begin(), sent.end(), n.beat_ms);
      const std::uint64_t load = n.load + static_cast<std::uint64_t>(sent.end() - after);
      if (best.empty() || load < best_load) {
        best.clear();
        best_load = load;
      }
      if (load == best_load) best.push_back(&n);
    }
    if (best.empty()) {
      ++no_node;
      return std::nullopt;
    }
    const node_info& pick =
        *best[std::uniform_int_distribution<std::size_t>(0, best.size() - 1)(rng)];
    recent[pick.id].push_back(now);
    // Forget nodes that left (the map holds only what the view holds, plus this turn's).
    if (recent.size() > nodes.size() * 2)
      for (auto it = recent.begin(); it != recent.end();)
        it = it->second.empty() ? recent.erase(it) : std::next(it);
    ++assigned;
    return pick;
  }

  static void no_node_response(runtime::http_response& r) {
    r.status = 503;
    r.content_type = "application/json";
    r.body = "{\"error\":\"no live node\"}";
    r.headers.emplace_back("Cache-Control", "no-store");
    r.headers.emplace_back("Access-Control-Allow-Origin", "*");
  }

  bool on_upgrade(const runtime::connection_ptr& c, const runtime::http_request& r,
                  runtime::http_response& response) override {
    const auto n = choose();
    if (!n) {
      no_node_response(response);
      return false;
    }
    if (options.mode == balancer_mode::redirect) {
      ++redirected;
      std::string base = n->url;
      while (!base.empty() && base.back() == '/')
        base.pop_back();
      response.status = 307;
      response.body.clear();
      response.headers.emplace_back("Location", base + std::string(r.target));
      return false;
    }
    std::string why;
    const auto target = runtime::parse_url(n->url, &why);
    if (!target || target->secure()) {
      ++proxy_failed;
      response.status = 502;
      response.body = "node " + n->id + " has no ws:// URL to proxy to\n";
      return false;
    }
    ++proxied;
    ++tunnels;
    c->attachment = std::make_unique<tunnel>();
    runtime::dial_request d;
    d.host = target->host;
    d.port = target->port;
    d.timeout_ms = options.connect_timeout_ms;
    std::weak_ptr<runtime::connection> weak = c;
    runtime::worker& home = c->home();
    const runtime::transport_limits limits{options.max_tunnel_buffer,
                                           runtime::slow_consumer_policy::close, 0};
    const std::string where = n->url;
    runtime::dial(
        home, d,
        [this, weak, &home, limits, where](const std::error_code& ec, const std::string& what,
                                           runtime::tcp_socket s) {
          const auto client = weak.lock();
          auto* t = client ? dynamic_cast<tunnel*>(client->attachment.get()) : nullptr;
          if (!t || t->client_closed) return;
          if (ec) {
            ++proxy_failed;
            SB_LOG(warn, "balancer: cannot reach %s: %s", where.c_str(), what.c_str());
            static const std::string bad_gateway =
                "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            client->send_stream(std::make_shared<const std::string>(bad_gateway));
            client->close();
            return;
          }
          t->link = std::make_shared<node_link>(home, std::move(s), limits, weak);
          t->link->start();
          if (!t->pending.empty()) {
            t->link->send_copy(t->pending.data(), t->pending.size());
            std::string().swap(t->pending);
          }
        });
    return true;
  }

  void on_tunnel_data(const runtime::connection_ptr& c, std::string_view bytes) override {
    auto* t = dynamic_cast<tunnel*>(c->attachment.get());
    if (!t) return c->close();
    if (!t->link) {
      if (t->pending.size() + bytes.size() > options.max_tunnel_buffer) return c->close();
      t->pending.append(bytes);
      return;
    }
    if (t->link->send_copy(bytes.data(), bytes.size()) != runtime::send_status::queued) {
      t->link->abort();
      c->close();
    }
  }

  void on_tunnel_close(const runtime::connection_ptr& c) override {
    --tunnels;
    if (auto* t = dynamic_cast<tunnel*>(c->attachment.get())) {
      t->client_closed = true;
      if (t->link && !t->link->is_closing()) t->link->close_gracefully(500);
    }
  }
};

balancer::balancer(node& view, balancer_options options)
    : impl_(std::make_unique<impl>(view, options)) {}

balancer::~balancer() = default;

void balancer::attach(runtime::server& s, const std::string& node_path) {
  impl* self = impl_.get();
  s.add_http_route(node_path, [self](const runtime::http_request& r, runtime::http_response& out) {
    if (r.method != "GET" && r.method != "HEAD") return false;
    const auto n = self->choose();
    if (!n) {
      impl::no_node_response(out);
      return true;
    }
    out.content_type = "application/json";
    out.headers.emplace_back("Cache-Control", "no-store");
    out.headers.emplace_back("Access-Control-Allow-Origin", "*");  // pages served elsewhere
    out.body =
        "{\"url\":" + runtime::json_quote(n->url) + ",\"node\":" + runtime::json_quote(n->id) + "}";
    return true;
  });
  s.add_upgrade_route("/*", self);
}

std::optional<node_info> balancer::choose() {
  return impl_->choose();
}

balancer_stats balancer::stats() const {
  balancer_stats st;
  st.assigned = impl_->assigned;
  st.redirected = impl_->redirected;
  st.proxied = impl_->proxied;
  st.proxy_failed = impl_->proxy_failed;
  st.no_node = impl_->no_node;
  st.tunnels_open = impl_->tunnels;
  return st;
}

}  // namespace switchboard::cluster
