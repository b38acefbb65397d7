//! Graph engine tests: random transformer-like graphs of the whole op set run under every
//! placement policy (CPU only, all-GPU, n_gpu_layers, a GPU budget) and must agree with the
//! CPU; buffer reuse is poisoned between steps; replays allocate and record nothing; the
//! profile lists every node. Run on lavapipe and with PI5_LIMITS=v3dv, validation on.
const std = @import("std");
const graph = @import("graph.zig");
const exec = @import("exec.zig");
const vk = @import("../vk/vk.zig");
const vkt = @import("../vk/tests.zig");
const quant = @import("../quant/quant.zig");
const kmat = @import("../kernels/matmul.zig");
const testing = std.testing;

const Graph = graph.Graph;
const Id = graph.Id;

const E = 32; // n_embd
const HD = 8; // head_dim
const NH = 4;
const NKV = 2;
const V = 20; // vocab
const N_CTX = 16;
const MAX_T = 6;

const Built = struct {
    g: Graph,
    ids: Id,
    logits: Id,
    last: Id,
    hidden: Id,
};

fn randWeight(g: *Graph, rng: std.Random, name: []const u8, ty: graph.GgmlType, ne0: u64, ne1: u64) !Id {
    const n: usize = @intCast(ne0 * ne1);
    const f = try testing.allocator.alloc(f32, n);
    defer testing.allocator.free(f);
    for (f) |*x| x.* = (rng.float(f32) - 0.5) * 0.5;
    const id = try g.weight(name, ty, .{ ne0, ne1, 1, 1 }, null);
    const bytes = try testing.allocator.alloc(u8, @intCast(g.get(id).nBytes()));
    defer testing.allocator.free(bytes);
    switch (ty) {
        .f32 => @memcpy(bytes, std.mem.sliceAsBytes(f)),
        .f16 => for (std.mem.bytesAsSlice(f16, bytes), f) |*d, s| {
            d.* = @floatCast(s);
        },
        else => {
            const rb: usize = @intCast(ty.rowBytes(ne0).?);
            for (0..@intCast(ne1)) |r| try quant.quantizeRow(ty, f[r * ne0 ..][0..ne0], bytes[r * rb ..][0..rb]);
        },
    }
    try g.setWeightData(id, bytes, .copy);
    return id;
}

/// A small transformer with random op choices per layer: every op of the set appears.
fn buildRandom(seed: u64, n_layers: u32) !Built {
    var prng = std.Random.DefaultPrng.init(seed);
    const rng = prng.random();
    var g = try Graph.init(testing.allocator, .{ .max_tokens = MAX_T });
    errdefer g.deinit();
    const ids = try g.inputTokens("ids");
    const emb = try randWeight(&g, rng, "emb", .q8_0, E, V);
    const pos_emb = try randWeight(&g, rng, "pos_emb", .f32, E, N_CTX);
    var x = try g.add(try g.getRows(emb, ids), try g.getRows(pos_emb, try g.positions()));
    for (0..n_layers) |l| {
        g.setLayer(@intCast(l));
        const wty: graph.GgmlType = if (rng.boolean()) .q8_0 else .f32;
        const norm_w = try randWeight(&g, rng, "norm", .f32, E, 1);
        var h = try g.mul(try g.rmsNorm(x, 1e-5), norm_w);
        // Fused QKV split by slices, as phi2/gpt2 store it.
        const wqkv = try randWeight(&g, rng, "wqkv", wty, E, E + 2 * NKV * HD);
        const wq = try g.slice(wqkv, .{ E, E, 1, 1 }, 0);
        const wk = try g.slice(wqkv, .{ E, NKV * HD, 1, 1 }, E * E);
        const wv = try g.slice(wqkv, .{ E, NKV * HD, 1, 1 }, E * (E + NKV * HD));
        const mode: graph.RopeMode = if (rng.boolean()) .normal else .neox;
        const n_rot: u32 = if (rng.boolean()) HD else HD / 2;
        const q = try g.rope(try g.reshape(try g.mulMat(wq, h), .{ HD, NH, MAX_T, 1 }), .{ .n_rot = n_rot, .mode = mode });
        const k = try g.rope(try g.reshape(try g.mulMat(wk, h), .{ HD, NKV, MAX_T, 1 }), .{ .n_rot = n_rot, .mode = mode, .freq_base = 500 });
        const v = try g.mulMat(wv, h);
        const cty: graph.GgmlType = if (rng.boolean()) .f16 else .f32;
        const kc = try g.kvStore(try g.state("k", cty, .{ HD, NKV, N_CTX, 1 }), k);
        const vc = try g.kvStore(try g.state("v", cty, .{ HD, NKV, N_CTX, 1 }), v);
        const a = try g.reshape(try g.attention(q, kc, vc, .{ .n_head_kv = NKV }), .{ E, MAX_T, 1, 1 });
        x = try g.add(x, try g.mulMat(try randWeight(&g, rng, "wo", wty, E, E), a));
        const ln_w = try randWeight(&g, rng, "ln_w", .f32, E, 1);
        const ln_b = try randWeight(&g, rng, "ln_b", .f32, E, 1);
        h = try g.layerNorm(x, ln_w, ln_b, 1e-5);
        const ffn = switch (rng.uintLessThan(u8, 3)) {
            0 => try g.swiglu(try g.mulMat(try randWeight(&g, rng, "wg", wty, E, 64), h), try g.mulMat(try randWeight(&g, rng, "wu", wty, E, 64), h)),
            1 => try g.gelu(try g.mulMat(try randWeight(&g, rng, "wu", wty, E, 64), h)),
            else => try g.silu(try g.mulMat(try randWeight(&g, rng, "wu", wty, E, 64), h)),
        };
        x = try g.add(x, try g.scale(try g.mulMat(try randWeight(&g, rng, "wd", wty, 64, E), ffn), 0.5));
        // Softmax over a per-head score-like tensor, causal or not, mixed back in.
        const sm = try g.softmax(try g.reshape(h, .{ 8, 4, MAX_T, 1 }), .{ .scale = 0.7, .causal = rng.boolean() });
        x = try g.add(x, try g.reshape(sm, .{ E, MAX_T, 1, 1 }));
        if (rng.boolean()) x = try g.cpy(try g.cpy(x, .f16), .f32);
    }
    g.setLayer(null);
    const out_w = try randWeight(&g, rng, "out", .f32, E, V);
    const xn = try g.rmsNorm(x, 1e-5);
    const logits = try g.mulMat(out_w, xn);
    const last = try g.mulMat(out_w, try g.lastRow(xn));
    try g.markOutput(logits);
    try g.markOutput(last);
    try g.markOutput(x);
    return .{ .g = g, .ids = ids, .logits = logits, .last = last, .hidden = x };
}

const steps = [_]exec.Step{
    .{ .pos = 0, .n_tokens = 5 },
    .{ .pos = 5, .n_tokens = 1 },
    .{ .pos = 6, .n_tokens = 1 },
    .{ .pos = 7, .n_tokens = 3 },
};
const tokens = [_]i32{ 3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8 };

/// Runs every step, returns all logits concatenated (caller frees).
fn runSteps(ex: *exec.Exec, b: *const Built, poison: bool) ![]f32 {
    var out = std.ArrayList(f32).init(testing.allocator);
    errdefer out.deinit();
    var buf: [MAX_T * V]f32 = undefined;
    for (steps) |s| {
        try ex.setInput(b.ids, std.mem.sliceAsBytes(tokens[s.pos..][0..s.n_tokens]));
        if (poison) try ex.poison();
        try ex.compute(s);
        const n = try ex.readOutput(b.logits, std.mem.sliceAsBytes(&buf));
        try testing.expectEqual(@as(usize, s.n_tokens * V * 4), n);
        try out.appendSlice(buf[0 .. s.n_tokens * V]);
        var last: [V]f32 = undefined;
        _ = try ex.readOutput(b.last, std.mem.sliceAsBytes(&last));
        try testing.expectEqualSlices(f32, buf[(s.n_tokens - 1) * V ..][0..V], &last);
    }
    return out.toOwnedSlice();
}

fn expectClose(want: []const f32, got: []const f32, tol: f32) !void {
    try testing.expectEqual(want.len, got.len);
    for (want, got, 0..) |w, x, i| {
        if (!(@abs(w - x) <= tol * (1 + @abs(w)))) {
            std.debug.print("mismatch at {d}: want {d} got {d}\n", .{ i, w, x });
            return error.TestExpectedApproxEq;
        }
    }
}

test "graph: random graphs run on the CPU, deterministically, with buffer reuse poisoned" {
    for ([_]u64{ 1, 2, 3 }) |seed| {
        var b = try buildRandom(seed, 2);
        defer b.g.deinit();
        const ex = try exec.Exec.plan(testing.allocator, &b.g, null, .{ .policy = .cpu, .n_threads = 2 });
        defer ex.deinit();
        const ref = try runSteps(ex, &b, false);
        defer testing.allocator.free(ref);
        for (ref) |v| try testing.expect(std.math.isFinite(v));
        // A second plan, poisoned before every step, gives bit-identical logits.
        const ex2 = try exec.Exec.plan(testing.allocator, &b.g, null, .{ .policy = .cpu, .n_threads = 1 });
        defer ex2.deinit();
        const got = try runSteps(ex2, &b, true);
        defer testing.allocator.free(got);
        try testing.expectEqualSlices(f32, ref, got);
        // Reuse happened: the arena is smaller than the sum of the intermediates.
        var sum: u64 = 0;
        for (b.g.tensors.items, 0..) |t, i| if (t.kind == .intermediate and b.g.root(@intCast(i)).id == i) {
            sum += t.nBytes();
        };
        try testing.expect(ex.stats.cpu_pool_bytes < sum);
    }
}

test "graph: every placement policy agrees with the CPU, replays allocate and record nothing" {
    const ctx = try vkt.testContext(.{});
    defer ctx.destroy();
    var b = try buildRandom(7, 3);
    defer b.g.deinit();
    const ref_ex = try exec.Exec.plan(testing.allocator, &b.g, null, .{ .policy = .cpu, .n_threads = 2 });
    defer ref_ex.deinit();
    const ref = try runSteps(ref_ex, &b, false);
    defer testing.allocator.free(ref);

    const policies = [_]exec.Options{
        .{ .policy = .auto },
        .{ .policy = .{ .gpu_layers = 1 } },
        .{ .policy = .{ .gpu_layers = 2 } },
        .{ .policy = .{ .gpu_budget = 20_000 } },
        .{ .policy = .auto, .max_pool_bytes = 2048 },
        .{ .policy = .auto, .profile = true },
    };
    for (policies) |opts| {
        var o = opts;
        o.n_threads = 2;
        const ex = try exec.Exec.plan(testing.allocator, &b.g, ctx, o);
        defer ex.deinit();
        const gpu_bytes = ctx.mem.allocated_bytes;
        const allocs = ex.counting.n;
        const recs = ex.stats.recordings;
        const got = try runSteps(ex, &b, true);
        defer testing.allocator.free(got);
        // Bound: the CPU quantizes activations to Q8_0 for Q8_0 weights while the GPU dots f32
        // activations, and F16 caches round differently; 1e-2 relative over 3 layers.
        try expectClose(ref, got, 1e-2);
        try testing.expectEqual(allocs, ex.counting.n);
        try testing.expectEqual(gpu_bytes, ctx.mem.allocated_bytes);
        try testing.expectEqual(recs, ex.stats.recordings);
        var n_seq: u64 = 0;
        for (0..ex.segments().len) |si| for (ex.recorded(si)) |q| {
            try testing.expectEqual(@as(u32, 1), q.n_recordings);
            n_seq += 1;
        };
        try testing.expectEqual(n_seq, recs);
        if (opts.policy == .auto) try testing.expect(n_seq > 0);
        if (opts.max_pool_bytes != null) try testing.expect(ex.stats.gpu_pool_buffers > 1);
    }
    try vkt.expectNoValidationMessages(ctx);
}

test "graph: gpu_layers puts exactly the first layers on the GPU" {
    const ctx = try vkt.testContext(.{});
    defer ctx.destroy();
    var b = try buildRandom(11, 3);
    defer b.g.deinit();
    const ex = try exec.Exec.plan(testing.allocator, &b.g, ctx, .{ .policy = .{ .gpu_layers = 1 }, .n_threads = 1 });
    defer ex.deinit();
    for (b.g.tensors.items, 0..) |t, i| {
        if (ex.placement(@intCast(i)) == .gpu) try testing.expectEqual(@as(?u32, 0), t.layer);
    }
    try testing.expectEqual(@as(u32, 0), ex.stats.fallbacks); // every op has a GPU kernel
    try vkt.expectNoValidationMessages(ctx);
}

test "graph: the profile of a replayed graph lists every node with its time" {
    const ctx = vkt.testContext(.{}) catch |e| if (e == error.SkipZigTest) null else return e;
    defer if (ctx) |c| c.destroy();
    var b = try buildRandom(5, 2);
    defer b.g.deinit();
    const ex = try exec.Exec.plan(testing.allocator, &b.g, ctx, .{ .profile = true, .n_threads = 1 });
    defer ex.deinit();
    const r = try runSteps(ex, &b, false);
    testing.allocator.free(r);
    var n_compute: usize = 0;
    for (b.g.tensors.items) |t| if (t.op != .none and t.op != .view) {
        n_compute += 1;
    };
    try testing.expectEqual(n_compute, ex.profile().len);
    var any_gpu = false;
    for (ex.profile()) |p| if (p.backend == .gpu) {
        any_gpu = true;
    };
    if (ctx != null and ctx.?.report.timestamps) try testing.expect(any_gpu);
    const json = try ex.profileJson(testing.allocator);
    defer testing.allocator.free(json);
    const parsed = try std.json.parseFromSlice(std.json.Value, testing.allocator, json, .{});
    defer parsed.deinit();
    try testing.expectEqual(n_compute, parsed.value.object.get("nodes").?.array.items.len);
    try testing.expect(parsed.value.object.get("ops").?.array.items.len >= 10);
    if (ctx) |c| try vkt.expectNoValidationMessages(c);
}

test "graph: a step past the cache is ContextFull, bad steps are InvalidArgument" {
    var b = try buildRandom(3, 1);
    defer b.g.deinit();
    const ex = try exec.Exec.plan(testing.allocator, &b.g, null, .{ .policy = .cpu, .n_threads = 1 });
    defer ex.deinit();
    try testing.expectError(error.ContextFull, ex.compute(.{ .pos = N_CTX - 1, .n_tokens = 2 }));
    try testing.expectError(error.InvalidArgument, ex.compute(.{ .pos = 0, .n_tokens = 0 }));
    try testing.expectError(error.InvalidArgument, ex.compute(.{ .pos = 0, .n_tokens = MAX_T + 1 }));
    try testing.expectError(error.BadShape, ex.setInput(b.ids, &[_]u8{ 1, 2, 3 }));
}

/// A llama graph (no fused weights, no extras): embedding -> layers -> final norm -> last row ->
/// output matmul -> logits, Q8_0 / Q4_0 weights, F16 caches.
fn buildLlama(seed: u64, n_layers: u32) !Built {
    var prng = std.Random.DefaultPrng.init(seed);
    const rng = prng.random();
    var g = try Graph.init(testing.allocator, .{ .max_tokens = MAX_T });
    errdefer g.deinit();
    const ids = try g.inputTokens("ids");
    var x = try g.getRows(try randWeight(&g, rng, "emb", .q4_0, E, V), ids);
    for (0..n_layers) |l| {
        g.setLayer(@intCast(l));
        var h = try g.mul(try g.rmsNorm(x, 1e-5), try randWeight(&g, rng, "attn_norm", .f32, E, 1));
        const q = try g.rope(try g.reshape(try g.mulMat(try randWeight(&g, rng, "wq", .q4_0, E, E), h), .{ HD, NH, MAX_T, 1 }), .{ .n_rot = HD });
        const k = try g.rope(try g.reshape(try g.mulMat(try randWeight(&g, rng, "wk", .q4_0, E, NKV * HD), h), .{ HD, NKV, MAX_T, 1 }), .{ .n_rot = HD });
        const v = try g.mulMat(try randWeight(&g, rng, "wv", .q8_0, E, NKV * HD), h);
        const kc = try g.kvStore(try g.state("k", .f16, .{ HD, NKV, N_CTX, 1 }), k);
        const vc = try g.kvStore(try g.state("v", .f16, .{ HD, NKV, N_CTX, 1 }), v);
        const a = try g.reshape(try g.attention(q, kc, vc, .{ .n_head_kv = NKV }), .{ E, MAX_T, 1, 1 });
        x = try g.add(x, try g.mulMat(try randWeight(&g, rng, "wo", .q4_0, E, E), a));
        h = try g.mul(try g.rmsNorm(x, 1e-5), try randWeight(&g, rng, "ffn_norm", .f32, E, 1));
        const ff = try g.swiglu(try g.mulMat(try randWeight(&g, rng, "wg", .q4_0, E, 64), h), try g.mulMat(try randWeight(&g, rng, "wu", .q4_0, E, 64), h));
        x = try g.add(x, try g.mulMat(try randWeight(&g, rng, "wd", .q4_0, 64, E), ff));
    }
    g.setLayer(null);
    const xn = try g.mul(try g.rmsNorm(x, 1e-5), try randWeight(&g, rng, "out_norm", .f32, E, 1));
    const out_w = try randWeight(&g, rng, "out", .q8_0, E, V);
    const last = try g.mulMat(out_w, try g.lastRow(xn));
    try g.markOutput(last);
    return .{ .g = g, .ids = ids, .logits = last, .last = last, .hidden = x };
}

/// Runs `steps`, returns the last-token logits of each (caller frees).
fn runLast(ex: *exec.Exec, b: *const Built, poison: bool) ![]f32 {
    var out = std.ArrayList(f32).init(testing.allocator);
    errdefer out.deinit();
    for (steps) |s| {
        try ex.setInput(b.ids, std.mem.sliceAsBytes(tokens[s.pos..][0..s.n_tokens]));
        if (poison) try ex.poison();
        try ex.compute(s);
        var last: [V]f32 = undefined;
        _ = try ex.readOutput(b.last, std.mem.sliceAsBytes(&last));
        try out.appendSlice(&last);
    }
    return out.toOwnedSlice();
}

test "graph: a llama graph is one GPU segment; decode and prompt variants share weights and caches" {
    const ctx = try vkt.testContext(.{});
    defer ctx.destroy();
    var b = try buildLlama(21, 2);
    defer b.g.deinit();
    const ref_ex = try exec.Exec.plan(testing.allocator, &b.g, null, .{ .policy = .cpu, .n_threads = 1 });
    defer ref_ex.deinit();
    const ref = try runLast(ref_ex, &b, false);
    defer testing.allocator.free(ref);
    var weight_bytes: u64 = 0;
    for (b.g.tensors.items) |t| if (t.kind == .weight and t.op == .none) {
        weight_bytes += t.nBytes();
    };
    for ([_][]const u32{ &.{}, &.{3} }) |buckets| {
        const ex = try exec.Exec.plan(testing.allocator, &b.g, ctx, .{ .n_threads = 1, .token_buckets = buckets });
        defer ex.deinit();
        try testing.expectEqual(@as(u32, 1), ex.stats.n_segments);
        try testing.expectEqual(@as(u32, 0), ex.stats.fallbacks);
        try testing.expectEqual(@as(u32, @intCast(2 + buckets.len)), ex.stats.variants);
        // Every variant over one upload of the weights.
        try testing.expectEqual(weight_bytes, ex.stats.gpu_weight_bytes);
        try testing.expect(ex.stats.gpu_state_bytes > 0);
        const allocs = ex.counting.n;
        const gpu_bytes = ctx.mem.allocated_bytes;
        const recs = ex.stats.recordings;
        try testing.expectEqual(@as(u64, ex.stats.variants), recs);
        const got = try runLast(ex, &b, true);
        defer testing.allocator.free(got);
        try expectClose(ref, got, 2e-2);
        // Replays: nothing allocated or recorded, one submit per step.
        try testing.expectEqual(allocs, ex.counting.n);
        try testing.expectEqual(gpu_bytes, ctx.mem.allocated_bytes);
        try testing.expectEqual(recs, ex.stats.recordings);
        try testing.expectEqual(@as(u64, steps.len), ex.stats.submits);
        for (ex.recorded(0)) |q| try testing.expectEqual(@as(u32, 1), q.n_recordings);
    }
    try vkt.expectNoValidationMessages(ctx);
}

test "graph: staged transfers (the discrete-GPU path) record copies into the segments" {
    const ctx = try vkt.testContext(.{});
    defer ctx.destroy();
    var b = try buildRandom(13, 2);
    defer b.g.deinit();
    const ref_ex = try exec.Exec.plan(testing.allocator, &b.g, null, .{ .policy = .cpu, .n_threads = 1 });
    defer ref_ex.deinit();
    const ref = try runSteps(ref_ex, &b, false);
    defer testing.allocator.free(ref);
    // All on the GPU (one submit per step), and split CPU/GPU (copies out to the CPU segments).
    for ([_]exec.Policy{ .auto, .{ .gpu_layers = 1 } }) |pol| {
        const ex = try exec.Exec.plan(testing.allocator, &b.g, ctx, .{ .policy = pol, .n_threads = 1, .force_staging = true });
        defer ex.deinit();
        try testing.expect(ex.stats.gpu_staging_bytes > 0);
        var n_gpu: u64 = 0;
        for (ex.segments()) |s| if (s.backend == .gpu) {
            n_gpu += 1;
        };
        const allocs = ex.counting.n;
        const got = try runSteps(ex, &b, true);
        defer testing.allocator.free(got);
        try expectClose(ref, got, 1e-2);
        // Transfers and step params travel inside the segments: one submit per GPU segment.
        try testing.expectEqual(n_gpu * steps.len, ex.stats.submits);
        try testing.expectEqual(allocs, ex.counting.n);
    }
    try vkt.expectNoValidationMessages(ctx);
}

test "graph: causal softmax over several rows per token runs on the GPU and matches the CPU" {
    const ctx = try vkt.testContext(.{});
    defer ctx.destroy();
    var g = try Graph.init(testing.allocator, .{ .max_tokens = MAX_T });
    defer g.deinit();
    const x = try g.input("x", .f32, 3 * N_CTX);
    const sm = try g.softmax(try g.reshape(x, .{ N_CTX, 3, MAX_T, 1 }), .{ .scale = 0.9, .causal = true });
    try g.markOutput(sm);
    var data: [MAX_T * 3 * N_CTX]f32 = undefined;
    var prng = std.Random.DefaultPrng.init(5);
    for (&data) |*v| v.* = prng.random().float(f32) * 4 - 2;
    const cpu_ex = try exec.Exec.plan(testing.allocator, &g, null, .{ .policy = .cpu, .n_threads = 1 });
    defer cpu_ex.deinit();
    const gpu_ex = try exec.Exec.plan(testing.allocator, &g, ctx, .{ .n_threads = 1 });
    defer gpu_ex.deinit();
    try testing.expectEqual(exec.Backend.gpu, gpu_ex.placement(sm));
    for ([_]exec.Step{ .{ .pos = 0, .n_tokens = 4 }, .{ .pos = 4, .n_tokens = 1 }, .{ .pos = 5, .n_tokens = MAX_T } }) |st| {
        var want: [data.len]f32 = undefined;
        var got: [data.len]f32 = undefined;
        const n = st.n_tokens * 3 * N_CTX;
        for ([_]*exec.Exec{ cpu_ex, gpu_ex }, [_]*[data.len]f32{ &want, &got }) |ex, o| {
            try ex.setInput(x, std.mem.sliceAsBytes(data[0..n]));
            try ex.compute(st);
            _ = try ex.readOutput(sm, std.mem.sliceAsBytes(o));
        }
        try expectClose(want[0..n], got[0..n], 1e-5);
    }
    try vkt.expectNoValidationMessages(ctx);
}

test "graph: a GPU budget counts states and pools, not just weights" {
    const ctx = try vkt.testContext(.{});
    defer ctx.destroy();
    var b = try buildLlama(3, 3);
    defer b.g.deinit();
    var weight_bytes: u64 = 0;
    for (b.g.tensors.items) |t| if (t.kind == .weight and t.op == .none) {
        weight_bytes += t.nBytes();
    };
    // Exactly the weights: no longer everything (caches and pools need room too).
    const ex = try exec.Exec.plan(testing.allocator, &b.g, ctx, .{ .policy = .{ .gpu_budget = weight_bytes }, .n_threads = 1 });
    defer ex.deinit();
    var on_cpu: u32 = 0;
    for (b.g.tensors.items, 0..) |t, i| if (t.op != .none and t.op != .view and ex.placement(@intCast(i)) == .cpu) {
        on_cpu += 1;
    };
    try testing.expect(on_cpu > 0);
    const all = try exec.Exec.plan(testing.allocator, &b.g, ctx, .{ .policy = .{ .gpu_budget = 16 * weight_bytes }, .n_threads = 1 });
    defer all.deinit();
    try testing.expect(all.placement(b.last) == .gpu);
    try testing.expect(all.stats.gpu_weight_bytes + all.stats.gpu_state_bytes + all.stats.gpu_pool_bytes <= 16 * weight_bytes);
    try vkt.expectNoValidationMessages(ctx);
}

test "graph: per-node scratch runs split-K attention over a long cache and the integer-dot mat-vec, matching the CPU" {
    const ctx = try vkt.testContext(.{});
    defer ctx.destroy();
    const long_ctx = 1024; // ≥ 512 keys and few queries: attentionSplits() > 1
    var prng = std.Random.DefaultPrng.init(5);
    const rng = prng.random();
    var g = try Graph.init(testing.allocator, .{ .max_tokens = MAX_T });
    defer g.deinit();
    const ids = try g.inputTokens("ids");
    const h = try g.getRows(try randWeight(&g, rng, "emb", .f32, E, V), ids);
    const q = try g.rope(try g.reshape(try g.mulMat(try randWeight(&g, rng, "wq", .q8_0, E, E), h), .{ HD, NH, MAX_T, 1 }), .{ .n_rot = HD });
    const k = try g.reshape(try g.mulMat(try randWeight(&g, rng, "wk", .q4_0, E, NKV * HD), h), .{ HD, NKV, MAX_T, 1 });
    const v = try g.mulMat(try randWeight(&g, rng, "wv", .q8_0, E, NKV * HD), h);
    const kc = try g.kvStore(try g.state("k", .f16, .{ HD, NKV, long_ctx, 1 }), k);
    const vc = try g.kvStore(try g.state("v", .f16, .{ HD, NKV, long_ctx, 1 }), v);
    const a = try g.reshape(try g.attention(q, kc, vc, .{ .n_head_kv = NKV }), .{ E, MAX_T, 1, 1 });
    const out = try g.mulMat(try randWeight(&g, rng, "out", .q8_0, E, V), try g.lastRow(a));
    try g.markOutput(out);
    const Run = struct {
        fn all(ex: *exec.Exec, ids_: Id, out_: Id) ![4 * V]f32 {
            const the_steps = [_]exec.Step{ .{ .pos = 0, .n_tokens = 6 }, .{ .pos = 6, .n_tokens = 1 }, .{ .pos = 700, .n_tokens = 1 }, .{ .pos = 701, .n_tokens = 2 } };
            var res: [4 * V]f32 = undefined;
            for (the_steps, 0..) |s, i| {
                try ex.setInput(ids_, std.mem.sliceAsBytes(tokens[i..][0..s.n_tokens]));
                try ex.poison();
                try ex.compute(s);
                _ = try ex.readOutput(out_, std.mem.sliceAsBytes(res[i * V ..][0..V]));
            }
            return res;
        }
    };
    const ref_ex = try exec.Exec.plan(testing.allocator, &g, null, .{ .policy = .cpu, .n_threads = 1 });
    defer ref_ex.deinit();
    const ref = try Run.all(ref_ex, ids, out);
    const has_dp = (try kmat.planMulMatWith(&ctx.report, .q8_0, 1, .{ .int_dot = true })).feature == .int_dot;
    var scratch: [2]u64 = undefined;
    for ([_]bool{ false, true }, 0..) |dp, i| {
        const ex = try exec.Exec.plan(testing.allocator, &g, ctx, .{ .n_threads = 1, .int_dot = dp });
        defer ex.deinit();
        try testing.expectEqual(@as(u32, 0), ex.stats.fallbacks);
        try testing.expect(ex.stats.gpu_scratch_bytes > 0); // the split-K partials
        scratch[i] = ex.stats.gpu_scratch_bytes;
        const got = try Run.all(ex, ids, out);
        try expectClose(&ref, &got, 2e-2);
    }
    // The integer-dot mat-vec's Q8_1 activations are scratch too, where the device has it.
    if (has_dp) try testing.expect(scratch[1] > scratch[0]) else try testing.expectEqual(scratch[0], scratch[1]);
    try vkt.expectNoValidationMessages(ctx);
}
