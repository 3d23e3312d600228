#include "runtime/io_pool.hpp"

#include "runtime/log.hpp"
#include "runtime/transport.hpp"

#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <stdexcept>

namespace switchboard::runtime {
namespace {
thread_local worker* t_current = nullptr;
constexpr int max_ready = 256;  // descriptors handled per epoll_wait; the rest come next turn

// Runs one handler; an exception is logged and the loop goes on with the others.
template <class F>
void guarded(std::size_t index, F&& f) noexcept {
  try {
    f();
  } catch (const std::exception& e) {
    SB_LOG(error, "io thread %zu: unhandled exception: %s", index, e.what());
  } catch (...) {
    SB_LOG(error, "io thread %zu: unhandled exception", index);
  }
}
}  // namespace

// The post queue. Shared with whoever may post after the worker is gone (closed: dropped).
struct worker::inbox {
  std::mutex mutex;
  std::vector<task> tasks;
  bool sleeping = false;  // the loop is (about to be) in epoll_wait with a timeout
  bool woken = false;     // the eventfd was written since it said so
  bool closed = false;
  int event_fd = -1;

  ~inbox() {
    if (event_fd >= 0) ::close(event_fd);
  }
  void wake() const noexcept {
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(event_fd, &one, sizeof one);
  }
  void post(task t) {
    bool wake_it = false;
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (closed) return;  // `t` is destroyed outside the lock
      tasks.push_back(std::move(t));
      if (sleeping && !woken) wake_it = woken = true;
    }
    if (wake_it) wake();
  }
};

void tcp_socket::close() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void tcp_socket::set_peer(const sockaddr* address, socklen_t size) noexcept {
  peer_size_ = std::min<socklen_t>(size, sizeof peer_);
  std::memcpy(&peer_, address, peer_size_);
}

// --- timer ----------------------------------------------------------------------------------

timer::~timer() {
  cancel();
}

void timer::expires_after(clock::duration d) {
  cancel();
  deadline_ = clock::now() + d;
}

void timer::async_wait(handler h) {
  cancel();
  handler_ = std::move(h);
  home_.add_timer(this);
}

std::size_t timer::cancel() {
  if (heap_index_ == unarmed) return 0;
  home_.remove_timer(this);
  home_.post([h = std::move(handler_)]() mutable {
    h(std::make_error_code(std::errc::operation_canceled));
  });
  return 1;
}

bool worker::earlier(const timer* a, const timer* b) const noexcept {
  return a->deadline_ < b->deadline_ || (a->deadline_ == b->deadline_ && a->order_ < b->order_);
}

void worker::sift_up(std::size_t i) {
  timer* t = heap_[i];
  while (i > 0) {
    const std::size_t parent = (i - 1) / 2;
    if (!earlier(t, heap_[parent])) break;
    place(i, heap_[parent]);
    i = parent;
  }
  place(i, t);
}

void worker::sift_down(std::size_t i) {
  timer* t = heap_[i];
  const std::size_t n = heap_.size();
  for (;;) {
    std::size_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && earlier(heap_[child + 1], heap_[child])) ++child;
    if (!earlier(heap_[child], t)) break;
    place(i, heap_[child]);
    i = child;
  }
  place(i, t);
}

void worker::add_timer(timer* t) {
  t->order_ = ++timer_order_;
  heap_.push_back(t);
  t->heap_index_ = heap_.size() - 1;
  sift_up(heap_.size() - 1);
}

void worker::remove_timer(timer* t) {
  const std::size_t i = t->heap_index_;
  t->heap_index_ = timer::unarmed;
  timer* last = heap_.back();
  heap_.pop_back();
  if (last == t) return;
  place(i, last);
  if (i > 0 && earlier(last, heap_[(i - 1) / 2]))
    sift_up(i);
  else
    sift_down(i);
}

// --- worker ---------------------------------------------------------------------------------

worker::worker(std::size_t index)
    : index_(index),
      inbox_(std::make_shared<inbox>()),
      read_buffer_(new std::uint8_t[read_buffer_size]) {
  cork_buffer.reserve(cork_buffer_size);
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0)
    throw std::runtime_error(std::string("epoll_create1: ") + std::strerror(errno));
  inbox_->event_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (inbox_->event_fd < 0) {
    ::close(epoll_fd_);
    throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
  }
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLET;  // every write is a new edge: never read (see io_pool.hpp)
  ev.data.ptr = nullptr;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, inbox_->event_fd, &ev) != 0) {
    ::close(epoll_fd_);
    throw std::runtime_error(std::string("epoll_ctl eventfd: ") + std::strerror(errno));
  }
  sweep_ = std::make_unique<timer>(*this);
}

worker::~worker() {
  // Registered transports own themselves (transport::self_); when the pool was not drained
  // with abort_all(), break those cycles here. Their destructors unlink them.
  std::vector<std::shared_ptr<transport>> owned;
  for (transport* t = head_; t != nullptr; t = t->next_)
    owned.push_back(std::move(t->self_));
  owned.clear();
  // Handlers still waiting (timers, posts) are destroyed unrun, as an io_context does: what
  // they own (often the object that owns the timer) goes with them.
  std::vector<timer::handler> waiting;
  for (timer* t : heap_) {
    t->heap_index_ = timer::unarmed;
    waiting.push_back(std::move(t->handler_));
  }
  heap_.clear();
  waiting.clear();
  sweep_.reset();
  for (;;) {
    std::vector<task> left;
    {
      std::lock_guard<std::mutex> lock(inbox_->mutex);
      left.swap(inbox_->tasks);
      if (left.empty()) {
        inbox_->closed = true;
        break;
      }
    }
  }
  running_.clear();
  retired_.clear();
  to_flush_.clear();
  flushing_.clear();
  ::close(epoll_fd_);
}

worker* worker::current() noexcept {
  return t_current;
}

void worker::post(task t) {
  inbox_->post(std::move(t));
}

void worker::remote::post(task t) const {
  inbox_->post(std::move(t));
}

worker::remote worker::remote_handle() const {
  remote r;
  r.inbox_ = inbox_;
  return r;
}

void worker::wake() noexcept {
  inbox_->wake();
}

void worker::watch(poll_target* t, int fd, std::uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = t;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0)
    throw std::system_error(errno, std::system_category(), "epoll_ctl ADD");
}

void worker::rewatch(poll_target* t, int fd, std::uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = t;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev);  // fails only for a closed fd: nothing to do
}

void worker::unwatch(int fd) {
  epoll_event ev{};
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, &ev);
}

void worker::retire(std::shared_ptr<void> t) {
  retired_.push_back(std::move(t));  // released at the end of the turn
}

void worker::flush_later(std::shared_ptr<transport> t) {
  to_flush_.push_back(std::move(t));
}

void worker::flush_pending() {
  flushing_.swap(to_flush_);  // a flush may queue more (its budget ran out): next turn
  for (auto& t : flushing_) {
    t->flush_posted_ = false;
    guarded(index_, [&t] { t->flush(); });
  }
  flushing_.clear();
}

// Milliseconds until the first timer is due (rounded up, so it is due when we wake), or -1.
int worker::wait_timeout() {
  if (heap_.empty()) return -1;
  const auto left = heap_[0]->deadline_ - timer::clock::now();
  if (left <= timer::clock::duration::zero()) return 0;
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
}

void worker::turn() {
  int timeout = to_flush_.empty() ? wait_timeout() : 0;
  bool slept = false;
  if (timeout != 0) {
    std::lock_guard<std::mutex> lock(inbox_->mutex);
    if (inbox_->tasks.empty())
      slept = inbox_->sleeping = true;
    else
      timeout = 0;
  }
  epoll_event ready[max_ready];
  const int n = ::epoll_wait(epoll_fd_, ready, max_ready, timeout);
  if (slept) {
    std::lock_guard<std::mutex> lock(inbox_->mutex);
    inbox_->sleeping = inbox_->woken = false;
  }
  for (int i = 0; i < n; ++i) {
    auto* target = static_cast<poll_target*>(ready[i].data.ptr);
    if (target == nullptr) continue;  // the eventfd: posts are run below
    const std::uint32_t events = ready[i].events;
    guarded(index_, [target, events] { target->on_events(events); });
  }
  run_posts();
  run_timers();
  flush_pending();
  retired_.clear();
}

void worker::run_posts() {
  {
    std::lock_guard<std::mutex> lock(inbox_->mutex);
    if (inbox_->tasks.empty()) return;
    running_.swap(inbox_->tasks);
  }
  for (auto& t : running_)
    guarded(index_, [&t] { t(); });
  running_.clear();
}

void worker::run_timers() {
  if (heap_.empty()) return;
  const auto now = timer::clock::now();
  // Bounded: a handler that re-arms for "now" runs next turn, not in a loop here.
  for (std::size_t budget = heap_.size(); budget > 0 && !heap_.empty(); --budget) {
    timer* t = heap_[0];
    if (t->deadline_ > now) break;
    remove_timer(t);
    timer::handler h = std::move(t->handler_);  // the handler may destroy or re-arm `t`
    guarded(index_, [&h] { h(std::error_code{}); });
  }
}

void worker::run() {
  arm_sweep();
  while (!stop_.load(std::memory_order_acquire))
    turn();
}

void worker::arm_sweep() {
  sweep_->expires_after(std::chrono::milliseconds(tick_ms));
  sweep_->async_wait([this](const std::error_code& ec) {
    if (ec) return;
    sweep();
    arm_sweep();
  });
}

void worker::sweep() {
  ++tick_;
  for (transport* t = head_; t != nullptr;) {
    auto keep = t->shared_from_this();  // tick() may close it; keep it alive meanwhile
    transport* next = t->next_;
    guarded(index_, [t, this] { t->tick(tick_); });
    t = next;
  }
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

// --- io_pool --------------------------------------------------------------------------------

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
    worker* self = w.get();
    w->thread_ = std::thread([self] {
      t_current = self;
      const std::string name = "sb-io-" + std::to_string(self->index_);
      pthread_setname_np(pthread_self(), name.c_str());
      self->run();
      t_current = nullptr;
    });
  }
}

void io_pool::stop() {
  for (auto& w : workers_) {
    w->stop_.store(true, std::memory_order_release);
    w->wake();
  }
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
