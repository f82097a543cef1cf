// beeline-view as a user runs it: the real program on files with known traces, its output compared with
// golden files (tests/view/golden; BEELINE_VIEW_UPDATE_GOLDEN=1 rewrites them), the HTML page's escaping, the
// Chrome trace's required keys, and --follow on a file that grows, is truncated and is replaced.
#include <fcntl.h>
#include <simdjson.h>
#include <sys/wait.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "view.hpp"

namespace fs = std::filesystem;

namespace {

const fs::path data_dir = BEELINE_VIEW_TEST_DIR "/data";
const fs::path golden_dir = BEELINE_VIEW_TEST_DIR "/golden";

struct run_result {
  int rc = -1;
  std::string out;
  std::string err;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void spit(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

// One temporary directory per test run, removed at exit (the children exec or _exit, so only the test removes
// it).
struct scratch_dir {
  fs::path path;
  scratch_dir() {
    std::string templ = (fs::temp_directory_path() / "beeline-view-test-XXXXXX").string();
    if (::mkdtemp(templ.data())) path = templ;
  }
  ~scratch_dir() {
    std::error_code ec;
    if (!path.empty()) fs::remove_all(path, ec);
  }
};

const fs::path& scratch() {
  static const scratch_dir dir;
  REQUIRE(!dir.path.empty());
  return dir.path;
}

pid_t spawn(const std::vector<std::string>& args, const fs::path& in, const fs::path& out,
            const fs::path& err) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int i = ::open(in.empty() ? "/dev/null" : in.c_str(), O_RDONLY);
    const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(i, 0);
    ::dup2(o, 1);
    ::dup2(e, 2);
    std::vector<char*> argv;
    std::string exe = BEELINE_VIEW_EXE;
    argv.push_back(exe.data());
    std::vector<std::string> copy = args;
    for (std::string& a : copy)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(exe.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

int wait_for(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

run_result run_view(const std::vector<std::string>& args, const fs::path& stdin_path = {}) {
  const fs::path out = scratch() / "stdout.txt";
  const fs::path err = scratch() / "stderr.txt";
  run_result r;
  r.rc = wait_for(spawn(args, stdin_path, out, err));
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

// The golden file holds what a user sees: the command, stdout, then stderr.
void check_golden(const std::string& name, const std::vector<std::string>& args,
                  const fs::path& stdin_path = {}) {
  const run_result r = run_view(args, stdin_path);
  std::string shown = "$ beeline-view";
  for (const std::string& a : args)
    shown += " " + (a.find('/') != std::string::npos ? fs::path(a).filename().string() : a);
  shown += "\n" + r.out;
  if (!r.err.empty()) shown += "--- stderr\n" + r.err;
  shown += "--- exit " + std::to_string(r.rc) + "\n";
  const fs::path golden = golden_dir / (name + ".txt");
  if (const char* u = std::getenv("BEELINE_VIEW_UPDATE_GOLDEN"); u && *u == '1') spit(golden, shown);
  INFO("golden file " << golden);
  REQUIRE(fs::exists(golden));
  CHECK(shown == slurp(golden));
}

std::string data(const char* file) {
  return (data_dir / file).string();
}

// A trace with a megabyte field value, and a line of five megabytes that must be skipped.
fs::path huge_input() {
  const fs::path p = scratch() / "huge.jsonl";
  if (fs::exists(p)) return p;
  std::string big(1u << 20, 'x');
  std::string s;
  s +=
      R"({"time":"2026-11-26T11:00:00.000Z","data":{"service_name":"big","name":"child","trace.trace_id":"9a9a9a9a9a9a9a9a9a9a9a9a9a9a9a9a","trace.span_id":"9a00000000000002","trace.parent_id":"9a00000000000001","duration_ms":1}})";
  s += "\n";
  s +=
      R"({"time":"2026-11-26T11:00:00.001Z","data":{"service_name":"big","name":"too long","blob":")" +
      std::string(5u << 20, 'y') +
      R"(","trace.trace_id":"9a9a9a9a9a9a9a9a9a9a9a9a9a9a9a9a","trace.span_id":"9a00000000000003","duration_ms":1}})";
  s += "\n";
  s +=
      R"({"time":"2026-11-26T11:00:00.000Z","data":{"service_name":"big","name":"root","payload":")" + big +
      R"(","trace.trace_id":"9a9a9a9a9a9a9a9a9a9a9a9a9a9a9a9a","trace.span_id":"9a00000000000001","duration_ms":2}})";
  s += "\n";
  spit(p, s);
  return p;
}

}  // namespace

TEST_CASE("view: the list shows each trace newest first with its root, service, duration, spans and errors") {
  check_golden("list_basic", {"--width", "120", "--no-color", data("basic.jsonl")});
}

TEST_CASE("view: a narrow list keeps a usable trace id prefix and cuts the root name") {
  check_golden("list_narrow", {"--width", "80", "--no-color", data("basic.jsonl")});
}

TEST_CASE("view: list filters select by error, span name, service and duration") {
  check_golden("list_errors", {"--width", "120", "--errors", data("basic.jsonl")});
  check_golden("list_name", {"--width", "120", "--name", "sum_of", data("basic.jsonl")});
  check_golden("list_service", {"--width", "120", "--service", "worker", data("basic.jsonl")});
  check_golden("list_min_duration", {"--width", "120", "--min-duration", "50", data("basic.jsonl")});
  check_golden("list_limit",
               {"--width", "120", "--limit", "2", "--errors", data("bad.jsonl"), data("basic.jsonl")});
  check_golden("list_limit_newest",
               {"--width", "120", "--limit", "2", data("bad.jsonl"), data("basic.jsonl")});
}

TEST_CASE("view: a trace is drawn as a tree with one bar per span scaled to the trace") {
  check_golden("tree_quickstart", {"--width", "100", "--no-color", "--trace", "a1a1", data("basic.jsonl")});
}

TEST_CASE("view: --tree draws every trace the filters let through, newest first") {
  check_golden("tree_all", {"--width", "100", "--tree", data("basic.jsonl")});
  check_golden("tree_all_min_duration",
               {"--width", "100", "--tree", "--min-duration", "20", data("basic.jsonl")});
}

TEST_CASE("view: errors, span events and links show on their span, not as spans") {
  check_golden("tree_error_event_link", {"--width", "120", "--trace", "b2b2", data("basic.jsonl")});
}

TEST_CASE("view: flat events with a timestamp field and service_name only are read") {
  check_golden("tree_flat", {"--width", "100", "--trace", "c3c3", data("basic.jsonl")});
}

TEST_CASE("view: bad lines, orphans, duplicates and clock skew are shown or skipped and counted") {
  check_golden("list_bad", {"--width", "100", data("bad.jsonl")});
  check_golden("tree_bad", {"--width", "100", "--trace", "d5d5", data("bad.jsonl")});
  check_golden("tree_cycle", {"--width", "100", "--trace", "e6e6", data("bad.jsonl")});
}

TEST_CASE("view: a service behind a traced caller has its subroot as local root, not an orphan") {
  // e5e5: only the payments service's part of the trace is here; its subroot's parent is the caller's span.
  const run_result list = run_view({"--width", "160", "--no-color", data("services.jsonl")});
  REQUIRE(list.rc == 0);
  const auto line_of = [](const std::string& text, const std::string& id) {
    const std::size_t at = text.find(id.substr(0, 16));
    REQUIRE(at != std::string::npos);
    return text.substr(text.rfind('\n', at) + 1, text.find('\n', at) - text.rfind('\n', at) - 1);
  };
  const std::string e5 = line_of(list.out, "e5e5e5e5e5e5e5e5");
  CHECK(e5.find("POST /v1/charges") != std::string::npos);
  CHECK(e5.find("(no root)") == std::string::npos);
  CHECK(e5.find(" 33.00ms ") != std::string::npos);  // the local root's duration, not the spans' extent
  CHECK(list.out.find("(no root)") == std::string::npos);
  CHECK(list.err.find("never arrived") == std::string::npos);
  // d4d4: the caller is here too: the trace's own root is listed, and the subroot sits under its caller.
  CHECK(line_of(list.out, "d4d4d4d4d4d4d4d4").find("POST /checkout") != std::string::npos);

  const run_result tree =
      run_view({"--width", "120", "--no-color", "--trace", "e5e5", data("services.jsonl")});
  REQUIRE(tree.rc == 0);
  CHECK(tree.out.find("never arrived") == std::string::npos);
  CHECK(tree.err.empty());
  CHECK(tree.out.find("trace e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5  POST /v1/charges  service payments") == 0);
  CHECK(tree.out.find("\nPOST /v1/charges ") != std::string::npos);  // a top-level row
  CHECK(tree.out.find("[called by e5000000000000ff]") != std::string::npos);
  CHECK(tree.out.find("\n└─ fraud.check ") != std::string::npos);

  const run_result joined =
      run_view({"--width", "120", "--no-color", "--trace", "d4d4", data("services.jsonl")});
  CHECK(joined.out.find("│  └─ POST /v1/charges") != std::string::npos);
  CHECK(joined.out.find("called by") == std::string::npos);
}

TEST_CASE("view: the list shows each root's method, path and status, by Beeline or OpenTelemetry names") {
  check_golden("list_services", {"--width", "140", "--no-color", data("services.jsonl")});
  const run_result r = run_view({"--width", "140", "--no-color", data("services.jsonl")});
  CHECK(r.out.find("METHOD  STATUS  ROOT") != std::string::npos);
  CHECK(std::regex_search(
      r.out, std::regex(R"(d4d4d4d4d4d4d4d4 +frontend +POST +200 +POST /checkout +/checkout\n)")));
  CHECK(std::regex_search(
      r.out, std::regex(R"(e5e5e5e5e5e5e5e5 +payments +POST +502 +POST /v1/charges +/v1/charges\n)")));
  // OpenTelemetry's http.method / http.target (its query dropped) / http.status_code.
  CHECK(std::regex_search(
      r.out, std::regex(R"(f6f6f6f6f6f6f6f6 +catalog +DELETE +404 +item.delete +/api/items/42\n)")));
  // Traces without any of these, and a terminal too narrow for them, keep the other columns.
  CHECK(run_view({"--width", "120", "--no-color", data("hostile.jsonl")}).out.find("METHOD") ==
        std::string::npos);
  CHECK(run_view({"--width", "80", "--no-color", data("services.jsonl")}).out.find("METHOD") ==
        std::string::npos);
}

TEST_CASE("view: a megabyte value is cut for display and a line over the cap is skipped") {
  const std::string huge = huge_input().string();
  check_golden("list_huge", {"--width", "100", huge});
  check_golden("tree_huge", {"--width", "100", "--trace", "9a9a", huge});
}

TEST_CASE("view: stdin and files are read in order") {
  check_golden("list_stdin_and_file", {"--width", "120", "-", data("basic.jsonl")}, data("bad.jsonl"));
}

TEST_CASE("view: an unknown trace id is an error") {
  const run_result r = run_view({"--trace", "0123", data("basic.jsonl")});
  CHECK(r.rc == 1);
  CHECK(r.out.empty());
  CHECK(r.err.find("no trace matches") != std::string::npos);
}

TEST_CASE("view: colours only when asked or on a terminal; span data cannot send escape sequences") {
  const run_result plain = run_view({"--trace", "a8a8", data("hostile.jsonl")});
  CHECK(plain.out.find('\x1b') == std::string::npos);
  const run_result coloured = run_view({"--color", "--trace", "a8a8", data("hostile.jsonl")});
  CHECK(coloured.out.find("\x1b[") != std::string::npos);
  CHECK(coloured.out.find("\x1b[31mred") == std::string::npos);  // the field's own escape is neutralised
}

TEST_CASE("view: the HTML page is self-contained and span data cannot break out of it") {
  const fs::path page = scratch() / "hostile.html";
  const run_result r = run_view({"--html", page.string(), data("hostile.jsonl"), data("basic.jsonl")});
  REQUIRE(r.rc == 0);
  const std::string html = slurp(page);
  REQUIRE(html.size() > 1000);
  // Exactly our two script elements, and nothing loaded from anywhere.
  std::size_t closes = 0;
  for (std::size_t at = html.find("</script"); at != std::string::npos; at = html.find("</script", at + 1))
    ++closes;
  CHECK(closes == 2);
  CHECK(html.find("<img") == std::string::npos);
  CHECK(html.find("http://") == std::string::npos);
  CHECK(html.find("https://") == std::string::npos);
  // No element refers to anything ('<' from span data is always escaped, so every tag here is the page's
  // own).
  CHECK_FALSE(std::regex_search(html, std::regex(R"(<[^>]*\s(src|href)\s*=)", std::regex::icase)));
  CHECK(html.find("<link") == std::string::npos);
  CHECK(html.find("@import") == std::string::npos);
  // The hostile values travel escaped.
  CHECK(html.find(R"(\u003c/script\u003e\u003cimg src=x onerror=alert(1)\u003e)") != std::string::npos);
}

TEST_CASE("view: the Chrome trace has the format's required keys, one complete event per span") {
  const fs::path out = scratch() / "trace.json";
  const run_result r = run_view({"--chrome", out.string(), data("basic.jsonl"), data("hostile.jsonl")});
  REQUIRE(r.rc == 0);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  REQUIRE(parser.load(out.string()).get(doc) == simdjson::SUCCESS);
  simdjson::dom::array events;
  REQUIRE(doc["traceEvents"].get_array().get(events) == simdjson::SUCCESS);
  std::size_t complete = 0, instants = 0;
  std::map<std::pair<int64_t, int64_t>, std::vector<std::pair<double, double>>> lanes;
  for (simdjson::dom::element e : events) {
    std::string_view ph;
    REQUIRE(e["ph"].get_string().get(ph) == simdjson::SUCCESS);
    int64_t pid = 0, tid = 0;
    REQUIRE(e["pid"].get_int64().get(pid) == simdjson::SUCCESS);
    REQUIRE(e["tid"].get_int64().get(tid) == simdjson::SUCCESS);
    std::string_view name;
    REQUIRE(e["name"].get_string().get(name) == simdjson::SUCCESS);
    simdjson::dom::object args;
    REQUIRE(e["args"].get_object().get(args) == simdjson::SUCCESS);
    if (ph == "M") continue;
    double ts = 0;
    REQUIRE(e["ts"].get_double().get(ts) == simdjson::SUCCESS);
    CHECK(ts > 1.7e15);  // microseconds since the epoch
    if (ph == "X") {
      ++complete;
      double dur = -1;
      REQUIRE(e["dur"].get_double().get(dur) == simdjson::SUCCESS);
      CHECK(dur >= 0);
      std::string_view span_id;
      CHECK(args["trace.span_id"].get_string().get(span_id) == simdjson::SUCCESS);
      lanes[{pid, tid}].emplace_back(ts, ts + dur);
    } else {
      CHECK(ph == "i");
      ++instants;
    }
  }
  CHECK(complete == 10);  // 8 spans in basic.jsonl, 2 in hostile.jsonl
  CHECK(instants == 2);   // one span event, one link
  // On one lane, events nest (or follow one another), as the format requires.
  for (auto& [lane, spans] : lanes) {
    std::vector<double> open;
    for (auto [b, e] : spans) {
      while (!open.empty() && open.back() <= b)
        open.pop_back();
      if (!open.empty()) CHECK(e <= open.back() + 1e-3);
      open.push_back(e);
    }
  }
  CHECK(r.err.find("wrote 4 trace(s)") != std::string::npos);
}

TEST_CASE("view: --follow prints each trace when its root arrives, through truncation and rotation") {
  const fs::path file = scratch() / "follow.jsonl";
  const fs::path out = scratch() / "follow.out";
  const fs::path err = scratch() / "follow.err";
  const std::string basic = slurp(data_dir / "basic.jsonl");
  std::vector<std::string> lines;
  {
    std::istringstream in(basic);
    for (std::string l; std::getline(in, l);)
      lines.push_back(l + "\n");
  }
  REQUIRE(lines.size() == 10);
  // Trace a1 (lines 0-3) is there at the start, but for its root.
  spit(file, lines[0] + lines[1] + lines[2]);
  const auto t0 = std::chrono::steady_clock::now();
  const pid_t pid = spawn(
      {"--follow", "--poll-ms", "10", "--follow-exit-after-idle", "250", "--width", "200", file.string()}, {},
      out, err);
  auto append = [&](const std::string& text) {
    std::ofstream f(file, std::ios::binary | std::ios::app);
    f << text;
  };
  auto wait_for_output = [&](const std::string& needle) {
    for (int i = 0; i < 100 && slurp(out).find(needle) == std::string::npos; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return slurp(out).find(needle) != std::string::npos;
  };
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  CHECK(slurp(out).empty());  // no root yet: nothing printed
  append(lines[3]);
  CHECK(wait_for_output("handle_request"));
  // Trace b2: its root and the root's link annotation arrive in one write.
  append(lines[4] + lines[5] + lines[6] + lines[7]);
  CHECK(wait_for_output("GET /users/7"));
  // Truncated in place, then trace c3 written from the start.
  { std::ofstream f(file, std::ios::binary | std::ios::trunc); }
  std::this_thread::sleep_for(std::chrono::milliseconds(40));
  append(lines[8] + lines[9]);
  CHECK(wait_for_output("job.run"));
  // Rotated: a new file under the name, with trace a1 again.
  fs::rename(file, scratch() / "follow.jsonl.1");
  spit(file, lines[0] + lines[1] + lines[2] + lines[3]);
  const int rc = wait_for(pid);
  const auto took = std::chrono::steady_clock::now() - t0;
  CHECK(rc == 0);
  const std::string text = slurp(out);
  const std::size_t a = text.find("handle_request"), b = text.find("GET /users/7"), c = text.find("job.run"),
                    a2 = text.rfind("handle_request");
  CHECK(a < b);
  CHECK(b < c);
  CHECK(c < a2);
  CHECK(text.find("→d4d4") != std::string::npos);  // the root's link, written after it in the same batch
  CHECK(slurp(err).find("2 time(s) the file was truncated or replaced") != std::string::npos);
  CHECK(took < std::chrono::milliseconds(1500));
}

TEST_CASE("view: --follow prints a service's part of a trace when its local root arrives") {
  // The payments service's own file: a child, then its subroot (the caller's spans are in another file).
  const fs::path file = scratch() / "follow_local.jsonl";
  std::string part;
  {
    std::istringstream in(slurp(data_dir / "services.jsonl"));
    for (std::string l; std::getline(in, l);)
      if (l.find("e5e5e5e5") != std::string::npos) part += l + "\n";
  }
  spit(file, part);
  const run_result r = run_view(
      {"--follow", "--poll-ms", "10", "--follow-exit-after-idle", "100", "--width", "120", file.string()});
  CHECK(r.rc == 0);
  CHECK(r.out.find("trace e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5  POST /v1/charges  service payments") == 0);
  CHECK(r.out.find("fraud.check") != std::string::npos);
  CHECK(r.out.find("never arrived") == std::string::npos);
}

TEST_CASE("view: usage errors exit 2 and say what is wrong") {
  run_result r = run_view({"--bogus"});
  CHECK(r.rc == 2);
  CHECK(r.err.find("unknown option --bogus") != std::string::npos);
  r = run_view({"--min-duration", "soon", data("basic.jsonl")});
  CHECK(r.rc == 2);
  r = run_view({"--follow", data("basic.jsonl"), data("bad.jsonl")});
  CHECK(r.rc == 2);
  r = run_view({"--help"});
  CHECK(r.rc == 0);
  CHECK(r.out.find("--follow") != std::string::npos);
  r = run_view({(data_dir / "missing.jsonl").string()});
  CHECK(r.rc == 1);
  CHECK(r.err.find("cannot open") != std::string::npos);
}

TEST_CASE("view: RFC 3339 times with offsets and fractions, durations and widths") {
  using beeline::view::parse_rfc3339;
  CHECK(parse_rfc3339("1970-01-01T00:00:00Z") == 0);
  CHECK(parse_rfc3339("2026-11-26T10:00:00.5Z") == parse_rfc3339("2026-11-26T12:00:00.500000000+02:00"));
  CHECK(parse_rfc3339("2026-11-26T10:00:00.123456789123Z").value() % 1000000000 == 123456789);
  CHECK_FALSE(parse_rfc3339("2026-11-26"));
  CHECK_FALSE(parse_rfc3339("2026-13-26T10:00:00Z"));
  CHECK_FALSE(parse_rfc3339("9999-11-26T10:00:00Z"));  // beyond 64-bit nanoseconds: no overflow
  CHECK_FALSE(parse_rfc3339("2026-11-26T10:00:00Zjunk"));
  CHECK(beeline::view::format_time(*parse_rfc3339("2026-11-26T10:00:00.123456Z"), 3) ==
        "2026-11-26 10:00:00.123 UTC");
  CHECK(beeline::view::format_duration(999) == "999ns");
  CHECK(beeline::view::format_duration(1500) == "1.5µs");
  CHECK(beeline::view::format_duration(2'500'000) == "2.50ms");
  CHECK(beeline::view::format_duration(61'000'000'000) == "61.000s");
  CHECK(beeline::view::fit("abcdef", 4) == "abc…");
  CHECK(beeline::view::fit("ab", 4) == "ab  ");
  CHECK(beeline::view::fit("ééé", 2) == "é…");
}
