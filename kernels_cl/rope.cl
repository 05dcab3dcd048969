// Rotate-half RoPE in place on x[T, n_heads * hd]; row t has position pos0 + t.
// cos/sin tables are [max_positions, hd/2]. Global size (hd/2, n_heads, T).
#pragma OPENCL FP_CONTRACT OFF

__kernel void rope(__global float* x, long x_off, int cols, __global const float* cs, long cs_off,
                   __global const float* sn, long sn_off, long pos0, int head_dim) {
  const int i = get_global_id(0);
  const int h = get_global_id(1);
  const int t = get_global_id(2);
  const int half_dim = head_dim / 2;
  __global float* v = x + x_off + (long)t * cols + (long)h * head_dim;
  const long p = (pos0 + t) * half_dim + i;
  const float c = cs[cs_off + p], s = sn[sn_off + p];
  const float a = v[i], b = v[i + half_dim];
  v[i] = a * c - b * s;
  v[i + half_dim] = b * c + a * s;
}
