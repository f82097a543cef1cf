#include "core/span_record.hpp"

#include <cstring>

namespace beeline::detail {

field_value span_record::value(const stored_field& f) const noexcept {
  switch (f.kind) {
    case value_kind::null:
      return {};
    case value_kind::boolean:
      return f.num.b;
    case value_kind::integer:
      return f.num.i;
    case value_kind::floating:
      return f.num.d;
    case value_kind::string:
      return std::string_view(arena.data() + f.str_off, f.str_len);
    case value_kind::json:
      return raw_json{std::string_view(arena.data() + f.str_off, f.str_len)};
  }
  return {};
}

std::ptrdiff_t span_record::find(std::string_view k) const noexcept {
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const stored_field& f = fields[i];
    if (f.key_len == k.size() && std::memcmp(arena.data() + f.key_off, k.data(), k.size()) == 0)
      return static_cast<std::ptrdiff_t>(i);
  }
  return -1;
}

std::string_view truncate_utf8(std::string_view s, std::size_t max) noexcept {
  if (s.size() <= max) return s;
  std::size_t n = max;
  // Step back over continuation bytes so a multi-byte sequence is never split.
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

namespace {

// Appends to the arena; the arena keeps its capacity across reuse, so this allocates only while warming up.
std::uint32_t append(std::string& arena, std::string_view s) {
  const auto off = static_cast<std::uint32_t>(arena.size());
  arena.append(s.data(), s.size());
  return off;
}

void store_value(span_record& r, stored_field& f, field_value v, const field_limits& limits,
                 const field_counters& counters) {
  f.kind = v.kind();
  switch (v.kind()) {
    case value_kind::null:
      break;
    case value_kind::boolean:
      f.num.b = v.as_bool();
      break;
    case value_kind::integer:
      f.num.i = v.as_int();
      break;
    case value_kind::floating:
      f.num.d = v.as_double();
      break;
    case value_kind::json:
      if (v.as_string().size() > limits.max_value_bytes) {
        // Cutting JSON text would make it invalid: drop the value instead.
        counters.truncated_values->fetch_add(1, std::memory_order_relaxed);
        f.kind = value_kind::null;
        break;
      }
      [[fallthrough]];
    case value_kind::string: {
      std::string_view s = v.as_string();
      if (s.size() > limits.max_value_bytes) {
        s = truncate_utf8(s, limits.max_value_bytes);
        counters.truncated_values->fetch_add(1, std::memory_order_relaxed);
      }
      f.str_off = append(r.arena, s);
      f.str_len = static_cast<std::uint32_t>(s.size());
      break;
    }
  }
}

void set_field_impl(span_record& r, std::string_view key, field_value v, const field_limits& limits,
                    const field_counters& counters, bool replace) noexcept {
  // The tracer computes the reserved fields itself; a user value for them would be overwritten or duplicated.
  if (is_reserved_key(key)) return;
  try {
    const std::ptrdiff_t at = r.find(key);
    if (at >= 0) {
      if (replace) store_value(r, r.fields[static_cast<std::size_t>(at)], v, limits, counters);
      return;
    }
    if (r.fields.size() >= limits.max_fields) {
      counters.dropped_fields->fetch_add(1, std::memory_order_relaxed);
      return;
    }
    key = truncate_utf8(key, limits.max_value_bytes);
    stored_field f;
    f.key_off = append(r.arena, key);
    f.key_len = static_cast<std::uint32_t>(key.size());
    store_value(r, f, v, limits, counters);
    r.fields.push_back(f);
  } catch (...) {
    // Out of memory: the field is lost, the application is not.
    counters.dropped_fields->fetch_add(1, std::memory_order_relaxed);
  }
}

}  // namespace

void set_field(span_record& r, std::string_view key, field_value v, const field_limits& limits,
               const field_counters& counters) noexcept {
  set_field_impl(r, key, v, limits, counters, true);
}

void set_field_if_absent(span_record& r, std::string_view key, field_value v, const field_limits& limits,
                         const field_counters& counters) noexcept {
  set_field_impl(r, key, v, limits, counters, false);
}

bool remove_field(span_record& r, std::string_view key) noexcept {
  const std::ptrdiff_t at = r.find(key);
  if (at < 0) return false;
  r.fields.erase(r.fields.begin() + at);
  return true;
}

void reset_record(span_record& r) noexcept {
  const std::uint64_t gen = generation_of(r.state.load(std::memory_order_relaxed));
  r.state.store((gen + 1) << 2, std::memory_order_release);
  r.trace = nullptr;
  r.span_id = r.parent_id = 0;
  r.is_root = false;
  r.start_ns = r.end_ns = 0;
  r.fields.clear();
  // A record that once held a huge span would otherwise pin that memory for ever.
  constexpr std::size_t keep_bytes = 64 * 1024;
  if (r.arena.capacity() > keep_bytes) {
    std::string().swap(r.arena);
  } else {
    r.arena.clear();
  }
  if (r.fields.capacity() > 1024) std::vector<stored_field>().swap(r.fields);
  r.trace_fields.reset();
  r.had_children = false;
  r.globals_set = false;
  r.sample_rate = 1;
  r.dropped = false;
  r.wall_start_ns = 0;
  r.dataset = {};
}

bool is_reserved_key(std::string_view key) noexcept {
  return key == "trace.trace_id" || key == "trace.span_id" || key == "trace.parent_id" ||
         key == "meta.span_type" || key == "duration_ms";
}

}  // namespace beeline::detail
