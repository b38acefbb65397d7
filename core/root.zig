//! The public Zig API of pi5-llm-rt: what core/abi exports to C and what the native CLI uses.
const std = @import("std");

pub const log = @import("log.zig");
pub const vk = @import("vk/vk.zig");
pub const runtime = @import("runtime.zig");
pub const gguf_types = @import("gguf/types.zig");
pub const gguf = @import("gguf/reader.zig");
pub const gguf_writer = @import("gguf/writer.zig");
pub const gguf_inspect = @import("gguf/inspect.zig");
pub const gguf_import_llama2c = @import("gguf/import_llama2c.zig");
pub const gguf_import_ggjt = @import("gguf/import_ggjt.zig");
pub const gguf_synth = @import("gguf/synth.zig");
pub const quant = @import("quant/quant.zig");
pub const cpu_pool = @import("cpu/pool.zig");
pub const cpu_ops = @import("cpu/ops.zig");
pub const kernels = @import("kernels/kernels.zig");
pub const graph = @import("graph/graph.zig");
pub const graph_exec = @import("graph/exec.zig");
pub const tokenizer = @import("tokenizer/tokenizer.zig");
pub const Tokenizer = tokenizer.Tokenizer;
pub const stream = @import("tokenizer/stream.zig");
pub const vocab_file = @import("tokenizer/vocab_file.zig");
pub const sampler = @import("sample/sampler.zig");
pub const Sampler = sampler.Sampler;
pub const stop = @import("sample/stop.zig");
pub const model = @import("model/model.zig");
pub const Model = model.Model;
pub const generate = @import("model/generate.zig");
pub const model_quantize = @import("model/quantize.zig");
pub const model_files = @import("model/files.zig");
/// The architectures (core/model/arch): their list, names and descriptions.
pub const model_arch = @import("model/arch/registry.zig");

pub const Runtime = runtime.Runtime;

test {
    _ = log;
    _ = vk;
    _ = runtime;
    _ = gguf_types;
    _ = @import("gguf/reader.zig");
    _ = @import("gguf/writer.zig");
    _ = @import("gguf/inspect.zig");
    _ = @import("gguf/corpus_test.zig");
    _ = @import("gguf/import_llama2c.zig");
    _ = @import("gguf/import_ggjt.zig");
    _ = @import("gguf/synth.zig");
    _ = quant;
    _ = cpu_pool;
    _ = cpu_ops;
    _ = @import("cpu/dispatch.zig");
    _ = kernels;
    _ = @import("kernels/ops.zig");
    _ = @import("kernels/ops_test.zig");
    _ = @import("kernels/matmul_test.zig");
    _ = graph;
    _ = @import("graph/op.zig");
    _ = @import("graph/intervals.zig");
    _ = @import("params.zig");
    _ = @import("quant/weight_types.zig");
    _ = graph_exec;
    _ = @import("graph/graph_test.zig");
    _ = @import("graph/diff.zig");
    _ = @import("tokenizer/tokenizer.zig");
    _ = @import("tokenizer/vectors_test.zig");
    _ = @import("tokenizer/vocab_file.zig");
    _ = @import("tokenizer/stream.zig");
    _ = @import("sample/sampler.zig");
    _ = @import("sample/stop.zig");
    _ = @import("model/model.zig");
    _ = @import("model/generate.zig");
    _ = @import("model/tests.zig");
    _ = @import("model/quantize.zig");
    _ = @import("model/files.zig");
    _ = @import("model/arch/registry.zig");
}
