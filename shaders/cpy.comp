#version 450
// Copy/convert: CPY_F32_F16, CPY_F16_F32, CPY_F32_F32. F16 data is read and written as packed
// uint words (unpackHalf2x16/packHalf2x16): no 16-bit storage or arithmetic needed. One
// invocation per 32-bit word of the F16 side (two elements). Views start word-aligned.
#include "common.glsl"

layout(push_constant) uniform Params {
    uint n; // elements
    uint grid_x;
} p;

#if defined(CPY_F32_F16)
layout(std430, binding = 0) readonly buffer S { float s[]; };
layout(std430, binding = 1) buffer D { uint d[]; };
void main() {
    const uint w = gl_GlobalInvocationID.y * p.grid_x + gl_GlobalInvocationID.x;
    const uint e = 2 * w;
    if (e >= p.n) return;
    if (e + 1 < p.n) {
        d[w] = packHalf2x16(vec2(s[e], s[e + 1]));
    } else {
        // Odd tail: keep the upper half, which belongs to whatever follows the view.
        atomicAnd(d[w], 0xFFFF0000u);
        atomicOr(d[w], packHalf2x16(vec2(s[e], 0.0)) & 0xFFFFu);
    }
}
#elif defined(CPY_F16_F32)
layout(std430, binding = 0) readonly buffer S { uint s[]; };
layout(std430, binding = 1) writeonly buffer D { float d[]; };
void main() {
    const uint w = gl_GlobalInvocationID.y * p.grid_x + gl_GlobalInvocationID.x;
    const uint e = 2 * w;
    if (e >= p.n) return;
    const vec2 v = unpackHalf2x16(s[w]);
    d[e] = v.x;
    if (e + 1 < p.n) d[e + 1] = v.y;
}
#elif defined(CPY_F32_F32)
layout(std430, binding = 0) readonly buffer S { float s[]; };
layout(std430, binding = 1) writeonly buffer D { float d[]; };
void main() {
    const uint i = gl_GlobalInvocationID.y * p.grid_x + gl_GlobalInvocationID.x;
    if (i >= p.n) return;
    d[i] = s[i];
}
#else
#error "cpy.comp needs CPY_F32_F16, CPY_F16_F32 or CPY_F32_F32"
#endif
