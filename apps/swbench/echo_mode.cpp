// echo_mode.cpp: see echo_mode.hpp.
//
// Hot path: echo_worker::on_message() and send_next(), once per round trip each. Per message they
// do a tag check, a histogram increment and one masked copy into the connection's write buffer;
// the loop adds one read() and one send() per readiness event, which carries all the echoes that
// arrived together. Nothing is allocated per message.
#include "apps/swbench/echo_mode.hpp"

#include "apps/swbench/client_loop.hpp"
#include "apps/swbench/driver.hpp"
#include "apps/swbench/net.hpp"
#include "apps/swbench/stats.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace switchboard::swbench {

namespace {

constexpr std::size_t tag_size = 8;
constexpr char tag_digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// 48 bits: the connection id in the high half, the sequence number below (they may overlap for
// huge runs; the check only needs consecutive messages of one connection to differ).
std::uint64_t make_tag(std::uint32_t id, std::uint64_t seq) {
  return (static_cast<std::uint64_t>(id) << 24) ^ seq;
}

// Writes the first min(size, 8) base64 digits of `tag`, lowest first.
void write_tag(std::uint8_t* p, std::size_t size, std::uint64_t tag) {
  const std::size_t n = std::min(size, tag_size);
  for (std::size_t i = 0; i < n; ++i)
    p[i] = static_cast<std::uint8_t>(tag_digits[(tag >> (6 * i)) & 63]);
}

bool check_tag(const std::uint8_t* p, std::size_t size, std::uint64_t tag) {
  const std::size_t n = std::min(size, tag_size);
  for (std::size_t i = 0; i < n; ++i) {
    if (p[i] != static_cast<std::uint8_t>(tag_digits[(tag >> (6 * i)) & 63])) return false;
  }
  return true;
}

struct echo_errors {
  std::uint64_t bad_echo = 0;  // wrong opcode, length or contents
  std::uint64_t connect_failed = 0;
  std::uint64_t handshake_failed = 0;
  std::uint64_t protocol_error = 0;
  std::uint64_t closed = 0;  // closed or reset by the server mid-run
  std::string first;         // the first error, described

  std::uint64_t total() const {
    return bad_echo + connect_failed + handshake_failed + protocol_error + closed;
  }
  void merge(const echo_errors& o) {
    bad_echo += o.bad_echo;
    connect_failed += o.connect_failed;
    handshake_failed += o.handshake_failed;
    protocol_error += o.protocol_error;
    closed += o.closed;
    if (first.empty()) first = o.first;
  }
};

// One thread: a client_loop and the echo state of its connections.
class echo_worker final : public session_handler {
 public:
  echo_worker(const options& opt, const loop_config& config, worker_progress& progress,
              const run_clock& clock)
      : opt_(opt),
        op_(opt.binary ? ws_opcode::binary : ws_opcode::text),
        progress_(progress),
        clock_(clock),
        loop_(config, *this),
        payload_(opt.size) {
    for (std::size_t i = 0; i < payload_.size(); ++i) {
      payload_[i] = static_cast<std::uint8_t>('a' + i % 26);
    }
  }

  void add_connection(std::uint32_t id) {
    loop_.add_connection(id);
    conns_.emplace_back();
  }

  void run() {
    sent_at_.assign(conns_.size() * opt_.depth, 0);
    loop_.run(clock_.stop);
    loop_.close_all(1000);
    publish();
  }

  std::uint64_t measured() const { return measured_; }
  const latency_histogram& latency() const { return latency_; }
  const echo_errors& errors() const { return errors_; }

  void on_open(client_loop& loop, connection& c, std::uint64_t now) override {
    ++open_;
    ++settled_;
    conns_[c.slot].opened = true;
    if (started_) start(loop, c, now);  // else on_tick() starts it with the others
  }

  void on_message(client_loop& loop, connection& c, ws_opcode op, const std::uint8_t* data,
                  std::size_t size, std::uint64_t now) override {
    conn_echo& e = conns_[c.slot];
    const std::uint64_t seq = e.received++;
    const std::uint64_t sent_at = sent_at_[std::size_t{c.slot} * opt_.depth + seq % opt_.depth];
    const bool ok = op == op_ && size == payload_.size() &&
                    check_tag(data, size, make_tag(c.id, seq)) &&
                    (size <= tag_size || data[size - 1] == payload_[size - 1]);
    if (!ok) bad_echo(c, op, size, seq);
    ++completed_;
    if (now >= window_begin_ && now < window_end_) {
      ++measured_;
      latency_.record(now - sent_at);
    }
    send_next(loop, c, now);
  }

  void on_close(connection& c, close_cause cause, ws_errc detail) override {
    if (conns_[c.slot].opened) {
      --open_;
    } else {
      ++settled_;
    }
    switch (cause) {
      case close_cause::connect_failed:
        ++errors_.connect_failed;
        break;
      case close_cause::handshake_failed:
        ++errors_.handshake_failed;
        break;
      case close_cause::protocol_error:
        ++errors_.protocol_error;
        break;
      case close_cause::peer_closed:
      case close_cause::reset:
        ++errors_.closed;
        break;
      case close_cause::local:
        return;
    }
    if (errors_.first.empty()) {
      errors_.first = "connection " + std::to_string(c.id) + ": " + to_string(cause);
      if (detail != ws_errc::ok) errors_.first += std::string(" (") + to_string(detail) + ")";
      if (c.sys_error != 0) errors_.first += std::string(" (") + std::strerror(c.sys_error) + ")";
      if (c.peer_close_code != 0) {
        errors_.first += " (close " + std::to_string(c.peer_close_code) + ")";
      }
    }
  }

  void on_tick(client_loop& loop, std::uint64_t now) override {
    if (!started_ && clock_.go.load(std::memory_order_relaxed)) {
      started_ = true;
      for (std::size_t slot = 0; slot < loop.size(); ++slot) {
        connection& c = loop.at(slot);
        if (c.state == conn_state::open) {
          start(loop, c, now);
          loop.flush(c);
        }
      }
    }
    window_begin_ = clock_.window_begin.load(std::memory_order_relaxed);
    window_end_ = clock_.window_end.load(std::memory_order_relaxed);
    publish();
  }

 private:
  struct conn_echo {
    std::uint64_t sent = 0;      // messages sent
    std::uint64_t received = 0;  // echoes received
    bool opened = false;         // the handshake completed
  };

  // Puts the connection's first `depth` messages in flight.
  void start(client_loop& loop, connection& c, std::uint64_t now) {
    for (std::uint32_t i = 0; i < opt_.depth; ++i)
      send_next(loop, c, now);
  }

  void send_next(client_loop& loop, connection& c, std::uint64_t now) {
    conn_echo& e = conns_[c.slot];
    sent_at_[std::size_t{c.slot} * opt_.depth + e.sent % opt_.depth] = now;
    write_tag(payload_.data(), payload_.size(), make_tag(c.id, e.sent));
    loop.send(c, op_, payload_.data(), payload_.size());
    ++e.sent;
  }

  void bad_echo(const connection& c, ws_opcode op, std::size_t size, std::uint64_t seq) {
    ++errors_.bad_echo;
    if (errors_.first.empty()) {
      char text[160];
      std::snprintf(text, sizeof text,
                    "connection %u: bad echo of message %llu (opcode %u, %zu bytes; sent opcode "
                    "%u, %zu bytes)",
                    c.id, static_cast<unsigned long long>(seq), static_cast<unsigned>(op), size,
                    static_cast<unsigned>(op_), payload_.size());
      errors_.first = text;
    }
  }

  void publish() {
    progress_.completed.store(completed_, std::memory_order_relaxed);
    progress_.errors.store(errors_.total(), std::memory_order_relaxed);
    progress_.open.store(open_, std::memory_order_relaxed);
    progress_.settled.store(settled_, std::memory_order_relaxed);
  }

  const options& opt_;
  const ws_opcode op_;
  worker_progress& progress_;
  const run_clock& clock_;
  client_loop loop_;
  std::vector<std::uint8_t> payload_;   // the next message: tag, then filler
  std::vector<conn_echo> conns_;        // by slot
  std::vector<std::uint64_t> sent_at_;  // by slot * depth + seq % depth: send times in flight
  std::uint64_t window_begin_ = ~std::uint64_t{0};
  std::uint64_t window_end_ = ~std::uint64_t{0};
  std::uint64_t completed_ = 0;  // round trips, all phases
  std::uint64_t measured_ = 0;   // round trips completed inside the window
  bool started_ = false;         // run_clock::go seen: load is on
  std::uint32_t open_ = 0;
  std::uint32_t settled_ = 0;
  latency_histogram latency_;
  echo_errors errors_;
};

double us(std::uint64_t ns) {
  return static_cast<double>(ns) / 1000.0;
}

}  // namespace

int run_echo(const options& opt) {
  const std::uint64_t fds_wanted = static_cast<std::uint64_t>(opt.connections) + 64;
  const std::uint64_t fds = raise_fd_limit(fds_wanted);
  if (fds < fds_wanted) {
    std::fprintf(stderr,
                 "swbench: %u connections need %llu descriptors; the limit is %llu (raising the "
                 "hard limit needs CAP_SYS_RESOURCE): run several swbench processes\n",
                 opt.connections, static_cast<unsigned long long>(fds_wanted),
                 static_cast<unsigned long long>(fds));
    return 2;
  }

  loop_config config;
  config.target = opt.target;
  config.source_ips = opt.source_ips;
  config.max_connecting = opt.max_connecting;
  config.max_payload = std::max<std::size_t>(opt.size, max_control_payload);
  config.wr_reserve = opt.depth * (max_client_frame_header + opt.size) + 256;
  config.rd_reserve = max_client_frame_header + opt.size;

  std::vector<worker_progress> progress(opt.threads);
  run_clock clock;
  std::vector<std::unique_ptr<echo_worker>> workers;
  for (unsigned t = 0; t < opt.threads; ++t) {
    workers.push_back(std::make_unique<echo_worker>(opt, config, progress[t], clock));
  }
  for (std::uint32_t id = 0; id < opt.connections; ++id) {
    workers[id % opt.threads]->add_connection(id);
  }
  std::vector<std::thread> threads;
  for (auto& w : workers)
    threads.emplace_back([&w] { w->run(); });

  window_result window = drive(opt, progress, clock, "msg/s");
  for (std::thread& t : threads)
    t.join();

  std::uint64_t measured = 0;
  latency_histogram latency;
  echo_errors errors;
  for (const auto& w : workers) {
    measured += w->measured();
    latency.merge(w->latency());
    errors.merge(w->errors());
  }

  const double rate = window.seconds > 0 ? static_cast<double>(measured) / window.seconds : 0;
  const double per_server_cpu =
      window.server_measured && window.server_cpu_s > 0 ? measured / window.server_cpu_s : 0;
  const double client_util = window.seconds > 0 ? window.client_cpu_s / window.seconds : 0;
  const double server_util = window.seconds > 0 ? window.server_cpu_s / window.seconds : 0;
  // Busy CPU time spent neither by the server nor by swbench: other processes skewing the run.
  const double other_cpu_s =
      std::max(0.0, window.machine_busy_s - window.client_cpu_s -
                        (window.server_measured ? window.server_cpu_s : 0.0));
  const double other_util = window.seconds > 0 ? other_cpu_s / window.seconds : 0;

  std::printf("echo %s  connections %u (%u open)  %u B %s  depth %u  threads %u\n", opt.url.c_str(),
              opt.connections, window.open_at_begin, opt.size, opt.binary ? "binary" : "text",
              opt.depth, opt.threads);
  if (!window.started) {
    std::printf("  no connection open when the window was to start: %s\n", errors.first.c_str());
  } else {
    std::printf("  window        %.2f s after %.1f s warmup\n", window.seconds, opt.warmup_s);
    std::printf("  round trips   %llu  (%.0f msg/s)\n", static_cast<unsigned long long>(measured),
                rate);
    if (window.server_measured) {
      std::printf(
          "  server        %.2f CPU-s (%.0f%% of a core)  %.0f msgs per server-CPU-s  RSS %.1f "
          "MiB (peak %.1f MiB)\n",
          window.server_cpu_s, server_util * 100, per_server_cpu, window.server_rss / 1048576.0,
          window.server_peak_rss / 1048576.0);
    }
    std::printf("  swbench       %.2f CPU-s (%.0f%% of a core, %u thread%s)\n", window.client_cpu_s,
                client_util * 100, opt.threads, opt.threads == 1 ? "" : "s");
    std::printf("  other load    %.2f cores busy outside server and swbench (steal %.2f)\n",
                other_util, window.seconds > 0 ? window.machine_steal_s / window.seconds : 0);
    std::printf("  latency (us)  p50 %.1f  p99 %.1f  p99.9 %.1f  max %.1f  mean %.1f\n",
                us(latency.percentile(50)), us(latency.percentile(99)),
                us(latency.percentile(99.9)), us(latency.max()), latency.mean() / 1000.0);
  }
  std::printf("  errors        %llu", static_cast<unsigned long long>(errors.total()));
  if (errors.total() != 0) {
    std::printf(
        " (bad echo %llu, connect %llu, handshake %llu, protocol %llu, closed %llu)\n"
        "  first error   %s",
        static_cast<unsigned long long>(errors.bad_echo),
        static_cast<unsigned long long>(errors.connect_failed),
        static_cast<unsigned long long>(errors.handshake_failed),
        static_cast<unsigned long long>(errors.protocol_error),
        static_cast<unsigned long long>(errors.closed), errors.first.c_str());
  }
  std::printf("\n");
  if (client_util > 0.9 * opt.threads) {
    std::printf(
        "  warning: swbench was CPU-bound (%.0f%% of %u core%s): msgs/s may understate the "
        "server (more --threads help only with idle CPUs to run them)\n",
        client_util * 100, opt.threads, opt.threads == 1 ? "" : "s");
  }
  std::fflush(stdout);

  if (!opt.json_path.empty()) {
    json_object j;
    j.add("mode", "echo")
        .add("url", opt.url)
        .add("connections", std::uint64_t{opt.connections})
        .add("connections_open", std::uint64_t{window.open_at_begin})
        .add("size", std::uint64_t{opt.size})
        .add("depth", std::uint64_t{opt.depth})
        .add("binary", opt.binary)
        .add("threads", std::uint64_t{opt.threads})
        .add("warmup_s", opt.warmup_s)
        .add("window_s", window.seconds)
        .add("messages", measured)
        .add("msgs_per_s", rate)
        .add("server_pid", static_cast<std::uint64_t>(opt.server_pid))
        .add("server_measured", window.server_measured)
        .add("server_cpu_s", window.server_cpu_s)
        .add("server_cpu_util", server_util)
        .add("msgs_per_server_cpu_s", per_server_cpu)
        .add("server_rss_bytes", window.server_rss)
        .add("server_peak_rss_bytes", window.server_peak_rss)
        .add("client_cpu_s", window.client_cpu_s)
        .add("client_cpu_util", client_util)
        .add("other_cpu_s", other_cpu_s)
        .add("other_cpu_util", other_util)
        .add("steal_cpu_s", window.machine_steal_s)
        .add("latency_p50_us", us(latency.percentile(50)))
        .add("latency_p99_us", us(latency.percentile(99)))
        .add("latency_p999_us", us(latency.percentile(99.9)))
        .add("latency_max_us", us(latency.max()))
        .add("latency_mean_us", latency.mean() / 1000.0)
        .add("errors", errors.total())
        .add("errors_bad_echo", errors.bad_echo)
        .add("errors_connect", errors.connect_failed)
        .add("errors_handshake", errors.handshake_failed)
        .add("errors_protocol", errors.protocol_error)
        .add("errors_closed", errors.closed)
        .add("first_error", errors.first);
    if (!write_file(opt.json_path, j.str())) {
      std::fprintf(stderr, "swbench: cannot write %s\n", opt.json_path.c_str());
      return 1;
    }
  }
  return window.started && errors.total() == 0 && window.open_at_begin == opt.connections ? 0 : 1;
}

}  // namespace switchboard::swbench
