//! The graph part of the C ABI (include/pi5_llm_rt.h, "Graphs" section): build a graph on a
//! runtime, plan it on first use, run steps, read outputs, get the profile. Thin wrappers over
//! core/graph/graph.zig and exec.zig; every error becomes a pi5_status.
const std = @import("std");
const abi = @import("abi.zig");
const pi5 = @import("root.zig");
const graph = pi5.graph;
const gexec = pi5.graph_exec;
const Runtime = pi5.runtime.Runtime;
const Status = abi.Status;

const gpa = std.heap.c_allocator;

pub const PolicyC = enum(c_int) { auto = 0, cpu = 1, gpu_layers = 2, gpu_budget = 3 };

pub const GraphOptionsC = extern struct {
    struct_size: u32,
    /// A PolicyC value.
    policy: i32,
    n_gpu_layers: u32,
    max_tokens: u32,
    gpu_budget_bytes: u64,
    profile: i32,
    reserved: i32 = 0,
};

/// pi5_graph_op values (the header's enum), generated from the op table (core/graph/op.zig);
/// params per op are documented in the header.
pub const OpC = graph.op_table.AbiOp;

const GraphC = struct {
    rt: *Runtime,
    g: graph.Graph,
    ex: ?*gexec.Exec = null,
    opts: GraphOptionsC,
};

fn st(s: Status) c_int {
    return @intFromEnum(s);
}

fn fail(rt: *Runtime, err: abi.Error) c_int {
    const s = abi.statusOf(err);
    if (rt.last_error_len == 0) {
        switch (err) {
            error.BadShape => rt.setError("graph: tensor shapes or types do not fit the op", .{}),
            error.InvalidArgument => rt.setError("graph: invalid handle, parameter, or the graph is already planned", .{}),
            else => rt.setError("graph: {s}", .{pi5.runtime.describe(err)}),
        }
    }
    return st(s);
}

fn cast(g: ?*anyopaque) ?*GraphC {
    return @ptrCast(@alignCast(g orelse return null));
}

pub export fn pi5_graph_default_options() callconv(.c) GraphOptionsC {
    return .{ .struct_size = @sizeOf(GraphOptionsC), .policy = 0, .n_gpu_layers = 0, .max_tokens = 1, .gpu_budget_bytes = 0, .profile = 0 };
}

pub export fn pi5_graph_create(rt: ?*Runtime, options: ?*const GraphOptionsC, out_graph: ?*?*anyopaque) callconv(.c) c_int {
    const out = out_graph orelse return st(.invalid_argument);
    out.* = null;
    const r = rt orelse return st(.invalid_argument);
    r.last_error_len = 0;
    const defaults = pi5_graph_default_options();
    const o = options orelse &defaults;
    if (o.struct_size != @sizeOf(GraphOptionsC) or std.meta.intToEnum(PolicyC, o.policy) == error.InvalidEnumTag or o.max_tokens == 0) return fail(r, error.InvalidArgument);
    const gc = gpa.create(GraphC) catch |e| return fail(r, e);
    gc.* = .{ .rt = r, .g = graph.Graph.init(gpa, .{ .max_tokens = o.max_tokens }) catch |e| {
        gpa.destroy(gc);
        return fail(r, e);
    }, .opts = o.* };
    out.* = gc;
    return st(.ok);
}

pub export fn pi5_graph_destroy(g: ?*anyopaque) callconv(.c) void {
    const gc = cast(g) orelse return;
    if (gc.ex) |ex| ex.deinit();
    gc.g.deinit();
    gpa.destroy(gc);
}

/// Common prologue of builder calls: the graph exists and is not planned yet.
fn building(g: ?*anyopaque, out_id: ?*i32) ?*GraphC {
    if (out_id) |o| o.* = -1;
    const gc = cast(g) orelse return null;
    gc.rt.last_error_len = 0;
    return gc;
}

fn idOf(gc: *GraphC, v: i32) !graph.Id {
    if (v < 0 or v >= gc.g.len()) return error.InvalidArgument;
    return @intCast(v);
}

fn finish(gc: *GraphC, r: abi.Error!graph.Id, out_id: ?*i32) c_int {
    const id = r catch |e| return fail(gc.rt, e);
    if (out_id) |o| o.* = @intCast(id);
    return st(.ok);
}

fn typeOf(t: i32) !graph.GgmlType {
    const ty: graph.GgmlType = @enumFromInt(@as(u32, @bitCast(t)));
    if (ty.traits() == null) return error.InvalidArgument;
    return ty;
}

fn nameOf(name: ?[*:0]const u8) []const u8 {
    return if (name) |n| std.mem.span(n) else "";
}

pub export fn pi5_graph_input(g: ?*anyopaque, name: ?[*:0]const u8, ggml_type: i32, row_len: u64, out_id: ?*i32) callconv(.c) c_int {
    const gc = building(g, out_id) orelse return st(.invalid_argument);
    if (gc.ex != null) return fail(gc.rt, error.InvalidArgument);
    const ty = typeOf(ggml_type) catch |e| return fail(gc.rt, e);
    return finish(gc, gc.g.input(nameOf(name), ty, row_len), out_id);
}

pub export fn pi5_graph_weight(g: ?*anyopaque, name: ?[*:0]const u8, ggml_type: i32, ne: ?*const [4]u64, data: ?*const anyopaque, size: usize, out_id: ?*i32) callconv(.c) c_int {
    const gc = building(g, out_id) orelse return st(.invalid_argument);
    if (gc.ex != null or ne == null or data == null) return fail(gc.rt, error.InvalidArgument);
    const ty = typeOf(ggml_type) catch |e| return fail(gc.rt, e);
    const id = gc.g.weight(nameOf(name), ty, ne.?.*, null) catch |e| return fail(gc.rt, e);
    const bytes = @as([*]const u8, @ptrCast(data.?))[0..size];
    gc.g.setWeightData(id, bytes, .copy) catch |e| return fail(gc.rt, e);
    if (out_id) |o| o.* = @intCast(id);
    return st(.ok);
}

pub export fn pi5_graph_state(g: ?*anyopaque, name: ?[*:0]const u8, ggml_type: i32, ne: ?*const [4]u64, out_id: ?*i32) callconv(.c) c_int {
    const gc = building(g, out_id) orelse return st(.invalid_argument);
    if (gc.ex != null or ne == null) return fail(gc.rt, error.InvalidArgument);
    const ty = typeOf(ggml_type) catch |e| return fail(gc.rt, e);
    return finish(gc, gc.g.state(nameOf(name), ty, ne.?.*), out_id);
}

pub export fn pi5_graph_op(g: ?*anyopaque, op: c_int, src: ?*const [3]i32, params: ?*const [4]f32, out_id: ?*i32) callconv(.c) c_int {
    const gc = building(g, out_id) orelse return st(.invalid_argument);
    if (gc.ex != null) return fail(gc.rt, error.InvalidArgument);
    const o = std.meta.intToEnum(OpC, op) catch return fail(gc.rt, error.InvalidArgument);
    const zero = [3]i32{ -1, -1, -1 };
    const s = if (src) |p| p.* else zero;
    const p = if (params) |pp| pp.* else [4]f32{ 0, 0, 0, 0 };
    return finish(gc, buildOp(gc, o, s, p), out_id);
}

fn buildOp(gc: *GraphC, o: OpC, s: [3]i32, p: [4]f32) !graph.Id {
    const g = &gc.g;
    const a = if (o == .positions) 0 else try idOf(gc, s[0]);
    const opt = struct {
        fn get(c: *GraphC, v: i32) !?graph.Id {
            return if (v < 0) null else try idOf(c, v);
        }
    }.get;
    return switch (o) {
        .get_rows => g.getRows(a, try idOf(gc, s[1])),
        .mul_mat => g.mulMat(a, try idOf(gc, s[1])),
        .rms_norm => g.rmsNorm(a, p[0]),
        .layer_norm => g.layerNorm(a, try opt(gc, s[1]), try opt(gc, s[2]), p[0]),
        .add => g.add(a, try idOf(gc, s[1])),
        .mul => g.mul(a, try idOf(gc, s[1])),
        .scale => g.scale(a, p[0]),
        .silu => g.silu(a),
        .gelu => g.gelu(a),
        .swiglu => g.swiglu(a, try idOf(gc, s[1])),
        .softmax => g.softmax(a, .{ .scale = p[0], .causal = p[1] != 0 }),
        .rope => g.rope(a, .{
            .n_rot = std.math.lossyCast(u32, p[0]),
            .mode = if (p[1] == 2) .neox else if (p[1] == 0) .normal else return error.InvalidArgument,
            .freq_base = p[2],
            .freq_scale = p[3],
        }),
        .kv_store => g.kvStore(a, try idOf(gc, s[1])),
        .attention => g.attention(a, try idOf(gc, s[1]), try idOf(gc, s[2]), .{
            .n_head_kv = std.math.lossyCast(u32, p[0]),
            .scale = if (p[1] == 0) null else p[1],
        }),
        .cpy => g.cpy(a, try typeOf(std.math.lossyCast(i32, p[0]))),
        .last_row => g.lastRow(a),
        .positions => g.positions(),
    };
}

pub export fn pi5_graph_view(g: ?*anyopaque, src: i32, ne: ?*const [4]u64, offset: u64, out_id: ?*i32) callconv(.c) c_int {
    const gc = building(g, out_id) orelse return st(.invalid_argument);
    if (gc.ex != null or ne == null) return fail(gc.rt, error.InvalidArgument);
    const id = idOf(gc, src) catch |e| return fail(gc.rt, e);
    const t = gc.g.get(id);
    const r = if (t.tok != null or (offset == 0 and t.nElements() == ne.?[0] * ne.?[1] * ne.?[2] * ne.?[3]))
        (if (offset != 0) error.BadShape else gc.g.reshape(id, ne.?.*))
    else
        gc.g.slice(id, ne.?.*, offset);
    return finish(gc, r, out_id);
}

pub export fn pi5_graph_set_layer(g: ?*anyopaque, layer: i32) callconv(.c) c_int {
    const gc = building(g, null) orelse return st(.invalid_argument);
    gc.g.setLayer(if (layer < 0) null else @intCast(layer));
    return st(.ok);
}

pub export fn pi5_graph_mark_output(g: ?*anyopaque, id: i32) callconv(.c) c_int {
    const gc = building(g, null) orelse return st(.invalid_argument);
    if (gc.ex != null) return fail(gc.rt, error.InvalidArgument);
    const t = idOf(gc, id) catch |e| return fail(gc.rt, e);
    gc.g.markOutput(t) catch |e| return fail(gc.rt, e);
    return st(.ok);
}

fn planned(gc: *GraphC) !*gexec.Exec {
    if (gc.ex) |ex| return ex;
    const o = gc.opts;
    // pi5_graph_create checked the value.
    const policy: gexec.Policy = switch (std.meta.intToEnum(PolicyC, o.policy) catch .auto) {
        .auto => .auto,
        .cpu => .cpu,
        .gpu_layers => .{ .gpu_layers = o.n_gpu_layers },
        .gpu_budget => .{ .gpu_budget = o.gpu_budget_bytes },
    };
    gc.ex = try gexec.Exec.plan(gpa, &gc.g, gc.rt.gpu, .{ .policy = policy, .profile = o.profile != 0, .n_threads = gc.rt.n_threads });
    return gc.ex.?;
}

pub export fn pi5_graph_plan(g: ?*anyopaque) callconv(.c) c_int {
    const gc = building(g, null) orelse return st(.invalid_argument);
    _ = planned(gc) catch |e| return fail(gc.rt, e);
    return st(.ok);
}

pub export fn pi5_graph_set_input(g: ?*anyopaque, id: i32, data: ?*const anyopaque, size: usize) callconv(.c) c_int {
    const gc = building(g, null) orelse return st(.invalid_argument);
    if (data == null and size > 0) return fail(gc.rt, error.InvalidArgument);
    const t = idOf(gc, id) catch |e| return fail(gc.rt, e);
    const ex = planned(gc) catch |e| return fail(gc.rt, e);
    const bytes: []const u8 = if (size == 0) &.{} else @as([*]const u8, @ptrCast(data.?))[0..size];
    ex.setInput(t, bytes) catch |e| return fail(gc.rt, e);
    return st(.ok);
}

pub export fn pi5_graph_compute(g: ?*anyopaque, pos: u32, n_tokens: u32) callconv(.c) c_int {
    const gc = building(g, null) orelse return st(.invalid_argument);
    const ex = planned(gc) catch |e| return fail(gc.rt, e);
    ex.compute(.{ .pos = pos, .n_tokens = n_tokens }) catch |e| return fail(gc.rt, e);
    return st(.ok);
}

pub export fn pi5_graph_read(g: ?*anyopaque, id: i32, out: ?*anyopaque, out_size: usize, out_len: ?*usize) callconv(.c) c_int {
    if (out_len) |l| l.* = 0;
    const gc = building(g, null) orelse return st(.invalid_argument);
    const t = idOf(gc, id) catch |e| return fail(gc.rt, e);
    const ex = gc.ex orelse return fail(gc.rt, error.InvalidArgument);
    const tt = gc.g.get(t);
    const need: usize = @intCast(if (tt.tok != null) tt.type.rowBytes(tt.perToken()).? * ex.last_step.n_tokens else tt.nBytes());
    if (out_len) |l| l.* = need;
    if (out_size < need) return st(.buffer_too_small);
    const o = out orelse return fail(gc.rt, error.InvalidArgument);
    _ = ex.readOutput(t, @as([*]u8, @ptrCast(o))[0..out_size]) catch |e| {
        if (out_len) |l| l.* = 0;
        return fail(gc.rt, e);
    };
    return st(.ok);
}

pub export fn pi5_graph_profile_json(g: ?*anyopaque, buf: ?[*]u8, buf_size: usize, out_len: ?*usize) callconv(.c) c_int {
    if (out_len) |l| l.* = 0;
    const gc = building(g, null) orelse return st(.invalid_argument);
    const ex = gc.ex orelse return fail(gc.rt, error.InvalidArgument);
    const json = ex.profileJson(gpa) catch |e| return fail(gc.rt, e);
    defer gpa.free(json);
    return st(abi.writeOut(json, buf, buf_size, out_len));
}

test "C ABI: build, run and read a graph; errors are statuses" {
    const rt = try Runtime.create(std.testing.allocator, .{ .backend = .cpu, .n_threads = 1 });
    defer rt.destroy();
    var opts = pi5_graph_default_options();
    opts.max_tokens = 2;
    opts.profile = 1;
    var g: ?*anyopaque = null;
    try std.testing.expectEqual(@as(c_int, 0), pi5_graph_create(rt, &opts, &g));
    defer pi5_graph_destroy(g);
    var x: i32 = -1;
    try std.testing.expectEqual(@as(c_int, 0), pi5_graph_input(g, "x", 0, 4, &x));
    const w = [_]f32{ 1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 3, 0 };
    var wid: i32 = -1;
    try std.testing.expectEqual(@as(c_int, 0), pi5_graph_weight(g, "w", 0, &.{ 4, 3, 1, 1 }, &w, @sizeOf(@TypeOf(w)), &wid));
    var y: i32 = -1;
    try std.testing.expectEqual(@as(c_int, 0), pi5_graph_op(g, @intFromEnum(OpC.mul_mat), &.{ wid, x, -1 }, null, &y));
    var z: i32 = -1;
    try std.testing.expectEqual(@as(c_int, 0), pi5_graph_op(g, @intFromEnum(OpC.scale), &.{ y, -1, -1 }, &.{ 0.5, 0, 0, 0 }, &z));
    // Bad: shapes that do not fit, unknown op, bad handle.
    var bad: i32 = 0;
    try std.testing.expectEqual(@as(c_int, -1), pi5_graph_op(g, @intFromEnum(OpC.mul_mat), &.{ wid, z, -1 }, null, &bad));
    try std.testing.expectEqual(@as(i32, -1), bad);
    try std.testing.expectEqual(@as(c_int, -1), pi5_graph_op(g, 99, null, null, &bad));
    try std.testing.expectEqual(@as(c_int, -1), pi5_graph_op(g, @intFromEnum(OpC.silu), &.{ 1234, -1, -1 }, null, &bad));
    try std.testing.expectEqual(@as(c_int, 0), pi5_graph_mark_output(g, z));
    const in = [_]f32{ 1, 1, 1, 1, 2, 2, 2, 2 };
    try std.testing.expectEqual(@as(c_int, 0), pi5_graph_set_input(g, x, &in, @sizeOf(@TypeOf(in))));
    try std.testing.expectEqual(@as(c_int, 0), pi5_graph_compute(g, 0, 2));
    var out: [6]f32 = undefined;
    var n: usize = 0;
    try std.testing.expectEqual(@as(c_int, -3), pi5_graph_read(g, z, &out, 4, &n));
    try std.testing.expectEqual(@as(usize, 24), n);
    try std.testing.expectEqual(@as(c_int, 0), pi5_graph_read(g, z, &out, @sizeOf(@TypeOf(out)), &n));
    try std.testing.expectEqualSlices(f32, &.{ 0.5, 1, 1.5, 1, 2, 3 }, &out);
    // Planned: the graph is frozen.
    try std.testing.expectEqual(@as(c_int, -1), pi5_graph_op(g, @intFromEnum(OpC.silu), &.{ z, -1, -1 }, null, &bad));
    var need: usize = 0;
    try std.testing.expectEqual(@as(c_int, -3), pi5_graph_profile_json(g, null, 0, &need));
    const buf = try std.testing.allocator.alloc(u8, need + 1);
    defer std.testing.allocator.free(buf);
    try std.testing.expectEqual(@as(c_int, 0), pi5_graph_profile_json(g, buf.ptr, buf.len, &need));
    try std.testing.expect(std.mem.indexOf(u8, buf, "\"mul_mat\"") != null);
    pi5_graph_destroy(null);
    try std.testing.expectEqual(@as(c_int, -1), pi5_graph_create(null, null, &g_dummy));
}

var g_dummy: ?*anyopaque = null;
