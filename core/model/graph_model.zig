//! The model as a compute graph (core/graph): the architecture's build() (core/model/arch) over
//! the loaded weights, planned on the runtime's backend (a Vulkan device when there is one, else
//! the CPU) with the planner's placement policies. The KV caches are the graph's state tensors.
//! core/model never records GPU commands itself; the graph executor does.
//!
//! Input is always token embeddings ("embd", f32 [n_embd, T]): the host gathers the embedding
//! rows of token ids (a few KiB per step) so that `infer` with caller embeddings and token ids
//! share one graph. gpt2's learned positions are in the graph (positions() → getRows).
//!
//! Step size: the graph is built for `max_tokens` rows (default n_batch); the executor records
//! token-bucket variants (1 row for decode: mat-vec kernels; 8; max_tokens: tiled) over the same
//! weights and states and replays the smallest that fits each step.
//!
//! Differential mode (`Options.diff`): the same graph also planned on the CPU and every node of
//! every step compared (core/graph/diff.zig); the first node out of bounds is logged and kept in
//! `diff.first`.
const std = @import("std");
const graph = @import("../graph/graph.zig");
const exec = @import("../graph/exec.zig");
const diff_mod = @import("../graph/diff.zig");
const vk = @import("../vk/vk.zig");
const model = @import("model.zig");
const Builder = @import("arch/builder.zig").Builder;

const Graph = graph.Graph;
const Id = graph.Id;

pub const Placement = union(enum) {
    /// Everything the device runs on the GPU.
    auto,
    gpu_layers: u32,
    gpu_budget: u64,
};

pub const Options = struct {
    placement: Placement = .auto,
    max_tokens: u32,
    n_threads: u32 = 0,
    profile: bool = false,
    /// Check every node against the CPU after every step (core/graph/diff.zig).
    diff: bool = false,
    /// Test-only (with diff): the GPU output of this node is perturbed (exec.Options).
    perturb_gpu_node: ?Id = null,
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
    diff: ?*diff_mod.Diff = null,

    pub fn create(alloc: std.mem.Allocator, m: *const model.Model, ctx: ?*vk.Context, opts: Options) !*GraphModel {
        const self = try alloc.create(GraphModel);
        errdefer alloc.destroy(self);
        self.* = .{
            .alloc = alloc,
            .g = try Graph.init(alloc, .{ .max_tokens = opts.max_tokens }),
            .ex = undefined,
            .embd = 0,
            .logits = 0,
            .k_states = try alloc.alloc(Id, m.hp.n_layer),
            .v_states = try alloc.alloc(Id, m.hp.n_layer),
            .max_tokens = opts.max_tokens,
        };
        errdefer {
            alloc.free(self.k_states);
            alloc.free(self.v_states);
            self.g.deinit();
        }
        var b = Builder{
            .g = &self.g,
            .hp = m.hp,
            .w = &m.weights,
            .n_ctx = m.n_ctx,
            .kv_type = if (m.kv_type == .f16) .f16 else .f32,
            .T = opts.max_tokens,
            .embd = try self.g.input("embd", .f32, m.hp.n_embd),
            .k_states = self.k_states,
            .v_states = self.v_states,
        };
        self.embd = b.embd;
        m.hp.desc().build(&b) catch |e| return switch (e) {
            error.MissingTensor => error.Unsupported,
            else => |x| x,
        };
        self.logits = b.logits orelse return error.Unsupported;
        if (opts.diff) try diff_mod.markAll(&self.g);
        const policy: exec.Policy = if (ctx == null) .cpu else switch (opts.placement) {
            .auto => .auto,
            .gpu_layers => |n| .{ .gpu_layers = n },
            .gpu_budget => |bytes| .{ .gpu_budget = bytes },
        };
        const buckets = &[_]u32{8};
        self.ex = try exec.Exec.plan(alloc, &self.g, ctx, .{
            .policy = policy,
            .n_threads = opts.n_threads,
            .token_buckets = buckets,
            .profile = opts.profile,
            .perturb_gpu_node = opts.perturb_gpu_node,
        });
        errdefer self.ex.deinit();
        if (opts.diff) {
            const d = try alloc.create(diff_mod.Diff);
            errdefer alloc.destroy(d);
            d.* = try diff_mod.Diff.init(alloc, &self.g, self.ex, .{ .n_threads = opts.n_threads, .token_buckets = buckets });
            self.diff = d;
        }
        return self;
    }

    pub fn destroy(self: *GraphModel) void {
        if (self.diff) |d| {
            d.deinit();
            self.alloc.destroy(d);
        }
        self.ex.deinit();
        self.g.deinit();
        self.alloc.free(self.k_states);
        self.alloc.free(self.v_states);
        self.alloc.destroy(self);
    }

    /// Runs one step of n ≤ max_tokens embedding rows at position `pos`; logits of the last row
    /// into `logits_out` when given.
    pub fn step(self: *GraphModel, embd: []const f32, n: u32, pos: u32, logits_out: ?[]f32) !void {
        try self.ex.setInput(self.embd, std.mem.sliceAsBytes(embd));
        try self.ex.compute(.{ .pos = pos, .n_tokens = n });
        if (self.diff) |d| {
            try d.setInput(self.embd, std.mem.sliceAsBytes(embd));
            try d.compute(.{ .pos = pos, .n_tokens = n });
            _ = try d.check(); // the earliest mismatch stays in d.first
        }
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
        if (self.diff) |d| try d.writeState(id, data);
    }
};
