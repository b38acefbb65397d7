#version 450
// Decode matrix-vector product with fused dequantization, for 1..MAX_T tokens at once:
//   out[t][out_row0 + r] = sum_k W[r][k] * x[t][k]
// One workgroup per weight row: its invocations stream the row as consecutive 4-element quads
// (consecutive invocations read consecutive words), keep one partial sum per token, then reduce
// across the workgroup: through shared memory (baseline, every device, V3DV included) or with
// subgroupAdd + a short shared pass (USE_SUBGROUP, where subgroup arithmetic exists).
// The workgroup size WG (spec constant 0) must be a power of two.
#ifdef DQ_S16
#extension GL_EXT_shader_16bit_storage : require
#endif
#ifdef DQ_H16
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#endif
#include "common.glsl"
#ifdef USE_SUBGROUP
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif
#define DQ_BINDING 0
#include "dequant.glsl"

layout(std430, binding = 1) readonly buffer X { float x[]; };
layout(std430, binding = 2) writeonly buffer Out { float o[]; };

layout(push_constant) uniform Params {
    uint n_in;       // elements per row (columns of W, length of x rows)
    uint n_rows;     // rows of W in this binding
    uint n_tokens;   // 1..MAX_T
    uint row_bytes;  // bytes per row of W
    uint x_stride;   // floats between token rows of x
    uint out_stride; // floats between token rows of out
    uint out_row0;   // output column of W's row 0 in this binding (chunked weights)
    uint grid_x;     // workgroups per grid row (2-D grid past maxComputeWorkGroupCount)
} p;

layout(constant_id = 0) const uint WG = 64;
#define MAX_T 8u

shared float red[MAX_T * WG];
float acc[MAX_T]; // per-token partial sums of this invocation

// acc[t] += dot(w, x[t][k..k+3]) for every token.
void accum4(const vec4 w, const uint k) {
    [[unroll]] for (uint t = 0u; t < MAX_T; t++) {
        if (t < p.n_tokens) {
            const uint xi = t * p.x_stride + k;
            acc[t] += dot(w, vec4(x[xi], x[xi + 1u], x[xi + 2u], x[xi + 3u]));
        }
    }
}

#ifdef DQ_H16
// fp16 products, f32 sums: each x rounded to f16, w·x rounded to f16, then accumulated in f32.
// Per output |err| <= ~(2^-10 + n·2^-24)·Σ|w·x| (+ f16 underflow); |x| past 65504 gives inf.
void accum4h(const f16vec4 w, const uint k) {
    [[unroll]] for (uint t = 0u; t < MAX_T; t++) {
        if (t < p.n_tokens) {
            const uint xi = t * p.x_stride + k;
            const vec4 pr = vec4(w * f16vec4(x[xi], x[xi + 1u], x[xi + 2u], x[xi + 3u]));
            acc[t] += (pr.x + pr.y) + (pr.z + pr.w);
        }
    }
}
#endif

void main() {
    const uint row = gl_WorkGroupID.y * p.grid_x + gl_WorkGroupID.x;
    if (row >= p.n_rows) return; // uniform over the workgroup
    const uint tid = gl_LocalInvocationID.x;
    const uint rb = row * p.row_bytes;

    [[unroll]] for (uint t = 0u; t < MAX_T; t++) acc[t] = 0.0;

#ifdef DQ_PLAIN
    if ((p.n_in & 3u) != 0u) {
        // Odd lengths: element by element (rows need not start on a word).
        for (uint k = tid; k < p.n_in; k += WG) {
            const float w = dq1(rb + k * DQ_ESIZE);
            [[unroll]] for (uint t = 0u; t < MAX_T; t++) {
#ifdef DQ_H16
                if (t < p.n_tokens) acc[t] += float(float16_t(w) * float16_t(x[t * p.x_stride + k]));
#else
                if (t < p.n_tokens) acc[t] = fma(w, x[t * p.x_stride + k], acc[t]);
#endif
            }
        }
    } else {
        // Rows of a multiple of 4 elements start on whole words: 4 elements per load group.
#ifdef DQ_H16
        for (uint q = tid; q < p.n_in / 4u; q += WG) accum4h(dq4h(rb + 4u * q * DQ_ESIZE), 4u * q);
#else
        for (uint q = tid; q < p.n_in / 4u; q += WG) accum4(dq4p(rb + 4u * q * DQ_ESIZE), 4u * q);
#endif
    }
#else
    // Groups of 8 elements (two quads from one qs word): consecutive invocations read
    // consecutive words of the row.
    const uint ng = p.n_in / 8u;
    const uint gpb = DQ_QK / 8u;
    for (uint g = tid; g < ng; g += WG) {
        const uint blk = g / gpb;
        const uint gi = g - blk * gpb;
        vec4 lo, hi;
        dq8(rb + blk * DQ_BB, gi, lo, hi);
        const uint kb = blk * DQ_QK;
        accum4(lo, kb + 4u * DQ8_LO(gi));
        accum4(hi, kb + 4u * DQ8_HI(gi));
    }
#endif

#ifdef USE_SUBGROUP
    [[unroll]] for (uint t = 0u; t < MAX_T; t++) {
        if (t < p.n_tokens) {
            const float s = subgroupAdd(acc[t]);
            if (subgroupElect()) red[t * WG + gl_SubgroupID] = s;
        }
    }
    barrier();
    if (tid < p.n_tokens) {
        float s = 0.0;
        for (uint g = 0u; g < gl_NumSubgroups; g++) s += red[tid * WG + g];
        o[tid * p.out_stride + p.out_row0 + row] = s;
    }
#else
    [[unroll]] for (uint t = 0u; t < MAX_T; t++) {
        if (t < p.n_tokens) red[t * WG + tid] = acc[t];
    }
    barrier();
    for (uint s = WG / 2u; s > 0u; s >>= 1) {
        if (tid < s) {
            [[unroll]] for (uint t = 0u; t < MAX_T; t++) {
                if (t < p.n_tokens) red[t * WG + tid] += red[t * WG + tid + s];
            }
        }
        barrier();
    }
    if (tid < p.n_tokens) o[tid * p.out_stride + p.out_row0 + row] = red[tid * WG];
#endif
}
