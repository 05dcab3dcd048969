// Grouped RMSNorm: each group of `group` consecutive values is scaled by 1/rms(group) and by
// w[0..group). One work-group of WG_REDUCE items per group (rows for a model norm, heads for
// q/k-norm). In place (x == y) is allowed: every element is read and written by one item.
#pragma OPENCL FP_CONTRACT OFF
#ifndef WG_REDUCE
#define WG_REDUCE 64
#endif

__kernel __attribute__((reqd_work_group_size(WG_REDUCE, 1, 1))) void rmsnorm(
    __global const float* x, long x_off, __global const float* w, long w_off, __global float* y,
    long y_off, int group, float eps) {
  const long g = get_group_id(0);
  const int lid = get_local_id(0);
  __global const float* xi = x + x_off + g * group;
  __global float* yi = y + y_off + g * group;
  __local float part[WG_REDUCE];
  float ss = 0.0f;
  for (int i = lid; i < group; i += WG_REDUCE) {
    const float v = xi[i];
    ss += v * v;
  }
  part[lid] = ss;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (int s = WG_REDUCE / 2; s > 0; s >>= 1) {
    if (lid < s) part[lid] += part[lid + s];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  const float inv = 1.0f / sqrt(part[0] / (float)group + eps);
  for (int i = lid; i < group; i += WG_REDUCE) yi[i] = (xi[i] * inv) * w[w_off + i];
}
