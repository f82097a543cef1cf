// The Chrome Trace Event format (chrome://tracing, Perfetto): one process per trace, spans as complete ("X")
// events on lanes (threads) where they nest properly, span events as instant ("i") events on their span's
// lane.
#include "view.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace beeline::view {
namespace {

// A strict JSON number (so the output stays valid JSON whatever the input held).
bool is_json_number(std::string_view s) {
  std::size_t i = 0;
  auto digits = [&] {
    const std::size_t b = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9')
      ++i;
    return i > b;
  };
  if (i < s.size() && s[i] == '-') ++i;
  if (i < s.size() && s[i] == '0')
    ++i;
  else if (!digits())
    return false;
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == s.size();
}

void value_json(std::string& out, const field& f) {
  switch (f.kind) {
    case value_kind::number:
      if (is_json_number(f.text)) {
        out += f.text;
        return;
      }
      break;
    case value_kind::boolean:
    case value_kind::null:
      out += f.text;
      return;
    default:
      break;
  }
  append_json_string(out, f.text);
}

// Microseconds since the epoch with the nanoseconds as a fraction, written exactly (a double would round
// them).
void micros(std::string& out, std::int64_t ns) {
  if (ns < 0) ns = 0;
  out += fmt::format("{}.{:03}", ns / 1000, ns % 1000);
}

}  // namespace

void render_chrome(std::string& out, const std::vector<trace_tree>& traces) {
  out += "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[";
  bool first = true;
  auto begin_event = [&] {
    if (!first) out.push_back(',');
    first = false;
    out += "\n";
  };
  int pid = 0;
  for (const trace_tree& t : traces) {
    ++pid;
    begin_event();
    out += fmt::format("{{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":{},\"tid\":0,\"args\":{{\"name\":",
                       pid);
    append_json_string(out, (t.summary.has_root() ? t.summary.root_name : std::string("(no root)")) + " (" +
                                t.summary.trace_id + ")");
    out += "}}";
    // Lanes: a span goes on the first lane where it fits inside the innermost open span (or after it ends),
    // so each lane's events nest as the format requires. Longer spans first at equal starts, so parents come
    // first.
    std::vector<const span*> spans;
    for (const tree_row& r : t.rows)
      if (r.s) spans.push_back(r.s);
    std::stable_sort(spans.begin(), spans.end(), [](const span* a, const span* b) {
      if (a->start_ns != b->start_ns) return a->start_ns < b->start_ns;
      return a->duration_ns > b->duration_ns;
    });
    std::vector<std::vector<std::int64_t>> lanes;  // per lane, the ends of its open spans (innermost last)
    for (const span* s : spans) {
      std::size_t lane = 0;
      for (; lane < lanes.size(); ++lane) {
        auto& open = lanes[lane];
        while (!open.empty() && open.back() <= s->start_ns)
          open.pop_back();
        if (open.empty() || open.back() >= s->end_ns()) break;
      }
      if (lane == lanes.size()) lanes.emplace_back();
      lanes[lane].push_back(s->end_ns());
      const int tid = static_cast<int>(lane) + 1;
      begin_event();
      out += "{\"name\":";
      append_json_string(out, s->name);
      out += ",\"cat\":";
      append_json_string(out, s->service.empty() ? std::string("span") : s->service);
      out += ",\"ph\":\"X\",\"ts\":";
      micros(out, s->start_ns);
      out += ",\"dur\":";
      micros(out, s->duration_ns);
      out += fmt::format(",\"pid\":{},\"tid\":{},\"args\":{{\"trace.trace_id\":", pid, tid);
      append_json_string(out, t.summary.trace_id);
      out += ",\"trace.span_id\":";
      append_json_string(out, s->span_id);
      if (!s->parent_id.empty()) {
        out += ",\"trace.parent_id\":";
        append_json_string(out, s->parent_id);
      }
      for (const field& f : s->fields) {
        if (f.key == "trace.trace_id" || f.key == "trace.span_id" || f.key == "trace.parent_id") continue;
        out.push_back(',');
        append_json_string(out, f.key);
        out.push_back(':');
        value_json(out, f);
      }
      out += "}}";
      for (const annotation& a : s->annotations) {
        begin_event();
        out += "{\"name\":";
        append_json_string(out, a.is_link ? "link " + a.name : a.name);
        out += ",\"cat\":\"span_event\",\"ph\":\"i\",\"s\":\"t\",\"ts\":";
        micros(out, a.time_ns);
        out += fmt::format(",\"pid\":{},\"tid\":{},\"args\":{{", pid, tid);
        for (std::size_t k = 0; k < a.fields.size(); ++k) {
          if (k) out.push_back(',');
          append_json_string(out, a.fields[k].key);
          out.push_back(':');
          value_json(out, a.fields[k]);
        }
        out += "}}";
      }
    }
  }
  out += "\n]}\n";
}

}  // namespace beeline::view
