// The one translation unit that compiles Asio's and Beast's non-template code
// (separate compilation; see runtime/CMakeLists.txt).
#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>
