#include <beeline/event.hpp>

#include "export/event_access.hpp"

#include "api/tracer_core.hpp"
#include "core/ids.hpp"
#include "core/span_record.hpp"

#include <algorithm>

namespace beeline {

const detail::span_record& detail::record_of(const event& ev) noexcept {
  return *ev.rec_;
}

void detail::prefetch_for_encoding(const event& ev, bool storage) noexcept {
  const span_record& r = record_of(ev);
  if (!storage) {
    __builtin_prefetch(r.fields.header());
    __builtin_prefetch(r.arena.header());
    __builtin_prefetch(static_cast<const char*>(r.arena.header()) + sizeof(void*));  // may be the next line
    __builtin_prefetch(r.annotations.header());
    return;
  }
  constexpr std::size_t max_lines = 32;
  const auto lines = [](const void* p, std::size_t bytes) {
    const char* c = static_cast<const char*>(p);
    for (std::size_t at = 0; at < std::min(bytes, max_lines * 64); at += 64)
      __builtin_prefetch(c + at);
  };
  lines(r.fields.data(), r.fields.size() * sizeof(stored_field));
  lines(r.arena.data(), r.arena.size());
}

std::string_view event::name() const noexcept {
  const std::ptrdiff_t at = rec_->find("name");
  if (at < 0) return {};
  const field_value v = rec_->value(rec_->fields[static_cast<std::size_t>(at)]);
  return v.kind() == value_kind::string ? v.as_string() : std::string_view();
}

std::string_view event::trace_id() const noexcept {
  return rec_->trace->trace_id();
}

namespace {
// Hex ids are formed on first use: a discarding exporter never pays for them.
void ensure_hex(detail::span_record& r) noexcept {
  if (r.hex_ready) return;
  detail::to_hex16(r.span_id, r.span_hex);
  if (r.parent_id) detail::to_hex16(r.parent_id, r.parent_hex);
  r.hex_ready = true;
}
}  // namespace

std::string_view event::span_id() const noexcept {
  ensure_hex(*rec_);
  return {rec_->span_hex, 16};
}

std::string_view event::parent_id() const noexcept {
  ensure_hex(*rec_);
  if (rec_->parent_id) return {rec_->parent_hex, 16};
  return rec_->trace->upstream_parent_id();
}

std::string_view event::span_type() const noexcept {
  if (rec_->is_root) return rec_->trace->upstream_parent_id().empty() ? "root" : "subroot";
  return rec_->had_children ? "mid" : "leaf";
}

std::string_view event::dataset() const noexcept {
  return rec_->dataset;
}

std::chrono::system_clock::time_point event::timestamp() const noexcept {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::nanoseconds(rec_->wall_start_ns)));
}

std::chrono::nanoseconds event::duration() const noexcept {
  return std::chrono::nanoseconds(rec_->end_ns - rec_->start_ns);
}

std::optional<field_value> event::get(std::string_view key) const noexcept {
  if (key == "trace.trace_id") return field_value(trace_id());
  if (key == "trace.span_id") return field_value(span_id());
  if (key == "trace.parent_id") {
    const std::string_view p = parent_id();
    return p.empty() ? std::nullopt : std::optional<field_value>(p);
  }
  if (key == "meta.span_type") return field_value(span_type());
  if (key == "duration_ms") return field_value(static_cast<double>(duration().count()) / 1e6);
  const std::ptrdiff_t at = rec_->trace->core->find(*rec_, key);
  if (at >= 0) return rec_->value(rec_->fields[static_cast<std::size_t>(at)]);
  if (!rec_->globals_set)
    for (const field& g : rec_->trace->core->global_fields())
      if (g.key == key) return g.value;
  return std::nullopt;
}

void event::set(std::string_view key, field_value v) {
  rec_->trace->core->set(*rec_, key, v);
}

bool event::remove(std::string_view key) noexcept {
  return !detail::is_reserved_key(key) && rec_->trace->core->remove(*rec_, key);
}

std::size_t event::field_count() const noexcept {
  return rec_->fields.size();
}

field event::field_at(std::size_t i) const noexcept {
  const detail::stored_field& f = rec_->fields[i];
  return {rec_->key(f), rec_->value(f)};
}

std::string_view event::key_at(std::size_t i) const noexcept {
  return rec_->key(rec_->fields[i]);
}

std::uint32_t event::sample_rate() const noexcept {
  return rec_->sample_rate;
}
void event::set_sample_rate(std::uint32_t rate) noexcept {
  rec_->sample_rate = rate < 1 ? 1 : rate;
}
void event::drop() noexcept {
  rec_->dropped = true;
}
bool event::dropped() const noexcept {
  return rec_->dropped;
}

std::size_t event::annotation_count() const noexcept {
  return rec_->annotations.size();
}

bool annotation_view::is_link() const noexcept {
  return rec_->annotations[index_].is_link;
}

std::string_view annotation_view::name() const noexcept {
  const detail::stored_annotation& a = rec_->annotations[index_];
  return {rec_->arena.data() + a.name_off, a.name_len};
}

std::chrono::system_clock::time_point annotation_view::timestamp() const noexcept {
  const detail::stored_annotation& a = rec_->annotations[index_];
  const std::int64_t ns = a.is_link ? rec_->wall_start_ns : rec_->trace->core->wall_ns(a.ticks);
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(ns)));
}

std::string_view annotation_view::linked_trace_id() const noexcept {
  const detail::stored_annotation& a = rec_->annotations[index_];
  return {rec_->arena.data() + a.trace_off, a.trace_len};
}

std::string_view annotation_view::linked_span_id() const noexcept {
  const detail::stored_annotation& a = rec_->annotations[index_];
  return {rec_->arena.data() + a.span_off, a.span_len};
}

std::size_t annotation_view::field_count() const noexcept {
  return rec_->annotations[index_].field_count;
}

field annotation_view::field_at(std::size_t i) const noexcept {
  const detail::stored_field& f = rec_->annotation_fields[rec_->annotations[index_].first_field + i];
  return {rec_->key(f), rec_->value(f)};
}

}  // namespace beeline
