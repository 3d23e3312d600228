// session_tokens.hpp: the tokens of the manual's session scheme. A client asks
// GET /sgc/req/auth/session/<user>/<password>, receives a token, and connects to
// ws://host/sgc/auth/session/<token> (credentials.hpp has the paths).
//
// A token is 32 bytes from RAND_bytes (OpenSSL's CSPRNG), sent as 43 base64url characters,
// bound to a user and an expiry. Choices:
// - Single-use by default: a successful redeem() removes the token. The token travels in a URL,
//   where proxies, logs and browser history keep it, so a token that connected once must not
//   connect again; a client that reconnects asks for a new one (it holds the password anyway,
//   it needed it for the first request). `single_use = false` makes tokens reusable until
//   they expire, for clients that cannot repeat the request.
// - Short-lived: ttl defaults to 60 s, since the token is meant to be used right away.
// - Bounded: at most max_tokens (default 100,000) live at once; issuing one more evicts the
//   oldest. Expired tokens are dropped as they are met and by purge(); issue() drops the
//   expired ones at the old end first, so a steady flow does not hit the bound.
// - Only SHA-256 digests of the tokens are stored: the table holds nothing a memory dump could
//   replay, and the hash-table lookup works on digests, not on the secret text.
// - Time is an argument (no clock here). A token issued at t expires at t + ttl and is
//   refused from then on (`expired`); an unknown, used or evicted token is `unknown_token`.
//
// Thread safety: every member function may be called from any thread; one mutex guards the
// table (held for a lookup, never across I/O or RAND_bytes).
#pragma once

#include "runtime/auth/fwd.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>

namespace switchboard::runtime::auth {

struct session_options {
  std::chrono::seconds ttl{60};     // a token expires this long after it is issued
  std::size_t max_tokens = 100000;  // live tokens at most; the oldest is evicted past it
  bool single_use = true;           // redeem() consumes the token
};

enum class session_errc {
  unknown_token = 1,  // never issued, already used (single-use), evicted, or purged
  expired,            // issued, but now >= issue time + ttl
  rng_failed,         // RAND_bytes failed: no token issued
};

const std::error_category& session_category() noexcept;
inline std::error_code make_error_code(session_errc e) noexcept {
  return {static_cast<int>(e), session_category()};
}

class session_tokens {
 public:
  // Throws config_error when ttl is not positive or max_tokens is 0.
  explicit session_tokens(session_options options = {});

  // Issues a token for `user`, valid until now + ttl. Errors: rng_failed.
  std::error_code issue(std::string_view user, time_point now, std::string& token);

  // The user a token was issued to; consumes it when single-use. Errors: unknown_token,
  // expired (the token is dropped either way).
  std::error_code redeem(std::string_view token, time_point now, std::string& user);

  // Drops every expired token; returns how many.
  std::size_t purge(time_point now);

  // Live tokens (expired ones not yet dropped included).
  std::size_t size() const;

  const session_options& options() const noexcept { return options_; }

 private:
  using digest = std::array<unsigned char, 32>;
  struct digest_hash {
    std::size_t operator()(const digest& d) const noexcept;
  };
  struct entry {
    std::string user;
    time_point expires;
    std::list<digest>::iterator order;  // its place in order_
  };

  void erase(std::unordered_map<digest, entry, digest_hash>::iterator it);  // mutex_ held

  const session_options options_;
  mutable std::mutex mutex_;
  std::unordered_map<digest, entry, digest_hash> tokens_;  // SHA-256(token) -> entry
  std::list<digest> order_;                                // oldest issued first
};

}  // namespace switchboard::runtime::auth

template <>
struct std::is_error_code_enum<switchboard::runtime::auth::session_errc> : std::true_type {};
