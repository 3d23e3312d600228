#include "runtime/http/static_files.hpp"

#include "runtime/config.hpp"
#include "runtime/http/mime.hpp"
#include "runtime/text.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <utility>

namespace switchboard::runtime {
namespace {

bool parse_u64(std::string_view s, std::uint64_t& out) {
  if (s.empty() || s.size() > 19) return false;
  out = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return true;
}

}  // namespace

byte_range parse_range(std::string_view h, std::uint64_t size) noexcept {
  byte_range r;
  constexpr std::string_view unit = "bytes=";
  if (h.substr(0, unit.size()) != unit) return r;
  h.remove_prefix(unit.size());
  while (!h.empty() && h.front() == ' ')
    h.remove_prefix(1);
  while (!h.empty() && h.back() == ' ')
    h.remove_suffix(1);
  if (h.find(',') != std::string_view::npos) return r;  // several ranges: send it all
  const auto dash = h.find('-');
  if (dash == std::string_view::npos) return r;
  const std::string_view a = h.substr(0, dash), b = h.substr(dash + 1);
  std::uint64_t first = 0, last = 0;
  if (a.empty()) {  // suffix range: the last N bytes
    if (!parse_u64(b, last)) return r;
    if (last == 0 || size == 0) return byte_range{byte_range::unsatisfiable, 0, 0};
    r.first = last >= size ? 0 : size - last;
    r.last = size - 1;
  } else {
    if (!parse_u64(a, first)) return r;
    if (b.empty())
      last = size == 0 ? 0 : size - 1;
    else if (!parse_u64(b, last) || last < first)
      return r;  // invalid: ignore the header
    if (first >= size) return byte_range{byte_range::unsatisfiable, 0, 0};
    r.first = first;
    r.last = last >= size ? size - 1 : last;
  }
  r.kind = byte_range::partial;
  return r;
}

bool decode_safe_path(std::string_view url_path, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < url_path.size(); ++i) {
    char c = url_path[i];
    if (c == '%') {
      if (i + 2 >= url_path.size()) return false;
      const int hi = hex_value(url_path[i + 1]), lo = hex_value(url_path[i + 2]);
      if (hi < 0 || lo < 0) return false;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    }
    if (c == '\0' || c == '\\') return false;
    out.push_back(c);
  }
  // Check segments: no "..", and drop empty and "." ones.
  std::string clean;
  std::size_t start = 0;
  while (start <= out.size()) {
    const std::size_t slash = out.find('/', start);
    const std::size_t end = slash == std::string::npos ? out.size() : slash;
    const std::string_view seg(out.data() + start, end - start);
    if (seg == "..") return false;
    if (!seg.empty() && seg != ".") {
      if (!clean.empty()) clean.push_back('/');
      clean.append(seg);
    }
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  out = std::move(clean);
  return true;
}

open_file::~open_file() {
  if (fd >= 0) ::close(fd);
}

open_file::open_file(open_file&& other) noexcept
    : fd(std::exchange(other.fd, -1)),
      size(other.size),
      mtime(other.mtime),
      content_type(other.content_type) {}

open_file& open_file::operator=(open_file&& other) noexcept {
  if (this != &other) {
    if (fd >= 0) ::close(fd);
    fd = std::exchange(other.fd, -1);
    size = other.size;
    mtime = other.mtime;
    content_type = other.content_type;
  }
  return *this;
}

static_files::static_files(const std::string& root) {
  char resolved[PATH_MAX];
  struct stat st {};
  if (!::realpath(root.c_str(), resolved) || ::stat(resolved, &st) != 0 || !S_ISDIR(st.st_mode))
    throw config_error("document root '" + root + "' is not a directory");
  root_ = resolved;
  if (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

unsigned static_files::open(std::string_view url_path, open_file& out) const {
  std::string relative;
  if (!decode_safe_path(url_path, relative)) return 403;
  std::string path = root_ + "/" + relative;
  char resolved[PATH_MAX];
  if (!::realpath(path.c_str(), resolved)) return 404;
  const std::string_view real(resolved);
  if (real != root_ && (real.substr(0, root_.size()) != root_ || real[root_.size()] != '/'))
    return 403;  // a symlink that points outside the root
  path = resolved;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 404;
  if (S_ISDIR(st.st_mode)) {
    path += "/index.html";
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return 404;
  }
  if (!S_ISREG(st.st_mode)) return 404;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == EACCES ? 403 : 404;
  out = open_file{};
  out.fd = fd;
  out.size = static_cast<std::uint64_t>(st.st_size);
  out.mtime = st.st_mtime;
  out.content_type = mime_type(path);
  return 200;
}

}  // namespace switchboard::runtime
