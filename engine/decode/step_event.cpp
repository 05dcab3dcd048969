#include "engine/decode/step_event.h"

#include "engine/tokenizer/tokenizer.h"

namespace dlx {

nlohmann::json to_json(const StepEvent& e, const Tokenizer* tokenizer) {
  nlohmann::json j = {{"step", e.step},
                      {"block", e.block},
                      {"positions", e.positions},
                      {"tokens", e.tokens},
                      {"confidences", e.confidences},
                      {"masks_remaining", e.masks_remaining},
                      {"span_tokens", e.span_tokens},
                      {"forward_ms", e.forward_ms},
                      {"end_from", e.end_from}};
  if (tokenizer) {
    nlohmann::json pieces = nlohmann::json::array();
    for (int32_t t : e.tokens) pieces.push_back(tokenizer->decode(std::span<const int32_t>(&t, 1)));
    j["pieces"] = std::move(pieces);
  }
  return j;
}

}  // namespace dlx
