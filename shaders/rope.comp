#version 450
// RoPE on x[n_tokens × n_head × head_dim]: token t is at position step_pos + t. Pair i < n_rot/2
// is rotated by theta_i = pos * freq_scale * theta_scale^i, theta_scale = base^(-2/n_rot) computed
// on the host and the power taken as the CPU reference does (an iterated f32 product), so both
// backends see the same angle. Mode 0 (normal) pairs (2i, 2i+1); mode 1 (NeoX) (i, i + n_rot/2).
// Dims ≥ n_rot are copied. One invocation per rotated pair or copied element; out may alias x.
#include "common.glsl"
#include "params.glsl"

PI5_PARAMS_BINDING(0)
layout(std430, binding = 1) readonly buffer X { float x[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };

layout(push_constant) uniform Params {
    uint n_tokens; // rows recorded (≥ step_n_tokens)
    uint n_head;
    uint head_dim;
    uint n_rot;
    uint mode;
    float theta_scale;
    float freq_scale;
    uint grid_x;
} p;

// 2π in three parts (Cody-Waite): k*C1 is exact for k < 2^16, so reduction keeps f32 accuracy.
const float C1 = 6.28125;
const float C2 = 1.9353071693331003e-03;
const float C3 = 1.0253131677018246e-11;

void main() {
    const uint gid = gl_GlobalInvocationID.y * p.grid_x + gl_GlobalInvocationID.x;
    const uint half_rot = p.n_rot / 2;
    const uint per_head = p.head_dim - half_rot;
    const uint per_token = per_head * p.n_head;
    const uint t = gid / per_token;
    if (t >= p.n_tokens || t >= step_n_tokens) return;
    const uint rem = gid - t * per_token;
    const uint h = rem / per_head;
    const uint i = rem - h * per_head;
    const uint base = (t * p.n_head + h) * p.head_dim;
    if (i >= half_rot) {
        const uint j = p.n_rot + (i - half_rot);
        y[base + j] = x[base + j];
        return;
    }
    float theta = float(step_pos + t);
    for (uint k = 0; k < i; ++k) theta *= p.theta_scale;
    const float th = p.freq_scale * theta;
    const float q = round(th * 0.15915494309189535);
    const float r = ((th - q * C1) - q * C2) - q * C3;
    const float cs = cos(r);
    const float sn = sin(r);
    const uint ia = p.mode == 0 ? 2 * i : i;
    const uint ib = p.mode == 0 ? 2 * i + 1 : i + half_rot;
    const float x0 = x[base + ia];
    const float x1 = x[base + ib];
    y[base + ia] = x0 * cs - x1 * sn;
    y[base + ib] = x0 * sn + x1 * cs;
}
