//! A persistent thread pool with a parallel-for over index ranges.
//!
//! Decode calls matmul hundreds of times per token, so a dispatch must cost microseconds:
//! workers are created once, spin briefly on a generation counter (catching back-to-back ops
//! without a syscall), then sleep on a futex. The caller thread works too. Items are handed out
//! in chunks from an atomic counter, so a worker descheduled by the OS (2 shared cores) does
//! not stall the whole op.
//!
//! One dispatcher at a time: parallelFor must not be called concurrently or from inside a job.
const std = @import("std");
const builtin = @import("builtin");

const Atomic = std.atomic.Value;
const Futex = std.Thread.Futex;

pub const Options = struct {
    /// Threads including the caller; null = std.Thread.getCpuCount().
    n_threads: ?usize = null,
    /// Spin iterations before sleeping on the futex (each a pause instruction, ~10-50 ns).
    spin_iters: u32 = 2048,
};

/// A piece of work handed to a thread: items [begin, end), run on thread `thread` (0 = caller),
/// which indexes per-thread scratch.
pub const Range = struct { begin: usize, end: usize, thread: usize };

const Job = struct {
    ctx: *const anyopaque,
    run: *const fn (ctx: *const anyopaque, r: Range) void,
    n_items: usize,
    chunk: usize,
    next: Atomic(usize) = Atomic(usize).init(0),

    fn work(job: *Job, thread: usize) void {
        while (true) {
            const begin = job.next.fetchAdd(job.chunk, .monotonic);
            if (begin >= job.n_items) return;
            job.run(job.ctx, .{ .begin = begin, .end = @min(job.n_items, begin + job.chunk), .thread = thread });
        }
    }
};

pub const Pool = struct {
    allocator: std.mem.Allocator,
    threads: []std.Thread,
    spin_iters: u32,
    /// Bumped once per dispatch (and at shutdown); workers wait for it to change.
    generation: Atomic(u32) = Atomic(u32).init(0),
    /// Workers still running the current job.
    pending: Atomic(u32) = Atomic(u32).init(0),
    /// Workers asleep on `generation`; a dispatch only issues a futex wake when one is.
    sleepers: Atomic(u32) = Atomic(u32).init(0),
    /// Set while the dispatcher sleeps on `pending`.
    waiter_asleep: Atomic(u32) = Atomic(u32).init(0),
    job: ?*Job = null,
    stop: bool = false,

    /// Start the workers. `self` must stay at this address until deinit (workers point to it).
    pub fn init(self: *Pool, allocator: std.mem.Allocator, opts: Options) !void {
        const n_threads = @max(1, opts.n_threads orelse (std.Thread.getCpuCount() catch 1));
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
        self.stop = true;
        _ = self.generation.fetchAdd(1, .seq_cst);
        Futex.wake(&self.generation, std.math.maxInt(u32));
    }

    fn workerMain(self: *Pool, thread: usize) void {
        var seen: u32 = 0;
        while (true) {
            seen = self.waitGeneration(seen);
            if (self.stop) return;
            self.job.?.work(thread);
            if (self.pending.fetchSub(1, .acq_rel) == 1) {
                if (self.waiter_asleep.load(.seq_cst) != 0) Futex.wake(&self.pending, 1);
            }
        }
    }

    fn waitGeneration(self: *Pool, seen: u32) u32 {
        var i: u32 = 0;
        while (i < self.spin_iters) : (i += 1) {
            const g = self.generation.load(.acquire);
            if (g != seen) return g;
            std.atomic.spinLoopHint();
        }
        while (true) {
            _ = self.sleepers.fetchAdd(1, .seq_cst);
            const g = self.generation.load(.seq_cst);
            if (g != seen) {
                _ = self.sleepers.fetchSub(1, .seq_cst);
                return g;
            }
            Futex.wait(&self.generation, seen);
            _ = self.sleepers.fetchSub(1, .seq_cst);
            const g2 = self.generation.load(.acquire);
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
        if (n_threads == 1 or n_items <= min_grain)
            return func(ctx, .{ .begin = 0, .end = n_items, .thread = 0 });

        const Ctx = @TypeOf(ctx);
        const Wrap = struct {
            fn run(p: *const anyopaque, r: Range) void {
                const c: *const Ctx = @ptrCast(@alignCast(p));
                func(c.*, r);
            }
        };
        // ~4 chunks per thread balances a descheduled worker without much counter traffic.
        const chunk = @max(min_grain, std.math.divCeil(usize, n_items, n_threads * 4) catch unreachable);
        var job = Job{ .ctx = @ptrCast(&ctx), .run = Wrap.run, .n_items = n_items, .chunk = chunk };
        self.job = &job;
        self.pending.store(@intCast(self.threads.len), .release);
        _ = self.generation.fetchAdd(1, .seq_cst);
        if (self.sleepers.load(.seq_cst) != 0) Futex.wake(&self.generation, std.math.maxInt(u32));

        job.work(0);

        // Wait for the workers: they must be done with `job` (on our stack) before we return.
        var i: u32 = 0;
        while (self.pending.load(.acquire) != 0) : (i += 1) {
            if (i < self.spin_iters * 4) {
                std.atomic.spinLoopHint();
                continue;
            }
            self.waiter_asleep.store(1, .seq_cst);
            const p = self.pending.load(.seq_cst);
            if (p != 0) Futex.wait(&self.pending, p);
            self.waiter_asleep.store(0, .seq_cst);
        }
        self.job = null;
    }
};

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
