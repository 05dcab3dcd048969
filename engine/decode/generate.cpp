// The denoising loop (DESIGN.md §3). Every official algorithm is a configuration of it:
//   for each block (semi-autoregressive), for each sub-block, until it has no masks:
//     forward the span the cache mode needs -> score masked positions -> commit some.
// Cache modes decide the forward span; family traits (shift, alignment, block-causal) come
// from the ArchSpec.
#include "engine/decode/generate.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <numeric>

#include "engine/decode/sampler.h"
#include "engine/decode/schedule.h"
#include "engine/util/error.h"

namespace dlx {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// Where a generation's blocks lie on the canvas (absolute positions).
struct CanvasLayout {
  int length = 0;      // L: prompt + generated region (aligned families: whole blocks)
  int first = 0;       // start of the first decode block
  int block = 0;       // B
  int n_blocks = 0;    // the last may be partial (bidirectional families)
  int unit = 0;        // sub-block length (<= B)
  int logit_rows = 0;  // most rows one forward scores
};

CanvasLayout layout_for(const ModelConfig& c, int prompt_len, const DecodeParams& p) {
  CanvasLayout l;
  l.block = effective_block_length(p);
  const int B = l.block;
  if (c.spec->block_aligned) {
    l.length = (prompt_len + p.gen_length + B - 1) / B * B;
    l.first = prompt_len / B * B;
  } else {
    l.length = prompt_len + p.gen_length;
    l.first = prompt_len;
  }
  // gen_length need not be a multiple of the block: the last block is partial (only for
  // bidirectional families; aligned ones round the canvas up to whole blocks).
  l.n_blocks = (l.length - l.first + B - 1) / B;
  l.unit = std::min(p.sub_block_length.value_or(B), B);
  // A forward scores at most one unit of rows, or the one shifted row.
  l.logit_rows = std::max(1, std::min(l.unit, l.length - l.first));
  return l;
}

struct Scored {
  int pos;  // absolute canvas position
  Candidate cand;
};

// One generation: canvas, caches, RNG and scratch. Lives for one generate() call.
class Denoiser {
 public:
  // `p.gen_length` is the region's length.
  // `templated`: a template's run (its text is text_region()); else a plain generation.
  Denoiser(const Model& model, const CanvasSpec& spec, const DecodeParams& p,
           const GenerateOptions& opt, bool templated)
      : model_(model),
        spec_(spec),
        templated_(templated),
        c_(model.config()),
        p_(p),
        opt_(opt),
        shift_(c_.spec->shift_logits),
        causal_(c_.spec->attention == AttentionKind::kBlockCausal),
        P_(static_cast<int>(spec.prompt.size())),
        layout_(layout_for(c_, P_, p)),
        B_(layout_.block),
        sampler_(p_, c_.vocab, c_.mask_id),
        greedy_params_(greedy_params(p)),
        greedy_(greedy_params_, c_.vocab, c_.mask_id),
        rng_(p.seed) {
    L_ = layout_.length;
    first_ = layout_.first;
    n_blocks_ = layout_.n_blocks;
    sub_ = layout_.unit;
    const int units = B_ / sub_;
    if (p.commit != CommitRule::kThreshold) {
      if (p.steps)
        budget_ = *p.steps / (n_blocks_ * units);
      else if (p.block_steps)
        budget_ = *p.block_steps / units;
      else
        budget_ = sub_;  // one token per step
      if (p.schedule == Schedule::kTimestep) {
        timesteps_ = linspace_f32(1.0f, static_cast<float>(p.eps), budget_ + 1);
      } else {
        uniform_ = uniform_schedule(sub_, budget_);
      }
    }
    end_ = L_;
    canvas_.assign(L_, c_.mask_id);
    std::copy(spec.prompt.begin(), spec.prompt.end(), canvas_.begin());
    std::copy(spec.region.begin(), spec.region.end(), canvas_.begin() + P_);
    place_holes();
    if (p.early_commit_steps) {
      last_candidate_.assign(L_, -1);
      held_.assign(L_, 0);
    }
    const int rows = layout_.logit_rows;
    st_ = session_for(opt.session, rows);
    interrupt_.cancel = opt.cancel;
    interrupt_.deadline = opt.deadline;
    if (p.cfg_scale > 0) {
      st_uncond_own_ = model.new_session(L_, L_, rows);
      st_uncond_ = &st_uncond_own_;
      uncond_canvas_ = canvas_;
      std::fill(uncond_canvas_.begin(), uncond_canvas_.begin() + P_, c_.mask_id);  // the prompt
      mixed_.resize(static_cast<size_t>(rows) * c_.vocab);
    }
    saved_row_.resize(c_.vocab);
  }

  GenerateResult run() {
    const auto t0 = Clock::now();
    prefill();
    for (int bi = 0; bi < n_blocks_ && !stopped_; ++bi) {
      const int b0 = first_ + bi * B_, b1 = std::min(b0 + B_, L_);
      if (b0 >= end_) break;  // eos_fill: the rest of the canvas is end tokens
      block_ = bi;
      block_started_ = false;
      block_kv_ = false;
      for (int u0 = b0; u0 < b1 && !stopped_; u0 += sub_) {
        denoise_unit(b0, b1, u0, std::min(u0 + sub_, b1));
      }
      if (!stopped_ && bi + 1 < n_blocks_ && b1 < end_) finish_block(b0, b1);
    }
    GenerateResult r;
    r.forward_calls = forward_calls_;
    r.forward_tokens = forward_tokens_;
    r.step_ms = std::move(step_ms_);
    r.canvas_length = L_;
    r.mask_id = c_.mask_id;
    r.end_from = end_ < L_ ? end_ - P_ : -1;
    int end = L_;
    if (stopped_) {
      end = stop_pos_ + 1;
      r.finish_reason = FinishReason::kStop;
    } else {
      r.finish_reason = FinishReason::kLength;
    }
    r.output_ids.assign(canvas_.begin() + P_, canvas_.begin() + end);
    if (templated_) r.text_ids = text_region(spec_, r.output_ids, c_);
    r.answer_tokens = answer_token_count(r.output_ids, c_);
    r.total_ms = ms_since(t0);
    return r;
  }

 private:
  static DecodeParams greedy_params(const DecodeParams& p) {
    DecodeParams g = p;
    g.temperature = 0;
    g.top_k = 0;
    g.top_p = 1.0;
    g.min_p = 0;
    g.confidence = ConfidenceKind::kProb;
    return g;
  }

  bool is_mask(int pos) const { return canvas_[pos] == c_.mask_id; }

  // Per position: which hole it belongs to, whether end tokens are forbidden there, and which
  // region positions are fixed text. The aligned tail after the template is fixed end tokens,
  // except after an unconstrained exact final hole, whose masks it extends (a plain
  // generation's canvas).
  void place_holes() {
    const int G = static_cast<int>(spec_.region.size());
    hole_of_.assign(L_, -1);
    forbid_end_.assign(L_, 0);
    fixed_.assign(L_, 0);
    for (int q = P_; q < P_ + G; ++q) fixed_[q] = canvas_[q] != c_.mask_id;
    tail0_ = L_;
    bool tail_in_hole = false;
    for (size_t i = 0; i < spec_.holes.size(); ++i) {
      const CanvasHole& h = spec_.holes[i];
      const bool final = h.begin + h.length == G;
      const int b = P_ + h.begin;
      for (int k = 0; k < h.length; ++k) {
        hole_of_[b + k] = static_cast<int>(i);
        forbid_end_[b + k] = h.variable() ? k < h.min_tokens : !final;
      }
      if (h.constraint) has_constraints_ = true;
      if (h.variable()) has_variable_ = true;
      if (final) {
        tail0_ = b;
        tail_in_hole = !h.variable() && !h.constraint;
        if (tail_in_hole) {
          for (int q = P_ + G; q < L_; ++q) hole_of_[q] = static_cast<int>(i);
        }
      }
    }
    if (!tail_in_hole && P_ + G < L_ && !c_.eos_ids.empty()) {
      for (int q = P_ + G; q < L_; ++q) {
        canvas_[q] = c_.eos_ids.front();
        fixed_[q] = 1;
      }
    }
    for (int q = P_ + G; q < L_; ++q) {
      if (is_mask(q) && hole_of_[q] < 0) loose_tail_ = true;  // a model without end tokens
    }
    for (int q = P_; q < L_; ++q) adjusts_ = adjusts_ || forbid_end_[q];
    adjusts_ = adjusts_ || has_constraints_;
  }

  // The hole at `pos`, or null (fixed text, the prompt, a loose tail).
  const CanvasHole* hole_at(int pos) const {
    const int i = hole_of_[pos];
    return i < 0 ? nullptr : &spec_.holes[i];
  }
  bool in_final_hole(int pos) const { return pos >= tail0_ && hole_of_[pos] >= 0; }

  // The hole's current content (mask id where masked), as its constraint sees it.
  std::span<const int32_t> hole_view(const CanvasHole& h) const {
    return std::span<const int32_t>(canvas_).subspan(P_ + h.begin, h.length);
  }

  // The logits row that scores `pos`, with the template's rules applied: end tokens -inf where
  // forbidden, then the hole's constraint. Rules apply to a copy (the forward's buffer also
  // serves other rows); `slot` picks the copy's place in adjusted_.
  const float* rule_row(int pos, size_t slot) {
    const float* raw = row(score_row(pos));
    const CanvasHole* h = hole_at(pos);
    const bool constrained = h && h->constraint && pos - P_ - h->begin < h->length;
    if (!forbid_end_[pos] && !constrained) return raw;
    float* out = adjusted_.data() + slot * c_.vocab;
    std::memcpy(out, raw, sizeof(float) * c_.vocab);
    if (forbid_end_[pos]) {
      for (int32_t e : c_.eos_ids) {
        if (e >= 0 && e < c_.vocab) out[e] = -std::numeric_limits<float>::infinity();
      }
    }
    if (constrained) {
      h->constraint->restrict(pos - P_ - h->begin, hole_view(*h), c_.mask_id,
                              std::span<float>(out, c_.vocab));
    }
    return out;
  }

  // The caller's session when it is large enough for this canvas, else a new one.
  Session* session_for(Session* given, int rows) {
    if (given && given->max_tokens >= L_ && given->max_span >= L_ &&
        given->max_logit_rows >= rows) {
      return given;
    }
    own_ = model_.new_session(L_, L_, rows);
    if (given) {
      *given = std::move(own_);
      return given;
    }
    return &own_;
  }

  // Runs one forward over canvas[s0, s1) attending to positions [0, n_keys). Computes logits
  // for absolute rows [r0, r1). Keeps row `block0 - 1` aside when computed (for shifted
  // families whose later spans start at the block).
  void forward(int s0, int s1, int n_keys, int mask_block, int r0, int r1) {
    interrupt_.check();
    r0 = std::max(r0, s0);
    r1 = std::min(r1, s1);
    if (r1 < r0) r1 = r0;
    const auto t0 = Clock::now();
    ForwardSpan span;
    span.ids = std::span<const int32_t>(canvas_).subspan(s0, s1 - s0);
    span.pos0 = s0;
    span.n_keys = n_keys;
    span.block_size = mask_block;
    span.logits_begin = r0 - s0;
    span.logits_end = r1 - s0;
    span.interrupt = &interrupt_;
    const float* lg = model_.forward(*st_, span);
    if (p_.cfg_scale > 0) {
      // Classifier-free guidance: the same span with the prompt masked out, mixed as
      // un + (cfg + 1) * (cond - un). The pair is one (batched) forward call, as officially.
      std::copy(canvas_.begin() + P_, canvas_.end(), uncond_canvas_.begin() + P_);
      span.ids = std::span<const int32_t>(uncond_canvas_).subspan(s0, s1 - s0);
      std::memcpy(mixed_.data(), lg, sizeof(float) * size_t(r1 - r0) * c_.vocab);
      const float* un = model_.forward(*st_uncond_, span);
      const float w = static_cast<float>(p_.cfg_scale + 1.0);
      for (size_t i = 0; i < size_t(r1 - r0) * c_.vocab; ++i) {
        mixed_[i] = un[i] + w * (mixed_[i] - un[i]);
      }
      lg = mixed_.data();
    }
    logits_ = lg;
    rows0_ = r0;
    rows1_ = r1;
    last_span_ = s1 - s0;
    last_span_end_ = s1;
    last_keys_end_ = n_keys;
    const int keep = cur_block0_ - 1;
    if (shift_ && keep >= r0 && keep < r1) {
      std::memcpy(saved_row_.data(), row(keep), sizeof(float) * c_.vocab);
      saved_row_index_ = keep;
    }
    ++forward_calls_;
    forward_tokens_ += s1 - s0;
    last_forward_ms_ = ms_since(t0);
    step_ms_.push_back(last_forward_ms_);
  }

  const float* row(int r) const {
    if (r >= rows0_ && r < rows1_) return logits_ + size_t(r - rows0_) * c_.vocab;
    if (r == saved_row_index_) return saved_row_.data();
    throw Error(ErrorCode::kInternal,
                "decoder: logits row " + std::to_string(r) + " not available");
  }

  // Logits row that scores position `pos`: row pos-1 for shifted families (position 0 reuses
  // its own row).
  int score_row(int pos) const { return shift_ && pos > 0 ? pos - 1 : pos; }

  // Block-causal families: forward the prompt's full blocks once (exact cache), and take the
  // first generated token from its last row when the prompt ends on a block boundary.
  void prefill() {
    cur_block0_ = first_;
    if (!causal_ || first_ == 0) return;
    const bool need_kv = p_.cache == CacheMode::kBlock || p_.cache == CacheMode::kDual;
    const bool need_ar = shift_ && first_ == P_;
    if (!need_kv && !need_ar) return;
    forward(0, first_, first_, B_, need_ar ? first_ - 1 : 0, need_ar ? first_ : 0);
    if (need_kv) cache_len_ = first_;
    if (need_ar && is_mask(first_)) commit_greedy(first_);
  }

  // After a block is final: recompute it so the cache holds K/V of its final tokens, and for
  // shifted families commit the next block's first token from its last row.
  void finish_block(int b0, int b1) {
    if (!causal_) return;
    const bool exact = p_.cache == CacheMode::kBlock || p_.cache == CacheMode::kDual;
    const bool next_masked = shift_ && is_mask(b1);  // fixed text is not committed
    cur_block0_ = b1;
    if (exact) {
      forward(b0, b1, b1, B_, shift_ ? b1 - 1 : b1, b1);
      cache_len_ = b1;
    } else if (next_masked) {
      forward(0, b1, b1, B_, b1 - 1, b1);
    } else {
      return;
    }
    if (next_masked) commit_greedy(b1);
  }

  // scored_ = every masked position of [u0, u1) with its candidate. Rows are independent, so
  // without randomness they are scored on the backend's host threads (one Sampler, with its
  // scratch, per chunk); a sampler that draws from the RNG runs in position order.
  void score_masks(int u0, int u1) {
    scored_.clear();
    for (int q = u0; q < u1; ++q) {
      if (is_mask(q)) scored_.push_back({q, Candidate{}});
    }
    const int64_t n = static_cast<int64_t>(scored_.size());
    const bool uses_rng = p_.temperature > 0 || p_.confidence == ConfidenceKind::kRandom;
    const int threads = std::min<int64_t>(model_.backend().host_threads(), n);
    // Looked up here: row() may throw, which a pool thread must not; template rules (end
    // tokens, constraints) see the canvas before this step's commits.
    if (adjusts_) adjusted_.resize(static_cast<size_t>(n) * c_.vocab);
    score_rows_.clear();
    for (size_t i = 0; i < scored_.size(); ++i) score_rows_.push_back(rule_row(scored_[i].pos, i));
    if (uses_rng || threads <= 1) {
      for (size_t i = 0; i < scored_.size(); ++i) {
        scored_[i].cand = sampler_.pick(score_rows_[i], rng_);
      }
      return;
    }
    while (static_cast<int>(chunk_samplers_.size()) < threads - 1) {
      chunk_samplers_.push_back(std::make_unique<Sampler>(p_, c_.vocab, c_.mask_id));
    }
    const int64_t grain = (n + threads - 1) / threads;  // chunk i = [i * grain, ...)
    model_.backend().host_parallel_for(n, grain, [&](int64_t begin, int64_t end) {
      const int64_t chunk = begin / grain;
      Sampler& s = chunk == 0 ? sampler_ : *chunk_samplers_[chunk - 1];
      for (int64_t i = begin; i < end; ++i) {
        scored_[i].cand = s.pick(score_rows_[i], rng_);  // greedy: rng_ is not touched
      }
    });
  }

  void commit_greedy(int pos) {
    if (adjusts_) adjusted_.resize(c_.vocab);
    Candidate cand = greedy_.pick(rule_row(pos, 0), rng_);
    std::vector<Scored> chosen{{pos, cand}};
    commit(chosen);
  }

  // The canvas end the forwards of block [.., b1) see: the whole canvas, less the tail eos_fill
  // settled, less what lies beyond the suffix window (bidirectional families).
  int live_end(int b1) const {
    if (causal_ || !p_.suffix_window) return end_;
    return std::min(end_, b1 + *p_.suffix_window);
  }

  // Plans and runs the forward for one denoising step of unit [u0, u1) in block [b0, b1).
  void step_forward(int b0, int b1, int u0, int u1) {
    const int E = live_end(b1);  // E > u0: the unit has a mask before it
    b1 = std::min(b1, E);
    u1 = std::min(u1, E);
    const int r0 = score_row(u0), r1 = score_row(u1 - 1) + 1;
    switch (p_.cache) {
      case CacheMode::kNone:
        if (causal_)
          forward(0, b1, b1, B_, r0, r1);
        else
          forward(0, E, E, 0, r0, r1);
        break;
      case CacheMode::kBlock:
        if (cache_len_ != b0) throw Error(ErrorCode::kInternal, "decoder: block cache out of step");
        forward(b0, b1, b1, B_, r0, r1);
        break;
      case CacheMode::kPrefix:
        if (!block_started_)
          forward(0, E, E, 0, r0, r1);
        else
          forward(b0, E, E, 0, r0, r1);
        break;
      case CacheMode::kDual:
        if (causal_) {
          // Whole block when it has no K/V yet or the sub-block starts masked; else only the
          // sub-block, attending to the finished blocks and the (partly stale) block K/V.
          if (!block_kv_ || is_mask(u0)) {
            forward(b0, b1, b1, B_, r0, r1);
            block_kv_ = true;
          } else {
            forward(u0, u1, b1, 0, r0, r1);
          }
        } else if (!block_started_) {
          forward(0, E, E, 0, r0, r1);
        } else {
          forward(b0, b1, E, 0, r0, r1);
        }
        break;
    }
    block_started_ = true;
  }

  void denoise_unit(int b0, int b1, int u0, int u1) {
    cur_block0_ = b0;
    int step = 0;
    const int guard = sub_ + budget_ + 2;  // no decode can loop forever: a step commits >= 1
    // The unit's schedule and decoded fraction count its positions less the template's fixed
    // text (the prompt's positions in an aligned first block count, as officially).
    int open = u1 - u0;
    for (int q = u0; q < u1; ++q) open -= fixed_[q];
    for (;;) {
      int masks = 0;
      for (int q = u0; q < u1; ++q) masks += is_mask(q);
      if (masks == 0 || stopped_) return;
      if (step > guard) throw Error(ErrorCode::kInternal, "decoder made no progress");
      int k = masks;  // commit threshold: no schedule
      if (p_.commit != CommitRule::kThreshold) {
        const std::vector<int>& uniform = unit_schedule(open);
        k = p_.schedule == Schedule::kTimestep ? timestep_count(timesteps_, step, budget_, masks)
                                               : (step < budget_ ? uniform[step] : masks);
        k = std::min(k, masks);
        if (k == 0 && p_.commit == CommitRule::kSchedule) {
          ++step;  // nothing would be committed: the forward is skipped, its result unchanged
          continue;
        }
      }
      step_forward(b0, b1, u0, u1);
      score_masks(u0, u1);
      // Best first; equal confidences by position, lower first.
      std::stable_sort(scored_.begin(), scored_.end(), [](const Scored& a, const Scored& b) {
        return a.cand.confidence > b.cand.confidence;
      });
      size_t n = 0;
      // Adaptive threshold: relaxed by the fraction of the unit decoded before this step.
      const double decoded = 1.0 - static_cast<double>(masks) / open;
      const double thr = p_.threshold * (1.0 - p_.threshold_relax * decoded);
      auto above = [&] {
        size_t m = 0;
        while (m < scored_.size() && scored_[m].cand.confidence > thr) ++m;
        return m;
      };
      switch (p_.commit) {
        case CommitRule::kSchedule:
          n = static_cast<size_t>(k);
          break;
        case CommitRule::kThreshold:
          n = std::max<size_t>(1, above());
          break;
        case CommitRule::kThresholdOrSchedule: {
          size_t high = above();
          n = high >= static_cast<size_t>(k) ? high : static_cast<size_t>(k);
          break;
        }
      }
      if (p_.early_commit && all_gaps_at_least(*p_.early_commit)) n = scored_.size();
      if (p_.early_commit_steps && all_held_for(*p_.early_commit_steps)) n = scored_.size();
      n = std::min(n, scored_.size());
      if (p_.eos_fill) n = take_end_run(n, u0);
      scored_.resize(n);
      commit(scored_);
      ++step;
    }
  }

  bool fills_end(const Candidate& c) const {
    return c.token >= 0 && c.token != c_.mask_id && c_.is_end_token(c.token) &&
           (p_.eos_fill_prob <= 0 || c.prob > p_.eos_fill_prob);
  }

  // eos_fill, the left edge: with an end token committed (or chosen now) at p, the masked
  // positions right before p whose candidate is an end token too join this commit, so a tail
  // of padding the model already sees is not committed one position per forward from the right.
  // scored_[0, n) is the commit; the run's positions are moved into it. Returns the new n.
  size_t take_end_run(size_t n, int u0) {
    int p = end_;
    for (int q = tail0_; q < end_; ++q) {
      if (!is_mask(q) && c_.is_end_token(canvas_[q])) {
        p = q;
        break;
      }
    }
    for (size_t i = 0; i < n; ++i) {
      if (scored_[i].pos >= tail0_ && fills_end(scored_[i].cand)) p = std::min(p, scored_[i].pos);
    }
    if (p >= end_) return n;
    u0 = std::max(u0, tail0_);  // the run stays in the final hole
    run_index_.assign(static_cast<size_t>(std::max(0, p - u0)), -1);  // pos - u0 -> scored_
    for (size_t i = 0; i < scored_.size(); ++i) {
      if (scored_[i].pos >= u0 && scored_[i].pos < p) {
        run_index_[scored_[i].pos - u0] = static_cast<int>(i);
      }
    }
    for (int q = p - 1; q >= u0; --q) {
      const int i = run_index_[q - u0];
      if (i < 0 || !fills_end(scored_[i].cand)) break;  // a decoded token or another candidate
      if (static_cast<size_t>(i) < n) continue;         // already in the commit
      std::swap(scored_[i], scored_[n]);  // into the commit; keep the index of the one moved out
      if (scored_[i].pos >= u0 && scored_[i].pos < p) run_index_[scored_[i].pos - u0] = i;
      ++n;
    }
    return n;
  }

  // Early commit: every remaining masked position of the unit is sure of its token.
  bool all_gaps_at_least(double bound) const {
    for (const Scored& s : scored_) {
      if (s.cand.gap < bound) return false;
    }
    return true;
  }

  // Early commit, stability rule: counts how many forwards in a row each scored position kept its
  // candidate token; true when every one has kept it for `steps`.
  bool all_held_for(int steps) {
    bool all = true;
    for (const Scored& s : scored_) {
      const size_t q = static_cast<size_t>(s.pos);
      held_[q] = last_candidate_[q] == s.cand.token ? held_[q] + 1 : 1;
      last_candidate_[q] = s.cand.token;
      all = all && held_[q] >= steps;
    }
    return all;
  }

  // The uniform schedule of a unit of n positions (a partial last block's units are shorter).
  const std::vector<int>& unit_schedule(int n) {
    if (n == sub_) return uniform_;
    if (partial_n_ != n) {
      partial_uniform_ = uniform_schedule(n, budget_);
      partial_n_ = n;
    }
    return partial_uniform_;
  }

  void commit(std::vector<Scored>& chosen) {
    if (has_constraints_) keep_allowed(chosen);
    for (const auto& s : chosen) canvas_[s.pos] = s.cand.token;
    filled_.clear();
    if (has_variable_) end_variable_holes(chosen);
    if (p_.eos_fill) fill_tail(chosen);
    int masks = 0;
    for (int q = P_; q < L_; ++q) masks += is_mask(q);
    if (opt_.on_step) {
      StepEvent ev;
      ev.step = forward_calls_ - 1;
      ev.block = block_;
      for (const auto& s : chosen) {
        ev.positions.push_back(s.pos - P_);
        ev.tokens.push_back(canvas_[s.pos]);  // a variable hole's end may have replaced it
        ev.confidences.push_back(static_cast<float>(s.cand.confidence));
      }
      for (int q : filled_) {  // set by a variable hole's end: no confidence of their own
        ev.positions.push_back(q - P_);
        ev.tokens.push_back(canvas_[q]);
        ev.confidences.push_back(0.0f);
      }
      ev.masks_remaining = masks;
      ev.span_tokens = last_span_;
      ev.forward_ms = last_forward_ms_;
      ev.canvas = std::span<const int32_t>(canvas_).subspan(P_);
      if (templated_) {
        text_canvas_ = text_region(spec_, ev.canvas, c_);
        ev.text_canvas = text_canvas_;
      } else {
        ev.text_canvas = ev.canvas;
      }
      ev.end_from = end_ < L_ ? end_ - P_ : -1;
      ev.span_end = last_span_end_;
      ev.keys_end = last_keys_end_;
      opt_.on_step(ev);
    }
    if (p_.stop_at_eos) {
      // Stop once an end token is final: committed with no mask before it.
      for (int q = P_; q < L_; ++q) {
        if (is_mask(q)) break;
        if (c_.is_end_token(canvas_[q]) && (in_final_hole(q) || loose_tail_)) {
          stopped_ = true;
          stop_pos_ = q;
          break;
        }
      }
    }
  }

  // Constraints: the commit's candidates in commit order, each checked against the hole as the
  // ones before it left it; one that became disallowed stays masked for a later step. The
  // first was scored on a row its constraint restricted, so each step still commits.
  void keep_allowed(std::vector<Scored>& chosen) {
    size_t kept = 0;
    std::vector<std::pair<int, int32_t>> undo;
    for (size_t i = 0; i < chosen.size(); ++i) {
      const Scored& s = chosen[i];
      const CanvasHole* h = hole_at(s.pos);
      const int k = h ? s.pos - P_ - h->begin : 0;
      if (h && h->constraint && k < h->length &&
          !h->constraint->allowed(k, hole_view(*h), c_.mask_id, s.cand.token)) {
        if (i == 0) {
          throw Error(ErrorCode::kInternal, "constraint of hole '" + h->name +
                                                "' disallows the token its restrict() left");
        }
        continue;
      }
      canvas_[s.pos] = s.cand.token;  // the next candidates see it
      chosen[kept++] = s;
    }
    chosen.resize(kept);
  }

  // Variable holes: once an end token is committed in one, every position after the hole's
  // first end token becomes that token (recorded in filled_ for the step event).
  void end_variable_holes(const std::vector<Scored>& chosen) {
    for (const Scored& s : chosen) {
      const CanvasHole* h = hole_at(s.pos);
      if (!h || !h->variable() || !c_.is_end_token(canvas_[s.pos])) continue;
      const int b = P_ + h->begin, e = b + h->length;
      int first = b;
      while (first < e && !(!is_mask(first) && c_.is_end_token(canvas_[first]))) ++first;
      for (int q = first + 1; q < e; ++q) {
        if (canvas_[q] == canvas_[first]) continue;
        const bool was_committed =
            std::any_of(chosen.begin(), chosen.end(), [&](const Scored& c) { return c.pos == q; });
        canvas_[q] = canvas_[first];
        if (!was_committed) filled_.push_back(q);
      }
    }
  }

  // eos_fill: once this step commits an end token (more likely than eos_fill_prob, when set),
  // the canvas ends at the first committed end token p: masks after p become that token and
  // nothing after p is computed again (end_ = p + 1).
  void fill_tail(const std::vector<Scored>& chosen) {
    const bool trigger = std::any_of(chosen.begin(), chosen.end(), [&](const Scored& s) {
      return s.pos >= tail0_ && s.pos < end_ && fills_end(s.cand);
    });
    if (!trigger) return;
    int p = tail0_;
    while (p < end_ && !(canvas_[p] != c_.mask_id && c_.is_end_token(canvas_[p]))) ++p;
    if (p >= end_) return;
    for (int q = p + 1; q < L_; ++q) {
      if (is_mask(q)) canvas_[q] = canvas_[p];
    }
    end_ = p + 1;
  }

  const Model& model_;
  const CanvasSpec& spec_;
  const bool templated_;
  const ModelConfig& c_;
  const DecodeParams& p_;
  const GenerateOptions& opt_;
  const bool shift_, causal_;
  const int P_;
  const CanvasLayout layout_;
  const int B_;
  int L_ = 0, first_ = 0, n_blocks_ = 0, sub_ = 0, budget_ = 0;
  std::vector<float> timesteps_;
  std::vector<int> uniform_, partial_uniform_;
  int partial_n_ = -1;
  std::vector<int32_t> canvas_, uncond_canvas_;
  Session own_, st_uncond_own_;
  Session* st_ = nullptr;
  Session* st_uncond_ = nullptr;
  Interrupt interrupt_;
  std::vector<float> mixed_, saved_row_;
  Sampler sampler_;
  DecodeParams greedy_params_;
  Sampler greedy_;
  std::vector<std::unique_ptr<Sampler>> chunk_samplers_;  // score_masks' chunks 1, 2, ...
  std::vector<const float*> score_rows_;
  Rng rng_;
  std::vector<Scored> scored_;
  std::vector<int> run_index_;           // take_end_run's scratch
  std::vector<int32_t> last_candidate_;  // early_commit_steps: per position, the last candidate
  std::vector<int> held_;                // and for how many forwards in a row it was the same
  const float* logits_ = nullptr;
  int rows0_ = 0, rows1_ = 0, saved_row_index_ = -1, cur_block0_ = 0, last_span_ = 0;
  int last_span_end_ = 0, last_keys_end_ = 0;
  int end_ = 0;  // canvas end the forwards see (eos_fill moves it to the first end token + 1)
  int64_t forward_tokens_ = 0;
  int forward_calls_ = 0, cache_len_ = 0, block_ = 0, stop_pos_ = -1;
  bool block_started_ = false, block_kv_ = false, stopped_ = false;
  double last_forward_ms_ = 0;
  std::vector<double> step_ms_;
  // Template state (place_holes): per position its hole (-1 none), forbidden end tokens, fixed
  // region text; the final hole's start (eos_fill and stop_at_eos act from there; L_ if none).
  std::vector<int> hole_of_;
  std::vector<char> forbid_end_, fixed_;
  int tail0_ = 0;
  bool has_constraints_ = false, has_variable_ = false;
  bool adjusts_ = false, loose_tail_ = false;
  std::vector<float> adjusted_;  // [rows, V] rule-applied logits rows
  std::vector<int> filled_;      // this step: positions a variable hole's end filled
  std::vector<int32_t> text_canvas_;
};

void check_prompt_ids(std::span<const int32_t> prompt, const ModelConfig& c) {
  for (int32_t id : prompt) {
    if (id < 0 || id >= c.vocab) {
      throw_invalid_argument("prompt", "token id " + std::to_string(id) +
                                           " is outside the vocabulary of " +
                                           std::to_string(c.vocab));
    }
  }
}

}  // namespace

int answer_token_count(std::span<const int32_t> output_ids, const ModelConfig& c) {
  for (size_t i = 0; i < output_ids.size(); ++i) {
    if (c.is_end_token(output_ids[i])) return static_cast<int>(i) + 1;
  }
  return static_cast<int>(output_ids.size());
}

uint64_t generation_bytes(const ModelConfig& c, int prompt_len, const DecodeParams& p) {
  const CanvasLayout l = layout_for(c, prompt_len, p);
  const uint64_t one = session_bytes(c, l.length, l.length, l.logit_rows);
  const uint64_t cfg = p.cfg_scale > 0 ? one + sizeof(float) * uint64_t(l.logit_rows) * c.vocab : 0;
  return one + cfg;
}

void check_generation_budget(const ModelConfig& c, int prompt_len, const DecodeParams& p,
                             uint64_t max_bytes, const std::string& budget_name) {
  const uint64_t need = generation_bytes(c, prompt_len, p);
  if (need <= max_bytes) return;
  constexpr double kMiB = 1024.0 * 1024.0;
  char msg[320];
  std::snprintf(msg, sizeof(msg),
                "this generation needs %.1f MiB of session memory (%d prompt + %d generated "
                "positions), more than the %.1f MiB a request may use (%s): ask for fewer "
                "tokens or a shorter prompt",
                need / kMiB, prompt_len, p.gen_length, max_bytes / kMiB, budget_name.c_str());
  throw Error(ErrorCode::kInvalidArgument, msg, "gen_length").with_reason("memory_budget_exceeded");
}

GenerateResult generate(const Model& model, std::span<const int32_t> prompt,
                        const DecodeParams& params, const GenerateOptions& options) {
  const ModelConfig& c = model.config();
  validate(params, c, static_cast<int>(prompt.size()));
  check_prompt_ids(prompt, c);
  const CanvasSpec spec = plain_canvas(prompt, params.gen_length, c.mask_id);
  Denoiser d(model, spec, params, options, /*templated=*/false);
  return d.run();
}

DecodeParams canvas_params(const CanvasSpec& spec, const DecodeParams& params) {
  DecodeParams p = params;
  p.gen_length = static_cast<int>(spec.region.size());
  return p;
}

GenerateResult generate(const Model& model, const CanvasSpec& spec, const DecodeParams& params,
                        const GenerateOptions& options) {
  const ModelConfig& c = model.config();
  const DecodeParams p = canvas_params(spec, params);
  validate(p, c, static_cast<int>(spec.prompt.size()));
  check_prompt_ids(spec.prompt, c);
  validate_canvas(spec, c, p);
  Denoiser d(model, spec, p, options, /*templated=*/true);
  return d.run();
}

}  // namespace dlx
