// http_handshake.cpp: libFuzzer target for the WebSocket opening handshake as the server
// runs it: Boost.Beast's request parser, then runtime/websocket/handshake.hpp.
//
// Input layout:
//   byte 0      bits 0-6: chunk size in which the request reaches the parser (0: all at once),
//               bit 7: check the Origin against an allow list as well.
//   then        the request bytes.
//
// The bytes go to http::request_parser<http::empty_body> (header_limit 8 KiB) through put(),
// the way a read loop does: what put() did not consume is kept and offered again with the next
// chunk. When the header is complete, a handshake_request is filled with views of the parsed
// fields (method, version, Host, Upgrade, Connection, Sec-WebSocket-Key, -Version, -Protocol,
// -Extensions, Origin, Key1/Key2 presence, the number of Sec-WebSocket-Key fields; repeated
// -Protocol/-Extensions fields merged with ", " as RFC 7230 section 3.2.2 allows) and handed to
// check_request, accept_key, split_list and list_contains. Invariants (a violation is
// __builtin_trap):
//   - check_request returns nothing or a handshake_errc whose status is 400, 403 or 426; the
//     allow list can only add origin_not_allowed; an accepted request has GET, HTTP/1.1+, a
//     Host, exactly one 24-character key, and is_upgrade();
//   - accept_key gives 28 base64 characters ending in '=', for any key, and ignores the
//     whitespace around it;
//   - split_list elements are non-empty, trimmed, comma-free views into the list, each found
//     again by list_contains.
//
// Beast is compiled header-only here (run.sh does not define BOOST_BEAST_SEPARATE_COMPILATION).
#include "runtime/websocket/handshake.hpp"

#include <boost/beast/http.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ws = switchboard::runtime::websocket;
namespace http = boost::beast::http;

#define FUZZ_CHECK(condition)           \
  do {                                  \
    if (!(condition)) __builtin_trap(); \
  } while (0)

namespace {

constexpr std::size_t header_limit = 8 * 1024;

std::string_view view(boost::beast::string_view s) {
  return {s.data(), s.size()};
}

bool is_base64(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// All values of a field joined with ", " (RFC 7230 section 3.2.2), or the only one.
std::string merged(const http::request<http::empty_body>& req, http::field f) {
  std::string out;
  for (auto range = req.equal_range(f); range.first != range.second; ++range.first) {
    if (!out.empty()) out += ", ";
    out.append(range.first->value().data(), range.first->value().size());
  }
  return out;
}

void check_list(std::string_view list) {
  const std::vector<std::string_view> items = ws::split_list(list);
  std::size_t commas = 0;
  for (char c : list)
    commas += c == ',';
  FUZZ_CHECK(items.size() <= commas + 1);
  for (const std::string_view item : items) {
    FUZZ_CHECK(!item.empty());
    FUZZ_CHECK(item.data() >= list.data() &&
               item.data() + item.size() <= list.data() + list.size());
    FUZZ_CHECK(item.find(',') == std::string_view::npos);
    FUZZ_CHECK(trim(item).size() == item.size());
    FUZZ_CHECK(ws::iequals(item, item));
    FUZZ_CHECK(ws::list_contains(list, item));
  }
}

void check_accept_key(std::string_view key) {
  const std::string accept = ws::accept_key(key);
  FUZZ_CHECK(accept.size() == 28 && accept.back() == '=');
  for (std::size_t i = 0; i < 27; ++i)
    FUZZ_CHECK(is_base64(accept[i]));
  FUZZ_CHECK(accept == ws::accept_key(trim(key)));
}

void check_handshake(const http::request<http::empty_body>& req, bool use_allow_list) {
  const std::string protocols = merged(req, http::field::sec_websocket_protocol);
  const std::string extensions = merged(req, http::field::sec_websocket_extensions);

  ws::handshake_request r;
  r.method = view(req.method_string());
  r.version = req.version();
  r.host = view(req[http::field::host]);
  r.upgrade = view(req[http::field::upgrade]);
  r.connection = view(req[http::field::connection]);
  r.key = view(req[http::field::sec_websocket_key]);
  r.websocket_version = view(req[http::field::sec_websocket_version]);
  r.protocols = protocols;
  r.extensions = extensions;
  r.origin = view(req[http::field::origin]);
  r.has_hixie_keys =
      req.find("Sec-WebSocket-Key1") != req.end() || req.find("Sec-WebSocket-Key2") != req.end();
  r.key_count = static_cast<unsigned>(req.count(http::field::sec_websocket_key));

  static const std::vector<std::string> allowed = {"http://example.com", "https://app.example.com"};
  static const std::vector<std::string> any;
  const std::error_code ec = ws::check_request(r);
  const std::error_code ec_origin = ws::check_request(r, use_allow_list ? allowed : any);
  for (const std::error_code& e : {ec, ec_origin}) {
    if (!e) continue;
    FUZZ_CHECK(&e.category() == &ws::handshake_category());
    const unsigned status = ws::status_for(static_cast<ws::handshake_errc>(e.value()));
    FUZZ_CHECK(status == 400 || status == 403 || status == 426);
    FUZZ_CHECK(!e.message().empty());
  }
  if (ec) {
    FUZZ_CHECK(ec_origin == ec);
  } else {
    FUZZ_CHECK(!ec_origin || ec_origin == ws::handshake_errc::origin_not_allowed);
    FUZZ_CHECK(r.method == "GET" && r.version >= 11 && !r.host.empty());
    FUZZ_CHECK(ws::is_upgrade(r));
    FUZZ_CHECK(trim(r.key).size() == 24 && r.key_count == 1);
  }
  FUZZ_CHECK(ws::is_upgrade(r) == ws::list_contains(r.upgrade, "websocket"));

  check_accept_key(r.key);
  check_list(r.protocols);
  check_list(r.extensions);
  check_list(r.connection);
  check_list(r.upgrade);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t chunk_size = (data[0] & 0x7F) == 0 ? size : (data[0] & 0x7F);
  const bool use_allow_list = (data[0] & 0x80) != 0;
  const char* p = reinterpret_cast<const char*>(data + 1);
  const char* const end = reinterpret_cast<const char*>(data + size);

  http::request_parser<http::empty_body> parser;
  parser.header_limit(header_limit);
  std::string pending;  // bytes received but not yet consumed by the parser
  while (p < end) {
    const std::size_t n = std::min<std::size_t>(chunk_size, static_cast<std::size_t>(end - p));
    pending.append(p, n);
    p += n;
    for (;;) {
      boost::beast::error_code ec;
      const std::size_t used =
          parser.put(boost::asio::const_buffer(pending.data(), pending.size()), ec);
      FUZZ_CHECK(used <= pending.size());
      pending.erase(0, used);
      if (ec == http::error::need_more) break;
      if (ec) return 0;  // a malformed request: the server answers 400 and closes
      if (parser.is_header_done()) {
        check_handshake(parser.get(), use_allow_list);
        return 0;
      }
      if (used == 0) break;
    }
  }
  return 0;
}
