#include "runtime/dialer.hpp"

#include "runtime/error.hpp"
#include "runtime/proxy.hpp"
#include "runtime/url.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <memory>
#include <variant>

namespace switchboard::runtime {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

std::optional<proxy_options> proxy_options::parse(const std::string& text, std::string* why) {
  const auto u = parse_url(text, why);
  if (!u) return std::nullopt;
  proxy_options p;
  if (u->scheme == "http") {
    p.type = kind::http;
  } else if (u->scheme == "socks5") {
    p.type = kind::socks5;
  } else {
    if (why) *why = "a proxy URL is http://host:port or socks5://host:port";
    return std::nullopt;
  }
  p.host = u->host;
  p.port = u->port;
  p.user = u->user;
  p.password = u->password;
  return p;
}

std::string proxy_options::to_string() const {
  const char* scheme = type == kind::http ? "http" : "socks5";
  const bool v6 = host.find(':') != std::string::npos;
  return std::string(scheme) + "://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

namespace {

// One dial in flight. Owned by its pending operations (shared_from_this); the timer and the
// completion both go through finish(), which runs once.
class dial_op : public std::enable_shared_from_this<dial_op> {
 public:
  dial_op(worker& home, dial_request request, dial_handler done)
      : home_(home),
        request_(std::move(request)),
        done_(std::move(done)),
        resolver_(home.context()),
        socket_(home.context()),
        timer_(home.context()) {}

  void start() {
    const bool via_proxy = request_.proxy.type != proxy_options::kind::none;
    if (via_proxy) {
      if (const std::error_code ec = proxy::check_target(request_.host, request_.port))
        return finish(ec, "cannot ask the proxy for " + request_.host + ": " + ec.message());
    }
    if (request_.timeout_ms) {
      timer_.expires_after(std::chrono::milliseconds(request_.timeout_ms));
      timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
        if (ec) return;
        self->finish(make_error_code(errc::timed_out),
                     "no connection within " + std::to_string(self->request_.timeout_ms) + " ms" +
                         (self->stage_.empty() ? "" : " (" + self->stage_ + ")"));
      });
    }
    const std::string& host = via_proxy ? request_.proxy.host : request_.host;
    const std::uint16_t port = via_proxy ? request_.proxy.port : request_.port;
    peer_ = (via_proxy ? "proxy " : "") + host + ":" + std::to_string(port);
    stage_ = "resolving " + host;
    resolver_.async_resolve(host, std::to_string(port),
                            [self = shared_from_this()](const boost::system::error_code& ec,
                                                        tcp::resolver::results_type results) {
                              if (self->finished_) return;
                              if (ec)
                                return self->finish(
                                    ec, "cannot resolve " + self->peer_ + ": " + ec.message());
                              self->connect(results);
                            });
  }

 private:
  void connect(const tcp::resolver::results_type& results) {
    stage_ = "connecting to " + peer_;
    asio::async_connect(
        socket_, results,
        [self = shared_from_this()](const boost::system::error_code& ec, const tcp::endpoint&) {
          if (self->finished_) return;
          if (ec) return self->finish(ec, "cannot connect to " + self->peer_ + ": " + ec.message());
          self->connected();
        });
  }

  void connected() {
    boost::system::error_code ignored;
    socket_.set_option(tcp::no_delay(true), ignored);
    const proxy_options& p = request_.proxy;
    if (p.type == proxy_options::kind::none) return finish({}, {});
    stage_ = "proxy handshake with " + peer_;
    if (p.type == proxy_options::kind::http) {
      http_.emplace();
      write(proxy::http_connect_request(request_.host, request_.port, p.user, p.password));
    } else {
      socks_ =
          std::make_unique<proxy::socks5_client>(request_.host, request_.port, p.user, p.password);
      if (const std::error_code ec = socks_->error())
        return finish(ec, "cannot ask " + peer_ + " for " + request_.host + ": " + ec.message());
      write(std::string(socks_->greeting()));
    }
  }

  void write(std::string bytes) {
    auto data = std::make_shared<std::string>(std::move(bytes));
    asio::async_write(
        socket_, asio::buffer(*data),
        [self = shared_from_this(), data](const boost::system::error_code& ec, std::size_t) {
          if (self->finished_) return;
          if (ec) return self->finish(ec, "writing to " + self->peer_ + ": " + ec.message());
          self->read();
        });
  }

  void read() {
    socket_.async_read_some(
        asio::buffer(buffer_),
        [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
          if (self->finished_) return;
          if (ec)
            return self->finish(ec, self->peer_ + " closed the connection during its handshake" +
                                        (ec == asio::error::eof ? "" : ": " + ec.message()));
          self->received(n);
        });
  }

  void received(std::size_t n) {
    const char* data = buffer_.data();
    if (http_) {
      const proxy::http_connect_result r = http_->feed(data, n);
      if (r.kind == proxy::http_connect_result::need_more) return read();
      if (r.kind == proxy::http_connect_result::error)
        return finish(r.error_code,
                      peer_ + " sent a bad CONNECT response: " + r.error_code.message());
      if (!r.established())
        return finish(
            make_error_code(proxy::errc::http_refused),
            peer_ + " refused: " + std::to_string(r.status) + " " + std::string(r.reason));
      return tunnel_open(n - r.consumed);
    }
    const proxy::socks5_result r = socks_->feed(data, n);
    if (r.kind == proxy::socks5_result::error)
      return finish(r.error_code, peer_ + ": " + r.error_code.message());
    if (r.kind == proxy::socks5_result::done) return tunnel_open(n - r.consumed);
    if (!r.output.empty()) return write(std::string(r.output));
    read();
  }

  void tunnel_open(std::size_t extra) {
    // The target speaks after us (TLS or the upgrade request), so a proxy that sends more
    // than its handshake is broken; refusing it keeps the socket's stream simple.
    if (extra)
      return finish(std::make_error_code(std::errc::protocol_error),
                    peer_ + " sent data before the tunnel was used");
    finish({}, {});
  }

  void finish(const std::error_code& ec, const std::string& what) {
    if (finished_) return;
    finished_ = true;
    timer_.cancel();
    resolver_.cancel();
    boost::system::error_code ignored;
    if (ec) socket_.close(ignored);
    dial_handler done = std::move(done_);
    done(ec, what, std::move(socket_));
  }

  worker& home_;
  dial_request request_;
  dial_handler done_;
  tcp::resolver resolver_;
  tcp::socket socket_;
  asio::steady_timer timer_;
  std::string peer_;   // what we connect to, for messages
  std::string stage_;  // what we are doing, for the timeout's message
  std::optional<proxy::http_connect_parser> http_;
  std::unique_ptr<proxy::socks5_client> socks_;
  std::array<char, 4096> buffer_{};
  bool finished_ = false;
};

}  // namespace

void dial(worker& home, dial_request request, dial_handler done) {
  auto op = std::make_shared<dial_op>(home, std::move(request), std::move(done));
  asio::post(home.context(), [op] { op->start(); });
}

}  // namespace switchboard::runtime
