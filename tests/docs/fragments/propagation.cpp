// Statements of a request handler: `request` is the incoming Beast request, `outgoing` a request to another
// service.
#include <beeline/beeline.hpp>
#include <beeline/propagation.hpp>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <optional>

void handle(const boost::beast::http::request<boost::beast::http::string_body>& request,
            boost::beast::http::request<boost::beast::http::string_body>& outgoing) {
  // @BLOCK@
}

int main() {}
