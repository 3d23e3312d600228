// transfer.cpp: the sender and receiver state machines of the Files protocol (transfer.hpp).
// Everything in `endpoint` runs on its connection's io thread; prepare_file() and the hashing
// helpers run wherever they are called.
#include "protocols/files/transfer.hpp"

#include <openssl/evp.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/post.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <utility>
#include <vector>

namespace switchboard::protocols::files {

namespace {

using evp_ctx = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;

evp_ctx new_sha256() {
  evp_ctx ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (ctx && EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) ctx.reset();
  return ctx;
}

std::string hex_digest(EVP_MD_CTX* ctx) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_DigestFinal_ex(ctx, digest, &n) != 1) return {};
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (unsigned int i = 0; i < n; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 15];
  }
  return out;
}

// `sha256:<64 hex>` in a header's Text, lower-cased; "" when the Text is anything else.
std::string expected_sha256(std::string_view text) {
  constexpr std::string_view prefix = "sha256:";
  if (text.size() != prefix.size() + 64 || text.substr(0, prefix.size()) != prefix) return {};
  std::string out(text.substr(prefix.size()));
  for (char& c : out) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return {};
  }
  return out;
}

// A name the receiver may create in its directory: sanitize_file_name() accepts it AS IS (it
// would also accept "a/b" by taking "b": a FileId or a renamed name with a path is refused).
bool plain_name(std::string_view name) {
  std::error_code ec;
  const std::string_view clean = sanitize_file_name(name, ec);
  return !ec && clean.size() == name.size();
}

// False on an error (errno set) or a file that shrank under us (errno 0).
bool pread_all(int fd, char* data, std::size_t size, std::int64_t offset) {
  errno = 0;
  while (size > 0) {
    const ssize_t n = ::pread(fd, data, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
    offset += n;
  }
  return true;
}

bool pwrite_all(int fd, const char* data, std::size_t size, std::int64_t offset) {
  while (size > 0) {
    const ssize_t n = ::pwrite(fd, data, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
    offset += n;
  }
  return true;
}

std::string errno_text(std::string_view what) {
  return std::string(what) + std::strerror(errno);
}

// Renames `part` to `dir/name` without overwriting anything: link() fails when the target
// exists, so "name (1).ext", "name (2).ext", ... are tried. Returns the name used, or "".
std::string publish_part(const std::string& part, const std::string& dir, const std::string& name) {
  const auto dot = name.rfind('.');
  const std::string stem = dot == std::string::npos || dot == 0 ? name : name.substr(0, dot);
  const std::string ext = dot == std::string::npos || dot == 0 ? std::string{} : name.substr(dot);
  for (int n = 0; n <= 999; ++n) {
    const std::string candidate = n == 0 ? name : stem + " (" + std::to_string(n) + ")" + ext;
    if (candidate.size() > max_file_name_size) return {};
    const std::string target = dir + "/" + candidate;
    if (::link(part.c_str(), target.c_str()) == 0) {
      ::unlink(part.c_str());
      return candidate;
    }
    if (errno == EEXIST) continue;
    // A file system without hard links: rename, having checked the name is free (racy, but
    // only there).
    struct stat st;
    if (::stat(target.c_str(), &st) == 0) continue;
    if (::rename(part.c_str(), target.c_str()) == 0) return candidate;
    return {};
  }
  return {};
}

}  // namespace

std::string size_mismatch_text(std::int64_t expected, std::int64_t received) {
  char text[128];
  std::snprintf(text, sizeof text, "Error receiving file, expected size of %lld and received %lld.",
                static_cast<long long>(expected), static_cast<long long>(received));
  return text;
}

std::string new_guid() {
  thread_local std::mt19937_64 rng{(std::uint64_t(std::random_device{}()) << 32) ^
                                   std::random_device{}()};
  std::uint64_t a = rng(), b = rng();
  a = (a & 0xFFFFFFFFFFFF0FFFull) | 0x4000ull;
  b = (b & 0x3FFFFFFFFFFFFFFFull) | 0x8000000000000000ull;
  char text[40];
  std::snprintf(text, sizeof text, "%08X-%04X-%04X-%04X-%012llX", unsigned(a >> 32),
                unsigned((a >> 16) & 0xFFFF), unsigned(a & 0xFFFF), unsigned(b >> 48),
                static_cast<unsigned long long>(b & 0xFFFFFFFFFFFFull));
  return text;
}

std::string sha256_of_fd(int fd) {
  evp_ctx ctx = new_sha256();
  if (!ctx) return {};
  std::vector<char> buffer(1u << 20);
  std::int64_t offset = 0;
  while (true) {
    const ssize_t n = ::pread(fd, buffer.data(), buffer.size(), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return {};
    if (n == 0) break;
    if (EVP_DigestUpdate(ctx.get(), buffer.data(), static_cast<std::size_t>(n)) != 1) return {};
    offset += n;
  }
  return hex_digest(ctx.get());
}

prepared_file::~prepared_file() {
  if (fd >= 0) ::close(fd);
}

prepared_file::prepared_file(prepared_file&& o) noexcept
    : fd(std::exchange(o.fd, -1)),
      name(std::move(o.name)),
      size(o.size),
      sha256(std::move(o.sha256)) {}

prepared_file& prepared_file::operator=(prepared_file&& o) noexcept {
  if (this != &o) {
    if (fd >= 0) ::close(fd);
    fd = std::exchange(o.fd, -1);
    name = std::move(o.name);
    size = o.size;
    sha256 = std::move(o.sha256);
  }
  return *this;
}

std::shared_ptr<prepared_file> prepare_file(const std::string& path, std::string& error,
                                            std::string_view name) {
  std::error_code ec;
  const std::string_view wire = sanitize_file_name(name.empty() ? path : name, ec);
  if (ec) {
    error = "bad file name: " + ec.message();
    return nullptr;
  }
  if (wire.find('|') != std::string_view::npos) {
    error = "bad file name: '|' cannot travel in a Files header";
    return nullptr;
  }
  auto f = std::make_shared<prepared_file>();
  f->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f->fd < 0) {
    error = errno_text(path + ": ");
    return nullptr;
  }
  struct stat st;
  if (::fstat(f->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    error = path + ": not a regular file";
    return nullptr;
  }
  f->name = std::string(wire);
  f->size = static_cast<std::int64_t>(st.st_size);
  f->sha256 = sha256_of_fd(f->fd);
  if (f->sha256.empty()) {
    error = errno_text(path + ": cannot read: ");
    return nullptr;
  }
  return f;
}

// ---- Transfers --------------------------------------------------------------------------------

struct endpoint::outgoing {
  std::shared_ptr<prepared_file> file;
  std::string file_id, data, channel;
  std::int32_t chunk = 0;  // 0: the whole file
  qos_level qos = qos_level::level0;
  std::int64_t next = 0;      // the next chunk's start (push), or the offset asked for (pull)
  bool pushing = false;       // QoS 0/1: header sent, chunks going out
  bool all_queued = false;    // QoS 0/1: the last chunk is queued
  bool pull_pending = false;  // QoS 2: a filerec asked for `next`, not sent yet (no room)
  // QoS 2 retry item: the last frame sent (header: start -1; chunk: [start, end)).
  std::string retry_id;
  std::int64_t retry_start = -1;
  clock::time_point sent_at{};
};

struct endpoint::incoming {
  std::string file_id, wire_name, name, data, channel, expected_sha, part_path;
  int fd = -1;
  std::int64_t size = 0;
  std::int64_t position = 0;  // contiguous bytes on disk
  std::int32_t buffer_size = 0;
  qos_level qos = qos_level::level0;
  bool resumed = false;
  evp_ctx hash{nullptr, &EVP_MD_CTX_free};  // in-order hashing; else one pass at the end
  std::int64_t hashed = 0;
  bool hash_broken = false;
  std::string filerec_id;  // QoS 2 retry item
  clock::time_point sent_at{};

  ~incoming() {
    if (fd >= 0) ::close(fd);
  }
};

struct endpoint::call_guard {
  explicit call_guard(endpoint& e) : self(e) { ++self.depth_; }
  ~call_guard() {
    if (--self.depth_ == 0 && self.detach_pending_) {
      self.detach_pending_ = false;
      self.detach(self.detach_keep_);
    }
  }
  endpoint& self;
};

endpoint::endpoint(runtime::worker& io, const transfer_options& options, events ev,
                   bool server_role)
    : io_(io),
      options_(options),
      events_(std::move(ev)),
      server_role_(server_role),
      pump_timer_(io),
      retry_timer_(io) {
  // FileSize over the limit is answered with "File too large." by on_header, not a close.
  options_.codec.max_file_size = std::numeric_limits<std::int64_t>::max();
}

endpoint::~endpoint() = default;

bool endpoint::send_frame(const frame& f, std::string_view payload) {
  if (!attached_ || !link_.send) return false;
  scratch_.clear();
  if (encode(f, payload, scratch_)) return false;  // a field with '|': checked before
  return link_.send(scratch_);
}

void endpoint::reply(const frame& to, method_kind m, std::string_view text) {
  const std::string id = m == method_kind::acknowledgment ? std::string(to.id) : new_guid();
  frame r = to;
  r.id = id;
  r.method = m;
  if (m != method_kind::acknowledgment) {
    r.text = text;
    r.streaming = streaming_mode::stm_none;
  }
  send_frame(r);
}

std::error_code endpoint::on_message(std::string_view message) {
  call_guard guard(*this);
  const decode_result r = decode(message, options_.codec);
  if (!r.ok()) {
    if ((r.error_code == errc::bad_file_name || r.error_code == errc::file_name_too_long)) {
      // Not a close: a sound frame whose name is a path gets "File Rejected." (4.2).
      std::string placeholder;
      const std::string_view m = message;
      std::size_t header_size = 0;
      for (std::size_t i = 0; i < length_prefix_size; ++i)
        header_size = header_size * 10 + static_cast<std::size_t>(m[i] - '0');
      const std::string_view header = m.substr(length_prefix_size, header_size);
      std::vector<std::string_view> fields;
      std::size_t at = 0;
      while (fields.size() < field_count + 1) {
        const auto bar = header.find('|', at);
        fields.push_back(header.substr(at, bar == std::string_view::npos ? bar : bar - at));
        if (bar == std::string_view::npos) break;
        at = bar + 1;
      }
      if (fields.size() == field_count) {
        std::string rebuilt;
        for (std::size_t i = 0; i < field_count; ++i) {
          if (i) rebuilt += '|';
          rebuilt += i == 2 ? std::string_view("rejected") : fields[i];
        }
        char prefix[16];
        std::snprintf(prefix, sizeof prefix, "%010zu", rebuilt.size());
        std::string again = prefix + rebuilt;
        again.append(m.substr(length_prefix_size + header_size));
        const decode_result r2 = decode(again, options_.codec);
        if (r2.ok() && r2.msg.method == method_kind::file) {
          if (r2.msg.streaming == streaming_mode::stm_none ||
              r2.msg.streaming == streaming_mode::stm_first) {
            reply(r2.msg, method_kind::file_sent_error, text_rejected);
            if (events_.error)
              events_.error({direction::receiving, std::string(r2.msg.file_id),
                             std::string(fields[2]), std::string(text_rejected), false});
          }
          return {};  // a chunk of the refused file: dropped
        }
      }
    }
    return r.error_code;
  }
  const frame& f = r.msg;
  if (f.method != method_kind::file) {
    on_control(f);
  } else if (f.streaming == streaming_mode::stm_none || f.streaming == streaming_mode::stm_first) {
    on_header(f, r.payload);
  } else {
    const auto it = in_.find(std::string(f.file_id));
    if (it != in_.end()) on_chunk(*it->second, f, r.payload);
    // else: a chunk of a file refused, failed or never announced; dropped.
  }
  return {};
}

void endpoint::on_header(const frame& f, std::string_view) {
  const std::string file_id(f.file_id);
  if (const auto it = in_.find(file_id); it != in_.end()) {
    incoming& in = *it->second;
    if (in.qos == qos_level::level2 && f.qos == qos_level::level2 && f.file_size == in.size) {
      // The header again (a retry, or a sender that lost our answer): answer from here.
      reply(f, method_kind::acknowledgment);
      return request_chunk(in);
    }
    in_.erase(it);  // a new header for the same FileId starts over (below)
  }
  auto refuse = [&](std::string_view text) {
    reply(f, method_kind::file_sent_error, text);
    if (events_.error)
      events_.error(
          {direction::receiving, file_id, std::string(f.file_name), std::string(text), false});
  };
  if (options_.receive_dir.empty()) return refuse(text_rejected);
  if (!plain_name(f.file_id) || !plain_name(f.file_name)) return refuse(text_rejected);
  std::string name(f.file_name);
  if (f.file_size > options_.max_file_size) return refuse(text_too_large);
  if (events_.authorize) {
    if (!events_.authorize(f, name)) return refuse(text_rejected);
    if (!plain_name(name)) return refuse(text_rejected);
  }

  auto in = std::make_unique<incoming>();
  in->file_id = file_id;
  in->wire_name = std::string(f.file_name);
  in->name = std::move(name);
  in->data = std::string(f.data);
  in->channel = std::string(f.channel);
  in->expected_sha = expected_sha256(f.text);
  in->size = f.file_size;
  in->buffer_size = f.buffer_size;
  in->qos = f.qos;
  in->part_path = options_.receive_dir + "/" + file_id + ".part";
  const int flags = O_RDWR | O_CREAT | O_CLOEXEC | (f.qos == qos_level::level2 ? 0 : O_TRUNC);
  in->fd = ::open(in->part_path.c_str(), flags, 0644);
  if (in->fd < 0) return refuse(errno_text("Error receiving file, "));
  if (f.qos == qos_level::level2) {
    struct stat st;
    if (::fstat(in->fd, &st) != 0) return refuse(errno_text("Error receiving file, "));
    in->position = static_cast<std::int64_t>(st.st_size);
    if (in->position > in->size) {  // not ours to resume: start again
      if (::ftruncate(in->fd, 0) != 0) return refuse(errno_text("Error receiving file, "));
      in->position = 0;
    }
    in->resumed = in->position > 0;
  }
  in->hash = new_sha256();
  in->hash_broken = !in->hash || in->position > 0;  // a resumed file is hashed at the end
  incoming& ref = *in;
  in_[file_id] = std::move(in);

  if (f.qos >= qos_level::level1) reply(f, method_kind::acknowledgment);
  if (f.qos == qos_level::level2) {
    if (ref.position >= ref.size) return finish_incoming(ref);
    request_chunk(ref);
    arm_retry();
  }
}

void endpoint::on_chunk(incoming& in, const frame& f, std::string_view payload) {
  const std::int64_t end = f.file_position;
  const std::int64_t start = end - static_cast<std::int64_t>(payload.size());
  if (start < 0 || end > in.size)
    return fail_incoming(in.file_id, "Error receiving file, bad chunk position.", true, false);
  if (in.qos >= qos_level::level1) reply(f, method_kind::acknowledgment);
  if (start > in.position) {
    if (in.qos == qos_level::level2) return;  // not asked for: ignored
    return fail_incoming(in.file_id, size_mismatch_text(in.size, in.position), true, false);
  }
  if (!pwrite_all(in.fd, payload.data(), payload.size(), start))
    return fail_incoming(in.file_id, errno_text("Error receiving file, "), true, false);
  if (!in.hash_broken) {
    if (start == in.hashed) {
      if (EVP_DigestUpdate(in.hash.get(), payload.data(), payload.size()) != 1)
        in.hash_broken = true;
      in.hashed = end;
    } else if (end > in.hashed) {
      in.hash_broken = true;
    }
  }
  const bool advanced = end > in.position || (payload.empty() && end == in.position);
  if (end > in.position) in.position = end;
  if (events_.progress)
    events_.progress({direction::receiving, in.file_id, in.name, in.position, in.size});
  if (events_.fragment && !events_.fragment(f))
    return fail_incoming(in.file_id, text_cancelled, true, false);
  const bool last = f.streaming == streaming_mode::stm_last ||
                    f.streaming == streaming_mode::stm_continue_and_last;
  if (in.qos == qos_level::level2) {
    if (!advanced) return;  // a repeat of a chunk already written
    if (last || in.position >= in.size) return finish_incoming(in);
    return request_chunk(in);
  }
  if (last) finish_incoming(in);
}

// QoS 2: asks the sender for the chunk at in.position under a new Id.
void endpoint::request_chunk(incoming& in) {
  in.filerec_id = new_guid();
  send_filerec(in);
}

void endpoint::send_filerec(incoming& in) {
  frame rec{};
  rec.id = in.filerec_id;
  rec.file_id = in.file_id;
  rec.file_name = in.wire_name;
  rec.file_size = in.size;
  rec.file_position = in.position;
  rec.buffer_size = in.buffer_size;
  rec.qos = qos_level::level2;
  rec.method = method_kind::filerec;
  rec.channel = in.channel;
  in.sent_at = clock::now();
  send_frame(rec);
}

void endpoint::finish_incoming(incoming& in) {
  struct stat st;
  if (::fstat(in.fd, &st) != 0)
    return fail_incoming(in.file_id, errno_text("Error receiving file, "), true, false);
  const auto actual = static_cast<std::int64_t>(st.st_size);
  if (actual != in.size)
    return fail_incoming(in.file_id, size_mismatch_text(in.size, actual), true, false);
  std::string sha =
      !in.hash_broken && in.hashed == in.size ? hex_digest(in.hash.get()) : sha256_of_fd(in.fd);
  if (sha.empty())
    return fail_incoming(in.file_id, "Error receiving file, cannot hash it.", true, false);
  if (!in.expected_sha.empty() && sha != in.expected_sha)
    return fail_incoming(in.file_id, text_checksum, true, false);
  ::close(in.fd);
  in.fd = -1;
  const std::string final_name = publish_part(in.part_path, options_.receive_dir, in.name);
  if (final_name.empty())
    return fail_incoming(in.file_id, errno_text("Error receiving file, cannot rename it: "), true,
                         false);
  received_file done;
  done.file_id = in.file_id;
  done.name = final_name;
  done.path = options_.receive_dir + "/" + final_name;
  done.sha256 = std::move(sha);
  done.channel = in.channel;
  done.data = in.data;
  done.size = in.size;
  done.qos = in.qos;
  done.resumed = in.resumed;
  if (in.qos >= qos_level::level1) {
    frame r{};
    const std::string id = new_guid();
    r.id = id;
    r.file_id = in.file_id;
    r.file_name = in.wire_name;
    r.file_size = in.size;
    r.file_position = in.size;
    r.buffer_size = in.buffer_size;
    r.qos = in.qos;
    r.method = method_kind::file_received;
    r.channel = in.channel;
    send_frame(r);
  }
  in_.erase(in.file_id);  // `in` is gone from here
  if (events_.received) events_.received(done);
}

void endpoint::fail_incoming(const std::string& file_id, std::string_view text, bool tell_peer,
                             bool remote) {
  const auto it = in_.find(file_id);
  if (it == in_.end()) return;
  incoming& in = *it->second;
  if (in.fd >= 0) ::close(in.fd);
  in.fd = -1;
  ::unlink(in.part_path.c_str());
  if (tell_peer) {
    frame r{};
    const std::string id = new_guid();
    r.id = id;
    r.file_id = in.file_id;
    r.file_name = in.wire_name;
    r.file_size = in.size;
    r.file_position = in.position;
    r.buffer_size = in.buffer_size;
    r.qos = in.qos;
    r.method = method_kind::file_sent_error;  // the receiver's error (4.2: names crossed)
    r.text = text;
    r.channel = in.channel;
    send_frame(r);
  }
  transfer_error e{direction::receiving, in.file_id, in.name, std::string(text), remote};
  in_.erase(it);
  if (events_.error) events_.error(e);
}

void endpoint::fail_outgoing(const std::string& file_id, std::string_view text, bool tell_peer,
                             bool remote) {
  const auto it = out_.find(file_id);
  if (it == out_.end()) return;
  outgoing& o = *it->second;
  if (tell_peer) {
    frame r{};
    const std::string id = new_guid();
    r.id = id;
    r.file_id = o.file_id;
    r.file_name = o.file->name;
    r.file_size = o.file->size;
    r.file_position = std::min(o.next, o.file->size);
    r.buffer_size = o.chunk;
    r.qos = o.qos;
    r.method = method_kind::file_received_error;  // the sender's error (4.2: names crossed)
    r.text = text;
    r.channel = o.channel;
    send_frame(r);
  }
  transfer_error e{direction::sending, o.file_id, o.file->name, std::string(text), remote};
  out_.erase(it);
  if (events_.error) events_.error(e);
}

void endpoint::on_control(const frame& f) {
  const std::string file_id(f.file_id);
  switch (f.method) {
    case method_kind::acknowledgment:
      return;  // TCP keeps order; the next step (filerec, file_received) is what moves on
    case method_kind::filerec: {
      const auto it = out_.find(file_id);
      if (it == out_.end() || it->second->qos != qos_level::level2) return;  // stale
      outgoing& o = *it->second;
      reply(f, method_kind::acknowledgment);
      if (f.file_position > o.file->size)
        return fail_outgoing(file_id, "Error sending file, position past its end.", true, false);
      o.next = f.file_position;
      o.pull_pending = true;
      o.retry_id.clear();  // the receiver has what we sent last
      return pump();
    }
    case method_kind::file_received: {
      const auto it = out_.find(file_id);
      if (it == out_.end() || it->second->qos == qos_level::level0) return;
      const outgoing& o = *it->second;
      if (o.qos == qos_level::level1 && !o.all_queued) return;  // not from this transfer
      sent_file done{o.file_id, o.file->name, o.channel, o.file->size, o.qos};
      out_.erase(it);
      if (events_.sent) events_.sent(done);
      return;
    }
    case method_kind::file_sent_error:
      if (out_.count(file_id)) return fail_outgoing(file_id, f.text, false, true);
      // A QoS 0 send already over: still worth reporting.
      if (events_.error)
        events_.error(
            {direction::sending, file_id, std::string(f.file_name), std::string(f.text), true});
      return;
    case method_kind::file_received_error:
      return fail_incoming(file_id, f.text, false, true);
    case method_kind::file:
      return;
  }
}

std::string endpoint::send_file(std::shared_ptr<prepared_file> file, const send_options& so) {
  call_guard guard(*this);
  const std::string file_id = so.file_id.empty() ? new_guid() : so.file_id;
  auto report = [&](std::string text) {
    if (events_.error)
      events_.error(
          {direction::sending, file_id, file ? file->name : std::string{}, std::move(text), false});
    return std::string{};
  };
  if (!file) return report("no file");
  for (std::string_view field :
       {std::string_view(file_id), std::string_view(so.data), std::string_view(so.channel)})
    if (field.find('|') != std::string_view::npos)
      return report("a Files header field cannot hold '|'");
  if (out_.count(file_id)) return report(std::string(text_already_sending));
  if (!attached_ && so.qos != qos_level::level2) return report("Not connected.");
  auto o = std::make_unique<outgoing>();
  o->file = std::move(file);
  o->file_id = file_id;
  o->data = so.data;
  o->channel = so.channel;
  o->chunk = so.chunk_size < 0 ? options_.chunk_size : so.chunk_size;
  o->qos = so.qos;
  outgoing& ref = *o;
  out_[file_id] = std::move(o);
  if (attached_) {
    send_header(ref);
    if (ref.qos != qos_level::level2) pump();
  }
  return file_id;
}

bool endpoint::cancel(const std::string& file_id) {
  call_guard guard(*this);
  if (!out_.count(file_id)) return false;
  fail_outgoing(file_id, text_cancelled, true, false);
  return true;
}

void endpoint::send_header(outgoing& o) {
  frame h{};
  const std::string id = o.retry_start == -1 && !o.retry_id.empty() ? o.retry_id : new_guid();
  const std::string text = "sha256:" + o.file->sha256;
  h.id = id;
  h.file_id = o.file_id;
  h.file_name = o.file->name;
  h.file_size = o.file->size;
  h.file_position = 0;
  h.buffer_size = o.chunk;
  h.data = o.data;
  h.streaming = server_role_ ? streaming_mode::stm_first : streaming_mode::stm_none;
  h.qos = o.qos;
  h.method = method_kind::file;
  h.text = text;
  h.channel = o.channel;
  send_frame(h);
  if (o.qos == qos_level::level2) {
    o.retry_id = id;
    o.retry_start = -1;
    o.sent_at = clock::now();
    arm_retry();
  } else {
    o.pushing = true;
    o.next = 0;
  }
}

bool endpoint::send_chunk(outgoing& o, std::int64_t start) {
  if (!attached_ || !link_.send) return true;
  const std::int64_t left = o.file->size - start;
  const std::int64_t len = o.chunk == 0 ? left : std::min<std::int64_t>(o.chunk, left);
  const std::int64_t end = start + len;
  frame c{};
  const std::string id = o.qos == qos_level::level2 && o.retry_start == start && !o.retry_id.empty()
                             ? o.retry_id
                             : new_guid();
  c.id = id;
  c.file_id = o.file_id;
  c.file_name = o.file->name;
  c.file_size = o.file->size;
  c.file_position = end;
  c.buffer_size = o.chunk;
  c.streaming = end == o.file->size ? streaming_mode::stm_last : streaming_mode::stm_continue;
  c.qos = o.qos;
  c.method = method_kind::file;
  c.channel = o.channel;
  // The header, then the chunk read straight behind it: the frame is the header followed by
  // its payload (4.1), so no second copy of the chunk is made.
  scratch_.clear();
  if (encode(c, {}, scratch_)) return true;
  const std::size_t at = scratch_.size();
  scratch_.resize(at + static_cast<std::size_t>(len));
  if (!pread_all(o.file->fd, scratch_.data() + at, static_cast<std::size_t>(len), start)) {
    fail_outgoing(o.file_id,
                  errno ? errno_text("Error sending file, ")
                        : std::string("Error sending file, it shrank while being sent."),
                  true, false);
    return false;
  }
  const bool ok = link_.send(scratch_);
  if (scratch_.capacity() > (4u << 20)) std::string().swap(scratch_);  // keep memory bounded
  if (!ok) return true;  // refused: not advanced, the pump tries again
  payload_sent_ += static_cast<std::uint64_t>(len);
  if (o.qos == qos_level::level2) {
    o.retry_id = id;
    o.retry_start = start;
    o.sent_at = clock::now();
    o.pull_pending = false;
  } else {
    o.next = end;
    o.all_queued = end == o.file->size;
  }
  if (events_.progress)
    events_.progress({direction::sending, o.file_id, o.file->name, end, o.file->size});
  return true;
}

bool endpoint::room(std::size_t frame_size) const {
  const std::size_t q = link_.queued ? link_.queued() : 0;
  return q == 0 || q + frame_size <= link_.send_budget;
}

void endpoint::pump() {
  if (!attached_) return;
  bool blocked = false;
  std::vector<std::string> ids;
  ids.reserve(out_.size());
  for (const auto& [id, o] : out_)
    ids.push_back(id);
  for (const std::string& id : ids) {
    auto it = out_.find(id);
    if (it == out_.end()) continue;
    outgoing& o = *it->second;
    const std::size_t frame_size =
        static_cast<std::size_t>(o.chunk == 0 ? o.file->size : o.chunk) + 256;
    if (o.qos != qos_level::level2) {
      while (o.pushing && !o.all_queued && attached_) {
        if (!room(frame_size)) {
          blocked = true;
          break;
        }
        const std::int64_t before = o.next;
        if (!send_chunk(o, o.next)) break;  // failed and erased
        if (o.next == before && !o.all_queued) {
          blocked = true;  // refused by the link
          break;
        }
      }
      it = out_.find(id);
      if (it == out_.end() || !it->second->all_queued) continue;
      if (it->second->qos == qos_level::level0) {
        const outgoing& done_o = *it->second;
        sent_file done{done_o.file_id, done_o.file->name, done_o.channel, done_o.file->size,
                       done_o.qos};
        out_.erase(it);
        if (events_.sent) events_.sent(done);
      }
    } else if (o.pull_pending) {
      if (!room(frame_size)) {
        blocked = true;
        continue;
      }
      if (!send_chunk(o, o.next)) continue;
      it = out_.find(id);
      if (it != out_.end() && it->second->pull_pending) blocked = true;  // refused
    }
  }
  if (blocked) arm_pump();
}

void endpoint::arm_pump() {
  if (pump_armed_) return;
  pump_armed_ = true;
  pump_timer_.expires_after(std::chrono::milliseconds(1));
  pump_timer_.async_wait([weak = weak_from_this()](const std::error_code& ec) {
    const auto self = weak.lock();
    if (!self) return;
    self->pump_armed_ = false;
    if (ec) return;
    call_guard guard(*self);
    self->pump();
  });
}

void endpoint::arm_retry() {
  if (retry_armed_) return;
  retry_armed_ = true;
  retry_timer_.expires_after(options_.qos_interval);
  retry_timer_.async_wait([weak = weak_from_this()](const std::error_code& ec) {
    const auto self = weak.lock();
    if (!self) return;
    self->retry_armed_ = false;
    if (ec) return;
    call_guard guard(*self);
    self->on_retry();
  });
}

void endpoint::on_retry() {
  if (!attached_) return;
  const auto now = clock::now();
  bool any = false;
  std::vector<std::string> ids;
  for (const auto& [id, o] : out_)
    if (o->qos == qos_level::level2) ids.push_back(id);
  for (const std::string& id : ids) {
    const auto it = out_.find(id);
    if (it == out_.end()) continue;
    outgoing& o = *it->second;
    any = true;
    if (o.retry_id.empty() || now - o.sent_at < options_.qos_timeout) continue;
    if (o.retry_start == -1)
      send_header(o);
    else
      send_chunk(o, o.retry_start);
  }
  for (auto& [id, in] : in_) {
    if (in->qos != qos_level::level2) continue;
    any = true;
    if (in->filerec_id.empty() || now - in->sent_at < options_.qos_timeout) continue;
    send_filerec(*in);  // the same Id: a resend
  }
  if (any) arm_retry();
}

void endpoint::attach(link l) {
  call_guard guard(*this);
  link_ = std::move(l);
  attached_ = true;
  std::vector<std::string> ids;
  for (const auto& [id, o] : out_)
    ids.push_back(id);
  for (const std::string& id : ids) {
    const auto it = out_.find(id);
    if (it == out_.end()) continue;
    outgoing& o = *it->second;
    o.pull_pending = false;
    o.retry_id.clear();
    o.retry_start = -1;
    send_header(o);  // the receiver's filerec says where to go on
  }
}

void endpoint::detach(bool keep_qos2_sends) {
  if (depth_ > 0) {  // inside a call: the maps may be in use
    detach_pending_ = true;
    detach_keep_ = keep_qos2_sends;
    attached_ = false;
    return;
  }
  attached_ = false;
  link_ = {};
  pump_timer_.cancel();
  retry_timer_.cancel();
  constexpr std::string_view closed = "Connection closed.";
  std::vector<transfer_error> errors;
  for (auto& [id, in] : in_) {
    if (in->fd >= 0) ::close(in->fd);
    in->fd = -1;
    if (in->qos != qos_level::level2 || options_.clear_received_on_disconnect) {
      ::unlink(in->part_path.c_str());
      errors.push_back({direction::receiving, in->file_id, in->name, std::string(closed), false});
    }
  }
  in_.clear();
  for (auto it = out_.begin(); it != out_.end();) {
    if (it->second->qos == qos_level::level2 && keep_qos2_sends) {
      ++it;
      continue;
    }
    errors.push_back(
        {direction::sending, it->first, it->second->file->name, std::string(closed), false});
    it = out_.erase(it);
  }
  if (events_.error)
    for (const auto& e : errors)
      events_.error(e);
}

}  // namespace switchboard::protocols::files
