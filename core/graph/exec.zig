//! Planning and running a Graph: the generic executor. It owns the plan (core/graph/plan.zig:
//! placement, homes, segments, token buckets) and one backend of each kind behind a small
//! interface: supports (placement asks it per node), allocate (interval layouts from
//! core/graph/intervals.zig, per-node scratch included), record-or-run a segment, and copy a
//! tensor in or out. The CPU backend is core/graph/cpu_backend.zig, the Vulkan one
//! core/graph/vk_backend.zig; nothing here calls a device API.
//!
//!   var ex = try Exec.plan(alloc, &g, rt.gpu, .{ .policy = .auto, .n_threads = rt.n_threads });
//!   defer ex.deinit();
//!   try ex.setInput(ids, std.mem.sliceAsBytes(tokens));   // n_tokens rows
//!   try ex.compute(.{ .pos = pos, .n_tokens = n });
//!   try ex.readOutput(logits, std.mem.sliceAsBytes(out));
//!
//! Placement: every node goes to the GPU when a device is given, unless the policy says
//! otherwise or the device has no kernel for it (then the CPU; `Exec.fallbacks` counts them).
//! Where placement changes, the tensors that cross are copied (upload before a GPU segment,
//! download before a CPU segment). The step runs the nodes in build order: one submit per GPU
//! segment, CPU nodes on the caller and the pool.
//!
//! Variants: every GPU segment is recorded once per token bucket (1, max_tokens and
//! Options.token_buckets), all over the same weights, states and pools; compute() replays the
//! smallest bucket ≥ n_tokens (decode: mat-vec kernels over one row; prompts: tiled kernels).
//!
//! Transfers: on UMA devices inputs/outputs are copied through the mapping (memcpy, no submit).
//! Otherwise (or Options.force_staging) the Exec owns host-visible staging regions and the
//! copies (and the step params) are recorded into the segments' command buffers.
//!
//! Allocation: intermediates (and per-node scratch) get offsets from lifetime intervals
//! (first-fit, reused) in one arena per backend sized at plan time; on the GPU the arena is split into several buffers
//! when it would pass maxStorageBufferRange, and offsets are aligned to
//! minStorageBufferOffsetAlignment. Weights get one buffer each (uploaded once; UMA devices write
//! them in place through the mapping), states (KV caches) one each, zeroed. compute() allocates
//! nothing: `Stats.host_allocs` and the GPU allocator's byte count stay put after plan().
const std = @import("std");
const graph = @import("graph.zig");
const plan_mod = @import("plan.zig");
const cpu_backend = @import("cpu_backend.zig");
const vk_backend = @import("vk_backend.zig");
const vk = @import("../vk/vk.zig");

const Graph = graph.Graph;
const Tensor = graph.Tensor;
const Id = graph.Id;
const none = plan_mod.none;

pub const Backend = plan_mod.Backend;
pub const Policy = plan_mod.Policy;
pub const Segment = plan_mod.Segment;

pub const Options = struct {
    policy: Policy = .auto,
    /// Per-node times (GPU timestamps with a barrier after every node, CPU timers).
    profile: bool = false,
    /// CPU threads; 0 = every core.
    n_threads: u32 = 0,
    /// Cap on one GPU pool buffer (tests force several pools); null = maxStorageBufferRange.
    max_pool_bytes: ?u64 = null,
    /// Token counts to record GPU variants for besides 1 and max_tokens (always recorded). A step
    /// of n tokens replays the smallest variant ≥ n, so decode (1 token) runs the mat-vec kernels
    /// and every op over one row, prompts the tiled kernels; all variants share the weights,
    /// states (KV caches) and pools of the Exec.
    token_buckets: []const u32 = &.{},
    /// Record host↔device copies of inputs / outputs / step params into the segments' command
    /// buffers through Exec-owned staging regions even on UMA devices (tests of the discrete-GPU
    /// path). Devices whose memory is not host-mapped always do; UMA devices otherwise copy
    /// through the mapping (memcpy, no submit).
    force_staging: bool = false,
    /// Q8_0 / Q4_0 decode mat-vec on int8 activations (integer dot product, per-node Q8_1
    /// scratch) where the device has it; the activation rounding is llama.cpp's Q8_1.
    int_dot: bool = false,
    /// Test-only: a wrong GPU kernel for the differential mode's test (core/graph/diff.zig):
    /// the GPU scales this f32 node's output by 1.1 right after computing it.
    perturb_gpu_node: ?Id = null,
};

pub const Step = struct {
    /// Position of the first token of the step.
    pos: u32 = 0,
    /// Tokens in this step, 1 .. graph.max_tokens.
    n_tokens: u32 = 1,
};

pub const Error = error{ BadShape, InvalidArgument, OutOfMemory, ContextFull, Unsupported } || vk.Error;

pub const Stats = struct {
    /// Host allocations made by this Exec (plan included); compute() must not change it.
    host_allocs: u64 = 0,
    /// Command-buffer recordings, all segments (one per GPU segment, at plan).
    recordings: u64 = 0,
    steps: u64 = 0,
    submits: u64 = 0,
    /// Tensor copies between backends in the last step.
    transfers: u64 = 0,
    cpu_pool_bytes: u64 = 0,
    gpu_pool_bytes: u64 = 0,
    gpu_weight_bytes: u64 = 0,
    /// Persistent states (KV caches) on the GPU.
    gpu_state_bytes: u64 = 0,
    /// Per-node scratch on the GPU (split-K attention partials), inside the pools.
    gpu_scratch_bytes: u64 = 0,
    /// Host-visible staging regions (staged transfers only).
    gpu_staging_bytes: u64 = 0,
    gpu_pool_buffers: u32 = 0,
    /// Recorded token-count variants of every GPU segment (see Options.token_buckets).
    variants: u32 = 0,
    /// Nodes the policy wanted on the GPU that have no GPU kernel on this device.
    fallbacks: u32 = 0,
    n_segments: u32 = 0,
};

pub const NodeProfile = struct {
    id: Id,
    op: graph.Op,
    backend: Backend,
    ns: u64,
};

/// A host allocator that counts allocations (the "nothing allocated per step" check).
const Counting = struct {
    child: std.mem.Allocator,
    n: u64 = 0,
    fn allocator(self: *Counting) std.mem.Allocator {
        return .{ .ptr = self, .vtable = &.{ .alloc = alloc_, .resize = resize_, .free = free_ } };
    }
    fn alloc_(ctx: *anyopaque, len: usize, a: u8, ra: usize) ?[*]u8 {
        const self: *Counting = @ptrCast(@alignCast(ctx));
        self.n += 1;
        return self.child.rawAlloc(len, a, ra);
    }
    fn resize_(ctx: *anyopaque, buf: []u8, a: u8, new_len: usize, ra: usize) bool {
        const self: *Counting = @ptrCast(@alignCast(ctx));
        if (new_len > buf.len) self.n += 1;
        return self.child.rawResize(buf, a, new_len, ra);
    }
    fn free_(ctx: *anyopaque, buf: []u8, a: u8, ra: usize) void {
        const self: *Counting = @ptrCast(@alignCast(ctx));
        self.child.rawFree(buf, a, ra);
    }
};

pub const Exec = struct {
    counting: *Counting,
    alloc: std.mem.Allocator,
    g: *const Graph,
    opts: Options,
    pl: plan_mod.Plan,
    cpu: cpu_backend.Cpu,
    gpu: ?*vk_backend.Vulkan = null,
    positions: []i32,
    stats: Stats = .{},
    prof: []NodeProfile,
    n_prof: usize = 0,
    /// Per-node GPU times of one segment (profile).
    seg_ns: []u64,
    last_step: Step = .{},

    /// Places, allocates, uploads weights and records the GPU segments of `g` (which must
    /// outlive the Exec and not change). `ctx` null = CPU only.
    pub fn plan(parent: std.mem.Allocator, g: *const Graph, ctx: ?*vk.Context, opts: Options) Error!*Exec {
        const counting = try parent.create(Counting);
        counting.* = .{ .child = parent };
        errdefer parent.destroy(counting);
        const alloc = counting.allocator();
        for (g.tensors.items) |t| if (t.kind == .weight and t.op == .none and t.data == null) return error.InvalidArgument;
        const device: ?*vk.Context = if (opts.policy == .cpu) null else ctx;
        const dev: ?vk_backend.Device = if (device) |c| .{ .ctx = c, .g = g } else null;
        const max_nodes: usize = if (opts.profile) 500 else std.math.maxInt(usize);
        var pl = try plan_mod.Plan.init(alloc, g, opts.policy, if (dev) |*d| d else null, opts.token_buckets, max_nodes);
        errdefer pl.deinit();
        const self = try alloc.create(Exec);
        errdefer alloc.destroy(self);
        self.* = .{ .counting = counting, .alloc = alloc, .g = g, .opts = opts, .pl = pl, .cpu = undefined, .positions = &.{}, .prof = &.{}, .seg_ns = &.{} };
        self.cpu = try cpu_backend.Cpu.init(alloc, &self.pl, opts.n_threads);
        errdefer self.cpu.deinit();
        self.positions = try alloc.alloc(i32, g.max_tokens);
        errdefer alloc.free(self.positions);
        self.prof = try alloc.alloc(NodeProfile, g.len());
        errdefer alloc.free(self.prof);
        self.seg_ns = try alloc.alloc(u64, @min(g.len(), max_nodes));
        errdefer alloc.free(self.seg_ns);
        if (device) |c| self.gpu = try vk_backend.Vulkan.init(alloc, c, &self.pl, .{
            .profile = opts.profile,
            .max_pool_bytes = opts.max_pool_bytes,
            .force_staging = opts.force_staging,
            .int_dot = opts.int_dot,
            .perturb_gpu_node = opts.perturb_gpu_node,
        });
        self.stats.fallbacks = self.pl.fallbacks;
        self.stats.n_segments = @intCast(self.pl.segments.len);
        self.stats.cpu_pool_bytes = self.cpu.arena_bytes;
        if (self.gpu) |v| {
            self.stats.variants = @intCast(self.pl.buckets.len);
            self.stats.recordings = v.stats.recordings;
            self.stats.gpu_pool_bytes = v.stats.pool_bytes;
            self.stats.gpu_pool_buffers = v.stats.pool_buffers;
            self.stats.gpu_weight_bytes = v.stats.weight_bytes;
            self.stats.gpu_state_bytes = v.stats.state_bytes;
            self.stats.gpu_staging_bytes = v.stats.staging_bytes;
            self.stats.gpu_scratch_bytes = v.stats.scratch_bytes;
        }
        self.stats.host_allocs = counting.n;
        return self;
    }

    pub fn deinit(self: *Exec) void {
        const counting = self.counting;
        const a = self.alloc;
        if (self.gpu) |v| v.deinit();
        self.cpu.deinit();
        self.pl.deinit();
        a.free(self.positions);
        a.free(self.prof);
        a.free(self.seg_ns);
        a.destroy(self);
        counting.child.destroy(counting);
    }

    /// The plan's segments, in run order.
    pub fn segments(self: *const Exec) []const Segment {
        return self.pl.segments;
    }

    /// The recorded sequences (one per token bucket) of GPU segment `si` (tests count
    /// recordings); empty for a CPU segment.
    pub fn recorded(self: *const Exec, si: usize) []const vk.Sequence {
        const v = self.gpu orelse return &.{};
        return v.seqs[si];
    }

    // ---- per step ----

    /// Copies `data` into input `id`: whole per-token rows (n_tokens of them for the next step),
    /// or the whole tensor for a static input.
    pub fn setInput(self: *Exec, id: Id, data: []const u8) Error!void {
        if (id >= self.g.len()) return error.InvalidArgument;
        const t = self.g.get(id);
        if (t.kind != .input or t.op != .none) return error.InvalidArgument;
        const dst = self.cpu.bytes(id);
        if (data.len > dst.len) return error.BadShape;
        const per = t.type.rowBytes(t.perToken()).?;
        if (data.len % per != 0) return error.BadShape;
        @memcpy(dst[0..data.len], data);
    }

    /// Runs one step. Inputs must hold n_tokens rows. pos + n_tokens must fit every cache the
    /// graph writes (error.ContextFull otherwise).
    pub fn compute(self: *Exec, step: Step) Error!void {
        if (step.n_tokens == 0 or step.n_tokens > self.g.max_tokens) return error.InvalidArgument;
        for (self.g.tensors.items) |t| if (t.op == .kv_store and step.pos + step.n_tokens > t.ne[2]) return error.ContextFull;
        for (self.positions[0..step.n_tokens], 0..) |*p, i| p.* = @intCast(step.pos + i);
        if (self.gpu) |v| try v.setStep(.{ .pos = step.pos, .n_tokens = step.n_tokens, .n_kv = step.pos + step.n_tokens });
        const bi = self.pl.bucketOf(step.n_tokens);
        const cpu_step = cpu_backend.Step{ .pos = step.pos, .n_tokens = step.n_tokens, .positions = self.positions };
        self.stats.transfers = 0;
        self.n_prof = 0;
        for (self.pl.segments, 0..) |*s, si| {
            for (s.pulls) |r| try self.pull(r, s.backend, step.n_tokens);
            switch (s.backend) {
                .gpu => {
                    const ns = if (self.opts.profile) self.seg_ns[0..s.nodes.len] else null;
                    try self.gpu.?.run(si, bi, ns);
                    self.stats.submits += 1;
                    if (ns) |times| for (s.nodes, times) |nid, t| self.addProfile(nid, .gpu, t);
                },
                .cpu => for (s.nodes) |nid| {
                    var timer = if (self.opts.profile) std.time.Timer.start() catch null else null;
                    self.cpu.run(nid, cpu_step) catch |e| return switch (e) {
                        error.BadShape => error.BadShape,
                        error.Unsupported => error.Unsupported,
                    };
                    if (timer) |*tm| self.addProfile(nid, .cpu, tm.read());
                },
            }
        }
        self.stats.steps += 1;
        self.last_step = step;
    }

    fn addProfile(self: *Exec, id: Id, b: Backend, ns: u64) void {
        self.prof[self.n_prof] = .{ .id = id, .op = self.g.get(id).op, .backend = b, .ns = ns };
        self.n_prof += 1;
    }

    /// Copies root `r`'s step data to backend `to` from its home.
    fn pull(self: *Exec, r: Id, to: Backend, n_tokens: u32) Error!void {
        const v = self.gpu orelse return;
        const host = self.cpu.bytes(r)[0..plan_mod.stepBytes(self.g, r, n_tokens)];
        try v.transfer(r, to == .gpu, host);
        self.stats.transfers += 1;
    }

    /// Reads the last step's value of `id` (an output, or any input/state) into `out`: the
    /// step's rows for a token tensor (n_tokens × per-token bytes), else the whole tensor.
    /// Returns the bytes written.
    pub fn readOutput(self: *Exec, id: Id, out: []u8) Error!usize {
        if (id >= self.g.len()) return error.InvalidArgument;
        const t = self.g.get(id);
        const rr = self.g.root(id);
        const root = self.g.get(rr.id);
        if (!t.output and root.kind != .state and root.kind != .input and !root.output) return error.InvalidArgument;
        const bytes: usize = @intCast(if (t.tok != null) t.type.rowBytes(t.perToken()).? * self.last_step.n_tokens else t.nBytes());
        if (out.len < bytes) return error.BadShape;
        if (root.kind == .weight) {
            @memcpy(out[0..bytes], plan_mod.weightBytes(self.g, id)[0..bytes]);
        } else if (self.pl.home[rr.id] == .gpu) {
            try self.gpu.?.readRoot(rr.id, plan_mod.byteOffset(root, rr.offset), out[0..bytes]);
        } else {
            @memcpy(out[0..bytes], self.cpu.bytes(id)[0..bytes]);
        }
        return bytes;
    }

    /// Writes `data` into state `id` (a state tensor) from its first byte, wherever the state
    /// lives (restoring a saved KV cache). data.len ≤ the state's bytes.
    pub fn writeState(self: *Exec, id: Id, data: []const u8) Error!void {
        if (id >= self.g.len()) return error.InvalidArgument;
        const t = self.g.get(id);
        if (t.kind != .state or t.op != .none) return error.InvalidArgument;
        if (data.len > t.nBytes()) return error.BadShape;
        if (self.pl.home[id] == .gpu) {
            try self.gpu.?.writeRoot(id, data);
        } else {
            @memcpy(self.cpu.bytes(id)[0..data.len], data);
        }
    }

    /// Fills every reusable intermediate (CPU arena outside inputs/states, GPU pools) with NaN
    /// bytes: tests call it between steps to prove no result depends on stale memory.
    pub fn poison(self: *Exec) Error!void {
        self.cpu.poison();
        if (self.gpu) |v| try v.poison();
    }

    pub fn placement(self: *const Exec, id: Id) Backend {
        return self.pl.place[id];
    }

    /// Per-node times of the last step (profile enabled), in execution order.
    pub fn profile(self: *const Exec) []const NodeProfile {
        return self.prof[0..self.n_prof];
    }

    /// The last step's profile as JSON: {"nodes":[{id,name,op,backend,layer,ns}...],
    /// "ops":[{op,backend,count,ns}...],"total_ns":N,"segments":N,"transfers":N}.
    pub fn profileJson(self: *const Exec, alloc: std.mem.Allocator) ![]u8 {
        var out = std.ArrayList(u8).init(alloc);
        errdefer out.deinit();
        var jw = std.json.writeStream(out.writer(), .{});
        try jw.beginObject();
        try jw.objectField("enabled");
        try jw.write(self.opts.profile);
        try jw.objectField("nodes");
        try jw.beginArray();
        var total: u64 = 0;
        for (self.profile()) |p| {
            const t = self.g.get(p.id);
            try jw.beginObject();
            try jw.objectField("id");
            try jw.write(p.id);
            try jw.objectField("name");
            try jw.write(t.name);
            try jw.objectField("op");
            try jw.write(@tagName(p.op));
            try jw.objectField("backend");
            try jw.write(@tagName(p.backend));
            try jw.objectField("layer");
            try jw.write(t.layer);
            try jw.objectField("ns");
            try jw.write(p.ns);
            try jw.endObject();
            total += p.ns;
        }
        try jw.endArray();
        try jw.objectField("ops");
        try jw.beginArray();
        inline for (@typeInfo(graph.Op).@"enum".fields) |f| {
            for ([_]Backend{ .gpu, .cpu }) |b| {
                var count: u64 = 0;
                var ns: u64 = 0;
                for (self.profile()) |p| if (@intFromEnum(p.op) == f.value and p.backend == b) {
                    count += 1;
                    ns += p.ns;
                };
                if (count > 0) {
                    try jw.beginObject();
                    try jw.objectField("op");
                    try jw.write(f.name);
                    try jw.objectField("backend");
                    try jw.write(@tagName(b));
                    try jw.objectField("count");
                    try jw.write(count);
                    try jw.objectField("ns");
                    try jw.write(ns);
                    try jw.endObject();
                }
            }
        }
        try jw.endArray();
        try jw.objectField("total_ns");
        try jw.write(total);
        try jw.objectField("segments");
        try jw.write(self.stats.n_segments);
        try jw.objectField("transfers");
        try jw.write(self.stats.transfers);
        try jw.endObject();
        return out.toOwnedSlice();
    }
};
