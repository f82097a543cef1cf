#include "core/span_record.hpp"

#include <algorithm>
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

std::ptrdiff_t span_record::search(std::string_view k) const noexcept {
  if (k.empty()) {
    for (std::size_t i = 0; i < fields.size(); ++i)
      if (fields[i].key_len == 0) return static_cast<std::ptrdiff_t>(i);
    return -1;
  }
  const char* base = arena.data();
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const stored_field& f = fields[i];
    // Length and first byte rule out almost every other key before the memcmp call.
    if (f.key_len == k.size() && base[f.key_off] == k[0] &&
        std::memcmp(base + f.key_off, k.data(), k.size()) == 0)
      return static_cast<std::ptrdiff_t>(i);
  }
  return -1;
}

std::string_view cut_utf8(std::string_view s, std::size_t max) noexcept {
  std::size_t n = max;
  // Step back over continuation bytes so a multi-byte sequence is never split.
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80)
    --n;
  return s.substr(0, n);
}

cut_key_result cut_key(std::string_view key, std::size_t max) noexcept {
  if (is_tracer_key(key)) return {false, key, 0};
  const std::string_view cut = cut_utf8(key, max);
  if (cut.empty() || is_tracer_key(cut)) return {true, {}, 0};
  std::uint32_t h = 2166136261u;  // FNV-1a: only over-long keys pay for it
  for (const char c : key)
    h = (h ^ static_cast<unsigned char>(c)) * 16777619u;
  return {false, cut, h | 1};
}

namespace {

// Bytes the arena may still take: the configured bound, and never past 32-bit offsets.
std::size_t arena_room(const span_record& r, const field_limits& limits) {
  const std::size_t cap =
      std::min<std::size_t>(limits.max_span_bytes, std::numeric_limits<std::uint32_t>::max());
  return r.arena.size() >= cap ? 0 : cap - r.arena.size();
}

// Appends to the arena; the arena keeps its capacity across reuse, so this allocates only while warming up.
std::uint32_t append(inline_vector<char, 384>& arena, std::string_view s) {
  const auto off = static_cast<std::uint32_t>(arena.size());
  arena.append(s.data(), s.size());
  return off;
}

// The number a value carries, in the field's union: its bool, integer or double (0 for the other kinds).
[[gnu::always_inline]] inline void store_number(stored_field& f, const field_value& v) {
  switch (v.kind()) {
    case value_kind::boolean:
      f.num.b = v.as_bool();
      break;
    case value_kind::floating:
      f.num.d = v.as_double();
      break;
    default:
      f.num.i = v.as_int();  // 0 unless an integer
  }
}

[[gnu::always_inline]] inline void store_value(span_record& r, stored_field& f, field_value v,
                                               const field_limits& limits, const field_counters& counters) {
  f.kind = v.kind();
  switch (v.kind()) {
    case value_kind::null:
    case value_kind::boolean:
    case value_kind::integer:
    case value_kind::floating:
      store_number(f, v);
      break;
    case value_kind::json:
      if (v.as_string().size() > std::min(limits.max_value_bytes, arena_room(r, limits))) {
        // Cutting JSON text would make it invalid: drop the value instead.
        counters.truncated_values->fetch_add(1, std::memory_order_relaxed);
        f.kind = value_kind::null;
        break;
      }
      [[fallthrough]];
    case value_kind::string: {
      std::string_view s = v.as_string();
      // Replaced values stay in the arena, so the arena as a whole is bounded too.
      const std::size_t room = arena_room(r, limits);
      const std::size_t max = std::min(limits.max_value_bytes, room);
      if (s.size() > max) {
        s = truncate_utf8(s, max);
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
  // Cut before the lookup, so an over-long key matches itself; keys cut alike but given differently are told
  // apart by the hash of the key as given, so one never silently takes the other's field.
  const cut_key_result bounded = bound_key(key, limits.max_key_bytes);
  if (bounded.refused) {
    counters.dropped_fields->fetch_add(1, std::memory_order_relaxed);
    return;
  }
  key = bounded.key;
  const std::uint32_t cut_hash = bounded.hash;
  try {
    const span_record::key_slot slot = span_record::slot_of(key);  // for the lookup, and to note a new key
    if (r.may_hold(slot)) {
      const std::ptrdiff_t at = r.search(key);
      if (at >= 0) {
        stored_field& f = r.fields[static_cast<std::size_t>(at)];
        if (f.cut_key_hash != cut_hash) [[unlikely]] {
          counters.dropped_fields->fetch_add(1, std::memory_order_relaxed);  // the first key keeps it
          return;
        }
        if (replace) {
          store_value(r, f, v, limits, counters);
          if (cut_hash != 0) counters.truncated_keys->fetch_add(1, std::memory_order_relaxed);
        }
        return;
      }
    }
    if (r.fields.size() >= limits.max_fields || key.size() > arena_room(r, limits)) {
      counters.dropped_fields->fetch_add(1, std::memory_order_relaxed);
      return;
    }
    stored_field f;
    f.key_off = append(r.arena, key);
    f.key_len = static_cast<std::uint32_t>(key.size());
    f.cut_key_hash = cut_hash;
    store_value(r, f, v, limits, counters);
    r.fields.push_back(f);
    r.note_key(slot);
    if (cut_hash != 0) [[unlikely]]
      counters.truncated_keys->fetch_add(1, std::memory_order_relaxed);
  } catch (...) {
    // Out of memory: the field is lost, the application is not.
    counters.dropped_fields->fetch_add(1, std::memory_order_relaxed);
  }
}

// The common case of a field, in line: a new key (the filter says it is absent), within the key bound and not
// reserved; a number, or a string within the value bound; room for the key and the text in the record's
// storage as it is, without growing. `add` returns false, having changed nothing, for anything else, which
// `set_field_impl` handles (after `store`; `load` again after it).
//
// The record's sizes, capacities and the limits are held in locals for a whole run of fields: the copies of
// key and text bytes may alias anything as far as the compiler knows, and would otherwise make it load them
// all again after every field.
class field_appender {
 public:
  field_appender(span_record& r, const field_limits& limits) noexcept
      : r_(r),
        max_fields_(limits.max_fields),
        max_key_(limits.max_key_bytes),
        max_value_(limits.max_value_bytes),
        text_bound_(std::min<std::size_t>(limits.max_span_bytes, std::numeric_limits<std::uint32_t>::max())) {
    load();
  }
  /// Takes the record's sizes (again, after another path changed them).
  void load() noexcept {
    fields_ = r_.fields.data();
    nfields_ = r_.fields.size();
    field_room_ = std::min(r_.fields.capacity(), max_fields_);
    text_ = r_.arena.data();
    ntext_ = r_.arena.size();
    text_room_ = std::min(r_.arena.capacity(), text_bound_);
  }
  /// Gives the record its sizes back.
  void store() noexcept {
    r_.fields.resize_unchecked(nfields_);
    r_.arena.resize_unchecked(ntext_);
  }
  [[gnu::always_inline]] bool add(std::string_view key, const field_value& v) noexcept {
    // One comparison for an empty key and one past the bound: the subtraction wraps for the empty one.
    if (key.size() - 1 >= max_key_ || is_reserved_key(key) || nfields_ >= field_room_) return false;
    const value_kind kind = v.kind();
    const bool text = kind == value_kind::string || kind == value_kind::json;
    const std::string_view s = text ? v.as_string() : std::string_view{};
    const std::size_t need = key.size() + s.size();
    if (s.size() > max_value_ || ntext_ + need > text_room_) return false;
    const span_record::key_slot slot = span_record::slot_of(key);
    std::uint64_t& filter = r_.key_filter[slot.word];
    const std::uint64_t seen = filter;
    if (seen & slot.bit) return false;  // maybe set before: the general path looks
    stored_field& f = fields_[nfields_];
    f.key_off = static_cast<std::uint32_t>(ntext_);
    f.key_len = static_cast<std::uint32_t>(key.size());
    f.str_off = static_cast<std::uint32_t>(ntext_ + key.size());
    f.str_len = static_cast<std::uint32_t>(s.size());
    f.cut_key_hash = 0;
    f.kind = kind;
    store_number(f, v);
    copy_bytes(text_ + ntext_, key.data(), key.size());
    if (text) copy_bytes(text_ + ntext_ + key.size(), s.data(), s.size());
    filter = seen | slot.bit;
    ntext_ += need;
    ++nfields_;
    return true;
  }

 private:
  span_record& r_;
  const std::size_t max_fields_, max_key_, max_value_, text_bound_;
  stored_field* fields_ = nullptr;
  std::size_t nfields_ = 0, field_room_ = 0;
  char* text_ = nullptr;
  std::size_t ntext_ = 0, text_room_ = 0;
};

// `set_field_impl` for a field `add` declined, keeping `a` in step with the record.
[[gnu::noinline]] void set_declined(field_appender& a, span_record& r, std::string_view key, field_value v,
                                    const field_limits& limits, const field_counters& counters,
                                    bool replace) {
  a.store();
  set_field_impl(r, key, v, limits, counters, replace);
  a.load();
}

}  // namespace

void add_annotation(span_record& r, bool is_link, std::string_view name, std::uint64_t ticks,
                    std::string_view trace_id, std::string_view span_id, std::span<const field> f,
                    const field_limits& limits, const field_counters& counters) noexcept {
  try {
    name = truncate_utf8(name, std::min(limits.max_value_bytes, arena_room(r, limits)));
    trace_id = trace_id.substr(0, 256);
    span_id = span_id.substr(0, 256);
    if (r.annotations.size() >= limits.max_fields ||
        name.size() + trace_id.size() + span_id.size() > arena_room(r, limits)) {
      counters.dropped_fields->fetch_add(1 + f.size(), std::memory_order_relaxed);
      return;
    }
    stored_annotation a;
    a.is_link = is_link;
    a.name_off = append(r.arena, name);
    a.name_len = static_cast<std::uint32_t>(name.size());
    a.ticks = ticks;
    a.trace_off = append(r.arena, trace_id);
    a.trace_len = static_cast<std::uint32_t>(trace_id.size());
    a.span_off = append(r.arena, span_id);
    a.span_len = static_cast<std::uint32_t>(span_id.size());
    a.first_field = static_cast<std::uint32_t>(r.annotation_fields.size());
    for (const field& fl : f) {
      if (is_reserved_key(fl.key)) continue;
      const cut_key_result bounded = bound_key(fl.key, limits.max_key_bytes);
      if (bounded.refused) {
        counters.dropped_fields->fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      const std::string_view key = bounded.key;
      const std::uint32_t cut_hash = bounded.hash;
      if (r.annotation_fields.size() >= limits.max_fields || key.size() > arena_room(r, limits)) {
        counters.dropped_fields->fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      if (cut_hash != 0) counters.truncated_keys->fetch_add(1, std::memory_order_relaxed);
      stored_field sf;
      sf.key_off = append(r.arena, key);
      sf.key_len = static_cast<std::uint32_t>(key.size());
      sf.cut_key_hash = cut_hash;
      store_value(r, sf, fl.value, limits, counters);
      r.annotation_fields.push_back(sf);
      ++a.field_count;
    }
    r.annotations.push_back(a);
  } catch (...) {
    counters.dropped_fields->fetch_add(1, std::memory_order_relaxed);
  }
}

void set_field(span_record& r, std::string_view key, field_value v, const field_limits& limits,
               const field_counters& counters) noexcept {
  field_appender a(r, limits);
  if (a.add(key, v))
    a.store();
  else
    set_field_impl(r, key, v, limits, counters, true);
}

void set_fields(span_record& r, std::span<const field> f, const field_limits& limits,
                const field_counters& counters) noexcept {
  field_appender a(r, limits);
  for (const field& fl : f)
    if (!a.add(fl.key, fl.value)) set_declined(a, r, fl.key, fl.value, limits, counters, true);
  a.store();
}

void set_named_fields(span_record& r, std::string_view name, std::span<const field> f,
                      const field_limits& limits, const field_counters& counters) noexcept {
  field_appender a(r, limits);
  if (!a.add("name", name)) set_declined(a, r, "name", name, limits, counters, true);
  for (const field& fl : f)
    if (!a.add(fl.key, fl.value)) set_declined(a, r, fl.key, fl.value, limits, counters, true);
  a.store();
}

void set_field_if_absent(span_record& r, std::string_view key, field_value v, const field_limits& limits,
                         const field_counters& counters) noexcept {
  field_appender a(r, limits);
  if (a.add(key, v))
    a.store();
  else
    set_field_impl(r, key, v, limits, counters, false);
}

bool remove_field(span_record& r, std::string_view key, const field_limits& limits) noexcept {
  const cut_key_result bounded = bound_key(key, limits.max_key_bytes);
  if (bounded.refused) return false;
  const std::ptrdiff_t at = r.find(bounded.key);
  if (at < 0 || r.fields[static_cast<std::size_t>(at)].cut_key_hash != bounded.hash) return false;
  r.fields.erase(static_cast<std::size_t>(at));
  return true;
}

void reset_record(span_record& r) noexcept {
  const std::uint64_t gen = generation_of(r.state.load(std::memory_order_relaxed));
  r.state.store((gen + 1) << 2, std::memory_order_release);
  r.trace = nullptr;
  r.span_id = r.parent_id = 0;
  r.is_root = false;
  r.start_ticks = r.end_ticks = 0;
  // A record that once held a huge span would otherwise pin that memory for ever.
  r.fields.reset(1024);
  std::fill(std::begin(r.key_filter), std::end(r.key_filter), 0);
  r.arena.reset(64 * 1024);
  r.annotations.reset(64);
  r.annotation_fields.reset(256);
}

}  // namespace beeline::detail
