// Boost.Stacktrace's own idiom for throw-site traces, `boost::error_info<struct tag_stacktrace,
// boost::stacktrace::stacktrace>`, is read by consume_error like throw_with_trace. This file uses
// Boost.Stacktrace header-only with the backend macros docs/highlight.md asks for (the library's own), so the
// two agree.
#if defined(__GNUC__) && !defined(__clang__)
#define BOOST_STACKTRACE_USE_BACKTRACE
#define BOOST_STACKTRACE_BACKTRACE_FORCE_STATIC
#else
#define BOOST_STACKTRACE_USE_ADDR2LINE
#endif
#include <beeline/highlight.hpp>

#include <boost/exception/all.hpp>
#include <boost/stacktrace.hpp>

#include <catch2/catch.hpp>

#include <stdexcept>

using traced = boost::error_info<struct tag_stacktrace, boost::stacktrace::stacktrace>;

namespace {

[[gnu::noinline]] void throw_boost_traced() {
  throw boost::enable_error_info(std::runtime_error("boost idiom"))
      << traced(boost::stacktrace::stacktrace());
}
constexpr int boost_throw_line = __LINE__ - 2;

}  // namespace

TEST_CASE("highlight: an exception carrying Boost's error_info stack trace reports that stack") {
  try {
    throw_boost_traced();
    FAIL("no throw");
  } catch (const std::exception& e) {
    const auto trace = beeline::highlight::thrown_trace(e);
    REQUIRE(trace);
    const auto frames = trace->resolve();
    bool found = false;
    for (const auto& f : frames)
      if (f.file.ends_with("boost_error_info_test.cpp") && f.line >= boost_throw_line &&
          f.line <= boost_throw_line + 1)
        found = true;
    CHECK(found);
  }
  CHECK_FALSE(beeline::highlight::thrown_trace(std::runtime_error("plain")));
}
