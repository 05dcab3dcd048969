#include "engine/formats/gguf.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "engine/util/error.h"

namespace dlx {
namespace {

// Limits far above anything real, so a hostile header is an error instead of a huge allocation
// or a long loop. Every count is also bounded by the bytes left in the file.
constexpr uint64_t kMaxStringBytes = 64ull << 20;  // a chat template or tokenizer.json fits
constexpr uint64_t kMaxKeyBytes = 65535;
constexpr uint32_t kMaxDims = 4;              // GGML_MAX_DIMS
constexpr uint64_t kMaxAlignment = 1u << 20;  // 1 MiB
constexpr int64_t kMaxElements = 1ll << 50;   // per tensor

constexpr std::array<GgmlTypeInfo, 32> kGgmlTypes = {{
    {0, "f32", 1, 4},         {1, "f16", 1, 2},         {2, "q4_0", 32, 18},
    {3, "q4_1", 32, 20},      {6, "q5_0", 32, 22},      {7, "q5_1", 32, 24},
    {8, "q8_0", 32, 34},      {9, "q8_1", 32, 36},      {10, "q2_K", 256, 84},
    {11, "q3_K", 256, 110},   {12, "q4_K", 256, 144},   {13, "q5_K", 256, 176},
    {14, "q6_K", 256, 210},   {15, "q8_K", 256, 292},   {16, "iq2_xxs", 256, 66},
    {17, "iq2_xs", 256, 74},  {18, "iq3_xxs", 256, 98}, {19, "iq1_s", 256, 50},
    {20, "iq4_nl", 32, 18},   {21, "iq3_s", 256, 110},  {22, "iq2_s", 256, 82},
    {23, "iq4_xs", 256, 136}, {24, "i8", 1, 1},         {25, "i16", 1, 2},
    {26, "i32", 1, 4},        {27, "i64", 1, 8},        {28, "f64", 1, 8},
    {29, "iq1_m", 256, 56},   {30, "bf16", 1, 2},       {34, "tq1_0", 256, 54},
    {35, "tq2_0", 256, 66},   {39, "mxfp4", 32, 17},
}};

[[noreturn]] void bad(const std::string& path, const std::string& msg) {
  throw Error(ErrorCode::kInvalidModel, path + ": " + msg, "model");
}

// Bounds-checked little-endian reads over the mapped header.
class Cursor {
 public:
  Cursor(const uint8_t* p, size_t size, const std::string& path)
      : p_(p), size_(size), path_(path) {}
  size_t pos() const { return pos_; }
  size_t left() const { return size_ - pos_; }

  template <typename T>
  T read(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, p_ + pos_, sizeof(T));  // the format and every supported host: little-endian
    pos_ += sizeof(T);
    return v;
  }
  std::string string(const char* what, uint64_t max_bytes) {
    const uint64_t n = read<uint64_t>(what);
    if (n > max_bytes) {
      bad(path_, std::string(what) + " is " + std::to_string(n) + " bytes, over the limit of " +
                     std::to_string(max_bytes));
    }
    need(n, what);
    std::string s(reinterpret_cast<const char*>(p_ + pos_), n);
    pos_ += n;
    return s;
  }
  void need(uint64_t n, const char* what) const {
    if (n > left()) {
      bad(path_, std::string("truncated: ") + what + " needs " + std::to_string(n) +
                     " bytes at offset " + std::to_string(pos_) + ", the file has " +
                     std::to_string(left()) + " left");
    }
  }

 private:
  const uint8_t* p_;
  size_t size_;
  size_t pos_ = 0;
  const std::string& path_;
};

// Bytes one element of a scalar type takes in the file; 0 for strings and arrays.
size_t scalar_bytes(GgufType t) {
  switch (t) {
    case GgufType::kU8:
    case GgufType::kI8:
    case GgufType::kBool:
      return 1;
    case GgufType::kU16:
    case GgufType::kI16:
      return 2;
    case GgufType::kU32:
    case GgufType::kI32:
    case GgufType::kF32:
      return 4;
    case GgufType::kU64:
    case GgufType::kI64:
    case GgufType::kF64:
      return 8;
    default:
      return 0;
  }
}

bool known_type(uint32_t t) {
  return t <= static_cast<uint32_t>(GgufType::kF64);
}

// The double an f32 value stands for: its shortest round-trip decimal (0.6f -> 0.6, not
// 0.60000002384). Writers store a config's decimal numbers (temperature 0.6, eps 1e-3) as f32;
// read back this way they equal the folder's values exactly.
double shortest_double(float f) {
  if (!std::isfinite(f)) return f;
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, f);
  double d = f;
  std::from_chars(buf, r.ptr, d);
  return d;
}

struct Scalar {
  int64_t i = 0;
  double f = 0;
  bool is_float = false;
};

Scalar read_scalar(Cursor& c, GgufType t, const std::string& path, const std::string& key) {
  Scalar s;
  switch (t) {
    case GgufType::kU8:
      s.i = c.read<uint8_t>("a u8 value");
      break;
    case GgufType::kI8:
      s.i = c.read<int8_t>("an i8 value");
      break;
    case GgufType::kBool: {
      const uint8_t b = c.read<uint8_t>("a bool value");
      if (b > 1) bad(path, "key '" + key + "': bool value " + std::to_string(b) + " is not 0 or 1");
      s.i = b;
      break;
    }
    case GgufType::kU16:
      s.i = c.read<uint16_t>("a u16 value");
      break;
    case GgufType::kI16:
      s.i = c.read<int16_t>("an i16 value");
      break;
    case GgufType::kU32:
      s.i = c.read<uint32_t>("a u32 value");
      break;
    case GgufType::kI32:
      s.i = c.read<int32_t>("an i32 value");
      break;
    case GgufType::kU64: {
      const uint64_t u = c.read<uint64_t>("a u64 value");
      // Values above INT64_MAX never describe anything real; keep them but saturated, so no
      // later arithmetic wraps (every use bounds them anyway).
      s.i = u > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(u);
      break;
    }
    case GgufType::kI64:
      s.i = c.read<int64_t>("an i64 value");
      break;
    case GgufType::kF32:
      s.f = shortest_double(c.read<float>("an f32 value"));
      s.is_float = true;
      break;
    case GgufType::kF64:
      s.f = c.read<double>("an f64 value");
      s.is_float = true;
      break;
    default:
      bad(path, "key '" + key + "': not a scalar type");
  }
  return s;
}

GgufValue read_value(Cursor& c, GgufType t, const std::string& path, const std::string& key) {
  GgufValue v;
  v.type = t;
  if (t == GgufType::kString) {
    v.s = c.string("a string value", kMaxStringBytes);
    return v;
  }
  if (t != GgufType::kArray) {
    const Scalar s = read_scalar(c, t, path, key);
    v.i = s.i;
    v.f = s.f;
    return v;
  }
  const uint32_t et = c.read<uint32_t>("an array's element type");
  if (!known_type(et)) {
    bad(path, "key '" + key + "': array element type " + std::to_string(et) + " is unknown");
  }
  v.elem_type = static_cast<GgufType>(et);
  if (v.elem_type == GgufType::kArray) {
    bad(path, "key '" + key + "': nested arrays are not supported");
  }
  const uint64_t n = c.read<uint64_t>("an array's length");
  // Each element takes at least one byte (a string at least its 8-byte length): a count the
  // rest of the file cannot hold is refused before anything is reserved.
  const size_t min_elem = v.elem_type == GgufType::kString ? 8 : scalar_bytes(v.elem_type);
  if (n > c.left() / min_elem) {
    bad(path, "key '" + key + "': array length " + std::to_string(n) +
                  " does not fit in the rest of the file (" + std::to_string(c.left()) + " bytes)");
  }
  if (v.elem_type == GgufType::kString) {
    v.strings.reserve(n);
    for (uint64_t k = 0; k < n; ++k)
      v.strings.push_back(c.string("an array string", kMaxStringBytes));
  } else if (v.elem_type == GgufType::kF32 || v.elem_type == GgufType::kF64) {
    v.floats.reserve(n);
    for (uint64_t k = 0; k < n; ++k) v.floats.push_back(read_scalar(c, v.elem_type, path, key).f);
  } else {
    v.ints.reserve(n);
    for (uint64_t k = 0; k < n; ++k) v.ints.push_back(read_scalar(c, v.elem_type, path, key).i);
  }
  return v;
}

}  // namespace

const char* gguf_type_name(GgufType t) {
  static constexpr const char* kNames[] = {"u8",   "i8",     "u16",   "i16", "u32", "i32", "f32",
                                           "bool", "string", "array", "u64", "i64", "f64"};
  const auto i = static_cast<uint32_t>(t);
  return i < std::size(kNames) ? kNames[i] : "?";
}

bool GgufValue::is_integer() const {
  return scalar_bytes(type) != 0 && !is_float();
}

const GgmlTypeInfo* ggml_type_info(uint32_t id) {
  for (const auto& t : kGgmlTypes) {
    if (t.id == id) return &t;
  }
  return nullptr;
}

uint32_t ggml_type_of(DType d) {
  switch (d) {
    case DType::kF32:
      return 0;
    case DType::kF16:
      return 1;
    case DType::kQ4_0:
      return 2;
    case DType::kQ8_0:
      return 8;
    case DType::kI32:
      return 26;
    case DType::kBF16:
      return 30;
  }
  return 0;
}

GgufFile::GgufFile(const std::string& path) : file_(std::make_unique<MappedFile>(path)) {
  Cursor c(file_->data(), file_->size(), file_->path());
  const std::string& p = file_->path();
  if (file_->size() < 4 || c.read<uint32_t>("the magic") != kMagic) {
    bad(p, "not a GGUF file (it does not start with \"GGUF\")");
  }
  version_ = c.read<uint32_t>("the version");
  if (version_ != 2 && version_ != 3) {
    bad(p, "GGUF version " + std::to_string(version_) + " is not supported (2 and 3 are)");
  }
  const uint64_t n_tensors = c.read<uint64_t>("the tensor count");
  const uint64_t n_kv = c.read<uint64_t>("the metadata count");
  // A metadata entry takes at least 8 (key length) + 4 (type) + 1 bytes; a tensor info at least
  // 8 + 4 + 8 + 4 + 8.
  if (n_kv > c.left() / 13) {
    bad(p, "metadata count " + std::to_string(n_kv) + " does not fit in the file");
  }
  if (n_tensors > c.left() / 32) {
    bad(p, "tensor count " + std::to_string(n_tensors) + " does not fit in the file");
  }
  for (uint64_t k = 0; k < n_kv; ++k) {
    std::string key = c.string("a metadata key", kMaxKeyBytes);
    const uint32_t t = c.read<uint32_t>("a metadata type");
    if (!known_type(t)) {
      bad(p, "key '" + key + "' has unknown value type " + std::to_string(t));
    }
    GgufValue v = read_value(c, static_cast<GgufType>(t), p, key);
    // llama.cpp's converter writes some keys twice with the same value (llada's
    // context_length); the last one wins, as in gguf-py.
    kv_[std::move(key)] = std::move(v);
  }
  if (const GgufValue* a = find("general.alignment")) {
    if (!a->is_integer() || a->i <= 0 || a->i > static_cast<int64_t>(kMaxAlignment) ||
        (a->i & (a->i - 1)) != 0) {
      bad(p, "general.alignment must be a power of two up to " + std::to_string(kMaxAlignment));
    }
    alignment_ = static_cast<uint32_t>(a->i);
  }

  tensors_.reserve(n_tensors);
  for (uint64_t k = 0; k < n_tensors; ++k) {
    GgufTensorInfo t;
    t.name = c.string("a tensor name", kMaxKeyBytes);
    const std::string where = "tensor '" + t.name + "': ";
    const uint32_t nd = c.read<uint32_t>("a tensor's dimension count");
    if (nd == 0 || nd > kMaxDims) {
      bad(p, where + std::to_string(nd) + " dimensions (1 to " + std::to_string(kMaxDims) +
                 " allowed)");
    }
    int64_t numel = 1;
    for (uint32_t d = 0; d < nd; ++d) {
      const uint64_t ne = c.read<uint64_t>("a tensor dimension");
      if (ne == 0 || ne > static_cast<uint64_t>(kMaxElements) ||
          static_cast<uint64_t>(numel) > static_cast<uint64_t>(kMaxElements) / ne) {
        bad(p, where + "dimension " + std::to_string(ne) +
                   " is zero or makes the tensor implausibly large");
      }
      numel *= static_cast<int64_t>(ne);
      t.ne.push_back(static_cast<int64_t>(ne));
    }
    t.ggml_type = c.read<uint32_t>("a tensor type");
    const GgmlTypeInfo* ti = ggml_type_info(t.ggml_type);
    if (!ti) bad(p, where + "unknown ggml type " + std::to_string(t.ggml_type));
    if (t.ne[0] % ti->block_values != 0) {
      bad(p, where + "its rows of " + std::to_string(t.ne[0]) + " values are not whole " +
                 ti->name + " blocks of " + std::to_string(ti->block_values));
    }
    // numel <= 2^50 and block_bytes <= 292: no overflow.
    t.nbytes = static_cast<uint64_t>(numel / ti->block_values) * ti->block_bytes;
    t.offset = c.read<uint64_t>("a tensor offset");
    if (t.offset % alignment_ != 0) {
      bad(p, where + "offset " + std::to_string(t.offset) + " is not a multiple of the alignment " +
                 std::to_string(alignment_));
    }
    if (!tensor_index_.emplace(t.name, tensors_.size()).second) {
      bad(p, where + "appears twice");
    }
    tensors_.push_back(std::move(t));
  }
  // The data section starts at the next multiple of the alignment.
  const uint64_t header_end = c.pos();
  const uint64_t data_start = (header_end + alignment_ - 1) / alignment_ * alignment_;
  const uint64_t size = file_->size();
  const uint64_t data_size = data_start <= size ? size - data_start : 0;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto& t : tensors_) {
    if (t.offset > data_size || t.nbytes > data_size - t.offset) {
      bad(p, "tensor '" + t.name + "': data [" + std::to_string(t.offset) + ", +" +
                 std::to_string(t.nbytes) + ") runs past the end of the " +
                 std::to_string(data_size) + "-byte data section (truncated file?)");
    }
    ranges.emplace_back(t.offset, t.offset + t.nbytes);
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].first < ranges[i - 1].second) bad(p, "tensor data ranges overlap");
  }
  data_ = file_->data() + std::min<uint64_t>(data_start, size);
}

const GgufValue* GgufFile::find(const std::string& key) const {
  auto it = kv_.find(key);
  return it == kv_.end() ? nullptr : &it->second;
}

const GgufTensorInfo* GgufFile::find_tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

std::optional<std::string> GgufFile::opt_string(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (v->type != GgufType::kString) {
    bad(path(), "key '" + key + "' must be a string, it is a " + gguf_type_name(v->type));
  }
  return v->s;
}

std::string GgufFile::get_string(const std::string& key) const {
  auto v = opt_string(key);
  if (!v) bad(path(), "missing key '" + key + "'");
  return *v;
}

std::optional<int64_t> GgufFile::opt_int(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (!v->is_integer()) {
    bad(path(), "key '" + key + "' must be an integer, it is a " + gguf_type_name(v->type));
  }
  return v->i;
}

int64_t GgufFile::get_int(const std::string& key) const {
  auto v = opt_int(key);
  if (!v) bad(path(), "missing key '" + key + "'");
  return *v;
}

std::optional<double> GgufFile::opt_number(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (v->is_float()) return v->f;
  if (v->is_integer()) return static_cast<double>(v->i);
  bad(path(), "key '" + key + "' must be a number, it is a " + gguf_type_name(v->type));
}

double GgufFile::get_number(const std::string& key) const {
  auto v = opt_number(key);
  if (!v) bad(path(), "missing key '" + key + "'");
  return *v;
}

std::optional<bool> GgufFile::opt_bool(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (v->type != GgufType::kBool) {
    bad(path(), "key '" + key + "' must be a bool, it is a " + gguf_type_name(v->type));
  }
  return v->i != 0;
}

HostTensor GgufFile::host_tensor(const GgufTensorInfo& t) const {
  HostTensor h;
  h.name = t.name;
  h.file = path();
  switch (t.ggml_type) {
    case 0:
      h.dtype = DType::kF32;
      break;
    case 1:
      h.dtype = DType::kF16;
      break;
    case 2:
      h.dtype = DType::kQ4_0;
      break;
    case 8:
      h.dtype = DType::kQ8_0;
      break;
    case 26:
      h.dtype = DType::kI32;
      break;
    case 30:
      h.dtype = DType::kBF16;
      break;
    default:
      throw Error(ErrorCode::kUnsupported,
                  path() + ": tensor '" + t.name + "' is " + ggml_type_info(t.ggml_type)->name +
                      ", which this build does not read (supported: f32, f16, bf16, q8_0, q4_0, "
                      "and q4_K / q6_K requantized to q8_0 at load; requantize with "
                      "llama-quantize or convert from the folder)",
                  "model");
  }
  h.shape.assign(t.ne.rbegin(), t.ne.rend());
  h.data = tensor_data(t);
  h.nbytes = t.nbytes;
  return h;
}

bool is_gguf_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return false;  // never open a FIFO or device
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  return in.read(magic, 4) && std::memcmp(magic, "GGUF", 4) == 0;
}

}  // namespace dlx
