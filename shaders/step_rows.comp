#version 450
// Per-step row helpers that read StepParams, so that a recorded graph needs no host work:
//  LAST_ROW:  y[i] = x[(step_n_tokens - 1) * n_cols + i] (the last token's row: the LM head input)
//  POSITIONS: y[t] = step_pos + t for t < n (position ids; rows >= step_n_tokens are harmless)
#include "common.glsl"
#include "params.glsl"

PI5_PARAMS_BINDING(0)

layout(push_constant) uniform Params {
    uint n; // LAST_ROW: n_cols; POSITIONS: rows
    uint grid_x;
} p;

#if defined(LAST_ROW)
layout(std430, binding = 1) readonly buffer X { float x[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };
void main() {
    const uint i = gl_GlobalInvocationID.y * p.grid_x + gl_GlobalInvocationID.x;
    if (i >= p.n) return;
    const uint row = step_n_tokens > 0 ? step_n_tokens - 1 : 0;
    y[i] = x[row * p.n + i];
}
#elif defined(POSITIONS)
layout(std430, binding = 1) writeonly buffer Y { int y[]; };
void main() {
    const uint i = gl_GlobalInvocationID.y * p.grid_x + gl_GlobalInvocationID.x;
    if (i >= p.n) return;
    y[i] = int(step_pos + i);
}
#else
#error "define LAST_ROW or POSITIONS"
#endif
