// presence_bridge.cpp: presence across nodes (presence_bridge.hpp). Out: the server's changes
// become shard writes and PresenceEvents, under one mutex so the broker sees them in the order
// the server decided them. In: one worker thread applies the other nodes' events and shards to
// the server's mirror; its maps (applied seq, dead nodes, events held during a shard read) are
// touched on that thread only.
#include "cluster/presence_bridge.hpp"

#include "cluster/envelope.hpp"
#include "cluster/node.hpp"
#include "runtime/log.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace switchboard::cluster {

namespace presence = protocols::presence;

namespace {

const std::string topic = "presence";
const std::string member_field_prefix = "m:";
const std::string seq_field = "seq";

std::string shard_key(const std::string& node) {
  return "presence:shard:" + node;
}

void to_proto(const presence::member& m, v1::PresenceMember& out) {
  out.set_id(m.id);
  out.set_name(m.name);
  out.set_info(m.info);
}

presence::member from_proto(const v1::PresenceMember& p) {
  presence::member m;
  m.id = p.id();
  m.name = p.name();
  m.info = p.info();
  return m;
}

}  // namespace

struct presence_bridge::impl {
  impl(node& nd, presence::server& s) : the_node(nd), bus(nd.bus()), self(nd.id()), server(s) {}

  node& the_node;
  broker& bus;
  const std::string self;
  presence::server& server;
  std::atomic<bool> started{false};

  // --- out: this node's members (the shard) and the change counter -------------------------
  struct local_member {
    presence::member who;
    std::set<std::string> channels;
  };
  std::mutex out_mutex;
  std::map<std::string, local_member> local;
  // Starts at the wall clock in microseconds, so a node restarted under the same id goes on
  // above what the others saw of its previous run.
  std::uint64_t seq =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());

  std::atomic<std::uint64_t> published{0}, applied_count{0}, skipped{0}, dropped{0}, unavailable{0},
      shard_reads{0};

  // --- in: the worker ------------------------------------------------------------------------
  std::mutex queue_mutex;
  std::condition_variable queue_wake;
  std::deque<std::function<void()>> queue;
  bool worker_stop = false;
  std::thread worker;
  // Worker thread only.
  std::unordered_map<std::string, std::uint64_t> applied;                // node -> last seq applied
  std::unordered_set<std::string> dead;                                  // down until seen up again
  std::unordered_map<std::string, std::vector<v1::PresenceEvent>> held;  // shard being read

  void post(std::function<void()> job) {
    {
      std::lock_guard<std::mutex> lock(queue_mutex);
      if (worker_stop) return;
      queue.push_back(std::move(job));
    }
    queue_wake.notify_one();
  }

  void run() {
    std::unique_lock<std::mutex> lock(queue_mutex);
    while (true) {
      queue_wake.wait(lock, [this] { return worker_stop || !queue.empty(); });
      if (worker_stop) return;
      auto job = std::move(queue.front());
      queue.pop_front();
      lock.unlock();
      job();
      lock.lock();
    }
  }

  void stop_worker() {
    {
      std::lock_guard<std::mutex> lock(queue_mutex);
      worker_stop = true;
      queue.clear();
    }
    queue_wake.notify_all();
    if (worker.joinable()) worker.join();
  }

  // --- out ------------------------------------------------------------------------------------

  broker::done_handler count_failure() {
    return [this](broker_error e) {
      if (e != broker_error::none) unavailable.fetch_add(1, std::memory_order_relaxed);
    };
  }

  void emit(v1::Envelope& e) {
    published.fetch_add(1, std::memory_order_relaxed);
    bus.publish(topic, seal(e, self), count_failure());
  }

  // out_mutex held.
  void write_member(const local_member& m) {
    v1::PresenceMember p;
    to_proto(m.who, p);
    for (const auto& c : m.channels)
      p.add_channels(c);
    bus.hset(shard_key(self), member_field_prefix + m.who.id, p.SerializeAsString(),
             count_failure());
  }

  // out_mutex held. The next seq, written to the shard after the change it numbers.
  std::uint64_t next_seq() {
    ++seq;
    bus.hset(shard_key(self), seq_field, std::to_string(seq), count_failure());
    return seq;
  }

  // The whole shard again, and the same as one snapshot event (start, link up).
  void rewrite_shard() {
    std::lock_guard<std::mutex> lock(out_mutex);
    bus.del(shard_key(self), count_failure());
    v1::Envelope e;
    auto* ev = e.mutable_presence();
    auto* snap = ev->mutable_snapshot();
    for (const auto& [id, m] : local) {
      write_member(m);
      auto* p = snap->add_members();
      to_proto(m.who, *p);
      for (const auto& c : m.channels)
        p->add_channels(c);
    }
    ev->set_seq(next_seq());
    emit(e);
  }

  // --- in (worker) ----------------------------------------------------------------------------

  void receive(const std::string& bytes) {
    v1::Envelope e;
    if (!open(bytes, e) || !e.has_presence() || e.origin().empty()) {
      dropped.fetch_add(1, std::memory_order_relaxed);
      SB_LOG(warn, "presence bridge: dropped a malformed envelope (%zu bytes)", bytes.size());
      return;
    }
    const std::string& origin = e.origin();
    if (origin == self) return;  // applied here when it happened
    if (dead.count(origin)) {
      skipped.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    if (auto h = held.find(origin); h != held.end()) {
      h->second.push_back(std::move(*e.mutable_presence()));
      return;
    }
    apply(origin, e.presence());
  }

  void apply(const std::string& origin, const v1::PresenceEvent& ev) {
    if (ev.seq() != 0) {  // a state change: skip what a shard read already had
      auto& last = applied[origin];
      if (ev.seq() <= last) {
        skipped.fetch_add(1, std::memory_order_relaxed);
        return;
      }
      last = ev.seq();
    }
    switch (ev.change_case()) {
      case v1::PresenceEvent::kMemberNew:
        server.apply_member_new(origin, from_proto(ev.member_new()));
        break;
      case v1::PresenceEvent::kMemberUpdate:
        server.apply_member_update(origin, from_proto(ev.member_update()));
        break;
      case v1::PresenceEvent::kMemberRemove:
        server.apply_member_remove(origin, ev.member_remove());
        break;
      case v1::PresenceEvent::kJoin:
        server.apply_join(origin, ev.join().channel(), ev.join().member_id());
        break;
      case v1::PresenceEvent::kLeave:
        server.apply_leave(origin, ev.leave().channel(), ev.leave().member_id());
        break;
      case v1::PresenceEvent::kPublish: {
        const auto& p = ev.publish();
        if (p.has_from()) {
          const presence::member from = from_proto(p.from());
          server.apply_publish(p.channel(), p.text(), &from);
        } else {
          server.apply_publish(p.channel(), p.text(), nullptr);
        }
        break;
      }
      case v1::PresenceEvent::kInvitation:
        if (ev.invitation().node() == self)
          server.apply_invite(ev.invitation().channel(), from_proto(ev.invitation().inviter()),
                              ev.invitation().invitee_id());
        break;
      case v1::PresenceEvent::kResponse: {
        const auto& r = ev.response();
        if (r.node() != self) break;
        std::optional<presence::error_info> error;
        if (r.has_error()) error = presence::error_info{r.error_code(), r.error_text()};
        server.apply_respond(r.channel(), from_proto(r.invitee()), r.inviter_id(), r.accept(),
                             error);
        break;
      }
      case v1::PresenceEvent::kSnapshot: {
        std::vector<presence::remote_member> members;
        for (const auto& p : ev.snapshot().members()) {
          presence::remote_member r{from_proto(p), {p.channels().begin(), p.channels().end()}};
          members.push_back(std::move(r));
        }
        server.apply_sync(origin, members);
        break;
      }
      case v1::PresenceEvent::kGone:
        server.apply_drop(origin);
        applied.erase(origin);
        break;
      case v1::PresenceEvent::kEvicted:
        // Another node thought this one dead (its heartbeat missed while Redis was away) and
        // deleted our shard: write it again, or that node would read it empty when it sees us
        // come back.
        if (ev.evicted() == self) rewrite_shard();
        break;
      default:  // a change a newer node added
        dropped.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    applied_count.fetch_add(1, std::memory_order_relaxed);
  }

  // Reads `node`'s shard; its events are held until the answer, then replayed past its seq.
  void read_shard(const std::string& node) {
    if (node == self || node.empty() || held.count(node)) return;
    held[node];
    shard_reads.fetch_add(1, std::memory_order_relaxed);
    bus.hgetall(shard_key(node),
                [this, node](broker_error e, std::unordered_map<std::string, std::string> h) {
                  post([this, node, e, h = std::move(h)] { shard_read(node, e, h); });
                });
  }

  void shard_read(const std::string& node, broker_error e,
                  const std::unordered_map<std::string, std::string>& h) {
    auto it = held.find(node);
    if (it == held.end()) return;  // the node went down meanwhile
    std::vector<v1::PresenceEvent> events = std::move(it->second);
    held.erase(it);
    if (dead.count(node)) return;
    if (e == broker_error::none) {
      std::uint64_t shard_seq = 0;
      std::vector<presence::remote_member> members;
      for (const auto& [field, value] : h) {
        if (field == seq_field) {
          shard_seq = std::strtoull(value.c_str(), nullptr, 10);
        } else if (field.compare(0, member_field_prefix.size(), member_field_prefix) == 0) {
          v1::PresenceMember p;
          if (!p.ParseFromString(value) || p.id().empty()) {
            dropped.fetch_add(1, std::memory_order_relaxed);
            continue;
          }
          members.push_back({from_proto(p), {p.channels().begin(), p.channels().end()}});
        }
      }
      server.apply_sync(node, members);
      auto& last = applied[node];
      if (shard_seq > last) last = shard_seq;
    } else {
      unavailable.fetch_add(1, std::memory_order_relaxed);
    }
    for (const auto& ev : events)
      apply(node, ev);
  }

  void read_live_shards() {
    for (const auto& n : the_node.nodes())
      if (!n.self) read_shard(n.id);
  }
};

presence_bridge::presence_bridge(node& n, presence::server& s)
    : impl_(std::make_unique<impl>(n, s)) {}

presence_bridge::~presence_bridge() {
  stop();
}

const std::string& presence_bridge::node_id() const noexcept {
  return impl_->self;
}

void presence_bridge::start() {
  impl& d = *impl_;
  if (d.started.exchange(true)) return;
  d.worker = std::thread([&d] { d.run(); });
  d.bus.subscribe(topic, [&d](const delivery& m) {
    d.post([&d, bytes = std::string(m.payload)] { d.receive(bytes); });
  });
  // From here every change is told; what existed before is taken from the server (a member
  // told twice is kept once: the map is keyed by id).
  d.server.federate(this, d.self);
  {
    // Read before taking out_mutex: the server calls the hooks with its lock held and they
    // take out_mutex, so out_mutex is never held while asking the server.
    const auto existing = d.server.local_members();
    std::lock_guard<std::mutex> lock(d.out_mutex);
    for (auto& r : existing) {
      auto& m = d.local[r.who.id];
      m.who = r.who;
      m.channels.insert(r.channels.begin(), r.channels.end());
    }
  }
  d.post([&d] {
    d.rewrite_shard();
    d.read_live_shards();
  });
}

void presence_bridge::stop() {
  impl& d = *impl_;
  if (!d.started.exchange(false)) return;
  d.server.federate(nullptr, d.self);  // no change is told after this returns
  d.stop_worker();
  d.bus.unsubscribe(topic);
  std::lock_guard<std::mutex> lock(d.out_mutex);
  v1::Envelope e;
  e.mutable_presence()->set_gone(true);
  d.emit(e);
  // The others drop this node's members on "gone"; here they stay until their connections
  // close with the server.
  d.bus.del(shard_key(d.self), d.count_failure());
}

void presence_bridge::node_up(const std::string& node_id) {
  impl& d = *impl_;
  if (node_id == d.self) return;
  d.post([&d, node_id] {
    d.dead.erase(node_id);
    d.read_shard(node_id);
  });
}

void presence_bridge::node_down(const std::string& node_id) {
  impl& d = *impl_;
  if (node_id == d.self) return;
  d.post([&d, node_id] {
    d.dead.insert(node_id);
    d.held.erase(node_id);
    d.applied.erase(node_id);
    d.server.apply_drop(node_id);
    d.bus.del(shard_key(node_id), d.count_failure());  // whoever notices first: idempotent
    // Told after the delete (one connection keeps the order): if the node was only thought
    // dead, it writes its shard again (apply, kEvicted).
    v1::Envelope e;
    e.mutable_presence()->set_evicted(node_id);
    std::lock_guard<std::mutex> lock(d.out_mutex);
    d.emit(e);
  });
}

void presence_bridge::link(bool up) {
  impl& d = *impl_;
  if (!up || !d.started.load()) return;
  d.post([&d] {
    d.rewrite_shard();  // the others may have dropped this node during the outage
    d.read_live_shards();
  });
}

presence_bridge_stats presence_bridge::stats() const {
  const impl& d = *impl_;
  presence_bridge_stats s;
  s.published = d.published.load();
  s.applied = d.applied_count.load();
  s.skipped = d.skipped.load();
  s.dropped = d.dropped.load();
  s.unavailable = d.unavailable.load();
  s.shard_reads = d.shard_reads.load();
  return s;
}

// --- federation (the server calls these with its registry lock held) ---------------------------

void presence_bridge::member_new(const presence::member& m) {
  impl& d = *impl_;
  std::lock_guard<std::mutex> lock(d.out_mutex);
  auto& rec = d.local[m.id];
  rec.who = m;
  rec.channels.clear();
  d.write_member(rec);
  v1::Envelope e;
  auto* ev = e.mutable_presence();
  to_proto(m, *ev->mutable_member_new());
  ev->set_seq(d.next_seq());
  d.emit(e);
}

void presence_bridge::member_update(const presence::member& m) {
  impl& d = *impl_;
  std::lock_guard<std::mutex> lock(d.out_mutex);
  auto& rec = d.local[m.id];
  rec.who = m;
  d.write_member(rec);
  v1::Envelope e;
  auto* ev = e.mutable_presence();
  to_proto(m, *ev->mutable_member_update());
  ev->set_seq(d.next_seq());
  d.emit(e);
}

void presence_bridge::member_remove(const presence::member& m) {
  impl& d = *impl_;
  std::lock_guard<std::mutex> lock(d.out_mutex);
  d.local.erase(m.id);
  d.bus.hdel(shard_key(d.self), member_field_prefix + m.id, d.count_failure());
  v1::Envelope e;
  auto* ev = e.mutable_presence();
  ev->set_member_remove(m.id);
  ev->set_seq(d.next_seq());
  d.emit(e);
}

void presence_bridge::join(const std::string& channel, const presence::member& m) {
  impl& d = *impl_;
  std::lock_guard<std::mutex> lock(d.out_mutex);
  auto& rec = d.local[m.id];
  rec.who = m;
  rec.channels.insert(channel);
  d.write_member(rec);
  v1::Envelope e;
  auto* ev = e.mutable_presence();
  ev->mutable_join()->set_member_id(m.id);
  ev->mutable_join()->set_channel(channel);
  ev->set_seq(d.next_seq());
  d.emit(e);
}

void presence_bridge::leave(const std::string& channel, const presence::member& m) {
  impl& d = *impl_;
  std::lock_guard<std::mutex> lock(d.out_mutex);
  if (auto it = d.local.find(m.id); it != d.local.end()) {
    it->second.channels.erase(channel);
    d.write_member(it->second);
  }
  v1::Envelope e;
  auto* ev = e.mutable_presence();
  ev->mutable_leave()->set_member_id(m.id);
  ev->mutable_leave()->set_channel(channel);
  ev->set_seq(d.next_seq());
  d.emit(e);
}

void presence_bridge::publish(const std::string& channel, const std::string& text,
                              const presence::member* from) {
  impl& d = *impl_;
  v1::Envelope e;
  auto* p = e.mutable_presence()->mutable_publish();
  p->set_channel(channel);
  p->set_text(text);
  if (from) to_proto(*from, *p->mutable_from());
  std::lock_guard<std::mutex> lock(d.out_mutex);  // in order with the state changes
  d.emit(e);
}

void presence_bridge::invite(const std::string& node, const std::string& channel,
                             const presence::member& inviter, const std::string& invitee_id) {
  impl& d = *impl_;
  v1::Envelope e;
  auto* i = e.mutable_presence()->mutable_invitation();
  i->set_node(node);
  i->set_channel(channel);
  to_proto(inviter, *i->mutable_inviter());
  i->set_invitee_id(invitee_id);
  std::lock_guard<std::mutex> lock(d.out_mutex);
  d.emit(e);
}

void presence_bridge::respond(const std::string& node, const std::string& channel,
                              const presence::member& invitee, const std::string& inviter_id,
                              bool accept, const std::optional<presence::error_info>& error) {
  impl& d = *impl_;
  v1::Envelope e;
  auto* r = e.mutable_presence()->mutable_response();
  r->set_node(node);
  r->set_channel(channel);
  to_proto(invitee, *r->mutable_invitee());
  r->set_inviter_id(inviter_id);
  r->set_accept(accept);
  if (error) {
    r->set_has_error(true);
    r->set_error_code(error->code);
    r->set_error_text(error->text);
  }
  std::lock_guard<std::mutex> lock(d.out_mutex);
  d.emit(e);
}

}  // namespace switchboard::cluster
