#include "backend.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>

#include <unistd.h>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using namespace std::chrono_literals;

namespace beeline::test {

namespace {

const auto loopback = asio::ip::make_address("127.0.0.1");

/// How long a backend may take to open its ports (Jaeger starts in about a second on an idle machine).
constexpr auto startup_timeout = 60s;

void write_file(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p);
  out << text;
  if (!out) FAIL("cannot write " << p);
}

/// The command line that runs `argv` so that it is killed if this process dies without running its
/// destructors (a crash, a ctest timeout): util-linux's setpriv sets the parent-death signal, which survives
/// the exec of the backend. Without setpriv, the backend is run directly.
std::vector<std::string> killed_with_parent(std::vector<std::string> argv) {
  static constexpr const char* setpriv = "/usr/bin/setpriv";
  if (::access(setpriv, X_OK) != 0) return argv;
  argv.insert(argv.begin(), {setpriv, "--pdeathsig", "KILL", "--"});
  return argv;
}

}  // namespace

std::vector<unsigned short> free_ports(std::size_t n) {
  // All held open until all are chosen, so they differ.
  asio::io_context ioc;
  std::vector<asio::ip::tcp::acceptor> held;
  std::vector<unsigned short> ports;
  for (std::size_t i = 0; i < n; ++i) {
    held.emplace_back(ioc, asio::ip::tcp::endpoint(loopback, 0));
    ports.push_back(held.back().local_endpoint().port());
  }
  return ports;
}

unsigned short free_port() {
  return free_ports(1).front();
}

bool port_open(unsigned short port) {
  asio::io_context ioc;
  asio::ip::tcp::socket socket(ioc);
  boost::system::error_code ec;
  socket.connect(asio::ip::tcp::endpoint(loopback, port), ec);
  return !ec;
}

http_response http_get(unsigned short port, const std::string& target, std::chrono::milliseconds timeout) {
  http_response out;
  try {
    asio::io_context ioc;
    beast::tcp_stream stream(ioc);
    stream.expires_after(timeout);
    stream.connect(asio::ip::tcp::endpoint(loopback, port));
    bhttp::request<bhttp::empty_body> req{bhttp::verb::get, target, 11};
    req.set(bhttp::field::host, "127.0.0.1");
    req.keep_alive(false);
    bhttp::write(stream, req);
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    bhttp::read(stream, buffer, parser);
    out.status = parser.get().result_int();
    out.body = std::move(parser.get().body());
  } catch (const std::exception& e) {
    out.error = e.what();
  }
  return out;
}

temp_dir::temp_dir() {
  static std::atomic<int> counter{0};
  std::random_device rd;
  path_ = std::filesystem::temp_directory_path() /
          ("beeline-backend-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
           std::to_string(rd() % 100000));
  std::filesystem::create_directories(path_);
}

temp_dir::~temp_dir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string backend_binary(const char* env_name, const std::string& built_path) {
  std::string path = built_path;
  if (const char* v = std::getenv(env_name); v && *v) path = v;
  if (::access(path.c_str(), X_OK) != 0)
    FAIL("no backend binary at " << path << " (" << env_name
                                 << " overrides the path): build it with scripts/backends/build.sh "
                                    "(scripts/test.sh runs it)");
  return path;
}

jaeger::jaeger() {
  const auto ports = free_ports(3);
  otlp_port_ = ports[0];
  query_port_ = ports[1];
  const auto config = dir_.path() / "jaeger.yaml";
  // All-in-one with in-memory storage, as the binary's built-in configuration, but on our own ports, without
  // the batch processor's delay, and without the fixed ports of its self-telemetry and other receivers.
  std::ostringstream yaml;
  yaml << "service:\n"
          "  extensions: [jaeger_storage, jaeger_query]\n"
          "  pipelines:\n"
          "    traces:\n"
          "      receivers: [otlp]\n"
          "      exporters: [jaeger_storage_exporter]\n"
          "  telemetry:\n"
          "    metrics:\n"
          "      level: none\n"
          "    logs:\n"
          "      level: warn\n"
          "extensions:\n"
          "  jaeger_query:\n"
          "    storage:\n"
          "      traces: memstore\n"
          "    http:\n"
          "      endpoint: 127.0.0.1:"
       << query_port_
       << "\n"
          "    grpc:\n"
          "      endpoint: 127.0.0.1:"
       << ports[2]
       << "\n"
          "  jaeger_storage:\n"
          "    backends:\n"
          "      memstore:\n"
          "        memory:\n"
          "          max_traces: 100000\n"
          "receivers:\n"
          "  otlp:\n"
          "    protocols:\n"
          "      http:\n"
          "        endpoint: 127.0.0.1:"
       << otlp_port_
       << "\n"
          "exporters:\n"
          "  jaeger_storage_exporter:\n"
          "    trace_storage: memstore\n";
  write_file(config, yaml.str());
  const std::string bin = backend_binary("BEELINE_JAEGER", BEELINE_JAEGER_BINARY);
  process_ = std::make_unique<child_process>(killed_with_parent({bin, "--config", config.string()}));
  const bool ready = eventually(
      [&] { return port_open(otlp_port_) && http_get(query_port_, "/api/services", 2s).status == 200; },
      startup_timeout);
  if (!ready) FAIL("jaeger did not start within " << startup_timeout.count() << " s:\n" << log());
}

jaeger::~jaeger() = default;

std::string jaeger::otlp_endpoint() const {
  return "http://127.0.0.1:" + std::to_string(otlp_port_);
}

http_response jaeger::query(const std::string& target) const {
  return http_get(query_port_, target);
}

std::string jaeger::log() const {
  return process_ ? process_->out() + process_->err() : std::string();
}

collector::collector(int memory_limit_mib) {
  otlp_port_ = free_port();
  const auto config = dir_.path() / "collector.yaml";
  const auto output = dir_.path() / "received.jsonl";
  const std::string processors =
      memory_limit_mib > 0 ? "      processors: [memory_limiter]\n" : std::string();
  std::ostringstream yaml;
  yaml << "receivers:\n"
          "  otlp:\n"
          "    protocols:\n"
          "      http:\n"
          "        endpoint: 127.0.0.1:"
       << otlp_port_ << "\n";
  if (memory_limit_mib > 0)
    yaml << "processors:\n"
            "  memory_limiter:\n"
            "    check_interval: 50ms\n"
            "    limit_mib: "
         << memory_limit_mib
         << "\n"
            "    spike_limit_mib: "
         << (memory_limit_mib > 1 ? memory_limit_mib / 2 : 0) << "\n";
  yaml << "exporters:\n"
          "  file:\n"
          "    path: "
       << output.string()
       << "\n"
          "    format: json\n"
          "    flush_interval: 20ms\n"
          "service:\n"
          "  telemetry:\n"
          "    metrics:\n"
          "      level: none\n"
          "    logs:\n"
          "      level: warn\n"
          "  pipelines:\n";
  for (const char* signal : {"traces", "metrics", "logs"})
    yaml << "    " << signal << ":\n      receivers: [otlp]\n" << processors << "      exporters: [file]\n";
  write_file(config, yaml.str());
  const std::string bin = backend_binary("BEELINE_OTELCOL", BEELINE_OTELCOL_BINARY);
  process_ = std::make_unique<child_process>(killed_with_parent({bin, "--config", config.string()}));
  if (!eventually([&] { return port_open(otlp_port_); }, startup_timeout))
    FAIL("the collector did not start within " << startup_timeout.count() << " s:\n" << log());
}

collector::~collector() = default;

std::string collector::otlp_endpoint() const {
  return "http://127.0.0.1:" + std::to_string(otlp_port_);
}

std::vector<std::string> collector::output_lines() const {
  // Complete lines only: the collector may be writing the last one.
  std::ifstream in(dir_.path() / "received.jsonl", std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> lines;
  std::size_t start = 0;
  for (std::size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1)
    if (nl > start) lines.push_back(text.substr(start, nl - start));
  return lines;
}

int collector::stop(std::chrono::milliseconds timeout) {
  process_->signal(SIGTERM);
  return process_->wait(timeout);
}

std::string collector::log() const {
  return process_ ? process_->out() + process_->err() : std::string();
}

}  // namespace beeline::test
