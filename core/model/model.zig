//! A loaded GGUF model: hyperparameters and weights read through its architecture's description
//! (core/model/arch, core/model/weights.zig), the tokenizer, and its forward as a graph
//! (graph_model.zig) on the runtime's backend: the GPU, or the CPU when there is none. The graph
//! is the only forward; its KV caches are graph states. Session files save and restore them.
//!
//! Weights stay in the memory-mapped GGUF; 1-D tensors (norms, biases) are converted to f32
//! copies at load so every op sees f32 activations and parameters.
const std = @import("std");
const reader = @import("../gguf/reader.zig");
const ops = @import("../cpu/ops.zig");
const weights_mod = @import("weights.zig");
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

/// One tag per architecture of core/model/arch/registry.zig.
pub const Arch = weights_mod.Arch;
pub const KvType = enum(u32) { f16 = 1, f32 = 2 };

/// Context length used when the model's is larger and the caller asks for "the model's".
pub const default_max_ctx = 4096;

pub const Hparams = weights_mod.Hparams;

pub const LoadOptions = struct {
    /// 0 = the model's context length, capped at default_max_ctx.
    n_ctx: u32 = 0,
    kv_type: KvType = .f16,
    /// Tokens per forward step for prompts; 0 = 64.
    n_batch: u32 = 0,
    /// CPU threads including the caller; 0 = every core.
    n_threads: u32 = 0,
    /// false: read the file into memory at load instead of keeping it mapped (`--no-mmap`).
    mmap: bool = true,
    /// Load progress 0..1; return false to abort (error.Aborted).
    progress: ?*const fn (ctx: ?*anyopaque, p: f32) bool = null,
    progress_ctx: ?*anyopaque = null,
    /// The device the graph runs on (the runtime's `gpu`); null = the graph on the CPU.
    gpu: ?*vk.Context = null,
    /// Which layers go to the GPU (n_gpu_layers / gpu_budget_bytes); ignored without `gpu`.
    placement: Placement = .auto,
    /// Rows per graph step; 0 = n_batch on a real GPU (the tiled kernels run from 9 rows up),
    /// 8 on CPU-type Vulkan devices and the CPU graph (on lavapipe a 32-row step of a
    /// 2048-wide model passes the runtime's 5 s fence timeout). Decode replays the 1-row variant.
    graph_tokens: u32 = 0,
    /// Record per-node times (GPU timestamps, CPU timers): `Model.profileJson`.
    profile: bool = false,
    /// Differential mode: the graph also runs on the CPU and every node of every step is
    /// compared with the GPU's (core/graph/diff.zig); `Model.diffReport` names the first node
    /// out of bounds. Slow (a debugging aid); meaningful with `gpu`.
    diff: bool = false,
    /// Test-only (with diff): the GPU perturbs this graph node's output (exec.Options).
    perturb_gpu_node: ?u32 = null,
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
    weights: weights_mod.Weights,
    tok: Tokenizer,
    n_ctx: u32,
    n_batch: u32,
    kv_type: KvType,
    /// Tokens whose K/V rows are in the cache; embeddings fed through `infer` are recorded as
    /// `embd_token`.
    history: []u32,
    n_past: u32 = 0,
    /// Token embedding rows of a step [max_tokens × n_embd], gathered on the host.
    x: []f32,
    /// [n_vocab] of the last evaluated token.
    logit_buf: []f32,
    /// Hash of the tensor table (names, types, shapes, offsets): identifies the weights for state files.
    tensor_hash: u64,
    weight_bytes: u64,
    /// The forward: the graph on the GPU (with CPU nodes where placement says) or the CPU.
    gm: *GraphModel,

    pub const embd_token: u32 = std.math.maxInt(u32);

    /// Maps and checks `path`. On InvalidGguf / UnsupportedModel `diag` names the problem.
    pub fn load(alloc: std.mem.Allocator, path: []const u8, opts: LoadOptions, diag: *Diagnostic) !*Model {
        const self = try alloc.create(Model);
        errdefer alloc.destroy(self);
        self.alloc = alloc;
        self.arena = std.heap.ArenaAllocator.init(alloc);
        errdefer self.arena.deinit();
        self.file = try reader.File.openWith(alloc, path, diag, .{ .mmap = opts.mmap });
        errdefer self.file.deinit();
        try progress(opts, 0.05);

        const a = self.arena.allocator();
        self.hp = try weights_mod.readHparams(&self.file, diag);
        self.name = try utf8Lossy(a, self.file.getString("general.name") orelse "");
        self.weights = try weights_mod.load(&self.file, &self.hp, a, .{ .ctx = opts.progress_ctx, .func = opts.progress }, diag);
        self.weight_bytes = self.weights.bytes;
        self.tensor_hash = hashTensorTable(&self.file);

        self.tok = try vocab_file.fromFile(alloc, &self.file, diag);
        errdefer self.tok.deinit();
        if (self.tok.nVocab() != self.hp.n_vocab) {
            diag.set(null, "tokenizer has {d} tokens but token_embd.weight has {d} rows", .{ self.tok.nVocab(), self.hp.n_vocab });
            return error.InvalidGguf;
        }

        const train = if (self.hp.n_ctx_train == 0) default_max_ctx else self.hp.n_ctx_train;
        self.n_ctx = if (opts.n_ctx != 0) opts.n_ctx else @min(train, default_max_ctx);
        if (self.hp.desc().hparams.learned_positions and self.n_ctx > self.hp.n_ctx_train) {
            diag.set(null, "{s} has learned positions for {d} tokens; n_ctx {d} is larger", .{ @tagName(self.hp.arch), self.hp.n_ctx_train, self.n_ctx });
            return error.InvalidArgument;
        }
        self.n_batch = if (opts.n_batch == 0) 64 else opts.n_batch;
        self.n_batch = @min(self.n_batch, self.n_ctx);
        self.kv_type = opts.kv_type;
        self.n_past = 0;
        self.history = try a.alloc(u32, self.n_ctx);
        // Prompt rows per graph step: a whole batch on real GPUs (the tiled mat-mat kernels run
        // from 9 rows up); 8 on CPU-type Vulkan devices (lavapipe), whose big-model steps would
        // otherwise outlast the submission timeout, and on the CPU.
        const real_gpu = if (opts.gpu) |g| g.report.device_type != .cpu else false;
        const gt = @min(if (opts.graph_tokens != 0) opts.graph_tokens else if (real_gpu) self.n_batch else 8, self.n_batch);
        self.x = try a.alloc(f32, @as(usize, gt) * self.hp.n_embd);
        self.logit_buf = try a.alloc(f32, self.hp.n_vocab);
        self.gm = GraphModel.create(alloc, self, opts.gpu, .{
            .placement = opts.placement,
            .max_tokens = gt,
            .n_threads = opts.n_threads,
            .profile = opts.profile,
            .diff = opts.diff,
            .perturb_gpu_node = opts.perturb_gpu_node,
        }) catch |e| {
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
        errdefer self.gm.destroy();
        try progress(opts, 1.0);
        return self;
    }

    pub fn destroy(self: *Model) void {
        self.gm.destroy();
        self.tok.deinit();
        self.file.deinit();
        self.arena.deinit();
        self.alloc.destroy(self);
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
        const step_max: usize = self.gm.max_tokens;
        while (done < n) {
            const nb = @min(step_max, n - done);
            const part: Input = switch (input) {
                .tokens => |t| .{ .tokens = t[done..][0..nb] },
                .embd => |x| .{ .embd = x[done * self.hp.n_embd ..][0 .. nb * self.hp.n_embd] },
            };
            try self.forward(part, nb, done + nb == n);
            for (0..nb) |i| self.history[self.n_past + i] = switch (input) {
                .tokens => |t| t[done + i],
                .embd => embd_token,
            };
            self.n_past += @intCast(nb);
            done += nb;
        }
    }

    pub fn logits(self: *const Model) []const f32 {
        return self.logit_buf;
    }

    /// Whether the forward runs through the graph with at least one node on the GPU.
    pub fn onGpu(self: *const Model) bool {
        return self.gm.anyGpu();
    }

    /// "gpu", "gpu+cpu" or "cpu-graph": what computes this model's forward.
    pub fn computeBackend(self: *const Model) []const u8 {
        if (!self.gm.anyGpu()) return "cpu-graph";
        return if (self.gm.gpuLayers() < self.hp.n_layer) "gpu+cpu" else "gpu";
    }

    /// Differential mode (LoadOptions.diff): null when every node of every step so far was
    /// within its bound, else the first node that was not, described ("node 12 mul_mat (layer 0)
    /// of attn_q.weight, ..."), in `buf`. Also null when diff is off.
    pub fn diffReport(self: *const Model, buf: []u8) ?[]const u8 {
        const d = self.gm.diff orelse return null;
        const m = d.first orelse return null;
        var fbs = std.io.fixedBufferStream(buf);
        d.describe(m, fbs.writer()) catch {};
        return fbs.getWritten();
    }

    /// One graph step of n ≤ max_tokens tokens at positions n_past..; does not advance n_past.
    fn forward(self: *Model, input: Input, n: usize, want_logits: bool) Error!void {
        const e: usize = self.hp.n_embd;
        const x = self.x[0 .. n * e];
        switch (input) {
            .tokens => |t| try ops.getRows(self.weights.tokEmbd(), t, x),
            .embd => |em| @memcpy(x, em),
        }
        self.gm.step(x, @intCast(n), self.n_past, if (want_logits) self.logit_buf else null) catch |err| return switch (err) {
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
        try jw.write(if (hp.desc().hparams.rope) |r| @as([]const u8, if (r.mode == .neox) "neox" else "normal") else "none");
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
        try jw.write(self.gm.gpuLayers());
        const st = self.gm.ex.stats;
        const bytes_gpu: u64 = st.gpu_weight_bytes + st.gpu_pool_bytes;
        const bytes_cpu: u64 = (if (self.gm.anyGpu()) self.gm.cpuWeightBytes() else self.weight_bytes) + st.cpu_pool_bytes;
        try jw.objectField("bytes_cpu");
        try jw.write(bytes_cpu);
        try jw.objectField("bytes_gpu");
        try jw.write(bytes_gpu);
        try jw.objectField("graph_tokens");
        try jw.write(self.gm.max_tokens);
        // Strings go out as JSON strings even when the file's bytes are not UTF-8 (a writer
        // would emit an array of numbers): bad sequences become U+FFFD, and the keys this
        // happened to are listed in utf8_replaced.
        const raw_name = self.file.getString("general.name") orelse "";
        const tmpl = if (self.file.getString("tokenizer.chat_template")) |t| try utf8Lossy(alloc, t) else null;
        defer if (tmpl) |t| alloc.free(t);
        try jw.objectField("chat_template");
        try jw.write(tmpl);
        try jw.objectField("utf8_replaced");
        try jw.beginArray();
        if (!std.unicode.utf8ValidateSlice(raw_name)) try jw.write("general.name");
        if (self.file.getString("tokenizer.chat_template")) |t| if (!std.unicode.utf8ValidateSlice(t)) try jw.write("tokenizer.chat_template");
        try jw.endArray();
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
        const elem: usize = if (self.kv_type == .f16) 2 else 4;
        const rows = try self.alloc.alloc(u8, @as(usize, self.n_past) * self.hp.kvDim() * elem);
        defer self.alloc.free(rows);
        for (0..self.hp.n_layer) |l| {
            try self.gm.readKv(l, .k, rows);
            try w.writeAll(rows);
            try self.gm.readKv(l, .v, rows);
            try w.writeAll(rows);
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
            try self.gm.writeKv(l, .k, bytes[off..][0..rows]);
            try self.gm.writeKv(l, .v, bytes[off + rows ..][0..rows]);
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

/// A copy of `s` with every invalid UTF-8 sequence replaced by U+FFFD (caller frees).
pub fn utf8Lossy(alloc: std.mem.Allocator, s: []const u8) ![]u8 {
    if (std.unicode.utf8ValidateSlice(s)) return alloc.dupe(u8, s);
    var out = try std.ArrayList(u8).initCapacity(alloc, s.len + 8);
    errdefer out.deinit();
    var i: usize = 0;
    while (i < s.len) {
        const n = std.unicode.utf8ByteSequenceLength(s[i]) catch 0;
        if (n > 0 and i + n <= s.len and std.meta.isError(std.unicode.utf8Decode(s[i..][0..n])) == false) {
            try out.appendSlice(s[i..][0..n]);
            i += n;
        } else {
            try out.appendSlice("\u{FFFD}");
            i += 1;
        }
    }
    return out.toOwnedSlice();
}
