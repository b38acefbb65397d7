//! Differential execution: the same graph planned twice, once with the caller's placement (the
//! GPU) and once entirely on the CPU, stepped with the same inputs; after each step every node's
//! value is read from both and compared, and the first node in build order whose normalized error
//! passes its op's bound is named. Because nodes run in build order, the first one out of bounds
//! is where a wrong kernel shows up; everything after it only inherits the difference.
//!
//!   try diff.markAll(&g);                       // before planning: every node stays readable
//!   var d = try Diff.init(alloc, &g, gpu_exec, .{});
//!   ... gpu_exec.setInput / d.setInput, gpu_exec.compute(step), d.compute(step)
//!   if (try d.check()) |m| log(d.describe(m))
//!
//! It uses only the executor's public API (plan, setInput, compute, readOutput, writeState).
//! Costs: every node is an output, so nothing is reused by the allocator, and every node is read
//! back after each step: a debugging mode (`pi5_llm_rt --diff`), not a way to run.
const std = @import("std");
const graph = @import("graph.zig");
const exec = @import("exec.zig");

const Graph = graph.Graph;
const Id = graph.Id;
const Op = graph.Op;

/// Whether node `t` is computed by a kernel (and so compared).
fn computes(t: *const graph.Tensor) bool {
    return t.op != .none and t.op != .view;
}

/// Marks every computed node as an output (kept alive to the end of the step, readable).
pub fn markAll(g: *Graph) graph.Error!void {
    for (g.tensors.items, 0..) |*t, i| if (computes(t)) try g.markOutput(@intCast(i));
}

/// Largest normalized error Σ(gpu−cpu)² / Σcpu² a node of `op` may show. The CPU quantizes the
/// activations of quantized mat-muls to Q8 and the GPU keeps them f32, and every node inherits
/// its inputs' difference (a KV store copies the projection's), so the bounds are far above f32
/// rounding yet below what a wrong kernel gives: measured on lavapipe (core/model/tests.zig,
/// "[diff]" lines) ≤ 1e-8 with F32/F16 weights, ≤ 1.3e-3 with Q4_K; a 10% error in one node is 1e-2.
pub fn bound(op: Op) f64 {
    return switch (op) {
        // Integer position ids are compared exactly (compare() of i32).
        .none, .view, .positions => 0,
        .get_rows, .last_row, .cpy, .kv_store, .add, .mul, .scale, .silu, .gelu, .swiglu => 2e-3,
        .mul_mat, .rms_norm, .layer_norm, .softmax, .rope, .attention => 2e-3,
    };
}

pub const Mismatch = struct {
    id: Id,
    op: Op,
    layer: ?u32,
    /// Σ(gpu−cpu)² / Σcpu² over the node's values of the step (inf on a NaN on one side only).
    nmse: f64,
    bound: f64,
    max_abs: f64,
    /// Steps checked before this one.
    step: u64,
};

pub const Options = struct {
    /// CPU threads of the reference executor; 0 = every core.
    n_threads: u32 = 0,
    /// Token buckets, as the checked executor's.
    token_buckets: []const u32 = &.{},
};

pub const Diff = struct {
    alloc: std.mem.Allocator,
    g: *const Graph,
    checked: *exec.Exec,
    ref: *exec.Exec,
    a: []u8,
    b: []u8,
    steps: u64 = 0,
    /// The first mismatch seen (later steps keep it).
    first: ?Mismatch = null,
    /// Largest nmse seen per op over all steps (for bounds and reports).
    worst: [@typeInfo(Op).@"enum".fields.len]f64 = @splat(0),

    /// Plans the CPU reference of `g` (which must have every node marked, markAll) beside
    /// `checked`, the executor under test (not owned).
    pub fn init(alloc: std.mem.Allocator, g: *const Graph, checked: *exec.Exec, opts: Options) !Diff {
        const ref = try exec.Exec.plan(alloc, g, null, .{ .policy = .cpu, .n_threads = opts.n_threads, .token_buckets = opts.token_buckets });
        errdefer ref.deinit();
        var max: u64 = 0;
        for (g.tensors.items) |t| if (computes(&t)) {
            if (!t.output) return error.InvalidArgument; // markAll first
            max = @max(max, t.nBytes());
        };
        const a = try alloc.alloc(u8, @intCast(max));
        errdefer alloc.free(a);
        return .{ .alloc = alloc, .g = g, .checked = checked, .ref = ref, .a = a, .b = try alloc.alloc(u8, @intCast(max)) };
    }

    pub fn deinit(self: *Diff) void {
        self.alloc.free(self.a);
        self.alloc.free(self.b);
        self.ref.deinit();
    }

    /// The reference's copy of an input (the caller sets the checked executor's).
    pub fn setInput(self: *Diff, id: Id, data: []const u8) exec.Error!void {
        try self.ref.setInput(id, data);
    }

    /// The reference's copy of a state (restoring a KV cache).
    pub fn writeState(self: *Diff, id: Id, data: []const u8) exec.Error!void {
        try self.ref.writeState(id, data);
    }

    /// The reference's step (the caller runs the checked executor's).
    pub fn compute(self: *Diff, step: exec.Step) exec.Error!void {
        try self.ref.compute(step);
    }

    /// Compares every computed node of the last step in build order; the first out of bounds, or
    /// null. Also remembered in `first` (the earliest over all steps).
    pub fn check(self: *Diff) exec.Error!?Mismatch {
        defer self.steps += 1;
        for (self.g.tensors.items, 0..) |*t, i| {
            if (!computes(t)) continue;
            const id: Id = @intCast(i);
            const n = try self.ref.readOutput(id, self.a);
            if (try self.checked.readOutput(id, self.b) != n) return error.BadShape;
            const e = compare(t.type, self.a[0..n], self.b[0..n]);
            const w = &self.worst[@intFromEnum(t.op)];
            if (!std.math.isNan(e.nmse)) w.* = @max(w.*, e.nmse);
            const bnd = bound(t.op);
            if (!(e.nmse <= bnd)) {
                const m = Mismatch{ .id = id, .op = t.op, .layer = t.layer, .nmse = e.nmse, .bound = bnd, .max_abs = e.max_abs, .step = self.steps };
                if (self.first == null) self.first = m;
                return m;
            }
        }
        return null;
    }

    /// "node 12 mul_mat (layer 0) of attn_q.weight, #11 rms_norm at step 0: nmse 1.00e-2 > 2e-3 (max |d| 1.49e0), on the gpu".
    pub fn describe(self: *const Diff, m: Mismatch, out: anytype) !void {
        try out.print("node {d} {s}", .{ m.id, @tagName(m.op) });
        if (m.layer) |l| try out.print(" (layer {d})", .{l});
        const t = self.g.get(m.id);
        var first = true;
        for (t.src) |s| if (s) |sid| {
            const r = self.g.get(self.g.root(sid).id);
            try out.writeAll(if (first) " of " else ", ");
            first = false;
            if (r.name.len > 0) try out.writeAll(r.name) else try out.print("#{d} {s}", .{ sid, @tagName(self.g.get(sid).op) });
        };
        try out.print(" at step {d}: nmse {e:.2} > {e:.0} (max |d| {e:.2}), on the {s}", .{ m.step, m.nmse, m.bound, m.max_abs, @tagName(self.checked.placement(m.id)) });
    }
};

const Err = struct { nmse: f64, max_abs: f64 };

fn compare(ty: graph.GgmlType, ref: []const u8, got: []const u8) Err {
    var num: f64 = 0;
    var den: f64 = 0;
    var max_abs: f64 = 0;
    const n: usize = switch (ty) {
        .f32 => ref.len / 4,
        .f16 => ref.len / 2,
        // i32 positions and anything else: equal bytes or not.
        else => return if (std.mem.eql(u8, ref, got)) .{ .nmse = 0, .max_abs = 0 } else .{ .nmse = std.math.inf(f64), .max_abs = std.math.inf(f64) },
    };
    for (0..n) |i| {
        const x, const y = switch (ty) {
            .f32 => .{ @as(f64, @as(f32, @bitCast(std.mem.readInt(u32, ref[i * 4 ..][0..4], .little)))), @as(f64, @as(f32, @bitCast(std.mem.readInt(u32, got[i * 4 ..][0..4], .little)))) },
            else => .{ @as(f64, @as(f16, @bitCast(std.mem.readInt(u16, ref[i * 2 ..][0..2], .little)))), @as(f64, @as(f16, @bitCast(std.mem.readInt(u16, got[i * 2 ..][0..2], .little)))) },
        };
        if (std.math.isNan(x) != std.math.isNan(y) or std.math.isInf(x) != std.math.isInf(y)) return .{ .nmse = std.math.inf(f64), .max_abs = std.math.inf(f64) };
        if (std.math.isNan(x) or std.math.isInf(x)) continue;
        const d = x - y;
        num += d * d;
        den += x * x;
        max_abs = @max(max_abs, @abs(d));
    }
    return .{ .nmse = if (den > 0) num / den else if (num > 0) std.math.inf(f64) else 0, .max_abs = max_abs };
}

test "compare: equal, scaled, NaN on one side" {
    const a = [_]f32{ 1, -2, 3, 0.5 };
    var b = a;
    try std.testing.expectEqual(@as(f64, 0), compare(.f32, std.mem.sliceAsBytes(&a), std.mem.sliceAsBytes(&b)).nmse);
    for (&b) |*x| x.* *= 1.1;
    try std.testing.expectApproxEqRel(@as(f64, 0.01), compare(.f32, std.mem.sliceAsBytes(&a), std.mem.sliceAsBytes(&b)).nmse, 1e-4);
    b[2] = std.math.nan(f32);
    try std.testing.expect(std.math.isInf(compare(.f32, std.mem.sliceAsBytes(&a), std.mem.sliceAsBytes(&b)).nmse));
}
