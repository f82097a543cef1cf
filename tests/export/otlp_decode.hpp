// Test support: OTLP protobuf bodies decoded by the official schema (the opentelemetry-proto Python package,
// tests/interop/otlp_proto_decode.py, in a virtualenv tests/interop/python/setup.sh makes once) and compared
// field by field with the OTLP/JSON encoding of the same data.
#pragma once

#include <simdjson.h>
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>

namespace beeline::test {

// Runs a command, returning its standard output; throws if it fails to start.
inline std::string run(const std::string& command, int& status) {
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) throw std::runtime_error("cannot run " + command);
  std::string out;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;)
    out.append(buf, n);
  status = pclose(pipe);
  return out;
}

// The interpreter of the virtualenv holding opentelemetry-proto (made on first use).
inline std::string python() {
  int status = 0;
  std::string path = run("sh '" BEELINE_OTLP_PYTHON_SETUP "'", status);
  REQUIRE(status == 0);
  while (!path.empty() && (path.back() == '\n' || path.back() == '\r'))
    path.pop_back();
  return path;
}

inline void write_file(const std::filesystem::path& p, std::string_view bytes) {
  std::ofstream f(p, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline std::string from_hex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return out;
}

// Decodes `proto` with the official schema and compares it field by field with `json` (the JSON encoding of
// the same data); returns the decoded request as OTLP/JSON.
inline std::string decode_and_compare(const std::string& signal, std::string_view proto,
                                      std::string_view json) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("beeline-otlp-proto-" + std::to_string(std::random_device{}()));
  std::filesystem::create_directories(dir);
  write_file(dir / "request.pb", proto);
  write_file(dir / "request.json", json);
  int status = 0;
  std::string decoded = run(python() + " '" BEELINE_OTLP_PROTO_DECODE "' decode " + signal + " '" +
                                (dir / "request.pb").string() + "' '" + (dir / "request.json").string() +
                                "' 2>'" + (dir / "diff.txt").string() + "'",
                            status);
  std::ifstream diff_file(dir / "diff.txt");
  const std::string diff((std::istreambuf_iterator<char>(diff_file)), {});
  diff_file.close();
  std::filesystem::remove_all(dir);
  INFO(diff);
  REQUIRE(status == 0);  // no field differs between the two encodings
  return decoded;
}

// A span of the decoded request, by name.
inline simdjson::dom::element span_named(simdjson::dom::element request, std::string_view name) {
  for (simdjson::dom::element s : request["resourceSpans"].at(0)["scopeSpans"].at(0)["spans"].get_array()) {
    std::string_view n;
    if (s["name"].get_string().get(n) == simdjson::SUCCESS && n == name) return s;
  }
  FAIL("no span named " << name);
  return {};
}

inline std::string attribute(simdjson::dom::element attrs, std::string_view key) {
  for (simdjson::dom::element a : attrs.get_array()) {
    std::string_view k;
    if (a["key"].get_string().get(k) == simdjson::SUCCESS && k == key) return simdjson::minify(a["value"]);
  }
  return "";
}

}  // namespace beeline::test
