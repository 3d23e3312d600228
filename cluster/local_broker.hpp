// local_broker.hpp: the broker in one process (broker.hpp), the default when no --cluster is
// given: a single node needs nothing installed. Several local_brokers made on one `fabric` are
// nodes of one in-process cluster (what the bridges' tests and examples use): a publish on one
// reaches the subscribers of all, and they share keys, hashes and logs.
//
// The fabric runs every handler of its brokers on one thread of its own, in the order the
// operations were made, as Redis would: a handler never runs on the caller's stack. Keys with a
// TTL expire on that thread's clock. The link is always up.
#pragma once

#include "cluster/broker.hpp"

#include <memory>

namespace switchboard::cluster {

class local_broker final : public broker {
 public:
  class fabric;  // shared state and the handler thread of one in-process cluster
  static std::shared_ptr<fabric> make_fabric();

  // A broker on a fabric of its own (a one-node cluster).
  local_broker();
  // A broker on `shared`: one node of an in-process cluster.
  explicit local_broker(std::shared_ptr<fabric> shared);
  ~local_broker() override;

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

 private:
  std::shared_ptr<fabric> fabric_;
  std::uint64_t id_;  // this broker's subscriptions on the fabric
};

}  // namespace switchboard::cluster
