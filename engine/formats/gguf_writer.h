// GgufWriter: writes one GGUF v3 file as a stream. Metadata and every tensor's name, type and
// shape are declared first (the header holds all offsets), then each tensor's bytes are
// appended in declaration order, so a multi-GB model is never held in memory. The file is
// written as PATH.part-PID (two writers of one name never share a file) and renamed over PATH
// only by finish(): a failed or interrupted write never leaves a half-written model under the
// final name.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "engine/formats/gguf.h"

namespace dlx {

class GgufWriter {
 public:
  explicit GgufWriter(std::string path, uint32_t alignment = GgufFile::kDefaultAlignment);
  ~GgufWriter();  // removes PATH.part-PID unless finish() succeeded
  GgufWriter(const GgufWriter&) = delete;
  GgufWriter& operator=(const GgufWriter&) = delete;

  // Metadata, in the order written. Keys must be unique.
  void add_string(const std::string& key, const std::string& v);
  void add_u32(const std::string& key, uint32_t v);
  void add_i32(const std::string& key, int32_t v);
  void add_f32(const std::string& key, float v);
  void add_bool(const std::string& key, bool v);
  void add_strings(const std::string& key, const std::vector<std::string>& v);
  void add_i32s(const std::string& key, const std::vector<int32_t>& v);
  void add_f32s(const std::string& key, const std::vector<float>& v);

  // Any value as read by GgufFile (to copy metadata from one file to another).
  void add_value(const std::string& key, const GgufValue& v);

  // Declares a tensor: `shape` in HF order ([rows, cols]; written reversed as ne).
  void add_tensor(const std::string& name, DType dtype, const std::vector<int64_t>& shape);
  // The same with a ggml type id and its byte size (types we only read, e.g. q6_K in tests).
  void add_tensor(const std::string& name, uint32_t ggml_type, const std::vector<int64_t>& shape);

  // Writes the header (after all declarations). Throws Error kStorage / kNotFound on I/O failure.
  void write_header();
  // Appends bytes of the current tensor; a tensor's bytes may come in several calls. Padding
  // between tensors is written automatically.
  void write(const void* data, size_t bytes);
  // Checks that every declared byte was written, flushes, fsyncs and renames into place.
  void finish();

  uint64_t data_bytes() const;  // the declared tensor bytes (without padding)
  const std::string& path() const { return path_; }

 private:
  struct Decl {
    std::string name;
    uint32_t type;
    std::vector<int64_t> ne;
    uint64_t nbytes, offset;
  };
  void put(const void* p, size_t n);
  void put_string(const std::string& s);
  void key(const std::string& k, GgufType t);
  void pad_to(uint64_t multiple);

  std::string path_, part_;
  uint32_t alignment_;
  std::vector<uint8_t> meta_;  // serialised metadata entries
  uint64_t n_kv_ = 0;
  std::vector<Decl> tensors_;
  std::vector<std::string> keys_;
  std::FILE* file_ = nullptr;
  uint64_t pos_ = 0;       // bytes written to the file
  uint64_t data_pos_ = 0;  // file offset of the data section
  size_t current_ = 0;     // tensor being written
  uint64_t current_written_ = 0;
  bool finished_ = false;
};

}  // namespace dlx
