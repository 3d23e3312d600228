#include "runtime/proxy.hpp"

#include "runtime/auth/base64.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cassert>
#include <cstring>

namespace switchboard::runtime::proxy {
namespace {

struct category final : std::error_category {
  const char* name() const noexcept override { return "proxy"; }

  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::bad_host:
        return "proxy target host is empty or not a valid host name or IP literal";
      case errc::host_too_long:
        return "proxy target host is longer than 255 bytes";
      case errc::bad_port:
        return "proxy target port is 0";
      case errc::user_too_long:
        return "SOCKS5 user name is longer than 255 bytes";
      case errc::password_too_long:
        return "SOCKS5 password is longer than 255 bytes";
      case errc::http_bad_status_line:
        return "malformed status line in the proxy's CONNECT response";
      case errc::http_bad_field:
        return "malformed header field in the proxy's CONNECT response";
      case errc::http_header_too_large:
        return "proxy's CONNECT response header exceeds the size limit";
      case errc::http_refused:
        return "proxy refused the CONNECT request";
      case errc::socks_bad_version:
        return "SOCKS5 proxy replied with a version other than 5";
      case errc::socks_no_acceptable_method:
        return "SOCKS5 proxy accepts none of the offered authentication methods";
      case errc::socks_unexpected_method:
        return "SOCKS5 proxy chose an authentication method that was not offered";
      case errc::socks_bad_auth_version:
        return "SOCKS5 proxy's username/password reply has a version other than 1";
      case errc::socks_auth_failed:
        return "SOCKS5 proxy rejected the user name or password";
      case errc::socks_general_failure:
        return "SOCKS5 proxy: general SOCKS server failure";
      case errc::socks_not_allowed:
        return "SOCKS5 proxy: connection not allowed by ruleset";
      case errc::socks_network_unreachable:
        return "SOCKS5 proxy: network unreachable";
      case errc::socks_host_unreachable:
        return "SOCKS5 proxy: host unreachable";
      case errc::socks_connection_refused:
        return "SOCKS5 proxy: connection refused";
      case errc::socks_ttl_expired:
        return "SOCKS5 proxy: TTL expired";
      case errc::socks_command_not_supported:
        return "SOCKS5 proxy: command not supported";
      case errc::socks_address_type_not_supported:
        return "SOCKS5 proxy: address type not supported";
      case errc::socks_unassigned_reply:
        return "SOCKS5 proxy replied with an unassigned reply code";
      case errc::socks_bad_reserved:
        return "SOCKS5 proxy's reply has a non-zero reserved byte";
      case errc::socks_bad_address_type:
        return "SOCKS5 proxy's reply has an unknown address type";
      case errc::socks_unexpected_data:
        return "SOCKS5 proxy sent data before the request it answers";
    }
    return "unknown proxy error";
  }

  std::error_condition default_error_condition(int ev) const noexcept override {
    switch (static_cast<errc>(ev)) {
      case errc::bad_host:
      case errc::host_too_long:
      case errc::bad_port:
      case errc::user_too_long:
      case errc::password_too_long:
        return std::errc::invalid_argument;
      case errc::http_bad_status_line:
      case errc::http_bad_field:
      case errc::socks_bad_version:
      case errc::socks_unexpected_method:
      case errc::socks_bad_auth_version:
      case errc::socks_unassigned_reply:
      case errc::socks_bad_reserved:
      case errc::socks_bad_address_type:
      case errc::socks_unexpected_data:
        return std::errc::protocol_error;
      case errc::http_header_too_large:
        return std::errc::message_size;
      case errc::socks_no_acceptable_method:
      case errc::socks_auth_failed:
      case errc::socks_not_allowed:
        return std::errc::permission_denied;
      case errc::http_refused:
      case errc::socks_general_failure:
      case errc::socks_connection_refused:
        return std::errc::connection_refused;
      case errc::socks_network_unreachable:
        return std::errc::network_unreachable;
      case errc::socks_host_unreachable:
        return std::errc::host_unreachable;
      case errc::socks_ttl_expired:
        return std::errc::timed_out;
      case errc::socks_command_not_supported:
      case errc::socks_address_type_not_supported:
        return std::errc::operation_not_supported;
    }
    return {ev, *this};
  }
};

// ---- Hosts --------------------------------------------------------------------------------

constexpr std::size_t max_host_size = 255;

struct host_info {
  enum kind_type : std::uint8_t { invalid, name, ipv4, ipv6 };
  kind_type kind = invalid;
  std::string_view text;                // the host without brackets
  std::array<std::uint8_t, 16> addr{};  // ipv4 (4 bytes) or ipv6 (16), network order
};

bool is_digit(unsigned char c) noexcept {
  return c >= '0' && c <= '9';
}

bool is_alpha(unsigned char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// reg-name = *( unreserved / pct-encoded / sub-delims ) (RFC 3986 section 3.2.2), without
// pct-encoded: a URL parser has decoded those, and a DNS name has no use for them.
bool is_reg_name_char(unsigned char c) noexcept {
  if (is_alpha(c) || is_digit(c)) return true;
  return std::string_view("-._~!$&'()*+,;=").find(static_cast<char>(c)) != std::string_view::npos;
}

// inet_pton on a view; `af` is AF_INET or AF_INET6. The text is copied to add the NUL, so it
// is first checked for characters no address has: an embedded NUL would end inet_pton's string
// early and let the bytes after it through (found by the proxy_replies fuzz target).
bool parse_ip(int af, std::string_view text, std::uint8_t* out) noexcept {
  char buf[64];
  if (text.size() >= sizeof buf) return false;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (!is_digit(u) && c != '.' && c != ':' && !((u | 0x20) >= 'a' && (u | 0x20) <= 'f'))
      return false;
  }
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  return inet_pton(af, buf, out) == 1;
}

// Which kind of host this is (the caller checks the length first).
host_info classify(std::string_view host) noexcept {
  host_info info;
  if (host.empty()) return info;
  if (host.front() == '[') {
    if (host.size() < 2 || host.back() != ']') return info;
    info.text = host.substr(1, host.size() - 2);
    if (parse_ip(AF_INET6, info.text, info.addr.data())) info.kind = host_info::ipv6;
    return info;
  }
  info.text = host;
  if (host.find(':') != std::string_view::npos) {
    if (parse_ip(AF_INET6, host, info.addr.data())) info.kind = host_info::ipv6;
    return info;
  }
  for (const char c : host)
    if (!is_reg_name_char(static_cast<unsigned char>(c))) return info;
  // A dotted quad is an IPv4 literal; anything else (including "1.2.3" or "010.1.1.1") is a
  // name, left to the proxy's resolver.
  info.kind = parse_ip(AF_INET, host, info.addr.data()) ? host_info::ipv4 : host_info::name;
  return info;
}

bool is_tchar(unsigned char c) noexcept {
  if (is_alpha(c) || is_digit(c)) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

// field-vchar / SP / HTAB (RFC 9110 section 5.5), obs-text included.
bool is_field_char(unsigned char c) noexcept {
  return c == '\t' || (c >= 0x20 && c != 0x7F);
}

}  // namespace

const std::error_category& proxy_category() noexcept {
  static const category instance;
  return instance;
}

std::error_code check_target(std::string_view host, std::uint16_t port) noexcept {
  if (host.empty()) return errc::bad_host;
  if (host.size() > max_host_size) return errc::host_too_long;
  if (classify(host).kind == host_info::invalid) return errc::bad_host;
  if (port == 0) return errc::bad_port;
  return {};
}

// ---- HTTP CONNECT -------------------------------------------------------------------------

std::string http_connect_request(std::string_view host, std::uint16_t port, std::string_view user,
                                 std::string_view password) {
  assert(!check_target(host, port));
  const host_info info = classify(host);
  std::string authority;
  authority.reserve(host.size() + 8);
  if (info.kind == host_info::ipv6) {
    authority += '[';
    authority += info.text;
    authority += ']';
  } else {
    authority += host;
  }
  authority += ':';
  authority += std::to_string(port);

  std::string basic;  // base64(user ":" password), RFC 7617 section 2
  if (!user.empty()) {
    std::string credentials;
    credentials.reserve(user.size() + 1 + password.size());
    credentials += user;
    credentials += ':';
    credentials += password;
    basic = auth::encode_base64(credentials);
  }

  static constexpr std::string_view method = "CONNECT ";
  static constexpr std::string_view version_host = " HTTP/1.1\r\nHost: ";
  static constexpr std::string_view authorization = "Proxy-Authorization: Basic ";
  std::string out;
  out.reserve(method.size() + 2 * authority.size() + version_host.size() + 4 +
              (basic.empty() ? 0 : authorization.size() + basic.size() + 2));
  out += method;
  out += authority;
  out += version_host;
  out += authority;
  out += "\r\n";
  if (!basic.empty()) {
    out += authorization;
    out += basic;
    out += "\r\n";
  }
  out += "\r\n";
  return out;
}

void http_connect_parser::reset() noexcept {
  seen_ = 0;
  state_ = state::version;
  version_pos_ = 0;
  code_digits_ = 0;
  status_ = 0;
  has_field_ = false;
  reason_.clear();
  error_ = {};
}

http_connect_result http_connect_parser::fail(errc e, std::size_t consumed) {
  state_ = state::error;
  error_ = e;
  http_connect_result r;
  r.kind = http_connect_result::error;
  r.consumed = consumed;
  r.error_code = e;
  return r;
}

// The empty line ending a header block was consumed (`consumed` bytes of this call's input).
// A 1xx other than 101 is interim (RFC 9110 section 15.2): the final response follows.
http_connect_result http_connect_parser::finish_block(std::size_t consumed) {
  if (status_ < 200 && status_ != 101) {
    state_ = state::version;
    version_pos_ = 0;
    code_digits_ = 0;
    status_ = 0;
    has_field_ = false;
    reason_.clear();
    return {};  // need_more: the caller goes on with the next byte
  }
  state_ = state::done;
  http_connect_result r;
  r.kind = http_connect_result::done;
  r.consumed = consumed;
  r.status = status_;
  r.reason = reason_;
  return r;
}

http_connect_result http_connect_parser::feed(const char* data, std::size_t size) {
  if (state_ == state::done) {
    http_connect_result r;
    r.kind = http_connect_result::done;
    r.status = status_;
    r.reason = reason_;
    return r;
  }
  if (state_ == state::error) return fail(error_, 0);

  static constexpr std::string_view version_prefix = "HTTP/1.";
  for (std::size_t i = 0; i < size; ++i) {
    if (seen_ == max_header_size_) return fail(errc::http_header_too_large, i);
    ++seen_;
    const auto c = static_cast<unsigned char>(data[i]);
    switch (state_) {
      case state::version:
        if (version_pos_ < version_prefix.size()) {
          if (c != static_cast<unsigned char>(version_prefix[version_pos_]))
            return fail(errc::http_bad_status_line, i);
          ++version_pos_;
        } else {
          if (!is_digit(c)) return fail(errc::http_bad_status_line, i);
          state_ = state::version_sp;
        }
        break;
      case state::version_sp:
        if (c != ' ') return fail(errc::http_bad_status_line, i);
        state_ = state::code;
        break;
      case state::code:
        if (!is_digit(c)) return fail(errc::http_bad_status_line, i);
        // Status codes are 100-599 (RFC 9110 section 15); others are invalid.
        if (code_digits_ == 0 && (c < '1' || c > '5')) return fail(errc::http_bad_status_line, i);
        status_ = status_ * 10 + (c - '0');
        if (++code_digits_ == 3) state_ = state::code_end;
        break;
      case state::code_end:
        if (c == ' ') {
          state_ = state::reason;
        } else if (c == '\r') {
          state_ = state::status_lf;
        } else if (c == '\n') {
          state_ = state::line_start;
        } else {
          return fail(errc::http_bad_status_line, i);
        }
        break;
      case state::reason:
        if (c == '\r') {
          state_ = state::status_lf;
        } else if (c == '\n') {
          state_ = state::line_start;
        } else if (is_field_char(c)) {
          reason_ += static_cast<char>(c);
        } else {
          return fail(errc::http_bad_status_line, i);
        }
        break;
      case state::status_lf:
        if (c != '\n') return fail(errc::http_bad_status_line, i);
        state_ = state::line_start;
        break;
      case state::line_start:
        if (c == '\r') {
          state_ = state::end_lf;
        } else if (c == '\n') {
          http_connect_result r = finish_block(i + 1);
          if (r.kind == http_connect_result::done) return r;
        } else if (c == ' ' || c == '\t') {
          // An obs-fold continues the previous field's value (RFC 9112 section 5.2); before
          // any field it is whitespace after the start line, which section 2.2 lets us reject.
          if (!has_field_) return fail(errc::http_bad_field, i);
          state_ = state::value;
        } else if (is_tchar(c)) {
          has_field_ = true;
          state_ = state::name;
        } else {
          return fail(errc::http_bad_field, i);
        }
        break;
      case state::name:
        if (c == ':') {
          state_ = state::value;
        } else if (!is_tchar(c)) {
          // Whitespace before the colon included (RFC 9112 section 5.1).
          return fail(errc::http_bad_field, i);
        }
        break;
      case state::value:
        if (c == '\r') {
          state_ = state::field_lf;
        } else if (c == '\n') {
          state_ = state::line_start;
        } else if (!is_field_char(c)) {
          return fail(errc::http_bad_field, i);
        }
        break;
      case state::field_lf:
        if (c != '\n') return fail(errc::http_bad_field, i);
        state_ = state::line_start;
        break;
      case state::end_lf: {
        if (c != '\n') return fail(errc::http_bad_field, i);
        http_connect_result r = finish_block(i + 1);
        if (r.kind == http_connect_result::done) return r;
        break;
      }
      case state::done:
      case state::error:
        assert(false);  // handled before the loop
        break;
    }
  }
  http_connect_result r;
  r.consumed = size;
  return r;
}

// ---- SOCKS5 -------------------------------------------------------------------------------

namespace {

constexpr std::uint8_t socks_version = 0x05;
constexpr std::uint8_t auth_version = 0x01;  // RFC 1929 section 2
constexpr std::uint8_t method_none = 0x00;
constexpr std::uint8_t method_password = 0x02;
constexpr std::uint8_t method_unacceptable = 0xFF;
constexpr std::uint8_t cmd_connect = 0x01;

std::uint8_t byte(char c) noexcept {
  return static_cast<std::uint8_t>(c);
}

char to_char(std::uint8_t b) noexcept {
  return static_cast<char>(b);
}

// REP 01-08 as RFC 1928 section 6 names them; 09-FF are unassigned.
errc reply_error(std::uint8_t rep) noexcept {
  switch (rep) {
    case 0x01:
      return errc::socks_general_failure;
    case 0x02:
      return errc::socks_not_allowed;
    case 0x03:
      return errc::socks_network_unreachable;
    case 0x04:
      return errc::socks_host_unreachable;
    case 0x05:
      return errc::socks_connection_refused;
    case 0x06:
      return errc::socks_ttl_expired;
    case 0x07:
      return errc::socks_command_not_supported;
    case 0x08:
      return errc::socks_address_type_not_supported;
    default:
      return errc::socks_unassigned_reply;
  }
}

}  // namespace

socks5_client::socks5_client(std::string_view host, std::uint16_t port, std::string_view user,
                             std::string_view password) noexcept {
  std::error_code ec = check_target(host, port);
  if (!ec && user.size() > 255) ec = errc::user_too_long;
  if (!ec && !user.empty() && password.size() > 255) ec = errc::password_too_long;
  if (ec) {
    stage_ = stage::failed;
    error_ = static_cast<errc>(ec.value());
    return;
  }

  // Greeting (section 3).
  greeting_[0] = to_char(socks_version);
  if (user.empty()) {
    greeting_[1] = to_char(1);
    greeting_[2] = to_char(method_none);
    greeting_size_ = 3;
  } else {
    greeting_[1] = to_char(2);
    greeting_[2] = to_char(method_none);
    greeting_[3] = to_char(method_password);
    greeting_size_ = 4;

    // Username/password request (RFC 1929 section 2).
    std::size_t n = 0;
    auth_[n++] = to_char(auth_version);
    auth_[n++] = to_char(static_cast<std::uint8_t>(user.size()));
    std::memcpy(auth_.data() + n, user.data(), user.size());
    n += user.size();
    auth_[n++] = to_char(static_cast<std::uint8_t>(password.size()));
    if (!password.empty()) std::memcpy(auth_.data() + n, password.data(), password.size());
    n += password.size();
    auth_size_ = static_cast<std::uint16_t>(n);
  }

  // CONNECT request (section 4).
  const host_info info = classify(host);
  std::size_t n = 0;
  request_[n++] = to_char(socks_version);
  request_[n++] = to_char(cmd_connect);
  request_[n++] = to_char(0x00);
  switch (info.kind) {
    case host_info::ipv4:
      request_[n++] = to_char(socks5_address::ipv4);
      std::memcpy(request_.data() + n, info.addr.data(), 4);
      n += 4;
      break;
    case host_info::ipv6:
      request_[n++] = to_char(socks5_address::ipv6);
      std::memcpy(request_.data() + n, info.addr.data(), 16);
      n += 16;
      break;
    default:  // name (check_target rejected invalid hosts)
      request_[n++] = to_char(socks5_address::domain);
      request_[n++] = to_char(static_cast<std::uint8_t>(host.size()));
      std::memcpy(request_.data() + n, host.data(), host.size());
      n += host.size();
      break;
  }
  request_[n++] = to_char(static_cast<std::uint8_t>(port >> 8));
  request_[n++] = to_char(static_cast<std::uint8_t>(port & 0xFF));
  request_size_ = static_cast<std::uint16_t>(n);
}

std::string_view socks5_client::greeting() const noexcept {
  return {greeting_.data(), greeting_size_};
}

std::error_code socks5_client::error() const noexcept {
  if (stage_ != stage::failed) return {};
  return error_;
}

socks5_result socks5_client::fail(errc e, std::size_t consumed) {
  stage_ = stage::failed;
  error_ = e;
  socks5_result r;
  r.kind = socks5_result::error;
  r.consumed = consumed;
  r.error_code = e;
  return r;
}

socks5_result socks5_client::done_result(std::size_t consumed) const {
  // reply_ holds VER REP RSV ATYP BND.ADDR BND.PORT.
  socks5_result r;
  r.kind = socks5_result::done;
  r.consumed = consumed;
  r.bound.type = static_cast<socks5_address::type_type>(byte(reply_[3]));
  const std::size_t addr_at = r.bound.type == socks5_address::domain ? 5 : 4;
  r.bound.address = std::string_view(reply_.data() + addr_at, reply_size_ - 2 - addr_at);
  r.bound.port = static_cast<std::uint16_t>(byte(reply_[reply_size_ - 2]) << 8 |
                                            byte(reply_[reply_size_ - 1]));
  return r;
}

// reply_ holds reply_want_ bytes; `consumed` of this call's `size` input bytes are used.
// Either decides the reply (an outcome, or need_more with the next request), or raises
// reply_want_ now that more of the reply's layout is known (need_more, no output).
socks5_result socks5_client::on_reply(std::size_t consumed, std::size_t size) {
  std::string_view next;
  switch (stage_) {
    case stage::method: {
      if (byte(reply_[0]) != socks_version) return fail(errc::socks_bad_version, consumed);
      const std::uint8_t method = byte(reply_[1]);
      if (method == method_unacceptable) return fail(errc::socks_no_acceptable_method, consumed);
      if (method == method_none) {
        stage_ = stage::connect;
        next = std::string_view(request_.data(), request_size_);
      } else if (method == method_password && auth_size_ != 0) {
        stage_ = stage::auth;
        next = std::string_view(auth_.data(), auth_size_);
      } else {
        return fail(errc::socks_unexpected_method, consumed);
      }
      break;
    }
    case stage::auth:
      if (byte(reply_[0]) != auth_version) return fail(errc::socks_bad_auth_version, consumed);
      if (byte(reply_[1]) != 0x00) return fail(errc::socks_auth_failed, consumed);
      stage_ = stage::connect;
      next = std::string_view(request_.data(), request_size_);
      break;
    case stage::connect:
      if (reply_size_ == 2) {  // VER REP: a failure is reported before the rest arrives
        if (byte(reply_[0]) != socks_version) return fail(errc::socks_bad_version, consumed);
        if (byte(reply_[1]) != 0x00) return fail(reply_error(byte(reply_[1])), consumed);
        reply_want_ = 4;
        return {};
      }
      if (reply_size_ == 4) {  // RSV ATYP
        if (byte(reply_[2]) != 0x00) return fail(errc::socks_bad_reserved, consumed);
        switch (byte(reply_[3])) {
          case socks5_address::ipv4:
            reply_want_ = 4 + 4 + 2;
            break;
          case socks5_address::ipv6:
            reply_want_ = 4 + 16 + 2;
            break;
          case socks5_address::domain:
            reply_want_ = 5;  // the length byte first
            break;
          default:
            return fail(errc::socks_bad_address_type, consumed);
        }
        return {};
      }
      if (reply_size_ == 5 && byte(reply_[3]) == socks5_address::domain) {
        reply_want_ = static_cast<std::uint16_t>(5 + byte(reply_[4]) + 2);
        return {};
      }
      stage_ = stage::done;
      return done_result(consumed);
    case stage::done:
    case stage::failed:
      assert(false);  // handled in feed()
      return {};
  }
  // A method or auth reply is complete and the next request is due. The proxy cannot have
  // sent more: it is waiting for that request.
  if (consumed != size) return fail(errc::socks_unexpected_data, consumed);
  reply_size_ = 0;
  reply_want_ = 2;
  socks5_result r;
  r.consumed = consumed;
  r.output = next;
  return r;
}

socks5_result socks5_client::feed(const char* data, std::size_t size) {
  if (stage_ == stage::failed) return fail(error_, 0);
  if (stage_ == stage::done) return done_result(0);
  std::size_t used = 0;
  while (used < size) {
    const std::size_t n = std::min<std::size_t>(size - used, reply_want_ - reply_size_);
    std::memcpy(reply_.data() + reply_size_, data + used, n);
    reply_size_ = static_cast<std::uint16_t>(reply_size_ + n);
    used += n;
    if (reply_size_ < reply_want_) break;
    socks5_result r = on_reply(used, size);
    if (r.kind != socks5_result::need_more || !r.output.empty()) return r;
  }
  socks5_result r;
  r.consumed = used;
  return r;
}

}  // namespace switchboard::runtime::proxy
