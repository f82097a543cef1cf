// The HTTP/1.1 client under the network exporters: Boost.Beast over Asio C++20 coroutines, on a thread of its
// own. Each request is one coroutine: take an idle keep-alive connection or open one (resolve, connect, TLS
// handshake with SNI and host name verification), write, read the status and headers, then a body of bounded
// size; retry as OTLP prescribes. This is the only translation unit that includes Asio or Beast.
#include "export/http_client.hpp"

#include "core/thread_name.hpp"
#include "export/gzip.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/version.hpp>

#include <netdb.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <mutex>
#include <random>
#include <set>
#include <thread>

namespace beeline::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using asio::awaitable;
using tcp = asio::ip::tcp;

namespace {

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

// Whether `ec` is the error `want`, by category name and value. Comparing error codes compares their category
// objects, and a program that also links a separately compiled Asio or Beast has two of each (this file's,
// inline, and the compiled one's): an end of file from the compiled socket code would not equal this file's
// eof.
template <class Enum>
bool is(const boost::system::error_code& ec, Enum want) noexcept {
  const boost::system::error_code w = make_error_code(want);
  return ec.value() == w.value() && std::strcmp(ec.category().name(), w.category().name()) == 0;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// `Retry-After`: delay-seconds or an HTTP-date. nullopt if absent or unreadable.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view v) {
  while (!v.empty() && v.front() == ' ')
    v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ')
    v.remove_suffix(1);
  if (v.empty()) return std::nullopt;
  if (v.find_first_not_of("0123456789") == std::string_view::npos) {
    if (v.size() > 9) return std::chrono::hours(24 * 365);  // absurd: longer than any budget
    return std::chrono::seconds(std::stol(std::string(v)));
  }
  std::tm tm{};
  const std::string s(v);
  if (!strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm)) return std::nullopt;
  const std::time_t at = timegm(&tm);
  const std::time_t now = std::time(nullptr);
  return std::chrono::seconds(at > now ? at - now : 0);
}

// The start of a response body for a log line: at most 200 bytes (cut at a UTF-8 boundary), control
// characters as spaces, trimmed.
std::string body_start(std::string_view body) {
  std::size_t n = std::min<std::size_t>(body.size(), 200);
  if (n < body.size())
    while (n > 0 && (static_cast<unsigned char>(body[n]) & 0xC0) == 0x80)
      --n;
  std::string out(body.substr(0, n));
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = ' ';
  const std::size_t first = out.find_first_not_of(' ');
  if (first == std::string::npos) return {};
  out.erase(out.find_last_not_of(' ') + 1);
  out.erase(0, first);
  if (n < body.size()) out += "...";
  return out;
}

std::mutex test_resolver_mutex;
resolve_function test_resolver;  // guarded by test_resolver_mutex; empty: getaddrinfo

// getaddrinfo with Asio's default flags (addresses of configured families only).
void resolve_with_getaddrinfo(const std::string& host, const std::string& port,
                              std::vector<tcp::endpoint>& out, std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  addrinfo* list = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &list);
  if (rc != 0) {
    error = rc == EAI_SYSTEM ? std::strerror(errno) : gai_strerror(rc);
    return;
  }
  for (const addrinfo* a = list; a; a = a->ai_next) {
    tcp::endpoint ep;
    if (a->ai_addrlen > ep.capacity()) continue;
    std::memcpy(ep.data(), a->ai_addr, a->ai_addrlen);
    ep.resize(a->ai_addrlen);
    out.push_back(ep);
  }
  ::freeaddrinfo(list);
  if (out.empty()) error = "no addresses";
}

}  // namespace

void set_resolve_function_for_tests(resolve_function f) {
  std::lock_guard lk(test_resolver_mutex);
  test_resolver = std::move(f);
}

std::optional<http_target> parse_http_url(std::string_view url, std::string& error) {
  http_target t;
  const std::size_t colon = url.find("://");
  if (colon == std::string_view::npos) {
    error = "no scheme in URL '" + std::string(url) + "'";
    return std::nullopt;
  }
  const std::string_view scheme = url.substr(0, colon);
  if (iequals(scheme, "https")) {
    t.tls = true;
  } else if (!iequals(scheme, "http")) {
    error = "unsupported scheme in URL '" + std::string(url) + "'";
    return std::nullopt;
  }
  std::string_view rest = url.substr(colon + 3);
  const std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  while (!path.empty() && path.back() == '/')
    path.remove_suffix(1);
  if (authority.find('@') != std::string_view::npos) {
    error = "credentials in URL are not supported";
    return std::nullopt;
  }
  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {  // [IPv6]:port
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      error = "bad IPv6 address in URL '" + std::string(url) + "'";
      return std::nullopt;
    }
    host = authority.substr(1, close - 1);
    if (close + 1 < authority.size() && authority[close + 1] == ':') port = authority.substr(close + 2);
  } else if (const std::size_t c = authority.rfind(':'); c != std::string_view::npos) {
    host = authority.substr(0, c);
    port = authority.substr(c + 1);
  }
  if (host.empty()) {
    error = "no host in URL '" + std::string(url) + "'";
    return std::nullopt;
  }
  if (!port.empty() && (port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos ||
                        std::stoul(std::string(port)) == 0 || std::stoul(std::string(port)) > 65535)) {
    error = "bad port in URL '" + std::string(url) + "'";
    return std::nullopt;
  }
  t.host = host;
  t.port = port.empty() ? (t.tls ? "443" : "80") : std::string(port);
  t.base_path = path;
  return t;
}

class http_client::impl {
 public:
  impl(http_target target, http_options options, std::string user_agent)
      : target_(std::move(target)),
        opt_(std::move(options)),
        user_agent_(std::move(user_agent)),
        ssl_ctx_(ssl::context::tls_client),
        work_(asio::make_work_guard(ioc_)),
        rng_(std::random_device{}()) {
    {
      std::lock_guard lk(test_resolver_mutex);
      resolve_fn_ = test_resolver;
    }
    if (opt_.max_in_flight == 0) opt_.max_in_flight = 1;
    if (opt_.retry.max_attempts < 1) opt_.retry.max_attempts = 1;
    host_header_ = target_.host.find(':') != std::string::npos ? "[" + target_.host + "]" : target_.host;
    if ((target_.tls && target_.port != "443") || (!target_.tls && target_.port != "80"))
      host_header_ += ":" + target_.port;
    if (target_.tls) {
      boost::system::error_code ec;
      ssl_ctx_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                           ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
      if (!opt_.ca_file.empty()) {
        ssl_ctx_.load_verify_file(opt_.ca_file, ec);
        if (ec) setup_error_ = "cannot load CA file " + opt_.ca_file + ": " + ec.message();
      } else {
        ssl_ctx_.set_default_verify_paths(ec);
      }
      ssl_ctx_.set_verify_mode(opt_.verify_peer ? ssl::verify_peer : ssl::verify_none);
    }
    thread_ = std::thread([this] {
      name_this_thread("beeline-http");
      ioc_.run();
    });
  }

  ~impl() {
    shutdown();
    // A host name lookup still running on its thread finds nothing to report to.
    std::lock_guard lk(gate_->mutex);
    gate_->ioc = nullptr;
  }

  void on_retry(std::function<void(const std::string&)> observer) { on_retry_ = std::move(observer); }

  void submit(http_request request, std::function<void(http_outcome)> done) {
    if (opt_.gzip) {  // on the caller's thread (the export worker), before waiting for a slot
      std::string packed;
      if (gzip_compress(request.body, packed)) {
        request.body = std::move(packed);
        request.headers.emplace_back("Content-Encoding", "gzip");
      }
    }
    {
      std::unique_lock lk(mutex_);
      slot_free_.wait(lk, [&] { return in_flight_ < opt_.max_in_flight || stopping_; });
      if (!stopping_) {
        ++in_flight_;
        lk.unlock();
        asio::co_spawn(ioc_, run(std::move(request), std::move(done)), asio::detached);
        return;
      }
    }
    http_outcome out;
    out.error = "exporter shut down";
    done(std::move(out));
  }

  void shutdown() {
    // From the shutting-down thread (interrupt) and then the worker (shutdown): the second waits for the
    // first.
    std::lock_guard once(shutdown_mutex_);
    {
      std::lock_guard lk(mutex_);
      if (stopping_ && !thread_.joinable()) return;
      stopping_ = true;
    }
    slot_free_.notify_all();
    // Interrupt everything in progress; each coroutine then reports "shut down" and ends.
    asio::post(ioc_, [this] {
      for (auto* t : timers_)
        t->cancel();
      for (auto* c : open_)
        close(*c);
      idle_.clear();
      work_.reset();
    });
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
  }

  http_exporter_stats stats() const {
    http_exporter_stats s;
    s.requests = requests_.load(std::memory_order_relaxed);
    s.retries = retries_.load(std::memory_order_relaxed);
    s.connections = connections_.load(std::memory_order_relaxed);
    s.connect_failures = connect_failures_.load(std::memory_order_relaxed);
    s.timeouts = timeouts_.load(std::memory_order_relaxed);
    s.transport_errors = transport_errors_.load(std::memory_order_relaxed);
    s.status_2xx = status_2xx_.load(std::memory_order_relaxed);
    s.status_429 = status_429_.load(std::memory_order_relaxed);
    s.status_4xx = status_4xx_.load(std::memory_order_relaxed);
    s.status_5xx = status_5xx_.load(std::memory_order_relaxed);
    s.bad_responses = bad_responses_.load(std::memory_order_relaxed);
    s.bytes_sent = bytes_sent_.load(std::memory_order_relaxed);
    return s;
  }

 private:
  struct connection {
    std::unique_ptr<beast::tcp_stream> plain;
    std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls;
    std::set<connection*>* registry = nullptr;  // the client's open connections, left on destruction
    beast::tcp_stream& lowest() { return plain ? *plain : beast::get_lowest_layer(*tls); }
    ~connection() {
      if (registry) registry->erase(this);
    }
  };
  using connection_ptr = std::unique_ptr<connection>;

  // The result of one attempt.
  struct attempt {
    enum class kind { response, connect_failed, failed_before_response } what = kind::failed_before_response;
    int status = 0;
    std::string body;
    bool body_complete = false;
    std::optional<std::chrono::milliseconds> retry_after;
    std::string error;
    bool on_reused_connection = false;
    bool keep_alive = false;
    bool stale = false;  // failed the way a kept-alive connection the server closed fails (EOF, reset)
  };

  static void close(connection& c) {
    boost::system::error_code ec;
    c.lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    c.lowest().socket().close(ec);
  }

  void count_error(const boost::system::error_code& ec) {
    if (is(ec, beast::error::timeout))
      timeouts_.fetch_add(1, std::memory_order_relaxed);
    else
      transport_errors_.fetch_add(1, std::memory_order_relaxed);
  }

  // A host name lookup, shared by the connects waiting for it (client thread only). getaddrinfo cannot be
  // interrupted, and Asio's resolver waits for it even when cancelled (its io_context too, when destroyed):
  // the lookup runs on a thread of its own instead, and whoever stops waiting (a timeout, shutdown) just
  // leaves.
  struct resolution {
    bool done = false;
    std::vector<tcp::endpoint> endpoints;
    std::string error;
    std::set<asio::steady_timer*> waiters;  // woken (cancelled) when done
  };
  // Where a lookup thread posts its result; cleared before the io_context goes.
  struct resolve_gate {
    std::mutex mutex;
    asio::io_context* ioc = nullptr;  // guarded by mutex
  };

  // Starts looking up the target's host on a thread of its own.
  std::shared_ptr<resolution> start_resolution() {
    auto r = std::make_shared<resolution>();
    auto finish = [r, gate = gate_](std::vector<tcp::endpoint> endpoints, std::string error) {
      std::lock_guard lk(gate->mutex);
      if (!gate->ioc) return;  // the client is gone
      asio::post(*gate->ioc, [r, endpoints = std::move(endpoints), error = std::move(error)]() mutable {
        r->done = true;
        r->endpoints = std::move(endpoints);
        r->error = std::move(error);
        for (auto* t : r->waiters)
          t->cancel();
      });
    };
    try {
      std::thread([host = target_.host, port = target_.port, fn = resolve_fn_, finish]() mutable {
        std::vector<tcp::endpoint> endpoints;
        std::string error;
        try {
          if (fn) {
            resolved_host h = fn(host);
            error = std::move(h.error);
            const auto port_number = static_cast<unsigned short>(std::stoul(port));
            for (const std::string& a : h.addresses) {
              boost::system::error_code ec;
              const auto address = asio::ip::make_address(a, ec);
              if (!ec) endpoints.emplace_back(address, port_number);
            }
            if (endpoints.empty() && error.empty()) error = "no addresses";
          } else {
            resolve_with_getaddrinfo(host, port, endpoints, error);
          }
        } catch (const std::exception& e) {
          error = e.what();
        }
        finish(std::move(endpoints), std::move(error));
      }).detach();
    } catch (const std::exception& e) {  // no thread to be had
      r->done = true;
      r->error = std::string("cannot start a lookup: ") + e.what();
    }
    resolving_ = r;
    return r;
  }

  // The target's addresses, within connect_timeout; empty with `error` set if not.
  awaitable<std::vector<tcp::endpoint>> resolve(std::string& error) {
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(target_.host, ec);
    if (!ec)
      co_return std::vector<tcp::endpoint>{
          tcp::endpoint(address, static_cast<unsigned short>(std::stoul(target_.port)))};
    auto r = resolving_ && !resolving_->done ? resolving_ : start_resolution();
    asio::steady_timer wait(co_await asio::this_coro::executor, opt_.connect_timeout);
    r->waiters.insert(&wait);
    timers_.insert(&wait);
    bool expired = false;
    while (!r->done && !stopping()) {
      auto [wec] = co_await wait.async_wait(nothrow);
      if (!wec) {
        expired = true;
        break;
      }
    }
    r->waiters.erase(&wait);
    timers_.erase(&wait);
    if (stopping()) {
      error = "resolve " + target_.host + ": interrupted by shutdown";
    } else if (!r->done || expired) {
      error = "resolve " + target_.host + ": timed out";
    } else if (!r->error.empty()) {
      error = "resolve " + target_.host + ": " + r->error;
    } else {
      co_return r->endpoints;
    }
    co_return std::vector<tcp::endpoint>{};
  }

  awaitable<connection_ptr> connect(std::string& error) {
    auto ex = co_await asio::this_coro::executor;
    const std::vector<tcp::endpoint> endpoints = co_await resolve(error);
    if (endpoints.empty()) co_return nullptr;
    auto c = std::make_unique<connection>();
    if (target_.tls) {
      c->tls = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(ex, ssl_ctx_);
    } else {
      c->plain = std::make_unique<beast::tcp_stream>(ex);
    }
    open_.insert(c.get());
    c->registry = &open_;
    c->lowest().expires_after(opt_.connect_timeout);
    auto [cec, ep] = co_await c->lowest().async_connect(endpoints, nothrow);
    if (!cec && stopping()) cec = asio::error::operation_aborted;
    if (cec) {
      error = (is(cec, beast::error::timeout) ? "connect timed out: " : "connect: ") + cec.message();
      forget(*c);
      co_return nullptr;
    }
    c->lowest().socket().set_option(tcp::no_delay(true));
    if (c->tls) {
      if (!SSL_set_tlsext_host_name(c->tls->native_handle(), target_.host.c_str())) {
        error = "TLS: cannot set SNI";
        forget(*c);
        co_return nullptr;
      }
      if (opt_.verify_peer) c->tls->set_verify_callback(ssl::host_name_verification(target_.host));
      auto [hec] = co_await c->tls->async_handshake(ssl::stream_base::client, nothrow);
      if (hec) {
        error = "TLS handshake: " + hec.message();
        forget(*c);
        co_return nullptr;
      }
    }
    connections_.fetch_add(1, std::memory_order_relaxed);
    co_return c;
  }

  void forget(connection& c) { close(c); }

  template <class Stream>
  awaitable<void> exchange(Stream& stream, connection& c, const http_request& r, attempt& a) {
    http::request<http::string_body> req{http::verb::post, target_.base_path + r.path, 11};
    req.set(http::field::host, host_header_);
    req.set(http::field::user_agent, user_agent_);
    for (const auto& [name, value] : opt_.headers)
      req.set(name, value);
    for (const auto& [name, value] : r.headers)
      req.set(name, value);
    req.keep_alive(true);
    req.body() = r.body;
    req.prepare_payload();
    c.lowest().expires_after(opt_.request_timeout);
    auto [wec, written] = co_await http::async_write(stream, req, nothrow);
    if (wec) {
      a.error = "write: " + wec.message();
      a.stale = !is(wec, beast::error::timeout);
      count_error(wec);
      co_return;
    }
    bytes_sent_.fetch_add(r.body.size(), std::memory_order_relaxed);
    const std::size_t max_body = r.max_response_bytes ? r.max_response_bytes : opt_.max_response_bytes;
    beast::flat_buffer buffer(16 * 1024 + max_body);
    http::response_parser<http::string_body> parser;
    parser.header_limit(16 * 1024);
    // No body limit yet: Beast would check a Content-Length against it while reading the header and fail
    // before we learn the status.
    parser.body_limit(boost::none);
    auto [hec, hn] = co_await http::async_read_header(stream, buffer, parser, nothrow);
    if (hec) {
      a.error = "reading the response: " + hec.message();
      a.stale = is(hec, http::error::end_of_stream) || is(hec, asio::error::eof) ||
                is(hec, asio::error::connection_reset) || is(hec, asio::error::broken_pipe);
      count_error(hec);
      co_return;
    }
    a.what = attempt::kind::response;
    a.status = static_cast<int>(parser.get().result_int());
    if (const auto it = parser.get().find(http::field::retry_after); it != parser.get().end())
      a.retry_after = parse_retry_after(std::string_view(it->value().data(), it->value().size()));
    if (const auto length = parser.content_length(); length && *length > max_body) {
      a.error = "response body of " + std::to_string(*length) + " bytes, over the limit of " +
                std::to_string(max_body) + " (not read)";
      bad_responses_.fetch_add(1, std::memory_order_relaxed);
      co_return;  // not read; the connection is closed
    }
    parser.body_limit(max_body);
    auto [bec, bn] = co_await http::async_read(stream, buffer, parser, nothrow);
    if (bec) {
      a.error = "reading the response body: " + bec.message();
      if (is(bec, http::error::body_limit)) {
        a.error = "response body over the limit of " + std::to_string(max_body) + " bytes (not read)";
      } else {
        count_error(bec);
      }
      bad_responses_.fetch_add(1, std::memory_order_relaxed);
      co_return;
    }
    a.body = std::move(parser.get().body());
    a.body_complete = true;
    a.keep_alive = parser.get().keep_alive();
  }

  awaitable<attempt> attempt_once(const http_request& r) {
    attempt a;
    connection_ptr c;
    if (!idle_.empty()) {
      c = std::move(idle_.back());
      idle_.pop_back();
      a.on_reused_connection = true;
    } else {
      std::string error;
      c = co_await connect(error);
      if (!c) {
        connect_failures_.fetch_add(1, std::memory_order_relaxed);
        a.what = attempt::kind::connect_failed;
        a.error = error;
        co_return a;
      }
    }
    if (c->tls) {
      co_await exchange(*c->tls, *c, r, a);
    } else {
      co_await exchange(*c->plain, *c, r, a);
    }
    if (a.what == attempt::kind::response && a.body_complete && a.keep_alive && !stopping()) {
      idle_.push_back(std::move(c));
    } else {
      forget(*c);
    }
    co_return a;
  }

  bool stopping() {
    std::lock_guard lk(mutex_);
    return stopping_;
  }

  std::chrono::milliseconds backoff(int attempt_number) {
    auto d = opt_.retry.initial_backoff;
    for (int i = 1; i < attempt_number && d < opt_.retry.max_backoff; ++i)
      d *= 2;
    d = std::min(d, opt_.retry.max_backoff);
    // Full jitter on the upper half: between d/2 and d, so clients that failed together spread out.
    std::uniform_int_distribution<std::int64_t> jitter(d.count() / 2, std::max<std::int64_t>(d.count(), 1));
    return std::chrono::milliseconds(jitter(rng_));
  }

  void count_status(int status) {
    if (status >= 200 && status < 300)
      status_2xx_.fetch_add(1, std::memory_order_relaxed);
    else if (status == 429)
      status_429_.fetch_add(1, std::memory_order_relaxed);
    else if (status >= 500)
      status_5xx_.fetch_add(1, std::memory_order_relaxed);
    else if (status >= 400)
      status_4xx_.fetch_add(1, std::memory_order_relaxed);
  }

  awaitable<void> run(http_request r, std::function<void(http_outcome)> done) {
    http_outcome out;
    try {
      co_await attempts(r, out);
    } catch (const std::exception& e) {  // Beast throws for some bad input (a header over 64 KiB, say)
      out = http_outcome{};
      out.error = std::string("request failed: ") + e.what();
    } catch (...) {
      out = http_outcome{};
      out.error = "request failed";
    }
    try {
      done(std::move(out));
    } catch (...) {
    }
    {
      std::lock_guard lk(mutex_);
      --in_flight_;
    }
    slot_free_.notify_one();
  }

  // Sends `r`, retrying as the options say; the outcome goes into `out`. A shutdown that cuts the retries
  // short reports the last real failure, not the shutdown.
  awaitable<void> attempts(const http_request& r, http_outcome& out) {
    const auto start = std::chrono::steady_clock::now();
    bool fresh_retry_used = false;
    std::string last_error;  // of the last attempt that failed
    const auto cut_short = [&](std::string_view when) {
      out.error = last_error.empty() ? "exporter shut down " + std::string(when)
                                     : last_error + " (then shut down " + std::string(when) + ")";
    };
    for (int n = 1;; ++n) {
      if (!setup_error_.empty()) {
        out.error = setup_error_;
        break;
      }
      if (stopping()) {  // started, or resumed, after shutdown began
        cut_short(n == 1 ? "before the request was sent" : "before the next attempt");
        break;
      }
      attempt a = co_await attempt_once(r);
      requests_.fetch_add(1, std::memory_order_relaxed);
      if (a.what == attempt::kind::response) count_status(a.status);
      if (stopping() && !(a.what == attempt::kind::response && a.status >= 200 && a.status < 300)) {
        if (a.what == attempt::kind::response) last_error = status_error(a);
        out.status = a.status;
        cut_short("before the backend answered");
        break;
      }
      if (a.what == attempt::kind::response) {
        out.status = a.status;
        if (a.status >= 200 && a.status < 300) {
          // Delivered once the status says so, even if the body then failed: resending would duplicate.
          out.delivered = true;
          out.body = std::move(a.body);
          out.body_complete = a.body_complete;
          out.error = std::move(a.error);
          break;
        }
        out.error = status_error(a);
        const bool retryable = a.status == 429 || a.status == 502 || a.status == 503 || a.status == 504;
        if (!retryable) break;
      } else {
        out.error = std::move(a.error);
        // A kept-alive connection the server had closed: not the backend's fault; try once on a new one.
        if (a.on_reused_connection && a.stale && !fresh_retry_used) {
          fresh_retry_used = true;
          --n;
          continue;
        }
      }
      last_error = out.error;
      if (n >= opt_.retry.max_attempts) {
        out.error += " (gave up after " + std::to_string(n) + " attempts)";
        break;
      }
      std::chrono::milliseconds wait = backoff(n);
      if (a.retry_after) {
        if (*a.retry_after > opt_.retry.max_retry_after) {
          out.error += " (Retry-After beyond the retry budget)";
          break;
        }
        wait = std::max(wait, *a.retry_after);
      }
      if (std::chrono::steady_clock::now() + wait - start > opt_.retry.max_elapsed) {
        out.error += " (retry budget spent)";
        break;
      }
      if (on_retry_) {
        try {
          on_retry_(last_error);
        } catch (...) {
        }
      }
      asio::steady_timer timer(co_await asio::this_coro::executor, wait);
      timers_.insert(&timer);
      co_await timer.async_wait(nothrow);
      timers_.erase(&timer);
      if (stopping()) {
        cut_short("before retrying");
        break;
      }
      retries_.fetch_add(1, std::memory_order_relaxed);
    }
  }

  // "HTTP 503: <the start of the body>".
  static std::string status_error(const attempt& a) {
    std::string e = "HTTP " + std::to_string(a.status);
    if (const std::string start = body_start(a.body); !start.empty()) e += ": " + start;
    return e;
  }

  http_target target_;
  http_options opt_;
  std::string user_agent_;
  std::string host_header_;
  std::string setup_error_;
  asio::io_context ioc_{1};
  ssl::context ssl_ctx_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::mt19937_64 rng_;
  std::thread thread_;

  // Client thread only.
  std::vector<connection_ptr> idle_;
  std::set<connection*> open_;
  std::set<asio::steady_timer*> timers_;
  std::shared_ptr<resolution> resolving_;
  std::function<void(const std::string&)> on_retry_;  // set before the first request

  resolve_function resolve_fn_;  // empty: getaddrinfo
  std::shared_ptr<resolve_gate> gate_ = [this] {
    auto g = std::make_shared<resolve_gate>();
    g->ioc = &ioc_;
    return g;
  }();

  std::mutex shutdown_mutex_;
  std::mutex mutex_;
  std::condition_variable slot_free_;
  std::size_t in_flight_ = 0;  // guarded by mutex_
  bool stopping_ = false;      // guarded by mutex_

  std::atomic<std::uint64_t> requests_{0}, retries_{0}, connections_{0}, connect_failures_{0}, timeouts_{0},
      transport_errors_{0}, status_2xx_{0}, status_429_{0}, status_4xx_{0}, status_5xx_{0}, bad_responses_{0},
      bytes_sent_{0};
};

http_client::http_client(http_target target, http_options options, std::string user_agent)
    : impl_(std::make_unique<impl>(std::move(target), std::move(options), std::move(user_agent))) {}

http_client::~http_client() = default;

void http_client::submit(http_request request, std::function<void(http_outcome)> done) {
  impl_->submit(std::move(request), std::move(done));
}

void http_client::shutdown() {
  impl_->shutdown();
}

void http_client::on_retry(std::function<void(const std::string&)> observer) {
  impl_->on_retry(std::move(observer));
}

http_exporter_stats http_client::stats() const {
  return impl_->stats();
}

}  // namespace beeline::detail
