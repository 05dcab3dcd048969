// Admission control: a generation whose session memory exceeds --max-request-memory is refused
// up front with a 400 that gives both numbers; requests within the budget run as before.
#include <gtest/gtest.h>

#include "engine/decode/generate.h"
#include "engine/model/model_config.h"
#include "tests/support/serve_harness.h"

namespace dlx::test {
namespace {

TEST(ServeAdmission, RequestsOverTheMemoryBudgetAreRefusedWithTheNumbers) {
  const ModelConfig cfg = load_model_config(model_dir("llada"));
  const std::vector<int32_t> prompt = {33, 123, 286, 185};
  DecodeParams small = default_decode_params(cfg);
  small.gen_length = 32;
  small.block_length = 32;
  DecodeParams large = small;
  large.gen_length = 448;  // within the fixture's 512 positions
  const uint64_t small_bytes = generation_bytes(cfg, 4, small);
  const uint64_t large_bytes = generation_bytes(cfg, 4, large);
  ASSERT_LT(small_bytes, large_bytes);
  const uint64_t budget = (small_bytes + large_bytes) / 2;

  TempDir dir;
  ServerProcess s(dir.path(),
                  {"--db", dir.file("serve.db"), "--model", "llada=" + model_dir("llada"),
                   "--max-request-memory", std::to_string(budget)});
  ASSERT_TRUE(s.wait_ready()) << s.stderr_text();
  httplib::Client c("127.0.0.1", s.port());
  c.set_read_timeout(60, 0);
  auto gen = [&](int n) {
    return post_json(c, "/v1/generate",
                     {{"model", "llada"},
                      {"prompt_ids", prompt},
                      {"diffusion", {{"gen_length", n}, {"block_length", 32}}}});
  };
  auto refused = gen(448);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 400) << refused->body;
  const json e = body_json(refused)["error"];
  EXPECT_EQ(e["code"], "memory_budget_exceeded") << refused->body;
  EXPECT_EQ(e["param"], "gen_length");
  EXPECT_NE(e["message"].get<std::string>().find("MiB"), std::string::npos) << refused->body;
  EXPECT_NE(e["message"].get<std::string>().find("--max-request-memory"), std::string::npos);
  auto ok = gen(32);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
}

}  // namespace
}  // namespace dlx::test
