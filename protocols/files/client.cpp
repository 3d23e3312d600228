// client.cpp: the Files client (client.hpp). Everything in `impl` below the "io thread"
// marker runs on the one io thread; the public methods post to it.
#include "protocols/files/client.hpp"

#include "protocols/sgc/codec.hpp"
#include "runtime/config.hpp"
#include "runtime/error.hpp"

#include <sys/stat.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <set>
#include <utility>
#include <vector>

namespace switchboard::protocols::files {

namespace ws = runtime::websocket;
namespace sgcp = switchboard::protocols::sgc;

namespace {

std::vector<std::string> split_list(std::string_view list) {
  std::vector<std::string> out;
  while (!list.empty()) {
    const auto comma = list.find(',');
    const std::string_view item = list.substr(0, comma);
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return out;
}

std::string subscribe_text(const std::string& channel, bool subscribe) {
  std::string out;
  if (subscribe) {
    sgcp::subscribe m;
    m.channel = channel;
    sgcp::encode_subscribe(m, out);
  } else {
    sgcp::unsubscribe m;
    m.channel = channel;
    sgcp::encode_unsubscribe(m, out);
  }
  return out;
}

}  // namespace

struct client::impl {
  impl(client_options o, client_events e);

  template <class F>
  void post(F&& f) {
    pool.at(0).post(std::forward<F>(f));
  }

  // Declared first, destroyed last: handlers capture `this`, and none runs after the
  // destructor joined it.
  runtime::io_pool pool{1};
  client_options options;
  client_events events;
  std::shared_ptr<runtime::websocket_client> ws;
  std::shared_ptr<endpoint> ep;

  // --- Io thread only ---
  std::set<std::string> channels;

  // --- Any thread ---
  std::mutex mutex;
  std::condition_variable changed;
  bool disconnected = true;  // guarded by mutex: for the destructor's wait
  std::atomic<bool> open{false};
  std::atomic<std::uint64_t> bytes_sent{0};
  std::atomic<std::size_t> sending{0};

  // --- Io thread ---
  void opened(const runtime::connect_info& info) {
    open = true;
    {
      std::lock_guard<std::mutex> lock(mutex);
      disconnected = false;
    }
    for (const auto& name : channels)
      ws->send_text(subscribe_text(name, true));
    endpoint::link l;
    l.send = [this](std::string_view frame) { return ws->send_binary(frame); };
    l.queued = [this] { return ws->queued_bytes(); };
    l.send_budget = options.transport.max_backpressure / 2;
    ep->attach(std::move(l));  // kept QoS 2 sends go on from the server's .part
    update_counters();
    if (events.on_connect) events.on_connect(info);
  }

  void closed(std::uint16_t code, std::string_view reason) {
    open = false;
    ep->detach(/*keep_qos2_sends=*/!options.clear_sent_on_disconnect);
    update_counters();
    {
      std::lock_guard<std::mutex> lock(mutex);
      disconnected = true;
    }
    changed.notify_all();
    if (events.on_disconnect) events.on_disconnect(code, reason);
  }

  void update_counters() {
    bytes_sent.store(ep->payload_bytes_sent());
    sending.store(ep->sending());
  }

  void binary(std::string_view payload) {
    const std::shared_ptr<endpoint> keep = ep;
    const std::error_code ec = keep->on_message(payload);
    update_counters();
    if (!ec) return;
    if (events.on_connection_error)
      events.on_connection_error(ec, "files: the server sent a frame that is not a Files frame");
    ws->close(bad_frame_close_code, "not a Files frame: " + ec.message());
  }

  void text(std::string_view payload) {
    const sgcp::decode_result r = sgcp::decode(payload);
    if (r.ok()) {
      if (const auto* m = std::get_if<sgcp::subscribed>(&r.msg)) {
        if (events.on_subscribed) events.on_subscribed(m->channel);
        return;
      }
      if (const auto* m = std::get_if<sgcp::unsubscribed>(&r.msg)) {
        if (events.on_unsubscribed) events.on_unsubscribed(m->channel);
        return;
      }
    }
    if (events.on_text) events.on_text(payload);
  }
};

client::impl::impl(client_options o, client_events e)
    : options(std::move(o)), events(std::move(e)) {
  const transfer_options& t = options.transfer;
  if (t.chunk_size < 0) throw runtime::config_error("files client: chunk_size must be >= 0");
  if (t.qos_interval < std::chrono::milliseconds(1) || t.qos_timeout < std::chrono::milliseconds(1))
    throw runtime::config_error("files client: qos interval and timeout must be at least 1 ms");
  if (!t.receive_dir.empty() && ::mkdir(t.receive_dir.c_str(), 0755) != 0 && errno != EEXIST)
    throw runtime::config_error("files client: cannot create " + t.receive_dir + ": " +
                                std::strerror(errno));
  options.transport.subprotocols = {std::string(subprotocol)};

  endpoint::events ev;
  ev.authorize = [this](const frame& header, std::string& name) {
    return !events.authorize || events.authorize(header, name);
  };
  ev.fragment = [this](const frame& chunk) {
    return !events.on_fragment || events.on_fragment(chunk);
  };
  ev.received = [this](const received_file& f) {
    if (events.on_file_received) events.on_file_received(f);
  };
  ev.sent = [this](const sent_file& f) {
    update_counters();
    if (events.on_file_sent) events.on_file_sent(f);
  };
  ev.error = [this](const transfer_error& err) {
    update_counters();
    if (events.on_error) events.on_error(err);
  };
  ev.progress = [this](const transfer_progress& p) {
    if (p.side == direction::sending) bytes_sent.store(ep->payload_bytes_sent());
    if (events.on_progress) events.on_progress(p);
  };
  ep = std::make_shared<endpoint>(pool.at(0), options.transfer, std::move(ev),
                                  /*server_role=*/false);

  runtime::client_events wev;
  wev.on_connect = [this](const runtime::connect_info& info) { opened(info); };
  wev.on_disconnect = [this](std::uint16_t code, std::string_view reason) { closed(code, reason); };
  wev.on_message = [this](ws::opcode op, std::string_view payload) {
    if (op == ws::opcode::binary)
      binary(payload);
    else
      text(payload);
  };
  wev.on_error = [this](const std::error_code& ec, const std::string& what, bool) {
    if (events.on_connection_error) events.on_connection_error(ec, what);
  };
  pool.start();
  ws = runtime::websocket_client::make(pool, options.transport, std::move(wev));
}

client::client(client_options options, client_events events)
    : impl_(std::make_unique<impl>(std::move(options), std::move(events))) {}

client::~client() {
  close();
  {
    std::unique_lock<std::mutex> lock(impl_->mutex);
    const auto limit = std::chrono::milliseconds(impl_->options.transport.close_timeout_ms + 1000);
    impl_->changed.wait_for(lock, limit, [this] { return impl_->disconnected; });
  }
  impl_->pool.stop();
  impl_->pool.join();
  impl_->pool.abort_all(make_error_code(runtime::errc::shutting_down));
}

void client::connect() {
  impl_->ws->connect();
}

void client::close(std::uint16_t code, std::string reason) {
  impl_->ws->close(code, std::move(reason));
}

send_result client::send_file(const std::string& path, const send_options& o) {
  send_result r;
  auto file = prepare_file(path, r.error);
  if (!file) return r;
  send_options so = o;
  if (so.file_id.empty()) so.file_id = new_guid();
  r.file_id = so.file_id;
  r.targets = 1;
  impl_->sending.fetch_add(1);  // counted at once, so sending() sees it before the io thread
  impl_->post([i = impl_.get(), file = std::move(file), so = std::move(so)] {
    i->ep->send_file(file, so);
    i->update_counters();
  });
  return r;
}

void client::cancel(const std::string& file_id) {
  impl_->post([i = impl_.get(), file_id] {
    i->ep->cancel(file_id);
    i->update_counters();
  });
}

void client::subscribe(std::string_view channels) {
  impl_->post([i = impl_.get(), names = split_list(channels)] {
    for (const auto& name : names) {
      i->channels.insert(name);
      if (i->open) i->ws->send_text(subscribe_text(name, true));
    }
  });
}

void client::unsubscribe(std::string_view channels) {
  impl_->post([i = impl_.get(), names = split_list(channels)] {
    for (const auto& name : names) {
      i->channels.erase(name);
      if (i->open) i->ws->send_text(subscribe_text(name, false));
    }
  });
}

bool client::is_open() const {
  return impl_->open.load();
}

std::uint64_t client::payload_bytes_sent() const {
  return impl_->bytes_sent.load();
}

std::size_t client::sending() const {
  return impl_->sending.load();
}

}  // namespace switchboard::protocols::files
