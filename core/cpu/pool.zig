//! A persistent thread pool with a parallel-for over index ranges.
//!
//! Decode calls matmul hundreds of times per token, so a dispatch must cost microseconds:
//! workers are created once, spin briefly on an epoch counter (catching back-to-back ops
//! without a syscall), then sleep on a futex. The caller thread works too.
//!
//! Built to survive shared cores (2 cores, other processes compiling): items are claimed in
//! small chunks from one atomic word, and the dispatcher waits only for chunks that were
//! *claimed*, never for a worker to show up. A worker the OS has descheduled before it claimed
//! anything costs nothing: the others take its share. When it wakes late it finds the job
//! exhausted (or a newer one) and claims nothing. The claim word carries the job's generation
//! in its high half, so a late worker's claim on a finished job fails its compare-and-swap.
//!
//! One dispatcher at a time: parallelFor must not be called concurrently or from inside a job.
const std = @import("std");
const builtin = @import("builtin");

const Atomic = std.atomic.Value;
const Futex = std.Thread.Futex;

pub const Options = struct {
    /// Threads including the caller; null = defaultThreadCount().
    n_threads: ?usize = null,
    /// Spin iterations before sleeping on the futex (each a pause instruction, ~10-50 ns).
    spin_iters: u32 = 2048,
};

/// A piece of work handed to a thread: items [begin, end), run on thread `thread` (0 = caller),
/// which indexes per-thread scratch.
pub const Range = struct { begin: usize, end: usize, thread: usize };

const RunFn = *const fn (ctx: *const anyopaque, r: Range) void;
const idx_mask: u64 = 0xFFFF_FFFF;

pub const Pool = struct {
    allocator: std.mem.Allocator,
    threads: []std.Thread,
    spin_iters: u32,
    /// Bumped once per dispatch (and at shutdown); idle workers wait for it to change.
    epoch: Atomic(u32) = Atomic(u32).init(0),
    /// Workers asleep on `epoch`; a dispatch only issues a futex wake when one is.
    sleepers: Atomic(u32) = Atomic(u32).init(0),
    /// generation << 32 | next item index: the one word chunks are claimed from.
    claim: Atomic(u64) = Atomic(u64).init(0),
    /// Items finished in the current job; the dispatcher returns when it reaches n_items.
    done: Atomic(usize) = Atomic(usize).init(0),
    // The current job, written by the dispatcher before it publishes `claim` (all seq_cst, so
    // a worker whose claim succeeds read the fields of the job it claimed from).
    ctx: Atomic(usize) = Atomic(usize).init(0),
    run: Atomic(usize) = Atomic(usize).init(0),
    n_items: Atomic(usize) = Atomic(usize).init(0),
    chunk: Atomic(usize) = Atomic(usize).init(1),
    generation: u32 = 0,
    stop: Atomic(bool) = Atomic(bool).init(false),

    /// Start the workers. `self` must stay at this address until deinit (workers point to it).
    pub fn init(self: *Pool, allocator: std.mem.Allocator, opts: Options) !void {
        const n_threads = @max(1, opts.n_threads orelse defaultThreadCount());
        self.* = .{ .allocator = allocator, .threads = &.{}, .spin_iters = opts.spin_iters };
        const threads = try allocator.alloc(std.Thread, n_threads - 1);
        errdefer allocator.free(threads);
        var started: usize = 0;
        errdefer {
            self.shutdown();
            for (threads[0..started]) |t| t.join();
        }
        for (threads, 0..) |*t, i| {
            t.* = try std.Thread.spawn(.{ .stack_size = 256 * 1024 }, workerMain, .{ self, i + 1 });
            started += 1;
        }
        self.threads = threads;
    }

    pub fn deinit(self: *Pool) void {
        self.shutdown();
        for (self.threads) |t| t.join();
        self.allocator.free(self.threads);
        self.* = undefined;
    }

    /// Threads that run jobs, the caller included.
    pub fn nThreads(self: *const Pool) usize {
        return self.threads.len + 1;
    }

    fn shutdown(self: *Pool) void {
        self.stop.store(true, .seq_cst);
        _ = self.epoch.fetchAdd(1, .seq_cst);
        Futex.wake(&self.epoch, std.math.maxInt(u32));
    }

    fn workerMain(self: *Pool, thread: usize) void {
        var seen: u32 = 0;
        while (true) {
            seen = self.waitEpoch(seen);
            if (self.stop.load(.seq_cst)) return;
            self.drain(thread);
        }
    }

    /// Claim and run chunks of the current job until none is left.
    fn drain(self: *Pool, thread: usize) void {
        while (true) {
            const c = self.claim.load(.seq_cst);
            const n = self.n_items.load(.seq_cst);
            const chunk = self.chunk.load(.seq_cst);
            const ctx = self.ctx.load(.seq_cst);
            const run = self.run.load(.seq_cst);
            const begin: usize = @intCast(c & idx_mask);
            if (begin >= n) return;
            const end = @min(n, begin + chunk);
            // Fails if another thread claimed first or a newer job was published: reload.
            if (self.claim.cmpxchgWeak(c, c + (end - begin), .seq_cst, .seq_cst) != null) continue;
            const f: RunFn = @ptrFromInt(run);
            f(@ptrFromInt(ctx), .{ .begin = begin, .end = end, .thread = thread });
            _ = self.done.fetchAdd(end - begin, .seq_cst);
        }
    }

    fn waitEpoch(self: *Pool, seen: u32) u32 {
        var i: u32 = 0;
        while (i < self.spin_iters) : (i += 1) {
            const g = self.epoch.load(.acquire);
            if (g != seen) return g;
            std.atomic.spinLoopHint();
        }
        while (true) {
            _ = self.sleepers.fetchAdd(1, .seq_cst);
            const g = self.epoch.load(.seq_cst);
            if (g != seen) {
                _ = self.sleepers.fetchSub(1, .seq_cst);
                return g;
            }
            Futex.wait(&self.epoch, seen);
            _ = self.sleepers.fetchSub(1, .seq_cst);
            const g2 = self.epoch.load(.acquire);
            if (g2 != seen) return g2;
        }
    }

    /// Run `func(ctx, range)` over [0, n_items) split into chunks of at least `grain` items.
    /// `pool` null (or 1 thread, or little work) runs everything on the caller as one range.
    pub fn parallelFor(
        pool: ?*Pool,
        n_items: usize,
        grain: usize,
        ctx: anytype,
        comptime func: fn (@TypeOf(ctx), Range) void,
    ) void {
        if (n_items == 0) return;
        const self = pool orelse return func(ctx, .{ .begin = 0, .end = n_items, .thread = 0 });
        const n_threads = self.nThreads();
        const min_grain = @max(1, grain);
        if (n_threads == 1 or n_items <= min_grain or n_items > idx_mask / 2)
            return func(ctx, .{ .begin = 0, .end = n_items, .thread = 0 });

        const Ctx = @TypeOf(ctx);
        const Wrap = struct {
            fn run(p: *const anyopaque, r: Range) void {
                const c: *const Ctx = @ptrCast(@alignCast(p));
                func(c.*, r);
            }
        };
        // ~8 chunks per thread: a thread descheduled while holding one delays the op by at
        // most that chunk, and the counter traffic stays small.
        const chunk = @max(min_grain, std.math.divCeil(usize, n_items, n_threads * 8) catch unreachable);
        // Close the claim word before the job's fields change: a worker that read the previous
        // claim word and then this job's fields must fail its compare-exchange, not claim a
        // chunk of this job at the previous job's offset (a race seen as a stale context).
        self.claim.store((@as(u64, self.generation) << 32) | idx_mask, .seq_cst);
        self.generation +%= 1;
        self.ctx.store(@intFromPtr(&ctx), .seq_cst);
        self.run.store(@intFromPtr(&Wrap.run), .seq_cst);
        self.n_items.store(n_items, .seq_cst);
        self.chunk.store(chunk, .seq_cst);
        self.done.store(0, .seq_cst);
        self.claim.store(@as(u64, self.generation) << 32, .seq_cst);
        _ = self.epoch.fetchAdd(1, .seq_cst);
        if (self.sleepers.load(.seq_cst) != 0) Futex.wake(&self.epoch, std.math.maxInt(u32));

        self.drain(0);

        // Only chunks already claimed are outstanding. Their thread may be descheduled: spin a
        // little, then yield the core so that it can run here.
        var i: u32 = 0;
        while (self.done.load(.seq_cst) != n_items) : (i += 1) {
            if (i < self.spin_iters) std.atomic.spinLoopHint() else std.Thread.yield() catch {};
        }
    }
};

/// Threads for compute, as llama.cpp's cpu_get_num_math(): one per physical core (SMT
/// siblings counted once, from sysfs topology), never more than the CPUs this process may
/// use; the logical CPU count where the topology is not readable.
pub fn defaultThreadCount() usize {
    const logical = std.Thread.getCpuCount() catch 1;
    if (builtin.os.tag != .linux) return logical;
    var seen: [256][64]u8 = undefined;
    var lens: [256]usize = undefined;
    var n_unique: usize = 0;
    var buf: [96]u8 = undefined;
    var cpu: usize = 0;
    while (cpu < 1024) : (cpu += 1) {
        const path = std.fmt.bufPrint(&buf, "/sys/devices/system/cpu/cpu{d}/topology/thread_siblings", .{cpu}) catch break;
        const f = std.fs.openFileAbsolute(path, .{}) catch break;
        defer f.close();
        var content: [64]u8 = undefined;
        const len = f.readAll(&content) catch break;
        var dup = false;
        for (0..n_unique) |k| {
            if (std.mem.eql(u8, seen[k][0..lens[k]], content[0..len])) dup = true;
        }
        if (!dup and n_unique < seen.len) {
            @memcpy(seen[n_unique][0..len], content[0..len]);
            lens[n_unique] = len;
            n_unique += 1;
        }
    }
    if (n_unique == 0) return logical;
    return @max(1, @min(n_unique, logical));
}

/// Convenience for callers holding an optional pool.
pub fn parallelFor(pool: ?*Pool, n_items: usize, grain: usize, ctx: anytype, comptime func: fn (@TypeOf(ctx), Range) void) void {
    Pool.parallelFor(pool, n_items, grain, ctx, func);
}

pub fn threadCount(pool: ?*Pool) usize {
    return if (pool) |p| p.nThreads() else 1;
}

// ---- tests ----

const testing = std.testing;

const CountCtx = struct {
    hits: []Atomic(u32),
    max_thread: usize,
    fn run(c: CountCtx, r: Range) void {
        std.debug.assert(r.thread < c.max_thread);
        for (r.begin..r.end) |i| _ = c.hits[i].fetchAdd(1, .monotonic);
    }
};

test "parallelFor covers every item exactly once, many dispatches in a row" {
    var pool: Pool = undefined;
    try pool.init(testing.allocator, .{ .n_threads = 3, .spin_iters = 64 });
    defer pool.deinit();
    const hits = try testing.allocator.alloc(Atomic(u32), 1001);
    defer testing.allocator.free(hits);
    for (hits) |*h| h.* = Atomic(u32).init(0);
    const rounds = 2000;
    for (0..rounds) |r| {
        const n = 1 + (r * 37) % hits.len;
        parallelFor(&pool, n, 1, CountCtx{ .hits = hits, .max_thread = 3 }, CountCtx.run);
    }
    // Item i is touched by every round whose n > i.
    for (hits, 0..) |h, i| {
        var expect: u32 = 0;
        for (0..rounds) |r| expect += @intFromBool(1 + (r * 37) % hits.len > i);
        try testing.expectEqual(expect, h.load(.monotonic));
    }
    // Null pool: runs inline.
    parallelFor(null, 5, 1, CountCtx{ .hits = hits, .max_thread = 1 }, CountCtx.run);
    try testing.expectEqual(threadCount(null), 1);
}

test "a worker that never shows up does not hold a dispatch" {
    // Workers that go to sleep at once (spin 1) mostly arrive after the caller has claimed
    // everything: each job must still cover every item exactly once, and late workers must
    // not claim items of a later job with an earlier job's context.
    var pool: Pool = undefined;
    try pool.init(testing.allocator, .{ .n_threads = 4, .spin_iters = 1 });
    defer pool.deinit();
    const hits = try testing.allocator.alloc(Atomic(u32), 300);
    defer testing.allocator.free(hits);
    for (hits) |*h| h.* = Atomic(u32).init(0);
    for (0..500) |_| parallelFor(&pool, hits.len, 1, CountCtx{ .hits = hits, .max_thread = 4 }, CountCtx.run);
    for (hits) |h| try testing.expectEqual(@as(u32, 500), h.load(.monotonic));
    try testing.expect(defaultThreadCount() >= 1);
}

test "workers that went to sleep wake up for the next dispatch" {
    var pool: Pool = undefined;
    try pool.init(testing.allocator, .{ .n_threads = 2, .spin_iters = 1 });
    defer pool.deinit();
    const hits = try testing.allocator.alloc(Atomic(u32), 64);
    defer testing.allocator.free(hits);
    for (hits) |*h| h.* = Atomic(u32).init(0);
    for (0..5) |_| {
        std.time.sleep(2 * std.time.ns_per_ms);
        parallelFor(&pool, 64, 1, CountCtx{ .hits = hits, .max_thread = 2 }, CountCtx.run);
    }
    for (hits) |h| try testing.expectEqual(@as(u32, 5), h.load(.monotonic));
}
