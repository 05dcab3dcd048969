// Unit tests of request parsing and decoding-parameter resolution for the HTTP endpoints, the
// error translator, and the Prometheus rendering of the metrics.
#include <gtest/gtest.h>

#include "engine/model/model_config.h"
#include "engine/util/error.h"
#include "service/http/api_error.h"
#include "service/http/generation_request.h"
#include "service/http/structured_request.h"
#include "service/metrics/metrics.h"
#include "tests/support/test_util.h"

namespace dlx::http {
namespace {

using nlohmann::json;

std::string param_of(Endpoint ep, const json& body) {
  try {
    parse_generation_input(ep, body);
  } catch (...) {
    return to_error_info(std::current_exception()).param;
  }
  return "(no error)";
}

// parse_structured_output's refusal of `body`, by param ("(no error)" when it parses).
std::string structured_param_of(Endpoint ep, const json& body) {
  try {
    parse_structured_output(ep, body.dump(), body);
  } catch (...) {
    return to_error_info(std::current_exception()).param;
  }
  return "(no error)";
}

TEST(GenerationRequest, StructuredOutputFields) {
  const json schema = {{"type", "object"}, {"properties", {{"a", {{"type", "integer"}}}}}};
  const json rf = {{"type", "json_schema"}, {"json_schema", {{"name", "n"}, {"schema", schema}}}};
  EXPECT_EQ(structured_param_of(Endpoint::kChat, {{"response_format", rf}}), "(no error)");
  EXPECT_TRUE(parse_structured_output(Endpoint::kChat, json{{"response_format", rf}}.dump(),
                                      {{"response_format", rf}}));
  EXPECT_FALSE(parse_structured_output(Endpoint::kChat, "{}", json::object()));
  EXPECT_FALSE(parse_structured_output(Endpoint::kCompletions,
                                       R"({"response_format":{"type":"text"}})",
                                       {{"response_format", {{"type", "text"}}}}));
  EXPECT_EQ(
      structured_param_of(Endpoint::kCompletions, {{"response_format", {{"type", "json_object"}}}}),
      "response_format");
  EXPECT_EQ(structured_param_of(Endpoint::kChat, {{"response_format", {{"type", "xml"}}}}),
            "response_format.type");
  json bad = rf;
  bad["json_schema"]["schema"]["properties"]["a"]["format"] = "date";
  EXPECT_EQ(structured_param_of(Endpoint::kChat, {{"response_format", bad}}),
            "response_format.json_schema.schema");
  bad = rf;
  bad["json_schema"]["extra"] = 1;
  EXPECT_EQ(structured_param_of(Endpoint::kChat, {{"response_format", bad}}),
            "response_format.json_schema.extra");
  EXPECT_EQ(structured_param_of(Endpoint::kGenerate, {{"schema", {{"oneOf", json::array()}}}}),
            "schema");
  EXPECT_EQ(structured_param_of(Endpoint::kOllamaChat, {{"format", "json"}}), "format");
  EXPECT_EQ(structured_param_of(Endpoint::kOllamaChat, {{"format", schema}}), "(no error)");
  EXPECT_EQ(structured_param_of(Endpoint::kOllamaChat, {{"format", ""}}), "(no error)");
}

TEST(GenerationRequest, ParsesEachEndpoint) {
  auto c = parse_generation_input(Endpoint::kCompletions, {{"model", "m"},
                                                           {"prompt", "hi"},
                                                           {"max_tokens", 16},
                                                           {"stop", "x"},
                                                           {"stream", true},
                                                           {"temperature", 0.5},
                                                           {"seed", 4},
                                                           {"user", "ignored"}});
  EXPECT_EQ(*c.prompt, "hi");
  EXPECT_EQ(*c.max_tokens, 16);
  EXPECT_EQ(c.stop, std::vector<std::string>({"x"}));
  EXPECT_EQ(c.stream, StreamMode::kOpenAI);
  EXPECT_EQ(*c.seed, 4);
  auto ids = parse_generation_input(Endpoint::kCompletions, {{"model", "m"}, {"prompt", {1, 2}}});
  EXPECT_EQ(*ids.prompt_ids, std::vector<int32_t>({1, 2}));
  auto chat = parse_generation_input(
      Endpoint::kChat,
      {{"model", "m"},
       {"messages",
        {{{"role", "user"},
          {"content", {{{"type", "text"}, {"text", "a"}}, {{"type", "text"}, {"text", "b"}}}}}}}});
  EXPECT_EQ((*chat.messages)[0]["content"], "ab");
  auto g = parse_generation_input(Endpoint::kGenerate,
                                  {{"model", "m"}, {"prompt_ids", {3}}, {"stream", "denoise"}});
  EXPECT_EQ(g.stream, StreamMode::kDenoise);
}

TEST(GenerationRequest, ErrorsNameTheParameter) {
  // "model" may be left out (the registry then picks the only loaded model), but not mistyped.
  EXPECT_EQ(param_of(Endpoint::kCompletions, {{"prompt", "x"}}), "(no error)");
  EXPECT_EQ(param_of(Endpoint::kCompletions, {{"model", 3}, {"prompt", "x"}}), "model");
  EXPECT_EQ(param_of(Endpoint::kCompletions, {{"model", "m"}}), "prompt");
  EXPECT_EQ(param_of(Endpoint::kCompletions, {{"model", "m"}, {"prompt", "x"}, {"top_p", 2}}),
            "top_p");
  EXPECT_EQ(param_of(Endpoint::kCompletions, {{"model", "m"}, {"prompt", "x"}, {"stop", {""}}}),
            "stop");
  EXPECT_EQ(param_of(Endpoint::kCompletions, {{"model", "m"}, {"prompt", "x"}, {"echo", true}}),
            "echo");
  EXPECT_EQ(param_of(Endpoint::kChat, {{"model", "m"}, {"messages", {{{"content", "x"}}}}}),
            "messages[0].role");
  EXPECT_EQ(param_of(Endpoint::kGenerate, {{"model", "m"}, {"prompt", "a"}, {"prompt_ids", {1}}}),
            "prompt");
  EXPECT_EQ(param_of(Endpoint::kGenerate, {{"model", "m"}, {"prompt_ids", {1, -2}}}),
            "prompt_ids[1]");
  EXPECT_EQ(param_of(Endpoint::kGenerate, {{"model", "m"}, {"prompt_ids", {1}}, {"x", 1}}), "x");
}

// Issue #23: every OpenAI field is implemented, mapped, accepted at its neutral value, or a 400
// naming it; nothing is silently ignored.
TEST(GenerationRequest, EveryOpenAIFieldIsHandledOrRefused) {
  const json chat_base = {{"messages", {{{"role", "user"}, {"content", "x"}}}}};
  const json comp_base = {{"prompt", "x"}};
  auto with = [](json b, const std::string& k, const json& v) {
    b[k] = v;
    return b;
  };
  // Neutral values: accepted, on both endpoints where OpenAI has the field.
  for (const auto& [k, v] :
       std::vector<std::pair<std::string, json>>{{"frequency_penalty", 0},
                                                 {"presence_penalty", 0.0},
                                                 {"repetition_penalty", 1},
                                                 {"min_p", 0},
                                                 {"min_p", 0.05},
                                                 {"logit_bias", json::object()},
                                                 {"response_format", {{"type", "text"}}},
                                                 {"logprobs", false},
                                                 {"n", 1},
                                                 {"user", "u-1"},
                                                 {"metadata", {{"a", "b"}}},
                                                 {"store", false},
                                                 {"service_tier", "auto"}}) {
    EXPECT_EQ(param_of(Endpoint::kChat, with(chat_base, k, v)), "(no error)") << k;
    EXPECT_EQ(param_of(Endpoint::kCompletions, with(comp_base, k, v)), "(no error)") << k;
  }
  for (const auto& [k, v] :
       std::vector<std::pair<std::string, json>>{{"tools", json::array()},
                                                 {"tool_choice", "none"},
                                                 {"parallel_tool_calls", false},
                                                 {"top_logprobs", 0},
                                                 {"modalities", {"text"}},
                                                 {"audio", nullptr}}) {
    EXPECT_EQ(param_of(Endpoint::kChat, with(chat_base, k, v)), "(no error)") << k;
  }
  // Anything else: a 400 naming the field.
  for (const auto& [k, v] :
       std::vector<std::pair<std::string, json>>{{"frequency_penalty", 0.5},
                                                 {"presence_penalty", -1},
                                                 {"repetition_penalty", 1.1},
                                                 {"logit_bias", {{"50256", -100}}},
                                                 {"n", 2},
                                                 {"no_such_field", 1}}) {
    EXPECT_EQ(param_of(Endpoint::kChat, with(chat_base, k, v)), k) << v;
    EXPECT_EQ(param_of(Endpoint::kCompletions, with(comp_base, k, v)), k) << v;
  }
  for (const auto& [k, v] : std::vector<std::pair<std::string, json>>{
           {"tools", {{{"type", "function"}, {"function", {{"name", "f"}}}}}},
           {"tool_choice", "required"},
           {"top_logprobs", 3},
           {"modalities", {"text", "audio"}},
           {"prediction", {{"type", "content"}}},
           {"prompt", "x"}}) {
    EXPECT_EQ(param_of(Endpoint::kChat, with(chat_base, k, v)), k) << v;
  }
  EXPECT_EQ(param_of(Endpoint::kCompletions, with(comp_base, "messages", json::array())),
            "messages");
  // suffix: an insertion on completions (README: Infill), unknown to chat.
  EXPECT_EQ(param_of(Endpoint::kCompletions, with(comp_base, "suffix", "tail")), "(no error)");
  EXPECT_EQ(param_of(Endpoint::kCompletions, with(comp_base, "suffix", 3)), "suffix");
  EXPECT_EQ(param_of(Endpoint::kChat, with(chat_base, "suffix", "tail")), "suffix");
  // Mapped: top-level top_k becomes the decoding key; stream_options needs a stream.
  const auto in = parse_generation_input(Endpoint::kChat, with(chat_base, "top_k", 7));
  EXPECT_EQ(decode_overrides(in)["top_k"], 7);
  EXPECT_EQ(decode_overrides(
                parse_generation_input(Endpoint::kChat, with(chat_base, "min_p", 0.1)))["min_p"],
            0.1);
  EXPECT_EQ(param_of(Endpoint::kChat, with(chat_base, "top_k", -1)), "top_k");
  json streamed = with(chat_base, "stream", true);
  streamed["stream_options"] = {{"include_usage", true}};
  EXPECT_TRUE(parse_generation_input(Endpoint::kChat, streamed).include_usage);
  EXPECT_EQ(param_of(Endpoint::kChat, with(chat_base, "stream_options", {{"include_usage", true}})),
            "stream_options");
  streamed["stream_options"] = {{"include_usage", true}, {"other", 1}};
  EXPECT_EQ(param_of(Endpoint::kChat, streamed), "stream_options.other");
}

TEST(GenerationRequest, MaxTokensGivesThatManyTokensInAPartialLastBlock) {
  const ModelConfig llada = load_model_config(test::model_dir("llada"));
  const DecodeParams def = default_decode_params(llada);
  GenerationInput in;
  in.endpoint = Endpoint::kCompletions;
  in.max_tokens = 40;
  DecodeParams p = resolve_decode_params(llada, in);
  EXPECT_EQ(p.gen_length, 40);
  EXPECT_EQ(p.block_length, def.block_length);  // the family's block; the last one is partial
  EXPECT_FALSE(p.steps.has_value());            // unset: one token per step, as the default
  EXPECT_TRUE(p.stop_at_eos);
  validate(p, llada, 5);

  in.diffusion = {{"block_length", 8}, {"steps", 20}, {"gen_length", 24}};
  p = resolve_decode_params(llada, in);
  EXPECT_EQ(p.block_length, 8);  // explicit keys win, over max_tokens too
  EXPECT_EQ(*p.steps, 20);
  EXPECT_EQ(p.gen_length, 24);

  const ModelConfig dream = load_model_config(test::model_dir("dream"));
  GenerationInput d;
  d.endpoint = Endpoint::kGenerate;
  d.diffusion = {{"gen_length", 24}};
  p = resolve_decode_params(dream, d);
  EXPECT_EQ(effective_block_length(p), 24);  // Dream denoises one block over the whole canvas
  EXPECT_EQ(p.stop_at_eos, def.stop_at_eos);
  validate(p, dream, 5);
}

TEST(ErrorTranslator, MapsEveryKind) {
  auto info = [](auto&& thrower) {
    try {
      thrower();
    } catch (...) {
      return to_error_info(std::current_exception());
    }
    return ErrorInfo{};
  };
  EXPECT_EQ(info([] { throw Error(ErrorCode::kInvalidArgument, "steps: bad", "steps"); }).status,
            400);
  EXPECT_EQ(info([] { throw Error(ErrorCode::kOutOfRange, "too long", "gen_length"); }).code,
            "context_length_exceeded");
  EXPECT_EQ(info([] { throw Error(ErrorCode::kNotFound, "no"); }).status, 404);
  EXPECT_EQ(info([] { const json j = json::parse("{x"); }).code, "invalid_json");
  EXPECT_EQ(info([] { (void)json("s").get<int>(); }).status, 400);
  EXPECT_EQ(info([] { throw Error(ErrorCode::kConflict, "taken", "name"); }).status, 409);
  // The jobs layer's errors: a reason refines the code, a retry hint travels with it.
  const ErrorInfo busy = info([] {
    throw Error(ErrorCode::kUnavailable, "not loaded", "model")
        .with_reason("model_not_loaded")
        .with_retry_after(2);
  });
  EXPECT_EQ(busy.status, 503);
  EXPECT_EQ(busy.code, "model_not_loaded");
  EXPECT_EQ(busy.param, "model");
  EXPECT_EQ(busy.retry_after_s, 2);
  EXPECT_EQ(info([] { throw Error(ErrorCode::kTimeout, "late"); }).status, 504);
  EXPECT_EQ(info([] { throw Error(ErrorCode::kCancelled, "gone"); }).status, 499);
  EXPECT_EQ(info([] { throw std::bad_alloc(); }).code, "out_of_memory");
  EXPECT_EQ(info([] { throw std::runtime_error("bug"); }).status, 500);
  const json body = error_json(info([] { throw bad_request("top_p", "must be in (0, 1]"); }));
  EXPECT_EQ(body["error"]["param"], "top_p");
  EXPECT_EQ(body["error"]["type"], "invalid_request_error");
  EXPECT_EQ(body["error"]["message"], "top_p: must be in (0, 1]");
}

TEST(Metrics, RendersPrometheusText) {
  Metrics m;
  m.request("/v1/generate", 200, 0.02);
  m.request("/v1/generate", 200, 3.0);
  m.request("/v1/generate", 400, 0.001);
  m.forward("llada", 0.0007);
  m.generation_finished("llada", db::GenerationStatus::kOk, 12);
  m.model_loaded("llada", 0.5);
  GaugeSnapshot g;
  g.queue_depth = 2;
  g.model_status = {{"llada", db::ModelStatus::kLoaded}};
  const std::string t = m.render(g);
  for (const char* line :
       {"# TYPE dlx_http_requests_total counter",
        "dlx_http_requests_total{endpoint=\"/v1/generate\",code=\"200\"} 2",
        "dlx_http_requests_total{endpoint=\"/v1/generate\",code=\"400\"} 1",
        "dlx_http_request_duration_seconds_bucket{endpoint=\"/v1/generate\",le=\"0.025\"} 2",
        "dlx_http_request_duration_seconds_bucket{endpoint=\"/v1/generate\",le=\"+Inf\"} 3",
        "dlx_http_request_duration_seconds_count{endpoint=\"/v1/generate\"} 3", "dlx_queue_depth 2",
        "dlx_step_duration_seconds_bucket{le=\"0.001\"} 1",
        "dlx_generated_tokens_total{model=\"llada\"} 12",
        "dlx_model_load_seconds{model=\"llada\"} 0.5",
        "dlx_model_loaded{model=\"llada\",status=\"loaded\"} 1"}) {
    EXPECT_NE(t.find(std::string(line) + "\n"), std::string::npos) << line << "\n" << t;
  }
  EXPECT_EQ(prometheus_escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

}  // namespace
}  // namespace dlx::http
