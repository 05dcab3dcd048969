// A model folder's chat template is semi-trusted input: one that loops without end or blows up
// its output is answered with a 400 naming the budget, promptly, and the server stays healthy.
#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/sanitizer.h"
#include "tests/support/serve_harness.h"

namespace dlx::test {
namespace {
namespace fs = std::filesystem;

// The llada fixture with chat template `tpl` (linked files; only the template is new).
std::string model_with_template(const TempDir& dir, const std::string& tpl) {
  const fs::path m = fs::path(dir.path()) / "hostile";
  fs::create_directories(m);
  for (const char* f :
       {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json"}) {
    fs::create_symlink(fs::path(model_dir("llada")) / f, m / f);
  }
  json cfg = json::parse(read_file(model_dir("llada") + "/tokenizer_config.json"));
  cfg["chat_template"] = tpl;
  std::ofstream(m / "tokenizer_config.json") << cfg.dump();
  return m.string();
}

TEST(ServeTemplate, RunawayTemplatesAreRefusedPromptlyAndTheServerStaysUp) {
  TempDir dir;
  const std::string tpl =
      "{% if messages[0].content == 'loop' %}"
      "{% for i in range(1000000) %}{% for j in range(1000000) %}{% endfor %}{% endfor %}"
      "{% elif messages[0].content == 'big' %}"
      "{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}"
      "{% else %}{{ messages[0].content }}{% endif %}";
  ServerProcess s(dir.path(), {"--db", dir.file("serve.db"), "--model",
                               "hostile=" + model_with_template(dir, tpl)});
  ASSERT_TRUE(s.wait_ready()) << s.stderr_text();
  httplib::Client c("127.0.0.1", s.port());
  c.set_read_timeout(static_cast<time_t>(30 * kTimeScale), 0);
  auto chat = [&](const std::string& content) {
    return post_json(c, "/v1/chat/completions",
                     {{"model", "hostile"},
                      {"max_tokens", 4},
                      {"messages", json::array({{{"role", "user"}, {"content", content}}})}});
  };
  for (const char* kind : {"loop", "big"}) {
    const auto t0 = Clock::now();
    auto r = chat(kind);
    ASSERT_TRUE(r) << kind;
    EXPECT_EQ(r->status, 400) << kind << ": " << r->body;
    const json e = body_json(r)["error"];
    EXPECT_EQ(e["param"], "messages") << r->body;
    EXPECT_NE(e["message"].get<std::string>().find("chat template line 1"), std::string::npos)
        << r->body;
    EXPECT_LT(std::chrono::duration<double>(Clock::now() - t0).count(), 20.0 * kTimeScale) << kind;
  }
  auto ok = chat("hello");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
  auto h = c.Get("/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
}

}  // namespace
}  // namespace dlx::test
