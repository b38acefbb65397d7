//! GPT-2 byte-level BPE, the "gpt2" model: split text with GPT-2's pre-tokenizer regex
//!   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//! (a hand-written matcher for exactly this pattern), map each word's bytes through
//! bytes_to_unicode, then apply merges lowest rank first (ties: left-most), as llama.cpp's
//! llm_tokenizer_bpe_session.
const std = @import("std");
const unicode = @import("unicode.zig");
const Vocab = @import("vocab.zig").Vocab;

const Class = enum { letter, number, space, other };

fn classify(cp: u21) Class {
    if (unicode.isLetter(cp)) return .letter;
    if (unicode.isNumber(cp)) return .number;
    if (unicode.isWhitespace(cp)) return .space;
    // Includes U+FFFD standing in for invalid bytes: `[^\s\p{L}\p{N}]` matches them.
    return .other;
}

/// Iterates the byte ranges the GPT-2 pattern matches; every input byte lands in exactly one word.
pub const PreTokenizer = struct {
    text: []const u8,
    pos: usize = 0,

    fn at(self: *const PreTokenizer, i: usize) ?unicode.Decoded {
        if (i >= self.text.len) return null;
        return unicode.decodeAt(self.text, i);
    }

    fn classAt(self: *const PreTokenizer, i: usize) ?Class {
        const d = self.at(i) orelse return null;
        return classify(d.cp);
    }

    /// Advances over a run of code points of class `c` starting at `i`; returns the end offset.
    fn run(self: *const PreTokenizer, start: usize, c: Class) usize {
        var i = start;
        while (self.at(i)) |d| {
            if (classify(d.cp) != c) break;
            i += d.len;
        }
        return i;
    }

    pub fn next(self: *PreTokenizer) ?[]const u8 {
        const t = self.text;
        const start = self.pos;
        if (start >= t.len) return null;
        const end = self.matchAt(start);
        self.pos = end;
        return t[start..end];
    }

    fn matchAt(self: *const PreTokenizer, i: usize) usize {
        const t = self.text;
        // 's|'t|'re|'ve|'m|'ll|'d  (case-sensitive, as the original pattern)
        if (t[i] == '\'' and i + 1 < t.len) {
            switch (t[i + 1]) {
                's', 't', 'm', 'd' => return i + 2,
                'r', 'v' => if (i + 2 < t.len and t[i + 2] == 'e') return i + 3,
                'l' => if (i + 2 < t.len and t[i + 2] == 'l') return i + 3,
                else => {},
            }
        }
        const first = self.at(i).?;
        const c0 = classify(first.cp);
        // " ?X+" alternatives: an optional single ASCII space, then a run of one class.
        const body = if (t[i] == ' ') i + 1 else i;
        if (self.classAt(body)) |cb| {
            if (cb != .space) return self.run(body, cb);
        }
        // \s+(?!\S) then \s+ ; here c0 is whitespace (a lone ' ' followed by non-space was handled
        // above, and ' ' at the end falls through here).
        std.debug.assert(c0 == .space);
        const end = self.run(i, .space);
        if (end < t.len and end - i > first.len) {
            // Back off one code point so the last whitespace stays with the following word.
            var last = i;
            var k = i;
            while (k < end) {
                last = k;
                k += unicode.decodeAt(t, k).len;
            }
            return last;
        }
        return end;
    }
};

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

    var pre = PreTokenizer{ .text = text };
    while (pre.next()) |raw_word| {
        mapped.clearRetainingCapacity();
        for (raw_word) |b| {
            var buf: [4]u8 = undefined;
            const n = std.unicode.utf8Encode(unicode.byte_to_cp[b], &buf) catch unreachable;
            try mapped.appendSlice(buf[0..n]);
        }
        s.word = mapped.items;
        s.symbols.clearRetainingCapacity();
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

fn expectWords(text: []const u8, want: []const []const u8) !void {
    var pre = PreTokenizer{ .text = text };
    var i: usize = 0;
    while (pre.next()) |w| : (i += 1) {
        if (i >= want.len) return error.TooManyWords;
        try std.testing.expectEqualStrings(want[i], w);
    }
    try std.testing.expectEqual(want.len, i);
}

test "gpt2 pre-tokenizer" {
    try expectWords("Hello world", &.{ "Hello", " world" });
    try expectWords("   Hello", &.{ "  ", " Hello" });
    try expectWords("\n\n\n", &.{"\n\n\n"});
    try expectWords("\t\tH", &.{ "\t", "\t", "H" });
    try expectWords("a  ", &.{ "a", "  " });
    try expectWords("y'all! 333", &.{ "y", "'", "all", "!", " 333" });
    try expectWords("don't 're", &.{ "don", "'t", " '", "re" });
    try expectWords("\xff\xfeab", &.{ "\xff\xfe", "ab" });
    try expectWords(" ", &.{" "});
    try expectWords("x \u{3000}y", &.{ "x", " ", "\u{3000}", "y" });
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
