// client.cpp: the presence client (client.hpp). Everything in `impl` runs on the one io thread
// except the atomics and the members marked "any thread"; public methods post their work.
#include "protocols/presence/client.hpp"

#include "runtime/error.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <random>

namespace switchboard::protocols::presence {

namespace {

using clock_type = std::chrono::steady_clock;

std::string make_guid() {
  thread_local std::mt19937_64 random{std::random_device{}()};
  const std::uint64_t hi = random(), lo = random();
  char out[37];
  std::snprintf(out, sizeof out, "%08X-%04X-%04X-%04X-%012llX", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xffff), static_cast<unsigned>(hi & 0xffff),
                static_cast<unsigned>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xffffffffffffULL));
  return std::string(out, 36);
}

}  // namespace

struct client::impl {
  impl(client_options o, client_events e);

  template <class F>
  void post(F&& f) {
    pool.at(0).post(std::forward<F>(f));
  }

  void opened(const runtime::connect_info& info);
  void closed(std::uint16_t code, std::string_view reason);
  void received(std::string_view text);
  void send(message m);
  void transport_error(std::error_code ec, std::string what) {
    if (events.on_transport_error) events.on_transport_error(ec, what);
  }
  void announce();
  void send_join(const std::string& channel);
  member self() const {
    member m;
    m.id = my_id;
    m.name = options.name;
    m.info = options.info;
    return m;
  }
  void arm_timer();

  // Declared first, destroyed last: handlers capture `this`.
  runtime::io_pool pool{1};
  client_options options;
  client_events events;
  runtime::timer ack_timer;
  std::shared_ptr<runtime::websocket_client> ws;

  // --- Io thread only ---
  bool open = false;
  bool announced = false;           // member@new sent on this connection
  std::string my_id;                // its id
  std::vector<std::string> joined;  // in join order
  struct pending_item {
    std::string text;
    clock_type::time_point sent;
  };
  std::map<std::string, pending_item> unacked;
  std::uint64_t timer_generation = 0;
  id_window received_ids;

  // --- Any thread ---
  mutable std::mutex mutex;
  std::condition_variable changed;
  bool disconnected = true;
  std::string session_copy, member_copy;  // guarded by mutex
  std::atomic<bool> is_open{false};
  std::atomic<std::size_t> pending{0};
};

client::impl::impl(client_options o, client_events e)
    : options(std::move(o)), events(std::move(e)), ack_timer(pool.at(0)) {
  if (options.acknowledgment.interval < std::chrono::milliseconds(1) ||
      options.acknowledgment.timeout < std::chrono::milliseconds(1))
    throw runtime::config_error("presence client: acknowledgment interval and timeout >= 1 ms");
  options.transport.subprotocols = {std::string(subprotocol)};
  runtime::client_events ev;
  ev.on_connect = [this](const runtime::connect_info& info) { opened(info); };
  ev.on_disconnect = [this](std::uint16_t code, std::string_view reason) { closed(code, reason); };
  ev.on_message = [this](runtime::websocket::opcode op, std::string_view payload) {
    if (op == runtime::websocket::opcode::text) received(payload);
  };
  ev.on_error = [this](const std::error_code& ec, const std::string& what, bool) {
    transport_error(ec, what);
  };
  pool.start();
  ws = runtime::websocket_client::make(pool, options.transport, std::move(ev));
}

void client::impl::send(message m) {
  if (!open) {
    transport_error(std::make_error_code(std::errc::not_connected),
                    "presence: not connected: " + std::string(to_string(m.method)));
    return;
  }
  std::string text;
  if (options.acknowledgment.enabled &&
      unacked.size() < options.acknowledgment.max_unacknowledged) {
    m.id = make_guid();
    text = encode(m, options.encode_base64);
    unacked[*m.id] = pending_item{text, clock_type::now()};
    pending.store(unacked.size());
  } else {
    text = encode(m, options.encode_base64);
  }
  if (!ws->send_text(text))
    transport_error(std::make_error_code(std::errc::no_buffer_space),
                    "presence: not sent: " + std::string(to_string(m.method)));
}

void client::impl::announce() {
  message m;
  m.method = method::member_new;
  m.member = self();
  send(std::move(m));
  announced = true;
  for (const auto& channel : joined)
    send_join(channel);
}

void client::impl::send_join(const std::string& channel) {
  message m;
  m.method = method::channel_member_new;
  m.member = self();
  m.channel = channel;
  send(std::move(m));
}

void client::impl::opened(const runtime::connect_info& info) {
  open = true;
  announced = false;
  is_open.store(true);
  {
    std::lock_guard<std::mutex> lock(mutex);
    disconnected = false;
  }
  if (info.subprotocol != subprotocol)
    transport_error(std::make_error_code(std::errc::protocol_not_supported),
                    "presence: the server did not agree to presence.esegece.com");
  if (options.acknowledgment.enabled) arm_timer();
  if (events.on_connect) events.on_connect(info);
  // The member is announced on the session message, which the server sends first.
}

void client::impl::closed(std::uint16_t code, std::string_view reason) {
  open = false;
  announced = false;
  is_open.store(false);
  ++timer_generation;
  ack_timer.cancel();
  unacked.clear();
  pending.store(0);
  if (events.on_disconnect) events.on_disconnect(code, reason);
  std::lock_guard<std::mutex> lock(mutex);
  disconnected = true;
  changed.notify_all();
}

void client::impl::arm_timer() {
  const std::uint64_t generation = ++timer_generation;
  ack_timer.expires_after(options.acknowledgment.interval);
  ack_timer.async_wait([this, generation](const std::error_code& ec) {
    if (ec || generation != timer_generation || !open) return;
    const auto now = clock_type::now();
    for (auto& [id, item] : unacked)
      if (now - item.sent >= options.acknowledgment.timeout) {
        item.sent = now;
        ws->send_text(item.text);
      }
    arm_timer();
  });
}

void client::impl::received(std::string_view text) {
  decode_result r = decode(text, options.codec);
  if (!r.ok()) return transport_error(r.error_code, "presence: bad message from the server");
  message& m = r.msg;
  if (m.method == method::acknowledgment) {
    if (m.id) unacked.erase(*m.id);
    pending.store(unacked.size());
    return;
  }
  if (m.id) {  // 5.3: always acknowledged; a copy sent again is not processed twice
    if (open) ws->send_text(encode_acknowledgment(*m.id, options.encode_base64));
    if (received_ids.seen(*m.id)) return;
  }
  const member none;
  const member& who = m.member ? *m.member : none;
  const std::string channel = m.channel.value_or(std::string());
  switch (m.method) {
    case method::session: {
      const std::string session = m.text.value_or(std::string());
      my_id = options.member_id.empty() ? session : options.member_id;
      {
        std::lock_guard<std::mutex> lock(mutex);
        session_copy = session;
        member_copy = my_id;
      }
      if (events.on_session) events.on_session(session);
      announce();
      return;
    }
    case method::member_new:
      if (events.on_new_member) events.on_new_member(who);
      return;
    case method::member_remove:
      if (events.on_remove_member) events.on_remove_member(who);
      return;
    case method::member_update:
      if (events.on_member_update) events.on_member_update(who);
      return;
    case method::channel_member_new:
      if (events.on_join) events.on_join(channel, who);
      return;
    case method::channel_member_remove:
      if (events.on_leave) events.on_leave(channel, who);
      return;
    case method::publish_msg:
      if (events.on_message) events.on_message(m.text.value_or(std::string()), channel, who);
      return;
    case method::send_members:
      if (events.on_members)
        events.on_members(channel, m.members.value_or(std::vector<presence::member>{}));
      return;
    case method::error_member_channel:
    case method::error_publish_msg: {
      const error_info e = m.error.value_or(error_info{});
      if ((e.code == new_channel_denied || e.code == subscription_denied) && !channel.empty())
        joined.erase(std::remove(joined.begin(), joined.end(), channel), joined.end());
      if (events.on_error) events.on_error(static_cast<int>(e.code), e.text, channel, who);
      return;
    }
    case method::channel_invitation: {
      const bool accept = events.on_invitation ? events.on_invitation(channel, who) : false;
      message answer;
      answer.method = method::invitation_response;
      answer.channel = channel;
      answer.member = self();
      presence::member inviter;
      inviter.id = who.id;
      answer.members = std::vector<presence::member>{inviter};
      answer.accept = accept;
      send(std::move(answer));
      if (accept && std::find(joined.begin(), joined.end(), channel) == joined.end()) {
        joined.push_back(channel);
        if (announced) send_join(channel);
      }
      return;
    }
    case method::invitation_response:
      if (events.on_invitation_response)
        events.on_invitation_response(channel, who, m.accept.value_or(false));
      return;
    default:
      return transport_error(
          make_error_code(errc::bad_method),
          "presence: unexpected method from the server: " +
              (m.method == method::unknown ? m.method_name : std::string(to_string(m.method))));
  }
}

// --- client --------------------------------------------------------------------------------------

client::client(client_options options, client_events events)
    : impl_(std::make_unique<impl>(std::move(options), std::move(events))) {}

client::~client() {
  close();
  {
    std::unique_lock<std::mutex> lock(impl_->mutex);
    const auto limit = std::chrono::milliseconds(impl_->options.transport.close_timeout_ms + 1000);
    impl_->changed.wait_for(lock, limit, [this] { return impl_->disconnected; });
  }
  impl_->pool.stop();
  impl_->pool.join();
  impl_->pool.abort_all(make_error_code(runtime::errc::shutting_down));
}

void client::connect() {
  impl_->ws->connect();
}

void client::close(std::uint16_t code, std::string reason) {
  impl_->ws->close(code, std::move(reason));
}

void client::join(std::string_view channel) {
  impl_->post([i = impl_.get(), ch = std::string(channel)] {
    if (std::find(i->joined.begin(), i->joined.end(), ch) == i->joined.end())
      i->joined.push_back(ch);
    if (i->announced) i->send_join(ch);
  });
}

void client::leave(std::string_view channel) {
  impl_->post([i = impl_.get(), ch = std::string(channel)] {
    i->joined.erase(std::remove(i->joined.begin(), i->joined.end(), ch), i->joined.end());
    if (!i->announced) return;
    message m;
    m.method = method::channel_member_remove;
    m.member = i->self();
    m.channel = ch;
    i->send(std::move(m));
  });
}

void client::publish(std::string_view text, std::string_view channel) {
  impl_->post([i = impl_.get(), t = std::string(text), ch = std::string(channel)] {
    message m;
    m.method = method::publish_msg;
    m.member = i->self();
    m.channel = ch;
    m.text = t;
    i->send(std::move(m));
  });
}

void client::get_members(std::string_view channel) {
  impl_->post([i = impl_.get(), ch = std::string(channel)] {
    message m;
    m.method = method::get_members;
    m.member = i->self();
    m.channel = ch;
    i->send(std::move(m));
  });
}

void client::invite(std::string_view channel, std::string_view member_id) {
  impl_->post([i = impl_.get(), ch = std::string(channel), id = std::string(member_id)] {
    message m;
    m.method = method::channel_invitation;
    m.channel = ch;
    m.member = i->self();
    member invitee;
    invitee.id = id;
    m.members = std::vector<member>{invitee};
    i->send(std::move(m));
  });
}

void client::update(std::string_view name, std::string_view info) {
  impl_->post([i = impl_.get(), n = std::string(name), inf = std::string(info)] {
    i->options.name = n;
    i->options.info = inf;
    if (!i->announced) return;
    message m;
    m.method = method::member_update;
    m.member = i->self();
    i->send(std::move(m));
  });
}

void client::remove_member() {
  impl_->post([i = impl_.get()] {
    i->joined.clear();
    if (!i->announced) return;
    message m;
    m.method = method::member_remove;
    m.member = i->self();
    i->send(std::move(m));
    i->announced = false;
  });
}

void client::new_member() {
  impl_->post([i = impl_.get()] {
    if (i->open && !i->announced && !i->my_id.empty()) i->announce();
  });
}

bool client::is_open() const {
  return impl_->is_open.load();
}

std::string client::session_id() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->session_copy;
}

std::string client::member_id() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->member_copy;
}

std::size_t client::unacknowledged() const {
  return impl_->pending.load();
}

}  // namespace switchboard::protocols::presence
