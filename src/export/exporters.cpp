#include <beeline/exporter.hpp>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace beeline {
namespace {

class jsonl_exporter final : public exporter {
 public:
  jsonl_exporter(std::FILE* file, bool owned) : file_(file), owned_(owned) {}
  ~jsonl_exporter() override {
    if (owned_) std::fclose(file_);
  }

  export_result export_batch(std::span<const event> batch) override {
    buffer_.clear();
    for (const event& ev : batch) {
      append_event_json(ev, buffer_);
      buffer_.push_back('\n');
      for (std::size_t i = 0; i < ev.annotation_count(); ++i) {  // span events and links, one line each
        append_annotation_json(ev, i, buffer_);
        buffer_.push_back('\n');
      }
    }
    // One write per batch; a short write loses the batch (we cannot tell which lines landed).
    if (std::fwrite(buffer_.data(), 1, buffer_.size(), file_) != buffer_.size() || std::fflush(file_) != 0) {
      std::clearerr(file_);
      return {0, batch.size(), std::strerror(errno)};
    }
    if (buffer_.capacity() > (1u << 20)) std::string().swap(buffer_);
    return {batch.size(), 0, {}};
  }

  void shutdown() override { std::fflush(file_); }

 private:
  std::FILE* file_;
  bool owned_;
  std::string buffer_;
};

class discard_exporter final : public exporter {
 public:
  export_result export_batch(std::span<const event> batch) override { return {batch.size(), 0, {}}; }
};

}  // namespace

std::shared_ptr<exporter> make_jsonl_exporter(const std::string& path) {
  if (path.empty() || path == "-") return std::make_shared<jsonl_exporter>(stdout, false);
  // Refused here, when the tracer is configured, rather than losing every batch later.
  std::FILE* f = std::fopen(path.c_str(), "ae");
  if (!f) throw std::invalid_argument("cannot open jsonl_path " + path + ": " + std::strerror(errno));
  try {
    return std::make_shared<jsonl_exporter>(f, true);
  } catch (...) {
    std::fclose(f);
    throw;
  }
}

std::shared_ptr<exporter> make_discard_exporter() {
  return std::make_shared<discard_exporter>();
}

export_result memory_exporter::export_batch(std::span<const event> batch) {
  std::lock_guard lk(mutex_);
  for (const event& ev : batch) {
    buffer_.clear();
    append_event_json(ev, buffer_);
    lines_.push_back(buffer_);
    for (std::size_t i = 0; i < ev.annotation_count(); ++i) {
      buffer_.clear();
      append_annotation_json(ev, i, buffer_);
      lines_.push_back(buffer_);
    }
  }
  ++batches_;
  return {batch.size(), 0, {}};
}

std::vector<std::string> memory_exporter::lines() const {
  std::lock_guard lk(mutex_);
  return lines_;
}

std::size_t memory_exporter::batch_count() const {
  std::lock_guard lk(mutex_);
  return batches_;
}

void memory_exporter::clear() {
  std::lock_guard lk(mutex_);
  lines_.clear();
  batches_ = 0;
}

}  // namespace beeline
