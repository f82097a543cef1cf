// A traced Beast HTTP server in a few lines, and its graceful shutdown.
//
//   beeline::http::server srv(io.get_executor(), {asio::ip::make_address("0.0.0.0"), 8080}, handle);
//   srv.start();
//   asio::co_spawn(io, [&]() -> asio::awaitable<void> {
//     co_await beeline::http::shutdown_on_signal(srv);   // SIGINT/SIGTERM: drain, then flush the spans
//   }, asio::detached);
//   io.run();
//
// `serve_connection` is the session loop on its own, for a server that accepts connections itself (TLS, a
// custom acceptor): one trace per request on a keep-alive connection, malformed and oversized requests
// answered and traced, a client that goes away mid-request traced as incomplete.
#pragma once

#include <beeline/asio/flush.hpp>
#include <beeline/asio/http.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>

namespace beeline::http {

/// A session's limits and tracing.
struct session_options : server_options {
  /// Largest request header; a bigger one is answered 431 and traced with the error.
  std::uint32_t header_limit = 16 * 1024;
  /// Largest request body; a bigger one is answered 413.
  std::uint64_t body_limit = 1024 * 1024;
  /// How long a connection may sit idle, or take to send a request.
  std::chrono::steady_clock::duration read_timeout = std::chrono::seconds(30);
  /// How long writing a response may take.
  std::chrono::steady_clock::duration write_timeout = std::chrono::seconds(30);
};

/// What a session shares with whoever may stop it (the `server`): all on the session's strand.
struct connection_control {
  bool idle = false;             ///< waiting for the next request (nothing of it read)
  bool stopping = false;         ///< answer the current request with `Connection: close`, then end
  std::function<void()> cancel;  ///< cancels the connection's pending operation
};

namespace detail {

template <class Stream>
void expire_after(Stream& stream, std::chrono::steady_clock::duration d) {
  auto& lowest = beast::get_lowest_layer(stream);
  if constexpr (requires { lowest.expires_after(d); }) lowest.expires_after(d);
}

/// Writes `res` (only its header for a HEAD request) within `timeout`; the error, if any.
template <class Stream, class Body, class Fields>
asio::awaitable<boost::system::error_code> write_response(Stream& stream, bhttp::response<Body, Fields>& res,
                                                          bool head_only,
                                                          std::chrono::steady_clock::duration timeout) {
  expire_after(stream, timeout);
  if (head_only) {
    bhttp::response_serializer<Body, Fields> serializer{res};
    auto [ec, n] =
        co_await bhttp::async_write_header(stream, serializer, asio::as_tuple(asio::use_awaitable));
    co_return ec;
  }
  auto [ec, n] = co_await bhttp::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
  co_return ec;
}

/// Closes after an error response while the client may still be sending (an upload over the limit): stops
/// sending, then reads and discards what arrives until the client closes (at most 1 MiB or 1 s), so the
/// kernel does not answer the unread bytes with a reset that could destroy the response before the client
/// read it.
template <class Stream>
asio::awaitable<void> close_unread(Stream& stream) {
  auto& lowest = beast::get_lowest_layer(stream);
  boost::system::error_code ignored;
  lowest.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  expire_after(stream, std::chrono::seconds(1));
  char scratch[4096];
  for (std::size_t total = 0; total < (1u << 20);) {
    auto [ec, n] =
        co_await lowest.async_read_some(asio::buffer(scratch), asio::as_tuple(asio::use_awaitable));
    if (ec) break;
    total += n;
  }
}

/// Whether the request asks for `100 Continue` before it sends its body.
template <class Fields>
bool expects_continue(const bhttp::request<bhttp::string_body, Fields>& req) {
  const auto it = req.find(bhttp::field::expect);
  return it != req.end() && beast::iequals(it->value(), "100-continue");
}

template <class Body>
bhttp::response<bhttp::string_body> plain_response(bhttp::status status, unsigned version, Body&& text) {
  bhttp::response<bhttp::string_body> res{status, version};
  res.set(bhttp::field::content_type, "text/plain");
  res.keep_alive(false);
  res.body() = std::forward<Body>(text);
  res.prepare_payload();
  return res;
}

}  // namespace detail

/// Serves HTTP/1.1 requests on `stream` until the client closes, a request asks to close, an error, or
/// `control->stopping`. Each request is one trace (`server_span`), current while `handler(request&)` runs;
/// the handler returns `asio::awaitable<bhttp::response<Body>>`. A handler that throws gets a 500 and the
/// exception recorded. Run it in its own task (`beeline::spawn`), or the traces of concurrent connections
/// share one slot and get each other's spans.
///
/// GCC 12: a temporary whose type has a destructor, made inside a `co_await` expression (a braced
/// `session_options{...}`, a lambda with captures), is destroyed twice. Make the awaitable in its own
/// statement from named objects: `auto session = serve_connection(stream, addr, handler, opts); co_await
/// std::move(session);`.
template <class Stream, class Handler>
asio::awaitable<void> serve_connection(Stream& stream, std::string remote_addr, Handler handler,
                                       session_options opts, connection_control* control = nullptr) {
  // After a terminal cancellation (a forced stop) operations report operation_aborted instead of throwing, so
  // the current trace is still finished here, marked incomplete.
  co_await asio::this_coro::throw_if_cancelled(false);
  beast::flat_buffer buffer;
  for (;;) {
    if (control && control->stopping) co_return;
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(opts.header_limit);
    parser.body_limit(opts.body_limit);
    detail::expire_after(stream, opts.read_timeout);
    if (control) control->idle = buffer.size() == 0;  // a pipelined request already read is not idle
    auto [ec, n] =
        co_await bhttp::async_read_header(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
    if (control) control->idle = false;
    if (ec && !parser.got_some()) co_return;  // closed, timed out or reset between requests: no request
    if (ec == bhttp::error::body_limit) {
      // The declared Content-Length is over the limit (Beast stops at that field, after the request line): a
      // traced request with the header read so far, answered 413 without reading on.
      server_span trace(parser.get().base(), remote_addr, opts);
      trace.fail(ec);
      auto res = detail::plain_response(bhttp::status::payload_too_large, parser.get().version(),
                                        "request body too large\n");
      if (!co_await detail::write_response(stream, res, false, opts.write_timeout)) {
        trace.finish(res);
        co_await detail::close_unread(stream);
      }
      co_return;
    }
    if (ec) {
      // A malformed or oversized request: answered if the client can still hear it, traced either way (with
      // the method and target when the request line was read, e.g. a header over the limit).
      server_span failed = parser.get().method_string().empty()
                               ? server_span::bad_request(remote_addr, ec, opts)
                               : server_span(parser.get().base(), remote_addr, opts);
      failed.fail(ec);
      if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
          ec != bhttp::error::partial_message && ec != bhttp::error::end_of_stream) {
        const bool too_big = ec == bhttp::error::header_limit;
        auto res = detail::plain_response(
            too_big ? bhttp::status::request_header_fields_too_large : bhttp::status::bad_request, 11,
            too_big ? "request header too large\n" : "malformed request\n");
        if (!co_await detail::write_response(stream, res, false, opts.write_timeout)) {
          failed.finish(res);
          co_await detail::close_unread(stream);
        }
      }
      co_return;
    }

    server_span trace(parser.get().base(), remote_addr, opts);
    if (!parser.is_done()) {
      if (detail::expects_continue(parser.get())) {  // the client waits for this before sending the body
        bhttp::response<bhttp::empty_body> go_on{bhttp::status::continue_, parser.get().version()};
        if (const auto cec = co_await detail::write_response(stream, go_on, false, opts.write_timeout)) {
          trace.fail(cec);
          co_return;
        }
      }
      detail::expire_after(stream, opts.read_timeout);  // the body gets its own time, not what idling left
      auto [bec, bn] =
          co_await bhttp::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
      if (bec) {
        trace.fail(bec);
        if (bec == bhttp::error::body_limit) {
          auto res = detail::plain_response(bhttp::status::payload_too_large, parser.get().version(),
                                            "request body too large\n");
          if (!co_await detail::write_response(stream, res, false, opts.write_timeout)) {
            trace.finish(res);
            co_await detail::close_unread(stream);
          }
        }
        co_return;  // the trace ends incomplete (or answered 413) and the connection closes
      }
    }

    bhttp::request<bhttp::string_body>& req = parser.get();
    const bool head = req.method() == bhttp::verb::head;
    using response_type = typename decltype(handler(req))::value_type;
    std::optional<response_type> res;
    std::exception_ptr error;
    try {
      res.emplace(co_await handler(req));
      // The handler's own `Connection: close` stands; so does a length it set for a HEAD response.
      res->keep_alive(res->keep_alive() && req.keep_alive() && !(control && control->stopping));
      if (!head || (!res->has_content_length() && !res->chunked())) res->prepare_payload();
    } catch (...) {  // the handler threw, or its response cannot be sent (a body on a 204)
      error = std::current_exception();
    }
    if (error) {
      trace.fail(error);
      res.emplace();
      res->result(bhttp::status::internal_server_error);
      res->version(req.version());
      res->keep_alive(req.keep_alive() && !(control && control->stopping));  // the request was read whole
      res->prepare_payload();
    }
    if (const auto wec = co_await detail::write_response(stream, *res, head, opts.write_timeout)) {
      trace.fail(wec);
      co_return;  // the trace ends incomplete
    }
    trace.finish(res->base());
    if (!res->keep_alive()) {
      boost::system::error_code ignored;
      beast::get_lowest_layer(stream).socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
      co_return;
    }
  }
}

/// `serve_connection` with the default options.
template <class Stream, class Handler>
asio::awaitable<void> serve_connection(Stream& stream, std::string remote_addr, Handler handler) {
  return serve_connection(stream, std::move(remote_addr), std::move(handler), session_options{}, nullptr);
}

/// A traced HTTP server: accepts on `endpoint`, serves each connection in its own task on its own strand
/// (`serve_connection`), and stops gracefully (`async_stop`). The handler is shared by all connections and
/// may run on several threads at once if the io_context does.
class server {
 public:
  using request_type = bhttp::request<bhttp::string_body>;
  using response_type = bhttp::response<bhttp::string_body>;
  using handler_type = std::function<asio::awaitable<response_type>(request_type&)>;

  server(asio::any_io_executor ex, const asio::ip::tcp::endpoint& endpoint, handler_type handler,
         session_options opts = {})
      : state_(std::make_shared<state>(ex, endpoint, std::move(handler), std::move(opts))) {}
  server(const server&) = delete;
  server& operator=(const server&) = delete;
  /// Closes the acceptor; connections still open keep running until they end (use `async_stop`).
  ~server() {
    asio::post(state_->acceptor_strand, [st = state_] {
      boost::system::error_code ignored;
      st->acceptor.close(ignored);
    });
  }

  /// The bound address (the port, when bound to port 0).
  asio::ip::tcp::endpoint local_endpoint() const { return state_->local; }
  /// The executor the server was made with.
  asio::any_io_executor get_executor() const { return state_->executor; }

  /// Starts accepting (once; later calls do nothing).
  void start() {
    if (state_->started.exchange(true)) return;
    auto st = state_;
    asio::co_spawn(st->acceptor_strand, accept_loop(st), asio::detached);
  }

  /// Connections open now.
  std::size_t connections() const {
    std::lock_guard lk(state_->mutex);
    return state_->open.size();
  }

  /// Stops gracefully: stops accepting, closes idle keep-alive connections, lets requests in progress finish
  /// (their responses say `Connection: close`) until `drain` has passed, then closes what is left (those
  /// requests' traces end incomplete). Completes with the number of connections closed by force. A second
  /// call waits for the first stop and reports the same.
  template <class Token = asio::use_awaitable_t<>>
  auto async_stop(std::chrono::steady_clock::duration drain, Token&& token = {}) {
    auto st = state_;
    return asio::async_initiate<Token, void(std::size_t)>(
        [st, drain](auto handler) {
          auto ex = asio::get_associated_executor(handler, st->acceptor_strand);
          asio::co_spawn(st->acceptor_strand, stop(st, drain),
                         asio::bind_executor(
                             ex, [h = std::move(handler)](std::exception_ptr, std::size_t forced) mutable {
                               std::move(h)(forced);
                             }));
        },
        token);
  }

 private:
  struct connection {
    connection_control control;
    asio::cancellation_signal cancel;  // terminal cancellation of the session's task (forced stop)
    asio::strand<asio::any_io_executor> strand;
    explicit connection(asio::strand<asio::any_io_executor> s) : strand(std::move(s)) {}
  };

  struct state {
    state(asio::any_io_executor ex, const asio::ip::tcp::endpoint& endpoint, handler_type h,
          session_options o)
        : executor(ex),
          acceptor_strand(asio::make_strand(ex)),
          acceptor(acceptor_strand, endpoint),
          local(acceptor.local_endpoint()),
          handler(std::move(h)),
          opts(std::move(o)),
          drained(acceptor_strand),
          stop_done(acceptor_strand) {}

    asio::any_io_executor executor;
    asio::strand<asio::any_io_executor> acceptor_strand;
    asio::ip::tcp::acceptor acceptor;
    asio::ip::tcp::endpoint local;
    handler_type handler;
    session_options opts;
    asio::steady_timer drained;  // cancelled when the last connection ends during a stop
    std::atomic<bool> started{false};
    // On the acceptor strand: the one stop in progress, and the later calls waiting for its result.
    bool stop_started = false;
    bool stop_finished = false;
    std::size_t forced_result = 0;
    asio::steady_timer stop_done;  // cancelled when the stop is finished

    mutable std::mutex mutex;
    std::list<std::shared_ptr<connection>> open;  // guarded by mutex
    bool stopping = false;                        // guarded by mutex
  };

  static asio::awaitable<void> accept_loop(std::shared_ptr<state> st) {
    for (;;) {
      auto strand = asio::make_strand(st->executor);
      auto [ec, socket] = co_await st->acceptor.async_accept(strand, asio::as_tuple(asio::use_awaitable));
      if (ec == asio::error::operation_aborted || !st->acceptor.is_open()) co_return;
      if (ec) {  // e.g. too many open files: keep accepting, after a pause (not a busy loop)
        asio::steady_timer pause(st->acceptor_strand, std::chrono::milliseconds(100));
        co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
        continue;
      }
      auto conn = std::make_shared<connection>(strand);
      {
        std::lock_guard lk(st->mutex);
        if (st->stopping) continue;  // the socket closes as it goes out of scope
        st->open.push_back(conn);
      }
      beeline::spawn(strand, session(st, conn, std::move(socket)),
                     asio::bind_cancellation_slot(conn->cancel.slot(), asio::detached));
    }
  }

  static asio::awaitable<void> session(std::shared_ptr<state> st, std::shared_ptr<connection> conn,
                                       asio::ip::tcp::socket socket) {
    boost::system::error_code ec;
    const auto peer = socket.remote_endpoint(ec);
    beast::tcp_stream stream(std::move(socket));
    conn->control.cancel = [&stream] {
      boost::system::error_code ignored;
      stream.socket().close(ignored);
    };
    struct forget_stream {  // the stream dies with this frame: nothing may reach it through `cancel` after
      connection_control& control;
      ~forget_stream() { control.cancel = nullptr; }
    } forget{conn->control};
    // Named first: GCC 12 destroys a temporary made by a conditional inside a co_await expression twice.
    std::string remote = ec ? std::string() : peer.address().to_string();
    try {
      co_await serve_connection(stream, std::move(remote), st->handler, st->opts, &conn->control);
    } catch (...) {
      // serve_connection reports its errors on the traces; nothing else may escape a detached task.
    }
    bool last = false;
    {
      std::lock_guard lk(st->mutex);
      st->open.remove(conn);
      last = st->stopping && st->open.empty();
    }
    if (last) asio::post(st->acceptor_strand, [st] { st->drained.cancel(); });
  }

  static asio::awaitable<std::size_t> stop(std::shared_ptr<state> st,
                                           std::chrono::steady_clock::duration drain) {
    if (st->stop_started) {  // another stop is in progress or done: its result
      while (!st->stop_finished)
        co_await st->stop_done.async_wait(asio::as_tuple(asio::use_awaitable));
      co_return st->forced_result;
    }
    st->stop_started = true;
    st->stop_done.expires_at(std::chrono::steady_clock::time_point::max());  // waiters wake on cancel()
    const std::size_t forced = co_await drain_connections(st, drain);
    st->forced_result = forced;
    st->stop_finished = true;
    st->stop_done.cancel();
    co_return forced;
  }

  static asio::awaitable<std::size_t> drain_connections(std::shared_ptr<state> st,
                                                        std::chrono::steady_clock::duration drain) {
    std::list<std::shared_ptr<connection>> open;
    {
      std::lock_guard lk(st->mutex);
      st->stopping = true;
      open = st->open;
    }
    boost::system::error_code ignored;
    st->acceptor.close(ignored);
    // Ask every connection (on its strand) to end after its current request; idle ones end now.
    for (auto& c : open)
      asio::post(c->strand, [c] {
        c->control.stopping = true;
        if (c->control.idle && c->control.cancel) c->control.cancel();
      });
    std::size_t forced = 0;
    if (!open.empty()) {
      st->drained.expires_after(drain);
      co_await st->drained.async_wait(asio::as_tuple(asio::use_awaitable));
      {
        std::lock_guard lk(st->mutex);
        open = st->open;
      }
      forced = open.size();
      for (auto& c : open)
        asio::post(c->strand, [c] {
          c->cancel.emit(asio::cancellation_type::terminal);  // the handler's pending operation too
          if (c->control.cancel) c->control.cancel();
        });
      // Closed sockets end their sessions promptly; wait for them so their traces are finished before we
      // complete (and before the caller flushes).
      for (int i = 0; i < 200; ++i) {
        {
          std::lock_guard lk(st->mutex);
          if (st->open.empty()) break;
        }
        st->drained.expires_after(std::chrono::milliseconds(5));
        co_await st->drained.async_wait(asio::as_tuple(asio::use_awaitable));
      }
    }
    co_return forced;
  }

  std::shared_ptr<state> state_;
};

/// What a graceful shutdown did.
struct shutdown_report {
  int signal = 0;          ///< the signal that started it (0 when started without one)
  std::size_t forced = 0;  ///< connections closed by force at the drain deadline
  flush_result flush{};    ///< the final flush of the global tracer
};

/// Timing of a graceful shutdown.
struct shutdown_options {
  /// How long requests in progress may take to finish.
  std::chrono::steady_clock::duration drain = std::chrono::seconds(10);
  /// How long the final flush may take.
  std::chrono::steady_clock::duration flush = std::chrono::seconds(5);
  /// The tracer to flush; null: the global one.
  beeline::tracer* tracer = nullptr;
};

/// Stops `srv` gracefully (`server::async_stop`), then flushes the spans (`co_await beeline::flush`), each
/// with its deadline. When it completes the server holds no work; `io_context::run` returns once the program
/// has nothing else pending.
inline asio::awaitable<shutdown_report> shutdown(server& srv, shutdown_options opts = {}) {
  shutdown_report report;
  report.forced = co_await srv.async_stop(opts.drain);
  if (opts.tracer)
    report.flush = co_await beeline::flush(*opts.tracer, opts.flush);
  else
    report.flush = co_await beeline::flush(opts.flush);
  co_return report;
}

/// `shutdown` for any completion token (a callback, `asio::use_future`, ...): runs it as a task on the
/// server's executor. Completes with `(std::exception_ptr, shutdown_report)`; `srv` must outlive it.
template <class Token>
auto async_shutdown(server& srv, shutdown_options opts, Token&& token) {
  return beeline::spawn(srv.get_executor(), shutdown(srv, opts), std::forward<Token>(token));
}

/// Waits for a signal of `signals` (made before the program announces it is ready, so that an early signal
/// is not lost), then shuts down as `shutdown` does.
inline asio::awaitable<shutdown_report> shutdown_on_signal(server& srv, asio::signal_set& signals,
                                                           shutdown_options opts = {}) {
  const auto [ec, sig] = co_await signals.async_wait(asio::as_tuple(asio::use_awaitable));
  shutdown_report report = co_await shutdown(srv, opts);
  report.signal = ec ? 0 : sig;
  co_return report;
}

/// Waits for SIGINT or SIGTERM, then shuts down as `shutdown` does.
inline asio::awaitable<shutdown_report> shutdown_on_signal(server& srv, shutdown_options opts = {}) {
  asio::signal_set signals(co_await asio::this_coro::executor, SIGINT, SIGTERM);
  co_return co_await shutdown_on_signal(srv, signals, opts);
}

}  // namespace beeline::http
