// redis_broker.hpp: the broker on Redis 7 (broker.hpp), through hiredis's async API driven by
// an io thread of our own (one asio::io_context and one thread: Redis traffic never shares a
// loop with client sockets, and a slow Redis never stalls one).
//
// Two connections: one for commands (pipelined, in order) and one in subscribe mode. Topic T
// is the Redis channel "<prefix>t:T"; a logged publish runs one Lua script (loaded once,
// EVALSHA) that INCRs "<prefix>seq:T", XADDs the entry to the stream "<prefix>log:T" with the
// id "<seq>-0" (exact MAXLEN, and MINID from the age), and PUBLISHes it with its sequence and
// the log's epoch ("<prefix>epoch:T", created on first use; a new epoch means Redis lost the
// log). Every PUBLISH carries a small frame (redis_broker.cpp) so that the subscriber can
// tell a logged message from a plain one, and drop (and count) bytes that are neither. Keys
// are "<prefix>k:KEY" and hashes "<prefix>h:KEY" (del() removes both, as local_broker does).
//
// Why not sharded pub/sub (SSUBSCRIBE, Redis 7): Debian 12's hiredis 0.14 predates it, and its
// async layer aborts on an `smessage` push it does not know. With one Redis (or Sentinel) the
// classic per-channel SUBSCRIBE is equivalent; sharding matters only for Redis Cluster.
//
// The link: connect with a timeout, reconnect with exponential backoff (100 ms to 5 s, ±20%
// jitter), resubscribe every topic, reload the scripts, then report `up` (on_link). A Redis
// that stops answering (PING unanswered for 5 s) counts as lost. Requests made while down fail
// at once with broker_error::unavailable; requests in flight when the link drops fail with it
// too, so a caller never waits on a dead link. subscribe()'s `done` answers when Redis
// confirmed the SUBSCRIBE, or `unavailable` if the link is down (the topic is kept, and
// subscribed again when the link comes back).
#pragma once

#include "cluster/broker.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace switchboard::cluster {

struct redis_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 6379;
  int db = 0;
  std::string key_prefix = "sb:";
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds backoff_min{100};
  std::chrono::milliseconds backoff_max{5000};
  // Unsent output allowed on the command connection (Redis slower than its callers, or
  // hanging): beyond it new requests fail with `unavailable` instead of growing memory.
  std::size_t max_pending_output = 64u << 20;
};

// "redis://HOST:PORT[/DB]" (PORT defaults to 6379, DB to 0). Throws runtime::config_error.
redis_options parse_redis_url(const std::string& url);

class redis_broker final : public broker {
 public:
  explicit redis_broker(redis_options options);
  ~redis_broker() override;

  void start() override;
  void stop() override;
  void subscribe(const std::string& topic, message_handler h, done_handler done = {}) override;
  void unsubscribe(const std::string& topic) override;
  void publish(const std::string& topic, std::string payload, done_handler done = {}) override;
  void publish_logged(const std::string& topic, std::string payload, log_retention retention,
                      logged_handler done) override;
  void read_log(const std::string& topic, std::uint64_t after, std::size_t max,
                log_handler done) override;
  void set(const std::string& key, std::string value, std::chrono::milliseconds ttl,
           done_handler done = {}) override;
  void get(const std::string& key, value_handler done) override;
  void del(const std::string& key, done_handler done = {}) override;
  void hset(const std::string& key, const std::string& field, std::string value,
            done_handler done = {}) override;
  void hdel(const std::string& key, const std::string& field, done_handler done = {}) override;
  void hgetall(const std::string& key, hash_handler done) override;
  void on_link(link_handler h) override;
  broker_stats stats() const override;

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace switchboard::cluster
