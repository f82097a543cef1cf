// beeline-view: reading and listing a JSON-lines file of one million spans (100,000 traces of ten spans, each
// line shaped like the library's own output, about 450 bytes), against a baseline that only reads the file
// and finds its lines, measured in the same run. The file is generated once in a temporary directory and
// removed at exit.
//
// `view_bench --write-file PATH` only writes the file (to time the tool end to end: `time beeline-view
// PATH`).
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "view.hpp"

namespace {

namespace fs = std::filesystem;
constexpr std::size_t span_count = 1'000'000;
constexpr std::size_t spans_per_trace = 10;

std::string rfc3339(std::uint64_t ms_from_base, unsigned ns_extra) {
  const std::uint64_t s = ms_from_base / 1000;
  return fmt::format("2026-11-26T{:02}:{:02}:{:02}.{:03}{:06}Z", 10 + s / 3600, s / 60 % 60, s % 60,
                     ms_from_base % 1000, ns_extra);
}

void write_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) throw std::runtime_error("cannot write " + path);
  std::mt19937_64 rng(42);
  std::string buf;
  for (std::size_t t = 0; t < span_count / spans_per_trace; ++t) {
    const std::string trace_id = fmt::format("{:016x}{:016x}", rng(), rng());
    const std::string root_id = fmt::format("{:016x}", rng());
    for (std::size_t k = 1; k < spans_per_trace; ++k) {  // children first, as the exporter writes them
      fmt::format_to(
          std::back_inserter(buf),
          R"({{"time":"{}","samplerate":1,"dataset":"bench","data":{{"service_name":"checkout","service.name":"checkout","meta.local_hostname":"vm","meta.beeline_version":"0.1.0","name":"db.query","db.rows":{},"db.statement":"SELECT * FROM orders WHERE id = ?","app.user_id":42,"trace.trace_id":"{}","trace.span_id":"{:016x}","trace.parent_id":"{}","meta.span_type":"leaf","duration_ms":{:.6f}}}}})"
          "\n",
          rfc3339(t, static_cast<unsigned>(k * 10000)), k, trace_id, rng(), root_id, 0.05 + 0.01 * k);
    }
    fmt::format_to(
        std::back_inserter(buf),
        R"({{"time":"{}","samplerate":1,"dataset":"bench","data":{{"service_name":"checkout","service.name":"checkout","meta.local_hostname":"vm","meta.beeline_version":"0.1.0","name":"handle_request","request.path":"/orders","http.status_code":{},"app.user_id":42,"trace.trace_id":"{}","trace.span_id":"{}","meta.span_type":"root","duration_ms":0.75}}}})"
        "\n",
        rfc3339(t, 0), t % 50 == 0 ? 500 : 200, trace_id, root_id);
    if (buf.size() > (4u << 20)) {
      std::fwrite(buf.data(), 1, buf.size(), f);
      buf.clear();
    }
  }
  std::fwrite(buf.data(), 1, buf.size(), f);
  std::fclose(f);
}

struct bench_file {
  fs::path dir;
  std::string path;
  std::uintmax_t bytes = 0;
  bench_file() {
    std::string templ = (fs::temp_directory_path() / "beeline-view-bench-XXXXXX").string();
    dir = ::mkdtemp(templ.data());
    path = (dir / "spans.jsonl").string();
    write_file(path);
    bytes = fs::file_size(path);
  }
  ~bench_file() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

const bench_file& input() {
  static const bench_file f;
  return f;
}

void report(benchmark::State& state) {
  state.counters["spans/s"] =
      benchmark::Counter(static_cast<double>(span_count), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["MB/s"] = benchmark::Counter(static_cast<double>(input().bytes) / 1e6,
                                              benchmark::Counter::kIsIterationInvariantRate);
}

// Baseline: read the file and find every line, nothing more.
void BM_baseline_read_lines(benchmark::State& state) {
  const bench_file& in = input();
  std::vector<char> buf(1u << 20);
  for (auto _ : state) {
    const int fd = ::open(in.path.c_str(), O_RDONLY);
    std::size_t lines = 0;
    for (ssize_t n; (n = ::read(fd, buf.data(), buf.size())) > 0;) {
      for (const char *p = buf.data(), *end = p + n;
           (p = static_cast<const char*>(std::memchr(p, '\n', end - p))); ++p)
        ++lines;
    }
    ::close(fd);
    benchmark::DoNotOptimize(lines);
  }
  report(state);
}
BENCHMARK(BM_baseline_read_lines)->Unit(benchmark::kMillisecond)->Iterations(3);

// What `beeline-view FILE` does: read, summarize per trace, filter, sort newest first, format the list.
void BM_read_and_list(benchmark::State& state) {
  const bench_file& in = input();
  std::size_t traces = 0;
  for (auto _ : state) {
    beeline::view::reader r({}, {});
    const int fd = ::open(in.path.c_str(), O_RDONLY);
    r.read_fd(fd);
    ::close(fd);
    const auto list = beeline::view::select(r.summaries(), {});
    std::string out;
    beeline::view::render_list(out, list, {});
    traces = list.size();
    benchmark::DoNotOptimize(out);
  }
  if (traces != span_count / spans_per_trace) state.SkipWithError("wrong number of traces");
  report(state);
}
BENCHMARK(BM_read_and_list)->Unit(benchmark::kMillisecond)->Iterations(3);

// What `beeline-view --trace ID FILE` does: the same read, keeping one trace's spans.
void BM_read_one_trace(benchmark::State& state) {
  const bench_file& in = input();
  for (auto _ : state) {
    beeline::view::read_options o;
    o.keep_spans = true;
    beeline::view::filters f;
    f.trace_prefix = "0000";
    beeline::view::reader r(o, f);
    const int fd = ::open(in.path.c_str(), O_RDONLY);
    r.read_fd(fd);
    ::close(fd);
    benchmark::DoNotOptimize(r.traces().size());
  }
  report(state);
}
BENCHMARK(BM_read_one_trace)->Unit(benchmark::kMillisecond)->Iterations(3);

// Prints each row's time as a ratio of the baseline's, after the usual table.
class ratio_reporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      const double ms = r.GetAdjustedRealTime();
      if (r.benchmark_name().find("baseline") != std::string::npos)
        baseline_ = ms;
      else if (baseline_ > 0)
        rows_.push_back(fmt::format("  {:<28} {:8.1f}x the baseline", r.benchmark_name(), ms / baseline_));
    }
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    fmt::print("\n{} spans, {:.1f} MB; ratios against reading the lines only:\n", span_count,
               static_cast<double>(input().bytes) / 1e6);
    for (const std::string& row : rows_)
      fmt::print("{}\n", row);
  }

 private:
  double baseline_ = 0;
  std::vector<std::string> rows_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string_view(argv[1]) == "--write-file") {
    write_file(argv[2]);
    return 0;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  ratio_reporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
