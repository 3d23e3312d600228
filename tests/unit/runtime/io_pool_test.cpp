// io_pool_test.cpp: the worker's own loop (runtime/io_pool.hpp): posts from other threads wake
// a sleeping loop and none is lost, posts from the loop's thread run later, timers run in
// deadline order and report cancellation, a throwing handler does not stop the loop, and what is
// still queued when the pool goes away is destroyed unrun. Real threads, real epoll.
#include "runtime/io_pool.hpp"

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace rt = switchboard::runtime;
using namespace std::chrono_literals;

namespace {

// Runs `f` on the worker and waits for it (bounded).
template <class F>
void on_worker(rt::worker& w, F f) {
  std::promise<void> done;
  auto ready = done.get_future();
  w.post([&] {
    f();
    done.set_value();
  });
  BOOST_TEST_REQUIRE((ready.wait_for(5s) == std::future_status::ready));
}

// Waits (bounded) until `pred` holds, checking under `m`.
template <class P>
bool wait_until(std::mutex& m, std::condition_variable& cv, P pred) {
  std::unique_lock<std::mutex> lock(m);
  return cv.wait_for(lock, 5s, pred);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(io_pool)

BOOST_AUTO_TEST_CASE(a_post_from_another_thread_wakes_a_sleeping_loop) {
  rt::io_pool pool(1);
  pool.start();
  // Each post finds the loop asleep in epoll_wait. Without the eventfd it would wait for the
  // sweep's timer (every 250 ms): 10 posts would then take about 1.25 s in all, not ~0.
  std::chrono::steady_clock::duration waited{};
  for (int i = 0; i < 10; ++i) {
    std::this_thread::sleep_for(30ms);  // the loop falls asleep
    std::promise<rt::worker*> ran_on;
    auto result = ran_on.get_future();
    const auto posted = std::chrono::steady_clock::now();
    pool.at(0).post([&] { ran_on.set_value(rt::worker::current()); });
    BOOST_TEST_REQUIRE((result.wait_for(5s) == std::future_status::ready));
    waited += std::chrono::steady_clock::now() - posted;
    BOOST_TEST(result.get() == &pool.at(0));
  }
  BOOST_TEST((waited < 600ms));
  pool.stop();
  pool.join();
}

BOOST_AUTO_TEST_CASE(no_post_is_lost_under_contention) {
  rt::io_pool pool(1);
  pool.start();
  constexpr int threads = 4, per_thread = 20000;
  std::mutex m;
  std::condition_variable cv;
  int count = 0;  // worker thread only, read under m at the end
  std::vector<std::thread> posters;
  for (int t = 0; t < threads; ++t)
    posters.emplace_back([&] {
      for (int i = 0; i < per_thread; ++i) {
        pool.at(0).post([&] {
          std::lock_guard<std::mutex> lock(m);
          if (++count == threads * per_thread) cv.notify_all();
        });
        if (i % 1000 == 0) std::this_thread::sleep_for(1ms);  // let the loop fall asleep
      }
    });
  for (auto& t : posters)
    t.join();
  BOOST_TEST(wait_until(m, cv, [&] { return count == threads * per_thread; }));
  pool.stop();
  pool.join();
}

BOOST_AUTO_TEST_CASE(a_post_from_the_loop_thread_runs_later_in_order) {
  rt::io_pool pool(1);
  pool.start();
  std::vector<int> order;
  std::promise<void> done;
  auto finished = done.get_future();
  pool.at(0).post([&] {
    rt::worker& w = *rt::worker::current();
    w.post([&] { order.push_back(2); });
    w.post([&] {
      order.push_back(3);
      done.set_value();
    });
    order.push_back(1);  // the posts have not run inside post()
  });
  BOOST_TEST_REQUIRE((finished.wait_for(5s) == std::future_status::ready));
  BOOST_TEST((order == std::vector<int>{1, 2, 3}));
  pool.stop();
  pool.join();
}

BOOST_AUTO_TEST_CASE(timers_run_in_deadline_order_and_not_early) {
  rt::io_pool pool(1);
  pool.start();
  std::mutex m;
  std::condition_variable cv;
  std::vector<int> order;
  std::vector<std::chrono::steady_clock::duration> late;
  std::vector<std::unique_ptr<rt::timer>> timers;
  const auto armed = std::chrono::steady_clock::now();
  on_worker(pool.at(0), [&] {
    for (int ms : {60, 20, 40, 20}) {
      timers.push_back(std::make_unique<rt::timer>(pool.at(0)));
      timers.back()->expires_after(std::chrono::milliseconds(ms));
      timers.back()->async_wait([&, ms](const std::error_code& ec) {
        std::lock_guard<std::mutex> lock(m);
        if (!ec) order.push_back(ms);
        late.push_back(std::chrono::steady_clock::now() - armed - std::chrono::milliseconds(ms));
        cv.notify_all();
      });
    }
  });
  BOOST_TEST(wait_until(m, cv, [&] { return order.size() == 4; }));
  BOOST_TEST((order == std::vector<int>{20, 20, 40, 60}));
  for (const auto& d : late)
    BOOST_TEST((d >= std::chrono::steady_clock::duration::zero()));
  on_worker(pool.at(0), [&] { timers.clear(); });
  pool.stop();
  pool.join();
}

BOOST_AUTO_TEST_CASE(cancel_rearm_and_destruction_report_operation_canceled) {
  rt::io_pool pool(1);
  pool.start();
  std::mutex m;
  std::condition_variable cv;
  std::vector<std::error_code> results;
  bool inline_call = false;
  auto record = [&](const std::error_code& ec) {
    std::lock_guard<std::mutex> lock(m);
    results.push_back(ec);
    cv.notify_all();
  };
  auto a = std::make_unique<rt::timer>(pool.at(0));
  auto b = std::make_unique<rt::timer>(pool.at(0));
  auto c = std::make_unique<rt::timer>(pool.at(0));
  on_worker(pool.at(0), [&] {
    a->expires_after(10s);
    a->async_wait(record);
    BOOST_TEST(a->cancel() == 1u);
    BOOST_TEST(a->cancel() == 0u);  // nothing waits any more
    b->expires_after(10s);
    b->async_wait(record);
    b->expires_after(10ms);  // cancels the first wait
    b->async_wait(record);   // this one expires
    c->expires_after(10s);
    c->async_wait(record);
    c.reset();  // destruction cancels
    std::lock_guard<std::mutex> lock(m);
    inline_call = !results.empty();
  });
  BOOST_TEST(!inline_call);  // cancelled handlers run later, never inside cancel()
  BOOST_TEST(wait_until(m, cv, [&] { return results.size() == 4; }));
  int canceled = 0, expired = 0;
  for (const auto& ec : results) {
    if (ec == std::errc::operation_canceled)
      ++canceled;
    else if (!ec)
      ++expired;
  }
  BOOST_TEST(canceled == 3);
  BOOST_TEST(expired == 1);
  BOOST_TEST(!results.back());  // the 10 ms wait came last
  on_worker(pool.at(0), [&] {
    a.reset();
    b.reset();
  });
  pool.stop();
  pool.join();
}

BOOST_AUTO_TEST_CASE(a_throwing_handler_does_not_stop_the_loop) {
  rt::io_pool pool(1);
  pool.start();
  std::promise<void> after;
  auto ran = after.get_future();
  pool.at(0).post([] { throw std::runtime_error("handler failure (expected by the test)"); });
  pool.at(0).post([&] { after.set_value(); });
  BOOST_TEST_REQUIRE((ran.wait_for(5s) == std::future_status::ready));
  pool.stop();
  pool.join();
}

BOOST_AUTO_TEST_CASE(what_is_queued_when_the_pool_goes_away_is_destroyed_unrun) {
  auto token = std::make_shared<int>(0);
  bool ran = false;
  std::unique_ptr<rt::timer> t;  // outlives its worker: left armed, then destroyed after it
  {
    rt::io_pool pool(1);
    pool.start();
    pool.stop();
    pool.join();
    pool.at(0).post([token, &ran] { ran = true; });
    t = std::make_unique<rt::timer>(pool.at(0));  // the loop has stopped: any thread may
    t->expires_after(1s);
    t->async_wait([token, &ran](const std::error_code&) { ran = true; });
    BOOST_TEST(token.use_count() == 3);
  }
  BOOST_TEST(!ran);
  BOOST_TEST(token.use_count() == 1);
  t.reset();  // its worker is gone and it knows it is no longer armed
}

BOOST_AUTO_TEST_SUITE_END()
