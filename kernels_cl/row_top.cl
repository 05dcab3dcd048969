// Per-row summary of logits for the sampler, so only a few numbers per row leave the device:
// the best and second-best candidate (argmax excluding `exclude`, ties to the lower id) and,
// over the softmax of the FULL row (the excluded id included): the best's probability, the
// second's probability and sum p * log(p + 1e-10).
// One work-group of WG_REDUCE items per row. ids: [rows, 2]; vals: [rows, 4] =
// (best logit, best prob, second prob, neg entropy).
#pragma OPENCL FP_CONTRACT OFF
#ifndef WG_REDUCE
#define WG_REDUCE 64
#endif

// Is (a, ia) ranked before (b, ib)? Higher value first, then lower id; ids of -1 are empty.
inline bool ahead(float a, int ia, float b, int ib) {
  if (ib < 0) return ia >= 0;
  if (ia < 0) return false;
  return a > b || (a == b && ia < ib);
}

__kernel __attribute__((reqd_work_group_size(WG_REDUCE, 1, 1))) void row_top(
    __global const float* logits, long off, int V, int exclude, __global int* ids,
    __global float* vals) {
  const long row = get_group_id(0);
  const int lid = get_local_id(0);
  __global const float* x = logits + off + row * V;
  __local float lmax[WG_REDUCE], lb1[WG_REDUCE], lb2[WG_REDUCE], lsum[WG_REDUCE];
  __local int li1[WG_REDUCE], li2[WG_REDUCE];

  float mx = -INFINITY, b1 = -INFINITY, b2 = -INFINITY;
  int i1 = -1, i2 = -1;
  for (int i = lid; i < V; i += WG_REDUCE) {
    const float v = x[i];
    mx = fmax(mx, v);
    if (i == exclude) continue;
    if (ahead(v, i, b1, i1)) {
      b2 = b1;
      i2 = i1;
      b1 = v;
      i1 = i;
    } else if (ahead(v, i, b2, i2)) {
      b2 = v;
      i2 = i;
    }
  }
  lmax[lid] = mx;
  lb1[lid] = b1;
  li1[lid] = i1;
  lb2[lid] = b2;
  li2[lid] = i2;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (int s = WG_REDUCE / 2; s > 0; s >>= 1) {
    if (lid < s) {
      const int o = lid + s;
      lmax[lid] = fmax(lmax[lid], lmax[o]);
      // Merge two sorted pairs: the winner of the firsts, then the best of the remaining two.
      float a1 = lb1[lid], a2 = lb2[lid], c1 = lb1[o], c2 = lb2[o];
      int ia1 = li1[lid], ia2 = li2[lid], ic1 = li1[o], ic2 = li2[o];
      if (ahead(a1, ia1, c1, ic1)) {
        if (ahead(c1, ic1, a2, ia2)) {
          a2 = c1;
          ia2 = ic1;
        }
      } else {
        const float t1 = a1;
        const int ti1 = ia1;
        a1 = c1;
        ia1 = ic1;
        if (ahead(t1, ti1, c2, ic2)) {
          a2 = t1;
          ia2 = ti1;
        } else {
          a2 = c2;
          ia2 = ic2;
        }
      }
      lb1[lid] = a1;
      li1[lid] = ia1;
      lb2[lid] = a2;
      li2[lid] = ia2;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  const float M = lmax[0];

  float sum = 0.0f;
  for (int i = lid; i < V; i += WG_REDUCE) sum += exp(x[i] - M);
  lsum[lid] = sum;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (int s = WG_REDUCE / 2; s > 0; s >>= 1) {
    if (lid < s) lsum[lid] += lsum[lid + s];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  const float S = lsum[0];
  barrier(CLK_LOCAL_MEM_FENCE);

  float ent = 0.0f;
  for (int i = lid; i < V; i += WG_REDUCE) {
    const float pr = exp(x[i] - M) / S;
    ent += pr * log(pr + 1e-10f);
  }
  lsum[lid] = ent;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (int s = WG_REDUCE / 2; s > 0; s >>= 1) {
    if (lid < s) lsum[lid] += lsum[lid + s];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  if (lid == 0) {
    ids[row * 2] = li1[0];
    ids[row * 2 + 1] = li2[0];
    vals[row * 4] = lb1[0];
    vals[row * 4 + 1] = li1[0] >= 0 ? exp(lb1[0] - M) / S : 0.0f;
    vals[row * 4 + 2] = li2[0] >= 0 ? exp(lb2[0] - M) / S : 0.0f;
    vals[row * 4 + 3] = lsum[0];
  }
}
