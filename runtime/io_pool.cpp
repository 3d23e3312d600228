#include "runtime/io_pool.hpp"

#include "runtime/log.hpp"
#include "runtime/transport.hpp"

#include <pthread.h>

namespace switchboard::runtime {
namespace {
thread_local worker* t_current = nullptr;
}

worker::worker(std::size_t index)
    : index_(index), read_buffer_(new std::uint8_t[read_buffer_size]) {
  cork_buffer.reserve(cork_buffer_size);
}

worker* worker::current() noexcept {
  return t_current;
}

void worker::arm_sweep() {
  sweep_.expires_after(std::chrono::milliseconds(tick_ms));
  sweep_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    ++tick_;
    for (transport* t = head_; t != nullptr;) {
      auto keep = t->shared_from_this();  // tick() may close it; keep it alive meanwhile
      transport* next = t->next_;
      t->tick(tick_);
      t = next;
    }
    arm_sweep();
  });
}

void worker::link(transport* t) noexcept {
  t->next_ = head_;
  t->prev_ = nullptr;
  if (head_) head_->prev_ = t;
  head_ = t;
}

void worker::unlink(transport* t) noexcept {
  if (t->prev_)
    t->prev_->next_ = t->next_;
  else if (head_ == t)
    head_ = t->next_;
  if (t->next_) t->next_->prev_ = t->prev_;
  t->prev_ = t->next_ = nullptr;
}

io_pool::io_pool(std::size_t threads) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  for (std::size_t i = 0; i < threads; ++i)
    workers_.push_back(std::make_unique<worker>(i));
}

io_pool::~io_pool() {
  stop();
  join();
}

worker& io_pool::next() noexcept {
  return *workers_[next_.fetch_add(1, std::memory_order_relaxed) % workers_.size()];
}

void io_pool::start() {
  for (auto& w : workers_) {
    guards_.push_back(boost::asio::make_work_guard(w->context_));
    w->arm_sweep();
    worker* self = w.get();
    w->thread_ = std::thread([self] {
      t_current = self;
      const std::string name = "sb-io-" + std::to_string(self->index_);
      pthread_setname_np(pthread_self(), name.c_str());
      for (;;) {
        try {
          self->context_.run();
          break;
        } catch (const std::exception& e) {
          // A handler threw: log it and keep serving the other connections of this thread.
          SB_LOG(error, "io thread %zu: unhandled exception: %s", self->index_, e.what());
        }
      }
      t_current = nullptr;
    });
  }
}

void io_pool::stop() {
  guards_.clear();
  for (auto& w : workers_)
    w->context_.stop();
}

void io_pool::abort_all(const std::error_code& ec) {
  for (auto& w : workers_)
    while (transport* t = w->first()) {
      auto keep = t->shared_from_this();
      t->abort(ec);
    }
}

void io_pool::join() {
  for (auto& w : workers_)
    if (w->thread_.joinable()) w->thread_.join();
}

}  // namespace switchboard::runtime
