//! The model as a compute graph (core/graph): llama / phi2 / gpt2 built from the hyperparameters
//! and the loaded weights, planned on the runtime's backend (a Vulkan device when there is one,
//! else the CPU) with the planner's placement policies. The KV caches are the graph's state
//! tensors. core/model never records GPU commands itself; the graph executor does.
//!
//! Input is always token embeddings ("embd", f32 [n_embd, T]): the host gathers the embedding
//! rows of token ids (a few KiB per step) so that `infer` with caller embeddings and token ids
//! share one graph. gpt2's learned positions are in the graph (positions() → getRows).
//!
//! Step size: the graph is built for `max_tokens` rows (default n_batch); the executor records
//! token-bucket variants (1 row for decode: mat-vec kernels; 8; max_tokens: tiled) over the same
//! weights and states and replays the smallest that fits each step.
const std = @import("std");
const graph = @import("../graph/graph.zig");
const exec = @import("../graph/exec.zig");
const vk = @import("../vk/vk.zig");
const model = @import("model.zig");

const Graph = graph.Graph;
const Id = graph.Id;

pub const Placement = union(enum) {
    /// Everything the device runs on the GPU.
    auto,
    gpu_layers: u32,
    gpu_budget: u64,
};

pub const GraphModel = struct {
    alloc: std.mem.Allocator,
    g: Graph,
    ex: *exec.Exec,
    embd: Id,
    logits: Id,
    /// State ids per layer: k, v.
    k_states: []Id,
    v_states: []Id,
    max_tokens: u32,

    pub fn create(alloc: std.mem.Allocator, m: *const model.Model, ctx: ?*vk.Context, placement: Placement, max_tokens: u32, n_threads: u32, profile: bool) !*GraphModel {
        const self = try alloc.create(GraphModel);
        errdefer alloc.destroy(self);
        self.* = .{
            .alloc = alloc,
            .g = try Graph.init(alloc, .{ .max_tokens = max_tokens }),
            .ex = undefined,
            .embd = 0,
            .logits = 0,
            .k_states = try alloc.alloc(Id, m.hp.n_layer),
            .v_states = try alloc.alloc(Id, m.hp.n_layer),
            .max_tokens = max_tokens,
        };
        errdefer {
            alloc.free(self.k_states);
            alloc.free(self.v_states);
            self.g.deinit();
        }
        try self.build(m);
        const policy: exec.Policy = if (ctx == null) .cpu else switch (placement) {
            .auto => .auto,
            .gpu_layers => |n| .{ .gpu_layers = n },
            .gpu_budget => |b| .{ .gpu_budget = b },
        };
        self.ex = try exec.Exec.plan(alloc, &self.g, ctx, .{ .policy = policy, .n_threads = n_threads, .token_buckets = &.{8}, .profile = profile });
        return self;
    }

    pub fn destroy(self: *GraphModel) void {
        self.ex.deinit();
        self.g.deinit();
        self.alloc.free(self.k_states);
        self.alloc.free(self.v_states);
        self.alloc.destroy(self);
    }

    fn mat(g: *Graph, name: []const u8, q: model.QTensor) !Id {
        return g.weight(name, q.t, .{ q.n_cols, q.n_rows, 1, 1 }, q.data);
    }

    fn vec(g: *Graph, name: []const u8, v: []const f32) !Id {
        return g.weight(name, .f32, .{ v.len, 1, 1, 1 }, std.mem.sliceAsBytes(v));
    }

    fn optVec(g: *Graph, name: []const u8, v: ?[]const f32) !?Id {
        return if (v) |x| try vec(g, name, x) else null;
    }

    fn norm(g: *Graph, arch: model.Arch, x: Id, w: Id, b: ?Id, eps: f32) !Id {
        return switch (arch) {
            .llama => g.mul(try g.rmsNorm(x, eps), w),
            .phi2, .gpt2 => g.layerNorm(x, w, b, eps),
        };
    }

    /// x · Wᵀ (+ bias).
    fn linear(g: *Graph, w: Id, b: ?Id, x: Id) !Id {
        const y = try g.mulMat(w, x);
        return if (b) |bb| g.add(y, bb) else y;
    }

    fn build(self: *GraphModel, m: *const model.Model) !void {
        const g = &self.g;
        const hp = m.hp;
        const w = &m.weights;
        const T: u64 = self.max_tokens;
        const e: u64 = hp.n_embd;
        const hd: u64 = hp.head_dim;
        const kvd: u64 = hp.kvDim();
        const eps = hp.norm_eps;
        const kv_ty: graph.GgmlType = if (m.kv_type == .f16) .f16 else .f32;
        var nb: [64]u8 = undefined;

        self.embd = try g.input("embd", .f32, e);
        var x = self.embd;
        if (w.pos_embd) |pe| {
            const pw = try mat(g, "position_embd.weight", pe);
            x = try g.add(x, try g.getRows(pw, try g.positions()));
        }
        const rope_p = graph.RopeParams{
            .n_rot = if (hp.n_rot > 0) hp.n_rot else 2,
            .mode = if (hp.arch == .llama) .normal else .neox,
            .freq_base = hp.rope_freq_base,
            .freq_scale = hp.rope_freq_scale,
        };
        for (w.layers, 0..) |*ly, il| {
            g.setLayer(@intCast(il));
            const an = try vec(g, "attn_norm", ly.attn_norm);
            const anb = try optVec(g, "attn_norm_b", ly.attn_norm_b);
            const h = try norm(g, hp.arch, x, an, anb, eps);
            var wq: Id = undefined;
            var wk: Id = undefined;
            var wv: Id = undefined;
            var bq: ?Id = null;
            var bk: ?Id = null;
            var bv: ?Id = null;
            if (ly.wqkv) |fused| {
                // Fused [n_embd → n_embd + 2·kv_dim]: split the weight (and bias) by slices.
                const wf = try mat(g, "attn_qkv", fused);
                wq = try g.slice(wf, .{ e, e, 1, 1 }, 0);
                wk = try g.slice(wf, .{ e, kvd, 1, 1 }, e * e);
                wv = try g.slice(wf, .{ e, kvd, 1, 1 }, e * (e + kvd));
                if (ly.bqkv) |bf| {
                    const b = try vec(g, "attn_qkv_b", bf);
                    bq = try g.slice(b, .{ e, 1, 1, 1 }, 0);
                    bk = try g.slice(b, .{ kvd, 1, 1, 1 }, e);
                    bv = try g.slice(b, .{ kvd, 1, 1, 1 }, e + kvd);
                }
            } else {
                wq = try mat(g, "attn_q", ly.wq.?);
                wk = try mat(g, "attn_k", ly.wk.?);
                wv = try mat(g, "attn_v", ly.wv.?);
                bq = try optVec(g, "attn_q_b", ly.bq);
                bk = try optVec(g, "attn_k_b", ly.bk);
                bv = try optVec(g, "attn_v_b", ly.bv);
            }
            var q = try g.reshape(try linear(g, wq, bq, h), .{ hd, hp.n_head, T, 1 });
            var k = try g.reshape(try linear(g, wk, bk, h), .{ hd, hp.n_head_kv, T, 1 });
            const v = try linear(g, wv, bv, h);
            if (hp.n_rot > 0) {
                q = try g.rope(q, rope_p);
                k = try g.rope(k, rope_p);
            }
            const kname = std.fmt.bufPrint(&nb, "k{d}", .{il}) catch unreachable;
            const ks = try g.state(kname, kv_ty, .{ hd, hp.n_head_kv, m.n_ctx, 1 });
            const vname = std.fmt.bufPrint(&nb, "v{d}", .{il}) catch unreachable;
            const vs = try g.state(vname, kv_ty, .{ hd, hp.n_head_kv, m.n_ctx, 1 });
            self.k_states[il] = ks;
            self.v_states[il] = vs;
            const kc = try g.kvStore(ks, k);
            const vc = try g.kvStore(vs, v);
            const a = try g.reshape(try g.attention(q, kc, vc, .{ .n_head_kv = hp.n_head_kv }), .{ e, T, 1, 1 });
            const wo = try mat(g, "attn_output", ly.wo);
            const o = try linear(g, wo, try optVec(g, "attn_output_b", ly.bo), a);
            const up = try mat(g, "ffn_up", ly.ffn_up);
            const down = try mat(g, "ffn_down", ly.ffn_down);
            const up_b = try optVec(g, "ffn_up_b", ly.ffn_up_b);
            const down_b = try optVec(g, "ffn_down_b", ly.ffn_down_b);
            switch (hp.arch) {
                .llama => {
                    x = try g.add(x, o);
                    const h2 = try norm(g, .llama, x, try vec(g, "ffn_norm", ly.ffn_norm.?), null, eps);
                    const gate = try g.mulMat(try mat(g, "ffn_gate", ly.ffn_gate.?), h2);
                    const f = try g.mulMat(down, try g.swiglu(gate, try g.mulMat(up, h2)));
                    x = try g.add(x, f);
                },
                .phi2 => {
                    // Attention and MLP in parallel from the same normed input.
                    const f = try linear(g, down, down_b, try g.gelu(try linear(g, up, up_b, h)));
                    x = try g.add(try g.add(x, o), f);
                },
                .gpt2 => {
                    x = try g.add(x, o);
                    const h2 = try norm(g, .gpt2, x, try vec(g, "ffn_norm", ly.ffn_norm.?), try optVec(g, "ffn_norm_b", ly.ffn_norm_b), eps);
                    const f = try linear(g, down, down_b, try g.gelu(try linear(g, up, up_b, h2)));
                    x = try g.add(x, f);
                },
            }
        }
        g.setLayer(null);
        const last = try g.lastRow(x);
        const on = try vec(g, "output_norm", w.output_norm);
        const onb = try optVec(g, "output_norm_b", w.output_norm_b);
        const xn = try norm(g, hp.arch, last, on, onb, eps);
        const out_w = try mat(g, "output", w.output);
        self.logits = try linear(g, out_w, try optVec(g, "output_b", w.output_b), xn);
        try g.markOutput(self.logits);
    }

    /// Runs one step of n ≤ max_tokens embedding rows at position `pos`; logits of the last row
    /// into `logits_out` when given.
    pub fn step(self: *GraphModel, embd: []const f32, n: u32, pos: u32, logits_out: ?[]f32) !void {
        try self.ex.setInput(self.embd, std.mem.sliceAsBytes(embd));
        try self.ex.compute(.{ .pos = pos, .n_tokens = n });
        if (logits_out) |l| _ = try self.ex.readOutput(self.logits, std.mem.sliceAsBytes(l));
    }

    /// Layers whose nodes run on the GPU (0 on the CPU).
    pub fn gpuLayers(self: *const GraphModel) u32 {
        var n: u32 = 0;
        for (self.g.tensors.items, 0..) |t, i| {
            if (t.op == .mul_mat and t.layer != null and self.ex.placement(@intCast(i)) == .gpu) n = @max(n, t.layer.? + 1);
        }
        return n;
    }

    /// Whether any node runs on the GPU.
    pub fn anyGpu(self: *const GraphModel) bool {
        for (self.g.tensors.items, 0..) |t, i| {
            if (t.op != .none and t.op != .view and self.ex.placement(@intCast(i)) == .gpu) return true;
        }
        return false;
    }

    /// Weight bytes read by CPU nodes (the rest is in GPU buffers).
    pub fn cpuWeightBytes(self: *const GraphModel) u64 {
        var seen = std.AutoHashMap(Id, void).init(self.alloc);
        defer seen.deinit();
        var sum: u64 = 0;
        for (self.g.tensors.items, 0..) |t, i| {
            if (t.op == .none or t.op == .view or self.ex.placement(@intCast(i)) != .cpu) continue;
            for (t.src) |s| if (s) |sid| {
                const r = self.g.root(sid).id;
                if (self.g.get(r).kind != .weight) continue;
                const gop = seen.getOrPut(r) catch continue;
                if (!gop.found_existing) sum += self.g.get(r).nBytes();
            };
        }
        return sum;
    }

    /// Bytes of the K (or V) rows 0..n_rows of layer `l`, read from the state.
    pub fn readKv(self: *GraphModel, l: usize, which: enum { k, v }, out: []u8) !void {
        const id = if (which == .k) self.k_states[l] else self.v_states[l];
        const t = self.g.get(id);
        if (out.len == t.nBytes()) {
            _ = try self.ex.readOutput(id, out);
            return;
        }
        const full = try self.alloc.alloc(u8, @intCast(t.nBytes()));
        defer self.alloc.free(full);
        _ = try self.ex.readOutput(id, full);
        @memcpy(out, full[0..out.len]);
    }

    pub fn writeKv(self: *GraphModel, l: usize, which: enum { k, v }, data: []const u8) !void {
        const id = if (which == .k) self.k_states[l] else self.v_states[l];
        try self.ex.writeState(id, data);
    }
};
