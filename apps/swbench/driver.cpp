// driver.cpp: see driver.hpp.
#include "apps/swbench/driver.hpp"

#include "apps/swbench/stats.hpp"

#include <algorithm>
#include <cstdio>

namespace switchboard::swbench {

namespace {

constexpr std::uint64_t second = 1000000000u;
constexpr std::uint64_t poll_ns = 100000000u;  // connect phase: check every 100 ms

struct totals {
  std::uint64_t completed = 0, errors = 0;
  std::uint32_t open = 0, settled = 0;
};

// The workers' counters, as one view.
struct progress_view {
  const worker_progress* begin;
  std::size_t size;
};

totals sum(progress_view progress) {
  totals t;
  for (std::size_t i = 0; i < progress.size; ++i) {
    const worker_progress& p = progress.begin[i];
    t.completed += p.completed.load(std::memory_order_relaxed);
    t.errors += p.errors.load(std::memory_order_relaxed);
    t.open += p.open.load(std::memory_order_relaxed);
    t.settled += p.settled.load(std::memory_order_relaxed);
  }
  return t;
}

// The once-a-second line on stderr.
class progress_line {
 public:
  progress_line(const options& opt, progress_view progress, const char* unit)
      : opt_(opt), progress_(progress), unit_(unit), start_(now_ns()), next_(start_ + second) {
    if (opt_.server_pid != 0) read_process_cpu(opt_.server_pid, last_server_cpu_);
  }

  // Prints a line if a second has passed since the last one.
  void maybe_print(const char* phase) {
    std::uint64_t now = now_ns();
    if (now < next_) return;
    totals t = sum(progress_);
    double dt = static_cast<double>(now - last_) / 1e9;
    double rate = static_cast<double>(t.completed - last_completed_) / dt;
    char server[48] = "";
    double cpu = 0;
    if (opt_.server_pid != 0 && read_process_cpu(opt_.server_pid, cpu)) {
      std::snprintf(server, sizeof server, "  server cpu %3.0f%%",
                    (cpu - last_server_cpu_) / dt * 100);
      last_server_cpu_ = cpu;
    }
    if (opt_.progress) {
      std::fprintf(stderr, "swbench %4.0fs %-8s open %u/%u  %10.0f %s  errors %llu%s\n",
                   static_cast<double>(now - start_) / 1e9, phase, t.open, opt_.connections, rate,
                   unit_, static_cast<unsigned long long>(t.errors), server);
    }
    last_ = now;
    last_completed_ = t.completed;
    while (next_ <= now)
      next_ += second;
  }

  // Sleeps until `t`, printing on the way.
  void sleep_until(std::uint64_t t, const char* phase) {
    for (;;) {
      std::uint64_t now = now_ns();
      if (now >= t) return;
      sleep_until_ns(std::min(t, next_));
      maybe_print(phase);
    }
  }

 private:
  const options& opt_;
  progress_view progress_;
  const char* unit_;
  std::uint64_t start_;
  std::uint64_t next_;
  std::uint64_t last_ = start_;
  std::uint64_t last_completed_ = 0;
  double last_server_cpu_ = 0;
};

}  // namespace

std::uint64_t server_rss_now(int server_pid) {
  std::uint64_t rss = 0, peak = 0;
  if (server_pid == 0 || !read_process_memory(server_pid, rss, peak)) return 0;
  return rss;
}

window_result drive(const options& opt, const worker_progress* workers, std::size_t count,
                    run_clock& clock, const char* unit, std::uint64_t stop_after) {
  window_result result;
  const progress_view progress{workers, count};
  progress_line line(opt, progress, unit);
  const std::uint64_t connect_begin = now_ns();

  // Connect: until all settled or the timeout.
  const std::uint64_t connect_deadline =
      now_ns() + static_cast<std::uint64_t>(opt.connect_timeout_s * 1e9);
  for (;;) {
    totals t = sum(progress);
    if (t.settled >= opt.connections) break;
    if (now_ns() >= connect_deadline) {
      std::fprintf(stderr, "swbench: connect timeout: %u of %u connections settled\n", t.settled,
                   opt.connections);
      break;
    }
    line.sleep_until(now_ns() + poll_ns, "connect");
  }
  result.connect_s = static_cast<double>(now_ns() - connect_begin) / 1e9;
  if (sum(progress).open == 0) {
    clock.stop.store(true);
    return result;
  }

  // Load, warmup, then the window.
  clock.go.store(true);
  const std::uint64_t begin = now_ns() + static_cast<std::uint64_t>(opt.warmup_s * 1e9);
  const std::uint64_t end = begin + static_cast<std::uint64_t>(opt.duration_s * 1e9);
  clock.window_begin.store(begin);
  clock.window_end.store(end);
  line.sleep_until(begin, "warmup");

  result.started = true;
  result.open_at_begin = sum(progress).open;
  double server_cpu_begin = 0, server_cpu_end = 0;
  const bool server_begin =
      opt.server_pid != 0 && read_process_cpu(opt.server_pid, server_cpu_begin);
  const double client_begin = self_cpu_seconds();
  double busy_begin = 0, steal_begin = 0, busy_end = 0, steal_end = 0;
  read_machine_cpu(busy_begin, steal_begin);
  result.server_rss_begin = server_rss_now(opt.server_pid);

  std::uint64_t ended = end;
  if (stop_after == 0) {
    line.sleep_until(end, "measure");
  } else {
    for (;;) {  // until the count is reached, checked every 10 ms, or the window's end
      const std::uint64_t now = now_ns();
      if (sum(progress).completed >= stop_after || now >= end) {
        ended = std::min(now, end);
        break;
      }
      line.sleep_until(std::min(end, now + poll_ns / 10), "measure");
    }
    clock.window_end.store(ended);  // what completes after it is outside the window
  }

  const double client_end = self_cpu_seconds();
  read_machine_cpu(busy_end, steal_end);
  const bool server_end = opt.server_pid != 0 && read_process_cpu(opt.server_pid, server_cpu_end);
  if (opt.server_pid != 0) {
    read_process_memory(opt.server_pid, result.server_rss, result.server_peak_rss);
  }
  result.open_at_end = sum(progress).open;
  clock.stop.store(true);

  result.seconds = static_cast<double>(ended - begin) / 1e9;
  result.client_cpu_s = client_end - client_begin;
  result.machine_busy_s = busy_end - busy_begin;
  result.machine_steal_s = steal_end - steal_begin;
  result.server_measured = server_begin && server_end;
  result.server_cpu_s = server_cpu_end - server_cpu_begin;
  return result;
}

double window_result::other_cpu_s() const noexcept {
  return std::max(0.0, machine_busy_s - client_cpu_s - (server_measured ? server_cpu_s : 0.0));
}

void add_window_fields(json_object& j, const window_result& w, int server_pid,
                       const latency_histogram& latency) {
  const auto us = [](std::uint64_t ns) { return static_cast<double>(ns) / 1000.0; };
  j.add("connect_s", w.connect_s)
      .add("server_pid", static_cast<std::uint64_t>(server_pid))
      .add("server_measured", w.server_measured)
      .add("server_cpu_s", w.server_cpu_s)
      .add("server_cpu_util", w.util(w.server_cpu_s))
      .add("server_rss_begin_bytes", w.server_rss_begin)
      .add("server_rss_bytes", w.server_rss)
      .add("server_peak_rss_bytes", w.server_peak_rss)
      .add("client_cpu_s", w.client_cpu_s)
      .add("client_cpu_util", w.util(w.client_cpu_s))
      .add("other_cpu_s", w.other_cpu_s())
      .add("other_cpu_util", w.util(w.other_cpu_s()))
      .add("steal_cpu_s", w.machine_steal_s)
      .add("latency_p50_us", us(latency.percentile(50)))
      .add("latency_p99_us", us(latency.percentile(99)))
      .add("latency_p999_us", us(latency.percentile(99.9)))
      .add("latency_max_us", us(latency.max()))
      .add("latency_mean_us", latency.mean() / 1000.0);
}

}  // namespace switchboard::swbench
