//! Logging without process-global state: every runtime carries its own Log (level + optional
//! callback). Without a callback, messages at or above the level go to stderr.
const std = @import("std");

pub const Level = enum(c_int) {
    err = 0,
    warn = 1,
    info = 2,
    debug = 3,

    pub fn parse(s: []const u8) ?Level {
        inline for (@typeInfo(Level).@"enum".fields) |f| {
            if (std.ascii.eqlIgnoreCase(s, f.name)) return @enumFromInt(f.value);
        }
        if (std.ascii.eqlIgnoreCase(s, "error")) return .err;
        if (std.ascii.eqlIgnoreCase(s, "warning")) return .warn;
        return null;
    }
};

/// C-callable sink: level (pi5_log_level), a NUL-terminated message valid only during the call.
pub const Callback = *const fn (level: c_int, message: [*:0]const u8, user: ?*anyopaque) callconv(.c) void;

pub const Log = struct {
    callback: ?Callback = null,
    user: ?*anyopaque = null,
    level: Level = .warn,

    pub fn enabled(self: Log, level: Level) bool {
        return @intFromEnum(level) <= @intFromEnum(self.level);
    }

    pub fn write(self: Log, level: Level, comptime fmt: []const u8, args: anytype) void {
        if (!self.enabled(level)) return;
        var buf: [2048]u8 = undefined;
        const msg = std.fmt.bufPrintZ(&buf, fmt, args) catch blk: {
            buf[buf.len - 1] = 0;
            break :blk buf[0 .. buf.len - 1 :0];
        };
        if (self.callback) |cb| {
            cb(@intFromEnum(level), msg.ptr, self.user);
        } else {
            std.debug.print("pi5_llm_rt [{s}] {s}\n", .{ @tagName(level), msg });
        }
    }

    pub fn err(self: Log, comptime fmt: []const u8, args: anytype) void {
        self.write(.err, fmt, args);
    }
    pub fn warn(self: Log, comptime fmt: []const u8, args: anytype) void {
        self.write(.warn, fmt, args);
    }
    pub fn info(self: Log, comptime fmt: []const u8, args: anytype) void {
        self.write(.info, fmt, args);
    }
    pub fn debug(self: Log, comptime fmt: []const u8, args: anytype) void {
        self.write(.debug, fmt, args);
    }
};

test "callback receives formatted messages at or above the level" {
    const S = struct {
        var seen: u32 = 0;
        fn cb(level: c_int, message: [*:0]const u8, user: ?*anyopaque) callconv(.c) void {
            _ = user;
            std.testing.expect(level <= 1) catch unreachable;
            std.testing.expect(std.mem.startsWith(u8, std.mem.span(message), "n=")) catch unreachable;
            seen += 1;
        }
    };
    const log = Log{ .callback = S.cb, .level = .warn };
    log.warn("n={d}", .{3});
    log.info("hidden {d}", .{4});
    try std.testing.expectEqual(@as(u32, 1), S.seen);
}
