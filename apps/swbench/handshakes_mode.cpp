// handshakes_mode.cpp: see handshakes_mode.hpp.
#include "apps/swbench/handshakes_mode.hpp"

#include "apps/swbench/client_loop.hpp"
#include "apps/swbench/driver.hpp"
#include "apps/swbench/errors.hpp"
#include "apps/swbench/net.hpp"
#include "apps/swbench/stats.hpp"

#include <atomic>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace switchboard::swbench {

namespace {

struct handshake_errors : conn_errors {
  std::uint64_t bad_echo = 0;  // --echo: the echo differed from what was sent

  std::uint64_t total() const { return conn_errors::total() + bad_echo; }
  void merge(const handshake_errors& o) {
    conn_errors::merge(o);
    bad_echo += o.bad_echo;
  }
};

// Shared by the workers: cycles started in all, for --count.
struct cycle_budget {
  std::uint64_t limit = 0;  // 0: no limit
  std::atomic<std::uint64_t> started{0};

  bool take() { return limit == 0 || started.fetch_add(1, std::memory_order_relaxed) < limit; }
};

class handshake_worker final : public session_handler {
 public:
  handshake_worker(const options& opt, const loop_config& config, worker_progress& progress,
                   const run_clock& clock, cycle_budget& budget, const std::atomic<bool>& stop)
      : opt_(opt),
        progress_(progress),
        clock_(clock),
        budget_(budget),
        stop_(stop),
        loop_(config, *this),
        payload_(opt.size) {
    for (std::size_t i = 0; i < payload_.size(); ++i)
      payload_[i] = static_cast<std::uint8_t>('a' + i % 26);
  }

  void add_connection(std::uint32_t id) {
    loop_.add_connection(id);
    slots_.emplace_back();
  }

  void run() {
    loop_.run(stop_);
    publish();
    loop_.close_all(1000);
  }

  std::uint64_t measured() const { return measured_; }
  std::uint64_t succeeded() const { return succeeded_; }
  std::uint64_t failed() const { return failed_; }
  const latency_histogram& handshake_latency() const { return handshake_latency_; }
  const latency_histogram& cycle_latency() const { return cycle_latency_; }
  const handshake_errors& errors() const { return errors_; }

  void on_open(client_loop& loop, connection& c, std::uint64_t now) override {
    cycle_slot& s = slots_[c.slot];
    s.open = true;
    ++open_;
    if (!s.counted) {  // the connect phase's connection: held until go
      ++settled_;
      if (started_) loop.close(c);
      return;
    }
    s.opened_at = now;
    if (opt_.echo) {
      s.awaiting_echo = true;
      loop.send(c, ws_opcode::text, payload_.data(), payload_.size());
      return;
    }
    loop.close(c);
  }

  void on_message(client_loop& loop, connection& c, ws_opcode op, const std::uint8_t* data,
                  std::size_t size, std::uint64_t) override {
    cycle_slot& s = slots_[c.slot];
    if (!s.awaiting_echo) return;  // something the server sends on its own (a greeting)
    s.awaiting_echo = false;
    if (op != ws_opcode::text || size != payload_.size() ||
        std::memcmp(data, payload_.data(), size) != 0) {
      ++errors_.bad_echo;
      errors_.note("connection " + std::to_string(c.id) + ": bad echo " + quote(data, size));
    }
    loop.close(c);
  }

  void on_close_done(client_loop& loop, connection& c, std::uint64_t now) override {
    cycle_slot& s = slots_[c.slot];
    closed(s);
    if (s.counted) {
      ++succeeded_;
      ++completed_;
      if (now >= window_begin_ && now < window_end_) {
        ++measured_;
        handshake_latency_.record(s.opened_at - c.connect_started);
        cycle_latency_.record(now - c.connect_started);
      }
    }
    next(loop, c);
  }

  void on_close(connection& c, close_cause cause, ws_errc detail) override {
    cycle_slot& s = slots_[c.slot];
    if (!s.counted && !s.open) ++settled_;  // the connect phase's connection never opened
    closed(s);
    if (s.counted) {
      ++failed_;
      ++completed_;
    }
    errors_.closed_by(c, cause, detail);
    retry_.push_back(c.slot);  // on the next tick: a connect that fails at once must not spin
  }

  void on_tick(client_loop& loop, std::uint64_t) override {
    if (!started_ && clock_.go.load(std::memory_order_relaxed)) {
      started_ = true;
      for (std::size_t i = 0; i < loop.size(); ++i) {
        connection& c = loop.at(i);
        if (c.state == conn_state::open) loop.close(c);
      }
      for (std::uint32_t slot : retry_)  // connect-phase failures join the loop now
        next(loop, loop.at(slot));
      retry_.clear();
    }
    if (started_ && !retry_.empty()) {
      std::vector<std::uint32_t> again;
      again.swap(retry_);
      for (std::uint32_t slot : again)
        next(loop, loop.at(slot));
    }
    window_begin_ = clock_.window_begin.load(std::memory_order_relaxed);
    window_end_ = clock_.window_end.load(std::memory_order_relaxed);
    publish();
  }

 private:
  struct cycle_slot {
    bool counted = false;  // this connection is a measured cycle (not the connect phase's)
    bool open = false;     // its handshake completed and it has not ended yet
    bool awaiting_echo = false;
    std::uint64_t opened_at = 0;  // now_ns() when the handshake completed
  };

  void closed(cycle_slot& s) {
    if (s.open) --open_;
    s.open = false;
    s.awaiting_echo = false;
  }

  // Starts c's next cycle unless the run is over or the --count budget is spent.
  void next(client_loop& loop, connection& c) {
    if (!started_ || clock_.stop.load(std::memory_order_relaxed) ||
        now_ns() >= clock_.window_end.load(std::memory_order_relaxed)) {
      return;
    }
    if (!budget_.take()) return;
    slots_[c.slot].counted = true;
    loop.reopen(c);
  }

  void publish() { progress_.set(completed_, errors_.total(), open_, settled_); }

  const options& opt_;
  worker_progress& progress_;
  const run_clock& clock_;
  cycle_budget& budget_;
  const std::atomic<bool>& stop_;
  client_loop loop_;
  std::vector<std::uint8_t> payload_;
  std::vector<cycle_slot> slots_;     // by slot
  std::vector<std::uint32_t> retry_;  // slots whose cycle failed, restarted on the next tick
  bool started_ = false;              // go seen: cycling
  std::uint64_t window_begin_ = ~std::uint64_t{0};
  std::uint64_t window_end_ = ~std::uint64_t{0};
  std::uint64_t completed_ = 0;  // counted cycles ended, well or not (the driver's unit)
  std::uint64_t succeeded_ = 0;  // counted cycles that ended with the closing handshake
  std::uint64_t failed_ = 0;
  std::uint64_t measured_ = 0;  // succeeded inside the window
  std::uint32_t open_ = 0;
  std::uint32_t settled_ = 0;
  latency_histogram handshake_latency_;
  latency_histogram cycle_latency_;
  handshake_errors errors_;
};

}  // namespace

int run_handshakes(const options& opt) {
  if (!enough_fds(opt.connections)) return 2;
  loop_config config = loop_config_from(opt);
  config.max_payload = std::max<std::size_t>(opt.size, 64 * 1024);
  config.wr_reserve = opt.echo ? max_client_frame_header + opt.size + 64 : 64;

  std::vector<worker_progress> progress(opt.threads);
  run_clock clock;
  cycle_budget budget;
  budget.limit = opt.count;
  std::atomic<bool> stop{false};
  std::vector<std::unique_ptr<handshake_worker>> workers;
  try {
    for (unsigned t = 0; t < opt.threads; ++t) {
      workers.push_back(
          std::make_unique<handshake_worker>(opt, config, progress[t], clock, budget, stop));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "swbench: %s\n", e.what());
    return 2;
  }
  for (std::uint32_t id = 0; id < opt.connections; ++id)
    workers[id % opt.threads]->add_connection(id);
  std::vector<std::thread> threads;
  for (auto& w : workers)
    threads.emplace_back([&w] { w->run(); });

  window_result window = drive(opt, progress, clock, "handshakes/s", opt.count);
  // Cycles in flight at the end finish (or time out) before the loops stop.
  const std::uint64_t drain_deadline = now_ns() + 2000000000u;
  for (;;) {
    std::uint32_t open = 0;
    for (const worker_progress& p : progress)
      open += p.open.load(std::memory_order_relaxed);
    if (open == 0 || now_ns() >= drain_deadline) break;
    sleep_until_ns(now_ns() + 10000000u);
  }
  stop.store(true);
  for (std::thread& t : threads)
    t.join();

  std::uint64_t measured = 0, succeeded = 0, failed = 0;
  latency_histogram handshake_latency, cycle_latency;
  handshake_errors errors;
  for (const auto& w : workers) {
    measured += w->measured();
    succeeded += w->succeeded();
    failed += w->failed();
    handshake_latency.merge(w->handshake_latency());
    cycle_latency.merge(w->cycle_latency());
    errors.merge(w->errors());
  }
  const double rate = window.seconds > 0 ? static_cast<double>(measured) / window.seconds : 0;
  const double per_server_cpu =
      window.server_measured && window.server_cpu_s > 0 ? measured / window.server_cpu_s : 0;

  std::printf("handshakes %s  %u connectors  threads %u%s%s\n", opt.url.c_str(), opt.connections,
              opt.threads, opt.echo ? "  one echo each" : "", opt.tls ? "  tls" : "");
  if (!window.started) {
    std::printf("  no connection opened: %s\n", errors.first.c_str());
  } else {
    std::printf("  window        %.2f s after %.1f s warmup\n", window.seconds, opt.warmup_s);
    std::printf(
        "  handshakes    %llu in the window (%.0f per s); %llu completed, %llu failed in "
        "all\n",
        static_cast<unsigned long long>(measured), rate, static_cast<unsigned long long>(succeeded),
        static_cast<unsigned long long>(failed));
    if (window.server_measured) {
      std::printf(
          "  server        %.2f CPU-s (%.0f%% of a core)  %.0f handshakes per server-CPU-s"
          "  RSS %.1f MiB\n",
          window.server_cpu_s, window.util(window.server_cpu_s) * 100, per_server_cpu,
          window.server_rss / 1048576.0);
    }
    std::printf("  swbench       %.2f CPU-s (%.0f%% of a core)\n", window.client_cpu_s,
                window.util(window.client_cpu_s) * 100);
    std::printf("  handshake (us) p50 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n",
                to_us(handshake_latency.percentile(50)), to_us(handshake_latency.percentile(99)),
                to_us(handshake_latency.percentile(99.9)), to_us(handshake_latency.max()));
    std::printf("  cycle (us)    p50 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n",
                to_us(cycle_latency.percentile(50)), to_us(cycle_latency.percentile(99)),
                to_us(cycle_latency.percentile(99.9)), to_us(cycle_latency.max()));
  }
  std::printf("  errors        %llu", static_cast<unsigned long long>(errors.total()));
  if (errors.total() != 0) {
    std::printf(" (bad echo %llu, %s)\n  first error   %s",
                static_cast<unsigned long long>(errors.bad_echo), errors.breakdown().c_str(),
                errors.first.c_str());
  }
  std::printf("\n");
  std::fflush(stdout);

  if (!opt.json_path.empty()) {
    json_object j;
    j.add("mode", "handshakes")
        .add("url", opt.url)
        .add("connections", std::uint64_t{opt.connections})
        .add("threads", std::uint64_t{opt.threads})
        .add("echo", opt.echo)
        .add("count", opt.count)
        .add("warmup_s", opt.warmup_s)
        .add("window_s", window.seconds)
        .add("handshakes", measured)
        .add("handshakes_per_s", rate)
        .add("handshakes_per_server_cpu_s", per_server_cpu)
        .add("handshakes_completed", succeeded)
        .add("handshakes_failed", failed)
        .add("cycle_p50_us", to_us(cycle_latency.percentile(50)))
        .add("cycle_p99_us", to_us(cycle_latency.percentile(99)))
        .add("errors", errors.total())
        .add("errors_bad_echo", errors.bad_echo)
        .add("errors_connect", errors.connect_failed)
        .add("errors_handshake", errors.handshake_failed)
        .add("errors_protocol", errors.protocol_error)
        .add("errors_closed", errors.closed)
        .add("first_error", errors.first);
    add_window_fields(j, window, opt.server_pid, handshake_latency);
    if (!write_report(opt.json_path, j)) return 1;
  }
  const bool all_counted = opt.count == 0 || succeeded == opt.count;
  return window.started && errors.total() == 0 && all_counted ? 0 : 1;
}

}  // namespace switchboard::swbench
