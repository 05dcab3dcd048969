#include "engine/formats/safetensors_writer.h"

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "engine/util/error.h"

namespace dlx {

int64_t TensorDecl::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

namespace {

const char* safetensors_dtype(DType t) {
  switch (t) {
    case DType::kF32:
      return "F32";
    case DType::kF16:
      return "F16";
    case DType::kBF16:
      return "BF16";
    case DType::kI32:
      return "I32";
    case DType::kQ8_0:
    case DType::kQ4_0:
      break;
  }
  throw Error(ErrorCode::kInvalidArgument,
              std::string("safetensors has no ") + dtype_name(t) + " type (write GGUF instead)");
}

}  // namespace

SafetensorsWriter::SafetensorsWriter(const std::string& path, std::vector<TensorDecl> tensors,
                                     const std::map<std::string, std::string>& metadata)
    : path_(path) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const TensorDecl& t : tensors) {
    if (header.contains(t.name)) {
      throw Error(ErrorCode::kInternal, path + ": tensor '" + t.name + "' declared twice");
    }
    const uint64_t end = offset + t.nbytes();
    header[t.name] = {
        {"dtype", safetensors_dtype(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, end}}};
    offset = end;
  }
  total_ = offset;
  std::string text = header.dump();
  // Readers (and our own loader) like the data section 8-byte aligned: pad with spaces, as the
  // reference implementation does.
  while ((text.size() + 8) % 8 != 0) text.push_back(' ');

  file_ = std::fopen(path.c_str(), "wb");
  if (!file_) {
    throw Error(ErrorCode::kNotFound, path + ": cannot create file: " + std::strerror(errno));
  }
  uint8_t len[8];
  uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(n >> (8 * i));
  if (std::fwrite(len, 1, 8, file_) != 8 || std::fwrite(text.data(), 1, n, file_) != n) {
    throw Error(ErrorCode::kInternal, path + ": write failed: " + std::strerror(errno));
  }
}

SafetensorsWriter::~SafetensorsWriter() {
  if (file_) std::fclose(file_);
}

void SafetensorsWriter::write(const void* data, size_t bytes) {
  if (!file_) throw Error(ErrorCode::kInternal, path_ + ": write after finish");
  if (written_ + bytes > total_) {
    throw Error(ErrorCode::kInternal, path_ + ": more tensor bytes than declared");
  }
  if (std::fwrite(data, 1, bytes, file_) != bytes) {
    throw Error(ErrorCode::kInternal,
                path_ + ": write failed (disk full?): " + std::strerror(errno));
  }
  written_ += bytes;
}

void SafetensorsWriter::finish() {
  if (!file_) return;
  if (written_ != total_) {
    throw Error(ErrorCode::kInternal, path_ + ": " + std::to_string(written_) + " of " +
                                          std::to_string(total_) + " tensor bytes written");
  }
  const bool ok = std::fflush(file_) == 0;
  const bool closed = std::fclose(file_) == 0;
  file_ = nullptr;
  if (!ok || !closed) {
    throw Error(ErrorCode::kInternal, path_ + ": closing failed: " + std::strerror(errno));
  }
}

}  // namespace dlx
