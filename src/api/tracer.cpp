#include <beeline/exporter.hpp>
#include <beeline/http_exporter.hpp>
#include <beeline/sampler.hpp>
#include <beeline/tracer.hpp>

#include "api/tracer_core.hpp"
#include "core/fence.hpp"
#include "core/ids.hpp"
#include "core/prefetch.hpp"
#include "core/thread_name.hpp"
#include "export/http_client.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <optional>
#include <stdexcept>

namespace beeline::detail {
namespace {

std::string_view trim(std::string_view s) noexcept {
  const auto first = s.find_first_not_of(" \t\r\n\f\v");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n\f\v");
  return s.substr(first, last - first + 1);
}

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "unknown";
  return buf;
}

std::string default_service_name() {
  return fmt::format("unknown_service:{}",
                     program_invocation_short_name ? program_invocation_short_name : "cpp");
}

std::atomic<std::uint64_t> next_tracer_id{1};

// Records and trace states move between a thread's cache and the shared pools this many at a time.
constexpr std::uint32_t cache_refill = 32;
constexpr std::uint32_t cache_max = 256;  // past this a thread's cache gives half back
// Records the worker holds for a thread that has not taken them; past this they go to the shared pool, so a
// thread that stops making spans after a burst (or only finishes spans others started) cannot hoard them.
constexpr std::uint64_t max_returned = 16 * cache_max;
// Every this many spans a thread checks its rate; a fast thread wakes a sleeping worker (see `finish`).
constexpr std::uint64_t rate_mark = 64;

// A thread's collectors, one per tracer it has used. `last` answers nearly every lookup.
struct collector_table {
  std::uint64_t last_id = 0;
  thread_collector* last = nullptr;
  std::vector<std::pair<std::uint64_t, thread_collector*>> entries;
  ~collector_table();
};
// Trivially destructible, so still readable while the thread's other thread-local objects are destroyed: a
// span finished after the table is gone goes through the overflow queue.
thread_local bool table_gone = false;
thread_local collector_table table;

collector_table::~collector_table() {
  table_gone = true;
  last_id = 0;
  last = nullptr;
  for (auto& e : entries)
    tracer_core::detach_thread(e.second);
  entries.clear();
}

// Upstream ids are kept verbatim; bound them so a hostile header cannot make every span carry a huge id.
constexpr std::size_t max_upstream_id_bytes = 256;
constexpr std::size_t max_tracestate_bytes = 512;  // W3C: what every vendor must be able to carry

}  // namespace

tracer_core::tracer_core(config cfg)
    : cfg_(std::move(cfg)),
      overflow_(std::min<std::size_t>(std::max<std::size_t>(cfg_.queue_capacity, 2), 1024)),
      id_(next_tracer_id.fetch_add(1, std::memory_order_relaxed)) {
  service_name_ = cfg_.service_name.empty() ? default_service_name() : cfg_.service_name;
  hostname_ = cfg_.local_hostname.empty() ? host_name() : cfg_.local_hostname;

  // Dataset rules of the Node Beeline (see docs/differences.md): a classic key names its dataset; with a
  // newer key the service name is the dataset.
  if (is_classic_key(cfg_.write_key)) {
    dataset_ = std::string(trim(cfg_.dataset));
    if (dataset_.empty()) {
      dataset_ = "beeline-cpp";
      if (!cfg_.write_key.empty())
        log(log_level::warning, "empty dataset configuration option, using 'beeline-cpp'");
    }
  } else {
    const std::string_view svc = trim(service_name_);
    dataset_ = svc.empty() || svc.starts_with("unknown_service") ? "unknown_service" : std::string(svc);
    if (!trim(cfg_.dataset).empty())
      log(log_level::warning, fmt::format("dataset should be empty - sending data to '{}'", dataset_));
  }

  if (!(cfg_.sample_rate >= 1)) {
    log(log_level::warning, fmt::format("sample_rate {} is below 1; using 1", cfg_.sample_rate));
    cfg_.sample_rate = 1;
  }
  const std::size_t queue_capacity = std::max<std::size_t>(cfg_.queue_capacity, 2);
  cfg_.batch_size = std::clamp<std::size_t>(cfg_.batch_size, 1, queue_capacity);
  // The queue capacity is shared out among the threads' rings: each starts small and doubles when half full
  // while capacity is left; past it each further thread still gets a small ring (see docs/design.md).
  ring_budget_left_ = queue_capacity;
  min_ring_ = std::min<std::size_t>(64, std::bit_floor(queue_capacity));
  if (cfg_.send_interval <= std::chrono::milliseconds::zero())
    cfg_.send_interval = std::chrono::milliseconds(1);
  // An exporter that was asked for and cannot work is refused here (std::invalid_argument), never replaced
  // by another: spans must not go to stdout when the user asked for the network or a file.
  if (!cfg_.exporter) {
    if (!cfg_.api_host.empty()) {
      std::string error;
      if (!parse_http_url(cfg_.api_host, error)) throw std::invalid_argument("bad api_host: " + error);
    }
    if (!cfg_.write_key.empty()) {
      honeycomb_exporter_options hc;
      if (!cfg_.api_host.empty()) hc.api_host = cfg_.api_host;
      hc.write_key = cfg_.write_key;
      hc.http = cfg_.http;
      cfg_.exporter = make_honeycomb_exporter(std::move(hc));
    } else {
      cfg_.exporter = make_jsonl_exporter(cfg_.jsonl_path);
    }
  }

  init_tick_clock();
  limits_ = {cfg_.max_fields_per_span, cfg_.max_value_bytes, cfg_.max_span_bytes, cfg_.max_key_bytes};
  // Trace-level fields are merged in on the worker: room for them on top of the span's own.
  finalize_limits_ = {2 * cfg_.max_fields_per_span, cfg_.max_value_bytes, 2 * cfg_.max_span_bytes,
                      cfg_.max_key_bytes};
  global_limits_ = {SIZE_MAX, SIZE_MAX};
  field_counters_ = {&counters_.truncated_values, &counters_.dropped_fields, &counters_.truncated_keys};
  calibrate_clock();
  asymmetric_fences_init();
  // 64 spans within 2 ms: more than 32,000 spans/s from one thread.
  fast_ticks_ = static_cast<std::uint64_t>(
      2e6 / std::max(1e-9, tick_state.use_tsc.load() ? tick_state.ns_per_tick.load() : 1.0));
  worker_ = std::thread([this] {
    name_this_thread("beeline-export");
    run_worker();
  });
}

tracer_core::~tracer_core() {
  if (worker_.joinable()) {
    // Only reachable if shutdown() was never called; never leave a joinable thread behind.
    stop_.store(true);
    wake_.notify();
    worker_.join();
  }
  // Every ring is empty (each queued record held a reference to this core). Threads still holding a
  // collector see it is orphaned at their next lookup or at their exit.
  for (thread_collector* c : collectors_) {
    // A thread may still be between publishing its last span (which the worker has processed, releasing
    // the last trace reference) and its last read of this core: wait for it to leave `finish`.
    while (c->in_finish.load(std::memory_order_acquire))
      std::this_thread::yield();
    {
      std::lock_guard lk(c->life);
      c->core_alive = false;
    }
    c->release();
  }
}

thread_collector* tracer_core::collector() noexcept {
  collector_table& t = table;
  if (t.last_id == id_) [[likely]]
    return t.last;
  if (table_gone) return nullptr;
  for (const auto& e : t.entries)
    if (e.first == id_) {
      t.last_id = id_;
      t.last = e.second;
      return e.second;
    }
  return make_collector();
}

thread_collector* tracer_core::make_collector() noexcept {
  collector_table& t = table;
  try {
    // Forget collectors of tracers that are gone (their ids never come back).
    for (auto it = t.entries.begin(); it != t.entries.end();) {
      bool alive;
      {
        std::lock_guard lk(it->second->life);
        alive = it->second->core_alive;
      }
      if (alive) {
        ++it;
      } else {
        it->second->release();
        it = t.entries.erase(it);
      }
    }
    t.entries.reserve(t.entries.size() + 1);
    std::unique_ptr<thread_collector> c;
    {
      std::lock_guard lk(collectors_mutex_);
      collectors_.reserve(collectors_.size() + 1);
      const std::size_t capacity = min_ring_;
      const std::size_t taken = std::min(capacity, ring_budget_left_);
      c = std::make_unique<thread_collector>(this, capacity, taken);
      ring_budget_left_ -= taken;
      ring_budget_gone_.store(ring_budget_left_ == 0, std::memory_order_relaxed);
      collectors_.push_back(c.get());
    }
    t.entries.emplace_back(id_, c.get());
    t.last_id = id_;
    t.last = c.get();
    return c.release();
  } catch (...) {
    return nullptr;  // out of memory: this span takes the overflow queue
  }
}

void tracer_core::detach_thread(thread_collector* c) noexcept {
  {
    std::lock_guard lk(c->life);
    if (c->core_alive) {
      // The core cannot go away while we hold `life`. Give the caches back so a thread's exit strands
      // nothing.
      tracer_core& core = *c->core;
      const auto give_back = [](auto& pool, std::uint32_t head) {
        if (!head) return;
        auto* first = pool.at(head - 1);
        auto* last = first;
        while (const std::uint32_t next = last->pool_next.load(std::memory_order_relaxed))
          last = pool.at(next - 1);
        pool.push_chain(first, last);
      };
      give_back(core.records_, std::exchange(c->free_records, 0));
      give_back(core.traces_, std::exchange(c->free_traces, 0));
      give_back(core.records_,
                static_cast<std::uint32_t>(c->returned.exchange(0, std::memory_order_acquire)));
      c->thread_exited.store(true, std::memory_order_release);
    }
  }
  c->release();
}

bool tracer_core::give_records(thread_collector& c, span_record* first, span_record* last,
                               std::uint32_t n) noexcept {
  if (c.thread_exited.load(std::memory_order_acquire)) return false;
  // In front of what the thread has not taken yet: the records cleared last are the first it reuses. The
  // thread takes the whole chain with one exchange when its cache runs dry. Should the head come back with
  // the same record and count between the load and the compare-exchange (the thread took the chain and the
  // worker gave that record back first again), the link below is still right: it names the record.
  std::uint64_t old = c.returned.load(std::memory_order_relaxed);
  for (;;) {
    const std::uint64_t count = (old >> 32) + n;
    if (count > max_returned) return false;  // a thread that only finishes spans others started
    last->pool_next.store(static_cast<std::uint32_t>(old), std::memory_order_relaxed);
    if (c.returned.compare_exchange_weak(old, (count << 32) | (first->pool_index + 1),
                                         std::memory_order_release, std::memory_order_relaxed))
      return true;
  }
}

void tracer_core::retire_collectors() noexcept {
  for (auto it = collectors_.begin(); it != collectors_.end();) {
    thread_collector* c = *it;
    if (!c->thread_exited.load(std::memory_order_acquire) ||
        c->head.load(std::memory_order_relaxed) != c->tail.load(std::memory_order_acquire)) {
      ++it;
      continue;
    }
    // A chain given back after the thread took its last one would otherwise be lost to the pool.
    if (const auto r = static_cast<std::uint32_t>(c->returned.exchange(0, std::memory_order_acquire))) {
      span_record* first = records_.at(r - 1);
      span_record* last = first;
      while (const std::uint32_t next = last->pool_next.load(std::memory_order_relaxed))
        last = records_.at(next - 1);
      records_.push_chain(first, last);
    }
    retired_enqueued_ += c->tail.load(std::memory_order_relaxed);
    ring_budget_left_ += c->budget;
    ring_budget_gone_.store(ring_budget_left_ == 0, std::memory_order_relaxed);
    it = collectors_.erase(it);
    c->release();
  }
}

span_record* tracer_core::take_record(thread_collector& c) noexcept {
  if (c.free_records == 0) [[unlikely]] {
    // Records the worker gave back first (they were this thread's), else a bulk refill from the pool.
    const std::uint64_t r =
        c.returned.load(std::memory_order_relaxed) ? c.returned.exchange(0, std::memory_order_acquire) : 0;
    if (r) {
      c.free_records = static_cast<std::uint32_t>(r);
      c.free_record_count = static_cast<std::uint32_t>(r >> 32);
    } else {
      for (std::uint32_t i = 0; i < cache_refill; ++i) {
        span_record* rec = records_.pop(chunk_preparer());
        if (!rec) break;
        rec->pool_next.store(c.free_records, std::memory_order_relaxed);
        c.free_records = rec->pool_index + 1;
        ++c.free_record_count;
      }
      if (c.free_records == 0) return nullptr;
    }
  }
  span_record* rec = records_.at(c.free_records - 1);
  c.free_records = rec->pool_next.load(std::memory_order_relaxed);
  --c.free_record_count;
  if (c.free_records) {
    // The next record was last written by the worker, on the other core: ask now, for writing, for the lines
    // the next span writes first (its header, its first fields and the start of its text) and for its finish
    // block, which the worker read (so it is shared, and the first store to it would wait). Addresses only:
    // reading the record's buffer pointers here would wait for the very miss the prefetch is meant to hide
    // (the inline storage is where a record's first fields and text go).
    const auto* r = records_.at(c.free_records - 1);
    const char* fields = reinterpret_cast<const char*>(&r->fields);
    const char* text = reinterpret_cast<const char*>(&r->arena);
    prefetch_for_write(r);
    prefetch_for_write(fields);
    prefetch_for_write(fields + 64);
    prefetch_for_write(text);
    prefetch_for_write(text + 64);
    prefetch_for_write(&r->finished_on);  // the finish block, which the worker read
  }
  return rec;
}

void tracer_core::give_record(thread_collector& c, span_record* rec) noexcept {
  rec->pool_next.store(c.free_records, std::memory_order_relaxed);
  c.free_records = rec->pool_index + 1;
  if (++c.free_record_count <= cache_max) return;
  // Too many for one thread: half go back to the pool in one operation.
  span_record* first = records_.at(c.free_records - 1);
  span_record* last = first;
  for (std::uint32_t i = 1; i < cache_max / 2; ++i)
    last = records_.at(last->pool_next.load(std::memory_order_relaxed) - 1);
  c.free_records = last->pool_next.load(std::memory_order_relaxed);
  c.free_record_count -= cache_max / 2;
  records_.push_chain(first, last);
}

trace_state* tracer_core::take_trace(thread_collector& c) noexcept {
  if (c.free_traces == 0) [[unlikely]] {
    for (std::uint32_t i = 0; i < cache_refill; ++i) {
      trace_state* t = traces_.pop();
      if (!t) break;
      t->pool_next.store(c.free_traces, std::memory_order_relaxed);
      c.free_traces = t->pool_index + 1;
      ++c.free_trace_count;
    }
    if (c.free_traces == 0) return nullptr;
  }
  trace_state* t = traces_.at(c.free_traces - 1);
  c.free_traces = t->pool_next.load(std::memory_order_relaxed);
  --c.free_trace_count;
  return t;
}

bool tracer_core::grow_ring(thread_collector& c) noexcept {
  if (ring_budget_gone_.load(std::memory_order_relaxed)) return false;
  try {
    std::lock_guard lk(collectors_mutex_);
    // Double the ring's limit, or take what is left of the queue capacity: the whole capacity can be used,
    // whatever the other rings hold (cells are a power of two, the limit need not be).
    const std::uint64_t more = std::min<std::uint64_t>(c.limit, ring_budget_left_);
    if (more == 0) return false;
    const std::uint64_t limit = c.limit + more;
    const std::uint64_t capacity = std::bit_ceil(limit);
    if (capacity > c.mask + 1) {
      std::unique_ptr<span_record*[]> cells;
      std::uint64_t new_mask = capacity - 1;
      if (c.spare && c.spare_capacity >= capacity) {
        cells = std::move(c.spare);
        new_mask = c.spare_capacity - 1;
        c.spare_capacity = 0;
      } else {
        cells.reset(new span_record*[capacity]);
      }
      // A head stored by the worker after this read only means a few processed cells are copied too.
      const std::uint64_t t = c.tail.load(std::memory_order_relaxed);
      for (std::uint64_t i = c.head.load(std::memory_order_acquire); i < t; ++i)
        cells[i & new_mask] = c.cells[i & c.mask];
      c.cells = std::move(cells);
      c.mask = new_mask;
    }
    c.limit = limit;
    ring_budget_left_ -= more;
    ring_budget_gone_.store(ring_budget_left_ == 0, std::memory_order_relaxed);
    c.budget += more;
    return true;
  } catch (...) {
    return false;
  }
}

void tracer_core::prepare_ring(thread_collector& c, std::uint64_t held) noexcept {
  // A ring a quarter full when the worker comes may reach half full, where its thread grows it, before the
  // next pass: have the larger ring ready, if the queue capacity would grant it.
  if (c.spare || held < c.limit / 4 || ring_budget_left_ == 0) return;
  const std::uint64_t capacity = std::bit_ceil(c.limit + std::min<std::uint64_t>(c.limit, ring_budget_left_));
  if (capacity <= c.mask + 1) return;
  c.spare.reset(new (std::nothrow) span_record*[capacity]);
  if (c.spare) c.spare_capacity = capacity;
}

void tracer_core::request_work() noexcept {
  work_requested_.store(true, std::memory_order_seq_cst);
  // The exchange makes one producer pay for the system call, and only while the worker sleeps.
  if (worker_sleeping_.load(std::memory_order_seq_cst) &&
      worker_sleeping_.exchange(false, std::memory_order_seq_cst))
    wake_.notify();
}

void tracer_core::log(log_level level, std::string_view message) const noexcept {
  try {
    if (cfg_.logger) {
      cfg_.logger(level, message);
    } else if (level >= log_level::warning) {
      fmt::print(stderr, "beeline: {}\n", message);
    }
  } catch (...) {
    // A logger that throws must not take the tracer down.
  }
}

void tracer_core::note_out_of_order_finish() noexcept {
  counters_.out_of_order_finishes.fetch_add(1, std::memory_order_relaxed);
  if (out_of_order_logged_.load(std::memory_order_relaxed) ||
      out_of_order_logged_.exchange(true, std::memory_order_relaxed))
    return;
  log(log_level::warning,
      "spans finished out of order on one context slot, so later spans may get the wrong parent or trace. "
      "Usual cause: tasks sharing a slot, i.e. coroutines started with plain asio::co_spawn on an untraced "
      "executor, or concurrent branches (&&, ||, make_parallel_group) awaited without beeline::forked. "
      "Fix: run them on beeline::io_context / beeline::thread_pool, or start them with beeline::spawn, and "
      "wrap each concurrent branch in beeline::forked (or finish spans in reverse order of starting them). "
      "Logged once; stats().out_of_order_finishes counts every occurrence");
}

void tracer_core::note_context_outside_span() noexcept {
  counters_.context_outside_span.fetch_add(1, std::memory_order_relaxed);
  if (context_outside_span_logged_.load(std::memory_order_relaxed) ||
      context_outside_span_logged_.exchange(true, std::memory_order_relaxed))
    return;
  log(log_level::warning,
      "add_context called in a task with no span of its own (a function bound with bind_function_to_trace, "
      "or a task forked with beeline::spawn / forked / bind_current, before it started a span): the fields "
      "were not added, because the parent span belongs to another task. Fix: start a span in the task "
      "(beeline::start_span or with_span) and add the fields to it, or use add_trace_context for fields of "
      "the whole trace. Logged once; stats().context_outside_span counts every occurrence");
}

void tracer_core::calibrate_clock() noexcept {
  // Spans read only the tick clock; their wall-clock start is steady time plus this offset, re-measured by
  // the worker before every batch so clock adjustments are followed.
  recalibrate_tick_clock();
  const std::int64_t s1 = steady_clock_ns();
  const std::int64_t wall = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
  const std::int64_t s2 = steady_clock_ns();
  wall_offset_ns_.store(wall - (s1 + (s2 - s1) / 2), std::memory_order_relaxed);
}

trace_state* tracer_core::new_trace(const trace_context* upstream) noexcept {
  thread_collector* c = collector();
  trace_state* t = c ? take_trace(*c) : traces_.pop();
  if (!t) [[unlikely]] {  // the pool is at its bound: no span is made, and that is counted
    counters_.spans_not_started.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  try {
    if (upstream && !upstream->trace_id.empty()) {
      assign(t->trace_id_text, std::string_view(upstream->trace_id).substr(0, max_upstream_id_bytes));
      assign(t->upstream_parent_text, std::string_view(upstream->parent_id).substr(0, max_upstream_id_bytes));
      assign(t->dataset_text, std::string_view(upstream->dataset).substr(0, max_upstream_id_bytes));
      t->trace_flags = upstream->trace_flags;
      t->tracestate.assign(upstream->tracestate, 0,
                           std::min(upstream->tracestate.size(), max_tracestate_bytes));
    } else {
      char hex[32];
      to_hex16(random_id(), hex);
      to_hex16(random_id(), hex + 16);
      assign(t->trace_id_text, std::string_view(hex, 32));
      t->upstream_parent_text.clear();
      t->dataset_text.clear();
      t->trace_flags = 1;
      t->tracestate.clear();
    }
    // Fields may come without ids (W3C baggage alone): the new trace starts with them.
    if (upstream && !upstream->fields.empty()) {
      auto* node = new trace_fields_node{upstream->fields, nullptr, 0, 0, {}};
      if (node->fields.size() > cfg_.max_fields_per_span) {
        counters_.dropped_fields.fetch_add(node->fields.size() - cfg_.max_fields_per_span,
                                           std::memory_order_relaxed);
        node->fields.resize(cfg_.max_fields_per_span);
      }
      node->retained = node->fields.size();
      for (const owned_field& o : node->fields)
        node->retained_bytes += o.key.size() + o.value.view().as_string().size();
      t->fields.store(node, std::memory_order_release);
    }
  } catch (...) {
    traces_.push(t);
    counters_.spans_not_started.fetch_add(1, std::memory_order_relaxed);  // out of memory for its fields
    return nullptr;
  }
  if (cfg_.trace_sampler) {
    // The OpenTelemetry samplers decide here, and the decision travels downstream in the sampled flag.
    t->keep = otel_sample(*cfg_.trace_sampler, t->trace_id(), upstream);
    t->trace_flags = static_cast<std::uint8_t>(t->keep ? (t->trace_flags | 1) : (t->trace_flags & ~1));
    t->sample_rate = otel_sample_rate(*cfg_.trace_sampler, upstream);
  } else {
    t->keep = cfg_.sampler || cfg_.sample_rate == 1 || deterministic_keep(t->trace_id(), cfg_.sample_rate);
    t->sample_rate = static_cast<std::uint32_t>(std::min(std::lround(cfg_.sample_rate), long{UINT32_MAX}));
  }
  t->core = this;
  add_ref();
  t->refs.store(1, std::memory_order_release);
  return t;
}

void tracer_core::release_trace(trace_state* t, std::uint32_t n, std::uint32_t* deferred_core_refs) noexcept {
  if (t->refs.fetch_sub(n, std::memory_order_acq_rel) != n) return;
  t->fields_bound_logged.store(false, std::memory_order_relaxed);
  const trace_fields_node* node = t->fields.exchange(nullptr, std::memory_order_acquire);
  while (node)
    delete std::exchange(node, node->prev);
  t->core = nullptr;
  traces_.push(t);
  if (deferred_core_refs)
    ++*deferred_core_refs;  // given back by the caller in one write
  else
    release();  // may delete this: nothing after it
}

span_record* tracer_core::new_record(trace_state* trace, std::uint64_t parent_id, bool is_root) noexcept {
  thread_collector* c = collector();
  span_record* rec = c ? take_record(*c) : records_.pop(chunk_preparer());
  if (!rec) [[unlikely]] {  // as for trace states in `new_trace`
    counters_.spans_not_started.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  // The locked increment first: it waits for this thread's earlier stores to reach their lines, and the
  // clearing below writes lines the worker touched on the other core.
  trace->refs.fetch_add(1, std::memory_order_relaxed);
  reset_record(*rec);  // records come back from the worker as they were exported
  rec->trace = trace;
  rec->span_id = random_id();
  rec->parent_id = parent_id;
  rec->is_root = is_root;
  rec->start_ticks = ticks_now();
  return rec;
}

void tracer_core::set(span_record& rec, std::string_view key, field_value v) noexcept {
  set_field(rec, key, v, limits_, field_counters_);
}

void tracer_core::set(span_record& rec, std::span<const field> f) noexcept {
  set_fields(rec, f, limits_, field_counters_);
}

void tracer_core::add_trace_fields(trace_state& trace, fields f, std::string_view prefix) {
  if (f.size() == 0) return;
  // Old versions live until the trace ends (spans may be reading them); these bound what one trace can hold.
  const std::size_t max_retained = 16 * std::max<std::size_t>(cfg_.max_fields_per_span, 1);
  const std::size_t max_retained_bytes = 4 * std::max<std::size_t>(cfg_.max_span_bytes, 1);
  // Values are cut to the same limit as span values, once, here.
  std::vector<owned_field> additions;
  std::vector<std::uint32_t> addition_hashes;  // as trace_fields_node::cut_key_hashes
  additions.reserve(f.size());
  addition_hashes.reserve(f.size());
  std::size_t refused_keys = 0;
  for (const field& fl : f) {
    std::string key(prefix);
    key.append(fl.key);
    const cut_key_result bounded = bound_key(key, cfg_.max_key_bytes);
    if (bounded.refused) {
      ++refused_keys;
      continue;
    }
    const std::uint32_t cut_hash = bounded.hash;
    if (bounded.key.size() < key.size()) {
      key.resize(bounded.key.size());
      counters_.truncated_keys.fetch_add(1, std::memory_order_relaxed);
    }
    field_value v = fl.value;
    if ((v.kind() == value_kind::string || v.kind() == value_kind::json) &&
        v.as_string().size() > cfg_.max_value_bytes) {
      counters_.truncated_values.fetch_add(1, std::memory_order_relaxed);
      v = v.kind() == value_kind::json ? field_value()
                                       : field_value(truncate_utf8(v.as_string(), cfg_.max_value_bytes));
    }
    additions.push_back({std::move(key), value(v)});
    addition_hashes.push_back(cut_hash);
  }
  counters_.dropped_fields.fetch_add(refused_keys, std::memory_order_relaxed);
  if (additions.empty()) return;
  const auto bytes_of = [](const field_list& l) {
    std::size_t n = 0;
    for (const owned_field& o : l)
      n += o.key.size() + o.value.view().as_string().size();
    return n;
  };
  const trace_fields_node* head = trace.fields.load(std::memory_order_acquire);
  for (;;) {
    auto node = std::make_unique<trace_fields_node>();
    if (head) {
      node->fields = head->fields;
      node->cut_key_hashes = head->cut_key_hashes;
    }
    node->cut_key_hashes.resize(node->fields.size());
    std::size_t refused = 0;
    for (std::size_t i = 0; i < additions.size(); ++i) {
      const owned_field& a = additions[i];
      auto it = std::find_if(node->fields.begin(), node->fields.end(),
                             [&](const owned_field& o) { return o.key == a.key; });
      if (it != node->fields.end()) {
        // Two keys cut to the same one: the first keeps the field.
        if (node->cut_key_hashes[static_cast<std::size_t>(it - node->fields.begin())] != addition_hashes[i])
          ++refused;
        else
          it->value = a.value;
      } else if (node->fields.size() < cfg_.max_fields_per_span) {
        node->fields.push_back(a);
        node->cut_key_hashes.push_back(addition_hashes[i]);
      } else {
        ++refused;
      }
    }
    node->prev = head;
    node->retained = (head ? head->retained : 0) + node->fields.size();
    node->retained_bytes = (head ? head->retained_bytes : 0) + bytes_of(node->fields);
    if (node->retained > max_retained || node->retained_bytes > max_retained_bytes) {
      counters_.dropped_fields.fetch_add(f.size(), std::memory_order_relaxed);
      if (!trace.fields_bound_logged.exchange(true, std::memory_order_relaxed))
        log(log_level::warning,
            "add_trace_context: too many updates to one trace's fields; further updates dropped");
      return;
    }
    // The compare-exchange fails if another task of the trace installed a version meanwhile: redo the merge
    // on top of it, so concurrent additions are never lost and readers never wait.
    if (trace.fields.compare_exchange_weak(head, node.get(), std::memory_order_acq_rel,
                                           std::memory_order_acquire)) {
      node.release();
      counters_.dropped_fields.fetch_add(refused, std::memory_order_relaxed);
      return;
    }
  }
}

void tracer_core::finish(span_record* rec) noexcept {
  const std::uint64_t rec_end = ticks_now();
  rec->end_ticks = rec_end;
  // A load and a store, not a locked read-modify-write: only this span's owner finishes it (its handle is
  // move-only), and a locked instruction would wait here for every store the span made so far to reach its
  // line, lines the worker read on the other core. A child started on another task at this very moment may
  // set `record_has_children` between the two; the store then drops the bit, the same outcome as that child
  // starting a moment later (after the finish), when it would see `record_finished` and leave the bit alone.
  const std::uint64_t state = rec->state.load(std::memory_order_relaxed);
  rec->state.store(state | record_finished, std::memory_order_release);
  rec->had_children = (state & record_has_children) != 0;
  thread_collector* c = collector();
  rec->finished_on = c;  // null: the overflow queue's, which the worker gives to the shared pool
  rec->finish_fields = static_cast<std::uint32_t>(rec->fields.size());
  rec->finish_field_capacity = static_cast<std::uint32_t>(rec->fields.capacity());
  rec->finish_text = static_cast<std::uint32_t>(rec->arena.size());
  rec->finish_text_capacity = static_cast<std::uint32_t>(rec->arena.capacity());
  trace_state* trace = rec->trace;
  if (!trace->keep) {
    counters_.dropped_sampler.fetch_add(1, std::memory_order_relaxed);
    recycle_to(c, rec);
    return;
  }
  rec->trace_fields = trace->fields.load(std::memory_order_acquire);
  if (stopped_.load(std::memory_order_acquire)) {
    counters_.dropped_after_shutdown.fetch_add(1, std::memory_order_relaxed);
    recycle_to(c, rec);
    return;
  }
  if (!c) [[unlikely]] {
    finish_overflow(rec);
    return;
  }
  // Everything below writes only this thread's lines: the record, the ring's cell and its tail. The worker's
  // head is read only when the ring looks full or past its high-water mark.
  const std::uint64_t t = c->tail.load(std::memory_order_relaxed);
  if (t - c->head_seen >= c->limit) [[unlikely]] {
    c->head_seen = c->head.load(std::memory_order_acquire);
    if (t - c->head_seen >= c->limit && !grow_ring(*c)) {
      counters_.dropped_queue_full.fetch_add(1, std::memory_order_relaxed);
      recycle_to(c, rec);
      return;
    }
  }
  c->cells[t & c->mask] = rec;
  c->in_finish.store(true, std::memory_order_relaxed);  // ordered before the tail by its release store
  c->tail.store(t + 1, std::memory_order_release);
  // A producer that re-checks "stopped" after pushing must not miss the final drain, and the drain must see
  // this push: the fence pairs with the shutdown's `heavy_fence` (src/core/fence.hpp).
  light_fence();
  if (stopped_.load(std::memory_order_relaxed)) [[unlikely]] {
    drain_after_stop(*c);
    c->in_finish.store(false, std::memory_order_release);
    return;
  }
  // A thread finishing spans fast calls a sleeping worker every `rate_mark` spans (one futex wake when it
  // sleeps, nothing when it is busy), so records come back while still in this core's cache; a slow thread
  // never does, and pays no system call.
  if (t + 1 - c->mark_tail >= rate_mark) [[unlikely]] {
    const std::uint64_t now = rec_end;
    if (now - c->mark_ticks < fast_ticks_ && worker_sleeping_.load(std::memory_order_relaxed)) request_work();
    c->mark_tail = t + 1;
    c->mark_ticks = now;
  }
  // Otherwise the worker comes on its send interval. A ring half full grows while the queue capacity allows,
  // so it settles at a size that holds a send interval's spans; a ring that cannot grow calls the worker.
  const std::uint64_t high_water = (c->limit + 1) / 2;
  if (t + 1 - std::max(c->head_seen, c->woke_at) >= high_water) [[unlikely]] {
    c->head_seen = c->head.load(std::memory_order_acquire);
    if (t + 1 - c->head_seen >= high_water && !grow_ring(*c)) {
      c->woke_at = t + 1;
      request_work();
    }
  }
  c->in_finish.store(false, std::memory_order_release);  // the tracer may go now
}

void tracer_core::finish_overflow(span_record* rec) noexcept {
  if (!overflow_.try_push(rec)) {
    counters_.dropped_queue_full.fetch_add(1, std::memory_order_relaxed);
    recycle(rec);
    return;
  }
  if (stopped_.load(std::memory_order_seq_cst)) {
    // The worker may have drained for the last time before our push landed: drop what is left ourselves.
    span_record* left;
    while (overflow_.try_pop(left)) {
      counters_.dropped_after_shutdown.fetch_add(1, std::memory_order_relaxed);
      recycle(left);
    }
    return;
  }
  if (overflow_.enqueue_position() - overflow_.dequeue_position() >= cfg_.batch_size) request_work();
}

void tracer_core::drain_after_stop(thread_collector& c) noexcept {
  std::lock_guard lk(c.consume);
  const std::uint64_t t = c.tail.load(std::memory_order_seq_cst);
  std::uint64_t h = c.head.load(std::memory_order_relaxed);
  for (; h < t; ++h) {
    counters_.dropped_after_shutdown.fetch_add(1, std::memory_order_relaxed);
    span_record* rec = c.cells[h & c.mask];
    trace_state* trace = rec->trace;
    reset_record(*rec);
    records_.push(rec);
    // The last record may carry the last reference to this core: nothing after the loop touches the core.
    release_trace(trace);
  }
  c.head.store(t, std::memory_order_release);
}

void tracer_core::recycle(span_record* rec) noexcept {
  trace_state* trace = rec->trace;
  reset_record(*rec);
  records_.push(rec);
  if (trace) release_trace(trace);  // last: may delete this
}

void tracer_core::recycle_to(thread_collector* c, span_record* rec) noexcept {
  trace_state* trace = rec->trace;
  reset_record(*rec);
  if (c)
    give_record(*c, rec);
  else
    records_.push(rec);
  if (trace) release_trace(trace);  // last: may delete this
}

namespace {
// The power-of-two class of `n` beyond an inline capacity of `inline_n`: 0 when it fits inline, else k for
// n <= inline_n << k.
std::size_t size_class(std::size_t n, std::size_t inline_n) noexcept {
  std::size_t k = 0;
  while (n > (inline_n << k))
    ++k;
  return k;
}

// The smallest class holding all but about one in a thousand of `total` counted spans.
template <std::size_t N>
std::size_t class_for_most(const std::array<std::uint64_t, N>& counts, std::uint64_t total) noexcept {
  std::uint64_t above = total;
  for (std::size_t k = 0; k < counts.size(); ++k) {
    above -= counts[k];
    if (above * 1024 <= total) return k;
  }
  return counts.size() - 1;
}
}  // namespace

void tracer_core::size_records(std::vector<span_record*>& recs) noexcept {
  constexpr std::size_t inline_fields = decltype(span_record::fields)::inline_capacity;
  constexpr std::size_t inline_text = decltype(span_record::arena)::inline_capacity;
  // The sizes a recycled record may keep (`reset_record`), and the tracer's own limits.
  const std::size_t max_fields = std::min<std::size_t>(1024, 2 * cfg_.max_fields_per_span);
  const std::size_t max_text = std::min<std::size_t>(64 * 1024, 2 * cfg_.max_span_bytes);
  for (const span_record* rec : recs) {
    // The sizes the thread wrote at finish: the worker does not read the lines the thread writes fields in.
    ++field_classes_[std::min(size_class(rec->finish_fields, inline_fields), size_classes - 1)];
    ++text_classes_[std::min(size_class(rec->finish_text, inline_text), size_classes - 1)];
  }
  sized_spans_ += recs.size();
  const std::size_t kf = class_for_most(field_classes_, sized_spans_);
  const std::size_t kt = class_for_most(text_classes_, sized_spans_);
  size_fields_ = kf == 0 ? 0 : std::min(inline_fields << kf, max_fields);
  size_text_ = kt == 0 ? 0 : std::min(inline_text << kt, max_text);
  if (size_fields_ == 0 && size_text_ == 0) return;
  for (span_record* rec : recs) {
    // A refusal of the heap only means this record grows later, on its thread. The capacities from the
    // finish block spare `reserve` its read of the storage's header, a line the thread writes.
    if (rec->finish_field_capacity < size_fields_) rec->fields.reserve(size_fields_);
    if (rec->finish_text_capacity < size_text_) rec->arena.reserve(size_text_);
  }
}

void tracer_core::prepare_chunk(span_record* chunk, std::size_t n) noexcept {
  const std::size_t fields = chunk_fields_.load(std::memory_order_relaxed);
  const std::size_t text = chunk_text_.load(std::memory_order_relaxed);
  if (fields == 0 && text == 0) return;  // the inline storage does
  // One allocation for the chunk: each record's fields, then its text, at 8-byte boundaries. Without it each
  // record of a new chunk would call the heap on its first large span (a new peak of spans in flight).
  static_assert(alignof(stored_field) <= 8);
  const std::size_t field_bytes = fields * sizeof(stored_field);
  const std::size_t stride = field_bytes + (text + 7) / 8 * 8;
  std::unique_ptr<std::byte[]> storage(new (std::nothrow) std::byte[stride * n]);
  if (!storage) return;  // the records grow on their threads instead
  std::byte* at = storage.get();
  try {
    std::lock_guard lk(chunk_storage_mutex_);
    chunk_storage_.push_back(std::move(storage));
  } catch (...) {
    return;  // `storage` is freed; as above
  }
  for (std::size_t i = 0; i < n; ++i, at += stride) {
    if (fields) chunk[i].fields.lend(reinterpret_cast<stored_field*>(at), fields);
    if (text) chunk[i].arena.lend(reinterpret_cast<char*>(at + field_bytes), text);
  }
}

void tracer_core::prepare_pool() noexcept {
  const std::size_t capacity = records_.capacity();
  const bool grew = capacity != prepared_capacity_;
  if (!grew && size_fields_ == prepared_fields_ && size_text_ == prepared_text_) return;
  chunk_fields_.store(static_cast<std::uint32_t>(size_fields_), std::memory_order_relaxed);
  chunk_text_.store(static_cast<std::uint32_t>(size_text_), std::memory_order_relaxed);
  if (size_fields_ != 0 || size_text_ != 0) {
    // Every record free in the pool now, taken out, sized and put back as one chain. Rare: only when the
    // sizes change (a few times while a program warms up) or a thread had to grow the pool.
    span_record* first = nullptr;
    span_record* last = nullptr;
    while (span_record* r = records_.try_pop()) {
      r->fields.reserve(size_fields_);
      r->arena.reserve(size_text_);
      if (last) object_pool<span_record>::link(last, r);
      if (!first) first = r;
      last = r;
    }
    if (first) records_.push_chain(first, last);
  }
  // A thread grew the pool (more spans in flight than ever before): grow it on to twice what it was before,
  // with sized records, so a later, larger peak finds free records without the heap. No further than the
  // queue capacity and a chunk: the rings never hold more, and open spans and the threads' caches are few.
  if (grew && prepared_capacity_ != 0) {
    const std::size_t want =
        std::min(2 * prepared_capacity_, cfg_.queue_capacity + object_pool<span_record>::chunk_size);
    while (records_.capacity() < want && records_.add_chunk(chunk_preparer())) {
    }
  }
  prepared_capacity_ = records_.capacity();
  prepared_fields_ = size_fields_;
  prepared_text_ = size_text_;
}

void tracer_core::recycle_chain(std::vector<span_record*>& recs) noexcept {
  if (recs.empty()) return;
  size_records(recs);
  // The worker runs only while the tracer holds its reference, so releasing traces here never deletes `this`.
  // Consecutive records of one trace give their references back in one atomic operation: the trace's counter
  // is shared with the threads starting spans, and one write per span would bounce its cache line each time.
  // The same goes for the tracer's own counter, which every new trace increments: the traces that end here
  // give their references to the tracer back in one write after the loop, not one each.
  // Records go back, one chain per run, to the thread whose ring they came through (`give_records`); the
  // overflow queue's, and those a thread cannot take, go to the shared pool in one chain.
  trace_state* run_trace = nullptr;
  std::uint32_t run_length = 0;
  std::uint32_t ended_traces = 0;
  span_record* pool_first = nullptr;
  span_record* pool_last = nullptr;
  for (std::size_t i = 0; i < recs.size();) {
    thread_collector* owner = recs[i]->finished_on;
    span_record* first = recs[i];
    span_record* last = nullptr;
    std::uint32_t n = 0;
    for (; i < recs.size() && recs[i]->finished_on == owner; ++i) {
      // Not cleared here: the thread that reuses the record clears it (`new_record`), so the worker writes
      // as few of a record's lines as it can and the record's lines stay in its thread's cache. Until then
      // the record is finished, so no weak reference to it is live, and nothing reads its stale trace
      // pointer.
      span_record* rec = recs[i];
      trace_state* trace = rec->trace;
      if (last) object_pool<span_record>::link(last, rec);
      last = rec;
      ++n;
      if (trace != run_trace) {
        if (run_trace) release_trace(run_trace, run_length, &ended_traces);
        run_trace = trace;
        run_length = 0;
      }
      ++run_length;
    }
    if (!owner || !give_records(*owner, first, last, n)) {
      if (pool_last) object_pool<span_record>::link(pool_last, first);
      if (!pool_first) pool_first = first;
      pool_last = last;
    }
  }
  if (run_trace) release_trace(run_trace, run_length, &ended_traces);
  if (pool_first) records_.push_chain(pool_first, pool_last);
  recs.clear();
  if (ended_traces) refs_.fetch_sub(ended_traces, std::memory_order_acq_rel);  // never the last reference
}

void tracer_core::finalize(span_record& rec) {
  trace_state& trace = *rec.trace;
  rec.start_ns = ticks_to_steady_ns(rec.start_ticks);
  // A span that moved between CPUs can see a tick or two of skew: never report a negative duration.
  rec.end_ns = std::max(rec.start_ns, ticks_to_steady_ns(rec.end_ticks));
  rec.wall_start_ns = rec.start_ns + wall_offset_ns();
  rec.dataset = trace.dataset().empty() ? std::string_view(dataset_) : trace.dataset();
  rec.sample_rate = trace.sample_rate;
  rec.dropped = false;
  rec.globals_set = false;
  rec.hex_ready = false;
  // Trace-level fields win over the span's own, as in the Beeline; the tracer's global fields never override.
  if (rec.trace_fields)
    for (const owned_field& f : rec.trace_fields->fields)
      set_field(rec, f.key, f.value.view(), finalize_limits_, field_counters_);
  if (cfg_.sampler || cfg_.presend) {
    for (const field& g : global_fields())
      set_field_if_absent(rec, g.key, g.value, global_limits_, field_counters_);
    rec.globals_set = true;
  }
}

template <class F>
bool tracer_core::call_hook(std::string_view which, F&& call) noexcept {
  // A user hook that throws costs its event, counted and logged, never the worker.
  try {
    call();
    return true;
  } catch (const std::exception& e) {
    log(log_level::error, fmt::format("{} hook threw: {}", which, e.what()));
  } catch (...) {
    log(log_level::error, fmt::format("{} hook threw", which));
  }
  counters_.dropped_hook_error.fetch_add(1, std::memory_order_relaxed);
  return false;
}

void tracer_core::process(std::vector<span_record*>& batch, std::vector<event>& events) {
  events.clear();
  for (std::size_t i = 0; i < batch.size(); ++i) {
    // Records were written on other cores: fetch a few ahead so the misses overlap.
    if (i + 4 < batch.size()) __builtin_prefetch(batch[i + 4]);
    span_record* rec = batch[i];
    finalize(*rec);
    event ev(rec);
    if (cfg_.sampler) {
      sampler_decision d;
      if (!call_hook("sampler", [&] { d = cfg_.sampler(ev); })) continue;
      if (!d.keep) {
        counters_.dropped_sampler.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      rec->sample_rate = std::max<std::uint32_t>(d.sample_rate, 1);
    }
    if (cfg_.presend) {
      if (!call_hook("presend", [&] { cfg_.presend(ev); })) continue;
      if (ev.dropped()) {
        counters_.dropped_presend.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
    }
    events.push_back(ev);
  }
  if (!events.empty()) {
    export_result r;
    try {
      r = cfg_.exporter->export_batch(events);
    } catch (const std::exception& e) {
      r = {0, events.size(), e.what()};
    } catch (...) {
      r = {0, events.size(), "exporter threw"};
    }
    const std::size_t pending = std::min(r.pending, events.size());
    const std::size_t exported = std::min(r.exported, events.size() - pending);
    counters_.exported.fetch_add(exported, std::memory_order_relaxed);
    if (exported + pending < events.size()) {
      counters_.dropped_exporter.fetch_add(events.size() - exported - pending, std::memory_order_relaxed);
      log_export_failure(events.size() - exported - pending, events.size(), r.error);
    }
    if (pending) batches_submitted_.fetch_add(1, std::memory_order_acq_rel);
  }
  recycle_chain(batch);
}

void tracer_core::settled(std::size_t exported, std::size_t failed, std::string_view error) noexcept {
  counters_.exported.fetch_add(exported, std::memory_order_relaxed);
  if (failed) {
    counters_.dropped_exporter.fetch_add(failed, std::memory_order_relaxed);
    log_export_failure(failed, exported + failed, error);
  }
  // The worker may be waiting inside the exporter: drops for a full queue are logged from here too.
  log_queue_drops();
  batches_settled_.fetch_add(1, std::memory_order_acq_rel);
  // Flush completions run on the worker (never on the exporter's thread, where a slow one would hold up
  // every request): wake it to look. A stopping worker waits for settlements too.
  if (waiter_count_.load(std::memory_order_acquire) != 0 || stop_.load()) wake_.notify();
}

void tracer_core::attempt_failed(std::string_view error) noexcept {
  try {
    log_limiter_.note(log_sink_, log_level::warning, fmt::format("export attempt failed: {}", error), 1,
                      "failed attempts", "",
                      [&] { return fmt::format("export attempt failed, retrying: {}", error); });
  } catch (...) {
  }
}

void tracer_core::log_export_failure(std::size_t failed, std::size_t total, std::string_view error) noexcept {
  try {
    log_limiter_.note(
        log_sink_, log_level::warning, fmt::format("exporter dropped events: {}", error), failed, "events",
        "batches", [&] { return fmt::format("exporter dropped {} of {} events: {}", failed, total, error); });
  } catch (...) {
  }
}

void tracer_core::log_queue_drops() noexcept {
  const std::uint64_t now = counters_.dropped_queue_full.load(std::memory_order_relaxed);
  std::uint64_t seen = queue_drops_logged_.load(std::memory_order_relaxed);
  while (seen < now && !queue_drops_logged_.compare_exchange_weak(seen, now, std::memory_order_relaxed)) {
  }
  if (seen >= now) return;
  const std::uint64_t dropped = now - seen;
  try {
    log_limiter_.note(
        log_sink_, log_level::warning, "export queue full: spans dropped", dropped, "spans", "", [&] {
          return fmt::format("export queue full ({} spans): dropped {} spans", cfg_.queue_capacity, dropped);
        });
  } catch (...) {
  }
}

bool tracer_core::nothing_pending() const noexcept {
  {
    std::lock_guard lk(collectors_mutex_);
    for (const thread_collector* c : collectors_)
      if (c->head.load(std::memory_order_acquire) != c->tail.load(std::memory_order_acquire)) return false;
  }
  return overflow_processed_.load(std::memory_order_acquire) == overflow_.enqueue_position();
}

void tracer_core::run_pass(std::vector<span_record*>& all, std::vector<span_record*>& batch,
                           std::vector<event>& events) {
  // A flush registered before this point waits for this pass (or a later one); the mutex orders its caller's
  // finished spans before the reads of the tails below.
  std::uint64_t pass;
  {
    std::lock_guard lk(waiters_mutex_);
    pass = ++pass_started_;
  }
  all.clear();
  pass_rings_.clear();
  {
    std::lock_guard lk(collectors_mutex_);
    retire_collectors();
    // Take what is in the rings now, not what keeps arriving: under sustained load a pass must end, or a
    // flush would wait for rings that never empty.
    std::size_t room = 0;
    for (thread_collector* c : collectors_) {
      const std::uint64_t t = c->tail.load(std::memory_order_acquire);
      const std::uint64_t h = c->head.load(std::memory_order_relaxed);
      room += c->limit;
      prepare_ring(*c, t - h);
      if (t == h) continue;
      pass_rings_.push_back({c, h, t, all.size()});
      for (std::uint64_t i = h; i < t; ++i)
        all.push_back(c->cells[i & c->mask]);
    }
    // Room for every span the rings may hold, ahead of the peak that fills them.
    all.reserve(room + overflow_.capacity());
  }
  const std::size_t overflow_end = overflow_.enqueue_position();
  span_record* rec;
  // Everything pushed before the pass started belongs to it: a flush that started before a push must see it
  // exported. A slot that does not pop yet is a producer mid-push; wait for it (rare: the overflow queue
  // serves only threads whose thread-local objects are being destroyed).
  while (overflow_.dequeue_position() < overflow_end) {
    if (overflow_.try_pop(rec))
      all.push_back(rec);
    else
      std::this_thread::yield();
  }
  std::size_t next_ring = 0;  // the first ring whose cells are not all processed yet
  for (std::size_t i = 0; i < all.size(); i += cfg_.batch_size) {
    const std::size_t end = std::min(all.size(), i + cfg_.batch_size);
    batch.assign(all.begin() + static_cast<std::ptrdiff_t>(i),
                 all.begin() + static_cast<std::ptrdiff_t>(end));
    process(batch, events);
    // The cells of processed spans may be reused at once: a pass held up by a slow exporter must not keep
    // a thread's whole ring full.
    for (std::size_t r = next_ring; r < pass_rings_.size() && pass_rings_[r].first < end; ++r) {
      const pass_ring& p = pass_rings_[r];
      const std::uint64_t done = std::min<std::uint64_t>(p.tail - p.head, end - p.first);
      p.c->head.store(p.head + done, std::memory_order_release);
      if (p.head + done == p.tail) next_ring = r + 1;
    }
  }
  overflow_processed_.store(overflow_.dequeue_position(), std::memory_order_release);
  prepare_pool();
  if (!pass_rings_.empty()) {
    // Collectors of threads that ended and were drained just now give their capacity back at once.
    std::lock_guard lk(collectors_mutex_);
    retire_collectors();
  }
  pass_done_.store(pass, std::memory_order_release);
  complete_waiters(false);
}

void tracer_core::complete_waiters(bool final) {
  if (!final && waiter_count_.load(std::memory_order_acquire) == 0) return;
  const std::uint64_t processed = pass_done_.load(std::memory_order_acquire);
  const auto now = std::chrono::steady_clock::now();
  std::vector<flush_waiter> ready;
  {
    std::lock_guard lk(waiters_mutex_);
    if (final) waiters_closed_ = true;
    const std::uint64_t submitted = batches_submitted_.load(std::memory_order_acquire);
    const std::uint64_t settled = batches_settled_.load(std::memory_order_acquire);
    auto keep = std::partition(waiters_.begin(), waiters_.end(), [&](flush_waiter& w) {
      // Past the target, the batches holding its spans have all been handed to the exporter; an asynchronous
      // exporter must also have settled them (it settles in order, so a count suffices).
      if (w.target <= processed && w.batches_needed == 0) w.batches_needed = submitted + 1;
      const bool done = w.target <= processed && settled + 1 >= w.batches_needed;
      return !(final || done || w.deadline <= now);
    });
    std::move(keep, waiters_.end(), std::back_inserter(ready));
    waiters_.erase(keep, waiters_.end());
    waiter_count_.store(waiters_.size(), std::memory_order_release);
  }
  const beeline::stats after = snapshot();
  const std::uint64_t settled_now = batches_settled_.load(std::memory_order_acquire);
  for (flush_waiter& w : ready) {
    const bool complete =
        w.target <= processed && w.batches_needed != 0 && settled_now + 1 >= w.batches_needed;
    try {
      w.done({complete, after.exported - w.before.exported, after.dropped() - w.before.dropped()});
    } catch (...) {
      log(log_level::error, "flush completion threw");
    }
  }
}

std::chrono::steady_clock::time_point tracer_core::earliest_waiter_deadline() {
  auto earliest = std::chrono::steady_clock::time_point::max();
  if (waiter_count_.load(std::memory_order_acquire) == 0) return earliest;
  std::lock_guard lk(waiters_mutex_);
  for (const flush_waiter& w : waiters_)
    earliest = std::min(earliest, w.deadline);
  return earliest;
}

void tracer_core::async_flush(std::chrono::steady_clock::time_point deadline,
                              std::function<void(flush_result)> done) {
  const beeline::stats before = snapshot();
  // Nothing pending: every span finished before this call is already processed, so no pass is needed.
  const bool idle = nothing_pending();
  std::uint64_t target = 0;
  {
    std::lock_guard lk(waiters_mutex_);
    if (!waiters_closed_) {
      target = idle ? 0 : pass_started_ + 1;
      waiters_.push_back({target, deadline, before, std::move(done)});
      waiter_count_.store(waiters_.size(), std::memory_order_release);
      done = nullptr;
    }
  }
  if (done) {  // the worker has exited: everything it will ever export is out
    done({nothing_pending(), 0, 0});
    return;
  }
  if (target == 0) {
    complete_waiters(false);
    return;
  }
  std::uint64_t current = flush_pass_.load();
  while (current < target && !flush_pass_.compare_exchange_weak(current, target)) {
  }
  wake_.notify();
}

void tracer_core::run_worker() {
  try {
    cfg_.exporter->start(*this);
  } catch (const std::exception& e) {
    log(log_level::error, fmt::format("exporter start threw: {}", e.what()));
  } catch (...) {
    log(log_level::error, "exporter start threw");
  }
  std::vector<span_record*> all;
  std::vector<span_record*> batch;
  std::vector<event> events;
  batch.reserve(cfg_.batch_size);
  events.reserve(cfg_.batch_size);
  auto next_send = deadline_after(cfg_.send_interval);
  // The worker's own schedule: every send interval while the threads finish few spans; under a high rate the
  // interval halves (down to a quarter of a millisecond) until a pass takes about `pass_target` spans, so the
  // records in flight, and the memory they cycle through, stay small enough to be in cache when reused.
  constexpr std::size_t pass_target = 256;
  constexpr std::chrono::steady_clock::duration min_interval = std::chrono::microseconds(100);
  std::chrono::steady_clock::duration interval = cfg_.send_interval;
  std::uint64_t settled_seen = 0;
  // Producers never wake the worker per span: it comes on its send interval, for a flush, for a stop, when a
  // ring crosses its high-water mark, or when a settled batch may complete a flush.
  const auto must_work = [&] {
    return stop_.load() || flush_pass_.load() > pass_done_.load(std::memory_order_relaxed) ||
           work_requested_.load() ||
           (waiter_count_.load(std::memory_order_acquire) != 0 &&
            batches_settled_.load(std::memory_order_acquire) != settled_seen);
  };
  for (;;) {
    for (;;) {
      const auto wake_at = std::min({next_send, earliest_waiter_deadline(), log_limiter_.next_due()});
      if (must_work() || std::chrono::steady_clock::now() >= wake_at) break;
      const std::uint32_t seen = wake_.prepare();
      worker_sleeping_.store(true, std::memory_order_seq_cst);
      if (must_work()) {  // a producer may have checked the flag before we set it
        worker_sleeping_.store(false, std::memory_order_relaxed);
        break;
      }
      wake_.wait_until(seen, wake_at);
      worker_sleeping_.store(false, std::memory_order_relaxed);
    }
    const bool stopping = stop_.load();
    settled_seen = batches_settled_.load(std::memory_order_acquire);
    work_requested_.store(false, std::memory_order_relaxed);
    log_queue_drops();
    log_limiter_.tick(log_sink_);
    calibrate_clock();
    run_pass(all, batch, events);
    if (all.size() > pass_target)
      interval = std::max<std::chrono::steady_clock::duration>(min_interval, interval / 2);
    else if (all.size() < pass_target / 4)
      interval = std::min<std::chrono::steady_clock::duration>(cfg_.send_interval, interval * 2);
    next_send = deadline_after(interval);
    // Stopping: what was queued when the stop was seen is exported; spans still arriving (the application did
    // not stop producing) are counted as dropped after shutdown, so stopping never waits for producers.
    if (stopping) break;
  }
  // Batches handed to an asynchronous exporter in the last passes settle before it is shut down, until the
  // shutdown deadline.
  while (batches_settled_.load(std::memory_order_acquire) <
             batches_submitted_.load(std::memory_order_acquire) &&
         std::chrono::steady_clock::now() < stop_deadline_) {
    const std::uint32_t seen = wake_.prepare();
    if (batches_settled_.load(std::memory_order_acquire) >=
        batches_submitted_.load(std::memory_order_acquire))
      break;
    wake_.wait_until(seen, stop_deadline_);
  }
  try {
    cfg_.exporter->shutdown();
  } catch (...) {
    log(log_level::error, "exporter shutdown threw");
  }
  // What is still only counted is logged now: nothing comes after.
  log_queue_drops();
  log_limiter_.tick(log_sink_, true);
  complete_waiters(true);
  {
    std::lock_guard lk(worker_exit_mutex_);
    worker_exited_ = true;
  }
  worker_exit_cv_.notify_all();
}

flush_result tracer_core::flush(std::chrono::steady_clock::duration timeout) {
  const auto deadline = deadline_after(timeout);
  struct state {
    std::mutex m;
    std::condition_variable cv;
    std::optional<flush_result> result;
  };
  auto st = std::make_shared<state>();
  const beeline::stats before = snapshot();
  async_flush(deadline, [st](flush_result r) {
    std::lock_guard lk(st->m);
    st->result = r;
    st->cv.notify_all();
  });
  std::unique_lock lk(st->m);
  // Our own deadline too: a worker stuck in a slow exporter cannot time the waiter out.
  if (st->cv.wait_until(lk, deadline, [&] { return st->result.has_value(); })) return *st->result;
  const beeline::stats after = snapshot();
  return {false, after.exported - before.exported, after.dropped() - before.dropped()};
}

flush_result tracer_core::shutdown(std::chrono::steady_clock::duration timeout) {
  if (!worker_.joinable()) return {true, 0, 0};
  const beeline::stats before = snapshot();
  const auto deadline = deadline_after(timeout);
  const flush_result flushed = flush(timeout);
  // The worker exports what is still queued and waits for what is in flight, until the deadline. Past it (or
  // if the flush already ran out of time) the exporter is told to give up: the worker may be waiting inside
  // it, for a free connection say, behind requests that will not end in time.
  stop_deadline_ = flushed.complete ? deadline : std::chrono::steady_clock::now();
  stop_.store(true);
  wake_.notify();
  bool exited;
  {
    std::unique_lock lk(worker_exit_mutex_);
    exited = worker_exit_cv_.wait_until(lk, deadline, [&] { return worker_exited_; });
  }
  if (!exited || !flushed.complete) {
    try {
      cfg_.exporter->interrupt();
    } catch (...) {
    }
  }
  worker_.join();
  stopped_.store(true, std::memory_order_seq_cst);
  heavy_fence();  // pairs with the producers' light_fence in `finish`
  // Drain until every reserved position is consumed: a producer that reserved one before `stopped_` was set
  // may still be writing its cell (a few instructions); producers that reserve later see `stopped_` and drain
  // for themselves.
  {
    std::lock_guard lk(collectors_mutex_);
    for (thread_collector* c : collectors_)
      drain_after_stop(*c);
  }
  span_record* left;
  while (overflow_.dequeue_position() < overflow_.enqueue_position()) {
    if (overflow_.try_pop(left)) {
      counters_.dropped_after_shutdown.fetch_add(1, std::memory_order_relaxed);
      recycle(left);
    } else {
      std::this_thread::yield();
    }
  }
  const beeline::stats after = snapshot();
  return {flushed.complete, after.exported - before.exported, after.dropped() - before.dropped()};
}

beeline::stats tracer_core::snapshot() const noexcept {
  const auto get = [](const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  beeline::stats s;
  s.enqueued = overflow_.enqueue_position();
  {
    std::lock_guard lk(collectors_mutex_);
    s.enqueued += retired_enqueued_;
    for (const thread_collector* c : collectors_)
      s.enqueued += c->tail.load(std::memory_order_acquire);
  }
  s.exported = get(counters_.exported);
  s.dropped_queue_full = get(counters_.dropped_queue_full);
  s.dropped_sampler = get(counters_.dropped_sampler);
  s.dropped_presend = get(counters_.dropped_presend);
  s.dropped_hook_error = get(counters_.dropped_hook_error);
  s.dropped_exporter = get(counters_.dropped_exporter);
  s.dropped_after_shutdown = get(counters_.dropped_after_shutdown);
  s.truncated_values = get(counters_.truncated_values);
  s.truncated_keys = get(counters_.truncated_keys);
  s.dropped_fields = get(counters_.dropped_fields);
  s.invalid_json_values = get(counters_.invalid_json_values);
  s.invalid_utf8_values = get(counters_.invalid_utf8_values);
  s.spans_outside_trace = get(counters_.spans_outside_trace);
  s.context_outside_span = get(counters_.context_outside_span);
  s.spans_not_started = get(counters_.spans_not_started);
  s.out_of_order_finishes = get(counters_.out_of_order_finishes);
  return s;
}

}  // namespace beeline::detail

namespace beeline {

tracer::tracer(config cfg) : core_(new detail::tracer_core(std::move(cfg))) {}

tracer::~tracer() {
  core_->shutdown(std::chrono::seconds(5));
  core_->release();
}

flush_result tracer::flush_sync(std::chrono::steady_clock::duration timeout) {
  return core_->flush(timeout);
}
flush_result tracer::shutdown(std::chrono::steady_clock::duration timeout) {
  return core_->shutdown(timeout);
}
beeline::stats tracer::stats() const noexcept {
  return core_->snapshot();
}
bool tracer::propagates_dataset() const noexcept {
  return is_classic_key(core_->settings().write_key);
}

std::optional<trace_context> tracer::parse_trace_context(const propagation::header_view& headers) const {
  const config& cfg = core_->settings();
  if (!cfg.http_trace_parser_hook) return propagation::parse_default(headers, propagates_dataset());
  try {
    return cfg.http_trace_parser_hook(headers);
  } catch (const std::exception& e) {
    core_->log(log_level::warning,
               fmt::format("http_trace_parser_hook threw: {}; starting a new trace", e.what()));
  } catch (...) {
    core_->log(log_level::warning, "http_trace_parser_hook threw; starting a new trace");
  }
  return std::nullopt;
}

namespace detail {
propagation::header_list propagation_headers_of(const tracer_core& core, const trace_context& ctx) {
  const config& cfg = core.settings();
  if (cfg.http_trace_propagation_hook) {
    try {
      return cfg.http_trace_propagation_hook(ctx);
    } catch (const std::exception& e) {
      core.log(log_level::warning,
               fmt::format("http_trace_propagation_hook threw: {}; sending X-Honeycomb-Trace", e.what()));
    } catch (...) {
      core.log(log_level::warning, "http_trace_propagation_hook threw; sending X-Honeycomb-Trace");
    }
  }
  return honeycomb::propagation_hook(is_classic_key(cfg.write_key))(ctx);
}
}  // namespace detail

propagation::header_list tracer::propagation_headers(const trace_context& ctx) const {
  return detail::propagation_headers_of(*core_, ctx);
}

std::string_view tracer::dataset() const noexcept {
  return core_->dataset();
}
std::string_view tracer::service_name() const noexcept {
  return core_->service_name();
}

}  // namespace beeline

namespace beeline {

void tracer::async_flush(std::chrono::steady_clock::time_point deadline,
                         std::function<void(flush_result)> done) {
  core_->async_flush(deadline, std::move(done));
}

}  // namespace beeline
