// beast_echo_server.cpp: the peer Switchboard's echo figures are compared against.
//
// A minimal, idiomatic Boost.Beast asynchronous WebSocket echo server, written the way Beast's own
// example (example/websocket/server/async/websocket_server_async.cpp) is: one io_context run by
// --threads threads, a strand per connection, websocket::stream<beast::tcp_stream> with the
// suggested server timeouts, one async_read into a flat_buffer, then one async_write of the same
// bytes with the same opcode. Settings chosen to match the Switchboard daemon's echo path:
// TCP_NODELAY on every accepted socket, permessage-deflate off, auto_fragment off (a message
// leaves as one frame), read_message_max 16 MiB. Any request target is accepted.
//
// Built header-only (no sb_boost, no Switchboard code): it must stay a faithful stand-alone Beast
// program, and it is the only Beast translation unit in tests/bench.
//
//   beast_echo_server --listen 127.0.0.1:PORT [--threads N]
#include <boost/asio/dispatch.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <sys/resource.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

constexpr std::size_t read_message_max = 16u << 20;

// Disconnects are the normal end of a benchmark run; anything else is reported.
void report(beast::error_code ec, const char* what) {
  if (ec == websocket::error::closed || ec == net::error::eof ||
      ec == net::error::connection_reset || ec == net::error::operation_aborted ||
      ec == net::error::broken_pipe || ec == beast::error::timeout) {
    return;
  }
  std::cerr << "beast_echo_server: " << what << ": " << ec.message() << "\n";
}

// One WebSocket connection: read a message, write it back, repeat.
class session : public std::enable_shared_from_this<session> {
 public:
  explicit session(tcp::socket&& socket) : ws_(std::move(socket)) {}

  void run() {
    // Start on the connection's strand.
    net::dispatch(ws_.get_executor(),
                  beast::bind_front_handler(&session::on_run, shared_from_this()));
  }

 private:
  void on_run() {
    beast::get_lowest_layer(ws_).socket().set_option(tcp::no_delay(true));
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    websocket::permessage_deflate pmd;
    pmd.server_enable = false;
    pmd.client_enable = false;
    ws_.set_option(pmd);
    ws_.auto_fragment(false);
    ws_.read_message_max(read_message_max);
    ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
      res.set(http::field::server, std::string(BOOST_BEAST_VERSION_STRING) + " beast_echo_server");
    }));
    ws_.async_accept(beast::bind_front_handler(&session::on_accept, shared_from_this()));
  }

  void on_accept(beast::error_code ec) {
    if (ec) return report(ec, "accept");
    do_read();
  }

  void do_read() {
    ws_.async_read(buffer_, beast::bind_front_handler(&session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec) return report(ec, "read");
    ws_.text(ws_.got_text());
    ws_.async_write(buffer_.data(),
                    beast::bind_front_handler(&session::on_write, shared_from_this()));
  }

  void on_write(beast::error_code ec, std::size_t) {
    if (ec) return report(ec, "write");
    buffer_.consume(buffer_.size());
    do_read();
  }

  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buffer_;
};

// Accepts connections, each onto its own strand.
class listener : public std::enable_shared_from_this<listener> {
 public:
  listener(net::io_context& ioc, const tcp::endpoint& endpoint) : ioc_(ioc), acceptor_(ioc) {
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
    } else {
      std::make_shared<session>(std::move(socket))->run();
    }
    do_accept();
  }

  net::io_context& ioc_;
  tcp::acceptor acceptor_;
};

[[noreturn]] void usage_error(const std::string& message) {
  std::cerr << "beast_echo_server: " << message << "\n"
            << "usage: beast_echo_server --listen HOST:PORT [--threads N]\n";
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

}  // namespace

int main(int argc, char* argv[]) {
  std::string listen;
  int threads = 1;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if ((arg == "--listen" || arg == "--threads") && i + 1 >= argc)
      usage_error(arg + " needs a value");
    if (arg == "--listen") {
      listen = argv[++i];
    } else if (arg == "--threads") {
      threads = std::atoi(argv[++i]);
      if (threads < 1 || threads > 256) usage_error("--threads wants 1..256");
    } else {
      usage_error("unknown argument " + arg);
    }
  }
  std::size_t colon = listen.rfind(':');
  if (colon == std::string::npos) usage_error("--listen wants HOST:PORT");
  beast::error_code ec;
  auto address = net::ip::make_address(listen.substr(0, colon), ec);
  int port = std::atoi(listen.c_str() + colon + 1);
  if (ec || port <= 0 || port > 65535) usage_error("bad --listen " + listen);

  raise_fd_limit();
  net::io_context ioc{threads};
  try {
    std::make_shared<listener>(ioc, tcp::endpoint{address, static_cast<unsigned short>(port)})
        ->run();
  } catch (const std::exception& e) {
    std::cerr << "beast_echo_server: cannot listen on " << listen << ": " << e.what() << "\n";
    return 1;
  }

  // SIGINT/SIGTERM stop the io_context, so the process exits cleanly.
  net::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&ioc](beast::error_code, int) { ioc.stop(); });

  std::cerr << "beast_echo_server: listening on " << listen << " with " << threads << " thread"
            << (threads == 1 ? "" : "s") << " (Boost " << BOOST_LIB_VERSION << ")\n";
  std::vector<std::thread> pool;
  pool.reserve(threads - 1);
  for (int i = 1; i < threads; ++i)
    pool.emplace_back([&ioc] { ioc.run(); });
  ioc.run();
  for (std::thread& t : pool)
    t.join();
  return 0;
}
