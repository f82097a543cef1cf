// The tracer configuration every benchmark uses: spans go through the real queue and worker to an exporter
// that discards them, so what is measured is the tracer, not an encoder or a file.
#pragma once

#include <beeline/beeline.hpp>

inline beeline::config bench_config() {
  beeline::config cfg;
  cfg.exporter = beeline::make_discard_exporter();
  cfg.service_name = "bench";
  cfg.queue_capacity = 1 << 16;
  return cfg;
}
