// pattern_test.cpp: wildcard group names.
#include "actors/pattern.hpp"

#include <boost/test/unit_test.hpp>

#include <string>

using switchboard::actors::is_pattern;
using switchboard::actors::pattern_matches;

BOOST_AUTO_TEST_SUITE(actors_pattern)

BOOST_AUTO_TEST_CASE(star_and_question_mark) {
  BOOST_CHECK(pattern_matches("Room*", "Room"));
  BOOST_CHECK(pattern_matches("Room*", "Room42"));
  BOOST_CHECK(!pattern_matches("Room*", "room42"));  // case-sensitive, like the names
  BOOST_CHECK(!pattern_matches("Room*", "MyRoom"));
  BOOST_CHECK(pattern_matches("*Room", "MyRoom"));
  BOOST_CHECK(pattern_matches("news.?", "news.a"));
  BOOST_CHECK(!pattern_matches("news.?", "news."));
  BOOST_CHECK(!pattern_matches("news.?", "news.ab"));
  BOOST_CHECK(pattern_matches("a*b*c", "a-x-b-y-c"));
  BOOST_CHECK(!pattern_matches("a*b*c", "a-x-c-y-b"));
  BOOST_CHECK(pattern_matches("*", ""));
  BOOST_CHECK(pattern_matches("", ""));
  BOOST_CHECK(!pattern_matches("", "x"));
  BOOST_CHECK(pattern_matches("exact", "exact"));
}

BOOST_AUTO_TEST_CASE(is_pattern_detects_wildcards) {
  BOOST_CHECK(is_pattern("Room*"));
  BOOST_CHECK(is_pattern("a?"));
  BOOST_CHECK(!is_pattern("Room1"));
}

BOOST_AUTO_TEST_CASE(hostile_pattern_stays_linear_enough) {
  // Exponential backtracking would never finish this; ours takes microseconds.
  const std::string name(5000, 'a');
  BOOST_CHECK(!pattern_matches("*a*a*a*a*a*a*a*a*a*a*b", name));
}

BOOST_AUTO_TEST_SUITE_END()
