// Sampler: turns one row of logits into a candidate token and its confidence score, with
// temperature, top-k and top-p, and a seeded RNG owned by the session. Scratch buffers are
// kept between calls so a step allocates nothing.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/decode/decode_params.h"

namespace dlx {

// A small, fast, seedable generator (SplitMix64); each session owns one.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)

 private:
  uint64_t state_;
};

struct Candidate {
  int32_t token = -1;
  double confidence = 0;  // ordering uses full precision; events report it as float
  double prob = 0;        // the token's probability (whatever the confidence kind)
  double gap = 0;  // top-1 minus top-2 probability of the candidates (only with early_commit)
};

class Sampler {
 public:
  Sampler(const DecodeParams& p, int vocab, int32_t mask_id);
  // Scores one row of raw logits [V].
  Candidate pick(const float* logits, Rng& rng);

 private:
  bool pick_greedy_prob(const float* logits, Candidate& c) const;

  const DecodeParams& p_;
  int vocab_;
  int32_t mask_id_;
  bool fast_greedy_;
  bool want_gap_;               // early_commit reads Candidate::gap
  std::vector<double> probs_;   // [V] scratch
  std::vector<int32_t> order_;  // [V] scratch for top-k / top-p
};

}  // namespace dlx
