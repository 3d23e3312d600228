#include "runtime/tls.hpp"

#include "runtime/config.hpp"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <boost/asio/ip/address.hpp>

#include <cstring>

namespace switchboard::runtime {
namespace {

struct category final : std::error_category {
  const char* name() const noexcept override { return "tls"; }
  std::string message(int ev) const override {
    if (ev == 0) return "TLS error";
    char buf[256];
    ERR_error_string_n(static_cast<unsigned long>(ev), buf, sizeof buf);
    return buf;
  }
};

// The oldest queued OpenSSL error, cleared from the thread's queue.
std::error_code last_error() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  return {static_cast<int>(e & 0x7fffffff), tls_category()};
}

std::string openssl_reason() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown reason";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

// ALPN: pick the first of our protocols the client offers; none in common -> no ALPN.
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void* arg) {
  const auto* ours = static_cast<const std::vector<std::string>*>(arg);
  for (const auto& p : *ours) {
    for (unsigned int i = 0; i < inlen;) {
      const unsigned int len = in[i];
      if (i + 1 + len > inlen) break;
      if (len == p.size() && std::memcmp(in + i + 1, p.data(), len) == 0) {
        *out = in + i + 1;
        *outlen = static_cast<unsigned char>(len);
        return SSL_TLSEXT_ERR_OK;
      }
      i += 1 + len;
    }
  }
  return SSL_TLSEXT_ERR_NOACK;
}

int protocol_version(const std::string& v) {
  if (v != "1.2" && v != "1.3")
    throw config_error("TLS: min_version must be \"1.2\" or \"1.3\", not \"" + v + "\"");
  return v == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION;
}

// The settings both sides share: minimum version, ciphers, a certificate and its key.
void configure_common(SSL_CTX* ctx, const std::string& min_version, const std::string& ciphers,
                      const std::string& certificate, const std::string& private_key) {
  const auto fail = [](const std::string& what) {
    throw config_error("TLS: " + what + ": " + openssl_reason());
  };
  SSL_CTX_set_min_proto_version(ctx, protocol_version(min_version));
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  if (!ciphers.empty() && SSL_CTX_set_cipher_list(ctx, ciphers.c_str()) != 1)
    fail("bad cipher list '" + ciphers + "'");
  if (certificate.empty()) return;
  if (SSL_CTX_use_certificate_chain_file(ctx, certificate.c_str()) != 1)
    fail("cannot load certificate '" + certificate + "'");
  const std::string& key = private_key.empty() ? certificate : private_key;
  if (SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1)
    fail("cannot load private key '" + key + "'");
  if (SSL_CTX_check_private_key(ctx) != 1) fail("the key does not match the certificate");
}

}  // namespace

const std::error_category& tls_category() noexcept {
  static const category instance;
  return instance;
}

std::shared_ptr<tls_context> tls_context::make_server(const tls_options& o) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) throw config_error("TLS: cannot create a context: " + openssl_reason());
  std::shared_ptr<tls_context> result(new tls_context(ctx, /*client=*/false));
  const auto fail = [](const std::string& what) {
    throw config_error("TLS: " + what + ": " + openssl_reason());
  };
  if (o.certificate_file.empty()) throw config_error("TLS: a server needs a certificate");
  configure_common(ctx, o.min_version, o.ciphers, o.certificate_file, o.private_key_file);
  SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (o.verify_client) {
    if (o.ca_file.empty()) throw config_error("TLS: verify_client needs a CA file");
    if (SSL_CTX_load_verify_locations(ctx, o.ca_file.c_str(), nullptr) != 1)
      fail("cannot load CA file '" + o.ca_file + "'");
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  result->alpn_ = o.alpn;
  if (!result->alpn_.empty()) SSL_CTX_set_alpn_select_cb(ctx, select_alpn, &result->alpn_);
  return result;
}

std::shared_ptr<tls_context> tls_context::make_client(const tls_client_options& o) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) throw config_error("TLS: cannot create a context: " + openssl_reason());
  std::shared_ptr<tls_context> result(new tls_context(ctx, /*client=*/true));
  configure_common(ctx, o.min_version, o.ciphers, o.certificate_file, o.private_key_file);
  result->verify_peer_ = o.verify_peer;
  if (o.verify_peer) {
    const int ok = o.ca_file.empty()
                       ? SSL_CTX_set_default_verify_paths(ctx)
                       : SSL_CTX_load_verify_locations(ctx, o.ca_file.c_str(), nullptr);
    if (ok != 1)
      throw config_error("TLS: cannot load CA file '" + o.ca_file + "': " + openssl_reason());
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
  if (!o.alpn.empty()) {
    std::string wire;  // ALPN's wire form: length-prefixed names
    for (const auto& p : o.alpn) {
      if (p.empty() || p.size() > 255) throw config_error("TLS: bad ALPN protocol '" + p + "'");
      wire.push_back(static_cast<char>(p.size()));
      wire += p;
    }
    SSL_CTX_set_alpn_protos(ctx, reinterpret_cast<const unsigned char*>(wire.data()),
                            static_cast<unsigned>(wire.size()));
  }
  return result;
}

tls_context::~tls_context() {
  SSL_CTX_free(ctx_);
}

void tls_session::init(const tls_context& context) {
  ssl_ = SSL_new(context.native());
  in_ = BIO_new(BIO_s_mem());
  out_ = BIO_new(BIO_s_mem());
  if (!ssl_ || !in_ || !out_) {
    BIO_free(in_);
    BIO_free(out_);
    SSL_free(ssl_);
    throw std::bad_alloc();
  }
  BIO_set_mem_eof_return(in_, -1);  // an empty input BIO means "need more", not EOF
  SSL_set_bio(ssl_, in_, out_);     // the SSL owns both BIOs now
}

tls_session::tls_session(const tls_context& context) {
  init(context);
  SSL_set_accept_state(ssl_);
}

tls_session::tls_session(const tls_context& context, const std::string& host) {
  init(context);
  SSL_set_connect_state(ssl_);
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  const bool literal = !ec;
  if (!literal) SSL_set_tlsext_host_name(ssl_, host.c_str());  // SNI is for names only
  if (context.verifies_peer()) {
    // Checks the certificate's subjectAltName (DNS or IP entries) against what we dialed.
    const int ok = literal ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), host.c_str())
                           : SSL_set1_host(ssl_, host.c_str());
    if (ok != 1) {
      SSL_free(ssl_);
      throw std::invalid_argument("TLS: cannot check the host name '" + host + "'");
    }
  }
  SSL_do_handshake(ssl_);  // writes the ClientHello into out_
  ERR_clear_error();
}

tls_session::~tls_session() {
  SSL_free(ssl_);
}

void tls_session::feed(const std::uint8_t* data, std::size_t size) {
  BIO_write(in_, data, static_cast<int>(size));
}

tls_session::status tls_session::read(std::uint8_t* out, std::size_t capacity, std::size_t& n) {
  n = 0;
  std::size_t got = 0;
  const int r = SSL_read_ex(ssl_, out, capacity, &got);
  const int reason = r == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl_, r);  // before any other call
  if (!early_.empty() && SSL_is_init_finished(ssl_) && !write_early()) return status::error;
  if (r == 1) {
    n = got;
    return status::data;
  }
  switch (reason) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
      return status::need_more;
    case SSL_ERROR_ZERO_RETURN:
      return status::closed;
    default:
      error_ = last_error();
      return status::error;
  }
}

bool tls_session::write(const void* data, std::size_t size) {
  if (size == 0) return true;
  if (!SSL_is_init_finished(ssl_)) {
    early_.append(static_cast<const char*>(data), size);
    return true;
  }
  std::size_t written = 0;
  if (SSL_write_ex(ssl_, data, size, &written) == 1 && written == size) return true;
  error_ = last_error();
  return false;
}

bool tls_session::write_early() {
  std::string pending;
  pending.swap(early_);
  return write(pending.data(), pending.size());
}

std::string tls_session::error_text() const {
  const long verify = ssl_ ? SSL_get_verify_result(ssl_) : X509_V_OK;
  if (verify != X509_V_OK)
    return std::string("certificate verify failed: ") + X509_verify_cert_error_string(verify);
  return error_.message();
}

void tls_session::shutdown() {
  if (SSL_is_init_finished(ssl_)) SSL_shutdown(ssl_);
  ERR_clear_error();
}

std::size_t tls_session::pending() const noexcept {
  return BIO_ctrl_pending(out_);
}

std::size_t tls_session::take(std::uint8_t* out, std::size_t capacity) {
  const int n = BIO_read(out_, out, static_cast<int>(capacity));
  return n > 0 ? static_cast<std::size_t>(n) : 0;
}

bool tls_session::handshake_done() const noexcept {
  return SSL_is_init_finished(ssl_) == 1;
}

std::string tls_session::alpn() const {
  const unsigned char* p = nullptr;
  unsigned int len = 0;
  SSL_get0_alpn_selected(ssl_, &p, &len);
  return p ? std::string(reinterpret_cast<const char*>(p), len) : std::string{};
}

}  // namespace switchboard::runtime
