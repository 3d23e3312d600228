// codec.hpp: the sgc Files protocol (subprotocol token `files.esegece.com`): one binary
// WebSocket message in, one typed frame out, and back. Sans-I/O.
//
// Spec: spec/sgc-protocols.md section 4 (the sgcWebSockets 2025.2 manual, wire layout rebuilt
// from the ~2022 sources), 4.1 in particular. What this file owns: the frame and its field
// rules, and the rule for the name a receiver writes a file under. Transfers (QoS 0/1/2 flows,
// retries, resume, the files on disk) belong to transfer.hpp, which the server and the client
// share; this file has no I/O, clock, logging, Asio or CAF.
//
// The frame (4.1), one whole binary WebSocket message:
//
//   +------------------+-----------------------------+-------------------------------+
//   | 10 ASCII digits  | header: 12 fields joined by | payload: the file chunk,      |
//   | = header length, | '|', no quoting, no escapes | the rest of the message;      |
//   |   zero-padded    |                             | empty on control methods      |
//   +------------------+-----------------------------+-------------------------------+
//
//   0 Id  1 FileId  2 FileName  3 FileSize  4 FilePosition  5 BufferSize  6 Data  7 Streaming
//   8 QoS  9 Method  10 Text  11 Channel
//
//   0000000070{id}|{fileid}|report.pdf|1048576|0|65536||stmNone|qosLevel2|sgc@file||
//
// Field rules, and the choices made where the digest is silent:
//   - FileSize and FilePosition are decimal int64, BufferSize a decimal int32 (0: the whole file
//     in one packet), all >= 0: one or more ASCII digits, leading zeros allowed, no sign, no
//     space, no empty field. The encoder writes them without leading zeros, so a frame with
//     leading zeros decodes to the same frame as its re-encoding, not to the same bytes.
//   - FilePosition <= FileSize in every frame (for a chunk it is the end offset, 4.1).
//   - Streaming, QoS and Method are matched exactly, case included (stmNone, qosLevel2,
//     sgc@file); any other text, empty included, is an error.
//   - Only sgc@file carries a payload; the five control methods (sgc@acknowledgment,
//     sgc@filerec, sgc@file_received, sgc@file_sent_error, sgc@file_received_error) with a
//     payload are an error. Whether an sgc@file frame is a header frame or a chunk is the
//     transfer's business (Streaming and the state of the transfer), not the codec's.
//   - FileName must be a plain name in every frame: 1 to 255 bytes (NAME_MAX), no '/', no '\',
//     no control character (0x00-0x1F, 0x7F: NUL included), not "." or "..". A decoder that
//     refused anything more would close the connection over a name; the stricter rule for the
//     name the receiver actually writes is sanitize_file_name()'s, which the server applies
//     and answers with "File Rejected." (4.2) instead.
//   - Id, FileId, Data, Text and Channel are free text, handed over as bytes (not checked for
//     UTF-8). FileId is no file name: a receiver that names files after it ([D] `<FileId>.part`)
//     must check it with sanitize_file_name() too.
//   - '|' cannot occur in a field (4.1: strict delimiter): the encoder refuses a text field
//     containing one (delimiter_in_field, the digest's [D] "reject"), so clean values keep
//     byte compatibility with the original and nothing is escaped.
//
// Limits (limits, checked in decode() only): the header length against max_header_size
// (default 64 KiB), FileSize against max_file_size (1 GiB), BufferSize and the payload length
// against max_chunk_size (16 MiB, Beast's default message limit: the WebSocket layer's limit
// is the real bound on a payload). The 255-byte name limit is the file system's, not a setting.
//
// Errors are errc values (std::error_code, category "files") naming the first broken rule,
// checked in this order: the length prefix, the header length against the message, the header
// limit, the field count, then FileName, FileSize, FilePosition, BufferSize, Streaming, QoS,
// Method (field order), then FilePosition <= FileSize, a payload on a control method, and the
// file size, chunk and payload limits. Any input gives a decode_result: decode() never
// allocates, asserts, throws or reads outside [data, data + size).
//
// Thread safety: none needed; every function is pure. Hot path: decode() once per received
// chunk, encode() once per sent chunk (one allocation for the exact-size form, none for the
// appending form when `out` has room). No benchmark in tests/bench/ yet.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>

namespace switchboard::protocols::files {

// The Sec-WebSocket-Protocol token (1.1).
inline constexpr std::string_view subprotocol = "files.esegece.com";

// ---- Errors ---------------------------------------------------------------------------------

enum class errc {
  // The frame (4.1).
  bad_length_prefix = 1,  // fewer than 10 bytes, or the first 10 are not all ASCII digits
  bad_header_length,      // the prefix announces more header bytes than the message holds
  bad_field_count,        // the header does not split on '|' into exactly 12 fields
  // The fields (4.1).
  bad_file_name,       // FileName empty, ".", "..", or with '/', '\' or a control character
  file_name_too_long,  // FileName over max_file_name_size (255) bytes
  bad_file_size,       // FileSize not a decimal int64 >= 0 (empty, sign, non-digit, overflow)
  bad_file_position,   // FilePosition not a decimal int64 >= 0
  bad_buffer_size,     // BufferSize not a decimal int32 >= 0
  bad_streaming,       // Streaming not one of stmNone .. stmContinueAndLast
  bad_qos,             // QoS not qosLevel0, qosLevel1 or qosLevel2
  bad_method,          // Method not one of the six sgc@ methods
  position_past_size,  // FilePosition > FileSize
  unexpected_payload,  // a payload after the header of a control method (not sgc@file)
  // Limits (decode only).
  header_too_large,   // the header length is over max_header_size
  file_too_large,     // FileSize is over max_file_size
  chunk_too_large,    // BufferSize is over max_chunk_size
  payload_too_large,  // the payload is over max_chunk_size bytes
  // The receiver's file name (sanitize_file_name only).
  hidden_file_name,    // the name starts with '.'
  file_name_not_utf8,  // the name is not valid UTF-8
  // Encoding only.
  delimiter_in_field,  // a text field (Id, FileId, FileName, Data, Text, Channel) holds '|'
};

// Category "files"; default_error_condition() maps the four limits to std::errc::message_size,
// hidden_file_name, file_name_not_utf8 and delimiter_in_field to std::errc::invalid_argument
// (the frame is sound, the value is refused) and the rest to std::errc::protocol_error.
const std::error_category& files_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), files_category()};
}

// ---- Field types ----------------------------------------------------------------------------

// Streaming (4.1): the header frame is stmNone from a client and stmFirst from a server;
// receivers only test for stmLast.
enum class streaming_mode : std::uint8_t {
  stm_none,
  stm_first,
  stm_continue,
  stm_last,
  stm_continue_and_last,
};

enum class qos_level : std::uint8_t { level0, level1, level2 };  // qosLevel0.. (4.2)

enum class method_kind : std::uint8_t {
  file,                 // sgc@file: the header frame and every chunk
  acknowledgment,       // sgc@acknowledgment: QoS 1 and 2, same Id as the frame acknowledged
  filerec,              // sgc@filerec: QoS 2, the receiver asks for the chunk at FilePosition
  file_received,        // sgc@file_received: the receiver has the whole file
  file_sent_error,      // sgc@file_sent_error: the receiver failed, Text says why
  file_received_error,  // sgc@file_received_error: the sender failed, Text says why
};

std::string_view to_string(streaming_mode s) noexcept;  // "stmNone", ...; "" out of range
std::string_view to_string(qos_level q) noexcept;       // "qosLevel0", ...; "" out of range
std::string_view to_string(method_kind m) noexcept;     // "sgc@file", ...; "" out of range

// True for sgc@file, the only method whose frames may carry a payload.
constexpr bool carries_payload(method_kind m) noexcept {
  return m == method_kind::file;
}

// ---- The frame ------------------------------------------------------------------------------

// The 12 header fields, in wire order. Decoded text fields are views into the decoded message.
struct frame {
  std::string_view id;                                  // 0 Id: a GUID per packet
  std::string_view file_id;                             // 1 FileId: one per file
  std::string_view file_name;                           // 2 FileName: a plain name
  std::int64_t file_size = 0;                           // 3 FileSize
  std::int64_t file_position = 0;                       // 4 FilePosition (a chunk: its end)
  std::int32_t buffer_size = 0;                         // 5 BufferSize; 0: whole file
  std::string_view data;                                // 6 Data: user text
  streaming_mode streaming = streaming_mode::stm_none;  // 7 Streaming
  qos_level qos = qos_level::level0;                    // 8 QoS
  method_kind method = method_kind::file;               // 9 Method
  std::string_view text;                                // 10 Text: error text
  std::string_view channel;                             // 11 Channel

  friend bool operator==(const frame& a, const frame& b) noexcept {
    return std::tie(a.id, a.file_id, a.file_name, a.file_size, a.file_position, a.buffer_size,
                    a.data, a.streaming, a.qos, a.method, a.text, a.channel) ==
           std::tie(b.id, b.file_id, b.file_name, b.file_size, b.file_position, b.buffer_size,
                    b.data, b.streaming, b.qos, b.method, b.text, b.channel);
  }
  friend bool operator!=(const frame& a, const frame& b) noexcept { return !(a == b); }
};

// ---- Limits ---------------------------------------------------------------------------------

inline constexpr std::size_t length_prefix_size = 10;     // the zero-padded header length
inline constexpr std::size_t field_count = 12;            // header fields
inline constexpr std::size_t max_file_name_size = 255;    // NAME_MAX; not configurable
inline constexpr std::size_t min_header_size_limit = 64;  // the smallest max_header_size

inline constexpr std::size_t default_max_header_size = 64 * 1024;
inline constexpr std::int64_t default_max_file_size = std::int64_t{1} << 30;  // 1 GiB
inline constexpr std::int32_t default_max_chunk_size = 16 * 1024 * 1024;      // 16 MiB

struct limits {
  std::size_t max_header_size = default_max_header_size;  // bytes; 64..9'999'999'999
  std::int64_t max_file_size = default_max_file_size;     // FileSize; >= 0
  std::int32_t max_chunk_size = default_max_chunk_size;   // BufferSize and payload; >= 1
};

// The name of the first limit out of range ("max_header_size", "max_file_size",
// "max_chunk_size"), or nullptr. For the configuration loader, which rejects bad settings by name.
const char* invalid_limit(const limits& l) noexcept;

// ---- Decoding -------------------------------------------------------------------------------

// One decoded frame, or why there is none. The views in `msg` and `payload` point into the
// decoded message and stay valid as long as it does.
struct decode_result {
  // Whole messages in, so there is no need_more (STYLE.md item 2).
  enum kind_type : std::uint8_t { done, error };

  kind_type kind = error;
  frame msg;                   // done: the header fields
  std::string_view payload;    // done: the bytes after the header (empty on control methods)
  std::error_code error_code;  // error: a files::errc, the first broken rule

  bool ok() const noexcept { return kind == done; }
};

// Decodes one whole binary WebSocket message. Errors: every errc except hidden_file_name,
// file_name_not_utf8 and delimiter_in_field. Never reads outside [data, data + size).
decode_result decode(const std::uint8_t* data, std::size_t size, const limits& l = {}) noexcept;
decode_result decode(std::string_view message, const limits& l = {}) noexcept;

// ---- Encoding -------------------------------------------------------------------------------

// Appends one frame, laid out as 4.1 says (numbers in decimal without leading zeros), to `out`;
// on error appends nothing. Refuses what decode() would refuse without limits: '|' in a text
// field (delimiter_in_field), a FileName that is not a plain name (bad_file_name,
// file_name_too_long), a negative number (bad_file_size, bad_file_position, bad_buffer_size),
// FilePosition > FileSize (position_past_size), an enum value out of range (bad_streaming,
// bad_qos, bad_method), a payload with a control method (unexpected_payload), a header over
// 9'999'999'999 bytes (header_too_large). So decode(encode(f, p)) gives f and p again.
std::error_code encode(const frame& f, std::string_view payload, std::string& out);

// The whole frame in a string of exactly its size (one allocation); empty, with `ec` set, on
// error. Errors: as above.
std::string encode(const frame& f, std::string_view payload, std::error_code& ec);

// ---- File names -----------------------------------------------------------------------------

// The name a receiver writes a file under, from a FileName (or a FileId) as received, or the
// name a sender puts on the wire, from a local path: the last component after any '/' or '\'
// (the sender strips the path, 4.1; ExtractFileName on either platform's separators), which
// must then be a plain name (as decode() checks: bad_file_name, file_name_too_long), must not
// start with '.' (hidden_file_name: no dot files such as .htaccess or .bashrc appear in the
// save directory), and must be valid UTF-8 (file_name_not_utf8: the header is UTF-8 text,
// 4.1). The name is not otherwise changed: no case folding, no replacement characters.
// Returns a view into `name`, or an empty view with `ec` set.
std::string_view sanitize_file_name(std::string_view name, std::error_code& ec) noexcept;

}  // namespace switchboard::protocols::files

template <>
struct std::is_error_code_enum<switchboard::protocols::files::errc> : std::true_type {};
