#include "engine/decode/schedule.h"

namespace dlx {

std::vector<int> uniform_schedule(int n, int steps) {
  std::vector<int> k(steps, n / steps);
  for (int i = 0; i < n % steps; ++i) ++k[i];
  return k;
}

std::vector<float> linspace_f32(float start, float end, int n, int vec_width) {
  std::vector<float> out(n);
  if (n == 1) {
    out[0] = start;
    return out;
  }
  const float step = (end - start) / static_cast<float>(n - 1);
  const int halfway = n / 2;
  auto scalar = [&](int idx) {
    return idx < halfway ? start + step * static_cast<float>(idx)
                         : end - step * static_cast<float>(n - idx - 1);
  };
  int i = 0;
  // Vector part: chunks of vec_width lanes, two chunks per iteration, each chunk from one base.
  for (; vec_width > 1 && i <= n - 2 * vec_width; i += 2 * vec_width) {
    for (int c = 0; c < 2; ++c) {
      const int idx = i + c * vec_width;
      const float base = scalar(idx);
      for (int lane = 0; lane < vec_width; ++lane) {
        out[idx + lane] = base + step * static_cast<float>(lane);
      }
    }
  }
  for (; i < n; ++i) out[i] = scalar(i);
  return out;
}

int timestep_count(const std::vector<float>& timesteps, int i, int steps, int masked) {
  if (i >= steps - 1) return masked;
  const float t = timesteps[i], s = timesteps[i + 1];
  const float frac = 1.0f - s / t;
  const float want = static_cast<float>(masked) * frac;
  return static_cast<int>(want);
}

}  // namespace dlx
