// `diffulex forward`: one forward pass over given ids; writes float32 logits [T, V].
#include <cstdio>
#include <fstream>
#include <iostream>
#include <set>

#include "engine/engine.h"
#include "engine/util/error.h"
#include "service/cli/args.h"
#include "service/cli/commands.h"
#include "service/cli/model_loader.h"

namespace dlx::cli {

int cmd_forward(int argc, char** argv, int first) {
  std::set<std::string> options = model_options();
  options.insert({"ids", "block-length", "out"});
  Args a(argc, argv, first, options, {"help"});
  if (a.flag("help")) {
    std::cout << "usage: diffulex forward --model DIR [--weights FILE] --ids 1,2,3 "
                 "[--block-length B] [--threads N] [--device auto|cpu|opencl[:N]] "
                 "[--precision exact|auto|bf16|int8] --out FILE\n"
                 "Writes the logits as float32 little-endian [len(ids), vocab] and prints "
                 "{\"shape\":[T,V]}.\n"
                 "--precision defaults to exact (f32 products, what reference outputs are\n"
                 "compared against); auto is the weights' default (bf16 products for bf16).\n";
    return 0;
  }
  a.required("model");  // no default model: outside tools name the checkpoint they compare
  const auto ids = parse_ids("ids", a.required("ids"));
  const std::string out_path = a.required("out");
  int64_t block = -1;
  if (a.has("block-length")) {
    block = a.integer("block-length", 0);
    if (block <= 0) throw UsageError("--block-length must be a positive integer");
  }

  Engine engine = engine_from_args(a);
  // The command outside tools compare against reference logits: f32 products unless asked.
  const auto lm = load_model_from_args(engine, a, false, "exact");
  const std::shared_ptr<const Model>& model = lm->model;
  const ModelConfig& c = model->config();
  for (int32_t id : ids) {
    if (id >= c.vocab) {
      throw UsageError("--ids: token id " + std::to_string(id) + " is outside the vocabulary of " +
                       std::to_string(c.vocab));
    }
  }
  const int64_t T = static_cast<int64_t>(ids.size());
  if (T > c.max_positions) {
    throw Error(ErrorCode::kOutOfRange, "--ids: " + std::to_string(T) +
                                            " tokens exceed the model's maximum of " +
                                            std::to_string(c.max_positions) + " positions");
  }
  // Without --block-length: the family's own attention (bidirectional, or block-causal with
  // the config's training block size).
  if (block < 0) {
    block = model->spec().attention == AttentionKind::kBlockCausal ? c.train_block_size : 0;
  }
  Session st = model->new_session(T, T);
  ForwardSpan span;
  span.ids = ids;
  span.block_size = static_cast<int>(block);
  const float* logits = model->forward(st, span);

  std::ofstream out(out_path, std::ios::binary);
  if (!out) throw Error(ErrorCode::kNotFound, out_path + ": cannot open for writing");
  out.write(reinterpret_cast<const char*>(logits), T * c.vocab * sizeof(float));
  if (!out) throw Error(ErrorCode::kInternal, out_path + ": write failed");
  std::printf("{\"shape\":[%lld,%d]}\n", static_cast<long long>(T), c.vocab);
  return 0;
}

}  // namespace dlx::cli
