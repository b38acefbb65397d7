//! Model tests: stories260K against llama2.c's golden text, batch/step agreement, state files,
//! bad files, synthetic phi2/gpt2. Fixtures via PI5_MODELS_DIR or $PI5_TEST_ROOT/../shared/models.
const std = @import("std");
const testing = std.testing;
const reader = @import("../gguf/reader.zig");
const synth = @import("../gguf/synth.zig");
const model_mod = @import("model.zig");
const gen = @import("generate.zig");
const Model = model_mod.Model;

/// The text of the golden section whose header line contains `flags`.
pub fn goldenSection(alloc: std.mem.Allocator, flags: []const u8) ![]u8 {
    const path = try reader.fixturePath(alloc, "golden/stories260K-llama2c-expected.txt");
    defer alloc.free(path);
    const all = try std.fs.cwd().readFileAlloc(alloc, path, 1 << 20);
    defer alloc.free(all);
    var it = std.mem.splitSequence(u8, all, "\n=== ");
    while (it.next()) |sec| {
        const nl = std.mem.indexOfScalar(u8, sec, '\n') orelse continue;
        if (std.mem.indexOf(u8, sec[0..nl], flags) == null) continue;
        const body = std.mem.trimRight(u8, sec[nl + 1 ..], "\n");
        return alloc.dupe(u8, body);
    }
    return reader.missingFixture(flags);
}

fn loadFixture(rel: []const u8, opts: model_mod.LoadOptions) !*Model {
    const path = try reader.fixturePath(testing.allocator, rel);
    defer testing.allocator.free(path);
    var diag = reader.Diagnostic{};
    return Model.load(testing.allocator, path, opts, &diag) catch |e| {
        std.debug.print("load {s}: {s}\n", .{ rel, diag.message() });
        return e;
    };
}

fn greedyText(m: *Model, n: u32) ![]u8 {
    var out = std.ArrayList(u8).init(testing.allocator);
    errdefer out.deinit();
    var res: gen.Result = undefined;
    try gen.generate(testing.allocator, m, "", .{ .max_tokens = n, .sampling = .{ .temperature = 0 } }, &out, &res);
    return out.toOwnedSlice();
}

test "stories260K at temperature 0 from BOS matches llama2.c byte for byte (F32 and F16 KV)" {
    const expected = try goldenSection(testing.allocator, "--temperature 0 --sequence_length 200 --worker_count 0");
    defer testing.allocator.free(expected);
    for ([_]model_mod.KvType{ .f32, .f16 }) |kv| {
        const m = try loadFixture("stories260K.gguf", .{ .kv_type = kv, .n_threads = 2 });
        defer m.destroy();
        // llama2.c's 200 steps are 200 forwards from BOS, each printing the token it predicts.
        const got = try greedyText(m, 200);
        defer testing.allocator.free(got);
        try testing.expectEqualStrings(expected, got);
    }
}

test "stories260K-q8_0.gguf is rejected with a message naming the tensor" {
    const path = try reader.fixturePath(testing.allocator, "stories260K-q8_0.gguf");
    defer testing.allocator.free(path);
    var diag = reader.Diagnostic{};
    try testing.expectError(error.InvalidGguf, Model.load(testing.allocator, path, .{}, &diag));
    try testing.expect(std.mem.indexOf(u8, diag.message(), "ffn_down") != null);
}

test "prompt in one batch and token by token give the same logits; state save/load round trip" {
    const m = try loadFixture("stories260K.gguf", .{ .kv_type = .f32, .n_threads = 2, .n_batch = 16 });
    defer m.destroy();
    const ids = try m.tok.tokenize(testing.allocator, "Once upon a time, there was a cat who liked to sing", .{});
    defer testing.allocator.free(ids);
    try m.eval(.{ .tokens = ids });
    const batched = try testing.allocator.dupe(f32, m.logits());
    defer testing.allocator.free(batched);
    m.clear();
    for (ids) |id| try m.eval(.{ .tokens = &.{id} });
    for (batched, m.logits()) |a, b| try testing.expectApproxEqAbs(a, b, 1e-4);

    var tmp = testing.tmpDir(.{});
    defer tmp.cleanup();
    const dir = try tmp.dir.realpathAlloc(testing.allocator, ".");
    defer testing.allocator.free(dir);
    const sp = try std.fs.path.join(testing.allocator, &.{ dir, "s.state" });
    defer testing.allocator.free(sp);
    try m.saveState(sp);
    try m.eval(.{ .tokens = &.{ids[0]} });
    const after = try testing.allocator.dupe(f32, m.logits());
    defer testing.allocator.free(after);
    m.clear();
    var diag = reader.Diagnostic{};
    try m.loadState(sp, &diag);
    try testing.expectEqual(@as(u32, @intCast(ids.len)), m.n_past);
    try testing.expectEqualSlices(u32, ids, m.tokens());
    try m.eval(.{ .tokens = &.{ids[0]} });
    try testing.expectEqualSlices(f32, after, m.logits());

    // damage is detected
    {
        const f = try std.fs.cwd().openFile(sp, .{ .mode = .read_write });
        defer f.close();
        try f.pwriteAll("X", 60);
    }
    try testing.expectError(error.InvalidGguf, m.loadState(sp, &diag));
    const too_many = try testing.allocator.alloc(u32, m.n_ctx - m.n_past + 1);
    defer testing.allocator.free(too_many);
    @memset(too_many, 1);
    const before = m.n_past;
    try testing.expectError(error.ContextFull, m.eval(.{ .tokens = too_many }));
    try testing.expectEqual(before, m.n_past);
    try testing.expectError(error.InvalidArgument, m.eval(.{ .tokens = &.{100000} }));
}

test "synthetic llama, phi2 and gpt2 load, run in batches and agree with step-by-step" {
    var tmp = testing.tmpDir(.{});
    defer tmp.cleanup();
    const dir = try tmp.dir.realpathAlloc(testing.allocator, ".");
    defer testing.allocator.free(dir);
    var vocab_file = reader.openFixture(testing.allocator, "stories260K.gguf", null) catch |e| return e;
    defer vocab_file.deinit();
    for (std.enums.values(synth.Arch)) |arch| {
        const path = try std.fmt.allocPrint(testing.allocator, "{s}/{s}.gguf", .{ dir, @tagName(arch) });
        defer testing.allocator.free(path);
        try synth.generateFile(testing.allocator, .{ .arch = arch, .n_head_kv = if (arch == .gpt2) 4 else 2, .n_ff = 128 }, .{ .vocab = &vocab_file }, path);
        var diag = reader.Diagnostic{};
        const m = Model.load(testing.allocator, path, .{ .kv_type = .f32, .n_batch = 4, .n_threads = 2 }, &diag) catch |e| {
            std.debug.print("{s}: {s}\n", .{ @tagName(arch), diag.message() });
            return e;
        };
        defer m.destroy();
        const ids = [_]u32{ 1, 20, 30, 40, 50, 60, 70 };
        try m.eval(.{ .tokens = &ids });
        const batched = try testing.allocator.dupe(f32, m.logits());
        defer testing.allocator.free(batched);
        m.clear();
        for (ids) |id| try m.eval(.{ .tokens = &.{id} });
        for (batched, m.logits()) |a, b| {
            try testing.expect(std.math.isFinite(a));
            try testing.expectApproxEqAbs(a, b, 1e-3);
        }
    }
}

// ---- the graph on the GPU against the graph on the CPU ----

const vkt = @import("../vk/tests.zig");

/// Largest |Δp| over the vocabulary between two logit rows (softmax of each), and whether the
/// GPU's top-1 is the reference's (or ties it within `tol` in the reference's probabilities).
fn probDiff(ref: []const f32, got: []const f32, tol: f32) !f32 {
    const pr = try testing.allocator.alloc(f32, ref.len);
    defer testing.allocator.free(pr);
    const pg = try testing.allocator.alloc(f32, ref.len);
    defer testing.allocator.free(pg);
    for ([_][]f32{ pr, pg }, [_][]const f32{ ref, got }) |p, l| {
        var mx: f32 = -std.math.inf(f32);
        for (l) |v| mx = @max(mx, v);
        var s: f32 = 0;
        for (p, l) |*o, v| {
            o.* = @exp(v - mx);
            s += o.*;
        }
        for (p) |*o| o.* /= s;
    }
    var d: f32 = 0;
    var ar: usize = 0;
    var ag: usize = 0;
    for (pr, pg, 0..) |a, b, i| {
        d = @max(d, @abs(a - b));
        if (a > pr[ar]) ar = i;
        if (b > pg[ag]) ag = i;
    }
    if (ar != ag and pr[ar] - pr[ag] > tol) {
        std.debug.print("top-1 differs: ref {d} (p {d:.4}) gpu {d} (ref p {d:.4})\n", .{ ar, pr[ar], ag, pr[ag] });
        return error.TestUnexpectedResult;
    }
    return d;
}

fn argmaxOf(x: []const f32) u32 {
    var b: usize = 0;
    for (x, 0..) |v, i| if (v > x[b]) {
        b = i;
    };
    return @intCast(b);
}

/// Prompt of 11 tokens (two graph steps of 8 and 3) and 5 decode steps fed with the CPU's
/// greedy tokens; returns the largest |Δp| seen between the graph on the CPU backend and on the GPU.
fn compareWithReference(path: []const u8, ctx: *@import("../vk/vk.zig").Context, placement: model_mod.Placement, tol: f32) !f32 {
    var diag = reader.Diagnostic{};
    const ref = try Model.load(testing.allocator, path, .{ .n_threads = 2, .n_ctx = 64 }, &diag);
    defer ref.destroy();
    const gm = try Model.load(testing.allocator, path, .{ .n_threads = 2, .gpu = ctx, .placement = placement, .n_ctx = 64 }, &diag);
    defer gm.destroy();
    try testing.expect(gm.onGpu());
    const prompt = [_]u32{ 1, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110 };
    try ref.eval(.{ .tokens = &prompt });
    try gm.eval(.{ .tokens = &prompt });
    var worst = try probDiff(ref.logits(), gm.logits(), tol);
    for (0..5) |_| {
        const t = argmaxOf(ref.logits());
        try ref.eval(.{ .tokens = &.{t} });
        try gm.eval(.{ .tokens = &.{t} });
        worst = @max(worst, try probDiff(ref.logits(), gm.logits(), tol));
    }
    return worst;
}

test "graph on the GPU: stories260K golden text byte for byte, all and partial layers, state files" {
    const ctx = try vkt.testContext(.{});
    defer ctx.destroy();
    const expected = try goldenSection(testing.allocator, "--temperature 0 --sequence_length 200 --worker_count 0");
    defer testing.allocator.free(expected);
    for ([_]model_mod.Placement{ .auto, .{ .gpu_layers = 2 } }) |pl| {
        const m = try loadFixture("stories260K.gguf", .{ .n_threads = 2, .gpu = ctx, .placement = pl });
        defer m.destroy();
        try testing.expect(m.onGpu());
        if (pl == .gpu_layers) {
            try testing.expectEqual(@as(u32, 2), m.gm.gpuLayers());
            try testing.expectEqualStrings("gpu+cpu", m.computeBackend());
        } else try testing.expectEqualStrings("gpu", m.computeBackend());
        const got = try greedyText(m, 200);
        defer testing.allocator.free(got);
        try testing.expectEqualStrings(expected, got);
    }
    // KV through the graph's GPU states: save, continue, restore, continue again: same logits.
    const m = try loadFixture("stories260K.gguf", .{ .n_threads = 2, .gpu = ctx, .kv_type = .f32 });
    defer m.destroy();
    const ids = [_]u32{ 1, 403, 407, 261, 378, 429, 260, 1119 % 512, 300, 301 };
    try m.eval(.{ .tokens = &ids });
    var tmp = testing.tmpDir(.{});
    defer tmp.cleanup();
    const dir = try tmp.dir.realpathAlloc(testing.allocator, ".");
    defer testing.allocator.free(dir);
    const sp = try std.fs.path.join(testing.allocator, &.{ dir, "g.state" });
    defer testing.allocator.free(sp);
    try m.saveState(sp);
    try m.eval(.{ .tokens = &.{5} });
    const after = try testing.allocator.dupe(f32, m.logits());
    defer testing.allocator.free(after);
    try m.truncate(3);
    try m.eval(.{ .tokens = &.{ 7, 8, 9 } }); // overwrites rows 3..5 on the GPU
    var diag = reader.Diagnostic{};
    try m.loadState(sp, &diag);
    try m.eval(.{ .tokens = &.{5} });
    try testing.expectEqualSlices(f32, after, m.logits());
    // The state file of the GPU graph loads into the graph on the CPU too.
    const r = try loadFixture("stories260K.gguf", .{ .n_threads = 2, .kv_type = .f32 });
    defer r.destroy();
    try r.loadState(sp, &diag);
    try r.eval(.{ .tokens = &.{5} });
    try testing.expect(try probDiff(after, r.logits(), 1e-3) < 1e-3);
    try testing.expectEqual(@as(u32, 0), ctx.validation_messages.load(.monotonic));
}

test "graph on the GPU agrees with the graph on the CPU: llama (GQA), phi2, gpt2 × F32 F16 Q8_0 Q4_0 Q4_K Q6_K" {
    const ctx = try vkt.testContext(.{});
    defer ctx.destroy();
    var tmp = testing.tmpDir(.{});
    defer tmp.cleanup();
    const dir = try tmp.dir.realpathAlloc(testing.allocator, ".");
    defer testing.allocator.free(dir);
    var vocab_file = try reader.openFixture(testing.allocator, "stories260K.gguf", null);
    defer vocab_file.deinit();
    const Q = struct {
        fn q(t: reader.GgmlType, src: []const f32, dst: []u8) @import("../gguf/synth.zig").QuantizeError!void {
            try @import("../quant/quant.zig").quantizeRow(t, src, dst);
        }
    };
    // Bound on max |Δp|: the CPU quantizes activations to Q8 for quantized weights (and rounds
    // F16 dots through F16), the GPU keeps f32 activations. Measured on lavapipe: F32/F16
    // ≤ 7e-7, Q8_0/Q4_0/Q4_K/Q6_K ≤ 1.5e-3; 0.01 leaves room without hiding a wrong op (a wrong
    // op moves p by O(0.1..1)).
    const bound: f32 = 0.01;
    {
        const sp = try reader.fixturePath(testing.allocator, "stories260K.gguf");
        defer testing.allocator.free(sp);
        const d = try compareWithReference(sp, ctx, .auto, bound);
        std.debug.print("[graph-vs-ref] stories260K: max |dp| {e:.2}\n", .{d});
        try testing.expect(d <= bound);
    }
    var worst_all: f32 = 0;
    for (std.enums.values(synth.Arch)) |arch| {
        for ([_]reader.GgmlType{ .f32, .f16, .q8_0, .q4_0, .q4_k, .q6_k }) |ty| {
            const path = try std.fmt.allocPrint(testing.allocator, "{s}/{s}-{s}.gguf", .{ dir, @tagName(arch), @tagName(ty) });
            defer testing.allocator.free(path);
            // n_embd/n_ff 256: whole K-quant super-blocks; GQA 4:2 (gpt2 has no GQA).
            try synth.generateFile(testing.allocator, .{ .arch = arch, .n_embd = 256, .n_ff = 256, .n_head = 4, .n_head_kv = if (arch == .gpt2) 4 else 2, .n_layer = 2 }, .{ .vocab = &vocab_file, .weight_type = ty, .quantize = Q.q }, path);
            const d = compareWithReference(path, ctx, .auto, bound) catch |e| {
                std.debug.print("{s} {s}: {s}\n", .{ @tagName(arch), @tagName(ty), @errorName(e) });
                return e;
            };
            std.debug.print("[graph-vs-ref] {s} {s}: max |dp| {e:.2}\n", .{ @tagName(arch), @tagName(ty), d });
            if (d > bound) {
                std.debug.print("{s} {s}: max |dp| {d} > {d}\n", .{ @tagName(arch), @tagName(ty), d, bound });
                return error.TestUnexpectedResult;
            }
            worst_all = @max(worst_all, d);
        }
    }
    // Partial placement (1 of 2 layers on the GPU) on one model.
    const p1 = try std.fmt.allocPrint(testing.allocator, "{s}/llama-q4_0.gguf", .{dir});
    defer testing.allocator.free(p1);
    try testing.expect(try compareWithReference(p1, ctx, .{ .gpu_layers = 1 }, bound) <= bound);
    try testing.expectEqual(@as(u32, 0), ctx.validation_messages.load(.monotonic));
}

// ---- the differential mode (core/graph/diff.zig) ----

/// Prompt of 11 tokens (steps of 8 and 3) and 3 greedy decode steps with every node checked.
fn diffRun(m: *Model) !void {
    const prompt = [_]u32{ 1, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110 };
    try m.eval(.{ .tokens = &prompt });
    for (0..3) |_| try m.eval(.{ .tokens = &.{argmaxOf(m.logits())} });
}

fn synthModel(dir: []const u8, vocab: *const reader.File, arch: synth.Arch, ty: reader.GgmlType) ![]u8 {
    const Q = struct {
        fn q(t: reader.GgmlType, src: []const f32, dst: []u8) @import("../gguf/synth.zig").QuantizeError!void {
            try @import("../quant/quant.zig").quantizeRow(t, src, dst);
        }
    };
    const path = try std.fmt.allocPrint(testing.allocator, "{s}/{s}-{s}.gguf", .{ dir, @tagName(arch), @tagName(ty) });
    errdefer testing.allocator.free(path);
    try synth.generateFile(testing.allocator, .{ .arch = arch, .n_embd = 256, .n_ff = 256, .n_head = 4, .n_head_kv = if (arch == .gpt2) 4 else 2, .n_layer = 2 }, .{ .vocab = vocab, .weight_type = ty, .quantize = Q.q }, path);
    return path;
}

test "differential mode stays quiet on the unbroken models (every node within its op's bound)" {
    const ctx = try vkt.testContext(.{});
    defer ctx.destroy();
    var tmp = testing.tmpDir(.{});
    defer tmp.cleanup();
    const dir = try tmp.dir.realpathAlloc(testing.allocator, ".");
    defer testing.allocator.free(dir);
    var vocab_file = try reader.openFixture(testing.allocator, "stories260K.gguf", null);
    defer vocab_file.deinit();
    const sp = try reader.fixturePath(testing.allocator, "stories260K.gguf");
    defer testing.allocator.free(sp);
    var paths = std.ArrayList([]u8).init(testing.allocator);
    defer {
        for (paths.items) |p| testing.allocator.free(p);
        paths.deinit();
    }
    try paths.append(try testing.allocator.dupe(u8, sp));
    for (std.enums.values(synth.Arch)) |arch| for ([_]reader.GgmlType{ .f16, .q4_0, .q4_k }) |ty| {
        try paths.append(try synthModel(dir, &vocab_file, arch, ty));
    };
    for (paths.items) |path| {
        var diag = reader.Diagnostic{};
        const m = try Model.load(testing.allocator, path, .{ .n_threads = 2, .gpu = ctx, .n_ctx = 64, .diff = true }, &diag);
        defer m.destroy();
        try testing.expect(m.onGpu());
        try diffRun(m);
        const d = m.gm.diff.?;
        try testing.expectEqual(@as(u64, 5), d.steps);
        var buf: [512]u8 = undefined;
        if (m.diffReport(&buf)) |r| {
            std.debug.print("{s}: {s}\n", .{ std.fs.path.basename(path), r });
            return error.TestUnexpectedResult;
        }
        var worst: f64 = 0;
        var worst_op: usize = 0;
        for (d.worst, 0..) |w, i| if (w > worst) {
            worst = w;
            worst_op = i;
        };
        std.debug.print("[diff] {s}: largest nmse {e:.2} ({s})\n", .{ std.fs.path.basename(path), worst, @tagName(@as(@import("../graph/graph.zig").Op, @enumFromInt(worst_op))) });
    }
    try testing.expectEqual(@as(u32, 0), ctx.validation_messages.load(.monotonic));
}

test "differential mode names the node whose GPU kernel is broken" {
    const ctx = try vkt.testContext(.{});
    defer ctx.destroy();
    const graph = @import("../graph/graph.zig");
    const sp = try reader.fixturePath(testing.allocator, "stories260K.gguf");
    defer testing.allocator.free(sp);
    var diag = reader.Diagnostic{};
    // The nodes to break: layer 0's Q projection, layer 1's attention, layer 2's SwiGLU, the logits.
    const Pick = struct { op: graph.Op, layer: ?u32, weight: ?[]const u8 };
    const picks = [_]Pick{
        .{ .op = .mul_mat, .layer = 0, .weight = "attn_q.weight" },
        .{ .op = .attention, .layer = 1, .weight = null },
        .{ .op = .swiglu, .layer = 2, .weight = null },
        .{ .op = .mul_mat, .layer = null, .weight = null }, // output.weight or the tied token_embd
    };
    var targets: [picks.len]u32 = undefined;
    {
        const m = try Model.load(testing.allocator, sp, .{ .n_threads = 2, .gpu = ctx, .n_ctx = 64 }, &diag);
        defer m.destroy();
        const g = &m.gm.g;
        for (picks, &targets) |p, *tgt| {
            tgt.* = for (g.tensors.items, 0..) |t, i| {
                if (t.op != p.op or t.layer != p.layer) continue;
                if (p.weight) |wn| if (!std.mem.eql(u8, g.get(g.root(t.src[0].?).id).name, wn)) continue;
                break @intCast(i);
            } else return error.TestUnexpectedResult;
        }
    }
    for (picks, targets) |p, tgt| {
        const m = try Model.load(testing.allocator, sp, .{ .n_threads = 2, .gpu = ctx, .n_ctx = 64, .diff = true, .perturb_gpu_node = tgt }, &diag);
        defer m.destroy();
        try diffRun(m);
        const first = m.gm.diff.?.first orelse {
            std.debug.print("node {d} ({s}) perturbed but no mismatch reported\n", .{ tgt, @tagName(p.op) });
            return error.TestUnexpectedResult;
        };
        var buf: [512]u8 = undefined;
        const r = m.diffReport(&buf).?;
        std.debug.print("[diff] broken {s}: {s}\n", .{ @tagName(p.op), r });
        try testing.expectEqual(tgt, first.id);
        try testing.expectEqual(@as(u64, 0), first.step);
        var want: [64]u8 = undefined;
        try testing.expect(std.mem.startsWith(u8, r, try std.fmt.bufPrint(&want, "node {d} {s}", .{ tgt, @tagName(p.op) })));
        if (p.weight) |wn| try testing.expect(std.mem.indexOf(u8, r, wn) != null);
    }
    try testing.expectEqual(@as(u32, 0), ctx.validation_messages.load(.monotonic));
}
