// JobRunner: runs one job on a worker thread — the denoising loop with the job's cancel flag,
// stream events, stop strings and the time limit — and records the outcome in the generation
// log and the metrics. Every failure becomes the job's outcome; run() never throws.
#pragma once

#include "service/db/generation_log.h"
#include "service/jobs/job.h"
#include "service/metrics/metrics.h"

namespace dlx {

class JobRunner {
 public:
  JobRunner(Metrics& metrics, db::GenerationLog& log) : metrics_(metrics), log_(log) {}
  void run(Job& job);

 private:
  Metrics& metrics_;
  db::GenerationLog& log_;
};

// The error a cancelled job reports for `reason` (time limit, shutdown, client gone).
Error cancel_error(CancelReason reason, const JobRequest& req);

}  // namespace dlx
