//! Parameters of the ops that have more than one scalar, written once and shared by the graph
//! (core/graph), the GPU kernels (core/kernels/ops.zig) and the CPU ops (core/cpu/ops.zig), so
//! that no layer converts one struct into another by hand.
const std = @import("std");

/// Largest head_dim (and RoPE n_rot) any backend supports: the CPU keeps per-thread stack
/// accumulators of this many floats, shaders/attention.comp has MAX_D2 = max_head_dim / 2 pairs.
pub const max_head_dim = 512;

pub const RopeMode = enum(u8) {
    /// LLaMA: rotate adjacent pairs (x[2i], x[2i+1]).
    normal = 0,
    /// GPT-NeoX / Phi / Qwen: rotate (x[i], x[i + n_rot/2]). (ggml's GGML_ROPE_TYPE_NEOX = 2.)
    neox = 2,
};

pub const Rope = struct {
    /// Rotated dims per head (even, ≤ head_dim, ≤ max_head_dim); the rest pass through (Phi's
    /// partial rotary).
    n_rot: u32,
    mode: RopeMode = .normal,
    freq_base: f32 = 10000.0,
    /// Linear position scaling (1 / rope scale factor).
    freq_scale: f32 = 1.0,

    /// The per-pair angle factor, base^(-2/n_rot), as every backend computes it (f32 pow).
    pub fn thetaScale(p: Rope) f32 {
        return std.math.pow(f32, p.freq_base, -2.0 / @as(f32, @floatFromInt(p.n_rot)));
    }
};

/// Causal attention of n_head query heads over n_head_kv KV heads (GQA: n_head % n_head_kv == 0)
/// of head_dim each. The graph builder fills n_head and head_dim from q's shape when they are 0.
pub const Attention = struct {
    n_head: u32 = 0,
    n_head_kv: u32,
    head_dim: u32 = 0,
    /// Score scale; null = 1/sqrt(head_dim).
    scale: ?f32 = null,

    pub fn scaleOrDefault(p: Attention) f32 {
        return p.scale orelse 1.0 / @sqrt(@as(f32, @floatFromInt(p.head_dim)));
    }
};

/// What changes per step in an attention call (the CPU op takes it as an argument; the GPU
/// kernels read it from StepParams).
pub const AttentionStep = struct {
    n_tokens: usize,
    /// Position of the first query row; query t sees keys 0..pos0+t (causal).
    pos0: usize,
    /// Rows the KV cache holds (its capacity); must be ≥ pos0 + n_tokens.
    n_ctx: usize,
};
