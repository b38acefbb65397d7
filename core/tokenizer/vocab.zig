//! Vocabulary: token texts, scores, types, BPE merge ranks and special ids, built from plain Zig
//! data (`VocabData`) or from GGUF metadata with llama.cpp's `tokenizer.ggml.*` keys.
//! The Vocab owns copies of everything, so the source (a mapped GGUF, test literals) may go away.
const std = @import("std");
const unicode = @import("unicode.zig");
const pretok = @import("pretok.zig");

pub const Model = enum {
    /// "llama": SentencePiece BPE over code points with score-ordered merges and <0xNN> fallback.
    spm,
    /// "gpt2": byte-level BPE with ranked merges.
    bpe,
};

/// Values of `tokenizer.ggml.token_type`.
pub const TokenType = enum(u8) {
    undefined = 0,
    normal = 1,
    unknown = 2,
    control = 3,
    user_defined = 4,
    unused = 5,
    byte = 6,

    pub fn fromInt(v: i64) TokenType {
        return if (v >= 0 and v <= 6) @enumFromInt(@as(u8, @intCast(v))) else .undefined;
    }
};

pub const VocabData = struct {
    model: Model,
    tokens: []const []const u8,
    /// Per-token merge scores (spm). Missing → all 0.
    scores: ?[]const f32 = null,
    /// Per-token `TokenType` values. Missing → normal, except that spm `<0xNN>` texts become byte.
    types: ?[]const i32 = null,
    /// "left right" strings, rank = index (bpe).
    merges: ?[]const []const u8 = null,
    bos_id: ?u32 = null,
    eos_id: ?u32 = null,
    unk_id: ?u32 = null,
    pad_id: ?u32 = null,
    /// null → the model's default, as llama.cpp: spm adds BOS and a space prefix, bpe neither.
    add_bos: ?bool = null,
    add_eos: ?bool = null,
    add_space_prefix: ?bool = null,
    /// `tokenizer.ggml.pre` (bpe): picks the pre-tokenizer (pretok.zig); null = "default", as
    /// llama.cpp; a name without an implementation is error.UnsupportedPreTokenizer.
    pre: ?[]const u8 = null,
};

pub const Error = error{ OutOfMemory, EmptyVocab, TooManyTokens, BadTokenId, MissingKey, UnsupportedModel, InvalidMetadata, DuplicateToken, UnsupportedPreTokenizer };

pub const Vocab = struct {
    arena: std.heap.ArenaAllocator,
    model: Model,
    texts: []const []const u8,
    scores: []const f32,
    types: []const TokenType,
    text_to_id: std.StringHashMapUnmanaged(u32) = .{},
    /// Key "left right" → rank (lower merges first).
    merge_ranks: std.StringHashMapUnmanaged(u32) = .{},
    /// byte → token: `<0xNN>` for spm, the bytes_to_unicode character for bpe.
    byte_tokens: [256]?u32 = [_]?u32{null} ** 256,
    /// Tokens that the special-token partition matches in text, longest text first.
    specials: []const u32,
    bos_id: ?u32,
    eos_id: ?u32,
    unk_id: ?u32,
    pad_id: ?u32,
    add_bos: bool,
    add_eos: bool,
    add_space_prefix: bool,
    /// llama.cpp's clean_spaces: bpe (gpt-2) detokenization removes spaces before ?!., etc.
    clean_spaces: bool,
    /// bpe: the word splitter named by tokenizer.ggml.pre.
    pretok: pretok.PreTokenizer = .{ .stages = &.{} },
    /// bpe (llama-bpe, tekken): a pre-tokenized word that is a token skips the merges.
    ignore_merges: bool = false,
    /// End-of-generation tokens: EOS plus control tokens named like end-of-turn markers.
    eog_ids: []const u32,

    pub fn init(gpa: std.mem.Allocator, data: VocabData) Error!Vocab {
        const n = data.tokens.len;
        if (n == 0) return error.EmptyVocab;
        const pre: pretok.Info = if (data.model == .bpe) (pretok.lookup(data.pre) orelse return error.UnsupportedPreTokenizer) else .{ .kind = .default, .clean_spaces = false };
        if (n > std.math.maxInt(u32)) return error.TooManyTokens;
        var arena = std.heap.ArenaAllocator.init(gpa);
        errdefer arena.deinit();
        const a = arena.allocator();

        const texts = try a.alloc([]const u8, n);
        const scores = try a.alloc(f32, n);
        const types = try a.alloc(TokenType, n);
        var map: std.StringHashMapUnmanaged(u32) = .{};
        try map.ensureTotalCapacity(a, @intCast(n));
        for (data.tokens, 0..) |t, i| {
            texts[i] = try a.dupe(u8, t);
            scores[i] = if (data.scores) |s| (if (i < s.len) s[i] else 0) else 0;
            types[i] = if (data.types) |ty|
                (if (i < ty.len) TokenType.fromInt(ty[i]) else .normal)
            else if (data.model == .spm and parseByteToken(t) != null) .byte else .normal;
            // Later duplicates win, as in llama.cpp's token_to_id[word] = i.
            map.putAssumeCapacity(texts[i], @intCast(i));
        }

        var ranks: std.StringHashMapUnmanaged(u32) = .{};
        if (data.merges) |merges| {
            try ranks.ensureTotalCapacity(a, @intCast(merges.len));
            for (merges, 0..) |m, r| {
                // First occurrence wins, as llama.cpp's bpe_ranks.emplace.
                const gop = ranks.getOrPutAssumeCapacity(m);
                if (!gop.found_existing) {
                    gop.key_ptr.* = try a.dupe(u8, m);
                    gop.value_ptr.* = @intCast(r);
                }
            }
        }

        var self = Vocab{
            .arena = undefined,
            .model = data.model,
            .texts = texts,
            .scores = scores,
            .types = types,
            .text_to_id = map,
            .merge_ranks = ranks,
            .specials = &.{},
            .bos_id = checkId(data.bos_id, n),
            .eos_id = checkId(data.eos_id, n),
            .unk_id = checkId(data.unk_id, n),
            .pad_id = checkId(data.pad_id, n),
            .add_bos = data.add_bos orelse (data.model == .spm or pre.add_bos),
            .add_eos = data.add_eos orelse false,
            .add_space_prefix = data.add_space_prefix orelse (data.model == .spm),
            .clean_spaces = data.model == .bpe and pre.clean_spaces,
            .ignore_merges = data.model == .bpe and pre.ignore_merges,
            .eog_ids = &.{},
        };

        for (0..256) |b| {
            var buf: [8]u8 = undefined;
            const key = switch (data.model) {
                .spm => std.fmt.bufPrint(&buf, "<0x{X:0>2}>", .{b}) catch unreachable,
                .bpe => buf[0 .. std.unicode.utf8Encode(unicode.byte_to_cp[b], &buf) catch unreachable],
            };
            self.byte_tokens[b] = map.get(key);
            // SentencePiece vocabs without <0xNN> may hold the raw byte as a piece.
            if (self.byte_tokens[b] == null and data.model == .spm) self.byte_tokens[b] = map.get(&[_]u8{@intCast(b)});
        }

        var specials = std.ArrayList(u32).init(a);
        var eogs = std.ArrayList(u32).init(a);
        if (self.eos_id) |e| try eogs.append(e);
        for (types, 0..) |t, i| {
            switch (t) {
                .control, .user_defined, .unknown => if (texts[i].len > 0) try specials.append(@intCast(i)),
                else => {},
            }
            if (t == .control and (self.eos_id == null or i != self.eos_id.?)) {
                const eog_names = [_][]const u8{ "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>" };
                for (eog_names) |name| {
                    if (std.mem.eql(u8, texts[i], name)) try eogs.append(@intCast(i));
                }
            }
        }
        std.mem.sort(u32, specials.items, texts, struct {
            fn lt(tx: []const []const u8, l: u32, r: u32) bool {
                if (tx[l].len != tx[r].len) return tx[l].len > tx[r].len;
                return l < r;
            }
        }.lt);
        self.specials = specials.items;
        self.eog_ids = eogs.items;
        if (data.model == .bpe) self.pretok = pretok.PreTokenizer.init(a, pre.kind) catch |e| switch (e) {
            error.OutOfMemory => return error.OutOfMemory,
            error.BadPattern => unreachable, // the patterns are fixed; pretok.zig's tests compile each
        };
        self.arena = arena;
        return self;
    }

    pub fn deinit(self: *Vocab) void {
        self.arena.deinit();
        self.* = undefined;
    }

    pub fn nTokens(self: *const Vocab) u32 {
        return @intCast(self.texts.len);
    }

    pub fn find(self: *const Vocab, text: []const u8) ?u32 {
        return self.text_to_id.get(text);
    }

    pub fn tokenType(self: *const Vocab, id: u32) TokenType {
        return if (id < self.types.len) self.types[id] else .undefined;
    }

    pub fn isEog(self: *const Vocab, id: u32) bool {
        return std.mem.indexOfScalar(u32, self.eog_ids, id) != null;
    }

    /// Merge rank of the pair, or null. `scratch` holds "left right" while looking up.
    pub fn mergeRank(self: *const Vocab, scratch: *std.ArrayList(u8), left: []const u8, right: []const u8) !?u32 {
        scratch.clearRetainingCapacity();
        try scratch.ensureTotalCapacity(left.len + right.len + 1);
        scratch.appendSliceAssumeCapacity(left);
        scratch.appendAssumeCapacity(' ');
        scratch.appendSliceAssumeCapacity(right);
        return self.merge_ranks.get(scratch.items);
    }

    /// Builds VocabData from a GGUF file through the reader's accessors (`getString`, `getU32`,
    /// `getBool`, `getArray` → `len`, `string(i)`, `float(i)`, `int(i)`); duck-typed so that this
    /// module does not depend on the reader. Temporary arrays are freed before returning.
    pub fn fromGguf(gpa: std.mem.Allocator, file: anytype) !Vocab {
        var why = Problem{};
        return fromGgufWhy(gpa, file, &why);
    }

    /// fromGguf that says which key is wrong and how in `why` (llama.cpp rejects the same files).
    pub fn fromGgufWhy(gpa: std.mem.Allocator, file: anytype, why: *Problem) !Vocab {
        const model_name = file.getString("tokenizer.ggml.model") orelse
            return why.fail(error.MissingKey, "tokenizer.ggml.model is missing or not a string", .{});
        const model: Model = if (std.mem.eql(u8, model_name, "llama"))
            .spm
        else if (std.mem.eql(u8, model_name, "gpt2"))
            .bpe
        else
            return why.fail(error.UnsupportedModel, "tokenizer.ggml.model '{s}' is not supported (llama, gpt2)", .{model_name});

        var tmp = std.heap.ArenaAllocator.init(gpa);
        defer tmp.deinit();
        const a = tmp.allocator();

        const tok_key = "tokenizer.ggml.tokens";
        const tok_arr = file.getArray(tok_key) orelse return why.fail(error.MissingKey, "{s} is missing or not an array", .{tok_key});
        const n: usize = std.math.cast(usize, tok_arr.len) orelse return error.TooManyTokens;
        if (n == 0) return why.fail(error.EmptyVocab, "{s} is empty", .{tok_key});
        if (n > std.math.maxInt(u32)) return error.TooManyTokens;
        if (tok_arr.elem_type != .string) return why.fail(error.InvalidMetadata, "{s} is an array of {s}, not of strings", .{ tok_key, @tagName(tok_arr.elem_type) });
        const tokens = try a.alloc([]const u8, n);
        var seen: std.StringHashMapUnmanaged(u32) = .{};
        try seen.ensureTotalCapacity(a, @intCast(n));
        for (tokens, 0..) |*t, i| {
            t.* = tok_arr.string(i).?;
            // Two ids with one text make the text → id map lose one of them (llama.cpp asserts);
            // a legacy vocabulary of decoded texts has many (tokenizing into the wrong ids).
            const gop = seen.getOrPutAssumeCapacity(t.*);
            if (gop.found_existing and t.len > 0)
                return why.fail(error.DuplicateToken, "{s}: tokens {d} and {d} are both '{s}'", .{ tok_key, gop.value_ptr.*, i, std.fmt.fmtSliceEscapeLower(t.*) });
            gop.value_ptr.* = @intCast(i);
        }

        var scores: ?[]f32 = null;
        if (file.get("tokenizer.ggml.scores")) |val| {
            const arr = try why.perToken(val, "tokenizer.ggml.scores", n, .float);
            const s = try a.alloc(f32, n);
            for (s, 0..) |*v, i| v.* = @floatCast(arr.float(i).?);
            scores = s;
        }
        var types: ?[]i32 = null;
        if (file.get("tokenizer.ggml.token_type")) |val| {
            const arr = try why.perToken(val, "tokenizer.ggml.token_type", n, .int);
            const t = try a.alloc(i32, n);
            for (t, 0..) |*v, i| v.* = std.math.cast(i32, arr.int(i) orelse 1) orelse 0;
            types = t;
        }
        var merges: ?[][]const u8 = null;
        if (file.get("tokenizer.ggml.merges")) |val| {
            const key = "tokenizer.ggml.merges";
            if (val != .array or val.array.elem_type != .string)
                return why.fail(error.InvalidMetadata, "{s} must be an array of strings, not {s}", .{ key, typeName(val) });
            const arr = val.array;
            const m = try a.alloc([]const u8, std.math.cast(usize, arr.len) orelse return error.TooManyTokens);
            for (m, 0..) |*v, i| v.* = arr.string(i).?;
            merges = m;
        }
        if (model == .bpe and merges == null) return why.fail(error.MissingKey, "tokenizer.ggml.merges is missing (a gpt2 tokenizer needs it)", .{});

        return init(gpa, .{
            .model = model,
            .tokens = tokens,
            .scores = scores,
            .types = types,
            .merges = merges,
            .bos_id = file.getU32("tokenizer.ggml.bos_token_id"),
            .eos_id = file.getU32("tokenizer.ggml.eos_token_id"),
            .unk_id = file.getU32("tokenizer.ggml.unknown_token_id"),
            .pad_id = file.getU32("tokenizer.ggml.padding_token_id"),
            .add_bos = file.getBool("tokenizer.ggml.add_bos_token"),
            .add_eos = file.getBool("tokenizer.ggml.add_eos_token"),
            .add_space_prefix = file.getBool("tokenizer.ggml.add_space_prefix"),
            .pre = file.getString("tokenizer.ggml.pre"),
        });
    }
};

/// What fromGgufWhy found wrong with the metadata, as a message naming the key.
pub const Problem = struct {
    buf: [256]u8 = undefined,
    len: usize = 0,

    pub fn message(self: *const Problem) []const u8 {
        return self.buf[0..self.len];
    }

    fn fail(self: *Problem, err: anytype, comptime fmt: []const u8, args: anytype) @TypeOf(err) {
        const s = std.fmt.bufPrint(&self.buf, fmt, args) catch self.buf[0..];
        self.len = s.len;
        return err;
    }

    /// A per-token array: one element per token, of a numeric type.
    fn perToken(self: *Problem, val: anytype, comptime key: []const u8, n: usize, comptime want: enum { float, int }) !@TypeOf(val.array) {
        if (val != .array) return self.fail(error.InvalidMetadata, "{s} must be an array, not {s}", .{ key, typeName(val) });
        const arr = val.array;
        const ok = switch (arr.elem_type) {
            .f32, .f64 => want == .float,
            .u8, .i8, .u16, .i16, .u32, .i32, .u64, .i64 => true,
            else => false,
        };
        if (!ok) return self.fail(error.InvalidMetadata, "{s} is an array of {s}, not of {s}", .{ key, @tagName(arr.elem_type), if (want == .float) "numbers" else "integers" });
        if (arr.len != n) return self.fail(error.InvalidMetadata, "{s} has {d} entries for {d} tokens", .{ key, arr.len, n });
        return arr;
    }
};

fn typeName(val: anytype) []const u8 {
    return switch (val) {
        .array => |arr| switch (arr.elem_type) {
            .string => "an array of strings",
            .array => "an array of arrays",
            else => "an array of numbers",
        },
        else => @tagName(val),
    };
}

/// Ids outside the vocab (e.g. GGUF's 0xFFFFFFFF "none") mean "no such token".
fn checkId(id: ?u32, n: usize) ?u32 {
    const v = id orelse return null;
    return if (v < n) v else null;
}

/// "<0xNN>" → NN.
pub fn parseByteToken(text: []const u8) ?u8 {
    if (text.len != 6 or !std.mem.startsWith(u8, text, "<0x") or text[5] != '>') return null;
    return std.fmt.parseInt(u8, text[3..5], 16) catch null;
}

test "vocab from plain data" {
    const toks = [_][]const u8{ "<unk>", "<s>", "</s>", "<0x41>", "a", "b", "ab", "a" };
    var v = try Vocab.init(std.testing.allocator, .{ .model = .spm, .tokens = &toks, .bos_id = 1, .eos_id = 2, .unk_id = 0 });
    defer v.deinit();
    try std.testing.expectEqual(@as(u32, 8), v.nTokens());
    try std.testing.expectEqual(@as(?u32, 7), v.find("a")); // later duplicate wins
    try std.testing.expectEqual(TokenType.byte, v.tokenType(3));
    try std.testing.expectEqual(@as(?u32, 3), v.byte_tokens[0x41]);
    try std.testing.expect(v.add_bos and v.add_space_prefix and !v.add_eos);
    try std.testing.expect(v.isEog(2));
    try std.testing.expectEqual(TokenType.undefined, v.tokenType(99));
}

test "bad special ids are dropped" {
    const toks = [_][]const u8{"x"};
    var v = try Vocab.init(std.testing.allocator, .{ .model = .bpe, .tokens = &toks, .bos_id = 0xFFFF_FFFF, .merges = &.{} });
    defer v.deinit();
    try std.testing.expectEqual(@as(?u32, null), v.bos_id);
    try std.testing.expectError(error.EmptyVocab, Vocab.init(std.testing.allocator, .{ .model = .spm, .tokens = &.{} }));
}
