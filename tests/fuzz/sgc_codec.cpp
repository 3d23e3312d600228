// sgc_codec.cpp: libFuzzer target for the default sgc protocol codec (protocols/sgc/codec.hpp):
// decode() on arbitrary text, then every encoder on what it decoded. Calls only the codec: no
// sockets, no Asio, no CAF.
//
// Input layout:
//   byte 0      bits 0-1: max_depth 64 (the default), 2, 3 or 8;
//               bit 2: max_message_size 128 instead of the default 1 MiB (run.sh caps inputs
//               at 4 KiB, so the default limit is reached only this way).
//   the rest    one WebSocket text message, as the peer sent it.
//
// The message is copied into a heap buffer of exactly its size, so ASan reports any read past
// it. The invariants checked (a violation is __builtin_trap, i.e. a crash):
//   - decode() returns; the same text decodes the same way twice;
//   - a text over max_message_size is message_too_large;
//   - an error is an sgc errc whose jsonrpc_code is jsonrpc_code_for() of it, one of -32700,
//     -32600, -32602; a recovered id is a well-formed JSON string, number or null token lying
//     in the text, typed by from_json(); every byte of the id and method views is live;
//   - a decoded message's ids and payloads are well-formed JSON lying in the text; every byte
//     of every view is live; raw_json::text() and sgc_text() work on every payload;
//   - decode(encode(m)) == m, with the same depth limit and no size limit, and encode is a
//     fixed point on its own output: encode(decode(encode(m))) == encode(m); an event's
//     exact-size encoder gives the appending encoder's bytes;
//   - text_payload() on the text (when it is UTF-8) gives one JSON value whose text() is the
//     text again.
#include "protocols/sgc/codec.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <variant>

namespace sgc = switchboard::protocols::sgc;

#define FUZZ_CHECK(condition)           \
  do {                                  \
    if (!(condition)) __builtin_trap(); \
  } while (0)

namespace {

// Touches every byte of a view, so ASan checks that it is live.
unsigned touch(std::string_view v) {
  unsigned sum = 0;
  for (const char c : v)
    sum += static_cast<unsigned char>(c);
  return sum;
}

bool within(std::string_view inner, std::string_view outer) {
  return inner.data() >= outer.data() && inner.data() + inner.size() <= outer.data() + outer.size();
}

void check_id(const sgc::request_id& id, std::string_view text) {
  if (!id.present()) {
    FUZZ_CHECK(id.json.empty());
    return;
  }
  FUZZ_CHECK(within(id.json, text));
  FUZZ_CHECK(sgc::is_json_value(id.json));
  FUZZ_CHECK(sgc::request_id::from_json(id.json) == id);
}

void check_payload(const sgc::raw_json& p, std::string_view text, bool required) {
  FUZZ_CHECK(p.present() || !required);
  if (!p.present()) return;
  FUZZ_CHECK(within(p.json, text));
  FUZZ_CHECK(sgc::is_json_value(p.json));
  touch(p.sgc_text());
  const std::string decoded = p.text();
  FUZZ_CHECK(decoded.size() <= p.json.size());
}

// Checks the views of a decoded message (strings may also lie in the result's storage, so
// they are only touched).
struct view_checker {
  std::string_view text;

  void operator()(const sgc::subscribe& m) const { common(m.channel, m.id); }
  void operator()(const sgc::unsubscribe& m) const { common(m.channel, m.id); }
  void operator()(const sgc::unsubscribe_all& m) const { check_id(m.id, text); }
  void operator()(const sgc::publish& m) const {
    common(m.channel, m.id);
    check_payload(m.message, text, true);
  }
  void operator()(const sgc::broadcast& m) const {
    common(m.channel, m.id);
    check_payload(m.message, text, true);
  }
  void operator()(const sgc::plain_message& m) const {
    check_id(m.id, text);
    check_payload(m.message, text, true);
  }
  void operator()(const sgc::rpc_request& m) const {
    FUZZ_CHECK(m.id.present());
    common(m.channel, m.id);
    touch(m.method);
    check_payload(m.params, text, false);
    if (!m.channel.empty()) FUZZ_CHECK(m.params.present() && m.params.json.front() == '{');
  }
  void operator()(const sgc::notification& m) const {
    touch(m.method);
    touch(m.channel);
    check_payload(m.params, text, false);
    if (!m.channel.empty()) FUZZ_CHECK(m.params.present() && m.params.json.front() == '{');
  }
  void operator()(const sgc::session_request& m) const { check_id(m.id, text); }
  void operator()(const sgc::transaction& m) const { common(m.channel, m.id); }
  void operator()(const sgc::commit& m) const { common(m.channel, m.id); }
  void operator()(const sgc::rollback& m) const { common(m.channel, m.id); }
  void operator()(const sgc::pubrel& m) const {
    FUZZ_CHECK(m.id.present());
    check_id(m.id, text);
  }
  void operator()(const sgc::acknowledgment& m) const {
    FUZZ_CHECK(m.id.present());
    check_id(m.id, text);
  }
  void operator()(const sgc::protocol_request& m) const { check_id(m.id, text); }
  void operator()(const sgc::session& m) const { common(m.guid, m.id); }
  void operator()(const sgc::event& m) const {
    touch(m.channel);
    check_payload(m.message, text, true);
  }
  void operator()(const sgc::broadcast_message& m) const {
    common(m.channel, m.id);
    check_payload(m.message, text, true);
  }
  void operator()(const sgc::subscribed& m) const { common(m.channel, m.id); }
  void operator()(const sgc::unsubscribed& m) const { common(m.channel, m.id); }
  void operator()(const sgc::pubrec& m) const {
    FUZZ_CHECK(m.id.present());
    check_id(m.id, text);
  }
  void operator()(const sgc::rpc_result& m) const {
    check_id(m.id, text);
    check_payload(m.result, text, true);
  }
  void operator()(const sgc::rpc_error& m) const {
    check_id(m.id, text);
    touch(m.message);
    check_payload(m.data, text, false);
  }
  void operator()(const sgc::protocol_reply&) const { FUZZ_CHECK(text == sgc::subprotocol); }

 private:
  void common(std::string_view s, const sgc::request_id& id) const {
    touch(s);
    check_id(id, text);
  }
};

bool same(const sgc::decode_result& a, const sgc::decode_result& b) {
  if (a.kind != b.kind) return false;
  if (a.kind == sgc::decode_result::done) return a.msg == b.msg;
  return a.error_code == b.error_code && a.jsonrpc_code == b.jsonrpc_code && a.id == b.id &&
         a.method == b.method;
}

void check_error(const sgc::decode_result& r, std::string_view text) {
  FUZZ_CHECK(&r.error_code.category() == &sgc::sgc_category());
  const int e = r.error_code.value();
  FUZZ_CHECK(e >= static_cast<int>(sgc::errc::message_too_large) &&
             e <= static_cast<int>(sgc::errc::bad_queue));
  FUZZ_CHECK(!r.error_code.message().empty());
  FUZZ_CHECK(r.jsonrpc_code == sgc::jsonrpc_code_for(static_cast<sgc::errc>(e)));
  FUZZ_CHECK(r.jsonrpc_code == sgc::parse_error || r.jsonrpc_code == sgc::invalid_request ||
             r.jsonrpc_code == sgc::invalid_params);
  check_id(r.id, text);
  touch(r.method);
  // Nothing is recovered from text that is not JSON.
  if (r.jsonrpc_code == sgc::parse_error) FUZZ_CHECK(!r.id.present() && r.method.empty());
}

void check_round_trip(const sgc::message& m, std::uint16_t max_depth) {
  std::string first;
  sgc::encode(m, first);
  const sgc::decode_options unlimited{static_cast<std::size_t>(-1), max_depth};
  const sgc::decode_result again = sgc::decode(first, unlimited);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again.msg == m);
  std::string second;
  sgc::encode(again.msg, second);
  FUZZ_CHECK(second == first);
  if (const auto* e = std::get_if<sgc::event>(&m)) FUZZ_CHECK(sgc::encode_event(*e) == first);
}

void check_text_payload(std::string_view text) {
  std::string quoted;
  sgc::append_json_string(quoted, text);
  if (!sgc::is_json_value(quoted)) return;  // not UTF-8: outside text_payload's contract
  std::string storage;
  const sgc::raw_json p = sgc::text_payload(text, storage);
  FUZZ_CHECK(sgc::is_json_value(p.json));
  FUZZ_CHECK(p.text() == text);
  if (!p.is_string()) FUZZ_CHECK(p.json.data() == text.data() && p.json.size() == text.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  static constexpr std::uint16_t depths[] = {sgc::default_max_depth, 2, 3, 8};
  sgc::decode_options options;
  options.max_depth = depths[data[0] & 0x03];
  if ((data[0] & 0x04) != 0) options.max_message_size = 128;
  FUZZ_CHECK(sgc::invalid_option(options) == nullptr);

  const std::size_t n = size - 1;
  const std::unique_ptr<char[]> buffer(new char[n == 0 ? 1 : n]);
  if (n != 0) std::memcpy(buffer.get(), data + 1, n);
  const std::string_view text(buffer.get(), n);

  const sgc::decode_result r = sgc::decode(text, options);
  FUZZ_CHECK(same(r, sgc::decode(text, options)));
  if (text.size() > options.max_message_size)
    FUZZ_CHECK(!r.ok() && r.error_code == sgc::errc::message_too_large);

  if (r.ok()) {
    std::visit(view_checker{text}, r.msg);
    touch(sgc::method_name(r.msg));
    check_round_trip(r.msg, options.max_depth);
  } else {
    check_error(r, text);
  }
  check_text_payload(text);
  return 0;
}
