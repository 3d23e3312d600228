// churn_mode.cpp: see churn_mode.hpp.
//
// Hot path: member_worker::on_message(), once per event: a scan for the method name and, for
// presence, for the member id, and a lookup of that id among the churners. Nothing is allocated
// per event.
#include "apps/swbench/churn_mode.hpp"

#include "apps/swbench/client_loop.hpp"
#include "apps/swbench/driver.hpp"
#include "apps/swbench/errors.hpp"
#include "apps/swbench/net.hpp"
#include "apps/swbench/stats.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <vector>

namespace switchboard::swbench {

namespace {

enum class dialect_kind : std::uint8_t { sgc, presence };

constexpr std::uint64_t ms = 1000000u;
constexpr std::uint64_t drain_ns = 10000 * ms;

constexpr std::string_view sgc_join =
    R"({"jsonrpc":"2.0","method":"sgc@subscribe","params":{"channel":"bench"}})";
constexpr std::string_view sgc_leave =
    R"({"jsonrpc":"2.0","method":"sgc@unsubscribe","params":{"channel":"bench"}})";

// The string value of `key` (a quoted name) found at or after `from` in `text`, or an empty view.
// Enough JSON for the flat shapes of both protocols: no escapes inside ids and method names.
std::string_view string_field(std::string_view text, std::string_view key, std::size_t from = 0) {
  std::size_t at = text.find(key, from);
  if (at == std::string_view::npos) return {};
  at += key.size();
  while (at < text.size() && (text[at] == ' ' || text[at] == ':' || text[at] == '\t'))
    ++at;
  if (at >= text.size() || text[at] != '"') return {};
  const std::size_t end = text.find('"', at + 1);
  if (end == std::string_view::npos) return {};
  return text.substr(at + 1, end - at - 1);
}

// The member id in a presence message: "member":{"id":"..."}.
std::string_view member_id(std::string_view text) {
  const std::size_t at = text.find("\"member\"");
  if (at == std::string_view::npos) return {};
  return string_field(text, "\"id\"", at);
}

void send_text(client_loop& loop, connection& c, std::string_view text) {
  loop.send(c, ws_opcode::text, reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
}

struct churn_errors : conn_errors {
  std::uint64_t missed = 0;      // events a stable member should have had and did not (or extra)
  std::uint64_t unexpected = 0;  // a confirmation or event out of turn

  std::uint64_t total() const { return conn_errors::total() + missed + unexpected; }
  void merge(const churn_errors& o) {
    conn_errors::merge(o);
    missed += o.missed;
    unexpected += o.unexpected;
  }
};

// Shared by all workers.
struct churn_shared {
  std::uint64_t limit = 0;                // --count: cycles in all (0: no limit)
  std::atomic<std::uint64_t> started{0};  // cycles started in all
  std::atomic<bool> stop{false};          // leave the loops (after the drain)
  // presence: the churners' member ids, written during the setup, read after go.
  std::mutex ids_mutex;
  std::vector<std::string> churner_ids;

  bool take() { return started.fetch_add(1, std::memory_order_relaxed) < limit || limit == 0; }
};

// Published by a worker, read by the drain.
struct alignas(64) churn_counts {
  std::atomic<std::uint32_t> in_flight{0};    // cycles started and not confirmed
  std::atomic<std::uint64_t> cycles{0};       // cycles completed since go
  std::atomic<std::uint64_t> events{0};       // join/leave messages received since go
  std::atomic<std::uint64_t> stable_seen{0};  // presence: events about churners, stable members
};

class member_worker final : public session_handler {
 public:
  member_worker(const options& opt, dialect_kind dialect, const loop_config& config,
                worker_progress& progress, churn_counts& counts, churn_shared& shared,
                const run_clock& clock)
      : opt_(opt),
        dialect_(dialect),
        progress_(progress),
        counts_(counts),
        shared_(shared),
        clock_(clock),
        loop_(config, *this) {}

  void add_connection(std::uint32_t id) {
    loop_.add_connection(id);
    member& m = members_.emplace_back();
    m.churner = id < opt_.churners;
    if (!m.churner) ++stable_;
  }

  void run() {
    loop_.run(shared_.stop);
    publish();
    loop_.close_all(2000);
  }

  std::uint64_t measured_cycles() const { return measured_cycles_; }
  std::uint64_t measured_events() const { return measured_events_; }
  std::uint64_t setup_events() const { return setup_events_; }
  std::uint32_t joined() const { return joined_; }
  std::uint32_t stable() const { return stable_; }
  const latency_histogram& latency() const { return latency_; }
  const churn_errors& errors() const { return errors_; }

  // After the drain: each stable member's count against the expectation (presence), or that
  // they heard nothing (sgc).
  void check(std::uint64_t cycles) {
    for (std::size_t slot = 0; slot < members_.size(); ++slot) {
      const member& m = members_[slot];
      if (m.churner || !m.joined_once) continue;
      const std::uint64_t expected = dialect_ == dialect_kind::presence ? 2 * cycles : 0;
      if (m.seen != expected) {
        errors_.missed += m.seen > expected ? m.seen - expected : expected - m.seen;
        errors_.note("member " + std::to_string(loop_.at(slot).id) + " received " +
                     std::to_string(m.seen) + " events about churners, expected " +
                     std::to_string(expected));
      }
    }
  }

  void on_open(client_loop& loop, connection& c, std::uint64_t) override {
    member& m = members_[c.slot];
    m.opened = true;
    ++open_;
    if (dialect_ == dialect_kind::sgc) {
      send_text(loop, c, sgc_join);
      m.st = state::joining;
    } else {
      m.st = state::session;  // the server speaks first
    }
  }

  void on_message(client_loop& loop, connection& c, ws_opcode, const std::uint8_t* data,
                  std::size_t size, std::uint64_t now) override {
    // Another loop's churners may start before this loop's next tick: their events count.
    if (!started_ && clock_.go.load(std::memory_order_relaxed)) begin_churn(loop, now);
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    member& m = members_[c.slot];
    if (dialect_ == dialect_kind::sgc) {
      on_sgc(loop, c, m, text, now);
    } else {
      on_presence(loop, c, m, text, now);
    }
  }

  void on_close(connection& c, close_cause cause, ws_errc detail) override {
    member& m = members_[c.slot];
    if (m.opened) --open_;
    if (!m.joined_once) ++settled_;  // it never became a member
    if (m.st == state::cycling) --in_flight_;
    m.st = state::gone;
    errors_.closed_by(c, cause, detail);
  }

  void on_tick(client_loop& loop, std::uint64_t now) override {
    if (!started_ && clock_.go.load(std::memory_order_relaxed)) begin_churn(loop, now);
    window_begin_ = clock_.window_begin.load(std::memory_order_relaxed);
    window_end_ = clock_.window_end.load(std::memory_order_relaxed);
    publish();
  }

 private:
  enum class state : std::uint8_t {
    connecting,  // before the handshake
    session,     // presence: waiting for sgc@presence@session
    announcing,  // presence: member@new sent, waiting for it to come back
    joining,     // the first join sent, waiting for its confirmation
    joined,      // a member of the channel, idle
    cycling,     // a churner's leave and join sent, waiting for the join's confirmation
    gone,        // the connection ended
  };

  struct member {
    state st = state::connecting;
    bool churner = false;
    bool opened = false;
    bool joined_once = false;       // the setup's join was confirmed
    std::uint64_t cycle_start = 0;  // now_ns() when the cycle in flight was sent
    std::uint64_t seen = 0;         // stable member: events about churners since go
    std::string id;                 // presence: the member id (the server's session id)
  };

  void on_sgc(client_loop& loop, connection& c, member& m, std::string_view text,
              std::uint64_t now) {
    const bool join = text.find("\"sgc@subscribe\"") != std::string_view::npos;
    const bool leave = !join && text.find("\"sgc@unsubscribe\"") != std::string_view::npos;
    if (!join && !leave) {
      if (text.find("\"error\"") != std::string_view::npos) {
        ++errors_.server_error;
        errors_.note("connection " + std::to_string(c.id) + ": " +
                     quote(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
      }
      return;  // sgc@session and the like
    }
    if (started_) {
      count_event(now);
      if (!m.churner) {
        ++m.seen;  // a stable member's own confirmations never come after go
        return;
      }
    }
    if (leave) {
      if (m.st != state::cycling) unexpected(c, text);
      return;
    }
    joined(loop, c, m, now, text);
  }

  void on_presence(client_loop& loop, connection& c, member& m, std::string_view text,
                   std::uint64_t now) {
    const std::string_view method = string_field(text, "\"method\"");
    if (method == "sgc@presence@channel@member@new" ||
        method == "sgc@presence@channel@member@remove") {
      const std::string_view who = member_id(text);
      const bool own = !m.id.empty() && who == m.id;
      if (!started_) {
        if (!own) ++setup_events_;
      } else {
        count_event(now);
        if (!m.churner && !own && churner_ids_.count(who) != 0) ++m.seen;
      }
      if (own && method == "sgc@presence@channel@member@new") joined(loop, c, m, now, text);
      return;
    }
    if (method == "sgc@presence@member@new") {
      if (!m.id.empty() && member_id(text) == m.id) {
        if (m.st != state::announcing) return unexpected(c, text);
        send_join(loop, c, m);
        m.st = state::joining;
      } else {
        ++setup_events_;
      }
      return;
    }
    if (method == "sgc@presence@session") {
      if (m.st != state::session) return unexpected(c, text);
      const std::size_t at = text.find("\"message\"");
      const std::string_view id =
          at == std::string_view::npos ? std::string_view{} : string_field(text, "\"text\"", at);
      if (id.empty()) return unexpected(c, text);
      m.id.assign(id);
      if (m.churner) {
        std::lock_guard<std::mutex> lock(shared_.ids_mutex);
        shared_.churner_ids.push_back(m.id);
      }
      std::string announce =
          R"({"jsonrpc":"2.0","method":"sgc@presence@member@new","member":{"id":")";
      announce += m.id;
      announce += R"(","name":"m)" + std::to_string(c.id) + R"(","info":""}})";
      send_text(loop, c, announce);
      m.st = state::announcing;
      return;
    }
    if (method.find("error") != std::string_view::npos) {
      ++errors_.server_error;
      errors_.note("connection " + std::to_string(c.id) + ": " +
                   quote(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
      return;
    }
    // Anything else (member@remove of members that left at the end, acknowledgments) is not
    // part of the measurement.
  }

  // go: the setup is over (every member joined); churners start their cycles.
  void begin_churn(client_loop& loop, std::uint64_t now) {
    started_ = true;
    window_begin_ = clock_.window_begin.load(std::memory_order_relaxed);
    window_end_ = clock_.window_end.load(std::memory_order_relaxed);
    if (dialect_ == dialect_kind::presence) {
      std::lock_guard<std::mutex> lock(shared_.ids_mutex);  // the setup's writes are visible
      for (const std::string& id : shared_.churner_ids)
        churner_ids_.insert(id);
    }
    for (std::size_t slot = 0; slot < loop.size(); ++slot) {
      if (members_[slot].churner) start_cycle(loop, loop.at(slot), now);
    }
  }

  // The member's own join was confirmed.
  void joined(client_loop& loop, connection& c, member& m, std::uint64_t now,
              std::string_view text) {
    if (m.st == state::joining) {
      m.st = state::joined;
      m.joined_once = true;
      ++joined_;
      ++settled_;
      if (started_ && m.churner) start_cycle(loop, c, now);
      return;
    }
    if (m.st != state::cycling) return unexpected(c, text);
    m.st = state::joined;
    --in_flight_;
    ++cycles_;
    if (now >= window_begin_ && now < window_end_) {
      ++measured_cycles_;
      latency_.record(now - m.cycle_start);
    }
    start_cycle(loop, c, now);
  }

  void start_cycle(client_loop& loop, connection& c, std::uint64_t now) {
    member& m = members_[c.slot];
    if (m.st != state::joined || c.state != conn_state::open) return;
    if (clock_.stop.load(std::memory_order_relaxed) || now >= window_end_) return;
    if (!shared_.take()) return;
    if (dialect_ == dialect_kind::sgc) {
      send_text(loop, c, sgc_leave);
      send_text(loop, c, sgc_join);
    } else {
      std::string leave =
          R"({"jsonrpc":"2.0","method":"sgc@presence@channel@member@remove","member":{"id":")";
      leave += m.id;
      leave += R"("},"channel":{"name":"bench"}})";
      send_text(loop, c, leave);
      send_join(loop, c, m);
    }
    m.st = state::cycling;
    m.cycle_start = now;
    ++in_flight_;
    loop.flush(c);
  }

  void send_join(client_loop& loop, connection& c, const member& m) {
    std::string join =
        R"({"jsonrpc":"2.0","method":"sgc@presence@channel@member@new","member":{"id":")";
    join += m.id;
    join += R"("},"channel":{"name":"bench"}})";
    send_text(loop, c, join);
  }

  void count_event(std::uint64_t now) {
    ++events_;
    if (now >= window_begin_ && now < window_end_) ++measured_events_;
  }

  void unexpected(const connection& c, std::string_view text) {
    ++errors_.unexpected;
    errors_.note("connection " + std::to_string(c.id) + ": unexpected " +
                 quote(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
  }

  void publish() {
    progress_.set(cycles_, errors_.total(), open_, settled_);
    counts_.in_flight.store(in_flight_, std::memory_order_relaxed);
    counts_.cycles.store(cycles_, std::memory_order_relaxed);
    counts_.events.store(events_, std::memory_order_relaxed);
    std::uint64_t seen = 0;
    if (started_) {
      for (const member& m : members_)
        seen += m.churner ? 0 : m.seen;
    }
    counts_.stable_seen.store(seen, std::memory_order_relaxed);
  }

  const options& opt_;
  const dialect_kind dialect_;
  worker_progress& progress_;
  churn_counts& counts_;
  churn_shared& shared_;
  const run_clock& clock_;
  client_loop loop_;
  std::vector<member> members_;                       // by slot
  std::unordered_set<std::string_view> churner_ids_;  // presence: into shared_.churner_ids
  bool started_ = false;                              // go seen: churning
  std::uint64_t window_begin_ = ~std::uint64_t{0};
  std::uint64_t window_end_ = ~std::uint64_t{0};
  std::uint32_t open_ = 0;
  std::uint32_t settled_ = 0;
  std::uint32_t joined_ = 0;  // members whose setup join was confirmed
  std::uint32_t stable_ = 0;  // stable members on this loop
  std::uint32_t in_flight_ = 0;
  std::uint64_t cycles_ = 0;  // completed since go
  std::uint64_t events_ = 0;  // join/leave messages received since go
  std::uint64_t measured_cycles_ = 0;
  std::uint64_t measured_events_ = 0;
  std::uint64_t setup_events_ = 0;  // presence: announcements and joins heard before go
  latency_histogram latency_;
  churn_errors errors_;
};

}  // namespace

int run_churn(const options& opt) {
  dialect_kind dialect;
  if (opt.dialect == "sgc") {
    dialect = dialect_kind::sgc;
  } else if (opt.dialect == "presence") {
    dialect = dialect_kind::presence;
  } else {
    std::fprintf(stderr, "swbench: churn wants --dialect sgc or presence, got '%s'\n",
                 opt.dialect.c_str());
    return 2;
  }
  if (opt.churners == 0 || opt.churners >= opt.connections) {
    std::fprintf(stderr, "swbench: --churners must be at least 1 and below --connections\n");
    return 2;
  }
  if (!enough_fds(opt.connections)) return 2;

  loop_config config = loop_config_from(opt);
  config.max_payload = 1u << 20;
  config.wr_reserve = 512;

  const std::uint64_t rss_before = server_rss_now(opt.server_pid);
  std::vector<worker_progress> progress(opt.threads);
  std::vector<churn_counts> counts(opt.threads);
  churn_shared shared;
  shared.limit = opt.count;
  run_clock clock;
  std::vector<std::unique_ptr<member_worker>> workers;
  try {
    for (unsigned t = 0; t < opt.threads; ++t) {
      workers.push_back(std::make_unique<member_worker>(opt, dialect, config, progress[t],
                                                        counts[t], shared, clock));
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

  window_result window = drive(opt, progress, clock, "cycles/s", opt.count);

  // The drain: cycles in flight complete, and every stable member hears of every cycle.
  std::uint32_t stable = 0;
  for (const auto& w : workers)
    stable += w->stable();
  const std::uint64_t drain_deadline = now_ns() + drain_ns;
  for (;;) {
    std::uint64_t in_flight = 0, cycles = 0, seen = 0;
    for (const churn_counts& c : counts) {
      in_flight += c.in_flight.load(std::memory_order_relaxed);
      cycles += c.cycles.load(std::memory_order_relaxed);
      seen += c.stable_seen.load(std::memory_order_relaxed);
    }
    const std::uint64_t expected = dialect == dialect_kind::presence ? 2 * cycles * stable : 0;
    if ((in_flight == 0 && seen >= expected) || now_ns() >= drain_deadline) break;
    sleep_until_ns(now_ns() + 10 * ms);
  }
  sleep_until_ns(now_ns() + 100 * ms);  // anything extra still arriving shows as an error
  shared.stop.store(true);
  for (std::thread& t : threads)
    t.join();

  std::uint64_t cycles = 0, events = 0, measured_cycles = 0, measured_events = 0, setup_events = 0;
  std::uint32_t joined = 0;
  for (std::size_t t = 0; t < workers.size(); ++t) {
    cycles += counts[t].cycles.load();
    events += counts[t].events.load();
  }
  latency_histogram latency;
  churn_errors errors;
  for (auto& w : workers) {
    w->check(cycles);
    measured_cycles += w->measured_cycles();
    measured_events += w->measured_events();
    setup_events += w->setup_events();
    joined += w->joined();
    latency.merge(w->latency());
    errors.merge(w->errors());
  }
  if (dialect == dialect_kind::sgc && events != 2 * cycles) {
    // Stable members' extra events are already in `missed`; this is the churners' side.
    errors.note("sgc: " + std::to_string(events) + " confirmations for " + std::to_string(cycles) +
                " cycles");
    ++errors.missed;
  }
  const std::uint64_t started = shared.started.load();  // take() calls, granted or not
  const std::uint64_t granted = opt.count != 0 ? std::min(started, opt.count) : started;
  const std::uint64_t unfinished = granted > cycles ? granted - cycles : 0;

  const double secs = window.seconds;
  const double ops_rate = secs > 0 ? 2.0 * static_cast<double>(measured_cycles) / secs : 0;
  const double event_rate = secs > 0 ? static_cast<double>(measured_events) / secs : 0;
  const double ops_per_cpu = window.server_measured && window.server_cpu_s > 0
                                 ? 2.0 * static_cast<double>(measured_cycles) / window.server_cpu_s
                                 : 0;
  const double events_per_cpu = window.server_measured && window.server_cpu_s > 0
                                    ? static_cast<double>(measured_events) / window.server_cpu_s
                                    : 0;
  const double per_member =
      joined > 0 && window.server_rss_begin > 0
          ? (static_cast<double>(window.server_rss_begin) - static_cast<double>(rss_before)) /
                joined
          : 0;
  const char* dialect_name = dialect == dialect_kind::sgc ? "sgc" : "presence";

  std::printf("churn %s  dialect %s  %u members on one channel, %u churning  threads %u\n",
              opt.url.c_str(), dialect_name, opt.connections, opt.churners, opt.threads);
  if (!window.started) {
    std::printf("  no connection opened: %s\n", errors.first.c_str());
  } else {
    std::printf("  setup         %u of %u joined in %.2f s; %llu events during it\n", joined,
                opt.connections, window.connect_s, static_cast<unsigned long long>(setup_events));
    std::printf("  window        %.2f s after %.1f s warmup\n", secs, opt.warmup_s);
    std::printf(
        "  operations    %llu joins + leaves in the window (%.0f per s); %llu cycles in "
        "all, %llu unfinished\n",
        static_cast<unsigned long long>(2 * measured_cycles), ops_rate,
        static_cast<unsigned long long>(cycles), static_cast<unsigned long long>(unfinished));
    std::printf("  events        %llu received in the window (%.0f per s)\n",
                static_cast<unsigned long long>(measured_events), event_rate);
    if (window.server_measured) {
      std::printf(
          "  server        %.2f CPU-s (%.0f%% of a core)  %.0f ops and %.0f events per "
          "server-CPU-s\n",
          window.server_cpu_s, window.util(window.server_cpu_s) * 100, ops_per_cpu, events_per_cpu);
      std::printf(
          "  memory        %.0f bytes of server RSS per member (RSS %.1f MiB before, "
          "%.1f MiB with the members)\n",
          per_member, rss_before / 1048576.0, window.server_rss_begin / 1048576.0);
    }
    std::printf("  swbench       %.2f CPU-s (%.0f%% of a core)\n", window.client_cpu_s,
                window.util(window.client_cpu_s) * 100);
    std::printf("  cycle (us)    p50 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n",
                to_us(latency.percentile(50)), to_us(latency.percentile(99)),
                to_us(latency.percentile(99.9)), to_us(latency.max()));
  }
  std::printf("  errors        %llu", static_cast<unsigned long long>(errors.total()));
  if (errors.total() != 0) {
    std::printf(" (missed %llu, unexpected %llu, %s)\n  first error   %s",
                static_cast<unsigned long long>(errors.missed),
                static_cast<unsigned long long>(errors.unexpected), errors.breakdown().c_str(),
                errors.first.c_str());
  }
  std::printf("\n");
  std::fflush(stdout);

  if (!opt.json_path.empty()) {
    json_object j;
    j.add("mode", "churn")
        .add("dialect", dialect_name)
        .add("url", opt.url)
        .add("members", std::uint64_t{opt.connections})
        .add("members_joined", std::uint64_t{joined})
        .add("churners", std::uint64_t{opt.churners})
        .add("threads", std::uint64_t{opt.threads})
        .add("count", opt.count)
        .add("warmup_s", opt.warmup_s)
        .add("window_s", secs)
        .add("setup_events", setup_events)
        .add("cycles", cycles)
        .add("cycles_unfinished", unfinished)
        .add("events_total", events)
        .add("ops", 2 * measured_cycles)
        .add("ops_per_s", ops_rate)
        .add("ops_per_server_cpu_s", ops_per_cpu)
        .add("events", measured_events)
        .add("events_per_s", event_rate)
        .add("events_per_server_cpu_s", events_per_cpu)
        .add("server_rss_before_bytes", rss_before)
        .add("bytes_per_member", per_member)
        .add("errors", errors.total())
        .add("errors_missed", errors.missed)
        .add("errors_unexpected", errors.unexpected)
        .add("errors_server", errors.server_error)
        .add("first_error", errors.first);
    add_window_fields(j, window, opt.server_pid, latency);
    if (!write_report(opt.json_path, j)) return 1;
  }
  const bool all_counted = opt.count == 0 || cycles == opt.count;
  return window.started && errors.total() == 0 && joined == opt.connections && unfinished == 0 &&
                 all_counted
             ? 0
             : 1;
}

}  // namespace switchboard::swbench
