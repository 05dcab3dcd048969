// Default (host) implementations of the Backend's optional ops.
#include "engine/backend/backend.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/util/error.h"

namespace dlx {

RowTop row_top(const float* x, int64_t n, int32_t exclude_id) {
  RowTop r;
  double mx = -INFINITY;
  float b1 = -INFINITY, b2 = -INFINITY;
  for (int64_t i = 0; i < n; ++i) {
    mx = std::max(mx, static_cast<double>(x[i]));
    if (i == exclude_id) continue;
    // Scanning upward with strict '>' keeps the lower id on ties.
    if (r.id < 0 || x[i] > b1) {
      b2 = b1;
      r.id2 = r.id;
      b1 = x[i];
      r.id = static_cast<int32_t>(i);
    } else if (r.id2 < 0 || x[i] > b2) {
      b2 = x[i];
      r.id2 = static_cast<int32_t>(i);
    }
  }
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(static_cast<double>(x[i]) - mx);
  double ent = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double p = std::exp(static_cast<double>(x[i]) - mx) / sum;
    ent += p * std::log(p + 1e-10);
  }
  r.logit = r.id >= 0 ? b1 : 0.0f;
  r.prob = r.id >= 0 ? static_cast<float>(std::exp(b1 - mx) / sum) : 0.0f;
  r.prob2 = r.id2 >= 0 ? static_cast<float>(std::exp(b2 - mx) / sum) : 0.0f;
  r.neg_entropy = static_cast<float>(ent);
  return r;
}

void Backend::row_argmax_prob(const Tensor& logits, int32_t exclude_id, std::span<RowTop> out) {
  if (static_cast<int64_t>(out.size()) != logits.rows) {
    throw Error(ErrorCode::kInternal, "row_argmax_prob: out has " + std::to_string(out.size()) +
                                          " entries for " + std::to_string(logits.rows) + " rows");
  }
  std::vector<float> host(static_cast<size_t>(logits.numel()));
  read(logits, host.data());
  for (int64_t r = 0; r < logits.rows; ++r) {
    out[r] = row_top(host.data() + r * logits.cols, logits.cols, exclude_id);
  }
}

}  // namespace dlx
