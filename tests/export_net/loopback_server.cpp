// The loopback server: Boost.Beast over Asio C++20 coroutines on one thread. Each connection is a coroutine
// that reads a request, records it, asks the behaviour what to do and does it. Connections that must stay
// silent wait for the client to close; `stop` closes everything, so no coroutine outlives the server.
#include "export_net/loopback_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <simdjson.h>
#include <zlib.h>

#include <atomic>
#include <cctype>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>

namespace beeline::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using asio::awaitable;
using tcp = asio::ip::tcp;

namespace {

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

std::string statuses_body(std::size_t n, const std::function<bool(std::size_t)>& refused,
                          std::string_view error) {
  std::string out = "[";
  for (std::size_t i = 0; i < n; ++i) {
    if (i) out += ',';
    if (refused && refused(i)) {
      out += "{\"status\":400,\"error\":\"";
      out += error;
      out += "\"}";
    } else {
      out += "{\"status\":202}";
    }
  }
  out += ']';
  return out;
}

// The status line and headers of a response whose body will not (all) come.
std::string head_only(std::size_t content_length) {
  return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(content_length) + "\r\n\r\n";
}

}  // namespace

std::string recorded_request::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return v;
  return {};
}

std::size_t recorded_request::header_count(std::string_view name) const {
  std::size_t n = 0;
  for (const auto& [k, v] : headers)
    n += iequals(k, name);
  return n;
}

std::size_t json_array_size(std::string_view body) {
  simdjson::dom::parser parser;
  simdjson::dom::array arr;
  if (parser.parse(simdjson::padded_string(body)).get_array().get(arr) != simdjson::SUCCESS) return 0;
  return arr.size();
}

reply reply::honeycomb_ok(const recorded_request& r) {
  return honeycomb_statuses(r, nullptr, "");
}

reply reply::honeycomb_statuses(const recorded_request& r, const std::function<bool(std::size_t)>& refused,
                                std::string_view error) {
  reply out;
  out.headers = {{"Content-Type", "application/json"}};
  out.body = statuses_body(json_array_size(r.body), refused, error);
  return out;
}

reply reply::with_status(int status, std::string body) {
  reply out;
  out.status = status;
  out.body = std::move(body);
  out.headers = {{"Content-Type", "text/plain"}};
  return out;
}

reply reply::too_many_requests(std::string retry_after) {
  reply out = with_status(429, "slow down");
  out.headers.emplace_back("Retry-After", std::move(retry_after));
  return out;
}

reply reply::garbage() {
  reply out;
  out.headers = {{"Content-Type", "application/json"}};
  out.body = "<html>this is not {json";
  return out;
}

reply reply::endless(std::size_t content_length, std::size_t partial) {
  reply out;
  out.what = action::endless_body;
  out.content_length = content_length;
  out.partial = partial;
  return out;
}

reply reply::never() {
  reply out;
  out.what = action::never_answer;
  return out;
}

reply reply::reset_mid(std::size_t content_length, std::size_t partial) {
  reply out;
  out.what = action::reset_mid_response;
  out.content_length = content_length;
  out.partial = partial;
  return out;
}

reply reply::reset_now() {
  reply out;
  out.what = action::reset_at_once;
  return out;
}

reply reply::huge(std::size_t bytes) {
  reply out;
  out.headers = {{"Content-Type", "application/json"}};
  out.body.assign(bytes, ' ');
  out.body.front() = '[';
  out.body.back() = ']';
  return out;
}

class loopback_server::impl {
 public:
  impl(std::optional<tls_files> tls, behaviour b)
      : behaviour_(std::move(b)), tls_(tls.has_value()), ssl_ctx_(ssl::context::tls_server) {
    if (tls) {
      ssl_ctx_.use_certificate_chain_file(tls->cert_file);
      ssl_ctx_.use_private_key_file(tls->key_file, ssl::context::pem);
    }
    acceptor_.open(tcp::v4());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(ioc_, accept_loop(), asio::detached);
    thread_ = std::thread([this] { ioc_.run(); });
  }

  ~impl() { stop(); }

  void stop() {
    {
      std::lock_guard lk(mutex_);
      if (stopped_) return;
      stopped_ = true;
    }
    asio::post(ioc_, [this] {
      boost::system::error_code ec;
      closing_ = true;
      acceptor_.close(ec);
      for (auto* s : open_) {
        s->socket().shutdown(tcp::socket::shutdown_both, ec);
        s->socket().close(ec);
      }
    });
    if (thread_.joinable()) thread_.join();
  }

  std::uint16_t port() const { return port_; }
  bool tls() const { return tls_; }

  void set_behaviour(behaviour b) {
    std::lock_guard lk(mutex_);
    behaviour_ = std::move(b);
  }

  void set_silent(bool silent) { silent_ = silent; }

  std::vector<recorded_request> requests() const {
    std::lock_guard lk(mutex_);
    return requests_;
  }
  std::size_t request_count() const {
    std::lock_guard lk(mutex_);
    return requests_.size();
  }
  std::size_t connections() const {
    std::lock_guard lk(mutex_);
    return connections_;
  }
  std::size_t handshake_failures() const {
    std::lock_guard lk(mutex_);
    return handshake_failures_;
  }
  bool wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const {
    std::unique_lock lk(mutex_);
    return arrived_.wait_for(lk, timeout, [&] { return requests_.size() >= n; });
  }

 private:
  awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(nothrow);
      if (ec) {
        if (!acceptor_.is_open()) co_return;
        continue;
      }
      std::size_t id;
      {
        std::lock_guard lk(mutex_);
        id = ++connections_;
      }
      asio::co_spawn(ioc_, session(std::move(socket), id), asio::detached);
    }
  }

  awaitable<void> session(tcp::socket socket, std::size_t id) {
    if (closing_) co_return;  // accepted just as the server stopped
    if (silent_) {
      beast::tcp_stream stream(std::move(socket));
      open_.insert(&stream);
      co_await wait_for_close(stream);
      open_.erase(&stream);
      co_return;
    }
    if (tls_) {
      beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), ssl_ctx_);
      auto& lowest = beast::get_lowest_layer(stream);
      open_.insert(&lowest);
      auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, nothrow);
      if (ec) {
        std::lock_guard lk(mutex_);
        ++handshake_failures_;
      } else {
        co_await serve(stream, lowest, id);
      }
      open_.erase(&lowest);
    } else {
      beast::tcp_stream stream(std::move(socket));
      open_.insert(&stream);
      co_await serve(stream, stream, id);
      open_.erase(&stream);
    }
  }

  // Reads until the peer closes (or the server stops): a connection that never answers.
  template <class Stream>
  static awaitable<void> wait_for_close(Stream& stream) {
    char sink[4096];
    for (;;) {
      auto [ec, n] = co_await stream.async_read_some(asio::buffer(sink), nothrow);
      if (ec) co_return;
    }
  }

  static void reset(beast::tcp_stream& lowest) {
    boost::system::error_code ec;
    lowest.socket().set_option(asio::socket_base::linger(true, 0), ec);
    lowest.socket().close(ec);
  }

  template <class Stream>
  awaitable<void> serve(Stream& stream, beast::tcp_stream& lowest, std::size_t id) {
    beast::flat_buffer buffer;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(64 * 1024 * 1024);
      auto [ec, n] = co_await http::async_read(stream, buffer, parser, nothrow);
      if (ec) co_return;
      const http::request<http::string_body>& req = parser.get();
      recorded_request r;
      r.method = std::string(req.method_string());
      r.target = std::string(req.target());
      for (const auto& f : req)
        r.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
      r.body = req.body();
      r.connection = id;
      behaviour choose;
      std::size_t index;
      {
        std::lock_guard lk(mutex_);
        index = requests_.size();
        requests_.push_back(r);
        choose = behaviour_;
      }
      arrived_.notify_all();
      const reply rep = choose ? choose(r) : reply::honeycomb_ok(r);
      switch (rep.what) {
        case reply::action::respond: {
          http::response<http::string_body> res{static_cast<http::status>(rep.status), 11};
          for (const auto& [k, v] : rep.headers)
            res.set(k, v);
          res.body() = rep.body;
          res.keep_alive(req.keep_alive());
          res.prepare_payload();
          // Recorded before writing: once the client has the response, a test may look (and must see it).
          {
            std::lock_guard lk(mutex_);
            requests_[index].answered = rep.status;
          }
          auto [wec, wn] = co_await http::async_write(stream, res, nothrow);
          if (wec) {
            std::lock_guard lk(mutex_);
            requests_[index].answered = 0;
            co_return;
          }
          if (!res.keep_alive() || rep.close_after) {
            boost::system::error_code ignored;
            lowest.socket().shutdown(tcp::socket::shutdown_both, ignored);
            co_return;
          }
          break;
        }
        case reply::action::endless_body: {
          const std::string head = head_only(rep.content_length) + std::string(rep.partial, ' ');
          auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(head), nothrow);
          if (!wec) co_await wait_for_close(stream);
          co_return;
        }
        case reply::action::never_answer:
          co_await wait_for_close(stream);
          co_return;
        case reply::action::reset_mid_response: {
          const std::string head = head_only(rep.content_length) + std::string(rep.partial, ' ');
          auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(head), nothrow);
          reset(lowest);
          co_return;
        }
        case reply::action::reset_at_once:
          reset(lowest);
          co_return;
      }
    }
  }

  asio::io_context ioc_{1};
  tcp::acceptor acceptor_{ioc_};
  behaviour behaviour_;
  bool tls_;
  ssl::context ssl_ctx_;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::set<beast::tcp_stream*> open_;  // server thread only
  bool closing_ = false;               // server thread only
  std::atomic<bool> silent_{false};

  mutable std::mutex mutex_;
  mutable std::condition_variable arrived_;
  std::vector<recorded_request> requests_;
  std::size_t connections_ = 0;
  std::size_t handshake_failures_ = 0;
  bool stopped_ = false;
};

loopback_server::loopback_server(behaviour b) : impl_(std::make_unique<impl>(std::nullopt, std::move(b))) {}
loopback_server::loopback_server(tls_files files, behaviour b)
    : impl_(std::make_unique<impl>(std::move(files), std::move(b))) {}
loopback_server::~loopback_server() = default;

std::uint16_t loopback_server::port() const {
  return impl_->port();
}
std::string loopback_server::url() const {
  return std::string(impl_->tls() ? "https" : "http") + "://127.0.0.1:" + std::to_string(port());
}
void loopback_server::set_behaviour(behaviour b) {
  impl_->set_behaviour(std::move(b));
}
void loopback_server::set_silent(bool silent) {
  impl_->set_silent(silent);
}
std::vector<recorded_request> loopback_server::requests() const {
  return impl_->requests();
}
std::size_t loopback_server::request_count() const {
  return impl_->request_count();
}
std::size_t loopback_server::connections() const {
  return impl_->connections();
}
std::size_t loopback_server::handshake_failures() const {
  return impl_->handshake_failures();
}
bool loopback_server::wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const {
  return impl_->wait_for_requests(n, timeout);
}
void loopback_server::stop() {
  impl_->stop();
}

std::uint16_t unused_port() {
  asio::io_context ioc;
  tcp::acceptor a(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const std::uint16_t port = a.local_endpoint().port();
  a.close();
  return port;
}

// ---- the certificate ----

namespace {

template <class T, void (*Free)(T*)>
struct openssl_deleter {
  void operator()(T* p) const { Free(p); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, openssl_deleter<EVP_PKEY, EVP_PKEY_free>>;
using x509_ptr = std::unique_ptr<X509, openssl_deleter<X509, X509_free>>;
using ext_ptr = std::unique_ptr<X509_EXTENSION, openssl_deleter<X509_EXTENSION, X509_EXTENSION_free>>;

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("self-signed certificate: ") + what + " failed");
}

void add_extension(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  ext_ptr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  check(ext != nullptr, "X509V3_EXT_conf_nid");
  check(X509_add_ext(cert, ext.get(), -1) == 1, "X509_add_ext");
}

void write_pem(const std::string& path, const std::function<int(FILE*)>& write) {
  FILE* f = std::fopen(path.c_str(), "w");
  check(f != nullptr, "fopen");
  const int ok = write(f);
  std::fclose(f);
  check(ok == 1, "PEM write");
}

}  // namespace

self_signed_certificate::self_signed_certificate() {
  std::string templ = (std::filesystem::temp_directory_path() / "beeline-net-XXXXXX").string();
  check(mkdtemp(templ.data()) != nullptr, "mkdtemp");
  dir_ = templ;
  files_.cert_file = dir_ + "/cert.pem";
  files_.key_file = dir_ + "/key.pem";

  pkey_ptr key(EVP_EC_gen("P-256"));
  check(key != nullptr, "EVP_EC_gen");
  x509_ptr cert(X509_new());
  check(cert != nullptr, "X509_new");
  check(X509_set_version(cert.get(), 2) == 1, "X509_set_version");
  check(ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1) == 1, "serial");
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600);
  check(X509_set_pubkey(cert.get(), key.get()) == 1, "X509_set_pubkey");
  X509_NAME* name = X509_get_subject_name(cert.get());
  check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0) == 1,
        "subject");
  check(X509_set_issuer_name(cert.get(), name) == 1, "issuer");
  add_extension(cert.get(), NID_basic_constraints, "critical,CA:TRUE");
  add_extension(cert.get(), NID_subject_key_identifier, "hash");
  add_extension(cert.get(), NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
  check(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0, "X509_sign");

  write_pem(files_.cert_file, [&](FILE* f) { return PEM_write_X509(f, cert.get()); });
  write_pem(files_.key_file, [&](FILE* f) {
    return PEM_write_PrivateKey(f, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  });
}

self_signed_certificate::~self_signed_certificate() {
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string gunzip(std::string_view gz) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) throw std::runtime_error("inflateInit2 failed");
  std::string out;
  char chunk[16384];
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  zs.avail_in = static_cast<uInt>(gz.size());
  int rc = Z_OK;
  while (rc == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef*>(chunk);
    zs.avail_out = sizeof chunk;
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(chunk, sizeof chunk - zs.avail_out);
    if (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) break;  // input ended before the stream did
  }
  inflateEnd(&zs);
  if (rc != Z_STREAM_END) throw std::runtime_error("not a complete gzip stream");
  return out;
}

}  // namespace beeline::test
