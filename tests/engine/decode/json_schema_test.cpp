// parse_json_schema / schema_accepts: the supported subset, and every refusal naming its part.
#include "engine/decode/json_schema.h"

#include <gtest/gtest.h>

#include <fstream>

#include "engine/util/error.h"
#include "tests/support/test_util.h"

namespace dlx {
namespace {

using ojson = nlohmann::ordered_json;

ojson fixture_schemas() {
  std::ifstream f(test::fixtures() + "/structured/schemas.json");
  return ojson::parse(f);
}

// The message of the kInvalidArgument `schema` raises ("" when it parses).
std::string refusal(const std::string& schema) {
  try {
    parse_json_schema(ojson::parse(schema), "schema");
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
    EXPECT_EQ(e.param(), "schema");
    return e.what();
  }
  return "";
}

TEST(JsonSchema, EveryFixtureSchemaParses) {
  const ojson all = fixture_schemas();
  ASSERT_GE(all.size(), 20u);
  for (const auto& c : all) {
    EXPECT_NO_THROW(parse_json_schema(c["schema"], "schema")) << c["name"];
  }
}

TEST(JsonSchema, PropertiesKeepDeclarationOrder) {
  const SchemaNode n = parse_json_schema(
      ojson::parse(
          R"({"type":"object","properties":{"zeta":{"type":"integer"},"alpha":{"type":"boolean"}}})"),
      "schema");
  ASSERT_EQ(n.properties.size(), 2u);
  EXPECT_EQ(n.properties[0].name, "zeta");
  EXPECT_EQ(n.properties[1].name, "alpha");
  EXPECT_EQ(n.properties[0].schema.pointer, "/properties/zeta");
}

TEST(JsonSchema, RefusalsNameThePart) {
  EXPECT_NE(
      refusal(
          R"({"type":"object","properties":{"tags":{"type":"array","items":{"type":"string"}}}})")
          .find("schema /properties/tags: variable-length arrays"),
      std::string::npos);
  EXPECT_NE(
      refusal(R"({"type":"object","properties":{"a":{"$ref":"#/x"}}})").find("/properties/a/$ref"),
      std::string::npos);
  EXPECT_NE(
      refusal(R"({"oneOf":[{"type":"string"}]})").find("schema /oneOf: `oneOf` is not supported"),
      std::string::npos);
  EXPECT_NE(refusal(R"({"anyOf":[{"type":"string"}]})").find("`anyOf` is not supported"),
            std::string::npos);
  EXPECT_NE(refusal(R"({"type":"string","pattern":"a+"})").find("/pattern"), std::string::npos);
  EXPECT_NE(refusal(R"({"type":"string","format":"date"})").find("/format"), std::string::npos);
  EXPECT_NE(refusal(R"({"type":["string","null"]})").find("type unions"), std::string::npos);
  EXPECT_NE(refusal(R"({"type":"number","minimum":0})").find("/minimum"), std::string::npos);
  EXPECT_NE(refusal(R"({"type":"string","foo":1})").find("`foo` is not supported for string"),
            std::string::npos);
  EXPECT_NE(refusal(R"({"type":"integer","minimum":5,"maximum":4})").find("minimum is above"),
            std::string::npos);
  EXPECT_NE(refusal(R"({"type":"string","minLength":5,"maxLength":4})").find("/maxLength"),
            std::string::npos);
  EXPECT_NE(refusal(R"({"type":"object","properties":{"a":{"type":"integer"}},"required":["b"]})")
                .find("/required/0"),
            std::string::npos);
  EXPECT_NE(refusal(R"({"type":"string","enum":["a",1]})").find("/enum/1"), std::string::npos);
  EXPECT_NE(refusal(R"(true)").find("boolean schemas"), std::string::npos);
  EXPECT_NE(refusal(R"({"description":"x"})").find("needs a `type`"), std::string::npos);
  EXPECT_NE(refusal(R"({"type":"date"})").find("unknown type"), std::string::npos);
  EXPECT_NE(
      refusal(
          R"({"type":"array","items":{"type":"integer"},"minItems":2,"maxItems":2,"uniqueItems":true})")
          .find("/uniqueItems"),
      std::string::npos);
  EXPECT_NE(refusal(R"({"type":"array","items":{"type":"integer"},"minItems":99,"maxItems":99})")
                .find("longer than"),
            std::string::npos);
  EXPECT_NE(refusal(R"({"type":"object","properties":{"a/b":{"type":"string","pattern":"x"}}})")
                .find("/properties/a~1b/pattern"),
            std::string::npos);
  EXPECT_EQ(
      refusal(
          R"({"type":"object","properties":{"a":{"type":"integer","title":"A"}},"additionalProperties":false})"),
      "");
}

TEST(JsonSchema, Validator) {
  const SchemaNode n = parse_json_schema(fixture_schemas()[0]["schema"], "schema");  // person
  std::string why;
  EXPECT_TRUE(schema_accepts(n, ojson::parse(R"({"name":"Ann","age":30})"), why)) << why;
  EXPECT_FALSE(schema_accepts(n, ojson::parse(R"({"name":"Ann","age":130})"), why));
  EXPECT_NE(why.find("/properties/age"), std::string::npos);
  EXPECT_FALSE(schema_accepts(n, ojson::parse(R"({"name":"Ann"})"), why));
  EXPECT_FALSE(schema_accepts(n, ojson::parse(R"({"name":"Ann Bernadette Smith","age":3})"), why));
  EXPECT_FALSE(schema_accepts(n, ojson::parse(R"({"name":"Ann","age":3.5})"), why));
  EXPECT_FALSE(schema_accepts(n, ojson::parse(R"([1])"), why));
  const SchemaNode e = parse_json_schema(ojson::parse(R"({"enum":["a",1,null]})"), "schema");
  EXPECT_TRUE(schema_accepts(e, ojson(nullptr), why));
  EXPECT_TRUE(schema_accepts(e, ojson(1), why));
  EXPECT_FALSE(schema_accepts(e, ojson("b"), why));
  // maxLength counts code points, not bytes.
  const SchemaNode s = parse_json_schema(ojson::parse(R"({"type":"string","maxLength":2})"), "s");
  EXPECT_TRUE(schema_accepts(s, ojson("\xc3\xa9\xc3\xa9"), why));
  EXPECT_FALSE(schema_accepts(s, ojson("abc"), why));
}

}  // namespace
}  // namespace dlx
