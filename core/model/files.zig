//! The model-file tools as one implementation shared by the CLI (`inspect`, `convert`,
//! `quantize`, `synth`) and the C ABI (core/abi_files.zig): argument parsing stays with the
//! callers, everything from opening the inputs to a finished output file happens here.
//! Errors from bad input files are error.InvalidGguf / InvalidCheckpoint / InvalidGgjt with
//! the Diagnostic naming the problem; bad requests are error.InvalidArgument (Diagnostic says
//! which); error.Aborted when a Progress with `stop` was stopped. Outputs are written to a
//! temporary file beside the destination and renamed over it when complete, so a failed or
//! killed write leaves the destination as it was (no truncated file).
const std = @import("std");
const reader = @import("../gguf/reader.zig");
const writer_mod = @import("../gguf/writer.zig");
const inspect_mod = @import("../gguf/inspect.zig");
const import_llama2c = @import("../gguf/import_llama2c.zig");
const import_ggjt = @import("../gguf/import_ggjt.zig");
const synth_mod = @import("../gguf/synth.zig");
const quant = @import("../quant/quant.zig");
const quantize_mod = @import("quantize.zig");

pub const Diagnostic = reader.Diagnostic;
pub const Progress = writer_mod.Progress;
pub const Target = quantize_mod.Target;

/// Writes the gguf-dump style text of `path` to `out`.
pub fn inspect(alloc: std.mem.Allocator, path: []const u8, out: anytype, diag: *Diagnostic) !void {
    var f = try reader.File.open(alloc, path, diag);
    defer f.deinit();
    try inspect_mod.dump(&f, out, .{});
}

/// llama.c checkpoint + tokenizer.bin → GGUF.
pub fn convertLlama2c(alloc: std.mem.Allocator, checkpoint: []const u8, tokenizer: []const u8, out_path: []const u8, progress: ?Progress, diag: *Diagnostic) !void {
    try import_llama2c.convertFiles(alloc, checkpoint, tokenizer, out_path, .{ .progress = progress }, diag);
}

/// GGJT (legacy ggml) → GGUF.
pub fn convertGgjt(alloc: std.mem.Allocator, in_path: []const u8, out_path: []const u8, progress: ?Progress, diag: *Diagnostic) !void {
    try import_ggjt.convertFile(alloc, in_path, out_path, .{ .progress = progress }, diag);
}

/// F32/F16 GGUF → `target`. An input whose matrices are already quantized is refused
/// (error.InvalidGguf naming the tensor): requantizing would only copy them. So is one where
/// no matrix has whole blocks of the target type (error.InvalidArgument); when only some
/// keep F32/F16, `diag` holds a note saying which on success.
pub fn quantize(alloc: std.mem.Allocator, in_path: []const u8, out_path: []const u8, target: Target, progress: ?Progress, diag: *Diagnostic) !void {
    {
        var f = try reader.File.open(alloc, in_path, diag);
        defer f.deinit();
        for (f.tensors) |*t| {
            if (t.n_dims >= 2 and t.type != .f32 and t.type != .f16) {
                diag.set(null, "tensor '{s}' is already {s}; quantize needs F32/F16 weights", .{ t.name, t.type.name() });
                return error.InvalidGguf;
            }
        }
    }
    try quantize_mod.quantizeFile(alloc, in_path, out_path, target, progress, diag);
}

pub const Arch = synth_mod.Arch;
pub const Preset = synth_mod.Preset;

/// A random-weight model: a preset, optionally reshaped (0 = the preset's value).
pub const SynthRequest = struct {
    arch: Arch = .llama,
    preset: Preset = .tiny,
    weight_type: quant.GgmlType = .f32,
    /// A GGUF whose tokenizer.* keys are copied (n_vocab follows it); null: no tokenizer.
    vocab_path: ?[]const u8 = null,
    seed: u64 = 0,
    n_embd: u32 = 0,
    n_ff: u32 = 0,
    n_layer: u32 = 0,
    n_head: u32 = 0,
    n_head_kv: u32 = 0,
    n_ctx: u32 = 0,
    progress: ?Progress = null,
};

/// synth hands whole rows of one tensor; quantize them row by row.
fn quantizeHook(t: quant.GgmlType, src: []const f32, dst: []u8) synth_mod.QuantizeError!void {
    try quant.quantizeRow(t, src, dst);
}

/// A tokenizer-only GGUF image: <unk>, <s>, </s>, the 256 <0xNN> byte tokens, then filler
/// pieces up to n_vocab.
fn byteVocab(alloc: std.mem.Allocator, out: *std.ArrayList(u8), n_vocab: u32) !void {
    var arena = std.heap.ArenaAllocator.init(alloc);
    defer arena.deinit();
    const a = arena.allocator();
    const toks = try a.alloc([]const u8, n_vocab);
    const scores = try a.alloc(f32, n_vocab);
    const types = try a.alloc(i32, n_vocab);
    for (toks, scores, types, 0..) |*tk, *sc, *ty, i| {
        tk.* = switch (i) {
            0 => "<unk>",
            1 => "<s>",
            2 => "</s>",
            3...258 => try std.fmt.allocPrint(a, "<0x{X:0>2}>", .{i - 3}),
            else => try std.fmt.allocPrint(a, "\u{2581}t{d}", .{i}),
        };
        sc.* = if (i > 258) -@as(f32, @floatFromInt(i)) else 0;
        ty.* = switch (i) {
            0 => 2,
            1, 2 => 3,
            3...258 => 6,
            else => 1,
        };
    }
    var w = writer_mod.Writer.init(alloc);
    defer w.deinit();
    try w.putString("tokenizer.ggml.model", "llama");
    try w.putStringArray("tokenizer.ggml.tokens", toks);
    try w.putArray(f32, "tokenizer.ggml.scores", scores);
    try w.putArray(i32, "tokenizer.ggml.token_type", types);
    try w.putU32("tokenizer.ggml.unknown_token_id", 0);
    try w.putU32("tokenizer.ggml.bos_token_id", 1);
    try w.putU32("tokenizer.ggml.eos_token_id", 2);
    try w.write(out.writer());
}

pub fn synth(alloc: std.mem.Allocator, req: SynthRequest, out_path: []const u8, diag: *Diagnostic) !void {
    const t = req.weight_type;
    if (t != .f32 and t != .f16 and !t.isQuantized()) {
        diag.set(null, "weight type {s} cannot be synthesized", .{t.name()});
        return error.InvalidArgument;
    }
    var cfg = synth_mod.preset(req.preset);
    cfg.arch = req.arch;
    inline for (.{ "n_embd", "n_ff", "n_layer", "n_head", "n_head_kv", "n_ctx" }) |f| {
        if (@field(req, f) != 0) @field(cfg, f) = @field(req, f);
    }
    if (req.arch == .gpt2) cfg.n_head_kv = cfg.n_head;
    // A preset's rows become whole blocks of the weight type (tiny's n_ff 172 is no multiple of
    // 32, its n_embd 64 none of 256); sizes given explicitly are kept and checked as they are.
    if (t.traits()) |tr| if (tr.block_elems > 1) {
        const b: u32 = @intCast(tr.block_elems);
        if (req.n_ff == 0) cfg.n_ff = std.mem.alignForward(u32, cfg.n_ff, b);
        if (req.n_embd == 0 and cfg.n_embd % b != 0) cfg.n_embd = std.mem.alignForward(u32, cfg.n_embd, b);
    };
    var vocab: ?reader.File = null;
    defer if (vocab) |*v| v.deinit();
    var vocab_bytes = std.ArrayList(u8).init(alloc);
    defer vocab_bytes.deinit();
    if (req.vocab_path) |vp| {
        vocab = try reader.File.open(alloc, vp, diag);
    } else {
        // No --vocab: a byte-fallback SentencePiece vocabulary of n_vocab tokens, so that the
        // file loads and any text tokenizes (the model's answers are random anyway).
        try byteVocab(alloc, &vocab_bytes, @max(cfg.n_vocab, 3 + 256));
        vocab = try reader.File.parse(alloc, vocab_bytes.items, diag);
    }
    synth_mod.generateFile(alloc, cfg, .{
        .seed = req.seed,
        .weight_type = t,
        .quantize = quantizeHook,
        .vocab = if (vocab) |*v| v else null,
        .name = @tagName(req.preset),
        .progress = req.progress,
    }, out_path) catch |e| switch (e) {
        error.InvalidConfig => {
            if (vocab != null and vocab.?.getArray("tokenizer.ggml.tokens") == null) {
                diag.set(null, "{s} has no tokenizer.ggml.tokens", .{req.vocab_path.?});
                return error.InvalidGguf;
            }
            diag.set(null, "inconsistent shape (n_embd {d}, n_ff {d}, n_layer {d}, n_head {d}, n_head_kv {d}, n_ctx {d}) or weight type {s} for these rows", .{ cfg.n_embd, cfg.n_ff, cfg.n_layer, cfg.n_head, cfg.n_head_kv, cfg.n_ctx, t.name() });
            return error.InvalidArgument;
        },
        else => return e,
    };
}
