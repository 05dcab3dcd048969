#include "engine/formats/safetensors.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "engine/util/error.h"
#include "engine/util/json_brief.h"
#include "engine/util/json_parse.h"

namespace dlx {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

[[noreturn]] void bad(const std::string& path, const std::string& msg) {
  throw Error(ErrorCode::kInvalidModel, path + ": " + msg);
}

}  // namespace

int64_t HostTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string HostTensor::shape_str() const {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

SafetensorsFile::SafetensorsFile(const std::string& path)
    : file_(std::make_unique<MappedFile>(path)) {
  const size_t size = file_->size();
  if (size < 8) bad(path, "truncated file: " + std::to_string(size) + " bytes, need at least 8");
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = header_len << 8 | file_->data()[i];
  if (header_len > kMaxHeaderBytes) {
    bad(path, "header length " + std::to_string(header_len) + " exceeds the limit of " +
                  std::to_string(kMaxHeaderBytes) + " bytes");
  }
  if (header_len > size - 8) {
    bad(path, "header length " + std::to_string(header_len) + " runs past the end of the file (" +
                  std::to_string(size) + " bytes)");
  }
  const char* hdr = reinterpret_cast<const char*>(file_->data() + 8);
  // Depth-capped: a header is a flat object of tensor entries.
  JsonLimits lim;
  lim.max_depth = 16;
  const json j = parse_json_limited(std::string_view(hdr, header_len),
                                    path + " (safetensors header)", ErrorCode::kInvalidModel, lim);
  if (!j.is_object()) bad(path, "header is not a JSON object");
  const uint8_t* data_begin = file_->data() + 8 + header_len;
  const uint64_t data_size = size - 8 - header_len;

  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    const std::string& name = it.key();
    const json& t = it.value();
    const std::string where = "tensor '" + name + "': ";
    if (!t.is_object() || !t.contains("dtype") || !t.contains("shape") ||
        !t.contains("data_offsets")) {
      bad(path, where + "entry needs dtype, shape and data_offsets");
    }
    HostTensor ht;
    ht.name = name;
    ht.file = path;
    // Safetensors has no block-quantized types: those names are ours (GGUF), not its.
    if (!t["dtype"].is_string() || !parse_dtype(t["dtype"].get<std::string>(), &ht.dtype) ||
        dtype_is_quantized(ht.dtype)) {
      bad(path,
          where + "unknown dtype " + json_brief(t["dtype"]) + " (supported: F32, F16, BF16, I32)");
    }
    if (!t["shape"].is_array()) bad(path, where + "shape is not an array");
    uint64_t numel = 1;
    for (const auto& d : t["shape"]) {
      if (!d.is_number_unsigned()) bad(path, where + "shape has a non-integer or negative entry");
      uint64_t v = d.get<uint64_t>();
      if (v > (1ull << 40) || (v != 0 && numel > (1ull << 42) / v)) {
        bad(path, where + "shape is implausibly large");
      }
      numel *= v;
      ht.shape.push_back(static_cast<int64_t>(v));
    }
    const json& off = t["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() ||
        !off[1].is_number_unsigned()) {
      bad(path, where + "data_offsets must be two non-negative integers");
    }
    uint64_t b = off[0].get<uint64_t>(), e = off[1].get<uint64_t>();
    if (b > e || e > data_size) {
      bad(path, where + "data_offsets [" + std::to_string(b) + ", " + std::to_string(e) +
                    ") out of range of the " + std::to_string(data_size) + "-byte data section");
    }
    if (e - b != numel * dtype_size(ht.dtype)) {
      bad(path, where + "data_offsets cover " + std::to_string(e - b) + " bytes but shape " +
                    ht.shape_str() + " of " + dtype_name(ht.dtype) + " needs " +
                    std::to_string(numel * dtype_size(ht.dtype)));
    }
    ht.data = data_begin + b;
    ht.nbytes = e - b;
    ranges.emplace_back(b, e);
    tensors_.emplace(name, std::move(ht));
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].first < ranges[i - 1].second) bad(path, "tensor data ranges overlap");
  }
}

std::string TensorStore::changed() const {
  for (const auto& shard : shards_) {
    if (std::string what = shard->changed(); !what.empty()) return shard->path() + " " + what;
  }
  return {};
}

const HostTensor* TensorStore::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : it->second;
}

void TensorStore::add_file(const std::string& path) {
  auto f = std::make_shared<SafetensorsFile>(path);
  for (const auto& [name, t] : f->tensors()) {
    if (!index_.emplace(name, &t).second) {
      throw Error(ErrorCode::kInvalidModel, path + ": tensor '" + name + "' appears in two shards");
    }
  }
  total_bytes_ += f->file_size();
  files_.push_back(path);
  shards_.push_back(std::move(f));
}

TensorStore TensorStore::open(const std::string& dir, const std::string& weights) {
  TensorStore store;
  if (!weights.empty()) {
    // A relative name means a file in the model folder (as the option documents); only when
    // the folder has none is it taken relative to the working directory.
    fs::path p(weights);
    if (p.is_relative() && (fs::exists(fs::path(dir) / p) || !fs::exists(p))) {
      p = fs::path(dir) / p;
    }
    store.add_file(p.string());
    return store;
  }
  fs::path single = fs::path(dir) / "model.safetensors";
  fs::path index = fs::path(dir) / "model.safetensors.index.json";
  if (fs::exists(single)) {
    store.add_file(single.string());
    return store;
  }
  if (!fs::exists(index)) {
    throw Error(ErrorCode::kNotFound,
                dir + ": no model.safetensors or model.safetensors.index.json in the folder");
  }
  const json j =
      parse_json_limited(read_text_file(index.string()), index.string(), ErrorCode::kInvalidModel);
  if (!j.contains("weight_map") || !j["weight_map"].is_object()) {
    throw Error(ErrorCode::kInvalidModel, index.string() + ": missing object 'weight_map'");
  }
  std::vector<std::string> shard_names;
  for (const auto& v : j["weight_map"]) {
    if (!v.is_string()) {
      throw Error(ErrorCode::kInvalidModel, index.string() + ": weight_map values must be strings");
    }
    std::string s = v.get<std::string>();
    if (s.empty() || s == "." || s.find('/') != std::string::npos ||
        s.find("..") != std::string::npos) {
      throw Error(ErrorCode::kInvalidModel, index.string() + ": shard name '" + s +
                                                "' must be a plain file name in the folder");
    }
    if (std::find(shard_names.begin(), shard_names.end(), s) == shard_names.end()) {
      shard_names.push_back(s);
    }
  }
  for (const auto& s : shard_names) store.add_file((fs::path(dir) / s).string());
  for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
    if (!store.find(it.key())) {
      throw Error(ErrorCode::kInvalidModel, index.string() + ": tensor '" + it.key() +
                                                "' is listed but missing from its shard");
    }
  }
  return store;
}

}  // namespace dlx
