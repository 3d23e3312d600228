// codec_test.cpp: tests of protocols/presence/codec.hpp with the shapes of
// spec/sgc-protocols.md section 5.2 (decoded as written, encoded byte for byte), the sgc@b64
// value encoding of 1.5, the raw JSON rule of 1.4 and every decoding error.
#include "protocols/presence/codec.hpp"

#include <boost/test/unit_test.hpp>

#include <string>

namespace presence = switchboard::protocols::presence;
using presence::method;

namespace {

presence::message decoded(const std::string& text) {
  auto r = presence::decode(text);
  BOOST_REQUIRE_MESSAGE(r.ok(), text + ": " + r.error_code.message());
  return r.msg;
}

presence::errc failure(const std::string& text, const presence::decode_options& o = {}) {
  auto r = presence::decode(text, o);
  BOOST_REQUIRE_MESSAGE(!r.ok(), text);
  BOOST_CHECK(r.msg == presence::message{});
  return static_cast<presence::errc>(r.error_code.value());
}

presence::member full(const std::string& id, const std::string& name, const std::string& info) {
  return presence::member{id, name, info};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(presence_codec)

BOOST_AUTO_TEST_CASE(digest_shapes_decode) {
  auto m = decoded(
      R"({"jsonrpc":"2.0","method":"sgc@presence@session","message":{"text":"6A1B-guid"}})");
  BOOST_CHECK(m.method == method::session);
  BOOST_CHECK_EQUAL(*m.text, "6A1B-guid");

  m = decoded(
      R"({"jsonrpc":"2.0","method":"sgc@presence@member@new","member":{"id":"S1","name":"John","info":"x"}})");
  BOOST_CHECK(m.method == method::member_new);
  BOOST_CHECK(*m.member == full("S1", "John", "x"));
  BOOST_CHECK(!m.channel && !m.text && !m.error && !m.members && !m.id);

  m = decoded(
      R"({"jsonrpc":"2.0","method":"sgc@presence@channel@member@new","member":{"id":"S1"},"channel":{"name":"Topic 1"}})");
  BOOST_CHECK(m.method == method::channel_member_new);
  BOOST_CHECK(*m.member == full("S1", "", ""));
  BOOST_CHECK_EQUAL(*m.channel, "Topic 1");

  m = decoded(
      R"({"jsonrpc":"2.0","method":"sgc@presence@publish@msg","member":{"id":"S1"},"channel":{"name":""},"message":{"text":"Hello"}})");
  BOOST_CHECK(m.method == method::publish_msg);
  BOOST_CHECK_EQUAL(*m.channel, "");
  BOOST_CHECK_EQUAL(*m.text, "Hello");

  m = decoded(
      R"({"jsonrpc":"2.0","method":"sgc@presence@channel@invitation","channel":{"name":"MyChannel"},"member":{"id":"A","name":"Ann","info":""},"members":[{"id":"B","name":"","info":""}]})");
  BOOST_CHECK(m.method == method::channel_invitation);
  BOOST_REQUIRE_EQUAL(m.members->size(), 1u);
  BOOST_CHECK_EQUAL((*m.members)[0].id, "B");

  m = decoded(
      R"({"jsonrpc":"2.0","method":"sgc@presence@channel@invitation@response","channel":{"name":"c"},"member":{"id":"B"},"members":[{"id":"A"}],"accept":true,"error":{"code":0,"text":""}})");
  BOOST_CHECK(m.method == method::invitation_response);
  BOOST_CHECK(*m.accept);
  BOOST_CHECK_EQUAL(m.error->code, 0);

  m = decoded(R"({"jsonrpc":"2.0","method":"sgc@presence@acknowledgment","id":"K1"})");
  BOOST_CHECK(m.method == method::acknowledgment);
  BOOST_CHECK_EQUAL(*m.id, "K1");

  // Whitespace, member order and unknown members do not matter.
  m = decoded(
      "{ \"x\":[1,{\"y\":null}], \"channel\" : {\"name\":\"c\",\"z\":1}, \"method\":"
      "\"sgc@presence@get@members\", \"jsonrpc\":\"2.0\", \"member\":{\"id\":\"S\"} }");
  BOOST_CHECK(m.method == method::get_members);
  BOOST_CHECK_EQUAL(*m.channel, "c");
}

BOOST_AUTO_TEST_CASE(server_shapes_encode_byte_for_byte) {
  presence::message m;
  m.method = method::session;
  m.text = "G";
  BOOST_CHECK_EQUAL(presence::encode(m),
                    R"({"jsonrpc":"2.0","method":"sgc@presence@session","message":{"text":"G"}})");

  m = {};
  m.method = method::channel_member_new;
  m.member = full("S1", "John", "i");
  m.channel = "Topic 1";
  BOOST_CHECK_EQUAL(
      presence::encode(m),
      R"({"jsonrpc":"2.0","method":"sgc@presence@channel@member@new","member":{"id":"S1","name":"John","info":"i"},"channel":{"name":"Topic 1"}})");

  m = {};
  m.method = method::publish_msg;
  m.text = "Hello";
  m.channel = "Topic 1";
  m.member = full("S1", "John", "");
  BOOST_CHECK_EQUAL(
      presence::encode(m),
      R"({"jsonrpc":"2.0","method":"sgc@presence@publish@msg","message":{"text":"Hello"},"channel":{"name":"Topic 1"},"member":{"id":"S1","name":"John","info":""}})");

  m = {};
  m.method = method::send_members;
  m.channel = "c";
  m.member = full("S1", "", "");
  m.members = std::vector<presence::member>{full("S1", "", ""), full("S2", "Bo", "")};
  BOOST_CHECK_EQUAL(
      presence::encode(m),
      R"({"jsonrpc":"2.0","method":"sgc@presence@send@members","channel":{"name":"c"},"member":{"id":"S1","name":"","info":""},"members":[{"id":"S1","name":"","info":""},{"id":"S2","name":"Bo","info":""}]})");

  m = {};
  m.method = method::error_member_channel;
  m.error = presence::error_info{11, std::string(presence::error_text(11))};
  m.channel = "c";
  m.member = full("S1", "", "");
  BOOST_CHECK_EQUAL(
      presence::encode(m),
      R"({"jsonrpc":"2.0","method":"sgc@presence@error@member@channel","error":{"code":11,"text":"Subscription already exists."},"channel":{"name":"c"},"member":{"id":"S1","name":"","info":""}})");

  m = {};
  m.method = method::error_publish_msg;
  m.error = presence::error_info{20, std::string(presence::error_text(20))};
  m.text = "hi";
  m.channel = "c";
  m.member = full("S1", "", "");
  BOOST_CHECK_EQUAL(
      presence::encode(m),
      R"({"jsonrpc":"2.0","method":"sgc@presence@error@publish@msg","error":{"code":20,"text":"Publish Message request has been denied."},"message":{"text":"hi"},"channel":{"name":"c"},"member":{"id":"S1","name":"","info":""}})");

  BOOST_CHECK_EQUAL(presence::encode_acknowledgment("K1"),
                    R"({"jsonrpc":"2.0","method":"sgc@presence@acknowledgment","id":"K1"})");
  BOOST_CHECK_EQUAL(presence::with_id(R"({"jsonrpc":"2.0","method":"x"})", "7"),
                    R"({"jsonrpc":"2.0","method":"x","id":"7"})");
}

BOOST_AUTO_TEST_CASE(error_texts) {
  BOOST_CHECK_EQUAL(presence::error_text(1), "Member already exists.");
  BOOST_CHECK_EQUAL(presence::error_text(2), "Create New Member request has been denied.");
  BOOST_CHECK_EQUAL(presence::error_text(3), "Member not exists.");
  BOOST_CHECK_EQUAL(presence::error_text(5), "Channel not exists");
  BOOST_CHECK_EQUAL(presence::error_text(6), "Create New Channel request has been denied.");
  BOOST_CHECK_EQUAL(presence::error_text(10), "Create Subscription request has been denied.");
  BOOST_CHECK_EQUAL(presence::error_text(11), "Subscription already exists.");
  BOOST_CHECK_EQUAL(presence::error_text(12), "Subscription not exists.");
  BOOST_CHECK_EQUAL(presence::error_text(20), "Publish Message request has been denied.");
  BOOST_CHECK_EQUAL(presence::error_text(30), "Send Members request has been denied.");
}

BOOST_AUTO_TEST_CASE(base64_values) {
  BOOST_CHECK_EQUAL(presence::encode_base64_value("Hello"), "sgc@b64:SGVsbG8=");
  std::string out;
  BOOST_CHECK(presence::decode_base64_value("sgc@b64:SGVsbG8=", out));
  BOOST_CHECK_EQUAL(out, "Hello");
  BOOST_CHECK(presence::decode_base64_value("sgc@b64:SGVs\r\nbG8", out));  // wrapped, unpadded
  BOOST_CHECK_EQUAL(out, "Hello");
  BOOST_CHECK(presence::decode_base64_value("plain", out));
  BOOST_CHECK_EQUAL(out, "plain");
  BOOST_CHECK(!presence::decode_base64_value("sgc@b64:S*", out));
  BOOST_CHECK(!presence::decode_base64_value("sgc@b64:/w==", out));  // 0xFF: not UTF-8

  // Everything but the jsonrpc value is encoded, the method included (1.5).
  presence::message m;
  m.method = method::channel_member_new;
  m.member = full("S1", "Jo", "{\"a\":1}");
  m.channel = "c";
  m.id = "K";
  const std::string text = presence::encode(m, true);
  BOOST_CHECK_EQUAL(
      text,
      R"({"jsonrpc":"2.0","method":"sgc@b64:c2djQHByZXNlbmNlQGNoYW5uZWxAbWVtYmVyQG5ldw==","member":{"id":"sgc@b64:UzE=","name":"sgc@b64:Sm8=","info":"sgc@b64:eyJhIjoxfQ=="},"channel":{"name":"sgc@b64:Yw=="},"id":"sgc@b64:Sw=="})");
  BOOST_CHECK(decoded(text) == m);
}

BOOST_AUTO_TEST_CASE(json_looking_text_travels_raw) {
  // The original embeds text that looks like JSON unquoted (1.4): read its JSON text.
  auto m = decoded(
      R"({"jsonrpc":"2.0","method":"sgc@presence@publish@msg","message":{"text":{"a": [1, 2]}},"member":{"id":7,"info":[true]}})");
  BOOST_CHECK_EQUAL(*m.text, R"({"a": [1, 2]})");
  BOOST_CHECK_EQUAL(m.member->id, "7");
  BOOST_CHECK_EQUAL(m.member->info, "[true]");
  const std::string text = presence::encode(m);
  BOOST_CHECK(text.find(R"("message":{"text":{"a": [1, 2]}})") != std::string::npos);
  BOOST_CHECK(text.find(R"("info":[true])") != std::string::npos);
  BOOST_CHECK(decoded(text) == m);
  // Not JSON, or with surrounding spaces: a string.
  m.text = " {\"a\":1}";
  BOOST_CHECK(presence::encode(m).find(R"("text":" {\"a\":1}")") != std::string::npos);
  m.text = "{oops}";
  BOOST_CHECK(presence::encode(m).find(R"("text":"{oops}")") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(id_window_remembers_the_last_ids) {
  presence::id_window w(2);
  BOOST_CHECK(!w.seen("a"));
  BOOST_CHECK(w.seen("a"));
  BOOST_CHECK(!w.seen("b"));
  BOOST_CHECK(!w.seen("c"));  // "a" drops out
  BOOST_CHECK(!w.seen("a"));
  BOOST_CHECK(w.seen("c"));
}

BOOST_AUTO_TEST_CASE(unknown_methods_decode_by_name) {
  auto m = decoded(R"({"jsonrpc":"2.0","method":"sgc@presence@nope"})");
  BOOST_CHECK(m.method == method::unknown);
  BOOST_CHECK_EQUAL(m.method_name, "sgc@presence@nope");
  BOOST_CHECK_EQUAL(presence::encode(m), R"({"jsonrpc":"2.0","method":"sgc@presence@nope"})");
}

BOOST_AUTO_TEST_CASE(errors) {
  using presence::errc;
  BOOST_CHECK(failure("{") == errc::invalid_json);
  BOOST_CHECK(failure("") == errc::invalid_json);
  BOOST_CHECK(failure(std::string("{\"jsonrpc\":\"2.0\",\"method\":\"a\"}\0x", 33)) ==
              errc::invalid_json);
  BOOST_CHECK(failure("[1]") == errc::not_an_object);
  BOOST_CHECK(failure("\"x\"") == errc::not_an_object);
  BOOST_CHECK(failure(R"({"method":"sgc@presence@session"})") == errc::bad_version);
  BOOST_CHECK(failure(R"({"jsonrpc":"1.0","method":"a"})") == errc::bad_version);
  BOOST_CHECK(failure(R"({"jsonrpc":"2.0"})") == errc::bad_method);
  BOOST_CHECK(failure(R"({"jsonrpc":"2.0","method":3})") == errc::bad_method);
  BOOST_CHECK(failure(R"({"jsonrpc":"2.0","method":"a","method":"b"})") == errc::duplicate_member);
  BOOST_CHECK(failure(R"({"jsonrpc":"2.0","method":"a","member":{"id":"1","id":"2"}})") ==
              errc::duplicate_member);
  BOOST_CHECK(failure(R"({"jsonrpc":"2.0","method":"a","member":"x"})") == errc::bad_section);
  BOOST_CHECK(failure(R"({"jsonrpc":"2.0","method":"a","channel":[]})") == errc::bad_section);
  BOOST_CHECK(failure(R"({"jsonrpc":"2.0","method":"a","members":[1]})") == errc::bad_section);
  BOOST_CHECK(failure(R"({"jsonrpc":"2.0","method":"a","members":{}})") == errc::bad_section);
  BOOST_CHECK(failure(R"({"jsonrpc":"2.0","method":"a","error":{"code":1.5}})") ==
              errc::bad_section);
  BOOST_CHECK(failure(R"({"jsonrpc":"2.0","method":"a","accept":"yes"})") == errc::bad_section);
  BOOST_CHECK(failure(R"({"jsonrpc":"2.0","method":"a","channel":{"name":"\udc00"}})") ==
              errc::bad_section);
  BOOST_CHECK(failure(R"({"jsonrpc":"2.0","method":"sgc@b64:!!"})") == errc::bad_base64);
  // A semantic stop in text that is not JSON further on: not JSON wins.
  BOOST_CHECK(failure(R"({"jsonrpc":"2.0","method":3,)") == errc::invalid_json);

  presence::decode_options small;
  small.max_message_size = 10;
  BOOST_CHECK(failure(R"({"jsonrpc":"2.0","method":"a"})", small) == errc::message_too_large);
  presence::decode_options shallow;
  shallow.max_depth = 3;
  BOOST_CHECK(failure(R"({"jsonrpc":"2.0","method":"a","x":[[[1]]]})", shallow) == errc::too_deep);
  BOOST_CHECK(presence::decode(R"({"jsonrpc":"2.0","method":"a","x":[[1]]})", shallow).ok());
  // Deep nesting within the default limit does not recurse (iterative parser).
  std::string deep =
      R"({"jsonrpc":"2.0","method":"a","x":)" + std::string(60, '[') + std::string(60, ']') + "}";
  BOOST_CHECK(presence::decode(deep).ok());

  BOOST_CHECK_EQUAL(presence::protocol_error_code(errc::invalid_json), presence::parse_error);
  BOOST_CHECK_EQUAL(presence::protocol_error_code(errc::bad_version), presence::invalid_request);
  BOOST_CHECK_EQUAL(presence::protocol_error_code(errc::bad_base64), presence::invalid_params);
}

BOOST_AUTO_TEST_SUITE_END()
