#include "engine/decode/canvas_spec.h"

#include <algorithm>

#include "engine/util/error.h"

namespace dlx {
namespace {

std::string hole_param(const CanvasHole& h) {
  return h.part >= 0 ? "template[" + std::to_string(h.part) + "]" : "template";
}

// Region offset where hole `i`'s text ends: the next hole's start, or the region's end.
int following_text_end(const CanvasSpec& s, size_t i) {
  return i + 1 < s.holes.size() ? s.holes[i + 1].begin : static_cast<int>(s.region.size());
}

bool is_final(const CanvasSpec& s, size_t i) {
  return s.holes[i].begin + s.holes[i].length == static_cast<int>(s.region.size());
}

}  // namespace

CanvasSpec plain_canvas(std::span<const int32_t> prompt, int gen_length, int32_t mask_id) {
  CanvasSpec s;
  s.prompt.assign(prompt.begin(), prompt.end());
  s.region.assign(static_cast<size_t>(std::max(0, gen_length)), mask_id);
  CanvasHole h;
  h.length = h.min_tokens = gen_length;
  s.holes.push_back(std::move(h));
  return s;
}

void validate_canvas(const CanvasSpec& s, const ModelConfig& c, const DecodeParams& p) {
  if (s.holes.empty()) throw_invalid_argument("template", "needs at least one hole");
  const int G = static_cast<int>(s.region.size());
  int prev_end = 0;
  for (size_t i = 0; i < s.holes.size(); ++i) {
    const CanvasHole& h = s.holes[i];
    const std::string param = hole_param(h);
    if (h.length <= 0) throw_invalid_argument(param, "a hole needs at least one position");
    if (h.min_tokens < 0 || h.min_tokens > h.length) {
      throw_invalid_argument(param, "min_tokens must lie in 0..max_tokens");
    }
    if (h.begin < prev_end || h.begin + h.length > G) {
      throw Error(ErrorCode::kInternal, param + ": hole outside the region or overlapping");
    }
    for (int q = prev_end; q < h.begin; ++q) {
      if (s.region[q] == c.mask_id || s.region[q] < 0 || s.region[q] >= c.vocab) {
        throw_invalid_argument(param,
                               "fixed text holds the mask token or an id outside the "
                               "vocabulary");
      }
    }
    for (int q = h.begin; q < h.begin + h.length; ++q) {
      if (s.region[q] != c.mask_id) {
        throw Error(ErrorCode::kInternal, param + ": hole position not masked");
      }
    }
    prev_end = h.begin + h.length;
  }
  for (int q = prev_end; q < G; ++q) {
    if (s.region[q] == c.mask_id || s.region[q] < 0 || s.region[q] >= c.vocab) {
      throw_invalid_argument("template",
                             "fixed text holds the mask token or an id outside the "
                             "vocabulary");
    }
  }
  if (c.spec->attention != AttentionKind::kBlockCausal) return;
  // Block-causal: a position sees every earlier block and its own block.
  const int P = static_cast<int>(s.prompt.size());
  const int B = effective_block_length(p);
  const int first = c.spec->block_aligned ? P / B * B : P;
  auto block_of = [&](int region_offset) { return (P + region_offset - first) / B; };
  for (size_t i = 0; i < s.holes.size(); ++i) {
    const CanvasHole& h = s.holes[i];
    const int end = h.begin + h.length, text_end = following_text_end(s, i);
    if (text_end == end) continue;  // no text after it
    const int hole_block = block_of(end - 1);
    if (block_of(text_end - 1) == hole_block) continue;  // all of it seen by the hole
    if (block_of(end) > hole_block) continue;            // starts the next block: left to right
    throw_invalid_argument(
        hole_param(h),
        c.family_name() +
            " attends block-causally: a hole sees the text after it only inside "
            "its own block (block_length " +
            std::to_string(B) + "), and the " + std::to_string(text_end - end) +
            " tokens after this hole cross the block boundary at canvas position " +
            std::to_string(first + (hole_block + 1) * B) +
            ": shorten that text, move the hole, or use a block_length that holds hole and text");
  }
}

std::vector<std::vector<int32_t>> hole_contents(const CanvasSpec& s, std::span<const int32_t> out,
                                                const ModelConfig& c) {
  std::vector<std::vector<int32_t>> holes;
  const int n = static_cast<int>(out.size());
  for (size_t i = 0; i < s.holes.size(); ++i) {
    const CanvasHole& h = s.holes[i];
    const int end = std::min(h.begin + h.length, n);
    std::vector<int32_t> ids;
    for (int q = h.begin; q < end; ++q) {
      if (c.is_end_token(out[q])) break;
      ids.push_back(out[q]);
    }
    holes.push_back(std::move(ids));
  }
  return holes;
}

std::vector<int32_t> text_region(const CanvasSpec& s, std::span<const int32_t> region,
                                 const ModelConfig& c) {
  std::vector<int32_t> out;
  out.reserve(region.size());
  const int n = static_cast<int>(std::min(region.size(), s.region.size()));
  int q = 0;
  for (size_t i = 0; i < s.holes.size(); ++i) {
    const CanvasHole& h = s.holes[i];
    const int end = std::min(h.begin + h.length, n);
    if (!h.variable() || is_final(s, i)) continue;
    for (; q < h.begin && q < n; ++q) out.push_back(region[q]);
    for (; q < end; ++q) {
      if (region[q] != c.mask_id && c.is_end_token(region[q])) break;
      out.push_back(region[q]);
    }
    q = std::max(q, end);
  }
  for (; q < n; ++q) out.push_back(region[q]);
  return out;
}

}  // namespace dlx
