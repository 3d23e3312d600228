// main.cpp: the entry point of the unit_tests executable (Boost.Test, dynamically linked).
//
// BOOST_TEST_MODULE makes this the one translation unit that defines main() and the master
// suite; every other *_test.cpp only includes <boost/test/unit_test.hpp> and adds suites.
#define BOOST_TEST_MODULE switchboard_unit
#include <boost/test/unit_test.hpp>
