#version 450
// Element-wise binary ops over f32: d[i] = a[i] OP b[i % n_b] (b broadcast over rows when it
// is one row; n_b = n for a full operand). OP_SWIGLU: d = silu(a) * b (a = gate, b = up).
// Output may alias an input (each element is read then written by one invocation).
#include "common.glsl"

layout(std430, binding = 0) readonly buffer A { float a[]; };
layout(std430, binding = 1) readonly buffer B { float b[]; };
layout(std430, binding = 2) writeonly buffer D { float d[]; };

layout(push_constant) uniform Params {
    uint n;      // elements in a and d
    uint n_b;    // elements in b (n is a multiple of it)
    uint grid_x; // invocations per grid row (vk.grid1D may fold the grid into y)
} p;

void main() {
    const uint i = gl_GlobalInvocationID.y * p.grid_x + gl_GlobalInvocationID.x;
    if (i >= p.n) return;
#if defined(OP_ADD)
    d[i] = a[i] + b[i % p.n_b];
#elif defined(OP_MUL)
    d[i] = a[i] * b[i % p.n_b];
#elif defined(OP_SWIGLU)
    const float g = a[i];
    d[i] = g / (1.0 + exp(-g)) * b[i % p.n_b];
#else
#error "binary.comp needs OP_ADD, OP_MUL or OP_SWIGLU"
#endif
}
