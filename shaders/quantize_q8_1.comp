#version 450
// Activations to int8 blocks for the integer-dot-product mat-vec (llama.cpp's Q8_1 numerics):
// per 32-element block of each token row, d = max|x| / 127, q = round(x / d) (0 when d = 0).
// Output: 10 words per block, block b = t * (n_in / 32) + j: words 0..7 the 32 int8 quants
// packed little-endian, word 8 d (f32 bits), word 9 d · Σq (f32 bits, for offset types).
// One invocation per block; n_in must be a multiple of 32.
#include "common.glsl"

layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer Q { uint q[]; };

layout(push_constant) uniform Params {
    uint n_in;     // elements per token row
    uint n_tokens; // token rows
    uint x_stride; // floats between token rows of x
    uint grid_x;   // invocations per grid row (2-D grid past maxComputeWorkGroupCount)
} p;

void main() {
    const uint b = gl_GlobalInvocationID.y * p.grid_x + gl_GlobalInvocationID.x;
    const uint nb = p.n_in / 32u;
    if (b >= nb * p.n_tokens) return;
    const uint t = b / nb;
    const uint x0 = t * p.x_stride + (b - t * nb) * 32u;
    float amax = 0.0;
    for (uint i = 0u; i < 32u; i++) amax = max(amax, abs(x[x0 + i]));
    const float d = amax / 127.0;
    const float id = d != 0.0 ? 1.0 / d : 0.0;
    int sum = 0;
    [[unroll]] for (uint w = 0u; w < 8u; w++) {
        uint packed = 0u;
        [[unroll]] for (uint e = 0u; e < 4u; e++) {
            const int v = clamp(int(round(x[x0 + 4u * w + e] * id)), -127, 127);
            sum += v;
            packed |= uint(v & 0xFF) << (8u * e);
        }
        q[10u * b + w] = packed;
    }
    q[10u * b + 8u] = floatBitsToUint(d);
    q[10u * b + 9u] = floatBitsToUint(d * float(sum));
}
