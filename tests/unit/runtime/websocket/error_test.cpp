// error_test.cpp: tests of runtime/websocket/error.hpp: every errc has a message in the
// "websocket" category and maps to the close code RFC 6455 section 7.4.1 prescribes.
#include "runtime/websocket/error.hpp"

#include "runtime/websocket/rfc6455.hpp"

#include <boost/test/unit_test.hpp>

#include <set>
#include <string>

namespace ws = switchboard::runtime::websocket;
using ws::errc;

BOOST_AUTO_TEST_SUITE(websocket_error)

BOOST_AUTO_TEST_CASE(close_code_per_errc_rfc6455_7_4_1) {
  struct expectation {
    errc e;
    std::uint16_t code;
  };
  const expectation table[] = {
      {errc::bad_opcode, 1002},
      {errc::reserved_bits_set, 1002},
      {errc::unmasked_client_frame, 1002},
      {errc::masked_server_frame, 1002},
      {errc::fragmented_control, 1002},
      {errc::control_too_long, 1002},
      {errc::non_minimal_length, 1002},
      {errc::length_msb_set, 1002},
      {errc::unexpected_continuation, 1002},
      {errc::expected_continuation, 1002},
      {errc::message_too_big, 1009},  // "a message that is too big for it to process"
      {errc::invalid_utf8, 1007},     // "data within a message that was not consistent"
      {errc::bad_close_payload, 1002},
      {errc::bad_close_code, 1002},
  };
  BOOST_TEST(std::size(table) == static_cast<std::size_t>(errc::bad_close_code));  // all of them
  for (const expectation& x : table) {
    BOOST_TEST_CONTEXT("errc " << static_cast<int>(x.e)) {
      BOOST_TEST(ws::close_code_for(x.e) == x.code);
      BOOST_TEST(ws::is_valid_wire_close_code(ws::close_code_for(x.e)));
    }
  }
}

BOOST_AUTO_TEST_CASE(every_errc_has_its_own_message) {
  std::set<std::string> messages;
  for (int e = static_cast<int>(errc::bad_opcode); e <= static_cast<int>(errc::bad_close_code);
       ++e) {
    const std::error_code ec = static_cast<errc>(e);
    BOOST_TEST(ec.category().name() == std::string("websocket"));
    BOOST_TEST(&ec.category() == &ws::websocket_category());
    BOOST_TEST(ec.message() != "unknown websocket error");
    messages.insert(ec.message());
  }
  BOOST_TEST(messages.size() == static_cast<std::size_t>(errc::bad_close_code));
  BOOST_TEST(std::error_code(0, ws::websocket_category()).message() == "unknown websocket error");
}

BOOST_AUTO_TEST_SUITE_END()
