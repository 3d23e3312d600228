// io_pool.hpp: N io threads, one asio::io_context each.
//
// A connection is pinned to one worker for its whole life, so its socket, queues and protocol
// state are touched by one thread only and need no locks. Other threads reach a connection by
// posting to its worker's context. Each worker also owns what its connections share instead of
// holding it each: the read buffer (one per thread, uWebSockets style: an idle connection holds
// no read buffer), the cork buffer (replies caused by one read leave in one write), the list of
// its connections (swept by a coarse timer for heartbeats and timeouts) and its counters.
//
// Socket readiness (hot path, see tests/bench/): a worker's transports are not watched by
// Asio's reactor but by the worker's own level-triggered epoll set (the poller), registered
// once per socket. Asio's reactor watches only the poller's descriptor, and one readiness of
// it hands every ready socket of the thread to its transport in one batch. Asio's reactor
// re-arms (epoll_ctl) a descriptor on every wait it is asked for; with one wait per socket
// that was one extra syscall per message received, which cost more than the recv itself on
// a virtual machine. Now it is one epoll_ctl per loop turn, whatever the number of sockets
// and messages (uWebSockets' loop does the same with its own epoll). Timers, posts, the
// acceptors and the dialers stay on Asio.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace switchboard::runtime {

class transport;

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

  boost::asio::io_context& context() noexcept { return context_; }
  std::size_t index() const noexcept { return index_; }

  // The worker whose thread is calling, or null on any other thread.
  static worker* current() noexcept;
  bool is_current() const noexcept { return current() == this; }

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

  // The poller (owning thread only, except watch()). `events` are EPOLLIN / EPOLLOUT bits;
  // readiness comes back as transport::on_events(). A transport is registered from start()
  // to its close (closing the descriptor removes it from the set).
  void watch(transport* t, int fd, std::uint32_t events);
  void rewatch(transport* t, int fd, std::uint32_t events);
  // Keeps a closed transport alive until the current batch of readiness is handled (a later
  // event of the same batch may still name it).
  void retire(std::shared_ptr<transport> t);
  // Flushes `t` once the handler running now returns: every transport queued here in one turn
  // is flushed by one posted handler (one post per turn, not one per connection).
  void flush_later(std::shared_ptr<transport> t);

 private:
  friend class io_pool;
  void arm_sweep();
  void arm_poll();
  void poll_ready();

  boost::asio::io_context context_{1};  // concurrency hint 1: one thread runs it
  boost::asio::steady_timer sweep_{context_};
  std::size_t index_;
  std::unique_ptr<std::uint8_t[]> read_buffer_;
  std::uint32_t tick_ = 0;
  transport* head_ = nullptr;
  int epoll_fd_ = -1;
  boost::asio::posix::stream_descriptor poller_{context_};  // owns epoll_fd_
  std::vector<std::shared_ptr<transport>> retired_;
  bool polling_ = false;
  bool release_posted_ = false;
  std::vector<std::shared_ptr<transport>> to_flush_, flushing_;
  void flush_pending();
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

  // One thread per worker, each running its context (and its sweep) until stop().
  void start();
  void stop();  // asks every context to stop; returns at once
  void join();  // waits for the threads
  // After join(): closes every transport still linked (on_closed runs on this thread).
  void abort_all(const std::error_code& ec);

 private:
  std::vector<std::unique_ptr<worker>> workers_;
  std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guards_;
  std::atomic<std::size_t> next_{0};
};

}  // namespace switchboard::runtime
