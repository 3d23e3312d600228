// client_loop.hpp: one thread's epoll loop over many WebSocket client connections. Every swbench
// mode runs on it; a mode is a session_handler that decides what to send and what to measure.
//
// Each swbench thread owns one client_loop and a share of the connections. Nothing is shared
// between loops (the caller publishes counters itself), so the data path takes no lock.
//
// Life of a connection: waiting -> connecting (non-blocking connect from its source address) ->
// handshaking (with --tls the TLS handshake first; then the GET sent, response parsed by
// ws_client) -> open (frames both ways) -> closing (our close frame sent, waiting for the
// peer's) -> closed, and back to waiting when a mode reopen()s it (the handshakes mode's closed
// loop). At most `max_connecting` connections are connecting or handshaking at once, so opening
// tens of thousands does not overflow the server's accept queue (an overflow costs a SYN
// retransmission: a second or more per connection).
//
// I/O pattern (uSockets and Redis, see STYLE.md): level-triggered epoll; one read() per readiness
// event into one buffer per loop; whole frames in it are handed up as views; a frame cut by the
// end of the read is copied to the connection's spill and completed by the next read. What the
// handler sends while a read is processed is appended to the connection's write buffer and leaves
// in one send() afterwards (a cork); EPOLLOUT is armed only while the kernel refuses bytes. Pings
// are answered, a close is answered and the socket closed.
//
// TLS (--tls, tls_client.hpp): the same system calls. A read() brings ciphertext into a second
// per-loop buffer, OpenSSL's memory BIO takes it, and the plaintext records it completes are
// decrypted into the read buffer, where frames are handled as above. At flush, the write buffer
// (plaintext frames) is encrypted in one SSL_write (one record up to 16 KiB) into the
// connection's ciphertext buffer, which leaves in one send().
//
// permessage-deflate (--deflate, pmd.hpp): send() compresses a data message into a per-loop
// buffer and frames that with RSV1; a received message with RSV1 is inflated into another
// per-loop buffer and handed to the handler as if it had arrived uncompressed. Control frames
// are never compressed (RFC 7692 section 6.1).
//
// Memory: the spill and the write buffer are reserved when the connection is set up, with sizes
// the mode gives, and reused; in steady state nothing is allocated per message (OpenSSL's
// record buffers and zlib's streams are per connection and set up once too).
//
// Thread safety: a client_loop, its connections and its handler are used by one thread; only
// `stop` (read with relaxed loads) is shared.
//
// Hot path: on_readable(), process_frames(), send(), flush().
#pragma once

#include "apps/swbench/byte_buffer.hpp"
#include "apps/swbench/options.hpp"
#include "apps/swbench/pmd.hpp"
#include "apps/swbench/tls_client.hpp"
#include "apps/swbench/ws_client.hpp"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace switchboard::swbench {

enum class conn_state : std::uint8_t { waiting, connecting, handshaking, open, closing, closed };

// Why a connection ended.
enum class close_cause : std::uint8_t {
  connect_failed,    // socket(), bind() or connect() failed
  handshake_failed,  // bad or refused upgrade response
  protocol_error,    // the server broke RFC 6455 (see ws_errc)
  peer_closed,       // the server sent a close frame or EOF while we were not closing
  reset,             // read or write error (ECONNRESET, EPIPE, ...)
  local,             // we closed it (end of run)
};

const char* to_string(close_cause c) noexcept;

struct connection {
  std::uint32_t id = 0;    // global index over all threads (0 .. connections - 1)
  std::uint32_t slot = 0;  // index in this loop; modes keep per-connection state by slot
  int fd = -1;
  conn_state state = conn_state::waiting;
  bool wr_armed = false;               // EPOLLOUT is registered: the kernel refused bytes
  bool rd_in_message = false;          // a fragmented message is being assembled in rd_message
  bool rd_message_compressed = false;  // its first frame had RSV1
  ws_opcode rd_message_op = ws_opcode::text;  // its opcode
  std::uint32_t source_ip = 0;                // host order; 0: any
  bool notify_close = false;          // close() began its closing: tell the handler when it is done
  std::uint64_t connect_started = 0;  // now_ns() when this connection's connect() was issued
  int sys_error = 0;  // errno of the failure that ended it (connect, read, send), or 0
  std::uint16_t peer_close_code = 0;  // status in the server's close frame (1005: none), or 0
  handshake_key key{};                // this connection's Sec-WebSocket-Key and expected accept
  byte_buffer rd_spill;       // bytes of a handshake response or frame cut by a read boundary
  byte_buffer rd_message;     // fragmented message payload
  byte_buffer wr_buf;         // bytes queued for send() (TLS: plaintext, encrypted at flush)
  std::size_t wr_offset = 0;  // bytes of wr_buf (TLS: tls_wr) already sent
  std::unique_ptr<tls_session> tls;  // --tls: the connection's TLS session
  byte_buffer tls_wr;                // --tls: ciphertext queued for send()
  unsigned long tls_error = 0;       // the OpenSSL error that ended it, or 0
  std::unique_ptr<pmd_state> pmd;    // permessage-deflate negotiated: its streams
};

class client_loop;

// What a mode implements. Called on the loop's thread only.
class session_handler {
 public:
  virtual ~session_handler() = default;
  // The handshake of `c` completed at `now`; usually queues the first messages.
  virtual void on_open(client_loop& loop, connection& c, std::uint64_t now) = 0;
  // A whole data message (text or binary) arrived, read at `now`. `data` is valid during the
  // call only.
  virtual void on_message(client_loop& loop, connection& c, ws_opcode op, const std::uint8_t* data,
                          std::size_t size, std::uint64_t now) = 0;
  // `c` ended (never called twice). Not called for connections still open when the loop is
  // destroyed.
  virtual void on_close(connection& c, close_cause cause, ws_errc detail) = 0;
  // Once per loop turn (at least every 10 ms), after the turn's events.
  virtual void on_tick(client_loop& loop, std::uint64_t now) = 0;
  // A close begun by client_loop::close() ended cleanly at `now`: the server answered our close
  // frame (or closed the TCP connection). `c` is closed and may be reopen()ed.
  virtual void on_close_done(client_loop& loop, connection& c, std::uint64_t now) {
    (void)loop;
    (void)c;
    (void)now;
  }
};

struct loop_config {
  ws_target target;
  std::vector<std::uint32_t> source_ips;  // connection id i binds source_ips[i % size]
  std::uint32_t max_connecting = 256;     // connects + handshakes in flight
  std::size_t max_payload = 16u << 20;    // largest data frame or message accepted
  std::size_t wr_reserve = 0;             // write buffer bytes reserved per connection
  std::size_t rd_reserve = 0;             // spill bytes reserved per connection
  bool tls = false;                       // wss: TLS under the WebSocket bytes
  bool deflate = false;                   // offer (and require) permessage-deflate
  int deflate_level = 6;                  // our compressor's zlib level and memLevel
  int deflate_mem_level = 8;
};

// The settings every mode takes from the command line as they are: target, source addresses,
// connects in flight, TLS and permessage-deflate. The mode sets the sizes.
inline loop_config loop_config_from(const options& opt) {
  loop_config config;
  config.target = opt.target;
  config.source_ips = opt.source_ips;
  config.max_connecting = opt.max_connecting;
  config.tls = opt.tls;
  config.deflate = opt.deflate;
  return config;
}

// Byte counts of compressed messages, for the report: data message payloads before
// compression and after (as framed), each way.
struct deflate_counts {
  std::uint64_t sent_raw = 0, sent_wire = 0;
  std::uint64_t received_raw = 0, received_wire = 0;  // messages with RSV1
  std::uint64_t received_plain = 0;                   // messages the server sent uncompressed
};

class client_loop {
 public:
  client_loop(loop_config config, session_handler& handler);
  ~client_loop();
  client_loop(const client_loop&) = delete;
  client_loop& operator=(const client_loop&) = delete;

  // Adds connection `id` (global index) to be opened by run(). Call before run().
  void add_connection(std::uint32_t id);

  // Opens the connections and serves events until `stop` is set.
  void run(const std::atomic<bool>& stop);

  // Sends a close frame (1000) on c (which must be open) and waits for the server's; then
  // on_close_done() (or on_close() if the connection fails on the way).
  void close(connection& c);

  // Puts a closed connection back in the queue of connections to open, with a fresh socket
  // (the handshakes mode's closed loop). Its state is reset; id, slot and source stay.
  void reopen(connection& c);

  // Sends a close frame (1000) on every open connection and serves events until the peers have
  // answered or `timeout_ms` passed, then closes every socket. Messages arriving meanwhile are
  // dropped, not handed to the handler.
  void close_all(int timeout_ms);

  // Appends one masked frame to c's write buffer (header and payload in one go). It leaves in
  // the current event's send(), or at the next flush() when called outside an event. Ignored
  // unless c is open.
  void send(connection& c, ws_opcode op, const std::uint8_t* payload, std::size_t size);

  // Writes what c's buffer holds. Called by the loop after each event; a mode calls it after
  // send() from on_tick().
  void flush(connection& c);

  std::size_t size() const noexcept { return conns_.size(); }
  connection& at(std::size_t slot) noexcept { return conns_[slot]; }

  const deflate_counts& compression() const noexcept { return deflate_counts_; }
  // What the first connection to open agreed: the TLS protocol and cipher, and the response's
  // Sec-WebSocket-Extensions value as swbench understood it. Empty when not in use.
  const std::string& tls_description() const noexcept { return tls_description_; }
  const std::string& deflate_description() const noexcept { return deflate_description_; }

 private:
  void start_connects();
  // Queues our close frame on open connection c and moves it to `closing`.
  void begin_close(connection& c);
  void on_event(connection& c, std::uint32_t events);
  void on_connected(connection& c);
  // Sends the upgrade request (after the TLS handshake with --tls).
  void send_upgrade(connection& c);
  void on_readable(connection& c);
  // --tls: turns ciphertext read from the socket into plaintext at `out` (at most `capacity`
  // bytes); returns the plaintext size, or -1 when c was finished or there is nothing to do yet.
  // `closed` reports the peer's close_notify.
  long on_tls_bytes(connection& c, const std::uint8_t* data, std::size_t size, std::uint8_t* out,
                    std::size_t capacity, bool& closed);
  void on_writable(connection& c);
  // Handles the frames in [data, data + size); keeps a trailing partial frame in the spill.
  void process_frames(connection& c, const std::uint8_t* data, std::size_t size, std::uint64_t now);
  void deliver(connection& c, ws_opcode op, bool compressed, const std::uint8_t* data,
               std::size_t size, std::uint64_t now);
  void queue_frame(connection& c, ws_opcode op, const std::uint8_t* payload, std::size_t size,
                   bool rsv1 = false);
  void set_events(connection& c, std::uint32_t events);
  // Closes c's socket. Tells the handler unless the cause is `local`.
  void finish(connection& c, close_cause cause, ws_errc detail = ws_errc::ok);
  std::uint32_t next_random() noexcept;

  loop_config config_;
  session_handler& handler_;
  int epoll_fd_ = -1;
  std::vector<connection> conns_;           // by slot; never reallocated after run() starts
  std::size_t next_to_open_ = 0;            // first slot still waiting
  std::vector<std::uint32_t> reopen_;       // slots reopen()ed, opened after those waiting
  std::size_t reopen_next_ = 0;             // first of reopen_ still waiting
  std::uint32_t connecting_ = 0;            // slots connecting or handshaking
  std::uint32_t closing_ = 0;               // slots closing (close_all)
  std::unique_ptr<std::uint8_t[]> rd_buf_;  // the loop's read buffer (TLS: plaintext)
  std::size_t rd_buf_size_ = 0;
  std::size_t max_wire_payload_ = 0;             // frame payload limit (compressed: a bit more)
  std::unique_ptr<tls_client_context> tls_ctx_;  // --tls
  std::unique_ptr<std::uint8_t[]> tls_rd_buf_;   // --tls: ciphertext of one read()
  byte_buffer deflate_buf_;                      // --deflate: the message being sent
  byte_buffer inflate_buf_;                      // --deflate: the message received
  deflate_counts deflate_counts_;
  std::string tls_description_;
  std::string deflate_description_;
  std::uint64_t rng_;  // xorshift64 state: mask keys and handshake keys
};

}  // namespace switchboard::swbench
