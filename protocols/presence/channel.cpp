// channel.cpp: the presence channel actor and the fan-out helper (channel.hpp).
#include "protocols/presence/channel.hpp"

#include "runtime/server.hpp"

#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include <algorithm>
#include <cstdio>
#include <random>

namespace switchboard::protocols::presence {

namespace ws = runtime::websocket;

bool ack_tracker::add(std::string id, std::string text) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (items_.size() >= max_items_) return false;
  items_.emplace(std::move(id), item{next_++, std::move(text), clock::now()});
  return true;
}

void ack_tracker::acknowledge(const std::string& id) {
  std::lock_guard<std::mutex> lock(mutex_);
  items_.erase(id);
}

std::vector<std::string> ack_tracker::due(clock::duration timeout) {
  std::vector<item*> old;
  std::vector<std::string> out;
  const auto now = clock::now();
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [id, it] : items_)
    if (now - it.sent >= timeout) old.push_back(&it);
  std::sort(old.begin(), old.end(),
            [](const item* a, const item* b) { return a->order < b->order; });
  for (item* it : old) {
    it->sent = now;
    out.push_back(it->text);
  }
  return out;
}

std::size_t ack_tracker::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return items_.size();
}

std::string new_guid() {
  thread_local std::mt19937_64 rng{(std::uint64_t(std::random_device{}()) << 32) ^
                                   std::random_device{}()};
  std::uint64_t a = rng(), b = rng();
  a = (a & 0xFFFFFFFFFFFF0FFFull) | 0x4000ull;
  b = (b & 0x3FFFFFFFFFFFFFFFull) | 0x8000000000000000ull;
  char text[40];
  std::snprintf(text, sizeof text, "%08X-%04X-%04X-%04X-%012llX", unsigned(a >> 32),
                unsigned((a >> 16) & 0xFFFF), unsigned(a & 0xFFFF), unsigned(b >> 48),
                static_cast<unsigned long long>(b & 0xFFFFFFFFFFFFull));
  return text;
}

void deliver(runtime::server& server, const std::vector<const channel_entry*>& targets,
             const std::string& encoded, const fanout_options& options) {
  if (targets.empty()) return;
  if (!options.acknowledgment) {
    std::vector<runtime::connection_ptr> conns;
    conns.reserve(targets.size());
    for (const auto* t : targets)
      if (t->conn) conns.push_back(t->conn);  // a remote member (federation) has none
    if (!conns.empty()) server.fanout(conns, runtime::make_frame(ws::opcode::text, encoded));
    return;
  }
  for (const auto* t : targets) {
    if (!t->conn) continue;
    std::string id = new_guid();
    std::string text = with_id(encoded, id, options.base64);
    if (t->acks && !t->acks->add(std::move(id), text)) {
      t->conn->close(ws::close_code::policy_violation, "too many unacknowledged messages");
      continue;
    }
    t->conn->send_text(text);
  }
}

namespace {

struct channel_state {
  std::string channel_name;
  runtime::server* server = nullptr;
  fanout_options options;
  std::unordered_map<std::string, channel_entry_ptr> members;  // by member id
  std::vector<const channel_entry*> targets;  // rebuilt after the member set changed
  bool stale = true;
  static inline const char* name = "presence_channel";

  void fanout(const std::string& encoded) {
    if (stale) {
      targets.clear();
      for (const auto& [id, e] : members)
        if (e->conn) targets.push_back(e.get());  // remote members are listed, not sent to
      stale = false;
    }
    deliver(*server, targets, encoded, options);
  }
};

channel_actor::behavior_type channel(channel_actor::stateful_pointer<channel_state> self,
                                     std::string name, runtime::server* server,
                                     fanout_options options) {
  self->state.channel_name = std::move(name);
  self->state.server = server;
  self->state.options = options;
  return {
      [self](join_atom, const channel_entry_ptr& e, const std::string& encoded) {
        auto& s = self->state;
        s.members[e->who.id] = e;
        s.stale = true;
        s.fanout(encoded);
      },
      [self](hello_atom, const channel_entry_ptr& e, const std::string& encoded) {
        auto& s = self->state;
        s.members[e->who.id] = e;
        s.stale = true;
        s.fanout(encoded);
        return true;
      },
      [self](leave_atom, const std::string& id, const std::string& encoded,
             const leave_chain_ptr& chain) {
        auto& s = self->state;
        s.fanout(encoded);
        if (s.members.erase(id) != 0) s.stale = true;
        if (chain && chain->left.fetch_sub(1) == 1)
          caf::anon_send(chain->lobby, leave_atom::value, chain->member_id, chain->encoded,
                         leave_chain_ptr());
        return true;
      },
      [self](fan_atom, const std::string& encoded) { self->state.fanout(encoded); },
      [self](update_atom, const channel_entry_ptr& e, const std::string& encoded) {
        auto& s = self->state;
        auto it = s.members.find(e->who.id);
        if (it != s.members.end()) {
          it->second = e;
          s.stale = true;
        }
        if (!encoded.empty()) s.fanout(encoded);
      },
      [self](list_atom, const channel_entry_ptr& requester) {
        auto& s = self->state;
        message m;
        m.method = method::send_members;
        m.channel = s.channel_name;
        m.member = requester->who;
        m.members.emplace();
        m.members->reserve(s.members.size());
        for (const auto& [id, e] : s.members)
          m.members->push_back(e->who);
        std::sort(m.members->begin(), m.members->end(),
                  [](const member& a, const member& b) { return a.id < b.id; });
        deliver(*s.server, {requester.get()}, encode(m, s.options.base64), s.options);
      },
      [self](stop_atom) { self->quit(); },
  };
}

}  // namespace

channel_actor spawn_channel(caf::actor_system& system, std::string name, runtime::server& server,
                            fanout_options options) {
  return system.spawn(channel, std::move(name), &server, options);
}

}  // namespace switchboard::protocols::presence
