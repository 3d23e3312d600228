#include "runtime/client.hpp"

#include "runtime/auth/base64.hpp"
#include "runtime/error.hpp"
#include "runtime/log.hpp"
#include "runtime/websocket/handshake.hpp"
#include "runtime/websocket_stream.hpp"

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>

#include <random>

namespace switchboard::runtime {

namespace ws = websocket;
namespace http = boost::beast::http;

namespace {

std::string_view view(boost::beast::string_view s) {
  return {s.data(), s.size()};
}

constexpr std::size_t max_response_head = 16 * 1024;

}  // namespace

// What the stream may call on its client. A friend-like door that keeps websocket_client's
// members private from everyone else.
struct websocket_client::access {
  static void opened(websocket_client& c, connect_info info) { c.opened(std::move(info)); }
  static void failed(websocket_client& c, const std::error_code& ec, const std::string& what) {
    c.attempt_failed(ec, what);
  }
  static void redirected(websocket_client& c, const url& target, const std::string& location) {
    c.redirected(target, location);
  }
  static void closed(websocket_client& c, std::uint16_t code, std::string_view reason) {
    c.stream_closed(code, reason);
  }
  static const client_events& events(websocket_client& c) { return c.events_; }
};

// One attempt's socket: the upgrade request and response, then the open WebSocket.
class client_stream final : public websocket_stream {
 public:
  client_stream(worker& home, tcp_socket socket, std::unique_ptr<tls_session> tls,
                std::weak_ptr<websocket_client> owner, url target)
      : websocket_stream(home, std::move(socket), limits_for(owner), std::move(tls)),
        owner_(std::move(owner)),
        target_(std::move(target)) {}

  void begin() {
    const auto owner = owner_.lock();
    if (!owner) return;
    const client_options& o = owner->options();
    deadline_ = home().now_tick() + o.connect_timeout_ms / worker::tick_ms + 1;
    key_ = ws::make_client_key();
    std::string request =
        "GET " + target_.target + " HTTP/1.1\r\nHost: " + target_.authority() +
        "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key_ +
        "\r\nSec-WebSocket-Version: 13\r\n";
    if (!o.subprotocols.empty()) {
      request += "Sec-WebSocket-Protocol: ";
      for (std::size_t i = 0; i < o.subprotocols.size(); ++i)
        request += (i ? ", " : "") + o.subprotocols[i];
      request += "\r\n";
    }
    if (o.permessage_deflate)
      request += "Sec-WebSocket-Extensions: " + ws::format_offer(o.deflate) + "\r\n";
    if (!o.origin.empty()) request += "Origin: " + o.origin + "\r\n";
    const std::string& user = target_.user.empty() ? o.user : target_.user;
    const std::string& password = target_.user.empty() ? o.password : target_.password;
    if (!o.bearer_token.empty())
      request += "Authorization: Bearer " + o.bearer_token + "\r\n";
    else if (!user.empty())
      request += "Authorization: Basic " + auth::encode_base64(user + ":" + password) + "\r\n";
    for (const auto& [name, value] : o.headers)
      request += name + ": " + value + "\r\n";
    request += "\r\n";
    start();
    send_copy(request.data(), request.size(), /*control=*/true);
  }

  // Ends an attempt still in its handshake without reporting it (the user closed).
  void cancel() {
    done_ = reported_ = true;
    abort();
  }

  std::string log_name() const override { return "client " + target_.to_string(); }

 private:
  static transport_limits limits_for(const std::weak_ptr<websocket_client>& owner) {
    transport_limits l;
    if (const auto c = owner.lock()) l.max_backpressure = c->options().max_backpressure;
    return l;
  }

  void on_data(std::uint8_t* data, std::size_t size) override {
    if (is_websocket()) return websocket_data(data, size);
    if (done_) return;
    response_.append(reinterpret_cast<const char*>(data), size);
    if (!parser_) {
      parser_.emplace();
      parser_->header_limit(max_response_head);
      parser_->skip(true);  // only the head matters: 101 has no body, others end the attempt
    }
    boost::beast::error_code ec;
    const std::size_t used = parser_->put(boost::asio::buffer(response_), ec);
    if (ec == http::error::need_more && !parser_->is_header_done()) {
      response_.erase(0, used);
      return;
    }
    if (ec && !parser_->is_header_done())
      return fail_attempt(
          make_error_code(errc::bad_handshake),
          "malformed HTTP response from " + target_.to_string() + ": " + ec.message());
    std::string leftover = response_.substr(used);
    handle_response(leftover);
  }

  void handle_response(std::string& leftover) {
    const auto owner = owner_.lock();
    if (!owner) return abort();
    const client_options& o = owner->options();
    const auto& res = parser_->get();
    const auto field = [&res](http::field f) { return view(res[f]); };
    const unsigned status = res.result_int();
    done_ = true;
    if (status >= 300 && status < 400 && !field(http::field::location).empty()) {
      const std::string location(field(http::field::location));
      abort();
      return websocket_client::access::redirected(*owner, target_, location);
    }
    if (status != 101) {
      std::string what = target_.to_string() + " answered " + std::to_string(status) + " " +
                         std::string(view(res.reason()));
      if (status == 401 && !field(http::field::www_authenticate).empty())
        what += " (" + std::string(field(http::field::www_authenticate)) + ")";
      return fail_attempt(make_error_code(errc::handshake_refused), what);
    }
    ws::handshake_response hr;
    hr.upgrade = field(http::field::upgrade);
    hr.connection = field(http::field::connection);
    hr.accept = field(http::field::sec_websocket_accept);
    hr.protocol = field(http::field::sec_websocket_protocol);
    if (const std::error_code ec = ws::check_response(hr, key_, o.subprotocols))
      return fail_attempt(ec, target_.to_string() + ": " + ec.message());
    const std::string_view extensions = field(http::field::sec_websocket_extensions);
    std::optional<ws::deflate_params> deflate;
    if (o.permessage_deflate) {
      ws::deflate_accept_result r = ws::accept_client(extensions, o.deflate);
      if (r.error) return fail_attempt(r.error, target_.to_string() + ": " + r.error.message());
      deflate = r.params;
    } else if (!extensions.empty()) {
      const auto ec = make_error_code(ws::deflate_errc::unexpected_extension);
      return fail_attempt(
          ec, target_.to_string() + ": " + ec.message() + " (" + std::string(extensions) + ")");
    }
    websocket_settings s;
    s.role = ws::role::client;
    s.max_message_size = o.max_message_size;
    s.deflate_min_size = o.deflate_min_size;
    s.fragment_size = o.fragment_size;
    s.report_fragments = o.report_fragments;
    s.heartbeat_interval_ms = o.heartbeat_interval_ms;
    s.heartbeat_timeout_ms = o.heartbeat_timeout_ms;
    s.close_timeout_ms = o.close_timeout_ms;
    s.slow_consumer_close_code = ws::close_code::policy_violation;
    open_websocket(s, deflate, o.deflate);
    connect_info info;
    info.url = target_.to_string();
    info.subprotocol = std::string(hr.protocol);
    info.extensions = std::string(extensions);
    parser_.reset();
    std::string().swap(response_);
    websocket_client::access::opened(*owner, std::move(info));
    if (!leftover.empty() && is_websocket())
      websocket_data(reinterpret_cast<std::uint8_t*>(leftover.data()), leftover.size());
  }

  void fail_attempt(const std::error_code& ec, const std::string& what) {
    if (reported_) return;
    reported_ = true;
    done_ = true;
    abort();
    if (const auto owner = owner_.lock()) websocket_client::access::failed(*owner, ec, what);
  }

  void on_closed(const std::error_code& ec) override {
    if (is_websocket()) return websocket_closed(ec);
    if (done_ && reported_) return;
    if (done_) return;  // redirected
    std::string what = target_.to_string() + ": ";
    const std::string tls_why = tls_error();
    if (!tls_why.empty() && ec.category() == tls_category())
      what += "TLS handshake failed: " + tls_why;
    else if (ec == errc::eof)
      what += "the server closed the connection during the handshake";
    else
      what += ec.message();
    fail_attempt(ec ? ec : make_error_code(errc::bad_handshake), what);
  }

  void on_tick(std::uint32_t now) override {
    if (is_websocket()) return websocket_tick(now);
    if (!done_ && static_cast<std::int32_t>(now - deadline_) >= 0)
      fail_attempt(make_error_code(errc::timed_out),
                   target_.to_string() + ": no handshake response in time");
  }

  void on_slow_consumer() override {
    if (is_websocket()) return websocket_slow_consumer();
    abort(make_error_code(errc::slow_consumer));
  }

  void on_ws_message(ws::opcode op, std::string_view payload) override {
    if (const auto owner = owner_.lock()) {
      const auto& ev = websocket_client::access::events(*owner);
      if (ev.on_message) ev.on_message(op, payload);
    }
  }

  void on_ws_fragment(ws::opcode op, std::string_view payload) override {
    if (const auto owner = owner_.lock()) {
      const auto& ev = websocket_client::access::events(*owner);
      if (ev.on_fragment) ev.on_fragment(op, payload);
    }
  }

  void on_ws_closed(std::uint16_t code, std::string_view reason) override {
    if (const auto owner = owner_.lock()) websocket_client::access::closed(*owner, code, reason);
  }

  std::weak_ptr<websocket_client> owner_;
  url target_;
  std::string key_;
  std::string response_;  // response bytes not yet parsed
  std::optional<http::response_parser<http::empty_body>> parser_;
  std::uint32_t deadline_ = 0;
  bool done_ = false;      // the response head was handled (or the attempt failed)
  bool reported_ = false;  // the failure was reported
};

// --- websocket_client ---------------------------------------------------------------------

std::shared_ptr<websocket_client> websocket_client::make(io_pool& pool, client_options options,
                                                         client_events events) {
  return std::shared_ptr<websocket_client>(
      new websocket_client(pool.next(), std::move(options), std::move(events)));
}

websocket_client::websocket_client(worker& home, client_options options, client_events events)
    : home_(home), options_(std::move(options)), events_(std::move(events)), retry_timer_(home) {
  std::string why;
  auto u = parse_url(options_.url, &why);
  if (!u) throw config_error("client: " + options_.url + ": " + why);
  if (u->scheme != "ws" && u->scheme != "wss")
    throw config_error("client: " + options_.url + ": a WebSocket URL is ws:// or wss://");
  url_ = std::move(*u);
  // Header names are tokens and values hold no line breaks (RFC 9110 section 5): anything
  // else would let a setting inject headers into the request.
  for (const auto& [name, value] : options_.headers) {
    bool ok = !name.empty();
    for (char c : name)
      ok = ok && c > 0x20 && c < 0x7f &&
           std::string_view("()<>@,;:\\\"/[]?={}").find(c) == std::string_view::npos;
    for (char c : value)
      ok = ok && c != '\r' && c != '\n' && c != '\0';
    if (!ok) throw config_error("client: bad request header '" + name + "'");
  }
  for (const std::string* v : {&options_.origin, &options_.bearer_token})
    if (v->find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos)
      throw config_error("client: a line break in the Origin or Bearer token");
  for (const auto& p : options_.subprotocols)
    if (p.empty() || p.find_first_of(" ,\r\n\t\"") != std::string::npos)
      throw config_error("client: bad subprotocol name '" + p + "'");
}

websocket_client::~websocket_client() {
  if (stream_) {
    // Destroyed without close(): end the connection on its thread.
    auto stream = std::move(stream_);
    home_.post([stream] { stream->cancel(); });
  }
}

void websocket_client::connect() {
  home_.post([self = shared_from_this()] {
    const state s = self->current_state();
    if (s == state::connecting || s == state::open || s == state::closing) return;
    self->user_closed_ = false;
    self->failures_ = 0;
    self->attempt();
  });
}

void websocket_client::attempt() {
  set_state(state::connecting);
  redirects_ = 0;
  if (options_.choose_url) {
    const std::string chosen = options_.choose_url();
    if (!chosen.empty()) {
      std::string why;
      const auto u = parse_url(chosen, &why);
      if (u && (u->scheme == "ws" || u->scheme == "wss")) return dial_target(*u);
      SB_LOG(warn, "client: chosen URL '%s' is not a WebSocket URL%s%s: dialing %s", chosen.c_str(),
             why.empty() ? "" : ": ", why.c_str(), url_.to_string().c_str());
    }
  }
  dial_target(url_);
}

void websocket_client::dial_target(const url& target) {
  dial_request r;
  r.host = target.host;
  r.port = target.port;
  r.proxy = options_.proxy;
  r.timeout_ms = options_.connect_timeout_ms;
  const std::uint64_t generation = generation_;
  dial(home_, std::move(r),
       [self = shared_from_this(), target, generation](const std::error_code& ec,
                                                       const std::string& what, tcp_socket s) {
         if (generation != self->generation_) return;  // closed meanwhile
         self->on_dialed(ec, what, std::move(s), target);
       });
}

void websocket_client::on_dialed(const std::error_code& ec, const std::string& what, tcp_socket s,
                                 const url& target) {
  if (ec) return attempt_failed(ec, what);
  std::unique_ptr<tls_session> tls;
  if (target.secure()) {
    try {
      if (!tls_) tls_ = tls_context::make_client(options_.tls);
      tls = std::make_unique<tls_session>(*tls_, target.host);
    } catch (const std::exception& e) {
      return attempt_failed(make_error_code(errc::bad_url), e.what());
    }
  }
  stream_ = std::make_shared<client_stream>(home_, std::move(s), std::move(tls), weak_from_this(),
                                            target);
  stream_->begin();
}

void websocket_client::redirected(const url& from, const std::string& location) {
  stream_.reset();
  std::string why;
  auto next = resolve_redirect(from, location, &why);
  if (!next)
    return attempt_failed(make_error_code(errc::bad_url),
                          from.to_string() + " redirected to '" + location + "': " + why);
  if (++redirects_ > options_.max_redirects)
    return attempt_failed(
        make_error_code(errc::too_many_redirects),
        from.to_string() + ": more than " + std::to_string(options_.max_redirects) + " redirects");
  SB_LOG(debug, "client: %s redirects to %s", from.to_string().c_str(), next->to_string().c_str());
  dial_target(*next);
}

void websocket_client::attempt_failed(const std::error_code& ec, const std::string& what) {
  stream_.reset();
  ++failures_;
  const bool retry =
      options_.reconnect.enabled && !user_closed_ &&
      (options_.reconnect.max_attempts == 0 || failures_ < options_.reconnect.max_attempts);
  SB_LOG(debug, "client: attempt %u failed: %s", failures_, what.c_str());
  if (events_.on_error) events_.on_error(ec, what, !retry);
  if (retry) return schedule_reconnect();
  set_state(state::stopped);
}

void websocket_client::opened(connect_info info) {
  info.reconnected = ever_opened_;
  info.attempt = failures_ + 1;
  ever_opened_ = true;
  failures_ = 0;
  set_state(state::open);
  if (events_.on_connect) events_.on_connect(info);
}

void websocket_client::stream_closed(std::uint16_t code, std::string_view reason) {
  const auto keep = std::move(closing_self_);  // released when this returns
  stream_.reset();
  if (events_.on_disconnect) events_.on_disconnect(code, reason);
  if (options_.reconnect.enabled && !user_closed_) return schedule_reconnect();
  set_state(state::stopped);
}

void websocket_client::schedule_reconnect() {
  set_state(state::waiting);
  const reconnect_options& r = options_.reconnect;
  // Exponential backoff from the failures in a row, with +-20% jitter.
  std::uint64_t delay = r.initial_delay_ms;
  for (unsigned i = 1; i < failures_ && delay < r.max_delay_ms; ++i)
    delay *= 2;
  delay = std::min<std::uint64_t>(delay, r.max_delay_ms);
  thread_local std::minstd_rand jitter{std::random_device{}()};
  delay = delay * (80 + jitter() % 41) / 100;
  retry_timer_.expires_after(std::chrono::milliseconds(delay));
  const std::uint64_t generation = generation_;
  retry_timer_.async_wait([self = shared_from_this(), generation](const std::error_code& ec) {
    if (ec || generation != self->generation_ || self->user_closed_) return;
    self->attempt();
  });
}

bool websocket_client::send(ws::opcode op, std::string_view payload, std::size_t fragment_size) {
  if (!is_open()) return false;
  if (home_.is_current()) {
    return stream_ && stream_->send_message(op, payload, fragment_size) == send_status::queued;
  }
  home_.post([self = shared_from_this(), op, fragment_size, data = std::string(payload)] {
    if (self->stream_) self->stream_->send_message(op, data, fragment_size);
  });
  return true;
}

std::size_t websocket_client::queued_bytes() const noexcept {
  return stream_ ? stream_->queued_bytes() : 0;
}

bool websocket_client::ping(std::string_view payload) {
  if (!is_open() || payload.size() > ws::max_control_payload) return false;
  home_.post([self = shared_from_this(), data = std::string(payload)] {
    if (self->stream_) self->stream_->send_control(ws::opcode::ping, data);
  });
  return true;
}

void websocket_client::close(std::uint16_t code, std::string reason) {
  home_.post([self = shared_from_this(), code, reason] {
    self->user_closed_ = true;
    ++self->generation_;
    self->retry_timer_.cancel();
    if (!self->stream_) return self->set_state(state::stopped);
    if (self->stream_->is_websocket()) {
      self->set_state(state::closing);
      self->closing_self_ = self;                // alive until the close is reported, owner or not
      self->stream_->start_close(code, reason);  // stream_closed() follows
    } else {
      auto stream = std::move(self->stream_);  // an attempt in its handshake: drop it
      stream->cancel();
      self->set_state(state::stopped);
    }
  });
}

// --- blocking_client ----------------------------------------------------------------------

blocking_client::blocking_client(client_options options) {
  options.reconnect.enabled = false;  // a blocking caller decides itself when to retry
  client_events ev;
  ev.on_connect = [this](const connect_info& info) {
    std::lock_guard<std::mutex> lock(mutex_);
    connected_ = true;
    info_ = info;
    changed_.notify_all();
  };
  ev.on_message = [this](ws::opcode op, std::string_view payload) {
    std::lock_guard<std::mutex> lock(mutex_);
    inbox_.push_back(message{op, std::string(payload)});
    changed_.notify_all();
  };
  ev.on_disconnect = [this](std::uint16_t code, std::string_view reason) {
    std::lock_guard<std::mutex> lock(mutex_);
    ended_ = true;
    close_code_ = code;
    close_reason_ = std::string(reason);
    changed_.notify_all();
  };
  ev.on_error = [this](const std::error_code& ec, const std::string& what, bool) {
    std::lock_guard<std::mutex> lock(mutex_);
    ended_ = true;
    error_ = ec;
    what_ = what;
    changed_.notify_all();
  };
  pool_.start();
  client_ = websocket_client::make(pool_, std::move(options), std::move(ev));
}

blocking_client::~blocking_client() {
  close();
  pool_.stop();
  pool_.join();
  pool_.abort_all(make_error_code(errc::shutting_down));
}

std::error_code blocking_client::connect() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    connected_ = ended_ = false;
    error_.clear();
    what_.clear();
  }
  client_->connect();
  std::unique_lock<std::mutex> lock(mutex_);
  // The client bounds the attempt with connect_timeout_ms; this wait is a safety net above it.
  const auto limit = std::chrono::milliseconds(client_->options().connect_timeout_ms + 5000);
  if (!changed_.wait_for(lock, limit, [this] { return connected_ || ended_; })) {
    what_ = "no answer from the io thread";
    return make_error_code(errc::timed_out);
  }
  return connected_ ? std::error_code{} : error_;
}

std::optional<blocking_client::message> blocking_client::receive(
    std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait_for(lock, timeout, [this] { return !inbox_.empty() || ended_; });
  if (inbox_.empty()) return std::nullopt;
  message m = std::move(inbox_.front());
  inbox_.pop_front();
  return m;
}

void blocking_client::close(std::uint16_t code, std::string reason) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!connected_ || ended_) {
      client_->close(code, std::move(reason));
      return;
    }
  }
  client_->close(code, std::move(reason));
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait_for(lock, std::chrono::milliseconds(client_->options().close_timeout_ms + 1000),
                    [this] { return ended_; });
}

std::uint16_t blocking_client::close_code() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return close_code_;
}

std::string blocking_client::close_reason() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return close_reason_;
}

}  // namespace switchboard::runtime
