#include "actors/hub.hpp"

#include "actors/hub_state.hpp"
#include "runtime/log.hpp"

#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include <pthread.h>
#include <csignal>

namespace switchboard::actors {

namespace ws = runtime::websocket;

// --- Bridges from io threads to actors ----------------------------------------------------

void hub_bridge::on_open(const runtime::connection_ptr& c) {
  caf::actor a = spawn_connection_actor(state_, c);
  c->attachment = std::make_unique<actor_attachment>(a);
  if (state_.options.mode == dispatch::io_thread) {
    connection handle(c);
    if (state_.on_connect) state_.on_connect(handle);
  } else {
    caf::anon_send(a, opened_atom::value);
  }
}

void hub_bridge::on_message(const runtime::connection_ptr& c, ws::opcode op,
                            std::string_view payload) {
  if (state_.options.mode == dispatch::io_thread) {
    connection handle(c);
    if (state_.on_message) state_.on_message(handle, message(op, std::string(payload)));
    return;
  }
  const auto& a = static_cast<actor_attachment&>(*c->attachment).self;
  if (op == ws::opcode::text)
    caf::anon_send(a, text_atom::value, std::string(payload));
  else
    caf::anon_send(a, binary_atom::value, std::string(payload));
}

void hub_bridge::on_close(const runtime::connection_ptr& c, std::uint16_t code,
                          std::string_view reason) {
  if (state_.options.mode == dispatch::io_thread && state_.on_disconnect) {
    connection handle(c);
    state_.on_disconnect(handle, code, reason);
  }
  const auto& a = static_cast<actor_attachment&>(*c->attachment).self;
  caf::anon_send(a, closed_atom::value, code, std::string(reason));
}

void broadcast_bridge::on_message(const runtime::connection_ptr&, ws::opcode op,
                                  std::string_view payload) {
  server_.broadcast(runtime::make_frame(op, payload), this);
  if (hub_federation* f = federation_.load(std::memory_order_acquire))
    f->endpoint_broadcast(op, payload);
}

// --- State --------------------------------------------------------------------------------

hub::state::state(hub_options o) : options(std::move(o)) {
  if (options.actor_threads > 0)
    config.set("scheduler.max-threads",
               static_cast<caf::config_value::integer>(options.actor_threads));
  config.set("logger.console", caf::atom("none"));
  // An idle CAF worker polls its queue before it sleeps: by default 100 spins, then up to 500
  // nanosleeps of 50 us (25 ms). Actors here get a message every few milliseconds under load,
  // so workers never reached the sleep and burned a quarter of a core in nanosleep on the io
  // threads' CPUs (perf, presence churn). A short spin, then the condition variable, which an
  // enqueue from an io thread signals.
  config.set("work-stealing.aggressive-poll-attempts", caf::config_value::integer{20});
  config.set("work-stealing.moderate-poll-attempts", caf::config_value::integer{0});
}

channel_actor hub::state::channel(const std::string& name) {
  std::lock_guard<std::mutex> lock(channels_mutex);
  auto it = channels.find(name);
  if (it == channels.end())
    it = channels.emplace(name, spawn_channel(*system, name, *server)).first;
  return it->second;
}

caf::actor hub::state::actor_of(connection_id id, runtime::connection_ptr* conn) {
  runtime::connection_ptr c = server->find(id);
  if (!c || c->handler() != &bridge || !c->attachment) return {};
  if (conn) *conn = c;
  return static_cast<actor_attachment&>(*c->attachment).self;
}

// --- hub ----------------------------------------------------------------------------------

hub::hub(hub_options options) : state_(std::make_unique<state>(std::move(options))) {
  state_->server = std::make_unique<runtime::server>(state_->options.server);
  // The actor system exists from here, so protocols can be set up on it before start().
  state_->system = std::make_unique<caf::actor_system>(state_->config);
}

void hub::on_stopped(std::function<void()> h) {
  state_->on_stopped.push_back(std::move(h));
}

hub::~hub() {
  stop();
}

void hub::on_connect(connect_handler h) {
  state_->on_connect = std::move(h);
}
void hub::on_message(message_handler h) {
  state_->on_message = std::move(h);
}
void hub::on_disconnect(disconnect_handler h) {
  state_->on_disconnect = std::move(h);
}
void hub::on_http(std::string path, runtime::http_handler h) {
  state_->server->add_http_route(std::move(path), std::move(h));
}

void hub::start() {
  state& s = *state_;
  if (s.started) return;
  s.registry = spawn_group_registry(*s.system, *s.server, &s.on_group_removed);
  if (s.options.echo_endpoint) s.server->add_websocket_route("/echo", &s.echo);
  if (s.options.broadcast_endpoint) {
    s.broadcaster = std::make_unique<broadcast_bridge>(*s.server, s.federation);
    s.server->add_websocket_route("/broadcast", s.broadcaster.get());
  }
  for (const auto& path : s.options.paths)
    s.server->add_websocket_route(path, &s.bridge);
  s.server->start();
  s.started = true;
}

void hub::stop() {
  state& s = *state_;
  if (!s.started || s.stopped) return;
  s.stopped = true;
  // Closing the server reports every connection's close to its actor, which then quits.
  s.server->stop();
  caf::anon_send_exit(s.registry, caf::exit_reason::user_shutdown);
  {
    std::lock_guard<std::mutex> lock(s.channels_mutex);
    for (auto& [name, actor] : s.channels)
      caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
    s.channels.clear();
  }
  for (auto& h : s.on_stopped)
    h();             // protocols end their actors
  s.system.reset();  // waits for every actor to finish
}

void hub::run() {
  // Block the signals in every thread (the io and actor threads inherit this mask), then wait
  // for one here: no handler runs inside an arbitrary thread.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  start();
  int received = 0;
  sigwait(&signals, &received);
  SB_LOG(info, "%s received: closing connections with 1001",
         received == SIGINT ? "SIGINT" : "SIGTERM");
  stop();
}

bool hub::send(connection_id id, std::string_view text) {
  auto c = state_->server->find(id);
  return c && connection(c).send(text);
}

bool hub::send_binary(connection_id id, std::string_view data) {
  auto c = state_->server->find(id);
  return c && connection(c).send_binary(data);
}

bool hub::close(connection_id id, std::uint16_t code, std::string reason) {
  auto c = state_->server->find(id);
  if (!c) return false;
  c->close(code, std::move(reason));
  return true;
}

void hub::broadcast(std::string_view text) {
  local_broadcast(text);
  if (hub_federation* f = state_->federation.load(std::memory_order_acquire)) f->broadcast(text);
}

void hub::broadcast(std::string_view text, const std::string& channel) {
  local_broadcast(text, channel);
  if (hub_federation* f = state_->federation.load(std::memory_order_acquire))
    f->broadcast(text, channel);
}

void hub::federate(hub_federation* f) {
  state_->federation.store(f, std::memory_order_release);
}

void hub::local_broadcast(std::string_view text) {
  state_->server->broadcast(runtime::make_frame(ws::opcode::text, text), &state_->bridge);
}

void hub::local_broadcast(std::string_view text, const std::string& channel) {
  caf::anon_send(state_->channel(channel), publish_atom::value,
                 runtime::make_frame(ws::opcode::text, text));
}

void hub::local_group_broadcast(const std::string& group_or_pattern, std::string_view text) {
  if (!state_->registry) return;  // spawned by start(): the bridge starts after it
  caf::anon_send(state_->registry, broadcast_atom::value, group_or_pattern,
                 runtime::make_frame(ws::opcode::text, text));
}

void hub::local_endpoint_broadcast(ws::opcode op, std::string_view payload) {
  if (state_->broadcaster)
    state_->server->broadcast(runtime::make_frame(op, payload), state_->broadcaster.get());
}

void hub::subscribe(connection_id id, const std::string& channel) {
  if (caf::actor a = state_->actor_of(id)) caf::anon_send(a, subscribe_atom::value, channel);
}

void hub::unsubscribe(connection_id id, const std::string& channel) {
  if (caf::actor a = state_->actor_of(id)) caf::anon_send(a, unsubscribe_atom::value, channel);
}

std::size_t hub::subscribers(const std::string& channel) {
  caf::scoped_actor self{*state_->system};
  std::uint64_t n = 0;
  self->request(state_->channel(channel), caf::infinite, count_atom::value)
      .receive([&](std::uint64_t count) { n = count; }, [](caf::error&) {});
  return static_cast<std::size_t>(n);
}

actors::groups& hub::groups() {
  return state_->groups;
}
runtime::server& hub::server() {
  return *state_->server;
}
caf::actor_system& hub::system() {
  return *state_->system;
}

// --- groups -------------------------------------------------------------------------------

void groups::add(const std::string& group, connection_id id) {
  runtime::connection_ptr c = state_.server->find(id);
  if (c) caf::anon_send(state_.registry, add_atom::value, group, c);
}

void groups::remove(const std::string& group, connection_id id) {
  caf::anon_send(state_.registry, remove_atom::value, group, id);
}

void groups::broadcast(const std::string& group_or_pattern, std::string_view text) {
  caf::anon_send(state_.registry, broadcast_atom::value, group_or_pattern,
                 runtime::make_frame(ws::opcode::text, text));
  if (hub_federation* f = state_.federation.load(std::memory_order_acquire))
    f->group_broadcast(group_or_pattern, text);
}

std::vector<connection_id> groups::members(const std::string& group) {
  caf::scoped_actor self{*state_.system};
  std::vector<connection_id> out;
  self->request(state_.registry, caf::infinite, members_atom::value, group)
      .receive([&](std::vector<connection_id>& ids) { out = std::move(ids); }, [](caf::error&) {});
  return out;
}

std::vector<std::string> groups::names() {
  caf::scoped_actor self{*state_.system};
  std::vector<std::string> out;
  self->request(state_.registry, caf::infinite, list_atom::value)
      .receive([&](std::vector<std::string>& n) { out = std::move(n); }, [](caf::error&) {});
  return out;
}

void groups::on_removed(removed_handler h) {
  state_.on_group_removed = std::move(h);
}

}  // namespace switchboard::actors
