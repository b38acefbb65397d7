#version 450
// Burns time on purpose (an LCG per invocation) so tests can exercise the submission timeout.
#include "common.glsl"

layout(std430, binding = 0) writeonly buffer D { uint d[]; };
layout(push_constant) uniform Params { uint iterations; } p;

void main() {
    uint x = gl_GlobalInvocationID.x;
    for (uint i = 0; i < p.iterations; i++) x = x * 1664525u + 1013904223u;
    d[gl_GlobalInvocationID.x] = x;
}
