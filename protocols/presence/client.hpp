// client.hpp: the client side of the sgc Presence protocol (subprotocol
// `presence.esegece.com`; spec/sgc-protocols.md section 5.4, TsgcWSPClient_Presence), on a
// runtime::websocket_client.
//
//   presence::client_options o;
//   o.transport.url = "ws://127.0.0.1:8080/ws/presence";
//   o.transport.reconnect.enabled = true;               // the watchdog (runtime/client.hpp)
//   o.name = "John";
//   presence::client_events ev;
//   ev.on_message = [](std::string_view text, std::string_view channel, const member& from) {};
//   presence::client c{o, ev};
//   c.join("Topic 1");                                  // sent once a member, and on reconnect
//   c.connect();
//   c.publish("Hello", "Topic 1");
//
// What it owns: one io thread (an io_pool of one worker), the websocket_client on it, and the
// protocol state, touched on that thread only: the session id, whether this connection's
// member@new went out, the channels the application joined, the unacknowledged messages.
//
// Protocol behaviour (5.2, 5.3):
//   - on the session message the client stores the session id and sends member@new with
//     options.name and options.info (and member id options.member_id, or the session id when
//     empty), then joins every channel the application joined, in join order. That happens
//     on every open, so after a reconnect of the watchdog the member is announced again and
//     its channels rejoined (the server removed them when the old connection ended).
//   - a join the server refuses with 6 or 10 is forgotten (it would be refused again on
//     reconnect); leave() forgets the channel at once.
//   - an invitation asks on_invitation (no handler: reject, as the original's default); the
//     answer goes back as `sgc@presence@channel@invitation@response` (our extension, 5.2 [D])
//     and an accepted channel is joined.
//   - every message with an id is acknowledged (5.3); with acknowledgment.enabled every
//     message this client sends carries a fresh id and is sent again every interval while
//     older than timeout and unacknowledged. The list is dropped when the connection ends
//     (the re-announce replaces it).
//   - both error methods (error@member@channel, and error@publish@msg, which this project's
//     server sends for publish errors) reach on_error.
//
// Threads: every member may be called from any thread; the work is posted to the io thread,
// in call order. Events run on the io thread, one at a time; string_view arguments are valid
// during the call only. Lifetime: not copyable or movable; the destructor closes (waiting up to
// the transport's close_timeout_ms) and joins the io thread; no event runs after it returns.
#pragma once

#include "protocols/presence/codec.hpp"
#include "runtime/client.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace switchboard::protocols::presence {

struct client_acknowledgment {
  bool enabled = false;                        // Acknowledgment.Enabled (5.3)
  std::chrono::milliseconds interval{300000};  // the resend timer's period
  std::chrono::milliseconds timeout{240000};   // age of an unacknowledged message to resend
  std::size_t max_unacknowledged = 10000;      // past it a message is sent without tracking
};

struct client_options {
  // URL, reconnect watchdog, TLS, heartbeat... `subprotocols` becomes {"presence.esegece.com"}.
  runtime::client_options transport;
  std::string name;            // Presence.Name
  std::string info;            // Presence.Info
  std::string member_id;       // "" : the session id (as the original clients do)
  bool encode_base64 = false;  // EncodeBase64 (1.5): every string value sent as sgc@b64:
  client_acknowledgment acknowledgment;
  decode_options codec;  // limits on what the server sends
};

// All optional; all run on the io thread.
struct client_events {
  std::function<void(const runtime::connect_info&)> on_connect;
  std::function<void(std::uint16_t code, std::string_view reason)> on_disconnect;
  std::function<void(std::string_view session)> on_session;  // OnSession
  std::function<void(const member&)> on_new_member;          // OnNewMember (self included)
  std::function<void(const member&)> on_remove_member;       // OnRemoveMember
  std::function<void(const member&)> on_member_update;       // our extension
  // OnNewChannelMember, OnRemoveChannelMember.
  std::function<void(std::string_view channel, const member&)> on_join;
  std::function<void(std::string_view channel, const member&)> on_leave;
  // OnPublishMsg: `from` has an empty id for a server broadcast; `channel` "" for everyone.
  std::function<void(std::string_view text, std::string_view channel, const member& from)>
      on_message;
  // OnGetMembers: the answer to get_members().
  std::function<void(std::string_view channel, const std::vector<member>&)> on_members;
  // OnErrorMemberChannel and OnErrorPublishMsg: the code (codec.hpp), its text, the channel
  // and the member the error names.
  std::function<void(int code, std::string_view text, std::string_view channel, const member&)>
      on_error;
  // OnChannelInvitation: true accepts (and joins). Without a handler every invitation is
  // rejected.
  std::function<bool(std::string_view channel, const member& inviter)> on_invitation;
  // OnChannelInvitationResponse: the invitee's answer to our invite() (our extension).
  std::function<void(std::string_view channel, const member& invitee, bool accepted)>
      on_invitation_response;
  // A transport failure, or a server message that did not decode.
  std::function<void(const std::error_code& ec, const std::string& what)> on_transport_error;
};

class client {
 public:
  // Throws runtime::config_error for a bad URL or an acknowledgment interval/timeout < 1 ms.
  client(client_options options, client_events events);
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  void connect();
  // Closes and stops the watchdog. Joined channels are kept for connect().
  void close(std::uint16_t code = runtime::websocket::close_code::normal, std::string reason = {});

  // Remembered for reconnects; sent now when this connection's member exists, else after it.
  void join(std::string_view channel);
  void leave(std::string_view channel);
  // To `channel`'s members, or to every member for "".
  void publish(std::string_view text, std::string_view channel = {});
  void get_members(std::string_view channel = {});
  void invite(std::string_view channel, std::string_view member_id);
  // Changes this member's name and info (our extension); kept for reconnects.
  void update(std::string_view name, std::string_view info);
  // Leaves the presence (member@remove); joined channels are forgotten. new_member() comes
  // back (a reconnect does too).
  void remove_member();
  void new_member();

  bool is_open() const;
  std::string session_id() const;  // "" before the first session message
  std::string member_id() const;   // the id this client's member has ("" before member@new)
  std::size_t unacknowledged() const;

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace switchboard::protocols::presence
