// files_transfer: the Files protocol (protocols/files/) in one process. A files::server on
// 127.0.0.1:<port>/files receives into a directory; a files::client connects, sends a file at
// QoS 2 (receiver-driven, resumable), and the server sends it back to the client, which
// receives into a second directory. Both SHA-256s are printed.
//
//   build/bin/files_transfer [FILE] [PORT]      # default: a 5 MB demo file, port 18090
//
// The received files stay under /tmp/files_transfer.<pid>/ (server/ and client/).
#include "protocols/files/client.hpp"
#include "protocols/files/server.hpp"
#include "runtime/server.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <string>

namespace files = switchboard::protocols::files;
namespace rt = switchboard::runtime;

int main(int argc, char** argv) {
  const std::string root = "/tmp/files_transfer." + std::to_string(::getpid());
  std::string path = argc > 1 ? argv[1] : root + "-demo.bin";
  const auto port = static_cast<std::uint16_t>(argc > 2 ? std::stoi(argv[2]) : 18090);
  if (argc <= 1) {  // a demo file: 5 MB of a repeating pattern
    std::ofstream out(path, std::ios::binary);
    for (int i = 0; i < 5 * 1000 * 1000; ++i)
      out.put(static_cast<char>(i * 31 % 251));
  }

  std::mutex mutex;
  std::condition_variable changed;
  int done = 0;  // 1: the server has the file; 2: the client has it back
  auto step = [&] {
    std::lock_guard<std::mutex> lock(mutex);
    ++done;
    changed.notify_all();
  };

  // The server: the transport (listener, io threads) and the Files protocol on /files.
  rt::server_options so;
  so.threads = 1;
  rt::binding b;
  b.host = "127.0.0.1";
  b.port = port;
  so.bindings = {b};
  rt::server transport(so);
  ::mkdir(root.c_str(), 0755);  // the servers and clients create one level: server/, client/
  files::server_options fo;
  fo.transfer.receive_dir = root + "/server";
  files::server server(transport, fo);
  std::string client_guid;
  server.on_connect([&](const files::peer& p) {
    std::lock_guard<std::mutex> lock(mutex);
    client_guid = p.guid;
  });
  server.on_file_received([&](const files::peer& p, const files::received_file& f) {
    std::printf("server received %s (%lld bytes, sha256 %s)\n", f.path.c_str(),
                static_cast<long long>(f.size), f.sha256.c_str());
    // Send it back to the client that uploaded it (any thread may call send_file).
    files::send_options o;
    o.qos = files::qos_level::level1;
    server.send_file(p.guid, f.path, o);
    step();
  });
  server.on_error([](const files::peer&, const files::transfer_error& e) {
    std::printf("server error: %s\n", e.text.c_str());
  });
  server.attach("/files");
  transport.start();

  // The client.
  files::client_options co;
  co.transport.url = "ws://127.0.0.1:" + std::to_string(port) + "/files";
  co.transport.reconnect.enabled = true;
  co.transfer.receive_dir = root + "/client";
  files::client_events ev;
  ev.on_progress = [](const files::transfer_progress& p) {
    if (p.side == files::direction::sending && p.bytes == p.size)
      std::printf("client sent the last chunk of %s\n", p.name.c_str());
  };
  ev.on_file_sent = [](const files::sent_file& f) {
    std::printf("client: server confirmed %s\n", f.name.c_str());
  };
  ev.on_file_received = [&](const files::received_file& f) {
    std::printf("client received %s (%lld bytes, sha256 %s)\n", f.path.c_str(),
                static_cast<long long>(f.size), f.sha256.c_str());
    step();
  };
  ev.on_error = [](const files::transfer_error& e) {
    std::printf("client error: %s\n", e.text.c_str());
  };
  files::client client(co, ev);
  client.connect();

  files::send_options o;
  o.qos = files::qos_level::level2;  // the server pulls chunk by chunk; a cut resumes
  o.chunk_size = 256 * 1024;
  const files::send_result r = client.send_file(path, o);
  if (!r.ok()) {
    std::fprintf(stderr, "cannot send %s: %s\n", path.c_str(), r.error.c_str());
    transport.stop();
    return 1;
  }
  std::printf("sending %s as FileId %s\n", path.c_str(), r.file_id.c_str());

  std::unique_lock<std::mutex> lock(mutex);
  const bool ok = changed.wait_for(lock, std::chrono::seconds(30), [&] { return done == 2; });
  lock.unlock();
  transport.stop();
  if (argc <= 1) ::unlink(path.c_str());
  std::printf("%s\n", ok ? "done" : "timed out");
  return ok ? 0 : 1;
}
