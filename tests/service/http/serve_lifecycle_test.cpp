// Integration tests of `diffulex serve` under pressure and failure: a full queue (429), clients
// that disconnect (the job is cancelled), the request time limit, SIGTERM (graceful, exit 0),
// kill -9 and restart on the same database, and a database newer than the binary.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "tests/support/sanitizer.h"
#include "tests/support/serve_harness.h"

namespace dlx::test {
namespace {

std::string sse_id(const std::string& raw) {
  for (const auto& e : parse_sse(raw)) {
    if (e.event == "start") return json::parse(e.data)["id"];
  }
  return "";
}

class ServeLifecycle : public ::testing::Test {
 protected:
  std::unique_ptr<ServerProcess> start(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--db", dir.file("serve.db"), "--model", model_dir("llada")};
    args.insert(args.end(), extra.begin(), extra.end());
    auto s = std::make_unique<ServerProcess>(dir.path(), args);
    EXPECT_TRUE(s->wait_ready()) << s->stderr_text();
    return s;
  }
  TempDir dir;
};

TEST_F(ServeLifecycle, QueueFullGives429) {
  auto s = start({"--max-queue", "1", "--workers", "1"});
  httplib::Client c("127.0.0.1", s->port());
  // A runs (its steps arrive), B waits in the queue, C finds the queue full.
  RawClient a(s->port()), b(s->port());
  a.post("/v1/generate", long_generation("denoise").dump());
  ASSERT_TRUE(a.read_until("event: step"));
  b.post("/v1/generate", long_generation("denoise").dump());
  ASSERT_TRUE(poll_until([&] {
    auto m = c.Get("/metrics");
    return m && m->body.find("\ndlx_queue_depth 1\n") != std::string::npos;
  }));
  auto r = post_json(c, "/v1/generate", long_generation(""));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429) << r->body;
  EXPECT_TRUE(is_error_shape(json::parse(r->body)));
  EXPECT_EQ(json::parse(r->body)["error"]["code"], "queue_full");
  ASSERT_TRUE(r->has_header("Retry-After"));
  EXPECT_GE(std::stoi(r->get_header_value("Retry-After")), 1);
  EXPECT_NE(c.Get("/metrics")->body.find("dlx_queue_rejections_total 1"), std::string::npos);
  // Both streams go away: both jobs end cancelled, and the server is idle again.
  ASSERT_TRUE(b.read_until("event: start"));
  const std::string id_a = sse_id(a.received), id_b = sse_id(b.received);
  a.close();
  b.close();
  EXPECT_TRUE(wait_status(c, id_a, "cancelled"));
  EXPECT_TRUE(wait_status(c, id_b, "cancelled"));
  EXPECT_EQ(s->terminate(), 0);
}

TEST_F(ServeLifecycle, StreamDisconnectCancels) {
  auto s = start();
  httplib::Client c("127.0.0.1", s->port());
  RawClient a(s->port());
  a.post("/v1/generate", long_generation("denoise").dump());
  ASSERT_TRUE(a.read_until("event: step"));
  const std::string id = sse_id(a.received);
  ASSERT_FALSE(id.empty());
  a.close();
  json row;
  ASSERT_TRUE(wait_status(c, id, "cancelled", &row)) << row.dump();
  EXPECT_LT(row["forward_calls"].get<int>(), kLongForwards);  // stopped early, not run to the end
  EXPECT_EQ(row["error"], "the client disconnected");
  EXPECT_EQ(s->terminate(), 0);
}

TEST_F(ServeLifecycle, NonStreamingDisconnectCancels) {
  auto s = start();
  httplib::Client c("127.0.0.1", s->port());
  RawClient a(s->port());
  a.post("/v1/generate", long_generation("").dump());
  std::string id;
  ASSERT_TRUE(poll_until([&] {
    auto r = c.Get("/v1/generations?status=running");
    if (!r) return false;  // (the server died: the poll fails instead of the process)
    const json l = json::parse(r->body);
    if (l["data"].empty()) return false;
    id = l["data"][0]["id"];
    return true;
  }));
  a.close();
  json row;
  ASSERT_TRUE(wait_status(c, id, "cancelled", &row)) << row.dump();
  EXPECT_LT(row["forward_calls"].get<int>(), kLongForwards);
  EXPECT_EQ(s->terminate(), 0);
}

TEST_F(ServeLifecycle, RequestTimeLimit) {
  auto s = start({"--request-timeout", "0.3"});
  httplib::Client c("127.0.0.1", s->port());
  c.set_read_timeout(60, 0);
  auto r = post_json(c, "/v1/generate", long_generation(""));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 504) << r->body;
  const json j = json::parse(r->body);
  EXPECT_TRUE(is_error_shape(j));
  EXPECT_EQ(j["error"]["code"], "request_timeout");
  auto last = c.Get("/v1/generations?limit=1");
  ASSERT_TRUE(last);
  const json l = json::parse(last->body);
  EXPECT_EQ(l["data"][0]["status"], "cancelled");
  EXPECT_EQ(s->terminate(), 0);
}

TEST_F(ServeLifecycle, SigtermCancelsAfterGraceAndExitsZero) {
  auto s = start({"--shutdown-grace", "0.5"});
  httplib::Client c("127.0.0.1", s->port());
  RawClient a(s->port());
  a.post("/v1/generate", long_generation("denoise").dump());
  ASSERT_TRUE(a.read_until("event: step"));
  const std::string id = sse_id(a.received);
  s->signal(SIGTERM);
  // The client is told why its stream ended, then hangs up as HTTP clients do.
  EXPECT_TRUE(a.read_until("[DONE]"));
  EXPECT_NE(a.received.find("shutting_down"), std::string::npos) << a.received;
  a.close();
  EXPECT_EQ(s->wait_exit(std::chrono::seconds(30)), 0) << s->stderr_text();
  // Restart on the same database: the outcome was recorded (cancelled, not interrupted).
  auto s2 = start();
  httplib::Client c2("127.0.0.1", s2->port());
  json row;
  EXPECT_TRUE(wait_status(c2, id, "cancelled", &row)) << row.dump();
  EXPECT_EQ(s2->terminate(), 0);
}

// An idle server exits at once on SIGTERM, even with a kept-alive connection between requests
// and a connected socket that never sent anything (a browser's tabs): they used to hold the
// exit for the keep-alive timeout (issue #23).
TEST_F(ServeLifecycle, IdleSigtermExitsPromptlyWithOpenConnections) {
  auto s = start({"--read-timeout", "10"});
  RawClient silent(s->port()), kept(s->port());
  kept.get("/health");
  ASSERT_TRUE(kept.read_until("\"ok\"")) << kept.received;
  const auto t0 = std::chrono::steady_clock::now();
  s->signal(SIGTERM);
  EXPECT_EQ(s->wait_exit(std::chrono::seconds(30)), 0) << s->stderr_text();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::duration<double>(2 * kTimeScale))
      << "an idle connection held the exit";
}

TEST_F(ServeLifecycle, SigtermLetsRunningWorkFinishAndRefusesNewWork) {
  auto s = start({"--shutdown-grace", "120"});
  httplib::Client c("127.0.0.1", s->port());
  json body = long_generation("");
  body["diffusion"] = {{"gen_length", kLongForwards / 2},
                       {"block_length", kLongForwards / 2},
                       {"steps", kLongForwards / 2},
                       {"stop_at_eos", false}};
  RawClient a(s->port());
  a.post("/v1/generate", body.dump());
  std::string id;
  ASSERT_TRUE(poll_until([&] {
    auto r = c.Get("/v1/generations?status=running");
    if (!r) return false;  // (the server died: the poll fails instead of the process)
    const json l = json::parse(r->body);
    if (l["data"].empty()) return false;
    id = l["data"][0]["id"];
    return true;
  }));
  s->signal(SIGTERM);
  ASSERT_TRUE(poll_until([&] {
    auto h = c.Get("/health");
    return h && h->status == 503 && json::parse(h->body)["status"] == "shutting_down";
  }));
  auto refused = post_json(c, "/v1/generate", body);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503);
  EXPECT_EQ(json::parse(refused->body)["error"]["code"], "shutting_down");
  // The running generation completes and is answered normally.
  EXPECT_TRUE(a.read_until("\"output_ids\""));
  EXPECT_EQ(a.received.rfind("HTTP/1.1 200", 0), 0u) << a.received;
  a.close();
  EXPECT_EQ(s->wait_exit(std::chrono::seconds(60)), 0) << s->stderr_text();
  auto s2 = start();
  httplib::Client c2("127.0.0.1", s2->port());
  EXPECT_TRUE(wait_status(c2, id, "ok"));
  EXPECT_EQ(s2->terminate(), 0);
}

TEST_F(ServeLifecycle, Kill9ThenRestartMarksInterrupted) {
  auto s = start();
  httplib::Client c("127.0.0.1", s->port());
  c.set_read_timeout(60, 0);
  auto first = post_json(c, "/v1/generate",
                         {{"model", "llada"},
                          {"prompt_ids", {33, 123, 286, 185}},
                          {"diffusion", {{"gen_length", 8}}}});
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 200);
  const json done = json::parse(first->body);
  RawClient a(s->port());
  a.post("/v1/generate", long_generation("denoise").dump());
  ASSERT_TRUE(a.read_until("event: step"));
  const std::string id = sse_id(a.received);
  ASSERT_TRUE(wait_status(c, id, "running"));  // the row is in the database
  s->kill9();
  a.close();

  auto s2 = start();
  httplib::Client c2("127.0.0.1", s2->port());
  json row;
  EXPECT_TRUE(wait_status(c2, id, "interrupted", &row)) << row.dump();
  EXPECT_TRUE(row["finished_at"].is_number());
  json before;
  ASSERT_TRUE(wait_status(c2, done["id"], "ok", &before));
  EXPECT_EQ(before["output_ids"], done["output_ids"]);
  EXPECT_EQ(s2->terminate(), 0);

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(dir.file("serve.db").c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "ok");
  sqlite3_finalize(st);
  sqlite3_close(db);
}

TEST_F(ServeLifecycle, RefusesNewerDatabase) {
  const std::string path = dir.file("newer.db");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 999", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  const RunResult r = run(binary() + " serve --port 0 --db " + path);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("schema version 999"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("newer"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace dlx::test
