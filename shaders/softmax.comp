#version 450
// y = softmax(x * scale) per row of n_cols, one workgroup per row. Causal: row r is the query at
// position step_pos + (r / row_div) % row_period and sees columns 0..that position; later columns
// get 0. (Head-major scores: row_div 1, row_period n_tokens; token-major rows as the graph lays
// them out: row_div = rows per token, row_period = n_rows.)
// In place allowed (every element is read, then written, by the same invocation).
#include "common.glsl"
#include "params.glsl"
#include "reduce.glsl"

PI5_PARAMS_BINDING(0)
layout(std430, binding = 1) readonly buffer X { float x[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };

layout(push_constant) uniform Params {
    uint n_cols;
    uint n_rows;
    float scale;
    uint causal;
    uint row_period; // positions per cycle (n_rows when one head)
    uint row_div;    // consecutive rows sharing one position
} p;

void main() {
    const uint row = wg_row();
    if (row >= p.n_rows) return;
    const uint tid = gl_LocalInvocationID.x;
    const uint base = row * p.n_cols;
    const uint n_valid = p.causal != 0 ? min(p.n_cols, step_pos + (row / p.row_div) % p.row_period + 1) : p.n_cols;
    float m = -3.0e38;
    for (uint i = tid; i < n_valid; i += gl_WorkGroupSize.x) m = max(m, x[base + i] * p.scale);
    m = wg_max(m);
    float s = 0.0;
    for (uint i = tid; i < n_valid; i += gl_WorkGroupSize.x) s += exp(x[base + i] * p.scale - m);
    const float inv = 1.0 / wg_sum(s);
    for (uint i = tid; i < p.n_cols; i += gl_WorkGroupSize.x) {
        y[base + i] = i < n_valid ? exp(x[base + i] * p.scale - m) * inv : 0.0;
    }
}
