#include <beeline/span.hpp>

#include "api/context.hpp"
#include "api/tracer_core.hpp"
#include "core/ids.hpp"

#include <cxxabi.h>

#include <memory>
#include <typeinfo>

namespace beeline {
namespace {

detail::tracer_core& core_of(detail::span_record* rec) noexcept {
  return *rec->trace->core;
}

std::string demangle(const char* name) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> d(abi::__cxa_demangle(name, nullptr, nullptr, &status), std::free);
  return status == 0 && d ? std::string(d.get()) : std::string(name);
}

}  // namespace

span& span::operator=(span&& o) noexcept {
  if (this != &o) {
    if (rec_) finish();
    rec_ = std::exchange(o.rec_, nullptr);
  }
  return *this;
}

span& span::add_context(fields f) {
  return add_context(std::span<const field>(f.begin(), f.size()));
}

span& span::add_context(std::span<const field> f) {
  if (rec_) core_of(rec_).set(*rec_, f);
  return *this;
}

span& span::add_field(std::string_view key, field_value v) {
  if (rec_) core_of(rec_).set(*rec_, key, v);
  return *this;
}

span& span::add_event(std::string_view name, fields f) {
  if (rec_) core_of(rec_).annotate(*rec_, false, name, {}, {}, std::span<const field>(f.begin(), f.size()));
  return *this;
}

span& span::add_link(std::string_view trace_id, std::string_view span_id, fields f) {
  if (rec_ && !trace_id.empty() && !span_id.empty())
    core_of(rec_).annotate(*rec_, true, {}, trace_id, span_id, std::span<const field>(f.begin(), f.size()));
  return *this;
}

span& span::remove_context(std::string_view key) {
  if (rec_) core_of(rec_).remove(*rec_, key);
  return *this;
}

span& span::record_exception(const std::exception_ptr& e) {
  if (!rec_ || !e) return *this;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    add_context({{"error", demangle(typeid(ex).name())}, {"error_detail", ex.what()}});
  } catch (...) {
    const std::type_info* t = abi::__cxa_current_exception_type();
    add_context({{"error", t ? demangle(t->name()) : std::string("unknown exception")}});
  }
  return *this;
}

void span::finish() noexcept {
  detail::span_record* rec = std::exchange(rec_, nullptr);
  if (!rec) return;
  detail::slot& s = detail::current_slot();
  const std::uint64_t gen = detail::generation_of(rec->state.load(std::memory_order_relaxed));
  for (std::size_t i = s.stack.size(); i-- > 0;) {
    if (s.stack[i].rec == rec && s.stack[i].gen == gen) {
      if (i + 1 != s.stack.size()) core_of(rec).note_out_of_order_finish();
      s.stack.erase(s.stack.begin() + static_cast<std::ptrdiff_t>(i));
      break;
    }
  }
  core_of(rec).finish(rec);
}

std::string span::trace_id() const {
  return rec_ ? std::string(rec_->trace->trace_id()) : std::string();
}

std::string span::span_id() const {
  if (!rec_) return {};
  std::string out(16, '0');
  detail::to_hex16(rec_->span_id, out.data());
  return out;
}

}  // namespace beeline
