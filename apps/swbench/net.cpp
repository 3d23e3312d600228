// net.cpp: see net.hpp.
#include "apps/swbench/net.hpp"

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace switchboard::swbench {

namespace {

bool parse_ipv4(const std::string& text, std::uint32_t& out) {
  in_addr a{};
  if (inet_pton(AF_INET, text.c_str(), &a) != 1) return false;
  out = ntohl(a.s_addr);
  return true;
}

}  // namespace

std::string parse_ws_url(const std::string& url, ws_target& out) {
  out.tls = url.compare(0, 6, "wss://") == 0;
  if (!out.tls && url.compare(0, 5, "ws://") != 0) {
    return "only ws:// and wss:// URLs are supported: " + url;
  }
  std::string rest = url.substr(out.tls ? 6 : 5);
  std::size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  out.path = slash == std::string::npos ? "/" : rest.substr(slash);

  std::size_t colon = authority.rfind(':');
  std::string host = colon == std::string::npos ? authority : authority.substr(0, colon);
  unsigned long port = out.tls ? 443 : 80;
  if (colon != std::string::npos) {
    char* end = nullptr;
    port = std::strtoul(authority.c_str() + colon + 1, &end, 10);
    if (*end != '\0' || port == 0 || port > 65535) return "bad port in " + url;
  }
  std::uint32_t ip = 0;
  if (host == "localhost") host = "127.0.0.1";
  if (!parse_ipv4(host, ip)) return "host must be an IPv4 address or localhost: " + url;

  out.addr = {};
  out.addr.sin_family = AF_INET;
  out.addr.sin_port = htons(static_cast<std::uint16_t>(port));
  out.addr.sin_addr.s_addr = htonl(ip);
  out.host = host + ":" + std::to_string(port);
  return {};
}

std::string parse_ip_range(const std::string& text, std::vector<std::uint32_t>& out) {
  std::size_t dash = text.find('-');
  std::uint32_t first = 0, last = 0;
  if (!parse_ipv4(text.substr(0, dash), first)) return "bad address in " + text;
  last = first;
  if (dash != std::string::npos && !parse_ipv4(text.substr(dash + 1), last)) {
    return "bad address in " + text;
  }
  if (last < first || last - first >= 65536) return "bad range (first..last, at most 65536)";
  out.clear();
  for (std::uint64_t ip = first; ip <= last; ++ip)
    out.push_back(static_cast<std::uint32_t>(ip));
  return {};
}

int start_connect(const sockaddr_in& dst, std::uint32_t source_ip) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (source_ip != 0) {
#ifdef IP_BIND_ADDRESS_NO_PORT
    ::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
#endif
    sockaddr_in src{};
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl(source_ip);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&src), sizeof src) != 0) {
      int e = errno;
      ::close(fd);
      return -e;
    }
  }
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&dst), sizeof dst) != 0 &&
      errno != EINPROGRESS) {
    int e = errno;
    ::close(fd);
    return -e;
  }
  return fd;
}

std::uint64_t raise_fd_limit(std::uint64_t wanted) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return 0;
  if (lim.rlim_cur >= wanted) return lim.rlim_cur;
  rlimit raised = lim;
  raised.rlim_cur = wanted;
  raised.rlim_max = std::max<rlim_t>(lim.rlim_max, wanted);
  if (::setrlimit(RLIMIT_NOFILE, &raised) != 0) {  // not allowed to raise the hard limit
    raised.rlim_max = lim.rlim_max;
    raised.rlim_cur = std::min<rlim_t>(wanted, lim.rlim_max);
    ::setrlimit(RLIMIT_NOFILE, &raised);
  }
  ::getrlimit(RLIMIT_NOFILE, &lim);
  return lim.rlim_cur;
}

bool enough_fds(std::uint64_t sockets) {
  const std::uint64_t wanted = sockets + 64;  // stdio, epoll, the report file, ...
  const std::uint64_t limit = raise_fd_limit(wanted);
  if (limit >= wanted) return true;
  std::fprintf(stderr,
               "swbench: %llu connections need %llu descriptors; the limit is %llu (raising the "
               "hard limit needs CAP_SYS_RESOURCE): run several swbench processes\n",
               static_cast<unsigned long long>(sockets), static_cast<unsigned long long>(wanted),
               static_cast<unsigned long long>(limit));
  return false;
}

}  // namespace switchboard::swbench
