// Scheduler: a bounded FIFO of generation jobs and the worker threads that run them. HTTP
// threads only submit (never block: a full queue is refused, answered 429); workers own the
// engine work. Shutdown cancels what is left after a grace period.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "service/jobs/job.h"

namespace dlx {

class Scheduler {
 public:
  using RunFn = std::function<void(Job&)>;

  // Up to `max_queue` jobs may wait for a busy worker (running ones not counted).
  Scheduler(int workers, int max_queue, RunFn run);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // False when the queue is full or the scheduler no longer accepts work.
  bool try_submit(std::shared_ptr<Job> job);
  int queue_depth() const;
  int active() const;
  // A hint for Retry-After: the expected wait of a new job, whole seconds, at least 1.
  int retry_after_seconds() const;

  // Stops accepting; cancels queued and running jobs with `reason`.
  void cancel_all(CancelReason reason);
  // Stops accepting new jobs (what is queued still runs).
  void close();
  // Waits until nothing is queued or running, or `deadline` passes; true when idle.
  bool wait_idle(SteadyClock::time_point deadline);
  // Closes, lets the workers finish what is queued, and joins them.
  void stop();

 private:
  void worker_loop();

  const int max_queue_;
  RunFn run_;
  mutable std::mutex mu_;
  std::condition_variable cv_work_, cv_idle_;
  std::deque<std::shared_ptr<Job>> queue_;
  std::vector<std::shared_ptr<Job>> running_;
  bool closed_ = false, stop_ = false;
  int workers_n_;
  double avg_run_ms_ = 0;  // moving average of finished jobs
  std::vector<std::thread> workers_;
};

}  // namespace dlx
