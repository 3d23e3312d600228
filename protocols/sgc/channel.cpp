// channel.cpp: the channel actor (channel.hpp): subscriber sets, the per-channel sequence and
// queue, fan-out; federated, the log-driven delivery described in channel.hpp.
#include "protocols/sgc/channel.hpp"

#include "runtime/server.hpp"

#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <unordered_map>

namespace switchboard::protocols::sgc {

namespace ws = runtime::websocket;
using clock = std::chrono::steady_clock;

bool target_filter::admits(const std::string& guid) const {
  if (std::find(exclude.begin(), exclude.end(), guid) != exclude.end()) return false;
  return include.empty() || std::find(include.begin(), include.end(), guid) != include.end();
}

target_filter target_filter::parse(std::string_view exclude, std::string_view include) {
  const auto split = [](std::string_view list, std::vector<std::string>& out) {
    while (!list.empty()) {
      const auto comma = list.find(',');
      std::string_view item = list.substr(0, comma);
      while (!item.empty() && item.front() == ' ')
        item.remove_prefix(1);
      while (!item.empty() && item.back() == ' ')
        item.remove_suffix(1);
      if (!item.empty()) out.emplace_back(item);
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
  };
  target_filter f;
  split(exclude, f.exclude);
  split(include, f.include);
  return f;
}

namespace {

struct member_state {
  channel_member member;
  bool direct = false;         // subscribed by name
  std::uint32_t patterns = 0;  // pattern subscriptions of this connection matching the name
};

struct stored_event {
  std::uint64_t sequence;
  clock::time_point at;
  runtime::shared_buffer frame;
  runtime::shared_buffer sse;  // the same event for Server-Sent Events streams
};

// One Server-Sent Event: the sequence as its id, the message's JSON text as its data (a line
// break inside the JSON starts another data line, which EventSource joins back with \n).
// Sequence 0 (an unsequenced delivery during a cluster outage): no id line.
runtime::shared_buffer sse_event(std::uint64_t sequence, std::string_view json) {
  auto out = std::make_shared<std::string>(
      sequence == 0 ? std::string() : "id: " + std::to_string(sequence) + "\n");
  while (true) {
    const std::size_t end = json.find_first_of("\r\n");
    *out += "data: ";
    *out += json.substr(0, end);
    *out += '\n';
    if (end == std::string_view::npos) break;
    json.remove_prefix(end + 1);
  }
  *out += '\n';
  return out;
}

struct channel_state {
  std::string channel_name;
  runtime::server* server = nullptr;
  channel_options options;
  std::unordered_map<runtime::connection_id, member_state> members;
  std::vector<runtime::connection_ptr> targets;  // rebuilt after the member set changed
  bool targets_stale = true;
  std::uint64_t sequence = 0;  // of the last publish; the first event is 1
  std::deque<stored_event> queue;
  std::unordered_map<runtime::connection_id, runtime::connection_ptr> streams;  // SSE
  std::vector<caf::actor> actors;  // application actors (subscribe_actor)
  std::vector<runtime::connection_ptr> stream_targets;
  bool streams_stale = false;
  static inline const char* name = "sgc_channel";

  // Federated (channel.hpp): the sequence follows the cluster's log.
  std::shared_ptr<federation> fed;
  bool synced = true;     // the first read of the log is done (subscribers wait for it)
  bool fetching = false;  // a read of the log is under way
  bool fetch_initial = false;
  std::string epoch;
  bool epoch_changed = false;                         // this actor saw the log restart
  std::uint64_t epoch_old_last = 0;                   // the old log's last sequence then
  std::map<std::uint64_t, federated_event> buffered;  // live events past a gap
  bool retry_pending = false;  // a read of the log that failed is tried again shortly
  std::vector<std::function<void()>> deferred;  // membership changes before synced

  // A new epoch: the log was lost, the sequence restarts. Clients' "since" values up to the
  // old last sequence may name old events: they recover false (channel.hpp, recoverable()).
  void adopt_epoch(const std::string& e) {
    if (epoch.empty()) {
      epoch = e;
      return;
    }
    if (e == epoch) return;
    epoch = e;
    epoch_changed = true;
    epoch_old_last = std::max(epoch_old_last, sequence);
    sequence = 0;
    queue.clear();
    buffered.clear();
  }

  // One publish to the members: numbered (sequence > 0) or not; stored when queued and
  // numbered; fanned out when `fan`.
  void emit(std::uint64_t seq, const std::string& payload, queue_level level,
            const target_filter& filter, bool fan) {
    event e;
    e.channel = channel_name;
    e.message.json = payload;
    if (options.event_sequence && seq > 0) e.sequence = seq;
    auto frame = runtime::make_frame(ws::opcode::text, encode_event(e));
    const auto now = clock::now();
    const bool store = level != queue_level::level0 && seq > 0;
    runtime::shared_buffer sse;
    if ((fan && !streams.empty()) || store) sse = sse_event(seq, payload);
    if (store) {
      if (level == queue_level::level1) queue.clear();
      queue.push_back({seq, now, frame, sse});
      trim(now);
    }
    if (!fan) return;
    fanout(frame, filter);
    if (!streams.empty()) server->fanout_stream(current_streams(), sse);
    for (const auto& a : actors)
      caf::anon_send(a, event_atom::value, channel_name, payload, seq);
  }

  void apply(const federated_event& e, bool fan) {
    sequence = e.sequence;
    if (e.what == federated_event::kind::clear) {
      queue.clear();
      return;
    }
    emit(e.sequence, e.payload, e.queue, e.filter, fan && !e.delivered);
  }

  // Applies buffered live events that follow the sequence; with `jump`, also those past a gap
  // the log could not fill. True when a gap remains.
  bool drain(bool jump) {
    while (!buffered.empty()) {
      auto it = buffered.begin();
      if (it->first <= sequence) {
        buffered.erase(it);
        continue;
      }
      if (it->first != sequence + 1 && !jump) return true;
      apply(it->second, true);
      buffered.erase(it);
    }
    return false;
  }

  const std::vector<runtime::connection_ptr>& current_streams() {
    if (streams_stale) {
      stream_targets.clear();
      for (const auto& [id, c] : streams)
        stream_targets.push_back(c);
      streams_stale = false;
    }
    return stream_targets;
  }

  // What a subscriber that saw everything up to `since` can get back: true when every event
  // after it is still stored, without gaps (level 0 publishes are never stored, level 1 keeps
  // only the last).
  bool recoverable(std::uint64_t since) const {
    if (epoch_changed && since > 0 && since <= epoch_old_last) return false;
    if (since >= sequence) return since == sequence;  // beyond: the channel was created again
    std::uint64_t kept = 0;
    for (const auto& e : queue)
      if (e.sequence > since) ++kept;
    return kept == sequence - since;
  }

  void trim(clock::time_point now) {
    while (queue.size() > options.queue_max_count)
      queue.pop_front();
    while (!queue.empty() && now - queue.front().at > options.queue_max_age)
      queue.pop_front();
  }

  void replay(const runtime::connection_ptr& c, std::uint64_t after) {
    trim(clock::now());
    for (const auto& e : queue)
      if (e.sequence > after) c->send_frame(e.frame);
  }

  void drop(runtime::connection_id id, bool direct) {
    auto it = members.find(id);
    if (it == members.end()) return;
    if (direct)
      it->second.direct = false;
    else if (it->second.patterns > 0)
      --it->second.patterns;
    if (!it->second.direct && it->second.patterns == 0) {
      members.erase(it);
      targets_stale = true;
    }
  }

  const std::vector<runtime::connection_ptr>& current_targets() {
    if (targets_stale) {
      targets.clear();
      for (const auto& [id, m] : members)
        targets.push_back(m.member.conn);
      targets_stale = false;
    }
    return targets;
  }

  void fanout(const runtime::shared_buffer& frame, const target_filter& filter) {
    if (filter.empty()) {
      const auto& all = current_targets();
      if (!all.empty()) server->fanout(all, frame);
      return;
    }
    std::vector<runtime::connection_ptr> some;
    for (const auto& [id, m] : members)
      if (filter.admits(m.member.guid)) some.push_back(m.member.conn);
    if (!some.empty()) server->fanout(some, frame);
  }
};

using self_ptr = channel_actor::stateful_pointer<channel_state>;

// Reads the log after `after` (federated). The answer comes back as fed_history_atom.
void fetch(self_ptr self, std::uint64_t after, bool initial) {
  auto& s = self->state;
  if (s.fetching || !s.fed) return;
  s.fetching = true;
  s.fetch_initial = initial;
  auto me = caf::actor_cast<channel_actor>(self);
  s.fed->history(s.channel_name, after, s.options.queue_max_count,
                 [me](bool ok, std::vector<federated_event> entries, std::string epoch) {
                   caf::anon_send(
                       me, fed_history_atom::value, ok,
                       std::make_shared<const std::vector<federated_event>>(std::move(entries)),
                       std::move(epoch));
                 });
}

// Membership changes wait for the first read of the log (federated), in arrival order.
template <class F>
void when_synced(self_ptr self, F f) {
  if (self->state.synced)
    f();
  else
    self->state.deferred.emplace_back(std::move(f));
}

void add_subscriber(self_ptr self, const subscribe_request_ptr& req) {
  auto& s = self->state;
  auto& entry = s.members[req->who.conn->id()];
  if (!entry.member.conn) {
    entry.member = req->who;
    s.targets_stale = true;
  }
  entry.direct = true;
  s.trim(clock::now());
  if (!req->since) {
    req->who.conn->send_text(req->confirmation);
    s.replay(req->who.conn, 0);
    return;
  }
  // Recovery (README.md, "since").
  const std::uint64_t since = *req->since;
  const bool recovered = s.recoverable(since);
  std::string text = req->confirmation;
  text.insert(req->insert_at, ",\"sequence\":" + std::to_string(s.sequence) +
                                  ",\"recovered\":" + (recovered ? "true" : "false"));
  req->who.conn->send_text(text);
  s.replay(req->who.conn, since <= s.sequence ? since : 0);
}

void add_pattern_member(self_ptr self, const channel_member_ptr& m, bool replay) {
  auto& s = self->state;
  auto& entry = s.members[m->conn->id()];
  if (!entry.member.conn) {
    entry.member = *m;
    s.targets_stale = true;
  }
  ++entry.patterns;
  if (replay) s.replay(m->conn, 0);
}

void add_stream(self_ptr self, const sse_request_ptr& req) {
  auto& s = self->state;
  s.trim(clock::now());
  // Like a WebSocket subscriber: the stored queue, or what came after Last-Event-ID.
  std::uint64_t after = 0;
  if (req->since) {
    if (!s.recoverable(*req->since))
      req->conn->send_stream(
          std::make_shared<const std::string>("event: recovery\ndata: false\n\n"));
    if (*req->since <= s.sequence) after = *req->since;
  }
  for (const auto& e : s.queue)
    if (e.sequence > after) req->conn->send_stream(e.sse);
  s.streams.emplace(req->conn->id(), req->conn);
  s.streams_stale = true;
}

channel_actor::behavior_type channel(self_ptr self, std::string name, runtime::server* server,
                                     channel_options options, std::vector<channel_member> patterns,
                                     std::shared_ptr<federation> fed) {
  auto& st = self->state;
  st.channel_name = std::move(name);
  st.server = server;
  st.options = options;
  for (auto& m : patterns) {
    auto& entry = st.members[m.conn->id()];
    if (!entry.member.conn) entry.member = std::move(m);
    ++entry.patterns;
  }
  if (fed) {  // the first read of the log comes with the server's resync_atom (after watch)
    st.fed = std::move(fed);
    st.synced = false;
  }
  return {
      [self](sub_atom, const subscribe_request_ptr& req) {
        when_synced(self, [self, req] { add_subscriber(self, req); });
      },
      [self](unsub_atom, runtime::connection_id id) {
        when_synced(self, [self, id] { self->state.drop(id, true); });
      },
      [self](padd_atom, const channel_member_ptr& m, bool replay) {
        when_synced(self, [self, m, replay] { add_pattern_member(self, m, replay); });
      },
      [self](pdel_atom, runtime::connection_id id) {
        when_synced(self, [self, id] { self->state.drop(id, false); });
      },
      [self](pub_atom, const publish_request_ptr& req) {
        auto& s = self->state;
        ++s.sequence;
        s.emit(s.sequence, req->payload, req->queue, req->filter, true);
      },
      [self](bcast_atom, const broadcast_request_ptr& req) {
        self->state.fanout(req->frame, req->filter);
      },
      [self](replay_atom, const channel_member_ptr& m) {
        when_synced(self, [self, m] { self->state.replay(m->conn, 0); });
      },
      [self](clear_atom) {
        const bool had = !self->state.queue.empty();
        self->state.queue.clear();
        return had;
      },
      [self](count_subs_atom) -> std::uint64_t { return self->state.members.size(); },
      [self](stop_atom) { self->quit(); },
      [self](sse_atom, const sse_request_ptr& req) {
        when_synced(self, [self, req] { add_stream(self, req); });
      },
      [self](actor_sub_atom, const caf::actor& a) {
        when_synced(self, [self, a] {
          auto& v = self->state.actors;
          if (std::find(v.begin(), v.end(), a) == v.end()) v.push_back(a);
        });
      },
      [self](actor_unsub_atom, const caf::actor& a) {
        when_synced(self, [self, a] {
          auto& v = self->state.actors;
          v.erase(std::remove(v.begin(), v.end(), a), v.end());
        });
      },
      [self](sse_end_atom, runtime::connection_id id) {
        when_synced(self, [self, id] {
          auto& s = self->state;
          if (s.streams.erase(id) > 0) s.streams_stale = true;
        });
      },
      [self](fed_event_atom, const federated_event_ptr& ev) {
        auto& s = self->state;
        if (!ev->epoch.empty()) s.adopt_epoch(ev->epoch);
        if (ev->sequence <= s.sequence) return;  // already applied (read from the log)
        if (s.fetching || !s.synced) {
          s.buffered.emplace(ev->sequence, *ev);
          return;
        }
        if (ev->sequence == s.sequence + 1 && s.buffered.empty()) {
          s.apply(*ev, true);
          return;
        }
        s.buffered.emplace(ev->sequence, *ev);
        if (s.drain(false)) fetch(self, s.sequence, false);  // a gap: read it from the log
      },
      [self](fed_history_atom, bool ok, const federated_history_ptr& entries,
             const std::string& epoch) {
        auto& s = self->state;
        s.fetching = false;
        if (!ok && s.synced && !s.buffered.empty() &&
            s.buffered.size() <= s.options.queue_max_count) {
          // The log is unreachable (federation.hpp), not short: what lies between the last
          // sequence and the buffered events is in it, only late (the broker may hand out
          // events before its link is usable for reads). Keep the gap and read again at
          // resync or shortly; jumping here would lose acknowledged messages. More buffered
          // events than the log retains: the gap is trimmed from it anyway, fall through.
          if (!s.retry_pending) {
            s.retry_pending = true;
            self->delayed_send(self, std::chrono::milliseconds(500), resync_atom::value);
          }
          return;
        }
        if (ok) {
          if (!epoch.empty() && !s.epoch.empty() && epoch != s.epoch) {
            // The log restarted (a new epoch) since this channel read it: what was asked for
            // ("after" an old sequence) says nothing now; read the new log from its start.
            s.adopt_epoch(epoch);
            fetch(self, 0, s.fetch_initial);
            return;
          }
          if (!epoch.empty()) s.adopt_epoch(epoch);
          for (const auto& e : *entries)
            if (e.sequence > s.sequence) s.apply(e, !s.fetch_initial);
          if (!entries->empty() && entries->size() >= s.options.queue_max_count) {
            fetch(self, s.sequence, s.fetch_initial);  // more than one read's worth
            return;
          }
        }
        s.drain(true);  // what the log no longer has is skipped: the sequence jumps
                        // (a failed first read: the channel starts at the live events)
        if (!s.synced) {
          s.synced = true;
          auto pending = std::move(s.deferred);
          s.deferred.clear();
          for (auto& f : pending)
            f();
        }
      },
      [self](resync_atom) {
        self->state.retry_pending = false;
        fetch(self, self->state.sequence, !self->state.synced);
      },
      [self](now_atom, const publish_request_ptr& req) {
        self->state.emit(0, req->payload, req->queue, req->filter, true);
      },
  };
}

}  // namespace

channel_actor spawn_channel(caf::actor_system& system, std::string name, runtime::server& server,
                            channel_options options, std::vector<channel_member> patterns,
                            std::shared_ptr<federation> fed) {
  return system.spawn(channel, std::move(name), &server, options, std::move(patterns),
                      std::move(fed));
}

}  // namespace switchboard::protocols::sgc
