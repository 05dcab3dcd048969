// Structured output over HTTP: OpenAI response_format (chat and completions), the native
// `schema` on /v1/generate (plain and both stream modes), Ollama's `format`, on the demo model
// and every fixture family; unsupported or malformed schemas are a 400 naming the part.
#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/serve_harness.h"

namespace dlx::test {
namespace {

using ojson = nlohmann::ordered_json;

const char* kFamilies[] = {"llada", "dream", "sdar", "fast_dllm_v2"};

const char* kPerson =
    R"({"type":"object","properties":{"zeta":{"type":"string","maxLength":6},"alpha":{"type":"integer","minimum":0,"maximum":120},"ok":{"type":"boolean"},"tags":{"type":"array","items":{"enum":["a","b"]},"minItems":2,"maxItems":2}}})";

// Checks `text` is the kPerson document: keys in declaration order, values of the right types.
void expect_person(const std::string& text) {
  ojson v;
  ASSERT_NO_THROW(v = ojson::parse(text)) << text;
  ASSERT_TRUE(v.is_object()) << text;
  std::vector<std::string> keys;
  for (auto it = v.begin(); it != v.end(); ++it) keys.push_back(it.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"zeta", "alpha", "ok", "tags"})) << text;
  EXPECT_TRUE(v["zeta"].is_string() && v["zeta"].get<std::string>().size() <= 6 * 4) << text;
  EXPECT_TRUE(v["alpha"].is_number_integer() && v["alpha"].get<int>() >= 0 &&
              v["alpha"].get<int>() <= 120)
      << text;
  EXPECT_TRUE(v["ok"].is_boolean()) << text;
  ASSERT_TRUE(v["tags"].is_array() && v["tags"].size() == 2) << text;
  for (const auto& t : v["tags"]) EXPECT_TRUE(t == "a" || t == "b") << text;
}

class ServeStructured : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    std::vector<std::string> args = {"--db", dir_->file("serve.db"), "--model",
                                     std::string(DLX_SOURCE_DIR) + "/models/dlx-demo-llada"};
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
  // Posts `body` as written (key order kept).
  httplib::Result post(const std::string& path, const std::string& body) {
    return client->Post(path.c_str(), body, "application/json");
  }
  json ok(const std::string& path, const std::string& body) {
    auto r = post(path, body);
    EXPECT_TRUE(r);
    if (!r) return nullptr;
    EXPECT_EQ(r->status, 200) << r->body;
    return json::parse(r->body);
  }
  json refused(const std::string& path, const std::string& body) {
    auto r = post(path, body);
    EXPECT_TRUE(r);
    if (!r) return nullptr;
    EXPECT_EQ(r->status, 400) << r->body;
    return json::parse(r->body);
  }

  static TempDir* dir_;
  static ServerProcess* server_;
  static bool ready_;
  std::unique_ptr<httplib::Client> client;
};
TempDir* ServeStructured::dir_ = nullptr;
ServerProcess* ServeStructured::server_ = nullptr;
bool ServeStructured::ready_ = false;

std::string response_format(const std::string& schema) {
  return R"("response_format":{"type":"json_schema","json_schema":{"name":"person","strict":true,"schema":)" +
         schema + "}}";
}

TEST_F(ServeStructured, ChatResponseFormatOnTheDemoModelGreedyAndSampled) {
  for (const char* sampling :
       {R"("temperature":0)", R"("temperature":1.0,"seed":7)", R"("temperature":1.5,"seed":3)"}) {
    const json r =
        ok("/v1/chat/completions",
           R"({"model":"dlx-demo-llada","messages":[{"role":"user","content":"sort: 5391"}],)" +
               std::string(sampling) + "," + response_format(kPerson) + "}");
    expect_person(r["choices"][0]["message"]["content"].get<std::string>());
    EXPECT_EQ(r["choices"][0]["finish_reason"], "stop");
  }
}

TEST_F(ServeStructured, CompletionsResponseFormatOnEveryFamily) {
  for (const char* fam : kFamilies) {
    SCOPED_TRACE(fam);
    const json r = ok("/v1/completions", R"({"model":")" + std::string(fam) +
                                             R"(","prompt":"Person:","temperature":0.7,"seed":2,)" +
                                             response_format(kPerson) + "}");
    expect_person(r["choices"][0]["text"].get<std::string>());
  }
}

TEST_F(ServeStructured, GenerateSchemaPlainAndStreamed) {
  const std::string body =
      R"({"model":"dlx-demo-llada","prompt":"copy: 7044","schema":)" + std::string(kPerson);
  const json plain = ok("/v1/generate", body + "}");
  const std::string text = plain["text"].get<std::string>();
  expect_person(text);
  // append: the deltas concatenate to the same document.
  int status = 0;
  std::string raw;
  {
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/generate";
    req.set_header("Content-Type", "application/json");
    req.body = body + R"(,"stream":"append"})";
    auto res = client->send(req);
    ASSERT_TRUE(res);
    status = res->status;
    raw = res->body;
  }
  ASSERT_EQ(status, 200) << raw;
  std::string joined;
  json result;
  for (const SseEvent& e : parse_sse(raw)) {
    if (e.event == "delta") joined += json::parse(e.data)["text"].get<std::string>();
    if (e.event == "result") result = json::parse(e.data);
  }
  EXPECT_EQ(joined, text);
  EXPECT_EQ(result["text"], text);
  // denoise: step events, then the same result.
  auto res = post("/v1/generate", body + R"(,"stream":"denoise"})");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  int steps = 0;
  for (const SseEvent& e : parse_sse(res->body)) {
    steps += e.event == "step";
    if (e.event == "result") {
      EXPECT_EQ(json::parse(e.data)["text"], text);
    }
  }
  EXPECT_GT(steps, 0);
}

// The same request through the CLI (generate --schema --chat) and HTTP (chat completions)
// gives the same document: one engine path, the model's default decoding on both.
TEST_F(ServeStructured, CliAndHttpGiveTheSameDocument) {
  const std::string schema_file = dir_->file("person.json");
  { std::ofstream(schema_file) << kPerson; }
  const RunResult cli = run(binary() + " generate --model " + std::string(DLX_SOURCE_DIR) +
                            "/models/dlx-demo-llada --prompt 'sort: 5391' --chat --schema " +
                            schema_file + " --json");
  ASSERT_EQ(cli.exit_code, 0) << cli.err;
  const json c = json::parse(cli.out);
  const json r =
      ok("/v1/chat/completions",
         R"({"model":"dlx-demo-llada","messages":[{"role":"user","content":"sort: 5391"}],)" +
             response_format(kPerson) + "}");
  EXPECT_EQ(r["choices"][0]["message"]["content"], c["text"]);
  expect_person(c["text"].get<std::string>());
}

TEST_F(ServeStructured, OllamaFormatSchema) {
  const json r = ok(
      "/api/chat",
      R"({"model":"dlx-demo-llada","stream":false,"messages":[{"role":"user","content":"sort: 5391"}],"format":)" +
          std::string(kPerson) + "}");
  expect_person(r["message"]["content"].get<std::string>());
  auto bad = post("/api/generate", R"({"model":"dlx-demo-llada","prompt":"x","format":"json"})");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400) << bad->body;
  EXPECT_NE(bad->body.find("schema"), std::string::npos);
}

TEST_F(ServeStructured, UnsupportedSchemasAreRefusedNamingThePart) {
  json e = refused(
      "/v1/chat/completions",
      R"({"messages":[{"role":"user","content":"x"}],"model":"dlx-demo-llada",)" +
          response_format(
              R"({"type":"object","properties":{"tags":{"type":"array","items":{"type":"string"}}}})") +
          "}");
  EXPECT_EQ(e["error"]["param"], "response_format.json_schema.schema");
  EXPECT_NE(e["error"]["message"].get<std::string>().find("/properties/tags: variable-length"),
            std::string::npos)
      << e;
  e = refused("/v1/generate",
              R"({"model":"dlx-demo-llada","prompt":"x","schema":{"anyOf":[{"type":"string"}]}})");
  EXPECT_EQ(e["error"]["param"], "schema");
  EXPECT_NE(e["error"]["message"].get<std::string>().find("anyOf"), std::string::npos);
  e = refused(
      "/v1/chat/completions",
      R"({"model":"dlx-demo-llada","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_object"}})");
  EXPECT_EQ(e["error"]["param"], "response_format");
  e = refused(
      "/v1/completions",
      R"({"model":"dlx-demo-llada","prompt":"x","response_format":{"type":"json_schema","json_schema":{"name":"n"}}})");
  EXPECT_EQ(e["error"]["param"], "response_format.json_schema.schema");
  e = refused("/v1/completions", R"({"model":"dlx-demo-llada","prompt":"x","stop":["}"],)" +
                                     response_format(kPerson) + "}");
  EXPECT_EQ(e["error"]["param"], "stop");
  e = refused("/v1/completions", R"({"model":"dlx-demo-llada","prompt":"x","max_tokens":3,)" +
                                     response_format(kPerson) + "}");
  EXPECT_EQ(e["error"]["param"], "max_tokens");
  e = refused("/v1/generate", R"({"model":"dlx-demo-llada","prompt":"x","schema":{"const":1}})");
  EXPECT_EQ(e["error"]["param"], "schema");
}

}  // namespace
}  // namespace dlx::test
