// Reading JSON lines: lines are cut out of one padded buffer and parsed in place with simdjson's On Demand
// parser, so a span costs no copy unless it is kept for display. A query for one trace parses each line twice
// at most: once for the ids (skipping every other value) and again, rewound, only when the span is kept.
#include "view.hpp"

#include <simdjson.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace beeline::view {
namespace {

namespace od = simdjson::ondemand;

struct raw_field {
  std::string_view key;
  std::string_view text;
  value_kind kind;
};

// One line's fields, as views into the line and the parser's string buffer (valid until the next line).
struct parsed {
  std::string_view trace_id, span_id, parent_id, name, service_name, service_dot_name, annotation_type;
  std::string_view link_trace, link_span, time_text, timestamp_text;
  std::string_view span_type, method, path, status;
  double duration_ms = 0;
  bool error = false;
  std::vector<raw_field> fields;
  void clear() {
    std::vector<raw_field> keep = std::move(fields);
    keep.clear();
    *this = parsed{};
    fields = std::move(keep);
  }
  std::string_view service() const { return service_name.empty() ? service_dot_name : service_name; }
};

enum class line_status { ok, not_json, not_span };

std::string_view trim_right(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

bool string_value(od::value& v, std::string_view& out) {
  std::string_view s;
  if (v.get_string().get(s)) return false;
  out = s;
  return true;
}

// The value as display text; false if the JSON is broken.
bool value_text(od::value& v, raw_field& f) {
  od::json_type type;
  if (v.type().get(type)) return false;
  switch (type) {
    case od::json_type::string:
      f.kind = value_kind::string;
      return !v.get_string().get(f.text);
    case od::json_type::number: {
      f.kind = value_kind::number;
      double d;
      if (v.get_double().get(d)) {
        // Integers beyond a double's range still read as their digits.
        std::string_view raw = trim_right(v.raw_json_token());
        if (raw.empty()) return false;
        f.text = raw;
        return true;
      }
      f.text = trim_right(v.raw_json_token());
      return true;
    }
    case od::json_type::boolean: {
      f.kind = value_kind::boolean;
      bool b;
      if (v.get_bool().get(b)) return false;
      f.text = b ? "true" : "false";
      return true;
    }
    case od::json_type::null:
      f.kind = value_kind::null;
      f.text = "null";
      return v.is_null();
    case od::json_type::object: {
      f.kind = value_kind::other;
      od::object o;
      if (v.get_object().get(o)) return false;
      return !o.raw_json().get(f.text);
    }
    case od::json_type::array: {
      f.kind = value_kind::other;
      od::array a;
      if (v.get_array().get(a)) return false;
      return !a.raw_json().get(f.text);
    }
  }
  return false;
}

bool is_error_value(od::value& v) {
  od::json_type type;
  if (v.type().get(type)) return false;
  switch (type) {
    case od::json_type::string: {
      std::string_view s;
      return !v.get_string().get(s) && !s.empty();
    }
    case od::json_type::boolean: {
      bool b = false;
      return !v.get_bool().get(b) && b;
    }
    case od::json_type::number: {
      double d = 0;
      return !v.get_double().get(d) && d != 0;
    }
    case od::json_type::object:
    case od::json_type::array:
      return true;
    case od::json_type::null:
      return false;
  }
  return false;
}

// A string's text or a number's digits (a status code is written either way); false for other values.
bool scalar_text(od::value& v, std::string_view& out) {
  od::json_type type;
  if (v.type().get(type)) return false;
  if (type == od::json_type::string) return !v.get_string().get(out);
  if (type != od::json_type::number) return false;
  out = trim_right(v.raw_json_token());
  return !out.empty();
}

// classify_request_key on a key as written (the names have nothing to unescape).
request_key classify_raw_key(const od::raw_json_string& k) {
  for (const std::string_view name : request_key_names(request_key::method))
    if (k.unsafe_is_equal(name)) return request_key::method;
  for (const std::string_view name : request_key_names(request_key::path))
    if (k.unsafe_is_equal(name)) return request_key::path;
  for (const std::string_view name : request_key_names(request_key::status))
    if (k.unsafe_is_equal(name)) return request_key::status;
  return request_key::none;
}

std::string_view* request_slot(parsed& out, request_key k) {
  switch (k) {
    case request_key::method:
      return &out.method;
    case request_key::path:
      return &out.path;
    case request_key::status:
      return &out.status;
    case request_key::none:
      break;
  }
  return nullptr;
}

// Walks an object's fields, picking out the ones the views need; with `collect`, keeps the others as text.
bool walk(od::object obj, parsed& out, bool collect, bool top_level) {
  for (auto item : obj) {
    if (item.error()) return false;
    od::field f = std::move(item).value_unsafe();
    const od::raw_json_string k = f.key();
    od::value v = f.value();
    std::string_view* target = nullptr;
    std::string_view* request = nullptr;  // a list column; the first of its names that is set wins
    bool also_keep = false;
    bool is_error = false;
    switch (*k.raw()) {
      case 'h':
      case 'r':
      case 'u': {
        request = request_slot(out, classify_raw_key(k));
        if (request && !collect) {
          std::string_view text;
          if (scalar_text(v, text) && request->empty()) *request = text;
          continue;
        }
        break;
      }
      case 'd':
        if (top_level && k.unsafe_is_equal("data")) {
          od::json_type type;
          if (v.type().get(type)) return false;
          if (type == od::json_type::object) {
            od::object inner;
            if (v.get_object().get(inner) || !walk(inner, out, collect, false)) return false;
            continue;
          }
        } else if (top_level && k.unsafe_is_equal("dataset")) {
          continue;
        } else if (k.unsafe_is_equal("duration_ms")) {
          double d;
          if (!v.get_double().get(d)) {
            out.duration_ms = d;
            continue;
          }
        }
        break;
      case 'e':
        if (k.unsafe_is_equal("error")) {
          if (!collect) {
            out.error = is_error_value(v);
            continue;
          }
          is_error = true;  // On Demand reads a value once: decided from its text below
        }
        break;
      case 'm':
        if (k.unsafe_is_equal("meta.annotation_type")) {
          target = &out.annotation_type;
        } else if (k.unsafe_is_equal("meta.span_type")) {
          target = &out.span_type;
          also_keep = true;
        }
        break;
      case 'n':
        if (k.unsafe_is_equal("name")) target = &out.name;
        break;
      case 's':
        if (top_level && k.unsafe_is_equal("samplerate")) continue;
        if (k.unsafe_is_equal("service_name"))
          target = &out.service_name;
        else if (k.unsafe_is_equal("service.name"))
          target = &out.service_dot_name;
        break;
      case 't':
        if (top_level && k.unsafe_is_equal("time")) {
          target = &out.time_text;
        } else if (k.unsafe_is_equal("trace.trace_id")) {
          target = &out.trace_id;
        } else if (k.unsafe_is_equal("trace.span_id")) {
          target = &out.span_id;
        } else if (k.unsafe_is_equal("trace.parent_id")) {
          target = &out.parent_id;
        } else if (k.unsafe_is_equal("trace.link.trace_id")) {
          target = &out.link_trace;
        } else if (k.unsafe_is_equal("trace.link.span_id")) {
          target = &out.link_span;
        } else if (k.unsafe_is_equal("timestamp")) {
          target = &out.timestamp_text;
          also_keep = true;
        }
        break;
      case 'T':
        if (k.unsafe_is_equal("Timestamp")) {
          target = &out.timestamp_text;
          also_keep = true;
        }
        break;
      default:
        break;
    }
    if (target && (!also_keep || !collect)) {
      if (string_value(v, *target)) continue;
      // Not a string: shown as an ordinary field.
    }
    if (!collect) continue;
    raw_field rf;
    if (f.unescaped_key().get(rf.key)) return false;
    if (!value_text(v, rf)) return false;
    if (target && rf.kind == value_kind::string) *target = rf.text;
    if (request && request->empty() && (rf.kind == value_kind::string || rf.kind == value_kind::number))
      *request = rf.text;
    if (is_error) {
      switch (rf.kind) {
        case value_kind::string:
          out.error = !rf.text.empty();
          break;
        case value_kind::boolean:
          out.error = rf.text == "true";
          break;
        case value_kind::number:
          out.error = rf.text.find_first_not_of("0.-+eE") != std::string_view::npos;
          break;
        case value_kind::null:
          out.error = false;
          break;
        case value_kind::other:
          out.error = true;
          break;
      }
    }
    out.fields.push_back(rf);
  }
  return true;
}

void add_to_summary(trace_summary& s, const parsed& p, std::int64_t start, std::int64_t dur,
                    const filters& f) {
  ++s.spans;
  if (p.error) ++s.errors;
  s.start_ns = std::min(s.start_ns, start);
  s.end_ns = std::max(s.end_ns, start + dur);
  const std::string_view service = p.service();
  // The trace's root, else (a service behind a traced caller, the caller's spans elsewhere) the earliest
  // local root. A local root gives way to the trace's root if that turns up too.
  const bool root = p.parent_id.empty();
  const bool local_root = !root && p.span_type == "subroot";
  const bool takes_root = root
                              ? !s.has_root() || s.root_is_local
                              : local_root && (!s.has_root() || (s.root_is_local && start < s.root_start_ns));
  if (takes_root) {
    s.root_name = p.name;
    s.root_duration_ns = dur;
    s.root_is_local = local_root;
    s.root_start_ns = start;
    s.method = p.method;
    s.path = path_of(p.path);
    s.status = p.status;
    if (!service.empty()) s.service = service;
  } else if (s.service.empty()) {
    s.service = service;
  }
  if (!f.name.empty() && p.name.find(f.name) != std::string_view::npos) s.name_matched = true;
  if (!f.service.empty() && service == f.service) s.service_matched = true;
}

std::string cut_value(std::string_view text, std::size_t cap, bool& cut) {
  cut = text.size() > cap;
  if (!cut) return std::string(text);
  std::size_t n = cap;
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80)
    --n;
  std::string s(text.substr(0, n));
  s += "… [cut, ";
  s += std::to_string(text.size());
  s += " bytes]";
  return s;
}

std::vector<field> keep_fields(const std::vector<raw_field>& raw, std::size_t cap, input_counts& counts) {
  std::vector<field> out;
  out.reserve(raw.size());
  for (const raw_field& r : raw) {
    bool cut = false;
    field f{std::string(r.key), cut_value(r.text, cap, cut), r.kind};
    if (cut) {
      ++counts.cut_values;
      f.kind = value_kind::string;
    }
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace

struct reader::impl {
  od::parser parser;
  parsed p;
};

reader::reader(read_options opts, filters f)
    : impl_(std::make_unique<impl>()), opts_(opts), filter_(std::move(f)) {
  buf_.resize((1u << 20) + simdjson::SIMDJSON_PADDING);
}

reader::~reader() = default;

void reader::reset_partial() {
  used_ = 0;
  skipping_long_ = false;
}

std::size_t reader::read_available(int fd) {
  std::size_t total = 0;
  for (;;) {
    std::size_t room = buf_.size() - simdjson::SIMDJSON_PADDING - used_;
    if (room < (64u << 10)) {
      buf_.resize((buf_.size() - simdjson::SIMDJSON_PADDING) * 2 + simdjson::SIMDJSON_PADDING);
      room = buf_.size() - simdjson::SIMDJSON_PADDING - used_;
    }
    const ssize_t n = ::read(fd, buf_.data() + used_, room);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    total += static_cast<std::size_t>(n);
    consume(buf_.data(), used_ + static_cast<std::size_t>(n), buf_.size());
  }
  return total;
}

void reader::read_fd(int fd) {
  read_available(fd);
  finish();
}

void reader::consume(const char* data, std::size_t len, std::size_t capacity) {
  std::size_t pos = 0;
  while (pos < len) {
    const void* nl = std::memchr(data + pos, '\n', len - pos);
    if (!nl) break;
    const std::size_t end = static_cast<std::size_t>(static_cast<const char*>(nl) - data);
    if (skipping_long_) {
      skipping_long_ = false;
    } else if (end - pos > opts_.max_line_bytes) {
      ++counts_.lines;
      ++counts_.too_long;
    } else {
      line(data + pos, end - pos, capacity - pos);
    }
    pos = end + 1;
  }
  const std::size_t rest = len - pos;
  if (skipping_long_) {
    used_ = 0;
  } else if (rest > opts_.max_line_bytes) {
    ++counts_.lines;
    ++counts_.too_long;
    skipping_long_ = true;
    used_ = 0;
  } else {
    if (pos > 0 && rest > 0) std::memmove(buf_.data(), data + pos, rest);
    used_ = rest;
  }
}

void reader::finish() {
  if (used_ > 0 && !skipping_long_) {
    const std::uint64_t not_json = counts_.not_json;
    line(buf_.data(), used_, buf_.size());
    if (counts_.not_json != not_json) {  // a last line cut short, not a line of garbage
      --counts_.not_json;
      ++counts_.truncated_last_line;
    }
  }
  used_ = 0;
  skipping_long_ = false;
}

void reader::line(const char* text, std::size_t len, std::size_t capacity) {
  std::size_t b = 0;
  while (b < len && (text[b] == ' ' || text[b] == '\t' || text[b] == '\r'))
    ++b;
  if (b == len) return;  // blank
  ++counts_.lines;
  parsed& p = impl_->p;
  p.clear();
  // On Demand reads lazily and takes a cut-off object ("{\"a\": ") for a short one: an object line must end
  // in '}'.
  std::size_t e = len;
  while (e > b && (text[e - 1] == ' ' || text[e - 1] == '\t' || text[e - 1] == '\r'))
    --e;
  if (text[b] == '{' && text[e - 1] != '}') {
    ++counts_.not_json;
    return;
  }
  auto parse = [&](bool collect) -> line_status {
    od::document doc;
    if (impl_->parser.iterate(text, len, capacity).get(doc)) return line_status::not_json;
    od::json_type type;
    if (doc.type().get(type)) return line_status::not_json;
    if (type != od::json_type::object) return line_status::not_json;
    od::object obj;
    if (doc.get_object().get(obj)) return line_status::not_json;
    if (!walk(obj, p, collect, true)) return line_status::not_json;
    return line_status::ok;
  };
  line_status st = parse(false);
  if (st == line_status::ok && (p.trace_id.empty() || (p.span_id.empty() && p.annotation_type.empty())))
    st = line_status::not_span;
  if (st == line_status::not_json) {
    ++counts_.not_json;
    return;
  }
  if (st == line_status::not_span) {
    ++counts_.not_span;
    return;
  }
  if (!filter_.accepts_trace_id(p.trace_id)) {
    if (p.annotation_type.empty())
      ++counts_.spans;
    else
      ++counts_.annotations;
    return;
  }
  const bool keep = opts_.keep_spans;
  if (keep) {
    p.clear();
    if (parse(true) != line_status::ok) {  // cannot differ from the first walk, but never trust it blindly
      ++counts_.not_json;
      return;
    }
  }
  std::string_view time_text = p.time_text.empty() ? p.timestamp_text : p.time_text;
  const std::int64_t start = parse_rfc3339(time_text).value_or(0);
  const double dur_ms =
      p.duration_ms > 0 && p.duration_ms < 1e12 ? p.duration_ms : 0;  // < 30 years: no overflow
  const auto dur = static_cast<std::int64_t>(dur_ms * 1e6 + 0.5);

  if (!p.annotation_type.empty()) {
    ++counts_.annotations;
    if (!keep) return;
    auto it = traces_.find(p.trace_id);
    if (it == traces_.end()) {
      it = traces_.emplace(std::string(p.trace_id), trace_data{}).first;
      it->second.trace_id = std::string(p.trace_id);
      it->second.first_seen = seq_++;
    }
    annotation a;
    a.is_link = p.annotation_type == "link";
    a.time_ns = start;
    if (a.is_link) {
      a.name = std::string(p.link_trace) + "/" + std::string(p.link_span);
    } else {
      a.name = p.name;
    }
    a.fields = keep_fields(p.fields, opts_.max_value_bytes, counts_);
    std::erase_if(a.fields, [](const field& f) {
      return f.key == "service_name" || f.key == "service.name" || f.key.starts_with("meta.");
    });
    trace_data& t = it->second;
    // The exporter writes a span's annotations right after it, so the span is usually the last one.
    for (auto s = t.spans.rbegin(); s != t.spans.rend(); ++s) {
      if (s->span_id == p.parent_id) {
        s->annotations.push_back(std::move(a));
        return;
      }
    }
    t.pending.emplace_back(std::string(p.parent_id), std::move(a));
    return;
  }

  ++counts_.spans;
  if (!keep) {
    auto it = summaries_.find(p.trace_id);
    if (it == summaries_.end()) {
      it = summaries_.emplace(std::string(p.trace_id), trace_summary{}).first;
      it->second.trace_id = it->first;
      it->second.first_seen = seq_++;
    }
    add_to_summary(it->second, p, start, dur, filter_);
    return;
  }
  auto it = traces_.find(p.trace_id);
  if (it == traces_.end()) {
    it = traces_.emplace(std::string(p.trace_id), trace_data{}).first;
    it->second.trace_id = std::string(p.trace_id);
    it->second.first_seen = seq_++;
  }
  span s;
  s.span_id = p.span_id;
  s.parent_id = p.parent_id;
  s.name = p.name;
  s.service = p.service();
  s.start_ns = start;
  s.duration_ns = dur;
  s.error = p.error;
  s.local_root = !s.parent_id.empty() && p.span_type == "subroot";
  s.fields = keep_fields(p.fields, opts_.max_value_bytes, counts_);
  // A local root ends its service's part of the trace: --follow prints that part then.
  const bool root = s.parent_id.empty() || s.local_root;
  it->second.spans.push_back(std::move(s));
  if (root) {
    it->second.root_seen = true;
    if (on_root) on_root(it->first);
  }
}

trace_summary summarize(const trace_data& t, const filters& f) {
  trace_summary s;
  s.trace_id = t.trace_id;
  s.first_seen = t.first_seen;
  parsed p;
  for (const span& sp : t.spans) {
    p.name = sp.name;
    p.service_name = sp.service;
    p.parent_id = sp.parent_id;
    p.error = sp.error;
    p.span_type = sp.local_root ? "subroot" : "";
    p.method = p.path = p.status = {};
    for (const field& fl : sp.fields)
      if (std::string_view* slot = request_slot(p, classify_request_key(fl.key));
          slot && slot->empty() && (fl.kind == value_kind::string || fl.kind == value_kind::number))
        *slot = fl.text;
    add_to_summary(s, p, sp.start_ns, sp.duration_ns, f);
  }
  return s;
}

}  // namespace beeline::view
