// server.hpp: the server side of the sgc Presence protocol (subprotocol `presence.esegece.com`;
// spec/sgc-protocols.md section 5, with 1.2, 1.5 and 1.7), attached to a route of a
// runtime::server.
//
//   caf::actor_system system{cfg};
//   runtime::server transport{options};                 // heartbeat_* options: see below
//   presence::server presence{system, transport};
//   presence.attach("/ws/presence");                    // answers "presence.esegece.com"
//   presence.on_before_new_member([](const presence::peer&, const presence::member& m) {
//     return !m.name.empty();
//   });
//   transport.start();
//   ...
//   transport.stop();                                   // before the presence server goes
//
// What it does (5.2): on open the session message (the connection's GUID); then member@new,
// channel@member@new (join), channel@member@remove (leave), publish@msg, get@members,
// channel@invitation, member@remove, and on close the cleanup of the connection's member with
// leave events to each of its channels and member@remove to everyone. Every request answered
// with an error gets `sgc@presence@error@member@channel` (or `...@error@publish@msg` for a
// publish) with the digest's numbered codes (codec.hpp, errors).
//
// Member identity (5.5 [D], the "strict mode" of the digest): a member is bound to the
// connection that created it, one member per connection. member@new with an id any member
// already has is error 1 (also a second member@new on the same connection); the id the client
// sends is taken when unused (so applications can use their own user ids), an empty id means
// the session id. Every other request naming a member.id that is not this connection's member
// is error 3, so connection B can never act as A's member (the original allows it: surprise
// 25). Cleanup on disconnect goes by connection, never by a client-supplied id.
//
// Where decisions happen, and why there (the consistency of errors 1, 3, 5, 11, 12): the
// registry (server.cpp: members by id, channels by name with their member ids) sits behind one
// mutex on the io path, and every check is made under that mutex together with the change it
// guards, so two connections racing for one member id get exactly one error 1, and a channel
// is deleted only when its last member left it under the same lock a joiner takes. A member's
// channel set changes only on its own connection's io thread (it is bound to that connection),
// so 11 and 12 for it can not race at all. Hooks run outside the mutex (they may call the
// query members below); the state is checked again after them. Each change is sent to the
// channel's actor while the mutex is held, so every actor sees the changes in decision order.
//
// Channels are actors (channel.hpp), one per presence channel, spawned on the first join and
// stopped when the last member leaves (5.5 [D]: the original never deletes channels). Each
// holds that channel's members and does the fan-out (one frame shared by every recipient). One
// more actor of the same kind, the lobby, holds every member: the audience of member@new,
// member@remove, member@update and of a publish to channel "". The get@members reply is sent by
// the actor of the channel asked about, so it is ordered with that channel's join and leave
// events on the wire. Across actors the order of 5.2 is kept by waiting where it matters:
// the io thread waits for the lobby's answer to member@new and for the channel actor's answer
// to an explicit leave, and on close the channel actors count a shared chain down and the last
// one hands member@remove to the lobby (channel.hpp, leave_chain).
//
// Audiences (5.5): new member, member update, member remove: all members; join: the channel's
// members (joiner included); publish: the channel's members (publisher included) or all
// members for channel ""; leave by disconnect or member@remove: each channel's members, then
// all members. Leave by channel@member@remove goes to the channel's members, the leaver
// included ([D]: the original sends it to all members; we keep the audience of every other
// channel event, so a client sees events only of channels it is in, and a leave on a busy
// server costs the channel's size, not the whole server's). The sender of member@remove and
// of a leave gets its own event (the fan-out happens before it is taken out): its confirmation.
//
// Decisions where the original is silent or wrong, all [D]:
//   - publish errors are sent as `sgc@presence@error@publish@msg` with the message (5.2); a
//     before-publish denial of a publish to channel "" is error 20 too, not silence;
//   - error 30 has the text "Send Members request has been denied.";
//   - text that is not a presence message (not JSON, wrong envelope, a section of the wrong
//     type, a bad sgc@b64 value, too long) is answered with an error message whose code is the
//     JSON-RPC one (-32700, -32600, -32602) and an unknown method with -32601; the connection
//     stays open (codec.hpp, protocol_errors);
//   - invitations: the inviter must be this connection's member (3); an invitee that is not a
//     member gets the inviter an error 3 naming the invitee; a channel that does not exist yet
//     is allowed (the invitee's accept creates it). The invitee's answer,
//     `sgc@presence@channel@invitation@response` (the digest's proposal; our extension), is
//     forwarded to the inviter named in its members array;
//   - `sgc@presence@member@update` (our extension): the member changes its name and info; the
//     server tells every member. The before-update hook may deny it: error 4
//     "Update Member request has been denied." (our code);
//   - acknowledgment (5.3): every client message with an id is acknowledged with a
//     request-shaped `sgc@presence@acknowledgment`, and one whose id came within the last 1024
//     is not processed again (a resend whose ack was late); with `acknowledgment.enabled` every
//     message the server sends carries a fresh id and is sent again every `interval` while it is
//     older than `timeout` and not acknowledged (the age restarts at each resend). Past
//     max_unacknowledged messages waiting on one connection it is closed with 1008;
//   - `encode_base64`: every string value the server writes is sent as `sgc@b64:` + base64,
//     except the jsonrpc value (1.5); received values are decoded by prefix, always.
//
// Federation (several nodes, one presence; cluster/presence_bridge.hpp): with a `federation`
// set, the server tells it every local change (member new, update, remove, join, leave,
// publish, broadcast, invitation and response) in decision order, and the bridge applies the
// other nodes' changes through the apply_* methods. Remote members live in the same registry
// with their node id and no connection: the channel actors list them (get@members, members())
// and skip them in the fan-out, so a remote change reaches exactly the local connections a
// local change would, in the same order (apply_member_new waits for the lobby and apply_leave
// for its channel, as the io thread does). Member ids are unique cluster-wide: member@new with
// an id a remote member has is error 1. Two nodes that accept one id at the same instant each
// see the other's member@new: the lower node id keeps it, the other node removes its own
// member (leave events to everyone, error 1 to its connection). Hooks (on_*) fire for local
// changes only. Without a federation nothing of this runs.
//
// Heartbeat: a client killed without a close frame is noticed by the runtime server's
// heartbeat (runtime::server_options heartbeat_interval_ms + heartbeat_timeout_ms); its close
// runs the cleanup above, so its member leaves every list within one interval plus timeout.
//
// Threads: configure (attach, on_*) before the runtime server starts. Hooks run on the
// connection's io thread, one message at a time per connection, outside the registry lock;
// they must not block. broadcast(), members(), member_count(), channels() are safe from any
// thread. Lifetime: the actor system and the runtime server must outlive this object, and the
// runtime server must be stopped before it is destroyed (on_close calls into it).
#pragma once

#include "protocols/presence/codec.hpp"
#include "runtime/connection.hpp"

#include <caf/fwd.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::runtime {
class server;
}

namespace switchboard::protocols::presence {

struct acknowledgment_options {
  bool enabled = false;                        // Acknowledgment.Enabled (5.3)
  std::chrono::milliseconds interval{300000};  // the resend timer's period
  std::chrono::milliseconds timeout{240000};   // an unacknowledged message's age to resend
  std::size_t max_unacknowledged = 10000;      // per connection; past it: close 1008
};

struct server_options {
  decode_options codec;        // max_message_size (default 1 MiB), max_depth
  bool encode_base64 = false;  // EncodeBase64 (1.5): every string value sent as sgc@b64:
  acknowledgment_options acknowledgment;
  std::size_t max_channels_per_member = 1000;  // joins past it: error 10 (denied)
};

// A member of another node as the federation carries it: who, and the channels it is in.
struct remote_member {
  member who;
  std::vector<std::string> channels;
};

// What a cluster bridge implements (server.hpp, "Federation"). The state changes are called
// with the registry lock held, in decision order; publish, invite and respond may come
// without it. None may block or call back into the server.
class federation {
 public:
  virtual ~federation() = default;
  virtual void member_new(const member& m) = 0;
  virtual void member_update(const member& m) = 0;
  // The member left every channel and the presence (close, member@remove, lost id race).
  virtual void member_remove(const member& m) = 0;
  virtual void join(const std::string& channel, const member& m) = 0;
  virtual void leave(const std::string& channel, const member& m) = 0;
  // A publish of `from` (null: the server's broadcast()) to `channel` ("" : everyone).
  virtual void publish(const std::string& channel, const std::string& text, const member* from) = 0;
  // An invitation for `invitee_id`, a member of node `node`.
  virtual void invite(const std::string& node, const std::string& channel, const member& inviter,
                      const std::string& invitee_id) = 0;
  // An invitee's answer for `inviter_id`, a member of node `node`.
  virtual void respond(const std::string& node, const std::string& channel, const member& invitee,
                       const std::string& inviter_id, bool accept,
                       const std::optional<error_info>& error) = 0;
};

// A connection as hooks see it.
struct peer {
  std::string guid;  // the session id (1.2), also the default member id
  runtime::connection_ptr connection;
  const std::string& user() const { return connection->user(); }  // HTTP-authenticated user
};

class server final : public runtime::websocket_handler {
 public:
  using connect_hook = std::function<void(const peer&)>;
  // True: handled, processing stops (OnRawMessage, 1.7).
  using raw_message_hook = std::function<bool(const peer&, std::string_view text)>;
  // False: deny. OnBeforeNewMember (error 2), OnBeforeNewChannel (6), OnBeforeNewChannelMember
  // (10), OnBeforePublishMsg (20), OnBeforeSendMembers (30; `channel` "" asks for everyone),
  // before-update (4, our extension; `m` carries the new name and info).
  using before_member_hook = std::function<bool(const peer&, const member& m)>;
  using before_channel_hook =
      std::function<bool(const peer&, const std::string& channel, const member& m)>;
  using before_publish_hook = std::function<bool(const peer&, const std::string& text,
                                                 const std::string& channel, const member& m)>;
  // Notifications: OnNewMember, OnRemoveMember, on update (our extension).
  using member_hook = std::function<void(const peer&, const member& m)>;
  // OnNewChannel (member: the one whose join created it), OnNewChannelMember,
  // OnRemoveChannelMember.
  using channel_hook =
      std::function<void(const peer&, const std::string& channel, const member& m)>;
  // OnErrorMemberChannel / OnErrorPublishMsg: every error this server answers a request with.
  using error_hook = std::function<void(const peer&, int code, const std::string& text,
                                        const std::string& channel, const member& m)>;
  using disconnect_hook = std::function<void(const peer&, std::uint16_t code)>;

  server(caf::actor_system& system, runtime::server& transport, server_options options = {});
  ~server() override;
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // --- Before the runtime server starts ----------------------------------------------------
  // Adds a WebSocket route on `path` whose selector answers `presence.esegece.com` when
  // offered (a client that offers no subprotocol still opens and is served as presence).
  void attach(const std::string& path);
  // The selector attach() uses: "presence.esegece.com" when offered, else "".
  static std::string select_subprotocol(const std::vector<std::string_view>& offered);

  void on_connect(connect_hook h);
  void on_raw_message(raw_message_hook h);
  void on_before_new_member(before_member_hook h);
  void on_before_update_member(before_member_hook h);
  void on_before_new_channel(before_channel_hook h);
  void on_before_join(before_channel_hook h);
  void on_before_publish(before_publish_hook h);
  void on_before_send_members(before_channel_hook h);
  void on_new_member(member_hook h);
  void on_update_member(member_hook h);
  void on_remove_member(member_hook h);
  void on_new_channel(channel_hook h);
  void on_join(channel_hook h);
  void on_leave(channel_hook h);
  void on_error(error_hook h);
  void on_disconnect(disconnect_hook h);

  // --- Any thread --------------------------------------------------------------------------
  // Broadcast (5.4): a `sgc@presence@publish@msg` without a member, with message.text `text`,
  // to every member ("") or to the members of `channel` (nothing when it does not exist).
  void broadcast(std::string_view text, const std::string& channel = {});
  // The members of `channel` ("" : every member) now, from the registry; empty for a channel
  // that does not exist.
  std::vector<member> members(const std::string& channel = {}) const;
  std::size_t member_count() const;
  std::vector<std::string> channels() const;  // the channels that exist (have members)
  // Stops every channel actor (the destructor does it too). Idempotent.
  void stop();

  // --- Federation (the cluster bridge; see "Federation" above) ------------------------------
  // Any time (null: back to one node); the bridge takes the members that exist already from
  // local_members(). `node_id` names this node (the id race: the lower id wins). After it
  // returns no state change is told to the previous federation.
  void federate(federation* f, std::string node_id);
  // This node's members with their channels (the bridge's shard).
  std::vector<remote_member> local_members() const;
  // The other nodes' changes, applied to the mirror and told to the local connections. Called
  // from one thread of the bridge (not an io thread: they wait briefly for the actors), in
  // the order each node made them.
  void apply_member_new(const std::string& node, const member& m);
  void apply_member_update(const std::string& node, const member& m);
  void apply_member_remove(const std::string& node, const std::string& id);
  void apply_join(const std::string& node, const std::string& channel, const std::string& id);
  void apply_leave(const std::string& node, const std::string& channel, const std::string& id);
  // `from` null: a broadcast() of another node.
  void apply_publish(const std::string& channel, const std::string& text, const member* from);
  void apply_invite(const std::string& channel, const member& inviter,
                    const std::string& invitee_id);
  void apply_respond(const std::string& channel, const member& invitee,
                     const std::string& inviter_id, bool accept,
                     const std::optional<error_info>& error);
  // Makes the mirror of `node` equal to `members` (a shard read or resent), with the events a
  // local connection would have seen for the difference.
  void apply_sync(const std::string& node, const std::vector<remote_member>& members);
  // `node` is gone: its members leave every channel and the presence (leave events).
  void apply_drop(const std::string& node);
  // The nodes that have members in the mirror now.
  std::vector<std::string> remote_nodes() const;

  // --- runtime::websocket_handler (io threads) ---------------------------------------------
  void on_open(const runtime::connection_ptr& c) override;
  void on_message(const runtime::connection_ptr& c, runtime::websocket::opcode op,
                  std::string_view payload) override;
  void on_close(const runtime::connection_ptr& c, std::uint16_t code,
                std::string_view reason) override;

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace switchboard::protocols::presence
