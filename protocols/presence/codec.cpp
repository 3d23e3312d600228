// codec.cpp: the Presence codec (codec.hpp): a RapidJSON SAX handler that fills `message` as
// it reads, the encoder with its per-method section order, and the sgc@b64 values.
#include "protocols/presence/codec.hpp"

#include "runtime/websocket/utf8.hpp"

#include <array>
#include <cstring>
#include <limits>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

// RapidJSON 1.1.0 (Debian 12) computes `stackTop_ + n` on its still-null work stack, which
// clang's UBSan reports as "applying non-zero offset to null pointer" (Tencent/rapidjson#1724;
// harmless, fixed upstream after 1.1.0). As in protocols/sgc/codec.cpp, that one check is off
// for RapidJSON's functions only (the standard headers it uses are included above).
#if defined(__clang__)
#pragma clang attribute push(__attribute__((no_sanitize("pointer-overflow"))), apply_to = function)
#endif
#include <rapidjson/allocators.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#if defined(__clang__)
#pragma clang attribute pop
#endif

namespace switchboard::protocols::presence {

namespace {

// ---- errors -----------------------------------------------------------------------------------

class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "presence"; }
  std::string message(int e) const override {
    switch (static_cast<errc>(e)) {
      case errc::message_too_large:
        return "message too large";
      case errc::too_deep:
        return "JSON nested too deeply";
      case errc::invalid_json:
        return "not a JSON text";
      case errc::not_an_object:
        return "not a JSON object";
      case errc::bad_version:
        return "jsonrpc is not \"2.0\"";
      case errc::bad_method:
        return "method missing or not a string";
      case errc::duplicate_member:
        return "a member occurs twice";
      case errc::bad_section:
        return "a section or field has the wrong type";
      case errc::bad_base64:
        return "an sgc@b64: value is not base64 of UTF-8 text";
    }
    return "unknown presence error";
  }
};

// ---- methods ----------------------------------------------------------------------------------

constexpr std::array<std::string_view, 14> method_names = {
    "sgc@presence@session",
    "sgc@presence@member@new",
    "sgc@presence@member@remove",
    "sgc@presence@member@update",
    "sgc@presence@channel@member@new",
    "sgc@presence@channel@member@remove",
    "sgc@presence@publish@msg",
    "sgc@presence@get@members",
    "sgc@presence@send@members",
    "sgc@presence@channel@invitation",
    "sgc@presence@channel@invitation@response",
    "sgc@presence@error@member@channel",
    "sgc@presence@error@publish@msg",
    "sgc@presence@acknowledgment",
};

// The sections each method writes, in order (m member, c channel, x message, e error,
// s members, a accept), as the digest's shapes show them (5.2); the id always goes last.
constexpr std::array<std::string_view, 15> section_order = {
    "x",       // session
    "m",       // member_new
    "m",       // member_remove
    "m",       // member_update
    "mc",      // channel_member_new
    "mc",      // channel_member_remove
    "xcm",     // publish_msg (the server's shape; the client's member,channel,message reads too)
    "mc",      // get_members
    "cms",     // send_members
    "cms",     // channel_invitation
    "cmsae",   // invitation_response
    "ecm",     // error_member_channel
    "excm",    // error_publish_msg
    "",        // acknowledgment
    "mcxesa",  // unknown
};

// ---- base64 -----------------------------------------------------------------------------------

constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int b64_value(char c) noexcept {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

void append_base64(std::string& out, std::string_view in) {
  std::size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const auto v = static_cast<std::uint32_t>(static_cast<unsigned char>(in[i])) << 16 |
                   static_cast<std::uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8 |
                   static_cast<unsigned char>(in[i + 2]);
    out += alphabet[v >> 18];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += alphabet[v & 63];
  }
  const std::size_t rest = in.size() - i;
  if (rest == 0) return;
  std::uint32_t v = static_cast<std::uint32_t>(static_cast<unsigned char>(in[i])) << 16;
  if (rest == 2) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8;
  out += alphabet[v >> 18];
  out += alphabet[(v >> 12) & 63];
  out += rest == 2 ? alphabet[(v >> 6) & 63] : '=';
  out += '=';
}

// Lenient on layout (missing padding, CR LF tab space anywhere), strict on characters.
bool decode_base64(std::string_view in, std::string& out) {
  out.clear();
  std::uint32_t acc = 0;
  unsigned bits = 0;
  bool padding = false;
  for (const char c : in) {
    if (c == '\r' || c == '\n' || c == '\t' || c == ' ') continue;
    if (c == '=') {
      padding = true;
      continue;
    }
    const int v = b64_value(c);
    if (v < 0 || padding) return false;  // a character after padding: not base64
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return bits < 6;  // one stray character (6 bits) cannot end an encoding
}

// ---- JSON -------------------------------------------------------------------------------------

constexpr unsigned parse_flags = rapidjson::kParseIterativeFlag |
                                 rapidjson::kParseValidateEncodingFlag |
                                 rapidjson::kParseNumbersAsStringsFlag;

bool is_ws(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

struct null_handler : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, null_handler> {};

// What the handler is inside of, by depth.
enum class ctx : std::uint8_t {
  envelope,
  member,        // "member" object
  channel,       // "channel" object
  body,          // "message" object
  error,         // "error" object
  members,       // "members" array
  members_item,  // an object in it
  skip,          // anything not read (an unknown member's value, or a raw value's inside)
};

// Where the next value goes.
enum class target : std::uint8_t {
  none,
  jsonrpc,
  method,
  id,
  accept,
  code,
  string,      // a text field: `dest`
  sec_member,  // the "member" section
  sec_channel,
  sec_message,
  sec_error,
  sec_members,
};

class handler : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, handler> {
 public:
  handler(std::string_view text, const rapidjson::MemoryStream& stream, unsigned max_depth,
          message& out)
      : text_(text), stream_(stream), max_depth_(max_depth), out_(out) {}

  errc failure() const noexcept { return failure_; }
  bool failed() const noexcept { return failed_; }
  bool saw_version() const noexcept { return version_ok_; }
  bool saw_method() const noexcept { return method_seen_; }
  bool root_object() const noexcept { return root_object_; }

  bool Null() {
    if (!value_start()) return true;
    const target t = take();
    if (t == target::string) return set_text(std::string());
    if (t >= target::sec_member || t == target::none) return true;  // a null section: absent
    return fail(t == target::jsonrpc  ? errc::bad_version
                : t == target::method ? errc::bad_method
                                      : errc::bad_section);
  }
  bool Bool(bool b) {
    if (!value_start()) return true;
    const target t = take();
    if (t == target::accept) {
      out_.accept = b;
      return true;
    }
    if (t == target::string || t == target::id) return scalar_text(t, b ? "true" : "false");
    return wrong(t);
  }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool) {
    if (!value_start()) return true;
    const target t = take();
    if (t == target::code) {
      std::int64_t v = 0;
      if (!parse_int64(std::string_view(s, n), v)) return fail(errc::bad_section);
      error().code = v;
      return true;
    }
    if (t == target::string || t == target::id) return scalar_text(t, std::string_view(s, n));
    return wrong(t);
  }
  bool String(const char* s, rapidjson::SizeType n, bool) {
    if (!value_start()) return true;
    const target t = take();
    if (t == target::none) return true;
    std::string v;
    if (!decode_base64_value(std::string_view(s, n), v)) return fail(errc::bad_base64);
    // RapidJSON lets an escaped lone low surrogate (\udc00) through as invalid UTF-8.
    if (!runtime::websocket::is_valid_utf8(reinterpret_cast<const std::uint8_t*>(v.data()),
                                           v.size()))
      return fail(errc::bad_section);
    switch (t) {
      case target::jsonrpc:
        if (v != "2.0") return fail(errc::bad_version);
        version_ok_ = true;
        return true;
      case target::method:
        out_.method_name = std::move(v);
        method_seen_ = true;
        return true;
      case target::id:
        out_.id = std::move(v);
        return true;
      case target::string:
        return set_text(std::move(v));
      default:
        return wrong(t);
    }
  }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    pending_ = target::none;
    const ctx c = stack_.back();
    const std::string_view k(s, n);
    unsigned bit = 0;
    switch (c) {
      case ctx::envelope:
        if (k == "jsonrpc")
          bit = 1, pending_ = target::jsonrpc;
        else if (k == "method")
          bit = 2, pending_ = target::method;
        else if (k == "member")
          bit = 4, pending_ = target::sec_member;
        else if (k == "channel")
          bit = 8, pending_ = target::sec_channel;
        else if (k == "message")
          bit = 16, pending_ = target::sec_message;
        else if (k == "error")
          bit = 32, pending_ = target::sec_error;
        else if (k == "members")
          bit = 64, pending_ = target::sec_members;
        else if (k == "accept")
          bit = 128, pending_ = target::accept;
        else if (k == "id")
          bit = 256, pending_ = target::id;
        break;
      case ctx::member:
      case ctx::members_item: {
        presence::member& m = c == ctx::member ? *out_.member : out_.members->back();
        if (k == "id")
          bit = 1, dest_ = &m.id;
        else if (k == "name")
          bit = 2, dest_ = &m.name;
        else if (k == "info")
          bit = 4, dest_ = &m.info;
        if (bit != 0) pending_ = target::string;
        break;
      }
      case ctx::channel:
        if (k == "name") bit = 1, pending_ = target::string, dest_ = &*out_.channel;
        break;
      case ctx::body:
        if (k == "text") bit = 1, pending_ = target::string, dest_ = &*out_.text;
        break;
      case ctx::error:
        if (k == "code")
          bit = 1, pending_ = target::code;
        else if (k == "text")
          bit = 2, pending_ = target::string, dest_ = &error().text;
        break;
      default:
        return true;
    }
    if (bit != 0) {
      if ((seen_.back() & bit) != 0) return fail(errc::duplicate_member);
      seen_.back() |= bit;
      key_end_ = stream_.Tell();
    }
    return true;
  }
  bool StartObject() { return open(true); }
  bool EndObject(rapidjson::SizeType) { return close(); }
  bool StartArray() { return open(false); }
  bool EndArray(rapidjson::SizeType) { return close(); }

 private:
  static bool parse_int64(std::string_view s, std::int64_t& v) {
    const bool neg = !s.empty() && s.front() == '-';
    if (neg) s.remove_prefix(1);
    if (s.empty() || s.size() > 19) return false;
    std::uint64_t m = 0;
    for (const char ch : s) {
      if (ch < '0' || ch > '9') return false;  // a fraction or an exponent: not an integer
      m = m * 10 + static_cast<unsigned>(ch - '0');
    }
    const auto max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    if (m > max + (neg ? 1 : 0)) return false;
    v = neg ? static_cast<std::int64_t>(0 - m) : static_cast<std::int64_t>(m);
    return true;
  }

  error_info& error() {
    if (!out_.error) out_.error.emplace();
    return *out_.error;
  }

  // False while inside a value being skipped or captured raw.
  bool value_start() const { return stack_.empty() || stack_.back() != ctx::skip; }

  target take() {
    const target t = pending_;
    pending_ = target::none;
    return t;
  }

  bool fail(errc e) {
    if (!failed_) failure_ = e;
    failed_ = true;
    return false;
  }

  bool wrong(target t) {
    if (t == target::none) return true;
    if (t == target::jsonrpc) return fail(errc::bad_version);
    if (t == target::method) return fail(errc::bad_method);
    return fail(errc::bad_section);
  }

  bool set_text(std::string v) {
    *dest_ = std::move(v);
    return true;
  }

  bool scalar_text(target t, std::string_view v) {
    if (t == target::id) {
      out_.id = std::string(v);
      return true;
    }
    return set_text(std::string(v));
  }

  // Where the value after the last key starts: past the colon and whitespace.
  std::size_t value_begin() const {
    std::size_t i = key_end_;
    while (i < text_.size() && is_ws(text_[i]))
      ++i;
    if (i < text_.size() && text_[i] == ':') ++i;
    while (i < text_.size() && is_ws(text_[i]))
      ++i;
    return i;
  }

  bool open(bool object) {
    if (stack_.size() + 1 > max_depth_) return fail(errc::too_deep);
    if (stack_.empty()) {
      if (!object) return fail(errc::not_an_object);
      root_object_ = true;
      push(ctx::envelope);
      return true;
    }
    if (stack_.back() == ctx::skip) {
      push(ctx::skip);
      return true;
    }
    if (stack_.back() == ctx::members) {  // an element: no key before it
      if (!object) return fail(errc::bad_section);
      out_.members->emplace_back();
      push(ctx::members_item);
      return true;
    }
    const target t = take();
    switch (t) {
      case target::none:
        push(ctx::skip);
        return true;
      case target::string:  // a raw JSON value where text goes (1.4): keep its text
        raw_begin_ = value_begin();
        raw_depth_ = stack_.size() + 1;
        push(ctx::skip);
        return true;
      case target::sec_member:
        if (!object) return fail(errc::bad_section);
        out_.member.emplace();
        push(ctx::member);
        return true;
      case target::sec_channel:
        if (!object) return fail(errc::bad_section);
        out_.channel.emplace();
        push(ctx::channel);
        return true;
      case target::sec_message:
        if (!object) return fail(errc::bad_section);
        out_.text.emplace();
        push(ctx::body);
        return true;
      case target::sec_error:
        if (!object) return fail(errc::bad_section);
        error();
        push(ctx::error);
        return true;
      case target::sec_members:
        if (object) return fail(errc::bad_section);
        out_.members.emplace();
        push(ctx::members);
        return true;
      default:
        break;
    }
    return wrong(t);
  }

  bool close() {
    if (raw_depth_ != 0 && stack_.size() == raw_depth_) {
      // RapidJSON's iterative parser reports the end before taking the bracket.
      std::size_t end = stream_.Tell();
      if (end < text_.size() && (text_[end] == '}' || text_[end] == ']')) ++end;
      if (end > raw_begin_) *dest_ = std::string(text_.substr(raw_begin_, end - raw_begin_));
      raw_depth_ = 0;
    }
    stack_.pop_back();
    seen_.pop_back();
    pending_ = target::none;
    return true;
  }

  void push(ctx c) {
    stack_.push_back(c);
    seen_.push_back(0);
  }

  // In a members array a scalar element is an error; anywhere else a scalar value of an
  // unread member is skipped (value_start / take handle that). This catches the element case.
 public:
  bool scalar_in_members() const { return !stack_.empty() && stack_.back() == ctx::members; }

 private:
  std::string_view text_;
  const rapidjson::MemoryStream& stream_;
  unsigned max_depth_;
  message& out_;
  std::vector<ctx> stack_;
  std::vector<unsigned> seen_;  // the members read so far in each open object (duplicates)
  target pending_ = target::none;
  std::string* dest_ = nullptr;
  std::size_t key_end_ = 0;
  std::size_t raw_begin_ = 0;
  std::size_t raw_depth_ = 0;  // the depth of the raw value being captured, 0: none
  errc failure_ = errc::invalid_json;
  bool failed_ = false;
  bool version_ok_ = false;
  bool method_seen_ = false;
  bool root_object_ = false;
};

// A scalar inside "members" is checked by a thin wrapper, so the handler above stays about
// where values go.
class checked_handler : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, checked_handler> {
 public:
  explicit checked_handler(handler& h) : h_(h) {}
  bool Null() { return scalar() && h_.Null(); }
  bool Bool(bool b) { return scalar() && h_.Bool(b); }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool c) {
    return scalar() && h_.RawNumber(s, n, c);
  }
  bool String(const char* s, rapidjson::SizeType n, bool c) {
    return scalar() && h_.String(s, n, c);
  }
  bool Key(const char* s, rapidjson::SizeType n, bool c) { return h_.Key(s, n, c); }
  bool StartObject() { return h_.StartObject(); }
  bool EndObject(rapidjson::SizeType n) { return h_.EndObject(n); }
  bool StartArray() { return h_.StartArray(); }
  bool EndArray(rapidjson::SizeType n) { return h_.EndArray(n); }
  bool bad_element = false;

 private:
  bool scalar() {
    if (h_.scalar_in_members()) {
      bad_element = true;
      return false;
    }
    return true;
  }
  handler& h_;
};

void append_string_value(std::string& out, std::string_view s, bool base64) {
  if (!base64) return append_json_string(out, s);
  out += '"';
  out += base64_prefix;
  append_base64(out, s);
  out += '"';
}

// message.text and member.info: raw when a JSON object or array (1.4 [D]).
void append_payload_value(std::string& out, std::string_view s, bool base64) {
  if (!base64 && is_json_container(s)) {
    out.append(s.data(), s.size());
    return;
  }
  append_string_value(out, s, base64);
}

void append_member(std::string& out, const member& m, bool base64) {
  out += "{\"id\":";
  append_string_value(out, m.id, base64);
  out += ",\"name\":";
  append_string_value(out, m.name, base64);
  out += ",\"info\":";
  append_payload_value(out, m.info, base64);
  out += '}';
}

}  // namespace

// ---- Public -----------------------------------------------------------------------------------

const std::error_category& presence_category() noexcept {
  static const category c;
  return c;
}

int protocol_error_code(errc e) noexcept {
  switch (e) {
    case errc::invalid_json:
      return parse_error;
    case errc::bad_section:
    case errc::bad_base64:
      return invalid_params;
    default:
      return invalid_request;
  }
}

std::string_view error_text(int code) noexcept {
  switch (code) {
    case member_exists:
      return "Member already exists.";
    case new_member_denied:
      return "Create New Member request has been denied.";
    case member_not_exists:
      return "Member not exists.";
    case update_member_denied:
      return "Update Member request has been denied.";
    case channel_not_exists:
      return "Channel not exists";
    case new_channel_denied:
      return "Create New Channel request has been denied.";
    case subscription_denied:
      return "Create Subscription request has been denied.";
    case subscription_exists:
      return "Subscription already exists.";
    case subscription_not_exists:
      return "Subscription not exists.";
    case publish_denied:
      return "Publish Message request has been denied.";
    case send_members_denied:
      return "Send Members request has been denied.";
    case parse_error:
      return "Parse error";
    case invalid_request:
      return "Invalid Request";
    case method_not_found:
      return "Method not found";
    case invalid_params:
      return "Invalid params";
    default:
      return {};
  }
}

std::string_view to_string(method m) noexcept {
  const auto i = static_cast<std::size_t>(m);
  return i < method_names.size() ? method_names[i] : std::string_view{};
}

method method_from_name(std::string_view name) noexcept {
  for (std::size_t i = 0; i < method_names.size(); ++i)
    if (method_names[i] == name) return static_cast<method>(i);
  return method::unknown;
}

decode_result decode(std::string_view text, const decode_options& options) {
  decode_result r;
  const auto fail = [&r](errc e) {
    r.msg = message{};
    r.error_code = e;
    r.code = protocol_error_code(e);
    return std::move(r);
  };
  if (text.size() > options.max_message_size) return fail(errc::message_too_large);
  using pool_allocator = rapidjson::MemoryPoolAllocator<rapidjson::CrtAllocator>;
  alignas(16) char buffer[2048];
  rapidjson::CrtAllocator base;
  pool_allocator pool(buffer, sizeof buffer, 16 * 1024, &base);
  rapidjson::GenericReader<rapidjson::UTF8<>, rapidjson::UTF8<>, pool_allocator> reader(&pool);
  rapidjson::MemoryStream stream(text.data(), text.size());
  handler h(text, stream, options.max_depth, r.msg);
  checked_handler ch(h);
  const rapidjson::ParseResult ok = reader.Parse<parse_flags>(stream, ch);
  if (ch.bad_element) return fail(errc::bad_section);
  if (h.failed()) {
    // A semantic stop is only trusted when the text up to there was JSON; the rest of the
    // text must be JSON too, or the answer is parse_error (not JSON wins).
    null_handler nh;
    rapidjson::MemoryStream again(text.data(), text.size());
    rapidjson::GenericReader<rapidjson::UTF8<>, rapidjson::UTF8<>, pool_allocator> r2(&pool);
    const rapidjson::ParseResult valid = r2.Parse<parse_flags>(again, nh);
    if (valid.IsError() || again.Tell() != text.size()) return fail(errc::invalid_json);
    return fail(h.failure());
  }
  // A NUL byte ends RapidJSON's input early; it cannot occur in JSON text.
  if (ok.IsError() || stream.Tell() != text.size()) return fail(errc::invalid_json);
  if (!h.root_object()) return fail(errc::not_an_object);
  if (!h.saw_version()) return fail(errc::bad_version);
  if (!h.saw_method()) return fail(errc::bad_method);
  r.msg.method = method_from_name(r.msg.method_name);
  if (r.msg.method != method::unknown) r.msg.method_name.clear();
  return r;
}

void encode(const message& m, std::string& out, bool base64) {
  out += "{\"jsonrpc\":\"2.0\",\"method\":";
  append_string_value(out, m.method == method::unknown ? m.method_name : to_string(m.method),
                      base64);
  for (const char section : section_order[static_cast<std::size_t>(m.method)]) {
    switch (section) {
      case 'm':
        if (!m.member) break;
        out += ",\"member\":";
        append_member(out, *m.member, base64);
        break;
      case 'c':
        if (!m.channel) break;
        out += ",\"channel\":{\"name\":";
        append_string_value(out, *m.channel, base64);
        out += '}';
        break;
      case 'x':
        if (!m.text) break;
        out += ",\"message\":{\"text\":";
        append_payload_value(out, *m.text, base64);
        out += '}';
        break;
      case 'e':
        if (!m.error) break;
        out += ",\"error\":{\"code\":";
        out += std::to_string(m.error->code);
        out += ",\"text\":";
        append_string_value(out, m.error->text, base64);
        out += '}';
        break;
      case 's':
        if (!m.members) break;
        out += ",\"members\":[";
        for (std::size_t i = 0; i < m.members->size(); ++i) {
          if (i != 0) out += ',';
          append_member(out, (*m.members)[i], base64);
        }
        out += ']';
        break;
      case 'a':
        if (!m.accept) break;
        out += *m.accept ? ",\"accept\":true" : ",\"accept\":false";
        break;
      default:
        break;
    }
  }
  if (m.id) {
    out += ",\"id\":";
    append_string_value(out, *m.id, base64);
  }
  out += '}';
}

std::string encode(const message& m, bool base64) {
  std::string out;
  encode(m, out, base64);
  return out;
}

std::string with_id(std::string_view encoded, std::string_view id, bool base64) {
  std::string out;
  out.reserve(encoded.size() + id.size() + 24);
  out.append(encoded.data(), encoded.empty() ? 0 : encoded.size() - 1);
  out += ",\"id\":";
  append_string_value(out, id, base64);
  out += '}';
  return out;
}

std::string encode_acknowledgment(std::string_view id, bool base64) {
  message m;
  m.method = method::acknowledgment;
  m.id = std::string(id);
  return encode(m, base64);
}

bool id_window::seen(const std::string& id) {
  if (ids_.count(id) != 0) return true;
  if (capacity_ == 0) return false;
  if (order_.size() >= capacity_) {
    ids_.erase(order_.front());
    order_.pop_front();
  }
  order_.push_back(id);
  ids_.insert(id);
  return false;
}

std::string encode_base64_value(std::string_view text) {
  std::string out(base64_prefix);
  append_base64(out, text);
  return out;
}

bool decode_base64_value(std::string_view value, std::string& out) {
  if (value.substr(0, base64_prefix.size()) != base64_prefix) {
    out.assign(value.data(), value.size());
    return true;
  }
  if (!decode_base64(value.substr(base64_prefix.size()), out)) return false;
  return runtime::websocket::is_valid_utf8(reinterpret_cast<const std::uint8_t*>(out.data()),
                                           out.size());
}

bool is_json_container(std::string_view text) {
  if (text.size() < 2 || (text.front() != '{' && text.front() != '[') ||
      (text.back() != '}' && text.back() != ']'))
    return false;
  rapidjson::MemoryStream stream(text.data(), text.size());
  rapidjson::Reader reader;
  null_handler h;
  const rapidjson::ParseResult ok = reader.Parse<parse_flags>(stream, h);
  return !ok.IsError() && stream.Tell() == text.size();
}

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += "\\u00";
          out += hex[(c >> 4) & 0xF];
          out += hex[c & 0xF];
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

}  // namespace switchboard::protocols::presence
