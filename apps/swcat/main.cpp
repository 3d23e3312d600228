// swcat: a command-line WebSocket client on runtime::websocket_client.
//
//   swcat [options] ws://host:port/path
//
// Each line of standard input is sent as a message; each message received is written to
// standard output on a line of its own. At the end of input swcat closes with 1000 and exits
// when the close handshake is done. Events go to standard error, one line each, so scripts
// can follow them:
//
//   swcat: connected url=ws://... subprotocol=chat extensions=permessage-deflate reconnected=0
//   swcat: fragment 16 bytes
//   swcat: disconnected code=1000 reason=bye
//   swcat: error: <what failed>            (final=1 when no attempt follows)
//
// Exit status: 0 after a clean close (1000 or 1005), 1 when the connection failed or ended
// abnormally, 2 for bad arguments.
#include "runtime/client.hpp"
#include "runtime/log.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace rt = switchboard::runtime;
namespace ws = switchboard::runtime::websocket;

namespace {

const char* usage =
    "usage: swcat [options] URL\n"
    "  URL                     ws://host[:port]/path or wss://...; user:password@ sends Basic\n"
    "  --subprotocol NAME      offer a subprotocol (repeatable, in order of preference)\n"
    "  --header 'Name: value'  add a request header (repeatable)\n"
    "  --origin ORIGIN         send an Origin header\n"
    "  --user U --password P   Basic credentials\n"
    "  --bearer TOKEN          Authorization: Bearer TOKEN (a JWT)\n"
    "  --deflate               offer permessage-deflate (RFC 7692)\n"
    "  --no-context-takeover   with --deflate: ask both sides to reset per message\n"
    "  --max-window-bits N     with --deflate: our window and the one asked of the server\n"
    "  --ca FILE               CA certificates (PEM) to verify the server with\n"
    "  --insecure              do not verify the server's certificate (tests only)\n"
    "  --cert FILE --key FILE  a client certificate\n"
    "  --proxy URL             http://[user:pass@]host:port or socks5://[user:pass@]host:port\n"
    "  --connect-timeout MS    default 10000\n"
    "  --heartbeat MS          ping this often; --heartbeat-timeout MS: drop without a pong\n"
    "  --fragment N            send messages in frames of at most N bytes\n"
    "  --report-fragments      print an event for each received fragment\n"
    "  --reconnect             reconnect with backoff; --max-attempts N (0 = forever)\n"
    "  --reconnect-delay MS    first reconnect delay (default 500)\n"
    "  --on-connect-send TEXT  send TEXT on every (re)connect, before input (the resubscribe\n"
    "                          hook; repeatable)\n"
    "  --binary                send input lines as binary messages\n"
    "  --count N               exit after receiving N messages\n"
    "  --keep-open             stay connected after the end of input (until --count or a close)\n"
    "  --verbose               log the runtime's debug lines\n";

[[noreturn]] void bad(const std::string& why) {
  std::fprintf(stderr, "swcat: %s\n%s", why.c_str(), usage);
  std::exit(2);
}

unsigned long number(const char* text, const char* flag) {
  char* end = nullptr;
  const unsigned long v = std::strtoul(text, &end, 10);
  if (!*text || *end) bad(std::string(flag) + " wants a number, not '" + text + "'");
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  rt::client_options o;
  bool binary = false, keep_open = false;
  std::vector<std::string> on_connect_send;
  unsigned long count = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto value = [&]() -> const char* {
      if (i + 1 >= argc) bad(a + " needs a value");
      return argv[++i];
    };
    if (a == "--subprotocol") {
      o.subprotocols.push_back(value());
    } else if (a == "--header") {
      const std::string h = value();
      const auto colon = h.find(':');
      if (colon == std::string::npos) bad("--header wants 'Name: value'");
      std::string v = h.substr(colon + 1);
      v.erase(0, v.find_first_not_of(' '));
      o.headers.emplace_back(h.substr(0, colon), v);
    } else if (a == "--origin") {
      o.origin = value();
    } else if (a == "--user") {
      o.user = value();
    } else if (a == "--password") {
      o.password = value();
    } else if (a == "--bearer") {
      o.bearer_token = value();
    } else if (a == "--deflate") {
      o.permessage_deflate = true;
    } else if (a == "--no-context-takeover") {
      o.deflate.client_no_context_takeover = o.deflate.server_no_context_takeover = true;
    } else if (a == "--max-window-bits") {
      const auto bits = number(value(), "--max-window-bits");
      if (bits < 8 || bits > 15) bad("--max-window-bits is 8..15");
      o.deflate.client_max_window_bits = o.deflate.server_max_window_bits =
          static_cast<std::uint8_t>(bits);
    } else if (a == "--ca") {
      o.tls.ca_file = value();
    } else if (a == "--insecure") {
      o.tls.verify_peer = false;
    } else if (a == "--cert") {
      o.tls.certificate_file = value();
    } else if (a == "--key") {
      o.tls.private_key_file = value();
    } else if (a == "--proxy") {
      std::string why;
      auto p = rt::proxy_options::parse(value(), &why);
      if (!p) bad("--proxy: " + why);
      o.proxy = *p;
    } else if (a == "--connect-timeout") {
      o.connect_timeout_ms = static_cast<std::uint32_t>(number(value(), "--connect-timeout"));
    } else if (a == "--heartbeat") {
      o.heartbeat_interval_ms = static_cast<std::uint32_t>(number(value(), "--heartbeat"));
    } else if (a == "--heartbeat-timeout") {
      o.heartbeat_timeout_ms = static_cast<std::uint32_t>(number(value(), "--heartbeat-timeout"));
    } else if (a == "--fragment") {
      o.fragment_size = number(value(), "--fragment");
    } else if (a == "--report-fragments") {
      o.report_fragments = true;
    } else if (a == "--reconnect") {
      o.reconnect.enabled = true;
    } else if (a == "--max-attempts") {
      o.reconnect.max_attempts = static_cast<unsigned>(number(value(), "--max-attempts"));
    } else if (a == "--reconnect-delay") {
      o.reconnect.initial_delay_ms =
          static_cast<std::uint32_t>(number(value(), "--reconnect-delay"));
    } else if (a == "--on-connect-send") {
      on_connect_send.push_back(value());
    } else if (a == "--binary") {
      binary = true;
    } else if (a == "--count") {
      count = number(value(), "--count");
    } else if (a == "--keep-open") {
      keep_open = true;
    } else if (a == "--verbose") {
      rt::log::set_level(rt::log::level::debug);
    } else if (a == "-h" || a == "--help") {
      std::fputs(usage, stdout);
      return 0;
    } else if (!a.empty() && a[0] == '-') {
      bad("unknown option " + a);
    } else if (o.url.empty()) {
      o.url = a;
    } else {
      bad("one URL only");
    }
  }
  if (o.url.empty()) bad("no URL");

  std::mutex out;  // events come from the io thread, input from this one
  std::atomic<bool> finished{false};
  std::atomic<int> status{1};
  std::atomic<unsigned long> received{0};
  std::shared_ptr<rt::websocket_client> client;

  rt::client_events ev;
  ev.on_connect = [&](const rt::connect_info& info) {
    {
      std::lock_guard<std::mutex> lock(out);
      std::fprintf(stderr, "swcat: connected url=%s subprotocol=%s extensions=%s reconnected=%d\n",
                   info.url.c_str(), info.subprotocol.c_str(), info.extensions.c_str(),
                   info.reconnected ? 1 : 0);
    }
    for (const auto& text : on_connect_send)
      client->send_text(text);  // on the io thread: queued before anything else
  };
  ev.on_message = [&](ws::opcode, std::string_view payload) {
    {
      std::lock_guard<std::mutex> lock(out);
      std::fwrite(payload.data(), 1, payload.size(), stdout);
      std::fputc('\n', stdout);
      std::fflush(stdout);
    }
    if (count && ++received == count) client->close(ws::close_code::normal, "done");
  };
  ev.on_fragment = [&](ws::opcode, std::string_view payload) {
    std::lock_guard<std::mutex> lock(out);
    std::fprintf(stderr, "swcat: fragment %zu bytes\n", payload.size());
  };
  ev.on_disconnect = [&](std::uint16_t code, std::string_view reason) {
    {
      std::lock_guard<std::mutex> lock(out);
      std::fprintf(stderr, "swcat: disconnected code=%u reason=%.*s\n", code,
                   static_cast<int>(reason.size()), reason.data());
    }
    status = (code == ws::close_code::normal || code == ws::close_code::no_status) ? 0 : 1;
    if (client->current_state() == rt::websocket_client::state::closing ||
        !client->options().reconnect.enabled)
      finished = true;
  };
  ev.on_error = [&](const std::error_code&, const std::string& what, bool final) {
    {
      std::lock_guard<std::mutex> lock(out);
      std::fprintf(stderr, "swcat: error: %s%s\n", what.c_str(), final ? " (final=1)" : "");
    }
    if (final) {
      status = 1;
      finished = true;
    }
  };

  rt::io_pool pool(1);
  pool.start();
  try {
    client = rt::websocket_client::make(pool, o, ev);
  } catch (const std::exception& e) {
    bad(e.what());
  }
  client->connect();

  // Standard input on its own thread: this one waits for the end.
  std::thread input([&] {
    std::string line;
    while (!finished && std::getline(std::cin, line)) {
      for (int waited = 0; !client->is_open() && !finished && waited < 30000; waited += 10)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      if (finished) return;
      client->send(binary ? ws::opcode::binary : ws::opcode::text, line);
    }
    if (!keep_open && !finished) {
      while (!client->is_open() && !finished)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      client->close(ws::close_code::normal, "end of input");
    }
  });
  input.detach();  // a blocked getline must not keep the process alive
  while (!finished)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::fflush(stdout);
  pool.stop();
  pool.join();
  std::_Exit(status);  // the input thread may still sit in getline
}
