// tls_client.hpp: the client side of TLS for swbench --tls (wss://), OpenSSL 3 through memory
// BIOs.
//
// The loop keeps doing its own socket I/O (one read() per readiness event, one send() per flush)
// and TLS sits between the socket and the WebSocket bytes as a byte transformer: ciphertext in
// (feed), plaintext out (read), plaintext in (write), ciphertext out (take). So a TLS connection
// costs the same system calls as a plain one, plus one copy each way into and out of the BIOs;
// OpenSSL never touches the socket.
//
// No certificate verification (SSL_VERIFY_NONE): swbench measures servers that run throwaway
// self-signed certificates, and the handshake's cost is outside the measured window anyway. No
// SNI either (the benchmark dials IP literals). Protocol and cipher are OpenSSL's defaults (TLS
// 1.3 with TLS_AES_256_GCM_SHA384 against an OpenSSL server); swbench reports what was agreed.
//
// Thread safety: a tls_client_context may be shared by threads (SSL_CTX is); a tls_session
// belongs to one connection.
#pragma once

#include "apps/swbench/byte_buffer.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;
typedef struct bio_st BIO;

namespace switchboard::swbench {

class tls_client_context {
 public:
  // Throws std::runtime_error with OpenSSL's reason when the context cannot be created.
  tls_client_context();
  ~tls_client_context();
  tls_client_context(const tls_client_context&) = delete;
  tls_client_context& operator=(const tls_client_context&) = delete;

  SSL_CTX* native() const noexcept { return ctx_; }

 private:
  SSL_CTX* ctx_ = nullptr;
};

class tls_session {
 public:
  enum class status : std::uint8_t {
    ok,      // done (handshake) or bytes returned (read)
    want,    // needs more ciphertext from the peer
    closed,  // the peer sent close_notify
    error,   // failed: error() says why
  };

  // Throws std::bad_alloc when OpenSSL cannot allocate the session.
  explicit tls_session(const tls_client_context& context);
  ~tls_session();
  tls_session(const tls_session&) = delete;
  tls_session& operator=(const tls_session&) = delete;

  // Advances the handshake (the first call writes the ClientHello): ok once it has completed.
  status handshake();
  bool established() const noexcept { return established_; }

  // Hands ciphertext read from the socket to OpenSSL.
  void feed(const std::uint8_t* data, std::size_t size);

  // Decrypts into [out, out + capacity): `got` bytes and ok, or want when no whole record is
  // buffered (got 0), closed, or error.
  status read(std::uint8_t* out, std::size_t capacity, std::size_t& got);

  // Encrypts [data, data + size) (established sessions only). False on error.
  bool write(const std::uint8_t* data, std::size_t size);

  // Moves the ciphertext OpenSSL produced (records, handshake messages, alerts) to `out`.
  void take(byte_buffer& out);

  // Queues close_notify (then take() it).
  void shutdown();

  // The first OpenSSL error of the failure that ended the session, or 0.
  unsigned long error() const noexcept { return error_; }
  // Agreed protocol and cipher ("TLSv1.3", "TLS_AES_256_GCM_SHA384"); valid once established.
  std::string description() const;

 private:
  status fail(int ret);

  SSL* ssl_ = nullptr;
  BIO* in_ = nullptr;   // ciphertext from the peer; owned by ssl_
  BIO* out_ = nullptr;  // ciphertext to the peer; owned by ssl_
  bool established_ = false;
  unsigned long error_ = 0;
};

// OpenSSL's text for an error code from tls_session::error().
std::string tls_error_string(unsigned long error);

}  // namespace switchboard::swbench
