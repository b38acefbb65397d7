#version 450
// KV-cache store: cache row step_pos + t = src row t, for t < step_n_tokens (rows past n_ctx are
// skipped; the host checks capacity). KV_F16: the cache holds packed halves, one invocation per
// 32-bit word (row length even); otherwise f32, one invocation per element.
#include "common.glsl"
#include "params.glsl"

PI5_PARAMS_BINDING(0)
layout(std430, binding = 1) readonly buffer S { float src[]; };
#ifdef KV_F16
layout(std430, binding = 2) writeonly buffer C { uint cache[]; };
#else
layout(std430, binding = 2) writeonly buffer C { float cache[]; };
#endif

layout(push_constant) uniform Params {
    uint row;      // elements per token row (n_head_kv * head_dim)
    uint n_ctx;    // cache rows
    uint n_tokens; // rows of src (the most any step stores)
    uint grid_x;
} p;

void main() {
    const uint i = gl_GlobalInvocationID.y * p.grid_x + gl_GlobalInvocationID.x;
#ifdef KV_F16
    const uint e = 2 * i;
#else
    const uint e = i;
#endif
    const uint t = e / p.row;
    if (t >= p.n_tokens || t >= step_n_tokens) return;
    const uint pos = step_pos + t;
    if (pos >= p.n_ctx) return;
    const uint c = e - t * p.row;
#ifdef KV_F16
    cache[(pos * p.row + c) >> 1] = packHalf2x16(vec2(src[e], src[e + 1]));
#else
    cache[pos * p.row + c] = src[e];
#endif
}
