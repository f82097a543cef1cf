// Private: a vector of trivially copyable elements with room for N of them inside the object.
//
// Span records keep their fields and string bytes in two of these, so a typical span (a handful of fields, a
// few hundred bytes of text) needs no heap memory even the first time its pooled record is used. Larger spans
// spill to the heap and keep that capacity when the record is reused (until `reset` gives back an unusually
// large one).
#pragma once

#include "core/short_copy.hpp"

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>
#include <type_traits>

namespace beeline::detail {

template <class T, std::size_t N>
class inline_vector {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  static constexpr std::size_t inline_capacity = N;

  inline_vector() noexcept = default;
  inline_vector(const inline_vector&) = delete;
  inline_vector& operator=(const inline_vector&) = delete;
  ~inline_vector() {
    if (data_ != inline_) std::free(data_);
  }

  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  std::size_t capacity() const noexcept { return capacity_; }
  T* data() noexcept { return data_; }
  const T* data() const noexcept { return data_; }
  T& operator[](std::size_t i) noexcept { return data_[i]; }
  const T& operator[](std::size_t i) const noexcept { return data_[i]; }
  T* begin() noexcept { return data_; }
  T* end() noexcept { return data_ + size_; }
  const T* begin() const noexcept { return data_; }
  const T* end() const noexcept { return data_ + size_; }
  T& back() noexcept { return data_[size_ - 1]; }

  /// Appends one element; throws std::bad_alloc if it cannot grow.
  void push_back(const T& v) {
    if (size_ == capacity_) grow(size_ + 1);
    data_[size_++] = v;
  }
  /// Appends n elements; throws std::bad_alloc if it cannot grow.
  void append(const T* p, std::size_t n) {
    if (n == 0) return;
    if (size_ + n > capacity_) grow(size_ + n);
    copy_bytes(data_ + size_, p, n * sizeof(T));
    size_ += n;
  }
  /// Grows the capacity to at least `n` elements (keeping the contents); false if the heap refused.
  bool reserve(std::size_t n) noexcept {
    if (n <= capacity_) return true;
    T* p = static_cast<T*>(std::malloc(n * sizeof(T)));
    if (!p) return false;
    std::memcpy(p, data_, size_ * sizeof(T));
    if (data_ != inline_) std::free(data_);
    data_ = p;
    capacity_ = n;
    return true;
  }
  /// Where the storage's pointer and size are (after the inline elements), for a prefetch.
  const void* header() const noexcept { return &data_; }
  /// Room for `n` more elements without growing.
  bool fits(std::size_t n) const noexcept { return n <= capacity_ - size_; }
  /// Appends n elements that `fits` (in line: it is the field path's copy).
  [[gnu::always_inline]] void append_unchecked(const T* p, std::size_t n) noexcept {
    copy_bytes(data_ + size_, p, n * sizeof(T));
    size_ += n;
  }
  /// Appends one default element when one `fits`, and returns it.
  T& emplace_back_unchecked() noexcept { return data_[size_++]; }
  void pop_back() noexcept { --size_; }
  void erase(std::size_t i) noexcept {
    std::memmove(data_ + i, data_ + i + 1, (size_ - i - 1) * sizeof(T));
    --size_;
  }
  void clear() noexcept { size_ = 0; }
  /// Clears, and returns heap memory beyond `keep` elements of capacity.
  void reset(std::size_t keep) noexcept {
    size_ = 0;
    if (data_ != inline_ && capacity_ > keep) {
      std::free(data_);
      data_ = inline_;
      capacity_ = N;
    }
  }

 private:
  void grow(std::size_t need) {
    std::size_t cap = capacity_ * 2;
    if (cap < need) cap = need;
    T* p = static_cast<T*>(std::malloc(cap * sizeof(T)));
    if (!p) throw std::bad_alloc();
    std::memcpy(p, data_, size_ * sizeof(T));
    if (data_ != inline_) std::free(data_);
    data_ = p;
    capacity_ = cap;
  }

  T inline_[N];
  T* data_ = inline_;
  std::size_t size_ = 0;
  std::size_t capacity_ = N;
};

}  // namespace beeline::detail
