// codec.cpp: the sgc default protocol codec. See codec.hpp for the wire format and choices.
//
// Decoding runs in two steps. First decode() drives RapidJSON's iterative SAX reader over the
// text once, with an outline_handler that records, for each member the codec reads (the
// envelope's, and those of the params, result or error object), its JSON type, how often it
// occurred and the exact extent of its value's text; nothing else of the document is kept.
// The reader validates the whole text (grammar, UTF-8) and the handler stops it at the depth
// limit. Then a classifier turns the outline into a message: it checks the envelope, picks the
// body, and reads the strings it needs (views into the text, or unescaped into the result's
// storage when they had escapes).
#include "protocols/sgc/codec.hpp"
#include "runtime/text.hpp"

#include <algorithm>
#include <array>
#include <cassert>
#include <cstring>
#include <limits>
#include <new>
#include <type_traits>
#include <utility>

// RapidJSON 1.1.0 (Debian 12's rapidjson-dev) computes `stackTop_ + n` on its lazily allocated,
// still-null work stack (internal/stack.h), which clang's UBSan reports as "applying non-zero
// offset to null pointer" on every parse (Tencent/rapidjson#1724, fixed upstream after the
// 1.1.0 release). It is harmless, so that one check is switched off for RapidJSON's functions
// only; this file's own code stays fully instrumented. The standard headers RapidJSON uses are
// included above, so the attribute reaches only RapidJSON.
#if defined(__clang__)
#pragma clang attribute push(__attribute__((no_sanitize("pointer-overflow"))), apply_to = function)
#endif
#include <rapidjson/allocators.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#if defined(__clang__)
#pragma clang attribute pop
#endif

namespace switchboard::protocols::sgc {
namespace {

using runtime::append_decimal;
using runtime::decimal_size;

// ---- Errors ---------------------------------------------------------------------------------

struct category final : std::error_category {
  const char* name() const noexcept override { return "sgc"; }

  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::message_too_large:
        return "sgc message exceeds the size limit";
      case errc::too_deep:
        return "sgc message nests objects and arrays deeper than the limit";
      case errc::invalid_json:
        return "sgc message is not well-formed JSON";
      case errc::not_an_object:
        return "sgc message is not a JSON object (batches are not supported)";
      case errc::duplicate_member:
        return "sgc message repeats a member";
      case errc::bad_version:
        return "sgc message has no \"jsonrpc\":\"2.0\"";
      case errc::bad_id:
        return "sgc message id is not a string, a number or null";
      case errc::bad_qos:
        return "sgc message qos is not qosLevel0, qosLevel1 or qosLevel2";
      case errc::bad_method:
        return "sgc message method is not a string of valid UTF-8";
      case errc::missing_body:
        return "sgc message has no method, result or error";
      case errc::ambiguous_body:
        return "sgc message has more than one of method, result and error";
      case errc::missing_id:
        return "sgc pubrel, acknowledgment or pubrec without an id";
      case errc::bad_error:
        return "sgc error object is not {code: integer, message: string}";
      case errc::bad_result:
        return "sgc push message lacks a member or has one of the wrong type";
      case errc::bad_params:
        return "params of an sgc@ method is not an object";
      case errc::duplicate_param:
        return "params of an sgc@ method repeats a member";
      case errc::missing_channel:
        return "sgc@ method needs a channel";
      case errc::bad_channel:
        return "sgc channel is not a string of valid UTF-8";
      case errc::missing_message:
        return "sgc@ method needs a message";
      case errc::bad_params_qos:
        return "params qos of an sgc@ method is not qosLevel0, qosLevel1 or qosLevel2";
      case errc::bad_queue:
        return "sgc@publish queue is not queueLevel0, queueLevel1 or queueLevel2";
    }
    return "unknown sgc error";
  }

  std::error_condition default_error_condition(int ev) const noexcept override {
    switch (static_cast<errc>(ev)) {
      case errc::message_too_large:
      case errc::too_deep:
        return std::errc::message_size;
      case errc::bad_params:
      case errc::duplicate_param:
      case errc::missing_channel:
      case errc::bad_channel:
      case errc::missing_message:
      case errc::bad_params_qos:
      case errc::bad_queue:
        return std::errc::invalid_argument;
      default:
        return std::errc::protocol_error;
    }
  }
};

// ---- Names ----------------------------------------------------------------------------------

constexpr std::string_view m_subscribe = "sgc@subscribe";
constexpr std::string_view m_unsubscribe = "sgc@unsubscribe";
constexpr std::string_view m_unsubscribe_all = "sgc@unsubscribe_all";
constexpr std::string_view m_publish = "sgc@publish";
constexpr std::string_view m_broadcast = "sgc@broadcast";
constexpr std::string_view m_message = "sgc@message";
constexpr std::string_view m_session = "sgc@session";
constexpr std::string_view m_transaction = "sgc@transaction";
constexpr std::string_view m_commit = "sgc@commit";
constexpr std::string_view m_rollback = "sgc@rollback";
constexpr std::string_view m_pubrel = "sgc@pubrel";
constexpr std::string_view m_acknowledgment = "sgc@acknowledgment";
constexpr std::string_view m_protocol = "sgc@protocol";
constexpr std::string_view m_event = "sgc@event";
constexpr std::string_view m_pubrec = "sgc@pubrec";

// The request-shaped methods the codec knows (2.2); anything else is an RPC or notification.
enum class request_method : std::uint8_t {
  other,
  subscribe,
  unsubscribe,
  unsubscribe_all,
  publish,
  broadcast,
  message,
  session,
  transaction,
  commit,
  rollback,
  pubrel,
  acknowledgment,
  protocol,
};

request_method request_method_of(std::string_view name) noexcept {
  static constexpr std::pair<std::string_view, request_method> table[] = {
      {m_subscribe, request_method::subscribe},
      {m_unsubscribe, request_method::unsubscribe},
      {m_unsubscribe_all, request_method::unsubscribe_all},
      {m_publish, request_method::publish},
      {m_broadcast, request_method::broadcast},
      {m_message, request_method::message},
      {m_session, request_method::session},
      {m_transaction, request_method::transaction},
      {m_commit, request_method::commit},
      {m_rollback, request_method::rollback},
      {m_pubrel, request_method::pubrel},
      {m_acknowledgment, request_method::acknowledgment},
      {m_protocol, request_method::protocol},
  };
  for (const auto& [text, method] : table)
    if (text == name) return method;
  return request_method::other;
}

// The pushes the codec knows inside "result" (2.2, "How clients route a received message").
enum class push_method : std::uint8_t {
  other,
  session,
  event,
  message,
  subscribe,
  unsubscribe,
  acknowledgment,
  pubrec,
};

push_method push_method_of(std::string_view name) noexcept {
  static constexpr std::pair<std::string_view, push_method> table[] = {
      {m_session, push_method::session},         {m_event, push_method::event},
      {m_message, push_method::message},         {m_subscribe, push_method::subscribe},
      {m_unsubscribe, push_method::unsubscribe}, {m_acknowledgment, push_method::acknowledgment},
      {m_pubrec, push_method::pubrec},
  };
  for (const auto& [text, method] : table)
    if (text == name) return method;
  return push_method::other;
}

constexpr std::array<std::string_view, 3> qos_names = {"qosLevel0", "qosLevel1", "qosLevel2"};
constexpr std::array<std::string_view, 3> queue_names = {"queueLevel0", "queueLevel1",
                                                         "queueLevel2"};

std::optional<qos_level> qos_of(std::string_view s) noexcept {
  for (std::size_t i = 0; i < qos_names.size(); ++i)
    if (qos_names[i] == s) return static_cast<qos_level>(i);
  return std::nullopt;
}

std::optional<queue_level> queue_of(std::string_view s) noexcept {
  for (std::size_t i = 0; i < queue_names.size(); ++i)
    if (queue_names[i] == s) return static_cast<queue_level>(i);
  return std::nullopt;
}

// ---- Strings --------------------------------------------------------------------------------

void append_utf8(char* out, std::size_t& n, std::uint32_t cp) noexcept {
  if (cp < 0x80) {
    out[n++] = static_cast<char>(cp);
  } else if (cp < 0x800) {
    out[n++] = static_cast<char>(0xC0 | (cp >> 6));
    out[n++] = static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out[n++] = static_cast<char>(0xE0 | (cp >> 12));
    out[n++] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out[n++] = static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out[n++] = static_cast<char>(0xF0 | (cp >> 18));
    out[n++] = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out[n++] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out[n++] = static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Four hex digits at s[i..i+4), or -1.
long hex4(std::string_view s, std::size_t i) noexcept {
  if (i + 4 > s.size()) return -1;
  long v = 0;
  for (std::size_t k = i; k < i + 4; ++k) {
    const char c = s[k];
    int d;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if (c >= 'a' && c <= 'f')
      d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      d = c - 'A' + 10;
    else
      return -1;
    v = v * 16 + d;
  }
  return v;
}

// Unescapes the characters between a JSON string's quotes into `out` (room for inner.size()
// bytes: unescaping never lengthens) and returns the length. A lone surrogate escape, which
// RFC 8259 lets through but UTF-8 cannot carry, becomes U+FFFD and clears `clean`; so does a
// malformed escape (not produced for text the reader validated).
std::size_t unescape(std::string_view inner, char* out, bool& clean) noexcept {
  std::size_t n = 0;
  clean = true;
  for (std::size_t i = 0; i < inner.size();) {
    const char c = inner[i];
    if (c != '\\') {
      out[n++] = c;
      ++i;
      continue;
    }
    if (i + 1 >= inner.size()) {
      clean = false;
      break;
    }
    const char e = inner[i + 1];
    i += 2;
    switch (e) {
      case '"':
      case '\\':
      case '/':
        out[n++] = e;
        continue;
      case 'b':
        out[n++] = '\b';
        continue;
      case 'f':
        out[n++] = '\f';
        continue;
      case 'n':
        out[n++] = '\n';
        continue;
      case 'r':
        out[n++] = '\r';
        continue;
      case 't':
        out[n++] = '\t';
        continue;
      case 'u':
        break;
      default:
        clean = false;
        continue;
    }
    const long hi = hex4(inner, i);
    if (hi < 0) {
      clean = false;
      continue;
    }
    i += 4;
    std::uint32_t cp = static_cast<std::uint32_t>(hi);
    if (cp >= 0xD800 && cp <= 0xDBFF && i + 1 < inner.size() && inner[i] == '\\' &&
        inner[i + 1] == 'u') {
      const long lo = hex4(inner, i + 2);
      if (lo >= 0xDC00 && lo <= 0xDFFF) {
        cp = 0x10000 + ((cp - 0xD800) << 10) + (static_cast<std::uint32_t>(lo) - 0xDC00);
        i += 6;
      }
    }
    if (cp >= 0xD800 && cp <= 0xDFFF) {
      // U+FFFD takes 3 bytes, as many as the 6-byte escape had room for.
      cp = 0xFFFD;
      clean = false;
    }
    append_utf8(out, n, cp);
  }
  return n;
}

// An unsigned decimal integer (JSON number grammar already checked): digits only, no sign,
// fraction or exponent, at most `max`.
bool parse_unsigned(std::string_view s, std::uint64_t max, std::uint64_t& value) noexcept {
  if (s.empty()) return false;
  std::uint64_t v = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') return false;
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (max - d) / 10) return false;
    v = v * 10 + d;
  }
  value = v;
  return true;
}

bool parse_int64(std::string_view s, std::int64_t& value) noexcept {
  const bool negative = !s.empty() && s.front() == '-';
  if (negative) s.remove_prefix(1);
  constexpr auto max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  std::uint64_t magnitude = 0;
  if (!parse_unsigned(s, negative ? max + 1 : max, magnitude)) return false;
  value =
      negative ? static_cast<std::int64_t>(0 - magnitude) : static_cast<std::int64_t>(magnitude);
  return true;
}

// ---- RapidJSON set-up -----------------------------------------------------------------------

constexpr unsigned parse_flags = rapidjson::kParseIterativeFlag |         // no recursion
                                 rapidjson::kParseValidateEncodingFlag |  // strings are UTF-8
                                 rapidjson::kParseNumbersAsStringsFlag;   // numbers as text

using pool_allocator = rapidjson::MemoryPoolAllocator<rapidjson::CrtAllocator>;
using reader_type = rapidjson::GenericReader<rapidjson::UTF8<>, rapidjson::UTF8<>, pool_allocator>;

// The reader's work stack (open containers, the string or number being read) in a buffer on
// the C++ stack; a message that needs more gets heap chunks of chunk_size and up, freed when
// the parse returns.
constexpr std::size_t pool_buffer_size = 2048;
constexpr std::size_t pool_chunk_size = 16 * 1024;

bool is_ws(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// Accepts everything: for validation-only parses.
struct null_handler : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, null_handler> {};

// The first character of a well-formed JSON text, and whether the whole text is one.
bool validate(std::string_view text, char& first) {
  alignas(16) char buffer[pool_buffer_size];
  rapidjson::CrtAllocator base;
  pool_allocator pool(buffer, sizeof buffer, pool_chunk_size, &base);
  reader_type reader(&pool);
  rapidjson::MemoryStream stream(text.data(), text.size());
  null_handler handler;
  const rapidjson::ParseResult ok = reader.Parse<parse_flags>(stream, handler);
  // RapidJSON takes a NUL byte for the end of its input; a NUL cannot occur in JSON text.
  if (ok.IsError() || stream.Tell() != text.size()) return false;
  std::size_t i = 0;
  while (i < text.size() && is_ws(text[i]))
    ++i;
  first = text[i];  // a valid text has a value after its whitespace
  return true;
}

// ---- The outline ----------------------------------------------------------------------------

enum class jtype : std::uint8_t { absent, null, boolean, number, string, object, array };

// One member's value as found in the text.
struct slot {
  jtype type = jtype::absent;
  std::uint8_t count = 0;  // occurrences of the member name, saturating at 2
  bool escaped = false;    // a string whose text has escapes
  std::size_t begin = 0;   // the value's text is [begin, end)
  std::size_t end = 0;

  bool present() const noexcept { return count != 0; }
};

// The envelope's members (2.1).
enum top_member : std::uint8_t { t_jsonrpc, t_method, t_params, t_result, t_error, t_qos, t_id };
constexpr std::array<std::string_view, 7> top_names = {"jsonrpc", "method", "params", "result",
                                                       "error",   "qos",    "id"};

// Members read inside the body objects; each body reads the ones of its mask.
enum inner_member : std::uint8_t {
  i_channel,
  i_message,
  i_qos,
  i_queue,
  i_method,
  i_sequence,
  i_code,
  i_data,
};
constexpr std::array<std::string_view, 8> inner_names = {"channel", "message",  "qos",  "queue",
                                                         "method",  "sequence", "code", "data"};

enum body_kind : std::uint8_t { b_params, b_result, b_error };
constexpr std::array<unsigned, 3> body_masks = {
    1u << i_channel | 1u << i_message | 1u << i_qos | 1u << i_queue,                      // params
    1u << i_method | 1u << i_channel | 1u << i_message | 1u << i_qos | 1u << i_sequence,  // result
    1u << i_code | 1u << i_message | 1u << i_data,                                        // error
};

struct outline {
  jtype root = jtype::absent;
  std::array<slot, top_names.size()> top{};
  std::array<std::array<slot, inner_names.size()>, 3> inner{};
};

// Records the outline while RapidJSON reads. Depth 1 is the envelope object, depth 2 a body
// object (or the value of an envelope member), depth 3 the value of a body member; deeper
// values are only counted for the depth limit.
class outline_handler : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, outline_handler> {
 public:
  outline_handler(std::string_view text, const rapidjson::MemoryStream& stream, unsigned max_depth,
                  outline& out) noexcept
      : text_(text), stream_(stream), max_depth_(max_depth), out_(out) {}

  bool too_deep() const noexcept { return too_deep_; }

  bool Null() { return scalar(jtype::null, 0); }
  bool Bool(bool) { return scalar(jtype::boolean, 0); }
  bool RawNumber(const char*, rapidjson::SizeType, bool) { return scalar(jtype::number, 0); }
  bool String(const char*, rapidjson::SizeType length, bool) {
    return scalar(jtype::string, length);
  }
  bool StartObject() { return open(jtype::object); }
  bool EndObject(rapidjson::SizeType) { return close(); }
  bool StartArray() { return open(jtype::array); }
  bool EndArray(rapidjson::SizeType) { return close(); }

  bool Key(const char* name, rapidjson::SizeType length, bool) {
    pending_ = nullptr;
    if (depth_ > 2 || context_[depth_] == untracked) return true;
    const std::string_view key(name, length);
    slot* s = nullptr;
    if (context_[depth_] == envelope) {
      for (std::size_t i = 0; i < top_names.size(); ++i)
        if (top_names[i] == key) s = &out_.top[i];
    } else {
      const unsigned mask = body_masks[context_[depth_]];
      for (std::size_t i = 0; i < inner_names.size(); ++i)
        if ((mask >> i & 1u) != 0 && inner_names[i] == key) s = &out_.inner[context_[depth_]][i];
    }
    if (s == nullptr) return true;
    if (s->count < 2) ++s->count;
    pending_ = s;
    // The value starts after the colon. The text is not validated yet this far, so the scan
    // stays within it; if it is malformed the parse fails and the outline is not used.
    std::size_t i = stream_.Tell();
    while (i < text_.size() && is_ws(text_[i]))
      ++i;
    if (i < text_.size() && text_[i] == ':') ++i;
    while (i < text_.size() && is_ws(text_[i]))
      ++i;
    pending_begin_ = i;
    return true;
  }

 private:
  static constexpr std::int8_t untracked = -1;
  static constexpr std::int8_t envelope = 3;  // 0..2 are body_kind values

  bool scalar(jtype type, std::size_t length) {
    if (depth_ == 0) out_.root = type;
    if (pending_ != nullptr) {
      pending_->type = type;
      pending_->begin = pending_begin_;
      pending_->end = stream_.Tell();
      pending_->escaped = type == jtype::string && pending_->end - pending_->begin != length + 2;
      pending_ = nullptr;
    }
    return true;
  }

  bool open(jtype type) {
    if (depth_ == 0) out_.root = type;
    if (++depth_ > max_depth_) {
      too_deep_ = true;
      return false;  // RapidJSON stops with kParseErrorTermination
    }
    slot* s = pending_;
    pending_ = nullptr;
    if (depth_ > 3) return true;
    open_[depth_] = s;  // a container at depth 3 is the value of a body member
    if (s != nullptr) {
      s->type = type;
      s->begin = pending_begin_;
      s->escaped = false;
    }
    if (depth_ > 2) return true;
    context_[depth_] = untracked;
    if (type == jtype::object) {
      if (depth_ == 1) {
        context_[1] = envelope;
      } else if (s == &out_.top[t_params]) {
        context_[2] = b_params;
      } else if (s == &out_.top[t_result]) {
        context_[2] = b_result;
      } else if (s == &out_.top[t_error]) {
        context_[2] = b_error;
      }
    }
    return true;
  }

  bool close() {
    if (depth_ <= 3 && open_[depth_] != nullptr) {
      // RapidJSON's iterative parser reports the end of a container before it takes the
      // closing bracket; the recursive one after. Either way the value ends past the bracket.
      std::size_t end = stream_.Tell();
      if (end < text_.size() && (text_[end] == '}' || text_[end] == ']')) ++end;
      open_[depth_]->end = end;
    }
    --depth_;
    pending_ = nullptr;
    return true;
  }

  std::string_view text_;
  const rapidjson::MemoryStream& stream_;  // its Tell() is the offset just past each token
  unsigned max_depth_;
  outline& out_;
  unsigned depth_ = 0;             // containers open
  bool too_deep_ = false;          // stopped at the depth limit
  slot* pending_ = nullptr;        // the member whose value comes next, if recorded
  std::size_t pending_begin_ = 0;  // where that value starts
  std::array<slot*, 4> open_{};    // the member each open container at depth 1-3 fills
  std::array<std::int8_t, 3> context_{{untracked, untracked, untracked}};  // by depth
};

// ---- Classification -------------------------------------------------------------------------

class classifier {
 public:
  classifier(std::string_view text, const outline& o,
             std::vector<std::unique_ptr<char[]>>& storage) noexcept
      : text_(text), o_(o), storage_(storage) {}

  // Fills r: a message, or an error (with the id and method once they are known).
  void run(decode_result& r) {
    if (o_.root != jtype::object) return fail(r, errc::not_an_object);

    // The id first, so that every later error can carry it.
    const slot& id = o_.top[t_id];
    if (id.count > 1) return fail(r, errc::duplicate_member);
    if (id.present()) {
      switch (id.type) {
        case jtype::string:
          id_ = {request_id::kind::string, raw(id)};
          break;
        case jtype::number:
          id_ = {request_id::kind::number, raw(id)};
          break;
        case jtype::null:
          id_ = {request_id::kind::null, raw(id)};
          break;
        default:
          return fail(r, errc::bad_id);
      }
    }
    r.id = id_;
    for (const slot& s : o_.top)
      if (s.count > 1) return fail(r, errc::duplicate_member);

    // The method next, for the same reason; it is checked after the version.
    const slot& method = o_.top[t_method];
    std::string_view name;
    const bool method_ok = method.present() && read_string(method, name);
    if (method_ok) r.method = name;

    const slot& version = o_.top[t_jsonrpc];
    std::string_view v;
    if (!read_string(version, v) || v != "2.0") return fail(r, errc::bad_version);

    const slot& qos = o_.top[t_qos];
    if (qos.present()) {
      std::string_view q;
      if (!read_string(qos, q) || !(top_qos_ = qos_of(q))) return fail(r, errc::bad_qos);
    }

    if (method.present() && !method_ok) return fail(r, errc::bad_method);

    const int bodies =
        int{method.present()} + int{o_.top[t_result].present()} + int{o_.top[t_error].present()};
    if (bodies == 0) return fail(r, errc::missing_body);
    if (bodies > 1) return fail(r, errc::ambiguous_body);

    errc e{};
    if (method.present())
      e = request(name, r.msg);
    else if (o_.top[t_result].present())
      e = result(r.msg);
    else
      e = error(r.msg);
    if (e != errc{}) return fail(r, e);
    r.kind = decode_result::done;
  }

 private:
  static void fail(decode_result& r, errc e) noexcept {
    r.kind = decode_result::error;
    r.error_code = e;
    r.jsonrpc_code = jsonrpc_code_for(e);
  }

  std::string_view raw(const slot& s) const noexcept {
    return text_.substr(s.begin, s.end - s.begin);
  }

  // A string value: a view into the text, or unescaped into a new storage block. False when
  // the slot is not a string or its escapes make a lone surrogate.
  bool read_string(const slot& s, std::string_view& out) {
    if (s.type != jtype::string) return false;
    const std::string_view inner = text_.substr(s.begin + 1, s.end - s.begin - 2);
    if (!s.escaped) {
      out = inner;
      return true;
    }
    std::unique_ptr<char[]> block(new char[inner.size()]);
    bool clean = true;
    const std::size_t n = unescape(inner, block.get(), clean);
    if (!clean) return false;
    out = std::string_view(block.get(), n);
    storage_.push_back(std::move(block));
    return true;
  }

  // Application data (RPC params, RPC results): a member counts when it occurs once as a
  // string that unescapes cleanly; anything else is the application's business.
  std::string_view lenient_string(const slot& s) {
    std::string_view v;
    if (s.count == 1 && read_string(s, v)) return v;
    return {};
  }

  std::optional<qos_level> lenient_qos(const slot& s) {
    if (s.count == 1 && s.type == jtype::string) {
      std::string_view q;
      if (read_string(s, q))
        if (const auto level = qos_of(q)) return level;
    }
    return top_qos_;
  }

  const std::array<slot, inner_names.size()>& inner(body_kind b) const noexcept {
    return o_.inner[b];
  }

  // ---- Request-shaped (method and params) ---------------------------------------------------

  errc request(std::string_view name, message& msg) {
    const slot& params = o_.top[t_params];
    const request_method known = request_method_of(name);
    const auto& p = inner(b_params);

    if (known == request_method::other) {
      // An application method: params untouched, looked into only for qos and channel.
      const raw_json args{params.present() ? raw(params) : std::string_view{}};
      std::optional<qos_level> qos = top_qos_;
      std::string_view channel;
      if (params.type == jtype::object) {
        qos = lenient_qos(p[i_qos]);
        channel = lenient_string(p[i_channel]);
      }
      if (id_.present())
        msg = rpc_request{name, args, channel, qos, id_};
      else
        msg = notification{name, args, channel, qos};
      return {};
    }

    // An sgc@ method: params, when present, is an object whose members read here are unique
    // and well-typed.
    if (params.present() && params.type != jtype::object) return errc::bad_params;
    for (const slot& s : p)
      if (s.count > 1) return errc::duplicate_param;
    std::optional<qos_level> qos = top_qos_;
    if (p[i_qos].present()) {
      std::string_view q;
      if (!read_string(p[i_qos], q) || !(qos = qos_of(q))) return errc::bad_params_qos;
    }
    std::string_view channel;
    if (p[i_channel].present() && !read_string(p[i_channel], channel)) return errc::bad_channel;
    const raw_json payload{p[i_message].present() ? raw(p[i_message]) : std::string_view{}};
    const bool has_channel = p[i_channel].present();

    switch (known) {
      case request_method::subscribe:
        if (!has_channel) return errc::missing_channel;
        msg = subscribe{channel, qos, id_};
        return {};
      case request_method::unsubscribe:
        if (!has_channel) return errc::missing_channel;
        msg = unsubscribe{channel, qos, id_};
        return {};
      case request_method::unsubscribe_all:
        msg = unsubscribe_all{qos, id_};
        return {};
      case request_method::publish: {
        if (!has_channel) return errc::missing_channel;
        if (!payload.present()) return errc::missing_message;
        std::optional<queue_level> queue;
        if (p[i_queue].present()) {
          std::string_view u;
          if (!read_string(p[i_queue], u) || !(queue = queue_of(u))) return errc::bad_queue;
        }
        msg = publish{channel, payload, queue, qos, id_};
        return {};
      }
      case request_method::broadcast:
        if (!payload.present()) return errc::missing_message;
        msg = broadcast{channel, payload, qos, id_};
        return {};
      case request_method::message:
        if (!payload.present()) return errc::missing_message;
        msg = plain_message{payload, qos, id_};
        return {};
      case request_method::session:
        msg = session_request{qos, id_};
        return {};
      case request_method::transaction:
        msg = transaction{channel, qos, id_};
        return {};
      case request_method::commit:
        msg = commit{channel, qos, id_};
        return {};
      case request_method::rollback:
        msg = rollback{channel, qos, id_};
        return {};
      case request_method::pubrel:
        if (!id_.present()) return errc::missing_id;
        msg = pubrel{qos, id_};
        return {};
      case request_method::acknowledgment:
        if (!id_.present()) return errc::missing_id;
        msg = acknowledgment{qos, id_};
        return {};
      case request_method::protocol:
        msg = protocol_request{qos, id_};
        return {};
      case request_method::other:
        break;
    }
    return errc::bad_method;  // not reached
  }

  // ---- Result-shaped ------------------------------------------------------------------------

  errc result(message& msg) {
    const slot& result = o_.top[t_result];
    const auto& p = inner(b_result);
    push_method push = push_method::other;
    if (result.type == jtype::object && p[i_method].present()) {
      if (p[i_method].count > 1) return errc::duplicate_member;
      std::string_view name;
      if (read_string(p[i_method], name)) push = push_method_of(name);
      // Events never carry an id; such a result is an RPC's (see codec.hpp).
      if (push == push_method::event && id_.present()) push = push_method::other;
    }
    if (push == push_method::other) {
      const std::optional<qos_level> qos =
          result.type == jtype::object ? lenient_qos(p[i_qos]) : top_qos_;
      msg = rpc_result{raw_json{raw(result)}, qos, id_};
      return {};
    }

    // An sgc push: the members it has are unique and well-typed.
    for (const slot& s : p)
      if (s.count > 1) return errc::duplicate_member;
    const std::optional<qos_level> qos = lenient_qos(p[i_qos]);
    std::string_view channel;
    if (p[i_channel].present() && !read_string(p[i_channel], channel)) return errc::bad_result;
    const bool has_channel = p[i_channel].present();
    const raw_json payload{p[i_message].present() ? raw(p[i_message]) : std::string_view{}};

    switch (push) {
      case push_method::session: {
        std::string_view guid;
        if (!read_string(p[i_message], guid)) return errc::bad_result;
        msg = session{guid, qos, id_};
        return {};
      }
      case push_method::event: {
        if (!has_channel || !payload.present()) return errc::bad_result;
        std::optional<std::uint64_t> sequence;
        if (p[i_sequence].present()) {
          std::uint64_t n = 0;
          if (p[i_sequence].type != jtype::number ||
              !parse_unsigned(raw(p[i_sequence]), std::numeric_limits<std::uint64_t>::max(), n))
            return errc::bad_result;
          sequence = n;
        }
        msg = event{channel, payload, sequence};
        return {};
      }
      case push_method::message:
        if (!payload.present()) return errc::bad_result;
        msg = broadcast_message{channel, payload, qos, id_};
        return {};
      case push_method::subscribe:
        if (!has_channel) return errc::bad_result;
        msg = subscribed{channel, qos, id_};
        return {};
      case push_method::unsubscribe:
        if (!has_channel) return errc::bad_result;
        msg = unsubscribed{channel, qos, id_};
        return {};
      case push_method::acknowledgment:
        if (!id_.present()) return errc::missing_id;
        msg = acknowledgment{qos, id_};
        return {};
      case push_method::pubrec:
        if (!id_.present()) return errc::missing_id;
        msg = pubrec{qos, id_};
        return {};
      case push_method::other:
        break;
    }
    return errc::bad_result;  // not reached
  }

  // ---- Error --------------------------------------------------------------------------------

  errc error(message& msg) {
    if (o_.top[t_error].type != jtype::object) return errc::bad_error;
    const auto& p = inner(b_error);
    for (const slot& s : p)
      if (s.count > 1) return errc::bad_error;
    std::int64_t code = 0;
    if (p[i_code].type != jtype::number || !parse_int64(raw(p[i_code]), code))
      return errc::bad_error;
    std::string_view text;
    if (!read_string(p[i_message], text)) return errc::bad_error;
    const raw_json data{p[i_data].present() ? raw(p[i_data]) : std::string_view{}};
    msg = rpc_error{code, text, data, top_qos_, id_};
    return {};
  }

  std::string_view text_;
  const outline& o_;
  std::vector<std::unique_ptr<char[]>>& storage_;
  request_id id_;                     // the envelope's id, once read
  std::optional<qos_level> top_qos_;  // the envelope's qos, once read
};

// ---- Encoding helpers -----------------------------------------------------------------------

constexpr std::string_view head = "{\"jsonrpc\":\"2.0\"";

void append_raw(std::string& out, const raw_json& value) {
  assert(is_json_value(value.json));
  out += value.json;
}

void append_id(std::string& out, const request_id& id) {
  if (!id.present()) return;
  assert(is_json_value(id.json));
  out += ",\"id\":";
  out += id.json;
}

void append_qos(std::string& out, const std::optional<qos_level>& qos) {
  if (!qos) return;
  out += ",\"qos\":\"";
  out += to_string(*qos);
  out += '"';
}

// The end of every envelope: qos, id, closing brace (1.4 key order).
void append_tail(std::string& out, const std::optional<qos_level>& qos, const request_id& id) {
  append_qos(out, qos);
  append_id(out, id);
  out += '}';
}

// Writes the params object of an sgc@ request member by member; nothing when it stays empty.
class params_writer {
 public:
  explicit params_writer(std::string& out) noexcept : out_(out) {}

  void string(std::string_view name, std::string_view value) {
    key(name);
    append_json_string(out_, value);
  }
  void json(std::string_view name, const raw_json& value) {
    key(name);
    append_raw(out_, value);
  }
  void level(std::string_view name, std::string_view value) {
    key(name);
    out_ += '"';
    out_ += value;
    out_ += '"';
  }
  void qos(const std::optional<qos_level>& q) {
    if (q) level("qos", to_string(*q));
  }
  void close() {
    if (!empty_) out_ += '}';
  }

 private:
  void key(std::string_view name) {
    out_ += empty_ ? ",\"params\":{\"" : ",\"";
    empty_ = false;
    out_ += name;
    out_ += "\":";
  }

  std::string& out_;
  bool empty_ = true;
};

void open_request(std::string& out, std::string_view method) {
  out += head;
  out += ",\"method\":\"";
  out += method;  // an sgc@ name: nothing to escape
  out += '"';
}

// The requests whose params are a channel and qos (Delphi order: channel, qos).
void encode_channel_request(std::string_view method, std::string_view channel,
                            const std::optional<qos_level>& qos, const request_id& id,
                            std::string& out) {
  open_request(out, method);
  params_writer p(out);
  p.string("channel", channel);
  p.qos(qos);
  p.close();
  append_tail(out, qos, id);
}

// The requests whose params are only qos.
void encode_bare_request(std::string_view method, const std::optional<qos_level>& qos,
                         const request_id& id, std::string& out) {
  open_request(out, method);
  params_writer p(out);
  p.qos(qos);
  p.close();
  append_tail(out, qos, id);
}

void open_push(std::string& out, std::string_view method) {
  out += head;
  out += ",\"result\":{\"method\":\"";
  out += method;
  out += '"';
}

// {"method":"sgc@...","channel":...} pushes: subscribe and unsubscribe confirmations.
void encode_channel_push(std::string_view method, std::string_view channel,
                         const std::optional<qos_level>& qos, const request_id& id,
                         std::string& out) {
  open_push(out, method);
  out += ",\"channel\":";
  append_json_string(out, channel);
  out += '}';
  append_tail(out, qos, id);
}

// {"method":"sgc@..."} pushes: acknowledgment and pubrec.
void encode_bare_push(std::string_view method, const std::optional<qos_level>& qos,
                      const request_id& id, std::string& out) {
  assert(id.present());
  open_push(out, method);
  out += '}';
  append_tail(out, qos, id);
}

// Bytes append_json_string() writes for `s`.
std::size_t json_string_size(std::string_view s) noexcept {
  std::size_t n = 2;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t')
      n += 2;
    else if (u < 0x20)
      n += 6;
    else
      n += 1;
  }
  return n;
}

void append_signed(std::string& out, std::int64_t v) {
  if (v < 0) {
    out += '-';
    append_decimal(out, 0 - static_cast<std::uint64_t>(v));
  } else {
    append_decimal(out, static_cast<std::uint64_t>(v));
  }
}

constexpr std::string_view event_head =
    "{\"jsonrpc\":\"2.0\",\"result\":{\"method\":\"sgc@event\",\"channel\":";
constexpr std::string_view event_message = ",\"message\":";
constexpr std::string_view event_sequence = ",\"sequence\":";

}  // namespace

// ---- Public: errors and names -----------------------------------------------------------------

const std::error_category& sgc_category() noexcept {
  static const category instance;
  return instance;
}

int jsonrpc_code_for(errc e) noexcept {
  switch (e) {
    case errc::invalid_json:
      return parse_error;
    case errc::bad_params:
    case errc::duplicate_param:
    case errc::missing_channel:
    case errc::bad_channel:
    case errc::missing_message:
    case errc::bad_params_qos:
    case errc::bad_queue:
      return invalid_params;
    default:
      return invalid_request;
  }
}

std::string_view jsonrpc_error_text(int code) noexcept {
  switch (code) {
    case parse_error:
      return "Parse error";
    case invalid_request:
      return "Invalid Request";
    case method_not_found:
      return "Method not found. The method does not exist / is not available.";
    case invalid_params:
      return "Invalid params";
    case internal_error:
      return "Internal error";
    default:
      return code >= -32099 && code <= -32000 ? "Server error" : "";
  }
}

std::string_view to_string(qos_level level) noexcept {
  return qos_names[static_cast<std::size_t>(level) % qos_names.size()];
}

std::string_view to_string(queue_level level) noexcept {
  return queue_names[static_cast<std::size_t>(level) % queue_names.size()];
}

// ---- Public: field types --------------------------------------------------------------------

request_id request_id::from_json(std::string_view token) noexcept {
  assert(is_json_value(token) && !token.empty() && !is_ws(token.front()) && !is_ws(token.back()));
  if (token.empty()) return {};
  const char c = token.front();
  if (c == '"') return {kind::string, token};
  if (c == 'n') return {kind::null, token};
  if (c == '-' || (c >= '0' && c <= '9')) return {kind::number, token};
  assert(false && "an id is a JSON string, number or null");
  return {};
}

std::string_view raw_json::sgc_text() const noexcept {
  if (is_string() && json.size() >= 2) return json.substr(1, json.size() - 2);
  return json;
}

std::string raw_json::text() const {
  if (!is_string() || json.size() < 2) return std::string(json);
  const std::string_view inner = json.substr(1, json.size() - 2);
  std::string out(inner.size(), '\0');
  bool clean = true;
  out.resize(unescape(inner, out.data(), clean));
  return out;
}

bool is_json_value(std::string_view text) {
  char first = 0;
  return validate(text, first);
}

raw_json text_payload(std::string_view text, std::string& storage) {
  if (!text.empty() && (text.front() == '{' || text.front() == '[')) {
    char first = 0;
    if (validate(text, first)) return raw_json{text};
  }
  storage.clear();
  storage.reserve(json_string_size(text));
  append_json_string(storage, text);
  return raw_json{storage};
}

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  std::size_t run = 0;  // start of the bytes not yet copied
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto u = static_cast<unsigned char>(s[i]);
    if (u >= 0x20 && u != '"' && u != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    out += '\\';
    switch (u) {
      case '"':
        out += '"';
        break;
      case '\\':
        out += '\\';
        break;
      case '\b':
        out += 'b';
        break;
      case '\f':
        out += 'f';
        break;
      case '\n':
        out += 'n';
        break;
      case '\r':
        out += 'r';
        break;
      case '\t':
        out += 't';
        break;
      default:
        out += "u00";
        out += hex[u >> 4];
        out += hex[u & 0xF];
    }
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

std::string_view method_name(const message& m) noexcept {
  struct visitor {
    std::string_view operator()(const subscribe&) const noexcept { return m_subscribe; }
    std::string_view operator()(const unsubscribe&) const noexcept { return m_unsubscribe; }
    std::string_view operator()(const unsubscribe_all&) const noexcept { return m_unsubscribe_all; }
    std::string_view operator()(const publish&) const noexcept { return m_publish; }
    std::string_view operator()(const broadcast&) const noexcept { return m_broadcast; }
    std::string_view operator()(const plain_message&) const noexcept { return m_message; }
    std::string_view operator()(const rpc_request& r) const noexcept { return r.method; }
    std::string_view operator()(const notification& n) const noexcept { return n.method; }
    std::string_view operator()(const session_request&) const noexcept { return m_session; }
    std::string_view operator()(const transaction&) const noexcept { return m_transaction; }
    std::string_view operator()(const commit&) const noexcept { return m_commit; }
    std::string_view operator()(const rollback&) const noexcept { return m_rollback; }
    std::string_view operator()(const pubrel&) const noexcept { return m_pubrel; }
    std::string_view operator()(const acknowledgment&) const noexcept { return m_acknowledgment; }
    std::string_view operator()(const protocol_request&) const noexcept { return m_protocol; }
    std::string_view operator()(const session&) const noexcept { return m_session; }
    std::string_view operator()(const event&) const noexcept { return m_event; }
    std::string_view operator()(const broadcast_message&) const noexcept { return m_message; }
    std::string_view operator()(const subscribed&) const noexcept { return m_subscribe; }
    std::string_view operator()(const unsubscribed&) const noexcept { return m_unsubscribe; }
    std::string_view operator()(const pubrec&) const noexcept { return m_pubrec; }
    std::string_view operator()(const rpc_result&) const noexcept { return {}; }
    std::string_view operator()(const rpc_error&) const noexcept { return {}; }
    std::string_view operator()(const protocol_reply&) const noexcept { return {}; }
  };
  return std::visit(visitor{}, m);
}

// ---- Public: decoding -----------------------------------------------------------------------

const char* invalid_option(const decode_options& options) noexcept {
  if (options.max_message_size == 0) return "max_message_size";
  if (options.max_depth < 2 || options.max_depth > 1024) return "max_depth";
  return nullptr;
}

decode_result decode(std::string_view text, const decode_options& options) {
  decode_result r;
  const auto fail = [&r](errc e) {
    r.kind = decode_result::error;
    r.error_code = e;
    r.jsonrpc_code = jsonrpc_code_for(e);
  };
  // RapidJSON counts string lengths in 32 bits, so nothing longer is ever parsed.
  if (text.size() > options.max_message_size ||
      text.size() > std::numeric_limits<rapidjson::SizeType>::max()) {
    fail(errc::message_too_large);
    return r;
  }
  if (text == subprotocol) {
    r.kind = decode_result::done;
    r.msg = protocol_reply{};
    return r;
  }

  outline o;
  {
    alignas(16) char buffer[pool_buffer_size];
    rapidjson::CrtAllocator base;
    pool_allocator pool(buffer, sizeof buffer, pool_chunk_size, &base);
    reader_type reader(&pool);
    rapidjson::MemoryStream stream(text.data(), text.size());
    outline_handler handler(text, stream, options.max_depth, o);
    const rapidjson::ParseResult ok = reader.Parse<parse_flags>(stream, handler);
    if (handler.too_deep()) {
      fail(errc::too_deep);
      return r;
    }
    // A NUL byte ends RapidJSON's input early; it cannot occur in JSON text.
    if (ok.IsError() || stream.Tell() != text.size()) {
      fail(errc::invalid_json);
      return r;
    }
  }
  classifier(text, o, r.storage_).run(r);
  return r;
}

// ---- Public: encoding -----------------------------------------------------------------------

void encode_subscribe(const subscribe& m, std::string& out) {
  encode_channel_request(m_subscribe, m.channel, m.qos, m.id, out);
}

void encode_unsubscribe(const unsubscribe& m, std::string& out) {
  encode_channel_request(m_unsubscribe, m.channel, m.qos, m.id, out);
}

void encode_unsubscribe_all(const unsubscribe_all& m, std::string& out) {
  encode_bare_request(m_unsubscribe_all, m.qos, m.id, out);
}

void encode_publish(const publish& m, std::string& out) {
  open_request(out, m_publish);
  params_writer p(out);  // Delphi order: message, channel, qos, queue
  p.json("message", m.message);
  p.string("channel", m.channel);
  p.qos(m.qos);
  if (m.queue) p.level("queue", to_string(*m.queue));
  p.close();
  append_tail(out, m.qos, m.id);
}

void encode_broadcast(const broadcast& m, std::string& out) {
  open_request(out, m_broadcast);
  params_writer p(out);
  p.json("message", m.message);
  p.string("channel", m.channel);
  p.qos(m.qos);
  p.close();
  append_tail(out, m.qos, m.id);
}

void encode_plain_message(const plain_message& m, std::string& out) {
  open_request(out, m_message);
  params_writer p(out);
  p.json("message", m.message);
  p.qos(m.qos);
  p.close();
  append_tail(out, m.qos, m.id);
}

void encode_rpc_request(const rpc_request& m, std::string& out) {
  assert(m.id.present());
  out += head;
  out += ",\"method\":";
  append_json_string(out, m.method);
  if (m.params.present()) {
    out += ",\"params\":";
    append_raw(out, m.params);
  }
  append_tail(out, m.qos, m.id);
}

void encode_notification(const notification& m, std::string& out) {
  out += head;
  out += ",\"method\":";
  append_json_string(out, m.method);
  if (m.params.present()) {
    out += ",\"params\":";
    append_raw(out, m.params);
  }
  append_tail(out, m.qos, request_id{});
}

void encode_session_request(const session_request& m, std::string& out) {
  encode_bare_request(m_session, m.qos, m.id, out);
}

void encode_transaction(const transaction& m, std::string& out) {
  encode_channel_request(m_transaction, m.channel, m.qos, m.id, out);
}

void encode_commit(const commit& m, std::string& out) {
  encode_channel_request(m_commit, m.channel, m.qos, m.id, out);
}

void encode_rollback(const rollback& m, std::string& out) {
  encode_channel_request(m_rollback, m.channel, m.qos, m.id, out);
}

void encode_pubrel(const pubrel& m, std::string& out) {
  assert(m.id.present());
  encode_bare_request(m_pubrel, m.qos, m.id, out);
}

void encode_acknowledgment(const acknowledgment& m, std::string& out) {
  encode_bare_push(m_acknowledgment, m.qos, m.id, out);
}

void encode_protocol_request(const protocol_request& m, std::string& out) {
  encode_bare_request(m_protocol, m.qos, m.id, out);
}

void encode_session(const session& m, std::string& out) {
  open_push(out, m_session);
  out += ",\"message\":";
  append_json_string(out, m.guid);
  out += '}';
  append_tail(out, m.qos, m.id);
}

void encode_event(const event& m, std::string& out) {
  assert(m.message.present());
  out += event_head;
  append_json_string(out, m.channel);
  out += event_message;
  append_raw(out, m.message);
  if (m.sequence) {
    out += event_sequence;
    append_decimal(out, *m.sequence);
  }
  out += "}}";
}

std::string encode_event(const event& m) {
  std::size_t size = event_head.size() + json_string_size(m.channel) + event_message.size() +
                     m.message.json.size() + 2;
  if (m.sequence) size += event_sequence.size() + decimal_size(*m.sequence);
  std::string out;
  out.reserve(size);
  encode_event(m, out);
  assert(out.size() == size);
  return out;
}

void encode_broadcast_message(const broadcast_message& m, std::string& out) {
  open_push(out, m_message);
  out += ",\"channel\":";
  append_json_string(out, m.channel);
  out += ",\"message\":";
  append_raw(out, m.message);
  out += '}';
  append_tail(out, m.qos, m.id);
}

void encode_subscribed(const subscribed& m, std::string& out) {
  encode_channel_push(m_subscribe, m.channel, m.qos, m.id, out);
}

void encode_unsubscribed(const unsubscribed& m, std::string& out) {
  encode_channel_push(m_unsubscribe, m.channel, m.qos, m.id, out);
}

void encode_pubrec(const pubrec& m, std::string& out) {
  encode_bare_push(m_pubrec, m.qos, m.id, out);
}

void encode_rpc_result(const rpc_result& m, std::string& out) {
  out += head;
  out += ",\"result\":";
  append_raw(out, m.result);
  append_tail(out, m.qos, m.id);
}

void encode_rpc_error(const rpc_error& m, std::string& out) {
  out += head;
  out += ",\"error\":{\"code\":";
  append_signed(out, m.code);
  out += ",\"message\":";
  append_json_string(out, m.message);
  if (m.data.present()) {
    out += ",\"data\":";
    append_raw(out, m.data);
  }
  out += '}';
  append_tail(out, m.qos, m.id);
}

void encode_protocol_reply(const protocol_reply&, std::string& out) {
  out += subprotocol;
}

void encode(const message& m, std::string& out) {
  struct visitor {
    std::string& out;
    void operator()(const subscribe& v) const { encode_subscribe(v, out); }
    void operator()(const unsubscribe& v) const { encode_unsubscribe(v, out); }
    void operator()(const unsubscribe_all& v) const { encode_unsubscribe_all(v, out); }
    void operator()(const publish& v) const { encode_publish(v, out); }
    void operator()(const broadcast& v) const { encode_broadcast(v, out); }
    void operator()(const plain_message& v) const { encode_plain_message(v, out); }
    void operator()(const rpc_request& v) const { encode_rpc_request(v, out); }
    void operator()(const notification& v) const { encode_notification(v, out); }
    void operator()(const session_request& v) const { encode_session_request(v, out); }
    void operator()(const transaction& v) const { encode_transaction(v, out); }
    void operator()(const commit& v) const { encode_commit(v, out); }
    void operator()(const rollback& v) const { encode_rollback(v, out); }
    void operator()(const pubrel& v) const { encode_pubrel(v, out); }
    void operator()(const acknowledgment& v) const { encode_acknowledgment(v, out); }
    void operator()(const protocol_request& v) const { encode_protocol_request(v, out); }
    void operator()(const session& v) const { encode_session(v, out); }
    void operator()(const event& v) const { encode_event(v, out); }
    void operator()(const broadcast_message& v) const { encode_broadcast_message(v, out); }
    void operator()(const subscribed& v) const { encode_subscribed(v, out); }
    void operator()(const unsubscribed& v) const { encode_unsubscribed(v, out); }
    void operator()(const pubrec& v) const { encode_pubrec(v, out); }
    void operator()(const rpc_result& v) const { encode_rpc_result(v, out); }
    void operator()(const rpc_error& v) const { encode_rpc_error(v, out); }
    void operator()(const protocol_reply& v) const { encode_protocol_reply(v, out); }
  };
  std::visit(visitor{out}, m);
}

}  // namespace switchboard::protocols::sgc
