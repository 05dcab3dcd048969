#include "service/jobs/job.h"

namespace dlx {

const char* endpoint_path(Endpoint e) {
  switch (e) {
    case Endpoint::kCompletions:
      return "/v1/completions";
    case Endpoint::kChat:
      return "/v1/chat/completions";
    case Endpoint::kGenerate:
      return "/v1/generate";
    case Endpoint::kInfill:
      return "/v1/infill";
    case Endpoint::kOllamaGenerate:
      return "/api/generate";
    case Endpoint::kOllamaChat:
      return "/api/chat";
  }
  return "?";
}

void Job::cancel(CancelReason reason) {
  int none = 0;
  reason_.compare_exchange_strong(none, static_cast<int>(reason));
  cancel_.store(true);
}

void Job::push(JobEvent e) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(std::move(e));
  }
  cv_.notify_all();
}

void Job::finish(JobOutcome o) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    outcome_ = std::move(o);
    finished_ = true;
  }
  cv_.notify_all();
}

bool Job::wait(std::vector<JobEvent>& out, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return finished_ || !events_.empty(); });
  for (auto& e : events_) out.push_back(std::move(e));
  events_.clear();
  return finished_;
}

}  // namespace dlx
