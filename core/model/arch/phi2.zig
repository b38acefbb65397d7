//! phi2 (Microsoft Phi-2): LayerNorm with biases, partial NeoX RoPE (half the head by default),
//! attention and the GELU MLP in parallel from the same normed input, biased output matrix.
const spec = @import("spec.zig");
const Builder = @import("builder.zig").Builder;

pub const desc = spec.Desc{
    .hparams = .{
        .norm = .layer,
        .eps_key = "attention.layer_norm_epsilon",
        .rope = .{ .mode = .neox, .default_dims = .half },
    },
    .tensors = &tensors,
    .build = build,
};

const tensors = [_]spec.Tensor{
    .{ .name = "token_embd.weight", .per_layer = false, .ne = .{ .embd, .vocab }, .kind = .matrix, .q4_k_m = .tied_output },
    .{ .name = "attn_norm.weight", .ne = .{ .embd, .one }, .kind = .norm },
    .{ .name = "attn_norm.bias", .ne = .{ .embd, .one }, .kind = .bias },
    .{ .name = "attn_qkv.weight", .ne = .{ .embd, .qkv }, .kind = .matrix, .need = .optional },
    .{ .name = "attn_qkv.bias", .ne = .{ .qkv, .one }, .kind = .bias, .need = .with_fused_qkv },
    .{ .name = "attn_q.weight", .ne = .{ .embd, .embd }, .kind = .matrix, .need = .unless_fused_qkv, .synth = false },
    .{ .name = "attn_k.weight", .ne = .{ .embd, .kv }, .kind = .matrix, .need = .unless_fused_qkv, .synth = false },
    .{ .name = "attn_v.weight", .ne = .{ .embd, .kv }, .kind = .matrix, .need = .unless_fused_qkv, .q4_k_m = .more_bits, .synth = false },
    .{ .name = "attn_q.bias", .ne = .{ .embd, .one }, .kind = .bias, .need = .optional, .synth = false },
    .{ .name = "attn_k.bias", .ne = .{ .kv, .one }, .kind = .bias, .need = .optional, .synth = false },
    .{ .name = "attn_v.bias", .ne = .{ .kv, .one }, .kind = .bias, .need = .optional, .synth = false },
    .{ .name = "attn_output.weight", .ne = .{ .embd, .embd }, .kind = .matrix },
    .{ .name = "attn_output.bias", .ne = .{ .embd, .one }, .kind = .bias },
    .{ .name = "ffn_up.weight", .ne = .{ .embd, .ff }, .kind = .matrix },
    .{ .name = "ffn_up.bias", .ne = .{ .ff, .one }, .kind = .bias },
    .{ .name = "ffn_down.weight", .ne = .{ .ff, .embd }, .kind = .matrix, .q4_k_m = .more_bits },
    .{ .name = "ffn_down.bias", .ne = .{ .embd, .one }, .kind = .bias },
    .{ .name = "output_norm.weight", .per_layer = false, .ne = .{ .embd, .one }, .kind = .norm },
    .{ .name = "output_norm.bias", .per_layer = false, .ne = .{ .embd, .one }, .kind = .bias },
    .{ .name = "output.weight", .per_layer = false, .ne = .{ .embd, .vocab }, .kind = .matrix, .need = .optional, .q4_k_m = .output },
    .{ .name = "output.bias", .per_layer = false, .ne = .{ .vocab, .one }, .kind = .bias, .need = .optional },
};

fn build(b: *Builder) !void {
    var x = b.embd; // [n_embd, T] residual stream
    for (0..b.hp.n_layer) |il| {
        b.setLayer(il);
        const h = try b.norm(x, "attn_norm");
        const a = try b.attention(h);
        const f = try b.linear("ffn_down", try b.g.gelu(try b.linear("ffn_up", h))); // [n_embd, T]
        x = try b.g.add(try b.g.add(x, a), f);
    }
    try b.output(x);
}
