// fanout_mode.cpp: see fanout_mode.hpp.
//
// Threads: --threads subscriber loops (client_loop each) and one publisher loop with the single
// publisher connection, on its own thread so its pacing does not depend on how busy the
// subscribers are. The publisher paces itself inside on_tick(): it sends what is due, then
// sleeps in ppoll() on its socket until the next message is due; when the socket becomes
// readable (or writable while the kernel refused bytes) it returns, the loop handles the event
// and calls on_tick() again at once.
//
// Hot path: subscriber_worker::on_message(), once per delivery: a memmem for the payload marker,
// two hex decodes, a histogram increment. Nothing is allocated per message.
#include "apps/swbench/fanout_mode.hpp"

#include "apps/swbench/client_loop.hpp"
#include "apps/swbench/driver.hpp"
#include "apps/swbench/errors.hpp"
#include "apps/swbench/net.hpp"
#include "apps/swbench/stats.hpp"

#include <poll.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace switchboard::swbench {

namespace {

enum class dialect_kind : std::uint8_t { sgc, raw, socketio };

constexpr std::uint64_t ms = 1000000u;
constexpr std::size_t min_payload = 38;  // "swb:" 16 ":" 16 ":"
constexpr std::size_t seq_at = 4;
constexpr std::size_t time_at = 21;
constexpr std::uint64_t drain_ns = 2000 * ms;         // after the window, for late deliveries
constexpr std::uint64_t confirm_wait_ns = 5000 * ms;  // longest wait for every subscriber
constexpr std::size_t max_pending_write = 1u << 20;   // publisher: stop queueing past this

void write_hex16(std::uint8_t* p, std::uint64_t v) {
  static constexpr char digits[] = "0123456789abcdef";
  for (int i = 15; i >= 0; --i, v >>= 4)
    p[i] = static_cast<std::uint8_t>(digits[v & 15]);
}

bool read_hex16(const std::uint8_t* p, std::uint64_t& v) {
  v = 0;
  for (int i = 0; i < 16; ++i) {
    const std::uint8_t ch = p[i];
    std::uint64_t d;
    if (ch >= '0' && ch <= '9') {
      d = ch - '0';
    } else if (ch >= 'a' && ch <= 'f') {
      d = ch - 'a' + 10;
    } else {
      return false;
    }
    v = (v << 4) | d;
  }
  return true;
}

// Finds the payload in a received message and reads its sequence and send time.
bool parse_payload(const std::uint8_t* data, std::size_t size, std::uint64_t& seq,
                   std::uint64_t& sent_at) {
  const void* at = memmem(data, size, "swb:", 4);
  if (at == nullptr) return false;
  const auto* p = static_cast<const std::uint8_t*>(at);
  if (static_cast<std::size_t>(data + size - p) < min_payload) return false;
  return p[time_at - 1] == ':' && p[min_payload - 1] == ':' && read_hex16(p + seq_at, seq) &&
         read_hex16(p + time_at, sent_at);
}

bool starts_with(const std::uint8_t* data, std::size_t size, std::string_view prefix) {
  return size >= prefix.size() && std::memcmp(data, prefix.data(), prefix.size()) == 0;
}

bool contains(const std::uint8_t* data, std::size_t size, std::string_view what) {
  return memmem(data, size, what.data(), what.size()) != nullptr;
}

void send_text(client_loop& loop, connection& c, std::string_view text) {
  loop.send(c, ws_opcode::text, reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
}

// The publisher's message: the dialect's envelope around a --size payload, built once; each
// message rewrites the sequence and the send time in place.
std::vector<std::uint8_t> make_message(dialect_kind d, std::size_t size, std::size_t& payload_at) {
  std::string payload = "swb:0000000000000000:0000000000000000:";
  while (payload.size() < size)
    payload += static_cast<char>('a' + payload.size() % 26);
  std::string head, tail;
  switch (d) {
    case dialect_kind::sgc:
      head = R"({"jsonrpc":"2.0","method":"sgc@publish","params":{"channel":"bench","message":")";
      tail = R"("}})";
      break;
    case dialect_kind::raw:
      break;
    case dialect_kind::socketio:
      head = R"(42["pub",")";
      tail = R"("])";
      break;
  }
  payload_at = head.size();
  const std::string text = head + payload + tail;
  return {text.begin(), text.end()};
}

// Per connection: where it is in the dialect's opening exchange.
enum class phase : std::uint8_t {
  opening,      // socketio: waiting for the engine.io open packet "0{...}"
  connecting,   // socketio: "40" sent, waiting for the namespace's "40{...}"
  subscribing,  // subscribe (sgc) or join (socketio) sent, waiting for its confirmation
  ready,        // subscribed (subscriber) or allowed to publish (publisher)
};

struct fanout_errors : conn_errors {
  std::uint64_t bad_delivery = 0;  // a publish whose payload could not be read
  std::uint64_t out_of_order = 0;  // a sequence not above the previous one on that subscriber

  std::uint64_t total() const { return conn_errors::total() + bad_delivery + out_of_order; }
  void merge(const fanout_errors& o) {
    conn_errors::merge(o);
    bad_delivery += o.bad_delivery;
    out_of_order += o.out_of_order;
  }
};

// Shared by all threads.
struct fanout_shared {
  std::atomic<std::uint32_t> confirmed{0};  // subscribers confirmed and still open
  std::atomic<bool> stop{false};            // leave the loops (after the drain)
};

// Published by a subscriber worker, read by the publisher (in flight, --rate 0) and main (drain).
struct alignas(64) subscriber_counts {
  std::atomic<std::uint64_t> delivered{0};  // all deliveries, all phases
  std::atomic<std::uint64_t> measured{0};   // deliveries of messages published in the window
};

// A socket.io (engine.io) control packet, handled alike by both roles. Returns true when the
// message was one; `on_connected` runs when the namespace connection is confirmed.
template <class F>
bool socketio_control(client_loop& loop, connection& c, phase& ph, const std::uint8_t* data,
                      std::size_t size, fanout_errors& errors, F on_connected) {
  if (size == 1 && data[0] == '2') {  // engine.io ping
    send_text(loop, c, "3");
    return true;
  }
  if (ph == phase::opening && size >= 1 && data[0] == '0') {
    send_text(loop, c, "40");
    ph = phase::connecting;
    return true;
  }
  if (ph == phase::connecting && starts_with(data, size, "40")) {
    on_connected();
    return true;
  }
  if (starts_with(data, size, "44")) {  // connect_error
    ++errors.server_error;
    errors.note("connection " + std::to_string(c.id) + ": socket.io error " + quote(data, size));
    return true;
  }
  return false;
}

class subscriber_worker final : public session_handler {
 public:
  subscriber_worker(dialect_kind dialect, const loop_config& config, worker_progress& progress,
                    subscriber_counts& counts, fanout_shared& shared, const run_clock& clock)
      : dialect_(dialect),
        progress_(progress),
        counts_(counts),
        shared_(shared),
        clock_(clock),
        loop_(config, *this) {}

  void add_connection(std::uint32_t id) {
    loop_.add_connection(id);
    conns_.emplace_back();
  }

  void run() {
    loop_.run(shared_.stop);
    loop_.close_all(1000);
    publish();
  }

  std::uint64_t in_window() const { return in_window_; }
  const latency_histogram& latency() const { return latency_; }
  const fanout_errors& errors() const { return errors_; }
  std::uint64_t other() const { return other_; }

  void on_open(client_loop& loop, connection& c, std::uint64_t) override {
    ++open_;
    ++settled_;
    sub& s = conns_[c.slot];
    s.opened = true;
    switch (dialect_) {
      case dialect_kind::sgc:
        send_text(loop, c,
                  R"({"jsonrpc":"2.0","method":"sgc@subscribe","params":{"channel":"bench"}})");
        s.ph = phase::subscribing;
        break;
      case dialect_kind::raw:
        confirm(s);
        break;
      case dialect_kind::socketio:
        s.ph = phase::opening;
        break;
    }
  }

  void on_message(client_loop& loop, connection& c, ws_opcode, const std::uint8_t* data,
                  std::size_t size, std::uint64_t now) override {
    sub& s = conns_[c.slot];
    switch (dialect_) {
      case dialect_kind::sgc:
        if (contains(data, size, "\"sgc@event\"")) break;
        if (s.ph == phase::subscribing && contains(data, size, "\"sgc@subscribe\"")) {
          confirm(s);
        } else if (contains(data, size, "\"error\"")) {
          ++errors_.server_error;
          errors_.note("connection " + std::to_string(c.id) + ": " + quote(data, size));
        } else {
          ++other_;
        }
        return;
      case dialect_kind::raw:
        break;
      case dialect_kind::socketio:
        if (starts_with(data, size, R"(42["msg",)")) break;
        if (socketio_control(loop, c, s.ph, data, size, errors_, [&] {
              send_text(loop, c, R"(42["join","bench"])");
              s.ph = phase::subscribing;
            })) {
          return;
        }
        if (s.ph == phase::subscribing && starts_with(data, size, R"(42["joined")")) {
          confirm(s);
        } else {
          ++other_;
        }
        return;
    }
    std::uint64_t seq, sent_at;
    if (!parse_payload(data, size, seq, sent_at)) {
      ++errors_.bad_delivery;
      errors_.note("connection " + std::to_string(c.id) + ": no payload in " + quote(data, size));
      return;
    }
    ++delivered_;
    if (s.received_any && seq <= s.last_seq) {
      ++errors_.out_of_order;
      errors_.note("connection " + std::to_string(c.id) + ": message " + std::to_string(seq) +
                   " after " + std::to_string(s.last_seq));
    }
    s.received_any = true;
    s.last_seq = seq;
    const std::uint64_t begin = clock_.window_begin.load(std::memory_order_relaxed);
    const std::uint64_t end = clock_.window_end.load(std::memory_order_relaxed);
    if (now >= begin && now < end) ++in_window_;
    if (sent_at >= begin && sent_at < end) {
      ++measured_;
      latency_.record(now > sent_at ? now - sent_at : 0);
    }
  }

  void on_close(connection& c, close_cause cause, ws_errc detail) override {
    sub& s = conns_[c.slot];
    if (s.opened) {
      --open_;
    } else {
      ++settled_;
    }
    if (s.ph == phase::ready) shared_.confirmed.fetch_sub(1, std::memory_order_relaxed);
    s.ph = phase::opening;
    errors_.closed_by(c, cause, detail);
  }

  void on_tick(client_loop&, std::uint64_t) override { publish(); }

 private:
  struct sub {
    phase ph = phase::opening;
    bool opened = false;
    bool received_any = false;
    std::uint64_t last_seq = 0;
  };

  void confirm(sub& s) {
    s.ph = phase::ready;
    shared_.confirmed.fetch_add(1, std::memory_order_relaxed);
  }

  void publish() {
    progress_.set(delivered_, errors_.total(), open_, settled_);
    counts_.delivered.store(delivered_, std::memory_order_relaxed);
    counts_.measured.store(measured_, std::memory_order_relaxed);
  }

  const dialect_kind dialect_;
  worker_progress& progress_;
  subscriber_counts& counts_;
  fanout_shared& shared_;
  const run_clock& clock_;
  client_loop loop_;
  std::vector<sub> conns_;  // by slot
  std::uint64_t delivered_ = 0;
  std::uint64_t measured_ = 0;
  std::uint64_t in_window_ = 0;
  std::uint64_t other_ = 0;  // messages that were neither a delivery nor expected control
  std::uint32_t open_ = 0;
  std::uint32_t settled_ = 0;
  latency_histogram latency_;
  fanout_errors errors_;
};

class publisher_worker final : public session_handler {
 public:
  publisher_worker(const options& opt, dialect_kind dialect, const loop_config& config,
                   worker_progress& progress, const std::vector<subscriber_counts>& counts,
                   fanout_shared& shared, const run_clock& clock)
      : opt_(opt),
        dialect_(dialect),
        progress_(progress),
        counts_(counts),
        shared_(shared),
        clock_(clock),
        loop_(config, *this),
        message_(make_message(dialect, opt.size, payload_at_)) {
    loop_.add_connection(0);
  }

  void run() {
    loop_.run(shared_.stop);
    loop_.close_all(1000);
    publish();
  }

  // Read by main after the window (and after join for the rest).
  std::atomic<std::uint64_t> measured{0};      // messages published in the window
  std::atomic<std::uint32_t> confirmed_at{0};  // subscribers confirmed when the window began
  std::atomic<bool> window_seen{false};        // a message was published in the window
  std::uint64_t sent() const { return sent_; }
  const fanout_errors& errors() const { return errors_; }

  void on_open(client_loop&, connection& c, std::uint64_t) override {
    opened_ = true;
    ++open_;
    ++settled_;
    ph_ = dialect_ == dialect_kind::socketio ? phase::opening : phase::ready;
    (void)c;
  }

  void on_message(client_loop& loop, connection& c, ws_opcode, const std::uint8_t* data,
                  std::size_t size, std::uint64_t) override {
    if (dialect_ == dialect_kind::socketio &&
        socketio_control(loop, c, ph_, data, size, errors_, [&] { ph_ = phase::ready; })) {
      return;
    }
    if (dialect_ == dialect_kind::sgc && contains(data, size, "\"error\"")) {
      ++errors_.server_error;
      errors_.note("publisher: " + quote(data, size));
    }
    // Anything else (a broadcast of our own message, an acknowledgment) is ignored.
  }

  void on_close(connection& c, close_cause cause, ws_errc detail) override {
    if (opened_) {
      --open_;
    } else {
      ++settled_;
    }
    errors_.closed_by(c, cause, detail);
  }

  void on_tick(client_loop& loop, std::uint64_t now) override {
    publish();
    if (done_ || ph_ != phase::ready) return;
    connection& c = loop.at(0);
    if (c.state != conn_state::open) return;
    if (!started_) {
      if (!clock_.go.load(std::memory_order_relaxed)) return;
      if (go_at_ == 0) go_at_ = now;
      if (shared_.confirmed.load(std::memory_order_relaxed) < opt_.connections &&
          now - go_at_ < confirm_wait_ns) {
        return;
      }
      started_ = true;
      started_at_ = now;
    }
    publish_until_event(loop, c);
  }

 private:
  // Publishes what is due and sleeps until the next is; returns when the socket needs the loop
  // (readable, or writable while EPOLLOUT is armed), or at most every 10 ms.
  void publish_until_event(client_loop& loop, connection& c) {
    const std::uint64_t tick_end = now_ns() + 10 * ms;
    for (;;) {
      std::uint64_t now = now_ns();
      const std::uint64_t end = clock_.window_end.load(std::memory_order_relaxed);
      if (now >= end || clock_.stop.load(std::memory_order_relaxed) ||
          c.state != conn_state::open) {
        done_ = true;
        return;
      }
      std::uint64_t allowed = 0;
      if (opt_.rate > 0) {
        const auto due =
            static_cast<std::uint64_t>(static_cast<double>(now - started_at_) * opt_.rate / 1e9) +
            1;
        allowed = due > sent_ ? std::min<std::uint64_t>(due - sent_, 1024) : 0;
      } else {
        std::uint64_t delivered = 0;
        for (const subscriber_counts& s : counts_)
          delivered += s.delivered.load(std::memory_order_relaxed);
        const std::uint64_t subs =
            std::max<std::uint32_t>(1, shared_.confirmed.load(std::memory_order_relaxed));
        const std::uint64_t in_flight = sent_ - std::min(sent_, delivered / subs);
        allowed = in_flight < opt_.depth ? opt_.depth - in_flight : 0;
      }
      if (c.wr_armed || c.wr_buf.size() - c.wr_offset > max_pending_write) allowed = 0;
      for (std::uint64_t i = 0; i < allowed; ++i)
        send_one(loop, c, now_ns());
      if (allowed != 0) loop.flush(c);
      if (c.state != conn_state::open) continue;

      now = now_ns();
      if (now >= tick_end) return;
      std::uint64_t wait = tick_end - now;
      if (opt_.rate > 0) {
        const auto next =
            started_at_ + static_cast<std::uint64_t>(static_cast<double>(sent_) * 1e9 / opt_.rate);
        wait = next > now ? std::min(wait, next - now) : 0;
      } else {
        wait = std::min<std::uint64_t>(wait, 50000);  // 50 µs: let the subscribers catch up
      }
      if (wait == 0) continue;
      pollfd p{c.fd, static_cast<short>(POLLIN | (c.wr_armed ? POLLOUT : 0)), 0};
      timespec ts{static_cast<time_t>(wait / 1000000000u), static_cast<long>(wait % 1000000000u)};
      if (ppoll(&p, 1, &ts, nullptr) != 0) return;  // the loop's turn (or an error)
    }
  }

  void send_one(client_loop& loop, connection& c, std::uint64_t now) {
    write_hex16(message_.data() + payload_at_ + seq_at, sent_);
    write_hex16(message_.data() + payload_at_ + time_at, now);
    loop.send(c, ws_opcode::text, message_.data(), message_.size());
    ++sent_;
    const std::uint64_t begin = clock_.window_begin.load(std::memory_order_relaxed);
    const std::uint64_t end = clock_.window_end.load(std::memory_order_relaxed);
    if (now >= begin && now < end) {
      if (!window_seen.load(std::memory_order_relaxed)) {
        confirmed_at.store(shared_.confirmed.load(std::memory_order_relaxed),
                           std::memory_order_relaxed);
        window_seen.store(true, std::memory_order_release);
      }
      measured.store(measured.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }
  }

  void publish() {
    progress_.errors.store(errors_.total(), std::memory_order_relaxed);
    progress_.open.store(open_, std::memory_order_relaxed);
    progress_.settled.store(settled_, std::memory_order_relaxed);
  }

  const options& opt_;
  const dialect_kind dialect_;
  worker_progress& progress_;
  const std::vector<subscriber_counts>& counts_;
  fanout_shared& shared_;
  const run_clock& clock_;
  client_loop loop_;
  std::size_t payload_at_ = 0;
  std::vector<std::uint8_t> message_;  // envelope and payload; sequence and time rewritten
  phase ph_ = phase::opening;
  bool opened_ = false;
  bool started_ = false;  // publishing (go seen and subscribers confirmed, or waited enough)
  bool done_ = false;     // the window ended: publish nothing more
  std::uint64_t go_at_ = 0;
  std::uint64_t started_at_ = 0;
  std::uint64_t sent_ = 0;
  std::uint32_t open_ = 0;
  std::uint32_t settled_ = 0;
  fanout_errors errors_;
};

const char* dialect_name(dialect_kind d) {
  switch (d) {
    case dialect_kind::sgc:
      return "sgc";
    case dialect_kind::raw:
      return "raw";
    case dialect_kind::socketio:
      return "socketio";
  }
  return "?";
}

}  // namespace

int run_fanout(const options& opt) {
  dialect_kind dialect;
  if (opt.dialect == "sgc") {
    dialect = dialect_kind::sgc;
  } else if (opt.dialect == "raw") {
    dialect = dialect_kind::raw;
  } else if (opt.dialect == "socketio") {
    dialect = dialect_kind::socketio;
  } else {
    std::fprintf(stderr, "swbench: --dialect wants sgc, raw or socketio, got '%s'\n",
                 opt.dialect.c_str());
    return 2;
  }
  if (opt.size < min_payload) {
    std::fprintf(stderr,
                 "swbench: fanout payloads carry a sequence and a send time: --size must be at "
                 "least %zu\n",
                 min_payload);
    return 2;
  }
  if (!enough_fds(opt.connections + 1)) return 2;

  loop_config config = loop_config_from(opt);
  config.max_payload = std::max<std::size_t>(opt.size + 4096, 64 * 1024);
  config.wr_reserve = 512;
  config.rd_reserve = max_client_frame_header + opt.size + 512;
  loop_config publisher_config = config;
  publisher_config.wr_reserve = 64 * 1024;
  if (!opt.publish_url.empty()) publisher_config.target = opt.publish_target;

  // The driver counts the publisher's connection too.
  options driver_opt = opt;
  driver_opt.connections = opt.connections + 1;
  const unsigned threads = std::min<unsigned>(opt.threads, opt.connections);

  std::vector<worker_progress> progress(threads + 1);  // the publisher's last
  std::vector<subscriber_counts> counts(threads);
  fanout_shared shared;
  run_clock clock;
  std::vector<std::unique_ptr<subscriber_worker>> subscribers;
  std::unique_ptr<publisher_worker> publisher;
  try {
    for (unsigned t = 0; t < threads; ++t) {
      loop_config subscriber_config = config;
      if (!opt.subscribe_targets.empty())
        subscriber_config.target = opt.subscribe_targets[t % opt.subscribe_targets.size()];
      subscribers.push_back(std::make_unique<subscriber_worker>(
          dialect, subscriber_config, progress[t], counts[t], shared, clock));
    }
    publisher = std::make_unique<publisher_worker>(opt, dialect, publisher_config,
                                                   progress[threads], counts, shared, clock);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "swbench: %s\n", e.what());
    return 2;
  }
  for (std::uint32_t id = 1; id <= opt.connections; ++id) {
    subscribers[id % threads]->add_connection(id);
  }
  std::vector<std::thread> pool;
  for (auto& w : subscribers)
    pool.emplace_back([&w] { w->run(); });
  pool.emplace_back([&publisher] { publisher->run(); });

  window_result window = drive(driver_opt, progress, clock, "deliveries/s");

  // The drain: deliveries of the window's messages still on their way.
  const std::uint64_t published = publisher->measured.load(std::memory_order_relaxed);
  const std::uint32_t confirmed_at = publisher->window_seen.load(std::memory_order_acquire)
                                         ? publisher->confirmed_at.load(std::memory_order_relaxed)
                                         : 0;
  const std::uint64_t expected = published * confirmed_at;
  const std::uint64_t drain_deadline = now_ns() + drain_ns;
  for (;;) {
    std::uint64_t received = 0;
    for (const subscriber_counts& s : counts)
      received += s.measured.load(std::memory_order_relaxed);
    if (received >= expected || now_ns() >= drain_deadline) break;
    sleep_until_ns(now_ns() + 10 * ms);
  }
  shared.stop.store(true);
  for (std::thread& t : pool)
    t.join();

  std::uint64_t received = 0, in_window = 0, other = 0;
  latency_histogram latency;
  fanout_errors errors;
  for (std::size_t t = 0; t < subscribers.size(); ++t) {
    received += counts[t].measured.load(std::memory_order_relaxed);
    in_window += subscribers[t]->in_window();
    other += subscribers[t]->other();
    latency.merge(subscribers[t]->latency());
    errors.merge(subscribers[t]->errors());
  }
  errors.merge(publisher->errors());
  const std::uint64_t losses = expected > received ? expected - received : 0;
  const std::uint32_t confirmed_end = shared.confirmed.load();

  const double secs = window.seconds;
  const double pub_rate = secs > 0 ? static_cast<double>(published) / secs : 0;
  const double del_rate = secs > 0 ? static_cast<double>(in_window) / secs : 0;
  const double per_server_cpu =
      window.server_measured && window.server_cpu_s > 0 ? in_window / window.server_cpu_s : 0;
  const double client_util = window.util(window.client_cpu_s);
  const double server_util = window.util(window.server_cpu_s);
  const double other_util = window.util(window.other_cpu_s());
  char rate_text[64];
  if (opt.rate > 0) {
    std::snprintf(rate_text, sizeof rate_text, "rate %.0f/s", opt.rate);
  } else {
    std::snprintf(rate_text, sizeof rate_text, "max rate, %u in flight", opt.depth);
  }

  std::printf(
      "fanout %s  dialect %s  1 publisher -> %u subscribers (%u confirmed)  %u B  %s  "
      "threads %u+1\n",
      opt.url.c_str(), dialect_name(dialect), opt.connections, confirmed_at, opt.size, rate_text,
      threads);
  if (!window.started) {
    std::printf("  no connection open when the window was to start: %s\n", errors.first.c_str());
  } else {
    std::printf("  window        %.2f s after %.1f s warmup\n", secs, opt.warmup_s);
    std::printf("  publishes     %llu  (%.0f msg/s)\n", static_cast<unsigned long long>(published),
                pub_rate);
    std::printf("  deliveries    %llu in the window  (%.0f msg/s)\n",
                static_cast<unsigned long long>(in_window), del_rate);
    std::printf("  losses        %llu of %llu expected (%.4f%%) after a drain of up to %.0f s\n",
                static_cast<unsigned long long>(losses), static_cast<unsigned long long>(expected),
                expected ? 100.0 * static_cast<double>(losses) / static_cast<double>(expected) : 0,
                static_cast<double>(drain_ns) / 1e9);
    if (window.server_measured) {
      std::printf(
          "  server        %.2f CPU-s (%.0f%% of a core)  %.0f deliveries per server-CPU-s  RSS "
          "%.1f MiB (peak %.1f MiB)\n",
          window.server_cpu_s, server_util * 100, per_server_cpu, window.server_rss / 1048576.0,
          window.server_peak_rss / 1048576.0);
    }
    std::printf("  swbench       %.2f CPU-s (%.0f%% of a core, %u+1 threads)\n",
                window.client_cpu_s, client_util * 100, threads);
    std::printf("  other load    %.2f cores busy outside server and swbench (steal %.2f)\n",
                other_util, secs > 0 ? window.machine_steal_s / secs : 0);
    std::printf("  latency (us)  p50 %.1f  p99 %.1f  p99.9 %.1f  max %.1f  mean %.1f\n",
                to_us(latency.percentile(50)), to_us(latency.percentile(99)),
                to_us(latency.percentile(99.9)), to_us(latency.max()), latency.mean() / 1000.0);
  }
  std::printf("  errors        %llu", static_cast<unsigned long long>(errors.total()));
  if (errors.total() != 0) {
    std::printf(" (%s, bad delivery %llu, out of order %llu)\n  first error   %s",
                errors.breakdown().c_str(), static_cast<unsigned long long>(errors.bad_delivery),
                static_cast<unsigned long long>(errors.out_of_order), errors.first.c_str());
  }
  std::printf("\n");
  if (confirmed_at < opt.connections) {
    std::printf("  warning: only %u of %u subscribers were confirmed when the window began\n",
                confirmed_at, opt.connections);
  }
  if (client_util > 0.9) {
    std::printf(
        "  warning: swbench used %.0f%% of a core: deliveries/s may understate the server\n",
        client_util * 100);
  }
  std::fflush(stdout);

  if (!opt.json_path.empty()) {
    json_object j;
    j.add("mode", "fanout")
        .add("dialect", dialect_name(dialect))
        .add("url", opt.url)
        .add("subscribers", std::uint64_t{opt.connections})
        .add("subscribers_confirmed", std::uint64_t{confirmed_at})
        .add("subscribers_confirmed_at_end", std::uint64_t{confirmed_end})
        .add("size", std::uint64_t{opt.size})
        .add("rate_target", opt.rate)
        .add("depth", std::uint64_t{opt.depth})
        .add("threads", std::uint64_t{threads})
        .add("warmup_s", opt.warmup_s)
        .add("window_s", secs)
        .add("publishes", published)
        .add("publishes_per_s", pub_rate)
        .add("deliveries", in_window)
        .add("deliveries_per_s", del_rate)
        .add("deliveries_expected", expected)
        .add("deliveries_received", received)
        .add("losses", losses)
        .add("other_messages", other)
        .add("deliveries_per_server_cpu_s", per_server_cpu)
        .add("errors", errors.total())
        .add("first_error", errors.first);
    add_window_fields(j, window, opt.server_pid, latency);
    if (!write_report(opt.json_path, j)) return 1;
  }
  return window.started && errors.total() == 0 && losses == 0 && confirmed_at == opt.connections &&
                 window.open_at_begin == opt.connections + 1
             ? 0
             : 1;
}

}  // namespace switchboard::swbench
