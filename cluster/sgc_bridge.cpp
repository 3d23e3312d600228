// sgc_bridge.cpp: the sgc server's federation over the cluster broker (sgc_bridge.hpp). The
// protocol side (which channel delivers what, sequences, recovery) is the channel actor's
// (protocols/sgc/channel.cpp); this file only moves envelopes, keeps the outbox of publishes
// made during an outage, the GUID -> node map and the pending forwarded RPCs.
#include "cluster/sgc_bridge.hpp"

#include "cluster/envelope.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace switchboard::cluster {

namespace sgc = protocols::sgc;
using steady = std::chrono::steady_clock;

namespace {

const std::string bcast_topic = "sgc:bcast";
const std::string conns_topic = "sgc:conns";
const std::string guids_hash = "sgc:guids";
const std::string rpc_hash = "sgc:rpc";

std::string channel_topic(const std::string& channel) {
  return "sgc:ch:" + channel;
}
std::string node_topic(const std::string& id) {
  return "sgc:node:" + id;
}

void put_filter(const sgc::target_filter& f, google::protobuf::RepeatedPtrField<std::string>* ex,
                google::protobuf::RepeatedPtrField<std::string>* in) {
  for (const auto& g : f.exclude)
    *ex->Add() = g;
  for (const auto& g : f.include)
    *in->Add() = g;
}

sgc::target_filter get_filter(const google::protobuf::RepeatedPtrField<std::string>& ex,
                              const google::protobuf::RepeatedPtrField<std::string>& in) {
  sgc::target_filter f;
  f.exclude.assign(ex.begin(), ex.end());
  f.include.assign(in.begin(), in.end());
  return f;
}

// A publish on its way to the log: first as it is, or, once the link failed, in the outbox
// (then `sealed` carries delivered = true: this node delivered it already).
struct outgoing {
  std::string channel;
  std::string payload;
  sgc::queue_level queue = sgc::queue_level::level0;
  sgc::target_filter filter;
  sgc::federation::publish_done done;
  std::string sealed;
  std::uint64_t ticket = 0;  // this node's publish order
};

struct pending_rpc {
  sgc::rpc_call call;
  steady::time_point deadline;
};

}  // namespace

struct sgc_bridge::impl : std::enable_shared_from_this<impl> {
  impl(sgc::server& s, node& n, sgc_bridge_options o)
      : server(s), self_node(n), bus(n.bus()), self(n.id()), options(o) {
    retention.max_count = std::max<std::size_t>(1, s.options().queue_max_count);
    retention.max_age = s.options().queue_max_age;
  }

  sgc::server& server;
  node& self_node;
  broker& bus;
  const std::string self;
  const sgc_bridge_options options;
  log_retention retention;

  std::mutex outbox_mutex;  // the publish order state below
  std::uint64_t next_ticket = 0;
  std::set<std::uint64_t> inflight;  // sent straight to the log, no answer yet
  std::map<std::uint64_t, std::shared_ptr<outgoing>> outbox;       // held, by ticket
  std::map<std::uint64_t, std::shared_ptr<outgoing>> undelivered;  // held, not delivered here
  std::size_t outbox_bytes = 0;
  bool draining = false;

  mutable std::mutex guids_mutex;
  std::unordered_map<std::string, std::string> guid_node;  // other nodes' connections
  std::set<std::string> suspects;  // nodes with GUIDs here, missing from the live view

  std::mutex rpc_mutex;
  std::uint64_t next_call = 0;
  std::unordered_map<std::uint64_t, pending_rpc> pending;

  std::atomic<std::uint64_t> refused{0}, dropped{0}, rpc_forwarded{0}, rpc_timeouts{0}, link_ups{0};

  std::mutex run_mutex;
  std::condition_variable run_cv;
  bool running = false;
  bool quit = false;
  std::thread ticker;

  std::weak_ptr<impl> weak() { return weak_from_this(); }

  std::string seal_event(v1::SgcEvent ev) {
    v1::Envelope e;
    *e.mutable_sgc() = std::move(ev);
    return seal(e, self);
  }

  std::string seal_publish(const outgoing& o, bool delivered) {
    v1::SgcEvent ev;
    auto* p = ev.mutable_publish();
    p->set_channel(o.channel);
    p->set_payload(o.payload);
    p->set_queue(static_cast<std::uint32_t>(o.queue));
    put_filter(o.filter, p->mutable_exclude(), p->mutable_include());
    p->set_delivered(delivered);
    return seal_event(std::move(ev));
  }

  // A logged entry back into what the channel actor applies; false: malformed (counted).
  bool decode_logged(std::string_view bytes, sgc::federated_event& out) {
    v1::Envelope e;
    if (!open(bytes, e) || !e.has_sgc()) return false;
    const auto& ev = e.sgc();
    if (ev.has_clear()) {
      out.what = sgc::federated_event::kind::clear;
      return true;
    }
    if (!ev.has_publish()) return false;
    const auto& p = ev.publish();
    if (p.queue() > 2 || !sgc::is_json_value(p.payload())) return false;
    out.what = sgc::federated_event::kind::publish;
    out.payload = p.payload();
    out.queue = static_cast<sgc::queue_level>(p.queue());
    out.filter = get_filter(p.exclude(), p.include());
    out.delivered = p.delivered() && e.origin() == self;
    return true;
  }

  // --- channel publish ------------------------------------------------------------------
  //
  // Order across an outage. Every publish takes a ticket (its place in this node's order).
  // It goes straight to the log while the link is up and nothing is held; once one fails for
  // want of the link, it and everything after it are held in the outbox, by ticket (answers
  // of publishes in flight come back later than new publishes arrive, so arrival order at the
  // outbox is not the publishers' order). A held publish is delivered here once no earlier one
  // is still in flight (it may yet be held too), and the outbox is handed to the log, in ticket
  // order, only once nothing is in flight.
  //
  // The log must not take a later ticket before an earlier one that failed: the broker checks
  // the link when its thread runs a request, not when it is made, so a publish made while the
  // link was down could otherwise fail after a later one made then reached the restored link.
  // Hence: straight only if the broker said it was connected just before, and the ticket, the
  // check of the outbox and the hand-over to the broker happen under outbox_mutex, which the
  // failure answer of an earlier ticket needs too: that answer either came first (the outbox
  // is not empty: this one is held) or finds this one queued behind it on the broker's
  // thread, before any reconnection (it fails too). The broker never calls a handler from
  // inside a request, so holding the lock across publish_logged cannot deadlock.

  void publish(const std::string& channel, std::string payload, sgc::queue_level queue,
               const sgc::target_filter& filter, sgc::federation::publish_done done) {
    auto o = std::make_shared<outgoing>();
    o->channel = channel;
    o->payload = std::move(payload);
    o->queue = queue;
    o->filter = filter;
    o->done = std::move(done);
    o->sealed = seal_publish(*o, false);
    const bool up = bus.stats().connected;  // not under the lock: local_broker asks its thread
    std::unique_lock<std::mutex> lock(outbox_mutex);
    o->ticket = ++next_ticket;
    if (!up || !outbox.empty() || draining) return hold_locked(std::move(o), lock);
    inflight.insert(o->ticket);
    std::weak_ptr<impl> w = weak();
    bus.publish_logged(channel_topic(channel), o->sealed, retention,
                       [w, o](broker_error err, std::uint64_t, const std::string&) {
                         auto me = w.lock();
                         if (!me) {
                           if (o->done) o->done(err == broker_error::none);
                           return;
                         }
                         std::unique_lock<std::mutex> held(me->outbox_mutex);
                         me->inflight.erase(o->ticket);
                         if (err == broker_error::unavailable) return me->hold_locked(o, held);
                         me->release_locked();
                         held.unlock();
                         if (err != broker_error::none) ++me->refused;
                         if (o->done) o->done(err == broker_error::none);
                       });
  }

  // The link is down (or the outbox is not empty): keep `o` to log later and deliver it here
  // in ticket order; refuse it when the outbox is full. `lock` holds outbox_mutex.
  void hold_locked(std::shared_ptr<outgoing> o, std::unique_lock<std::mutex>& lock) {
    o->sealed = seal_publish(*o, true);
    const bool full = outbox.size() >= options.outbox_max_count ||
                      outbox_bytes + o->sealed.size() > options.outbox_max_bytes;
    if (!full) {
      outbox_bytes += o->sealed.size();
      outbox.emplace(o->ticket, o);
      undelivered.emplace(o->ticket, o);
    }
    release_locked();
    lock.unlock();
    if (full) {
      ++refused;
      if (o->done) o->done(false);
    }
  }

  // Delivers here the held publishes no earlier in-flight one precedes. Under outbox_mutex,
  // so two threads never deliver out of order.
  void release_locked() {
    const std::uint64_t limit = inflight.empty() ? ~std::uint64_t(0) : *inflight.begin();
    while (!undelivered.empty() && undelivered.begin()->first < limit) {
      const auto o = undelivered.begin()->second;
      undelivered.erase(undelivered.begin());
      server.deliver_now(o->channel, o->payload, o->queue, o->filter);
    }
  }

  // Hands the outbox to the log, oldest ticket first, one at a time, ACKing each.
  void drain_next() {
    std::shared_ptr<outgoing> o;
    {
      std::lock_guard<std::mutex> lock(outbox_mutex);
      if (outbox.empty()) {
        draining = false;
        return;
      }
      o = outbox.begin()->second;
    }
    std::weak_ptr<impl> w = weak();
    bus.publish_logged(channel_topic(o->channel), o->sealed, retention,
                       [w, o](broker_error err, std::uint64_t, const std::string&) {
                         auto me = w.lock();
                         if (!me) return;
                         if (err == broker_error::unavailable) {  // down again: next link-up
                           std::lock_guard<std::mutex> lock(me->outbox_mutex);
                           me->draining = false;
                           return;
                         }
                         {
                           std::lock_guard<std::mutex> lock(me->outbox_mutex);
                           if (me->outbox.erase(o->ticket) > 0)
                             me->outbox_bytes -= o->sealed.size();
                         }
                         if (err != broker_error::none) ++me->refused;
                         if (o->done) o->done(err == broker_error::none);
                         me->drain_next();
                       });
  }

  void clear(const std::string& channel) {
    v1::SgcEvent ev;
    ev.mutable_clear()->set_channel(channel);
    bus.publish_logged(channel_topic(channel), seal_event(std::move(ev)), retention,
                       [](broker_error, std::uint64_t, const std::string&) {});
  }

  void watch(const std::string& channel, sgc::federation::event_handler h,
             std::function<void()> ready) {
    std::weak_ptr<impl> w = weak();
    bus.subscribe(
        channel_topic(channel),
        [w, h = std::move(h)](const delivery& d) {
          auto me = w.lock();
          if (!me) return;
          sgc::federated_event ev;
          if (!me->decode_logged(d.payload, ev)) {
            ++me->dropped;
            return;
          }
          ev.sequence = d.sequence;
          ev.epoch = std::string(d.epoch);
          h(std::move(ev));
        },
        [ready = std::move(ready)](broker_error) {
          if (ready) ready();
        });
  }

  void history(const std::string& channel, std::uint64_t after, std::size_t max,
               sgc::federation::history_handler h) {
    std::weak_ptr<impl> w = weak();
    bus.read_log(channel_topic(channel), after, max,
                 [w, h = std::move(h)](broker_error err, std::vector<log_entry> entries,
                                       const std::string& epoch) {
                   auto me = w.lock();
                   if (!me || err != broker_error::none) return h(false, {}, {});
                   std::vector<sgc::federated_event> out;
                   out.reserve(entries.size());
                   for (auto& e : entries) {
                     sgc::federated_event ev;
                     if (!me->decode_logged(e.payload, ev)) {
                       ++me->dropped;
                       continue;  // the sequence jumps over it
                     }
                     ev.sequence = e.sequence;
                     ev.epoch = epoch;
                     out.push_back(std::move(ev));
                   }
                   h(true, std::move(out), epoch);
                 });
  }

  // --- broadcast, write, connections ------------------------------------------------------

  void broadcast(const std::string& channel, std::string payload, const sgc::target_filter& f) {
    v1::SgcEvent ev;
    auto* b = ev.mutable_broadcast();
    b->set_channel(channel);
    b->set_payload(std::move(payload));
    put_filter(f, b->mutable_exclude(), b->mutable_include());
    bus.publish(bcast_topic, seal_event(std::move(ev)));
  }

  bool write(const std::string& guid, std::string payload) {
    std::string where;
    {
      std::lock_guard<std::mutex> lock(guids_mutex);
      auto it = guid_node.find(guid);
      if (it == guid_node.end()) return false;
      where = it->second;
    }
    v1::SgcEvent ev;
    auto* m = ev.mutable_write();
    m->set_guid(guid);
    m->set_payload(std::move(payload));
    bus.publish(node_topic(where), seal_event(std::move(ev)));
    return true;
  }

  void connection_event(const std::string& guid, bool opened) {
    if (opened)
      bus.hset(guids_hash, guid, self);
    else
      bus.hdel(guids_hash, guid);
    v1::SgcEvent ev;
    ev.mutable_connection()->set_guid(guid);
    ev.mutable_connection()->set_open(opened);
    bus.publish(conns_topic, seal_event(std::move(ev)));
  }

  // --- RPC --------------------------------------------------------------------------------

  void rpc(sgc::rpc_call call) {
    std::weak_ptr<impl> w = weak();
    bus.hgetall(rpc_hash, [w, call](broker_error err,
                                    std::unordered_map<std::string, std::string> fields) mutable {
      auto me = w.lock();
      if (!me || err != broker_error::none) {
        call.error(sgc::cluster_unavailable, "Cluster unavailable", call.method());
        return;
      }
      const std::string prefix = call.method() + "\n";
      std::vector<std::string> nodes;
      for (const auto& [field, id] : fields)
        if (field.compare(0, prefix.size(), prefix) == 0 && id != me->self) nodes.push_back(id);
      if (nodes.empty()) {
        call.error(sgc::method_not_found, {}, call.method());
        return;
      }
      // Prefer live nodes (a dead one's methods stay registered until it comes back); when
      // the view does not know any of them yet, try them anyway (the timeout answers).
      const auto live = me->live_ids();
      std::vector<std::string> alive;
      for (const auto& id : nodes)
        if (live.count(id)) alive.push_back(id);
      if (!alive.empty()) nodes.swap(alive);
      thread_local std::mt19937 rng{std::random_device{}()};
      const std::string target = nodes[rng() % nodes.size()];
      me->forward(target, std::move(call));
    });
  }

  void forward(const std::string& target, sgc::rpc_call call) {
    v1::SgcEvent ev;
    auto* r = ev.mutable_rpc_request();
    r->set_method(call.method());
    r->set_params(call.params());
    r->set_id(call.id());
    r->set_guid(call.guid());
    std::uint64_t key;
    {
      std::lock_guard<std::mutex> lock(rpc_mutex);
      key = ++next_call;
      pending.emplace(key, pending_rpc{call, steady::now() + options.rpc_timeout});
    }
    r->set_call(key);
    ++rpc_forwarded;
    std::weak_ptr<impl> w = weak();
    bus.publish(node_topic(target), seal_event(std::move(ev)), [w, key](broker_error err) {
      auto me = w.lock();
      if (!me || err == broker_error::none) return;
      if (auto c = me->take_call(key))
        c->error(sgc::cluster_unavailable, "Cluster unavailable", c->method());
    });
  }

  std::optional<sgc::rpc_call> take_call(std::uint64_t key) {
    std::lock_guard<std::mutex> lock(rpc_mutex);
    auto it = pending.find(key);
    if (it == pending.end()) return std::nullopt;
    auto call = std::move(it->second.call);
    pending.erase(it);
    return call;
  }

  void serve(const std::string& origin, const v1::SgcRpcRequest& r) {
    if (!r.params().empty() && !sgc::is_json_value(r.params())) {
      ++dropped;
      return;
    }
    std::weak_ptr<impl> w = weak();
    const std::uint64_t key = r.call();
    auto reply = [w, origin, key](std::string text) {
      auto me = w.lock();
      if (!me) return;
      v1::SgcEvent ev;
      ev.mutable_rpc_reply()->set_call(key);
      ev.mutable_rpc_reply()->set_text(std::move(text));
      me->bus.publish(node_topic(origin), me->seal_event(std::move(ev)));
    };
    // The id token must be one JSON string, number or null (rpc_call re-reads it).
    const std::string& id = r.id();
    if (id.empty() || !sgc::is_json_value(id) || id.front() == '{' || id.front() == '[') {
      ++dropped;
      return;
    }
    sgc::rpc_call call(r.guid(), r.method(), r.params(), id, reply);
    if (server.serve_rpc(call)) return;
    v1::SgcEvent ev;
    ev.mutable_rpc_reply()->set_call(key);
    ev.mutable_rpc_reply()->set_unknown(true);
    bus.publish(node_topic(origin), seal_event(std::move(ev)));
  }

  // --- topics -----------------------------------------------------------------------------

  void on_node_message(const delivery& d) {
    v1::Envelope e;
    if (!open(d.payload, e) || !e.has_sgc()) return void(++dropped);
    const auto& ev = e.sgc();
    if (ev.has_write()) {
      if (!sgc::is_json_value(ev.write().payload())) return void(++dropped);
      server.deliver_write(ev.write().guid(), ev.write().payload());
    } else if (ev.has_rpc_request()) {
      serve(e.origin(), ev.rpc_request());
    } else if (ev.has_rpc_reply()) {
      auto call = take_call(ev.rpc_reply().call());
      if (!call) return;  // answered already (timeout)
      if (ev.rpc_reply().unknown()) {
        call->error(sgc::method_not_found, {}, call->method());
      } else if (!sgc::is_json_value(ev.rpc_reply().text())) {
        ++dropped;
        call->error(sgc::internal_error, {}, call->method());
      } else {
        call->answer_encoded(ev.rpc_reply().text());
      }
    } else {
      ++dropped;
    }
  }

  void on_broadcast(const delivery& d) {
    v1::Envelope e;
    if (!open(d.payload, e) || !e.has_sgc() || !e.sgc().has_broadcast()) return void(++dropped);
    if (e.origin() == self) return;  // delivered here when it was made
    const auto& b = e.sgc().broadcast();
    if (!sgc::is_json_value(b.payload())) return void(++dropped);
    server.deliver_broadcast(b.channel(), b.payload(), get_filter(b.exclude(), b.include()));
  }

  void on_connection(const delivery& d) {
    v1::Envelope e;
    if (!open(d.payload, e) || !e.has_sgc() || !e.sgc().has_connection()) return void(++dropped);
    if (e.origin() == self) return;
    const auto& c = e.sgc().connection();
    std::lock_guard<std::mutex> lock(guids_mutex);
    if (c.open()) {
      guid_node[c.guid()] = e.origin();
    } else {
      auto it = guid_node.find(c.guid());
      if (it != guid_node.end() && it->second == e.origin()) guid_node.erase(it);
    }
  }

  // --- the link and the ticker --------------------------------------------------------------

  void link_up() {
    ++link_ups;
    server.resync();
    for (const auto& m : server.rpc_methods())
      bus.hset(rpc_hash, m + "\n" + self, self);
    for (const auto& g : server.guids())
      bus.hset(guids_hash, g, self);
    std::weak_ptr<impl> w = weak();
    bus.hgetall(guids_hash,
                [w](broker_error err, std::unordered_map<std::string, std::string> all) {
                  auto me = w.lock();
                  if (!me || err != broker_error::none) return;
                  std::lock_guard<std::mutex> lock(me->guids_mutex);
                  for (auto& [guid, id] : all)
                    if (id != me->self) me->guid_node[guid] = std::move(id);
                });
  }

  std::set<std::string> live_ids() const {
    std::set<std::string> out;
    for (const auto& n : self_node.nodes())
      out.insert(n.id);
    return out;
  }

  // GUIDs of nodes that left the live view (killed: they could not withdraw them) are
  // forgotten, here and in the registry, once the node was missing at two sweeps in a row (a
  // node that just joined may not be in the view yet).
  void forget_dead_nodes() {
    const auto live = live_ids();
    std::set<std::string> missing;
    std::vector<std::string> gone;
    {
      std::lock_guard<std::mutex> lock(guids_mutex);
      for (auto it = guid_node.begin(); it != guid_node.end();) {
        if (live.count(it->second) == 0) {
          missing.insert(it->second);
          if (suspects.count(it->second)) {
            gone.push_back(it->first);
            it = guid_node.erase(it);
            continue;
          }
        }
        ++it;
      }
      suspects = std::move(missing);
    }
    for (const auto& g : gone)
      bus.hdel(guids_hash, g);
  }

  void expire_rpcs(steady::time_point now) {
    std::vector<sgc::rpc_call> late;
    {
      std::lock_guard<std::mutex> lock(rpc_mutex);
      for (auto it = pending.begin(); it != pending.end();) {
        if (it->second.deadline <= now) {
          late.push_back(std::move(it->second.call));
          it = pending.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& c : late) {
      ++rpc_timeouts;
      c.error(sgc::server_error, "RPC timeout: the node serving the method did not answer",
              c.method());
    }
  }

  void run() {
    bool was_up = false;
    std::uint64_t outages = 0;  // the broker's count at the last link-up
    steady::time_point second_resync{};
    steady::time_point next_sweep = steady::now() + std::chrono::seconds(2);
    std::unique_lock<std::mutex> lock(run_mutex);
    while (!quit) {
      lock.unlock();
      const auto now = steady::now();
      const auto st = bus.stats();
      const bool up = st.connected;
      // A link lost and restored between two ticks is a link-up too (the counter moved).
      if (up && (!was_up || st.outages != outages)) {
        outages = st.outages;
        link_up();
        second_resync = now + std::chrono::seconds(1);
      } else if (up && second_resync != steady::time_point{} && now >= second_resync) {
        second_resync = {};
        server.resync();
      }
      was_up = up;
      if (up) {
        bool start_drain = false;
        {
          std::lock_guard<std::mutex> g(outbox_mutex);
          if (!outbox.empty() && !draining && inflight.empty()) start_drain = draining = true;
        }
        if (start_drain) drain_next();
      }
      expire_rpcs(now);
      if (now >= next_sweep) {
        next_sweep = now + std::chrono::seconds(2);
        forget_dead_nodes();
      }
      lock.lock();
      run_cv.wait_for(lock, options.tick, [this] { return quit; });
    }
  }

  void start() {
    {
      std::lock_guard<std::mutex> lock(run_mutex);
      if (running || quit) return;
      running = true;
    }
    std::weak_ptr<impl> w = weak();
    bus.subscribe(node_topic(self), [w](const delivery& d) {
      if (auto me = w.lock()) me->on_node_message(d);
    });
    bus.subscribe(bcast_topic, [w](const delivery& d) {
      if (auto me = w.lock()) me->on_broadcast(d);
    });
    bus.subscribe(conns_topic, [w](const delivery& d) {
      if (auto me = w.lock()) me->on_connection(d);
    });
    ticker = std::thread([this] { run(); });
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(run_mutex);
      if (!running || quit) {
        quit = true;
        return;
      }
      quit = true;
    }
    run_cv.notify_all();
    if (ticker.joinable()) ticker.join();
    bus.unsubscribe(node_topic(self));
    bus.unsubscribe(bcast_topic);
    bus.unsubscribe(conns_topic);
    for (const auto& m : server.rpc_methods())
      bus.hdel(rpc_hash, m + "\n" + self);
    for (const auto& g : server.guids())
      bus.hdel(guids_hash, g);
    std::vector<sgc::rpc_call> calls;
    {
      std::lock_guard<std::mutex> lock(rpc_mutex);
      for (auto& [key, p] : pending)
        calls.push_back(std::move(p.call));
      pending.clear();
    }
    for (auto& c : calls)
      c.error(sgc::cluster_unavailable, "Cluster unavailable", c.method());
  }
};

namespace {

// What the sgc server holds (it keeps it for its whole life): forwards to the bridge while it
// exists, and turns into refusals and no-ops once it is gone.
class hook final : public sgc::federation {
 public:
  explicit hook(std::weak_ptr<sgc_bridge::impl> b) : bridge_(std::move(b)) {}

  void publish(const std::string& channel, std::string payload, sgc::queue_level queue,
               const sgc::target_filter& filter, publish_done done) override {
    if (auto b = bridge_.lock())
      return b->publish(channel, std::move(payload), queue, filter, std::move(done));
    if (done) done(false);
  }
  void clear(const std::string& channel) override {
    if (auto b = bridge_.lock()) b->clear(channel);
  }
  void watch(const std::string& channel, event_handler h, std::function<void()> ready) override {
    if (auto b = bridge_.lock()) return b->watch(channel, std::move(h), std::move(ready));
    if (ready) ready();
  }
  void unwatch(const std::string& channel) override {
    if (auto b = bridge_.lock()) b->bus.unsubscribe(channel_topic(channel));
  }
  void history(const std::string& channel, std::uint64_t after, std::size_t max,
               history_handler h) override {
    if (auto b = bridge_.lock()) return b->history(channel, after, max, std::move(h));
    h(false, {}, {});
  }
  void broadcast(const std::string& channel, std::string payload,
                 const sgc::target_filter& filter) override {
    if (auto b = bridge_.lock()) b->broadcast(channel, std::move(payload), filter);
  }
  bool write(const std::string& guid, std::string payload) override {
    auto b = bridge_.lock();
    return b && b->write(guid, std::move(payload));
  }
  void rpc(sgc::rpc_call call) override {
    if (auto b = bridge_.lock()) return b->rpc(std::move(call));
    call.error(sgc::method_not_found, {}, call.method());
  }
  void connection_opened(const std::string& guid) override {
    if (auto b = bridge_.lock()) b->connection_event(guid, true);
  }
  void connection_closed(const std::string& guid) override {
    if (auto b = bridge_.lock()) b->connection_event(guid, false);
  }

 private:
  std::weak_ptr<sgc_bridge::impl> bridge_;
};

}  // namespace

sgc_bridge::sgc_bridge(sgc::server& server, node& n, sgc_bridge_options options)
    : impl_(std::make_shared<impl>(server, n, options)) {
  server.set_federation(std::make_shared<hook>(impl_));
}

sgc_bridge::~sgc_bridge() {
  stop();
}

void sgc_bridge::start() {
  impl_->start();
}

void sgc_bridge::stop() {
  impl_->stop();
}

sgc_bridge_stats sgc_bridge::stats() const {
  sgc_bridge_stats s;
  {
    std::lock_guard<std::mutex> lock(impl_->outbox_mutex);
    s.outbox = impl_->outbox.size();
    s.outbox_bytes = impl_->outbox_bytes;
  }
  s.refused = impl_->refused;
  s.dropped = impl_->dropped;
  s.rpc_forwarded = impl_->rpc_forwarded;
  s.rpc_timeouts = impl_->rpc_timeouts;
  s.link_ups = impl_->link_ups;
  {
    std::lock_guard<std::mutex> lock(impl_->guids_mutex);
    s.known_guids = impl_->guid_node.size();
  }
  return s;
}

}  // namespace switchboard::cluster
