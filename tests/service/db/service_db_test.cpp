// Unit tests of the service's SQLite store: migrations under user_version, refusal of a newer
// schema, generation rows (insert, finish, paging, interrupted) and the bounded log writer.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>

#include <chrono>
#include <filesystem>
#include <thread>

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
  r.context_length = 4096;
  db.upsert_model(r);
  auto rows = db.models();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].created_at, 5);
  EXPECT_EQ(rows[0].context_length, 4096);
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

TEST_F(DbTest, LogReadersWaitForTheWriterToCatchUp) {
  Db db(path());
  GenerationLog log(db);
  EXPECT_TRUE(log.started(start("g1")));
  EXPECT_TRUE(log.flush_for(std::chrono::seconds(5)));
  EXPECT_TRUE(db.generation("g1"));
}

ModelRow model_row(const std::string& name, ModelStatus status) {
  ModelRow r;
  r.name = name;
  r.path = "/models/" + name;
  r.family = "llada";
  r.dtype = "f32";
  r.config_sha256 = "00";
  r.status = status;
  return r;
}

ModelRow stored(Db& db, const std::string& name) {
  for (auto& r : db.models()) {
    if (r.name == name) return r;
  }
  ADD_FAILURE() << "no row " << name;
  return {};
}

// A model whose load never finished (the process died) counts; at 2 in a row it is set aside
// with the reason, and any finished load resets the count.
TEST_F(DbTest, InterruptedLoadsAreCountedAndSetAsideAtTheLimit) {
  Db db(path());
  db.upsert_model(model_row("crashy", ModelStatus::kLoading));
  db.upsert_model(model_row("fine", ModelStatus::kLoaded));
  EXPECT_TRUE(db.count_interrupted_loads(2).empty());  // first interruption: load again
  EXPECT_EQ(stored(db, "crashy").interrupted_loads, 1);
  EXPECT_EQ(stored(db, "crashy").status, ModelStatus::kLoading);
  db.upsert_model(model_row("crashy", ModelStatus::kLoading));  // keeps the count
  EXPECT_EQ(db.count_interrupted_loads(2), std::vector<std::string>{"crashy"});
  const ModelRow r = stored(db, "crashy");
  EXPECT_EQ(r.status, ModelStatus::kError);
  EXPECT_NE(r.error->find("interrupted 2 times"), std::string::npos) << *r.error;
  EXPECT_NE(r.error->find("POST /v1/models/crashy/load"), std::string::npos);
  EXPECT_EQ(stored(db, "fine").interrupted_loads, 0);
  db.set_model_status("crashy", ModelStatus::kLoading, std::nullopt);  // a retry starts
  EXPECT_EQ(stored(db, "crashy").interrupted_loads, 2);
  db.set_model_status("crashy", ModelStatus::kLoaded, std::nullopt);  // and finishes
  EXPECT_EQ(stored(db, "crashy").interrupted_loads, 0);
}

// Holds the process's file-size limit (ulimit -f) at `bytes` while alive: writes that would grow
// a file beyond it fail with EFBIG (SIGXFSZ ignored), as on a full disk.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    signal(SIGXFSZ, SIG_IGN);
    getrlimit(RLIMIT_FSIZE, &old_);
    rlimit l = old_;
    l.rlim_cur = bytes;
    setrlimit(RLIMIT_FSIZE, &l);
  }
  ~FileSizeLimit() { lift(); }
  void lift() { setrlimit(RLIMIT_FSIZE, &old_); }

 private:
  rlimit old_{};
};

TEST_F(DbTest, RefusedWritesAreUnavailableAndReportedUntilOneSucceeds) {
  Db db(path());
  db.insert_generation(start("before"));
  EXPECT_FALSE(db.write_error());
  {
    FileSizeLimit full(1024);
    try {
      for (int i = 0; i < 50; ++i) db.insert_generation(start("g" + std::to_string(i)));
      FAIL() << "writes did not fail";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kUnavailable) << e.what();
      EXPECT_EQ(e.reason(), "database_unavailable");
    }
    ASSERT_TRUE(db.write_error());
  }
  db.insert_generation(start("after"));
  EXPECT_FALSE(db.write_error());
  EXPECT_TRUE(db.generation("before"));
  EXPECT_TRUE(db.generation("after"));
}

// While the storage refuses writes the log keeps its records and retries them in order; once
// it takes them again nothing is lost.
TEST_F(DbTest, TheLogRetriesRefusedWritesAndLosesNothing) {
  Db db(path());
  GenerationLog log(db, GenerationLog::kDefaultCapacity, std::chrono::milliseconds(50));
  FileSizeLimit full(1024);
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(log.started(start("g" + std::to_string(i))));
    GenerationFinish f;
    f.id = "g" + std::to_string(i);
    f.status = GenerationStatus::kOk;
    f.output_text = std::string(200, 'x');
    f.finished_at = 2;
    ASSERT_TRUE(log.finished(f));
  }
  EXPECT_FALSE(log.flush_for(std::chrono::milliseconds(500)));
  EXPECT_GT(log.failed(), 0u);
  EXPECT_TRUE(db.write_error());
  full.lift();
  EXPECT_TRUE(log.flush_for(std::chrono::seconds(10)));
  EXPECT_EQ(log.dropped(), 0u);
  for (int i = 0; i < 40; ++i) {
    auto row = db.generation("g" + std::to_string(i));
    ASSERT_TRUE(row) << i;
    EXPECT_EQ(row->finish.status, GenerationStatus::kOk);
  }
  EXPECT_FALSE(db.write_error());
}

}  // namespace
}  // namespace dlx::db
