// Malformed GGUF files, each built byte by byte here: every one is a clear error naming the file
// and the problem, never a crash or a huge allocation. Also the writer -> reader round trip.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "engine/formats/gguf.h"
#include "engine/formats/gguf_writer.h"
#include "engine/util/error.h"

namespace dlx {
namespace {

// A little-endian GGUF byte builder.
struct Bytes {
  std::vector<uint8_t> b;
  template <typename T>
  Bytes& put(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    b.insert(b.end(), p, p + sizeof(T));
    return *this;
  }
  Bytes& str(const std::string& s) {
    put<uint64_t>(s.size());
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  Bytes& header(uint64_t tensors, uint64_t kvs, uint32_t version = 3) {
    return put<uint32_t>(GgufFile::kMagic).put(version).put(tensors).put(kvs);
  }
  Bytes& kv_u32(const std::string& k, uint32_t v) { return str(k).put<uint32_t>(4).put(v); }
  Bytes& tensor(const std::string& name, std::vector<uint64_t> ne, uint32_t type, uint64_t off) {
    str(name).put<uint32_t>(static_cast<uint32_t>(ne.size()));
    for (auto n : ne) put(n);
    return put(type).put(off);
  }
  Bytes& pad(size_t a = 32) {
    while (b.size() % a) b.push_back(0);
    return *this;
  }
  Bytes& zeros(size_t n) {
    b.insert(b.end(), n, 0);
    return *this;
  }
};

std::string write_file(const std::vector<uint8_t>& b, const std::string& name) {
  const std::string p = ::testing::TempDir() + "/" + std::to_string(::getpid()) + "-" + name;
  std::ofstream(p, std::ios::binary)
      .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  return p;
}

// Opening must fail with kInvalidModel, naming the file and `what`.
void expect_bad(const Bytes& bytes, const std::string& what, const std::string& name) {
  const std::string p = write_file(bytes.b, name + ".gguf");
  try {
    GgufFile f(p);
    ADD_FAILURE() << name << ": opened without error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel) << e.what();
    EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << name << ": " << e.what();
  }
}

// A valid file: one key, one f32 [2, 32] tensor.
Bytes valid() {
  Bytes b;
  b.header(1, 1).kv_u32("general.x", 7).tensor("w", {32, 2}, 0, 0).pad().zeros(256);
  return b;
}

TEST(GgufErrors, ValidFileOpens) {
  GgufFile f(write_file(valid().b, "valid.gguf"));
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.get_int("general.x"), 7);
  ASSERT_EQ(f.tensors().size(), 1u);
  EXPECT_EQ(f.tensors()[0].nbytes, 256u);
  const HostTensor h = f.host_tensor(f.tensors()[0]);
  EXPECT_EQ(h.shape, (std::vector<int64_t>{2, 32}));  // HF order: ne reversed
}

TEST(GgufErrors, EveryTruncationIsAnError) {
  const Bytes full = valid();
  for (size_t n = 0; n < full.b.size(); ++n) {
    Bytes cut;
    cut.b.assign(full.b.begin(), full.b.begin() + static_cast<std::ptrdiff_t>(n));
    const std::string p = write_file(cut.b, "cut.gguf");
    EXPECT_THROW(GgufFile{p}, Error) << "truncated at " << n;
  }
}

TEST(GgufErrors, HeaderFields) {
  Bytes magic;
  magic.put<uint32_t>(0x12345678).zeros(60);
  expect_bad(magic, "not a GGUF file", "magic");
  Bytes v1;
  v1.header(0, 0, 1);
  expect_bad(v1, "version 1 is not supported", "version");
  Bytes kvs;
  kvs.header(0, std::numeric_limits<uint64_t>::max());
  expect_bad(kvs, "metadata count", "kv_count");
  Bytes tensors;
  tensors.header(std::numeric_limits<uint64_t>::max() - 3, 0);
  expect_bad(tensors, "tensor count", "tensor_count");
}

TEST(GgufErrors, MetadataValues) {
  Bytes key;
  key.header(0, 1).put<uint64_t>(std::numeric_limits<uint64_t>::max()).zeros(16);
  expect_bad(key, "metadata key", "key_len");
  Bytes str;
  str.header(0, 1).str("k").put<uint32_t>(8).put<uint64_t>(1ull << 62).zeros(16);
  expect_bad(str, "string value", "string_len");
  Bytes arr;
  arr.header(0, 1).str("k").put<uint32_t>(9).put<uint32_t>(4).put<uint64_t>(1ull << 61).zeros(8);
  expect_bad(arr, "array length", "array_len");
  Bytes type;
  type.header(0, 1).str("k").put<uint32_t>(99).zeros(8);
  expect_bad(type, "unknown value type 99", "value_type");
  Bytes nested;
  nested.header(0, 1).str("k").put<uint32_t>(9).put<uint32_t>(9).put<uint64_t>(1).zeros(16);
  expect_bad(nested, "nested arrays", "nested");
  Bytes boolean;
  boolean.header(0, 1).str("k").put<uint32_t>(7).put<uint8_t>(5);
  expect_bad(boolean, "not 0 or 1", "bool");
  Bytes align;
  align.header(0, 1).kv_u32("general.alignment", 3);
  expect_bad(align, "general.alignment", "alignment");
}

TEST(GgufErrors, TensorInfos) {
  auto one = [](std::vector<uint64_t> ne, uint32_t type, uint64_t off) {
    Bytes b;
    b.header(1, 0).tensor("w", std::move(ne), type, off).pad().zeros(256);
    return b;
  };
  expect_bad(one({}, 0, 0), "0 dimensions", "no_dims");
  expect_bad(one({1, 1, 1, 1, 1}, 0, 0), "5 dimensions", "five_dims");
  expect_bad(one({1ull << 40, 1ull << 40}, 0, 0), "implausibly large", "overflow");
  expect_bad(one({std::numeric_limits<uint64_t>::max()}, 0, 0), "implausibly large", "huge_dim");
  expect_bad(one({0, 4}, 0, 0), "zero", "zero_dim");
  expect_bad(one({32, 2}, 99, 0), "unknown ggml type 99", "ggml_type");
  expect_bad(one({20, 2}, 8, 0), "not whole q8_0 blocks", "partial_block");
  expect_bad(one({32, 2}, 0, 4), "not a multiple of the alignment", "misaligned");
  expect_bad(one({32, 2}, 0, 1ull << 40), "runs past the end", "past_end");
  expect_bad(one({32, 100}, 0, 0), "runs past the end", "truncated_data");
  expect_bad(one({32, 2}, 0, std::numeric_limits<uint64_t>::max() - 31), "runs past the end",
             "offset_wrap");

  Bytes overlap;
  overlap.header(2, 0).tensor("a", {32, 2}, 0, 0).tensor("b", {32, 2}, 0, 32).pad().zeros(512);
  expect_bad(overlap, "overlap", "overlap");
  Bytes twice;
  twice.header(2, 0).tensor("a", {32}, 0, 0).tensor("a", {32}, 0, 128).pad().zeros(512);
  expect_bad(twice, "appears twice", "duplicate");
}

TEST(GgufErrors, UnsupportedTypeIsRefusedWhenUsed) {
  Bytes b;
  b.header(1, 0).tensor("w", {256, 1}, 13, 0).pad().zeros(256);  // q5_K: sizes known
  GgufFile f(write_file(b.b, "q4k.gguf"));
  try {
    f.host_tensor(f.tensors()[0]);
    ADD_FAILURE() << "q5_K accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("q5_K"), std::string::npos) << e.what();
  }
}

TEST(GgufErrors, TypedAccessNamesKey) {
  GgufFile f(write_file(valid().b, "typed.gguf"));
  try {
    f.get_string("general.x");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'general.x' must be a string"), std::string::npos);
  }
  try {
    f.get_int("missing.key");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing key 'missing.key'"), std::string::npos);
  }
}

TEST(GgufWriter, RoundTripsMetadataAndTensors) {
  const std::string p = ::testing::TempDir() + "/round-" + std::to_string(::getpid()) + ".gguf";
  std::vector<float> a(64 * 3);
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(i) * 0.5f - 7;
  std::vector<uint16_t> h(32 * 5);
  for (size_t i = 0; i < h.size(); ++i) h[i] = static_cast<uint16_t>(i * 977);
  {
    GgufWriter w(p);
    w.add_string("s", "hello");
    w.add_u32("u", 42);
    w.add_i32("i", -5);
    w.add_f32("f", 0.25f);
    w.add_bool("b", true);
    w.add_strings("ss", {"a", "", "ccc"});
    w.add_i32s("is", {1, -2, 3});
    w.add_f32s("fs", {1.5f});
    w.add_tensor("a", DType::kF32, {3, 64});
    w.add_tensor("h", DType::kBF16, {5, 32});
    w.write_header();
    w.write(a.data(), 100);  // a tensor's bytes may come in pieces
    w.write(reinterpret_cast<const uint8_t*>(a.data()) + 100, a.size() * 4 - 100);
    w.write(h.data(), h.size() * 2);
    w.finish();
  }
  GgufFile f(p);
  EXPECT_EQ(f.get_string("s"), "hello");
  EXPECT_EQ(f.get_int("u"), 42);
  EXPECT_EQ(f.get_int("i"), -5);
  EXPECT_EQ(f.get_number("f"), 0.25);
  EXPECT_EQ(f.opt_bool("b"), true);
  EXPECT_EQ(f.find("ss")->strings, (std::vector<std::string>{"a", "", "ccc"}));
  EXPECT_EQ(f.find("is")->ints, (std::vector<int64_t>{1, -2, 3}));
  EXPECT_EQ(f.find("fs")->floats, (std::vector<double>{1.5}));
  const HostTensor ta = f.host_tensor(*f.find_tensor("a"));
  EXPECT_EQ(ta.shape, (std::vector<int64_t>{3, 64}));
  EXPECT_EQ(std::memcmp(ta.data, a.data(), a.size() * 4), 0);
  const HostTensor th = f.host_tensor(*f.find_tensor("h"));
  EXPECT_EQ(th.dtype, DType::kBF16);
  EXPECT_EQ(std::memcmp(th.data, h.data(), h.size() * 2), 0);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(th.data) % 32, 0u);
}

TEST(GgufWriter, UnfinishedWriteLeavesNothing) {
  const std::string p =
      ::testing::TempDir() + "/unfinished-" + std::to_string(::getpid()) + ".gguf";
  std::remove(p.c_str());
  {
    GgufWriter w(p);
    w.add_tensor("a", DType::kF32, {1, 32});
    w.write_header();
    float x[8] = {};
    w.write(x, sizeof x);
    EXPECT_THROW(w.finish(), Error);  // 32 of 128 bytes written
  }
  std::ifstream in(p);
  EXPECT_FALSE(in.good());
  std::ifstream part(p + ".part-" + std::to_string(::getpid()));
  EXPECT_FALSE(part.good());
}

}  // namespace
}  // namespace dlx
