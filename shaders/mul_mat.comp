#version 450
// Prompt matrix-matrix product with dequantization into shared memory:
//   out[t][out_row0 + r] = sum_k W[r][k] * x[t][k]
// A workgroup computes a BM (weight rows) x BN (tokens) tile; every BK step it dequantizes a
// BM x BK tile of W and copies a BN x BK tile of x into shared memory ((BM + BN) * BK floats:
// 8 KiB at 64 x 64, well inside V3DV's 16 KiB), then each invocation accumulates a 4 x 4 block
// of outputs strided across the tile. WG (spec 0) = (BM / 4) * (BN / 4).
#include "common.glsl"
#define DQ_BINDING 0
#include "dequant.glsl"

layout(std430, binding = 1) readonly buffer X { float x[]; };
layout(std430, binding = 2) writeonly buffer Out { float o[]; };

layout(push_constant) uniform Params {
    uint n_in;
    uint n_rows;     // rows of W in this binding
    uint n_tokens;
    uint row_bytes;
    uint x_stride;
    uint out_stride;
    uint out_row0;
    uint grid_x;     // row tiles per grid row (2-D grid past maxComputeWorkGroupCount)
} p;

layout(constant_id = 0) const uint WG = 256;
layout(constant_id = 1) const uint BM = 64;
layout(constant_id = 2) const uint BN = 64;
#define BK 16u

shared float sw[BK * BM];
shared float sx[BK * BN];

void main() {
    const uint tid = gl_LocalInvocationID.x;
    const uint TX = BM / 4u;
    const uint TY = BN / 4u;
    const uint tx = tid % TX;
    const uint ty = tid / TX;
    const uint tile_t = gl_WorkGroupID.z;
    const uint tile_r = gl_WorkGroupID.y * p.grid_x + gl_WorkGroupID.x;
    const uint r0 = tile_r * BM;
    if (r0 >= p.n_rows) return; // uniform
    const uint t0 = tile_t * BN;

    float acc[4][4];
    [[unroll]] for (uint i = 0u; i < 4u; i++)
        [[unroll]] for (uint j = 0u; j < 4u; j++) acc[i][j] = 0.0;

    for (uint k0 = 0u; k0 < p.n_in; k0 += BK) {
        // W tile: BM rows x BK/4 quads, stored k-major (sw[k * BM + row]).
        for (uint u = tid; u < BM * (BK / 4u); u += WG) {
            const uint r = u / (BK / 4u);
            const uint kq = u % (BK / 4u);
            const uint row = r0 + r;
            const uint k = k0 + 4u * kq;
            vec4 v = vec4(0.0);
            if (row < p.n_rows) {
#ifdef DQ_PLAIN
                const uint rb = row * p.row_bytes;
                [[unroll]] for (uint j = 0u; j < 4u; j++) {
                    if (k + j < p.n_in) v[j] = dq1(rb + (k + j) * DQ_ESIZE);
                }
#else
                const uint blk = k / DQ_QK;
                v = dq4(row * p.row_bytes + blk * DQ_BB, (k - blk * DQ_QK) / 4u);
#endif
            }
            [[unroll]] for (uint j = 0u; j < 4u; j++) sw[(4u * kq + j) * BM + r] = v[j];
        }
        // x tile: BN tokens x BK, stored k-major (sx[k * BN + token]).
        for (uint u = tid; u < BN * BK; u += WG) {
            const uint tt = u / BK;
            const uint kk = u % BK;
            const uint t = t0 + tt;
            const uint k = k0 + kk;
            sx[kk * BN + tt] = (t < p.n_tokens && k < p.n_in) ? x[t * p.x_stride + k] : 0.0;
        }
        barrier();
        [[unroll]] for (uint kk = 0u; kk < BK; kk++) {
            float a[4], b[4];
            [[unroll]] for (uint i = 0u; i < 4u; i++) a[i] = sw[kk * BM + tx + TX * i];
            [[unroll]] for (uint j = 0u; j < 4u; j++) b[j] = sx[kk * BN + ty + TY * j];
            [[unroll]] for (uint i = 0u; i < 4u; i++)
                [[unroll]] for (uint j = 0u; j < 4u; j++) acc[i][j] = fma(a[i], b[j], acc[i][j]);
        }
        barrier();
    }

    [[unroll]] for (uint i = 0u; i < 4u; i++) {
        const uint row = r0 + tx + TX * i;
        [[unroll]] for (uint j = 0u; j < 4u; j++) {
            const uint t = t0 + ty + TY * j;
            if (row < p.n_rows && t < p.n_tokens) o[t * p.out_stride + p.out_row0 + row] = acc[i][j];
        }
    }
}
