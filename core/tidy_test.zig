//! House rules as a test (TigerBeetle's tidy.zig): walks the repository's Zig sources (from
//! $PI5_TEST_ROOT, which `zig build test` sets) and fails, naming file and line, on
//!  - a line longer than max_line_len codepoints;
//!  - `catch return;` (an error dropped without a trace; in a test, a pass that proved nothing)
//!    or `catch return error.SkipZigTest` (a skip that PI5_REQUIRE_FIXTURES cannot turn into a
//!    failure: use `try` on gguf/reader.zig's fixturePath, which skips through missingFixture);
//!  - a Zig file that nothing imports and build.zig does not name as a root (dead code).
const std = @import("std");

/// The longest line the Zig sources hold today; lower it as outliers get wrapped.
const max_line_len = 250;

/// Directories holding Zig sources, relative to the repository root.
const source_dirs = [_][]const u8{ "core", "cli", "tests", "shaders" };

const banned = [_]struct { text: []const u8, why: []const u8 }{
    .{ .text = "catch " ++ "return;", .why = "drops the error; return it, handle it, or `try`" },
    .{ .text = "catch return error." ++ "SkipZigTest", .why = "use `try` on fixturePath (missingFixture honours PI5_REQUIRE_FIXTURES)" },
};

const Source = struct { path: []const u8, text: []const u8 };

fn collect(alloc: std.mem.Allocator, root: std.fs.Dir, list: *std.ArrayList(Source)) !void {
    for (source_dirs) |sub| {
        var dir = root.openDir(sub, .{ .iterate = true }) catch |e| switch (e) {
            error.FileNotFound => continue,
            else => return e,
        };
        defer dir.close();
        var walker = try dir.walk(alloc);
        defer walker.deinit();
        while (try walker.next()) |entry| {
            if (entry.kind != .file or !std.mem.endsWith(u8, entry.basename, ".zig")) continue;
            const path = try std.fs.path.join(alloc, &.{ sub, entry.path });
            try list.append(.{ .path = path, .text = try dir.readFileAlloc(alloc, entry.path, 16 << 20) });
        }
    }
    try list.append(.{ .path = try alloc.dupe(u8, "build.zig"), .text = try root.readFileAlloc(alloc, "build.zig", 1 << 20) });
}

/// The paths `text` (the file at `path`) names in @import("...zig"), resolved from the repository root.
fn imports(alloc: std.mem.Allocator, path: []const u8, text: []const u8, out: *std.StringHashMap(void)) !void {
    const dir = std.fs.path.dirname(path) orelse "";
    var rest = text;
    while (std.mem.indexOf(u8, rest, "@import(\"")) |i| {
        rest = rest[i + "@import(\"".len ..];
        const end = std.mem.indexOfScalar(u8, rest, '"') orelse break;
        const name = rest[0..end];
        if (std.mem.endsWith(u8, name, ".zig"))
            try out.put(try std.fs.path.resolvePosix(alloc, &.{ dir, name }), {});
    }
}

/// The roots build.zig compiles: every b.path("...zig").
fn roots(alloc: std.mem.Allocator, build_zig: []const u8, out: *std.StringHashMap(void)) !void {
    var rest = build_zig;
    while (std.mem.indexOf(u8, rest, "b.path(\"")) |i| {
        rest = rest[i + "b.path(\"".len ..];
        const end = std.mem.indexOfScalar(u8, rest, '"') orelse break;
        if (std.mem.endsWith(u8, rest[0..end], ".zig")) try out.put(try alloc.dupe(u8, rest[0..end]), {});
    }
}

test "tidy: line length, no swallowed errors or silent skips, no file imported by nothing" {
    var arena_state = std.heap.ArenaAllocator.init(std.testing.allocator);
    defer arena_state.deinit();
    const alloc = arena_state.allocator();
    const root_path = std.process.getEnvVarOwned(alloc, "PI5_TEST_ROOT") catch try alloc.dupe(u8, ".");
    var root = try std.fs.cwd().openDir(root_path, .{});
    defer root.close();

    var sources = std.ArrayList(Source).init(alloc);
    try collect(alloc, root, &sources);
    try std.testing.expect(sources.items.len > 50); // the walk found the tree

    var problems: usize = 0;
    var used = std.StringHashMap(void).init(alloc);
    try used.put("build.zig", {});
    for (sources.items) |src| {
        var lines = std.mem.splitScalar(u8, src.text, '\n');
        var n: usize = 1;
        while (lines.next()) |line| : (n += 1) {
            const len = std.unicode.utf8CountCodepoints(line) catch line.len;
            if (len > max_line_len) {
                std.debug.print("{s}:{d}: line of {d} > {d} characters\n", .{ src.path, n, len, max_line_len });
                problems += 1;
            }
            const comment = std.mem.startsWith(u8, std.mem.trimLeft(u8, line, " "), "//");
            for (banned) |b| if (!comment and std.mem.indexOf(u8, line, b.text) != null) {
                std.debug.print("{s}:{d}: `{s}`: {s}\n", .{ src.path, n, b.text, b.why });
                problems += 1;
            };
        }
        try imports(alloc, src.path, src.text, &used);
        if (std.mem.eql(u8, src.path, "build.zig")) try roots(alloc, src.text, &used);
    }
    for (sources.items) |src| if (!used.contains(src.path)) {
        std.debug.print("{s}: imported by nothing and not a root in build.zig\n", .{src.path});
        problems += 1;
    };
    try std.testing.expectEqual(@as(usize, 0), problems);
}
