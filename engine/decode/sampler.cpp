#include "engine/decode/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "engine/backend/cpu/cpu_kernels.h"

namespace dlx {

Sampler::Sampler(const DecodeParams& p, int vocab, int32_t mask_id)
    : p_(p),
      vocab_(vocab),
      mask_id_(mask_id),
      fast_greedy_(p.temperature == 0 && p.top_p >= 1.0 && (p.top_k <= 0 || p.top_k >= vocab) &&
                   p.min_p <= 0 && p.confidence == ConfidenceKind::kProb),
      want_gap_(p.early_commit.has_value()),
      probs_(vocab),
      order_(vocab) {}

// Greedy with probability confidence (the default of three families): the same numbers as
// the general path (argmax of the logits is argmax of the softmax, exp is monotonic; the sum
// of exp in double), in vectorized passes over the row (cpu::row_max / row_sum_exp) instead of
// five scalar ones. False when the winner's probability underflows or a logit is NaN, where
// the general path's rules apply.
bool Sampler::pick_greedy_prob(const float* logits, Candidate& c) const {
  const int64_t V = vocab_;
  const int64_t m = mask_id_ >= 0 && mask_id_ < V ? mask_id_ : V;  // never chosen
  // The largest logit but the mask's, its first index, and the largest of the rest.
  auto max_without = [&](int64_t a, int64_t b) {  // over [0, V) minus indices a <= b
    float r = cpu::row_max(logits, std::min(a, V));
    if (a < V) r = std::max(r, cpu::row_max(logits + a + 1, std::min(b, V) - a - 1));
    if (b < V) r = std::max(r, cpu::row_max(logits + b + 1, V - b - 1));
    return r;
  };
  const float best = max_without(m, V);
  if (!(best > -std::numeric_limits<float>::infinity())) return false;
  int64_t arg = cpu::row_find(logits, std::min(m, V), best);
  if (arg < 0 && m < V) {
    const int64_t i = cpu::row_find(logits + m + 1, V - m - 1, best);
    arg = i < 0 ? -1 : m + 1 + i;
  }
  if (arg < 0) return false;
  const float mx = m < V ? std::max(best, cpu::row_max(logits + m, 1)) : best;
  const double dmx = mx;
  const double sum = cpu::row_sum_exp(logits, V, dmx);
  const double top = std::exp(static_cast<double>(best) - dmx);
  if (!(top > 0) || !std::isfinite(sum)) return false;
  c.token = static_cast<int32_t>(arg);
  c.confidence = top * (1.0 / sum);
  c.prob = c.confidence;
  if (want_gap_) {
    const float second = max_without(std::min(arg, m), std::max(arg, m));
    c.gap = c.confidence - std::exp(static_cast<double>(second) - dmx) * (1.0 / sum);
  }
  return true;
}

Candidate Sampler::pick(const float* logits, Rng& rng) {
  const int V = vocab_;
  if (fast_greedy_) {
    Candidate c;
    if (pick_greedy_prob(logits, c)) return c;
  }
  const double inv_t = p_.temperature > 0 ? 1.0 / p_.temperature : 1.0;
  const double kRemoved = -std::numeric_limits<double>::infinity();
  // Scaled logits in probs_ first; filtered entries become -inf (Dream applies top-p, then
  // top-k, and the filters shape the confidence even at temperature 0).
  for (int v = 0; v < V; ++v) probs_[v] = static_cast<double>(logits[v]) * inv_t;
  const bool top_p = p_.top_p<1.0, top_k = p_.top_k> 0 && p_.top_k < V;
  if (top_p || top_k) {
    std::iota(order_.begin(), order_.end(), 0);
    // Stable: equal logits keep index order, as torch.sort does on CPU.
    std::stable_sort(order_.begin(), order_.end(),
                     [&](int32_t a, int32_t b) { return probs_[a] > probs_[b]; });
    if (top_p) {
      double mx = probs_[order_[0]], sum = 0;
      for (int v = 0; v < V; ++v) sum += std::exp(probs_[v] - mx);
      double cum = 0;
      int keep = V;
      for (int r = 0; r < V; ++r) {
        cum += std::exp(probs_[order_[r]] - mx) / sum;
        if (cum > p_.top_p) {  // tokens past the one that crosses p are removed
          keep = r + 1;
          break;
        }
      }
      for (int r = keep; r < V; ++r) probs_[order_[r]] = kRemoved;
    }
    if (top_k) {
      for (int r = p_.top_k; r < V; ++r) probs_[order_[r]] = kRemoved;
    }
  }
  double mx = kRemoved;
  for (int v = 0; v < V; ++v) mx = std::max(mx, probs_[v]);
  if (p_.min_p > 0) {
    // p_v < min_p * p_max  <=>  scaled logit_v < scaled logit_max + log(min_p)
    const double floor = mx + std::log(p_.min_p);
    for (int v = 0; v < V; ++v) {
      if (probs_[v] < floor) probs_[v] = kRemoved;
    }
  }
  double sum = 0;
  for (int v = 0; v < V; ++v) {
    probs_[v] = std::exp(probs_[v] - mx);
    sum += probs_[v];
  }
  const double inv_sum = 1.0 / sum;
  for (int v = 0; v < V; ++v) probs_[v] *= inv_sum;

  // The mask token is never a candidate; its probability still counts in the confidence.
  Candidate c;
  if (p_.temperature > 0) {
    double mass = 1.0 - (mask_id_ >= 0 && mask_id_ < V ? probs_[mask_id_] : 0.0);
    double u = rng.uniform() * mass, acc = 0;
    for (int v = 0; v < V; ++v) {
      if (v == mask_id_ || probs_[v] <= 0) continue;
      acc += probs_[v];
      c.token = v;
      if (acc > u) break;
    }
  } else {
    double best = -1;
    for (int v = 0; v < V; ++v) {
      if (v != mask_id_ && probs_[v] > best) {
        best = probs_[v];
        c.token = v;
      }
    }
  }
  if (c.token < 0) c.token = mask_id_ == 0 ? 1 : 0;  // every probability underflowed
  c.prob = probs_[c.token];
  if (want_gap_) {
    double top1 = 0, top2 = 0;  // over the candidates (the mask token is never one)
    for (int v = 0; v < V; ++v) {
      if (v == mask_id_) continue;
      if (probs_[v] > top1) {
        top2 = top1;
        top1 = probs_[v];
      } else if (probs_[v] > top2) {
        top2 = probs_[v];
      }
    }
    c.gap = top1 - top2;
  }
  switch (p_.confidence) {
    case ConfidenceKind::kProb:
      c.confidence = probs_[c.token];
      break;
    case ConfidenceKind::kMargin: {
      double top1 = 0, top2 = 0;
      for (int v = 0; v < V; ++v) {
        if (probs_[v] > top1) {
          top2 = top1;
          top1 = probs_[v];
        } else if (probs_[v] > top2) {
          top2 = probs_[v];
        }
      }
      c.confidence = top1 - top2;
      break;
    }
    case ConfidenceKind::kNegEntropy: {
      double h = 0;
      for (int v = 0; v < V; ++v) h += probs_[v] * std::log(probs_[v] + 1e-10);
      c.confidence = h;
      break;
    }
    case ConfidenceKind::kRandom:
      c.confidence = rng.uniform();
      break;
  }
  return c;
}

}  // namespace dlx
