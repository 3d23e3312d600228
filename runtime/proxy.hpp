// proxy.hpp: the client side of the two proxy handshakes a WebSocket client dials through,
// sans-I/O: HTTP CONNECT (RFC 9110 section 9.3.6, response framing RFC 9112 sections 2-5) and
// SOCKS5 (RFC 1928) with username/password authentication (RFC 1929).
//
// The dialer owns the socket. It checks the target with check_target(), writes the request
// bytes these functions produce, reads, and feeds what it read to a parser. Each feed() has
// three outcomes (STYLE.md item 2): need_more (all input absorbed), done (`consumed` marks the
// end of the proxy's handshake: the bytes after it are the tunnel's and stay with the caller),
// error (a proxy::errc naming the broken rule; the connection is closed).
//
// HTTP CONNECT, on the wire:
//
//   CONNECT example.com:443 HTTP/1.1\r\n           authority-form (RFC 9112 section 3.2.3);
//   Host: example.com:443\r\n                      IPv6 literals in brackets (RFC 3986 3.2.2)
//   Proxy-Authorization: Basic dXNlcjpwYXNz\r\n    only with a user name (RFC 7617 section 2)
//   \r\n
//
//   HTTP/1.1 200 Connection established\r\n        any 2xx: the tunnel is open (9.3.6)
//   ...fields, skipped...\r\n                      1xx interim responses are skipped (15.2)
//   \r\n                                           <- `consumed` ends here
//
// The response parser keeps only the reason phrase (one allocation when it is longer than the
// small-string buffer) and checks the syntax of the status line and of each field line
// (token, colon, no control characters) without storing the fields: a client must ignore
// Content-Length and Transfer-Encoding in a 2xx answer to CONNECT, and a refusal ends the
// connection. Bare LF line ends are accepted (RFC 9112 section 2.2), as are obsolete line
// folds (section 5.2) and a status line without the SP before an empty reason. Everything
// before the final response's empty line, 1xx responses included, counts against
// max_header_size (16 KiB by default); the byte past it is an error.
//
// SOCKS5, on the wire (client -> proxy, then proxy -> client, in lock step):
//
//   greeting      05 NMETHODS METHODS...        00 no auth; 02 username/password when a user is set
//   method reply  05 METHOD                     FF: no acceptable method
//   auth request  01 ULEN UNAME PLEN PASSWD     RFC 1929, only when the proxy chose 02
//   auth reply    01 STATUS                     00 success
//   request       05 01 00 ATYP DST.ADDR DST.PORT   CONNECT; ATYP 03 domain (the proxy
//                                                   resolves), 01 IPv4 or 04 IPv6 for literals
//   reply         05 REP 00 ATYP BND.ADDR BND.PORT  REP 00 success, 01-08 failures (6)
//
// socks5_client encodes its three requests when constructed (into fixed arrays inside the
// object: no allocation anywhere) and collects each reply in a 262-byte array, so any split of
// the replies gives the same outcome. A reply stage that completes hands the next request back
// in the need_more result; bytes after a method or auth reply are an error (the proxy cannot
// answer a request not yet sent), bytes after the CONNECT reply are the tunnel's.
//
// Decisions: a REP other than 00 fails as soon as it is read (failing proxies often close
// without sending the rest); RSV must be 00, the auth reply's VER must be 01; an empty
// password is sent as PLEN 0 (RFC 1929 draws 1 to 255, proxies accept 0 and the alternative is
// refusing a configured account); host names are checked against the URI reg-name characters
// (RFC 3986 section 3.2.2, ASCII: an IDN must arrive as punycode), IPv6 zone identifiers are
// refused (SOCKS5 cannot carry them), and one limit of 255 bytes applies to both protocols
// (the SOCKS5 length byte; a DNS name is at most 253 characters).
//
// Not a hot path: one handshake per dialled connection, parsed byte by byte.
// Thread safety: none; a parser or client belongs to one connection.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

namespace switchboard::runtime::proxy {

enum class errc {
  // The target (both protocols; check_target(), socks5_client).
  bad_host = 1,       // empty, a byte outside the URI host characters, or a malformed IP literal
  host_too_long,      // more than 255 bytes (RFC 1928 section 5: one length byte)
  bad_port,           // port 0
  user_too_long,      // user name over 255 bytes (RFC 1929 section 2: ULEN is one byte)
  password_too_long,  // password over 255 bytes (RFC 1929 section 2: PLEN is one byte)

  // The HTTP response to CONNECT (RFC 9112 sections 4 and 5).
  http_bad_status_line,   // not HTTP/1.x SP 3DIGIT [SP reason], or a status outside 100-599
  http_bad_field,         // a field line that is not token ":" value, or a control character
  http_header_too_large,  // more than max_header_size bytes before the final empty line
  http_refused,  // never returned by the parser: for the dialer, a final status other than 2xx

  // SOCKS5 replies (RFC 1928, RFC 1929).
  socks_bad_version,                 // VER is not 05 in the method selection or CONNECT reply
  socks_no_acceptable_method,        // METHOD FF: none of the offered methods (section 3)
  socks_unexpected_method,           // a METHOD that was not offered
  socks_bad_auth_version,            // the username/password reply's VER is not 01 (RFC 1929)
  socks_auth_failed,                 // the username/password reply's STATUS is not 00 (RFC 1929)
  socks_general_failure,             // REP 01 (section 6)
  socks_not_allowed,                 // REP 02
  socks_network_unreachable,         // REP 03
  socks_host_unreachable,            // REP 04
  socks_connection_refused,          // REP 05
  socks_ttl_expired,                 // REP 06
  socks_command_not_supported,       // REP 07
  socks_address_type_not_supported,  // REP 08
  socks_unassigned_reply,            // REP 09-FF
  socks_bad_reserved,                // RSV is not 00 in the CONNECT reply
  socks_bad_address_type,            // ATYP is not 01, 03 or 04 in the CONNECT reply
  socks_unexpected_data,             // bytes after a method or auth reply, before our next request
};

// Category "proxy". Its default_error_condition() maps each code to a std::errc, so a dialer
// can branch on the class: invalid_argument (bad target or credentials), protocol_error (the
// proxy broke the protocol), message_size (header limit), permission_denied (auth failed, no
// acceptable method, not allowed by ruleset), connection_refused, network_unreachable,
// host_unreachable, timed_out (TTL expired), operation_not_supported (command, address type),
// and connection_refused for http_refused and general failures.
const std::error_category& proxy_category() noexcept;
inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), proxy_category()};
}

// Checks a target for either protocol: a DNS name or IPv4 literal (URI reg-name characters,
// ASCII), or an IPv6 literal with or without brackets; at most 255 bytes; port not 0.
// Returns bad_host, host_too_long or bad_port, or nothing.
std::error_code check_target(std::string_view host, std::uint16_t port) noexcept;

// ---- HTTP CONNECT -------------------------------------------------------------------------

// The CONNECT request for host:port, with "Proxy-Authorization: Basic base64(user:password)"
// when `user` is not empty (RFC 7617 section 2; a user name containing ':' cannot be told
// apart from the password by the proxy). An IPv6 literal is put in brackets unless it already
// is. Precondition (asserted): check_target(host, port) passes.
std::string http_connect_request(std::string_view host, std::uint16_t port, std::string_view user,
                                 std::string_view password);

struct http_connect_result {
  enum kind_type : std::uint8_t { need_more, done, error };
  kind_type kind = need_more;
  std::size_t consumed = 0;  // bytes of this call's input used; done: the tunnel's bytes follow
  unsigned status = 0;       // done: the final status, 101 or 200-599 (1xx interims skipped)
  // done: the reason phrase (HTAB, SP, VCHAR, obs-text; possibly empty). Valid while the
  // parser lives and is not reset.
  std::string_view reason;
  std::error_code error_code;  // error: a proxy::errc

  // True for a done result with a 2xx status: the tunnel is open (RFC 9110 section 9.3.6).
  bool established() const noexcept { return kind == done && status >= 200 && status < 300; }
};

class http_connect_parser {
 public:
  static constexpr std::size_t default_max_header_size = 16 * 1024;

  // `max_header_size`: bytes accepted before the final response's empty line (inclusive).
  explicit http_connect_parser(std::size_t max_header_size = default_max_header_size) noexcept
      : max_header_size_(max_header_size) {}

  // Consumes bytes from [data, data + size). need_more consumes everything; done and error
  // end the parse, and later calls return the same outcome with consumed 0. Errors:
  // http_bad_status_line, http_bad_field, http_header_too_large.
  http_connect_result feed(const char* data, std::size_t size);

  // Ready for a new response, with the same limit.
  void reset() noexcept;

 private:
  enum class state : std::uint8_t {
    version,     // "HTTP/1." and a digit
    version_sp,  // the SP after the version
    code,        // three digits
    code_end,    // SP, or the line end of an empty reason
    reason,      // up to the line end
    status_lf,   // LF after the status line's CR
    line_start,  // a field line, a fold, or the empty line
    name,        // field name up to ':'
    value,       // field value up to the line end
    field_lf,    // LF after a field line's CR
    end_lf,      // LF after the empty line's CR
    done,
    error,
  };

  http_connect_result finish_block(std::size_t consumed);
  http_connect_result fail(errc e, std::size_t consumed);

  std::size_t max_header_size_;
  std::size_t seen_ = 0;  // bytes consumed so far, 1xx responses included
  state state_ = state::version;
  std::uint8_t version_pos_ = 0;  // characters of "HTTP/1.d" matched
  std::uint8_t code_digits_ = 0;  // status digits read
  unsigned status_ = 0;           // status code being read, or the final one
  bool has_field_ = false;        // a field line precedes (an obs-fold may continue it)
  std::string reason_;            // the reason phrase of the response being read
  errc error_{};                  // the error, once state_ is error
};

// ---- SOCKS5 -------------------------------------------------------------------------------

// Where the proxy bound its side of the connection (BND.ADDR, BND.PORT of the reply).
struct socks5_address {
  enum type_type : std::uint8_t { ipv4 = 0x01, domain = 0x03, ipv6 = 0x04 };
  type_type type = ipv4;
  std::string_view address;  // 4 or 16 bytes in network order, or the name; a view into the client
  std::uint16_t port = 0;
};

struct socks5_result {
  enum kind_type : std::uint8_t { need_more, done, error };
  kind_type kind = need_more;
  std::size_t consumed = 0;  // bytes of this call's input used; done: the tunnel's bytes follow
  // need_more: when a reply completed, the next request to write before reading on (the auth
  // request or the CONNECT request); otherwise empty. A view into the client.
  std::string_view output;
  socks5_address bound;        // done
  std::error_code error_code;  // error: a proxy::errc
};

class socks5_client {
 public:
  enum class stage : std::uint8_t {
    method,   // waiting for the method selection reply
    auth,     // waiting for the username/password reply
    connect,  // waiting for the CONNECT reply
    done,     // the tunnel is open
    failed,   // error() says why
  };

  // Encodes the requests for a CONNECT to host:port, offering username/password when `user`
  // is not empty (the password is ignored otherwise). When the target or credentials cannot be
  // sent (bad_host, host_too_long, bad_port, user_too_long, password_too_long) the client
  // starts failed: error() says why, greeting() is empty and feed() returns the error.
  socks5_client(std::string_view host, std::uint16_t port, std::string_view user = {},
                std::string_view password = {}) noexcept;

  // The first bytes to write: VER 05, then the offered methods. Valid while the client lives.
  std::string_view greeting() const noexcept;

  // Consumes reply bytes from [data, data + size). need_more consumes everything; done and
  // error end the handshake, and later calls return the same outcome with consumed 0. Errors:
  // the socks_* codes.
  socks5_result feed(const char* data, std::size_t size);

  stage current_stage() const noexcept { return stage_; }
  std::error_code error() const noexcept;  // the error once failed, else nothing

 private:
  socks5_result fail(errc e, std::size_t consumed);
  socks5_result on_reply(std::size_t consumed, std::size_t size);
  socks5_result done_result(std::size_t consumed) const;

  // Requests, encoded by the constructor.
  std::array<char, 4> greeting_{};               // VER NMETHODS METHODS (at most two)
  std::array<char, 3 + 255 + 255> auth_{};       // VER ULEN UNAME PLEN PASSWD
  std::array<char, 4 + 1 + 255 + 2> request_{};  // VER CMD RSV ATYP DST.ADDR DST.PORT
  std::uint8_t greeting_size_ = 0;
  std::uint16_t auth_size_ = 0;
  std::uint16_t request_size_ = 0;

  // The reply being read.
  stage stage_ = stage::method;
  std::array<char, 4 + 1 + 255 + 2> reply_{};  // the largest reply: CONNECT with a domain
  std::uint16_t reply_size_ = 0;               // bytes of it held in reply_
  std::uint16_t reply_want_ = 2;               // bytes the reply has, as far as known so far
  errc error_{};                               // the error, once stage_ is failed
};

}  // namespace switchboard::runtime::proxy

template <>
struct std::is_error_code_enum<switchboard::runtime::proxy::errc> : std::true_type {};
