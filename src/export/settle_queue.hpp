// Private: reports an asynchronous exporter's batches to the tracer in the order they were accepted, though
// their requests complete in any order (several are in flight at once, some are retried).
#pragma once

#include <beeline/exporter.hpp>

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>

namespace beeline::detail {

class settle_queue {
 public:
  void start(export_listener& listener) {
    std::lock_guard lk(mutex_);
    listener_ = &listener;
  }

  /// A new batch made of `parts` requests; returns its number for `complete`.
  std::uint64_t open(std::size_t parts) {
    std::lock_guard lk(mutex_);
    const std::uint64_t seq = next_++;
    batches_.push_back({seq, parts, 0, 0, {}});
    if (parts == 0) drain();
    return seq;
  }

  /// One request of batch `seq` finished. Settles, in order, every batch whose requests have all finished.
  void complete(std::uint64_t seq, std::size_t exported, std::size_t failed, const std::string& error) {
    std::lock_guard lk(mutex_);
    for (batch& b : batches_) {
      if (b.seq != seq) continue;
      b.exported += exported;
      b.failed += failed;
      if (failed && b.error.empty()) b.error = error;
      if (b.parts_left) --b.parts_left;
      break;
    }
    drain();
  }

 private:
  struct batch {
    std::uint64_t seq;
    std::size_t parts_left;
    std::size_t exported;
    std::size_t failed;
    std::string error;
  };

  // Under the mutex, so two threads never settle out of order.
  void drain() {
    while (!batches_.empty() && batches_.front().parts_left == 0) {
      const batch& b = batches_.front();
      if (listener_) listener_->settled(b.exported, b.failed, b.error);
      batches_.pop_front();
    }
  }

  std::mutex mutex_;
  export_listener* listener_ = nullptr;
  std::deque<batch> batches_;
  std::uint64_t next_ = 0;
};

}  // namespace beeline::detail
