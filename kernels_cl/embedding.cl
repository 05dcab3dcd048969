// Embedding lookup: out[t, :] = table[ids[t], :], widened to f32. One work-item per output
// element, global size (cols, T). Offsets are in elements (Tensor row views), not bytes.
#pragma OPENCL FP_CONTRACT OFF

__kernel void embed_f32(__global const float* table, long table_off, __global const int* ids,
                        int cols, __global float* out, long out_off) {
  const int c = get_global_id(0);
  const int t = get_global_id(1);
  out[out_off + (long)t * cols + c] = table[table_off + (long)ids[t] * cols + c];
}

// f16 table: vload_half is core OpenCL C, so this needs no cl_khr_fp16.
__kernel void embed_f16(__global const half* table, long table_off, __global const int* ids,
                        int cols, __global float* out, long out_off) {
  const int c = get_global_id(0);
  const int t = get_global_id(1);
  out[out_off + (long)t * cols + c] = vload_half(table_off + (long)ids[t] * cols + c, table);
}

// bf16 table: the upper half of an f32, so widening is a shift.
__kernel void embed_bf16(__global const ushort* table, long table_off, __global const int* ids,
                         int cols, __global float* out, long out_off) {
  const int c = get_global_id(0);
  const int t = get_global_id(1);
  const uint bits = (uint)table[table_off + (long)ids[t] * cols + c] << 16;
  out[out_off + (long)t * cols + c] = as_float(bits);
}
