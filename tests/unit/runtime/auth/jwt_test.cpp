// jwt_test.cpp: tests of runtime/auth/jwt.hpp: the RFC 7515 appendix A.1 (HS256) and A.3
// (ES256) examples verified as published, tokens signed here with generated RSA and EC keys,
// every jwt_errc, algorithm confusion (RFC 8725 section 2.1), exp/nbf with leeway, iss and
// aud (string and array), and key loading (PEM public, private, certificate; refused keys).
#include "runtime/auth/jwt.hpp"

#include "runtime/auth/base64.hpp"
#include "runtime/config.hpp"
#include "test_keys.hpp"

#include <openssl/err.h>
#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <fstream>
#include <string>
#include <string_view>

namespace auth = switchboard::runtime::auth;
namespace keys = switchboard::runtime::auth::test;
using auth::jwt_errc;
using switchboard::runtime::config_error;

namespace {

const std::string secret = "0123456789abcdef0123456789abcdef";  // 32 bytes, the minimum

auth::time_point at(double seconds) {
  return auth::time_point(std::chrono::duration_cast<auth::time_point::duration>(
      std::chrono::duration<double>(seconds)));
}

constexpr double now_s = 1700000000;  // the tests' "now"
const auth::time_point now = at(now_s);

// Claims valid at `now`: sub "alice", expiring in an hour.
std::string claims(std::string_view extra = {}) {
  std::string json =
      "{\"sub\":\"alice\",\"exp\":" + std::to_string(static_cast<long>(now_s) + 3600);
  if (!extra.empty()) json += "," + std::string(extra);
  return json + "}";
}

std::error_code verify(const auth::jwt_verifier& v, std::string_view token,
                       auth::time_point t = now, auth::jwt_claims* out = nullptr) {
  auth::jwt_claims c;
  const std::error_code ec = v.verify(token, t, c);
  if (out) *out = c;
  return ec;
}

auth::jwt_verifier hs_verifier(auth::jwt_options o = {}) {
  return auth::jwt_verifier({auth::jwt_key::hs256(secret)}, std::move(o));
}

auth::jwt_key hs_key() {
  return auth::jwt_key::hs256(secret);
}

// A token with a hand-made header, signed with the HS256 test secret.
std::string hs_token_with_header(std::string_view header_json, std::string_view claims_json) {
  return auth::sign_with_header(hs_key(), header_json, claims_json);
}

// Replaces part `index` (0 header, 1 payload, 2 signature) of a compact token.
std::string with_part(std::string token, int index, std::string_view part) {
  const std::size_t d1 = token.find('.');
  const std::size_t d2 = token.find('.', d1 + 1);
  const std::size_t begin = index == 0 ? 0 : index == 1 ? d1 + 1 : d2 + 1;
  const std::size_t end = index == 0 ? d1 : index == 1 ? d2 : token.size();
  return token.replace(begin, end - begin, part);
}

std::string part(const std::string& token, int index) {
  const std::size_t d1 = token.find('.');
  const std::size_t d2 = token.find('.', d1 + 1);
  if (index == 0) return token.substr(0, d1);
  if (index == 1) return token.substr(d1 + 1, d2 - d1 - 1);
  return token.substr(d2 + 1);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(auth_jwt)

BOOST_AUTO_TEST_CASE(hs256_example_rfc7515_a_1) {
  const auth::jwt_key key = auth::jwt_key::hs256(keys::b64url_decoded(keys::rfc7515_a1_key_b64url));
  const auth::jwt_verifier v({key});
  auth::jwt_claims c;
  BOOST_TEST(!verify(v, keys::rfc7515_a1_token, at(keys::rfc7515_exp - 3600), &c));
  BOOST_TEST((c.alg == auth::jwt_alg::hs256));
  BOOST_TEST(c.issuer == "joe");
  BOOST_TEST(c.subject.empty());
  BOOST_TEST(c.expires_at.value() == keys::rfc7515_exp);
  BOOST_TEST(c.json.find("\"http://example.com/is_root\":true") != std::string::npos);
  // Signing the same header and payload again gives the RFC's signature (HMAC is deterministic).
  const std::string header = keys::b64url_decoded(part(std::string(keys::rfc7515_a1_token), 0));
  const std::string payload = keys::b64url_decoded(part(std::string(keys::rfc7515_a1_token), 1));
  BOOST_TEST(auth::sign_with_header(key, header, payload) == keys::rfc7515_a1_token);
  // Published in 2011: long expired by now.
  BOOST_TEST(verify(v, keys::rfc7515_a1_token) == jwt_errc::expired);
}

BOOST_AUTO_TEST_CASE(es256_example_rfc7515_a_3) {
  const auth::jwt_key key = auth::jwt_key::from_pem(keys::rfc7515_a3_public_pem());
  BOOST_TEST((key.alg() == auth::jwt_alg::es256));
  BOOST_TEST(!key.can_sign());
  const auth::jwt_verifier v({key});
  auth::jwt_claims c;
  BOOST_TEST(!verify(v, keys::rfc7515_a3_token, at(keys::rfc7515_exp - 1), &c));
  BOOST_TEST((c.alg == auth::jwt_alg::es256));
  BOOST_TEST(c.issuer == "joe");
  // Any flipped bit of R or S breaks it.
  std::string sig = keys::b64url_decoded(part(std::string(keys::rfc7515_a3_token), 2));
  for (const std::size_t i : {std::size_t{0}, std::size_t{31}, std::size_t{32}, std::size_t{63}}) {
    std::string bad = sig;
    bad[i] = static_cast<char>(bad[i] ^ 1);
    BOOST_TEST(
        verify(v, with_part(std::string(keys::rfc7515_a3_token), 2, auth::encode_base64url(bad)),
               at(keys::rfc7515_exp - 1)) == jwt_errc::bad_signature);
  }
  // A DER signature (what OpenSSL produces) is not the JOSE form: refused (RFC 7518 3.4).
  BOOST_TEST(verify(v,
                    with_part(std::string(keys::rfc7515_a3_token), 2,
                              auth::encode_base64url(sig.substr(0, 63))),
                    at(keys::rfc7515_exp - 1)) == jwt_errc::bad_signature);
  BOOST_TEST(
      verify(v,
             with_part(std::string(keys::rfc7515_a3_token), 2, auth::encode_base64url(sig + "x")),
             at(keys::rfc7515_exp - 1)) == jwt_errc::bad_signature);
}

BOOST_AUTO_TEST_CASE(hs256_sign_and_verify) {
  const std::string token = auth::sign_hs256(secret, claims());
  BOOST_TEST(part(token, 0) == auth::encode_base64url("{\"alg\":\"HS256\",\"typ\":\"JWT\"}"));
  auth::jwt_claims c;
  BOOST_TEST(!verify(hs_verifier(), token, now, &c));
  BOOST_TEST(c.subject == "alice");
  // Another secret, a truncated or extended signature, a changed payload: bad_signature.
  const auth::jwt_verifier other({auth::jwt_key::hs256(secret + "x")});
  BOOST_TEST(verify(other, token) == jwt_errc::bad_signature);
  const std::string sig = keys::b64url_decoded(part(token, 2));
  BOOST_TEST(
      verify(hs_verifier(), with_part(token, 2, auth::encode_base64url(sig.substr(0, 31)))) ==
      jwt_errc::bad_signature);
  BOOST_TEST(verify(hs_verifier(),
                    with_part(token, 2, auth::encode_base64url(sig + std::string(1, '\0')))) ==
             jwt_errc::bad_signature);
  BOOST_TEST(verify(hs_verifier(),
                    with_part(token, 1, auth::encode_base64url(claims("\"admin\":true")))) ==
             jwt_errc::bad_signature);
}

BOOST_AUTO_TEST_CASE(rs256_sign_and_verify_rfc7518_3_3) {
  const auth::jwt_key signer = auth::jwt_key::from_pem(keys::private_pem(keys::rsa2048()));
  BOOST_TEST((signer.alg() == auth::jwt_alg::rs256));
  BOOST_TEST(signer.can_sign());
  const std::string token = auth::sign(signer, claims());
  const auth::jwt_verifier v({auth::jwt_key::from_pem(keys::public_pem(keys::rsa2048()))});
  auth::jwt_claims c;
  BOOST_TEST(!verify(v, token, now, &c));
  BOOST_TEST((c.alg == auth::jwt_alg::rs256));
  BOOST_TEST(c.subject == "alice");
  const auth::jwt_verifier other(
      {auth::jwt_key::from_pem(keys::public_pem(keys::other_rsa2048()))});
  BOOST_TEST(verify(other, token) == jwt_errc::bad_signature);
  BOOST_TEST(verify(v, with_part(token, 1, auth::encode_base64url(claims("\"x\":1")))) ==
             jwt_errc::bad_signature);
}

BOOST_AUTO_TEST_CASE(es256_sign_and_verify_rfc7518_3_4) {
  const auth::jwt_key signer = auth::jwt_key::from_pem(keys::private_pem(keys::p256()));
  BOOST_TEST((signer.alg() == auth::jwt_alg::es256));
  const auth::jwt_verifier v({auth::jwt_key::from_pem(keys::public_pem(keys::p256()))});
  for (int i = 0; i < 20; ++i) {  // R or S with leading zero bytes must still be 32 bytes each
    const std::string token = auth::sign(signer, claims("\"n\":" + std::to_string(i)));
    BOOST_TEST_REQUIRE(keys::b64url_decoded(part(token, 2)).size() == 64u);
    BOOST_TEST_REQUIRE(!verify(v, token));
  }
  const auth::jwt_verifier other({auth::jwt_key::from_pem(keys::public_pem(keys::other_p256()))});
  BOOST_TEST(verify(other, auth::sign(signer, claims())) == jwt_errc::bad_signature);
  // An all-zero R || S is not a valid signature.
  BOOST_TEST(verify(v, with_part(auth::sign(signer, claims()), 2,
                                 auth::encode_base64url(std::string(64, '\0')))) ==
             jwt_errc::bad_signature);
}

BOOST_AUTO_TEST_CASE(algorithm_confusion_rfc8725_2_1) {
  const std::string rsa_public = keys::public_pem(keys::rsa2048());
  const std::string ec_public = keys::public_pem(keys::p256());
  const auth::jwt_verifier rsa({auth::jwt_key::from_pem(rsa_public)});
  const auth::jwt_verifier ec({auth::jwt_key::from_pem(ec_public)});
  // The classic attack: HS256 with the public key's PEM text as the HMAC secret.
  const std::string forged_rsa = auth::sign_hs256(rsa_public, claims());
  const std::string forged_ec = auth::sign_hs256(ec_public, claims());
  BOOST_TEST(verify(rsa, forged_rsa) == jwt_errc::alg_not_allowed);
  BOOST_TEST(verify(ec, forged_ec) == jwt_errc::alg_not_allowed);
  // An ES256 token to an RS256-only verifier and the other way round.
  const auth::jwt_key ec_signer = auth::jwt_key::from_pem(keys::private_pem(keys::p256()));
  const auth::jwt_key rsa_signer = auth::jwt_key::from_pem(keys::private_pem(keys::rsa2048()));
  BOOST_TEST(verify(rsa, auth::sign(ec_signer, claims())) == jwt_errc::alg_not_allowed);
  BOOST_TEST(verify(ec, auth::sign(rsa_signer, claims())) == jwt_errc::alg_not_allowed);
  // A relabelled header: an RS256 signature presented as ES256 to a verifier with both keys.
  const auth::jwt_verifier both(
      {auth::jwt_key::from_pem(rsa_public), auth::jwt_key::from_pem(ec_public)});
  const std::string rs = auth::sign(rsa_signer, claims());
  BOOST_TEST(!verify(both, rs));
  BOOST_TEST(verify(both, with_part(rs, 0, auth::encode_base64url("{\"alg\":\"ES256\"}"))) ==
             jwt_errc::bad_signature);
  // An HS256 verifier does not take RS256 tokens either.
  BOOST_TEST(verify(hs_verifier(), rs) == jwt_errc::alg_not_allowed);
}

BOOST_AUTO_TEST_CASE(alg_none_and_unknown_are_refused_rfc8725_3_1) {
  const auth::jwt_verifier v = hs_verifier();
  const std::string payload = auth::encode_base64url(claims());
  // Unsecured JWS: empty signature.
  BOOST_TEST(verify(v, auth::encode_base64url("{\"alg\":\"none\"}") + "." + payload + ".") ==
             jwt_errc::malformed);
  // "none" with some signature, and other names: never a configured algorithm.
  for (const char* alg : {"none", "None", "NONE", "hs256", "HS384", "HS512", "RS512", "PS256",
                          "ES256K", "EdDSA", "", "HS256 "}) {
    BOOST_TEST_CONTEXT(alg) {
      const std::string token =
          hs_token_with_header("{\"alg\":\"" + std::string(alg) + "\"}", claims());
      BOOST_TEST(verify(v, token) == jwt_errc::alg_not_allowed);
    }
  }
  for (const char* header : {"{}", "{\"alg\":null}", "{\"alg\":256}", "{\"alg\":[\"HS256\"]}",
                             "{\"typ\":\"JWT\"}", "{\"ALG\":\"HS256\"}"}) {
    BOOST_TEST_CONTEXT(header) {
      BOOST_TEST(verify(v, hs_token_with_header(header, claims())) == jwt_errc::missing_alg);
    }
  }
}

BOOST_AUTO_TEST_CASE(crit_is_refused_rfc7515_4_1_11) {
  const auth::jwt_verifier v = hs_verifier();
  BOOST_TEST(verify(v, hs_token_with_header("{\"alg\":\"HS256\",\"crit\":[\"exp\"],\"exp\":1}",
                                            claims())) == jwt_errc::unsupported_crit);
  BOOST_TEST(verify(v, hs_token_with_header("{\"alg\":\"HS256\",\"b64\":false,\"crit\":[\"b64\"]}",
                                            claims())) == jwt_errc::unsupported_crit);
  // Unknown non-critical parameters are ignored; keys never come from the token.
  BOOST_TEST(!verify(v, hs_token_with_header("{\"alg\":\"HS256\",\"kid\":\"k1\",\"jku\":"
                                             "\"https://evil.example/jwks\",\"x\":{\"y\":[1,2]}}",
                                             claims())));
}

BOOST_AUTO_TEST_CASE(duplicate_names_rfc7515_4) {
  const auth::jwt_verifier v = hs_verifier();
  BOOST_TEST(verify(v, hs_token_with_header("{\"alg\":\"HS256\",\"alg\":\"none\"}", claims())) ==
             jwt_errc::duplicate_member);
  BOOST_TEST(verify(v, hs_token_with_header("{\"alg\":\"HS256\"}",
                                            "{\"sub\":\"alice\",\"exp\":1,\"exp\":9999999999}")) ==
             jwt_errc::duplicate_member);
  BOOST_TEST(verify(v, hs_token_with_header("{\"alg\":\"HS256\"}",
                                            "{\"sub\":\"a\",\"sub\":\"b\",\"exp\":9999999999}")) ==
             jwt_errc::duplicate_member);
  // "a" and "a\u0000" are different names.
  BOOST_TEST(!verify(v, hs_token_with_header("{\"alg\":\"HS256\",\"alg\\u0000\":1}", claims())));
}

BOOST_AUTO_TEST_CASE(malformed_shapes_rfc7515_7_1) {
  const auth::jwt_verifier v = hs_verifier();
  const std::string good = auth::sign_hs256(secret, claims());
  for (const std::string& bad :
       {std::string(), std::string("."), std::string(".."), std::string("abc"), std::string("a.b"),
        good + ".", "." + good, good + ".x", part(good, 0) + "." + part(good, 1) + ".",
        "." + part(good, 1) + "." + part(good, 2), std::string("a.b.c.d.e")}) {
    BOOST_TEST_CONTEXT("'" << bad << "'") {
      BOOST_TEST(verify(v, bad) == jwt_errc::malformed);
    }
  }
}

BOOST_AUTO_TEST_CASE(bad_base64_parts_rfc7515_2) {
  const auth::jwt_verifier v = hs_verifier();
  const std::string good = auth::sign_hs256(secret, claims());
  for (int i = 0; i < 3; ++i) {
    for (const char* junk : {"=", "+", "/", " ", "!", "\x80"}) {
      BOOST_TEST_CONTEXT("part " << i << " + '" << junk << "'") {
        BOOST_TEST(verify(v, with_part(good, i, part(good, i) + junk)) == jwt_errc::bad_base64);
      }
    }
    // The same value padded: refused.
    BOOST_TEST(verify(v, with_part(good, i, part(good, i) + "==")) == jwt_errc::bad_base64);
  }
}

BOOST_AUTO_TEST_CASE(bad_json) {
  const auth::jwt_verifier v = hs_verifier();
  for (const char* header : {"[]", "\"alg\"", "{\"alg\":\"HS256\"", "{\"alg\":\"HS256\"}x",
                             "{\"alg\":'HS256'}", "{alg:\"HS256\"}", "{\"alg\":\"HS256\",}",
                             "{\"alg\":\"HS\xff\"}", "{\"alg\":\"HS256\"/*c*/}"}) {
    BOOST_TEST_CONTEXT(header) {
      BOOST_TEST(verify(v, hs_token_with_header(header, claims())) == jwt_errc::bad_json);
    }
  }
  // A NUL after the object: RapidJSON would stop there; we do not.
  BOOST_TEST(verify(v, hs_token_with_header(std::string("{\"alg\":\"HS256\"}\0x", 17), claims())) ==
             jwt_errc::bad_json);
  // The claims set is parsed only after the signature checks, and must be an object too.
  for (const char* payload : {"", "null", "[1]", "{\"exp\":1", "\"x\"", "{\"sub\":\"\xc3\x28\"}"}) {
    BOOST_TEST_CONTEXT(payload) {
      BOOST_TEST(verify(v, auth::sign_hs256(secret, payload)) == jwt_errc::bad_json);
    }
  }
  // Deep nesting is parsed without recursion.
  const std::string deep =
      "{\"alg\":\"HS256\",\"x\":" + std::string(3000, '[') + std::string(3000, ']') + "}";
  BOOST_TEST(!verify(v, hs_token_with_header(deep, claims())));
}

BOOST_AUTO_TEST_CASE(claim_types_rfc7519_4_1) {
  const auth::jwt_verifier v = hs_verifier();
  for (const char* c :
       {"{\"exp\":\"1700003600\"}", "{\"exp\":9999999999,\"nbf\":true}",
        "{\"exp\":9999999999,\"iat\":null}", "{\"exp\":9999999999,\"sub\":1}",
        "{\"exp\":9999999999,\"iss\":[\"a\"]}", "{\"exp\":9999999999,\"aud\":1}",
        "{\"exp\":9999999999,\"aud\":[\"a\",1]}", "{\"exp\":9999999999,\"aud\":{\"a\":1}}"}) {
    BOOST_TEST_CONTEXT(c) {
      BOOST_TEST(verify(v, auth::sign_hs256(secret, c)) == jwt_errc::invalid_claim);
    }
  }
  // Fractional NumericDates are allowed (RFC 7519 section 2).
  auth::jwt_claims out;
  BOOST_TEST(
      !verify(v, auth::sign_hs256(secret, "{\"exp\":1700000000.5,\"iat\":1.5e9}"), now, &out));
  BOOST_TEST(out.expires_at.value() == 1700000000.5);
  BOOST_TEST(out.issued_at.value() == 1.5e9);
}

BOOST_AUTO_TEST_CASE(exp_with_leeway_rfc7519_4_1_4) {
  const auth::jwt_verifier v = hs_verifier();  // leeway 60 s
  const std::string token = auth::sign_hs256(secret, "{\"exp\":1700000000}");
  BOOST_TEST(!verify(v, token, at(now_s - 1000)));
  BOOST_TEST(!verify(v, token, at(now_s)));
  BOOST_TEST(!verify(v, token, at(now_s + 59)));
  BOOST_TEST(!verify(v, token, at(now_s + 59.999)));
  BOOST_TEST(verify(v, token, at(now_s + 60)) == jwt_errc::expired);
  BOOST_TEST(verify(v, token, at(now_s + 1e6)) == jwt_errc::expired);
  auth::jwt_options strict;
  strict.leeway = std::chrono::seconds(0);
  const auth::jwt_verifier no_leeway = hs_verifier(strict);
  BOOST_TEST(!verify(no_leeway, token, at(now_s - 0.001)));
  BOOST_TEST(verify(no_leeway, token, at(now_s)) == jwt_errc::expired);  // "on or after"
}

BOOST_AUTO_TEST_CASE(nbf_with_leeway_rfc7519_4_1_5) {
  const auth::jwt_verifier v = hs_verifier();
  const std::string token = auth::sign_hs256(secret, "{\"nbf\":1700000000,\"exp\":1800000000}");
  BOOST_TEST(verify(v, token, at(now_s - 61)) == jwt_errc::not_yet_valid);
  BOOST_TEST(verify(v, token, at(now_s - 60.001)) == jwt_errc::not_yet_valid);
  BOOST_TEST(!verify(v, token, at(now_s - 60)));
  BOOST_TEST(!verify(v, token, at(now_s)));
  auth::jwt_options strict;
  strict.leeway = std::chrono::seconds(0);
  BOOST_TEST(verify(hs_verifier(strict), token, at(now_s - 1)) == jwt_errc::not_yet_valid);
  BOOST_TEST(!verify(hs_verifier(strict), token, at(now_s)));  // "on or after"
}

BOOST_AUTO_TEST_CASE(exp_required_by_default) {
  const std::string token = auth::sign_hs256(secret, "{\"sub\":\"alice\"}");
  BOOST_TEST(verify(hs_verifier(), token) == jwt_errc::missing_exp);
  auth::jwt_options o;
  o.require_exp = false;
  auth::jwt_claims c;
  BOOST_TEST(!verify(hs_verifier(o), token, now, &c));
  BOOST_TEST(!c.expires_at.has_value());
}

BOOST_AUTO_TEST_CASE(issuer_rfc7519_4_1_1) {
  auth::jwt_options o;
  o.issuer = "https://issuer.example";
  const auth::jwt_verifier v = hs_verifier(o);
  BOOST_TEST(!verify(v, auth::sign_hs256(secret, claims("\"iss\":\"https://issuer.example\""))));
  BOOST_TEST(verify(v, auth::sign_hs256(secret, claims("\"iss\":\"https://other.example\""))) ==
             jwt_errc::wrong_issuer);
  BOOST_TEST(verify(v, auth::sign_hs256(secret, claims("\"iss\":\"https://issuer.example/\""))) ==
             jwt_errc::wrong_issuer);
  BOOST_TEST(verify(v, auth::sign_hs256(secret, claims())) == jwt_errc::wrong_issuer);  // absent
  // Without a configured issuer any iss is accepted.
  BOOST_TEST(!verify(hs_verifier(), auth::sign_hs256(secret, claims("\"iss\":\"anyone\""))));
}

BOOST_AUTO_TEST_CASE(audience_string_or_array_rfc7519_4_1_3) {
  auth::jwt_options o;
  o.audiences = {"switchboard", "chat"};
  const auth::jwt_verifier v = hs_verifier(o);
  auth::jwt_claims c;
  BOOST_TEST(!verify(v, auth::sign_hs256(secret, claims("\"aud\":\"chat\"")), now, &c));
  BOOST_TEST(c.audiences == std::vector<std::string>{"chat"});
  BOOST_TEST(
      !verify(v, auth::sign_hs256(secret, claims("\"aud\":[\"x\",\"switchboard\"]")), now, &c));
  BOOST_TEST((c.audiences == std::vector<std::string>{"x", "switchboard"}));
  BOOST_TEST(verify(v, auth::sign_hs256(secret, claims("\"aud\":\"other\""))) ==
             jwt_errc::wrong_audience);
  BOOST_TEST(verify(v, auth::sign_hs256(secret, claims("\"aud\":[\"x\",\"y\"]"))) ==
             jwt_errc::wrong_audience);
  BOOST_TEST(verify(v, auth::sign_hs256(secret, claims("\"aud\":[]"))) == jwt_errc::wrong_audience);
  BOOST_TEST(verify(v, auth::sign_hs256(secret, claims("\"aud\":\"Chat\""))) ==
             jwt_errc::wrong_audience);  // case-sensitive
  BOOST_TEST(verify(v, auth::sign_hs256(secret, claims())) == jwt_errc::wrong_audience);
  BOOST_TEST(!verify(hs_verifier(), auth::sign_hs256(secret, claims("\"aud\":\"other\""))));
}

BOOST_AUTO_TEST_CASE(check_order_signature_before_claims) {
  // An expired token with a bad signature reports the signature: claims of unverified tokens
  // are never looked at.
  const std::string expired = auth::sign_hs256(secret, "{\"exp\":1}");
  const auth::jwt_verifier other({auth::jwt_key::hs256(std::string(32, 'z'))});
  BOOST_TEST(verify(other, expired) == jwt_errc::bad_signature);
  BOOST_TEST(verify(hs_verifier(), expired) == jwt_errc::expired);
}

BOOST_AUTO_TEST_CASE(token_size_limit) {
  const std::string token = auth::sign_hs256(secret, claims());
  auth::jwt_options o;
  o.max_token_size = token.size();
  BOOST_TEST(!verify(hs_verifier(o), token));  // at the limit
  o.max_token_size = token.size() - 1;
  BOOST_TEST(verify(hs_verifier(o), token) == jwt_errc::too_long);                  // one past it
  BOOST_TEST(verify(hs_verifier(), std::string(8193, 'a')) == jwt_errc::too_long);  // default 8 KiB
  BOOST_TEST(verify(hs_verifier(), std::string(8192, 'a')) == jwt_errc::malformed);
}

BOOST_AUTO_TEST_CASE(several_keys_for_rotation) {
  const auth::jwt_key old_key = auth::jwt_key::hs256(std::string(32, 'o'));
  const auth::jwt_key new_key = auth::jwt_key::hs256(std::string(32, 'n'));
  const auth::jwt_key ec = auth::jwt_key::from_pem(keys::private_pem(keys::p256()));
  const auth::jwt_verifier v({old_key, new_key, ec});
  BOOST_TEST(!verify(v, auth::sign(old_key, claims())));
  BOOST_TEST(!verify(v, auth::sign(new_key, claims())));
  BOOST_TEST(!verify(v, auth::sign(ec, claims())));
  BOOST_TEST(verify(v, auth::sign_hs256(std::string(32, 'x'), claims())) ==
             jwt_errc::bad_signature);
}

BOOST_AUTO_TEST_CASE(key_loading) {
  // Public key, private key (can sign), certificate (public part only).
  const auth::jwt_key from_cert = auth::jwt_key::from_pem(keys::certificate_pem(keys::p256()));
  BOOST_TEST((from_cert.alg() == auth::jwt_alg::es256));
  BOOST_TEST(!from_cert.can_sign());
  const auth::jwt_key signer = auth::jwt_key::from_pem(keys::private_pem(keys::p256()));
  BOOST_TEST(!verify(auth::jwt_verifier({from_cert}), auth::sign(signer, claims())));
  const auth::jwt_key rsa_cert = auth::jwt_key::from_pem(keys::certificate_pem(keys::rsa2048()));
  BOOST_TEST((rsa_cert.alg() == auth::jwt_alg::rs256));
  BOOST_CHECK_THROW(auth::sign(from_cert, claims()), std::invalid_argument);

  // From a file.
  const std::string path = "/tmp/sb_auth_jwt_test_key.pem";
  {
    std::ofstream out(path);
    out << keys::public_pem(keys::rsa2048());
  }
  BOOST_TEST((auth::jwt_key::from_pem_file(path).alg() == auth::jwt_alg::rs256));
  std::remove(path.c_str());
  BOOST_CHECK_THROW(auth::jwt_key::from_pem_file(path), config_error);
}

BOOST_AUTO_TEST_CASE(refused_keys) {
  BOOST_CHECK_THROW(auth::jwt_key::hs256(std::string(31, 's')), config_error);  // RFC 7518 3.2
  BOOST_CHECK_NO_THROW(auth::jwt_key::hs256(std::string(32, 's')));
  BOOST_CHECK_THROW(auth::jwt_key::from_pem(""), config_error);
  BOOST_CHECK_THROW(auth::jwt_key::from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC "
                                            "KEY-----\n"),
                    config_error);
  BOOST_CHECK_THROW(auth::jwt_key::from_pem(secret), config_error);
  // RSA under 2048 bits (RFC 7518 3.3), EC on another curve, other key types.
  const keys::pkey_ptr small(EVP_RSA_gen(1024));
  BOOST_CHECK_THROW(auth::jwt_key::from_pem(keys::public_pem(small.get())), config_error);
  const keys::pkey_ptr p384(EVP_EC_gen("P-384"));
  BOOST_CHECK_THROW(auth::jwt_key::from_pem(keys::public_pem(p384.get())), config_error);
  const keys::pkey_ptr ed(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  BOOST_CHECK_THROW(auth::jwt_key::from_pem(keys::public_pem(ed.get())), config_error);
  // An encrypted private key is refused without prompting for the passphrase.
  BOOST_CHECK_THROW(auth::jwt_key::from_pem(keys::private_pem(keys::p256(), "passphrase")),
                    config_error);
  // A verifier needs a key; options are checked.
  BOOST_CHECK_THROW(auth::jwt_verifier(std::vector<auth::jwt_key>{}), config_error);
  auth::jwt_options o;
  o.leeway = std::chrono::seconds(-1);
  BOOST_CHECK_THROW(auth::jwt_verifier({hs_key()}, o), config_error);
  o = {};
  o.max_token_size = 0;
  BOOST_CHECK_THROW(auth::jwt_verifier({hs_key()}, o), config_error);
}

BOOST_AUTO_TEST_CASE(openssl_error_queue_left_clean) {
  const auth::jwt_verifier v({auth::jwt_key::from_pem(keys::public_pem(keys::p256()))});
  const auth::jwt_key signer = auth::jwt_key::from_pem(keys::private_pem(keys::other_p256()));
  ERR_clear_error();
  BOOST_TEST(verify(v, auth::sign(signer, claims())) == jwt_errc::bad_signature);
  BOOST_TEST(ERR_peek_error() == 0ul);  // TLS code on this thread must not see our failures
  BOOST_CHECK_THROW(auth::jwt_key::from_pem("junk"), config_error);
  BOOST_TEST(ERR_peek_error() == 0ul);
}

BOOST_AUTO_TEST_CASE(every_errc_has_a_message) {
  for (int e = 1; e <= static_cast<int>(jwt_errc::wrong_audience); ++e) {
    const std::error_code ec = static_cast<jwt_errc>(e);
    BOOST_TEST(std::string(ec.category().name()) == "auth.jwt");
    BOOST_TEST(ec.message() != "unknown JWT error");
  }
  BOOST_TEST(auth::alg_name(auth::jwt_alg::es256) == "ES256");
}

BOOST_AUTO_TEST_SUITE_END()
