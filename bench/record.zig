//! One benchmark measurement as one JSON line, and the run's records kept for the Markdown
//! summary. Every record carries a `key` (what was measured, stable across runs), a `value`
//! with its `unit`, which way is `better`, and the run's own `spread` (relative half-range of
//! the repetitions), which bench/results.mjs compare uses to tell a change from noise.
const std = @import("std");

pub const Better = enum { lower, higher, none };

pub const Record = struct {
    suite: []const u8,
    /// What was measured, without the value: suite/backend/op/type/shape...
    key: []const u8 = "",
    backend: ?[]const u8 = null,
    device: ?[]const u8 = null,
    profile: ?[]const u8 = null,
    kind: ?[]const u8 = null,
    op: ?[]const u8 = null,
    type: ?[]const u8 = null,
    shape: ?[]const u8 = null,
    /// Bytes of the operands (weights + activations + results) of one dispatch.
    size_bytes: ?u64 = null,
    value: f64 = 0,
    unit: []const u8 = "",
    better: Better = .none,
    /// Median absolute deviation / median of the repetitions.
    spread: ?f64 = null,
    /// The best repetition (least time, most tokens/s or GB/s): what compare sets against earlier
    /// runs, since load from other processes on a shared machine only ever makes a repetition worse.
    best: ?f64 = null,
    reps: ?u32 = null,
    us: ?f64 = null,
    gflops: ?f64 = null,
    gbps: ?f64 = null,
    /// gbps as a fraction of the measured copy bandwidth of the same backend.
    bw_frac: ?f64 = null,
    finite: ?bool = null,
    model: ?[]const u8 = null,
    test_: ?[]const u8 = null,
    n_prompt: ?u32 = null,
    n_gen: ?u32 = null,
    n_depth: ?u32 = null,
    llamacpp: ?f64 = null,
    ratio: ?f64 = null,
    t_s: ?f64 = null,
    temp_c: ?f64 = null,
    note: ?[]const u8 = null,
};

pub const Sink = struct {
    alloc: std.mem.Allocator,
    arena: std.heap.ArenaAllocator,
    out: std.fs.File,
    records: std.ArrayListUnmanaged(Record) = .{},
    /// Also print a short human line per record on stderr.
    verbose: bool = true,

    pub fn init(alloc: std.mem.Allocator, out: std.fs.File) Sink {
        return .{ .alloc = alloc, .arena = std.heap.ArenaAllocator.init(alloc), .out = out };
    }

    pub fn deinit(self: *Sink) void {
        self.records.deinit(self.alloc);
        self.arena.deinit();
    }

    /// Formatted text that lives as long as the sink.
    pub fn fmt(self: *Sink, comptime f: []const u8, args: anytype) ![]const u8 {
        return std.fmt.allocPrint(self.arena.allocator(), f, args);
    }

    pub fn dupe(self: *Sink, s: []const u8) ![]const u8 {
        return self.arena.allocator().dupe(u8, s);
    }

    pub fn emit(self: *Sink, r: Record) !void {
        var line = std.ArrayList(u8).init(self.alloc);
        defer line.deinit();
        try writeJson(r, line.writer());
        try line.append('\n');
        try self.out.writeAll(line.items);
        try self.records.append(self.alloc, r);
        if (self.verbose) {
            if (r.ratio) |ratio|
                std.debug.print("  {s}: {d:.3} {s}, llama.cpp {d:.3}, ratio {d:.3}\n", .{ r.key, r.value, r.unit, r.llamacpp.?, ratio })
            else
                std.debug.print("  {s}: {d:.3} {s}\n", .{ r.key, r.value, r.unit });
        }
    }

    /// A raw JSON object line (the run header, the device report): not kept as a record.
    pub fn emitRaw(self: *Sink, json: []const u8) !void {
        try self.out.writeAll(json);
        try self.out.writeAll("\n");
    }
};

/// The record as one JSON object, null fields left out (`test_` is written as "test").
pub fn writeJson(r: Record, w: anytype) !void {
    var jw = std.json.writeStream(w, .{});
    try jw.beginObject();
    inline for (std.meta.fields(Record)) |f| {
        const v = @field(r, f.name);
        const name = if (std.mem.eql(u8, f.name, "test_")) "test" else f.name;
        switch (@typeInfo(f.type)) {
            .optional => if (v) |x| {
                try jw.objectField(name);
                try writeValue(&jw, x);
            },
            else => {
                try jw.objectField(name);
                try writeValue(&jw, v);
            },
        }
    }
    try jw.endObject();
}

fn writeValue(jw: anytype, v: anytype) !void {
    const T = @TypeOf(v);
    if (T == f64) {
        // JSON has no NaN/inf: a broken measurement is written as null, never as a number.
        if (!std.math.isFinite(v)) return jw.write(null);
        return jw.write(v);
    }
    if (T == Better) return jw.write(@tagName(v));
    return jw.write(v);
}

/// Median, and the relative median absolute deviation (MAD / median) of `xs` (sorted in place):
/// robust to the odd repetition a busy machine stretches, which a min..max range is not.
pub fn stats(xs: []f64) struct { median: f64, spread: f64, min: f64, max: f64 } {
    std.mem.sort(f64, xs, {}, std.sort.asc(f64));
    const med = median(xs);
    var dev_buf: [256]f64 = undefined;
    const n = @min(xs.len, dev_buf.len);
    const dev = dev_buf[0..n];
    for (dev, xs[0..n]) |*d, x| d.* = @abs(x - med);
    std.mem.sort(f64, dev, {}, std.sort.asc(f64));
    const spread = if (med > 0) median(dev) / med else 0;
    return .{ .median = med, .spread = spread, .min = xs[0], .max = xs[xs.len - 1] };
}

fn median(sorted: []const f64) f64 {
    const n = sorted.len;
    return if (n % 2 == 1) sorted[n / 2] else (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

test "record JSON leaves nulls out and never writes NaN" {
    var buf = std.ArrayList(u8).init(std.testing.allocator);
    defer buf.deinit();
    try writeJson(.{ .suite = "kernels", .key = "k", .value = std.math.nan(f64), .unit = "us", .better = .lower, .test_ = "pp64" }, buf.writer());
    try std.testing.expectEqualStrings("{\"suite\":\"kernels\",\"key\":\"k\",\"value\":null,\"unit\":\"us\",\"better\":\"lower\",\"test\":\"pp64\"}", buf.items);
}

test "median and spread" {
    var xs = [_]f64{ 3, 1, 2, 10, 2 };
    const s = stats(&xs);
    try std.testing.expectEqual(@as(f64, 2), s.median);
    try std.testing.expectEqual(@as(f64, 0.5), s.spread);
}
