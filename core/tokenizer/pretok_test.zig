//! Tests of the pre-tokenizers (pretok.zig) and their regex matcher.
const std = @import("std");
const pretok = @import("pretok.zig");
const PreTokenizer = pretok.PreTokenizer;
const Kind = pretok.Kind;
const Info = pretok.Info;
const lookup = pretok.lookup;
const names = pretok.names;
const Thread = pretok.Thread;
const compile = pretok.compile;
const matchAt = pretok.matchAt;
const testing = std.testing;

fn expectSplit(kind: Kind, text: []const u8, want: []const []const u8) !void {
    var arena = std.heap.ArenaAllocator.init(testing.allocator);
    defer arena.deinit();
    const pt = try PreTokenizer.init(arena.allocator(), kind);
    var words = std.ArrayList([]const u8).init(testing.allocator);
    defer words.deinit();
    try pt.split(testing.allocator, text, &words);
    const ok = words.items.len == want.len and for (words.items, want) |g, w| {
        if (!std.mem.eql(u8, g, w)) break false;
    } else true;
    if (!ok) {
        std.debug.print("{s} {any}: got", .{ @tagName(kind), text });
        for (words.items) |w| std.debug.print(" [{s}]", .{w});
        std.debug.print("\n", .{});
        return error.TestUnexpectedResult;
    }
}

test "every pattern compiles" {
    var arena = std.heap.ArenaAllocator.init(testing.allocator);
    defer arena.deinit();
    for (std.enums.values(Kind)) |k| _ = try PreTokenizer.init(arena.allocator(), k);
    for (names) |e| try testing.expect(lookup(e[0]) != null);
    try testing.expectEqual(Kind.default, lookup(null).?.kind);
    try testing.expectEqual(@as(?Info, null), lookup("no-such-pre"));
}

test "gpt2 split" {
    try expectSplit(.gpt2, "Hello world", &.{ "Hello", " world" });
    try expectSplit(.gpt2, "   Hello", &.{ "  ", " Hello" });
    try expectSplit(.gpt2, "\n\n\n", &.{"\n\n\n"});
    try expectSplit(.gpt2, "\t\tH", &.{ "\t", "\t", "H" });
    try expectSplit(.gpt2, "a  ", &.{ "a", "  " });
    try expectSplit(.gpt2, "y'all! 333", &.{ "y", "'", "all", "!", " 333" });
    try expectSplit(.gpt2, "don't 're", &.{ "don", "'t", " '", "re" });
    try expectSplit(.gpt2, "\xff\xfeab", &.{ "\xff\xfe", "ab" });
    try expectSplit(.gpt2, " ", &.{" "});
    try expectSplit(.gpt2, "x \u{3000}y", &.{ "x", " ", "\u{3000}", "y" });
}

test "llama3 and qwen2 split" {
    try expectSplit(.llama3, "Hello World's 12345", &.{ "Hello", " World", "'s", " ", "123", "45" });
    try expectSplit(.llama3, "I'M  ok\n\n  x", &.{ "I", "'M", " ", " ok", "\n\n", " ", " x" });
    try expectSplit(.llama3, "(a)..\n", &.{ "(a", ")..\n" });
    try expectSplit(.qwen2, "x 123", &.{ "x", " ", "1", "2", "3" });
}

test "regex stages: default, falcon, starcoder, deepseek, gpt-4o, tekken" {
    // default: punctuation runs first, then GPT-2, then digit runs, then groups of three digits.
    try expectSplit(.default, "a+b 12345!", &.{ "a", "+", "b", " ", "123", "45", "!" });
    try expectSplit(.starcoder, "ab 123", &.{ "ab", " ", "1", "2", "3" });
    try expectSplit(.falcon, "x=1234", &.{ "x", "=", "123", "4" });
    try expectSplit(.deepseek_coder, "Hi, 你好\n12", &.{ "Hi", ",", " ", "你好", "\n", "1", "2" });
    try expectSplit(.deepseek_llm, "Hi 你好  ", &.{ "Hi", " ", "你好", "  " });
    try expectSplit(.gpt4o, "HelloWorld ABCdef I'm 12345", &.{ "Hello", "World", " ABCdef", " I'm", " ", "123", "45" });
    try expectSplit(.tekken, "HelloWorld 12", &.{ "Hello", "World", " ", "1", "2" });
    try expectSplit(.gpt4o, "a\n\n  b", &.{ "a", "\n\n", " ", " b" });
}

test "regex matcher basics" {
    var arena = std.heap.ArenaAllocator.init(testing.allocator);
    defer arena.deinit();
    const a = arena.allocator();
    var stack = std.ArrayList(Thread).init(testing.allocator);
    defer stack.deinit();
    const prog = try compile(a, "ab{1,3}|a|c+$");
    const in = [_]u32{ 'a', 'b', 'b', 'b', 'b', 'c', 'c' };
    try testing.expectEqual(@as(?usize, 4), try matchAt(&prog, &in, 0, &stack));
    try testing.expectEqual(@as(?usize, null), try matchAt(&prog, &in, 1, &stack));
    try testing.expectEqual(@as(?usize, 7), try matchAt(&prog, &in, 5, &stack));
    try testing.expectError(error.BadPattern, compile(a, "(a"));
    try testing.expectError(error.BadPattern, compile(a, "a*?"));
}
