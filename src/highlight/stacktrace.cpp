// Stack capture and symbolization with Boost.Stacktrace. The only translation unit that includes it: with GCC
// it uses GCC's libbacktrace (function, file and line from the binary's debug information, no helper
// process); elsewhere Boost's addr2line backend.
//
// Boost gives each thread its own libbacktrace state by default, so every thread paid for reading the debug
// information on its first error (130 ms for the example server, in its request). One state for the process,
// used under a mutex and warmed up by the client's own thread, makes that a one-time background cost.
#include "highlight/symbolizer.hpp"

#include <mutex>

#if defined(BEELINE_STACKTRACE_BACKTRACE)
#define BOOST_STACKTRACE_USE_BACKTRACE
#define BOOST_STACKTRACE_BACKTRACE_FORCE_STATIC
#else
#define BOOST_STACKTRACE_USE_ADDR2LINE
#endif
#include <beeline/highlight.hpp>

#include <boost/exception/get_error_info.hpp>
#include <boost/stacktrace.hpp>

// Boost.Stacktrace's documented idiom for carrying a throw-site trace in an exception:
// `throw boost::enable_error_info(e) << traced(boost::stacktrace::stacktrace())` with this typedef.
struct tag_stacktrace;

namespace beeline::highlight {

namespace {
std::mutex symbolizer_mutex;  // libbacktrace's single state is not safe for concurrent use

using boost_traced = boost::error_info<::tag_stacktrace, boost::stacktrace::stacktrace>;

std::vector<const void*> addresses_of(const boost::stacktrace::stacktrace& st) {
  std::vector<const void*> out;
  out.reserve(st.size());
  for (const boost::stacktrace::frame& f : st)
    out.push_back(f.address());
  return out;
}
}  // namespace

stack_trace stack_trace::current(std::size_t skip) {
  try {
    // +1: this function's own frame.
    return stack_trace(addresses_of(boost::stacktrace::stacktrace(skip + 1, 128)));
  } catch (...) {
    return {};
  }
}

std::vector<stack_frame> stack_trace::resolve() const {
  std::vector<stack_frame> out;
  out.reserve(addresses_.size());
  std::lock_guard lock(symbolizer_mutex);
  for (const void* a : addresses_) {
    const boost::stacktrace::frame f(a);
    stack_frame s;
    s.address = a;
    try {
      s.function = f.name();
      s.file = f.source_file();
      s.line = static_cast<int>(f.source_line());
    } catch (...) {
    }
    if (s.line <= 0) s.file.clear();  // a file without a line gives no context and is usually a guess
    out.push_back(std::move(s));
  }
  return out;
}

void detail::warm_up_symbolizer() noexcept {
  try {
    stack_trace::current().resolve();
  } catch (...) {
  }
}

std::optional<stack_trace> thrown_trace(const std::exception& e) {
  if (const auto* t = dynamic_cast<const traced_exception_base*>(&e)) return t->trace();
  if (const boost::stacktrace::stacktrace* st = boost::get_error_info<boost_traced>(e))
    return stack_trace(addresses_of(*st));
  return std::nullopt;
}

}  // namespace beeline::highlight
