// byte_buffer.hpp: the growable byte array swbench's buffers use (reads cut by a frame
// boundary, queued writes, TLS records, compressed and inflated messages).
//
// Unlike std::vector<uint8_t>::resize it does not zero what it grows into, which would cost a
// memset per message. It grows by doubling and never shrinks unless released, so a buffer
// reused per message stops allocating once it has seen the largest message.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

namespace switchboard::swbench {

class byte_buffer {
 public:
  std::uint8_t* data() noexcept { return data_.get(); }
  const std::uint8_t* data() const noexcept { return data_.get(); }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  void clear() noexcept { size_ = 0; }
  void reserve(std::size_t capacity) {
    if (capacity <= capacity_) return;
    std::unique_ptr<std::uint8_t[]> bigger(new std::uint8_t[capacity]);
    if (size_ != 0) std::memcpy(bigger.get(), data_.get(), size_);
    data_ = std::move(bigger);
    capacity_ = capacity;
  }
  void release() noexcept {
    data_.reset();
    size_ = capacity_ = 0;
  }
  // Makes room for `n` more bytes and returns where they go; commit(n) then counts them.
  std::uint8_t* prepare(std::size_t n) {
    if (size_ + n > capacity_) reserve(std::max(size_ + n, capacity_ * 2));
    return data_.get() + size_;
  }
  // Room available after size() without growing.
  std::size_t spare() const noexcept { return capacity_ - size_; }
  void commit(std::size_t n) noexcept { size_ += n; }
  // Keeps the first n bytes (n <= size()).
  void truncate(std::size_t n) noexcept { size_ = n; }
  void assign(const std::uint8_t* p, std::size_t n) {
    size_ = 0;
    append(p, n);
  }
  void append(const std::uint8_t* p, std::size_t n) {
    std::memcpy(prepare(n), p, n);
    commit(n);
  }
  // Drops the first n bytes.
  void consume(std::size_t n) noexcept {
    if (n >= size_) {
      size_ = 0;
      return;
    }
    std::memmove(data_.get(), data_.get() + n, size_ - n);
    size_ -= n;
  }

 private:
  std::unique_ptr<std::uint8_t[]> data_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

}  // namespace switchboard::swbench
