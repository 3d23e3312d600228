// tls_client.cpp: see tls_client.hpp.
#include "apps/swbench/tls_client.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <new>
#include <stdexcept>

namespace switchboard::swbench {

tls_client_context::tls_client_context() {
  ctx_ = SSL_CTX_new(TLS_client_method());
  if (ctx_ == nullptr) {
    throw std::runtime_error("SSL_CTX_new: " + tls_error_string(ERR_get_error()));
  }
  SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);  // a benchmark against test certificates
  SSL_CTX_set_session_cache_mode(ctx_, SSL_SESS_CACHE_OFF);
}

tls_client_context::~tls_client_context() {
  SSL_CTX_free(ctx_);
}

tls_session::tls_session(const tls_client_context& context) {
  ssl_ = SSL_new(context.native());
  in_ = BIO_new(BIO_s_mem());
  out_ = BIO_new(BIO_s_mem());
  if (ssl_ == nullptr || in_ == nullptr || out_ == nullptr) {
    BIO_free(in_);
    BIO_free(out_);
    SSL_free(ssl_);
    throw std::bad_alloc();
  }
  BIO_set_mem_eof_return(in_, -1);  // an empty input BIO means "need more", not EOF
  SSL_set_bio(ssl_, in_, out_);     // ssl_ owns both now
  SSL_set_connect_state(ssl_);
}

tls_session::~tls_session() {
  SSL_free(ssl_);
}

tls_session::status tls_session::fail(int ret) {
  switch (SSL_get_error(ssl_, ret)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:  // memory BIOs take any amount: only while handshaking
      return status::want;
    case SSL_ERROR_ZERO_RETURN:
      return status::closed;
    default:
      error_ = ERR_peek_error();
      ERR_clear_error();  // SSL_get_error needs an empty queue before the next call
      return status::error;
  }
}

tls_session::status tls_session::handshake() {
  if (established_) return status::ok;
  const int r = SSL_do_handshake(ssl_);
  if (r == 1) {
    established_ = true;
    return status::ok;
  }
  return fail(r);
}

void tls_session::feed(const std::uint8_t* data, std::size_t size) {
  BIO_write(in_, data, static_cast<int>(size));  // a memory BIO takes it all
}

tls_session::status tls_session::read(std::uint8_t* out, std::size_t capacity, std::size_t& got) {
  got = 0;
  if (SSL_read_ex(ssl_, out, capacity, &got) == 1) return status::ok;
  return fail(0);
}

bool tls_session::write(const std::uint8_t* data, std::size_t size) {
  std::size_t written = 0;
  if (SSL_write_ex(ssl_, data, size, &written) == 1 && written == size) return true;
  fail(0);
  return false;
}

void tls_session::take(byte_buffer& out) {
  const std::size_t pending = BIO_ctrl_pending(out_);
  if (pending == 0) return;
  const int n = BIO_read(out_, out.prepare(pending), static_cast<int>(pending));
  if (n > 0) out.commit(static_cast<std::size_t>(n));
}

void tls_session::shutdown() {
  if (established_) SSL_shutdown(ssl_);
  ERR_clear_error();
}

std::string tls_session::description() const {
  return std::string(SSL_get_version(ssl_)) + " " + SSL_get_cipher_name(ssl_);
}

std::string tls_error_string(unsigned long error) {
  if (error == 0) return "no OpenSSL error";
  char text[256];
  ERR_error_string_n(error, text, sizeof text);
  return text;
}

}  // namespace switchboard::swbench
