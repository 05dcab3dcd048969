// Integration tests of `diffulex serve` when its storage fails or its models crashed it: a disk
// that refuses writes (simulated with the server's file-size limit) degrades /health, fails
// admin calls without changing anything, and loses no generation row once writes work again;
// a model whose loading was interrupted twice in a row is not loaded again at start.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/resource.h>

#include "tests/support/serve_harness.h"

namespace dlx::test {
namespace {

// Sets the server's file-size limit (the soft one; the hard one stays, so it can be raised).
void set_file_size_limit(pid_t pid, rlim_t bytes) {
  rlimit l{};
  ASSERT_EQ(::prlimit(pid, RLIMIT_FSIZE, nullptr, &l), 0);
  l.rlim_cur = bytes;
  ASSERT_EQ(::prlimit(pid, RLIMIT_FSIZE, &l, nullptr), 0);
}

json small_generation() {
  return {{"model", "llada"},
          {"prompt_ids", {33, 123, 286}},
          {"diffusion", {{"gen_length", 8}, {"block_length", 8}, {"steps", 8}}}};
}

TEST(ServeStorage, ADiskThatRefusesWritesDegradesHealthLosesNoRowAndChangesNothing) {
  TempDir dir;
  std::filesystem::create_directory(dir.file("models"));
  std::filesystem::copy(model_dir("llada"), dir.file("models/copy"),
                        std::filesystem::copy_options::recursive);
  ServerProcess s(dir.path(), {"--db", dir.file("serve.db"), "--model",
                               "llada=" + model_dir("llada"), "--models-dir", dir.file("models")});
  ASSERT_TRUE(s.wait_ready()) << s.stderr_text();
  httplib::Client c("127.0.0.1", s.port());
  c.set_read_timeout(30, 0);
  ASSERT_EQ(post_json(c, "/v1/generate", small_generation())->status, 200);
  ASSERT_EQ(post_json(c, "/v1/models", {{"name", "copy"}, {"path", "copy"}})->status, 201);

  set_file_size_limit(s.pid(), 1024);  // every write that grows a file now fails
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    auto r = post_json(c, "/v1/generate", small_generation());
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;  // generations still run
    ids.push_back(body_json(r)["id"]);
  }
  ASSERT_TRUE(poll_until([&] { return c.Get("/health")->status == 503; })) << s.stderr_text();
  const json health = body_json(c.Get("/health"));
  EXPECT_EQ(health["status"], "degraded");
  EXPECT_EQ(health["reason"], "database_unavailable");
  EXPECT_NE(c.Get("/metrics")->body.find("dlx_database_writable 0"), std::string::npos);

  // Admin calls fail with 503 and leave everything as it was.
  auto reg = post_json(c, "/v1/models", {{"name", "again"}, {"path", "copy"}});
  ASSERT_TRUE(reg);
  EXPECT_EQ(reg->status, 503) << reg->body;
  EXPECT_EQ(body_json(reg)["error"]["code"], "database_unavailable");
  EXPECT_EQ(c.Get("/v1/models/again")->status, 404);
  auto load = c.Post("/v1/models/copy/load", "", "application/json");
  ASSERT_TRUE(load);
  EXPECT_EQ(load->status, 503) << load->body;  // the disk's fault, not the model's
  EXPECT_EQ(body_json(load)["error"]["code"], "database_unavailable");
  EXPECT_EQ(body_json(c.Get("/v1/models/copy"))["status"], "unloaded");
  auto unload = c.Post("/v1/models/llada/unload", "", "application/json");
  ASSERT_TRUE(unload);
  EXPECT_EQ(unload->status, 503) << unload->body;
  EXPECT_EQ(body_json(c.Get("/v1/models/llada"))["status"], "loaded");

  // The disk takes writes again: the waiting rows are written, health recovers.
  set_file_size_limit(s.pid(), RLIM_INFINITY);
  ASSERT_TRUE(poll_until([&] { return c.Get("/health")->status == 200; })) << s.stderr_text();
  for (const auto& id : ids) {
    json row;
    EXPECT_TRUE(wait_status(c, id, "ok", &row)) << id << " " << row.dump();
  }
  EXPECT_NE(c.Get("/metrics")->body.find("dlx_log_dropped_total 0"), std::string::npos);
  EXPECT_EQ(post_json(c, "/v1/models", {{"name", "again"}, {"path", "copy"}})->status, 201);
  EXPECT_EQ(c.Post("/v1/models/copy/load", "", "application/json")->status, 200);
  EXPECT_EQ(s.terminate(), 0);
}

// Simulates processes that died while loading `name`: the row says 'loading' at the next start,
// after `earlier` interruptions already counted.
void died_while_loading(const std::string& db_path, const std::string& name, int earlier) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  const std::string sql =
      "UPDATE models SET status = 'loading', interrupted_loads = " + std::to_string(earlier) +
      " WHERE name = '" + name + "'";
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
}

TEST(ServeStorage, AModelThatKeepsCrashingTheLoaderIsNotLoadedAgainAtStart) {
  TempDir dir;
  const std::vector<std::string> args = {"--db", dir.file("serve.db"), "--model",
                                         "llada=" + model_dir("llada")};
  auto model_after_start = [&](bool load_again = false) {
    ServerProcess s(dir.path(), args);
    EXPECT_TRUE(s.wait_ready()) << s.stderr_text();  // ready: a set-aside model is no wait
    httplib::Client c("127.0.0.1", s.port());
    json m = body_json(c.Get("/v1/models/llada"));
    m["stderr"] = s.stderr_text();
    if (load_again) {
      auto r = c.Post("/v1/models/llada/load", "", "application/json");
      EXPECT_TRUE(r && r->status == 200) << (r ? r->body : "no answer");
      m["after_load"] = body_json(c.Get("/v1/models/llada"))["status"];
    }
    EXPECT_EQ(s.terminate(), 0);
    return m;
  };
  EXPECT_EQ(model_after_start()["status"], "loaded");
  died_while_loading(dir.file("serve.db"), "llada", 0);  // once: it is loaded again
  EXPECT_EQ(model_after_start()["status"], "loaded");
  died_while_loading(dir.file("serve.db"), "llada", 1);  // twice in a row: set aside
  const json m = model_after_start(/*load_again=*/true);
  EXPECT_EQ(m["status"], "error");
  EXPECT_NE(m["error"].get<std::string>().find("interrupted 2 times in a row"), std::string::npos)
      << m.dump();
  EXPECT_NE(m["stderr"].get<std::string>().find("not loading model 'llada'"), std::string::npos);
  EXPECT_EQ(m["after_load"], "loaded");                // an explicit load still works
  EXPECT_EQ(model_after_start()["status"], "loaded");  // and the count is reset
}

}  // namespace
}  // namespace dlx::test
