#include "runtime/websocket/deflate.hpp"

#include "runtime/websocket/handshake.hpp"
#include "runtime/websocket/rfc6455.hpp"

#include <zlib.h>

#include <algorithm>
#include <cassert>
#include <climits>
#include <cstdlib>
#include <cstring>

namespace switchboard::runtime::websocket {
namespace {

struct category final : std::error_category {
  const char* name() const noexcept override { return "websocket.deflate"; }
  std::string message(int ev) const override {
    switch (static_cast<deflate_errc>(ev)) {
      case deflate_errc::malformed_response:
        return "malformed Sec-WebSocket-Extensions response";
      case deflate_errc::unexpected_extension:
        return "server accepted an extension that was not offered";
      case deflate_errc::duplicate_extension:
        return "server accepted permessage-deflate twice";
      case deflate_errc::unknown_parameter:
        return "unknown permessage-deflate parameter";
      case deflate_errc::duplicate_parameter:
        return "repeated permessage-deflate parameter";
      case deflate_errc::invalid_parameter_value:
        return "invalid permessage-deflate parameter value";
      case deflate_errc::missing_server_no_context_takeover:
        return "server did not accept server_no_context_takeover";
      case deflate_errc::server_window_too_large:
        return "server_max_window_bits missing or above the offered limit";
      case deflate_errc::inflate_failed:
        return "invalid DEFLATE data";
      case deflate_errc::inflate_too_big:
        return "inflated message exceeds the maximum size";
      case deflate_errc::too_many_final_blocks:
        return "too many final DEFLATE blocks in one message";
      case deflate_errc::zlib_error:
        return "zlib could not set up a stream";
    }
    return "unknown permessage-deflate error";
  }
};

constexpr std::string_view extension_name = "permessage-deflate";

// The empty stored block a sync flush ends with (7.2.1), removed by the sender and appended
// again by the receiver (7.2.2).
constexpr unsigned char flush_marker[4] = {0x00, 0x00, 0xff, 0xff};

// Header parsing (RFC 6455 section 9.1, RFC 7230 section 3.2.6).

bool is_tchar(char c) {
  static constexpr std::string_view symbols = "!#$%&'*+-.^_`|~";
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         symbols.find(c) != std::string_view::npos;
}

// One parameter of an extension element. `value` is raw: for a quoted string, the text between
// the quotes with its escapes still in it.
struct ext_param {
  std::string_view name;
  std::string_view value;
  bool has_value = false;
  bool quoted = false;
};

// Reads a Sec-WebSocket-Extensions value one element at a time, without allocating. A syntax
// error inside an element marks that element malformed and skips to the next top-level comma
// (commas inside quoted strings do not count), so one bad offer does not hide the next.
class extension_reader {
 public:
  explicit extension_reader(std::string_view s) : s_(s) {}

  // Moves to the next non-empty element and reads its name. False at the end of the value.
  bool next_element() {
    if (in_element_) skip_element();
    for (;;) {
      skip_ows();
      if (pos_ == s_.size()) return false;
      if (s_[pos_] == ',') {  // empty list element: allowed by the #rule
        ++pos_;
        continue;
      }
      break;
    }
    in_element_ = true;
    malformed_ = false;
    name_ = read_token();
    if (name_.empty()) malformed_ = true;
    return true;
  }

  std::string_view name() const noexcept { return name_; }
  bool malformed() const noexcept { return malformed_; }

  // Reads the next parameter of the current element. False at its end or on a syntax error
  // (then malformed() is true).
  bool next_param(ext_param& p) {
    if (malformed_) return false;
    skip_ows();
    if (pos_ == s_.size() || s_[pos_] == ',') return false;
    if (s_[pos_] != ';') return fail();
    ++pos_;
    skip_ows();
    p = ext_param{};
    p.name = read_token();
    if (p.name.empty()) return fail();
    skip_ows();
    if (pos_ < s_.size() && s_[pos_] == '=') {
      ++pos_;
      skip_ows();
      p.has_value = true;
      if (pos_ < s_.size() && s_[pos_] == '"') {
        p.quoted = true;
        if (!read_quoted(p.value)) return fail();
      } else {
        p.value = read_token();
        if (p.value.empty()) return fail();
      }
    }
    return true;
  }

 private:
  bool fail() {
    malformed_ = true;
    return false;
  }

  void skip_ows() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t'))
      ++pos_;
  }

  std::string_view read_token() {
    const std::size_t begin = pos_;
    while (pos_ < s_.size() && is_tchar(s_[pos_]))
      ++pos_;
    return s_.substr(begin, pos_ - begin);
  }

  // At an opening quote: reads through the closing one. False when unterminated or when it
  // contains a character quoted-string does not allow (CTLs other than HTAB, DEL).
  bool read_quoted(std::string_view& raw) {
    const std::size_t begin = ++pos_;
    while (pos_ < s_.size()) {
      const auto c = static_cast<unsigned char>(s_[pos_]);
      if (c == '"') {
        raw = s_.substr(begin, pos_ - begin);
        ++pos_;
        return true;
      }
      if (c == '\\') {
        if (++pos_ == s_.size()) return false;
        const auto e = static_cast<unsigned char>(s_[pos_]);
        if ((e < 0x20 && e != '\t') || e == 0x7f) return false;
      } else if ((c < 0x20 && c != '\t') || c == 0x7f) {
        return false;
      }
      ++pos_;
    }
    return false;
  }

  // Skips the rest of the current element, through its comma.
  void skip_element() {
    bool quoted = false;
    while (pos_ < s_.size()) {
      const char c = s_[pos_++];
      if (quoted) {
        if (c == '\\' && pos_ < s_.size()) {
          ++pos_;
        } else if (c == '"') {
          quoted = false;
        }
      } else if (c == '"') {
        quoted = true;
      } else if (c == ',') {
        break;
      }
    }
    in_element_ = false;
  }

  std::string_view s_;
  std::size_t pos_ = 0;
  std::string_view name_;
  bool in_element_ = false;
  bool malformed_ = false;
};

// A window bits value: after unescaping a quoted string, a decimal integer 8..15 without
// leading zeros (7.1.2.1). Returns 0 when invalid.
int parse_window_bits(const ext_param& p) {
  int v = 0;
  std::size_t digits = 0;
  for (std::size_t i = 0; i < p.value.size(); ++i) {
    char c = p.value[i];
    if (p.quoted && c == '\\') c = p.value[++i];  // the reader guarantees an escaped char
    if (c < '0' || c > '9' || (digits == 0 && c == '0') || ++digits > 2) return 0;
    v = v * 10 + (c - '0');
  }
  return v >= 8 && v <= 15 ? v : 0;
}

// The parameters of one permessage-deflate element, as written.
struct element_params {
  bool server_no_context_takeover = false;
  bool client_no_context_takeover = false;
  int server_max_window_bits = -1;  // -1 absent, else 8..15
  int client_max_window_bits = -1;  // -1 absent, 0 without value, else 8..15
};

// Reads the current element's parameters. Returns the first rule broken (in_offer: a
// valueless client_max_window_bits is allowed), or {} when the element is well formed.
std::error_code read_params(extension_reader& reader, bool in_offer, element_params& out) {
  ext_param p;
  bool seen[4] = {false, false, false, false};
  std::error_code first;  // keep reading to the element's end: a later syntax error wins
  auto note = [&first](deflate_errc e) {
    if (!first) first = e;
  };
  while (reader.next_param(p)) {
    int which = -1;
    if (iequals(p.name, "server_no_context_takeover")) {
      which = 0;
    } else if (iequals(p.name, "client_no_context_takeover")) {
      which = 1;
    } else if (iequals(p.name, "server_max_window_bits")) {
      which = 2;
    } else if (iequals(p.name, "client_max_window_bits")) {
      which = 3;
    }
    if (which < 0) {
      note(deflate_errc::unknown_parameter);
      continue;
    }
    if (seen[which]) {
      note(deflate_errc::duplicate_parameter);
      continue;
    }
    seen[which] = true;
    switch (which) {
      case 0:
      case 1:
        if (p.has_value) {
          note(deflate_errc::invalid_parameter_value);
        } else {
          (which == 0 ? out.server_no_context_takeover : out.client_no_context_takeover) = true;
        }
        break;
      case 2:
        out.server_max_window_bits = p.has_value ? parse_window_bits(p) : 0;
        if (out.server_max_window_bits == 0) note(deflate_errc::invalid_parameter_value);
        break;
      default:
        if (!p.has_value) {
          out.client_max_window_bits = 0;
          if (!in_offer) note(deflate_errc::invalid_parameter_value);
        } else {
          out.client_max_window_bits = parse_window_bits(p);
          if (out.client_max_window_bits == 0) note(deflate_errc::invalid_parameter_value);
        }
        break;
    }
  }
  if (reader.malformed()) return deflate_errc::malformed_response;
  return first;
}

// zlib streams.

// zlib's allocations go through these so memory() can report them. Each block carries its size
// in a header of max_align_t size (so the block stays aligned for any type).
constexpr std::size_t alloc_header = alignof(std::max_align_t);

void* counted_alloc(std::size_t& counter, unsigned items, unsigned size) {
  const std::size_t n = static_cast<std::size_t>(items) * size + alloc_header;
  void* block = std::malloc(n);
  if (block == nullptr) return Z_NULL;
  std::memcpy(block, &n, sizeof n);
  counter += n;
  return static_cast<unsigned char*>(block) + alloc_header;
}

void counted_free(std::size_t& counter, void* p) {
  if (p == nullptr) return;
  unsigned char* block = static_cast<unsigned char*>(p) - alloc_header;
  std::size_t n;
  std::memcpy(&n, block, sizeof n);
  counter -= n;
  std::free(block);
}

}  // namespace

// Errors.

const std::error_category& deflate_category() noexcept {
  static const category instance;
  return instance;
}

std::uint16_t close_code_for(deflate_errc e) noexcept {
  switch (e) {
    case deflate_errc::inflate_failed:
      return close_code::invalid_payload;
    case deflate_errc::inflate_too_big:
      return close_code::message_too_big;
    case deflate_errc::too_many_final_blocks:
      return close_code::policy_violation;
    case deflate_errc::zlib_error:
      return close_code::internal_error;
    default:
      return close_code::protocol_error;
  }
}

const char* invalid_option(const deflate_options& o) noexcept {
  if (o.server_max_window_bits < 8 || o.server_max_window_bits > 15)
    return "server_max_window_bits";
  if (o.client_max_window_bits < 8 || o.client_max_window_bits > 15)
    return "client_max_window_bits";
  if (o.compression_level < 0 || o.compression_level > 9) return "compression_level";
  if (o.mem_level < 1 || o.mem_level > 9) return "mem_level";
  return nullptr;
}

// Negotiation.

std::optional<deflate_params> negotiate_server(std::string_view offers,
                                               const deflate_options& local) {
  assert(invalid_option(local) == nullptr);
  extension_reader reader(offers);
  while (reader.next_element()) {
    if (reader.malformed() || !iequals(reader.name(), extension_name)) continue;
    element_params offer;
    if (read_params(reader, true, offer)) continue;  // invalid offer: try the next one

    deflate_params p;
    // 7.1.1.1: accepted by echoing it; we may also add it unasked.
    p.server_no_context_takeover =
        offer.server_no_context_takeover || local.server_no_context_takeover;
    // 7.1.1.2: the server may include it; echo the client's own promise as well.
    p.client_no_context_takeover =
        offer.client_no_context_takeover || local.client_no_context_takeover;
    // 7.1.2.1: an offered limit must be answered with a value at most that; we may state our
    // own limit unasked.
    if (offer.server_max_window_bits > 0) {
      p.server_max_window_bits = static_cast<std::uint8_t>(
          std::min<int>(offer.server_max_window_bits, local.server_max_window_bits));
    } else if (local.server_max_window_bits < 15) {
      p.server_max_window_bits = local.server_max_window_bits;
    }
    // 7.1.2.2: only if offered. A value in the offer is the client's own limit: answer with
    // the smaller of it and ours, so our inflater's window is known exactly.
    if (offer.client_max_window_bits > 0) {
      p.client_max_window_bits = static_cast<std::uint8_t>(
          std::min<int>(offer.client_max_window_bits, local.client_max_window_bits));
    } else if (offer.client_max_window_bits == 0 && local.client_max_window_bits < 15) {
      p.client_max_window_bits = local.client_max_window_bits;
    }
    return p;
  }
  return std::nullopt;
}

std::string format_response(const deflate_params& params) {
  std::string out(extension_name);
  if (params.server_no_context_takeover) out += "; server_no_context_takeover";
  if (params.client_no_context_takeover) out += "; client_no_context_takeover";
  if (params.server_max_window_bits != 0) {
    out += "; server_max_window_bits=";
    out += std::to_string(params.server_max_window_bits);
  }
  if (params.client_max_window_bits != 0) {
    out += "; client_max_window_bits=";
    out += std::to_string(params.client_max_window_bits);
  }
  return out;
}

std::string format_offer(const deflate_options& local) {
  assert(invalid_option(local) == nullptr);
  std::string out(extension_name);
  if (local.server_no_context_takeover) out += "; server_no_context_takeover";
  if (local.client_no_context_takeover) out += "; client_no_context_takeover";
  if (local.server_max_window_bits < 15) {
    out += "; server_max_window_bits=";
    out += std::to_string(local.server_max_window_bits);
  }
  out += "; client_max_window_bits";
  if (local.client_max_window_bits < 15) {
    out += '=';
    out += std::to_string(local.client_max_window_bits);
  }
  return out;
}

deflate_accept_result accept_client(std::string_view response, const deflate_options& offered) {
  assert(invalid_option(offered) == nullptr);
  deflate_accept_result result;
  extension_reader reader(response);
  element_params answer;
  bool accepted = false;
  while (reader.next_element()) {
    if (reader.malformed()) {
      result.error = deflate_errc::malformed_response;
      return result;
    }
    if (!iequals(reader.name(), extension_name)) {
      result.error = deflate_errc::unexpected_extension;
      return result;
    }
    if (accepted) {
      result.error = deflate_errc::duplicate_extension;
      return result;
    }
    accepted = true;
    if (const std::error_code ec = read_params(reader, false, answer)) {
      result.error = ec;
      return result;
    }
  }
  if (!accepted) return result;

  // 7.1.1.1: an offered server_no_context_takeover must be echoed; unasked it is allowed.
  if (offered.server_no_context_takeover && !answer.server_no_context_takeover) {
    result.error = deflate_errc::missing_server_no_context_takeover;
    return result;
  }
  // 7.1.2.1: an offered limit must come back, at most as large; unasked, any valid value.
  if (offered.server_max_window_bits < 15 &&
      (answer.server_max_window_bits < 0 ||
       answer.server_max_window_bits > offered.server_max_window_bits)) {
    result.error = deflate_errc::server_window_too_large;
    return result;
  }
  // 7.1.2.2: our offer always carries client_max_window_bits; a value above ours is taken as
  // ours (we promised not to exceed it anyway), none leaves our own limit in force.
  deflate_params p;
  p.server_no_context_takeover = answer.server_no_context_takeover;
  p.client_no_context_takeover = answer.client_no_context_takeover;
  if (answer.server_max_window_bits > 0)
    p.server_max_window_bits = static_cast<std::uint8_t>(answer.server_max_window_bits);
  if (answer.client_max_window_bits > 0) {
    p.client_max_window_bits = static_cast<std::uint8_t>(
        std::min<int>(answer.client_max_window_bits, offered.client_max_window_bits));
  } else if (offered.client_max_window_bits < 15) {
    p.client_max_window_bits = offered.client_max_window_bits;
  }
  result.params = p;
  return result;
}

// deflater.

struct deflater::stream {
  z_stream z{};
  std::size_t heap = sizeof(stream);  // this object plus zlib's blocks

  static void* on_alloc(void* opaque, unsigned items, unsigned size) {
    return counted_alloc(static_cast<stream*>(opaque)->heap, items, size);
  }
  static void on_free(void* opaque, void* p) {
    counted_free(static_cast<stream*>(opaque)->heap, p);
  }

  ~stream() { deflateEnd(&z); }
};

deflater::deflater(int window_bits, bool no_context_takeover, int level, int mem_level,
                   bool release_after_message)
    : window_bits_(window_bits == 8 ? 9 : window_bits),  // zlib has no raw window of 8
      level_(level),
      mem_level_(mem_level),
      no_context_takeover_(no_context_takeover),
      release_after_message_(release_after_message) {
  assert(window_bits >= 8 && window_bits <= 15);
  assert(level >= 0 && level <= 9);
  assert(mem_level >= 1 && mem_level <= 9);
}

deflater::~deflater() = default;
deflater::deflater(deflater&&) noexcept = default;
deflater& deflater::operator=(deflater&&) noexcept = default;

std::size_t deflater::memory() const noexcept {
  return stream_ ? stream_->heap : 0;
}

std::error_code deflater::deflate_message(std::string_view payload, std::string& out) {
  // 7.2.3.6: an empty message is one empty stored block without its LEN/NLEN. Writing it
  // directly keeps the stream untouched (zlib would emit nothing for an empty flush after a
  // flush, and the peer's window does not change).
  if (payload.empty()) {
    out.push_back('\0');
    return {};
  }
  if (!stream_) {
    auto s = std::make_unique<stream>();
    s->z.zalloc = &stream::on_alloc;
    s->z.zfree = &stream::on_free;
    s->z.opaque = s.get();
    if (deflateInit2(&s->z, level_, Z_DEFLATED, -window_bits_, mem_level_, Z_DEFAULT_STRATEGY) !=
        Z_OK)
      return deflate_errc::zlib_error;  // ~stream's deflateEnd is a no-op on a failed init
    stream_ = std::move(s);
  }
  z_stream& z = stream_->z;
  const std::size_t start = out.size();
  // deflateBound is for Z_FINISH; a sync flush adds its 5-byte marker, and bits left over
  // from the previous message round up to one more byte. More space is added if ever needed.
  std::size_t used = start;
  out.resize(
      start +
      deflateBound(&z, static_cast<uLong>(std::min<std::size_t>(payload.size(), ULONG_MAX))) + 16);
  const auto* in = reinterpret_cast<const Bytef*>(payload.data());
  std::size_t in_left = payload.size();
  for (;;) {
    const auto in_chunk = static_cast<uInt>(std::min<std::size_t>(in_left, UINT_MAX));
    z.next_in = const_cast<Bytef*>(in);  // zlib does not write through next_in
    z.avail_in = in_chunk;
    const bool last = in_chunk == in_left;
    const int flush = last ? Z_SYNC_FLUSH : Z_NO_FLUSH;
    for (;;) {
      if (used == out.size()) out.resize(out.size() + std::max<std::size_t>(out.size() / 2, 64));
      const auto room = static_cast<uInt>(std::min<std::size_t>(out.size() - used, UINT_MAX));
      z.next_out = reinterpret_cast<Bytef*>(&out[used]);
      z.avail_out = room;
      const int rc = deflate(&z, flush);
      used += room - z.avail_out;
      // Z_BUF_ERROR: no progress possible, the flush completed exactly at the end of the
      // previous output buffer. Nothing else can fail on a valid stream.
      assert(rc == Z_OK || rc == Z_BUF_ERROR);
      (void)rc;
      if (z.avail_out != 0 && z.avail_in == 0) break;  // input taken, output flushed
    }
    in += in_chunk;
    in_left -= in_chunk;
    if (last) break;
  }
  // 7.2.1 step 3: remove the empty stored block's LEN/NLEN.
  assert(used - start >= 4 && std::memcmp(&out[used - 4], flush_marker, 4) == 0);
  used -= 4;
  if (used == start) out[used++] = '\0';  // cannot happen for non-empty input; stay valid
  out.resize(used);

  if (no_context_takeover_) {
    if (release_after_message_) {
      stream_.reset();
    } else {
      deflateReset(&z);
    }
  }
  return {};
}

// inflater.

struct inflater::stream {
  z_stream z{};
  std::size_t heap = sizeof(stream);  // this object plus zlib's blocks

  static void* on_alloc(void* opaque, unsigned items, unsigned size) {
    return counted_alloc(static_cast<stream*>(opaque)->heap, items, size);
  }
  static void on_free(void* opaque, void* p) {
    counted_free(static_cast<stream*>(opaque)->heap, p);
  }

  ~stream() { inflateEnd(&z); }
};

inflater::inflater(int window_bits, bool no_context_takeover, bool release_after_message,
                   std::uint16_t max_final_blocks)
    : window_bits_(window_bits),
      no_context_takeover_(no_context_takeover),
      release_after_message_(release_after_message),
      max_final_blocks_(max_final_blocks) {
  assert(window_bits >= 8 && window_bits <= 15);
}

inflater::~inflater() = default;
inflater::inflater(inflater&&) noexcept = default;
inflater& inflater::operator=(inflater&&) noexcept = default;

std::size_t inflater::memory() const noexcept {
  return stream_ ? stream_->heap : 0;
}

std::error_code inflater::inflate_message(std::string_view payload, std::string& out,
                                          std::size_t max_size) {
  // An empty payload is the empty message. zlib-based senders produce it when the sync flush
  // of an empty message follows the previous one (zlib then emits nothing), and the marker
  // alone would be an incomplete stored block. The stream is not touched.
  if (payload.empty()) return {};
  if (!stream_) {
    auto s = std::make_unique<stream>();
    s->z.zalloc = &stream::on_alloc;
    s->z.zfree = &stream::on_free;
    s->z.opaque = s.get();
    if (inflateInit2(&s->z, -window_bits_) != Z_OK) return deflate_errc::zlib_error;
    stream_ = std::move(s);
  }
  const std::size_t start = out.size();
  const std::error_code ec = run(payload, out, start, max_size);
  if (ec) {
    out.resize(start);
    return ec;
  }
  if (no_context_takeover_) {
    if (release_after_message_) {
      stream_.reset();
    } else {
      inflateReset(&stream_->z);
    }
  }
  return {};
}

// Inflates payload + flush_marker into out[start..], at most max_size bytes (0: no limit).
// out's size is kept at start + written + free space; the caller trims it on error.
std::error_code inflater::run(std::string_view payload, std::string& out, std::size_t start,
                              std::size_t max_size) {
  z_stream& z = stream_->z;
  const std::size_t limit = max_size == 0 ? std::string::npos - start : max_size;
  const std::size_t hard_capacity = max_size == 0 ? 0 : start + max_size;  // 0: unbounded
  std::size_t written = 0;  // bytes produced at out[start..]
  unsigned final_blocks = 0;
  unsigned char probe;  // output space once `limit` bytes are written: any byte here is too many

  // Input: the payload (in pieces zlib's 32-bit counters can take), then the marker.
  const auto* in = reinterpret_cast<const Bytef*>(payload.data());
  std::size_t in_left = payload.size();
  bool in_marker = false;
  z.avail_in = 0;  // a message that ended on a final block left the marker unread
  // Whether the last call that made progress left the stream between blocks. A call without
  // progress cannot be asked: zlib enters every call at a block boundary by leaving that
  // state (TYPE becomes TYPEDO), and one more call happens whenever the output space ran out
  // exactly at the end of the message.
  bool between_blocks = false;

  for (;;) {
    if (z.avail_in == 0) {
      if (in_left > 0) {
        const auto n = static_cast<uInt>(std::min<std::size_t>(in_left, UINT_MAX));
        z.next_in = const_cast<Bytef*>(in);  // zlib does not write through next_in
        z.avail_in = n;
        in += n;
        in_left -= n;
      } else if (!in_marker) {
        in_marker = true;
        z.next_in = const_cast<Bytef*>(flush_marker);
        z.avail_in = sizeof flush_marker;
      }
    }

    bool probing = false;
    if (written == limit) {
      probing = true;
      z.next_out = &probe;
      z.avail_out = 1;
    } else {
      if (start + written == out.size()) {
        // Grow by at least what was written so far (so zero-filling by resize() stays linear),
        // 4 KiB or the compressed size, never past the bound. reserve() would round a request
        // below twice the old capacity up to twice, so such a step builds a string of exactly
        // the capacity wanted and moves the bytes over: a bounded message never holds more
        // than `limit` bytes (a reallocation copies them anyway).
        const std::size_t target =
            start +
            std::min(limit, written + std::max<std::size_t>({written, 4096, payload.size()}));
        if (target > out.capacity()) {
          std::size_t capacity = std::max(target, 2 * out.capacity());
          if (hard_capacity != 0) capacity = std::min(capacity, hard_capacity);
          if (capacity >= 2 * out.capacity()) {
            out.reserve(capacity);
          } else {
            std::string exact(capacity, '\0');
            std::memcpy(&exact[0], out.data(), out.size());
            exact.resize(out.size());
            out.swap(exact);
          }
        }
        out.resize(target);
      }
      const std::size_t room = std::min<std::size_t>(out.size() - start - written, UINT_MAX);
      z.next_out = reinterpret_cast<Bytef*>(&out[start + written]);
      z.avail_out = static_cast<uInt>(room);
    }
    const uInt out_before = z.avail_out;
    const uInt in_before = z.avail_in;
    const int rc = inflate(&z, Z_SYNC_FLUSH);
    const std::size_t produced = out_before - z.avail_out;
    if (probing && produced != 0) return deflate_errc::inflate_too_big;
    if (!probing) written += produced;
    if (produced != 0 || z.avail_in != in_before) between_blocks = (z.data_type & 128) != 0;

    if (rc == Z_STREAM_END) {
      // A final block (7.2.3.4). The message may go on with more blocks after it, and later
      // messages may reference it: restart the stream with the window carried over.
      if (++final_blocks > max_final_blocks_) return deflate_errc::too_many_final_blocks;
      std::string window(std::size_t{1} << window_bits_, '\0');
      uInt window_size = 0;
      inflateGetDictionary(&z, reinterpret_cast<Bytef*>(&window[0]), &window_size);
      const Bytef* next = z.next_in;
      const uInt avail = z.avail_in;
      inflateReset(&z);
      if (window_size != 0)
        inflateSetDictionary(&z, reinterpret_cast<const Bytef*>(window.data()), window_size);
      z.next_in = const_cast<Bytef*>(next);
      z.avail_in = avail;
      // The message ended with the final block: either that block was the empty stored block
      // of 7.2.1 (BFINAL set), which the marker we append completes, or there was no empty
      // stored block after it (7.2.1 asks for one but some senders omit it), and nothing is
      // left but the marker.
      if (in_left == 0 && (avail == 0 || (in_marker && avail == sizeof flush_marker))) break;
      continue;
    }
    if (rc == Z_MEM_ERROR) return deflate_errc::zlib_error;
    if (rc != Z_OK && rc != Z_BUF_ERROR) return deflate_errc::inflate_failed;
    if (z.avail_in == 0 && z.avail_out != 0 && in_left == 0 && in_marker) {
      // All input taken and all output flushed. A conformant message ends with the header of
      // an empty stored block (7.2.1 step 2), which the marker completes, so the stream must
      // now be between blocks; anything else is a truncated or corrupt message.
      if (!between_blocks) return deflate_errc::inflate_failed;
      break;
    }
  }
  out.resize(start + written);
  return {};
}

// deflate_state, compress_once.

namespace {

struct direction {
  int window_bits;
  bool no_context_takeover;
};

// Our compressor: the negotiated window for our side, no larger than our own limit, reset per
// message when negotiated or when we committed to it locally (a client's offer promises it).
direction sending(role local_role, const deflate_params& p, const deflate_options& local) {
  if (local_role == role::server) {
    return {std::min<int>(window_bits(p.server_max_window_bits), local.server_max_window_bits),
            p.server_no_context_takeover || local.server_no_context_takeover};
  }
  return {std::min<int>(window_bits(p.client_max_window_bits), local.client_max_window_bits),
          p.client_no_context_takeover || local.client_no_context_takeover};
}

// The peer's compressor, as negotiated.
direction receiving(role local_role, const deflate_params& p) {
  if (local_role == role::server)
    return {window_bits(p.client_max_window_bits), p.client_no_context_takeover};
  return {window_bits(p.server_max_window_bits), p.server_no_context_takeover};
}

deflater make_deflater(role local_role, const deflate_params& p, const deflate_options& local) {
  const direction d = sending(local_role, p, local);
  return deflater(d.window_bits, d.no_context_takeover, local.compression_level, local.mem_level,
                  local.release_after_message);
}

inflater make_inflater(role local_role, const deflate_params& p, const deflate_options& local) {
  const direction d = receiving(local_role, p);
  return inflater(d.window_bits, d.no_context_takeover, local.release_after_message,
                  local.max_final_blocks);
}

}  // namespace

deflate_state::deflate_state(role local_role, const deflate_params& params,
                             const deflate_options& local)
    : wr_(make_deflater(local_role, params, local)),
      rd_(make_inflater(local_role, params, local)) {}

std::string compress_once(std::string_view payload, const deflate_params& params,
                          const deflate_options& local, role local_role) {
  const direction d = sending(local_role, params, local);
  deflater once(d.window_bits, true, local.compression_level, local.mem_level, true);
  std::string out;
  if (once.deflate_message(payload, out)) out.clear();
  return out;
}

}  // namespace switchboard::runtime::websocket
