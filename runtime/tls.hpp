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
//
// The client side (the WebSocket client's wss://) uses the same session class: a client
// context verifies the server's chain against a CA file or the system store and checks the
// certificate names the host dialed (SSL_set1_host), sends SNI, and offers ALPN.
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

// The client side: whom we trust and what we present.
struct tls_client_options {
  std::string ca_file;  // PEM CAs to verify the server with; empty = the system's store
  // Verify the server's certificate chain and that it names the host we dial (SNI is sent for
  // host names either way). Turning it off is for tests against throwaway certificates only.
  bool verify_peer = true;
  std::string certificate_file;     // client certificate (PEM, chain after it); empty = none
  std::string private_key_file;     // empty = the key is in certificate_file
  std::string min_version = "1.2";  // "1.2" or "1.3"
  std::string ciphers;              // TLS 1.2 cipher list (OpenSSL syntax); empty = default
  std::vector<std::string> alpn{"http/1.1"};  // protocols we offer, in order of preference
};

class tls_context {
 public:
  // Loads certificates and keys; throws config_error naming the file and OpenSSL's reason.
  static std::shared_ptr<tls_context> make_server(const tls_options& options);
  // Same for a client context (CA store, optional client certificate, ALPN offer).
  static std::shared_ptr<tls_context> make_client(const tls_client_options& options);
  ~tls_context();
  tls_context(const tls_context&) = delete;
  tls_context& operator=(const tls_context&) = delete;

  SSL_CTX* native() const noexcept { return ctx_; }
  bool is_client() const noexcept { return client_; }
  bool verifies_peer() const noexcept { return verify_peer_; }

 private:
  tls_context(SSL_CTX* ctx, bool client) : ctx_(ctx), client_(client) {}
  SSL_CTX* ctx_;
  bool client_;
  bool verify_peer_ = false;       // client: check the server's chain and host name
  std::vector<std::string> alpn_;  // server: what select_alpn picks from
};

// The error category of TLS failures (OpenSSL's reason in the message).
const std::error_category& tls_category() noexcept;

class tls_session {
 public:
  // The server side of a session on a server context.
  explicit tls_session(const tls_context& context);
  // The client side on a client context, dialing `host` (sent as SNI unless it is an IP
  // literal; checked against the certificate when the context verifies peers). The
  // handshake starts at once: its first flight waits in pending().
  tls_session(const tls_context& context, const std::string& host);
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
  // Before the handshake completes (a client writing its request at once) the plaintext is
  // held and encrypted as soon as the handshake is done.
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
  // The last error as a sentence, naming a failed certificate check ("certificate verify
  // failed: Hostname mismatch") where OpenSSL's error code alone would not.
  std::string error_text() const;
  // The ALPN protocol chosen, or "".
  std::string alpn() const;

 private:
  SSL* ssl_ = nullptr;
  BIO* in_ = nullptr;   // ciphertext from the peer (SSL reads it)
  BIO* out_ = nullptr;  // ciphertext for the peer (SSL writes it)
  std::error_code error_;
  std::string early_;  // plaintext written before the handshake completed

  void init(const tls_context& context);
  bool write_early();
};

}  // namespace switchboard::runtime
