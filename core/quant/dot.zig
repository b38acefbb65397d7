//! Dot products of one weight row against one pre-quantized activation row, without
//! dequantizing the row: the decode hot path. As in ggml, activations are quantized once per
//! matmul to Q8_0 (Q4_0/Q5_0/Q8_0 weights), Q8_1 (Q4_1/Q5_1) or Q8_K (K-quants); F32/F16/BF16
//! rows dot plain f32. Integer products are summed exactly in i32; floats only scale per block.
//!
//! Portable @Vector code: LLVM lowers it to AVX2 on x86-64 and NEON on aarch64.
const std = @import("std");
const q = @import("quant.zig");
const GgmlType = q.GgmlType;
const Error = q.Error;

/// Kernel signature: `n` elements (whole blocks), `row` in the weight type, `act` in
/// vecDotType(weight type). No checks: callers (vecDot, cpu ops) validate once per matmul.
pub const VecDotFn = *const fn (n: usize, row: [*]const u8, act: [*]const u8) f32;

/// The activation type a weight type dots against (f32 for unquantized weights).
pub fn vecDotType(t: GgmlType) ?GgmlType {
    return switch (t) {
        .f32, .f16, .bf16 => .f32,
        .q4_0, .q5_0, .q8_0 => .q8_0,
        .q4_1, .q5_1 => .q8_1,
        .q4_k, .q5_k, .q6_k => .q8_k,
        else => null,
    };
}

pub fn vecDotFn(t: GgmlType) ?VecDotFn {
    return switch (t) {
        .f32 => &dotF32,
        .f16 => &dotF16,
        .bf16 => &dotBf16,
        .q4_0 => &dotQ4_0,
        .q4_1 => &dotQ4_1,
        .q5_0 => &dotQ5_0,
        .q5_1 => &dotQ5_1,
        .q8_0 => &dotQ8_0,
        .q4_k => &dotQ4_K,
        .q5_k => &dotQ5_K,
        .q6_k => &dotQ6_K,
        else => null,
    };
}

/// Checked dot of `n` elements: `row` = rowBytes(t, n) bytes, `act` = rowBytes(vecDotType(t), n)
/// bytes (for float weights: n little-endian f32, any alignment).
pub fn vecDot(t: GgmlType, row: []const u8, act: []const u8, n: usize) Error!f32 {
    const f = vecDotFn(t) orelse return error.Unsupported;
    const at = vecDotType(t).?;
    if ((t.rowBytes(n) orelse return error.BadLength) != row.len) return error.BadLength;
    if ((at.rowBytes(n) orelse return error.BadLength) != act.len) return error.BadLength;
    return f(n, row.ptr, act.ptr);
}

// ---- float rows ----

const VF = 16;
const F32x = @Vector(VF, f32);

fn dotF32(n: usize, row: [*]const u8, act: [*]const u8) f32 {
    const x: [*]align(1) const f32 = @ptrCast(row);
    const y: [*]align(1) const f32 = @ptrCast(act);
    var acc0: F32x = @splat(0);
    var acc1: F32x = @splat(0);
    var i: usize = 0;
    while (i + 2 * VF <= n) : (i += 2 * VF) {
        acc0 += @as(F32x, x[i..][0..VF].*) * @as(F32x, y[i..][0..VF].*);
        acc1 += @as(F32x, x[i + VF ..][0..VF].*) * @as(F32x, y[i + VF ..][0..VF].*);
    }
    while (i + VF <= n) : (i += VF) acc0 += @as(F32x, x[i..][0..VF].*) * @as(F32x, y[i..][0..VF].*);
    var s = @reduce(.Add, acc0 + acc1);
    while (i < n) : (i += 1) s += x[i] * y[i];
    return s;
}

fn dotF16(n: usize, row: [*]const u8, act: [*]const u8) f32 {
    const x: [*]align(1) const f16 = @ptrCast(row);
    const y: [*]align(1) const f32 = @ptrCast(act);
    var acc: F32x = @splat(0);
    var i: usize = 0;
    while (i + VF <= n) : (i += VF) {
        const h: @Vector(VF, f16) = x[i..][0..VF].*;
        acc += @as(F32x, @floatCast(h)) * @as(F32x, y[i..][0..VF].*);
    }
    var s = @reduce(.Add, acc);
    while (i < n) : (i += 1) s += @as(f32, x[i]) * y[i];
    return s;
}

fn dotBf16(n: usize, row: [*]const u8, act: [*]const u8) f32 {
    const x: [*]align(1) const u16 = @ptrCast(row);
    const y: [*]align(1) const f32 = @ptrCast(act);
    var acc: F32x = @splat(0);
    var i: usize = 0;
    while (i + VF <= n) : (i += VF) {
        const h: @Vector(VF, u32) = @as(@Vector(VF, u16), x[i..][0..VF].*);
        const w: F32x = @bitCast(h << @splat(16));
        acc += w * @as(F32x, y[i..][0..VF].*);
    }
    var s = @reduce(.Add, acc);
    while (i < n) : (i += 1) s += q.bf16ToF32(x[i]) * y[i];
    return s;
}

// ---- integer helpers ----

const I32x8 = @Vector(8, i32);

fn groupMask(comptime k: usize) [8]i32 {
    var m: [8]i32 = undefined;
    for (0..8) |i| m[i] = @intCast(k * 8 + i);
    return m;
}

/// Products of N int8 pairs (exact in i16), folded to 8 i32 lanes. Adjacent pairs are summed
/// first (even + odd lanes): LLVM matches that to pmaddwd on x86 and smlal/addp on NEON.
inline fn madd(comptime N: usize, a: @Vector(N, i8), b: @Vector(N, i8)) I32x8 {
    const p: @Vector(N, i16) = @as(@Vector(N, i16), a) * @as(@Vector(N, i16), b);
    const ev: @Vector(N / 2, i32) = @shuffle(i16, p, undefined, pairMask(N, 0));
    const od: @Vector(N / 2, i32) = @shuffle(i16, p, undefined, pairMask(N, 1));
    const s = ev + od;
    if (N / 2 == 8) return s;
    var r: I32x8 = @shuffle(i32, s, undefined, groupMask(0));
    inline for (1..N / 16) |k| r += @shuffle(i32, s, undefined, groupMask(k));
    return r;
}

fn pairMask(comptime N: usize, comptime odd: usize) [N / 2]i32 {
    var m: [N / 2]i32 = undefined;
    for (0..N / 2) |i| m[i] = @intCast(2 * i + odd);
    return m;
}

inline fn splat8(comptime N: usize, v: u8) @Vector(N, u8) {
    return @splat(v);
}

inline fn lowNibbles(comptime N: usize, v: @Vector(N, u8)) @Vector(N, u8) {
    return v & splat8(N, 0x0F);
}
inline fn highNibbles(comptime N: usize, v: @Vector(N, u8)) @Vector(N, u8) {
    return v >> @splat(4);
}
inline fn asI8(comptime N: usize, v: @Vector(N, u8)) @Vector(N, i8) {
    return @bitCast(v);
}

/// Bits 0..15 (or 16..31) of a Q5 qh word, each placed at bit 4 of a byte.
inline fn q5HighBits(qh: u32, comptime base: u5) @Vector(16, u8) {
    const shifts = comptime blk: {
        var s: [16]u32 = undefined;
        for (0..16) |j| s[j] = base + j;
        break :blk s;
    };
    const bits = (@as(@Vector(16, u32), @splat(qh)) >> @as(@Vector(16, u32), shifts)) & @as(@Vector(16, u32), @splat(1));
    return @truncate(bits << @splat(4));
}

// ---- legacy quants x Q8_0 / Q8_1 ----

fn dotQ4_0(n: usize, row: [*]const u8, act: [*]const u8) f32 {
    const x: [*]align(1) const q.BlockQ4_0 = @ptrCast(row);
    const y: [*]align(1) const q.BlockQ8_0 = @ptrCast(act);
    var acc: @Vector(8, f32) = @splat(0);
    for (0..n / q.QK4_0) |i| {
        const v: @Vector(16, u8) = x[i].qs;
        const eight: @Vector(16, i8) = @splat(8);
        const lo = asI8(16, lowNibbles(16, v)) - eight;
        const hi = asI8(16, highNibbles(16, v)) - eight;
        const s = madd(16, lo, y[i].qs[0..16].*) + madd(16, hi, y[i].qs[16..32].*);
        const d = @as(f32, x[i].d) * @as(f32, y[i].d);
        acc += @as(@Vector(8, f32), @floatFromInt(s)) * @as(@Vector(8, f32), @splat(d));
    }
    return @reduce(.Add, acc);
}

fn dotQ4_1(n: usize, row: [*]const u8, act: [*]const u8) f32 {
    const x: [*]align(1) const q.BlockQ4_1 = @ptrCast(row);
    const y: [*]align(1) const q.BlockQ8_1 = @ptrCast(act);
    var acc: @Vector(8, f32) = @splat(0);
    var summs: f32 = 0;
    for (0..n / q.QK4_1) |i| {
        const v: @Vector(16, u8) = x[i].qs;
        const lo = asI8(16, lowNibbles(16, v));
        const hi = asI8(16, highNibbles(16, v));
        const s = madd(16, lo, y[i].qs[0..16].*) + madd(16, hi, y[i].qs[16..32].*);
        const d = @as(f32, x[i].d) * @as(f32, y[i].d);
        acc += @as(@Vector(8, f32), @floatFromInt(s)) * @as(@Vector(8, f32), @splat(d));
        // The min times the activation block's sum, precomputed in Q8_1's s.
        summs += @as(f32, x[i].m) * @as(f32, y[i].s);
    }
    return @reduce(.Add, acc) + summs;
}

fn dotQ5_0(n: usize, row: [*]const u8, act: [*]const u8) f32 {
    const x: [*]align(1) const q.BlockQ5_0 = @ptrCast(row);
    const y: [*]align(1) const q.BlockQ8_0 = @ptrCast(act);
    var acc: @Vector(8, f32) = @splat(0);
    for (0..n / q.QK5_0) |i| {
        const v: @Vector(16, u8) = x[i].qs;
        const qh = std.mem.readInt(u32, &x[i].qh, .little);
        const sixteen: @Vector(16, i8) = @splat(16);
        const lo = asI8(16, lowNibbles(16, v) | q5HighBits(qh, 0)) - sixteen;
        const hi = asI8(16, highNibbles(16, v) | q5HighBits(qh, 16)) - sixteen;
        const s = madd(16, lo, y[i].qs[0..16].*) + madd(16, hi, y[i].qs[16..32].*);
        const d = @as(f32, x[i].d) * @as(f32, y[i].d);
        acc += @as(@Vector(8, f32), @floatFromInt(s)) * @as(@Vector(8, f32), @splat(d));
    }
    return @reduce(.Add, acc);
}

fn dotQ5_1(n: usize, row: [*]const u8, act: [*]const u8) f32 {
    const x: [*]align(1) const q.BlockQ5_1 = @ptrCast(row);
    const y: [*]align(1) const q.BlockQ8_1 = @ptrCast(act);
    var acc: @Vector(8, f32) = @splat(0);
    var summs: f32 = 0;
    for (0..n / q.QK5_1) |i| {
        const v: @Vector(16, u8) = x[i].qs;
        const qh = std.mem.readInt(u32, &x[i].qh, .little);
        const lo = asI8(16, lowNibbles(16, v) | q5HighBits(qh, 0));
        const hi = asI8(16, highNibbles(16, v) | q5HighBits(qh, 16));
        const s = madd(16, lo, y[i].qs[0..16].*) + madd(16, hi, y[i].qs[16..32].*);
        const d = @as(f32, x[i].d) * @as(f32, y[i].d);
        acc += @as(@Vector(8, f32), @floatFromInt(s)) * @as(@Vector(8, f32), @splat(d));
        summs += @as(f32, x[i].m) * @as(f32, y[i].s);
    }
    return @reduce(.Add, acc) + summs;
}

fn dotQ8_0(n: usize, row: [*]const u8, act: [*]const u8) f32 {
    const x: [*]align(1) const q.BlockQ8_0 = @ptrCast(row);
    const y: [*]align(1) const q.BlockQ8_0 = @ptrCast(act);
    var acc: @Vector(8, f32) = @splat(0);
    for (0..n / q.QK8_0) |i| {
        const s = madd(32, x[i].qs, y[i].qs);
        const d = @as(f32, x[i].d) * @as(f32, y[i].d);
        acc += @as(@Vector(8, f32), @floatFromInt(s)) * @as(@Vector(8, f32), @splat(d));
    }
    return @reduce(.Add, acc);
}

// ---- K-quants x Q8_K ----

fn dotQ4_K(n: usize, row: [*]const u8, act: [*]const u8) f32 {
    const x: [*]align(1) const q.BlockQ4_K = @ptrCast(row);
    const y: [*]align(1) const q.BlockQ8_K = @ptrCast(act);
    var acc: @Vector(8, f32) = @splat(0);
    var summs: f32 = 0;
    for (0..n / q.QK_K) |i| {
        const xb = &x[i];
        const yb = &y[i];
        var sc: [8]i32 = undefined;
        var mins_dot: i32 = 0;
        for (0..8) |j| {
            const smk = q.getScaleMinK4(j, &xb.scales);
            sc[j] = smk.sc;
            // Each 32-group holds two 16-sums of the activations.
            mins_dot += @as(i32, smk.m) * (@as(i32, yb.bsums[2 * j]) + @as(i32, yb.bsums[2 * j + 1]));
        }
        var sumi: I32x8 = @splat(0);
        inline for (0..4) |j| {
            const v: @Vector(32, u8) = xb.qs[32 * j ..][0..32].*;
            const lo = madd(32, asI8(32, lowNibbles(32, v)), yb.qs[64 * j ..][0..32].*);
            const hi = madd(32, asI8(32, highNibbles(32, v)), yb.qs[64 * j + 32 ..][0..32].*);
            sumi += lo * @as(I32x8, @splat(sc[2 * j])) + hi * @as(I32x8, @splat(sc[2 * j + 1]));
        }
        const d = @as(f32, xb.d) * yb.d;
        const dmin = @as(f32, xb.dmin) * yb.d;
        acc += @as(@Vector(8, f32), @floatFromInt(sumi)) * @as(@Vector(8, f32), @splat(d));
        summs += dmin * @as(f32, @floatFromInt(mins_dot));
    }
    return @reduce(.Add, acc) - summs;
}

fn dotQ5_K(n: usize, row: [*]const u8, act: [*]const u8) f32 {
    const x: [*]align(1) const q.BlockQ5_K = @ptrCast(row);
    const y: [*]align(1) const q.BlockQ8_K = @ptrCast(act);
    var acc: @Vector(8, f32) = @splat(0);
    var summs: f32 = 0;
    for (0..n / q.QK_K) |i| {
        const xb = &x[i];
        const yb = &y[i];
        var sc: [8]i32 = undefined;
        var mins_dot: i32 = 0;
        for (0..8) |j| {
            const smk = q.getScaleMinK4(j, &xb.scales);
            sc[j] = smk.sc;
            mins_dot += @as(i32, smk.m) * (@as(i32, yb.bsums[2 * j]) + @as(i32, yb.bsums[2 * j + 1]));
        }
        const qh: @Vector(32, u8) = xb.qh;
        var sumi: I32x8 = @splat(0);
        inline for (0..4) |j| {
            const v: @Vector(32, u8) = xb.qs[32 * j ..][0..32].*;
            // Chunk j's fifth bits are qh bit 2j (low nibbles) and 2j+1 (high nibbles).
            const h_lo = ((qh >> @splat(2 * j)) & splat8(32, 1)) << @splat(4);
            const h_hi = ((qh >> @splat(2 * j + 1)) & splat8(32, 1)) << @splat(4);
            const lo = madd(32, asI8(32, lowNibbles(32, v) | h_lo), yb.qs[64 * j ..][0..32].*);
            const hi = madd(32, asI8(32, highNibbles(32, v) | h_hi), yb.qs[64 * j + 32 ..][0..32].*);
            sumi += lo * @as(I32x8, @splat(sc[2 * j])) + hi * @as(I32x8, @splat(sc[2 * j + 1]));
        }
        const d = @as(f32, xb.d) * yb.d;
        const dmin = @as(f32, xb.dmin) * yb.d;
        acc += @as(@Vector(8, f32), @floatFromInt(sumi)) * @as(@Vector(8, f32), @splat(d));
        summs += dmin * @as(f32, @floatFromInt(mins_dot));
    }
    return @reduce(.Add, acc) - summs;
}

fn dotQ6_K(n: usize, row: [*]const u8, act: [*]const u8) f32 {
    const x: [*]align(1) const q.BlockQ6_K = @ptrCast(row);
    const y: [*]align(1) const q.BlockQ8_K = @ptrCast(act);
    var acc: @Vector(8, f32) = @splat(0);
    for (0..n / q.QK_K) |i| {
        const xb = &x[i];
        const yb = &y[i];
        var sumi: I32x8 = @splat(0);
        inline for (0..2) |c| { // two 128-element halves
            const ql0: @Vector(32, u8) = xb.ql[64 * c ..][0..32].*;
            const ql1: @Vector(32, u8) = xb.ql[64 * c + 32 ..][0..32].*;
            const qh: @Vector(32, u8) = xb.qh[32 * c ..][0..32].*;
            const three = splat8(32, 3);
            const thirty_two: @Vector(32, i8) = @splat(32);
            const q1 = asI8(32, lowNibbles(32, ql0) | ((qh & three) << @splat(4))) - thirty_two;
            const q2 = asI8(32, lowNibbles(32, ql1) | (((qh >> @splat(2)) & three) << @splat(4))) - thirty_two;
            const q3 = asI8(32, highNibbles(32, ql0) | (((qh >> @splat(4)) & three) << @splat(4))) - thirty_two;
            const q4 = asI8(32, highNibbles(32, ql1) | (((qh >> @splat(6)) & three) << @splat(4))) - thirty_two;
            const quads = [4]@Vector(32, i8){ q1, q2, q3, q4 };
            inline for (0..4) |k| {
                const ys = yb.qs[128 * c + 32 * k ..][0..32];
                const qa: [32]i8 = quads[k];
                // Each 16 elements have their own int8 scale.
                const s0 = madd(16, qa[0..16].*, ys[0..16].*);
                const s1 = madd(16, qa[16..32].*, ys[16..32].*);
                sumi += s0 * @as(I32x8, @splat(@as(i32, xb.scales[8 * c + 2 * k]))) +
                    s1 * @as(I32x8, @splat(@as(i32, xb.scales[8 * c + 2 * k + 1])));
            }
        }
        const d = @as(f32, xb.d) * yb.d;
        acc += @as(@Vector(8, f32), @floatFromInt(sumi)) * @as(@Vector(8, f32), @splat(d));
    }
    return @reduce(.Add, acc);
}

// ---- tests ----

const testing = std.testing;

/// Asserted normalized errors |dot - ref| / (||w_deq|| * ||x||) at n = 1024.
/// `exact`: against the dequantized activations too (only float rounding of the kernel remains;
/// Q8_1's fp16 block sum adds ~1e-3 of the min term). `vs_f32`: against the original f32 x.
const dot_bounds = [_]struct { t: GgmlType, exact: f64, vs_f32: f64 }{
    .{ .t = .f32, .exact = 1e-6, .vs_f32 = 1e-6 },
    .{ .t = .f16, .exact = 1e-6, .vs_f32 = 1e-6 },
    .{ .t = .bf16, .exact = 1e-6, .vs_f32 = 1e-6 },
    .{ .t = .q8_0, .exact = 1e-6, .vs_f32 = 1e-3 },
    .{ .t = .q4_0, .exact = 1e-6, .vs_f32 = 1e-3 },
    .{ .t = .q4_1, .exact = 5e-4, .vs_f32 = 1e-3 },
    .{ .t = .q5_0, .exact = 1e-6, .vs_f32 = 1e-3 },
    .{ .t = .q5_1, .exact = 5e-4, .vs_f32 = 1e-3 },
    .{ .t = .q4_k, .exact = 1e-6, .vs_f32 = 1e-3 },
    .{ .t = .q5_k, .exact = 1e-6, .vs_f32 = 1e-3 },
    .{ .t = .q6_k, .exact = 1e-6, .vs_f32 = 1e-3 },
};

test "quantized dot products match float64 dots of the dequantized weights" {
    const n = 1024;
    const a = testing.allocator;
    var prng = std.Random.DefaultPrng.init(7);
    const rng = prng.random();
    const w = try a.alloc(f32, n);
    defer a.free(w);
    const x = try a.alloc(f32, n);
    defer a.free(x);
    const wd = try a.alloc(f32, n);
    defer a.free(wd);
    const xd = try a.alloc(f32, n);
    defer a.free(xd);
    for (0..3) |trial| {
        for (w) |*v| v.* = rng.floatNorm(f32);
        // Trial 1 shifts the activations positive (SiLU outputs), stressing the min terms.
        for (x) |*v| v.* = rng.floatNorm(f32) + @as(f32, if (trial == 1) 1.5 else 0);
        if (trial == 2) for (w) |*v| {
            v.* = v.* * 0.02 + 0.01; // small, offset weights like real layers
        };
        for (dot_bounds) |db| {
            const wq = try a.alloc(u8, @intCast(db.t.rowBytes(n).?));
            defer a.free(wq);
            const at = vecDotType(db.t).?;
            const xq = try a.alloc(u8, @intCast(at.rowBytes(n).?));
            defer a.free(xq);
            try q.quantizeRow(db.t, w, wq);
            try q.dequantizeRow(db.t, wq, wd);
            try q.quantizeRow(at, x, xq);
            try q.dequantizeRow(at, xq, xd);
            const got: f64 = try vecDot(db.t, wq, xq, n);
            var ref_exact: f64 = 0;
            var ref_f32: f64 = 0;
            var nw: f64 = 0;
            var nx: f64 = 0;
            for (0..n) |i| {
                ref_exact += @as(f64, wd[i]) * xd[i];
                ref_f32 += @as(f64, wd[i]) * x[i];
                nw += @as(f64, wd[i]) * wd[i];
                nx += @as(f64, x[i]) * x[i];
            }
            const norm = @sqrt(nw) * @sqrt(nx);
            const e_exact = @abs(got - ref_exact) / norm;
            const e_f32 = @abs(got - ref_f32) / norm;
            if (std.process.hasEnvVarConstant("QUANT_VERBOSE"))
                std.debug.print("dot {s} trial {}: exact {e:.2} vs-f32 {e:.2}\n", .{ db.t.name(), trial, e_exact, e_f32 });
            if (e_exact > db.exact or e_f32 > db.vs_f32) {
                std.debug.print("dot {s} trial {}: exact {e:.3} (<{e}) vs-f32 {e:.3} (<{e})\n", .{ db.t.name(), trial, e_exact, db.exact, e_f32, db.vs_f32 });
                return error.TestUnexpectedResult;
            }
        }
    }
}

test "vecDot rejects bad lengths" {
    var row: [18]u8 = undefined;
    var act: [34]u8 = undefined;
    try testing.expectError(error.BadLength, vecDot(.q4_0, &row, &act, 64));
    try testing.expectError(error.BadLength, vecDot(.q4_0, &row, act[0..33], 32));
    try testing.expectError(error.Unsupported, vecDot(.q2_k, &row, &act, 32));
}
