// Statements that set up a tracer: `cfg` is the configuration given to beeline::init afterwards, `key` a
// write key (an API key for OTLP).
#include <beeline/beeline.hpp>
#include <beeline/http_exporter.hpp>
#include <beeline/propagation.hpp>

#include <chrono>
#include <string>
#include <vector>

int main() {
  beeline::config cfg;
  std::string key = "write-key";
  // @BLOCK@
  beeline::init(cfg);
}
