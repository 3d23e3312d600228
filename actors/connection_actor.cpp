// connection_actor.cpp: one actor per WebSocket connection of the hub's paths.
//
// It owns what the connection belongs to (channels; groups live in the registry, which it
// tells on close) and, in dispatch::actor mode, runs the application's handlers one at a time
// in message order: opened, then every text/binary message, then closed. Messages arrive from
// the connection's io thread (hub_bridge) and from any thread through the hub (subscribe).
//
// Memory (issue 7: an idle connection with its actor in at most 2 KB): CAF 0.17 gives every
// actor its own heap-allocated behavior, about 300 bytes for six handlers that each capture
// `self`. Here every connection actor shares one behavior instead, which matches no message
// of ours, and handles its messages in the default handler, which CAF calls with the actor
// itself (a std::function holding a plain function pointer: no allocation). The channel set
// is allocated by the first subscribe, so an idle actor is CAF's event_based_actor plus 32
// bytes.
#include "actors/hub_state.hpp"

#include <caf/event_based_actor.hpp>

#include <memory>
#include <set>

namespace switchboard::actors {
namespace {

// Never sent: the shared behavior's only case, there because an actor without a behavior
// terminates.
using never_atom = caf::atom_constant<caf::atom("sbnever")>;

class connection_actor final : public caf::event_based_actor {
 public:
  connection_actor(caf::actor_config& cfg, runtime::connection_ptr conn, hub::state* owner)
      : caf::event_based_actor(cfg), conn_(std::move(conn)), owner_(owner) {
    set_default_handler(&connection_actor::dispatch);
  }

  const char* name() const override { return "connection"; }

 protected:
  caf::behavior make_behavior() override {
    // A behavior is reference counted and never changed once built: sharing it across actors
    // and worker threads is safe.
    static const caf::behavior shared{[](never_atom) {}};
    return shared;
  }

 private:
  static caf::result<caf::message> dispatch(caf::scheduled_actor* self, caf::message_view& m) {
    auto& xs = m.content();
    auto& a = static_cast<connection_actor&>(*self);
    if (xs.match_elements<text_atom, std::string>())
      a.on_message(runtime::websocket::opcode::text, xs.move_if_unshared<std::string>(1));
    else if (xs.match_elements<binary_atom, std::string>())
      a.on_message(runtime::websocket::opcode::binary, xs.move_if_unshared<std::string>(1));
    else if (xs.match_elements<opened_atom>())
      a.on_opened();
    else if (xs.match_elements<subscribe_atom, std::string>())
      a.on_subscribe(xs.get_as<std::string>(1));
    else if (xs.match_elements<unsubscribe_atom, std::string>())
      a.on_unsubscribe(xs.get_as<std::string>(1));
    else if (xs.match_elements<closed_atom, std::uint16_t, std::string>())
      a.on_closed(xs.get_as<std::uint16_t>(1), xs.get_as<std::string>(2));
    else
      return caf::print_and_drop(self, m);
    return caf::message{};
  }

  bool in_actor() const noexcept { return owner_->options.mode == dispatch::actor; }

  void on_opened() {
    connection handle(conn_);
    if (in_actor() && owner_->on_connect) owner_->on_connect(handle);
  }

  void on_message(runtime::websocket::opcode op, std::string data) {
    connection handle(conn_);
    if (owner_->on_message) owner_->on_message(handle, message(op, std::move(data)));
  }

  void on_subscribe(const std::string& channel) {
    if (!conn_->is_open()) return;
    if (!channels_) channels_ = std::make_unique<std::set<std::string>>();
    if (!channels_->insert(channel).second) return;
    send(owner_->channel(channel), subscribe_atom::value, conn_);
  }

  void on_unsubscribe(const std::string& channel) {
    if (!channels_ || channels_->erase(channel) == 0) return;
    send(owner_->channel(channel), unsubscribe_atom::value, conn_->id());
  }

  void on_closed(std::uint16_t code, const std::string& reason) {
    const connection_id id = conn_->id();
    if (channels_)
      for (const auto& channel : *channels_)
        send(owner_->channel(channel), unsubscribe_atom::value, id);
    send(owner_->registry, remove_all_atom::value, id);
    if (in_actor() && owner_->on_disconnect) {
      connection handle(conn_);
      owner_->on_disconnect(handle, code, reason);
    }
    conn_.reset();
    quit();
  }

  runtime::connection_ptr conn_;
  hub::state* owner_;
  std::unique_ptr<std::set<std::string>> channels_;  // allocated by the first subscribe
};

}  // namespace

caf::actor spawn_connection_actor(hub::state& s, const runtime::connection_ptr& c) {
  return s.system->spawn<connection_actor>(c, &s);
}

}  // namespace switchboard::actors
