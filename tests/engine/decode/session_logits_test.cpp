// Session memory: the logits buffers hold the rows one forward scores, not the canvas. A
// 640-position canvas on Qwen's 151936-token vocabulary would otherwise need ~389 MB of
// logits on the backend and again on the host.
#include <gtest/gtest.h>

#include <filesystem>

#include "engine/decode/generate.h"
#include "engine/devtools/random_model.h"
#include "engine/model/model.h"

namespace dlx {
namespace {

namespace fs = std::filesystem;

TEST(SessionLogits, CapacityIsTheScoredRowsNotTheCanvas) {
  const std::string dir =
      ::testing::TempDir() + "/dlx_session_logits_" + std::to_string(::getpid());
  RandomModelOptions o;
  o.family = find_arch_spec_by_name("dream");
  o.preset = "tiny-qwen-vocab";
  o.out_dir = dir;
  o.threads = 2;
  write_random_model(o);
  auto m = Model::load(dir, make_cpu_backend(2));
  const int64_t V = m->config().vocab;
  ASSERT_EQ(V, 151936);

  DecodeParams p = default_decode_params(m->config());
  p.gen_length = 632;  // canvas 640 with the 8-token prompt
  p.block_length = 32;
  p.steps = 40;  // 2 per block
  p.stop_at_eos = false;
  const std::vector<int32_t> prompt = {1, 2, 3, 4, 5, 6, 7, 8};
  Session s;
  GenerateOptions go;
  go.session = &s;
  GenerateResult r = generate(*m, prompt, p, go);
  EXPECT_EQ(r.canvas_length, 640);
  EXPECT_EQ(r.output_ids.size(), 632u);

  // Dream scores the block and the shifted row before it: 33 rows of the 640.
  EXPECT_EQ(s.max_tokens, 640);
  EXPECT_LE(s.max_logit_rows, 33);
  EXPECT_EQ(s.logits.rows, s.max_logit_rows);
  EXPECT_EQ(s.logits.cols, V);
  EXPECT_EQ(static_cast<int64_t>(s.logits_host.size()), s.max_logit_rows * V);
  // The admission-control estimate agrees: well under one canvas of logits (389 MB).
  EXPECT_LT(generation_bytes(m->config(), 8, p), uint64_t{640} * V * sizeof(float) / 4);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace dlx
