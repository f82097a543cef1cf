// The terminal views: the trace list and the waterfall tree. Colours only through `style`; widths in columns
// (one per code point, which is right for the box-drawing and block characters used here).
#include "view.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace beeline::view {
namespace {

constexpr const char* reset = "\x1b[0m";
constexpr const char* bold = "\x1b[1m";
constexpr const char* dim = "\x1b[2m";
constexpr const char* red = "\x1b[31m";
constexpr const char* yellow = "\x1b[33m";

const char* service_colour(std::string_view service) {
  static constexpr const char* palette[] = {"\x1b[36m", "\x1b[32m", "\x1b[34m",
                                            "\x1b[35m", "\x1b[96m", "\x1b[92m"};
  std::size_t h = 0;
  for (char c : service)
    h = h * 31 + static_cast<unsigned char>(c);
  return palette[h % std::size(palette)];
}

// Span data is untrusted: control characters (escape sequences, newlines) never reach the terminal.
std::string clean(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u == '\n')
      out += "\\n";
    else if (u == '\t')
      out += "\\t";
    else if (u < 0x20 || u == 0x7f)
      out.push_back('?');
    else
      out.push_back(c);
  }
  return out;
}

struct painter {
  const style& st;
  std::string& out;
  void text(std::string_view s, const char* colour = nullptr) {
    if (st.color && colour) {
      out += colour;
      out += s;
      out += reset;
    } else {
      out += s;
    }
  }
};

std::string key_fields(const span& s, bool root) {
  std::string out;
  auto add = [&](std::string_view part) {
    if (!out.empty()) out.push_back(' ');
    out += part;
  };
  auto shown = [&](const field& f) {
    if (f.key.starts_with("meta.") || f.key.starts_with("trace.")) return false;
    if (f.key == "service_name" || f.key == "service.name" || f.key == "timestamp" || f.key == "Timestamp")
      return false;
    if (!root && f.key.starts_with("app.")) return false;  // trace-level fields: on the root only
    return true;
  };
  auto value = [](const field& f) {
    std::string v = clean(f.text);
    if (display_width(v) > 40) v = fit(v, 40);
    return v;
  };
  // Errors first, so they survive the cut to the terminal's width.
  for (const field& f : s.fields)
    if (f.key == "error" || f.key == "error_detail") add(clean(f.key) + "=" + value(f));
  for (const field& f : s.fields)
    if (shown(f) && f.key != "error" && f.key != "error_detail") add(clean(f.key) + "=" + value(f));
  for (const annotation& a : s.annotations)
    add((a.is_link ? "→" : "◆") + clean(a.name));
  return out;
}

}  // namespace

void render_list(std::string& out, const std::vector<trace_summary>& traces, const style& st) {
  painter p{st, out};
  std::size_t service_w = 7;
  std::size_t root_names_w = 4;
  std::size_t paths_w = 4;
  std::size_t method_w = 0;  // the request columns are left out when no root has any of them
  bool requests = false;
  for (const trace_summary& s : traces) {
    service_w = std::max(service_w, display_width(s.service));
    root_names_w = std::max(root_names_w, display_width(s.has_root() ? clean(s.root_name) : "(no root)"));
    method_w = std::max(method_w, display_width(s.method));
    paths_w = std::max(paths_w, display_width(clean(s.path)));
    requests = requests || !s.method.empty() || !s.path.empty() || !s.status.empty();
  }
  service_w = std::min<std::size_t>(service_w, 20);
  method_w = std::clamp<std::size_t>(method_w, 6, 7);  // "METHOD"; OPTIONS is the longest
  constexpr std::size_t status_w = 6;
  // A narrow terminal gets the first 16 digits of the trace id (enough for --trace, which takes a prefix),
  // and leaves the request columns out when they would leave the root's name and the path 8 columns each.
  constexpr std::size_t fixed = 23 + 2 + 9 + 2 + 5 + 2 + 6 + 2 + 2;
  const auto width = static_cast<std::size_t>(std::max(st.width, 20));
  requests = requests && width >= fixed + 16 + service_w + 2 + method_w + 2 + status_w + 2 + 8 + 2 + 8;
  const std::size_t request_w = requests ? method_w + 2 + status_w + 2 : 0;
  const std::size_t wanted = requests ? std::max<std::size_t>(24, root_names_w + 2 + paths_w) : 24;
  const std::size_t id_w = width >= fixed + 32 + service_w + 2 + request_w + wanted ? 32 : 16;
  const std::size_t used = fixed + id_w + service_w + 2 + request_w;
  const std::size_t rest = width > used + 8 ? width - used : 8;
  // With a PATH column the root's name and the path share what is left; when both do not fit, the path keeps
  // up to half (it is what tells requests of one route apart).
  const std::size_t root_w =
      requests ? std::min(root_names_w, std::max<std::size_t>(8, rest - 2 - std::min(paths_w, rest / 2)))
               : rest;
  const std::size_t path_w = requests && rest > root_w + 2 + 8 ? rest - root_w - 2 : 8;

  std::string head = fmt::format("{:<23}  {:>9}  {:>5}  {:>6}  {}  {}  ", "START (UTC)", "DURATION", "SPANS",
                                 "ERRORS", fit("TRACE ID", id_w), fit("SERVICE", service_w));
  if (requests)
    head += fmt::format("{}  {}  {}  PATH", fit("METHOD", method_w), fit("STATUS", status_w),
                        fit("ROOT", root_w));
  else
    head += "ROOT";
  p.text(head, bold);
  out.push_back('\n');
  for (const trace_summary& s : traces) {
    std::string time = format_time(s.start_ns, 3);
    time.resize(time.size() - 4);  // " UTC": in the header
    out += fmt::format("{:<23}  {:>9}  {:>5}  ", time, format_duration(s.duration_ns()), s.spans);
    p.text(fmt::format("{:>6}", s.errors), s.errors ? red : nullptr);
    out += "  ";
    const std::string id = clean(s.trace_id);
    p.text(id.size() <= id_w ? fit(id, id_w) : id_w == 32 ? id : id.substr(0, id_w), dim);
    out += "  ";
    p.text(fit(clean(s.service), service_w), service_colour(s.service));
    out += "  ";
    if (requests) {
      out += fit(clean(s.method), method_w);
      out += "  ";
      const std::string status = clean(s.status);
      const bool server_error = status.size() == 3 && status[0] == '5';
      const bool client_error = status.size() == 3 && status[0] == '4';
      p.text(fit(status, status_w), server_error ? red : client_error ? yellow : nullptr);
      out += "  ";
    }
    std::string root = s.has_root() ? clean(s.root_name) : "(no root)";
    if (display_width(root) > root_w || requests) root = fit(root, root_w);
    p.text(root, s.has_root() ? nullptr : yellow);
    if (requests) {
      out += "  ";
      const std::string path = clean(s.path);
      out += display_width(path) > path_w ? fit(path, path_w) : path;
    }
    while (!out.empty() && out.back() == ' ')
      out.pop_back();
    out.push_back('\n');
  }
}

void render_tree(std::string& out, const trace_tree& t, const style& st) {
  painter p{st, out};
  const trace_summary& s = t.summary;
  const int width = std::max(st.width, 40);
  p.text(fmt::format("trace {}", clean(s.trace_id)), bold);
  out += fmt::format("  {}  service {}\n", s.has_root() ? clean(s.root_name) : "(no root)",
                     s.service.empty() ? "(none)" : clean(s.service));
  out += fmt::format("{}  ·  {}  ·  {} span{}  ·  ", format_time(t.t0, 6), format_duration(s.duration_ns()),
                     s.spans, s.spans == 1 ? "" : "s");
  p.text(fmt::format("{} error{}", s.errors, s.errors == 1 ? "" : "s"), s.errors ? red : nullptr);
  out.push_back('\n');

  std::size_t name_w = 10;
  std::vector<std::string> names;
  names.reserve(t.rows.size());
  for (const tree_row& r : t.rows) {
    std::string n = r.s       ? r.prefix + clean(r.s->name.empty() ? "(unnamed)" : r.s->name)
                    : r.cycle ? "⚠ parent " + clean(r.missing_parent) + " is in a cycle of parents"
                              : "⚠ parent " + clean(r.missing_parent) + " never arrived";
    if (r.s) name_w = std::max(name_w, display_width(n));  // an orphan node's label has the whole line
    names.push_back(std::move(n));
  }
  name_w = std::min<std::size_t>(name_w, static_cast<std::size_t>(width) * 2 / 5);
  const std::size_t bar_w = std::max<std::size_t>(
      10, (static_cast<std::size_t>(width) - std::min<std::size_t>(name_w + 11, width)) / 2);
  const std::size_t used = name_w + 1 + bar_w + 1 + 9 + 1;
  const std::size_t fields_w =
      static_cast<std::size_t>(width) > used ? static_cast<std::size_t>(width) - used : 0;

  // Scale line: 0 at the left of the bars, the window at the right.
  const std::string total = format_duration(t.window_ns());
  std::string scale = "0";
  scale.append(bar_w > total.size() + 1 ? bar_w - display_width(total) - 1 : 1, ' ');
  scale += total;
  p.text(fmt::format("{} {} {:>9} {}", fit("span", name_w), fit(scale, bar_w), "duration", "fields"), dim);
  out.push_back('\n');

  const double window = static_cast<double>(t.window_ns());
  auto column = [&](std::int64_t at) {
    const double x = static_cast<double>(at - t.t0) / window * static_cast<double>(bar_w);
    return std::clamp(x, 0.0, static_cast<double>(bar_w));
  };
  for (std::size_t i = 0; i < t.rows.size(); ++i) {
    const tree_row& r = t.rows[i];
    if (!r.s) {
      const auto line_w = static_cast<std::size_t>(width);
      p.text(display_width(names[i]) > line_w ? fit(names[i], line_w) : names[i], yellow);
      out.push_back('\n');
      continue;
    }
    const span& sp = *r.s;
    p.text(fit(names[i], name_w), sp.parent_id.empty() || r.remote_parent ? bold : nullptr);
    out.push_back(' ');
    // The bar: whole cells from the start's cell to the end's, at least one.
    auto from = static_cast<std::size_t>(std::floor(column(sp.start_ns)));
    auto to = static_cast<std::size_t>(std::ceil(column(sp.end_ns())));
    from = std::min(from, bar_w - 1);
    to = std::clamp(to, from + 1, bar_w);
    std::vector<int> cells(bar_w, 0);  // 0 empty, 1 bar, 2 mark
    for (std::size_t c = from; c < to; ++c)
      cells[c] = 1;
    for (const annotation& a : sp.annotations) {
      if (a.is_link) continue;
      const auto c = std::min(static_cast<std::size_t>(column(a.time_ns)), bar_w - 1);
      cells[c] = 2;
    }
    const char* bar_colour = sp.error ? red : service_colour(sp.service);
    for (std::size_t c = 0; c < bar_w;) {
      std::size_t e = c;
      while (e < bar_w && cells[e] == cells[c])
        ++e;
      std::string run;
      for (std::size_t k = c; k < e; ++k)
        run += cells[c] == 0 ? " " : cells[c] == 1 ? "█" : "◆";
      p.text(run, cells[c] == 0 ? nullptr : cells[c] == 1 ? bar_colour : yellow);
      c = e;
    }
    out += fmt::format(" {:>9}", format_duration(sp.duration_ns));
    std::string fields = key_fields(sp, sp.parent_id.empty() || r.remote_parent);
    if (r.skewed) fields = "[clock skew] " + fields;
    if (r.remote_parent) fields = "[called by " + clean(sp.parent_id) + "] " + fields;
    if (fields_w > 0 && !fields.empty()) {
      out.push_back(' ');
      p.text(display_width(fields) > fields_w ? fit(fields, fields_w) : fields, sp.error ? red : dim);
    }
    // No trailing spaces: golden files and copy-paste stay clean.
    while (!out.empty() && out.back() == ' ')
      out.pop_back();
    out.push_back('\n');
  }
}

}  // namespace beeline::view
