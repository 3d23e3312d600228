// test_keys.hpp: keys for the runtime/auth tests, made with OpenSSL at run time (EVP_RSA_gen,
// EVP_EC_gen) and written as PEM, plus the RFC 7515 appendix A examples. Header-only, included
// by jwt_test.cpp and authenticator_test.cpp.
#pragma once

#include "runtime/auth/base64.hpp"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace switchboard::runtime::auth::test {

// RFC 7515 appendix A.1: the HS256 example (JWK "k" and the token it signs).
inline constexpr std::string_view rfc7515_a1_key_b64url =
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
inline constexpr std::string_view rfc7515_a1_token =
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
    ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlf"
    "Q"
    ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
// RFC 7515 appendix A.3: the ES256 example (public key x, y; the same claims as A.1).
inline constexpr std::string_view rfc7515_a3_x = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
inline constexpr std::string_view rfc7515_a3_y = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
inline constexpr std::string_view rfc7515_a3_token =
    "eyJhbGciOiJFUzI1NiJ9"
    ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlf"
    "Q"
    ".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
inline constexpr double rfc7515_exp = 1300819380;  // both examples' "exp"

inline std::string b64url_decoded(std::string_view text) {
  std::string out;
  if (!decode_base64url(text, out)) throw std::logic_error("bad base64url in a test vector");
  return out;
}

// PEM armour around DER bytes, 64 characters a line.
inline std::string pem(std::string_view label, std::string_view der) {
  const std::string b64 = encode_base64(der);
  std::string out = "-----BEGIN " + std::string(label) + "-----\n";
  for (std::size_t i = 0; i < b64.size(); i += 64)
    out += b64.substr(i, 64) + "\n";
  return out + "-----END " + std::string(label) + "-----\n";
}

// The A.3 public key as SubjectPublicKeyInfo: the fixed P-256 prefix, then 04 || x || y.
inline std::string rfc7515_a3_public_pem() {
  static constexpr unsigned char prefix[] = {0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48,
                                             0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
                                             0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04};
  std::string der(reinterpret_cast<const char*>(prefix), sizeof prefix);
  der += b64url_decoded(rfc7515_a3_x);
  der += b64url_decoded(rfc7515_a3_y);
  return pem("PUBLIC KEY", der);
}

struct pkey_free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;

inline std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string text(data, static_cast<std::size_t>(size));
  BIO_free(bio);
  return text;
}

inline std::string public_pem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (PEM_write_bio_PUBKEY(bio, key) != 1) throw std::runtime_error("PEM_write_bio_PUBKEY");
  return bio_text(bio);
}

// Unencrypted PKCS#8, or encrypted with `passphrase` when given.
inline std::string private_pem(EVP_PKEY* key, const char* passphrase = nullptr) {
  BIO* bio = BIO_new(BIO_s_mem());
  const EVP_CIPHER* cipher = passphrase ? EVP_aes_256_cbc() : nullptr;
  auto* pass = reinterpret_cast<unsigned char*>(const_cast<char*>(passphrase));
  const int pass_size = passphrase ? static_cast<int>(std::string_view(passphrase).size()) : 0;
  if (PEM_write_bio_PrivateKey(bio, key, cipher, pass, pass_size, nullptr, nullptr) != 1)
    throw std::runtime_error("PEM_write_bio_PrivateKey");
  return bio_text(bio);
}

// A self-signed certificate for `key`.
inline std::string certificate_pem(EVP_PKEY* key) {
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("test"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  if (X509_sign(cert, key, EVP_sha256()) == 0) throw std::runtime_error("X509_sign");
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  X509_free(cert);
  return bio_text(bio);
}

// Generated once per process (RSA generation takes a while).
inline EVP_PKEY* rsa2048() {
  static const pkey_ptr key(EVP_RSA_gen(2048));
  return key.get();
}
inline EVP_PKEY* other_rsa2048() {
  static const pkey_ptr key(EVP_RSA_gen(2048));
  return key.get();
}
inline EVP_PKEY* p256() {
  static const pkey_ptr key(EVP_EC_gen("P-256"));
  return key.get();
}
inline EVP_PKEY* other_p256() {
  static const pkey_ptr key(EVP_EC_gen("P-256"));
  return key.get();
}

}  // namespace switchboard::runtime::auth::test
