//! Reading a model's hyperparameters and weights from a GGUF through its architecture's
//! description (core/model/arch): the common keys, the architecture's own, then every tensor of
//! its table checked for presence, shape and type. Matrices stay in the memory-mapped file;
//! 1-D tensors (norms, biases) are converted to f32 copies so every op sees f32 parameters.
const std = @import("std");
const reader = @import("../gguf/reader.zig");
const ops = @import("../cpu/ops.zig");
const quant = @import("../quant/quant.zig");
const spec = @import("arch/spec.zig");
const registry = @import("arch/registry.zig");

pub const Arch = registry.Arch;
pub const QTensor = ops.QTensor;
const Diagnostic = reader.Diagnostic;

pub const Hparams = struct {
    arch: Arch,
    n_vocab: u32,
    n_embd: u32,
    n_layer: u32,
    n_ff: u32,
    n_head: u32,
    n_head_kv: u32,
    head_dim: u32,
    /// Rotary dims per head (0 without RoPE: learned positions).
    n_rot: u32,
    rope_freq_base: f32,
    rope_freq_scale: f32,
    norm_eps: f32,
    n_ctx_train: u32,

    pub fn kvDim(h: Hparams) usize {
        return @as(usize, h.n_head_kv) * h.head_dim;
    }

    pub fn desc(h: Hparams) *const spec.Desc {
        return registry.desc(h.arch);
    }
};

pub const Weight = union(enum) {
    /// ne = [n_cols (in), n_rows (out)], in the file's type.
    matrix: QTensor,
    /// f32 copy.
    vector: []const f32,
};

/// Every tensor of the architecture's table: per-layer ones at il·n + i, the global ones at
/// n_layer·n + i (n = table length, i = table index); null when an optional tensor is absent.
pub const Weights = struct {
    desc: *const spec.Desc,
    n_layer: u32,
    slots: []?Weight,
    /// Bytes of the file's tensor data in use.
    bytes: u64 = 0,

    fn slot(w: *const Weights, i: usize, layer: ?u32) usize {
        return @as(usize, layer orelse w.n_layer) * w.desc.tensors.len + i;
    }

    pub fn get(w: *const Weights, i: usize, layer: ?u32) ?Weight {
        return w.slots[w.slot(i, layer)];
    }

    /// token_embd.weight (every table has it, required): the host gathers its rows.
    pub fn tokEmbd(w: *const Weights) QTensor {
        return w.get(w.desc.find("token_embd.weight").?, null).?.matrix;
    }
};

fn archKey(buf: []u8, arch: []const u8, key: []const u8) []const u8 {
    return std.fmt.bufPrint(buf, "{s}.{s}", .{ arch, key }) catch unreachable; // keys are short
}

pub fn readHparams(f: *const reader.File, diag: *Diagnostic) !Hparams {
    const arch_name = f.architecture() orelse {
        diag.set(null, "general.architecture is missing", .{});
        return error.InvalidGguf;
    };
    const arch = registry.byName(arch_name) orelse {
        diag.set(null, "architecture '{s}' is not supported ({s})", .{ arch_name, registry.names });
        return error.UnsupportedModel;
    };
    const d = registry.desc(arch);
    var kb: [128]u8 = undefined;
    const R = struct {
        fn req(file: *const reader.File, dg: *Diagnostic, key: []const u8) !u32 {
            const v = file.getU32(key) orelse {
                dg.set(null, "metadata key {s} is missing or not an integer", .{key});
                return error.InvalidGguf;
            };
            if (v == 0) {
                dg.set(null, "metadata key {s} is 0", .{key});
                return error.InvalidGguf;
            }
            return v;
        }
    };
    const n_embd = try R.req(f, diag, archKey(&kb, arch_name, "embedding_length"));
    const n_layer = try R.req(f, diag, archKey(&kb, arch_name, "block_count"));
    const n_ff = try R.req(f, diag, archKey(&kb, arch_name, "feed_forward_length"));
    const n_head = try R.req(f, diag, archKey(&kb, arch_name, "attention.head_count"));
    const n_head_kv = f.getU32(archKey(&kb, arch_name, "attention.head_count_kv")) orelse n_head;
    if (n_embd % n_head != 0 or n_head_kv == 0 or n_head % n_head_kv != 0) {
        diag.set(null, "n_embd {d}, n_head {d}, n_head_kv {d}: heads do not divide evenly", .{ n_embd, n_head, n_head_kv });
        return error.InvalidGguf;
    }
    const head_dim = n_embd / n_head;
    if (head_dim > ops.max_head_dim) {
        diag.set(null, "head_dim {d} is larger than the supported {d}", .{ head_dim, ops.max_head_dim });
        return error.UnsupportedModel;
    }
    var n_rot: u32 = 0;
    if (d.hparams.rope) |r| {
        const dflt = if (r.default_dims == .whole) head_dim else head_dim / 2;
        n_rot = f.getU32(archKey(&kb, arch_name, "rope.dimension_count")) orelse dflt;
        if (n_rot == 0 or n_rot > head_dim or n_rot % 2 != 0) {
            diag.set(null, "rope.dimension_count {d} does not fit head_dim {d}", .{ n_rot, head_dim });
            return error.InvalidGguf;
        }
    }
    const eps = f.getF32(archKey(&kb, arch_name, d.hparams.eps_key)) orelse 1e-5;
    const freq_base = f.getF32(archKey(&kb, arch_name, "rope.freq_base")) orelse 10000.0;
    // 0, negative, NaN or infinite values would only surface as a planner InvalidArgument (or NaN logits).
    inline for (.{ .{ "rope.freq_base", freq_base }, .{ d.hparams.eps_key, eps } }) |kv| {
        if (!std.math.isFinite(kv[1]) or kv[1] <= 0) {
            diag.set(null, "metadata key {s}.{s} is {d}: expected a finite number > 0", .{ arch_name, kv[0], kv[1] });
            return error.InvalidGguf;
        }
    }
    var freq_scale: f32 = 1.0;
    if (f.getString(archKey(&kb, arch_name, "rope.scaling.type"))) |st| {
        if (std.mem.eql(u8, st, "linear")) {
            const factor = f.getF32(archKey(&kb, arch_name, "rope.scaling.factor")) orelse 1.0;
            if (factor > 0) freq_scale = 1.0 / factor;
        } else if (!std.mem.eql(u8, st, "none")) {
            diag.set(null, "rope scaling '{s}' is not supported (none, linear)", .{st});
            return error.UnsupportedModel;
        }
    } else if (f.getF32(archKey(&kb, arch_name, "rope.scale_linear"))) |factor| {
        if (factor > 0) freq_scale = 1.0 / factor;
    }
    const tok = f.findTensor("token_embd.weight") orelse {
        diag.set(null, "tensor token_embd.weight is missing", .{});
        return error.InvalidGguf;
    };
    return .{
        .arch = arch,
        .n_vocab = std.math.cast(u32, tok.ne[1]) orelse return error.InvalidGguf,
        .n_embd = n_embd,
        .n_layer = n_layer,
        .n_ff = n_ff,
        .n_head = n_head,
        .n_head_kv = n_head_kv,
        .head_dim = head_dim,
        .n_rot = n_rot,
        .rope_freq_base = freq_base,
        .rope_freq_scale = freq_scale,
        .norm_eps = eps,
        .n_ctx_train = f.getU32(archKey(&kb, arch_name, "context_length")) orelse 0,
    };
}

/// Load progress 0..1 for layer i of n.
pub const Progress = struct {
    ctx: ?*anyopaque = null,
    func: ?*const fn (ctx: ?*anyopaque, p: f32) bool = null,

    fn layerDone(p: Progress, i: usize, n: usize) error{Aborted}!void {
        const f = p.func orelse return;
        if (!f(p.ctx, 0.1 + 0.85 * @as(f32, @floatFromInt(i + 1)) / @as(f32, @floatFromInt(n)))) return error.Aborted;
    }
};

/// Every tensor of hp's architecture table, checked; allocations in `a` (the model's arena).
/// May set hp.n_ctx_train from a learned position table when the key is absent.
pub fn load(file: *const reader.File, hp: *Hparams, a: std.mem.Allocator, progress: Progress, diag: *Diagnostic) !Weights {
    const d = hp.desc();
    const n = d.tensors.len;
    var w = Weights{ .desc = d, .n_layer = hp.n_layer, .slots = try a.alloc(?Weight, (@as(usize, hp.n_layer) + 1) * n) };
    @memset(w.slots, null);
    var l = Loader{ .file = file, .diag = diag, .a = a, .w = &w };
    for (0..hp.n_layer) |il| {
        for (d.tensors, 0..) |t, i| if (t.per_layer) try l.one(hp, i, @intCast(il));
        try progress.layerDone(il, hp.n_layer);
    }
    for (d.tensors, 0..) |t, i| if (!t.per_layer) try l.one(hp, i, null);
    return w;
}

const Loader = struct {
    file: *const reader.File,
    diag: *Diagnostic,
    a: std.mem.Allocator,
    w: *Weights,
    name_buf: [128]u8 = undefined,

    fn one(self: *Loader, hp: *Hparams, i: usize, layer: ?u32) !void {
        const t = self.w.desc.tensors[i];
        const name = if (layer) |il|
            std.fmt.bufPrint(&self.name_buf, "blk.{d}.{s}", .{ il, t.name }) catch unreachable // names are short
        else
            t.name;
        var fb: [64]u8 = undefined;
        const fused = if (layer) |il| self.w.desc.find("attn_qkv.weight") != null and
            self.file.findTensor(std.fmt.bufPrint(&fb, "blk.{d}.attn_qkv.weight", .{il}) catch unreachable) != null else false;
        const required = switch (t.need) {
            .required => true,
            .optional => false,
            .unless_fused_qkv => !fused,
            .with_fused_qkv => fused,
        };
        const info = self.file.findTensor(name) orelse {
            if (!required) return;
            self.diag.set(null, "tensor {s} is missing", .{name});
            return error.InvalidGguf;
        };
        if (t.ne[1] == .ctx and hp.n_ctx_train == 0) hp.n_ctx_train = std.math.cast(u32, info.ne[1]) orelse 0;
        const dims = spec.Dims{ .n_embd = hp.n_embd, .n_kv = hp.kvDim(), .n_ff = hp.n_ff, .n_vocab = hp.n_vocab, .n_ctx = hp.n_ctx_train };
        const ne0 = dims.of(t.ne[0]);
        self.w.slots[self.w.slot(i, layer)] = switch (t.kind) {
            .matrix => .{ .matrix = try self.matrix(name, info, ne0, dims.of(t.ne[1])) },
            .norm, .bias => .{ .vector = try self.vector(name, info, ne0) },
        };
        self.w.bytes += info.data.len;
    }

    /// A matrix used as x·Wᵀ: ne = [n_in, n_out].
    fn matrix(self: *Loader, name: []const u8, t: *const reader.TensorInfo, n_in: u64, n_out: u64) !QTensor {
        if (t.n_dims > 2 or t.ne[0] != n_in or t.ne[1] != n_out) {
            self.diag.set(null, "tensor {s} has shape [{d}, {d}], expected [{d}, {d}]", .{ name, t.ne[0], t.ne[1], n_in, n_out });
            return error.InvalidGguf;
        }
        if (quant.vecDotFn(t.type) == null or !quant.canDequantize(t.type)) {
            self.diag.set(null, "tensor {s} has type {s}, which is not supported for weights", .{ name, t.type.name() });
            return error.UnsupportedModel;
        }
        if (t.type.rowBytes(n_in) == null) {
            self.diag.set(null, "tensor {s}: rows of {d} are not whole {s} blocks", .{ name, n_in, t.type.name() });
            return error.InvalidGguf;
        }
        return .{ .t = t.type, .data = t.data, .n_rows = @intCast(n_out), .n_cols = @intCast(n_in) };
    }

    /// A 1-D tensor of n elements, converted to an f32 copy.
    fn vector(self: *Loader, name: []const u8, t: *const reader.TensorInfo, n: u64) ![]const f32 {
        if (t.nElements() != n or t.ne[0] != n) {
            self.diag.set(null, "tensor {s} has {d} elements, expected {d}", .{ name, t.nElements(), n });
            return error.InvalidGguf;
        }
        if (!quant.canDequantize(t.type) or t.type.rowBytes(n) == null) {
            self.diag.set(null, "tensor {s} has type {s}, which is not supported for a vector", .{ name, t.type.name() });
            return error.UnsupportedModel;
        }
        const out = try self.a.alloc(f32, @intCast(n));
        quant.dequantizeRow(t.type, t.data, out) catch {
            self.diag.set(null, "tensor {s}: cannot convert its {s} data", .{ name, t.type.name() });
            return error.InvalidGguf;
        };
        return out;
    }
};
