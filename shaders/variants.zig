//! The shader variant table: every SPIR-V module the library embeds, as (name, source, defines).
//! One GLSL source serves several operations or element types through its defines; build.zig
//! compiles each row with glslc, and core/vk looks pipelines up by `name`.
//! Suffix `_sg`: reductions with GL_KHR_shader_subgroup_arithmetic, chosen by core/kernels/ops.zig
//! when report.hasSubgroupArithmetic(); the plain row is the baseline that runs on V3DV.
pub const Variant = struct {
    name: []const u8,
    src: []const u8,
    defines: []const []const u8 = &.{},
};

pub const variants = [_]Variant{
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
    // ---- weight-matrix kernels (core/kernels/matmul.zig): one row per weight type ----
    // Embedding lookup / dequantization: out[i] = dequant(W[ids[i]]).
    .{ .name = "get_rows_f32", .src = "get_rows.comp", .defines = &.{"DQ_F32"} },
    .{ .name = "get_rows_f16", .src = "get_rows.comp", .defines = &.{"DQ_F16"} },
    .{ .name = "get_rows_bf16", .src = "get_rows.comp", .defines = &.{"DQ_BF16"} },
    .{ .name = "get_rows_q4_0", .src = "get_rows.comp", .defines = &.{"DQ_Q4_0"} },
    .{ .name = "get_rows_q4_1", .src = "get_rows.comp", .defines = &.{"DQ_Q4_1"} },
    .{ .name = "get_rows_q5_0", .src = "get_rows.comp", .defines = &.{"DQ_Q5_0"} },
    .{ .name = "get_rows_q5_1", .src = "get_rows.comp", .defines = &.{"DQ_Q5_1"} },
    .{ .name = "get_rows_q8_0", .src = "get_rows.comp", .defines = &.{"DQ_Q8_0"} },
    .{ .name = "get_rows_q4_k", .src = "get_rows.comp", .defines = &.{"DQ_Q4_K"} },
    .{ .name = "get_rows_q5_k", .src = "get_rows.comp", .defines = &.{"DQ_Q5_K"} },
    .{ .name = "get_rows_q6_k", .src = "get_rows.comp", .defines = &.{"DQ_Q6_K"} },
    // Decode mat-vec (1..8 tokens), shared-memory reduction: every device, V3DV included.
    .{ .name = "mul_mat_vec_f32", .src = "mul_mat_vec.comp", .defines = &.{"DQ_F32"} },
    .{ .name = "mul_mat_vec_f16", .src = "mul_mat_vec.comp", .defines = &.{"DQ_F16"} },
    .{ .name = "mul_mat_vec_bf16", .src = "mul_mat_vec.comp", .defines = &.{"DQ_BF16"} },
    .{ .name = "mul_mat_vec_q4_0", .src = "mul_mat_vec.comp", .defines = &.{"DQ_Q4_0"} },
    .{ .name = "mul_mat_vec_q4_1", .src = "mul_mat_vec.comp", .defines = &.{"DQ_Q4_1"} },
    .{ .name = "mul_mat_vec_q5_0", .src = "mul_mat_vec.comp", .defines = &.{"DQ_Q5_0"} },
    .{ .name = "mul_mat_vec_q5_1", .src = "mul_mat_vec.comp", .defines = &.{"DQ_Q5_1"} },
    .{ .name = "mul_mat_vec_q8_0", .src = "mul_mat_vec.comp", .defines = &.{"DQ_Q8_0"} },
    .{ .name = "mul_mat_vec_q4_k", .src = "mul_mat_vec.comp", .defines = &.{"DQ_Q4_K"} },
    .{ .name = "mul_mat_vec_q5_k", .src = "mul_mat_vec.comp", .defines = &.{"DQ_Q5_K"} },
    .{ .name = "mul_mat_vec_q6_k", .src = "mul_mat_vec.comp", .defines = &.{"DQ_Q6_K"} },
    // Decode mat-vec with subgroupAdd reduction: where report.hasSubgroupArithmetic().
    .{ .name = "mul_mat_vec_f32_sg", .src = "mul_mat_vec.comp", .defines = &.{ "DQ_F32", "USE_SUBGROUP" } },
    .{ .name = "mul_mat_vec_f16_sg", .src = "mul_mat_vec.comp", .defines = &.{ "DQ_F16", "USE_SUBGROUP" } },
    .{ .name = "mul_mat_vec_bf16_sg", .src = "mul_mat_vec.comp", .defines = &.{ "DQ_BF16", "USE_SUBGROUP" } },
    .{ .name = "mul_mat_vec_q4_0_sg", .src = "mul_mat_vec.comp", .defines = &.{ "DQ_Q4_0", "USE_SUBGROUP" } },
    .{ .name = "mul_mat_vec_q4_1_sg", .src = "mul_mat_vec.comp", .defines = &.{ "DQ_Q4_1", "USE_SUBGROUP" } },
    .{ .name = "mul_mat_vec_q5_0_sg", .src = "mul_mat_vec.comp", .defines = &.{ "DQ_Q5_0", "USE_SUBGROUP" } },
    .{ .name = "mul_mat_vec_q5_1_sg", .src = "mul_mat_vec.comp", .defines = &.{ "DQ_Q5_1", "USE_SUBGROUP" } },
    .{ .name = "mul_mat_vec_q8_0_sg", .src = "mul_mat_vec.comp", .defines = &.{ "DQ_Q8_0", "USE_SUBGROUP" } },
    .{ .name = "mul_mat_vec_q4_k_sg", .src = "mul_mat_vec.comp", .defines = &.{ "DQ_Q4_K", "USE_SUBGROUP" } },
    .{ .name = "mul_mat_vec_q5_k_sg", .src = "mul_mat_vec.comp", .defines = &.{ "DQ_Q5_K", "USE_SUBGROUP" } },
    .{ .name = "mul_mat_vec_q6_k_sg", .src = "mul_mat_vec.comp", .defines = &.{ "DQ_Q6_K", "USE_SUBGROUP" } },
    // F16 mat-vec reading the weights through 16-bit storage (report.storage_16bit; V3DV has it).
    .{ .name = "mul_mat_vec_f16_s16", .src = "mul_mat_vec.comp", .defines = &.{ "DQ_F16", "DQ_S16" } },
    .{ .name = "mul_mat_vec_f16_s16_sg", .src = "mul_mat_vec.comp", .defines = &.{ "DQ_F16", "DQ_S16", "USE_SUBGROUP" } },
    // F16 mat-vec with fp16 products, f32 sums (report.shader_float16; never V3DV).
    .{ .name = "mul_mat_vec_f16_h16", .src = "mul_mat_vec.comp", .defines = &.{ "DQ_F16", "DQ_H16" } },
    .{ .name = "mul_mat_vec_f16_h16_sg", .src = "mul_mat_vec.comp", .defines = &.{ "DQ_F16", "DQ_H16", "USE_SUBGROUP" } },
    // Integer dot product mat-vec (report.integer_dot_product and shader_int8; never V3DV): the
    // activations quantized to int8 blocks first by quantize_q8_1.
    .{ .name = "quantize_q8_1", .src = "quantize_q8_1.comp" },
    .{ .name = "mul_mat_vec_q8_0_dp", .src = "mul_mat_vec.comp", .defines = &.{ "DQ_Q8_0", "DQ_DOT" } },
    .{ .name = "mul_mat_vec_q8_0_dp_sg", .src = "mul_mat_vec.comp", .defines = &.{ "DQ_Q8_0", "DQ_DOT", "USE_SUBGROUP" } },
    .{ .name = "mul_mat_vec_q4_0_dp", .src = "mul_mat_vec.comp", .defines = &.{ "DQ_Q4_0", "DQ_DOT" } },
    .{ .name = "mul_mat_vec_q4_0_dp_sg", .src = "mul_mat_vec.comp", .defines = &.{ "DQ_Q4_0", "DQ_DOT", "USE_SUBGROUP" } },
    // F16 prompt mat-mat on NV cooperative matrices (report.cooperative_matrix_nv and
    // shader_float16; untested: no such device here).
    .{ .name = "mul_mat_f16_coopmat_nv", .src = "mul_mat_coopmat.comp" },
    // Prompt mat-mat (> 8 tokens): tiles of W dequantized into shared memory.
    .{ .name = "mul_mat_f32", .src = "mul_mat.comp", .defines = &.{"DQ_F32"} },
    .{ .name = "mul_mat_f16", .src = "mul_mat.comp", .defines = &.{"DQ_F16"} },
    .{ .name = "mul_mat_bf16", .src = "mul_mat.comp", .defines = &.{"DQ_BF16"} },
    .{ .name = "mul_mat_q4_0", .src = "mul_mat.comp", .defines = &.{"DQ_Q4_0"} },
    .{ .name = "mul_mat_q4_1", .src = "mul_mat.comp", .defines = &.{"DQ_Q4_1"} },
    .{ .name = "mul_mat_q5_0", .src = "mul_mat.comp", .defines = &.{"DQ_Q5_0"} },
    .{ .name = "mul_mat_q5_1", .src = "mul_mat.comp", .defines = &.{"DQ_Q5_1"} },
    .{ .name = "mul_mat_q8_0", .src = "mul_mat.comp", .defines = &.{"DQ_Q8_0"} },
    .{ .name = "mul_mat_q4_k", .src = "mul_mat.comp", .defines = &.{"DQ_Q4_K"} },
    .{ .name = "mul_mat_q5_k", .src = "mul_mat.comp", .defines = &.{"DQ_Q5_K"} },
    .{ .name = "mul_mat_q6_k", .src = "mul_mat.comp", .defines = &.{"DQ_Q6_K"} },
    // Per-step row helpers reading StepParams (core/kernels/ops.zig lastRow / positions).
    .{ .name = "last_row_f32", .src = "step_rows.comp", .defines = &.{"LAST_ROW"} },
    .{ .name = "positions_i32", .src = "step_rows.comp", .defines = &.{"POSITIONS"} },
};
