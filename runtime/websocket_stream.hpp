// websocket_stream.hpp: the open phase of a WebSocket, shared by both ends.
//
// Once the opening handshake is done, a server connection and a client connection behave the
// same apart from masking: they decode frames (runtime/websocket/frame.hpp), inflate
// compressed messages (deflate.hpp), answer pings, run the close handshake (echo the peer's
// code; wait close_timeout_ms for the answer to ours), fail the connection with the close
// code a violation calls for (1002, 1007, 1009), send heartbeat pings and give up when no pong
// comes back, close an idle connection, and apply the slow-consumer policy. That behaviour
// lives here, once; the subclasses own what comes before (the server's HTTP phase, the
// client's dial and upgrade request) and what a message means (on_ws_message).
//
// Sending: send_message() compresses (when negotiated and the payload is at least
// deflate_min_size), masks (client role: a fresh random key per frame, RFC 6455 section 5.3)
// and splits the message into frames of at most fragment_size bytes when asked (RSV1 on the
// first frame only, RFC 7692 section 6.1). All of a message's frames are queued at once, so
// another message never lands between them.
//
// Threads: the home worker's thread only (see transport.hpp), except is_open().
#pragma once

#include "runtime/transport.hpp"
#include "runtime/websocket/deflate.hpp"
#include "runtime/websocket/frame.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace switchboard::runtime {

// How one open WebSocket behaves; fixed when it opens.
struct websocket_settings {
  websocket::role role = websocket::role::server;
  std::size_t max_message_size = 16u << 20;  // received, over fragments and inflated (1009)
  std::size_t deflate_min_size = 32;         // smaller messages go uncompressed
  std::size_t fragment_size = 0;             // split sent messages into frames this big (0: don't)
  bool report_fragments = false;             // call on_ws_fragment for each received fragment
  std::uint16_t slow_consumer_close_code = websocket::close_code::policy_violation;
  std::uint32_t heartbeat_interval_ms = 0;  // send a ping this often (0: never)
  std::uint32_t heartbeat_timeout_ms = 0;   // give up when no pong comes within this (0: wait)
  std::uint32_t idle_timeout_ms = 0;        // close after receiving nothing this long (0: never)
  std::uint32_t close_timeout_ms = 3000;    // wait this long for the answer to our close frame
};

class websocket_stream : public transport {
 public:
  using transport::transport;

  // True from the handshake until the close is reported (any thread).
  bool is_open() const noexcept { return open_.load(std::memory_order_acquire); }
  // Home worker only.
  bool is_websocket() const noexcept { return active_; }
  // Open and our close frame not sent yet: a message queued now reaches the peer.
  bool accepts_messages() const noexcept { return active_ && !close_sent_; }

  // Queues a message (`fragment_size` 0: the configured size). Dropped after our close frame,
  // under the drop policy, or before the WebSocket is open.
  send_status send_message(websocket::opcode op, std::string_view payload,
                           std::size_t fragment_size = 0);
  // Queues a frame made by make_frame() (encoded once, queued on many streams). Where the
  // server resets its compressor per message (server_no_context_takeover negotiated), the
  // frame is compressed once per io thread and that copy is shared instead; a compressor
  // that keeps its context must see every message itself, so those streams get the
  // uncompressed frame (legal: compression is chosen per message).
  send_status send_shared(const shared_buffer& frame);
  // A control frame (ping or pong; payload at most 125 bytes).
  send_status send_control(websocket::opcode op, std::string_view payload);
  // Starts the close handshake (code 0: a close frame without a code).
  void start_close(std::uint16_t code, std::string_view reason);

 protected:
  // Enters the open phase. With `deflate` engaged, permessage-deflate was negotiated.
  void open_websocket(const websocket_settings& settings,
                      const std::optional<websocket::deflate_params>& deflate,
                      const websocket::deflate_options& local);
  // Received bytes of the open phase (mutable: unmasked in place).
  void websocket_data(std::uint8_t* data, std::size_t size);
  // From on_tick(): close deadline, idle timeout, heartbeat.
  void websocket_tick(std::uint32_t now);
  // From on_closed(): reports the close if the peer vanished without one.
  void websocket_closed(const std::error_code& ec);
  // From on_slow_consumer() in the open phase: the close policy.
  void websocket_slow_consumer();

  // A whole message; `payload` is valid during the call only.
  virtual void on_ws_message(websocket::opcode op, std::string_view payload) = 0;
  // A non-final frame of an uncompressed fragmented message (report_fragments only).
  virtual void on_ws_fragment(websocket::opcode /*op*/, std::string_view /*payload*/) {}
  // The WebSocket is closed, exactly once: the peer's code, the code we failed it with, 1005
  // when the peer's close had none, or 1006 when no close frame came (RFC 6455 section 7.1.5;
  // also when the peer never answered ours).
  virtual void on_ws_closed(std::uint16_t code, std::string_view reason) = 0;

  // Names the stream in logs ("connection 12", "client ws://host/path").
  virtual std::string log_name() const = 0;

  // For a subclass that serves something other than WebSocket frames (plain TCP).
  void mark_open(bool open) noexcept { open_.store(open, std::memory_order_release); }

 private:
  void fail(websocket::errc e);
  void fail(std::uint16_t code, const std::string& reason);
  void send_close(std::uint16_t code, std::string_view reason);
  void finish(std::uint16_t code, std::string_view reason);
  send_status send_frame(websocket::opcode op, bool fin, bool rsv1, std::string_view payload,
                         bool control);
  websocket::decoder_options decoder_options() const noexcept;
  void decode(websocket::decoder& d, std::uint8_t* data, std::size_t size);

  // permessage-deflate's state, when negotiated.
  struct compression {
    compression(websocket::role role, const websocket::deflate_params& p,
                const websocket::deflate_options& l)
        : state(role, p, l), params(p), local(l) {}
    websocket::deflate_state state;
    websocket::deflate_params params;
    websocket::deflate_options local;
    int shared_window = 0;  // send_shared compresses with this window (0: it does not)
  };

  // Memory (issue 7: an idle connection in under 2 KB with its actor): the settings are one
  // copy per distinct configuration; the decoder lives on the stack of websocket_data() and
  // moves here only while a frame or a fragmented message is cut across reads; what only
  // permessage-deflate needs is allocated when negotiated.
  std::shared_ptr<const websocket_settings> settings_;  // shared by streams with equal settings
  std::unique_ptr<websocket::decoder> decoder_;
  std::unique_ptr<compression> deflate_;
  bool active_ = false;          // in the open phase (until the socket closes)
  bool close_sent_ = false;      // our close frame is queued
  bool close_reported_ = false;  // on_ws_closed has run
  bool awaiting_pong_ = false;
  std::uint32_t ping_tick_ = 0;  // when the last heartbeat ping left
  std::uint32_t close_deadline_ = 0;
  std::atomic<bool> open_{false};
};

}  // namespace switchboard::runtime
