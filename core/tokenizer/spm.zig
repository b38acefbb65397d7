//! SentencePiece-style BPE, the "llama" model, as llama.cpp's llm_tokenizer_spm: split the
//! (already escaped) text into UTF-8 characters, repeatedly merge the adjacent pair whose
//! concatenation is the highest-scoring vocab token (ties: left-most first), then emit each final
//! symbol as its token, or re-split it along the merges that built it, or fall back to <0xNN> bytes.
const std = @import("std");
const Vocab = @import("vocab.zig").Vocab;

const merge = @import("merge.zig");
const Symbol = merge.Symbol;

const Bigram = struct {
    left: i32,
    right: i32,
    score: f32,
    size: u32,

    /// Highest score first; equal scores: smaller left index first (llama.cpp's comparator).
    fn order(_: void, a: Bigram, b: Bigram) std.math.Order {
        if (a.score > b.score) return .lt;
        if (a.score < b.score) return .gt;
        return std.math.order(a.left, b.left);
    }
};

/// U+2581 LOWER ONE EIGHTH BLOCK, SentencePiece's visible space.
pub const space_marker = "\xe2\x96\x81";

/// Replaces every ' ' with "▁", optionally after prepending one space.
pub fn escape(alloc: std.mem.Allocator, text: []const u8, prefix_space: bool) ![]u8 {
    const n_spaces = std.mem.count(u8, text, " ");
    const out = try alloc.alloc(u8, text.len + n_spaces * 2 + @as(usize, if (prefix_space) 3 else 0));
    var o: usize = 0;
    if (prefix_space) {
        @memcpy(out[0..3], space_marker);
        o = 3;
    }
    for (text) |c| {
        if (c == ' ') {
            @memcpy(out[o..][0..3], space_marker);
            o += 3;
        } else {
            out[o] = c;
            o += 1;
        }
    }
    return out;
}

const Session = struct {
    vocab: *const Vocab,
    text: []const u8,
    symbols: std.ArrayList(Symbol),
    queue: std.PriorityQueue(Bigram, void, Bigram.order),
    /// Text of a merged pair → the two symbols it was made from, for resegmenting tokens that
    /// a merge produced but the vocab lacks as a whole (last writer wins, as in llama.cpp).
    rev_merge: std.StringHashMap([2]i32),

    pub fn addBigram(self: *Session, left: i32, right: i32) !void {
        if (left < 0 or right < 0) return;
        const l = self.symbols.items[@intCast(left)];
        const r = self.symbols.items[@intCast(right)];
        const piece = self.text[l.start..][0 .. l.n + r.n];
        const id = self.vocab.find(piece) orelse return;
        try self.queue.add(.{ .left = left, .right = right, .score = self.vocab.scores[id], .size = @intCast(piece.len) });
        try self.rev_merge.put(piece, .{ left, right });
    }

    fn resegment(self: *Session, sym: Symbol, out: *std.ArrayList(u32)) !void {
        const piece = self.text[sym.start..][0..sym.n];
        if (self.vocab.find(piece)) |id| return out.append(id);
        if (self.rev_merge.get(piece)) |pair| {
            try self.resegment(self.symbols.items[@intCast(pair[0])], out);
            try self.resegment(self.symbols.items[@intCast(pair[1])], out);
            return;
        }
        for (piece) |b| {
            // No byte piece either: <unk> where the vocabulary has one; dropping the text
            // silently (what this did before) would make a wrong prompt look fine.
            try out.append(self.vocab.byte_tokens[b] orelse self.vocab.unk_id orelse return error.UnrepresentableText);
        }
    }
};

/// Tokenizes already escaped text (see `escape`), appending ids to `out`.
pub fn tokenize(alloc: std.mem.Allocator, vocab: *const Vocab, text: []const u8, out: *std.ArrayList(u32)) !void {
    if (text.len == 0) return;
    var s = Session{
        .vocab = vocab,
        .text = text,
        .symbols = std.ArrayList(Symbol).init(alloc),
        .queue = std.PriorityQueue(Bigram, void, Bigram.order).init(alloc, {}),
        .rev_merge = std.StringHashMap([2]i32).init(alloc),
    };
    defer {
        s.symbols.deinit();
        s.queue.deinit();
        s.rev_merge.deinit();
    }

    try merge.splitChars(&s.symbols, text);
    try merge.mergeAll(&s);

    var i: i32 = 0;
    while (i != -1) {
        const sym = s.symbols.items[@intCast(i)];
        try s.resegment(sym, out);
        i = sym.next;
    }
}

fn testVocab() !Vocab {
    // Scores make "▁ab" beat "ab" beat "bc"; 'z' is only reachable through byte fallback.
    const toks = [_][]const u8{ "<unk>", "<s>", "</s>", "<0x7A>", "▁", "a", "b", "c", "ab", "bc", "▁ab", "▁a", "abc" };
    const scores = [_]f32{ 0, 0, 0, 0, -1, -2, -2, -2, -3, -4, -2.5, -5, -10 };
    const types = [_]i32{ 2, 3, 3, 6, 1, 1, 1, 1, 1, 1, 1, 1, 1 };
    return Vocab.init(std.testing.allocator, .{ .model = .spm, .tokens = &toks, .scores = &scores, .types = &types, .bos_id = 1, .eos_id = 2, .unk_id = 0 });
}

fn expectTokens(vocab: *const Vocab, raw: []const u8, prefix: bool, want: []const u32) !void {
    const esc = try escape(std.testing.allocator, raw, prefix);
    defer std.testing.allocator.free(esc);
    var out = std.ArrayList(u32).init(std.testing.allocator);
    defer out.deinit();
    try tokenize(std.testing.allocator, vocab, esc, &out);
    try std.testing.expectEqualSlices(u32, want, out.items);
}

test "spm merges by score and falls back to bytes" {
    var v = try testVocab();
    defer v.deinit();
    try expectTokens(&v, "abc", true, &.{ 10, 7 }); // ▁ab wins over abc (never reachable)
    try expectTokens(&v, "bc", false, &.{9});
    try expectTokens(&v, "z", false, &.{3});
    try expectTokens(&v, "q", false, &.{0}); // no <0x71>: unk
    try expectTokens(&v, "\xff\xe2", false, &.{ 0, 0 }); // invalid UTF-8 does not crash
    try expectTokens(&v, "", false, &.{});
    // Without <unk> (and without a byte piece) the text cannot be represented: an error, not nothing.
    v.unk_id = null;
    try std.testing.expectError(error.UnrepresentableText, expectTokens(&v, "q", false, &.{}));
}

test "spm escape" {
    const e = try escape(std.testing.allocator, "a b", true);
    defer std.testing.allocator.free(e);
    try std.testing.expectEqualStrings("▁a▁b", e);
}
