#include "engine/formats/gguf_writer.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "engine/util/error.h"

namespace dlx {
namespace {

[[noreturn]] void io_error(const std::string& path, const char* what) {
  const int e = errno;
  // A full disk or a failing device: nothing the caller did wrong, and retryable elsewhere.
  throw Error(ErrorCode::kUnavailable, path + ": " + what + " failed: " + std::strerror(e), "out")
      .with_reason(e == ENOSPC || e == EDQUOT ? "disk_full" : "io_error");
}

}  // namespace

GgufWriter::GgufWriter(std::string path, uint32_t alignment)
    : path_(std::move(path)),
      part_(path_ + ".part-" + std::to_string(::getpid())),
      alignment_(alignment) {}

GgufWriter::~GgufWriter() {
  if (file_) std::fclose(file_);
  if (!finished_) {
    std::error_code ec;
    std::filesystem::remove(part_, ec);
  }
}

void GgufWriter::key(const std::string& k, GgufType t) {
  if (file_) throw Error(ErrorCode::kInternal, "gguf writer: metadata after the header");
  if (std::find(keys_.begin(), keys_.end(), k) != keys_.end()) {
    throw Error(ErrorCode::kInternal, "gguf writer: key '" + k + "' added twice");
  }
  keys_.push_back(k);
  ++n_kv_;
  const uint64_t n = k.size();
  const auto* p = reinterpret_cast<const uint8_t*>(&n);
  meta_.insert(meta_.end(), p, p + 8);
  meta_.insert(meta_.end(), k.begin(), k.end());
  const auto tv = static_cast<uint32_t>(t);
  p = reinterpret_cast<const uint8_t*>(&tv);
  meta_.insert(meta_.end(), p, p + 4);
}

template <typename T>
static void append(std::vector<uint8_t>& out, T v) {
  const auto* p = reinterpret_cast<const uint8_t*>(&v);
  out.insert(out.end(), p, p + sizeof(T));
}

static void append_string(std::vector<uint8_t>& out, const std::string& s) {
  append<uint64_t>(out, s.size());
  out.insert(out.end(), s.begin(), s.end());
}

void GgufWriter::add_string(const std::string& k, const std::string& v) {
  key(k, GgufType::kString);
  append_string(meta_, v);
}
void GgufWriter::add_u32(const std::string& k, uint32_t v) {
  key(k, GgufType::kU32);
  append(meta_, v);
}
void GgufWriter::add_i32(const std::string& k, int32_t v) {
  key(k, GgufType::kI32);
  append(meta_, v);
}
void GgufWriter::add_f32(const std::string& k, float v) {
  key(k, GgufType::kF32);
  append(meta_, v);
}
void GgufWriter::add_bool(const std::string& k, bool v) {
  key(k, GgufType::kBool);
  append<uint8_t>(meta_, v ? 1 : 0);
}
void GgufWriter::add_strings(const std::string& k, const std::vector<std::string>& v) {
  key(k, GgufType::kArray);
  append(meta_, static_cast<uint32_t>(GgufType::kString));
  append<uint64_t>(meta_, v.size());
  for (const auto& s : v) append_string(meta_, s);
}
void GgufWriter::add_i32s(const std::string& k, const std::vector<int32_t>& v) {
  key(k, GgufType::kArray);
  append(meta_, static_cast<uint32_t>(GgufType::kI32));
  append<uint64_t>(meta_, v.size());
  for (int32_t x : v) append(meta_, x);
}
void GgufWriter::add_f32s(const std::string& k, const std::vector<float>& v) {
  key(k, GgufType::kArray);
  append(meta_, static_cast<uint32_t>(GgufType::kF32));
  append<uint64_t>(meta_, v.size());
  for (float x : v) append(meta_, x);
}

void GgufWriter::add_value(const std::string& k, const GgufValue& v) {
  auto scalar = [&](GgufType t, int64_t i, double f) {
    switch (t) {
      case GgufType::kU8:
        append<uint8_t>(meta_, static_cast<uint8_t>(i));
        break;
      case GgufType::kI8:
        append<int8_t>(meta_, static_cast<int8_t>(i));
        break;
      case GgufType::kBool:
        append<uint8_t>(meta_, i ? 1 : 0);
        break;
      case GgufType::kU16:
        append<uint16_t>(meta_, static_cast<uint16_t>(i));
        break;
      case GgufType::kI16:
        append<int16_t>(meta_, static_cast<int16_t>(i));
        break;
      case GgufType::kU32:
        append<uint32_t>(meta_, static_cast<uint32_t>(i));
        break;
      case GgufType::kI32:
        append<int32_t>(meta_, static_cast<int32_t>(i));
        break;
      case GgufType::kU64:
        append<uint64_t>(meta_, static_cast<uint64_t>(i));
        break;
      case GgufType::kI64:
        append<int64_t>(meta_, i);
        break;
      case GgufType::kF32:
        append<float>(meta_, static_cast<float>(f));
        break;
      case GgufType::kF64:
        append<double>(meta_, f);
        break;
      default:
        break;
    }
  };
  key(k, v.type);
  if (v.type == GgufType::kString) {
    append_string(meta_, v.s);
  } else if (v.type != GgufType::kArray) {
    scalar(v.type, v.i, v.f);
  } else {
    append(meta_, static_cast<uint32_t>(v.elem_type));
    append<uint64_t>(meta_, v.array_size());
    for (const auto& x : v.strings) append_string(meta_, x);
    for (int64_t x : v.ints) scalar(v.elem_type, x, 0);
    for (double x : v.floats) scalar(v.elem_type, 0, x);
  }
}

void GgufWriter::add_tensor(const std::string& name, DType dtype,
                            const std::vector<int64_t>& shape) {
  add_tensor(name, ggml_type_of(dtype), shape);
}

void GgufWriter::add_tensor(const std::string& name, uint32_t ggml_type,
                            const std::vector<int64_t>& shape) {
  if (file_) throw Error(ErrorCode::kInternal, "gguf writer: tensor after the header");
  const GgmlTypeInfo* ti = ggml_type_info(ggml_type);
  Decl d;
  d.name = name;
  d.type = ggml_type;
  d.ne.assign(shape.rbegin(), shape.rend());
  int64_t rows = 1;
  for (size_t i = 1; i < d.ne.size(); ++i) rows *= d.ne[i];
  if (!ti || d.ne.empty() || d.ne[0] % ti->block_values != 0) {
    throw Error(ErrorCode::kInternal,
                "gguf writer: tensor '" + name + "' has an unknown type or rows of partial blocks");
  }
  const size_t rb = static_cast<size_t>(d.ne[0] / ti->block_values) * ti->block_bytes;
  d.nbytes = rb * static_cast<uint64_t>(rows);
  uint64_t off = 0;
  if (!tensors_.empty()) {
    const Decl& last = tensors_.back();
    off = (last.offset + last.nbytes + alignment_ - 1) / alignment_ * alignment_;
  }
  d.offset = off;
  tensors_.push_back(std::move(d));
}

uint64_t GgufWriter::data_bytes() const {
  uint64_t n = 0;
  for (const auto& t : tensors_) n += t.nbytes;
  return n;
}

void GgufWriter::put(const void* p, size_t n) {
  if (n && std::fwrite(p, 1, n, file_) != n) io_error(part_, "write");
  pos_ += n;
}

void GgufWriter::pad_to(uint64_t multiple) {
  static const uint8_t zeros[64] = {};
  while (pos_ % multiple != 0) {
    const uint64_t n = std::min<uint64_t>(sizeof zeros, multiple - pos_ % multiple);
    put(zeros, n);
  }
}

void GgufWriter::write_header() {
  if (alignment_ != GgufFile::kDefaultAlignment &&
      std::find(keys_.begin(), keys_.end(), "general.alignment") == keys_.end()) {
    add_u32("general.alignment", alignment_);
  }
  file_ = std::fopen(part_.c_str(), "wb");
  if (!file_) io_error(part_, "create");
  std::vector<uint8_t> head;
  append(head, GgufFile::kMagic);
  append<uint32_t>(head, 3);
  append<uint64_t>(head, tensors_.size());
  append<uint64_t>(head, n_kv_);
  put(head.data(), head.size());
  put(meta_.data(), meta_.size());
  std::vector<uint8_t>().swap(meta_);
  for (const auto& t : tensors_) {
    std::vector<uint8_t> info;
    append_string(info, t.name);
    append<uint32_t>(info, static_cast<uint32_t>(t.ne.size()));
    for (int64_t n : t.ne) append<uint64_t>(info, static_cast<uint64_t>(n));
    append(info, t.type);
    append(info, t.offset);
    put(info.data(), info.size());
  }
  pad_to(alignment_);
  data_pos_ = pos_;
}

void GgufWriter::write(const void* data, size_t bytes) {
  if (!file_) throw Error(ErrorCode::kInternal, "gguf writer: data before the header");
  const auto* p = static_cast<const uint8_t*>(data);
  while (bytes > 0) {
    if (current_ >= tensors_.size()) {
      throw Error(ErrorCode::kInternal, "gguf writer: more bytes than the tensors declare");
    }
    const Decl& t = tensors_[current_];
    if (current_written_ == 0) pad_to(alignment_);  // tensors start aligned
    const uint64_t n = std::min<uint64_t>(bytes, t.nbytes - current_written_);
    put(p, n);
    p += n;
    bytes -= n;
    current_written_ += n;
    if (current_written_ == t.nbytes) {
      ++current_;
      current_written_ = 0;
    }
  }
}

void GgufWriter::finish() {
  if (!file_) write_header();
  if (current_ != tensors_.size()) {
    throw Error(ErrorCode::kInternal, "gguf writer: " + std::to_string(tensors_.size() - current_) +
                                          " declared tensors were not written");
  }
  if (std::fflush(file_) != 0) io_error(part_, "write");
  if (::fsync(fileno(file_)) != 0) io_error(part_, "fsync");
  if (std::fclose(file_) != 0) {
    file_ = nullptr;
    io_error(part_, "close");
  }
  file_ = nullptr;
  std::error_code ec;
  std::filesystem::rename(part_, path_, ec);
  if (ec) {
    throw Error(ErrorCode::kInternal, path_ + ": rename from " + part_ + " failed: " + ec.message(),
                "out");
  }
  finished_ = true;
}

}  // namespace dlx
