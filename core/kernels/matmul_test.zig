//! GPU tests of the weight-matrix kernels against core/quant and core/cpu/ops, on whatever
//! Vulkan device is present (lavapipe in CI), run by the build with validation on, once with the
//! default limits and once with PI5_LIMITS=v3dv. Outputs are poisoned with a NaN pattern first.
//!
//! Errors are normalized: max|gpu − ref| / (max|ref| + 1e-6).
//!  - vs an f64 product of the dequantized weights (`exact`): only f32 summation order differs.
//!  - vs cpu_ops.matmul (`cpu`): the CPU quantizes activations to the weight's dot type (Q8_0,
//!    Q8_1, Q8_K) while the GPU keeps f32 activations, so the bound is that quantization's error.
const std = @import("std");
const testing = std.testing;
const vk = @import("../vk/vk.zig");
const vkt = @import("../vk/tests.zig");
const kernels = @import("kernels.zig");
const mm = @import("matmul.zig");
const quant = @import("../quant/quant.zig");
const cpu_ops = @import("../cpu/ops.zig");
const GgmlType = @import("../gguf/types.zig").GgmlType;

const nan_poison: u32 = 0x7fc0dead;

/// Bound of the error against the f64 reference of the dequantized weights (all types).
const exact_bound: f64 = 2e-5;

/// Bound vs exact for a plan: fp16 products (x rounded to f16: 2^-11 relative per term, ~3x
/// Σ|w·x| / max|ref| at these shapes) for the fp16-arithmetic and cooperative-matrix variants.
fn exactBound(p: mm.Plan) f64 {
    return switch (p.feature) {
        .float16, .coopmat_nv => 3e-3,
        else => exact_bound,
    };
}

/// Bound of the error against cpu_ops.matmul per type (the CPU's activation quantization).
fn cpuBound(t: GgmlType) f64 {
    return switch (t) {
        .f32, .f16, .bf16 => 2e-5, // the CPU dots f32 activations too
        else => 3e-2, // q8 activations on the CPU; measured worst 1.6e-2 (Q4_K, 8 tokens)
    };
}

fn randomRows(rng: std.Random, x: []f32) void {
    for (x, 0..) |*v, i| {
        v.* = rng.floatNorm(f32);
        if (i % 97 == 0) v.* *= 6; // outliers, as real weights have
    }
}

const Weights = struct {
    t: GgmlType,
    n_out: usize,
    n_in: usize,
    data: []u8,
    deq: []f32,

    fn init(t: GgmlType, n_out: usize, n_in: usize, seed: u64) !Weights {
        var rng = std.Random.DefaultPrng.init(seed);
        const rb: usize = @intCast(t.rowBytes(n_in).?);
        const data = try testing.allocator.alloc(u8, rb * n_out);
        errdefer testing.allocator.free(data);
        const deq = try testing.allocator.alloc(f32, n_in * n_out);
        errdefer testing.allocator.free(deq);
        const src = try testing.allocator.alloc(f32, n_in);
        defer testing.allocator.free(src);
        for (0..n_out) |r| {
            randomRows(rng.random(), src);
            try quant.quantizeRow(t, src, data[r * rb ..][0..rb]);
            try quant.dequantizeRow(t, data[r * rb ..][0..rb], deq[r * n_in ..][0..n_in]);
        }
        return .{ .t = t, .n_out = n_out, .n_in = n_in, .data = data, .deq = deq };
    }

    fn deinit(self: *Weights) void {
        testing.allocator.free(self.data);
        testing.allocator.free(self.deq);
    }

    fn rowBytes(self: *const Weights) usize {
        return @intCast(self.t.rowBytes(self.n_in).?);
    }

    /// A GPU copy, split into chunks of `rows_per_chunk` rows when given.
    fn upload(self: *const Weights, ctx: *vk.Context, rows_per_chunk: ?usize) !vk.Buffer {
        const rb = self.rowBytes();
        var buf = try ctx.mem.createBuffer(self.data.len, .{
            .split_unit = rb,
            .max_chunk_bytes = if (rows_per_chunk) |n| n * rb else null,
        });
        errdefer ctx.mem.destroyBuffer(&buf);
        try ctx.mem.upload(&buf, 0, self.data);
        return buf;
    }

    fn view(self: *const Weights, buf: *const vk.Buffer) kernels.View {
        return .{ .buf = buf, .type = self.t, .ne = .{ self.n_in, self.n_out, 1, 1 } };
    }
};

fn normErr(ref: []const f32, got: []const f32) f64 {
    var max_ref: f64 = 0;
    var max_diff: f64 = 0;
    for (ref, got) |a, b| {
        max_ref = @max(max_ref, @abs(@as(f64, a)));
        const d = @abs(@as(f64, a) - @as(f64, b));
        if (std.math.isNan(d)) return std.math.inf(f64);
        max_diff = @max(max_diff, d);
    }
    return max_diff / (max_ref + 1e-6);
}

/// Runs one matmul on the GPU: out [n_tokens × n_out].
fn gpuMatmul(k: *kernels.Kernels, wbuf: *const vk.Buffer, w: *const Weights, x: []const f32, n_tokens: usize, plan: ?mm.Plan, out: []f32) !void {
    const ctx = k.ctx;
    var xb = try ctx.mem.createBuffer(x.len * 4, .{});
    defer ctx.mem.destroyBuffer(&xb);
    try ctx.mem.upload(&xb, 0, std.mem.sliceAsBytes(x));
    var ob = try ctx.mem.createBuffer(out.len * 4, .{});
    defer ctx.mem.destroyBuffer(&ob);
    var seq = try vk.Sequence.init(ctx, 0);
    defer seq.deinit();
    try seq.begin();
    seq.fill(&ob, nan_poison);
    seq.barrier();
    const xv = kernels.View{ .buf = &xb, .ne = .{ w.n_in, n_tokens, 1, 1 } };
    const ov = kernels.View{ .buf = &ob, .ne = .{ w.n_out, n_tokens, 1, 1 } };
    if (plan) |p| {
        try mm.mulMatPlan(k, &seq, p, w.view(wbuf), xv, ov);
    } else {
        try mm.mulMat(k, &seq, w.view(wbuf), xv, ov);
    }
    try seq.end();
    try seq.submit();
    try ctx.mem.download(&ob, 0, std.mem.sliceAsBytes(out));
}

fn refExact(w: *const Weights, x: []const f32, n_tokens: usize, out: []f32) void {
    for (0..n_tokens) |t| for (0..w.n_out) |r| {
        var s: f64 = 0;
        for (0..w.n_in) |i| s += @as(f64, w.deq[r * w.n_in + i]) * x[t * w.n_in + i];
        out[t * w.n_out + r] = @floatCast(s);
    };
}

fn refCpu(w: *const Weights, x: []const f32, n_tokens: usize, out: []f32) !void {
    const scratch = try testing.allocator.alloc(u8, try cpu_ops.matmulScratchBytes(w.t, w.n_in, n_tokens));
    defer testing.allocator.free(scratch);
    try cpu_ops.matmul(null, .{ .t = w.t, .data = w.data, .n_rows = w.n_out, .n_cols = w.n_in }, x, n_tokens, out, scratch);
}

fn nIn(t: GgmlType, small: bool) usize {
    return switch (t) {
        .f32, .f16, .bf16 => if (small) 67 else 132, // odd (element path), 4·33 (quad path, no tile multiple)
        .q4_k, .q5_k, .q6_k => if (small) 256 else 512,
        else => if (small) 64 else 192,
    };
}

const verbose = false;

test "matmul: get_rows decodes every type bit-exactly like quant.dequantizeRow" {
    const ctx = try vkt.testContext(.{});
    defer ctx.destroy();
    var k = try kernels.Kernels.init(ctx);
    defer k.deinit();
    for (mm.weight_types, 0..) |t, ti| {
        var w = try Weights.init(t, 23, nIn(t, false), 100 + ti);
        defer w.deinit();
        var wbuf = try w.upload(ctx, null);
        defer ctx.mem.destroyBuffer(&wbuf);
        // Every row once (reversed), one twice, and one id past the end (reads as zeros).
        var ids: [25]u32 = undefined;
        for (0..23) |i| ids[i] = @intCast(22 - i);
        ids[23] = 5;
        ids[24] = 1000;
        var ib = try ctx.mem.createBuffer(ids.len * 4, .{});
        defer ctx.mem.destroyBuffer(&ib);
        try ctx.mem.upload(&ib, 0, std.mem.sliceAsBytes(&ids));
        const out = try testing.allocator.alloc(f32, ids.len * w.n_in);
        defer testing.allocator.free(out);
        var ob = try ctx.mem.createBuffer(out.len * 4, .{});
        defer ctx.mem.destroyBuffer(&ob);
        var seq = try vk.Sequence.init(ctx, 0);
        defer seq.deinit();
        try seq.begin();
        seq.fill(&ob, nan_poison);
        seq.barrier();
        try mm.getRows(&k, &seq, w.view(&wbuf), .{ .buf = &ib, .type = .i32, .ne = .{ ids.len, 1, 1, 1 } }, .{ .buf = &ob, .ne = .{ w.n_in, ids.len, 1, 1 } });
        try seq.end();
        try seq.submit();
        try ctx.mem.download(&ob, 0, std.mem.sliceAsBytes(out));
        for (ids, 0..) |id, i| {
            const got = out[i * w.n_in ..][0..w.n_in];
            if (id >= w.n_out) {
                for (got) |v| try testing.expectEqual(@as(u32, 0), @as(u32, @bitCast(v)));
                continue;
            }
            const want = w.deq[id * w.n_in ..][0..w.n_in];
            for (want, got, 0..) |a, b, j| {
                if (@as(u32, @bitCast(a)) != @as(u32, @bitCast(b))) {
                    std.debug.print("get_rows {s}: row {d} elem {d}: cpu {e} gpu {e}\n", .{ t.name(), id, j, a, b });
                    return error.TestUnexpectedResult;
                }
            }
        }
    }
    try vkt.expectNoValidationMessages(ctx);
}

test "matmul: every type and variant matches the CPU (mat-vec and tiled, odd shapes)" {
    const ctx = try vkt.testContext(.{});
    defer ctx.destroy();
    var k = try kernels.Kernels.init(ctx);
    defer k.deinit();
    const shapes = [_]struct { n_out: usize, n_tokens: usize, small: bool }{
        .{ .n_out = 37, .n_tokens = 1, .small = false },
        .{ .n_out = 129, .n_tokens = 3, .small = true },
        .{ .n_out = 37, .n_tokens = 8, .small = true },
        .{ .n_out = 37, .n_tokens = 17, .small = false },
        .{ .n_out = 129, .n_tokens = 64, .small = true },
    };
    var worst_exact = [_]f64{0} ** mm.weight_types.len;
    var worst_cpu = [_]f64{0} ** mm.weight_types.len;
    for (mm.weight_types, 0..) |t, ti| {
        for (shapes, 0..) |sh, si| {
            var w = try Weights.init(t, sh.n_out, nIn(t, sh.small), 1000 * ti + si);
            defer w.deinit();
            var wbuf = try w.upload(ctx, null);
            defer ctx.mem.destroyBuffer(&wbuf);
            const x = try testing.allocator.alloc(f32, sh.n_tokens * w.n_in);
            defer testing.allocator.free(x);
            var rng = std.Random.DefaultPrng.init(7 + si);
            randomRows(rng.random(), x);
            const n = sh.n_tokens * w.n_out;
            const want = try testing.allocator.alloc(f32, n);
            defer testing.allocator.free(want);
            const cpu = try testing.allocator.alloc(f32, n);
            defer testing.allocator.free(cpu);
            const got = try testing.allocator.alloc(f32, n);
            defer testing.allocator.free(got);
            refExact(&w, x, sh.n_tokens, want);
            try refCpu(&w, x, sh.n_tokens, cpu);

            // The default choice, plus the shared-memory mat-vec where subgroups took over.
            // F16 with 16-bit storage: also the word-load baseline (both reductions).
            var plans: [4]mm.Plan = undefined;
            var n_plans: usize = 0;
            plans[n_plans] = try mm.planMulMat(&ctx.report, t, sh.n_tokens);
            n_plans += 1;
            if (plans[0].kind == .vec_subgroup) {
                plans[n_plans] = try mm.planMulMatWith(&ctx.report, t, sh.n_tokens, .{ .subgroup = false });
                n_plans += 1;
            }
            if (plans[0].feature != .none) {
                plans[n_plans] = try mm.planMulMatWith(&ctx.report, t, sh.n_tokens, .{ .storage16 = false });
                n_plans += 1;
                if (plans[0].kind == .vec_subgroup) {
                    plans[n_plans] = try mm.planMulMatWith(&ctx.report, t, sh.n_tokens, .{ .subgroup = false, .storage16 = false });
                    n_plans += 1;
                }
            }
            for (plans[0..n_plans], 0..) |p, pi| {
                try gpuMatmul(&k, &wbuf, &w, x, sh.n_tokens, if (pi == 0) null else p, got);
                const e_exact = normErr(want, got);
                const e_cpu = normErr(cpu, got);
                if (verbose) std.debug.print("{s:<22} n_out {d:>3} n_in {d:>3} tokens {d:>2}: exact {e:.2} cpu {e:.2}\n", .{ p.name(), w.n_out, w.n_in, sh.n_tokens, e_exact, e_cpu });
                worst_exact[ti] = @max(worst_exact[ti], e_exact);
                worst_cpu[ti] = @max(worst_cpu[ti], e_cpu);
                if (e_exact > exactBound(p) or e_cpu > @max(cpuBound(t), exactBound(p))) {
                    std.debug.print("matmul {s} ({s}) n_out {d} n_in {d} tokens {d}: error vs exact {e}, vs cpu {e}\n", .{ t.name(), p.name(), w.n_out, w.n_in, sh.n_tokens, e_exact, e_cpu });
                    return error.TestUnexpectedResult;
                }
            }
        }
    }
    if (verbose) for (mm.weight_types, worst_exact, worst_cpu) |t, a, b| std.debug.print("{s:<5} worst: exact {e:.2} cpu {e:.2}\n", .{ t.name(), a, b });
    try vkt.expectNoValidationMessages(ctx);
}

test "matmul: F16 mat-vec variants (16-bit storage, fp16 arithmetic) where the device has them" {
    const ctx = try vkt.testContext(.{});
    defer ctx.destroy();
    var k = try kernels.Kernels.init(ctx);
    defer k.deinit();
    const r = &ctx.report;
    if (r.profile == .v3dv) try testing.expect(!r.shader_float16);
    var worst_h16: f64 = 0;
    for ([_]usize{ 67, 132, 512 }, 0..) |n_in, si| for ([_]usize{ 1, 3, 8 }) |n_tokens| {
        var w = try Weights.init(.f16, 37, n_in, 4000 + si);
        defer w.deinit();
        var wbuf = try w.upload(ctx, null);
        defer ctx.mem.destroyBuffer(&wbuf);
        const x = try testing.allocator.alloc(f32, n_tokens * n_in);
        defer testing.allocator.free(x);
        var rng = std.Random.DefaultPrng.init(11 + si);
        randomRows(rng.random(), x);
        const n = n_tokens * w.n_out;
        const want = try testing.allocator.alloc(f32, n);
        defer testing.allocator.free(want);
        const base = try testing.allocator.alloc(f32, n);
        defer testing.allocator.free(base);
        const got = try testing.allocator.alloc(f32, n);
        defer testing.allocator.free(got);
        refExact(&w, x, n_tokens, want);
        for ([_]bool{ false, true }) |sg| {
            if (sg and !r.hasSubgroupArithmetic()) continue;
            const word = try mm.planMulMatWith(r, .f16, n_tokens, .{ .subgroup = sg, .storage16 = false });
            try testing.expectEqual(mm.Feature.none, word.feature);
            try gpuMatmul(&k, &wbuf, &w, x, n_tokens, word, base);
            const s16 = try mm.planMulMatWith(r, .f16, n_tokens, .{ .subgroup = sg });
            if (r.storage_16bit) {
                try testing.expectEqual(mm.Feature.storage_16bit, s16.feature);
                try gpuMatmul(&k, &wbuf, &w, x, n_tokens, s16, got);
                // Same values in the same order: the same bits as the word path.
                try testing.expectEqualSlices(u32, @ptrCast(base), @ptrCast(got));
                try testing.expect(normErr(want, got) <= exact_bound);
            } else try testing.expectEqual(mm.Feature.none, s16.feature);
            const h16 = try mm.planMulMatWith(r, .f16, n_tokens, .{ .subgroup = sg, .float16 = true });
            if (!r.shader_float16) {
                try testing.expect(h16.feature != .float16);
                continue;
            }
            try testing.expectEqual(mm.Feature.float16, h16.feature);
            try gpuMatmul(&k, &wbuf, &w, x, n_tokens, h16, got);
            // Per output: x and w·x each rounded to f16 (2 · 2^-11 relative), f32 sums.
            for (0..n_tokens) |t| for (0..w.n_out) |row| {
                var abs_sum: f64 = 0;
                for (0..n_in) |i| abs_sum += @abs(@as(f64, w.deq[row * n_in + i]) * x[t * n_in + i]);
                const bound = (std.math.pow(f64, 2, -10) + @as(f64, @floatFromInt(n_in)) * std.math.pow(f64, 2, -24)) * abs_sum + 1e-6;
                const e = @abs(@as(f64, got[t * w.n_out + row]) - want[t * w.n_out + row]);
                if (!(e <= bound)) {
                    std.debug.print("{s} n_in {d} tokens {d} out {d}/{d}: err {e} > bound {e}\n", .{ h16.name(), n_in, n_tokens, t, row, e, bound });
                    return error.TestUnexpectedResult;
                }
            };
            worst_h16 = @max(worst_h16, normErr(want, got));
        }
    };
    if (verbose) std.debug.print("f16 h16 worst normalized error {e:.2}\n", .{worst_h16});
    try vkt.expectNoValidationMessages(ctx);
}

/// mulMatQ (int8 activations where the device has integer dot products) into `out`.
fn gpuMatmulQ(k: *kernels.Kernels, wbuf: *const vk.Buffer, w: *const Weights, x: []const f32, n_tokens: usize, out: []f32) !void {
    const ctx = k.ctx;
    var xb = try ctx.mem.createBuffer(x.len * 4, .{});
    defer ctx.mem.destroyBuffer(&xb);
    try ctx.mem.upload(&xb, 0, std.mem.sliceAsBytes(x));
    var qb = try ctx.mem.createBuffer(mm.q8ScratchBytes(w.n_in, n_tokens), .{});
    defer ctx.mem.destroyBuffer(&qb);
    var ob = try ctx.mem.createBuffer(out.len * 4, .{});
    defer ctx.mem.destroyBuffer(&ob);
    var seq = try vk.Sequence.init(ctx, 0);
    defer seq.deinit();
    try seq.begin();
    seq.fill(&ob, nan_poison);
    seq.fill(&qb, nan_poison);
    seq.barrier();
    const xv = kernels.View{ .buf = &xb, .ne = .{ w.n_in, n_tokens, 1, 1 } };
    const qv = kernels.View{ .buf = &qb, .type = .i32, .ne = .{ mm.q8ScratchBytes(w.n_in, n_tokens) / 4, 1, 1, 1 } };
    const ov = kernels.View{ .buf = &ob, .ne = .{ w.n_out, n_tokens, 1, 1 } };
    try mm.mulMatQ(k, &seq, w.view(wbuf), xv, qv, ov);
    try seq.end();
    try seq.submit();
    try ctx.mem.download(&ob, 0, std.mem.sliceAsBytes(out));
}

test "matmul: Q8_0 / Q4_0 integer dot product mat-vec (int8 activations) where the device has it" {
    const ctx = try vkt.testContext(.{});
    defer ctx.destroy();
    var k = try kernels.Kernels.init(ctx);
    defer k.deinit();
    const r = &ctx.report;
    const has = r.integer_dot_product and r.shader_int8;
    if (r.profile == .v3dv) try testing.expect(!has);
    var worst_exact: f64 = 0;
    var worst_cpu: f64 = 0;
    var worst_ratio: f64 = 0;
    for (mm.int_dot_types) |wt| for ([_]usize{ 64, 192, 1024 }, 0..) |n_in, si| for ([_]usize{ 1, 3, 8 }) |n_tokens| {
        var w = try Weights.init(wt, 37, n_in, 6000 + si);
        defer w.deinit();
        var wbuf = try w.upload(ctx, null);
        defer ctx.mem.destroyBuffer(&wbuf);
        const x = try testing.allocator.alloc(f32, n_tokens * n_in);
        defer testing.allocator.free(x);
        var rng = std.Random.DefaultPrng.init(21 + si);
        randomRows(rng.random(), x);
        const n = n_tokens * w.n_out;
        const want = try testing.allocator.alloc(f32, n);
        defer testing.allocator.free(want);
        const cpu = try testing.allocator.alloc(f32, n);
        defer testing.allocator.free(cpu);
        const got = try testing.allocator.alloc(f32, n);
        defer testing.allocator.free(got);
        refExact(&w, x, n_tokens, want);
        try refCpu(&w, x, n_tokens, cpu);
        const plan = try mm.planMulMatWith(r, wt, n_tokens, .{ .int_dot = true });
        try testing.expectEqual(has, plan.feature == .int_dot);
        try testing.expect((try mm.planMulMat(r, wt, n_tokens)).feature == .none);
        try gpuMatmulQ(&k, &wbuf, &w, x, n_tokens, got);
        const e_exact = normErr(want, got);
        const e_cpu = normErr(cpu, got);
        worst_exact = @max(worst_exact, e_exact);
        worst_cpu = @max(worst_cpu, e_cpu);
        if (!has) {
            // The fallback is the plain mat-vec: f32 activations.
            try testing.expect(e_exact <= exact_bound);
            continue;
        }
        try testing.expect(e_cpu <= cpuBound(wt));
        // Per output: each activation off by at most d/2 (+ the f32 rounding of x·(1/d)), d =
        // max|x|/127 of its 32-block; the int sums are exact; f32 scaling and summing ~1e-6.
        for (0..n_tokens) |t| for (0..w.n_out) |row| {
            var bound: f64 = 1e-6;
            var blk: usize = 0;
            while (blk < n_in) : (blk += 32) {
                var amax: f64 = 0;
                var wabs: f64 = 0;
                var wx: f64 = 0;
                var wmax: f64 = 0;
                for (blk..blk + 32) |i| {
                    wmax = @max(wmax, @abs(@as(f64, w.deq[row * n_in + i])));
                    amax = @max(amax, @abs(@as(f64, x[t * n_in + i])));
                    wabs += @abs(@as(f64, w.deq[row * n_in + i]));
                    wx += @abs(@as(f64, w.deq[row * n_in + i]) * x[t * n_in + i]);
                }
                // Q4_0's offset form d_w(d_x Σq·qx − 8 s) rounds terms up to 2·max|w|·Σ|x|.
                bound += 0.5001 * amax / 127.0 * wabs + 1e-6 * wx + 1e-6 * 64 * amax * wmax;
            }
            const e = @abs(@as(f64, got[t * w.n_out + row]) - want[t * w.n_out + row]);
            worst_ratio = @max(worst_ratio, e / bound);
            if (!(e <= bound)) {
                std.debug.print("{s} dp n_in {d} tokens {d} out {d}/{d}: err {e} > bound {e}\n", .{ wt.name(), n_in, n_tokens, t, row, e, bound });
                return error.TestUnexpectedResult;
            }
        };
    };
    if (verbose) std.debug.print("q8_0/q4_0 int dot (on: {}): worst exact {e:.2} cpu {e:.2}, err/bound {d:.3}\n", .{ has, worst_exact, worst_cpu, worst_ratio });
    // An int_dot plan without its scratch is refused.
    if (has) {
        var b = try ctx.mem.createBuffer(1 << 16, .{});
        defer ctx.mem.destroyBuffer(&b);
        var seq = try vk.Sequence.init(ctx, 0);
        defer seq.deinit();
        try seq.begin();
        const plan = try mm.planMulMatWith(r, .q8_0, 1, .{ .int_dot = true });
        try testing.expectError(error.InvalidArgument, mm.mulMatPlan(&k, &seq, plan, .{ .buf = &b, .type = .q8_0, .ne = .{ 64, 8, 1, 1 } }, .{ .buf = &b, .ne = .{ 64, 1, 1, 1 } }, .{ .buf = &b, .ne = .{ 8, 1, 1, 1 } }));
        try seq.end();
    }
    try vkt.expectNoValidationMessages(ctx);
}

test "matmul: weights split into chunks give the same bits" {
    const ctx = try vkt.testContext(.{});
    defer ctx.destroy();
    var k = try kernels.Kernels.init(ctx);
    defer k.deinit();
    for ([_]GgmlType{ .f16, .q4_0, .q5_1, .q6_k }, 0..) |t, ti| {
        var w = try Weights.init(t, 45, nIn(t, true), 500 + ti);
        defer w.deinit();
        var whole = try w.upload(ctx, null);
        defer ctx.mem.destroyBuffer(&whole);
        var split = try w.upload(ctx, 10);
        defer ctx.mem.destroyBuffer(&split);
        try testing.expect(split.chunks.len == 5);
        for ([_]usize{ 2, 17 }) |n_tokens| {
            const x = try testing.allocator.alloc(f32, n_tokens * w.n_in);
            defer testing.allocator.free(x);
            var rng = std.Random.DefaultPrng.init(n_tokens);
            randomRows(rng.random(), x);
            const a = try testing.allocator.alloc(f32, n_tokens * w.n_out);
            defer testing.allocator.free(a);
            const b = try testing.allocator.alloc(f32, n_tokens * w.n_out);
            defer testing.allocator.free(b);
            try gpuMatmul(&k, &whole, &w, x, n_tokens, null, a);
            try gpuMatmul(&k, &split, &w, x, n_tokens, null, b);
            try testing.expectEqualSlices(u32, @ptrCast(a), @ptrCast(b));
            const want = try testing.allocator.alloc(f32, n_tokens * w.n_out);
            defer testing.allocator.free(want);
            refExact(&w, x, n_tokens, want);
            try testing.expect(normErr(want, b) <= exactBound(try mm.planMulMat(&ctx.report, t, n_tokens)));
        }
        // get_rows across chunks: rows from every chunk.
        const ids = [_]u32{ 44, 0, 9, 10, 29, 30, 31 };
        var ib = try ctx.mem.createBuffer(ids.len * 4, .{});
        defer ctx.mem.destroyBuffer(&ib);
        try ctx.mem.upload(&ib, 0, std.mem.sliceAsBytes(&ids));
        var ob = try ctx.mem.createBuffer(ids.len * w.n_in * 4, .{});
        defer ctx.mem.destroyBuffer(&ob);
        var seq = try vk.Sequence.init(ctx, 0);
        defer seq.deinit();
        try seq.begin();
        seq.fill(&ob, nan_poison);
        seq.barrier();
        try mm.getRows(&k, &seq, w.view(&split), .{ .buf = &ib, .type = .i32, .ne = .{ ids.len, 1, 1, 1 } }, .{ .buf = &ob, .ne = .{ w.n_in, ids.len, 1, 1 } });
        try seq.end();
        try seq.submit();
        const out = try testing.allocator.alloc(f32, ids.len * w.n_in);
        defer testing.allocator.free(out);
        try ctx.mem.download(&ob, 0, std.mem.sliceAsBytes(out));
        for (ids, 0..) |id, i| {
            try testing.expectEqualSlices(u32, @ptrCast(w.deq[id * w.n_in ..][0..w.n_in]), @ptrCast(out[i * w.n_in ..][0..w.n_in]));
        }
    }
    try vkt.expectNoValidationMessages(ctx);
}

test "matmul: bad arguments are errors, not crashes" {
    const ctx = try vkt.testContext(.{});
    defer ctx.destroy();
    var k = try kernels.Kernels.init(ctx);
    defer k.deinit();
    var b = try ctx.mem.createBuffer(1 << 16, .{});
    defer ctx.mem.destroyBuffer(&b);
    var seq = try vk.Sequence.init(ctx, 0);
    defer seq.deinit();
    try seq.begin();
    const x = kernels.View{ .buf = &b, .ne = .{ 64, 2, 1, 1 } };
    const out = kernels.View{ .buf = &b, .ne = .{ 8, 2, 1, 1 } };
    const w = kernels.View{ .buf = &b, .type = .q4_0, .ne = .{ 64, 8, 1, 1 } };
    // Unsupported weight type, row length not a block multiple, shape mismatches, f16 activations.
    try testing.expectError(error.Unsupported, mm.mulMat(&k, &seq, .{ .buf = &b, .type = .q2_k, .ne = .{ 256, 8, 1, 1 } }, .{ .buf = &b, .ne = .{ 256, 2, 1, 1 } }, out));
    try testing.expectError(error.InvalidArgument, mm.mulMat(&k, &seq, .{ .buf = &b, .type = .q4_0, .ne = .{ 48, 8, 1, 1 } }, .{ .buf = &b, .ne = .{ 48, 2, 1, 1 } }, out));
    try testing.expectError(error.InvalidArgument, mm.mulMat(&k, &seq, w, .{ .buf = &b, .ne = .{ 32, 2, 1, 1 } }, out));
    try testing.expectError(error.InvalidArgument, mm.mulMat(&k, &seq, w, x, .{ .buf = &b, .ne = .{ 8, 3, 1, 1 } }));
    try testing.expectError(error.Unsupported, mm.mulMat(&k, &seq, w, .{ .buf = &b, .type = .f16, .ne = .{ 64, 2, 1, 1 } }, out));
    // A misaligned offset, a tensor past the end of its buffer, a bad chunk index.
    try testing.expectError(error.InvalidArgument, mm.mulMat(&k, &seq, .{ .buf = &b, .offset = 2, .type = .q4_0, .ne = .{ 64, 8, 1, 1 } }, x, out));
    try testing.expectError(error.InvalidArgument, mm.mulMat(&k, &seq, .{ .buf = &b, .type = .f32, .ne = .{ 64, 1000, 1, 1 } }, x, .{ .buf = &b, .ne = .{ 1000, 2, 1, 1 } }));
    try testing.expectError(error.InvalidArgument, mm.mulMat(&k, &seq, .{ .buf = &b, .chunk = 3, .type = .q4_0, .ne = .{ 64, 8, 1, 1 } }, x, out));
    // The subgroup variant forced on a device without it; too many tokens for mat-vec.
    const vec = try mm.planMulMatWith(&ctx.report, .q4_0, 1, .{ .subgroup = false });
    try testing.expectError(error.InvalidArgument, mm.mulMatPlan(&k, &seq, vec, w, .{ .buf = &b, .ne = .{ 64, 9, 1, 1 } }, .{ .buf = &b, .ne = .{ 8, 9, 1, 1 } }));
    // get_rows: ids must be i32, out must match.
    try testing.expectError(error.Unsupported, mm.getRows(&k, &seq, w, .{ .buf = &b, .type = .f32, .ne = .{ 4, 1, 1, 1 } }, .{ .buf = &b, .ne = .{ 64, 4, 1, 1 } }));
    try testing.expectError(error.InvalidArgument, mm.getRows(&k, &seq, w, .{ .buf = &b, .type = .i32, .ne = .{ 4, 1, 1, 1 } }, .{ .buf = &b, .ne = .{ 64, 3, 1, 1 } }));
    try seq.end();
    try vkt.expectNoValidationMessages(ctx);
}

test "matmul: variant choice follows the report" {
    var r = vk.Report{};
    r.max_compute_work_group_invocations = 1024;
    r.max_compute_work_group_size = .{ 1024, 1024, 64 };
    r.max_compute_shared_memory_size = 49152;
    r.subgroup_in_compute = true;
    r.subgroup_ops = .{ .basic = true, .arithmetic = true };
    try testing.expectEqualStrings("mul_mat_vec_q4_k_sg", try mm.variantName(&r, .q4_k, 1));
    try testing.expectEqualStrings("mul_mat_q4_k", try mm.variantName(&r, .q4_k, 9));
    try testing.expectEqual(@as(u32, 64), (try mm.planMulMat(&r, .q8_0, 100)).bm);
    try testing.expectEqualStrings("mul_mat_vec_f16_sg", try mm.variantName(&r, .f16, 1));
    r.storage_16bit = true;
    r.shader_float16 = true;
    try testing.expectEqualStrings("mul_mat_vec_f16_s16_sg", try mm.variantName(&r, .f16, 1));
    try testing.expectEqualStrings("mul_mat_vec_f16_h16_sg", (try mm.planMulMatWith(&r, .f16, 1, .{ .float16 = true })).name());
    try testing.expectEqualStrings("mul_mat_vec_f16_h16", (try mm.planMulMatWith(&r, .f16, 1, .{ .float16 = true, .subgroup = false })).name());
    try testing.expectEqualStrings("mul_mat_f16", try mm.variantName(&r, .f16, 9));
    try testing.expectEqualStrings("mul_mat_vec_q8_0_sg", (try mm.planMulMatWith(&r, .q8_0, 1, .{ .float16 = true })).name());
    r.integer_dot_product = true;
    r.shader_int8 = true;
    try testing.expectEqualStrings("mul_mat_vec_q8_0_dp_sg", (try mm.planMulMatWith(&r, .q8_0, 8, .{ .int_dot = true })).name());
    try testing.expectEqualStrings("mul_mat_q8_0", (try mm.planMulMatWith(&r, .q8_0, 9, .{ .int_dot = true })).name());
    try testing.expectEqualStrings("mul_mat_vec_q4_0_dp", (try mm.planMulMatWith(&r, .q4_0, 1, .{ .int_dot = true, .subgroup = false })).name());
    try testing.expectEqualStrings("mul_mat_vec_q4_1_sg", (try mm.planMulMatWith(&r, .q4_1, 1, .{ .int_dot = true })).name());
    try testing.expectEqualStrings("mul_mat_vec_q8_0_sg", try mm.variantName(&r, .q8_0, 1));
    r.subgroup_size = 32;
    r.cooperative_matrix_nv = true;
    const cm = try mm.planMulMat(&r, .f16, 64);
    try testing.expectEqualStrings("mul_mat_f16_coopmat_nv", cm.name());
    try testing.expectEqual(@as(u32, 128), cm.local);
    try testing.expectEqualStrings("mul_mat_f16", (try mm.planMulMatWith(&r, .f16, 64, .{ .coopmat = false })).name());
    try testing.expectEqualStrings("mul_mat_q8_0", try mm.variantName(&r, .q8_0, 64));
    try testing.expectEqualStrings("mul_mat_vec_f16_s16_sg", try mm.variantName(&r, .f16, 8));
    r.applyProfile(.v3dv);
    try testing.expectEqualStrings("mul_mat_vec_q4_k", try mm.variantName(&r, .q4_k, 8));
    // V3DV keeps 16-bit storage but has no fp16 arithmetic, no integer dot product, no
    // cooperative matrix.
    try testing.expectEqualStrings("mul_mat_f16", try mm.variantName(&r, .f16, 64));
    try testing.expectEqualStrings("mul_mat_vec_f16_s16", try mm.variantName(&r, .f16, 1));
    try testing.expectEqualStrings("mul_mat_vec_f16_s16", (try mm.planMulMatWith(&r, .f16, 1, .{ .float16 = true })).name());
    try testing.expectEqualStrings("mul_mat_vec_q8_0", (try mm.planMulMatWith(&r, .q8_0, 1, .{ .int_dot = true })).name());
    const tiled = try mm.planMulMat(&r, .f16, 64);
    try testing.expectEqual(@as(u32, 256), tiled.local);
    try testing.expect(2 * tiled.bm * 16 * 4 <= r.max_compute_shared_memory_size);
    r.max_compute_work_group_invocations = 128;
    try testing.expectEqual(@as(u32, 32), (try mm.planMulMat(&r, .f16, 64)).bm);
    try testing.expectError(error.Unsupported, mm.variantName(&r, .q2_k, 1));
}

test "matmul: grids past maxComputeWorkGroupCount fold into y" {
    const ctx = try vkt.testContext(.{});
    defer ctx.destroy();
    var k = try kernels.Kernels.init(ctx);
    defer k.deinit();
    // Clamp the report as a small device would (V3DV allows 65535; a 128k vocabulary needs more):
    // every kernel must then take its folded 2-D grid path.
    ctx.report.max_compute_work_group_count[0] = 4;
    var w = try Weights.init(.q8_0, 300, 64, 77);
    defer w.deinit();
    var wbuf = try w.upload(ctx, 128);
    defer ctx.mem.destroyBuffer(&wbuf);
    for ([_]usize{ 2, 70 }) |n_tokens| {
        const x = try testing.allocator.alloc(f32, n_tokens * w.n_in);
        defer testing.allocator.free(x);
        var rng = std.Random.DefaultPrng.init(n_tokens);
        randomRows(rng.random(), x);
        const want = try testing.allocator.alloc(f32, n_tokens * w.n_out);
        defer testing.allocator.free(want);
        const got = try testing.allocator.alloc(f32, n_tokens * w.n_out);
        defer testing.allocator.free(got);
        refExact(&w, x, n_tokens, want);
        try gpuMatmul(&k, &wbuf, &w, x, n_tokens, null, got);
        try testing.expect(normErr(want, got) <= exact_bound);
    }
    const ids = try testing.allocator.alloc(u32, w.n_out);
    defer testing.allocator.free(ids);
    for (ids, 0..) |*id, i| id.* = @intCast(w.n_out - 1 - i);
    var ib = try ctx.mem.createBuffer(ids.len * 4, .{});
    defer ctx.mem.destroyBuffer(&ib);
    try ctx.mem.upload(&ib, 0, std.mem.sliceAsBytes(ids));
    var ob = try ctx.mem.createBuffer(ids.len * w.n_in * 4, .{});
    defer ctx.mem.destroyBuffer(&ob);
    var seq = try vk.Sequence.init(ctx, 0);
    defer seq.deinit();
    try seq.begin();
    seq.fill(&ob, nan_poison);
    seq.barrier();
    try mm.getRows(&k, &seq, w.view(&wbuf), .{ .buf = &ib, .type = .i32, .ne = .{ ids.len, 1, 1, 1 } }, .{ .buf = &ob, .ne = .{ w.n_in, ids.len, 1, 1 } });
    try seq.end();
    try seq.submit();
    const out = try testing.allocator.alloc(f32, ids.len * w.n_in);
    defer testing.allocator.free(out);
    try ctx.mem.download(&ob, 0, std.mem.sliceAsBytes(out));
    for (ids, 0..) |id, i| {
        try testing.expectEqualSlices(u32, @ptrCast(w.deq[id * w.n_in ..][0..w.n_in]), @ptrCast(out[i * w.n_in ..][0..w.n_in]));
    }
    try vkt.expectNoValidationMessages(ctx);
}
