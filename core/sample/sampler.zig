//! Token sampling with llama.cpp's semantics and default chain order:
//! penalties → top-k → top-p → min-p → temperature → dist (seeded, reproducible).
//! temperature <= 0 means greedy (argmax after penalties).
const std = @import("std");

pub const Params = struct {
    temperature: f32 = 0.8,
    /// 0 disables.
    top_k: u32 = 40,
    /// >= 1 disables.
    top_p: f32 = 0.95,
    /// <= 0 disables.
    min_p: f32 = 0.05,
    /// 1 disables. Divides positive logits and multiplies negative ones of recent tokens.
    repeat_penalty: f32 = 1.0,
    /// Subtracted once per occurrence in the window.
    frequency_penalty: f32 = 0.0,
    /// Subtracted once if the token occurs in the window.
    presence_penalty: f32 = 0.0,
    /// How many of the most recent accepted tokens the penalties look at; 0 disables them.
    penalty_last_n: u32 = 64,
    /// random_seed: drawn from the OS at Sampler.init (the value in effect is `Sampler.params.seed`).
    seed: u64 = random_seed,
    /// Truncating samplers keep at least this many candidates.
    min_keep: usize = 1,
};

/// Params.seed that asks for a random seed (llama.cpp's LLAMA_DEFAULT_SEED; -1 in the CLIs).
pub const random_seed: u64 = std.math.maxInt(u64);

/// Why a Params value is out of range, naming the field and the range.
pub const ParamProblem = struct {
    buf: [128]u8 = undefined,
    len: usize = 0,
    pub fn message(self: *const ParamProblem) []const u8 {
        return self.buf[0..self.len];
    }
};

/// null when every value is in range (temperature ≥ 0, top_p and min_p in [0, 1],
/// repeat_penalty > 0, all finite); else what is wrong. NaN or ∞ would make every
/// probability NaN (a silently arbitrary token), a repeat penalty of 0 divides by zero.
pub fn checkParams(p: Params) ?ParamProblem {
    const Check = struct { name: []const u8, v: f32, lo: f32, hi: f32, lo_open: bool = false };
    const inf = std.math.inf(f32);
    const checks = [_]Check{
        .{ .name = "temperature", .v = p.temperature, .lo = 0, .hi = inf },
        .{ .name = "top_p", .v = p.top_p, .lo = 0, .hi = 1 },
        .{ .name = "min_p", .v = p.min_p, .lo = 0, .hi = 1 },
        .{ .name = "repeat_penalty", .v = p.repeat_penalty, .lo = 0, .hi = inf, .lo_open = true },
        .{ .name = "frequency_penalty", .v = p.frequency_penalty, .lo = -inf, .hi = inf },
        .{ .name = "presence_penalty", .v = p.presence_penalty, .lo = -inf, .hi = inf },
    };
    for (checks) |c| {
        const bad = !std.math.isFinite(c.v) or c.v < c.lo or c.v > c.hi or (c.lo_open and c.v == c.lo);
        if (!bad) continue;
        var out = ParamProblem{};
        const s = if (c.hi == inf and c.lo == -inf)
            std.fmt.bufPrint(&out.buf, "{s} must be a finite number, got {d}", .{ c.name, c.v })
        else if (c.hi == inf)
            std.fmt.bufPrint(&out.buf, "{s} must be a finite number {s} {d}, got {d}", .{ c.name, if (c.lo_open) ">" else ">=", c.lo, c.v })
        else
            std.fmt.bufPrint(&out.buf, "{s} must be in [{d}, {d}], got {d}", .{ c.name, c.lo, c.hi, c.v });
        out.len = (s catch out.buf[0..0]).len;
        return out;
    }
    return null;
}

pub const Candidate = struct {
    id: u32,
    logit: f32,
    p: f32 = 0,
};

/// Sorts by logit, highest first; equal logits by id so results never depend on sort internals.
fn byLogitDesc(_: void, a: Candidate, b: Candidate) bool {
    if (a.logit != b.logit) return a.logit > b.logit;
    return a.id < b.id;
}

pub fn sortDesc(c: []Candidate) void {
    std.sort.pdq(Candidate, c, {}, byLogitDesc);
}

/// Sets `p` to softmax(logit). Expects `c` sorted (c[0] is the max).
pub fn softmax(c: []Candidate) void {
    if (c.len == 0) return;
    const max = c[0].logit;
    var sum: f32 = 0;
    for (c) |*x| {
        x.p = @exp(x.logit - max);
        sum += x.p;
    }
    for (c) |*x| x.p /= sum;
}

/// llama.cpp's penalties; `c` must still be indexed by id (c[i].id == i).
pub fn applyPenalties(c: []Candidate, counts: *const std.AutoHashMap(u32, u32), repeat: f32, freq: f32, presence: f32) void {
    var it = counts.iterator();
    while (it.next()) |e| {
        const id = e.key_ptr.*;
        const n = e.value_ptr.*;
        if (id >= c.len or n == 0) continue;
        const x = &c[id];
        if (x.logit <= 0) x.logit *= repeat else x.logit /= repeat;
        x.logit -= @as(f32, @floatFromInt(n)) * freq + presence;
    }
}

/// Keeps the k highest (c sorted). Returns the new length.
pub fn topK(c: []Candidate, k: u32, min_keep: usize) usize {
    if (k == 0) return c.len;
    return @min(c.len, @max(@as(usize, k), min_keep));
}

/// Keeps the smallest prefix whose probability mass reaches p (c sorted, softmax applied).
pub fn topP(c: []Candidate, p: f32, min_keep: usize) usize {
    if (p >= 1.0) return c.len;
    var cum: f32 = 0;
    for (c, 0..) |x, i| {
        cum += x.p;
        if (cum >= p and i + 1 >= min_keep) return i + 1;
    }
    return c.len;
}

/// Keeps tokens with probability >= p * max probability (c sorted).
pub fn minP(c: []Candidate, p: f32, min_keep: usize) usize {
    if (p <= 0 or c.len == 0) return c.len;
    const threshold = c[0].logit + @log(p);
    var n: usize = 1;
    while (n < c.len and c[n].logit >= threshold) n += 1;
    return @min(c.len, @max(n, min_keep));
}

pub const Sampler = struct {
    params: Params,
    prng: std.Random.DefaultPrng,
    cands: std.ArrayList(Candidate),
    /// Ring buffer of the last `penalty_last_n` accepted tokens.
    recent: []u32,
    recent_head: usize = 0,
    recent_len: usize = 0,
    counts: std.AutoHashMap(u32, u32),
    alloc: std.mem.Allocator,

    pub fn init(alloc: std.mem.Allocator, params_in: Params) !Sampler {
        if (checkParams(params_in) != null) return error.InvalidArgument;
        var params = params_in;
        if (params.seed == random_seed) {
            // Any value but the sentinel itself, so that the reported seed reproduces the run.
            while (params.seed == random_seed) params.seed = std.crypto.random.int(u64);
        }
        const recent = try alloc.alloc(u32, params.penalty_last_n);
        errdefer alloc.free(recent);
        return .{
            .params = params,
            .prng = std.Random.DefaultPrng.init(params.seed),
            .cands = std.ArrayList(Candidate).init(alloc),
            .recent = recent,
            .counts = std.AutoHashMap(u32, u32).init(alloc),
            .alloc = alloc,
        };
    }

    pub fn deinit(self: *Sampler) void {
        self.cands.deinit();
        self.counts.deinit();
        self.alloc.free(self.recent);
        self.* = undefined;
    }

    /// Forgets the token history and restarts the random sequence from the seed.
    pub fn reset(self: *Sampler) void {
        self.recent_head = 0;
        self.recent_len = 0;
        self.prng = std.Random.DefaultPrng.init(self.params.seed);
    }

    /// Records a token (prompt or generated) for the penalties.
    pub fn accept(self: *Sampler, id: u32) void {
        if (self.recent.len == 0) return;
        self.recent[self.recent_head] = id;
        self.recent_head = (self.recent_head + 1) % self.recent.len;
        self.recent_len = @min(self.recent_len + 1, self.recent.len);
    }

    /// Picks the next token from `logits` (one per vocab entry; not modified). Does not accept it:
    /// call `accept` with the token that is actually used.
    pub fn sample(self: *Sampler, logits: []const f32) !u32 {
        if (logits.len == 0) return error.EmptyLogits;
        const p = self.params;
        try self.cands.resize(logits.len);
        var c = self.cands.items;
        for (c, logits, 0..) |*x, l, i| x.* = .{ .id = @intCast(i), .logit = if (std.math.isNan(l)) -std.math.inf(f32) else l };

        if (self.recent_len > 0 and (p.repeat_penalty != 1 or p.frequency_penalty != 0 or p.presence_penalty != 0)) {
            self.counts.clearRetainingCapacity();
            for (self.recent[0..self.recent_len]) |id| {
                const gop = try self.counts.getOrPut(id);
                gop.value_ptr.* = if (gop.found_existing) gop.value_ptr.* + 1 else 1;
            }
            applyPenalties(c, &self.counts, p.repeat_penalty, p.frequency_penalty, p.presence_penalty);
        }

        if (p.temperature <= 0) {
            var best: usize = 0;
            for (c, 0..) |x, i| {
                if (x.logit > c[best].logit) best = i;
            }
            return c[best].id;
        }

        sortDesc(c);
        c = c[0..topK(c, p.top_k, p.min_keep)];
        softmax(c);
        c = c[0..topP(c, p.top_p, p.min_keep)];
        c = c[0..minP(c, p.min_p, p.min_keep)];
        for (c) |*x| x.logit /= p.temperature;
        softmax(c);

        const r = self.prng.random().float(f32);
        var cum: f32 = 0;
        for (c) |x| {
            cum += x.p;
            if (r < cum) return x.id;
        }
        return c[c.len - 1].id; // rounding left r just above the total
    }
};

// ------------------------------------------------------------------------------------------------

const testing = std.testing;

fn greedyParams() Params {
    return .{ .temperature = 0, .top_k = 0, .top_p = 1, .min_p = 0 };
}

test "greedy picks the argmax; top-k 1 equals greedy" {
    const logits = [_]f32{ 0.1, 2.5, -1, 2.4, 0 };
    var g = try Sampler.init(testing.allocator, greedyParams());
    defer g.deinit();
    try testing.expectEqual(@as(u32, 1), try g.sample(&logits));
    var k1 = try Sampler.init(testing.allocator, .{ .temperature = 1.5, .top_k = 1, .seed = 7 });
    defer k1.deinit();
    for (0..20) |_| try testing.expectEqual(@as(u32, 1), try k1.sample(&logits));
}

test "same seed gives the same sequence, other seeds differ" {
    var logits: [64]f32 = undefined;
    for (&logits, 0..) |*l, i| l.* = @sin(@as(f32, @floatFromInt(i))) * 2;
    const params = Params{ .temperature = 1.0, .top_k = 0, .top_p = 1, .min_p = 0, .seed = 42 };
    var a = try Sampler.init(testing.allocator, params);
    defer a.deinit();
    var b = try Sampler.init(testing.allocator, params);
    defer b.deinit();
    var other_params = params;
    other_params.seed = 43;
    var o = try Sampler.init(testing.allocator, other_params);
    defer o.deinit();
    var differs = false;
    var seq: [32]u32 = undefined;
    for (&seq) |*s| {
        const x = try a.sample(&logits);
        try testing.expectEqual(x, try b.sample(&logits));
        if (x != try o.sample(&logits)) differs = true;
        s.* = x;
    }
    try testing.expect(differs);
    a.reset();
    for (seq) |s| try testing.expectEqual(s, try a.sample(&logits));
}

test "top-p keeps the smallest set reaching p" {
    // probabilities 0.5, 0.25, 0.125, 0.125
    var c = [_]Candidate{
        .{ .id = 0, .logit = @log(@as(f32, 0.5)) },
        .{ .id = 1, .logit = @log(@as(f32, 0.25)) },
        .{ .id = 2, .logit = @log(@as(f32, 0.125)) },
        .{ .id = 3, .logit = @log(@as(f32, 0.125)) },
    };
    sortDesc(&c);
    softmax(&c);
    try testing.expectEqual(@as(usize, 1), topP(&c, 0.5, 1));
    try testing.expectEqual(@as(usize, 2), topP(&c, 0.6, 1));
    try testing.expectEqual(@as(usize, 3), topP(&c, 0.8, 1));
    try testing.expectEqual(@as(usize, 4), topP(&c, 1.0, 1));
    try testing.expectEqual(@as(usize, 2), topP(&c, 0.1, 2)); // min_keep
    // min-p 0.3: keeps p >= 0.15 → the first two
    try testing.expectEqual(@as(usize, 2), minP(&c, 0.3, 1));
    try testing.expectEqual(@as(usize, 3), topK(&c, 3, 1));
}

test "top-p sampling never returns a token outside the nucleus" {
    const logits = [_]f32{ 3, 2.9, 0, -1, -2 };
    var s = try Sampler.init(testing.allocator, .{ .temperature = 1, .top_k = 0, .top_p = 0.5, .min_p = 0, .seed = 1 });
    defer s.deinit();
    for (0..200) |_| {
        const t = try s.sample(&logits);
        try testing.expect(t == 0 or t == 1);
    }
}

test "penalties change the argmax as llama.cpp's do" {
    const logits = [_]f32{ 2.0, 1.5, -0.5, -0.4 };
    var p = greedyParams();
    p.repeat_penalty = 1.5;
    var s = try Sampler.init(testing.allocator, p);
    defer s.deinit();
    try testing.expectEqual(@as(u32, 0), try s.sample(&logits));
    s.accept(0); // 2.0 / 1.5 = 1.33 < 1.5
    try testing.expectEqual(@as(u32, 1), try s.sample(&logits));

    // Negative logits are multiplied: -0.4 * 1.5 = -0.6 < -0.5.
    const neg = [_]f32{ -0.5, -0.4 };
    s.reset();
    s.accept(1);
    try testing.expectEqual(@as(u32, 0), try s.sample(&neg));

    // Frequency penalty counts occurrences inside the window only.
    var fp = greedyParams();
    fp.frequency_penalty = 0.3;
    fp.penalty_last_n = 2;
    var f = try Sampler.init(testing.allocator, fp);
    defer f.deinit();
    f.accept(0);
    f.accept(0); // 2.0 - 0.6 = 1.4 < 1.5
    try testing.expectEqual(@as(u32, 1), try f.sample(&logits));
    f.accept(2);
    f.accept(2); // token 0 left the window
    try testing.expectEqual(@as(u32, 0), try f.sample(&logits));

    var pp = greedyParams();
    pp.presence_penalty = 0.6;
    var q = try Sampler.init(testing.allocator, pp);
    defer q.deinit();
    q.accept(0);
    try testing.expectEqual(@as(u32, 1), try q.sample(&logits));
}

test "NaN logits and empty input do not crash" {
    const logits = [_]f32{ std.math.nan(f32), 1.0 };
    var s = try Sampler.init(testing.allocator, .{ .seed = 3 });
    defer s.deinit();
    try testing.expectEqual(@as(u32, 1), try s.sample(&logits));
    try testing.expectError(error.EmptyLogits, s.sample(&.{}));
    var z = try Sampler.init(testing.allocator, .{ .penalty_last_n = 0, .repeat_penalty = 2 });
    defer z.deinit();
    z.accept(1);
    _ = try z.sample(&logits);
}

test "out-of-range sampling values are named; the random seed differs per sampler and is reported" {
    try testing.expect(checkParams(.{}) == null);
    const bad = [_]struct { p: Params, want: []const u8 }{
        .{ .p = .{ .top_p = 2 }, .want = "top_p must be in [0, 1], got 2" },
        .{ .p = .{ .min_p = 5 }, .want = "min_p must be in [0, 1], got 5" },
        .{ .p = .{ .repeat_penalty = 0 }, .want = "repeat_penalty must be a finite number > 0, got 0" },
        .{ .p = .{ .repeat_penalty = -1 }, .want = "repeat_penalty must be a finite number > 0, got -1" },
        .{ .p = .{ .temperature = std.math.nan(f32) }, .want = "temperature must be a finite number >= 0, got nan" },
        .{ .p = .{ .temperature = std.math.inf(f32) }, .want = "temperature must be a finite number >= 0, got inf" },
        .{ .p = .{ .presence_penalty = -std.math.inf(f32) }, .want = "presence_penalty must be a finite number, got -inf" },
    };
    for (bad) |b| {
        const why = checkParams(b.p) orelse return error.TestUnexpectedResult;
        try testing.expectEqualStrings(b.want, why.message());
        try testing.expectError(error.InvalidArgument, Sampler.init(testing.allocator, b.p));
    }
    var s1 = try Sampler.init(testing.allocator, .{});
    defer s1.deinit();
    var s2 = try Sampler.init(testing.allocator, .{});
    defer s2.deinit();
    try testing.expect(s1.params.seed != random_seed and s1.params.seed != s2.params.seed);
}
