//! Quantized matmul micro-kernels, compiled once per instruction set.
//!
//! build.zig compiles this file several times as separate modules, each for a different CPU
//! model of the target architecture (x86-64: the target's own CPU, x86-64-v3 = AVX2+FMA+F16C,
//! x86-64-v4 + VNNI; aarch64: the target's CPU, +dotprod, +i8mm), and core/cpu/dispatch.zig picks
//! one at run time from the CPU's features. So this file must stay self-contained: it imports
//! only std and builtin (a file can belong to one module only), and the block layouts below are
//! checked against core/quant/quant.zig's in dispatch.zig.
//!
//! A tile is NR weight rows × NT activation rows (tokens). Each weight block is unpacked once
//! and dotted against NT token blocks; each activation block is loaded once for NR rows. The
//! integer products go through `dot4`: per i32 lane the sum of 4 adjacent u8×i8 products
//! (x86 VNNI vpdpbusd, AVX2 vpmaddubsw+vpmaddwd, aarch64 sdot on the signed form, or portable
//! vectors), so every path computes the same exact integers; floats only scale per block.
const std = @import("std");
const builtin = @import("builtin");

const arch = builtin.cpu.arch;
const x86 = arch == .x86_64;
const arm = arch == .aarch64;
fn x86Has(comptime f: std.Target.x86.Feature) bool {
    return x86 and std.Target.x86.featureSetHas(builtin.cpu.features, f);
}
fn armHas(comptime f: std.Target.aarch64.Feature) bool {
    return arm and std.Target.aarch64.featureSetHas(builtin.cpu.features, f);
}
const has_avx2 = x86Has(.avx2);
const has_vnni = x86Has(.avx512vnni) and x86Has(.avx512vl);
const has_sdot = armHas(.dotprod);

/// What this compilation of the file uses (for logs and tests).
pub const isa: []const u8 = if (has_vnni) "avx512vnni" else if (has_avx2) "avx2" else if (has_sdot) "neon-dotprod" else if (arm) "neon" else "baseline";

pub const QK8_0 = 32;
pub const QK_K = 256;
pub const BlockQ4_0 = extern struct { d: f16, qs: [16]u8 };
pub const BlockQ8_0 = extern struct { d: f16, qs: [32]i8 };
pub const BlockQ4_K = extern struct { d: f16, dmin: f16, scales: [12]u8, qs: [128]u8 };
pub const BlockQ6_K = extern struct { ql: [128]u8, qh: [64]u8, scales: [16]i8, d: f16 };
pub const BlockQ8_K = extern struct { d: f32, qs: [256]i8, bsums: [16]i16 };

/// out[t * out_stride + r] = dot(weight row r, activation row t) for r < nr, t < nt (each ≤ 4).
/// `w` points at row 0 (rows `w_stride` bytes apart), `a` at token 0's quantized row (`a_stride`
/// bytes apart), `n_blocks` blocks per row.
pub const TileFn = *const fn (n_blocks: usize, w: [*]const u8, w_stride: usize, nr: usize, a: [*]const u8, a_stride: usize, nt: usize, out: [*]f32, out_stride: usize) callconv(.c) void;

pub const Kernels = struct {
    isa: []const u8,
    q4_0: TileFn,
    q8_0: TileFn,
    q4_k: TileFn,
    q6_k: TileFn,
};

pub const kernels = Kernels{
    .isa = isa,
    .q4_0 = tileFn(Q4_0),
    .q8_0 = tileFn(Q8_0),
    .q4_k = tileFn(Q4_K),
    .q6_k = tileFn(Q6_K),
};

pub const max_rows = 4;
pub const max_tokens = 4;

const U8x32 = @Vector(32, u8);
const I8x32 = @Vector(32, i8);
const I16x16 = @Vector(16, i16);
const I32x8 = @Vector(8, i32);
const F32x8 = @Vector(8, f32);

// ---- the integer primitive ----

/// acc[i] + Σ_{k<4} u[4i+k]·s[4i+k]. Callers keep u ≤ 128 and never pass s = -128 (Q8
/// activations are in [-127, 127]), so AVX2's i16 pair sums (≤ 2·128·127) never saturate; the
/// NEON sdot path is signed×signed and needs u ≤ 127 (nibbles; Q8_0 weights take sdot directly).
inline fn dot4(acc: I32x8, u: U8x32, s: I8x32) I32x8 {
    if (has_vnni) {
        return asm ("vpdpbusd %[s], %[u], %[acc]"
            : [acc] "=x" (-> I32x8),
            : [_] "0" (acc),
              [u] "x" (u),
              [s] "x" (s),
        );
    } else if (has_avx2) {
        const p16 = asm ("vpmaddubsw %[s], %[u], %[r]"
            : [r] "=x" (-> I16x16),
            : [u] "x" (u),
              [s] "x" (s),
        );
        return acc + pairsToI32(p16, @splat(1));
    } else if (has_sdot) {
        // sdot is signed×signed: u ≤ 127 holds for every caller, so reinterpreting is exact.
        return acc + @as(I32x8, @bitCast([2]@Vector(4, i32){
            sdot(@bitCast(@as([32]u8, u)[0..16].*), @bitCast(@as([32]i8, s)[0..16].*)),
            sdot(@bitCast(@as([32]u8, u)[16..32].*), @bitCast(@as([32]i8, s)[16..32].*)),
        }));
    } else {
        const p: @Vector(32, i16) = @as(@Vector(32, i16), u) * @as(@Vector(32, i16), s);
        const a2: @Vector(16, i32) = @as(@Vector(16, i32), @shuffle(i16, p, undefined, lanes16_0)) +
            @as(@Vector(16, i32), @shuffle(i16, p, undefined, lanes16_1));
        return acc + @shuffle(i32, a2, undefined, lanes8_0) + @shuffle(i32, a2, undefined, lanes8_1);
    }
}

inline fn sdot(a: @Vector(16, i8), b: @Vector(16, i8)) @Vector(4, i32) {
    return asm ("sdot %[r].4s, %[a].16b, %[b].16b"
        : [r] "=w" (-> @Vector(4, i32)),
        : [_] "0" (@as(@Vector(4, i32), @splat(0))),
          [a] "w" (a),
          [b] "w" (b),
    );
}

/// i32 lane i = p[2i]·m[2i] + p[2i+1]·m[2i+1] (pmaddwd on x86).
inline fn pairsToI32(p: I16x16, m: I16x16) I32x8 {
    if (has_avx2) {
        return asm ("vpmaddwd %[m], %[p], %[r]"
            : [r] "=x" (-> I32x8),
            : [p] "x" (p),
              [m] "x" (m),
        );
    }
    const w: @Vector(16, i32) = @as(@Vector(16, i32), p) * @as(@Vector(16, i32), m);
    return @shuffle(i32, w, undefined, lanes8_0) + @shuffle(i32, w, undefined, lanes8_1);
}

/// 16 i16 lanes: lane k = Σ of the two u8×i8 products 2k, 2k+1 (no saturation for u ≤ 63).
inline fn pairs16(u: U8x32, s: I8x32) I16x16 {
    if (has_avx2) {
        return asm ("vpmaddubsw %[s], %[u], %[r]"
            : [r] "=x" (-> I16x16),
            : [u] "x" (u),
              [s] "x" (s),
        );
    }
    const p: @Vector(32, i16) = @as(@Vector(32, i16), u) * @as(@Vector(32, i16), s);
    return @shuffle(i16, p, undefined, lanes16_0) + @shuffle(i16, p, undefined, lanes16_1);
}

/// Shuffle masks: the even (…_0) or odd (…_1) lanes of a vector twice as long.
const lanes16_0 = everyNth(16, 2, 0);
const lanes16_1 = everyNth(16, 2, 1);
const lanes8_0 = everyNth(8, 2, 0);
const lanes8_1 = everyNth(8, 2, 1);

fn everyNth(comptime n: usize, comptime step: usize, comptime off: usize) [n]i32 {
    @setEvalBranchQuota(10000);
    var m: [n]i32 = undefined;
    for (0..n) |i| m[i] = @intCast(step * i + off);
    return m;
}

inline fn nibbles32(qs: [16]u8) U8x32 {
    const v: @Vector(16, u8) = qs;
    const lo = v & @as(@Vector(16, u8), @splat(0x0F));
    const hi = v >> @splat(4);
    return std.simd.join(lo, hi);
}

inline fn f32x8(v: I32x8) F32x8 {
    return @floatFromInt(v);
}

// ---- per-type block kernels ----
//
// Each type defines: W (weight block), A (activation block), a per-token `Prep` computed once
// per activation block, a per-row `Unp` computed once per weight block, and `acc` that adds one
// (row, token) block product into an f32x8 accumulator.

/// Q4_0 × Q8_0: Σ d_w d_a (q_w - 8) q_a = d_w d_a (Σ q_w q_a - 8 Σ q_a). The -8 Σ q_a term is
/// computed once per token block (dot4 of 8s against q_a, the same lanes) and seeds the sum.
const Q4_0 = struct {
    const W = BlockQ4_0;
    const A = BlockQ8_0;
    const Prep = struct { q: I8x32, neg8: I32x8, d: f32 };
    const Unp = struct { u: U8x32, d: f32 };
    inline fn prep(a: *align(1) const A) Prep {
        const qv: I8x32 = a.qs;
        return .{ .q = qv, .neg8 = -dot4(@splat(0), @splat(8), qv), .d = a.d };
    }
    inline fn unpack(w: *align(1) const W) Unp {
        return .{ .u = nibbles32(w.qs), .d = w.d };
    }
    inline fn acc(sum: *F32x8, u: Unp, p: Prep) void {
        sum.* += f32x8(dot4(p.neg8, u.u, p.q)) * @as(F32x8, @splat(u.d * p.d));
    }
};

/// Q8_0 × Q8_0: dot4 needs an unsigned operand: |q_w| against sign(q_w)·q_a (|q_w| ≤ 128 and
/// pairs ≤ 2·128·127 fit AVX2's i16).
const Q8_0 = struct {
    const W = BlockQ8_0;
    const A = BlockQ8_0;
    const Prep = struct { q: I8x32, d: f32 };
    const Unp = struct { abs: U8x32, neg: @Vector(32, bool), d: f32 };
    inline fn prep(a: *align(1) const A) Prep {
        return .{ .q = a.qs, .d = a.d };
    }
    inline fn unpack(w: *align(1) const W) Unp {
        const qv: I8x32 = w.qs;
        return .{ .abs = @bitCast(@abs(qv)), .neg = qv < @as(I8x32, @splat(0)), .d = w.d };
    }
    inline fn acc(sum: *F32x8, u: Unp, p: Prep) void {
        if (has_sdot) {
            // sdot multiplies signed by signed: no sign transfer (and q_w = -128 stays exact).
            const qw: I8x32 = @select(i8, u.neg, -%@as(I8x32, @bitCast(u.abs)), @as(I8x32, @bitCast(u.abs)));
            const v: [32]i8 = qw;
            const av: [32]i8 = p.q;
            const s2: I32x8 = @bitCast([2]@Vector(4, i32){ sdot(v[0..16].*, av[0..16].*), sdot(v[16..32].*, av[16..32].*) });
            sum.* += f32x8(s2) * @as(F32x8, @splat(u.d * p.d));
            return;
        }
        // -(-128) wraps to -128 in i8; only when q_a = -128, which Q8_0 never stores (|q| ≤ 127).
        const s = @select(i8, u.neg, -%p.q, p.q);
        sum.* += f32x8(dot4(@splat(0), u.abs, s)) * @as(F32x8, @splat(u.d * p.d));
    }
};

/// Q4_K × Q8_K: per 32-group j, sc_j·Σ q_w q_a through i16 pair sums times the scale (pmaddwd),
/// minus dmin·Σ_j m_j·(bsum_2j + bsum_2j+1).
const Q4_K = struct {
    const W = BlockQ4_K;
    const A = BlockQ8_K;
    const Prep = struct { a: *align(1) const A, bs32: @Vector(8, i32) };
    const Unp = struct { w: *align(1) const W, sc: [8]I16x16, m: @Vector(8, i32), d: f32, dmin: f32 };
    inline fn prep(a: *align(1) const A) Prep {
        // The 32-group sums of the activations, from Q8_K's 16-sums.
        const bs: @Vector(16, i16) = a.bsums;
        return .{ .a = a, .bs32 = @as(@Vector(8, i32), @shuffle(i16, bs, undefined, lanes8_0)) +
            @as(@Vector(8, i32), @shuffle(i16, bs, undefined, lanes8_1)) };
    }
    inline fn unpack(w: *align(1) const W) Unp {
        var u: Unp = .{ .w = w, .sc = undefined, .m = undefined, .d = w.d, .dmin = w.dmin };
        inline for (0..8) |j| {
            const sm = scaleMinK4(j, &w.scales);
            u.sc[j] = @splat(sm.sc);
            u.m[j] = sm.m;
        }
        return u;
    }
    inline fn acc(sum: *F32x8, u: Unp, p: Prep) void {
        const a = p.a;
        var isum: I32x8 = @splat(0);
        inline for (0..4) |j| {
            const v: U8x32 = u.w.qs[32 * j ..][0..32].*;
            const lo = v & @as(U8x32, @splat(0x0F));
            const hi = v >> @splat(4);
            isum += pairsToI32(pairs16(lo, a.qs[64 * j ..][0..32].*), u.sc[2 * j]);
            isum += pairsToI32(pairs16(hi, a.qs[64 * j + 32 ..][0..32].*), u.sc[2 * j + 1]);
        }
        const mins: f32 = @floatFromInt(@reduce(.Add, p.bs32 * u.m));
        var first: F32x8 = @splat(0);
        first[0] = -u.dmin * a.d * mins;
        sum.* += f32x8(isum) * @as(F32x8, @splat(u.d * a.d)) + first;
    }
};

inline fn scaleMinK4(comptime j: usize, q: *align(1) const [12]u8) struct { sc: i16, m: i32 } {
    if (j < 4) return .{ .sc = q[j] & 63, .m = q[j + 4] & 63 };
    return .{
        .sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4),
        .m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4),
    };
}

/// Q6_K × Q8_K: q_w = (ql | qh << 4) - 32 with 16-element scales; the 6-bit values go through
/// pairs16 unsigned, the -32 through the activation's 16-sums: -32·Σ_k sc_k·bsum_k.
const Q6_K = struct {
    const W = BlockQ6_K;
    const A = BlockQ8_K;
    const Prep = *align(1) const A;
    /// The 256 values unpacked to 8 chunks of 32 (element order), and per chunk its two scales
    /// as 16 i16 lanes (8 of each).
    const Unp = struct { q: [8]U8x32, sc: [8]I16x16, sc16: @Vector(16, i32), d: f32 };
    inline fn prep(a: *align(1) const A) Prep {
        return a;
    }
    inline fn unpack(w: *align(1) const W) Unp {
        var u: Unp = .{ .q = undefined, .sc = undefined, .sc16 = undefined, .d = w.d };
        inline for (0..2) |h| {
            const l0: U8x32 = w.ql[64 * h ..][0..32].*;
            const l1: U8x32 = w.ql[64 * h + 32 ..][0..32].*;
            const qh: U8x32 = w.qh[32 * h ..][0..32].*;
            const m4: U8x32 = @splat(0x0F);
            const m2: U8x32 = @splat(3);
            u.q[4 * h + 0] = (l0 & m4) | ((qh & m2) << @splat(4));
            u.q[4 * h + 1] = (l1 & m4) | (((qh >> @splat(2)) & m2) << @splat(4));
            u.q[4 * h + 2] = (l0 >> @splat(4)) | (((qh >> @splat(4)) & m2) << @splat(4));
            u.q[4 * h + 3] = (l1 >> @splat(4)) | ((qh >> @splat(6)) << @splat(4));
        }
        inline for (0..8) |c| {
            var s: I16x16 = undefined;
            inline for (0..16) |k| s[k] = w.scales[2 * c + k / 8];
            u.sc[c] = s;
        }
        u.sc16 = @as(@Vector(16, i8), w.scales);
        return u;
    }
    inline fn acc(sum: *F32x8, u: Unp, a: Prep) void {
        var isum: I32x8 = @splat(0);
        inline for (0..8) |c| {
            isum += pairsToI32(pairs16(u.q[c], a.qs[32 * c ..][0..32].*), u.sc[c]);
        }
        const bs: @Vector(16, i32) = @as(@Vector(16, i16), a.bsums);
        const corr: f32 = @floatFromInt(@reduce(.Add, bs * u.sc16) * 32);
        var first: F32x8 = @splat(0);
        first[0] = -corr;
        sum.* += (f32x8(isum) + first) * @as(F32x8, @splat(u.d * a.d));
    }
};

// ---- the tile driver ----

fn tileFn(comptime K: type) TileFn {
    return &struct {
        fn run(n_blocks: usize, w: [*]const u8, w_stride: usize, nr: usize, a: [*]const u8, a_stride: usize, nt: usize, out: [*]f32, out_stride: usize) callconv(.c) void {
            @setEvalBranchQuota(100000); // the inline loops of 8 tile shapes unroll at compile time
            // Full 4-row tiles are the hot path; edge rows (n_out % 4) go one at a time.
            if (nr == max_rows) return switch (nt) {
                inline 1...max_tokens => |NT| tile(K, max_rows, NT, n_blocks, w, w_stride, a, a_stride, out, out_stride),
                else => unreachable,
            };
            for (0..nr) |r| switch (nt) {
                inline 1...max_tokens => |NT| tile(K, 1, NT, n_blocks, w + r * w_stride, w_stride, a, a_stride, out + r, out_stride),
                else => unreachable,
            };
        }
    }.run;
}

inline fn tile(comptime K: type, comptime NR: usize, comptime NT: usize, n_blocks: usize, w: [*]const u8, w_stride: usize, a: [*]const u8, a_stride: usize, out: [*]f32, out_stride: usize) void {
    var sums: [NR][NT]F32x8 = undefined;
    inline for (0..NR) |r| inline for (0..NT) |t| {
        sums[r][t] = @splat(0);
    };
    var wr: [NR][*]align(1) const K.W = undefined;
    inline for (0..NR) |r| wr[r] = @ptrCast(w + r * w_stride);
    var ar: [NT][*]align(1) const K.A = undefined;
    inline for (0..NT) |t| ar[t] = @ptrCast(a + t * a_stride);
    for (0..n_blocks) |b| {
        var preps: [NT]K.Prep = undefined;
        inline for (0..NT) |t| preps[t] = K.prep(&ar[t][b]);
        inline for (0..NR) |r| {
            const u = K.unpack(&wr[r][b]);
            inline for (0..NT) |t| K.acc(&sums[r][t], u, preps[t]);
        }
    }
    inline for (0..NR) |r| inline for (0..NT) |t| {
        out[t * out_stride + r] = @reduce(.Add, sums[r][t]);
    };
}
