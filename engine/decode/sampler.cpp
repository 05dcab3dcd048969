#include "engine/decode/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

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
// is taken in the same order), in two passes with one exp per entry instead of five passes.
// False when the winner's probability underflows, where the general path's tie rules apply.
bool Sampler::pick_greedy_prob(const float* logits, Candidate& c) const {
  const int V = vocab_;
  float mx = -std::numeric_limits<float>::infinity(), best = mx, second = mx;
  int32_t arg = -1;
  for (int v = 0; v < V; ++v) {
    const float l = logits[v];
    mx = std::max(mx, l);
    if (v == mask_id_) continue;
    if (l > best) {
      second = best;
      best = l;
      arg = v;
    } else if (l > second) {
      second = l;
    }
  }
  if (arg < 0) return false;
  const double dmx = mx;
  double sum = 0;
  for (int v = 0; v < V; ++v) sum += std::exp(static_cast<double>(logits[v]) - dmx);
  const double top = std::exp(static_cast<double>(best) - dmx);
  if (!(top > 0) || !std::isfinite(sum)) return false;
  c.token = arg;
  c.confidence = top * (1.0 / sum);
  c.prob = c.confidence;
  if (want_gap_) c.gap = c.confidence - std::exp(static_cast<double>(second) - dmx) * (1.0 / sum);
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
