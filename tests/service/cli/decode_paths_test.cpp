// One rule for decoding parameters: the CLI flags, chat's /set and HTTP's fields give the same
// DecodeParams for the same request (issue: a user asking for 30 tokens gets 30 everywhere).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/decode/decode_params.h"
#include "engine/model/model_config.h"
#include "service/cli/args.h"
#include "service/cli/decode_flags.h"
#include "service/http/generation_request.h"
#include "tests/support/test_util.h"

namespace dlx {
namespace {

DecodeParams from_flags(const ModelConfig& cfg, std::vector<std::string> argv_text) {
  std::vector<char*> argv;
  for (auto& s : argv_text) argv.push_back(s.data());
  std::set<std::string> options = cli::decode_flag_options();
  options.insert("model");
  cli::Args a(static_cast<int>(argv.size()), argv.data(), 0, options, {});
  return resolve_decode_params(cfg, cli::decode_overrides(a));
}

TEST(DecodePaths, CliChatAndHttpAgreeOnALengthTheBlockDoesNotDivide) {
  const ModelConfig llada = load_model_config(test::model_dir("llada"));
  const DecodeParams cli = from_flags(llada, {"--model", "x", "--gen-length", "30",
                                              "--block-length", "8", "--stop-at-eos", "true"});
  // chat: /max 30 then /block 8 on the model's defaults
  DecodeParams chat = default_decode_params(llada);
  set_param(chat, "gen_length", "30");
  set_param(chat, "block_length", "8");
  set_param(chat, "stop_at_eos", "true");

  http::GenerationInput in;
  in.endpoint = Endpoint::kChat;
  in.max_tokens = 30;
  in.diffusion = {{"block_length", 8}};
  const DecodeParams api = http::resolve_decode_params(llada, in);

  EXPECT_EQ(cli.gen_length, 30);
  EXPECT_EQ(cli.block_length, 8);
  EXPECT_EQ(to_json(cli), to_json(chat));
  EXPECT_EQ(to_json(cli), to_json(api));
  validate(cli, llada, 4);  // 3 full blocks of 8 and one of 6
}

TEST(DecodePaths, FlagsApplyInOrderAndUnknownFlagsAreNotDecodingKeys) {
  const ModelConfig dream = load_model_config(test::model_dir("dream"));
  const DecodeParams p =
      from_flags(dream, {"--seed", "3", "--model", "x", "--seed", "7", "--top-k", "5"});
  EXPECT_EQ(p.seed, 7u);
  EXPECT_EQ(p.top_k, 5);
  EXPECT_EQ(cli::decode_key_flag("sub_block_length"), "sub-block-length");
  EXPECT_EQ(cli::decode_flag_options().count("model"), 0u);
  EXPECT_NE(cli::decode_flags_help().find(" --cfg-scale"), std::string::npos);
}

}  // namespace
}  // namespace dlx
