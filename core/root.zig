//! The public Zig API of pi5-llm-rt: what core/abi exports to C and what the native CLI uses.
const std = @import("std");

pub const log = @import("log.zig");
pub const vk = @import("vk/vk.zig");
pub const gguf_types = @import("gguf/types.zig");
pub const quant = @import("quant/quant.zig");
pub const cpu_pool = @import("cpu/pool.zig");
pub const cpu_ops = @import("cpu/ops.zig");

test {
    _ = log;
    _ = vk;
    _ = gguf_types;
    _ = quant;
    _ = cpu_pool;
    _ = cpu_ops;
}
