//! GGUF v3 writer. Metadata is serialized as it is put (in insertion order); tensor infos are
//! collected, and tensor data is either given up front (`addTensor` with data, then `write`) or
//! streamed after the header (`addTensor` with null data, `writeHeader`, then `writeData` chunks),
//! so a 13 GB model never has to sit in memory.
const std = @import("std");
const reader = @import("reader.zig");
const types = @import("types.zig");

const GgmlType = types.GgmlType;
const ValueType = reader.ValueType;

pub const Error = error{ DuplicateKey, DuplicateTensor, InvalidTensor, InvalidAlignment, InvalidValue, DataSizeMismatch, OutOfMemory };

/// Progress of a long operation (import, synth, write): `done` of `total` units (bytes of
/// tensor data for writes). Called from the writing thread; must be cheap.
pub const Progress = struct {
    ctx: ?*anyopaque = null,
    func: *const fn (ctx: ?*anyopaque, done: u64, total: u64) void,
    /// When set, the writer stops with error.Aborted after a report that left it true (a
    /// callback that asks to stop sets it).
    stop: ?*const bool = null,

    pub fn report(self: Progress, done: u64, total: u64) void {
        self.func(self.ctx, done, total);
    }

    pub fn stopped(self: Progress) bool {
        return if (self.stop) |s| s.* else false;
    }
};

const PendingTensor = struct {
    name: []const u8,
    type: GgmlType,
    n_dims: u32,
    ne: [reader.max_dims]u64,
    /// Bytes (rowBytes * rows); fixed at add time.
    size: u64,
    /// Given up front, or null when streamed with writeData.
    data: ?[]const u8,
};

pub const Writer = struct {
    alloc: std.mem.Allocator,
    /// Owns key and tensor name copies.
    arena: std.heap.ArenaAllocator,
    kv_bytes: std.ArrayListUnmanaged(u8) = .{},
    n_kv: u64 = 0,
    keys: std.StringHashMapUnmanaged(void) = .{},
    tensors: std.ArrayListUnmanaged(PendingTensor) = .{},
    tensor_names: std.StringHashMapUnmanaged(void) = .{},
    alignment: u32 = reader.default_alignment,
    /// Reported after each completed tensor during writeData/write.
    progress: ?Progress = null,
    // Streaming state, valid after writeHeader.
    cur: usize = 0,
    cur_written: u64 = 0,
    data_done: u64 = 0,

    pub fn init(alloc: std.mem.Allocator) Writer {
        return .{ .alloc = alloc, .arena = std.heap.ArenaAllocator.init(alloc) };
    }

    pub fn deinit(self: *Writer) void {
        self.kv_bytes.deinit(self.alloc);
        self.keys.deinit(self.alloc);
        self.tensors.deinit(self.alloc);
        self.tensor_names.deinit(self.alloc);
        self.arena.deinit();
        self.* = undefined;
    }

    // -- metadata --------------------------------------------------------------------------

    fn beginKey(self: *Writer, key: []const u8, vt: ValueType) Error!void {
        if (self.keys.contains(key)) return error.DuplicateKey;
        const owned = try self.arena.allocator().dupe(u8, key);
        try self.keys.put(self.alloc, owned, {});
        self.n_kv += 1;
        try self.rawString(key);
        try self.rawInt(u32, @intFromEnum(vt));
    }

    fn rawInt(self: *Writer, comptime T: type, v: T) Error!void {
        var b: [@sizeOf(T)]u8 = undefined;
        std.mem.writeInt(T, &b, v, .little);
        try self.kv_bytes.appendSlice(self.alloc, &b);
    }

    fn rawString(self: *Writer, s: []const u8) Error!void {
        try self.rawInt(u64, s.len);
        try self.kv_bytes.appendSlice(self.alloc, s);
    }

    pub fn putU8(self: *Writer, key: []const u8, v: u8) Error!void {
        try self.beginKey(key, .u8);
        try self.rawInt(u8, v);
    }
    pub fn putI8(self: *Writer, key: []const u8, v: i8) Error!void {
        try self.beginKey(key, .i8);
        try self.rawInt(i8, v);
    }
    pub fn putU16(self: *Writer, key: []const u8, v: u16) Error!void {
        try self.beginKey(key, .u16);
        try self.rawInt(u16, v);
    }
    pub fn putI16(self: *Writer, key: []const u8, v: i16) Error!void {
        try self.beginKey(key, .i16);
        try self.rawInt(i16, v);
    }
    /// `general.alignment` also sets the data alignment used for tensors.
    pub fn putU32(self: *Writer, key: []const u8, v: u32) Error!void {
        if (std.mem.eql(u8, key, "general.alignment")) try self.setAlignmentValue(v);
        try self.beginKey(key, .u32);
        try self.rawInt(u32, v);
    }
    pub fn putI32(self: *Writer, key: []const u8, v: i32) Error!void {
        try self.beginKey(key, .i32);
        try self.rawInt(i32, v);
    }
    pub fn putU64(self: *Writer, key: []const u8, v: u64) Error!void {
        try self.beginKey(key, .u64);
        try self.rawInt(u64, v);
    }
    pub fn putI64(self: *Writer, key: []const u8, v: i64) Error!void {
        try self.beginKey(key, .i64);
        try self.rawInt(i64, v);
    }
    pub fn putF32(self: *Writer, key: []const u8, v: f32) Error!void {
        try self.beginKey(key, .f32);
        try self.rawInt(u32, @bitCast(v));
    }
    pub fn putF64(self: *Writer, key: []const u8, v: f64) Error!void {
        try self.beginKey(key, .f64);
        try self.rawInt(u64, @bitCast(v));
    }
    pub fn putBool(self: *Writer, key: []const u8, v: bool) Error!void {
        try self.beginKey(key, .bool);
        try self.rawInt(u8, @intFromBool(v));
    }
    pub fn putString(self: *Writer, key: []const u8, v: []const u8) Error!void {
        try self.beginKey(key, .string);
        try self.rawString(v);
    }

    /// An array of a plain numeric/bool Zig type: u8,i8,u16,i16,u32,i32,f32,bool,u64,i64,f64.
    pub fn putArray(self: *Writer, comptime T: type, key: []const u8, items: []const T) Error!void {
        const et: ValueType = comptime valueTypeOf(T);
        try self.beginKey(key, .array);
        try self.rawInt(u32, @intFromEnum(et));
        try self.rawInt(u64, items.len);
        for (items) |x| switch (T) {
            bool => try self.rawInt(u8, @intFromBool(x)),
            f32 => try self.rawInt(u32, @bitCast(x)),
            f64 => try self.rawInt(u64, @bitCast(x)),
            else => try self.rawInt(T, x),
        };
    }

    pub fn putStringArray(self: *Writer, key: []const u8, items: []const []const u8) Error!void {
        try self.beginKey(key, .array);
        try self.rawInt(u32, @intFromEnum(ValueType.string));
        try self.rawInt(u64, items.len);
        for (items) |s| try self.rawString(s);
    }

    /// Copies a value read from another file (any type, nested arrays included).
    pub fn putValue(self: *Writer, key: []const u8, v: reader.Value) Error!void {
        if (std.mem.eql(u8, key, "general.alignment")) switch (v) {
            .u32 => |x| try self.setAlignmentValue(x),
            else => return error.InvalidAlignment,
        };
        try self.beginKey(key, std.meta.activeTag(v));
        try self.rawValue(v);
    }

    fn rawValue(self: *Writer, v: reader.Value) Error!void {
        switch (v) {
            .string => |s| try self.rawString(s),
            .array => |a| {
                try self.rawInt(u32, @intFromEnum(a.elem_type));
                try self.rawInt(u64, a.len);
                switch (a.elem_type) {
                    .string => for (a.strings) |s| try self.rawString(s),
                    .array => for (a.arrays) |sub| try self.rawValue(.{ .array = sub }),
                    // Scalars are little-endian in every GGUF version: copy verbatim.
                    else => try self.kv_bytes.appendSlice(self.alloc, a.data),
                }
            },
            .u8 => |x| try self.rawInt(u8, x),
            .i8 => |x| try self.rawInt(i8, x),
            .bool => |x| try self.rawInt(u8, @intFromBool(x)),
            .u16 => |x| try self.rawInt(u16, x),
            .i16 => |x| try self.rawInt(i16, x),
            .u32 => |x| try self.rawInt(u32, x),
            .i32 => |x| try self.rawInt(i32, x),
            .f32 => |x| try self.rawInt(u32, @bitCast(x)),
            .u64 => |x| try self.rawInt(u64, x),
            .i64 => |x| try self.rawInt(i64, x),
            .f64 => |x| try self.rawInt(u64, @bitCast(x)),
        }
    }

    fn setAlignmentValue(self: *Writer, v: u32) Error!void {
        if (v == 0 or !std.math.isPowerOfTwo(v)) return error.InvalidAlignment;
        if (self.tensors.items.len != 0 and v != self.alignment) {
            // Offsets are computed at writeHeader, but refuse late changes to keep things simple.
            return error.InvalidAlignment;
        }
        self.alignment = v;
    }

    // -- tensors ---------------------------------------------------------------------------

    /// `ne[0]` is the row length. `data` (if given) must stay alive until write/writeHeader's
    /// data phase is done; pass null to stream it later with writeData.
    pub fn addTensor(self: *Writer, name: []const u8, t: GgmlType, ne: []const u64, data: ?[]const u8) Error!void {
        if (ne.len < 1 or ne.len > reader.max_dims) return error.InvalidTensor;
        if (name.len == 0 or name.len > reader.max_tensor_name_len) return error.InvalidTensor;
        if (self.tensor_names.contains(name)) return error.DuplicateTensor;
        var dims = [_]u64{1} ** reader.max_dims;
        var rows: u64 = 1;
        for (ne, 0..) |d, i| {
            if (d == 0) return error.InvalidTensor;
            dims[i] = d;
            if (i > 0) rows = std.math.mul(u64, rows, d) catch return error.InvalidTensor;
        }
        const row = t.rowBytes(dims[0]) orelse return error.InvalidTensor;
        const size = std.math.mul(u64, row, rows) catch return error.InvalidTensor;
        if (data) |d| if (d.len != size) return error.DataSizeMismatch;
        const owned = try self.arena.allocator().dupe(u8, name);
        try self.tensor_names.put(self.alloc, owned, {});
        try self.tensors.append(self.alloc, .{
            .name = owned,
            .type = t,
            .n_dims = @intCast(ne.len),
            .ne = dims,
            .size = size,
            .data = data,
        });
    }

    /// Total bytes of the file that write() would produce.
    pub fn fileSize(self: *const Writer) u64 {
        var off = std.mem.alignForward(u64, self.headerSize(), self.alignment);
        for (self.tensors.items) |t| off = std.mem.alignForward(u64, off + t.size, self.alignment);
        return off;
    }

    fn headerSize(self: *const Writer) u64 {
        var n: u64 = 4 + 4 + 8 + 8 + self.kv_bytes.items.len;
        for (self.tensors.items) |t| n += 8 + t.name.len + 4 + 8 * @as(u64, t.n_dims) + 4 + 8;
        return n;
    }

    // -- output ----------------------------------------------------------------------------

    /// Writes magic, counts, metadata, tensor infos and padding up to the data section.
    pub fn writeHeader(self: *Writer, out: anytype) !void {
        try out.writeAll(reader.magic);
        try out.writeInt(u32, 3, .little);
        try out.writeInt(u64, self.tensors.items.len, .little);
        try out.writeInt(u64, self.n_kv, .little);
        try out.writeAll(self.kv_bytes.items);
        var offset: u64 = 0;
        for (self.tensors.items) |t| {
            try out.writeInt(u64, t.name.len, .little);
            try out.writeAll(t.name);
            try out.writeInt(u32, t.n_dims, .little);
            for (t.ne[0..t.n_dims]) |d| try out.writeInt(u64, d, .little);
            try out.writeInt(u32, @intFromEnum(t.type), .little);
            try out.writeInt(u64, offset, .little);
            offset = std.mem.alignForward(u64, offset + t.size, self.alignment);
        }
        const h = self.headerSize();
        try out.writeByteNTimes(0, std.mem.alignForward(u64, h, self.alignment) - h);
        self.cur = 0;
        self.cur_written = 0;
        self.data_done = 0;
    }

    /// Bytes of tensor data (without padding).
    pub fn dataSize(self: *const Writer) u64 {
        var n: u64 = 0;
        for (self.tensors.items) |t| n += t.size;
        return n;
    }

    /// Appends bytes to the tensor data in tensor order (chunks may span tensors); pads after
    /// each tensor is complete.
    pub fn writeData(self: *Writer, out: anytype, bytes: []const u8) !void {
        var rest = bytes;
        while (rest.len > 0) {
            if (self.cur >= self.tensors.items.len) return error.DataSizeMismatch;
            const t = self.tensors.items[self.cur];
            const n: usize = @intCast(@min(rest.len, t.size - self.cur_written));
            try out.writeAll(rest[0..n]);
            rest = rest[n..];
            self.cur_written += n;
            if (self.cur_written == t.size) {
                try out.writeByteNTimes(0, std.mem.alignForward(u64, t.size, self.alignment) - t.size);
                self.cur += 1;
                self.cur_written = 0;
                self.data_done += t.size;
                if (self.progress) |p| {
                    p.report(self.data_done, self.dataSize());
                    if (p.stopped()) return error.Aborted;
                }
            }
        }
    }

    /// Index of the tensor writeData is filling next (== tensor count when all are done).
    pub fn currentTensor(self: *const Writer) usize {
        return self.cur;
    }

    pub fn finish(self: *const Writer) Error!void {
        if (self.cur != self.tensors.items.len) return error.DataSizeMismatch;
    }

    /// Header plus all tensor data given to addTensor.
    pub fn write(self: *Writer, out: anytype) !void {
        try self.writeHeader(out);
        for (self.tensors.items) |t| try self.writeData(out, t.data orelse return error.DataSizeMismatch);
        try self.finish();
    }

    /// write() to a new file at `path` (buffered; replaced if it exists).
    pub fn writeToFile(self: *Writer, path: []const u8) !void {
        // Written to a temporary file beside path and renamed over it when complete: a killed
        // or failed write never leaves a truncated file at path.
        var af = try std.fs.cwd().atomicFile(path, .{});
        defer af.deinit();
        var bw = std.io.bufferedWriter(af.file.writer());
        try self.write(bw.writer());
        try bw.flush();
        try af.finish();
    }
};

fn valueTypeOf(comptime T: type) ValueType {
    return switch (T) {
        u8 => .u8,
        i8 => .i8,
        u16 => .u16,
        i16 => .i16,
        u32 => .u32,
        i32 => .i32,
        f32 => .f32,
        bool => .bool,
        u64 => .u64,
        i64 => .i64,
        f64 => .f64,
        else => @compileError("no GGUF array type for " ++ @typeName(T)),
    };
}

/// Copies all metadata and tensors of `f` into a fresh writer (the caller writes it out).
/// Tensor data stays a slice of `f`, which must outlive the writer's output.
pub fn copyFile(alloc: std.mem.Allocator, f: *const reader.File) !Writer {
    var w = Writer.init(alloc);
    errdefer w.deinit();
    for (f.keys()) |kv| try w.putValue(kv.key, kv.value);
    for (f.tensors) |t| try w.addTensor(t.name, t.type, t.ne[0..t.n_dims], t.data);
    return w;
}

// ---------------------------------------------------------------------------------------------
// Tests

const testing = std.testing;

fn expectSameFile(a: *const reader.File, b: *const reader.File) !void {
    try testing.expectEqual(a.keys().len, b.keys().len);
    for (a.keys(), b.keys()) |x, y| {
        try testing.expectEqualStrings(x.key, y.key);
        try expectSameValue(x.value, y.value);
    }
    try testing.expectEqual(a.tensors.len, b.tensors.len);
    for (a.tensors, b.tensors) |x, y| {
        try testing.expectEqualStrings(x.name, y.name);
        try testing.expectEqual(x.type, y.type);
        try testing.expectEqual(x.n_dims, y.n_dims);
        try testing.expectEqual(x.ne, y.ne);
        try testing.expectEqualSlices(u8, x.data, y.data);
    }
}

fn expectSameValue(x: reader.Value, y: reader.Value) !void {
    try testing.expectEqual(std.meta.activeTag(x), std.meta.activeTag(y));
    switch (x) {
        .string => |s| try testing.expectEqualStrings(s, y.string),
        .array => |a| {
            const b = y.array;
            try testing.expectEqual(a.elem_type, b.elem_type);
            try testing.expectEqual(a.len, b.len);
            try testing.expectEqualSlices(u8, a.data, b.data);
            for (a.strings, b.strings) |s, t| try testing.expectEqualStrings(s, t);
            for (a.arrays, b.arrays) |s, t| try expectSameValue(.{ .array = s }, .{ .array = t });
        },
        else => try testing.expectEqual(x, y),
    }
}

fn roundTrip(rel: []const u8) !void {
    var src = try reader.openFixture(testing.allocator, rel, null);
    defer src.deinit();
    var w = try copyFile(testing.allocator, &src);
    defer w.deinit();
    var out = std.ArrayList(u8).init(testing.allocator);
    defer out.deinit();
    try w.write(out.writer());
    try testing.expectEqual(w.fileSize(), out.items.len);
    var diag = reader.Diagnostic{};
    var back = reader.File.parse(testing.allocator, out.items, &diag) catch |e| {
        std.debug.print("{s}\n", .{diag.message()});
        return e;
    };
    defer back.deinit();
    try testing.expectEqual(@as(u32, 3), back.version);
    try expectSameFile(&src, &back);
    // llama.cpp's own writer lays a v3 file out exactly as ours does.
    if (src.version == 3) try testing.expectEqualSlices(u8, src.bytes, out.items);
}

test "stories260K.gguf: read, write, read gives identical metadata and tensor bytes" {
    try roundTrip("stories260K.gguf");
}

test "GGUF v1 file rewritten as v3 keeps metadata and tensors" {
    try roundTrip("legacy/stories260K-f32-ggufv1.gguf");
}

test "built in memory: every value type, nested arrays, custom alignment, streamed data" {
    var w = Writer.init(testing.allocator);
    defer w.deinit();
    try w.putU32("general.alignment", 64);
    try w.putString("general.architecture", "test");
    try w.putU8("a.u8", 200);
    try w.putI8("a.i8", -5);
    try w.putU16("a.u16", 60000);
    try w.putI16("a.i16", -300);
    try w.putI32("a.i32", -70000);
    try w.putF32("a.f32", 1.5);
    try w.putBool("a.bool", true);
    try w.putU64("a.u64", 1 << 40);
    try w.putI64("a.i64", -(1 << 40));
    try w.putF64("a.f64", 0.25);
    try w.putArray(f32, "a.floats", &.{ 1, 2, 3 });
    try w.putArray(bool, "a.bools", &.{ true, false });
    try w.putStringArray("a.strings", &.{ "x", "", "zz" });
    const inner = [_]reader.Array{
        .{ .elem_type = .u8, .len = 2, .data = "ab" },
        .{ .elem_type = .string, .len = 1, .strings = &.{"s"} },
    };
    try w.putValue("a.nested", .{ .array = .{ .elem_type = .array, .len = 2, .arrays = &inner } });
    try testing.expectError(error.DuplicateKey, w.putU8("a.u8", 1));
    const data = [_]u8{7} ** 24;
    try w.addTensor("t0", .f32, &.{ 3, 2 }, null);
    try w.addTensor("t1", .i8, &.{5}, null);
    try testing.expectError(error.InvalidTensor, w.addTensor("bad", .q8_0, &.{172}, null));
    try testing.expectError(error.DuplicateTensor, w.addTensor("t0", .f32, &.{1}, null));

    var out = std.ArrayList(u8).init(testing.allocator);
    defer out.deinit();
    try w.writeHeader(out.writer());
    // Chunks that straddle the tensor boundary.
    try w.writeData(out.writer(), data[0..10]);
    try w.writeData(out.writer(), data[10..]);
    const Count = struct {
        fn f(ctx: ?*anyopaque, done: u64, total: u64) void {
            const c: *[2]u64 = @ptrCast(@alignCast(ctx.?));
            c.* = .{ done, total };
        }
    };
    var seen = [2]u64{ 0, 0 };
    w.progress = .{ .ctx = &seen, .func = Count.f };
    try w.writeData(out.writer(), "abcde");
    try w.finish();
    try testing.expectEqual([2]u64{ 29, 29 }, seen);
    try testing.expectEqual(w.fileSize(), out.items.len);

    var f = try reader.File.parse(testing.allocator, out.items, null);
    defer f.deinit();
    try testing.expectEqual(@as(u32, 64), f.alignment);
    try testing.expectEqual(@as(?u32, 200), f.getU32("a.u8"));
    try testing.expectEqual(@as(?i64, -(1 << 40)), f.getI64("a.i64"));
    try testing.expectEqual(@as(?f32, 0.25), f.getF32("a.f64"));
    try testing.expectEqual(@as(?bool, true), f.getBool("a.bool"));
    try testing.expectEqual(@as(?f64, 3), f.getArray("a.floats").?.float(2));
    try testing.expectEqualStrings("zz", f.getArray("a.strings").?.string(2).?);
    const nested = f.getArray("a.nested").?;
    try testing.expectEqual(@as(?i64, 'b'), nested.get(0).?.array.int(1));
    try testing.expectEqualStrings("s", nested.get(1).?.array.string(0).?);
    try testing.expectEqual(@as(u64, 64), f.findTensor("t1").?.offset);
    try testing.expectEqualStrings("abcde", f.findTensor("t1").?.data);
    try testing.expectEqual(f.data_offset % 64, 0);
}
