// Integration tests of `diffulex serve` generation: the native endpoint against the golden
// fixture cases, both native stream modes, the OpenAI endpoints (plain, streamed, stop strings)
// and 8 simultaneous streams.
#include <gtest/gtest.h>

#include <thread>

#include "tests/support/serve_harness.h"

namespace dlx::test {
namespace {

const char* kFamilies[] = {"llada", "dream", "sdar", "fast_dllm_v2"};

class ServeGenerate : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    std::vector<std::string> args = {"--db", dir_->file("serve.db"), "--max-queue", "16"};
    for (const char* f : kFamilies) {
      args.push_back("--model");
      args.push_back(model_dir(f));
    }
    server_ = new ServerProcess(dir_->path(), args);
    ready_ = server_->wait_ready();
  }
  static void TearDownTestSuite() {
    EXPECT_EQ(server_->terminate(), 0) << server_->stderr_text();
    delete server_;
    delete dir_;
  }
  void SetUp() override {
    ASSERT_TRUE(ready_) << server_->stderr_text();
    client = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    client->set_read_timeout(120, 0);
  }
  json ok(const std::string& path, const json& body) {
    auto r = post_json(*client, path, body);
    EXPECT_TRUE(r);
    if (!r) return nullptr;
    EXPECT_EQ(r->status, 200) << r->body;
    return json::parse(r->body);
  }
  std::vector<SseEvent> stream(const std::string& path, const json& body) {
    int status = 0;
    const std::string raw = post_stream(*client, path, body, &status);
    EXPECT_EQ(status, 200) << raw;
    auto events = parse_sse(raw);
    EXPECT_FALSE(events.empty());
    if (!events.empty()) {
      EXPECT_EQ(events.back().data, "[DONE]") << raw;
    }
    return events;
  }

  static TempDir* dir_;
  static ServerProcess* server_;
  static bool ready_;
  std::unique_ptr<httplib::Client> client;
};
TempDir* ServeGenerate::dir_ = nullptr;
ServerProcess* ServeGenerate::server_ = nullptr;
bool ServeGenerate::ready_ = false;

TEST_F(ServeGenerate, NativeMatchesGoldenCases) {
  for (const char* family : kFamilies) {
    const json c = first_required_case(family);
    ASSERT_FALSE(c.is_null()) << family;
    const json r =
        ok("/v1/generate",
           {{"model", family}, {"prompt_ids", c["prompt_ids"]}, {"diffusion", c["diffulex"]}});
    EXPECT_EQ(r["output_ids"], c["expected_ids"]) << family << " " << c["id"];
    EXPECT_EQ(r["object"], "generation");
    EXPECT_EQ(r["id"].get<std::string>().rfind("gen-", 0), 0u);
    EXPECT_TRUE(r["text"].is_string());
    EXPECT_TRUE(r["finish_reason"] == "stop" || r["finish_reason"] == "length");
    EXPECT_EQ(r["usage"]["prompt_tokens"], c["prompt_ids"].size());
    EXPECT_EQ(r["usage"]["completion_tokens"], c["expected_ids"].size());
    EXPECT_EQ(r["usage"]["forward_calls"], r["forward_calls"]);
    EXPECT_GT(r["forward_calls"].get<int>(), 0);
    EXPECT_TRUE(r["timings"]["run_ms"].is_number());
    EXPECT_EQ(r["diffusion"]["gen_length"], c["diffulex"]["gen_length"]);
  }
}

TEST_F(ServeGenerate, DenoiseStream) {
  const json c = first_required_case("llada");
  const json req = {{"model", "llada"},
                    {"prompt_ids", c["prompt_ids"]},
                    {"diffusion", c["diffulex"]},
                    {"stream", "denoise"}};
  const auto events = stream("/v1/generate", req);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.front().event, "start");
  const json start = json::parse(events.front().data);
  std::vector<int32_t> canvas(c["expected_ids"].size(), -1);
  int steps = 0, last_masks = static_cast<int>(canvas.size());
  json result;
  for (size_t i = 1; i + 1 < events.size(); ++i) {
    const json e = json::parse(events[i].data);
    if (events[i].event == "step") {
      EXPECT_EQ(e["type"], "step");
      EXPECT_EQ(e["step"], steps++);
      ASSERT_EQ(e["positions"].size(), e["tokens"].size());
      ASSERT_EQ(e["positions"].size(), e["confidences"].size());
      ASSERT_EQ(e["positions"].size(), e["pieces"].size());
      for (size_t k = 0; k < e["positions"].size(); ++k) {
        const int p = e["positions"][k];
        ASSERT_EQ(canvas[p], -1) << "position committed twice";
        canvas[p] = e["tokens"][k];
      }
      EXPECT_LE(e["masks_remaining"].get<int>(), last_masks);
      last_masks = e["masks_remaining"];
    } else {
      ASSERT_EQ(events[i].event, "result");
      result = e;
    }
  }
  ASSERT_FALSE(result.is_null());
  EXPECT_EQ(result["type"], "result");
  EXPECT_EQ(result["id"], start["id"]);
  EXPECT_EQ(result["output_ids"], c["expected_ids"]);
  EXPECT_EQ(result["forward_calls"], steps);
  EXPECT_EQ(last_masks, 0);
  EXPECT_EQ(json(canvas), c["expected_ids"]);  // the steps rebuild the output exactly
}

TEST_F(ServeGenerate, AppendStream) {
  const json c = first_required_case("llada");
  const json req = {{"model", "llada"},
                    {"prompt_ids", c["prompt_ids"]},
                    {"diffusion", c["diffulex"]},
                    {"stream", "append"}};
  const auto events = stream("/v1/generate", req);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.front().event, "start");
  json ids = json::array();
  std::string text;
  json result;
  for (size_t i = 1; i + 1 < events.size(); ++i) {
    const json e = json::parse(events[i].data);
    if (events[i].event == "delta") {
      for (const auto& id : e["ids"]) ids.push_back(id);
      text += e["text"].get<std::string>();
    } else {
      ASSERT_EQ(events[i].event, "result");
      result = e;
    }
  }
  EXPECT_EQ(ids, c["expected_ids"]);  // deltas arrive left to right and add up to the output
  ASSERT_FALSE(result.is_null());
  EXPECT_EQ(result["output_ids"], c["expected_ids"]);
  EXPECT_EQ(result["text"], text);
}

TEST_F(ServeGenerate, TextPromptAndTextField) {
  const json r = ok("/v1/generate", {{"model", "llada"},
                                     {"prompt", "The capital of France is"},
                                     {"diffusion", {{"gen_length", 16}}}});
  // The output ends at the end token (stop_at_eos); the text is the output without it.
  auto d = post_json(*client, "/detokenize",
                     {{"model", "llada"}, {"ids", r["output_ids"]}, {"skip_special_tokens", true}});
  ASSERT_TRUE(d);
  EXPECT_EQ(r["text"], json::parse(d->body)["text"]);
  EXPECT_LE(r["output_ids"].size(), 16u);
}

TEST_F(ServeGenerate, OpenAICompletions) {
  const json req = {
      {"model", "llada"}, {"prompt", "Once upon a time"}, {"max_tokens", 16}, {"seed", 3}};
  const json r = ok("/v1/completions", req);
  EXPECT_EQ(r["object"], "text_completion");
  EXPECT_EQ(r["id"].get<std::string>().rfind("cmpl-", 0), 0u);
  EXPECT_EQ(r["model"], "llada");
  EXPECT_TRUE(r["created"].is_number_integer());
  ASSERT_EQ(r["choices"].size(), 1u);
  const json& choice = r["choices"][0];
  EXPECT_EQ(choice["index"], 0);
  EXPECT_TRUE(choice["text"].is_string());
  EXPECT_TRUE(choice["finish_reason"] == "stop" || choice["finish_reason"] == "length");
  const json& u = r["usage"];
  EXPECT_GT(u["prompt_tokens"].get<int>(), 0);
  EXPECT_LE(u["completion_tokens"].get<int>(), 16);
  EXPECT_EQ(u["total_tokens"].get<int>(),
            u["prompt_tokens"].get<int>() + u["completion_tokens"].get<int>());
  EXPECT_GT(u["forward_calls"].get<int>(), 0);

  // Streamed: chunks add up to the same text, the last one carries finish_reason and usage.
  json sreq = req;
  sreq["stream"] = true;
  const auto events = stream("/v1/completions", sreq);
  std::string text;
  json last;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    const json ch = json::parse(events[i].data);
    EXPECT_EQ(ch["object"], "text_completion");
    text += ch["choices"][0]["text"].get<std::string>();
    last = ch;
  }
  EXPECT_EQ(text, choice["text"]);
  EXPECT_EQ(last["choices"][0]["finish_reason"], choice["finish_reason"]);
  // Same counts; each answer has its own timings.
  EXPECT_TRUE(u["timings"]["run_ms"].is_number()) << u;
  json counts = u, last_counts = last["usage"];
  counts.erase("timings");
  last_counts.erase("timings");
  EXPECT_EQ(last_counts, counts);

  // stream_options.include_usage: every chunk says "usage": null, and one more chunk with no
  // choices carries the usage, as OpenAI sends it.
  sreq["stream_options"] = {{"include_usage", true}};
  const auto with_usage = stream("/v1/completions", sreq);
  ASSERT_GE(with_usage.size(), 3u);
  EXPECT_EQ(with_usage.back().data, "[DONE]");
  const json tail = json::parse(with_usage[with_usage.size() - 2].data);
  EXPECT_EQ(tail["choices"], json::array());
  EXPECT_EQ(tail["usage"]["completion_tokens"], u["completion_tokens"]);
  EXPECT_EQ(tail["usage"]["prompt_tokens"], u["prompt_tokens"]);
  for (size_t i = 0; i + 2 < with_usage.size(); ++i) {
    const json ch = json::parse(with_usage[i].data);
    EXPECT_TRUE(ch.contains("usage") && ch["usage"].is_null()) << ch;
    EXPECT_EQ(ch["choices"].size(), 1u) << ch;
  }
}

TEST_F(ServeGenerate, OpenAIChat) {
  const json req = {{"model", "llada"},
                    {"messages", {{{"role", "user"}, {"content", "What is 2+2?"}}}},
                    {"max_tokens", 16}};
  const json r = ok("/v1/chat/completions", req);
  EXPECT_EQ(r["object"], "chat.completion");
  EXPECT_EQ(r["id"].get<std::string>().rfind("chatcmpl-", 0), 0u);
  const json& msg = r["choices"][0]["message"];
  EXPECT_EQ(msg["role"], "assistant");
  EXPECT_TRUE(msg["content"].is_string());
  // prompt_tokens is the rendered template's length.
  auto t = post_json(*client, "/tokenize", {{"model", "llada"}, {"messages", req["messages"]}});
  EXPECT_EQ(r["usage"]["prompt_tokens"], json::parse(t->body)["count"]);

  json sreq = req;
  sreq["stream"] = true;
  const auto events = stream("/v1/chat/completions", sreq);
  ASSERT_GE(events.size(), 3u);
  const json first = json::parse(events[0].data);
  EXPECT_EQ(first["object"], "chat.completion.chunk");
  EXPECT_EQ(first["choices"][0]["delta"]["role"], "assistant");
  std::string content;
  json last;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    const json ch = json::parse(events[i].data);
    content += ch["choices"][0]["delta"].value("content", "");
    last = ch;
  }
  EXPECT_EQ(content, msg["content"]);
  EXPECT_EQ(last["choices"][0]["finish_reason"], r["choices"][0]["finish_reason"]);
}

TEST_F(ServeGenerate, StopStrings) {
  json req = {{"model", "llada"},
              {"prompt", "abc"},
              {"max_tokens", 32},
              {"diffusion", {{"stop_at_eos", false}}}};
  const std::string full = ok("/v1/completions", req)["choices"][0]["text"];
  // A stop string from the middle of the text, starting on a character boundary.
  size_t k = full.size() / 2;
  while (k < full.size() && (static_cast<unsigned char>(full[k]) & 0xC0) == 0x80) ++k;
  size_t e = k + 1;
  while (e < full.size() && (static_cast<unsigned char>(full[e]) & 0xC0) == 0x80) ++e;
  ASSERT_LT(k, full.size()) << "the model produced too little text: '" << full << "'";
  const std::string stop = full.substr(k, e - k);
  const std::string expected = full.substr(0, full.find(stop));

  req["stop"] = {stop};
  const json r = ok("/v1/completions", req);
  EXPECT_EQ(r["choices"][0]["text"], expected);
  EXPECT_EQ(r["choices"][0]["finish_reason"], "stop");

  req["stream"] = true;
  const auto events = stream("/v1/completions", req);
  std::string text;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    text += json::parse(events[i].data)["choices"][0]["text"].get<std::string>();
  }
  EXPECT_EQ(text, expected);
}

TEST_F(ServeGenerate, EightSimultaneousStreams) {
  const json c = first_required_case("llada");
  std::vector<std::thread> threads;
  std::vector<json> results(8);
  std::vector<int> statuses(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      httplib::Client cl("127.0.0.1", server_->port());
      cl.set_read_timeout(120, 0);
      json req = {{"model", "llada"},
                  {"prompt_ids", c["prompt_ids"]},
                  {"diffusion", c["diffulex"]},
                  {"stream", i % 2 ? "denoise" : "append"}};
      const auto events = parse_sse(post_stream(cl, "/v1/generate", req, &statuses[i]));
      for (const auto& e : events) {
        if (e.event == "result") results[i] = json::parse(e.data);
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(statuses[i], 200);
    ASSERT_FALSE(results[i].is_null()) << "stream " << i << " has no result";
    EXPECT_EQ(results[i]["output_ids"], c["expected_ids"]) << "stream " << i;
  }
}

}  // namespace
}  // namespace dlx::test
