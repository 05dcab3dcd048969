// Elementwise f32 ops over n values (global size n). Offsets are in elements.
#pragma OPENCL FP_CONTRACT OFF

// x += y
__kernel void add_f32(__global float* x, long x_off, __global const float* y, long y_off) {
  const long i = get_global_id(0);
  x[x_off + i] += y[y_off + i];
}

// out = silu(gate) * up; out may alias gate.
__kernel void swiglu_f32(__global const float* gate, long g_off, __global const float* up,
                         long u_off, __global float* out, long o_off) {
  const long i = get_global_id(0);
  const float g = gate[g_off + i];
  out[o_off + i] = g / (1.0f + exp(-g)) * up[u_off + i];
}

__kernel void copy_f32(__global const float* src, long s_off, __global float* dst, long d_off) {
  const long i = get_global_id(0);
  dst[d_off + i] = src[s_off + i];
}

// y[t, n] += bias[n]; global size (cols, rows).
__kernel void add_bias_f32(__global float* y, long y_off, int cols, __global const float* bias,
                           long b_off) {
  const int n = get_global_id(0);
  const long t = get_global_id(1);
  y[y_off + t * cols + n] += bias[b_off + n];
}
