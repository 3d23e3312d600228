// driver.hpp: the phases every swbench mode shares, run on the main thread while the mode's
// worker threads (one client_loop each) do the I/O.
//
//   connect  until every connection is open or failed, or --connect-timeout passes; no load yet
//   warmup   --warmup seconds of load that is not measured
//   window   --duration seconds: workers count only what completes inside [begin, end); the
//            driver samples server CPU (/proc/PID/stat), swbench's own CPU and the machine's
//            (/proc/stat, to see other load) at both ends
//   stop     workers leave their loops and close their connections
//
// The window is decided once, as two absolute CLOCK_MONOTONIC times published to the workers
// before it starts, so workers compare their own event timestamps to it and no thread has to
// signal another at the boundaries. Once a second the driver prints a progress line to stderr
// from the counters each worker publishes (relaxed atomic stores, once per loop turn).
#pragma once

#include "apps/swbench/options.hpp"

#include <atomic>
#include <cstdint>
#include <limits>
#include <vector>

namespace switchboard::swbench {

// Published by one worker, read by the driver. One cache line each, so workers do not contend.
struct alignas(64) worker_progress {
  std::atomic<std::uint64_t> completed{0};  // the mode's unit (echo: round trips), all phases
  std::atomic<std::uint64_t> errors{0};     // errors so far, all phases
  std::atomic<std::uint32_t> open{0};       // connections open now
  std::atomic<std::uint32_t> settled{0};    // connections that opened or failed to open

  void set(std::uint64_t completed_now, std::uint64_t errors_now, std::uint32_t open_now,
           std::uint32_t settled_now) noexcept {
    completed.store(completed_now, std::memory_order_relaxed);
    errors.store(errors_now, std::memory_order_relaxed);
    open.store(open_now, std::memory_order_relaxed);
    settled.store(settled_now, std::memory_order_relaxed);
  }
};

// Written by the driver, read by the workers.
struct run_clock {
  // Set when the connect phase ends: load starts only then, so connections open at full speed
  // instead of competing with the traffic of those already open.
  std::atomic<bool> go{false};
  std::atomic<std::uint64_t> window_begin{std::numeric_limits<std::uint64_t>::max()};
  std::atomic<std::uint64_t> window_end{std::numeric_limits<std::uint64_t>::max()};
  std::atomic<bool> stop{false};
};

struct window_result {
  bool started = false;                // at least one connection opened, so a window was run
  std::uint32_t open_at_begin = 0;     // connections open when the window began
  std::uint32_t open_at_end = 0;       // connections open when it ended
  double connect_s = 0;                // length of the connect phase
  double seconds = 0;                  // window length (shorter when `stop_after` ended it)
  double client_cpu_s = 0;             // swbench's CPU time in the window (all threads)
  double machine_busy_s = 0;           // all CPUs' busy time in the window (/proc/stat)
  double machine_steal_s = 0;          // all CPUs' steal time in the window
  bool server_measured = false;        // --server-pid given and readable at both ends
  double server_cpu_s = 0;             // the server's CPU time in the window
  std::uint64_t server_rss_begin = 0;  // bytes, when the window began
  std::uint64_t server_rss = 0;        // bytes, at the end of the window
  std::uint64_t server_peak_rss = 0;

  // Share of one core over the window.
  double util(double cpu_s) const noexcept { return seconds > 0 ? cpu_s / seconds : 0; }
  // Busy CPU time spent neither by the server nor by swbench: other processes skewing the run.
  double other_cpu_s() const noexcept;
};

class json_object;
class latency_histogram;

// The fields every mode's --json report carries: the server's and swbench's CPU and memory,
// other load, steal, and the latency percentiles (microseconds).
void add_window_fields(json_object& j, const window_result& w, int server_pid,
                       const latency_histogram& latency);

// Runs connect, warmup and window (see above), then sets clock.stop. `unit` names the progress
// line's rate ("msg/s"). With `stop_after` > 0 the window also ends as soon as the workers have
// completed that many units in all (modes with --count). `progress` may live in memory shared
// with worker processes (the connections mode forks): it is only read, with relaxed loads.
window_result drive(const options& opt, const worker_progress* progress, std::size_t workers,
                    run_clock& clock, const char* unit, std::uint64_t stop_after = 0);

inline window_result drive(const options& opt, const std::vector<worker_progress>& progress,
                           run_clock& clock, const char* unit, std::uint64_t stop_after = 0) {
  return drive(opt, progress.data(), progress.size(), clock, unit, stop_after);
}

// The server's RSS in bytes now (0 without --server-pid or when unreadable).
std::uint64_t server_rss_now(int server_pid);

}  // namespace switchboard::swbench
