// The Ollama-compatible routes (issue #23), spoken as Ollama's clients speak them: JSON bodies
// (ollama-python / ollama-js), `curl -d` bodies (Ollama's docs), NDJSON streams read line by
// line, NAME:latest model names, `options`, and {"error": "..."} errors.
#include <gtest/gtest.h>

#include <sstream>

#include "tests/support/serve_harness.h"

namespace dlx::test {
namespace {

class OllamaApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    server_ = new ServerProcess(dir_->path(), {"--db", dir_->file("serve.db"), "--model",
                                               model_dir("llada"), "--no-default-model"});
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
  // A streamed answer, one JSON object per line as Ollama's clients read it.
  std::vector<json> ndjson(const std::string& path, const json& body) {
    int status = 0;
    const std::string raw = post_stream(*client, path, body, &status);
    EXPECT_EQ(status, 200) << raw;
    std::vector<json> lines;
    std::istringstream in(raw);
    for (std::string line; std::getline(in, line);) {
      if (line.empty()) continue;
      lines.push_back(json::parse(line));
    }
    EXPECT_FALSE(raw.empty() || raw.back() != '\n') << "every object ends its line";
    return lines;
  }
  // {"error": "..."}: the status and the message.
  std::pair<int, std::string> error_of(const std::string& path, const json& body) {
    auto r = post_json(*client, path, body);
    if (!r) return {-1, ""};
    const json j = json::parse(r->body);
    EXPECT_TRUE(j.size() == 1 && j["error"].is_string()) << r->body;
    return {r->status, j.value("error", "")};
  }

  static inline TempDir* dir_ = nullptr;
  static inline ServerProcess* server_ = nullptr;
  static inline bool ready_ = false;
  std::unique_ptr<httplib::Client> client;
};

const json kChat = {{"model", "llada:latest"},
                    {"messages", {{{"role", "user"}, {"content", "What is 2+2?"}}}},
                    {"options", {{"temperature", 0}, {"num_predict", 16}}}};

TEST_F(OllamaApi, VersionTagsPsAndShow) {
  auto v = client->Get("/api/version");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->status, 200);
  const RunResult cli = run(binary() + " --version");
  EXPECT_NE(cli.out.find(json::parse(v->body)["version"].get<std::string>()), std::string::npos)
      << v->body << " vs " << cli.out;

  auto t = client->Get("/api/tags");
  ASSERT_TRUE(t);
  const json tags = json::parse(t->body);
  ASSERT_EQ(tags["models"].size(), 1u) << t->body;
  const json& m = tags["models"][0];
  EXPECT_EQ(m["name"], "llada:latest");
  EXPECT_EQ(m["model"], "llada:latest");
  EXPECT_EQ(m["details"]["family"], "llada");
  EXPECT_EQ(m["details"]["format"], "safetensors");
  EXPECT_GT(m["size"].get<int64_t>(), 0);
  EXPECT_EQ(m["digest"].get<std::string>().size(), 64u);
  EXPECT_EQ(m["modified_at"].get<std::string>().back(), 'Z');

  auto ps = client->Get("/api/ps");
  ASSERT_TRUE(ps);
  EXPECT_EQ(json::parse(ps->body)["models"][0]["name"], "llada:latest");

  // Both the tagged and the bare name, under "model" or the older "name".
  for (const json& body : {json{{"model", "llada:latest"}}, json{{"name", "llada"}}}) {
    const json show = ok("/api/show", body);
    EXPECT_EQ(show["model_info"]["general.architecture"], "llada");
    EXPECT_GT(show["model_info"]["llada.context_length"].get<int64_t>(), 0);
    EXPECT_GT(show["model_info"]["general.parameter_count"].get<int64_t>(), 0);
    EXPECT_FALSE(show["template"].get<std::string>().empty()) << "the fixture has a template";
    EXPECT_NE(show["parameters"].get<std::string>().find("gen_length "), std::string::npos);
  }
  EXPECT_EQ(error_of("/api/show", {{"model", "nope"}}).first, 404);
}

TEST_F(OllamaApi, ChatStreamsLinesThatAddUpToTheAnswer) {
  json once = kChat;
  once["stream"] = false;
  const json r = ok("/api/chat", once);
  EXPECT_EQ(r["model"], "llada:latest");
  EXPECT_EQ(r["message"]["role"], "assistant");
  EXPECT_TRUE(r["done"].get<bool>());
  EXPECT_TRUE(r["done_reason"] == "stop" || r["done_reason"] == "length") << r;
  EXPECT_LE(r["eval_count"].get<int>(), 16);
  EXPECT_GT(r["prompt_eval_count"].get<int>(), 0);
  EXPECT_GT(r["total_duration"].get<int64_t>(), 0);

  // Streaming is the default.
  const auto lines = ndjson("/api/chat", kChat);
  ASSERT_GE(lines.size(), 1u);
  std::string content;
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    EXPECT_FALSE(lines[i]["done"].get<bool>()) << lines[i];
    content += lines[i]["message"]["content"].get<std::string>();
  }
  const json& last = lines.back();
  EXPECT_TRUE(last["done"].get<bool>()) << last;
  EXPECT_EQ(last["done_reason"], r["done_reason"]);
  EXPECT_EQ(last["eval_count"], r["eval_count"]);
  EXPECT_EQ(content, r["message"]["content"]);

  // The generation log names the route.
  auto log = client->Get("/v1/generations?limit=1");
  ASSERT_TRUE(log);
  EXPECT_EQ(json::parse(log->body)["data"][0]["endpoint"], "/api/chat") << log->body;
}

TEST_F(OllamaApi, GenerateAppliesTheTemplateUnlessRawAndMapsOptions) {
  json req = {{"model", "llada"},
              {"prompt", "What is 2+2?"},
              {"stream", false},
              {"options", {{"temperature", 0}, {"num_predict", 12}, {"seed", 3}}}};
  const json templated = ok("/api/generate", req);
  EXPECT_TRUE(templated["response"].is_string());
  EXPECT_LE(templated["eval_count"].get<int>(), 12);
  // The same prompt as one user turn of /api/chat: same prompt length.
  json chat = kChat;
  chat["stream"] = false;
  EXPECT_EQ(templated["prompt_eval_count"], ok("/api/chat", chat)["prompt_eval_count"]);
  req["raw"] = true;
  const json raw = ok("/api/generate", req);
  EXPECT_LT(raw["prompt_eval_count"].get<int>(), templated["prompt_eval_count"].get<int>());

  // Decoding keys go in options too; the log shows them resolved.
  req["options"]["steps"] = 4;
  req["options"]["top_k"] = 5;
  ok("/api/generate", req);
  auto log = client->Get("/v1/generations?limit=1");
  ASSERT_TRUE(log);
  const json params = json::parse(log->body)["data"][0]["params"]["diffusion"];
  EXPECT_EQ(params["steps"], 4) << params;
  EXPECT_EQ(params["top_k"], 5) << params;
  EXPECT_EQ(params["seed"], 3) << params;

  // A body with only the model loads it (clients preload this way).
  const json load = ok("/api/generate", {{"model", "llada"}});
  EXPECT_EQ(load["done_reason"], "load");
  EXPECT_TRUE(load["done"].get<bool>());
}

TEST_F(OllamaApi, CurlDashDBodiesWorkAsInOllamasDocs) {
  const std::string cmd = "curl -sS http://127.0.0.1:" + std::to_string(server_->port()) +
                          "/api/generate -d '{\"model\":\"llada\",\"prompt\":\"Hi\","
                          "\"stream\":false,\"options\":{\"num_predict\":4}}'";
  const RunResult r = run(cmd);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_TRUE(j["done"].get<bool>()) << r.out;
}

TEST_F(OllamaApi, WhatCannotBeHonouredIsA400NamingIt) {
  const std::string chat = "/api/chat";
  auto with = [](json b, const std::string& k, const json& v) {
    b[k] = v;
    return b;
  };
  json opts = kChat;
  opts["options"]["mirostat"] = 2;
  auto e = error_of(chat, opts);
  EXPECT_EQ(e.first, 400);
  EXPECT_NE(e.second.find("options.mirostat"), std::string::npos) << e.second;
  opts = kChat;
  opts["options"]["no_such_option"] = 1;
  EXPECT_NE(error_of(chat, opts).second.find("options.no_such_option"), std::string::npos);
  // "json" without a schema: a diffusion model needs the keys first (README: Structured output).
  EXPECT_NE(error_of(chat, with(kChat, "format", "json")).second.find("schema"), std::string::npos);
  EXPECT_NE(error_of(chat, with(kChat, "tools", {{{"type", "function"}}})).second.find("tools"),
            std::string::npos);
  EXPECT_NE(error_of(chat, with(kChat, "surprise", 1)).second.find("surprise"), std::string::npos);
  EXPECT_NE(error_of("/api/generate", {{"model", "llada"}, {"prompt", "x"}, {"suffix", "y"}})
                .second.find("suffix"),
            std::string::npos);
  // Accepted: runtime options with no effect on the answer, neutral sampling values.
  json fine = kChat;
  fine["stream"] = false;
  fine["keep_alive"] = "5m";
  fine["options"]["num_ctx"] = 2048;
  fine["options"]["repeat_penalty"] = 1.0;
  fine["options"]["seed"] = -1;
  ok(chat, fine);
  // Unknown models: 404 naming the loaded ones.
  e = error_of(chat, with(kChat, "model", "nope:latest"));
  EXPECT_EQ(e.first, 404);
  EXPECT_NE(e.second.find("llada"), std::string::npos) << e.second;
}

}  // namespace
}  // namespace dlx::test
