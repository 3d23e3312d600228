// proxy_replies.cpp: libFuzzer target for the client side of the proxy handshakes
// (runtime/proxy.hpp): the HTTP CONNECT response parser, the SOCKS5 client state machine,
// check_target and the two request encoders. Calls only the codec: no sockets, no Asio.
//
// Input layout:
//   byte 0      bits 0-5: chunk size in which the proxy's bytes arrive (0: all at once),
//               bit 6: HTTP max_header_size 256 instead of the default 16 KiB (run.sh caps
//               inputs at 4 KiB, so the default limit is reached only this way),
//               bit 7: the SOCKS5 client has credentials (offers username/password).
//   byte 1      length L of the target host; 0 means "example.com".
//   L bytes     the target host (fewer when the input ends first).
//   the rest    the proxy's bytes, fed to both parsers.
//
// Each chunk is copied into a heap buffer of exactly its size, so ASan reports any read past
// it. The invariants checked (a violation is __builtin_trap, i.e. a crash):
//   - check_target and the socks5_client constructor agree; an accepted host gives a CONNECT
//     request of exactly "CONNECT a HTTP/1.1", "Host: a" (and "Proxy-Authorization: Basic"
//     with credentials) lines, so no host can inject a line; the SOCKS5 CONNECT request
//     carries the host's bytes (ATYP 03) or 4 or 16 address bytes;
//   - HTTP: consumed <= size; need_more consumes everything; the chunked feed gives the same
//     outcome (kind, status, reason, error, total consumed) as one feed; a done result has a
//     final status 101 or 200-599, a reason without CR, LF or other control bytes except
//     HTAB, and its header block ends with LF and is at most max_header_size bytes; errors
//     are HTTP codes of the proxy category; a finished parser repeats its outcome with
//     consumed 0;
//   - SOCKS5: one byte at a time is the reference (a lock-step proxy); a chunked feed gives
//     the same outputs and outcome, except that a chunk which continues past the end of a
//     method or auth reply fails with socks_unexpected_data at that point; outputs are
//     exactly the auth request (only with credentials and method 02) and then the CONNECT
//     request; a done result's bound address is 4 or 16 bytes, or a name of at most 255; at
//     most 2 + 2 + 262 bytes are consumed; errors are SOCKS codes of the proxy category.
#include "runtime/proxy.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace proxy = switchboard::runtime::proxy;
using proxy::errc;

#define FUZZ_CHECK(condition)           \
  do {                                  \
    if (!(condition)) __builtin_trap(); \
  } while (0)

namespace {

constexpr std::uint16_t port = 443;
constexpr std::string_view user = "user";
constexpr std::string_view password = "pass";

bool in_range(const std::error_code& ec, errc first, errc last) {
  return &ec.category() == &proxy::proxy_category() && ec.value() >= static_cast<int>(first) &&
         ec.value() <= static_cast<int>(last) && !ec.message().empty();
}

// Touches every byte of a view, so ASan checks that it is live.
unsigned touch(std::string_view v) {
  unsigned sum = 0;
  for (const char c : v)
    sum += static_cast<unsigned char>(c);
  return sum;
}

std::unique_ptr<char[]> copy(const char* data, std::size_t size) {
  std::unique_ptr<char[]> buf(new char[size == 0 ? 1 : size]);
  if (size != 0) std::memcpy(buf.get(), data, size);
  return buf;
}

// ---- Targets and requests -----------------------------------------------------------------

void check_requests(std::string_view host, bool credentials) {
  const std::error_code ec = proxy::check_target(host, port);
  const proxy::socks5_client client(host, port, credentials ? user : "",
                                    credentials ? password : "");
  FUZZ_CHECK(client.error() == ec);
  if (ec) {
    FUZZ_CHECK(ec == errc::bad_host || ec == errc::host_too_long);
    FUZZ_CHECK(client.greeting().empty());
    FUZZ_CHECK(ec != errc::host_too_long || host.size() > 255);
    return;
  }
  FUZZ_CHECK(!host.empty() && host.size() <= 255);
  FUZZ_CHECK(client.greeting().size() == (credentials ? 4u : 3u));

  const std::string request =
      proxy::http_connect_request(host, port, credentials ? user : "", credentials ? password : "");
  // Exactly the expected lines: the host cannot add one or break one.
  std::vector<std::string_view> lines;
  std::string_view rest = request;
  for (std::size_t at; (at = rest.find("\r\n")) != std::string_view::npos;) {
    lines.push_back(rest.substr(0, at));
    rest.remove_prefix(at + 2);
  }
  FUZZ_CHECK(rest.empty());
  FUZZ_CHECK(lines.size() == (credentials ? 4u : 3u));
  FUZZ_CHECK(lines.back().empty());
  const std::string_view first = lines[0];
  FUZZ_CHECK(first.substr(0, 8) == "CONNECT " && first.size() > 17);
  FUZZ_CHECK(first.substr(first.size() - 9) == " HTTP/1.1");
  const std::string_view authority = first.substr(8, first.size() - 17);
  FUZZ_CHECK(authority.find(' ') == std::string_view::npos);
  FUZZ_CHECK(authority.size() > 4 && authority.substr(authority.size() - 4) == ":443");
  FUZZ_CHECK(lines[1].substr(0, 6) == "Host: " && lines[1].substr(6) == authority);
  if (credentials) FUZZ_CHECK(lines[2] == "Proxy-Authorization: Basic dXNlcjpwYXNz");
  for (const char c : request)
    FUZZ_CHECK(c == '\r' || c == '\n' || (c > 0x20 && c < 0x7F) || c == ' ');
  const std::string_view host_part = authority.substr(0, authority.size() - 4);
  if (host_part.front() == '[') {
    FUZZ_CHECK(host_part.back() == ']');
    FUZZ_CHECK(host_part.find(':') != std::string_view::npos);
  } else {
    FUZZ_CHECK(host_part == host);
    FUZZ_CHECK(host_part.find(':') == std::string_view::npos);
  }
}

// ---- HTTP ---------------------------------------------------------------------------------

struct http_outcome {
  proxy::http_connect_result::kind_type kind = proxy::http_connect_result::need_more;
  unsigned status = 0;
  std::string reason;
  std::error_code error;
  std::size_t used = 0;
  bool operator==(const http_outcome& o) const {
    return kind == o.kind && status == o.status && reason == o.reason && error == o.error &&
           used == o.used;
  }
};

http_outcome run_http(const char* data, std::size_t size, std::size_t chunk, std::size_t limit) {
  proxy::http_connect_parser parser(limit);
  http_outcome out;
  std::size_t at = 0;
  do {
    const std::size_t n = std::min(chunk, size - at);
    const std::unique_ptr<char[]> buf = copy(data + at, n);
    const proxy::http_connect_result r = parser.feed(buf.get(), n);
    FUZZ_CHECK(r.consumed <= n);
    out.used += r.consumed;
    at += n;
    out.kind = r.kind;
    if (r.kind == proxy::http_connect_result::need_more) {
      FUZZ_CHECK(r.consumed == n && !r.error_code && r.status == 0);
      continue;
    }
    out.status = r.status;
    out.reason = std::string(r.reason);
    out.error = r.error_code;
    // A finished parser repeats its outcome and consumes nothing.
    const proxy::http_connect_result again = parser.feed(buf.get(), n);
    FUZZ_CHECK(again.kind == r.kind && again.consumed == 0 && again.status == r.status &&
               again.reason == out.reason && again.error_code == r.error_code);
    break;
  } while (at < size);
  return out;
}

void check_http(const char* data, std::size_t size, std::size_t chunk, bool small_limit) {
  const std::size_t limit = small_limit ? 256 : proxy::http_connect_parser::default_max_header_size;
  const http_outcome whole = run_http(data, size, size == 0 ? 1 : size, limit);
  const http_outcome chunked = run_http(data, size, chunk == 0 ? size + 1 : chunk, limit);
  FUZZ_CHECK(whole == chunked);
  FUZZ_CHECK(whole.used <= limit && whole.used <= size);
  switch (whole.kind) {
    case proxy::http_connect_result::need_more:
      FUZZ_CHECK(whole.used == size);
      break;
    case proxy::http_connect_result::done:
      FUZZ_CHECK(whole.status == 101 || (whole.status >= 200 && whole.status <= 599));
      for (const char c : whole.reason) {
        const auto u = static_cast<unsigned char>(c);
        FUZZ_CHECK(u == '\t' || (u >= 0x20 && u != 0x7F));
      }
      FUZZ_CHECK(whole.used >= 14 && data[whole.used - 1] == '\n');
      FUZZ_CHECK(std::string_view(data, 7) == "HTTP/1.");
      FUZZ_CHECK(!whole.error);
      break;
    case proxy::http_connect_result::error:
      FUZZ_CHECK(in_range(whole.error, errc::http_bad_status_line, errc::http_header_too_large));
      FUZZ_CHECK(whole.error != errc::http_header_too_large || whole.used == limit);
      break;
  }
}

// ---- SOCKS5 -------------------------------------------------------------------------------

struct socks_event {
  std::size_t at = 0;  // absolute input offset just after the reply that caused it
  std::string output;  // a transition: the request handed back
  bool final = false;  // done or error
  proxy::socks5_result::kind_type kind = proxy::socks5_result::need_more;
  std::error_code error;
  proxy::socks5_address::type_type bound_type = proxy::socks5_address::ipv4;
  std::string bound_address;
  std::uint16_t bound_port = 0;
};

void check_result(const proxy::socks5_result& r) {
  touch(r.output);
  if (r.kind == proxy::socks5_result::done) {
    const std::size_t n = r.bound.address.size();
    touch(r.bound.address);
    FUZZ_CHECK(r.bound.type == proxy::socks5_address::ipv4 ? n == 4
               : r.bound.type == proxy::socks5_address::ipv6
                   ? n == 16
                   : r.bound.type == proxy::socks5_address::domain && n <= 255);
    FUZZ_CHECK(!r.error_code && r.output.empty());
  } else if (r.kind == proxy::socks5_result::error) {
    FUZZ_CHECK(in_range(r.error_code, errc::socks_bad_version, errc::socks_unexpected_data));
    FUZZ_CHECK(r.output.empty());
  } else {
    FUZZ_CHECK(!r.error_code);
  }
}

socks_event final_event(std::size_t at, const proxy::socks5_result& r) {
  socks_event e;
  e.at = at;
  e.final = true;
  e.kind = r.kind;
  e.error = r.error_code;
  if (r.kind == proxy::socks5_result::done) {
    e.bound_type = r.bound.type;
    e.bound_address = std::string(r.bound.address);
    e.bound_port = r.bound.port;
  }
  return e;
}

bool same_final(const socks_event& a, const socks_event& b) {
  return a.final && b.final && a.at == b.at && a.kind == b.kind && a.error == b.error &&
         a.bound_type == b.bound_type && a.bound_address == b.bound_address &&
         a.bound_port == b.bound_port;
}

// Feeds in chunks of `chunk` bytes; records the transitions and the final outcome.
std::vector<socks_event> run_socks(proxy::socks5_client& client, const char* data, std::size_t size,
                                   std::size_t chunk) {
  std::vector<socks_event> events;
  std::size_t at = 0;
  while (at < size) {
    const std::size_t n = std::min(chunk, size - at);
    const std::unique_ptr<char[]> buf = copy(data + at, n);
    const proxy::socks5_result r = client.feed(buf.get(), n);
    FUZZ_CHECK(r.consumed <= n);
    check_result(r);
    if (r.kind == proxy::socks5_result::need_more) {
      FUZZ_CHECK(r.consumed == n);
      at += n;
      if (!r.output.empty()) {
        socks_event e;
        e.at = at;
        e.output = std::string(r.output);
        events.push_back(e);
      }
      continue;
    }
    events.push_back(final_event(at + r.consumed, r));
    FUZZ_CHECK(at + r.consumed <= 2 + 2 + 262);
    const proxy::socks5_result again = client.feed(buf.get(), n);
    FUZZ_CHECK(again.kind == r.kind && again.consumed == 0 && again.error_code == r.error_code);
    check_result(again);
    break;
  }
  return events;
}

void check_socks(std::string_view host, const char* data, std::size_t size, std::size_t chunk,
                 bool credentials) {
  const std::string_view u = credentials ? user : "";
  const std::string_view p = credentials ? password : "";
  proxy::socks5_client reference(host, port, u, p);
  if (reference.error()) return;  // check_requests covered it
  const std::vector<socks_event> ref = run_socks(reference, data, size, 1);

  // Outputs: the auth request (with credentials), then the CONNECT request.
  std::size_t outputs = 0;
  for (const socks_event& e : ref) {
    if (e.final) {
      FUZZ_CHECK(e.error != errc::socks_unexpected_data);
      continue;
    }
    ++outputs;
    const auto first = static_cast<unsigned char>(e.output[0]);
    if (first == 0x01) {  // username/password request
      FUZZ_CHECK(credentials && outputs == 1);
      FUZZ_CHECK(e.output == std::string("\x01\x04user\x04pass", 11));
    } else {
      // VER CMD RSV ATYP DST.ADDR DST.PORT: the host's bytes, or 4 or 16 address bytes.
      const std::string_view out = e.output;
      FUZZ_CHECK(out.size() >= 8 && out.substr(0, 3) == std::string_view("\x05\x01\x00", 3));
      FUZZ_CHECK(out.substr(out.size() - 2) == "\x01\xBB");
      switch (out[3]) {
        case 0x01:
          FUZZ_CHECK(out.size() == 10 && host.find(':') == std::string_view::npos);
          break;
        case 0x03:
          FUZZ_CHECK(static_cast<unsigned char>(out[4]) == host.size() &&
                     out.size() == 7 + host.size() && out.substr(5, host.size()) == host);
          break;
        case 0x04:
          FUZZ_CHECK(out.size() == 22 && host.find(':') != std::string_view::npos);
          break;
        default:
          FUZZ_CHECK(false);
      }
    }
  }
  FUZZ_CHECK(outputs <= 2);

  // The chunked feed follows the reference until a chunk runs past a method or auth reply.
  proxy::socks5_client client(host, port, u, p);
  const std::size_t step = chunk == 0 ? size + 1 : chunk;
  const std::vector<socks_event> got = run_socks(client, data, size, step);
  std::size_t gi = 0;
  for (const socks_event& e : ref) {
    if (e.final) {
      FUZZ_CHECK(gi + 1 == got.size() && same_final(e, got[gi]));
      return;
    }
    // The chunk that holds the reply's last byte ends at a multiple of step, or at size.
    const std::size_t chunk_end = std::min(size, (e.at + step - 1) / step * step);
    if (chunk_end != e.at) {
      FUZZ_CHECK(gi + 1 == got.size() && got[gi].final &&
                 got[gi].error == errc::socks_unexpected_data && got[gi].at == e.at);
      return;
    }
    FUZZ_CHECK(gi < got.size() && !got[gi].final && got[gi].at == e.at &&
               got[gi].output == e.output);
    ++gi;
  }
  FUZZ_CHECK(gi == got.size());  // the reference needs more: so does the chunked feed
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t chunk = data[0] & 0x3F;
  const bool small_limit = (data[0] & 0x40) != 0;
  const bool credentials = (data[0] & 0x80) != 0;
  const char* p = reinterpret_cast<const char*>(data + 2);
  std::size_t left = size - 2;
  std::string_view host = "example.com";
  if (data[1] != 0) {
    const std::size_t n = std::min<std::size_t>(data[1], left);
    host = std::string_view(p, n);
    p += n;
    left -= n;
  }
  // The host may end up empty (input too short): check_target refuses it.
  const std::string host_copy(host);  // the views below must not alias the reply bytes
  check_requests(host_copy, credentials);
  check_http(p, left, chunk, small_limit);
  check_socks(host_copy, p, left, chunk, credentials);
  return 0;
}
