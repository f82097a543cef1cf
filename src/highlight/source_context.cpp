#include "highlight/source_context.hpp"

#include <cmath>
#include <fstream>
#include <iterator>

namespace beeline::highlight::detail {

namespace {

// What an entry costs besides its text: the key and bookkeeping, so that unreadable files count too.
constexpr std::size_t entry_overhead = 64;

std::size_t utf8_cut(std::string_view s, std::size_t limit) noexcept {
  if (s.size() <= limit) return s.size();
  std::size_t n = limit;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80)
    --n;
  return n;
}

}  // namespace

source_context_cache::source_context_cache(double size_mb)
    : max_bytes_(size_mb > 0 && std::isfinite(size_mb) ? static_cast<std::size_t>(size_mb * 1e6) : 0) {}

std::shared_ptr<const source_context_cache::file_lines> source_context_cache::read(const std::string& path) {
  auto f = std::make_shared<file_lines>();
  f->cost = entry_overhead + path.size();
  std::ifstream in(path, std::ios::binary);
  if (!in) return f;
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size < 0 || static_cast<std::uint64_t>(size) > max_source_file_bytes) return f;
  in.seekg(0, std::ios::beg);
  std::string text(static_cast<std::size_t>(size), '\0');
  if (!in.read(text.data(), size)) return f;
  f->readable = true;
  std::string_view rest(text);
  while (!rest.empty()) {
    const std::size_t nl = rest.find('\n');
    const std::string_view line = rest.substr(0, nl);
    std::string kept(line.substr(0, utf8_cut(line, max_line_bytes)));
    kept.push_back('\n');
    f->cost += kept.size() + sizeof(std::string);
    f->lines.push_back(std::move(kept));
    if (nl == std::string_view::npos) break;
    rest.remove_prefix(nl + 1);  // a final "\n" ends the last line; it does not start another
  }
  return f;
}

void source_context_cache::insert_locked(const std::string& path, std::shared_ptr<const file_lines> f) {
  if (index_.count(path)) return;                  // another thread read it meanwhile
  if (max_bytes_ && f->cost > max_bytes_) return;  // would evict everything and still not fit: not kept
  lru_.emplace_front(path, f);
  index_.emplace(path, lru_.begin());
  bytes_ += f->cost;
  while ((max_bytes_ && bytes_ > max_bytes_) || lru_.size() > max_cached_files) {
    const entry& victim = lru_.back();
    bytes_ -= victim.second->cost;
    index_.erase(victim.first);
    lru_.pop_back();
  }
}

bool source_context_cache::fill(stack_frame& frame) {
  if (frame.file.empty() || frame.line <= 0) return false;
  std::shared_ptr<const file_lines> f;
  {
    std::lock_guard lock(mutex_);
    if (const auto it = index_.find(frame.file); it != index_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
      f = it->second->second;
      ++hits_;
    }
  }
  if (!f) {  // read outside the lock: a slow disk does not hold up other reporters
    f = read(frame.file);
    std::lock_guard lock(mutex_);
    ++reads_;
    insert_locked(frame.file, f);
  }
  const std::size_t n = f->lines.size();
  const auto line = static_cast<std::size_t>(frame.line);
  if (!f->readable || line > n) return false;
  frame.line_content = f->lines[line - 1];
  frame.lines_before.clear();
  frame.lines_after.clear();
  for (std::size_t i = line > context_lines ? line - context_lines : 1; i < line; ++i)
    frame.lines_before += f->lines[i - 1];
  for (std::size_t i = line + 1; i <= n && i <= line + context_lines; ++i)
    frame.lines_after += f->lines[i - 1];
  return true;
}

std::size_t source_context_cache::bytes() const {
  std::lock_guard lock(mutex_);
  return bytes_;
}
std::size_t source_context_cache::files() const {
  std::lock_guard lock(mutex_);
  return lru_.size();
}
std::uint64_t source_context_cache::reads() const {
  std::lock_guard lock(mutex_);
  return reads_;
}
std::uint64_t source_context_cache::hits() const {
  std::lock_guard lock(mutex_);
  return hits_;
}

}  // namespace beeline::highlight::detail
