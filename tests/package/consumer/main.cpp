// Uses the synchronous API and the coroutine API, printing its spans as JSON lines.
#include <beeline/asio/coro.hpp>
#include <beeline/asio/flush.hpp>
#include <beeline/beeline.hpp>

#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <cstdio>

namespace asio = boost::asio;

asio::awaitable<void> work() {
  co_await beeline::start_async_span("consumer.async", beeline::field{"k", 1},
                                     asio::post(asio::use_awaitable));
  const beeline::flush_result r = co_await beeline::flush();
  std::fprintf(stderr, "flush %s\n", r.complete ? "complete" : "incomplete");
}

int main() {
  beeline::config cfg;
  cfg.service_name = "consumer";
  beeline::init(cfg);
  asio::io_context io;
  {
    beeline::span root = beeline::start_trace("consumer.root");
    beeline::with_span("consumer.sync", {{"answer", 42}}, [] {});
    beeline::spawn(io.get_executor(), work(), asio::detached);
    beeline::finish_trace(root);
  }
  io.run();
  return beeline::shutdown().complete ? 0 : 1;
}
