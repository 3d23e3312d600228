// base64_test.cpp: tests of runtime/auth/base64.hpp: the RFC 4648 section 10 test vectors in
// both alphabets, the round trip for every length and byte value, and each way a text can fail
// to be the canonical encoding (section 3.5): padding, alphabet, length, padding bits.
#include "runtime/auth/base64.hpp"

#include <boost/test/unit_test.hpp>

#include <string>
#include <string_view>

namespace auth = switchboard::runtime::auth;

namespace {

bool decodes(std::string_view text, bool url, std::string* out = nullptr) {
  std::string tmp;
  const bool ok = url ? auth::decode_base64url(text, tmp) : auth::decode_base64(text, tmp);
  if (out) *out = tmp;
  return ok;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(auth_base64)

BOOST_AUTO_TEST_CASE(test_vectors_rfc4648_10) {
  const std::pair<std::string_view, std::string_view> vectors[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    BOOST_TEST_CONTEXT("'" << plain << "'") {
      BOOST_TEST(auth::encode_base64(plain) == encoded);
      std::string out;
      BOOST_TEST(decodes(encoded, false, &out));
      BOOST_TEST(out == plain);
      // base64url: the same without '='.
      std::string unpadded(encoded);
      unpadded.erase(unpadded.find_last_not_of('=') + 1);
      BOOST_TEST(auth::encode_base64url(plain) == unpadded);
      BOOST_TEST(decodes(unpadded, true, &out));
      BOOST_TEST(out == plain);
    }
  }
}

BOOST_AUTO_TEST_CASE(alphabets_differ_in_62_and_63_rfc4648_5) {
  const std::string bytes("\xfb\xff\xbf", 3);  // 111110 111111 111110 111111
  BOOST_TEST(auth::encode_base64(bytes) == "+/+/");
  BOOST_TEST(auth::encode_base64url(bytes) == "-_-_");
  std::string out;
  BOOST_TEST(decodes("+/+/", false, &out));
  BOOST_TEST(out == bytes);
  BOOST_TEST(decodes("-_-_", true, &out));
  BOOST_TEST(out == bytes);
  BOOST_TEST(!decodes("-_-_", false));  // the other alphabet is refused
  BOOST_TEST(!decodes("+/+/", true));
}

BOOST_AUTO_TEST_CASE(round_trip_every_length_and_byte) {
  std::string data;
  for (int i = 0; i < 300; ++i) {
    data.push_back(static_cast<char>((i * 37) & 0xFF));
    std::string out;
    BOOST_TEST_REQUIRE(decodes(auth::encode_base64(data), false, &out));
    BOOST_TEST_REQUIRE(out == data);
    BOOST_TEST_REQUIRE(decodes(auth::encode_base64url(data), true, &out));
    BOOST_TEST_REQUIRE(out == data);
  }
}

BOOST_AUTO_TEST_CASE(padded_base64_is_strict_rfc4648_3_5) {
  for (const char* bad : {"Zg", "Zg=", "Zg===", "Z===", "====", "=Zg=", "Zm=v", "Zm9v=", "Zg==Zg==",
                          "Zm 9v", " Zm9v", "Zm9v\n", "Zm9\x80", "Zh==", "Zm9=", "Zm8-", "Z"}) {
    BOOST_TEST_CONTEXT("'" << bad << "'") {
      BOOST_TEST(!decodes(bad, false));
    }
  }
}

BOOST_AUTO_TEST_CASE(base64url_is_strict_rfc7515_2) {
  // '=' anywhere, a length of 1 mod 4, characters outside the alphabet, non-zero pad bits.
  for (const char* bad : {"Zg==", "Zg=", "Zm8=", "Z", "Zm9vY", "Zm9v+", "Zm9v/", "Zm 9v", "Zm9v\n",
                          "Zh", "Zm9", "Zm.9"}) {
    BOOST_TEST_CONTEXT("'" << bad << "'") {
      BOOST_TEST(!decodes(bad, true));
    }
  }
  BOOST_TEST(decodes("", true));
  BOOST_TEST(decodes("Zm8", true));
}

BOOST_AUTO_TEST_SUITE_END()
