#include "service/jobs/scheduler.h"

#include <algorithm>
#include <cmath>

namespace dlx {

Scheduler::Scheduler(int workers, int max_queue, RunFn run)
    : max_queue_(max_queue), run_(std::move(run)), workers_n_(std::max(1, workers)) {
  for (int i = 0; i < workers_n_; ++i) workers_.emplace_back([this] { worker_loop(); });
}

Scheduler::~Scheduler() {
  stop();
}

bool Scheduler::try_submit(std::shared_ptr<Job> job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Idle workers take a job at once, so they add to what may be queued.
    const int idle = workers_n_ - static_cast<int>(running_.size());
    if (closed_ || static_cast<int>(queue_.size()) >= max_queue_ + std::max(0, idle)) return false;
    queue_.push_back(std::move(job));
  }
  cv_work_.notify_one();
  return true;
}

int Scheduler::queue_depth() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(queue_.size());
}

int Scheduler::active() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(running_.size());
}

int Scheduler::retry_after_seconds() const {
  std::lock_guard<std::mutex> lock(mu_);
  const double jobs_ahead = static_cast<double>(queue_.size() + running_.size());
  const double wait_s = jobs_ahead * avg_run_ms_ / 1000.0 / workers_n_;
  return std::max(1, static_cast<int>(std::ceil(wait_s)));
}

void Scheduler::cancel_all(CancelReason reason) {
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
  for (auto& j : queue_) j->cancel(reason);
  for (auto& j : running_) j->cancel(reason);
}

void Scheduler::close() {
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
}

bool Scheduler::wait_idle(SteadyClock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_idle_.wait_until(lock, deadline, [&] { return queue_.empty() && running_.empty(); });
}

void Scheduler::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    stop_ = true;
  }
  cv_work_.notify_all();
  for (auto& t : workers_) {
    if (t.joinable()) t.join();
  }
}

void Scheduler::worker_loop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_work_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and every queued job was run
    std::shared_ptr<Job> job = std::move(queue_.front());
    queue_.pop_front();
    running_.push_back(job);
    lock.unlock();
    const auto t0 = SteadyClock::now();
    run_(*job);  // never throws: the runner turns every failure into the job's outcome
    const double ms = ms_between(t0, SteadyClock::now());
    lock.lock();
    avg_run_ms_ = avg_run_ms_ == 0 ? ms : 0.8 * avg_run_ms_ + 0.2 * ms;
    running_.erase(std::find(running_.begin(), running_.end(), job));
    if (queue_.empty() && running_.empty()) cv_idle_.notify_all();
  }
}

}  // namespace dlx
