// The chat template is parsed once, when the tokenizer loads: broken syntax fails the load with
// its file and line, an unsupported construct or a missing template fails only render_chat.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "engine/tokenizer/tokenizer.h"
#include "engine/util/error.h"
#include "tests/support/test_util.h"

namespace dlx::test {
namespace {
namespace fs = std::filesystem;

const nlohmann::json kMessages = nlohmann::json::array({{{"role", "user"}, {"content", "hi"}}});

// A copy of the Qwen3 tokenizer folder whose template is `tpl` (as chat_template.jinja; the
// tokenizer_config.json keeps everything but its chat_template).
fs::path folder_with_template(const std::string& name, const std::string* tpl) {
  const fs::path dir =
      fs::temp_directory_path() / ("dlx_tpl_" + std::to_string(::getpid())) / name;
  fs::create_directories(dir);
  const fs::path src = fixtures() + "/tokenizers/qwen3";
  fs::copy_file(src / "tokenizer.json", dir / "tokenizer.json",
                fs::copy_options::overwrite_existing);
  nlohmann::json cfg = nlohmann::json::parse(read_file((src / "tokenizer_config.json").string()));
  cfg.erase("chat_template");
  std::ofstream(dir / "tokenizer_config.json") << cfg.dump();
  if (tpl) std::ofstream(dir / "chat_template.jinja") << *tpl;
  return dir;
}

TEST(ChatTemplateLoad, BrokenSyntaxFailsTheLoadWithFileAndLine) {
  const std::string tpl = "{{ messages[0].content }}\n{% if %}";
  try {
    Tokenizer::load(folder_with_template("broken", &tpl).string());
    FAIL() << "loaded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
    const std::string msg = e.what();
    EXPECT_NE(msg.find("chat_template.jinja"), std::string::npos) << msg;
    EXPECT_NE(msg.find("line 2"), std::string::npos) << msg;
  }
}

TEST(ChatTemplateLoad, ParsedOnceAndRenderedManyTimes) {
  const std::string tpl = "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}";
  auto tok = Tokenizer::load(folder_with_template("ok", &tpl).string());
  EXPECT_EQ(&tok->chat_template(), &tok->chat_template());
  for (int k = 0; k < 3; ++k) EXPECT_EQ(render_chat(*tok, kMessages, true), "<user>hi");
}

TEST(ChatTemplateLoad, UnsupportedConstructLoadsButCannotRender) {
  const std::string tpl = "{% call m() %}x{% endcall %}";
  auto tok = Tokenizer::load(folder_with_template("unsupported", &tpl).string());
  EXPECT_EQ(tok->encode("hi").size(), 1u);  // plain prompts still work
  try {
    render_chat(*tok, kMessages, true);
    FAIL() << "rendered";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_EQ(e.param(), "messages");
  }
}

TEST(ChatTemplateLoad, NoTemplateIsAnErrorOnlyWhenRendering) {
  auto tok = Tokenizer::load(folder_with_template("none", nullptr).string());
  try {
    render_chat(*tok, kMessages, true);
    FAIL() << "rendered";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("no chat template"), std::string::npos);
  }
}

TEST(ChatTemplateLoad, AnOversizedTemplateFileIsRefused) {
  const std::string tpl(2u << 20, 'x');
  try {
    Tokenizer::load(folder_with_template("huge", &tpl).string());
    FAIL() << "loaded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
    EXPECT_NE(std::string(e.what()).find("larger than the limit"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace dlx::test
