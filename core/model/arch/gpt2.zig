//! gpt2: learned position embeddings, pre-norm LayerNorm with biases, fused biased Q/K/V, GELU
//! MLP, no rotary embedding.
const spec = @import("spec.zig");
const Builder = @import("builder.zig").Builder;

pub const desc = spec.Desc{
    .hparams = .{
        .norm = .layer,
        .eps_key = "attention.layer_norm_epsilon",
        .rope = null,
        .synth_head_count_kv = false,
        .learned_positions = true,
    },
    .tensors = &tensors,
    .build = build,
};

const tensors = [_]spec.Tensor{
    .{ .name = "token_embd.weight", .per_layer = false, .ne = .{ .embd, .vocab }, .kind = .matrix, .q4_k_m = .tied_output },
    .{ .name = "position_embd.weight", .per_layer = false, .ne = .{ .embd, .ctx }, .kind = .matrix },
    .{ .name = "attn_norm.weight", .ne = .{ .embd, .one }, .kind = .norm },
    .{ .name = "attn_norm.bias", .ne = .{ .embd, .one }, .kind = .bias },
    .{ .name = "attn_qkv.weight", .ne = .{ .embd, .qkv }, .kind = .matrix },
    .{ .name = "attn_qkv.bias", .ne = .{ .qkv, .one }, .kind = .bias },
    .{ .name = "attn_output.weight", .ne = .{ .embd, .embd }, .kind = .matrix },
    .{ .name = "attn_output.bias", .ne = .{ .embd, .one }, .kind = .bias },
    .{ .name = "ffn_norm.weight", .ne = .{ .embd, .one }, .kind = .norm },
    .{ .name = "ffn_norm.bias", .ne = .{ .embd, .one }, .kind = .bias },
    .{ .name = "ffn_up.weight", .ne = .{ .embd, .ff }, .kind = .matrix },
    .{ .name = "ffn_up.bias", .ne = .{ .ff, .one }, .kind = .bias },
    .{ .name = "ffn_down.weight", .ne = .{ .ff, .embd }, .kind = .matrix, .q4_k_m = .more_bits },
    .{ .name = "ffn_down.bias", .ne = .{ .embd, .one }, .kind = .bias },
    .{ .name = "output_norm.weight", .per_layer = false, .ne = .{ .embd, .one }, .kind = .norm },
    .{ .name = "output_norm.bias", .per_layer = false, .ne = .{ .embd, .one }, .kind = .bias },
    .{ .name = "output.weight", .per_layer = false, .ne = .{ .embd, .vocab }, .kind = .matrix, .need = .optional, .q4_k_m = .output },
    .{ .name = "output.bias", .per_layer = false, .ne = .{ .vocab, .one }, .kind = .bias, .need = .optional, .synth = false },
};

fn build(b: *Builder) !void {
    var x = try b.addPositions(b.embd); // [n_embd, T] residual stream
    for (0..b.hp.n_layer) |il| {
        b.setLayer(il);
        x = try b.g.add(x, try b.attention(try b.norm(x, "attn_norm")));
        const h = try b.norm(x, "ffn_norm");
        x = try b.g.add(x, try b.linear("ffn_down", try b.g.gelu(try b.linear("ffn_up", h))));
    }
    try b.output(x);
}
