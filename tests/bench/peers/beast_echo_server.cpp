// beast_echo_server.cpp: the peer Switchboard's echo figures are compared against.
//
// A minimal, idiomatic Boost.Beast asynchronous WebSocket echo server, written the way Beast's own
// example (example/websocket/server/async/websocket_server_async.cpp) is: one io_context run by
// --threads threads, a strand per connection, websocket::stream<beast::tcp_stream> with the
// suggested server timeouts, one async_read into a flat_buffer, then one async_write of the same
// bytes with the same opcode. Settings chosen to match the Switchboard daemon's echo path:
// TCP_NODELAY on every accepted socket, permessage-deflate off (unless --permessage-deflate),
// auto_fragment off (a message leaves as one frame), read_message_max 16 MiB. Any request target
// is accepted.
//
// --tls-cert/--tls-key: wss, the way Beast's websocket_server_async_ssl example does it:
// websocket::stream<beast::ssl_stream<beast::tcp_stream>>, the TLS handshake (30 s timeout)
// before the WebSocket accept. The context is a TLS server context with minimum version 1.2
// and OpenSSL's default ciphers, as the daemon's (it negotiates TLS 1.3 and
// TLS_AES_256_GCM_SHA384 with swbench); Asio sets SSL_MODE_RELEASE_BUFFERS, as the daemon does.
//
// --permessage-deflate: websocket::permessage_deflate with server_enable, windows 15 and context
// takeover both ways (RFC 7692's defaults), compLevel 6 and memLevel 1: the daemon's defaults
// (runtime/websocket/deflate.hpp). Differences that remain, all Beast's own: it compresses with
// its own C++ port of zlib 1.2.8 (boost/beast/zlib), not the system zlib the daemon links; it
// compresses every message, where the daemon sends messages under 32 bytes (deflate_min_size)
// uncompressed (at 32 bytes and above both compress); and it ends every compressed message with
// a full flush (Flush::full in boost/beast/websocket/detail/impl_base.hpp, Boost 1.74), which
// empties the compressor's history, so although context takeover is negotiated, each message
// it sends is compressed on its own and comes out larger (swbench reports the sizes). Its
// inflater does keep the context, as it must.
//
// Built header-only (no sb_boost, no Switchboard code): it must stay a faithful stand-alone Beast
// program, and it is the only Beast translation unit in tests/bench.
//
//   beast_echo_server --listen 127.0.0.1:PORT [--threads N] [--tls-cert FILE --tls-key FILE]
//                     [--permessage-deflate]
#include <boost/asio/dispatch.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <sys/resource.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

namespace {

constexpr std::size_t read_message_max = 16u << 20;

// Disconnects are the normal end of a benchmark run; anything else is reported.
void report(beast::error_code ec, const char* what) {
  if (ec == websocket::error::closed || ec == net::error::eof ||
      ec == net::error::connection_reset || ec == net::error::operation_aborted ||
      ec == net::error::broken_pipe || ec == beast::error::timeout ||
      ec == ssl::error::stream_truncated) {
    return;
  }
  std::cerr << "beast_echo_server: " << what << ": " << ec.message() << "\n";
}

// What every session is configured with.
struct server_config {
  bool deflate = false;               // --permessage-deflate
  std::shared_ptr<ssl::context> tls;  // --tls-cert: serve wss
};

using plain_stream = beast::tcp_stream;
using tls_stream = beast::ssl_stream<beast::tcp_stream>;

// One WebSocket connection: read a message, write it back, repeat. Over TCP or over TLS.
template <class NextLayer>
class session : public std::enable_shared_from_this<session<NextLayer>> {
  static constexpr bool is_tls = std::is_same_v<NextLayer, tls_stream>;

 public:
  session(tcp::socket&& socket, const server_config& config)
      : ws_(make_stream(std::move(socket), config)), deflate_(config.deflate) {}

  void run() {
    // Start on the connection's strand.
    net::dispatch(ws_.get_executor(),
                  beast::bind_front_handler(&session::on_run, this->shared_from_this()));
  }

 private:
  static websocket::stream<NextLayer> make_stream(tcp::socket&& socket,
                                                  const server_config& config) {
    if constexpr (is_tls) {
      return websocket::stream<NextLayer>(std::move(socket), *config.tls);
    } else {
      return websocket::stream<NextLayer>(std::move(socket));
    }
  }

  void on_run() {
    beast::get_lowest_layer(ws_).socket().set_option(tcp::no_delay(true));
    if constexpr (is_tls) {
      beast::get_lowest_layer(ws_).expires_after(std::chrono::seconds(30));
      ws_.next_layer().async_handshake(
          ssl::stream_base::server,
          beast::bind_front_handler(&session::on_tls_handshake, this->shared_from_this()));
    } else {
      start_websocket();
    }
  }

  void on_tls_handshake(beast::error_code ec) {
    if (ec) return report(ec, "tls handshake");
    beast::get_lowest_layer(ws_).expires_never();  // the websocket timeouts take over
    start_websocket();
  }

  void start_websocket() {
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    websocket::permessage_deflate pmd;
    pmd.server_enable = deflate_;
    pmd.client_enable = false;
    if (deflate_) {  // the daemon's defaults: see the file comment
      pmd.server_max_window_bits = 15;
      pmd.client_max_window_bits = 15;
      pmd.server_no_context_takeover = false;
      pmd.client_no_context_takeover = false;
      pmd.compLevel = 6;
      pmd.memLevel = 1;
    }
    ws_.set_option(pmd);
    ws_.auto_fragment(false);
    ws_.read_message_max(read_message_max);
    ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
      res.set(http::field::server, std::string(BOOST_BEAST_VERSION_STRING) + " beast_echo_server");
    }));
    ws_.async_accept(beast::bind_front_handler(&session::on_accept, this->shared_from_this()));
  }

  void on_accept(beast::error_code ec) {
    if (ec) return report(ec, "accept");
    do_read();
  }

  void do_read() {
    ws_.async_read(buffer_, beast::bind_front_handler(&session::on_read, this->shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec) return report(ec, "read");
    ws_.text(ws_.got_text());
    ws_.async_write(buffer_.data(),
                    beast::bind_front_handler(&session::on_write, this->shared_from_this()));
  }

  void on_write(beast::error_code ec, std::size_t) {
    if (ec) return report(ec, "write");
    buffer_.consume(buffer_.size());
    do_read();
  }

  websocket::stream<NextLayer> ws_;
  beast::flat_buffer buffer_;
  bool deflate_;
};

// Accepts connections, each onto its own strand.
class listener : public std::enable_shared_from_this<listener> {
 public:
  listener(net::io_context& ioc, const tcp::endpoint& endpoint, server_config config)
      : ioc_(ioc), acceptor_(ioc), config_(std::move(config)) {
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(net::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);  // throws on failure: a port in use is a startup error
    acceptor_.listen(net::socket_base::max_listen_connections);
  }

  void run() { do_accept(); }

 private:
  void do_accept() {
    acceptor_.async_accept(net::make_strand(ioc_),
                           beast::bind_front_handler(&listener::on_accept, shared_from_this()));
  }

  void on_accept(beast::error_code ec, tcp::socket socket) {
    if (ec) {
      report(ec, "accept");  // e.g. EMFILE: keep accepting
    } else if (config_.tls) {
      std::make_shared<session<tls_stream>>(std::move(socket), config_)->run();
    } else {
      std::make_shared<session<plain_stream>>(std::move(socket), config_)->run();
    }
    do_accept();
  }

  net::io_context& ioc_;
  tcp::acceptor acceptor_;
  server_config config_;
};

[[noreturn]] void usage_error(const std::string& message) {
  std::cerr << "beast_echo_server: " << message << "\n"
            << "usage: beast_echo_server --listen HOST:PORT [--threads N] [--tls-cert FILE "
               "--tls-key FILE] [--permessage-deflate]\n";
  std::exit(2);
}

// Connection-scale runs need more descriptors than the default limit: ask for a million (root
// may raise the hard limit), else settle for the hard limit.
void raise_fd_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
  rlimit wanted{1u << 20, 1u << 20};
  if (lim.rlim_max >= wanted.rlim_max || setrlimit(RLIMIT_NOFILE, &wanted) != 0) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

// A TLS server context like the daemon's: TLS 1.2 and up, OpenSSL's default ciphers, the
// certificate chain and key from PEM files. Exits on a bad file.
std::shared_ptr<ssl::context> make_tls_context(const std::string& cert, const std::string& key) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_compression);
  beast::error_code ec;
  ctx->use_certificate_chain_file(cert, ec);
  if (!ec) ctx->use_private_key_file(key, ssl::context::pem, ec);
  if (ec) {
    std::cerr << "beast_echo_server: cannot load " << cert << " / " << key << ": " << ec.message()
              << "\n";
    std::exit(1);
  }
  return ctx;
}

}  // namespace

int main(int argc, char* argv[]) {
  std::string listen, tls_cert, tls_key;
  int threads = 1;
  server_config config;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--permessage-deflate") {
      config.deflate = true;
      continue;
    }
    if ((arg == "--listen" || arg == "--threads" || arg == "--tls-cert" || arg == "--tls-key") &&
        i + 1 >= argc)
      usage_error(arg + " needs a value");
    if (arg == "--listen") {
      listen = argv[++i];
    } else if (arg == "--threads") {
      threads = std::atoi(argv[++i]);
      if (threads < 1 || threads > 256) usage_error("--threads wants 1..256");
    } else if (arg == "--tls-cert") {
      tls_cert = argv[++i];
    } else if (arg == "--tls-key") {
      tls_key = argv[++i];
    } else {
      usage_error("unknown argument " + arg);
    }
  }
  if (tls_cert.empty() != tls_key.empty()) usage_error("--tls-cert and --tls-key go together");
  if (!tls_cert.empty()) config.tls = make_tls_context(tls_cert, tls_key);
  std::size_t colon = listen.rfind(':');
  if (colon == std::string::npos) usage_error("--listen wants HOST:PORT");
  beast::error_code ec;
  auto address = net::ip::make_address(listen.substr(0, colon), ec);
  int port = std::atoi(listen.c_str() + colon + 1);
  if (ec || port <= 0 || port > 65535) usage_error("bad --listen " + listen);

  raise_fd_limit();
  net::io_context ioc{threads};
  try {
    std::make_shared<listener>(ioc, tcp::endpoint{address, static_cast<unsigned short>(port)},
                               config)
        ->run();
  } catch (const std::exception& e) {
    std::cerr << "beast_echo_server: cannot listen on " << listen << ": " << e.what() << "\n";
    return 1;
  }

  // SIGINT/SIGTERM stop the io_context, so the process exits cleanly.
  net::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&ioc](beast::error_code, int) { ioc.stop(); });

  std::cerr << "beast_echo_server: listening on " << listen << (config.tls ? " (wss)" : "")
            << (config.deflate ? " with permessage-deflate" : "") << " with " << threads
            << " thread" << (threads == 1 ? "" : "s") << " (Boost " << BOOST_LIB_VERSION << ")\n";
  std::vector<std::thread> pool;
  pool.reserve(threads - 1);
  for (int i = 1; i < threads; ++i)
    pool.emplace_back([&ioc] { ioc.run(); });
  ioc.run();
  for (std::thread& t : pool)
    t.join();
  return 0;
}
