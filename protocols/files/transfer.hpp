// transfer.hpp: the Files protocol's transfer state machines (spec/sgc-protocols.md 4.2), the
// sender and the receiver, written once and bound to a connection by the server (server.hpp)
// and by the client (client.hpp): a server sends to clients and receives from them exactly as
// a client sends to and receives from the server, so both sides run this same code.
//
// One `endpoint` per connection (the client keeps its endpoint across reconnects). It owns the
// outgoing transfers (by FileId) and the incoming ones (by FileId), decodes every binary
// message of the connection (codec.hpp) and answers with frames through its `link`:
//
//   sender                                       receiver
//   QoS 0  header (stmNone client / stmFirst server), then chunks back to back, each a new
//          Id, stmContinue, the last stmLast; FilePosition = the chunk's END offset (4.1)
//   QoS 1  the same; the receiver acks every frame (same Id) and ends with sgc@file_received
//   QoS 2  header only             ->  ack, then sgc@filerec FilePosition = bytes on disk
//          one chunk per filerec   ->  ack, pwrite, sgc@filerec for the next one, or at the
//                                      end sgc@file_received
//
// Decisions ([D] where the original differs; README.md has the full list):
//   - the receiver writes `<receive_dir>/<FileId>.part` (FileId must pass sanitize_file_name,
//     else "File Rejected.") with pwrite at FilePosition - payload length, so a repeated chunk
//     (a retry, a resent chunk after a reconnect) lands on the same bytes; when the last chunk
//     is in, the size must equal FileSize and, when the header carried one, the SHA-256 must
//     match; only then is the .part renamed to `<receive_dir>/<FileName>`. A name already
//     taken gets " (1)", " (2)", ... before its extension (link + unlink: never overwrites).
//   - SHA-256: the frame has no hash field, so the sender puts `sha256:<64 lower-case hex>` in
//     the header's Text (empty in the original's header frames: a peer that sends none only
//     gets the size check). Mismatch: .part deleted, "Error receiving file, checksum
//     mismatch.".
//   - QoS 2 resume: a header for a FileId whose .part exists (a reconnect, or a sender that
//     starts again with the same FileId) is answered with a filerec at the .part's size; at
//     QoS 0 and 1 the .part is truncated (a push cannot resume).
//   - refusals at the header ("File Rejected." from a bad FileId or FileName, a `../` name
//     included, or the authorisation hook; "File too large." over max_file_size) are checked
//     before any byte is written, and every receiver error is answered with
//     sgc@file_sent_error at EVERY QoS (the original: QoS >= 1 only). The authorisation hook
//     runs at every QoS (the original: QoS 2 only) and may rename the file.
//   - a FileName with a path separator or `..` fails the codec's decode (bad_file_name); the
//     endpoint then checks the rest of the frame with a placeholder name and, when it is
//     sound, answers "File Rejected." instead of closing the connection.
//   - a binary message that does not decode (the header length lies, 11 fields, ...) makes
//     on_message return the error: the binder closes the connection with 1007 (invalid frame
//     payload data: the binary message is not a Files frame).
//   - retries (QoS 2 only, as the original): every qos_interval, the last frame a QoS 2
//     transfer is waiting on (the sender's header or chunk, the receiver's filerec) is sent
//     again when older than qos_timeout, and its time refreshed (the original re-sends every
//     interval once timed out). A repeated chunk is harmless (pwrite at its offset).
//   - sending reads the file with pread, one chunk at a time; a push (QoS 0/1) sends the next
//     chunk only while the link's queue holds less than `send_budget` bytes (or is empty), and
//     polls every millisecond otherwise, so memory stays at a few chunks per transfer.
//
// Threads: an endpoint lives on its connection's io thread; every member is called there. The
// only exception is prepare_file(), which reads and hashes a file on the caller's thread.
#pragma once

#include "protocols/files/codec.hpp"
#include "runtime/io_pool.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

namespace switchboard::protocols::files {

// The error texts on the wire (4.2), in sgc@file_sent_error / sgc@file_received_error Text.
inline constexpr std::string_view text_rejected = "File Rejected.";
inline constexpr std::string_view text_cancelled = "File Cancelled.";
inline constexpr std::string_view text_too_large = "File too large.";  // ours: max_file_size
inline constexpr std::string_view text_checksum = "Error receiving file, checksum mismatch.";
inline constexpr std::string_view text_already_sending =
    "Already sending a File, wait a try again later.";
// The close code for a binary message that is not a Files frame (RFC 6455 7.4.1: data not
// consistent with the type of the message).
inline constexpr std::uint16_t bad_frame_close_code = 1007;

// The size mismatch text is "Error receiving file, expected size of %d and received %d.".
std::string size_mismatch_text(std::int64_t expected, std::int64_t received);

// Settings of one side (server or client); both sides use the same ones.
struct transfer_options {
  // Where received files go; created (one level) when missing. Empty: receiving is refused
  // ("File Rejected.").
  std::string receive_dir;
  std::int32_t chunk_size = 64 * 1024;                 // bytes per chunk; 0 = the whole file
  std::int64_t max_file_size = default_max_file_size;  // larger headers: "File too large."
  std::chrono::milliseconds qos_interval{60000};       // QoS.Interval (4.3)
  std::chrono::milliseconds qos_timeout{300000};       // QoS.Timeout
  // Delete a QoS 2 .part when the connection ends (the original's default, true). False
  // (ours): it stays and the transfer resumes when the sender comes back with the FileId.
  // QoS 0/1 .part files are always deleted then: a push cannot resume.
  bool clear_received_on_disconnect = false;
  limits codec;  // header and chunk limits for decode(); its max_file_size is not used (above)
};

// How one file is sent.
struct send_options {
  std::int32_t chunk_size = -1;  // -1: transfer_options::chunk_size; 0: the whole file
  qos_level qos = qos_level::level0;
  std::string data;     // Data field (free user text, no '|')
  std::string file_id;  // "" = a new GUID; a QoS 2 resend with the same FileId resumes
  std::string channel;  // Channel field (a client: the server relays to the channel)
};

// What a send_file() or broadcast_file() call did (server and client).
struct send_result {
  std::string file_id;      // the transfer's FileId; "" on error
  std::size_t targets = 0;  // connections the transfer was handed to
  std::string error;        // why nothing was sent ("" on success)
  bool ok() const noexcept { return error.empty(); }
};

enum class direction : std::uint8_t { sending, receiving };

// A file received, complete and verified, under its final name.
struct received_file {
  std::string file_id;
  std::string name;    // the final name in receive_dir (after a rename or a " (1)" suffix)
  std::string path;    // receive_dir + "/" + name
  std::string sha256;  // lower-case hex of the bytes written
  std::string channel;
  std::string data;
  std::int64_t size = 0;
  qos_level qos = qos_level::level0;
  bool resumed = false;  // the transfer continued a .part left by an earlier connection
};

// A file sent: at QoS 0 every chunk is queued; at QoS 1 and 2 the receiver said
// sgc@file_received.
struct sent_file {
  std::string file_id;
  std::string name;
  std::string channel;
  std::int64_t size = 0;
  qos_level qos = qos_level::level0;
};

struct transfer_error {
  direction side = direction::receiving;  // which of our transfers failed
  std::string file_id;
  std::string name;
  std::string text;     // the 4.2 text ("File Rejected.", ...) or a local reason
  bool remote = false;  // the peer said so (its sgc@file_sent_error / file_received_error)
};

struct transfer_progress {
  direction side = direction::receiving;
  std::string file_id;
  std::string name;
  std::int64_t bytes = 0;  // received: end offset of the last chunk; sent: likewise
  std::int64_t size = 0;
};

// A file opened and hashed for sending (prepare_file): the fd is owned by the endpoint once
// handed to send_file().
struct prepared_file {
  int fd = -1;
  std::string name;  // the wire FileName (the path's last component, sanitised)
  std::int64_t size = 0;
  std::string sha256;  // lower-case hex
  ~prepared_file();
  prepared_file() = default;
  prepared_file(prepared_file&& o) noexcept;
  prepared_file& operator=(prepared_file&& o) noexcept;
  prepared_file(const prepared_file&) = delete;
  prepared_file& operator=(const prepared_file&) = delete;
};

// Opens `path`, checks its name (sanitize_file_name: a name the peer would refuse is refused
// here) and hashes it (SHA-256, reading the whole file: run it off the io thread). Returns
// nullptr with `error` set when it cannot. `name` non-empty: sent under that name instead.
std::shared_ptr<prepared_file> prepare_file(const std::string& path, std::string& error,
                                            std::string_view name = {});

// Lower-case hex SHA-256 of the whole file behind `fd` (pread from 0), "" on a read error.
std::string sha256_of_fd(int fd);

// A fresh GUID, 8-4-4-4-12 upper-case hex (packet Ids, FileIds, connection ids).
std::string new_guid();

class endpoint : public std::enable_shared_from_this<endpoint> {
 public:
  // What the endpoint needs from its connection (io thread).
  struct link {
    std::function<bool(std::string_view frame)> send;  // a binary message; false: not sent
    std::function<std::size_t()> queued;               // bytes not written yet
    std::size_t send_budget = 512 * 1024;              // pushes wait while more than this is queued
  };
  struct events {
    // Every incoming header, after the name checks: false refuses ("File Rejected.");
    // `name` may be changed (it is checked again).
    std::function<bool(const frame& header, std::string& name)> authorize;
    // Every incoming chunk, after it is written: false cancels ("File Cancelled.").
    std::function<bool(const frame& chunk)> fragment;
    std::function<void(const received_file&)> received;
    std::function<void(const sent_file&)> sent;
    std::function<void(const transfer_error&)> error;
    std::function<void(const transfer_progress&)> progress;
  };

  // `server_role`: header frames say stmFirst (server) or stmNone (client), 4.1.
  endpoint(runtime::worker& io, const transfer_options& options, events ev, bool server_role);
  ~endpoint();
  endpoint(const endpoint&) = delete;
  endpoint& operator=(const endpoint&) = delete;

  // The connection is (again) up: frames go through `l`. QoS 2 sends kept from an earlier
  // connection send their header again (same FileId): the receiver's filerec resumes them.
  void attach(link l);
  // The connection ended: pushes (QoS 0/1) and incoming transfers end (a QoS 2 .part stays
  // unless clear_received_on_disconnect); QoS 2 sends are kept for attach() when
  // `keep_qos2_sends`, else they end too. Errors are reported with text "Connection closed.".
  void detach(bool keep_qos2_sends);

  // One whole binary message from the peer. An error: the message is not a Files frame (the
  // binder closes the connection with 1007); the endpoint is unchanged.
  std::error_code on_message(std::string_view message);

  // Starts sending `file` (from prepare_file). Returns the FileId, or "" with the error
  // reported through events::error (text_already_sending when the FileId is busy).
  std::string send_file(std::shared_ptr<prepared_file> file, const send_options& o);
  // Ends an outgoing transfer, telling the receiver ("File Cancelled."). False: unknown id.
  bool cancel(const std::string& file_id);

  std::size_t sending() const noexcept { return out_.size(); }
  std::size_t receiving() const noexcept { return in_.size(); }
  // Payload bytes of every chunk this endpoint has sent (resends included).
  std::uint64_t payload_bytes_sent() const noexcept { return payload_sent_; }

  struct outgoing;
  struct incoming;

 private:
  using clock = std::chrono::steady_clock;

  bool send_frame(const frame& f, std::string_view payload = {});
  void reply(const frame& to, method_kind m, std::string_view text = {});
  void on_header(const frame& f, std::string_view payload);
  void on_chunk(incoming& in, const frame& f, std::string_view payload);
  void on_control(const frame& f);
  void reject_bad_name(std::string_view message);
  void fail_incoming(const std::string& file_id, std::string_view text, bool tell_peer,
                     bool remote);
  void fail_outgoing(const std::string& file_id, std::string_view text, bool tell_peer,
                     bool remote);
  void finish_incoming(incoming& in);
  void request_chunk(incoming& in);  // a filerec for in.position, new Id
  void send_filerec(incoming& in);   // the filerec under in.filerec_id (a resend keeps it)
  void send_header(outgoing& o);
  bool send_chunk(outgoing& o, std::int64_t start);  // false: an I/O error ended it
  void pump();
  void arm_pump();
  void arm_retry();
  void on_retry();
  bool room(std::size_t frame_size) const;
  // Runs deferred cleanup after the outermost call (a send may close the connection).
  struct call_guard;

  runtime::worker& io_;
  transfer_options options_;
  events events_;
  bool server_role_;
  link link_;
  bool attached_ = false;
  std::map<std::string, std::unique_ptr<outgoing>> out_;
  std::map<std::string, std::unique_ptr<incoming>> in_;
  runtime::timer pump_timer_;
  runtime::timer retry_timer_;
  bool pump_armed_ = false;
  bool retry_armed_ = false;
  int depth_ = 0;
  bool detach_pending_ = false;
  bool detach_keep_ = false;
  std::uint64_t payload_sent_ = 0;
  std::string scratch_;  // one encoded frame
};

}  // namespace switchboard::protocols::files
