#version 450
// Layer norm: y = (x - mean) / sqrt(var + eps) [* w] [+ b], one workgroup per row of n_cols.
#include "common.glsl"
#include "reduce.glsl"

layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer Wt { float w[]; };
layout(std430, binding = 2) readonly buffer B { float b[]; };
layout(std430, binding = 3) writeonly buffer Y { float y[]; };

layout(push_constant) uniform Params {
    uint n_cols;
    uint n_rows;
    uint has_weight;
    uint has_bias;
    float eps;
} p;

void main() {
    const uint row = wg_row();
    if (row >= p.n_rows) return;
    const uint tid = gl_LocalInvocationID.x;
    const uint base = row * p.n_cols;
    const float nf = float(p.n_cols);
    float s = 0.0;
    for (uint i = tid; i < p.n_cols; i += gl_WorkGroupSize.x) s += x[base + i];
    const float mean = wg_sum(s) / nf;
    float s2 = 0.0;
    for (uint i = tid; i < p.n_cols; i += gl_WorkGroupSize.x) {
        const float d = x[base + i] - mean;
        s2 += d * d;
    }
    const float sc = 1.0 / sqrt(wg_sum(s2) / nf + p.eps);
    for (uint i = tid; i < p.n_cols; i += gl_WorkGroupSize.x) {
        float v = (x[base + i] - mean) * sc;
        if (p.has_weight != 0) v *= w[i];
        if (p.has_bias != 0) v += b[i];
        y[base + i] = v;
    }
}
