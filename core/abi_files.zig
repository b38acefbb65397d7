//! The model-files section of the C ABI (include/pi5_llm_rt.h): inspect, llama2.c and GGJT
//! import, quantize, synth. Thin wrappers over core/model/files.zig (the CLI's implementation
//! too); same conventions as abi.zig: arguments checked, every Zig error mapped to a
//! pi5_status, the message in the runtime's last error.
const std = @import("std");
const abi = @import("abi.zig");
const pi5 = @import("root.zig");
const files = pi5.model_files;
const Runtime = pi5.runtime.Runtime;
const Status = abi.Status;
const Diagnostic = pi5.gguf.Diagnostic;
const ProgressCallback = @import("abi_model.zig").ProgressCallback;

const gpa = std.heap.c_allocator;

pub const SynthOptionsC = extern struct {
    struct_size: u32,
    arch: ?[*:0]const u8,
    preset: ?[*:0]const u8,
    weight_type: ?[*:0]const u8,
    vocab_path: ?[*:0]const u8,
    seed: u64,
    n_embd: u32,
    n_ff: u32,
    n_layer: u32,
    n_head: u32,
    n_head_kv: u32,
    n_ctx: u32,
    progress_callback: ?ProgressCallback,
    progress_user_data: ?*anyopaque,
};

fn st(s: Status) c_int {
    return @intFromEnum(s);
}

/// Records the error on the runtime (the diagnostic when it has one, naming `path`) and returns
/// its status.
fn fail(rt: *Runtime, err: abi.Error, diag: *const Diagnostic, comptime what: []const u8, path: []const u8) c_int {
    const s = abi.statusOf(err);
    if (diag.len > 0) {
        rt.setError(what ++ " {s}: {s}", .{ path, diag.message() });
    } else switch (s) {
        .aborted => rt.setError(what ++ ": aborted by the progress callback", .{}),
        .internal => rt.setError(what ++ " {s}: internal error {s}", .{ path, @errorName(err) }),
        .io => rt.setError(what ++ " {s}: {s} ({s})", .{ path, if (err == error.FileNotFound) "file not found" else pi5.runtime.describe(err), @errorName(err) }),
        else => rt.setError(what ++ " {s}: {s}", .{ path, pi5.runtime.describe(err) }),
    }
    return st(s);
}

fn argError(rt: *Runtime, comptime fmt: []const u8, args: anytype) c_int {
    rt.setError(fmt, args);
    return st(.invalid_argument);
}

/// Turns the writer's (done, total) into the C callback's increasing 0..1, and a nonzero return
/// into a stop the writer honours (error.Aborted).
const ProgressBridge = struct {
    cb: ?ProgressCallback,
    user: ?*anyopaque,
    stop: bool = false,
    last: f32 = -1,

    fn call(self: *ProgressBridge, p: f32) void {
        const cb = self.cb orelse return;
        if (p <= self.last) return;
        self.last = p;
        if (cb(p, self.user) != 0) self.stop = true;
    }

    fn report(ctx: ?*anyopaque, done: u64, total: u64) void {
        const self: *ProgressBridge = @ptrCast(@alignCast(ctx.?));
        const p: f32 = if (total == 0) 1 else @floatCast(@min(1.0, @as(f64, @floatFromInt(done)) / @as(f64, @floatFromInt(total))));
        self.call(p);
    }

    /// 0 before any work (a callback may stop it there); null without a callback.
    fn start(self: *ProgressBridge) error{Aborted}!?files.Progress {
        if (self.cb == null) return null;
        self.call(0);
        if (self.stop) return error.Aborted;
        return .{ .ctx = self, .func = report, .stop = &self.stop };
    }

    /// Reports 1 when the work ended without reaching it (e.g. no tensor data).
    fn finish(self: *ProgressBridge) void {
        if (self.last < 1) self.call(1);
    }
};

fn cstr(p: ?[*:0]const u8) ?[]const u8 {
    return if (p) |s| std.mem.span(s) else null;
}

pub export fn pi5_gguf_inspect(rt: ?*Runtime, path: ?[*:0]const u8, buf: ?[*]u8, buf_size: usize, out_len: ?*usize) callconv(.c) c_int {
    if (out_len) |l| l.* = 0;
    const r = rt orelse return st(.invalid_argument);
    r.last_error_len = 0;
    const p = cstr(path) orelse return argError(r, "pi5_gguf_inspect: path is NULL", .{});
    var text = std.ArrayList(u8).init(gpa);
    defer text.deinit();
    var diag = Diagnostic{};
    files.inspect(gpa, p, text.writer(), &diag) catch |e| return fail(r, e, &diag, "pi5_gguf_inspect", p);
    const s = abi.writeOut(text.items, buf, buf_size, out_len);
    if (s == .invalid_argument) r.setError("pi5_gguf_inspect: buf is NULL with a nonzero size, or both buf and out_len are NULL", .{});
    return st(s);
}

pub export fn pi5_convert_llama2c(rt: ?*Runtime, checkpoint: ?[*:0]const u8, tokenizer: ?[*:0]const u8, out_path: ?[*:0]const u8, progress: ?ProgressCallback, user_data: ?*anyopaque) callconv(.c) c_int {
    const r = rt orelse return st(.invalid_argument);
    r.last_error_len = 0;
    const ck = cstr(checkpoint) orelse return argError(r, "pi5_convert_llama2c: checkpoint is NULL", .{});
    const tok = cstr(tokenizer) orelse return argError(r, "pi5_convert_llama2c: tokenizer is NULL", .{});
    const out = cstr(out_path) orelse return argError(r, "pi5_convert_llama2c: out_path is NULL", .{});
    var pb = ProgressBridge{ .cb = progress, .user = user_data };
    var diag = Diagnostic{};
    const pr = pb.start() catch |e| return fail(r, e, &diag, "pi5_convert_llama2c", ck);
    files.convertLlama2c(gpa, ck, tok, out, pr, &diag) catch |e| return fail(r, e, &diag, "pi5_convert_llama2c", ck);
    pb.finish();
    return st(.ok);
}

pub export fn pi5_convert_ggjt(rt: ?*Runtime, in_path: ?[*:0]const u8, out_path: ?[*:0]const u8, progress: ?ProgressCallback, user_data: ?*anyopaque) callconv(.c) c_int {
    const r = rt orelse return st(.invalid_argument);
    r.last_error_len = 0;
    const in = cstr(in_path) orelse return argError(r, "pi5_convert_ggjt: in_path is NULL", .{});
    const out = cstr(out_path) orelse return argError(r, "pi5_convert_ggjt: out_path is NULL", .{});
    var pb = ProgressBridge{ .cb = progress, .user = user_data };
    var diag = Diagnostic{};
    const pr = pb.start() catch |e| return fail(r, e, &diag, "pi5_convert_ggjt", in);
    files.convertGgjt(gpa, in, out, pr, &diag) catch |e| return fail(r, e, &diag, "pi5_convert_ggjt", in);
    pb.finish();
    return st(.ok);
}

const quantize_types = "F32 F16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q4_K Q4_K_S Q5_K Q6_K Q4_K_M";

pub export fn pi5_quantize_model(rt: ?*Runtime, in_path: ?[*:0]const u8, out_path: ?[*:0]const u8, type_name: ?[*:0]const u8, progress: ?ProgressCallback, user_data: ?*anyopaque) callconv(.c) c_int {
    const r = rt orelse return st(.invalid_argument);
    r.last_error_len = 0;
    const in = cstr(in_path) orelse return argError(r, "pi5_quantize_model: in_path is NULL", .{});
    const out = cstr(out_path) orelse return argError(r, "pi5_quantize_model: out_path is NULL", .{});
    const tn = cstr(type_name) orelse return argError(r, "pi5_quantize_model: type is NULL", .{});
    const target = files.Target.parse(tn) orelse return argError(r, "pi5_quantize_model: unknown type '{s}' (" ++ quantize_types ++ ")", .{tn});
    var pb = ProgressBridge{ .cb = progress, .user = user_data };
    var diag = Diagnostic{};
    const pr = pb.start() catch |e| return fail(r, e, &diag, "pi5_quantize_model", in);
    files.quantize(gpa, in, out, target, pr, &diag) catch |e| return fail(r, e, &diag, "pi5_quantize_model", in);
    pb.finish();
    return st(.ok);
}

pub export fn pi5_synth_default_options() callconv(.c) SynthOptionsC {
    return .{
        .struct_size = @sizeOf(SynthOptionsC),
        .arch = "llama",
        .preset = "tiny",
        .weight_type = "F32",
        .vocab_path = null,
        .seed = 0,
        .n_embd = 0,
        .n_ff = 0,
        .n_layer = 0,
        .n_head = 0,
        .n_head_kv = 0,
        .n_ctx = 0,
        .progress_callback = null,
        .progress_user_data = null,
    };
}

pub export fn pi5_synth_model(rt: ?*Runtime, options: ?*const SynthOptionsC, out_path: ?[*:0]const u8) callconv(.c) c_int {
    const r = rt orelse return st(.invalid_argument);
    r.last_error_len = 0;
    const out = cstr(out_path) orelse return argError(r, "pi5_synth_model: out_path is NULL", .{});
    const defaults = pi5_synth_default_options();
    const o = options orelse &defaults;
    if (o.struct_size != @sizeOf(SynthOptionsC)) return argError(r, "pi5_synth_model: invalid options: struct_size is {d}, expected {d}", .{ o.struct_size, @sizeOf(SynthOptionsC) });
    const arch_s = cstr(o.arch) orelse "llama";
    const arch = std.meta.stringToEnum(files.Arch, arch_s) orelse return argError(r, "pi5_synth_model: unknown arch '{s}' (llama, phi2, gpt2)", .{arch_s});
    const preset_s = cstr(o.preset) orelse "tiny";
    const preset = std.meta.stringToEnum(files.Preset, preset_s) orelse return argError(r, "pi5_synth_model: unknown preset '{s}' (tiny, tinyllama-1.1b, llama2-7b, mistral-7b)", .{preset_s});
    const type_s = cstr(o.weight_type) orelse "F32";
    const wt = pi5.quant.GgmlType.fromName(type_s) orelse return argError(r, "pi5_synth_model: unknown weight type '{s}'", .{type_s});
    var pb = ProgressBridge{ .cb = o.progress_callback, .user = o.progress_user_data };
    var diag = Diagnostic{};
    const pr = pb.start() catch |e| return fail(r, e, &diag, "pi5_synth_model", out);
    files.synth(gpa, .{
        .arch = arch,
        .preset = preset,
        .weight_type = wt,
        .vocab_path = cstr(o.vocab_path),
        .seed = o.seed,
        .n_embd = o.n_embd,
        .n_ff = o.n_ff,
        .n_layer = o.n_layer,
        .n_head = o.n_head,
        .n_head_kv = o.n_head_kv,
        .n_ctx = o.n_ctx,
        .progress = pr,
    }, out, &diag) catch |e| return fail(r, e, &diag, "pi5_synth_model", out);
    pb.finish();
    return st(.ok);
}

// ---- tests ----

const testing = std.testing;

fn fixture(rel: []const u8) ![:0]u8 {
    const p = try pi5.gguf.fixturePath(testing.allocator, rel);
    defer testing.allocator.free(p);
    return testing.allocator.dupeZ(u8, p);
}

fn cpuRuntime() !*Runtime {
    return Runtime.create(gpa, .{ .backend = .cpu, .n_threads = 2 });
}

const TmpOut = struct {
    dir: std.testing.TmpDir,
    buf: [std.fs.max_path_bytes]u8 = undefined,

    fn init() TmpOut {
        return .{ .dir = std.testing.tmpDir(.{}) };
    }
    fn deinit(self: *TmpOut) void {
        self.dir.cleanup();
    }
    /// Absolute, NUL-terminated path of `name` in the temporary directory.
    fn path(self: *TmpOut, name: []const u8) ![:0]const u8 {
        var dbuf: [std.fs.max_path_bytes]u8 = undefined;
        const d = try self.dir.dir.realpath(".", &dbuf);
        return std.fmt.bufPrintZ(&self.buf, "{s}/{s}", .{ d, name });
    }
};

const Recorder = struct {
    values: [4096]f32 = undefined,
    n: usize = 0,
    abort_after: usize = std.math.maxInt(usize),

    fn cb(p: f32, user: ?*anyopaque) callconv(.c) i32 {
        const self: *Recorder = @ptrCast(@alignCast(user.?));
        if (self.n < self.values.len) self.values[self.n] = p;
        self.n += 1;
        return if (self.n > self.abort_after) 1 else 0;
    }

    fn expectIncreasingToOne(self: *const Recorder) !void {
        try testing.expect(self.n >= 2);
        const v = self.values[0..@min(self.n, self.values.len)];
        for (v[1..], v[0 .. v.len - 1]) |b, a| try testing.expect(b > a);
        try testing.expectEqual(@as(f32, 1), v[v.len - 1]);
        try testing.expect(v[0] >= 0);
    }
};

fn loadOk(rt: *Runtime, path: [*:0]const u8) !void {
    const rc = @import("abi_model.zig").pi5_load_model(rt, path);
    if (rc != 0) std.debug.print("load {s}: {s}\n", .{ path, rt.lastError() });
    try testing.expectEqual(st(.ok), rc);
}

test "abi_files: llama2.c import equals stories260K.gguf, progress rises to 1, abort stops" {
    const ck = try fixture("stories260K.bin");
    defer testing.allocator.free(ck);
    const tok = try fixture("tok512.bin");
    defer testing.allocator.free(tok);
    const want_path = try fixture("stories260K.gguf");
    defer testing.allocator.free(want_path);
    const rt = try cpuRuntime();
    defer rt.destroy();
    var tmp = TmpOut.init();
    defer tmp.deinit();
    const out = try testing.allocator.dupeZ(u8, try tmp.path("s.gguf"));
    defer testing.allocator.free(out);

    var rec = Recorder{};
    try testing.expectEqual(st(.ok), pi5_convert_llama2c(rt, ck, tok, out, Recorder.cb, &rec));
    try rec.expectIncreasingToOne();

    // Same tensors, same bytes as the reference file.
    var diag = Diagnostic{};
    var got = try pi5.gguf.File.open(testing.allocator, out, &diag);
    defer got.deinit();
    var want = try pi5.gguf.File.open(testing.allocator, want_path, &diag);
    defer want.deinit();
    try testing.expectEqual(want.tensors.len, got.tensors.len);
    for (want.tensors) |*t| {
        const g = got.findTensor(t.name) orelse return error.TestMissingTensor;
        try testing.expectEqual(t.type, g.type);
        try testing.expectEqualSlices(u64, t.ne[0..t.n_dims], g.ne[0..g.n_dims]);
        try testing.expectEqualSlices(u8, t.data, g.data);
    }
    try loadOk(rt, out);

    // Abort: at the start, and in the middle; the partial file is removed.
    const out2 = try testing.allocator.dupeZ(u8, try tmp.path("aborted.gguf"));
    defer testing.allocator.free(out2);
    var stop0 = Recorder{ .abort_after = 0 };
    try testing.expectEqual(st(.aborted), pi5_convert_llama2c(rt, ck, tok, out2, Recorder.cb, &stop0));
    try testing.expectEqual(@as(usize, 1), stop0.n);
    var stop2 = Recorder{ .abort_after = 2 };
    try testing.expectEqual(st(.aborted), pi5_convert_llama2c(rt, ck, tok, out2, Recorder.cb, &stop2));
    try testing.expectEqual(@as(usize, 3), stop2.n);
    try testing.expect(std.mem.indexOf(u8, rt.lastError(), "aborted") != null);
    try testing.expectError(error.FileNotFound, std.fs.cwd().access(out2, .{}));
}

test "abi_files: GGJT import loads" {
    const in = try fixture("legacy/TinyLLama-v0.ggmlv3.q4_0.bin");
    defer testing.allocator.free(in);
    const rt = try cpuRuntime();
    defer rt.destroy();
    var tmp = TmpOut.init();
    defer tmp.deinit();
    const out = try testing.allocator.dupeZ(u8, try tmp.path("tl.gguf"));
    defer testing.allocator.free(out);
    var rec = Recorder{};
    try testing.expectEqual(st(.ok), pi5_convert_ggjt(rt, in, out, Recorder.cb, &rec));
    try rec.expectIncreasingToOne();
    try loadOk(rt, out);
    // a GGUF is not a GGJT
    const gguf = try fixture("stories260K.gguf");
    defer testing.allocator.free(gguf);
    try testing.expectEqual(st(.invalid_model), pi5_convert_ggjt(rt, gguf, out, null, null));
    try testing.expect(std.mem.indexOf(u8, rt.lastError(), "GGJT") != null);
}

test "abi_files: synth tiny llama with a vocab, quantize it to Q4_K_M and Q8_0, load each" {
    const vocab = try fixture("vocab/ggml-vocab-llama-spm.gguf");
    defer testing.allocator.free(vocab);
    const rt = try cpuRuntime();
    defer rt.destroy();
    var tmp = TmpOut.init();
    defer tmp.deinit();
    const f32_path = try testing.allocator.dupeZ(u8, try tmp.path("tiny-f32.gguf"));
    defer testing.allocator.free(f32_path);

    var rec = Recorder{};
    var o = pi5_synth_default_options();
    o.vocab_path = vocab;
    o.seed = 7;
    // stories260K-like: 64-wide, but K-quants need 256-element rows
    o.n_embd = 256;
    o.n_ff = 512;
    o.n_head = 8;
    o.n_head_kv = 4;
    o.progress_callback = Recorder.cb;
    o.progress_user_data = &rec;
    try testing.expectEqual(st(.ok), pi5_synth_model(rt, &o, f32_path));
    try rec.expectIncreasingToOne();
    try loadOk(rt, f32_path);

    for ([_][:0]const u8{ "Q4_K_M", "Q8_0" }) |t| {
        const qp = try testing.allocator.dupeZ(u8, try tmp.path(t));
        defer testing.allocator.free(qp);
        var qr = Recorder{};
        try testing.expectEqual(st(.ok), pi5_quantize_model(rt, f32_path, qp, t, Recorder.cb, &qr));
        try qr.expectIncreasingToOne();
        try loadOk(rt, qp);
        var diag = Diagnostic{};
        var f = try pi5.gguf.File.open(testing.allocator, qp, &diag);
        defer f.deinit();
        const ffn = f.findTensor("blk.0.ffn_gate.weight").?;
        try testing.expectEqual(if (t[1] == '4') pi5.quant.GgmlType.q4_k else .q8_0, ffn.type);
        // a quantized model is refused as input, naming a tensor
        const again = try testing.allocator.dupeZ(u8, try tmp.path("again.gguf"));
        defer testing.allocator.free(again);
        try testing.expectEqual(st(.invalid_model), pi5_quantize_model(rt, qp, again, "Q4_0", null, null));
        try testing.expect(std.mem.indexOf(u8, rt.lastError(), "is already Q") != null);
    }

    // quantize's abort removes the partial output
    const ap = try testing.allocator.dupeZ(u8, try tmp.path("aborted.gguf"));
    defer testing.allocator.free(ap);
    var stop = Recorder{ .abort_after = 1 };
    try testing.expectEqual(st(.aborted), pi5_quantize_model(rt, f32_path, ap, "Q8_0", Recorder.cb, &stop));
    try testing.expectError(error.FileNotFound, std.fs.cwd().access(ap, .{}));

    // inspect: size query, then the text
    var need: usize = 0;
    try testing.expectEqual(st(.buffer_too_small), pi5_gguf_inspect(rt, f32_path, null, 0, &need));
    const text = try testing.allocator.alloc(u8, need + 1);
    defer testing.allocator.free(text);
    var got: usize = 0;
    try testing.expectEqual(st(.ok), pi5_gguf_inspect(rt, f32_path, text.ptr, text.len, &got));
    try testing.expectEqual(need, got);
    try testing.expect(std.mem.indexOf(u8, text[0..got], "blk.0.attn_q.weight") != null);
}

test "abi_files: synth tiny phi2/gpt2 without a vocab writes a valid GGUF" {
    const rt = try cpuRuntime();
    defer rt.destroy();
    var tmp = TmpOut.init();
    defer tmp.deinit();
    for ([_][:0]const u8{ "phi2", "gpt2" }) |a| {
        const p = try testing.allocator.dupeZ(u8, try tmp.path(a));
        defer testing.allocator.free(p);
        var o = pi5_synth_default_options();
        o.arch = a;
        o.weight_type = "F16";
        try testing.expectEqual(st(.ok), pi5_synth_model(rt, &o, p));
        var need: usize = 0;
        try testing.expectEqual(st(.buffer_too_small), pi5_gguf_inspect(rt, p, null, 0, &need));
        try testing.expect(need > 0);
    }
}

fn expectStatus(want: c_int, got: c_int, src: std.builtin.SourceLocation) !void {
    if (want != got) {
        std.debug.print("line {d}: want {d}, got {d}\n", .{ src.line, want, got });
        return error.TestUnexpectedResult;
    }
}

fn expectMsg(rt: *Runtime, ok: bool, src: std.builtin.SourceLocation) !void {
    if (!ok) {
        std.debug.print("line {d}: unexpected message: {s}\n", .{ src.line, rt.lastError() });
        return error.TestUnexpectedResult;
    }
}

test "abi_files: bad inputs return the right statuses" {
    const rt = try cpuRuntime();
    defer rt.destroy();
    var tmp = TmpOut.init();
    defer tmp.deinit();
    const out = try testing.allocator.dupeZ(u8, try tmp.path("out.gguf"));
    defer testing.allocator.free(out);
    const inv = st(.invalid_argument);
    // NULL runtime and arguments
    try expectStatus(inv, pi5_gguf_inspect(null, "x", null, 0, null), @src());
    try expectStatus(inv, pi5_convert_llama2c(null, "a", "b", "c", null, null), @src());
    try expectStatus(inv, pi5_convert_ggjt(null, "a", "b", null, null), @src());
    try expectStatus(inv, pi5_quantize_model(null, "a", "b", "Q8_0", null, null), @src());
    try expectStatus(inv, pi5_synth_model(null, null, "x"), @src());
    try expectStatus(inv, pi5_gguf_inspect(rt, null, null, 0, null), @src());
    try expectStatus(inv, pi5_convert_llama2c(rt, "a", null, out, null, null), @src());
    try expectStatus(inv, pi5_convert_ggjt(rt, null, out, null, null), @src());
    try expectStatus(inv, pi5_quantize_model(rt, "a", out, null, null, null), @src());
    try expectStatus(inv, pi5_synth_model(rt, null, null), @src());
    try expectMsg(rt, std.mem.indexOf(u8, rt.lastError(), "out_path") != null, @src());
    // unknown type / arch / preset strings, bad struct_size, bad shape
    try expectStatus(inv, pi5_quantize_model(rt, "a", out, "Q3_X", null, null), @src());
    try expectMsg(rt, std.mem.indexOf(u8, rt.lastError(), "Q3_X") != null, @src());
    var o = pi5_synth_default_options();
    o.arch = "mamba";
    try expectStatus(inv, pi5_synth_model(rt, &o, out), @src());
    try expectMsg(rt, std.mem.indexOf(u8, rt.lastError(), "mamba") != null, @src());
    o = pi5_synth_default_options();
    o.preset = "huge";
    try expectStatus(inv, pi5_synth_model(rt, &o, out), @src());
    o = pi5_synth_default_options();
    o.weight_type = "Q9_9";
    try expectStatus(inv, pi5_synth_model(rt, &o, out), @src());
    o = pi5_synth_default_options();
    o.n_head = 5; // 64 is not a multiple of 5
    try expectStatus(inv, pi5_synth_model(rt, &o, out), @src());
    try expectMsg(rt, std.mem.indexOf(u8, rt.lastError(), "n_head 5") != null, @src());
    o = pi5_synth_default_options();
    o.struct_size = 8;
    try expectStatus(inv, pi5_synth_model(rt, &o, out), @src());
    // missing files: I/O
    const io = st(.io);
    try expectStatus(io, pi5_gguf_inspect(rt, "/nonexistent/x.gguf", null, 0, null), @src());
    try expectMsg(rt, std.mem.indexOf(u8, rt.lastError(), "/nonexistent/x.gguf") != null, @src());
    try expectStatus(io, pi5_convert_llama2c(rt, "/nonexistent/a.bin", "/nonexistent/t.bin", out, null, null), @src());
    try expectStatus(io, pi5_convert_ggjt(rt, "/nonexistent/a.bin", out, null, null), @src());
    try expectStatus(io, pi5_quantize_model(rt, "/nonexistent/a.gguf", out, "Q8_0", null, null), @src());
    o = pi5_synth_default_options();
    o.vocab_path = "/nonexistent/v.gguf";
    try expectStatus(io, pi5_synth_model(rt, &o, out), @src());
    try expectStatus(io, pi5_synth_model(rt, null, "/nonexistent/dir/out.gguf"), @src());
    // bad model files: INVALID_MODEL naming the problem
    const q8 = try fixture("stories260K-q8_0.gguf");
    defer testing.allocator.free(q8);
    try expectStatus(st(.invalid_model), pi5_quantize_model(rt, q8, out, "Q4_K_M", null, null), @src());
    try expectMsg(rt, std.mem.indexOf(u8, rt.lastError(), "ffn_down") != null, @src());
    try testing.expectError(error.FileNotFound, std.fs.cwd().access(out, .{}));
    const tok = try fixture("tok512.bin");
    defer testing.allocator.free(tok);
    try expectStatus(st(.invalid_model), pi5_gguf_inspect(rt, tok, null, 0, null), @src());
    try expectStatus(st(.invalid_model), pi5_convert_llama2c(rt, tok, tok, out, null, null), @src());
    try testing.expect(rt.lastError().len > 0);
    try expectStatus(st(.invalid_model), pi5_convert_ggjt(rt, tok, out, null, null), @src());
    o = pi5_synth_default_options();
    o.vocab_path = tok;
    try expectStatus(st(.invalid_model), pi5_synth_model(rt, &o, out), @src());
}
