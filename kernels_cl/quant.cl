// Block-quantized weights (Q8_0, Q4_0 in llama.cpp's layouts; engine/formats/dtype.h) kept
// quantized in device memory: matrix products y[T, N] = x[T, K] @ w[N, K]^T (+ bias[N]) and
// embedding gathers. Blocks are dequantized to f32 as they are read (registers or local
// memory) and multiplied in f32: the products of the dequantized values, what the CPU
// backend's exact path computes (Precision::kExact).
//
// A row of K values is K / 32 blocks; a block is 34 bytes (Q8_0: f16 d, int8 q[32]) or 18 bytes
// (Q4_0: f16 d, uint8 qs[16]), so blocks are only 2-byte aligned: the scale is read with
// vload_half (core OpenCL C, no cl_khr_fp16), the quants as bytes. Weight views are passed as a
// first row (w_row0), never as an element offset. The work unit is 8 consecutive values of a
// block (`part` 0..3), so every kernel handles both formats through deq8().
#ifndef QMV_WG
#define QMV_WG 64
#endif
#define QMV_T 8  // activation rows per work-group of the skinny product (<= QMV_WG)
#define TL 8     // tiled product: work-group TL x TL items ...
#define TR 4     // ... each computing TR x TR outputs
#define TS 32    // tile edge (TL * TR) = values per block: one block per step along K

// Bytes per block.
inline int block_bytes(const int q4) {
  return q4 ? 18 : 34;
}

// Values 8 * part .. 8 * part + 7 of the block at `blk`, as f32: d * q (exact, as the host's
// dequantize_row: an int times an f32 scale rounds once).
inline float8 deq8(__global const uchar* blk, int part, const int q4) {
  const float d = vload_half(0, (__global const half*)blk);
  if (q4) {
    // Values j < 16 are the low nibbles of qs[j], values 16 + j the high ones. Both are
    // formed with constant shifts and blended by hi = 0 or 1 (exact on small integers): no
    // branch or variable shift, which keeps CPU runtimes' work-item loops vectorized.
    const uchar8 qs = vload8(0, blk + 2 + 8 * (part & 1));
    const float8 lo = convert_float8(qs & (uchar8)15), hi = convert_float8(qs >> (uchar8)4);
    return d * (lo + (hi - lo) * (float)(part >> 1) - 8.0f);
  }
  const char8 q = vload8(0, (__global const char*)(blk + 2 + 8 * part));
  return d * convert_float8(q);
}

inline float dot8(float8 a, float8 b) {
  return dot(a.lo, b.lo) + dot(a.hi, b.hi);
}

inline __global const uchar* weight_row(__global const uchar* w, long row, int K, const int q4) {
  return w + row * (long)(K / 32) * block_bytes(q4);
}

// ---- skinny product (few activation rows) ----
// One work-group of QMV_WG items per (output column n, QMV_T activation rows): the items share
// out the 8-value parts of weight row n, each part dequantized once and multiplied with every
// activation row, then a tree reduction over the items. Global size (N * QMV_WG, ceil(T/QMV_T)).
inline void qmv(__global const uchar* w, long w_row0, __global const float* x, long x_off,
                __global float* y, long y_off, __global const float* bias, long b_off,
                int has_bias, int T, int K, int N, __local float* red, const int q4) {
  const int n = get_group_id(0);
  const int t0 = get_group_id(1) * QMV_T;
  const int lid = get_local_id(0);
  const int tn = min(QMV_T, T - t0);
  const int bb = block_bytes(q4);
  __global const uchar* row = weight_row(w, w_row0 + n, K, q4);
  __global const float* xr = x + x_off + (long)t0 * K;
  float acc[QMV_T];
#pragma unroll
  for (int i = 0; i < QMV_T; ++i) acc[i] = 0.0f;
  for (int u = lid; u < K / 8; u += QMV_WG) {
    const float8 wv = deq8(row + (u >> 2) * bb, u & 3, q4);
#pragma unroll
    for (int i = 0; i < QMV_T; ++i) {
      if (i < tn) acc[i] += dot8(wv, vload8(0, xr + (long)i * K + 8 * u));
    }
  }
#pragma unroll
  for (int i = 0; i < QMV_T; ++i) red[i * QMV_WG + lid] = acc[i];
  barrier(CLK_LOCAL_MEM_FENCE);
  for (int s = QMV_WG / 2; s > 0; s >>= 1) {
    if (lid < s) {
#pragma unroll
      for (int i = 0; i < QMV_T; ++i) red[i * QMV_WG + lid] += red[i * QMV_WG + lid + s];
    }
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  if (lid < tn) {
    const float b = has_bias ? bias[b_off + n] : 0.0f;
    y[y_off + (long)(t0 + lid) * N + n] = red[lid * QMV_WG] + b;
  }
}

__kernel __attribute__((reqd_work_group_size(QMV_WG, 1, 1))) void matmul_q8_0_skinny(
    __global const uchar* w, long w_row0, __global const float* x, long x_off, __global float* y,
    long y_off, __global const float* bias, long b_off, int has_bias, int T, int K, int N) {
  __local float red[QMV_T * QMV_WG];
  qmv(w, w_row0, x, x_off, y, y_off, bias, b_off, has_bias, T, K, N, red, 0);
}

__kernel __attribute__((reqd_work_group_size(QMV_WG, 1, 1))) void matmul_q4_0_skinny(
    __global const uchar* w, long w_row0, __global const float* x, long x_off, __global float* y,
    long y_off, __global const float* bias, long b_off, int has_bias, int T, int K, int N) {
  __local float red[QMV_T * QMV_WG];
  qmv(w, w_row0, x, x_off, y, y_off, bias, b_off, has_bias, T, K, N, red, 1);
}

// ---- tiled product ----
// v[0..7] to d[0], d[TS], ..., d[7 * TS]: 8 consecutive k of one row into a k-major tile.
inline void store_column(__local float* d, float8 v) {
  d[0] = v.s0;
  d[TS] = v.s1;
  d[2 * TS] = v.s2;
  d[3 * TS] = v.s3;
  d[4 * TS] = v.s4;
  d[5 * TS] = v.s5;
  d[6 * TS] = v.s6;
  d[7 * TS] = v.s7;
}

// A work-group computes a TS x TS tile of y (TS activation rows x TS weight rows). Each step
// along K stages one 32-value block: the TS weight blocks dequantized into local memory (each
// weight block is read and dequantized once per tile and reused by TS activation rows) and the
// matching x[TS, 32] slice; each item then accumulates its TR x TR outputs. The local tiles
// are stored k-major ([32][TS]) so that neighbouring items read neighbouring words (no bank
// conflicts on GPUs; vectorizable work-item loops on CPU devices).
// Global size (ceil(N / TS) * TL, ceil(T / TS) * TL).
inline void qmm(__global const uchar* w, long w_row0, __global const float* x, long x_off,
                __global float* y, long y_off, __global const float* bias, long b_off,
                int has_bias, int T, int K, int N, __local float* xs, __local float* ws,
                const int q4) {
  const int ln = get_local_id(0), lt = get_local_id(1);
  const int li = lt * TL + ln;  // 0 .. TL*TL-1
  const int n0 = get_group_id(0) * TS, t0 = get_group_id(1) * TS;
  const int bb = block_bytes(q4);
  float acc[TR][TR];
#pragma unroll
  for (int i = 0; i < TR; ++i) {
#pragma unroll
    for (int j = 0; j < TR; ++j) acc[i][j] = 0.0f;
  }
  for (int kb = 0; kb < K / 32; ++kb) {
    // TS rows x 4 parts = 2 * TL * TL units per tile: two per item for each of x and w.
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int u = li + r * TL * TL;
      const int row = u >> 2, part = u & 3;
      const int t = t0 + row, n = n0 + row;
      const float8 xv =
          t < T ? vload8(0, x + x_off + (long)t * K + kb * 32 + part * 8) : (float8)(0.0f);
      const float8 wv =
          n < N ? deq8(weight_row(w, w_row0 + n, K, q4) + kb * bb, part, q4) : (float8)(0.0f);
      store_column(xs + part * 8 * TS + row, xv);
      store_column(ws + part * 8 * TS + row, wv);
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int k = 0; k < 32; ++k) {
      float xv[TR], wv[TR];
#pragma unroll
      for (int i = 0; i < TR; ++i) xv[i] = xs[k * TS + lt + i * TL];
#pragma unroll
      for (int j = 0; j < TR; ++j) wv[j] = ws[k * TS + ln + j * TL];
#pragma unroll
      for (int i = 0; i < TR; ++i) {
#pragma unroll
        for (int j = 0; j < TR; ++j) acc[i][j] += xv[i] * wv[j];
      }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
  }
#pragma unroll
  for (int i = 0; i < TR; ++i) {
    const int t = t0 + lt + i * TL;
#pragma unroll
    for (int j = 0; j < TR; ++j) {
      const int n = n0 + ln + j * TL;
      if (t < T && n < N) {
        y[y_off + (long)t * N + n] = acc[i][j] + (has_bias ? bias[b_off + n] : 0.0f);
      }
    }
  }
}

__kernel __attribute__((reqd_work_group_size(TL, TL, 1))) void matmul_q8_0_tiled(
    __global const uchar* w, long w_row0, __global const float* x, long x_off, __global float* y,
    long y_off, __global const float* bias, long b_off, int has_bias, int T, int K, int N) {
  __local float xs[32 * TS], ws[32 * TS];
  qmm(w, w_row0, x, x_off, y, y_off, bias, b_off, has_bias, T, K, N, xs, ws, 0);
}

__kernel __attribute__((reqd_work_group_size(TL, TL, 1))) void matmul_q4_0_tiled(
    __global const uchar* w, long w_row0, __global const float* x, long x_off, __global float* y,
    long y_off, __global const float* bias, long b_off, int has_bias, int T, int K, int N) {
  __local float xs[32 * TS], ws[32 * TS];
  qmm(w, w_row0, x, x_off, y, y_off, bias, b_off, has_bias, T, K, N, xs, ws, 1);
}

// ---- embedding gather ----
// out[t, :] = dequantized table row ids[t]. One item per 8 values: global size (cols / 8, T).
__kernel void embed_q8_0(__global const uchar* table, long row0, __global const int* ids,
                         int cols, __global float* out, long out_off) {
  const int u = get_global_id(0), t = get_global_id(1);
  __global const uchar* row = weight_row(table, row0 + ids[t], cols, 0);
  vstore8(deq8(row + (u >> 2) * 34, u & 3, 0), 0, out + out_off + (long)t * cols + 8 * u);
}

__kernel void embed_q4_0(__global const uchar* table, long row0, __global const int* ids,
                         int cols, __global float* out, long out_off) {
  const int u = get_global_id(0), t = get_global_id(1);
  __global const uchar* row = weight_row(table, row0 + ids[t], cols, 1);
  vstore8(deq8(row + (u >> 2) * 18, u & 3, 1), 0, out + out_off + (long)t * cols + 8 * u);
}
