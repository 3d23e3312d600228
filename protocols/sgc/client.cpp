// client.cpp: the sgc client (client.hpp). Everything below `impl` runs on the one io thread,
// except the members marked "any thread"; the public methods encode on the caller's thread
// (pure codec calls) and post the rest.
#include "protocols/sgc/client.hpp"

#include "runtime/error.hpp"
#include "runtime/log.hpp"
#include "runtime/url.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include <rapidjson/document.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <list>
#include <map>
#include <mutex>
#include <random>
#include <unordered_map>
#include <utility>

namespace switchboard::protocols::sgc {

namespace {

using clock_type = std::chrono::steady_clock;

// A fresh GUID, 8-4-4-4-12 upper-case hex (the form the server uses for sessions).
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

// The JSON token of a GUID id (no escapes needed: hex and dashes).
std::string id_token(const std::string& guid) {
  return "\"" + guid + "\"";
}

// An id as the client keys it: a string id without its quotes (ours are GUIDs, never escaped),
// any other token as written, "" when absent or null.
std::string id_key(const request_id& id) {
  switch (id.type) {
    case request_id::kind::string:
      return std::string(id.json.substr(1, id.json.size() - 2));
    case request_id::kind::number:
      return std::string(id.json);
    default:
      return {};
  }
}

bool is_pattern(std::string_view name) {
  return name.find_first_of("*?") != std::string_view::npos;  // as actors/pattern.hpp
}

// A comma list split as the server splits it (2.4): one name stays one name.
std::vector<std::string> split_channels(std::string_view list) {
  std::vector<std::string> out;
  while (true) {
    const auto comma = list.find(',');
    out.emplace_back(list.substr(0, comma));
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return out;
}

// The recovery members of a subscribe confirmation (README.md): result.sequence and
// result.recovered, present only when the request carried "since".
bool read_recovery(std::string_view text, subscription_info& info) {
  if (text.find("\"recovered\"") == std::string_view::npos) return false;
  rapidjson::Document d;
  d.Parse(text.data(), text.size());
  if (d.HasParseError() || !d.IsObject()) return false;
  const auto result = d.FindMember("result");
  if (result == d.MemberEnd() || !result->value.IsObject()) return false;
  const auto recovered = result->value.FindMember("recovered");
  const auto sequence = result->value.FindMember("sequence");
  if (recovered == result->value.MemberEnd() || !recovered->value.IsBool()) return false;
  info.resumed = true;
  info.recovered = recovered->value.GetBool();
  if (sequence != result->value.MemberEnd() && sequence->value.IsUint64())
    info.sequence = sequence->value.GetUint64();
  return true;
}

std::string encode_subscribe_request(const std::string& name, std::optional<std::uint64_t> since) {
  subscribe m;
  m.channel = name;
  std::string out;
  encode_subscribe(m, out);
  if (since) {
    // {"jsonrpc":"2.0","method":"sgc@subscribe","params":{"channel":C}}: params closes at
    // size - 2 (no qos, no id).
    out.insert(out.size() - 2, ",\"since\":" + std::to_string(*since));
  }
  return out;
}

std::string encode_pubrel_request(const std::string& guid) {
  const std::string token = id_token(guid);
  pubrel m;
  m.qos = qos_level::level2;
  m.id = request_id::from_json(token);
  std::string out;
  encode_pubrel(m, out);
  return out;
}

}  // namespace

std::string rpc_reply::result_text() const {
  return raw_json{result}.text();
}

struct client::impl {
  impl(client_options o, client_events e);

  // Any thread.
  template <class F>
  void post(F&& f) {
    pool.at(0).post(std::forward<F>(f));
  }

  // Io thread.
  void opened(const runtime::connect_info& info);
  void closed(std::uint16_t code, std::string_view reason);
  void received(std::string_view text);
  void acknowledge(const request_id& id);
  void handle(const event& x, std::string_view text);
  void handle(const acknowledgment& x, std::string_view text);
  void handle(const pubrec& x, std::string_view text);
  void handle(const sgc::session& x, std::string_view text);
  void handle(const subscribed& x, std::string_view text);
  void handle(const unsubscribed& x, std::string_view text);
  void handle(const broadcast_message& x, std::string_view text);
  void handle(const plain_message& x, std::string_view text);
  void handle(const rpc_result& x, std::string_view text);
  void handle(const rpc_error& x, std::string_view text);
  void handle(const protocol_reply& x, std::string_view text);
  // Requests are what a client sends, not what it receives.
  template <class Request>
  void handle(const Request& x, std::string_view) {
    error(make_error_code(errc::bad_method),
          "sgc: unexpected " + std::string(method_name(message{x})) + " from the server");
  }
  bool send(const std::string& text, const char* what);
  void error(std::error_code ec, std::string what);
  void send_subscribe(const std::string& name);
  void add_qos(std::string guid, std::string text, qos_level level);
  void arm_qos_timer();
  void retry_qos();
  void add_rpc(const std::string& guid, std::string text, rpc_callback done);
  void answer_rpc(rpc_reply reply);

  // Declared first, destroyed last: its handlers capture `this`, and no handler runs after
  // the destructor joined it.
  runtime::io_pool pool{1};
  client_options options;
  client_events events;
  runtime::timer qos_timer;
  std::shared_ptr<runtime::websocket_client> ws;

  // --- Io thread only ---
  bool open = false;
  struct subscription {
    std::uint64_t last_sequence = 0;  // of the last event seen on this name (0: none)
  };
  std::map<std::string, subscription> subscriptions;          // names and patterns, in name order
  std::unordered_map<std::string, std::uint64_t> since_sent;  // until the confirmation
  struct qos_item {
    std::string guid;
    std::string publish;  // the encoded PUBLISH
    qos_level level = qos_level::level1;
    bool released = false;  // QoS 2: PUBREC came, PUBREL sent
    bool sent = false;
    clock_type::time_point sent_at;  // first send on this connection (not refreshed, 2.8)
  };
  std::list<qos_item> qos_list;                                              // in publish order
  std::unordered_map<std::string, std::list<qos_item>::iterator> qos_index;  // by GUID
  std::uint64_t qos_timer_generation = 0;
  std::unordered_map<std::string, rpc_callback> rpcs;  // waiting calls by GUID

  // --- Any thread ---
  mutable std::mutex mutex;
  std::condition_variable changed;
  std::string session_guid;  // guarded by mutex
  bool disconnected = true;  // guarded by mutex: for the destructor's wait
  std::atomic<bool> is_open{false};
  std::atomic<std::size_t> pending{0};
};

client::impl::impl(client_options o, client_events e)
    : options(std::move(o)), events(std::move(e)), qos_timer(pool.at(0)) {
  if (options.qos_interval < std::chrono::milliseconds(1))
    throw runtime::config_error("sgc client: qos_interval must be at least 1 ms");
  if (options.qos_timeout < std::chrono::milliseconds(1))
    throw runtime::config_error("sgc client: qos_timeout must be at least 1 ms");
  if (options.max_pending_qos == 0)
    throw runtime::config_error("sgc client: max_pending_qos must be at least 1");
  options.transport.subprotocols = {std::string(subprotocol)};
  if (!options.balancer_url.empty() || !options.fallback_urls.empty()) {
    const auto configured = runtime::parse_url(options.transport.url);
    const std::string route = configured ? configured->target : std::string("/");
    options.transport.choose_url = [balancer = options.balancer_url,
                                    fallbacks = options.fallback_urls,
                                    timeout = options.balancer_timeout_ms, route,
                                    next = std::size_t{0}]() mutable -> std::string {
      if (!balancer.empty()) {
        std::string why;
        std::string node = ask_balancer(balancer, timeout, &why);
        if (!node.empty()) {
          while (!node.empty() && node.back() == '/')
            node.pop_back();
          return node + route;
        }
        SB_LOG(warn, "sgc client: balancer %s: %s", balancer.c_str(), why.c_str());
      }
      if (fallbacks.empty()) return {};
      return fallbacks[next++ % fallbacks.size()];
    };
  }
  runtime::client_events ev;
  ev.on_connect = [this](const runtime::connect_info& info) { opened(info); };
  ev.on_disconnect = [this](std::uint16_t code, std::string_view reason) { closed(code, reason); };
  ev.on_message = [this](runtime::websocket::opcode op, std::string_view payload) {
    if (op == runtime::websocket::opcode::text) received(payload);
  };
  ev.on_error = [this](const std::error_code& ec, const std::string& what, bool) {
    error(ec, what);
  };
  pool.start();
  ws = runtime::websocket_client::make(pool, options.transport, std::move(ev));
}

void client::impl::error(std::error_code ec, std::string what) {
  if (events.on_error) events.on_error(ec, what);
}

bool client::impl::send(const std::string& text, const char* what) {
  if (!open) {
    error(std::make_error_code(std::errc::not_connected),
          std::string("sgc: not connected: ") + what);
    return false;
  }
  if (!ws->send_text(text)) {
    error(std::make_error_code(std::errc::no_buffer_space), std::string("sgc: not sent: ") + what);
    return false;
  }
  return true;
}

void client::impl::send_subscribe(const std::string& name) {
  const auto& sub = subscriptions.at(name);
  std::optional<std::uint64_t> since;
  if (sub.last_sequence > 0 && !is_pattern(name)) since = sub.last_sequence;
  if (since)
    since_sent[name] = *since;
  else
    since_sent.erase(name);
  send(encode_subscribe_request(name, since), "subscribe");
}

void client::impl::opened(const runtime::connect_info& info) {
  open = true;
  is_open.store(true);
  {
    std::lock_guard<std::mutex> lock(mutex);
    disconnected = false;
  }
  if (info.subprotocol != subprotocol)
    error(std::make_error_code(std::errc::protocol_not_supported),
          "sgc: the server did not agree to esegece.com");
  // A new connection has no subscriptions on the server: all of them again, "since" where an
  // event was seen.
  for (const auto& entry : subscriptions)
    send_subscribe(entry.first);
  // The QoS list again, each as its PUBLISH (2.8; the server's window keeps QoS 2 exactly once).
  const auto now = clock_type::now();
  for (auto& item : qos_list) {
    item.released = false;
    item.sent = true;
    item.sent_at = now;
    send(item.publish, "publish");
  }
  arm_qos_timer();
  if (events.on_connect) events.on_connect(info);
}

void client::impl::closed(std::uint16_t code, std::string_view reason) {
  open = false;
  is_open.store(false);
  ++qos_timer_generation;
  qos_timer.cancel();
  since_sent.clear();
  for (auto& item : qos_list)
    item.sent = false;
  auto waiting = std::move(rpcs);
  rpcs.clear();
  for (auto& [guid, done] : waiting) {
    rpc_reply r;
    r.id = guid;
    r.code = rpc_disconnected;
    r.message = "Connection lost before the answer";
    if (done)
      done(r);
    else if (events.on_rpc_error)
      events.on_rpc_error(r);
  }
  if (events.on_disconnect) events.on_disconnect(code, reason);
  std::lock_guard<std::mutex> lock(mutex);
  disconnected = true;
  changed.notify_all();
}

void client::impl::arm_qos_timer() {
  const std::uint64_t generation = ++qos_timer_generation;
  qos_timer.expires_after(options.qos_interval);
  qos_timer.async_wait([this, generation](const std::error_code& ec) {
    if (ec || generation != qos_timer_generation || !open) return;
    retry_qos();
    arm_qos_timer();
  });
}

void client::impl::retry_qos() {
  const auto now = clock_type::now();
  for (auto& item : qos_list) {
    if (!item.sent || now - item.sent_at < options.qos_timeout) continue;
    if (item.released)
      send(encode_pubrel_request(item.guid), "pubrel");
    else
      send(item.publish, "publish");
  }
}

void client::impl::add_qos(std::string guid, std::string text, qos_level level) {
  if (qos_list.size() >= options.max_pending_qos) {
    error(std::make_error_code(std::errc::no_buffer_space),
          "sgc: QoS list full (max_pending_qos), publish " + guid + " dropped");
    return;
  }
  qos_item item;
  item.guid = std::move(guid);
  item.publish = std::move(text);
  item.level = level;
  qos_list.push_back(std::move(item));
  auto it = std::prev(qos_list.end());
  qos_index[it->guid] = it;
  pending.store(qos_list.size());
  if (open) {
    it->sent = true;
    it->sent_at = clock_type::now();
    send(it->publish, "publish");
  }
}

void client::impl::add_rpc(const std::string& guid, std::string text, rpc_callback done) {
  if (!open) {
    rpc_reply r;
    r.id = guid;
    r.code = rpc_disconnected;
    r.message = "Not connected";
    if (done)
      done(r);
    else if (events.on_rpc_error)
      events.on_rpc_error(r);
    return;
  }
  rpcs[guid] = std::move(done);
  if (!ws->send_text(text)) {
    auto it = rpcs.find(guid);
    auto cb = std::move(it->second);
    rpcs.erase(it);
    rpc_reply r;
    r.id = guid;
    r.code = rpc_disconnected;
    r.message = "Not sent (backpressure or connection closing)";
    if (cb)
      cb(r);
    else if (events.on_rpc_error)
      events.on_rpc_error(r);
  }
}

void client::impl::answer_rpc(rpc_reply reply) {
  rpc_callback done;
  if (auto it = rpcs.find(reply.id); it != rpcs.end()) {
    done = std::move(it->second);
    rpcs.erase(it);
  }
  if (done) return done(reply);
  if (reply.ok) {
    if (events.on_rpc_result) events.on_rpc_result(reply);
  } else if (events.on_rpc_error) {
    events.on_rpc_error(reply);
  }
}

void client::impl::received(std::string_view text) {
  if (events.on_raw_message && events.on_raw_message(text)) return;
  const decode_result r = decode(text, options.codec);
  if (!r.ok()) return error(r.error_code, "sgc: undecodable message from the server");
  std::visit([this, text](const auto& x) { handle(x, text); }, r.msg);
}

// Acknowledges what the original client acknowledges: session, RPC result and error (2.7).
void client::impl::acknowledge(const request_id& id) {
  if (id.type != request_id::kind::string && id.type != request_id::kind::number) return;
  acknowledgment a;
  a.id = id;
  std::string out;
  encode_acknowledgment(a, out);
  send(out, "acknowledgment");
}

void client::impl::handle(const event& x, std::string_view) {
  const std::string channel(x.channel);
  const std::uint64_t sequence = x.sequence.value_or(0);
  if (sequence > 0) {
    if (auto it = subscriptions.find(channel); it != subscriptions.end())
      it->second.last_sequence = sequence;
  }
  if (events.on_event) events.on_event(channel, x.message.text(), sequence);
}

void client::impl::handle(const acknowledgment& x, std::string_view) {
  const std::string guid = id_key(x.id);
  if (auto it = qos_index.find(guid); it != qos_index.end()) {
    qos_list.erase(it->second);
    qos_index.erase(it);
    pending.store(qos_list.size());
  }
  if (events.on_acknowledgment) events.on_acknowledgment(guid);
}

void client::impl::handle(const pubrec& x, std::string_view) {
  const std::string guid = id_key(x.id);
  auto it = qos_index.find(guid);
  if (it == qos_index.end()) return;  // acknowledged already: a late duplicate
  it->second->released = true;
  send(encode_pubrel_request(guid), "pubrel");
}

void client::impl::handle(const sgc::session& x, std::string_view) {
  acknowledge(x.id);
  {
    std::lock_guard<std::mutex> lock(mutex);
    session_guid = std::string(x.guid);
  }
  if (events.on_session) events.on_session(x.guid);
}

void client::impl::handle(const subscribed& x, std::string_view text) {
  const std::string channel(x.channel);
  subscription_info info;
  if (read_recovery(text, info)) {
    if (auto it = since_sent.find(channel); it != since_sent.end()) {
      info.since = it->second;
      since_sent.erase(it);
    }
    // A channel created again on the server numbers from 1: forget our higher number.
    if (info.sequence < info.since) {
      if (auto it = subscriptions.find(channel); it != subscriptions.end())
        it->second.last_sequence = 0;
    }
    if (!info.recovered && events.on_gap) events.on_gap(channel, info.since, info.sequence);
  }
  if (events.on_subscribed) events.on_subscribed(channel, info);
}

void client::impl::handle(const unsubscribed& x, std::string_view) {
  if (events.on_unsubscribed) events.on_unsubscribed(x.channel);
}

void client::impl::handle(const broadcast_message& x, std::string_view) {
  if (events.on_message) events.on_message(x.channel, x.message.text());
}

void client::impl::handle(const plain_message& x, std::string_view) {
  if (events.on_message) events.on_message({}, x.message.text());
}

void client::impl::handle(const rpc_result& x, std::string_view) {
  acknowledge(x.id);
  rpc_reply reply;
  reply.id = id_key(x.id);
  reply.ok = true;
  reply.result = std::string(x.result.json);
  answer_rpc(std::move(reply));
}

void client::impl::handle(const rpc_error& x, std::string_view) {
  acknowledge(x.id);
  rpc_reply reply;
  reply.id = id_key(x.id);
  reply.code = x.code;
  reply.message = std::string(x.message);
  reply.data = std::string(x.data.json);
  answer_rpc(std::move(reply));
}

void client::impl::handle(const protocol_reply&, std::string_view) {
  // The answer to sgc@protocol; nothing asks for it.
}

// --- the balancer ----------------------------------------------------------------------------

std::string ask_balancer(const std::string& balancer_url, std::uint32_t timeout_ms,
                         std::string* why) {
  const auto fail = [why](std::string text) {
    if (why) *why = std::move(text);
    return std::string{};
  };
  const auto u = runtime::parse_url(balancer_url);
  if (!u || u->scheme != "http")
    return fail("the balancer URL must be http://HOST:PORT, not '" + balancer_url + "'");
  // One GET on a private io_context, bounded by run_for: this runs on the client's io thread.
  namespace asio = boost::asio;
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  asio::ip::tcp::resolver resolver(io);
  const std::string request = "GET /lb/node HTTP/1.1\r\nHost: " + u->authority() +
                              "\r\nAccept: application/json\r\nConnection: close\r\n\r\n";
  std::string response;
  std::array<char, 2048> buffer;
  boost::system::error_code failure;
  std::function<void()> read_more = [&] {
    socket.async_read_some(asio::buffer(buffer), [&](boost::system::error_code ec, std::size_t n) {
      response.append(buffer.data(), n);
      if (response.size() > 16384) return;  // not what a balancer answers
      if (ec) {
        if (ec != asio::error::eof) failure = ec;
        return;
      }
      read_more();
    });
  };
  resolver.async_resolve(
      u->host, std::to_string(u->port),
      [&](boost::system::error_code ec, const asio::ip::tcp::resolver::results_type& addresses) {
        if (ec) return void(failure = ec);
        asio::async_connect(socket, addresses, [&](boost::system::error_code c, const auto&) {
          if (c) return void(failure = c);
          asio::async_write(socket, asio::buffer(request),
                            [&](boost::system::error_code w, std::size_t) {
                              if (w) return void(failure = w);
                              read_more();
                            });
        });
      });
  io.run_for(std::chrono::milliseconds(timeout_ms));
  if (!io.stopped()) return fail("no answer within " + std::to_string(timeout_ms) + " ms");
  if (failure) return fail(failure.message());
  const auto end = response.find("\r\n\r\n");
  if (response.compare(0, 9, "HTTP/1.1 ") != 0 || end == std::string::npos)
    return fail("not an HTTP response");
  if (response.compare(9, 3, "200") != 0)
    return fail("answered " + response.substr(9, response.find("\r\n") - 9));
  rapidjson::Document d;
  d.Parse(response.data() + end + 4, response.size() - end - 4);
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("url") || !d["url"].IsString())
    return fail("the answer has no \"url\"");
  return std::string(d["url"].GetString(), d["url"].GetStringLength());
}

// --- client ----------------------------------------------------------------------------------

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

std::string client::publish(std::string_view text, std::string_view channel, queue_level queue,
                            std::optional<qos_level> qos) {
  const qos_level level = qos.value_or(impl_->options.qos);
  std::string storage, guid, token;
  sgc::publish m;
  m.channel = channel;
  m.message = text_payload(text, storage);
  m.queue = queue;
  if (level != qos_level::level0) {
    guid = make_guid();
    token = id_token(guid);
    m.qos = level;
    m.id = request_id::from_json(token);
  }
  std::string out;
  encode_publish(m, out);
  impl_->post([i = impl_.get(), out = std::move(out), guid, level]() mutable {
    if (level == qos_level::level0)
      i->send(out, "publish");
    else
      i->add_qos(std::move(guid), std::move(out), level);
  });
  return guid;
}

void client::subscribe(std::string_view channels) {
  impl_->post([i = impl_.get(), list = std::string(channels)] {
    for (auto& name : split_channels(list))
      i->subscriptions.try_emplace(std::move(name));
    if (!i->open) return;
    sgc::subscribe m;
    m.channel = list;
    std::string out;
    encode_subscribe(m, out);
    i->send(out, "subscribe");
  });
}

void client::unsubscribe(std::string_view channels) {
  impl_->post([i = impl_.get(), list = std::string(channels)] {
    for (auto& name : split_channels(list)) {
      i->subscriptions.erase(name);
      i->since_sent.erase(name);
    }
    if (!i->open) return;
    sgc::unsubscribe m;
    m.channel = list;
    std::string out;
    encode_unsubscribe(m, out);
    i->send(out, "unsubscribe");
  });
}

void client::unsubscribe_all() {
  impl_->post([i = impl_.get()] {
    i->subscriptions.clear();
    i->since_sent.clear();
    if (!i->open) return;
    std::string out;
    encode_unsubscribe_all(sgc::unsubscribe_all{}, out);
    i->send(out, "unsubscribe_all");
  });
}

void client::broadcast(std::string_view text, std::string_view channel) {
  std::string storage, out;
  sgc::broadcast m;
  m.channel = channel;
  m.message = text_payload(text, storage);
  encode_broadcast(m, out);
  impl_->post([i = impl_.get(), out = std::move(out)] { i->send(out, "broadcast"); });
}

void client::write(std::string_view text) {
  std::string storage, out;
  plain_message m;
  m.message = text_payload(text, storage);
  encode_plain_message(m, out);
  impl_->post([i = impl_.get(), out = std::move(out)] { i->send(out, "message"); });
}

std::string client::rpc(std::string_view method, std::string_view params, rpc_callback done) {
  std::string guid = make_guid();
  const std::string token = id_token(guid);
  std::string storage, out;
  rpc_request m;
  m.method = method;
  if (!params.empty()) m.params = text_payload(params, storage);
  m.id = request_id::from_json(token);
  encode_rpc_request(m, out);
  impl_->post([i = impl_.get(), guid, out = std::move(out), done = std::move(done)]() mutable {
    i->add_rpc(guid, std::move(out), std::move(done));
  });
  return guid;
}

std::future<rpc_reply> client::rpc(std::string_view method, std::string_view params) {
  auto promise = std::make_shared<std::promise<rpc_reply>>();
  auto future = promise->get_future();
  rpc(method, params, [promise](const rpc_reply& r) { promise->set_value(r); });
  return future;
}

void client::notify(std::string_view method, std::string_view params) {
  std::string storage, out;
  notification m;
  m.method = method;
  if (!params.empty()) m.params = text_payload(params, storage);
  encode_notification(m, out);
  impl_->post([i = impl_.get(), out = std::move(out)] { i->send(out, "notification"); });
}

void client::get_session() {
  std::string out;
  encode_session_request(session_request{}, out);
  impl_->post([i = impl_.get(), out = std::move(out)] { i->send(out, "session"); });
}

void client::start_transaction(std::string_view channel) {
  std::string out;
  transaction m;
  m.channel = channel;
  encode_transaction(m, out);
  impl_->post([i = impl_.get(), out = std::move(out)] { i->send(out, "transaction"); });
}

void client::commit(std::string_view channel) {
  std::string out;
  sgc::commit m;
  m.channel = channel;
  encode_commit(m, out);
  impl_->post([i = impl_.get(), out = std::move(out)] { i->send(out, "commit"); });
}

void client::rollback(std::string_view channel) {
  std::string out;
  sgc::rollback m;
  m.channel = channel;
  encode_rollback(m, out);
  impl_->post([i = impl_.get(), out = std::move(out)] { i->send(out, "rollback"); });
}

bool client::is_open() const {
  return impl_->is_open.load();
}

std::string client::session_id() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->session_guid;
}

std::size_t client::pending_qos() const {
  return impl_->pending.load();
}

}  // namespace switchboard::protocols::sgc
