// Infill and templates over HTTP and the CLI (README: Infill): POST /v1/infill, OpenAI `suffix`
// on /v1/completions and `template` on /v1/generate on every fixture family, streamed in both
// native modes and OpenAI chunks, give the same text and holes as the non-streamed answer and
// as `diffulex infill` / `diffulex generate --template`; block-causal limits and malformed
// templates are 400s naming the part; the generation log keeps the template.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include "tests/support/serve_harness.h"

namespace dlx::test {
namespace {

const char* kFamilies[] = {"llada", "dream", "sdar", "fast_dllm_v2"};

// One block over the whole canvas for block-causal families: every hole sees its suffix.
json diffusion_for(const std::string& family) {
  if (family == "sdar" || family == "fast_dllm_v2") return {{"block_length", 32}};
  return {{"block_length", 8}};
}

const json kTemplate = json::array({{{"text", "once upon a time"}},
                                    {{"hole", 3}},
                                    {{"text", " the end of"}},
                                    {{"hole", {{"min", 1}, {"max", 4}}}},
                                    {{"text", " story"}}});

class ServeInfill : public ::testing::Test {
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
  // A 400 naming `param`.
  void bad(const std::string& path, const json& body, const std::string& param) {
    auto r = post_json(*client, path, body);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << body.dump() << " -> " << r->body;
    const json j = json::parse(r->body);
    EXPECT_TRUE(is_error_shape(j)) << r->body;
    EXPECT_EQ(j["error"]["param"], param) << r->body;
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
  // The native stream's text deltas joined, and its result event.
  std::pair<std::string, json> native_stream(const std::string& path, json body,
                                             const std::string& mode) {
    body["stream"] = mode;
    std::string text;
    json result;
    for (const auto& e : stream(path, body)) {
      if (e.event == "delta") text += json::parse(e.data)["text"].get<std::string>();
      if (e.event == "result") result = json::parse(e.data);
    }
    return {text, result};
  }
  // The denoise stream of a template: the start event's canvas holds the fixed tokens, which
  // no step commits and the result keeps; the result's holes are the non-streamed ones.
  void body_denoise_checks(const std::string& fam, json body, const json& r) {
    body["stream"] = "denoise";
    json canvas, result;
    std::vector<int> steps_at;
    for (const auto& e : stream("/v1/generate", body)) {
      if (e.event == "start") canvas = json::parse(e.data)["canvas"];
      if (e.event == "result") result = json::parse(e.data);
      if (e.event == "step") {
        const json step = json::parse(e.data);
        for (int pos : step["positions"]) steps_at.push_back(pos);
      }
    }
    ASSERT_TRUE(canvas.is_object()) << fam;
    const auto ids = canvas["ids"].get<std::vector<int32_t>>();
    const int32_t mask = canvas["mask_id"];
    ASSERT_LE(ids.size(), r["output_ids"].size()) << fam;
    ASSERT_EQ(canvas["holes"].size(), 2u);
    int fixed = 0;
    for (size_t q = 0; q < ids.size(); ++q) {
      if (ids[q] == mask) continue;
      ++fixed;
      EXPECT_EQ(r["output_ids"][q], ids[q]) << fam << " position " << q;
      EXPECT_EQ(std::count(steps_at.begin(), steps_at.end(), static_cast<int>(q)), 0) << fam;
    }
    EXPECT_GT(fixed, 0) << fam;
    EXPECT_FALSE(steps_at.empty()) << fam;
    EXPECT_EQ(result["holes"], r["holes"]) << fam;
    EXPECT_EQ(result["text"], r["text"]) << fam;
  }
  std::string cli(const std::string& args) {
    const RunResult r = run(binary() + " " + args);
    EXPECT_EQ(r.exit_code, 0) << args << "\n" << r.err;
    return r.out;
  }

  static TempDir* dir_;
  static ServerProcess* server_;
  static bool ready_;
  std::unique_ptr<httplib::Client> client;
};
TempDir* ServeInfill::dir_ = nullptr;
ServerProcess* ServeInfill::server_ = nullptr;
bool ServeInfill::ready_ = false;

std::string diffusion_flags(const json& d) {
  std::string out;
  for (auto it = d.begin(); it != d.end(); ++it) {
    std::string flag = it.key();
    std::replace(flag.begin(), flag.end(), '_', '-');
    out += " --" + flag + " " + it.value().dump();
  }
  return out;
}

TEST_F(ServeInfill, InfillIsTheSameOverHttpStreamsAndCli) {
  for (const char* fam : kFamilies) {
    const json body = {{"model", fam},
                       {"prefix", "the quick brown"},
                       {"suffix", " over the lazy dog"},
                       {"max_tokens", 4},
                       {"diffusion", diffusion_for(fam)}};
    const json r = ok("/v1/infill", body);
    ASSERT_TRUE(r.contains("holes")) << r;
    ASSERT_EQ(r["holes"].size(), 1u);
    EXPECT_EQ(r["holes"][0]["ids"].size(), 4u) << fam;   // exact hole: 4 tokens, no end token
    EXPECT_EQ(r["text"], r["holes"][0]["text"]) << fam;  // the answer is the middle
    EXPECT_EQ(r["usage"]["completion_tokens"], 4);
    EXPECT_EQ(r["object"], "generation");

    const auto [appended, append_result] = native_stream("/v1/infill", body, "append");
    EXPECT_EQ(appended, r["text"]) << fam;
    EXPECT_EQ(append_result["text"], r["text"]) << fam;
    EXPECT_EQ(append_result["output_ids"], r["output_ids"]) << fam;
    const auto [unused, denoise_result] = native_stream("/v1/infill", body, "denoise");
    EXPECT_EQ(denoise_result["holes"], r["holes"]) << fam;

    const json c = json::parse(cli("infill --model " + model_dir(fam) +
                                   " --prefix 'the quick brown' --suffix ' over the lazy dog'"
                                   " --length 4 --json" +
                                   diffusion_flags(diffusion_for(fam))));
    EXPECT_EQ(c["text"], r["text"]) << fam;
    EXPECT_EQ(c["holes"], r["holes"]) << fam;
    EXPECT_EQ(c["output_ids"], r["output_ids"]) << fam;
    const std::string plain = cli("infill --model " + model_dir(fam) +
                                  " --prefix 'the quick brown' --suffix ' over the lazy dog'"
                                  " --length 4" +
                                  diffusion_flags(diffusion_for(fam)));
    EXPECT_EQ(plain, r["text"].get<std::string>() + "\n") << fam;
  }
}

TEST_F(ServeInfill, TemplateIsTheSameOverHttpStreamsAndCli) {
  const std::string json_file = dir_->file("template.json");
  std::ofstream(json_file) << kTemplate.dump();
  const std::string text_file = dir_->file("template.txt");
  std::ofstream(text_file) << "once upon a time[___] the end of[_:1-4] story";
  for (const char* fam : kFamilies) {
    const json body = {{"model", fam}, {"template", kTemplate}, {"diffusion", diffusion_for(fam)}};
    const json r = ok("/v1/generate", body);
    ASSERT_EQ(r["holes"].size(), 2u) << r;
    EXPECT_EQ(r["holes"][0]["ids"].size(), 3u) << fam;
    const size_t second = r["holes"][1]["ids"].size();
    EXPECT_GE(second, 1u);
    EXPECT_LE(second, 4u);
    const std::string text = r["text"];
    // The text after the prompt: hole, fixed text, hole, fixed text, fixed parts unchanged.
    EXPECT_EQ(text, r["holes"][0]["text"].get<std::string>() + " the end of" +
                        r["holes"][1]["text"].get<std::string>() + " story")
        << fam;
    EXPECT_EQ(r["usage"]["completion_tokens"], 3 + second);

    const auto [appended, append_result] = native_stream("/v1/generate", body, "append");
    EXPECT_EQ(appended, text) << fam;
    EXPECT_EQ(append_result["holes"], r["holes"]) << fam;

    // Denoise: the start event shows the canvas; no step touches a fixed position.
    body_denoise_checks(fam, body, r);

    for (const std::string& file : {json_file, text_file}) {
      const json c = json::parse(cli("generate --model " + model_dir(fam) + " --template " + file +
                                     " --json" + diffusion_flags(diffusion_for(fam))));
      EXPECT_EQ(c["text"], text) << fam << " " << file;
      EXPECT_EQ(c["holes"], r["holes"]) << fam << " " << file;
    }
  }
}

TEST_F(ServeInfill, CompletionsSuffixIsAnInsertion) {
  const json body = {{"model", "llada"},
                     {"prompt", "the quick brown"},
                     {"suffix", " over the lazy dog"},
                     {"max_tokens", 5},
                     {"diffusion", {{"block_length", 8}}}};
  const json r = ok("/v1/completions", body);
  const std::string text = r["choices"][0]["text"];
  EXPECT_EQ(r["object"], "text_completion");
  EXPECT_LE(r["usage"]["completion_tokens"].get<int>(), 5);
  // Streamed as OpenAI chunks: the same text.
  json sb = body;
  sb["stream"] = true;
  std::string streamed;
  for (const auto& e : stream("/v1/completions", sb)) {
    if (e.data == "[DONE]") continue;
    const json j = json::parse(e.data);
    streamed += j["choices"][0]["text"].get<std::string>();
  }
  EXPECT_EQ(streamed, text);
  // The same insertion through /v1/infill (a hole of 1 to max_tokens tokens).
  const json i = ok("/v1/infill", {{"model", "llada"},
                                   {"prefix", "the quick brown"},
                                   {"suffix", " over the lazy dog"},
                                   {"max_tokens", 5},
                                   {"min_tokens", 1},
                                   {"diffusion", {{"block_length", 8}}}});
  EXPECT_EQ(i["text"], text);
}

TEST_F(ServeInfill, BlockCausalLimitsAreA400NamingThePart) {
  for (const char* fam : {"sdar", "fast_dllm_v2"}) {
    // Blocks of 4: a hole that does not end on a block boundary, then 12 words of text.
    const json tok = ok("/tokenize", {{"model", fam}, {"text", "start"}});
    const int p = tok["count"];
    const int n = (p + 2) % 4 == 0 ? 3 : 2;
    const json body = {
        {"model", fam},
        {"template",
         json::array({{{"text", "start"}},
                      {{"hole", n}},
                      {{"text", " one two three four five six seven eight nine ten"}}})},
        {"diffusion", {{"block_length", 4}, {"sub_block_length", 4}}}};
    auto r = post_json(*client, "/v1/generate", body);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << r->body;
    const json j = json::parse(r->body);
    EXPECT_EQ(j["error"]["param"], "template[1]") << r->body;
    EXPECT_NE(j["error"]["message"].get<std::string>().find("block_length 4"), std::string::npos);
    // The same hole ending on the boundary: the text starts the next block (left to right).
    json fits = body;
    fits["template"][1]["hole"] = 4 - p % 4 + 4;
    ok("/v1/generate", fits);
  }
}

TEST_F(ServeInfill, BadTemplatesNameThePart) {
  bad("/v1/generate",
      {{"model", "llada"}, {"template", json::array({{{"text", "a"}}, {{"hole", 0}}})}},
      "template[1].hole");
  bad("/v1/generate",
      {{"model", "llada"},
       {"template", json::array({{{"text", "a"}}, {{"hole", {{"min", 5}, {"max", 2}}}}})}},
      "template[1].hole.min");
  bad("/v1/generate",
      {{"model", "llada"},
       {"template", json::array({{{"text", "a"}}, {{"text", "b"}, {"hole", 2}}})}},
      "template[1]");
  bad("/v1/generate", {{"model", "llada"}, {"template", json::array({{{"text", "a"}}})}},
      "template");
  bad("/v1/generate", {{"model", "llada"}, {"template", "a [___]"}}, "template");
  bad("/v1/generate",
      {{"model", "llada"}, {"prompt", "x"}, {"template", json::array({{{"hole", 2}}})}}, "prompt");
  bad("/v1/generate",
      {{"model", "llada"},
       {"template", json::array({{{"text", "a"}}, {{"hole", 2}}})},
       {"diffusion", {{"gen_length", 8}}}},
      "diffusion.gen_length");
  bad("/v1/infill", {{"model", "llada"}, {"prefix", "a"}, {"max_tokens", 4}}, "suffix");
  bad("/v1/infill", {{"model", "llada"}, {"prefix", "a"}, {"suffix", "b"}}, "max_tokens");
  bad("/v1/infill",
      {{"model", "llada"}, {"prefix", "a"}, {"suffix", "b"}, {"max_tokens", 4}, {"min_tokens", 9}},
      "min_tokens");
  bad("/v1/infill",
      {{"model", "llada"}, {"prefix", "a"}, {"suffix", "b"}, {"max_tokens", 4}, {"bogus", 1}},
      "bogus");
  bad("/v1/completions",
      {{"model", "llada"}, {"prompt", "a"}, {"suffix", "b"}, {"stop", "x"}, {"max_tokens", 4}},
      "stop");
  // Over the model's positions: the prompt-length limit applies to templates too.
  bad("/v1/infill", {{"model", "llada"}, {"prefix", "a"}, {"suffix", "b"}, {"max_tokens", 60000}},
      "gen_length");
}

TEST_F(ServeInfill, TheGenerationLogKeepsTheTemplate) {
  const json r =
      ok("/v1/generate",
         {{"model", "llada"}, {"template", kTemplate}, {"diffusion", {{"block_length", 8}}}});
  const std::string id = r["id"];
  json g;
  ASSERT_TRUE(poll_until([&] {
    auto res = client->Get(("/v1/generations/" + id).c_str());
    if (!res || res->status != 200) return false;
    g = json::parse(res->body);
    return g["status"] == "ok";
  }));
  EXPECT_EQ(g["endpoint"], "/v1/generate");
  EXPECT_EQ(g["params"]["template"], kTemplate);
  EXPECT_EQ(g["output_ids"], r["output_ids"]);
  EXPECT_EQ(g["output_text"], r["text"]);
  EXPECT_EQ(g["prompt"], "once upon a time");
  const json i = ok("/v1/infill", {{"model", "llada"},
                                   {"prefix", "a b"},
                                   {"suffix", " c"},
                                   {"max_tokens", 3},
                                   {"diffusion", {{"block_length", 8}}}});
  ASSERT_TRUE(poll_until([&] {
    auto res = client->Get(("/v1/generations/" + i["id"].get<std::string>()).c_str());
    if (!res || res->status != 200) return false;
    g = json::parse(res->body);
    return g["status"] == "ok";
  }));
  EXPECT_EQ(g["endpoint"], "/v1/infill");
  // A named part's hole carries its name.
  const json named =
      ok("/v1/generate",
         {{"model", "llada"},
          {"template", json::array({{{"text", "x ="}}, {{"hole", 2}, {"name", "v"}}})}});
  EXPECT_EQ(named["holes"][0]["name"], "v");
  EXPECT_EQ(g["params"]["suffix"], " c");
  EXPECT_EQ(g["params"]["max_tokens"], 3);
}

}  // namespace
}  // namespace dlx::test
