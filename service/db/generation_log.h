// GenerationLog: writes generation rows on its own thread, fed by a bounded queue. Producers
// (request and worker threads) never wait for SQLite: when the queue is full a record is dropped
// and counted instead, so a slow disk cannot stall a generation. A write the storage refuses
// for now (disk full, I/O error: kUnavailable) is retried with backoff, in order, so an outage
// shorter than the queue loses nothing; meanwhile Db::write_error() reports it (/health).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>
#include <variant>

#include "service/db/db.h"

namespace dlx::db {

class GenerationLog {
 public:
  static constexpr size_t kDefaultCapacity = 4096;

  explicit GenerationLog(Db& db, size_t capacity = kDefaultCapacity,
                         std::chrono::milliseconds max_backoff = std::chrono::seconds(2));
  ~GenerationLog();
  GenerationLog(const GenerationLog&) = delete;
  GenerationLog& operator=(const GenerationLog&) = delete;

  // Queue a record; false (and counted in dropped()) when the queue is full or stopped.
  bool started(GenerationStart g);
  bool finished(GenerationFinish g);
  // Waits until every record queued before the call is written.
  void flush();
  // The same, for at most `timeout`; false when the writer did not get there in time. Readers
  // of the log call it so that a client who got its answer then reads its own final row.
  bool flush_for(std::chrono::milliseconds timeout);
  // Writes what is queued (records the storage still refuses are dropped and counted), then
  // ends the writer thread. Idempotent.
  void stop();

  // Records lost: queue full, refused for good (a bug), or still refused at stop().
  uint64_t dropped() const { return dropped_.load(); }
  // Failed write attempts (each retry counts).
  uint64_t failed() const { return failed_.load(); }
  size_t depth() const;

 private:
  using Record = std::variant<GenerationStart, GenerationFinish>;
  bool push(Record r);
  void run();
  // Writes one record; false when the storage refused it for now (retry later).
  bool write(const Record& r);

  Db& db_;
  const size_t capacity_;
  const std::chrono::milliseconds max_backoff_;
  mutable std::mutex mu_;
  std::condition_variable cv_, cv_written_;
  std::deque<Record> queue_;
  uint64_t pushed_ = 0, written_ = 0;  // sequence numbers for flush()
  bool stop_ = false;
  std::atomic<uint64_t> dropped_{0}, failed_{0};
  std::thread thread_;
};

}  // namespace dlx::db
