//! Synthetic models with random weights, for tests and benchmarks of shapes we cannot ship: any
//! architecture of core/model/arch (llama with GQA, phi2, gpt2), its tensor table and metadata
//! keys (llama.cpp's names) taken from the architecture's description. Weights are
//! N(0, 1/fan_in) and norms are 1 (biases 0) so activations stay finite through many layers.
//! Deterministic: each tensor's values depend only on (seed, tensor name). Data is generated
//! in row chunks and streamed to the output, so a 13 GB 7B F16 model needs a few MB of memory.
//!
//! Quantized weight types need a `quantize` hook (core/quant provides one); F32/F16 are built in.
const std = @import("std");
const reader = @import("reader.zig");
const writer_mod = @import("writer.zig");
const types = @import("types.zig");
const spec = @import("../model/arch/spec.zig");
const registry = @import("../model/arch/registry.zig");

const GgmlType = types.GgmlType;
pub const Progress = writer_mod.Progress;

pub const Arch = registry.Arch;

pub const Config = struct {
    arch: Arch = .llama,
    n_vocab: u32 = 256,
    n_embd: u32 = 64,
    n_ff: u32 = 172,
    n_layer: u32 = 2,
    n_head: u32 = 4,
    n_head_kv: u32 = 2,
    n_ctx: u32 = 256,
    /// Rotary dims; null = the whole head (llama) or half of it (phi2). Unused by gpt2.
    rope_dims: ?u32 = null,
    norm_eps: f32 = 1e-5,
};

pub const Preset = enum { tiny, @"tinyllama-1.1b", @"llama2-7b", @"mistral-7b" };

pub fn preset(p: Preset) Config {
    return switch (p) {
        .tiny => .{},
        .@"tinyllama-1.1b" => .{ .n_vocab = 32000, .n_embd = 2048, .n_ff = 5632, .n_layer = 22, .n_head = 32, .n_head_kv = 4, .n_ctx = 2048 },
        .@"llama2-7b" => .{ .n_vocab = 32000, .n_embd = 4096, .n_ff = 11008, .n_layer = 32, .n_head = 32, .n_head_kv = 32, .n_ctx = 4096 },
        .@"mistral-7b" => .{ .n_vocab = 32000, .n_embd = 4096, .n_ff = 14336, .n_layer = 32, .n_head = 32, .n_head_kv = 8, .n_ctx = 32768 },
    };
}

/// Converts `src` (whole rows, f32) into `dst` in type `t`; dst.len == rowBytes * rows.
/// The errors of quant.quantizeRow, closed so that synth's callers (the C ABI) know them.
pub const QuantizeError = error{ Unsupported, BadLength };
pub const QuantizeFn = *const fn (t: GgmlType, src: []const f32, dst: []u8) QuantizeError!void;

pub const Options = struct {
    seed: u64 = 0,
    /// Type of 2-D weight matrices; norms and biases stay F32 as in llama.cpp.
    weight_type: GgmlType = .f32,
    quantize: ?QuantizeFn = null,
    /// Copies every `tokenizer.*` key; n_vocab becomes its token count. Null: no tokenizer keys.
    vocab: ?*const reader.File = null,
    name: []const u8 = "synthetic",
    progress: ?Progress = null,
};

const Spec = struct { name: []const u8, ne: [2]u64, kind: spec.Kind };

fn headDim(c: Config) u32 {
    return c.n_embd / c.n_head;
}

/// All tensors of the model in file order (the table's global tensors before its first
/// per-layer one, the layers, then the remaining global ones); names are allocated in `a`.
fn tensorSpecs(a: std.mem.Allocator, c: Config) ![]Spec {
    const d = registry.desc(c.arch);
    const dims = spec.Dims{ .n_embd = c.n_embd, .n_kv = @as(u64, headDim(c)) * c.n_head_kv, .n_ff = c.n_ff, .n_vocab = c.n_vocab, .n_ctx = c.n_ctx };
    var list = std.ArrayList(Spec).init(a);
    var first_layer: usize = d.tensors.len;
    for (d.tensors, 0..) |t, i| if (t.per_layer) {
        first_layer = i;
        break;
    };
    for (d.tensors[0..first_layer]) |t| if (t.synth and !t.per_layer)
        try list.append(.{ .name = t.name, .ne = .{ dims.of(t.ne[0]), dims.of(t.ne[1]) }, .kind = t.kind });
    for (0..c.n_layer) |il| for (d.tensors) |t| if (t.synth and t.per_layer)
        try list.append(.{ .name = try std.fmt.allocPrint(a, "blk.{d}.{s}", .{ il, t.name }), .ne = .{ dims.of(t.ne[0]), dims.of(t.ne[1]) }, .kind = t.kind });
    for (d.tensors[first_layer..]) |t| if (t.synth and !t.per_layer)
        try list.append(.{ .name = t.name, .ne = .{ dims.of(t.ne[0]), dims.of(t.ne[1]) }, .kind = t.kind });
    return list.toOwnedSlice();
}

fn putMetadata(w: *writer_mod.Writer, c: Config, opts: Options) !void {
    const d = registry.desc(c.arch);
    const arch = @tagName(c.arch);
    var buf: [96]u8 = undefined;
    try w.putString("general.architecture", arch);
    try w.putString("general.name", opts.name);
    const K = struct {
        fn key(b: []u8, ar: []const u8, k: []const u8) []const u8 {
            return std.fmt.bufPrint(b, "{s}.{s}", .{ ar, k }) catch unreachable;
        }
    };
    try w.putU32(K.key(&buf, arch, "context_length"), c.n_ctx);
    try w.putU32(K.key(&buf, arch, "embedding_length"), c.n_embd);
    try w.putU32(K.key(&buf, arch, "feed_forward_length"), c.n_ff);
    try w.putU32(K.key(&buf, arch, "block_count"), c.n_layer);
    try w.putU32(K.key(&buf, arch, "attention.head_count"), c.n_head);
    if (d.hparams.synth_head_count_kv) try w.putU32(K.key(&buf, arch, "attention.head_count_kv"), c.n_head_kv);
    if (d.hparams.rope) |r| {
        const dflt = if (r.default_dims == .whole) headDim(c) else headDim(c) / 2;
        try w.putU32(K.key(&buf, arch, "rope.dimension_count"), c.rope_dims orelse dflt);
        if (r.synth_freq_base) |fb| try w.putF32(K.key(&buf, arch, "rope.freq_base"), fb);
    }
    try w.putF32(K.key(&buf, arch, d.hparams.eps_key), c.norm_eps);
    if (opts.vocab) |v| for (v.keys()) |kv| {
        if (std.mem.startsWith(u8, kv.key, "tokenizer.")) try w.putValue(kv.key, kv.value);
    };
}

/// Seeds each tensor from (seed, name) so values do not depend on tensor order.
fn tensorRng(seed: u64, name: []const u8) std.Random.DefaultPrng {
    return std.Random.DefaultPrng.init(std.hash.Wyhash.hash(seed, name));
}

const chunk_elems = 1 << 16;

/// Writes the model to `out`. Fails with error.NeedQuantizer for quantized weight types without
/// a hook, error.InvalidConfig for inconsistent shapes.
pub fn generate(alloc: std.mem.Allocator, cfg: Config, opts: Options, out: anytype) !void {
    var c = cfg;
    if (opts.vocab) |v| c.n_vocab = @intCast((v.getArray("tokenizer.ggml.tokens") orelse return error.InvalidConfig).len);
    if (c.n_head == 0 or c.n_embd % c.n_head != 0 or c.n_head_kv == 0 or c.n_head % c.n_head_kv != 0 or c.n_layer == 0)
        return error.InvalidConfig;
    if (opts.weight_type.isQuantized() and opts.quantize == null) return error.NeedQuantizer;
    if (opts.weight_type != .f32 and opts.weight_type != .f16 and !opts.weight_type.isQuantized()) return error.InvalidConfig;

    var arena = std.heap.ArenaAllocator.init(alloc);
    defer arena.deinit();
    const specs = try tensorSpecs(arena.allocator(), c);
    var w = writer_mod.Writer.init(alloc);
    defer w.deinit();
    w.progress = opts.progress;
    try putMetadata(&w, c, opts);
    for (specs) |s| {
        const dims: []const u64 = if (s.ne[1] == 1) s.ne[0..1] else &s.ne;
        const t = if (s.kind == .matrix) opts.weight_type else .f32;
        w.addTensor(s.name, t, dims, null) catch return error.InvalidConfig;
    }
    try w.writeHeader(out);

    const src = try alloc.alloc(f32, chunk_elems);
    defer alloc.free(src);
    const dst = try alloc.alloc(u8, chunk_elems * 4);
    defer alloc.free(dst);
    for (specs) |s| try streamTensor(&w, out, s, if (s.kind == .matrix) opts.weight_type else .f32, opts, src, dst);
    try w.finish();
}

/// Generates a tensor a few rows at a time and hands the bytes to the writer.
fn streamTensor(w: *writer_mod.Writer, out: anytype, s: Spec, t: GgmlType, opts: Options, src: []f32, dst: []u8) !void {
    var prng = tensorRng(opts.seed, s.name);
    const rnd = prng.random();
    const row = s.ne[0];
    const std_dev: f32 = @floatCast(1.0 / @sqrt(@as(f64, @floatFromInt(row))));
    // At least one row per chunk (rows can exceed the buffer only for huge n_ff; grow then).
    const rows_per_chunk = @max(1, chunk_elems / row);
    var done: u64 = 0;
    while (done < s.ne[1]) {
        const n_rows = @min(rows_per_chunk, s.ne[1] - done);
        const n: usize = @intCast(n_rows * row);
        if (n > src.len) return error.InvalidConfig;
        for (src[0..n]) |*x| x.* = switch (s.kind) {
            .matrix => rnd.floatNorm(f32) * std_dev,
            .norm => 1.0,
            .bias => 0.0,
        };
        const bytes: usize = @intCast(t.rowBytes(row).? * n_rows);
        switch (t) {
            .f32 => @memcpy(dst[0..bytes], std.mem.sliceAsBytes(src[0..n])),
            .f16 => for (src[0..n], 0..) |x, i| std.mem.writeInt(u16, dst[i * 2 ..][0..2], @bitCast(@as(f16, @floatCast(x))), .little),
            else => try opts.quantize.?(t, src[0..n], dst[0..bytes]),
        }
        try w.writeData(out, dst[0..bytes]);
        done += n_rows;
    }
}

/// generate() into a new file at `path`.
pub fn generateFile(alloc: std.mem.Allocator, cfg: Config, opts: Options, path: []const u8) !void {
    // Written to a temporary file beside path and renamed over it when complete: a killed
    // or failed write never leaves a truncated file at path.
    var af = try std.fs.cwd().atomicFile(path, .{});
    defer af.deinit();
    var bw = std.io.bufferedWriter(af.file.writer());
    try generate(alloc, cfg, opts, bw.writer());
    try bw.flush();
    try af.finish();
}

const testing = std.testing;

fn genToMemory(cfg: Config, opts: Options) !std.ArrayList(u8) {
    var out = std.ArrayList(u8).init(testing.allocator);
    errdefer out.deinit();
    try generate(testing.allocator, cfg, opts, out.writer());
    return out;
}

test "tiny llama/phi2/gpt2 are valid GGUFs with llama.cpp names, deterministic by seed" {
    for ([_]Arch{ .llama, .phi2, .gpt2 }) |arch| {
        var cfg = preset(.tiny);
        cfg.arch = arch;
        var a = try genToMemory(cfg, .{ .seed = 7, .weight_type = .f16 });
        defer a.deinit();
        var b = try genToMemory(cfg, .{ .seed = 7, .weight_type = .f16 });
        defer b.deinit();
        try testing.expectEqualSlices(u8, a.items, b.items);
        var f = try reader.File.parse(testing.allocator, a.items, null);
        defer f.deinit();
        try testing.expectEqualStrings(@tagName(arch), f.architecture().?);
        try testing.expect(f.findTensor("blk.1.ffn_down.weight") != null);
        try testing.expectEqual(GgmlType.f16, f.findTensor("output.weight").?.type);
        try testing.expectEqual(GgmlType.f32, f.findTensor("output_norm.weight").?.type);
        switch (arch) {
            .llama => {
                try testing.expectEqual([4]u64{ 64, 32, 1, 1 }, f.findTensor("blk.0.attn_k.weight").?.ne);
                try testing.expectEqual(@as(?u32, 2), f.getU32("llama.attention.head_count_kv"));
            },
            .phi2 => {
                try testing.expectEqual([4]u64{ 64, 128, 1, 1 }, f.findTensor("blk.0.attn_qkv.weight").?.ne);
                try testing.expect(f.findTensor("output.bias") != null);
                try testing.expectEqual(@as(?u32, 8), f.getU32("phi2.rope.dimension_count"));
            },
            .gpt2 => {
                try testing.expect(f.findTensor("position_embd.weight") != null);
                try testing.expect(f.findTensor("blk.0.ffn_norm.bias") != null);
            },
        }
    }
    var c = try genToMemory(preset(.tiny), .{ .seed = 8 });
    defer c.deinit();
    var f = try reader.File.parse(testing.allocator, c.items, null);
    defer f.deinit();
    // Weights look like N(0, 1/64); norms are exactly 1.
    const q = std.mem.bytesAsSlice(f32, @as([]align(1) const u8, f.findTensor("blk.0.attn_q.weight").?.data));
    var sum_sq: f64 = 0;
    for (q) |x| sum_sq += x * x;
    const variance = sum_sq / @as(f64, @floatFromInt(q.len));
    try testing.expect(variance > 0.8 / 64.0 and variance < 1.2 / 64.0);
    try testing.expectEqual(@as(f32, 1), std.mem.bytesAsSlice(f32, @as([]align(1) const u8, f.findTensor("output_norm.weight").?.data))[5]);
}

test "tokenizer keys are copied from a vocabulary GGUF" {
    var v = try reader.openFixture(testing.allocator, "vocab/ggml-vocab-llama-spm.gguf", null);
    defer v.deinit();
    var cfg = preset(.tiny);
    cfg.n_embd = 32;
    var out = try genToMemory(cfg, .{ .vocab = &v });
    defer out.deinit();
    var f = try reader.File.parse(testing.allocator, out.items, null);
    defer f.deinit();
    try testing.expectEqual([4]u64{ 32, 32000, 1, 1 }, f.findTensor("token_embd.weight").?.ne);
    try testing.expectEqualStrings("llama", f.getString("tokenizer.ggml.model").?);
    try testing.expectEqualStrings("<0x00>", f.getArray("tokenizer.ggml.tokens").?.string(3).?);
}

test "quantized types need the hook; presets have the published shapes" {
    try testing.expectError(error.NeedQuantizer, generate(testing.allocator, preset(.tiny), .{ .weight_type = .q8_0 }, std.io.null_writer));
    const m = preset(.@"mistral-7b");
    try testing.expectEqual(@as(u32, 8), m.n_head_kv);
    try testing.expectEqual(@as(u32, 14336), m.n_ff);
    try testing.expectEqual(@as(u32, 22), preset(.@"tinyllama-1.1b").n_layer);
}
