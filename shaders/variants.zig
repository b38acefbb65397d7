//! The shader variant table: every SPIR-V module the library embeds, as (name, source, defines).
//! One GLSL source serves several operations or element types through its defines; build.zig
//! compiles each row with glslc, and core/vk looks pipelines up by `name`.
pub const Variant = struct {
    name: []const u8,
    src: []const u8,
    defines: []const []const u8 = &.{},
};

pub const variants = [_]Variant{
    // Element-wise binary ops over f32 with row broadcasting of the second operand.
    .{ .name = "add_f32", .src = "binary.comp", .defines = &.{"OP_ADD"} },
    .{ .name = "mul_f32", .src = "binary.comp", .defines = &.{"OP_MUL"} },
    // A deliberately long-running kernel for the submission-timeout tests.
    .{ .name = "spin", .src = "spin.comp" },
};
