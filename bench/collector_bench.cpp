// End to end into a real OpenTelemetry Collector: spans made at a fixed rate by one application thread, sent
// by the OTLP exporter (protobuf, gzip) to the collector built by scripts/backends/build.sh (OTLP receiver,
// file exporter to /dev/null). For each rate: spans delivered (the collector answered 2xx) and dropped (by
// reason: the queue full, the exporter failing), and the CPU time per span of the library's threads
// (`beeline-*`, read from /proc/self/task), of the application thread, and of the collector process, side by
// side in one run.
//
//   collector_bench [--seconds N] [--rates 5000,20000,...]
//
// BEELINE_OTELCOL overrides the collector's path.
#include "../tests/examples/child_process.hpp"

#include <beeline/beeline.hpp>
#include <beeline/http_exporter.hpp>
#include <beeline/tracer.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

unsigned short free_port() {
  asio::io_context ioc;
  asio::ip::tcp::acceptor acceptor(ioc, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

bool port_open(unsigned short port) {
  asio::io_context ioc;
  asio::ip::tcp::socket socket(ioc);
  boost::system::error_code ec;
  socket.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
  return !ec;
}

/// utime + stime of a /proc stat file, in seconds (the fields after the parenthesised name).
double cpu_seconds_of_stat(const std::string& stat) {
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream in(stat.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14) utime = std::strtoull(field.c_str(), nullptr, 10);
    if (i == 15) stime = std::strtoull(field.c_str(), nullptr, 10);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// CPU seconds of this process's threads whose name starts with `prefix`.
double threads_cpu(const std::string& prefix) {
  double total = 0;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", ec)) {
    std::string comm = read_file(task.path() / "comm");
    if (comm.rfind(prefix, 0) != 0) continue;
    total += cpu_seconds_of_stat(read_file(task.path() / "stat"));
  }
  return total;
}

double process_cpu(int pid) {
  return cpu_seconds_of_stat(read_file("/proc/" + std::to_string(pid) + "/stat"));
}

double thread_cpu_now() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct result {
  int rate = 0;
  double seconds = 0;
  std::uint64_t finished = 0;
  beeline::stats stats;
  beeline::http_exporter_stats http;
  double library_cpu = 0, app_cpu = 0, collector_cpu = 0;
};

/// Makes `rate` spans a second for `seconds` (traces of five spans: a root and four children), then flushes.
result run(const std::string& endpoint, int collector_pid, int rate, double seconds) {
  beeline::otlp_exporter_options o;
  o.endpoint = endpoint;
  o.protocol = beeline::otlp_protocol::http_protobuf;
  o.http.gzip = true;
  auto exporter = beeline::make_otlp_exporter(o);
  beeline::config cfg;
  cfg.service_name = "collector_bench";
  cfg.exporter = exporter;
  beeline::tracer tracer(cfg);

  result r;
  r.rate = rate;
  const double collector_before = process_cpu(collector_pid);
  const double app_before = thread_cpu_now();
  const auto start = std::chrono::steady_clock::now();
  const auto end = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                               std::chrono::duration<double>(seconds));
  std::uint64_t made = 0;
  for (auto now = start; now < end; now = std::chrono::steady_clock::now()) {
    const auto due = static_cast<std::uint64_t>(std::chrono::duration<double>(now - start).count() * rate);
    while (made < due) {
      auto root = tracer.start_trace("request", {{"span.kind", "server"}, {"http.route", "/checkout"}});
      ++made;
      for (int i = 0; i < 4 && made < due; ++i, ++made)
        beeline::start_span("step", {{"step", i}, {"cache.hit", i % 2 == 0}}).finish();
    }
    std::this_thread::sleep_for(1ms);
  }
  r.app_cpu = thread_cpu_now() - app_before;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  tracer.flush_sync(30s);
  // Read before the tracer's threads end with it.
  r.library_cpu = threads_cpu("beeline-");
  r.collector_cpu = process_cpu(collector_pid) - collector_before;
  r.finished = made;
  r.stats = tracer.stats();
  r.http = exporter->stats();
  tracer.shutdown(10s);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 5;
  std::vector<int> rates = {5000, 20000};
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--seconds") == 0) seconds = std::atof(argv[i + 1]);
    if (std::strcmp(argv[i], "--rates") == 0) {
      rates.clear();
      std::istringstream in(argv[i + 1]);
      for (std::string r; std::getline(in, r, ',');)
        rates.push_back(std::atoi(r.c_str()));
    }
  }
  std::string bin = BEELINE_OTELCOL_BINARY;
  if (const char* v = std::getenv("BEELINE_OTELCOL"); v && *v) bin = v;
  if (::access(bin.c_str(), X_OK) != 0) {
    std::fprintf(stderr, "no collector at %s: build it with scripts/backends/build.sh\n", bin.c_str());
    return 1;
  }

  const unsigned short port = free_port();
  const auto dir =
      std::filesystem::temp_directory_path() / ("beeline-collector-bench-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const auto config = dir / "collector.yaml";
  {
    std::ofstream out(config);
    out << "receivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: 127.0.0.1:" << port
        << "\nexporters:\n  file:\n    path: /dev/null\n    format: json\n"
           "service:\n  telemetry:\n    metrics:\n      level: none\n    logs:\n      level: warn\n"
           "  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [file]\n";
  }
  int rc = 0;
  {
    beeline::test::child_process collector({bin, "--config", config.string()});
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (!port_open(port)) {
      if (std::chrono::steady_clock::now() > deadline) {
        std::fprintf(stderr, "the collector did not start:\n%s\n", collector.err().c_str());
        return 1;
      }
      std::this_thread::sleep_for(20ms);
    }
    const std::string endpoint = "http://127.0.0.1:" + std::to_string(port);
    std::printf("%8s %9s %9s %9s %9s %9s %9s %12s %12s %12s\n", "rate/s", "achieved", "finished", "delivered",
                "q.full", "exporter", "requests", "lib us/span", "app us/span", "col us/span");
    std::vector<result> results;
    for (int rate : rates) {
      const result r = run(endpoint, collector.pid(), rate, seconds);
      results.push_back(r);
      const double n = static_cast<double>(r.finished);
      std::printf("%8d %9.0f %9llu %9llu %9llu %9llu %9llu %12.2f %12.2f %12.2f\n", r.rate, n / r.seconds,
                  static_cast<unsigned long long>(r.finished),
                  static_cast<unsigned long long>(r.stats.exported),
                  static_cast<unsigned long long>(r.stats.dropped_queue_full),
                  static_cast<unsigned long long>(r.stats.dropped_exporter),
                  static_cast<unsigned long long>(r.http.requests), 1e6 * r.library_cpu / n,
                  1e6 * r.app_cpu / n, 1e6 * r.collector_cpu / n);
      if (r.stats.exported + r.stats.dropped() != r.finished) {
        std::fprintf(stderr, "rate %d: %llu spans neither delivered nor counted as dropped\n", r.rate,
                     static_cast<unsigned long long>(r.finished - r.stats.exported - r.stats.dropped()));
        rc = 1;
      }
    }
    if (results.size() >= 2) {
      const auto per_span = [](const result& r) { return r.library_cpu / static_cast<double>(r.finished); };
      std::printf("library CPU per span, %d/s against %d/s: %.2f\n", results.back().rate,
                  results.front().rate, per_span(results.back()) / per_span(results.front()));
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return rc;
}
