// users_test.cpp: tests of runtime/auth/users.hpp: the manual's AuthUsers format (user=password
// lines), comments, blank lines, CRLF and a byte order mark, every rejected line with its line
// number, and password checks (exact, no prefix, empty passwords, unknown users).
#include "runtime/auth/users.hpp"

#include "runtime/config.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <fstream>
#include <string>

namespace auth = switchboard::runtime::auth;
using switchboard::runtime::config_error;

namespace {

// The message of the config_error that parsing `text` throws, or "" when it does not throw.
std::string parse_error(const std::string& text) {
  try {
    auth::user_list::parse(text, "users.txt");
  } catch (const config_error& e) {
    return e.what();
  }
  return {};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(auth_users)

BOOST_AUTO_TEST_CASE(manual_example) {
  // The manual's AuthUsers example.
  const auth::user_list users = auth::user_list::parse("admin=admin\nuser=1234\n");
  BOOST_TEST(users.size() == 2u);
  BOOST_TEST(users.check("admin", "admin"));
  BOOST_TEST(users.check("user", "1234"));
  BOOST_TEST(!users.check("user", "admin"));
  BOOST_TEST(!users.check("admin", "1234"));
  BOOST_TEST(users.contains("user"));
  BOOST_TEST(!users.contains("nobody"));
}

BOOST_AUTO_TEST_CASE(comments_blank_lines_crlf_bom) {
  const auth::user_list users = auth::user_list::parse(
      "\xEF\xBB\xBF# users of the demo\r\n"
      "\r\n"
      "   \t\n"
      "  # indented comment\n"
      "alice=wonder#land\r\n"
      "  bob=builder  \n"
      "carol=a=b=c\n"
      "dave=\n"
      "j\xC3\xB6rg=p\xC3\xA4ss\n"
      "eve=last line without newline");
  BOOST_TEST(users.size() == 6u);
  BOOST_TEST(users.check("alice", "wonder#land"));  // '#' inside a password is kept
  BOOST_TEST(users.check("bob", "builder"));        // the line is trimmed
  BOOST_TEST(users.check("carol", "a=b=c"));        // split at the first '='
  BOOST_TEST(users.check("dave", ""));              // empty password: only "" matches
  BOOST_TEST(!users.check("dave", " "));
  BOOST_TEST(users.check("j\xC3\xB6rg", "p\xC3\xA4ss"));
  BOOST_TEST(users.check("eve", "last line without newline"));
  BOOST_TEST(!users.contains("# users of the demo"));
  BOOST_TEST(auth::user_list::parse("").empty());
  BOOST_TEST(auth::user_list::parse("# only a comment\n\n").empty());
}

BOOST_AUTO_TEST_CASE(spaces_around_equals_belong_to_the_fields) {
  const auth::user_list users = auth::user_list::parse("a = b\n");
  BOOST_TEST(users.check("a ", " b"));
  BOOST_TEST(!users.check("a", "b"));
}

BOOST_AUTO_TEST_CASE(rejected_lines_name_the_line) {
  BOOST_TEST(parse_error("ok=1\nno equals sign\n") == "users.txt line 2: expected user=password");
  BOOST_TEST(parse_error("=password\n") == "users.txt line 1: empty user name");
  BOOST_TEST(parse_error("a:b=c\n").find("line 1: ':' in a user name") != std::string::npos);
  BOOST_TEST(parse_error("a=1\n\n#c\na=2\n") == "users.txt line 4: user 'a' listed twice");
  BOOST_TEST(parse_error("a=x\x01y\n") == "users.txt line 1: control character");
  BOOST_TEST(parse_error("a\x7F=y\n") == "users.txt line 1: control character");
  BOOST_TEST(parse_error(std::string("a=b\0c\n", 6)) == "users.txt line 1: control character");
  BOOST_TEST(parse_error("a=b\rc\n") == "users.txt line 1: control character");  // lone CR
}

BOOST_AUTO_TEST_CASE(check_is_exact) {
  auth::user_list users;
  users.add("alice", "secret");
  BOOST_TEST(users.check("alice", "secret"));
  for (const char* wrong : {"", "s", "secre", "secret ", "Secret", "secretsecret", " secret"})
    BOOST_TEST(!users.check("alice", wrong));
  BOOST_TEST(!users.check("Alice", "secret"));  // user names are case-sensitive
  BOOST_TEST(!users.check("", ""));
  BOOST_TEST(!users.check("nobody", "secret"));
  BOOST_TEST(!users.check("nobody", ""));
  BOOST_TEST(!users.check(std::string("alice\0", 6), "secret"));
}

BOOST_AUTO_TEST_CASE(add_rejects_like_parse) {
  auth::user_list users;
  users.add("a", "");
  BOOST_CHECK_THROW(users.add("a", "x"), config_error);
  BOOST_CHECK_THROW(users.add("", "x"), config_error);
  BOOST_CHECK_THROW(users.add("b:c", "x"), config_error);
  BOOST_CHECK_THROW(users.add("b", "x\ny"), config_error);
  BOOST_TEST(users.size() == 1u);
}

BOOST_AUTO_TEST_CASE(load_file) {
  const std::string path = "/tmp/sb_auth_users_test.txt";
  {
    std::ofstream out(path, std::ios::binary);
    out << "# test\nadmin=admin\nuser=1234\n";
  }
  const auth::user_list users = auth::user_list::load_file(path);
  BOOST_TEST(users.size() == 2u);
  BOOST_TEST(users.check("user", "1234"));
  {
    std::ofstream out(path, std::ios::binary);
    out << "admin=admin\nbroken\n";
  }
  try {
    auth::user_list::load_file(path);
    BOOST_FAIL("no exception");
  } catch (const config_error& e) {
    BOOST_TEST(std::string(e.what()) == path + " line 2: expected user=password");
  }
  std::remove(path.c_str());
  BOOST_CHECK_THROW(auth::user_list::load_file(path), config_error);
}

BOOST_AUTO_TEST_SUITE_END()
