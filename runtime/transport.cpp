#include "runtime/transport.hpp"

#include "runtime/error.hpp"
#include "runtime/log.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace switchboard::runtime {
namespace {
constexpr int max_iovecs = 64;
constexpr int reads_per_wakeup = 4;  // then yield to other connections of the thread
}  // namespace

transport::transport(worker& home, tcp_socket socket, transport_limits limits,
                     const tls_context* tls)
    : transport(home, std::move(socket), limits,
                tls ? std::make_unique<tls_session>(*tls) : std::unique_ptr<tls_session>{}) {}

transport::transport(worker& home, tcp_socket socket, transport_limits limits,
                     std::unique_ptr<tls_session> tls)
    : home_(home), limits_(limits), tls_(std::move(tls)) {
  read_tokens_ = write_tokens_ = static_cast<std::int64_t>(limits_.throttle_bytes_per_sec);
  if (!socket.is_open()) return;
  // Accepted and dialed sockets arrive non-blocking, with TCP_NODELAY (io_pool.hpp); a peer
  // gone already makes start() end it.
  if (socket.peer_size() > 0 && socket.peer_size() <= remote_.capacity()) {
    std::memcpy(remote_.data(), socket.peer(), socket.peer_size());
    remote_.resize(socket.peer_size());
  } else {
    socklen_t length = static_cast<socklen_t>(remote_.capacity());
    if (::getpeername(socket.native_handle(), remote_.data(), &length) != 0) return;
    remote_.resize(length);
  }
  fd_ = socket.release();  // TCP_NODELAY is set already: the listener's is inherited
}

transport::~transport() {
  if (started_ && !closed_) home_.unlink(this);
  if (fd_ >= 0) ::close(fd_);  // never started
}

void transport::start() {
  started_ = true;
  last_read_tick_ = home_.now_tick();
  if (fd_ < 0) {  // the socket was gone before we got it
    closed_ = true;
    return on_closed(make_error_code(errc::eof));
  }
  self_ = shared_from_this();
  home_.link(this);
  home_.stats.connections_open.add();
  interest_ = EPOLLIN;
  home_.watch(this, fd_, interest_);
  if (tls_ && tls_->pending()) take_ciphertext();  // a client's first flight
  if (queue_.size() > head_) flush();              // and anything sent before start()
}

// What the epoll set should report: readability unless reading is paused, writability while a
// write waits for room. Level-triggered, so a socket left with unread bytes (the read budget
// ran out) is simply reported again next turn.
void transport::update_interest() {
  if (closed_) return;
  const std::uint32_t want = (read_paused_ || read_throttled_ ? 0u : std::uint32_t{EPOLLIN}) |
                             (write_waiting_ ? std::uint32_t{EPOLLOUT} : 0u);
  if (want == interest_) return;
  interest_ = want;
  home_.rewatch(this, fd_, want);
}

void transport::on_events(std::uint32_t events) {
  if (closed_) return;
  if (events & EPOLLOUT) {
    write_waiting_ = false;
    flush();
    if (closed_) return;
    update_interest();
  }
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
    // A hang-up or an error is reported even while reading is paused: then read anyway, so
    // recv() says what happened and the socket is closed instead of reported forever.
    read_ready();
  }
}

void transport::read_ready() {
  std::uint8_t* buffer = home_.read_buffer();
  for (int i = 0; i < reads_per_wakeup; ++i) {
    const ssize_t n = ::recv(fd_, buffer, worker::read_buffer_size, 0);
    if (n > 0) {
      home_.stats.bytes_in.add(static_cast<std::uint64_t>(n));
      if (limits_.throttle_bytes_per_sec) read_tokens_ -= n;
      last_read_tick_ = home_.now_tick();
      if (tls_) {
        if (!read_tls(buffer, static_cast<std::size_t>(n))) return;
      } else if (!lingering_) {
        home_.corked = this;
        on_data(buffer, static_cast<std::size_t>(n));
        uncork();
      }
      if (closed_) return;
      if (static_cast<std::size_t>(n) < worker::read_buffer_size) break;
      continue;
    }
    if (n == 0) return close_socket(lingering_ ? std::error_code{} : make_error_code(errc::eof));
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    return close_socket(std::error_code(errno, std::system_category()));
  }
  if (queued_ > limits_.max_backpressure / 2)
    read_paused_ = true;  // flush() resumes reading once the peer has taken most of it
  if (limits_.throttle_bytes_per_sec && read_tokens_ <= 0)
    read_throttled_ = true;  // tick() resumes reading once the debt is paid
  update_interest();
}

// The limit applies to what is already waiting: a send onto a queue under the limit is
// accepted whatever its size (so one large message never counts as a slow consumer), and the
// queue is bounded by max_backpressure plus one message.
bool transport::over_limit() {
  if (queued_ + home_.cork_buffer.size() <= limits_.max_backpressure) return false;
  if (limits_.policy == slow_consumer_policy::drop) {
    home_.stats.dropped_messages.add();
  } else {
    home_.stats.slow_consumer_closes.add();
    on_slow_consumer();
  }
  return true;
}

void transport::on_slow_consumer() {
  abort(make_error_code(errc::slow_consumer));
}

send_status transport::send(const shared_buffer& buffer, bool control) {
  if (closed_ || lingering_ || (draining_ && !control)) return send_status::dropped;
  if (!control && over_limit()) return send_status::dropped;
  if (home_.corked == this) {
    // Small buffers join the cork; a big one goes behind what the cork holds, in order.
    if (home_.cork_buffer.size() + buffer->size() <= worker::cork_buffer_size) {
      home_.cork_buffer.append(*buffer);
      return send_status::queued;
    }
    spill_cork();
  }
  push(buffer);
  schedule_flush();
  return send_status::queued;
}

send_status transport::send_parts(const std::string_view* parts, std::size_t count, bool control) {
  if (closed_ || lingering_ || (draining_ && !control)) return send_status::dropped;
  std::size_t size = 0;
  for (std::size_t i = 0; i < count; ++i)
    size += parts[i].size();
  if (!control && over_limit()) return send_status::dropped;
  if (home_.corked == this) {
    if (home_.cork_buffer.size() + size > worker::cork_buffer_size) spill_cork();
    if (size <= worker::cork_buffer_size) {
      for (std::size_t i = 0; i < count; ++i)
        home_.cork_buffer.append(parts[i]);
      return send_status::queued;
    }
  }
  auto buffer = std::make_shared<std::string>();
  buffer->reserve(size);
  for (std::size_t i = 0; i < count; ++i)
    buffer->append(parts[i]);
  push(std::move(buffer));
  schedule_flush();
  return send_status::queued;
}

void transport::tick(std::uint32_t now) {
  if (closed_) return;
  if ((draining_ || lingering_) && static_cast<std::int32_t>(now - linger_deadline_) >= 0)
    return close_socket({});
  if (const std::uint64_t rate = limits_.throttle_bytes_per_sec) {
    const auto per_tick = static_cast<std::int64_t>(rate * worker::tick_ms / 1000);
    const auto cap = static_cast<std::int64_t>(rate);
    read_tokens_ = std::min(read_tokens_ + per_tick, cap);
    write_tokens_ = std::min(write_tokens_ + per_tick, cap);
    if (read_throttled_ && read_tokens_ > 0) {
      read_throttled_ = false;
      update_interest();
    }
    if (write_throttled_ && write_tokens_ > 0) {
      write_throttled_ = false;
      flush();
      if (closed_) return;
    }
  }
  on_tick(now);
}

// Decrypts what was just read (it is copied into the session, so `buffer` is reused for the
// plaintext) and hands it to on_data. Returns false when the transport closed.
bool transport::read_tls(std::uint8_t* buffer, std::size_t size) {
  tls_->feed(buffer, size);
  for (;;) {
    std::size_t n = 0;
    const auto st = tls_->read(buffer, worker::read_buffer_size, n);
    if (st == tls_session::status::data) {
      if (lingering_) continue;
      home_.corked = this;
      on_data(buffer, n);
      uncork();
      if (closed_) return false;
      continue;
    }
    take_ciphertext();  // handshake replies, alerts, session tickets
    if (st == tls_session::status::need_more) break;
    if (st == tls_session::status::closed) {
      close_socket(make_error_code(errc::eof));
      return false;
    }
    SB_LOG(debug, "TLS failure from %s: %s", remote_.address().to_string().c_str(),
           tls_->error().message().c_str());
    flush();  // send the alert, then end
    close_socket(tls_->error());
    return false;
  }
  if (queue_.size() > head_) flush();
  return !closed_;
}

// Moves the cork buffer's bytes into the queue (keeps order when a large send follows them).
void transport::spill_cork() {
  if (home_.cork_buffer.empty()) return;
  push(std::make_shared<const std::string>(home_.cork_buffer));
  home_.cork_buffer.clear();
}

void transport::push(shared_buffer data, std::size_t offset) {
  if (!tls_) return push_wire(std::move(data), offset);
  if (!tls_->write(data->data() + offset, data->size() - offset))
    return close_socket(tls_->error());
  take_ciphertext();
}

void transport::push_wire(shared_buffer data, std::size_t offset) {
  queued_ += data->size() - offset;
  queue_.push_back(chunk{std::move(data), offset});
}

void transport::take_ciphertext() {
  const std::size_t n = tls_->pending();
  if (n == 0) return;
  auto wire = std::make_shared<std::string>(n, '\0');
  wire->resize(tls_->take(reinterpret_cast<std::uint8_t*>(wire->data()), n));
  push_wire(std::move(wire));
}

void transport::uncork() {
  home_.corked = nullptr;
  std::string& cork = home_.cork_buffer;
  if (closed_) {
    cork.clear();  // the worker's buffer is shared: never leave our bytes for the next one
    return;
  }
  if (!cork.empty()) {
    if (tls_) {
      // Encrypt the whole cork as records (one write for everything this read caused).
      const bool ok = tls_->write(cork.data(), cork.size());
      cork.clear();
      if (!ok) return close_socket(tls_->error());
      take_ciphertext();
    } else if (queue_.size() == head_ && !write_waiting_ && !limits_.throttle_bytes_per_sec) {
      // Nothing queued before it: write the cork straight from the worker's buffer.
      const ssize_t n = ::send(fd_, cork.data(), cork.size(), MSG_NOSIGNAL);
      if (n > 0) home_.stats.bytes_out.add(static_cast<std::uint64_t>(n));
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        cork.clear();
        return close_socket(std::error_code(errno, std::system_category()));
      }
      const std::size_t sent = n > 0 ? static_cast<std::size_t>(n) : 0;
      if (sent < cork.size()) push_wire(std::make_shared<const std::string>(cork, sent));
    } else {
      push_wire(std::make_shared<const std::string>(cork));  // behind the queue (or throttled)
    }
    cork.clear();
  }
  if (queue_.size() > head_)
    flush();
  else if (draining_ && !lingering_)
    finish_drain();
}

void transport::schedule_flush() {
  if (home_.corked == this || flush_posted_ || write_waiting_ || !self_) return;
  flush_posted_ = true;
  home_.flush_later(self_);
}

void transport::consume(std::size_t n) {
  queued_ -= n;
  while (n > 0) {
    chunk& c = queue_[head_];
    const std::size_t left = c.data->size() - c.offset;
    if (n < left) {
      c.offset += n;
      return;
    }
    n -= left;
    c.data.reset();
    ++head_;
  }
}

void transport::flush() {
  if (closed_ || write_waiting_ || home_.corked == this) return;
  std::size_t written = 0;
  while (head_ < queue_.size()) {
    iovec iov[max_iovecs];
    int count = 0;
    for (std::size_t i = head_; i < queue_.size() && count < max_iovecs; ++i, ++count) {
      const chunk& c = queue_[i];
      iov[count].iov_base = const_cast<char*>(c.data->data() + c.offset);
      iov[count].iov_len = c.data->size() - c.offset;
    }
    if (limits_.throttle_bytes_per_sec) {
      if (write_tokens_ <= 0) {
        write_throttled_ = true;  // tick() flushes again after the refill
        return;
      }
      // Cut the gather at what the bucket holds.
      std::size_t budget = static_cast<std::size_t>(write_tokens_);
      for (int i = 0; i < count; ++i) {
        if (iov[i].iov_len >= budget) {
          iov[i].iov_len = budget;
          count = i + 1;
          break;
        }
        budget -= iov[i].iov_len;
      }
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<std::size_t>(count);
    const ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return wait_writable();
      return close_socket(std::error_code(errno, std::system_category()));
    }
    home_.stats.bytes_out.add(static_cast<std::uint64_t>(n));
    if (limits_.throttle_bytes_per_sec) write_tokens_ -= n;
    consume(static_cast<std::size_t>(n));
    written += static_cast<std::size_t>(n);
    if (read_paused_ && queued_ <= limits_.max_backpressure / 4) {
      read_paused_ = false;
      update_interest();
    }
    if (written >= flush_budget && head_ < queue_.size()) {
      schedule_flush();  // let the thread's other connections write too
      return;
    }
  }
  queue_.clear();
  head_ = 0;
  if (queue_.capacity() > 16) std::vector<chunk>().swap(queue_);  // idle: hold nothing
  if (draining_) finish_drain();
  if (!closed_) on_drained();
}

void transport::wait_writable() {
  write_waiting_ = true;  // on_events() flushes when the epoll set reports room
  update_interest();
}

void transport::close_gracefully(std::uint32_t linger_ms) {
  if (closed_ || draining_ || lingering_) return;
  draining_ = true;
  // One deadline covers both writing what is queued and waiting for the peer's FIN.
  linger_deadline_ = home_.now_tick() + linger_ms / worker::tick_ms + 1;
  if (home_.corked == this) return;  // uncork() finishes the drain
  if (queue_.size() == head_)
    finish_drain();
  else
    flush();
}

void transport::finish_drain() {
  if (lingering_ || closed_) return;
  if (tls_ && !tls_shutdown_sent_) {
    // close_notify goes after everything else, before the FIN.
    tls_shutdown_sent_ = true;
    tls_->shutdown();
    take_ciphertext();
    if (queue_.size() > head_) return flush();  // flush() comes back here when drained
  }
  lingering_ = true;
  ::shutdown(fd_, SHUT_WR);
}

void transport::abort(const std::error_code& ec) {
  close_socket(ec);
}

void transport::close_socket(const std::error_code& ec) {
  if (closed_) return;
  closed_ = true;
  if (home_.corked == this) home_.cork_buffer.clear();  // closed mid-read: drop our replies
  if (started_) {
    home_.unlink(this);
    home_.stats.connections_open.sub();
  }
  if (fd_ >= 0) ::close(fd_);  // also leaves the epoll set
  fd_ = -1;
  queue_.clear();
  head_ = queued_ = 0;
  on_closed(ec);
  // The turn's batch of events may still name us: the worker keeps us alive until it ends.
  if (self_) home_.retire(std::move(self_));
}

}  // namespace switchboard::runtime
