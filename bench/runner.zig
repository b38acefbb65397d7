//! pi5-bench: the benchmark runner (one native binary, `zig build bench -- ...`).
//!
//!   pi5-bench [--suites kernels,models,health] [--backends cpu,vulkan] [--limits none|v3dv]
//!             [--quick] [--reps N] [--threads N] [--model M.gguf]... [--llama-bench PATH|none]
//!             [-p 64,512] [-n 32] [-d 0,512] [--sustain-s 60] [--out RUN.jsonl] [--md SUMMARY.md]
//!             [--commit HASH] [--machine NAME]
//!
//! Writes one JSON object per line (a `run` header, the device reports, then one record per
//! measurement: bench/record.zig) to --out or stdout, and a Markdown summary to --md.
//! bench/results.mjs files a run under results/, draws its charts and compares it with the
//! previous runs. Speed is only ever compared with llama.cpp measured in the same run.
const std = @import("std");
const builtin = @import("builtin");
const pi5 = @import("pi5");
const rec = @import("record.zig");
const kernels = @import("kernels.zig");
const health = @import("health.zig");
const models = @import("models.zig");
const summary = @import("summary.zig");

const usage =
    \\usage: pi5-bench [--suites kernels,models,health] [--backends cpu,vulkan] [--limits none|v3dv]
    \\                 [--quick] [--reps N] [--threads N] [--model M.gguf]... [--llama-bench PATH|none]
    \\                 [-p 64,512] [-n 32] [-d 0,512] [--sustain-s 60] [--filter LIST] [--out RUN.jsonl]
    \\                 [--md SUMMARY.md] [--commit HASH] [--machine NAME]
    \\  kernels  mat-vec / mat-mat per weight type, softmax, rms_norm, rope, attention; size sweeps
    \\  models   pp / tg at each prompt length and depth (llama-bench's method), with llama-bench
    \\           run on the same model when --llama-bench (default .llama-bench/run if present)
    \\  health   device report, copy bandwidth, thermal zones / vcgencmd, sustained-clock run
    \\  --quick  smaller sweeps and a 5 s sustained run (CI)
    \\  --filter LIST  kernels whose "op/type" contains one of these (e.g. mul_mat_vec/q4_0,softmax)
    \\
;

const Args = struct {
    kernels: bool = false,
    models: bool = false,
    health: bool = false,
    cpu: bool = true,
    vulkan: bool = true,
    limits: ?pi5.vk.Profile = null,
    quick: bool = false,
    reps: ?u32 = null,
    threads: u32 = 0,
    model_paths: std.ArrayListUnmanaged([]const u8) = .{},
    llama_bench: ?[]const u8 = null,
    no_llama: bool = false,
    prompts: ?[]const u32 = null,
    n_gen: ?u32 = null,
    depths: ?[]const u32 = null,
    sustain_s: ?f64 = null,
    filter: ?[]const u8 = null,
    out: ?[]const u8 = null,
    md: ?[]const u8 = null,
    commit: []const u8 = "unknown",
    machine: ?[]const u8 = null,
};

fn fail(comptime f: []const u8, args: anytype) error{Usage} {
    std.debug.print("pi5-bench: " ++ f ++ "\n", args);
    return error.Usage;
}

fn parseList(a: std.mem.Allocator, s: []const u8, what: []const u8) ![]const u32 {
    var out = std.ArrayList(u32).init(a);
    var it = std.mem.splitScalar(u8, s, ',');
    while (it.next()) |x| try out.append(std.fmt.parseInt(u32, x, 10) catch return fail("{s}: expected numbers separated by commas, got '{s}'", .{ what, s }));
    if (out.items.len == 0) return fail("{s}: empty list", .{what});
    return out.toOwnedSlice();
}

pub fn parseArgs(a: std.mem.Allocator, argv: []const []const u8) !Args {
    var r = Args{};
    var suites_given = false;
    var i: usize = 0;
    const eql = std.mem.eql;
    while (i < argv.len) : (i += 1) {
        const arg = argv[i];
        const val = struct {
            fn v(xs: []const []const u8, j: *usize, name: []const u8) ![]const u8 {
                j.* += 1;
                if (j.* >= xs.len) return fail("{s} needs a value", .{name});
                return xs[j.*];
            }
        }.v;
        if (eql(u8, arg, "--suites")) {
            suites_given = true;
            var it = std.mem.splitScalar(u8, try val(argv, &i, arg), ',');
            while (it.next()) |s| {
                if (eql(u8, s, "kernels")) r.kernels = true else if (eql(u8, s, "models")) r.models = true else if (eql(u8, s, "health")) r.health = true else if (eql(u8, s, "all")) {
                    r.kernels = true;
                    r.models = true;
                    r.health = true;
                } else return fail("unknown suite '{s}' (kernels, models, health, all)", .{s});
            }
        } else if (eql(u8, arg, "--backends")) {
            r.cpu = false;
            r.vulkan = false;
            var it = std.mem.splitScalar(u8, try val(argv, &i, arg), ',');
            while (it.next()) |s| {
                if (eql(u8, s, "cpu")) r.cpu = true else if (eql(u8, s, "vulkan")) r.vulkan = true else return fail("unknown backend '{s}' (cpu, vulkan)", .{s});
            }
        } else if (eql(u8, arg, "--limits")) {
            const s = try val(argv, &i, arg);
            r.limits = pi5.vk.Profile.parse(s) orelse return fail("--limits: expected none or v3dv, got '{s}'", .{s});
        } else if (eql(u8, arg, "--quick")) {
            r.quick = true;
        } else if (eql(u8, arg, "--reps")) {
            r.reps = std.fmt.parseInt(u32, try val(argv, &i, arg), 10) catch return fail("--reps: expected a number", .{});
            if (r.reps.? == 0) return fail("--reps must be at least 1", .{});
        } else if (eql(u8, arg, "--threads")) {
            r.threads = std.fmt.parseInt(u32, try val(argv, &i, arg), 10) catch return fail("--threads: expected a number", .{});
        } else if (eql(u8, arg, "--model")) {
            try r.model_paths.append(a, try val(argv, &i, arg));
        } else if (eql(u8, arg, "--llama-bench")) {
            const s = try val(argv, &i, arg);
            if (eql(u8, s, "none")) r.no_llama = true else r.llama_bench = s;
        } else if (eql(u8, arg, "-p")) {
            r.prompts = try parseList(a, try val(argv, &i, arg), "-p");
            for (r.prompts.?) |p| if (p == 0) return fail("-p: prompt lengths must be at least 1", .{});
        } else if (eql(u8, arg, "-n")) {
            r.n_gen = std.fmt.parseInt(u32, try val(argv, &i, arg), 10) catch return fail("-n: expected a number", .{});
            if (r.n_gen.? == 0) return fail("-n must be at least 1", .{});
        } else if (eql(u8, arg, "-d")) {
            r.depths = try parseList(a, try val(argv, &i, arg), "-d");
        } else if (eql(u8, arg, "--sustain-s")) {
            r.sustain_s = std.fmt.parseFloat(f64, try val(argv, &i, arg)) catch return fail("--sustain-s: expected seconds", .{});
            if (!(r.sustain_s.? > 0 and r.sustain_s.? <= 3600)) return fail("--sustain-s: expected 0 < s <= 3600", .{});
        } else if (eql(u8, arg, "--filter")) {
            r.filter = try val(argv, &i, arg);
        } else if (eql(u8, arg, "--out")) {
            r.out = try val(argv, &i, arg);
        } else if (eql(u8, arg, "--md")) {
            r.md = try val(argv, &i, arg);
        } else if (eql(u8, arg, "--commit")) {
            r.commit = try val(argv, &i, arg);
        } else if (eql(u8, arg, "--machine")) {
            r.machine = try val(argv, &i, arg);
        } else if (eql(u8, arg, "-h") or eql(u8, arg, "--help")) {
            return error.Help;
        } else return fail("unknown argument '{s}' (--help)", .{arg});
    }
    if (!suites_given) {
        r.kernels = true;
        r.models = true;
        r.health = true;
    }
    if (!r.cpu and !r.vulkan) return fail("--backends: none given", .{});
    return r;
}

pub fn main() !u8 {
    var gpa = std.heap.GeneralPurposeAllocator(.{}){};
    defer _ = gpa.deinit();
    const alloc = gpa.allocator();
    var arena = std.heap.ArenaAllocator.init(alloc);
    defer arena.deinit();
    const aa = arena.allocator();
    const argv = try std.process.argsAlloc(aa);
    var args = parseArgs(aa, argv[1..]) catch |e| switch (e) {
        error.Help => {
            try std.io.getStdOut().writeAll(usage);
            return 0;
        },
        error.Usage => return 2,
        else => return e,
    };
    run(alloc, aa, &args) catch |e| {
        std.debug.print("pi5-bench: {s}\n", .{@errorName(e)});
        return 1;
    };
    return 0;
}

fn defaultModel(aa: std.mem.Allocator) !?[]const u8 {
    const dir = std.posix.getenv("PI5_MODELS_DIR") orelse "../shared/models";
    const p = try std.fs.path.join(aa, &.{ dir, "stories260K.gguf" });
    std.fs.cwd().access(p, .{}) catch return null;
    return p;
}

fn run(alloc: std.mem.Allocator, aa: std.mem.Allocator, args: *Args) !void {
    const out_file = if (args.out) |p| try std.fs.cwd().createFile(p, .{}) else std.io.getStdOut();
    defer if (args.out != null) out_file.close();
    var sink = rec.Sink.init(alloc, out_file);
    defer sink.deinit();

    const profile = args.limits orelse (pi5.vk.Profile.parse(std.posix.getenv("PI5_LIMITS") orelse "") orelse .none);
    const profile_name = @tagName(profile);
    const machine = args.machine orelse blk: {
        var buf: [std.posix.HOST_NAME_MAX]u8 = undefined;
        break :blk try aa.dupe(u8, std.posix.gethostname(&buf) catch "unknown");
    };
    const cpu_name = try cpuModel(aa);
    const date = try isoDate(aa);
    const quick = args.quick;

    // The run header: what a results log entry is named and grouped by.
    {
        var line = std.ArrayList(u8).init(aa);
        var jw = std.json.writeStream(line.writer(), .{});
        try jw.beginObject();
        inline for (.{ .{ "suite", "run" }, .{ "date", date }, .{ "machine", machine }, .{ "arch", @tagName(builtin.cpu.arch) }, .{ "cpu", cpu_name }, .{ "commit", args.commit }, .{ "profile", profile_name } }) |kv| {
            try jw.objectField(kv[0]);
            try jw.write(kv[1]);
        }
        try jw.objectField("n_cpus");
        try jw.write(std.Thread.getCpuCount() catch 1);
        try jw.objectField("quick");
        try jw.write(quick);
        try jw.objectField("suites");
        try jw.beginArray();
        if (args.kernels) try jw.write("kernels");
        if (args.models) try jw.write("models");
        if (args.health) try jw.write("health");
        try jw.endArray();
        try jw.endObject();
        try sink.emitRaw(line.items);
    }

    var model_paths = args.model_paths.items;
    if (args.models and model_paths.len == 0) {
        if (try defaultModel(aa)) |p| model_paths = try aa.dupe([]const u8, &.{p}) else std.debug.print("pi5-bench: no --model and no stories260K.gguf in PI5_MODELS_DIR: models suite skipped\n", .{});
    }
    const llama_bench: ?[]const u8 = if (args.no_llama) null else args.llama_bench orelse blk: {
        std.fs.cwd().access(".llama-bench/run", .{}) catch break :blk null;
        break :blk ".llama-bench/run";
    };
    const kcfg = kernels.Config{ .quick = quick, .reps = args.reps orelse (if (quick) 3 else 7), .min_ms = if (quick) 10 else 50, .n_threads = args.threads, .filter = args.filter };
    const mcfg = models.Config{
        .prompts = args.prompts orelse if (quick) &.{32} else &.{ 64, 512 },
        .n_gen = args.n_gen orelse if (quick) 8 else 32,
        .depths = args.depths orelse if (quick) &.{ 0, 32 } else &.{ 0, 512 },
        .reps = args.reps orelse 3,
        .n_threads = args.threads,
        .llama_bench = llama_bench,
    };

    var devices = std.ArrayList([]const u8).init(aa);
    for ([_]struct { bool, pi5.runtime.Backend }{ .{ args.cpu, .cpu }, .{ args.vulkan, .vulkan } }) |b| {
        if (!b[0]) continue;
        const rt = pi5.Runtime.create(alloc, .{ .backend = b[1], .profile = profile, .n_threads = args.threads, .timeout_ms = 300_000 }) catch |e| {
            std.debug.print("pi5-bench: backend {s} unavailable: {s}\n", .{ @tagName(b[1]), pi5.runtime.describe(e) });
            try sink.emit(.{ .suite = "run", .key = try sink.fmt("run/{s}/unavailable", .{@tagName(b[1])}), .backend = @tagName(b[1]), .value = std.math.nan(f64), .note = try sink.dupe(pi5.runtime.describe(e)) });
            continue;
        };
        defer rt.destroy();
        const name = @tagName(b[1]);
        const device = try aa.dupe(u8, if (rt.gpu) |g| g.report.deviceName() else cpu_name);
        try devices.append(device);
        std.debug.print("pi5-bench: {s} on {s} (limits {s})\n", .{ name, device, profile_name });
        if (rt.gpu) |g| {
            var line = std.ArrayList(u8).init(aa);
            try line.appendSlice("{\"suite\":\"device\",\"backend\":\"vulkan\",\"report\":");
            try g.report.writeJson(line.writer());
            try line.appendSlice("}");
            try sink.emitRaw(line.items);
        }
        var t = kernels.Target{ .ctx = rt.gpu, .backend = name, .device = device, .profile = profile_name, .copy_gbps = 0 };
        if (args.health or args.kernels) {
            // The reference bandwidth the kernels' GB/s are set against.
            if (rt.gpu) |g| {
                const c = try health.gpuCopy(alloc, g, if (quick) 16 << 20 else 64 << 20, 5);
                t.copy_gbps = c.device_local;
            } else {
                t.copy_gbps = (try health.cpuCopyGbps(alloc, if (quick) 16 << 20 else 64 << 20, 5)).gbps;
            }
        }
        if (args.health) try health.snapshot(&sink, alloc, t, quick);
        if (args.kernels) try kernels.run(&sink, alloc, t, kcfg);
        if (args.models) for (model_paths) |p| try models.run(&sink, alloc, .{ .rt = rt, .backend = name, .profile = profile_name }, p, mcfg);
        if (args.health) try health.sustain(&sink, alloc, t, args.sustain_s orelse if (quick) 5 else 60, args.threads);
    }
    if (args.health) try health.thermal(&sink, alloc);

    if (args.md) |p| {
        const f = try std.fs.cwd().createFile(p, .{});
        defer f.close();
        var bw = std.io.bufferedWriter(f.writer());
        try summary.write(bw.writer(), .{ .date = date, .machine = machine, .cpu = cpu_name, .arch = @tagName(builtin.cpu.arch), .commit = args.commit, .profile = profile_name, .devices = devices.items, .quick = quick, .llama_bench = llama_bench != null }, sink.records.items);
        try bw.flush();
    }
    // Everything is written; a kernel that produced NaN/inf still fails the run.
    var bad: usize = 0;
    for (sink.records.items) |r| if (r.finite == false) {
        std.debug.print("pi5-bench: {s}: the kernel's output has NaN/inf\n", .{r.key});
        bad += 1;
    };
    if (bad > 0) return error.NonFiniteKernelOutput;
}

fn cpuModel(aa: std.mem.Allocator) ![]const u8 {
    const f = std.fs.openFileAbsolute("/proc/cpuinfo", .{}) catch return @tagName(builtin.cpu.arch);
    defer f.close();
    const text = f.readToEndAlloc(aa, 1 << 20) catch return @tagName(builtin.cpu.arch);
    var lines = std.mem.splitScalar(u8, text, '\n');
    var part: ?[]const u8 = null;
    while (lines.next()) |l| {
        // x86: "model name"; arm64 kernels: "Model" (the board) or only "CPU part".
        if (std.mem.startsWith(u8, l, "model name") or std.mem.startsWith(u8, l, "Model")) {
            if (std.mem.indexOfScalar(u8, l, ':')) |i| return std.mem.trim(u8, l[i + 1 ..], " \t");
        }
        if (part == null and std.mem.startsWith(u8, l, "CPU part")) {
            if (std.mem.indexOfScalar(u8, l, ':')) |i| part = try std.fmt.allocPrint(aa, "{s} CPU part {s}", .{ @tagName(builtin.cpu.arch), std.mem.trim(u8, l[i + 1 ..], " \t") });
        }
    }
    return part orelse @tagName(builtin.cpu.arch);
}

fn isoDate(aa: std.mem.Allocator) ![]const u8 {
    const secs: u64 = @intCast(std.time.timestamp());
    const es = std.time.epoch.EpochSeconds{ .secs = secs };
    const day = es.getEpochDay().calculateYearDay();
    const md = day.calculateMonthDay();
    const ds = es.getDaySeconds();
    return std.fmt.allocPrint(aa, "{d:0>4}-{d:0>2}-{d:0>2}T{d:0>2}:{d:0>2}:{d:0>2}Z", .{ day.year, md.month.numeric(), md.day_index + 1, ds.getHoursIntoDay(), ds.getMinutesIntoHour(), ds.getSecondsIntoMinute() });
}

test "arguments: suites, lists and bad input" {
    var arena = std.heap.ArenaAllocator.init(std.testing.allocator);
    defer arena.deinit();
    const a = arena.allocator();
    const r = try parseArgs(a, &.{ "--suites", "kernels,health", "--backends", "cpu", "-p", "64,512", "-d", "0,256", "--quick" });
    try std.testing.expect(r.kernels and r.health and !r.models and r.cpu and !r.vulkan and r.quick);
    try std.testing.expectEqualSlices(u32, &.{ 64, 512 }, r.prompts.?);
    const all = try parseArgs(a, &.{});
    try std.testing.expect(all.kernels and all.models and all.health);
    for ([_][]const []const u8{ &.{ "--suites", "gpu" }, &.{"--reps"}, &.{ "--reps", "0" }, &.{ "-p", "64,x" }, &.{ "--limits", "pi4" }, &.{ "--backends", "tpu" }, &.{"--bogus"}, &.{ "--sustain-s", "-1" } }) |bad|
        try std.testing.expectError(error.Usage, parseArgs(a, bad));
}

test {
    _ = rec;
}
