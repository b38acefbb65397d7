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

fn skipWithoutFixture(rel: []const u8) !void {
    const p = try fixturePath(rel);
    defer testing.allocator.free(p);
}

fn tmpPath(tmp: *std.testing.TmpDir, name: []const u8) ![]u8 {
    const dir = try tmp.dir.realpathAlloc(testing.allocator, ".");
    defer testing.allocator.free(dir);
    return std.fs.path.join(testing.allocator, &.{ dir, name });
}

test "hostile: a fence timeout while loading fails with GpuTimeout and frees what it allocated" {
    const path = try fixturePath("stories260K.gguf");
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
    if (std.os.linux.E.init(std.os.linux.mknodat(std.posix.AT.FDCWD, fifo_z, std.os.linux.S.IFIFO | 0o600, 0)) != .SUCCESS) return error.SkipZigTest;
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

const writer_mod = pi5.gguf_writer;
const Value = reader.Value;

/// One metadata change for `rewrite`: drop `key`, then put `value` under it (null = only drop).
const Edit = struct { key: []const u8, value: ?Value = null };

/// Writes a copy of fixture `rel` to tmp/`name` with `edits` applied; returns the path.
fn rewrite(tmp: *std.testing.TmpDir, rel: []const u8, name: []const u8, edits: []const Edit) ![]u8 {
    var src = try reader.openFixture(testing.allocator, rel, null);
    defer src.deinit();
    var w = writer_mod.Writer.init(testing.allocator);
    defer w.deinit();
    outer: for (src.keys()) |kv| {
        for (edits) |e| if (std.mem.eql(u8, e.key, kv.key)) continue :outer;
        try w.putValue(kv.key, kv.value);
    }
    for (edits) |e| if (e.value) |v| try w.putValue(e.key, v);
    for (src.tensors) |t| try w.addTensor(t.name, t.type, t.ne[0..t.n_dims], t.data);
    const path = try tmpPath(tmp, name);
    errdefer testing.allocator.free(path);
    try w.writeToFile(path);
    return path;
}

/// Loads `path` expecting `want`; the diagnostic must contain `needle`.
fn expectLoadError(path: []const u8, want: anyerror, needle: []const u8) !void {
    var diag = reader.Diagnostic{};
    if (Model.load(testing.allocator, path, .{ .n_threads = 1 }, &diag)) |m| {
        m.destroy();
        std.debug.print("{s}: loaded, expected {s}\n", .{ path, @errorName(want) });
        return error.TestUnexpectedResult;
    } else |e| {
        if (e != want or std.mem.indexOf(u8, diag.message(), needle) == null) {
            std.debug.print("{s}: {s} '{s}', expected {s} naming '{s}'\n", .{ path, @errorName(e), diag.message(), @errorName(want), needle });
            return error.TestUnexpectedResult;
        }
    }
}

fn arrayOf(comptime T: type, elem: reader.ValueType, items: []const T) Value {
    return .{ .array = .{ .elem_type = elem, .len = items.len, .data = std.mem.sliceAsBytes(items) } };
}

test "hostile: tokenizer metadata llama.cpp rejects is rejected with a message naming the key" {
    try skipWithoutFixture("stories260K.gguf");
    var tmp = std.testing.tmpDir(.{});
    defer tmp.cleanup();
    var src = try reader.openFixture(testing.allocator, "stories260K.gguf", null);
    defer src.deinit();
    const toks = src.getArray("tokenizer.ggml.tokens").?;
    const n: usize = @intCast(toks.len);
    const scores = try testing.allocator.alloc(f32, n);
    defer testing.allocator.free(scores);
    @memset(scores, 0);
    const types = try testing.allocator.alloc(i32, n);
    defer testing.allocator.free(types);
    @memset(types, 1);
    // A duplicate token text (the GGJT-era vocabulary of decoded texts has 97).
    const dup = try testing.allocator.dupe([]const u8, toks.strings);
    defer testing.allocator.free(dup);
    dup[300] = dup[301];
    const cases = [_]struct { name: []const u8, edit: Edit, needle: []const u8 }{
        .{ .name = "short_scores", .edit = .{ .key = "tokenizer.ggml.scores", .value = arrayOf(f32, .f32, scores[0 .. n - 1]) }, .needle = "tokenizer.ggml.scores has 511 entries for 512 tokens" },
        .{ .name = "string_scores", .edit = .{ .key = "tokenizer.ggml.scores", .value = .{ .array = .{ .elem_type = .string, .len = n, .strings = toks.strings } } }, .needle = "tokenizer.ggml.scores is an array of string" },
        .{ .name = "short_types", .edit = .{ .key = "tokenizer.ggml.token_type", .value = arrayOf(i32, .i32, types[0..7]) }, .needle = "tokenizer.ggml.token_type has 7 entries" },
        .{ .name = "float_types", .edit = .{ .key = "tokenizer.ggml.token_type", .value = arrayOf(f32, .f32, scores) }, .needle = "tokenizer.ggml.token_type is an array of f32" },
        .{ .name = "int_merges", .edit = .{ .key = "tokenizer.ggml.merges", .value = arrayOf(i32, .i32, types) }, .needle = "tokenizer.ggml.merges must be an array of strings" },
        .{ .name = "scalar_scores", .edit = .{ .key = "tokenizer.ggml.scores", .value = .{ .u32 = 3 } }, .needle = "tokenizer.ggml.scores must be an array" },
        .{ .name = "dup_tokens", .edit = .{ .key = "tokenizer.ggml.tokens", .value = .{ .array = .{ .elem_type = .string, .len = n, .strings = dup } } }, .needle = "tokens 300 and 301" },
        .{ .name = "int_tokens", .edit = .{ .key = "tokenizer.ggml.tokens", .value = arrayOf(i32, .i32, types) }, .needle = "tokenizer.ggml.tokens is an array of i32" },
    };
    for (cases) |c| {
        const path = try rewrite(&tmp, "stories260K.gguf", c.name, &.{c.edit});
        defer testing.allocator.free(path);
        try expectLoadError(path, error.InvalidGguf, c.needle);
    }
}

test "hostile: bad rope.freq_base and norm epsilon name the key and are invalid models" {
    try skipWithoutFixture("stories260K.gguf");
    var tmp = std.testing.tmpDir(.{});
    defer tmp.cleanup();
    const cases = [_]struct { key: []const u8, v: f32 }{
        .{ .key = "llama.rope.freq_base", .v = 0 },
        .{ .key = "llama.rope.freq_base", .v = std.math.nan(f32) },
        .{ .key = "llama.attention.layer_norm_rms_epsilon", .v = -1e-5 },
        .{ .key = "llama.attention.layer_norm_rms_epsilon", .v = 0 },
        .{ .key = "llama.rope.freq_base", .v = std.math.inf(f32) },
    };
    for (cases) |c| {
        const path = try rewrite(&tmp, "stories260K.gguf", "hp.gguf", &.{.{ .key = c.key, .value = .{ .f32 = c.v } }});
        defer testing.allocator.free(path);
        try expectLoadError(path, error.InvalidGguf, c.key);
    }
}

test "hostile: a legacy GGJT file or a llama2.c checkpoint as a model suggests convert" {
    const ggjt = try fixturePath("legacy/TinyLLama-v0.ggmlv3.q4_0.bin");
    defer testing.allocator.free(ggjt);
    try expectLoadError(ggjt, error.InvalidGguf, "convert --ggjt");
    const l2c = try fixturePath("stories260K.bin");
    defer testing.allocator.free(l2c);
    try expectLoadError(l2c, error.InvalidGguf, "convert --checkpoint");
}

test "hostile: general.name and chat_template that are not UTF-8 come out as JSON strings" {
    try skipWithoutFixture("stories260K.gguf");
    var tmp = std.testing.tmpDir(.{});
    defer tmp.cleanup();
    const path = try rewrite(&tmp, "stories260K.gguf", "utf8.gguf", &.{
        .{ .key = "general.name", .value = .{ .string = "bad\xff\xfename\xe2\x82" } },
        .{ .key = "tokenizer.chat_template", .value = .{ .string = "{{ messages[0]['content'] }}\xc3" } },
    });
    defer testing.allocator.free(path);
    var diag = reader.Diagnostic{};
    const m = try Model.load(testing.allocator, path, .{ .n_threads = 1 }, &diag);
    defer m.destroy();
    const json = try m.infoJson(testing.allocator);
    defer testing.allocator.free(json);
    const parsed = try std.json.parseFromSlice(std.json.Value, testing.allocator, json, .{});
    defer parsed.deinit();
    const obj = parsed.value.object;
    try testing.expectEqualStrings("bad\u{FFFD}\u{FFFD}name\u{FFFD}\u{FFFD}", obj.get("name").?.string);
    try testing.expectEqualStrings("{{ messages[0]['content'] }}\u{FFFD}", obj.get("chat_template").?.string);
    try testing.expectEqual(@as(usize, 2), obj.get("utf8_replaced").?.array.items.len);
}

test "hostile: characters the vocabulary cannot represent are an error (or <unk>), never dropped" {
    const T = pi5.Tokenizer;
    // An SPM vocabulary without byte tokens and without <unk>: the snowman has no piece.
    const toks = [_][]const u8{ "<s>", "</s>", "\u{2581}", "a", "b", "\u{2581}a" };
    var t = try T.init(testing.allocator, .{ .model = .spm, .tokens = &toks, .bos_id = 0, .eos_id = 1 });
    defer t.deinit();
    try testing.expectError(error.UnrepresentableText, t.tokenize(testing.allocator, "a \u{2603}", .{}));
    const ok = try t.tokenize(testing.allocator, "a b", .{});
    defer testing.allocator.free(ok);
    try testing.expectEqualSlices(u32, &.{ 0, 5, 2, 4 }, ok);
    // With <unk> the character becomes <unk>, as llama.cpp does.
    const toks_unk = [_][]const u8{ "<unk>", "<s>", "</s>", "\u{2581}", "a" };
    var tu = try T.init(testing.allocator, .{ .model = .spm, .tokens = &toks_unk, .bos_id = 1, .eos_id = 2, .unk_id = 0 });
    defer tu.deinit();
    const got = try tu.tokenize(testing.allocator, "\u{2603}", .{ .add_special = false });
    defer testing.allocator.free(got);
    try testing.expect(got.len > 0 and std.mem.indexOfScalar(u32, got, 0) != null);
    // A one-token vocabulary: the prompt is not silently empty.
    var one = try T.init(testing.allocator, .{ .model = .spm, .tokens = &.{"x"} });
    defer one.deinit();
    try testing.expectError(error.UnrepresentableText, one.tokenize(testing.allocator, "Once upon a time", .{}));
    // Byte-level BPE without the byte alphabet: also an error, not nothing.
    var bpe = try T.init(testing.allocator, .{ .model = .bpe, .tokens = &.{ "a", "b" }, .merges = &.{} });
    defer bpe.deinit();
    try testing.expectError(error.UnrepresentableText, bpe.tokenize(testing.allocator, "a\u{2603}", .{}));
}

test "hostile: an explicit device that does not exist is an error, not a CPU fallback" {
    const r = Runtime.create(testing.allocator, .{ .backend = .auto, .device = "99", .log = .{ .level = .err } });
    if (r) |rt| {
        defer rt.destroy();
        // Only when Vulkan itself is missing may the runtime run on the CPU.
        try testing.expect(rt.backend == .cpu and std.mem.indexOf(u8, rt.fallbackReason(), "device") == null);
    } else |e| try testing.expectEqual(error.DeviceNotFound, e);
}

const gen = pi5.generate;

fn generateText(m: *Model, n: u32, reset: bool, cb: ?gen.Callback) !struct { text: []u8, res: gen.Result } {
    var out = std.ArrayList(u8).init(testing.allocator);
    errdefer out.deinit();
    var res: gen.Result = undefined;
    try gen.generate(testing.allocator, m, "", .{ .max_tokens = n, .reset = reset, .sampling = .{ .temperature = 0 }, .on_token = cb }, &out, &res);
    return .{ .text = try out.toOwnedSlice(), .res = res };
}

test "hostile: continuing a generation does not repeat the last token; every token reaches the callback" {
    const path = try fixturePath("stories260K.gguf");
    defer testing.allocator.free(path);
    var diag = reader.Diagnostic{};
    const m = try Model.load(testing.allocator, path, .{ .n_threads = 2 }, &diag);
    defer m.destroy();
    const whole = try generateText(m, 40, true, null);
    defer testing.allocator.free(whole.text);
    const a = try generateText(m, 17, true, null);
    defer testing.allocator.free(a.text);
    const b = try generateText(m, 23, false, null);
    defer testing.allocator.free(b.text);
    const joined = try std.mem.concat(testing.allocator, u8, &.{ a.text, b.text });
    defer testing.allocator.free(joined);
    try testing.expectEqualStrings(whole.text, joined);
    try testing.expectEqual(@as(u32, 41), m.n_past); // BOS + 40 generated, the last one included

    // A stop string holds back text while it may still match: those tokens are reported too.
    const Count = struct {
        ids: u32 = 0,
        fn f(ctx: ?*anyopaque, token: u32, _: []const u8) bool {
            const self: *@This() = @ptrCast(@alignCast(ctx.?));
            if (token != std.math.maxInt(u32)) self.ids += 1;
            return true;
        }
    };
    var count = Count{};
    var out = std.ArrayList(u8).init(testing.allocator);
    defer out.deinit();
    var res: gen.Result = undefined;
    try gen.generate(testing.allocator, m, "", .{ .max_tokens = 120, .sampling = .{ .temperature = 0 }, .stop = &.{"Lily's mom"}, .on_token = .{ .ctx = &count, .func = Count.f } }, &out, &res);
    try testing.expectEqual(res.n_generated, count.ids);
}

const files = pi5.model_files;

fn loadAndGenerate(path: []const u8) !void {
    var diag = reader.Diagnostic{};
    const m = Model.load(testing.allocator, path, .{ .n_threads = 1, .n_ctx = 32 }, &diag) catch |e| {
        std.debug.print("{s}: {s}\n", .{ path, diag.message() });
        return e;
    };
    defer m.destroy();
    var out = std.ArrayList(u8).init(testing.allocator);
    defer out.deinit();
    var res: gen.Result = undefined;
    try gen.generate(testing.allocator, m, "hello", .{ .max_tokens = 4, .sampling = .{ .temperature = 0 } }, &out, &res);
    try testing.expectEqual(@as(u32, 4), res.n_generated);
}

test "hostile: synth presets write loadable files for every type, with or without a vocabulary" {
    var tmp = std.testing.tmpDir(.{});
    defer tmp.cleanup();
    const path = try tmpPath(&tmp, "s.gguf");
    defer testing.allocator.free(path);
    for ([_]pi5.quant.GgmlType{ .f32, .f16, .q8_0, .q4_0, .q4_k, .q6_k }) |t| {
        for ([_]files.Arch{ .llama, .phi2, .gpt2 }) |arch| {
            var diag = reader.Diagnostic{};
            files.synth(testing.allocator, .{ .arch = arch, .weight_type = t }, path, &diag) catch |e| {
                std.debug.print("synth {s} {s}: {s}\n", .{ @tagName(arch), t.name(), diag.message() });
                return e;
            };
            try loadAndGenerate(path);
        }
    }
}

test "hostile: quantize says what kept F32, fails when nothing could be quantized, never truncates the destination" {
    var tmp = std.testing.tmpDir(.{});
    defer tmp.cleanup();
    const src = try tmpPath(&tmp, "f32.gguf");
    defer testing.allocator.free(src);
    const dst = try tmpPath(&tmp, "q.gguf");
    defer testing.allocator.free(dst);
    var diag = reader.Diagnostic{};
    // n_embd 64, n_ff 100: no row is a multiple of 256; ffn_down's rows (100) are none of 32 either.
    try files.synth(testing.allocator, .{ .n_ff = 100 }, src, &diag);
    try tmp.dir.writeFile(.{ .sub_path = "q.gguf", .data = "precious" });
    for ([_][]const u8{ "Q4_K_M", "Q6_K", "Q4_K" }) |name| {
        diag = .{};
        try testing.expectError(error.InvalidArgument, files.quantize(testing.allocator, src, dst, files.Target.parse(name).?, null, &diag));
        try testing.expect(std.mem.indexOf(u8, diag.message(), "no tensor can be quantized") != null);
        try testing.expect(std.mem.indexOf(u8, diag.message(), "block of 256") != null);
        // The destination is as it was: outputs are written to a temporary file and renamed.
        const kept = try tmp.dir.readFileAlloc(testing.allocator, "q.gguf", 64);
        defer testing.allocator.free(kept);
        try testing.expectEqualStrings("precious", kept);
    }
    diag = .{};
    try files.quantize(testing.allocator, src, dst, files.Target.parse("Q4_0").?, null, &diag);
    try testing.expect(std.mem.indexOf(u8, diag.message(), "ffn_down") != null);
    try loadAndGenerate(dst);
    // No temporary files are left beside the destination.
    var dir = try tmp.dir.openDir(".", .{ .iterate = true });
    defer dir.close();
    var it = dir.iterate();
    var n: u32 = 0;
    while (try it.next()) |_| n += 1;
    try testing.expectEqual(@as(u32, 2), n);
}
