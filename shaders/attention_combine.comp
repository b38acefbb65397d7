#version 450
// Second pass of split-K attention: merges the n_split partials (m, l, acc[head_dim]) of each
// (token t, head h) written by attention.comp -DSPLIT:
//   out = Σ_s acc_s e^(m_s - M) / Σ_s l_s e^(m_s - M),  M = max_s m_s.
// One workgroup per (h, t); invocations over head_dim. Empty splits carry l = 0, m = -3e38.
#include "common.glsl"
#include "params.glsl"

PI5_PARAMS_BINDING(0)
layout(std430, binding = 1) readonly buffer Part { float part[]; };
layout(std430, binding = 2) writeonly buffer O { float o[]; };

layout(push_constant) uniform Params {
    uint n_tokens;
    uint n_head;
    uint head_dim;
    uint n_split;
} p;

void main() {
    const uint h = gl_WorkGroupID.x;
    const uint t = gl_WorkGroupID.y;
    if (t >= p.n_tokens || t >= step_n_tokens) return;
    const uint stride = p.head_dim + 2;
    const uint base = (t * p.n_head + h) * p.n_split * stride;
    float M = -3.0e38;
    for (uint s = 0; s < p.n_split; ++s) M = max(M, part[base + s * stride]);
    float L = 0.0;
    for (uint s = 0; s < p.n_split; ++s) L += part[base + s * stride + 1] * exp(part[base + s * stride] - M);
    const float inv = 1.0 / L;
    const uint qoff = (t * p.n_head + h) * p.head_dim;
    for (uint d = gl_LocalInvocationID.x; d < p.head_dim; d += gl_WorkGroupSize.x) {
        float a = 0.0;
        for (uint s = 0; s < p.n_split; ++s) a += part[base + s * stride + 2 + d] * exp(part[base + s * stride] - M);
        o[qoff + d] = a * inv;
    }
}
