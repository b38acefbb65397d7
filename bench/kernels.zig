//! The `kernels` suite: one-op graphs through the public graph engine (the same kernels a model
//! runs, chosen from the device report exactly as in a model), timed per dispatch from the
//! executor's per-node profile (GPU timestamps around the node on Vulkan, a timer on the CPU).
//! Each case is a size sweep; GFLOPS count 2 flops per multiply-add, GB/s count the bytes the
//! op must read and write once (weights, activations, results, KV rows), and `bw_frac` relates
//! that to the backend's measured copy bandwidth (health.copyBandwidth).
const std = @import("std");
const pi5 = @import("pi5");
const rec = @import("record.zig");
const graph = pi5.graph;
const exec = pi5.graph_exec;
const vk = pi5.vk;
const quant = pi5.quant;
const GgmlType = graph.GgmlType;

pub const Config = struct {
    quick: bool = false,
    /// At least this many timed repetitions per case...
    reps: u32 = 5,
    /// ...and more until the timed node time reaches this (bounded by max_reps).
    min_ms: f64 = 30,
    max_reps: u32 = 200,
    n_threads: u32 = 0,
    /// Only cases whose "op/type" contains one of these comma-separated strings.
    filter: ?[]const u8 = null,

    fn wants(cfg: Config, op: []const u8, ty: []const u8) bool {
        const f = cfg.filter orelse return true;
        var buf: [64]u8 = undefined;
        const name = std.fmt.bufPrint(&buf, "{s}/{s}", .{ op, ty }) catch return true;
        var it = std.mem.splitScalar(u8, f, ',');
        while (it.next()) |part| if (part.len > 0 and std.mem.indexOf(u8, name, part) != null) return true;
        return false;
    }
};

pub const Target = struct {
    ctx: ?*vk.Context,
    backend: []const u8,
    device: []const u8,
    profile: []const u8,
    /// Traffic (read + write) GB/s of a large copy on this backend; 0 = unknown.
    copy_gbps: f64,
};

const Case = struct {
    g: graph.Graph,
    /// Node whose time is reported.
    node: graph.Id,
    inputs: [3]?graph.Id = .{ null, null, null },
    /// f16 states (KV caches) filled with small values before timing.
    states: [2]?graph.Id = .{ null, null },
    step: exec.Step,
    flops: f64,
    bytes: f64,
    op: []const u8,
    type: []const u8,
    shape: []const u8,
};

const all_types = [_]GgmlType{ .f32, .f16, .bf16, .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q4_k, .q5_k, .q6_k };
const quick_types = [_]GgmlType{ .f32, .f16, .q8_0, .q4_0, .q4_k, .q6_k };

pub fn run(sink: *rec.Sink, alloc: std.mem.Allocator, t: Target, cfg: Config) !void {
    var prng = std.Random.DefaultPrng.init(0x9e3779b9);
    const rng = prng.random();
    const types: []const GgmlType = if (cfg.quick) &quick_types else &all_types;
    // Square weights K x K; mat-mat at 64 tokens (a prompt batch).
    const mv_sizes: []const u64 = if (cfg.quick) &.{ 256, 1024, 2048 } else &.{ 256, 512, 1024, 2048, 4096 };
    const mm_sizes: []const u64 = if (cfg.quick) &.{ 256, 1024 } else &.{ 256, 512, 1024, 2048 };
    const mm_tokens: u32 = if (cfg.quick) 32 else 64;
    for (types) |ty| {
        if (cfg.wants("mul_mat_vec", @tagName(ty))) for (mv_sizes) |k| try measure(sink, alloc, t, cfg, try mulMatCase(sink, alloc, rng, ty, k, k, 1));
        if (cfg.wants("mul_mat", @tagName(ty))) for (mm_sizes) |k| try measure(sink, alloc, t, cfg, try mulMatCase(sink, alloc, rng, ty, k, k, mm_tokens));
    }
    const row_sizes: []const u64 = if (cfg.quick) &.{ 1024, 8192 } else &.{ 1024, 4096, 16384, 65536 };
    for (row_sizes) |n| {
        if (cfg.wants("softmax", "f32")) try measure(sink, alloc, t, cfg, try rowCase(sink, alloc, .softmax, n, 32));
        if (cfg.wants("rms_norm", "f32")) try measure(sink, alloc, t, cfg, try rowCase(sink, alloc, .rms_norm, n, 32));
    }
    // RoPE over TinyLlama's q: 32 heads of 64, a prompt batch.
    if (cfg.wants("rope", "f32")) for ([_]u32{ 1, 64 }) |nt| try measure(sink, alloc, t, cfg, try ropeCase(sink, alloc, 64, 32, nt));
    // Fused attention, one decode query over ctx keys (TinyLlama: 32 query heads, 4 KV heads of 64).
    const ctxs: []const u32 = if (cfg.quick) &.{ 128, 1024 } else &.{ 128, 512, 1024, 2048, 4096 };
    if (cfg.wants("attention", "f16kv")) for (ctxs) |n_ctx| try measure(sink, alloc, t, cfg, try attentionCase(sink, alloc, 64, 32, 4, n_ctx));
}

fn randomWeight(g: *graph.Graph, alloc: std.mem.Allocator, rng: std.Random, ty: GgmlType, k: u64, n: u64) !graph.Id {
    const id = try g.weight("w", ty, .{ k, n, 1, 1 }, null);
    const bytes = try alloc.alloc(u8, @intCast(g.get(id).nBytes()));
    defer alloc.free(bytes);
    const row = try alloc.alloc(f32, @intCast(k));
    defer alloc.free(row);
    const rb: usize = @intCast(ty.rowBytes(k).?);
    for (0..@intCast(n)) |r| {
        for (row) |*x| x.* = (rng.float(f32) - 0.5) * 0.2;
        try quant.quantizeRow(ty, row, bytes[r * rb ..][0..rb]);
    }
    try g.setWeightData(id, bytes, .copy);
    return id;
}

fn mulMatCase(sink: *rec.Sink, alloc: std.mem.Allocator, rng: std.Random, ty: GgmlType, k: u64, n: u64, tokens: u32) !Case {
    var g = try graph.Graph.init(alloc, .{ .max_tokens = tokens });
    errdefer g.deinit();
    const w = try randomWeight(&g, alloc, rng, ty, k, n);
    const x = try g.input("x", .f32, k);
    const y = try g.mulMat(w, x);
    try g.markOutput(y);
    const tf: f64 = @floatFromInt(tokens);
    const kf: f64 = @floatFromInt(k);
    const nf: f64 = @floatFromInt(n);
    return .{
        .g = g,
        .node = y,
        .inputs = .{ x, null, null },
        .step = .{ .pos = 0, .n_tokens = tokens },
        .flops = 2 * kf * nf * tf,
        .bytes = @as(f64, @floatFromInt(g.get(w).nBytes())) + 4 * kf * tf + 4 * nf * tf,
        .op = if (tokens == 1) "mul_mat_vec" else "mul_mat",
        .type = @tagName(ty),
        .shape = try sink.fmt("{d}x{d}x{d}", .{ k, n, tokens }),
    };
}

const RowOp = enum { softmax, rms_norm };

fn rowCase(sink: *rec.Sink, alloc: std.mem.Allocator, op: RowOp, n: u64, rows: u32) !Case {
    var g = try graph.Graph.init(alloc, .{ .max_tokens = rows });
    errdefer g.deinit();
    const x = try g.input("x", .f32, n);
    const y = switch (op) {
        .softmax => try g.softmax(x, .{ .scale = 0.125 }),
        .rms_norm => try g.rmsNorm(x, 1e-5),
    };
    try g.markOutput(y);
    const e: f64 = @floatFromInt(n * rows);
    return .{
        .g = g,
        .node = y,
        .inputs = .{ x, null, null },
        .step = .{ .pos = 0, .n_tokens = rows },
        // max, exp, sum, scale: ~5 flops an element; rms_norm: square-add and scale, ~3.
        .flops = e * @as(f64, if (op == .softmax) 5 else 3),
        .bytes = 8 * e,
        .op = @tagName(op),
        .type = "f32",
        .shape = try sink.fmt("{d}x{d}", .{ n, rows }),
    };
}

fn ropeCase(sink: *rec.Sink, alloc: std.mem.Allocator, head_dim: u64, n_head: u64, tokens: u32) !Case {
    var g = try graph.Graph.init(alloc, .{ .max_tokens = tokens });
    errdefer g.deinit();
    const x = try g.input("x", .f32, head_dim * n_head);
    const y = try g.rope(try g.reshape(x, .{ head_dim, n_head, tokens, 1 }), .{ .n_rot = @intCast(head_dim) });
    try g.markOutput(y);
    const e: f64 = @floatFromInt(head_dim * n_head * tokens);
    return .{
        .g = g,
        .node = y,
        .inputs = .{ x, null, null },
        .step = .{ .pos = 7, .n_tokens = tokens },
        .flops = 3 * e,
        .bytes = 8 * e,
        .op = "rope",
        .type = "f32",
        .shape = try sink.fmt("{d}x{d}x{d}", .{ head_dim, n_head, tokens }),
    };
}

fn attentionCase(sink: *rec.Sink, alloc: std.mem.Allocator, head_dim: u64, n_head: u64, n_head_kv: u32, n_ctx: u32) !Case {
    var g = try graph.Graph.init(alloc, .{ .max_tokens = 1 });
    errdefer g.deinit();
    const q = try g.input("q", .f32, head_dim * n_head);
    const kc = try g.state("k", .f16, .{ head_dim, n_head_kv, n_ctx, 1 });
    const vc = try g.state("v", .f16, .{ head_dim, n_head_kv, n_ctx, 1 });
    const y = try g.attention(try g.reshape(q, .{ head_dim, n_head, 1, 1 }), kc, vc, .{ .n_head_kv = n_head_kv });
    try g.markOutput(y);
    const hd: f64 = @floatFromInt(head_dim);
    const nh: f64 = @floatFromInt(n_head);
    const nc: f64 = @floatFromInt(n_ctx);
    return .{
        .g = g,
        .node = y,
        .inputs = .{ q, null, null },
        .states = .{ kc, vc },
        // The last position: the query attends to all n_ctx keys.
        .step = .{ .pos = n_ctx - 1, .n_tokens = 1 },
        .flops = 4 * hd * nh * nc,
        .bytes = 2 * 2 * hd * @as(f64, @floatFromInt(n_head_kv)) * nc + 8 * hd * nh,
        .op = "attention",
        .type = "f16kv",
        .shape = try sink.fmt("hd{d}xh{d}/{d}xctx{d}", .{ head_dim, n_head, n_head_kv, n_ctx }),
    };
}

fn measure(sink: *rec.Sink, alloc: std.mem.Allocator, t: Target, cfg: Config, case_: Case) !void {
    var c = case_;
    defer c.g.deinit();
    const ex = try exec.Exec.plan(alloc, &c.g, t.ctx, .{ .policy = if (t.ctx == null) .cpu else .auto, .n_threads = cfg.n_threads, .profile = true });
    defer ex.deinit();
    const key = try sink.fmt("kernels/{s}/{s}/{s}/{s}/{s}", .{ t.backend, t.profile, c.op, c.type, c.shape });
    if (ex.placement(c.node) != if (t.ctx == null) exec.Backend.cpu else exec.Backend.gpu) {
        // No GPU kernel for this case on this device: say so rather than time the CPU fallback.
        try sink.emit(.{ .suite = "kernels", .key = key, .backend = t.backend, .device = t.device, .profile = t.profile, .op = c.op, .type = c.type, .shape = c.shape, .value = std.math.nan(f64), .unit = "us", .note = "no kernel on this backend (CPU fallback)" });
        return;
    }
    for (c.inputs) |maybe| if (maybe) |id| {
        const n: usize = @intCast(c.g.get(id).perToken() * c.step.n_tokens);
        const data = try alloc.alloc(f32, n);
        defer alloc.free(data);
        for (data, 0..) |*x, i| x.* = @as(f32, @floatFromInt(i % 97)) / 97.0 - 0.5;
        try ex.setInput(id, std.mem.sliceAsBytes(data));
    };
    for (c.states) |maybe| if (maybe) |id| {
        const n: usize = @intCast(c.g.get(id).nElements());
        const f = try alloc.alloc(f32, n);
        defer alloc.free(f);
        for (f, 0..) |*x, i| x.* = @as(f32, @floatFromInt(i % 89)) / 89.0 - 0.5;
        const h = try alloc.alloc(u8, 2 * n);
        defer alloc.free(h);
        try quant.quantizeRow(.f16, f, h);
        try ex.writeState(id, h);
    };
    try ex.compute(c.step); // warm-up: pipelines, caches, first-touch pages
    var times = std.ArrayList(f64).init(alloc);
    defer times.deinit();
    var total_ms: f64 = 0;
    while (times.items.len < cfg.reps or (total_ms < cfg.min_ms and times.items.len < cfg.max_reps)) {
        try ex.compute(c.step);
        const ns = nodeNs(ex, c.node) orelse return error.NoProfile;
        try times.append(@as(f64, @floatFromInt(ns)) / 1e3);
        total_ms += @as(f64, @floatFromInt(ns)) / 1e6;
    }
    // A kernel that wrote nothing or garbage would time well: read the result and check it.
    const out_n: usize = @intCast(c.g.get(c.node).perToken() * c.step.n_tokens);
    const out = try alloc.alloc(f32, out_n);
    defer alloc.free(out);
    _ = try ex.readOutput(c.node, std.mem.sliceAsBytes(out));
    var finite = true;
    for (out) |x| finite = finite and std.math.isFinite(x);
    const s = rec.stats(times.items);
    const gbps = c.bytes / (s.median * 1e3);
    try sink.emit(.{
        .suite = "kernels",
        .key = key,
        .backend = t.backend,
        .device = t.device,
        .profile = t.profile,
        .op = c.op,
        .type = c.type,
        .shape = c.shape,
        .size_bytes = @intFromFloat(c.bytes),
        .value = s.median,
        .unit = "us",
        .better = .lower,
        .spread = s.spread,
        .best = s.min,
        .reps = @intCast(times.items.len),
        .us = s.median,
        .gflops = c.flops / (s.median * 1e3),
        .gbps = gbps,
        .bw_frac = if (t.copy_gbps > 0) gbps / t.copy_gbps else null,
        .finite = finite,
    });
}

fn nodeNs(ex: *const exec.Exec, id: graph.Id) ?u64 {
    for (ex.profile()) |p| if (p.id == id) return p.ns;
    return null;
}
