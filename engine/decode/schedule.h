// Step schedules: how many tokens a denoising step must commit.
#pragma once

#include <vector>

namespace dlx {

// LLaDA get_num_transfer_tokens / SDAR: n positions over s steps; each step commits n/s, the
// first n%s steps one more.
std::vector<int> uniform_schedule(int n, int steps);

// torch.linspace(start, end, n) in float32, bit-exact with PyTorch's CPU kernel, which fills
// the output in vectors of `vec_width` lanes (2 at a time) as base + step*lane, the first half
// from `start` and the second half from `end`, the tail element by element.
std::vector<float> linspace_f32(float start, float end, int n, int vec_width = 8);

// Dream's timestep rule at step i of `steps` with `masked` masks left: int(masked * (1 - s/t))
// in float32 with t, s = linspace(1, eps, steps+1)[i, i+1]; the last step commits all.
int timestep_count(const std::vector<float>& timesteps, int i, int steps, int masked);

}  // namespace dlx
