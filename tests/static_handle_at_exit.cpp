// A program whose static objects hold task slots (an executor made with `beeline::traced`) and are destroyed
// at exit after the library's own statics: it must exit cleanly (the slot pool outlives every handle). Run by
// ctest; under ASan a use after free fails it.
#include <beeline/asio/executor.hpp>

#include <boost/asio/io_context.hpp>

#include <vector>

namespace {
boost::asio::io_context ioc;
// Constructed in main, after the pool: destroyed before main's statics only if the pool were function-local.
std::vector<beeline::detail::slot_handle> handles;
}  // namespace

int main() {
  for (int i = 0; i < 100; ++i)
    handles.push_back(beeline::detail::slot_handle::make_owning(beeline::detail::capture_current()));
  static const auto ex = beeline::traced(ioc.get_executor());
  return ex.slot().raw() != nullptr && handles.back().raw() != nullptr ? 0 : 1;
}
