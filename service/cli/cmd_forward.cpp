// `diffulex forward`: one forward pass over given ids; writes float32 logits [T, V].
#include <cstdio>
#include <fstream>
#include <iostream>

#include "engine/backend/backend_factory.h"
#include "engine/model/model.h"
#include "engine/util/error.h"
#include "service/cli/args.h"
#include "service/cli/commands.h"

namespace dlx::cli {

int cmd_forward(int argc, char** argv, int first) {
  Args a(argc, argv, first, {"model", "weights", "ids", "block-length", "threads", "device", "out"},
         {"help"});
  if (a.flag("help")) {
    std::cout << "usage: diffulex forward --model DIR [--weights FILE] --ids 1,2,3 "
                 "[--block-length B] [--threads N] [--device auto|cpu|opencl[:N]] --out FILE\n"
                 "Writes the logits as float32 little-endian [len(ids), vocab] and prints "
                 "{\"shape\":[T,V]}.\n";
    return 0;
  }
  const std::string dir = a.required("model");
  const auto ids = parse_ids("ids", a.required("ids"));
  const std::string out_path = a.required("out");
  const int64_t threads = a.integer("threads", 0);
  if (threads < 0) throw UsageError("--threads must be >= 0 (0 = all cores)");
  int64_t block = -1;
  if (a.has("block-length")) {
    block = a.integer("block-length", 0);
    if (block <= 0) throw UsageError("--block-length must be a positive integer");
  }

  LoadOptions lo;
  lo.weights = a.str("weights");
  std::string note;
  auto backend = make_backend(a.str("device", "auto"), static_cast<int>(threads), &note);
  auto model = load_with_fallback(backend, static_cast<int>(threads), &note,
                                  [&](auto b) { return Model::load(dir, b, lo); });
  if (!note.empty()) std::fprintf(stderr, "falling back to CPU: %s\n", note.c_str());
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
  ForwardState st = model->new_state(T, T);
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
