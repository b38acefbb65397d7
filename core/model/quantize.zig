//! Requantizes a GGUF model's F32/F16 weight matrices (llama.cpp's llama-quantize, reference
//! rounding from core/quant). 1-D tensors (norms, biases) stay as they are; matrices whose rows are
//! not whole blocks of the target type keep their type. `Q4_K_M` is llama.cpp's mix: Q6_K for the
//! output matrix and for attn_v / ffn_down of the layers use_more_bits picks, Q4_K elsewhere; which
//! tensor gets which rule is in its architecture's tensor table (core/model/arch, `q4_k_m`).
const std = @import("std");
const reader = @import("../gguf/reader.zig");
const writer_mod = @import("../gguf/writer.zig");
const quant = @import("../quant/quant.zig");
const weight_types = @import("../quant/weight_types.zig");
const spec = @import("arch/spec.zig");
const registry = @import("arch/registry.zig");

const GgmlType = quant.GgmlType;

pub const Target = union(enum) {
    plain: GgmlType,
    q4_k_m,

    pub fn parse(s: []const u8) ?Target {
        if (std.ascii.eqlIgnoreCase(s, "Q4_K_M")) return .q4_k_m;
        if (std.ascii.eqlIgnoreCase(s, "Q4_K_S")) return .{ .plain = .q4_k };
        const t = GgmlType.fromName(s) orelse return null;
        const row = weight_types.of(t) orelse return null;
        return if (row.quantize_target) .{ .plain = t } else null;
    }
};

/// llama.cpp's use_more_bits: the first and last eighth of the layers and every third between.
fn useMoreBits(i_layer: u32, n_layer: u32) bool {
    return i_layer < n_layer / 8 or i_layer >= 7 * n_layer / 8 or (i_layer >= n_layer / 8 and (i_layer - n_layer / 8) % 3 == 2);
}

/// The type tensor `t` gets under `target`, in a model of architecture `d` (null: not one this
/// runtime knows; its tensors are looked up in llama's table, whose names llama.cpp shares).
pub fn typeFor(t: *const reader.TensorInfo, target: Target, d: ?*const spec.Desc, n_layer: u32, has_output: bool) GgmlType {
    if (t.n_dims < 2 or (t.type != .f32 and t.type != .f16)) return t.type;
    const want: GgmlType = switch (target) {
        .plain => |p| p,
        .q4_k_m => blk: {
            const desc = d orelse registry.desc(.llama);
            const at = spec.lookup(desc, t.name) orelse break :blk .q4_k;
            break :blk switch (desc.tensors[at.index].q4_k_m) {
                .base => .q4_k,
                .output => .q6_k,
                .tied_output => if (has_output) .q4_k else .q6_k,
                .more_bits => if (useMoreBits(at.layer orelse 0, n_layer)) .q6_k else .q4_k,
            };
        },
    };
    if (want.rowBytes(t.ne[0]) == null) return t.type;
    return want;
}

/// The type most matrices get (Q4_K for the Q4_K_M mix).
fn wanted(target: Target) GgmlType {
    return switch (target) {
        .plain => |p| p,
        .q4_k_m => .q4_k,
    };
}

pub const Progress = writer_mod.Progress;

/// Writes `in_path` requantized to `out_path`. Tensors are converted one at a time.
pub fn quantizeFile(alloc: std.mem.Allocator, in_path: []const u8, out_path: []const u8, target: Target, progress: ?Progress, diag: *reader.Diagnostic) !void {
    var f = try reader.File.open(alloc, in_path, diag);
    defer f.deinit();
    var w = writer_mod.Writer.init(alloc);
    defer w.deinit();
    const arch = f.architecture() orelse "llama";
    var kb: [96]u8 = undefined;
    const n_layer = f.getU32(std.fmt.bufPrint(&kb, "{s}.block_count", .{arch}) catch "") orelse 0;
    const has_output = f.findTensor("output.weight") != null;
    const desc = if (registry.byName(arch)) |a| registry.desc(a) else null;
    for (f.keys()) |kv| {
        if (std.mem.eql(u8, kv.key, "general.file_type")) continue;
        try w.putValue(kv.key, kv.value);
    }
    const types = try alloc.alloc(GgmlType, f.tensors.len);
    defer alloc.free(types);
    // Matrices that keep F32/F16 because their rows are not whole blocks of the target type:
    // said in `diag` (a note on success), and an error when no matrix could be quantized.
    var n_changed: u32 = 0;
    var n_kept: u32 = 0;
    var kept: ?*const reader.TensorInfo = null;
    for (f.tensors, types) |*t, *nt| {
        nt.* = typeFor(t, target, desc, n_layer, has_output);
        try w.addTensor(t.name, nt.*, t.ne[0..t.n_dims], null);
        if (nt.* != t.type) n_changed += 1 else if (t.n_dims >= 2 and (t.type == .f32 or t.type == .f16) and wanted(target) != t.type) {
            n_kept += 1;
            if (kept == null) kept = t;
        }
    }
    if (kept) |k| {
        const want = wanted(target);
        const tr = want.traits().?;
        if (n_changed == 0) {
            diag.set(null, "no tensor can be quantized to {s}: rows of {d} values ('{s}' and {d} more) are not a multiple of its block of {d}", .{ want.name(), k.ne[0], k.name, n_kept - 1, tr.block_elems });
            return error.InvalidArgument;
        }
        diag.set(null, "note: {d} matrices kept {s} (e.g. '{s}': rows of {d} values are not a multiple of {s}'s block of {d})", .{ n_kept, k.type.name(), k.name, k.ne[0], want.name(), tr.block_elems });
    }
    w.progress = progress;
    // Written to a temporary file beside out_path and renamed over it when complete: a killed
    // or failed write never leaves a truncated file at out_path.
    var af = try std.fs.cwd().atomicFile(out_path, .{});
    defer af.deinit();
    var bw = std.io.bufferedWriter(af.file.writer());
    try w.writeHeader(bw.writer());
    var row_f32 = std.ArrayList(f32).init(alloc);
    defer row_f32.deinit();
    var row_q = std.ArrayList(u8).init(alloc);
    defer row_q.deinit();
    for (f.tensors, types) |*t, nt| {
        if (nt == t.type) {
            try w.writeData(bw.writer(), t.data);
            continue;
        }
        const n_cols: usize = @intCast(t.ne[0]);
        const src_rb: usize = @intCast(t.type.rowBytes(t.ne[0]).?);
        const dst_rb: usize = @intCast(nt.rowBytes(t.ne[0]).?);
        try row_f32.resize(n_cols);
        try row_q.resize(dst_rb);
        for (0..@intCast(t.nRows())) |r| {
            try quant.dequantizeRow(t.type, t.data[r * src_rb ..][0..src_rb], row_f32.items);
            try quant.quantizeRow(nt, row_f32.items, row_q.items);
            try w.writeData(bw.writer(), row_q.items);
        }
    }
    try w.finish();
    try bw.flush();
    try af.finish();
}

test "Q4_K_M mix follows llama.cpp's use_more_bits" {
    // 32 layers: 0..3 and 28..31 plus every third from 4 (6, 9, ...): 16 of 32
    var n: u32 = 0;
    for (0..32) |i| n += @intFromBool(useMoreBits(@intCast(i), 32));
    try std.testing.expectEqual(@as(u32, 16), n);
    const at = spec.lookup(registry.desc(.llama), "blk.12.ffn_down.weight").?;
    try std.testing.expectEqual(@as(?u32, 12), at.layer);
    try std.testing.expectEqual(spec.QRule.more_bits, registry.desc(.llama).tensors[at.index].q4_k_m);
    try std.testing.expect(spec.lookup(registry.desc(.gpt2), "blk.3.ffn_gate.weight") == null);
    try std.testing.expect(Target.parse("q4_k_m").? == .q4_k_m);
    try std.testing.expect(Target.parse("Q6_K").?.plain == .q6_k);
    try std.testing.expect(Target.parse("IQ2_XXS") == null);
}
