// floor_server.cpp: the least work any WebSocket server must do on this machine, so every
// benchmark scenario can say how far each server is from the machine's limit.
//
// It is not a product and not a peer people deploy: it is a measuring instrument, the
// WebSocket counterpart of "how fast can the kernel move these bytes". One thread, one
// level-triggered epoll set (the only blocking call), accept4, and no protocol beyond RFC 6455's
// minimum: the upgrade (Sec-WebSocket-Accept), unmasking, ping/pong and close. No locks, no
// timers; input is parsed in one shared buffer, and a client's output buffer is freed when it
// drains under 1 KiB (so an idle client holds none; that costs one small malloc per turn with
// output, which perf puts far below the send() it feeds).
//
//   --mode echo       every message goes back to its sender (the echo, idle and handshake
//                     scenarios; swbench's echo, connections and handshakes modes)
//   --mode broadcast  every message is encoded once and appended to every other open client's
//                     output (swbench's fanout mode, `raw` dialect, as ws_broadcast_server.js;
//                     the sender gets nothing back)
//
// Either way output is corked: what a turn produces for a client leaves in one send() at the
// end of the turn, so pipelined requests, or publishes that arrive in one turn, cost one write
// per client (uWebSockets' cork and drain-before-sleep).
//
// No permessage-deflate, no fragmentation (a fragmented message is answered with close 1003),
// no extensions, no subprotocols, no timeouts, no validation of UTF-8: what a real server adds on
// top is what the gap between this and the server measured beside it costs. A client whose
// output passes 64 MiB is dropped (bounded memory under a stalled reader).
//
// Stand-alone on purpose (no Switchboard code): OpenSSL for SHA-1, the rest is libc.
//
//   floor_server [--listen 127.0.0.1:PORT] [--mode echo|broadcast]
#include <openssl/sha.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr std::size_t max_output = 64u << 20;   // per subscriber; past it the subscriber is dropped
constexpr std::size_t max_request = 16u << 10;  // upgrade request
constexpr std::size_t max_frame = 192u << 10;   // larger frames close the client

struct client {
  int fd = -1;
  bool open = false;    // upgraded
  bool queued = false;  // in the turn's write list
  std::string in;       // an incomplete frame or request (usually empty)
  std::string out;      // unsent output
  std::size_t out_at = 0;
  bool want_write = false;  // EPOLLOUT armed
};

int epfd = -1;
bool echo_mode = false;
std::vector<client*> clients;  // open (upgraded) clients
std::vector<client*> to_write;
std::vector<client*> closed;  // closed this turn: freed at its end (its events may name them)
volatile std::sig_atomic_t stop_flag = 0;

std::string base64(const unsigned char* data, std::size_t size) {
  static constexpr char table[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t i = 0; i < size; i += 3) {
    const unsigned v =
        data[i] << 16 | (i + 1 < size ? data[i + 1] << 8 : 0) | (i + 2 < size ? data[i + 2] : 0);
    out += table[v >> 18 & 63];
    out += table[v >> 12 & 63];
    out += i + 1 < size ? table[v >> 6 & 63] : '=';
    out += i + 2 < size ? table[v & 63] : '=';
  }
  return out;
}

// The value of header `name` (case-insensitive), or empty.
std::string_view header(std::string_view request, std::string_view name) {
  std::size_t at = request.find("\r\n");
  while (at != std::string_view::npos && at + 2 < request.size()) {
    const std::size_t begin = at + 2;
    const std::size_t end = request.find("\r\n", begin);
    if (end == std::string_view::npos) break;
    const std::string_view line = request.substr(begin, end - begin);
    const std::size_t colon = line.find(':');
    if (colon == name.size() && strncasecmp(line.data(), name.data(), name.size()) == 0) {
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
        value.remove_prefix(1);
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
        value.remove_suffix(1);
      return value;
    }
    at = end;
  }
  return {};
}

void queue_write(client* c) {
  if (!c->queued) {
    c->queued = true;
    to_write.push_back(c);
  }
}

void close_client(client* c) {
  if (c->fd < 0) return;
  ::close(c->fd);  // also leaves the epoll set
  c->fd = -1;
  if (c->open) {
    for (auto& p : clients)
      if (p == c) {
        p = clients.back();
        clients.pop_back();
        break;
      }
  }
  c->open = false;
  closed.push_back(c);
}

void append_frame(std::string& out, std::uint8_t opcode, const char* data, std::size_t size) {
  char head[10];
  std::size_t n = 0;
  head[n++] = static_cast<char>(0x80 | opcode);
  if (size < 126) {
    head[n++] = static_cast<char>(size);
  } else if (size < 65536) {
    head[n++] = 126;
    head[n++] = static_cast<char>(size >> 8);
    head[n++] = static_cast<char>(size);
  } else {
    head[n++] = 127;
    for (int i = 7; i >= 0; --i)
      head[n++] = static_cast<char>(static_cast<std::uint64_t>(size) >> (8 * i));
  }
  out.append(head, n);
  out.append(data, size);
}

void broadcast(client* from, std::uint8_t opcode, const char* data, std::size_t size) {
  std::string frame;  // encoded once, copied into each subscriber's buffer
  append_frame(frame, opcode, data, size);
  for (client* c : clients) {
    if (c == from) continue;
    if (c->out.size() - c->out_at + frame.size() > max_output) {
      close_client(c);  // a stalled reader: drop it rather than grow without bound
      continue;
    }
    c->out += frame;
    queue_write(c);
  }
}

void send_close(client* c, std::uint16_t code) {
  const char body[2] = {static_cast<char>(code >> 8), static_cast<char>(code)};
  append_frame(c->out, 0x8, body, 2);
  queue_write(c);
}

// XORs the payload with the 4-byte key, eight bytes at a time (what any fast server does).
void unmask(char* payload, std::uint64_t len, const unsigned char* key) {
  std::uint32_t k4;
  std::memcpy(&k4, key, 4);
  const std::uint64_t k8 = static_cast<std::uint64_t>(k4) << 32 | k4;
  std::uint64_t i = 0;
  for (; i + 8 <= len; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, payload + i, 8);
    w ^= k8;
    std::memcpy(payload + i, &w, 8);
  }
  for (; i < len; ++i)
    payload[i] = static_cast<char>(payload[i] ^ key[i & 3]);
}

// Parses every complete frame in data[0, size) (unmasking in place). Returns the bytes consumed,
// or -1 when the client is to be closed now.
long parse_frames(client* c, char* data, std::size_t size) {
  std::size_t at = 0;
  for (;;) {
    const std::size_t left = size - at;
    if (left < 2) break;
    const auto* p = reinterpret_cast<unsigned char*>(data + at);
    const bool fin = p[0] & 0x80;
    const std::uint8_t opcode = p[0] & 0x0f;
    if (!(p[1] & 0x80)) return -1;  // clients must mask
    std::uint64_t len = p[1] & 0x7f;
    std::size_t head = 2;
    if (len == 126) {
      if (left < 4) break;
      len = static_cast<std::uint64_t>(p[2]) << 8 | p[3];
      head = 4;
    } else if (len == 127) {
      if (left < 10) break;
      len = 0;
      for (int i = 0; i < 8; ++i)
        len = len << 8 | p[2 + i];
      head = 10;
    }
    if (len > max_frame) return -1;
    if (left < head + 4 + len) break;
    char* payload = data + at + head + 4;
    unmask(payload, len, p + head);
    at += head + 4 + len;
    if (!fin || opcode == 0x0) {
      send_close(c, 1003);  // fragmentation is outside this instrument's scope
      return static_cast<long>(size);
    }
    switch (opcode) {
      case 0x1:
      case 0x2:
        if (echo_mode) {
          append_frame(c->out, opcode, payload, len);
          queue_write(c);
        } else {
          broadcast(c, opcode, payload, len);
        }
        break;
      case 0x8:
        send_close(c, 1000);
        return static_cast<long>(size);  // nothing after a close counts
      case 0x9:
        append_frame(c->out, 0xA, payload, len);
        queue_write(c);
        break;
      case 0xA:
        break;
      default:
        return -1;
    }
  }
  return static_cast<long>(at);
}

// The upgrade request in data[0, size). Returns the bytes consumed (0: incomplete), or -1.
long upgrade(client* c, const char* data, std::size_t size) {
  const std::string_view text(data, size);
  const std::size_t end = text.find("\r\n\r\n");
  if (end == std::string_view::npos) return size <= max_request ? 0 : -1;
  const std::string_view key = header(text.substr(0, end + 4), "Sec-WebSocket-Key");
  if (key.empty()) return -1;
  std::string accept_input(key);
  accept_input += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(accept_input.data()), accept_input.size(), digest);
  c->out +=
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: " +
      base64(digest, sizeof digest) + "\r\n\r\n";
  queue_write(c);
  c->open = true;
  clients.push_back(c);
  return static_cast<long>(end + 4);
}

// Reads into one buffer shared by all clients and parses there; only an incomplete frame (or
// request) is kept in the client's own buffer, so an idle client holds no input buffer.
void on_readable(client* c) {
  static char buffer[max_frame + (64u << 10)];  // a kept frame plus a full read
  for (;;) {
    const std::size_t kept = c->in.size();
    if (kept > 0) std::memcpy(buffer, c->in.data(), std::min(kept, sizeof buffer));
    if (kept >= sizeof buffer) return close_client(c);  // a frame larger than we parse in place
    const ssize_t n = ::recv(c->fd, buffer + kept, sizeof buffer - kept, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n <= 0) return close_client(c);  // EOF or error
    const std::size_t size = kept + static_cast<std::size_t>(n);
    std::size_t at = 0;
    if (!c->open) {
      const long used = upgrade(c, buffer, size);
      if (used < 0) return close_client(c);
      at = static_cast<std::size_t>(used);
    }
    if (c->open) {
      const long used = parse_frames(c, buffer + at, size - at);
      if (used < 0) return close_client(c);
      at += static_cast<std::size_t>(used);
    }
    if (at == size) {
      std::string().swap(c->in);
    } else {
      c->in.assign(buffer + at, size - at);
    }
    if (static_cast<std::size_t>(n) < sizeof buffer - kept) return;  // drained for now
  }
}

void write_out(client* c) {
  while (c->fd >= 0 && c->out_at < c->out.size()) {
    const ssize_t n =
        ::send(c->fd, c->out.data() + c->out_at, c->out.size() - c->out_at, MSG_NOSIGNAL);
    if (n > 0) {
      c->out_at += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!c->want_write) {
        c->want_write = true;
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT;
        ev.data.ptr = c;
        ::epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
      }
      return;
    }
    return close_client(c);
  }
  if (c->fd < 0) return;
  // Small buffers are freed (an idle client holds no output buffer); a busy client's large one
  // is kept for its next turn (regrowing it every turn cost the floor 12% in malloc).
  if (c->out.capacity() < 1024)
    std::string().swap(c->out);
  else
    c->out.clear();
  c->out_at = 0;
  if (c->want_write) {
    c->want_write = false;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = c;
    ::epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
  }
}

bool parse_listen(const char* text, sockaddr_in& addr) {
  const char* colon = std::strrchr(text, ':');
  if (colon == nullptr) return false;
  const std::string host(text, colon);
  addr = sockaddr_in{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(std::atoi(colon + 1)));
  return inet_pton(AF_INET, host.c_str(), &addr.sin_addr) == 1;
}

}  // namespace

int main(int argc, char** argv) {
  const char* listen_at = "127.0.0.1:18092";
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
      listen_at = argv[++i];
    } else if (std::strcmp(argv[i], "--mode") == 0 && i + 1 < argc &&
               (std::strcmp(argv[i + 1], "echo") == 0 ||
                std::strcmp(argv[i + 1], "broadcast") == 0)) {
      echo_mode = std::strcmp(argv[++i], "echo") == 0;
    } else {
      std::fprintf(stderr, "usage: floor_server [--listen HOST:PORT] [--mode echo|broadcast]\n");
      return 2;
    }
  }
  sockaddr_in addr;
  if (!parse_listen(listen_at, addr)) {
    std::fprintf(stderr, "floor_server: bad --listen '%s' (want IPv4:PORT)\n", listen_at);
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGTERM, [](int) { stop_flag = 1; });
  std::signal(SIGINT, [](int) { stop_flag = 1; });

  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listener, 4096) != 0) {
    std::fprintf(stderr, "floor_server: cannot listen on %s: %s\n", listen_at,
                 std::strerror(errno));
    return 1;
  }
  epfd = ::epoll_create1(EPOLL_CLOEXEC);
  epoll_event lev{};
  lev.events = EPOLLIN;
  lev.data.ptr = nullptr;  // null: the listener
  ::epoll_ctl(epfd, EPOLL_CTL_ADD, listener, &lev);
  std::fprintf(stderr, "floor_server: listening on %s\n", listen_at);

  std::vector<epoll_event> ready(1024);
  while (!stop_flag) {
    const int n = ::epoll_wait(epfd, ready.data(), static_cast<int>(ready.size()), 1000);
    for (int i = 0; i < n; ++i) {
      auto* c = static_cast<client*>(ready[i].data.ptr);
      if (c == nullptr) {
        for (int k = 0; k < 256; ++k) {  // a bounded batch of accepts per turn
          const int fd = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (fd < 0) break;
          ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          auto* fresh = new client;
          fresh->fd = fd;
          epoll_event ev{};
          ev.events = EPOLLIN;
          ev.data.ptr = fresh;
          ::epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
        }
        continue;
      }
      if (c->fd < 0) continue;
      if (ready[i].events & EPOLLOUT) write_out(c);
      if (c->fd >= 0 && ready[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(c);
    }
    // End of the turn: one write per client with output.
    for (client* c : to_write) {
      c->queued = false;
      if (c->fd >= 0 && !c->want_write) write_out(c);
    }
    to_write.clear();
    for (client* c : closed)
      delete c;
    closed.clear();
  }
  return 0;
}
