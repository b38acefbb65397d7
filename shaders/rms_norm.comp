#version 450
// y = x / sqrt(mean(x²) + eps) [* w], one workgroup per row of n_cols.
#include "common.glsl"
#include "reduce.glsl"

layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer Wt { float w[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };

layout(push_constant) uniform Params {
    uint n_cols;
    uint n_rows;
    uint has_weight;
    float eps;
} p;

void main() {
    const uint row = wg_row();
    if (row >= p.n_rows) return; // uniform per workgroup
    const uint tid = gl_LocalInvocationID.x;
    const uint base = row * p.n_cols;
    float s = 0.0;
    for (uint i = tid; i < p.n_cols; i += gl_WorkGroupSize.x) {
        const float v = x[base + i];
        s += v * v;
    }
    s = wg_sum(s);
    const float sc = 1.0 / sqrt(s / float(p.n_cols) + p.eps);
    for (uint i = tid; i < p.n_cols; i += gl_WorkGroupSize.x) {
        float v = x[base + i] * sc;
        if (p.has_weight != 0) v *= w[i];
        y[base + i] = v;
    }
}
