//! The `health` suite: memory copy bandwidth (CPU memcpy; host→device, device→host and
//! device-local copies on Vulkan), thermal zones and the Pi's `vcgencmd`, and a sustained-clock
//! check: one mat-vec timed again and again for `sustain_s` seconds, sampled once a second with
//! the temperatures, so a throttling board shows as a rising time and temperature line.
const std = @import("std");
const pi5 = @import("pi5");
const rec = @import("record.zig");
const graph = pi5.graph;
const exec = pi5.graph_exec;
const vk = pi5.vk;
const quant = pi5.quant;
const c = vk.c;

/// Traffic GB/s (bytes read + bytes written) of a large memcpy on the CPU.
pub fn cpuCopyGbps(alloc: std.mem.Allocator, size_bytes: usize, reps: u32) !struct { gbps: f64, spread: f64, best: f64 } {
    const src = try alloc.alloc(u8, size_bytes);
    defer alloc.free(src);
    const dst = try alloc.alloc(u8, size_bytes);
    defer alloc.free(dst);
    @memset(src, 0x5a);
    @memset(dst, 0);
    const xs = try alloc.alloc(f64, reps);
    defer alloc.free(xs);
    for (xs) |*x| {
        var timer = try std.time.Timer.start();
        @memcpy(dst, src);
        std.mem.doNotOptimizeAway(dst[size_bytes / 2]);
        x.* = 2 * @as(f64, @floatFromInt(size_bytes)) / @as(f64, @floatFromInt(timer.read()));
    }
    const s = rec.stats(xs);
    return .{ .gbps = s.median, .spread = s.spread, .best = s.max };
}

pub const GpuCopy = struct { device_local: f64, device_local_spread: f64, device_local_best: f64, up: f64, up_spread: f64, up_best: f64, down: f64, down_spread: f64, down_best: f64 };

/// Device-local copy (vkCmdCopyBuffer between two device buffers, GPU timestamps; traffic
/// GB/s), host→device and device→host (the runtime's upload/download path, wall clock; bytes
/// transferred per second).
pub fn gpuCopy(alloc: std.mem.Allocator, ctx: *vk.Context, size_bytes: u64, reps: u32) !GpuCopy {
    var a = try ctx.mem.createBuffer(size_bytes, .{});
    defer ctx.mem.destroyBuffer(&a);
    var b = try ctx.mem.createBuffer(size_bytes, .{});
    defer ctx.mem.destroyBuffer(&b);
    const host = try alloc.alloc(u8, @intCast(size_bytes));
    defer alloc.free(host);
    @memset(host, 0x3c);
    const xs = try alloc.alloc(f64, reps);
    defer alloc.free(xs);
    const sz: f64 = @floatFromInt(size_bytes);
    var out: GpuCopy = undefined;

    try ctx.mem.upload(&a, 0, host); // first touch
    for (xs) |*x| {
        var timer = try std.time.Timer.start();
        try ctx.mem.upload(&a, 0, host);
        x.* = sz / @as(f64, @floatFromInt(timer.read()));
    }
    var s = rec.stats(xs);
    out.up = s.median;
    out.up_spread = s.spread;
    out.up_best = s.max;
    for (xs) |*x| {
        var timer = try std.time.Timer.start();
        try ctx.mem.download(&a, 0, host);
        x.* = sz / @as(f64, @floatFromInt(timer.read()));
    }
    s = rec.stats(xs);
    out.down = s.median;
    out.down_spread = s.spread;
    out.down_best = s.max;

    var seq = try vk.Sequence.init(ctx, 4);
    defer seq.deinit();
    try seq.begin();
    const t0 = seq.timestamp();
    for (a.chunks, b.chunks) |ca, cb| {
        const region = c.VkBufferCopy{ .srcOffset = 0, .dstOffset = 0, .size = ca.size_bytes };
        ctx.d.vkCmdCopyBuffer(seq.cmd, ca.handle, cb.handle, 1, &region);
    }
    _ = seq.timestamp();
    try seq.end();
    try seq.submit(); // warm-up
    for (xs) |*x| {
        var timer = try std.time.Timer.start();
        try seq.submit();
        var ns: u64 = timer.read();
        if (t0 != null) {
            var ts: [2]u64 = undefined;
            if (try seq.readTimestamps(&ts) == 2 and ts[1] > ts[0]) ns = ts[1] - ts[0];
        }
        x.* = 2 * sz / @as(f64, @floatFromInt(ns));
    }
    s = rec.stats(xs);
    out.device_local = s.median;
    out.device_local_spread = s.spread;
    out.device_local_best = s.max;
    return out;
}

pub const Temp = struct { name: []const u8, celsius: f64 };

/// /sys/class/thermal/thermal_zone*/temp (millidegrees) named by their `type`, plus
/// `vcgencmd measure_temp` where the Pi's firmware tool exists.
pub fn readTemps(sink: *rec.Sink, alloc: std.mem.Allocator, list: *std.ArrayList(Temp)) !void {
    list.clearRetainingCapacity();
    var dir = std.fs.openDirAbsolute("/sys/class/thermal", .{ .iterate = true }) catch return;
    defer dir.close();
    var it = dir.iterate();
    while (try it.next()) |e| {
        if (!std.mem.startsWith(u8, e.name, "thermal_zone")) continue;
        var buf: [64]u8 = undefined;
        const temp_s = readSmall(dir, try std.fmt.bufPrint(&buf, "{s}/temp", .{e.name})) orelse continue;
        const milli = std.fmt.parseInt(i64, temp_s, 10) catch continue;
        var buf2: [64]u8 = undefined;
        const ty = readSmall(dir, try std.fmt.bufPrint(&buf2, "{s}/type", .{e.name})) orelse e.name;
        try list.append(.{ .name = try sink.fmt("{s}:{s}", .{ e.name, ty }), .celsius = @as(f64, @floatFromInt(milli)) / 1000 });
    }
    if (vcgencmd(alloc, "measure_temp")) |out| {
        defer alloc.free(out);
        // "temp=48.3'C"
        if (std.mem.indexOfScalar(u8, out, '=')) |i| {
            const rest = out[i + 1 ..];
            const end = std.mem.indexOfScalar(u8, rest, '\'') orelse rest.len;
            if (std.fmt.parseFloat(f64, rest[0..end])) |v| try list.append(.{ .name = "vcgencmd", .celsius = v }) else |_| {}
        }
    }
}

fn readSmall(dir: std.fs.Dir, path: []const u8) ?[]const u8 {
    const S = struct {
        threadlocal var buf: [128]u8 = undefined;
    };
    const f = dir.openFile(path, .{}) catch return null;
    defer f.close();
    const n = f.readAll(&S.buf) catch return null;
    return std.mem.trim(u8, S.buf[0..n], " \n\t");
}

/// stdout of `vcgencmd ARG`, trimmed; null when the tool is absent or fails.
pub fn vcgencmd(alloc: std.mem.Allocator, arg: []const u8) ?[]u8 {
    const r = std.process.Child.run(.{ .allocator = alloc, .argv = &.{ "vcgencmd", arg }, .max_output_bytes = 4096 }) catch return null;
    defer alloc.free(r.stderr);
    if (r.term != .Exited or r.term.Exited != 0) {
        alloc.free(r.stdout);
        return null;
    }
    const t = std.mem.trim(u8, r.stdout, " \n");
    const out = alloc.dupe(u8, t) catch null;
    alloc.free(r.stdout);
    return out;
}

pub const Target = @import("kernels.zig").Target;

/// Copy bandwidth records and the thermal snapshot of one target.
pub fn snapshot(sink: *rec.Sink, alloc: std.mem.Allocator, t: Target, quick: bool) !void {
    const key = struct {
        fn k(s: *rec.Sink, tt: Target, what: []const u8) ![]const u8 {
            return s.fmt("health/{s}/{s}/{s}", .{ tt.backend, tt.profile, what });
        }
    }.k;
    const size: u64 = if (quick) 32 << 20 else 256 << 20;
    const reps: u32 = if (quick) 5 else 9;
    const shape = try sink.fmt("{d}MiB", .{size >> 20});
    if (t.ctx) |ctx| {
        const g = try gpuCopy(alloc, ctx, size, reps);
        try sink.emit(.{ .suite = "health", .kind = "copy", .op = "device_local", .shape = shape, .key = try key(sink, t, "copy_device_local"), .backend = t.backend, .device = t.device, .profile = t.profile, .value = g.device_local, .unit = "GB/s", .better = .higher, .spread = g.device_local_spread, .best = g.device_local_best, .note = "read+write traffic, GPU timestamps" });
        try sink.emit(.{ .suite = "health", .kind = "copy", .op = "host_to_device", .shape = shape, .key = try key(sink, t, "copy_host_to_device"), .backend = t.backend, .device = t.device, .profile = t.profile, .value = g.up, .unit = "GB/s", .better = .higher, .spread = g.up_spread, .best = g.up_best, .note = "bytes transferred, wall clock" });
        try sink.emit(.{ .suite = "health", .kind = "copy", .op = "device_to_host", .shape = shape, .key = try key(sink, t, "copy_device_to_host"), .backend = t.backend, .device = t.device, .profile = t.profile, .value = g.down, .unit = "GB/s", .better = .higher, .spread = g.down_spread, .best = g.down_best, .note = "bytes transferred, wall clock" });
    } else {
        const m = try cpuCopyGbps(alloc, @intCast(size), reps);
        try sink.emit(.{ .suite = "health", .kind = "copy", .op = "memcpy", .shape = shape, .key = try key(sink, t, "copy_memcpy"), .backend = t.backend, .device = t.device, .profile = t.profile, .value = m.gbps, .unit = "GB/s", .better = .higher, .spread = m.spread, .best = m.best, .note = "read+write traffic" });
    }
}

pub fn thermal(sink: *rec.Sink, alloc: std.mem.Allocator) !void {
    var temps = std.ArrayList(Temp).init(alloc);
    defer temps.deinit();
    try readTemps(sink, alloc, &temps);
    for (temps.items) |tp| try sink.emit(.{ .suite = "health", .kind = "thermal", .key = try sink.fmt("health/thermal/{s}", .{tp.name}), .op = tp.name, .value = tp.celsius, .unit = "C", .temp_c = tp.celsius });
    if (temps.items.len == 0) try sink.emit(.{ .suite = "health", .kind = "thermal", .key = "health/thermal/none", .value = std.math.nan(f64), .unit = "C", .note = "no /sys/class/thermal zones and no vcgencmd here" });
    if (vcgencmd(alloc, "get_throttled")) |out| {
        defer alloc.free(out);
        // "throttled=0x0": bit 0 under-voltage now, 1 frequency capped, 2 throttled, 3 soft temp limit; 16.. since boot.
        const hex = if (std.mem.indexOf(u8, out, "0x")) |i| out[i + 2 ..] else out;
        const v = std.fmt.parseInt(u32, hex, 16) catch 0;
        try sink.emit(.{ .suite = "health", .kind = "throttled", .key = "health/vcgencmd/get_throttled", .value = @floatFromInt(v), .unit = "flags", .note = try sink.dupe(out) });
    }
}

/// The same Q4_0 4096x4096 mat-vec (a 7B-class row block, ~9 MiB of weights) timed back to back
/// for `seconds`, one sample a second: median dispatch time and the hottest thermal zone.
pub fn sustain(sink: *rec.Sink, alloc: std.mem.Allocator, t: Target, seconds: f64, n_threads: u32) !void {
    const k: u64 = 4096;
    var g = try graph.Graph.init(alloc, .{ .max_tokens = 1 });
    defer g.deinit();
    const w = try g.weight("w", .q4_0, .{ k, k, 1, 1 }, null);
    {
        const bytes = try alloc.alloc(u8, @intCast(g.get(w).nBytes()));
        defer alloc.free(bytes);
        var prng = std.Random.DefaultPrng.init(7);
        const row = try alloc.alloc(f32, k);
        defer alloc.free(row);
        const rb: usize = @intCast(quant.GgmlType.q4_0.rowBytes(k).?);
        for (0..k) |r| {
            for (row) |*x| x.* = prng.random().float(f32) - 0.5;
            try quant.quantizeRow(.q4_0, row, bytes[r * rb ..][0..rb]);
        }
        try g.setWeightData(w, bytes, .copy);
    }
    const x = try g.input("x", .f32, k);
    const y = try g.mulMat(w, x);
    try g.markOutput(y);
    const ex = try exec.Exec.plan(alloc, &g, t.ctx, .{ .policy = if (t.ctx == null) .cpu else .auto, .n_threads = n_threads, .profile = true });
    defer ex.deinit();
    const xs = try alloc.alloc(f32, k);
    defer alloc.free(xs);
    for (xs, 0..) |*v, i| v.* = @as(f32, @floatFromInt(i % 13)) / 13.0;
    try ex.setInput(x, std.mem.sliceAsBytes(xs));
    try ex.compute(.{});
    var temps = std.ArrayList(Temp).init(alloc);
    defer temps.deinit();
    var window = std.ArrayList(f64).init(alloc);
    defer window.deinit();
    var all = std.ArrayList(f64).init(alloc);
    defer all.deinit();
    const shape = "4096x4096x1";
    var total = try std.time.Timer.start();
    var win = try std.time.Timer.start();
    var first: ?f64 = null;
    var last: f64 = 0;
    var max_temp: f64 = -1000;
    var n_samples: u32 = 0;
    while (true) {
        try ex.compute(.{});
        var ns: u64 = 0;
        for (ex.profile()) |p| if (p.id == y) {
            ns = p.ns;
        };
        try window.append(@as(f64, @floatFromInt(ns)) / 1e3);
        const elapsed_s = @as(f64, @floatFromInt(total.read())) / 1e9;
        if (win.read() >= std.time.ns_per_s or elapsed_s >= seconds) {
            const s = rec.stats(window.items);
            try readTemps(sink, alloc, &temps);
            var hot: ?f64 = null;
            for (temps.items) |tp| hot = @max(hot orelse tp.celsius, tp.celsius);
            if (hot) |h| max_temp = @max(max_temp, h);
            try sink.emit(.{ .suite = "health", .kind = "sustain_sample", .key = try sink.fmt("health/{s}/{s}/sustain_sample/{d}", .{ t.backend, t.profile, n_samples }), .backend = t.backend, .device = t.device, .profile = t.profile, .op = "mul_mat_vec", .type = "q4_0", .shape = shape, .t_s = elapsed_s, .value = s.median, .unit = "us", .reps = @intCast(window.items.len), .temp_c = hot });
            try all.append(s.median);
            if (first == null) first = s.median;
            last = s.median;
            n_samples += 1;
            window.clearRetainingCapacity();
            win.reset();
            if (elapsed_s >= seconds) break;
        }
    }
    // Slowdown of the last second against the first: ~1.0 on a board that holds its clock.
    try sink.emit(.{ .suite = "health", .kind = "sustain", .key = try sink.fmt("health/{s}/{s}/sustain_last_over_first", .{ t.backend, t.profile }), .backend = t.backend, .device = t.device, .profile = t.profile, .op = "mul_mat_vec", .type = "q4_0", .shape = shape, .t_s = seconds, .value = last / first.?, .unit = "x", .reps = n_samples, .temp_c = if (max_temp > -1000) max_temp else null, .note = "last-second median dispatch time / first-second" });
}
