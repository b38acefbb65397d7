//! Tests of core/cpu/ops.zig: every CPU op against float64 references.
const std = @import("std");
const quant = @import("../quant/quant.zig");
const ops = @import("ops.zig");
const GgmlType = quant.GgmlType;
const softmax = ops.softmax;
const swiglu = ops.swiglu;
const gelu = ops.gelu;
const silu = ops.silu;
const scale = ops.scale;
const mul = ops.mul;
const attention = ops.attention;
const add = ops.add;
const AttentionParams = ops.AttentionParams;
const layerNorm = ops.layerNorm;
const Error = ops.Error;
const rope = ops.rope;
const rmsNorm = ops.rmsNorm;
const matmul = ops.matmul;
const getRows = ops.getRows;
const f16ToF32 = ops.f16ToF32;
const KvView = ops.KvView;
const matmulScratchBytes = ops.matmulScratchBytes;
const f32ToF16 = ops.f32ToF16;
const RopeParams = ops.RopeParams;
const QTensor = ops.QTensor;
const Pool = ops.Pool;
const Attn = ops.Attn;

const testing = std.testing;

fn randomSlice(rng: std.Random, a: std.mem.Allocator, n: usize, s: f32) ![]f32 {
    const x = try a.alloc(f32, n);
    for (x) |*v| v.* = rng.floatNorm(f32) * s;
    return x;
}

/// max |got - ref| / (max |ref| + tiny), in f64.
fn maxRelErr(ref: []const f64, got: []const f32) f64 {
    var m: f64 = 1e-30;
    for (ref) |r| m = @max(m, @abs(r));
    var e: f64 = 0;
    for (ref, got) |r, g| e = @max(e, @abs(r - g));
    return e / m;
}

fn expectErr(name: []const u8, err: f64, bound: f64) !void {
    if (std.process.hasEnvVarConstant("QUANT_VERBOSE")) std.debug.print("{s}: {e:.2}\n", .{ name, err });
    if (err > bound) {
        std.debug.print("{s}: error {e:.3} > bound {e}\n", .{ name, err, bound });
        return error.TestUnexpectedResult;
    }
}

const TestPool = struct {
    pool: Pool = undefined,
    fn init(tp: *TestPool) !void {
        try tp.pool.init(testing.allocator, .{ .n_threads = 2, .spin_iters = 256 });
    }
};

test "matmul of every weight type against float64 dots of the dequantized weights" {
    const a = testing.allocator;
    var tp = TestPool{};
    try tp.init();
    defer tp.pool.deinit();
    var prng = std.Random.DefaultPrng.init(11);
    const rng = prng.random();
    const n_in = 512;
    const n_out = 37;
    const n_tokens = 3;
    const w = try randomSlice(rng, a, n_out * n_in, 1);
    defer a.free(w);
    const x = try randomSlice(rng, a, n_tokens * n_in, 1);
    defer a.free(x);
    const wd = try a.alloc(f32, n_out * n_in);
    defer a.free(wd);
    const out = try a.alloc(f32, n_tokens * n_out);
    defer a.free(out);
    for (@import("../quant/weight_types.zig").types) |t| {
        const rb: usize = @intCast(t.rowBytes(n_in).?);
        const wq = try a.alloc(u8, rb * n_out);
        defer a.free(wq);
        for (0..n_out) |o| {
            try quant.quantizeRow(t, w[o * n_in ..][0..n_in], wq[o * rb ..][0..rb]);
            try quant.dequantizeRow(t, wq[o * rb ..][0..rb], wd[o * n_in ..][0..n_in]);
        }
        const scratch = try a.alloc(u8, try matmulScratchBytes(t, n_in, n_tokens));
        defer a.free(scratch);
        const wt = QTensor{ .t = t, .data = wq, .n_rows = n_out, .n_cols = n_in };
        for ([_]?*Pool{ null, &tp.pool }) |pool| {
            try matmul(pool, wt, x, n_tokens, out, scratch);
            var worst: f64 = 0;
            for (0..n_tokens) |tk| for (0..n_out) |o| {
                var ref: f64 = 0;
                var nw: f64 = 0;
                var nx: f64 = 0;
                for (0..n_in) |i| {
                    ref += @as(f64, wd[o * n_in + i]) * x[tk * n_in + i];
                    nw += @as(f64, wd[o * n_in + i]) * wd[o * n_in + i];
                    nx += @as(f64, x[tk * n_in + i]) * x[tk * n_in + i];
                }
                worst = @max(worst, @abs(ref - out[tk * n_out + o]) / @sqrt(nw * nx));
            };
            // Float weights: rounding only. Quantized: Q8 activation error (see dot.zig).
            try expectErr(t.name(), worst, if (t.isQuantized()) 2e-3 else 1e-6);
        }
    }
    // Shape errors.
    const wt = QTensor{ .t = .q4_0, .data = &.{}, .n_rows = 1, .n_cols = 32 };
    try testing.expectError(error.BadShape, matmul(null, wt, x[0..32], 1, out[0..1], &.{}));
    const wt2 = QTensor{ .t = .q4_0, .data = &([_]u8{0} ** 18), .n_rows = 1, .n_cols = 30 };
    try testing.expectError(error.BadShape, matmul(null, wt2, x[0..30], 1, out[0..1], &.{}));
}

test "getRows dequantizes embedding rows and rejects bad ids" {
    const a = testing.allocator;
    var prng = std.Random.DefaultPrng.init(3);
    const n_vocab = 7;
    const n_embd = 256;
    const w = try randomSlice(prng.random(), a, n_vocab * n_embd, 1);
    defer a.free(w);
    var out: [2 * n_embd]f32 = undefined;
    var ref: [n_embd]f32 = undefined;
    for ([_]GgmlType{ .f32, .f16, .q4_0, .q6_k }) |t| {
        const rb: usize = @intCast(t.rowBytes(n_embd).?);
        const wq = try a.alloc(u8, rb * n_vocab);
        defer a.free(wq);
        try quant.quantizeRow(t, w, wq); // rows are whole blocks, so one call covers them all
        const wt = QTensor{ .t = t, .data = wq, .n_rows = n_vocab, .n_cols = n_embd };
        try getRows(wt, &.{ 5, 2 }, &out);
        try quant.dequantizeRow(t, wq[2 * rb ..][0..rb], &ref);
        try testing.expectEqualSlices(f32, &ref, out[n_embd..]);
        try testing.expectError(error.BadShape, getRows(wt, &.{7}, out[0..n_embd]));
    }
}

test "norms, element-wise ops and softmax against float64 references" {
    const a = testing.allocator;
    var tp = TestPool{};
    try tp.init();
    defer tp.pool.deinit();
    var prng = std.Random.DefaultPrng.init(5);
    const rng = prng.random();
    const n_rows = 37;
    const n_cols = 129;
    const n = n_rows * n_cols;
    const x = try randomSlice(rng, a, n, 2);
    defer a.free(x);
    const b = try randomSlice(rng, a, n, 1);
    defer a.free(b);
    const wt = try randomSlice(rng, a, n_cols, 1);
    defer a.free(wt);
    const out = try a.alloc(f32, n);
    defer a.free(out);
    const ref = try a.alloc(f64, n);
    defer a.free(ref);
    const eps: f32 = 1e-5;

    for ([_]?*Pool{ null, &tp.pool }) |pool| {
        // rmsNorm
        try rmsNorm(pool, x, wt, n_rows, n_cols, eps, out);
        for (0..n_rows) |r| {
            var ss: f64 = 0;
            for (0..n_cols) |c| ss += @as(f64, x[r * n_cols + c]) * x[r * n_cols + c];
            const s = 1.0 / @sqrt(ss / n_cols + eps);
            for (0..n_cols) |c| ref[r * n_cols + c] = x[r * n_cols + c] * s * wt[c];
        }
        try expectErr("rmsNorm", maxRelErr(ref, out), 1e-6);
        // layerNorm
        try layerNorm(pool, x, wt, b[0..n_cols], n_rows, n_cols, eps, out);
        for (0..n_rows) |r| {
            var mean: f64 = 0;
            for (0..n_cols) |c| mean += x[r * n_cols + c];
            mean /= n_cols;
            var vr: f64 = 0;
            for (0..n_cols) |c| vr += (x[r * n_cols + c] - mean) * (x[r * n_cols + c] - mean);
            const s = 1.0 / @sqrt(vr / n_cols + eps);
            for (0..n_cols) |c| ref[r * n_cols + c] = (x[r * n_cols + c] - mean) * s * wt[c] + b[c];
        }
        try expectErr("layerNorm", maxRelErr(ref, out), 1e-6);
        // add / mul, full and row-broadcast
        try add(pool, x, b, n_rows, n_cols, out);
        for (ref, x, b) |*r, u, v| r.* = @as(f64, u) + v;
        try expectErr("add", maxRelErr(ref, out), 1e-7);
        try mul(pool, x, wt, n_rows, n_cols, out);
        for (ref, x, 0..) |*r, u, i| r.* = @as(f64, u) * wt[i % n_cols];
        try expectErr("mul broadcast", maxRelErr(ref, out), 1e-7);
        try scale(pool, x, 0.37, out);
        for (ref, x) |*r, u| r.* = @as(f64, u) * 0.37;
        try expectErr("scale", maxRelErr(ref, out), 1e-7);
        // activations
        try silu(pool, x, out);
        for (ref, x) |*r, u| r.* = u / (1 + @exp(-@as(f64, u)));
        try expectErr("silu", maxRelErr(ref, out), 1e-6);
        try gelu(pool, x, out);
        for (ref, x) |*r, u_| {
            const u: f64 = u_;
            r.* = 0.5 * u * (1 + std.math.tanh(@sqrt(2.0 / std.math.pi) * u * (1 + 0.044715 * u * u)));
        }
        try expectErr("gelu", maxRelErr(ref, out), 1e-6);
        try swiglu(pool, x, b, out);
        for (ref, x, b) |*r, g, u| r.* = @as(f64, g) / (1 + @exp(-@as(f64, g))) * u;
        try expectErr("swiglu", maxRelErr(ref, out), 1e-6);
        // softmax with scale and causal mask at pos0 = 50
        @memcpy(out, x);
        try softmax(pool, out, n_rows, n_cols, 0.7, .{ .pos0 = 50 });
        for (0..n_rows) |r| {
            const nv = @min(n_cols, 50 + r + 1);
            var mx: f64 = -std.math.inf(f64);
            for (0..nv) |c| mx = @max(mx, 0.7 * @as(f64, x[r * n_cols + c]));
            var sum: f64 = 0;
            for (0..nv) |c| sum += @exp(0.7 * @as(f64, x[r * n_cols + c]) - mx);
            for (0..n_cols) |c| ref[r * n_cols + c] = if (c < nv) @exp(0.7 * @as(f64, x[r * n_cols + c]) - mx) / sum else 0;
        }
        try expectErr("softmax", maxRelErr(ref, out), 1e-6);
    }
    try testing.expectError(error.BadShape, add(null, x, b[0..5], n_rows, n_cols, out));
    try testing.expectError(error.BadShape, rmsNorm(null, x, wt[0..3], n_rows, n_cols, eps, out));
}

test "f16 conversions round trip" {
    const src = [_]f32{ 0, 1, -2.5, 65504, 1e-8, 0.1 };
    var h: [6]f16 = undefined;
    var back: [6]f32 = undefined;
    try f32ToF16(&src, &h);
    try f16ToF32(&h, &back);
    try testing.expectEqual(@as(f32, -2.5), back[2]);
    try testing.expectEqual(@as(f32, 65504), back[3]);
    try testing.expect(@abs(back[5] - 0.1) < 1e-4);
}

fn ropeRef(x: []f64, n_tokens: usize, n_head: usize, head_dim: usize, pos: []const i32, p: RopeParams) void {
    for (0..n_tokens) |t| for (0..n_head) |h| {
        const v = x[(t * n_head + h) * head_dim ..][0..head_dim];
        for (0..p.n_rot / 2) |i| {
            const theta = @as(f64, @floatFromInt(pos[t])) * p.freq_scale *
                std.math.pow(f64, p.freq_base, -2.0 * @as(f64, @floatFromInt(i)) / @as(f64, @floatFromInt(p.n_rot)));
            const ia = if (p.mode == .normal) 2 * i else i;
            const ib = if (p.mode == .normal) 2 * i + 1 else i + p.n_rot / 2;
            const x0 = v[ia];
            const x1 = v[ib];
            v[ia] = x0 * @cos(theta) - x1 * @sin(theta);
            v[ib] = x0 * @sin(theta) + x1 * @cos(theta);
        }
    };
}

test "rope normal and NeoX, partial rotary, scaled positions" {
    const a = testing.allocator;
    var prng = std.Random.DefaultPrng.init(9);
    const n_tokens = 5;
    const n_head = 3;
    const head_dim = 80;
    const n = n_tokens * n_head * head_dim;
    const x = try randomSlice(prng.random(), a, n, 1);
    defer a.free(x);
    const y = try a.alloc(f32, n);
    defer a.free(y);
    const ref = try a.alloc(f64, n);
    defer a.free(ref);
    const pos = [_]i32{ 0, 1, 17, 100, 511 };
    const cases = [_]RopeParams{
        .{ .n_rot = 80, .mode = .normal },
        .{ .n_rot = 80, .mode = .neox, .freq_base = 500000 },
        .{ .n_rot = 32, .mode = .neox, .freq_scale = 0.25 }, // Phi-style partial rotary
        .{ .n_rot = 64, .mode = .normal, .freq_scale = 0.5 },
    };
    for (cases) |p| {
        @memcpy(y, x);
        try rope(null, y, n_tokens, n_head, head_dim, &pos, p);
        for (ref, x) |*r, v| r.* = v;
        ropeRef(ref, n_tokens, n_head, head_dim, &pos, p);
        // f32 theta accumulated over n_rot/2 products at pos 511: ~1e-4 absolute angle error.
        try expectErr("rope", maxRelErr(ref, y), 1e-4); // measured 1.7e-5 (f32 theta products)
        // Dims past n_rot pass through untouched.
        try testing.expectEqual(x[head_dim - 1], y[head_dim - 1]);
    }
    try testing.expectError(error.BadShape, rope(null, y, n_tokens, n_head, head_dim, &pos, .{ .n_rot = 81 }));
}

fn attentionFlat(pool: ?*Pool, q: []const f32, k: KvView, v: KvView, p: Attn, out: []f32) Error!void {
    const shape = AttentionParams{ .n_head = @intCast(p.n_head), .n_head_kv = @intCast(p.n_head_kv), .head_dim = @intCast(p.head_dim), .scale = p.scale };
    return attention(pool, q, k, v, shape, .{ .n_tokens = p.n_tokens, .pos0 = p.pos0, .n_ctx = p.n_ctx }, out);
}

test "attention over F32 and F16 KV caches with GQA matches float64 softmax attention" {
    const a = testing.allocator;
    var tp = TestPool{};
    try tp.init();
    defer tp.pool.deinit();
    var prng = std.Random.DefaultPrng.init(13);
    const rng = prng.random();
    const p = Attn{ .n_tokens = 5, .n_head = 6, .n_head_kv = 2, .head_dim = 40, .pos0 = 32, .n_ctx = 41, .scale = null };
    const nq = p.n_tokens * p.n_head * p.head_dim;
    const nkv = p.n_ctx * p.n_head_kv * p.head_dim;
    const q = try randomSlice(rng, a, nq, 1);
    defer a.free(q);
    const k = try randomSlice(rng, a, nkv, 1);
    defer a.free(k);
    const v = try randomSlice(rng, a, nkv, 1);
    defer a.free(v);
    const k16 = try a.alloc(f16, nkv);
    defer a.free(k16);
    const v16 = try a.alloc(f16, nkv);
    defer a.free(v16);
    try f32ToF16(k, k16);
    try f32ToF16(v, v16);
    const out = try a.alloc(f32, nq);
    defer a.free(out);
    const ref = try a.alloc(f64, nq);
    defer a.free(ref);
    const scores = try a.alloc(f64, p.n_ctx);
    defer a.free(scores);

    for ([_]bool{ false, true }) |use_f16| {
        // Reference from the cache contents actually used (f16-rounded for the F16 cache).
        const hd = p.head_dim;
        for (0..p.n_tokens) |t| for (0..p.n_head) |h| {
            const hk = h / (p.n_head / p.n_head_kv);
            const n_kv = p.pos0 + t + 1;
            var mx: f64 = -std.math.inf(f64);
            for (0..n_kv) |j| {
                var s: f64 = 0;
                for (0..hd) |d| {
                    const kk: f64 = if (use_f16) k16[(j * p.n_head_kv + hk) * hd + d] else k[(j * p.n_head_kv + hk) * hd + d];
                    s += @as(f64, q[(t * p.n_head + h) * hd + d]) * kk;
                }
                scores[j] = s / @sqrt(@as(f64, hd));
                mx = @max(mx, scores[j]);
            }
            var sum: f64 = 0;
            for (0..n_kv) |j| {
                scores[j] = @exp(scores[j] - mx);
                sum += scores[j];
            }
            for (0..hd) |d| {
                var acc: f64 = 0;
                for (0..n_kv) |j| {
                    const vv: f64 = if (use_f16) v16[(j * p.n_head_kv + hk) * hd + d] else v[(j * p.n_head_kv + hk) * hd + d];
                    acc += scores[j] * vv;
                }
                ref[(t * p.n_head + h) * hd + d] = acc / sum;
            }
        };
        const kv: KvView = if (use_f16) .{ .f16 = k16 } else .{ .f32 = k };
        const vv: KvView = if (use_f16) .{ .f16 = v16 } else .{ .f32 = v };
        for ([_]?*Pool{ null, &tp.pool }) |pool| {
            @memset(out, 0);
            try attentionFlat(pool, q, kv, vv, p, out);
            try expectErr("attention", maxRelErr(ref, out), 1e-5);
        }
    }
    var bad = p;
    bad.n_ctx = 36; // pos0 + n_tokens = 37 rows needed
    try testing.expectError(error.BadShape, attentionFlat(null, q, .{ .f32 = k }, .{ .f32 = v }, bad, out));
    bad = p;
    bad.n_head = 5; // not a multiple of n_head_kv
    try testing.expectError(error.BadShape, attentionFlat(null, q[0 .. 5 * 5 * 40], .{ .f32 = k }, .{ .f32 = v }, bad, out[0 .. 5 * 5 * 40]));
}
