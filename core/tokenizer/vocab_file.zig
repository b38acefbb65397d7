//! Vocabulary-only loading: the tokenizer of a GGUF file without its weights (llama.cpp's
//! vocab_only), e.g. llama.cpp's models/ggml-vocab-*.gguf, which hold no tensors at all.
const std = @import("std");
const reader = @import("../gguf/reader.zig");
const Tokenizer = @import("tokenizer.zig").Tokenizer;
const vocab_mod = @import("vocab.zig");

pub const Error = error{ InvalidGguf, UnsupportedModel, OutOfMemory };

/// Reads `tokenizer.ggml.*` of an open GGUF; on failure `diag` names the problem. Shared by
/// full model loads and vocab-only loads so both report a bad tokenizer the same way.
pub fn fromFile(alloc: std.mem.Allocator, file: *const reader.File, diag: *reader.Diagnostic) Error!Tokenizer {
    var why = vocab_mod.Problem{};
    return Tokenizer.fromGgufWhy(alloc, file, &why) catch |e| switch (e) {
        error.OutOfMemory => error.OutOfMemory,
        error.UnsupportedPreTokenizer => {
            diag.set(null, "tokenizer.ggml.pre '{s}' is not a supported pre-tokenizer", .{file.getString("tokenizer.ggml.pre") orelse ""});
            return error.UnsupportedModel;
        },
        error.UnsupportedModel => {
            diag.set(null, "tokenizer.ggml.model '{s}' is not supported (llama and gpt2 are)", .{file.getString("tokenizer.ggml.model") orelse ""});
            return error.UnsupportedModel;
        },
        else => {
            if (why.len > 0) {
                diag.set(null, "tokenizer: {s}", .{why.message()});
                return error.InvalidGguf;
            }
            diag.set(null, "tokenizer: cannot read tokenizer.ggml.* metadata ({s})", .{@errorName(e)});
            return error.InvalidGguf;
        },
    };
}

/// Opens `path`, reads its tokenizer and closes it again (the Tokenizer owns copies).
pub fn load(alloc: std.mem.Allocator, path: []const u8, diag: *reader.Diagnostic) !Tokenizer {
    var file = try reader.File.open(alloc, path, diag);
    defer file.deinit();
    return fromFile(alloc, &file, diag);
}

const testing = std.testing;

test "vocab-only load of a weightless vocab file, and a clear error for an unknown pre-tokenizer" {
    const a = testing.allocator;
    const path = try reader.fixturePath(a, "vocab/ggml-vocab-llama-bpe.gguf");
    defer a.free(path);
    var diag = reader.Diagnostic{};
    var tk = try load(a, path, &diag);
    defer tk.deinit();
    const ids = try tk.tokenize(a, "Hello world", .{});
    defer a.free(ids);
    // llama-bpe adds BOS (<|begin_of_text|> = 128000) by default, as llama.cpp.
    try testing.expectEqualSlices(u32, &.{ 128000, 9906, 1917 }, ids);

    // A GGUF whose tokenizer.ggml.pre names something unimplemented must fail naming it.
    const writer = @import("../gguf/writer.zig");
    var tmp = testing.tmpDir(.{});
    defer tmp.cleanup();
    const dir = try tmp.dir.realpathAlloc(a, ".");
    defer a.free(dir);
    const bad = try std.fs.path.join(a, &.{ dir, "bad-pre.gguf" });
    defer a.free(bad);
    {
        var w = writer.Writer.init(a);
        defer w.deinit();
        try w.putString("general.architecture", "llama");
        try w.putString("tokenizer.ggml.model", "gpt2");
        try w.putString("tokenizer.ggml.pre", "no-such-pre");
        try w.putStringArray("tokenizer.ggml.tokens", &.{ "a", "b", "ab" });
        try w.putStringArray("tokenizer.ggml.merges", &.{"a b"});
        try w.writeToFile(bad);
    }
    var d2 = reader.Diagnostic{};
    try testing.expectError(error.UnsupportedModel, load(a, bad, &d2));
    try testing.expect(std.mem.indexOf(u8, d2.message(), "'no-such-pre'") != null);
}
