//! Standalone driver for running the GGUF reader under valgrind or as a mutation fuzzer,
//! outside the test runner.
//!
//!   zig build-exe --dep gguf -Mroot=tests/gguf/reader_driver.zig -Mgguf=core/gguf/reader.zig
//!   valgrind --error-exitcode=1 --leak-check=full ./reader_driver corpus DIR
//!   ./reader_driver mutate ITERATIONS SEED FILE...
//!
//! `corpus` opens every file of a make_corpus.py directory (via mmap, like real use) and checks
//! the manifest's expected substrings. `mutate` flips bytes, splices interesting integers and
//! truncates the seed files, parsing each mutant; it exits non-zero on a leak (GPA) and any
//! crash is a bug.
const std = @import("std");
const gguf = @import("gguf");

pub fn main() !u8 {
    var gpa = std.heap.GeneralPurposeAllocator(.{}){};
    defer if (gpa.deinit() == .leak) std.process.exit(2);
    const alloc = gpa.allocator();
    const args = try std.process.argsAlloc(alloc);
    defer std.process.argsFree(alloc, args);
    if (args.len >= 3 and std.mem.eql(u8, args[1], "corpus")) return corpus(alloc, args[2]);
    if (args.len >= 5 and std.mem.eql(u8, args[1], "mutate"))
        return mutate(alloc, try std.fmt.parseInt(u64, args[2], 10), try std.fmt.parseInt(u64, args[3], 10), args[4..]);
    std.debug.print("usage: reader_driver corpus DIR | mutate N SEED FILE...\n", .{});
    return 2;
}

fn corpus(alloc: std.mem.Allocator, dir_path: []const u8) !u8 {
    var dir = try std.fs.cwd().openDir(dir_path, .{});
    defer dir.close();
    const manifest = try dir.readFileAlloc(alloc, "manifest.tsv", 1 << 20);
    defer alloc.free(manifest);
    var bad: usize = 0;
    var n: usize = 0;
    var lines = std.mem.tokenizeScalar(u8, manifest, '\n');
    while (lines.next()) |line| {
        const tab = std.mem.indexOfScalar(u8, line, '\t') orelse continue;
        const path = try std.fs.path.join(alloc, &.{ dir_path, line[0..tab] });
        defer alloc.free(path);
        const expected = line[tab + 1 ..];
        var diag = gguf.Diagnostic{};
        n += 1;
        if (gguf.File.open(alloc, path, &diag)) |f| {
            var ff = f;
            ff.deinit();
            if (!std.mem.eql(u8, expected, "OK")) bad += 1;
        } else |_| {
            if (std.mem.indexOf(u8, diag.message(), expected) == null) bad += 1;
        }
    }
    std.debug.print("{d} files, {d} mismatches\n", .{ n, bad });
    return if (bad == 0) 0 else 1;
}

const interesting = [_]u64{ 0, 1, 2, 3, 4, 5, 8, 9, 12, 13, 31, 32, 33, 63, 64, 255, 0x7fff_ffff, 0xffff_ffff, 1 << 32, 1 << 62, std.math.maxInt(i64), std.math.maxInt(u64) };

fn mutate(alloc: std.mem.Allocator, iterations: u64, seed: u64, files: []const []const u8) !u8 {
    var prng = std.Random.DefaultPrng.init(seed);
    const rnd = prng.random();
    var seeds = std.ArrayList([]u8).init(alloc);
    defer {
        for (seeds.items) |s| alloc.free(s);
        seeds.deinit();
    }
    for (files) |p| try seeds.append(try std.fs.cwd().readFileAlloc(alloc, p, 64 << 20));
    var accepted: u64 = 0;
    var it: u64 = 0;
    while (it < iterations) : (it += 1) {
        const src = seeds.items[rnd.uintLessThan(usize, seeds.items.len)];
        // Mutations concentrate on the header, where the parser's decisions are.
        const hot = @min(src.len, 4096);
        const buf = try alloc.dupe(u8, src);
        defer alloc.free(buf);
        var len = buf.len;
        const n_mut = 1 + rnd.uintLessThan(u32, 4);
        for (0..n_mut) |_| {
            if (hot < 8) break;
            const pos = rnd.uintLessThan(usize, hot - 8);
            switch (rnd.uintLessThan(u8, 4)) {
                0 => buf[pos] ^= @as(u8, 1) << rnd.int(u3),
                1 => buf[pos] = rnd.int(u8),
                2 => std.mem.writeInt(u64, buf[pos..][0..8], interesting[rnd.uintLessThan(usize, interesting.len)], .little),
                else => std.mem.writeInt(u32, buf[pos..][0..4], @truncate(interesting[rnd.uintLessThan(usize, interesting.len)]), .little),
            }
        }
        if (rnd.uintLessThan(u8, 8) == 0) len = rnd.uintLessThan(usize, len + 1);
        var f = gguf.File.parse(alloc, buf[0..len], null) catch continue;
        accepted += 1;
        f.deinit();
    }
    std.debug.print("{d} mutants, {d} accepted\n", .{ iterations, accepted });
    return 0;
}
