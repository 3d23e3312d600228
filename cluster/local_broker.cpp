#include "cluster/local_broker.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>

namespace switchboard::cluster {

namespace {
using clock = std::chrono::steady_clock;

std::string random_epoch() {
  static const char hex[] = "0123456789abcdef";
  std::random_device rd;
  std::string out;
  for (int i = 0; i < 16; ++i)
    out += hex[rd() % 16];
  return out;
}
}  // namespace

// Everything the brokers of one fabric share. The state below `thread_` is touched only on the
// fabric's thread, so it needs no lock; the queue is the only thing under the mutex.
class local_broker::fabric {
 public:
  fabric() : thread_([this] { run(); }) {}
  ~fabric() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      closing_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }

  void post(std::function<void()> task) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      tasks_.push_back(std::move(task));
    }
    wake_.notify_one();
  }

  // Runs `task` on the fabric thread and waits for it (inline when already there).
  void run_and_wait(const std::function<void()>& task) {
    if (std::this_thread::get_id() == thread_.get_id()) return task();
    std::mutex m;
    std::condition_variable cv;
    bool done = false;
    post([&] {
      task();
      std::lock_guard<std::mutex> lock(m);
      done = true;
      cv.notify_one();
    });
    std::unique_lock<std::mutex> lock(m);
    cv.wait(lock, [&] { return done; });
  }

  std::uint64_t next_id() { return ++ids_; }

  // --- fabric thread only ---------------------------------------------------------------------
  struct member {
    bool started = false;
    bool stopped = false;
    link_handler on_link;
    std::unordered_map<std::string, message_handler> topics;
    std::atomic<std::uint64_t> published{0}, received{0};
  };
  struct entry {
    log_entry e;
    clock::time_point at;
  };
  struct log {
    std::uint64_t sequence = 0;
    std::string epoch;
    std::deque<entry> entries;
  };
  struct value {
    std::string v;
    clock::time_point expires = clock::time_point::max();
  };

  std::unordered_map<std::uint64_t, member> members;
  std::unordered_map<std::string, log> logs;
  std::unordered_map<std::string, value> keys;
  std::unordered_map<std::string, std::unordered_map<std::string, std::string>> hashes;

  bool alive(std::uint64_t id) {
    auto it = members.find(id);
    return it != members.end() && !it->second.stopped;
  }

  void deliver(const std::string& topic, const std::string& payload, std::uint64_t sequence,
               const std::string& epoch) {
    // Copy the targets first: a handler may subscribe or unsubscribe.
    std::vector<std::pair<std::uint64_t, message_handler>> targets;
    for (auto& [id, m] : members)
      if (!m.stopped)
        if (auto t = m.topics.find(topic); t != m.topics.end()) targets.emplace_back(id, t->second);
    for (auto& [id, h] : targets) {
      if (!alive(id)) continue;
      members[id].received.fetch_add(1, std::memory_order_relaxed);
      h(delivery{topic, payload, sequence, epoch});
    }
  }

  value* find_key(const std::string& key) {
    auto it = keys.find(key);
    if (it == keys.end()) return nullptr;
    if (clock::now() >= it->second.expires) {
      keys.erase(it);
      return nullptr;
    }
    return &it->second;
  }

 private:
  void run() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (true) {
      wake_.wait(lock, [this] { return closing_ || !tasks_.empty(); });
      if (tasks_.empty()) return;  // closing, and nothing left to run
      auto task = std::move(tasks_.front());
      tasks_.pop_front();
      lock.unlock();
      task();
      lock.lock();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> tasks_;
  bool closing_ = false;
  std::atomic<std::uint64_t> ids_{0};
  std::thread thread_;  // last: starts once the rest is built
};

std::shared_ptr<local_broker::fabric> local_broker::make_fabric() {
  return std::make_shared<fabric>();
}

local_broker::local_broker() : local_broker(make_fabric()) {}

local_broker::local_broker(std::shared_ptr<fabric> shared)
    : fabric_(std::move(shared)), id_(fabric_->next_id()) {
  fabric_->run_and_wait([f = fabric_.get(), id = id_] { f->members[id]; });
}

local_broker::~local_broker() {
  stop();
  fabric_->run_and_wait([f = fabric_.get(), id = id_] { f->members.erase(id); });
}

void local_broker::start() {
  fabric_->post([f = fabric_.get(), id = id_] {
    auto& m = f->members[id];
    if (m.started || m.stopped) return;
    m.started = true;
    if (m.on_link) m.on_link(true);
  });
}

void local_broker::stop() {
  fabric_->run_and_wait([f = fabric_.get(), id = id_] {
    auto& m = f->members[id];
    m.stopped = true;
    m.topics.clear();
  });
}

void local_broker::subscribe(const std::string& topic, message_handler h, done_handler done) {
  fabric_->post(
      [f = fabric_.get(), id = id_, topic, h = std::move(h), done = std::move(done)]() mutable {
        if (!f->alive(id)) return;
        f->members[id].topics[topic] = std::move(h);
        if (done) done(broker_error::none);
      });
}

void local_broker::unsubscribe(const std::string& topic) {
  fabric_->post([f = fabric_.get(), id = id_, topic] {
    if (f->alive(id)) f->members[id].topics.erase(topic);
  });
}

void local_broker::publish(const std::string& topic, std::string payload, done_handler done) {
  fabric_->post(
      [f = fabric_.get(), id = id_, topic, payload = std::move(payload), done = std::move(done)] {
        if (!f->alive(id)) return;
        f->members[id].published.fetch_add(1, std::memory_order_relaxed);
        f->deliver(topic, payload, 0, {});
        if (done && f->alive(id)) done(broker_error::none);
      });
}

void local_broker::publish_logged(const std::string& topic, std::string payload,
                                  log_retention retention, logged_handler done) {
  fabric_->post([f = fabric_.get(), id = id_, topic, payload = std::move(payload), retention,
                 done = std::move(done)] {
    if (!f->alive(id)) return;
    auto& log = f->logs[topic];
    if (log.epoch.empty()) log.epoch = random_epoch();
    const auto now = clock::now();
    log.entries.push_back({log_entry{++log.sequence, payload}, now});
    while (log.entries.size() > retention.max_count)
      log.entries.pop_front();
    if (retention.max_age.count() > 0)
      while (!log.entries.empty() && now - log.entries.front().at > retention.max_age)
        log.entries.pop_front();
    const std::uint64_t sequence = log.sequence;
    const std::string epoch = log.epoch;
    f->members[id].published.fetch_add(1, std::memory_order_relaxed);
    f->deliver(topic, payload, sequence, epoch);
    if (done && f->alive(id)) done(broker_error::none, sequence, epoch);
  });
}

void local_broker::read_log(const std::string& topic, std::uint64_t after, std::size_t max,
                            log_handler done) {
  fabric_->post([f = fabric_.get(), id = id_, topic, after, max, done = std::move(done)] {
    if (!f->alive(id)) return;
    std::vector<log_entry> out;
    std::string epoch;
    if (auto it = f->logs.find(topic); it != f->logs.end()) {
      epoch = it->second.epoch;
      for (const auto& e : it->second.entries) {
        if (out.size() >= max) break;
        if (e.e.sequence > after) out.push_back(e.e);
      }
    }
    done(broker_error::none, std::move(out), epoch);
  });
}

void local_broker::set(const std::string& key, std::string value, std::chrono::milliseconds ttl,
                       done_handler done) {
  fabric_->post(
      [f = fabric_.get(), id = id_, key, value = std::move(value), ttl, done = std::move(done)] {
        if (!f->alive(id)) return;
        auto& v = f->keys[key];
        v.v = value;
        v.expires = ttl.count() > 0 ? clock::now() + ttl : clock::time_point::max();
        if (done) done(broker_error::none);
      });
}

void local_broker::get(const std::string& key, value_handler done) {
  fabric_->post([f = fabric_.get(), id = id_, key, done = std::move(done)] {
    if (!f->alive(id)) return;
    const auto* v = f->find_key(key);
    done(broker_error::none, v ? v->v : std::string(), v != nullptr);
  });
}

void local_broker::del(const std::string& key, done_handler done) {
  fabric_->post([f = fabric_.get(), id = id_, key, done = std::move(done)] {
    if (!f->alive(id)) return;
    f->keys.erase(key);
    f->hashes.erase(key);
    if (done) done(broker_error::none);
  });
}

void local_broker::hset(const std::string& key, const std::string& field, std::string value,
                        done_handler done) {
  fabric_->post(
      [f = fabric_.get(), id = id_, key, field, value = std::move(value), done = std::move(done)] {
        if (!f->alive(id)) return;
        f->hashes[key][field] = value;
        if (done) done(broker_error::none);
      });
}

void local_broker::hdel(const std::string& key, const std::string& field, done_handler done) {
  fabric_->post([f = fabric_.get(), id = id_, key, field, done = std::move(done)] {
    if (!f->alive(id)) return;
    if (auto it = f->hashes.find(key); it != f->hashes.end()) {
      it->second.erase(field);
      if (it->second.empty()) f->hashes.erase(it);
    }
    if (done) done(broker_error::none);
  });
}

void local_broker::hgetall(const std::string& key, hash_handler done) {
  fabric_->post([f = fabric_.get(), id = id_, key, done = std::move(done)] {
    if (!f->alive(id)) return;
    auto it = f->hashes.find(key);
    done(broker_error::none,
         it != f->hashes.end() ? it->second : std::unordered_map<std::string, std::string>{});
  });
}

void local_broker::on_link(link_handler h) {
  fabric_->run_and_wait([f = fabric_.get(), id = id_, &h] { f->members[id].on_link = h; });
}

broker_stats local_broker::stats() const {
  broker_stats s;
  s.endpoint = "local";
  fabric_->run_and_wait([&s, f = fabric_.get(), id = id_] {
    auto& m = f->members[id];
    s.connected = m.started && !m.stopped;
    s.published = m.published.load(std::memory_order_relaxed);
    s.received = m.received.load(std::memory_order_relaxed);
    s.topics = m.topics.size();
  });
  return s;
}

}  // namespace switchboard::cluster
