//! Small Unicode helpers for the tokenizers: lenient UTF-8 stepping (never fails on bad input),
//! the \p{L} / \p{N} / \p{P} / \p{M} / \p{S} / \s classes the pre-tokenizers need, and GPT-2's bytes_to_unicode map.
const std = @import("std");
const tables = @import("unicode_tables.zig");

pub const replacement: u21 = 0xFFFD;

/// Length of the UTF-8 sequence a lead byte announces, as llama.cpp's unicode_len_utf8:
/// continuation and invalid lead bytes count as 1 so that bad input still advances.
pub fn seqLen(lead: u8) u3 {
    const lookup = [16]u3{ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4 };
    return lookup[lead >> 4];
}

pub const Decoded = struct { cp: u21, len: u3 };

/// Decodes one code point at `s[i..]`. Invalid or truncated sequences decode as U+FFFD of length 1,
/// so callers classify bad bytes as "other" and keep the original bytes untouched.
pub fn decodeAt(s: []const u8, i: usize) Decoded {
    if (s[i] < 0x80) return .{ .cp = s[i], .len = 1 };
    // std's decoder asserts on lead bytes like 0xF8..0xFF, so validate the lead first.
    const n = std.unicode.utf8ByteSequenceLength(s[i]) catch return .{ .cp = replacement, .len = 1 };
    if (i + n > s.len) return .{ .cp = replacement, .len = 1 };
    const cp = std.unicode.utf8Decode(s[i .. i + n]) catch return .{ .cp = replacement, .len = 1 };
    return .{ .cp = cp, .len = n };
}

fn inTable(table: []const tables.Range, cp: u21) bool {
    var lo: usize = 0;
    var hi: usize = table.len;
    while (lo < hi) {
        const mid = (lo + hi) / 2;
        if (cp < table[mid].lo) {
            hi = mid;
        } else if (cp > table[mid].hi) {
            lo = mid + 1;
        } else return true;
    }
    return false;
}

pub fn isLetter(cp: u21) bool {
    if (cp < 0x80) return (cp >= 'a' and cp <= 'z') or (cp >= 'A' and cp <= 'Z');
    return inTable(&tables.letter, cp);
}

pub fn isNumber(cp: u21) bool {
    if (cp < 0x80) return cp >= '0' and cp <= '9';
    return inTable(&tables.number, cp);
}

pub fn isPunctuation(cp: u21) bool {
    return inTable(&tables.punctuation, cp);
}

pub fn isMark(cp: u21) bool {
    return inTable(&tables.mark, cp);
}

pub fn isSymbol(cp: u21) bool {
    return inTable(&tables.symbol, cp);
}

/// The Unicode White_Space property, which is what `\s` means in the regex engines GPT-2's
/// pattern was written for (and what llama.cpp's whitespace table holds).
pub fn isWhitespace(cp: u21) bool {
    return switch (cp) {
        0x09...0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000 => true,
        else => false,
    };
}

/// GPT-2's bytes_to_unicode: printable Latin-1 bytes map to themselves, the other 68 bytes to
/// U+0100.. in byte order, so every byte has a visible, non-space code point.
pub const byte_to_cp: [256]u21 = blk: {
    @setEvalBranchQuota(10000);
    var map: [256]u21 = undefined;
    var n: u21 = 0;
    for (0..256) |b| {
        const printable = (b >= '!' and b <= '~') or (b >= 0xA1 and b <= 0xAC) or (b >= 0xAE and b <= 0xFF);
        if (printable) {
            map[b] = @intCast(b);
        } else {
            map[b] = 256 + n;
            n += 1;
        }
    }
    break :blk map;
};

/// Inverse of byte_to_cp; null for code points that no byte maps to.
pub fn cpToByte(cp: u21) ?u8 {
    if (cp < 0x100) {
        if (byte_to_cp[cp] == cp) return @intCast(cp);
        return null;
    }
    if (cp < 0x100 + 68) {
        // The remapped bytes are assigned in increasing byte order; find the (cp-256)th one.
        var n: u21 = 0;
        for (byte_to_cp, 0..) |m, b| {
            if (m >= 0x100) {
                if (n == cp - 0x100) return @intCast(b);
                n += 1;
            }
        }
    }
    return null;
}

test "bytes_to_unicode matches GPT-2" {
    try std.testing.expectEqual(@as(u21, 'A'), byte_to_cp['A']);
    try std.testing.expectEqual(@as(u21, 0x120), byte_to_cp[' ']); // 'Ġ'
    try std.testing.expectEqual(@as(u21, 0x10A), byte_to_cp['\n']); // 'Ċ'
    try std.testing.expectEqual(@as(u21, 0x100), byte_to_cp[0]);
    for (0..256) |b| try std.testing.expectEqual(@as(?u8, @intCast(b)), cpToByte(byte_to_cp[b]));
    try std.testing.expectEqual(@as(?u8, null), cpToByte(0x2581));
}

test "classes" {
    try std.testing.expect(isLetter('x'));
    try std.testing.expect(isLetter(0x00FC)); // ü
    try std.testing.expect(isLetter(0x6211)); // 我
    try std.testing.expect(!isLetter('3'));
    try std.testing.expect(isNumber(0x0663)); // Arabic-Indic three
    try std.testing.expect(isNumber(0x00BD)); // ½ is No
    try std.testing.expect(!isNumber('a'));
    try std.testing.expect(isWhitespace(0x3000));
    try std.testing.expect(!isWhitespace(0x200B));
}

test "lenient decode" {
    try std.testing.expectEqual(Decoded{ .cp = replacement, .len = 1 }, decodeAt("\xf8\x80\x80\x80", 0));
    try std.testing.expectEqual(Decoded{ .cp = replacement, .len = 1 }, decodeAt("\xed\xa0\x80", 0)); // surrogate
    const bad = "a\xff\xe2\x82";
    try std.testing.expectEqual(Decoded{ .cp = 'a', .len = 1 }, decodeAt(bad, 0));
    try std.testing.expectEqual(Decoded{ .cp = replacement, .len = 1 }, decodeAt(bad, 1));
    try std.testing.expectEqual(Decoded{ .cp = replacement, .len = 1 }, decodeAt(bad, 2));
    try std.testing.expectEqual(Decoded{ .cp = 0x20AC, .len = 3 }, decodeAt("\xe2\x82\xac", 0));
}
