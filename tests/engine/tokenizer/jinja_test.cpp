// The Jinja interpreter against Python Jinja2's renderings (jinja_cases.inc), plus the errors
// that must never turn into a wrong prompt: unsupported constructs, syntax errors, undefined
// values, raise_exception.
#include <gtest/gtest.h>

#include "engine/tokenizer/jinja_template.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/util/error.h"
#include "tests/support/test_util.h"

namespace dlx::jinja {
namespace {

struct Case {
  const char* tpl;
  const char* ctx;
  const char* want;
};

const Case kCases[] = {
#include "tests/engine/tokenizer/jinja_cases.inc"
};

const char* kMessages =
    R"([{"role": "system", "content": "  Be nice.\n"}, {"role": "user", "content": "Hi <b>é你😀"}, )"
    R"({"role": "assistant", "content": "<think>\nhmm\n</think>\n\nHello", "tool_calls": [{"function": )"
    R"({"name": "f", "arguments": {"b": 1, "a": [1.5, null, true, "x\"y"]}}}]}])";

std::string render(const std::string& tpl, const std::string& ctx_json = "{}") {
  std::vector<std::pair<std::string, Value>> vars;
  const auto ctx = nlohmann::ordered_json::parse(ctx_json);
  for (const auto& [k, v] : ctx.items()) {
    vars.emplace_back(k, Value::from_json(v));
  }
  return Template(tpl).render(vars);
}

TEST(Jinja, MatchesPythonJinja2) {
  for (const Case& c : kCases) {
    std::string ctx = c.ctx;
    if (auto p = ctx.find("$MSGS"); p != std::string::npos) ctx.replace(p, 5, kMessages);
    EXPECT_EQ(render(c.tpl, ctx), c.want) << "template: " << c.tpl;
  }
}

ErrorCode error_of(const std::string& tpl, std::string* msg = nullptr) {
  try {
    render(tpl);
  } catch (const Error& e) {
    if (msg) *msg = e.what();
    return e.code();
  }
  ADD_FAILURE() << "no error for: " << tpl;
  return ErrorCode::kInternal;
}

TEST(Jinja, UnsupportedConstructsAreErrorsNotOutput) {
  std::string msg;
  EXPECT_EQ(error_of("{{ x | wordwrap }}", &msg), ErrorCode::kUnsupported);
  EXPECT_NE(msg.find("wordwrap"), std::string::npos) << msg;
  EXPECT_EQ(error_of("a\n{% include 'x.j' %}", &msg), ErrorCode::kUnsupported);
  EXPECT_NE(msg.find("line 2"), std::string::npos) << msg;
  EXPECT_EQ(error_of("{% call foo() %}{% endcall %}"), ErrorCode::kUnsupported);
  EXPECT_EQ(error_of("{% filter upper %}x{% endfilter %}"), ErrorCode::kUnsupported);
  EXPECT_EQ(error_of("{{ 1 is prime }}"), ErrorCode::kUnsupported);
  EXPECT_EQ(error_of("{% for x in y recursive %}{% endfor %}"), ErrorCode::kUnsupported);
  EXPECT_EQ(error_of("{{ '%s' % 1 }}"), ErrorCode::kUnsupported);
  EXPECT_EQ(error_of("{{ 'a{}'.format(1) }}"), ErrorCode::kUnsupported);
  EXPECT_EQ(error_of("{{ f(*args) }}"), ErrorCode::kUnsupported);
}

TEST(Jinja, SyntaxErrorsNameTheLine) {
  std::string msg;
  EXPECT_EQ(error_of("ok\n{% if x %}never closed", &msg), ErrorCode::kInvalidModel);
  EXPECT_NE(msg.find("endif"), std::string::npos) << msg;
  EXPECT_EQ(error_of("{{ 'unterminated }}"), ErrorCode::kInvalidModel);
  EXPECT_EQ(error_of("{% endfor %}"), ErrorCode::kInvalidModel);
  EXPECT_EQ(error_of("{% frobnicate %}"), ErrorCode::kInvalidModel);
  EXPECT_EQ(error_of("{{ (1 + }}"), ErrorCode::kInvalidModel);
  EXPECT_EQ(error_of("{% break %}"), ErrorCode::kInvalidModel);
  EXPECT_EQ(error_of("{# open comment"), ErrorCode::kInvalidModel);
}

TEST(Jinja, RuntimeErrorsAreInvalidArgument) {
  std::string msg;
  EXPECT_EQ(error_of("{{ raise_exception('roles must alternate') }}", &msg),
            ErrorCode::kInvalidArgument);
  EXPECT_NE(msg.find("roles must alternate"), std::string::npos) << msg;
  EXPECT_EQ(error_of("line1\n{{ foo.bar }}", &msg), ErrorCode::kInvalidArgument);
  EXPECT_NE(msg.find("'foo' is undefined"), std::string::npos) << msg;
  EXPECT_NE(msg.find("line 2"), std::string::npos) << msg;
  EXPECT_EQ(error_of("{{ 'a' + 1 }}"), ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_of("{{ x + 1 }}"), ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_of("{{ 1 // 0 }}"), ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_of("{{ none < 1 }}"), ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_of("{% set x = 1 %}{% set x.a = 2 %}"), ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_of("{{ [1].append(2) }}"), ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_of("{{ range(10000000) | length }}"), ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_of("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}"),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_of("{{ undefined_var | tojson }}"), ErrorCode::kInvalidArgument);
}

TEST(Jinja, UndefinedValuesRenderEmptyLikeJinja2) {
  EXPECT_EQ(render("[{{ nothing }}][{{ (nothing.x is defined) if nothing is defined else 'u' }}]"),
            "[][u]");
  EXPECT_EQ(render("{% for x in nothing %}x{% endfor %}{{ nothing | length }}"), "0");
}

TEST(RenderChat, NeedsATemplateAndAListOfMessages) {
  auto tok = Tokenizer::load(test::model_dir("dream"));
  const auto msgs = nlohmann::json::parse(R"([{"role": "user", "content": "hi"}])");
  EXPECT_EQ(render_chat(*tok, msgs, true),
            "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
  try {
    render_chat(*tok, nlohmann::json::parse(R"({"role": "user"})"), true);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  }
  const std::string dir = ::testing::TempDir() + "/tok_no_template";
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(test::model_dir("dream") + "/tokenizer.json", dir + "/tokenizer.json",
                             std::filesystem::copy_options::overwrite_existing);
  auto bare = Tokenizer::load(dir);
  try {
    render_chat(*bare, msgs, true);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("no chat template"), std::string::npos);
  }
}

TEST(RenderChat, ExtraVariablesReachTheTemplate) {
  auto tok = Tokenizer::load(test::model_dir("llada"));
  const auto msgs = nlohmann::ordered_json::parse(R"([{"role": "user", "content": "  hi  "}])");
  // LLaDA's template trims content and prepends bos_token from tokenizer_config.json.
  EXPECT_EQ(render_chat(*tok, msgs, false),
            "<|startoftext|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>");
  EXPECT_EQ(render_chat(*tok, msgs, false, nlohmann::ordered_json{{"bos_token", "<B>"}}),
            "<B><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>");
}

}  // namespace
}  // namespace dlx::jinja
