#include "runtime/url.hpp"

#include "runtime/text.hpp"

#include <cctype>

namespace switchboard::runtime {
namespace {

std::uint16_t default_port(std::string_view scheme) {
  if (scheme == "ws" || scheme == "http") return 80;
  if (scheme == "wss" || scheme == "https") return 443;
  if (scheme == "socks5") return 1080;
  return 0;
}

// RFC 3986 section 3.2.2: a reg-name is unreserved, sub-delims and pct-encoded characters; an
// IP literal in brackets holds hex digits, ':' and '.' (and a zone after '%').
bool valid_host(std::string_view host, bool bracketed) {
  for (char c : host) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (alnum || c == '.' || c == '%' || (bracketed && c == ':')) continue;
    if (!bracketed && std::string_view("-_~!$&'()*+,;=").find(c) != std::string_view::npos)
      continue;
    return false;
  }
  return true;
}

// The target goes into the request line as written: no space, control character or DEL.
bool valid_target(std::string_view target) {
  for (char c : target)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return false;
  return true;
}

std::optional<url> fail(std::string* why, std::string text) {
  if (why) *why = std::move(text);
  return std::nullopt;
}

}  // namespace

std::string url::authority() const {
  std::string out = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port != default_port(scheme)) out += ":" + std::to_string(port);
  return out;
}

std::string url::to_string() const {
  return scheme + "://" + authority() + target;
}

std::optional<url> parse_url(std::string_view text, std::string* why) {
  url u;
  const std::size_t colon = text.find("://");
  if (colon == std::string_view::npos || colon == 0)
    return fail(why, "not an absolute URL (expected scheme://host...)");
  for (char c : text.substr(0, colon))
    u.scheme.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  const std::uint16_t scheme_port = default_port(u.scheme);
  if (scheme_port == 0) return fail(why, "unsupported scheme '" + u.scheme + "'");
  std::string_view rest = text.substr(colon + 3);
  if (rest.find('#') != std::string_view::npos)
    return fail(why, "a WebSocket URL has no fragment (RFC 6455 section 3)");
  const std::size_t path_at = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, path_at);
  if (path_at != std::string_view::npos) {
    u.target = std::string(rest.substr(path_at));
    if (u.target.front() == '?') u.target.insert(0, "/");
  }
  if (!valid_target(u.target))
    return fail(why, "the path has a space or control character (percent-encode it)");
  if (const std::size_t at = authority.rfind('@'); at != std::string_view::npos) {
    const std::string_view info = authority.substr(0, at);
    const std::size_t sep = info.find(':');
    if (!percent_decode(info.substr(0, sep), u.user) ||
        (sep != std::string_view::npos && !percent_decode(info.substr(sep + 1), u.password)))
      return fail(why, "bad percent-encoding in the user information");
    authority = authority.substr(at + 1);
  }
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return fail(why, "unterminated IPv6 literal");
    u.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return fail(why, "junk after the IPv6 literal");
      port_text = after.substr(1);
    }
  } else {
    const std::size_t sep = authority.rfind(':');
    u.host = std::string(authority.substr(0, sep));
    if (sep != std::string_view::npos) port_text = authority.substr(sep + 1);
  }
  if (u.host.empty()) return fail(why, "no host in the URL");
  if (!valid_host(u.host, authority.front() == '['))
    return fail(why, "the host has a character a host name cannot have");
  u.port = scheme_port;
  if (!port_text.empty()) {
    unsigned long port = 0;
    for (char c : port_text) {
      if (c < '0' || c > '9' || port > 65535) return fail(why, "bad port in the URL");
      port = port * 10 + static_cast<unsigned>(c - '0');
    }
    if (port == 0 || port > 65535) return fail(why, "bad port in the URL");
    u.port = static_cast<std::uint16_t>(port);
  }
  return u;
}

std::optional<url> resolve_redirect(const url& base, std::string_view location, std::string* why) {
  std::optional<url> out;
  if (location.find("://") != std::string_view::npos) {
    out = parse_url(location, why);
  } else if (location.substr(0, 2) == "//") {
    out = parse_url(base.scheme + ":" + std::string(location), why);
  } else {
    url u = base;
    u.user.clear();
    u.password.clear();
    if (!location.empty() && location.front() == '/') {
      u.target = std::string(location);
    } else {
      const std::string path = base.target.substr(0, base.target.find('?'));
      u.target = path.substr(0, path.rfind('/') + 1) + std::string(location);
    }
    if (u.target.find('#') != std::string::npos) u.target.erase(u.target.find('#'));
    if (!valid_target(u.target)) return fail(why, "the Location has a space or control character");
    out = std::move(u);
  }
  if (!out) return out;
  if (out->scheme == "http") out->scheme = "ws";
  if (out->scheme == "https") out->scheme = "wss";
  if (out->scheme != "ws" && out->scheme != "wss")
    return fail(why, "redirected to a " + out->scheme + " URL");
  return out;
}

}  // namespace switchboard::runtime
