// Trace trees, filters and the small text helpers every view shares.
#include "view.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <unordered_set>

namespace beeline::view {

bool filters::accepts(const trace_summary& s) const {
  if (!accepts_trace_id(s.trace_id)) return false;
  if (!name.empty() && !s.name_matched) return false;
  if (!service.empty() && !s.service_matched) return false;
  if (min_duration_ms >= 0 && static_cast<double>(s.duration_ns()) < min_duration_ms * 1e6) return false;
  if (errors_only && s.errors == 0) return false;
  return true;
}

std::vector<trace_summary> select(const summary_map& all, const filters& f) {
  std::vector<trace_summary> out;
  for (const auto& [id, s] : all)
    if (f.accepts(s)) out.push_back(s);
  std::sort(out.begin(), out.end(), [](const trace_summary& a, const trace_summary& b) {
    if (a.start_ns != b.start_ns) return a.start_ns > b.start_ns;
    return a.trace_id < b.trace_id;
  });
  return out;
}

trace_tree build_tree(trace_data& t, input_counts& counts, const filters& f) {
  // Repeated span ids: the first copy is the span, later ones are counted and dropped.
  {
    std::unordered_set<std::string_view> seen;
    std::vector<span> unique;
    unique.reserve(t.spans.size());
    for (span& s : t.spans) {
      if (seen.count(s.span_id)) {
        ++counts.duplicate_spans;
        continue;
      }
      unique.push_back(std::move(s));
      seen.insert(unique.back().span_id);  // the vector was reserved: no reallocation moves the string
    }
    t.spans = std::move(unique);
  }
  std::unordered_map<std::string_view, std::size_t> index;
  for (std::size_t i = 0; i < t.spans.size(); ++i)
    index.emplace(t.spans[i].span_id, i);
  for (auto& [id, a] : t.pending) {
    auto it = index.find(id);
    if (it == index.end()) {
      ++counts.lost_annotations;
      continue;
    }
    t.spans[it->second].annotations.push_back(std::move(a));
  }
  t.pending.clear();
  for (span& s : t.spans)
    std::stable_sort(s.annotations.begin(), s.annotations.end(),
                     [](const annotation& a, const annotation& b) { return a.time_ns < b.time_ns; });

  auto earlier = [&](std::size_t a, std::size_t b) {
    const span& x = t.spans[a];
    const span& y = t.spans[b];
    if (x.start_ns != y.start_ns) return x.start_ns < y.start_ns;
    return x.span_id < y.span_id;
  };
  std::unordered_map<std::string_view, std::vector<std::size_t>> children;
  std::vector<std::size_t> roots;
  std::vector<std::pair<std::string_view, std::vector<std::size_t>>> orphan_groups;
  std::unordered_map<std::string_view, std::size_t> orphan_group_of;
  auto add_orphan = [&](std::string_view parent, std::size_t i) {
    auto [it, fresh] = orphan_group_of.emplace(parent, orphan_groups.size());
    if (fresh) orphan_groups.emplace_back(parent, std::vector<std::size_t>{});
    orphan_groups[it->second].second.push_back(i);
  };
  for (std::size_t i = 0; i < t.spans.size(); ++i) {
    const span& s = t.spans[i];
    if (s.parent_id.empty())
      roots.push_back(i);
    else if (s.parent_id != s.span_id && index.count(s.parent_id))
      children[s.parent_id].push_back(i);
    else if (s.local_root && !index.count(s.parent_id))
      roots.push_back(i);  // a service behind a traced caller whose spans are elsewhere: its local root
    else
      add_orphan(s.parent_id, i);
  }
  for (auto& [id, list] : children)
    std::sort(list.begin(), list.end(), earlier);
  std::sort(roots.begin(), roots.end(), earlier);
  for (auto& [id, list] : orphan_groups)
    std::sort(list.begin(), list.end(), earlier);
  std::stable_sort(orphan_groups.begin(), orphan_groups.end(),
                   [&](const auto& a, const auto& b) { return earlier(a.second.front(), b.second.front()); });

  trace_tree tree;
  tree.trace = &t;
  tree.summary = summarize(t, f);
  std::vector<bool> visited(t.spans.size(), false);
  constexpr std::size_t max_drawn_depth =
      40;  // deeper levels share the last indent (a chain can be very deep)

  struct frame {
    std::size_t i;
    int depth;
    std::string prefix;        // for this row
    std::string child_prefix;  // for its children
    const span* parent;
  };
  // Iterative, so a deep (or hostile) chain of parents cannot overflow the stack.
  auto walk = [&](const std::vector<std::size_t>& tops, int depth, const std::string& base,
                  const span* parent) {
    std::vector<frame> stack;
    auto push_children = [&](const std::vector<std::size_t>& list, int d, const std::string& pre,
                             const span* par) {
      for (std::size_t k = list.size(); k-- > 0;) {
        const bool last = k + 1 == list.size();
        frame fr{list[k], d, pre, pre, par};
        if (d > 0) {
          const bool grow = static_cast<std::size_t>(d) <= max_drawn_depth;
          fr.prefix += last ? "└─ " : "├─ ";
          if (grow) fr.child_prefix += last ? "   " : "│  ";
        }
        stack.push_back(std::move(fr));
      }
    };
    push_children(tops, depth, base, parent);
    while (!stack.empty()) {
      frame fr = std::move(stack.back());
      stack.pop_back();
      if (visited[fr.i]) continue;
      visited[fr.i] = true;
      const span& s = t.spans[fr.i];
      tree_row row;
      row.s = &s;
      row.depth = fr.depth;
      row.prefix = std::move(fr.prefix);
      row.remote_parent = fr.depth == 0 && !s.parent_id.empty();
      if (fr.parent && s.start_ns < fr.parent->start_ns) {
        row.skewed = true;
        ++counts.clock_skew;
      }
      tree.rows.push_back(std::move(row));
      if (auto c = children.find(s.span_id); c != children.end())
        push_children(c->second, fr.depth + 1, fr.child_prefix, &s);
    }
  };
  walk(roots, 0, "", nullptr);
  auto orphan_node = [&](std::string_view missing, const std::vector<std::size_t>& list, bool cycle) {
    tree_row node;
    node.missing_parent = std::string(missing);
    node.cycle = cycle;
    tree.rows.push_back(std::move(node));
    (cycle ? counts.parent_cycles : counts.orphans) += list.size();
    walk(list, 1, "", nullptr);
  };
  for (const auto& [parent, list] : orphan_groups)
    orphan_node(parent, list, false);
  // Spans in a cycle of parents are reachable from no root: shown under an orphan node each.
  for (std::size_t i = 0; i < t.spans.size(); ++i)
    if (!visited[i]) orphan_node(t.spans[i].parent_id, {i}, true);

  tree.t0 = INT64_MAX;
  tree.t1 = INT64_MIN;
  for (const span& s : t.spans) {
    tree.t0 = std::min(tree.t0, s.start_ns);
    tree.t1 = std::max(tree.t1, s.end_ns());
  }
  if (t.spans.empty()) tree.t0 = tree.t1 = 0;
  return tree;
}

namespace {
constexpr std::string_view method_keys[] = {"request.method", "http.request.method", "http.method"};
constexpr std::string_view path_keys[] = {"request.path", "url.path", "http.target", "http.route"};
constexpr std::string_view status_keys[] = {"response.status_code", "http.response.status_code",
                                            "http.status_code"};
}  // namespace

std::span<const std::string_view> request_key_names(request_key k) {
  switch (k) {
    case request_key::method:
      return method_keys;
    case request_key::path:
      return path_keys;
    case request_key::status:
      return status_keys;
    case request_key::none:
      break;
  }
  return {};
}

request_key classify_request_key(std::string_view key) {
  for (const request_key k : {request_key::method, request_key::path, request_key::status})
    for (const std::string_view name : request_key_names(k))
      if (key == name) return k;
  return request_key::none;
}

std::string_view path_of(std::string_view target) {
  return target.substr(0, target.find_first_of("?#"));
}

void print_counts(std::FILE* err, const input_counts& c) {
  auto line = [&](std::uint64_t n, const char* what) {
    if (n) fmt::print(err, "beeline-view: {} {}\n", n, what);
  };
  line(c.not_json, "line(s) not a JSON object (skipped)");
  line(c.truncated_last_line, "truncated last line(s) (skipped)");
  line(c.too_long, "line(s) over the length cap (skipped)");
  line(c.not_span, "JSON object(s) without trace.trace_id and trace.span_id (skipped)");
  line(c.duplicate_spans, "duplicate span id(s) (later copies skipped)");
  line(c.orphans, "span(s) whose parent never arrived (shown under orphan nodes)");
  line(c.parent_cycles, "span(s) in a cycle of parents (shown under orphan nodes)");
  line(c.clock_skew, "span(s) starting before their parent (clock skew, shown)");
  line(c.cut_values, "field value(s) too long to show (cut)");
  line(c.lost_annotations, "span event(s) or link(s) whose span never arrived (skipped)");
  line(c.evicted_traces, "trace(s) dropped before their root arrived (too many open traces)");
  line(c.reopened, "time(s) the file was truncated or replaced (reopened)");
}

std::string format_duration(std::int64_t ns) {
  if (ns < 1000) return fmt::format("{}ns", ns);
  const double d = static_cast<double>(ns);
  if (ns < 1000000) return fmt::format("{:.1f}µs", d / 1e3);
  if (ns < 1000000000) return fmt::format("{:.2f}ms", d / 1e6);
  return fmt::format("{:.3f}s", d / 1e9);
}

namespace {

// Howard Hinnant's days_from_civil / civil_from_days.
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

}  // namespace

std::string format_time(std::int64_t ns, int fraction_digits) {
  std::int64_t secs = ns / 1000000000;
  std::int64_t frac = ns % 1000000000;
  if (frac < 0) {
    frac += 1000000000;
    --secs;
  }
  std::int64_t days = secs / 86400;
  std::int64_t rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  std::int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  std::string out =
      fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", y, m, d, rem / 3600, rem / 60 % 60, rem % 60);
  if (fraction_digits > 0) {
    std::int64_t f = frac;
    for (int i = fraction_digits; i < 9; ++i)
      f /= 10;
    out += fmt::format(".{:0{}}", f, fraction_digits);
  }
  out += " UTC";
  return out;
}

std::optional<std::int64_t> parse_rfc3339(std::string_view s) {
  auto digits = [&](std::size_t at, std::size_t n, int& out) {
    if (at + n > s.size()) return false;
    out = 0;
    for (std::size_t i = at; i < at + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      out = out * 10 + (s[i] - '0');
    }
    return true;
  };
  int y, mo, d, h, mi, sec;
  if (!digits(0, 4, y) || s.size() < 19 || s[4] != '-' || !digits(5, 2, mo) || s[7] != '-' ||
      !digits(8, 2, d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(11, 2, h) ||
      s[13] != ':' || !digits(14, 2, mi) || s[16] != ':' || !digits(17, 2, sec))
    return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  if (y < 1900 || y > 2200) return std::nullopt;  // nanoseconds since 1970 fit in 64 bits
  std::size_t i = 19;
  std::int64_t frac = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    int n = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (n < 9) {
        frac = frac * 10 + (s[i] - '0');
        ++n;
      }
      ++i;
    }
    if (n == 0) return std::nullopt;
    for (; n < 9; ++n)
      frac *= 10;
  }
  std::int64_t offset = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int oh, om;
    if (!digits(i + 1, 2, oh) || i + 3 >= s.size() || s[i + 3] != ':' || !digits(i + 4, 2, om))
      return std::nullopt;
    offset = (oh * 3600 + om * 60) * (s[i] == '+' ? 1 : -1);
    i += 6;
  }
  if (i != s.size()) return std::nullopt;
  const std::int64_t days = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  const std::int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - offset;
  return secs * 1000000000 + frac;
}

void append_json_string(std::string& out, std::string_view s, bool html_safe) {
  static constexpr char hex[] = "0123456789abcdef";
  out.push_back('"');
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        continue;
      case '\\':
        out += "\\\\";
        continue;
      case '\n':
        out += "\\n";
        continue;
      case '\r':
        out += "\\r";
        continue;
      case '\t':
        out += "\\t";
        continue;
      default:
        break;
    }
    // In a page, '<' '>' '&' and the JavaScript line separators U+2028/9 never appear raw: no "</script>".
    const bool html_char = html_safe && (c == '<' || c == '>' || c == '&');
    if (c < 0x20 || html_char) {
      out += "\\u00";
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    } else if (html_safe && c == 0xE2 && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
               (static_cast<unsigned char>(s[i + 2]) == 0xA8 ||
                static_cast<unsigned char>(s[i + 2]) == 0xA9)) {
      out += static_cast<unsigned char>(s[i + 2]) == 0xA8 ? "\\u2028" : "\\u2029";
      i += 2;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  out.push_back('"');
}

std::size_t display_width(std::string_view s) {
  std::size_t n = 0;
  for (char c : s)
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  return n;
}

std::string fit(std::string_view s, std::size_t width) {
  const std::size_t w = display_width(s);
  if (w <= width) {
    std::string out(s);
    out.append(width - w, ' ');
    return out;
  }
  if (width == 0) return {};
  // Keep width-1 characters, then "…".
  std::size_t chars = 0, i = 0;
  for (; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (chars == width - 1) break;
      ++chars;
    }
  }
  std::string out(s.substr(0, i));
  out += "…";
  return out;
}

}  // namespace beeline::view
