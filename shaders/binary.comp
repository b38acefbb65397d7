#version 450
// dst[i] = a[i] OP b[i % n_b]: element-wise add or mul, b broadcast over rows when shorter.
#include "common.glsl"

layout(std430, binding = 0) readonly buffer A { float a[]; };
layout(std430, binding = 1) readonly buffer B { float b[]; };
layout(std430, binding = 2) writeonly buffer D { float d[]; };

layout(push_constant) uniform Params {
    uint n;    // elements in a and d
    uint n_b;  // elements in b (n is a multiple of it)
    uint grid_x; // invocations per grid row (dispatch may be 2-D past maxComputeWorkGroupCount)
} p;

void main() {
    const uint i = gl_GlobalInvocationID.y * p.grid_x + gl_GlobalInvocationID.x;
    if (i >= p.n) return;
#if defined(OP_ADD)
    d[i] = a[i] + b[i % p.n_b];
#elif defined(OP_MUL)
    d[i] = a[i] * b[i % p.n_b];
#else
#error "binary.comp needs OP_ADD or OP_MUL"
#endif
}
