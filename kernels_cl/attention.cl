// Attention for one query row and one head per work-group:
//   out[t, h] = softmax(q[t, h] . k[j, kvh] * scale, j < n_keys(t)) @ v[j, kvh]
// with kvh = h / (heads / kv_heads) (GQA) and, when block_size > 0, the block-causal limit
// n_keys(t) = min(n_keys, (pos/B + 1) * B) for absolute position pos = q_pos0 + t.
// Keys are walked in tiles of ATTN_WG with an online (running max) softmax, so any number of
// keys fits in constant local memory. Each item owns head dims lid, lid + ATTN_WG, ...
// (at most ATTN_ACC of them: head_dim <= ATTN_WG * ATTN_ACC, checked by the host).
// Global size (ATTN_WG * heads, Tq).
#pragma OPENCL FP_CONTRACT OFF
#ifndef ATTN_WG
#define ATTN_WG 64
#endif
#ifndef ATTN_ACC
#define ATTN_ACC 4
#endif

__kernel __attribute__((reqd_work_group_size(ATTN_WG, 1, 1))) void attention(
    __global const float* q, long q_off, int q_cols, __global const float* k, long k_off,
    __global const float* v, long v_off, int kv_cols, __global float* out, long out_off,
    int out_cols, int heads, int kv_heads, int hd, long q_pos0, long n_keys, int block_size,
    float scale) {
  const int h = get_group_id(0);
  const int t = get_group_id(1);
  const int lid = get_local_id(0);
  const int kvh = h / (heads / kv_heads);
  long nk = n_keys;
  if (block_size > 0) nk = min(nk, ((q_pos0 + t) / block_size + 1) * block_size);

  __local float qs[ATTN_WG * ATTN_ACC];
  __local float p[ATTN_WG];
  __global const float* qrow = q + q_off + (long)t * q_cols + (long)h * hd;
  for (int d = lid; d < hd; d += ATTN_WG) qs[d] = qrow[d];
  barrier(CLK_LOCAL_MEM_FENCE);

  __global const float* kb = k + k_off + (long)kvh * hd;
  __global const float* vb = v + v_off + (long)kvh * hd;
  float m = -INFINITY, l = 0.0f;
  float acc[ATTN_ACC];
  for (int c = 0; c < ATTN_ACC; ++c) acc[c] = 0.0f;

  for (long j0 = 0; j0 < nk; j0 += ATTN_WG) {
    const long j = j0 + lid;
    float s = -INFINITY;
    if (j < nk) {
      __global const float* kr = kb + j * kv_cols;
      float dot = 0.0f;
      for (int d = 0; d < hd; ++d) dot += qs[d] * kr[d];
      s = dot * scale;
    }
    p[lid] = s;
    barrier(CLK_LOCAL_MEM_FENCE);
    float tmax = m;
    for (int i = 0; i < ATTN_WG; ++i) tmax = fmax(tmax, p[i]);
    barrier(CLK_LOCAL_MEM_FENCE);
    p[lid] = j < nk ? exp(s - tmax) : 0.0f;
    barrier(CLK_LOCAL_MEM_FENCE);
    const float corr = exp(m - tmax);  // 0 on the first tile (m = -inf)
    l *= corr;
    for (int c = 0; c < ATTN_ACC; ++c) acc[c] *= corr;
    const int n_tile = (int)min((long)ATTN_WG, nk - j0);
    for (int i = 0; i < n_tile; ++i) {
      const float pi = p[i];
      l += pi;
      __global const float* vr = vb + (j0 + i) * kv_cols;
      for (int c = 0; c < ATTN_ACC; ++c) {
        const int d = lid + c * ATTN_WG;
        if (d < hd) acc[c] += pi * vr[d];
      }
    }
    m = tmax;
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  __global float* o = out + out_off + (long)t * out_cols + (long)h * hd;
  const float inv = 1.0f / l;
  for (int c = 0; c < ATTN_ACC; ++c) {
    const int d = lid + c * ATTN_WG;
    if (d < hd) o[d] = acc[c] * inv;
  }
}
