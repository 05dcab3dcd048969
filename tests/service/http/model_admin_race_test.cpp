// Integration test of the model registry under concurrent administration (issue #16; found by
// the soak test): a model that DELETE /v1/models/{name} removed (200) must be gone from the
// database as well, whatever request ran beside the DELETE; a row left behind brings the model
// back (and loads it, when the row says 'loaded') at the next start.
//
// Each round races a DELETE against a load or a registration of the same name while four
// clients generate, so the log writer keeps the database busy (that widens the window between
// the registry's in-memory change and its database write).
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <filesystem>

#include "tests/support/serve_harness.h"

namespace dlx::test {
namespace {

namespace fs = std::filesystem;

constexpr int kRounds = 300;
constexpr auto kBudget = std::chrono::seconds(20);  // per test; fewer rounds on a slow machine

class ModelAdminRace : public ::testing::Test {
 protected:
  void SetUp() override {
    const fs::path copy = fs::path(dir.path()) / "models" / "llada-copy";
    fs::create_directories(copy);
    for (const auto& e : fs::directory_iterator(model_dir("llada"))) {
      if (e.is_regular_file()) fs::copy_file(e.path(), copy / e.path().filename());
    }
    server = start();
    for (int i = 0; i < 4; ++i) {
      background.emplace_back([this] {
        httplib::Client c("127.0.0.1", server->port());
        c.set_read_timeout(30, 0);
        const json body = {{"model", "llada"},
                           {"prompt_ids", {33, 123, 286}},
                           {"diffusion", {{"gen_length", 8}, {"block_length", 8}, {"steps", 8}}}};
        while (!stop) post_json(c, "/v1/generate", body);
      });
    }
  }
  void TearDown() override { stop_background(); }
  void stop_background() {
    stop = true;
    for (auto& t : background) t.join();
    background.clear();
  }

  std::unique_ptr<ServerProcess> start() {
    auto s = std::make_unique<ServerProcess>(
        dir.path(),
        std::vector<std::string>{"--db", dir.file("serve.db"), "--model",
                                 "llada=" + model_dir("llada"), "--models-dir", dir.file("models"),
                                 "--workers", "2", "--threads", "1", "--max-queue", "8"});
    EXPECT_TRUE(s->wait_ready()) << s->stderr_text();
    return s;
  }

  int send(const std::string& method, const std::string& path, const std::string& body = "") {
    httplib::Client c("127.0.0.1", server->port());
    c.set_read_timeout(30, 0);
    httplib::Request req;
    req.method = method;
    req.path = path;
    req.body = body;
    req.set_header("Content-Type", "application/json");
    auto r = c.send(req);
    return r ? r->status : -1;
  }

  // Rows of the models table named `name` (the server keeps running; WAL allows the reader).
  int db_rows(const std::string& name) {
    sqlite3* db = nullptr;
    int n = -1;
    if (sqlite3_open_v2(dir.file("serve.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr) ==
        SQLITE_OK) {
      sqlite3_busy_timeout(db, 5000);
      sqlite3_stmt* st = nullptr;
      if (sqlite3_prepare_v2(db, "SELECT count(*) FROM models WHERE name = ?", -1, &st, nullptr) ==
          SQLITE_OK) {
        sqlite3_bind_text(st, 1, name.c_str(), -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int(st, 0);
      }
      sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return n;
  }

  // Runs rounds of `race(name, round)`; returns the names the API no longer has but the
  // database still holds.
  std::vector<std::string> run_rounds(const std::string& prefix,
                                      const std::function<void(const std::string&, int)>& race) {
    std::vector<std::string> left;
    const auto until = Clock::now() + kBudget;
    for (int i = 0; i < kRounds && Clock::now() < until; ++i) {
      const std::string name = prefix + std::to_string(i);
      race(name, i);
      if (send("GET", "/v1/models/" + name) == 404 && db_rows(name) != 0) left.push_back(name);
    }
    return left;
  }

  // After a restart on the same database, the models the server lists.
  std::vector<std::string> models_after_restart() {
    stop_background();
    EXPECT_EQ(server->terminate(), 0);
    server = start();
    httplib::Client c("127.0.0.1", server->port());
    std::vector<std::string> names;
    auto r = c.Get("/v1/models");
    if (!r) {
      ADD_FAILURE() << "GET /v1/models: " << httplib::to_string(r.error());
      return names;
    }
    const json list = json::parse(r->body);
    for (const auto& m : list["data"]) names.push_back(m["id"]);
    return names;
  }

  TempDir dir;
  std::unique_ptr<ServerProcess> server;
  std::atomic<bool> stop{false};
  std::vector<std::thread> background;
};

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

// POST /v1/models/{name}/load beside DELETE /v1/models/{name}: the loader's database write
// (after it loaded the weights) must not bring back the row the DELETE removed.
TEST_F(ModelAdminRace, DeleteBesideLoadLeavesNoRow) {
  const auto left = run_rounds("l", [this](const std::string& name, int i) {
    ASSERT_EQ(send("POST", "/v1/models", json{{"name", name}, {"path", "llada-copy"}}.dump()), 201);
    std::thread load([&] { send("POST", "/v1/models/" + name + "/load"); });
    std::this_thread::sleep_for(std::chrono::microseconds(200 * (i % 40)));
    EXPECT_EQ(send("DELETE", "/v1/models/" + name), 200);
    load.join();
  });
  EXPECT_TRUE(left.empty()) << left.size()
                            << " model(s) deleted over HTTP (DELETE 200) still have a row in the "
                               "models table: "
                            << join(left);
  EXPECT_EQ(models_after_restart(), std::vector<std::string>{"llada"})
      << "deleted models came back after a restart";
}

// POST /v1/models beside DELETE /v1/models/{name} (retried until it finds the name): the
// registration's database write must not land after the DELETE's.
TEST_F(ModelAdminRace, DeleteBesideRegisterLeavesNoRow) {
  const auto left = run_rounds("r", [this](const std::string& name, int) {
    std::atomic<bool> failed{false};
    std::thread del([&] {
      while (!failed && send("DELETE", "/v1/models/" + name) != 200) {
      }
    });
    const int status =
        send("POST", "/v1/models", json{{"name", name}, {"path", "llada-copy"}}.dump());
    failed = status != 201;
    del.join();
    EXPECT_EQ(status, 201);
  });
  EXPECT_TRUE(left.empty()) << left.size()
                            << " model(s) deleted over HTTP (DELETE 200) still have a row in the "
                               "models table: "
                            << join(left);
  EXPECT_EQ(models_after_restart(), std::vector<std::string>{"llada"})
      << "deleted models came back after a restart";
}

}  // namespace
}  // namespace dlx::test
