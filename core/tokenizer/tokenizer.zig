//! Text ⇄ token ids for GGUF vocabularies, following llama.cpp's llama_tokenize / token_to_piece /
//! detokenize semantics for the "llama" (SentencePiece BPE) and "gpt2" (byte-level BPE) models.
const std = @import("std");
pub const vocab_mod = @import("vocab.zig");
pub const spm = @import("spm.zig");
pub const bpe = @import("bpe.zig");
pub const unicode = @import("unicode.zig");
pub const pretok = @import("pretok.zig");

pub const Vocab = vocab_mod.Vocab;
pub const VocabData = vocab_mod.VocabData;
pub const TokenType = vocab_mod.TokenType;
pub const Model = vocab_mod.Model;

pub const TokenizeOptions = struct {
    /// Add BOS/EOS as the vocab's add_bos/add_eos flags say.
    add_special: bool = true,
    /// Match control/unknown token texts such as "<s>" or "<|endoftext|>" in the input.
    /// User-defined tokens are always matched, as llama.cpp does.
    parse_special: bool = false,
};

pub const PieceOptions = struct {
    /// Render control/unknown tokens as their text instead of nothing.
    special: bool = false,
    /// Drop one leading space of the piece (SentencePiece's dummy prefix).
    lstrip: bool = false,
};

pub const DetokenizeOptions = struct {
    /// Drop a leading BOS / trailing EOS when the vocab adds them.
    remove_special: bool = false,
    /// Render control tokens as text.
    unparse_special: bool = false,
};

const Fragment = union(enum) { text: []const u8, token: u32 };

pub const Tokenizer = struct {
    vocab: Vocab,

    pub fn init(alloc: std.mem.Allocator, data: VocabData) !Tokenizer {
        return .{ .vocab = try Vocab.init(alloc, data) };
    }

    /// Reads `tokenizer.ggml.*` through a GGUF reader (core/gguf/reader.zig's File or anything
    /// with the same accessors).
    pub fn fromGguf(alloc: std.mem.Allocator, file: anytype) !Tokenizer {
        return .{ .vocab = try Vocab.fromGguf(alloc, file) };
    }

    /// fromGguf with the reason in `why` (the key and what is wrong with it).
    pub fn fromGgufWhy(alloc: std.mem.Allocator, file: anytype, why: *vocab_mod.Problem) !Tokenizer {
        return .{ .vocab = try Vocab.fromGgufWhy(alloc, file, why) };
    }

    pub fn deinit(self: *Tokenizer) void {
        self.vocab.deinit();
    }

    pub fn nVocab(self: *const Tokenizer) u32 {
        return self.vocab.nTokens();
    }
    pub fn bos(self: *const Tokenizer) ?u32 {
        return self.vocab.bos_id;
    }
    pub fn eos(self: *const Tokenizer) ?u32 {
        return self.vocab.eos_id;
    }
    pub fn isEog(self: *const Tokenizer, id: u32) bool {
        return self.vocab.isEog(id);
    }
    pub fn eogIds(self: *const Tokenizer) []const u32 {
        return self.vocab.eog_ids;
    }

    /// Tokenizes `text`; caller frees the result with `alloc`.
    pub fn tokenize(self: *const Tokenizer, alloc: std.mem.Allocator, text: []const u8, opts: TokenizeOptions) ![]u32 {
        var out = std.ArrayList(u32).init(alloc);
        errdefer out.deinit();
        try self.tokenizeInto(alloc, text, opts, &out);
        return out.toOwnedSlice();
    }

    /// Appends the tokens of `text` to `out`; `alloc` is for scratch memory.
    pub fn tokenizeInto(self: *const Tokenizer, alloc: std.mem.Allocator, text: []const u8, opts: TokenizeOptions, out: *std.ArrayList(u32)) !void {
        const v = &self.vocab;
        var frags = std.ArrayList(Fragment).init(alloc);
        defer frags.deinit();
        // As llama.cpp: empty text gives no fragments, so not even the space prefix.
        if (text.len > 0) try self.partition(text, opts.parse_special, &frags);

        if (opts.add_special and v.add_bos) {
            if (v.bos_id) |b| try out.append(b);
        }
        switch (v.model) {
            .spm => {
                // The dummy prefix goes before text that starts the input or follows a special token.
                var prev_special = true;
                for (frags.items) |f| switch (f) {
                    .text => |t| {
                        const esc = try spm.escape(alloc, t, v.add_space_prefix and prev_special);
                        defer alloc.free(esc);
                        try spm.tokenize(alloc, v, esc, out);
                        prev_special = false;
                    },
                    .token => |id| {
                        try out.append(id);
                        prev_special = true;
                    },
                };
            },
            .bpe => for (frags.items) |f| switch (f) {
                .text => |t| try bpe.tokenize(alloc, v, t, out),
                .token => |id| try out.append(id),
            },
        }
        if (opts.add_special and v.add_eos) {
            if (v.eos_id) |e| try out.append(e);
        }
    }

    /// Splits text around special-token texts (longest first), as llama.cpp's tokenizer_st_partition.
    fn partition(self: *const Tokenizer, text: []const u8, parse_special: bool, frags: *std.ArrayList(Fragment)) !void {
        const v = &self.vocab;
        try frags.append(.{ .text = text });
        var next = std.ArrayList(Fragment).init(frags.allocator);
        defer next.deinit();
        for (v.specials) |id| {
            const t = v.types[id];
            if (!parse_special and (t == .control or t == .unknown)) continue;
            const needle = v.texts[id];
            next.clearRetainingCapacity();
            var changed = false;
            for (frags.items) |f| switch (f) {
                .token => try next.append(f),
                .text => |hay| {
                    var rest = hay;
                    while (std.mem.indexOf(u8, rest, needle)) |pos| {
                        changed = true;
                        if (pos > 0) try next.append(.{ .text = rest[0..pos] });
                        try next.append(.{ .token = id });
                        rest = rest[pos + needle.len ..];
                    }
                    if (rest.len > 0) try next.append(.{ .text = rest });
                },
            };
            if (changed) {
                frags.clearRetainingCapacity();
                try frags.appendSlice(next.items);
            }
        }
    }

    /// Longest piece any token can produce; a buffer this size never gets NoSpaceLeft.
    pub fn maxPieceLen(self: *const Tokenizer) usize {
        var m: usize = 1;
        for (self.vocab.texts) |t| m = @max(m, t.len);
        return m;
    }

    /// Writes the bytes of token `id` into `buf` and returns them. Unknown ids, unused tokens and
    /// (unless `opts.special`) control tokens give "". Byte tokens give one raw byte, which may be
    /// part of a multi-byte character: see stream.zig for assembling text.
    pub fn tokenToPiece(self: *const Tokenizer, id: u32, buf: []u8, opts: PieceOptions) error{NoSpaceLeft}![]const u8 {
        const v = &self.vocab;
        if (id >= v.nTokens()) return buf[0..0];
        const text = v.texts[id];
        var n: usize = 0;
        switch (v.types[id]) {
            .control, .unknown => {
                if (!opts.special) return buf[0..0];
                n = try copy(buf, text);
            },
            .user_defined => n = try copy(buf, text),
            .normal, .undefined => switch (v.model) {
                .spm => {
                    var i: usize = 0;
                    while (i < text.len) {
                        if (std.mem.startsWith(u8, text[i..], spm.space_marker)) {
                            if (n >= buf.len) return error.NoSpaceLeft;
                            buf[n] = ' ';
                            n += 1;
                            i += spm.space_marker.len;
                        } else {
                            if (n >= buf.len) return error.NoSpaceLeft;
                            buf[n] = text[i];
                            n += 1;
                            i += 1;
                        }
                    }
                },
                .bpe => {
                    var i: usize = 0;
                    while (i < text.len) {
                        const d = unicode.decodeAt(text, i);
                        if (unicode.cpToByte(d.cp)) |b| {
                            if (n >= buf.len) return error.NoSpaceLeft;
                            buf[n] = b;
                            n += 1;
                        } else {
                            // Not a bytes_to_unicode character: keep the original bytes.
                            if (n + d.len > buf.len) return error.NoSpaceLeft;
                            @memcpy(buf[n..][0..d.len], text[i..][0..d.len]);
                            n += d.len;
                        }
                        i += d.len;
                    }
                },
            },
            .byte => {
                const b = switch (v.model) {
                    .spm => vocab_mod.parseByteToken(text) orelse return buf[0..0],
                    .bpe => if (text.len > 0) (unicode.cpToByte(unicode.decodeAt(text, 0).cp) orelse return buf[0..0]) else return buf[0..0],
                };
                if (buf.len < 1) return error.NoSpaceLeft;
                buf[0] = b;
                n = 1;
            },
            .unused => return buf[0..0],
        }
        if (opts.lstrip and n > 0 and buf[0] == ' ') {
            std.mem.copyForwards(u8, buf[0 .. n - 1], buf[1..n]);
            n -= 1;
        }
        return buf[0..n];
    }

    /// Appends the piece of `id` to `out`.
    pub fn appendPiece(self: *const Tokenizer, out: *std.ArrayList(u8), id: u32, opts: PieceOptions) !void {
        const need = if (id < self.vocab.nTokens()) @max(self.vocab.texts[id].len, 1) else 0;
        try out.ensureUnusedCapacity(need);
        const piece = self.tokenToPiece(id, out.unusedCapacitySlice(), opts) catch unreachable; // capacity ensured above
        out.items.len += piece.len;
    }

    /// Text of a token sequence, as llama.cpp's llama_detokenize: the first piece loses its
    /// leading space when the vocab adds a space prefix (unless a removed BOS came first), and
    /// gpt-2 style vocabs get clean_spaces applied. Caller frees.
    pub fn detokenize(self: *const Tokenizer, alloc: std.mem.Allocator, ids: []const u32, opts: DetokenizeOptions) ![]u8 {
        const v = &self.vocab;
        var toks = ids;
        var remove_space = v.add_space_prefix;
        if (opts.remove_special and v.add_bos and toks.len > 0 and v.bos_id != null and toks[0] == v.bos_id.?) {
            remove_space = false;
            toks = toks[1..];
        }
        if (opts.remove_special and v.add_eos and toks.len > 0 and v.eos_id != null and toks[toks.len - 1] == v.eos_id.?) {
            toks = toks[0 .. toks.len - 1];
        }
        var out = std.ArrayList(u8).init(alloc);
        errdefer out.deinit();
        for (toks) |id| {
            try self.appendPiece(&out, id, .{ .special = opts.unparse_special, .lstrip = remove_space });
            remove_space = false;
        }
        if (v.clean_spaces) cleanSpaces(&out);
        return out.toOwnedSlice();
    }
};

fn copy(buf: []u8, s: []const u8) error{NoSpaceLeft}!usize {
    if (buf.len < s.len) return error.NoSpaceLeft;
    @memcpy(buf[0..s.len], s);
    return s.len;
}

/// llama.cpp's clean_spaces passes: " ?" " !" " ." " ," lose the space, " ' " becomes "'",
/// and " 's" " 'm" " 're" " 've" lose the space.
fn cleanSpaces(out: *std.ArrayList(u8)) void {
    const t = out.items;
    if (t.len == 0) return;
    var total: usize = 1;
    for (1..t.len) |i| {
        const x = t[i];
        if (t[i - 1] == ' ' and (x == '?' or x == '!' or x == '.' or x == ',')) total -= 1;
        t[total] = x;
        total += 1;
    }
    const total2 = total;
    total = 1;
    var i: usize = 1;
    while (i < total2) : (i += 1) {
        const x = t[i];
        if (x == '\'' and i + 1 < total2 and t[i - 1] == ' ' and t[i + 1] == ' ') {
            total -= 1;
            t[total] = x;
            total += 1;
            i += 1; // drop the next space
            continue;
        }
        t[total] = x;
        total += 1;
    }
    const total3 = total;
    total = 1;
    for (1..total3) |k| {
        const x = t[k];
        if (t[k - 1] == ' ' and x == '\'' and k + 1 < total3) {
            const x1 = t[k + 1];
            if (x1 == 's' or x1 == 'm') {
                total -= 1;
            } else if (k + 2 < total3) {
                const x2 = t[k + 2];
                if ((x1 == 'r' and x2 == 'e') or (x1 == 'v' and x2 == 'e')) total -= 1;
            }
        }
        t[total] = x;
        total += 1;
    }
    out.items.len = total;
}

// ------------------------------------------------------------------------------------------------
// Tests with hand-built vocabs; the llama.cpp vector files are in vectors_test.zig.

const testing = std.testing;

fn spmTok() !Tokenizer {
    const toks = [_][]const u8{ "<unk>", "<s>", "</s>", "<0xC3>", "<0xA9>", "▁", "h", "i", "▁h", "▁hi", "<0x0A>" };
    const scores = [_]f32{ 0, 0, 0, 0, 0, -1, -2, -2, -3, -1.5, 0 };
    const types = [_]i32{ 2, 3, 3, 6, 6, 1, 1, 1, 1, 1, 6 };
    return Tokenizer.init(testing.allocator, .{ .model = .spm, .tokens = &toks, .scores = &scores, .types = &types, .bos_id = 1, .eos_id = 2, .unk_id = 0 });
}

test "spm tokenize with BOS, specials and byte fallback" {
    var tk = try spmTok();
    defer tk.deinit();
    const a = testing.allocator;
    const t1 = try tk.tokenize(a, "hi é", .{});
    defer a.free(t1);
    try testing.expectEqualSlices(u32, &.{ 1, 9, 5, 3, 4 }, t1);
    // Without parse_special "<s>" is plain text (bytes missing → unk); with it, the BOS token.
    const t2 = try tk.tokenize(a, "<s>hi", .{ .add_special = false, .parse_special = true });
    defer a.free(t2);
    try testing.expectEqualSlices(u32, &.{ 1, 9 }, t2);
    const t3 = try tk.tokenize(a, "", .{ .add_special = false });
    defer a.free(t3);
    try testing.expectEqual(@as(usize, 0), t3.len);
    const t4 = try tk.tokenize(a, "hi\xff", .{ .add_special = false });
    defer a.free(t4);
    try testing.expectEqualSlices(u32, &.{ 9, 0 }, t4);
}

test "spm detokenize strips the dummy prefix like llama.cpp" {
    var tk = try spmTok();
    defer tk.deinit();
    const a = testing.allocator;
    const s1 = try tk.detokenize(a, &.{ 9, 5, 3, 4, 10 }, .{});
    defer a.free(s1);
    try testing.expectEqualStrings("hi é\n", s1);
    // A BOS kept in the sequence renders as "" but still consumes the strip.
    const s2 = try tk.detokenize(a, &.{ 1, 9 }, .{});
    defer a.free(s2);
    try testing.expectEqualStrings(" hi", s2);
    const s3 = try tk.detokenize(a, &.{ 1, 9, 2 }, .{ .unparse_special = true });
    defer a.free(s3);
    try testing.expectEqualStrings("<s> hi</s>", s3);
    var buf: [2]u8 = undefined;
    try testing.expectEqualStrings("", try tk.tokenToPiece(12345, &buf, .{}));
    try testing.expectError(error.NoSpaceLeft, tk.tokenToPiece(9, buf[0..1], .{}));
}

test "bpe clean_spaces" {
    const toks = [_][]const u8{ "a", "Ġ,", "Ġ'", "s", "Ġb" };
    var tk = try Tokenizer.init(testing.allocator, .{ .model = .bpe, .tokens = &toks, .merges = &.{} });
    defer tk.deinit();
    const s = try tk.detokenize(testing.allocator, &.{ 0, 1, 2, 3, 4 }, .{});
    defer testing.allocator.free(s);
    try testing.expectEqualStrings("a,'s b", s);
}

test {
    _ = vocab_mod;
    _ = spm;
    _ = bpe;
    _ = unicode;
    _ = pretok;
}
