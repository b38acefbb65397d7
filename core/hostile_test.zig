//! Hostile and unusual input (issue 14): each test reproduces one way a new user broke the
//! runtime (a crash, a hang, a silently wrong result) and checks the clear error or the right
//! answer instead. Leak-checked with std.testing.allocator.
const std = @import("std");
const testing = std.testing;
const pi5 = @import("root.zig");
const reader = pi5.gguf;
const Model = pi5.Model;
const Runtime = pi5.Runtime;

fn fixturePath(rel: []const u8) ![]u8 {
    return reader.fixturePath(testing.allocator, rel);
}

fn tmpPath(tmp: *std.testing.TmpDir, name: []const u8) ![]u8 {
    const dir = try tmp.dir.realpathAlloc(testing.allocator, ".");
    defer testing.allocator.free(dir);
    return std.fs.path.join(testing.allocator, &.{ dir, name });
}

test "hostile: a fence timeout while loading fails with GpuTimeout and frees what it allocated" {
    const path = fixturePath("stories260K.gguf") catch return error.SkipZigTest;
    defer testing.allocator.free(path);
    // A 1 ms timeout makes one of the load's submissions (zero fill, upload, recording) time
    // out on lavapipe; which one varies, so try several fresh runtimes.
    var timeouts: u32 = 0;
    for (0..6) |_| {
        const rt = Runtime.create(testing.allocator, .{ .backend = .vulkan, .timeout_ms = 1, .n_threads = 2, .log = .{ .level = .err } }) catch |e| switch (e) {
            error.VulkanLoaderMissing, error.NoVulkanDevice => return error.SkipZigTest,
            else => return e,
        };
        defer rt.destroy();
        var diag = reader.Diagnostic{};
        if (Model.load(testing.allocator, path, .{ .gpu = rt.gpu, .n_threads = 2 }, &diag)) |m| {
            m.destroy();
        } else |e| {
            try testing.expectEqual(error.GpuTimeout, e);
            timeouts += 1;
        }
    }
    std.debug.print("hostile: {d}/6 loads timed out at 1 ms\n", .{timeouts});
}

test "hostile: a FIFO, a directory and a symlink loop as the model path are refused before open" {
    var tmp = std.testing.tmpDir(.{});
    defer tmp.cleanup();
    const fifo = try tmpPath(&tmp, "fifo.gguf");
    defer testing.allocator.free(fifo);
    const fifo_z = try testing.allocator.dupeZ(u8, fifo);
    defer testing.allocator.free(fifo_z);
    if (std.c.mkfifo(fifo_z, 0o600) != 0) return error.SkipZigTest;
    var diag = reader.Diagnostic{};
    // Before the fix this blocked forever in open().
    try testing.expectError(error.NotAFile, Model.load(testing.allocator, fifo, .{}, &diag));
    try testing.expect(std.mem.indexOf(u8, diag.message(), "not a regular file") != null);
    try testing.expect(std.mem.indexOf(u8, diag.message(), fifo) != null);

    const dir = try tmpPath(&tmp, ".");
    defer testing.allocator.free(dir);
    diag = .{};
    try testing.expectError(error.IsDir, Model.load(testing.allocator, dir, .{}, &diag));
    try testing.expect(std.mem.indexOf(u8, diag.message(), "is a directory") != null);

    // A symlink to a regular file is fine (it reaches the parser); to a FIFO it is refused.
    try tmp.dir.symLink("fifo.gguf", "link.gguf", .{});
    const link = try tmpPath(&tmp, "link.gguf");
    defer testing.allocator.free(link);
    diag = .{};
    try testing.expectError(error.NotAFile, Model.load(testing.allocator, link, .{}, &diag));
}
