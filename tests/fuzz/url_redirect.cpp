// url_redirect.cpp: libFuzzer target for runtime/url.hpp, the client's URL parser and the
// resolution of a redirect's Location header (which comes from the network).
//
// Input: byte 0 picks the base URL from a fixed list; the rest is split at the first NUL into
// a URL given to parse_url and a Location given to resolve_redirect against the base.
// Invariants (a violation is __builtin_trap):
//   - a parsed URL has a known scheme, a non-empty host, a port in 1..65535 and a target that
//     starts with '/' and holds no space or control character;
//   - parsing its to_string() again gives the same scheme, host, port and target;
//   - a resolved redirect is ws or wss and satisfies the same;
//   - a refusal always says why.
#include "runtime/url.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

using switchboard::runtime::url;

void check(const url& u) {
  if (u.host.empty() || u.port == 0) __builtin_trap();
  if (u.target.empty() || u.target.front() != '/') __builtin_trap();
  if (u.scheme != "ws" && u.scheme != "wss" && u.scheme != "http" && u.scheme != "https" &&
      u.scheme != "socks5")
    __builtin_trap();
  std::string why;
  const auto again = switchboard::runtime::parse_url(u.to_string(), &why);
  if (!again || again->scheme != u.scheme || again->host != u.host || again->port != u.port ||
      again->target != u.target)
    __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static const char* const bases[] = {"ws://example.com/", "wss://[::1]:8443/a/b?c",
                                      "ws://h:81/dir/page"};
  const auto base = switchboard::runtime::parse_url(bases[data[0] % 3]);
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::size_t nul = rest.find('\0');
  const std::string_view text = rest.substr(0, nul);
  std::string why;
  if (const auto u = switchboard::runtime::parse_url(text, &why)) {
    for (char c : u->target)
      if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) __builtin_trap();
    check(*u);
  } else if (why.empty()) {
    __builtin_trap();
  }
  if (nul != std::string_view::npos) {
    why.clear();
    if (const auto r = switchboard::runtime::resolve_redirect(*base, rest.substr(nul + 1), &why)) {
      if (r->scheme != "ws" && r->scheme != "wss") __builtin_trap();
      check(*r);
    } else if (why.empty()) {
      __builtin_trap();
    }
  }
  return 0;
}
