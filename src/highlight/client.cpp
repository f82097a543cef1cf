// The Highlight client: its tracer (spans through the OTLP exporter, wrapped to learn which span names were
// exported), the metrics and logs pipeline, error reports with source context, and the process-wide `H`.
#include <beeline/highlight.hpp>

#include "core/ids.hpp"
#include "core/json.hpp"
#include "core/thread_name.hpp"
#include "export/otlp_json.hpp"
#include "export/otlp_proto.hpp"
#include "highlight/signals.hpp"
#include "highlight/source_context.hpp"
#include "highlight/symbolizer.hpp"

#include <cxxabi.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <list>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <typeinfo>
#include <unordered_set>

namespace beeline::highlight {

namespace {

std::int64_t now_unix_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string demangle(const char* name) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> d(abi::__cxa_demangle(name, nullptr, nullptr, &status), std::free);
  std::string out = status == 0 && d ? std::string(d.get()) : std::string(name);
  // An exception thrown with throw_with_trace is reported as the type the user threw.
  constexpr std::string_view wrapper = "beeline::highlight::traced_exception<";
  if (out.starts_with(wrapper) && out.ends_with('>'))
    out = out.substr(wrapper.size(), out.size() - wrapper.size() - 1);
  return out;
}

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return {};
  return buf;
}

bool is_hex_of(std::string_view s, std::size_t n) noexcept {
  if (s.size() != n) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

void set_field(field_list& list, std::string_view key, std::string_view v) {
  for (owned_field& f : list)
    if (f.key == key) {
      f.value = value(std::string(v));
      return;
    }
  list.push_back({std::string(key), value(std::string(v))});
}

// Node's V8 stack text, which Highlight's backend reads: "Type: message" and one "    at fn (file:line)" per
// frame.
std::string format_stack(std::string_view type, std::string_view message,
                         const std::vector<stack_frame>& frames) {
  std::string out(type);
  if (!message.empty()) out.append(": ").append(message);
  for (const stack_frame& f : frames) {
    out.append("\n    at ");
    out.append(f.function.empty() ? std::string_view("<unknown>") : std::string_view(f.function));
    out.append(" (");
    if (!f.file.empty()) {
      out.append(f.file).append(":").append(std::to_string(f.line));
    } else {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%p", f.address);
      out.append(buf);
    }
    out.push_back(')');
  }
  return out;
}

// The frames as JSON, with the keys of Highlight's structured frames (functionName, fileName, lineNumber,
// lineContent, linesBefore, linesAfter).
std::string frames_json(const std::vector<stack_frame>& frames) {
  using beeline::detail::append_json_int;
  using beeline::detail::append_json_string;
  std::string out = "[";
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const stack_frame& f = frames[i];
    if (i) out.push_back(',');
    out.append("{\"functionName\":");
    append_json_string(out, f.function);
    if (!f.file.empty()) {
      out.append(",\"fileName\":");
      append_json_string(out, f.file);
      out.append(",\"lineNumber\":");
      append_json_int(out, f.line);
    }
    if (!f.line_content.empty()) {
      out.append(",\"lineContent\":");
      append_json_string(out, f.line_content);
      out.append(",\"linesBefore\":");
      append_json_string(out, f.lines_before);
      out.append(",\"linesAfter\":");
      append_json_string(out, f.lines_after);
    }
    out.push_back('}');
  }
  out.push_back(']');
  return out;
}

}  // namespace

// ---- client_impl ----

class client_impl {
 public:
  explicit client_impl(options o);
  ~client_impl() {
    shutdown(std::chrono::seconds(5));
    tracer_.reset();  // its exporter reports to this object
  }

  void report(std::string_view type, std::string_view message, std::vector<stack_frame> frames,
              std::string_view sid, std::string_view rid, fields metadata) noexcept;
  void record_metric(std::string_view sid, std::string_view name, double v, std::string_view rid,
                     fields tags) noexcept;
  void log(std::string_view message, std::string_view level, std::string_view sid, std::string_view rid,
           fields metadata) noexcept;
  started_span start_with_headers(std::string_view name, const propagation::header_view& headers, fields f,
                                  const span_options& options);
  std::uint64_t wait(std::vector<std::string> names, std::chrono::steady_clock::time_point deadline,
                     std::function<void(wait_for_flush_result)> done);
  void cancel_wait(std::uint64_t id) noexcept;
  flush_result flush(std::chrono::steady_clock::duration timeout);
  flush_result shutdown(std::chrono::steady_clock::duration timeout);
  client_stats stats() const noexcept;

  /// From the exporter wrapper: spans with these names were exported.
  void exported(const std::vector<std::string>& names);
  void debug(std::string_view what) const {
    if (opt_.debug && logger_) logger_(log_level::debug, what);
  }

  options opt_;
  log_hook logger_;
  std::unique_ptr<detail::source_context_cache> sources_;
  std::unique_ptr<detail::signal_pipeline> signals_;
  std::unique_ptr<beeline::tracer> tracer_;
  std::atomic<std::uint64_t> errors_{0};

 private:
  struct waiter {
    std::uint64_t id;
    std::vector<std::string> names;  // empty: a flush, completed by the tracer (or its deadline)
    std::chrono::steady_clock::time_point deadline;
    std::function<void(wait_for_flush_result)> done;
  };
  struct completion {
    std::uint64_t id;
    std::function<void(wait_for_flush_result)> done;
    wait_for_flush_result result;
  };
  void check_waiters_locked(std::vector<completion>& ready, bool expire_all);
  /// Runs completions taken from the list (outside the lock), then tells `cancel_wait` they have returned.
  void run(std::vector<completion>& ready);
  void flushed(std::uint64_t id, bool complete);
  void reap();

  // Names of spans exported since the last complete wait (bounded), and who waits for which.
  static constexpr std::size_t max_names = 4096;
  std::mutex names_mutex_;
  std::condition_variable reaper_wake_;
  std::unordered_set<std::string> seen_;
  std::vector<std::string> seen_order_;
  std::list<waiter> waiters_;
  std::uint64_t next_id_ = 1;
  std::multiset<std::uint64_t> running_;  // ids whose `done` is being called now
  std::condition_variable ran_;           // one of them returned
  bool stopping_ = false;
  bool stopped_ = false;
  std::thread reaper_;
};

namespace {

// Passes batches to the OTLP exporter and reports the names of the spans whose batch was delivered, when
// it settles (so `wait_for_flush` completes only once the spans are really on the collector's side).
class name_recorder final : public http_exporter, private export_listener {
 public:
  name_recorder(std::shared_ptr<http_exporter> inner, client_impl& owner)
      : inner_(std::move(inner)), owner_(owner) {}

  void start(export_listener& downstream) override {
    downstream_ = &downstream;
    inner_->start(*this);
  }
  export_result export_batch(std::span<const event> batch) override {
    std::vector<std::string> names;
    names.reserve(batch.size());
    for (const event& ev : batch)
      names.emplace_back(ev.name());
    {
      std::lock_guard lock(mutex_);
      pending_.push_back(std::move(names));
    }
    export_result r;
    try {
      r = inner_->export_batch(batch);
    } catch (...) {
      std::lock_guard lock(mutex_);
      pending_.pop_back();
      throw;
    }
    if (r.pending == 0) {  // settled already: no `settled` call will come for it
      std::vector<std::string> mine;
      {
        std::lock_guard lock(mutex_);
        mine = std::move(pending_.back());
        pending_.pop_back();
      }
      if (r.exported) owner_.exported(mine);
    }
    return r;
  }
  void shutdown() override { inner_->shutdown(); }
  void interrupt() noexcept override { inner_->interrupt(); }
  http_exporter_stats stats() const override { return inner_->stats(); }

 private:
  void settled(std::size_t exported, std::size_t failed, std::string_view error) noexcept override {
    std::vector<std::string> names;
    {
      std::lock_guard lock(mutex_);
      if (!pending_.empty()) {
        names = std::move(pending_.front());
        pending_.pop_front();
      }
    }
    if (exported) {
      try {
        owner_.exported(names);
      } catch (...) {
      }
    }
    downstream_->settled(exported, failed, error);
  }

  std::shared_ptr<http_exporter> inner_;
  client_impl& owner_;
  export_listener* downstream_ = nullptr;
  std::mutex mutex_;
  std::deque<std::vector<std::string>> pending_;  // names per batch accepted, in acceptance order
};

}  // namespace

client_impl::client_impl(options o) : opt_(std::move(o)) {
  logger_ = opt_.logger;
  if (!logger_) {
    const bool debug_on = opt_.debug;
    logger_ = [debug_on](log_level level, std::string_view what) {
      if (level == log_level::debug && !debug_on) return;
      if (level == log_level::info && !debug_on) return;
      std::fprintf(stderr, "highlight: %.*s\n", static_cast<int>(what.size()), what.data());
    };
  }
  std::string error;
  auto target = beeline::detail::parse_http_url(opt_.otlp_endpoint, error);
  if (!target) throw std::invalid_argument("Highlight: bad otlp_endpoint: " + error);
  if (opt_.project_id.empty())
    logger_(log_level::warning, "Highlight project id was not provided. Data will not be recorded.");

  field_list resource;
  resource.push_back({"highlight.project_id", value(opt_.project_id)});
  resource.push_back({"telemetry.distro.name", value("beeline-cpp")});
  resource.push_back({"telemetry.distro.version", value(std::string(beeline::version()))});
  if (!opt_.environment.empty()) resource.push_back({"deployment.environment", value(opt_.environment)});
  for (const owned_field& f : opt_.attributes)
    resource.push_back(f);

  otlp_exporter_options otlp;
  otlp.endpoint = opt_.otlp_endpoint;
  otlp.service_name = opt_.service_name;
  otlp.service_version = opt_.service_version;
  otlp.resource_attributes = resource;
  otlp.http = opt_.http;
  otlp.protocol = opt_.protocol;

  config cfg;
  cfg.service_name = opt_.service_name;
  cfg.exporter = std::make_shared<name_recorder>(make_otlp_exporter(std::move(otlp)), *this);
  cfg.send_interval = opt_.send_interval;
  // OpenTelemetry's propagation: W3C trace context in and out.
  cfg.http_trace_parser_hook = w3c::parser_hook();
  cfg.http_trace_propagation_hook = w3c::propagation_hook();
  cfg.logger = logger_;
  tracer_ = std::make_unique<beeline::tracer>(std::move(cfg));

  if (!opt_.disable_error_source_context)
    sources_ = std::make_unique<detail::source_context_cache>(opt_.error_source_context_cache_size_mb);
  std::string signal_resource =
      opt_.protocol == otlp_protocol::http_protobuf
          ? beeline::detail::otlp_proto_resource(tracer_->service_name(), opt_.service_version, resource,
                                                 host_name())
          : beeline::detail::otlp_resource_attributes(tracer_->service_name(), opt_.service_version, resource,
                                                      host_name());
  signals_ =
      std::make_unique<detail::signal_pipeline>(*target, opt_.http, opt_.protocol, std::move(signal_resource),
                                                opt_.signal_queue_capacity, opt_.send_interval, logger_);
  reaper_ = std::thread([this] {
    beeline::detail::name_this_thread("highlight-reap");
    reap();
  });
  debug("initialized, sending to " + opt_.otlp_endpoint);
}

void client_impl::report(std::string_view type, std::string_view message, std::vector<stack_frame> frames,
                         std::string_view sid, std::string_view rid, fields metadata) noexcept {
  try {
    if (sources_)
      for (stack_frame& f : frames)
        sources_->fill(f);
    const std::string stack = format_stack(type, message, frames);
    const std::string context = frames_json(frames);
    // The error span joins the current trace if there is one (on this client's tracer, so it reaches
    // Highlight whatever tracer the trace runs on), else starts a trace of its own.
    std::optional<trace_context> current = beeline::get_trace_context();
    span s = current ? tracer_->start_trace("highlight.error", {}, *current)
                     : tracer_->start_trace("highlight.error");
    s.add_context(metadata);
    if (!sid.empty()) s.add_field("highlight.session_id", sid);
    if (!rid.empty()) s.add_field("highlight.trace_id", rid);
    if (message.empty())
      s.add_event(
          "exception",
          {{"exception.type", type}, {"exception.stacktrace", stack}, {"exception.source_context", context}});
    else
      s.add_event("exception", {{"exception.type", type},
                                {"exception.message", message},
                                {"exception.stacktrace", stack},
                                {"exception.source_context", context}});
    s.finish();
    errors_.fetch_add(1, std::memory_order_relaxed);
  } catch (const std::exception& e) {
    logger_(log_level::warning, std::string("consume_error: ") + e.what());
  }
}

void client_impl::record_metric(std::string_view sid, std::string_view name, double v, std::string_view rid,
                                fields tags) noexcept {
  try {
    detail::metric_point p;
    p.name = name;
    p.value = v;
    p.time_ns = now_unix_ns();
    if (!std::isfinite(v)) {  // OTLP JSON cannot carry it
      signals_->count_dropped_metric();
      return;
    }
    for (const field& t : tags)
      p.attributes.push_back({std::string(t.key), value(t.value)});
    if (!sid.empty()) set_field(p.attributes, "highlight.session_id", sid);
    if (!rid.empty()) set_field(p.attributes, "highlight.trace_id", rid);
    signals_->push(std::move(p));
  } catch (const std::exception& e) {
    logger_(log_level::warning, std::string("record_metric: ") + e.what());
  }
}

void client_impl::log(std::string_view message, std::string_view level, std::string_view sid,
                      std::string_view rid, fields metadata) noexcept {
  try {
    detail::log_record r;
    r.time_ns = now_unix_ns();
    r.severity = level;
    r.body = message;
    for (const field& m : metadata)
      r.attributes.push_back({std::string(m.key), value(m.value)});
    if (!sid.empty()) set_field(r.attributes, "highlight.session_id", sid);
    if (!rid.empty()) set_field(r.attributes, "highlight.trace_id", rid);
    if (const auto ctx = beeline::get_trace_context();
        ctx && is_hex_of(ctx->trace_id, 32) && is_hex_of(ctx->parent_id, 16)) {
      r.trace_id = ctx->trace_id;
      r.span_id = ctx->parent_id;
    }
    signals_->push(std::move(r));
  } catch (const std::exception& e) {
    logger_(log_level::warning, std::string("log: ") + e.what());
  }
}

started_span client_impl::start_with_headers(std::string_view name, const propagation::header_view& headers,
                                             fields f, const span_options& options) {
  const std::optional<request_ids> ids = from_headers(headers);
  std::optional<trace_context> upstream;
  if (!options.root) {
    upstream = tracer_->parse_trace_context(headers);
    if (!upstream) upstream = beeline::get_trace_context();  // the current trace continues
  }
  started_span out;
  if (!upstream && !ids) {
    out.span = tracer_->start_trace(name, f, options);
  } else {
    trace_context ctx = upstream ? std::move(*upstream) : trace_context{};
    if (ctx.trace_id.empty()) {  // a new trace that still carries the ids
      char hex[32];
      beeline::detail::to_hex16(beeline::detail::random_id(), hex);
      beeline::detail::to_hex16(beeline::detail::random_id(), hex + 16);
      ctx.trace_id.assign(hex, 32);
      ctx.parent_id.clear();
    }
    if (ids) {
      set_field(ctx.fields, "highlight.session_id", ids->secure_session_id);
      set_field(ctx.fields, "highlight.trace_id", ids->request_id);
    }
    // `root` was applied above (the headers and the current trace were not read); the ids' trace is used.
    span_options continuing = options;
    continuing.root = false;
    out.span = tracer_->start_trace(name, f, ctx, continuing);
    out.context.fields = std::move(ctx.fields);
    out.context.trace_flags = ctx.trace_flags;
    out.context.tracestate = std::move(ctx.tracestate);
  }
  out.context.trace_id = out.span.trace_id();
  out.context.parent_id = out.span.span_id();
  return out;
}

void client_impl::exported(const std::vector<std::string>& names) {
  std::vector<completion> ready;
  {
    std::lock_guard lock(names_mutex_);
    for (const std::string& n : names)
      if (seen_.size() < max_names && seen_.insert(n).second) seen_order_.push_back(n);
    check_waiters_locked(ready, false);
  }
  run(ready);
}

void client_impl::run(std::vector<completion>& ready) {
  for (completion& c : ready) {
    try {
      c.done(std::move(c.result));
    } catch (...) {
    }
  }
  if (ready.empty()) return;
  std::lock_guard lock(names_mutex_);
  for (const completion& c : ready)
    running_.erase(running_.find(c.id));
  ran_.notify_all();
}

void client_impl::check_waiters_locked(std::vector<completion>& ready, bool expire_all) {
  const auto now = std::chrono::steady_clock::now();
  bool any_complete = false;
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    const bool complete =
        !it->names.empty() && std::all_of(it->names.begin(), it->names.end(),
                                          [&](const std::string& n) { return seen_.count(n) != 0; });
    if (complete || expire_all || it->deadline <= now) {
      running_.insert(it->id);
      ready.push_back({it->id, std::move(it->done), wait_for_flush_result{complete, seen_order_}});
      any_complete = any_complete || complete;
      it = waiters_.erase(it);
    } else {
      ++it;
    }
  }
  if (any_complete) {  // Node clears what it saw once a wait resolves
    seen_.clear();
    seen_order_.clear();
  }
}

std::uint64_t client_impl::wait(std::vector<std::string> names,
                                std::chrono::steady_clock::time_point deadline,
                                std::function<void(wait_for_flush_result)> done) {
  std::vector<completion> ready;
  std::uint64_t id = 0;
  const bool flush_only = names.empty();
  {
    std::lock_guard lock(names_mutex_);
    id = next_id_++;
    if (stopped_) {
      running_.insert(id);
      ready.push_back({id, std::move(done), wait_for_flush_result{false, seen_order_}});
    } else {
      waiters_.push_back({id, std::move(names), deadline, std::move(done)});
      check_waiters_locked(ready, false);
      reaper_wake_.notify_one();
    }
  }
  run(ready);
  // With no names, the tracer says when everything finished so far was exported; with names, this only asks
  // its worker to send what is queued now rather than at its next interval.
  if (flush_only)
    tracer_->async_flush(deadline, [this, id](flush_result r) { flushed(id, r.complete); });
  else
    tracer_->async_flush(deadline, [](flush_result) {});
  return id;
}

void client_impl::flushed(std::uint64_t id, bool complete) {
  std::vector<completion> ready;
  {
    std::lock_guard lock(names_mutex_);
    for (auto it = waiters_.begin(); it != waiters_.end(); ++it)
      if (it->id == id) {
        running_.insert(id);
        ready.push_back({id, std::move(it->done), wait_for_flush_result{complete, seen_order_}});
        waiters_.erase(it);
        break;
      }
  }
  run(ready);
}

void client_impl::cancel_wait(std::uint64_t id) noexcept {
  std::unique_lock lock(names_mutex_);
  for (auto it = waiters_.begin(); it != waiters_.end(); ++it)
    if (it->id == id) {
      waiters_.erase(it);
      break;
    }
  ran_.wait(lock, [&] { return running_.count(id) == 0; });
}

void client_impl::reap() {
  const auto start = std::chrono::steady_clock::now();
  detail::warm_up_symbolizer();  // off the request path
  if (opt_.debug)
    debug("stack symbolizer ready in " +
          std::to_string(
              std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start)
                  .count()) +
          " ms");
  std::unique_lock lock(names_mutex_);
  while (!stopping_) {
    auto next = std::chrono::steady_clock::time_point::max();
    for (const waiter& w : waiters_)
      next = std::min(next, w.deadline);
    if (next == std::chrono::steady_clock::time_point::max())
      reaper_wake_.wait(lock);
    else
      reaper_wake_.wait_until(lock, next);
    std::vector<completion> ready;
    check_waiters_locked(ready, stopping_);
    lock.unlock();
    run(ready);
    lock.lock();
  }
}

flush_result client_impl::flush(std::chrono::steady_clock::duration timeout) {
  const auto deadline = beeline::detail::deadline_after(timeout);
  flush_result r = tracer_->flush_sync(deadline);
  if (!signals_->flush(deadline)) r.complete = false;
  return r;
}

flush_result client_impl::shutdown(std::chrono::steady_clock::duration timeout) {
  {
    std::lock_guard lock(names_mutex_);
    if (stopped_) return {true, 0, 0};
  }
  const auto deadline = beeline::detail::deadline_after(timeout);
  flush_result r = tracer_->shutdown(timeout);
  signals_->shutdown(deadline);
  std::vector<completion> ready;
  {
    std::lock_guard lock(names_mutex_);
    stopping_ = true;
    stopped_ = true;
    check_waiters_locked(ready, true);
    reaper_wake_.notify_one();
  }
  if (reaper_.joinable()) reaper_.join();
  run(ready);
  return r;
}

client_stats client_impl::stats() const noexcept {
  client_stats s;
  s.errors = errors_.load(std::memory_order_relaxed);
  const auto c = signals_->stats();
  s.metrics_enqueued = c.metrics_enqueued;
  s.metrics_dropped = c.metrics_dropped;
  s.metrics_exported = c.metrics_exported;
  s.logs_enqueued = c.logs_enqueued;
  s.logs_dropped = c.logs_dropped;
  s.logs_exported = c.logs_exported;
  if (sources_) {
    s.source_cache_bytes = sources_->bytes();
    s.source_cache_files = sources_->files();
    s.source_file_reads = sources_->reads();
    s.source_cache_hits = sources_->hits();
  }
  return s;
}

// ---- client ----

client::client(options o) : impl_(std::make_unique<client_impl>(std::move(o))) {}
client::~client() = default;

beeline::tracer& client::tracer() noexcept {
  return *impl_->tracer_;
}
const options& client::settings() const noexcept {
  return impl_->opt_;
}

namespace {
// The SDK's own innermost frames (capture, throw_with_trace, consume_error) are left out; matching names
// rather than counting frames keeps this right whatever the optimizer inlined.
void strip_own_frames(std::vector<stack_frame>& frames) {
  const auto own = [](const stack_frame& f) {
    const std::string_view fn = f.function;
    return fn.starts_with("beeline::highlight::") || fn.starts_with("beeline::H::") ||
           fn.starts_with("void beeline::highlight::") || fn.starts_with("boost::stacktrace::");
  };
  const auto first = std::find_if_not(frames.begin(), frames.end(), own);
  frames.erase(frames.begin(), first);
}

std::vector<stack_frame> stack_for(const std::exception* e) {
  std::vector<stack_frame> frames;
  if (e)
    if (auto t = thrown_trace(*e)) frames = t->resolve();
  if (frames.empty()) frames = stack_trace::current().resolve();
  strip_own_frames(frames);
  return frames;
}
}  // namespace

void client::consume_error(const std::exception& e, std::string_view sid, std::string_view rid,
                           fields metadata) noexcept {
  std::vector<stack_frame> frames;
  std::string type;
  try {
    frames = stack_for(&e);
    type = demangle(typeid(e).name());
  } catch (...) {
  }
  impl_->report(type, e.what(), std::move(frames), sid, rid, metadata);
}

void client::consume_error(const std::exception_ptr& e, std::string_view sid, std::string_view rid,
                           fields metadata) noexcept {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    consume_error(ex, sid, rid, metadata);
  } catch (...) {
    std::vector<stack_frame> frames;
    std::string type = "unknown exception";
    try {
      if (const std::type_info* t = abi::__cxa_current_exception_type()) type = demangle(t->name());
      frames = stack_for(nullptr);
    } catch (...) {
    }
    impl_->report(type, {}, std::move(frames), sid, rid, metadata);
  }
}

void client::consume_error(std::string_view type, std::string_view message, std::vector<stack_frame> frames,
                           std::string_view sid, std::string_view rid, fields metadata) noexcept {
  impl_->report(type, message, std::move(frames), sid, rid, metadata);
}

void client::record_metric(std::string_view sid, std::string_view name, double v, std::string_view rid,
                           fields tags) noexcept {
  impl_->record_metric(sid, name, v, rid, tags);
}

void client::log(std::string_view message, std::string_view level, std::string_view sid, std::string_view rid,
                 fields metadata) noexcept {
  impl_->log(message, level, sid, rid, metadata);
}

started_span client::start_with_headers(std::string_view name, const propagation::header_view& headers,
                                        fields f, const span_options& options) {
  return impl_->start_with_headers(name, headers, f, options);
}

std::uint64_t client::async_wait_for_flush(std::vector<std::string> names,
                                           std::chrono::steady_clock::time_point deadline,
                                           std::function<void(wait_for_flush_result)> done) {
  return impl_->wait(std::move(names), deadline, std::move(done));
}

void client::cancel_wait(std::uint64_t id) noexcept {
  impl_->cancel_wait(id);
}

wait_for_flush_result client::wait_for_flush_sync(std::vector<std::string> names,
                                                  std::chrono::steady_clock::duration timeout) {
  struct state {
    std::mutex m;
    std::condition_variable cv;
    std::optional<wait_for_flush_result> result;
  };
  auto st = std::make_shared<state>();
  const auto deadline = beeline::detail::deadline_after(timeout);
  const std::uint64_t id = impl_->wait(std::move(names), deadline, [st](wait_for_flush_result r) {
    std::lock_guard lock(st->m);
    st->result = std::move(r);
    st->cv.notify_all();
  });
  {
    std::unique_lock lock(st->m);
    // The client completes it at the deadline; the extra second only guards against a stuck export worker.
    st->cv.wait_until(lock, deadline + std::chrono::seconds(1), [&] { return st->result.has_value(); });
  }
  impl_->cancel_wait(id);
  std::lock_guard lock(st->m);
  return st->result ? std::move(*st->result) : wait_for_flush_result{};
}

flush_result client::flush(std::chrono::steady_clock::duration timeout) {
  return impl_->flush(timeout);
}
flush_result client::shutdown(std::chrono::steady_clock::duration timeout) {
  return impl_->shutdown(timeout);
}
client_stats client::stats() const noexcept {
  return impl_->stats();
}

request_ids parse_headers(const propagation::header_view& headers) {
  if (auto ids = from_headers(headers)) return std::move(*ids);
  return {};
}

}  // namespace beeline::highlight

// ---- H ----

namespace beeline::H {

namespace {
std::mutex instance_mutex;
std::shared_ptr<highlight::client> the_client;
}  // namespace

namespace {
// `init` and `init_or_throw`, as `beeline::init` does it: a bad configuration is logged (and thrown if asked)
// and leaves the SDK uninitialized.
bool configure(highlight::options options, bool throw_on_error) {
  std::lock_guard lock(instance_mutex);
  if (the_client) return false;  // Node returns the existing instance and ignores the options
  const log_hook logger = options.logger;
  try {
    the_client = std::make_shared<highlight::client>(std::move(options));
    return true;
  } catch (const std::exception& e) {
    const std::string what = std::string("init failed: ") + e.what();
    try {
      if (logger)
        logger(log_level::error, what);
      else
        std::fprintf(stderr, "highlight: %s\n", what.c_str());
    } catch (...) {
      // A logger that throws must not make init throw.
    }
    if (throw_on_error) throw;
    return false;
  }
}
}  // namespace

bool init(highlight::options options) {
  return configure(std::move(options), false);
}

bool init_or_throw(highlight::options options) {
  return configure(std::move(options), true);
}

bool is_initialized() noexcept {
  std::lock_guard lock(instance_mutex);
  return the_client != nullptr;
}

std::shared_ptr<highlight::client> instance() noexcept {
  std::lock_guard lock(instance_mutex);
  return the_client;
}

flush_result stop(std::chrono::steady_clock::duration timeout) {
  std::shared_ptr<highlight::client> c;
  {
    std::lock_guard lock(instance_mutex);
    c = std::move(the_client);
  }
  return c ? c->shutdown(timeout) : flush_result{true, 0, 0};
}

void consume_error(const std::exception& e, std::string_view sid, std::string_view rid,
                   fields metadata) noexcept {
  if (auto c = instance()) c->consume_error(e, sid, rid, metadata);
}
void consume_error(const std::exception_ptr& e, std::string_view sid, std::string_view rid,
                   fields metadata) noexcept {
  if (auto c = instance()) c->consume_error(e, sid, rid, metadata);
}
void record_metric(std::string_view sid, std::string_view name, double v, std::string_view rid,
                   fields tags) noexcept {
  if (auto c = instance()) c->record_metric(sid, name, v, rid, tags);
}
void log(std::string_view message, std::string_view level, std::string_view sid, std::string_view rid,
         fields metadata) noexcept {
  if (auto c = instance()) c->log(message, level, sid, rid, metadata);
}
highlight::started_span start_with_headers(std::string_view name, const propagation::header_view& headers,
                                           fields f, const span_options& options) {
  if (auto c = instance()) return c->start_with_headers(name, headers, f, options);
  return {};
}
flush_result flush(std::chrono::steady_clock::duration timeout) {
  if (auto c = instance()) return c->flush(timeout);
  return {true, 0, 0};
}

}  // namespace beeline::H
