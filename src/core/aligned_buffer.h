// Owning, 64-byte aligned array of trivially copyable values: weights are read by SIMD
// kernels, and a cache-line aligned start keeps every panel load aligned.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

#include "core/error.h"

namespace kyutai {

template <typename T>
class AlignedBuffer {
 public:
  static constexpr size_t kAlignment = 64;

  AlignedBuffer() = default;
  explicit AlignedBuffer(size_t count) { resize(count); }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  AlignedBuffer(AlignedBuffer&& other) noexcept { swap(other); }
  AlignedBuffer& operator=(AlignedBuffer&& other) noexcept {
    AlignedBuffer tmp(std::move(other));
    swap(tmp);
    return *this;
  }
  ~AlignedBuffer() { std::free(data_); }

  // Discards the contents; new storage is zero-filled so padding lanes read as zeros.
  void resize(size_t count) {
    std::free(data_);
    data_ = nullptr;
    size_ = 0;
    if (count == 0) return;
    if (count > (size_t(-1) - kAlignment) / sizeof(T))
      fail(ErrorCode::LimitExceeded, "buffer of ", count, " elements overflows size_t");
    size_t bytes = (count * sizeof(T) + kAlignment - 1) / kAlignment * kAlignment;
    data_ = static_cast<T*>(std::aligned_alloc(kAlignment, bytes));
    if (!data_) fail(ErrorCode::LimitExceeded, "out of memory allocating ", bytes, " bytes");
    std::memset(static_cast<void*>(data_), 0, bytes);
    size_ = count;
  }

  T* data() { return data_; }
  const T* data() const { return data_; }
  size_t size() const { return size_; }
  size_t bytes() const { return size_ * sizeof(T); }
  bool empty() const { return size_ == 0; }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }
  T* begin() { return data_; }
  T* end() { return data_ + size_; }
  const T* begin() const { return data_; }
  const T* end() const { return data_ + size_; }

  void swap(AlignedBuffer& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
  }

 private:
  T* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace kyutai
