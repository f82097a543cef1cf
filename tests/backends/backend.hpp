// The real backends the backend tests send to: Jaeger (all-in-one, in-memory) and an OpenTelemetry Collector
// that writes what it receives to a file. Each runs as a child process on loopback with ports picked free
// for it, is ready (its ports answer) when its constructor returns, and is killed by its destructor, so a
// failing test leaves no process behind. The binaries are built and cached by scripts/backends/build.sh;
// a missing one fails the test with the command that builds it.
#pragma once

#include "../examples/child_process.hpp"

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace beeline::test {

/// A port on 127.0.0.1 nothing listened on a moment ago (the kernel's choice for a bind to port 0).
unsigned short free_port();
/// `n` such ports, all different.
std::vector<unsigned short> free_ports(std::size_t n);

/// Whether something accepts TCP connections on 127.0.0.1:`port`.
bool port_open(unsigned short port);

/// The answer to a blocking HTTP/1.1 GET; `status` 0 when the request failed (`error` says why).
struct http_response {
  int status = 0;
  std::string body;
  std::string error;
};
http_response http_get(unsigned short port, const std::string& target,
                       std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));

/// A directory of its own under the system's temporary directory, removed with everything in it.
class temp_dir {
 public:
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
};

/// The path of a backend binary: the environment variable `env_name` if set, else `built_path`. Fails the
/// test (with the build command) if there is no executable file there.
std::string backend_binary(const char* env_name, const std::string& built_path);

/// Jaeger all-in-one with in-memory storage: OTLP/HTTP and the query API on free loopback ports.
class jaeger {
 public:
  jaeger();
  ~jaeger();
  /// `http://127.0.0.1:PORT`, the OTLP/HTTP receiver (an exporter appends `/v1/traces`).
  std::string otlp_endpoint() const;
  /// GET on the query API (`/api/services`, `/api/traces/<id>`, `/api/v3/traces/<id>`).
  http_response query(const std::string& target) const;
  /// The process's output so far, for failure messages.
  std::string log() const;

 private:
  temp_dir dir_;
  unsigned short otlp_port_ = 0, query_port_ = 0;
  std::unique_ptr<child_process> process_;
};

/// An OpenTelemetry Collector: the OTLP/HTTP receiver, optionally a memory_limiter, and the file exporter
/// writing each request it received as one line of OTLP JSON.
class collector {
 public:
  /// `memory_limit_mib` > 0 puts a memory_limiter of that limit in every pipeline (a limit below what the
  /// collector itself uses makes it refuse everything).
  explicit collector(int memory_limit_mib = 0);
  ~collector();
  std::string otlp_endpoint() const;
  unsigned short otlp_port() const noexcept { return otlp_port_; }
  /// The lines of the output file so far (each an OTLP JSON export request: traces, metrics or logs).
  std::vector<std::string> output_lines() const;
  /// SIGTERM, then waits for the process to exit (its exit code; -1 if it did not within the timeout).
  int stop(std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));
  std::string log() const;

 private:
  temp_dir dir_;
  unsigned short otlp_port_ = 0;
  std::unique_ptr<child_process> process_;
};

/// Polls `ready` every 20 ms until it is true or `timeout` passed; whether it became true.
template <class F>
bool eventually(F&& ready, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (ready()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace beeline::test
