//! The blocks architecture files build their forward from: weights by their table name, the
//! architecture's norm, x·Wᵀ + bias, the attention block over the layer's KV states, the LM head.
//! Each `build()` then reads like llama2.c's forward, one line per step of the layer.
//!
//! Shapes: x is [n_embd, T] f32 rows of the step (T = max_tokens at build, n_tokens per step).
const std = @import("std");
const graph = @import("../../graph/graph.zig");
const weights = @import("../weights.zig");
const spec = @import("spec.zig");

const Graph = graph.Graph;
const Id = graph.Id;

pub const Error = error{MissingTensor} || graph.Error;

pub const Builder = struct {
    g: *Graph,
    hp: weights.Hparams,
    w: *const weights.Weights,
    n_ctx: u32,
    kv_type: graph.GgmlType,
    /// Rows per step at build (max_tokens).
    T: u64,
    /// Input: token embeddings [n_embd, T] f32 (the host gathers the rows).
    embd: Id,
    /// Output, set by `output()`: [n_vocab, 1] logits of the step's last row.
    logits: ?Id = null,
    /// The KV state of each layer, set by `attention()`.
    k_states: []Id,
    v_states: []Id,
    layer: ?u32 = null,

    /// Nodes created from now on belong to layer `il` (placement by n_gpu_layers); weights are
    /// looked up in that layer. null: the global tensors.
    pub fn setLayer(b: *Builder, il: ?usize) void {
        b.layer = if (il) |i| @intCast(i) else null;
        b.g.setLayer(b.layer);
    }

    /// The weight `name` (a tensor-table name) of the current layer as a graph weight, or null
    /// when the file has none (an optional tensor, or one the architecture's table does not
    /// list: the shared blocks ask for every bias they can apply).
    pub fn opt(b: *Builder, name: []const u8) Error!?Id {
        const i = b.w.desc.find(name) orelse return null;
        const wt = b.w.get(i, if (b.w.desc.tensors[i].per_layer) b.layer else null) orelse return null;
        return switch (wt) {
            .matrix => |q| try b.g.weight(name, q.t, .{ q.n_cols, q.n_rows, 1, 1 }, q.data),
            .vector => |v| try b.g.weight(name, .f32, .{ v.len, 1, 1, 1 }, std.mem.sliceAsBytes(v)),
        };
    }

    /// The weight `name`; the loader has checked that required tensors are there.
    pub fn req(b: *Builder, name: []const u8) Error!Id {
        return (try b.opt(name)) orelse error.MissingTensor;
    }

    /// The architecture's norm of x with `{base}.weight` (and `{base}.bias` when present).
    pub fn norm(b: *Builder, x: Id, comptime base: []const u8) Error!Id {
        const w = try b.req(base ++ ".weight");
        return switch (b.w.desc.hparams.norm) {
            .rms => b.g.mul(try b.g.rmsNorm(x, b.hp.norm_eps), w),
            .layer => b.g.layerNorm(x, w, try b.opt(base ++ ".bias"), b.hp.norm_eps),
        };
    }

    /// x · Wᵀ (+ bias) with `{base}.weight` and the optional `{base}.bias`.
    pub fn linear(b: *Builder, comptime base: []const u8, x: Id) Error!Id {
        const y = try b.g.mulMat(try b.req(base ++ ".weight"), x);
        return if (try b.opt(base ++ ".bias")) |bias| b.g.add(y, bias) else y;
    }

    fn biased(b: *Builder, w: Id, bias: ?Id, x: Id) Error!Id {
        const y = try b.g.mulMat(w, x);
        return if (bias) |bb| b.g.add(y, bb) else y;
    }

    /// x + the learned position embedding rows of the step (gpt2).
    pub fn addPositions(b: *Builder, x: Id) Error!Id {
        const pe = try b.req("position_embd.weight");
        return b.g.add(x, try b.g.getRows(pe, try b.g.positions()));
    }

    /// Self-attention of the normed input h [n_embd, T]: Q, K, V from `attn_qkv` (fused, split by
    /// slices) or `attn_q/k/v`, RoPE as the architecture says, K and V rows into the layer's cache
    /// states, attention over positions 0..pos+t, then `attn_output`. Returns [n_embd, T].
    pub fn attention(b: *Builder, h: Id) Error!Id {
        const g = b.g;
        const hp = b.hp;
        const e: u64 = hp.n_embd;
        const hd: u64 = hp.head_dim;
        const kvd: u64 = hp.kvDim();
        var q: Id = undefined;
        var k: Id = undefined;
        var v: Id = undefined;
        if (try b.opt("attn_qkv.weight")) |wf| {
            // [n_embd → n_embd + 2·kv_dim]: the weight (and bias) split by slices.
            var bq: ?Id = null;
            var bk: ?Id = null;
            var bv: ?Id = null;
            if (try b.opt("attn_qkv.bias")) |bf| {
                bq = try g.slice(bf, .{ e, 1, 1, 1 }, 0);
                bk = try g.slice(bf, .{ kvd, 1, 1, 1 }, e);
                bv = try g.slice(bf, .{ kvd, 1, 1, 1 }, e + kvd);
            }
            q = try b.biased(try g.slice(wf, .{ e, e, 1, 1 }, 0), bq, h);
            k = try b.biased(try g.slice(wf, .{ e, kvd, 1, 1 }, e * e), bk, h);
            v = try b.biased(try g.slice(wf, .{ e, kvd, 1, 1 }, e * (e + kvd)), bv, h);
        } else {
            q = try b.linear("attn_q", h);
            k = try b.linear("attn_k", h);
            v = try b.linear("attn_v", h);
        }
        q = try g.reshape(q, .{ hd, hp.n_head, b.T, 1 }); // [head_dim, n_head, T]
        k = try g.reshape(k, .{ hd, hp.n_head_kv, b.T, 1 }); // [head_dim, n_head_kv, T]
        if (b.w.desc.hparams.rope) |r| {
            const p = graph.RopeParams{
                .n_rot = hp.n_rot,
                .mode = if (r.mode == .neox) .neox else .normal,
                .freq_base = hp.rope_freq_base,
                .freq_scale = hp.rope_freq_scale,
            };
            q = try g.rope(q, p);
            k = try g.rope(k, p);
        }
        const il = b.layer.?;
        var nb: [32]u8 = undefined;
        const ks = try g.state(std.fmt.bufPrint(&nb, "k{d}", .{il}) catch unreachable, b.kv_type, .{ hd, hp.n_head_kv, b.n_ctx, 1 });
        const vs = try g.state(std.fmt.bufPrint(&nb, "v{d}", .{il}) catch unreachable, b.kv_type, .{ hd, hp.n_head_kv, b.n_ctx, 1 });
        b.k_states[il] = ks;
        b.v_states[il] = vs;
        const kc = try g.kvStore(ks, k);
        const vc = try g.kvStore(vs, v);
        const a = try g.reshape(try g.attention(q, kc, vc, .{ .n_head_kv = hp.n_head_kv }), .{ e, b.T, 1, 1 });
        return b.linear("attn_output", a);
    }

    /// The LM head on the step's last row: output_norm, then `output` (or the tied token_embd)
    /// with the optional output.bias; the result is the graph's output.
    pub fn output(b: *Builder, x: Id) Error!void {
        b.setLayer(null);
        const xn = try b.norm(try b.g.lastRow(x), "output_norm");
        const w = (try b.opt("output.weight")) orelse try b.req("token_embd.weight");
        const logits = try b.biased(w, try b.opt("output.bias"), xn);
        try b.g.markOutput(logits);
        b.logits = logits;
    }
};
