//! Model tests: stories260K against llama2.c's golden text, batch/step agreement, state files,
//! bad files, synthetic phi2/gpt2. Fixtures via PI5_MODELS_DIR or $PI5_TEST_ROOT/../shared/models.
const std = @import("std");
const testing = std.testing;
const reader = @import("../gguf/reader.zig");
const synth = @import("../gguf/synth.zig");
const model_mod = @import("model.zig");
const gen = @import("generate.zig");
const Model = model_mod.Model;

/// The text of the golden section whose header line contains `flags`.
pub fn goldenSection(alloc: std.mem.Allocator, flags: []const u8) ![]u8 {
    const path = try reader.fixturePath(alloc, "golden/stories260K-llama2c-expected.txt");
    defer alloc.free(path);
    const all = try std.fs.cwd().readFileAlloc(alloc, path, 1 << 20);
    defer alloc.free(all);
    var it = std.mem.splitSequence(u8, all, "\n=== ");
    while (it.next()) |sec| {
        const nl = std.mem.indexOfScalar(u8, sec, '\n') orelse continue;
        if (std.mem.indexOf(u8, sec[0..nl], flags) == null) continue;
        const body = std.mem.trimRight(u8, sec[nl + 1 ..], "\n");
        return alloc.dupe(u8, body);
    }
    return error.SkipZigTest;
}

fn loadFixture(rel: []const u8, opts: model_mod.LoadOptions) !*Model {
    const path = try reader.fixturePath(testing.allocator, rel);
    defer testing.allocator.free(path);
    var diag = reader.Diagnostic{};
    return Model.load(testing.allocator, path, opts, &diag) catch |e| {
        std.debug.print("load {s}: {s}\n", .{ rel, diag.message() });
        return e;
    };
}

fn greedyText(m: *Model, n: u32) ![]u8 {
    var out = std.ArrayList(u8).init(testing.allocator);
    errdefer out.deinit();
    var res: gen.Result = undefined;
    try gen.generate(testing.allocator, m, "", .{ .max_tokens = n, .sampling = .{ .temperature = 0 } }, &out, &res);
    return out.toOwnedSlice();
}

test "stories260K at temperature 0 from BOS matches llama2.c byte for byte (F32 and F16 KV)" {
    const expected = try goldenSection(testing.allocator, "--temperature 0 --sequence_length 200 --worker_count 0");
    defer testing.allocator.free(expected);
    for ([_]model_mod.KvType{ .f32, .f16 }) |kv| {
        const m = try loadFixture("stories260K.gguf", .{ .kv_type = kv, .n_threads = 2 });
        defer m.destroy();
        // llama2.c's 200 steps are 200 forwards from BOS, each printing the token it predicts.
        const got = try greedyText(m, 200);
        defer testing.allocator.free(got);
        try testing.expectEqualStrings(expected, got);
    }
}

test "stories260K-q8_0.gguf is rejected with a message naming the tensor" {
    const path = try reader.fixturePath(testing.allocator, "stories260K-q8_0.gguf");
    defer testing.allocator.free(path);
    var diag = reader.Diagnostic{};
    try testing.expectError(error.InvalidGguf, Model.load(testing.allocator, path, .{}, &diag));
    try testing.expect(std.mem.indexOf(u8, diag.message(), "ffn_down") != null);
}

test "prompt in one batch and token by token give the same logits; state save/load round trip" {
    const m = try loadFixture("stories260K.gguf", .{ .kv_type = .f32, .n_threads = 2, .n_batch = 16 });
    defer m.destroy();
    const ids = try m.tok.tokenize(testing.allocator, "Once upon a time, there was a cat who liked to sing", .{});
    defer testing.allocator.free(ids);
    try m.eval(.{ .tokens = ids });
    const batched = try testing.allocator.dupe(f32, m.logits());
    defer testing.allocator.free(batched);
    m.clear();
    for (ids) |id| try m.eval(.{ .tokens = &.{id} });
    for (batched, m.logits()) |a, b| try testing.expectApproxEqAbs(a, b, 1e-4);

    var tmp = testing.tmpDir(.{});
    defer tmp.cleanup();
    const dir = try tmp.dir.realpathAlloc(testing.allocator, ".");
    defer testing.allocator.free(dir);
    const sp = try std.fs.path.join(testing.allocator, &.{ dir, "s.state" });
    defer testing.allocator.free(sp);
    try m.saveState(sp);
    try m.eval(.{ .tokens = &.{ids[0]} });
    const after = try testing.allocator.dupe(f32, m.logits());
    defer testing.allocator.free(after);
    m.clear();
    var diag = reader.Diagnostic{};
    try m.loadState(sp, &diag);
    try testing.expectEqual(@as(u32, @intCast(ids.len)), m.n_past);
    try testing.expectEqualSlices(u32, ids, m.tokens());
    try m.eval(.{ .tokens = &.{ids[0]} });
    try testing.expectEqualSlices(f32, after, m.logits());

    // damage is detected
    {
        const f = try std.fs.cwd().openFile(sp, .{ .mode = .read_write });
        defer f.close();
        try f.pwriteAll("X", 60);
    }
    try testing.expectError(error.InvalidGguf, m.loadState(sp, &diag));
    const too_many = try testing.allocator.alloc(u32, m.n_ctx - m.n_past + 1);
    defer testing.allocator.free(too_many);
    @memset(too_many, 1);
    const before = m.n_past;
    try testing.expectError(error.ContextFull, m.eval(.{ .tokens = too_many }));
    try testing.expectEqual(before, m.n_past);
    try testing.expectError(error.InvalidArgument, m.eval(.{ .tokens = &.{100000} }));
}

test "synthetic llama, phi2 and gpt2 load, run in batches and agree with step-by-step" {
    var tmp = testing.tmpDir(.{});
    defer tmp.cleanup();
    const dir = try tmp.dir.realpathAlloc(testing.allocator, ".");
    defer testing.allocator.free(dir);
    var vocab_file = reader.openFixture(testing.allocator, "stories260K.gguf", null) catch |e| return e;
    defer vocab_file.deinit();
    for ([_]synth.Arch{ .llama, .phi2, .gpt2 }) |arch| {
        const path = try std.fmt.allocPrint(testing.allocator, "{s}/{s}.gguf", .{ dir, @tagName(arch) });
        defer testing.allocator.free(path);
        try synth.generateFile(testing.allocator, .{ .arch = arch, .n_head_kv = if (arch == .gpt2) 4 else 2, .n_ff = 128 }, .{ .vocab = &vocab_file }, path);
        var diag = reader.Diagnostic{};
        const m = Model.load(testing.allocator, path, .{ .kv_type = .f32, .n_batch = 4, .n_threads = 2 }, &diag) catch |e| {
            std.debug.print("{s}: {s}\n", .{ @tagName(arch), diag.message() });
            return e;
        };
        defer m.destroy();
        const ids = [_]u32{ 1, 20, 30, 40, 50, 60, 70 };
        try m.eval(.{ .tokens = &ids });
        const batched = try testing.allocator.dupe(f32, m.logits());
        defer testing.allocator.free(batched);
        m.clear();
        for (ids) |id| try m.eval(.{ .tokens = &.{id} });
        for (batched, m.logits()) |a, b| {
            try testing.expect(std.math.isFinite(a));
            try testing.expectApproxEqAbs(a, b, 1e-3);
        }
    }
}
