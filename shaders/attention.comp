#version 450
// Attention fused over the KV cache, one workgroup per (head h, query token t):
//   out[t,h,:] = Σ_j softmax_j(q[t,h]·k[j,hk] * scale) v[j,hk],  j ≤ step_pos + t,
// hk = h / (n_head / n_head_kv) (grouped-query heads). Keys are taken in tiles of W (the
// workgroup size) with an online softmax (running max m and per-lane sums, the accumulator
// rescaled when m grows), so shared memory stays small at any context length.
//   score phase: invocation j of the tile dots q (in shared memory) with key row j0 + j;
//   value phase: the W invocations form G = W / (head_dim/2) groups of head_dim/2 lanes, each
//   lane owns a pair of output dims and sums a 1/G share of the tile's keys; the G partial
//   accumulators are added at the end.
// KV_F16: cache of packed halves read as uint words (unpackHalf2x16); else f32 pairs.
// Needs head_dim even, head_dim/2 ≤ MAX_D2 and head_dim/2 ≤ DPT * W (host-checked).
#include "common.glsl"
#include "params.glsl"
#include "reduce.glsl"

PI5_PARAMS_BINDING(0)
layout(std430, binding = 1) readonly buffer Q { float q[]; };
#ifdef KV_F16
layout(std430, binding = 2) readonly buffer K { uint kc[]; };
layout(std430, binding = 3) readonly buffer V { uint vc[]; };
#define K2(i) unpackHalf2x16(kc[i])
#define V2(i) unpackHalf2x16(vc[i])
#else
layout(std430, binding = 2) readonly buffer K { vec2 kc[]; };
layout(std430, binding = 3) readonly buffer V { vec2 vc[]; };
#define K2(i) kc[i]
#define V2(i) vc[i]
#endif
layout(std430, binding = 4) writeonly buffer O { float o[]; };

layout(push_constant) uniform Params {
    uint n_tokens; // query rows recorded (≥ step_n_tokens)
    uint n_head;
    uint n_head_kv;
    uint head_dim;
    uint n_ctx;
    float scale;
} p;

#define MAX_D2 256
#define DPT 4
shared vec2 q_sh[MAX_D2];
shared float p_sh[WG_MAX];
shared vec2 acc_sh[WG_MAX];

void main() {
    const uint h = gl_WorkGroupID.x;
    const uint t = gl_WorkGroupID.y;
    if (t >= p.n_tokens || t >= step_n_tokens) return; // uniform per workgroup
    const uint tid = gl_LocalInvocationID.x;
    const uint W = gl_WorkGroupSize.x;
    const uint D2 = p.head_dim / 2;
    const uint hk = h / (p.n_head / p.n_head_kv);
    const uint qoff = (t * p.n_head + h) * p.head_dim;
    for (uint i = tid; i < D2; i += W) q_sh[i] = vec2(q[qoff + 2 * i], q[qoff + 2 * i + 1]);
    barrier();

    const uint n_kv = min(step_pos + t + 1, p.n_ctx);
    const uint row2 = p.n_head_kv * D2; // pairs per cache row
    const uint base2 = hk * D2;
    // Value-phase lane layout.
    const uint D2c = min(D2, W);
    const uint G = max(1u, W / D2c);
    const uint g = tid / D2c;
    const uint lane = tid - g * D2c;
    const bool in_group = g < G;

    float m = -3.0e38;
    float l = 0.0;
    vec2 acc[DPT];
    [[unroll]] for (uint c = 0; c < DPT; ++c) acc[c] = vec2(0.0);

    for (uint j0 = 0; j0 < n_kv; j0 += W) {
        const uint j = j0 + tid;
        float s = -3.0e38;
        if (j < n_kv) {
            const uint kb = j * row2 + base2;
            float d = 0.0;
            for (uint i = 0; i < D2; ++i) d += dot(q_sh[i], K2(kb + i));
            s = d * p.scale;
        }
        const float m_new = max(m, wg_max(s));
        const float corr = exp(m - m_new);
        const float pj = j < n_kv ? exp(s - m_new) : 0.0;
        l = l * corr + pj;
        p_sh[tid] = pj;
        barrier();
        const uint nj = min(W, n_kv - j0);
        if (in_group) {
            [[unroll]] for (uint c = 0; c < DPT; ++c) {
                const uint i = lane + c * D2c;
                if (i < D2) {
                    vec2 a = acc[c] * corr;
                    for (uint jj = g; jj < nj; jj += G) a += p_sh[jj] * V2((j0 + jj) * row2 + base2 + i);
                    acc[c] = a;
                }
            }
        }
        barrier();
        m = m_new;
    }
    const float inv = 1.0 / wg_sum(l);
    if (G > 1) {
        // G > 1 only when D2 ≤ W/2: one pair per lane; add the groups' partial sums.
        acc_sh[tid] = in_group ? acc[0] : vec2(0.0);
        barrier();
        if (g == 0) {
            vec2 a = vec2(0.0);
            for (uint gg = 0; gg < G; ++gg) a += acc_sh[gg * D2c + lane];
            o[qoff + 2 * lane] = a.x * inv;
            o[qoff + 2 * lane + 1] = a.y * inv;
        }
    } else {
        [[unroll]] for (uint c = 0; c < DPT; ++c) {
            const uint i = lane + c * D2c;
            if (i < D2) {
                o[qoff + 2 * i] = acc[c].x * inv;
                o[qoff + 2 * i + 1] = acc[c].y * inv;
            }
        }
    }
}
