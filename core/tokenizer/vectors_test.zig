//! llama.cpp's tokenizer test vectors (models/ggml-vocab-*.gguf{,.inp,.out}) read through the
//! GGUF reader, plus stories260K's 512-token vocab checked against llama2.c's encoder.
//! This file imports ../gguf, so it runs as part of core/root.zig's tests (module root core/).
const std = @import("std");
const reader = @import("../gguf/reader.zig");
const Tokenizer = @import("tokenizer.zig").Tokenizer;

const testing = std.testing;
const sep = "\n__ggml_vocab_test__\n";

fn readFixture(alloc: std.mem.Allocator, rel: []const u8) ![]u8 {
    const path = try reader.fixturePath(alloc, rel);
    defer alloc.free(path);
    return std.fs.cwd().readFileAlloc(alloc, path, 1 << 24);
}

fn loadTokenizer(alloc: std.mem.Allocator, rel: []const u8) !Tokenizer {
    var diag = reader.Diagnostic{};
    var f = try reader.openFixture(alloc, rel, &diag);
    defer f.deinit();
    return Tokenizer.fromGguf(alloc, &f);
}

/// Runs every case of `<name>.inp` / `<name>.out`, tokenizing as llama.cpp's test-tokenizer-0
/// (add_special = false, parse_special = false). With `roundtrip`, detokenizing must give the
/// input back (true for llama-spm on these inputs, with the dummy prefix stripped).
fn runVectors(name: []const u8, roundtrip: bool) !void {
    const a = testing.allocator;
    var tk = try loadTokenizer(a, name);
    defer tk.deinit();
    const inp_name = try std.fmt.allocPrint(a, "{s}.inp", .{name});
    defer a.free(inp_name);
    const out_name = try std.fmt.allocPrint(a, "{s}.out", .{name});
    defer a.free(out_name);
    const inp = try readFixture(a, inp_name);
    defer a.free(inp);
    const out = try readFixture(a, out_name);
    defer a.free(out);

    var cases = std.mem.splitSequence(u8, inp, sep);
    var lines = std.mem.splitScalar(u8, out, '\n');
    var n_cases: usize = 0;
    var failures: usize = 0;
    var want = std.ArrayList(u32).init(a);
    defer want.deinit();
    while (cases.next()) |text| {
        const line = lines.next() orelse break;
        // The .inp ends with a separator, leaving an empty last case without an expected line.
        if (cases.peek() == null and text.len == 0) break;
        want.clearRetainingCapacity();
        var it = std.mem.tokenizeScalar(u8, line, ' ');
        while (it.next()) |num| try want.append(try std.fmt.parseInt(u32, num, 10));

        const got = try tk.tokenize(a, text, .{ .add_special = false, .parse_special = false });
        defer a.free(got);
        if (!std.mem.eql(u32, want.items, got)) {
            failures += 1;
            std.debug.print("{s} case {d} {any}:\n  want {any}\n  got  {any}\n", .{ name, n_cases, text, want.items, got });
        }
        if (roundtrip) {
            const back = try tk.detokenize(a, got, .{});
            defer a.free(back);
            if (!std.mem.eql(u8, back, text)) {
                failures += 1;
                std.debug.print("{s} case {d}: round trip gave {any}\n", .{ name, n_cases, back });
            }
        }
        n_cases += 1;
    }
    try testing.expectEqual(@as(usize, 46), n_cases);
    try testing.expectEqual(@as(usize, 0), failures);
}

test "llama-spm vocab: llama.cpp test vectors, exact, and round trip" {
    try runVectors("vocab/ggml-vocab-llama-spm.gguf", true);
}

test "gpt-2 vocab: llama.cpp test vectors, exact" {
    try runVectors("vocab/ggml-vocab-gpt-2.gguf", false);
}

test "llama-bpe vocab (Llama 3): llama.cpp test vectors, exact" {
    try runVectors("vocab/ggml-vocab-llama-bpe.gguf", false);
}

test "qwen2 vocab: llama.cpp test vectors, exact" {
    try runVectors("vocab/ggml-vocab-qwen2.gguf", false);
}

test "stories260K: 'Once upon a time' as llama2.c encodes it with tok512" {
    const a = testing.allocator;
    var tk = try loadTokenizer(a, "stories260K.gguf");
    defer tk.deinit();
    try testing.expectEqual(@as(u32, 512), tk.nVocab());
    const ids = try tk.tokenize(a, "Once upon a time", .{});
    defer a.free(ids);
    // Expected ids come from llama2.c's encode() (BOS, dummy " " prefix, repeatedly merge the
    // best-scoring adjacent pair) run over tok512.bin: <s> ▁Once ▁upon ▁a ▁time.
    try testing.expectEqualSlices(u32, &expected_once_upon, ids);
    const text = try tk.detokenize(a, ids, .{ .remove_special = true });
    defer a.free(text);
    try testing.expectEqualStrings(" Once upon a time", text);
}

const expected_once_upon = [_]u32{ 1, 403, 407, 261, 378 };

test "real vocabs: special tokens only with parse_special, BOS per flags" {
    const a = testing.allocator;
    var spm_tk = try loadTokenizer(a, "vocab/ggml-vocab-llama-spm.gguf");
    defer spm_tk.deinit();
    const with = try spm_tk.tokenize(a, "<s>Hi</s>", .{ .parse_special = true });
    defer a.free(with);
    // BOS from add_bos, then <s>; the text after a special token gets the dummy prefix again.
    try testing.expectEqual(@as(u32, 1), with[0]);
    try testing.expectEqual(@as(u32, 1), with[1]);
    try testing.expectEqual(@as(u32, 2), with[with.len - 1]);
    const without = try spm_tk.tokenize(a, "<s>", .{ .add_special = false });
    defer a.free(without);
    try testing.expect(std.mem.indexOfScalar(u32, without, 1) == null);

    var gpt = try loadTokenizer(a, "vocab/ggml-vocab-gpt-2.gguf");
    defer gpt.deinit();
    const eot = try gpt.tokenize(a, "a<|endoftext|>", .{ .parse_special = true });
    defer a.free(eot);
    try testing.expectEqualSlices(u32, &.{ 64, 50256 }, eot); // gpt2 adds no BOS by default
    try testing.expect(gpt.isEog(50256));
    const plain = try gpt.tokenize(a, "<|endoftext|>", .{});
    defer a.free(plain);
    try testing.expect(plain.len > 1);
}

test "real vocabs: random bytes never crash, byte-level BPE round-trips them" {
    const a = testing.allocator;
    var spm_tk = try loadTokenizer(a, "vocab/ggml-vocab-llama-spm.gguf");
    defer spm_tk.deinit();
    var gpt = try loadTokenizer(a, "vocab/ggml-vocab-gpt-2.gguf");
    defer gpt.deinit();
    var prng = std.Random.DefaultPrng.init(1234);
    var buf: [64]u8 = undefined;
    for (0..200) |_| {
        const len = prng.random().uintLessThan(usize, buf.len);
        prng.random().bytes(buf[0..len]);
        const s = try spm_tk.tokenize(a, buf[0..len], .{ .parse_special = true });
        a.free(s);
        const g = try gpt.tokenize(a, buf[0..len], .{});
        defer a.free(g);
        // Without clean_spaces' rewriting, the pieces are exactly the input bytes.
        var joined = std.ArrayList(u8).init(a);
        defer joined.deinit();
        for (g) |id| try gpt.appendPiece(&joined, id, .{});
        try testing.expectEqualSlices(u8, buf[0..len], joined.items);
    }
}
