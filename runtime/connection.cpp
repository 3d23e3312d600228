#include "runtime/connection.hpp"

#include "runtime/auth/authenticator.hpp"
#include "runtime/error.hpp"
#include "runtime/http/sniff.hpp"
#include "runtime/http/static_files.hpp"
#include "runtime/log.hpp"
#include "runtime/server.hpp"
#include "runtime/websocket/handshake.hpp"

#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <sys/uio.h>
#include <unistd.h>

#include <ctime>
#include <optional>

namespace switchboard::runtime {

namespace http = boost::beast::http;
namespace ws = websocket;

namespace {

constexpr std::size_t file_chunk = 64 * 1024;          // bytes read from a file at a time
constexpr std::size_t file_queue_target = 256 * 1024;  // keep this much of a file queued

std::string_view view(boost::beast::string_view s) {
  return {s.data(), s.size()};
}

std::string http_date(std::time_t t) {
  char buf[64];
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

bool path_matches(const std::string& pattern, std::string_view path) {
  if (!pattern.empty() && pattern.back() == '*') {
    const std::string_view prefix(pattern.data(), pattern.size() - 1);
    return path.substr(0, prefix.size()) == prefix;
  }
  return path == pattern;
}

}  // namespace

// State that exists only while the connection speaks HTTP (freed at the upgrade).
struct connection::http_state {
  std::optional<http::request_parser<http::string_body>> parser;
  std::string input;               // received bytes not yet parsed
  std::uint32_t request_tick = 0;  // when the current request's first byte arrived
  bool in_request = false;         // part of a request has arrived
  bool sniffed = false;            // the first bytes were seen to be HTTP (plain TCP enabled)
  // A file being streamed as a response body.
  open_file file;
  std::uint64_t file_offset = 0;
  std::uint64_t file_left = 0;
  bool keep_alive_after_file = false;
};

shared_buffer make_frame(ws::opcode op, std::string_view payload) {
  std::uint8_t header[ws::max_frame_header];
  const std::size_t n = ws::encode_header(header, op, true, payload.size());
  auto frame = std::make_shared<std::string>();
  frame->reserve(n + payload.size());
  frame->append(reinterpret_cast<const char*>(header), n);
  frame->append(payload);
  return frame;
}

connection::connection(server& owner, worker& home, tcp_socket socket, transport_limits limits,
                       const tls_context* tls)
    : websocket_stream(home, std::move(socket), limits, tls),
      owner_(owner),
      id_(owner.next_id()),
      http_(std::make_unique<http_state>()) {}

connection::~connection() = default;

void connection::run_on_home(std::function<void(connection&)> fn) {
  if (home().is_current()) return fn(*this);
  home().post([self = std::static_pointer_cast<connection>(shared_from_this()),
               fn = std::move(fn)] { fn(*self); });
}

// --- Sending ------------------------------------------------------------------------------

void connection::send_text(std::string_view text) {
  if (home().is_current()) return void(send_now(ws::opcode::text, text));
  send_frame(make_frame(ws::opcode::text, text));
}

void connection::send_binary(std::string_view data) {
  if (home().is_current()) return void(send_now(ws::opcode::binary, data));
  send_frame(make_frame(ws::opcode::binary, data));
}

void connection::send_frame(shared_buffer frame) {
  run_on_home([frame = std::move(frame)](connection& c) { c.deliver(frame); });
}

send_status connection::send_now(ws::opcode op, std::string_view payload) {
  if (phase_ != phase::plain_tcp) return send_message(op, payload);
  const std::string_view parts[2] = {payload, owner_.options().plain_tcp_terminator};
  const send_status s = send_parts(parts, 2);
  if (s == send_status::queued) home().stats.messages_out.add();
  return s;
}

send_status connection::send_stream(const shared_buffer& bytes) {
  if (!home().is_current()) {
    run_on_home([bytes](connection& c) { c.send_stream(bytes); });
    return send_status::queued;
  }
  if (phase_ != phase::stream && phase_ != phase::tunnel) return send_status::dropped;
  const send_status s = send(bytes);
  if (s == send_status::queued) home().stats.messages_out.add();
  return s;
}

send_status connection::deliver(const shared_buffer& frame) {
  if (phase_ == phase::stream || phase_ == phase::tunnel)
    return send_status::dropped;  // not a frame's place
  // Plain TCP has no frames: it sends the payload (a copy per connection, unlike WebSocket).
  if (phase_ == phase::plain_tcp)
    return send_now(ws::opcode::binary, ws::unmasked_frame_payload(*frame));
  return send_shared(frame);
}

void connection::close(std::uint16_t code, std::string reason) {
  run_on_home([code, reason = std::move(reason)](connection& c) {
    if (c.phase_ == phase::http || c.phase_ == phase::plain_tcp || c.phase_ == phase::tunnel)
      return c.close_gracefully(c.owner_.options().close_timeout_ms);
    c.start_close(code, reason);
  });
}

// --- Events from the transport ------------------------------------------------------------

void connection::on_data(std::uint8_t* data, std::size_t size) {
  if (phase_ == phase::http)
    http_data(data, size);
  else if (phase_ == phase::websocket)
    websocket_data(data, size);
  else if (phase_ == phase::plain_tcp)
    plain_tcp_data(data, size);
  else if (phase_ == phase::tunnel)
    tunnel_handler_->on_tunnel_data(std::static_pointer_cast<connection>(shared_from_this()),
                                    {reinterpret_cast<const char*>(data), size});
  // A streaming response's client has nothing to say: what it sends is ignored.
}

void connection::on_closed(const std::error_code& ec) {
  owner_.release(remote().address());  // the connection caps' slot (server::admit)
  websocket_closed(ec);
  if (phase_ == phase::stream && is_open()) {
    mark_open(false);
    owner_.unregister_connection(id_);
    stream_handler_->on_close(std::static_pointer_cast<connection>(shared_from_this()));
  }
  if (phase_ == phase::tunnel && is_open()) {
    mark_open(false);
    owner_.unregister_connection(id_);
    tunnel_handler_->on_tunnel_close(std::static_pointer_cast<connection>(shared_from_this()));
  }
  if (phase_ == phase::plain_tcp && is_open()) {
    // No close frame in plain TCP: 1005 for the peer's clean end, 1006 for anything else.
    mark_open(false);
    owner_.unregister_connection(id_);
    handler_->on_close(
        std::static_pointer_cast<connection>(shared_from_this()),
        ec == errc::eof || !ec ? ws::close_code::no_status : ws::close_code::abnormal,
        ec == errc::eof ? std::string_view{} : ec.message());
  }
  phase_ = phase::closed;
  http_.reset();
}

void connection::on_slow_consumer() {
  if (phase_ != phase::websocket) return abort(make_error_code(errc::slow_consumer));
  websocket_slow_consumer();
}

void connection::on_drained() {
  if (phase_ == phase::http && http_ && http_->file_left > 0) pump_file();
}

void connection::on_tick(std::uint32_t now) {
  if (phase_ == phase::websocket) return websocket_tick(now);
  if (phase_ == phase::stream) {
    // A comment line every 15 s keeps proxies from timing the stream out (SSE: ":\n").
    constexpr std::uint32_t keep_alive_ticks = 15000 / worker::tick_ms;
    if (!is_closing() && now != stream_tick_ && (now - stream_tick_) % keep_alive_ticks == 0)
      send_copy(":\n\n", 3);
    return;
  }
  if (phase_ == phase::plain_tcp) {
    const std::uint32_t idle = owner_.options().idle_timeout_ms;
    if (idle && !is_closing() && ticks_since_read() * worker::tick_ms >= idle)
      close_gracefully(owner_.options().close_timeout_ms);
    return;
  }
  if (phase_ != phase::http || !http_ || is_closing()) return;
  const server_options& o = owner_.options();
  if (http_->in_request && o.handshake_timeout_ms &&
      static_cast<std::uint64_t>(now - http_->request_tick) * worker::tick_ms >=
          o.handshake_timeout_ms)
    return respond_error(408, "request head not received in time");
  if (!http_->in_request && http_->file_left == 0 && o.keep_alive_timeout_ms &&
      ticks_since_read() * worker::tick_ms >= o.keep_alive_timeout_ms)
    close_gracefully(o.close_timeout_ms);
}

// --- HTTP phase ---------------------------------------------------------------------------

void connection::http_data(const std::uint8_t* data, std::size_t size) {
  http_state& h = *http_;
  if (!h.in_request && size > 0) {
    h.in_request = true;
    h.request_tick = home().now_tick();
  }
  h.input.append(reinterpret_cast<const char*>(data), size);
  if (!h.sniffed && !owner_.options().plain_tcp_route.empty()) {
    const auto kind = sniff(reinterpret_cast<const std::uint8_t*>(h.input.data()), h.input.size());
    if (kind == sniff_result::need_more) return;
    h.sniffed = true;
    if (kind == sniff_result::plain_tcp) return start_plain_tcp();
  }
  if (h.file_left > 0) {
    // A response body is still streaming: hold pipelined requests, within bounds.
    if (h.input.size() > owner_.options().max_header_size + owner_.options().max_body_size) abort();
    return;
  }
  const server_options& o = owner_.options();
  while (!h.input.empty() && !is_closing()) {
    if (!h.parser) {
      h.parser.emplace();
      h.parser->header_limit(static_cast<std::uint32_t>(o.max_header_size));
      h.parser->body_limit(o.max_body_size);
      h.parser->eager(true);
    }
    if (!h.parser->is_header_done()) {
      // The whole head (request line and fields) must fit max_header_size; Beast's
      // header_limit does not count the request line.
      const std::size_t end = h.input.find("\r\n\r\n");
      const std::size_t head = end == std::string::npos ? h.input.size() : end + 4;
      if (head > o.max_header_size) return respond_error(431, "request header fields too large");
    }
    boost::beast::error_code ec;
    const std::size_t used = h.parser->put(boost::asio::buffer(h.input), ec);
    h.input.erase(0, used);
    if (ec == http::error::need_more) {
      if (used == 0) return;  // wait for more bytes
      continue;
    }
    if (ec == http::error::header_limit)
      return respond_error(431, "request header fields too large");
    if (ec == http::error::body_limit) return respond_error(413, "request body too large");
    if (ec) return respond_error(400, "malformed request: " + ec.message());
    if (!h.parser->is_done()) continue;
    if (!handle_request()) return;  // upgraded, or closing: http_ may be gone
    h.parser.reset();
    h.in_request = !h.input.empty();
    h.request_tick = home().now_tick();
  }
}

bool connection::handle_request() {
  http_state& h = *http_;
  const auto& req = h.parser->get();
  home().stats.http_requests.add();

  http_request r;
  r.method = view(req.method_string());
  r.target = view(req.target());
  const auto q = r.target.find('?');
  r.path = r.target.substr(0, q);
  if (q != std::string_view::npos) r.query = r.target.substr(q + 1);
  r.version = req.version();
  r.body = req.body();
  r.remote = remote();
  r.native = &req;
  const bool keep_alive = req.keep_alive();

  ws::handshake_request hs;
  hs.method = r.method;
  hs.version = r.version;
  hs.host = r.header("Host");
  hs.upgrade = r.header("Upgrade");
  hs.connection = r.header("Connection");
  hs.key = r.header("Sec-WebSocket-Key");
  hs.websocket_version = r.header("Sec-WebSocket-Version");
  hs.protocols = r.header("Sec-WebSocket-Protocol");
  hs.extensions = r.header("Sec-WebSocket-Extensions");
  hs.origin = r.header("Origin");
  hs.has_hixie_keys = !r.header("Sec-WebSocket-Key1").empty();
  hs.key_count = static_cast<unsigned>(req.count(http::field::sec_websocket_key));

  const auth::chain* authenticator = owner_.authenticator();
  const auto authenticate = [&] {
    const std::string peer = r.remote.address().to_string() + ":" + std::to_string(r.remote.port());
    return authenticator->authenticate(
        {r.path, r.header("Authorization"), peer, std::chrono::system_clock::now()});
  };
  if (authenticator && auth::is_session_request(r.path)) {
    // The manual's session form, step 1: GET /sgc/req/auth/session/<user>/<password>.
    auth::auth_result a = authenticate();
    if (a.decision != auth::decision::token_issued) {
      respond_error(auth::status_for(a.decision), a.reason, std::move(a.headers));
      return false;
    }
    respond(200, "text/plain; charset=utf-8", std::move(a.body), keep_alive, std::move(a.headers));
    return keep_alive;
  }

  const auto* route = owner_.find_websocket_route(r.path);
  // An upgrade attempt: Upgrade: websocket, or a WebSocket key sent to a WebSocket route.
  if (ws::is_upgrade(hs) || (route && (!hs.key.empty() || hs.has_hixie_keys))) {
    if (const std::error_code ec = ws::check_request(hs, owner_.options().allowed_origins)) {
      std::vector<std::pair<std::string, std::string>> extra;
      if (ec == ws::handshake_errc::unsupported_version)
        extra.emplace_back("Sec-WebSocket-Version", "13");
      respond_error(ws::status_for(static_cast<ws::handshake_errc>(ec.value())), ec.message(),
                    std::move(extra));
      return false;
    }
    if (authenticator) {
      auth::auth_result a = authenticate();
      if (a.decision != auth::decision::allowed) {
        respond_error(auth::status_for(a.decision), a.reason, std::move(a.headers));
        return false;
      }
      // The URL and session forms carry credentials in the path: route what follows them.
      route = owner_.find_websocket_route(a.route_path);
      user_ = std::move(a.user);
    }
    if (!route) {
      if (const auto* ur = owner_.find_upgrade_route(r.path)) {
        start_tunnel(ur->handler, r);
        return false;  // answered, or a tunnel now: no more HTTP either way
      }
      respond_error(404, "no WebSocket endpoint at this path");
      return false;
    }
    return upgrade(route->handler, route->select);
  }

  if (r.method == "GET") {
    if (const auto* sr = owner_.find_stream_route(r.path)) {
      if (start_stream(sr->handler, r, keep_alive)) return false;
      return keep_alive && !is_closing();
    }
  }
  for (const auto& http_route : owner_.http_routes()) {
    if (!path_matches(http_route.path, r.path)) continue;
    http_response response;
    if (!http_route.handler(r, response)) continue;
    const bool head = r.method == "HEAD";
    std::string head_text = serialize_head(response.status, response.content_type,
                                           response.body.size(), keep_alive, response.headers);
    if (!head) head_text += response.body;
    send_copy(head_text.data(), head_text.size());
    if (!keep_alive) close_gracefully(owner_.options().close_timeout_ms);
    return keep_alive;
  }

  // A path that only a WebSocket route serves (not a wildcard one) asks for an upgrade.
  if (route && !route->path.empty() && route->path.back() != '*') {
    respond_error(426, "this path speaks WebSocket only", {{"Upgrade", "websocket"}});
    return false;
  }
  if (owner_.files() && (r.method == "GET" || r.method == "HEAD"))
    return serve_file(keep_alive, r.method == "HEAD");
  if (owner_.files() && !r.method.empty()) {
    respond_error(405, "method not allowed", {{"Allow", "GET, HEAD"}});
    return false;
  }
  respond(404, "text/plain; charset=utf-8", "not found\n", keep_alive);
  return keep_alive;
}

void connection::respond(unsigned status, std::string_view content_type, std::string body,
                         bool keep_alive,
                         std::vector<std::pair<std::string, std::string>> headers) {
  std::string text = serialize_head(status, content_type, body.size(), keep_alive, headers);
  text += body;
  send_copy(text.data(), text.size(), /*control=*/true);
  if (!keep_alive) close_gracefully(owner_.options().close_timeout_ms);
}

void connection::respond_error(unsigned status, std::string_view why,
                               std::vector<std::pair<std::string, std::string>> headers) {
  SB_LOG(debug, "connection %llu: HTTP %u: %.*s", static_cast<unsigned long long>(id_), status,
         static_cast<int>(why.size()), why.data());
  std::string body(why);
  body.push_back('\n');
  respond(status, "text/plain; charset=utf-8", std::move(body), false, std::move(headers));
}

bool connection::serve_file(bool keep_alive, bool head_only) {
  http_state& h = *http_;
  const auto& req = h.parser->get();
  const std::string_view target = view(req.target());
  const std::string_view path = target.substr(0, target.find('?'));
  open_file file;
  const unsigned status = owner_.files()->open(path, file);
  if (status != 200) {
    respond(status, "text/plain; charset=utf-8", status == 403 ? "forbidden\n" : "not found\n",
            keep_alive);
    return keep_alive;
  }
  std::vector<std::pair<std::string, std::string>> headers{{"Accept-Ranges", "bytes"},
                                                           {"Last-Modified", http_date(file.mtime)},
                                                           {"Cache-Control", "no-cache"}};
  std::uint64_t first = 0, length = file.size;
  unsigned code = 200;
  const auto range_header = req.find(http::field::range);
  if (range_header != req.end()) {
    const byte_range range = parse_range(view(range_header->value()), file.size);
    if (range.kind == byte_range::unsatisfiable) {
      respond(416, "text/plain; charset=utf-8", "range not satisfiable\n", keep_alive,
              {{"Content-Range", "bytes */" + std::to_string(file.size)}});
      return keep_alive;
    }
    if (range.kind == byte_range::partial) {
      code = 206;
      first = range.first;
      length = range.last - range.first + 1;
      headers.emplace_back("Content-Range", "bytes " + std::to_string(range.first) + "-" +
                                                std::to_string(range.last) + "/" +
                                                std::to_string(file.size));
    }
  }
  const std::string head = serialize_head(code, file.content_type, length, keep_alive, headers);
  send_copy(head.data(), head.size(), /*control=*/true);
  if (head_only || length == 0) {
    if (!keep_alive) close_gracefully(owner_.options().close_timeout_ms);
    return keep_alive;
  }
  h.file = std::move(file);
  h.file_offset = first;
  h.file_left = length;
  h.keep_alive_after_file = keep_alive;
  h.parser.reset();
  pump_file();
  return false;  // parsing resumes when the body has left (pump_file)
}

void connection::pump_file() {
  http_state& h = *http_;
  while (h.file_left > 0 && queued_bytes() < file_queue_target && !is_closing()) {
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(h.file_left, file_chunk));
    auto piece = std::make_shared<std::string>(want, '\0');
    const ssize_t n = ::pread(h.file.fd, piece->data(), want, static_cast<off_t>(h.file_offset));
    if (n <= 0) return abort();  // the file shrank or failed: the length we sent is a lie now
    piece->resize(static_cast<std::size_t>(n));
    h.file_offset += static_cast<std::uint64_t>(n);
    h.file_left -= static_cast<std::uint64_t>(n);
    // Paced here (at most file_queue_target waiting), so not subject to the slow-consumer limit.
    if (send(std::move(piece), /*control=*/true) != send_status::queued) return abort();
  }
  if (h.file_left > 0 || is_closing()) return;
  h.file = open_file{};
  if (!h.keep_alive_after_file) return close_gracefully(owner_.options().close_timeout_ms);
  // Serve requests that arrived while the body was streaming.
  h.in_request = false;
  if (!h.input.empty()) http_data(nullptr, 0);
}

bool connection::upgrade(websocket_handler* handler, const subprotocol_selector& select) {
  http_state& h = *http_;
  const auto& req = h.parser->get();
  const auto field = [&req](std::string_view name) {
    const auto it = req.find(boost::beast::string_view(name.data(), name.size()));
    return it == req.end() ? std::string_view{} : view(it->value());
  };
  // A list header may be split over several lines (RFC 6455 section 9.1, RFC 7230 3.2.2).
  const auto list_field = [&req](std::string_view name) {
    std::string joined;
    const auto range = req.equal_range(boost::beast::string_view(name.data(), name.size()));
    for (auto it = range.first; it != range.second; ++it) {
      if (!joined.empty()) joined += ", ";
      joined += view(it->value());
    }
    return joined;
  };
  std::string response =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: " +
      ws::accept_key(field("Sec-WebSocket-Key")) + "\r\n";
  const server_options& o = owner_.options();
  std::optional<ws::deflate_params> deflate;
  if (o.permessage_deflate) {
    const std::string offers = list_field("Sec-WebSocket-Extensions");
    if (!offers.empty()) deflate = ws::negotiate_server(offers, o.deflate);
    if (deflate) response += "Sec-WebSocket-Extensions: " + ws::format_response(*deflate) + "\r\n";
  }
  if (select) {
    const std::string protocols = list_field("Sec-WebSocket-Protocol");
    const auto offered = ws::split_list(protocols);
    std::string chosen = select(offered);
    bool was_offered = false;
    for (auto offer : offered)
      was_offered = was_offered || offer == chosen;
    if (!chosen.empty() && was_offered) {
      response += "Sec-WebSocket-Protocol: " + chosen + "\r\n";
      subprotocol_ = std::move(chosen);
    }
  }
  response += "\r\n";
  send_copy(response.data(), response.size(), /*control=*/true);

  target_ = std::string(view(req.target()));
  std::string leftover = std::move(h.input);
  http_.reset();
  phase_ = phase::websocket;
  handler_ = handler;
  websocket_settings settings;
  settings.role = ws::role::server;
  settings.max_message_size = o.max_message_size;
  settings.deflate_min_size = o.deflate_min_size;
  settings.slow_consumer_close_code = o.slow_consumer_close_code;
  settings.heartbeat_interval_ms = o.heartbeat_interval_ms;
  settings.heartbeat_timeout_ms = o.heartbeat_timeout_ms;
  settings.idle_timeout_ms = o.idle_timeout_ms;
  settings.close_timeout_ms = o.close_timeout_ms;
  open_websocket(settings, deflate, o.deflate);
  auto self = std::static_pointer_cast<connection>(shared_from_this());
  owner_.register_connection(self);
  handler_->on_open(self);
  if (!leftover.empty() && !is_closing())
    websocket_data(reinterpret_cast<std::uint8_t*>(leftover.data()), leftover.size());
  return false;
}

// --- Streaming response phase -------------------------------------------------------------

bool connection::start_tunnel(upgrade_handler* handler, const http_request& r) {
  const auto self = std::static_pointer_cast<connection>(shared_from_this());
  http_response response;
  if (!handler->on_upgrade(self, r, response)) {
    respond(response.status, response.content_type, std::move(response.body), false,
            std::move(response.headers));
    return false;
  }
  // The head as received (Beast keeps the fields in order), then what followed it.
  const auto& req = *static_cast<const http::request<http::string_body>*>(r.native);
  std::string head = std::string(r.method) + " " + std::string(r.target) + " HTTP/1.1\r\n";
  for (const auto& field : req)
    head +=
        std::string(view(field.name_string())) + ": " + std::string(view(field.value())) + "\r\n";
  head += "\r\n";
  std::string rest = std::move(http_->input);
  http_.reset();
  phase_ = phase::tunnel;
  tunnel_handler_ = handler;
  mark_open(true);
  owner_.register_connection(self);
  handler->on_tunnel_data(self, head);
  if (!rest.empty() && phase_ == phase::tunnel) handler->on_tunnel_data(self, rest);
  return true;
}

bool connection::start_stream(stream_handler* handler, const http_request& r, bool keep_alive) {
  const auto self = std::static_pointer_cast<connection>(shared_from_this());
  http_response response;
  response.content_type = "text/event-stream";
  if (!handler->on_request(self, r, response)) {
    respond(response.status, response.content_type, std::move(response.body), keep_alive,
            std::move(response.headers));
    return false;
  }
  // No length and no chunking: the body is everything until the connection closes.
  std::string head = "HTTP/1.1 " + std::to_string(response.status) + " " +
                     std::string(reason_phrase(response.status)) +
                     "\r\nContent-Type: " + response.content_type +
                     "\r\nCache-Control: no-cache\r\nConnection: close\r\n";
  for (const auto& [name, value] : response.headers)
    head += name + ": " + value + "\r\n";
  head += "\r\n";
  send_copy(head.data(), head.size(), /*control=*/true);
  http_.reset();
  phase_ = phase::stream;
  stream_handler_ = handler;
  stream_tick_ = home().now_tick();
  mark_open(true);
  owner_.register_connection(self);
  return true;
}

// --- Plain TCP phase ----------------------------------------------------------------------

void connection::start_plain_tcp() {
  const auto* route = owner_.find_websocket_route(owner_.options().plain_tcp_route);
  if (!route) return abort();  // server::start checked it exists
  std::string input = std::move(http_->input);
  http_.reset();
  phase_ = phase::plain_tcp;
  handler_ = route->handler;
  target_ = owner_.options().plain_tcp_route;
  mark_open(true);
  auto self = std::static_pointer_cast<connection>(shared_from_this());
  owner_.register_connection(self);
  handler_->on_open(self);
  if (!is_closing())
    plain_tcp_data(reinterpret_cast<const std::uint8_t*>(input.data()), input.size());
}

void connection::plain_tcp_data(const std::uint8_t* data, std::size_t size) {
  auto self = std::static_pointer_cast<connection>(shared_from_this());
  const std::string_view terminator = owner_.options().plain_tcp_terminator;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  if (terminator.empty()) {  // every read is a message
    home().stats.messages_in.add();
    return handler_->on_message(self, ws::opcode::binary, in);
  }
  // Messages whole in this read are handed out in place; only a partial one is copied.
  std::string_view rest = in;
  std::size_t scan_from = 0;
  if (plain_input_) {
    std::string& held = *plain_input_;
    scan_from = held.size() >= terminator.size() ? held.size() - terminator.size() + 1 : 0;
    held.append(in);
    rest = held;
  }
  std::size_t start = 0;
  for (;;) {
    const std::size_t end = rest.find(terminator, std::max(start, scan_from));
    if (end == std::string_view::npos || !is_open() || is_closing()) break;
    home().stats.messages_in.add();
    handler_->on_message(self, ws::opcode::binary, rest.substr(start, end - start));
    start = end + terminator.size();
  }
  std::string left(rest.substr(start));
  if (left.size() > owner_.options().max_message_size) {
    SB_LOG(debug, "connection %llu: plain TCP message over %zu bytes without a terminator",
           static_cast<unsigned long long>(id_), owner_.options().max_message_size);
    home().stats.protocol_errors.add();
    return abort();
  }
  if (left.empty())
    plain_input_.reset();
  else if (plain_input_)
    *plain_input_ = std::move(left);
  else
    plain_input_ = std::make_unique<std::string>(std::move(left));
}

// --- WebSocket phase ----------------------------------------------------------------------

void connection::on_ws_message(ws::opcode op, std::string_view payload) {
  handler_->on_message(std::static_pointer_cast<connection>(shared_from_this()), op, payload);
}

void connection::on_ws_closed(std::uint16_t code, std::string_view reason) {
  owner_.unregister_connection(id_);
  if (handler_)
    handler_->on_close(std::static_pointer_cast<connection>(shared_from_this()), code, reason);
}

std::string connection::log_name() const {
  return "connection " + std::to_string(id_);
}

}  // namespace switchboard::runtime
