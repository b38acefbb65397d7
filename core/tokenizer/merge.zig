//! The symbol list and merge loop shared by both BPE tokenizers (SentencePiece "llama" and GPT-2
//! byte-level), as llama.cpp's: text split into one symbol per UTF-8 sequence, then the queued
//! bigram with the best priority merged until none is left. The tokenizers differ only in how a
//! bigram is ranked (vocab score vs merge rank), which their `addBigram` decides.
const std = @import("std");
const unicode = @import("unicode.zig");

/// A span of the input text, linked to its neighbours; n == 0 once merged away.
pub const Symbol = struct { prev: i32, next: i32, start: u32, n: u32 };

/// Appends one symbol per UTF-8 sequence of `text` (invalid bytes yield short symbols, which
/// byte fallback covers later).
pub fn splitChars(symbols: *std.ArrayList(Symbol), text: []const u8) !void {
    var offs: usize = 0;
    var index: i32 = 0;
    while (offs < text.len) {
        const n = @min(unicode.seqLen(text[offs]), text.len - offs);
        try symbols.append(.{
            .prev = index - 1,
            .next = if (offs + n == text.len) -1 else index + 1,
            .start = @intCast(offs),
            .n = @intCast(n),
        });
        offs += n;
        index += 1;
    }
}

/// Queues every adjacent pair, then merges until the queue is empty. `s` has `symbols`, a
/// priority `queue` of bigrams with `left`, `right`, `size`, and `addBigram(left, right)` that
/// queues a pair when the vocabulary knows its concatenation (negative ids are ignored).
pub fn mergeAll(s: anytype) !void {
    for (1..s.symbols.items.len) |i| try s.addBigram(@intCast(i - 1), @intCast(i));
    while (s.queue.removeOrNull()) |bg| {
        const syms = s.symbols.items;
        const l = &syms[@intCast(bg.left)];
        const r = &syms[@intCast(bg.right)];
        // Stale entry: one side was merged away or grew since the pair was queued (symbols keep
        // their start, so equal total length means the same text).
        if (l.n == 0 or r.n == 0 or l.n + r.n != bg.size) continue;
        l.n += r.n;
        r.n = 0;
        l.next = r.next;
        if (r.next >= 0) syms[@intCast(r.next)].prev = bg.left;
        const lprev = l.prev;
        const lnext = l.next;
        try s.addBigram(lprev, bg.left);
        try s.addBigram(bg.left, lnext);
    }
}
