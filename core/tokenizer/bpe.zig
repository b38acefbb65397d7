//! Byte-level BPE, the "gpt2" model: split text with the vocab's pre-tokenizer (pretok.zig,
//! chosen by tokenizer.ggml.pre), map each word's bytes through bytes_to_unicode, then apply
//! merges lowest rank first (ties: left-most), as llama.cpp's llm_tokenizer_bpe_session.
const std = @import("std");
const unicode = @import("unicode.zig");
const Vocab = @import("vocab.zig").Vocab;

const merge = @import("merge.zig");
const Symbol = merge.Symbol;

const Bigram = struct {
    left: i32,
    right: i32,
    rank: u32,
    size: u32,

    fn order(_: void, a: Bigram, b: Bigram) std.math.Order {
        if (a.rank != b.rank) return std.math.order(a.rank, b.rank);
        return std.math.order(a.left, b.left);
    }
};

const Session = struct {
    vocab: *const Vocab,
    word: []const u8,
    symbols: std.ArrayList(Symbol),
    queue: std.PriorityQueue(Bigram, void, Bigram.order),
    scratch: std.ArrayList(u8),

    fn piece(self: *const Session, s: Symbol) []const u8 {
        return self.word[s.start..][0..s.n];
    }

    pub fn addBigram(self: *Session, left: i32, right: i32) !void {
        if (left < 0 or right < 0) return;
        const l = self.symbols.items[@intCast(left)];
        const r = self.symbols.items[@intCast(right)];
        const rank = (try self.vocab.mergeRank(&self.scratch, self.piece(l), self.piece(r))) orelse return;
        try self.queue.add(.{ .left = left, .right = right, .rank = rank, .size = l.n + r.n });
    }
};

/// Tokenizes raw text (one fragment without special tokens), appending ids to `out`.
pub fn tokenize(alloc: std.mem.Allocator, vocab: *const Vocab, text: []const u8, out: *std.ArrayList(u32)) !void {
    var s = Session{
        .vocab = vocab,
        .word = &.{},
        .symbols = std.ArrayList(Symbol).init(alloc),
        .queue = std.PriorityQueue(Bigram, void, Bigram.order).init(alloc, {}),
        .scratch = std.ArrayList(u8).init(alloc),
    };
    defer {
        s.symbols.deinit();
        s.queue.deinit();
        s.scratch.deinit();
    }
    var mapped = std.ArrayList(u8).init(alloc);
    defer mapped.deinit();

    var words = std.ArrayList([]const u8).init(alloc);
    defer words.deinit();
    try vocab.pretok.split(alloc, text, &words);
    for (words.items) |raw_word| {
        mapped.clearRetainingCapacity();
        for (raw_word) |b| {
            var buf: [4]u8 = undefined;
            const n = std.unicode.utf8Encode(unicode.byte_to_cp[b], &buf) catch unreachable;
            try mapped.appendSlice(buf[0..n]);
        }
        s.word = mapped.items;
        s.symbols.clearRetainingCapacity();
        // ignore_merges (llama-bpe, tekken): a word that is a token is that token.
        if (vocab.ignore_merges) {
            if (vocab.find(s.word)) |id| {
                try out.append(id);
                continue;
            }
        }
        // The queue is empty here: the previous word's loop drained it.
        try merge.splitChars(&s.symbols, s.word);
        try merge.mergeAll(&s);

        var i: i32 = if (s.symbols.items.len > 0) 0 else -1;
        while (i != -1) {
            const sym = s.symbols.items[@intCast(i)];
            const p = s.piece(sym);
            if (vocab.find(p)) |id| {
                try out.append(id);
            } else {
                // Each character of the piece as its own token (llama.cpp tries single bytes and
                // drops the rest: text lost without a word), else <unk>, else an error.
                var it = std.unicode.Utf8View.initUnchecked(p).iterator();
                while (it.nextCodepointSlice()) |ch| {
                    try out.append(vocab.find(ch) orelse vocab.unk_id orelse return error.UnrepresentableText);
                }
            }
            i = sym.next;
        }
    }
}

test "gpt2 bpe merges lowest rank first" {
    // Byte-level alphabet for 'a','b','c' plus merges; "ab" has rank 1, "bc" rank 0.
    const toks = [_][]const u8{ "a", "b", "c", "ab", "bc", "abc", "Ġ", "Ġa" };
    const merges = [_][]const u8{ "b c", "a b", "a bc", "Ġ a" };
    var v = try Vocab.init(std.testing.allocator, .{ .model = .bpe, .tokens = &toks, .merges = &merges });
    defer v.deinit();
    var out = std.ArrayList(u32).init(std.testing.allocator);
    defer out.deinit();
    try tokenize(std.testing.allocator, &v, "abc ab", &out);
    // "abc" → a + bc (rank 0) → abc (rank 2); " ab" → Ġ + ab, since "a b" (1) outranks "Ġ a" (3).
    try std.testing.expectEqualSlices(u32, &.{ 5, 6, 3 }, out.items);
}
