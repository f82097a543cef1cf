// Declarations of a Beast server reporting to Highlight: `load_order` is the request's work.
#include <beeline/asio/highlight.hpp>
#include <beeline/highlight.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <stdexcept>
#include <string>

namespace asio = boost::asio;
namespace http = boost::beast::http;

asio::awaitable<void> load_order(const http::request<http::string_body>& req);

// @BLOCK@

int main() {}
