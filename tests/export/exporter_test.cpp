// The built-in exporters, the exporter interface's failure handling, and the dataset rules.
#include "support.hpp"

#include "core/json.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>
#include <cstdio>
#include <fstream>
#include <stdexcept>

using beeline::test::exported;
using beeline::test::memory_tracer;

namespace {

std::string temp_path(const char* tag) {
  return "/tmp/beeline_test_" + std::to_string(getpid()) + "_" + tag + ".jsonl";
}

class throwing_exporter final : public beeline::exporter {
 public:
  beeline::export_result export_batch(std::span<const beeline::event>) override {
    throw std::runtime_error("backend exploded");
  }
};

class half_exporter final : public beeline::exporter {
 public:
  beeline::export_result export_batch(std::span<const beeline::event> b) override {
    return {b.size() / 2, b.size() - b.size() / 2, "half lost"};
  }
};

class capture_exporter final : public beeline::exporter {
 public:
  std::vector<std::string> bodies;
  bool shut = false;
  beeline::export_result export_batch(std::span<const beeline::event> b) override {
    for (const auto& ev : b) {
      std::string s;
      beeline::append_event_json(ev, s, false);
      bodies.push_back(s);
    }
    return {b.size(), 0, {}};
  }
  void shutdown() override { shut = true; }
};

}  // namespace

TEST_CASE("jsonl: one JSON event per line, appended to the file") {
  const std::string path = temp_path("jsonl");
  std::remove(path.c_str());
  {
    beeline::config cfg;
    cfg.jsonl_path = path;
    cfg.dataset = "file-ds";
    beeline::tracer tr(cfg);
    beeline::span root = tr.start_trace("root");
    beeline::span child = beeline::start_span("child");
    child.finish();
    root.finish();
    CHECK(tr.flush_sync(std::chrono::seconds(5)).exported == 2);
  }
  std::ifstream in(path);
  std::vector<exported> lines;
  for (std::string l; std::getline(in, l);)
    lines.emplace_back(l);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].name() == "child");
  CHECK(lines[1].name() == "root");
  CHECK(lines[1].dataset() == "file-ds");
  std::remove(path.c_str());
}

TEST_CASE("jsonl: a path that cannot be opened is refused when the tracer is made, saying why") {
  beeline::config cfg;
  cfg.jsonl_path = "/nonexistent-dir/x.jsonl";
  cfg.logger = [](beeline::log_level, std::string_view) {};
  CHECK_THROWS_AS(beeline::tracer(cfg), std::invalid_argument);
  CHECK_THROWS_WITH(beeline::tracer(cfg),
                    "cannot open jsonl_path /nonexistent-dir/x.jsonl: No such file or directory");
  CHECK_THROWS_WITH(beeline::make_jsonl_exporter("/nonexistent-dir/x.jsonl"),
                    "cannot open jsonl_path /nonexistent-dir/x.jsonl: No such file or directory");
}

TEST_CASE("exporter: a throwing exporter loses its batch, counted; partial delivery is counted") {
  {
    beeline::config cfg;
    cfg.exporter = std::make_shared<throwing_exporter>();
    cfg.logger = [](beeline::log_level, std::string_view) {};
    beeline::tracer tr(cfg);
    for (int i = 0; i < 3; ++i)
      beeline::span r = tr.start_trace("r");
    tr.flush_sync(std::chrono::seconds(5));
    CHECK(tr.stats().dropped_exporter == 3);
    CHECK(tr.stats().exported == 0);
  }
  {
    beeline::config cfg;
    cfg.exporter = std::make_shared<half_exporter>();
    cfg.logger = [](beeline::log_level, std::string_view) {};
    cfg.send_interval = std::chrono::hours(1);
    beeline::tracer tr(cfg);
    for (int i = 0; i < 10; ++i)
      beeline::span r = tr.start_trace("r");
    tr.flush_sync(std::chrono::seconds(5));
    CHECK(tr.stats().exported + tr.stats().dropped_exporter == 10);
    CHECK(tr.stats().dropped_exporter == 5);
  }
}

TEST_CASE(
    "exporter: the batch element shape has time, samplerate and data, and shutdown reaches the exporter") {
  auto cap = std::make_shared<capture_exporter>();
  {
    beeline::config cfg;
    cfg.exporter = cap;
    beeline::tracer tr(cfg);
    { beeline::span root = tr.start_trace("root"); }
    tr.shutdown();
  }
  REQUIRE(cap->bodies.size() == 1);
  CHECK(cap->bodies[0].rfind(R"({"time":")", 0) == 0);
  CHECK(cap->bodies[0].find(R"("samplerate":1,"data":{)") != std::string::npos);
  CHECK(cap->bodies[0].find("dataset") == std::string::npos);
  CHECK(cap->shut);
}

TEST_CASE("encoding: a span's own field of a global's name replaces it; a key of the same length does not") {
  auto cap = std::make_shared<capture_exporter>();
  {
    beeline::config cfg;
    cfg.exporter = cap;
    cfg.service_name = "tracer-svc";
    beeline::tracer tr(cfg);
    {
      beeline::span root = tr.start_trace("root");
      root.add_field("service_name", "span-svc");  // 12 bytes, as is "service.name"
    }
    {
      beeline::span root = tr.start_trace("root");
      root.add_field("service_nam3", "x");  // also 12 bytes: not a global's name
    }
    tr.shutdown();
  }
  REQUIRE(cap->bodies.size() == 2);
  const auto count = [](const std::string& body, std::string_view what) {
    std::size_t n = 0;
    for (auto at = body.find(what); at != std::string::npos; at = body.find(what, at + 1))
      ++n;
    return n;
  };
  INFO(cap->bodies[0]);
  CHECK(count(cap->bodies[0], R"("service_name":)") == 1);
  CHECK(count(cap->bodies[0], R"("service_name":"span-svc")") == 1);
  CHECK(count(cap->bodies[0], R"("service.name":"tracer-svc")") == 1);
  INFO(cap->bodies[1]);
  CHECK(count(cap->bodies[1], R"("service_name":"tracer-svc")") == 1);
  CHECK(count(cap->bodies[1], R"("service_nam3":"x")") == 1);
  CHECK(beeline::detail::is_valid_json(cap->bodies[0]));
  CHECK(beeline::detail::is_valid_json(cap->bodies[1]));
}

TEST_CASE("dataset: the Beeline's classic and non-classic key rules") {
  const auto dataset_for = [](std::string key, std::string dataset, std::string service) {
    beeline::config cfg;
    cfg.write_key = std::move(key);
    cfg.dataset = std::move(dataset);
    cfg.service_name = std::move(service);
    cfg.exporter = beeline::make_discard_exporter();
    cfg.logger = [](beeline::log_level, std::string_view) {};
    beeline::tracer tr(cfg);
    return std::string(tr.dataset());
  };
  const std::string classic = "abcdefabcdefabcdefabcdefabcdefab";
  const std::string modern = "kgvSpPwegJshQkuowXReLD";
  CHECK(dataset_for(classic, " my-ds ", "svc") == "my-ds");
  CHECK(dataset_for(classic, "", "svc") == "beeline-cpp");
  CHECK(dataset_for(modern, "ignored", " my-service ") == "my-service");
  CHECK(dataset_for(modern, "", " ") == "unknown_service");
  CHECK(dataset_for(modern, "", "unknown_service:thing") == "unknown_service");
  // The service name is sent untrimmed, as the Beeline does.
  memory_tracer t(beeline::config{.write_key = modern, .service_name = " my-service "});
  { beeline::span r = t.tracer.start_trace("r"); }
  CHECK(t.events()[0].str("service_name") == " my-service ");
}

TEST_CASE("config: the default service name names the program") {
  beeline::config cfg;
  cfg.exporter = beeline::make_discard_exporter();
  beeline::tracer tr(cfg);
  CHECK(std::string(tr.service_name()).rfind("unknown_service:", 0) == 0);
  CHECK(tr.service_name().size() > std::string_view("unknown_service:").size());
}
