// client.hpp: the client side of the sgc Files protocol (subprotocol `files.esegece.com`;
// spec/sgc-protocols.md section 4, TsgcWSPClient_Files of 4.3), on a runtime::websocket_client.
//
//   files::client_options o;
//   o.transport.url = "ws://127.0.0.1:8080/files";
//   o.transport.reconnect.enabled = true;        // the watchdog (runtime/client.hpp)
//   o.transfer.receive_dir = "/tmp/incoming";    // files the server sends land here
//   files::client_events ev;
//   ev.on_file_received = [](const files::received_file& f) {...};
//   files::client c{o, ev};
//   c.subscribe("news");                          // sent once open, and on every reconnect
//   c.connect();
//   files::send_options so;
//   so.qos = files::qos_level::level2;            // resumable
//   auto r = c.send_file("/tmp/big.iso", so);     // r.file_id, or r.error
//
// What it owns: one io thread (an io_pool of one worker, as the sgc client), the
// websocket_client on it, and one transfer endpoint (transfer.hpp: the same sender and
// receiver the server runs) that outlives reconnects. Subscriptions are text frames of the
// default protocol (4.1, last rule), encoded with protocols/sgc/codec.hpp.
//
// Reconnect and resume: when the connection ends, pushes (QoS 0/1) in flight and incoming
// transfers fail with "Connection closed."; QoS 2 sends are kept (unless
// clear_sent_on_disconnect) and, when the watchdog opens the next connection, send their
// header again with the same FileId: the server finds its `<FileId>.part` and asks, with
// sgc@filerec, from the bytes it already has, so only the chunk in flight at the cut is sent
// twice. A QoS 2 send made while the connection is down waits for the next open; a QoS 0/1
// send then fails at once.
//
// Threads: every member may be called from any thread. send_file() opens and hashes the file
// on the calling thread (SHA-256 reads it once), then hands it to the io thread. Events run on
// the io thread, one at a time; they must not block and must not destroy the client.
//
// Lifetime: not copyable or movable. The destructor closes the connection (waiting up to
// the transport's close_timeout_ms) and joins the io thread; no event runs after it returns.
#pragma once

#include "protocols/files/transfer.hpp"
#include "runtime/client.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

namespace switchboard::protocols::files {

struct client_options {
  // URL, reconnect watchdog, TLS... `subprotocols` is replaced by {"files.esegece.com"}.
  runtime::client_options transport;
  transfer_options transfer;  // receive_dir (created when missing), chunk_size, limits, QoS
  // End QoS 2 sends when the connection ends (the original's ClearSentStreamsOnDisconnect,
  // default true there). False (ours): they resume on the next connection.
  bool clear_sent_on_disconnect = false;
};

// All optional; all run on the io thread.
struct client_events {
  std::function<void(const runtime::connect_info&)> on_connect;  // after resubscribing
  std::function<void(std::uint16_t code, std::string_view reason)> on_disconnect;
  // OnFileReceivedAuthorization for files the server sends: false refuses, may rename.
  std::function<bool(const frame& header, std::string& file_name)> authorize;
  // OnFileReceivedFragment: false cancels ("File Cancelled.").
  std::function<bool(const frame& chunk)> on_fragment;
  std::function<void(const received_file&)> on_file_received;
  std::function<void(const sent_file&)> on_file_sent;
  std::function<void(const transfer_progress&)> on_progress;
  std::function<void(const transfer_error&)> on_error;
  std::function<void(std::string_view channel)> on_subscribed;
  std::function<void(std::string_view channel)> on_unsubscribed;
  // A text message that is not a subscription confirmation (a JSON-RPC error, ...), as is.
  std::function<void(std::string_view text)> on_text;
  // The connection attempt failed, or the server sent a binary message that is not a Files
  // frame (the client then closes with 1007).
  std::function<void(const std::error_code& ec, const std::string& what)> on_connection_error;
};

class client {
 public:
  // Throws runtime::config_error for a bad URL, a chunk_size < 0, a QoS interval or timeout
  // below 1 ms, or a receive_dir that cannot be created.
  client(client_options options, client_events events);
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  void connect();
  // Closes and stops the watchdog; kept QoS 2 sends wait for connect().
  void close(std::uint16_t code = runtime::websocket::close_code::normal, std::string reason = {});

  // SendFile (4.3). Errors found here (unreadable file, a name the server would refuse) come
  // back in the result; later ones go to on_error with the FileId.
  send_result send_file(const std::string& path, const send_options& o = {});
  // Ends an outgoing transfer and tells the server ("File Cancelled."); asynchronous.
  void cancel(const std::string& file_id);
  // `channels`: a name or a comma list; remembered for reconnects, sent now when open.
  void subscribe(std::string_view channels);
  void unsubscribe(std::string_view channels);

  bool is_open() const;
  // Payload bytes of every chunk sent so far (resends included): what a resume saved shows.
  std::uint64_t payload_bytes_sent() const;
  std::size_t sending() const;  // outgoing transfers not finished

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace switchboard::protocols::files
