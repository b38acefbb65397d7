//! Legacy GGML/GGJT v3 llama files (pre-GGUF llama.cpp) -> GGUF llama, following llama.cpp's
//! convert-llama-ggml-to-gguf.py: tensors renamed, n_ff derived, vocabulary fixed up.
//!
//! GGJT v3 layout: magic "tjgg" (u32 0x67676a74 LE), u32 version 3, 7 x u32 hparams (n_vocab,
//! n_embd, n_mult, n_head, n_layer, n_rot, ftype), n_vocab x (u32 len, bytes, f32 score), then
//! tensors to EOF: i32 n_dims, i32 name_len, i32 type, i32 ne[n_dims], name, padding to a
//! 32-byte file offset, data. Only v3 is accepted: v1/v2 used older Q4/Q8 block layouts.
const std = @import("std");
const reader = @import("reader.zig");
const writer_mod = @import("writer.zig");
const types = @import("types.zig");

const GgmlType = types.GgmlType;
pub const Diagnostic = reader.Diagnostic;
pub const Progress = writer_mod.Progress;

pub const Options = struct {
    name: []const u8 = "llama",
    /// GGJT does not record these; llama.cpp's converter took them as arguments.
    context_length: u32 = 2048,
    rms_eps: f32 = 5e-6,
    /// n_head / n_kv_head for GQA models (llama2 70B used 8); 1 for everything else.
    gqa: u32 = 1,
    progress: ?Progress = null,
};

pub const Hparams = struct {
    n_vocab: u32,
    n_embd: u32,
    n_mult: u32,
    n_head: u32,
    n_layer: u32,
    n_rot: u32,
    ftype: u32,

    /// llama.cpp's pre-GGUF feed-forward size rule.
    pub fn nFF(h: Hparams) u32 {
        return (2 * (4 * h.n_embd) / 3 + h.n_mult - 1) / h.n_mult * h.n_mult;
    }
};

fn fail(diag: ?*Diagnostic, offset: ?u64, comptime fmt: []const u8, args: anytype) error{InvalidGgjt} {
    if (diag) |d| d.set(offset, fmt, args);
    return error.InvalidGgjt;
}

const Cursor = struct {
    b: []const u8,
    pos: usize,
    diag: ?*Diagnostic,

    fn take(c: *Cursor, n: u64, what: []const u8) ![]const u8 {
        if (n > c.b.len - c.pos) return fail(c.diag, c.pos, "GGJT: truncated {s} (needs {d} bytes, {d} remain)", .{ what, n, c.b.len - c.pos });
        const s = c.b[c.pos..][0..@intCast(n)];
        c.pos += @intCast(n);
        return s;
    }

    fn u32At(c: *Cursor, what: []const u8) !u32 {
        return std.mem.readInt(u32, (try c.take(4, what))[0..4], .little);
    }
};

const Tensor = struct { name: []const u8, type: GgmlType, n_dims: u32, ne: [4]u64, data: []const u8 };

/// Maps a legacy tensor name to the GGUF llama one; null for names llama.cpp did not know.
fn gufName(buf: []u8, legacy: []const u8) !?[]const u8 {
    const fixed = [_][2][]const u8{
        .{ "tok_embeddings.weight", "token_embd.weight" },
        .{ "norm.weight", "output_norm.weight" },
        .{ "output.weight", "output.weight" },
    };
    for (fixed) |m| if (std.mem.eql(u8, legacy, m[0])) return m[1];
    if (!std.mem.startsWith(u8, legacy, "layers.")) return null;
    const rest = legacy["layers.".len..];
    const dot = std.mem.indexOfScalar(u8, rest, '.') orelse return null;
    const layer = std.fmt.parseInt(u32, rest[0..dot], 10) catch return null;
    const per_layer = [_][2][]const u8{
        .{ "attention.wq.weight", "attn_q.weight" },
        .{ "attention.wk.weight", "attn_k.weight" },
        .{ "attention.wv.weight", "attn_v.weight" },
        .{ "attention.wo.weight", "attn_output.weight" },
        .{ "attention_norm.weight", "attn_norm.weight" },
        .{ "feed_forward.w1.weight", "ffn_gate.weight" },
        .{ "feed_forward.w2.weight", "ffn_down.weight" },
        .{ "feed_forward.w3.weight", "ffn_up.weight" },
        .{ "ffn_norm.weight", "ffn_norm.weight" },
    };
    for (per_layer) |m| if (std.mem.eql(u8, rest[dot + 1 ..], m[0]))
        return try std.fmt.bufPrint(buf, "blk.{d}.{s}", .{ layer, m[1] });
    return null;
}

fn readHparams(c: *Cursor) !Hparams {
    const magic = try c.take(4, "magic");
    if (!std.mem.eql(u8, magic, "tjgg")) {
        if (std.mem.eql(u8, magic, "lmgg") or std.mem.eql(u8, magic, "fmgg"))
            return fail(c.diag, 0, "GGML/GGMF files (pre-GGJT) are not supported; only GGJT v3", .{});
        return fail(c.diag, 0, "bad magic {s}: not a GGJT file", .{std.fmt.fmtSliceHexLower(magic)});
    }
    const version = try c.u32At("version");
    if (version != 3) return fail(c.diag, 4, "GGJT version {d} is not supported (only 3: older versions used other quant layouts)", .{version});
    var h: Hparams = undefined;
    inline for (@typeInfo(Hparams).@"struct".fields) |f| @field(h, f.name) = try c.u32At(f.name);
    if (h.n_vocab == 0 or h.n_embd == 0 or h.n_head == 0 or h.n_layer == 0 or h.n_mult == 0 or
        h.n_embd % h.n_head != 0 or h.n_embd > 1 << 20 or h.n_mult > 1 << 20 or h.n_layer > 1 << 16)
        return fail(c.diag, 8, "GGJT: implausible hparams (n_embd {d}, n_head {d}, n_layer {d}, n_mult {d})", .{ h.n_embd, h.n_head, h.n_layer, h.n_mult });
    return h;
}

const Vocab = struct { tokens: [][]const u8, scores: []f32, types: []i32 };

/// Old llama.cpp stored decoded token text; GGUF wants SentencePiece pieces.
fn readVocab(a: std.mem.Allocator, c: *Cursor, n: u32) !Vocab {
    if (@as(u64, n) * 8 > c.b.len - c.pos) return fail(c.diag, c.pos, "GGJT: n_vocab {d} exceeds the file", .{n});
    const v = Vocab{ .tokens = try a.alloc([]const u8, n), .scores = try a.alloc(f32, n), .types = try a.alloc(i32, n) };
    for (0..n) |i| {
        const len = try c.u32At("token length");
        const text = try c.take(len, "token text");
        v.scores[i] = @bitCast(try c.u32At("token score"));
        v.types[i] = 1;
        v.tokens[i] = switch (i) {
            0 => "<unk>",
            1 => "<s>",
            2 => "</s>",
            else => if (i <= 258 and text.len == 1)
                try std.fmt.allocPrint(a, "<0x{X:0>2}>", .{text[0]})
            else
                try std.mem.replaceOwned(u8, a, text, " ", "\u{2581}"),
        };
        v.types[i] = if (i == 0) 2 else if (i <= 2 or text.len == 0) 3 else if (isByteToken(v.tokens[i])) 6 else 1;
    }
    return v;
}

fn isByteToken(s: []const u8) bool {
    return s.len == 6 and std.mem.startsWith(u8, s, "<0x") and s[5] == '>' and std.ascii.isHex(s[3]) and std.ascii.isHex(s[4]);
}

fn readTensor(c: *Cursor, name_buf: []u8) !Tensor {
    const at = c.pos;
    const n_dims = try c.u32At("n_dims");
    const name_len = try c.u32At("name length");
    const raw_type = try c.u32At("tensor type");
    if (n_dims < 1 or n_dims > 4) return fail(c.diag, at, "GGJT: tensor with n_dims {d}", .{n_dims});
    var ne = [_]u64{1} ** 4;
    var rows: u64 = 1;
    for (ne[0..n_dims], 0..) |*d, j| {
        d.* = try c.u32At("dims");
        if (d.* == 0) return fail(c.diag, at, "GGJT: tensor has a zero dimension", .{});
        if (j > 0) rows = std.math.mul(u64, rows, d.*) catch return fail(c.diag, at, "GGJT: tensor size overflows", .{});
    }
    const legacy = try c.take(name_len, "tensor name");
    const t: GgmlType = @enumFromInt(raw_type);
    const tr = t.traits() orelse return fail(c.diag, at, "GGJT: tensor '{s}' has unknown type {d}", .{ legacy, raw_type });
    const row = t.rowBytes(ne[0]) orelse
        return fail(c.diag, at, "GGJT: tensor '{s}': row of {d} is not a multiple of {s}'s block of {d}", .{ legacy, ne[0], tr.name, tr.block_elems });
    const name = (try gufName(name_buf, legacy)) orelse
        return fail(c.diag, at, "GGJT: unknown llama tensor '{s}'", .{legacy});
    c.pos = @intCast(@min(c.b.len, std.mem.alignForward(u64, c.pos, 32)));
    const size = std.math.mul(u64, row, rows) catch return fail(c.diag, at, "GGJT: tensor size overflows", .{});
    const data = try c.take(size, name);
    return .{ .name = name, .type = t, .n_dims = n_dims, .ne = ne, .data = data };
}

/// Converts a GGJT v3 image in memory, writing GGUF v3 to `out`. Tensor data is streamed from
/// `bytes` (nothing is copied).
pub fn convert(alloc: std.mem.Allocator, bytes: []const u8, out: anytype, opts: Options, diag: ?*Diagnostic) !void {
    var c = Cursor{ .b = bytes, .pos = 0, .diag = diag };
    const h = try readHparams(&c);
    var arena = std.heap.ArenaAllocator.init(alloc);
    defer arena.deinit();
    const vocab = try readVocab(arena.allocator(), &c, h.n_vocab);

    var w = writer_mod.Writer.init(alloc);
    defer w.deinit();
    w.progress = opts.progress;
    var n_ff = h.nFF();
    var name_buf: [64]u8 = undefined;
    while (c.pos < bytes.len) {
        const t = try readTensor(&c, &name_buf);
        // The tensor is the truth when a model used a custom n_ff (llama2 70B's ffn_dim_multiplier).
        if (std.mem.eql(u8, t.name, "blk.0.ffn_gate.weight")) n_ff = @intCast(t.ne[1]);
        w.addTensor(t.name, t.type, t.ne[0..t.n_dims], t.data) catch |e| switch (e) {
            error.DuplicateTensor => return fail(diag, c.pos, "GGJT: duplicate tensor '{s}'", .{t.name}),
            else => return e,
        };
    }
    // Metadata goes first in the file; the writer keeps keys and tensors apart, so order is free.
    try putMetadata(&w, h, n_ff, vocab, opts);
    try w.write(out);
}

fn putMetadata(w: *writer_mod.Writer, h: Hparams, n_ff: u32, v: Vocab, opts: Options) !void {
    try w.putString("general.architecture", "llama");
    try w.putString("general.name", opts.name);
    try w.putU32("general.file_type", h.ftype);
    try w.putU32("llama.context_length", opts.context_length);
    try w.putU32("llama.embedding_length", h.n_embd);
    try w.putU32("llama.block_count", h.n_layer);
    try w.putU32("llama.feed_forward_length", n_ff);
    try w.putU32("llama.rope.dimension_count", h.n_rot);
    try w.putU32("llama.attention.head_count", h.n_head);
    try w.putU32("llama.attention.head_count_kv", h.n_head / opts.gqa);
    try w.putF32("llama.attention.layer_norm_rms_epsilon", opts.rms_eps);
    try w.putString("tokenizer.ggml.model", "llama");
    try w.putStringArray("tokenizer.ggml.tokens", v.tokens);
    try w.putArray(f32, "tokenizer.ggml.scores", v.scores);
    try w.putArray(i32, "tokenizer.ggml.token_type", v.types);
    try w.putU32("tokenizer.ggml.unknown_token_id", 0);
    try w.putU32("tokenizer.ggml.bos_token_id", 1);
    try w.putU32("tokenizer.ggml.eos_token_id", 2);
}

/// Maps `in_path` read-only and writes the GGUF to `out_path`.
pub fn convertFile(alloc: std.mem.Allocator, in_path: []const u8, out_path: []const u8, opts: Options, diag: ?*Diagnostic) !void {
    const in = try std.fs.cwd().openFile(in_path, .{});
    defer in.close();
    const size = try in.getEndPos();
    if (size < 8) return fail(diag, 0, "GGJT: file is {d} bytes", .{size});
    const map = try std.posix.mmap(null, @intCast(size), std.posix.PROT.READ, .{ .TYPE = .PRIVATE }, in.handle, 0);
    defer std.posix.munmap(map);
    // Written to a temporary file beside out_path and renamed over it when complete: a killed
    // or failed write never leaves a truncated file at out_path.
    var af = try std.fs.cwd().atomicFile(out_path, .{});
    defer af.deinit();
    var bw = std.io.bufferedWriter(af.file.writer());
    try convert(alloc, map, bw.writer(), opts, diag);
    try bw.flush();
    try af.finish();
}

const testing = std.testing;

test "TinyLLama-v0 GGJT v3 Q4_0 imports to a valid GGUF llama" {
    const alloc = testing.allocator;
    const path = try reader.fixturePath(alloc, "legacy/TinyLLama-v0.ggmlv3.q4_0.bin");
    defer alloc.free(path);
    const src = try std.fs.cwd().readFileAlloc(alloc, path, 1 << 26);
    defer alloc.free(src);
    var out = std.ArrayList(u8).init(alloc);
    defer out.deinit();
    var diag = Diagnostic{};
    convert(alloc, src, out.writer(), .{}, &diag) catch |e| {
        std.debug.print("{s}\n", .{diag.message()});
        return e;
    };
    var f = reader.File.parse(alloc, out.items, &diag) catch |e| {
        std.debug.print("{s}\n", .{diag.message()});
        return e;
    };
    defer f.deinit();
    try testing.expectEqual(@as(?u32, 64), f.getU32("llama.embedding_length"));
    try testing.expectEqual(@as(?u32, 256), f.getU32("llama.feed_forward_length"));
    try testing.expectEqual(@as(?u32, 8), f.getU32("llama.block_count"));
    try testing.expectEqual(@as(?u32, 16), f.getU32("llama.attention.head_count"));
    try testing.expectEqual(@as(?u32, 4), f.getU32("llama.rope.dimension_count"));
    try testing.expectEqual(@as(usize, 3 + 8 * 9), f.tensors.len);
    const emb = f.findTensor("token_embd.weight").?;
    try testing.expectEqual(GgmlType.q4_0, emb.type);
    try testing.expectEqual([4]u64{ 64, 32000, 1, 1 }, emb.ne);
    try testing.expectEqual([4]u64{ 256, 64, 1, 1 }, f.findTensor("blk.7.ffn_down.weight").?.ne);
    try testing.expectEqual(GgmlType.f32, f.findTensor("blk.3.attn_norm.weight").?.type);
    const toks = f.getArray("tokenizer.ggml.tokens").?;
    const tt = f.getArray("tokenizer.ggml.token_type").?;
    try testing.expectEqual(@as(u64, 32000), toks.len);
    try testing.expectEqualStrings("<unk>", toks.string(0).?);
    try testing.expectEqualStrings("</s>", toks.string(2).?);
    try testing.expectEqualStrings("<0x0A>", toks.string(3 + 10).?);
    try testing.expectEqualStrings("\u{2581}t", toks.string(259).?);
    try testing.expectEqual(@as(?i64, 2), tt.int(0));
    try testing.expectEqual(@as(?i64, 3), tt.int(1));
    try testing.expectEqual(@as(?i64, 6), tt.int(100));
    try testing.expectEqual(@as(?i64, 1), tt.int(259));
    // Q4_0 blocks are copied verbatim.
    try testing.expectEqualSlices(u8, src[456736..][0..emb.data.len], emb.data);
}

test "non-GGJT input is rejected" {
    var diag = Diagnostic{};
    try testing.expectError(error.InvalidGgjt, convert(testing.allocator, "GGUF\x03\x00\x00\x00", std.io.null_writer, .{}, &diag));
    try testing.expect(std.mem.indexOf(u8, diag.message(), "bad magic") != null);
    try testing.expectError(error.InvalidGgjt, convert(testing.allocator, "tjgg\x01\x00\x00\x00", std.io.null_writer, .{}, &diag));
    try testing.expect(std.mem.indexOf(u8, diag.message(), "version 1") != null);
}
