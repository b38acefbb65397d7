//! What an architecture file (core/model/arch/<name>.zig) describes, once: its hyperparameter
//! keys (llama.cpp's names), its tensor table (names, shapes in model dimensions, required or
//! optional, the quantizer's Q4_K_M rule), and a `build()` that emits the forward as a graph.
//! The loader (core/model/weights.zig), the synthetic-model generator (core/gguf/synth.zig) and
//! the quantizer (core/model/quantize.zig) all read the same table; the registry (registry.zig)
//! is the only list of architectures.
const std = @import("std");

/// A model dimension a tensor's shape is written in.
pub const Dim = enum {
    one,
    /// n_embd
    embd,
    /// n_head_kv · head_dim
    kv,
    /// n_embd + 2 · kv (fused Q, K, V)
    qkv,
    /// n_ff
    ff,
    /// n_vocab
    vocab,
    /// n_ctx_train (learned positions; the loader takes it from the tensor when the key is absent)
    ctx,
};

pub const Kind = enum {
    /// x · Wᵀ weight, ne = [n_in, n_out]; random N(0, 1/n_in) in synthetic models.
    matrix,
    /// 1-D scale, converted to f32 at load; 1 in synthetic models.
    norm,
    /// 1-D bias, converted to f32 at load; 0 in synthetic models.
    bias,
};

pub const Need = enum {
    required,
    optional,
    /// Required unless the layer has the fused `attn_qkv.weight`.
    unless_fused_qkv,
    /// Required when the layer has the fused `attn_qkv.weight`, else absent.
    with_fused_qkv,
};

/// The tensor's type under llama.cpp's Q4_K_M mix (core/model/quantize.zig).
pub const QRule = enum {
    /// Q4_K.
    base,
    /// Q6_K in the layers llama.cpp's use_more_bits picks, else Q4_K.
    more_bits,
    /// Q6_K (the output matrix).
    output,
    /// Q6_K when the model has no output.weight (the embedding is then the output), else Q4_K.
    tied_output,
};

pub const Tensor = struct {
    /// GGUF name; per-layer tensors without their "blk.N." prefix.
    name: []const u8,
    per_layer: bool = true,
    /// [n_in, n_out] for matrices, [n, one] for vectors.
    ne: [2]Dim,
    kind: Kind,
    need: Need = .required,
    q4_k_m: QRule = .base,
    /// Written by core/gguf/synth (false for the alternative layout of the same weights).
    synth: bool = true,
};

pub const NormKind = enum { rms, layer };

pub const Rope = struct {
    mode: enum { normal, neox },
    /// rope.dimension_count when the file has none: the whole head or half of it (partial rotary).
    default_dims: enum { whole, half },
    /// freq_base synth writes (llama.cpp's default 10000 is used when the key is absent).
    synth_freq_base: ?f32 = null,
};

/// The architecture-specific part of the hyperparameters; the common keys
/// ({arch}.embedding_length, block_count, feed_forward_length, attention.head_count,
/// attention.head_count_kv, context_length, rope.*) are read by core/model/weights.zig.
pub const Hparams = struct {
    norm: NormKind,
    /// The epsilon key: attention.layer_norm_rms_epsilon or attention.layer_norm_epsilon.
    eps_key: []const u8,
    /// null: no rotary embedding (learned positions).
    rope: ?Rope,
    /// Whether synth writes attention.head_count_kv (gpt2's files have none: n_head_kv = n_head).
    synth_head_count_kv: bool = true,
    /// Positions are a learned table of n_ctx_train rows: n_ctx may not be larger.
    learned_positions: bool = false,
};

/// What the registry keeps of each architecture.
pub const Desc = struct {
    hparams: Hparams,
    tensors: []const Tensor,
    /// Emits the forward into the builder (core/model/arch/builder.zig).
    build: *const fn (b: *@import("builder.zig").Builder) anyerror!void,

    /// Index of the tensor named `name` (per-layer names without "blk.N."), or null.
    pub fn find(d: *const Desc, name: []const u8) ?usize {
        for (d.tensors, 0..) |t, i| if (std.mem.eql(u8, t.name, name)) return i;
        return null;
    }
};

/// The tensor of a GGUF name in `d`'s table and its layer ("blk.12.attn_v.weight" → attn_v.weight, 12).
pub fn lookup(d: *const Desc, gguf_name: []const u8) ?struct { index: usize, layer: ?u32 } {
    if (std.mem.startsWith(u8, gguf_name, "blk.")) {
        const rest = gguf_name[4..];
        const dot = std.mem.indexOfScalar(u8, rest, '.') orelse return null;
        const il = std.fmt.parseInt(u32, rest[0..dot], 10) catch return null;
        const i = d.find(rest[dot + 1 ..]) orelse return null;
        if (!d.tensors[i].per_layer) return null;
        return .{ .index = i, .layer = il };
    }
    const i = d.find(gguf_name) orelse return null;
    if (d.tensors[i].per_layer) return null;
    return .{ .index = i, .layer = null };
}

/// Sizes of the dimensions for one model.
pub const Dims = struct {
    n_embd: u64,
    n_kv: u64,
    n_ff: u64,
    n_vocab: u64,
    n_ctx: u64,

    pub fn of(d: Dims, dim: Dim) u64 {
        return switch (dim) {
            .one => 1,
            .embd => d.n_embd,
            .kv => d.n_kv,
            .qkv => d.n_embd + 2 * d.n_kv,
            .ff => d.n_ff,
            .vocab => d.n_vocab,
            .ctx => d.n_ctx,
        };
    }
};
