#include "support/redis_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

namespace switchboard::test {
namespace {

int connect_loopback(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// A port in 20000-32000 that nothing is bound to now (ephemeral ports start above).
std::uint16_t free_port() {
  std::mt19937 rng{std::random_device{}()};
  for (int i = 0; i < 200; ++i) {
    const auto port = static_cast<std::uint16_t>(20000 + rng() % 12000);
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    if (ok) return port;
  }
  throw std::runtime_error("redis_server: no free port in 20000-32000");
}

}  // namespace

redis_server::redis_server(bool append_only) : append_only_(append_only), port_(free_port()) {
  char tmpl[] = "/tmp/sb-redis-XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("redis_server: mkdtemp failed");
  dir_ = tmpl;
  start();
}

redis_server::~redis_server() {
  kill();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string redis_server::url() const {
  return "redis://127.0.0.1:" + std::to_string(port_);
}

void redis_server::start() {
  const std::string port = std::to_string(port_);
  std::vector<std::string> args{"/usr/bin/redis-server",
                                "--port",
                                port,
                                "--bind",
                                "127.0.0.1",
                                "--dir",
                                dir_,
                                "--save",
                                "",
                                "--daemonize",
                                "no",
                                "--appendonly",
                                append_only_ ? "yes" : "no"};
  if (append_only_) args.insert(args.end(), {"--appendfsync", "always"});
  args.insert(args.end(), {"--logfile", dir_ + "/redis.log"});
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("redis_server: fork failed");
  if (pid_ == 0) {
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!answers_ping()) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("redis_server: redis-server exited at start (see its log in " +
                               dir_ + ")");
    }
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("redis_server: no PONG within 10 s on port " + port);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

bool redis_server::answers_ping() const {
  const int fd = connect_loopback(port_);
  if (fd < 0) return false;
  timeval tv{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const char ping[] = "PING\r\n";
  char reply[16] = {};
  const bool ok = ::send(fd, ping, sizeof ping - 1, MSG_NOSIGNAL) == sizeof ping - 1 &&
                  ::recv(fd, reply, sizeof reply - 1, 0) > 0 &&
                  std::string(reply).rfind("+PONG", 0) == 0;
  ::close(fd);
  return ok;
}

void redis_server::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

void redis_server::restart() {
  kill();
  start();
}

}  // namespace switchboard::test
