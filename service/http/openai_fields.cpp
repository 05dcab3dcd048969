#include "service/http/openai_fields.h"

#include <functional>

#include "service/http/api_error.h"

namespace dlx::http {
namespace {

using nlohmann::json;

enum Where : unsigned { kCompletions = 1, kChat = 2, kBoth = 3 };

struct Field {
  const char* name;
  unsigned where;
  // Null for fields the request parser implements or maps (their values are checked there);
  // else the values accepted, and what to say about the others.
  std::function<bool(const json&)> accepted;
  const char* refusal;
};

bool is_zero(const json& v) {
  return v.is_null() || (v.is_number() && v.get<double>() == 0);
}
bool is_one(const json& v) {
  return v.is_null() || (v.is_number() && v.get<double>() == 1);
}
bool is_false(const json& v) {
  return v.is_null() || (v.is_boolean() && !v.get<bool>()) || (v.is_number() && v == 0);
}
bool is_empty(const json& v) {
  return v.is_null() || ((v.is_object() || v.is_array()) && v.empty());
}
bool is_null(const json& v) {
  return v.is_null();
}
bool is_any(const json&) {
  return true;
}

const std::vector<Field>& fields() {
  static const std::vector<Field> f = {
      // Implemented or mapped onto decoding keys (generation_request.cpp).
      {"model", kBoth, nullptr, ""},
      {"prompt", kCompletions, nullptr, ""},
      {"messages", kChat, nullptr, ""},
      {"max_tokens", kBoth, nullptr, ""},
      {"max_completion_tokens", kChat, nullptr, ""},
      {"temperature", kBoth, nullptr, ""},
      {"top_p", kBoth, nullptr, ""},
      {"top_k", kBoth, nullptr, ""},
      {"min_p", kBoth, nullptr, ""},
      {"seed", kBoth, nullptr, ""},
      {"stop", kBoth, nullptr, ""},
      {"stream", kBoth, nullptr, ""},
      {"stream_options", kBoth, nullptr, ""},
      {"diffusion", kBoth, nullptr, ""},
      {"response_format", kBoth, nullptr, ""},  // structured_request.cpp
      // About the request, not its answer: accepted, no effect (every request is logged).
      {"user", kBoth, is_any, ""},
      {"metadata", kBoth, is_any, ""},
      {"store", kBoth, is_any, ""},
      {"service_tier", kBoth, is_any, ""},
      {"parallel_tool_calls", kChat, is_any, ""},
      // Accepted at their neutral values only.
      {"n", kBoth, is_one, "only n = 1 is supported"},
      {"best_of", kCompletions, is_one, "only best_of = 1 is supported"},
      {"echo", kCompletions, is_false, "echo is not supported"},
      {"suffix", kCompletions, nullptr, ""},  // an insertion (infill): template_request.h
      {"logprobs", kBoth, is_false, "log probabilities are not supported"},
      {"top_logprobs", kChat, is_zero, "log probabilities are not supported"},
      {"frequency_penalty", kBoth, is_zero,
       "penalties are not supported (a diffusion model decodes all positions at once); send 0"},
      {"presence_penalty", kBoth, is_zero,
       "penalties are not supported (a diffusion model decodes all positions at once); send 0"},
      {"repetition_penalty", kBoth, is_one,
       "penalties are not supported (a diffusion model decodes all positions at once); send 1"},
      {"logit_bias", kBoth, is_empty, "logit_bias is not supported"},
      {"tools", kChat, is_empty, "tool calling is not supported"},
      {"functions", kChat, is_empty, "function calling is not supported"},
      {"tool_choice", kChat,
       [](const json& v) { return v.is_null() || v == "none" || v == "auto"; },
       "tool calling is not supported"},
      {"function_call", kChat,
       [](const json& v) { return v.is_null() || v == "none" || v == "auto"; },
       "function calling is not supported"},
      {"modalities", kChat, [](const json& v) { return v.is_null() || v == json{"text"}; },
       "only text output is supported"},
      {"audio", kChat, is_null, "audio output is not supported"},
      {"prediction", kChat, is_null, "predicted outputs are not supported"},
      {"reasoning_effort", kChat, is_null, "reasoning effort is not supported"},
      {"web_search_options", kChat, is_null, "web search is not supported"},
  };
  return f;
}

unsigned where_of(Endpoint e) {
  return e == Endpoint::kChat ? kChat : kCompletions;
}

}  // namespace

void check_openai_fields(Endpoint endpoint, const json& body) {
  const unsigned here = where_of(endpoint);
  for (auto it = body.begin(); it != body.end(); ++it) {
    const Field* field = nullptr;
    for (const Field& f : fields()) {
      if (it.key() == f.name) field = &f;
    }
    if (!field || !(field->where & here)) {
      throw bad_request(it.key(),
                        "unknown key for " + std::string(endpoint_path(endpoint)) +
                            " (decoding keys go in \"diffusion\"; see GET /v1/models/NAME)");
    }
    if (field->accepted && !field->accepted(it.value()))
      throw bad_request(it.key(), field->refusal);
  }
}

}  // namespace dlx::http
