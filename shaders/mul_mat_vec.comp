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
#ifdef DQ_DOT
// OpSDot of SPV_KHR_integer_dot_product through spirv_intrinsics (this glslang predates
// GL_EXT_integer_dot_product): signed 4x8-bit packed dot product, format literal 0 =
// PackedVectorFormat4x8Bit; capabilities DotProduct (6019) and DotProductInput4x8BitPacked (6018).
#extension GL_EXT_spirv_intrinsics : require
#endif
#include "common.glsl"
#ifdef DQ_DOT
spirv_instruction(extensions = ["SPV_KHR_integer_dot_product"], capabilities = [6019, 6018], id = 4450)
int dot4x8(int a, int b, spirv_literal int fmt);
#endif
#ifdef USE_SUBGROUP
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif
#define DQ_BINDING 0
#include "dequant.glsl"

#ifdef DQ_DOT
// Activations pre-quantized by quantize_q8_1.comp: 10 words per 32-element block.
layout(std430, binding = 1) readonly buffer XQ { uint xq[]; };
#else
layout(std430, binding = 1) readonly buffer X { float x[]; };
#endif
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

#ifndef DQ_DOT
// acc[t] += dot(w, x[t][k..k+3]) for every token.
void accum4(const vec4 w, const uint k) {
    [[unroll]] for (uint t = 0u; t < MAX_T; t++) {
        if (t < p.n_tokens) {
            const uint xi = t * p.x_stride + k;
            acc[t] += dot(w, vec4(x[xi], x[xi + 1u], x[xi + 2u], x[xi + 3u]));
        }
    }
}
#endif

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

#if defined(DQ_DOT) && defined(DQ_Q8_0)
    // One 32-element block per step: 8 packed 4x8 dots per token against the int8 activations,
    // exact in int, then scaled by d_w · d_x in f32.
    const uint nb = p.n_in / 32u;
    for (uint blk = tid; blk < nb; blk += WG) {
        const uint b = rb + blk * DQ_BB;
        const float dw = dq_f16(b);
        int wq[8];
        [[unroll]] for (uint j = 0u; j < 8u; j++) wq[j] = int(dq_u32_2(b + 2u + 4u * j));
        [[unroll]] for (uint t = 0u; t < MAX_T; t++) {
            if (t < p.n_tokens) {
                const uint xb = 10u * (t * nb + blk);
                int s = 0;
                [[unroll]] for (uint j = 0u; j < 8u; j++) s += dot4x8(wq[j], int(xq[xb + j]), 0);
                acc[t] += float(s) * dw * uintBitsToFloat(xq[xb + 8u]);
            }
        }
    }
#elif defined(DQ_DOT) && defined(DQ_Q4_0)
    // Q4_0: Σ d_w (q - 8) · d_x qx = d_w (d_x Σ q·qx - 8 · d_x Σ qx): nibbles 0..15 dotted as
    // int8 (qs word j holds elements 4j.. in its low nibbles, 16 + 4j.. in its high ones), the
    // offset from the block sum the quantizer stored.
    const uint nb = p.n_in / 32u;
    for (uint blk = tid; blk < nb; blk += WG) {
        const uint b = rb + blk * DQ_BB;
        const float dw = dq_f16(b);
        uint wq[4];
        [[unroll]] for (uint j = 0u; j < 4u; j++) wq[j] = dq_u32_2(b + 2u + 4u * j);
        [[unroll]] for (uint t = 0u; t < MAX_T; t++) {
            if (t < p.n_tokens) {
                const uint xb = 10u * (t * nb + blk);
                int s = 0;
                [[unroll]] for (uint j = 0u; j < 4u; j++) {
                    s += dot4x8(int(wq[j] & 0x0F0F0F0Fu), int(xq[xb + j]), 0);
                    s += dot4x8(int((wq[j] >> 4) & 0x0F0F0F0Fu), int(xq[xb + 4u + j]), 0);
                }
                acc[t] += dw * (float(s) * uintBitsToFloat(xq[xb + 8u]) - 8.0 * uintBitsToFloat(xq[xb + 9u]));
            }
        }
    }
#elif defined(DQ_PLAIN)
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
