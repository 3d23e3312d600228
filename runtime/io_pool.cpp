#include "runtime/io_pool.hpp"

#include "runtime/log.hpp"
#include "runtime/transport.hpp"

#include <boost/asio/post.hpp>

#include <pthread.h>
#include <sys/epoll.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace switchboard::runtime {
namespace {
thread_local worker* t_current = nullptr;
constexpr int max_ready = 256;  // sockets handled per epoll_wait; the rest come next turn
}  // namespace

worker::worker(std::size_t index)
    : index_(index), read_buffer_(new std::uint8_t[read_buffer_size]) {
  cork_buffer.reserve(cork_buffer_size);
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0)
    throw std::runtime_error(std::string("epoll_create1: ") + std::strerror(errno));
  poller_.assign(epoll_fd_);
}

worker::~worker() {
  // Registered transports own themselves (transport::self_); when the pool was not drained
  // with abort_all(), break those cycles here, as destroying the io_context frees what its
  // pending operations hold. Their destructors unlink them.
  std::vector<std::shared_ptr<transport>> owned;
  for (transport* t = head_; t != nullptr; t = t->next_)
    owned.push_back(std::move(t->self_));
  owned.clear();
  retired_.clear();
  to_flush_.clear();
}

void worker::watch(transport* t, int fd, std::uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = t;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0)
    throw std::system_error(errno, std::system_category(), "epoll_ctl ADD");
}

void worker::rewatch(transport* t, int fd, std::uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = t;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev);  // fails only for a closed fd: nothing to do
}

void worker::retire(std::shared_ptr<transport> t) {
  retired_.push_back(std::move(t));
  if (polling_ || release_posted_) return;  // poll_ready() releases them after its batch
  release_posted_ = true;
  boost::asio::post(context_, [this] {
    release_posted_ = false;
    if (!polling_) retired_.clear();
  });
}

void worker::flush_later(std::shared_ptr<transport> t) {
  to_flush_.push_back(std::move(t));
  if (to_flush_.size() == 1) boost::asio::post(context_, [this] { flush_pending(); });
}

void worker::flush_pending() {
  flushing_.swap(to_flush_);  // a flush may queue more (its budget ran out): next turn
  for (auto& t : flushing_) {
    t->flush_posted_ = false;
    t->flush();
  }
  flushing_.clear();
}

void worker::arm_poll() {
  poller_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                     [this](const boost::system::error_code& ec) {
                       if (ec) return;
                       // Re-armed even when a handler throws (io_pool::start logs and goes on).
                       struct rearm {
                         worker* w;
                         ~rearm() {
                           w->polling_ = false;
                           w->retired_.clear();
                           w->arm_poll();
                         }
                       } guard{this};
                       poll_ready();
                     });
}

void worker::poll_ready() {
  epoll_event ready[max_ready];
  const int n = ::epoll_wait(epoll_fd_, ready, max_ready, 0);
  polling_ = true;
  for (int i = 0; i < n; ++i)
    static_cast<transport*>(ready[i].data.ptr)->on_events(ready[i].events);
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
    w->arm_poll();
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
