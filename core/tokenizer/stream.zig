//! Streaming detokenizer: feed token ids as they are generated, get back only complete UTF-8.
//! Byte-fallback tokens (<0xE2> <0x82> <0xAC>) and byte-level BPE pieces can split a character
//! across tokens; the incomplete tail is held back until the next token completes it. Bytes that
//! can never become valid UTF-8 are replaced by U+FFFD, so the output is always valid UTF-8.
const std = @import("std");
const Tokenizer = @import("tokenizer.zig").Tokenizer;
const PieceOptions = @import("tokenizer.zig").PieceOptions;

const replacement = "\xef\xbf\xbd";

pub const StreamDecoder = struct {
    tok: *const Tokenizer,
    opts: Options,
    /// Bytes of a character still waiting for its continuation bytes (at most 3).
    pending: [4]u8 = undefined,
    pending_len: u3 = 0,
    first: bool = true,
    scratch: std.ArrayList(u8),

    pub const Options = struct {
        /// Render control tokens as text.
        special: bool = false,
        /// Strip one leading space from the first piece (set when decoding a whole SentencePiece
        /// sequence from its start; leave off when continuing after a prompt).
        strip_leading_space: bool = false,
    };

    pub fn init(alloc: std.mem.Allocator, tok: *const Tokenizer, opts: Options) StreamDecoder {
        return .{ .tok = tok, .opts = opts, .scratch = std.ArrayList(u8).init(alloc) };
    }

    pub fn deinit(self: *StreamDecoder) void {
        self.scratch.deinit();
    }

    /// Decodes `id` and appends whatever text became complete to `out`.
    pub fn feed(self: *StreamDecoder, id: u32, out: *std.ArrayList(u8)) !void {
        self.scratch.clearRetainingCapacity();
        try self.scratch.appendSlice(self.pending[0..self.pending_len]);
        const before = self.scratch.items.len;
        try self.tok.appendPiece(&self.scratch, id, .{
            .special = self.opts.special,
            .lstrip = self.first and self.opts.strip_leading_space,
        });
        if (self.scratch.items.len > before) self.first = false;
        self.pending_len = 0;
        try self.emit(self.scratch.items, out, false);
    }

    /// Emits anything still held back (as U+FFFD: it can no longer be completed) and resets.
    pub fn flush(self: *StreamDecoder, out: *std.ArrayList(u8)) !void {
        if (self.pending_len > 0) try out.appendSlice(replacement);
        self.pending_len = 0;
        self.first = true;
    }

    fn emit(self: *StreamDecoder, bytes: []const u8, out: *std.ArrayList(u8), final: bool) !void {
        var i: usize = 0;
        while (i < bytes.len) {
            const b = bytes[i];
            if (b < 0x80) {
                try out.append(b);
                i += 1;
                continue;
            }
            const n = std.unicode.utf8ByteSequenceLength(b) catch {
                try out.appendSlice(replacement);
                i += 1;
                continue;
            };
            // Check the continuation bytes that are present.
            var k: usize = 1;
            while (k < n and i + k < bytes.len and bytes[i + k] & 0xC0 == 0x80) : (k += 1) {}
            if (k == n) {
                if (std.unicode.utf8Decode(bytes[i .. i + n])) |_| {
                    try out.appendSlice(bytes[i .. i + n]);
                } else |_| {
                    // Overlong or surrogate: the whole sequence is invalid.
                    try out.appendSlice(replacement);
                }
                i += n;
            } else if (i + k == bytes.len and !final) {
                // A valid prefix cut off by the end of this piece: wait for more.
                @memcpy(self.pending[0..k], bytes[i..]);
                self.pending_len = @intCast(k);
                return;
            } else {
                try out.appendSlice(replacement);
                i += 1;
            }
        }
    }
};

test "stream decoder joins byte-fallback tokens and flushes leftovers" {
    const toks = [_][]const u8{ "<unk>", "<s>", "</s>", "<0xE2>", "<0x82>", "<0xAC>", "▁a", "<0xFF>" };
    const types = [_]i32{ 2, 3, 3, 6, 6, 6, 1, 6 };
    var tk = try Tokenizer.init(std.testing.allocator, .{ .model = .spm, .tokens = &toks, .types = &types, .bos_id = 1, .eos_id = 2 });
    defer tk.deinit();
    var out = std.ArrayList(u8).init(std.testing.allocator);
    defer out.deinit();
    var sd = StreamDecoder.init(std.testing.allocator, &tk, .{ .strip_leading_space = true });
    defer sd.deinit();

    try sd.feed(1, &out); // BOS renders nothing and does not consume the strip
    try sd.feed(6, &out);
    try std.testing.expectEqualStrings("a", out.items);
    try sd.feed(3, &out);
    try sd.feed(4, &out);
    try std.testing.expectEqualStrings("a", out.items); // € is still incomplete
    try sd.feed(5, &out);
    try std.testing.expectEqualStrings("a€", out.items);
    try sd.feed(7, &out); // 0xFF can never be valid
    try std.testing.expectEqualStrings("a€\u{FFFD}", out.items);
    try sd.feed(3, &out);
    try sd.feed(6, &out); // the pending E2 is broken by ' ', which still comes through
    try std.testing.expectEqualStrings("a€\u{FFFD}\u{FFFD} a", out.items);
    try sd.feed(3, &out);
    try sd.flush(&out);
    try std.testing.expectEqualStrings("a€\u{FFFD}\u{FFFD} a\u{FFFD}", out.items);
    try std.testing.expect(std.unicode.utf8ValidateSlice(out.items));
    try sd.feed(99999, &out); // out-of-range ids are ignored, not a crash
}
