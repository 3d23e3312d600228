#include "runtime/auth/credentials.hpp"
#include "runtime/text.hpp"

#include "runtime/auth/base64.hpp"

namespace switchboard::runtime::auth {
namespace {

constexpr std::string_view url_prefix = "/sgc/auth/url";
constexpr std::string_view session_prefix = "/sgc/auth/session";
constexpr std::string_view session_request_prefix = "/sgc/req/auth/session";
constexpr std::string_view root = "/";

struct category final : std::error_category {
  const char* name() const noexcept override { return "auth.credentials"; }
  std::string message(int ev) const override {
    switch (static_cast<credentials_errc>(ev)) {
      case credentials_errc::too_long:
        return "credentials too long";
      case credentials_errc::bad_scheme:
        return "Authorization value does not start with a scheme";
      case credentials_errc::missing_credentials:
        return "authentication scheme without credentials";
      case credentials_errc::bad_base64:
        return "Basic credentials are not valid base64";
      case credentials_errc::missing_colon:
        return "Basic credentials lack the ':' between user and password";
      case credentials_errc::control_character:
        return "control character in user or password";
      case credentials_errc::bad_bearer_token:
        return "malformed Bearer token";
      case credentials_errc::bad_percent_encoding:
        return "bad percent-encoding in the authentication path";
      case credentials_errc::missing_segment:
        return "authentication path lacks a segment";
      case credentials_errc::extra_segment:
        return "authentication path has segments after the password";
    }
    return "unknown credentials error";
  }
};

bool is_alnum(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// tchar of RFC 7230 section 3.2.6.
bool is_tchar(char c) {
  return is_alnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool has_control(std::string_view s) {
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) return true;
  }
  return false;
}

// b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" (RFC 6750 2.1).
bool is_b64token(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size() &&
         (is_alnum(s[i]) || std::string_view("-._~+/").find(s[i]) != std::string_view::npos))
    ++i;
  if (i == 0) return false;
  while (i < s.size() && s[i] == '=')
    ++i;
  return i == s.size();
}

// True when `path` is `prefix` itself or continues with '/'; `rest` gets what follows prefix.
bool has_form(std::string_view path, std::string_view prefix, std::string_view& rest) {
  if (path.substr(0, prefix.size()) != prefix) return false;
  rest = path.substr(prefix.size());
  return rest.empty() || rest.front() == '/';
}

// Splits the next segment off `rest` (which starts after a '/'): the text up to the next '/'
// or the end; `rest` keeps the remainder, starting with '/' or empty.
std::string_view next_segment(std::string_view& rest) {
  const std::size_t slash = rest.find('/');
  const std::string_view segment = rest.substr(0, slash);
  rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  return segment;
}

// Reads "/<user>/<password>" from the start of `rest` into `out`, leaving the remainder.
std::error_code read_user_password(std::string_view& rest, credentials& out) {
  if (rest.empty()) return credentials_errc::missing_segment;
  rest.remove_prefix(1);  // the '/' after the prefix
  const std::string_view user = next_segment(rest);
  if (rest.empty()) return credentials_errc::missing_segment;  // no '/' before a password
  rest.remove_prefix(1);
  const std::string_view password = next_segment(rest);
  if (!percent_decode(user, out.user) || !percent_decode(password, out.password))
    return credentials_errc::bad_percent_encoding;
  if (has_control(out.user) || has_control(out.password))
    return credentials_errc::control_character;
  return {};
}

}  // namespace

const std::error_category& credentials_category() noexcept {
  static const category instance;
  return instance;
}

std::string_view scheme_name(scheme s) noexcept {
  switch (s) {
    case scheme::none:
      return "none";
    case scheme::basic:
      return "Basic";
    case scheme::bearer:
      return "Bearer";
    case scheme::other:
      return "other";
    case scheme::url:
      return "URL";
    case scheme::session:
      return "session";
    case scheme::session_request:
      return "session request";
  }
  return "unknown";
}

std::error_code parse_authorization(std::string_view value, credentials& out,
                                    std::size_t max_size) {
  out = credentials{};
  value = trim_ows(value);
  if (value.empty()) return {};
  if (value.size() > max_size) return credentials_errc::too_long;

  std::size_t n = 0;
  while (n < value.size() && is_tchar(value[n]))
    ++n;
  const std::string_view name = value.substr(0, n);
  std::string_view rest = value.substr(n);
  // credentials = auth-scheme [ 1*SP ( token68 / #auth-param ) ] (RFC 7235 section 2.1)
  if (name.empty() || (!rest.empty() && rest.front() != ' ')) return credentials_errc::bad_scheme;
  while (!rest.empty() && rest.front() == ' ')
    rest.remove_prefix(1);

  if (iequals_ascii(name, "Basic")) {
    if (rest.empty()) return credentials_errc::missing_credentials;
    std::string decoded;
    if (!decode_base64(rest, decoded)) return credentials_errc::bad_base64;
    const std::size_t colon = decoded.find(':');
    if (colon == std::string::npos) return credentials_errc::missing_colon;
    out.user = decoded.substr(0, colon);
    out.password = decoded.substr(colon + 1);
    if (has_control(out.user) || has_control(out.password))
      return credentials_errc::control_character;
    out.scheme = scheme::basic;
    return {};
  }
  if (iequals_ascii(name, "Bearer")) {
    if (rest.empty()) return credentials_errc::missing_credentials;
    if (!is_b64token(rest)) return credentials_errc::bad_bearer_token;
    out.token = std::string(rest);
    out.scheme = scheme::bearer;
    return {};
  }
  out.scheme_name = std::string(name);
  out.token = std::string(rest);
  out.scheme = scheme::other;
  return {};
}

std::error_code parse_path(std::string_view path, credentials& out, std::string_view& route_path,
                           std::size_t max_size) {
  out = credentials{};
  route_path = path;
  std::string_view rest;
  const bool url = has_form(path, url_prefix, rest);
  const bool session = !url && has_form(path, session_prefix, rest);
  const bool request = !url && !session && has_form(path, session_request_prefix, rest);
  if (!url && !session && !request) return {};
  if (path.size() > max_size) return credentials_errc::too_long;

  if (session) {
    if (rest.size() < 2) return credentials_errc::missing_segment;  // "" or "/"
    rest.remove_prefix(1);
    const std::string_view token = next_segment(rest);
    if (token.empty()) return credentials_errc::missing_segment;
    if (!percent_decode(token, out.token)) return credentials_errc::bad_percent_encoding;
    out.scheme = scheme::session;
  } else {
    if (const std::error_code ec = read_user_password(rest, out)) return ec;
    if (request && !rest.empty()) return credentials_errc::extra_segment;
    out.scheme = url ? scheme::url : scheme::session_request;
  }
  route_path = rest.empty() ? root : rest;
  return {};
}

std::error_code parse_request(std::string_view path, std::string_view authorization,
                              presented_credentials& out, std::size_t max_size) {
  if (const std::error_code ec = parse_path(path, out.from_path, out.route_path, max_size))
    return ec;
  return parse_authorization(authorization, out.from_header, max_size);
}

bool is_session_request(std::string_view path) noexcept {
  std::string_view rest;
  return has_form(path, session_request_prefix, rest);
}

std::string encode_path_segment(std::string_view segment) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(segment.size());
  for (const char c : segment) {
    if (is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(c);
    } else {
      const auto u = static_cast<unsigned char>(c);
      out.push_back('%');
      out.push_back(hex[u >> 4]);
      out.push_back(hex[u & 15]);
    }
  }
  return out;
}

}  // namespace switchboard::runtime::auth
