// io_pool.hpp: N io threads, each running an event loop of our own (a worker).
//
// A connection is pinned to one worker for its whole life, so its socket, queues and protocol
// state are touched by one thread only and need no locks. Other threads reach a connection by
// posting to its worker (worker::post). Each worker also owns what its connections share
// instead of holding it each: the read buffer (one per thread, uWebSockets style: an idle
// connection holds no read buffer), the cork buffer (replies caused by one read leave in one
// write), the list of its connections (swept by a coarse timer for heartbeats and timeouts) and
// its counters.
//
// The loop (hot path, see tests/bench/): each worker has one level-triggered epoll set holding
// its transports, its listening sockets, its dials in progress and an eventfd for posts. The
// epoll_wait on it is the thread's only blocking call. One turn:
//   1. epoll_wait (timeout: the next timer's deadline; 0 when posts or flushes are pending);
//   2. hand every ready descriptor to its owner (poll_target::on_events);
//   3. run the posted tasks that were queued when the turn began (later posts: next turn, so
//      a flood of posts cannot starve the sockets);
//   4. run the expired timers;
//   5. flush every transport that queued bytes during the turn (uWebSockets' "drain before
//      sleep"): deliveries posted by other threads in one turn leave in one write per
//      connection, and a broadcast to N connections costs N writes and no extra wakeup.
// Asio's io_context made 3 syscalls per turn more than this (its own epoll_wait, ours, and an
// epoll_ctl to re-arm our set's descriptor): about a quarter of all syscalls on the echo bench.
//
// Posts: a mutex-guarded vector swapped by the loop. The eventfd is written only when the loop
// said it was going to sleep and nobody has woken it since, so a busy loop pays no syscall per
// post and a post from the worker's own thread never writes it. It is edge-triggered and never
// read (every write is a new edge), which saves the read() per wakeup.
//
// Timers (runtime::timer): a binary heap per worker with millisecond resolution; the sweep
// that drives heartbeats and timeouts is one of them. A handler that throws is logged and the
// loop goes on serving the other connections.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace switchboard::runtime {

class transport;
class worker;

// A move-only callable (posted tasks and timer handlers may own move-only things).
template <class... Args>
class callback {
 public:
  callback() = default;
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, callback>>>
  callback(F&& f)  // NOLINT: implicit, like std::function
      : fn_(std::make_unique<holder<std::decay_t<F>>>(std::forward<F>(f))) {}
  explicit operator bool() const noexcept { return fn_ != nullptr; }
  void operator()(Args... args) { fn_->call(std::forward<Args>(args)...); }

 private:
  struct base {
    virtual ~base() = default;
    virtual void call(Args... args) = 0;
  };
  template <class F>
  struct holder final : base {
    template <class G>
    explicit holder(G&& g) : f(std::forward<G>(g)) {}
    void call(Args... args) override { f(std::forward<Args>(args)...); }
    F f;
  };
  std::unique_ptr<base> fn_;
};

using task = callback<>;

// Something in a worker's epoll set: a transport, a listener, a dial in progress.
class poll_target {
 public:
  // `events`: EPOLLIN / EPOLLOUT / EPOLLERR / EPOLLHUP bits.
  virtual void on_events(std::uint32_t events) = 0;

 protected:
  ~poll_target() = default;
};

// A connected, non-blocking TCP socket's descriptor with TCP_NODELAY set (an accepted socket
// inherits it from its listener), closed unless released: what the acceptor and the dialer
// hand to a transport, with the peer's address when it is known
// (accept4 gave it: the transport then need not ask getpeername).
class tcp_socket {
 public:
  tcp_socket() = default;
  explicit tcp_socket(int fd) noexcept : fd_(fd) {}
  tcp_socket(tcp_socket&& o) noexcept
      : fd_(std::exchange(o.fd_, -1)), peer_(o.peer_), peer_size_(o.peer_size_) {}
  tcp_socket& operator=(tcp_socket&& o) noexcept {
    if (this != &o) {
      close();
      fd_ = std::exchange(o.fd_, -1);
      peer_ = o.peer_;
      peer_size_ = o.peer_size_;
    }
    return *this;
  }
  ~tcp_socket() { close(); }
  bool is_open() const noexcept { return fd_ >= 0; }
  int native_handle() const noexcept { return fd_; }
  int release() noexcept { return std::exchange(fd_, -1); }
  void close() noexcept;

  void set_peer(const sockaddr* address, socklen_t size) noexcept;
  const sockaddr* peer() const noexcept { return reinterpret_cast<const sockaddr*>(&peer_); }
  socklen_t peer_size() const noexcept { return peer_size_; }  // 0: unknown

 private:
  int fd_ = -1;
  sockaddr_storage peer_{};
  socklen_t peer_size_ = 0;
};

// A one-shot timer on a worker, shaped like asio::steady_timer: expires_after() then
// async_wait(); cancel() (or expires_after() again, or destruction) makes a waiting handler run
// with std::errc::operation_canceled. Handlers run on the worker's thread, never inside the
// call that armed or cancelled them. Use it from the worker's thread only (or after its loop
// stopped).
class timer {
 public:
  using clock = std::chrono::steady_clock;
  using handler = callback<const std::error_code&>;

  explicit timer(worker& home) noexcept : home_(home) {}
  ~timer();
  timer(const timer&) = delete;
  timer& operator=(const timer&) = delete;

  void expires_after(clock::duration d);
  void async_wait(handler h);
  // Cancels a waiting handler (it runs with operation_canceled); returns how many (0 or 1).
  std::size_t cancel();

 private:
  friend class worker;
  static constexpr std::size_t unarmed = static_cast<std::size_t>(-1);
  worker& home_;
  clock::time_point deadline_{};
  std::uint64_t order_ = 0;  // ties between equal deadlines: first armed, first run
  std::size_t heap_index_ = unarmed;
  handler handler_;
};

// A counter written by one thread and read by any: relaxed load+store, no locked instruction.
class local_counter {
 public:
  void add(std::uint64_t n = 1) noexcept {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void sub(std::uint64_t n = 1) noexcept {
    value_.store(value_.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
  }
  std::uint64_t get() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// Per-thread counters; /metrics sums them over workers.
struct worker_stats {
  local_counter connections_accepted;  // sockets accepted
  local_counter connections_refused;   // sockets refused by a connection cap (503)
  local_counter connections_open;      // sockets open now (HTTP and WebSocket)
  local_counter websockets_open;       // upgraded connections open now
  local_counter http_requests;         // requests answered
  local_counter messages_in;           // WebSocket messages received
  local_counter messages_out;          // WebSocket messages queued to send
  local_counter bytes_in;              // socket bytes read
  local_counter bytes_out;             // socket bytes written
  local_counter dropped_messages;      // messages dropped by the slow-consumer policy
  local_counter slow_consumer_closes;  // connections closed by the slow-consumer policy
  local_counter protocol_errors;       // connections failed for a protocol violation
};

class worker {
 public:
  static constexpr std::size_t read_buffer_size = 64 * 1024;
  static constexpr std::size_t cork_buffer_size = 64 * 1024;

  explicit worker(std::size_t index);
  ~worker();
  worker(const worker&) = delete;
  worker& operator=(const worker&) = delete;

  struct inbox;  // the post queue (io_pool.cpp)

  std::size_t index() const noexcept { return index_; }

  // The worker whose thread is calling, or null on any other thread.
  static worker* current() noexcept;
  bool is_current() const noexcept { return current() == this; }

  // Runs `t` on this worker's thread, in a later turn (never inside this call). Any thread.
  // A task posted after the loop stopped is destroyed unrun with the worker.
  void post(task t);

  // A handle for posting from a thread that may outlive the worker (a name resolver's): once
  // the worker is gone its posts are dropped.
  class remote {
   public:
    void post(task t) const;

   private:
    friend class worker;
    std::shared_ptr<inbox> inbox_;
  };
  remote remote_handle() const;

  std::uint8_t* read_buffer() noexcept { return read_buffer_.get(); }

  // Scratch for permessage-deflate: a message is inflated (or compressed) here, used, and the
  // buffer reused by the next one on this thread.
  std::string inflate_buffer;
  std::string deflate_buffer;
  // Scratch for a client's masked frame (a client copies each payload to mask it).
  std::string mask_buffer;
  // The compressed form of the last shared frame sent to a connection that resets its
  // compressor per message (websocket_stream::send_shared): made once per thread, queued on
  // every such connection of the thread.
  struct {
    std::shared_ptr<const std::string> source;  // the uncompressed frame it was made from
    int window_bits = 0;
    std::shared_ptr<const std::string> frame;
  } shared_deflate;

  // Cork: while a transport handles a read, what it sends is gathered here and written once.
  transport* corked = nullptr;
  std::string cork_buffer;

  // Coarse clock for timeouts, advanced by the sweep timer: ticks of tick_ms milliseconds.
  // Every tick the sweep calls tick() on each linked transport (heartbeats, timeouts,
  // throttle refills), so no connection needs a timer of its own.
  static constexpr std::uint32_t tick_ms = 250;
  std::uint32_t now_tick() const noexcept { return tick_; }

  // Intrusive list of this worker's transports (owning thread only).
  void link(transport* t) noexcept;
  void unlink(transport* t) noexcept;
  transport* first() const noexcept { return head_; }

  worker_stats stats;

  // The epoll set (owning thread only). `events` are EPOLLIN / EPOLLOUT bits; readiness comes
  // back as t->on_events(). A transport is registered from start() to its close (closing the
  // descriptor removes it from the set).
  void watch(poll_target* t, int fd, std::uint32_t events);
  void rewatch(poll_target* t, int fd, std::uint32_t events);
  void unwatch(int fd);
  // Keeps a closed target alive until the turn ends (a later event of the same batch may
  // still name it).
  void retire(std::shared_ptr<void> t);
  // Flushes `t` at the end of this turn (one write per connection per turn, see above).
  void flush_later(std::shared_ptr<transport> t);

 private:
  friend class io_pool;
  friend class timer;

  void run();
  void turn();
  int wait_timeout();
  void run_posts();
  void run_timers();
  void flush_pending();
  void arm_sweep();
  void sweep();
  void wake() noexcept;

  // Timer heap (owning thread only).
  void add_timer(timer* t);
  void remove_timer(timer* t);
  bool earlier(const timer* a, const timer* b) const noexcept;
  void sift_up(std::size_t i);
  void sift_down(std::size_t i);
  void place(std::size_t i, timer* t) noexcept {
    heap_[i] = t;
    t->heap_index_ = i;
  }

  std::size_t index_;
  int epoll_fd_ = -1;
  std::shared_ptr<inbox> inbox_;
  std::vector<task> running_;  // the posts of the current turn
  std::vector<timer*> heap_;
  std::uint64_t timer_order_ = 0;
  std::unique_ptr<std::uint8_t[]> read_buffer_;
  std::uint32_t tick_ = 0;
  transport* head_ = nullptr;
  std::vector<std::shared_ptr<void>> retired_;
  std::vector<std::shared_ptr<transport>> to_flush_, flushing_;
  std::atomic<bool> stop_{false};
  std::unique_ptr<timer> sweep_;
  std::thread thread_;
};

class io_pool {
 public:
  explicit io_pool(std::size_t threads);  // 0 = one per hardware thread
  ~io_pool();
  io_pool(const io_pool&) = delete;
  io_pool& operator=(const io_pool&) = delete;

  std::size_t size() const noexcept { return workers_.size(); }
  worker& at(std::size_t i) noexcept { return *workers_[i]; }
  worker& next() noexcept;  // round robin, for new connections

  // One thread per worker, each running its loop (and its sweep) until stop().
  void start();
  void stop();  // asks every loop to stop after its current turn; returns at once
  void join();  // waits for the threads
  // After join(): closes every transport still linked (on_closed runs on this thread).
  void abort_all(const std::error_code& ec);

 private:
  std::vector<std::unique_ptr<worker>> workers_;
  std::atomic<std::size_t> next_{0};
};

}  // namespace switchboard::runtime
