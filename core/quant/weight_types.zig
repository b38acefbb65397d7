//! The weight-type table: every GGUF type the runtime computes with, once, with what each part of
//! the runtime can do with it. Everything that lists weight types derives its list from here at
//! comptime: the GPU kernels' supported types and shader variant names (core/kernels/matmul.zig),
//! the shader variant rows (shaders/variants.zig: one get_rows, mat-vec, subgroup mat-vec and
//! tiled mat-mat row per GPU type), the quantizer's targets (core/model/quantize.zig) and the
//! tests' type lists. Block sizes stay in core/gguf/types.zig (the file format's facts), block
//! contents in core/quant/quant.zig (CPU) and shaders/dequant.glsl (GPU).
//!
//! A new weight type: its block struct and row codecs in quant.zig, its CPU dot product in
//! dot.zig, its `DQ_<NAME>` decoder in shaders/dequant.glsl, and one row here.
//! (Imported by build.zig through shaders/variants.zig: depends on nothing but std and the
//! GGUF type ids.)
const std = @import("std");
const GgmlType = @import("../gguf/types.zig").GgmlType;

pub const Capabilities = struct {
    type: GgmlType,
    /// A target of the model quantizer (`pi5_llm_rt quantize`). quant.quantizeRow writes every
    /// type of the table with ggml's reference rounding.
    quantize_target: bool = true,
    /// Activation type of the CPU dot product (core/quant/dot.zig vecDotType).
    dot: GgmlType,
    /// GPU decoder: the `DQ_<NAME>` define of shaders/dequant.glsl; null = no GPU kernels.
    gpu_decode: ?[]const u8,
    /// GPU integer-dot-product mat-vec (`mul_mat_vec_<type>_dp`, Q8_1 activations).
    gpu_int_dot: bool = false,
};

/// The weight types, in the order lists are printed (plain types first).
pub const table = [_]Capabilities{
    .{ .type = .f32, .dot = .f32, .gpu_decode = "DQ_F32" },
    .{ .type = .f16, .dot = .f32, .gpu_decode = "DQ_F16" },
    .{ .type = .bf16, .quantize_target = false, .dot = .f32, .gpu_decode = "DQ_BF16" },
    .{ .type = .q4_0, .dot = .q8_0, .gpu_decode = "DQ_Q4_0", .gpu_int_dot = true },
    .{ .type = .q4_1, .dot = .q8_1, .gpu_decode = "DQ_Q4_1" },
    .{ .type = .q5_0, .dot = .q8_0, .gpu_decode = "DQ_Q5_0" },
    .{ .type = .q5_1, .dot = .q8_1, .gpu_decode = "DQ_Q5_1" },
    .{ .type = .q8_0, .dot = .q8_0, .gpu_decode = "DQ_Q8_0", .gpu_int_dot = true },
    .{ .type = .q4_k, .dot = .q8_k, .gpu_decode = "DQ_Q4_K" },
    .{ .type = .q5_k, .dot = .q8_k, .gpu_decode = "DQ_Q5_K" },
    .{ .type = .q6_k, .dot = .q8_k, .gpu_decode = "DQ_Q6_K" },
};

/// The row of `t`, or null when the runtime cannot compute with weights of that type.
pub fn of(t: GgmlType) ?Capabilities {
    for (table) |row| if (row.type == t) return row;
    return null;
}

fn filter(comptime pred: fn (Capabilities) bool) []const GgmlType {
    comptime {
        var out: [table.len]GgmlType = undefined;
        var n: usize = 0;
        for (table) |row| if (pred(row)) {
            out[n] = row.type;
            n += 1;
        };
        const final = out[0..n].*;
        return &final;
    }
}

fn all(_: Capabilities) bool {
    return true;
}
fn onGpu(c: Capabilities) bool {
    return c.gpu_decode != null;
}
fn quantizable(c: Capabilities) bool {
    return c.quantize_target;
}
fn intDot(c: Capabilities) bool {
    return c.gpu_int_dot;
}

/// Every weight type (CPU mat-mul and get_rows take all of them).
pub const types = filter(all);
/// Types with GPU kernels (get_rows, mat-vec, mat-mat).
pub const gpu_types = filter(onGpu);
/// Targets of the model quantizer.
pub const quantize_types = filter(quantizable);
/// Types with the integer-dot-product mat-vec.
pub const int_dot_types = filter(intDot);

pub fn onGpuType(t: GgmlType) bool {
    const row = of(t) orelse return false;
    return row.gpu_decode != null;
}

test "weight types: every row has a block layout and a dot type with one" {
    for (table) |row| {
        try std.testing.expect(row.type.traits() != null);
        try std.testing.expect(row.dot.traits() != null);
        if (row.gpu_int_dot) try std.testing.expect(row.gpu_decode != null);
    }
    try std.testing.expect(onGpuType(.q6_k) and !onGpuType(.q8_k));
    try std.testing.expectEqual(@as(usize, 11), gpu_types.len);
}

test "weight types: the CPU dot product and quantizer agree with the table" {
    const dot = @import("dot.zig");
    const quant = @import("quant.zig");
    for (table) |row| {
        try std.testing.expectEqual(@as(?GgmlType, row.dot), dot.vecDotType(row.type));
        try std.testing.expect(quant.canQuantize(row.type) and quant.canDequantize(row.type));
    }
}
