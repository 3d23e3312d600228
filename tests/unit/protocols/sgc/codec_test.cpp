// codec_test.cpp: tests of protocols/sgc/codec.hpp, the default sgc protocol (esegece.com):
// JSON-RPC 2.0 with the sgc extensions, spec/sgc-protocols.md sections 1 and 2.
//
// Every wire example of the digest is decoded; where the digest gives exact bytes (the Delphi
// client's requests, every server message) the decoded message re-encodes to the same bytes,
// and every decoded message survives decode(encode(m)) == m. The JS client's forms (spaces
// after separators) are decoded only. Each errc is produced by an input that breaks its rule,
// with the JSON-RPC code to answer with and the id and method when they can be recovered; the
// size and depth limits are tested at the limit and one past it.
#include "protocols/sgc/codec.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sgc = switchboard::protocols::sgc;
using sgc::errc;
using sgc::qos_level;
using sgc::queue_level;

namespace {

// For the second decode of a round trip: the canonical form may be longer than the input.
const sgc::decode_options unlimited{std::size_t(-1), sgc::default_max_depth};

template <class T>
const T& as(const sgc::decode_result& r) {
  BOOST_TEST_REQUIRE(r.ok(), "decode failed: " << r.error_code.message());
  const T* m = std::get_if<T>(&r.msg);
  BOOST_TEST_REQUIRE(m != nullptr, "decoded to alternative " << r.msg.index());
  return *m;
}

std::string encoded(const sgc::message& m) {
  std::string out;
  sgc::encode(m, out);
  return out;
}

// decode(encode(m)) == m.
void check_round_trip(const sgc::message& m) {
  const std::string text = encoded(m);
  const sgc::decode_result again = sgc::decode(text, unlimited);
  BOOST_TEST_REQUIRE(again.ok(), "re-decoding " << text << ": " << again.error_code.message());
  BOOST_TEST((again.msg == m), "round trip changed " << text);
}

// `text` decodes, re-encodes to exactly `text`, and round-trips.
void check_exact(std::string_view text) {
  const sgc::decode_result r = sgc::decode(text);
  BOOST_TEST_REQUIRE(r.ok(), "decoding " << text << ": " << r.error_code.message());
  BOOST_TEST(encoded(r.msg) == text);
  check_round_trip(r.msg);
}

// `text` decodes and round-trips (its own bytes are not canonical).
void check_decodes(std::string_view text) {
  const sgc::decode_result r = sgc::decode(text);
  BOOST_TEST_REQUIRE(r.ok(), "decoding " << text << ": " << r.error_code.message());
  check_round_trip(r.msg);
}

void check_error(std::string_view text, errc expected, int jsonrpc_code, std::string_view id = {},
                 std::string_view method = {}, const sgc::decode_options& options = {}) {
  const sgc::decode_result r = sgc::decode(text, options);
  BOOST_TEST_REQUIRE(!r.ok(), "decoded: " << std::string(text.substr(0, 200)));
  BOOST_TEST(r.error_code == sgc::make_error_code(expected),
             r.error_code.message() << " for " << std::string(text.substr(0, 200)));
  BOOST_TEST(r.jsonrpc_code == jsonrpc_code);
  BOOST_TEST(r.id.json == id);
  BOOST_TEST(r.id.present() == !id.empty());
  BOOST_TEST(r.method == method);
}

sgc::request_id id_of(std::string_view token) {
  return sgc::request_id::from_json(token);
}

sgc::raw_json raw(std::string_view json) {
  return sgc::raw_json{json};
}

std::string nested(std::size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sgc_codec)

// ---- Client to server: the Delphi client's bytes (2.2), re-encoded byte for byte ----------

BOOST_AUTO_TEST_CASE(delphi_subscribe_unsubscribe_2_2) {
  const std::string_view sub =
      R"({"jsonrpc":"2.0","method":"sgc@subscribe","params":{"channel":"news","qos":"qosLevel0"},"qos":"qosLevel0"})";
  const auto r = sgc::decode(sub);
  const auto& m = as<sgc::subscribe>(r);
  BOOST_TEST(m.channel == "news");
  BOOST_TEST((m.qos == qos_level::level0));
  BOOST_TEST(!m.id.present());
  check_exact(sub);

  const std::string_view unsub =
      R"({"jsonrpc":"2.0","method":"sgc@unsubscribe","params":{"channel":"news","qos":"qosLevel1"},"qos":"qosLevel1"})";
  const auto r2 = sgc::decode(unsub);
  BOOST_TEST(as<sgc::unsubscribe>(r2).channel == "news");
  BOOST_TEST((as<sgc::unsubscribe>(r2).qos == qos_level::level1));
  check_exact(unsub);

  check_exact(
      R"({"jsonrpc":"2.0","method":"sgc@unsubscribe_all","params":{"qos":"qosLevel0"},"qos":"qosLevel0"})");
  const auto r3 = sgc::decode(R"({"jsonrpc":"2.0","method":"sgc@unsubscribe_all"})");
  BOOST_TEST(!as<sgc::unsubscribe_all>(r3).qos.has_value());
  check_exact(R"({"jsonrpc":"2.0","method":"sgc@unsubscribe_all"})");
}

BOOST_AUTO_TEST_CASE(delphi_publish_2_2) {
  // QoS 0: no id; queue after qos.
  const std::string_view qos0 =
      R"({"jsonrpc":"2.0","method":"sgc@publish","params":{"message":"Hello","channel":"news","qos":"qosLevel0","queue":"queueLevel0"},"qos":"qosLevel0"})";
  const auto r = sgc::decode(qos0);
  const auto& m = as<sgc::publish>(r);
  BOOST_TEST(m.channel == "news");
  BOOST_TEST(m.message.json == R"("Hello")");
  BOOST_TEST(m.message.sgc_text() == "Hello");
  BOOST_TEST((m.queue == queue_level::level0));
  BOOST_TEST((m.qos == qos_level::level0));
  BOOST_TEST(!m.id.present());
  check_exact(qos0);

  // QoS 1 and 2: a GUID id at the top level.
  const std::string_view qos1 =
      R"({"jsonrpc":"2.0","method":"sgc@publish","params":{"message":"Hello","channel":"news","qos":"qosLevel1","queue":"queueLevel2"},"qos":"qosLevel1","id":"{5A3F0B2C-0D6E-4F8A-9B1C-2D3E4F5A6B7C}"})";
  const auto r1 = sgc::decode(qos1);
  const auto& m1 = as<sgc::publish>(r1);
  BOOST_TEST((m1.qos == qos_level::level1));
  BOOST_TEST((m1.queue == queue_level::level2));
  BOOST_TEST((m1.id.type == sgc::request_id::kind::string));
  BOOST_TEST(m1.id.json == R"("{5A3F0B2C-0D6E-4F8A-9B1C-2D3E4F5A6B7C}")");
  check_exact(qos1);
}

BOOST_AUTO_TEST_CASE(delphi_broadcast_and_message_2_2) {
  const std::string_view bc =
      R"({"jsonrpc":"2.0","method":"sgc@broadcast","params":{"message":"Hi","channel":"","qos":"qosLevel0"},"qos":"qosLevel0"})";
  const auto r = sgc::decode(bc);
  BOOST_TEST(as<sgc::broadcast>(r).channel == "");
  BOOST_TEST(as<sgc::broadcast>(r).message.json == R"("Hi")");
  check_exact(bc);
  check_exact(
      R"({"jsonrpc":"2.0","method":"sgc@broadcast","params":{"message":"Hi","channel":"room","qos":"qosLevel0"},"qos":"qosLevel0"})");

  const std::string_view msg =
      R"({"jsonrpc":"2.0","method":"sgc@message","params":{"message":"text","qos":"qosLevel0"},"qos":"qosLevel0"})";
  const auto r2 = sgc::decode(msg);
  BOOST_TEST(as<sgc::plain_message>(r2).message.json == R"("text")");
  check_exact(msg);
}

BOOST_AUTO_TEST_CASE(delphi_rpc_and_notification_2_2) {
  // With no params the Delphi client sends {"qos":...,"queue":...} as params.
  const std::string_view bare =
      R"({"jsonrpc":"2.0","method":"getTime","params":{"qos":"qosLevel0","queue":"queueLevel0"},"qos":"qosLevel0","id":"{0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0}"})";
  const auto r = sgc::decode(bare);
  const auto& m = as<sgc::rpc_request>(r);
  BOOST_TEST(m.method == "getTime");
  BOOST_TEST(m.params.json == R"({"qos":"qosLevel0","queue":"queueLevel0"})");
  BOOST_TEST((m.qos == qos_level::level0));
  BOOST_TEST(m.channel == "");
  check_exact(bare);

  // Params starting with { or [ go raw; anything else as a JSON string.
  check_exact(
      R"({"jsonrpc":"2.0","method":"add","params":{"a":1,"b":2},"qos":"qosLevel0","id":"7"})");
  check_exact(R"({"jsonrpc":"2.0","method":"add","params":[1,2],"qos":"qosLevel0","id":"8"})");
  const std::string_view text_params =
      R"({"jsonrpc":"2.0","method":"echo","params":"hello","qos":"qosLevel0","id":"9"})";
  const auto r2 = sgc::decode(text_params);
  BOOST_TEST(as<sgc::rpc_request>(r2).params.sgc_text() == "hello");
  check_exact(text_params);

  // Notification: the same without an id.
  const std::string_view notify =
      R"({"jsonrpc":"2.0","method":"log","params":{"level":"info"},"qos":"qosLevel0"})";
  const auto r3 = sgc::decode(notify);
  const auto& n = as<sgc::notification>(r3);
  BOOST_TEST(n.method == "log");
  BOOST_TEST(n.params.json == R"({"level":"info"})");
  check_exact(notify);
  check_exact(R"({"jsonrpc":"2.0","method":"ping"})");
}

BOOST_AUTO_TEST_CASE(delphi_session_transactions_protocol_2_2) {
  check_exact(
      R"({"jsonrpc":"2.0","method":"sgc@session","params":{"qos":"qosLevel0"},"qos":"qosLevel0"})");
  for (const std::string_view method : {"transaction", "commit", "rollback"}) {
    const std::string text = R"({"jsonrpc":"2.0","method":"sgc@)" + std::string(method) +
                             R"(","params":{"channel":"X","qos":"qosLevel0"},"qos":"qosLevel0"})";
    check_exact(text);
  }
  const auto r = sgc::decode(
      R"({"jsonrpc":"2.0","method":"sgc@commit","params":{"channel":"X","qos":"qosLevel0"},"qos":"qosLevel0"})");
  BOOST_TEST(as<sgc::commit>(r).channel == "X");
  const auto r2 = sgc::decode(R"({"jsonrpc":"2.0","method":"sgc@rollback"})");
  BOOST_TEST(as<sgc::rollback>(r2).channel == "");  // the JS default
  const auto r3 = sgc::decode(R"({"jsonrpc":"2.0","method":"sgc@protocol"})");
  as<sgc::protocol_request>(r3);
  check_exact(R"({"jsonrpc":"2.0","method":"sgc@protocol"})");
}

// ---- Client to server: the JS client's forms (2.2), decoded ---------------------------------

BOOST_AUTO_TEST_CASE(js_forms_2_2) {
  {
    const auto r = sgc::decode(
        R"({"jsonrpc":"2.0", "method":"sgc@subscribe", "params":{"channel":"news", "message":""}, "id":"A1"})");
    const auto& m = as<sgc::subscribe>(r);
    BOOST_TEST(m.channel == "news");
    BOOST_TEST(!m.qos.has_value());
    BOOST_TEST(m.id.json == R"("A1")");
    check_round_trip(r.msg);
    BOOST_TEST(
        encoded(r.msg) ==
        R"({"jsonrpc":"2.0","method":"sgc@subscribe","params":{"channel":"news"},"id":"A1"})");
  }
  {
    const auto r = sgc::decode(
        R"({"jsonrpc":"2.0", "method":"sgc@unsubscribe", "params":{"channel":"news", "message":""}, "id":"A2"})");
    BOOST_TEST(as<sgc::unsubscribe>(r).channel == "news");
  }
  {
    // JS writes qos only inside params, and only after qoslevelN().
    const auto r = sgc::decode(
        R"({"jsonrpc":"2.0", "method":"sgc@publish", "params":{"channel":"news", "message":"Hello", "qos":"qosLevel1", "queue":"queueLevel2"}, "id":"A3"})");
    const auto& m = as<sgc::publish>(r);
    BOOST_TEST((m.qos == qos_level::level1));
    BOOST_TEST((m.queue == queue_level::level2));
    BOOST_TEST(m.message.json == R"("Hello")");
    check_round_trip(r.msg);
    const auto r2 = sgc::decode(
        R"({"jsonrpc":"2.0", "method":"sgc@publish", "params":{"channel":"news", "message":"Hello"}, "id":"A4"})");
    BOOST_TEST(!as<sgc::publish>(r2).qos.has_value());
    BOOST_TEST(!as<sgc::publish>(r2).queue.has_value());
  }
  {
    const auto r = sgc::decode(
        R"({"jsonrpc":"2.0", "method":"sgc@message", "params":{"message":"text"}, "id":"A5"})");
    BOOST_TEST(as<sgc::plain_message>(r).message.sgc_text() == "text");
  }
  {
    const auto r = sgc::decode(R"({"jsonrpc":"2.0", "method":"sgc@session"})");
    as<sgc::session_request>(r);
  }
  {
    const auto r = sgc::decode(
        R"({"jsonrpc":"2.0", "method":"sgc@transaction", "params":{"channel":"X", "message":""}})");
    BOOST_TEST(as<sgc::transaction>(r).channel == "X");
    check_round_trip(r.msg);
  }
  {
    // broadcast(msg) without a channel, and rpc()/notify() with their spaces.
    const auto r = sgc::decode(
        R"({"jsonrpc":"2.0", "method":"sgc@broadcast", "params":{"message":"Hi"}, "id":"A6"})");
    BOOST_TEST(as<sgc::broadcast>(r).channel == "");
    check_decodes(R"({"jsonrpc":"2.0", "method":"sum", "params":{"a":1, "b":2}, "id":"A7"})");
    check_decodes(R"({"jsonrpc":"2.0", "method":"tick", "params":"now"})");
  }
  {
    // pubrel(id): qos in params and at the top level.
    const auto r = sgc::decode(
        R"({"jsonrpc":"2.0", "method":"sgc@pubrel", "params":{"qos":"qosLevel2"}, "qos":"qosLevel2", "id":"A8"})");
    BOOST_TEST((as<sgc::pubrel>(r).qos == qos_level::level2));
    BOOST_TEST(as<sgc::pubrel>(r).id.json == R"("A8")");
  }
}

BOOST_AUTO_TEST_CASE(js_invalid_concatenation_is_a_parse_error_2_2) {
  // Some JS versions build rpc()/notify() by concatenation and send this.
  check_error(R"({"jsonrpc":"2.0", "method":"sum", "params":"{"a":1}", "id":"1"})",
              errc::invalid_json, sgc::parse_error);
  check_error(R"({"jsonrpc":"2.0", "method":"sum", "params":""{"a":1}", "id":"1"})",
              errc::invalid_json, sgc::parse_error);
}

// ---- Server to client (2.2), byte for byte --------------------------------------------------

BOOST_AUTO_TEST_CASE(server_session_2_2) {
  const std::string_view text =
      R"({"jsonrpc":"2.0","result":{"method":"sgc@session","message":"{6F9619FF-8B86-D011-B42D-00C04FC964FF}"},"qos":"qosLevel0","id":"{6F9619FF-8B86-D011-B42D-00C04FC964FF}"})";
  const auto r = sgc::decode(text);
  const auto& m = as<sgc::session>(r);
  BOOST_TEST(m.guid == "{6F9619FF-8B86-D011-B42D-00C04FC964FF}");
  BOOST_TEST((m.qos == qos_level::level0));
  BOOST_TEST(m.id.json == R"("{6F9619FF-8B86-D011-B42D-00C04FC964FF}")");
  check_exact(text);

  // Built the way the server will: the GUID as the message and, quoted, as the id.
  std::string token;
  sgc::append_json_string(token, "{6F9619FF-8B86-D011-B42D-00C04FC964FF}");
  std::string out;
  sgc::encode_session(
      sgc::session{"{6F9619FF-8B86-D011-B42D-00C04FC964FF}", qos_level::level0, id_of(token)}, out);
  BOOST_TEST(out == text);
}

BOOST_AUTO_TEST_CASE(server_event_2_2_and_2_5) {
  const std::string_view text =
      R"({"jsonrpc":"2.0","result":{"method":"sgc@event","channel":"news","message":"Hello"}})";
  const auto r = sgc::decode(text);
  const auto& m = as<sgc::event>(r);
  BOOST_TEST(m.channel == "news");
  BOOST_TEST(m.message.json == R"("Hello")");
  BOOST_TEST(!m.sequence.has_value());
  check_exact(text);

  // The fan-out encoder: once per publish, the publisher's payload copied verbatim.
  const sgc::event e{"news", raw(R"("Hello")"), std::nullopt};
  BOOST_TEST(sgc::encode_event(e) == text);
  const std::string object = sgc::encode_event(sgc::event{"news", raw(R"({"a":1})"), {}});
  BOOST_TEST(
      object ==
      R"({"jsonrpc":"2.0","result":{"method":"sgc@event","channel":"news","message":{"a":1}}})");
  // The sequence extension, only when given.
  const std::string numbered =
      sgc::encode_event(sgc::event{"news", raw(R"("Hello")"), std::uint64_t{42}});
  BOOST_TEST(
      numbered ==
      R"({"jsonrpc":"2.0","result":{"method":"sgc@event","channel":"news","message":"Hello","sequence":42}})");
  check_exact(numbered);
  const std::string max =
      sgc::encode_event(sgc::event{"", raw("null"), std::uint64_t{18446744073709551615ull}});
  check_exact(max);
  // The exact-size string equals the appending encoder's output, also with escapes.
  const sgc::event escaped{"a\"b\\c\n\x01", raw(R"([1,"x"])"), std::uint64_t{7}};
  std::string appended = "prefix";
  sgc::encode_event(escaped, appended);
  BOOST_TEST(appended == "prefix" + sgc::encode_event(escaped));
  check_round_trip(escaped);
}

BOOST_AUTO_TEST_CASE(server_broadcast_and_write_data_2_2) {
  const std::string_view all =
      R"({"jsonrpc":"2.0","result":{"method":"sgc@message","channel":"","message":"text"}})";
  const auto r = sgc::decode(all);
  BOOST_TEST(as<sgc::broadcast_message>(r).channel == "");
  BOOST_TEST(as<sgc::broadcast_message>(r).message.json == R"("text")");
  check_exact(all);
  check_exact(
      R"({"jsonrpc":"2.0","result":{"method":"sgc@message","channel":"room","message":"text"}})");
  // A client broadcast's qos and id leak into the original's copies (2.5); still decoded.
  check_exact(
      R"({"jsonrpc":"2.0","result":{"method":"sgc@message","channel":"room","message":"text"},"qos":"qosLevel1","id":"B1"})");

  // WriteData is request-shaped: the same type as a client's sgc@message.
  const std::string_view write_data =
      R"({"jsonrpc":"2.0","method":"sgc@message","params":{"message":"text"}})";
  const auto r2 = sgc::decode(write_data);
  BOOST_TEST(as<sgc::plain_message>(r2).message.json == R"("text")");
  check_exact(write_data);
}

BOOST_AUTO_TEST_CASE(server_subscription_confirmations_2_4) {
  check_exact(R"({"jsonrpc":"2.0","result":{"method":"sgc@subscribe","channel":"news"}})");
  check_exact(
      R"({"jsonrpc":"2.0","result":{"method":"sgc@subscribe","channel":"news"},"qos":"qosLevel0","id":"S1"})");
  check_exact(
      R"({"jsonrpc":"2.0","result":{"method":"sgc@subscribe","channel":"news"},"id":"S1"})");
  check_exact(R"({"jsonrpc":"2.0","result":{"method":"sgc@unsubscribe","channel":"news"}})");
  const auto r = sgc::decode(
      R"({"jsonrpc":"2.0","result":{"method":"sgc@unsubscribe","channel":"news"},"qos":"qosLevel2","id":5})");
  const auto& m = as<sgc::unsubscribed>(r);
  BOOST_TEST(m.channel == "news");
  BOOST_TEST((m.qos == qos_level::level2));
  BOOST_TEST(m.id.json == "5");

  // The server echoes the request's qos and id.
  const auto req = sgc::decode(
      R"({"jsonrpc":"2.0", "method":"sgc@subscribe", "params":{"channel":"news", "message":""}, "id":"A1"})");
  const auto& sub = as<sgc::subscribe>(req);
  std::string out;
  sgc::encode_subscribed(sgc::subscribed{sub.channel, sub.qos, sub.id}, out);
  BOOST_TEST(out ==
             R"({"jsonrpc":"2.0","result":{"method":"sgc@subscribe","channel":"news"},"id":"A1"})");
}

BOOST_AUTO_TEST_CASE(acknowledgment_and_pubrec_2_7_and_2_8) {
  const std::string_view ack =
      R"({"jsonrpc":"2.0","result":{"method":"sgc@acknowledgment"},"id":"X"})";
  const auto r = sgc::decode(ack);
  BOOST_TEST(as<sgc::acknowledgment>(r).id.json == R"("X")");
  check_exact(ack);
  // Request-shaped acknowledgments decode to the same type.
  const auto r2 = sgc::decode(R"({"jsonrpc":"2.0","method":"sgc@acknowledgment","id":"X"})");
  BOOST_TEST((as<sgc::acknowledgment>(r2) == as<sgc::acknowledgment>(r)));

  const std::string_view rec = R"({"jsonrpc":"2.0","result":{"method":"sgc@pubrec"},"id":"X"})";
  const auto r3 = sgc::decode(rec);
  BOOST_TEST(as<sgc::pubrec>(r3).id.json == R"("X")");
  check_exact(rec);
}

BOOST_AUTO_TEST_CASE(rpc_result_and_error_2_2_and_2_6) {
  check_exact(R"({"jsonrpc":"2.0","result":"done","qos":"qosLevel0","id":"R1"})");
  check_exact(R"({"jsonrpc":"2.0","result":{"sum":3},"qos":"qosLevel0","id":"R2"})");
  check_exact(R"({"jsonrpc":"2.0","result":[1,2,3],"id":3})");
  check_exact(R"({"jsonrpc":"2.0","result":null,"id":null})");
  const auto r = sgc::decode(R"({"jsonrpc":"2.0","result":19,"id":1})");
  BOOST_TEST(as<sgc::rpc_result>(r).result.json == "19");

  const std::string_view error =
      R"({"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found. The method does not exist / is not available.","data":"getTime"},"qos":"qosLevel0","id":"R3"})";
  const auto r2 = sgc::decode(error);
  const auto& e = as<sgc::rpc_error>(r2);
  BOOST_TEST(e.code == -32601);
  BOOST_TEST(e.message == sgc::jsonrpc_error_text(sgc::method_not_found));
  BOOST_TEST(e.data.json == R"("getTime")");
  check_exact(error);
  // data is omitted when absent; any JSON value is kept as it came.
  check_exact(
      R"({"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found. The method does not exist / is not available."},"qos":"qosLevel0","id":"R3"})");
  check_exact(
      R"({"jsonrpc":"2.0","error":{"code":5,"message":"x","data":{"why":[1,2]}},"id":null})");
  check_exact(R"({"jsonrpc":"2.0","error":{"code":-9223372036854775808,"message":""},"id":1})");
  check_exact(R"({"jsonrpc":"2.0","error":{"code":9223372036854775807,"message":""},"id":1})");

  // The reply a server builds for a request it cannot decode.
  const auto bad = sgc::decode(R"({"jsonrpc":"2.0","method":"sgc@subscribe","params":7,"id":12})");
  BOOST_TEST_REQUIRE(!bad.ok());
  std::string out;
  sgc::encode_rpc_error(
      sgc::rpc_error{
          bad.jsonrpc_code, sgc::jsonrpc_error_text(bad.jsonrpc_code), {}, std::nullopt, bad.id},
      out);
  BOOST_TEST(out ==
             R"({"jsonrpc":"2.0","error":{"code":-32602,"message":"Invalid params"},"id":12})");
}

BOOST_AUTO_TEST_CASE(protocol_reply_is_raw_text_2_2) {
  const auto r = sgc::decode("esegece.com");
  as<sgc::protocol_reply>(r);
  check_exact("esegece.com");
  check_error("esegece.co", errc::invalid_json, sgc::parse_error);
  check_error("esegece.com ", errc::invalid_json, sgc::parse_error);
}

BOOST_AUTO_TEST_CASE(qos_2_flow_transcript_2_8) {
  // C->S publish (qos 2, id X); S->C pubrec; C->S pubrel; S->C acknowledgment.
  const std::string_view publish =
      R"({"jsonrpc":"2.0","method":"sgc@publish","params":{"message":"Hello","channel":"news","qos":"qosLevel2","queue":"queueLevel0"},"qos":"qosLevel2","id":"X"})";
  const auto p = sgc::decode(publish);
  const auto& m = as<sgc::publish>(p);
  BOOST_TEST((m.qos == qos_level::level2));

  std::string rec;
  sgc::encode_pubrec(sgc::pubrec{std::nullopt, m.id}, rec);
  BOOST_TEST(rec == R"({"jsonrpc":"2.0","result":{"method":"sgc@pubrec"},"id":"X"})");

  std::string rel;
  sgc::encode_pubrel(sgc::pubrel{qos_level::level2, m.id}, rel);
  BOOST_TEST(
      rel ==
      R"({"jsonrpc":"2.0","method":"sgc@pubrel","params":{"qos":"qosLevel2"},"qos":"qosLevel2","id":"X"})");
  const auto r = sgc::decode(rel);
  BOOST_TEST((as<sgc::pubrel>(r).id == m.id));

  std::string ack;
  sgc::encode_acknowledgment(sgc::acknowledgment{std::nullopt, m.id}, ack);
  BOOST_TEST(ack == R"({"jsonrpc":"2.0","result":{"method":"sgc@acknowledgment"},"id":"X"})");
}

// ---- Envelope rules (2.1, 1.4) ----------------------------------------------------------------

BOOST_AUTO_TEST_CASE(ids_of_every_json_type_are_echoed_verbatim_2_1) {
  const std::vector<std::pair<std::string_view, sgc::request_id::kind>> ids = {
      {R"("abc")", sgc::request_id::kind::string},
      {R"("")", sgc::request_id::kind::string},
      {R"("\u0041\"\\\/")", sgc::request_id::kind::string},  // escapes kept as sent
      {R"("é😀")", sgc::request_id::kind::string},
      {"0", sgc::request_id::kind::number},
      {"42", sgc::request_id::kind::number},
      {"-7", sgc::request_id::kind::number},
      {"1.50", sgc::request_id::kind::number},
      {"1e3", sgc::request_id::kind::number},
      {"-0.0E-0", sgc::request_id::kind::number},
      {"123456789012345678901234567890", sgc::request_id::kind::number},  // no int64 squeeze
      {"null", sgc::request_id::kind::null},
  };
  for (const auto& [token, type] : ids) {
    const std::string request =
        R"({"jsonrpc":"2.0","method":"sum","params":[1,2],"id":)" + std::string(token) + "}";
    const auto r = sgc::decode(request);
    const auto& m = as<sgc::rpc_request>(r);
    BOOST_TEST(m.id.json == token);
    BOOST_TEST((m.id.type == type));
    BOOST_TEST((sgc::request_id::from_json(token) == m.id));
    check_exact(request);

    // The ACK and the result carry the same token, whatever its type (2.1 [D]).
    std::string ack;
    sgc::encode_acknowledgment(sgc::acknowledgment{std::nullopt, m.id}, ack);
    BOOST_TEST(ack == R"({"jsonrpc":"2.0","result":{"method":"sgc@acknowledgment"},"id":)" +
                          std::string(token) + "}");
    std::string result;
    sgc::encode_rpc_result(sgc::rpc_result{raw("3"), qos_level::level0, m.id}, result);
    BOOST_TEST(result ==
               R"({"jsonrpc":"2.0","result":3,"qos":"qosLevel0","id":)" + std::string(token) + "}");
  }
  // Whitespace around the token is not part of it.
  const auto r = sgc::decode("{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"id\" :\n 17 }");
  BOOST_TEST(as<sgc::rpc_request>(r).id.json == "17");
}

BOOST_AUTO_TEST_CASE(id_null_is_not_a_notification_2_1) {
  const auto r = sgc::decode(R"({"jsonrpc":"2.0","method":"m","id":null})");
  BOOST_TEST((as<sgc::rpc_request>(r).id.type == sgc::request_id::kind::null));
  const auto r2 = sgc::decode(R"({"jsonrpc":"2.0","method":"m"})");
  as<sgc::notification>(r2);
}

BOOST_AUTO_TEST_CASE(qos_params_first_then_top_level_2_1) {
  // params.qos wins over the top level.
  const auto r = sgc::decode(
      R"({"jsonrpc":"2.0","method":"sgc@publish","params":{"channel":"c","message":1,"qos":"qosLevel0"},"qos":"qosLevel2","id":"q"})");
  BOOST_TEST((as<sgc::publish>(r).qos == qos_level::level0));
  // The top level when params has none.
  const auto r2 = sgc::decode(
      R"({"jsonrpc":"2.0","method":"sgc@subscribe","params":{"channel":"c"},"qos":"qosLevel2","id":"q"})");
  BOOST_TEST((as<sgc::subscribe>(r2).qos == qos_level::level2));
  // RPC params belong to the application: a qos level there counts, anything else is theirs.
  const auto r3 = sgc::decode(
      R"({"jsonrpc":"2.0","method":"m","params":{"qos":"qosLevel2"},"qos":"qosLevel1","id":1})");
  BOOST_TEST((as<sgc::rpc_request>(r3).qos == qos_level::level2));
  const auto r4 =
      sgc::decode(R"({"jsonrpc":"2.0","method":"m","params":{"qos":5},"qos":"qosLevel1","id":1})");
  BOOST_TEST((as<sgc::rpc_request>(r4).qos == qos_level::level1));
  check_round_trip(r4.msg);
  const auto r5 = sgc::decode(
      R"({"jsonrpc":"2.0","method":"m","params":{"qos":"qosLevel1","qos":"qosLevel2"},"id":1})");
  BOOST_TEST(!as<sgc::rpc_request>(r5).qos.has_value());
  const auto r6 = sgc::decode(R"({"jsonrpc":"2.0","method":"m","params":["qosLevel2"],"id":1})");
  BOOST_TEST(!as<sgc::rpc_request>(r6).qos.has_value());
  // result.qos, for result-shaped messages.
  const auto r7 = sgc::decode(R"({"jsonrpc":"2.0","result":{"qos":"qosLevel1","v":2},"id":1})");
  BOOST_TEST((as<sgc::rpc_result>(r7).qos == qos_level::level1));
  check_round_trip(r7.msg);
  // Each level by name.
  for (const qos_level level : {qos_level::level0, qos_level::level1, qos_level::level2}) {
    const std::string text = R"({"jsonrpc":"2.0","method":"sgc@session","qos":")" +
                             std::string(sgc::to_string(level)) + "\"}";
    const auto r8 = sgc::decode(text);
    BOOST_TEST((as<sgc::session_request>(r8).qos == level));
  }
}

BOOST_AUTO_TEST_CASE(transaction_key_of_rpc_params_2_10) {
  const auto r = sgc::decode(R"({"jsonrpc":"2.0","method":"m","params":{"channel":"X"},"id":1})");
  BOOST_TEST(as<sgc::rpc_request>(r).channel == "X");
  const auto r2 = sgc::decode(R"({"jsonrpc":"2.0","method":"m","params":{"channel":"X"}})");
  BOOST_TEST(as<sgc::notification>(r2).channel == "X");
  for (const std::string_view params :
       {R"({"channel":1})", R"({"channel":"X","channel":"Y"})", R"(["X"])", R"("X")",
        R"({"a":{"channel":"X"}})", R"({"channel":"\udc00"})"}) {
    const std::string text =
        R"({"jsonrpc":"2.0","method":"m","params":)" + std::string(params) + R"(,"id":1})";
    const auto r3 = sgc::decode(text);
    BOOST_TEST(as<sgc::rpc_request>(r3).channel == "", text);
  }
}

BOOST_AUTO_TEST_CASE(payloads_are_kept_verbatim_1_4) {
  // Object, array, number and string payloads: exact text, numbers at full precision.
  for (const std::string_view message :
       {R"({"a":1,"b":[true,false,null]})", R"([1,2.0,3e10])", "3.141592653589793238462643383279",
        "-0", "123456789012345678901234567890e-999", R"("He said \"hi\"\n\u00e9\/")", "null",
        "true", R"({ "spaced" : [ 1 , 2 ] })"}) {
    const std::string text = R"({"jsonrpc":"2.0","method":"sgc@publish","params":{"message":)" +
                             std::string(message) + R"(,"channel":"c"},"id":"p"})";
    const auto r = sgc::decode(text);
    const auto& m = as<sgc::publish>(r);
    BOOST_TEST(m.message.json == message);
    check_exact(text);
    // Delivered as is.
    const std::string event = sgc::encode_event(sgc::event{m.channel, m.message, {}});
    BOOST_TEST(event ==
               R"({"jsonrpc":"2.0","result":{"method":"sgc@event","channel":"c","message":)" +
                   std::string(message) + "}}");
  }
}

BOOST_AUTO_TEST_CASE(payload_text_accessors_1_4) {
  const sgc::raw_json s{R"("He said \"hi\"\n\u00e9")"};
  BOOST_TEST(s.is_string());
  BOOST_TEST(s.sgc_text() == R"(He said \"hi\"\n\u00e9)");  // sgc's reader: escapes kept
  BOOST_TEST(s.text() == "He said \"hi\"\n\xc3\xa9");
  const sgc::raw_json pair{R"("\ud83d\ude00")"};
  BOOST_TEST(pair.text() == "\xf0\x9f\x98\x80");
  const sgc::raw_json lone{R"("a\udc00b")"};
  BOOST_TEST(lone.text() ==
             "a\xef\xbf\xbd"
             "b");  // U+FFFD
  const sgc::raw_json o{R"({"a":1})"};
  BOOST_TEST(!o.is_string());
  BOOST_TEST(o.sgc_text() == R"({"a":1})");
  BOOST_TEST(o.text() == R"({"a":1})");
  BOOST_TEST(!sgc::raw_json{}.present());
}

BOOST_AUTO_TEST_CASE(text_payload_writing_rule_1_4) {
  std::string storage;
  // JSON objects and arrays are embedded raw.
  BOOST_TEST(sgc::text_payload(R"({"a":1})", storage).json == R"({"a":1})");
  BOOST_TEST(sgc::text_payload("[1, 2]", storage).json == "[1, 2]");
  // Everything else becomes a JSON string, including text that only looks like JSON (the
  // original embeds these raw and produces invalid JSON).
  BOOST_TEST(sgc::text_payload("Hello", storage).json == R"("Hello")");
  BOOST_TEST(sgc::text_payload(R"({"a":)", storage).json == R"("{\"a\":")");
  BOOST_TEST(sgc::text_payload(R"("quoted")", storage).json == R"("\"quoted\"")");
  BOOST_TEST(sgc::text_payload("42", storage).json == R"("42")");
  BOOST_TEST(sgc::text_payload("", storage).json == R"("")");
  BOOST_TEST(sgc::text_payload(" {}", storage).json == R"(" {}")");
  BOOST_TEST(sgc::text_payload(std::string_view("{}\0x", 4), storage).json == R"("{}\u0000x")");
  BOOST_TEST(sgc::text_payload("tab\there/é", storage).json == "\"tab\\there/é\"");
  // Whatever the rule picks is one JSON value, and text() gives the text back.
  for (const std::string_view text : {"Hello", "{\"a\":", "[1]", "line\nbreak\x1f"}) {
    const sgc::raw_json p = sgc::text_payload(text, storage);
    BOOST_TEST(sgc::is_json_value(p.json));
    BOOST_TEST(p.text() == text);
  }
}

BOOST_AUTO_TEST_CASE(append_json_string_escapes) {
  std::string out;
  sgc::append_json_string(out, std::string_view("a\"b\\c/d\b\f\n\r\t\x01\x1f\x7f\0é", 18));
  BOOST_TEST(out == "\"a\\\"b\\\\c/d\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\\u0000é\"");
  BOOST_TEST(sgc::is_json_value(out));
}

BOOST_AUTO_TEST_CASE(escaped_strings_are_unescaped_and_survive_moves) {
  const std::string text =
      R"({"jsonrpc":"2.0","method":"sgc@subscr\u0069be","params":{"ch\u0061nnel":"a\"b\\c\u00e9\ud83d\ude00"},"id":1})";
  std::vector<sgc::decode_result> results;
  results.push_back(sgc::decode(text));
  for (int i = 0; i < 16; ++i)  // the vector moves its elements as it grows
    results.push_back(sgc::decode(R"({"jsonrpc":"2.0","method":"m"})"));
  const sgc::decode_result moved = std::move(results.front());
  const auto& m = as<sgc::subscribe>(moved);
  BOOST_TEST(m.channel == "a\"b\\c\xc3\xa9\xf0\x9f\x98\x80");
  BOOST_TEST(encoded(moved.msg) ==
             "{\"jsonrpc\":\"2.0\",\"method\":\"sgc@subscribe\",\"params\":{\"channel\":"
             "\"a\\\"b\\\\c\xc3\xa9\xf0\x9f\x98\x80\"},\"id\":1}");
  check_round_trip(moved.msg);
}

BOOST_AUTO_TEST_CASE(unknown_methods_go_to_the_dispatcher_by_name_2_3) {
  const auto r = sgc::decode(R"({"jsonrpc":"2.0","method":"no.such","params":{},"id":3})");
  BOOST_TEST(as<sgc::rpc_request>(r).method == "no.such");
  BOOST_TEST(sgc::method_name(r.msg) == "no.such");
  const auto r2 = sgc::decode(R"({"jsonrpc":"2.0","method":"sgc@channels","id":4})");
  BOOST_TEST(as<sgc::rpc_request>(r2).method == "sgc@channels");
  const auto r3 = sgc::decode(R"({"jsonrpc":"2.0","method":"sgc@pubrec","id":5})");
  as<sgc::rpc_request>(r3);
  const auto r4 = sgc::decode(R"({"jsonrpc":"2.0","method":"rpc.discover"})");
  BOOST_TEST(as<sgc::notification>(r4).method == "rpc.discover");
  const auto r5 = sgc::decode(R"({"jsonrpc":"2.0","method":"","id":6})");
  BOOST_TEST(as<sgc::rpc_request>(r5).method == "");
  const auto r6 = sgc::decode(R"({"jsonrpc":"2.0","method":"SGC@SUBSCRIBE","id":7})");
  as<sgc::rpc_request>(r6);  // names are case-sensitive
}

BOOST_AUTO_TEST_CASE(result_routing_2_2) {
  // An unknown sgc@ name in a result, or a method that is not a string: an RPC result.
  const auto r = sgc::decode(R"({"jsonrpc":"2.0","result":{"method":"sgc@other"},"id":1})");
  as<sgc::rpc_result>(r);
  const auto r2 = sgc::decode(R"({"jsonrpc":"2.0","result":{"method":5},"id":1})");
  as<sgc::rpc_result>(r2);
  // "sgc@event" with an id is an RPC result: events never carry ids (the original misroutes).
  const std::string_view text =
      R"({"jsonrpc":"2.0","result":{"method":"sgc@event","channel":"c","message":1},"id":1})";
  const auto r3 = sgc::decode(text);
  BOOST_TEST(as<sgc::rpc_result>(r3).result.json ==
             R"({"method":"sgc@event","channel":"c","message":1})");
  check_exact(text);
  // Unknown members are ignored everywhere.
  const auto r4 = sgc::decode(
      R"({"x":[{}],"jsonrpc":"2.0","result":{"method":"sgc@subscribe","channel":"c","extra":{"method":1}},"more":null})");
  BOOST_TEST(as<sgc::subscribed>(r4).channel == "c");
  const auto r5 = sgc::decode(
      R"({"jsonrpc":"2.0","method":"sgc@subscribe","params":{"channel":"c","method":"x","code":[]},"future":1})");
  BOOST_TEST(as<sgc::subscribe>(r5).channel == "c");
}

BOOST_AUTO_TEST_CASE(method_names) {
  BOOST_TEST(sgc::method_name(sgc::subscribe{}) == "sgc@subscribe");
  BOOST_TEST(sgc::method_name(sgc::subscribed{}) == "sgc@subscribe");
  BOOST_TEST(sgc::method_name(sgc::broadcast_message{}) == "sgc@message");
  BOOST_TEST(sgc::method_name(sgc::acknowledgment{}) == "sgc@acknowledgment");
  BOOST_TEST(sgc::method_name(sgc::rpc_error{}) == "");
  BOOST_TEST(sgc::to_string(queue_level::level1) == "queueLevel1");
  BOOST_TEST(sgc::to_string(qos_level::level2) == "qosLevel2");
}

BOOST_AUTO_TEST_CASE(every_message_type_round_trips) {
  const sgc::request_id id = id_of(R"("i")");
  const sgc::request_id num = id_of("12");
  const std::vector<sgc::message> all = {
      sgc::subscribe{"a,b", qos_level::level1, id},
      sgc::unsubscribe{"news*", std::nullopt, {}},
      sgc::unsubscribe_all{qos_level::level2, num},
      sgc::publish{"c", raw(R"({"k":[1]})"), queue_level::level1, qos_level::level2, id},
      sgc::publish{"", raw("1"), std::nullopt, std::nullopt, {}},
      sgc::broadcast{"", raw(R"("x")"), std::nullopt, {}},
      sgc::plain_message{raw(R"("hi")"), qos_level::level0, id},
      sgc::rpc_request{"sum", raw("[1,2]"), "", qos_level::level1, num},
      sgc::rpc_request{"q\"uote", {}, "", std::nullopt, id_of("null")},
      sgc::rpc_request{"m", raw(R"({"channel":"T"})"), "T", std::nullopt, num},
      sgc::notification{"tick", raw(R"("now")"), "", std::nullopt},
      sgc::notification{"tick", {}, "", qos_level::level0},
      sgc::session_request{std::nullopt, id},
      sgc::transaction{"t", qos_level::level0, {}},
      sgc::commit{"", std::nullopt, id},
      sgc::rollback{"t", qos_level::level1, num},
      sgc::pubrel{qos_level::level2, id},
      sgc::acknowledgment{std::nullopt, num},
      sgc::acknowledgment{qos_level::level2, id},
      sgc::protocol_request{std::nullopt, {}},
      sgc::session{"guid", qos_level::level0, id},
      sgc::session{"", std::nullopt, {}},
      sgc::event{"c", raw("[]"), std::nullopt},
      sgc::event{"c", raw("{}"), std::uint64_t{0}},
      sgc::broadcast_message{"", raw(R"("m")"), std::nullopt, {}},
      sgc::subscribed{"c", qos_level::level0, id},
      sgc::unsubscribed{"c", std::nullopt, {}},
      sgc::pubrec{std::nullopt, id},
      sgc::rpc_result{raw("false"), std::nullopt, num},
      sgc::rpc_result{raw(R"({"a":"b"})"), qos_level::level1, {}},
      sgc::rpc_error{-32000, "Server error", raw(R"("d")"), qos_level::level0, id},
      sgc::rpc_error{0, "", {}, std::nullopt, {}},
      sgc::protocol_reply{},
  };
  std::vector<bool> seen(std::variant_size_v<sgc::message>);
  for (const sgc::message& m : all) {
    seen[m.index()] = true;
    check_round_trip(m);
  }
  for (std::size_t i = 0; i < seen.size(); ++i)
    BOOST_TEST(seen[i], "alternative " << i << " not covered");
}

// ---- Errors -------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(malformed_json_is_a_parse_error_rfc8259) {
  for (const std::string_view text : {"",
                                      " ",
                                      "{",
                                      R"({"jsonrpc":"2.0","method":"m")",
                                      R"({"jsonrpc":"2.0","method":"m"}})",
                                      R"({"jsonrpc":"2.0","method":"m"} x)",
                                      R"({"jsonrpc":"2.0","method":'m'})",
                                      R"({"jsonrpc":"2.0","method":"m",})",
                                      R"({jsonrpc:"2.0"})",
                                      "{\"a\":\"\x01\"}",
                                      R"({"a":01})",
                                      R"({"a":1.})",
                                      R"({"a":NaN})",
                                      R"({"a":"\x"})",
                                      R"({"a":"\u12"})",
                                      R"({"a":"\ud800"})",
                                      "{\"a\":\"\xff\"}",
                                      "{\"a\":\"\xc0\xaf\"}",      // overlong '/'
                                      "{\"a\":\"\xed\xa0\x80\"}",  // UTF-8 surrogate
                                      "\xef\xbb\xbf{}",
                                      "/*c*/{}",
                                      "{\"a\":[1,]}"}) {
    check_error(text, errc::invalid_json, sgc::parse_error);
  }
  // A NUL byte ends RapidJSON's input; it must not hide what follows.
  check_error(std::string_view("{\"jsonrpc\":\"2.0\",\"method\":\"m\"}\0garbage", 38),
              errc::invalid_json, sgc::parse_error);
  check_error(std::string_view("{\"jsonrpc\":\"2.0\",\"method\":\"m\"}\0", 31), errc::invalid_json,
              sgc::parse_error);
  check_error(std::string_view("{\"a\":\"x\0y\"}", 11), errc::invalid_json, sgc::parse_error);
}

BOOST_AUTO_TEST_CASE(not_an_object_json_rpc_4) {
  for (const std::string_view text : {"[]", R"([{"jsonrpc":"2.0","method":"m","id":1}])", "42",
                                      R"("esegece.com")", "null", "true"}) {
    check_error(text, errc::not_an_object, sgc::invalid_request);
  }
}

BOOST_AUTO_TEST_CASE(envelope_errors_json_rpc_4) {
  // jsonrpc missing, wrong, or not a string: the id is still recovered for the reply.
  check_error(R"({"method":"m","id":1})", errc::bad_version, sgc::invalid_request, "1", "m");
  check_error(R"({"jsonrpc":"1.0","method":"m","id":"a"})", errc::bad_version, sgc::invalid_request,
              R"("a")", "m");
  check_error(R"({"jsonrpc":2.0,"method":"m","id":null})", errc::bad_version, sgc::invalid_request,
              "null", "m");
  check_error(R"({"jsonrpc":"2.0 ","result":1})", errc::bad_version, sgc::invalid_request);
  // jsonrpc spelled with escapes is still "2.0".
  const auto r = sgc::decode(R"({"jsonrpc":"2\u002e0","method":"m"})");
  as<sgc::notification>(r);

  // ids that are not string, number or null: no id to answer with.
  for (const std::string_view id : {"{}", "[1]", "true", "false", R"({"a":1})"}) {
    check_error(R"({"jsonrpc":"2.0","method":"m","id":)" + std::string(id) + "}", errc::bad_id,
                sgc::invalid_request);
  }
  check_error(R"({"jsonrpc":"2.0","method":"m","id":1,"id":2})", errc::duplicate_member,
              sgc::invalid_request);

  check_error(R"({"jsonrpc":"2.0","method":"m","qos":"qosLevel3","id":1})", errc::bad_qos,
              sgc::invalid_request, "1", "m");
  check_error(R"({"jsonrpc":"2.0","method":"m","qos":2,"id":1})", errc::bad_qos,
              sgc::invalid_request, "1", "m");
  check_error(R"({"jsonrpc":"2.0","method":"m","qos":"QOSLEVEL0"})", errc::bad_qos,
              sgc::invalid_request, "", "m");

  check_error(R"({"jsonrpc":"2.0","method":7,"id":"x"})", errc::bad_method, sgc::invalid_request,
              R"("x")");
  check_error(R"({"jsonrpc":"2.0","method":null})", errc::bad_method, sgc::invalid_request);
  check_error(R"({"jsonrpc":"2.0","method":"a\udc00","id":1})", errc::bad_method,
              sgc::invalid_request, "1");

  check_error(R"({"jsonrpc":"2.0","id":9})", errc::missing_body, sgc::invalid_request, "9");
  check_error(R"({"jsonrpc":"2.0","params":{},"id":9})", errc::missing_body, sgc::invalid_request,
              "9");
  check_error(R"({"jsonrpc":"2.0","method":"m","result":1,"id":9})", errc::ambiguous_body,
              sgc::invalid_request, "9", "m");
  check_error(R"({"jsonrpc":"2.0","result":1,"error":{"code":1,"message":""},"id":9})",
              errc::ambiguous_body, sgc::invalid_request, "9");

  for (const std::string_view text :
       {R"({"jsonrpc":"2.0","jsonrpc":"2.0","method":"m","id":1})",
        R"({"jsonrpc":"2.0","method":"a","method":"b","id":1})",
        R"({"jsonrpc":"2.0","method":"m","params":1,"params":2,"id":1})",
        R"({"jsonrpc":"2.0","method":"m","qos":"qosLevel0","qos":"qosLevel1","id":1})",
        R"({"jsonrpc":"2.0","result":1,"result":2,"id":1})"}) {
    const auto r2 = sgc::decode(text);
    BOOST_TEST(r2.error_code == sgc::make_error_code(errc::duplicate_member), text);
    BOOST_TEST(r2.id.json == "1");
  }
}

BOOST_AUTO_TEST_CASE(missing_ids_2_8) {
  check_error(R"({"jsonrpc":"2.0","method":"sgc@pubrel","params":{"qos":"qosLevel2"}})",
              errc::missing_id, sgc::invalid_request, "", "sgc@pubrel");
  check_error(R"({"jsonrpc":"2.0","method":"sgc@acknowledgment"})", errc::missing_id,
              sgc::invalid_request, "", "sgc@acknowledgment");
  check_error(R"({"jsonrpc":"2.0","result":{"method":"sgc@acknowledgment"}})", errc::missing_id,
              sgc::invalid_request);
  check_error(R"({"jsonrpc":"2.0","result":{"method":"sgc@pubrec"}})", errc::missing_id,
              sgc::invalid_request);
}

BOOST_AUTO_TEST_CASE(error_object_errors_json_rpc_5_1) {
  for (const std::string_view error :
       {R"("oops")", "-32601", "[]", R"({"message":"x"})", R"({"code":"-32601","message":"x"})",
        R"({"code":1.5,"message":"x"})", R"({"code":1e3,"message":"x"})",
        R"({"code":9223372036854775808,"message":"x"})",
        R"({"code":-9223372036854775809,"message":"x"})", R"({"code":1})",
        R"({"code":1,"message":null})", R"({"code":1,"message":"\udc00"})",
        R"({"code":1,"code":2,"message":"x"})", R"({"code":1,"message":"x","data":1,"data":2})"}) {
    check_error(R"({"jsonrpc":"2.0","error":)" + std::string(error) + R"(,"id":4})",
                errc::bad_error, sgc::invalid_request, "4");
  }
}

BOOST_AUTO_TEST_CASE(push_errors_2_2) {
  for (const std::string_view result :
       {R"({"method":"sgc@session"})", R"({"method":"sgc@session","message":{}})",
        R"({"method":"sgc@event","message":"m"})", R"({"method":"sgc@event","channel":"c"})",
        R"({"method":"sgc@event","channel":1,"message":"m"})",
        R"({"method":"sgc@event","channel":"c","message":"m","sequence":-1})",
        R"({"method":"sgc@event","channel":"c","message":"m","sequence":1.0})",
        R"({"method":"sgc@event","channel":"c","message":"m","sequence":"1"})",
        R"({"method":"sgc@event","channel":"c","message":"m","sequence":18446744073709551616})",
        R"({"method":"sgc@message","channel":"c"})", R"({"method":"sgc@subscribe"})",
        R"({"method":"sgc@unsubscribe","channel":null})"}) {
    check_error(R"({"jsonrpc":"2.0","result":)" + std::string(result) + "}", errc::bad_result,
                sgc::invalid_request);
  }
  check_error(R"({"jsonrpc":"2.0","result":{"method":"sgc@subscribe","method":"x"},"id":2})",
              errc::duplicate_member, sgc::invalid_request, "2");
  check_error(
      R"({"jsonrpc":"2.0","result":{"method":"sgc@subscribe","channel":"a","channel":"b"},"id":2})",
      errc::duplicate_member, sgc::invalid_request, "2");
}

BOOST_AUTO_TEST_CASE(params_errors_2_2) {
  const auto check = [](std::string_view method, std::string_view params, errc e) {
    const std::string text = R"({"jsonrpc":"2.0","method":")" + std::string(method) +
                             R"(","params":)" + std::string(params) + R"(,"id":"e"})";
    check_error(text, e, sgc::invalid_params, R"("e")", method);
  };
  for (const std::string_view method :
       {"sgc@subscribe", "sgc@unsubscribe", "sgc@unsubscribe_all", "sgc@publish", "sgc@broadcast",
        "sgc@message", "sgc@session", "sgc@transaction", "sgc@commit", "sgc@rollback", "sgc@pubrel",
        "sgc@protocol"}) {
    check(method, R"("news")", errc::bad_params);
    check(method, R"(["news"])", errc::bad_params);
    check(method, "null", errc::bad_params);
    check(method, R"({"qos":"qosLevel9"})", errc::bad_params_qos);
    check(method, R"({"qos":0})", errc::bad_params_qos);
    check(method, R"({"qos":"qosLevel0","qos":"qosLevel0"})", errc::duplicate_param);
    check(method, R"({"channel":"a","channel":"a"})", errc::duplicate_param);
    check(method, R"({"channel":5,"message":"m"})", errc::bad_channel);
    check(method, R"({"channel":"\udc00","message":"m"})", errc::bad_channel);
  }
  check("sgc@subscribe", "{}", errc::missing_channel);
  check("sgc@subscribe", R"({"message":""})", errc::missing_channel);
  check("sgc@unsubscribe", "{}", errc::missing_channel);
  check("sgc@publish", R"({"message":"m"})", errc::missing_channel);
  check("sgc@publish", R"({"channel":"c"})", errc::missing_message);
  check("sgc@broadcast", R"({"channel":"c"})", errc::missing_message);
  check("sgc@message", "{}", errc::missing_message);
  check("sgc@publish", R"({"channel":"c","message":1,"queue":"queueLevel3"})", errc::bad_queue);
  check("sgc@publish", R"({"channel":"c","message":1,"queue":2})", errc::bad_queue);
  check("sgc@publish", R"({"channel":"c","message":1,"message":2})", errc::duplicate_param);
  // Without params at all.
  check_error(R"({"jsonrpc":"2.0","method":"sgc@subscribe","id":1})", errc::missing_channel,
              sgc::invalid_params, "1", "sgc@subscribe");
  check_error(R"({"jsonrpc":"2.0","method":"sgc@publish"})", errc::missing_channel,
              sgc::invalid_params, "", "sgc@publish");
  // queue is read for publish only.
  const auto r = sgc::decode(
      R"({"jsonrpc":"2.0","method":"sgc@subscribe","params":{"channel":"c","queue":"x"}})");
  as<sgc::subscribe>(r);
}

BOOST_AUTO_TEST_CASE(size_limit_before_parsing) {
  // A 10 MB params object is refused by size, unparsed (it is not even valid JSON here).
  std::string big = R"({"jsonrpc":"2.0","method":"sgc@publish","params":{"message":")";
  big.append(10 * 1000 * 1000, 'x');
  check_error(big, errc::message_too_large, sgc::invalid_request);
  big += R"(","channel":"c"},"id":1})";
  check_error(big, errc::message_too_large, sgc::invalid_request);
  // A larger limit takes it.
  const auto r = sgc::decode(big, sgc::decode_options{big.size(), 64});
  BOOST_TEST(as<sgc::publish>(r).message.json.size() == 10 * 1000 * 1000 + 2);

  // At the limit and one past it.
  const std::string_view text = R"({"jsonrpc":"2.0","method":"m"})";
  BOOST_TEST(sgc::decode(text, sgc::decode_options{text.size(), 64}).ok());
  check_error(text, errc::message_too_large, sgc::invalid_request, "", "",
              sgc::decode_options{text.size() - 1, 64});
  // The default limit, exactly.
  std::string exact = R"({"jsonrpc":"2.0","method":"m","params":")";
  exact.append(sgc::default_max_message_size - exact.size() - 3, 'y');
  exact += "\"}";
  exact.insert(exact.size() - 1, " ");
  BOOST_TEST_REQUIRE(exact.size() == sgc::default_max_message_size);
  BOOST_TEST(sgc::decode(exact).ok());
  exact.insert(exact.size() - 1, " ");
  check_error(exact, errc::message_too_large, sgc::invalid_request);
}

BOOST_AUTO_TEST_CASE(depth_limit) {
  // The envelope is depth 1, params depth 2: 62 more levels inside params are allowed.
  const auto with_params = [](std::size_t depth) {
    return R"({"jsonrpc":"2.0","method":"m","params":)" + nested(depth) + R"(,"id":1})";
  };
  const std::string deepest = with_params(63);  // outlives the views into it
  const auto r = sgc::decode(deepest);
  BOOST_TEST(as<sgc::rpc_request>(r).params.json == nested(63));
  check_error(with_params(64), errc::too_deep, sgc::invalid_request);
  // A deep value anywhere counts, also under a member the codec does not read.
  check_error(R"({"x":)" + nested(64) + "}", errc::too_deep, sgc::invalid_request);
  BOOST_TEST(sgc::decode(R"({"jsonrpc":"2.0","method":"m","x":)" + nested(63) + "}").ok());
  // Objects count like arrays.
  std::string objects;
  for (int i = 0; i < 65; ++i)
    objects += R"({"a":)";
  objects += "1" + std::string(65, '}');
  check_error(objects, errc::too_deep, sgc::invalid_request);
  // A configured limit, at it and one past it.
  const sgc::decode_options three{sgc::default_max_message_size, 3};
  BOOST_TEST(sgc::decode(with_params(2), three).ok());
  check_error(with_params(3), errc::too_deep, sgc::invalid_request, "", "", three);
  // Far too deep, and unbalanced: stopped at the limit without recursion, no crash.
  check_error(std::string(1000 * 1000, '['), errc::too_deep, sgc::invalid_request);
  check_error(nested(500 * 1000), errc::too_deep, sgc::invalid_request);
  check_error(std::string(60, '[') + "{\"a\":" + std::string(10, '['), errc::too_deep,
              sgc::invalid_request);
  // Shallow but malformed: a parse error, not a depth error.
  check_error(std::string(60, '['), errc::invalid_json, sgc::parse_error);
}

BOOST_AUTO_TEST_CASE(error_codes_and_texts) {
  BOOST_TEST(sgc::jsonrpc_error_text(sgc::parse_error) == "Parse error");
  BOOST_TEST(sgc::jsonrpc_error_text(sgc::invalid_request) == "Invalid Request");
  BOOST_TEST(sgc::jsonrpc_error_text(sgc::method_not_found) ==
             "Method not found. The method does not exist / is not available.");
  BOOST_TEST(sgc::jsonrpc_error_text(sgc::invalid_params) == "Invalid params");
  BOOST_TEST(sgc::jsonrpc_error_text(sgc::internal_error) == "Internal error");
  BOOST_TEST(sgc::jsonrpc_error_text(sgc::server_error) == "Server error");
  BOOST_TEST(sgc::jsonrpc_error_text(-32099) == "Server error");
  BOOST_TEST(sgc::jsonrpc_error_text(1) == "");

  for (int e = static_cast<int>(errc::message_too_large); e <= static_cast<int>(errc::bad_queue);
       ++e) {
    const std::error_code ec = sgc::make_error_code(static_cast<errc>(e));
    BOOST_TEST(std::string(ec.category().name()) == "sgc");
    BOOST_TEST(!ec.message().empty());
    BOOST_TEST(ec.message() != "unknown sgc error");
    const int code = sgc::jsonrpc_code_for(static_cast<errc>(e));
    BOOST_TEST(
        (code == sgc::parse_error || code == sgc::invalid_request || code == sgc::invalid_params));
  }
  BOOST_TEST((sgc::make_error_code(errc::message_too_large) == std::errc::message_size));
  BOOST_TEST((sgc::make_error_code(errc::too_deep) == std::errc::message_size));
  BOOST_TEST((sgc::make_error_code(errc::bad_queue) == std::errc::invalid_argument));
  BOOST_TEST((sgc::make_error_code(errc::invalid_json) == std::errc::protocol_error));
  BOOST_TEST(sgc::jsonrpc_code_for(errc::invalid_json) == sgc::parse_error);
  BOOST_TEST(sgc::jsonrpc_code_for(errc::bad_version) == sgc::invalid_request);
  BOOST_TEST(sgc::jsonrpc_code_for(errc::bad_channel) == sgc::invalid_params);
  const std::error_code implicit = errc::bad_id;  // is_error_code_enum
  BOOST_TEST(implicit.value() == static_cast<int>(errc::bad_id));
}

BOOST_AUTO_TEST_CASE(options) {
  BOOST_TEST(sgc::invalid_option(sgc::decode_options{}) == nullptr);
  BOOST_TEST(std::string(sgc::invalid_option(sgc::decode_options{0, 64})) == "max_message_size");
  BOOST_TEST(std::string(sgc::invalid_option(sgc::decode_options{1, 1})) == "max_depth");
  BOOST_TEST(std::string(sgc::invalid_option(sgc::decode_options{1, 1025})) == "max_depth");
  BOOST_TEST(sgc::invalid_option(sgc::decode_options{1, 2}) == nullptr);
}

BOOST_AUTO_TEST_CASE(is_json_value_checks_one_value) {
  BOOST_TEST(sgc::is_json_value("1"));
  BOOST_TEST(sgc::is_json_value(" {\"a\":[]} "));
  BOOST_TEST(sgc::is_json_value(R"("x")"));
  BOOST_TEST(!sgc::is_json_value(""));
  BOOST_TEST(!sgc::is_json_value("1 2"));
  BOOST_TEST(!sgc::is_json_value("{"));
  BOOST_TEST(!sgc::is_json_value(std::string_view("1\0", 2)));
  BOOST_TEST(!sgc::is_json_value("\"\xff\""));
}

BOOST_AUTO_TEST_SUITE_END()
