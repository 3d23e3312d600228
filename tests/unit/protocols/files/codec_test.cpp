// codec_test.cpp: tests of protocols/files/codec.hpp, the sgc Files protocol frame
// (files.esegece.com), spec/sgc-protocols.md section 4.1.
//
// The digest's example header is encoded and decoded byte for byte; every method, streaming
// mode and QoS level survives decode(encode(f)) == f; each errc is produced by an input that
// breaks its rule (and the first broken rule wins); every limit is tested at the limit and one
// past it; sanitize_file_name() is tested on names from the wire and on local paths.
#include "protocols/files/codec.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace files = switchboard::protocols::files;
using files::errc;
using files::method_kind;
using files::qos_level;
using files::streaming_mode;

namespace {

using namespace std::string_literals;

// The digest's example header (4.1), 70 bytes.
constexpr std::string_view example_header =
    "{id}|{fileid}|report.pdf|1048576|0|65536||stmNone|qosLevel2|sgc@file||";

// A message from its header text and payload, with a correct length prefix.
std::string message(std::string_view header, std::string_view payload = {}) {
  char prefix[16];
  std::snprintf(prefix, sizeof prefix, "%.10zu", header.size());
  return std::string(prefix) + std::string(header) + std::string(payload);
}

// The 12 fields of a valid header frame, to be broken one at a time.
std::vector<std::string> good_fields() {
  return {"6a1f0c2e", "f-1",     "report.pdf", "1048576",  "0", "65536",
          "",         "stmNone", "qosLevel2",  "sgc@file", "",  ""};
}

std::string join(const std::vector<std::string>& fields) {
  std::string out;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i != 0) out += '|';
    out += fields[i];
  }
  return out;
}

// `fields` with field `index` set to `value`, as a whole message.
std::string with_field(std::size_t index, std::string_view value, std::string_view payload = {}) {
  std::vector<std::string> f = good_fields();
  f[index] = std::string(value);
  return message(join(f), payload);
}

files::frame sample_frame() {
  files::frame f;
  f.id = "{id}";
  f.file_id = "{fileid}";
  f.file_name = "report.pdf";
  f.file_size = 1048576;
  f.file_position = 0;
  f.buffer_size = 65536;
  f.streaming = streaming_mode::stm_none;
  f.qos = qos_level::level2;
  f.method = method_kind::file;
  return f;
}

void check_error(const std::string& msg, errc expected, const files::limits& l = {}) {
  const files::decode_result r = files::decode(msg, l);
  BOOST_TEST(!r.ok(), "decoded, expected " << files::make_error_code(expected).message());
  BOOST_TEST((r.error_code == expected), "got \"" << r.error_code.message() << "\" expected \""
                                                  << files::make_error_code(expected).message()
                                                  << "\" for " << msg);
}

files::decode_result check_ok(const std::string& msg, const files::limits& l = {}) {
  const files::decode_result r = files::decode(msg, l);
  BOOST_TEST(r.ok(), "decoding " << msg << ": " << r.error_code.message());
  return r;
}

bool within(std::string_view inner, std::string_view outer) {
  return inner.data() >= outer.data() && inner.data() + inner.size() <= outer.data() + outer.size();
}

// decode(encode(f, payload)) gives f and payload again.
void check_round_trip(const files::frame& f, std::string_view payload) {
  std::error_code ec;
  const std::string bytes = files::encode(f, payload, ec);
  BOOST_TEST_REQUIRE(!ec, "encode: " << ec.message());
  const files::decode_result r = files::decode(bytes);
  BOOST_TEST_REQUIRE(r.ok(), "decode: " << r.error_code.message());
  BOOST_TEST((r.msg == f));
  BOOST_TEST(r.payload == payload);
  std::string appended = "xyz";
  BOOST_TEST(!files::encode(f, payload, appended));
  BOOST_TEST(appended == "xyz" + bytes);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(files_codec)

// ---- The digest's example and the names ------------------------------------------------------

BOOST_AUTO_TEST_CASE(subprotocol_token_1_1) {
  BOOST_TEST(files::subprotocol == "files.esegece.com");
}

BOOST_AUTO_TEST_CASE(example_header_encodes_byte_for_byte_4_1) {
  std::error_code ec;
  const std::string bytes = files::encode(sample_frame(), {}, ec);
  BOOST_TEST(!ec);
  BOOST_TEST(bytes == "0000000070" + std::string(example_header));
  BOOST_TEST(bytes.size() == 80u);
}

BOOST_AUTO_TEST_CASE(example_header_decodes_4_1) {
  const std::string msg = "0000000070" + std::string(example_header);
  const files::decode_result r = check_ok(msg);
  BOOST_TEST((r.msg == sample_frame()));
  BOOST_TEST(r.msg.id == "{id}");
  BOOST_TEST(r.msg.file_id == "{fileid}");
  BOOST_TEST(r.msg.file_name == "report.pdf");
  BOOST_TEST(r.msg.file_size == 1048576);
  BOOST_TEST(r.msg.file_position == 0);
  BOOST_TEST(r.msg.buffer_size == 65536);
  BOOST_TEST(r.msg.data.empty());
  BOOST_TEST((r.msg.streaming == streaming_mode::stm_none));
  BOOST_TEST((r.msg.qos == qos_level::level2));
  BOOST_TEST((r.msg.method == method_kind::file));
  BOOST_TEST(r.msg.text.empty());
  BOOST_TEST(r.msg.channel.empty());
  BOOST_TEST(r.payload.empty());
  // Views into the message.
  const std::string_view whole(msg);
  for (const std::string_view v : {r.msg.id, r.msg.file_id, r.msg.file_name})
    BOOST_TEST(within(v, whole));
  BOOST_TEST(r.msg.id.data() == msg.data() + 10);
}

BOOST_AUTO_TEST_CASE(enum_names_4_1) {
  BOOST_TEST(files::to_string(streaming_mode::stm_none) == "stmNone");
  BOOST_TEST(files::to_string(streaming_mode::stm_first) == "stmFirst");
  BOOST_TEST(files::to_string(streaming_mode::stm_continue) == "stmContinue");
  BOOST_TEST(files::to_string(streaming_mode::stm_last) == "stmLast");
  BOOST_TEST(files::to_string(streaming_mode::stm_continue_and_last) == "stmContinueAndLast");
  BOOST_TEST(files::to_string(qos_level::level0) == "qosLevel0");
  BOOST_TEST(files::to_string(qos_level::level1) == "qosLevel1");
  BOOST_TEST(files::to_string(qos_level::level2) == "qosLevel2");
  BOOST_TEST(files::to_string(method_kind::file) == "sgc@file");
  BOOST_TEST(files::to_string(method_kind::acknowledgment) == "sgc@acknowledgment");
  BOOST_TEST(files::to_string(method_kind::filerec) == "sgc@filerec");
  BOOST_TEST(files::to_string(method_kind::file_received) == "sgc@file_received");
  BOOST_TEST(files::to_string(method_kind::file_sent_error) == "sgc@file_sent_error");
  BOOST_TEST(files::to_string(method_kind::file_received_error) == "sgc@file_received_error");
  BOOST_TEST(files::to_string(static_cast<streaming_mode>(5)).empty());
  BOOST_TEST(files::to_string(static_cast<qos_level>(3)).empty());
  BOOST_TEST(files::to_string(static_cast<method_kind>(6)).empty());
  BOOST_TEST(files::carries_payload(method_kind::file));
  BOOST_TEST(!files::carries_payload(method_kind::acknowledgment));
}

// ---- Round trips -----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(round_trip_every_method_streaming_and_qos) {
  const std::string payload("chunk|with\0bytes|0000000010", 27);
  int n = 0;
  for (int m = 0; m < 6; ++m) {
    for (int s = 0; s < 5; ++s) {
      for (int q = 0; q < 3; ++q) {
        files::frame f = sample_frame();
        f.method = static_cast<method_kind>(m);
        f.streaming = static_cast<streaming_mode>(s);
        f.qos = static_cast<qos_level>(q);
        f.file_position = 65536 * s;
        f.data = "user data";
        f.text = m >= 4 ? "File Rejected." : "";
        f.channel = "room 1";
        check_round_trip(f, files::carries_payload(f.method) ? payload : std::string_view{});
        ++n;
      }
    }
  }
  BOOST_TEST(n == 90);
}

BOOST_AUTO_TEST_CASE(round_trip_extreme_values) {
  files::frame f = sample_frame();
  f.file_size = std::numeric_limits<std::int64_t>::max();
  f.file_position = f.file_size;
  f.buffer_size = std::numeric_limits<std::int32_t>::max();
  f.id = "";
  f.file_id = "";
  f.file_name = std::string_view("\xff\xfe name with spaces, UTF-8 or not");
  std::error_code ec;
  const std::string bytes = files::encode(f, {}, ec);
  BOOST_TEST_REQUIRE(!ec);
  files::limits l;
  l.max_file_size = std::numeric_limits<std::int64_t>::max();
  l.max_chunk_size = std::numeric_limits<std::int32_t>::max();
  const files::decode_result r = check_ok(bytes, l);
  BOOST_TEST((r.msg == f));
}

BOOST_AUTO_TEST_CASE(payload_is_every_byte_after_the_header) {
  const std::string payload("\0|\xff 0000000001|", 16);
  const std::string msg = message(join(good_fields()), payload);
  const files::decode_result r = check_ok(msg);
  BOOST_TEST(r.payload == payload);
  BOOST_TEST(r.payload.data() == msg.data() + msg.size() - payload.size());
}

BOOST_AUTO_TEST_CASE(leading_zeros_decode_to_the_canonical_frame) {
  std::vector<std::string> f = good_fields();
  f[3] = "0001048576";
  f[4] = "00";
  f[5] = "065536";
  const std::string msg = message(join(f));  // the views point into it
  const files::decode_result r = check_ok(msg);
  BOOST_TEST(r.msg.file_size == 1048576);
  BOOST_TEST(r.msg.file_position == 0);
  BOOST_TEST(r.msg.buffer_size == 65536);
  std::error_code ec;
  BOOST_TEST(files::encode(r.msg, {}, ec) == message(join(good_fields())));
}

BOOST_AUTO_TEST_CASE(pointer_and_string_view_decode_agree) {
  const std::string msg = message(join(good_fields()), "abc");
  const files::decode_result a = files::decode(msg);
  const files::decode_result b =
      files::decode(reinterpret_cast<const std::uint8_t*>(msg.data()), msg.size());
  BOOST_TEST(a.ok());
  BOOST_TEST(b.ok());
  BOOST_TEST((a.msg == b.msg));
  BOOST_TEST(a.payload == b.payload);
}

// ---- The frame: prefix, header length, field count ------------------------------------------

BOOST_AUTO_TEST_CASE(length_prefix_must_be_ten_digits_4_1) {
  check_error("", errc::bad_length_prefix);
  check_error("000000000", errc::bad_length_prefix);  // 9 bytes
  BOOST_TEST((files::decode(nullptr, 0).error_code == errc::bad_length_prefix));
  const std::string good = message(join(good_fields()));
  for (std::size_t i = 0; i < 10; ++i) {
    for (const char c : {' ', '-', '+', 'a', '/', ':', '\0'}) {
      std::string bad = good;
      bad[i] = c;
      check_error(bad, errc::bad_length_prefix);
    }
  }
  // Nine digits then the header: the tenth "digit" is the header's first byte.
  check_error("000000070" + std::string(example_header), errc::bad_length_prefix);
}

BOOST_AUTO_TEST_CASE(header_length_must_not_pass_the_message_4_1) {
  const std::string header = join(good_fields());
  std::string msg = message(header);
  // One byte longer than the message.
  char prefix[16];
  std::snprintf(prefix, sizeof prefix, "%.10zu", header.size() + 1);
  check_error(std::string(prefix) + header, errc::bad_header_length);
  check_error("9999999999" + header, errc::bad_header_length);
  check_error("0000000001", errc::bad_header_length);
  // Shorter than the header: the rest is payload, so the field count breaks.
  std::snprintf(prefix, sizeof prefix, "%.10zu", header.size() - 1);
  check_error(std::string(prefix) + header, errc::bad_field_count);
  check_ok(msg);
}

BOOST_AUTO_TEST_CASE(header_must_have_exactly_twelve_fields_4_1) {
  check_error("0000000000", errc::bad_field_count);  // empty header: one field
  std::vector<std::string> f = good_fields();
  f.pop_back();
  check_error(message(join(f)), errc::bad_field_count);  // 11
  f = good_fields();
  f.push_back("");
  check_error(message(join(f)), errc::bad_field_count);  // 13
  check_error(message(join(good_fields()) + "|extra"), errc::bad_field_count);
  check_error(message("|||||||||||||"), errc::bad_field_count);  // 14 empty fields
  // A '|' in a field adds a field (strict delimiter, no quoting).
  check_error(with_field(6, "a|b"), errc::bad_field_count);
  check_error(with_field(2, "a|b.pdf"), errc::bad_field_count);
}

// ---- The fields ------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(file_name_must_be_a_plain_name) {
  for (const std::string& bad :
       {""s, "."s, ".."s, "a/b"s, "/etc/passwd"s, "../x"s, "a\\b"s, "..\\..\\x"s, "a\0b"s, "\0"s,
        "tab\tname"s, "nl\n"s, "\x1f"s, "del\x7f"s}) {
    check_error(with_field(2, bad), errc::bad_file_name);
  }
  // Plain names, hidden and odd ones included (sanitize_file_name() is stricter).
  for (const std::string& good : {"..."s, ".hidden"s, "a..b"s, "x"s, "C:name"s,
                                  "r\xc3\xa9sum\xc3\xa9.pdf"s, "\xff\xfe"s, "with space.txt"s}) {
    const std::string msg = with_field(2, good);
    const files::decode_result r = check_ok(msg);
    BOOST_TEST(r.msg.file_name == good);
  }
}

BOOST_AUTO_TEST_CASE(file_name_at_255_bytes_and_one_past) {
  check_ok(with_field(2, std::string(255, 'n')));
  check_error(with_field(2, std::string(256, 'n')), errc::file_name_too_long);
  BOOST_TEST(files::max_file_name_size == 255u);
}

BOOST_AUTO_TEST_CASE(numbers_must_be_non_negative_decimals) {
  struct field_case {
    std::size_t index;
    errc error;
  };
  for (const field_case fc :
       {field_case{3, errc::bad_file_size}, field_case{4, errc::bad_file_position},
        field_case{5, errc::bad_buffer_size}}) {
    for (const std::string& bad : {""s, "-1"s, "-0"s, "+1"s, " 1"s, "1 "s, "1a"s, "0x10"s, "1.0"s,
                                   "1e3"s, "\xd9\xa1"s /* Arabic-Indic one */}) {
      check_error(with_field(fc.index, bad), fc.error);
    }
  }
}

BOOST_AUTO_TEST_CASE(numbers_at_their_type_limit_and_one_past) {
  files::limits l;
  l.max_file_size = std::numeric_limits<std::int64_t>::max();
  l.max_chunk_size = std::numeric_limits<std::int32_t>::max();
  std::vector<std::string> f = good_fields();
  f[3] = "9223372036854775807";
  f[4] = "9223372036854775807";
  f[5] = "2147483647";
  const files::decode_result r = check_ok(message(join(f)), l);
  BOOST_TEST(r.msg.file_size == std::numeric_limits<std::int64_t>::max());
  BOOST_TEST(r.msg.file_position == std::numeric_limits<std::int64_t>::max());
  BOOST_TEST(r.msg.buffer_size == std::numeric_limits<std::int32_t>::max());

  f = good_fields();
  f[3] = "9223372036854775808";
  check_error(message(join(f)), errc::bad_file_size, l);
  f[3] = "18446744073709551616";  // 2^64: would wrap an unchecked uint64
  check_error(message(join(f)), errc::bad_file_size, l);
  f[3] = std::string(400, '9');
  check_error(message(join(f)), errc::bad_file_size, l);
  f = good_fields();
  f[4] = "9223372036854775808";
  check_error(message(join(f)), errc::bad_file_position, l);
  f = good_fields();
  f[5] = "2147483648";
  check_error(message(join(f)), errc::bad_buffer_size, l);
  f[5] = "4294967296";
  check_error(message(join(f)), errc::bad_buffer_size, l);
}

BOOST_AUTO_TEST_CASE(file_position_at_file_size_and_one_past_4_1) {
  std::vector<std::string> f = good_fields();
  f[4] = "1048576";
  check_ok(message(join(f), "last bytes"));
  f[4] = "1048577";
  check_error(message(join(f)), errc::position_past_size);
  f[3] = "0";
  f[4] = "0";
  check_ok(message(join(f)));  // an empty file
  f[4] = "1";
  check_error(message(join(f)), errc::position_past_size);
}

BOOST_AUTO_TEST_CASE(unknown_enum_text_is_an_error) {
  for (const std::string& bad : {""s, "stmnone"s, "STMNONE"s, "stmNone "s, " stmNone"s,
                                 "stmContinueAndLas"s, "0"s, "qosLevel2"s}) {
    check_error(with_field(7, bad), errc::bad_streaming);
  }
  for (const std::string& bad : {""s, "qoslevel1"s, "qosLevel3"s, "qosLevel"s, "1"s, "stmLast"s}) {
    check_error(with_field(8, bad), errc::bad_qos);
  }
  for (const std::string& bad :
       {""s, "sgc@File"s, "sgc@files"s, "file"s, "sgc@subscribe"s, "sgc@file "s, "sgc@fileRec"s}) {
    check_error(with_field(9, bad), errc::bad_method);
  }
}

BOOST_AUTO_TEST_CASE(every_enum_text_decodes) {
  for (int s = 0; s < 5; ++s) {
    const auto mode = static_cast<streaming_mode>(s);
    BOOST_TEST((check_ok(with_field(7, files::to_string(mode))).msg.streaming == mode));
  }
  for (int q = 0; q < 3; ++q) {
    const auto level = static_cast<qos_level>(q);
    BOOST_TEST((check_ok(with_field(8, files::to_string(level))).msg.qos == level));
  }
  for (int m = 0; m < 6; ++m) {
    const auto kind = static_cast<method_kind>(m);
    BOOST_TEST((check_ok(with_field(9, files::to_string(kind))).msg.method == kind));
  }
}

BOOST_AUTO_TEST_CASE(payload_only_on_sgc_file_4_1) {
  check_ok(with_field(9, "sgc@file", "x"));
  for (int m = 1; m < 6; ++m) {
    const std::string_view name = files::to_string(static_cast<method_kind>(m));
    check_ok(with_field(9, name));
    check_error(with_field(9, name, "x"), errc::unexpected_payload);
    check_error(with_field(9, name, std::string(1, '\0')), errc::unexpected_payload);
  }
}

BOOST_AUTO_TEST_CASE(first_broken_rule_wins) {
  std::vector<std::string> f = good_fields();
  f[2] = "../x";
  f[3] = "-1";
  f[7] = "bad";
  check_error(message(join(f)), errc::bad_file_name);
  f[2] = "x";
  check_error(message(join(f)), errc::bad_file_size);
  f[3] = "1";
  f[4] = "2";
  check_error(message(join(f)), errc::bad_streaming);
  f[7] = "stmLast";
  f[9] = "sgc@filerec";
  check_error(message(join(f), "p"), errc::position_past_size);
  f[4] = "1";
  check_error(message(join(f), "p"), errc::unexpected_payload);
  // The header length is checked before the header limit, the limit before the fields.
  files::limits l;
  l.max_header_size = 64;
  check_error("0000000065" + std::string(64, '|'), errc::bad_header_length, l);
  check_error("0000000065" + std::string(65, '|'), errc::header_too_large, l);
}

// ---- Limits ----------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(header_size_at_the_limit_and_one_past) {
  std::vector<std::string> f = good_fields();
  const std::string base = join(f);
  files::limits l;
  l.max_header_size = 100;
  f[6] = std::string(100 - base.size(), 'd');
  BOOST_TEST_REQUIRE(join(f).size() == 100u);
  check_ok(message(join(f)), l);
  f[6] += 'd';
  check_error(message(join(f)), errc::header_too_large, l);
  // The default.
  f[6] = std::string(files::default_max_header_size - base.size(), 'd');
  check_ok(message(join(f)));
  f[6] += 'd';
  check_error(message(join(f)), errc::header_too_large);
}

BOOST_AUTO_TEST_CASE(file_size_at_the_limit_and_one_past) {
  files::limits l;
  l.max_file_size = 1000;
  check_ok(with_field(3, "1000"), l);
  check_error(with_field(3, "1001"), errc::file_too_large, l);
  check_ok(with_field(3, std::to_string(files::default_max_file_size)));
  check_error(with_field(3, std::to_string(files::default_max_file_size + 1)),
              errc::file_too_large);
  l.max_file_size = 0;
  std::vector<std::string> f = good_fields();
  f[3] = "0";
  f[4] = "0";
  check_ok(message(join(f)), l);
}

BOOST_AUTO_TEST_CASE(buffer_size_at_the_chunk_limit_and_one_past) {
  files::limits l;
  l.max_chunk_size = 4096;
  check_ok(with_field(5, "4096"), l);
  check_error(with_field(5, "4097"), errc::chunk_too_large, l);
  check_ok(with_field(5, "0"), l);  // the whole file in one packet
  check_ok(with_field(5, std::to_string(files::default_max_chunk_size)));
  check_error(with_field(5, std::to_string(files::default_max_chunk_size + 1)),
              errc::chunk_too_large);
}

BOOST_AUTO_TEST_CASE(payload_at_the_chunk_limit_and_one_past) {
  files::limits l;
  l.max_chunk_size = 4096;
  check_ok(with_field(5, "0", std::string(4096, 'p')), l);
  check_error(with_field(5, "0", std::string(4097, 'p')), errc::payload_too_large, l);
  check_ok(message(join(good_fields()), std::string(files::default_max_chunk_size, 'p')));
  check_error(message(join(good_fields()), std::string(files::default_max_chunk_size + 1, 'p')),
              errc::payload_too_large);
}

BOOST_AUTO_TEST_CASE(invalid_limits_are_named) {
  BOOST_TEST(files::invalid_limit(files::limits{}) == nullptr);
  files::limits l;
  l.max_header_size = 63;
  BOOST_TEST(std::string_view(files::invalid_limit(l)) == "max_header_size");
  l.max_header_size = 64;
  BOOST_TEST(files::invalid_limit(l) == nullptr);
  l.max_header_size = 9'999'999'999ULL;
  BOOST_TEST(files::invalid_limit(l) == nullptr);
  l.max_header_size = 10'000'000'000ULL;
  BOOST_TEST(std::string_view(files::invalid_limit(l)) == "max_header_size");
  l = {};
  l.max_file_size = -1;
  BOOST_TEST(std::string_view(files::invalid_limit(l)) == "max_file_size");
  l.max_file_size = 0;
  BOOST_TEST(files::invalid_limit(l) == nullptr);
  l.max_chunk_size = 0;
  BOOST_TEST(std::string_view(files::invalid_limit(l)) == "max_chunk_size");
  l.max_chunk_size = 1;
  BOOST_TEST(files::invalid_limit(l) == nullptr);
}

// ---- Encoding errors -------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(encode_refuses_the_delimiter_in_every_text_field_4_1_D) {
  std::string_view files::frame::*const members[] = {
      &files::frame::id,   &files::frame::file_id, &files::frame::file_name,
      &files::frame::data, &files::frame::text,    &files::frame::channel};
  for (const auto member : members) {
    files::frame f = sample_frame();
    f.*member = "a|b";
    std::error_code ec;
    BOOST_TEST(files::encode(f, {}, ec).empty());
    BOOST_TEST((ec == errc::delimiter_in_field));
    std::string out = "kept";
    BOOST_TEST((files::encode(f, {}, out) == errc::delimiter_in_field));
    BOOST_TEST(out == "kept");
  }
  // In the payload it is only data.
  check_round_trip(sample_frame(), "a|b|c");
}

BOOST_AUTO_TEST_CASE(encode_refuses_what_decode_refuses) {
  struct encode_case {
    void (*modify)(files::frame&);
    std::string_view payload;
    errc error;
  };
  const encode_case cases[] = {
      {[](files::frame& f) { f.file_name = ""; }, {}, errc::bad_file_name},
      {[](files::frame& f) { f.file_name = ".."; }, {}, errc::bad_file_name},
      {[](files::frame& f) { f.file_name = "a/b"; }, {}, errc::bad_file_name},
      {[](files::frame& f) { f.file_name = "a\\b"; }, {}, errc::bad_file_name},
      {[](files::frame& f) { f.file_name = std::string_view("a\0b", 3); }, {}, errc::bad_file_name},
      {[](files::frame& f) {
         static const std::string long_name(256, 'n');
         f.file_name = long_name;
       },
       {},
       errc::file_name_too_long},
      {[](files::frame& f) { f.file_size = -1; }, {}, errc::bad_file_size},
      {[](files::frame& f) { f.file_position = -1; }, {}, errc::bad_file_position},
      {[](files::frame& f) { f.buffer_size = -1; }, {}, errc::bad_buffer_size},
      {[](files::frame& f) { f.streaming = static_cast<streaming_mode>(5); },
       {},
       errc::bad_streaming},
      {[](files::frame& f) { f.qos = static_cast<qos_level>(3); }, {}, errc::bad_qos},
      {[](files::frame& f) { f.method = static_cast<method_kind>(6); }, {}, errc::bad_method},
      {[](files::frame& f) { f.file_position = f.file_size + 1; }, {}, errc::position_past_size},
      {[](files::frame& f) { f.method = method_kind::acknowledgment; }, "x",
       errc::unexpected_payload},
  };
  for (const encode_case& c : cases) {
    files::frame f = sample_frame();
    c.modify(f);
    std::error_code ec;
    BOOST_TEST(files::encode(f, c.payload, ec).empty());
    BOOST_TEST((ec == c.error), ec.message()
                                    << " instead of " << files::make_error_code(c.error).message());
    std::string out;
    BOOST_TEST((files::encode(f, c.payload, out) == c.error));
    BOOST_TEST(out.empty());
  }
  // At the edges it encodes.
  files::frame f = sample_frame();
  f.file_position = f.file_size;
  f.file_name = "...";
  check_round_trip(f, "p");
  f.method = method_kind::file_received;
  check_round_trip(f, {});
}

// ---- Error category --------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(error_category_names_every_rule) {
  BOOST_TEST(std::string_view(files::files_category().name()) == "files");
  std::vector<std::string> messages;
  for (int e = static_cast<int>(errc::bad_length_prefix);
       e <= static_cast<int>(errc::delimiter_in_field); ++e) {
    const std::error_code ec = static_cast<errc>(e);
    BOOST_TEST((ec.category() == files::files_category()));
    BOOST_TEST(!ec.message().empty());
    BOOST_TEST(ec.message() != "unknown files error");
    for (const std::string& m : messages)
      BOOST_TEST(m != ec.message());
    messages.push_back(ec.message());
  }
  BOOST_TEST(messages.size() == 20u);
  BOOST_TEST((std::error_code(errc::payload_too_large) == std::errc::message_size));
  BOOST_TEST((std::error_code(errc::header_too_large) == std::errc::message_size));
  BOOST_TEST((std::error_code(errc::file_too_large) == std::errc::message_size));
  BOOST_TEST((std::error_code(errc::chunk_too_large) == std::errc::message_size));
  BOOST_TEST((std::error_code(errc::hidden_file_name) == std::errc::invalid_argument));
  BOOST_TEST((std::error_code(errc::delimiter_in_field) == std::errc::invalid_argument));
  BOOST_TEST((std::error_code(errc::bad_field_count) == std::errc::protocol_error));
  BOOST_TEST((std::error_code(errc::unexpected_payload) == std::errc::protocol_error));
}

// ---- sanitize_file_name ----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(sanitize_keeps_a_plain_name) {
  for (const std::string_view name :
       {"report.pdf", "a..b", "x", "with space.txt", "r\xc3\xa9sum\xc3\xa9.pdf", "\xe2\x82\xac.txt",
        "\xf0\x9f\x93\x84", "C:name"}) {
    std::error_code ec = errc::bad_method;  // cleared on success
    const std::string_view out = files::sanitize_file_name(name, ec);
    BOOST_TEST(!ec, name << ": " << ec.message());
    BOOST_TEST(out == name);
    BOOST_TEST(out.data() == name.data());
  }
}

BOOST_AUTO_TEST_CASE(sanitize_strips_the_path_4_1) {
  struct path_case {
    std::string_view in, out;
  };
  for (const path_case c :
       {path_case{"/home/u/report.pdf", "report.pdf"},
        path_case{"c:\\Users\\u\\yourfile.txt", "yourfile.txt"}, path_case{"a/b\\c.bin", "c.bin"},
        path_case{"../../etc/passwd", "passwd"}, path_case{"..\\x", "x"}}) {
    std::error_code ec;
    const std::string_view out = files::sanitize_file_name(c.in, ec);
    BOOST_TEST(!ec, c.in << ": " << ec.message());
    BOOST_TEST(out == c.out);
    BOOST_TEST(within(out, c.in));
  }
}

BOOST_AUTO_TEST_CASE(sanitize_refuses_what_is_no_file_name) {
  struct name_case {
    std::string in;
    errc error;
  };
  const name_case cases[] = {
      {"", errc::bad_file_name},
      {".", errc::bad_file_name},
      {"..", errc::bad_file_name},
      {"dir/", errc::bad_file_name},
      {"dir\\", errc::bad_file_name},
      {"a/..", errc::bad_file_name},
      {"a\\.", errc::bad_file_name},
      {"a\0b"s, errc::bad_file_name},
      {"x\x01", errc::bad_file_name},
      {"x\x7f", errc::bad_file_name},
      {std::string(256, 'n'), errc::file_name_too_long},
      {"/p/" + std::string(256, 'n'), errc::file_name_too_long},
      {".bashrc", errc::hidden_file_name},
      {"...", errc::hidden_file_name},
      {"/srv/.htaccess", errc::hidden_file_name},
      {"\xff", errc::file_name_not_utf8},
      {"\xc0\xaf", errc::file_name_not_utf8},          // overlong '/'
      {"\xe0\x80\xaf", errc::file_name_not_utf8},      // overlong '/'
      {"\xed\xa0\x80", errc::file_name_not_utf8},      // a surrogate
      {"\xf4\x90\x80\x80", errc::file_name_not_utf8},  // above U+10FFFF
      {"a\xc3", errc::file_name_not_utf8},             // truncated
      {"\xe2\x82", errc::file_name_not_utf8},          // truncated
      {"\x80x", errc::file_name_not_utf8},             // lone continuation
  };
  for (const name_case& c : cases) {
    std::error_code ec;
    const std::string_view out = files::sanitize_file_name(c.in, ec);
    BOOST_TEST(out.empty());
    BOOST_TEST((ec == c.error), ec.message()
                                    << " instead of " << files::make_error_code(c.error).message());
  }
  std::error_code ec;
  BOOST_TEST(files::sanitize_file_name(std::string(255, 'n'), ec).size() == 255u);
  BOOST_TEST(!ec);
}

BOOST_AUTO_TEST_SUITE_END()
