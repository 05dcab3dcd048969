// Per-op timing of forward passes (`diffulex bench --profile`): where a forward's time goes,
// by op and by weight (matmul q/k/v, o, gate/up, down, LM head), with the floating point work
// of each so the gap to the machine's peak is visible per op.
#pragma once

#include <chrono>
#include <map>
#include <string>

#include "engine/backend/backend.h"

namespace dlx {

struct OpStats {
  double ms = 0;     // summed over calls
  double flops = 0;  // summed over calls (0 for ops counted in bytes, not flops)
  int64_t calls = 0;
};

// Filled by Model::forward when ForwardSpan::profile points to one. Timing an op syncs the
// backend after it (devices run asynchronously), so a profiled forward is a little slower.
struct OpProfile {
  std::map<std::string, OpStats> ops;  // by name, e.g. "matmul gate+up"
  int forwards = 0;
};

// Times the scope it lives in as one call of `name` (nothing at all when `profile` is null).
class OpTimer {
 public:
  OpTimer(OpProfile* profile, Backend& b, const char* name, double flops = 0)
      : profile_(profile), b_(b), name_(name), flops_(flops) {
    if (profile_) t0_ = std::chrono::steady_clock::now();
  }
  ~OpTimer() {
    if (!profile_) return;
    b_.sync();
    OpStats& s = profile_->ops[name_];
    s.ms +=
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0_).count();
    s.flops += flops_;
    ++s.calls;
  }
  OpTimer(const OpTimer&) = delete;
  OpTimer& operator=(const OpTimer&) = delete;

 private:
  OpProfile* profile_;
  Backend& b_;
  const char* name_;
  double flops_;
  std::chrono::steady_clock::time_point t0_;
};

}  // namespace dlx
