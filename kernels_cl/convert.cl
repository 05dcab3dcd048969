// Element type conversions for matrix products: widening compact weights to f32, and the
// f32 <-> f16 round trip around HGEMM. vload_half / vstore_half are core OpenCL C (no
// cl_khr_fp16 needed). Global size n; offsets in elements.

__kernel void bf16_to_f32(__global const ushort* src, long s_off, __global float* dst,
                          long d_off) {
  const long i = get_global_id(0);
  dst[d_off + i] = as_float((uint)src[s_off + i] << 16);
}

__kernel void f16_to_f32(__global const half* src, long s_off, __global float* dst, long d_off) {
  const long i = get_global_id(0);
  dst[d_off + i] = vload_half(s_off + i, src);
}

// Round to nearest even, as the host's f32_to_f16.
__kernel void f32_to_f16(__global const float* src, long s_off, __global half* dst, long d_off) {
  const long i = get_global_id(0);
  vstore_half_rte(src[s_off + i], d_off + i, dst);
}
