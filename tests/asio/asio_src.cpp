// Asio and Beast compiled once for the test and benchmark programs (BOOST_*_SEPARATE_COMPILATION), TLS
// included.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
