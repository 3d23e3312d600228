#include "runtime/auth/jwt.hpp"

#include "runtime/auth/base64.hpp"
#include "runtime/config.hpp"

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cassert>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <new>
#include <sstream>
#include <stdexcept>
#include <type_traits>
#include <utility>

// RapidJSON 1.1.0 (Debian 12's rapidjson-dev) computes `stackTop_ + n` on its lazily allocated,
// still-null stack (internal/stack.h:117), which clang's UBSan reports as "applying non-zero
// offset to null pointer" on every parse (Tencent/rapidjson#1724, fixed upstream in 16872af,
// not released). It is harmless here, so that one check is switched off for RapidJSON's own
// functions; every other check, and everything in this file, stays instrumented. The standard
// headers RapidJSON uses are included above, so that the attribute meets only RapidJSON.
#if defined(__clang__)
#pragma clang attribute push(__attribute__((no_sanitize("pointer-overflow"))), apply_to = function)
#endif
#include <rapidjson/document.h>
#if defined(__clang__)
#pragma clang attribute pop
#endif

namespace switchboard::runtime::auth {
namespace {

constexpr std::size_t hs256_size = 32;  // HMAC-SHA256 output
constexpr std::size_t es256_half = 32;  // R and S of P-256, each (RFC 7518 section 3.4)
constexpr unsigned json_flags = rapidjson::kParseIterativeFlag |        // no recursion
                                rapidjson::kParseValidateEncodingFlag;  // strings are UTF-8

struct category final : std::error_category {
  const char* name() const noexcept override { return "auth.jwt"; }
  std::string message(int ev) const override {
    switch (static_cast<jwt_errc>(ev)) {
      case jwt_errc::malformed:
        return "token is not a compact JWS";
      case jwt_errc::too_long:
        return "token too long";
      case jwt_errc::bad_base64:
        return "token part is not base64url";
      case jwt_errc::bad_json:
        return "token header or claims are not a JSON object";
      case jwt_errc::duplicate_member:
        return "duplicate name in token header or claims";
      case jwt_errc::missing_alg:
        return "token header has no alg";
      case jwt_errc::alg_not_allowed:
        return "token algorithm not allowed";
      case jwt_errc::unsupported_crit:
        return "token header has critical extensions";
      case jwt_errc::bad_signature:
        return "token signature does not verify";
      case jwt_errc::invalid_claim:
        return "token claim has the wrong type";
      case jwt_errc::missing_exp:
        return "token has no expiry";
      case jwt_errc::expired:
        return "token expired";
      case jwt_errc::not_yet_valid:
        return "token not yet valid";
      case jwt_errc::wrong_issuer:
        return "token issuer not accepted";
      case jwt_errc::wrong_audience:
        return "token audience not accepted";
    }
    return "unknown JWT error";
  }
};

struct pkey_deleter {
  void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};
struct bio_deleter {
  void operator()(BIO* p) const noexcept { BIO_free(p); }
};
struct md_ctx_deleter {
  void operator()(EVP_MD_CTX* p) const noexcept { EVP_MD_CTX_free(p); }
};
struct ecdsa_sig_deleter {
  void operator()(ECDSA_SIG* p) const noexcept { ECDSA_SIG_free(p); }
};
using md_ctx_ptr = std::unique_ptr<EVP_MD_CTX, md_ctx_deleter>;
using ecdsa_sig_ptr = std::unique_ptr<ECDSA_SIG, ecdsa_sig_deleter>;

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

std::optional<jwt_alg> alg_from_name(std::string_view name) {
  if (name == "HS256") return jwt_alg::hs256;
  if (name == "RS256") return jwt_alg::rs256;
  if (name == "ES256") return jwt_alg::es256;
  return std::nullopt;  // "none", "HS512", "hs256", ...: alg values are case-sensitive
}

// Refuses to prompt for a passphrase: an encrypted private key is a configuration error.
int no_passphrase(char*, int, int, void*) {
  return -1;
}

// " (OpenSSL's reason)" for the last error on this thread's queue, or ""; clears the queue.
std::string openssl_reason() {
  const char* reason = ERR_reason_error_string(ERR_peek_last_error());
  const std::string text = reason ? std::string(" (") + reason + ")" : std::string();
  ERR_clear_error();
  return text;
}

bool hmac_sha256(std::string_view secret, std::string_view input, unsigned char* mac) {
  unsigned int size = 0;
  const bool ok = HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), bytes(input),
                       input.size(), mac, &size) != nullptr &&
                  size == hs256_size;
  ERR_clear_error();
  return ok;
}

bool digest_verify(EVP_PKEY* pkey, std::string_view input, const unsigned char* sig,
                   std::size_t sig_size) {
  md_ctx_ptr ctx(EVP_MD_CTX_new());
  const bool ok = ctx &&
                  EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey) == 1 &&
                  EVP_DigestVerify(ctx.get(), sig, sig_size, bytes(input), input.size()) == 1;
  ERR_clear_error();  // a failed verification leaves errors behind; keep this thread's queue clean
  return ok;
}

// JOSE R || S (two 32-byte big-endian integers) to a DER ECDSA-Sig-Value.
bool es256_to_der(std::string_view raw, std::string& der) {
  if (raw.size() != 2 * es256_half) return false;
  ecdsa_sig_ptr sig(ECDSA_SIG_new());
  if (!sig) return false;
  BIGNUM* r = BN_bin2bn(bytes(raw), es256_half, nullptr);
  BIGNUM* s = BN_bin2bn(bytes(raw) + es256_half, es256_half, nullptr);
  if (!r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    ERR_clear_error();
    return false;
  }
  const int size = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (size <= 0) return false;
  der.resize(static_cast<std::size_t>(size));
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  return i2d_ECDSA_SIG(sig.get(), &p) == size;
}

bool verify_with(jwt_alg alg, const std::string* secret, EVP_PKEY* pkey, std::string_view input,
                 const std::string& sig) {
  switch (alg) {
    case jwt_alg::hs256: {
      unsigned char mac[EVP_MAX_MD_SIZE];
      return sig.size() == hs256_size && hmac_sha256(*secret, input, mac) &&
             CRYPTO_memcmp(mac, sig.data(), hs256_size) == 0;
    }
    case jwt_alg::rs256:
      return digest_verify(pkey, input, bytes(sig), sig.size());
    case jwt_alg::es256: {
      std::string der;
      return es256_to_der(sig, der) && digest_verify(pkey, input, bytes(der), der.size());
    }
  }
  return false;
}

// Parses a JSON object with unique member names; bad_json or duplicate_member otherwise.
std::error_code parse_object(const std::string& text, rapidjson::Document& doc) {
  // A NUL byte cannot occur in JSON text, and RapidJSON would take it for the end of input.
  if (text.find('\0') != std::string::npos) return jwt_errc::bad_json;
  doc.Parse<json_flags>(text.data(), text.size());
  if (doc.HasParseError() || !doc.IsObject()) return jwt_errc::bad_json;
  std::vector<std::string_view> names;
  names.reserve(doc.MemberCount());
  for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it)
    names.emplace_back(it->name.GetString(), it->name.GetStringLength());
  std::sort(names.begin(), names.end());
  if (std::adjacent_find(names.begin(), names.end()) != names.end())
    return jwt_errc::duplicate_member;
  return {};
}

const rapidjson::Value* member(const rapidjson::Value& object, std::string_view name) {
  const auto it =
      object.FindMember(rapidjson::Value(rapidjson::StringRef(name.data(), name.size())));
  return it == object.MemberEnd() ? nullptr : &it->value;
}

std::string_view string_of(const rapidjson::Value& v) {
  return {v.GetString(), v.GetStringLength()};
}

// Reads the registered claims of RFC 7519 section 4.1 that have a type to check.
std::error_code read_claims(const rapidjson::Value& claims, jwt_claims& out) {
  for (const auto& [name, slot] :
       {std::pair<std::string_view, std::optional<double>*>{"exp", &out.expires_at},
        {"nbf", &out.not_before},
        {"iat", &out.issued_at}}) {
    if (const rapidjson::Value* v = member(claims, name)) {
      if (!v->IsNumber()) return jwt_errc::invalid_claim;
      *slot = v->GetDouble();
    }
  }
  for (const auto& [name, slot] :
       {std::pair<std::string_view, std::string*>{"iss", &out.issuer}, {"sub", &out.subject}}) {
    if (const rapidjson::Value* v = member(claims, name)) {
      if (!v->IsString()) return jwt_errc::invalid_claim;
      *slot = std::string(string_of(*v));
    }
  }
  if (const rapidjson::Value* v = member(claims, "aud")) {
    if (v->IsString()) {
      out.audiences.emplace_back(string_of(*v));
    } else if (v->IsArray()) {
      for (const auto& a : v->GetArray()) {
        if (!a.IsString()) return jwt_errc::invalid_claim;
        out.audiences.emplace_back(string_of(a));
      }
    } else {
      return jwt_errc::invalid_claim;
    }
  }
  return {};
}

std::string raw_sign(jwt_alg alg, const std::string* secret, EVP_PKEY* pkey,
                     std::string_view input) {
  if (alg == jwt_alg::hs256) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    if (!hmac_sha256(*secret, input, mac)) throw std::runtime_error("HMAC-SHA256 failed");
    return std::string(reinterpret_cast<const char*>(mac), hs256_size);
  }
  md_ctx_ptr ctx(EVP_MD_CTX_new());
  std::size_t size = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &size, bytes(input), input.size()) != 1)
    throw std::runtime_error("signing failed" + openssl_reason());
  std::string sig(size, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &size, bytes(input),
                     input.size()) != 1)
    throw std::runtime_error("signing failed" + openssl_reason());
  sig.resize(size);
  if (alg == jwt_alg::rs256) return sig;
  // ES256: DER ECDSA-Sig-Value to JOSE R || S.
  const auto* p = bytes(sig);
  ecdsa_sig_ptr parsed(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size())));
  if (!parsed) throw std::runtime_error("ECDSA signature not DER" + openssl_reason());
  std::string raw(2 * es256_half, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  if (BN_bn2binpad(ECDSA_SIG_get0_r(parsed.get()), out, es256_half) != es256_half ||
      BN_bn2binpad(ECDSA_SIG_get0_s(parsed.get()), out + es256_half, es256_half) != es256_half)
    throw std::runtime_error("ECDSA signature too long");
  return raw;
}

}  // namespace

const std::error_category& jwt_category() noexcept {
  static const category instance;
  return instance;
}

std::string_view alg_name(jwt_alg a) noexcept {
  switch (a) {
    case jwt_alg::hs256:
      return "HS256";
    case jwt_alg::rs256:
      return "RS256";
    case jwt_alg::es256:
      return "ES256";
  }
  return "?";
}

jwt_key jwt_key::hs256(std::string_view secret) {
  if (secret.size() < min_hs256_secret_size)
    throw config_error("JWT HS256 secret is " + std::to_string(secret.size()) +
                       " bytes; RFC 7518 section 3.2 needs at least " +
                       std::to_string(min_hs256_secret_size));
  jwt_key key;
  key.alg_ = jwt_alg::hs256;
  key.can_sign_ = true;
  key.secret_ = std::shared_ptr<const std::string>(new std::string(secret), [](std::string* s) {
    OPENSSL_cleanse(s->data(), s->size());
    delete s;
  });
  return key;
}

jwt_key jwt_key::from_pem(std::string_view pem) {
  if (pem.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()))
    throw config_error("JWT key too large");
  std::unique_ptr<BIO, bio_deleter> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) throw config_error("JWT key: out of memory");
  bool is_private = false;
  EVP_PKEY* raw = PEM_read_bio_PUBKEY(bio.get(), nullptr, no_passphrase, nullptr);
  if (!raw) {
    ERR_clear_error();
    BIO_reset(bio.get());
    raw = PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr);
    is_private = raw != nullptr;
  }
  if (!raw) {
    ERR_clear_error();
    BIO_reset(bio.get());
    if (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr)) {
      raw = X509_get_pubkey(cert);
      X509_free(cert);
    }
  }
  if (!raw)
    throw config_error("JWT key: no PEM public key, unencrypted private key or certificate" +
                       openssl_reason());
  ERR_clear_error();
  std::shared_ptr<EVP_PKEY> pkey(raw, pkey_deleter{});

  jwt_key key;
  key.pkey_ = pkey;
  key.can_sign_ = is_private;
  if (EVP_PKEY_is_a(raw, "RSA")) {
    const int bits = EVP_PKEY_get_bits(raw);
    if (bits < min_rsa_bits)
      throw config_error("JWT RSA key has " + std::to_string(bits) +
                         " bits; RFC 7518 section 3.3 needs at least " +
                         std::to_string(min_rsa_bits));
    key.alg_ = jwt_alg::rs256;
    return key;
  }
  if (EVP_PKEY_is_a(raw, "EC")) {
    char group[80] = {};
    std::size_t size = 0;
    if (EVP_PKEY_get_group_name(raw, group, sizeof group, &size) != 1) {
      ERR_clear_error();
      throw config_error("JWT EC key without a named curve");
    }
    int nid = OBJ_sn2nid(group);
    if (nid == NID_undef) nid = EC_curve_nist2nid(group);
    if (nid != NID_X9_62_prime256v1)
      throw config_error(std::string("JWT EC key on curve ") + group +
                         "; ES256 needs P-256 (RFC 7518 section 3.4)");
    key.alg_ = jwt_alg::es256;
    return key;
  }
  throw config_error(std::string("JWT key of type ") + EVP_PKEY_get0_type_name(raw) +
                     "; RS256 needs RSA, ES256 needs EC P-256");
}

jwt_key jwt_key::from_pem_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw config_error("JWT key file " + path + ": cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  try {
    return from_pem(text.str());
  } catch (const config_error& e) {
    throw config_error(path + ": " + e.what());
  }
}

jwt_verifier::jwt_verifier(std::vector<jwt_key> keys, jwt_options options)
    : keys_(std::move(keys)), options_(std::move(options)) {
  if (keys_.empty()) throw config_error("JWT verifier needs at least one key");
  if (options_.leeway.count() < 0) throw config_error("JWT leeway must not be negative");
  if (options_.max_token_size == 0) throw config_error("JWT max_token_size must be positive");
}

std::error_code jwt_verifier::verify(std::string_view token, time_point now,
                                     jwt_claims& out) const {
  // 1. Shape.
  if (token.size() > options_.max_token_size) return jwt_errc::too_long;
  const std::size_t dot1 = token.find('.');
  if (dot1 == std::string_view::npos) return jwt_errc::malformed;
  const std::size_t dot2 = token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos)
    return jwt_errc::malformed;
  const std::string_view header64 = token.substr(0, dot1);
  const std::string_view payload64 = token.substr(dot1 + 1, dot2 - dot1 - 1);
  const std::string_view signature64 = token.substr(dot2 + 1);
  if (header64.empty() || signature64.empty()) return jwt_errc::malformed;

  // 2. Encoding.
  std::string header, payload, signature;
  if (!decode_base64url(header64, header) || !decode_base64url(payload64, payload) ||
      !decode_base64url(signature64, signature))
    return jwt_errc::bad_base64;

  // 3. Header.
  rapidjson::Document header_doc;
  if (const std::error_code ec = parse_object(header, header_doc)) return ec;
  const rapidjson::Value* alg_value = member(header_doc, "alg");
  if (!alg_value || !alg_value->IsString()) return jwt_errc::missing_alg;
  if (member(header_doc, "crit")) return jwt_errc::unsupported_crit;

  // 4. Algorithm: one a configured key is bound to.
  const std::optional<jwt_alg> alg = alg_from_name(string_of(*alg_value));
  if (!alg ||
      std::none_of(keys_.begin(), keys_.end(), [&](const jwt_key& k) { return k.alg_ == *alg; }))
    return jwt_errc::alg_not_allowed;

  // 5. Signature over "header64.payload64" as sent.
  const std::string_view input = token.substr(0, dot2);
  const bool verified = std::any_of(keys_.begin(), keys_.end(), [&](const jwt_key& k) {
    return k.alg_ == *alg && verify_with(k.alg_, k.secret_.get(), k.pkey_.get(), input, signature);
  });
  if (!verified) return jwt_errc::bad_signature;

  // 6. Claims set.
  rapidjson::Document claims_doc;
  if (const std::error_code ec = parse_object(payload, claims_doc)) return ec;
  jwt_claims claims;
  claims.alg = *alg;
  if (const std::error_code ec = read_claims(claims_doc, claims)) return ec;

  // 7. Time.
  const double t = std::chrono::duration<double>(now.time_since_epoch()).count();
  const double leeway = static_cast<double>(options_.leeway.count());
  if (!claims.expires_at && options_.require_exp) return jwt_errc::missing_exp;
  if (claims.expires_at && !(t < *claims.expires_at + leeway)) return jwt_errc::expired;
  if (claims.not_before && t < *claims.not_before - leeway) return jwt_errc::not_yet_valid;

  // 8. Issuer and audience.
  if (!options_.issuer.empty() && claims.issuer != options_.issuer) return jwt_errc::wrong_issuer;
  if (!options_.audiences.empty() &&
      std::none_of(claims.audiences.begin(), claims.audiences.end(), [&](const std::string& a) {
        return std::find(options_.audiences.begin(), options_.audiences.end(), a) !=
               options_.audiences.end();
      }))
    return jwt_errc::wrong_audience;

  claims.json = std::move(payload);
  out = std::move(claims);
  return {};
}

std::string sign_with_header(const jwt_key& key, std::string_view header_json,
                             std::string_view claims_json) {
  if (!key.can_sign()) throw std::invalid_argument("JWT key has no private part to sign with");
  std::string token = encode_base64url(header_json);
  token.push_back('.');
  token += encode_base64url(claims_json);
  const std::string sig = raw_sign(key.alg(), key.secret_.get(), key.pkey_.get(), token);
  token.push_back('.');
  token += encode_base64url(sig);
  return token;
}

std::string sign(const jwt_key& key, std::string_view claims_json) {
  const std::string header =
      std::string("{\"alg\":\"") + std::string(alg_name(key.alg())) + "\",\"typ\":\"JWT\"}";
  return sign_with_header(key, header, claims_json);
}

std::string sign_hs256(std::string_view secret, std::string_view claims_json) {
  return sign(jwt_key::hs256(secret), claims_json);
}

}  // namespace switchboard::runtime::auth
