// GenerationLog: writes generation rows on its own thread, fed by a bounded queue. Producers
// (request and worker threads) never wait for SQLite: when the queue is full a record is dropped
// and counted instead, so a slow disk cannot stall a generation.
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

  explicit GenerationLog(Db& db, size_t capacity = kDefaultCapacity);
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
  // Writes what is queued, then ends the writer thread. Idempotent.
  void stop();

  uint64_t dropped() const { return dropped_.load(); }
  uint64_t failed() const { return failed_.load(); }
  size_t depth() const;

 private:
  using Record = std::variant<GenerationStart, GenerationFinish>;
  bool push(Record r);
  void run();

  Db& db_;
  const size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable cv_, cv_written_;
  std::deque<Record> queue_;
  uint64_t pushed_ = 0, written_ = 0;  // sequence numbers for flush()
  bool stop_ = false;
  std::atomic<uint64_t> dropped_{0}, failed_{0};
  std::thread thread_;
};

}  // namespace dlx::db
