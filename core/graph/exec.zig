//! Planning and running a Graph: placement (GPU or CPU per node), static allocation, recorded
//! GPU segments replayed every step, CPU nodes on the thread pool in between.
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
//! Allocation: intermediates get offsets from lifetime intervals (first-fit, reused) in one
//! arena per backend sized at plan time; on the GPU the arena is split into several buffers
//! when it would pass maxStorageBufferRange, and offsets are aligned to
//! minStorageBufferOffsetAlignment. Weights get one buffer each (uploaded once; UMA devices write
//! them in place through the mapping), states (KV caches) one each, zeroed. compute() allocates
//! nothing: `Stats.host_allocs` and the GPU allocator's byte count stay put after plan().
const std = @import("std");
const graph = @import("graph.zig");
const vk = @import("../vk/vk.zig");
const kernels = @import("../kernels/kernels.zig");
const kmat = @import("../kernels/matmul.zig");
const kops = @import("../kernels/ops.zig");
const ops = @import("../cpu/ops.zig");
const pool_mod = @import("../cpu/pool.zig");

const Graph = graph.Graph;
const Tensor = graph.Tensor;
const Id = graph.Id;

pub const Backend = enum { cpu, gpu };

pub const Policy = union(enum) {
    /// Everything the device has kernels for on the GPU (the CPU without a device).
    auto,
    /// Every node on the CPU.
    cpu,
    /// Nodes of layers < n on the GPU (llama.cpp's n_gpu_layers); nodes without a layer
    /// (embedding, head) go to the GPU only when every layer does.
    gpu_layers: u32,
    /// Layers in order (then the layer-less nodes) on the GPU while their weights fit in
    /// this many bytes; the rest on the CPU.
    gpu_budget: u64,
};

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

const none = std.math.maxInt(u64);
const cpu_align = 64;

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

/// Where a root tensor lives on the GPU.
const GpuLoc = struct {
    buf: *const vk.Buffer,
    offset: u64,
};

const Segment = struct {
    backend: Backend,
    /// Node ids (compute nodes only, build order).
    nodes: []Id,
    /// Roots to copy to this segment's backend before it runs.
    pulls: []Id,
    /// GPU segments, staged transfers: GPU roots copied to their staging regions at the end
    /// (read by the next CPU segment, or outputs after the last GPU segment).
    pushes: []Id = &.{},
    /// One recorded command buffer per token bucket (Exec.buckets), GPU segments only.
    seqs: []vk.Sequence = &.{},
    /// Index of the timestamp before each node (profile), n+1 entries.
    n_ts: u32 = 0,
};

pub const Exec = struct {
    counting: *Counting,
    alloc: std.mem.Allocator,
    g: *const Graph,
    ctx: ?*vk.Context,
    opts: Options,
    place: []Backend,
    /// Backend that owns each root's current value (inputs: cpu).
    home: []Backend,
    /// Byte offset of each root in the CPU arena (none when it has no CPU storage).
    cpu_off: []u64,
    cpu_arena: []align(cpu_align) u8,
    /// Byte offset in gpu_pools[gpu_pool_of[i]], or a dedicated buffer in gpu_own.
    gpu_loc: []?GpuLoc,
    gpu_pools: []vk.Buffer,
    gpu_own: std.ArrayListUnmanaged(*vk.Buffer),
    k: ?kernels.Kernels,
    segments: []Segment,
    matmul_scratch: []u8,
    positions: []i32,
    pool: ?*pool_mod.Pool,
    /// Token counts with a recorded variant, ascending; the last is max_tokens.
    buckets: []u32 = &.{},
    /// The bucket being recorded (token dims of GPU views).
    rec_tokens: u32 = 1,
    /// Staged transfers: one host-visible buffer of regions (step params, then per root).
    staging: ?vk.Buffer = null,
    stage_up: []u64 = &.{},
    stage_down: []u64 = &.{},
    stage_params: u64 = 0,
    stats: Stats = .{},
    prof: []NodeProfile,
    n_prof: usize = 0,
    last_step: Step = .{},

    /// Places, allocates, uploads weights and records the GPU segments of `g` (which must
    /// outlive the Exec and not change). `ctx` null = CPU only.
    pub fn plan(parent: std.mem.Allocator, g: *const Graph, ctx: ?*vk.Context, opts: Options) Error!*Exec {
        const counting = try parent.create(Counting);
        counting.* = .{ .child = parent };
        errdefer parent.destroy(counting);
        const alloc = counting.allocator();
        const self = try alloc.create(Exec);
        errdefer alloc.destroy(self);
        const n = g.len();
        self.* = .{
            .counting = counting,
            .alloc = alloc,
            .g = g,
            .ctx = if (opts.policy == .cpu) null else ctx,
            .opts = opts,
            .place = &.{},
            .home = &.{},
            .cpu_off = &.{},
            .cpu_arena = &.{},
            .gpu_loc = &.{},
            .gpu_pools = &.{},
            .gpu_own = .{},
            .k = null,
            .segments = &.{},
            .matmul_scratch = &.{},
            .positions = &.{},
            .pool = null,
            .prof = &.{},
        };
        errdefer self.deinitParts();
        self.place = try alloc.alloc(Backend, n);
        self.home = try alloc.alloc(Backend, n);
        self.cpu_off = try alloc.alloc(u64, n);
        @memset(self.cpu_off, none);
        self.gpu_loc = try alloc.alloc(?GpuLoc, n);
        @memset(self.gpu_loc, null);
        self.positions = try alloc.alloc(i32, g.max_tokens);
        self.prof = try alloc.alloc(NodeProfile, n);

        try self.makeBuckets();
        try self.checkComplete();
        try self.placeNodes();
        try self.buildSegments();
        try self.allocCpu();
        if (self.ctx != null) try self.allocGpu();
        if (opts.n_threads != 1) {
            const p = try alloc.create(pool_mod.Pool);
            p.init(alloc, .{ .n_threads = if (opts.n_threads == 0) null else opts.n_threads }) catch {
                alloc.destroy(p);
                return error.OutOfMemory;
            };
            self.pool = p;
        }
        if (self.ctx != null) try self.record();
        self.stats.host_allocs = counting.n;
        return self;
    }

    fn deinitParts(self: *Exec) void {
        const a = self.alloc;
        if (self.pool) |p| {
            p.deinit();
            a.destroy(p);
        }
        for (self.segments) |*s| {
            for (s.seqs) |*q| q.deinit();
            a.free(s.seqs);
            a.free(s.nodes);
            a.free(s.pulls);
            a.free(s.pushes);
        }
        a.free(self.segments);
        a.free(self.buckets);
        a.free(self.stage_up);
        a.free(self.stage_down);
        if (self.ctx) |ctx| {
            if (self.staging) |*b| ctx.mem.destroyBuffer(b);
            for (self.gpu_pools) |*b| ctx.mem.destroyBuffer(b);
            for (self.gpu_own.items) |b| {
                ctx.mem.destroyBuffer(b);
                a.destroy(b);
            }
            if (self.k) |*k| k.deinit();
        }
        a.free(self.gpu_pools);
        self.gpu_own.deinit(a);
        a.free(self.cpu_arena);
        a.free(self.matmul_scratch);
        a.free(self.place);
        a.free(self.home);
        a.free(self.cpu_off);
        a.free(self.gpu_loc);
        a.free(self.positions);
        a.free(self.prof);
    }

    pub fn deinit(self: *Exec) void {
        const counting = self.counting;
        self.deinitParts();
        self.alloc.destroy(self);
        counting.child.destroy(counting);
    }

    fn isCompute(t: *const Tensor) bool {
        return t.op != .none and t.op != .view;
    }

    fn makeBuckets(self: *Exec) Error!void {
        const mt = self.g.max_tokens;
        var list = std.ArrayList(u32).init(self.alloc);
        defer list.deinit();
        try list.append(1);
        for (self.opts.token_buckets) |b| if (b > 1 and b < mt) try list.append(b);
        try list.append(mt);
        std.mem.sort(u32, list.items, {}, std.sort.asc(u32));
        var n: usize = 0;
        for (list.items) |b| {
            if (n > 0 and list.items[n - 1] == b) continue;
            list.items[n] = b;
            n += 1;
        }
        list.shrinkRetainingCapacity(n);
        self.buckets = try list.toOwnedSlice();
    }

    /// Index of the variant a step of n tokens replays: the smallest bucket ≥ n.
    fn bucketOf(self: *const Exec, n: u32) usize {
        for (self.buckets, 0..) |b, i| if (b >= n) return i;
        return self.buckets.len - 1;
    }

    fn checkComplete(self: *Exec) Error!void {
        for (self.g.tensors.items) |t| if (t.kind == .weight and t.op == .none and t.data == null) return error.InvalidArgument;
    }

    // ---- placement ----

    /// Whether this device can run node `id` (a GPU kernel exists and fits the device).
    fn gpuSupports(self: *Exec, id: Id) bool {
        const ctx = self.ctx orelse return false;
        const t = self.g.get(id);
        const r = &ctx.report;
        for (t.src) |src| if (src) |sid| {
            const st = self.g.get(sid);
            if (st.kind != .weight and st.nBytes() > r.max_storage_buffer_range) return false;
        };
        if (t.nBytes() > r.max_storage_buffer_range) return false;
        const local = std.math.floorPowerOfTwo(u32, @max(@min(256, r.maxWorkgroup1D()), 1));
        return switch (t.op) {
            .add, .mul => blk: {
                const a = self.g.get(t.src[0].?);
                const b = self.g.get(t.src[1].?);
                break :blk b.nElements() == a.nElements() or b.nElements() == a.ne[0];
            },
            .get_rows, .mul_mat => kmat.supportsType(self.g.get(t.src[0].?).type),
            .rms_norm, .layer_norm, .scale, .silu, .gelu, .swiglu, .cpy => true,
            // Causal rows are grouped per token: the kernel's rows_per_token.
            .softmax => true,
            .last_row, .positions => true,
            .rope => true,
            .kv_store => t.type == .f32 or (t.ne[0] * t.ne[1]) % 2 == 0,
            .attention => blk: {
                const p = t.params.attention;
                break :blk p.head_dim % 2 == 0 and p.head_dim / 2 <= 4 * local and
                    p.n_head <= r.max_compute_work_group_count[0] and self.g.max_tokens <= r.max_compute_work_group_count[1];
            },
            else => false,
        };
    }

    fn placeNodes(self: *Exec) Error!void {
        const g = self.g;
        const items = g.tensors.items;
        // Layers the policy puts on the GPU.
        var max_layer: u32 = 0;
        var any_layer = false;
        for (items) |t| if (t.layer) |l| {
            max_layer = @max(max_layer, l);
            any_layer = true;
        };
        const n_layers: u32 = if (any_layer) max_layer + 1 else 0;
        var gpu_layers: u32 = n_layers;
        var layerless_gpu = true;
        switch (self.opts.policy) {
            .auto => {},
            .cpu => {
                gpu_layers = 0;
                layerless_gpu = false;
            },
            .gpu_layers => |nl| {
                gpu_layers = @min(nl, n_layers);
                layerless_gpu = nl >= n_layers and (nl > 0 or n_layers == 0);
            },
            .gpu_budget => |budget| {
                // Device bytes each layer's nodes need (index n_layers: layer-less nodes):
                // the weights they read and the states (KV caches) they write; plus the pools,
                // charged up front as the largest layer's intermediates (pools are reused from
                // layer to layer) and the layer-less intermediates with the layer-less nodes.
                const bytes = try self.alloc.alloc(u64, n_layers + 1);
                defer self.alloc.free(bytes);
                @memset(bytes, 0);
                const act = try self.alloc.alloc(u64, n_layers + 1);
                defer self.alloc.free(act);
                @memset(act, 0);
                const counted = try self.alloc.alloc(bool, items.len);
                defer self.alloc.free(counted);
                @memset(counted, false);
                for (items, 0..) |t, i| {
                    if (!isCompute(&t)) continue;
                    const slot = t.layer orelse n_layers;
                    for (t.src) |s| if (s) |sid| {
                        const st = g.get(sid);
                        if (st.kind == .weight and !counted[sid]) {
                            counted[sid] = true;
                            bytes[slot] += st.nBytes();
                        }
                    };
                    if (t.op == .kv_store) {
                        const r = g.root(t.src[0].?).id;
                        if (!counted[r]) {
                            counted[r] = true;
                            bytes[slot] += g.get(r).nBytes();
                        }
                    } else if (g.root(@intCast(i)).id == i) act[slot] += t.nBytes();
                }
                var reserve: u64 = 0;
                for (act[0..n_layers]) |b| reserve = @max(reserve, b);
                bytes[n_layers] += act[n_layers];
                var used: u64 = reserve;
                gpu_layers = 0;
                while (gpu_layers < n_layers and used + bytes[gpu_layers] <= budget) : (gpu_layers += 1) used += bytes[gpu_layers];
                layerless_gpu = used + bytes[n_layers] <= budget;
            },
        }
        for (items, 0..) |t, i| {
            const id: Id = @intCast(i);
            var want: Backend = .cpu;
            if (self.ctx != null and isCompute(&t)) {
                const on = if (t.layer) |l| l < gpu_layers else layerless_gpu;
                if (on) {
                    if (self.gpuSupports(id)) want = .gpu else self.stats.fallbacks += 1;
                }
            }
            self.place[i] = want;
        }
        // Homes: roots are owned by their producer's backend; views and kv_store results share
        // their root's; states by the backend of their first kv_store; inputs by the CPU.
        for (items, 0..) |t, i| {
            self.home[i] = switch (t.kind) {
                .input, .weight => .cpu,
                .state => .cpu,
                .intermediate => self.place[i],
            };
        }
        for (items, 0..) |t, i| {
            if (t.op == .kv_store) {
                const st = t.src[0].?;
                const r = g.root(st).id;
                // First writer decides; later writers of the same cache follow it.
                if (self.firstWriter(r) == i) self.home[r] = self.place[i] else self.place[i] = self.home[r];
            }
        }
        for (items, 0..) |_, i| {
            const r = g.root(@intCast(i)).id;
            if (r != i) self.home[i] = self.home[r];
        }
    }

    fn firstWriter(self: *Exec, root: Id) ?usize {
        for (self.g.tensors.items, 0..) |t, i| if (t.op == .kv_store and self.g.root(t.src[0].?).id == root) return i;
        return null;
    }

    // ---- segments ----

    fn buildSegments(self: *Exec) Error!void {
        const g = self.g;
        var segs = std.ArrayList(Segment).init(self.alloc);
        defer segs.deinit();
        errdefer for (segs.items) |s| {
            self.alloc.free(s.nodes);
            self.alloc.free(s.pulls);
            self.alloc.free(s.pushes);
        };
        var nodes = std.ArrayList(Id).init(self.alloc);
        defer nodes.deinit();
        var cur: ?Backend = null;
        const max_nodes: usize = if (self.opts.profile) 500 else std.math.maxInt(usize);
        for (g.tensors.items, 0..) |t, i| {
            if (!isCompute(&t)) continue;
            const b = self.place[i];
            if (cur != null and (cur.? != b or nodes.items.len >= max_nodes)) {
                try segs.append(.{ .backend = cur.?, .nodes = try nodes.toOwnedSlice(), .pulls = &.{} });
            }
            cur = b;
            try nodes.append(@intCast(i));
        }
        if (cur) |b| try segs.append(.{ .backend = b, .nodes = try nodes.toOwnedSlice(), .pulls = &.{} });
        // Pulls: roots read by a segment whose home is the other backend.
        var seen = try self.alloc.alloc(bool, g.len());
        defer self.alloc.free(seen);
        var pulls = std.ArrayList(Id).init(self.alloc);
        defer pulls.deinit();
        for (segs.items) |*s| {
            @memset(seen, false);
            for (s.nodes) |nid| {
                for (self.srcRoots(nid)) |maybe| if (maybe) |r| {
                    const rt = g.get(r);
                    if (seen[r] or self.home[r] == s.backend) continue;
                    // CPU weights are read in place; GPU weights are uploaded at plan.
                    if (rt.kind == .weight) continue;
                    seen[r] = true;
                    try pulls.append(r);
                };
            }
            s.pulls = try pulls.toOwnedSlice();
        }
        // Pushes (staged transfers): a GPU root a CPU segment pulls is copied out at the end of
        // the last GPU segment before it; GPU outputs at the end of the last GPU segment.
        var pushes = std.ArrayList(Id).init(self.alloc);
        defer pushes.deinit();
        for (segs.items, 0..) |*s, si| {
            if (s.backend != .gpu) continue;
            pushes.clearRetainingCapacity();
            @memset(seen, false);
            var next_gpu: ?usize = null;
            for (segs.items[si + 1 ..], si + 1..) |*o, oi| if (o.backend == .gpu) {
                next_gpu = oi;
                break;
            };
            const stop = next_gpu orelse segs.items.len;
            for (segs.items[si + 1 .. stop]) |*c| for (c.pulls) |r| {
                if (self.home[r] == .gpu and !seen[r]) {
                    seen[r] = true;
                    try pushes.append(r);
                }
            };
            if (next_gpu == null) for (g.tensors.items, 0..) |t, i| if (t.output) {
                const r = g.root(@intCast(i)).id;
                if (self.home[r] == .gpu and g.get(r).kind != .weight and !seen[r]) {
                    seen[r] = true;
                    try pushes.append(r);
                }
            };
            s.pushes = try pushes.toOwnedSlice();
        }
        self.segments = try segs.toOwnedSlice();
        self.stats.n_segments = @intCast(self.segments.len);
    }

    fn srcRoots(self: *Exec, nid: Id) [3]?Id {
        var out: [3]?Id = .{ null, null, null };
        for (self.g.get(nid).src, 0..) |s, j| {
            if (s) |sid| out[j] = self.g.root(sid).id;
        }
        return out;
    }

    // ---- allocation ----

    const Interval = struct { id: Id, start: u64, end: u64, size: u64 };

    /// Bytes of a root's storage (max_tokens).
    fn rootBytes(self: *Exec, r: Id) u64 {
        return self.g.get(r).nBytes();
    }

    /// Lifetime of root `r`'s storage on backend `b` in node indices, or null if not needed there.
    fn lifetime(self: *Exec, r: Id, b: Backend) ?[2]u64 {
        const g = self.g;
        const t = g.get(r);
        if (t.kind == .weight) return null;
        const owned_here = self.home[r] == b;
        var last: ?u64 = null;
        for (g.tensors.items, 0..) |u, i| {
            // The home copy feeds transfers to the other side too: it lives to the last use
            // anywhere; a mirror lives to the last use on its side.
            if (!isCompute(&u) or (self.place[i] != b and !owned_here)) continue;
            for (self.srcRoots(@intCast(i))) |s| if (s == r) {
                last = i;
            };
            // kv_store writes its cache: the cache is used there too.
            if (u.op == .kv_store and g.root(u.src[0].?).id == r) last = i;
        }
        var output = false;
        for (g.tensors.items, 0..) |u, i| if (u.output and g.root(@intCast(i)).id == r) {
            output = true;
        };
        if (t.kind == .input or t.kind == .state) {
            if (!owned_here and last == null) return null;
            return .{ 0, none };
        }
        if (owned_here) {
            if (output) return .{ r, none };
            return .{ r, last orelse r };
        }
        const l = last orelse return null;
        return .{ r, l };
    }

    fn collect(self: *Exec, b: Backend, list: *std.ArrayList(Interval)) Error!void {
        for (self.g.tensors.items, 0..) |t, i| {
            const id: Id = @intCast(i);
            if (self.g.root(id).id != id or t.kind == .weight) continue;
            if (t.op == .none and t.kind == .intermediate) continue;
            const lt = self.lifetime(id, b) orelse continue;
            try list.append(.{ .id = id, .start = lt[0], .end = lt[1], .size = self.rootBytes(id) });
        }
    }

    /// First-fit offsets for intervals (sorted by size, descending); returns the arena size.
    /// Intervals that overlap in time never overlap in memory. `limit`: an offset+size bound
    /// per arena; items that do not fit start a new arena (returned through `arena_of`).
    fn assign(self: *Exec, items: []Interval, alignment: u64, limit: u64, offs: []u64, arena_of: []u32, sizes: *std.ArrayList(u64)) Error!void {
        const Ctx = struct {
            fn lessThan(_: void, a: Interval, b: Interval) bool {
                if (a.size != b.size) return a.size > b.size;
                return a.id < b.id;
            }
        };
        std.mem.sort(Interval, items, {}, Ctx.lessThan);
        var placed = std.ArrayList(usize).init(self.alloc);
        defer placed.deinit();
        for (items, 0..) |it, idx| {
            if (it.size > limit) return error.Unsupported;
            var arena: u32 = 0;
            while (true) : (arena += 1) {
                if (arena == sizes.items.len) try sizes.append(0);
                var off: u64 = 0;
                // Smallest offset that avoids every live-overlapping placed item in this arena.
                var moved = true;
                while (moved) {
                    moved = false;
                    for (placed.items) |pj| {
                        const p = items[pj];
                        if (arena_of[pj] != arena) continue;
                        if (p.end < it.start or it.end < p.start) continue;
                        const po = offs[pj];
                        if (off < po + p.size and po < off + it.size) {
                            off = std.mem.alignForward(u64, po + p.size, alignment);
                            moved = true;
                        }
                    }
                }
                if (off + it.size <= limit) {
                    offs[idx] = off;
                    arena_of[idx] = arena;
                    sizes.items[arena] = @max(sizes.items[arena], off + it.size);
                    break;
                }
            }
            try placed.append(idx);
        }
    }

    fn allocCpu(self: *Exec) Error!void {
        var list = std.ArrayList(Interval).init(self.alloc);
        defer list.deinit();
        try self.collect(.cpu, &list);
        const offs = try self.alloc.alloc(u64, list.items.len);
        defer self.alloc.free(offs);
        const arena_of = try self.alloc.alloc(u32, list.items.len);
        defer self.alloc.free(arena_of);
        var sizes = std.ArrayList(u64).init(self.alloc);
        defer sizes.deinit();
        try self.assign(list.items, cpu_align, std.math.maxInt(u64) / 2, offs, arena_of, &sizes);
        const total = if (sizes.items.len > 0) sizes.items[0] else 0;
        self.cpu_arena = try self.alloc.alignedAlloc(u8, cpu_align, @intCast(@max(total, cpu_align)));
        @memset(self.cpu_arena, 0);
        for (list.items, offs) |it, o| self.cpu_off[it.id] = o;
        self.stats.cpu_pool_bytes = total;
        // Matmul scratch: the largest any CPU matmul needs.
        var scratch: usize = 0;
        for (self.g.tensors.items, 0..) |t, i| {
            if (t.op != .mul_mat or self.place[i] != .cpu) continue;
            const w = self.g.get(t.src[0].?);
            const x = self.g.get(t.src[1].?);
            const need = ops.matmulScratchBytes(w.type, @intCast(w.ne[0]), @intCast(x.nRows())) catch |e| switch (e) {
                error.Unsupported => return error.Unsupported,
                error.BadShape => return error.BadShape,
            };
            scratch = @max(scratch, need);
        }
        self.matmul_scratch = try self.alloc.alloc(u8, scratch);
    }

    fn allocGpu(self: *Exec) Error!void {
        const ctx = self.ctx.?;
        self.k = try kernels.Kernels.init(ctx);
        const r = &ctx.report;
        var list = std.ArrayList(Interval).init(self.alloc);
        defer list.deinit();
        try self.collect(.gpu, &list);
        // States get their own buffers (persistent, large); the rest share the pools.
        var shared = std.ArrayList(Interval).init(self.alloc);
        defer shared.deinit();
        for (list.items) |it| {
            if (self.g.get(it.id).kind == .state) {
                self.gpu_loc[it.id] = .{ .buf = try self.ownBuffer(it.size, null), .offset = 0 };
                self.stats.gpu_state_bytes += it.size;
            } else try shared.append(it);
        }
        const alignment = @max(r.min_storage_buffer_offset_alignment, 16);
        const limit = @min(r.max_storage_buffer_range, r.max_buffer_size, ctx.mem.block_bytes, self.opts.max_pool_bytes orelse std.math.maxInt(u64)) / alignment * alignment;
        const offs = try self.alloc.alloc(u64, shared.items.len);
        defer self.alloc.free(offs);
        const arena_of = try self.alloc.alloc(u32, shared.items.len);
        defer self.alloc.free(arena_of);
        var sizes = std.ArrayList(u64).init(self.alloc);
        defer sizes.deinit();
        try self.assign(shared.items, alignment, limit, offs, arena_of, &sizes);
        self.gpu_pools = try self.alloc.alloc(vk.Buffer, sizes.items.len);
        var made: usize = 0;
        errdefer {
            for (self.gpu_pools[0..made]) |*b| ctx.mem.destroyBuffer(b);
            self.alloc.free(self.gpu_pools);
            self.gpu_pools = &.{};
        }
        for (sizes.items, 0..) |s, i| {
            self.gpu_pools[i] = try ctx.mem.createBuffer(@max(s, 16), .{ .split_unit = alignment });
            made += 1;
            self.stats.gpu_pool_bytes += s;
        }
        self.stats.gpu_pool_buffers = @intCast(made);
        for (shared.items, offs, arena_of) |it, o, a| self.gpu_loc[it.id] = .{ .buf = &self.gpu_pools[a], .offset = o };
        // Weights read by GPU nodes: one buffer per weight tensor as used (a slice gets its own,
        // so that every binding starts aligned).
        for (self.g.tensors.items, 0..) |t, i| {
            if (!isCompute(&t) or self.place[i] != .gpu) continue;
            for (t.src) |s| if (s) |sid| {
                const st = self.g.get(sid);
                if (st.kind != .weight or self.gpu_loc[sid] != null) continue;
                const bytes = self.weightBytes(sid);
                const buf = try self.ownBuffer(bytes.len, st.type.rowBytes(st.ne[0]));
                try ctx.mem.upload(buf, 0, bytes);
                self.gpu_loc[sid] = .{ .buf = buf, .offset = 0 };
                self.stats.gpu_weight_bytes += bytes.len;
            };
        }
        if (self.opts.force_staging or !ctx.mem.device_mapped) try self.allocStaging();
    }

    /// Staging regions of staged transfers: the step params, then one region per root copied
    /// in (a GPU segment's pulls) and one per root copied out (pushes), max_tokens bytes each.
    fn allocStaging(self: *Exec) Error!void {
        const ctx = self.ctx.?;
        const n = self.g.len();
        self.stage_up = try self.alloc.alloc(u64, n);
        @memset(self.stage_up, none);
        self.stage_down = try self.alloc.alloc(u64, n);
        @memset(self.stage_down, none);
        var off: u64 = 16; // StepParams at 0
        for (self.segments) |s| {
            if (s.backend != .gpu) continue;
            for (s.pulls) |r| if (self.stage_up[r] == none) {
                self.stage_up[r] = off;
                off = std.mem.alignForward(u64, off + self.rootBytes(r), 16);
            };
            for (s.pushes) |r| if (self.stage_down[r] == none) {
                self.stage_down[r] = off;
                off = std.mem.alignForward(u64, off + self.rootBytes(r), 16);
            };
        }
        const r = &ctx.report;
        if (off > @min(r.max_buffer_size, ctx.mem.block_bytes)) return error.Unsupported;
        self.staging = ctx.mem.createHostBuffer(off) catch |e| {
            // No host-visible memory: fall back to the allocator's staged upload/download.
            ctx.log.warn("graph: no staging memory ({s}); transfers submit separately", .{@errorName(e)});
            self.alloc.free(self.stage_up);
            self.alloc.free(self.stage_down);
            self.stage_up = &.{};
            self.stage_down = &.{};
            return;
        };
        if (self.staging.?.chunks.len != 1 or self.staging.?.chunks[0].mapped == null) return error.Unsupported;
        self.stats.gpu_staging_bytes = off;
    }

    fn stageHost(self: *Exec, off: u64, len: usize) []u8 {
        return self.staging.?.chunks[0].mapped.?[@intCast(off)..][0..len];
    }

    /// Bytes of root r's rows in a step of n tokens (the whole tensor when static).
    fn stepBytes(self: *const Exec, r: Id, n_tokens: u32) usize {
        const t = self.g.get(r);
        return @intCast(if (t.tok != null) t.type.rowBytes(t.perToken()).? * n_tokens else t.nBytes());
    }

    /// Records a buffer copy (both ranges within one chunk each).
    fn recCopy(self: *Exec, seq: *vk.Sequence, src: *const vk.Buffer, src_off: u64, dst: *const vk.Buffer, dst_off: u64, size: u64) Error!void {
        if (size == 0) return;
        const ctx = self.ctx.?;
        const a = src.locate(src_off);
        const b = dst.locate(dst_off);
        if (a.offset + size > src.chunks[a.chunk].size_bytes or b.offset + size > dst.chunks[b.chunk].size_bytes) return error.Unsupported;
        const region = vk.c.VkBufferCopy{ .srcOffset = a.offset, .dstOffset = b.offset, .size = size };
        ctx.d.vkCmdCopyBuffer(seq.cmd, src.chunks[a.chunk].handle, dst.chunks[b.chunk].handle, 1, &region);
    }

    fn ownBuffer(self: *Exec, size: u64, unit: ?u64) Error!*vk.Buffer {
        const ctx = self.ctx.?;
        const b = try self.alloc.create(vk.Buffer);
        errdefer self.alloc.destroy(b);
        b.* = try ctx.mem.createBuffer(@max(size, 16), .{ .split_unit = unit orelse 16 });
        errdefer ctx.mem.destroyBuffer(b);
        try self.gpu_own.append(self.alloc, b);
        // Zero (states start empty; weights are overwritten).
        var seq = try vk.Sequence.init(ctx, 0);
        defer seq.deinit();
        try seq.begin();
        seq.fill(b, 0);
        try seq.end();
        try seq.submit();
        return b;
    }

    /// Bytes of a weight (a root or a slice of one).
    fn weightBytes(self: *Exec, id: Id) []const u8 {
        const rr = self.g.root(id);
        const root = self.g.get(rr.id);
        const t = self.g.get(id);
        const off = byteOffset(root, rr.offset);
        return root.data.?[@intCast(off)..][0..@intCast(t.nBytes())];
    }

    fn byteOffset(root: *const Tensor, elems: u64) u64 {
        const tr = root.type.traits().?;
        return elems / tr.block_elems * tr.block_bytes;
    }

    // ---- host views of tensors ----

    fn cpuBytes(self: *Exec, id: Id) []u8 {
        const rr = self.g.root(id);
        const root = self.g.get(rr.id);
        const t = self.g.get(id);
        if (root.kind == .weight) return @constCast(self.weightBytes(id));
        const base = self.cpu_off[rr.id];
        std.debug.assert(base != none);
        return self.cpu_arena[@intCast(base + byteOffset(root, rr.offset))..][0..@intCast(t.nBytes())];
    }

    fn cpuF32(self: *Exec, id: Id, n_tokens: u32) []f32 {
        const t = self.g.get(id);
        const b = self.cpuBytes(id);
        const all: []f32 = @alignCast(std.mem.bytesAsSlice(f32, b));
        return all[0..@intCast(t.stepElements(n_tokens))];
    }

    fn qtensor(self: *Exec, id: Id) ops.QTensor {
        const t = self.g.get(id);
        return .{ .t = t.type, .data = self.cpuBytes(id), .n_rows = @intCast(t.nRows()), .n_cols = @intCast(t.ne[0]) };
    }

    // ---- GPU recording ----

    fn view(self: *Exec, id: Id) kernels.View {
        const rr = self.g.root(id);
        const root = self.g.get(rr.id);
        const t = self.g.get(id);
        const loc = self.gpu_loc[if (root.kind == .weight) id else rr.id].?;
        const extra = if (root.kind == .weight) 0 else byteOffset(root, rr.offset);
        var ne = t.ne;
        // The variant being recorded sees rec_tokens rows of every token tensor.
        if (t.tok) |d| ne[d] = self.rec_tokens;
        return .{ .buf = loc.buf, .offset = loc.offset + extra, .type = t.type, .ne = ne };
    }

    const Range = struct { buf: *const vk.Buffer, lo: u64, hi: u64 };

    fn rangeOf(v: kernels.View) Range {
        return .{ .buf = v.buf, .lo = v.offset, .hi = v.offset + v.nBytes() };
    }

    fn overlaps(list: []const Range, r: Range) bool {
        for (list) |x| if (x.buf == r.buf and x.lo < r.hi and r.lo < x.hi) return true;
        return false;
    }

    fn record(self: *Exec) Error!void {
        const ctx = self.ctx.?;
        var written = std.ArrayList(Range).init(self.alloc);
        defer written.deinit();
        var read = std.ArrayList(Range).init(self.alloc);
        defer read.deinit();
        for (self.segments) |*s| {
            if (s.backend != .gpu) continue;
            s.seqs = try self.alloc.alloc(vk.Sequence, self.buckets.len);
            var made: usize = 0;
            errdefer {
                for (s.seqs[0..made]) |*q| q.deinit();
                self.alloc.free(s.seqs);
                s.seqs = &.{};
            }
            for (self.buckets, 0..) |nt, bi| {
                s.seqs[bi] = try vk.Sequence.init(ctx, if (self.opts.profile) @intCast(s.nodes.len + 1) else 0);
                made += 1;
                self.rec_tokens = nt;
                try self.recordSegment(s, &s.seqs[bi], &written, &read);
            }
        }
        self.rec_tokens = self.g.max_tokens;
        self.stats.variants = @intCast(self.buckets.len);
    }

    fn recordSegment(self: *Exec, s: *Segment, seq: *vk.Sequence, written: *std.ArrayList(Range), read: *std.ArrayList(Range)) Error!void {
        const n_ts: u32 = if (self.opts.profile) @intCast(s.nodes.len + 1) else 0;
        {
            try seq.begin();
            written.clearRetainingCapacity();
            read.clearRetainingCapacity();
            if (self.staging) |*st| {
                // Staged transfers: the step params and this segment's inputs, host -> device.
                try self.recCopy(seq, st, self.stage_params, &self.k.?.params, 0, @sizeOf(kernels.StepParams));
                for (s.pulls) |r| {
                    const loc = self.gpu_loc[r].?;
                    try self.recCopy(seq, st, self.stage_up[r], loc.buf, loc.offset, self.stepBytes(r, self.rec_tokens));
                }
                seq.barrier();
            }
            _ = seq.timestamp();
            for (s.nodes) |nid| {
                const t = self.g.get(nid);
                // Barrier only when this node reads what an earlier dispatch wrote (RAW) or
                // writes what earlier dispatches read or wrote since the last barrier (WAR/WAW,
                // from reused pool memory).
                const out = rangeOf(self.view(nid));
                var need = overlaps(written.items, out) or overlaps(read.items, out);
                // (Ranges are of this variant's rows: a smaller variant needs fewer barriers.)
                for (t.src) |src| if (src) |sid| {
                    if (overlaps(written.items, rangeOf(self.view(sid)))) need = true;
                };
                if (need) {
                    seq.barrier();
                    written.clearRetainingCapacity();
                    read.clearRetainingCapacity();
                }
                try self.recordNode(seq, nid);
                if (self.opts.perturb_gpu_node == nid) {
                    seq.barrier();
                    kops.scale(&self.k.?, seq, self.view(nid), 1.1, self.view(nid)) catch return error.BadShape;
                }
                try written.append(out);
                for (t.src) |src| if (src) |sid| try read.append(rangeOf(self.view(sid)));
                if (self.opts.profile) {
                    // Serialize so that each interval measures one node.
                    seq.barrier();
                    written.clearRetainingCapacity();
                    read.clearRetainingCapacity();
                    _ = seq.timestamp();
                }
            }
            if (self.staging) |*st| if (s.pushes.len > 0) {
                // Results the CPU or the host reads next, device -> staging.
                seq.barrier();
                for (s.pushes) |r| {
                    const loc = self.gpu_loc[r].?;
                    try self.recCopy(seq, loc.buf, loc.offset, st, self.stage_down[r], self.stepBytes(r, self.rec_tokens));
                }
            };
            try seq.end();
            s.n_ts = n_ts;
            self.stats.recordings += 1;
        }
    }

    fn recordNode(self: *Exec, seq: *vk.Sequence, nid: Id) Error!void {
        const k = &self.k.?;
        const t = self.g.get(nid);
        const s0 = t.src[0];
        const out = self.view(nid);
        const e = switch (t.op) {
            .add => kops.add(k, seq, self.view(s0.?), self.view(t.src[1].?), out),
            .mul => kops.mul(k, seq, self.view(s0.?), self.view(t.src[1].?), out),
            .get_rows => kmat.getRows(k, seq, self.view(s0.?), self.view(t.src[1].?), out),
            .mul_mat => kmat.mulMat(k, seq, self.view(s0.?), self.view(t.src[1].?), out),
            .rms_norm => kops.rmsNorm(k, seq, self.view(s0.?), null, t.params.eps, out),
            .layer_norm => kops.layerNorm(k, seq, self.view(s0.?), if (t.src[1]) |w| self.view(w) else null, if (t.src[2]) |b| self.view(b) else null, t.params.eps, out),
            .scale => kops.scale(k, seq, self.view(s0.?), t.params.scale, out),
            .silu => kops.silu(k, seq, self.view(s0.?), out),
            .gelu => kops.gelu(k, seq, self.view(s0.?), out),
            .swiglu => kops.swiglu(k, seq, self.view(s0.?), self.view(t.src[1].?), out),
            .softmax => kops.softmax(k, seq, self.view(s0.?), .{
                .scale = t.params.softmax.scale,
                .causal = t.params.softmax.causal,
                // The graph groups rows per token: every row of a token has its position.
                .rows_per_token = @intCast(t.perToken() / t.ne[0]),
            }, out),
            .last_row => kops.lastRow(k, seq, self.view(s0.?), out),
            .positions => kops.positions(k, seq, out),
            .cpy => kops.cpy(k, seq, self.view(s0.?), out),
            .rope => kops.rope(k, seq, self.view(s0.?), @intCast(t.ne[1]), @intCast(t.ne[0]), .{
                .n_rot = t.params.rope.n_rot,
                .mode = if (t.params.rope.mode == .neox) .neox else .normal,
                .freq_base = t.params.rope.freq_base,
                .freq_scale = t.params.rope.freq_scale,
            }, out),
            .kv_store => blk: {
                var src = self.view(t.src[1].?);
                var cache = out;
                const row = cache.ne[0] * cache.ne[1];
                // (Rows computed first: an aggregate assignment may write ne before reading it.)
                const src_rows = src.nElements() / row;
                const ctx_rows = cache.nElements() / row;
                src.ne = .{ row, src_rows, 1, 1 };
                cache.ne = .{ row, ctx_rows, 1, 1 };
                break :blk kops.kvStore(k, seq, src, cache);
            },
            .attention => blk: {
                const p = t.params.attention;
                var kc = self.view(t.src[1].?);
                var vc = self.view(t.src[2].?);
                const row = kc.ne[0] * kc.ne[1];
                const kc_rows = kc.nElements() / row;
                const vc_rows = vc.nElements() / row;
                kc.ne = .{ row, kc_rows, 1, 1 };
                vc.ne = .{ row, vc_rows, 1, 1 };
                break :blk kops.attention(k, seq, self.view(s0.?), kc, vc, .{ .n_head = p.n_head, .n_head_kv = p.n_head_kv, .head_dim = p.head_dim, .scale = p.scale }, out);
            },
            else => error.Unsupported,
        };
        e catch |err| {
            self.ctx.?.log.warn("graph: recording node {d} ({s}) failed: {s}", .{ nid, @tagName(t.op), @errorName(err) });
            return switch (err) {
                error.BadShape, error.InvalidArgument => error.BadShape,
                else => |x| x,
            };
        };
    }

    // ---- per step ----

    /// Copies `data` into input `id`: whole per-token rows (n_tokens of them for the next step),
    /// or the whole tensor for a static input.
    pub fn setInput(self: *Exec, id: Id, data: []const u8) Error!void {
        if (id >= self.g.len()) return error.InvalidArgument;
        const t = self.g.get(id);
        if (t.kind != .input or t.op != .none) return error.InvalidArgument;
        const dst = self.cpuBytes(id);
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
        const params = kernels.StepParams{ .pos = step.pos, .n_tokens = step.n_tokens, .n_kv = step.pos + step.n_tokens };
        if (self.staging != null) {
            // Copied into the params buffer by every GPU segment's command buffer.
            @memcpy(self.stageHost(self.stage_params, @sizeOf(kernels.StepParams)), std.mem.asBytes(&params));
        } else if (self.k) |*k| try k.setParams(params);
        const bi = self.bucketOf(step.n_tokens);
        self.stats.transfers = 0;
        self.n_prof = 0;
        for (self.segments) |*s| {
            for (s.pulls) |r| try self.pull(r, s.backend, step.n_tokens);
            switch (s.backend) {
                .gpu => {
                    const seq = &s.seqs[bi];
                    try seq.submit();
                    self.stats.submits += 1;
                    if (self.opts.profile) {
                        var ts: [512]u64 = undefined;
                        const got = try seq.readTimestamps(&ts);
                        for (s.nodes, 0..) |nid, i| {
                            const ns = if (i + 1 < got) ts[i + 1] -| ts[i] else 0;
                            self.addProfile(nid, .gpu, ns);
                        }
                    }
                },
                .cpu => for (s.nodes) |nid| {
                    var timer = if (self.opts.profile) std.time.Timer.start() catch null else null;
                    try self.runCpu(nid, step);
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

    /// Copies root `r`'s step data to backend `to` from its home: through its staging region
    /// (the copy on the device side is recorded in the GPU segment), else upload/download
    /// (a memcpy through the mapping on UMA devices).
    fn pull(self: *Exec, r: Id, to: Backend, n_tokens: u32) Error!void {
        const ctx = self.ctx orelse return;
        const bytes = self.stepBytes(r, n_tokens);
        const host = self.cpuBytes(r)[0..bytes];
        const loc = self.gpu_loc[r].?;
        if (self.staging != null) {
            const off = if (to == .gpu) self.stage_up[r] else self.stage_down[r];
            if (off != none) {
                switch (to) {
                    .gpu => @memcpy(self.stageHost(off, bytes), host),
                    .cpu => @memcpy(host, self.stageHost(off, bytes)),
                }
                self.stats.transfers += 1;
                return;
            }
        }
        switch (to) {
            .gpu => try ctx.mem.upload(loc.buf, loc.offset, host),
            .cpu => try ctx.mem.download(loc.buf, loc.offset, host),
        }
        self.stats.transfers += 1;
    }

    fn runCpu(self: *Exec, nid: Id, step: Step) Error!void {
        const g = self.g;
        const t = g.get(nid);
        const nt = step.n_tokens;
        const pool = self.pool;
        const s0 = t.src[0];
        const cpuErr = struct {
            fn map(e: ops.Error) Error {
                return switch (e) {
                    error.BadShape => error.BadShape,
                    error.Unsupported => error.Unsupported,
                };
            }
        }.map;
        switch (t.op) {
            .none, .view => {},
            .positions => {
                const out: []i32 = @alignCast(std.mem.bytesAsSlice(i32, self.cpuBytes(nid)));
                @memcpy(out[0..nt], self.positions[0..nt]);
            },
            .get_rows => {
                const ids_t = g.get(t.src[1].?);
                const ids_all: []const u32 = @alignCast(std.mem.bytesAsSlice(u32, self.cpuBytes(t.src[1].?)));
                const ids = ids_all[0..@intCast(ids_t.stepElements(nt))];
                ops.getRows(self.qtensor(s0.?), ids, self.cpuF32(nid, nt)) catch |e| return cpuErr(e);
            },
            .mul_mat => {
                const x = self.cpuF32(t.src[1].?, nt);
                const w = self.qtensor(s0.?);
                const rows = x.len / w.n_cols;
                ops.matmul(pool, w, x, rows, self.cpuF32(nid, nt), self.matmul_scratch) catch |e| return cpuErr(e);
            },
            .rms_norm => ops.rmsNorm(pool, self.cpuF32(s0.?, nt), null, @intCast(t.stepRows(nt)), @intCast(t.ne[0]), t.params.eps, self.cpuF32(nid, nt)) catch |e| return cpuErr(e),
            .layer_norm => {
                const w = if (t.src[1]) |id| self.cpuF32(id, nt) else null;
                const b = if (t.src[2]) |id| self.cpuF32(id, nt) else null;
                ops.layerNorm(pool, self.cpuF32(s0.?, nt), w, b, @intCast(t.stepRows(nt)), @intCast(t.ne[0]), t.params.eps, self.cpuF32(nid, nt)) catch |e| return cpuErr(e);
            },
            .add, .mul => {
                const a = self.cpuF32(s0.?, nt);
                const b = self.cpuF32(t.src[1].?, nt);
                const out = self.cpuF32(nid, nt);
                const f = if (t.op == .add) &ops.add else &ops.mul;
                if (b.len == a.len or b.len == t.ne[0]) {
                    f(pool, a, b, a.len / @as(usize, @intCast(t.ne[0])), @intCast(t.ne[0]), out) catch |e| return cpuErr(e);
                } else {
                    // b repeats every b.len elements: one call per block.
                    var i: usize = 0;
                    while (i < a.len) : (i += b.len) f(pool, a[i..][0..b.len], b, 1, b.len, out[i..][0..b.len]) catch |e| return cpuErr(e);
                }
            },
            .scale => ops.scale(pool, self.cpuF32(s0.?, nt), t.params.scale, self.cpuF32(nid, nt)) catch |e| return cpuErr(e),
            .silu => ops.silu(pool, self.cpuF32(s0.?, nt), self.cpuF32(nid, nt)) catch |e| return cpuErr(e),
            .gelu => ops.gelu(pool, self.cpuF32(s0.?, nt), self.cpuF32(nid, nt)) catch |e| return cpuErr(e),
            .swiglu => ops.swiglu(pool, self.cpuF32(s0.?, nt), self.cpuF32(t.src[1].?, nt), self.cpuF32(nid, nt)) catch |e| return cpuErr(e),
            .softmax => {
                const p = t.params.softmax;
                const out = self.cpuF32(nid, nt);
                @memcpy(out, self.cpuF32(s0.?, nt));
                const ncols: usize = @intCast(t.ne[0]);
                if (!p.causal) {
                    ops.softmax(pool, out, out.len / ncols, ncols, p.scale, null) catch |e| return cpuErr(e);
                } else {
                    const per: usize = @intCast(t.perToken());
                    for (0..nt) |tk| {
                        const block = out[tk * per ..][0..per];
                        var r: usize = 0;
                        while (r < per) : (r += ncols) ops.softmax(null, block[r..][0..ncols], 1, ncols, p.scale, .{ .pos0 = step.pos + tk }) catch |e| return cpuErr(e);
                    }
                }
            },
            .rope => {
                const p = t.params.rope;
                const out = self.cpuF32(nid, nt);
                @memcpy(out, self.cpuF32(s0.?, nt));
                ops.rope(pool, out, nt, @intCast(t.ne[1]), @intCast(t.ne[0]), self.positions[0..nt], .{
                    .n_rot = p.n_rot,
                    .mode = if (p.mode == .neox) .neox else .normal,
                    .freq_base = p.freq_base,
                    .freq_scale = p.freq_scale,
                }) catch |e| return cpuErr(e);
            },
            .kv_store => {
                const cache = g.get(nid);
                const row: usize = @intCast(cache.ne[0] * cache.ne[1]);
                const src = self.cpuF32(t.src[1].?, nt);
                const dst_bytes = self.cpuBytes(nid);
                switch (cache.type) {
                    .f32 => {
                        const d: []f32 = @alignCast(std.mem.bytesAsSlice(f32, dst_bytes));
                        @memcpy(d[step.pos * row ..][0 .. nt * row], src);
                    },
                    .f16 => {
                        const d: []f16 = @alignCast(std.mem.bytesAsSlice(f16, dst_bytes));
                        ops.f32ToF16(src, d[step.pos * row ..][0 .. nt * row]) catch |e| return cpuErr(e);
                    },
                    else => return error.Unsupported,
                }
            },
            .attention => {
                const p = t.params.attention;
                const kt = g.get(t.src[1].?);
                const kv = struct {
                    fn of(ex: *Exec, id: Id) ops.KvView {
                        const b = ex.cpuBytes(id);
                        return switch (ex.g.get(id).type) {
                            .f16 => .{ .f16 = @alignCast(std.mem.bytesAsSlice(f16, b)) },
                            else => .{ .f32 = @alignCast(std.mem.bytesAsSlice(f32, b)) },
                        };
                    }
                }.of;
                ops.attention(pool, self.cpuF32(s0.?, nt), kv(self, t.src[1].?), kv(self, t.src[2].?), .{
                    .n_tokens = nt,
                    .n_head = p.n_head,
                    .n_head_kv = p.n_head_kv,
                    .head_dim = p.head_dim,
                    .pos0 = step.pos,
                    .n_ctx = @intCast(kt.ne[2]),
                    .scale = p.scale,
                }, self.cpuF32(nid, nt)) catch |e| return cpuErr(e);
            },
            .cpy => {
                const src_t = g.get(s0.?);
                const n: usize = @intCast(t.stepElements(nt));
                const sb = self.cpuBytes(s0.?);
                const db = self.cpuBytes(nid);
                if (src_t.type == t.type) {
                    const nb: usize = @intCast(t.type.rowBytes(n).?);
                    @memcpy(db[0..nb], sb[0..nb]);
                } else if (t.type == .f16) {
                    const s: []const f32 = @alignCast(std.mem.bytesAsSlice(f32, sb));
                    const d: []f16 = @alignCast(std.mem.bytesAsSlice(f16, db));
                    ops.f32ToF16(s[0..n], d[0..n]) catch |e| return cpuErr(e);
                } else {
                    const s: []const f16 = @alignCast(std.mem.bytesAsSlice(f16, sb));
                    const d: []f32 = @alignCast(std.mem.bytesAsSlice(f32, db));
                    ops.f16ToF32(s[0..n], d[0..n]) catch |e| return cpuErr(e);
                }
            },
            .last_row => {
                const x = self.cpuF32(s0.?, nt);
                const ne0: usize = @intCast(t.ne[0]);
                @memcpy(self.cpuF32(nid, nt), x[(nt - 1) * ne0 ..][0..ne0]);
            },
        }
    }

    /// Reads the last step's value of `id` (an output, or any input/state) into `out`: the
    /// step's rows for a token tensor (n_tokens × per-token bytes), else the whole tensor.
    /// Returns the bytes written.
    pub fn readOutput(self: *Exec, id: Id, out: []u8) Error!usize {
        if (id >= self.g.len()) return error.InvalidArgument;
        const t = self.g.get(id);
        const rr = self.g.root(id);
        const root = self.g.get(rr.id);
        if (!t.output and root.kind != .state and root.kind != .input and !self.g.get(rr.id).output) return error.InvalidArgument;
        const bytes: usize = @intCast(if (t.tok != null) t.type.rowBytes(t.perToken()).? * self.last_step.n_tokens else t.nBytes());
        if (out.len < bytes) return error.BadShape;
        if (root.kind == .weight) {
            @memcpy(out[0..bytes], self.weightBytes(id)[0..bytes]);
        } else if (self.home[rr.id] == .gpu and self.staging != null and self.stage_down[rr.id] != none) {
            // Copied out by the last GPU segment of the step.
            @memcpy(out[0..bytes], self.stageHost(self.stage_down[rr.id] + byteOffset(root, rr.offset), bytes));
        } else if (self.home[rr.id] == .gpu) {
            const loc = self.gpu_loc[rr.id].?;
            try self.ctx.?.mem.download(loc.buf, loc.offset + byteOffset(root, rr.offset), out[0..bytes]);
        } else {
            @memcpy(out[0..bytes], self.cpuBytes(id)[0..bytes]);
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
        if (self.home[id] == .gpu) {
            const loc = self.gpu_loc[id].?;
            try self.ctx.?.mem.upload(loc.buf, loc.offset, data);
        } else {
            @memcpy(self.cpuBytes(id)[0..data.len], data);
        }
    }

    /// Fills every reusable intermediate (CPU arena outside inputs/states, GPU pools) with NaN
    /// bytes: tests call it between steps to prove no result depends on stale memory.
    pub fn poison(self: *Exec) Error!void {
        const g = self.g;
        for (g.tensors.items, 0..) |t, i| {
            if (t.kind != .intermediate or g.root(@intCast(i)).id != i or self.cpu_off[i] == none) continue;
            @memset(self.cpu_arena[@intCast(self.cpu_off[i])..][0..@intCast(t.nBytes())], 0xff);
        }
        if (self.ctx) |ctx| {
            var seq = try vk.Sequence.init(ctx, 0);
            defer seq.deinit();
            try seq.begin();
            for (self.gpu_pools) |*b| seq.fill(b, 0xffffffff);
            try seq.end();
            try seq.submit();
        }
    }

    pub fn placement(self: *const Exec, id: Id) Backend {
        return self.place[id];
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
