// credentials.hpp: what an upgrade request presents to authenticate itself, read from the
// Authorization header value and the request path. Pure functions over string_views: no
// socket, no clock, no user list; deciding whether the credentials are good is the
// authenticators' job (authenticator.hpp).
//
// Wire formats:
//   Basic          Authorization: Basic base64(user-id ":" password)          RFC 7617 section 2
//   Bearer         Authorization: Bearer b64token                             RFC 6750 section 2.1
//   other          Authorization: <auth-scheme> [<anything>]                  RFC 7235 section 2.1
//                  (kept verbatim for an application callback: the manual's
//                  OnUnknownAuthentication(AuthType, AuthData))
//   URL            /sgc/auth/url/<user>/<password>[/<route>]                  manual,
//   Authentication session        /sgc/auth/session/<token>[/<route>] manual, Authentication token
//   request  /sgc/req/auth/session/<user>/<password>                    manual, Authentication
//
// Choices:
// - Schemes are case-insensitive (RFC 7235 section 2.1); paths are case-sensitive.
// - Basic is strict: exactly one padded, canonical base64 token68 (base64.hpp); the user-id is
//   what precedes the first ':' (so it never contains one) and the password may contain ':'
//   (RFC 7617 section 2). Empty user-ids and passwords parse: the user list or the callback
//   decides about them. Non-ASCII octets pass through as sent; RFC 7617 section 2.1 has
//   clients send UTF-8 when the challenge says charset="UTF-8", which ours does. No Unicode
//   normalisation is done, so the user file must be written in the form clients send (NFC).
// - Control characters (CTL: 0x00-0x1F, 0x7F) are refused in user-ids and passwords, of the
//   Basic form (RFC 7617 section 2, "MUST NOT contain any control characters") and, after
//   percent-decoding, of the path forms.
// - Path segments are percent-decoded (RFC 3986 section 2.1, "%2F" for a '/' in a password);
//   '+' is a plus sign, not a space (that is a query-string convention). A '%' not followed by
//   two hex digits is an error.
// - The URL and session forms may continue after the credentials: "/sgc/auth/url/u/p/chat"
//   authenticates u and routes "/chat". With nothing after them (the manual's only form) the
//   route is "/". The token request admits nothing after the password.
// - A path that is exactly "/sgc/auth/url", "/sgc/auth/session" or "/sgc/req/auth/session", or
//   continues with '/', is of that form; "/sgc/auth/urlx" is an ordinary path.
// - Limits: the Authorization value and the path are at most max_credentials_size bytes
//   (default 4 KiB, under Beast's 8 KiB header limit); longer ones are `too_long`.
//
// Returned strings are copies (decoding changes them); `route_path` is a view, see below.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

namespace switchboard::runtime::auth {

// Default for the `max_size` arguments below.
inline constexpr std::size_t default_max_credentials_size = 4096;

enum class scheme : std::uint8_t {
  none,             // nothing presented (no Authorization value; an ordinary path)
  basic,            // Authorization: Basic
  bearer,           // Authorization: Bearer
  other,            // Authorization: any other scheme
  url,              // /sgc/auth/url/<user>/<password>
  session,          // /sgc/auth/session/<token>
  session_request,  // /sgc/req/auth/session/<user>/<password>
};

// The scheme's name for logs and messages ("Basic", "URL", ...).
std::string_view scheme_name(scheme s) noexcept;

struct credentials {
  auth::scheme scheme = scheme::none;
  std::string user;         // basic, url, session_request: decoded user-id
  std::string password;     // basic, url, session_request: decoded password
  std::string token;        // bearer, session: the token; other: the text after the scheme
  std::string scheme_name;  // other: the auth-scheme as sent ("Digest", "Negotiate", ...)
};

// Everything one request presents: at most one set from the path and one from the header.
struct presented_credentials {
  credentials from_path;    // url, session, session_request, or none
  credentials from_header;  // basic, bearer, other, or none
  // The path the WebSocket route is looked up with: `path` itself, or for the URL and session
  // forms what follows the credentials ("/" when nothing does). A view into the `path`
  // argument or into static storage: valid as long as the path is.
  std::string_view route_path;
};

enum class credentials_errc {
  too_long = 1,          // header value or path longer than the limit
  bad_scheme,            // the value does not start with an auth-scheme token (RFC 7235 2.1)
  missing_credentials,   // "Basic" or "Bearer" with nothing after it
  bad_base64,            // Basic: not one canonical padded base64 token (RFC 7617 2)
  missing_colon,         // Basic: no ':' between user-id and password (RFC 7617 2)
  control_character,     // Basic, URL, token request: a CTL in user-id or password (RFC 7617 2)
  bad_bearer_token,      // Bearer: not a b64token (RFC 6750 2.1)
  bad_percent_encoding,  // path form: '%' not followed by two hex digits (RFC 3986 2.1)
  missing_segment,       // path form: the password segment, or a non-empty token, is missing
  extra_segment,         // token request: the path goes on after the password
};

const std::error_category& credentials_category() noexcept;
inline std::error_code make_error_code(credentials_errc e) noexcept {
  return {static_cast<int>(e), credentials_category()};
}

// Reads an Authorization header value. An empty (or all-whitespace) value leaves `out` with
// scheme none and is not an error. Errors: too_long, bad_scheme, missing_credentials,
// bad_base64, missing_colon, control_character, bad_bearer_token.
std::error_code parse_authorization(std::string_view value, credentials& out,
                                    std::size_t max_size = default_max_credentials_size);

// Reads the URL, session and token-request forms from a request path (the target before
// '?', not yet percent-decoded). An ordinary path gives scheme none and route_path == path.
// Errors: too_long, bad_percent_encoding, missing_segment, extra_segment, control_character.
std::error_code parse_path(std::string_view path, credentials& out, std::string_view& route_path,
                           std::size_t max_size = default_max_credentials_size);

// Both of the above. On error `out` is unspecified.
std::error_code parse_request(std::string_view path, std::string_view authorization,
                              presented_credentials& out,
                              std::size_t max_size = default_max_credentials_size);

// True when `path` has the token-request form (well-formed or not): the request is answered
// with a token or an error, never routed.
bool is_session_request(std::string_view path) noexcept;

// Percent-encodes a path segment (everything but RFC 3986 unreserved characters), the inverse
// of the decoding parse_path does; for clients and tests building the path forms.
std::string encode_path_segment(std::string_view segment);

}  // namespace switchboard::runtime::auth

template <>
struct std::is_error_code_enum<switchboard::runtime::auth::credentials_errc> : std::true_type {};
