// Trace propagation: reading and writing the headers that carry a trace from one service to the next.
//
// Every codec is a pure function over bytes: `unmarshal(header value) -> optional<trace_context>` and
// `marshal(trace_context) -> optional<header value>`. Valid input gives exactly the bytes the Node
// Beeline 4.x (and, for `w3c` and `xray`, OpenTelemetry JS's propagators) give; input those get wrong is
// handled correctly instead (docs/differences.md lists each one). Bad input of any kind (oversized,
// malformed, invalid encoding, invalid JSON, bad ids, control characters) gives `nullopt` and one count in
// `rejections()`, never a throw.
//
// Hooks choose formats per service, as the Beeline's `httpTraceParserHook` / `httpTracePropagationHook` do:
// a parser hook reads a request's headers (any container, through `header_view`), a propagation hook makes
// the headers of an outgoing request. Ready-made hooks exist per format.
#pragma once

#include <beeline/trace_context.hpp>

#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace beeline {

namespace propagation {

/// Header values longer than this are rejected (`reject_reason::oversized`) before any parsing.
inline constexpr std::size_t max_header_bytes = 8192;
/// Ids longer than this (after decoding) are rejected (`reject_reason::invalid_id`).
inline constexpr std::size_t max_id_bytes = 256;

/// The codecs, for counters.
enum class format : std::uint8_t { honeycomb, w3c, aws, xray, highlight, baggage };
inline constexpr std::size_t format_count = 6;

/// Why a header value was rejected.
enum class reject_reason : std::uint8_t {
  oversized,            ///< longer than `max_header_bytes`
  malformed,            ///< does not have the format's structure (missing parts, bad separators, bad flags)
  unsupported_version,  ///< a version this codec does not read
  invalid_id,           ///< a trace or span id missing, empty, all zero, of the wrong form or too long
  invalid_encoding,     ///< bad base64, bad percent-encoding, invalid UTF-8, control characters
  invalid_json,         ///< the Honeycomb context is not valid JSON
};
inline constexpr std::size_t reject_reason_count = 6;

/// Process-wide counts of rejected header values, per format and reason. Also counted, though the header is
/// still accepted: a W3C `baggage` list-member skipped (`baggage`, `malformed`, `invalid_encoding` or
/// `oversized`, one count per member) or a list cut to its limits (`baggage`, `oversized`, once per list); an
/// invalid W3C `tracestate` dropped (`w3c`, `malformed` or `oversized`), a Honeycomb context that is valid
/// JSON but not an object, whose fields are dropped (`honeycomb`, `invalid_json`), a Honeycomb dataset over
/// `max_id_bytes`, dropped (`honeycomb`, `invalid_id`).
struct rejection_counts {
  std::array<std::array<std::uint64_t, reject_reason_count>, format_count> counts{};
  std::uint64_t of(format f, reject_reason r) const noexcept {
    return counts[static_cast<std::size_t>(f)][static_cast<std::size_t>(r)];
  }
  std::uint64_t of(format f) const noexcept;
  std::uint64_t total() const noexcept;
};
rejection_counts rejections() noexcept;

/// Read access to a request's headers, whatever holds them: a Beast `http::fields` or message, a map or
/// multimap, a vector of pairs. Names compare ASCII case-insensitively. Holds a reference: keep the container
/// alive while the view is used.
class header_view {
 public:
  template <class Headers>
  requires(!std::same_as<std::remove_cvref_t<Headers>, header_view>) header_view(const Headers& h)
  noexcept : obj_(&h), visit_(&visit_container<Headers>) {}

  /// The first value of the header `name`, or nullopt.
  std::optional<std::string_view> get(std::string_view name) const;
  /// Calls `fn(value)` for each header named `name`, in order, until it returns false.
  void for_each(std::string_view name, const std::function<bool(std::string_view)>& fn) const;

 private:
  using callback = bool (*)(void* state, std::string_view name, std::string_view value);
  using visitor = void (*)(const void* obj, void* state, callback cb);

  template <class Headers>
  static void visit_container(const void* obj, void* state, callback cb) {
    const auto& h = *static_cast<const Headers*>(obj);
    if constexpr (requires { h.base(); }) {  // a Beast message: its header's fields
      visit_container<std::remove_cvref_t<decltype(h.base())>>(&h.base(), state, cb);
    } else {
      for (const auto& entry : h) {
        bool more;
        if constexpr (requires {
                        entry.name_string();
                        entry.value();
                      })  // Beast fields
          more = cb(state, std::string_view(entry.name_string().data(), entry.name_string().size()),
                    std::string_view(entry.value().data(), entry.value().size()));
        else
          more = cb(state, std::string_view(entry.first), std::string_view(entry.second));
        if (!more) return;
      }
    }
  }

  const void* obj_;
  visitor visit_;
};

/// Outgoing headers: (name, value) pairs.
using header_list = std::vector<std::pair<std::string, std::string>>;

/// Reads an incoming request's trace context; nullopt starts a new trace. Exceptions are caught (the request
/// then starts a new trace) and logged.
using parser_hook = std::function<std::optional<trace_context>(const header_view&)>;
/// Makes the propagation headers for an outgoing request from the current trace context.
using propagation_hook = std::function<header_list(const trace_context&)>;

/// The Node Beeline's default incoming rule: `X-Honeycomb-Trace` if present and not empty, else W3C
/// `traceparent` (with `tracestate`). `propagate_dataset` as for `honeycomb::unmarshal`.
std::optional<trace_context> parse_default(const header_view& headers, bool propagate_dataset);

/// The propagators `OTEL_PROPAGATORS` names, plus this library's own formats.
enum class propagator : std::uint8_t {
  tracecontext,  ///< W3C `traceparent` / `tracestate` (the `w3c` codec)
  baggage,       ///< W3C `baggage`: trace fields as entries (the `baggage` codec)
  xray,          ///< AWS X-Ray as OpenTelemetry writes it (the `xray` codec)
  honeycomb,     ///< `X-Honeycomb-Trace` (the `honeycomb` codec)
  aws,           ///< `X-Amzn-Trace-Id` as the Beeline writes it, with trace fields (the `aws` codec)
};

/// Reads an `OTEL_PROPAGATORS` value: names separated by commas (ASCII case-insensitive, spaces around them
/// ignored, a repeated name kept once). `none` alone gives an empty list (nothing read or written). Unknown
/// or unsupported names (`b3`, `jaeger`, ...) are skipped and listed in `unknown`.
std::vector<propagator> parse_propagators(std::string_view text, std::vector<std::string>& unknown);

/// Reads a request with several propagators, as OpenTelemetry's composite propagator does: the first of the
/// trace propagators, in list order, that finds a context gives the ids; then, if `baggage` is in the list,
/// the `baggage` entries are added to the context's fields (a field the trace propagator already carried
/// keeps its value). Baggage alone, with no trace context, gives a context with empty ids and the fields: the
/// new trace starts with them. `propagate_dataset` as for `honeycomb::unmarshal`.
parser_hook composite_parser_hook(std::vector<propagator> list, bool propagate_dataset);
/// Writes every propagator's headers, in list order.
propagation_hook composite_propagation_hook(std::vector<propagator> list, bool propagate_dataset);

}  // namespace propagation

/// Honeycomb's `X-Honeycomb-Trace` v1: `1;trace_id=…,parent_id=…[,dataset=…],context=<base64 JSON>`.
namespace honeycomb {

inline constexpr std::string_view header = "X-Honeycomb-Trace";

/// The header value. The `dataset=` clause is written when `propagate_dataset` (the Beeline sets it for
/// classic write keys only, see `is_classic_key`) and the dataset is not empty (and is UTF-8 without control
/// characters, at most `max_id_bytes`: what `unmarshal` accepts). nullopt when an id is empty,
/// longer than `max_id_bytes`, or contains a character that would break the header (`,` `;` `=`, spaces,
/// controls, non-ASCII).
std::optional<std::string> marshal(const trace_context& ctx, bool propagate_dataset);
/// Appends the header value to `out` (for callers with a reused buffer); false, and `out` unchanged, when
/// `marshal` would give nullopt.
bool marshal_to(std::string& out, const trace_context& ctx, bool propagate_dataset);

/// Reads a header value. The context's JSON becomes `fields` (keys verbatim, nested values kept as JSON,
/// rewritten as JSON.stringify would); the dataset is read only when `propagate_dataset`, and one over
/// `max_id_bytes` is dropped (counted `invalid_id`) while the ids still hold.
std::optional<trace_context> unmarshal(std::string_view value, bool propagate_dataset);

propagation::parser_hook parser_hook(bool propagate_dataset);
propagation::propagation_hook propagation_hook(bool propagate_dataset);

}  // namespace honeycomb

/// W3C Trace Context: `traceparent` (`00-<32 hex trace id>-<16 hex span id>-<2 hex flags>`) and `tracestate`.
namespace w3c {

inline constexpr std::string_view traceparent_header = "traceparent";
inline constexpr std::string_view tracestate_header = "tracestate";

/// A parsed `traceparent`, with no heap memory.
struct traceparent {
  std::array<char, 32> trace_id{};  ///< lowercase hex
  std::array<char, 16> span_id{};   ///< lowercase hex
  std::uint8_t version = 0;
  std::uint8_t flags = 1;
  std::string_view trace_id_hex() const noexcept { return {trace_id.data(), trace_id.size()}; }
  std::string_view span_id_hex() const noexcept { return {span_id.data(), span_id.size()}; }
};

/// The length of a version-00 `traceparent`.
inline constexpr std::size_t traceparent_size = 55;

/// Parses a `traceparent` as OpenTelemetry JS does (one optional leading and one trailing whitespace
/// character, as JavaScript's `\s`: space, tab, CR, LF, VT, FF; version `ff`, uppercase hex and all-zero ids
/// rejected; a later version may carry more fields after a `-`).
std::optional<traceparent> parse_traceparent(std::string_view value) noexcept;
/// Writes a version-00 `traceparent` into `out`.
void format_traceparent(const traceparent& tp, char (&out)[traceparent_size]) noexcept;

/// Whether `value` is a valid `tracestate` (at most 512 bytes and 32 members, keys and values as the spec's
/// grammar, no duplicate keys).
bool valid_tracestate(std::string_view value) noexcept;

/// `traceparent` and `tracestate` to a context: ids and flags from `traceparent`; of `tracestate`, the valid
/// members (at most 32; of a repeated key the first, left-most, which W3C makes the newest entry), trimmed
/// and joined with `,` as OpenTelemetry does; invalid members are dropped and counted once (`malformed`), and
/// the context is still returned. A list still over 512 bytes keeps the members that fit, cut as W3C Trace
/// Context asks: members over 128 bytes go first, then members from the end (counted once, `oversized`;
/// OpenTelemetry JS drops such a `tracestate` whole). A `tracestate` over `max_header_bytes` is not read.
std::optional<trace_context> unmarshal(std::string_view traceparent, std::string_view tracestate = {});
/// The `traceparent` value (version 00, the context's flags). nullopt unless the trace id is 32 hex digits
/// and the parent id 16, not all zero (uppercase is written lowercase).
std::optional<std::string> marshal(const trace_context& ctx);

propagation::parser_hook parser_hook();
/// `traceparent`, and `tracestate` (its valid members, normalized) when the context has one.
propagation::propagation_hook propagation_hook();

}  // namespace w3c

/// AWS `X-Amzn-Trace-Id` as the Beeline reads and writes it: `Root=…;Parent=…` (or `Self=…`) plus custom
/// `key=value` fields; ids are kept verbatim.
namespace aws {

inline constexpr std::string_view header = "X-Amzn-Trace-Id";

/// `Root=<trace id>;Parent=<parent id>` then `;key=value` per string, number, boolean or null (`null`) trace
/// field. Left out: nested values, fields whose key or value would break the header or not read back (`;`,
/// `=`, controls, non-ASCII, surrounding spaces, an empty key) and fields named `Root`, `Parent` or `Self`
/// (any case), which would take the ids over at the next hop. nullopt when an id is empty or unusable.
std::optional<std::string> marshal(const trace_context& ctx);
/// Keys `Root`, `Parent`, `Self` (any case): trace id Root; parent Parent, else Self, else Root. Every other
/// `key=value` becomes a string field, key as written.
std::optional<trace_context> unmarshal(std::string_view value);

propagation::parser_hook parser_hook();
propagation::propagation_hook propagation_hook();

}  // namespace aws

/// AWS X-Ray's `X-Amzn-Trace-Id` as OpenTelemetry JS's AWS X-Ray propagator reads and writes it:
/// `Root=1-<8 hex>-<24 hex>;Parent=<16 hex>;Sampled=<0|1>`, mapped to and from W3C-style ids.
namespace xray {

inline constexpr std::string_view header = "X-Amzn-Trace-Id";

/// nullopt unless the trace id is 32 hex digits and the parent id 16, not all zero.
std::optional<std::string> marshal(const trace_context& ctx);
/// The trace id becomes the 32 hex digits of Root, in the case they were written (as OpenTelemetry keeps
/// them; `w3c::marshal` writes them lowercase); `Sampled=1`, or a missing or deferred (`?`) `Sampled`, sets
/// bit 0.
std::optional<trace_context> unmarshal(std::string_view value);

propagation::parser_hook parser_hook();
propagation::propagation_hook propagation_hook();

}  // namespace xray

/// W3C Baggage: `baggage: key=value[;property...],...`. Here it carries a trace's fields (what
/// `add_trace_context` adds, and what arrived from upstream) to services that speak only W3C: a field becomes
/// an entry on the way out, an entry becomes a string field on the way in. Keys are used verbatim (a trace
/// field `app.user` travels as the entry `app.user`).
namespace baggage {

inline constexpr std::string_view header = "baggage";
/// W3C Baggage's limits, as OpenTelemetry applies them.
inline constexpr std::size_t max_members = 180;
inline constexpr std::size_t max_member_bytes = 4096;
inline constexpr std::size_t max_bytes = 8192;

/// The header value for `fields`, as OpenTelemetry JS's `W3CBaggagePropagator` writes it: `key=value` per
/// field, key and value percent-encoded as JavaScript's `encodeURIComponent` does. A string is written as it
/// is; a number, boolean or null as JavaScript's `String()` writes it (`42`, `2.5`, `true`, `null`); nested
/// JSON as its JSON text. Members over `max_member_bytes` are left out, then at most `max_members` are taken,
/// then members that would take the value over `max_bytes` are left out. nullopt when nothing is left (or no
/// fields).
std::optional<std::string> marshal(const field_list& fields);

/// Reads a header value (several `baggage` headers joined with `,` are one list). Each member's key and value
/// are trimmed and percent-decoded; properties (after `;`) are ignored; a repeated key keeps its last value.
/// Bounded as W3C Baggage asks: only the first `max_bytes` are read (cut at a member boundary), at most
/// `max_members` entries are kept and members over `max_member_bytes` are skipped (each cut counted
/// `oversized`). A member with no `=` or an empty key is skipped (`malformed`), one with bad
/// percent-encoding, invalid UTF-8 or control characters too (`invalid_encoding`); the rest of the list is
/// still read.
field_list unmarshal(std::string_view value);
/// The entries of every `baggage` header of a request, read as `unmarshal` reads one.
field_list from_headers(const propagation::header_view& headers);

/// A context with empty ids whose fields are the entries, or nullopt when there are none.
propagation::parser_hook parser_hook();
/// The `baggage` header for the context's fields, when there are any.
propagation::propagation_hook propagation_hook();

}  // namespace baggage

/// Highlight's `x-highlight-request: <secure session id>/<request id>`.
namespace highlight {

inline constexpr std::string_view header = "x-highlight-request";

struct request_ids {
  std::string secure_session_id;
  std::string request_id;
  friend bool operator==(const request_ids&, const request_ids&) = default;
};

/// nullopt unless both parts are non-empty, at most `max_id_bytes`, printable ASCII without spaces and `/`.
std::optional<std::string> marshal(const request_ids& ids);
/// `<session>/<request>`, surrounding whitespace ignored; nullopt for anything else (no `/`, an empty part,
/// more than one `/`, spaces or controls inside).
std::optional<request_ids> unmarshal(std::string_view value);
/// The ids from a request's headers, or nullopt.
std::optional<request_ids> from_headers(const propagation::header_view& headers);

}  // namespace highlight

}  // namespace beeline
