//! Weight-matrix kernels: out = x · Wᵀ with the weights in their GGUF type (dequantized in the
//! shader), and embedding lookup (get_rows). Shaders: shaders/dequant.glsl (block decoders),
//! mul_mat_vec.comp (decode, 1..8 tokens), mul_mat.comp (prompt, tiled), get_rows.comp.
//!
//! Variant choice (planMulMat / planGetRows; logged at debug level when recorded):
//!  - n_tokens ≤ max_vec_tokens: `mul_mat_vec_<type>_sg` (subgroupAdd reduction) when the report
//!    has subgroup arithmetic in compute, else `mul_mat_vec_<type>` (shared-memory tree
//!    reduction: the V3DV baseline). One workgroup per weight row, power-of-two size ≤ 128;
//!    quantized rows stream as 8-element groups (dq8: both nibbles of one word), plain rows as
//!    4-element word loads when ne0 % 4 == 0, else element by element.
//!    F16 weights: `mul_mat_vec_f16_s16[_sg]` (f16vec2 loads through GL_EXT_shader_16bit_storage,
//!    bit-identical to the word path) when report.storage_16bit (V3DV has it); with
//!    PlanOptions.float16 and report.shader_float16 (never V3DV), `mul_mat_vec_f16_h16[_sg]`
//!    (f16 products, f32 sums; per output |err| ≤ ~1e-3·Σ|w·x|).
//!    Q8_0 / Q4_0 weights through mulMatQ (caller-provided activation scratch) on devices with
//!    integer dot product and int8 (never V3DV): quantize_q8_1 (x to int8 per 32-block, d =
//!    max|x|/127), then `mul_mat_vec_{q8_0,q4_0}_dp[_sg]` (OpSDot per 4 bytes, exact int sums).
//!  - n_tokens > max_vec_tokens, F16 weights, report.cooperative_matrix_nv and shader_float16
//!    (subgroups of 16..64): `mul_mat_f16_coopmat_nv` (64×32 tiles of 16×16×16 NV cooperative
//!    matrix products, f32 accumulators, 4 subgroups). Compiled and gated but UNTESTED: no device
//!    here has VK_NV_cooperative_matrix.
//!  - n_tokens > max_vec_tokens: `mul_mat_<type>`, 64×64 tiles (256 invocations, 8 KiB shared)
//!    where the device allows 256 invocations, else 32×32 tiles (64 invocations, 4 KiB).
//!
//! Weights larger than maxStorageBufferRange arrive split into chunks cut at row boundaries
//! (createBuffer's split_unit = row bytes): one dispatch per chunk writes its rows' outputs.
const std = @import("std");
const vk = @import("../vk/vk.zig");
const kernels = @import("kernels.zig");
const GgmlType = @import("../gguf/types.zig").GgmlType;
const wtypes = @import("../quant/weight_types.zig");

const View = kernels.View;
const Kernels = kernels.Kernels;

pub const Error = vk.Error || error{InvalidArgument};

/// Token counts up to this use the mat-vec kernel (MAX_T in mul_mat_vec.comp).
pub const max_vec_tokens = 8;

/// Weight types every kernel here accepts: those of the weight-type table with a GPU decoder.
pub const weight_types = wtypes.gpu_types;
/// Weight types with the integer-dot-product mat-vec (mulMatQ).
pub const int_dot_types = wtypes.int_dot_types;

pub fn supportsType(t: GgmlType) bool {
    return wtypes.onGpuType(t);
}

/// Push constants of mul_mat_vec.comp and mul_mat.comp (same block).
pub const MatPush = extern struct {
    n_in: u32,
    n_rows: u32,
    n_tokens: u32,
    row_bytes: u32,
    x_stride: u32,
    out_stride: u32,
    out_row0: u32,
    grid_x: u32,
};
comptime {
    std.debug.assert(@sizeOf(MatPush) == 32);
}

/// Push constants of get_rows.comp.
pub const GetRowsPush = extern struct {
    n_cols: u32,
    row_bytes: u32,
    n_ids: u32,
    row0: u32,
    n_rows: u32,
    n_rows_total: u32,
    grid_x: u32,
    out_stride: u32,
};
comptime {
    std.debug.assert(@sizeOf(GetRowsPush) == 32);
}

pub const Kind = enum { vec, vec_subgroup, tiled };

/// Optional device feature a variant needs beyond the V3DV baseline (checked by mulMatPlan).
pub const Feature = enum { none, storage_16bit, float16, int_dot, coopmat_nv };

/// The variant a device gets for one product, and its launch shape.
pub const Plan = struct {
    /// The shader variant (a row of shaders/variants.zig).
    shader: vk.Shader,
    kind: Kind,
    feature: Feature = .none,
    /// Workgroup size (spec constant 0).
    local: u32,
    /// Tile of the tiled kernel (rows of W × tokens); 0 for mat-vec.
    bm: u32 = 0,
    bn: u32 = 0,
    /// Specialization constants: {local} or {local, bm, bn}.
    spec_buf: [3]u32 = .{ 0, 0, 0 },

    pub fn spec(self: *const Plan) []const u32 {
        return if (self.kind == .tiled) &self.spec_buf else self.spec_buf[0..1];
    }

    pub fn name(self: Plan) []const u8 {
        return @tagName(self.shader);
    }
};

/// The per-type variant `prefix ++ type ++ suffix` of `t`, resolved at comptime for every type
/// of `types` (a family shaders/variants.zig generates for them: a missing row is a compile error).
fn variant(comptime prefix: []const u8, comptime suffix: []const u8, comptime types: []const GgmlType, t: GgmlType) Error!vk.Shader {
    inline for (types) |ct| {
        if (t == ct) return @field(vk.Shader, prefix ++ @tagName(ct) ++ suffix);
    }
    return error.Unsupported;
}

fn floorPow2(x: u32) u32 {
    return @as(u32, 1) << @intCast(31 - @clz(x));
}

/// The matmul variant for weights of type `t` and `n_tokens` activation rows on this device.
pub fn planMulMat(report: *const vk.Report, t: GgmlType, n_tokens: u64) Error!Plan {
    return planMulMatWith(report, t, n_tokens, .{});
}

pub const PlanOptions = struct {
    /// Use the subgroup-arithmetic mat-vec where the device has it (false: the V3DV baseline).
    subgroup: bool = true,
    /// F16 mat-vec: read the weights through 16-bit storage where the device has it.
    storage16: bool = true,
    /// F16 mat-vec: fp16 products (f32 sums) where the device has shaderFloat16. Relative error
    /// up to ~1e-3 of Σ|w·x| and inf for |x| > 65504, so off unless asked for.
    float16: bool = false,
    /// Q8_0 / Q4_0 mat-vec: integer dot products on int8-quantized activations where the device has
    /// integer dot product and int8 arithmetic. Needs a scratch buffer (mulMatQ), so only
    /// callers that pass one ask for it.
    int_dot: bool = false,
    /// F16 mat-mat on NV cooperative matrices (f16 products of x rounded to f16, f32 sums)
    /// where the device has them. Never run on hardware yet: on by default only there.
    coopmat: bool = true,
};

fn featureOk(report: *const vk.Report, f: Feature) bool {
    return switch (f) {
        .none => true,
        .storage_16bit => report.storage_16bit,
        .float16 => report.shader_float16,
        .int_dot => report.integer_dot_product and report.shader_int8,
        // 4 whole subgroups of at least 16 per 128..256-invocation workgroup.
        .coopmat_nv => report.cooperative_matrix_nv and report.shader_float16 and report.subgroup_ops.basic and
            report.subgroup_size >= 16 and report.subgroup_size <= 64 and 4 * report.subgroup_size <= report.maxWorkgroup1D() and
            (64 + 32) * 16 * 2 + 64 * 32 * 4 <= report.max_compute_shared_memory_size,
    };
}

pub fn planMulMatWith(report: *const vk.Report, t: GgmlType, n_tokens: u64, opts: PlanOptions) Error!Plan {
    const max_wg = report.maxWorkgroup1D();
    const shared = report.max_compute_shared_memory_size;
    if (n_tokens <= max_vec_tokens) {
        const local = floorPow2(@min(128, max_wg));
        if (local < 1 or max_vec_tokens * local * 4 > shared) return error.Unsupported;
        const sg = opts.subgroup and report.hasSubgroupArithmetic() and report.subgroup_ops.basic;
        var p = Plan{
            .shader = if (sg) try variant("mul_mat_vec_", "_sg", weight_types, t) else try variant("mul_mat_vec_", "", weight_types, t),
            .kind = if (sg) .vec_subgroup else .vec,
            .local = local,
        };
        if (t == .f16 and opts.float16 and report.shader_float16) {
            p.shader = if (sg) .mul_mat_vec_f16_h16_sg else .mul_mat_vec_f16_h16;
            p.feature = .float16;
        } else if (t == .f16 and opts.storage16 and report.storage_16bit) {
            p.shader = if (sg) .mul_mat_vec_f16_s16_sg else .mul_mat_vec_f16_s16;
            p.feature = .storage_16bit;
        } else if (wtypes.of(t).?.gpu_int_dot and opts.int_dot and featureOk(report, .int_dot)) {
            p.shader = if (sg) try variant("mul_mat_vec_", "_dp_sg", int_dot_types, t) else try variant("mul_mat_vec_", "_dp", int_dot_types, t);
            p.feature = .int_dot;
        }
        p.spec_buf[0] = local;
        return p;
    }
    // F16 on NV cooperative matrices: 64 x 32 tiles, 4 subgroups (untested: no such device here).
    if (t == .f16 and opts.coopmat and featureOk(report, .coopmat_nv)) {
        const local = 4 * report.subgroup_size;
        return .{ .shader = .mul_mat_f16_coopmat_nv, .kind = .tiled, .feature = .coopmat_nv, .local = local, .bm = 64, .bn = 32, .spec_buf = .{ local, 64, 32 } };
    }
    // Tiled: (bm + bn) * 16 floats of shared memory, (bm/4)*(bn/4) invocations.
    for ([_]u32{ 64, 32 }) |tile| {
        const local = (tile / 4) * (tile / 4);
        if (local <= max_wg and 2 * tile * 16 * 4 <= shared) {
            return .{
                .shader = try variant("mul_mat_", "", weight_types, t),
                .kind = .tiled,
                .local = local,
                .bm = tile,
                .bn = tile,
                .spec_buf = .{ local, tile, tile },
            };
        }
    }
    return error.Unsupported;
}

/// The get_rows variant for weights of type `t`.
pub fn planGetRows(report: *const vk.Report, t: GgmlType) Error!Plan {
    const local = floorPow2(@min(128, report.maxWorkgroup1D()));
    var p = Plan{ .shader = try variant("get_rows_", "", weight_types, t), .kind = .vec, .local = local };
    p.spec_buf[0] = local;
    return p;
}

/// Name of the variant the device behind `report` records for (t, n_tokens), for reports/logs.
pub fn variantName(report: *const vk.Report, t: GgmlType, n_tokens: u64) Error![]const u8 {
    return (try planMulMat(report, t, n_tokens)).name();
}

// ---- argument checks ----

fn checkOffset(k: *const Kernels, v: View) Error!void {
    const a = k.ctx.report.min_storage_buffer_offset_alignment;
    if (a > 1 and v.offset % a != 0) return error.InvalidArgument;
    if (v.offset % 4 != 0) return error.InvalidArgument;
    if (v.chunk >= v.buf.chunks.len) return error.InvalidArgument;
}

/// An f32 (or i32) tensor that must lie within one chunk: its binding.
fn denseBinding(k: *const Kernels, v: View) Error!vk.Binding {
    try checkOffset(k, v);
    const bytes = v.nElements() * 4;
    const ch = &v.buf.chunks[v.chunk];
    if (bytes == 0 or v.offset + bytes > ch.size_bytes) return error.InvalidArgument;
    if (bytes > k.ctx.report.max_storage_buffer_range) return error.InvalidArgument;
    return .{ .buffer = v.buf, .chunk = v.chunk, .offset = v.offset, .size = bytes };
}

fn u32Of(x: u64) Error!u32 {
    return std.math.cast(u32, x) orelse error.InvalidArgument;
}

/// Rows of a (possibly split) weight tensor, one part per chunk.
const Part = struct { binding: vk.Binding, row0: u64, n_rows: u64 };

const Parts = struct {
    w: View,
    row_bytes: u64,
    n_rows: u64,
    chunk: usize,
    offset: u64,
    row0: u64 = 0,

    fn next(it: *Parts) Error!?Part {
        if (it.row0 >= it.n_rows) return null;
        if (it.chunk >= it.w.buf.chunks.len) return error.InvalidArgument; // tensor past the buffer
        const ch = &it.w.buf.chunks[it.chunk];
        if (it.offset > ch.size_bytes) return error.InvalidArgument;
        const avail = ch.size_bytes - it.offset;
        const left = it.n_rows - it.row0;
        const rows = @min(left, avail / it.row_bytes);
        // A row straddling two chunks cannot be bound: split_unit must be the row bytes.
        if (rows == 0 or (rows < left and avail % it.row_bytes != 0)) return error.InvalidArgument;
        const bytes = rows * it.row_bytes;
        const part = Part{
            .binding = .{ .buffer = it.w.buf, .chunk = it.chunk, .offset = it.offset, .size = std.mem.alignForward(u64, bytes, 4) },
            .row0 = it.row0,
            .n_rows = rows,
        };
        it.row0 += rows;
        it.chunk += 1;
        it.offset = 0;
        return part;
    }
};

fn weightParts(k: *const Kernels, w: View) Error!Parts {
    if (!supportsType(w.type)) return error.Unsupported;
    try checkOffset(k, w);
    if (w.ne[2] != 1 or w.ne[3] != 1 or w.ne[0] == 0 or w.ne[1] == 0) return error.InvalidArgument;
    const row_bytes = w.type.rowBytes(w.ne[0]) orelse return error.InvalidArgument;
    _ = try u32Of(row_bytes);
    _ = try u32Of(w.ne[1]);
    const parts = Parts{ .w = w, .row_bytes = row_bytes, .n_rows = w.ne[1], .chunk = w.chunk, .offset = w.offset };
    // Walk the chunks once before recording anything, so that a bad tensor records nothing.
    var dry = parts;
    while (try dry.next()) |_| {}
    return parts;
}

// ---- matmul ----

/// out[t][r] = Σ_k w[r][k] · x[t][k]. w: [n_out rows × n_in] of any weight_types type (possibly
/// split into chunks at row boundaries); x: f32 [n_tokens × n_in]; out: f32 [n_tokens × n_out].
/// Records the dispatches into `seq` (no barrier before or after: the caller orders ops).
pub fn mulMat(k: *Kernels, seq: *vk.Sequence, w: View, x: View, out: View) Error!void {
    var plan = try planMulMat(&k.ctx.report, w.type, x.nRows());
    if (plan.kind != .tiled) {
        // Short rows: no more lanes than the row has 8-element (quantized) / 4-element groups,
        // at least 32. Idle lanes still pay every reduction barrier (lavapipe: ~3x at n_in 256).
        const units = if (w.type.isQuantized()) w.ne[0] / 8 else w.ne[0] / 4;
        const want = std.math.ceilPowerOfTwo(u64, @max(units, 32)) catch plan.local;
        if (want < plan.local) {
            plan.local = @intCast(want);
            plan.spec_buf[0] = plan.local;
        }
    }
    return mulMatPlan(k, seq, plan, w, x, out);
}

/// mulMat with a chosen variant (tests run every variant the device can; benchmarks compare).
/// `plan` must come from planMulMat for w.type on this device, or name a variant of the same
/// type and kind the device supports (e.g. the shared-memory mat-vec where subgroups exist).
pub fn mulMatPlan(k: *Kernels, seq: *vk.Sequence, plan: Plan, w: View, x: View, out: View) Error!void {
    return mulMatPlanQ(k, seq, plan, w, x, null, out);
}

/// Bytes of the activation scratch that mulMatQ needs: 40 per 32-element block of x.
pub fn q8ScratchBytes(n_in: u64, n_tokens: u64) u64 {
    return (n_in / 32) * n_tokens * 40;
}

/// Push constants of quantize_q8_1.comp.
const QuantPush = extern struct { n_in: u32, n_tokens: u32, x_stride: u32, grid_x: u32 };

/// mulMat that may take the integer-dot-product mat-vec (Q8_0 / Q4_0 weights, ≤ 8 tokens, device with
/// integer dot product and int8): `xq` is scratch of q8ScratchBytes(n_in, n_tokens) bytes that
/// receives the int8 activations (recorded: quantize, barrier, mat-vec). Elsewhere as mulMat.
/// Error vs exact: activations rounded to d/2 per 32-block, d = max|x|/127 (llama.cpp's Q8_1).
pub fn mulMatQ(k: *Kernels, seq: *vk.Sequence, w: View, x: View, xq: View, out: View) Error!void {
    var plan = try planMulMatWith(&k.ctx.report, w.type, x.nRows(), .{ .int_dot = true });
    if (plan.feature != .int_dot) return mulMat(k, seq, w, x, out);
    const want = std.math.ceilPowerOfTwo(u64, @max(w.ne[0] / 32, 32)) catch plan.local;
    if (want < plan.local) {
        plan.local = @intCast(want);
        plan.spec_buf[0] = plan.local;
    }
    return mulMatPlanQ(k, seq, plan, w, x, xq, out);
}

/// mulMatPlan with the activation scratch of an int_dot plan (null for every other plan).
pub fn mulMatPlanQ(k: *Kernels, seq: *vk.Sequence, plan: Plan, w: View, x: View, xq: ?View, out: View) Error!void {
    const ctx = k.ctx;
    var parts = try weightParts(k, w);
    const n_in = w.ne[0];
    const n_out = w.ne[1];
    if (x.type != .f32 or out.type != .f32) return error.Unsupported;
    if (x.ne[0] != n_in or out.ne[0] != n_out) return error.InvalidArgument;
    const n_tokens = x.nRows();
    if (n_tokens == 0 or out.nRows() != n_tokens) return error.InvalidArgument;
    const xb = try denseBinding(k, x);
    const ob = try denseBinding(k, out);
    if (plan.kind != .tiled and n_tokens > max_vec_tokens) return error.InvalidArgument;
    if (plan.kind == .vec_subgroup and !(ctx.report.hasSubgroupArithmetic() and ctx.report.subgroup_ops.basic)) return error.Unsupported;
    if (!featureOk(&ctx.report, plan.feature)) return error.Unsupported;
    var xin = xb;
    if (plan.feature == .int_dot) {
        if (!(wtypes.of(w.type) orelse return error.InvalidArgument).gpu_int_dot or n_in % 32 != 0) return error.InvalidArgument;
        const q = xq orelse return error.InvalidArgument;
        try checkOffset(k, q);
        const qbytes = q8ScratchBytes(n_in, n_tokens);
        const qch = &q.buf.chunks[q.chunk];
        if (q.offset + qbytes > qch.size_bytes or qbytes > ctx.report.max_storage_buffer_range) return error.InvalidArgument;
        xin = .{ .buffer = q.buf, .chunk = q.chunk, .offset = q.offset, .size = qbytes };
        const qlocal = k.local1D(64);
        const qpl = try ctx.pipelines.get(.{ .shader = .quantize_q8_1, .n_buffers = 2, .push_bytes = @sizeOf(QuantPush), .spec = &.{qlocal} });
        const n_blocks = n_tokens * (n_in / 32);
        const qg = vk.grid1D(&ctx.report, n_blocks, qlocal);
        const qp = QuantPush{ .n_in = try u32Of(n_in), .n_tokens = try u32Of(n_tokens), .x_stride = try u32Of(n_in), .grid_x = qg[0] * qlocal };
        try seq.dispatch(qpl, &.{ xb, xin }, std.mem.asBytes(&qp), qg);
        seq.barrier();
    } else if (xq != null) return error.InvalidArgument;
    const pl = try ctx.pipelines.get(.{ .shader = plan.shader, .n_buffers = 3, .push_bytes = @sizeOf(MatPush), .spec = plan.spec() });
    ctx.log.debug("kernels: mul_mat {s} [{d}x{d}] x {d} tokens -> {s} (workgroup {d}, tile {d}x{d})", .{
        w.type.name(), n_out, n_in, n_tokens, plan.name(), plan.local, plan.bm, plan.bn,
    });

    while (try parts.next()) |part| {
        var push = MatPush{
            .n_in = try u32Of(n_in),
            .n_rows = try u32Of(part.n_rows),
            .n_tokens = try u32Of(n_tokens),
            .row_bytes = try u32Of(parts.row_bytes),
            .x_stride = try u32Of(n_in),
            .out_stride = try u32Of(n_out),
            .out_row0 = try u32Of(part.row0),
            .grid_x = 0,
        };
        var groups: [3]u32 = undefined;
        if (plan.kind == .tiled) {
            const row_tiles = (part.n_rows + plan.bm - 1) / plan.bm;
            const tok_tiles = (n_tokens + plan.bn - 1) / plan.bn;
            groups = vk.grid1D(&ctx.report, row_tiles, 1);
            if (tok_tiles > ctx.report.max_compute_work_group_count[2]) return error.Unsupported;
            groups[2] = @intCast(tok_tiles);
        } else {
            groups = vk.grid1D(&ctx.report, part.n_rows, 1);
        }
        push.grid_x = groups[0];
        try seq.dispatch(pl, &.{ part.binding, xin, ob }, std.mem.asBytes(&push), groups);
    }
}

// ---- get_rows ----

/// out[i] = dequant(w[ids[i]]). w: [n_rows × n_cols] of any weight_types type (possibly split);
/// ids: i32 (read as u32) [n_ids]; out: f32 [n_ids × n_cols]. Ids past the tensor give zero rows.
pub fn getRows(k: *Kernels, seq: *vk.Sequence, w: View, ids: View, out: View) Error!void {
    const ctx = k.ctx;
    var parts = try weightParts(k, w);
    const n_cols = w.ne[0];
    if (ids.type != .i32 or out.type != .f32) return error.Unsupported;
    const n_ids = ids.nElements();
    if (n_ids == 0 or out.ne[0] != n_cols or out.nRows() != n_ids) return error.InvalidArgument;
    const ib = try denseBinding(k, ids);
    const ob = try denseBinding(k, out);

    const plan = try planGetRows(&ctx.report, w.type);
    const pl = try ctx.pipelines.get(.{ .shader = plan.shader, .n_buffers = 3, .push_bytes = @sizeOf(GetRowsPush), .spec = plan.spec() });
    ctx.log.debug("kernels: get_rows {s} [{d}x{d}] x {d} ids -> {s}", .{ w.type.name(), w.ne[1], n_cols, n_ids, plan.name() });
    const units_per_row = if (w.type.isQuantized()) n_cols / 4 else n_cols;
    const groups = vk.grid1D(&ctx.report, n_ids * units_per_row, plan.local);
    _ = try u32Of(@as(u64, groups[0]) * groups[1] * plan.local);
    while (try parts.next()) |part| {
        const push = GetRowsPush{
            .n_cols = try u32Of(n_cols),
            .row_bytes = try u32Of(parts.row_bytes),
            .n_ids = try u32Of(n_ids),
            .row0 = try u32Of(part.row0),
            .n_rows = try u32Of(part.n_rows),
            .n_rows_total = try u32Of(parts.n_rows),
            .grid_x = groups[0] * plan.local,
            .out_stride = try u32Of(n_cols),
        };
        try seq.dispatch(pl, &.{ part.binding, ib, ob }, std.mem.asBytes(&push), groups);
    }
}
