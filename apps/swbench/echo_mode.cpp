// echo_mode.cpp: see echo_mode.hpp.
//
// Hot path: echo_worker::on_message() and send_next(), once per round trip each. Per message they
// do a tag check, a histogram increment and one masked copy into the connection's write buffer;
// the loop adds one read() and one send() per readiness event, which carries all the echoes that
// arrived together. Nothing is allocated per message.
#include "apps/swbench/echo_mode.hpp"

#include "apps/swbench/client_loop.hpp"
#include "apps/swbench/driver.hpp"
#include "apps/swbench/errors.hpp"
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

// splitmix64's finalizer: the per-message values of the JSON payload.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15u;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9u;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBu;
  return x ^ (x >> 31);
}

// The messages of a --deflate run: JSON-like text that compresses the way real traffic does
// (a fixed structure, with numbers and names that change in every message), cut to exactly
// --size bytes and still valid JSON:
//
//   {"id":"TAG.....","seq":00001234,"type":"quote","items":[{"sym":"EURUSD","px":1.08423,
//    "qty":250613,"side":"bid"},...],"note":"Quarterly volumes were steady; ..."}
//
// Built once as a template and a list of fields at fixed offsets; each message rewrites the
// fields from its tag (the echo check's connection id and sequence number): the tag itself
// (8 base64 digits), the sequence number, and per item a currency pair out of 8, a 5-digit
// price, a 6-digit quantity and bid or ask. The rest repeats, as field names and boilerplate
// do. Items are added while they fit (8 at 512 bytes, none at 32), then the note fills what
// is left with prose (spaces when fewer than 11 bytes are left). Below 17 bytes there is no
// room for the JSON and the plain payload is used.
class json_payload {
 public:
  explicit json_payload(std::size_t size) {
    if (size < min_size) return;
    auto fits = [&](std::size_t n) { return text_.size() + n + 1 <= size; };  // 1: the '}'
    text_ = "{\"id\":\"";
    add_field(kind::tag, tag_size);
    text_ += "\"";
    if (fits(15)) {
      text_ += ",\"seq\":";
      add_field(kind::seq, 8);
    }
    if (fits(15)) text_ += ",\"type\":\"quote\"";
    constexpr std::size_t item_size =
        55;  // {"sym":"EURUSD","px":1.08423,"qty":250613,"side":"bid"}
    if (fits(10 + item_size + 1)) {
      text_ += ",\"items\":[";
      bool first = true;
      while (fits(item_size + (first ? 0 : 1) + 1)) {
        if (!first) text_ += ",";
        first = false;
        text_ += "{\"sym\":\"";
        add_field(kind::symbol, 6);
        text_ += "\",\"px\":1.";
        add_field(kind::digits, 5);
        text_ += ",\"qty\":";
        add_field(kind::number, 6);
        text_ += ",\"side\":\"";
        add_field(kind::side, 3);
        text_ += "\"}";
      }
      text_ += "]";
    }
    static constexpr char prose[] =
        "Quarterly volumes were steady; spreads widened slightly after the open and liquidity "
        "returned before noon, with most desks quoting both sides through the close. ";
    const std::size_t left = size - 1 - text_.size();
    if (left >= 11) {
      text_ += ",\"note\":\"";
      for (std::size_t i = 0; i < left - 10; ++i)
        text_ += prose[i % (sizeof prose - 1)];
      text_ += "\"";
    } else {
      text_.append(left, ' ');
    }
    text_ += "}";
  }

  bool enabled() const { return !text_.empty(); }
  const std::string& text() const { return text_; }

  // Rewrites the fields of `p` (a copy of text()) for the message with tag `tag`.
  void write(std::uint8_t* p, std::uint64_t tag) const {
    static constexpr char symbols[8][7] = {"EURUSD", "GBPUSD", "USDJPY", "AUDUSD",
                                           "USDCHF", "EURGBP", "NZDUSD", "USDCAD"};
    std::uint64_t h = tag;
    for (const field& f : fields_) {
      std::uint8_t* q = p + f.offset;
      switch (f.what) {
        case kind::tag:
          write_tag(q, tag_size, tag);
          break;
        case kind::seq:  // JSON numbers have no leading zero
          write_digits(q, f.width, tag % 90000000 + 10000000);
          break;
        case kind::digits:
          h = mix(h);
          write_digits(q, f.width, h);
          break;
        case kind::number:  // digits without a leading zero
          h = mix(h);
          write_digits(q, f.width, h);
          q[0] = static_cast<std::uint8_t>('1' + (h >> 40) % 9);
          break;
        case kind::symbol:
          h = mix(h);
          std::memcpy(q, symbols[h & 7], 6);
          break;
        case kind::side:
          std::memcpy(q, (h >> 8) & 1 ? "bid" : "ask", 3);  // the symbol's value, other bits
          break;
      }
    }
  }

 private:
  static constexpr std::size_t min_size = 17;  // {"id":"TAG....."}
  enum class kind : std::uint8_t { tag, seq, digits, number, symbol, side };
  struct field {
    std::uint32_t offset;
    kind what;
    std::uint8_t width;
  };

  void add_field(kind what, std::uint8_t width) {
    fields_.push_back({static_cast<std::uint32_t>(text_.size()), what, width});
    text_.append(width, '0');
  }

  static void write_digits(std::uint8_t* q, std::size_t width, std::uint64_t v) {
    for (std::size_t i = width; i-- > 0; v /= 10)
      q[i] = static_cast<std::uint8_t>('0' + v % 10);
  }

  std::string text_;
  std::vector<field> fields_;
};

struct echo_errors : conn_errors {
  std::uint64_t bad_echo = 0;  // wrong opcode, length or contents

  std::uint64_t total() const { return conn_errors::total() + bad_echo; }
  void merge(const echo_errors& o) {
    conn_errors::merge(o);
    bad_echo += o.bad_echo;
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
        payload_(opt.size),
        json_(opt.deflate ? opt.size : 0),
        full_check_(opt.tls || opt.deflate) {
    for (std::size_t i = 0; i < payload_.size(); ++i) {
      payload_[i] = static_cast<std::uint8_t>('a' + i % 26);
    }
    if (json_.enabled()) std::memcpy(payload_.data(), json_.text().data(), payload_.size());
    expected_ = payload_;
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
  const client_loop& loop() const { return loop_; }

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
    bool ok;
    if (full_check_) {  // --tls, --deflate: the whole echo, byte for byte
      write_message(expected_.data(), make_tag(c.id, seq));
      ok = op == op_ && size == expected_.size() && std::memcmp(data, expected_.data(), size) == 0;
    } else {
      ok = op == op_ && size == payload_.size() && check_tag(data, size, make_tag(c.id, seq)) &&
           (size <= tag_size || data[size - 1] == payload_[size - 1]);
    }
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
    errors_.closed_by(c, cause, detail);
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
    write_message(payload_.data(), make_tag(c.id, e.sent));
    loop.send(c, op_, payload_.data(), payload_.size());
    ++e.sent;
  }

  // Writes the variable part of message `tag` into p (which holds the others' constant part).
  void write_message(std::uint8_t* p, std::uint64_t tag) const {
    if (json_.enabled()) {
      json_.write(p, tag);
    } else {
      write_tag(p, payload_.size(), tag);
    }
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

  void publish() { progress_.set(completed_, errors_.total(), open_, settled_); }

  const options& opt_;
  const ws_opcode op_;
  worker_progress& progress_;
  const run_clock& clock_;
  client_loop loop_;
  std::vector<std::uint8_t> payload_;   // the next message: tag, then filler (or JSON)
  const json_payload json_;             // --deflate: the JSON-like messages
  const bool full_check_;               // compare whole echoes, not only tag and last byte
  std::vector<std::uint8_t> expected_;  // full_check_: the echo expected next
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

}  // namespace

int run_echo(const options& opt) {
  if (!enough_fds(opt.connections)) return 2;

  loop_config config = loop_config_from(opt);
  config.max_payload = std::max<std::size_t>(opt.size, max_control_payload);
  config.wr_reserve = opt.depth * (max_client_frame_header + opt.size) + 256;
  config.rd_reserve = max_client_frame_header + opt.size;

  std::vector<worker_progress> progress(opt.threads);
  run_clock clock;
  std::vector<std::unique_ptr<echo_worker>> workers;
  try {
    for (unsigned t = 0; t < opt.threads; ++t) {
      workers.push_back(std::make_unique<echo_worker>(opt, config, progress[t], clock));
    }
  } catch (const std::exception& e) {  // the TLS context
    std::fprintf(stderr, "swbench: %s\n", e.what());
    return 2;
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
  deflate_counts compression;
  std::string tls_description, deflate_description;
  for (const auto& w : workers) {
    measured += w->measured();
    latency.merge(w->latency());
    errors.merge(w->errors());
    const client_loop& loop = w->loop();
    compression.sent_raw += loop.compression().sent_raw;
    compression.sent_wire += loop.compression().sent_wire;
    compression.received_raw += loop.compression().received_raw;
    compression.received_wire += loop.compression().received_wire;
    compression.received_plain += loop.compression().received_plain;
    if (tls_description.empty()) tls_description = loop.tls_description();
    if (deflate_description.empty()) deflate_description = loop.deflate_description();
  }
  // Compressed bytes per uncompressed byte, each way (whole run, warmup included).
  const double sent_ratio =
      compression.sent_raw ? static_cast<double>(compression.sent_wire) / compression.sent_raw : 0;
  const double received_ratio =
      compression.received_raw
          ? static_cast<double>(compression.received_wire) / compression.received_raw
          : 0;

  const double rate = window.seconds > 0 ? static_cast<double>(measured) / window.seconds : 0;
  const double per_server_cpu =
      window.server_measured && window.server_cpu_s > 0 ? measured / window.server_cpu_s : 0;
  const double client_util = window.util(window.client_cpu_s);
  const double server_util = window.util(window.server_cpu_s);
  const double other_util = window.util(window.other_cpu_s());

  std::printf("echo %s  connections %u (%u open)  %u B %s  depth %u  threads %u%s%s\n",
              opt.url.c_str(), opt.connections, window.open_at_begin, opt.size,
              opt.binary ? "binary" : "text", opt.depth, opt.threads, opt.tls ? "  tls" : "",
              opt.deflate ? "  permessage-deflate" : "");
  if (opt.tls) {
    std::printf("  tls           %s (server certificate not verified)\n",
                tls_description.empty() ? "no session established" : tls_description.c_str());
  }
  if (opt.deflate) {
    std::printf("  deflate       %s\n",
                deflate_description.empty() ? "not negotiated" : deflate_description.c_str());
    std::printf(
        "  compressed    sent %.3f of the payload bytes (%s payload), received %.3f; %llu "
        "messages arrived uncompressed\n",
        sent_ratio, opt.size >= 17 ? "JSON-like" : "plain", received_ratio,
        static_cast<unsigned long long>(compression.received_plain));
  }
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
                to_us(latency.percentile(50)), to_us(latency.percentile(99)),
                to_us(latency.percentile(99.9)), to_us(latency.max()), latency.mean() / 1000.0);
  }
  std::printf("  errors        %llu", static_cast<unsigned long long>(errors.total()));
  if (errors.total() != 0) {
    std::printf(" (bad echo %llu, %s)\n  first error   %s",
                static_cast<unsigned long long>(errors.bad_echo), errors.breakdown().c_str(),
                errors.first.c_str());
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
        .add("msgs_per_server_cpu_s", per_server_cpu)
        .add("errors", errors.total())
        .add("errors_bad_echo", errors.bad_echo)
        .add("errors_connect", errors.connect_failed)
        .add("errors_handshake", errors.handshake_failed)
        .add("errors_protocol", errors.protocol_error)
        .add("errors_closed", errors.closed)
        .add("first_error", errors.first);
    if (opt.tls) j.add("tls", true).add("tls_session", tls_description);
    if (opt.deflate) {
      j.add("deflate", true)
          .add("deflate_params", deflate_description)
          .add("deflate_sent_ratio", sent_ratio)
          .add("deflate_received_ratio", received_ratio)
          .add("deflate_received_uncompressed", compression.received_plain);
    }
    add_window_fields(j, window, opt.server_pid, latency);
    if (!write_report(opt.json_path, j)) return 1;
  }
  return window.started && errors.total() == 0 && window.open_at_begin == opt.connections ? 0 : 1;
}

}  // namespace switchboard::swbench
