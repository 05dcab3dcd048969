#include "engine/util/json_parse.h"

#include <gtest/gtest.h>

#include <string>

namespace dlx {
namespace {

std::string nested(int depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

TEST(JsonParse, AcceptsOrdinaryDocuments) {
  auto j = parse_json_limited(R"({"a":[1,{"b":2}]})", "t", ErrorCode::kInvalidModel);
  EXPECT_EQ(j["a"][1]["b"], 2);
}

TEST(JsonParse, DepthAtTheCapIsAcceptedOneMoreIsRefused) {
  JsonLimits lim;
  lim.max_depth = 8;
  EXPECT_NO_THROW(parse_json_limited(nested(8), "t", ErrorCode::kInvalidModel, lim));
  try {
    parse_json_limited(nested(9), "cfg.json", ErrorCode::kInvalidModel, lim);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
    EXPECT_NE(std::string(e.what()).find("cfg.json"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("deeper"), std::string::npos);
  }
}

TEST(JsonParse, HugelyNestedInputIsAnErrorNotACrash) {
  EXPECT_THROW(parse_json_limited(nested(200000), "body", ErrorCode::kInvalidArgument), Error);
  EXPECT_THROW(parse_ordered_json_limited(nested(200000), "t", ErrorCode::kInvalidModel), Error);
}

TEST(JsonParse, SizeCapAndMalformedInput) {
  JsonLimits lim;
  lim.max_bytes = 4;
  EXPECT_THROW(parse_json_limited("[1,2,3]", "t", ErrorCode::kInvalidModel, lim), Error);
  EXPECT_THROW(parse_json_limited("{bad", "t", ErrorCode::kInvalidModel), Error);
}

}  // namespace
}  // namespace dlx
