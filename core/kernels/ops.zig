//! GPU ops other than the weight matrix products: norms, element-wise ops, softmax, copies,
//! RoPE, the KV-cache store and attention fused over the KV cache. Same semantics and layouts
//! as core/cpu/ops.zig, so a graph can run any node on either backend.
//!
//! Every function records dispatches into `seq` (never submits, never inserts barriers: put
//! `seq.barrier()` between an op and the next one that reads its output), checks shapes and
//! types and returns error.BadShape / error.Unsupported instead of panicking.
//! Activations are f32 Views; outputs may alias inputs for the element-wise and row ops.
//! Ops that depend on the step (rope, kvStore, causal softmax, attention) read pos / n_tokens
//! from `k.params` (StepParams), so a recorded sequence is replayed with `k.setParams` only;
//! they may be recorded for the largest n_tokens and skip rows ≥ StepParams.n_tokens.
//!
//! Variant choice (from the device report, logged at debug level):
//!  - rows (rms_norm, norm, softmax, attention): `_sg` (subgroup arithmetic reductions) when
//!    report.hasSubgroupArithmetic(), else shared-memory tree reductions (V3DV).
//!  - workgroup: a power of two ≤ min(256, report.maxWorkgroup1D()); shared memory ≤ 6 KiB.
const std = @import("std");
const vk = @import("../vk/vk.zig");
const kernels = @import("kernels.zig");
const params = @import("../params.zig");

pub const View = kernels.View;
pub const Kernels = kernels.Kernels;
pub const RopeParams = params.Rope;
pub const RopeMode = params.RopeMode;
pub const AttentionParams = params.Attention;

pub const Error = vk.Error || error{BadShape};

/// Largest workgroup any op here asks for (shaders/reduce.glsl WG_MAX).
const wg_max: u32 = 256;

/// Power-of-two workgroup ≤ min(want, 256, device limit), at least 1.
fn localPow2(k: *const Kernels, want: u32) u32 {
    const cap = k.local1D(@min(want, wg_max));
    return std.math.floorPowerOfTwo(u32, @max(cap, 1));
}

/// Workgroup size for a one-workgroup-per-row kernel over rows of n_cols.
fn rowLocal(k: *const Kernels, n_cols: u64) u32 {
    const want: u32 = @intCast(std.math.ceilPowerOfTwo(u64, @max(@min(n_cols, wg_max), 32)) catch wg_max);
    return localPow2(k, want);
}

fn useSubgroup(k: *const Kernels) bool {
    return k.ctx.report.hasSubgroupArithmetic();
}

fn pipe(k: *Kernels, name: vk.Shader, n_buffers: u32, push_bytes: u32, local: u32) Error!*const vk.Pipeline {
    return k.ctx.pipelines.get(.{ .shader = name, .n_buffers = n_buffers, .push_bytes = push_bytes, .spec = &.{local} });
}

fn u32of(v: u64) Error!u32 {
    return std.math.cast(u32, v) orelse error.BadShape;
}

fn expectF32(v: View) Error!void {
    if (v.type != .f32) return error.BadShape;
}

fn sameShape(a: View, b: View) bool {
    return a.nElements() == b.nElements() and a.ne[0] == b.ne[0];
}

fn checkRange(k: *const Kernels, v: View) Error!void {
    if (v.chunk >= v.buf.chunks.len) return error.BadShape;
    const ch = v.buf.chunks[v.chunk];
    if (v.offset + v.nBytes() > std.mem.alignForward(u64, ch.size_bytes, 4)) return error.BadShape;
    if (v.offset % @max(k.ctx.report.min_storage_buffer_offset_alignment, 4) != 0) return error.BadShape;
}

// ---- norms ----

const NormPush = extern struct { n_cols: u32, n_rows: u32, has_weight: u32, eps: f32 };
const LayerNormPush = extern struct { n_cols: u32, n_rows: u32, has_weight: u32, has_bias: u32, eps: f32 };
comptime {
    std.debug.assert(@sizeOf(NormPush) == 16 and @sizeOf(LayerNormPush) == 20);
}

/// y = x / sqrt(mean(x²) + eps) [* weight] per row: x, out [n_rows × n_embd] f32, weight null
/// or n_embd f32 (cpu_ops.rmsNorm). One workgroup per row.
pub fn rmsNorm(k: *Kernels, seq: *vk.Sequence, x: View, weight: ?View, eps: f32, out: View) Error!void {
    try expectF32(x);
    try expectF32(out);
    if (!sameShape(x, out) or x.ne[0] == 0) return error.BadShape;
    try checkRange(k, x);
    try checkRange(k, out);
    if (weight) |w| {
        try expectF32(w);
        if (w.nElements() != x.ne[0]) return error.BadShape;
        try checkRange(k, w);
    }
    const n_rows = x.nRows();
    const local = rowLocal(k, x.ne[0]);
    const name: vk.Shader = if (useSubgroup(k)) .rms_norm_f32_sg else .rms_norm_f32;
    k.ctx.log.debug("ops: rms_norm {d}x{d}: {s}, workgroup {d}", .{ n_rows, x.ne[0], @tagName(name), local });
    const pl = try pipe(k, name, 3, @sizeOf(NormPush), local);
    const push = NormPush{ .n_cols = try u32of(x.ne[0]), .n_rows = try u32of(n_rows), .has_weight = @intFromBool(weight != null), .eps = eps };
    const wb = (weight orelse x).binding();
    try seq.dispatch(pl, &.{ x.binding(), wb, out.binding() }, std.mem.asBytes(&push), vk.grid1D(&k.ctx.report, n_rows, 1));
}

/// y = (x - mean) / sqrt(var + eps) [* weight] [+ bias] per row (cpu_ops.layerNorm); weight and
/// bias null or n_embd f32.
pub fn layerNorm(k: *Kernels, seq: *vk.Sequence, x: View, weight: ?View, bias: ?View, eps: f32, out: View) Error!void {
    try expectF32(x);
    try expectF32(out);
    if (!sameShape(x, out) or x.ne[0] == 0) return error.BadShape;
    try checkRange(k, x);
    try checkRange(k, out);
    for ([_]?View{ weight, bias }) |ov| if (ov) |v| {
        try expectF32(v);
        if (v.nElements() != x.ne[0]) return error.BadShape;
        try checkRange(k, v);
    };
    const n_rows = x.nRows();
    const local = rowLocal(k, x.ne[0]);
    const name: vk.Shader = if (useSubgroup(k)) .norm_f32_sg else .norm_f32;
    k.ctx.log.debug("ops: layer_norm {d}x{d}: {s}, workgroup {d}", .{ n_rows, x.ne[0], @tagName(name), local });
    const pl = try pipe(k, name, 4, @sizeOf(LayerNormPush), local);
    const push = LayerNormPush{
        .n_cols = try u32of(x.ne[0]),
        .n_rows = try u32of(n_rows),
        .has_weight = @intFromBool(weight != null),
        .has_bias = @intFromBool(bias != null),
        .eps = eps,
    };
    try seq.dispatch(pl, &.{ x.binding(), (weight orelse x).binding(), (bias orelse x).binding(), out.binding() }, std.mem.asBytes(&push), vk.grid1D(&k.ctx.report, n_rows, 1));
}

// ---- element-wise ----

const BinaryPush = extern struct { n: u32, n_b: u32, grid_x: u32 };
const UnaryPush = extern struct { n: u32, grid_x: u32, s: f32 };
comptime {
    std.debug.assert(@sizeOf(BinaryPush) == 12 and @sizeOf(UnaryPush) == 12);
}

fn binary(k: *Kernels, seq: *vk.Sequence, name: vk.Shader, a: View, b: View, out: View, allow_broadcast: bool) Error!void {
    try expectF32(a);
    try expectF32(b);
    try expectF32(out);
    const n = a.nElements();
    if (out.nElements() != n or n == 0) return error.BadShape;
    const n_b = b.nElements();
    if (n_b != n and !(allow_broadcast and n_b == a.ne[0])) return error.BadShape;
    try checkRange(k, a);
    try checkRange(k, b);
    try checkRange(k, out);
    const local = localPow2(k, 256);
    const pl = try pipe(k, name, 3, @sizeOf(BinaryPush), local);
    const groups = vk.grid1D(&k.ctx.report, n, local);
    const push = BinaryPush{ .n = try u32of(n), .n_b = try u32of(n_b), .grid_x = groups[0] * local };
    try seq.dispatch(pl, &.{ a.binding(), b.binding(), out.binding() }, std.mem.asBytes(&push), groups);
}

/// out = a + b; b is the same shape as a or one row of a.ne[0] broadcast to every row.
pub fn add(k: *Kernels, seq: *vk.Sequence, a: View, b: View, out: View) Error!void {
    return binary(k, seq, .add_f32, a, b, out, true);
}

/// out = a * b; b is the same shape as a or one row of a.ne[0] broadcast to every row.
pub fn mul(k: *Kernels, seq: *vk.Sequence, a: View, b: View, out: View) Error!void {
    return binary(k, seq, .mul_f32, a, b, out, true);
}

/// out = silu(gate) * up, element-wise; all three the same number of elements.
pub fn swiglu(k: *Kernels, seq: *vk.Sequence, gate: View, up: View, out: View) Error!void {
    return binary(k, seq, .swiglu_f32, gate, up, out, false);
}

fn unary(k: *Kernels, seq: *vk.Sequence, name: vk.Shader, x: View, s: f32, out: View) Error!void {
    try expectF32(x);
    try expectF32(out);
    const n = x.nElements();
    if (out.nElements() != n or n == 0) return error.BadShape;
    try checkRange(k, x);
    try checkRange(k, out);
    const local = localPow2(k, 256);
    const pl = try pipe(k, name, 2, @sizeOf(UnaryPush), local);
    const groups = vk.grid1D(&k.ctx.report, n, local);
    const push = UnaryPush{ .n = try u32of(n), .grid_x = groups[0] * local, .s = s };
    try seq.dispatch(pl, &.{ x.binding(), out.binding() }, std.mem.asBytes(&push), groups);
}

/// out = x * s.
pub fn scale(k: *Kernels, seq: *vk.Sequence, x: View, s: f32, out: View) Error!void {
    return unary(k, seq, .scale_f32, x, s, out);
}

/// out = x / (1 + e^-x).
pub fn silu(k: *Kernels, seq: *vk.Sequence, x: View, out: View) Error!void {
    return unary(k, seq, .silu_f32, x, 0, out);
}

/// out = ggml's tanh-form GELU of x.
pub fn gelu(k: *Kernels, seq: *vk.Sequence, x: View, out: View) Error!void {
    return unary(k, seq, .gelu_f32, x, 0, out);
}

// ---- softmax ----

const SoftmaxPush = extern struct { n_cols: u32, n_rows: u32, scale: f32, causal: u32, row_period: u32, row_div: u32 };
comptime {
    std.debug.assert(@sizeOf(SoftmaxPush) == 24);
}

pub const SoftmaxOptions = struct {
    /// Inputs are multiplied by this before the softmax.
    scale: f32 = 1.0,
    /// Causal mask: row r is the query at StepParams.pos + (r % rows_per_period) and sees
    /// columns 0..that position; later columns come out 0 (cpu_ops.softmax with Causal{pos0}).
    causal: bool = false,
    /// Rows before the positions repeat (n_tokens for [n_head × n_tokens × n_kv] scores);
    /// 0 = all rows (the CPU reference's semantics).
    rows_per_period: u32 = 0,
    /// Consecutive rows that share one query position: the rows of one token when they are
    /// grouped per token (a graph's [n_kv, n_head, T] scores: n_head). Row r is then the query
    /// at StepParams.pos + (r / rows_per_token) % rows_per_period. 0 or 1 = one row per position.
    rows_per_token: u32 = 1,
};

/// out = softmax(x * scale) per row of x.ne[0] (out may be x).
pub fn softmax(k: *Kernels, seq: *vk.Sequence, x: View, opts: SoftmaxOptions, out: View) Error!void {
    try expectF32(x);
    try expectF32(out);
    if (!sameShape(x, out) or x.ne[0] == 0) return error.BadShape;
    try checkRange(k, x);
    try checkRange(k, out);
    const n_rows = try u32of(x.nRows());
    const local = rowLocal(k, x.ne[0]);
    const name: vk.Shader = if (useSubgroup(k)) .softmax_f32_sg else .softmax_f32;
    k.ctx.log.debug("ops: softmax {d}x{d}: {s}, workgroup {d}", .{ n_rows, x.ne[0], @tagName(name), local });
    const pl = try pipe(k, name, 3, @sizeOf(SoftmaxPush), local);
    const push = SoftmaxPush{
        .n_cols = try u32of(x.ne[0]),
        .n_rows = n_rows,
        .scale = opts.scale,
        .causal = @intFromBool(opts.causal),
        .row_period = if (opts.rows_per_period == 0) n_rows else opts.rows_per_period,
        .row_div = @max(opts.rows_per_token, 1),
    };
    try seq.dispatch(pl, &.{ k.paramsBinding(), x.binding(), out.binding() }, std.mem.asBytes(&push), vk.grid1D(&k.ctx.report, n_rows, 1));
}

// ---- per-step rows ----

const StepRowsPush = extern struct { n: u32, grid_x: u32 };

/// out [ne0] = row StepParams.n_tokens - 1 of x [rows × ne0] (the last token of the step; x is
/// recorded for the most tokens a step may have).
pub fn lastRow(k: *Kernels, seq: *vk.Sequence, x: View, out: View) Error!void {
    try expectF32(x);
    try expectF32(out);
    if (out.nElements() != x.ne[0] or x.ne[0] == 0) return error.BadShape;
    try checkRange(k, x);
    try checkRange(k, out);
    const local = localPow2(k, 256);
    const pl = try pipe(k, .last_row_f32, 3, @sizeOf(StepRowsPush), local);
    const groups = vk.grid1D(&k.ctx.report, x.ne[0], local);
    const push = StepRowsPush{ .n = try u32of(x.ne[0]), .grid_x = groups[0] * local };
    try seq.dispatch(pl, &.{ k.paramsBinding(), x.binding(), out.binding() }, std.mem.asBytes(&push), groups);
}

/// out (i32 [n]) = StepParams.pos + i: position ids of the step's tokens (learned position
/// embeddings). All n rows are written; rows ≥ StepParams.n_tokens are not meaningful.
pub fn positions(k: *Kernels, seq: *vk.Sequence, out: View) Error!void {
    if (out.type != .i32) return error.BadShape;
    try checkRange(k, out);
    const n = out.nElements();
    if (n == 0) return error.BadShape;
    const local = localPow2(k, 256);
    const pl = try pipe(k, .positions_i32, 2, @sizeOf(StepRowsPush), local);
    const groups = vk.grid1D(&k.ctx.report, n, local);
    const push = StepRowsPush{ .n = try u32of(n), .grid_x = groups[0] * local };
    try seq.dispatch(pl, &.{ k.paramsBinding(), out.binding() }, std.mem.asBytes(&push), groups);
}

// ---- copies ----

const CpyPush = extern struct { n: u32, grid_x: u32 };

/// dst = src converted: F32 -> F16, F16 -> F32 or F32 -> F32 (same element count). F16 is
/// rounded by packHalf2x16 (round-to-nearest on every tested driver; the spec allows either
/// rounding, so allow 1 ulp against cpu_ops.f32ToF16).
pub fn cpy(k: *Kernels, seq: *vk.Sequence, src: View, dst: View) Error!void {
    const n = src.nElements();
    if (dst.nElements() != n or n == 0) return error.BadShape;
    const name: vk.Shader = if (src.type == .f32 and dst.type == .f16)
        .cpy_f32_f16
    else if (src.type == .f16 and dst.type == .f32)
        .cpy_f16_f32
    else if (src.type == .f32 and dst.type == .f32)
        .cpy_f32_f32
    else
        return error.Unsupported;
    try checkRange(k, src);
    try checkRange(k, dst);
    const per_inv: u64 = if (src.type == .f16 or dst.type == .f16) 2 else 1;
    const local = localPow2(k, 256);
    const pl = try pipe(k, name, 2, @sizeOf(CpyPush), local);
    const groups = vk.grid1D(&k.ctx.report, (n + per_inv - 1) / per_inv, local);
    const push = CpyPush{ .n = try u32of(n), .grid_x = groups[0] * local };
    try seq.dispatch(pl, &.{ src.binding(), dst.binding() }, std.mem.asBytes(&push), groups);
}

// ---- RoPE ----

const RopePush = extern struct {
    n_tokens: u32,
    n_head: u32,
    head_dim: u32,
    n_rot: u32,
    mode: u32,
    theta_scale: f32,
    freq_scale: f32,
    grid_x: u32,
};
comptime {
    std.debug.assert(@sizeOf(RopePush) == 32);
}

/// RoPE of x [n_tokens × n_head × head_dim] f32 into out (may be x); token t is at position
/// StepParams.pos + t (cpu_ops.rope with pos[t] = pos + t). n_tokens = elements / (n_head ×
/// head_dim) is the most a step may use; rows ≥ StepParams.n_tokens are left alone.
/// p.n_rot even, ≤ head_dim (Phi's partial rotary passes dims ≥ n_rot through).
pub fn rope(k: *Kernels, seq: *vk.Sequence, x: View, n_head: u32, head_dim: u32, p: RopeParams, out: View) Error!void {
    try expectF32(x);
    try expectF32(out);
    if (n_head == 0 or head_dim == 0 or p.n_rot == 0 or p.n_rot % 2 != 0 or p.n_rot > head_dim) return error.BadShape;
    const per_tok = @as(u64, n_head) * head_dim;
    const n = x.nElements();
    if (n % per_tok != 0 or n == 0 or out.nElements() != n) return error.BadShape;
    try checkRange(k, x);
    try checkRange(k, out);
    const n_tokens = n / per_tok;
    const n_rot: u32 = @intCast(p.n_rot);
    const local = localPow2(k, 256);
    const pl = try pipe(k, .rope_f32, 3, @sizeOf(RopePush), local);
    const n_inv = n_tokens * n_head * (head_dim - n_rot / 2);
    const groups = vk.grid1D(&k.ctx.report, n_inv, local);
    const push = RopePush{
        .n_tokens = try u32of(n_tokens),
        .n_head = n_head,
        .head_dim = head_dim,
        .n_rot = n_rot,
        .mode = @intFromBool(p.mode == .neox),
        // Exactly as cpu_ops.rope computes it.
        .theta_scale = p.thetaScale(),
        .freq_scale = p.freq_scale,
        .grid_x = groups[0] * local,
    };
    try seq.dispatch(pl, &.{ k.paramsBinding(), x.binding(), out.binding() }, std.mem.asBytes(&push), groups);
}

// ---- KV cache ----

const KvStorePush = extern struct { row: u32, n_ctx: u32, n_tokens: u32, grid_x: u32 };

/// Writes src [n_tokens × row] f32 (row = n_head_kv × head_dim) into cache rows
/// StepParams.pos .. pos + StepParams.n_tokens of cache [n_ctx × row] (F16 or F32, layout as
/// cpu_ops.KvView), converting to F16 when the cache is F16 (row must then be even). Rows past
/// n_ctx are not written: the caller keeps pos + n_tokens ≤ n_ctx.
pub fn kvStore(k: *Kernels, seq: *vk.Sequence, src: View, cache: View) Error!void {
    try expectF32(src);
    const row = src.ne[0];
    if (cache.ne[0] != row or row == 0) return error.BadShape;
    const is_f16 = switch (cache.type) {
        .f16 => true,
        .f32 => false,
        else => return error.Unsupported,
    };
    if (is_f16 and row % 2 != 0) return error.BadShape;
    try checkRange(k, src);
    try checkRange(k, cache);
    const n_tokens = src.nRows();
    const local = localPow2(k, 256);
    const pl = try pipe(k, if (is_f16) .kv_store_f16 else .kv_store_f32, 3, @sizeOf(KvStorePush), local);
    const n_inv = if (is_f16) n_tokens * row / 2 else n_tokens * row;
    const groups = vk.grid1D(&k.ctx.report, n_inv, local);
    const push = KvStorePush{ .row = try u32of(row), .n_ctx = try u32of(cache.nRows()), .n_tokens = try u32of(n_tokens), .grid_x = groups[0] * local };
    try seq.dispatch(pl, &.{ k.paramsBinding(), src.binding(), cache.binding() }, std.mem.asBytes(&push), groups);
}

// ---- attention ----

const AttentionPush = extern struct { n_tokens: u32, n_head: u32, n_head_kv: u32, head_dim: u32, n_ctx: u32, scale: f32, chunk: u32, n_split: u32 };
const CombinePush = extern struct { n_tokens: u32, n_head: u32, head_dim: u32, n_split: u32 };
comptime {
    std.debug.assert(@sizeOf(AttentionPush) == 32 and @sizeOf(CombinePush) == 16);
}

/// Key splits of split-K attention for n_tokens queries of n_head heads over a cache of n_ctx
/// rows: 1 (single pass) when there are ≥ 64 (query, head) workgroups already or n_ctx < 512;
/// else enough splits for ~128 workgroups, each split ≥ 256 keys, at most 64.
pub fn attentionSplits(n_tokens: u64, n_head: u32, n_ctx: u64) u32 {
    const queries = n_tokens * n_head;
    if (queries == 0 or queries >= 64 or n_ctx < 512) return 1;
    const by_ctx = n_ctx / 256;
    const want = (128 + queries - 1) / queries;
    return @intCast(std.math.clamp(@min(by_ctx, want), 1, 64));
}

/// Bytes of f32 scratch split-K attention needs (0 when attentionSplits() is 1).
pub fn attentionScratchBytes(n_tokens: u64, s: AttentionParams, n_ctx: u64) u64 {
    const n_split = attentionSplits(n_tokens, s.n_head, n_ctx);
    if (n_split == 1) return 0;
    return n_tokens * s.n_head * n_split * (@as(u64, s.head_dim) + 2) * 4;
}

/// Largest head_dim attention supports (shaders/attention.comp MAX_D2 pairs).
pub const max_head_dim = params.max_head_dim;

/// Whether this device runs attention() for `p` over up to `n_tokens` queries: the limits
/// attention() enforces, for the executor's placement (one place for each limit).
pub fn attentionFits(report: *const vk.Report, p: AttentionParams, n_tokens: u64) bool {
    const local = std.math.floorPowerOfTwo(u32, @max(@min(wg_max, report.maxWorkgroup1D()), 1));
    if (p.head_dim == 0 or p.head_dim % 2 != 0 or p.head_dim > max_head_dim) return false;
    if (p.head_dim / 2 > 4 * local) return false; // DPT pairs per lane
    return p.n_head <= report.max_compute_work_group_count[0] and n_tokens <= report.max_compute_work_group_count[1];
}

/// Whether kvStore() takes a cache of `cache_type` with rows of `row` elements.
pub fn kvStoreFits(cache_type: @import("../gguf/types.zig").GgmlType, row: u64) bool {
    return switch (cache_type) {
        .f32 => true,
        .f16 => row % 2 == 0,
        else => false,
    };
}

/// Whether add() / mul() take a second operand of n_b elements for a first of n_a in rows of
/// ne0: the same size, or one row broadcast.
pub fn binaryFits(n_a: u64, n_b: u64, ne0: u64) bool {
    return n_b == n_a or n_b == ne0;
}

/// out[t,h,:] = Σ_j softmax_j(q[t,h]·k[j,h/g] · scale) v[j,h/g] over j ≤ StepParams.pos + t
/// (cpu_ops.attention with pos0 = StepParams.pos; for the last token of a step that is
/// StepParams.n_kv keys). q, out: [n_tokens × n_head × head_dim] f32 (n_tokens = the most a step
/// may use; rows ≥ StepParams.n_tokens are skipped). k_cache, v_cache: [n_ctx × n_head_kv ×
/// head_dim], both F16 or both F32, this step's rows already stored (kvStore + barrier).
/// head_dim even and ≤ max_head_dim; n_head a multiple of n_head_kv.
/// Variants: one workgroup per (head, token) walking all keys in tiles (`attention_f16/f32`),
/// or, with `scratch` (f32, attentionScratchBytes() bytes) and attentionSplits() > 1, split-K: workgroups per (head, token, key
/// chunk) write partials, a barrier, then `attention_combine_f32` merges them into out. `_sg`
/// reductions when the report has subgroup arithmetic.
pub fn attention(k: *Kernels, seq: *vk.Sequence, q: View, k_cache: View, v_cache: View, s: AttentionParams, scratch: ?View, out: View) Error!void {
    try expectF32(q);
    try expectF32(out);
    if (s.head_dim == 0 or s.head_dim % 2 != 0 or s.head_dim > max_head_dim) return error.BadShape;
    if (s.n_head_kv == 0 or s.n_head == 0 or s.n_head % s.n_head_kv != 0) return error.BadShape;
    const per_tok = @as(u64, s.n_head) * s.head_dim;
    const n = q.nElements();
    if (n == 0 or n % per_tok != 0 or out.nElements() != n) return error.BadShape;
    const n_tokens = n / per_tok;
    const row = @as(u64, s.n_head_kv) * s.head_dim;
    if (k_cache.type != v_cache.type) return error.BadShape;
    const is_f16 = switch (k_cache.type) {
        .f16 => true,
        .f32 => false,
        else => return error.Unsupported,
    };
    if (k_cache.ne[0] != row or v_cache.ne[0] != row or k_cache.nRows() != v_cache.nRows()) return error.BadShape;
    const n_ctx = k_cache.nRows();
    if (n_tokens > n_ctx) return error.BadShape;
    for ([_]View{ q, k_cache, v_cache, out }) |v| try checkRange(k, v);
    const local = localPow2(k, 256);
    if (!attentionFits(&k.ctx.report, s, n_tokens)) return error.Unsupported;
    const sg = useSubgroup(k);
    var n_split: u32 = 1;
    if (scratch) |scr| {
        n_split = @min(attentionSplits(n_tokens, s.n_head, n_ctx), k.ctx.report.max_compute_work_group_count[2]);
        if (n_split > 1) {
            try expectF32(scr);
            try checkRange(k, scr);
            if (scr.nBytes() < attentionScratchBytes(n_tokens, s, n_ctx)) return error.BadShape;
        }
    }
    const split = n_split > 1;
    const name: vk.Shader = if (split)
        (if (is_f16) (if (sg) .attention_split_f16_sg else .attention_split_f16) else (if (sg) .attention_split_f32_sg else .attention_split_f32))
    else
        (if (is_f16) (if (sg) .attention_f16_sg else .attention_f16) else (if (sg) .attention_f32_sg else .attention_f32));
    k.ctx.log.debug("ops: attention {d} tokens x {d}/{d} heads x {d}, n_ctx {d}: {s} ({d} splits), workgroup {d}", .{ n_tokens, s.n_head, s.n_head_kv, s.head_dim, n_ctx, @tagName(name), n_split, local });
    const pl = try pipe(k, name, 5, @sizeOf(AttentionPush), local);
    const push = AttentionPush{
        .n_tokens = try u32of(n_tokens),
        .n_head = s.n_head,
        .n_head_kv = s.n_head_kv,
        .head_dim = s.head_dim,
        .n_ctx = try u32of(n_ctx),
        .scale = s.scaleOrDefault(),
        .chunk = try u32of((n_ctx + n_split - 1) / n_split),
        .n_split = n_split,
    };
    const dst = if (split) scratch.? else out;
    try seq.dispatch(pl, &.{ k.paramsBinding(), q.binding(), k_cache.binding(), v_cache.binding(), dst.binding() }, std.mem.asBytes(&push), .{ s.n_head, @intCast(n_tokens), n_split });
    if (!split) return;
    seq.barrier();
    const cl = localPow2(k, @intCast(@min(std.math.ceilPowerOfTwo(u32, s.head_dim) catch 256, 256)));
    const cpl = try pipe(k, .attention_combine_f32, 3, @sizeOf(CombinePush), cl);
    const cpush = CombinePush{ .n_tokens = push.n_tokens, .n_head = s.n_head, .head_dim = s.head_dim, .n_split = n_split };
    try seq.dispatch(cpl, &.{ k.paramsBinding(), scratch.?.binding(), out.binding() }, std.mem.asBytes(&cpush), .{ s.n_head, @intCast(n_tokens), 1 });
}

test {
    std.testing.refAllDecls(@This());
}
