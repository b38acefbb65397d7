#version 450
// Prompt matrix-matrix product for F16 weights on NV cooperative matrices (GL_NV_cooperative_matrix):
//   out[t][out_row0 + r] = sum_k W[r][k] * x[t][k]
// A workgroup of 4 subgroups computes a 64 (weight rows) x 32 (tokens) tile: every 16-wide k step
// it stages W (f16 as stored) and x (rounded to f16) in shared memory, and subgroup s multiplies
// its 16 x 16 slice of W by both 16-token halves of x into f32 accumulators (16x16x16, the shape
// every NV device lists). Results go through shared memory so that edge tiles store in bounds.
// WG (spec 0) must be 4 x the subgroup size (4 subgroups). Chosen only when
// report.cooperative_matrix_nv and shader_float16; UNTESTED on hardware (lavapipe lacks it).
#extension GL_NV_cooperative_matrix : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_KHR_shader_subgroup_basic : require
// Matrix scope 3 = gl_ScopeSubgroup, written as a literal: the named constant needs
// GL_KHR_memory_scope_semantics, which would pull in the Vulkan memory model.
#include "common.glsl"
#define DQ_BINDING 0
#define DQ_F16
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

layout(constant_id = 0) const uint WG = 128;
layout(constant_id = 1) const uint BM = 64; // fixed by the code: 4 subgroups x 16 rows
layout(constant_id = 2) const uint BN = 32; // fixed by the code: 2 x 16 tokens
#define TM 64u
#define TN 32u
#define BK 16u

shared float16_t sw[TM * BK]; // [row][k]
shared float16_t sx[TN * BK]; // [token][k]
shared float sc[TN * TM];     // [token][row]

void main() {
    const uint tid = gl_LocalInvocationID.x;
    const uint sg = gl_SubgroupID;
    const uint tile_r = gl_WorkGroupID.y * p.grid_x + gl_WorkGroupID.x;
    const uint r0 = tile_r * TM;
    if (r0 >= p.n_rows) return; // uniform
    const uint t0 = gl_WorkGroupID.z * TN;

    fcoopmatNV<32, 3, 16, 16> c0 = fcoopmatNV<32, 3, 16, 16>(0.0);
    fcoopmatNV<32, 3, 16, 16> c1 = fcoopmatNV<32, 3, 16, 16>(0.0);

    for (uint k0 = 0u; k0 < p.n_in; k0 += BK) {
        for (uint i = tid; i < TM * BK; i += WG) {
            const uint r = r0 + i / BK, k = k0 + i % BK;
            sw[i] = (r < p.n_rows && k < p.n_in) ? float16_t(dq1(r * p.row_bytes + k * DQ_ESIZE)) : float16_t(0.0);
        }
        for (uint i = tid; i < TN * BK; i += WG) {
            const uint t = t0 + i / BK, k = k0 + i % BK;
            sx[i] = (t < p.n_tokens && k < p.n_in) ? float16_t(x[t * p.x_stride + k]) : float16_t(0.0);
        }
        barrier();
        if (sg < 4u) {
            fcoopmatNV<16, 3, 16, 16> a;
            fcoopmatNV<16, 3, 16, 16> b;
            coopMatLoadNV(a, sw, sg * 16u * BK, BK, false);  // A[m][k] = W[16 sg + m][k]
            coopMatLoadNV(b, sx, 0u, BK, true);              // B[k][n] = x[n][k]
            c0 = coopMatMulAddNV(a, b, c0);
            coopMatLoadNV(b, sx, 16u * BK, BK, true);
            c1 = coopMatMulAddNV(a, b, c1);
        }
        barrier();
    }
    if (sg < 4u) {
        // C[m][n] -> sc[n][16 sg + m]: column-major with stride TM.
        coopMatStoreNV(c0, sc, sg * 16u, TM, true);
        coopMatStoreNV(c1, sc, 16u * TM + sg * 16u, TM, true);
    }
    barrier();
    for (uint i = tid; i < TN * TM; i += WG) {
        const uint t = t0 + i / TM, r = r0 + i % TM;
        if (r < p.n_rows && t < p.n_tokens) o[t * p.out_stride + p.out_row0 + r] = sc[i];
    }
}
