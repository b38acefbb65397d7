//! Transformer ops on f32 activations, for the CPU backend.
//!
//! Conventions: tensors are plain row-major slices with explicit shape arguments; every op
//! checks its shapes and returns error.BadShape instead of panicking. Outputs may alias inputs
//! for the element-wise ops (same index read then written). Each op takes a `?*Pool`:
//! null runs single-threaded on the caller.
const std = @import("std");
const quant = @import("../quant/quant.zig");
const pool_mod = @import("pool.zig");
const params = @import("../params.zig");
const dispatch = @import("dispatch.zig");
pub const Pool = pool_mod.Pool;
pub const Range = pool_mod.Range;
const GgmlType = quant.GgmlType;

pub const Error = error{ BadShape, Unsupported };

/// A weight matrix as stored in GGUF: `n_rows` rows of `n_cols` elements of type `t`.
pub const QTensor = struct {
    t: GgmlType,
    data: []const u8,
    n_rows: usize,
    n_cols: usize,

    pub fn rowBytes(w: QTensor) ?usize {
        const rb = w.t.rowBytes(w.n_cols) orelse return null;
        return std.math.cast(usize, rb);
    }

    fn check(w: QTensor) Error!usize {
        const rb = w.rowBytes() orelse return error.BadShape;
        const total = std.math.mul(usize, rb, w.n_rows) catch return error.BadShape;
        if (w.data.len < total) return error.BadShape;
        return rb;
    }
};

// ---- matmul ----

/// Bytes of scratch that matmul needs for `n_tokens` activation rows against weights of type `t`.
pub fn matmulScratchBytes(t: GgmlType, n_in: usize, n_tokens: usize) Error!usize {
    const at = quant.vecDotType(t) orelse return error.Unsupported;
    if (at == .f32) return 0; // float weights dot the activations directly
    const rb = at.rowBytes(n_in) orelse return error.BadShape;
    return std.math.mul(usize, std.math.cast(usize, rb) orelse return error.BadShape, n_tokens) catch error.BadShape;
}

/// out[n_tokens × n_out] = x[n_tokens × n_in] · wᵀ, w = [n_out rows × n_in].
/// Activations are quantized once into `scratch` (matmulScratchBytes) to the weight type's
/// dot type, then every weight row is dotted against all tokens while it is in cache.
pub fn matmul(pool: ?*Pool, w: QTensor, x: []const f32, n_tokens: usize, out: []f32, scratch: []u8) Error!void {
    const n_in = w.n_cols;
    const n_out = w.n_rows;
    const row_bytes = try w.check();
    const dot_fn = quant.vecDotFn(w.t) orelse return error.Unsupported;
    const at = quant.vecDotType(w.t).?;
    if (x.len != n_tokens * n_in or out.len != n_tokens * n_out) return error.BadShape;
    const need = try matmulScratchBytes(w.t, n_in, n_tokens);
    if (scratch.len < need) return error.BadShape;

    var act: []const u8 = undefined;
    var act_row_bytes: usize = undefined;
    if (at == .f32) {
        act = std.mem.sliceAsBytes(x);
        act_row_bytes = n_in * 4;
    } else {
        act_row_bytes = @intCast(at.rowBytes(n_in).?);
        const QCtx = struct {
            at: GgmlType,
            x: []const f32,
            n_in: usize,
            dst: []u8,
            rb: usize,
            fn run(c: @This(), r: Range) void {
                for (r.begin..r.end) |t| {
                    // Lengths were checked above; quantizeRow cannot fail here.
                    quant.quantizeRow(c.at, c.x[t * c.n_in ..][0..c.n_in], c.dst[t * c.rb ..][0..c.rb]) catch unreachable;
                }
            }
        };
        pool_mod.parallelFor(pool, n_tokens, 1, QCtx{ .at = at, .x = x, .n_in = n_in, .dst = scratch, .rb = act_row_bytes }, QCtx.run);
        act = scratch[0..need];
    }

    if (dispatch.tileFor(dispatch.currentKernels(), w.t)) |tile_fn| {
        return matmulTiled(pool, tile_fn, w, row_bytes, act, act_row_bytes, n_tokens, out);
    }

    const MCtx = struct {
        dot_fn: quant.VecDotFn,
        w: []const u8,
        row_bytes: usize,
        act: []const u8,
        act_row_bytes: usize,
        n_in: usize,
        n_out: usize,
        n_tokens: usize,
        out: []f32,
        fn run(c: @This(), r: Range) void {
            for (r.begin..r.end) |o| {
                const wrow = c.w[o * c.row_bytes ..].ptr;
                for (0..c.n_tokens) |t| {
                    c.out[t * c.n_out + o] = c.dot_fn(c.n_in, wrow, c.act[t * c.act_row_bytes ..].ptr);
                }
            }
        }
    };
    // 16 rows per chunk at least: enough work to amortize the atomic and keep rows streaming.
    pool_mod.parallelFor(pool, n_out, 16, MCtx{
        .dot_fn = dot_fn,
        .w = w.data,
        .row_bytes = row_bytes,
        .act = act,
        .act_row_bytes = act_row_bytes,
        .n_in = n_in,
        .n_out = n_out,
        .n_tokens = n_tokens,
        .out = out,
    }, MCtx.run);
}

/// The micro-kernel path (core/cpu/kern.zig, the variant dispatch.zig chose): threads take
/// groups of max_rows weight rows; each group is dotted against all tokens max_tokens at a
/// time while its rows are in L1 (the quantized activations stay in L2).
fn matmulTiled(pool: ?*Pool, tile_fn: dispatch.TileFn, w: QTensor, row_bytes: usize, act: []const u8, act_row_bytes: usize, n_tokens: usize, out: []f32) void {
    const TR = dispatch.max_rows;
    const TT = dispatch.max_tokens;
    const n_out = w.n_rows;
    const Ctx = struct {
        tile_fn: dispatch.TileFn,
        w: [*]const u8,
        row_bytes: usize,
        n_blocks: usize,
        act: [*]const u8,
        act_row_bytes: usize,
        n_out: usize,
        n_tokens: usize,
        out: [*]f32,
        fn run(c: @This(), r: Range) void {
            for (r.begin..r.end) |g| {
                const r0 = g * TR;
                const nr = @min(TR, c.n_out - r0);
                var t0: usize = 0;
                while (t0 < c.n_tokens) : (t0 += TT) {
                    const nt = @min(TT, c.n_tokens - t0);
                    c.tile_fn(c.n_blocks, c.w + r0 * c.row_bytes, c.row_bytes, nr, c.act + t0 * c.act_row_bytes, c.act_row_bytes, nt, c.out + t0 * c.n_out + r0, c.n_out);
                }
            }
        }
    };
    const n_groups = std.math.divCeil(usize, n_out, TR) catch unreachable;
    const blk: usize = w.t.traits().?.block_elems;
    pool_mod.parallelFor(pool, n_groups, 2, Ctx{
        .tile_fn = tile_fn,
        .w = w.data.ptr,
        .row_bytes = row_bytes,
        .n_blocks = w.n_cols / blk,
        .act = act.ptr,
        .act_row_bytes = act_row_bytes,
        .n_out = n_out,
        .n_tokens = n_tokens,
        .out = out.ptr,
    }, Ctx.run);
}

// ---- embedding lookup ----

/// out[ids.len × w.n_cols] = rows `ids` of w, dequantized. An id out of range is BadShape.
pub fn getRows(w: QTensor, ids: []const u32, out: []f32) Error!void {
    const rb = try w.check();
    if (out.len != ids.len * w.n_cols) return error.BadShape;
    for (ids) |id| if (id >= w.n_rows) return error.BadShape;
    for (ids, 0..) |id, i| {
        quant.dequantizeRow(w.t, w.data[id * rb ..][0..rb], out[i * w.n_cols ..][0..w.n_cols]) catch |e| switch (e) {
            error.Unsupported => return error.Unsupported,
            error.BadLength => return error.BadShape,
        };
    }
}

// ---- norms ----

/// y = x / sqrt(mean(x²) + eps) [* weight], per row of n_embd. weight: null or n_embd.
pub fn rmsNorm(pool: ?*Pool, x: []const f32, weight: ?[]const f32, n_rows: usize, n_embd: usize, eps: f32, out: []f32) Error!void {
    if (x.len != n_rows * n_embd or out.len != x.len or n_embd == 0) return error.BadShape;
    if (weight) |wt| if (wt.len != n_embd) return error.BadShape;
    const Ctx = struct {
        x: []const f32,
        w: ?[]const f32,
        n: usize,
        eps: f32,
        out: []f32,
        fn run(c: @This(), r: Range) void {
            for (r.begin..r.end) |row| {
                const xr = c.x[row * c.n ..][0..c.n];
                const yr = c.out[row * c.n ..][0..c.n];
                // f64 sum as ggml (ggml_float) so long rows lose nothing.
                var sum: f64 = 0;
                for (xr) |v| sum += @as(f64, v) * v;
                const mean: f32 = @floatCast(sum / @as(f64, @floatFromInt(c.n)));
                const s = 1.0 / @sqrt(mean + c.eps);
                if (c.w) |wt| {
                    for (yr, xr, wt) |*y, v, g| y.* = v * s * g;
                } else for (yr, xr) |*y, v| {
                    y.* = v * s;
                }
            }
        }
    };
    pool_mod.parallelFor(pool, n_rows, 4, Ctx{ .x = x, .w = weight, .n = n_embd, .eps = eps, .out = out }, Ctx.run);
}

/// y = (x - mean) / sqrt(var + eps) [* weight] [+ bias], per row of n_embd.
pub fn layerNorm(pool: ?*Pool, x: []const f32, weight: ?[]const f32, bias: ?[]const f32, n_rows: usize, n_embd: usize, eps: f32, out: []f32) Error!void {
    if (x.len != n_rows * n_embd or out.len != x.len or n_embd == 0) return error.BadShape;
    if (weight) |wt| if (wt.len != n_embd) return error.BadShape;
    if (bias) |b| if (b.len != n_embd) return error.BadShape;
    const Ctx = struct {
        x: []const f32,
        w: ?[]const f32,
        b: ?[]const f32,
        n: usize,
        eps: f32,
        out: []f32,
        fn run(c: @This(), r: Range) void {
            const nf: f64 = @floatFromInt(c.n);
            for (r.begin..r.end) |row| {
                const xr = c.x[row * c.n ..][0..c.n];
                const yr = c.out[row * c.n ..][0..c.n];
                var sum: f64 = 0;
                for (xr) |v| sum += v;
                const mean: f32 = @floatCast(sum / nf);
                var sum2: f64 = 0;
                for (xr) |v| sum2 += @as(f64, v - mean) * (v - mean);
                const s = 1.0 / @sqrt(@as(f32, @floatCast(sum2 / nf)) + c.eps);
                for (yr, xr, 0..) |*y, v, i| {
                    var t = (v - mean) * s;
                    if (c.w) |wt| t *= wt[i];
                    if (c.b) |b| t += b[i];
                    y.* = t;
                }
            }
        }
    };
    pool_mod.parallelFor(pool, n_rows, 4, Ctx{ .x = x, .w = weight, .b = bias, .n = n_embd, .eps = eps, .out = out }, Ctx.run);
}

// ---- element-wise ----

const BinOp = enum { add, mul };

/// `b` is either the full [n_rows × n_cols] or one row of n_cols broadcast to every row.
fn binary(comptime op: BinOp, pool: ?*Pool, a: []const f32, b: []const f32, n_rows: usize, n_cols: usize, out: []f32) Error!void {
    if (a.len != n_rows * n_cols or out.len != a.len) return error.BadShape;
    if (b.len != a.len and b.len != n_cols) return error.BadShape;
    const Ctx = struct {
        a: []const f32,
        b: []const f32,
        n_cols: usize,
        out: []f32,
        fn run(c: @This(), r: Range) void {
            for (r.begin..r.end) |row| {
                const ar = c.a[row * c.n_cols ..][0..c.n_cols];
                const br = if (c.b.len == c.n_cols) c.b else c.b[row * c.n_cols ..][0..c.n_cols];
                const yr = c.out[row * c.n_cols ..][0..c.n_cols];
                for (yr, ar, br) |*y, u, v| y.* = switch (op) {
                    .add => u + v,
                    .mul => u * v,
                };
            }
        }
    };
    pool_mod.parallelFor(pool, n_rows, rowGrain(n_cols), Ctx{ .a = a, .b = b, .n_cols = n_cols, .out = out }, Ctx.run);
}

/// Rows per chunk so that a chunk is ~16k elements: element-wise ops are memory bound and
/// cheap, so small tensors run on the caller alone.
fn rowGrain(n_cols: usize) usize {
    return @max(1, 16384 / @max(1, n_cols));
}

pub fn add(pool: ?*Pool, a: []const f32, b: []const f32, n_rows: usize, n_cols: usize, out: []f32) Error!void {
    return binary(.add, pool, a, b, n_rows, n_cols, out);
}
pub fn mul(pool: ?*Pool, a: []const f32, b: []const f32, n_rows: usize, n_cols: usize, out: []f32) Error!void {
    return binary(.mul, pool, a, b, n_rows, n_cols, out);
}

const UnOp = enum { silu, gelu };

fn unary(comptime op: UnOp, pool: ?*Pool, x: []const f32, out: []f32) Error!void {
    if (out.len != x.len) return error.BadShape;
    const Ctx = struct {
        x: []const f32,
        out: []f32,
        fn run(c: @This(), r: Range) void {
            for (c.out[r.begin..r.end], c.x[r.begin..r.end]) |*y, v| y.* = switch (op) {
                .silu => silu1(v),
                .gelu => gelu1(v),
            };
        }
    };
    pool_mod.parallelFor(pool, x.len, 4096, Ctx{ .x = x, .out = out }, Ctx.run);
}

pub inline fn silu1(x: f32) f32 {
    return x / (1.0 + @exp(-x));
}

const SQRT_2_OVER_PI: f32 = 0.79788456080286535587989211986876;
const GELU_COEF_A: f32 = 0.044715;

/// ggml's tanh-form GELU: 0.5x(1 + tanh(sqrt(2/pi) x (1 + 0.044715x²))).
pub inline fn gelu1(x: f32) f32 {
    return 0.5 * x * (1.0 + std.math.tanh(SQRT_2_OVER_PI * x * (1.0 + GELU_COEF_A * x * x)));
}

pub fn silu(pool: ?*Pool, x: []const f32, out: []f32) Error!void {
    return unary(.silu, pool, x, out);
}
pub fn gelu(pool: ?*Pool, x: []const f32, out: []f32) Error!void {
    return unary(.gelu, pool, x, out);
}

/// out = silu(gate) * up, element-wise (the LLaMA FFN's gate).
pub fn swiglu(pool: ?*Pool, gate: []const f32, up: []const f32, out: []f32) Error!void {
    if (up.len != gate.len or out.len != gate.len) return error.BadShape;
    const Ctx = struct {
        g: []const f32,
        u: []const f32,
        out: []f32,
        fn run(c: @This(), r: Range) void {
            for (c.out[r.begin..r.end], c.g[r.begin..r.end], c.u[r.begin..r.end]) |*y, g, u| y.* = silu1(g) * u;
        }
    };
    pool_mod.parallelFor(pool, gate.len, 4096, Ctx{ .g = gate, .u = up, .out = out }, Ctx.run);
}

pub fn scale(pool: ?*Pool, x: []const f32, s: f32, out: []f32) Error!void {
    if (out.len != x.len) return error.BadShape;
    const Ctx = struct {
        x: []const f32,
        s: f32,
        out: []f32,
        fn run(c: @This(), r: Range) void {
            for (c.out[r.begin..r.end], c.x[r.begin..r.end]) |*y, v| y.* = v * c.s;
        }
    };
    pool_mod.parallelFor(pool, x.len, 8192, Ctx{ .x = x, .s = s, .out = out }, Ctx.run);
}

// ---- softmax ----

/// Causal masking for softmax: row i is the query at position pos0 + i and sees columns
/// (key positions) 0..pos0+i; later columns get probability 0.
pub const Causal = struct { pos0: usize };

/// In place, per row of n_cols: x = softmax(x * scale), optionally causal-masked.
pub fn softmax(pool: ?*Pool, x: []f32, n_rows: usize, n_cols: usize, scale_by: f32, causal: ?Causal) Error!void {
    if (x.len != n_rows * n_cols or n_cols == 0) return error.BadShape;
    const Ctx = struct {
        x: []f32,
        n_cols: usize,
        s: f32,
        causal: ?Causal,
        fn run(c: @This(), r: Range) void {
            for (r.begin..r.end) |row| {
                const xr = c.x[row * c.n_cols ..][0..c.n_cols];
                const n_valid = if (c.causal) |cm| @min(c.n_cols, cm.pos0 + row + 1) else c.n_cols;
                softmaxRow(xr[0..n_valid], c.s);
                @memset(xr[n_valid..], 0);
            }
        }
    };
    pool_mod.parallelFor(pool, n_rows, 4, Ctx{ .x = x, .n_cols = n_cols, .s = scale_by, .causal = causal }, Ctx.run);
}

fn softmaxRow(xr: []f32, s: f32) void {
    var max: f32 = -std.math.inf(f32);
    for (xr) |v| max = @max(max, v * s);
    var sum: f64 = 0;
    for (xr) |*v| {
        const e = @exp(v.* * s - max);
        v.* = e;
        sum += e;
    }
    const inv: f32 = @floatCast(1.0 / sum);
    for (xr) |*v| v.* *= inv;
}

// ---- conversions ----

pub fn f32ToF16(src: []const f32, dst: []f16) Error!void {
    if (src.len != dst.len) return error.BadShape;
    for (dst, src) |*d, s| d.* = @floatCast(s);
}
pub fn f16ToF32(src: []const f16, dst: []f32) Error!void {
    if (src.len != dst.len) return error.BadShape;
    for (dst, src) |*d, s| d.* = s;
}

// ---- RoPE ----

pub const RopeMode = params.RopeMode;
pub const RopeParams = params.Rope;

/// In place on x[n_tokens × n_head × head_dim]; token t is at position pos[t].
/// theta_i = pos * freq_scale * base^(-2i/n_rot), computed as ggml does (iterated product in f32).
pub fn rope(pool: ?*Pool, x: []f32, n_tokens: usize, n_head: usize, head_dim: usize, pos: []const i32, p: RopeParams) Error!void {
    if (x.len != n_tokens * n_head * head_dim or pos.len != n_tokens) return error.BadShape;
    if (p.n_rot > head_dim or p.n_rot % 2 != 0 or p.n_rot == 0) return error.BadShape;
    if (p.n_rot > max_head_dim) return error.BadShape;
    const Ctx = struct {
        x: []f32,
        n_head: usize,
        head_dim: usize,
        pos: []const i32,
        p: RopeParams,
        fn run(c: @This(), r: Range) void {
            const n_rot = c.p.n_rot;
            const theta_scale = std.math.pow(f32, c.p.freq_base, -2.0 / @as(f32, @floatFromInt(n_rot)));
            var cos_sin: [max_head_dim]f32 = undefined; // cos at 2i, sin at 2i+1
            for (r.begin..r.end) |t| {
                var theta: f32 = @floatFromInt(c.pos[t]);
                var k_dim: usize = 0;
                while (k_dim < n_rot) : (k_dim += 2) {
                    const th = c.p.freq_scale * theta;
                    cos_sin[k_dim] = @cos(th);
                    cos_sin[k_dim + 1] = @sin(th);
                    theta *= theta_scale;
                }
                for (0..c.n_head) |h| {
                    const v = c.x[(t * c.n_head + h) * c.head_dim ..][0..c.head_dim];
                    k_dim = 0;
                    while (k_dim < n_rot) : (k_dim += 2) {
                        const cs = cos_sin[k_dim];
                        const sn = cos_sin[k_dim + 1];
                        const ia = if (c.p.mode == .normal) k_dim else k_dim / 2;
                        const ib = if (c.p.mode == .normal) k_dim + 1 else k_dim / 2 + n_rot / 2;
                        const x0 = v[ia];
                        const x1 = v[ib];
                        v[ia] = x0 * cs - x1 * sn;
                        v[ib] = x0 * sn + x1 * cs;
                    }
                }
            }
        }
    };
    pool_mod.parallelFor(pool, n_tokens, 1, Ctx{ .x = x, .n_head = n_head, .head_dim = head_dim, .pos = pos, .p = p }, Ctx.run);
}

// ---- attention ----

/// Largest head_dim attention and rope support (per-thread stack accumulators).
pub const max_head_dim = params.max_head_dim;

/// A KV cache: [n_ctx × n_head_kv × head_dim] in F32 or F16.
pub const KvView = union(enum) {
    f32: []const f32,
    f16: []const f16,

    fn len(kv: KvView) usize {
        return switch (kv) {
            inline else => |s| s.len,
        };
    }
};

pub const AttentionParams = params.Attention;
pub const AttentionStep = params.AttentionStep;

/// The attention shape and step in one, as the kernel loop reads them.
pub const Attn = struct {
    n_tokens: usize,
    n_head: usize,
    n_head_kv: usize,
    head_dim: usize,
    pos0: usize,
    n_ctx: usize,
    scale: ?f32,
};

/// out[t, h, :] = Σ_j softmax_j(q[t,h]·k[j,h/g] * scale) v[j,h/g], j ≤ pos0+t, g = n_head/n_head_kv.
/// q and out: [n_tokens × n_head × head_dim]. One pass with online softmax (running max and
/// sum, rescaling the accumulator when the max grows), so any context length is stable.
pub fn attention(pool: ?*Pool, q: []const f32, k: KvView, v: KvView, shape: AttentionParams, step: AttentionStep, out: []f32) Error!void {
    const p = Attn{ .n_tokens = step.n_tokens, .n_head = shape.n_head, .n_head_kv = shape.n_head_kv, .head_dim = shape.head_dim, .pos0 = step.pos0, .n_ctx = step.n_ctx, .scale = shape.scale };
    const hd = p.head_dim;
    if (hd == 0 or hd > max_head_dim or p.n_head_kv == 0 or p.n_head % p.n_head_kv != 0) return error.BadShape;
    if (q.len != p.n_tokens * p.n_head * hd or out.len != q.len) return error.BadShape;
    if (p.pos0 + p.n_tokens > p.n_ctx) return error.BadShape;
    const kv_len = p.n_ctx * p.n_head_kv * hd;
    if (k.len() < kv_len or v.len() < kv_len) return error.BadShape;
    const Ctx = struct {
        q: []const f32,
        k: KvView,
        v: KvView,
        p: Attn,
        s: f32,
        out: []f32,
        fn run(c: @This(), r: Range) void {
            const d = c.p.head_dim;
            const group = c.p.n_head / c.p.n_head_kv;
            var acc_buf: [max_head_dim]f32 = undefined;
            for (r.begin..r.end) |item| {
                const t = item / c.p.n_head;
                const h = item % c.p.n_head;
                const hk = h / group;
                const qv = c.q[item * d ..][0..d];
                const acc = acc_buf[0..d];
                @memset(acc, 0);
                var m: f32 = -std.math.inf(f32);
                var l: f32 = 0;
                const n_kv = c.p.pos0 + t + 1;
                for (0..n_kv) |j| {
                    const off = (j * c.p.n_head_kv + hk) * d;
                    const score = switch (c.k) {
                        inline else => |ks| dotRow(qv, ks[off..][0..d]),
                    } * c.s;
                    if (score > m) {
                        // Rescale what was accumulated under the old max.
                        const corr = @exp(m - score);
                        l *= corr;
                        for (acc) |*a| a.* *= corr;
                        m = score;
                    }
                    const e = @exp(score - m);
                    l += e;
                    switch (c.v) {
                        inline else => |vs| axpy(acc, e, vs[off..][0..d]),
                    }
                }
                const inv = 1.0 / l;
                for (c.out[item * d ..][0..d], acc) |*o, a| o.* = a * inv;
            }
        }
    };
    const s = p.scale orelse 1.0 / @sqrt(@as(f32, @floatFromInt(hd)));
    pool_mod.parallelFor(pool, p.n_tokens * p.n_head, 1, Ctx{ .q = q, .k = k, .v = v, .p = p, .s = s, .out = out }, Ctx.run);
}

inline fn dotRow(a: []const f32, b: anytype) f32 {
    const T = @typeInfo(@TypeOf(b)).pointer.child;
    const V = 8;
    var acc: @Vector(V, f32) = @splat(0);
    var i: usize = 0;
    while (i + V <= a.len) : (i += V) {
        const bv: @Vector(V, T) = b[i..][0..V].*;
        const bf: @Vector(V, f32) = if (T == f32) bv else @floatCast(bv);
        acc += @as(@Vector(V, f32), a[i..][0..V].*) * bf;
    }
    var s = @reduce(.Add, acc);
    while (i < a.len) : (i += 1) s += a[i] * @as(f32, b[i]);
    return s;
}

inline fn axpy(acc: []f32, e: f32, b: anytype) void {
    for (acc, b) |*a, x| a.* += e * @as(f32, x);
}

test {
    _ = @import("ops_test.zig");
}
