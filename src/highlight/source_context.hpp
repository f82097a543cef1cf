// Private: the source lines around a stack frame, read from disk through a cache bounded by bytes (least
// recently used out), as Highlight's Node SDK did (5 lines each side, lines cut at 1000 characters).
#pragma once

#include <beeline/highlight.hpp>

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace beeline::highlight::detail {

/// Lines of context on each side of a frame's line.
inline constexpr int context_lines = 5;
/// A longer line is cut (at a UTF-8 boundary) to this many bytes.
inline constexpr std::size_t max_line_bytes = 1000;
/// At most this many files are cached, whatever their size (Node's limit).
inline constexpr std::size_t max_cached_files = 1000;
/// Files larger than this are not read at all.
inline constexpr std::size_t max_source_file_bytes = 64u << 20;

class source_context_cache {
 public:
  /// `size_mb` <= 0: no limit on the bytes held. One MB is 1,000,000 bytes (Node's arithmetic).
  explicit source_context_cache(double size_mb);

  /// Fills `f`'s `line_content`, `lines_before` and `lines_after` from `f.file`; false (frame unchanged) when
  /// the file cannot be read or has no line `f.line`.
  bool fill(stack_frame& f);

  std::size_t max_bytes() const noexcept { return max_bytes_; }  ///< 0: unlimited
  std::size_t bytes() const;    ///< held now: lines of cached files, plus a small cost per entry
  std::size_t files() const;    ///< entries now (unreadable files too)
  std::uint64_t reads() const;  ///< files read from disk so far
  std::uint64_t hits() const;   ///< lookups answered from the cache

 private:
  struct file_lines {
    bool readable = false;
    std::vector<std::string> lines;  // each with its "\n"
    std::size_t cost = 0;
  };
  using entry = std::pair<std::string, std::shared_ptr<const file_lines>>;

  static std::shared_ptr<const file_lines> read(const std::string& path);
  void insert_locked(const std::string& path, std::shared_ptr<const file_lines> f);

  std::size_t max_bytes_;
  mutable std::mutex mutex_;
  std::list<entry> lru_;  // most recently used first
  std::unordered_map<std::string, std::list<entry>::iterator> index_;
  std::size_t bytes_ = 0;
  std::uint64_t reads_ = 0;
  std::uint64_t hits_ = 0;
};

}  // namespace beeline::highlight::detail
