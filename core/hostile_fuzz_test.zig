//! Bounded fuzz runs of the tokenizer (issue 14), leak-checked by std.testing.allocator:
//! random and mutated `tokenizer.ggml.*` metadata (semantic edits and byte flips of a
//! tokenizer-only GGUF), then random UTF-8 and invalid-byte prompts through tokenize, detokenize
//! and the streaming decoder; the chat_template string through the model report. Seeds are
//! fixed, so a failure reproduces; the counts printed here are the ones the README quotes.
const std = @import("std");
const testing = std.testing;
const pi5 = @import("root.zig");
const reader = pi5.gguf;
const writer_mod = pi5.gguf_writer;
const Tokenizer = pi5.Tokenizer;
const StreamDecoder = pi5.stream.StreamDecoder;
const Value = reader.Value;

const Counts = struct { files: u32 = 0, loaded: u32 = 0, rejected: u32 = 0, prompts: u32 = 0, unrepresentable: u32 = 0 };

/// A random prompt: valid UTF-8 of mixed scripts, or raw bytes (invalid sequences included).
fn randomPrompt(r: std.Random, buf: []u8) []const u8 {
    const n = r.uintLessThan(usize, buf.len);
    if (r.boolean()) {
        r.bytes(buf[0..n]);
        return buf[0..n];
    }
    var i: usize = 0;
    while (i + 4 <= n) {
        const cp: u21 = switch (r.uintLessThan(u8, 6)) {
            0 => r.intRangeAtMost(u21, 0x20, 0x7e),
            1 => ' ',
            2 => r.intRangeAtMost(u21, 0x80, 0x7ff),
            3 => r.intRangeAtMost(u21, 0x4e00, 0x9fff),
            4 => r.intRangeAtMost(u21, 0x1f300, 0x1faff),
            else => @as(u21, "\n\t<>s/|"[r.uintLessThan(usize, 7)]),
        };
        i += std.unicode.utf8Encode(cp, buf[i..]) catch unreachable;
    }
    return buf[0..i];
}

/// Tokenizes, detokenizes and stream-decodes `prompts` random prompts; ids must be in the vocabulary.
fn exercise(tok: *const Tokenizer, r: std.Random, prompts: u32, c: *Counts) !void {
    var buf: [96]u8 = undefined;
    for (0..prompts) |_| {
        const p = randomPrompt(r, &buf);
        c.prompts += 1;
        const ids = tok.tokenize(testing.allocator, p, .{ .add_special = r.boolean(), .parse_special = r.boolean() }) catch |e| switch (e) {
            error.UnrepresentableText => {
                c.unrepresentable += 1;
                continue;
            },
            else => return e,
        };
        defer testing.allocator.free(ids);
        for (ids) |id| try testing.expect(id < tok.nVocab());
        const text = try tok.detokenize(testing.allocator, ids, .{ .remove_special = r.boolean(), .unparse_special = r.boolean() });
        defer testing.allocator.free(text);
        var dec = StreamDecoder.init(testing.allocator, tok, .{ .special = r.boolean() });
        defer dec.deinit();
        var out = std.ArrayList(u8).init(testing.allocator);
        defer out.deinit();
        for (ids) |id| try dec.feed(id, &out);
        try dec.flush(&out);
        // The streaming decoder emits complete UTF-8 only.
        try testing.expect(std.unicode.utf8ValidateSlice(out.items));
    }
}

/// The tokenizer keys of a fixture, as (key, value) pairs that the mutators edit.
const Meta = struct {
    file: reader.File,
    fn keys(self: *const Meta) []const reader.KeyValue {
        return self.file.keys();
    }
};

fn randomValue(r: std.Random, a: std.mem.Allocator, like: Value) !Value {
    switch (r.uintLessThan(u8, 7)) {
        0 => return .{ .u32 = r.int(u32) },
        1 => return .{ .i32 = @as(i32, @intCast(r.intRangeAtMost(i64, -3, 600))) },
        2 => return .{ .string = "\xff\xfe garbage" },
        3 => return .{ .f32 = @bitCast(r.int(u32)) },
        4 => {
            // An array of random length and element type.
            const len = r.uintLessThan(usize, 700);
            const elem: reader.ValueType = switch (r.uintLessThan(u8, 3)) {
                0 => .string,
                1 => .f32,
                else => .i32,
            };
            if (elem == .string) {
                const s = try a.alloc([]const u8, len);
                for (s) |*x| {
                    const b = try a.alloc(u8, r.uintLessThan(usize, 6));
                    r.bytes(b);
                    x.* = b;
                }
                return .{ .array = .{ .elem_type = .string, .len = len, .strings = s } };
            }
            const d = try a.alloc(u8, len * 4);
            r.bytes(d);
            return .{ .array = .{ .elem_type = elem, .len = len, .data = d } };
        },
        5 => {
            // The same array, truncated or with one element changed.
            if (like != .array) return like;
            var arr = like.array;
            if (arr.len == 0) return like;
            if (r.boolean()) {
                arr.len = r.uintLessThan(u64, arr.len);
                if (arr.elem_type == .string) arr.strings = arr.strings[0..@intCast(arr.len)] else if (arr.data.len > 0) arr.data = arr.data[0..@intCast(arr.len * (arr.data.len / like.array.len))];
                return .{ .array = arr };
            }
            if (arr.elem_type == .string) {
                const s = try a.dupe([]const u8, arr.strings);
                const i = r.uintLessThan(usize, s.len);
                const j = r.uintLessThan(usize, s.len);
                s[i] = if (r.boolean()) s[j] else "\xc3";
                arr.strings = s;
            } else if (arr.data.len > 0) {
                const d = try a.dupe(u8, arr.data);
                d[r.uintLessThan(usize, d.len)] ^= @as(u8, 1) << r.int(u3);
                arr.data = d;
            }
            return .{ .array = arr };
        },
        else => return .{ .bool = r.boolean() },
    }
}

/// One mutated tokenizer-only GGUF image of `src`'s tokenizer keys (caller frees).
fn mutate(r: std.Random, a: std.mem.Allocator, src: *const reader.File) ![]u8 {
    var w = writer_mod.Writer.init(a);
    defer w.deinit();
    const n_edits = 1 + r.uintLessThan(u32, 3);
    var edit_keys: [3]usize = undefined;
    for (edit_keys[0..n_edits]) |*k| k.* = r.uintLessThan(usize, src.keys().len + 2);
    for (src.keys(), 0..) |kv, i| {
        if (!std.mem.startsWith(u8, kv.key, "tokenizer.")) continue;
        const edited = std.mem.indexOfScalar(usize, edit_keys[0..n_edits], i) != null;
        if (edited and r.uintLessThan(u8, 4) == 0) continue; // dropped
        try w.putValue(kv.key, if (edited) try randomValue(r, a, kv.value) else kv.value);
    }
    // Sometimes a key the file did not have.
    if (r.uintLessThan(u8, 4) == 0) {
        const extra = [_][]const u8{ "tokenizer.ggml.merges", "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.add_bos_token", "tokenizer.ggml.token_type" };
        const k = extra[r.uintLessThan(usize, extra.len)];
        if (src.get(k) == null) try w.putValue(k, try randomValue(r, a, .{ .u32 = 0 }));
    }
    var out = std.ArrayList(u8).init(testing.allocator);
    errdefer out.deinit();
    try w.write(out.writer());
    // And sometimes byte flips on top (the reader must catch what they break).
    if (r.uintLessThan(u8, 3) == 0) {
        for (0..1 + r.uintLessThan(usize, 8)) |_| out.items[r.uintLessThan(usize, out.items.len)] ^= r.int(u8) | 1;
    }
    return out.toOwnedSlice();
}

fn fuzzVocab(rel: []const u8, seed: u64, n_files: u32, prompts: u32, c: *Counts) !void {
    const path = try reader.fixturePath(testing.allocator, rel);
    defer testing.allocator.free(path);
    var src = try reader.File.open(testing.allocator, path, null);
    defer src.deinit();
    var prng = std.Random.DefaultPrng.init(seed);
    const r = prng.random();
    // The unmutated vocabulary first.
    {
        var tok = try Tokenizer.fromGguf(testing.allocator, &src);
        defer tok.deinit();
        try exercise(&tok, r, prompts * 4, c);
    }
    for (0..n_files) |_| {
        var arena = std.heap.ArenaAllocator.init(testing.allocator);
        defer arena.deinit();
        const bytes = try mutate(r, arena.allocator(), &src);
        defer testing.allocator.free(bytes);
        c.files += 1;
        var f = reader.File.parse(testing.allocator, bytes, null) catch {
            c.rejected += 1;
            continue;
        };
        defer f.deinit();
        var tok = Tokenizer.fromGguf(testing.allocator, &f) catch |e| switch (e) {
            error.OutOfMemory => return e,
            else => {
                c.rejected += 1;
                continue;
            },
        };
        defer tok.deinit();
        c.loaded += 1;
        try exercise(&tok, r, prompts, c);
    }
}

test "hostile fuzz: mutated tokenizer metadata and random prompts never crash, leak or emit bad ids" {
    var spm = Counts{};
    try fuzzVocab("stories260K.gguf", 0x5eed_0001, 400, 12, &spm);
    var bpe = Counts{};
    try fuzzVocab("vocab/ggml-vocab-gpt-2.gguf", 0x5eed_0002, 12, 12, &bpe);
    var big = Counts{};
    try fuzzVocab("vocab/ggml-vocab-llama-spm.gguf", 0x5eed_0003, 8, 12, &big);
    inline for (.{ .{ "spm stories260K", spm }, .{ "bpe gpt-2", bpe }, .{ "spm llama", big } }) |x| {
        std.debug.print("tokenizer fuzz ({s}): {d} mutated files, {d} loaded, {d} rejected; {d} prompts, {d} unrepresentable\n", .{ x[0], x[1].files, x[1].loaded, x[1].rejected, x[1].prompts, x[1].unrepresentable });
    }
    try testing.expect(spm.loaded > 0 and spm.rejected > 0);
}

test "hostile fuzz: random chat_template and general.name bytes come out of the model report as valid JSON" {
    const path = try reader.fixturePath(testing.allocator, "stories260K.gguf");
    defer testing.allocator.free(path);
    var prng = std.Random.DefaultPrng.init(0x5eed_0004);
    const r = prng.random();
    var tmp = std.testing.tmpDir(.{});
    defer tmp.cleanup();
    var src = try reader.File.open(testing.allocator, path, null);
    defer src.deinit();
    const dir = try tmp.dir.realpathAlloc(testing.allocator, ".");
    defer testing.allocator.free(dir);
    const out_path = try std.fs.path.join(testing.allocator, &.{ dir, "t.gguf" });
    defer testing.allocator.free(out_path);
    const n_runs = 40;
    var replaced: u32 = 0;
    for (0..n_runs) |_| {
        var buf: [200]u8 = undefined;
        const tmpl = randomPrompt(r, &buf);
        var nbuf: [40]u8 = undefined;
        const name = randomPrompt(r, &nbuf);
        var w = writer_mod.Writer.init(testing.allocator);
        defer w.deinit();
        for (src.keys()) |kv| {
            if (std.mem.eql(u8, kv.key, "general.name") or std.mem.eql(u8, kv.key, "tokenizer.chat_template")) continue;
            try w.putValue(kv.key, kv.value);
        }
        try w.putString("general.name", name);
        try w.putString("tokenizer.chat_template", tmpl);
        for (src.tensors) |t| try w.addTensor(t.name, t.type, t.ne[0..t.n_dims], t.data);
        try w.writeToFile(out_path);
        var diag = reader.Diagnostic{};
        const m = try pi5.Model.load(testing.allocator, out_path, .{ .n_threads = 1, .n_ctx = 16 }, &diag);
        defer m.destroy();
        const json = try m.infoJson(testing.allocator);
        defer testing.allocator.free(json);
        const parsed = try std.json.parseFromSlice(std.json.Value, testing.allocator, json, .{});
        defer parsed.deinit();
        const got = parsed.value.object.get("chat_template").?.string;
        try testing.expect(std.unicode.utf8ValidateSlice(got));
        if (std.unicode.utf8ValidateSlice(tmpl)) try testing.expectEqualStrings(tmpl, got) else replaced += 1;
        _ = parsed.value.object.get("name").?.string;
    }
    std.debug.print("chat_template fuzz: {d} random templates and names through the model report, {d} with invalid UTF-8 replaced\n", .{ n_runs, replaced });
}
