//! The Markdown summary of one run: a table per suite from the run's records.
const std = @import("std");
const rec = @import("record.zig");

pub const Header = struct {
    date: []const u8,
    machine: []const u8,
    cpu: []const u8,
    arch: []const u8,
    commit: []const u8,
    profile: []const u8,
    devices: []const []const u8,
    quick: bool,
    llama_bench: bool,
};

fn is(r: rec.Record, suite: []const u8) bool {
    return std.mem.eql(u8, r.suite, suite);
}

fn kindIs(r: rec.Record, kind: []const u8) bool {
    return r.kind != null and std.mem.eql(u8, r.kind.?, kind);
}

fn num(w: anytype, v: ?f64, comptime prec: []const u8) !void {
    if (v) |x| {
        if (std.math.isFinite(x)) return w.print("{d:" ++ prec ++ "}", .{x});
    }
    try w.writeAll("–");
}

pub fn write(w: anytype, h: Header, records: []const rec.Record) !void {
    try w.print("# Benchmark run {s} on {s}\n\n", .{ h.date, h.machine });
    try w.print("- commit `{s}`, {s} ({s}), limits profile `{s}`{s}\n", .{ h.commit, h.cpu, h.arch, h.profile, if (h.quick) ", quick sweep" else "" });
    for (h.devices) |d| try w.print("- device: {s}\n", .{d});
    try w.writeAll("- kernels: time per dispatch from the executor's per-node profile (GPU timestamps / CPU timer), median of the repetitions; " ++
        "GB/s = bytes the op reads and writes once / time; % copy = that over the backend's measured copy traffic.\n");
    try w.print("- models: llama-bench's method (pp P = P-token prompt on top of d tokens, tg N = N greedy tokens on top of d), median; {s}\n\n", .{if (h.llama_bench) "llama.cpp's llama-bench measured in the same run" else "no llama-bench in this run (no ratios)"});

    var any = false;
    for (records) |r| if (is(r, "health") and kindIs(r, "copy")) {
        if (!any) try w.writeAll("## Memory bandwidth\n\n| backend | copy | size | GB/s | ± (MAD) | note |\n|---|---|---|---|---|---|\n");
        any = true;
        try w.print("| {s} | {s} | {s} | ", .{ r.backend orelse "", r.op orelse "", r.shape orelse "" });
        try num(w, r.value, ".2");
        try w.writeAll(" | ");
        try num(w, if (r.spread) |s| s * 100 else null, ".1");
        try w.print("% | {s} |\n", .{r.note orelse ""});
    };
    if (any) try w.writeAll("\n");

    any = false;
    for (records) |r| if (is(r, "health") and kindIs(r, "sustain")) {
        if (!any) try w.writeAll("## Sustained clock\n\n| backend | kernel | seconds | samples | last / first second | hottest zone °C |\n|---|---|---|---|---|---|\n");
        any = true;
        try w.print("| {s} | {s} {s} {s} | ", .{ r.backend orelse "", r.op orelse "", r.type orelse "", r.shape orelse "" });
        try num(w, r.t_s, ".0");
        try w.print(" | {d} | ", .{r.reps orelse 0});
        try num(w, r.value, ".3");
        try w.writeAll(" | ");
        try num(w, r.temp_c, ".1");
        try w.writeAll(" |\n");
    };
    if (any) try w.writeAll("\n");

    any = false;
    for (records) |r| if (is(r, "health") and (kindIs(r, "thermal") or kindIs(r, "throttled"))) {
        if (!any) try w.writeAll("## Thermal\n\n| sensor | value |\n|---|---|\n");
        any = true;
        try w.print("| {s} | ", .{r.op orelse r.key});
        if (r.note) |n| try w.writeAll(n) else {
            try num(w, r.value, ".1");
            try w.print(" {s}", .{r.unit});
        }
        try w.writeAll(" |\n");
    };
    if (any) try w.writeAll("\n");

    any = false;
    for (records) |r| if (is(r, "models")) {
        if (!any) try w.writeAll("## Models (tokens/s)\n\n| model | backend | test | ours | ± (MAD) | llama.cpp | ratio |\n|---|---|---|---|---|---|---|\n");
        any = true;
        try w.print("| {s} | {s} | {s} | ", .{ r.model orelse "", r.backend orelse "", r.test_ orelse "" });
        try num(w, r.value, ".1");
        try w.writeAll(" | ");
        try num(w, if (r.spread) |s| s * 100 else null, ".1");
        try w.writeAll("% | ");
        try num(w, r.llamacpp, ".1");
        try w.writeAll(" | ");
        try num(w, r.ratio, ".3");
        try w.writeAll(" |\n");
    };
    if (any) try w.writeAll("\n");

    var backend: []const u8 = "";
    for (records) |r| if (is(r, "kernels")) {
        const b = r.backend orelse "";
        if (!std.mem.eql(u8, b, backend)) {
            if (backend.len > 0) try w.writeAll("\n");
            backend = b;
            try w.print("## Kernels: {s} ({s})\n\n| op | type | shape (K x N x tokens) | µs | ± (MAD) | GFLOPS | GB/s | % copy | output finite |\n|---|---|---|---|---|---|---|---|---|\n", .{ b, r.device orelse "" });
        }
        try w.print("| {s} | {s} | {s} | ", .{ r.op orelse "", r.type orelse "", r.shape orelse "" });
        if (r.note) |n| {
            try w.print("{s} | | | | | |\n", .{n});
            continue;
        }
        try num(w, r.value, ".1");
        try w.writeAll(" | ");
        try num(w, if (r.spread) |s| s * 100 else null, ".1");
        try w.writeAll("% | ");
        try num(w, r.gflops, ".2");
        try w.writeAll(" | ");
        try num(w, r.gbps, ".2");
        try w.writeAll(" | ");
        try num(w, if (r.bw_frac) |f| f * 100 else null, ".1");
        try w.print("% | {s} |\n", .{if (r.finite orelse false) "yes" else "**NO**"});
    };
    if (backend.len > 0) try w.writeAll("\n");
}
