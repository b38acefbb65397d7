//! The `tokenizer.ggml.pre` values this runtime implements, as llama.cpp maps them (pretok.zig runs them).
const std = @import("std");

pub const Kind = enum {
    default,
    gpt2,
    llama3,
    qwen2,
    deepseek_llm,
    deepseek_coder,
    falcon,
    starcoder,
    bloom,
    viking,
    gpt4o,
    tekken,
};

pub const Info = struct {
    kind: Kind,
    /// llama.cpp's clean_spaces for detokenization.
    clean_spaces: bool = true,
    /// A pre-tokenized word that is a whole vocab token is emitted as that token (no merges).
    ignore_merges: bool = false,
    /// Default of add_bos when the GGUF has no tokenizer.ggml.add_bos_token.
    add_bos: bool = false,
};

const Name = struct { []const u8, Info };

/// `tokenizer.ggml.pre` values, as llama.cpp's llama_vocab::impl::load maps them.
pub const names = [_]Name{
    .{ "default", .{ .kind = .default } },
    .{ "llama3", .{ .kind = .llama3, .ignore_merges = true, .add_bos = true } },
    .{ "llama-v3", .{ .kind = .llama3, .ignore_merges = true, .add_bos = true } },
    .{ "llama-bpe", .{ .kind = .llama3, .ignore_merges = true, .add_bos = true } },
    .{ "falcon3", .{ .kind = .llama3, .ignore_merges = true, .add_bos = true } },
    .{ "falcon-h1", .{ .kind = .llama3, .ignore_merges = true, .add_bos = true } },
    .{ "pixtral", .{ .kind = .llama3, .ignore_merges = true, .add_bos = true } },
    .{ "midm-2.0", .{ .kind = .llama3, .ignore_merges = true, .add_bos = true } },
    .{ "lfm2", .{ .kind = .llama3, .ignore_merges = true, .add_bos = true } },
    .{ "dbrx", .{ .kind = .llama3 } },
    .{ "smaug-bpe", .{ .kind = .llama3 } },
    .{ "deepseek-llm", .{ .kind = .deepseek_llm, .clean_spaces = false } },
    .{ "deepseek-coder", .{ .kind = .deepseek_coder, .clean_spaces = false } },
    .{ "falcon", .{ .kind = .falcon } },
    .{ "mpt", .{ .kind = .gpt2 } },
    .{ "starcoder", .{ .kind = .starcoder } },
    .{ "gpt-2", .{ .kind = .gpt2 } },
    .{ "phi-2", .{ .kind = .gpt2 } },
    .{ "jina-es", .{ .kind = .gpt2 } },
    .{ "jina-de", .{ .kind = .gpt2 } },
    .{ "gigachat", .{ .kind = .gpt2 } },
    .{ "jina-v2-es", .{ .kind = .gpt2 } },
    .{ "jina-v2-de", .{ .kind = .gpt2 } },
    .{ "a.x-4.0", .{ .kind = .gpt2 } },
    .{ "mellum", .{ .kind = .gpt2 } },
    .{ "modern-bert", .{ .kind = .gpt2 } },
    .{ "olmo", .{ .kind = .gpt2 } },
    .{ "jais", .{ .kind = .gpt2 } },
    .{ "exaone4", .{ .kind = .gpt2 } },
    .{ "trillion", .{ .kind = .gpt2, .clean_spaces = false } },
    .{ "granite-docling", .{ .kind = .gpt2, .clean_spaces = false } },
    .{ "refact", .{ .kind = .starcoder } },
    .{ "command-r", .{ .kind = .starcoder, .clean_spaces = false } },
    .{ "smollm", .{ .kind = .starcoder, .clean_spaces = false } },
    .{ "codeshell", .{ .kind = .starcoder } },
    .{ "exaone", .{ .kind = .starcoder } },
    .{ "minerva-7b", .{ .kind = .starcoder } },
    .{ "mellum2", .{ .kind = .starcoder } },
    .{ "qwen2", .{ .kind = .qwen2, .clean_spaces = false } },
    .{ "deepseek-r1-qwen", .{ .kind = .qwen2, .clean_spaces = false } },
    .{ "kormo", .{ .kind = .qwen2, .clean_spaces = false } },
    .{ "f2llmv2", .{ .kind = .qwen2, .clean_spaces = false } },
    .{ "megrez", .{ .kind = .qwen2 } },
    .{ "stablelm2", .{ .kind = .qwen2 } },
    .{ "poro-chat", .{ .kind = .bloom, .clean_spaces = false } },
    .{ "bloom", .{ .kind = .bloom } },
    .{ "gpt3-finnish", .{ .kind = .bloom } },
    .{ "viking", .{ .kind = .viking, .clean_spaces = false } },
    .{ "tekken", .{ .kind = .tekken, .clean_spaces = false, .ignore_merges = true, .add_bos = true } },
    .{ "gpt-4o", .{ .kind = .gpt4o, .clean_spaces = false } },
    .{ "llama4", .{ .kind = .gpt4o, .clean_spaces = false } },
    .{ "kanana2", .{ .kind = .gpt4o, .clean_spaces = false } },
    .{ "talkie", .{ .kind = .gpt4o, .clean_spaces = false } },
    .{ "minimax-m2", .{ .kind = .gpt4o, .clean_spaces = false } },
};

/// The pre-tokenizer a `tokenizer.ggml.pre` value names; null for values this runtime does not
/// implement. A missing key means "default", as in llama.cpp.
pub fn lookup(name: ?[]const u8) ?Info {
    const n = name orelse return .{ .kind = .default };
    for (names) |e| if (std.mem.eql(u8, e[0], n)) return e[1];
    return null;
}
