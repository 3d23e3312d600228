// redis_broker.cpp: the broker on Redis 7 (redis_broker.hpp has the design). This file owns
// the hiredis glue (hiredis's async contexts driven by Asio readiness on one io thread of our
// own), the link state machine (connect, init, up, lost, backoff), the two Lua scripts of the
// logged publish and the log read. What goes over a topic channel is framed as
// topic_frame.hpp says (every PUBLISH we make carries one, so anything else is dropped and
// counted, never handed up); the Lua script writes the logged frame in the same shape.
//
// hiredis 0.14 facts this file leans on (async.c at v0.14.1):
//   - every command callback is called exactly once: with the reply, or with NULL when the
//     context is freed first (that is how requests in flight fail with `unavailable`);
//   - ev.cleanup is called once per context, from its free, before the fd is closed: that is
//     where we release the descriptor from Asio and learn that a connection is gone;
//   - in subscribe mode a reply is matched to a callback by channel name, and a reply with no
//     match reuses the previous callback: so the subscriber callback accepts any shape, and we
//     never send PING on the subscriber connection.
#include "cluster/redis_broker.hpp"

#include "cluster/topic_frame.hpp"

#include "runtime/config.hpp"
#include "runtime/log.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <hiredis/sds.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <climits>
#include <limits>
#include <mutex>
#include <optional>
#include <random>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace switchboard::cluster {

namespace asio = boost::asio;
using steady = std::chrono::steady_clock;

namespace {

// stop() waits this long for queued commands to be written and answered.
constexpr std::chrono::milliseconds stop_budget{1500};
// The command connection is pinged this often while up; no answer within ping_timeout means
// Redis hangs (stopped, swapped out): the link is dropped like a closed one.
constexpr std::chrono::milliseconds ping_every{1000};
constexpr std::chrono::milliseconds ping_timeout{5000};

// KEYS: seq, log, epoch. ARGV: channel, payload, max_count, max_age_ms, epoch if new.
// A missing epoch or sequence means the log is gone or inconsistent (a restart without
// persistence loses all three): start a new epoch and drop what is left. Entry ids are
// "<seq>-0", so XRANGE by sequence is direct; the time field serves the age trim.
constexpr const char* publish_script = R"lua(
local epoch = redis.call('GET', KEYS[3])
if not epoch or redis.call('EXISTS', KEYS[1]) == 0 then
  epoch = ARGV[5]
  redis.call('SET', KEYS[3], epoch)
  redis.call('DEL', KEYS[1], KEYS[2])
end
local seq = redis.call('INCR', KEYS[1])
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[3], seq .. '-0', 'p', ARGV[2], 't', ms)
local age = tonumber(ARGV[4])
if age > 0 then
  local cutoff = ms - age
  local head = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 100)
  local keep = nil
  for _, e in ipairs(head) do
    local f = e[2]
    local t = 0
    for i = 1, #f, 2 do
      if f[i] == 't' then t = tonumber(f[i + 1]) end
    end
    if t >= cutoff then
      keep = e[1]
      break
    end
  end
  if not keep and #head > 0 then
    keep = (tonumber(string.match(head[#head][1], '^%d+')) + 1) .. '-0'
  end
  if keep then redis.call('XTRIM', KEYS[2], 'MINID', keep) end
end
redis.call('PUBLISH', ARGV[1], '\30l' .. seq .. ':' .. epoch .. ':' .. ARGV[2])
return {seq, epoch}
)lua";

// KEYS: log, epoch. ARGV: first id, count. Returns {epoch or '', id1, payload1, id2, ...}.
constexpr const char* read_script = R"lua(
local out = {redis.call('GET', KEYS[2]) or ''}
local n = tonumber(ARGV[2])
if n > 0 then
  for _, e in ipairs(redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', n)) do
    local f = e[2]
    local p = ''
    for i = 1, #f, 2 do
      if f[i] == 'p' then p = f[i + 1] end
    end
    out[#out + 1] = e[1]
    out[#out + 1] = p
  end
end
return out
)lua";

std::string random_epoch(std::mt19937_64& rng) {
  static const char hex[] = "0123456789abcdef";
  std::string out(16, '0');
  auto v = rng();
  for (auto& c : out) {
    c = hex[v & 15];
    v >>= 4;
  }
  return out;
}

std::string_view reply_text(const redisReply* r) {
  return r && r->str ? std::string_view(r->str, r->len) : std::string_view();
}

bool is_string(const redisReply* r) {
  return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
}

std::string clamp_count(std::size_t n) {
  return std::to_string(std::min<std::uint64_t>(
      n, static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())));
}

}  // namespace

// ------------------------------------------------------------------------------------------------
// parse_redis_url

redis_options parse_redis_url(const std::string& url) {
  auto bad = [&](const std::string& why) -> runtime::config_error {
    return runtime::config_error("cluster URL '" + url + "': " + why +
                                 " (expected redis://HOST:PORT[/DB])");
  };
  constexpr std::string_view scheme = "redis://";
  if (url.compare(0, scheme.size(), scheme) != 0) throw bad("the scheme must be redis://");
  std::string_view rest(url);
  rest.remove_prefix(scheme.size());
  if (rest.find_first_of("@?#") != std::string_view::npos)
    throw bad("credentials, queries and fragments are not supported");

  redis_options o;
  std::string_view authority = rest, path;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    authority = rest.substr(0, slash);
    path = rest.substr(slash + 1);
  }
  std::string_view host = authority, port;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) throw bad("unterminated [IPv6] host");
    host = authority.substr(1, close - 1);
    const auto tail = authority.substr(close + 1);
    if (!tail.empty()) {
      if (tail.front() != ':') throw bad("junk after the [IPv6] host");
      port = tail.substr(1);
      if (port.empty()) throw bad("empty port");
    }
  } else if (auto colon = authority.find(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    if (port.empty()) throw bad("empty port");
  }
  if (host.empty()) throw bad("missing host");
  for (char c : host)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_' &&
        c != ':')
      throw bad("invalid character in host");
  o.host = std::string(host);
  if (!port.empty()) {
    std::uint64_t p = 0;
    if (!parse_decimal_u64(port, p) || p == 0 || p > 65535) throw bad("port must be 1..65535");
    o.port = static_cast<std::uint16_t>(p);
  }
  if (!path.empty()) {
    std::uint64_t db = 0;
    if (!parse_decimal_u64(path, db) || db > static_cast<std::uint64_t>(INT_MAX))
      throw bad("database must be a number");
    o.db = static_cast<int>(db);
  }
  return o;
}

// ------------------------------------------------------------------------------------------------
// impl

struct redis_broker::impl {
  using reply_fn = std::function<void(redisReply*)>;  // nullptr: the link went first

  // One hiredis async context and the Asio descriptor that watches its socket. hiredis owns
  // the fd (we release it, never close it). The conn keeps itself alive (`self`) until
  // hiredis calls cleanup, since hiredis may free the context from inside a callback.
  struct conn : std::enable_shared_from_this<conn> {
    conn(impl* o, bool subscriber, std::uint64_t g)
        : owner(o), is_sub(subscriber), gen(g), sd(o->io) {}

    impl* owner;
    bool is_sub;
    std::uint64_t gen;
    redisAsyncContext* ac = nullptr;
    asio::posix::stream_descriptor sd;
    bool want_read = false, want_write = false;
    bool read_armed = false, write_armed = false;
    bool closed_by_us = false;  // we freed it: not a loss of the link
    std::shared_ptr<conn> self;

    void arm_read() {
      if (read_armed || !ac || !want_read) return;
      read_armed = true;
      sd.async_wait(asio::posix::stream_descriptor::wait_read,
                    [s = shared_from_this()](const boost::system::error_code& ec) {
                      s->read_armed = false;
                      if (ec || !s->ac) return;
                      redisAsyncHandleRead(s->ac);
                      s->arm_read();
                    });
    }
    void arm_write() {
      if (write_armed || !ac || !want_write) return;
      write_armed = true;
      sd.async_wait(asio::posix::stream_descriptor::wait_write,
                    [s = shared_from_this()](const boost::system::error_code& ec) {
                      s->write_armed = false;
                      if (ec || !s->ac || !s->want_write) return;
                      redisAsyncHandleWrite(s->ac);
                      s->arm_write();
                    });
    }
    // hiredis is done with the context: it closes the fd right after this returns.
    void cleanup() {
      std::string why = "connection closed";
      if (ac && ac->c.err) why = ac->c.errstr;
      ac = nullptr;
      want_read = want_write = false;
      if (sd.is_open()) sd.release();  // cancels our waits; the fd stays hiredis's to close
      auto keep = std::move(self);
      if (!closed_by_us)
        asio::post(owner->io, [o = owner, g = gen, sub = is_sub, why] { o->lost(g, sub, why); });
      else if (owner->state == link_state::stopping)
        asio::post(owner->io, [o = owner] { o->maybe_finish_stop(); });
    }

    static void add_read(void* p) {
      auto* c = static_cast<conn*>(p);
      c->want_read = true;
      c->arm_read();
    }
    static void del_read(void* p) { static_cast<conn*>(p)->want_read = false; }
    static void add_write(void* p) {
      auto* c = static_cast<conn*>(p);
      c->want_write = true;
      c->arm_write();
    }
    static void del_write(void* p) { static_cast<conn*>(p)->want_write = false; }
    static void on_cleanup(void* p) { static_cast<conn*>(p)->cleanup(); }
  };

  enum class link_state { idle, connecting, up, down, stopping };

  explicit impl(redis_options o) : opt(std::move(o)), rng(std::random_device{}()) {
    endpoint =
        "redis://" + opt.host + ":" + std::to_string(opt.port) + "/" + std::to_string(opt.db);
    backoff = opt.backoff_min;
  }

  // --- configuration and threads ------------------------------------------------------------
  redis_options opt;
  std::string endpoint;
  asio::io_context io{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
  std::thread thread;
  std::thread::id thread_id;
  std::mutex life_mutex;  // start() / stop() / on_link() against each other
  std::mutex join_mutex;  // two threads calling stop() at once: one joins, the other waits
  std::atomic<bool> started{false}, stopped{false};
  std::atomic<bool> silenced{false};  // no user handler runs once set
  link_handler on_link_handler;

  // --- io thread state ----------------------------------------------------------------------
  link_state state = link_state::idle;
  std::uint64_t generation = 0;
  std::shared_ptr<conn> cmd, sub;
  bool cmd_ready = false, sub_selected = false;
  // SUBSCRIBEs sent and not yet confirmed, per topic (a topic may be subscribed, unsubscribed
  // and subscribed again before the first answer: it is confirmed when the count is back to 0).
  std::unordered_map<std::string, std::size_t> sub_inflight;
  bool ever_up = false, outage_logged = false;
  std::chrono::milliseconds backoff;
  asio::steady_timer connect_timer{io}, retry_timer{io}, ping_timer{io}, stop_timer{io};
  bool ping_in_flight = false;
  steady::time_point ping_sent;
  struct topic_state {
    message_handler handler;
    bool confirmed = false;             // Redis answered our SUBSCRIBE on this link
    std::vector<done_handler> waiting;  // subscribe() calls awaiting that answer
  };
  std::unordered_map<std::string, topic_state> topics;
  std::string publish_sha, read_sha;
  std::mt19937_64 rng;
  bool stop_finished = false;

  // --- counters, read by stats() from any thread --------------------------------------------
  std::atomic<bool> connected{false};
  std::atomic<std::uint64_t> reconnects{0}, outages{0}, published{0}, received{0}, failed{0},
      dropped{0};
  std::atomic<std::size_t> topic_count{0};
  mutable std::mutex error_mutex;
  std::string last_error;

  bool on_own_thread() const { return std::this_thread::get_id() == thread_id; }
  void join() {
    std::lock_guard<std::mutex> lock(join_mutex);
    if (thread.joinable()) thread.join();
  }

  template <class F>
  void run(F&& f) {
    if (stopped.load()) return;  // after stop(): nothing runs, no handler is called
    asio::post(io, std::forward<F>(f));
  }

  // Runs a user handler unless stop() silenced them; a throwing handler is logged, not fatal
  // (it runs under hiredis's C frames).
  template <class F>
  void call(F&& f) noexcept {
    if (silenced.load(std::memory_order_relaxed)) return;
    try {
      f();
    } catch (const std::exception& e) {
      SB_LOG(error, "redis broker: a handler threw: %s", e.what());
    } catch (...) {
      SB_LOG(error, "redis broker: a handler threw");
    }
  }

  void set_error(const std::string& e) {
    std::lock_guard<std::mutex> lock(error_mutex);
    last_error = e;
  }

  std::string channel_of(const std::string& topic) const { return opt.key_prefix + "t:" + topic; }
  std::string key_of(const std::string& key) const { return opt.key_prefix + "k:" + key; }
  std::string hash_of(const std::string& key) const { return opt.key_prefix + "h:" + key; }

  // --- sending --------------------------------------------------------------------------------
  static void reply_trampoline(redisAsyncContext*, void* r, void* priv) {
    std::unique_ptr<reply_fn> fn(static_cast<reply_fn*>(priv));
    if (*fn) (*fn)(static_cast<redisReply*>(r));
  }
  static void sub_trampoline(redisAsyncContext*, void* r, void* priv) {
    if (r && priv) static_cast<impl*>(priv)->on_push(static_cast<redisReply*>(r));
  }

  static int send_argv(const std::shared_ptr<conn>& c, const std::vector<std::string>& args,
                       redisCallbackFn* fn, void* priv) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    argv.reserve(args.size());
    lens.reserve(args.size());
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    return redisAsyncCommandArgv(c->ac, fn, priv, static_cast<int>(args.size()), argv.data(),
                                 lens.data());
  }

  // Queues a command on `c`; false (and `cb` not called) when the connection cannot take it.
  bool send(const std::shared_ptr<conn>& c, const std::vector<std::string>& args, reply_fn cb) {
    if (!c || !c->ac) return false;
    auto* priv = new reply_fn(std::move(cb));
    if (send_argv(c, args, &reply_trampoline, priv) != REDIS_OK) {
      delete priv;
      return false;
    }
    return true;
  }

  // A request from the API: only while the link is up and the output is below its bound.
  bool request(const std::vector<std::string>& args, reply_fn cb) {
    if (state != link_state::up) return false;
    if (cmd && cmd->ac && cmd->ac->c.obuf && sdslen(cmd->ac->c.obuf) > opt.max_pending_output)
      return false;
    return send(cmd, args, std::move(cb));
  }

  // Classifies a reply for a done_handler-style answer.
  broker_error outcome(redisReply* r, const char* what) {
    if (!r) return broker_error::unavailable;
    if (r->type == REDIS_REPLY_ERROR) {
      failed.fetch_add(1, std::memory_order_relaxed);
      SB_LOG(warn, "redis %s: %s failed: %.*s", endpoint.c_str(), what, static_cast<int>(r->len),
             r->str);
      return broker_error::failed;
    }
    return broker_error::none;
  }

  void done_command(const char* what, std::vector<std::string> args, done_handler done) {
    auto ok = request(args, [this, what, done](redisReply* r) {
      const auto e = outcome(r, what);
      if (done) call([&] { done(e); });
    });
    if (!ok && done) call([&] { done(broker_error::unavailable); });
  }

  // --- the link -------------------------------------------------------------------------------
  std::shared_ptr<conn> open(bool subscriber, std::string& error) {
    redisAsyncContext* ac = redisAsyncConnect(opt.host.c_str(), opt.port);
    if (!ac) {
      error = "out of memory";
      return nullptr;
    }
    if (ac->err) {
      error = ac->errstr;
      redisAsyncFree(ac);
      return nullptr;
    }
    auto c = std::make_shared<conn>(this, subscriber, generation);
    boost::system::error_code ec;
    c->sd.assign(ac->c.fd, ec);
    if (ec) {
      error = ec.message();
      redisAsyncFree(ac);
      return nullptr;
    }
    c->ac = ac;
    c->self = c;
    ac->ev.data = c.get();
    ac->ev.addRead = &conn::add_read;
    ac->ev.delRead = &conn::del_read;
    ac->ev.addWrite = &conn::add_write;
    ac->ev.delWrite = &conn::del_write;
    ac->ev.cleanup = &conn::on_cleanup;
    return c;
  }

  // Frees a connection we no longer want: its pending callbacks fail with `unavailable`.
  static void close(std::shared_ptr<conn>& c) {
    if (auto keep = std::move(c); keep && keep->ac) {
      keep->closed_by_us = true;
      redisAsyncFree(keep->ac);
    }
  }

  void connect() {
    if (state == link_state::stopping) return;
    state = link_state::connecting;
    ++generation;
    cmd_ready = sub_selected = false;
    sub_inflight.clear();
    std::string error;
    cmd = open(false, error);
    if (cmd) sub = open(true, error);
    if (!cmd || !sub) return fail_attempt(error);

    connect_timer.expires_after(opt.connect_timeout);
    connect_timer.async_wait([this, g = generation](const boost::system::error_code& ec) {
      if (!ec && g == generation && state == link_state::connecting)
        fail_attempt("connect timeout");
    });

    const auto db = std::to_string(opt.db);
    const auto g = generation;
    // Command connection: SELECT, load both scripts, then a probe that runs the read script
    // (it fails with -LOADING while Redis loads its data: we retry rather than report up).
    send(cmd, {"SELECT", db}, [this, g](redisReply* r) { init_step(g, r, "SELECT"); });
    send(cmd, {"SCRIPT", "LOAD", publish_script}, [this, g](redisReply* r) {
      if (init_step(g, r, "SCRIPT LOAD")) publish_sha = std::string(reply_text(r));
    });
    send(cmd, {"SCRIPT", "LOAD", read_script}, [this, g](redisReply* r) {
      if (!init_step(g, r, "SCRIPT LOAD")) return;
      read_sha = std::string(reply_text(r));
      send(cmd,
           {"EVALSHA", read_sha, "2", opt.key_prefix + "probe:log", opt.key_prefix + "probe:epoch",
            "0", "0"},
           [this, g](redisReply* r2) {
             if (!init_step(g, r2, "probe")) return;
             cmd_ready = true;
             maybe_up();
           });
    });
    // Subscriber connection: SELECT, then every topic in one SUBSCRIBE.
    send(sub, {"SELECT", db}, [this, g](redisReply* r) {
      if (!init_step(g, r, "SELECT")) return;
      sub_selected = true;
      if (!topics.empty()) {
        std::vector<std::string> args{"SUBSCRIBE"};
        for (const auto& [topic, t] : topics)
          args.push_back(channel_of(topic));
        if (send_argv(sub, args, &sub_trampoline, this) != REDIS_OK)
          return fail_attempt("SUBSCRIBE refused");
        for (const auto& [topic, t] : topics)
          ++sub_inflight[topic];
      }
      maybe_up();
    });
  }

  // One reply of the init sequence: true if it is good and still current.
  bool init_step(std::uint64_t g, redisReply* r, const char* what) {
    if (!r || g != generation || state != link_state::connecting) return false;
    if (r->type == REDIS_REPLY_ERROR) {
      fail_attempt(std::string(what) + ": " + std::string(reply_text(r)));
      return false;
    }
    return true;
  }

  void maybe_up() {
    if (state != link_state::connecting || !cmd_ready || !sub_selected || !sub_inflight.empty())
      return;
    state = link_state::up;
    connect_timer.cancel();
    backoff = opt.backoff_min;
    connected.store(true);
    if (ever_up) {
      reconnects.fetch_add(1, std::memory_order_relaxed);
      SB_LOG(info, "redis %s: link restored, %zu topics resubscribed", endpoint.c_str(),
             topics.size());
    } else {
      SB_LOG(info, "redis %s: connected", endpoint.c_str());
    }
    ever_up = true;
    outage_logged = false;
    ping_in_flight = false;
    arm_ping();
    if (on_link_handler) call([&] { on_link_handler(true); });
  }

  // A connection of generation `g` went away without us asking.
  void lost(std::uint64_t g, bool subscriber, const std::string& why) {
    if (g != generation) return;
    if (state == link_state::up || state == link_state::connecting)
      drop(std::string(subscriber ? "subscriber" : "command") + " connection: " + why);
  }

  // The attempt in progress failed (refused, timed out, init error): retry after a backoff.
  void fail_attempt(const std::string& why) {
    if (state == link_state::stopping) return;
    drop(why);
  }

  // Both connections go, whatever failed; pending requests fail with `unavailable`.
  void drop(const std::string& why) {
    const bool was_up = state == link_state::up;
    state = link_state::down;
    ++generation;  // late events of the old connections are ignored
    connected.store(false);
    connect_timer.cancel();
    ping_timer.cancel();
    set_error(why);
    if (was_up) {
      outages.fetch_add(1, std::memory_order_relaxed);
      outage_logged = true;
      SB_LOG(warn, "redis %s: link lost (%s); reconnecting", endpoint.c_str(), why.c_str());
      if (on_link_handler) call([&] { on_link_handler(false); });
    } else if (!outage_logged) {
      outage_logged = true;
      SB_LOG(warn, "redis %s: cannot connect (%s); retrying", endpoint.c_str(), why.c_str());
    } else {
      SB_LOG(debug, "redis %s: retry failed (%s)", endpoint.c_str(), why.c_str());
    }
    close(cmd);
    close(sub);
    sub_inflight.clear();
    std::vector<done_handler> waiting;
    for (auto& [topic, t] : topics) {
      t.confirmed = false;
      for (auto& d : t.waiting)
        waiting.push_back(std::move(d));
      t.waiting.clear();
    }
    for (auto& d : waiting)
      call([&] { d(broker_error::unavailable); });
    schedule_retry();
  }

  void schedule_retry() {
    if (state == link_state::stopping) return;
    std::uniform_real_distribution<double> jitter(0.8, 1.2);
    const auto delay = std::chrono::milliseconds(
        static_cast<std::int64_t>(static_cast<double>(backoff.count()) * jitter(rng)));
    backoff = std::min(backoff * 2, opt.backoff_max);
    retry_timer.expires_after(delay);
    retry_timer.async_wait([this](const boost::system::error_code& ec) {
      if (!ec && state == link_state::down) connect();
    });
  }

  void arm_ping() {
    ping_timer.expires_after(ping_every);
    ping_timer.async_wait([this, g = generation](const boost::system::error_code& ec) {
      if (ec || g != generation || state != link_state::up) return;
      if (ping_in_flight) {
        if (steady::now() - ping_sent > ping_timeout) return drop("Redis does not answer");
      } else {
        ping_in_flight = true;
        ping_sent = steady::now();
        send(cmd, {"PING"}, [this, g](redisReply* r) {
          if (r && g == generation) ping_in_flight = false;
        });
      }
      arm_ping();
    });
  }

  // --- the subscriber connection --------------------------------------------------------------
  void on_push(redisReply* r) {
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 3) return;
    const auto kind = reply_text(r->element[0]);
    if (!is_string(r->element[0]) || !is_string(r->element[1])) return;
    if (kind == "subscribe") {
      on_subscribed(topic_of(reply_text(r->element[1])));
      return;
    }
    if (kind != "message") return;
    const auto topic = topic_of(reply_text(r->element[1]));
    auto it = topics.find(topic);
    if (it == topics.end()) return;  // unsubscribed, the UNSUBSCRIBE not yet answered
    topic_frame f;
    if (r->element[2]->type != REDIS_REPLY_STRING ||
        !parse_topic_frame(reply_text(r->element[2]), f)) {
      if (dropped.fetch_add(1, std::memory_order_relaxed) == 0)
        SB_LOG(warn, "redis %s: dropped a malformed message on topic '%.*s' (counted)",
               endpoint.c_str(), static_cast<int>(topic.size()), topic.data());
      return;
    }
    received.fetch_add(1, std::memory_order_relaxed);
    const auto& h = it->second.handler;
    call([&] { h(delivery{it->first, f.payload, f.sequence, f.epoch}); });
  }

  // "<prefix>t:TOPIC" -> TOPIC ("" for a channel that is not a topic of ours).
  std::string topic_of(std::string_view channel) const {
    const std::string_view prefix = opt.key_prefix;
    if (channel.size() < prefix.size() + 2 || channel.substr(0, prefix.size()) != prefix ||
        channel.substr(prefix.size(), 2) != "t:")
      return {};
    return std::string(channel.substr(prefix.size() + 2));
  }

  void on_subscribed(const std::string& topic) {
    auto in = sub_inflight.find(topic);
    if (in == sub_inflight.end()) return;
    if (--in->second == 0) {
      sub_inflight.erase(in);
      if (auto it = topics.find(topic); it != topics.end()) {
        it->second.confirmed = true;
        auto waiting = std::move(it->second.waiting);
        for (auto& d : waiting)
          call([&] { d(broker_error::none); });
      }
    }
    maybe_up();
  }

  void do_subscribe(const std::string& topic, message_handler h, done_handler done) {
    auto [it, fresh] = topics.try_emplace(topic);
    it->second.handler = std::move(h);
    topic_count.store(topics.size(), std::memory_order_relaxed);
    if (!fresh) {
      if (it->second.confirmed) {
        if (done) call([&] { done(broker_error::none); });
      } else if (done) {
        if (state == link_state::down) return call([&] { done(broker_error::unavailable); });
        it->second.waiting.push_back(std::move(done));
      }
      return;
    }
    // Before start() or while connecting, the (re)connect subscribes it; while down, the
    // caller hears `unavailable` now and the topic is restored with the link.
    if (state == link_state::down) {
      if (done) call([&] { done(broker_error::unavailable); });
      return;
    }
    if (done) it->second.waiting.push_back(std::move(done));
    if (!sub || !sub->ac || !sub_selected) return;
    if (send_argv(sub, {"SUBSCRIBE", channel_of(topic)}, &sub_trampoline, this) != REDIS_OK) return;
    ++sub_inflight[topic];
  }

  void do_unsubscribe(const std::string& topic) {
    auto it = topics.find(topic);
    if (it == topics.end()) return;
    auto waiting = std::move(it->second.waiting);
    topics.erase(it);
    topic_count.store(topics.size(), std::memory_order_relaxed);
    for (auto& d : waiting)
      call([&] { d(broker_error::unavailable); });
    if (sub && sub->ac && sub_selected)
      send_argv(sub, {"UNSUBSCRIBE", channel_of(topic)}, nullptr, nullptr);
  }

  // --- logged publish and log read -------------------------------------------------------------
  // Runs a script by its SHA; if Redis lost its script cache (SCRIPT FLUSH), runs it once from
  // source, which caches it again. `keys_and_args` is what follows the SHA.
  bool eval(const char* source, const std::string& sha, std::vector<std::string> keys_and_args,
            reply_fn on_reply) {
    auto args = std::make_shared<std::vector<std::string>>();
    args->reserve(keys_and_args.size() + 2);
    args->push_back("EVALSHA");
    args->push_back(sha);
    for (auto& a : keys_and_args)
      args->push_back(std::move(a));
    return request(*args, [this, source, args, on_reply](redisReply* r) {
      if (r && r->type == REDIS_REPLY_ERROR && reply_text(r).substr(0, 8) == "NOSCRIPT") {
        (*args)[0] = "EVAL";
        (*args)[1] = source;
        if (!request(*args, on_reply)) on_reply(nullptr);
        return;
      }
      on_reply(r);
    });
  }

  void do_publish_logged(const std::string& topic, std::string payload, log_retention retention,
                         logged_handler done) {
    auto finish = [this, done](broker_error e, std::uint64_t seq, const std::string& epoch) {
      if (done) call([&] { done(e, seq, epoch); });
    };
    const bool ok = eval(
        publish_script, publish_sha,
        {"3", opt.key_prefix + "seq:" + topic, opt.key_prefix + "log:" + topic,
         opt.key_prefix + "epoch:" + topic, channel_of(topic), std::move(payload),
         clamp_count(retention.max_count),
         std::to_string(std::max<std::int64_t>(0, retention.max_age.count())), random_epoch(rng)},
        [this, finish](redisReply* r) {
          const auto e = outcome(r, "logged publish");
          if (e != broker_error::none) return finish(e, 0, {});
          if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
              r->element[0]->type != REDIS_REPLY_INTEGER || r->element[0]->integer <= 0 ||
              !is_string(r->element[1])) {
            failed.fetch_add(1, std::memory_order_relaxed);
            return finish(broker_error::failed, 0, {});
          }
          published.fetch_add(1, std::memory_order_relaxed);
          finish(broker_error::none, static_cast<std::uint64_t>(r->element[0]->integer),
                 std::string(reply_text(r->element[1])));
        });
    if (!ok) finish(broker_error::unavailable, 0, {});
  }

  void do_read_log(const std::string& topic, std::uint64_t after, std::size_t max,
                   log_handler done) {
    auto finish = [this, done](broker_error e, std::vector<log_entry> entries,
                               const std::string& epoch) {
      if (done) call([&] { done(e, std::move(entries), epoch); });
    };
    if (after == std::numeric_limits<std::uint64_t>::max()) max = 0;  // nothing can follow it
    const auto first = std::to_string(max ? after + 1 : after) + "-0";
    const bool ok = eval(
        read_script, read_sha,
        {"2", opt.key_prefix + "log:" + topic, opt.key_prefix + "epoch:" + topic, first,
         clamp_count(max)},
        [this, finish](redisReply* r) {
          const auto e = outcome(r, "log read");
          if (e != broker_error::none) return finish(e, {}, {});
          if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 || r->elements % 2 != 1 ||
              !is_string(r->element[0])) {
            failed.fetch_add(1, std::memory_order_relaxed);
            return finish(broker_error::failed, {}, {});
          }
          std::vector<log_entry> entries;
          entries.reserve(r->elements / 2);
          for (std::size_t k = 1; k + 1 < r->elements; k += 2) {
            const auto id = reply_text(r->element[k]);
            std::uint64_t seq = 0;
            if (!is_string(r->element[k]) || !is_string(r->element[k + 1]) ||
                !parse_decimal_u64(id.substr(0, id.find('-')), seq)) {
              failed.fetch_add(1, std::memory_order_relaxed);
              return finish(broker_error::failed, {}, {});
            }
            entries.push_back(log_entry{seq, std::string(reply_text(r->element[k + 1]))});
          }
          finish(broker_error::none, std::move(entries), std::string(reply_text(r->element[0])));
        });
    if (!ok) finish(broker_error::unavailable, {}, {});
  }

  // --- start / stop ----------------------------------------------------------------------------
  void begin_stop() {
    if (state == link_state::stopping) return;
    state = link_state::stopping;
    ++generation;
    connected.store(false);
    connect_timer.cancel();
    retry_timer.cancel();
    ping_timer.cancel();
    // The subscriber has nothing to flush; the command connection writes what is queued and
    // waits for the answers (redisAsyncDisconnect), within the stop budget.
    close(sub);
    if (cmd && cmd->ac) {
      cmd->closed_by_us = true;
      redisAsyncDisconnect(cmd->ac);
    }
    stop_timer.expires_after(stop_budget);
    stop_timer.async_wait([this](const boost::system::error_code&) {
      close(cmd);
      finish_stop();
    });
    maybe_finish_stop();
  }

  void maybe_finish_stop() {
    if (state != link_state::stopping) return;
    if (cmd && cmd->ac) return;
    cmd.reset();
    finish_stop();
  }

  void finish_stop() {
    if (stop_finished) return;
    stop_finished = true;
    stop_timer.cancel();
    guard.reset();
    io.stop();
  }
};

// ------------------------------------------------------------------------------------------------
// redis_broker

redis_broker::redis_broker(redis_options options)
    : impl_(std::make_unique<impl>(std::move(options))) {}

redis_broker::~redis_broker() {
  stop();
  auto* i = impl_.get();
  if (!i->on_own_thread()) {
    i->join();
    return;
  }
  if (!i->thread.joinable()) return;
  // Destroyed from one of its own handlers: the loop is still on the stack below us. Let it
  // end by itself and leak the state rather than free it under the running thread.
  i->thread.detach();
  (void)impl_.release();
}

void redis_broker::start() {
  std::lock_guard<std::mutex> lock(impl_->life_mutex);
  auto* i = impl_.get();
  if (i->started.load() || i->stopped.load()) return;
  i->started.store(true);
  i->guard.emplace(i->io.get_executor());
  asio::post(i->io, [i] { i->connect(); });
  i->thread = std::thread([i] {
    // hiredis writes with write(2): a write to a socket Redis closed would raise SIGPIPE and
    // kill the process. Blocked on this thread only, the write fails with EPIPE instead.
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
    i->io.run();
  });
  i->thread_id = i->thread.get_id();
}

void redis_broker::stop() {
  auto* i = impl_.get();
  bool first = false;
  {
    // Not held while joining: a handler may still call on_link() or stop() meanwhile.
    std::lock_guard<std::mutex> lock(i->life_mutex);
    first = !i->stopped.exchange(true);
    if (!i->started.load()) {
      i->silenced.store(true);
      return;
    }
  }
  if (first) asio::post(i->io, [i] { i->begin_stop(); });
  if (i->on_own_thread()) {
    // From one of our handlers: no join here (we are that thread). Silence handlers now; the
    // loop ends within the stop budget and the destructor joins it.
    i->silenced.store(true);
    return;
  }
  i->join();  // a second caller waits here for the first one's stop to complete
  i->silenced.store(true);
}

void redis_broker::subscribe(const std::string& topic, message_handler h, done_handler done) {
  impl_->run([i = impl_.get(), topic, h = std::move(h), done = std::move(done)]() mutable {
    i->do_subscribe(topic, std::move(h), std::move(done));
  });
}

void redis_broker::unsubscribe(const std::string& topic) {
  impl_->run([i = impl_.get(), topic] { i->do_unsubscribe(topic); });
}

void redis_broker::publish(const std::string& topic, std::string payload, done_handler done) {
  impl_->run([i = impl_.get(), topic, payload = std::move(payload), done = std::move(done)] {
    const bool ok = i->request({"PUBLISH", i->channel_of(topic), plain_topic_frame(payload)},
                               [i, done](redisReply* r) {
                                 const auto e = i->outcome(r, "publish");
                                 if (e == broker_error::none)
                                   i->published.fetch_add(1, std::memory_order_relaxed);
                                 if (done) i->call([&] { done(e); });
                               });
    if (!ok && done) i->call([&] { done(broker_error::unavailable); });
  });
}

void redis_broker::publish_logged(const std::string& topic, std::string payload,
                                  log_retention retention, logged_handler done) {
  impl_->run([i = impl_.get(), topic, payload = std::move(payload), retention,
              done = std::move(done)]() mutable {
    i->do_publish_logged(topic, std::move(payload), retention, std::move(done));
  });
}

void redis_broker::read_log(const std::string& topic, std::uint64_t after, std::size_t max,
                            log_handler done) {
  impl_->run([i = impl_.get(), topic, after, max, done = std::move(done)]() mutable {
    i->do_read_log(topic, after, max, std::move(done));
  });
}

void redis_broker::set(const std::string& key, std::string value, std::chrono::milliseconds ttl,
                       done_handler done) {
  impl_->run([i = impl_.get(), key, value = std::move(value), ttl, done = std::move(done)] {
    std::vector<std::string> args{"SET", i->key_of(key), value};
    if (ttl.count() > 0) {
      args.emplace_back("PX");
      args.push_back(std::to_string(ttl.count()));
    }
    i->done_command("SET", std::move(args), done);
  });
}

void redis_broker::get(const std::string& key, value_handler done) {
  impl_->run([i = impl_.get(), key, done = std::move(done)] {
    const bool ok = i->request({"GET", i->key_of(key)}, [i, done](redisReply* r) {
      const auto e = i->outcome(r, "GET");
      if (e != broker_error::none) return i->call([&] { done(e, {}, false); });
      if (r->type == REDIS_REPLY_NIL) return i->call([&] { done(broker_error::none, {}, false); });
      if (r->type != REDIS_REPLY_STRING) {
        i->failed.fetch_add(1, std::memory_order_relaxed);
        return i->call([&] { done(broker_error::failed, {}, false); });
      }
      i->call([&] { done(broker_error::none, std::string(reply_text(r)), true); });
    });
    if (!ok) i->call([&] { done(broker_error::unavailable, {}, false); });
  });
}

void redis_broker::del(const std::string& key, done_handler done) {
  impl_->run([i = impl_.get(), key, done = std::move(done)] {
    i->done_command("DEL", {"DEL", i->key_of(key), i->hash_of(key)}, done);
  });
}

void redis_broker::hset(const std::string& key, const std::string& field, std::string value,
                        done_handler done) {
  impl_->run([i = impl_.get(), key, field, value = std::move(value), done = std::move(done)] {
    i->done_command("HSET", {"HSET", i->hash_of(key), field, value}, done);
  });
}

void redis_broker::hdel(const std::string& key, const std::string& field, done_handler done) {
  impl_->run([i = impl_.get(), key, field, done = std::move(done)] {
    i->done_command("HDEL", {"HDEL", i->hash_of(key), field}, done);
  });
}

void redis_broker::hgetall(const std::string& key, hash_handler done) {
  impl_->run([i = impl_.get(), key, done = std::move(done)] {
    using map = std::unordered_map<std::string, std::string>;
    const bool ok = i->request({"HGETALL", i->hash_of(key)}, [i, done](redisReply* r) {
      const auto e = i->outcome(r, "HGETALL");
      if (e != broker_error::none) return i->call([&] { done(e, map{}); });
      if (r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0) {
        i->failed.fetch_add(1, std::memory_order_relaxed);
        return i->call([&] { done(broker_error::failed, map{}); });
      }
      map out;
      out.reserve(r->elements / 2);
      for (std::size_t k = 0; k + 1 < r->elements; k += 2)
        out.emplace(std::string(reply_text(r->element[k])),
                    std::string(reply_text(r->element[k + 1])));
      i->call([&] { done(broker_error::none, std::move(out)); });
    });
    if (!ok) i->call([&] { done(broker_error::unavailable, map{}); });
  });
}

void redis_broker::on_link(link_handler h) {
  std::lock_guard<std::mutex> lock(impl_->life_mutex);
  auto* i = impl_.get();
  if (!i->started.load()) {
    i->on_link_handler = std::move(h);
    return;
  }
  i->run([i, h = std::move(h)]() mutable { i->on_link_handler = std::move(h); });
}

broker_stats redis_broker::stats() const {
  const auto* i = impl_.get();
  broker_stats s;
  s.connected = i->connected.load();
  s.reconnects = i->reconnects.load();
  s.outages = i->outages.load();
  s.published = i->published.load();
  s.received = i->received.load();
  s.failed = i->failed.load();
  s.dropped = i->dropped.load();
  s.topics = i->topic_count.load();
  s.endpoint = i->endpoint;
  std::lock_guard<std::mutex> lock(i->error_mutex);
  s.last_error = i->last_error;
  return s;
}

}  // namespace switchboard::cluster
