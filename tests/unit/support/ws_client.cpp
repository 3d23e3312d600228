#include "ws_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket.hpp>

#include <random>

namespace switchboard::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

struct ws_client::impl {
  asio::io_context io;
  beast::websocket::stream<beast::tcp_stream> ws{io};
  beast::flat_buffer buffer;
  std::uint16_t close_code = 0;
};

ws_client::ws_client(const std::string& host, std::uint16_t port, const std::string& target)
    : impl_(std::make_unique<impl>()) {
  auto& s = *impl_;
  beast::get_lowest_layer(s.ws).connect(tcp::endpoint(asio::ip::make_address(host), port));
  beast::get_lowest_layer(s.ws).socket().set_option(tcp::no_delay(true));
  s.ws.handshake(host + ":" + std::to_string(port), target);
}

ws_client::~ws_client() = default;

void ws_client::send(const std::string& text) {
  impl_->ws.text(true);
  impl_->ws.write(asio::buffer(text));
}

void ws_client::send_binary(const std::string& data) {
  impl_->ws.binary(true);
  impl_->ws.write(asio::buffer(data));
}

std::optional<received> ws_client::read(std::chrono::milliseconds timeout) {
  auto& s = *impl_;
  // Run one async read with a deadline (the sync API has none).
  std::optional<received> out;
  s.buffer.consume(s.buffer.size());
  bool done = false;
  s.ws.async_read(s.buffer, [&](beast::error_code ec, std::size_t) {
    done = true;
    if (ec == beast::websocket::error::closed) s.close_code = s.ws.reason().code;
    if (ec) return;
    out = received{s.ws.got_binary(), beast::buffers_to_string(s.buffer.data())};
  });
  s.io.restart();
  s.io.run_for(timeout);
  if (!done) {
    // Timed out: cancel the read and let its handler run before returning.
    beast::get_lowest_layer(s.ws).cancel();
    s.io.restart();
    s.io.run();
    throw std::runtime_error("read timed out");
  }
  return out;
}

void ws_client::close(std::uint16_t code, const std::string& reason) {
  beast::websocket::close_reason r(static_cast<beast::websocket::close_code>(code), reason);
  impl_->ws.close(r);
}

std::uint16_t ws_client::close_code() const {
  return impl_->close_code;
}

std::uint16_t free_port() {
  static std::mt19937 rng{std::random_device{}()};
  std::uniform_int_distribution<int> pick(20000, 32000);
  for (int attempt = 0; attempt < 200; ++attempt) {
    const auto port = static_cast<std::uint16_t>(pick(rng));
    asio::io_context io;
    tcp::acceptor a(io);
    beast::error_code ec;
    a.open(tcp::v4(), ec);
    if (!ec) a.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
    if (!ec) return port;
  }
  throw std::runtime_error("no free port in 20000-32000");
}

}  // namespace switchboard::test
