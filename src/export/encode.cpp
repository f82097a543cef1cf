#include <beeline/exporter.hpp>

#include "api/tracer_core.hpp"
#include "core/json.hpp"
#include "core/span_record.hpp"

namespace beeline {
namespace {

void append_key(detail::text_buffer& out, std::string_view key, bool& valid_utf8) {
  valid_utf8 &= detail::append_json_key(out, key, true);
}

// A field's value as JSON (invalid nested JSON counted); false if it contained invalid UTF-8 (replaced).
bool append_value(detail::text_buffer& out, field_value v, detail::counters& counters) {
  bool invalid_json = false;
  const bool valid_utf8 = detail::append_json_value(out, v, invalid_json);
  if (invalid_json) counters.invalid_json_values.fetch_add(1, std::memory_order_relaxed);
  return valid_utf8;
}

void append_globals(detail::text_buffer& out, const detail::span_record& rec, bool& valid_utf8) {
  if (rec.globals_set) {  // hooks ran: the tracer's fields are in the record; copy them
    for (const char* key : {"service_name", "service.name", "meta.local_hostname", "meta.beeline_version"}) {
      const std::ptrdiff_t at = rec.find(key);
      if (at < 0) continue;
      append_key(out, key, valid_utf8);
      valid_utf8 &=
          detail::append_json_string(out, rec.value(rec.fields[static_cast<std::size_t>(at)]).as_string());
      out.push_back(',');
    }
    return;
  }
  for (const field& g : rec.trace->core->global_fields()) {
    append_key(out, g.key, valid_utf8);
    valid_utf8 &= detail::append_json_string(out, g.value.as_string());
    out.push_back(',');
  }
}

// Events are written into a buffer of the thread's (the worker's, in the exporters), which is then appended
// to the caller's string in one copy: the writer's small appends then neither call the string nor fill its
// new room with zeros first.
detail::text_buffer& event_buffer() {
  thread_local detail::text_buffer buffer;
  buffer.clear();
  return buffer;
}

}  // namespace

void append_annotation_json(const event& ev, std::size_t i, std::string& result, bool with_dataset) {
  detail::text_buffer& out = event_buffer();
  const detail::span_record& rec = *ev.rec_;
  detail::counters& counters = rec.trace->core->count();
  const annotation_view a = ev.annotation_at(i);
  bool valid_utf8 = true;
  out.append("{\"time\":\"");
  detail::append_rfc3339_utc(
      out, std::chrono::duration_cast<std::chrono::nanoseconds>(a.timestamp().time_since_epoch()).count());
  out.append("\",\"samplerate\":");
  detail::append_json_int(out, rec.sample_rate);
  if (with_dataset) {
    out.append(",\"dataset\":");
    valid_utf8 &= detail::append_json_string(out, rec.dataset);
  }
  out.append(",\"data\":{");
  append_globals(out, rec, valid_utf8);
  for (std::size_t k = 0; k < a.field_count(); ++k) {
    const field f = a.field_at(k);
    // Keys this event is written with already (the tracer's, and the annotation's own) are not repeated.
    if (f.key == "name" || f.key == "meta.annotation_type" || f.key == "service_name" ||
        f.key == "service.name" || f.key == "meta.local_hostname" || f.key == "meta.beeline_version")
      continue;
    append_key(out, f.key, valid_utf8);
    valid_utf8 &= append_value(out, f.value, counters);
    out.push_back(',');
  }
  if (!a.is_link()) {
    out.append("\"name\":");
    valid_utf8 &= detail::append_json_string(out, a.name());
    out.push_back(',');
  }
  out.append("\"trace.trace_id\":");
  valid_utf8 &= detail::append_json_string(out, ev.trace_id());
  out.append(",\"trace.parent_id\":");
  detail::append_json_string(out, ev.span_id());
  if (a.is_link()) {
    out.append(",\"meta.annotation_type\":\"link\",\"trace.link.trace_id\":");
    valid_utf8 &= detail::append_json_string(out, a.linked_trace_id());
    out.append(",\"trace.link.span_id\":");
    valid_utf8 &= detail::append_json_string(out, a.linked_span_id());
  } else {
    out.append(",\"meta.annotation_type\":\"span_event\"");
  }
  out.append(",\"duration_ms\":0}}");
  if (!valid_utf8) counters.invalid_utf8_values.fetch_add(1, std::memory_order_relaxed);
  detail::move_into(out, result);
}

void append_event_json(const event& ev, std::string& result, bool with_dataset) {
  detail::text_buffer& out = event_buffer();
  const detail::span_record& rec = *ev.rec_;
  detail::counters& counters = rec.trace->core->count();
  bool valid_utf8 = true;

  out.append("{\"time\":\"");
  detail::append_rfc3339_utc(out, rec.wall_start_ns);
  out.append("\",\"samplerate\":");
  detail::append_json_int(out, rec.sample_rate);
  if (with_dataset) {
    out.append(",\"dataset\":");
    valid_utf8 &= detail::append_json_string(out, rec.dataset);
  }
  out.append(",\"data\":{");
  bool first = true;  // members are written comma first
  const auto key = [&](std::string_view k) {
    valid_utf8 &= detail::append_json_key(out, k, first);
    first = false;
  };
  if (!rec.globals_set) {
    for (const field& g : rec.trace->core->global_fields()) {
      // A user field of the same name wins, as in the Beeline (the record's key filter answers most of these
      // lookups without a search).
      if (rec.find(g.key) >= 0) continue;
      key(g.key);
      valid_utf8 &= detail::append_json_string(out, g.value.as_string());
    }
  }
  for (const detail::stored_field& f : rec.fields) {
    key(rec.key(f));
    valid_utf8 &= append_value(out, rec.value(f), counters);
  }
  key("trace.trace_id");
  valid_utf8 &= detail::append_json_string(out, ev.trace_id());
  out.append(",\"trace.span_id\":");
  detail::append_json_string(out, ev.span_id());
  if (const std::string_view parent = ev.parent_id(); !parent.empty()) {
    out.append(",\"trace.parent_id\":");
    valid_utf8 &= detail::append_json_string(out, parent);
  }
  out.append(",\"meta.span_type\":");
  detail::append_json_string(out, ev.span_type());
  out.append(",\"duration_ms\":");
  detail::append_json_ms_from_ns(out, ev.duration().count());
  out.append("}}");
  if (!valid_utf8) counters.invalid_utf8_values.fetch_add(1, std::memory_order_relaxed);
  detail::move_into(out, result);
}

}  // namespace beeline
