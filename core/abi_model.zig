//! The model section of the C ABI (include/pi5_llm_rt.h): loading, tokenizer, eval/infer, KV
//! cache, session state, sampling and generation. Same conventions as abi.zig: arguments checked,
//! out-parameters cleared on failure, every Zig error mapped to a pi5_status, the message in the
//! runtime's last error.
const std = @import("std");
const abi = @import("abi.zig");
const pi5 = @import("root.zig");
const Runtime = pi5.runtime.Runtime;
const Model = pi5.Model;
const gen = pi5.generate;
const Status = abi.Status;
const Diagnostic = pi5.gguf.Diagnostic;

const gpa = std.heap.c_allocator;

pub const ProgressCallback = *const fn (progress: f32, user: ?*anyopaque) callconv(.c) i32;
pub const TokenCallback = *const fn (token: i32, piece: [*]const u8, piece_len: usize, user: ?*anyopaque) callconv(.c) i32;

pub const KvTypeC = enum(c_int) { default = 0, f16 = 1, f32 = 2 };

pub const ModelOptionsC = extern struct {
    struct_size: u32,
    n_ctx: u32,
    kv_type: c_int,
    n_gpu_layers: i32,
    gpu_budget_bytes: u64,
    n_batch: u32,
    progress_callback: ?ProgressCallback,
    progress_user_data: ?*anyopaque,
    /// Appended in v2 (a v1 caller's struct_size is `model_options_v1_size`).
    vocab_only: i32,
    /// Appended in v3, inside v2's tail padding (sizeof is unchanged on LP64: a v2 caller's
    /// padding byte read as nonzero only means a load without a mapping, which is still correct).
    no_mmap: i32,
};

/// sizeof(pi5_model_options) before vocab_only was appended; still accepted.
const model_options_v1_size = @offsetOf(ModelOptionsC, "vocab_only");

pub const SamplingParamsC = extern struct {
    struct_size: u32,
    temperature: f32,
    top_k: i32,
    top_p: f32,
    min_p: f32,
    repeat_penalty: f32,
    frequency_penalty: f32,
    presence_penalty: f32,
    penalty_last_n: i32,
    seed: u64,
};

pub const GenerateOptionsC = extern struct {
    struct_size: u32,
    max_tokens: i32,
    sampling: SamplingParamsC,
    stop: ?[*]const ?[*:0]const u8,
    n_stop: usize,
    reset: i32,
    on_token: ?TokenCallback,
    user_data: ?*anyopaque,
};

pub const GenerateResultC = extern struct {
    n_prompt_tokens: i32,
    n_generated: i32,
    prompt_ms: f64,
    generate_ms: f64,
    stop_reason: c_int,
    seed: u64,
};

fn st(s: Status) c_int {
    return @intFromEnum(s);
}

/// Records the error on the runtime (the diagnostic when it has one) and returns its status.
fn fail(rt: *Runtime, err: abi.Error, diag: ?*const Diagnostic, comptime what: []const u8) c_int {
    const s = abi.statusOf(err);
    if (diag != null and diag.?.len > 0) {
        rt.setError(what ++ ": {s}", .{diag.?.message()});
    } else if (s == .internal) {
        rt.setError(what ++ ": internal error {s}", .{@errorName(err)});
    } else {
        rt.setError(what ++ ": {s}", .{describe(err)});
    }
    return st(s);
}

fn describe(err: anyerror) []const u8 {
    return switch (err) {
        error.ContextFull => "the tokens do not fit in the context (KV cache full)",
        error.NoModel => "no model is loaded",
        error.InvalidArgument => "invalid argument",
        error.Aborted => "aborted by the callback",
        error.FileNotFound => "file not found",
        else => pi5.runtime.describe(err),
    };
}

fn begin(rt: *Runtime) void {
    rt.last_error_len = 0;
}

fn modelOf(rt: *Runtime) ?*Model {
    if (rt.model) |m| return m;
    if (rt.vocab != null) {
        rt.setError("the model was loaded vocab-only (no weights): only tokenizer calls work; load it without vocab_only to evaluate", .{});
    } else rt.setError("no model is loaded (pi5_load_model first)", .{});
    return null;
}

/// PI5_ERR_NO_MODEL, or PI5_ERR_UNSUPPORTED after a vocab-only load (modelOf set the message).
fn noModel(rt: *const Runtime) c_int {
    return st(if (rt.vocab != null) .unsupported else .no_model);
}

fn noTokenizer(rt: *Runtime) c_int {
    rt.setError("no model is loaded (pi5_load_model first)", .{});
    return st(.no_model);
}

/// The tokenizer of the loaded model or of a vocab-only load.
fn tokOf(rt: ?*const Runtime) ?*const pi5.Tokenizer {
    const r = rt orelse return null;
    if (r.model) |m| return &m.tok;
    return r.vocab;
}

fn constModel(rt: ?*const Runtime) ?*Model {
    const r = rt orelse return null;
    return r.model;
}

// ---- loading ----

pub export fn pi5_model_default_options() callconv(.c) ModelOptionsC {
    return .{
        .struct_size = @sizeOf(ModelOptionsC),
        .n_ctx = 0,
        .kv_type = 0,
        .n_gpu_layers = -1,
        .gpu_budget_bytes = 0,
        .n_batch = 0,
        .progress_callback = null,
        .progress_user_data = null,
        .vocab_only = 0,
        .no_mmap = 0,
    };
}

pub export fn pi5_load_model(rt: ?*Runtime, path: ?[*:0]const u8) callconv(.c) c_int {
    return pi5_load_model_ex(rt, path, null);
}

const ProgressCtx = struct { cb: ProgressCallback, user: ?*anyopaque };

fn progressThunk(ctx: ?*anyopaque, p: f32) bool {
    const c: *const ProgressCtx = @ptrCast(@alignCast(ctx.?));
    return c.cb(p, c.user) == 0;
}

pub export fn pi5_load_model_ex(rt: ?*Runtime, path: ?[*:0]const u8, options: ?*const ModelOptionsC) callconv(.c) c_int {
    const r = rt orelse return st(.invalid_argument);
    begin(r);
    const p = path orelse {
        r.setError("pi5_load_model: path is NULL", .{});
        return st(.invalid_argument);
    };
    var opts = pi5_model_default_options();
    if (options) |given| {
        // A v1 caller's struct ends before vocab_only: copy what it has, keep the defaults after.
        if (given.struct_size != @sizeOf(ModelOptionsC) and given.struct_size != model_options_v1_size) {
            r.setError("pi5_load_model_ex: invalid options (struct_size {d})", .{given.struct_size});
            return st(.invalid_argument);
        }
        const n = given.struct_size;
        @memcpy(std.mem.asBytes(&opts)[0..n], @as([*]const u8, @ptrCast(given))[0..n]);
        opts.struct_size = @sizeOf(ModelOptionsC);
    }
    const o = &opts;
    if (o.vocab_only != 0) return loadVocabOnly(r, std.mem.span(p));
    if (o.struct_size != @sizeOf(ModelOptionsC) or o.n_gpu_layers < -1 or std.meta.intToEnum(KvTypeC, o.kv_type) == error.InvalidEnumTag) {
        r.setError("pi5_load_model_ex: invalid options (struct_size, kv_type or n_gpu_layers out of range)", .{});
        return st(.invalid_argument);
    }
    var pctx: ProgressCtx = undefined;
    var lo = pi5.model.LoadOptions{
        .n_ctx = o.n_ctx,
        .kv_type = if (o.kv_type == @intFromEnum(KvTypeC.f32)) .f32 else .f16,
        .n_batch = o.n_batch,
        .n_threads = r.n_threads,
        .mmap = o.no_mmap == 0,
        // The graph on the runtime's backend: the GPU when the runtime has one.
        .gpu = r.gpu,
        .placement = if (o.gpu_budget_bytes > 0)
            .{ .gpu_budget = o.gpu_budget_bytes }
        else if (o.n_gpu_layers >= 0)
            .{ .gpu_layers = @intCast(o.n_gpu_layers) }
        else
            .auto,
    };
    if (o.progress_callback) |cb| {
        pctx = .{ .cb = cb, .user = o.progress_user_data };
        lo.progress = progressThunk;
        lo.progress_ctx = &pctx;
    }
    var diag = Diagnostic{};
    const m = Model.load(gpa, std.mem.span(p), lo, &diag) catch |e| return fail(r, e, &diag, "pi5_load_model");
    if (r.model) |old| old.destroy();
    r.dropVocab();
    r.model = m;
    return st(.ok);
}

pub export fn pi5_unload_model(rt: ?*Runtime) callconv(.c) c_int {
    const r = rt orelse return st(.invalid_argument);
    begin(r);
    if (r.model) |m| m.destroy();
    r.model = null;
    r.dropVocab();
    return st(.ok);
}

/// vocab_only: only tokenizer.ggml.* is read (files without weights work); eval and generation
/// then return PI5_ERR_UNSUPPORTED saying so.
fn loadVocabOnly(r: *Runtime, path: []const u8) c_int {
    var diag = Diagnostic{};
    const tok = r.alloc.create(pi5.Tokenizer) catch |e| return fail(r, e, null, "pi5_load_model");
    tok.* = pi5.vocab_file.load(r.alloc, path, &diag) catch |e| {
        r.alloc.destroy(tok);
        return fail(r, e, &diag, "pi5_load_model");
    };
    if (r.model) |old| old.destroy();
    r.model = null;
    r.dropVocab();
    r.vocab = tok;
    return st(.ok);
}

pub export fn pi5_model_info(rt: ?*Runtime, buf: ?[*]u8, buf_size: usize, out_len: ?*usize) callconv(.c) c_int {
    if (out_len) |l| l.* = 0;
    const r = rt orelse return st(.invalid_argument);
    begin(r);
    if (r.model == null) if (r.vocab) |v| {
        const json = vocabInfoJson(v) catch |e| return fail(r, e, null, "pi5_model_info");
        defer gpa.free(json);
        return st(abi.writeOut(json, buf, buf_size, out_len));
    };
    const m = modelOf(r) orelse return noModel(r);
    const json = m.infoJson(gpa) catch |e| return fail(r, e, null, "pi5_model_info");
    defer gpa.free(json);
    return st(abi.writeOut(json, buf, buf_size, out_len));
}

/// pi5_model_info of a vocab-only load: the tokenizer part of Model.infoJson, "vocab_only": true.
fn vocabInfoJson(t: *const pi5.Tokenizer) ![]u8 {
    var out = std.ArrayList(u8).init(gpa);
    errdefer out.deinit();
    var jw = std.json.writeStream(out.writer(), .{});
    try jw.beginObject();
    try jw.objectField("vocab_only");
    try jw.write(true);
    try jw.objectField("n_vocab");
    try jw.write(t.nVocab());
    try jw.objectField("n_ctx");
    try jw.write(0);
    try jw.objectField("tokenizer");
    try jw.beginObject();
    try jw.objectField("kind");
    try jw.write(switch (t.vocab.model) {
        .spm => "spm",
        .bpe => "bpe",
    });
    try jw.objectField("bos");
    try jw.write(t.bos());
    try jw.objectField("eos");
    try jw.write(t.eos());
    try jw.objectField("add_bos");
    try jw.write(t.vocab.add_bos);
    try jw.endObject();
    try jw.endObject();
    return out.toOwnedSlice();
}

pub export fn pi5_n_vocab(rt: ?*const Runtime) callconv(.c) i32 {
    const t = tokOf(rt) orelse return 0;
    return @intCast(t.nVocab());
}
pub export fn pi5_n_embd(rt: ?*const Runtime) callconv(.c) i32 {
    const m = constModel(rt) orelse return 0;
    return @intCast(m.hp.n_embd);
}
pub export fn pi5_n_ctx(rt: ?*const Runtime) callconv(.c) i32 {
    const m = constModel(rt) orelse return 0;
    return @intCast(m.n_ctx);
}
pub export fn pi5_token_bos(rt: ?*const Runtime) callconv(.c) i32 {
    const t = tokOf(rt) orelse return -1;
    return if (t.bos()) |b| @intCast(b) else -1;
}
pub export fn pi5_token_eos(rt: ?*const Runtime) callconv(.c) i32 {
    const t = tokOf(rt) orelse return -1;
    return if (t.eos()) |b| @intCast(b) else -1;
}
pub export fn pi5_token_is_eog(rt: ?*const Runtime, token: i32) callconv(.c) i32 {
    const t = tokOf(rt) orelse return 0;
    if (token < 0) return 0;
    return @intFromBool(t.isEog(@intCast(token)));
}

// ---- tokenizer ----

pub export fn pi5_tokenize(rt: ?*Runtime, text: ?[*]const u8, text_len: usize, add_special: i32, parse_special: i32, tokens: ?[*]i32, max_tokens: usize, out_n: ?*usize) callconv(.c) c_int {
    if (out_n) |n| n.* = 0;
    const r = rt orelse return st(.invalid_argument);
    begin(r);
    const tk = tokOf(r) orelse return noTokenizer(r);
    if ((text == null and text_len > 0) or (tokens == null and max_tokens > 0)) {
        r.setError("pi5_tokenize: NULL text or tokens with a nonzero length", .{});
        return st(.invalid_argument);
    }
    const t: []const u8 = if (text) |p| p[0..text_len] else "";
    const ids = tk.tokenize(gpa, t, .{ .add_special = add_special != 0, .parse_special = parse_special != 0 }) catch |e| return fail(r, e, null, "pi5_tokenize");
    defer gpa.free(ids);
    if (out_n) |n| n.* = ids.len;
    if (ids.len > max_tokens) {
        r.setError("pi5_tokenize: {d} tokens do not fit in {d}", .{ ids.len, max_tokens });
        return st(.buffer_too_small);
    }
    for (ids, 0..) |id, i| tokens.?[i] = @intCast(id);
    return st(.ok);
}

pub export fn pi5_token_to_piece(rt: ?*Runtime, token: i32, special: i32, buf: ?[*]u8, buf_size: usize, out_len: ?*usize) callconv(.c) c_int {
    if (out_len) |l| l.* = 0;
    const r = rt orelse return st(.invalid_argument);
    begin(r);
    const tk = tokOf(r) orelse return noTokenizer(r);
    if (token < 0 or token >= tk.nVocab()) {
        r.setError("pi5_token_to_piece: token {d} is outside the vocabulary (0..{d})", .{ token, tk.nVocab() });
        return st(.invalid_argument);
    }
    var piece = std.ArrayList(u8).init(gpa);
    defer piece.deinit();
    tk.appendPiece(&piece, @intCast(token), .{ .special = special != 0 }) catch |e| return fail(r, e, null, "pi5_token_to_piece");
    return st(abi.writeOut(piece.items, buf, buf_size, out_len));
}

/// Validated token ids as u32 (allocated); error.InvalidArgument on one out of the vocabulary.
fn checkTokens(n_vocab: u32, tokens: []const i32) ![]u32 {
    const ids = try gpa.alloc(u32, tokens.len);
    errdefer gpa.free(ids);
    for (tokens, ids) |t, *id| {
        if (t < 0 or t >= n_vocab) return error.InvalidArgument;
        id.* = @intCast(t);
    }
    return ids;
}

pub export fn pi5_detokenize(rt: ?*Runtime, tokens: ?[*]const i32, n_tokens: usize, buf: ?[*]u8, buf_size: usize, out_len: ?*usize) callconv(.c) c_int {
    if (out_len) |l| l.* = 0;
    const r = rt orelse return st(.invalid_argument);
    begin(r);
    const tk = tokOf(r) orelse return noTokenizer(r);
    if (tokens == null and n_tokens > 0) return fail(r, error.InvalidArgument, null, "pi5_detokenize: tokens is NULL");
    const ids = checkTokens(tk.nVocab(), if (tokens) |t| t[0..n_tokens] else &.{}) catch |e| return fail(r, e, null, "pi5_detokenize: a token is outside the vocabulary");
    defer gpa.free(ids);
    const text = tk.detokenize(gpa, ids, .{}) catch |e| return fail(r, e, null, "pi5_detokenize");
    defer gpa.free(text);
    return st(abi.writeOut(text, buf, buf_size, out_len));
}

// ---- evaluation and KV cache ----

pub export fn pi5_eval(rt: ?*Runtime, tokens: ?[*]const i32, n_tokens: usize, logits: ?[*]f32) callconv(.c) c_int {
    const r = rt orelse return st(.invalid_argument);
    begin(r);
    const m = modelOf(r) orelse return noModel(r);
    const t = tokens orelse return fail(r, error.InvalidArgument, null, "pi5_eval: tokens is NULL");
    if (n_tokens == 0) return fail(r, error.InvalidArgument, null, "pi5_eval: n_tokens is 0");
    const ids = checkTokens(m.hp.n_vocab, t[0..n_tokens]) catch |e| return fail(r, e, null, "pi5_eval: a token is outside the vocabulary");
    defer gpa.free(ids);
    m.eval(.{ .tokens = ids }) catch |e| return fail(r, e, null, "pi5_eval");
    if (logits) |l| @memcpy(l[0..m.hp.n_vocab], m.logits());
    return st(.ok);
}

pub export fn pi5_infer(rt: ?*Runtime, input: ?[*]const f32, output: ?[*]f32) callconv(.c) c_int {
    const r = rt orelse return st(.invalid_argument);
    begin(r);
    const m = modelOf(r) orelse return noModel(r);
    const in = input orelse return fail(r, error.InvalidArgument, null, "pi5_infer: input is NULL");
    const out = output orelse return fail(r, error.InvalidArgument, null, "pi5_infer: output is NULL");
    m.eval(.{ .embd = in[0..m.hp.n_embd] }) catch |e| return fail(r, e, null, "pi5_infer");
    @memcpy(out[0..m.hp.n_vocab], m.logits());
    return st(.ok);
}

pub export fn pi5_kv_pos(rt: ?*const Runtime) callconv(.c) i32 {
    const m = constModel(rt) orelse return 0;
    return @intCast(m.n_past);
}

pub export fn pi5_kv_clear(rt: ?*Runtime) callconv(.c) c_int {
    const r = rt orelse return st(.invalid_argument);
    begin(r);
    const m = modelOf(r) orelse return noModel(r);
    m.clear();
    return st(.ok);
}

pub export fn pi5_kv_truncate(rt: ?*Runtime, n_keep: i32) callconv(.c) c_int {
    const r = rt orelse return st(.invalid_argument);
    begin(r);
    const m = modelOf(r) orelse return noModel(r);
    if (n_keep < 0) return fail(r, error.InvalidArgument, null, "pi5_kv_truncate: n_keep is negative");
    m.truncate(@intCast(n_keep)) catch |e| return fail(r, e, null, "pi5_kv_truncate: n_keep is larger than pi5_kv_pos");
    return st(.ok);
}

pub export fn pi5_state_save(rt: ?*Runtime, path: ?[*:0]const u8) callconv(.c) c_int {
    const r = rt orelse return st(.invalid_argument);
    begin(r);
    const m = modelOf(r) orelse return noModel(r);
    const p = path orelse return fail(r, error.InvalidArgument, null, "pi5_state_save: path is NULL");
    m.saveState(std.mem.span(p)) catch |e| {
        r.setError("pi5_state_save: cannot write '{s}': {s}", .{ std.mem.span(p), @errorName(e) });
        return st(abi.statusOf(e));
    };
    return st(.ok);
}

pub export fn pi5_state_load(rt: ?*Runtime, path: ?[*:0]const u8) callconv(.c) c_int {
    const r = rt orelse return st(.invalid_argument);
    begin(r);
    const m = modelOf(r) orelse return noModel(r);
    const p = path orelse return fail(r, error.InvalidArgument, null, "pi5_state_load: path is NULL");
    var diag = Diagnostic{};
    m.loadState(std.mem.span(p), &diag) catch |e| {
        if (diag.len == 0) {
            r.setError("pi5_state_load: cannot read '{s}': {s}", .{ std.mem.span(p), @errorName(e) });
            return st(abi.statusOf(e));
        }
        return fail(r, e, &diag, "pi5_state_load");
    };
    return st(.ok);
}

// ---- sampling and generation ----

pub export fn pi5_sampling_default_params() callconv(.c) SamplingParamsC {
    const d = pi5.sampler.Params{};
    return .{
        .struct_size = @sizeOf(SamplingParamsC),
        .temperature = d.temperature,
        .top_k = @intCast(d.top_k),
        .top_p = d.top_p,
        .min_p = d.min_p,
        .repeat_penalty = d.repeat_penalty,
        .frequency_penalty = d.frequency_penalty,
        .presence_penalty = d.presence_penalty,
        .penalty_last_n = @intCast(d.penalty_last_n),
        .seed = d.seed,
    };
}

pub export fn pi5_generate_default_options() callconv(.c) GenerateOptionsC {
    return .{
        .struct_size = @sizeOf(GenerateOptionsC),
        .max_tokens = 128,
        .sampling = pi5_sampling_default_params(),
        .stop = null,
        .n_stop = 0,
        .reset = 1,
        .on_token = null,
        .user_data = null,
    };
}

pub fn convertSampling(s: *const SamplingParamsC, n_ctx: u32) error{InvalidArgument}!pi5.sampler.Params {
    if (s.struct_size != @sizeOf(SamplingParamsC) or s.top_k < 0 or s.penalty_last_n < -1) return error.InvalidArgument;
    inline for (.{ s.temperature, s.top_p, s.min_p, s.repeat_penalty, s.frequency_penalty, s.presence_penalty }) |f|
        if (std.math.isNan(f)) return error.InvalidArgument;
    return .{
        .temperature = s.temperature,
        .top_k = @intCast(s.top_k),
        .top_p = s.top_p,
        .min_p = s.min_p,
        .repeat_penalty = s.repeat_penalty,
        .frequency_penalty = s.frequency_penalty,
        .presence_penalty = s.presence_penalty,
        .penalty_last_n = if (s.penalty_last_n == -1) n_ctx else @intCast(s.penalty_last_n),
        .seed = s.seed,
    };
}

const TokenCtx = struct { cb: TokenCallback, user: ?*anyopaque };

fn tokenThunk(ctx: ?*anyopaque, token: u32, piece: []const u8) bool {
    const c: *const TokenCtx = @ptrCast(@alignCast(ctx.?));
    return c.cb(@bitCast(token), piece.ptr, piece.len, c.user) == 0;
}

pub export fn pi5_generate(rt: ?*Runtime, prompt: ?[*:0]const u8, options: ?*const GenerateOptionsC, out: ?[*]u8, out_size: usize, out_len: ?*usize, result: ?*GenerateResultC) callconv(.c) c_int {
    if (out_len) |l| l.* = 0;
    if (result) |res| res.* = std.mem.zeroes(GenerateResultC);
    const r = rt orelse return st(.invalid_argument);
    begin(r);
    const m = modelOf(r) orelse return noModel(r);
    const p = prompt orelse return fail(r, error.InvalidArgument, null, "pi5_generate: prompt is NULL");
    const defaults = pi5_generate_default_options();
    const o = options orelse &defaults;
    if (o.struct_size != @sizeOf(GenerateOptionsC) or o.max_tokens < 0 or (o.stop == null and o.n_stop > 0) or (out == null and out_size > 0))
        return fail(r, error.InvalidArgument, null, "pi5_generate: invalid options (struct_size, max_tokens, stop or out)");
    const sampling = convertSampling(&o.sampling, m.n_ctx) catch |e| return fail(r, e, null, "pi5_generate: invalid sampling params");
    if (pi5.sampler.checkParams(sampling)) |why| {
        r.setError("pi5_generate: sampling: {s}", .{why.message()});
        return st(.invalid_argument);
    }
    const stops = gpa.alloc([]const u8, o.n_stop) catch |e| return fail(r, e, null, "pi5_generate");
    defer gpa.free(stops);
    for (stops, 0..) |*s, i| {
        const sp = o.stop.?[i] orelse return fail(r, error.InvalidArgument, null, "pi5_generate: a stop string is NULL");
        s.* = std.mem.span(sp);
    }
    var tctx: TokenCtx = undefined;
    var gopts = gen.Options{
        .max_tokens = @intCast(o.max_tokens),
        .sampling = sampling,
        .stop = stops,
        .reset = o.reset != 0,
    };
    if (o.on_token) |cb| {
        tctx = .{ .cb = cb, .user = o.user_data };
        gopts.on_token = .{ .ctx = &tctx, .func = tokenThunk };
    }
    var text = std.ArrayList(u8).init(gpa);
    defer text.deinit();
    var res = gen.Result{};
    var status: c_int = st(.ok);
    gen.generate(gpa, m, std.mem.span(p), gopts, &text, &res) catch |e| {
        status = fail(r, e, null, "pi5_generate");
        explainPrompt(r, m, e, res.n_prompt_tokens, gopts.reset);
    };
    if (result) |out_res| out_res.* = .{
        .n_prompt_tokens = @intCast(res.n_prompt_tokens),
        .n_generated = @intCast(res.n_generated),
        .prompt_ms = res.prompt_ms,
        .generate_ms = res.generate_ms,
        .stop_reason = @intFromEnum(res.stop_reason),
        .seed = res.seed,
    };
    if (status != st(.ok) and status != st(.aborted)) return status;
    if (out == null and out_size == 0) {
        if (out_len) |l| l.* = text.items.len;
        return status;
    }
    const w = abi.writeOut(text.items, out, out_size, out_len);
    if (w != .ok) {
        r.setError("pi5_generate: the text needs {d} bytes, out holds {d}", .{ text.items.len + 1, out_size });
        return st(w);
    }
    return status;
}

/// The CLI's explanations of a prompt generate refused (bare "invalid argument" said too little).
fn explainPrompt(r: *Runtime, m: *const Model, err: anyerror, n_prompt: u32, reset: bool) void {
    const in_use: u32 = if (reset) 0 else m.n_past;
    if (err == error.InvalidArgument and n_prompt == 0 and in_use == 0) {
        r.setError("pi5_generate: the prompt is empty and the model adds no BOS: nothing to start from", .{});
    } else if (err == error.ContextFull and n_prompt > m.n_ctx - in_use) {
        r.setError("pi5_generate: the prompt has {d} tokens, the context holds {d} ({d} in use)", .{ n_prompt, m.n_ctx, in_use });
    }
}

// ---- tests ----

const testing = std.testing;

fn fixture(rel: []const u8) ![:0]u8 {
    const p = try pi5.gguf.fixturePath(testing.allocator, rel);
    defer testing.allocator.free(p);
    return testing.allocator.dupeZ(u8, p);
}

fn cpuRuntime() !*Runtime {
    return Runtime.create(gpa, .{ .backend = .cpu, .n_threads = 2 });
}

test "model ABI: every error path returns a status" {
    // NULL runtime
    try testing.expectEqual(st(.invalid_argument), pi5_load_model(null, "x"));
    try testing.expectEqual(st(.invalid_argument), pi5_eval(null, null, 0, null));
    try testing.expectEqual(st(.invalid_argument), pi5_generate(null, "x", null, null, 0, null, null));
    try testing.expectEqual(@as(i32, 0), pi5_n_vocab(null));
    try testing.expectEqual(@as(i32, -1), pi5_token_bos(null));
    const rt = try cpuRuntime();
    defer rt.destroy();
    // no model
    var n: usize = 99;
    try testing.expectEqual(st(.no_model), pi5_tokenize(rt, "a", 1, 1, 0, null, 0, &n));
    try testing.expectEqual(@as(usize, 0), n);
    try testing.expectEqual(st(.no_model), pi5_eval(rt, &[_]i32{1}, 1, null));
    try testing.expectEqual(st(.no_model), pi5_kv_clear(rt));
    try testing.expectEqual(st(.no_model), pi5_generate(rt, "x", null, null, 0, null, null));
    try testing.expectEqual(st(.no_model), pi5_model_info(rt, null, 0, &n));
    try testing.expectEqual(st(.no_model), pi5_state_save(rt, "/tmp/x"));
    try testing.expect(std.mem.indexOf(u8, rt.lastError(), "no model") != null);
    // bad files
    try testing.expectEqual(st(.invalid_argument), pi5_load_model(rt, null));
    try testing.expectEqual(st(.io), pi5_load_model(rt, "/nonexistent/model.gguf"));
    const bad = try fixture("stories260K-q8_0.gguf");
    defer testing.allocator.free(bad);
    try testing.expectEqual(st(.invalid_model), pi5_load_model(rt, bad));
    try testing.expect(std.mem.indexOf(u8, rt.lastError(), "ffn_down") != null);
    var o = pi5_model_default_options();
    o.kv_type = 9;
    try testing.expectEqual(st(.invalid_argument), pi5_load_model_ex(rt, bad, &o));

    const good = try fixture("stories260K.gguf");
    defer testing.allocator.free(good);
    o = pi5_model_default_options();
    o.n_ctx = 16;
    try testing.expectEqual(st(.ok), pi5_load_model_ex(rt, good, &o));
    try testing.expectEqual(@as(i32, 16), pi5_n_ctx(rt));
    try testing.expectEqual(@as(i32, 512), pi5_n_vocab(rt));
    // invalid tokens, context full (nothing evaluated), truncate beyond pos
    try testing.expectEqual(st(.invalid_argument), pi5_eval(rt, &[_]i32{-1}, 1, null));
    try testing.expectEqual(st(.invalid_argument), pi5_eval(rt, &[_]i32{512}, 1, null));
    try testing.expectEqual(st(.invalid_argument), pi5_eval(rt, null, 1, null));
    const many = [_]i32{1} ** 17;
    try testing.expectEqual(st(.context_full), pi5_eval(rt, &many, many.len, null));
    try testing.expectEqual(@as(i32, 0), pi5_kv_pos(rt));
    try testing.expectEqual(st(.ok), pi5_eval(rt, &many, 16, null));
    try testing.expectEqual(st(.context_full), pi5_eval(rt, &many, 1, null));
    try testing.expectEqual(st(.invalid_argument), pi5_kv_truncate(rt, 17));
    try testing.expectEqual(st(.ok), pi5_kv_truncate(rt, 3));
    try testing.expectEqual(@as(i32, 3), pi5_kv_pos(rt));
    // generation that runs into the end of the context stops with a reason
    var res: GenerateResultC = undefined;
    var gopt = pi5_generate_default_options();
    gopt.max_tokens = 0;
    gopt.sampling.temperature = 0;
    try testing.expectEqual(st(.ok), pi5_generate(rt, "", &gopt, null, 0, &n, &res));
    try testing.expectEqual(@as(c_int, @intFromEnum(gen.StopReason.context_full)), res.stop_reason);
    gopt.struct_size = 5;
    try testing.expectEqual(st(.invalid_argument), pi5_generate(rt, "", &gopt, null, 0, &n, &res));
    // state file of another model / damaged
    try testing.expectEqual(st(.io), pi5_state_load(rt, "/nonexistent/state"));
    try testing.expectEqual(st(.invalid_model), pi5_state_load(rt, good));
}

test "model ABI: vocab-only load of a file without weights; evaluation says vocab-only" {
    const rt = try cpuRuntime();
    defer rt.destroy();
    const vocab = try fixture("vocab/ggml-vocab-llama-bpe.gguf");
    defer testing.allocator.free(vocab);
    // Without vocab_only this file (no tensors) cannot load.
    try testing.expect(pi5_load_model(rt, vocab) != st(.ok));
    var o = pi5_model_default_options();
    o.vocab_only = 1;
    try testing.expectEqual(st(.ok), pi5_load_model_ex(rt, vocab, &o));
    try testing.expectEqual(@as(i32, 128256), pi5_n_vocab(rt));
    try testing.expectEqual(@as(i32, 128000), pi5_token_bos(rt));
    var toks: [8]i32 = undefined;
    var n: usize = 0;
    try testing.expectEqual(st(.ok), pi5_tokenize(rt, "Hello world", 11, 1, 0, &toks, toks.len, &n));
    try testing.expectEqualSlices(i32, &.{ 128000, 9906, 1917 }, toks[0..n]);
    // parse_special: "<|begin_of_text|>" is the control token only when asked for.
    const bot = "<|begin_of_text|>";
    try testing.expectEqual(st(.ok), pi5_tokenize(rt, bot, bot.len, 0, 1, &toks, toks.len, &n));
    try testing.expectEqualSlices(i32, &.{128000}, toks[0..n]);
    try testing.expectEqual(st(.ok), pi5_tokenize(rt, bot, bot.len, 0, 0, &toks, toks.len, &n));
    try testing.expect(n > 1);
    var buf: [64]u8 = undefined;
    var len: usize = 0;
    try testing.expectEqual(st(.ok), pi5_detokenize(rt, &[_]i32{ 9906, 1917 }, 2, &buf, buf.len, &len));
    try testing.expectEqualStrings("Hello world", buf[0..len]);
    try testing.expectEqual(st(.ok), pi5_token_to_piece(rt, 1917, 0, &buf, buf.len, &len));
    try testing.expectEqualStrings(" world", buf[0..len]);
    try testing.expectEqual(st(.unsupported), pi5_eval(rt, &[_]i32{1}, 1, null));
    try testing.expect(std.mem.indexOf(u8, rt.lastError(), "vocab-only") != null);
    try testing.expectEqual(st(.unsupported), pi5_generate(rt, "x", null, null, 0, null, null));
    try testing.expectEqual(@as(i32, 0), pi5_n_ctx(rt));
    var info: [512]u8 = undefined;
    try testing.expectEqual(st(.ok), pi5_model_info(rt, &info, info.len, &len));
    try testing.expect(std.mem.indexOf(u8, info[0..len], "\"vocab_only\":true") != null);

    // A v1 options struct (before vocab_only) still loads, as a full model.
    const good = try fixture("stories260K.gguf");
    defer testing.allocator.free(good);
    o = pi5_model_default_options();
    o.struct_size = model_options_v1_size;
    o.vocab_only = 1; // beyond a v1 struct: must be ignored
    try testing.expectEqual(st(.ok), pi5_load_model_ex(rt, good, &o));
    try testing.expectEqual(@as(i32, 512), pi5_n_vocab(rt));
    try testing.expect(rt.vocab == null);
    try testing.expectEqual(st(.ok), pi5_eval(rt, &[_]i32{1}, 1, null));
    o.struct_size = 40;
    try testing.expectEqual(st(.invalid_argument), pi5_load_model_ex(rt, good, &o));
}

const Collect = struct {
    text: std.ArrayList(u8),
    calls: u32 = 0,
    stop_after: u32 = std.math.maxInt(u32),
    fn cb(token: i32, piece: [*]const u8, len: usize, user: ?*anyopaque) callconv(.c) i32 {
        _ = token;
        const self: *Collect = @ptrCast(@alignCast(user.?));
        self.text.appendSlice(piece[0..len]) catch return 1;
        self.calls += 1;
        return @intFromBool(self.calls >= self.stop_after);
    }
};

test "model ABI: generate streams, stops at strings, aborts, and agrees with the golden text" {
    const rt = try cpuRuntime();
    defer rt.destroy();
    const good = try fixture("stories260K.gguf");
    defer testing.allocator.free(good);
    try testing.expectEqual(st(.ok), pi5_load_model(rt, good));
    var c = Collect{ .text = std.ArrayList(u8).init(testing.allocator) };
    defer c.text.deinit();
    var opt = pi5_generate_default_options();
    opt.max_tokens = 200;
    opt.sampling.temperature = 0;
    opt.on_token = Collect.cb;
    opt.user_data = &c;
    var buf: [4096]u8 = undefined;
    var n: usize = 0;
    var res: GenerateResultC = undefined;
    try testing.expectEqual(st(.ok), pi5_generate(rt, "", &opt, &buf, buf.len, &n, &res));
    const expected = try @import("model/tests.zig").goldenSection(testing.allocator, "--temperature 0 --sequence_length 200 --worker_count 0");
    defer testing.allocator.free(expected);
    try testing.expectEqualStrings(expected, buf[0..n]);
    try testing.expectEqualStrings(expected, c.text.items);
    try testing.expectEqual(@as(i32, 200), res.n_generated);
    try testing.expectEqual(@as(i32, 1), res.n_prompt_tokens);
    try testing.expectEqual(@as(c_int, 2), res.stop_reason);

    // stop string: the text before it only
    const stop_list = [_]?[*:0]const u8{"Lily's mom"};
    opt.stop = &stop_list;
    opt.n_stop = 1;
    c.text.clearRetainingCapacity();
    try testing.expectEqual(st(.ok), pi5_generate(rt, "", &opt, &buf, buf.len, &n, &res));
    const cut = std.mem.indexOf(u8, expected, "Lily's mom").?;
    try testing.expectEqualStrings(expected[0..cut], buf[0..n]);
    try testing.expectEqualStrings(expected[0..cut], c.text.items);
    try testing.expectEqual(@as(c_int, 3), res.stop_reason);

    // abort from the callback; too small a buffer
    opt.stop = null;
    opt.n_stop = 0;
    c.stop_after = 3;
    c.calls = 0;
    try testing.expectEqual(st(.aborted), pi5_generate(rt, "", &opt, null, 0, &n, &res));
    try testing.expectEqual(@as(c_int, 4), res.stop_reason);
    try testing.expectEqual(@as(i32, 3), res.n_generated);
    c.stop_after = std.math.maxInt(u32);
    opt.max_tokens = 10;
    var small: [4]u8 = undefined;
    try testing.expectEqual(st(.buffer_too_small), pi5_generate(rt, "", &opt, &small, small.len, &n, &res));
    try testing.expect(n > 4);

    // tokenize / piece / detokenize / eval / infer / state round trip through the ABI
    var toks: [64]i32 = undefined;
    try testing.expectEqual(st(.ok), pi5_tokenize(rt, "Once upon", 9, 1, 0, &toks, toks.len, &n));
    try testing.expectEqual(@as(i32, 1), toks[0]);
    var piece: [32]u8 = undefined;
    var plen: usize = 0;
    try testing.expectEqual(st(.ok), pi5_detokenize(rt, &toks, n, &piece, piece.len, &plen));
    // llama.cpp's llama_detokenize: with BOS kept, only BOS's (empty) piece is lstripped
    try testing.expectEqualStrings(" Once upon", piece[0..plen]);
    try testing.expectEqual(st(.ok), pi5_token_to_piece(rt, toks[1], 0, &piece, piece.len, &plen));
    try testing.expectEqual(st(.ok), pi5_kv_clear(rt));
    var logits: [512]f32 = undefined;
    try testing.expectEqual(st(.ok), pi5_eval(rt, &toks, n, &logits));
    try testing.expectEqual(@as(i32, @intCast(n)), pi5_kv_pos(rt));
    var embd = [_]f32{0.01} ** 64;
    try testing.expectEqual(st(.ok), pi5_infer(rt, &embd, &logits));
    try testing.expectEqual(@as(i32, @intCast(n + 1)), pi5_kv_pos(rt));
    var info: [4096]u8 = undefined;
    try testing.expectEqual(st(.ok), pi5_model_info(rt, &info, info.len, &plen));
    try testing.expect(std.mem.indexOf(u8, info[0..plen], "\"architecture\": \"llama\"") != null);
}

test "model ABI: an empty prompt without BOS and a prompt longer than the context say so" {
    const src_path = try fixture("stories260K.gguf");
    defer testing.allocator.free(src_path);
    var tmp = testing.tmpDir(.{});
    defer tmp.cleanup();
    // stories260K with add_bos_token = false: an empty prompt then has nothing to start from.
    var src = try pi5.gguf.File.open(testing.allocator, src_path, null);
    defer src.deinit();
    var w = pi5.gguf_writer.Writer.init(testing.allocator);
    defer w.deinit();
    for (src.keys()) |kv| if (!std.mem.eql(u8, kv.key, "tokenizer.ggml.add_bos_token")) try w.putValue(kv.key, kv.value);
    try w.putValue("tokenizer.ggml.add_bos_token", .{ .bool = false });
    for (src.tensors) |t| try w.addTensor(t.name, t.type, t.ne[0..t.n_dims], t.data);
    const dir = try tmp.dir.realpathAlloc(testing.allocator, ".");
    defer testing.allocator.free(dir);
    const no_bos = try std.fs.path.joinZ(testing.allocator, &.{ dir, "no_bos.gguf" });
    defer testing.allocator.free(no_bos);
    try w.writeToFile(no_bos);

    const rt = try cpuRuntime();
    defer rt.destroy();
    try testing.expectEqual(st(.ok), pi5_load_model(rt, no_bos));
    var buf: [256]u8 = undefined;
    var len: usize = 0;
    try testing.expectEqual(st(.invalid_argument), pi5_generate(rt, "", null, &buf, buf.len, &len, null));
    try testing.expect(std.mem.indexOf(u8, std.mem.span(abi.pi5_last_error(rt)), "the prompt is empty and the model adds no BOS") != null);
    // A non-empty prompt works on the same model.
    var few = pi5_generate_default_options();
    few.max_tokens = 8;
    try testing.expectEqual(st(.ok), pi5_generate(rt, "Once", &few, &buf, buf.len, &len, null));

    // A prompt longer than the context: the status is CONTEXT_FULL and the message gives the counts.
    var o = pi5_model_default_options();
    o.n_ctx = 16;
    try testing.expectEqual(st(.ok), pi5_load_model_ex(rt, src_path, &o));
    const long = "Once upon a time there was a little girl named Lily who loved to play outside in the sun";
    try testing.expectEqual(st(.context_full), pi5_generate(rt, long, null, &buf, buf.len, &len, null));
    const msg = std.mem.span(abi.pi5_last_error(rt));
    if (std.mem.indexOf(u8, msg, "the context holds 16 (0 in use)") == null) {
        std.debug.print("message: {s}\n", .{msg});
        return error.TestUnexpectedResult;
    }
}

test "model ABI: no_mmap loads a copy, so truncating the file meanwhile changes nothing" {
    const src_path = try fixture("stories260K.gguf");
    defer testing.allocator.free(src_path);
    var tmp = testing.tmpDir(.{});
    defer tmp.cleanup();
    try std.fs.cwd().copyFile(src_path, tmp.dir, "copy.gguf", .{});
    const dir = try tmp.dir.realpathAlloc(testing.allocator, ".");
    defer testing.allocator.free(dir);
    const copy = try std.fs.path.joinZ(testing.allocator, &.{ dir, "copy.gguf" });
    defer testing.allocator.free(copy);

    var gen_opts = pi5_generate_default_options();
    gen_opts.max_tokens = 40;
    gen_opts.sampling.temperature = 0;
    const rt = try cpuRuntime();
    defer rt.destroy();
    var want: [1024]u8 = undefined;
    var want_len: usize = 0;
    try testing.expectEqual(st(.ok), pi5_load_model(rt, src_path));
    try testing.expectEqual(st(.ok), pi5_generate(rt, "Once upon a time", &gen_opts, &want, want.len, &want_len, null));

    var o = pi5_model_default_options();
    o.no_mmap = 1;
    try testing.expectEqual(st(.ok), pi5_load_model_ex(rt, copy, &o));
    try testing.expect(rt.model.?.file.heap_copy);
    // With the file mapped this would be SIGBUS on the next read of the weights.
    const f = try tmp.dir.openFile("copy.gguf", .{ .mode = .read_write });
    try f.setEndPos(0);
    f.close();
    var got: [1024]u8 = undefined;
    var got_len: usize = 0;
    try testing.expectEqual(st(.ok), pi5_generate(rt, "Once upon a time", &gen_opts, &got, got.len, &got_len, null));
    try testing.expectEqualStrings(want[0..want_len], got[0..got_len]);
    try testing.expectEqual(st(.ok), pi5_unload_model(rt));
}
