//! ggml tensor block layouts and the reference (non-imatrix) quantizers and dequantizers of
//! ggml-quants.c, ported operation by operation so that our bytes match llama.cpp's.
//!
//! Bit-exactness: every float expression is evaluated in the same order as the C source and
//! without FMA contraction (Zig never contracts unless asked). A llama.cpp built with
//! -ffp-contract=fast/on on an FMA target may fuse some multiply-adds in the K-quant searches,
//! so its own output is not bit-stable across builds; we match the strict IEEE evaluation.
//!
//! Row API: a "row" is any run of whole blocks. Lengths are checked; bad lengths are an error,
//! never a panic. The quantized dot products live in dot.zig and are re-exported here.
const std = @import("std");
const types = @import("../gguf/types.zig");
pub const GgmlType = types.GgmlType;

pub const dot = @import("dot.zig");
pub const vecDot = dot.vecDot;
pub const vecDotType = dot.vecDotType;
pub const VecDotFn = dot.VecDotFn;
pub const vecDotFn = dot.vecDotFn;

pub const Error = error{
    /// The type has no CPU (de)quantizer here (e.g. Q2_K, I32).
    Unsupported,
    /// Element count is not a multiple of the block size, or src/dst lengths disagree.
    BadLength,
};

pub const QK4_0 = 32;
pub const QK4_1 = 32;
pub const QK5_0 = 32;
pub const QK5_1 = 32;
pub const QK8_0 = 32;
pub const QK8_1 = 32;
pub const QK_K = 256;
/// Bytes of the packed 6-bit scales/mins of Q4_K and Q5_K.
pub const K_SCALE_SIZE = 12;
/// ggml: groups whose max |x| is below this are stored as all-zero.
const GROUP_MAX_EPS: f32 = 1e-15;

// ---- block layouts (ggml-common.h) ----

pub const BlockQ4_0 = extern struct { d: f16, qs: [QK4_0 / 2]u8 };
pub const BlockQ4_1 = extern struct { d: f16, m: f16, qs: [QK4_1 / 2]u8 };
pub const BlockQ5_0 = extern struct { d: f16, qh: [4]u8, qs: [QK5_0 / 2]u8 };
pub const BlockQ5_1 = extern struct { d: f16, m: f16, qh: [4]u8, qs: [QK5_1 / 2]u8 };
pub const BlockQ8_0 = extern struct { d: f16, qs: [QK8_0]i8 };
/// Activation type for Q4_1/Q5_1 dots: `s` = d * sum(qs), so the weight's min folds in cheaply.
pub const BlockQ8_1 = extern struct { d: f16, s: f16, qs: [QK8_1]i8 };
/// 8 sub-blocks of 32; scales/mins 6-bit packed in `scales` (see getScaleMinK4).
pub const BlockQ4_K = extern struct { d: f16, dmin: f16, scales: [K_SCALE_SIZE]u8, qs: [QK_K / 2]u8 };
pub const BlockQ5_K = extern struct { d: f16, dmin: f16, scales: [K_SCALE_SIZE]u8, qh: [QK_K / 8]u8, qs: [QK_K / 2]u8 };
/// 16 sub-blocks of 16; low 4 bits in ql, high 2 bits in qh, int8 scales.
pub const BlockQ6_K = extern struct { ql: [QK_K / 2]u8, qh: [QK_K / 4]u8, scales: [QK_K / 16]i8, d: f16 };
/// Activation type for K-quant dots: f32 scale, bsums = sums of each 16 quants (for the mins).
pub const BlockQ8_K = extern struct { d: f32, qs: [QK_K]i8, bsums: [QK_K / 16]i16 };

/// The block struct of a quantized type (comptime).
pub fn Block(comptime t: GgmlType) type {
    return switch (t) {
        .q4_0 => BlockQ4_0,
        .q4_1 => BlockQ4_1,
        .q5_0 => BlockQ5_0,
        .q5_1 => BlockQ5_1,
        .q8_0 => BlockQ8_0,
        .q8_1 => BlockQ8_1,
        .q4_k => BlockQ4_K,
        .q5_k => BlockQ5_K,
        .q6_k => BlockQ6_K,
        .q8_k => BlockQ8_K,
        else => @compileError("no block struct for " ++ @tagName(t)),
    };
}

comptime {
    // The layouts must agree with the GGUF type table, or every offset computed from it is wrong.
    for ([_]GgmlType{ .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q8_1, .q4_k, .q5_k, .q6_k, .q8_k }) |t| {
        if (@sizeOf(Block(t)) != t.traits().?.block_bytes)
            @compileError("block size mismatch for " ++ @tagName(t));
    }
}

/// View raw bytes as blocks (no alignment assumed: GGUF rows of 18-byte blocks are not 4-aligned).
pub inline fn blocksConst(comptime B: type, bytes: []const u8) []align(1) const B {
    return std.mem.bytesAsSlice(B, bytes);
}
pub inline fn blocksMut(comptime B: type, bytes: []u8) []align(1) B {
    return std.mem.bytesAsSlice(B, bytes);
}

// ---- scalar conversions ----

pub inline fn f16ToF32(h: f16) f32 {
    return h;
}
/// Round-to-nearest-even, as F16C's _cvtss_sh(x, 0) and ggml's scalar fallback.
pub inline fn f32ToF16(x: f32) f16 {
    return @floatCast(x);
}
pub inline fn bf16ToF32(h: u16) f32 {
    return @bitCast(@as(u32, h) << 16);
}
/// ggml_compute_fp32_to_bf16: NaNs become quiet NaNs; otherwise round-to-nearest-even on bit 16.
pub inline fn f32ToBf16(s: f32) u16 {
    const u: u32 = @bitCast(s);
    if ((u & 0x7fffffff) > 0x7f800000) return @truncate((u >> 16) | 64);
    return @truncate((u +% (0x7fff + ((u >> 16) & 1))) >> 16);
}

/// ggml's nearest_int: round-half-even through the 1.5*2^23 magic add (valid for |f| <= 2^22).
/// Out-of-range or NaN inputs give garbage like the C version, but never trap.
pub inline fn nearestInt(f: f32) i32 {
    const val = f + 12582912.0;
    const i: i32 = @bitCast(val);
    return (i & 0x007fffff) - 0x00400000;
}

/// C's (int)f conversion (truncation toward zero), saturating instead of UB on NaN/overflow.
inline fn truncInt(f: f32) i32 {
    if (f != f) return 0;
    if (f >= 2147483520.0) return std.math.maxInt(i32);
    if (f <= -2147483648.0) return std.math.minInt(i32);
    return @intFromFloat(f);
}

/// C's roundf (half away from zero) to int8, saturating.
inline fn roundI8(f: f32) i8 {
    if (f != f) return 0;
    const r = @round(f);
    if (r >= 127.0) return 127;
    if (r <= -128.0) return -128;
    return @intFromFloat(r);
}

inline fn clampU8(v: i32, hi: i32) u8 {
    return @intCast(@max(0, @min(hi, v)));
}

// ---- public row API ----

/// Types quantizeRow accepts (weights and the activation types of the dot products).
pub fn canQuantize(t: GgmlType) bool {
    return switch (t) {
        .f32, .f16, .bf16, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q8_1, .q4_k, .q5_k, .q6_k, .q8_k => true,
        else => false,
    };
}

/// Types dequantizeRow accepts.
pub fn canDequantize(t: GgmlType) bool {
    return canQuantize(t);
}

/// Check that `n_elems` floats fit `t`'s blocks exactly and occupy `n_bytes`.
fn checkLengths(t: GgmlType, n_elems: usize, n_bytes: usize) Error!void {
    const row_bytes = t.rowBytes(n_elems) orelse return error.BadLength;
    if (row_bytes != n_bytes) return error.BadLength;
}

/// Decode `dst.len` elements of type `t` from `src` (exactly rowBytes(t, dst.len) bytes).
pub fn dequantizeRow(t: GgmlType, src: []const u8, dst: []f32) Error!void {
    if (!canDequantize(t)) return error.Unsupported;
    try checkLengths(t, dst.len, src.len);
    switch (t) {
        .f32 => @memcpy(std.mem.sliceAsBytes(dst), src),
        .f16 => for (dst, 0..) |*y, i| {
            y.* = f16ToF32(@bitCast(std.mem.readInt(u16, src[2 * i ..][0..2], .little)));
        },
        .bf16 => for (dst, 0..) |*y, i| {
            y.* = bf16ToF32(std.mem.readInt(u16, src[2 * i ..][0..2], .little));
        },
        .q4_0 => dequantQ4_0(blocksConst(BlockQ4_0, src), dst),
        .q4_1 => dequantQ4_1(blocksConst(BlockQ4_1, src), dst),
        .q5_0 => dequantQ5_0(blocksConst(BlockQ5_0, src), dst),
        .q5_1 => dequantQ5_1(blocksConst(BlockQ5_1, src), dst),
        .q8_0 => dequantQ8_0(blocksConst(BlockQ8_0, src), dst),
        .q8_1 => dequantQ8_1(blocksConst(BlockQ8_1, src), dst),
        .q4_k => dequantQ4_K(blocksConst(BlockQ4_K, src), dst),
        .q5_k => dequantQ5_K(blocksConst(BlockQ5_K, src), dst),
        .q6_k => dequantQ6_K(blocksConst(BlockQ6_K, src), dst),
        .q8_k => dequantQ8_K(blocksConst(BlockQ8_K, src), dst),
        else => return error.Unsupported,
    }
}

/// Encode `src` into `dst` (exactly rowBytes(t, src.len) bytes) with ggml's *_ref rules.
pub fn quantizeRow(t: GgmlType, src: []const f32, dst: []u8) Error!void {
    if (!canQuantize(t)) return error.Unsupported;
    try checkLengths(t, src.len, dst.len);
    switch (t) {
        .f32 => @memcpy(dst, std.mem.sliceAsBytes(src)),
        .f16 => for (src, 0..) |x, i| {
            std.mem.writeInt(u16, dst[2 * i ..][0..2], @bitCast(f32ToF16(x)), .little);
        },
        .bf16 => for (src, 0..) |x, i| {
            std.mem.writeInt(u16, dst[2 * i ..][0..2], f32ToBf16(x), .little);
        },
        .q4_0 => quantQ4_0(src, blocksMut(BlockQ4_0, dst)),
        .q4_1 => quantQ4_1(src, blocksMut(BlockQ4_1, dst)),
        .q5_0 => quantQ5_0(src, blocksMut(BlockQ5_0, dst)),
        .q5_1 => quantQ5_1(src, blocksMut(BlockQ5_1, dst)),
        .q8_0 => quantQ8_0(src, blocksMut(BlockQ8_0, dst)),
        .q8_1 => quantQ8_1(src, blocksMut(BlockQ8_1, dst)),
        .q4_k => quantQ4_K(src, blocksMut(BlockQ4_K, dst)),
        .q5_k => quantQ5_K(src, blocksMut(BlockQ5_K, dst)),
        .q6_k => quantQ6_K(src, blocksMut(BlockQ6_K, dst)),
        .q8_k => quantQ8_K(src, blocksMut(BlockQ8_K, dst)),
        else => return error.Unsupported,
    }
}

// ---- legacy 32-element quants ----

/// Max-abs value keeping its sign (ggml picks the first element reaching the max).
inline fn signedAbsMax(x: []const f32) f32 {
    var amax: f32 = 0;
    var max: f32 = 0;
    for (x) |v| {
        if (amax < @abs(v)) {
            amax = @abs(v);
            max = v;
        }
    }
    return max;
}

fn quantQ4_0(x: []const f32, y: []align(1) BlockQ4_0) void {
    for (y, 0..) |*b, i| {
        const xb = x[i * QK4_0 ..][0..QK4_0];
        const max = signedAbsMax(xb);
        // d = max / -8 maps the extreme value to -8, using the full asymmetric range [-8, 7].
        const d = max / -8.0;
        const id: f32 = if (d != 0) 1.0 / d else 0.0;
        b.d = f32ToF16(d);
        for (0..QK4_0 / 2) |j| {
            const x0 = xb[j] * id;
            const x1 = xb[QK4_0 / 2 + j] * id;
            const xi0 = clampU8(@min(15, truncInt(x0 + 8.5)), 255);
            const xi1 = clampU8(@min(15, truncInt(x1 + 8.5)), 255);
            b.qs[j] = xi0 | (xi1 << 4);
        }
    }
}

fn quantQ4_1(x: []const f32, y: []align(1) BlockQ4_1) void {
    for (y, 0..) |*b, i| {
        const xb = x[i * QK4_1 ..][0..QK4_1];
        var min: f32 = std.math.floatMax(f32);
        var max: f32 = -std.math.floatMax(f32);
        for (xb) |v| {
            if (v < min) min = v;
            if (v > max) max = v;
        }
        const d = (max - min) / 15.0;
        const id: f32 = if (d != 0) 1.0 / d else 0.0;
        b.d = f32ToF16(d);
        b.m = f32ToF16(min);
        for (0..QK4_1 / 2) |j| {
            const x0 = (xb[j] - min) * id;
            const x1 = (xb[QK4_1 / 2 + j] - min) * id;
            const xi0 = clampU8(@min(15, truncInt(x0 + 0.5)), 255);
            const xi1 = clampU8(@min(15, truncInt(x1 + 0.5)), 255);
            b.qs[j] = xi0 | (xi1 << 4);
        }
    }
}

fn quantQ5_0(x: []const f32, y: []align(1) BlockQ5_0) void {
    for (y, 0..) |*b, i| {
        const xb = x[i * QK5_0 ..][0..QK5_0];
        const max = signedAbsMax(xb);
        const d = max / -16.0;
        const id: f32 = if (d != 0) 1.0 / d else 0.0;
        b.d = f32ToF16(d);
        var qh: u32 = 0;
        for (0..QK5_0 / 2) |j| {
            const x0 = xb[j] * id;
            const x1 = xb[QK5_0 / 2 + j] * id;
            const xi0 = clampU8(@min(31, truncInt(x0 + 16.5)), 255);
            const xi1 = clampU8(@min(31, truncInt(x1 + 16.5)), 255);
            b.qs[j] = (xi0 & 0x0F) | ((xi1 & 0x0F) << 4);
            // The 5th bit of element j goes to qh bit j, of element j+16 to bit j+16.
            qh |= @as(u32, (xi0 & 0x10) >> 4) << @intCast(j);
            qh |= @as(u32, (xi1 & 0x10) >> 4) << @intCast(j + QK5_0 / 2);
        }
        b.qh = @bitCast(std.mem.nativeToLittle(u32, qh));
    }
}

fn quantQ5_1(x: []const f32, y: []align(1) BlockQ5_1) void {
    for (y, 0..) |*b, i| {
        const xb = x[i * QK5_1 ..][0..QK5_1];
        var min: f32 = std.math.floatMax(f32);
        var max: f32 = -std.math.floatMax(f32);
        for (xb) |v| {
            if (v < min) min = v;
            if (v > max) max = v;
        }
        const d = (max - min) / 31.0;
        const id: f32 = if (d != 0) 1.0 / d else 0.0;
        b.d = f32ToF16(d);
        b.m = f32ToF16(min);
        var qh: u32 = 0;
        for (0..QK5_1 / 2) |j| {
            const x0 = (xb[j] - min) * id;
            const x1 = (xb[QK5_1 / 2 + j] - min) * id;
            // ggml has no MIN(31, ..) here: (x-min)*id <= 31 + rounding, +0.5 truncates to <= 31.
            const xi0 = clampU8(truncInt(x0 + 0.5), 255);
            const xi1 = clampU8(truncInt(x1 + 0.5), 255);
            b.qs[j] = (xi0 & 0x0F) | ((xi1 & 0x0F) << 4);
            qh |= @as(u32, (xi0 & 0x10) >> 4) << @intCast(j);
            qh |= @as(u32, (xi1 & 0x10) >> 4) << @intCast(j + QK5_1 / 2);
        }
        b.qh = @bitCast(std.mem.nativeToLittle(u32, qh));
    }
}

fn quantQ8_0(x: []const f32, y: []align(1) BlockQ8_0) void {
    for (y, 0..) |*b, i| {
        const xb = x[i * QK8_0 ..][0..QK8_0];
        var amax: f32 = 0;
        for (xb) |v| amax = @max(amax, @abs(v));
        const d = amax / 127.0;
        const id: f32 = if (d != 0) 1.0 / d else 0.0;
        b.d = f32ToF16(d);
        for (xb, 0..) |v, j| b.qs[j] = roundI8(v * id);
    }
}

fn quantQ8_1(x: []const f32, y: []align(1) BlockQ8_1) void {
    for (y, 0..) |*b, i| {
        const xb = x[i * QK8_1 ..][0..QK8_1];
        var amax: f32 = 0;
        for (xb) |v| amax = @max(amax, @abs(v));
        const d = amax / 127.0;
        const id: f32 = if (d != 0) 1.0 / d else 0.0;
        b.d = f32ToF16(d);
        var sum: i32 = 0;
        for (0..QK8_1 / 2) |j| {
            b.qs[j] = roundI8(xb[j] * id);
            b.qs[QK8_1 / 2 + j] = roundI8(xb[QK8_1 / 2 + j] * id);
            sum += @as(i32, b.qs[j]) + @as(i32, b.qs[QK8_1 / 2 + j]);
        }
        b.s = f32ToF16(@as(f32, @floatFromInt(sum)) * d);
    }
}

fn dequantQ4_0(x: []align(1) const BlockQ4_0, y: []f32) void {
    for (x, 0..) |b, i| {
        const d = f16ToF32(b.d);
        const yb = y[i * QK4_0 ..][0..QK4_0];
        for (0..QK4_0 / 2) |j| {
            const x0 = @as(i32, b.qs[j] & 0x0F) - 8;
            const x1 = @as(i32, b.qs[j] >> 4) - 8;
            yb[j] = @as(f32, @floatFromInt(x0)) * d;
            yb[j + QK4_0 / 2] = @as(f32, @floatFromInt(x1)) * d;
        }
    }
}

fn dequantQ4_1(x: []align(1) const BlockQ4_1, y: []f32) void {
    for (x, 0..) |b, i| {
        const d = f16ToF32(b.d);
        const m = f16ToF32(b.m);
        const yb = y[i * QK4_1 ..][0..QK4_1];
        for (0..QK4_1 / 2) |j| {
            yb[j] = @as(f32, @floatFromInt(b.qs[j] & 0x0F)) * d + m;
            yb[j + QK4_1 / 2] = @as(f32, @floatFromInt(b.qs[j] >> 4)) * d + m;
        }
    }
}

fn dequantQ5_0(x: []align(1) const BlockQ5_0, y: []f32) void {
    for (x, 0..) |b, i| {
        const d = f16ToF32(b.d);
        const qh = std.mem.readInt(u32, &b.qh, .little);
        const yb = y[i * QK5_0 ..][0..QK5_0];
        for (0..QK5_0 / 2) |j| {
            const sh: u5 = @intCast(j);
            const xh0: u8 = @truncate(((qh >> sh) << 4) & 0x10);
            const xh1: u8 = @truncate((qh >> (sh + 12)) & 0x10);
            const x0 = @as(i32, (b.qs[j] & 0x0F) | xh0) - 16;
            const x1 = @as(i32, (b.qs[j] >> 4) | xh1) - 16;
            yb[j] = @as(f32, @floatFromInt(x0)) * d;
            yb[j + QK5_0 / 2] = @as(f32, @floatFromInt(x1)) * d;
        }
    }
}

fn dequantQ5_1(x: []align(1) const BlockQ5_1, y: []f32) void {
    for (x, 0..) |b, i| {
        const d = f16ToF32(b.d);
        const m = f16ToF32(b.m);
        const qh = std.mem.readInt(u32, &b.qh, .little);
        const yb = y[i * QK5_1 ..][0..QK5_1];
        for (0..QK5_1 / 2) |j| {
            const sh: u5 = @intCast(j);
            const xh0: u8 = @truncate(((qh >> sh) << 4) & 0x10);
            const xh1: u8 = @truncate((qh >> (sh + 12)) & 0x10);
            const x0 = (b.qs[j] & 0x0F) | xh0;
            const x1 = (b.qs[j] >> 4) | xh1;
            yb[j] = @as(f32, @floatFromInt(x0)) * d + m;
            yb[j + QK5_1 / 2] = @as(f32, @floatFromInt(x1)) * d + m;
        }
    }
}

fn dequantQ8_0(x: []align(1) const BlockQ8_0, y: []f32) void {
    for (x, 0..) |b, i| {
        const d = f16ToF32(b.d);
        for (0..QK8_0) |j| y[i * QK8_0 + j] = @as(f32, @floatFromInt(b.qs[j])) * d;
    }
}

fn dequantQ8_1(x: []align(1) const BlockQ8_1, y: []f32) void {
    for (x, 0..) |b, i| {
        const d = f16ToF32(b.d);
        for (0..QK8_1) |j| y[i * QK8_1 + j] = @as(f32, @floatFromInt(b.qs[j])) * d;
    }
}

// ---- K-quants ----

/// ggml's make_qx_quants: symmetric quantization to [-nmax, nmax-1] (stored +nmax in L), with a
/// weighted least-squares scale refined over 18 trial inverse scales. Returns the scale.
fn makeQxQuants(comptime n: usize, nmax: i32, x: *const [n]f32, L: *[n]u8, rmse_type_in: i32) f32 {
    var max: f32 = 0;
    var amax: f32 = 0;
    for (x) |v| {
        const ax = @abs(v);
        if (ax > amax) {
            amax = ax;
            max = v;
        }
    }
    if (amax < GROUP_MAX_EPS) {
        @memset(L, 0);
        return 0;
    }
    const nmax_f: f32 = @floatFromInt(nmax);
    var iscale = -nmax_f / max;
    if (rmse_type_in == 0) {
        for (x, 0..) |v, i| {
            const l = nearestInt(iscale * v);
            L[i] = @intCast(nmax + @max(-nmax, @min(nmax - 1, l)));
        }
        return 1 / iscale;
    }
    var rmse_type = rmse_type_in;
    var return_early = false;
    if (rmse_type < 0) {
        rmse_type = -rmse_type;
        return_early = true;
    }
    var sumlx: f32 = 0;
    var suml2: f32 = 0;
    for (x, 0..) |v, i| {
        var l = nearestInt(iscale * v);
        l = @max(-nmax, @min(nmax - 1, l));
        L[i] = @intCast(l + nmax);
        const w = qxWeight(rmse_type, v);
        const lf: f32 = @floatFromInt(l);
        sumlx += w * v * lf;
        suml2 += w * lf * lf;
    }
    var scale: f32 = if (suml2 != 0) sumlx / suml2 else 0.0;
    if (return_early) return if (suml2 > 0) 0.5 * (scale + 1 / iscale) else 1 / iscale;
    var best = scale * sumlx;
    var is: i32 = -9;
    while (is <= 9) : (is += 1) {
        if (is == 0) continue;
        iscale = -(nmax_f + 0.1 * @as(f32, @floatFromInt(is))) / max;
        sumlx = 0;
        suml2 = 0;
        for (x) |v| {
            var l = nearestInt(iscale * v);
            l = @max(-nmax, @min(nmax - 1, l));
            const w = qxWeight(rmse_type, v);
            const lf: f32 = @floatFromInt(l);
            sumlx += w * v * lf;
            suml2 += w * lf * lf;
        }
        if (suml2 > 0 and sumlx * sumlx > best * suml2) {
            for (x, 0..) |v, i| {
                const l = nearestInt(iscale * v);
                L[i] = @intCast(nmax + @max(-nmax, @min(nmax - 1, l)));
            }
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

inline fn qxWeight(rmse_type: i32, v: f32) f32 {
    return switch (rmse_type) {
        1 => v * v,
        2 => 1,
        3 => @abs(v),
        else => @sqrt(@abs(v)),
    };
}

/// ggml's make_qkx2_quants: asymmetric quantization x ≈ scale*L - the_min with L in [0, nmax],
/// searching nstep+1 trial scales for the least weighted error. Returns scale, writes the min.
fn makeQkx2Quants(
    comptime n: usize,
    nmax: i32,
    x: *const [n]f32,
    weights: *const [n]f32,
    L: *[n]u8,
    the_min: *f32,
    Laux: *[n]u8,
    rmin: f32,
    rdelta: f32,
    nstep: i32,
    use_mad: bool,
) f32 {
    var min = x[0];
    var max = x[0];
    var sum_w = weights[0];
    var sum_x = sum_w * x[0];
    for (1..n) |i| {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        const w = weights[i];
        sum_w += w;
        sum_x += w * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        @memset(L, 0);
        the_min.* = -min;
        return 0;
    }
    const nmax_f: f32 = @floatFromInt(nmax);
    var iscale = nmax_f / (max - min);
    var scale = 1 / iscale;
    var best_mad: f32 = 0;
    for (0..n) |i| {
        const l = nearestInt(iscale * (x[i] - min));
        L[i] = clampU8(l, nmax);
        var diff = scale * @as(f32, @floatFromInt(L[i])) + min - x[i];
        diff = if (use_mad) @abs(diff) else diff * diff;
        best_mad += weights[i] * diff;
    }
    if (nstep < 1) {
        the_min.* = -min;
        return scale;
    }
    var is: i32 = 0;
    while (is <= nstep) : (is += 1) {
        iscale = (rmin + rdelta * @as(f32, @floatFromInt(is)) + nmax_f) / (max - min);
        var sum_l: f32 = 0;
        var sum_l2: f32 = 0;
        var sum_xl: f32 = 0;
        for (0..n) |i| {
            const l = clampU8(nearestInt(iscale * (x[i] - min)), nmax);
            Laux[i] = l;
            const w = weights[i];
            const lf: f32 = @floatFromInt(l);
            sum_l += w * lf;
            sum_l2 += w * lf * lf;
            sum_xl += w * lf * x[i];
        }
        const D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0) {
            var this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            var this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0) {
                this_min = 0;
                this_scale = sum_xl / sum_l2;
            }
            var mad: f32 = 0;
            for (0..n) |i| {
                var diff = this_scale * @as(f32, @floatFromInt(Laux[i])) + this_min - x[i];
                diff = if (use_mad) @abs(diff) else diff * diff;
                mad += weights[i] * diff;
            }
            if (mad < best_mad) {
                L.* = Laux.*;
                best_mad = mad;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    the_min.* = -min;
    return scale;
}

/// 6-bit scale and min of sub-block j (0..7) from the 12-byte packing of Q4_K/Q5_K.
pub inline fn getScaleMinK4(j: usize, q: *align(1) const [K_SCALE_SIZE]u8) struct { sc: u8, m: u8 } {
    if (j < 4) return .{ .sc = q[j] & 63, .m = q[j + 4] & 63 };
    return .{
        .sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4),
        .m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4),
    };
}

/// Shared by Q4_K and Q5_K: per-32 scales/mins by make_qkx2_quants, packed to 6 bits against the
/// block maxima, then requantize every element against the *stored* (rounded) scales.
fn quantKScalesMins(
    xb: *const [QK_K]f32,
    nmax: i32,
    rmin: f32,
    nstep: i32,
    L: *[QK_K]u8,
    d_out: *align(1) f16,
    dmin_out: *align(1) f16,
    scales_out: *align(1) [K_SCALE_SIZE]u8,
) void {
    var mins: [QK_K / 32]f32 = undefined;
    var scales: [QK_K / 32]f32 = undefined;
    var weights: [32]f32 = undefined;
    var Laux: [32]u8 = undefined;
    var max_scale: f32 = 0; // mins are subtracted, so scales are never negative
    var max_min: f32 = 0;
    for (0..QK_K / 32) |j| {
        const xs = xb[32 * j ..][0..32];
        var sum_x2: f32 = 0;
        for (xs) |v| sum_x2 += v * v;
        const av_x = @sqrt(sum_x2 / 32);
        for (xs, 0..) |v, l| weights[l] = av_x + @abs(v);
        scales[j] = makeQkx2Quants(32, nmax, xs, &weights, L[32 * j ..][0..32], &mins[j], &Laux, rmin, 0.1, nstep, false);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    const inv_scale: f32 = if (max_scale > 0) 63.0 / max_scale else 0.0;
    const inv_min: f32 = if (max_min > 0) 63.0 / max_min else 0.0;
    var sc: [K_SCALE_SIZE]u8 = undefined;
    for (0..QK_K / 32) |j| {
        // C stores nearest_int into uint8_t (mod 256) before MIN(63, ..).
        const ls: u8 = @min(63, @as(u8, @truncate(@as(u32, @bitCast(nearestInt(inv_scale * scales[j]))))));
        const lm: u8 = @min(63, @as(u8, @truncate(@as(u32, @bitCast(nearestInt(inv_min * mins[j]))))));
        if (j < 4) {
            sc[j] = ls;
            sc[j + 4] = lm;
        } else {
            sc[j + 4] = (ls & 0xF) | ((lm & 0xF) << 4);
            sc[j - 4] |= ((ls >> 4) << 6);
            sc[j - 0] |= ((lm >> 4) << 6);
        }
    }
    scales_out.* = sc;
    d_out.* = f32ToF16(max_scale / 63.0);
    dmin_out.* = f32ToF16(max_min / 63.0);
    const d_all = f16ToF32(d_out.*);
    const dmin_all = f16ToF32(dmin_out.*);
    for (0..QK_K / 32) |j| {
        const smk = getScaleMinK4(j, &sc);
        const d = d_all * @as(f32, @floatFromInt(smk.sc));
        if (d == 0) continue; // keep make_qkx2_quants' L, as ggml does
        const dm = dmin_all * @as(f32, @floatFromInt(smk.m));
        for (0..32) |ii| {
            const l = nearestInt((xb[32 * j + ii] + dm) / d);
            L[32 * j + ii] = clampU8(l, nmax);
        }
    }
}

fn quantQ4_K(x: []const f32, y: []align(1) BlockQ4_K) void {
    for (y, 0..) |*b, i| {
        const xb = x[i * QK_K ..][0..QK_K];
        var L: [QK_K]u8 = undefined;
        quantKScalesMins(xb, 15, -1.0, 20, &L, &b.d, &b.dmin, &b.scales);
        var jq: usize = 0;
        var j: usize = 0;
        while (j < QK_K) : (j += 64) {
            for (0..32) |l| b.qs[jq + l] = L[j + l] | (L[j + l + 32] << 4);
            jq += 32;
        }
    }
}

fn quantQ5_K(x: []const f32, y: []align(1) BlockQ5_K) void {
    for (y, 0..) |*b, i| {
        const xb = x[i * QK_K ..][0..QK_K];
        var L: [QK_K]u8 = undefined;
        quantKScalesMins(xb, 31, -0.5, 15, &L, &b.d, &b.dmin, &b.scales);
        var qh: [QK_K / 8]u8 = [_]u8{0} ** (QK_K / 8);
        var m1: u8 = 1;
        var m2: u8 = 2;
        var jq: usize = 0;
        var n: usize = 0;
        while (n < QK_K) : (n += 64) {
            for (0..32) |j| {
                var l1 = L[n + j];
                if (l1 > 15) {
                    l1 -= 16;
                    qh[j] |= m1;
                }
                var l2 = L[n + j + 32];
                if (l2 > 15) {
                    l2 -= 16;
                    qh[j] |= m2;
                }
                b.qs[jq + j] = l1 | (l2 << 4);
            }
            m1 <<= 2;
            m2 <<= 2;
            jq += 32;
        }
        b.qh = qh;
    }
}

fn quantQ6_K(x: []const f32, y: []align(1) BlockQ6_K) void {
    for (y, 0..) |*b, i| {
        const xb = x[i * QK_K ..][0..QK_K];
        var L: [QK_K]u8 = undefined;
        var scales: [QK_K / 16]f32 = undefined;
        var max_scale: f32 = 0;
        var max_abs_scale: f32 = 0;
        for (0..QK_K / 16) |ib| {
            const scale = makeQxQuants(16, 32, xb[16 * ib ..][0..16], L[16 * ib ..][0..16], 1);
            scales[ib] = scale;
            if (@abs(scale) > max_abs_scale) {
                max_abs_scale = @abs(scale);
                max_scale = scale;
            }
        }
        if (max_abs_scale < GROUP_MAX_EPS) {
            b.* = std.mem.zeroes(BlockQ6_K);
            continue;
        }
        const iscale = -128.0 / max_scale;
        b.d = f32ToF16(1 / iscale);
        for (0..QK_K / 16) |ib| {
            // In [-128, 128] by construction; the extreme group lands on -128 exactly.
            const v = @min(127, nearestInt(iscale * scales[ib]));
            b.scales[ib] = @intCast(@max(-128, v));
        }
        const d_all = f16ToF32(b.d);
        for (0..QK_K / 16) |j| {
            const d = d_all * @as(f32, @floatFromInt(b.scales[j]));
            if (d == 0) continue;
            for (0..16) |ii| {
                var l = nearestInt(xb[16 * j + ii] / d);
                l = @max(-32, @min(31, l));
                L[16 * j + ii] = @intCast(l + 32);
            }
        }
        var jl: usize = 0;
        var jh: usize = 0;
        var j: usize = 0;
        while (j < QK_K) : (j += 128) {
            for (0..32) |l| {
                const q1 = L[j + l + 0] & 0xF;
                const q2 = L[j + l + 32] & 0xF;
                const q3 = L[j + l + 64] & 0xF;
                const q4 = L[j + l + 96] & 0xF;
                b.ql[jl + l + 0] = q1 | (q3 << 4);
                b.ql[jl + l + 32] = q2 | (q4 << 4);
                b.qh[jh + l] = (L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) |
                    ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6);
            }
            jl += 64;
            jh += 32;
        }
    }
}

fn quantQ8_K(x: []const f32, y: []align(1) BlockQ8_K) void {
    for (y, 0..) |*b, i| {
        const xb = x[i * QK_K ..][0..QK_K];
        var max: f32 = 0;
        var amax: f32 = 0;
        for (xb) |v| {
            if (@abs(v) > amax) {
                amax = @abs(v);
                max = v;
            }
        }
        if (amax == 0) {
            // ggml leaves bsums untouched here; we zero them so the block is fully defined.
            b.* = std.mem.zeroes(BlockQ8_K);
            continue;
        }
        // -127 (not -128): ggml changed this for IQ2_XXS; kept so dots agree with llama.cpp.
        const iscale = -127.0 / max;
        for (xb, 0..) |v, j| {
            const q = @min(127, nearestInt(iscale * v));
            b.qs[j] = @intCast(@max(-128, q));
        }
        for (0..QK_K / 16) |j| {
            var sum: i32 = 0;
            for (0..16) |ii| sum += b.qs[j * 16 + ii];
            b.bsums[j] = @intCast(sum);
        }
        b.d = 1 / iscale;
    }
}

fn dequantQ4_K(x: []align(1) const BlockQ4_K, y: []f32) void {
    for (x, 0..) |*b, i| {
        const yb = y[i * QK_K ..][0..QK_K];
        const d = f16ToF32(b.d);
        const min = f16ToF32(b.dmin);
        var is: usize = 0;
        var jq: usize = 0;
        var j: usize = 0;
        while (j < QK_K) : (j += 64) {
            const a = getScaleMinK4(is + 0, &b.scales);
            const d1 = d * @as(f32, @floatFromInt(a.sc));
            const m1 = min * @as(f32, @floatFromInt(a.m));
            const c = getScaleMinK4(is + 1, &b.scales);
            const d2 = d * @as(f32, @floatFromInt(c.sc));
            const m2 = min * @as(f32, @floatFromInt(c.m));
            for (0..32) |l| yb[j + l] = d1 * @as(f32, @floatFromInt(b.qs[jq + l] & 0xF)) - m1;
            for (0..32) |l| yb[j + 32 + l] = d2 * @as(f32, @floatFromInt(b.qs[jq + l] >> 4)) - m2;
            jq += 32;
            is += 2;
        }
    }
}

fn dequantQ5_K(x: []align(1) const BlockQ5_K, y: []f32) void {
    for (x, 0..) |*b, i| {
        const yb = y[i * QK_K ..][0..QK_K];
        const d = f16ToF32(b.d);
        const min = f16ToF32(b.dmin);
        var is: usize = 0;
        var jq: usize = 0;
        var u_1: u8 = 1;
        var u_2: u8 = 2;
        var j: usize = 0;
        while (j < QK_K) : (j += 64) {
            const a = getScaleMinK4(is + 0, &b.scales);
            const d1 = d * @as(f32, @floatFromInt(a.sc));
            const m1 = min * @as(f32, @floatFromInt(a.m));
            const c = getScaleMinK4(is + 1, &b.scales);
            const d2 = d * @as(f32, @floatFromInt(c.sc));
            const m2 = min * @as(f32, @floatFromInt(c.m));
            for (0..32) |l| {
                const q: u8 = (b.qs[jq + l] & 0xF) + @as(u8, if (b.qh[l] & u_1 != 0) 16 else 0);
                yb[j + l] = d1 * @as(f32, @floatFromInt(q)) - m1;
            }
            for (0..32) |l| {
                const q: u8 = (b.qs[jq + l] >> 4) + @as(u8, if (b.qh[l] & u_2 != 0) 16 else 0);
                yb[j + 32 + l] = d2 * @as(f32, @floatFromInt(q)) - m2;
            }
            jq += 32;
            is += 2;
            u_1 <<= 2;
            u_2 <<= 2;
        }
    }
}

fn dequantQ6_K(x: []align(1) const BlockQ6_K, y: []f32) void {
    for (x, 0..) |*b, i| {
        const d = f16ToF32(b.d);
        var n: usize = 0;
        while (n < QK_K) : (n += 128) {
            const yb = y[i * QK_K + n ..][0..128];
            const ql = b.ql[n / 2 ..][0..64];
            const qh = b.qh[n / 4 ..][0..32];
            const sc = b.scales[n / 16 ..][0..8];
            for (0..32) |l| {
                const is = l / 16;
                const q1 = @as(i32, (ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const q2 = @as(i32, (ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const q3 = @as(i32, (ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const q4 = @as(i32, (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                // C: d * sc * q, evaluated left to right in float.
                yb[l + 0] = d * @as(f32, @floatFromInt(sc[is + 0])) * @as(f32, @floatFromInt(q1));
                yb[l + 32] = d * @as(f32, @floatFromInt(sc[is + 2])) * @as(f32, @floatFromInt(q2));
                yb[l + 64] = d * @as(f32, @floatFromInt(sc[is + 4])) * @as(f32, @floatFromInt(q3));
                yb[l + 96] = d * @as(f32, @floatFromInt(sc[is + 6])) * @as(f32, @floatFromInt(q4));
            }
        }
    }
}

fn dequantQ8_K(x: []align(1) const BlockQ8_K, y: []f32) void {
    for (x, 0..) |*b, i| {
        const d = b.d;
        for (0..QK_K) |j| y[i * QK_K + j] = d * @as(f32, @floatFromInt(b.qs[j]));
    }
}

// ---- tests ----

const testing = std.testing;

/// sqrt(sum (a-b)^2 / sum a^2) in f64.
pub fn relRmse(ref: []const f32, got: []const f32) f64 {
    var num: f64 = 0;
    var den: f64 = 0;
    for (ref, got) |a, b| {
        const d = @as(f64, a) - @as(f64, b);
        num += d * d;
        den += @as(f64, a) * @as(f64, a);
    }
    return if (den == 0) @sqrt(num) else @sqrt(num / den);
}

/// Deterministic test rows: Gaussian with every 97th element x6 (outliers, like real weights).
/// Public so that out-of-tree tools can regenerate the golden-hash input with ggml.
pub fn fillTestRow(seed: u64, x: []f32) void {
    var prng = std.Random.DefaultPrng.init(seed);
    fillRandom(prng.random(), x);
}

fn fillRandom(rng: std.Random, x: []f32) void {
    // Gaussian weights with a few outliers, like real weight rows.
    for (x) |*v| v.* = rng.floatNorm(f32);
    var i: usize = 0;
    while (i < x.len) : (i += 97) x[i] *= 6;
}

/// Asserted rel-RMSE bounds of round trips (2048 Gaussian elements, every 97th x6 as outliers).
/// Measured (seed 42): F16 2.2e-4, BF16 1.7e-3, Q8_0 7.7e-3, Q8_K 0.0148, Q4_0 0.119, Q4_1 0.088,
/// Q5_0 0.061, Q5_1 0.043, Q4_K 0.084, Q5_K 0.042, Q6_K 0.0237.
const roundtrip_bounds = [_]struct { t: GgmlType, bound: f64 }{
    .{ .t = .f32, .bound = 0 },
    .{ .t = .f16, .bound = 5e-4 },
    .{ .t = .bf16, .bound = 4e-3 },
    .{ .t = .q8_0, .bound = 0.01 },
    .{ .t = .q8_1, .bound = 0.01 },
    .{ .t = .q8_k, .bound = 0.02 }, // 256-element blocks: one outlier sets the step for all
    .{ .t = .q4_0, .bound = 0.13 },
    .{ .t = .q4_1, .bound = 0.10 },
    .{ .t = .q5_0, .bound = 0.07 },
    .{ .t = .q5_1, .bound = 0.05 },
    .{ .t = .q4_k, .bound = 0.095 },
    .{ .t = .q5_k, .bound = 0.048 },
    .{ .t = .q6_k, .bound = 0.027 },
};

test "round trips of every type stay within their error bounds" {
    const n = 2048;
    var prng = std.Random.DefaultPrng.init(42);
    const x = try testing.allocator.alloc(f32, n);
    defer testing.allocator.free(x);
    const y = try testing.allocator.alloc(f32, n);
    defer testing.allocator.free(y);
    fillRandom(prng.random(), x);
    for (roundtrip_bounds) |rb| {
        const bytes = try testing.allocator.alloc(u8, @intCast(rb.t.rowBytes(n).?));
        defer testing.allocator.free(bytes);
        try quantizeRow(rb.t, x, bytes);
        try dequantizeRow(rb.t, bytes, y);
        const e = relRmse(x, y);
        if (std.process.hasEnvVarConstant("QUANT_VERBOSE")) std.debug.print("{s}: rel-rmse {d:.5}\n", .{ rb.t.name(), e });
        if (e > rb.bound) {
            std.debug.print("{s}: rel-rmse {d:.5} > bound {d}\n", .{ rb.t.name(), e, rb.bound });
            return error.TestExpectedApproxEqAbs;
        }
    }
}

/// SHA-256 of llama.cpp's quantize_row_*_ref output (libggml-base from node-llama-cpp 3.22.1,
/// x86-64) for fillTestRow(1234, 4096 floats). Equal hashes = byte-identical quantized rows.
const golden_sha256 = [_]struct { t: GgmlType, sha256: *const [64]u8 }{
    .{ .t = .q4_0, .sha256 = "e668b21aa70e1c35841fee6d2d03049212913d5c7f0e3cf55c898105e583f788" },
    .{ .t = .q4_1, .sha256 = "458ed79e4cbb9e413fea6a2ecb1ce15af98ef16e7b845ca53fe15d36e2e11144" },
    .{ .t = .q5_0, .sha256 = "5ce2fc6c17ef1b8d2df96ac76789a7319d5349705bfec60bcc4e6add95610198" },
    .{ .t = .q5_1, .sha256 = "e1e60c4d7d1da83db674a8b6177ee75e527bdf04b37f02bfbc1750e7e49e3b98" },
    .{ .t = .q8_0, .sha256 = "1a510208aee71d336edce2deacdc311dd0e621cf7e2b23b7a061c0c6630d2c56" },
    .{ .t = .q8_1, .sha256 = "9dcd385ba19e92659338adbd4ea266aee9f9ebd534750af47baec14df3efc632" },
    .{ .t = .q4_k, .sha256 = "08a5f51e2169edd8eb143ab6130c2eb2026abd435e30db75be668042d2639109" },
    .{ .t = .q5_k, .sha256 = "ed15a3fb9a4807a95d0ec6a7cfc3c8f561e90a307093acb42a71fa78c7a4a6d8" },
    .{ .t = .q6_k, .sha256 = "67d2179d5db26b412b3a1f759fcd174187c4d4c93e3a0a73dc59d18cafe47e12" },
    .{ .t = .q8_k, .sha256 = "f380e44e22a3f4f7abd511127eed13786c237dde0663e214e15d06be51ace857" },
};

test "quantized bytes are identical to llama.cpp's reference quantizers" {
    const n = 4096;
    const x = try testing.allocator.alloc(f32, n);
    defer testing.allocator.free(x);
    fillTestRow(1234, x);
    for (golden_sha256) |g| {
        const bytes = try testing.allocator.alloc(u8, @intCast(g.t.rowBytes(n).?));
        defer testing.allocator.free(bytes);
        try quantizeRow(g.t, x, bytes);
        var digest: [32]u8 = undefined;
        std.crypto.hash.sha2.Sha256.hash(bytes, &digest, .{});
        const hex = std.fmt.bytesToHex(digest, .lower);
        if (!std.mem.eql(u8, &hex, g.sha256)) {
            std.debug.print("{s}: sha256 {s} != ggml {s}\n", .{ g.t.name(), &hex, g.sha256 });
            return error.TestUnexpectedResult;
        }
    }
}

test "Q4_0 known answer: block of 0..31" {
    var x: [32]f32 = undefined;
    for (&x, 0..) |*v, i| v.* = @floatFromInt(i);
    var blk: [18]u8 = undefined;
    try quantizeRow(.q4_0, &x, &blk);
    // max = 31 -> d = 31 / -8 = -3.875 (exact in f16: 0xC3C0).
    try testing.expectEqual(@as(u16, 0xC3C0), std.mem.readInt(u16, blk[0..2], .little));
    const expect_qs = [16]u8{ 72, 72, 55, 55, 55, 55, 38, 38, 38, 38, 21, 21, 21, 21, 4, 4 };
    try testing.expectEqualSlices(u8, &expect_qs, blk[2..]);
    var y: [32]f32 = undefined;
    try dequantizeRow(.q4_0, &blk, &y);
    // element 0 -> q 8 -> 0; element 31 -> q 0 -> -8 * -3.875 = 31.
    try testing.expectEqual(@as(f32, 0), y[0]);
    try testing.expectEqual(@as(f32, 31), y[31]);
    try testing.expectEqual(@as(f32, 3.875), y[2]); // q 7 -> -1 * -3.875
}

test "Q8_0 and Q4_1 known answers" {
    var x: [32]f32 = undefined;
    for (&x, 0..) |*v, i| v.* = @as(f32, @floatFromInt(i)) - 16; // -16..15
    var b8: [34]u8 = undefined;
    try quantizeRow(.q8_0, &x, &b8);
    const blk8 = blocksConst(BlockQ8_0, &b8)[0];
    try testing.expectEqual(@as(f32, f32ToF16(16.0 / 127.0)), @as(f32, blk8.d));
    try testing.expectEqual(@as(i8, -127), blk8.qs[0]);
    try testing.expectEqual(@as(i8, 0), blk8.qs[16]);
    try testing.expectEqual(@as(i8, 8), blk8.qs[17]); // 1*127/16 = 7.94 -> 8
    var b41: [20]u8 = undefined;
    try quantizeRow(.q4_1, &x, &b41);
    const blk41 = blocksConst(BlockQ4_1, &b41)[0];
    try testing.expectEqual(@as(f32, 2.06640625), @as(f32, blk41.d)); // 31/15 rounded to f16 (1058/512)
    try testing.expectEqual(@as(f32, -16), @as(f32, blk41.m));
    try testing.expectEqual(@as(u8, 0x00 | (8 << 4)), blk41.qs[0]); // -16 -> 0; 0 -> 16/2.0667=7.74+.5 -> 8
}

test "bad lengths and unsupported types are errors" {
    var x: [40]f32 = undefined;
    @memset(&x, 1);
    var buf: [64]u8 = undefined;
    try testing.expectError(error.BadLength, quantizeRow(.q4_0, &x, buf[0..18]));
    try testing.expectError(error.BadLength, quantizeRow(.q4_0, x[0..32], buf[0..17]));
    try testing.expectError(error.BadLength, dequantizeRow(.q8_0, buf[0..34], x[0..31]));
    try testing.expectError(error.BadLength, dequantizeRow(.q4_k, buf[0..64], x[0..32]));
    try testing.expectError(error.Unsupported, quantizeRow(.q2_k, x[0..32], buf[0..18]));
    try testing.expectError(error.Unsupported, dequantizeRow(@enumFromInt(99), buf[0..4], x[0..1]));
}

test "BF16 conversion rounds to nearest even and keeps NaN quiet" {
    try testing.expectEqual(@as(u16, 0x3f80), f32ToBf16(1.0));
    // 1 + 2^-8 is exactly halfway between bf16 1.0 and 1.0078125: ties to even -> 1.0.
    try testing.expectEqual(@as(u16, 0x3f80), f32ToBf16(@bitCast(@as(u32, 0x3f808000))));
    try testing.expectEqual(@as(u16, 0x3f82), f32ToBf16(@bitCast(@as(u32, 0x3f818000))));
    try testing.expectEqual(@as(u16, 0x7fc1), f32ToBf16(@bitCast(@as(u32, 0x7f810000))));
    try testing.expectEqual(@as(f32, -2.0), bf16ToF32(0xc000));
}

test "K-quant zero and constant blocks" {
    var x = [_]f32{0} ** QK_K;
    var y: [QK_K]f32 = undefined;
    inline for (.{ GgmlType.q4_k, GgmlType.q5_k, GgmlType.q6_k, GgmlType.q8_k }) |t| {
        var buf: [@sizeOf(Block(t))]u8 = undefined;
        try quantizeRow(t, &x, &buf);
        try dequantizeRow(t, &buf, &y);
        for (y) |v| try testing.expectEqual(@as(f32, 0), v);
    }
    @memset(&x, 0.5);
    inline for (.{ GgmlType.q4_k, GgmlType.q5_k, GgmlType.q6_k }) |t| {
        var buf: [@sizeOf(Block(t))]u8 = undefined;
        try quantizeRow(t, &x, &buf);
        try dequantizeRow(t, &buf, &y);
        try testing.expect(relRmse(&x, &y) < 0.01);
    }
}

test {
    _ = dot;
}
