//! A loaded GGUF model (llama, phi2, gpt2): hyperparameters and weights checked against the
//! architecture, the tokenizer, a KV cache, and the direct CPU forward pass on core/cpu/ops
//! (llama2.c style). The forward stays the reference that graph-built forwards are tested against.
//!
//! Weights stay in the memory-mapped GGUF; 1-D tensors (norms, biases) are converted to f32
//! copies at load so every op sees f32 activations and parameters.
const std = @import("std");
const reader = @import("../gguf/reader.zig");
const ops = @import("../cpu/ops.zig");
const pool_mod = @import("../cpu/pool.zig");
const quant = @import("../quant/quant.zig");
const tokenizer_mod = @import("../tokenizer/tokenizer.zig");
const vocab_file = @import("../tokenizer/vocab_file.zig");
const vk = @import("../vk/vk.zig");
pub const graph_model = @import("graph_model.zig");
pub const GraphModel = graph_model.GraphModel;
pub const Placement = graph_model.Placement;

pub const GgmlType = reader.GgmlType;
pub const QTensor = ops.QTensor;
pub const Diagnostic = reader.Diagnostic;
pub const Tokenizer = tokenizer_mod.Tokenizer;

pub const Arch = enum(u32) { llama = 1, phi2 = 2, gpt2 = 3 };
pub const KvType = enum(u32) { f16 = 1, f32 = 2 };

/// Context length used when the model's is larger and the caller asks for "the model's".
pub const default_max_ctx = 4096;

pub const Hparams = struct {
    arch: Arch,
    n_vocab: u32,
    n_embd: u32,
    n_layer: u32,
    n_ff: u32,
    n_head: u32,
    n_head_kv: u32,
    head_dim: u32,
    /// Rotary dims per head (0 for gpt2: learned positions).
    n_rot: u32,
    rope_freq_base: f32,
    rope_freq_scale: f32,
    norm_eps: f32,
    n_ctx_train: u32,

    pub fn kvDim(h: Hparams) usize {
        return @as(usize, h.n_head_kv) * h.head_dim;
    }
};

pub const LoadOptions = struct {
    /// 0 = the model's context length, capped at default_max_ctx.
    n_ctx: u32 = 0,
    kv_type: KvType = .f16,
    /// Tokens per forward step for prompts; 0 = 64.
    n_batch: u32 = 0,
    /// CPU threads including the caller; 0 = every core.
    n_threads: u32 = 0,
    /// Load progress 0..1; return false to abort (error.Aborted).
    progress: ?*const fn (ctx: ?*anyopaque, p: f32) bool = null,
    progress_ctx: ?*anyopaque = null,
    /// The device the graph runs on (the runtime's `gpu`); null = the graph on the CPU.
    gpu: ?*vk.Context = null,
    /// Which layers go to the GPU (n_gpu_layers / gpu_budget_bytes); ignored without `gpu`.
    placement: Placement = .auto,
    /// The direct CPU forward (llama2.c style, core/cpu/ops) instead of the graph: the
    /// reference the graph is tested against. Ignores `gpu`.
    reference_cpu: bool = false,
    /// Rows per graph step; 0 = n_batch on a real GPU (the tiled kernels run from 9 rows up),
    /// 8 on CPU-type Vulkan devices and the CPU graph (on lavapipe a 32-row step of a
    /// 2048-wide model passes the runtime's 5 s fence timeout). Decode replays the 1-row variant.
    graph_tokens: u32 = 0,
    /// Record per-node times (GPU timestamps, CPU timers): `Model.profileJson`.
    profile: bool = false,
};

const Layer = struct {
    attn_norm: []const f32, // [n_embd]
    attn_norm_b: ?[]const f32 = null, // [n_embd] (phi2, gpt2)
    // Either separate projections or one fused [n_embd → n_embd + 2·kv_dim] (phi2, gpt2).
    wq: ?QTensor = null, // [n_embd → n_embd]
    wk: ?QTensor = null, // [n_embd → kv_dim]
    wv: ?QTensor = null, // [n_embd → kv_dim]
    bq: ?[]const f32 = null,
    bk: ?[]const f32 = null,
    bv: ?[]const f32 = null,
    wqkv: ?QTensor = null,
    bqkv: ?[]const f32 = null,
    wo: QTensor, // [n_embd → n_embd]
    bo: ?[]const f32 = null,
    ffn_norm: ?[]const f32 = null, // [n_embd] (llama, gpt2; phi2 shares attn_norm)
    ffn_norm_b: ?[]const f32 = null,
    ffn_gate: ?QTensor = null, // [n_embd → n_ff] (llama)
    ffn_up: QTensor, // [n_embd → n_ff]
    ffn_up_b: ?[]const f32 = null,
    ffn_down: QTensor, // [n_ff → n_embd]
    ffn_down_b: ?[]const f32 = null,
};

const Weights = struct {
    tok_embd: QTensor, // [n_vocab × n_embd]
    pos_embd: ?QTensor = null, // [n_ctx_train × n_embd] (gpt2)
    layers: []Layer,
    output_norm: []const f32,
    output_norm_b: ?[]const f32 = null,
    output: QTensor, // [n_embd → n_vocab]; token_embd when tied
    output_b: ?[]const f32 = null,
};

/// Activations for up to n_batch tokens.
const Buffers = struct {
    x: []f32, // [n_batch × n_embd] residual stream
    xb: []f32, // [n_batch × n_embd] normed input
    xb2: []f32, // [n_batch × n_embd]
    attn: []f32, // [n_batch × n_embd]
    q: []f32, // [n_batch × n_embd]
    k: []f32, // [n_batch × kv_dim]
    v: []f32, // [n_batch × kv_dim]
    qkv: []f32, // [n_batch × (n_embd + 2·kv_dim)]
    hb: []f32, // [n_batch × n_ff]
    hb2: []f32, // [n_batch × n_ff]
    pos: []i32, // [n_batch]
    ids: []u32, // [n_batch]
    logits: []f32, // [n_vocab] of the last evaluated token
    scratch: []u8, // matmul activation quantization
};

pub const KvCache = union(KvType) {
    f16: struct { k: []f16, v: []f16 },
    f32: struct { k: []f32, v: []f32 },
};

pub const Input = union(enum) {
    tokens: []const u32,
    /// n_tokens × n_embd floats used in place of token embeddings.
    embd: []const f32,
};

pub const Error = error{ InvalidGguf, UnsupportedModel, OutOfMemory, Aborted, InvalidArgument, ContextFull, BadShape, Unsupported, DeviceError, GpuTimeout, DeviceLost, OutOfDeviceMemory };

pub const Model = struct {
    alloc: std.mem.Allocator,
    arena: std.heap.ArenaAllocator,
    file: reader.File,
    hp: Hparams,
    name: []const u8,
    weights: Weights,
    tok: Tokenizer,
    n_ctx: u32,
    n_batch: u32,
    kv_type: KvType,
    kv: KvCache,
    /// Tokens whose K/V rows are in the cache; embeddings fed through `infer` are recorded as
    /// `embd_token`.
    history: []u32,
    n_past: u32 = 0,
    buf: Buffers,
    pool: pool_mod.Pool,
    /// Hash of the tensor table (names, types, shapes, offsets): identifies the weights for state files.
    tensor_hash: u64,
    weight_bytes: u64,
    /// The graph forward (GPU or CPU graph); null = the direct CPU forward (reference_cpu).
    gm: ?*GraphModel = null,

    pub const embd_token: u32 = std.math.maxInt(u32);

    /// Maps and checks `path`. On InvalidGguf / UnsupportedModel `diag` names the problem.
    pub fn load(alloc: std.mem.Allocator, path: []const u8, opts: LoadOptions, diag: *Diagnostic) !*Model {
        const self = try alloc.create(Model);
        errdefer alloc.destroy(self);
        self.alloc = alloc;
        self.arena = std.heap.ArenaAllocator.init(alloc);
        errdefer self.arena.deinit();
        self.file = try reader.File.open(alloc, path, diag);
        errdefer self.file.deinit();
        try progress(opts, 0.05);

        const a = self.arena.allocator();
        self.hp = try readHparams(&self.file, diag);
        self.name = try a.dupe(u8, self.file.getString("general.name") orelse "");
        var l = Loader{ .file = &self.file, .diag = diag, .a = a };
        self.weights = try l.loadWeights(&self.hp, opts);
        self.weight_bytes = l.bytes;
        self.tensor_hash = hashTensorTable(&self.file);

        self.tok = try vocab_file.fromFile(alloc, &self.file, diag);
        errdefer self.tok.deinit();
        if (self.tok.nVocab() != self.hp.n_vocab) {
            diag.set(null, "tokenizer has {d} tokens but token_embd.weight has {d} rows", .{ self.tok.nVocab(), self.hp.n_vocab });
            return error.InvalidGguf;
        }

        const train = if (self.hp.n_ctx_train == 0) default_max_ctx else self.hp.n_ctx_train;
        self.n_ctx = if (opts.n_ctx != 0) opts.n_ctx else @min(train, default_max_ctx);
        if (self.hp.arch == .gpt2 and self.n_ctx > self.hp.n_ctx_train) {
            diag.set(null, "gpt2 has learned positions for {d} tokens; n_ctx {d} is larger", .{ self.hp.n_ctx_train, self.n_ctx });
            return error.InvalidArgument;
        }
        self.n_batch = if (opts.n_batch == 0) 64 else opts.n_batch;
        self.n_batch = @min(self.n_batch, self.n_ctx);
        self.kv_type = opts.kv_type;
        self.n_past = 0;
        self.history = try a.alloc(u32, self.n_ctx);
        self.gm = null;
        if (opts.reference_cpu) {
            try self.allocKv(a);
        } else {
            self.kv = switch (self.kv_type) {
                .f16 => .{ .f16 = .{ .k = &.{}, .v = &.{} } },
                .f32 => .{ .f32 = .{ .k = &.{}, .v = &.{} } },
            };
        }
        try self.allocBuffers(a);
        try self.pool.init(alloc, .{ .n_threads = if (opts.n_threads == 0) null else opts.n_threads });
        errdefer self.pool.deinit();
        if (!opts.reference_cpu) {
            // Prompt rows per GPU step: a whole batch on real GPUs (the tiled mat-mat kernels run
            // from 9 rows up); 8 on CPU-type Vulkan devices (lavapipe), whose big-model steps
            // would otherwise outlast the submission timeout, and on the CPU graph.
            const real_gpu = if (opts.gpu) |g| g.report.device_type != .cpu else false;
            const gt = @min(if (opts.graph_tokens != 0) opts.graph_tokens else if (real_gpu) self.n_batch else 8, self.n_batch);
            self.gm = GraphModel.create(alloc, self, opts.gpu, opts.placement, gt, opts.n_threads, opts.profile) catch |e| {
                diag.set(null, "cannot plan the model graph: {s}", .{@errorName(e)});
                return switch (e) {
                    error.OutOfMemory => error.OutOfMemory,
                    error.ContextFull, error.InvalidArgument => error.InvalidArgument,
                    error.BadShape, error.Unsupported => error.UnsupportedModel,
                    error.OutOfDeviceMemory => error.OutOfDeviceMemory,
                    error.DeviceLost => error.DeviceLost,
                    error.GpuTimeout => error.GpuTimeout,
                    else => error.DeviceError,
                };
            };
        }
        try progress(opts, 1.0);
        return self;
    }

    pub fn destroy(self: *Model) void {
        if (self.gm) |gm| gm.destroy();
        self.pool.deinit();
        self.tok.deinit();
        self.file.deinit();
        self.arena.deinit();
        self.alloc.destroy(self);
    }

    fn allocKv(self: *Model, a: std.mem.Allocator) !void {
        const n = std.math.mul(usize, @as(usize, self.n_ctx) * self.hp.n_layer, self.hp.kvDim()) catch return error.OutOfMemory;
        self.kv = switch (self.kv_type) {
            .f16 => .{ .f16 = .{ .k = try a.alloc(f16, n), .v = try a.alloc(f16, n) } },
            .f32 => .{ .f32 = .{ .k = try a.alloc(f32, n), .v = try a.alloc(f32, n) } },
        };
    }

    fn allocBuffers(self: *Model, a: std.mem.Allocator) !void {
        const nb: usize = self.n_batch;
        const e: usize = self.hp.n_embd;
        const kvd = self.hp.kvDim();
        const ff: usize = self.hp.n_ff;
        var scratch: usize = 0;
        const w = &self.weights;
        const all = [_]QTensor{ w.output, w.tok_embd };
        for (all) |t| scratch = @max(scratch, try ops.matmulScratchBytes(t.t, t.n_cols, nb));
        for (w.layers) |ly| {
            const ts = [_]?QTensor{ ly.wq, ly.wk, ly.wv, ly.wqkv, ly.wo, ly.ffn_gate, ly.ffn_up, ly.ffn_down };
            for (ts) |maybe| if (maybe) |t| {
                scratch = @max(scratch, try ops.matmulScratchBytes(t.t, t.n_cols, nb));
            };
        }
        self.buf = .{
            .x = try a.alloc(f32, nb * e),
            .xb = try a.alloc(f32, nb * e),
            .xb2 = try a.alloc(f32, nb * e),
            .attn = try a.alloc(f32, nb * e),
            .q = try a.alloc(f32, nb * e),
            .k = try a.alloc(f32, nb * kvd),
            .v = try a.alloc(f32, nb * kvd),
            .qkv = try a.alloc(f32, nb * (e + 2 * kvd)),
            .hb = try a.alloc(f32, nb * ff),
            .hb2 = try a.alloc(f32, nb * ff),
            .pos = try a.alloc(i32, nb),
            .ids = try a.alloc(u32, nb),
            .logits = try a.alloc(f32, self.hp.n_vocab),
            .scratch = try a.alloc(u8, scratch),
        };
    }

    // ---- KV cache ----

    pub fn clear(self: *Model) void {
        self.n_past = 0;
    }

    pub fn truncate(self: *Model, n_keep: u32) error{InvalidArgument}!void {
        if (n_keep > self.n_past) return error.InvalidArgument;
        self.n_past = n_keep;
    }

    pub fn tokens(self: *const Model) []const u32 {
        return self.history[0..self.n_past];
    }

    // ---- evaluation ----

    /// Evaluates the input at positions n_past.. in batches of n_batch and advances n_past.
    /// The logits of the last position are in `logits()` afterwards. ContextFull (nothing
    /// evaluated) when the input does not fit; InvalidArgument on a token id out of range.
    pub fn eval(self: *Model, input: Input) Error!void {
        const n: usize = switch (input) {
            .tokens => |t| t.len,
            .embd => |x| if (x.len % self.hp.n_embd != 0) return error.InvalidArgument else x.len / self.hp.n_embd,
        };
        if (n == 0) return error.InvalidArgument;
        if (n > self.n_ctx - self.n_past) return error.ContextFull;
        switch (input) {
            .tokens => |t| for (t) |id| if (id >= self.hp.n_vocab) return error.InvalidArgument,
            .embd => {},
        }
        var done: usize = 0;
        const step_max: usize = if (self.gm) |gm| gm.max_tokens else self.n_batch;
        while (done < n) {
            const nb = @min(step_max, n - done);
            const part: Input = switch (input) {
                .tokens => |t| .{ .tokens = t[done..][0..nb] },
                .embd => |x| .{ .embd = x[done * self.hp.n_embd ..][0 .. nb * self.hp.n_embd] },
            };
            if (self.gm != null) try self.forwardGraph(part, nb, done + nb == n) else try self.forward(part, nb, done + nb == n);
            for (0..nb) |i| self.history[self.n_past + i] = switch (input) {
                .tokens => |t| t[done + i],
                .embd => embd_token,
            };
            self.n_past += @intCast(nb);
            done += nb;
        }
    }

    pub fn logits(self: *const Model) []const f32 {
        return self.buf.logits;
    }

    /// Whether the forward runs through the graph with at least one node on the GPU.
    pub fn onGpu(self: *const Model) bool {
        const gm = self.gm orelse return false;
        return gm.anyGpu();
    }

    /// "gpu", "cpu-graph" or "cpu-reference": what computes this model's forward.
    pub fn computeBackend(self: *const Model) []const u8 {
        const gm = self.gm orelse return "cpu-reference";
        if (!gm.anyGpu()) return "cpu-graph";
        return if (gm.gpuLayers() < self.hp.n_layer) "gpu+cpu" else "gpu";
    }

    /// One graph step of n ≤ max_tokens tokens at positions n_past..; does not advance n_past.
    fn forwardGraph(self: *Model, input: Input, n: usize, want_logits: bool) Error!void {
        const gm = self.gm.?;
        const e: usize = self.hp.n_embd;
        const x = self.buf.x[0 .. n * e];
        switch (input) {
            .tokens => |t| try ops.getRows(self.weights.tok_embd, t, x),
            .embd => |em| @memcpy(x, em),
        }
        gm.step(x, @intCast(n), self.n_past, if (want_logits) self.buf.logits else null) catch |err| return switch (err) {
            error.OutOfMemory => error.OutOfMemory,
            error.ContextFull => error.ContextFull,
            error.InvalidArgument => error.InvalidArgument,
            error.BadShape => error.BadShape,
            error.Unsupported => error.Unsupported,
            error.OutOfDeviceMemory => error.OutOfDeviceMemory,
            error.DeviceLost => error.DeviceLost,
            error.GpuTimeout => error.GpuTimeout,
            else => error.DeviceError,
        };
    }

    /// One forward pass of n ≤ n_batch tokens at positions n_past..n_past+n; does not advance n_past.
    fn forward(self: *Model, input: Input, n: usize, want_logits: bool) Error!void {
        const hp = self.hp;
        const e: usize = hp.n_embd;
        const kvd = hp.kvDim();
        const ff: usize = hp.n_ff;
        const b = &self.buf;
        const pool = &self.pool;
        const pos0: usize = self.n_past;
        const x = b.x[0 .. n * e];
        const xb = b.xb[0 .. n * e];
        const xb2 = b.xb2[0 .. n * e];
        const attn = b.attn[0 .. n * e];
        const q = b.q[0 .. n * e];
        const k = b.k[0 .. n * kvd];
        const v = b.v[0 .. n * kvd];
        const hb = b.hb[0 .. n * ff];
        const hb2 = b.hb2[0 .. n * ff];
        const pos = b.pos[0..n];
        for (pos, 0..) |*p, i| p.* = @intCast(pos0 + i);

        switch (input) {
            .tokens => |t| try ops.getRows(self.weights.tok_embd, t, x),
            .embd => |em| @memcpy(x, em),
        }
        if (self.weights.pos_embd) |pe| {
            const ids = b.ids[0..n];
            for (ids, 0..) |*id, i| id.* = @intCast(pos0 + i);
            try ops.getRows(pe, ids, xb);
            try ops.add(pool, x, xb, n, e, x);
        }

        for (self.weights.layers, 0..) |*ly, il| {
            // attention input
            try self.norm(x, ly.attn_norm, ly.attn_norm_b, n, xb);
            if (ly.wqkv) |wqkv| {
                const w3 = e + 2 * kvd;
                const qkv = b.qkv[0 .. n * w3];
                try self.linear(wqkv, ly.bqkv, xb, n, qkv);
                for (0..n) |t| {
                    const row = qkv[t * w3 ..][0..w3];
                    @memcpy(q[t * e ..][0..e], row[0..e]);
                    @memcpy(k[t * kvd ..][0..kvd], row[e..][0..kvd]);
                    @memcpy(v[t * kvd ..][0..kvd], row[e + kvd ..][0..kvd]);
                }
            } else {
                try self.linear(ly.wq.?, ly.bq, xb, n, q);
                try self.linear(ly.wk.?, ly.bk, xb, n, k);
                try self.linear(ly.wv.?, ly.bv, xb, n, v);
            }
            if (hp.n_rot > 0) {
                const rp = ops.RopeParams{
                    .n_rot = hp.n_rot,
                    .mode = if (hp.arch == .llama) .normal else .neox,
                    .freq_base = hp.rope_freq_base,
                    .freq_scale = hp.rope_freq_scale,
                };
                try ops.rope(pool, q, n, hp.n_head, hp.head_dim, pos, rp);
                try ops.rope(pool, k, n, hp.n_head_kv, hp.head_dim, pos, rp);
            }
            // K/V rows of these positions into the cache, then attention over 0..pos
            const stride = @as(usize, self.n_ctx) * kvd;
            const off = il * stride;
            const ap = ops.AttentionParams{
                .n_tokens = n,
                .n_head = hp.n_head,
                .n_head_kv = hp.n_head_kv,
                .head_dim = hp.head_dim,
                .pos0 = pos0,
                .n_ctx = self.n_ctx,
            };
            switch (self.kv) {
                .f16 => |c| {
                    try ops.f32ToF16(k, c.k[off + pos0 * kvd ..][0 .. n * kvd]);
                    try ops.f32ToF16(v, c.v[off + pos0 * kvd ..][0 .. n * kvd]);
                    try ops.attention(pool, q, .{ .f16 = c.k[off..][0..stride] }, .{ .f16 = c.v[off..][0..stride] }, ap, attn);
                },
                .f32 => |c| {
                    @memcpy(c.k[off + pos0 * kvd ..][0 .. n * kvd], k);
                    @memcpy(c.v[off + pos0 * kvd ..][0 .. n * kvd], v);
                    try ops.attention(pool, q, .{ .f32 = c.k[off..][0..stride] }, .{ .f32 = c.v[off..][0..stride] }, ap, attn);
                },
            }
            try self.linear(ly.wo, ly.bo, attn, n, xb2);

            switch (hp.arch) {
                .llama => {
                    try ops.add(pool, x, xb2, n, e, x);
                    try self.norm(x, ly.ffn_norm.?, null, n, xb);
                    try self.linear(ly.ffn_gate.?, null, xb, n, hb);
                    try self.linear(ly.ffn_up, null, xb, n, hb2);
                    try ops.swiglu(pool, hb, hb2, hb);
                    try self.linear(ly.ffn_down, null, hb, n, xb2);
                    try ops.add(pool, x, xb2, n, e, x);
                },
                .phi2 => {
                    // attention and MLP in parallel from the same normed input
                    try ops.add(pool, x, xb2, n, e, x);
                    try self.linear(ly.ffn_up, ly.ffn_up_b, xb, n, hb);
                    try ops.gelu(pool, hb, hb);
                    try self.linear(ly.ffn_down, ly.ffn_down_b, hb, n, xb2);
                    try ops.add(pool, x, xb2, n, e, x);
                },
                .gpt2 => {
                    try ops.add(pool, x, xb2, n, e, x);
                    try self.norm(x, ly.ffn_norm.?, ly.ffn_norm_b, n, xb);
                    try self.linear(ly.ffn_up, ly.ffn_up_b, xb, n, hb);
                    try ops.gelu(pool, hb, hb);
                    try self.linear(ly.ffn_down, ly.ffn_down_b, hb, n, xb2);
                    try ops.add(pool, x, xb2, n, e, x);
                },
            }
        }
        if (!want_logits) return;
        const last = x[(n - 1) * e ..][0..e];
        const normed = xb[0..e];
        try self.norm(last, self.weights.output_norm, self.weights.output_norm_b, 1, normed);
        try self.linear(self.weights.output, self.weights.output_b, normed, 1, b.logits);
    }

    fn norm(self: *Model, x: []const f32, w: []const f32, bias: ?[]const f32, n: usize, out: []f32) Error!void {
        const e: usize = self.hp.n_embd;
        switch (self.hp.arch) {
            .llama => try ops.rmsNorm(&self.pool, x, w, n, e, self.hp.norm_eps, out),
            .phi2, .gpt2 => try ops.layerNorm(&self.pool, x, w, bias, n, e, self.hp.norm_eps, out),
        }
    }

    /// out[n × w.n_rows] = x · wᵀ (+ bias per row).
    fn linear(self: *Model, w: QTensor, bias: ?[]const f32, x: []const f32, n: usize, out: []f32) Error!void {
        try ops.matmul(&self.pool, w, x, n, out, self.buf.scratch);
        if (bias) |bv| try ops.add(&self.pool, out, bv, n, w.n_rows, out);
    }

    // ---- reporting ----

    pub fn infoJson(self: *const Model, alloc: std.mem.Allocator) ![]u8 {
        var out = std.ArrayList(u8).init(alloc);
        errdefer out.deinit();
        var jw = std.json.writeStream(out.writer(), .{ .whitespace = .indent_2 });
        const hp = self.hp;
        try jw.beginObject();
        inline for (.{
            .{ "architecture", @tagName(hp.arch) },     .{ "name", self.name },
            .{ "n_vocab", hp.n_vocab },                 .{ "n_embd", hp.n_embd },
            .{ "n_layer", hp.n_layer },                 .{ "n_ff", hp.n_ff },
            .{ "n_head", hp.n_head },                   .{ "n_head_kv", hp.n_head_kv },
            .{ "head_dim", hp.head_dim },               .{ "n_ctx", self.n_ctx },
            .{ "n_ctx_train", hp.n_ctx_train },         .{ "n_batch", self.n_batch },
            .{ "kv_type", @tagName(self.kv_type) },     .{ "norm_eps", hp.norm_eps },
            .{ "rope_dims", hp.n_rot },                 .{ "rope_freq_base", hp.rope_freq_base },
            .{ "rope_freq_scale", hp.rope_freq_scale },
        }) |kv| {
            try jw.objectField(kv[0]);
            try jw.write(kv[1]);
        }
        try jw.objectField("rope_type");
        try jw.write(switch (hp.arch) {
            .llama => "normal",
            .phi2 => "neox",
            .gpt2 => "none",
        });
        try jw.objectField("weight_types");
        try jw.beginObject();
        var counts = std.AutoArrayHashMap(GgmlType, u32).init(alloc);
        defer counts.deinit();
        for (self.file.tensors) |t| {
            const gop = try counts.getOrPut(t.type);
            gop.value_ptr.* = if (gop.found_existing) gop.value_ptr.* + 1 else 1;
        }
        var it = counts.iterator();
        while (it.next()) |en| {
            try jw.objectField(en.key_ptr.name());
            try jw.write(en.value_ptr.*);
        }
        try jw.endObject();
        try jw.objectField("tokenizer");
        try jw.beginObject();
        try jw.objectField("kind");
        try jw.write(switch (self.tok.vocab.model) {
            .spm => "spm",
            .bpe => "bpe",
        });
        try jw.objectField("bos");
        try jw.write(self.tok.bos());
        try jw.objectField("eos");
        try jw.write(self.tok.eos());
        try jw.objectField("add_bos");
        try jw.write(self.tok.vocab.add_bos);
        try jw.endObject();
        // From the plan: layers whose nodes run on the GPU, and bytes per backend (weights
        // read by each backend's nodes plus its activation pool; KV states included on the GPU).
        try jw.objectField("compute_backend");
        try jw.write(self.computeBackend());
        try jw.objectField("n_gpu_layers");
        try jw.write(if (self.gm) |gm| gm.gpuLayers() else 0);
        var bytes_cpu: u64 = self.weight_bytes;
        var bytes_gpu: u64 = 0;
        if (self.gm) |gm| {
            const st = gm.ex.stats;
            bytes_gpu = st.gpu_weight_bytes + st.gpu_pool_bytes;
            bytes_cpu = (if (gm.anyGpu()) gm.cpuWeightBytes() else self.weight_bytes) + st.cpu_pool_bytes;
        }
        try jw.objectField("bytes_cpu");
        try jw.write(bytes_cpu);
        try jw.objectField("bytes_gpu");
        try jw.write(bytes_gpu);
        try jw.objectField("graph_tokens");
        try jw.write(if (self.gm) |gm| gm.max_tokens else 0);
        try jw.objectField("chat_template");
        try jw.write(self.file.getString("tokenizer.chat_template"));
        try jw.endObject();
        return out.toOwnedSlice();
    }

    // ---- session state ----

    const state_magic = "PI5STATE".*;
    const state_version: u32 = 1;

    const StateHeader = extern struct {
        magic: [8]u8,
        version: u32,
        arch: u32,
        n_layer: u32,
        n_embd: u32,
        n_ctx: u32,
        kv_type: u32,
        kv_dim: u32,
        n_tokens: u32,
        tensor_hash: u64,
    };

    fn header(self: *const Model) StateHeader {
        return .{
            .magic = state_magic,
            .version = state_version,
            .arch = @intFromEnum(self.hp.arch),
            .n_layer = self.hp.n_layer,
            .n_embd = self.hp.n_embd,
            .n_ctx = self.n_ctx,
            .kv_type = @intFromEnum(self.kv_type),
            .kv_dim = @intCast(self.hp.kvDim()),
            .n_tokens = self.n_past,
            .tensor_hash = self.tensor_hash,
        };
    }

    /// The bytes of the K and V rows in use, per layer: (layer, which) → slice.
    fn kvRows(self: *const Model, layer: usize, which: enum { k, v }) []u8 {
        const kvd = self.hp.kvDim();
        const stride = @as(usize, self.n_ctx) * kvd;
        const used = @as(usize, self.n_past) * kvd;
        return switch (self.kv) {
            inline else => |c| std.mem.sliceAsBytes((if (which == .k) c.k else c.v)[layer * stride ..][0..used]),
        };
    }

    /// Header, tokens, K/V rows in use, then a Wyhash of all of it (damage check). Little-endian.
    pub fn saveState(self: *const Model, path: []const u8) !void {
        const f = try std.fs.cwd().createFile(path, .{});
        defer f.close();
        var bw = std.io.bufferedWriter(f.writer());
        var hw = HashingWriter(@TypeOf(bw.writer())){ .child = bw.writer() };
        const w = hw.writer();
        const h = self.header();
        try w.writeAll(std.mem.asBytes(&h));
        try w.writeAll(std.mem.sliceAsBytes(self.tokens()));
        if (self.gm) |gm| {
            const elem: usize = if (self.kv_type == .f16) 2 else 4;
            const rows = try self.alloc.alloc(u8, @as(usize, self.n_past) * self.hp.kvDim() * elem);
            defer self.alloc.free(rows);
            for (0..self.hp.n_layer) |l| {
                try gm.readKv(l, .k, rows);
                try w.writeAll(rows);
                try gm.readKv(l, .v, rows);
                try w.writeAll(rows);
            }
        } else for (0..self.hp.n_layer) |l| {
            try w.writeAll(self.kvRows(l, .k));
            try w.writeAll(self.kvRows(l, .v));
        }
        try bw.writer().writeInt(u64, hw.hasher.final(), .little);
        try bw.flush();
    }

    /// Restores a file written by saveState for this model. InvalidGguf (a "model" error) when it
    /// belongs to another model, another KV type, does not fit n_ctx, or is damaged.
    pub fn loadState(self: *Model, path: []const u8, diag: *Diagnostic) !void {
        const bytes = try std.fs.cwd().readFileAlloc(self.alloc, path, 1 << 34);
        defer self.alloc.free(bytes);
        const hsize = @sizeOf(StateHeader);
        if (bytes.len < hsize + 8) return stateFail(diag, "state file is {d} bytes, too short", .{bytes.len});
        var h: StateHeader = undefined;
        @memcpy(std.mem.asBytes(&h), bytes[0..hsize]);
        if (!std.mem.eql(u8, &h.magic, &state_magic) or h.version != state_version)
            return stateFail(diag, "not a pi5-llm-rt state file (or another version)", .{});
        const mine = self.header();
        if (h.arch != mine.arch or h.n_layer != mine.n_layer or h.n_embd != mine.n_embd or h.kv_dim != mine.kv_dim or h.tensor_hash != mine.tensor_hash)
            return stateFail(diag, "state file belongs to another model", .{});
        if (h.kv_type != mine.kv_type) return stateFail(diag, "state file has KV type {d}, this model's cache is {s}", .{ h.kv_type, @tagName(self.kv_type) });
        if (h.n_tokens > self.n_ctx) return stateFail(diag, "state holds {d} tokens, n_ctx is {d}", .{ h.n_tokens, self.n_ctx });
        const elem: usize = if (self.kv_type == .f16) 2 else 4;
        const rows = @as(usize, h.n_tokens) * h.kv_dim * elem;
        const body = hsize + @as(usize, h.n_tokens) * 4 + 2 * rows * h.n_layer;
        if (bytes.len != body + 8) return stateFail(diag, "state file is {d} bytes, expected {d}", .{ bytes.len, body + 8 });
        const sum = std.mem.readInt(u64, bytes[body..][0..8], .little);
        if (sum != std.hash.Wyhash.hash(0, bytes[0..body])) return stateFail(diag, "state file is damaged (checksum mismatch)", .{});
        self.n_past = h.n_tokens;
        var off: usize = hsize;
        @memcpy(std.mem.sliceAsBytes(self.history[0..h.n_tokens]), bytes[off..][0 .. h.n_tokens * 4]);
        off += h.n_tokens * 4;
        for (0..self.hp.n_layer) |l| {
            if (self.gm) |gm| {
                try gm.writeKv(l, .k, bytes[off..][0..rows]);
                try gm.writeKv(l, .v, bytes[off + rows ..][0..rows]);
            } else {
                @memcpy(self.kvRows(l, .k), bytes[off..][0..rows]);
                @memcpy(self.kvRows(l, .v), bytes[off + rows ..][0..rows]);
            }
            off += 2 * rows;
        }
    }
};

fn stateFail(diag: *Diagnostic, comptime fmt: []const u8, args: anytype) error{InvalidGguf} {
    diag.set(null, fmt, args);
    return error.InvalidGguf;
}

fn HashingWriter(comptime W: type) type {
    return struct {
        child: W,
        hasher: std.hash.Wyhash = std.hash.Wyhash.init(0),
        const Self = @This();
        fn write(self: *Self, b: []const u8) W.Error!usize {
            try self.child.writeAll(b);
            self.hasher.update(b);
            return b.len;
        }
        fn writer(self: *Self) std.io.Writer(*Self, W.Error, write) {
            return .{ .context = self };
        }
    };
}

fn progress(opts: LoadOptions, p: f32) error{Aborted}!void {
    if (opts.progress) |f| if (!f(opts.progress_ctx, p)) return error.Aborted;
}

fn hashTensorTable(file: *const reader.File) u64 {
    var h = std.hash.Wyhash.init(0x9e3779b97f4a7c15);
    for (file.tensors) |t| {
        h.update(t.name);
        h.update(std.mem.asBytes(&@intFromEnum(t.type)));
        h.update(std.mem.asBytes(&t.ne));
        h.update(std.mem.asBytes(&t.offset));
    }
    return h.final();
}

// ---- hyperparameters ----

fn archKey(buf: []u8, arch: []const u8, key: []const u8) []const u8 {
    return std.fmt.bufPrint(buf, "{s}.{s}", .{ arch, key }) catch unreachable; // keys are short
}

fn readHparams(f: *const reader.File, diag: *Diagnostic) !Hparams {
    const arch_name = f.architecture() orelse {
        diag.set(null, "general.architecture is missing", .{});
        return error.InvalidGguf;
    };
    const arch = std.meta.stringToEnum(Arch, arch_name) orelse {
        diag.set(null, "architecture '{s}' is not supported (llama, phi2, gpt2)", .{arch_name});
        return error.UnsupportedModel;
    };
    var kb: [128]u8 = undefined;
    const R = struct {
        fn req(file: *const reader.File, d: *Diagnostic, key: []const u8) !u32 {
            const v = file.getU32(key) orelse {
                d.set(null, "metadata key {s} is missing or not an integer", .{key});
                return error.InvalidGguf;
            };
            if (v == 0) {
                d.set(null, "metadata key {s} is 0", .{key});
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
    const n_rot: u32 = switch (arch) {
        .gpt2 => 0,
        .llama => f.getU32(archKey(&kb, arch_name, "rope.dimension_count")) orelse head_dim,
        .phi2 => f.getU32(archKey(&kb, arch_name, "rope.dimension_count")) orelse head_dim / 2,
    };
    if (arch != .gpt2 and (n_rot == 0 or n_rot > head_dim or n_rot % 2 != 0)) {
        diag.set(null, "rope.dimension_count {d} does not fit head_dim {d}", .{ n_rot, head_dim });
        return error.InvalidGguf;
    }
    const eps = switch (arch) {
        .llama => f.getF32(archKey(&kb, arch_name, "attention.layer_norm_rms_epsilon")) orelse 1e-5,
        .phi2, .gpt2 => f.getF32(archKey(&kb, arch_name, "attention.layer_norm_epsilon")) orelse 1e-5,
    };
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
        .rope_freq_base = f.getF32(archKey(&kb, arch_name, "rope.freq_base")) orelse 10000.0,
        .rope_freq_scale = freq_scale,
        .norm_eps = eps,
        .n_ctx_train = f.getU32(archKey(&kb, arch_name, "context_length")) orelse 0,
    };
}

// ---- weights ----

const Loader = struct {
    file: *const reader.File,
    diag: *Diagnostic,
    a: std.mem.Allocator,
    bytes: u64 = 0,
    name_buf: [96]u8 = undefined,

    fn fmtName(self: *Loader, comptime fmt: []const u8, args: anytype) []const u8 {
        return std.fmt.bufPrint(&self.name_buf, fmt, args) catch unreachable; // names are short
    }

    fn find(self: *Loader, name: []const u8, required: bool) !?*const reader.TensorInfo {
        const t = self.file.findTensor(name) orelse {
            if (!required) return null;
            self.diag.set(null, "tensor {s} is missing", .{name});
            return error.InvalidGguf;
        };
        return t;
    }

    /// A matrix used as x·Wᵀ: ne = [n_in, n_out].
    fn matrix(self: *Loader, name: []const u8, n_in: u64, n_out: u64, required: bool) !?QTensor {
        const t = (try self.find(name, required)) orelse return null;
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
        self.bytes += t.data.len;
        return .{ .t = t.type, .data = t.data, .n_rows = @intCast(n_out), .n_cols = @intCast(n_in) };
    }

    fn reqMatrix(self: *Loader, name: []const u8, n_in: u64, n_out: u64) !QTensor {
        return (try self.matrix(name, n_in, n_out, true)).?;
    }

    /// A 1-D tensor of n elements, converted to an f32 copy.
    fn vector(self: *Loader, name: []const u8, n: u64, required: bool) !?[]const f32 {
        const t = (try self.find(name, required)) orelse return null;
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
        self.bytes += t.data.len;
        return out;
    }

    fn loadWeights(self: *Loader, hp: *Hparams, opts: LoadOptions) !Weights {
        const e: u64 = hp.n_embd;
        const kvd: u64 = hp.kvDim();
        const ff: u64 = hp.n_ff;
        const biased = hp.arch != .llama;
        var w: Weights = undefined;
        w.tok_embd = try self.reqMatrix("token_embd.weight", e, hp.n_vocab);
        w.pos_embd = null;
        if (hp.arch == .gpt2) {
            const t = (try self.find("position_embd.weight", true)).?;
            if (hp.n_ctx_train == 0) hp.n_ctx_train = std.math.cast(u32, t.ne[1]) orelse 0;
            w.pos_embd = try self.reqMatrix("position_embd.weight", e, hp.n_ctx_train);
        }
        w.layers = try self.a.alloc(Layer, hp.n_layer);
        for (w.layers, 0..) |*ly, i| {
            ly.* = .{
                .attn_norm = (try self.vector(self.fmtName("blk.{d}.attn_norm.weight", .{i}), e, true)).?,
                .attn_norm_b = try self.vector(self.fmtName("blk.{d}.attn_norm.bias", .{i}), e, biased),
                .wo = try self.reqMatrix(self.fmtName("blk.{d}.attn_output.weight", .{i}), e, e),
                .bo = try self.vector(self.fmtName("blk.{d}.attn_output.bias", .{i}), e, biased),
                .ffn_up = try self.reqMatrix(self.fmtName("blk.{d}.ffn_up.weight", .{i}), e, ff),
                .ffn_up_b = try self.vector(self.fmtName("blk.{d}.ffn_up.bias", .{i}), ff, biased),
                .ffn_down = try self.reqMatrix(self.fmtName("blk.{d}.ffn_down.weight", .{i}), ff, e),
                .ffn_down_b = try self.vector(self.fmtName("blk.{d}.ffn_down.bias", .{i}), e, biased),
            };
            ly.wqkv = try self.matrix(self.fmtName("blk.{d}.attn_qkv.weight", .{i}), e, e + 2 * kvd, hp.arch == .gpt2);
            if (ly.wqkv != null) {
                ly.bqkv = try self.vector(self.fmtName("blk.{d}.attn_qkv.bias", .{i}), e + 2 * kvd, biased);
            } else {
                ly.wq = try self.reqMatrix(self.fmtName("blk.{d}.attn_q.weight", .{i}), e, e);
                ly.wk = try self.reqMatrix(self.fmtName("blk.{d}.attn_k.weight", .{i}), e, kvd);
                ly.wv = try self.reqMatrix(self.fmtName("blk.{d}.attn_v.weight", .{i}), e, kvd);
                ly.bq = try self.vector(self.fmtName("blk.{d}.attn_q.bias", .{i}), e, false);
                ly.bk = try self.vector(self.fmtName("blk.{d}.attn_k.bias", .{i}), kvd, false);
                ly.bv = try self.vector(self.fmtName("blk.{d}.attn_v.bias", .{i}), kvd, false);
            }
            if (hp.arch != .phi2) {
                ly.ffn_norm = (try self.vector(self.fmtName("blk.{d}.ffn_norm.weight", .{i}), e, true)).?;
                ly.ffn_norm_b = try self.vector(self.fmtName("blk.{d}.ffn_norm.bias", .{i}), e, biased);
            }
            if (hp.arch == .llama) ly.ffn_gate = try self.reqMatrix(self.fmtName("blk.{d}.ffn_gate.weight", .{i}), e, ff);
            try progress(opts, 0.1 + 0.85 * @as(f32, @floatFromInt(i + 1)) / @as(f32, @floatFromInt(hp.n_layer)));
        }
        w.output_norm = (try self.vector("output_norm.weight", e, true)).?;
        w.output_norm_b = try self.vector("output_norm.bias", e, biased);
        w.output = (try self.matrix("output.weight", e, hp.n_vocab, false)) orelse w.tok_embd;
        w.output_b = try self.vector("output.bias", hp.n_vocab, false);
        return w;
    }
};
