//! core/vk: the Vulkan compute layer. No model, tokenizer or file-format knowledge lives here.
pub const loader = @import("loader.zig");
pub const c = loader.c;
pub const report = @import("report.zig");
pub const context = @import("context.zig");
pub const memory = @import("memory.zig");
pub const pipeline = @import("pipeline.zig");
pub const sequence = @import("sequence.zig");

pub const Context = context.Context;
pub const Options = context.Options;
pub const Error = context.Error;
pub const Report = report.Report;
pub const Profile = report.Profile;
pub const Buffer = memory.Buffer;
pub const Pipeline = pipeline.Pipeline;
pub const Shader = pipeline.Shader;
pub const Sequence = sequence.Sequence;
pub const Binding = sequence.Binding;
pub const grid1D = sequence.grid1D;

test {
    _ = loader;
    _ = report;
    _ = memory;
    _ = @import("tests.zig");
}
