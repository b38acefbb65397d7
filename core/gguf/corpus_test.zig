//! Error-path tests for the reader: malformed buffers built in memory (always run), the on-disk
//! corpus from tests/gguf/make_corpus.py (when PI5_GGUF_CORPUS names its directory), and a fuzz
//! entry point (`zig build test --fuzz`).
const std = @import("std");
const reader = @import("reader.zig");
const writer = @import("writer.zig");

const testing = std.testing;
const File = reader.File;
const Diagnostic = reader.Diagnostic;

/// Parses arbitrary bytes: must return a File or an error, never crash or leak.
fn fuzzOne(input: []const u8) anyerror!void {
    var diag = Diagnostic{};
    var f = File.parse(testing.allocator, input, &diag) catch |e| switch (e) {
        error.InvalidGguf => return,
        else => return e,
    };
    defer f.deinit();
    // Touch everything a consumer would, so bad slices show up under the fuzzer.
    for (f.keys()) |kv| _ = kv.value.asInt();
    for (f.tensors) |t| std.mem.doNotOptimizeAway(t.data.len);
}

/// A small valid v3 image with one F32 tensor [4, 2] and one I8 tensor [5].
fn validImage(alloc: std.mem.Allocator) ![]u8 {
    var w = writer.Writer.init(alloc);
    defer w.deinit();
    try w.putString("general.architecture", "llama");
    try w.putU32("llama.block_count", 1);
    try w.putStringArray("tokenizer.ggml.tokens", &.{ "<unk>", "a" });
    try w.putArray(f32, "tokenizer.ggml.scores", &.{ 0, -1 });
    try w.addTensor("a.weight", .f32, &.{ 4, 2 }, &([_]u8{1} ** 32));
    try w.addTensor("b.weight", .i8, &.{5}, "hello");
    var out = std.ArrayList(u8).init(alloc);
    errdefer out.deinit();
    try w.write(out.writer());
    return out.toOwnedSlice();
}

fn expectRejected(bytes: []const u8, expected: []const u8) !void {
    var diag = Diagnostic{};
    if (File.parse(testing.allocator, bytes, &diag)) |f| {
        var ff = f;
        ff.deinit();
        std.debug.print("accepted, expected '{s}'\n", .{expected});
        return error.TestUnexpectedResult;
    } else |e| try testing.expectEqual(error.InvalidGguf, e);
    if (std.mem.indexOf(u8, diag.message(), expected) == null) {
        std.debug.print("diagnostic '{s}' lacks '{s}'\n", .{ diag.message(), expected });
        return error.TestUnexpectedResult;
    }
}

test "fuzz reader" {
    try std.testing.fuzz(fuzzOne, .{});
}

test "every truncation of a valid file is rejected without leaks" {
    const img = try validImage(testing.allocator);
    defer testing.allocator.free(img);
    try fuzzOne(img);
    var f = try File.parse(testing.allocator, img, null);
    f.deinit();
    for (0..img.len) |n| {
        // The final tensor's padding is absent from a file cut after its data; that still parses.
        var diag = Diagnostic{};
        if (File.parse(testing.allocator, img[0..n], &diag)) |ok| {
            var g = ok;
            defer g.deinit();
            try testing.expect(n >= g.data_offset + g.findTensor("b.weight").?.offset + 5);
        } else |e| try testing.expectEqual(error.InvalidGguf, e);
    }
}

/// Finds `needle` in the image (the tests patch fields found by their neighbouring bytes).
fn at(img: []const u8, needle: []const u8) usize {
    return std.mem.indexOf(u8, img, needle).?;
}

test "in-memory malformed images name the problem" {
    const img = try validImage(testing.allocator);
    defer testing.allocator.free(img);
    const buf = try testing.allocator.alloc(u8, img.len);
    defer testing.allocator.free(buf);

    @memcpy(buf, img);
    buf[0] = 'X';
    try expectRejected(buf, "bad magic");

    @memcpy(buf, img);
    std.mem.writeInt(u32, buf[4..8], 7, .little);
    try expectRejected(buf, "unsupported GGUF version 7");

    @memcpy(buf, img);
    std.mem.writeInt(u64, buf[16..24], 1 << 62, .little);
    try expectRejected(buf, "metadata key count");

    @memcpy(buf, img);
    std.mem.writeInt(u64, buf[8..16], 1 << 40, .little);
    try expectRejected(buf, "tensor count");

    // Token array: element type then length follow the key.
    @memcpy(buf, img);
    const arr = at(buf, "tokenizer.ggml.tokens") + "tokenizer.ggml.tokens".len + 4;
    std.mem.writeInt(u64, buf[arr + 4 ..][0..8], 1 << 60, .little);
    try expectRejected(buf, "array length");

    @memcpy(buf, img);
    std.mem.writeInt(u32, buf[arr..][0..4], 42, .little);
    try expectRejected(buf, "unknown array element type 42");

    @memcpy(buf, img);
    buf[at(buf, "block_count") + 2] = 0xff;
    try expectRejected(buf, "not valid UTF-8");

    // Tensor info of a.weight: name, n_dims u32, ne u64 x2, type u32, offset u64.
    const ti = at(img, "a.weight") + "a.weight".len;
    @memcpy(buf, img);
    std.mem.writeInt(u32, buf[ti..][0..4], 5, .little);
    try expectRejected(buf, "n_dims 5");

    @memcpy(buf, img);
    std.mem.writeInt(u64, buf[ti + 12 ..][0..8], 0, .little);
    try expectRejected(buf, "dimension 1 is 0");

    @memcpy(buf, img);
    std.mem.writeInt(u32, buf[ti + 20 ..][0..4], 8, .little); // Q8_0 with rows of 4
    try expectRejected(buf, "row of 4 elements is not a multiple of Q8_0's block of 32");

    @memcpy(buf, img);
    std.mem.writeInt(u32, buf[ti + 20 ..][0..4], 5, .little);
    try expectRejected(buf, "unknown ggml type 5");

    const tb = at(img, "b.weight") + "b.weight".len;
    @memcpy(buf, img);
    std.mem.writeInt(u64, buf[tb + 16 ..][0..8], 0, .little);
    try expectRejected(buf, "overlaps");

    @memcpy(buf, img);
    std.mem.writeInt(u64, buf[tb + 16 ..][0..8], 33, .little);
    try expectRejected(buf, "not a multiple of the alignment 32");

    @memcpy(buf, img);
    std.mem.writeInt(u64, buf[tb + 16 ..][0..8], 1 << 20, .little);
    try expectRejected(buf, "extends past the end");

    @memcpy(buf, img);
    @memcpy(buf[tb - 8 .. tb], "a.weight");
    try expectRejected(buf, "duplicate tensor name 'a.weight'");
}

test "nested array bomb fails fast" {
    var list = std.ArrayList(u8).init(testing.allocator);
    defer list.deinit();
    const w = list.writer();
    try w.writeAll("GGUF");
    try w.writeInt(u32, 3, .little);
    try w.writeInt(u64, 0, .little);
    try w.writeInt(u64, 1, .little);
    try w.writeInt(u64, 1, .little);
    try w.writeAll("k");
    try w.writeInt(u32, 9, .little);
    for (0..10000) |_| {
        try w.writeInt(u32, 9, .little);
        try w.writeInt(u64, 1, .little);
    }
    try expectRejected(list.items, "nested deeper than 3");
}

// Runs tests/gguf/make_corpus.py output: each file must be rejected with its expected
// substring (or, for "OK", accepted).
test "malformed corpus from PI5_GGUF_CORPUS" {
    const alloc = testing.allocator;
    const dir_path = std.process.getEnvVarOwned(alloc, "PI5_GGUF_CORPUS") catch return reader.missingFixture("$PI5_GGUF_CORPUS");
    defer alloc.free(dir_path);
    var dir = try std.fs.cwd().openDir(dir_path, .{});
    defer dir.close();
    const manifest = try dir.readFileAlloc(alloc, "manifest.tsv", 1 << 20);
    defer alloc.free(manifest);
    var failures: usize = 0;
    var count: usize = 0;
    var lines = std.mem.tokenizeScalar(u8, manifest, '\n');
    while (lines.next()) |line| {
        const tab = std.mem.indexOfScalar(u8, line, '\t') orelse return error.BadManifest;
        const name = line[0..tab];
        const expected = line[tab + 1 ..];
        const path = try std.fs.path.join(alloc, &.{ dir_path, name });
        defer alloc.free(path);
        count += 1;
        var diag = Diagnostic{};
        if (File.open(alloc, path, &diag)) |f| {
            var ff = f;
            ff.deinit();
            if (!std.mem.eql(u8, expected, "OK")) {
                std.debug.print("{s}: accepted, expected '{s}'\n", .{ name, expected });
                failures += 1;
            }
        } else |e| {
            if (e != error.InvalidGguf or std.mem.indexOf(u8, diag.message(), expected) == null) {
                std.debug.print("{s}: {s} '{s}', expected '{s}'\n", .{ name, @errorName(e), diag.message(), expected });
                failures += 1;
            }
        }
    }
    try testing.expect(count >= 30);
    try testing.expectEqual(@as(usize, 0), failures);
}
