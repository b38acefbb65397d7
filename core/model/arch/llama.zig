//! llama (Llama 2, TinyLlama, Mistral, llama2.c's stories): pre-norm RMSNorm, RoPE on adjacent
//! pairs, grouped-query attention, SwiGLU feed-forward, no biases (optional Q/K/V biases), the
//! output matrix optionally tied to the token embedding.
const spec = @import("spec.zig");
const Builder = @import("builder.zig").Builder;

pub const desc = spec.Desc{
    .hparams = .{
        .norm = .rms,
        .eps_key = "attention.layer_norm_rms_epsilon",
        .rope = .{ .mode = .normal, .default_dims = .whole, .synth_freq_base = 10000 },
    },
    .tensors = &tensors,
    .build = build,
};

const tensors = [_]spec.Tensor{
    .{ .name = "token_embd.weight", .per_layer = false, .ne = .{ .embd, .vocab }, .kind = .matrix, .q4_k_m = .tied_output },
    .{ .name = "attn_norm.weight", .ne = .{ .embd, .one }, .kind = .norm },
    .{ .name = "attn_q.weight", .ne = .{ .embd, .embd }, .kind = .matrix, .need = .unless_fused_qkv },
    .{ .name = "attn_k.weight", .ne = .{ .embd, .kv }, .kind = .matrix, .need = .unless_fused_qkv },
    .{ .name = "attn_v.weight", .ne = .{ .embd, .kv }, .kind = .matrix, .need = .unless_fused_qkv, .q4_k_m = .more_bits },
    .{ .name = "attn_q.bias", .ne = .{ .embd, .one }, .kind = .bias, .need = .optional, .synth = false },
    .{ .name = "attn_k.bias", .ne = .{ .kv, .one }, .kind = .bias, .need = .optional, .synth = false },
    .{ .name = "attn_v.bias", .ne = .{ .kv, .one }, .kind = .bias, .need = .optional, .synth = false },
    .{ .name = "attn_qkv.weight", .ne = .{ .embd, .qkv }, .kind = .matrix, .need = .optional, .synth = false },
    .{ .name = "attn_qkv.bias", .ne = .{ .qkv, .one }, .kind = .bias, .need = .optional, .synth = false },
    .{ .name = "attn_output.weight", .ne = .{ .embd, .embd }, .kind = .matrix },
    .{ .name = "attn_output.bias", .ne = .{ .embd, .one }, .kind = .bias, .need = .optional, .synth = false },
    .{ .name = "ffn_norm.weight", .ne = .{ .embd, .one }, .kind = .norm },
    .{ .name = "ffn_gate.weight", .ne = .{ .embd, .ff }, .kind = .matrix },
    .{ .name = "ffn_down.weight", .ne = .{ .ff, .embd }, .kind = .matrix, .q4_k_m = .more_bits },
    .{ .name = "ffn_up.weight", .ne = .{ .embd, .ff }, .kind = .matrix },
    .{ .name = "output_norm.weight", .per_layer = false, .ne = .{ .embd, .one }, .kind = .norm },
    .{ .name = "output.weight", .per_layer = false, .ne = .{ .embd, .vocab }, .kind = .matrix, .need = .optional, .q4_k_m = .output },
};

fn build(b: *Builder) !void {
    var x = b.embd; // [n_embd, T] residual stream
    for (0..b.hp.n_layer) |il| {
        b.setLayer(il);
        x = try b.g.add(x, try b.attention(try b.norm(x, "attn_norm")));
        const h = try b.norm(x, "ffn_norm");
        const gate = try b.linear("ffn_gate", h); // [n_ff, T]
        const up = try b.linear("ffn_up", h); // [n_ff, T]
        x = try b.g.add(x, try b.linear("ffn_down", try b.g.swiglu(gate, up)));
    }
    try b.output(x);
}
