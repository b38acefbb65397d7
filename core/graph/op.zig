//! The op table: every graph op once, with its name, C ABI id, operands, parameters and class.
//! From it come the builder's generic checks (core/graph/graph.zig `node`: arity and parameter
//! kind), the C ABI's op enum (`AbiOp`, pi5_graph_op values in include/pi5_llm_rt.h), the
//! profile's op names, and the two executors' dispatch switches (core/graph/cpu_backend.zig
//! `run`, core/graph/vk_backend.zig `recordNode` and `supports`), which switch over `Op` with no
//! `else`, so an op added here and forgotten in a backend is a compile error.
//!
//! The shape rule of each op is `Graph.shape` (one exhaustive switch beside the builder).
const std = @import("std");
const params = @import("../params.zig");
const GgmlType = @import("../gguf/types.zig").GgmlType;

pub const Op = enum(u8) {
    none = 0,
    get_rows,
    mul_mat,
    rms_norm,
    layer_norm,
    add,
    mul,
    scale,
    silu,
    gelu,
    swiglu,
    softmax,
    rope,
    kv_store,
    attention,
    cpy,
    /// reshape / slice: an alias of src[0]'s storage at an element offset; costs nothing.
    view,
    /// The last row of the step (row n_tokens-1): [ne0, 1]; feeds the LM head at generation.
    last_row,
    /// Fills an i32 [1, T] tensor with pos .. pos+n_tokens-1 (gpt2's position ids).
    positions,
};

pub const SoftmaxParams = struct {
    scale: f32 = 1.0,
    /// Row r of token t (rows are grouped per token) sees columns 0..pos+t.
    causal: bool = false,
};

/// Static parameters of a node; which field an op uses is its `Info.params`.
pub const Params = union(enum) {
    none,
    /// rms_norm, layer_norm.
    eps: f32,
    /// scale.
    scale: f32,
    softmax: SoftmaxParams,
    rope: params.Rope,
    /// attention (n_head and head_dim filled in by the builder).
    attention: params.Attention,
    /// cpy: the element type of the copy.
    cast: GgmlType,
    /// view: element offset into src[0].
    view: u64,
};

pub const ParamKind = std.meta.Tag(Params);

pub const Class = enum {
    /// No computation: inputs, weights, states.
    leaf,
    /// Shares its source's storage (views; costs nothing at run time).
    alias,
    /// Runs on a backend.
    compute,
};

pub const Info = struct {
    /// Name in profiles and logs (the enum tag).
    name: []const u8,
    /// pi5_graph_op value; null: not built through pi5_graph_op.
    abi: ?u8,
    class: Class,
    /// Sources that must be present (src[0 .. n_src]), then optional ones.
    n_src: u2,
    n_opt: u2 = 0,
    params: ParamKind,
    /// Reads the step's position (rope, causal softmax, kv_store, attention, positions) or
    /// n_tokens (last_row).
    step: bool = false,
};

/// The table row of `op`.
pub fn info(op: Op) Info {
    const n = @tagName(op);
    return switch (op) {
        .none => .{ .name = n, .abi = null, .class = .leaf, .n_src = 0, .params = .none },
        .view => .{ .name = n, .abi = null, .class = .alias, .n_src = 1, .params = .view },
        .get_rows => .{ .name = n, .abi = 1, .class = .compute, .n_src = 2, .params = .none },
        .mul_mat => .{ .name = n, .abi = 2, .class = .compute, .n_src = 2, .params = .none },
        .rms_norm => .{ .name = n, .abi = 3, .class = .compute, .n_src = 1, .params = .eps },
        .layer_norm => .{ .name = n, .abi = 4, .class = .compute, .n_src = 1, .n_opt = 2, .params = .eps },
        .add => .{ .name = n, .abi = 5, .class = .compute, .n_src = 2, .params = .none },
        .mul => .{ .name = n, .abi = 6, .class = .compute, .n_src = 2, .params = .none },
        .scale => .{ .name = n, .abi = 7, .class = .compute, .n_src = 1, .params = .scale },
        .silu => .{ .name = n, .abi = 8, .class = .compute, .n_src = 1, .params = .none },
        .gelu => .{ .name = n, .abi = 9, .class = .compute, .n_src = 1, .params = .none },
        .swiglu => .{ .name = n, .abi = 10, .class = .compute, .n_src = 2, .params = .none },
        .softmax => .{ .name = n, .abi = 11, .class = .compute, .n_src = 1, .params = .softmax, .step = true },
        .rope => .{ .name = n, .abi = 12, .class = .compute, .n_src = 1, .params = .rope, .step = true },
        .kv_store => .{ .name = n, .abi = 13, .class = .compute, .n_src = 2, .params = .none, .step = true },
        .attention => .{ .name = n, .abi = 14, .class = .compute, .n_src = 3, .params = .attention, .step = true },
        .cpy => .{ .name = n, .abi = 15, .class = .compute, .n_src = 1, .params = .cast },
        .last_row => .{ .name = n, .abi = 16, .class = .compute, .n_src = 1, .params = .none, .step = true },
        .positions => .{ .name = n, .abi = 17, .class = .compute, .n_src = 0, .params = .none, .step = true },
    };
}

pub fn isCompute(op: Op) bool {
    return info(op).class == .compute;
}

/// The C ABI's op enum (pi5_graph_op), generated from the table: one tag per op with an ABI id,
/// same name as the Op.
pub const AbiOp = blk: {
    const ops = @typeInfo(Op).@"enum".fields;
    var n: usize = 0;
    for (ops) |f| {
        if (info(@enumFromInt(f.value)).abi != null) n += 1;
    }
    var fields: [n]std.builtin.Type.EnumField = undefined;
    var i: usize = 0;
    for (ops) |f| if (info(@enumFromInt(f.value)).abi) |id| {
        fields[i] = .{ .name = f.name, .value = id };
        i += 1;
    };
    break :blk @Type(.{ .@"enum" = .{ .tag_type = c_int, .fields = &fields, .decls = &.{}, .is_exhaustive = true } });
};

/// The Op of an ABI op id.
pub fn fromAbi(a: AbiOp) Op {
    return switch (a) {
        inline else => |t| @field(Op, @tagName(t)),
    };
}

test "op table: ABI ids are unique and map back to their op" {
    var seen = std.StaticBitSet(256).initEmpty();
    inline for (@typeInfo(Op).@"enum".fields) |f| {
        const op: Op = @enumFromInt(f.value);
        const row = info(op);
        try std.testing.expectEqualStrings(f.name, row.name);
        try std.testing.expect(row.class != .compute or row.abi != null);
        if (row.abi) |id| {
            try std.testing.expect(!seen.isSet(id));
            seen.set(id);
            try std.testing.expectEqual(op, fromAbi(@enumFromInt(id)));
        }
    }
    try std.testing.expectEqual(@as(c_int, 17), @intFromEnum(AbiOp.positions));
}
