// Helpers for the GGUF tests: logits of a model, relative differences, KL and top-1 agreement.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/model/model.h"

namespace dlx::test {

// Logits [T, V] of one forward over `ids` (block_size 0: full attention).
inline std::vector<float> forward_logits(const Model& m, const std::vector<int32_t>& ids,
                                         int block_size = 0) {
  const int64_t T = static_cast<int64_t>(ids.size());
  Session s = m.new_session(T, T);
  ForwardSpan sp;
  sp.ids = ids;
  sp.block_size = block_size;
  const float* p = m.forward(s, sp);
  return std::vector<float>(p, p + T * m.config().vocab);
}

// max|a - b| / max|ref|: the fixtures' "rel".
inline double rel_diff(const std::vector<float>& a, const std::vector<float>& ref) {
  double d = 0, r = 0;
  for (size_t i = 0; i < a.size() && i < ref.size(); ++i) {
    d = std::max(d, static_cast<double>(std::fabs(a[i] - ref[i])));
    r = std::max(r, static_cast<double>(std::fabs(ref[i])));
  }
  return r > 0 ? d / r : d;
}

struct Agreement {
  double mean_kl = 0, max_kl = 0;  // KL(ref || model) per row, nats
  double top1 = 0;                 // fraction of rows with the same argmax
};

inline Agreement agreement(const std::vector<float>& got, const std::vector<float>& ref,
                           int64_t vocab) {
  Agreement a;
  const int64_t rows = static_cast<int64_t>(ref.size()) / vocab;
  int same = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const float* g = got.data() + r * vocab;
    const float* f = ref.data() + r * vocab;
    const double mg = *std::max_element(g, g + vocab), mf = *std::max_element(f, f + vocab);
    double zg = 0, zf = 0;
    for (int64_t v = 0; v < vocab; ++v) zg += std::exp(g[v] - mg), zf += std::exp(f[v] - mf);
    double kl = 0;
    for (int64_t v = 0; v < vocab; ++v) {
      const double lf = f[v] - mf - std::log(zf), lg = g[v] - mg - std::log(zg);
      kl += std::exp(lf) * (lf - lg);
    }
    a.mean_kl += kl / static_cast<double>(rows);
    a.max_kl = std::max(a.max_kl, kl);
    same += std::max_element(g, g + vocab) - g == std::max_element(f, f + vocab) - f;
  }
  a.top1 = static_cast<double>(same) / static_cast<double>(rows);
  return a;
}

inline std::shared_ptr<const LoadedModel> load_cpu(const std::string& path,
                                                   const ModelLoadOptions& o = {}) {
  static Engine engine(EngineOptions{"cpu", 2, {}});
  return engine.load(path, o);
}

}  // namespace dlx::test
