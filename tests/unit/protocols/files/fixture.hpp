// fixture.hpp: what the Files server and client tests share: a files::server attached to a
// runtime::server on a free loopback port, a temporary directory (deleted afterwards) for the
// receive directories and the files sent, a recorder of events the test thread waits on, and
// a files::client whose events go to a recorder. Real sockets and real files; no mocks.
#pragma once

#include "protocols/files/client.hpp"
#include "protocols/files/server.hpp"
#include "runtime/server.hpp"
#include "support/ws_client.hpp"

#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace switchboard::test::files_support {

namespace files = switchboard::protocols::files;
namespace rt = switchboard::runtime;
using namespace std::chrono_literals;

// A fresh directory under /tmp, removed with everything in it when the object goes.
struct temp_dir {
  temp_dir() {
    char pattern[] = "/tmp/sb-files-test-XXXXXX";
    const char* made = ::mkdtemp(pattern);
    if (!made) throw std::runtime_error("mkdtemp failed");
    path = made;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string sub(const std::string& name) const { return path + "/" + name; }
  std::string path;
};

// Writes `size` pseudo-random bytes (seeded: reproducible) to `path`.
inline void make_file(const std::string& path, std::size_t size, std::uint64_t seed = 1) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  std::mt19937_64 rng(seed);
  std::vector<std::uint64_t> block(1 << 14);  // 128 KiB
  while (size > 0) {
    for (auto& w : block)
      w = rng();
    const std::size_t n = std::min(size, block.size() * sizeof(std::uint64_t));
    out.write(reinterpret_cast<const char*>(block.data()), static_cast<std::streamsize>(n));
    size -= n;
  }
}

inline std::string sha256_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  std::string sha = files::sha256_of_fd(fd);
  ::close(fd);
  return sha;
}

inline bool exists(const std::string& path) {
  return std::filesystem::exists(path);
}

// Names in a directory, sorted.
inline std::vector<std::string> listing(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

// Lines reported by events, for the test thread to wait on.
struct recorder {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<std::string> lines;

  void add(std::string line) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      lines.push_back(std::move(line));
    }
    changed.notify_all();
  }
  std::size_t count(const std::string& line) {
    std::lock_guard<std::mutex> lock(mutex);
    return static_cast<std::size_t>(std::count(lines.begin(), lines.end(), line));
  }
  bool wait_for(const std::string& line, std::size_t n = 1, std::chrono::milliseconds t = 10s) {
    std::unique_lock<std::mutex> lock(mutex);
    return changed.wait_for(lock, t, [&] {
      return static_cast<std::size_t>(std::count(lines.begin(), lines.end(), line)) >= n;
    });
  }
  // Waits for a line starting with `prefix`; returns it ("" on timeout).
  std::string wait_prefix(const std::string& prefix, std::chrono::milliseconds t = 10s) {
    std::unique_lock<std::mutex> lock(mutex);
    std::string found;
    changed.wait_for(lock, t, [&] {
      for (const auto& l : lines)
        if (l.compare(0, prefix.size(), prefix) == 0) {
          found = l;
          return true;
        }
      return false;
    });
    return found;
  }
  std::vector<std::string> starting_with(const std::string& prefix) {
    std::lock_guard<std::mutex> lock(mutex);
    std::vector<std::string> out;
    for (const auto& l : lines)
      if (l.compare(0, prefix.size(), prefix) == 0) out.push_back(l);
    return out;
  }
};

inline std::string describe(const files::transfer_error& e) {
  return std::string(e.side == files::direction::sending ? "send" : "receive") + " error " +
         e.text + (e.remote ? " (remote)" : "");
}

// A Files server on a loopback port. `setup` sets hooks before it starts; the default hooks
// record into `log` ("connect <guid>", "received <name> <size> <sha>", "sent <name>",
// "receive error <text>", ...).
struct server_fixture {
  using tune_fn = std::function<void(files::server_options&, rt::server_options&)>;
  using setup_fn = std::function<void(files::server&)>;

  explicit server_fixture(tune_fn tune = {}, setup_fn setup = {}) {
    files::server_options fo;
    fo.transfer.receive_dir = dir.sub("server");
    fo.relay_channel_files = true;
    for (int attempt = 0;; ++attempt) {
      port = free_port();
      rt::server_options so;
      so.threads = 2;
      rt::binding b;
      b.host = "127.0.0.1";
      b.port = port;
      so.bindings = {b};
      files::server_options fo2 = fo;
      if (tune) tune(fo2, so);
      try {
        transport = std::make_unique<rt::server>(so);
        protocol = std::make_unique<files::server>(*transport, fo2);
        record(*protocol);
        if (setup) setup(*protocol);
        protocol->attach("/files");
        transport->start();
        break;
      } catch (const rt::config_error&) {
        protocol.reset();
        transport.reset();
        if (attempt == 5) throw;
      }
    }
  }
  ~server_fixture() {
    if (transport) transport->stop();
    protocol.reset();
    transport.reset();
  }

  void record(files::server& s) {
    s.on_connect([this](const files::peer& p) {
      {
        std::lock_guard<std::mutex> lock(guid_mutex);
        guids.push_back(p.guid);
      }
      log.add("connect");
    });
    s.on_file_received([this](const files::peer&, const files::received_file& f) {
      log.add("received " + f.name + " " + std::to_string(f.size) + " " + f.sha256 +
              (f.channel.empty() ? "" : " channel " + f.channel) + (f.resumed ? " resumed" : ""));
    });
    s.on_file_sent(
        [this](const files::peer&, const files::sent_file& f) { log.add("sent " + f.name); });
    s.on_error(
        [this](const files::peer&, const files::transfer_error& e) { log.add(describe(e)); });
    s.on_subscribe(
        [this](const files::peer&, const std::string& ch) { log.add("subscribe " + ch); });
  }

  std::string url() const { return "ws://127.0.0.1:" + std::to_string(port) + "/files"; }
  std::string receive_dir() const { return dir.sub("server"); }
  // The GUID of the n-th connection (waits for it).
  std::string guid(std::size_t n = 0) {
    for (int i = 0; i < 500; ++i) {
      {
        std::lock_guard<std::mutex> lock(guid_mutex);
        if (guids.size() > n) return guids[n];
      }
      std::this_thread::sleep_for(10ms);
    }
    return {};
  }

  temp_dir dir;
  recorder log;
  std::mutex guid_mutex;
  std::vector<std::string> guids;
  std::unique_ptr<rt::server> transport;
  std::unique_ptr<files::server> protocol;
  std::uint16_t port = 0;
};

// A files::client whose events record into `log` ("connect", "reconnect", "received <name>
// <size> <sha>", "sent <name>", "send error <text> (remote)", "subscribed <ch>", ...).
struct client_peer {
  client_peer(
      const server_fixture& f, const std::string& receive_dir,
      const std::function<void(files::client_options&, files::client_events&)>& tweak = {}) {
    files::client_options o;
    o.transport.url = f.url();
    o.transport.connect_timeout_ms = 3000;
    o.transport.reconnect.enabled = true;
    o.transport.reconnect.initial_delay_ms = 100;
    o.transport.reconnect.max_delay_ms = 200;
    o.transfer.receive_dir = receive_dir;
    files::client_events ev;
    ev.on_connect = [this](const rt::connect_info& info) {
      log.add(info.reconnected ? "reconnect" : "connect");
    };
    ev.on_disconnect = [this](std::uint16_t code, std::string_view) {
      log.add("disconnect " + std::to_string(code));
    };
    ev.on_file_received = [this](const files::received_file& r) {
      log.add("received " + r.name + " " + std::to_string(r.size) + " " + r.sha256 +
              (r.channel.empty() ? "" : " channel " + r.channel));
    };
    ev.on_file_sent = [this](const files::sent_file& s) { log.add("sent " + s.name); };
    ev.on_error = [this](const files::transfer_error& e) { log.add(describe(e)); };
    ev.on_subscribed = [this](std::string_view ch) { log.add("subscribed " + std::string(ch)); };
    ev.on_unsubscribed = [this](std::string_view ch) {
      log.add("unsubscribed " + std::string(ch));
    };
    ev.on_connection_error = [this](const std::error_code&, const std::string& what) {
      log.add("connection error " + what);
    };
    if (tweak) tweak(o, ev);
    c = std::make_unique<files::client>(o, ev);
  }
  void open() {
    c->connect();
    BOOST_REQUIRE(log.wait_for("connect"));
  }

  recorder log;  // declared first: it outlives the client
  std::unique_ptr<files::client> c;
};

}  // namespace switchboard::test::files_support
