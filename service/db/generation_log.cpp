#include "service/db/generation_log.h"

#include <cstdio>
#include <exception>

namespace dlx::db {

GenerationLog::GenerationLog(Db& db, size_t capacity)
    : db_(db), capacity_(capacity), thread_([this] { run(); }) {}

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

void GenerationLog::run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stop requested and everything written
    Record r = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    try {
      if (auto* s = std::get_if<GenerationStart>(&r)) {
        db_.insert_generation(*s);
      } else {
        db_.finish_generation(std::get<GenerationFinish>(r));
      }
    } catch (const std::exception& e) {
      // The log is best effort: a failed write must not take the server down.
      ++failed_;
      std::fprintf(stderr, "diffulex serve: generation log write failed: %s\n", e.what());
    }
    lock.lock();
    ++written_;
    cv_written_.notify_all();
  }
}

}  // namespace dlx::db
