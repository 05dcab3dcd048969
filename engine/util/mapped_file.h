// MappedFile: a read-only memory map of a whole file (RAII). Weights are read through it, so a
// model is paged in on demand and shared between processes instead of copied. The mapping is
// guarded against the file being rewritten or truncated in place (sigbus_guard.h): changed()
// tells its owner, which then fails the work that read it instead of the process dying.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace dlx {

class MappedFile {
 public:
  explicit MappedFile(const std::string& path);  // throws Error (kNotFound / kInvalidModel)
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // "" while the file is as it was mapped; else what happened to it ("was truncated or
  // rewritten in place while mapped", "was modified on disk"). One fstat: cheap per forward.
  std::string changed() const;

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  int fd_ = -1;          // kept open to notice in-place changes of this inode
  int guard_slot_ = -1;  // sigbus_guard registration
  int64_t mtime_ns_ = 0;
};

// Size caps for the text files of a model folder, far above any real one, so a hostile or
// mistaken path (a huge file, /dev/zero, a FIFO) is an error instead of exhausting memory.
inline constexpr size_t kMaxConfigFileBytes = 16u << 20;      // config.json, *_config.json
inline constexpr size_t kMaxTokenizerFileBytes = 256u << 20;  // tokenizer.json
inline constexpr size_t kMaxTemplateFileBytes = 1u << 20;     // chat_template.jinja

// Reads a whole text file of at most max_bytes. Only regular files are read (a FIFO or device
// is refused without blocking). Throws Error kNotFound (missing or unreadable) or kInvalidModel
// (not a regular file, larger than max_bytes), naming the path.
std::string read_text_file(const std::string& path, size_t max_bytes = kMaxConfigFileBytes);

}  // namespace dlx
