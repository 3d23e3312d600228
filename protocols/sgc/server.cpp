// server.cpp: the sgc server's pipeline (2.3), the per-connection session state and the
// channel directory. See server.hpp for the behaviour and the decisions taken.
//
// Where state lives:
//   - per connection (session, the connection's attachment): GUID, its subscriptions (names
//     and patterns: the limit and the cleanup on close), open transactions. Touched only on
//     the connection's io thread, so without locks.
//   - the directory (impl: one mutex): channel name -> channel actor, the number of direct
//     subscribers and whether the channel retains events; pattern -> subscribers. Spawning a
//     channel and adding a pattern happen under the same lock, so a channel created after a
//     pattern subscription starts with that subscriber, and one created before gets it by
//     message: no interleaving loses one.
//   - channel actors (channel.hpp): subscriber sets, sequence, queue, fan-out.
//   - the QoS 2 store (qos_store.hpp): server-wide.
#include "protocols/sgc/server.hpp"

#include "actors/pattern.hpp"
#include "protocols/sgc/channel.hpp"
#include "runtime/server.hpp"
#include "runtime/text.hpp"

#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include <rapidjson/document.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>

namespace switchboard::protocols::sgc {

namespace ws = runtime::websocket;
namespace sgc = switchboard::protocols::sgc;
using actors::is_pattern;
using actors::pattern_matches;

namespace {

// A version 4 GUID, upper-case hex without braces: 8-4-4-4-12.
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

// The connection's protocol state (its attachment). Io thread only.
// A Server-Sent Events stream: the channel it follows.
struct stream_state final : runtime::connection_attachment {
  std::string channel;
};

struct conn_state final : runtime::connection_attachment {
  peer self;
  std::unordered_set<std::string> subscriptions;  // names and patterns
  // Open transactions by channel (2.10): the raw texts stored, in arrival order.
  std::map<std::string, std::vector<std::string>> transactions;
};

template <class T, class = void>
struct has_id : std::false_type {};
template <class T>
struct has_id<T, std::void_t<decltype(std::declval<T&>().id)>> : std::true_type {};
template <class T, class = void>
struct has_qos : std::false_type {};
template <class T>
struct has_qos<T, std::void_t<decltype(std::declval<T&>().qos)>> : std::true_type {};

request_id id_of(const message& m) {
  return std::visit(
      [](const auto& x) -> request_id {
        if constexpr (has_id<std::decay_t<decltype(x)>>::value)
          return x.id;
        else
          return {};
      },
      m);
}

std::optional<qos_level> qos_of(const message& m) {
  return std::visit(
      [](const auto& x) -> std::optional<qos_level> {
        if constexpr (has_qos<std::decay_t<decltype(x)>>::value)
          return x.qos;
        else
          return std::nullopt;
      },
      m);
}

// The channel a message is keyed by for transactions (2.10), or nullopt for the messages a
// transaction never holds (commit, rollback, transaction, pubrel, ack, session, protocol).
std::optional<std::string_view> transaction_channel(const message& m) {
  return std::visit(
      [](const auto& x) -> std::optional<std::string_view> {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, subscribe> || std::is_same_v<T, unsubscribe> ||
                      std::is_same_v<T, publish> || std::is_same_v<T, broadcast> ||
                      std::is_same_v<T, rpc_request> || std::is_same_v<T, notification>)
          return x.channel;
        else if constexpr (std::is_same_v<T, plain_message> || std::is_same_v<T, unsubscribe_all>)
          return std::string_view{};
        else
          return std::nullopt;
      },
      m);
}

// Client-to-server requests (the first alternatives of `message`, up to protocol_request).
static_assert(std::is_same_v<std::variant_alternative_t<14, message>, protocol_request>);
bool is_request(const message& m) {
  return m.index() <= 14;
}

// A comma list is split (2.4); one name stays one name ("" included).
std::vector<std::string> split_channels(std::string_view list) {
  std::vector<std::string> out;
  if (list.find(',') == std::string_view::npos) {
    out.emplace_back(list);
    return out;
  }
  while (true) {
    const auto comma = list.find(',');
    out.emplace_back(list.substr(0, comma));
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return out;
}

// The "since" extension: params.since of an sgc@subscribe, when an unsigned integer.
std::optional<std::uint64_t> parse_since(std::string_view text) {
  if (text.find("\"since\"") == std::string_view::npos) return std::nullopt;
  rapidjson::Document d;
  d.Parse(text.data(), text.size());
  if (d.HasParseError() || !d.IsObject()) return std::nullopt;
  const auto params = d.FindMember("params");
  if (params == d.MemberEnd() || !params->value.IsObject()) return std::nullopt;
  const auto since = params->value.FindMember("since");
  if (since == params->value.MemberEnd() || !since->value.IsUint64()) return std::nullopt;
  return since->value.GetUint64();
}

// Where the recovery members go in an encoded sgc@subscribe reply: right after the channel
// string, before the result object's closing brace.
std::size_t confirmation_insert_point(const std::string& encoded, const std::string& channel) {
  static constexpr std::string_view prefix =
      R"({"jsonrpc":"2.0","result":{"method":"sgc@subscribe","channel":)";
  std::string quoted;
  append_json_string(quoted, channel);
  const std::size_t at = prefix.size() + quoted.size();
  assert(encoded.compare(0, prefix.size(), prefix) == 0 && encoded.size() > at &&
         encoded[at] == '}');
  return at;
}

}  // namespace

// --- rpc_call -----------------------------------------------------------------------------

struct rpc_call::state {
  std::weak_ptr<runtime::connection> conn;
  answer_sink sink;  // a forwarded call: the answer goes back to its node
  std::string guid, method, params, id;
  std::atomic<bool> answered{false};
};

rpc_call::rpc_call(const peer& p, std::string method, std::string params, std::string id_json)
    : state_(std::make_shared<state>()) {
  state_->conn = p.connection;
  state_->guid = p.guid;
  state_->method = std::move(method);
  state_->params = std::move(params);
  state_->id = std::move(id_json);
}

rpc_call::rpc_call(std::string guid, std::string method, std::string params, std::string id_json,
                   answer_sink sink)
    : state_(std::make_shared<state>()) {
  state_->sink = std::move(sink);
  state_->guid = std::move(guid);
  state_->method = std::move(method);
  state_->params = std::move(params);
  state_->id = std::move(id_json);
}

const std::string& peer::user() const {
  static const std::string none;
  return connection ? connection->user() : none;
}

bool rpc_call::answer_encoded(std::string text) {
  return send(std::move(text));
}

const std::string& rpc_call::guid() const noexcept {
  return state_->guid;
}
const std::string& rpc_call::method() const noexcept {
  return state_->method;
}
const std::string& rpc_call::params() const noexcept {
  return state_->params;
}
const std::string& rpc_call::id() const noexcept {
  return state_->id;
}

bool rpc_call::send(std::string text) {
  if (state_->answered.exchange(true)) return false;
  if (state_->sink) {
    state_->sink(std::move(text));
    return true;
  }
  auto c = state_->conn.lock();
  if (!c || !c->is_open()) return false;
  c->send_text(text);
  return true;
}

bool rpc_call::result(std::string_view text) {
  std::string storage;
  rpc_result r;
  r.result = text_payload(text, storage);
  r.id = request_id::from_json(state_->id);
  std::string out;
  encode_rpc_result(r, out);
  return send(std::move(out));
}

bool rpc_call::result_json(std::string_view json) {
  if (!is_json_value(json)) return false;
  // is_json_value allows surrounding whitespace; the encoder wants the bare value.
  const auto first = json.find_first_not_of(" \t\r\n");
  json = json.substr(first, json.find_last_not_of(" \t\r\n") - first + 1);
  rpc_result r;
  r.result.json = json;
  r.id = request_id::from_json(state_->id);
  std::string out;
  encode_rpc_result(r, out);
  return send(std::move(out));
}

bool rpc_call::error(int code, std::string_view message_text, std::string_view data) {
  rpc_error e;
  e.code = code;
  e.message = message_text.empty() ? jsonrpc_error_text(code) : message_text;
  std::string data_json;
  if (!data.empty()) {
    append_json_string(data_json, data);
    e.data.json = data_json;
  }
  e.id = request_id::from_json(state_->id);
  std::string out;
  encode_rpc_error(e, out);
  return send(std::move(out));
}

// --- impl ---------------------------------------------------------------------------------

struct channel_entry {
  channel_actor actor;
  std::size_t direct = 0;  // connections subscribed by name
  bool retained = false;   // a publish with a queue level above 0 happened (until cleared)
};

struct server::impl {
  impl(server& o, caf::actor_system& sys, runtime::server& t, server_options opts)
      : owner(o), system(sys), transport(t), options(opts), qos2(opts.qos2) {
    chan_options.queue_max_count = options.queue_max_count;
    chan_options.queue_max_age = options.queue_max_age;
    chan_options.event_sequence = options.event_sequence;
  }

  server& owner;
  caf::actor_system& system;
  runtime::server& transport;
  server_options options;
  channel_options chan_options;
  qos_store qos2;

  connect_hook on_connect;
  raw_message_hook on_raw;
  before_subscribe_hook before_subscribe;
  subscription_hook on_subscribe, on_unsubscribe;
  message_hook on_message;
  notification_hook on_notification;
  disconnect_hook on_disconnect;
  rpc_authorizer authorizer;
  std::unordered_map<std::string, rpc_handler> rpcs;
  std::shared_ptr<federation> fed;  // set_federation(): null on a single node

  mutable std::mutex connections_mutex;
  std::unordered_map<std::string, runtime::connection_ptr> connections;  // by GUID

  std::mutex directory_mutex;
  std::unordered_map<std::string, channel_entry> channels;
  std::unordered_map<std::string, std::unordered_map<runtime::connection_id, channel_member_ptr>>
      patterns;
  bool stopped = false;

  // --- directory (each takes directory_mutex) ---------------------------------------------

  // Lock held. One entry per matching pattern subscription (a connection may appear twice).
  std::vector<channel_member> pattern_members(const std::string& name) const {
    std::vector<channel_member> out;
    for (const auto& [pattern, subs] : patterns)
      if (pattern_matches(pattern, name))
        for (const auto& [id, m] : subs)
          out.push_back(*m);
    return out;
  }

  // Lock held.
  channel_entry& entry_for(const std::string& name) {
    auto it = channels.find(name);
    if (it == channels.end()) {
      auto actor = spawn_channel(system, name, transport, chan_options, pattern_members(name), fed);
      if (fed) {
        // Watch the log first, then read it (resync): nothing falls between the two.
        fed->watch(
            name,
            [a = actor](federated_event ev) {
              caf::anon_send(a, fed_event_atom::value,
                             std::make_shared<const federated_event>(std::move(ev)));
            },
            [a = actor] { caf::anon_send(a, resync_atom::value); });
      }
      it = channels.emplace(name, channel_entry{std::move(actor)}).first;
    }
    return it->second;
  }

  // Lock held. A channel nobody subscribes to by name and that retains nothing goes.
  void drop_if_idle(std::unordered_map<std::string, channel_entry>::iterator it) {
    if (it->second.direct > 0 || it->second.retained) return;
    if (fed) fed->unwatch(it->first);
    caf::anon_send(it->second.actor, stop_atom::value);
    channels.erase(it);
  }

  void subscribe_channel(const std::string& name, subscribe_request_ptr req, bool counts) {
    std::lock_guard<std::mutex> lock(directory_mutex);
    if (stopped) return;
    auto& e = entry_for(name);
    if (counts) ++e.direct;
    caf::anon_send(e.actor, sub_atom::value, std::move(req));
  }

  void subscribe_stream(const std::string& name, sse_request_ptr req) {
    std::lock_guard<std::mutex> lock(directory_mutex);
    if (stopped) return;
    auto& e = entry_for(name);
    ++e.direct;
    caf::anon_send(e.actor, sse_atom::value, std::move(req));
  }

  void unsubscribe_stream(const std::string& name, runtime::connection_id id) {
    std::lock_guard<std::mutex> lock(directory_mutex);
    auto it = channels.find(name);
    if (it == channels.end()) return;
    if (it->second.direct > 0) --it->second.direct;
    caf::anon_send(it->second.actor, sse_end_atom::value, id);
    drop_if_idle(it);
  }

  std::string sse_prefix;                                      // attach_sse()
  std::vector<std::pair<std::string, caf::actor>> moderators;  // moderate(), before start

  void subscribe_actor(const std::string& name, const caf::actor& a) {
    std::lock_guard<std::mutex> lock(directory_mutex);
    if (stopped) return;
    auto& e = entry_for(name);
    ++e.direct;
    caf::anon_send(e.actor, actor_sub_atom::value, a);
  }

  void unsubscribe_actor(const std::string& name, const caf::actor& a) {
    std::lock_guard<std::mutex> lock(directory_mutex);
    auto it = channels.find(name);
    if (it == channels.end()) return;
    if (it->second.direct > 0) --it->second.direct;
    caf::anon_send(it->second.actor, actor_unsub_atom::value, a);
    drop_if_idle(it);
  }

  void unsubscribe_channel(const std::string& name, runtime::connection_id id) {
    std::lock_guard<std::mutex> lock(directory_mutex);
    auto it = channels.find(name);
    if (it == channels.end()) return;
    if (it->second.direct > 0) --it->second.direct;
    caf::anon_send(it->second.actor, unsub_atom::value, id);
    drop_if_idle(it);
  }

  void subscribe_pattern(const std::string& pattern, const channel_member& m) {
    std::lock_guard<std::mutex> lock(directory_mutex);
    if (stopped) return;
    auto member = std::make_shared<const channel_member>(m);
    patterns[pattern][m.conn->id()] = member;
    for (const auto& [name, e] : channels)
      if (pattern_matches(pattern, name)) caf::anon_send(e.actor, padd_atom::value, member, true);
  }

  void unsubscribe_pattern(const std::string& pattern, runtime::connection_id id) {
    std::lock_guard<std::mutex> lock(directory_mutex);
    auto p = patterns.find(pattern);
    if (p == patterns.end() || p->second.erase(id) == 0) return;
    if (p->second.empty()) patterns.erase(p);
    for (const auto& [name, e] : channels)
      if (pattern_matches(pattern, name)) caf::anon_send(e.actor, pdel_atom::value, id);
  }

  // Fan-out to connections that have no channel actor to go through: pattern subscribers of
  // a channel that does not exist (nothing retained, nobody subscribed by name).
  void fanout_members(const std::vector<channel_member>& members, const target_filter& filter,
                      const runtime::shared_buffer& frame) {
    std::vector<runtime::connection_ptr> targets;
    std::unordered_set<runtime::connection_id> seen;
    for (const auto& m : members)
      if (filter.admits(m.guid) && seen.insert(m.conn->id()).second) targets.push_back(m.conn);
    if (!targets.empty()) transport.fanout(targets, frame);
  }

  // Federated: `done` (may be empty) hears when the cluster has every copy (federation.hpp).
  void publish(const std::string& name, std::string payload, queue_level queue,
               target_filter filter, federation::publish_done done = {}) {
    if (fed) return publish_federated(name, std::move(payload), queue, filter, std::move(done));
    auto req = std::make_shared<publish_request>();
    req->payload = std::move(payload);
    req->queue = queue;
    req->filter = std::move(filter);
    std::vector<channel_member> loose;
    {
      std::lock_guard<std::mutex> lock(directory_mutex);
      if (stopped) return;
      if (is_pattern(name)) {  // 2.4: to every existing match, else to the literal name
        bool matched = false;
        for (auto& [channel, e] : channels) {
          if (!pattern_matches(name, channel)) continue;
          matched = true;
          if (queue != queue_level::level0) e.retained = true;
          caf::anon_send(e.actor, pub_atom::value, publish_request_ptr(req));
        }
        if (matched) return;
      }
      auto it = channels.find(name);
      channel_entry* e = it != channels.end() ? &it->second : nullptr;
      if (!e && queue != queue_level::level0) e = &entry_for(name);
      if (e) {
        if (queue != queue_level::level0) e->retained = true;
        caf::anon_send(e->actor, pub_atom::value, publish_request_ptr(req));
        return;
      }
      loose = pattern_members(name);
    }
    if (loose.empty()) return;
    event ev;
    ev.channel = name;
    ev.message.json = req->payload;
    fanout_members(loose, req->filter, runtime::make_frame(ws::opcode::text, encode_event(ev)));
  }

  // Federated publish: each target channel is logged by the cluster, and every node (this
  // one too) delivers it to its subscribers when the log hands it back. Pattern subscribers
  // of a channel that does not exist here get it now, unsequenced, as on a single node.
  void publish_federated(const std::string& name, std::string payload, queue_level queue,
                         const target_filter& filter, federation::publish_done done) {
    std::vector<std::string> targets;
    std::vector<channel_member> loose;
    {
      std::lock_guard<std::mutex> lock(directory_mutex);
      if (stopped) return;
      if (is_pattern(name))  // 2.4: to every existing match here, else to the literal name
        for (const auto& [channel, e] : channels)
          if (pattern_matches(name, channel)) targets.push_back(channel);
      if (targets.empty()) {
        targets.push_back(name);
        if (channels.find(name) == channels.end()) loose = pattern_members(name);
      }
    }
    if (!loose.empty()) {
      event ev;
      ev.channel = name;
      ev.message.json = payload;
      fanout_members(loose, filter, runtime::make_frame(ws::opcode::text, encode_event(ev)));
    }
    if (done && targets.size() > 1) {  // one answer once every copy is in
      struct join {
        std::atomic<std::size_t> left;
        std::atomic<bool> ok{true};
        federation::publish_done done;
      };
      auto j = std::make_shared<join>();
      j->left = targets.size();
      j->done = std::move(done);
      done = [j](bool ok) {
        if (!ok) j->ok = false;
        if (--j->left == 0) j->done(j->ok.load());
      };
    }
    for (const auto& t : targets)
      fed->publish(t, payload, queue, filter, done);
  }

  void broadcast_frame(const std::string& channel, runtime::shared_buffer frame,
                       target_filter filter) {
    if (channel.empty()) {  // every connection of this server (2.5)
      if (filter.empty()) return transport.broadcast(frame, &owner);
      std::vector<runtime::connection_ptr> targets;
      {
        std::lock_guard<std::mutex> lock(connections_mutex);
        for (const auto& [guid, c] : connections)
          if (filter.admits(guid)) targets.push_back(c);
      }
      if (!targets.empty()) transport.fanout(targets, frame);
      return;
    }
    std::vector<channel_member> loose;
    {
      std::lock_guard<std::mutex> lock(directory_mutex);
      if (stopped) return;
      if (auto it = channels.find(channel); it != channels.end()) {
        auto req = std::make_shared<broadcast_request>();
        req->frame = std::move(frame);
        req->filter = std::move(filter);
        caf::anon_send(it->second.actor, bcast_atom::value, broadcast_request_ptr(req));
        return;
      }
      loose = pattern_members(channel);
    }
    fanout_members(loose, filter, frame);
  }

  void replay_to(const std::string& channel, const peer& p) {
    std::lock_guard<std::mutex> lock(directory_mutex);
    if (stopped) return;
    auto it = channels.find(channel);
    if (it == channels.end() && fed) {
      // Federated, channel ""'s queue is in the cluster's log, written perhaps by another
      // node: its actor stays (retained) so that each connection gets the replay (2.9).
      entry_for(channel).retained = true;
      it = channels.find(channel);
    }
    if (it == channels.end()) return;
    caf::anon_send(it->second.actor, replay_atom::value,
                   std::make_shared<const channel_member>(channel_member{p.connection, p.guid}));
  }

  // --- the pipeline (io thread of the connection) -----------------------------------------

  static void send(conn_state& s, const std::string& text) {
    s.self.connection->send_now(ws::opcode::text, text);
  }

  static void send_ack(conn_state& s, const request_id& id) {
    acknowledgment a;
    a.id = id;
    std::string out;
    encode_acknowledgment(a, out);
    send(s, out);
  }

  static void send_error(conn_state& s, int code, std::string_view text, std::string_view data,
                         const request_id& id) {
    rpc_error e;
    e.code = code;
    e.message = text.empty() ? jsonrpc_error_text(code) : text;
    std::string data_json;
    if (!data.empty()) {
      append_json_string(data_json, data);
      e.data.json = data_json;
    }
    e.id = id.present() ? id : request_id::from_json("null");
    std::string out;
    encode_rpc_error(e, out);
    send(s, out);
  }

  // From any thread (a federated publish's answer comes on the cluster's thread).
  static void send_ack_async(const runtime::connection_ptr& c, const std::string& id_json) {
    acknowledgment a;
    a.id = request_id::from_json(id_json);
    std::string out;
    encode_acknowledgment(a, out);
    c->send_text(out);
  }

  static void send_error_async(const runtime::connection_ptr& c, int code, std::string_view text,
                               std::string_view data, const std::string& id_json) {
    rpc_error e;
    e.code = code;
    e.message = text;
    std::string data_json;
    append_json_string(data_json, data);
    e.data.json = data_json;
    e.id = request_id::from_json(id_json.empty() ? std::string_view("null") : id_json);
    std::string out;
    encode_rpc_error(e, out);
    c->send_text(out);
  }

  static void send_session(conn_state& s) {
    std::string id_json;
    append_json_string(id_json, s.self.guid);
    session m;
    m.guid = s.self.guid;
    m.qos = qos_level::level0;
    m.id = request_id::from_json(id_json);
    std::string out;
    encode_session(m, out);
    send(s, out);
  }

  static std::string qos_key(const conn_state& s, const request_id& id) {
    // An anonymous client is known by its address only: its ids never meet another host's.
    const std::string& user = s.self.connection->user();
    std::string key =
        user.empty() ? "@" + s.self.connection->remote().address().to_string() : "u:" + user;
    key += '\n';
    key += id.json;
    return key;
  }

  static channel_member member_of(const conn_state& s) {
    return channel_member{s.self.connection, s.self.guid};
  }

  void handle_text(conn_state& s, std::string_view text) {
    if (on_raw && on_raw(s.self, text)) return;  // 2.3 step 1
    const decode_result r = decode(text, options.codec);
    if (!r.ok()) {  // 2.3 step 2, answered (2.1 [D])
      send_error(s, r.jsonrpc_code, {}, r.error_code.message(), r.id);
      return;
    }
    if (const auto* rel = std::get_if<pubrel>(&r.msg)) return release(s, rel->id);
    // No server-side QoS items are kept (README.md), so an acknowledgment clears nothing.
    if (std::holds_alternative<acknowledgment>(r.msg) || !is_request(r.msg)) return;
    const request_id id = id_of(r.msg);
    if (qos_of(r.msg) == qos_level::level2 && id.present()) {  // 2.3 step 3
      qos2.store(qos_key(s, id), std::string(text));
      pubrec p;
      p.id = id;
      std::string out;
      encode_pubrec(p, out);
      send(s, out);
      return;
    }
    process(s, r.msg, text, false);
  }

  // PUBREL (2.8): process the stored message once; a PUBREL for nothing stored only ACKs.
  void release(conn_state& s, const request_id& id) {
    const auto stored = qos2.release(qos_key(s, id));
    if (!stored) return send_ack(s, id);
    const decode_result r = decode(*stored, options.codec);
    if (r.ok()) process(s, r.msg, *stored, false);
  }

  // 2.3 step 4. `committing`: a stored transaction message, not acknowledged again.
  void process(conn_state& s, const message& m, std::string_view text, bool committing) {
    const request_id id = id_of(m);
    // A publish is acknowledged once it is handed to fan-out (or stored in a transaction), so
    // an ACK means the server has it; everything else is acknowledged first (2.3 step 4.1).
    const bool ack_after = std::holds_alternative<sgc::publish>(m);
    const bool ack = !committing && id.present();
    if (ack && !ack_after) send_ack(s, id);
    if (const auto* c = std::get_if<commit>(&m)) return commit_transaction(s, c->channel);
    if (const auto* rb = std::get_if<rollback>(&m)) {
      s.transactions.erase(std::string(rb->channel));
      return;
    }
    if (!s.transactions.empty()) {
      if (const auto key = transaction_channel(m)) {
        auto it = s.transactions.find(std::string(*key));
        if (it != s.transactions.end()) {
          if (it->second.size() >= options.max_transaction_messages) {
            send_error(s, transaction_full, "Transaction full", *key, id);
          } else {
            it->second.emplace_back(text);
            if (ack && ack_after) send_ack(s, id);  // acknowledged as stored (2.10)
          }
          return;
        }
      }
    }
    if (fed && ack_after && !moderated(std::get<sgc::publish>(m).channel))
      return publish_acked(s, std::get<sgc::publish>(m), id, ack);
    dispatch(s, m, text);
    if (ack && ack_after) send_ack(s, id);
  }

  bool moderated(std::string_view channel) const {
    for (const auto& [pattern, moderator] : moderators)
      if (pattern_matches(pattern, channel)) return true;
    return false;
  }

  // A client publish, federated: the ACK (QoS 1/2, 2.8) once the cluster has it; refused
  // (outbox full during an outage): cluster_unavailable and no ACK. A committed transaction
  // message (`ack` false) was acknowledged when stored; a refusal is still reported.
  void publish_acked(conn_state& s, const sgc::publish& x, const request_id& id, bool ack) {
    federation::publish_done done;
    if (id.present()) {
      std::weak_ptr<runtime::connection> weak = s.self.connection;
      done = [weak, ack, id_json = std::string(id.json),
              channel = std::string(x.channel)](bool stored) {
        auto c = weak.lock();
        if (!c || !c->is_open()) return;
        if (!stored)
          send_error_async(c, cluster_unavailable, "Cluster unavailable", channel, id_json);
        else if (ack)
          send_ack_async(c, id_json);
      };
    }
    publish(std::string(x.channel), std::string(x.message.json),
            x.queue.value_or(queue_level::level0), {}, std::move(done));
  }

  void commit_transaction(conn_state& s, std::string_view channel) {
    auto node = s.transactions.extract(std::string(channel));
    if (!node) return;
    for (const auto& text : node.mapped()) {
      const decode_result r = decode(text, options.codec);
      if (r.ok()) process(s, r.msg, text, true);
    }
  }

  void dispatch(conn_state& s, const message& m, std::string_view text) {
    if (const auto* x = std::get_if<subscribe>(&m)) return do_subscribe(s, *x, text);
    if (const auto* x = std::get_if<unsubscribe>(&m)) return do_unsubscribe(s, *x);
    if (std::holds_alternative<unsubscribe_all>(m)) return unsubscribe_everything(s);
    if (const auto* x = std::get_if<sgc::publish>(&m)) {
      const queue_level queue = x->queue.value_or(queue_level::level0);
      for (const auto& [pattern, moderator] : moderators)
        if (pattern_matches(pattern, x->channel))
          return caf::anon_send(moderator, moderate_atom::value, std::string(x->channel),
                                std::string(x->message.json), s.self.guid,
                                static_cast<std::uint8_t>(queue));
      return publish(std::string(x->channel), std::string(x->message.json), queue, {});
    }
    if (const auto* x = std::get_if<sgc::broadcast>(&m)) {
      // A clean sgc@message: the sender's id and qos do not leak into the copies (2.5 [D]).
      broadcast_message b;
      b.channel = x->channel;
      b.message = x->message;
      std::string out;
      encode_broadcast_message(b, out);
      if (fed) fed->broadcast(std::string(x->channel), std::string(x->message.json), {});
      return broadcast_frame(std::string(x->channel), runtime::make_frame(ws::opcode::text, out),
                             {});
    }
    if (const auto* x = std::get_if<plain_message>(&m)) {
      if (on_message) on_message(s.self, x->message.text());
      return;
    }
    if (const auto* x = std::get_if<rpc_request>(&m)) return do_rpc(s, *x);
    if (const auto* x = std::get_if<notification>(&m)) {
      if (on_notification)
        on_notification(s.self, std::string(x->method), std::string(x->params.json));
      return;
    }
    if (std::holds_alternative<session_request>(m)) return send_session(s);
    if (const auto* x = std::get_if<transaction>(&m)) {
      const std::string key(x->channel);
      if (s.transactions.count(key)) return;  // no nesting: ignored (2.10)
      if (s.transactions.size() >= options.max_subscriptions)
        return send_error(s, transaction_full, "Too many transactions", key, x->id);
      s.transactions.emplace(key, std::vector<std::string>{});
      return;
    }
    if (std::holds_alternative<protocol_request>(m)) {
      std::string out;
      encode_protocol_reply(protocol_reply{}, out);
      return send(s, out);
    }
  }

  void do_subscribe(conn_state& s, const subscribe& x, std::string_view text) {
    const auto since = parse_since(text);
    for (auto& name : split_channels(x.channel)) {
      if (before_subscribe && !before_subscribe(s.self, name)) {
        send_error(s, subscription_denied, "Subscription denied", name, x.id);
        continue;
      }
      const bool fresh = s.subscriptions.count(name) == 0;
      if (fresh && s.subscriptions.size() >= options.max_subscriptions) {
        send_error(s, subscription_limit, "Too many subscriptions", name, x.id);
        continue;
      }
      if (fresh) s.subscriptions.insert(name);
      subscribed reply;
      reply.channel = name;
      reply.qos = x.qos;
      reply.id = x.id;
      std::string out;
      encode_subscribed(reply, out);
      if (is_pattern(name)) {
        send(s, out);  // then each existing matching channel replays its queue
        if (fresh) subscribe_pattern(name, member_of(s));
      } else {
        auto req = std::make_shared<subscribe_request>();
        req->who = member_of(s);
        req->insert_at = confirmation_insert_point(out, name);
        req->confirmation = std::move(out);
        req->since = since;
        subscribe_channel(name, std::move(req), fresh);
      }
      if (fresh && on_subscribe) on_subscribe(s.self, name);
    }
  }

  void remove_subscription(conn_state& s, const std::string& name) {
    if (is_pattern(name))
      unsubscribe_pattern(name, s.self.connection->id());
    else
      unsubscribe_channel(name, s.self.connection->id());
    if (on_unsubscribe) on_unsubscribe(s.self, name);
  }

  void do_unsubscribe(conn_state& s, const unsubscribe& x) {
    for (auto& name : split_channels(x.channel)) {
      if (s.subscriptions.erase(name) == 0) continue;
      remove_subscription(s, name);
      unsubscribed reply;
      reply.channel = name;
      reply.qos = x.qos;
      reply.id = x.id;
      std::string out;
      encode_unsubscribed(reply, out);
      send(s, out);
    }
  }

  void unsubscribe_everything(conn_state& s) {
    auto names = std::move(s.subscriptions);
    s.subscriptions.clear();
    for (const auto& name : names)
      remove_subscription(s, name);
  }

  void do_rpc(conn_state& s, const rpc_request& x) {
    const std::string method(x.method);
    const auto it = rpcs.find(method);
    if (authorizer && !authorizer(s.self, method))
      return send_error(s, method_not_found, {}, method, x.id);
    if (it == rpcs.end()) {
      if (!fed) return send_error(s, method_not_found, {}, method, x.id);
      // Perhaps another node serves it (federation.hpp): it answers, or -32601, or a timeout.
      return fed->rpc(rpc_call(s.self, method, std::string(x.params.json), std::string(x.id.json)));
    }
    it->second(s.self,
               rpc_call(s.self, method, std::string(x.params.json), std::string(x.id.json)));
  }
};

// --- server -------------------------------------------------------------------------------

server::server(caf::actor_system& system, runtime::server& transport, server_options options)
    : impl_(std::make_unique<impl>(*this, system, transport, std::move(options))) {}

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

void server::subscribe_actor(const std::string& channel, const caf::actor& subscriber) {
  impl_->subscribe_actor(channel, subscriber);
}

void server::unsubscribe_actor(const std::string& channel, const caf::actor& subscriber) {
  impl_->unsubscribe_actor(channel, subscriber);
}

void server::moderate(const std::string& pattern, const caf::actor& moderator) {
  impl_->moderators.emplace_back(pattern, moderator);
}

void server::attach_sse(const std::string& prefix) {
  impl_->sse_prefix = prefix;
  impl_->transport.add_stream_route(prefix + "*", this);
}

bool server::on_request(const runtime::connection_ptr& c, const runtime::http_request& r,
                        runtime::http_response& response) {
  std::string channel;
  const std::string_view encoded = r.path.substr(impl_->sse_prefix.size());
  if (encoded.empty() || !runtime::percent_decode(encoded, channel) ||
      channel.find_first_of("*?,") != std::string::npos) {
    response = runtime::http_response::text(
        404, "name one channel: " + impl_->sse_prefix + "<channel> (no patterns or lists)\n");
    return false;
  }
  peer who;
  who.guid = "sse-" + std::to_string(c->id());
  who.connection = c;
  if (impl_->before_subscribe && !impl_->before_subscribe(who, channel)) {
    response = runtime::http_response::text(403, "subscription denied\n");
    return false;
  }
  auto req = std::make_shared<sse_request>();
  req->conn = c;
  const std::string_view last = r.header("Last-Event-ID");
  if (!last.empty()) {
    std::uint64_t since = 0;
    bool digits = last.size() <= 19;
    for (char ch : last) {
      digits = digits && ch >= '0' && ch <= '9';
      since = since * 10 + static_cast<std::uint64_t>(ch - '0');
    }
    if (digits) req->since = since;  // anything else: a fresh start
  }
  response.headers.emplace_back("Access-Control-Allow-Origin", "*");
  auto state = std::make_unique<stream_state>();
  state->channel = channel;
  c->attachment = std::move(state);
  impl_->subscribe_stream(channel, std::move(req));
  return true;
}

void server::on_close(const runtime::connection_ptr& c) {
  if (!c->attachment) return;
  const auto& state = static_cast<const stream_state&>(*c->attachment);
  impl_->unsubscribe_stream(state.channel, c->id());
  c->attachment.reset();
}

void server::on_connect(connect_hook h) {
  impl_->on_connect = std::move(h);
}
void server::on_raw_message(raw_message_hook h) {
  impl_->on_raw = std::move(h);
}
void server::on_before_subscribe(before_subscribe_hook h) {
  impl_->before_subscribe = std::move(h);
}
void server::on_subscribe(subscription_hook h) {
  impl_->on_subscribe = std::move(h);
}
void server::on_unsubscribe(subscription_hook h) {
  impl_->on_unsubscribe = std::move(h);
}
void server::on_message(message_hook h) {
  impl_->on_message = std::move(h);
}
void server::on_notification(notification_hook h) {
  impl_->on_notification = std::move(h);
}
void server::on_disconnect(disconnect_hook h) {
  impl_->on_disconnect = std::move(h);
}
void server::on_rpc(std::string method, rpc_handler h) {
  impl_->rpcs[std::move(method)] = std::move(h);
}
void server::authorize_rpc(rpc_authorizer h) {
  impl_->authorizer = std::move(h);
}

void server::publish(std::string_view text, const std::string& channel, queue_level queue,
                     std::string_view exclude, std::string_view include) {
  std::string storage;
  const raw_json payload = text_payload(text, storage);
  impl_->publish(channel, std::string(payload.json), queue, target_filter::parse(exclude, include));
}

bool server::publish_json(std::string_view json, const std::string& channel, queue_level queue,
                          std::string_view exclude, std::string_view include) {
  if (!is_json_value(json)) return false;
  impl_->publish(channel, std::string(json), queue, target_filter::parse(exclude, include));
  return true;
}

void server::broadcast(std::string_view text, const std::string& channel, std::string_view exclude,
                       std::string_view include) {
  std::string storage;
  broadcast_message b;
  b.channel = channel;
  b.message = text_payload(text, storage);
  std::string out;
  encode_broadcast_message(b, out);
  auto filter = target_filter::parse(exclude, include);
  if (impl_->fed) impl_->fed->broadcast(channel, std::string(b.message.json), filter);
  impl_->broadcast_frame(channel, runtime::make_frame(ws::opcode::text, out), std::move(filter));
}

bool server::write(const std::string& guid, std::string_view text) {
  std::string storage;
  const raw_json payload = text_payload(text, storage);
  if (deliver_write(guid, payload.json)) return true;
  return impl_->fed && impl_->fed->write(guid, std::string(payload.json));
}

bool server::deliver_write(const std::string& guid, std::string_view payload) {
  runtime::connection_ptr c;
  {
    std::lock_guard<std::mutex> lock(impl_->connections_mutex);
    auto it = impl_->connections.find(guid);
    if (it == impl_->connections.end()) return false;
    c = it->second;
  }
  plain_message m;
  m.message.json = payload;
  std::string out;
  encode_plain_message(m, out);
  c->send_text(out);
  return true;
}

bool server::clear_queue(const std::string& channel) {
  std::lock_guard<std::mutex> lock(impl_->directory_mutex);
  auto it = impl_->channels.find(channel);
  if (it == impl_->channels.end()) {
    // Federated, the log holds the queue even where no channel actor runs.
    if (impl_->fed) impl_->fed->clear(channel);
    return false;
  }
  // The channel actor never takes the directory lock, so waiting for it here is safe; holding
  // the lock keeps a concurrent publish from marking the channel retained in between.
  bool had = false;
  caf::scoped_actor self{impl_->system};
  self->request(it->second.actor, caf::infinite, clear_atom::value)
      .receive([&](bool b) { had = b; }, [](caf::error&) {});
  it->second.retained = false;
  if (impl_->fed) impl_->fed->clear(channel);  // every node, and the log's later readers
  impl_->drop_if_idle(it);
  return had;
}

std::size_t server::subscribers(const std::string& channel) {
  channel_actor actor;
  {
    std::lock_guard<std::mutex> lock(impl_->directory_mutex);
    auto it = impl_->channels.find(channel);
    if (it == impl_->channels.end()) {
      std::unordered_set<runtime::connection_id> ids;
      for (const auto& m : impl_->pattern_members(channel))
        ids.insert(m.conn->id());
      return ids.size();
    }
    actor = it->second.actor;
  }
  std::uint64_t n = 0;
  caf::scoped_actor self{impl_->system};
  self->request(actor, caf::infinite, count_subs_atom::value)
      .receive([&](std::uint64_t count) { n = count; }, [](caf::error&) {});
  return static_cast<std::size_t>(n);
}

std::size_t server::connections() const {
  std::lock_guard<std::mutex> lock(impl_->connections_mutex);
  return impl_->connections.size();
}

void server::stop() {
  std::lock_guard<std::mutex> lock(impl_->directory_mutex);
  if (impl_->stopped) return;
  impl_->stopped = true;
  for (auto& [name, e] : impl_->channels) {
    if (impl_->fed) impl_->fed->unwatch(name);
    caf::anon_send(e.actor, stop_atom::value);
  }
  impl_->channels.clear();
  impl_->patterns.clear();
}

const server_options& server::options() const noexcept {
  return impl_->options;
}

void server::set_federation(std::shared_ptr<federation> f) {
  impl_->fed = std::move(f);
}

void server::deliver_now(const std::string& channel, std::string payload, queue_level queue,
                         const target_filter& filter) {
  std::lock_guard<std::mutex> lock(impl_->directory_mutex);
  if (impl_->stopped) return;
  auto it = impl_->channels.find(channel);
  if (it == impl_->channels.end()) return;  // pattern-only subscribers got it at publish time
  auto req = std::make_shared<publish_request>();
  req->payload = std::move(payload);
  req->queue = queue;
  req->filter = filter;
  caf::anon_send(it->second.actor, now_atom::value, publish_request_ptr(std::move(req)));
}

void server::deliver_broadcast(const std::string& channel, std::string_view payload,
                               const target_filter& filter) {
  broadcast_message b;
  b.channel = channel;
  b.message.json = payload;
  std::string out;
  encode_broadcast_message(b, out);
  impl_->broadcast_frame(channel, runtime::make_frame(ws::opcode::text, out), filter);
}

bool server::serve_rpc(rpc_call call) {
  const auto it = impl_->rpcs.find(call.method());
  if (it == impl_->rpcs.end()) return false;
  peer who;
  who.guid = call.guid();
  it->second(who, std::move(call));
  return true;
}

std::vector<std::string> server::rpc_methods() const {
  std::vector<std::string> out;
  for (const auto& [name, h] : impl_->rpcs)
    out.push_back(name);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> server::guids() const {
  std::vector<std::string> out;
  std::lock_guard<std::mutex> lock(impl_->connections_mutex);
  for (const auto& [guid, c] : impl_->connections)
    out.push_back(guid);
  return out;
}

void server::resync() {
  std::lock_guard<std::mutex> lock(impl_->directory_mutex);
  for (const auto& [name, e] : impl_->channels)
    caf::anon_send(e.actor, resync_atom::value);
}

void server::on_open(const runtime::connection_ptr& c) {
  auto state = std::make_unique<conn_state>();
  state->self.guid = new_guid();
  state->self.connection = c;
  conn_state& s = *state;
  c->attachment = std::move(state);
  {
    std::lock_guard<std::mutex> lock(impl_->connections_mutex);
    impl_->connections.emplace(s.self.guid, c);
  }
  if (impl_->fed) impl_->fed->connection_opened(s.self.guid);
  impl::send_session(s);                    // 2.7
  impl_->replay_to(std::string(), s.self);  // 2.9: the queue of channel ""
  if (impl_->on_connect) impl_->on_connect(s.self);
}

void server::on_message(const runtime::connection_ptr& c, ws::opcode op, std::string_view payload) {
  if (!c->attachment) return;
  conn_state& s = static_cast<conn_state&>(*c->attachment);
  if (op != ws::opcode::text)
    return impl::send_error(s, invalid_request, {}, "binary messages are not sgc messages", {});
  impl_->handle_text(s, payload);
}

void server::on_close(const runtime::connection_ptr& c, std::uint16_t code, std::string_view) {
  if (!c->attachment) return;
  conn_state& s = static_cast<conn_state&>(*c->attachment);
  {
    std::lock_guard<std::mutex> lock(impl_->connections_mutex);
    impl_->connections.erase(s.self.guid);
  }
  if (impl_->fed) impl_->fed->connection_closed(s.self.guid);
  impl_->unsubscribe_everything(s);  // fires on_unsubscribe per channel (1.7)
  s.transactions.clear();            // open transactions are rolled back (2.10 [D])
  if (impl_->on_disconnect) impl_->on_disconnect(s.self, code);
  c->attachment.reset();  // the session holds the connection: break the cycle
}

}  // namespace switchboard::protocols::sgc
