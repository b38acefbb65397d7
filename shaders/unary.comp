#version 450
// Element-wise unary ops over f32: OP_SILU, OP_GELU (tanh form, as ggml), OP_SCALE (x * s).
#include "common.glsl"

layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer Y { float y[]; };

layout(push_constant) uniform Params {
    uint n;
    uint grid_x;
    float s; // OP_SCALE's factor
} p;

const float SQRT_2_OVER_PI = 0.79788456080286535587989211986876;
const float GELU_COEF_A = 0.044715;

void main() {
    const uint i = gl_GlobalInvocationID.y * p.grid_x + gl_GlobalInvocationID.x;
    if (i >= p.n) return;
    const float v = x[i];
#if defined(OP_SILU)
    y[i] = v / (1.0 + exp(-v));
#elif defined(OP_GELU)
    const float z = SQRT_2_OVER_PI * v * (1.0 + GELU_COEF_A * v * v);
    // tanh(z) = 1 - 2/(e^2z + 1): saturates to ±1 without inf/inf for large |z|.
    const float th = 1.0 - 2.0 / (exp(2.0 * z) + 1.0);
    y[i] = 0.5 * v * (1.0 + th);
#elif defined(OP_SCALE)
    y[i] = v * p.s;
#else
#error "unary.comp needs OP_SILU, OP_GELU or OP_SCALE"
#endif
}
