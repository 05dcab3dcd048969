// Unit tests of the service's SQLite store: migrations under user_version, refusal of a newer
// schema, generation rows (insert, finish, paging, interrupted) and the bounded log writer.
#include <gtest/gtest.h>

#include <filesystem>

#include "engine/util/error.h"
#include "service/db/db.h"
#include "service/db/generation_log.h"
#include "service/db/migrations.h"

namespace dlx::db {
namespace {

class DbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "dlx_db_test_XXXXXX").string();
    ASSERT_TRUE(::mkdtemp(tmpl.data()));
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name = "t.db") const { return dir_ + "/" + name; }

  static GenerationStart start(const std::string& id, const std::string& model = "m") {
    GenerationStart g;
    g.id = id;
    g.model = model;
    g.endpoint = "/v1/generate";
    g.params = "{}";
    g.prompt_ids = "[1,2]";
    g.prompt_tokens = 2;
    g.created_at = 1000;
    return g;
  }

  std::string dir_;
};

TEST(Migrations, EmbeddedAreNumberedInOrder) {
  const auto m = ordered_migrations(embedded_migrations());
  ASSERT_FALSE(m.empty());
  for (size_t i = 0; i < m.size(); ++i) EXPECT_EQ(m[i].version, static_cast<int>(i) + 1);
  EXPECT_EQ(m[0].name, "0001_init.sql");
  EXPECT_NE(m[0].sql.find("CREATE TABLE generations"), std::string_view::npos);
}

TEST(Migrations, RejectsGapsAndBadNames) {
  EXPECT_THROW(ordered_migrations({{"0002_x.sql", "SELECT 1"}}), Error);
  EXPECT_THROW(ordered_migrations({{"0001_a.sql", ""}, {"0001_b.sql", ""}}), Error);
  EXPECT_THROW(ordered_migrations({{"init.sql", ""}}), Error);
  EXPECT_THROW(ordered_migrations({{"0001_a.txt", ""}}), Error);
  EXPECT_EQ(ordered_migrations({{"0001_a.sql", ""}, {"0002_b.sql", ""}}).size(), 2u);
}

TEST_F(DbTest, MigratesToLatestVersionInWalMode) {
  const int latest = static_cast<int>(ordered_migrations(embedded_migrations()).size());
  {
    Db db(path());
    EXPECT_EQ(db.schema_version(), latest);
    EXPECT_EQ(db.integrity_check(), "ok");
  }
  Db again(path());  // reopening applies nothing twice
  EXPECT_EQ(again.schema_version(), latest);
  Connection c(path());
  Statement s(c, "PRAGMA journal_mode");
  ASSERT_TRUE(s.step());
  EXPECT_EQ(s.text(0), "wal");
}

TEST_F(DbTest, RefusesNewerSchema) {
  {
    Connection c(path());
    c.exec("PRAGMA user_version = 77");
  }
  try {
    Db db(path());
    FAIL() << "a newer database was opened";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("schema version 77"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("newer diffulex"), std::string::npos) << e.what();
  }
}

TEST_F(DbTest, GenerationRowsAndPaging) {
  Db db(path());
  for (const char* id : {"a", "b", "c"}) db.insert_generation(start(id, id[0] == 'b' ? "x" : "m"));
  GenerationFinish f;
  f.id = "a";
  f.status = GenerationStatus::kOk;
  f.output_ids = "[5]";
  f.output_text = "hi";
  f.completion_tokens = 1;
  f.forward_calls = 3;
  f.finish_reason = FinishReason::kLength;
  f.finished_at = 2000;
  db.finish_generation(f);

  auto a = db.generation("a");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->finish.status, GenerationStatus::kOk);
  EXPECT_EQ(*a->finish.output_text, "hi");
  EXPECT_EQ(*a->finish.forward_calls, 3);
  EXPECT_EQ(a->start.prompt_tokens, 2);
  EXPECT_FALSE(db.generation("zzz"));

  bool more = false;
  GenerationQuery q;
  q.limit = 2;
  auto page = db.generations(q, &more);
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(page[0].start.id, "c");
  EXPECT_EQ(page[1].start.id, "b");
  EXPECT_TRUE(more);
  q.before_seq = page[1].seq;
  page = db.generations(q, &more);
  ASSERT_EQ(page.size(), 1u);
  EXPECT_EQ(page[0].start.id, "a");
  EXPECT_FALSE(more);
  GenerationQuery by_model;
  by_model.model = "x";
  EXPECT_EQ(db.generations(by_model, &more).size(), 1u);
  GenerationQuery running;
  running.status = GenerationStatus::kRunning;
  EXPECT_EQ(db.generations(running, &more).size(), 2u);

  EXPECT_EQ(db.mark_interrupted(3000), 2);
  EXPECT_EQ(db.generation("b")->finish.status, GenerationStatus::kInterrupted);
  EXPECT_EQ(db.generation("b")->finish.finished_at, 3000);
  EXPECT_EQ(db.generation("a")->finish.status,
            GenerationStatus::kOk);  // finished rows are left alone
  EXPECT_EQ(db.mark_interrupted(4000), 0);
}

TEST_F(DbTest, ModelRows) {
  Db db(path());
  ModelRow r;
  r.name = "tiny";
  r.path = "/m/tiny";
  r.family = "llada";
  r.dtype = "f32";
  r.parameters = 10;
  r.file_bytes = 40;
  r.config_sha256 = std::string(64, 'a');
  r.created_at = 5;
  r.status = ModelStatus::kLoaded;
  db.upsert_model(r);
  r.created_at = 99;  // an update keeps the first registration time
  r.status = ModelStatus::kUnloaded;
  db.upsert_model(r);
  auto rows = db.models();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].created_at, 5);
  EXPECT_EQ(rows[0].status, ModelStatus::kUnloaded);
  db.set_model_status("tiny", ModelStatus::kError, std::string("broken"));
  EXPECT_EQ(*db.models()[0].error, "broken");
  EXPECT_TRUE(db.delete_model("tiny"));
  EXPECT_FALSE(db.delete_model("tiny"));
}

TEST_F(DbTest, LogWriterWritesInOrderAndDropsWhenFull) {
  Db db(path());
  {
    GenerationLog log(db);
    EXPECT_TRUE(log.started(start("g1")));
    GenerationFinish f;
    f.id = "g1";
    f.status = GenerationStatus::kCancelled;
    f.error = "the client disconnected";
    f.finished_at = 7;
    EXPECT_TRUE(log.finished(f));
    log.flush();
    EXPECT_EQ(db.generation("g1")->finish.status, GenerationStatus::kCancelled);
  }
  GenerationLog none(db, /*capacity=*/0);
  EXPECT_FALSE(none.started(start("g2")));
  EXPECT_EQ(none.dropped(), 1u);
  none.stop();
  EXPECT_FALSE(none.started(start("g3")));  // stopped: refused, never blocks
  EXPECT_FALSE(db.generation("g2"));
}

}  // namespace
}  // namespace dlx::db
