// Statements of a coroutine running on a traced executor, e.g. a request handler: `pricing_endpoint` is
// another service.
#include <beeline/asio/coro.hpp>
#include <beeline/asio/flush.hpp>
#include <beeline/asio/http_server.hpp>
#include <beeline/beeline.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

namespace asio = boost::asio;
namespace http = boost::beast::http;

asio::awaitable<void> fragment(asio::ip::tcp::endpoint pricing_endpoint) {
  // @BLOCK@
}

int main() {}
