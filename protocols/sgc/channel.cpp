#include "protocols/sgc/channel.hpp"

#include "runtime/server.hpp"

#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include <algorithm>
#include <deque>
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
runtime::shared_buffer sse_event(std::uint64_t sequence, std::string_view json) {
  auto out = std::make_shared<std::string>("id: " + std::to_string(sequence) + "\n");
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

channel_actor::behavior_type channel(channel_actor::stateful_pointer<channel_state> self,
                                     std::string name, runtime::server* server,
                                     channel_options options,
                                     std::vector<channel_member> patterns) {
  auto& st = self->state;
  st.channel_name = std::move(name);
  st.server = server;
  st.options = options;
  for (auto& m : patterns) {
    auto& entry = st.members[m.conn->id()];
    if (!entry.member.conn) entry.member = std::move(m);
    ++entry.patterns;
  }
  return {
      [self](sub_atom, const subscribe_request_ptr& req) {
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
      },
      [self](unsub_atom, runtime::connection_id id) { self->state.drop(id, true); },
      [self](padd_atom, const channel_member_ptr& m, bool replay) {
        auto& s = self->state;
        auto& entry = s.members[m->conn->id()];
        if (!entry.member.conn) {
          entry.member = *m;
          s.targets_stale = true;
        }
        ++entry.patterns;
        if (replay) s.replay(m->conn, 0);
      },
      [self](pdel_atom, runtime::connection_id id) { self->state.drop(id, false); },
      [self](pub_atom, const publish_request_ptr& req) {
        auto& s = self->state;
        ++s.sequence;
        event e;
        e.channel = s.channel_name;
        e.message.json = req->payload;
        if (s.options.event_sequence) e.sequence = s.sequence;
        auto frame = runtime::make_frame(ws::opcode::text, encode_event(e));
        const auto now = clock::now();
        runtime::shared_buffer sse;
        if (!s.streams.empty() || req->queue != queue_level::level0)
          sse = sse_event(s.sequence, req->payload);
        if (req->queue == queue_level::level1) s.queue.clear();
        if (req->queue != queue_level::level0) {
          s.queue.push_back({s.sequence, now, frame, sse});
          s.trim(now);
        }
        s.fanout(frame, req->filter);
        if (!s.streams.empty()) s.server->fanout_stream(s.current_streams(), sse);
        for (const auto& a : s.actors)
          caf::anon_send(a, event_atom::value, s.channel_name, req->payload, s.sequence);
      },
      [self](bcast_atom, const broadcast_request_ptr& req) {
        self->state.fanout(req->frame, req->filter);
      },
      [self](replay_atom, const channel_member_ptr& m) { self->state.replay(m->conn, 0); },
      [self](clear_atom) {
        const bool had = !self->state.queue.empty();
        self->state.queue.clear();
        return had;
      },
      [self](count_subs_atom) -> std::uint64_t { return self->state.members.size(); },
      [self](stop_atom) { self->quit(); },
      [self](sse_atom, const sse_request_ptr& req) {
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
      },
      [self](actor_sub_atom, const caf::actor& a) {
        auto& v = self->state.actors;
        if (std::find(v.begin(), v.end(), a) == v.end()) v.push_back(a);
      },
      [self](actor_unsub_atom, const caf::actor& a) {
        auto& v = self->state.actors;
        v.erase(std::remove(v.begin(), v.end(), a), v.end());
      },
      [self](sse_end_atom, runtime::connection_id id) {
        auto& s = self->state;
        if (s.streams.erase(id) > 0) s.streams_stale = true;
      },
  };
}

}  // namespace

channel_actor spawn_channel(caf::actor_system& system, std::string name, runtime::server& server,
                            channel_options options, std::vector<channel_member> patterns) {
  return system.spawn(channel, std::move(name), &server, options, std::move(patterns));
}

}  // namespace switchboard::protocols::sgc
