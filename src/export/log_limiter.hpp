// Private: keeps repeated diagnostics from flooding the log. The first occurrence of a reason is logged at
// once, in full; further occurrences within the interval are only counted, and one summary line per reason,
// at most once per interval, says how many there were and what they cost ("(and 12300 more events in 246
// batches in the last 10.0 s)"). A reason quiet for a whole interval is forgotten, so its next occurrence is
// logged in full again. At most `max_reasons` reasons are tracked at once; the rest share one entry, so a
// backend that puts a changing detail in every error cannot flood the log either.
#pragma once

#include <beeline/config.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace beeline::detail {

class log_limiter {
 public:
  using clock = std::chrono::steady_clock;
  /// Where lines go (called without the limiter's lock held).
  using sink = std::function<void(log_level, std::string_view)>;

  explicit log_limiter(clock::duration interval, std::size_t max_reasons = 16)
      : interval_(std::max(interval, clock::duration::zero())),
        max_reasons_(std::max<std::size_t>(max_reasons, 1)) {}

  /// One occurrence of `reason` that cost `items` `unit` (events, spans, attempts). `first_line` makes the
  /// line logged when the occurrence is logged in full (it is called only then). `occurrence_unit`
  /// ("batches", "requests"; may be empty) names what an occurrence is in the summary.
  template <class FirstLine>
  void note(const sink& out, log_level level, std::string_view reason, std::uint64_t items,
            std::string_view unit, std::string_view occurrence_unit, FirstLine&& first_line,
            clock::time_point now = clock::now()) {
    std::vector<std::pair<log_level, std::string>> lines;
    {
      std::lock_guard lk(mutex_);
      entry* e = find(reason);
      if (!e && entries_.size() >= max_reasons_) {  // counted as occurrences only: units may differ
        reason = overflow_reason;
        e = find(reason);
        unit = occurrence_unit = {};
        items = 1;
      }
      if (!e) {
        add(reason, level, unit, occurrence_unit, now);
        lines.emplace_back(level, first_line());
      } else if (e->pending_occurrences == 0 && now - e->last_line >= interval_) {
        e->last_line = now;
        lines.emplace_back(level, first_line());
      } else {
        e->pending_items += items;
        ++e->pending_occurrences;
        due(now, false, lines);
      }
    }
    emit(out, lines);
  }

  /// Writes the summaries that are due (every pending one when `final`) and forgets quiet reasons.
  void tick(const sink& out, bool final = false, clock::time_point now = clock::now()) {
    std::vector<std::pair<log_level, std::string>> lines;
    {
      std::lock_guard lk(mutex_);
      due(now, final, lines);
    }
    emit(out, lines);
  }

  /// When the next summary is due; `time_point::max()` if none is pending.
  clock::time_point next_due() const {
    std::lock_guard lk(mutex_);
    auto at = clock::time_point::max();
    for (const entry& e : entries_)
      if (e.pending_occurrences) at = std::min(at, e.last_line + interval_);
    return at;
  }

 private:
  static constexpr std::string_view overflow_reason = "failures for other reasons";

  struct entry {
    std::string reason;
    log_level level;
    std::string unit;
    std::string occurrence_unit;
    clock::time_point last_line;
    std::uint64_t pending_items = 0;
    std::uint64_t pending_occurrences = 0;
  };

  entry* find(std::string_view reason) {
    for (entry& e : entries_)
      if (e.reason == reason) return &e;
    return nullptr;
  }

  entry* add(std::string_view reason, log_level level, std::string_view unit,
             std::string_view occurrence_unit, clock::time_point now) {
    entries_.push_back(
        {std::string(reason), level, std::string(unit), std::string(occurrence_unit), now, 0, 0});
    return &entries_.back();
  }

  // Under the lock.
  void due(clock::time_point now, bool final, std::vector<std::pair<log_level, std::string>>& lines) {
    for (auto it = entries_.begin(); it != entries_.end();) {
      const bool elapsed = now - it->last_line >= interval_;
      if (it->pending_occurrences && (final || elapsed)) {
        lines.emplace_back(it->level, summary(*it, now));
        it->pending_items = 0;
        it->pending_occurrences = 0;
        it->last_line = now;
        ++it;
      } else if (!it->pending_occurrences && elapsed) {
        it = entries_.erase(it);
      } else {
        ++it;
      }
    }
  }

  static std::string summary(const entry& e, clock::time_point now) {
    const double seconds = std::chrono::duration<double>(now - e.last_line).count();
    char took[32];
    std::snprintf(took, sizeof(took), "%.1f", seconds);
    std::string line = e.reason + " (and " + std::to_string(e.pending_items) + " more";
    if (!e.unit.empty()) line += " " + e.unit;
    if (!e.occurrence_unit.empty())
      line += " in " + std::to_string(e.pending_occurrences) + " " + e.occurrence_unit;
    line += " in the last " + std::string(took) + " s)";
    return line;
  }

  static void emit(const sink& out, const std::vector<std::pair<log_level, std::string>>& lines) noexcept {
    if (!out) return;
    for (const auto& [level, text] : lines) {
      try {
        out(level, text);
      } catch (...) {
      }
    }
  }

  const clock::duration interval_;
  const std::size_t max_reasons_;
  mutable std::mutex mutex_;
  std::vector<entry> entries_;  // guarded by mutex_
};

}  // namespace beeline::detail
