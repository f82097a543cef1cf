// Tracing Boost.Beast HTTP: one trace per incoming request, a child span per outgoing request.
//
// Server side, `server_span` is the trace of one request: made from the request's header, it continues the
// upstream trace through the tracer's parser hook and names its fields as the Node Beeline's HTTP
// instrumentation does (`request.method`, `request.path`, `response.status_code`, ...). Made inside a task
// (a session spawned with `beeline::spawn`), its root is the current span of that task until it is finished,
// so every span the handler starts is a child. <beeline/asio/http_server.hpp> has the whole session loop and
// a server with graceful shutdown on top of it.
//
// Client side, `send` writes a request and reads the response inside a child span of the current span, and
// adds the propagation hook's headers (`inject`) so the next service continues the trace.
#pragma once

#include <beeline/asio/coro.hpp>
#include <beeline/beeline.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/config.hpp>
#include <boost/system/error_code.hpp>

#include <array>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace beeline::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

/// How incoming requests are traced.
struct server_options {
  /// The tracer requests are traced on; null: the global tracer (nothing is traced before `init`).
  beeline::tracer* tracer = nullptr;
  /// The root span's name (the Node Beeline's express instrumentation says "request").
  std::string span_name = "request";
  /// Whether the connection is TLS (`request.secure`, `request.scheme`).
  bool secure = false;
};

namespace detail {

/// "HTTP/1.1" for Beast's version number 11.
inline std::string http_version(unsigned version) {
  std::string out = "HTTP/";
  out += static_cast<char>('0' + version / 10 % 10);
  out += '.';
  out += static_cast<char>('0' + version % 10);
  return out;
}

inline std::string_view sv(beast::string_view s) noexcept {
  return {s.data(), s.size()};
}

/// The host name of a Host header, without its port (IPv6 literals keep their brackets).
inline std::string_view host_without_port(std::string_view host) noexcept {
  if (!host.empty() && host.front() == '[') {
    const auto end = host.find(']');
    return end == std::string_view::npos ? host : host.substr(0, end + 1);
  }
  const auto colon = host.rfind(':');
  return colon == std::string_view::npos ? host : host.substr(0, colon);
}

/// The port of a Host header (`example.com:8080`, `[::1]:8080`), or `fallback` when it names none or a bad
/// one.
inline std::int64_t port_of_host(std::string_view host, std::int64_t fallback) noexcept {
  const std::size_t bracket = host.rfind(']');
  const std::size_t colon = host.rfind(':');
  if (colon == std::string_view::npos || (bracket != std::string_view::npos && colon < bracket))
    return fallback;
  const std::string_view digits = host.substr(colon + 1);
  if (digits.empty() || digits.size() > 5) return fallback;
  std::int64_t port = 0;
  for (const char c : digits) {
    if (c < '0' || c > '9') return fallback;
    port = port * 10 + (c - '0');
  }
  return port <= 65535 ? port : fallback;
}

/// The value of the first header named `name` (a name Beast knows), or nothing. A walk over the headers in
/// order comparing the names Beast parsed into enums: a message carries a handful, and `find` would spell the
/// name out and search the name tree comparing strings without case, ten times the instructions.
template <class Fields>
std::optional<std::string_view> first_value(const Fields& fields, bhttp::field name) noexcept {
  for (const auto& f : fields)
    if (f.name() == name) return sv(f.value());
  return std::nullopt;
}

/// Adds `error` (the category) and `error_detail` (the message) for a failed operation.
inline void record_error(span& s, const boost::system::error_code& ec) {
  s.add_field("error", ec.category().name());
  s.add_field("error_detail", ec.message());
}

/// The request headers the Beeline records (its `getInstrumentedRequestHeaders`), with their field names.
inline constexpr std::pair<std::string_view, std::string_view> recorded_request_headers[] = {
    {"X-Forwarded-For", "request.header.x_forwarded_for"},
    {"X-Forwarded-Proto", "request.header.x_forwarded_proto"},
    {"X-Forwarded-Port", "request.header.x_forwarded_port"},
    {"User-Agent", "request.header.user_agent"},
    {"Content-Type", "request.header.content_type"},
    {"Accept", "request.header.accept"},
};

/// The header values a server span records, found in one pass over the request's fields (the first of each,
/// as `find` would give): one walk instead of a tree search per name. Slots follow recorded_request_headers,
/// then Host and Content-Length.
struct recorded_values {
  static constexpr std::size_t count = std::size(recorded_request_headers);
  static constexpr std::size_t host = count, content_length = count + 1;
  std::array<std::string_view, count + 2> values{};
  std::array<bool, count + 2> present{};
};

/// The slot of a recorded header by its name in recorded_request_headers.
consteval std::size_t recorded_slot(std::string_view name) {
  for (std::size_t i = 0; i < std::size(recorded_request_headers); ++i)
    if (recorded_request_headers[i].first == name) return i;
  throw "not a recorded header";
}

template <class Fields>
recorded_values find_recorded(const Fields& fields) {
  recorded_values out;
  const auto keep = [&](std::size_t slot, beast::string_view value) {
    if (out.present[slot]) return;
    out.present[slot] = true;
    out.values[slot] = sv(value);
  };
  for (const auto& f : fields) {
    switch (f.name()) {
      case bhttp::field::host:
        keep(recorded_values::host, f.value());
        break;
      case bhttp::field::content_length:
        keep(recorded_values::content_length, f.value());
        break;
      case bhttp::field::user_agent:
        keep(recorded_slot("User-Agent"), f.value());
        break;
      case bhttp::field::content_type:
        keep(recorded_slot("Content-Type"), f.value());
        break;
      case bhttp::field::accept:
        keep(recorded_slot("Accept"), f.value());
        break;
      case bhttp::field::unknown: {  // the X-Forwarded-* names are not among Beast's known fields
        const beast::string_view name = f.name_string();
        if (name.size() < 15 || (name[0] != 'x' && name[0] != 'X')) break;
        for (const std::size_t slot : {recorded_slot("X-Forwarded-For"), recorded_slot("X-Forwarded-Proto"),
                                       recorded_slot("X-Forwarded-Port")}) {
          const std::string_view want = recorded_request_headers[slot].first;
          if (beast::iequals(name, beast::string_view(want.data(), want.size()))) keep(slot, f.value());
        }
        break;
      }
      default:
        break;
    }
  }
  return out;
}

}  // namespace detail

/// The trace of one incoming request. Starts when made (from the request header, so it covers reading the
/// body too) and is finished by `finish()` once the response is sent or, for a request that never completed
/// (the client went away, the write failed, the session was destroyed, the server stopped), by the
/// destructor, marked `request.incomplete`. Inert when no
/// tracer is configured or the sampler drops the trace. Move-only; use it from one task.
class server_span {
 public:
  server_span() = default;

  /// Starts the trace of `req`: continues the upstream trace its headers carry (through the tracer's parser
  /// hook), else starts a new one. `remote_addr` is the peer's address (`request.remote_addr`).
  template <bool IsRequest, class Fields>
  requires IsRequest server_span(const bhttp::header<IsRequest, Fields>& req, std::string_view remote_addr,
                                 const server_options& opts = {}) {
    start(opts, [&](beeline::tracer& t) { return t.parse_trace_context(req); });
    if (!root_) return;
    const std::string_view target = detail::sv(req.target());
    const auto q = target.find('?');
    const detail::recorded_values found = detail::find_recorded(req);
    const std::string version = detail::http_version(req.version());  // outlives the views below
    // Collected first and added in one call: a request's fields are most of what tracing it costs.
    std::array<field, 15 + detail::recorded_values::count> f;
    std::size_t n = 0;
    f[n++] = {"meta.type", "beast"};
    f[n++] = {"meta.package", "boost.beast"};
    f[n++] = {"meta.package_version", BOOST_LIB_VERSION};
    f[n++] = {"span.kind", "server"};
    f[n++] = {"request.method", detail::sv(req.method_string())};
    f[n++] = {"request.path", target.substr(0, q)};
    if (q != std::string_view::npos) f[n++] = {"request.query", target.substr(q + 1)};
    f[n++] = {"request.original_url", target};
    if (found.present[found.host]) {
      f[n++] = {"request.host", detail::host_without_port(found.values[found.host])};
      f[n++] = {"request.port", detail::port_of_host(found.values[found.host], opts.secure ? 443 : 80)};
    }
    f[n++] = {"request.http_version", version};
    f[n++] = {"request.remote_addr", remote_addr};
    f[n++] = {"request.secure", opts.secure};
    f[n++] = {"request.scheme", opts.secure ? "https" : "http"};
    if (found.present[found.content_length])
      f[n++] = {"request.content_length", found.values[found.content_length]};
    for (std::size_t slot = 0; slot < detail::recorded_values::count; ++slot)
      if (found.present[slot]) f[n++] = {detail::recorded_request_headers[slot].second, found.values[slot]};
    root_.add_context(std::span<const field>(f.data(), n));
  }

  /// A trace for a request whose header could not be read (malformed, too large): `error` says why.
  static server_span bad_request(std::string_view remote_addr, const boost::system::error_code& ec,
                                 const server_options& opts = {}) {
    server_span s;
    s.start(opts, [](beeline::tracer&) { return std::optional<trace_context>(); });
    if (!s.root_) return s;
    s.root_.add_field("meta.type", "beast");
    s.root_.add_field("span.kind", "server");
    s.root_.add_field("request.remote_addr", remote_addr);
    s.root_.add_field("request.secure", opts.secure);
    detail::record_error(s.root_, ec);
    s.failed_ = true;
    return s;
  }

  server_span(server_span&& o) noexcept
      : tracer_(std::move(o.tracer_)), root_(std::move(o.root_)), failed_(o.failed_) {}
  server_span& operator=(server_span&& o) noexcept {
    if (this != &o) {
      end(true);
      tracer_ = std::move(o.tracer_);
      root_ = std::move(o.root_);
      failed_ = o.failed_;
    }
    return *this;
  }
  /// A trace not finished by `finish()` ends here, marked `request.incomplete`.
  ~server_span() { end(true); }

  /// The root span (add the handler's own fields here, or with `beeline::add_context` while it is current).
  span& root() noexcept { return root_; }

  /// Records the route the request matched, as the router names it (`/users/:id`): `request.route`, which
  /// the OTLP exporter sends as `http.route` and puts in the span's name (`GET /users/:id`). Setting the
  /// field by hand (`beeline::add_field("request.route", ...)` while the root is current) is the same.
  void set_route(std::string_view route) {
    if (root_) root_.add_field("request.route", route);
  }

  /// Records the response: `response.status_code`, `response.content_length`, and an error status for 5xx
  /// (as OpenTelemetry marks server spans).
  template <bool IsRequest, class Fields>
  requires(!IsRequest) void set_response(const bhttp::header<IsRequest, Fields>& res) {
    if (!root_) return;
    const unsigned status = res.result_int();
    root_.add_field("response.status_code", static_cast<std::int64_t>(status));
    if (const auto len = detail::first_value(res, bhttp::field::content_length))
      root_.add_field("response.content_length", *len);
    if (status >= 500) {
      root_.add_field("status_code", std::int64_t{2});
      root_.add_field("status_message", "HTTP " + std::to_string(status));
    }
  }

  /// Records a failed operation (reading the body, writing the response).
  void fail(const boost::system::error_code& ec) {
    failed_ = true;
    if (root_) detail::record_error(root_, ec);
  }
  /// Records an exception (the handler threw).
  void fail(const std::exception_ptr& e) {
    failed_ = true;
    if (root_) root_.record_exception(e);
  }

  /// Finishes the trace of a request that was answered (the root, and the trace on the current task).
  /// Idempotent.
  void finish() noexcept { end(false); }
  /// Records the response that was sent (`set_response`), then finishes.
  template <bool IsRequest, class Fields>
  requires(!IsRequest) void finish(const bhttp::header<IsRequest, Fields>& res) {
    set_response(res);
    finish();
  }

 private:
  void end(bool incomplete) noexcept {
    if (!root_) return;
    if (incomplete) {
      root_.add_field("request.incomplete", true);
      if (!failed_) {
        root_.add_field("error", "incomplete");
        root_.add_field("error_detail", "the request ended before its response was sent");
      }
    }
    beeline::finish_trace(root_);
    root_ = span();
    tracer_.reset();
  }

  template <class Parse>
  void start(const server_options& opts, Parse parse) {
    beeline::tracer* t = opts.tracer;
    if (!t) {
      tracer_ = beeline::detail::global_tracer_ref();  // kept alive while the trace starts
      t = tracer_.get();
    }
    if (!t) return;
    if (const std::optional<trace_context> upstream = parse(*t))
      root_ = t->start_trace(opts.span_name, {}, *upstream);
    else
      root_ = t->start_trace(opts.span_name);
  }

  std::shared_ptr<beeline::tracer> tracer_;
  span root_;
  bool failed_ = false;
};

/// Adds the headers that carry the current span to the next service (through the propagation hook of the
/// tracer the current trace belongs to); replaces headers of the same name. Nothing outside a trace.
template <bool IsRequest, class Fields>
void inject(bhttp::header<IsRequest, Fields>& req) {
  for (const auto& [name, value] : beeline::propagation_headers())
    req.set(beast::string_view(name.data(), name.size()), beast::string_view(value.data(), value.size()));
}

/// How outgoing requests are traced. Trivially destructible on purpose: GCC 12 destroys a temporary with a
/// destructor twice when it is made inside a `co_await` expression (a default argument, a braced struct).
struct client_options {
  /// The URL scheme recorded in `url` and `meta.type` ("https" for a TLS stream); read during the call only.
  std::string_view scheme = "http";
};

namespace detail {

template <class ResponseBody, class Stream, class Body, class Fields>
asio::awaitable<bhttp::response<ResponseBody>> client_exchange(span& s, Stream& stream,
                                                               bhttp::request<Body, Fields>& req,
                                                               beast::flat_buffer& buffer) {
  co_await bhttp::async_write(stream, req, asio::use_awaitable);
  bhttp::response_parser<ResponseBody> parser;
  parser.skip(req.method() == bhttp::verb::head);  // a HEAD response announces a body it does not carry
  co_await bhttp::async_read(stream, buffer, parser, asio::use_awaitable);
  bhttp::response<ResponseBody> res = parser.release();
  const unsigned status = res.result_int();
  s.add_field("response.status_code", static_cast<std::int64_t>(status));
  s.add_field("response.http_version", http_version(res.version()).substr(5));
  if (const auto v = first_value(res, bhttp::field::content_length))
    s.add_field("response.content_length", *v);
  if (const auto v = first_value(res, bhttp::field::content_type)) s.add_field("response.content_type", *v);
  if (const auto v = first_value(res, bhttp::field::content_encoding))
    s.add_field("response.content_encoding", *v);
  if (status >= 400) {  // OpenTelemetry: a client span is an error for 4xx and 5xx
    s.add_field("status_code", std::int64_t{2});
    s.add_field("status_message", "HTTP " + std::to_string(status));
  }
  co_return res;
}

}  // namespace detail

/// Sends `req` over `stream` (a connected `beast::tcp_stream`, an `ssl_stream`, anything Beast can write to)
/// and reads the response, in a child span of the current span named after the method, with `url`,
/// `response.status_code` and the other fields of the Node Beeline's http instrumentation. The request gets
/// the propagation headers of that span. A failure or cancellation is recorded on the span and passed
/// through. Outside a trace the request is sent untraced. `stream`, `req` and `buffer` must outlive the
/// await; await the result right away.
template <class ResponseBody = bhttp::string_body, class Stream, class Body, class Fields>
asio::awaitable<bhttp::response<ResponseBody>> send(Stream& stream, bhttp::request<Body, Fields>& req,
                                                    beast::flat_buffer& buffer,
                                                    const client_options& opts = {}) {
  span s = beeline::start_span(detail::sv(req.method_string()));
  if (s) {
    const std::string_view target = detail::sv(req.target());
    std::string url;
    if (target.starts_with("http://") || target.starts_with("https://")) {  // absolute form (a proxy request)
      url = target;
    } else {
      url = opts.scheme;
      url += "://";
      if (const auto host = detail::first_value(req, bhttp::field::host))
        url += *host;
      else
        url += "localhost";
      url += target;
    }
    // The server the request goes to: the URL's authority (absolute form) or the Host header.
    std::string_view authority;
    std::string_view scheme = opts.scheme;
    if (const auto slashes = target.find("://"); slashes != std::string_view::npos) {
      scheme = target.substr(0, slashes);
      authority = target.substr(slashes + 3);
      authority = authority.substr(0, authority.find_first_of("/?#"));
    } else if (const auto host = detail::first_value(req, bhttp::field::host)) {
      authority = *host;
    }
    s.add_field("meta.type", opts.scheme);  // the Node Beeline: "http" or "https"
    s.add_field("span.kind", "client");
    s.add_field("request.method", detail::sv(req.method_string()));
    s.add_field("url", std::move(url));
    if (!authority.empty()) {
      s.add_field("request.host", detail::host_without_port(authority));
      s.add_field("request.port", detail::port_of_host(authority, scheme == "https" ? 443 : 80));
    }
    if (const auto ua = detail::first_value(req, bhttp::field::user_agent))
      s.add_field("request.header.user_agent", *ua);
  }
  inject(req);  // `s` is current: the next service's root is its child
  return beeline::detail::run_in_span(std::move(s), [&stream, &req, &buffer](span& sp) {
    return detail::client_exchange<ResponseBody>(sp, stream, req, buffer);
  });
}

namespace detail {
// `send` with its options held by this frame, for a task that may start after the caller's statement ended.
template <class ResponseBody, class Stream, class Body, class Fields>
asio::awaitable<bhttp::response<ResponseBody>> send_task(Stream& stream, bhttp::request<Body, Fields>& req,
                                                         beast::flat_buffer& buffer, client_options opts) {
  co_return co_await send<ResponseBody>(stream, req, buffer, opts);
}
}  // namespace detail

/// `send` for any completion token (a callback, `asio::use_future`, `asio::deferred`, ...): runs it as a
/// task on the stream's executor (`beeline::spawn`), so the client span is a child of the span current at
/// this call. Completes with `(std::exception_ptr, bhttp::response<ResponseBody>)`. `stream`, `req` and
/// `buffer` must outlive the operation.
template <class ResponseBody = bhttp::string_body, class Stream, class Body, class Fields, class Token>
auto async_send(Stream& stream, bhttp::request<Body, Fields>& req, beast::flat_buffer& buffer,
                client_options opts, Token&& token) {
  return beeline::spawn(stream.get_executor(), detail::send_task<ResponseBody>(stream, req, buffer, opts),
                        std::forward<Token>(token));
}

}  // namespace beeline::http
