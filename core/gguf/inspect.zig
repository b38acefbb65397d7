//! Human-readable dump of a GGUF file, laid out like llama.cpp's gguf-dump: one line per
//! metadata key (arrays abbreviated) then the tensor table. Backs the CLI's `inspect`.
const std = @import("std");
const reader = @import("reader.zig");

pub const Options = struct {
    /// Array elements shown before "...".
    max_array_items: usize = 8,
    /// Strings longer than this are cut (chat templates are kilobytes).
    max_string_len: usize = 60,
    show_metadata: bool = true,
    show_tensors: bool = true,
};

pub fn dump(file: *const reader.File, writer: anytype, opts: Options) !void {
    if (opts.show_metadata) try dumpMetadata(file, writer, opts);
    if (opts.show_tensors) try dumpTensors(file, writer);
}

fn typeLabel(v: reader.Value) []const u8 {
    return switch (v) {
        .array => |a| switch (a.elem_type) {
            .string => "[STRING]",
            .array => "[ARRAY]",
            .f32 => "[FLOAT32]",
            .i32 => "[INT32]",
            .u32 => "[UINT32]",
            else => "[...]",
        },
        .u8 => "UINT8",
        .i8 => "INT8",
        .u16 => "UINT16",
        .i16 => "INT16",
        .u32 => "UINT32",
        .i32 => "INT32",
        .f32 => "FLOAT32",
        .bool => "BOOL",
        .string => "STRING",
        .u64 => "UINT64",
        .i64 => "INT64",
        .f64 => "FLOAT64",
    };
}

fn dumpMetadata(file: *const reader.File, w: anytype, opts: Options) !void {
    const kvs = file.keys();
    try w.print("* GGUF v{d}, {d} key/value pair(s) (+3 header fields), alignment {d}, data at offset 0x{x}\n", .{
        file.version, kvs.len, file.alignment, file.data_offset,
    });
    try w.print("{d:>7}: {s:<10} | {d:>8} | GGUF.version = {d}\n", .{ 1, "UINT32", 1, file.version });
    try w.print("{d:>7}: {s:<10} | {d:>8} | GGUF.tensor_count = {d}\n", .{ 2, "UINT64", 1, file.tensors.len });
    try w.print("{d:>7}: {s:<10} | {d:>8} | GGUF.kv_count = {d}\n", .{ 3, "UINT64", 1, kvs.len });
    for (kvs, 4..) |kv, i| {
        const n: u64 = switch (kv.value) {
            .array => |a| a.len,
            else => 1,
        };
        try w.print("{d:>7}: {s:<10} | {d:>8} | {s} = ", .{ i, typeLabel(kv.value), n, kv.key });
        try printValue(w, kv.value, opts);
        try w.writeByte('\n');
    }
}

fn printString(w: anytype, s: []const u8, opts: Options) !void {
    const cut = s.len > opts.max_string_len;
    const shown = if (cut) s[0..opts.max_string_len] else s;
    try w.print("'{}'", .{std.zig.fmtEscapes(shown)});
    if (cut) try w.print("... ({d} bytes)", .{s.len});
}

fn printValue(w: anytype, v: reader.Value, opts: Options) @TypeOf(w).Error!void {
    switch (v) {
        .string => |s| try printString(w, s, opts),
        .array => |a| {
            try w.writeByte('[');
            const shown = @min(a.len, opts.max_array_items);
            var i: u64 = 0;
            while (i < shown) : (i += 1) {
                if (i > 0) try w.writeAll(", ");
                try printValue(w, a.get(i).?, opts);
            }
            if (a.len > shown) try w.print(", ... ({d} more)", .{a.len - shown});
            try w.writeByte(']');
        },
        .bool => |b| try w.writeAll(if (b) "true" else "false"),
        .f32 => |x| try w.print("{d}", .{x}),
        .f64 => |x| try w.print("{d}", .{x}),
        else => try w.print("{d}", .{v.asInt().?}),
    }
}

fn dumpTensors(file: *const reader.File, w: anytype) !void {
    var total: u64 = 0;
    for (file.tensors) |t| total += t.nBytes();
    try w.print("* {d} tensor(s), {d} bytes of data\n", .{ file.tensors.len, total });
    for (file.tensors, 1..) |t, i| {
        try w.print("{d:>7}: {d:>10} | {d:>6}, {d:>6}, {d:>6}, {d:>6} | {s:<5} | {s}\n", .{
            i, t.nElements(), t.ne[0], t.ne[1], t.ne[2], t.ne[3], t.type.name(), t.name,
        });
    }
}

const testing = std.testing;

test "dump of stories260K.gguf lists keys, abbreviated arrays and the tensor table" {
    var f = try reader.openFixture(testing.allocator, "stories260K.gguf", null);
    defer f.deinit();
    var out = std.ArrayList(u8).init(testing.allocator);
    defer out.deinit();
    try dump(&f, out.writer(), .{ .max_array_items = 3 });
    const s = out.items;
    try testing.expect(std.mem.indexOf(u8, s, "general.architecture = 'llama'") != null);
    try testing.expect(std.mem.indexOf(u8, s, "llama.embedding_length = 64") != null);
    try testing.expect(std.mem.indexOf(u8, s, "[STRING]   |      512 | tokenizer.ggml.tokens = ['<unk>', '<s>', '</s>', ... (509 more)]") != null);
    try testing.expect(std.mem.indexOf(u8, s, "|     64,    512,      1,      1 | F32   | token_embd.weight") != null);
    try testing.expect(std.mem.indexOf(u8, s, "* 48 tensor(s)") != null);
}
