// A collector for the benchmarks that export over HTTP: a Beast server on 127.0.0.1, one thread per
// keep-alive connection, that answers a Honeycomb batch with one 202 status per event, or an OTLP request
// with `{}`.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace beeline::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

class loopback_sink {
 public:
  enum class protocol { honeycomb, otlp };
  explicit loopback_sink(protocol p = protocol::honeycomb)
      : protocol_(p), acceptor_(ioc_, {asio::ip::make_address("127.0.0.1"), 0}) {
    thread_ = std::thread([this] { accept_loop(); });
  }
  ~loopback_sink() {
    stop_ = true;
    {  // a blocking accept does not notice close(); a last connection wakes it
      tcp::socket wake(ioc_);
      boost::system::error_code ec;
      wake.connect(acceptor_.local_endpoint(), ec);
    }
    thread_.join();
    for (auto& t : sessions_)
      t.join();
  }
  unsigned short port() const { return acceptor_.local_endpoint().port(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port()); }
  std::uint64_t events() const { return events_.load(); }

 private:
  void accept_loop() {
    for (;;) {
      tcp::socket socket(ioc_);
      boost::system::error_code ec;
      acceptor_.accept(socket, ec);
      if (ec || stop_) return;
      sessions_.emplace_back([this, s = std::move(socket)]() mutable { serve(std::move(s)); });
    }
  }
  void serve(tcp::socket socket) {
    // The backend would run on another machine; here it shares the cores, so it yields to everything else.
    ::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), 19);
    pthread_setname_np(pthread_self(), "sink");
    // Room for a whole batch per read: a small buffer turns each request into dozens of receive calls, CPU
    // a remote backend would not take from the server under test.
    beast::flat_buffer buffer;
    buffer.reserve(256 * 1024);
    std::string statuses;
    for (;;) {
      http::request<http::string_body> req;
      boost::system::error_code ec;
      http::read(socket, buffer, req, ec);
      if (ec) return;
      if (protocol_ == protocol::otlp) {
        statuses = "{}";
      } else {
        // Count events: each element of the array starts with {"time".
        std::size_t n = 0;
        for (std::size_t pos = req.body().find("{\"time\""); pos != std::string::npos;
             pos = req.body().find("{\"time\"", pos + 1))
          ++n;
        events_.fetch_add(n);
        statuses = "[";
        for (std::size_t i = 0; i < n; ++i)
          statuses += i ? ",{\"status\":202}" : "{\"status\":202}";
        statuses += "]";
      }
      http::response<http::string_body> res{http::status::ok, 11};
      res.set(http::field::content_type, "application/json");
      res.keep_alive(true);
      res.body() = statuses;
      res.prepare_payload();
      http::write(socket, res, ec);
      if (ec) return;
    }
  }

  protocol protocol_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  std::vector<std::thread> sessions_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> events_{0};
};

}  // namespace beeline::bench
