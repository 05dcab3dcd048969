#include "engine/util/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "engine/util/error.h"
#include "engine/util/sigbus_guard.h"

namespace dlx {

MappedFile::MappedFile(const std::string& path) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw Error(errno == ENOENT ? ErrorCode::kNotFound : ErrorCode::kInvalidModel,
                path + ": cannot open: " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(ErrorCode::kInvalidModel, path + ": not a regular file");
  }
  size_ = static_cast<size_t>(st.st_size);
  mtime_ns_ = int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      ::close(fd);
      throw Error(ErrorCode::kInvalidModel, path + ": mmap failed: " + std::strerror(errno));
    }
    data_ = static_cast<const uint8_t*>(p);
    guard_slot_ = sigbus_guard::register_mapping(data_, size_);
  }
  fd_ = fd;
}

MappedFile::~MappedFile() {
  sigbus_guard::unregister(guard_slot_);
  if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
  if (fd_ >= 0) ::close(fd_);
}

std::string MappedFile::changed() const {
  if (sigbus_guard::spoiled(guard_slot_)) return "was truncated or rewritten in place while mapped";
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return "cannot be checked: " + std::string(std::strerror(errno));
  const int64_t mtime = int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
  if (static_cast<size_t>(st.st_size) != size_ || mtime != mtime_ns_) {
    return "was modified on disk while mapped";
  }
  return {};
}

std::string read_text_file(const std::string& path, size_t max_bytes) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    throw Error(ErrorCode::kNotFound, path + ": cannot open file: " + std::strerror(errno));
  }
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    throw Error(ErrorCode::kInvalidModel, path + ": not a regular file");
  }
  const auto size = static_cast<uint64_t>(st.st_size);
  if (size > max_bytes) {
    throw Error(ErrorCode::kInvalidModel, path + ": " + std::to_string(size) +
                                              " bytes is larger than the limit of " +
                                              std::to_string(max_bytes) + " bytes for this file");
  }
  // Read what fstat reported and no more: a file that grows meanwhile stays bounded.
  std::string text(static_cast<size_t>(size), '\0');
  size_t got = 0;
  while (got < text.size()) {
    const ssize_t n = ::read(fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error(ErrorCode::kNotFound, path + ": read failed: " + std::strerror(errno));
    if (n == 0) break;  // truncated meanwhile
    got += static_cast<size_t>(n);
  }
  text.resize(got);
  return text;
}

}  // namespace dlx
