// Honeycomb's batch events API, as libhoney speaks it: one POST per dataset per batch, a JSON array of
// `{"time","samplerate","data"}`, and a response with one status per event.
#include <beeline/http_exporter.hpp>

#include "export/ca_file.hpp"
#include "export/event_access.hpp"
#include "export/http_batch_exporter.hpp"

#include <simdjson.h>

#include <algorithm>
#include <atomic>
#include <stdexcept>

namespace beeline {
namespace {

// The dataset as one URL path segment: everything but RFC 3986's unreserved characters is escaped (a `/`
// must not split it; Honeycomb accepts escaped spaces and the like).
std::string path_segment(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                            c == '-' || c == '_' || c == '.' || c == '~';
    if (unreserved) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

class honeycomb_exporter final : public detail::http_batch_exporter {
 public:
  /// Honeycomb's limit for a batch request is 5 MB; a body reaching this size ends its request.
  static constexpr std::size_t max_body_bytes = 4'500'000;

  /// A response holds one status per event: `{"status":202}` is 15 bytes with its comma, a refusal with its
  /// message a few dozen. The body read for a request is bounded by this much per event (at least the
  /// options' `max_response_bytes`, at most `max_statuses_bytes`), so the statuses of a large batch are
  /// always read.
  static constexpr std::size_t status_bytes_per_event = 128;
  static constexpr std::size_t max_statuses_bytes = 32 * 1024 * 1024;

  honeycomb_exporter(detail::http_target target, honeycomb_exporter_options options)
      : http_batch_exporter(std::move(target), options.http),
        write_key_(std::move(options.write_key)),
        max_response_bytes_(options.http.max_response_bytes) {}

  ~honeycomb_exporter() override { client_.shutdown(); }

  export_result export_batch(std::span<const event> batch) override {
    batches_.fetch_add(1, std::memory_order_relaxed);
    // Group by dataset, keeping each group's order (a batch usually holds one).
    std::vector<std::pair<std::string_view, std::vector<std::size_t>>> groups;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const std::string_view ds = batch[i].dataset();
      auto it = std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == ds; });
      if (it == groups.end()) {
        groups.push_back({ds, {}});
        it = groups.end() - 1;
      }
      it->second.push_back(i);
    }
    // One request per dataset, split where a body would pass Honeycomb's batch size limit. Each span goes
    // with its span events and links (events of their own); `is_span` maps the response's per-event statuses
    // back to spans.
    struct part {
      detail::http_request req;
      std::shared_ptr<std::vector<bool>> is_span = std::make_shared<std::vector<bool>>();
      std::size_t spans = 0;
    };
    std::vector<part> parts;
    for (const auto& [dataset, indexes] : groups) {
      for (std::size_t k = 0; k < indexes.size(); ++k) {
        if (k == 0 || parts.back().req.body.size() >= max_body_bytes) {
          if (k) parts.back().req.body.push_back(']');
          parts.emplace_back();
          parts.back().req.path = "/1/batch/" + path_segment(dataset);
          parts.back().req.headers = {{"X-Honeycomb-Team", write_key_}, {"Content-Type", "application/json"}};
          parts.back().req.body.reserve(std::min<std::size_t>(indexes.size() * 640, max_body_bytes));
          parts.back().req.body.push_back('[');
        } else {
          parts.back().req.body.push_back(',');
        }
        // The records were written on other cores: ask for the next ones' lines while this one is encoded.
        if (k + 2 < indexes.size()) detail::prefetch_for_encoding(batch[indexes[k + 2]], false);
        if (k + 1 < indexes.size()) detail::prefetch_for_encoding(batch[indexes[k + 1]], true);
        part& p = parts.back();
        const event& ev = batch[indexes[k]];
        append_event_json(ev, p.req.body, false);
        p.is_span->push_back(true);
        ++p.spans;
        for (std::size_t a = 0; a < ev.annotation_count(); ++a) {
          p.req.body.push_back(',');
          append_annotation_json(ev, a, p.req.body, false);
          p.is_span->push_back(false);
        }
      }
      parts.back().req.body.push_back(']');
    }
    for (part& p : parts)
      p.req.max_response_bytes = std::max(
          max_response_bytes_, std::min(p.is_span->size() * status_bytes_per_event, max_statuses_bytes));
    const std::uint64_t seq = settle_.open(parts.size());
    std::size_t submitted = 0;
    try {
      for (part& p : parts) {
        const std::size_t n = p.spans;
        auto is_span = p.is_span;
        client_.submit(std::move(p.req), [this, seq, n, is_span](detail::http_outcome o) {
          settle_response(seq, n, *is_span, o);
        });
        ++submitted;
      }
    } catch (const std::exception& e) {
      // Out of memory, most likely: the parts not handed over fail, so later batches are not held behind.
      for (std::size_t i = submitted; i < parts.size(); ++i)
        settle_failed(seq, parts[i].spans, e.what());
    }
    return {0, 0, {}, batch.size()};
  }

 private:
  // Reads Honeycomb's per-event statuses: `[{"status":202}, {"status":400,"error":"..."}]`, in request order.
  // A span whose status cannot be read (no body, a body cut short or too large, not a status list, an entry
  // missing) is counted as failed with the reason: never as exported, and never sent again (the 2xx says
  // Honeycomb took the request; resending could duplicate it).
  void settle_response(std::uint64_t seq, std::size_t n, const std::vector<bool>& is_span,
                       const detail::http_outcome& o) {
    if (!o.delivered) return settle_failed(seq, n, o.error);
    if (!o.body_complete)  // the client counted the bad response
      return settle_failed(seq, n, "Honeycomb's per-event statuses unread: " + o.error);
    thread_local simdjson::dom::parser parser;
    simdjson::dom::array statuses;
    if (parser.parse(simdjson::padded_string(o.body)).get_array().get(statuses) != simdjson::SUCCESS) {
      unreadable_.fetch_add(1, std::memory_order_relaxed);
      std::string start = o.body.substr(0, 100);
      for (char& c : start)
        if (static_cast<unsigned char>(c) < 0x20) c = ' ';
      return settle_failed(seq, n,
                           "Honeycomb's response is not a list of per-event statuses: '" + start + "'");
    }
    std::size_t accepted = 0;
    std::size_t refused = 0;
    std::size_t unknown = 0;
    std::string reason;
    std::size_t i = 0;
    for (simdjson::dom::element entry : statuses) {
      if (i == is_span.size()) break;
      const bool span_entry = is_span[i++];
      std::int64_t status = 0;
      if (entry["status"].get_int64().get(status) != simdjson::SUCCESS) {
        if (span_entry) ++unknown;
        continue;
      }
      if (status >= 200 && status < 300) {
        if (span_entry) ++accepted;
        continue;
      }
      if (!span_entry) {  // a span event or link refused: counted on the wire, the span itself went
        rejected_.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      ++refused;
      std::string_view message;
      if (reason.empty()) {
        reason = "Honeycomb refused events: status " + std::to_string(status);
        // Honeycomb writes `error` (libhoney-js reads `err` and loses it).
        if (entry["error"].get_string().get(message) == simdjson::SUCCESS ||
            entry["err"].get_string().get(message) == simdjson::SUCCESS)
          reason.append(": ").append(message.substr(0, 200));
      }
    }
    const std::size_t listed = i;
    for (; i < is_span.size(); ++i)  // no status at all
      if (is_span[i]) ++unknown;
    std::string unknown_reason;
    if (unknown) {
      unreadable_.fetch_add(1, std::memory_order_relaxed);
      unknown_reason = "Honeycomb's response has no readable status for " + std::to_string(unknown) +
                       " spans (" + std::to_string(listed) + " statuses for " +
                       std::to_string(is_span.size()) + " events)";
    }
    settle_partly(seq, accepted, refused, reason, unknown, unknown_reason);
  }

  std::string write_key_;
  std::size_t max_response_bytes_;
};

}  // namespace

std::shared_ptr<http_exporter> make_honeycomb_exporter(honeycomb_exporter_options options) {
  std::string error;
  auto target = detail::parse_http_url(options.api_host, error);
  if (!target) throw std::invalid_argument("honeycomb exporter: " + error);
  if (target->tls && !options.http.ca_file.empty() && !detail::check_ca_file(options.http.ca_file, error))
    throw std::invalid_argument("honeycomb exporter: " + error);
  return std::make_shared<honeycomb_exporter>(std::move(*target), std::move(options));
}

}  // namespace beeline
