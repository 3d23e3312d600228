# embed_asset.cmake: turns one web asset into a C++ source file defining
#   std::string_view switchboard::app::<SYMBOL>()
# that returns the file's bytes, so the daemon serves it without reading the disk. Run at build
# time (cmake -P) by the custom command in CMakeLists.txt, which re-runs it whenever the asset
# changes: the asset stays the single source of truth. The bytes are written as a hex array, so
# any content (quotes, backslashes, non-ASCII, a ")" delimiter) is embedded exactly.
#
#   cmake -DSOURCE=<asset> -DOUTPUT=<file.cpp> -DSYMBOL=<function name> -P embed_asset.cmake
foreach(var SOURCE OUTPUT SYMBOL)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "embed_asset.cmake: -D${var}=... is required")
  endif()
endforeach()

file(READ "${SOURCE}" hex HEX)
string(LENGTH "${hex}" hex_length)
math(EXPR size "${hex_length} / 2")
# 24 bytes a line, each byte as 0xNN; a trailing 0 keeps the array non-empty.
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REPEAT "0x..," 24 line)  # (CMake regexes have no {n})
string(REGEX REPLACE "(${line})" "\\1\n    " bytes "${bytes}")
get_filename_component(name "${SOURCE}" NAME)

file(WRITE "${OUTPUT}.tmp" "// Generated from ${name} by apps/switchboard/embed_asset.cmake; do not edit.
#include \"web_assets.hpp\"

namespace switchboard::app {

std::string_view ${SYMBOL}() {
  static constexpr unsigned char bytes[] = {
    ${bytes}0x00};
  return {reinterpret_cast<const char*>(bytes), ${size}};
}

}  // namespace switchboard::app
")
# Only touch the output when it changed, so an unchanged asset does not rebuild the daemon.
configure_file("${OUTPUT}.tmp" "${OUTPUT}" COPYONLY)
file(REMOVE "${OUTPUT}.tmp")
