//! Text generation on a loaded Model: tokenize the prompt, evaluate it in batches, then sample,
//! stream complete UTF-8 pieces (stop strings held back) and evaluate each kept token.
const std = @import("std");
const Model = @import("model.zig").Model;
const sampler_mod = @import("../sample/sampler.zig");
const stop_mod = @import("../sample/stop.zig");
const StreamDecoder = @import("../tokenizer/stream.zig").StreamDecoder;

pub const StopReason = enum(c_int) { none = 0, eog = 1, max_tokens = 2, stop_string = 3, aborted = 4, context_full = 5 };

/// Receives each piece of text as it becomes final (complete UTF-8, never part of a stop string).
/// Return false to stop (generate then returns error.Aborted).
pub const Callback = struct {
    ctx: ?*anyopaque,
    func: *const fn (ctx: ?*anyopaque, token: u32, piece: []const u8) bool,
};

pub const Options = struct {
    /// 0 = until EOG or the context is full.
    max_tokens: u32 = 128,
    sampling: sampler_mod.Params = .{},
    stop: []const []const u8 = &.{},
    /// Clear the KV cache and tokenize the prompt with the vocabulary's BOS first.
    reset: bool = true,
    on_token: ?Callback = null,
};

pub const Result = struct {
    n_prompt_tokens: u32 = 0,
    n_generated: u32 = 0,
    prompt_ms: f64 = 0,
    generate_ms: f64 = 0,
    stop_reason: StopReason = .none,
    /// The sampler's seed in effect (drawn at random for sampler.random_seed).
    seed: u64 = 0,
};

/// Generates after `prompt`, appending the generated text to `out`. On error.Aborted `out` and
/// `result` hold what was produced before the callback stopped it.
pub fn generate(alloc: std.mem.Allocator, model: *Model, prompt: []const u8, opts: Options, out: *std.ArrayList(u8), result: *Result) !void {
    result.* = .{};
    const tok = &model.tok;
    if (opts.reset) model.clear();
    const ids = try tok.tokenize(alloc, prompt, .{ .add_special = opts.reset, .parse_special = false });
    defer alloc.free(ids);
    result.n_prompt_tokens = @intCast(ids.len);
    if (ids.len == 0 and model.n_past == 0) return error.InvalidArgument; // nothing to condition on
    if (ids.len > model.n_ctx - model.n_past) return error.ContextFull;

    var sampler = try sampler_mod.Sampler.init(alloc, opts.sampling);
    defer sampler.deinit();
    result.seed = sampler.params.seed;
    for (model.tokens()) |id| if (id != Model.embd_token) sampler.accept(id);
    for (ids) |id| sampler.accept(id);

    var timer = try std.time.Timer.start();
    if (ids.len > 0) try model.eval(.{ .tokens = ids });
    result.prompt_ms = @as(f64, @floatFromInt(timer.lap())) / 1e6;

    // Starting from BOS alone, the first piece loses its SentencePiece space prefix, as llama2.c
    // prints it and as llama.cpp detokenizes a whole sequence.
    const only_bos = model.n_past == 1 and tok.bos() != null and model.history[0] == tok.bos().?;
    var dec = StreamDecoder.init(alloc, tok, .{ .strip_leading_space = only_bos and tok.vocab.add_space_prefix });
    defer dec.deinit();
    var stops = stop_mod.StopStrings.init(alloc, opts.stop);
    defer stops.deinit();
    var text = std.ArrayList(u8).init(alloc);
    defer text.deinit();
    var final = std.ArrayList(u8).init(alloc);
    defer final.deinit();

    defer result.generate_ms = @as(f64, @floatFromInt(timer.read())) / 1e6;
    while (true) {
        const id = try sampler.sample(model.logits());
        if (tok.isEog(id)) {
            result.stop_reason = .eog;
            break;
        }
        sampler.accept(id);
        result.n_generated += 1;
        text.clearRetainingCapacity();
        final.clearRetainingCapacity();
        try dec.feed(id, &text);
        const hit = try stops.push(text.items, &final);
        try out.appendSlice(final.items);
        // Every token reaches the callback, with an empty piece while its bytes are held back
        // (an incomplete UTF-8 sequence, a possible stop string): a host counting ids gets all.
        if (opts.on_token) |cb| {
            if (!cb.func(cb.ctx, id, final.items)) {
                result.stop_reason = .aborted;
                try evalLast(model, id);
                return error.Aborted;
            }
        }
        if (hit) {
            result.stop_reason = .stop_string;
            try evalLast(model, id);
            return;
        }
        if (opts.max_tokens != 0 and result.n_generated >= opts.max_tokens) {
            result.stop_reason = .max_tokens;
            try evalLast(model, id);
            break;
        }
        if (model.n_past >= model.n_ctx) {
            result.stop_reason = .context_full;
            break;
        }
        try model.eval(.{ .tokens = &.{id} });
    }
    // The end: held-back bytes are final now.
    text.clearRetainingCapacity();
    final.clearRetainingCapacity();
    try dec.flush(&text);
    _ = try stops.push(text.items, &final);
    try stops.flush(&final);
    try out.appendSlice(final.items);
    if (final.items.len > 0) if (opts.on_token) |cb| {
        if (!cb.func(cb.ctx, std.math.maxInt(u32), final.items)) {
            result.stop_reason = .aborted;
            return error.Aborted;
        }
    };
}

/// The last emitted token goes into the KV cache too, so that a continuation (reset = false)
/// conditions on it instead of sampling it again; without room it stays out (the next call
/// then reports ContextFull).
fn evalLast(model: *Model, id: u32) !void {
    if (model.n_past < model.n_ctx) try model.eval(.{ .tokens = &.{id} });
}
