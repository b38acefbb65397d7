//! The `models` suite, llama-bench's method: for every depth d (tokens already in the KV cache)
//! pp P = tokens/s evaluating a P-token prompt on top of d tokens, tg N = tokens/s generating N
//! tokens one at a time (greedy) on top of d tokens; r repetitions, the median reported. When a
//! llama-bench binary is given (../shared/device/build_llama_bench.sh builds one) it runs in the
//! same process tree with the same P, N, d and r, and each record carries llama.cpp's tokens/s
//! and our ratio to it.
const std = @import("std");
const pi5 = @import("pi5");
const rec = @import("record.zig");

pub const Config = struct {
    prompts: []const u32 = &.{ 64, 512 },
    n_gen: u32 = 32,
    depths: []const u32 = &.{ 0, 512 },
    reps: u32 = 3,
    n_threads: u32 = 0,
    /// llama-bench executable (or its `run` wrapper); null = ours only.
    llama_bench: ?[]const u8 = null,
};

pub const Target = struct {
    rt: *pi5.Runtime,
    backend: []const u8,
    profile: []const u8,
};

const Test = struct { n_prompt: u32, n_gen: u32, n_depth: u32, name: []const u8 };

pub fn run(sink: *rec.Sink, alloc: std.mem.Allocator, t: Target, path: []const u8, cfg: Config) !void {
    var max_p: u32 = 0;
    for (cfg.prompts) |p| max_p = @max(max_p, p);
    var max_d: u32 = 0;
    for (cfg.depths) |d| max_d = @max(max_d, d);
    var diag = pi5.gguf.Diagnostic{};
    const m = pi5.Model.load(alloc, path, .{
        .n_ctx = max_d + @max(max_p, cfg.n_gen) + 16,
        .n_batch = @max(max_p, 64),
        .n_threads = t.rt.n_threads,
        .gpu = t.rt.gpu,
        .placement = .auto,
    }, &diag) catch |e| {
        std.debug.print("bench: cannot load {s}: {s}\n", .{ path, if (diag.len > 0) diag.message() else @errorName(e) });
        return e;
    };
    defer m.destroy();
    const device = try sink.dupe(if (t.rt.gpu != null and m.onGpu()) t.rt.gpu.?.report.deviceName() else "cpu");
    const base = std.fs.path.basename(path);

    var tests = std.ArrayList(Test).init(alloc);
    defer tests.deinit();
    for (cfg.depths) |d| {
        for (cfg.prompts) |p| try tests.append(.{ .n_prompt = p, .n_gen = 0, .n_depth = d, .name = try testName(sink, "pp", p, d) });
        try tests.append(.{ .n_prompt = 0, .n_gen = cfg.n_gen, .n_depth = d, .name = try testName(sink, "tg", cfg.n_gen, d) });
    }
    var ref = std.ArrayList(LlamaResult).init(alloc);
    defer ref.deinit();
    if (cfg.llama_bench) |lb| llamaBench(alloc, lb, path, t, cfg, &ref) catch |e| {
        std.debug.print("bench: llama-bench failed ({s}); ours only\n", .{@errorName(e)});
    };

    const vocab = m.hp.n_vocab;
    const span: u32 = if (vocab > 300) vocab - 200 else vocab;
    const first: u32 = if (vocab > 300) 100 else 0;
    const toks = try alloc.alloc(u32, max_d + max_p + 1);
    defer alloc.free(toks);
    const xs = try alloc.alloc(f64, @max(cfg.reps, 1));
    defer alloc.free(xs);
    for (tests.items) |tc| {
        for (xs, 0..) |*x, r| {
            for (toks, 0..) |*tk, i| tk.* = first + @as(u32, @intCast((i * 7919 + r) % span));
            m.clear();
            if (tc.n_depth > 0) try evalBatched(m, toks[0..tc.n_depth], @max(max_p, 64));
            var timer = try std.time.Timer.start();
            if (tc.n_gen == 0) {
                try evalBatched(m, toks[tc.n_depth..][0..tc.n_prompt], @max(max_p, 64));
                x.* = @as(f64, @floatFromInt(tc.n_prompt)) / (@as(f64, @floatFromInt(timer.read())) / 1e9);
            } else {
                var tok: u32 = toks[tc.n_depth];
                for (0..tc.n_gen) |_| {
                    try m.eval(.{ .tokens = &.{tok} });
                    tok = argmax(m.logits());
                }
                x.* = @as(f64, @floatFromInt(tc.n_gen)) / (@as(f64, @floatFromInt(timer.read())) / 1e9);
            }
        }
        const s = rec.stats(xs);
        var llama: ?f64 = null;
        for (ref.items) |lr| if (lr.n_prompt == tc.n_prompt and lr.n_gen == tc.n_gen and lr.n_depth == tc.n_depth) {
            llama = lr.avg_ts;
        };
        try sink.emit(.{
            .suite = "models",
            .key = try sink.fmt("models/{s}/{s}/{s}/{s}", .{ t.backend, t.profile, base, tc.name }),
            .backend = t.backend,
            .device = device,
            .profile = t.profile,
            .model = try sink.dupe(base),
            .test_ = tc.name,
            .n_prompt = tc.n_prompt,
            .n_gen = tc.n_gen,
            .n_depth = tc.n_depth,
            .value = s.median,
            .unit = "tok/s",
            .better = .higher,
            .spread = s.spread,
            .best = s.max,
            .reps = @intCast(xs.len),
            .llamacpp = llama,
            .ratio = if (llama) |l| s.median / l else null,
        });
    }
}

fn testName(sink: *rec.Sink, kind: []const u8, n: u32, d: u32) ![]const u8 {
    return if (d == 0) sink.fmt("{s}{d}", .{ kind, n }) else sink.fmt("{s}{d}@d{d}", .{ kind, n, d });
}

fn evalBatched(m: *pi5.Model, toks: []const u32, batch: u32) !void {
    var i: usize = 0;
    while (i < toks.len) : (i += batch) try m.eval(.{ .tokens = toks[i..@min(toks.len, i + batch)] });
}

fn argmax(x: []const f32) u32 {
    var best: usize = 0;
    for (x, 0..) |v, i| if (v > x[best]) {
        best = i;
    };
    return @intCast(best);
}

const LlamaResult = struct { n_prompt: u32, n_gen: u32, n_depth: u32, avg_ts: f64 };

/// Runs llama-bench with the same tests (-o jsonl) and collects avg_ts per (P, N, d).
fn llamaBench(alloc: std.mem.Allocator, exe: []const u8, model: []const u8, t: Target, cfg: Config, out: *std.ArrayList(LlamaResult)) !void {
    var argv = std.ArrayList([]const u8).init(alloc);
    defer argv.deinit();
    var arena = std.heap.ArenaAllocator.init(alloc);
    defer arena.deinit();
    const aa = arena.allocator();
    try argv.appendSlice(&.{ exe, "-m", model, "-o", "jsonl", "-r", try std.fmt.allocPrint(aa, "{d}", .{cfg.reps}) });
    try argv.appendSlice(&.{ "-p", try joinNums(aa, cfg.prompts), "-n", try std.fmt.allocPrint(aa, "{d}", .{cfg.n_gen}), "-d", try joinNums(aa, cfg.depths) });
    // Same placement as ours: everything on the GPU when we run there, the CPU otherwise.
    try argv.appendSlice(&.{ "-ngl", if (t.rt.gpu != null) "99" else "0", "-t", try std.fmt.allocPrint(aa, "{d}", .{t.rt.n_threads}) });
    std.debug.print("bench: {s}\n", .{try std.mem.join(aa, " ", argv.items)});
    const r = try std.process.Child.run(.{ .allocator = aa, .argv = argv.items, .max_output_bytes = 1 << 20 });
    if (r.term != .Exited or r.term.Exited != 0) {
        std.debug.print("{s}\n", .{r.stderr});
        return error.LlamaBenchFailed;
    }
    var lines = std.mem.splitScalar(u8, r.stdout, '\n');
    while (lines.next()) |line| {
        if (!std.mem.startsWith(u8, std.mem.trim(u8, line, " "), "{")) continue;
        const v = std.json.parseFromSliceLeaky(std.json.Value, aa, line, .{}) catch continue;
        const o = v.object;
        const num = struct {
            fn f(obj: std.json.ObjectMap, name: []const u8) ?f64 {
                return switch (obj.get(name) orelse return null) {
                    .integer => |i| @floatFromInt(i),
                    .float => |x| x,
                    else => null,
                };
            }
        }.f;
        try out.append(.{
            .n_prompt = @intFromFloat(num(o, "n_prompt") orelse continue),
            .n_gen = @intFromFloat(num(o, "n_gen") orelse continue),
            .n_depth = @intFromFloat(num(o, "n_depth") orelse 0),
            .avg_ts = num(o, "avg_ts") orelse continue,
        });
    }
}

fn joinNums(a: std.mem.Allocator, xs: []const u32) ![]const u8 {
    var s = std.ArrayList(u8).init(a);
    for (xs, 0..) |x, i| try s.writer().print("{s}{d}", .{ if (i > 0) "," else "", x });
    return s.toOwnedSlice();
}
