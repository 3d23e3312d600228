// server.cpp: the Files server (server.hpp): connections, their endpoints (transfer.hpp), the
// channel registry and the default-protocol text messages Files clients send.
#include "protocols/files/server.hpp"

#include "protocols/sgc/codec.hpp"
#include "runtime/config.hpp"
#include "runtime/server.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <set>
#include <unordered_map>
#include <utility>

namespace switchboard::protocols::files {

namespace ws = runtime::websocket;
namespace sgcp = switchboard::protocols::sgc;

namespace {

// The error a denied subscription gets (as the default protocol's server answers it).
constexpr int subscription_denied = -32001;

// The connection's protocol state (its attachment). Io thread only.
struct conn_state final : runtime::connection_attachment {
  peer self;
  std::shared_ptr<endpoint> ep;
  std::set<std::string> channels;
  bool closed = false;  // on_close ran (the connection is closing or gone)
};

std::vector<std::string> split_list(std::string_view list) {
  std::vector<std::string> out;
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
  return out;
}

void send_text(conn_state& s, const std::string& text) {
  if (!s.closed) s.self.connection->send_now(ws::opcode::text, text);
}

}  // namespace

struct server::impl {
  impl(runtime::server& t, server_options o) : transport(t), options(std::move(o)) {}

  runtime::server& transport;
  server_options options;
  connect_hook on_connect;
  disconnect_hook on_disconnect;
  authorize_hook authorize;
  fragment_hook on_fragment;
  received_hook on_received;
  sent_hook on_sent;
  error_hook on_error;
  progress_hook on_progress;
  before_subscribe_hook before_subscribe;
  subscription_hook on_subscribe;
  subscription_hook on_unsubscribe;
  message_hook on_message;

  mutable std::mutex mutex;
  std::unordered_map<std::string, runtime::connection_ptr> connections;  // by GUID
  std::unordered_map<std::string, std::set<std::string>> channels;       // name -> GUIDs

  // Targets of a broadcast, under the lock.
  std::vector<std::pair<std::string, runtime::connection_ptr>> targets(
      const broadcast_target& t) const {
    const auto include = split_list(t.include);
    const auto exclude = split_list(t.exclude);
    auto admits = [&](const std::string& guid) {
      for (const auto& e : exclude)
        if (e == guid) return false;
      if (include.empty()) return true;
      for (const auto& i : include)
        if (i == guid) return true;
      return false;
    };
    std::vector<std::pair<std::string, runtime::connection_ptr>> out;
    std::lock_guard<std::mutex> lock(mutex);
    if (t.channel.empty()) {
      for (const auto& [guid, c] : connections)
        if (admits(guid)) out.emplace_back(guid, c);
    } else if (const auto it = channels.find(t.channel); it != channels.end()) {
      for (const auto& guid : it->second) {
        const auto c = connections.find(guid);
        if (c != connections.end() && admits(guid)) out.emplace_back(guid, c->second);
      }
    }
    return out;
  }

  // Hands `file` to the endpoint of `c`, on its io thread.
  static void start_on(const runtime::connection_ptr& c, std::shared_ptr<prepared_file> file,
                       send_options o) {
    c->home().post([c, file = std::move(file), o = std::move(o)] {
      if (!c->attachment) return;  // closed meanwhile
      auto& s = static_cast<conn_state&>(*c->attachment);
      if (!s.closed) s.ep->send_file(file, o);
    });
  }

  // The relay (server_options::relay_channel_files): the verified file, from receive_dir, to
  // the channel's other subscribers.
  void relay(const peer& from, const received_file& f) {
    auto file = std::make_shared<prepared_file>();
    file->fd = ::open(f.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (file->fd < 0) return;
    file->name = f.name;
    file->size = f.size;
    file->sha256 = f.sha256;
    broadcast_target t;
    t.channel = f.channel;
    t.exclude = from.guid;
    send_options o;
    o.qos = f.qos;
    o.data = f.data;
    o.file_id = f.file_id;
    o.channel = f.channel;
    for (const auto& [guid, c] : targets(t))
      start_on(c, file, o);
  }

  // The endpoint's hooks hold the connection weakly: the endpoint lives in the connection's
  // attachment, so a strong reference would be a cycle.
  endpoint::events events_for(const std::string& guid, const runtime::connection_ptr& c) {
    const std::weak_ptr<runtime::connection> weak = c;
    auto who = [guid, weak] { return peer{guid, weak.lock()}; };
    endpoint::events ev;
    ev.authorize = [this, who](const frame& header, std::string& name) {
      const peer p = who();
      return !authorize || (p.connection && authorize(p, header, name));
    };
    ev.fragment = [this, who](const frame& chunk) {
      const peer p = who();
      return !on_fragment || (p.connection && on_fragment(p, chunk));
    };
    ev.received = [this, who](const received_file& f) {
      const peer p = who();
      if (!p.connection) return;
      if (on_received) on_received(p, f);
      if (options.relay_channel_files && !f.channel.empty()) relay(p, f);
    };
    ev.sent = [this, who](const sent_file& f) {
      const peer p = who();
      if (on_sent && p.connection) on_sent(p, f);
    };
    ev.error = [this, who](const transfer_error& e) {
      const peer p = who();
      if (on_error && p.connection) on_error(p, e);
    };
    ev.progress = [this, who](const transfer_progress& pr) {
      const peer p = who();
      if (on_progress && p.connection) on_progress(p, pr);
    };
    return ev;
  }

  void subscribe(conn_state& s, const sgcp::subscribe& m) {
    for (const auto& name : split_list(m.channel)) {
      if (s.closed) return;  // a send closed the connection
      if (before_subscribe && !before_subscribe(s.self, name)) {
        sgcp::rpc_error e;
        e.code = subscription_denied;
        e.message = "Subscription denied";
        std::string data;
        sgcp::append_json_string(data, name);
        e.data.json = data;
        e.id = m.id.present() ? m.id : sgcp::request_id::from_json("null");
        std::string out;
        sgcp::encode_rpc_error(e, out);
        send_text(s, out);
        continue;
      }
      const bool added = s.channels.insert(name).second;
      if (added) {
        std::lock_guard<std::mutex> lock(mutex);
        channels[name].insert(s.self.guid);
      }
      sgcp::subscribed r;
      r.channel = name;
      r.qos = m.qos;
      r.id = m.id;
      std::string out;
      sgcp::encode_subscribed(r, out);
      send_text(s, out);
      if (added && on_subscribe) on_subscribe(s.self, name);
    }
  }

  void unsubscribe(conn_state& s, std::string_view list, const std::optional<sgcp::qos_level>& qos,
                   const sgcp::request_id& id, bool confirm) {
    std::vector<std::string> names = split_list(list);
    for (const auto& name : names) {
      const bool removed = s.channels.erase(name) > 0;
      if (removed) drop_member(s.self.guid, name);
      if (confirm) {
        sgcp::unsubscribed r;
        r.channel = name;
        r.qos = qos;
        r.id = id;
        std::string out;
        sgcp::encode_unsubscribed(r, out);
        send_text(s, out);
      }
      if (removed && on_unsubscribe) on_unsubscribe(s.self, name);
    }
  }

  void drop_member(const std::string& guid, const std::string& channel) {
    std::lock_guard<std::mutex> lock(mutex);
    const auto it = channels.find(channel);
    if (it == channels.end()) return;
    it->second.erase(guid);
    if (it->second.empty()) channels.erase(it);
  }

  void text_message(conn_state& s, std::string_view text) {
    const sgcp::decode_result r = sgcp::decode(text);
    if (!r.ok()) {
      sgcp::rpc_error e;
      e.code = r.jsonrpc_code;
      e.message = sgcp::jsonrpc_error_text(r.jsonrpc_code);
      e.id = r.id.present() ? r.id : sgcp::request_id::from_json("null");
      std::string out;
      sgcp::encode_rpc_error(e, out);
      return send_text(s, out);
    }
    if (const auto* m = std::get_if<sgcp::subscribe>(&r.msg)) return subscribe(s, *m);
    if (const auto* m = std::get_if<sgcp::unsubscribe>(&r.msg))
      return unsubscribe(s, m->channel, m->qos, m->id, true);
    if (std::holds_alternative<sgcp::unsubscribe_all>(r.msg)) {
      std::string all;
      for (const auto& name : s.channels)
        all += (all.empty() ? "" : ",") + name;
      return unsubscribe(s, all, std::nullopt, {}, false);
    }
    if (const auto* m = std::get_if<sgcp::plain_message>(&r.msg)) {
      if (on_message) on_message(s.self, m->message.text());
      return;
    }
    if (std::holds_alternative<sgcp::acknowledgment>(r.msg)) return;
    sgcp::rpc_error e;
    e.code = sgcp::method_not_found;
    e.message = sgcp::jsonrpc_error_text(sgcp::method_not_found);
    e.id = sgcp::request_id::from_json("null");
    std::string out;
    sgcp::encode_rpc_error(e, out);
    send_text(s, out);
  }
};

server::server(runtime::server& transport, server_options options)
    : impl_(std::make_shared<impl>(transport, std::move(options))) {
  const transfer_options& t = impl_->options.transfer;
  if (t.chunk_size < 0) throw runtime::config_error("files server: chunk_size must be >= 0");
  if (t.max_file_size < 0) throw runtime::config_error("files server: max_file_size must be >= 0");
  if (t.qos_interval < std::chrono::milliseconds(1) || t.qos_timeout < std::chrono::milliseconds(1))
    throw runtime::config_error("files server: qos interval and timeout must be at least 1 ms");
  if (const char* bad = invalid_limit(t.codec))
    throw runtime::config_error(std::string("files server: bad codec limit ") + bad);
  if (!t.receive_dir.empty() && ::mkdir(t.receive_dir.c_str(), 0755) != 0 && errno != EEXIST)
    throw runtime::config_error("files server: cannot create " + t.receive_dir + ": " +
                                std::strerror(errno));
}

server::~server() = default;

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
void server::on_disconnect(disconnect_hook h) {
  impl_->on_disconnect = std::move(h);
}
void server::authorize(authorize_hook h) {
  impl_->authorize = std::move(h);
}
void server::on_fragment(fragment_hook h) {
  impl_->on_fragment = std::move(h);
}
void server::on_file_received(received_hook h) {
  impl_->on_received = std::move(h);
}
void server::on_file_sent(sent_hook h) {
  impl_->on_sent = std::move(h);
}
void server::on_error(error_hook h) {
  impl_->on_error = std::move(h);
}
void server::on_progress(progress_hook h) {
  impl_->on_progress = std::move(h);
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

const server_options& server::options() const noexcept {
  return impl_->options;
}

send_result server::send_file(const std::string& guid, const std::string& path,
                              const send_options& o) {
  send_result r;
  runtime::connection_ptr c;
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    const auto it = impl_->connections.find(guid);
    if (it != impl_->connections.end()) c = it->second;
  }
  if (!c) {
    r.error = "unknown connection " + guid;
    return r;
  }
  auto file = prepare_file(path, r.error);
  if (!file) return r;
  send_options so = o;
  if (so.file_id.empty()) so.file_id = new_guid();
  r.file_id = so.file_id;
  r.targets = 1;
  impl::start_on(c, std::move(file), std::move(so));
  return r;
}

send_result server::broadcast_file(const std::string& path, const send_options& o,
                                   const broadcast_target& target) {
  send_result r;
  auto file = prepare_file(path, r.error);
  if (!file) return r;
  send_options so = o;
  so.channel = target.channel;
  if (so.file_id.empty()) so.file_id = new_guid();
  r.file_id = so.file_id;
  for (const auto& [guid, c] : impl_->targets(target)) {
    impl::start_on(c, file, so);
    ++r.targets;
  }
  return r;
}

std::size_t server::subscribers(const std::string& channel) const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  const auto it = impl_->channels.find(channel);
  return it == impl_->channels.end() ? 0 : it->second.size();
}

std::size_t server::connections() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->connections.size();
}

void server::on_open(const runtime::connection_ptr& c) {
  auto state = std::make_unique<conn_state>();
  conn_state& s = *state;
  s.self.guid = new_guid();
  s.self.connection = c;
  s.ep = std::make_shared<endpoint>(c->home(), impl_->options.transfer,
                                    impl_->events_for(s.self.guid, c), /*server_role=*/true);
  endpoint::link l;
  runtime::connection* raw = c.get();  // the endpoint lives in the connection's attachment
  l.send = [raw](std::string_view frame) {
    return raw->send_now(ws::opcode::binary, frame) == runtime::send_status::queued;
  };
  l.queued = [raw] { return raw->queued_bytes(); };
  l.send_budget = impl_->transport.options().max_backpressure / 2;
  s.ep->attach(std::move(l));
  c->attachment = std::move(state);
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->connections.emplace(s.self.guid, c);
  }
  if (impl_->on_connect) impl_->on_connect(s.self);
}

void server::on_message(const runtime::connection_ptr& c, ws::opcode op, std::string_view payload) {
  if (!c->attachment) return;
  conn_state& s = static_cast<conn_state&>(*c->attachment);
  if (s.closed) return;
  if (op == ws::opcode::binary) {
    const std::shared_ptr<endpoint> ep = s.ep;  // alive through the call, whatever happens
    if (const std::error_code ec = ep->on_message(payload))
      c->close(bad_frame_close_code, "not a Files frame: " + ec.message());
    return;
  }
  impl_->text_message(s, payload);
}

void server::on_close(const runtime::connection_ptr& c, std::uint16_t code, std::string_view) {
  if (!c->attachment) return;
  conn_state& s = static_cast<conn_state&>(*c->attachment);
  if (s.closed) return;
  s.ep->detach(/*keep_qos2_sends=*/false);
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->connections.erase(s.self.guid);
  }
  for (const auto& name : s.channels) {
    impl_->drop_member(s.self.guid, name);
    if (impl_->on_unsubscribe) impl_->on_unsubscribe(s.self, name);  // 1.7
  }
  if (impl_->on_disconnect) impl_->on_disconnect(s.self, code);
  s.closed = true;
  // The attachment goes with the connection; only this reference would make a cycle.
  s.self.connection.reset();
}

}  // namespace switchboard::protocols::files
