// transport.hpp: one byte stream (a TCP socket) with a bounded queue of shared, immutable
// buffers, written with scatter/gather and corked per read.
//
// A transport lives on one worker (io thread) and every member is called on that thread.
// Subclasses (the server's connection, later the client) get bytes through on_data() and the
// end of the stream through on_closed(); they send with send() / send_copy().
//
// Reading: the worker's epoll set (io_pool.hpp) reports readability (no read is pending while
// idle) and the transport reads into the worker's shared buffer, so an idle connection holds
// no read buffer. The socket is registered with the set once, in start(); the interest set
// changes only when reading pauses or a write waits for room. From start() to its close a
// transport owns itself (self_): the epoll set holds only a raw pointer.
//
// Writing (hot path, see tests/bench/): while on_data() runs, the transport is "corked": what it
// sends is appended to the worker's cork buffer and leaves in one send() when on_data returns,
// so all replies caused by one read cost one syscall (uWebSockets' cork). Outside a read, sends
// are queued and one flush per event-loop turn gathers the queue into sendmsg() calls of up to
// 64 buffers; the worker runs the flushes of all its transports at the end of the turn
// (worker::flush_later), so a broadcast to N connections costs N writes, and deliveries posted
// by other threads during one turn leave in one write per connection. A flush
// writes at most flush_budget bytes before yielding to other connections (Redis'
// NET_MAX_WRITES_PER_EVENT idea).
//
// Backpressure: queued_bytes() counts what the peer has not taken yet. A data send while more
// than limits.max_backpressure is already waiting is refused (send_status::dropped) under the
// drop policy, or triggers on_slow_consumer() under the close policy; control frames (pong,
// close) always go. The queue is thus bounded by max_backpressure plus one message.
// A peer that sends faster than it reads its replies (a pipelining echo client) is throttled
// instead: reading pauses while more than half the limit waits and resumes when the queue has
// drained to a quarter, so TCP flow control slows the peer down and the policy is left for
// what others send to it (broadcasts).
// One stalled reader therefore never holds memory without bound nor slows the others.
//
// TLS: with a tls_context the transport decrypts what it reads before on_data() and encrypts
// what it sends as it enters the queue (tls.hpp), so the queue always holds wire bytes and
// subclasses never know the difference. A shared buffer is encrypted per connection, so TLS
// broadcasts cost one encryption per subscriber (unavoidable: every session has its own keys).
//
// Throttle: with limits.throttle_bytes_per_sec each direction has a token bucket refilled by the
// worker's sweep (a quarter of the rate per tick, at most one second's worth banked). Reading
// pauses while the read bucket is in debt (TCP flow control slows the peer); a flush writes at
// most what the write bucket holds and the next tick writes on. Wire bytes are counted (TLS
// records included). Off by default: then none of this runs.
//
// Closing: close_gracefully() writes what is queued, sends FIN, then reads and discards until
// the peer's FIN or a deadline, so the peer sees our last bytes instead of a reset (a "lingering
// close"). abort() closes at once. Either way on_closed() runs exactly once.
#pragma once

#include "runtime/config.hpp"
#include "runtime/io_pool.hpp"
#include "runtime/tls.hpp"

#include <boost/asio/ip/tcp.hpp>  // the endpoint type only: sockets are ours (io_pool.hpp)

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

namespace switchboard::runtime {

// An encoded message that may be queued on many transports at once (encode once, share).
using shared_buffer = std::shared_ptr<const std::string>;

enum class send_status : std::uint8_t {
  queued,   // accepted; it leaves when the socket takes it
  dropped,  // refused by the slow-consumer policy (drop), or the transport is closing
};

struct transport_limits {
  std::size_t max_backpressure = 1u << 20;
  slow_consumer_policy policy = slow_consumer_policy::close;
  std::uint64_t throttle_bytes_per_sec = 0;  // per direction; 0 = unthrottled
};

class connection;

class transport : public poll_target, public std::enable_shared_from_this<transport> {
 public:
  static constexpr std::size_t flush_budget = 1u << 20;  // bytes per flush before yielding

  // `tls` null: plain TCP. Otherwise the server side of a TLS session on that context.
  transport(worker& home, tcp_socket socket, transport_limits limits,
            const tls_context* tls = nullptr);
  // A session made by the caller (a client's, which names the host it dials); null: plain.
  transport(worker& home, tcp_socket socket, transport_limits limits,
            std::unique_ptr<tls_session> tls);
  virtual ~transport();
  transport(const transport&) = delete;
  transport& operator=(const transport&) = delete;

  worker& home() const noexcept { return home_; }
  // The server connection this transport is, if it is one (broadcast walks a worker's list).
  virtual connection* as_server_connection() noexcept { return nullptr; }
  const boost::asio::ip::tcp::endpoint& remote() const noexcept { return remote_; }

  // Everything below: the home worker's thread only.

  // Links the transport into its worker and starts reading (a TLS client sends its hello).
  void start();

  // Queues a shared buffer (or copies it into the cork buffer while corked). `control` data
  // ignores the backpressure limit: control frames, and bodies the caller paces itself.
  send_status send(const shared_buffer& buffer, bool control = false);
  // Copies bytes. Control data (pong, close) ignores the backpressure limit.
  send_status send_copy(const void* data, std::size_t size, bool control = false) {
    const std::string_view part(static_cast<const char*>(data), size);
    return send_parts(&part, 1, control);
  }
  // Copies several pieces as one unit (a frame header and its payload): all or nothing.
  send_status send_parts(const std::string_view* parts, std::size_t count, bool control = false);
  // Writes what is queued now (does nothing while corked or while waiting for writability).
  void flush();

  std::size_t queued_bytes() const noexcept { return queued_; }
  bool is_closed() const noexcept { return closed_; }
  bool is_closing() const noexcept { return draining_ || lingering_ || closed_; }
  bool is_tls() const noexcept { return tls_ != nullptr; }
  // The ALPN protocol a TLS client chose ("" for none or plain TCP).
  std::string alpn() const { return tls_ ? tls_->alpn() : std::string{}; }
  // Why the TLS session failed, in words ("" for plain TCP or no failure).
  std::string tls_error() const { return tls_ ? tls_->error_text() : std::string{}; }

  void close_gracefully(std::uint32_t linger_ms);
  void abort(const std::error_code& ec = {});

 protected:
  // Bytes received, in the worker's read buffer (mutable: decoders may unmask in place).
  // Valid only during the call.
  virtual void on_data(std::uint8_t* data, std::size_t size) = 0;
  // The socket is gone: EOF (ec = eof), an error, abort() or the end of a graceful close.
  virtual void on_closed(const std::error_code& ec) = 0;
  // The queue would pass max_backpressure under the close policy. Default: abort().
  virtual void on_slow_consumer();
  // Everything queued has been written.
  virtual void on_drained() {}
  // Four times a second from the worker's sweep; `now` is the worker's tick count.
  virtual void on_tick(std::uint32_t /*now*/) {}

 public:
  // Called by the worker's sweep: enforces the linger deadline, then on_tick().
  void tick(std::uint32_t now);
  // Called by the worker's loop: the socket is ready (EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP).
  void on_events(std::uint32_t events) override;

 protected:
  // Ticks elapsed since the last bytes arrived.
  std::uint32_t ticks_since_read() const noexcept { return home_.now_tick() - last_read_tick_; }

 private:
  friend class worker;
  friend class server;

  struct chunk {
    shared_buffer data;
    std::size_t offset;
  };

  void read_ready();
  void update_interest();
  void wait_writable();
  void schedule_flush();
  void uncork();
  void spill_cork();
  void push(shared_buffer data, std::size_t offset = 0);  // plaintext: encrypted under TLS
  void push_wire(shared_buffer data, std::size_t offset = 0);
  void take_ciphertext();
  bool read_tls(std::uint8_t* buffer, std::size_t size);
  void consume(std::size_t n);
  void finish_drain();
  void close_socket(const std::error_code& ec);
  bool over_limit();

  worker& home_;
  int fd_ = -1;  // the socket, in the worker's epoll set from start() to the close
  boost::asio::ip::tcp::endpoint remote_;
  std::shared_ptr<transport> self_;  // from start() to the close: epoll holds a raw pointer
  std::uint32_t interest_ = 0;       // the events registered with the epoll set
  transport_limits limits_;
  std::unique_ptr<tls_session> tls_;  // null for plain TCP
  std::vector<chunk> queue_;          // unsent buffers, queue_[head_] first
  std::size_t head_ = 0;
  std::size_t queued_ = 0;  // unsent bytes in queue_
  std::uint32_t last_read_tick_ = 0;
  std::uint32_t linger_deadline_ = 0;
  bool started_ = false;
  bool write_waiting_ = false;    // waiting for the socket to become writable
  bool read_paused_ = false;      // not reading: our own queue is too long (see above)
  bool read_throttled_ = false;   // not reading: the read bucket is in debt
  bool write_throttled_ = false;  // not writing: the write bucket is empty
  std::int64_t read_tokens_ = 0;  // throttle buckets, bytes (may go negative: debt)
  std::int64_t write_tokens_ = 0;
  bool flush_posted_ = false;        // in the worker's flush list for this turn
  bool draining_ = false;            // closing: send FIN once the queue is empty
  bool tls_shutdown_sent_ = false;   // our close_notify is queued
  bool lingering_ = false;           // FIN sent: discard input until EOF or deadline
  std::atomic<bool> closed_{false};  // read by other threads through is_closed()
  transport* prev_ = nullptr;        // worker's intrusive list
  transport* next_ = nullptr;
};

}  // namespace switchboard::runtime
