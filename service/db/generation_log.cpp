#include "service/db/generation_log.h"

#include <algorithm>
#include <cstdio>
#include <exception>

#include "engine/util/error.h"

namespace dlx::db {

GenerationLog::GenerationLog(Db& db, size_t capacity, std::chrono::milliseconds max_backoff)
    : db_(db), capacity_(capacity), max_backoff_(max_backoff), thread_([this] { run(); }) {}

GenerationLog::~GenerationLog() {
  stop();
}

bool GenerationLog::started(GenerationStart g) {
  return push(std::move(g));
}
bool GenerationLog::finished(GenerationFinish g) {
  return push(std::move(g));
}

bool GenerationLog::push(Record r) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_ || queue_.size() >= capacity_) {
      ++dropped_;
      return false;
    }
    queue_.push_back(std::move(r));
    ++pushed_;
  }
  cv_.notify_one();
  return true;
}

size_t GenerationLog::depth() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

void GenerationLog::flush() {
  std::unique_lock<std::mutex> lock(mu_);
  const uint64_t target = pushed_;
  // The writer drains the queue before it exits, so this also returns after stop().
  cv_written_.wait(lock, [&] { return written_ >= target; });
}

bool GenerationLog::flush_for(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  const uint64_t target = pushed_;
  return cv_written_.wait_for(lock, timeout, [&] { return written_ >= target; });
}

void GenerationLog::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    stop_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
  cv_written_.notify_all();
}

bool GenerationLog::write(const Record& r) {
  try {
    if (auto* s = std::get_if<GenerationStart>(&r)) {
      db_.insert_generation(*s);
    } else {
      db_.finish_generation(std::get<GenerationFinish>(r));
    }
    return true;
  } catch (const Error& e) {
    ++failed_;
    if (e.code() == ErrorCode::kUnavailable) return false;
    std::fprintf(stderr, "diffulex serve: generation log record dropped: %s\n", e.what());
  } catch (const std::exception& e) {
    ++failed_;
    std::fprintf(stderr, "diffulex serve: generation log record dropped: %s\n", e.what());
  }
  ++dropped_;  // refused for good: retrying cannot help
  return true;
}

void GenerationLog::run() {
  std::unique_lock<std::mutex> lock(mu_);
  std::chrono::milliseconds backoff{0};
  for (;;) {
    cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stop requested and everything written
    // The head record stays queued until written, so records keep their order and a retry
    // after an outage writes the same record again.
    Record r = queue_.front();
    lock.unlock();
    const bool done = write(r);
    lock.lock();
    if (!done && !stop_) {
      if (backoff.count() == 0) {
        std::fprintf(stderr,
                     "diffulex serve: the generation log cannot be written (%s); retrying\n",
                     db_.write_error().value_or("?").c_str());
      }
      backoff = std::min(max_backoff_, std::max(std::chrono::milliseconds(50), backoff * 2));
      cv_.wait_for(lock, backoff, [&] { return stop_; });
      continue;
    }
    if (!done) ++dropped_;  // stopping while the storage still refuses: counted, not retried
    if (done && backoff.count() > 0) {
      std::fprintf(stderr, "diffulex serve: the generation log is written again\n");
      backoff = std::chrono::milliseconds(0);
    }
    queue_.pop_front();
    ++written_;
    cv_written_.notify_all();
  }
}

}  // namespace dlx::db
