// Private: what the HTTP exporters share: the client, in-order settlement, and the counters behind `stats()`.
#pragma once

#include <beeline/http_exporter.hpp>

#include "export/http_client.hpp"
#include "export/settle_queue.hpp"

#include <atomic>
#include <cstdint>
#include <string>

namespace beeline::detail {

class http_batch_exporter : public http_exporter {
 public:
  http_batch_exporter(http_target target, http_options options)
      : client_(std::move(target), std::move(options), "beeline-cpp/" BEELINE_VERSION_STRING) {}
  // A derived exporter's destructor must call `client_.shutdown()` itself, first: the client's callbacks use
  // the derived class, which is gone by the time this destructor runs.
  ~http_batch_exporter() override = default;

  void start(export_listener& listener) override {
    settle_.start(listener);
    client_.on_retry([&listener](const std::string& error) { listener.attempt_failed(error); });
  }
  void shutdown() override { client_.shutdown(); }
  void interrupt() noexcept override { client_.shutdown(); }

  http_exporter_stats stats() const override {
    http_exporter_stats s = client_.stats();
    s.batches = batches_.load(std::memory_order_relaxed);
    s.events_sent = sent_.load(std::memory_order_relaxed);
    s.events_rejected = rejected_.load(std::memory_order_relaxed);
    s.events_failed = failed_.load(std::memory_order_relaxed);
    s.bad_responses += unreadable_.load(std::memory_order_relaxed);
    return s;
  }

 protected:
  /// A part of batch `seq` holding `spans` spans failed for good.
  void settle_failed(std::uint64_t seq, std::size_t spans, const std::string& error) {
    failed_.fetch_add(spans, std::memory_order_relaxed);
    settle_.complete(seq, 0, spans, error);
  }
  /// A part of batch `seq` was delivered; the backend refused `refused` of its spans (`reason`).
  void settle_delivered(std::uint64_t seq, std::size_t accepted, std::size_t refused,
                        const std::string& reason) {
    sent_.fetch_add(accepted, std::memory_order_relaxed);
    rejected_.fetch_add(refused, std::memory_order_relaxed);
    settle_.complete(seq, accepted, refused, reason);
  }

  /// A part of batch `seq` was delivered: the backend took `accepted` of its spans and refused `refused`
  /// (`reason`); the outcome of `unknown` more cannot be known (`unknown_reason`), so they count as failed.
  void settle_partly(std::uint64_t seq, std::size_t accepted, std::size_t refused, const std::string& reason,
                     std::size_t unknown, const std::string& unknown_reason) {
    sent_.fetch_add(accepted, std::memory_order_relaxed);
    rejected_.fetch_add(refused, std::memory_order_relaxed);
    failed_.fetch_add(unknown, std::memory_order_relaxed);
    std::string why = refused ? reason : std::string();
    if (unknown) why += (why.empty() ? "" : "; ") + unknown_reason;
    settle_.complete(seq, accepted, refused + unknown, why);
  }

  settle_queue settle_;
  http_client client_;
  std::atomic<std::uint64_t> batches_{0};
  std::atomic<std::uint64_t> rejected_{0};    // also annotations refused one by one (Honeycomb)
  std::atomic<std::uint64_t> unreadable_{0};  // 2xx responses whose body could not be understood

 private:
  std::atomic<std::uint64_t> sent_{0};
  std::atomic<std::uint64_t> failed_{0};
};

}  // namespace beeline::detail
