//! Host side of the GPU kernels: one entry per op that picks the shader variant from the device
//! report, binds buffers and records dispatches into a vk.Sequence (never submits). The CPU
//! reference of every op is core/cpu/ops.zig; tests compare the two.
//!
//! Conventions shared by every op:
//!  - Activations are f32, row-major: [n_rows × ne0] with ne0 contiguous.
//!  - Weights keep their GGUF type and layout (ggml blocks), rows of ne0 elements.
//!  - Static shapes go in push constants (≤ 128 bytes, mirrored by an extern struct with a
//!    comptime size check); values that change every step (the position of the first token,
//!    the KV length) are read from the StepParams buffer, so a recorded sequence can be
//!    replayed for every token without re-recording.
//!  - Workgroup size is specialization constant 0, chosen ≤ report.maxWorkgroup1D(), and shared
//!    memory stays ≤ report.max_compute_shared_memory_size (16 KiB under the v3dv profile).
const std = @import("std");
const vk = @import("../vk/vk.zig");
const GgmlType = @import("../gguf/types.zig").GgmlType;

/// Weight-matrix kernels: mulMat (decode mat-vec / prompt tiled), getRows, variant planning.
pub const matmul = @import("matmul.zig");

/// A tensor on the GPU: a buffer (possibly split into chunks), the byte offset of element 0
/// inside chunk `chunk`, its element type, and its shape (ne[0] = row length, as ggml).
pub const View = struct {
    buf: *const vk.Buffer,
    chunk: usize = 0,
    /// Bytes; a multiple of report.min_storage_buffer_offset_alignment.
    offset: u64 = 0,
    type: GgmlType = .f32,
    ne: [4]u64 = .{ 1, 1, 1, 1 },

    pub fn nElements(v: View) u64 {
        return v.ne[0] * v.ne[1] * v.ne[2] * v.ne[3];
    }
    pub fn nRows(v: View) u64 {
        return v.ne[1] * v.ne[2] * v.ne[3];
    }
    /// Bytes of the tensor (whole blocks for quantized types).
    pub fn nBytes(v: View) u64 {
        return (v.type.rowBytes(v.ne[0]) orelse 0) * v.nRows();
    }
    /// The binding of this view: from `offset` to the end of the tensor.
    pub fn binding(v: View) vk.Binding {
        return .{ .buffer = v.buf, .chunk = v.chunk, .offset = v.offset, .size = std.mem.alignForward(u64, v.nBytes(), 4) };
    }
};

/// Values that change between replays of one recorded sequence; one small storage buffer
/// (`Kernels.params`) that ops needing them bind. Mirrored in shaders/params.glsl.
pub const StepParams = extern struct {
    /// Position of the first token of this step in the sequence.
    pos: u32 = 0,
    /// Tokens in this step (≤ the n_tokens the sequence was recorded for).
    n_tokens: u32 = 0,
    /// KV rows valid after this step: pos + n_tokens.
    n_kv: u32 = 0,
    _pad: u32 = 0,
};

/// Shared state of the GPU kernels on one device.
pub const Kernels = struct {
    ctx: *vk.Context,
    /// The StepParams buffer (one per Kernels; a graph owns one Kernels).
    params: vk.Buffer,

    pub fn init(ctx: *vk.Context) vk.Error!Kernels {
        var params = try ctx.mem.createBuffer(@sizeOf(StepParams), .{});
        errdefer ctx.mem.destroyBuffer(&params);
        var k = Kernels{ .ctx = ctx, .params = params };
        try k.setParams(.{});
        return k;
    }

    pub fn deinit(self: *Kernels) void {
        self.ctx.mem.destroyBuffer(&self.params);
    }

    /// Writes the step values; call before submitting (not while a submission runs).
    pub fn setParams(self: *Kernels, p: StepParams) vk.Error!void {
        try self.ctx.mem.upload(&self.params, 0, std.mem.asBytes(&p));
    }

    pub fn paramsBinding(self: *const Kernels) vk.Binding {
        return .{ .buffer = &self.params };
    }

    /// Workgroup size for 1-D kernels: `want`, capped by the device.
    pub fn local1D(self: *const Kernels, want: u32) u32 {
        return @min(want, self.ctx.report.maxWorkgroup1D());
    }
};

test {
    std.testing.refAllDecls(@This());
}
