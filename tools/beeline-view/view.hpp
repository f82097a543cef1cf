// beeline-view's model: the spans read from the JSON lines the library writes, per-trace summaries for the
// list view, and the trace tree the waterfall views draw. Reading streams: the list view keeps one summary
// per trace, a query for one trace keeps that trace's spans only.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace beeline::view {

/// What became of the input that could not be shown as it was; printed on stderr, one line per non-zero
/// count.
struct input_counts {
  std::uint64_t lines = 0;
  std::uint64_t spans = 0;
  std::uint64_t annotations = 0;
  std::uint64_t not_json = 0;             // a line that is not a JSON object (skipped)
  std::uint64_t truncated_last_line = 0;  // the input ends in the middle of a line (skipped)
  std::uint64_t too_long = 0;             // a line over the length cap (skipped)
  std::uint64_t not_span = 0;             // JSON without trace.trace_id / trace.span_id (skipped)
  std::uint64_t duplicate_spans = 0;      // a span id seen before in its trace (later copies skipped)
  std::uint64_t orphans = 0;              // spans whose parent never arrived (shown under an orphan node)
  std::uint64_t parent_cycles = 0;     // spans whose parents lead back to them (shown under an orphan node)
  std::uint64_t clock_skew = 0;        // spans starting before their parent (shown, marked)
  std::uint64_t cut_values = 0;        // field values over the display cap (cut)
  std::uint64_t lost_annotations = 0;  // span events and links whose span never arrived (skipped)
  std::uint64_t evicted_traces = 0;    // --follow: traces dropped before their root arrived
  std::uint64_t reopened = 0;          // --follow: the file was truncated or replaced
};

/// Writes the non-zero counts as "beeline-view: ..." lines.
void print_counts(std::FILE* err, const input_counts& c);

enum class value_kind : std::uint8_t { string, number, boolean, null, other };

/// A span field kept for display: the key and the value's text (strings unescaped, others as JSON).
struct field {
  std::string key;
  std::string text;
  value_kind kind = value_kind::string;
};

/// A span event or link (an annotation line), drawn as a mark on its span.
struct annotation {
  bool is_link = false;
  std::string name;  // the event's name; for a link, "trace/span" of the linked span
  std::int64_t time_ns = 0;
  std::vector<field> fields;
};

/// One span as the views draw it.
struct span {
  std::string span_id;
  std::string parent_id;  // empty on a root
  std::string name;
  std::string service;
  std::int64_t start_ns = 0;  // wall clock, ns since the Unix epoch
  std::int64_t duration_ns = 0;
  bool error = false;
  // meta.span_type "subroot": the first span of a service behind a traced caller. Its parent is in the
  // caller's service; where that span is not in the input, this span is the service's local root.
  bool local_root = false;
  std::vector<field> fields;  // every field but the ones above
  std::vector<annotation> annotations;
  std::int64_t end_ns() const { return start_ns + duration_ns; }
};

/// The summary the list view shows, one per trace.
struct trace_summary {
  std::string trace_id;
  std::string root_name;
  std::string service;  // the root's, else the first span's
  // What tells requests apart, from the root: request.method / http.request.method / http.method,
  // request.path / url.path / http.target (without its query) / http.route, response.status_code /
  // http.response.status_code / http.status_code. Empty when the root has none.
  std::string method;
  std::string path;
  std::string status;
  bool root_is_local = false;  // the root is a local root (meta.span_type subroot): its caller is not here
  std::int64_t root_start_ns = 0;
  std::int64_t start_ns = INT64_MAX;
  std::int64_t end_ns = INT64_MIN;
  std::int64_t root_duration_ns = -1;  // -1: the root never arrived
  std::uint32_t spans = 0;
  std::uint32_t errors = 0;
  bool name_matched = false;     // some span's name contains --name
  bool service_matched = false;  // some span's service is --service
  std::uint64_t first_seen = 0;  // input order, for --follow's eviction
  bool has_root() const { return root_duration_ns >= 0; }
  /// The root's duration, else the extent of the spans seen.
  std::int64_t duration_ns() const { return has_root() ? root_duration_ns : (spans ? end_ns - start_ns : 0); }
};

/// The list view's filters.
struct filters {
  std::string trace_prefix;  // --trace: a trace id or a prefix of one
  std::string name;          // --name: some span's name contains it
  std::string service;       // --service: some span's service is it
  double min_duration_ms = -1;
  bool errors_only = false;
  bool accepts(const trace_summary& s) const;
  bool accepts_trace_id(std::string_view id) const {
    return trace_prefix.empty() || id.substr(0, trace_prefix.size()) == trace_prefix;
  }
};

/// A trace's spans, as read.
struct trace_data {
  std::string trace_id;
  std::vector<span> spans;
  std::vector<std::pair<std::string, annotation>>
      pending;  // annotations (by span id) whose span is not yet here
  std::uint64_t first_seen = 0;
  bool root_seen = false;
};

/// One row of a drawn trace tree: a span, or the marked node that holds spans whose parent never arrived.
struct tree_row {
  const span* s = nullptr;     // null for an orphan node
  std::string missing_parent;  // orphan node: the parent id that never arrived
  bool cycle = false;          // orphan node: missing_parent did arrive, but its parents lead back to it
  int depth = 0;
  bool remote_parent = false;  // a local root: its parent is a span of the calling service, not in the input
  std::string prefix;          // tree connectors before the name ("│  ├─ ")
  bool skewed = false;         // starts before its parent
};

/// A trace laid out for drawing: rows in tree order and the time window the bars are scaled to.
struct trace_tree {
  const trace_data* trace = nullptr;
  trace_summary summary;
  std::vector<tree_row> rows;
  std::int64_t t0 = 0;
  std::int64_t t1 = 0;
  std::int64_t window_ns() const { return t1 > t0 ? t1 - t0 : 1; }
};

/// Removes repeated span ids (first kept), then builds the tree; counts duplicates, orphans and clock skew.
trace_tree build_tree(trace_data& t, input_counts& counts, const filters& f);

/// The summary of kept spans (as the streaming summary would have made it).
trace_summary summarize(const trace_data& t, const filters& f);

/// Which list column a span field feeds (the list shows the root's); none for the others.
enum class request_key : std::uint8_t { none, method, path, status };
request_key classify_request_key(std::string_view key);
/// The field names that feed a list column, in order of preference (Beeline's, then OpenTelemetry's).
std::span<const std::string_view> request_key_names(request_key k);
/// The path part of an http.target or URL path value (its query and fragment dropped).
std::string_view path_of(std::string_view target);

/// Lets maps keyed by trace id be searched with a string_view (no allocation per line).
struct id_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
using summary_map = std::unordered_map<std::string, trace_summary, id_hash, std::equal_to<>>;
using trace_map = std::unordered_map<std::string, trace_data, id_hash, std::equal_to<>>;

/// What to read, and what to keep.
struct read_options {
  std::size_t max_line_bytes = 4u << 20;
  std::size_t max_value_bytes = 16u << 10;  // field values kept for display are cut here
  bool keep_spans = false;                  // false: summaries only
};

/// Reads JSON lines and folds them into summaries or kept traces. Feed it bytes; it parses complete lines.
class reader {
 public:
  reader(read_options opts, filters f);
  ~reader();
  reader(const reader&) = delete;
  reader& operator=(const reader&) = delete;

  /// Reads a whole file descriptor to its end.
  void read_fd(int fd);
  /// Reads what is available on fd now (for --follow); returns the bytes read (0 at end of file).
  std::size_t read_available(int fd);
  /// The input has ended: a partial last line is counted as truncated.
  void finish();
  /// Drops a partial line (the file was truncated or replaced under --follow).
  void reset_partial();

  input_counts& counts() { return counts_; }
  const filters& filter() const { return filter_; }
  /// Summaries (list mode).
  summary_map& summaries() { return summaries_; }
  /// Kept traces (keep_spans mode).
  trace_map& traces() { return traces_; }
  /// Called when a root span is read (keep_spans mode), with its trace id.
  std::function<void(const std::string&)> on_root;

 private:
  struct impl;
  void consume(const char* data, std::size_t len, std::size_t capacity);
  void line(const char* p, std::size_t len, std::size_t capacity);
  std::unique_ptr<impl> impl_;
  read_options opts_;
  filters filter_;
  input_counts counts_;
  summary_map summaries_;
  trace_map traces_;
  std::vector<char> buf_;  // unconsumed bytes (a partial line), padded for simdjson
  std::size_t used_ = 0;
  bool skipping_long_ = false;
  std::uint64_t seq_ = 0;
};

/// Accepted summaries, newest first.
std::vector<trace_summary> select(const summary_map& all, const filters& f);

/// Terminal settings for the text views.
struct style {
  int width = 100;
  bool color = false;
};

/// The trace list (one line per trace, newest first).
void render_list(std::string& out, const std::vector<trace_summary>& traces, const style& st);
/// One trace as an indented tree with a bar per span.
void render_tree(std::string& out, const trace_tree& t, const style& st);
/// One self-contained HTML page: the trace list and a waterfall per trace.
void render_html(std::string& out, const std::vector<trace_tree>& traces, const input_counts& counts);
/// The Chrome Trace Event format ({"traceEvents": [...]}).
void render_chrome(std::string& out, const std::vector<trace_tree>& traces);

// Text helpers shared by the views.
std::string format_duration(std::int64_t ns);
std::string format_time(std::int64_t ns, int fraction_digits);  // "2026-11-26 09:41:01.240 UTC"
std::optional<std::int64_t> parse_rfc3339(std::string_view s);
void append_json_string(std::string& out, std::string_view s, bool html_safe = false);
std::size_t display_width(std::string_view s);
std::string fit(std::string_view s, std::size_t width);  // cut to width with "…", else padded

}  // namespace beeline::view
