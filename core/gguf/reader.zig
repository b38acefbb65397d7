//! GGUF v1/v2/v3 reader. The file is memory-mapped read-only; metadata strings and tensor data are
//! slices of that mapping, so a File must outlive every slice taken from it.
//!
//! Everything read from the file is untrusted: each count and length is checked against the bytes
//! that remain before anything is allocated for it, so a hostile header fails fast instead of
//! asking for gigabytes. Errors come back as `error.InvalidGguf` plus a human-readable Diagnostic
//! naming the key or tensor and the file offset.
const std = @import("std");
const types = @import("types.zig");

pub const GgmlType = types.GgmlType;

pub const magic = "GGUF";
pub const default_alignment: u32 = 32;
/// ggml's GGML_MAX_DIMS.
pub const max_dims = 4;
/// ggml's GGML_MAX_NAME includes the terminating NUL.
pub const max_tensor_name_len = 63;
/// llama.cpp does not use nested arrays at all; a small limit stops recursion bombs.
pub const max_array_depth = 3;

pub const Error = error{ InvalidGguf, OutOfMemory };

pub const ValueType = enum(u32) {
    u8 = 0,
    i8 = 1,
    u16 = 2,
    i16 = 3,
    u32 = 4,
    i32 = 5,
    f32 = 6,
    bool = 7,
    string = 8,
    array = 9,
    u64 = 10,
    i64 = 11,
    f64 = 12,

    pub fn fromInt(v: u32) ?ValueType {
        return if (v <= 12) @enumFromInt(v) else null;
    }

    /// Encoded size of a scalar; null for string and array (variable length).
    pub fn scalarSize(t: ValueType) ?u8 {
        return switch (t) {
            .u8, .i8, .bool => 1,
            .u16, .i16 => 2,
            .u32, .i32, .f32 => 4,
            .u64, .i64, .f64 => 8,
            .string, .array => null,
        };
    }
};

/// An array value. Scalar elements stay as raw little-endian bytes in the mapping (`data`);
/// strings and nested arrays are indexed at parse time so that element access is O(1).
pub const Array = struct {
    elem_type: ValueType,
    len: u64,
    /// Raw element bytes for scalar element types (len * scalarSize), else empty.
    data: []const u8 = &.{},
    /// Elements when elem_type == .string, else empty.
    strings: []const []const u8 = &.{},
    /// Elements when elem_type == .array, else empty.
    arrays: []const Array = &.{},

    pub fn get(self: Array, i: u64) ?Value {
        if (i >= self.len) return null;
        const idx: usize = @intCast(i);
        return switch (self.elem_type) {
            .string => .{ .string = self.strings[idx] },
            .array => .{ .array = self.arrays[idx] },
            else => |t| scalarAt(t, self.data, idx),
        };
    }

    pub fn string(self: Array, i: u64) ?[]const u8 {
        if (self.elem_type != .string or i >= self.len) return null;
        return self.strings[@intCast(i)];
    }

    /// f32/f64 elements (integers too: a score array written as ints is still usable).
    pub fn float(self: Array, i: u64) ?f64 {
        const v = self.get(i) orelse return null;
        return v.asFloat();
    }

    /// Integer elements whose value fits an i64.
    pub fn int(self: Array, i: u64) ?i64 {
        const v = self.get(i) orelse return null;
        const x = v.asInt() orelse return null;
        return std.math.cast(i64, x);
    }
};

pub const Value = union(ValueType) {
    u8: u8,
    i8: i8,
    u16: u16,
    i16: i16,
    u32: u32,
    i32: i32,
    f32: f32,
    bool: bool,
    string: []const u8,
    array: Array,
    u64: u64,
    i64: i64,
    f64: f64,

    /// Any integer type, widened so that both u64 and i64 fit.
    pub fn asInt(self: Value) ?i128 {
        return switch (self) {
            .u8 => |x| x,
            .i8 => |x| x,
            .u16 => |x| x,
            .i16 => |x| x,
            .u32 => |x| x,
            .i32 => |x| x,
            .u64 => |x| x,
            .i64 => |x| x,
            else => null,
        };
    }

    pub fn asFloat(self: Value) ?f64 {
        return switch (self) {
            .f32 => |x| x,
            .f64 => |x| x,
            else => if (self.asInt()) |x| @floatFromInt(x) else null,
        };
    }
};

fn scalarAt(t: ValueType, data: []const u8, idx: usize) Value {
    const size = t.scalarSize().?;
    const p = data[idx * size ..][0..size];
    return switch (t) {
        .u8 => .{ .u8 = p[0] },
        .i8 => .{ .i8 = @bitCast(p[0]) },
        .bool => .{ .bool = p[0] != 0 },
        .u16 => .{ .u16 = std.mem.readInt(u16, p[0..2], .little) },
        .i16 => .{ .i16 = std.mem.readInt(i16, p[0..2], .little) },
        .u32 => .{ .u32 = std.mem.readInt(u32, p[0..4], .little) },
        .i32 => .{ .i32 = std.mem.readInt(i32, p[0..4], .little) },
        .f32 => .{ .f32 = @bitCast(std.mem.readInt(u32, p[0..4], .little)) },
        .u64 => .{ .u64 = std.mem.readInt(u64, p[0..8], .little) },
        .i64 => .{ .i64 = std.mem.readInt(i64, p[0..8], .little) },
        .f64 => .{ .f64 = @bitCast(std.mem.readInt(u64, p[0..8], .little)) },
        .string, .array => unreachable,
    };
}

pub const KeyValue = struct {
    key: []const u8,
    value: Value,
    /// File offset of the key's length field, for diagnostics by later consumers.
    offset: u64,
};

pub const TensorInfo = struct {
    name: []const u8,
    type: GgmlType,
    n_dims: u32,
    /// ne[0] is the row length (contiguous dimension), as in ggml; unused dims are 1.
    ne: [max_dims]u64,
    /// Relative to the start of the data section.
    offset: u64,
    /// The tensor's bytes, a slice of the mapping.
    data: []const u8,

    pub fn nElements(self: TensorInfo) u64 {
        return self.ne[0] * self.ne[1] * self.ne[2] * self.ne[3];
    }

    pub fn nBytes(self: TensorInfo) u64 {
        return self.data.len;
    }

    pub fn nRows(self: TensorInfo) u64 {
        return self.ne[1] * self.ne[2] * self.ne[3];
    }
};

/// Filled on failure with what went wrong and where. Lives on the caller's stack.
pub const Diagnostic = struct {
    buf: [512]u8 = undefined,
    len: usize = 0,
    offset: ?u64 = null,

    pub fn message(self: *const Diagnostic) []const u8 {
        return self.buf[0..self.len];
    }

    /// Formats into the buffer, truncating (never failing) when the message is too long.
    pub fn set(self: *Diagnostic, offset: ?u64, comptime fmt: []const u8, args: anytype) void {
        self.offset = offset;
        var fbs = std.io.fixedBufferStream(&self.buf);
        fbs.writer().print(fmt, args) catch {};
        if (offset) |o| fbs.writer().print(" (at offset 0x{x})", .{o}) catch {};
        self.len = fbs.pos;
    }
};

/// Records the diagnostic if the caller asked for one, and yields the error to return.
fn fail(diag: ?*Diagnostic, offset: ?u64, comptime fmt: []const u8, args: anytype) error{InvalidGguf} {
    if (diag) |d| d.set(offset, fmt, args);
    return error.InvalidGguf;
}

pub const File = struct {
    version: u32,
    alignment: u32,
    tensors: []TensorInfo,
    /// File offset of the data section (tensor offsets are relative to it).
    data_offset: u64,
    /// The whole file.
    bytes: []const u8,
    kvs: []KeyValue,

    /// Set when open() mapped the file; parse() leaves it null and does not own `bytes`.
    mapping: ?[]align(std.mem.page_size) const u8 = null,
    /// The mapping is a heap copy of the file (`OpenOptions.mmap = false`), not a file mapping.
    heap_copy: bool = false,
    arena: std.heap.ArenaAllocator.State,
    child_alloc: std.mem.Allocator,
    kv_index: std.StringHashMapUnmanaged(u32),
    tensor_index: std.StringHashMapUnmanaged(u32),

    pub const OpenOptions = struct {
        /// false: read the whole file into memory and close it, so that nothing refers to the
        /// file afterwards (truncating or rewriting it while loaded cannot fault a later read);
        /// llama.cpp's `use_mmap = false`. Costs a read of the file and memory for all of it.
        mmap: bool = true,
    };

    /// Maps `path` read-only, parses and validates it.
    pub fn open(alloc: std.mem.Allocator, path: []const u8, diag: ?*Diagnostic) !File {
        return openWith(alloc, path, diag, .{});
    }

    /// `open` with options (see OpenOptions).
    pub fn openWith(alloc: std.mem.Allocator, path: []const u8, diag: ?*Diagnostic, opts: OpenOptions) !File {
        // Only regular files (or symlinks to one): open() of a FIFO blocks until a writer
        // comes, a directory cannot be mapped, a device may never end.
        const kind = if (std.fs.cwd().statFile(path)) |s| s.kind else |e| {
            if (diag) |d| d.set(null, "cannot open '{s}': {s}", .{ path, @errorName(e) });
            return e;
        };
        switch (kind) {
            .file => {},
            .directory => {
                if (diag) |d| d.set(null, "'{s}' is a directory, not a model file", .{path});
                return error.IsDir;
            },
            else => {
                if (diag) |d| d.set(null, "'{s}' is not a regular file ({s})", .{ path, @tagName(kind) });
                return error.NotAFile;
            },
        }
        const file = std.fs.cwd().openFile(path, .{}) catch |e| {
            if (diag) |d| d.set(null, "cannot open '{s}': {s}", .{ path, @errorName(e) });
            return e;
        };
        defer file.close();
        const size = try file.getEndPos();
        // mmap of length 0 is EINVAL (a panic in std.posix), so reject empty files first.
        if (size < 8) return fail(diag, 0, "file '{s}' is {d} bytes, too short for a GGUF header", .{ path, size });
        const len = std.math.cast(usize, size) orelse return fail(diag, null, "file too large to map", .{});
        if (!opts.mmap) {
            const buf = try std.heap.page_allocator.alignedAlloc(u8, std.mem.page_size, len);
            errdefer std.heap.page_allocator.free(buf);
            const n = file.preadAll(buf, 0) catch |e| {
                if (diag) |d| d.set(null, "cannot read '{s}': {s}", .{ path, @errorName(e) });
                return e;
            };
            if (n != len) return fail(diag, n, "file '{s}' shrank while it was read ({d} of {d} bytes)", .{ path, n, len });
            var f = try parse(alloc, buf, diag);
            f.mapping = buf;
            f.heap_copy = true;
            return f;
        }
        const map = try std.posix.mmap(null, len, std.posix.PROT.READ, .{ .TYPE = .PRIVATE }, file.handle, 0);
        errdefer std.posix.munmap(map);
        var f = try parse(alloc, map, diag);
        f.mapping = map;
        return f;
    }

    /// Parses a GGUF image already in memory. `bytes` must outlive the File.
    pub fn parse(alloc: std.mem.Allocator, bytes: []const u8, diag: ?*Diagnostic) Error!File {
        var arena = std.heap.ArenaAllocator.init(alloc);
        errdefer arena.deinit();
        var p = Parser{ .bytes = bytes, .a = arena.allocator(), .diag = diag };
        var f = try p.parseAll();
        f.arena = arena.state;
        f.child_alloc = alloc;
        return f;
    }

    pub fn deinit(self: *File) void {
        var arena = self.arena.promote(self.child_alloc);
        arena.deinit();
        if (self.mapping) |m| {
            if (self.heap_copy) std.heap.page_allocator.free(m) else std.posix.munmap(m);
        }
        self.* = undefined;
    }

    pub fn get(self: *const File, key: []const u8) ?Value {
        const i = self.kv_index.get(key) orelse return null;
        return self.kvs[i].value;
    }

    /// Any integer type whose value fits a u32.
    pub fn getU32(self: *const File, key: []const u8) ?u32 {
        const v = self.get(key) orelse return null;
        return std.math.cast(u32, v.asInt() orelse return null);
    }

    pub fn getU64(self: *const File, key: []const u8) ?u64 {
        const v = self.get(key) orelse return null;
        return std.math.cast(u64, v.asInt() orelse return null);
    }

    pub fn getI64(self: *const File, key: []const u8) ?i64 {
        const v = self.get(key) orelse return null;
        return std.math.cast(i64, v.asInt() orelse return null);
    }

    /// f32 or f64 (narrowed).
    pub fn getF32(self: *const File, key: []const u8) ?f32 {
        return switch (self.get(key) orelse return null) {
            .f32 => |x| x,
            .f64 => |x| @floatCast(x),
            else => null,
        };
    }

    pub fn getBool(self: *const File, key: []const u8) ?bool {
        return switch (self.get(key) orelse return null) {
            .bool => |x| x,
            else => null,
        };
    }

    pub fn getString(self: *const File, key: []const u8) ?[]const u8 {
        return switch (self.get(key) orelse return null) {
            .string => |x| x,
            else => null,
        };
    }

    pub fn getArray(self: *const File, key: []const u8) ?Array {
        return switch (self.get(key) orelse return null) {
            .array => |x| x,
            else => null,
        };
    }

    pub fn findTensor(self: *const File, name: []const u8) ?*const TensorInfo {
        const i = self.tensor_index.get(name) orelse return null;
        return &self.tensors[i];
    }

    /// All key/value pairs in file order.
    pub fn keys(self: *const File) []const KeyValue {
        return self.kvs;
    }

    /// `general.architecture`, the prefix of the model's hyperparameter keys.
    pub fn architecture(self: *const File) ?[]const u8 {
        return self.getString("general.architecture");
    }
};

/// Sequential, bounds-checked decoding of the header. Counts are u32 in v1 and u64 from v2 on.
const Parser = struct {
    bytes: []const u8,
    pos: usize = 0,
    version: u32 = 0,
    a: std.mem.Allocator,
    diag: ?*Diagnostic,

    fn remaining(p: *const Parser) u64 {
        return p.bytes.len - p.pos;
    }

    fn take(p: *Parser, n: u64, what: []const u8) ![]const u8 {
        if (n > p.remaining())
            return fail(p.diag, p.pos, "truncated file: {s} needs {d} bytes, {d} remain", .{ what, n, p.remaining() });
        const s = p.bytes[p.pos..][0..@intCast(n)];
        p.pos += @intCast(n);
        return s;
    }

    fn int(p: *Parser, comptime T: type, what: []const u8) !T {
        const s = try p.take(@sizeOf(T), what);
        return std.mem.readInt(T, s[0..@sizeOf(T)], .little);
    }

    /// A count or length field: u32 in v1, u64 later.
    fn count(p: *Parser, what: []const u8) !u64 {
        return if (p.version == 1) try p.int(u32, what) else try p.int(u64, what);
    }

    fn countSize(p: *const Parser) u64 {
        return if (p.version == 1) 4 else 8;
    }

    /// Rejects a count before allocating for it: each item needs at least `min_item` bytes.
    fn checkCount(p: *Parser, n: u64, min_item: u64, at: usize, what: []const u8, name: []const u8) !void {
        const need = std.math.mul(u64, n, min_item) catch std.math.maxInt(u64);
        if (need > p.remaining())
            return fail(p.diag, at, "{s}{s}{s}: count {d} needs at least {d} bytes but only {d} remain (truncated or corrupt)", .{
                what, if (name.len > 0) " of " else "", name, n, need, p.remaining(),
            });
    }

    fn string(p: *Parser, what: []const u8) ![]const u8 {
        const at = p.pos;
        const n = try p.count(what);
        if (n > p.remaining())
            return fail(p.diag, at, "{s}: string length {d} exceeds the {d} bytes remaining", .{ what, n, p.remaining() });
        return p.take(n, what);
    }

    fn parseAll(p: *Parser) Error!File {
        const head = try p.take(4, "magic");
        if (!std.mem.eql(u8, head, magic)) {
            // Legacy ggml files start with the u32 'ggjt'/'ggmf'/'ggml' (little-endian bytes reversed).
            for ([_][]const u8{ "tjgg", "fmgg", "lmgg" }) |legacy| if (std.mem.eql(u8, head, legacy))
                return fail(p.diag, 0, "bad magic {s}: a legacy GGML/GGJT file, not GGUF; convert it with `pi5_llm_rt convert --ggjt IN.bin OUT.gguf`", .{head});
            return fail(p.diag, 0, "bad magic {s}: not a GGUF file (a llama2.c checkpoint converts with `pi5_llm_rt convert --checkpoint X.bin --tokenizer T.bin OUT.gguf`)", .{std.fmt.fmtSliceHexLower(head)});
        }
        p.version = try p.int(u32, "version");
        if (p.version < 1 or p.version > 3) {
            if (@byteSwap(p.version) >= 1 and @byteSwap(p.version) <= 3)
                return fail(p.diag, 4, "big-endian GGUF (version {d} byte-swapped) is not supported", .{@byteSwap(p.version)});
            return fail(p.diag, 4, "unsupported GGUF version {d} (supported: 1, 2, 3)", .{p.version});
        }
        const n_tensors_at = p.pos;
        const n_tensors = try p.count("tensor count");
        const n_kv_at = p.pos;
        const n_kv = try p.count("metadata key count");
        // Smallest possible key/value: key length + empty key + type + 1-byte value.
        try p.checkCount(n_kv, p.countSize() + 4 + 1, n_kv_at, "metadata key count", "");
        // Smallest possible tensor info: name length + empty name + n_dims + type + offset.
        try p.checkCount(n_tensors, p.countSize() + 4 + 4 + 8, n_tensors_at, "tensor count", "");

        const kvs = try p.a.alloc(KeyValue, @intCast(n_kv));
        var kv_index = std.StringHashMapUnmanaged(u32){};
        try kv_index.ensureTotalCapacity(p.a, @intCast(n_kv));
        for (kvs, 0..) |*kv, i| {
            kv.* = try p.keyValue();
            const gop = kv_index.getOrPutAssumeCapacity(kv.key);
            if (gop.found_existing)
                return fail(p.diag, kv.offset, "duplicate metadata key '{s}'", .{kv.key});
            gop.value_ptr.* = @intCast(i);
        }

        const alignment = try p.alignmentOf(kvs, kv_index);
        const infos_at = try p.a.alloc(u64, @intCast(n_tensors));
        const tensors = try p.a.alloc(TensorInfo, @intCast(n_tensors));
        var tensor_index = std.StringHashMapUnmanaged(u32){};
        try tensor_index.ensureTotalCapacity(p.a, @intCast(n_tensors));
        for (tensors, infos_at, 0..) |*t, *at, i| {
            at.* = p.pos;
            t.* = try p.tensorInfo();
            const gop = tensor_index.getOrPutAssumeCapacity(t.name);
            if (gop.found_existing)
                return fail(p.diag, at.*, "duplicate tensor name '{s}'", .{t.name});
            gop.value_ptr.* = @intCast(i);
        }

        const data_offset = std.mem.alignForward(u64, p.pos, alignment);
        try p.placeTensors(tensors, infos_at, data_offset, alignment);
        return .{
            .version = p.version,
            .alignment = alignment,
            .tensors = tensors,
            .data_offset = data_offset,
            .bytes = p.bytes,
            .kvs = kvs,
            .arena = undefined,
            .child_alloc = undefined,
            .kv_index = kv_index,
            .tensor_index = tensor_index,
        };
    }

    fn keyValue(p: *Parser) Error!KeyValue {
        const at = p.pos;
        const key = try p.string("metadata key");
        if (!std.unicode.utf8ValidateSlice(key))
            return fail(p.diag, at, "metadata key is not valid UTF-8", .{});
        if (key.len == 0) return fail(p.diag, at, "empty metadata key", .{});
        const type_at = p.pos;
        const raw_type = try p.int(u32, "value type");
        const vt = ValueType.fromInt(raw_type) orelse
            return fail(p.diag, type_at, "key '{s}': unknown value type {d}", .{ key, raw_type });
        const v = try p.value(vt, key, 0);
        return .{ .key = key, .value = v, .offset = at };
    }

    fn value(p: *Parser, vt: ValueType, key: []const u8, depth: u32) Error!Value {
        if (vt.scalarSize()) |size| {
            const at = p.pos;
            const s = try p.take(size, key);
            if (vt == .bool and s[0] > 1)
                return fail(p.diag, at, "key '{s}': bool value is {d}, not 0 or 1", .{ key, s[0] });
            return scalarAt(vt, s, 0);
        }
        if (vt == .string) return .{ .string = try p.string(key) };
        return .{ .array = try p.array(key, depth) };
    }

    fn array(p: *Parser, key: []const u8, depth: u32) Error!Array {
        const at = p.pos;
        if (depth >= max_array_depth)
            return fail(p.diag, at, "key '{s}': arrays nested deeper than {d}", .{ key, max_array_depth });
        const raw_type = try p.int(u32, key);
        const et = ValueType.fromInt(raw_type) orelse
            return fail(p.diag, at, "key '{s}': unknown array element type {d}", .{ key, raw_type });
        const len_at = p.pos;
        const len = try p.count(key);
        const min_elem: u64 = et.scalarSize() orelse if (et == .string) p.countSize() else 4 + p.countSize();
        try p.checkCount(len, min_elem, len_at, "array length", key);
        var arr = Array{ .elem_type = et, .len = len };
        switch (et) {
            .string => {
                const strs = try p.a.alloc([]const u8, @intCast(len));
                for (strs) |*s| s.* = try p.string(key);
                arr.strings = strs;
            },
            .array => {
                const arrs = try p.a.alloc(Array, @intCast(len));
                for (arrs) |*x| x.* = try p.array(key, depth + 1);
                arr.arrays = arrs;
            },
            else => arr.data = try p.take(len * min_elem, key),
        }
        if (et == .bool) for (arr.data, 0..) |b, i| {
            if (b > 1) return fail(p.diag, len_at + p.countSize() + i, "key '{s}': bool element {d} is {d}, not 0 or 1", .{ key, i, b });
        };
        return arr;
    }

    fn alignmentOf(p: *Parser, kvs: []const KeyValue, index: std.StringHashMapUnmanaged(u32)) !u32 {
        const i = index.get("general.alignment") orelse return default_alignment;
        const kv = kvs[i];
        const v: u32 = switch (kv.value) {
            .u32 => |x| x,
            else => return fail(p.diag, kv.offset, "key 'general.alignment' must be u32, is {s}", .{@tagName(kv.value)}),
        };
        if (v == 0 or !std.math.isPowerOfTwo(v))
            return fail(p.diag, kv.offset, "key 'general.alignment' is {d}: must be a nonzero power of two", .{v});
        return v;
    }

    fn tensorInfo(p: *Parser) Error!TensorInfo {
        const at = p.pos;
        const name = try p.string("tensor name");
        if (!std.unicode.utf8ValidateSlice(name))
            return fail(p.diag, at, "tensor name is not valid UTF-8", .{});
        if (name.len == 0) return fail(p.diag, at, "empty tensor name", .{});
        if (name.len > max_tensor_name_len)
            return fail(p.diag, at, "tensor name '{s}' is {d} bytes; ggml allows {d}", .{ name, name.len, max_tensor_name_len });
        const n_dims = try p.int(u32, name);
        if (n_dims < 1 or n_dims > max_dims)
            return fail(p.diag, at, "tensor '{s}': n_dims {d} is outside 1..{d}", .{ name, n_dims, max_dims });
        var ne = [_]u64{1} ** max_dims;
        var n_elems: u64 = 1;
        for (ne[0..n_dims], 0..) |*d, j| {
            d.* = if (p.version == 1) try p.int(u32, name) else try p.int(u64, name);
            // ggml stores dims as int64; zero-sized tensors are of no use to a model.
            if (d.* == 0 or d.* > std.math.maxInt(i64))
                return fail(p.diag, at, "tensor '{s}': dimension {d} is {d}", .{ name, j, d.* });
            n_elems = std.math.mul(u64, n_elems, d.*) catch
                return fail(p.diag, at, "tensor '{s}': element count overflows", .{name});
        }
        if (n_elems > std.math.maxInt(i64))
            return fail(p.diag, at, "tensor '{s}': element count overflows", .{name});
        const raw_type = try p.int(u32, name);
        const gt: GgmlType = @enumFromInt(raw_type);
        const tr = gt.traits() orelse
            return fail(p.diag, at, "tensor '{s}': unknown ggml type {d}", .{ name, raw_type });
        if (ne[0] % tr.block_elems != 0)
            return fail(p.diag, at, "tensor '{s}': row of {d} elements is not a multiple of {s}'s block of {d}", .{ name, ne[0], tr.name, tr.block_elems });
        const offset = try p.int(u64, name);
        return .{ .name = name, .type = gt, .n_dims = n_dims, .ne = ne, .offset = offset, .data = &.{} };
    }

    /// Checks alignment, bounds and overlap of tensor data, then points each tensor at its bytes.
    fn placeTensors(p: *Parser, tensors: []TensorInfo, infos_at: []const u64, data_offset: u64, alignment: u32) !void {
        for (tensors, infos_at) |*t, at| {
            if (t.offset % alignment != 0)
                return fail(p.diag, at, "tensor '{s}': data offset {d} is not a multiple of the alignment {d}", .{ t.name, t.offset, alignment });
            // rowBytes is null only on overflow here: the block multiple was checked already.
            const row = t.type.rowBytes(t.ne[0]) orelse
                return fail(p.diag, at, "tensor '{s}': byte size overflows", .{t.name});
            const size = std.math.mul(u64, row, t.nRows()) catch
                return fail(p.diag, at, "tensor '{s}': byte size overflows", .{t.name});
            const start = std.math.add(u64, data_offset, t.offset) catch std.math.maxInt(u64);
            const end = std.math.add(u64, start, size) catch std.math.maxInt(u64);
            if (end > p.bytes.len)
                return fail(p.diag, at, "tensor '{s}': data [{d}, {d}) extends past the end of the file ({d} bytes)", .{ t.name, start, end, p.bytes.len });
            t.data = p.bytes[@intCast(start)..@intCast(end)];
        }
        // Overlap: sort by offset and compare neighbours.
        const order = try p.a.alloc(u32, tensors.len);
        for (order, 0..) |*o, i| o.* = @intCast(i);
        std.mem.sort(u32, order, tensors, struct {
            fn lt(ts: []TensorInfo, a: u32, b: u32) bool {
                return ts[a].offset < ts[b].offset;
            }
        }.lt);
        var i: usize = 1;
        while (i < order.len) : (i += 1) {
            const prev = tensors[order[i - 1]];
            const cur = tensors[order[i]];
            if (prev.offset + prev.data.len > cur.offset)
                return fail(p.diag, infos_at[order[i]], "tensor '{s}' overlaps tensor '{s}' in the data section", .{ cur.name, prev.name });
        }
    }
};

// ---------------------------------------------------------------------------------------------
// Test helpers shared by the other gguf test files.

/// A test's missing fixture: error.SkipZigTest (the runner reports it as skipped), or, with
/// PI5_REQUIRE_FIXTURES=1 (scripts/test.sh, CI), error.FixtureMissing after naming `what`, so
/// that a suite without its files fails instead of passing quietly.
pub fn missingFixture(what: []const u8) error{ SkipZigTest, FixtureMissing } {
    const required = if (std.posix.getenv("PI5_REQUIRE_FIXTURES")) |v| std.mem.eql(u8, v, "1") else false;
    if (!required) return error.SkipZigTest;
    std.debug.print("missing test fixture (PI5_REQUIRE_FIXTURES=1): {s}\n", .{what});
    return error.FixtureMissing;
}

/// The fixtures directory: $PI5_MODELS_DIR, else <root>/../shared/models where root is
/// $PI5_TEST_ROOT or the cwd. missingFixture when absent. Caller frees.
pub fn modelsDir(alloc: std.mem.Allocator) ![]u8 {
    const dir = std.process.getEnvVarOwned(alloc, "PI5_MODELS_DIR") catch |e| switch (e) {
        error.EnvironmentVariableNotFound => blk: {
            const root = std.process.getEnvVarOwned(alloc, "PI5_TEST_ROOT") catch |e2| switch (e2) {
                error.EnvironmentVariableNotFound => try alloc.dupe(u8, "."),
                else => return e2,
            };
            defer alloc.free(root);
            break :blk try std.fs.path.join(alloc, &.{ root, "..", "shared", "models" });
        },
        else => return e,
    };
    errdefer alloc.free(dir);
    std.fs.cwd().access(dir, .{}) catch return missingFixture(dir);
    return dir;
}

/// Path of a fixture under the models dir; missingFixture when it is absent. Caller frees.
pub fn fixturePath(alloc: std.mem.Allocator, rel: []const u8) ![]u8 {
    const dir = try modelsDir(alloc);
    defer alloc.free(dir);
    const path = try std.fs.path.join(alloc, &.{ dir, rel });
    errdefer alloc.free(path);
    std.fs.cwd().access(path, .{}) catch return missingFixture(path);
    return path;
}

/// Opens a fixture; missingFixture when absent.
pub fn openFixture(alloc: std.mem.Allocator, rel: []const u8, diag: ?*Diagnostic) !File {
    const path = try fixturePath(alloc, rel);
    defer alloc.free(path);
    return File.open(alloc, path, diag);
}

// ---------------------------------------------------------------------------------------------
// Tests

const testing = std.testing;

test "stories260K.gguf parses with the expected hyperparameters and shapes" {
    var diag = Diagnostic{};
    var f = openFixture(testing.allocator, "stories260K.gguf", &diag) catch |e| {
        if (e == error.InvalidGguf) std.debug.print("{s}\n", .{diag.message()});
        return e;
    };
    defer f.deinit();
    try testing.expectEqual(@as(u32, 3), f.version);
    try testing.expectEqualStrings("llama", f.architecture().?);
    try testing.expectEqual(@as(?u32, 64), f.getU32("llama.embedding_length"));
    try testing.expectEqual(@as(?u32, 5), f.getU32("llama.block_count"));
    try testing.expectEqual(@as(?u32, 172), f.getU32("llama.feed_forward_length"));
    try testing.expectEqual(@as(?u32, 8), f.getU32("llama.attention.head_count"));
    try testing.expectEqual(@as(?u32, 4), f.getU32("llama.attention.head_count_kv"));
    try testing.expectEqual(@as(usize, 3 + 5 * 9), f.tensors.len);
    const q = f.findTensor("blk.0.attn_q.weight").?;
    try testing.expectEqual(GgmlType.f32, q.type);
    try testing.expectEqual([4]u64{ 64, 64, 1, 1 }, q.ne);
    try testing.expectEqual(@as(u64, 64 * 64 * 4), q.nBytes());
    const k = f.findTensor("blk.4.attn_k.weight").?;
    try testing.expectEqual([4]u64{ 64, 32, 1, 1 }, k.ne);
    const down = f.findTensor("blk.0.ffn_down.weight").?;
    try testing.expectEqual([4]u64{ 172, 64, 1, 1 }, down.ne);
    const emb = f.findTensor("token_embd.weight").?;
    try testing.expectEqual([4]u64{ 64, 512, 1, 1 }, emb.ne);
    try testing.expect(f.findTensor("output.weight") != null);
    const tokens = f.getArray("tokenizer.ggml.tokens").?;
    try testing.expectEqual(@as(u64, 512), tokens.len);
    try testing.expectEqualStrings("<unk>", tokens.string(0).?);
    try testing.expect(f.getArray("tokenizer.ggml.scores").?.float(100) != null);
    try testing.expect(@intFromPtr(q.data.ptr) % f.alignment == 0);
    try testing.expectEqualStrings("tokenizer.ggml.tokens", f.keys()[0].key);
}

test "GGUF v1 copy holds the same tensors, byte for byte" {
    var v3 = try openFixture(testing.allocator, "stories260K.gguf", null);
    defer v3.deinit();
    var diag = Diagnostic{};
    var v1 = openFixture(testing.allocator, "legacy/stories260K-f32-ggufv1.gguf", &diag) catch |e| {
        if (e == error.InvalidGguf) std.debug.print("{s}\n", .{diag.message()});
        return e;
    };
    defer v1.deinit();
    try testing.expectEqual(@as(u32, 1), v1.version);
    try testing.expectEqual(v3.tensors.len, v1.tensors.len);
    for (v3.tensors) |t| {
        const o = v1.findTensor(t.name) orelse return error.TestUnexpectedResult;
        try testing.expectEqual(t.ne, o.ne);
        try testing.expectEqual(t.type, o.type);
        try testing.expectEqualSlices(u8, t.data, o.data);
    }
    try testing.expectEqual(v3.getU32("llama.embedding_length"), v1.getU32("llama.embedding_length"));
}

test "stories260K-q8_0.gguf is rejected: ffn_down rows are not whole Q8_0 blocks" {
    var diag = Diagnostic{};
    const r = openFixture(testing.allocator, "stories260K-q8_0.gguf", &diag);
    if (r) |f| {
        var ff = f;
        ff.deinit();
        return error.TestUnexpectedResult;
    } else |e| {
        if (e == error.SkipZigTest) return e;
        try testing.expectEqual(error.InvalidGguf, e);
    }
    const msg = diag.message();
    try testing.expect(std.mem.indexOf(u8, msg, "ffn_down") != null);
    try testing.expect(std.mem.indexOf(u8, msg, "Q8_0's block of 32") != null);
    try testing.expect(std.mem.indexOf(u8, msg, "172") != null);
    try testing.expect(diag.offset != null);
}

test "vocab-only GGUFs parse and their tokenizer arrays are readable" {
    var spm = try openFixture(testing.allocator, "vocab/ggml-vocab-llama-spm.gguf", null);
    defer spm.deinit();
    try testing.expectEqual(@as(usize, 0), spm.tensors.len);
    try testing.expectEqualStrings("llama", spm.getString("tokenizer.ggml.model").?);
    const toks = spm.getArray("tokenizer.ggml.tokens").?;
    try testing.expectEqual(@as(u64, 32000), toks.len);
    try testing.expectEqualStrings("<0x00>", toks.string(3).?);
    try testing.expectEqual(@as(?i64, 6), spm.getArray("tokenizer.ggml.token_type").?.int(3));

    var gpt2 = try openFixture(testing.allocator, "vocab/ggml-vocab-gpt-2.gguf", null);
    defer gpt2.deinit();
    try testing.expectEqualStrings("gpt2", gpt2.getString("tokenizer.ggml.model").?);
    try testing.expect(gpt2.getArray("tokenizer.ggml.tokens").?.len > 50000);
    try testing.expect(gpt2.getArray("tokenizer.ggml.merges").?.string(0) != null);
}

test "empty and tiny inputs fail with a diagnostic, never a crash" {
    var diag = Diagnostic{};
    try testing.expectError(error.InvalidGguf, File.parse(testing.allocator, "", &diag));
    try testing.expect(std.mem.indexOf(u8, diag.message(), "truncated") != null);
    try testing.expectError(error.InvalidGguf, File.parse(testing.allocator, "GGML\x03\x00\x00\x00", &diag));
    try testing.expect(std.mem.indexOf(u8, diag.message(), "magic") != null);
    try testing.expectError(error.InvalidGguf, File.parse(testing.allocator, "GGUF\x00\x00\x00\x03", &diag));
    try testing.expect(std.mem.indexOf(u8, diag.message(), "big-endian") != null);
}
