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
};
