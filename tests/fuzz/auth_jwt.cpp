// auth_jwt.cpp: libFuzzer target for runtime/auth/: the JWT verifier (jwt.hpp), the credential
// parsers (credentials.hpp), base64 (base64.hpp) and the authenticator chain
// (authenticator.hpp), on arbitrary bytes. No sockets, no clock (the time is fixed).
//
// Input layout: byte 0 chooses the mode (value mod 8), the rest is the mode's text.
//   0  a token for an HS256 verifier (issuer and audience configured)
//   1  a token for an ES256 verifier, and for a verifier holding both keys
//   2  a claims set, signed here with the HS256 key, then verified: reaches the claims checks
//   3  "header\nclaims", both signed here with the HS256 key: reaches the header checks behind
//      a valid signature
//   4  an ES256-signed claims set (the raw R || S conversion both ways)
//   5  an Authorization header value for parse_authorization
//   6  a request path for parse_path
//   7  "path\nauthorization" for a chain of URL, session, Basic and JWT authenticators; a token
//      issued for admin is redeemed in the same run when the path asks for session "TOKEN"
// Invariants (a violation is __builtin_trap):
//   - every error is of its module's category, with a message; verify() fills claims only on
//     success, and a success in mode 0/1 carries a configured algorithm;
//   - modes 2-4: a token we signed never fails on shape, base64, or signature; mode 2 never on
//     the header either; a success meets every configured claim rule (exp, nbf with leeway,
//     iss, aud);
//   - Basic credentials re-encoded parse to the same user and password; a Bearer token is the
//     value after the scheme; path credentials percent-encoded again parse to the same values
//     and the same route; a route path is "/" or a '/'-suffix of the path;
//   - a chain result is one of the four decisions; allowed has the route parse_path gives,
//     unauthorized and forbidden have a reason, token_issued a 43-character body; only
//     unauthorized carries WWW-Authenticate; base64 and base64url round-trip any input.
#include "runtime/auth/authenticator.hpp"
#include "runtime/auth/base64.hpp"
#include "runtime/auth/credentials.hpp"
#include "runtime/auth/jwt.hpp"
#include "runtime/auth/session_tokens.hpp"
#include "runtime/auth/users.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace auth = switchboard::runtime::auth;

#define FUZZ_CHECK(condition)           \
  do {                                  \
    if (!(condition)) __builtin_trap(); \
  } while (0)

namespace {

const std::string secret = "fuzzing secret, thirty-two bytes+";
const auth::time_point now = auth::time_point(std::chrono::seconds(1700000000));
constexpr double now_s = 1700000000;

std::string private_pem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string text(data, static_cast<std::size_t>(size));
  BIO_free(bio);
  return text;
}

struct fixture {
  auth::jwt_key hs = auth::jwt_key::hs256(secret);
  auth::jwt_key ec;
  auth::jwt_options options;
  std::unique_ptr<auth::jwt_verifier> hs_verifier, ec_verifier, both;
  std::shared_ptr<auth::session_tokens> tokens;
  std::unique_ptr<auth::chain> chain;

  fixture() : ec(make_ec()) {
    options.issuer = "https://issuer.example";
    options.audiences = {"switchboard", "chat"};
    hs_verifier = std::make_unique<auth::jwt_verifier>(std::vector<auth::jwt_key>{hs}, options);
    ec_verifier = std::make_unique<auth::jwt_verifier>(std::vector<auth::jwt_key>{ec});
    both = std::make_unique<auth::jwt_verifier>(std::vector<auth::jwt_key>{hs, ec});
    auth::session_options so;
    so.max_tokens = 64;  // eviction happens within a run
    tokens = std::make_shared<auth::session_tokens>(so);
    auto users = std::make_shared<const auth::user_list>(
        auth::user_list::parse("admin=1234\nalice=wonder land\n"));
    chain = std::make_unique<auth::chain>();
    chain->add(std::make_shared<auth::url_authenticator>(users))
        .add(std::make_shared<auth::session_authenticator>(users, tokens))
        .add(std::make_shared<auth::basic_authenticator>(users))
        .add(std::make_shared<auth::jwt_authenticator>(
            std::make_shared<const auth::jwt_verifier>(std::vector<auth::jwt_key>{hs, ec})));
  }

  static auth::jwt_key make_ec() {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    const std::string pem = private_pem(key);
    EVP_PKEY_free(key);
    return auth::jwt_key::from_pem(pem);
  }
};

fixture& state() {
  static fixture f;
  return f;
}

void check_error(const std::error_code& ec, const std::error_category& category) {
  if (!ec) return;
  FUZZ_CHECK(&ec.category() == &category);
  FUZZ_CHECK(!ec.message().empty());
}

// Verifies `token`; returns the error after checking the shared invariants.
std::error_code verify(const auth::jwt_verifier& v, std::string_view token) {
  auth::jwt_claims claims;
  claims.subject = "untouched";
  const std::error_code ec = v.verify(token, now, claims);
  check_error(ec, auth::jwt_category());
  FUZZ_CHECK(ERR_peek_error() == 0);  // the thread's OpenSSL error queue is left clean
  if (ec) {
    FUZZ_CHECK(claims.subject == "untouched");  // nothing filled on failure
    return ec;
  }
  const auth::jwt_options& o = v.options();
  const double leeway = static_cast<double>(o.leeway.count());
  FUZZ_CHECK(!o.require_exp || claims.expires_at);
  if (claims.expires_at) FUZZ_CHECK(now_s < *claims.expires_at + leeway);
  if (claims.not_before) FUZZ_CHECK(now_s >= *claims.not_before - leeway);
  if (!o.issuer.empty()) FUZZ_CHECK(claims.issuer == o.issuer);
  if (!o.audiences.empty()) {
    bool found = false;
    for (const auto& a : claims.audiences)
      for (const auto& want : o.audiences)
        found = found || a == want;
    FUZZ_CHECK(found);
  }
  return ec;
}

bool is_signing_failure(const std::error_code& ec) {
  using auth::jwt_errc;
  return ec == jwt_errc::malformed || ec == jwt_errc::too_long || ec == jwt_errc::bad_base64 ||
         ec == jwt_errc::bad_signature;
}

bool is_header_failure(const std::error_code& ec) {
  using auth::jwt_errc;
  return ec == jwt_errc::missing_alg || ec == jwt_errc::alg_not_allowed ||
         ec == jwt_errc::unsupported_crit;
}

void check_base64(std::string_view text) {
  std::string out;
  FUZZ_CHECK(auth::decode_base64(auth::encode_base64(text), out) && out == text);
  FUZZ_CHECK(auth::decode_base64url(auth::encode_base64url(text), out) && out == text);
  // A text that decodes is canonical: encoding the result gives it back.
  if (auth::decode_base64(text, out)) FUZZ_CHECK(auth::encode_base64(out) == text);
  if (auth::decode_base64url(text, out)) FUZZ_CHECK(auth::encode_base64url(out) == text);
}

void check_authorization(std::string_view value) {
  auth::credentials c;
  const std::error_code ec = auth::parse_authorization(value, c);
  check_error(ec, auth::credentials_category());
  if (ec) return;
  if (c.scheme == auth::scheme::basic) {
    FUZZ_CHECK(c.user.find(':') == std::string::npos);
    auth::credentials again;
    FUZZ_CHECK(!auth::parse_authorization("Basic " + auth::encode_base64(c.user + ":" + c.password),
                                          again));
    FUZZ_CHECK(again.scheme == auth::scheme::basic && again.user == c.user &&
               again.password == c.password);
  } else if (c.scheme == auth::scheme::bearer) {
    FUZZ_CHECK(!c.token.empty() && value.find(c.token) != std::string_view::npos);
  } else if (c.scheme == auth::scheme::other) {
    FUZZ_CHECK(!c.scheme_name.empty());
  } else {
    FUZZ_CHECK(c.scheme == auth::scheme::none);
  }
}

void check_path(std::string_view path) {
  auth::credentials c;
  std::string_view route;
  const std::error_code ec = auth::parse_path(path, c, route);
  check_error(ec, auth::credentials_category());
  if (ec) return;
  if (c.scheme == auth::scheme::none) {
    FUZZ_CHECK(route.data() == path.data() && route.size() == path.size());
    return;
  }
  FUZZ_CHECK(route == "/" ||
             (!route.empty() && route.front() == '/' && path.size() >= route.size() &&
              path.substr(path.size() - route.size()) == route));
  std::string rebuilt;
  if (c.scheme == auth::scheme::session) {
    FUZZ_CHECK(!c.token.empty());
    rebuilt = "/sgc/auth/session/" + auth::encode_path_segment(c.token);
  } else {
    rebuilt =
        std::string(c.scheme == auth::scheme::url ? "/sgc/auth/url/" : "/sgc/req/auth/session/") +
        auth::encode_path_segment(c.user) + "/" + auth::encode_path_segment(c.password);
  }
  if (route != "/") rebuilt += route;
  if (rebuilt.size() > auth::default_max_credentials_size) return;
  auth::credentials again;
  std::string_view route_again;
  FUZZ_CHECK(!auth::parse_path(rebuilt, again, route_again));
  FUZZ_CHECK(again.scheme == c.scheme && again.user == c.user && again.password == c.password &&
             again.token == c.token && route_again == route);
}

void check_chain(std::string_view text) {
  fixture& f = state();
  const std::size_t nl = text.find('\n');
  std::string path(text.substr(0, nl));
  const std::string_view authorization =
      nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
  // Let the fuzzer reach a valid session token: "TOKEN" in the path is replaced by a fresh one.
  const std::size_t mark = path.find("TOKEN");
  if (mark != std::string::npos) {
    std::string token;
    if (!f.tokens->issue("admin", now, token)) path.replace(mark, 5, token);
  }
  const auth::auth_result r = f.chain->authenticate({path, authorization, "fuzz", now});
  bool challenged = false;
  for (const auto& [name, value] : r.headers) {
    FUZZ_CHECK(!name.empty() && value.find_first_of("\r\n") == std::string::npos);
    challenged = challenged || name == "WWW-Authenticate";
  }
  switch (r.decision) {
    case auth::decision::allowed: {
      // The route is the path itself, or for the URL and session forms a '/'-suffix of it.
      auth::credentials c;
      std::string_view route;
      FUZZ_CHECK(!auth::parse_path(path, c, route) && r.route_path == route);
      FUZZ_CHECK(c.scheme == auth::scheme::none ? route == path
                                                : !route.empty() && route.front() == '/');
      FUZZ_CHECK(r.scheme != auth::scheme::none && r.scheme != auth::scheme::session_request);
      FUZZ_CHECK(!challenged && r.body.empty());
      break;
    }
    case auth::decision::unauthorized:
      FUZZ_CHECK(!r.reason.empty() && r.user.empty() && r.route_path.empty());
      FUZZ_CHECK(challenged != auth::is_session_request(path));
      break;
    case auth::decision::forbidden:
      FUZZ_CHECK(false);  // no authorizer or callback here refuses
      break;
    case auth::decision::token_issued:
      FUZZ_CHECK(r.body.size() == 43 && (r.user == "admin" || r.user == "alice"));
      FUZZ_CHECK(auth::is_session_request(path) && !challenged);
      break;
  }
  FUZZ_CHECK(f.tokens->size() <= f.tokens->options().max_tokens);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  fixture& f = state();
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 8) {
    case 0:
      verify(*f.hs_verifier, text);
      break;
    case 1:
      verify(*f.ec_verifier, text);
      verify(*f.both, text);
      break;
    case 2: {
      const std::error_code ec = verify(*f.hs_verifier, auth::sign(f.hs, text));
      FUZZ_CHECK(!is_signing_failure(ec) || ec == auth::jwt_errc::too_long);
      FUZZ_CHECK(!is_header_failure(ec));
      break;
    }
    case 3: {
      const std::size_t nl = text.find('\n');
      const std::string_view header = text.substr(0, nl);
      const std::string_view claims =
          nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
      const std::string token = auth::sign_with_header(f.hs, header, claims);
      const std::error_code ec = verify(*f.hs_verifier, token);
      // An empty header encodes to an empty part: the one shape error we can cause ourselves.
      FUZZ_CHECK(!is_signing_failure(ec) || ec == auth::jwt_errc::too_long ||
                 (header.empty() && ec == auth::jwt_errc::malformed));
      break;
    }
    case 4: {
      const std::error_code ec = verify(*f.ec_verifier, auth::sign(f.ec, text));
      FUZZ_CHECK(!is_signing_failure(ec) || ec == auth::jwt_errc::too_long);
      FUZZ_CHECK(!is_header_failure(ec));
      break;
    }
    case 5:
      check_authorization(text);
      check_base64(text);
      break;
    case 6:
      check_path(text);
      break;
    case 7:
      check_chain(text);
      break;
  }
  return 0;
}
