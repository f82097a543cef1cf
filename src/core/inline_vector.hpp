// Private: a vector of trivially copyable elements with room for N of them inside the object.
//
// Span records keep their fields and string bytes in two of these, so a typical span (a handful of fields, a
// few hundred bytes of text) needs no heap memory even the first time its pooled record is used. Larger spans
// spill to the heap and keep that capacity when the record is reused (until `reset` gives back an unusually
// large one). The storage beyond the inline elements may also be lent (`lend`): memory the vector uses but
// never frees, which lets a pool give a whole chunk of records their storage in one allocation.
#pragma once

#include "core/short_copy.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
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
  ~inline_vector() { release(); }

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
    if (n > max_elements) return false;
    T* p = static_cast<T*>(std::malloc(n * sizeof(T)));
    if (!p) return false;
    std::memcpy(p, data_, size_ * sizeof(T));
    release();
    data_ = p;
    capacity_ = static_cast<std::uint32_t>(n);
    lent_ = false;
    return true;
  }
  /// Makes `storage` (room for `n` elements, more than it has now) this empty vector's storage, without
  /// taking it over: the vector never frees it, and its owner frees it after the vector is gone. A vector
  /// that outgrows it moves to the heap and leaves it unused.
  void lend(T* storage, std::size_t n) noexcept {
    if (size_ != 0 || n <= capacity_ || n > max_elements) return;
    release();
    data_ = storage;
    capacity_ = static_cast<std::uint32_t>(n);
    lent_ = true;
  }
  /// Whether the storage is lent (`lend`).
  bool lent() const noexcept { return lent_; }
  /// Where the storage's pointer and size are (after the inline elements), for a prefetch.
  const void* header() const noexcept { return &data_; }
  /// Room for `n` more elements without growing.
  bool fits(std::size_t n) const noexcept { return n <= capacity_ - size_; }
  /// Appends n elements that `fits` (in line: it is the field path's copy).
  [[gnu::always_inline]] void append_unchecked(const T* p, std::size_t n) noexcept {
    copy_bytes(data_ + size_, p, n * sizeof(T));
    size_ += n;
  }
  /// Sets the size to `n` (at most the capacity), for a caller that wrote elements [size(), n) through
  /// `data()` itself.
  void resize_unchecked(std::size_t n) noexcept { size_ = n; }
  /// Appends one default element when one `fits`, and returns it.
  T& emplace_back_unchecked() noexcept { return data_[size_++]; }
  void pop_back() noexcept { --size_; }
  void erase(std::size_t i) noexcept {
    std::memmove(data_ + i, data_ + i + 1, (size_ - i - 1) * sizeof(T));
    --size_;
  }
  void clear() noexcept { size_ = 0; }
  /// Clears, and returns heap memory beyond `keep` elements of capacity.
  /// Clears, and returns heap memory beyond `keep` elements of capacity (lent storage is kept).
  void reset(std::size_t keep) noexcept {
    size_ = 0;
    if (data_ != inline_ && !lent_ && capacity_ > keep) {
      std::free(data_);
      data_ = inline_;
      capacity_ = N;
    }
  }

 private:
  // The capacity is 32-bit, so the flag fits beside it in the space a 64-bit capacity took. The size stays a
  // size_t: as 32 bits, the field path's arithmetic on it cost it 10% more instructions.
  static constexpr std::size_t max_elements = std::numeric_limits<std::uint32_t>::max();

  void grow(std::size_t need) {
    std::size_t cap = std::size_t{capacity_} * 2;
    if (cap < need) cap = need;
    if (cap > max_elements) cap = max_elements;
    if (cap < need) throw std::bad_alloc();
    T* p = static_cast<T*>(std::malloc(cap * sizeof(T)));
    if (!p) throw std::bad_alloc();
    std::memcpy(p, data_, size_ * sizeof(T));
    release();
    data_ = p;
    capacity_ = static_cast<std::uint32_t>(cap);
    lent_ = false;
  }
  // Frees heap storage (not inline or lent storage).
  void release() noexcept {
    if (data_ != inline_ && !lent_) std::free(data_);
  }

  T inline_[N];
  T* data_ = inline_;
  std::size_t size_ = 0;
  std::uint32_t capacity_ = N;
  bool lent_ = false;
};

}  // namespace beeline::detail
