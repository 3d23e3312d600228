// authenticator.hpp: authentication at the WebSocket handshake, as pluggable authenticators
// tried by a chain. The server calls chain::authenticate() once per upgrade request (and for a
// plain GET of the session-token path, see is_session_request()) and answers with the result.
// No socket, no clock, no logging: the caller passes the request's path, Authorization value,
// peer address and the current time, and sends what the result says.
//
// Schemes (credentials.hpp has the wire formats):
//   basic_authenticator    Authorization: Basic, against a password check (the user list)
//   url_authenticator      /sgc/auth/url/<user>/<password>, same check
//   session_authenticator  GET /sgc/req/auth/session/<user>/<password> -> token (200, body);
//                          /sgc/auth/session/<token> connects (session_tokens.hpp)
//   jwt_authenticator      Authorization: Bearer <JWT> (jwt.hpp); the user is "sub"
//   callback_authenticator the application decides, for any scheme (the manual's
//                          OnAuthentication / OnUnknownAuthentication)
// The password-checking ones take either a user_list (--auth-users FILE) or a function, so an
// application can check passwords itself (OnAuthentication(user, password)).
//
// How the chain decides (chain::authenticate):
// 1. It reads the credentials from the path and the header (parse_request). Malformed ones
//    are a 401 (reason: the credentials_errc message), whatever else the request presents.
// 2. A token request (/sgc/req/auth/session/...) is answered from its path alone: token_issued
//    (200, the token as a text/plain body, Cache-Control: no-store) when the user and password
//    check, else 401 without challenges (a Basic challenge there would make a browser that
//    fetches the token open a login dialog). It is never `allowed`: it opens no WebSocket.
// 3. Otherwise the path's credentials (URL, session) are tried first, then the header's (Basic,
//    Bearer, other). For each, every authenticator is asked in the order added; one that does
//    not handle the scheme says so (nullopt) and the next is asked:
//      - the first `allowed` wins: the request is authenticated as its user. Then the
//        authorizer, if set, may still refuse the user: 403 (valid credentials, refused);
//      - a `forbidden` ends the chain at once: 403;
//      - an `unauthorized` (wrong password, bad or expired token) lets the next try; if no one
//        allows, the first failure is the answer: 401.
// 4. No credentials at all, or only of schemes no authenticator handles: 401.
// Every 401 of an upgrade carries one WWW-Authenticate header per configured challenge, in
// the order added (RFC 7235 section 4.1): `Basic realm="...", charset="UTF-8"` (RFC 7617)
// and `Bearer realm="..."`, with `error="invalid_token"` when a Bearer token was presented
// (RFC 6750 section 3.1). The URL and session forms have no challenge. chain_options::
// failure_headers (the manual's Authentication.Basic.CustomHeaders) go on every 401 and 403.
//
// Route path: the URL and session forms name the credentials in the path, so the WebSocket
// route is looked up with what follows them: ws://host/sgc/auth/url/u/p (the manual's form)
// routes "/", ws://host/sgc/auth/url/u/p/chat routes "/chat", and the same for
// /sgc/auth/session/<token>[/...]. This holds whichever credentials were accepted. Any other
// path routes as it is. auth_result::route_path has it.
//
// Thread safety: set a chain up (add, set_authorizer) before serving; authenticate() is const
// and may run on all io threads at once. The authenticators here are safe for that
// (user_list and jwt_verifier are immutable, session_tokens locks); callbacks must be too.
#pragma once

#include "runtime/auth/credentials.hpp"
#include "runtime/auth/fwd.hpp"
#include "runtime/auth/jwt.hpp"
#include "runtime/auth/session_tokens.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace switchboard::runtime::auth {

struct auth_request {
  std::string_view path;           // request target before '?', as sent (not percent-decoded)
  std::string_view authorization;  // the Authorization header value, or empty
  std::string_view remote;         // the peer's address ("203.0.113.7:5123"), for callbacks
  time_point now;                  // the time token expiry is judged by
};

enum class decision : std::uint8_t {
  allowed,       // go on with the upgrade (101), routing route_path, as `user`
  unauthorized,  // answer 401 with `headers`, then close
  forbidden,     // answer 403 with `headers`, then close
  token_issued,  // answer 200, text/plain, `body` (the session token) with `headers`; no upgrade
};

// 101, 401, 403 and 200 respectively.
unsigned status_for(decision d) noexcept;

using header_list = std::vector<std::pair<std::string, std::string>>;

struct auth_result {
  auth::decision decision = decision::unauthorized;
  auth::scheme scheme = scheme::none;  // the credentials that decided (for logs and metrics)
  std::string user;                    // allowed, token_issued: the authenticated user
  std::string route_path;              // allowed: the path to look the WebSocket route up with
  std::string body;                    // token_issued: the token
  header_list headers;                 // extra response headers (challenges, custom headers)
  std::string reason;                  // unauthorized, forbidden: why, for logs and the body

  static auth_result allow(std::string user);
  static auth_result deny(std::string reason);    // unauthorized
  static auth_result forbid(std::string reason);  // forbidden
};

// One scheme's judge.
class authenticator {
 public:
  virtual ~authenticator() = default;

  // The verdict on credentials `c` presented by request `r`, or nullopt when `c` is of a scheme
  // this authenticator does not handle. Must not throw (beyond std::bad_alloc).
  virtual std::optional<auth_result> authenticate(const auth_request& r,
                                                  const credentials& c) const = 0;

  // The WWW-Authenticate value this scheme adds to a 401, or empty. `p` is what the request
  // presented (a Bearer challenge says error="invalid_token" when a token was sent).
  virtual std::string challenge(const presented_credentials& p) const;
};

// Checks a user and password (the manual's OnAuthentication). Called on io threads.
using password_check = std::function<bool(std::string_view user, std::string_view password)>;

// A password_check against a user list.
password_check check_against(std::shared_ptr<const user_list> users);

// Authorization: Basic (RFC 7617). Challenge: Basic realm="<realm>", charset="UTF-8".
// Throws config_error for a realm with '"', '\' or control characters.
class basic_authenticator final : public authenticator {
 public:
  explicit basic_authenticator(password_check check, std::string realm = "switchboard");
  explicit basic_authenticator(std::shared_ptr<const user_list> users,
                               std::string realm = "switchboard");
  std::optional<auth_result> authenticate(const auth_request& r,
                                          const credentials& c) const override;
  std::string challenge(const presented_credentials& p) const override;

 private:
  password_check check_;
  std::string realm_;
};

// /sgc/auth/url/<user>/<password>.
class url_authenticator final : public authenticator {
 public:
  explicit url_authenticator(password_check check);
  explicit url_authenticator(std::shared_ptr<const user_list> users);
  std::optional<auth_result> authenticate(const auth_request& r,
                                          const credentials& c) const override;

 private:
  password_check check_;
};

// The token request /sgc/req/auth/session/<user>/<password> (token_issued) and the session
// form /sgc/auth/session/<token> (allowed as the token's user).
class session_authenticator final : public authenticator {
 public:
  session_authenticator(password_check check, std::shared_ptr<session_tokens> tokens);
  session_authenticator(std::shared_ptr<const user_list> users,
                        std::shared_ptr<session_tokens> tokens);
  std::optional<auth_result> authenticate(const auth_request& r,
                                          const credentials& c) const override;

 private:
  password_check check_;
  std::shared_ptr<session_tokens> tokens_;
};

// Authorization: Bearer <JWT>; allowed as "sub" (empty when the token has none).
// Challenge: Bearer realm="<realm>"[, error="invalid_token"]. Throws config_error as Basic.
class jwt_authenticator final : public authenticator {
 public:
  explicit jwt_authenticator(std::shared_ptr<const jwt_verifier> verifier,
                             std::string realm = "switchboard");
  std::optional<auth_result> authenticate(const auth_request& r,
                                          const credentials& c) const override;
  std::string challenge(const presented_credentials& p) const override;

 private:
  std::shared_ptr<const jwt_verifier> verifier_;
  std::string realm_;
};

// The application decides: `decide` sees every credentials the request presents (Basic,
// Bearer, other schemes with their name and text, URL, session) and returns a verdict, or
// nullopt to leave them to the next authenticator. Use auth_result::allow(user), deny(reason)
// (401) or forbid(reason) (403). It is not asked about token requests. `challenge`, if not
// empty, is added to 401s as a WWW-Authenticate value.
class callback_authenticator final : public authenticator {
 public:
  using function =
      std::function<std::optional<auth_result>(const auth_request&, const credentials&)>;
  explicit callback_authenticator(function decide, std::string challenge = {});
  std::optional<auth_result> authenticate(const auth_request& r,
                                          const credentials& c) const override;
  std::string challenge(const presented_credentials& p) const override;

 private:
  function decide_;
  std::string challenge_;
};

struct chain_options {
  header_list failure_headers;  // added to every 401 and 403 (Authentication.Basic.CustomHeaders)
  std::size_t max_credentials_size = default_max_credentials_size;  // header value, path
};

// After an `allowed`: false refuses the authenticated user with 403.
using authorizer = std::function<bool(const auth_request&, const auth_result&)>;

class chain {
 public:
  // Throws config_error when max_credentials_size is 0 or a failure header is not a valid
  // field (empty or non-token name, CR/LF/NUL in the value).
  explicit chain(chain_options options = {});

  chain& add(std::shared_ptr<const authenticator> a);
  chain& set_authorizer(authorizer f);
  bool empty() const noexcept { return authenticators_.empty(); }

  // The decision on one request; see the top of this file. Never throws beyond bad_alloc.
  auth_result authenticate(const auth_request& r) const;

 private:
  auth_result fail(auth_result result, const presented_credentials* p) const;

  chain_options options_;
  std::vector<std::shared_ptr<const authenticator>> authenticators_;
  authorizer authorizer_;
};

// What the daemon's flags configure.
struct auth_config {
  std::string users_file;      // --auth-users FILE: enables the schemes below it
  bool basic = true;           //   Authorization: Basic
  bool url = true;             //   /sgc/auth/url/<user>/<password>
  bool session = true;         //   /sgc/req/auth/session/... and /sgc/auth/session/<token>
  session_options sessions;    //   token ttl, bound, single use
  std::string jwt_secret;      // --jwt-secret: an HS256 secret (at least 32 bytes)
  std::string jwt_public_key;  // --jwt-public-key: PEM text, or the path of a PEM file
  jwt_options jwt;             // leeway, issuer, audiences, require_exp
  std::string realm = "switchboard";
  chain_options chain;
};

// The chain `config` describes, or nullptr when it enables no scheme (authentication off).
// Throws config_error (unreadable or malformed users file, bad key, bad realm).
std::unique_ptr<chain> make_chain(const auth_config& config);

}  // namespace switchboard::runtime::auth
