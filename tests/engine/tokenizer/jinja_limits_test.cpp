// Hostile chat templates: deep nesting and trapping integer arithmetic give an Error, never a
// crash.
#include <gtest/gtest.h>

#include <string>

#include "engine/tokenizer/jinja_template.h"
#include "engine/util/error.h"

namespace dlx::jinja {
namespace {

std::string repeat(const std::string& s, int n) {
  std::string r;
  for (int k = 0; k < n; ++k) r += s;
  return r;
}

// Parsing (and rendering) tpl throws an Error whose message contains want.
void expect_error(const std::string& tpl, const std::string& want) {
  try {
    Template(tpl).render({});
    ADD_FAILURE() << "no error for a template of " << tpl.size() << " bytes";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
  }
}

TEST(JinjaLimits, DeepNestingIsAnErrorWithTheLine) {
  const std::string msg = "chat template line 2: nesting deeper than 256";
  expect_error("\n{{ " + repeat("(", 100000) + "1" + repeat(")", 100000) + " }}", msg);
  expect_error("\n{{ " + repeat("[", 100000) + repeat("]", 100000) + " }}", msg);
  expect_error("\n{{ " + repeat("-", 100000) + "1 }}", msg);
  expect_error("\n{{ " + repeat("not ", 100000) + "1 }}", msg);
  expect_error("\n{{ x" + repeat("|trim", 100000) + " }}", msg);
  expect_error("\n{{ 1" + repeat("+1", 100000) + " }}", msg);
  expect_error("\n{{ x" + repeat(".a", 100000) + " }}", msg);
  expect_error("\n{{ " + repeat("f(", 100000) + repeat(")", 100000) + " }}", msg);
  expect_error("\n{{ 1" + repeat(" if 1 else 1", 100000) + " }}", msg);
  expect_error("\n" + repeat("{% if 1 %}", 100000) + repeat("{% endif %}", 100000), msg);
}

TEST(JinjaLimits, ReasonableNestingStillWorks) {
  EXPECT_EQ(Template("{{ " + repeat("(", 50) + "1" + repeat(")", 50) + " }}").render({}), "1");
  EXPECT_EQ(Template("{{ 0" + repeat("+1", 200) + " }}").render({}), "200");
  EXPECT_EQ(
      Template("{% if 0 %}{% " + repeat("elif 0 %}{% ", 10000) + "else %}e{% endif %}").render({}),
      "e");
}

TEST(JinjaLimits, IntegerArithmeticNeverTraps) {
  const std::string min = "(-9223372036854775807 - 1)";
  expect_error("{{ " + min + " // -1 }}", "integer overflow");
  EXPECT_EQ(Template("{{ " + min + " % -1 }}").render({}), "0");
  EXPECT_EQ(Template("{{ 7 // -1 }}|{{ -7 % 3 }}|{{ 2 ** 62 }}").render({}),
            "-7|2|4611686018427387904");
  expect_error("{{ 1 // 0 }}", "by zero");
  expect_error("{{ 1 % 0 }}", "by zero");
  expect_error("{{ 2 ** 63 }}", "integer overflow");
  expect_error("{{ 3 ** 1000000000000 }}", "integer overflow");
  expect_error("{{ 9223372036854775807 + 1 }}", "integer overflow");
  expect_error("{{ " + min + " - 1 }}", "integer overflow");
  expect_error("{{ 4611686018427387904 * 2 }}", "integer overflow");
  expect_error("{{ -" + min + " }}", "integer overflow");
}

}  // namespace
}  // namespace dlx::jinja
