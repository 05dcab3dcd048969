// Integration tests of `diffulex serve`: health, metrics, the model registry, the tokenizer
// endpoints, the generation log, every error status and the API key.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "tests/support/serve_harness.h"

namespace dlx::test {
namespace {

namespace fs = std::filesystem;

class ServeApi : public ::testing::Test {
 protected:
  void start(std::vector<std::string> extra = {}, std::map<std::string, std::string> env = {}) {
    std::vector<std::string> args = {
        "--db", dir.file("serve.db"), "--model", model_dir("llada"), "--max-body-bytes", "4096"};
    args.insert(args.end(), extra.begin(), extra.end());
    server = std::make_unique<ServerProcess>(dir.path(), args, env);
    ASSERT_TRUE(server->wait_ready()) << server->stderr_text();
    client = std::make_unique<httplib::Client>("127.0.0.1", server->port());
    client->set_read_timeout(60, 0);
  }
  void TearDown() override {
    if (server) {
      EXPECT_EQ(server->terminate(), 0) << server->stderr_text();
    }
  }
  json generate_ok(const json& body) {
    auto r = post_json(*client, "/v1/generate", body);
    EXPECT_TRUE(r);
    if (!r) return nullptr;
    EXPECT_EQ(r->status, 200) << r->body;
    return json::parse(r->body);
  }
  void expect_error(const httplib::Result& r, int status, const std::string& code,
                    const std::string& param = "") {
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, status) << r->body;
    const json j = json::parse(r->body);
    EXPECT_TRUE(is_error_shape(j)) << r->body;
    EXPECT_EQ(j["error"]["code"], code) << r->body;
    if (!param.empty()) {
      EXPECT_EQ(j["error"]["param"], param) << r->body;
    }
  }

  TempDir dir;
  std::unique_ptr<ServerProcess> server;
  std::unique_ptr<httplib::Client> client;
};

const json kPrompt = {33, 123, 286, 185, 229, 329, 477, 465};

// Clients that send no model get the only loaded one; an unknown name's 404 lists the loaded
// ones; with two loaded the name is needed, and the 400 says which exist.
// --alias: the names clients insist on (an OpenAI model name baked into a tool, Ollama's
// NAME:latest) are answered by a registered model.
TEST_F(ServeApi, AliasesAnswerTheNamesClientsSend) {
  start({"--alias", "gpt-4o-mini=llada", "--alias", "anything"});
  const json gen = {{"prompt_ids", kPrompt}, {"diffusion", {{"gen_length", 8}}}};
  for (const char* name : {"gpt-4o-mini", "anything", "llada"}) {
    json g = gen;
    g["model"] = name;
    EXPECT_EQ(generate_ok(g)["model"], "llada") << name;
  }
  auto chat = post_json(*client, "/api/chat",
                        {{"model", "gpt-4o-mini:latest"},
                         {"stream", false},
                         {"messages", {{{"role", "user"}, {"content", "hi"}}}},
                         {"options", {{"num_predict", 4}}}});
  ASSERT_TRUE(chat);
  EXPECT_EQ(chat->status, 200) << chat->body;
  expect_error(post_json(*client, "/v1/generate", {{"model", "gpt-5"}, {"prompt_ids", kPrompt}}),
               404, "not_found", "model");
  EXPECT_EQ(server->terminate(), 0);
  server.reset();
  for (const char* bad : {"=llada", "x=", ""}) {
    const RunResult r =
        run(binary() + " serve --port 0 --db " + dir.file("bad.db") + " --alias '" + bad + "'");
    EXPECT_EQ(r.exit_code, 2) << bad << r.err;
    EXPECT_NE(r.err.find("--alias"), std::string::npos) << r.err;
  }
}

TEST_F(ServeApi, ModelMayBeLeftOutWhenOneIsLoaded) {
  start();
  const json gen = {{"prompt_ids", kPrompt}, {"diffusion", {{"gen_length", 8}}}};
  EXPECT_EQ(generate_ok(gen)["model"], "llada");
  auto t = post_json(*client, "/tokenize", {{"text", "hi"}});
  ASSERT_TRUE(t);
  EXPECT_EQ(t->status, 200) << t->body;
  EXPECT_EQ(body_json(t)["model"], "llada");
  auto unknown = post_json(*client, "/v1/generate", {{"model", "lada"}, {"prompt_ids", kPrompt}});
  expect_error(unknown, 404, "not_found", "model");
  EXPECT_NE(body_json(unknown)["error"]["message"].get<std::string>().find("loaded: llada"),
            std::string::npos)
      << unknown->body;
  EXPECT_EQ(server->terminate(), 0);
  server = std::make_unique<ServerProcess>(
      dir.path(), std::vector<std::string>{"--db", dir.file("two.db"), "--model",
                                           model_dir("llada"), "--model", model_dir("sdar")});
  ASSERT_TRUE(server->wait_ready()) << server->stderr_text();
  client = std::make_unique<httplib::Client>("127.0.0.1", server->port());
  auto two = post_json(*client, "/v1/generate", gen);
  expect_error(two, 400, "invalid_parameter", "model");
  EXPECT_NE(body_json(two)["error"]["message"].get<std::string>().find("llada, sdar"),
            std::string::npos)
      << two->body;
}

TEST_F(ServeApi, HealthAndMetrics) {
  start();
  auto h = client->Get("/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(json::parse(h->body), json({{"status", "ok"}}));
  auto v = client->Get("/version");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->status, 200);
  EXPECT_TRUE(body_json(v)["version"].is_string() && body_json(v)["revision"].is_string());

  generate_ok({{"model", "llada"}, {"prompt_ids", kPrompt}, {"diffusion", {{"gen_length", 8}}}});
  // A request is counted after its last byte is sent, and a worker leaves the active set just
  // after it hands over the outcome; either can land just after the client has read the reply,
  // so poll briefly until both are visible.
  const std::string counted = "dlx_http_requests_total{endpoint=\"/v1/generate\",code=\"200\"} 1";
  const std::string idle = "dlx_active_generations 0";
  auto settled = [&](const httplib::Result& r) {
    return r && r->body.find(counted) != std::string::npos &&
           r->body.find(idle) != std::string::npos;
  };
  auto m = client->Get("/metrics");
  for (int i = 0; i < 100 && !settled(m); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    m = client->Get("/metrics");
  }
  ASSERT_TRUE(m);
  EXPECT_EQ(m->status, 200);
  EXPECT_NE(m->get_header_value("Content-Type").find("text/plain"), std::string::npos);
  for (const char* needle :
       {"dlx_http_requests_total{endpoint=\"/v1/generate\",code=\"200\"} 1",
        "dlx_http_request_duration_seconds_bucket{endpoint=\"/v1/generate\",le=\"+Inf\"} 1",
        "dlx_queue_depth 0", "dlx_active_generations 0",
        "dlx_generated_tokens_total{model=\"llada\"} 8", "dlx_forward_calls_total{model=\"llada\"}",
        "dlx_step_duration_seconds_bucket{le=\"+Inf\"}", "dlx_model_load_seconds{model=\"llada\"}",
        "dlx_generations_total{model=\"llada\",status=\"ok\"} 1",
        "dlx_time_to_first_token_seconds_count{model=\"llada\"} 1"}) {
    EXPECT_NE(m->body.find(needle), std::string::npos) << needle << "\n" << m->body;
  }
}

TEST_F(ServeApi, ModelRegistry) {
  const fs::path models = dir.file("models");
  fs::create_directories(models / "tiny");
  for (const auto& f : fs::directory_iterator(model_dir("llada"))) {
    if (f.is_regular_file()) fs::copy_file(f.path(), models / "tiny" / f.path().filename());
  }
  // A link inside --models-dir that points outside it.
  fs::create_directory_symlink(model_dir("sdar"), models / "escape");
  start({"--models-dir", models.string()});

  auto list = client->Get("/v1/models");
  ASSERT_TRUE(list);
  ASSERT_EQ(list->status, 200);
  json l = json::parse(list->body);
  EXPECT_EQ(l["object"], "list");
  ASSERT_EQ(l["data"].size(), 1u);
  const json m = l["data"][0];
  EXPECT_EQ(m["id"], "llada");
  EXPECT_EQ(m["object"], "model");
  EXPECT_EQ(m["family"], "llada");
  EXPECT_EQ(m["dtype"], "f32");
  EXPECT_GT(m["parameters"].get<int64_t>(), 0);
  EXPECT_EQ(m["status"], "loaded");
  EXPECT_EQ(m["config_sha256"].get<std::string>().size(), 64u);
  // The context length clients may use, and no absolute server path (issue #23).
  EXPECT_GT(m["context_length"].get<int64_t>(), 0);
  EXPECT_EQ(m["path"], "llada");

  auto reg = post_json(*client, "/v1/models", {{"name", "tiny"}, {"path", "tiny"}});
  ASSERT_TRUE(reg);
  EXPECT_EQ(reg->status, 201) << reg->body;
  EXPECT_EQ(json::parse(reg->body)["status"], "unloaded");
  EXPECT_EQ(json::parse(reg->body)["path"], "tiny");  // relative to --models-dir
  expect_error(post_json(*client, "/v1/models", {{"name", "tiny"}, {"path", "tiny"}}), 409,
               "conflict", "name");

  // Path traversal in every form: relative, absolute, through a symlink.
  for (const std::string& p :
       std::vector<std::string>{"../", "../../", "tiny/../../models/../..", "/etc",
                                model_dir("dream"), "escape", "escape/../escape"}) {
    expect_error(post_json(*client, "/v1/models", {{"name", "x"}, {"path", p}}), 400,
                 "invalid_parameter", "path");
  }
  expect_error(post_json(*client, "/v1/models", {{"name", "../x"}, {"path", "tiny"}}), 400,
               "invalid_parameter", "name");
  expect_error(post_json(*client, "/v1/models", {{"name", "y"}, {"path", "missing"}}), 400,
               "invalid_parameter", "path");

  // Not loaded yet: 503. Load, generate, unload, delete.
  const json gen = {{"model", "tiny"}, {"prompt_ids", kPrompt}, {"diffusion", {{"gen_length", 8}}}};
  expect_error(post_json(*client, "/v1/generate", gen), 503, "model_not_loaded", "model");
  auto load = client->Post("/v1/models/tiny/load");
  ASSERT_TRUE(load);
  EXPECT_EQ(load->status, 200) << load->body;
  EXPECT_EQ(json::parse(load->body)["status"], "loaded");
  const json a = generate_ok(gen);
  const json b = generate_ok(
      {{"model", "llada"}, {"prompt_ids", kPrompt}, {"diffusion", {{"gen_length", 8}}}});
  EXPECT_EQ(a["output_ids"], b["output_ids"]);  // same weights
  auto unload = client->Post("/v1/models/tiny/unload");
  ASSERT_TRUE(unload);
  EXPECT_EQ(json::parse(unload->body)["status"], "unloaded");
  expect_error(post_json(*client, "/v1/generate", gen), 503, "model_not_loaded");
  auto del = client->Delete("/v1/models/tiny");
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 200);
  EXPECT_EQ(json::parse(del->body)["deleted"], true);
  expect_error(client->Get("/v1/models/tiny"), 404, "not_found");
  expect_error(client->Delete("/v1/models/tiny"), 404, "not_found");
  expect_error(client->Post("/v1/models/nope/load"), 404, "not_found");
}

// GGUF files (issue #18): registered from --models-dir and served from --model like folders; the
// registry shows their format and weight type; a file that is not GGUF is a clear 400.
TEST_F(ServeApi, GgufFilesRegisterLoadAndGenerate) {
  const fs::path models = dir.file("models");
  fs::create_directories(models);
  fs::copy_file(fixtures() + "/gguf/llada-f32.gguf", models / "llada-f32.gguf");
  fs::copy_file(model_dir("llada") + "/config.json", models / "fake.gguf");
  start({"--models-dir", models.string(), "--model", fixtures() + "/gguf/llada-q8_0.gguf"});

  auto q8 = client->Get("/v1/models/llada-q8_0");  // --model FILE: named after its stem
  ASSERT_TRUE(q8);
  ASSERT_EQ(q8->status, 200) << q8->body;
  EXPECT_EQ(json::parse(q8->body)["format"], "gguf");
  EXPECT_EQ(json::parse(q8->body)["dtype"], "q8_0");
  EXPECT_EQ(json::parse(q8->body)["status"], "loaded");

  auto reg = post_json(*client, "/v1/models", {{"name", "g"}, {"path", "llada-f32.gguf"}});
  ASSERT_TRUE(reg);
  ASSERT_EQ(reg->status, 201) << reg->body;
  EXPECT_EQ(json::parse(reg->body)["format"], "gguf");
  EXPECT_EQ(json::parse(reg->body)["dtype"], "f32");
  EXPECT_EQ(json::parse(reg->body)["path"], "llada-f32.gguf");
  expect_error(post_json(*client, "/v1/models", {{"name", "x"}, {"path", "fake.gguf"}}), 400,
               "invalid_parameter", "path");
  auto load = client->Post("/v1/models/g/load");
  ASSERT_TRUE(load);
  ASSERT_EQ(load->status, 200) << load->body;
  // The llama.cpp-made f32 file holds the folder's weights bit for bit: the same generation.
  const json a = generate_ok(
      {{"model", "g"}, {"prompt_ids", kPrompt}, {"diffusion", {{"gen_length", 8}}}});
  const json b = generate_ok(
      {{"model", "llada"}, {"prompt_ids", kPrompt}, {"diffusion", {{"gen_length", 8}}}});
  EXPECT_EQ(a["output_ids"], b["output_ids"]);
  auto chat = post_json(*client, "/v1/chat/completions",
                        {{"model", "g"},
                         {"messages", {{{"role", "user"}, {"content", "hi"}}}},
                         {"max_tokens", 4}});
  ASSERT_TRUE(chat);
  EXPECT_EQ(chat->status, 200) << chat->body;
}

// One model's entry carries the decoding-key table and that model's resolved defaults, which
// the playground builds its form from.
TEST_F(ServeApi, ModelEntryHasDecodingSchemaAndDefaults) {
  start();
  auto r = client->Get("/v1/models/llada");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json m = json::parse(r->body);
  const json& schema = m["diffusion_schema"];
  ASSERT_TRUE(schema.is_array());
  std::vector<std::string> names;
  for (const json& k : schema) {
    names.push_back(k["name"]);
    EXPECT_TRUE(k.contains("type") && k.contains("doc") && k.contains("default_from")) << k;
    EXPECT_TRUE(m["diffusion_defaults"].contains(k["name"].get<std::string>())) << k;
  }
  EXPECT_EQ(m["has_chat_template"], true);  // the playground opens such models in Chat mode
  EXPECT_EQ(names.front(), "gen_length");
  EXPECT_EQ(names.size(), m["diffusion_defaults"].size());
  const json cache = schema[std::find(names.begin(), names.end(), "cache") - names.begin()];
  EXPECT_EQ(cache["options"], json({"none", "prefix", "dual", "block"}));
  // LLaDA's official defaults (generate.py), as the engine resolves them.
  const json& d = m["diffusion_defaults"];
  EXPECT_EQ(d["block_length"], 32);
  EXPECT_EQ(d["schedule"], "uniform");
  EXPECT_EQ(d["commit"], "schedule");
  EXPECT_EQ(d["cache"], "none");
  EXPECT_EQ(d["steps"], nullptr);
  // A generation with no diffusion keys uses exactly these.
  auto g = post_json(*client, "/v1/generate", {{"model", "llada"}, {"prompt_ids", kPrompt}});
  ASSERT_TRUE(g);
  ASSERT_EQ(g->status, 200) << g->body;
  EXPECT_EQ(json::parse(g->body)["diffusion"], d);
}

TEST_F(ServeApi, RegistrationNeedsModelsDir) {
  start();
  expect_error(post_json(*client, "/v1/models", {{"name", "x"}, {"path", model_dir("llada")}}), 400,
               "invalid_parameter", "path");
}

TEST_F(ServeApi, TokenizeAndDetokenize) {
  start();
  auto t = post_json(*client, "/tokenize",
                     {{"model", "llada"}, {"text", "hello world"}, {"add_special_tokens", false}});
  ASSERT_TRUE(t);
  ASSERT_EQ(t->status, 200) << t->body;
  const json tj = json::parse(t->body);
  ASSERT_FALSE(tj["ids"].empty());
  EXPECT_EQ(tj["count"], tj["ids"].size());
  auto d = post_json(*client, "/detokenize", {{"model", "llada"}, {"ids", tj["ids"]}});
  ASSERT_TRUE(d);
  ASSERT_EQ(d->status, 200) << d->body;
  EXPECT_EQ(json::parse(d->body)["text"], "hello world");

  // Chat rendering matches the fixture's Jinja2 rendering of the model's template.
  const json chat = json::parse(read_file(model_dir("llada") + "/chat_cases.json"))["cases"][0];
  auto c = post_json(*client, "/tokenize",
                     {{"model", "llada"},
                      {"messages", chat["messages"]},
                      {"add_generation_prompt", chat["add_generation_prompt"]}});
  ASSERT_TRUE(c);
  ASSERT_EQ(c->status, 200) << c->body;
  EXPECT_EQ(json::parse(c->body)["text"], chat["text"]);

  expect_error(post_json(*client, "/detokenize", {{"model", "llada"}, {"ids", {1, 99999}}}), 400,
               "invalid_parameter", "ids[1]");
  expect_error(post_json(*client, "/tokenize", {{"model", "nope"}, {"text", "x"}}), 404,
               "not_found");
}

TEST_F(ServeApi, GenerationLog) {
  start();
  std::vector<std::string> ids;
  for (int n : {4, 8, 12}) {
    ids.push_back(generate_ok(
        {{"model", "llada"}, {"prompt_ids", kPrompt}, {"diffusion", {{"gen_length", n}}}})["id"]);
  }
  auto one = client->Get(("/v1/generations/" + ids[1]).c_str());
  ASSERT_TRUE(one);
  ASSERT_EQ(one->status, 200);
  const json g = json::parse(one->body);
  EXPECT_EQ(g["id"], ids[1]);
  EXPECT_EQ(g["model"], "llada");
  EXPECT_EQ(g["endpoint"], "/v1/generate");
  EXPECT_EQ(g["status"], "ok");
  EXPECT_EQ(g["prompt_ids"], kPrompt);
  EXPECT_EQ(g["prompt_tokens"], 8);
  EXPECT_EQ(g["output_ids"].size(), g["completion_tokens"].get<size_t>());
  EXPECT_EQ(g["params"]["diffusion"]["gen_length"], 8);
  EXPECT_TRUE(g["forward_calls"].is_number());
  EXPECT_TRUE(g["timings"]["run_ms"].is_number());
  EXPECT_TRUE(g["finished_at"].is_number());

  // Newest first, paged with limit and before.
  auto page1 = client->Get("/v1/generations?model=llada&limit=2");
  ASSERT_TRUE(page1);
  const json p1 = json::parse(page1->body);
  ASSERT_EQ(p1["data"].size(), 2u);
  EXPECT_EQ(p1["data"][0]["id"], ids[2]);
  EXPECT_EQ(p1["data"][1]["id"], ids[1]);
  EXPECT_EQ(p1["has_more"], true);
  auto page2 = client->Get(("/v1/generations?limit=2&before=" + ids[1]).c_str());
  const json p2 = json::parse(page2->body);
  ASSERT_EQ(p2["data"].size(), 1u);
  EXPECT_EQ(p2["data"][0]["id"], ids[0]);
  EXPECT_EQ(p2["has_more"], false);
  EXPECT_EQ(json::parse(client->Get("/v1/generations?status=ok")->body)["data"].size(), 3u);
  EXPECT_EQ(json::parse(client->Get("/v1/generations?status=error")->body)["data"].size(), 0u);
  EXPECT_EQ(json::parse(client->Get("/v1/generations?model=other")->body)["data"].size(), 0u);

  expect_error(client->Get("/v1/generations/gen-nope"), 404, "not_found");
  expect_error(client->Get("/v1/generations?status=bogus"), 400, "invalid_parameter", "status");
  expect_error(client->Get("/v1/generations?limit=0"), 400, "invalid_parameter", "limit");
  expect_error(client->Get("/v1/generations?limit=x"), 400, "invalid_parameter", "limit");
  expect_error(client->Get("/v1/generations?before=nope"), 400, "invalid_parameter", "before");
}

TEST_F(ServeApi, DeeplyNestedBodiesAreA400) {
  start({"--max-body-bytes", "1000000"});
  // Hostile nesting is a 400 on every body-parsing route, and the server keeps serving.
  const std::string deep14k = std::string(14000, '[') + std::string(14000, ']');
  expect_error(client->Post("/v1/chat/completions", deep14k, "application/json"), 400,
               "invalid_json");
  expect_error(client->Post("/tokenize", deep14k, "application/json"), 400, "invalid_json");
  const std::string deep150k = R"({"model":"llada","prompt":"a","diffusion":)" +
                               std::string(150000, '[') + std::string(150000, ']') + "}";
  expect_error(client->Post("/v1/generate", deep150k, "application/json"), 400, "invalid_json");
  expect_error(client->Post("/v1/completions", deep150k, "application/json"), 400, "invalid_json");
  EXPECT_EQ(client->Get("/health")->status, 200);
}

TEST_F(ServeApi, ErrorStatuses) {
  start();
  // 400: body not JSON, not an object, bad and unknown parameters, too long for the model.
  auto bad = client->Post("/v1/generate", "{not json", "application/json");
  expect_error(bad, 400, "invalid_json");
  EXPECT_TRUE(json::parse(bad->body)["error"]["param"].is_null());
  expect_error(client->Post("/v1/completions", "[1,2]", "application/json"), 400,
               "invalid_parameter");
  expect_error(post_json(*client, "/v1/generate", {{"model", "llada"}}), 400, "invalid_parameter",
               "prompt");
  expect_error(post_json(*client, "/v1/generate",
                         {{"model", "llada"}, {"prompt_ids", kPrompt}, {"temperture", 1}}),
               400, "invalid_parameter", "temperture");
  expect_error(post_json(*client, "/v1/generate",
                         {{"model", "llada"},
                          {"prompt_ids", kPrompt},
                          {"diffusion", {{"gen_length", 32}, {"block_length", 8}, {"steps", 7}}}}),
               400, "invalid_parameter", "steps");
  expect_error(
      post_json(
          *client, "/v1/generate",
          {{"model", "llada"}, {"prompt_ids", kPrompt}, {"diffusion", {{"confidence", "best"}}}}),
      400, "invalid_parameter", "confidence");
  expect_error(post_json(*client, "/v1/generate",
                         {{"model", "llada"},
                          {"prompt_ids", kPrompt},
                          {"diffusion", {{"gen_length", 4096}, {"block_length", 4096}}}}),
               400, "context_length_exceeded", "gen_length");
  expect_error(
      post_json(*client, "/v1/generate", {{"model", "llada"}, {"prompt_ids", {1, 2, 100000}}}), 400,
      "invalid_parameter", "prompt_ids");
  expect_error(post_json(*client, "/v1/generate",
                         {{"model", "llada"}, {"prompt_ids", kPrompt}, {"stream", "sideways"}}),
               400, "invalid_parameter", "stream");
  expect_error(post_json(*client, "/v1/completions",
                         {{"model", "llada"}, {"prompt", "hi"}, {"max_tokens", -1}}),
               400, "invalid_parameter", "max_tokens");
  expect_error(
      post_json(*client, "/v1/completions", {{"model", "llada"}, {"prompt", "hi"}, {"n", 2}}), 400,
      "invalid_parameter", "n");
  expect_error(post_json(*client, "/v1/chat/completions", {{"model", "llada"}, {"messages", {}}}),
               400, "invalid_parameter", "messages");
  // 404: unknown model and route.
  expect_error(post_json(*client, "/v1/generate", {{"model", "nope"}, {"prompt_ids", kPrompt}}),
               404, "not_found", "model");
  expect_error(client->Get("/v2/nothing"), 404, "unknown_route");
  // 405 with Allow.
  auto g = client->Get("/v1/completions");
  expect_error(g, 405, "method_not_allowed");
  EXPECT_EQ(g->get_header_value("Allow"), "POST");
  expect_error(client->Delete("/v1/models"), 405, "method_not_allowed");
  // 413 over --max-body-bytes (4096 here).
  const std::string big = json({{"model", "llada"}, {"prompt", std::string(8000, 'a')}}).dump();
  expect_error(client->Post("/v1/completions", big, "application/json"), 413, "request_too_large");
  // The server is still fine afterwards.
  EXPECT_EQ(client->Get("/health")->status, 200);
}

// A chunked body has no Content-Length for httplib to check: the server must still stop at
// --max-body-bytes and answer 413 instead of buffering 40 MiB.
TEST_F(ServeApi, ChunkedBodyOverLimitIs413WithoutBuffering) {
  start();
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(server->port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const std::string head =
      "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  ASSERT_EQ(::send(fd, head.data(), head.size(), MSG_NOSIGNAL), static_cast<ssize_t>(head.size()));
  const std::string payload(64 * 1024, 'a');
  char size_line[32];
  std::snprintf(size_line, sizeof size_line, "%zx\r\n", payload.size());
  const std::string chunk = size_line + payload + "\r\n";
  // Send up to 40 MiB, stopping as soon as the server answers (or stops reading).
  std::string response;
  size_t sent = 0;
  for (int i = 0; i < 640 && response.empty(); ++i) {
    pollfd p{fd, POLLIN | POLLOUT, 0};
    if (::poll(&p, 1, 10000) <= 0) break;
    if (p.revents & POLLIN) break;
    const ssize_t n = ::send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno != EAGAIN) break;
    if (n > 0) sent += static_cast<size_t>(n);
  }
  char buf[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10000) <= 0) break;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    response.append(buf, static_cast<size_t>(n));
    if (response.find("\r\n\r\n") != std::string::npos &&
        response.find("request_too_large") != std::string::npos)
      break;
  }
  ::close(fd);
  EXPECT_EQ(response.rfind("HTTP/1.1 413", 0), 0u) << response.substr(0, 200);
  EXPECT_NE(response.find("request_too_large"), std::string::npos);
  EXPECT_LT(sent, size_t{40} << 20) << "the server read the whole body";
  EXPECT_EQ(client->Get("/health")->status, 200);
}

TEST_F(ServeApi, ApiKey) {
  start({"--api-key", "key-one"}, {{"DIFFULEX_API_KEY", "key-two"}});
  EXPECT_EQ(client->Get("/health")->status, 200);  // open for load balancers
  auto none = client->Get("/v1/models");
  expect_error(none, 401, "invalid_api_key");
  EXPECT_EQ(none->get_header_value("WWW-Authenticate"), "Bearer");
  expect_error(client->Get("/metrics"), 401, "invalid_api_key");
  expect_error(client->Get("/v1/models", {{"Authorization", "Bearer key-three"}}), 401,
               "invalid_api_key");
  expect_error(client->Get("/v1/models", {{"Authorization", "key-one"}}), 401, "invalid_api_key");
  expect_error(post_json(*client, "/v1/generate", {{"model", "llada"}, {"prompt_ids", kPrompt}}),
               401, "invalid_api_key");
  EXPECT_EQ(client->Get("/v1/models", {{"Authorization", "Bearer key-one"}})->status, 200);
  EXPECT_EQ(client->Get("/metrics", {{"Authorization", "Bearer key-two"}})->status, 200);
}

}  // namespace
}  // namespace dlx::test
