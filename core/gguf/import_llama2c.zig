//! llama2.c checkpoint (legacy format) + llama2.c tokenizer -> GGUF llama, laid out exactly as
//! llama.cpp's convert-llama2c-to-ggml writes it (same key order, tensor order and token
//! fix-ups), so importing stories260K.bin + tok512.bin reproduces stories260K.gguf byte for byte.
//!
//! Checkpoint: 7 x i32 header (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size,
//! seq_len; vocab_size < 0 means an unshared classifier), then f32 weights in this order:
//! token_embedding[vocab][dim], rms_att[L][dim], wq[L][dim][dim], wk[L][kv_dim][dim],
//! wv[L][kv_dim][dim], wo[L][dim][dim], rms_ffn[L][dim], w1[L][hidden][dim], w2[L][dim][hidden],
//! w3[L][hidden][dim], rms_final[dim], optionally freq_cis_real/imag[seq_len][head_size/2],
//! then wcls[vocab][dim] when unshared.
//! llama2.c's export already stores wq/wk in the rotary layout GGUF's llama uses (checked
//! against stories260K.gguf: identical bytes), so no head permutation is applied.
const std = @import("std");
const reader = @import("reader.zig");
const writer_mod = @import("writer.zig");

pub const Diagnostic = reader.Diagnostic;
pub const Progress = writer_mod.Progress;

pub const Options = struct {
    /// llama.context_length; null takes the checkpoint's seq_len. (stories260K.gguf says 2048.)
    context_length: ?u32 = null,
    name: []const u8 = "llama",
    rms_eps: f32 = 1e-5,
    progress: ?Progress = null,
};

pub const Config = struct {
    dim: u32,
    hidden_dim: u32,
    n_layers: u32,
    n_heads: u32,
    n_kv_heads: u32,
    vocab_size: u32,
    seq_len: u32,
    shared_classifier: bool,
};

fn fail(diag: ?*Diagnostic, offset: ?u64, comptime fmt: []const u8, args: anytype) error{InvalidCheckpoint} {
    if (diag) |d| d.set(offset, fmt, args);
    return error.InvalidCheckpoint;
}

pub fn parseConfig(bytes: []const u8, diag: ?*Diagnostic) !Config {
    if (bytes.len < 28) return fail(diag, 0, "llama2.c checkpoint: {d} bytes is too short for the header", .{bytes.len});
    var h: [7]i32 = undefined;
    for (&h, 0..) |*x, i| x.* = std.mem.readInt(i32, bytes[i * 4 ..][0..4], .little);
    const names = [_][]const u8{ "dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len" };
    for (h, names, 0..) |x, n, i| {
        // Only vocab_size may be negative; 1<<20 bounds every field so later products fit u64.
        const v = if (i == 5) @abs(x) else if (x < 0) 0 else @abs(x);
        if (v == 0 or v > 1 << 20) return fail(diag, i * 4, "llama2.c checkpoint: {s} = {d} is out of range", .{ n, x });
    }
    const c = Config{
        .dim = @intCast(h[0]),
        .hidden_dim = @intCast(h[1]),
        .n_layers = @intCast(h[2]),
        .n_heads = @intCast(h[3]),
        .n_kv_heads = @intCast(h[4]),
        .vocab_size = @abs(h[5]),
        .seq_len = @intCast(h[6]),
        .shared_classifier = h[5] > 0,
    };
    if (c.dim % c.n_heads != 0 or c.n_heads % c.n_kv_heads != 0 or (c.dim / c.n_heads) % 2 != 0)
        return fail(diag, 0, "llama2.c checkpoint: dim {d}, n_heads {d}, n_kv_heads {d} are inconsistent", .{ c.dim, c.n_heads, c.n_kv_heads });
    return c;
}

const Layout = struct {
    c: Config,
    /// Float index of each weight group.
    emb: u64,
    rms_att: u64,
    wq: u64,
    wk: u64,
    wv: u64,
    wo: u64,
    rms_ffn: u64,
    w1: u64,
    w2: u64,
    w3: u64,
    rms_final: u64,
    wcls: u64,
    end: u64,

    fn init(c: Config, n_floats: u64) ?Layout {
        const d: u64 = c.dim;
        const kv = d / c.n_heads * c.n_kv_heads;
        const hd: u64 = c.hidden_dim;
        const L: u64 = c.n_layers;
        var l: Layout = undefined;
        l.c = c;
        l.emb = 0;
        l.rms_att = l.emb + c.vocab_size * d;
        l.wq = l.rms_att + L * d;
        l.wk = l.wq + L * d * d;
        l.wv = l.wk + L * kv * d;
        l.wo = l.wv + L * kv * d;
        l.rms_ffn = l.wo + L * d * d;
        l.w1 = l.rms_ffn + L * d;
        l.w2 = l.w1 + L * hd * d;
        l.w3 = l.w2 + L * d * hd;
        l.rms_final = l.w3 + L * hd * d;
        const after = l.rms_final + d;
        const freq = c.seq_len * (d / c.n_heads); // real + imag, head_size/2 each
        const cls: u64 = if (c.shared_classifier) 0 else c.vocab_size * d;
        // Newer exports drop freq_cis; tell the variants apart by size.
        for ([_]u64{ freq, 0 }) |f| if (after + f + cls == n_floats) {
            l.wcls = if (c.shared_classifier) l.emb else after + f;
            l.end = n_floats;
            return l;
        };
        return null;
    }
};

/// llama2.c stores spaces as ' '; SentencePiece (and GGUF) use U+2581.
fn escapeWhitespace(alloc: std.mem.Allocator, s: []const u8) ![]u8 {
    return std.mem.replaceOwned(u8, alloc, s, " ", "\u{2581}");
}

fn isByteToken(s: []const u8) bool {
    if (s.len != 6 or !std.mem.startsWith(u8, s, "<0x") or s[5] != '>') return false;
    return std.ascii.isHex(s[3]) and std.ascii.isHex(s[4]);
}

const Vocab = struct {
    tokens: [][]const u8,
    scores: []f32,
    types: []i32,
};

/// Parses tok*.bin into arena-owned arrays, applying llama.cpp's fix-ups.
fn parseTokenizer(a: std.mem.Allocator, bytes: []const u8, n_vocab: u32, diag: ?*Diagnostic) !Vocab {
    if (bytes.len < 4) return fail(diag, 0, "llama2.c tokenizer: too short", .{});
    const v = Vocab{
        .tokens = try a.alloc([]const u8, n_vocab),
        .scores = try a.alloc(f32, n_vocab),
        .types = try a.alloc(i32, n_vocab),
    };
    var pos: usize = 4; // max_token_length, unused
    for (0..n_vocab) |i| {
        if (bytes.len - pos < 8) return fail(diag, pos, "llama2.c tokenizer: truncated at token {d}", .{i});
        v.scores[i] = @bitCast(std.mem.readInt(u32, bytes[pos..][0..4], .little));
        const len = std.mem.readInt(i32, bytes[pos + 4 ..][0..4], .little);
        pos += 8;
        if (len < 0 or len > bytes.len - pos) return fail(diag, pos - 4, "llama2.c tokenizer: token {d} has length {d}", .{ i, len });
        const text = bytes[pos..][0..@intCast(len)];
        pos += @intCast(len);
        const special: ?[]const u8 = switch (i) {
            0 => "<unk>",
            1 => "<s>",
            2 => "</s>",
            else => null,
        };
        v.types[i] = if (i == 0) 2 else if (special != null) 3 else if (text.len == 0) 3 else if (isByteToken(text)) 6 else 1;
        v.tokens[i] = special orelse try escapeWhitespace(a, text);
    }
    return v;
}

/// Converts in-memory checkpoint + tokenizer images, writing GGUF v3 to `out`.
pub fn convert(alloc: std.mem.Allocator, checkpoint: []const u8, tokenizer: []const u8, out: anytype, opts: Options, diag: ?*Diagnostic) !void {
    const c = try parseConfig(checkpoint, diag);
    const n_floats = (checkpoint.len - 28) / 4;
    const lay = Layout.init(c, n_floats) orelse
        return fail(diag, 28, "llama2.c checkpoint: {d} bytes of weights do not match the header's shapes", .{checkpoint.len - 28});
    var arena = std.heap.ArenaAllocator.init(alloc);
    defer arena.deinit();
    const vocab = try parseTokenizer(arena.allocator(), tokenizer, c.vocab_size, diag);

    var w = writer_mod.Writer.init(alloc);
    defer w.deinit();
    w.progress = opts.progress;
    try putMetadata(&w, c, vocab, opts);
    try addTensors(&w, lay, checkpoint[28..]);
    try w.write(out);
}

fn putMetadata(w: *writer_mod.Writer, c: Config, v: Vocab, opts: Options) !void {
    try w.putStringArray("tokenizer.ggml.tokens", v.tokens);
    try w.putArray(f32, "tokenizer.ggml.scores", v.scores);
    try w.putArray(i32, "tokenizer.ggml.token_type", v.types);
    try w.putString("tokenizer.ggml.model", "llama");
    try w.putString("general.architecture", "llama");
    try w.putString("general.name", opts.name);
    try w.putU32("tokenizer.ggml.unknown_token_id", 0);
    try w.putU32("tokenizer.ggml.bos_token_id", 1);
    try w.putU32("tokenizer.ggml.eos_token_id", 2);
    try w.putU32("tokenizer.ggml.seperator_token_id", std.math.maxInt(u32));
    try w.putU32("tokenizer.ggml.padding_token_id", std.math.maxInt(u32));
    try w.putU32("llama.context_length", opts.context_length orelse c.seq_len);
    try w.putU32("llama.embedding_length", c.dim);
    try w.putU32("llama.feed_forward_length", c.hidden_dim);
    try w.putU32("llama.attention.head_count", c.n_heads);
    try w.putU32("llama.attention.head_count_kv", c.n_kv_heads);
    try w.putU32("llama.block_count", c.n_layers);
    try w.putU32("llama.rope.dimension_count", c.dim / c.n_heads);
    try w.putF32("llama.attention.layer_norm_rms_epsilon", opts.rms_eps);
}

fn addTensors(w: *writer_mod.Writer, l: Layout, weights: []const u8) !void {
    const c = l.c;
    const d: u64 = c.dim;
    const hd: u64 = c.hidden_dim;
    const kv = d / c.n_heads * c.n_kv_heads;
    const S = struct {
        fn f(ws: []const u8, start: u64, n: u64) []const u8 {
            return ws[@intCast(start * 4)..][0..@intCast(n * 4)];
        }
    };
    try w.addTensor("token_embd.weight", .f32, &.{ d, c.vocab_size }, S.f(weights, l.emb, d * c.vocab_size));
    try w.addTensor("output_norm.weight", .f32, &.{d}, S.f(weights, l.rms_final, d));
    try w.addTensor("output.weight", .f32, &.{ d, c.vocab_size }, S.f(weights, l.wcls, d * c.vocab_size));
    var name_buf: [64]u8 = undefined;
    for (0..c.n_layers) |i| {
        const T = struct { name: []const u8, start: u64, ne: [2]u64 };
        const items = [_]T{
            .{ .name = "attn_q", .start = l.wq + i * d * d, .ne = .{ d, d } },
            .{ .name = "attn_k", .start = l.wk + i * kv * d, .ne = .{ d, kv } },
            .{ .name = "attn_v", .start = l.wv + i * kv * d, .ne = .{ d, kv } },
            .{ .name = "attn_output", .start = l.wo + i * d * d, .ne = .{ d, d } },
            .{ .name = "attn_norm", .start = l.rms_att + i * d, .ne = .{ d, 1 } },
            .{ .name = "ffn_gate", .start = l.w1 + i * hd * d, .ne = .{ d, hd } },
            .{ .name = "ffn_down", .start = l.w2 + i * d * hd, .ne = .{ hd, d } },
            .{ .name = "ffn_up", .start = l.w3 + i * hd * d, .ne = .{ d, hd } },
            .{ .name = "ffn_norm", .start = l.rms_ffn + i * d, .ne = .{ d, 1 } },
        };
        for (items) |t| {
            const name = try std.fmt.bufPrint(&name_buf, "blk.{d}.{s}.weight", .{ i, t.name });
            const dims: []const u64 = if (t.ne[1] == 1) t.ne[0..1] else &t.ne;
            try w.addTensor(name, .f32, dims, S.f(weights, t.start, t.ne[0] * t.ne[1]));
        }
    }
}

/// Reads both files and writes the GGUF to `out_path`.
pub fn convertFiles(alloc: std.mem.Allocator, checkpoint_path: []const u8, tokenizer_path: []const u8, out_path: []const u8, opts: Options, diag: ?*Diagnostic) !void {
    const ckpt = try std.fs.cwd().readFileAlloc(alloc, checkpoint_path, 1 << 36);
    defer alloc.free(ckpt);
    const tok = try std.fs.cwd().readFileAlloc(alloc, tokenizer_path, 1 << 30);
    defer alloc.free(tok);
    // Written to a temporary file beside out_path and renamed over it when complete: a killed
    // or failed write never leaves a truncated file at out_path.
    var af = try std.fs.cwd().atomicFile(out_path, .{});
    defer af.deinit();
    var bw = std.io.bufferedWriter(af.file.writer());
    try convert(alloc, ckpt, tok, bw.writer(), opts, diag);
    try bw.flush();
    try af.finish();
}

const testing = std.testing;

test "stories260K.bin + tok512.bin import to exactly stories260K.gguf" {
    const alloc = testing.allocator;
    const ckpt_path = try reader.fixturePath(alloc, "stories260K.bin");
    defer alloc.free(ckpt_path);
    const tok_path = try reader.fixturePath(alloc, "tok512.bin");
    defer alloc.free(tok_path);
    const ckpt = try std.fs.cwd().readFileAlloc(alloc, ckpt_path, 1 << 24);
    defer alloc.free(ckpt);
    const tok = try std.fs.cwd().readFileAlloc(alloc, tok_path, 1 << 24);
    defer alloc.free(tok);

    var out = std.ArrayList(u8).init(alloc);
    defer out.deinit();
    var diag = Diagnostic{};
    convert(alloc, ckpt, tok, out.writer(), .{ .context_length = 2048 }, &diag) catch |e| {
        std.debug.print("{s}\n", .{diag.message()});
        return e;
    };
    var got = try reader.File.parse(alloc, out.items, null);
    defer got.deinit();
    var want = try reader.openFixture(alloc, "stories260K.gguf", null);
    defer want.deinit();
    // Tensor for tensor first (clear failures), then the whole image.
    try testing.expectEqual(want.tensors.len, got.tensors.len);
    for (want.tensors, got.tensors) |x, y| {
        try testing.expectEqualStrings(x.name, y.name);
        try testing.expectEqual(x.ne, y.ne);
        try testing.expectEqualSlices(u8, x.data, y.data);
    }
    const wt = want.getArray("tokenizer.ggml.tokens").?;
    const gt = got.getArray("tokenizer.ggml.tokens").?;
    for (0..wt.len) |i| try testing.expectEqualStrings(wt.string(i).?, gt.string(i).?);
    try testing.expectEqualSlices(u8, want.getArray("tokenizer.ggml.scores").?.data, got.getArray("tokenizer.ggml.scores").?.data);
    try testing.expectEqualSlices(u8, want.getArray("tokenizer.ggml.token_type").?.data, got.getArray("tokenizer.ggml.token_type").?.data);
    try testing.expectEqualSlices(u8, want.bytes, out.items);
}

test "bad checkpoints are rejected with a diagnostic" {
    var diag = Diagnostic{};
    var hdr = [_]i32{ 64, 172, 5, 8, 4, 512, 512 };
    const null_out = std.io.null_writer;
    try testing.expectError(error.InvalidCheckpoint, convert(testing.allocator, std.mem.sliceAsBytes(&hdr), "", null_out, .{}, &diag));
    try testing.expect(std.mem.indexOf(u8, diag.message(), "do not match") != null);
    hdr[3] = 0;
    try testing.expectError(error.InvalidCheckpoint, convert(testing.allocator, std.mem.sliceAsBytes(&hdr), "", null_out, .{}, &diag));
    try testing.expect(std.mem.indexOf(u8, diag.message(), "n_heads") != null);
}
