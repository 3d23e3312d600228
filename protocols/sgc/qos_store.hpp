// qos_store.hpp: the server half of QoS level 2, "exactly once" (spec/sgc-protocols.md 2.8).
//
// A PUBLISH with qos level 2 and an id is stored under its key and answered with PUBREC; the
// PUBREL with the same id releases it (processed once, then the key is remembered as
// completed). The original forgets a message once released, so a client whose ACK was lost
// re-sends PUBLISH and PUBREL and the message is processed twice; here completed keys are
// remembered for a window (count and age, 2.8 [D]): a PUBLISH for a completed key gets PUBREC
// again without being stored, and the PUBREL that follows only gets its ACK.
//
// The store is the server's, not the connection's: a client that lost its connection between
// PUBREC and ACK re-sends on a new connection (a new session GUID), and its message must be
// neither lost nor processed twice there. Keys are (authenticated user, id), or (peer address,
// id) for an anonymous client: message ids are client-generated GUIDs, unique by construction;
// the user (or address) keeps one client's ids apart from another's, so a client that reuses
// another's id can at worst disturb clients of its own account or host. Every bound is a
// named option; the oldest entries go first.
//
// Threads: every member is safe from any thread (one mutex; QoS 2 traffic is not the hot path).
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace switchboard::protocols::sgc {

struct qos_store_options {
  std::size_t max_pending = 10000;                    // stored PUBLISHes awaiting their PUBREL
  std::chrono::milliseconds pending_max_age{300000};  // QoS.Timeout of the original (300 s)
  std::size_t completed_max_count = 10000;            // completed keys remembered
  std::chrono::milliseconds completed_max_age{600000};
};

class qos_store {
 public:
  using clock = std::chrono::steady_clock;
  explicit qos_store(qos_store_options options = {}) : options_(options) {}

  enum class stored : unsigned char { stored, already_completed };
  // A QoS 2 message arrived: store it (replacing an earlier copy) unless `key` completed.
  stored store(const std::string& key, std::string text, clock::time_point now = clock::now());
  // A PUBREL arrived: the stored text to process (and `key` is now completed), or nullopt
  // when nothing is stored under `key` (completed already, or unknown: only ACK).
  std::optional<std::string> release(const std::string& key, clock::time_point now = clock::now());

  std::size_t pending() const;
  std::size_t completed() const;

 private:
  void expire(clock::time_point now);

  struct pending_entry {
    std::string text;
    clock::time_point at;
  };
  qos_store_options options_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, pending_entry> pending_;
  std::deque<std::pair<std::string, clock::time_point>> pending_order_;  // may hold stale keys
  std::unordered_map<std::string, clock::time_point> completed_;
  std::deque<std::pair<std::string, clock::time_point>> completed_order_;
};

}  // namespace switchboard::protocols::sgc
