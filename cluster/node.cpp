// node.cpp: this daemon as a cluster member (node.hpp). A thread of its own beats every
// `heartbeat`: it writes the heartbeat key (TTL dead_after, so Redis's clock, not ours, says when
// a silent node is gone) and the registry entry, then refreshes the view from the registry. Topic
// "nodes" carries joins, drains and leaves so those are seen at once.
//
// Ordering: a refresh's answers may arrive after an event about the same node that Redis
// handled later (pub/sub and commands travel apart). Each refresh takes a generation number
// when it starts; an event records the generation current when it was handled; a refresh never
// overrules an event that came after it started. So a leave is not undone by a stale refresh
// and a join is not reported down by one that read the registry before it.
#include "cluster/node.hpp"

#include "cluster/envelope.hpp"
#include "cluster/proto/node.pb.h"
#include "runtime/log.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <unordered_map>

namespace switchboard::cluster {
namespace {

const std::string registry = "nodes";  // hash: id -> NodeInfo
const std::string topic = "nodes";     // NodeEvent envelopes

std::string heartbeat_key(const std::string& id) {
  return "node:" + id;
}

std::string random_id() {
  std::random_device rd;
  const std::uint64_t v = (std::uint64_t{rd()} << 32) ^ rd();
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(v));
  return text;
}

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

node_info from_proto(const v1::NodeInfo& p) {
  node_info n;
  n.id = p.id();
  n.role = p.role().empty() ? "node" : p.role();
  n.url = p.url();
  n.connections = p.connections();
  n.load = p.load();
  n.started_ms = p.started_ms();
  n.draining = p.draining();
  n.beat_ms = p.beat_ms();
  return n;
}

}  // namespace

struct node::impl {
  // Shared with the broker's callbacks, which may outlive the node by a little.
  struct state {
    broker& bus;
    node_options options;
    std::vector<node_handler> up, down;  // every handler added, in order
    load_source load;

    mutable std::mutex mutex;  // guards everything below (the broker thread and nodes())
    v1::NodeInfo self;
    std::map<std::string, node_info> view;                   // other live nodes, by id
    std::unordered_map<std::string, std::uint64_t> touched;  // id -> generation of its last event
    std::atomic<std::uint64_t> generation{0};
    std::atomic<bool> refreshing{false};
    std::atomic<std::int64_t> refresh_started{0};  // steady clock, ms
    std::atomic<bool> stopped{false};
    std::atomic<std::uint64_t> dropped{0};  // malformed envelopes and registry entries

    state(broker& b, node_options o) : bus(b), options(std::move(o)) {}
  };

  std::shared_ptr<state> s;
  std::thread beater;
  std::mutex beat_mutex;
  std::condition_variable beat_wake;
  bool started = false;
  bool stopping = false;  // guarded by beat_mutex

  // Writes the heartbeat key first, then the registry entry: a reader that finds the entry
  // finds the key too (the broker keeps one node's operations in order).
  static void beat(const std::shared_ptr<state>& s) {
    std::string bytes;
    {
      std::lock_guard<std::mutex> lock(s->mutex);
      if (s->load) {
        const std::uint64_t n = s->load();
        s->self.set_connections(n);
        s->self.set_load(n);
      }
      s->self.set_beat(s->self.beat() + 1);
      s->self.set_beat_ms(unix_ms());
      bytes = s->self.SerializeAsString();
    }
    s->bus.set(heartbeat_key(s->self.id()), bytes, s->options.dead_after);
    s->bus.hset(registry, s->self.id(), std::move(bytes));
  }

  static void announce(const std::shared_ptr<state>& s, v1::NodeEvent::Kind kind,
                       broker::done_handler done = {}) {
    v1::Envelope e;
    {
      std::lock_guard<std::mutex> lock(s->mutex);
      e.mutable_node()->set_kind(kind);
      *e.mutable_node()->mutable_info() = s->self;
    }
    s->bus.publish(topic, seal(e, s->self.id()), std::move(done));
  }

  // Broker thread: a NodeEvent from another node.
  static void on_event(const std::shared_ptr<state>& s, const delivery& d) {
    if (s->stopped) return;
    v1::Envelope e;
    if (!open(d.payload, e) || !e.has_node() || e.node().info().id().empty()) {
      ++s->dropped;
      SB_LOG(warn, "cluster: dropped a malformed node event (%zu bytes)", d.payload.size());
      return;
    }
    const v1::NodeEvent& ev = e.node();
    node_info info = from_proto(ev.info());
    std::optional<node_info> went_up, went_down;
    {
      std::lock_guard<std::mutex> lock(s->mutex);
      if (info.id == s->self.id()) return;
      s->touched[info.id] = s->generation.load();
      const auto it = s->view.find(info.id);
      switch (ev.kind()) {
        case v1::NodeEvent::JOIN:
        case v1::NodeEvent::DRAIN:
          if (it == s->view.end()) {
            s->view.emplace(info.id, info);
            went_up = info;
          } else {
            it->second = info;
          }
          break;
        case v1::NodeEvent::LEAVE:
          if (it != s->view.end()) {
            went_down = it->second;
            s->view.erase(it);
          }
          break;
        default:
          break;  // a kind from a newer node: nothing we know to do
      }
    }
    if (went_up) {
      SB_LOG(info, "cluster: node %s joined (%s)", went_up->id.c_str(), went_up->url.c_str());
      for (auto& h : s->up)
        h(*went_up);
    }
    if (went_down) {
      SB_LOG(info, "cluster: node %s left", went_down->id.c_str());
      for (auto& h : s->down)
        h(*went_down);
    }
  }

  // What one refresh has gathered: the registry's ids, then each one's heartbeat key.
  struct refresh_round {
    std::uint64_t generation = 0;
    std::size_t waiting = 0;
    bool failed = false;
    std::map<std::string, std::optional<v1::NodeInfo>> beats;  // id -> key value, none: expired
  };

  static void refresh(const std::shared_ptr<state>& s) {
    // One refresh at a time; one whose answers never came (a broker that stopped answering)
    // is given up after a few heartbeats.
    const std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::steady_clock::now().time_since_epoch())
                                 .count();
    if (s->refreshing.exchange(true) &&
        now - s->refresh_started.load() < (s->options.heartbeat * 5).count())
      return;
    s->refresh_started = now;
    const std::uint64_t g = ++s->generation;
    s->bus.hgetall(
        registry, [s, g](broker_error err, std::unordered_map<std::string, std::string> entries) {
          if (err != broker_error::none || s->stopped) {
            s->refreshing = false;  // keep the view as it is: an outage is not a death
            return;
          }
          auto round = std::make_shared<refresh_round>();
          round->generation = g;
          for (const auto& [id, value] : entries)
            if (id != s->self.id()) round->beats.emplace(id, std::nullopt);
          round->waiting = round->beats.size();
          if (round->waiting == 0) return finish(s, *round);
          for (auto& [id, beat] : round->beats) {
            const std::string node_id = id;
            s->bus.get(heartbeat_key(node_id),
                       [s, round, node_id](broker_error e, std::string value, bool found) {
                         if (e != broker_error::none) round->failed = true;
                         if (found) {
                           v1::NodeInfo info;
                           if (info.ParseFromString(value) && info.id() == node_id)
                             round->beats[node_id] = std::move(info);
                           else
                             ++s->dropped;
                         }
                         if (--round->waiting == 0) finish(s, *round);
                       });
          }
        });
  }

  static void finish(const std::shared_ptr<state>& s, const refresh_round& round) {
    s->refreshing = false;
    if (round.failed || s->stopped) return;
    std::vector<node_info> ups, downs;
    std::vector<std::string> expired;
    {
      std::lock_guard<std::mutex> lock(s->mutex);
      const auto fresh = [&](const std::string& id) {
        const auto t = s->touched.find(id);
        return t == s->touched.end() || t->second < round.generation;
      };
      for (const auto& [id, beat] : round.beats) {
        if (!fresh(id)) continue;
        if (!beat) {
          expired.push_back(id);
          continue;
        }
        node_info info = from_proto(*beat);
        const auto it = s->view.find(id);
        if (it == s->view.end()) {
          s->view.emplace(id, info);
          ups.push_back(info);
        } else {
          it->second = info;
        }
      }
      for (auto it = s->view.begin(); it != s->view.end();) {
        const auto b = round.beats.find(it->first);
        if (fresh(it->first) && (b == round.beats.end() || !b->second)) {
          downs.push_back(it->second);
          it = s->view.erase(it);
        } else {
          ++it;
        }
      }
      // Old event marks matter no more once a refresh has started after them.
      for (auto it = s->touched.begin(); it != s->touched.end();)
        it = it->second + 2 < round.generation ? s->touched.erase(it) : std::next(it);
    }
    // Whoever sees an expired key first removes the entry (the others' hdel finds nothing).
    for (const auto& id : expired)
      s->bus.hdel(registry, id);
    for (const auto& n : ups) {
      SB_LOG(info, "cluster: node %s is up (%s)", n.id.c_str(), n.url.c_str());
      for (auto& h : s->up)
        h(n);
    }
    for (const auto& n : downs) {
      SB_LOG(warn, "cluster: node %s is down (no heartbeat within %lld ms)", n.id.c_str(),
             static_cast<long long>(s->options.dead_after.count()));
      for (auto& h : s->down)
        h(n);
    }
  }
};

node::node(broker& b, node_options options) : impl_(std::make_unique<impl>()) {
  if (options.id.empty()) options.id = random_id();
  if (options.heartbeat.count() <= 0) options.heartbeat = std::chrono::milliseconds(1000);
  if (options.dead_after < options.heartbeat * 2) options.dead_after = options.heartbeat * 2;
  impl_->s = std::make_shared<impl::state>(b, std::move(options));
  v1::NodeInfo& self = impl_->s->self;
  self.set_id(impl_->s->options.id);
  self.set_role(impl_->s->options.role);
  self.set_url(impl_->s->options.url);
  self.set_started_ms(unix_ms());
}

node::~node() {
  stop();
}

const std::string& node::id() const noexcept {
  return impl_->s->options.id;
}

broker& node::bus() noexcept {
  return impl_->s->bus;
}

void node::on_node_up(node_handler h) {
  impl_->s->up.push_back(std::move(h));
}

void node::on_node_down(node_handler h) {
  impl_->s->down.push_back(std::move(h));
}

void node::set_load_source(load_source connections) {
  impl_->s->load = std::move(connections);
}

void node::start() {
  if (impl_->started) return;
  impl_->started = true;
  const auto s = impl_->s;
  s->bus.subscribe(topic, [s](const delivery& d) { impl::on_event(s, d); });
  impl::beat(s);
  impl::announce(s, v1::NodeEvent::JOIN);
  impl::refresh(s);
  impl_->beater = std::thread([this, s] {
    std::unique_lock<std::mutex> lock(impl_->beat_mutex);
    while (!impl_->stopping) {
      if (impl_->beat_wake.wait_for(lock, s->options.heartbeat, [this] { return impl_->stopping; }))
        break;
      lock.unlock();
      impl::beat(s);
      impl::refresh(s);
      lock.lock();
    }
  });
  SB_LOG(info, "cluster: node %s (%s) started, heartbeat %lld ms, dead after %lld ms",
         s->options.id.c_str(), s->options.role.c_str(),
         static_cast<long long>(s->options.heartbeat.count()),
         static_cast<long long>(s->options.dead_after.count()));
}

void node::stop() {
  {
    std::lock_guard<std::mutex> lock(impl_->beat_mutex);
    if (!impl_->started || impl_->stopping) return;
    impl_->stopping = true;
  }
  impl_->beat_wake.notify_all();
  if (impl_->beater.joinable()) impl_->beater.join();
  const auto s = impl_->s;
  // Drain: balancers stop sending clients here, then the registry forgets us and the others
  // hear it at once rather than after dead_after.
  {
    std::lock_guard<std::mutex> lock(s->mutex);
    s->self.set_draining(true);
  }
  impl::beat(s);
  impl::announce(s, v1::NodeEvent::DRAIN);
  s->bus.del(heartbeat_key(s->options.id));
  s->bus.hdel(registry, s->options.id);
  auto left = std::make_shared<std::promise<void>>();
  auto done = left->get_future();
  impl::announce(s, v1::NodeEvent::LEAVE, [left](broker_error) { left->set_value(); });
  // Bounded: a broker that is down (or stopped) may never answer.
  done.wait_for(std::chrono::seconds(1));
  s->stopped = true;
  s->bus.unsubscribe(topic);
  SB_LOG(info, "cluster: node %s left the cluster", s->options.id.c_str());
}

std::vector<node_info> node::nodes() const {
  const auto& s = impl_->s;
  std::vector<node_info> out;
  std::lock_guard<std::mutex> lock(s->mutex);
  out.reserve(s->view.size() + 1);
  for (const auto& [id, info] : s->view)
    out.push_back(info);
  node_info me = from_proto(s->self);
  me.self = true;
  out.push_back(std::move(me));
  std::sort(out.begin(), out.end(),
            [](const node_info& a, const node_info& b) { return a.id < b.id; });
  return out;
}

}  // namespace switchboard::cluster
