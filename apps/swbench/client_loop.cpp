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
// TLS: ciphertext per read(). What it decrypts to, plus a record left incomplete in OpenSSL's
// input BIO by the previous read (at most 16 KiB and its overhead), fits in rd_buf_free, so one
// read's records are always decrypted in full (nothing stays behind without a readiness event).
constexpr std::size_t tls_rd_size = rd_buf_free / 2;

std::string describe(const deflate_params& p) {
  std::string s = "permessage-deflate";
  if (p.server_no_context_takeover) s += "; server_no_context_takeover";
  if (p.client_no_context_takeover) s += "; client_no_context_takeover";
  s += "; server_max_window_bits=" + std::to_string(p.server_max_window_bits);
  s += "; client_max_window_bits=" + std::to_string(p.client_max_window_bits);
  return s;
}

}  // namespace

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
  // A compressed frame may be a little larger than the message it carries (incompressible
  // bytes grow); the inflated message is held to max_payload.
  max_wire_payload_ =
      config_.deflate ? config_.max_payload + config_.max_payload / 8 + 64 : config_.max_payload;
  // A spilled frame is at most one header plus its payload; room for a full read beside it.
  rd_buf_size_ =
      max_client_frame_header + std::max(max_wire_payload_, max_handshake_response) + rd_buf_free;
  rd_buf_.reset(new std::uint8_t[rd_buf_size_]);
  if (config_.tls) {
    tls_ctx_ = std::make_unique<tls_client_context>();
    tls_rd_buf_.reset(new std::uint8_t[tls_rd_size]);
  }
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

void client_loop::begin_close(connection& c) {
  static constexpr std::uint8_t normal_closure[2] = {0x03, 0xE8};  // 1000, network order
  queue_frame(c, ws_opcode::close, normal_closure, sizeof normal_closure);
  flush(c);
  if (c.state == conn_state::open) {
    c.state = conn_state::closing;
    ++closing_;
  }
}

void client_loop::close(connection& c) {
  if (c.state != conn_state::open) return;
  c.notify_close = true;
  begin_close(c);
}

void client_loop::reopen(connection& c) {
  if (c.state != conn_state::closed) return;
  c.state = conn_state::waiting;
  c.notify_close = false;
  c.rd_in_message = false;
  c.rd_message_compressed = false;
  c.sys_error = 0;
  c.peer_close_code = 0;
  c.tls_error = 0;
  reopen_.push_back(c.slot);
}

void client_loop::close_all(int timeout_ms) {
  for (connection& c : conns_) {
    if (c.state == conn_state::open) {
      c.notify_close = false;  // the end of the run: nobody is waiting for it
      begin_close(c);
    } else if (c.state != conn_state::closed) {
      finish(c, close_cause::local);
    }
  }
  next_to_open_ = conns_.size();  // open nothing more
  reopen_.clear();
  reopen_next_ = 0;
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
  while (connecting_ < config_.max_connecting) {
    std::uint32_t slot;
    if (next_to_open_ < conns_.size()) {
      slot = static_cast<std::uint32_t>(next_to_open_++);
    } else if (reopen_next_ < reopen_.size()) {
      slot = reopen_[reopen_next_++];
      if (reopen_next_ == reopen_.size()) {
        reopen_.clear();
        reopen_next_ = 0;
      }
    } else {
      break;
    }
    connection& c = conns_[slot];
    c.connect_started = now_ns();
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
  c.state = conn_state::handshaking;
  set_events(c, EPOLLIN);
  if (config_.tls) {  // the TLS handshake first; on_tls_bytes() sends the upgrade after it
    try {
      c.tls = std::make_unique<tls_session>(*tls_ctx_);
    } catch (const std::bad_alloc&) {
      finish(c, close_cause::handshake_failed, ws_errc::tls_failed);
      return;
    }
    c.tls->handshake();  // writes the ClientHello
    flush(c);
    return;
  }
  send_upgrade(c);
}

void client_loop::send_upgrade(connection& c) {
  const std::string request =
      make_handshake_request(config_.target.host, config_.target.path, c.key, config_.deflate);
  if (c.tls != nullptr) {
    if (!c.tls->write(reinterpret_cast<const std::uint8_t*>(request.data()), request.size())) {
      c.tls_error = c.tls->error();
      finish(c, close_cause::handshake_failed, ws_errc::tls_failed);
      return;
    }
    flush(c);  // leaves with the client's Finished
    return;
  }
  // A fresh socket's send buffer takes a request of a few hundred bytes whole.
  if (::send(c.fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    c.sys_error = errno;
    finish(c, close_cause::reset);
  }
}

long client_loop::on_tls_bytes(connection& c, const std::uint8_t* data, std::size_t size,
                               std::uint8_t* out, std::size_t capacity, bool& closed) {
  tls_session& t = *c.tls;
  t.feed(data, size);
  if (!t.established()) {
    const tls_session::status st = t.handshake();
    if (st == tls_session::status::want) {
      flush(c);  // the handshake's next flight, if any
      return -1;
    }
    if (st != tls_session::status::ok) {
      c.tls_error = t.error();
      finish(c, close_cause::handshake_failed, ws_errc::tls_failed);
      return -1;
    }
    if (tls_description_.empty()) tls_description_ = t.description();
    send_upgrade(c);
    if (c.state == conn_state::closed) return -1;
  }
  std::size_t total = 0;
  while (total < capacity) {
    std::size_t got = 0;
    const tls_session::status st = t.read(out + total, capacity - total, got);
    total += got;
    if (st == tls_session::status::ok) continue;
    if (st == tls_session::status::want) break;
    if (st == tls_session::status::closed) {
      closed = true;
      break;
    }
    c.tls_error = t.error();
    finish(c, close_cause::protocol_error, ws_errc::tls_failed);
    return -1;
  }
  if (total == 0) {
    if (closed) {
      finish(c, c.state == conn_state::closing ? close_cause::local : close_cause::peer_closed);
    } else {
      flush(c);  // anything OpenSSL answered while reading (a key update)
    }
    return -1;
  }
  return static_cast<long>(total);
}

void client_loop::on_readable(connection& c) {
  std::uint8_t* buf = rd_buf_.get();
  const std::size_t spilled = c.rd_spill.size();
  if (spilled != 0) std::memcpy(buf, c.rd_spill.data(), spilled);
  ssize_t n = c.tls == nullptr ? ::read(c.fd, buf + spilled, rd_buf_size_ - spilled)
                               : ::read(c.fd, tls_rd_buf_.get(), tls_rd_size);
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
  bool tls_closed = false;  // the peer's close_notify came with this read
  if (c.tls != nullptr) {
    const long plain = on_tls_bytes(c, tls_rd_buf_.get(), static_cast<std::size_t>(n),
                                    buf + spilled, rd_buf_size_ - spilled, tls_closed);
    if (plain < 0) return;
    n = plain;
  }
  const std::uint64_t now = now_ns();
  c.rd_spill.clear();
  const std::uint8_t* data = buf;
  std::size_t size = spilled + static_cast<std::size_t>(n);

  if (c.state == conn_state::handshaking) {
    deflate_params params;
    handshake_result r = parse_handshake_response(reinterpret_cast<const char*>(data), size, c.key,
                                                  config_.deflate ? &params : nullptr);
    if (r.status == decode_status::need_more) {
      c.rd_spill.assign(data, size);
      return;
    }
    if (r.status == decode_status::error) {
      finish(c, close_cause::handshake_failed, r.error);
      return;
    }
    if (params.accepted) {
      try {
        c.pmd =
            std::make_unique<pmd_state>(params, config_.deflate_level, config_.deflate_mem_level);
      } catch (const std::bad_alloc&) {
        finish(c, close_cause::handshake_failed, ws_errc::deflate_failed);
        return;
      }
      if (deflate_description_.empty()) deflate_description_ = describe(params);
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
  if (tls_closed && c.state != conn_state::closed) {
    finish(c, c.state == conn_state::closing ? close_cause::local : close_cause::peer_closed);
  }
}

void client_loop::process_frames(connection& c, const std::uint8_t* data, std::size_t size,
                                 std::uint64_t now) {
  while (size != 0) {
    frame_result r = decode_frame(data, size, max_wire_payload_, c.pmd != nullptr);
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
          deliver(c, f.op, f.rsv1, f.payload, f.size, now);
        } else {
          c.rd_in_message = true;
          c.rd_message_compressed = f.rsv1;
          c.rd_message_op = f.op;
          c.rd_message.assign(f.payload, f.size);
        }
        break;
      case ws_opcode::continuation:
        if (!c.rd_in_message) {
          finish(c, close_cause::protocol_error, ws_errc::bad_continuation);
          return;
        }
        if (f.rsv1) {  // RSV1 belongs on a message's first frame only (RFC 7692 section 6.1)
          finish(c, close_cause::protocol_error, ws_errc::reserved_bits_set);
          return;
        }
        if (c.rd_message.size() + f.size >
            (c.rd_message_compressed ? max_wire_payload_ : config_.max_payload)) {
          finish(c, close_cause::protocol_error, ws_errc::frame_too_big);
          return;
        }
        c.rd_message.append(f.payload, f.size);
        if (f.fin) {
          c.rd_in_message = false;
          deliver(c, c.rd_message_op, c.rd_message_compressed, c.rd_message.data(),
                  c.rd_message.size(), now);
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

void client_loop::deliver(connection& c, ws_opcode op, bool compressed, const std::uint8_t* data,
                          std::size_t size, std::uint64_t now) {
  if (c.state != conn_state::open) return;
  if (compressed) {  // only with c.pmd: decode_frame() refuses RSV1 otherwise
    const ws_errc e = c.pmd->rx.inflate(data, size, inflate_buf_, config_.max_payload);
    if (e != ws_errc::ok) {
      finish(c, close_cause::protocol_error, e);
      return;
    }
    deflate_counts_.received_wire += size;
    deflate_counts_.received_raw += inflate_buf_.size();
    data = inflate_buf_.data();
    size = inflate_buf_.size();
  } else if (c.pmd != nullptr) {
    ++deflate_counts_.received_plain;
  }
  handler_.on_message(*this, c, op, data, size, now);
}

void client_loop::send(connection& c, ws_opcode op, const std::uint8_t* payload, std::size_t size) {
  if (c.state != conn_state::open) return;
  if (c.pmd != nullptr && !is_control(op)) {
    if (!c.pmd->tx.compress(payload, size, deflate_buf_)) {
      finish(c, close_cause::protocol_error, ws_errc::deflate_failed);
      return;
    }
    deflate_counts_.sent_raw += size;
    deflate_counts_.sent_wire += deflate_buf_.size();
    queue_frame(c, op, deflate_buf_.data(), deflate_buf_.size(), true);
    return;
  }
  queue_frame(c, op, payload, size);
}

void client_loop::queue_frame(connection& c, ws_opcode op, const std::uint8_t* payload,
                              std::size_t size, bool rsv1) {
  std::uint8_t* out = c.wr_buf.prepare(max_client_frame_header + size);
  const std::uint32_t key = next_random();
  const std::size_t header = encode_frame_header(out, op, true, size, key, rsv1);
  mask_copy(out + header, payload, size, key);
  c.wr_buf.commit(header + size);
}

void client_loop::flush(connection& c) {
  if (c.wr_armed || c.fd < 0) return;  // EPOLLOUT will do it
  if (c.tls != nullptr) {
    // The queued frames become records (one SSL_write: a record per 16 KiB), appended to the
    // ciphertext with whatever the handshake produced.
    if (!c.wr_buf.empty() && c.tls->established()) {
      if (!c.tls->write(c.wr_buf.data(), c.wr_buf.size())) {
        c.tls_error = c.tls->error();
        finish(c, close_cause::protocol_error, ws_errc::tls_failed);
        return;
      }
      c.wr_buf.clear();
    }
    c.tls->take(c.tls_wr);
  }
  byte_buffer& wire = c.tls != nullptr ? c.tls_wr : c.wr_buf;
  const std::size_t pending = wire.size() - c.wr_offset;
  if (pending == 0) return;
  ssize_t n = ::send(c.fd, wire.data() + c.wr_offset, pending, MSG_NOSIGNAL);
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
  if (c.wr_offset == wire.size()) {
    wire.clear();
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
  if (c.tls != nullptr) {
    // Ending it ourselves: close_notify, best effort, so the server sees a clean TLS close.
    if (cause == close_cause::local && c.fd >= 0 && c.tls->established()) {
      c.tls->shutdown();
      c.tls->take(c.tls_wr);
      if (c.tls_wr.size() > c.wr_offset) {
        ::send(c.fd, c.tls_wr.data() + c.wr_offset, c.tls_wr.size() - c.wr_offset,
               MSG_NOSIGNAL | MSG_DONTWAIT);
      }
    }
    c.tls.reset();
    c.tls_wr.release();
  }
  c.pmd.reset();
  if (c.fd >= 0) ::close(c.fd);  // also leaves the epoll set
  c.fd = -1;
  c.rd_spill.release();
  c.rd_message.release();
  c.wr_buf.release();
  c.wr_offset = 0;
  c.wr_armed = false;
  if (cause != close_cause::local) {
    handler_.on_close(c, cause, detail);
  } else if (c.notify_close) {
    c.notify_close = false;
    handler_.on_close_done(*this, c, now_ns());
  }
}

}  // namespace switchboard::swbench
