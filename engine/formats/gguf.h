// GGUF reader (versions 2 and 3): the single-file model format of the llama.cpp ecosystem.
// Every count, string length, array length, tensor dimension, type id, offset and the
// alignment is checked against the file's size (overflow-safe) before anything is allocated or
// touched; tensors are zero-copy views into the memory-mapped file.
//
// Layout (little-endian): "GGUF", u32 version, u64 tensor_count, u64 kv_count, kv_count
// metadata entries {string key, u32 type, value}, tensor_count infos {string name, u32 n_dims,
// u64 ne[n_dims], u32 ggml_type, u64 offset}, padding to general.alignment (default 32), the
// data section. A string is {u64 length, bytes}; an array is {u32 elem_type, u64 count, elems}.
// ne[0] is the innermost (contiguous) dimension: a [rows, cols] matrix has ne = [cols, rows].
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/formats/dtype.h"
#include "engine/formats/weight_source.h"
#include "engine/util/mapped_file.h"

namespace dlx {

// Metadata value types, as numbered by the format.
enum class GgufType : uint32_t {
  kU8 = 0,
  kI8 = 1,
  kU16 = 2,
  kI16 = 3,
  kU32 = 4,
  kI32 = 5,
  kF32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kU64 = 10,
  kI64 = 11,
  kF64 = 12,
};
const char* gguf_type_name(GgufType t);

// One metadata value. Scalars keep their integer or float value; arrays of scalars or strings
// keep their elements (nested arrays are refused: nothing in the ecosystem writes them).
struct GgufValue {
  GgufType type = GgufType::kU8;
  GgufType elem_type = GgufType::kU8;  // arrays only
  int64_t i = 0;                       // integer and bool types (u64 above INT64_MAX refused)
  double f = 0;                        // f32 / f64
  std::string s;                       // string
  std::vector<int64_t> ints;           // arrays of integers / bools
  std::vector<double> floats;          // arrays of f32 / f64
  std::vector<std::string> strings;    // arrays of strings

  bool is_integer() const;  // any integer type or bool
  bool is_float() const { return type == GgufType::kF32 || type == GgufType::kF64; }
  size_t array_size() const { return ints.size() + floats.size() + strings.size(); }
};

// ggml tensor types (ids as the format numbers them) with their block geometry. Only some can
// be computed with (gguf_tensor_dtype); the rest are known so their sizes can be validated.
struct GgmlTypeInfo {
  uint32_t id;
  const char* name;
  int64_t block_values;  // values per block
  size_t block_bytes;    // bytes per block
};
// nullptr for an id the format does not define (or this reader does not know).
const GgmlTypeInfo* ggml_type_info(uint32_t id);
// The ggml type id of one of our dtypes (f32 0, f16 1, q4_0 2, q8_0 8, i32 26, bf16 30).
uint32_t ggml_type_of(DType d);

struct GgufTensorInfo {
  std::string name;
  uint32_t ggml_type = 0;
  std::vector<int64_t> ne;  // ne[0] innermost
  uint64_t offset = 0;      // from the start of the data section
  uint64_t nbytes = 0;
};

class GgufFile {
 public:
  static constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
  static constexpr uint32_t kDefaultAlignment = 32;

  // Maps and validates the whole header. Throws Error kNotFound (no file) or kInvalidModel
  // naming the file and the problem.
  explicit GgufFile(const std::string& path);

  const std::string& path() const { return file_->path(); }
  size_t file_size() const { return file_->size(); }
  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  std::string changed() const { return file_->changed(); }

  const std::map<std::string, GgufValue>& metadata() const { return kv_; }
  const GgufValue* find(const std::string& key) const;
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* find_tensor(const std::string& name) const;
  const uint8_t* tensor_data(const GgufTensorInfo& t) const { return data_ + t.offset; }

  // Typed metadata access; each throws Error kInvalidModel naming the file and key when the
  // value is missing (for the required forms) or of the wrong type.
  std::string get_string(const std::string& key) const;
  std::optional<std::string> opt_string(const std::string& key) const;
  std::optional<int64_t> opt_int(const std::string& key) const;
  std::optional<double> opt_number(const std::string& key) const;  // integer or float
  std::optional<bool> opt_bool(const std::string& key) const;
  int64_t get_int(const std::string& key) const;
  double get_number(const std::string& key) const;

  // Frees the metadata (a large vocabulary's tokens, merges and tokenizer.json take tens of
  // MB) once the config and tokenizer were built from it; tensors stay readable.
  void release_metadata() { std::map<std::string, GgufValue>().swap(kv_); }

  // A tensor as a HostTensor (HF order shape, i.e. ne reversed). Throws Error kUnsupported
  // when its type is not one we compute with.
  HostTensor host_tensor(const GgufTensorInfo& t) const;

 private:
  std::unique_ptr<MappedFile> file_;
  uint32_t version_ = 0;
  uint32_t alignment_ = kDefaultAlignment;
  std::map<std::string, GgufValue> kv_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t> tensor_index_;
  const uint8_t* data_ = nullptr;
};

// Whether the file at `path` starts with the GGUF magic (false when unreadable).
bool is_gguf_file(const std::string& path);

}  // namespace dlx
