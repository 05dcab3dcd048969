// Hostile chat templates: deep nesting, trapping integer arithmetic, runaway loops and
// blow-ups of strings, lists and output give an Error, never a crash, hang or exhaustion.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>

#include "engine/tokenizer/jinja_template.h"
#include "engine/tokenizer/jinja_value.h"
#include "engine/util/error.h"
#include "tests/support/sanitizer.h"

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

ErrorCode code_of(const std::string& tpl, const RenderLimits& limits = {}) {
  try {
    Template(tpl).render({}, limits);
  } catch (const Error& e) {
    return e.code();
  }
  return ErrorCode::kInternal;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

TEST(JinjaLimits, RunawayLoopsStopAtTheStepBudget) {
  const auto t0 = std::chrono::steady_clock::now();
  // A trillion iterations, with an empty body and with one: both stop at the budget.
  expect_error("{% for i in range(1000000) %}{% for j in range(1000000) %}{% endfor %}{% endfor %}",
               "steps");
  expect_error(
      "{% for i in range(1000000) %}{% for j in range(1000000) %}{{ '' }}{% endfor %}"
      "{% endfor %}",
      "steps");
  EXPECT_LT(seconds_since(t0), 30.0 * test::kTimeScale);  // seconds here
  RenderLimits small;
  small.max_steps = 100;
  EXPECT_EQ(code_of("{% for i in range(60) %}{{ i }}{% endfor %}", small),
            ErrorCode::kInvalidArgument);
  EXPECT_NO_THROW(Template("{% for i in range(20) %}{{ i }}{% endfor %}").render({}, small));
}

TEST(JinjaLimits, SelfContainingAndDeeplyNestedValuesAreErrorsNotCrashes) {
  // A namespace that holds itself (tests/fuzz/regressions/chat_template): printing it recursed
  // until the stack overflowed, and the cycle leaked.
  const std::string self = "{% set ns = namespace(n=0) %}{% set ns.n = ns %}";
  expect_error(self + "{{ ns }}", "contains itself");
  expect_error(self + "{{ [ns]|string }}", "contains itself");
  EXPECT_EQ(Template(self + "{{ ns.n.n.n is defined }}").render({}), "True");
  // 150,000 levels built in a loop: freeing them recursed once per level and overflowed the
  // stack at the end of the render. Printing, serializing or comparing 1,500 levels is an error.
  auto deep = [](int levels) {
    return "{% set ns = namespace(x=[]) %}{% for i in range(" + std::to_string(levels) +
           ") %}{% set ns.x = [ns.x] %}{% endfor %}";
  };
  EXPECT_EQ(Template(deep(150000) + "{{ ns.x|length }}").render({}), "1");
  expect_error(deep(1500) + "{{ ns.x }}", "nested deeper than 1000");
  expect_error(deep(1500) + "{{ ns.x|tojson }}", "nested deeper than 1000");
  expect_error(deep(1500) + "{{ ns.x == [ns.x[0]] }}", "nested deeper than 1000");
  EXPECT_EQ(Template(deep(900) + "{{ ns.x|tojson|length }}").render({}), "1802");
  // Template variables from JSON (512 levels at most) still print.
  nlohmann::ordered_json nested = 1;
  for (int k = 0; k < 511; ++k) nested = nlohmann::ordered_json::array({nested});
  EXPECT_EQ(Template("{{ x|tojson }}").render({{"x", Value::from_json(nested)}}), nested.dump());
}

TEST(JinjaLimits, IntOfAHugeFloatIsAnError) {
  // int() of a float past 64 bits was an undefined float-to-integer conversion.
  expect_error("{{ 1e300|int }}", "integer overflow");
  expect_error("{{ -1e19|int }}", "integer overflow");
  // A string int() cannot read gives the default, as in Jinja2.
  EXPECT_EQ(
      Template("{{ 1e18|int }} {{ -2.7|int }} {{ '9.5'|int }} {{ '-1e19'|int(7) }}").render({}),
      "1000000000000000000 -2 9 7");
}

TEST(JinjaLimits, StringsAndListsCannotBlowUp) {
  const auto t0 = std::chrono::steady_clock::now();
  expect_error("{{ 'x' * 1000000 * 1000 }}", "over the chat template limit");
  expect_error("{{ ([1] * 1000000) * 1000 }}", "over the chat template limit");
  expect_error("{{ ('x' * 1000000) * 100000000000 }}", "over the chat template limit");
  expect_error(
      "{% set ns = namespace(s='x') %}{% for i in range(64) %}"
      "{% set ns.s = ns.s + ns.s %}{% endfor %}",
      "over the chat template limit");
  expect_error(
      "{% set ns = namespace(s='x') %}{% for i in range(64) %}"
      "{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
      "over the chat template limit");
  expect_error("{{ (['x' * 1000000] * 100) | join('') }}", "join");
  expect_error("{{ ('ab\n' * 1000) | indent(100000000) }}", "indent");
  expect_error("{{ ('ab\n' * 100000) | indent(1000) }}", "indent");
  expect_error("{{ ('x' * 100000) | replace('', 'y' * 1000) }}", "replace");
  expect_error("{{ ('x' * 100000) | replace('x', 'y' * 1000) }}", "replace");
  expect_error("{{ [[[[1]]]] | tojson(indent=100000000) }}", "tojson");
  EXPECT_LT(seconds_since(t0), 30.0 * test::kTimeScale);  // seconds here
  // Ordinary sizes are untouched.
  EXPECT_EQ(Template("{{ 'ab' * 3 }}|{{ [1, 2] * 2 }}|{{ 'a\nb' | indent(2) }}").render({}),
            "ababab|[1, 2, 1, 2]|a\n  b");
}

TEST(JinjaLimits, OutputIsBounded) {
  expect_error("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}",
               "rendered chat is larger than the limit");
  RenderLimits small;
  small.max_output_bytes = 10;
  EXPECT_EQ(code_of("{{ 'x' * 11 }}", small), ErrorCode::kInvalidArgument);
  EXPECT_EQ(Template("{{ 'x' * 10 }}").render({}, small), "xxxxxxxxxx");
}

TEST(JinjaLimits, ARenderStopsOnCancelAndDeadline) {
  const std::string slow = "{% for i in range(1000000) %}{{ i }}{% endfor %}";
  std::atomic<bool> cancel{true};
  Interrupt stop;
  stop.cancel = &cancel;
  RenderLimits limits;
  limits.interrupt = &stop;
  EXPECT_EQ(code_of(slow, limits), ErrorCode::kCancelled);
  Interrupt late;
  late.deadline = std::chrono::steady_clock::now();
  limits.interrupt = &late;
  EXPECT_EQ(code_of(slow, limits), ErrorCode::kTimeout);
}

}  // namespace
}  // namespace dlx::jinja
