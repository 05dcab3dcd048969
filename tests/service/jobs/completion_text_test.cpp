// Unit tests of CompletionText: final-prefix tracking over a canvas with masks, end tokens with
// and without stop_at_eos, OpenAI stop strings across token boundaries and the held-back text.
#include "service/jobs/completion_text.h"

#include <gtest/gtest.h>

#include "engine/model/model_config.h"
#include "engine/tokenizer/tokenizer.h"
#include "tests/support/test_util.h"

namespace dlx {
namespace {

class CompletionTextTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cfg = load_model_config(test::model_dir("llada"));
    tok = Tokenizer::load(test::model_dir("llada"));
  }
  std::string decode(std::span<const int32_t> ids) const { return tok->decode(ids, true); }

  ModelConfig cfg;
  std::shared_ptr<Tokenizer> tok;
};

TEST_F(CompletionTextTest, EmitsTheFinalPrefixOnly) {
  const auto ids = tok->encode("hello world, fine day");
  ASSERT_GE(ids.size(), 3u);
  const int32_t M = cfg.mask_id;
  CompletionText t(tok.get(), cfg, true, {});
  std::vector<int32_t> canvas(ids.size(), M);
  canvas[1] = ids[1];  // committed, but position 0 is still masked: nothing is final
  auto d = t.update(canvas, M);
  EXPECT_TRUE(d.ids.empty());
  EXPECT_EQ(d.text, "");
  canvas[0] = ids[0];
  d = t.update(canvas, M);
  EXPECT_EQ(d.ids, std::vector<int32_t>({ids[0], ids[1]}));
  std::string text = d.text;
  d = t.finish(ids);
  text += d.text;
  EXPECT_EQ(text, decode(ids));
  EXPECT_EQ(t.text(), decode(ids));
  EXPECT_EQ(t.ids(), ids);
}

TEST_F(CompletionTextTest, EndTokenEndsTheOutputOnlyWithStopAtEos) {
  const auto ids = tok->encode("hi there");
  const int32_t eos = cfg.eos_ids.at(0);
  std::vector<int32_t> canvas = {ids[0], eos, ids[1]};
  CompletionText stop(tok.get(), cfg, true, {});
  stop.update(canvas, cfg.mask_id);
  EXPECT_TRUE(stop.ended());
  EXPECT_EQ(stop.ids(), std::vector<int32_t>({ids[0], eos}));
  EXPECT_EQ(stop.text(), decode(std::vector<int32_t>{ids[0]}));

  // stop_at_eos = false: the ids go on past the end token; the text (the answer) does not.
  CompletionText all(tok.get(), cfg, false, {});
  all.update(canvas, cfg.mask_id);
  all.finish(canvas);
  EXPECT_EQ(all.ids(), canvas);
  EXPECT_EQ(all.text(), decode(std::vector<int32_t>{ids[0]}));
}

TEST_F(CompletionTextTest, StopStringAcrossTokens) {
  const std::string text = "hello world";
  const auto ids = tok->encode(text);
  CompletionText t(tok.get(), cfg, true, {"lo w", "zzz"});
  std::string shown;
  for (size_t n = 1; n <= ids.size() && !t.ended(); ++n) {
    std::vector<int32_t> canvas(ids.begin(), ids.begin() + n);
    canvas.resize(ids.size(), cfg.mask_id);
    shown += t.update(canvas, cfg.mask_id).text;
  }
  shown += t.finish(ids).text;
  EXPECT_TRUE(t.stopped_by_string());
  EXPECT_EQ(t.text(), "hel");
  EXPECT_EQ(shown, "hel");
  // The output ids end with the token that completed the stop string.
  size_t need = 1;
  while (decode(std::span<const int32_t>(ids.data(), need)).find("lo w") == std::string::npos) {
    ++need;
  }
  EXPECT_EQ(t.ids(), std::vector<int32_t>(ids.begin(), ids.begin() + need));
}

TEST_F(CompletionTextTest, HoldsBackAPossibleStopStringStart) {
  const auto ids = tok->encode("hello wor");
  CompletionText t(tok.get(), cfg, true, {"world!"});
  const auto d = t.update(ids, cfg.mask_id);
  // "wor" may begin "world!": not shown yet.
  EXPECT_EQ(d.text, "hello ");
  const auto more = tok->encode("ld?");
  std::vector<int32_t> all = ids;
  all.insert(all.end(), more.begin(), more.end());
  const auto rest = t.finish(all);
  EXPECT_EQ(d.text + rest.text, "hello world?");
  EXPECT_FALSE(t.stopped_by_string());
}

TEST_F(CompletionTextTest, WithoutTokenizerTracksIdsOnly) {
  CompletionText t(nullptr, cfg, true, {"x"});
  const std::vector<int32_t> canvas = {5, 6, cfg.mask_id};
  const auto d = t.update(canvas, cfg.mask_id);
  EXPECT_EQ(d.ids, std::vector<int32_t>({5, 6}));
  EXPECT_EQ(d.text, "");
  EXPECT_EQ(t.text(), "");
}

}  // namespace
}  // namespace dlx
