//! Graph engine benchmark: a llama-shaped graph with random Q4_0 weights (n_embd 256, 4 layers,
//! n_ff 704, 8 heads / 4 KV heads, vocab 512), run on the CPU backend and on the GPU (the first
//! Vulkan device; lavapipe in CI). Reports prompt tokens/s (one step of `max_tokens` tokens),
//! per-token decode time, and per step: host allocations, recordings, submits, transfers (must
//! stay 0 / 0 / one per GPU segment).
//!
//!   zig build bench [-- n_threads]        (PI5_LIMITS=v3dv for the Pi 5 profile)
const std = @import("std");
const pi5 = @import("pi5");
const graph = pi5.graph;
const exec = pi5.graph_exec;
const vk = pi5.vk;
const quant = pi5.quant;

const n_embd = 256;
const n_layer = 4;
const n_ff = 704; // a multiple of 32 (Q4_0 rows of the down projection)
const n_head = 8;
const n_head_kv = 4;
const head_dim = n_embd / n_head;
const n_vocab = 512;
const n_ctx = 256;
const max_tokens = 32;
const n_decode = 32;

pub const Model = struct {
    g: graph.Graph,
    ids: graph.Id,
    logits: graph.Id,
};

fn randWeight(g: *graph.Graph, rng: std.Random, a: std.mem.Allocator, name: []const u8, ty: graph.GgmlType, ne0: u64, ne1: u64) !graph.Id {
    const n: usize = @intCast(ne0 * ne1);
    const f = try a.alloc(f32, n);
    defer a.free(f);
    for (f) |*x| x.* = (rng.float(f32) - 0.5) * 0.2;
    if (ty == .f32) {
        for (f) |*x| x.* += 1.0; // norm weights near 1
    }
    const id = try g.weight(name, ty, .{ ne0, ne1, 1, 1 }, null);
    const bytes = try a.alloc(u8, @intCast(g.get(id).nBytes()));
    defer a.free(bytes);
    if (ty == .f32) {
        @memcpy(bytes, std.mem.sliceAsBytes(f));
    } else {
        const rb: usize = @intCast(ty.rowBytes(ne0).?);
        for (0..@intCast(ne1)) |r| try quant.quantizeRow(ty, f[r * ne0 ..][0..ne0], bytes[r * rb ..][0..rb]);
    }
    try g.setWeightData(id, bytes, .copy);
    return id;
}

/// The llama graph: embedding -> layers -> final norm -> last row -> output matmul -> logits.
pub fn buildLlama(a: std.mem.Allocator, seed: u64, mt: u32) !Model {
    var prng = std.Random.DefaultPrng.init(seed);
    const rng = prng.random();
    var g = try graph.Graph.init(a, .{ .max_tokens = mt });
    errdefer g.deinit();
    const ids = try g.inputTokens("ids");
    var x = try g.getRows(try randWeight(&g, rng, a, "tok_embd", .q4_0, n_embd, n_vocab), ids);
    for (0..n_layer) |l| {
        g.setLayer(@intCast(l));
        var h = try g.mul(try g.rmsNorm(x, 1e-5), try randWeight(&g, rng, a, "attn_norm", .f32, n_embd, 1));
        const q = try g.rope(try g.reshape(try g.mulMat(try randWeight(&g, rng, a, "wq", .q4_0, n_embd, n_embd), h), .{ head_dim, n_head, mt, 1 }), .{ .n_rot = head_dim });
        const k = try g.rope(try g.reshape(try g.mulMat(try randWeight(&g, rng, a, "wk", .q4_0, n_embd, n_head_kv * head_dim), h), .{ head_dim, n_head_kv, mt, 1 }), .{ .n_rot = head_dim });
        const v = try g.mulMat(try randWeight(&g, rng, a, "wv", .q4_0, n_embd, n_head_kv * head_dim), h);
        const kc = try g.kvStore(try g.state("k", .f16, .{ head_dim, n_head_kv, n_ctx, 1 }), k);
        const vc = try g.kvStore(try g.state("v", .f16, .{ head_dim, n_head_kv, n_ctx, 1 }), v);
        const att = try g.reshape(try g.attention(q, kc, vc, .{ .n_head_kv = n_head_kv }), .{ n_embd, mt, 1, 1 });
        x = try g.add(x, try g.mulMat(try randWeight(&g, rng, a, "wo", .q4_0, n_embd, n_embd), att));
        h = try g.mul(try g.rmsNorm(x, 1e-5), try randWeight(&g, rng, a, "ffn_norm", .f32, n_embd, 1));
        const gate = try g.mulMat(try randWeight(&g, rng, a, "w_gate", .q4_0, n_embd, n_ff), h);
        const up = try g.mulMat(try randWeight(&g, rng, a, "w_up", .q4_0, n_embd, n_ff), h);
        x = try g.add(x, try g.mulMat(try randWeight(&g, rng, a, "w_down", .q4_0, n_ff, n_embd), try g.swiglu(gate, up)));
    }
    g.setLayer(null);
    const xn = try g.mul(try g.rmsNorm(x, 1e-5), try randWeight(&g, rng, a, "out_norm", .f32, n_embd, 1));
    const logits = try g.mulMat(try randWeight(&g, rng, a, "output", .q4_0, n_embd, n_vocab), try g.lastRow(xn));
    try g.markOutput(logits);
    return .{ .g = g, .ids = ids, .logits = logits };
}

fn bench(out: anytype, name: []const u8, m: *Model, ctx: ?*vk.Context, n_threads: u32) !void {
    const a = std.heap.page_allocator;
    const ex = try exec.Exec.plan(a, &m.g, ctx, .{ .policy = if (ctx == null) .cpu else .auto, .n_threads = n_threads });
    defer ex.deinit();
    var toks: [max_tokens]i32 = undefined;
    for (&toks, 0..) |*t, i| t.* = @intCast((i * 7 + 3) % n_vocab);
    var logits: [n_vocab]f32 = undefined;
    // Warm-up: one prompt and one decode step (pipelines, caches), then reset positions.
    try ex.setInput(m.ids, std.mem.sliceAsBytes(toks[0..max_tokens]));
    try ex.compute(.{ .pos = 0, .n_tokens = max_tokens });
    try ex.setInput(m.ids, std.mem.sliceAsBytes(toks[0..1]));
    try ex.compute(.{ .pos = max_tokens, .n_tokens = 1 });

    const allocs0 = ex.stats.host_allocs;
    const counted0 = ex.counting.n;
    const recs0 = ex.stats.recordings;
    const submits0 = ex.stats.submits;
    var timer = try std.time.Timer.start();
    const n_prompt_runs = 3;
    for (0..n_prompt_runs) |_| {
        try ex.setInput(m.ids, std.mem.sliceAsBytes(toks[0..max_tokens]));
        try ex.compute(.{ .pos = 0, .n_tokens = max_tokens });
        _ = try ex.readOutput(m.logits, std.mem.sliceAsBytes(&logits));
    }
    const prompt_ns = timer.read() / n_prompt_runs;
    timer.reset();
    const submits_p = ex.stats.submits;
    for (0..n_decode) |i| {
        try ex.setInput(m.ids, std.mem.sliceAsBytes(toks[i % max_tokens ..][0..1]));
        try ex.compute(.{ .pos = @intCast(max_tokens + i), .n_tokens = 1 });
        _ = try ex.readOutput(m.logits, std.mem.sliceAsBytes(&logits));
    }
    const decode_ns = timer.read() / n_decode;
    if (std.posix.getenv("PI5_BENCH_PROFILE") != null) {
        // Per-op times of one decode step and one prompt step (separate plan: profiling adds
        // a barrier and timestamps around every node).
        const pex = try exec.Exec.plan(a, &m.g, ctx, .{ .policy = if (ctx == null) .cpu else .auto, .n_threads = n_threads, .profile = true });
        defer pex.deinit();
        for ([_]u32{ max_tokens, 1 }) |nt| {
            try pex.setInput(m.ids, std.mem.sliceAsBytes(toks[0..nt]));
            try pex.compute(.{ .pos = if (nt == 1) max_tokens else 0, .n_tokens = nt });
            const j = try pex.profileJson(a);
            defer a.free(j);
            const parsed = try std.json.parseFromSlice(std.json.Value, a, j, .{});
            defer parsed.deinit();
            try out.print("  profile {s} {d} token(s):", .{ name, nt });
            for (parsed.value.object.get("ops").?.array.items) |o| {
                const ms = @as(f64, @floatFromInt(o.object.get("ns").?.integer)) / 1e6;
                const op = o.object.get("op").?.string;
                try out.print(" {s}/{s} x{d} {d:.2}ms;", .{ op, o.object.get("backend").?.string, o.object.get("count").?.integer, ms });
            }
            try out.print("\n", .{});
        }
    }
    const steps = n_prompt_runs + n_decode;
    try out.print("{s:<4} prompt {d:>8.1} tok/s ({d:.2} ms / {d} tokens)   decode {d:>7.3} ms/token   " ++
        "per step: host allocs {d}, recordings {d}, submits {d:.1} (decode {d:.1}), transfers {d}, segments {d}  " ++
        "[gpu weights {d} KiB, pools {d} KiB]  logit[0] {d:.4}\n", .{
        name,
        @as(f64, max_tokens) * 1e9 / @as(f64, @floatFromInt(prompt_ns)),
        @as(f64, @floatFromInt(prompt_ns)) / 1e6,
        max_tokens,
        @as(f64, @floatFromInt(decode_ns)) / 1e6,
        (ex.counting.n - counted0) + (ex.stats.host_allocs - allocs0),
        ex.stats.recordings - recs0,
        @as(f64, @floatFromInt(ex.stats.submits - submits0)) / steps,
        @as(f64, @floatFromInt(ex.stats.submits - submits_p)) / n_decode,
        ex.stats.transfers,
        ex.stats.n_segments,
        ex.stats.gpu_weight_bytes / 1024,
        ex.stats.gpu_pool_bytes / 1024,
        logits[0],
    });
}

pub fn main() !void {
    const a = std.heap.page_allocator;
    var args = try std.process.argsWithAllocator(a);
    defer args.deinit();
    _ = args.skip();
    const n_threads: u32 = if (args.next()) |s| try std.fmt.parseInt(u32, s, 10) else 0;
    const out = std.io.getStdOut().writer();
    var m = try buildLlama(a, 42, max_tokens);
    defer m.g.deinit();
    try out.print("llama-shaped graph: n_embd {d}, {d} layers, n_ff {d}, {d}/{d} heads, vocab {d}, Q4_0, max_tokens {d}, {d} nodes\n", .{ n_embd, n_layer, n_ff, n_head, n_head_kv, n_vocab, max_tokens, m.g.len() });
    try bench(out, "cpu", &m, null, n_threads);
    const profile = vk.Profile.parse(std.posix.getenv("PI5_LIMITS") orelse "") orelse .none;
    const ctx = vk.Context.create(a, .{ .profile = profile, .log = .{ .level = .warn }, .device = std.posix.getenv("PI5_DEVICE") }) catch |e| {
        try out.print("gpu  unavailable: {s}\n", .{@errorName(e)});
        return;
    };
    defer ctx.destroy();
    try out.print("gpu device: {s}{s}\n", .{ ctx.report.deviceName(), if (profile != .none) " (limits profile applied)" else "" });
    try bench(out, "gpu", &m, ctx, n_threads);
}
