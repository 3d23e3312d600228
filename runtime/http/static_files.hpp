// static_files.hpp: files from a document root, safely.
//
// Safety: the URL path is percent-decoded, then refused if any segment is "..", or if it holds
// a NUL or a backslash; the joined path is resolved with realpath() and must still lie under
// the root, so neither "../" nor a symlink can escape it. Directories serve their index.html.
// Range requests (RFC 9110 section 14): one byte range is answered with 206 and Content-Range,
// an unsatisfiable one with 416; several ranges get the whole file (200), which the RFC allows.
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>

namespace switchboard::runtime {

struct byte_range {
  enum kind_type { whole, partial, unsatisfiable } kind = whole;
  std::uint64_t first = 0;  // inclusive
  std::uint64_t last = 0;   // inclusive
};

// Interprets a Range header for a body of `size` bytes. Anything not understood is `whole`.
byte_range parse_range(std::string_view header, std::uint64_t size) noexcept;

// Percent-decodes `url_path` into `out` (relative: no leading slash). Returns false when the
// path is unsafe or malformed.
bool decode_safe_path(std::string_view url_path, std::string& out);

// An open file; closes its descriptor when destroyed.
class open_file {
 public:
  open_file() = default;
  ~open_file();
  open_file(open_file&& other) noexcept;
  open_file& operator=(open_file&& other) noexcept;

  int fd = -1;
  std::uint64_t size = 0;
  std::time_t mtime = 0;
  std::string_view content_type;
};

class static_files {
 public:
  // Throws config_error when `root` is not a readable directory.
  explicit static_files(const std::string& root);

  // Opens the file a URL path names. Returns 200 and fills `out`, or 403/404.
  unsigned open(std::string_view url_path, open_file& out) const;

  const std::string& root() const noexcept { return root_; }

 private:
  std::string root_;  // canonical, without a trailing slash
};

}  // namespace switchboard::runtime
