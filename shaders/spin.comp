#version 450
// Burns time on purpose (xorshift steps per invocation) so tests can exercise the submission timeout.
#include "common.glsl"

layout(std430, binding = 0) writeonly buffer D { uint d[]; };
layout(push_constant) uniform Params { uint iterations; } p;

void main() {
    uint x = gl_GlobalInvocationID.x;
    // xorshift: no closed form, so no compiler can shorten the loop.
    for (uint i = 0; i < p.iterations; i++) { x ^= x << 13; x ^= x >> 17; x ^= x << 5; }
    d[gl_GlobalInvocationID.x] = x;
}
