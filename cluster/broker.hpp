// broker.hpp: what nodes of a cluster share, behind one interface with two implementations:
//   local_broker  (local_broker.hpp) in-process, the default: nothing to install. Nodes made
//                 on one local_broker::fabric in one process see each other (tests, examples).
//   redis_broker  (redis_broker.hpp) Redis 7 through hiredis's async API, on its own io thread.
//
// The primitives are the ones the federated features need (cluster/*_bridge.cpp), not a Redis
// client: pub/sub between nodes, a logged publish (sequence + bounded log + publish in one
// step, for QoS and recovery), keys with a TTL, and hashes (per-node shards, the registry).
//
// Delivery: pub/sub is at most once and in order per publishing node. A logged publish is
// acknowledged (logged_handler) only once the broker has the message: with Redis, after the
// script that appended it returned. While the link is down, operations fail fast with
// broker_error::unavailable (nothing is queued here: the caller decides what to keep), and
// subscriptions are restored when it comes back (link_handler sees `up` again; a subscriber
// then reads the log from its last sequence to fill the gap).
//
// Threads: every method is safe from any thread and never blocks. Handlers run on the broker's
// own thread, one at a time; they must not block (post work to an actor or an io thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace switchboard::cluster {

enum class broker_error : std::uint8_t {
  none = 0,
  unavailable,  // the link to the engine is down (or the broker is stopping)
  failed,       // the engine answered with an error (the text is logged)
};

const char* to_string(broker_error e) noexcept;

// One message received on a topic. `sequence` is 0 for plain publish(); for a logged publish
// it is the topic's sequence (from 1, no gaps) and `epoch` names the log's lifetime: a new
// epoch means the log was lost (engine restarted without persistence) and sequences restarted.
struct delivery {
  std::string_view topic;
  std::string_view payload;
  std::uint64_t sequence = 0;
  std::string_view epoch;
};

struct log_entry {
  std::uint64_t sequence = 0;
  std::string payload;
};

// Retention of a topic's log: the newest max_count entries, none older than max_age (0: no age
// limit). The log is what recovery reads.
struct log_retention {
  std::size_t max_count = 1000;
  std::chrono::milliseconds max_age{0};
};

struct broker_stats {
  bool connected = false;
  std::uint64_t reconnects = 0;  // links re-established after a loss
  std::uint64_t outages = 0;     // losses of the link
  std::uint64_t published = 0;   // publish + publish_logged accepted by the engine
  std::uint64_t received = 0;    // deliveries handed to subscribers
  std::uint64_t failed = 0;      // operations answered with an error
  std::uint64_t dropped = 0;     // malformed messages received and dropped
  std::size_t topics = 0;        // topics subscribed now
  std::string endpoint;          // "redis://127.0.0.1:6379/0", "local"
  std::string last_error;        // why the link went down last
};

class broker {
 public:
  using message_handler = std::function<void(const delivery&)>;
  using done_handler = std::function<void(broker_error)>;
  // sequence/epoch of the appended entry when error == none.
  using logged_handler =
      std::function<void(broker_error, std::uint64_t sequence, const std::string& epoch)>;
  // Entries with sequence > after, oldest first, and the log's epoch ("" when no log).
  using log_handler =
      std::function<void(broker_error, std::vector<log_entry>, const std::string& epoch)>;
  // value, found
  using value_handler = std::function<void(broker_error, std::string value, bool found)>;
  using hash_handler =
      std::function<void(broker_error, std::unordered_map<std::string, std::string>)>;
  using link_handler = std::function<void(bool up)>;

  virtual ~broker() = default;

  // Starts the link (connecting in the background, retrying with backoff). Idempotent.
  virtual void start() = 0;
  // Ends the link after writing what is queued (bounded); handlers are not called afterwards.
  virtual void stop() = 0;

  // --- pub/sub between nodes ----------------------------------------------------------------
  // One handler per topic on this broker; subscribing again replaces it. `done` runs once the
  // engine confirmed the subscription (with Redis: its subscribe reply), so a caller can tell
  // its client "subscribed" knowing no later publish will miss this node.
  virtual void subscribe(const std::string& topic, message_handler h, done_handler done = {}) = 0;
  virtual void unsubscribe(const std::string& topic) = 0;
  virtual void publish(const std::string& topic, std::string payload, done_handler done = {}) = 0;

  // --- logged publish (QoS, queues, history, recovery) ---------------------------------------
  // In one atomic step: the next sequence of `topic`, the entry appended to its log (trimmed to
  // `retention`), and the message published to the topic's subscribers with that sequence.
  virtual void publish_logged(const std::string& topic, std::string payload,
                              log_retention retention, logged_handler done) = 0;
  // At most `max` entries with sequence > after.
  virtual void read_log(const std::string& topic, std::uint64_t after, std::size_t max,
                        log_handler done) = 0;

  // --- keys and hashes -----------------------------------------------------------------------
  // ttl 0: no expiry.
  virtual void set(const std::string& key, std::string value, std::chrono::milliseconds ttl,
                   done_handler done = {}) = 0;
  virtual void get(const std::string& key, value_handler done) = 0;
  virtual void del(const std::string& key, done_handler done = {}) = 0;
  virtual void hset(const std::string& key, const std::string& field, std::string value,
                    done_handler done = {}) = 0;
  virtual void hdel(const std::string& key, const std::string& field, done_handler done = {}) = 0;
  virtual void hgetall(const std::string& key, hash_handler done) = 0;

  // --- the link ------------------------------------------------------------------------------
  // Called on the broker thread each time the link goes up or down (set before start()).
  virtual void on_link(link_handler h) = 0;
  virtual broker_stats stats() const = 0;
};

// "redis://HOST:PORT[/DB]" -> a redis_broker; "local" or "" -> a local_broker of its own.
// Throws runtime::config_error naming what is wrong with the URL.
std::unique_ptr<broker> make_broker(const std::string& url);

}  // namespace switchboard::cluster
