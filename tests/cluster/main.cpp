// main.cpp: the entry point of the cluster_tests executable (Boost.Test, dynamically linked).
#define BOOST_TEST_MODULE switchboard_cluster
#include <boost/test/unit_test.hpp>
