//! Generation stop conditions: end-of-generation tokens, a token budget, and stop strings.
//! StopStrings holds back generated text that could still turn into a stop string, so a caller
//! streaming text never shows a partial stop string.
const std = @import("std");

pub const StopReason = enum { eog, stop_string, max_tokens };

/// Token-level checks; call `onToken` for every sampled token before using it.
pub const StopCriteria = struct {
    max_tokens: u32,
    eog_ids: []const u32,
    n_generated: u32 = 0,

    /// Returns why generation ends with this token, or null to continue. An EOG token itself is
    /// not part of the output; a token that reaches max_tokens is.
    pub fn onToken(self: *StopCriteria, id: u32) ?StopReason {
        if (std.mem.indexOfScalar(u32, self.eog_ids, id) != null) return .eog;
        self.n_generated += 1;
        if (self.n_generated >= self.max_tokens) return .max_tokens;
        return null;
    }
};

pub const StopStrings = struct {
    stops: []const []const u8,
    held: std.ArrayList(u8),
    stopped: bool = false,

    pub fn init(alloc: std.mem.Allocator, stops: []const []const u8) StopStrings {
        return .{ .stops = stops, .held = std.ArrayList(u8).init(alloc) };
    }

    pub fn deinit(self: *StopStrings) void {
        self.held.deinit();
    }

    /// Adds newly decoded text. Appends to `out` the text that can no longer be part of a stop
    /// string. Returns true once a stop string appeared: text before it has been emitted, the stop
    /// string and anything after it are dropped, and later pushes are ignored.
    pub fn push(self: *StopStrings, text: []const u8, out: *std.ArrayList(u8)) !bool {
        if (self.stopped) return true;
        try self.held.appendSlice(text);
        const h = self.held.items;
        var first: ?usize = null;
        for (self.stops) |s| {
            if (s.len == 0) continue;
            if (std.mem.indexOf(u8, h, s)) |pos| {
                if (first == null or pos < first.?) first = pos;
            }
        }
        if (first) |pos| {
            try out.appendSlice(h[0..pos]);
            self.held.clearRetainingCapacity();
            self.stopped = true;
            return true;
        }
        // Keep the longest tail that is a proper prefix of some stop string.
        var keep: usize = 0;
        for (self.stops) |s| {
            var k = @min(s.len -| 1, h.len);
            while (k > keep) : (k -= 1) {
                if (std.mem.eql(u8, h[h.len - k ..], s[0..k])) {
                    keep = k;
                    break;
                }
            }
        }
        try out.appendSlice(h[0 .. h.len - keep]);
        std.mem.copyForwards(u8, self.held.items[0..keep], h[h.len - keep ..]);
        self.held.items.len = keep;
        return false;
    }

    /// End of generation: the held-back tail was not a stop string after all.
    pub fn flush(self: *StopStrings, out: *std.ArrayList(u8)) !void {
        if (!self.stopped) try out.appendSlice(self.held.items);
        self.held.clearRetainingCapacity();
    }
};

test "stop strings hold back possible prefixes and cut at the match" {
    var out = std.ArrayList(u8).init(std.testing.allocator);
    defer out.deinit();
    var ss = StopStrings.init(std.testing.allocator, &.{ "\nUser:", "###" });
    defer ss.deinit();
    try std.testing.expect(!try ss.push("Hello", &out));
    try std.testing.expectEqualStrings("Hello", out.items);
    try std.testing.expect(!try ss.push(" there\nUs", &out));
    try std.testing.expectEqualStrings("Hello there", out.items); // "\nUs" held back
    try std.testing.expect(!try ss.push("ual", &out));
    try std.testing.expectEqualStrings("Hello there\nUsual", out.items);
    try std.testing.expect(!try ss.push(" #", &out));
    try std.testing.expect(try ss.push("## tail", &out));
    try std.testing.expectEqualStrings("Hello there\nUsual ", out.items);
    try std.testing.expect(try ss.push("more", &out));
    try ss.flush(&out);
    try std.testing.expectEqualStrings("Hello there\nUsual ", out.items);

    var ss2 = StopStrings.init(std.testing.allocator, &.{ "", "END" });
    defer ss2.deinit();
    out.clearRetainingCapacity();
    try std.testing.expect(!try ss2.push("THE EN", &out));
    try ss2.flush(&out);
    try std.testing.expectEqualStrings("THE EN", out.items);
}

test "stop criteria: EOG and max tokens" {
    var sc = StopCriteria{ .max_tokens = 3, .eog_ids = &.{2} };
    try std.testing.expectEqual(@as(?StopReason, null), sc.onToken(5));
    try std.testing.expectEqual(@as(?StopReason, .eog), sc.onToken(2));
    try std.testing.expectEqual(@as(?StopReason, null), sc.onToken(6));
    try std.testing.expectEqual(@as(?StopReason, .max_tokens), sc.onToken(7));
}
