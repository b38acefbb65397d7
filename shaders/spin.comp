#version 450
// Burns time on purpose (xorshift steps per invocation) so tests can exercise the submission
// timeout. Two nested loops: llvmpipe (lavapipe) caps every loop at 65535 iterations.
#include "common.glsl"

layout(std430, binding = 0) writeonly buffer D { uint d[]; };
layout(push_constant) uniform Params { uint outer; } p;

void main() {
    uint x = gl_GlobalInvocationID.x + 1u;
    for (uint o = 0; o < p.outer; o++) {
        for (uint i = 0; i < 60000u; i++) { x ^= x << 13; x ^= x >> 17; x ^= x << 5; }
    }
    d[gl_GlobalInvocationID.x] = x;
}
