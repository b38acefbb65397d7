//! The shader variant table: every SPIR-V module the library embeds, as (name, source, defines).
//! One GLSL source serves several operations or element types through its defines; build.zig
//! compiles each row with glslc and generates the `spirv` module: the code of each row and an
//! enum of the row names (`vk.Shader`), so kernels name variants as enum tags resolved at
//! comptime. The weight-matrix rows are generated per weight type from
//! core/quant/weight_types.zig (one row per type and kernel family), the rest are written here.
//! Suffix `_sg`: reductions with GL_KHR_shader_subgroup_arithmetic, chosen by core/kernels/ops.zig
//! when report.hasSubgroupArithmetic(); the plain row is the baseline that runs on V3DV.
const weight_types = @import("../core/quant/weight_types.zig");

pub const Variant = struct {
    name: []const u8,
    src: []const u8,
    defines: []const []const u8 = &.{},
};

const fixed = [_]Variant{
    // Element-wise binary ops over f32 with row broadcasting of the second operand.
    .{ .name = "add_f32", .src = "binary.comp", .defines = &.{"OP_ADD"} },
    .{ .name = "mul_f32", .src = "binary.comp", .defines = &.{"OP_MUL"} },
    .{ .name = "swiglu_f32", .src = "binary.comp", .defines = &.{"OP_SWIGLU"} },
    // Element-wise unary ops.
    .{ .name = "silu_f32", .src = "unary.comp", .defines = &.{"OP_SILU"} },
    .{ .name = "gelu_f32", .src = "unary.comp", .defines = &.{"OP_GELU"} },
    .{ .name = "scale_f32", .src = "unary.comp", .defines = &.{"OP_SCALE"} },
    // Row reductions: shared-memory tree, or subgroup arithmetic.
    .{ .name = "rms_norm_f32", .src = "rms_norm.comp" },
    .{ .name = "rms_norm_f32_sg", .src = "rms_norm.comp", .defines = &.{"USE_SUBGROUP"} },
    .{ .name = "norm_f32", .src = "norm.comp" },
    .{ .name = "norm_f32_sg", .src = "norm.comp", .defines = &.{"USE_SUBGROUP"} },
    .{ .name = "softmax_f32", .src = "softmax.comp" },
    .{ .name = "softmax_f32_sg", .src = "softmax.comp", .defines = &.{"USE_SUBGROUP"} },
    // Copies and conversions (F16 as packed uint words).
    .{ .name = "cpy_f32_f16", .src = "cpy.comp", .defines = &.{"CPY_F32_F16"} },
    .{ .name = "cpy_f16_f32", .src = "cpy.comp", .defines = &.{"CPY_F16_F32"} },
    .{ .name = "cpy_f32_f32", .src = "cpy.comp", .defines = &.{"CPY_F32_F32"} },
    // RoPE (normal / NeoX by push constant), positions from StepParams.
    .{ .name = "rope_f32", .src = "rope.comp" },
    // KV-cache store at StepParams.pos.
    .{ .name = "kv_store_f32", .src = "kv_store.comp" },
    .{ .name = "kv_store_f16", .src = "kv_store.comp", .defines = &.{"KV_F16"} },
    // Attention fused over the KV cache (online softmax over key tiles).
    .{ .name = "attention_f32", .src = "attention.comp" },
    .{ .name = "attention_f16", .src = "attention.comp", .defines = &.{"KV_F16"} },
    .{ .name = "attention_f32_sg", .src = "attention.comp", .defines = &.{"USE_SUBGROUP"} },
    .{ .name = "attention_f16_sg", .src = "attention.comp", .defines = &.{ "KV_F16", "USE_SUBGROUP" } },
    // Split-K attention for few queries over a long context: partials, then the combine pass.
    .{ .name = "attention_split_f32", .src = "attention.comp", .defines = &.{"SPLIT"} },
    .{ .name = "attention_split_f16", .src = "attention.comp", .defines = &.{ "KV_F16", "SPLIT" } },
    .{ .name = "attention_split_f32_sg", .src = "attention.comp", .defines = &.{ "SPLIT", "USE_SUBGROUP" } },
    .{ .name = "attention_split_f16_sg", .src = "attention.comp", .defines = &.{ "KV_F16", "SPLIT", "USE_SUBGROUP" } },
    .{ .name = "attention_combine_f32", .src = "attention_combine.comp" },
    // A deliberately long-running kernel for the submission-timeout tests.
    .{ .name = "spin", .src = "spin.comp" },
    // ---- weight-matrix kernels (core/kernels/matmul.zig) ----
    // Per weight type (get_rows, mat-vec, subgroup mat-vec, tiled mat-mat, integer-dot mat-vec):
    // generated from core/quant/weight_types.zig below (`per_type`).
    // F16 mat-vec reading the weights through 16-bit storage (report.storage_16bit; V3DV has it).
    .{ .name = "mul_mat_vec_f16_s16", .src = "mul_mat_vec.comp", .defines = &.{ "DQ_F16", "DQ_S16" } },
    .{ .name = "mul_mat_vec_f16_s16_sg", .src = "mul_mat_vec.comp", .defines = &.{ "DQ_F16", "DQ_S16", "USE_SUBGROUP" } },
    // F16 mat-vec with fp16 products, f32 sums (report.shader_float16; never V3DV).
    .{ .name = "mul_mat_vec_f16_h16", .src = "mul_mat_vec.comp", .defines = &.{ "DQ_F16", "DQ_H16" } },
    .{ .name = "mul_mat_vec_f16_h16_sg", .src = "mul_mat_vec.comp", .defines = &.{ "DQ_F16", "DQ_H16", "USE_SUBGROUP" } },
    // Integer dot product mat-vec (report.integer_dot_product and shader_int8; never V3DV): the
    // activations quantized to int8 blocks first by quantize_q8_1.
    .{ .name = "quantize_q8_1", .src = "quantize_q8_1.comp" },
    // F16 prompt mat-mat on NV cooperative matrices (report.cooperative_matrix_nv and
    // shader_float16; untested: no such device here).
    .{ .name = "mul_mat_f16_coopmat_nv", .src = "mul_mat_coopmat.comp" },
    // Per-step row helpers reading StepParams (core/kernels/ops.zig lastRow / positions).
    .{ .name = "last_row_f32", .src = "step_rows.comp", .defines = &.{"LAST_ROW"} },
    .{ .name = "positions_i32", .src = "step_rows.comp", .defines = &.{"POSITIONS"} },
};

/// Kernel families with one variant per GPU weight type: (name prefix, suffix, source, extra
/// defines beside the type's DQ_<TYPE> decoder).
const Family = struct { prefix: []const u8, suffix: []const u8 = "", src: []const u8, defines: []const []const u8 = &.{}, int_dot_only: bool = false };
const families = [_]Family{
    // Embedding lookup / dequantization: out[i] = dequant(W[ids[i]]).
    .{ .prefix = "get_rows_", .src = "get_rows.comp" },
    // Decode mat-vec (1..8 tokens), shared-memory reduction: every device, V3DV included.
    .{ .prefix = "mul_mat_vec_", .src = "mul_mat_vec.comp" },
    // Decode mat-vec with subgroupAdd reduction: where report.hasSubgroupArithmetic().
    .{ .prefix = "mul_mat_vec_", .suffix = "_sg", .src = "mul_mat_vec.comp", .defines = &.{"USE_SUBGROUP"} },
    // Prompt mat-mat (> 8 tokens): tiles of W dequantized into shared memory.
    .{ .prefix = "mul_mat_", .src = "mul_mat.comp" },
    // Integer-dot-product mat-vec on Q8_1 activations (weight types with gpu_int_dot).
    .{ .prefix = "mul_mat_vec_", .suffix = "_dp", .src = "mul_mat_vec.comp", .defines = &.{"DQ_DOT"}, .int_dot_only = true },
    .{ .prefix = "mul_mat_vec_", .suffix = "_dp_sg", .src = "mul_mat_vec.comp", .defines = &.{ "DQ_DOT", "USE_SUBGROUP" }, .int_dot_only = true },
};

const per_type = blk: {
    @setEvalBranchQuota(10000);
    var rows: [families.len * weight_types.table.len]Variant = undefined;
    var n: usize = 0;
    for (families) |f| for (weight_types.table) |w| {
        const dq = w.gpu_decode orelse continue;
        if (f.int_dot_only and !w.gpu_int_dot) continue;
        const defines = [_][]const u8{dq} ++ f.defines;
        rows[n] = .{ .name = f.prefix ++ @tagName(w.type) ++ f.suffix, .src = f.src, .defines = defines };
        n += 1;
    };
    break :blk rows[0..n].*;
};

/// Every variant: the hand-written rows, then the per-type rows.
pub const variants = fixed ++ per_type;

comptime {
    // Names are unique (they become enum tags and file names).
    @setEvalBranchQuota(200000);
    for (variants, 0..) |a, i| for (variants[i + 1 ..]) |b| {
        if (std.mem.eql(u8, a.name, b.name)) @compileError("duplicate shader variant " ++ a.name);
    };
}

const std = @import("std");
