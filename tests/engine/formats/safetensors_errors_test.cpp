// Malformed safetensors files: each is written into a copy of a fixture model folder and must be
// rejected by Model::load with kInvalidModel, a message naming the file and the problem, and
// without reading outside the file.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "engine/formats/safetensors.h"
#include "tests/support/load_error_util.h"
#include "tests/support/safetensors_writer.h"

namespace dlx::test {
namespace {

using nlohmann::json;

class SafetensorsErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = copy_model("dream");
    file_ = dir_ + "/model.safetensors";
  }
  // Loads the folder with the current model.safetensors; expects kInvalidModel naming it.
  void expect_invalid(const std::string& problem) {
    EXPECT_LOAD_ERROR(load_error(dir_), ErrorCode::kInvalidModel, file_, problem);
  }
  // A one-tensor header: {"x": {"dtype":..., "shape":..., "data_offsets":...}}.
  static std::string one_tensor(const json& dtype, const json& shape, const json& offsets) {
    return json{{"x", {{"dtype", dtype}, {"shape", shape}, {"data_offsets", offsets}}}}.dump();
  }
  std::string dir_, file_;
};

TEST_F(SafetensorsErrors, EmptyFile) {
  write_bytes(file_, "");
  expect_invalid("truncated file: 0 bytes, need at least 8");
}

TEST_F(SafetensorsErrors, TruncatedBelowEightBytes) {
  write_bytes(file_, std::string("\x10\0\0\0\0", 5));
  expect_invalid("truncated file: 5 bytes, need at least 8");
}

TEST_F(SafetensorsErrors, DataShorterThanOffsets) {
  // The real checkpoint with its last 100 bytes cut off: the last tensor's range ends past the
  // data section.
  std::string s = read_file(file_);
  write_bytes(file_, s.substr(0, s.size() - 100));
  expect_invalid("out of range of the");
}

TEST_F(SafetensorsErrors, HeaderLengthPastEndOfFile) {
  write_raw(file_, 1000, "{}", "");
  expect_invalid("header length 1000 runs past the end of the file (10 bytes)");
  // One byte too long: the header would need the byte after the end of the file.
  write_raw(file_, 3, "{}", "");
  expect_invalid("runs past the end of the file");
}

TEST_F(SafetensorsErrors, HeaderOverSaneLimit) {
  write_raw(file_, SafetensorsFile::kMaxHeaderBytes + 1, "{}", "");
  expect_invalid("exceeds the limit");
  // The largest length field: no overflow in the bounds arithmetic.
  write_raw(file_, ~uint64_t{0}, "{}", "");
  expect_invalid("exceeds the limit");
}

TEST_F(SafetensorsErrors, InvalidJsonHeader) {
  write_raw(file_, "{\"x\": {\"dtype\": \"F32\",", "");
  expect_invalid("(safetensors header): invalid JSON");
  write_raw(file_, std::string("{\0\xff}", 4), "");
  expect_invalid("(safetensors header): invalid JSON");
  write_raw(file_, "", "");  // zero-length header
  expect_invalid("(safetensors header): invalid JSON");
}

TEST_F(SafetensorsErrors, HeaderNotAnObject) {
  write_raw(file_, "[1, 2, 3]", "");
  expect_invalid("header is not a JSON object");
  // Deep nesting must not exhaust the stack while parsing or destroying the document.
  const int depth = 1'000'000;
  // The parser stops at the depth cap (16 levels: a header is two deep).
  write_raw(file_, std::string(depth, '[') + std::string(depth, ']'), "");
  expect_invalid("JSON nests deeper than 16 levels");
}

TEST_F(SafetensorsErrors, EntryWithoutRequiredFields) {
  write_raw(file_, R"({"x": {"dtype": "F32", "shape": [1]}})", std::string(4, '\0'));
  expect_invalid("tensor 'x': entry needs dtype, shape and data_offsets");
  write_raw(file_, R"({"x": 5})", "");
  expect_invalid("tensor 'x': entry needs dtype, shape and data_offsets");
}

TEST_F(SafetensorsErrors, UnknownDtype) {
  StCheckpoint c = StCheckpoint::read(file_);
  c.tensors["model.norm.weight"].dtype = "F8_E4M3";
  c.write(file_);
  expect_invalid("tensor 'model.norm.weight': unknown dtype \"F8_E4M3\"");
  write_raw(file_, one_tensor(7, {1}, {0, 4}), std::string(4, '\0'));
  expect_invalid("tensor 'x': unknown dtype 7");
}

TEST_F(SafetensorsErrors, DeeplyNestedDtypeIsReportedNotCrashed) {
  // The error message must not serialise an arbitrarily deep value (that recursion overflowed
  // the stack before).
  const int depth = 1'000'000;
  write_raw(file_,
            R"({"x": {"dtype": )" + std::string(depth, '[') + std::string(depth, ']') +
                R"(, "shape": [], "data_offsets": [0, 0]}})",
            "");
  expect_invalid("JSON nests deeper than 16 levels");
}

TEST_F(SafetensorsErrors, HugeDtypeStringIsTruncatedInTheMessage) {
  write_raw(file_, one_tensor(std::string(100000, 'Q'), {1}, {0, 4}), std::string(4, '\0'));
  Error e = load_error(dir_);
  EXPECT_CONTAINS(e.what(), "unknown dtype \"QQQQ");
  EXPECT_LT(std::string(e.what()).size(), 1000u);
}

TEST_F(SafetensorsErrors, BadShape) {
  write_raw(file_, one_tensor("F32", 4, {0, 16}), std::string(16, '\0'));
  expect_invalid("tensor 'x': shape is not an array");
  write_raw(file_, one_tensor("F32", {-4}, {0, 16}), std::string(16, '\0'));
  expect_invalid("tensor 'x': shape has a non-integer or negative entry");
  write_raw(file_, one_tensor("F32", {4.0}, {0, 16}), std::string(16, '\0'));
  expect_invalid("tensor 'x': shape has a non-integer or negative entry");
  write_raw(file_, one_tensor("F32", {"4"}, {0, 16}), std::string(16, '\0'));
  expect_invalid("tensor 'x': shape has a non-integer or negative entry");
}

TEST_F(SafetensorsErrors, ShapeProductOverflowIsCaught) {
  // 2^21 cubed wraps 64-bit arithmetic if multiplied unchecked.
  write_raw(file_, one_tensor("F32", {1 << 21, 1 << 21, 1 << 21}, {0, 16}), std::string(16, '\0'));
  expect_invalid("tensor 'x': shape is implausibly large");
  write_raw(file_, one_tensor("F32", {uint64_t{1} << 63}, {0, 16}), std::string(16, '\0'));
  expect_invalid("tensor 'x': shape is implausibly large");
}

TEST_F(SafetensorsErrors, OffsetsOutOfRange) {
  write_raw(file_, one_tensor("F32", {4}, {0, 16}), std::string(8, '\0'));
  expect_invalid("tensor 'x': data_offsets [0, 16) out of range of the 8-byte data section");
  write_raw(file_, one_tensor("F32", {4}, {16, 0}), std::string(16, '\0'));
  expect_invalid("tensor 'x': data_offsets [16, 0) out of range");
  write_raw(file_, one_tensor("F32", {0}, {~uint64_t{0}, ~uint64_t{0}}), std::string(16, '\0'));
  expect_invalid("out of range");
  write_raw(file_, one_tensor("F32", {4}, {-16, 0}), std::string(16, '\0'));
  expect_invalid("tensor 'x': data_offsets must be two non-negative integers");
  write_raw(file_, one_tensor("F32", {4}, {0}), std::string(16, '\0'));
  expect_invalid("tensor 'x': data_offsets must be two non-negative integers");
}

TEST_F(SafetensorsErrors, OverlappingOffsets) {
  json h = {{"a", {{"dtype", "F32"}, {"shape", {4}}, {"data_offsets", {0, 16}}}},
            {"b", {{"dtype", "F32"}, {"shape", {4}}, {"data_offsets", {8, 24}}}}};
  write_raw(file_, h.dump(), std::string(24, '\0'));
  expect_invalid("tensor data ranges overlap");
  // The same range twice.
  h["b"]["data_offsets"] = {0, 16};
  write_raw(file_, h.dump(), std::string(24, '\0'));
  expect_invalid("tensor data ranges overlap");
}

TEST_F(SafetensorsErrors, OverlapInTheRealCheckpoint) {
  // Point one real tensor into its neighbour's bytes (same size, so only the overlap is wrong).
  StCheckpoint c = StCheckpoint::read(file_);
  json h = c.header();
  h["model.layers.0.input_layernorm.weight"]["data_offsets"] =
      h["model.layers.1.input_layernorm.weight"]["data_offsets"];
  write_raw(file_, h.dump(), c.data());
  expect_invalid("tensor data ranges overlap");
}

TEST_F(SafetensorsErrors, OffsetsNotMatchingShapeTimesDtype) {
  write_raw(file_, one_tensor("F32", {4}, {0, 12}), std::string(12, '\0'));
  expect_invalid("tensor 'x': data_offsets cover 12 bytes but shape [4] of f32 needs 16");
  write_raw(file_, one_tensor("BF16", {2, 3}, {0, 24}), std::string(24, '\0'));
  expect_invalid("data_offsets cover 24 bytes but shape [2, 3] of bf16 needs 12");
}

TEST_F(SafetensorsErrors, IntegerTensorAsWeight) {
  StCheckpoint c = StCheckpoint::read(file_);
  c.tensors["model.norm.weight"].dtype = "I32";  // same size as F32
  c.write(file_);
  expect_invalid("tensor 'model.norm.weight' is not floating point");
}

TEST_F(SafetensorsErrors, ValidRewriteStillLoads) {
  // The writer itself is sound: an unmodified round trip loads (so the failures above come
  // from the one thing each test breaks).
  StCheckpoint::read(file_).write(file_);
  EXPECT_NO_THROW(Model::load(dir_, make_cpu_backend(1)));
}

}  // namespace
}  // namespace dlx::test
