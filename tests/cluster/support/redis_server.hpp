// redis_server.hpp: a real redis-server for a test, on a free loopback port below 32768 in a
// temporary directory of its own, stopped (and the directory removed) by the destructor.
//
//   switchboard::test::redis_server redis;          // started; answers PING
//   cluster::redis_broker b{cluster::parse_redis_url(redis.url())};
//   redis.kill();                                    // SIGKILL: an outage
//   redis.restart();                                 // same port and directory
//
// append_only: the server logs every write and fsyncs it (appendfsync always), so a kill and
// restart loses nothing it acknowledged; without it a restart comes back empty (a new epoch).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace switchboard::test {

class redis_server {
 public:
  explicit redis_server(bool append_only = false);
  ~redis_server();
  redis_server(const redis_server&) = delete;
  redis_server& operator=(const redis_server&) = delete;

  std::uint16_t port() const noexcept { return port_; }
  std::string url() const;  // "redis://127.0.0.1:PORT"

  void kill();     // SIGKILL and reap; idempotent
  void restart();  // kill() if running, then start again on the same port and directory

 private:
  void start();
  bool answers_ping() const;

  bool append_only_;
  std::uint16_t port_ = 0;
  std::string dir_;
  pid_t pid_ = -1;
};

}  // namespace switchboard::test
