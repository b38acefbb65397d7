//! GPU ops (core/kernels/ops.zig) against the CPU reference (core/cpu/ops.zig) on random inputs
//! with odd sizes. Outputs are poisoned with NaN first; the error is max|gpu − cpu| / (max|cpu| +
//! 1e-30), NaN counting as infinite, asserted below a per-op bound. Run with PI5_VALIDATE=1 under
//! the default limits and PI5_LIMITS=v3dv; every test ends with zero validation messages.
//! OPS_VERBOSE=1 prints the measured errors.
const std = @import("std");
const vk = @import("../vk/vk.zig");
const vkt = @import("../vk/tests.zig");
const kernels = @import("kernels.zig");
const ops = @import("ops.zig");
const cpu = @import("../cpu/ops.zig");
const testing = std.testing;

const View = kernels.View;
const poison: u32 = 0x7fc00001; // f32 NaN
const poison16: u32 = 0x7e007e00; // two f16 NaNs

const Env = struct {
    ctx: *vk.Context,
    k: kernels.Kernels,
    bufs: std.ArrayListUnmanaged(*vk.Buffer) = .{},

    fn init() !*Env {
        const ctx = try vkt.testContext(.{});
        errdefer ctx.destroy();
        const e = try testing.allocator.create(Env);
        e.* = .{ .ctx = ctx, .k = try kernels.Kernels.init(ctx) };
        return e;
    }
    fn deinit(e: *Env) void {
        for (e.bufs.items) |b| {
            e.ctx.mem.destroyBuffer(b);
            testing.allocator.destroy(b);
        }
        e.bufs.deinit(testing.allocator);
        e.k.deinit();
        const ctx = e.ctx;
        testing.allocator.destroy(e);
        ctx.destroy();
    }
    fn buffer(e: *Env, bytes: u64) !*vk.Buffer {
        const b = try testing.allocator.create(vk.Buffer);
        errdefer testing.allocator.destroy(b);
        b.* = try e.ctx.mem.createBuffer(std.mem.alignForward(u64, @max(bytes, 4), 4), .{});
        try e.bufs.append(testing.allocator, b);
        return b;
    }
    /// A f32 view of [ne1 × ne0] holding `data` (or uninitialized when null).
    fn f32View(e: *Env, data: ?[]const f32, ne0: u64, ne1: u64) !View {
        const b = try e.buffer(ne0 * ne1 * 4);
        if (data) |d| {
            std.debug.assert(d.len == ne0 * ne1);
            try e.ctx.mem.upload(b, 0, std.mem.sliceAsBytes(d));
        }
        return .{ .buf = b, .ne = .{ ne0, ne1, 1, 1 } };
    }
    fn f16View(e: *Env, data: ?[]const f16, ne0: u64, ne1: u64) !View {
        const b = try e.buffer(ne0 * ne1 * 2);
        if (data) |d| try e.ctx.mem.upload(b, 0, std.mem.sliceAsBytes(d));
        return .{ .buf = b, .type = .f16, .ne = .{ ne0, ne1, 1, 1 } };
    }
    fn read(e: *Env, v: View, out: []f32) !void {
        try e.ctx.mem.download(v.buf, v.offset, std.mem.sliceAsBytes(out));
    }
    fn read16(e: *Env, v: View, out: []f16) !void {
        try e.ctx.mem.download(v.buf, v.offset, std.mem.sliceAsBytes(out));
    }
    fn params(e: *Env, pos: u32, n_tokens: u32) !void {
        try e.k.setParams(.{ .pos = pos, .n_tokens = n_tokens, .n_kv = pos + n_tokens });
    }
};

fn rand(rng: std.Random, n: usize, s: f32) ![]f32 {
    const x = try testing.allocator.alloc(f32, n);
    for (x) |*v| v.* = rng.floatNorm(f32) * s;
    return x;
}

fn relErr(ref: []const f32, got: []const f32) f64 {
    var m: f64 = 1e-30;
    for (ref) |r| m = @max(m, @abs(@as(f64, r)));
    var e: f64 = 0;
    for (ref, got) |r, g| {
        if (std.math.isNan(g) or std.math.isInf(g)) return std.math.inf(f64);
        e = @max(e, @abs(@as(f64, r) - g));
    }
    return e / m;
}

fn expectErr(name: []const u8, err: f64, bound: f64) !void {
    if (std.posix.getenv("OPS_VERBOSE") != null) std.debug.print("ops {s}: {e:.2} (bound {e})\n", .{ name, err, bound });
    if (!(err <= bound)) {
        std.debug.print("ops {s}: error {e:.3} > bound {e}\n", .{ name, err, bound });
        return error.TestUnexpectedResult;
    }
}

/// Records `body(ctx)` after poisoning the given buffers, submits and waits.
fn run(e: *Env, poisoned: []const View, body: anytype) !void {
    var seq = try vk.Sequence.init(e.ctx, 0);
    defer seq.deinit();
    try seq.begin();
    for (poisoned) |v| seq.fill(v.buf, if (v.type == .f16) poison16 else poison);
    seq.barrier();
    try body.record(&e.k, &seq);
    try seq.end();
    try seq.submit();
}

test "ops: rms_norm and layer_norm match the CPU" {
    const e = try Env.init();
    defer e.deinit();
    var prng = std.Random.DefaultPrng.init(21);
    const rng = prng.random();
    const shapes = [_][2]usize{ .{ 37, 3 }, .{ 100, 17 }, .{ 129, 1 }, .{ 1000, 2 } };
    for (shapes) |sh| {
        const n_cols = sh[0];
        const n_rows = sh[1];
        const x = try rand(rng, n_cols * n_rows, 2);
        defer testing.allocator.free(x);
        const w = try rand(rng, n_cols, 1);
        defer testing.allocator.free(w);
        const b = try rand(rng, n_cols, 1);
        defer testing.allocator.free(b);
        const ref = try testing.allocator.alloc(f32, x.len);
        defer testing.allocator.free(ref);
        const got = try testing.allocator.alloc(f32, x.len);
        defer testing.allocator.free(got);
        const xv = try e.f32View(x, n_cols, n_rows);
        const wv = try e.f32View(w, n_cols, 1);
        const bv = try e.f32View(b, n_cols, 1);
        const ov = try e.f32View(null, n_cols, n_rows);
        for ([_]bool{ false, true }) |with_w| {
            const R = struct {
                xv: View,
                wv: ?View,
                ov: View,
                pub fn record(s: @This(), k: *kernels.Kernels, seq: *vk.Sequence) !void {
                    try ops.rmsNorm(k, seq, s.xv, s.wv, 1e-5, s.ov);
                }
            };
            try run(e, &.{ov}, R{ .xv = xv, .wv = if (with_w) wv else null, .ov = ov });
            try e.read(ov, got);
            try cpu.rmsNorm(null, x, if (with_w) w else null, n_rows, n_cols, 1e-5, ref);
            try expectErr("rms_norm", relErr(ref, got), 2e-6);

            const L = struct {
                xv: View,
                wv: ?View,
                bv: ?View,
                ov: View,
                pub fn record(s: @This(), k: *kernels.Kernels, seq: *vk.Sequence) !void {
                    try ops.layerNorm(k, seq, s.xv, s.wv, s.bv, 1e-5, s.ov);
                }
            };
            try run(e, &.{ov}, L{ .xv = xv, .wv = if (with_w) wv else null, .bv = if (with_w) bv else null, .ov = ov });
            try e.read(ov, got);
            try cpu.layerNorm(null, x, if (with_w) w else null, if (with_w) b else null, n_rows, n_cols, 1e-5, ref);
            try expectErr("layer_norm", relErr(ref, got), 2e-6);
        }
        // In place.
        const R = struct {
            xv: View,
            pub fn record(s: @This(), k: *kernels.Kernels, seq: *vk.Sequence) !void {
                try ops.rmsNorm(k, seq, s.xv, null, 1e-5, s.xv);
            }
        };
        try run(e, &.{}, R{ .xv = xv });
        try e.read(xv, got);
        try cpu.rmsNorm(null, x, null, n_rows, n_cols, 1e-5, ref);
        try expectErr("rms_norm in place", relErr(ref, got), 2e-6);
    }
    const xv = try e.f32View(null, 37, 2);
    var seq = try vk.Sequence.init(e.ctx, 0);
    defer seq.deinit();
    try seq.begin();
    try testing.expectError(error.BadShape, ops.rmsNorm(&e.k, &seq, xv, try e.f32View(null, 36, 1), 1e-5, xv));
    try testing.expectError(error.BadShape, ops.layerNorm(&e.k, &seq, xv, null, null, 1e-5, try e.f32View(null, 37, 1)));
    try seq.end();
    try vkt.expectNoValidationMessages(e.ctx);
}

test "ops: element-wise add, mul, scale, silu, gelu, swiglu match the CPU" {
    const e = try Env.init();
    defer e.deinit();
    var prng = std.Random.DefaultPrng.init(22);
    const rng = prng.random();
    const n_cols = 129;
    const n_rows = 17;
    const n = n_cols * n_rows;
    const a = try rand(rng, n, 3);
    defer testing.allocator.free(a);
    const b = try rand(rng, n, 1);
    defer testing.allocator.free(b);
    const ref = try testing.allocator.alloc(f32, n);
    defer testing.allocator.free(ref);
    const got = try testing.allocator.alloc(f32, n);
    defer testing.allocator.free(got);
    const av = try e.f32View(a, n_cols, n_rows);
    const bv = try e.f32View(b, n_cols, n_rows);
    const brow = try e.f32View(b[0..n_cols], n_cols, 1);
    const ov = try e.f32View(null, n_cols, n_rows);
    const Op = enum { add, add_row, mul, mul_row, scale, silu, gelu, swiglu };
    inline for (@typeInfo(Op).@"enum".fields) |f| {
        const op: Op = @enumFromInt(f.value);
        const R = struct {
            av: View,
            bv: View,
            brow: View,
            ov: View,
            pub fn record(s: @This(), k: *kernels.Kernels, seq: *vk.Sequence) !void {
                switch (op) {
                    .add => try ops.add(k, seq, s.av, s.bv, s.ov),
                    .add_row => try ops.add(k, seq, s.av, s.brow, s.ov),
                    .mul => try ops.mul(k, seq, s.av, s.bv, s.ov),
                    .mul_row => try ops.mul(k, seq, s.av, s.brow, s.ov),
                    .scale => try ops.scale(k, seq, s.av, -0.37, s.ov),
                    .silu => try ops.silu(k, seq, s.av, s.ov),
                    .gelu => try ops.gelu(k, seq, s.av, s.ov),
                    .swiglu => try ops.swiglu(k, seq, s.av, s.bv, s.ov),
                }
            }
        };
        try run(e, &.{ov}, R{ .av = av, .bv = bv, .brow = brow, .ov = ov });
        try e.read(ov, got);
        switch (op) {
            .add => try cpu.add(null, a, b, n_rows, n_cols, ref),
            .add_row => try cpu.add(null, a, b[0..n_cols], n_rows, n_cols, ref),
            .mul => try cpu.mul(null, a, b, n_rows, n_cols, ref),
            .mul_row => try cpu.mul(null, a, b[0..n_cols], n_rows, n_cols, ref),
            .scale => try cpu.scale(null, a, -0.37, ref),
            .silu => try cpu.silu(null, a, ref),
            .gelu => try cpu.gelu(null, a, ref),
            .swiglu => try cpu.swiglu(null, a, b, ref),
        }
        const bound: f64 = switch (op) {
            .add, .add_row, .mul, .mul_row, .scale => 1e-7,
            else => 2e-6,
        };
        try expectErr(@tagName(op), relErr(ref, got), bound);
    }
    var seq = try vk.Sequence.init(e.ctx, 0);
    defer seq.deinit();
    try seq.begin();
    try testing.expectError(error.BadShape, ops.add(&e.k, &seq, av, try e.f32View(null, 5, 1), ov));
    try testing.expectError(error.BadShape, ops.swiglu(&e.k, &seq, av, brow, ov));
    try seq.end();
    try vkt.expectNoValidationMessages(e.ctx);
}

test "ops: softmax with scale and causal mask from StepParams matches the CPU" {
    const e = try Env.init();
    defer e.deinit();
    var prng = std.Random.DefaultPrng.init(23);
    const rng = prng.random();
    const shapes = [_][2]usize{ .{ 100, 17 }, .{ 37, 3 }, .{ 600, 2 } };
    for (shapes) |sh| {
        const n_cols = sh[0];
        const n_rows = sh[1];
        const x = try rand(rng, n_cols * n_rows, 3);
        defer testing.allocator.free(x);
        const ref = try testing.allocator.alloc(f32, x.len);
        defer testing.allocator.free(ref);
        const got = try testing.allocator.alloc(f32, x.len);
        defer testing.allocator.free(got);
        const xv = try e.f32View(x, n_cols, n_rows);
        const ov = try e.f32View(null, n_cols, n_rows);
        for ([_]?u32{ null, 5, 30 }) |causal_pos| {
            try e.params(causal_pos orelse 0, @intCast(n_rows));
            const R = struct {
                xv: View,
                ov: View,
                causal: bool,
                pub fn record(s: @This(), k: *kernels.Kernels, seq: *vk.Sequence) !void {
                    try ops.softmax(k, seq, s.xv, .{ .scale = 0.7, .causal = s.causal }, s.ov);
                }
            };
            try run(e, &.{ov}, R{ .xv = xv, .ov = ov, .causal = causal_pos != null });
            try e.read(ov, got);
            @memcpy(ref, x);
            try cpu.softmax(null, ref, n_rows, n_cols, 0.7, if (causal_pos) |p| .{ .pos0 = p } else null);
            try expectErr("softmax", relErr(ref, got), 2e-6);
        }
    }
    try vkt.expectNoValidationMessages(e.ctx);
}

test "ops: copies convert F32 <-> F16 as the CPU does" {
    const e = try Env.init();
    defer e.deinit();
    var prng = std.Random.DefaultPrng.init(24);
    const rng = prng.random();
    const n = 111; // odd: the last F16 word is half-written
    const x = try rand(rng, n, 100);
    defer testing.allocator.free(x);
    x[0] = 65504;
    x[1] = 1e-6;
    var ref16: [n]f16 = undefined;
    try cpu.f32ToF16(x, &ref16);
    const xv = try e.f32View(x, n, 1);
    const hv = try e.f16View(null, n + 1, 1); // one spare element after the view
    const hview = View{ .buf = hv.buf, .type = .f16, .ne = .{ n, 1, 1, 1 } };
    const back = try e.f32View(null, n, 1);
    const copy = try e.f32View(null, n, 1);
    const R = struct {
        xv: View,
        hv: View,
        back: View,
        copy: View,
        pub fn record(s: @This(), k: *kernels.Kernels, seq: *vk.Sequence) !void {
            try ops.cpy(k, seq, s.xv, s.hv);
            try ops.cpy(k, seq, s.xv, s.copy);
            seq.barrier();
            try ops.cpy(k, seq, s.hv, s.back);
        }
    };
    try run(e, &.{ hv, back, copy }, R{ .xv = xv, .hv = hview, .back = back, .copy = copy });
    var got16: [n + 1]f16 = undefined;
    try e.read16(hv, &got16);
    var worst_ulp: u16 = 0;
    for (ref16, got16[0..n]) |r, g| {
        const ri: i32 = @as(u16, @bitCast(r));
        const gi: i32 = @as(u16, @bitCast(g));
        worst_ulp = @max(worst_ulp, @as(u16, @intCast(@abs(ri - gi))));
    }
    if (std.posix.getenv("OPS_VERBOSE") != null) std.debug.print("ops cpy f32->f16: {d} ulp\n", .{worst_ulp});
    try testing.expect(worst_ulp <= 1);
    try testing.expect(std.math.isNan(got16[n])); // the element past the view is untouched
    var got: [n]f32 = undefined;
    try e.read(back, &got);
    for (got16[0..n], got) |h, f| try testing.expectEqual(@as(f32, h), f);
    try e.read(copy, &got);
    try testing.expectEqualSlices(f32, x, &got);
    try vkt.expectNoValidationMessages(e.ctx);
}

test "ops: rope normal / NeoX / partial / scaled at StepParams.pos matches the CPU" {
    const e = try Env.init();
    defer e.deinit();
    var prng = std.Random.DefaultPrng.init(25);
    const rng = prng.random();
    const Case = struct { n_tokens: u32, n_head: u32, head_dim: u32, pos: u32, p: cpu.RopeParams };
    const cases = [_]Case{
        .{ .n_tokens = 3, .n_head = 6, .head_dim = 64, .pos = 7, .p = .{ .n_rot = 64, .mode = .normal } },
        .{ .n_tokens = 17, .n_head = 2, .head_dim = 80, .pos = 100, .p = .{ .n_rot = 80, .mode = .neox, .freq_base = 500000 } },
        .{ .n_tokens = 3, .n_head = 6, .head_dim = 80, .pos = 4000, .p = .{ .n_rot = 32, .mode = .neox, .freq_scale = 0.25 } },
        .{ .n_tokens = 1, .n_head = 6, .head_dim = 40, .pos = 4095, .p = .{ .n_rot = 24, .mode = .normal, .freq_scale = 0.5 } },
    };
    for (cases) |c| {
        const n = c.n_tokens * c.n_head * c.head_dim;
        const x = try rand(rng, n, 1);
        defer testing.allocator.free(x);
        const ref = try testing.allocator.alloc(f32, n);
        defer testing.allocator.free(ref);
        const got = try testing.allocator.alloc(f32, n);
        defer testing.allocator.free(got);
        const xv = try e.f32View(x, c.n_head * c.head_dim, c.n_tokens);
        const ov = try e.f32View(null, c.n_head * c.head_dim, c.n_tokens);
        try e.params(c.pos, c.n_tokens);
        const R = struct {
            xv: View,
            ov: View,
            c: Case,
            pub fn record(s: @This(), k: *kernels.Kernels, seq: *vk.Sequence) !void {
                try ops.rope(k, seq, s.xv, s.c.n_head, s.c.head_dim, s.c.p, s.ov);
            }
        };
        try run(e, &.{ov}, R{ .xv = xv, .ov = ov, .c = c });
        try e.read(ov, got);
        @memcpy(ref, x);
        var pos: [17]i32 = undefined;
        for (pos[0..c.n_tokens], 0..) |*p, t| p.* = @intCast(c.pos + t);
        try cpu.rope(null, ref, c.n_tokens, c.n_head, c.head_dim, pos[0..c.n_tokens], c.p);
        // Same f32 angle as the CPU; the rest is sin/cos of the reduced angle (~1e-7) and the
        // reduction itself (~pos · 2^-24 · few).
        try expectErr("rope", relErr(ref, got), 5e-6);
    }
    try vkt.expectNoValidationMessages(e.ctx);
}

test "ops: kv_store writes this step's rows at StepParams.pos into F16 and F32 caches" {
    const e = try Env.init();
    defer e.deinit();
    var prng = std.Random.DefaultPrng.init(26);
    const rng = prng.random();
    const row = 2 * 40; // n_head_kv 2 × head_dim 40
    const n_ctx = 19;
    const n_tokens = 5;
    const src = try rand(rng, row * n_tokens, 2);
    defer testing.allocator.free(src);
    const sv = try e.f32View(src, row, n_tokens);
    for ([_]bool{ false, true }) |use_f16| {
        const cv = if (use_f16) try e.f16View(null, row, n_ctx) else try e.f32View(null, row, n_ctx);
        try e.params(11, 3); // only 3 of the 5 recorded rows
        const R = struct {
            sv: View,
            cv: View,
            pub fn record(s: @This(), k: *kernels.Kernels, seq: *vk.Sequence) !void {
                try ops.kvStore(k, seq, s.sv, s.cv);
            }
        };
        try run(e, &.{cv}, R{ .sv = sv, .cv = cv });
        var got: [row * n_ctx]f32 = undefined;
        if (use_f16) {
            var h: [row * n_ctx]f16 = undefined;
            try e.read16(cv, &h);
            for (&got, h) |*g, v| g.* = v;
        } else try e.read(cv, &got);
        for (0..n_ctx) |r| {
            const g = got[r * row ..][0..row];
            if (r >= 11 and r < 14) {
                const s = src[(r - 11) * row ..][0..row];
                var ref: [row]f32 = undefined;
                for (&ref, s) |*d, v| d.* = if (use_f16) @as(f16, @floatCast(v)) else v;
                // F16: at most 1 ulp from the CPU's round-to-nearest (2^-11 relative).
                try expectErr(if (use_f16) "kv_store f16" else "kv_store f32", relErr(&ref, g), if (use_f16) 1e-3 else 0);
            } else for (g) |v| try testing.expect(std.math.isNan(v));
        }
    }
    var seq = try vk.Sequence.init(e.ctx, 0);
    defer seq.deinit();
    try seq.begin();
    try testing.expectError(error.BadShape, ops.kvStore(&e.k, &seq, sv, try e.f32View(null, row + 1, n_ctx)));
    try seq.end();
    try vkt.expectNoValidationMessages(e.ctx);
}

const AttnCase = struct { n_tokens: u32, n_head: u32, n_head_kv: u32, head_dim: u32, pos: u32, n_ctx: u32 };

fn attentionCase(e: *Env, rng: std.Random, c: AttnCase, use_f16: bool, split: bool) !void {
    const a = testing.allocator;
    const nq = c.n_tokens * c.n_head * c.head_dim;
    const row = c.n_head_kv * c.head_dim;
    const nkv = c.n_ctx * row;
    const q = try rand(rng, nq, 1);
    defer a.free(q);
    const kf = try rand(rng, nkv, 1);
    defer a.free(kf);
    const vf = try rand(rng, nkv, 1);
    defer a.free(vf);
    const k16 = try a.alloc(f16, nkv);
    defer a.free(k16);
    const v16 = try a.alloc(f16, nkv);
    defer a.free(v16);
    try cpu.f32ToF16(kf, k16);
    try cpu.f32ToF16(vf, v16);
    const ref = try a.alloc(f32, nq);
    defer a.free(ref);
    const got = try a.alloc(f32, nq);
    defer a.free(got);

    const qv = try e.f32View(q, c.n_head * c.head_dim, c.n_tokens);
    const ov = try e.f32View(null, c.n_head * c.head_dim, c.n_tokens);
    const kv = if (use_f16) try e.f16View(k16, row, c.n_ctx) else try e.f32View(kf, row, c.n_ctx);
    const vv = if (use_f16) try e.f16View(v16, row, c.n_ctx) else try e.f32View(vf, row, c.n_ctx);
    try e.params(c.pos, c.n_tokens);
    const shape = ops.AttentionParams{ .n_head = c.n_head, .n_head_kv = c.n_head_kv, .head_dim = c.head_dim };
    const scratch_bytes = ops.attentionScratchBytes(c.n_tokens, shape, c.n_ctx);
    var scratch: ?View = null;
    if (split) {
        try testing.expect(scratch_bytes > 0);
        scratch = try e.f32View(null, scratch_bytes / 4, 1);
    }
    const R = struct {
        qv: View,
        kv: View,
        vv: View,
        ov: View,
        shape: ops.AttentionParams,
        scratch: ?View,
        pub fn record(s: @This(), k: *kernels.Kernels, seq: *vk.Sequence) !void {
            try ops.attention(k, seq, s.qv, s.kv, s.vv, s.shape, s.scratch, s.ov);
        }
    };
    try run(e, &.{ov}, R{ .qv = qv, .kv = kv, .vv = vv, .ov = ov, .shape = shape, .scratch = scratch });
    try e.read(ov, got);
    const st = cpu.AttentionStep{ .n_tokens = c.n_tokens, .pos0 = c.pos, .n_ctx = c.n_ctx };
    try cpu.attention(null, q, if (use_f16) .{ .f16 = k16 } else .{ .f32 = kf }, if (use_f16) .{ .f16 = v16 } else .{ .f32 = vf }, shape, st, ref);
    const name = if (split) (if (use_f16) "attention split f16" else "attention split f32") else (if (use_f16) "attention f16" else "attention f32");
    try expectErr(name, relErr(ref, got), 2e-5);
}

test "ops: attention over F16 and F32 caches (GQA, prompt batches, 4096 context) matches the CPU" {
    const e = try Env.init();
    defer e.deinit();
    var prng = std.Random.DefaultPrng.init(27);
    const cases = [_]AttnCase{
        .{ .n_tokens = 1, .n_head = 6, .n_head_kv = 2, .head_dim = 64, .pos = 4095, .n_ctx = 4096 },
        .{ .n_tokens = 17, .n_head = 6, .n_head_kv = 2, .head_dim = 80, .pos = 30, .n_ctx = 64 },
        .{ .n_tokens = 3, .n_head = 6, .n_head_kv = 2, .head_dim = 40, .pos = 0, .n_ctx = 7 },
        .{ .n_tokens = 1, .n_head = 4, .n_head_kv = 4, .head_dim = 128, .pos = 300, .n_ctx = 301 },
    };
    for (cases) |c| for ([_]bool{ true, false }) |use_f16| try attentionCase(e, prng.random(), c, use_f16, false);
    // Split-K: one token at 4096 context (the last split partly masked) and a short prompt
    // batch at 1000 context whose early splits are the only non-empty ones for row 0.
    const split_cases = [_]AttnCase{
        .{ .n_tokens = 1, .n_head = 6, .n_head_kv = 2, .head_dim = 64, .pos = 4000, .n_ctx = 4096 },
        .{ .n_tokens = 3, .n_head = 6, .n_head_kv = 2, .head_dim = 80, .pos = 300, .n_ctx = 1000 },
    };
    for (split_cases) |c| for ([_]bool{ true, false }) |use_f16| try attentionCase(e, prng.random(), c, use_f16, true);
    var seq = try vk.Sequence.init(e.ctx, 0);
    defer seq.deinit();
    try seq.begin();
    const q = try e.f32View(null, 5 * 40, 1);
    const kc = try e.f32View(null, 2 * 40, 8);
    try testing.expectError(error.BadShape, ops.attention(&e.k, &seq, q, kc, kc, .{ .n_head = 5, .n_head_kv = 2, .head_dim = 40 }, null, q));
    try testing.expectError(error.BadShape, ops.attention(&e.k, &seq, q, kc, try e.f16View(null, 80, 8), .{ .n_head = 5, .n_head_kv = 1, .head_dim = 40 }, null, q));
    try seq.end();
    try vkt.expectNoValidationMessages(e.ctx);
}

test "ops: rope + kv_store + attention recorded once, replayed per step via StepParams" {
    const e = try Env.init();
    defer e.deinit();
    const a = testing.allocator;
    var prng = std.Random.DefaultPrng.init(28);
    const rng = prng.random();
    const n_head = 6;
    const n_head_kv = 2;
    const head_dim = 40;
    const max_tokens = 4;
    const n_ctx = 16;
    const qrow = n_head * head_dim;
    const kvrow = n_head_kv * head_dim;
    const rp = cpu.RopeParams{ .n_rot = 32, .mode = .neox };
    for ([_]bool{ true, false }) |use_f16| {
        const qv = try e.f32View(null, qrow, max_tokens);
        const kv = try e.f32View(null, kvrow, max_tokens);
        const vv = try e.f32View(null, kvrow, max_tokens);
        const qr = try e.f32View(null, qrow, max_tokens);
        const kr = try e.f32View(null, kvrow, max_tokens);
        const ov = try e.f32View(null, qrow, max_tokens);
        const kc = if (use_f16) try e.f16View(null, kvrow, n_ctx) else try e.f32View(null, kvrow, n_ctx);
        const vc = if (use_f16) try e.f16View(null, kvrow, n_ctx) else try e.f32View(null, kvrow, n_ctx);
        var seq = try vk.Sequence.init(e.ctx, 0);
        defer seq.deinit();
        try seq.begin();
        try ops.rope(&e.k, &seq, qv, n_head, head_dim, rp, qr);
        try ops.rope(&e.k, &seq, kv, n_head_kv, head_dim, rp, kr);
        seq.barrier();
        try ops.kvStore(&e.k, &seq, kr, kc);
        try ops.kvStore(&e.k, &seq, vv, vc);
        seq.barrier();
        try ops.attention(&e.k, &seq, qr, kc, vc, .{ .n_head = n_head, .n_head_kv = n_head_kv, .head_dim = head_dim }, null, ov);
        try seq.end();

        // CPU state: the caches as the GPU holds them (f16-rounded for an F16 cache).
        var kcache = [_]f32{0} ** (n_ctx * kvrow);
        var vcache = [_]f32{0} ** (n_ctx * kvrow);
        const steps = [_]u32{ 4, 1, 1, 3, 1 }; // a prompt, then decoding and a second chunk
        var pos: u32 = 0;
        for (steps) |nt| {
            const q = try rand(rng, nt * qrow, 1);
            defer a.free(q);
            const kk = try rand(rng, nt * kvrow, 1);
            defer a.free(kk);
            const v = try rand(rng, nt * kvrow, 1);
            defer a.free(v);
            try e.ctx.mem.upload(qv.buf, 0, std.mem.sliceAsBytes(q));
            try e.ctx.mem.upload(kv.buf, 0, std.mem.sliceAsBytes(kk));
            try e.ctx.mem.upload(vv.buf, 0, std.mem.sliceAsBytes(v));
            try e.params(pos, nt);
            try seq.submit();

            var positions: [max_tokens]i32 = undefined;
            for (positions[0..nt], 0..) |*p, t| p.* = @intCast(pos + t);
            try cpu.rope(null, q, nt, n_head, head_dim, positions[0..nt], rp);
            try cpu.rope(null, kk, nt, n_head_kv, head_dim, positions[0..nt], rp);
            for (0..nt * kvrow) |i| {
                kcache[pos * kvrow + i] = if (use_f16) @as(f16, @floatCast(kk[i])) else kk[i];
                vcache[pos * kvrow + i] = if (use_f16) @as(f16, @floatCast(v[i])) else v[i];
            }
            const ref = try a.alloc(f32, nt * qrow);
            defer a.free(ref);
            try cpu.attention(null, q, .{ .f32 = &kcache }, .{ .f32 = &vcache }, .{ .n_head = n_head, .n_head_kv = n_head_kv, .head_dim = head_dim }, .{ .n_tokens = nt, .pos0 = pos, .n_ctx = n_ctx }, ref);
            const got = try a.alloc(f32, nt * qrow);
            defer a.free(got);
            try e.read(ov, got);
            // F16: the GPU's rope output may round to the other neighbouring half.
            try expectErr(if (use_f16) "replay f16" else "replay f32", relErr(ref, got), if (use_f16) 2e-3 else 2e-5);
            pos += nt;
        }
        try testing.expectEqual(@as(u32, 1), seq.n_recordings);
    }
    try vkt.expectNoValidationMessages(e.ctx);
}
