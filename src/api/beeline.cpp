#include <beeline/beeline.hpp>

#include "api/context.hpp"
#include "api/otel_env.hpp"
#include "api/tracer_core.hpp"
#include "core/ids.hpp"
#include "core/tick_clock.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

namespace beeline {
namespace detail {

// Names a new record, gives it its fields and makes it the innermost open span of `s`: the last steps of both
// start_trace and start_span.
span open_span(tracer_core& core, span_record* rec, slot& s, std::string_view name, fields f) noexcept {
  core.set_start(*rec, name, std::span<const field>(f.begin(), f.size()));
  push_span(s, rec);
  return span_access::make(rec);
}

// Implemented here rather than in tracer.cpp: it is where the slot (context layer) meets the core.
span start_trace_on(tracer_core& core, std::string_view name, fields f, const trace_context* upstream) {
  trace_state* trace = core.new_trace(upstream);
  if (!trace) return {};
  span_record* rec = core.new_record(trace, 0, true);
  core.release_trace(trace);  // the record holds its own reference now
  if (!rec) return {};
  return open_span(core, rec, current_slot(), name, f);
}

// The tick reading of a wall-clock time: now's reading moved back by how long ago `t` was, so the span's
// duration (end ticks - start ticks) and its exported start both come out from `t`.
std::uint64_t ticks_at(std::chrono::system_clock::time_point t) noexcept {
  const std::uint64_t now_ticks = ticks_now();
  const double ago_ns =
      std::chrono::duration<double, std::nano>(std::chrono::system_clock::now() - t).count();
  const double ns_per_tick = tick_state.use_tsc.load(std::memory_order_relaxed)
                                 ? tick_state.ns_per_tick.load(std::memory_order_relaxed)
                                 : 1.0;
  return now_ticks - static_cast<std::uint64_t>(static_cast<std::int64_t>(ago_ns / ns_per_tick));
}

// What span_options add to a span just started: its kind, links and start time.
span apply_options(span s, const span_options& o) noexcept {
  span_record* rec = span_access::record(s);
  if (!rec) return s;
  tracer_core& core = *rec->trace->core;
  if (o.kind != span_kind::unset) core.set(*rec, "span.kind", to_string(o.kind));
  for (const span_link& l : o.links)
    if (!l.trace_id.empty() && !l.span_id.empty())
      core.annotate(*rec, true, {}, l.trace_id, l.span_id, l.attributes);
  if (o.start_time) rec->start_ticks = ticks_at(*o.start_time);
  return s;
}

}  // namespace detail

span tracer::start_trace(std::string_view name, fields f) {
  return detail::start_trace_on(*core_, name, f, nullptr);
}

span tracer::start_trace(std::string_view name, fields f, const trace_context& upstream) {
  return detail::start_trace_on(*core_, name, f, &upstream);
}

span tracer::start_trace(std::string_view name, fields f, const span_options& options) {
  return detail::apply_options(detail::start_trace_on(*core_, name, f, nullptr), options);
}

span tracer::start_trace(std::string_view name, fields f, const trace_context& upstream,
                         const span_options& options) {
  return detail::apply_options(detail::start_trace_on(*core_, name, f, options.root ? nullptr : &upstream),
                               options);
}

namespace {

// The one configured tracer. A shared_ptr so a thread that loaded it keeps it alive through a concurrent
// shutdown(); it is only read when a trace starts or flushes, never per span.
std::atomic<std::shared_ptr<tracer>> global;
// The tracer the last `shutdown` stopped, kept until the next `init` so `get_stats` can still read its final
// counters (spans that finish after the shutdown included). Its worker has stopped; only its memory remains.
std::atomic<std::shared_ptr<tracer>> retired;
std::mutex init_mutex;

}  // namespace

std::string_view version() noexcept {
  return BEELINE_VERSION_STRING;
}

namespace {

// A message for the user's logger, or stderr without one. A logger that throws must not make the caller fail.
void report_to(const log_hook& logger, log_level level, std::string_view message) {
  try {
    if (logger)
      logger(level, message);
    else
      fmt::print(stderr, "beeline: {}\n", message);
  } catch (...) {
  }
}

// `init` and `init_or_throw`: a configuration that cannot be honoured is logged (and thrown if asked) and
// leaves the library uninitialized.
bool configure(config cfg, bool throw_on_error) {
  const log_hook logger = cfg.logger;
  const auto report = [&](log_level level, std::string_view message) { report_to(logger, level, message); };
  std::lock_guard lk(init_mutex);
  if (global.load(std::memory_order_acquire)) {
    report(log_level::warning,
           "already initialized; further calls are allowed but their configuration is ignored");
    return false;
  }
  try {
    // The config's own values win over the environment's (OTEL_*, HONEYCOMB_*), which win over the defaults.
    if (detail::apply_environment(cfg, detail::process_env, report).disabled) {
      // A disabled SDK is not an error: the program runs on, with inert spans, as if init was never called.
      report(log_level::info, "OTEL_SDK_DISABLED=true: tracing is off, spans are inert");
      retired.store(nullptr, std::memory_order_release);
      return true;
    }
    global.store(std::make_shared<tracer>(std::move(cfg)), std::memory_order_release);
  } catch (const std::exception& e) {
    report(log_level::error, fmt::format("init failed: {}", e.what()));
    if (throw_on_error) throw;
    return false;
  }
  retired.store(nullptr, std::memory_order_release);
  return true;
}

}  // namespace

bool apply_environment(config& cfg) {
  const log_hook logger = cfg.logger;
  return !detail::apply_environment(cfg, detail::process_env, [&](log_level level, std::string_view message) {
            report_to(logger, level, message);
          }).disabled;
}

bool init(config cfg) {
  return configure(std::move(cfg), false);
}

bool init_or_throw(config cfg) {
  return configure(std::move(cfg), true);
}

bool is_initialized() noexcept {
  return global.load(std::memory_order_acquire) != nullptr;
}

flush_result shutdown(std::chrono::steady_clock::duration timeout) {
  std::lock_guard lk(init_mutex);
  std::shared_ptr<tracer> t = global.load(std::memory_order_acquire);
  if (!t) return {true, 0, 0};
  // Retired before it leaves `global`: `get_stats` never sees neither.
  retired.store(t, std::memory_order_release);
  global.store(nullptr, std::memory_order_release);
  return t->shutdown(timeout);
}

tracer* global_tracer() noexcept {
  return global.load(std::memory_order_acquire).get();
}

std::shared_ptr<tracer> detail::global_tracer_ref() noexcept {
  return global.load(std::memory_order_acquire);
}

span start_trace(std::string_view name, fields f) {
  auto t = global.load(std::memory_order_acquire);
  return t ? t->start_trace(name, f) : span();
}

span start_trace(std::string_view name, fields f, const trace_context& upstream) {
  auto t = global.load(std::memory_order_acquire);
  return t ? t->start_trace(name, f, upstream) : span();
}

span start_trace(std::string_view name, fields f, const span_options& options) {
  auto t = global.load(std::memory_order_acquire);
  return t ? t->start_trace(name, f, options) : span();
}

span start_trace(std::string_view name, fields f, const trace_context& upstream,
                 const span_options& options) {
  auto t = global.load(std::memory_order_acquire);
  return t ? t->start_trace(name, f, upstream, options) : span();
}

void finish_trace(span& root) noexcept {
  detail::span_record* rec = detail::span_access::record(root);
  if (!rec) return;
  detail::trace_state* trace = rec->trace;
  detail::slot& s = detail::current_slot();
  const bool clear_base = s.base.trace() == trace;
  root.finish();
  // The Beeline tears the trace down: nothing after finishTrace belongs to it.
  if (clear_base) s.base = detail::context_snapshot{};
}

span start_span(std::string_view name, fields f) {
  detail::slot& s = detail::current_slot();
  detail::trace_state* trace;
  std::uint64_t parent_id;
  if (detail::span_record* top = detail::live_top(s)) {
    trace = top->trace;
    parent_id = top->span_id;
    // The bit stays set until the record is reused: check before paying for a locked write per child.
    if ((top->state.load(std::memory_order_relaxed) & detail::record_has_children) == 0)
      top->state.fetch_or(detail::record_has_children, std::memory_order_relaxed);
  } else if (s.base) {
    trace = s.base.trace();
    parent_id = s.base.span_id();
    // The parent belongs to another task and may have been finished and reused: mark it only if it is still
    // the same span.
    const detail::span_ref p = s.base.span();
    if (p.rec) {
      std::uint64_t st = p.rec->state.load(std::memory_order_relaxed);
      // Already marked (every child after the first): no locked write.
      while (detail::generation_of(st) == p.gen &&
             (st & (detail::record_finished | detail::record_has_children)) == 0 &&
             !p.rec->state.compare_exchange_weak(st, st | detail::record_has_children,
                                                 std::memory_order_relaxed)) {
      }
    }
  } else {
    // No trace: an inert span, as the Beeline returns undefined; counted on the global tracer.
    if (auto t = global.load(std::memory_order_acquire))
      detail::tracer_access::core(*t).count().spans_outside_trace.fetch_add(1, std::memory_order_relaxed);
    return {};
  }
  detail::tracer_core& core = *trace->core;
  detail::span_record* rec = core.new_record(trace, parent_id, false);
  if (!rec) return {};
  return detail::open_span(core, rec, s, name, f);
}

span start_span(std::string_view name, fields f, const span_options& options) {
  if (!options.root) return detail::apply_options(start_span(name, f), options);
  // A root: a new trace on the tracer of the current trace, else on the global one.
  detail::slot& s = detail::current_slot();
  if (detail::trace_state* trace = detail::current_trace(s))
    return detail::apply_options(detail::start_trace_on(*trace->core, name, f, nullptr), options);
  auto t = global.load(std::memory_order_acquire);
  return t ? t->start_trace(name, f, options) : span();
}

void finish_span(span& s) noexcept {
  s.finish();
}

void add_context(fields f) {
  detail::slot& s = detail::current_slot();
  if (detail::span_record* top = detail::live_top(s)) {
    for (const field& fl : f)
      top->trace->core->set(*top, fl.key, fl.value);
  } else if (detail::trace_state* trace = s.base.trace()) {
    trace->core->note_context_outside_span();
  }
}

void add_field(std::string_view key, field_value v) {
  add_context({{key, v}});
}

void remove_context(std::string_view key) {
  if (detail::span_record* top = detail::live_top(detail::current_slot()))
    top->trace->core->remove(*top, key);
}

void add_trace_context(fields f) {
  if (detail::trace_state* trace = detail::current_trace(detail::current_slot()))
    trace->core->add_trace_fields(*trace, f, "app.");
}

timer start_timer(std::string_view name) {
  return timer(name);
}

void finish_timer(const timer& t) {
  const std::chrono::duration<double, std::milli> ms = std::chrono::steady_clock::now() - t.start();
  fmt::basic_memory_buffer<char, 128> key;
  fmt::format_to(std::back_inserter(key), "{}_ms", t.name());
  add_field(std::string_view(key.data(), key.size()), ms.count());
}

bool trace_active() noexcept {
  return detail::current_trace(detail::current_slot()) != nullptr;
}

std::optional<trace_context> get_trace_context() {
  detail::slot& s = detail::current_slot();
  detail::trace_state* trace;
  std::uint64_t span_id;
  if (detail::span_record* top = detail::live_top(s)) {
    trace = top->trace;
    span_id = top->span_id;
  } else if (s.base) {
    trace = s.base.trace();
    span_id = s.base.span_id();
  } else {
    return std::nullopt;
  }
  trace_context ctx;
  ctx.trace_id = trace->trace_id();
  ctx.parent_id.resize(16);
  detail::to_hex16(span_id, ctx.parent_id.data());
  ctx.dataset = trace->dataset().empty() ? std::string_view(trace->core->dataset()) : trace->dataset();
  if (const detail::trace_fields_node* f = trace->fields.load(std::memory_order_acquire))
    ctx.fields = f->fields;
  ctx.trace_flags = trace->trace_flags;
  ctx.tracestate = trace->tracestate;
  return ctx;
}

std::optional<trace_context> parse_trace_context(const propagation::header_view& headers) {
  auto t = global.load(std::memory_order_acquire);
  return t ? t->parse_trace_context(headers) : propagation::parse_default(headers, false);
}

propagation::header_list propagation_headers() {
  // The hook of the tracer the current trace belongs to (it may not be the global one).
  const detail::trace_state* trace = detail::current_trace(detail::current_slot());
  if (!trace) return {};
  const auto ctx = get_trace_context();
  if (!ctx) return {};
  return detail::propagation_headers_of(*trace->core, *ctx);
}

flush_result flush_sync(std::chrono::steady_clock::duration timeout) {
  auto t = global.load(std::memory_order_acquire);
  return t ? t->flush_sync(timeout) : flush_result{true, 0, 0};
}

stats get_stats() noexcept {
  auto t = global.load(std::memory_order_acquire);
  if (!t) t = retired.load(std::memory_order_acquire);
  return t ? t->stats() : beeline::stats{};
}

}  // namespace beeline
