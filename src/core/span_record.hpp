// Private: the storage behind a span, from start to export, and the per-trace state its spans share.
//
// Records and trace states are pooled and reused, keeping the capacity of their buffers, so a span in steady
// state allocates nothing: its fields are small fixed-size entries and their strings are copied into one
// arena.
#pragma once

#include <beeline/value.hpp>

#include "core/inline_vector.hpp"

#include <atomic>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace beeline::detail {
/// Replaces the contents of an inline buffer with `s`.
template <std::size_t N>
void assign(inline_vector<char, N>& v, std::string_view s) {
  v.clear();
  v.append(s.data(), s.size());
}
}  // namespace beeline::detail

namespace beeline::detail {

class tracer_core;
struct thread_collector;

/// One field: the key and string bytes live in the record's arena.
struct stored_field {
  std::uint32_t key_off = 0;
  std::uint32_t key_len = 0;
  std::uint32_t str_off = 0;
  std::uint32_t str_len = 0;
  std::uint32_t cut_key_hash = 0;  // the key as given, when it was cut to the key bound (`cut_key`); else 0
  value_kind kind = value_kind::null;
  union {
    bool b;
    std::int64_t i;
    double d;
  } num{.i = 0};
};

/// One version of a trace's fields: the complete list after one `add_trace_context` call (or the upstream
/// context). Versions are immutable and linked to the one they replaced, which stays alive until the trace is
/// released, so a span that read a version at its finish can use it without a reference count.
struct trace_fields_node {
  field_list fields;
  const trace_fields_node* prev = nullptr;
  std::size_t retained = 0;        // entries held by this version and every older one (bounded per trace)
  std::size_t retained_bytes = 0;  // their key and text bytes (bounded per trace)
  std::vector<std::uint32_t> cut_key_hashes;  // per field, as `stored_field::cut_key_hash`; may be shorter
};

/// A span event or a link. Its fields are `annotation_fields[first_field, first_field + field_count)`; its
/// text is in the record's arena.
struct stored_annotation {
  bool is_link = false;
  std::uint32_t name_off = 0, name_len = 0;    // events: the name
  std::uint64_t ticks = 0;                     // events: when (tick clock)
  std::uint32_t trace_off = 0, trace_len = 0;  // links: the linked span's trace id ...
  std::uint32_t span_off = 0, span_len = 0;    // ... and span id
  std::uint32_t first_field = 0, field_count = 0;
};

/// Shared by every span of one trace in this process.
struct alignas(64) trace_state {
  std::uint32_t pool_index = 0;
  std::atomic<std::uint32_t> pool_next{0};
  std::atomic<std::uint32_t> refs{0};

  tracer_core* core = nullptr;  // holds a reference
  // Inline text buffers: a pooled trace state needs no heap memory for ordinary ids, even on first use.
  inline_vector<char, 32> trace_id_text;         // 32 hex for ours, verbatim for upstream ids
  inline_vector<char, 16> upstream_parent_text;  // empty unless continuing an upstream trace
  inline_vector<char, 32> dataset_text;          // empty: the tracer's dataset
  std::string_view trace_id() const noexcept { return {trace_id_text.data(), trace_id_text.size()}; }
  std::string_view upstream_parent_id() const noexcept {
    return {upstream_parent_text.data(), upstream_parent_text.size()};
  }
  std::string_view dataset() const noexcept { return {dataset_text.data(), dataset_text.size()}; }
  std::uint8_t trace_flags = 1;  // W3C flags from upstream; ours are sampled
  std::string tracestate;        // W3C tracestate from upstream, passed on verbatim (no heap when empty)
  bool keep = true;              // the deterministic sampler's decision, made once per trace
  std::uint32_t sample_rate = 1;

  // Trace-level fields: the newest version (copy on write, installed with a compare-exchange).
  std::atomic<const trace_fields_node*> fields{nullptr};
  std::atomic<bool> fields_bound_logged{false};  // log the first refused update only
};

/// The state word of a record: generation << 2 | finished << 1 | has_children.
inline constexpr std::uint64_t record_finished = 2;
inline constexpr std::uint64_t record_has_children = 1;
inline constexpr std::uint64_t generation_of(std::uint64_t state) noexcept {
  return state >> 2;
}

/// A span from start to export.
///
/// Its lines are grouped by who writes them, so that a span costs its thread as few lines the export worker
/// (on another core) touched as it can: the head (line 0), which the worker reads and writes when it links
/// records back; the thread's fields, text and annotations, which the worker reads only to encode them; the
/// finish block, which the worker only reads; and the worker's own tail, which the thread never writes, not
/// even to clear it (`finalize` sets all of it).
struct alignas(64) span_record {
  std::uint32_t pool_index = 0;
  std::atomic<std::uint32_t> pool_next{0};
  std::atomic<std::uint64_t> state{0};

  trace_state* trace = nullptr;  // holds a reference while the record is in use
  std::uint64_t span_id = 0;
  std::uint64_t parent_id = 0;  // 0 for a root; its parent, if any, is trace->upstream_parent_id
  bool is_root = false;
  std::uint64_t start_ticks = 0;  // tick_clock; converted by the worker
  std::uint64_t end_ticks = 0;

  inline_vector<stored_field, 8> fields;
  // A 256-bit filter of the keys ever set on this record (`key_slot`): a key whose bit is clear is absent, so
  // setting a new key (nearly every set) skips the search, and so does the encoder's check for a user field
  // that shadows a global one. Removing a field leaves its bit: a false positive only costs the search.
  std::uint64_t key_filter[4] = {};
  inline_vector<char, 384> arena;
  inline_vector<stored_annotation, 1> annotations;  // span events and links, in the order they were added
  inline_vector<stored_field, 1> annotation_fields;

  // Set at finish, by the thread (every one of them, on every path).
  thread_collector* finished_on = nullptr;  // the ring it went through: the worker gives it back there
  const trace_fields_node* trace_fields = nullptr;  // the trace's fields as of this span's finish
  bool had_children = false;
  // The fields' and the text's sizes and capacities at finish, for the worker's sizing of records
  // (`tracer_core::size_records`) without reading the lines the thread writes them in.
  std::uint32_t finish_fields = 0, finish_field_capacity = 0;
  std::uint32_t finish_text = 0, finish_text_capacity = 0;

  // The worker's: set by `finalize` before hooks and export.
  alignas(64) std::int64_t start_ns = 0;  // steady clock
  std::int64_t end_ns = 0;
  std::int64_t wall_start_ns = 0;
  std::string_view dataset;
  std::uint32_t sample_rate = 1;
  bool dropped = false;
  bool globals_set = false;  // the tracer's global fields were copied in (only when hooks need to see them)
  bool hex_ready = false;    // span_hex/parent_hex filled (lazily, by the first reader on the worker)
  char span_hex[16] = {};
  char parent_hex[16] = {};

  std::string_view key(const stored_field& f) const noexcept { return {arena.data() + f.key_off, f.key_len}; }
  field_value value(const stored_field& f) const noexcept;
  /// Index of the field with this key, or -1.
  std::ptrdiff_t find(std::string_view key) const noexcept {
    if (!may_hold(key)) return -1;  // inline: most lookups (of new keys) end here
    return search(key);
  }
  /// `find` without the filter: the linear search.
  std::ptrdiff_t search(std::string_view key) const noexcept;
  /// Whether the filter may hold `key` (false: it is certainly absent).
  bool may_hold(std::string_view key) const noexcept { return may_hold(slot_of(key)); }

  /// The bit a key owns in `key_filter`.
  struct key_slot {
    unsigned word;
    std::uint64_t bit;
  };
  void note_key(key_slot k) noexcept { key_filter[k.word] |= k.bit; }
  bool may_hold(key_slot k) const noexcept { return key_filter[k.word] & k.bit; }
  /// From the key's length and its first and last eight bytes (four, or three bytes, for shorter keys), mixed
  /// by two multiplications: keys that share a prefix (`request.path`, `request.host`) or a suffix
  /// (`app.user_id`, `db.user_id`) land apart.
  static key_slot slot_of(std::string_view key) noexcept {
    constexpr std::uint64_t mix = 0x9E3779B97F4A7C15u;
    std::uint64_t head = 0, tail = 0;
    const std::size_t n = key.size();
    const char* p = key.data();
    if (n >= 8) {
      std::memcpy(&head, p, 8);
      std::memcpy(&tail, p + n - 8, 8);
    } else if (n >= 4) {  // fixed-size loads: a variable-length memcpy would be a library call
      std::uint32_t lo, hi;
      std::memcpy(&lo, p, 4);
      std::memcpy(&hi, p + n - 4, 4);
      head = lo | std::uint64_t{hi} << 32;
    } else if (n != 0) {
      head = static_cast<unsigned char>(p[0]) |
             static_cast<unsigned>(static_cast<unsigned char>(p[n / 2])) << 8 |
             static_cast<unsigned>(static_cast<unsigned char>(p[n - 1])) << 16;
    }
    const std::uint64_t h = ((head * mix) ^ tail ^ n) * mix;
    return {static_cast<unsigned>(h >> 62), std::uint64_t{1} << ((h >> 56) & 63)};
  }
};

/// Limits and counters a record's field operations need.
struct field_limits {
  std::size_t max_fields;
  std::size_t max_value_bytes;
  std::size_t max_span_bytes = SIZE_MAX;  // the record's whole text arena (below 4 GiB: offsets are 32-bit)
  std::size_t max_key_bytes = SIZE_MAX;   // keys longer than this are cut (`cut_key`)
};
struct field_counters {
  std::atomic<std::uint64_t>* truncated_values;
  std::atomic<std::uint64_t>* dropped_fields;
  std::atomic<std::uint64_t>* truncated_keys;
};

/// Adds or replaces a field; refuses (and counts) a new key past the field limit; cuts long strings.
void set_field(span_record& r, std::string_view key, field_value v, const field_limits& limits,
               const field_counters& counters) noexcept;
/// `set_field` for each field in order, in one call.
void set_fields(span_record& r, std::span<const field> f, const field_limits& limits,
                const field_counters& counters) noexcept;
/// `set_field(r, "name", name)`, then `set_fields(r, f)`: a span's fields at its start, in one call.
void set_named_fields(span_record& r, std::string_view name, std::span<const field> f,
                      const field_limits& limits, const field_counters& counters) noexcept;
/// Adds the field only if the key is absent.
void set_field_if_absent(span_record& r, std::string_view key, field_value v, const field_limits& limits,
                         const field_counters& counters) noexcept;
/// Removes a field; returns whether it was there. Keys are cut as `set_field` cuts them, so an over-long key
/// finds the field it created.
bool remove_field(span_record& r, std::string_view key, const field_limits& limits) noexcept;
/// Adds a span event (`is_link` false: `name`, `ticks`) or a link (`trace_id`, `span_id`) with its fields.
/// Bounded like fields: at most `limits.max_fields` annotations and as many annotation fields in all, text
/// within the arena's bound; what does not fit is refused (counted in `dropped_fields`) or cut.
void add_annotation(span_record& r, bool is_link, std::string_view name, std::uint64_t ticks,
                    std::string_view trace_id, std::string_view span_id, std::span<const field> f,
                    const field_limits& limits, const field_counters& counters) noexcept;
/// Clears a record for reuse, bumping its generation so weak references to the old span go stale. The
/// finish block and the worker's tail are left alone: `tracer_core::finish` and `tracer_core::finalize` set
/// them before anything reads them.
void reset_record(span_record& r) noexcept;

/// Cuts `s` (longer than `max`) to at most `max` bytes without splitting a UTF-8 sequence.
std::string_view cut_utf8(std::string_view s, std::size_t max) noexcept;
/// Cuts `s` to at most `max` bytes without splitting a UTF-8 sequence.
inline std::string_view truncate_utf8(std::string_view s, std::size_t max) noexcept {
  return s.size() <= max ? s : cut_utf8(s, max);
}

/// The reserved keys whose values the tracer computes.
inline bool is_reserved_key(std::string_view key) noexcept {
  // Called for every field set: dispatch on the length so most keys cost one comparison.
  switch (key.size()) {
    case 11:
      return key == "duration_ms";
    case 13:
      return key == "trace.span_id";
    case 14:
      return key == "trace.trace_id" || key == "meta.span_type";
    case 15:
      return key == "trace.parent_id";
    default:
      return false;
  }
}

/// The keys the tracer writes itself: the reserved ones, `name`, and the global fields. Never cut to the key
/// bound, and never the result of cutting another key.
inline bool is_tracer_key(std::string_view key) noexcept {
  return is_reserved_key(key) || key == "name" || key == "service_name" || key == "service.name" ||
         key == "meta.local_hostname" || key == "meta.beeline_version" || key == "meta.annotation_type";
}

/// What became of a key longer than the key bound.
struct cut_key_result {
  bool refused = false;    ///< cutting would make it empty or one of the tracer's keys
  std::string_view key;    ///< the key to store (the tracer's own keys as given)
  std::uint32_t hash = 0;  ///< nonzero, from the key as given, when it was cut: tells cut keys apart
};
/// Cuts an over-long key (`key.size() > max`) at a UTF-8 boundary.
cut_key_result cut_key(std::string_view key, std::size_t max) noexcept;
/// A key within the key bound: as given when it fits (hash 0), else what `cut_key` makes of it.
inline cut_key_result bound_key(std::string_view key, std::size_t max) noexcept {
  if (key.size() <= max) [[likely]]
    return {false, key, 0};
  return cut_key(key, max);
}

}  // namespace beeline::detail
