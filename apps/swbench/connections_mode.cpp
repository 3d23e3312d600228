// connections_mode.cpp: see connections_mode.hpp.
#include "apps/swbench/connections_mode.hpp"

#include "apps/swbench/client_loop.hpp"
#include "apps/swbench/driver.hpp"
#include "apps/swbench/errors.hpp"
#include "apps/swbench/net.hpp"
#include "apps/swbench/stats.hpp"

#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <thread>
#include <vector>

namespace switchboard::swbench {

namespace {

constexpr std::uint64_t reserved_fds = 64;  // beside the connections: stdio, epoll, files

// A worker's final counts, written by it when it is done and read by the parent after join()
// or waitpid(): plain fields in the shared mapping.
struct worker_report {
  bool written = false;
  std::uint64_t connect_failed = 0, handshake_failed = 0, protocol_error = 0, closed = 0;
  std::uint64_t messages = 0;  // data messages the server sent on idle connections
  char first[240] = {};
};

// Everything the workers and the parent share, laid out in one anonymous shared mapping so
// that forked workers see the same atomics as threads would.
class shared_state {
 public:
  explicit shared_state(unsigned workers) : workers_(workers) {
    size_ = sizeof(run_clock) + workers * (sizeof(worker_progress) + sizeof(worker_report));
    void* p = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    base_ = static_cast<unsigned char*>(p);
    clock_ = new (base_) run_clock;
    progress_ = reinterpret_cast<worker_progress*>(base_ + sizeof(run_clock));
    for (unsigned i = 0; i < workers; ++i)
      new (&progress_[i]) worker_progress;
    reports_ = reinterpret_cast<worker_report*>(progress_ + workers);
    for (unsigned i = 0; i < workers; ++i)
      new (&reports_[i]) worker_report;
  }
  ~shared_state() { munmap(base_, size_); }
  shared_state(const shared_state&) = delete;
  shared_state& operator=(const shared_state&) = delete;

  run_clock& clock() { return *clock_; }
  worker_progress* progress() { return progress_; }
  worker_report& report(unsigned i) { return reports_[i]; }
  unsigned workers() const { return workers_; }

 private:
  unsigned workers_;
  std::size_t size_ = 0;
  unsigned char* base_ = nullptr;
  run_clock* clock_ = nullptr;
  worker_progress* progress_ = nullptr;
  worker_report* reports_ = nullptr;
};

// One loop's connections: open them, then only answer pings (client_loop does) until stop.
class idle_worker final : public session_handler {
 public:
  idle_worker(const loop_config& config, worker_progress& progress, const run_clock& clock)
      : progress_(progress), clock_(clock), loop_(config, *this) {}

  void add_connection(std::uint32_t id) {
    loop_.add_connection(id);
    opened_.push_back(false);
  }

  void run(worker_report& report) {
    loop_.run(clock_.stop);
    publish();
    loop_.close_all(5000);
    report.connect_failed = errors_.connect_failed;
    report.handshake_failed = errors_.handshake_failed;
    report.protocol_error = errors_.protocol_error;
    report.closed = errors_.closed;
    report.messages = messages_;
    std::snprintf(report.first, sizeof report.first, "%s", errors_.first.c_str());
    report.written = true;
  }

  void on_open(client_loop&, connection& c, std::uint64_t) override {
    opened_[c.slot] = true;
    ++opened_total_;
    ++open_;
    ++settled_;
  }

  void on_message(client_loop&, connection&, ws_opcode, const std::uint8_t*, std::size_t,
                  std::uint64_t) override {
    ++messages_;
  }

  void on_close(connection& c, close_cause cause, ws_errc detail) override {
    if (opened_[c.slot]) {
      --open_;
    } else {
      ++settled_;
    }
    errors_.closed_by(c, cause, detail);
  }

  void on_tick(client_loop&, std::uint64_t) override { publish(); }

 private:
  void publish() { progress_.set(opened_total_, errors_.total(), open_, settled_); }

  worker_progress& progress_;
  const run_clock& clock_;
  client_loop loop_;
  std::vector<bool> opened_;        // by slot
  std::uint32_t opened_total_ = 0;  // handshakes completed
  std::uint32_t open_ = 0;
  std::uint32_t settled_ = 0;
  std::uint64_t messages_ = 0;
  conn_errors errors_;
};

double mib(std::uint64_t bytes) {
  return static_cast<double>(bytes) / 1048576.0;
}

}  // namespace

int run_connections(const options& opt) {
  // How many processes: each holds at most its descriptor limit.
  const std::uint64_t limit = raise_fd_limit(opt.connections + reserved_fds);
  if (limit <= reserved_fds + 16) {
    std::fprintf(stderr, "swbench: the open-file limit (%llu) is too low\n",
                 static_cast<unsigned long long>(limit));
    return 2;
  }
  const std::uint64_t per_process = limit - reserved_fds;
  unsigned processes = opt.processes;
  if (processes == 0) {
    processes = static_cast<unsigned>((opt.connections + per_process - 1) / per_process);
  }
  if ((opt.connections + processes - 1) / processes > per_process) {
    std::fprintf(stderr,
                 "swbench: %u connections in %u process%s need %llu descriptors each; the limit "
                 "is %llu (use more --processes)\n",
                 opt.connections, processes, processes == 1 ? "" : "es",
                 static_cast<unsigned long long>((opt.connections + processes - 1) / processes +
                                                 reserved_fds),
                 static_cast<unsigned long long>(limit));
    return 2;
  }
  const bool forked = processes > 1;
  const unsigned workers = forked ? processes : opt.threads;

  loop_config config = loop_config_from(opt);
  config.max_payload = 64 * 1024;
  // Idle: nothing reserved per connection (the buffers grow only if the server sends).

  const std::uint64_t rss_before = server_rss_now(opt.server_pid);
  std::unique_ptr<shared_state> shared;
  try {
    shared = std::make_unique<shared_state>(workers);
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "swbench: cannot map the shared counters\n");
    return 2;
  }
  run_clock& clock = shared->clock();

  auto run_worker = [&](unsigned k) {
    idle_worker w(config, shared->progress()[k], clock);
    for (std::uint32_t id = k; id < opt.connections; id += workers)
      w.add_connection(id);
    w.run(shared->report(k));
  };

  std::vector<pid_t> children;
  std::vector<std::thread> threads;
  if (forked) {
    std::fflush(nullptr);
    const pid_t parent = getpid();
    for (unsigned k = 0; k < workers; ++k) {
      const pid_t pid = fork();
      if (pid < 0) {
        std::fprintf(stderr, "swbench: fork: %s\n", std::strerror(errno));
        clock.stop.store(true);
        break;
      }
      if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(3);  // the parent is already gone
        int rc = 0;
        try {
          run_worker(k);
        } catch (const std::exception& e) {
          std::fprintf(stderr, "swbench worker %u: %s\n", k, e.what());
          rc = 3;
        }
        std::fflush(nullptr);
        _exit(rc);
      }
      children.push_back(pid);
    }
  } else {
    try {
      for (unsigned k = 0; k < workers; ++k)
        threads.emplace_back(run_worker, k);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "swbench: %s\n", e.what());
      clock.stop.store(true);
    }
  }

  window_result window = drive(opt, shared->progress(), workers, clock, "conn/s");
  for (std::thread& t : threads)
    t.join();
  bool workers_ok = true;
  for (pid_t pid : children) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) workers_ok = false;
  }

  conn_errors errors;
  std::uint64_t messages = 0;
  for (unsigned k = 0; k < workers; ++k) {
    const worker_report& r = shared->report(k);
    if (!r.written) {
      workers_ok = false;
      continue;
    }
    errors.connect_failed += r.connect_failed;
    errors.handshake_failed += r.handshake_failed;
    errors.protocol_error += r.protocol_error;
    errors.closed += r.closed;
    messages += r.messages;
    if (errors.first.empty() && r.first[0] != '\0') errors.first = r.first;
  }
  if (!workers_ok) errors.note("a worker failed (see above)");

  const std::uint32_t opened = window.open_at_begin;
  const std::uint32_t held = window.open_at_end;
  const double growth = static_cast<double>(window.server_rss) - static_cast<double>(rss_before);
  const double per_conn = held > 0 && window.server_rss > 0 ? growth / held : 0;
  const double connect_rate = window.connect_s > 0 ? opened / window.connect_s : 0;

  std::printf("connections %s  %u idle connections  %u %s%s\n", opt.url.c_str(), opt.connections,
              workers, forked ? "processes" : "thread", !forked && workers != 1 ? "s" : "");
  if (!window.started) {
    std::printf("  no connection opened: %s\n", errors.first.c_str());
  } else {
    std::printf("  opened        %u of %u in %.2f s (%.0f per s)\n", opened, opt.connections,
                window.connect_s, connect_rate);
    std::printf("  held          %.1f s after %.1f s to settle; %u still open at the end\n",
                window.seconds, opt.warmup_s, held);
    if (opt.server_pid != 0) {
      std::printf(
          "  server RSS    before %.1f MiB, when the hold began %.1f MiB, at its end %.1f MiB "
          "(peak %.1f MiB)\n",
          mib(rss_before), mib(window.server_rss_begin), mib(window.server_rss),
          mib(window.server_peak_rss));
      std::printf("  per conn      %.0f bytes of server RSS\n", per_conn);
      std::printf("  server CPU    %.3f cores during the hold\n", window.util(window.server_cpu_s));
    }
    if (messages != 0) {
      std::printf("  note          the server sent %llu data messages on idle connections\n",
                  static_cast<unsigned long long>(messages));
    }
  }
  std::printf("  errors        %llu", static_cast<unsigned long long>(errors.total()));
  if (errors.total() != 0 || !workers_ok) {
    std::printf(" (%s)\n  first error   %s", errors.breakdown().c_str(), errors.first.c_str());
  }
  std::printf("\n");
  std::fflush(stdout);

  if (!opt.json_path.empty()) {
    json_object j;
    j.add("mode", "connections")
        .add("url", opt.url)
        .add("connections", std::uint64_t{opt.connections})
        .add("processes", std::uint64_t{forked ? processes : 1u})
        .add("threads", std::uint64_t{forked ? 1u : workers})
        .add("connections_open", std::uint64_t{opened})
        .add("connections_open_at_end", std::uint64_t{held})
        .add("connects_per_s", connect_rate)
        .add("warmup_s", opt.warmup_s)
        .add("window_s", window.seconds)
        .add("server_rss_before_bytes", rss_before)
        .add("bytes_per_connection", per_conn)
        .add("messages_received", messages)
        .add("errors", errors.total())
        .add("errors_connect", errors.connect_failed)
        .add("errors_handshake", errors.handshake_failed)
        .add("errors_protocol", errors.protocol_error)
        .add("errors_closed", errors.closed)
        .add("first_error", errors.first);
    add_window_fields(j, window, opt.server_pid, latency_histogram());
    if (!write_report(opt.json_path, j)) return 1;
  }
  return window.started && workers_ok && errors.total() == 0 && opened == opt.connections &&
                 held == opt.connections
             ? 0
             : 1;
}

}  // namespace switchboard::swbench
