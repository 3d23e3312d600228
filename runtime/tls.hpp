// tls.hpp: TLS with OpenSSL 3, driven through memory BIOs.
//
// The transport keeps doing its own socket I/O (wait for readability, recv into the worker's
// buffer, corked sendmsg); TLS sits between that and the protocol as a pure byte transformer:
// ciphertext in (feed), plaintext out (read), plaintext in (write), ciphertext out (take).
// That keeps one code path for plain and TLS connections and lets a TLS connection use the
// same per-thread buffers. The cost is one extra copy each way (into and out of the BIOs).
//
// tls_context is one SSL_CTX per binding, shared by its connections: certificate chain and
// key (PEM; one combined file is accepted), minimum version (TLS 1.2 by default), cipher list,
// optional client-certificate verification against a CA file, and ALPN ("http/1.1").
// tls_session is one SSL per connection, with SSL_MODE_RELEASE_BUFFERS so an idle connection
// does not keep OpenSSL's record buffers.
#pragma once

#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

namespace switchboard::runtime {

struct tls_options {
  std::string certificate_file;     // PEM: the certificate, then its chain
  std::string private_key_file;     // PEM; empty = the key is in certificate_file
  std::string ca_file;              // PEM CAs for verifying client certificates
  bool verify_client = false;       // require a client certificate signed by ca_file
  std::string min_version = "1.2";  // "1.2" or "1.3"
  std::string ciphers;              // TLS 1.2 cipher list (OpenSSL syntax); empty = default
  std::vector<std::string> alpn{"http/1.1"};  // protocols we accept, in order of preference

  bool enabled() const noexcept { return !certificate_file.empty(); }
};

class tls_context {
 public:
  // Loads certificates and keys; throws config_error naming the file and OpenSSL's reason.
  static std::shared_ptr<tls_context> make_server(const tls_options& options);
  ~tls_context();
  tls_context(const tls_context&) = delete;
  tls_context& operator=(const tls_context&) = delete;

  SSL_CTX* native() const noexcept { return ctx_; }
  const tls_options& options() const noexcept { return options_; }

 private:
  tls_context(SSL_CTX* ctx, tls_options options) : ctx_(ctx), options_(std::move(options)) {}
  SSL_CTX* ctx_;
  tls_options options_;
};

// The error category of TLS failures (OpenSSL's reason in the message).
const std::error_category& tls_category() noexcept;

class tls_session {
 public:
  explicit tls_session(const tls_context& context);  // server side
  ~tls_session();
  tls_session(const tls_session&) = delete;
  tls_session& operator=(const tls_session&) = delete;

  // Ciphertext received from the peer.
  void feed(const std::uint8_t* data, std::size_t size);

  enum class status { data, need_more, closed, error };
  // Decrypts into [out, out + capacity). `n` gets the plaintext size when status::data;
  // `closed` is the peer's close_notify; `error` is a failed handshake or a bad record.
  status read(std::uint8_t* out, std::size_t capacity, std::size_t& n);

  // Encrypts plaintext; the records wait in the session until take(). False on failure.
  bool write(const void* data, std::size_t size);
  // Queues our close_notify alert.
  void shutdown();

  // Ciphertext waiting to be sent.
  std::size_t pending() const noexcept;
  // Moves up to `capacity` bytes of waiting ciphertext into `out`; returns how many.
  std::size_t take(std::uint8_t* out, std::size_t capacity);

  bool handshake_done() const noexcept;
  // The last error, for logs.
  std::error_code error() const noexcept { return error_; }
  // The ALPN protocol chosen, or "".
  std::string alpn() const;

 private:
  SSL* ssl_ = nullptr;
  BIO* in_ = nullptr;   // ciphertext from the peer (SSL reads it)
  BIO* out_ = nullptr;  // ciphertext for the peer (SSL writes it)
  std::error_code error_;
};

}  // namespace switchboard::runtime
