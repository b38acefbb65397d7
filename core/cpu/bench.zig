//! Micro-benchmark: quantized matvec (decode) of TinyLlama-shaped matrices, reported as GB/s
//! of weight traffic, plus the pool's per-dispatch overhead.
//!
//! Zig only lets a root file import files under its own directory, so run it through a root
//! one level above core/ (the repo root or a symlink to core/):
//!   echo 'pub const main = @import("core/cpu/bench.zig").main;' > /tmp/b/bench_main.zig
//!   ln -s $PWD/core /tmp/b/core && zig run -OReleaseFast /tmp/b/bench_main.zig [-- n_threads]
const std = @import("std");
const quant = @import("../quant/quant.zig");
const ops = @import("ops.zig");
const pool_mod = @import("pool.zig");

const Shape = struct { n_out: usize, n_in: usize };

pub fn main() !void {
    const a = std.heap.page_allocator;
    var args = try std.process.argsWithAllocator(a);
    _ = args.skip();
    const max_threads = if (args.next()) |s| try std.fmt.parseInt(usize, s, 10) else (std.Thread.getCpuCount() catch 1);
    const out = std.io.getStdOut().writer();

    var prng = std.Random.DefaultPrng.init(1);
    const rng = prng.random();
    const shapes = [_]Shape{ .{ .n_out = 2048, .n_in = 2048 }, .{ .n_out = 5632, .n_in = 2048 } };
    const types = [_]quant.GgmlType{ .q4_0, .q4_k, .q8_0, .q6_k };

    var pools: [8]pool_mod.Pool = undefined;
    const n_pools = @min(max_threads, pools.len);
    for (0..n_pools) |i| try pools[i].init(a, .{ .n_threads = i + 1 });
    defer for (0..n_pools) |i| pools[i].deinit();

    // Dispatch overhead: an empty parallel-for over 2 items per thread.
    {
        const Nop = struct {
            fn run(_: void, _: pool_mod.Range) void {}
        };
        const p = &pools[n_pools - 1];
        const iters = 20000;
        var timer = try std.time.Timer.start();
        for (0..iters) |_| pool_mod.parallelFor(p, 2 * p.nThreads(), 1, {}, Nop.run);
        const ns = timer.read();
        try out.print("pool dispatch ({} threads): {d:.2} us/call\n", .{ p.nThreads(), @as(f64, @floatFromInt(ns)) / iters / 1000 });
    }

    for (shapes) |sh| {
        const w = try a.alloc(f32, sh.n_out * sh.n_in);
        defer a.free(w);
        for (w) |*v| v.* = rng.floatNorm(f32) * 0.02;
        const x = try a.alloc(f32, sh.n_in);
        defer a.free(x);
        for (x) |*v| v.* = rng.floatNorm(f32);
        const y = try a.alloc(f32, sh.n_out);
        defer a.free(y);
        for (types) |t| {
            const rb: usize = @intCast(t.rowBytes(sh.n_in).?);
            const wq = try a.alloc(u8, rb * sh.n_out);
            defer a.free(wq);
            // Rows are whole blocks, so the matrix quantizes as one long row.
            try quant.quantizeRow(t, w, wq);
            const scratch = try a.alloc(u8, try ops.matmulScratchBytes(t, sh.n_in, 1));
            defer a.free(scratch);
            const wt = ops.QTensor{ .t = t, .data = wq, .n_rows = sh.n_out, .n_cols = sh.n_in };
            for (0..n_pools) |pi| {
                const p = &pools[pi];
                try ops.matmul(p, wt, x, 1, y, scratch); // warm
                const iters: usize = 40;
                var best: u64 = std.math.maxInt(u64);
                for (0..iters) |_| {
                    var timer = try std.time.Timer.start();
                    try ops.matmul(p, wt, x, 1, y, scratch);
                    best = @min(best, timer.read());
                }
                const gbs = @as(f64, @floatFromInt(wq.len)) / @as(f64, @floatFromInt(best));
                try out.print("{s:>5} {d}x{d} threads={}: {d:.3} ms  {d:.2} GB/s weights ({d:.1} MiB)\n", .{
                    t.name(),                            sh.n_out, sh.n_in,                                     p.nThreads(),
                    @as(f64, @floatFromInt(best)) / 1e6, gbs,      @as(f64, @floatFromInt(wq.len)) / (1 << 20),
                });
            }
        }
    }
}
