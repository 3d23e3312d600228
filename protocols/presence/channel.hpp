// channel.hpp: the presence channel actor (spec/sgc-protocols.md 5.2, 5.5), one per presence
// channel, spawned by the server's registry (server.cpp) on the first join and stopped when
// the last member left; one more of the same kind, the lobby, holds every member.
//
// It owns the channel's member list (each member with its connection) and does the channel's
// fan-out: an event is encoded once by the registry (codec.hpp) and this actor makes one
// frame of it (runtime::make_frame) queued on every member's connection through
// runtime::server::fanout, one post per io thread. With acknowledgment on (5.3) every
// recipient needs its own id, so the text is copied per recipient with with_id() and kept in
// the recipient's ack_tracker until acknowledged.
//
// It decides nothing: the registry checked and applied each change under its lock and sent it
// here while holding it, so this actor sees joins and leaves in decision order. What it adds
// is wire order: the get@members answer (send@members) is sent from here, so it is ordered
// with the join and leave events of the same channel.
//
// Messages carry connection handles inside one process only (never serialized), hence
// CAF_ALLOW_UNSAFE_MESSAGE_TYPE for the shared structs below.
#pragma once

#include "protocols/presence/codec.hpp"
#include "runtime/connection.hpp"

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace switchboard::runtime {
class server;
}

namespace switchboard::protocols::presence {

// The messages sent to one connection and not acknowledged yet (5.3). Shared by the
// connection's io thread (acks arrive there), every actor fanning out to it and the resend
// timer, hence the mutex.
class ack_tracker {
 public:
  using clock = std::chrono::steady_clock;
  explicit ack_tracker(std::size_t max_items) : max_items_(max_items) {}
  // False when the tracker is full (the caller closes the connection).
  bool add(std::string id, std::string text);
  void acknowledge(const std::string& id);
  // The texts older than `timeout`, in the order they were first sent; their age restarts.
  std::vector<std::string> due(clock::duration timeout);
  std::size_t size() const;

 private:
  struct item {
    std::uint64_t order;
    std::string text;
    clock::time_point sent;
  };
  mutable std::mutex mutex_;
  std::unordered_map<std::string, item> items_;
  std::uint64_t next_ = 0;
  std::size_t max_items_;
};

// A member as the actors know it: its record and where to send.
struct channel_entry {
  presence::member who;
  runtime::connection_ptr conn;       // null: a member of another node (listed, never sent to)
  std::shared_ptr<ack_tracker> acks;  // null without acknowledgment
};
using channel_entry_ptr = std::shared_ptr<const channel_entry>;

struct fanout_options {
  bool base64 = false;  // ack ids are encoded too (1.5)
  bool acknowledgment = false;
};

// Sends `encoded` to `targets`: one shared frame, or one text per recipient with its ack id.
// Targets without a connection (remote members) are skipped.
void deliver(runtime::server& server, const std::vector<const channel_entry*>& targets,
             const std::string& encoded, const fanout_options& options);
// A fresh version 4 GUID, upper-case hex: session and ack ids.
std::string new_guid();

using join_atom = caf::atom_constant<caf::atom("prsjoin")>;
using hello_atom = caf::atom_constant<caf::atom("prshello")>;
using leave_atom = caf::atom_constant<caf::atom("prsleave")>;
using fan_atom = caf::atom_constant<caf::atom("prsfan")>;
using update_atom = caf::atom_constant<caf::atom("prsupdate")>;
using list_atom = caf::atom_constant<caf::atom("prslist")>;
using stop_atom = caf::atom_constant<caf::atom("prsstop")>;

struct leave_chain;
using leave_chain_ptr = std::shared_ptr<leave_chain>;

using channel_actor = caf::typed_actor<
    // Add the member, then send the encoded event to every member (the joiner included).
    caf::reacts_to<join_atom, channel_entry_ptr, std::string>,
    // Add the member and send the encoded event to every member, then answer: the io thread
    // waits for it, so what this member does next is fanned out after its member@new (the
    // lobby only).
    caf::replies_to<hello_atom, channel_entry_ptr, std::string>::with<bool>,
    // Send the encoded event to every member (the leaver included), then remove the member;
    // then count the chain down (null: none). The answer lets an explicit leave wait, so the
    // member's next event (member@remove) is fanned out after it.
    caf::replies_to<leave_atom, std::string, std::string, leave_chain_ptr>::with<bool>,
    // Send the encoded event to every member.
    caf::reacts_to<fan_atom, std::string>,
    // Replace a member's record (its name and info changed); then fan out the encoded event
    // unless it is empty.
    caf::reacts_to<update_atom, channel_entry_ptr, std::string>,
    // Answer `requester` with send@members: the channel's name, the requester, the members.
    caf::reacts_to<list_atom, channel_entry_ptr>,
    // Quit after the messages already queued.
    caf::reacts_to<stop_atom>>;

// A member leaving several channels and then the presence (close, member@remove): each
// channel actor counts `left` down after its fan-out, and the last one sends the lobby its
// leave, so every recipient sees the channel leaves before member@remove (5.2 order).
struct leave_chain {
  std::atomic<int> left{0};
  channel_actor lobby;
  std::string member_id;
  std::string encoded;  // the member@remove event
};

// `name`: the channel ("" for the lobby).
channel_actor spawn_channel(caf::actor_system& system, std::string name, runtime::server& server,
                            fanout_options options);

}  // namespace switchboard::protocols::presence

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(switchboard::protocols::presence::channel_entry_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(switchboard::protocols::presence::leave_chain_ptr)
