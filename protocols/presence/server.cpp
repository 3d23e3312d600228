// server.cpp: the presence server's request handling, the member registry and the resend
// timer. See server.hpp for the behaviour and the decisions taken.
//
// Where state lives:
//   - per connection (conn_state, the connection's attachment): its session GUID, the id of
//     the member it owns (if any) and its ack_tracker. Touched only on its io thread, except
//     the tracker (channel.hpp).
//   - the registry (impl, registry_mutex): member id -> record (member, connection, channels),
//     channel name -> actor and member ids, the lobby actor. Every check that an error code
//     answers is made under this mutex with the change it guards, and each change is sent to
//     the actors before the mutex is released, so actors see changes in decision order.
//   - channel actors (channel.hpp): the member lists the fan-out and get@members read.
#include "protocols/presence/server.hpp"

#include "protocols/presence/channel.hpp"
#include "runtime/server.hpp"

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>

namespace switchboard::protocols::presence {

namespace ws = runtime::websocket;

namespace {

struct conn_state final : runtime::connection_attachment {
  peer self;
  std::shared_ptr<ack_tracker> acks;  // null without acknowledgment
  std::optional<std::string> member_id;
  id_window received_ids;  // ids of the client's messages (5.3: resends are dropped)
};

struct member_record {
  channel_entry_ptr entry;  // the member (id, name, info) and where to send (null: remote)
  peer owner;               // empty for a remote member
  std::set<std::string> channels;
  std::string node;  // "" : this node's; else the node that owns it (federation)
};

using member_map = std::unordered_map<std::string, member_record>;

struct channel_record {
  channel_actor actor;
  std::unordered_set<std::string> member_ids;
};

}  // namespace

struct server::impl {
  impl(caf::actor_system& sys, runtime::server& t, server_options opts)
      : system(sys), transport(t), options(opts) {
    fan.base64 = options.encode_base64;
    fan.acknowledgment = options.acknowledgment.enabled;
    lobby = spawn_channel(system, std::string(), transport, fan);
    if (fan.acknowledgment) resender = std::thread([this] { resend_loop(); });
  }

  caf::actor_system& system;
  runtime::server& transport;
  server_options options;
  fanout_options fan;

  connect_hook on_connect;
  raw_message_hook on_raw;
  before_member_hook before_new_member, before_update_member;
  before_channel_hook before_new_channel, before_join, before_send_members;
  before_publish_hook before_publish;
  member_hook on_new_member, on_update_member, on_remove_member;
  channel_hook on_new_channel, on_join, on_leave;
  error_hook on_error;
  disconnect_hook on_disconnect;

  mutable std::mutex registry_mutex;
  member_map members;
  std::unordered_map<std::string, channel_record> channels;
  channel_actor lobby;
  bool stopped = false;
  // The cluster bridge (null: one node). Changed under registry_mutex; read with it held,
  // except where a request only asks whether there is one.
  std::atomic<federation*> fed{nullptr};
  std::string self_node;

  // Lock held. The record of `id` when it is `s`'s own member: with a federation a remote
  // member that won the id may have replaced it since the io thread last looked.
  member_record* own_locked(const conn_state& s, const std::string& id) {
    auto it = members.find(id);
    if (it == members.end() || !it->second.entry->conn ||
        it->second.entry->conn != s.self.connection)
      return nullptr;
    return &it->second;
  }

  // Acknowledgment (5.3): the live trackers, and the thread that resends what is due.
  std::mutex trackers_mutex;
  std::unordered_map<runtime::connection_id,
                     std::pair<runtime::connection_ptr, std::shared_ptr<ack_tracker>>>
      trackers;
  std::thread resender;
  std::mutex resend_mutex;
  std::condition_variable resend_wake;
  bool resend_stop = false;

  void resend_loop() {
    std::unique_lock<std::mutex> lock(resend_mutex);
    while (!resend_stop) {
      resend_wake.wait_for(lock, options.acknowledgment.interval);
      if (resend_stop) break;
      std::vector<std::pair<runtime::connection_ptr, std::shared_ptr<ack_tracker>>> all;
      {
        std::lock_guard<std::mutex> t(trackers_mutex);
        for (const auto& [id, pair] : trackers)
          all.push_back(pair);
      }
      for (const auto& [conn, tracker] : all)
        for (const auto& text : tracker->due(options.acknowledgment.timeout))
          conn->send_text(text);
    }
  }

  void stop_resender() {
    {
      std::lock_guard<std::mutex> lock(resend_mutex);
      resend_stop = true;
    }
    resend_wake.notify_all();
    if (resender.joinable()) resender.join();
  }

  // --- sending (io thread of the connection, or any thread for `entry` targets) ----------

  void send(conn_state& s, const message& m) {
    channel_entry self{{}, s.self.connection, s.acks};
    deliver(transport, {&self}, encode(m, fan.base64), fan);
  }

  member requester_of(const conn_state& s, const std::string& id) {
    std::lock_guard<std::mutex> lock(registry_mutex);
    if (s.member_id) {
      auto it = members.find(*s.member_id);
      if (it != members.end() && *s.member_id == id) return it->second.entry->who;
    }
    member m;
    m.id = id;
    return m;
  }

  // An error answer (5.2): error@member@channel, or error@publish@msg with the message.
  void send_error(conn_state& s, int code, const std::string& channel, const member& who,
                  const std::optional<std::string>& publish_text = std::nullopt) {
    message m;
    m.method = publish_text ? method::error_publish_msg : method::error_member_channel;
    m.error = error_info{code, std::string(error_text(code))};
    m.channel = channel;
    m.member = who;
    if (publish_text) m.text = *publish_text;
    send(s, m);
    if (on_error) on_error(s.self, code, m.error->text, channel, who);
  }

  // --- the registry (each takes registry_mutex) -------------------------------------------

  // Lock held. The channel's record, spawning its actor when it is new.
  channel_record& channel_for(const std::string& name, bool& created) {
    auto it = channels.find(name);
    created = it == channels.end();
    if (created)
      it = channels.emplace(name, channel_record{spawn_channel(system, name, transport, fan), {}})
               .first;
    return it->second;
  }

  // Lock held. Takes `id` out of `name`, telling its members; an empty channel goes (5.5 [D]).
  void leave_locked(const std::string& name, const std::string& id, const member& who,
                    const leave_chain_ptr& chain = nullptr) {
    auto it = channels.find(name);
    if (it == channels.end()) return;
    message m;
    m.method = method::channel_member_remove;
    m.member = who;
    m.channel = name;
    caf::anon_send(it->second.actor, leave_atom::value, id, encode(m, fan.base64), chain);
    it->second.member_ids.erase(id);
    if (it->second.member_ids.empty()) {
      caf::anon_send(it->second.actor, stop_atom::value);
      channels.erase(it);
    }
  }

  // Lock held. The member leaves every channel, then the presence: each channel's members get
  // its leave, then everyone member@remove (a shared chain keeps that order). Returns the
  // channels it left.
  std::vector<std::string> remove_locked(member_map::iterator it) {
    const std::string id = it->first;
    const member who = it->second.entry->who;
    std::vector<std::string> left;
    message m;
    m.method = method::member_remove;
    m.member = who;
    auto chain = std::make_shared<leave_chain>();
    chain->lobby = lobby;
    chain->member_id = id;
    chain->encoded = encode(m, fan.base64);
    chain->left = static_cast<int>(it->second.channels.size());
    for (const auto& name : it->second.channels) {
      leave_locked(name, id, who, chain);
      left.push_back(name);
    }
    if (left.empty())
      caf::anon_send(lobby, leave_atom::value, id, chain->encoded, leave_chain_ptr());
    if (federation* f = fed.load(); f && it->second.node.empty()) f->member_remove(who);
    members.erase(it);
    return left;
  }

  // The connection's member leaves every channel and the presence: disconnect and member@remove.
  void remove_member(conn_state& s) {
    if (!s.member_id) return;
    const std::string id = *s.member_id;
    s.member_id.reset();
    member who;
    std::vector<std::string> left;
    {
      std::lock_guard<std::mutex> lock(registry_mutex);
      if (!own_locked(s, id)) return;  // gone already (a remote member won the id)
      auto it = members.find(id);
      who = it->second.entry->who;
      left = remove_locked(it);
    }
    if (on_leave)
      for (const auto& name : left)
        on_leave(s.self, name, who);
    if (on_remove_member) on_remove_member(s.self, who);
  }

  // --- requests (io thread of the connection) ---------------------------------------------

  void handle_text(conn_state& s, std::string_view text) {
    if (on_raw && on_raw(s.self, text)) return;
    decode_result r = decode(text, options.codec);
    if (!r.ok()) {
      message m;
      m.method = method::error_member_channel;
      m.error = error_info{r.code, r.error_code.message()};
      return send(s, m);
    }
    message& m = r.msg;
    if (m.method == method::acknowledgment) {
      if (s.acks && m.id) s.acks->acknowledge(*m.id);
      return;
    }
    if (m.id) {  // 5.3: always acknowledged; a copy sent again is not processed twice
      s.self.connection->send_text(encode_acknowledgment(*m.id, fan.base64));
      if (s.received_ids.seen(*m.id)) return;
    }
    std::string id = m.member ? m.member->id : std::string();
    if (id.empty()) id = s.self.guid;
    const std::string channel = m.channel.value_or(std::string());

    if (fed && s.member_id) {  // the member may have lost its id to another node's
      std::lock_guard<std::mutex> lock(registry_mutex);
      if (!own_locked(s, *s.member_id)) s.member_id.reset();
    }
    if (m.method == method::member_new) return new_member(s, m, id);
    const bool owned = s.member_id && *s.member_id == id;
    switch (m.method) {
      case method::member_remove:
        if (!owned) return send_error(s, member_not_exists, channel, requester_of(s, id));
        return remove_member(s);
      case method::member_update:
        if (!owned) return send_error(s, member_not_exists, channel, requester_of(s, id));
        return update_member(s, m, id);
      case method::channel_member_new:
        if (!owned) return send_error(s, member_not_exists, channel, requester_of(s, id));
        if (channel.empty()) return protocol_error(s, invalid_params, "channel name required");
        return join(s, id, channel);
      case method::channel_member_remove:
        if (!owned) return send_error(s, member_not_exists, channel, requester_of(s, id));
        return leave(s, id, channel);
      case method::publish_msg:
        if (!owned)
          return send_error(s, member_not_exists, channel, requester_of(s, id),
                            m.text.value_or(std::string()));
        return publish(s, id, channel, m.text.value_or(std::string()));
      case method::get_members:
        if (!owned) return send_error(s, member_not_exists, channel, requester_of(s, id));
        return get_members(s, id, channel);
      case method::channel_invitation:
        if (!owned) return send_error(s, member_not_exists, channel, requester_of(s, id));
        return invite(s, id, m);
      case method::invitation_response:
        if (!owned) return send_error(s, member_not_exists, channel, requester_of(s, id));
        return respond(s, id, m);
      default:
        return protocol_error(
            s, method_not_found,
            m.method == method::unknown ? m.method_name : std::string(to_string(m.method)));
    }
  }

  // A request that is not one this server handles (server.hpp): the JSON-RPC code.
  void protocol_error(conn_state& s, int code, const std::string& detail) {
    message m;
    m.method = method::error_member_channel;
    m.error = error_info{code, std::string(error_text(code)) + ": " + detail};
    send(s, m);
  }

  void new_member(conn_state& s, const message& req, const std::string& id) {
    member who;
    who.id = id;
    if (req.member) {
      who.name = req.member->name;
      who.info = req.member->info;
    }
    const auto exists = [&] {
      std::lock_guard<std::mutex> lock(registry_mutex);
      return members.count(id) != 0;
    };
    if (s.member_id || exists()) return send_error(s, member_exists, {}, who);
    if (before_new_member && !before_new_member(s.self, who))
      return send_error(s, new_member_denied, {}, who);
    auto entry = std::make_shared<channel_entry>(channel_entry{who, s.self.connection, s.acks});
    caf::scoped_actor self{system};
    std::optional<decltype(self->request(lobby, caf::infinite, hello_atom::value,
                                         channel_entry_ptr(), std::string()))>
        hello;
    {
      std::lock_guard<std::mutex> lock(registry_mutex);
      if (stopped) return;
      // Taken between the check and here by another connection: still error 1, below.
      if (members.emplace(id, member_record{entry, s.self, {}, {}}).second) {
        s.member_id = id;
        message m;
        m.method = method::member_new;
        m.member = who;
        hello.emplace(self->request(lobby, caf::infinite, hello_atom::value,
                                    channel_entry_ptr(entry), encode(m, fan.base64)));
        if (federation* f = fed.load()) f->member_new(who);
      }
    }
    if (!s.member_id) return send_error(s, member_exists, {}, who);
    // Wait (outside the lock) until the lobby fanned member@new out: what this member does
    // next (a join, a publish) reaches every io thread's queue after it.
    hello->receive([](bool) {}, [](caf::error&) {});
    if (on_new_member) on_new_member(s.self, who);
  }

  // Lock held. The member's record becomes `entry`: its channels and everyone are told.
  void update_locked(member_record& rec, const channel_entry_ptr& entry) {
    rec.entry = entry;
    for (const auto& name : rec.channels)
      if (auto c = channels.find(name); c != channels.end())
        caf::anon_send(c->second.actor, update_atom::value, entry, std::string());
    message m;
    m.method = method::member_update;
    m.member = entry->who;
    caf::anon_send(lobby, update_atom::value, entry, encode(m, fan.base64));
  }

  void update_member(conn_state& s, const message& req, const std::string& id) {
    member who;
    who.id = id;
    if (req.member) {
      who.name = req.member->name;
      who.info = req.member->info;
    }
    if (before_update_member && !before_update_member(s.self, who))
      return send_error(s, update_member_denied, {}, requester_of(s, id));
    auto entry = std::make_shared<channel_entry>(channel_entry{who, s.self.connection, s.acks});
    {
      std::lock_guard<std::mutex> lock(registry_mutex);
      member_record* rec = own_locked(s, id);
      if (!rec) return;
      update_locked(*rec, entry);
      if (federation* f = fed.load()) f->member_update(who);
    }
    if (on_update_member) on_update_member(s.self, who);
  }

  // Lock held. `rec` (member `id`) joins `channel`; its members, the joiner included, are told.
  void join_locked(member_record& rec, const std::string& id, const std::string& channel,
                   bool& created) {
    auto& ch = channel_for(channel, created);
    ch.member_ids.insert(id);
    rec.channels.insert(channel);
    message m;
    m.method = method::channel_member_new;
    m.member = rec.entry->who;
    m.channel = channel;
    caf::anon_send(ch.actor, join_atom::value, rec.entry, encode(m, fan.base64));
  }

  void join(conn_state& s, const std::string& id, const std::string& channel) {
    member who;
    bool exists = false;
    int error = 0;
    {
      std::lock_guard<std::mutex> lock(registry_mutex);
      const member_record* rec = own_locked(s, id);
      who.id = id;
      if (!rec)
        error = member_not_exists;
      else if (who = rec->entry->who; rec->channels.count(channel))
        error = subscription_exists;
      else if (rec->channels.size() >= options.max_channels_per_member)
        error = subscription_denied;
      exists = channels.count(channel) != 0;
    }
    if (error) return send_error(s, error, channel, who);
    bool asked_new_channel = false;
    if (!exists) {
      if (before_new_channel && !before_new_channel(s.self, channel, who))
        return send_error(s, new_channel_denied, channel, who);
      asked_new_channel = true;
    }
    if (before_join && !before_join(s.self, channel, who))
      return send_error(s, subscription_denied, channel, who);
    bool created = false;
    while (true) {
      std::unique_lock<std::mutex> lock(registry_mutex);
      if (stopped) return;
      if (!asked_new_channel && channels.count(channel) == 0) {
        // The channel went (its last member left) since the check: it is new again, so the
        // before-new-channel hook is asked after all, outside the lock.
        lock.unlock();
        if (before_new_channel && !before_new_channel(s.self, channel, who))
          return send_error(s, new_channel_denied, channel, who);
        asked_new_channel = true;
        continue;
      }
      member_record* rec = own_locked(s, id);
      if (!rec) return;  // lost its id to another node's member meanwhile
      join_locked(*rec, id, channel, created);
      if (federation* f = fed.load()) f->join(channel, rec->entry->who);
      break;
    }
    if (created && on_new_channel) on_new_channel(s.self, channel, who);
    if (on_join) on_join(s.self, channel, who);
  }

  // Lock held. Member `id` (out of its record's channels already) leaves `channel`: the
  // channel's members, the leaver included, are told; the answer says when they were.
  auto explicit_leave_locked(caf::scoped_actor& self, const std::string& id, const member& who,
                             const std::string& channel) {
    message m;
    m.method = method::channel_member_remove;
    m.member = who;
    m.channel = channel;
    auto it = channels.find(channel);
    auto answer = self->request(it->second.actor, caf::infinite, leave_atom::value, id,
                                encode(m, fan.base64), leave_chain_ptr());
    it->second.member_ids.erase(id);
    if (it->second.member_ids.empty()) {
      caf::anon_send(it->second.actor, stop_atom::value);
      channels.erase(it);
    }
    return answer;
  }

  void leave(conn_state& s, const std::string& id, const std::string& channel) {
    member who;
    int error = 0;
    caf::scoped_actor self{system};
    std::optional<decltype(self->request(lobby, caf::infinite, leave_atom::value, std::string(),
                                         std::string(), leave_chain_ptr()))>
        done;
    {
      std::lock_guard<std::mutex> lock(registry_mutex);
      member_record* rec = own_locked(s, id);
      who.id = id;
      if (!rec) {
        error = member_not_exists;
      } else if (who = rec->entry->who; channels.count(channel) == 0) {
        error = channel_not_exists;
      } else if (rec->channels.erase(channel) == 0) {
        error = subscription_not_exists;
      } else {
        done.emplace(explicit_leave_locked(self, id, who, channel));
        if (federation* f = fed.load()) f->leave(channel, who);
      }
    }
    if (error) return send_error(s, error, channel, who);
    // Wait (outside the lock) for the fan-out: a member@remove right after this leave must
    // not overtake it on the wire.
    done->receive([](bool) {}, [](caf::error&) {});
    if (on_leave) on_leave(s.self, channel, who);
  }

  void publish(conn_state& s, const std::string& id, const std::string& channel,
               const std::string& text) {
    member who;
    int error = 0;
    {
      std::lock_guard<std::mutex> lock(registry_mutex);
      const member_record* rec = own_locked(s, id);
      who.id = id;
      if (!rec) {
        error = member_not_exists;
      } else if (who = rec->entry->who; !channel.empty()) {
        if (channels.count(channel) == 0)
          error = channel_not_exists;
        else if (rec->channels.count(channel) == 0)
          error = subscription_not_exists;
      }
    }
    if (error) return send_error(s, error, channel, who, text);
    if (before_publish && !before_publish(s.self, text, channel, who))
      return send_error(s, publish_denied, channel, who, text);
    message m;
    m.method = method::publish_msg;
    m.text = text;
    m.channel = channel;
    m.member = who;
    std::lock_guard<std::mutex> lock(registry_mutex);
    if (federation* f = fed.load()) f->publish(channel, text, &who);
    fan_locked(channel, encode(m, fan.base64));
  }

  // Lock held. `encoded` to everyone ("") or to the channel's members (none: nothing).
  void fan_locked(const std::string& channel, std::string encoded) {
    if (channel.empty()) return caf::anon_send(lobby, fan_atom::value, std::move(encoded));
    if (auto it = channels.find(channel); it != channels.end())
      caf::anon_send(it->second.actor, fan_atom::value, std::move(encoded));
  }

  void get_members(conn_state& s, const std::string& id, const std::string& channel) {
    channel_entry_ptr entry;
    {
      std::lock_guard<std::mutex> lock(registry_mutex);
      if (const member_record* rec = own_locked(s, id)) entry = rec->entry;
    }
    if (!entry) return send_error(s, member_not_exists, channel, requester_of(s, id));
    if (before_send_members && !before_send_members(s.self, channel, entry->who))
      return send_error(s, send_members_denied, channel, entry->who);
    {
      std::lock_guard<std::mutex> lock(registry_mutex);
      if (channel.empty()) return caf::anon_send(lobby, list_atom::value, entry);
      // No membership check: any member may list any channel (5.2).
      if (auto it = channels.find(channel); it != channels.end())
        return caf::anon_send(it->second.actor, list_atom::value, entry);
    }
    send_error(s, channel_not_exists, channel, entry->who);
  }

  void invite(conn_state& s, const std::string& id, const message& req) {
    const std::string channel = req.channel.value_or(std::string());
    member inviter;
    struct target {
      member invitee;
      channel_entry_ptr entry;  // null: no such member
      std::string node;         // not "": a member of that node
    };
    std::vector<target> targets;
    {
      std::unique_lock<std::mutex> lock(registry_mutex);
      const member_record* rec = own_locked(s, id);
      if (!rec) {
        lock.unlock();
        return send_error(s, member_not_exists, channel, requester_of(s, id));
      }
      inviter = rec->entry->who;
      if (req.members)
        for (const auto& invitee : *req.members) {
          auto it = members.find(invitee.id);
          if (it == members.end())
            targets.push_back({invitee, nullptr, {}});
          else
            targets.push_back({invitee, it->second.entry, it->second.node});
        }
    }
    message m;
    m.method = method::channel_invitation;
    m.channel = channel;
    m.member = inviter;
    const std::string encoded = encode(m, fan.base64);
    for (const auto& t : targets) {
      if (!t.entry) {
        send_error(s, member_not_exists, channel, t.invitee);
      } else if (!t.node.empty()) {
        if (federation* f = fed.load()) f->invite(t.node, channel, inviter, t.invitee.id);
      } else {
        deliver(transport, {t.entry.get()}, encoded, fan);
      }
    }
  }

  void respond(conn_state& s, const std::string& id, const message& req) {
    const std::string channel = req.channel.value_or(std::string());
    const std::string inviter_id =
        req.members && !req.members->empty() ? req.members->front().id : std::string();
    member invitee;
    channel_entry_ptr inviter;
    std::string inviter_node;
    {
      std::unique_lock<std::mutex> lock(registry_mutex);
      const member_record* rec = own_locked(s, id);
      if (!rec) {
        lock.unlock();
        return send_error(s, member_not_exists, channel, requester_of(s, id));
      }
      invitee = rec->entry->who;
      if (auto it = members.find(inviter_id); it != members.end()) {
        inviter = it->second.entry;
        inviter_node = it->second.node;
      }
    }
    if (!inviter) {
      member unknown;
      unknown.id = inviter_id;
      return send_error(s, member_not_exists, channel, unknown);
    }
    message m;
    m.method = method::invitation_response;
    m.channel = channel;
    m.member = invitee;
    m.accept = req.accept.value_or(false);
    if (req.error) m.error = req.error;
    if (!inviter_node.empty()) {
      if (federation* f = fed.load())
        f->respond(inviter_node, channel, invitee, inviter_id, *m.accept, m.error);
      return;
    }
    deliver(transport, {inviter.get()}, encode(m, fan.base64), fan);
  }
};

// --- server ------------------------------------------------------------------------------------

server::server(caf::actor_system& system, runtime::server& transport, server_options options)
    : impl_(std::make_unique<impl>(system, transport, std::move(options))) {}

server::~server() {
  stop();
}

std::string server::select_subprotocol(const std::vector<std::string_view>& offered) {
  for (auto p : offered)
    if (p == subprotocol) return std::string(subprotocol);
  return {};
}

void server::attach(const std::string& path) {
  impl_->transport.add_websocket_route(path, this, &server::select_subprotocol);
}

void server::on_connect(connect_hook h) {
  impl_->on_connect = std::move(h);
}
void server::on_raw_message(raw_message_hook h) {
  impl_->on_raw = std::move(h);
}
void server::on_before_new_member(before_member_hook h) {
  impl_->before_new_member = std::move(h);
}
void server::on_before_update_member(before_member_hook h) {
  impl_->before_update_member = std::move(h);
}
void server::on_before_new_channel(before_channel_hook h) {
  impl_->before_new_channel = std::move(h);
}
void server::on_before_join(before_channel_hook h) {
  impl_->before_join = std::move(h);
}
void server::on_before_publish(before_publish_hook h) {
  impl_->before_publish = std::move(h);
}
void server::on_before_send_members(before_channel_hook h) {
  impl_->before_send_members = std::move(h);
}
void server::on_new_member(member_hook h) {
  impl_->on_new_member = std::move(h);
}
void server::on_update_member(member_hook h) {
  impl_->on_update_member = std::move(h);
}
void server::on_remove_member(member_hook h) {
  impl_->on_remove_member = std::move(h);
}
void server::on_new_channel(channel_hook h) {
  impl_->on_new_channel = std::move(h);
}
void server::on_join(channel_hook h) {
  impl_->on_join = std::move(h);
}
void server::on_leave(channel_hook h) {
  impl_->on_leave = std::move(h);
}
void server::on_error(error_hook h) {
  impl_->on_error = std::move(h);
}
void server::on_disconnect(disconnect_hook h) {
  impl_->on_disconnect = std::move(h);
}

void server::broadcast(std::string_view text, const std::string& channel) {
  message m;
  m.method = method::publish_msg;
  m.text = std::string(text);
  m.channel = channel;
  std::string encoded = encode(m, impl_->fan.base64);
  std::lock_guard<std::mutex> lock(impl_->registry_mutex);
  if (impl_->stopped) return;
  // The mirror knows every node's channels: one nobody has exists nowhere.
  if (federation* f = impl_->fed.load(); f && (channel.empty() || impl_->channels.count(channel)))
    f->publish(channel, *m.text, nullptr);
  impl_->fan_locked(channel, std::move(encoded));
}

std::vector<member> server::members(const std::string& channel) const {
  std::vector<member> out;
  std::lock_guard<std::mutex> lock(impl_->registry_mutex);
  if (channel.empty()) {
    for (const auto& [id, rec] : impl_->members)
      out.push_back(rec.entry->who);
  } else if (auto it = impl_->channels.find(channel); it != impl_->channels.end()) {
    for (const auto& id : it->second.member_ids)
      out.push_back(impl_->members.at(id).entry->who);
  }
  std::sort(out.begin(), out.end(), [](const member& a, const member& b) { return a.id < b.id; });
  return out;
}

std::size_t server::member_count() const {
  std::lock_guard<std::mutex> lock(impl_->registry_mutex);
  return impl_->members.size();
}

std::vector<std::string> server::channels() const {
  std::vector<std::string> out;
  std::lock_guard<std::mutex> lock(impl_->registry_mutex);
  for (const auto& [name, rec] : impl_->channels)
    out.push_back(name);
  std::sort(out.begin(), out.end());
  return out;
}

// --- federation ---------------------------------------------------------------------------

void server::federate(federation* f, std::string node_id) {
  std::lock_guard<std::mutex> lock(impl_->registry_mutex);
  impl_->fed.store(f);
  impl_->self_node = std::move(node_id);
}

std::vector<remote_member> server::local_members() const {
  std::vector<remote_member> out;
  std::lock_guard<std::mutex> lock(impl_->registry_mutex);
  for (const auto& [id, rec] : impl_->members)
    if (rec.node.empty())
      out.push_back({rec.entry->who, {rec.channels.begin(), rec.channels.end()}});
  return out;
}

std::vector<std::string> server::remote_nodes() const {
  std::set<std::string> nodes;
  std::lock_guard<std::mutex> lock(impl_->registry_mutex);
  for (const auto& [id, rec] : impl_->members)
    if (!rec.node.empty()) nodes.insert(rec.node);
  return {nodes.begin(), nodes.end()};
}

void server::apply_member_new(const std::string& node, const member& m) {
  impl& d = *impl_;
  if (node.empty() || m.id.empty()) return;
  auto entry = std::make_shared<channel_entry>(channel_entry{m, nullptr, nullptr});
  caf::scoped_actor self{d.system};
  std::optional<decltype(self->request(d.lobby, caf::infinite, hello_atom::value,
                                       channel_entry_ptr(), std::string()))>
      hello;
  // A local member that lost its id to this one (the lower node id keeps it).
  std::optional<member_record> loser;
  std::vector<std::string> loser_channels;
  {
    std::lock_guard<std::mutex> lock(d.registry_mutex);
    if (d.stopped) return;
    if (auto it = d.members.find(m.id); it != d.members.end()) {
      member_record& rec = it->second;
      if (rec.node == node) {  // known already (a resent shard): at most an update
        if (rec.entry->who != m) d.update_locked(rec, entry);
        return;
      }
      const std::string& holder = rec.node.empty() ? d.self_node : rec.node;
      if (!(node < holder)) return;  // the holder keeps it; its node removes the other
      if (rec.node.empty()) loser = rec;
      loser_channels = d.remove_locked(it);
    }
    d.members.emplace(m.id, member_record{entry, peer{}, {}, node});
    message ev;
    ev.method = method::member_new;
    ev.member = m;
    hello.emplace(self->request(d.lobby, caf::infinite, hello_atom::value, channel_entry_ptr(entry),
                                encode(ev, d.fan.base64)));
  }
  // As on the io thread: what this member does next is fanned out after its member@new.
  hello->receive([](bool) {}, [](caf::error&) {});
  if (loser) {  // its connection learns why its member went: error 1, as for a local clash
    message e;
    e.method = method::error_member_channel;
    e.error = error_info{member_exists, std::string(error_text(member_exists))};
    e.channel = std::string();
    e.member = loser->entry->who;
    deliver(d.transport, {loser->entry.get()}, encode(e, d.fan.base64), d.fan);
    if (d.on_leave)
      for (const auto& name : loser_channels)
        d.on_leave(loser->owner, name, loser->entry->who);
    if (d.on_remove_member) d.on_remove_member(loser->owner, loser->entry->who);
  }
}

void server::apply_member_update(const std::string& node, const member& m) {
  impl& d = *impl_;
  std::lock_guard<std::mutex> lock(d.registry_mutex);
  auto it = d.members.find(m.id);
  if (d.stopped || it == d.members.end() || node.empty() || it->second.node != node) return;
  d.update_locked(it->second, std::make_shared<channel_entry>(channel_entry{m, nullptr, nullptr}));
}

void server::apply_member_remove(const std::string& node, const std::string& id) {
  impl& d = *impl_;
  std::lock_guard<std::mutex> lock(d.registry_mutex);
  auto it = d.members.find(id);
  if (d.stopped || it == d.members.end() || node.empty() || it->second.node != node) return;
  d.remove_locked(it);
}

void server::apply_join(const std::string& node, const std::string& channel,
                        const std::string& id) {
  impl& d = *impl_;
  std::lock_guard<std::mutex> lock(d.registry_mutex);
  auto it = d.members.find(id);
  if (d.stopped || channel.empty() || it == d.members.end() || node.empty() ||
      it->second.node != node || it->second.channels.count(channel))
    return;
  bool created = false;
  d.join_locked(it->second, id, channel, created);
}

void server::apply_leave(const std::string& node, const std::string& channel,
                         const std::string& id) {
  impl& d = *impl_;
  caf::scoped_actor self{d.system};
  std::optional<decltype(self->request(d.lobby, caf::infinite, leave_atom::value, std::string(),
                                       std::string(), leave_chain_ptr()))>
      done;
  {
    std::lock_guard<std::mutex> lock(d.registry_mutex);
    auto it = d.members.find(id);
    if (d.stopped || it == d.members.end() || node.empty() || it->second.node != node ||
        it->second.channels.erase(channel) == 0 || d.channels.count(channel) == 0)
      return;
    done.emplace(d.explicit_leave_locked(self, id, it->second.entry->who, channel));
  }
  done->receive([](bool) {}, [](caf::error&) {});  // as leave(): before what comes next
}

void server::apply_publish(const std::string& channel, const std::string& text,
                           const member* from) {
  impl& d = *impl_;
  message m;
  m.method = method::publish_msg;
  m.text = text;
  m.channel = channel;
  if (from) m.member = *from;
  std::string encoded = encode(m, d.fan.base64);
  std::lock_guard<std::mutex> lock(d.registry_mutex);
  if (!d.stopped) d.fan_locked(channel, std::move(encoded));
}

void server::apply_invite(const std::string& channel, const member& inviter,
                          const std::string& invitee_id) {
  impl& d = *impl_;
  channel_entry_ptr invitee;
  {
    std::lock_guard<std::mutex> lock(d.registry_mutex);
    auto it = d.members.find(invitee_id);
    if (d.stopped || it == d.members.end() || !it->second.node.empty()) return;
    invitee = it->second.entry;
  }
  message m;
  m.method = method::channel_invitation;
  m.channel = channel;
  m.member = inviter;
  deliver(d.transport, {invitee.get()}, encode(m, d.fan.base64), d.fan);
}

void server::apply_respond(const std::string& channel, const member& invitee,
                           const std::string& inviter_id, bool accept,
                           const std::optional<error_info>& error) {
  impl& d = *impl_;
  channel_entry_ptr inviter;
  {
    std::lock_guard<std::mutex> lock(d.registry_mutex);
    auto it = d.members.find(inviter_id);
    if (d.stopped || it == d.members.end() || !it->second.node.empty()) return;
    inviter = it->second.entry;
  }
  message m;
  m.method = method::invitation_response;
  m.channel = channel;
  m.member = invitee;
  m.accept = accept;
  if (error) m.error = error;
  deliver(d.transport, {inviter.get()}, encode(m, d.fan.base64), d.fan);
}

void server::apply_sync(const std::string& node, const std::vector<remote_member>& members) {
  impl& d = *impl_;
  if (node.empty()) return;
  std::unordered_map<std::string, const remote_member*> wanted;
  for (const auto& r : members)
    if (!r.who.id.empty()) wanted[r.who.id] = &r;
  // What the mirror holds of `node` now: members that went, channels each is in.
  std::vector<std::string> gone;
  std::unordered_map<std::string, std::set<std::string>> have;
  {
    std::lock_guard<std::mutex> lock(d.registry_mutex);
    for (const auto& [id, rec] : d.members) {
      if (rec.node != node) continue;
      if (!wanted.count(id))
        gone.push_back(id);
      else
        have[id] = rec.channels;
    }
  }
  for (const auto& id : gone)
    apply_member_remove(node, id);
  for (const auto& r : members) {
    if (r.who.id.empty()) continue;
    const std::set<std::string> target(r.channels.begin(), r.channels.end());
    auto h = have.find(r.who.id);
    if (h == have.end()) {
      apply_member_new(node, r.who);  // refused when a lower node holds the id
    } else {
      apply_member_update(node, r.who);  // nothing when unchanged
      for (const auto& name : h->second)
        if (!target.count(name)) apply_leave(node, name, r.who.id);
    }
    for (const auto& name : target)
      apply_join(node, name, r.who.id);  // nothing when in it already
  }
}

void server::apply_drop(const std::string& node) {
  impl& d = *impl_;
  if (node.empty()) return;
  std::lock_guard<std::mutex> lock(d.registry_mutex);
  if (d.stopped) return;
  for (auto it = d.members.begin(); it != d.members.end();) {
    auto next = std::next(it);
    if (it->second.node == node) d.remove_locked(it);
    it = next;
  }
}

void server::stop() {
  impl_->stop_resender();
  std::lock_guard<std::mutex> lock(impl_->registry_mutex);
  if (impl_->stopped) return;
  impl_->stopped = true;
  for (auto& [name, rec] : impl_->channels)
    caf::anon_send(rec.actor, stop_atom::value);
  caf::anon_send(impl_->lobby, stop_atom::value);
  impl_->channels.clear();
}

void server::on_open(const runtime::connection_ptr& c) {
  auto state = std::make_unique<conn_state>();
  state->self.guid = new_guid();
  state->self.connection = c;
  if (impl_->fan.acknowledgment) {
    state->acks = std::make_shared<ack_tracker>(impl_->options.acknowledgment.max_unacknowledged);
    std::lock_guard<std::mutex> lock(impl_->trackers_mutex);
    impl_->trackers[c->id()] = {c, state->acks};
  }
  conn_state& s = *state;
  c->attachment = std::move(state);
  message m;  // 5.2: the session id
  m.method = method::session;
  m.text = s.self.guid;
  impl_->send(s, m);
  if (impl_->on_connect) impl_->on_connect(s.self);
}

void server::on_message(const runtime::connection_ptr& c, ws::opcode op, std::string_view payload) {
  if (!c->attachment) return;
  conn_state& s = static_cast<conn_state&>(*c->attachment);
  if (op != ws::opcode::text)
    return impl_->protocol_error(s, invalid_request, "binary messages are not presence messages");
  impl_->handle_text(s, payload);
}

void server::on_close(const runtime::connection_ptr& c, std::uint16_t code, std::string_view) {
  if (!c->attachment) return;
  conn_state& s = static_cast<conn_state&>(*c->attachment);
  impl_->remove_member(s);  // by connection, never by a client-supplied id (5.5 [D])
  if (s.acks) {
    std::lock_guard<std::mutex> lock(impl_->trackers_mutex);
    impl_->trackers.erase(c->id());
  }
  if (impl_->on_disconnect) impl_->on_disconnect(s.self, code);
  c->attachment.reset();  // the state holds the connection: break the cycle
}

}  // namespace switchboard::protocols::presence
