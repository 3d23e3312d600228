// client_loop.cpp: see client_loop.hpp.
#include "apps/swbench/client_loop.hpp"

#include "apps/swbench/net.hpp"
#include "apps/swbench/stats.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <random>
#include <stdexcept>
#include <string>

namespace switchboard::swbench {

namespace {

constexpr int max_events = 256;
constexpr int tick_ms = 10;                      // longest wait in epoll_wait
constexpr std::size_t rd_buf_free = 256 * 1024;  // free space per read, beside a spilled frame

}  // namespace

void byte_buffer::reserve(std::size_t capacity) {
  if (capacity <= capacity_) return;
  std::unique_ptr<std::uint8_t[]> bigger(new std::uint8_t[capacity]);
  if (size_ != 0) std::memcpy(bigger.get(), data_.get(), size_);
  data_ = std::move(bigger);
  capacity_ = capacity;
}

void byte_buffer::consume(std::size_t n) noexcept {
  if (n >= size_) {
    size_ = 0;
    return;
  }
  std::memmove(data_.get(), data_.get() + n, size_ - n);
  size_ -= n;
}

const char* to_string(close_cause c) noexcept {
  switch (c) {
    case close_cause::connect_failed:
      return "connect_failed";
    case close_cause::handshake_failed:
      return "handshake_failed";
    case close_cause::protocol_error:
      return "protocol_error";
    case close_cause::peer_closed:
      return "peer_closed";
    case close_cause::reset:
      return "reset";
    case close_cause::local:
      return "local";
  }
  return "unknown";
}

client_loop::client_loop(loop_config config, session_handler& handler)
    : config_(std::move(config)), handler_(handler) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) throw std::runtime_error("epoll_create1 failed");
  // A spilled frame is at most one header plus max_payload; room for a full read beside it.
  rd_buf_size_ =
      max_client_frame_header + std::max(config_.max_payload, max_handshake_response) + rd_buf_free;
  rd_buf_.reset(new std::uint8_t[rd_buf_size_]);
  std::random_device rd;
  rng_ = (static_cast<std::uint64_t>(rd()) << 32) | rd() | 1;
}

client_loop::~client_loop() {
  for (connection& c : conns_) {
    if (c.fd >= 0) ::close(c.fd);
  }
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

void client_loop::add_connection(std::uint32_t id) {
  connection& c = conns_.emplace_back();
  c.id = id;
  c.slot = static_cast<std::uint32_t>(conns_.size() - 1);
  if (!config_.source_ips.empty()) c.source_ip = config_.source_ips[id % config_.source_ips.size()];
}

std::uint32_t client_loop::next_random() noexcept {
  rng_ ^= rng_ << 13;
  rng_ ^= rng_ >> 7;
  rng_ ^= rng_ << 17;
  return static_cast<std::uint32_t>(rng_ >> 32);
}

void client_loop::run(const std::atomic<bool>& stop) {
  epoll_event events[max_events];
  while (!stop.load(std::memory_order_relaxed)) {
    start_connects();
    int n = epoll_wait(epoll_fd_, events, max_events, tick_ms);
    for (int i = 0; i < n; ++i) {
      connection& c = conns_[events[i].data.u32];
      if (c.state != conn_state::closed) on_event(c, events[i].events);
    }
    handler_.on_tick(*this, now_ns());
  }
}

void client_loop::close_all(int timeout_ms) {
  static constexpr std::uint8_t normal_closure[2] = {0x03, 0xE8};  // 1000, network order
  for (connection& c : conns_) {
    if (c.state == conn_state::open) {
      queue_frame(c, ws_opcode::close, normal_closure, sizeof normal_closure);
      flush(c);
      if (c.state == conn_state::open) {
        c.state = conn_state::closing;
        ++closing_;
      }
    } else if (c.state != conn_state::closed) {
      finish(c, close_cause::local);
    }
  }
  next_to_open_ = conns_.size();  // open nothing more
  const std::uint64_t deadline = now_ns() + static_cast<std::uint64_t>(timeout_ms) * 1000000u;
  epoll_event events[max_events];
  while (closing_ > 0 && now_ns() < deadline) {
    int n = epoll_wait(epoll_fd_, events, max_events, tick_ms);
    for (int i = 0; i < n; ++i) {
      connection& c = conns_[events[i].data.u32];
      if (c.state != conn_state::closed) on_event(c, events[i].events);
    }
  }
  for (connection& c : conns_) {
    if (c.state != conn_state::closed) finish(c, close_cause::local);
  }
}

void client_loop::start_connects() {
  while (connecting_ < config_.max_connecting && next_to_open_ < conns_.size()) {
    connection& c = conns_[next_to_open_++];
    int fd = start_connect(config_.target.addr, c.source_ip);
    if (fd < 0) {
      c.sys_error = -fd;
      c.state = conn_state::closed;
      handler_.on_close(c, close_cause::connect_failed, ws_errc::ok);
      continue;
    }
    c.fd = fd;
    c.state = conn_state::connecting;
    ++connecting_;
    epoll_event ev{};
    ev.events = EPOLLOUT;
    ev.data.u32 = c.slot;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) finish(c, close_cause::connect_failed);
  }
}

void client_loop::set_events(connection& c, std::uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u32 = c.slot;
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
}

void client_loop::on_event(connection& c, std::uint32_t events) {
  if (c.state == conn_state::connecting) {
    on_connected(c);
    return;
  }
  if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0) on_readable(c);
  if (c.state != conn_state::closed && (events & EPOLLOUT) != 0) on_writable(c);
}

void client_loop::on_connected(connection& c) {
  int error = 0;
  socklen_t len = sizeof error;
  if (getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0 || error != 0) {
    c.sys_error = error != 0 ? error : errno;
    finish(c, close_cause::connect_failed);
    return;
  }
  std::uint64_t hi = (static_cast<std::uint64_t>(next_random()) << 32) | next_random();
  std::uint64_t lo = (static_cast<std::uint64_t>(next_random()) << 32) | next_random();
  c.key = make_handshake_key(hi, lo);
  std::string request = make_handshake_request(config_.target.host, config_.target.path, c.key);
  // A fresh socket's send buffer takes a request of a few hundred bytes whole.
  if (::send(c.fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    c.sys_error = errno;
    finish(c, close_cause::reset);
    return;
  }
  c.state = conn_state::handshaking;
  set_events(c, EPOLLIN);
}

void client_loop::on_readable(connection& c) {
  std::uint8_t* buf = rd_buf_.get();
  const std::size_t spilled = c.rd_spill.size();
  if (spilled != 0) std::memcpy(buf, c.rd_spill.data(), spilled);
  ssize_t n = ::read(c.fd, buf + spilled, rd_buf_size_ - spilled);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return;
    c.sys_error = errno;
    finish(c, c.state == conn_state::closing ? close_cause::local : close_cause::reset);
    return;
  }
  if (n == 0) {
    finish(c, c.state == conn_state::closing ? close_cause::local : close_cause::peer_closed);
    return;
  }
  const std::uint64_t now = now_ns();
  c.rd_spill.clear();
  const std::uint8_t* data = buf;
  std::size_t size = spilled + static_cast<std::size_t>(n);

  if (c.state == conn_state::handshaking) {
    handshake_result r = parse_handshake_response(reinterpret_cast<const char*>(data), size, c.key);
    if (r.status == decode_status::need_more) {
      c.rd_spill.assign(data, size);
      return;
    }
    if (r.status == decode_status::error) {
      finish(c, close_cause::handshake_failed, r.error);
      return;
    }
    --connecting_;
    c.state = conn_state::open;
    c.rd_spill.reserve(config_.rd_reserve);
    c.wr_buf.reserve(config_.wr_reserve);
    handler_.on_open(*this, c, now);
    data += r.consumed;
    size -= r.consumed;
  }
  process_frames(c, data, size, now);
  if (c.state != conn_state::closed) flush(c);
}

void client_loop::process_frames(connection& c, const std::uint8_t* data, std::size_t size,
                                 std::uint64_t now) {
  while (size != 0) {
    frame_result r = decode_frame(data, size, config_.max_payload);
    if (r.status == decode_status::need_more) {
      c.rd_spill.assign(data, size);
      return;
    }
    if (r.status == decode_status::error) {
      finish(c, close_cause::protocol_error, r.error);
      return;
    }
    const frame_view& f = r.frame;
    switch (f.op) {
      case ws_opcode::text:
      case ws_opcode::binary:
        if (c.rd_in_message) {
          finish(c, close_cause::protocol_error, ws_errc::bad_continuation);
          return;
        }
        if (f.fin) {
          deliver(c, f.op, f.payload, f.size, now);
        } else {
          c.rd_in_message = true;
          c.rd_message_op = f.op;
          c.rd_message.assign(f.payload, f.size);
        }
        break;
      case ws_opcode::continuation:
        if (!c.rd_in_message) {
          finish(c, close_cause::protocol_error, ws_errc::bad_continuation);
          return;
        }
        if (c.rd_message.size() + f.size > config_.max_payload) {
          finish(c, close_cause::protocol_error, ws_errc::frame_too_big);
          return;
        }
        c.rd_message.append(f.payload, f.size);
        if (f.fin) {
          c.rd_in_message = false;
          deliver(c, c.rd_message_op, c.rd_message.data(), c.rd_message.size(), now);
          c.rd_message.clear();
        }
        break;
      case ws_opcode::ping:
        queue_frame(c, ws_opcode::pong, f.payload, f.size);
        break;
      case ws_opcode::pong:
        break;
      case ws_opcode::close:
        if (c.state == conn_state::closing) {  // the answer to our close
          finish(c, close_cause::local);
          return;
        }
        // Echo the status code (section 5.5.1), send it, and drop the connection.
        c.peer_close_code =
            f.size >= 2 ? static_cast<std::uint16_t>(f.payload[0] << 8 | f.payload[1]) : 1005;
        queue_frame(c, ws_opcode::close, f.payload, f.size < 2 ? f.size : 2);
        flush(c);
        finish(c, close_cause::peer_closed);
        return;
    }
    if (c.state == conn_state::closed) return;
    data += r.consumed;
    size -= r.consumed;
  }
}

void client_loop::deliver(connection& c, ws_opcode op, const std::uint8_t* data, std::size_t size,
                          std::uint64_t now) {
  if (c.state == conn_state::open) handler_.on_message(*this, c, op, data, size, now);
}

void client_loop::send(connection& c, ws_opcode op, const std::uint8_t* payload, std::size_t size) {
  if (c.state == conn_state::open) queue_frame(c, op, payload, size);
}

void client_loop::queue_frame(connection& c, ws_opcode op, const std::uint8_t* payload,
                              std::size_t size) {
  std::uint8_t* out = c.wr_buf.prepare(max_client_frame_header + size);
  const std::uint32_t key = next_random();
  const std::size_t header = encode_frame_header(out, op, true, size, key);
  mask_copy(out + header, payload, size, key);
  c.wr_buf.commit(header + size);
}

void client_loop::flush(connection& c) {
  if (c.wr_armed || c.fd < 0) return;  // EPOLLOUT will do it
  const std::size_t pending = c.wr_buf.size() - c.wr_offset;
  if (pending == 0) return;
  ssize_t n = ::send(c.fd, c.wr_buf.data() + c.wr_offset, pending, MSG_NOSIGNAL);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) {
      n = 0;
    } else {
      c.sys_error = errno;
      finish(c, c.state == conn_state::closing ? close_cause::local : close_cause::reset);
      return;
    }
  }
  c.wr_offset += static_cast<std::size_t>(n);
  if (c.wr_offset == c.wr_buf.size()) {
    c.wr_buf.clear();
    c.wr_offset = 0;
  } else {
    c.wr_armed = true;
    set_events(c, EPOLLIN | EPOLLOUT);
  }
}

void client_loop::on_writable(connection& c) {
  if (!c.wr_armed) return;
  c.wr_armed = false;
  set_events(c, EPOLLIN);
  flush(c);  // re-arms if the kernel still refuses some
}

void client_loop::finish(connection& c, close_cause cause, ws_errc detail) {
  if (c.state == conn_state::closed) return;
  if (c.state == conn_state::connecting || c.state == conn_state::handshaking) --connecting_;
  if (c.state == conn_state::closing) --closing_;
  c.state = conn_state::closed;
  if (c.fd >= 0) ::close(c.fd);  // also leaves the epoll set
  c.fd = -1;
  c.rd_spill.release();
  c.rd_message.release();
  c.wr_buf.release();
  c.wr_offset = 0;
  c.wr_armed = false;
  if (cause != close_cause::local) handler_.on_close(c, cause, detail);
}

}  // namespace switchboard::swbench
