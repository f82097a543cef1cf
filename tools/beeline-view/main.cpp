// beeline-view: the traces in the JSON lines beeline-cpp writes, as a list, as waterfalls in the terminal, as
// one HTML page or as a Chrome trace; --follow prints each trace as its root span is written.
#include "view.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace {

using namespace beeline::view;

constexpr std::string_view usage =
    R"(usage: beeline-view [options] [FILE...]      (no FILE, or -, reads stdin)

Reads the JSON lines beeline-cpp writes (one span per line) and shows the traces in them.

  (default)              list the traces, newest first: start, duration, spans, errors, trace id, service, root
  --trace ID             show that trace (an id or a prefix of one) as a waterfall tree
  --tree                 show every trace (that the filters let through) as a waterfall tree
  --name TEXT            only traces with a span whose name contains TEXT
  --service NAME         only traces with a span from service NAME
  --min-duration MS      only traces lasting at least MS milliseconds
  --errors               only traces with an error
  --limit N              only the N newest traces (after the filters)
  --follow               keep reading FILE as it grows; print each trace when its root span arrives
  --html OUT.html        write one self-contained page: the trace list and a waterfall per trace
  --chrome OUT.json      write the Chrome Trace Event format (chrome://tracing, Perfetto)
  --width N              columns (default: the terminal's, else $COLUMNS, else 100)
  --no-color, --color    colours (default: on a terminal unless NO_COLOR is set)
  --max-line-bytes N     skip longer lines (default 4194304)
  --poll-ms MS           --follow: how often to look for new data (default 200)
  --follow-exit-after-idle MS   --follow: exit after MS without new data
  --follow-max-open N    --follow: traces waiting for their root at most (default 10000)
)";

struct options {
  std::vector<std::string> files;
  filters filter;
  bool follow = false;
  bool tree = false;
  std::string html_path;
  std::string chrome_path;
  int width = 0;
  int color = -1;  // -1: automatic
  std::size_t max_line_bytes = 4u << 20;
  int poll_ms = 200;
  long exit_after_idle_ms = -1;
  std::size_t max_open = 10000;
  std::size_t limit = 0;  // 0: all
};

template <class T>
bool number(std::string_view s, T& out) {
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, out);
  return ec == std::errc() && p == end;
}

std::optional<options> parse_args(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&](std::string_view& v) {
      if (i + 1 >= argc) {
        fmt::print(stderr, "beeline-view: {} needs a value\n", a);
        return false;
      }
      v = argv[++i];
      return true;
    };
    std::string_view v;
    auto bad = [&] {
      fmt::print(stderr, "beeline-view: bad value for {}: {}\n", a, v);
      return std::nullopt;
    };
    if (a == "-h" || a == "--help") {
      fmt::print("{}", usage);
      std::exit(0);
    } else if (a == "--trace") {
      if (!value(v)) return std::nullopt;
      o.filter.trace_prefix = v;
    } else if (a == "--tree") {
      o.tree = true;
    } else if (a == "--name") {
      if (!value(v)) return std::nullopt;
      o.filter.name = v;
    } else if (a == "--service") {
      if (!value(v)) return std::nullopt;
      o.filter.service = v;
    } else if (a == "--min-duration") {
      if (!value(v)) return std::nullopt;
      if (!number(v, o.filter.min_duration_ms) || o.filter.min_duration_ms < 0) return bad();
    } else if (a == "--errors") {
      o.filter.errors_only = true;
    } else if (a == "--follow" || a == "-f") {
      o.follow = true;
    } else if (a == "--html") {
      if (!value(v)) return std::nullopt;
      o.html_path = v;
    } else if (a == "--chrome") {
      if (!value(v)) return std::nullopt;
      o.chrome_path = v;
    } else if (a == "--width") {
      if (!value(v)) return std::nullopt;
      if (!number(v, o.width) || o.width < 20) return bad();
    } else if (a == "--no-color") {
      o.color = 0;
    } else if (a == "--color") {
      o.color = 1;
    } else if (a == "--max-line-bytes") {
      if (!value(v)) return std::nullopt;
      if (!number(v, o.max_line_bytes) || o.max_line_bytes == 0) return bad();
    } else if (a == "--poll-ms") {
      if (!value(v)) return std::nullopt;
      if (!number(v, o.poll_ms) || o.poll_ms <= 0) return bad();
    } else if (a == "--follow-exit-after-idle") {
      if (!value(v)) return std::nullopt;
      if (!number(v, o.exit_after_idle_ms) || o.exit_after_idle_ms < 0) return bad();
    } else if (a == "--limit") {
      if (!value(v)) return std::nullopt;
      if (!number(v, o.limit) || o.limit == 0) return bad();
    } else if (a == "--follow-max-open") {
      if (!value(v)) return std::nullopt;
      if (!number(v, o.max_open) || o.max_open == 0) return bad();
    } else if (a.size() > 1 && a[0] == '-') {
      fmt::print(stderr, "beeline-view: unknown option {}\n{}", a, usage);
      return std::nullopt;
    } else {
      o.files.emplace_back(a);
    }
  }
  if (o.follow && (o.files.size() != 1 || o.files[0] == "-")) {
    fmt::print(stderr, "beeline-view: --follow reads exactly one FILE\n");
    return std::nullopt;
  }
  if (o.follow && (!o.html_path.empty() || !o.chrome_path.empty())) {
    fmt::print(stderr,
               "beeline-view: --follow prints to the terminal; --html and --chrome read to the end\n");
    return std::nullopt;
  }
  return o;
}

style terminal_style(const options& o) {
  style st;
  const bool tty = ::isatty(STDOUT_FILENO) == 1;
  if (o.width > 0) {
    st.width = o.width;
  } else {
    winsize ws{};
    int cols = 0;
    if (tty && ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
      cols = ws.ws_col;
    else if (const char* c = std::getenv("COLUMNS"); c && number(std::string_view(c), cols) && cols > 0) {
    }
    st.width = cols >= 20 ? cols : 100;
  }
  const char* no_color = std::getenv("NO_COLOR");
  st.color = o.color == 1 || (o.color == -1 && tty && !(no_color && *no_color));
  return st;
}

void write_out(const std::string& s) {
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fflush(stdout);
}

bool write_file(const std::string& path, const std::string& data) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) {
    fmt::print(stderr, "beeline-view: cannot write {}: {}\n", path, std::strerror(errno));
    return false;
  }
  const bool ok = std::fwrite(data.data(), 1, data.size(), f) == data.size();
  if (std::fclose(f) != 0 || !ok) {
    fmt::print(stderr, "beeline-view: cannot write {}: {}\n", path, std::strerror(errno));
    return false;
  }
  return true;
}

bool read_inputs(reader& r, const std::vector<std::string>& files) {
  if (files.empty()) {
    r.read_fd(STDIN_FILENO);
    return true;
  }
  for (const std::string& path : files) {
    if (path == "-") {
      r.read_fd(STDIN_FILENO);
      continue;
    }
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      fmt::print(stderr, "beeline-view: cannot open {}: {}\n", path, std::strerror(errno));
      return false;
    }
    r.read_fd(fd);
    ::close(fd);
  }
  return true;
}

int follow(const options& o, const style& st) {
  read_options ro;
  ro.max_line_bytes = o.max_line_bytes;
  ro.keep_spans = true;
  reader r(ro, o.filter);
  std::vector<std::string> ready;
  r.on_root = [&](const std::string& id) { ready.push_back(id); };
  const std::string& path = o.files[0];
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    fmt::print(stderr, "beeline-view: cannot open {}: {}\n", path, std::strerror(errno));
    return 1;
  }
  struct stat opened {};
  ::fstat(fd, &opened);

  // A trace is printed once everything written so far is read: the exporter writes a span's events and links
  // right after it, in the same write, so a root's marks are in by then.
  auto print_ready = [&] {
    for (const std::string& id : ready) {
      auto it = r.traces().find(id);
      if (it == r.traces().end()) continue;
      const trace_tree tree = build_tree(it->second, r.counts(), o.filter);
      if (o.filter.accepts(tree.summary)) {
        std::string out;
        render_tree(out, tree, st);
        out.push_back('\n');
        write_out(out);
      }
      r.traces().erase(it);
    }
    ready.clear();
    while (r.traces().size() > o.max_open) {  // traces whose root never comes: the oldest go
      auto oldest = std::min_element(r.traces().begin(), r.traces().end(), [](const auto& a, const auto& b) {
        return a.second.first_seen < b.second.first_seen;
      });
      r.traces().erase(oldest);
      ++r.counts().evicted_traces;
    }
  };

  long idle_ms = 0;
  for (;;) {
    const std::size_t n = r.read_available(fd);
    print_ready();
    if (n > 0) {
      idle_ms = 0;
      continue;
    }
    struct stat now {};
    if (::stat(path.c_str(), &now) == 0 && (now.st_ino != opened.st_ino || now.st_dev != opened.st_dev)) {
      // Rotated: finish the old file, then start on the new one.
      r.read_available(fd);
      r.finish();
      print_ready();
      const int nfd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (nfd >= 0) {
        ::close(fd);
        fd = nfd;
        ::fstat(fd, &opened);
        ++r.counts().reopened;
        continue;
      }
    } else if (::fstat(fd, &now) == 0 && now.st_size < ::lseek(fd, 0, SEEK_CUR)) {
      // Truncated in place: read it again from the start.
      ::lseek(fd, 0, SEEK_SET);
      r.reset_partial();
      ++r.counts().reopened;
      continue;
    }
    if (o.exit_after_idle_ms >= 0 && idle_ms >= o.exit_after_idle_ms) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(o.poll_ms));
    idle_ms += o.poll_ms;
  }
  ::close(fd);
  print_counts(stderr, r.counts());
  return 0;
}

int run(const options& o) {
  const style st = terminal_style(o);
  if (o.follow) return follow(o, st);
  const bool keep =
      o.tree || !o.filter.trace_prefix.empty() || !o.html_path.empty() || !o.chrome_path.empty();
  read_options ro;
  ro.max_line_bytes = o.max_line_bytes;
  ro.keep_spans = keep;
  reader r(ro, o.filter);
  if (!read_inputs(r, o.files)) return 1;

  if (!keep) {
    std::vector<trace_summary> list = select(r.summaries(), o.filter);
    if (o.limit && list.size() > o.limit) list.resize(o.limit);
    std::string out;
    render_list(out, list, st);
    write_out(out);
    print_counts(stderr, r.counts());
    if (list.empty()) fmt::print(stderr, "beeline-view: no traces\n");
    return 0;
  }

  std::vector<trace_tree> trees;
  for (auto& [id, t] : r.traces()) {
    trace_tree tree = build_tree(t, r.counts(), o.filter);
    if (o.filter.accepts(tree.summary) && !tree.rows.empty()) trees.push_back(std::move(tree));
  }
  std::sort(trees.begin(), trees.end(), [](const trace_tree& a, const trace_tree& b) {
    if (a.summary.start_ns != b.summary.start_ns) return a.summary.start_ns > b.summary.start_ns;
    return a.summary.trace_id < b.summary.trace_id;
  });
  if (o.limit && trees.size() > o.limit) trees.resize(o.limit);
  int rc = 0;
  if (!o.html_path.empty()) {
    std::string page;
    render_html(page, trees, r.counts());
    if (write_file(o.html_path, page))
      fmt::print(stderr, "beeline-view: wrote {} trace(s) to {}\n", trees.size(), o.html_path);
    else
      rc = 1;
  }
  if (!o.chrome_path.empty()) {
    std::string json;
    render_chrome(json, trees);
    if (write_file(o.chrome_path, json))
      fmt::print(stderr, "beeline-view: wrote {} trace(s) to {}\n", trees.size(), o.chrome_path);
    else
      rc = 1;
  }
  if (o.html_path.empty() && o.chrome_path.empty()) {
    std::string out;
    for (std::size_t i = 0; i < trees.size(); ++i) {
      if (i) out.push_back('\n');
      render_tree(out, trees[i], st);
    }
    write_out(out);
  }
  print_counts(stderr, r.counts());
  if (trees.empty()) {
    fmt::print(stderr, "beeline-view: no trace matches\n");
    return 1;
  }
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  const std::optional<options> o = parse_args(argc, argv);
  if (!o) return 2;
  return run(*o);
}
