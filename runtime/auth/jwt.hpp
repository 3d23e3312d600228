// jwt.hpp: JSON Web Token verification, JWS compact serialization only (RFC 7515 section 7.1,
// RFC 7519 section 7.2), for `Authorization: Bearer` (RFC 6750). HS256, RS256 and ES256
// (RFC 7518 sections 3.2, 3.3, 3.4) through OpenSSL 3's EVP interfaces; JSON by RapidJSON.
//
// What verify() checks, in this order, stopping at the first broken rule (one jwt_errc each):
//   1. length <= max_token_size; exactly three '.'-separated parts, header and signature
//      non-empty (an unsecured JWS has an empty signature: refused as malformed);
//   2. each part is unpadded, canonical base64url (base64.hpp);
//   3. the header is a JSON object with unique member names (RFC 7515 section 4: we reject
//      duplicates rather than trust a parser's choice), a string "alg", and no "crit" (we
//      understand no extension, so any "crit" must be refused: section 4.1.11);
//   4. "alg" names an algorithm one of the configured keys is for. "none" and anything but
//      HS256, RS256, ES256 never are. This is what stops algorithm confusion (RFC 8725
//      section 2.1): a key is bound to one algorithm when it is loaded, an HS256 key is a
//      secret and an RS256/ES256 key an EVP_PKEY, so an HS256 token signed with an RSA
//      public key's PEM as HMAC secret finds no HS256 key and fails with alg_not_allowed;
//   5. the signature, against each key of that algorithm in turn (key rotation): HMAC-SHA256
//      compared with CRYPTO_memcmp; RSASSA-PKCS1-v1_5 SHA-256 by EVP_DigestVerify; ES256 as
//      the JOSE 64-byte R || S (RFC 7518 section 3.4), rebuilt as a DER ECDSA-Sig-Value for
//      EVP_DigestVerify (any other length is a bad signature);
//   6. only now, the claims set: a JSON object with unique names; exp, nbf, iat numbers;
//      iss, sub strings; aud a string or an array of strings (RFC 7519 section 4.1);
//   7. exp: now < exp + leeway; nbf: now >= nbf - leeway (leeway default 60 s; RFC 7519
//      4.1.4 and 4.1.5 allow "some small leeway"); exp is required unless require_exp is off;
//   8. iss equals the configured issuer, when one is configured; aud contains one of the
//      configured audiences, when any are (a token without aud then fails).
// Header parameters other than alg and crit (typ, kid, jku, jwk, x5u, x5c, ...) are ignored:
// keys come from configuration only, never from the token.
//
// The current time is an argument: no clock is read here. JSON is parsed iteratively (no
// recursion, so deep nesting cannot exhaust the stack) and must be valid UTF-8.
//
// Thread safety: jwt_key and jwt_verifier are immutable after construction; verify() is const
// and may run on any number of threads at once (OpenSSL 3 allows concurrent use of one
// EVP_PKEY for verification). Key loading throws config_error; verify() never throws except
// std::bad_alloc.
#pragma once

#include "runtime/auth/fwd.hpp"

#include <openssl/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace switchboard::runtime::auth {

enum class jwt_alg : std::uint8_t { hs256, rs256, es256 };

// "HS256", "RS256", "ES256".
std::string_view alg_name(jwt_alg a) noexcept;

// Minimums enforced when a key is loaded: RFC 7518 section 3.2 ("a key of the same size as the
// hash output or larger MUST be used") and section 3.3 (RSA keys of 2048 bits or larger).
inline constexpr std::size_t min_hs256_secret_size = 32;
inline constexpr int min_rsa_bits = 2048;

// One verification key, bound to one algorithm for its whole life. Cheap to copy (shared).
class jwt_key {
 public:
  // An HS256 secret (raw bytes). Throws config_error when shorter than 32 bytes.
  static jwt_key hs256(std::string_view secret);

  // An RSA key (RS256, at least 2048 bits) or an EC P-256 key (ES256), from PEM text holding a
  // public key (SubjectPublicKeyInfo, "BEGIN PUBLIC KEY"), an unencrypted private key (then
  // the key can also sign) or a certificate. The algorithm follows from the key type. Throws
  // config_error for anything else (other curves, RSA-PSS-only keys, encrypted keys, garbage).
  static jwt_key from_pem(std::string_view pem);

  // from_pem() of a file's contents. Throws config_error naming the file.
  static jwt_key from_pem_file(const std::string& path);

  jwt_alg alg() const noexcept { return alg_; }

  // True for HS256 secrets and for keys loaded from a private key.
  bool can_sign() const noexcept { return can_sign_; }

 private:
  friend class jwt_verifier;
  friend std::string sign_with_header(const jwt_key& key, std::string_view header_json,
                                      std::string_view claims_json);
  jwt_key() = default;

  jwt_alg alg_ = jwt_alg::hs256;
  bool can_sign_ = false;
  std::shared_ptr<const std::string> secret_;  // HS256 (cleansed when freed)
  std::shared_ptr<EVP_PKEY> pkey_;             // RS256, ES256
};

struct jwt_options {
  std::chrono::seconds leeway{60};     // allowed clock skew for exp and nbf
  std::string issuer;                  // when non-empty, "iss" must equal it
  std::vector<std::string> audiences;  // when non-empty, "aud" must contain one of them
  bool require_exp = true;             // refuse tokens without "exp" (they never expire)
  std::size_t max_token_size = 8192;   // longer tokens are too_long before any decoding
};

// What a verified token says. Times are seconds since the Unix epoch.
struct jwt_claims {
  jwt_alg alg = jwt_alg::hs256;        // the algorithm it was verified with
  std::string subject;                 // "sub", or empty; the authenticated user
  std::string issuer;                  // "iss", or empty
  std::vector<std::string> audiences;  // "aud" (a lone string becomes one element)
  std::optional<double> expires_at;    // "exp"
  std::optional<double> not_before;    // "nbf"
  std::optional<double> issued_at;     // "iat"
  std::string json;                    // the decoded claims set, for application claims
};

enum class jwt_errc {
  malformed = 1,     // not three '.'-separated parts, or an empty header or signature
  too_long,          // longer than jwt_options::max_token_size
  bad_base64,        // a part is not unpadded canonical base64url (RFC 7515 section 2)
  bad_json,          // header or claims set is not a valid UTF-8 JSON object
  duplicate_member,  // a header parameter or claim name appears twice (RFC 7515 section 4)
  missing_alg,       // the header has no "alg" string (RFC 7515 section 4.1.1)
  alg_not_allowed,   // "none", an unknown algorithm, or one no configured key is for
  unsupported_crit,  // the header has "crit" (RFC 7515 section 4.1.11)
  bad_signature,     // the signature does not verify with any key of the algorithm
  invalid_claim,     // exp/nbf/iat not a number, iss/sub not a string, aud neither
  missing_exp,       // no "exp" while jwt_options::require_exp
  expired,           // now >= exp + leeway (RFC 7519 section 4.1.4)
  not_yet_valid,     // now < nbf - leeway (RFC 7519 section 4.1.5)
  wrong_issuer,      // "iss" missing or not the configured issuer
  wrong_audience,    // "aud" missing or without a configured audience
};

const std::error_category& jwt_category() noexcept;
inline std::error_code make_error_code(jwt_errc e) noexcept {
  return {static_cast<int>(e), jwt_category()};
}

class jwt_verifier {
 public:
  // Throws config_error when `keys` is empty or an option is out of range.
  explicit jwt_verifier(std::vector<jwt_key> keys, jwt_options options = {});

  // Verifies a compact JWS and its claims at time `now`; fills `out` only on success.
  // Errors: every jwt_errc, in the order listed at the top of this file.
  std::error_code verify(std::string_view token, time_point now, jwt_claims& out) const;

  const jwt_options& options() const noexcept { return options_; }

 private:
  std::vector<jwt_key> keys_;
  jwt_options options_;
};

// Makes a compact JWS of `claims_json` (used verbatim as the payload) with the header
// {"alg":"<alg>","typ":"JWT"}. Throws std::invalid_argument when the key cannot sign, and
// std::runtime_error when OpenSSL fails. For tests, tools and applications issuing tokens.
std::string sign(const jwt_key& key, std::string_view claims_json);
std::string sign_hs256(std::string_view secret, std::string_view claims_json);

// As sign(), with the header JSON given verbatim (tests use it to make hostile headers).
std::string sign_with_header(const jwt_key& key, std::string_view header_json,
                             std::string_view claims_json);

}  // namespace switchboard::runtime::auth

template <>
struct std::is_error_code_enum<switchboard::runtime::auth::jwt_errc> : std::true_type {};
