//! ggml tensor types as GGUF stores them: the numeric ids, block sizes and bytes per block.
//! Block layouts (what is inside a block) live in core/quant (CPU) and shaders/dequant.glsl (GPU).
const std = @import("std");

/// ggml_type ids, as written in GGUF tensor infos. Ids absent here are rejected by the reader.
pub const GgmlType = enum(u32) {
    f32 = 0,
    f16 = 1,
    q4_0 = 2,
    q4_1 = 3,
    q5_0 = 6,
    q5_1 = 7,
    q8_0 = 8,
    q8_1 = 9,
    q2_k = 10,
    q3_k = 11,
    q4_k = 12,
    q5_k = 13,
    q6_k = 14,
    q8_k = 15,
    i8 = 24,
    i16 = 25,
    i32 = 26,
    i64 = 27,
    f64 = 28,
    bf16 = 30,
    _,

    pub const Traits = struct {
        /// Elements per block (1 for plain types).
        block_elems: u32,
        /// Bytes per block.
        block_bytes: u32,
        name: []const u8,
    };

    pub fn traits(t: GgmlType) ?Traits {
        return switch (t) {
            .f32 => .{ .block_elems = 1, .block_bytes = 4, .name = "F32" },
            .f16 => .{ .block_elems = 1, .block_bytes = 2, .name = "F16" },
            .bf16 => .{ .block_elems = 1, .block_bytes = 2, .name = "BF16" },
            .f64 => .{ .block_elems = 1, .block_bytes = 8, .name = "F64" },
            .i8 => .{ .block_elems = 1, .block_bytes = 1, .name = "I8" },
            .i16 => .{ .block_elems = 1, .block_bytes = 2, .name = "I16" },
            .i32 => .{ .block_elems = 1, .block_bytes = 4, .name = "I32" },
            .i64 => .{ .block_elems = 1, .block_bytes = 8, .name = "I64" },
            .q4_0 => .{ .block_elems = 32, .block_bytes = 18, .name = "Q4_0" },
            .q4_1 => .{ .block_elems = 32, .block_bytes = 20, .name = "Q4_1" },
            .q5_0 => .{ .block_elems = 32, .block_bytes = 22, .name = "Q5_0" },
            .q5_1 => .{ .block_elems = 32, .block_bytes = 24, .name = "Q5_1" },
            .q8_0 => .{ .block_elems = 32, .block_bytes = 34, .name = "Q8_0" },
            .q8_1 => .{ .block_elems = 32, .block_bytes = 36, .name = "Q8_1" },
            .q2_k => .{ .block_elems = 256, .block_bytes = 84, .name = "Q2_K" },
            .q3_k => .{ .block_elems = 256, .block_bytes = 110, .name = "Q3_K" },
            .q4_k => .{ .block_elems = 256, .block_bytes = 144, .name = "Q4_K" },
            .q5_k => .{ .block_elems = 256, .block_bytes = 176, .name = "Q5_K" },
            .q6_k => .{ .block_elems = 256, .block_bytes = 210, .name = "Q6_K" },
            .q8_k => .{ .block_elems = 256, .block_bytes = 292, .name = "Q8_K" },
            _ => null,
        };
    }

    pub fn name(t: GgmlType) []const u8 {
        return if (t.traits()) |tr| tr.name else "unknown";
    }

    pub fn fromName(s: []const u8) ?GgmlType {
        inline for (@typeInfo(GgmlType).@"enum".fields) |f| {
            const t: GgmlType = @enumFromInt(f.value);
            if (std.ascii.eqlIgnoreCase(s, t.traits().?.name)) return t;
        }
        return null;
    }

    /// Bytes of a row of `n` elements; null when `n` is not a multiple of the block size.
    pub fn rowBytes(t: GgmlType, n: u64) ?u64 {
        const tr = t.traits() orelse return null;
        if (n % tr.block_elems != 0) return null;
        return std.math.mul(u64, n / tr.block_elems, tr.block_bytes) catch null;
    }

    pub fn isQuantized(t: GgmlType) bool {
        const tr = t.traits() orelse return false;
        return tr.block_elems > 1;
    }
};

test "row sizes follow the block layouts" {
    try std.testing.expectEqual(@as(?u64, 18 * 4), GgmlType.q4_0.rowBytes(128));
    try std.testing.expectEqual(@as(?u64, null), GgmlType.q8_0.rowBytes(172));
    try std.testing.expectEqual(@as(?u64, 210), GgmlType.q6_k.rowBytes(256));
    try std.testing.expectEqual(GgmlType.q4_k, GgmlType.fromName("q4_k").?);
    try std.testing.expect(@as(GgmlType, @enumFromInt(99)).traits() == null);
}
