#include "runtime/dialer.hpp"

#include "runtime/error.hpp"
#include "runtime/proxy.hpp"
#include "runtime/url.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

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

std::error_code resolve_error(int rc) {
  // The codes Asio's resolver gave, so messages and comparisons stay what they were.
  namespace e = asio::error;
  switch (rc) {
    case EAI_NONAME:
#ifdef EAI_NODATA
    case EAI_NODATA:
#endif
      return boost::system::error_code(e::host_not_found);
    case EAI_AGAIN:
      return boost::system::error_code(e::host_not_found_try_again);
    case EAI_SERVICE:
      return boost::system::error_code(e::service_not_found);
    case EAI_SYSTEM:
      return std::error_code(errno, std::system_category());
    default:
      return boost::system::error_code(e::no_recovery);
  }
}

// One dial in flight, in its worker's epoll set while it connects and runs the proxy
// handshake. From its first registration it owns itself (keep_) until finish(), which runs
// once (the timer, an error or success all end there).
class dial_op final : public poll_target, public std::enable_shared_from_this<dial_op> {
 public:
  dial_op(worker& home, dial_request request, dial_handler done)
      : home_(home), request_(std::move(request)), done_(std::move(done)), timer_(home) {}
  ~dial_op() {
    if (fd_ >= 0) ::close(fd_);
  }
  dial_op(const dial_op&) = delete;
  dial_op& operator=(const dial_op&) = delete;

  void start() {
    const bool via_proxy = request_.proxy.type != proxy_options::kind::none;
    if (via_proxy) {
      if (const std::error_code ec = proxy::check_target(request_.host, request_.port))
        return finish(ec, "cannot ask the proxy for " + request_.host + ": " + ec.message());
    }
    if (request_.timeout_ms) {
      timer_.expires_after(std::chrono::milliseconds(request_.timeout_ms));
      timer_.async_wait([self = shared_from_this()](const std::error_code& ec) {
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
    boost::system::error_code ec;
    const auto literal = asio::ip::make_address(host, ec);
    if (!ec) {
      candidates_.emplace_back(literal, port);
      return connect_next();
    }
    // A name: getaddrinfo blocks, so it runs on a thread of its own and posts the answer back
    // (a dial that ended meanwhile ignores it). The thread's reference keeps the dial alive
    // until then; were the worker gone, the post is dropped and the dial freed on that thread
    // (its timer is disarmed by then: see worker::~worker).
    try {
      std::thread([remote = home_.remote_handle(), self = shared_from_this(), host,
                   port]() mutable {
        addrinfo hints{};
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_protocol = IPPROTO_TCP;
        addrinfo* list = nullptr;
        const int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &list);
        const std::error_code failure = rc == 0 ? std::error_code{} : resolve_error(rc);
        std::vector<tcp::endpoint> found;
        for (const addrinfo* a = list; a != nullptr; a = a->ai_next) {
          tcp::endpoint e;
          if (a->ai_addrlen > e.capacity()) continue;
          std::memcpy(e.data(), a->ai_addr, a->ai_addrlen);
          e.resize(a->ai_addrlen);
          found.push_back(e);
        }
        if (list) ::freeaddrinfo(list);
        remote.post([self = std::move(self), failure, found = std::move(found)]() mutable {
          self->resolved(failure, std::move(found));
        });
      }).detach();
    } catch (const std::system_error& e) {  // no thread to be had
      finish(std::error_code(e.code().value(), std::system_category()),
             "cannot resolve " + peer_ + ": " + e.what());
    }
  }

  void on_events(std::uint32_t events) override {
    if (finished_ || fd_ < 0) return;
    if (connecting_) {
      int err = 0;
      socklen_t size = sizeof err;
      if (::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &size) != 0) err = errno;
      if (err == 0 && !(events & EPOLLOUT)) return;  // not yet
      connecting_ = false;
      if (err) {
        last_error_ = std::error_code(err, std::system_category());
        return connect_next();
      }
      return connected();
    }
    if ((events & EPOLLOUT) && out_offset_ < out_.size()) send_some();
    if (finished_) return;
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) receive_some();
  }

 private:
  void resolved(const std::error_code& ec, std::vector<tcp::endpoint> found) {
    if (finished_) return;
    if (ec || found.empty()) {
      const std::error_code e = ec ? ec : boost::system::error_code(asio::error::host_not_found);
      return finish(e, "cannot resolve " + peer_ + ": " + e.message());
    }
    candidates_ = std::move(found);
    connect_next();
  }

  // Tries the next address (non-blocking connect; the epoll set says when it is done).
  void connect_next() {
    if (fd_ >= 0) ::close(fd_);  // the previous address failed (closing leaves the set)
    fd_ = -1;
    interest_ = 0;
    stage_ = "connecting to " + peer_;
    while (next_ < candidates_.size()) {
      const tcp::endpoint& e = candidates_[next_++];
      fd_ = ::socket(e.protocol().family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd_ < 0) {
        last_error_ = std::error_code(errno, std::system_category());
        continue;
      }
      if (::connect(fd_, e.data(), static_cast<socklen_t>(e.size())) == 0) return connected();
      if (errno == EINPROGRESS) {
        connecting_ = true;
        return want(EPOLLOUT);
      }
      last_error_ = std::error_code(errno, std::system_category());
      ::close(fd_);
      fd_ = -1;
    }
    if (!last_error_) last_error_ = std::make_error_code(std::errc::address_not_available);
    finish(last_error_, "cannot connect to " + peer_ + ": " + last_error_.message());
  }

  void want(std::uint32_t events) {
    if (events == interest_) return;
    if (!keep_) keep_ = shared_from_this();  // the epoll set holds a raw pointer: own ourselves
    if (interest_ == 0)
      home_.watch(this, fd_, events);
    else
      home_.rewatch(this, fd_, events);
    interest_ = events;
  }

  void connected() {
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
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
    out_ = std::move(bytes);
    out_offset_ = 0;
    send_some();
  }

  // Writes what is left of out_; then waits for the proxy's answer.
  void send_some() {
    while (out_offset_ < out_.size()) {
      const ssize_t n =
          ::send(fd_, out_.data() + out_offset_, out_.size() - out_offset_, MSG_NOSIGNAL);
      if (n >= 0) {
        out_offset_ += static_cast<std::size_t>(n);
        continue;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return want(EPOLLOUT);
      const std::error_code ec(errno, std::system_category());
      return finish(ec, "writing to " + peer_ + ": " + ec.message());
    }
    want(EPOLLIN);
  }

  void receive_some() {
    const ssize_t n = ::recv(fd_, buffer_.data(), buffer_.size(), 0);
    if (n > 0) return received(static_cast<std::size_t>(n));
    if (n == 0)
      return finish(boost::system::error_code(asio::error::eof),
                    peer_ + " closed the connection during its handshake");
    if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) return;
    const std::error_code ec(errno, std::system_category());
    finish(ec, peer_ + " closed the connection during its handshake: " + ec.message());
  }

  void received(std::size_t n) {
    const char* data = buffer_.data();
    if (http_) {
      const proxy::http_connect_result r = http_->feed(data, n);
      if (r.kind == proxy::http_connect_result::need_more) return;  // more comes
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
    tcp_socket socket;
    if (fd_ >= 0) {
      if (interest_) home_.unwatch(fd_);  // the transport registers it again, as its own
      if (ec)
        ::close(fd_);
      else
        socket = tcp_socket(fd_);
      fd_ = -1;
    }
    // This turn's batch of events may still name us: alive until the turn ends.
    if (keep_) home_.retire(std::move(keep_));
    dial_handler done = std::move(done_);
    done(ec, what, std::move(socket));
  }

  worker& home_;
  dial_request request_;
  dial_handler done_;
  timer timer_;
  std::shared_ptr<dial_op> keep_;
  int fd_ = -1;
  std::uint32_t interest_ = 0;  // registered events; 0: not in the epoll set
  bool connecting_ = false;
  std::vector<tcp::endpoint> candidates_;
  std::size_t next_ = 0;
  std::error_code last_error_;
  std::string peer_;   // what we connect to, for messages
  std::string stage_;  // what we are doing, for the timeout's message
  std::optional<proxy::http_connect_parser> http_;
  std::unique_ptr<proxy::socks5_client> socks_;
  std::string out_;  // handshake bytes to send
  std::size_t out_offset_ = 0;
  std::array<char, 4096> buffer_{};
  bool finished_ = false;
};

}  // namespace

void dial(worker& home, dial_request request, dial_handler done) {
  auto op = std::make_shared<dial_op>(home, std::move(request), std::move(done));
  home.post([op] { op->start(); });
}

}  // namespace switchboard::runtime
