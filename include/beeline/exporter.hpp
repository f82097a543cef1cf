// Where finished spans go: a small interface and the built-in exporters.
//
// The export worker calls `export_batch` on its own thread with events that were sampled and passed the
// presend hook. An exporter reports how many it delivered; the rest are counted as dropped. Exporters never
// run on the application's threads.
#pragma once

#include <beeline/event.hpp>

#include <cstdio>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

namespace beeline {

/// The outcome of one `export_batch` call.
struct export_result {
  std::size_t exported = 0;  ///< events delivered
  std::size_t failed = 0;    ///< events definitively lost
  std::string error;         ///< why, when failed > 0
  /// Events accepted for delivery later (an asynchronous exporter); their outcome comes through
  /// `export_listener::settled`.
  std::size_t pending = 0;
};

/// Where an asynchronous exporter reports the outcome of batches it accepted with `pending > 0`.
class export_listener {
 public:
  /// One call per accepted batch, in the order the batches were accepted, from any thread. `error` says why
  /// when `failed > 0`.
  virtual void settled(std::size_t exported, std::size_t failed, std::string_view error) noexcept = 0;
  /// A delivery attempt failed and will be retried (`error`: connection refused, TLS, the HTTP status and the
  /// start of the body...), from any thread. For the log; the tracer rate-limits it.
  virtual void attempt_failed(std::string_view error) noexcept { (void)error; }

 protected:
  ~export_listener() = default;
};

/// A destination for finished spans.
///
/// A synchronous exporter delivers in `export_batch` and reports the outcome in its result. An asynchronous
/// one (the network exporters) copies what it needs, returns `pending = batch.size()` and reports later
/// through the listener given to `start`; it may block in `export_batch` while it has too much in flight (the
/// worker waits, the tracer's queue absorbs the backlog, the application never waits). `flush` waits for
/// settled outcomes, so it also covers what is in flight.
class exporter {
 public:
  virtual ~exporter() = default;
  /// Called once on the worker thread before the first batch. The listener outlives the exporter's use of it
  /// (until `shutdown` returns).
  virtual void start(export_listener& listener) { (void)listener; }
  /// Delivers a batch. Called on the export worker thread only; the events are valid during the call. An
  /// exception counts the batch as failed.
  virtual export_result export_batch(std::span<const event> batch) = 0;
  /// Called once on the worker thread after the last batch, when the tracer shuts down (its flush has already
  /// waited for what was in flight, up to the shutdown deadline). An asynchronous exporter stops promptly,
  /// settling what is still in flight as failed.
  virtual void shutdown() {}
  /// Called from the thread shutting the tracer down once its deadline has passed, possibly while the worker
  /// is inside `export_batch`: stop waiting and settle what is in flight as failed, so `export_batch` returns
  /// promptly from now on. `shutdown` still follows on the worker.
  virtual void interrupt() noexcept {}
};

/// Appends one event as a JSON object (`{"time","samplerate","dataset","data"}`, Honeycomb's event shape plus
/// the dataset) to `out`, without a newline. `dataset` is left out when `with_dataset` is false, which gives
/// exactly one element of Honeycomb's batch API body.
void append_event_json(const event& ev, std::string& out, bool with_dataset = true);
/// Appends span event or link `i` of `ev` as an event of its own, as Honeycomb's beelines send them: the
/// tracer's fields and the annotation's, `name` (span events), `trace.trace_id`, `trace.parent_id` (the
/// span's id), `meta.annotation_type` (`span_event` or `link`), `trace.link.trace_id` and
/// `trace.link.span_id` (links), `duration_ms` 0; time is the span event's (the span's start for a link).
void append_annotation_json(const event& ev, std::size_t i, std::string& out, bool with_dataset = true);

/// Writes one JSON event per line to a file (appending) or, for "" and "-", to stdout. The default exporter
/// when no write key or endpoint is configured. Throws `std::invalid_argument` if the file cannot be opened.
std::shared_ptr<exporter> make_jsonl_exporter(const std::string& path = "");

/// Accepts every event and sends nothing (benchmarks, disabled tracing).
std::shared_ptr<exporter> make_discard_exporter();

/// Keeps every exported event as its JSON line, for tests: inspect exactly what would be sent.
class memory_exporter final : public exporter {
 public:
  export_result export_batch(std::span<const event> batch) override;

  /// The JSON lines exported so far, in export order.
  std::vector<std::string> lines() const;
  /// The number of `export_batch` calls so far.
  std::size_t batch_count() const;
  void clear();

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
  std::size_t batches_ = 0;
  std::string buffer_;
};

}  // namespace beeline
