// How an event maps onto an OTLP span, shared by the JSON and protobuf encodings (otlp_model.hpp).
#include "export/otlp_model.hpp"

#include <cstdint>
#include <optional>

namespace beeline::detail {

namespace {

// Hex digit values, -1 for anything else: ids are validated and decoded in one pass.
constexpr auto hex_values = [] {
  std::array<signed char, 256> t{};
  t.fill(-1);
  for (int c = '0'; c <= '9'; ++c)
    t[static_cast<std::size_t>(c)] = static_cast<signed char>(c - '0');
  for (int c = 'a'; c <= 'f'; ++c)
    t[static_cast<std::size_t>(c)] = static_cast<signed char>(c - 'a' + 10);
  for (int c = 'A'; c <= 'F'; ++c)
    t[static_cast<std::size_t>(c)] = static_cast<signed char>(c - 'A' + 10);
  return t;
}();

// Decodes an even number of hex digits; false (out partly written) if one is not a digit.
bool decode_hex(std::string_view hex, char* out) noexcept {
  int bad = 0;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    const int hi = hex_values[static_cast<unsigned char>(hex[i])];
    const int lo = hex_values[static_cast<unsigned char>(hex[i + 1])];
    bad |= hi | lo;  // negative if either is -1
    out[i / 2] = static_cast<char>((hi << 4) | (lo & 15));
  }
  return bad >= 0;
}

std::uint64_t fnv1a(std::string_view s, std::uint64_t seed) noexcept {
  std::uint64_t h = seed;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ull;
  }
  return h;
}

void put_be64(char* out, std::uint64_t v) noexcept {
  for (int i = 0; i < 8; ++i)
    out[i] = static_cast<char>(static_cast<unsigned char>(v >> (56 - 8 * i)));
}

}  // namespace

int otlp_span_kind(std::string_view kind) noexcept {
  const auto is = [&](std::string_view name) {
    if (kind.size() != name.size()) return false;
    for (std::size_t i = 0; i < kind.size(); ++i) {
      const char c = kind[i] >= 'A' && kind[i] <= 'Z' ? static_cast<char>(kind[i] - 'A' + 'a') : kind[i];
      if (c != name[i]) return false;
    }
    return true;
  };
  if (is("server")) return 2;
  if (is("client")) return 3;
  if (is("producer")) return 4;
  if (is("consumer")) return 5;
  return 1;  // internal
}

int otlp_span_kind_of(const event& ev) noexcept {
  if (const auto k = ev.get("span.kind"); k && k->kind() == value_kind::string)
    return otlp_span_kind(k->as_string());
  return 1;
}

otlp_status otlp_status_of(const event& ev) noexcept {
  otlp_status status;
  if (const auto c = ev.get("status_code");
      c && c->kind() == value_kind::integer && c->as_int() >= 0 && c->as_int() <= 2) {
    status.code = static_cast<int>(c->as_int());
    if (const auto m = ev.get("status_message"); m && m->kind() == value_kind::string)
      status.message = m->as_string();
  } else if (const auto e = ev.get("error"); e && !e->is_null()) {
    status.code = 2;
    if (const auto d = ev.get("error_detail"); d && d->kind() == value_kind::string)
      status.message = d->as_string();
    else if (e->kind() == value_kind::string)
      status.message = e->as_string();
  }
  return status;
}

otel_field otel_http_field(std::string_view key, field_value v) noexcept {
  // Dispatch on the length: most fields of most spans are not HTTP fields and cost one comparison or none.
  switch (key.size()) {
    case 3:
      if (key == "url") return {"url.full", v};
      break;
    case 12:
      if (key == "request.path") return {"url.path", v};
      if (key == "request.host") return {"server.address", v};
      if (key == "request.port") return {"server.port", v};
      break;
    case 13:
      if (key == "request.query") return {"url.query", v};
      if (key == "request.route") return {"http.route", v};
      break;
    case 14:
      if (key == "request.method") return {"http.request.method", v};
      if (key == "request.scheme") return {"url.scheme", v};
      break;
    case 19:
      if (key == "request.remote_addr") return {"client.address", v};
      break;
    case 20:
      if (key == "response.status_code") return {"http.response.status_code", v};
      if (key == "request.http_version") {
        if (v.kind() == value_kind::string && v.as_string().starts_with("HTTP/"))
          return {"network.protocol.version", field_value(v.as_string().substr(5))};
        return {"network.protocol.version", v};
      }
      break;
    case 21:
      if (key == "response.http_version") return {"network.protocol.version", v};
      break;
    case 25:
      if (key == "request.header.user_agent") return {"user_agent.original", v};
      break;
    default:
      break;
  }
  return {};
}

otlp_span_plan plan_otlp_span(const event& ev, attribute_names names) noexcept {
  otlp_span_plan plan;
  plan.names = names;
  plan.name = ev.name();
  // One pass over the fields finds every key the mapping reads (instead of a lookup per key): dispatch on
  // the length, so most fields cost one comparison or none.
  std::optional<field_value> kind, code, message, error, detail, method, route, http_route, stack;
  // Keys only: a value is read for the few keys the mapping wants.
  const std::size_t n = ev.field_count();
  for (std::size_t i = 0; i < n; ++i) {
    const std::string_view key = ev.key_at(i);
    std::optional<field_value>* want = nullptr;
    switch (key.size()) {
      case 5:
        if (key == "error") want = &error;
        break;
      case 9:
        if (key == "span.kind") want = &kind;
        break;
      case 10:
        if (key == "http.route") want = &http_route;
        break;
      case 11:
        if (key == "status_code") want = &code;
        break;
      case 12:
        if (key == "error_detail") want = &detail;
        break;
      case 13:
        if (key == "request.route") want = &route;
        break;
      case 14:
        if (key == "status_message")
          want = &message;
        else if (key == "request.method")
          want = &method;
        break;
      case 16:
        if (key == "error_stacktrace") want = &stack;
        break;
      default:
        break;
    }
    if (want) *want = ev.field_at(i).value;
  }
  const auto as_string = [](const std::optional<field_value>& v) {
    return v && v->kind() == value_kind::string ? v->as_string() : std::string_view();
  };
  plan.kind = kind && kind->kind() == value_kind::string ? otlp_span_kind(kind->as_string()) : 1;
  if (code && code->kind() == value_kind::integer && code->as_int() >= 0 && code->as_int() <= 2) {
    plan.status.code = static_cast<int>(code->as_int());
    plan.status.message = as_string(message);
  } else if (error && !error->is_null()) {
    plan.status.code = 2;
    plan.status.message =
        detail && detail->kind() == value_kind::string ? detail->as_string() : as_string(error);
  }
  if (names == attribute_names::beeline) return plan;
  if (const std::string_view m = as_string(method); !m.empty()) {
    plan.http = true;
    // Only the instrumentation's default names are replaced: a name the user chose stays.
    if ((plan.kind == 2 && plan.name == "request") || (plan.kind == 3 && plan.name == m)) {
      plan.name = m;
      plan.route = as_string(route);
      if (plan.route.empty()) plan.route = as_string(http_route);
    }
  }
  if (error && !error->is_null()) {
    bool has_event = false;
    for (std::size_t i = 0; i < ev.annotation_count() && !has_event; ++i) {
      const annotation_view a = ev.annotation_at(i);
      has_event = !a.is_link() && a.name() == "exception";
    }
    if (!has_event) {
      plan.exception_event = true;
      plan.exception_type =
          error->kind() == value_kind::string ? error->as_string() : std::string_view("error");
      plan.exception_message = as_string(detail);
      plan.exception_stacktrace = as_string(stack);
    }
  }
  return plan;
}

otlp_trace_id otlp_trace_id_of(std::string_view id) noexcept {
  otlp_trace_id bytes;
  const bool hex = id.size() == 32 && decode_hex(id, bytes.data());
  const bool xray = !hex && id.size() == 35 && id[0] == '1' && id[1] == '-' && id[10] == '-' &&
                    decode_hex(id.substr(2, 8), bytes.data()) && decode_hex(id.substr(11), bytes.data() + 4);
  if (!hex && !xray) {
    put_be64(bytes.data(), fnv1a(id, 0xcbf29ce484222325ull));
    put_be64(bytes.data() + 8, fnv1a(id, 0x84222325cbf29ce4ull));
  }
  return bytes;
}

otlp_span_id otlp_span_id_of(std::string_view id) noexcept {
  otlp_span_id bytes;
  if (id.size() != 16 || !decode_hex(id, bytes.data()))
    put_be64(bytes.data(), fnv1a(id, 0xcbf29ce484222325ull));
  return bytes;
}

}  // namespace beeline::detail
