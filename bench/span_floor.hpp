// The floor a span path can reach on this machine: the least a span of `collect_bench` must do, written as
// plainly as possible, to be measured in turns with the library's span.
//
// A floor span reads the library's tick clock at its start and its end, takes a record (one the consumer gave
// back if there is one), gives it a random id and its parent's (a thread-local current span, restored at the
// end), appends its name and fields to the record as a log (two 16-bit lengths, then the key and value bytes;
// what does not fit is left out), and pushes the record into a single-producer ring. A consumer thread drains
// the ring, reads every cache line of every record (so each line crosses to its core, as it does for an
// encoder) and gives the records back to the thread as one chain per pass; it sleeps 50 µs when the ring is
// empty, and between `start` and `stop` of a measurement only (so it takes no CPU from what is measured in
// turns with it). What the library does beyond this (per-trace state and its reference count, sampling, field
// limits, replacing a key set twice, weak span handles, flush and shutdown, any number of threads and
// tracers) is what the difference between the two pays for.
#pragma once

#include "core/tick_clock.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>

namespace bench::span_floor {

struct field {
  std::string_view key;
  std::string_view value;
};

struct alignas(64) record {
  record* next_free = nullptr;
  std::uint64_t span_id = 0;
  std::uint64_t parent_id = 0;
  std::uint64_t start = 0;
  std::uint64_t end = 0;
  std::uint32_t used = 0;
  char log[460];
};

class collector {
 public:
  static constexpr std::size_t ring_size = 1 << 16;

  collector() : pool_(new record[ring_size]), cells_(new record*[ring_size]) {
    for (std::size_t i = 0; i + 1 < ring_size; ++i)
      pool_[i].next_free = &pool_[i + 1];
    fresh_ = &pool_[0];
    consumer_ = std::thread([this] { consume(); });
  }
  collector(const collector&) = delete;
  collector& operator=(const collector&) = delete;
  ~collector() {
    {
      std::lock_guard lk(mutex_);
      stop_.store(true);
    }
    active_cv_.notify_one();
    consumer_.join();
  }
  /// The consumer runs from here ...
  void start() {
    {
      std::lock_guard lk(mutex_);
      active_ = true;
    }
    active_cv_.notify_one();
  }
  /// ... to here: it then drains what is left in the ring and sleeps.
  void stop() {
    std::lock_guard lk(mutex_);
    active_ = false;
  }

  /// A span of this collector, made and finished on the one thread that owns it.
  class span {
   public:
    span(collector& c, std::string_view name, std::initializer_list<field> fields) noexcept : c_(c) {
      r_ = c.take();
      r_->start = beeline::detail::ticks_now();
      r_->span_id = c.next_id();
      r_->parent_id = c.current_ ? c.current_->span_id : 0;
      char* p = r_->log;
      char* const end = r_->log + sizeof r_->log;
      const auto put = [&](std::string_view k, std::string_view v) {
        const std::size_t n = 4 + k.size() + v.size();
        if (k.size() > 0xffff || v.size() > 0xffff || n > static_cast<std::size_t>(end - p)) return;
        const auto kl = static_cast<std::uint16_t>(k.size());
        const auto vl = static_cast<std::uint16_t>(v.size());
        std::memcpy(p, &kl, 2);
        std::memcpy(p + 2, &vl, 2);
        std::memcpy(p + 4, k.data(), k.size());
        std::memcpy(p + 4 + k.size(), v.data(), v.size());
        p += n;
      };
      put("name", name);
      for (const field& f : fields)
        put(f.key, f.value);
      r_->used = static_cast<std::uint32_t>(p - r_->log);
      parent_ = c.current_;
      c.current_ = r_;
    }
    span(const span&) = delete;
    span& operator=(const span&) = delete;
    ~span() {
      r_->end = beeline::detail::ticks_now();
      c_.current_ = parent_;
      c_.push(r_);
    }

   private:
    collector& c_;
    record* r_;
    record* parent_;
  };

 private:
  // Records the consumer gave back first (recently used, likely still in a cache), as the library's threads
  // take theirs; records never used only when none came back.
  record* take() noexcept {
    if (!recycled_ && returned_.load(std::memory_order_relaxed))
      recycled_ = returned_.exchange(nullptr, std::memory_order_acquire);
    record** from = recycled_ ? &recycled_ : &fresh_;
    while (!*from) {  // every record in flight: wait for the consumer
      std::this_thread::yield();
      recycled_ = returned_.exchange(nullptr, std::memory_order_acquire);
      from = &recycled_;
    }
    record* r = *from;
    *from = r->next_free;
    return r;
  }
  // The ring never overflows: it has a cell for every record of the pool.
  void push(record* r) noexcept {
    const std::uint64_t t = tail_.load(std::memory_order_relaxed);
    cells_[t & (ring_size - 1)] = r;
    tail_.store(t + 1, std::memory_order_release);
  }
  std::uint64_t next_id() noexcept {  // xorshift64, never 0
    rng_ ^= rng_ << 13;
    rng_ ^= rng_ >> 7;
    rng_ ^= rng_ << 17;
    return rng_ | 1;
  }
  void consume() {
    std::uint64_t head = 0;
    std::uint64_t sum = 0;
    while (!stop_.load(std::memory_order_relaxed)) {
      const std::uint64_t tail = tail_.load(std::memory_order_acquire);
      if (tail == head) {
        std::unique_lock lk(mutex_);
        if (!active_) {
          active_cv_.wait(lk, [&] { return active_ || stop_.load(); });
          continue;
        }
        lk.unlock();
        std::this_thread::sleep_for(std::chrono::microseconds(50));
        continue;
      }
      record* first = nullptr;
      record* last = nullptr;
      for (; head < tail; ++head) {
        record* r = cells_[head & (ring_size - 1)];
        for (std::uint32_t i = 0; i < r->used; i += 64)  // a word of every line the log uses
          sum += static_cast<unsigned char>(r->log[i]);
        sum += r->end - r->start + r->span_id + r->parent_id;
        r->next_free = first;
        first = r;
        if (!last) last = r;
      }
      record* old = returned_.load(std::memory_order_relaxed);
      do {
        last->next_free = old;
      } while (
          !returned_.compare_exchange_weak(old, first, std::memory_order_release, std::memory_order_relaxed));
    }
    sink_ = sum;
  }

  std::unique_ptr<record[]> pool_;
  std::unique_ptr<record*[]> cells_;
  // The producer's (one thread):
  alignas(64) std::atomic<std::uint64_t> tail_{0};
  record* fresh_ = nullptr;     // never used
  record* recycled_ = nullptr;  // given back by the consumer
  record* current_ = nullptr;
  std::uint64_t rng_ = 0x9E3779B97F4A7C15u;
  // The consumer's:
  alignas(64) std::atomic<record*> returned_{nullptr};
  std::atomic<bool> stop_{false};
  std::uint64_t sink_ = 0;
  std::mutex mutex_;
  std::condition_variable active_cv_;
  bool active_ = false;  // guarded by mutex_
  std::thread consumer_;
};

}  // namespace bench::span_floor
