// url.hpp: the URLs a client dials (RFC 3986 section 3, the subset WebSocket uses).
//
//   scheme "://" [ user [ ":" password ] "@" ] host [ ":" port ] [ path [ "?" query ] ]
//
// Schemes: ws and http (port 80), wss and https (port 443), socks5 (1080, for proxies).
// Hosts: a name (RFC 3986 reg-name characters only: a Location header from the network can
// never smuggle a space or line break into our Host header), an IPv4 literal, or an IPv6
// literal in brackets (kept without them). The
// user and password are percent-decoded; the target (path and query) is kept as written, "/"
// when empty (RFC 6455 section 3). A fragment ("#...") is refused, as RFC 6455 asks.
// Sans-I/O: no resolution, no sockets.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace switchboard::runtime {

struct url {
  std::string scheme;  // lower case
  std::string user;
  std::string password;
  std::string host;  // IPv6 without brackets
  std::uint16_t port = 0;
  std::string target = "/";  // path and query

  bool secure() const noexcept { return scheme == "wss" || scheme == "https"; }
  // host[:port] for a Host header: the port only when it is not the scheme's default, an IPv6
  // literal in brackets.
  std::string authority() const;
  std::string to_string() const;  // without the user and password
};

// Parses an absolute URL; nullopt with `why` set when it is not one we can dial.
std::optional<url> parse_url(std::string_view text, std::string* why = nullptr);

// Resolves a Location header against the URL that answered with it (RFC 3986 section 5.2,
// the forms servers send: absolute, "//authority/...", "/path", or "path" relative to the
// base's directory). http and https redirect a WebSocket client to ws and wss.
std::optional<url> resolve_redirect(const url& base, std::string_view location,
                                    std::string* why = nullptr);

}  // namespace switchboard::runtime
