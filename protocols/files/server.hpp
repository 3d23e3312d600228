// server.hpp: the server side of the sgc Files protocol (subprotocol `files.esegece.com`;
// spec/sgc-protocols.md section 4), attached to a route of a runtime::server.
//
//   runtime::server transport{options};
//   files::server_options fo;
//   fo.transfer.receive_dir = "/var/lib/switchboard/files";   // created when missing
//   files::server files{transport, fo};
//   files.attach("/files");                           // answers "files.esegece.com" if offered
//   files.on_file_received([](const files::peer& p, const files::received_file& f) {...});
//   transport.start();
//   files.send_file(guid, "/tmp/report.pdf", {});      // any thread
//   files.broadcast_file("/tmp/report.pdf", {}, "news");
//   ...
//   transport.stop();                                  // before the files server goes
//
// What it owns: the binding of transfers (transfer.hpp, the same state machines the client
// runs) to connections, one endpoint per connection, and a channel registry of its own (1.3:
// each protocol instance has its own channels). Binary messages go to the connection's
// endpoint; text messages are default-protocol messages (4.1, last rule), decoded with
// protocols/sgc/codec.hpp: sgc@subscribe / sgc@unsubscribe (comma lists; answered with the
// default protocol's confirmations), sgc@unsubscribe_all, and sgc@message (on_message). A
// binary message that is not a Files frame closes the connection with 1007; a text message
// that is not one of these gets a JSON-RPC error and the connection stays open.
//
// Relay (server_options::relay_channel_files): a file a client sends with a non-empty Channel
// is, once complete and verified, sent from receive_dir to that channel's subscribers except
// its sender, at the QoS it came with (the browser demo: one page uploads, the others get it).
//
// Channels are plain names here (no patterns); a connection's subscriptions end with it.
//
// Threads: configure (attach, on_*, authorize) before the runtime server starts. Hooks run on
// the connection's io thread, one message at a time per connection; they must not block.
// send_file(), broadcast_file(), subscribers() and connections() are safe from any thread;
// they open and hash the file on the calling thread (SHA-256 reads it once), then hand the
// transfer to each connection's io thread. Lifetime: the runtime server must be stopped before
// this object is destroyed (on_close calls into it).
#pragma once

#include "protocols/files/transfer.hpp"
#include "runtime/connection.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::runtime {
class server;
}

namespace switchboard::protocols::files {

struct server_options {
  transfer_options transfer;  // receive_dir (required to receive), chunk_size, limits, QoS
  // A file received with a non-empty Channel is sent on to the channel's other subscribers.
  bool relay_channel_files = false;
};

// A connection as hooks see it.
struct peer {
  std::string guid;  // the connection's GUID (1.2): send_file's target, include/exclude name
  runtime::connection_ptr connection;
  const std::string& user() const { return connection->user(); }  // HTTP-authenticated user
};

// Where a broadcast goes (4.3 BroadcastFile).
struct broadcast_target {
  std::string channel;  // "" = every connection of this server
  std::string exclude;  // comma list of GUIDs
  std::string include;  // comma list of GUIDs; non-empty: only these
};

class server final : public runtime::websocket_handler {
 public:
  using connect_hook = std::function<void(const peer&)>;
  using disconnect_hook = std::function<void(const peer&, std::uint16_t code)>;
  // OnFileReceivedAuthorization (4.2), at every QoS: false refuses ("File Rejected.");
  // `file_name` may be changed (it is checked again with sanitize_file_name).
  using authorize_hook =
      std::function<bool(const peer&, const frame& header, std::string& file_name)>;
  // OnFileReceivedFragment: false cancels the transfer ("File Cancelled.").
  using fragment_hook = std::function<bool(const peer&, const frame& chunk)>;
  using received_hook = std::function<void(const peer&, const received_file&)>;
  using sent_hook = std::function<void(const peer&, const sent_file&)>;
  using error_hook = std::function<void(const peer&, const transfer_error&)>;
  using progress_hook = std::function<void(const peer&, const transfer_progress&)>;
  // False: the subscription is refused (answered with JSON-RPC error -32001).
  using before_subscribe_hook = std::function<bool(const peer&, const std::string& channel)>;
  using subscription_hook = std::function<void(const peer&, const std::string& channel)>;
  using message_hook = std::function<void(const peer&, const std::string& text)>;

  // Creates options.transfer.receive_dir when missing (throws runtime::config_error when it
  // cannot, or for a chunk_size < 0, max_file_size < 0 or a QoS interval/timeout < 1 ms).
  server(runtime::server& transport, server_options options);
  ~server() override;
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // --- Before the runtime server starts ----------------------------------------------------
  // Adds a WebSocket route on `path` whose selector answers `files.esegece.com` when offered.
  void attach(const std::string& path);
  static std::string select_subprotocol(const std::vector<std::string_view>& offered);

  void on_connect(connect_hook h);
  void on_disconnect(disconnect_hook h);
  void authorize(authorize_hook h);
  void on_fragment(fragment_hook h);
  void on_file_received(received_hook h);
  void on_file_sent(sent_hook h);
  void on_error(error_hook h);
  void on_progress(progress_hook h);
  void on_before_subscribe(before_subscribe_hook h);
  void on_subscribe(subscription_hook h);
  void on_unsubscribe(subscription_hook h);
  void on_message(message_hook h);

  // --- Any thread --------------------------------------------------------------------------
  // SendFile (4.3): `path` to the connection `guid`. Errors: unknown GUID, unreadable file,
  // a name the receiver would refuse. Errors later in the transfer go to on_error.
  send_result send_file(const std::string& guid, const std::string& path,
                        const send_options& o = {});
  // BroadcastFile (4.3): to every connection of `target` (QoS 0/1: header and chunks to each;
  // QoS 2: one pull transfer per connection), all with the same FileId. o.channel is ignored:
  // the frames carry target.channel.
  send_result broadcast_file(const std::string& path, const send_options& o = {},
                             const broadcast_target& target = {});
  std::size_t subscribers(const std::string& channel) const;
  std::size_t connections() const;
  const server_options& options() const noexcept;

  // --- runtime::websocket_handler (io threads) ---------------------------------------------
  void on_open(const runtime::connection_ptr& c) override;
  void on_message(const runtime::connection_ptr& c, runtime::websocket::opcode op,
                  std::string_view payload) override;
  void on_close(const runtime::connection_ptr& c, std::uint16_t code,
                std::string_view reason) override;

  struct impl;

 private:
  std::shared_ptr<impl> impl_;
};

}  // namespace switchboard::protocols::files
