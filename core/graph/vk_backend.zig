//! The Vulkan backend of the executor: which nodes this device runs (each answer is the
//! kernel's own limit check), the device buffers (one pool arena per interval layout, split at
//! maxStorageBufferRange; one buffer per weight and per state), per-node scratch (split-K
//! attention's partials), staged transfers, and one recorded command buffer per GPU segment and
//! token bucket with barriers only where a node reads or overwrites what an earlier one touched.
//! Every Vulkan call goes through core/vk and core/kernels; the generic executor
//! (core/graph/exec.zig) sees only this file's functions.
const std = @import("std");
const graph = @import("graph.zig");
const plan_mod = @import("plan.zig");
const intervals = @import("intervals.zig");
const vk = @import("../vk/vk.zig");
const kernels = @import("../kernels/kernels.zig");
const kmat = @import("../kernels/matmul.zig");
const kops = @import("../kernels/ops.zig");

const Graph = graph.Graph;
const Id = graph.Id;
const Plan = plan_mod.Plan;
const Segment = plan_mod.Segment;
const none = plan_mod.none;

pub const Error = error{ BadShape, InvalidArgument, OutOfMemory, Unsupported } || vk.Error;

pub const StepParams = kernels.StepParams;

/// What placement asks the device: can it run node `id`?
pub const Device = struct {
    ctx: *vk.Context,
    g: *const Graph,

    pub fn supports(self: *const Device, id: Id) bool {
        const g = self.g;
        const t = g.get(id);
        const r = &self.ctx.report;
        // Every non-weight operand and the result are bound whole.
        for (t.src) |src| if (src) |sid| {
            const st = g.get(sid);
            if (st.kind != .weight and st.nBytes() > r.max_storage_buffer_range) return false;
        };
        if (t.nBytes() > r.max_storage_buffer_range) return false;
        return switch (t.op) {
            .add, .mul => kops.binaryFits(g.get(t.src[0].?).nElements(), g.get(t.src[1].?).nElements(), t.ne[0]),
            .get_rows, .mul_mat => kmat.supportsType(g.get(t.src[0].?).type),
            .rms_norm, .layer_norm, .scale, .silu, .gelu, .swiglu, .cpy, .softmax => true,
            .last_row, .positions, .rope => true,
            .kv_store => kops.kvStoreFits(t.type, t.ne[0] * t.ne[1]),
            .attention => kops.attentionFits(r, t.params.attention, g.max_tokens),
            .none, .view => false,
        };
    }
};

/// Where a root tensor (or a node's scratch) lives on the device.
const Loc = struct { buf: *const vk.Buffer, offset: u64 };

pub const Options = struct {
    profile: bool = false,
    /// Q8_0 / Q4_0 mat-vec through the integer-dot-product kernel on its Q8_1 activations
    /// (per-node scratch) where the device has it; off: the float mat-vec everywhere.
    int_dot: bool = false,
    max_pool_bytes: ?u64 = null,
    force_staging: bool = false,
    /// Test-only (core/graph/diff.zig): scale this node's GPU output by 1.1 after computing it.
    perturb_gpu_node: ?graph.Id = null,
};

pub const Stats = struct {
    recordings: u64 = 0,
    pool_bytes: u64 = 0,
    weight_bytes: u64 = 0,
    state_bytes: u64 = 0,
    staging_bytes: u64 = 0,
    scratch_bytes: u64 = 0,
    pool_buffers: u32 = 0,
};

pub const Vulkan = struct {
    alloc: std.mem.Allocator,
    ctx: *vk.Context,
    p: *const Plan,
    opts: Options,
    k: kernels.Kernels,
    loc: []?Loc,
    /// Per-node scratch (null: the node needs none).
    scratch: []?Loc,
    pools: []vk.Buffer = &.{},
    own: std.ArrayListUnmanaged(*vk.Buffer) = .{},
    /// Staged transfers: one host-visible buffer of regions (step params, then per root).
    staging: ?vk.Buffer = null,
    stage_up: []u64 = &.{},
    stage_down: []u64 = &.{},
    stage_params: u64 = 0,
    /// One recorded sequence per token bucket, per segment (empty for CPU segments).
    seqs: [][]vk.Sequence = &.{},
    /// The bucket being recorded (token dims of views).
    rec_tokens: u32 = 1,
    stats: Stats = .{},

    /// Allocates the device memory of plan `p`, uploads the weights its GPU nodes read and
    /// records every GPU segment for every bucket.
    pub fn init(alloc: std.mem.Allocator, ctx: *vk.Context, p: *const Plan, opts: Options) Error!*Vulkan {
        const self = try alloc.create(Vulkan);
        errdefer alloc.destroy(self);
        const loc = try alloc.alloc(?Loc, p.g.len());
        errdefer alloc.free(loc);
        @memset(loc, null);
        const scratch = try alloc.alloc(?Loc, p.g.len());
        errdefer alloc.free(scratch);
        @memset(scratch, null);
        self.* = .{ .alloc = alloc, .ctx = ctx, .p = p, .opts = opts, .k = try kernels.Kernels.init(ctx), .loc = loc, .scratch = scratch };
        errdefer self.deinitParts();
        try self.allocate();
        try self.record();
        return self;
    }

    fn deinitParts(self: *Vulkan) void {
        const a = self.alloc;
        const ctx = self.ctx;
        for (self.seqs) |list| {
            for (list) |*q| q.deinit();
            a.free(list);
        }
        a.free(self.seqs);
        a.free(self.stage_up);
        a.free(self.stage_down);
        if (self.staging) |*b| ctx.mem.destroyBuffer(b);
        for (self.pools) |*b| ctx.mem.destroyBuffer(b);
        a.free(self.pools);
        for (self.own.items) |b| {
            ctx.mem.destroyBuffer(b);
            a.destroy(b);
        }
        self.own.deinit(a);
        self.k.deinit();
    }

    pub fn deinit(self: *Vulkan) void {
        self.deinitParts();
        self.alloc.free(self.loc);
        self.alloc.free(self.scratch);
        self.alloc.destroy(self);
    }

    // ---- allocation ----

    /// Scratch bytes node `nid` needs on this device at the largest bucket (0: none): split-K
    /// attention's partials when a bucket's query count is small for the context.
    fn scratchBytes(self: *const Vulkan, nid: Id) u64 {
        const g = self.p.g;
        const t = g.get(nid);
        return switch (t.op) {
            .attention => blk: {
                const n_ctx = g.get(t.src[1].?).ne[2];
                var most: u64 = 0;
                for (self.p.buckets) |b| most = @max(most, kops.attentionScratchBytes(b, t.params.attention, n_ctx));
                break :blk most;
            },
            .mul_mat => if (self.intDot(nid)) kmat.q8ScratchBytes(g.get(t.src[0].?).ne[0], @min(self.p.g.max_tokens, kmat.max_vec_tokens)) else 0,
            .get_rows, .rms_norm, .layer_norm, .add, .mul, .scale, .silu, .gelu, .swiglu => 0,
            .softmax, .rope, .kv_store, .cpy, .last_row, .positions, .none, .view => 0,
        };
    }

    /// Whether mat-mul node `nid` takes the integer-dot mat-vec in its decode buckets.
    fn intDot(self: *const Vulkan, nid: Id) bool {
        if (!self.opts.int_dot) return false;
        const w = self.p.g.get(self.p.g.get(nid).src[0].?);
        const plan = kmat.planMulMatWith(&self.ctx.report, w.type, 1, .{ .int_dot = true }) catch return false;
        return plan.feature == .int_dot;
    }

    fn allocate(self: *Vulkan) Error!void {
        const ctx = self.ctx;
        const g = self.p.g;
        const r = &ctx.report;
        var list = std.ArrayList(intervals.Interval).init(self.alloc);
        defer list.deinit();
        try intervals.collect(self.p, .gpu, &list);
        // States get their own buffers (persistent, large); the rest share the pools.
        var shared = std.ArrayList(intervals.Interval).init(self.alloc);
        defer shared.deinit();
        for (list.items) |it| {
            if (g.get(it.id).kind == .state) {
                self.loc[it.id] = .{ .buf = try self.ownBuffer(it.size, null), .offset = 0 };
                self.stats.state_bytes += it.size;
            } else try shared.append(it);
        }
        // Per-node scratch: alive while its node runs.
        for (g.tensors.items, 0..) |t, i| {
            if (!plan_mod.isCompute(&t) or self.p.place[i] != .gpu) continue;
            const bytes = self.scratchBytes(@intCast(i));
            if (bytes > 0) try shared.append(.{ .id = @intCast(i), .start = i, .end = i, .size = bytes, .scratch = true });
        }
        const alignment = @max(r.min_storage_buffer_offset_alignment, 16);
        const limit = @min(r.max_storage_buffer_range, r.max_buffer_size, ctx.mem.block_bytes, self.opts.max_pool_bytes orelse std.math.maxInt(u64)) / alignment * alignment;
        var lay = try intervals.layout(self.alloc, try shared.toOwnedSlice(), alignment, limit);
        defer lay.deinit(self.alloc);
        self.pools = try self.alloc.alloc(vk.Buffer, lay.sizes.len);
        var made: usize = 0;
        errdefer {
            for (self.pools[0..made]) |*b| ctx.mem.destroyBuffer(b);
            self.alloc.free(self.pools);
            self.pools = &.{};
        }
        for (lay.sizes, 0..) |s, i| {
            self.pools[i] = try ctx.mem.createBuffer(@max(s, 16), .{ .split_unit = alignment });
            made += 1;
            self.stats.pool_bytes += s;
        }
        self.stats.pool_buffers = @intCast(made);
        for (lay.items, lay.offs, lay.arena_of) |it, o, a| {
            const l = Loc{ .buf = &self.pools[a], .offset = o };
            if (it.scratch) {
                self.scratch[it.id] = l;
                self.stats.scratch_bytes += it.size;
            } else self.loc[it.id] = l;
        }
        // Weights read by GPU nodes: one buffer per weight tensor as used (a slice gets its own,
        // so that every binding starts aligned).
        for (g.tensors.items, 0..) |t, i| {
            if (!plan_mod.isCompute(&t) or self.p.place[i] != .gpu) continue;
            for (t.src) |s| if (s) |sid| {
                const st = g.get(sid);
                if (st.kind != .weight or self.loc[sid] != null) continue;
                const bytes = plan_mod.weightBytes(g, sid);
                const buf = try self.ownBuffer(bytes.len, st.type.rowBytes(st.ne[0]));
                try ctx.mem.upload(buf, 0, bytes);
                self.loc[sid] = .{ .buf = buf, .offset = 0 };
                self.stats.weight_bytes += bytes.len;
            };
        }
        if (self.opts.force_staging or !ctx.mem.device_mapped) try self.allocStaging();
    }

    /// Staging regions of staged transfers: the step params, then one region per root copied
    /// in (a GPU segment's pulls) and one per root copied out (pushes), max_tokens bytes each.
    fn allocStaging(self: *Vulkan) Error!void {
        const ctx = self.ctx;
        const g = self.p.g;
        self.stage_up = try self.alloc.alloc(u64, g.len());
        @memset(self.stage_up, none);
        self.stage_down = try self.alloc.alloc(u64, g.len());
        @memset(self.stage_down, none);
        var off: u64 = 16; // StepParams at 0
        for (self.p.segments) |s| {
            if (s.backend != .gpu) continue;
            for (s.pulls) |r| if (self.stage_up[r] == none) {
                self.stage_up[r] = off;
                off = std.mem.alignForward(u64, off + g.get(r).nBytes(), 16);
            };
            for (s.pushes) |r| if (self.stage_down[r] == none) {
                self.stage_down[r] = off;
                off = std.mem.alignForward(u64, off + g.get(r).nBytes(), 16);
            };
        }
        if (off > @min(ctx.report.max_buffer_size, ctx.mem.block_bytes)) return error.Unsupported;
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
        self.stats.staging_bytes = off;
    }

    fn stageHost(self: *const Vulkan, off: u64, len: usize) []u8 {
        return self.staging.?.chunks[0].mapped.?[@intCast(off)..][0..len];
    }

    fn ownBuffer(self: *Vulkan, size: u64, unit: ?u64) Error!*vk.Buffer {
        const ctx = self.ctx;
        const b = try self.alloc.create(vk.Buffer);
        errdefer self.alloc.destroy(b);
        b.* = try ctx.mem.createBuffer(@max(size, 16), .{ .split_unit = unit orelse 16 });
        errdefer ctx.mem.destroyBuffer(b);
        // Zero (states start empty; weights are overwritten). The buffer joins `own` (which
        // deinit frees) only once nothing here can fail: freeing it on both paths was a
        // double free after a fence timeout.
        var seq = try vk.Sequence.init(ctx, 0);
        defer seq.deinit();
        try seq.begin();
        seq.fill(b, 0);
        try seq.end();
        try seq.submit();
        try self.own.append(self.alloc, b);
        return b;
    }

    // ---- recording ----

    fn view(self: *const Vulkan, id: Id) kernels.View {
        const g = self.p.g;
        const rr = g.root(id);
        const root = g.get(rr.id);
        const t = g.get(id);
        const l = self.loc[if (root.kind == .weight) id else rr.id].?;
        const extra = if (root.kind == .weight) 0 else plan_mod.byteOffset(root, rr.offset);
        var ne = t.ne;
        // The variant being recorded sees rec_tokens rows of every token tensor.
        if (t.tok) |d| ne[d] = self.rec_tokens;
        return .{ .buf = l.buf, .offset = l.offset + extra, .type = t.type, .ne = ne };
    }

    fn scratchView(self: *const Vulkan, nid: Id) ?kernels.View {
        const l = self.scratch[nid] orelse return null;
        return .{ .buf = l.buf, .offset = l.offset, .type = .f32, .ne = .{ self.scratchBytes(nid) / 4, 1, 1, 1 } };
    }

    const Range = struct { buf: *const vk.Buffer, lo: u64, hi: u64 };

    fn rangeOf(v: kernels.View) Range {
        return .{ .buf = v.buf, .lo = v.offset, .hi = v.offset + v.nBytes() };
    }

    fn overlaps(list: []const Range, r: Range) bool {
        for (list) |x| if (x.buf == r.buf and x.lo < r.hi and r.lo < x.hi) return true;
        return false;
    }

    fn record(self: *Vulkan) Error!void {
        var written = std.ArrayList(Range).init(self.alloc);
        defer written.deinit();
        var read = std.ArrayList(Range).init(self.alloc);
        defer read.deinit();
        self.seqs = try self.alloc.alloc([]vk.Sequence, self.p.segments.len);
        @memset(self.seqs, &.{});
        for (self.p.segments, 0..) |*s, si| {
            if (s.backend != .gpu) continue;
            const list = try self.alloc.alloc(vk.Sequence, self.p.buckets.len);
            var made: usize = 0;
            errdefer {
                for (list[0..made]) |*q| q.deinit();
                self.alloc.free(list);
            }
            for (self.p.buckets, 0..) |nt, bi| {
                list[bi] = try vk.Sequence.init(self.ctx, if (self.opts.profile) @intCast(s.nodes.len + 1) else 0);
                made += 1;
                self.rec_tokens = nt;
                try self.recordSegment(s, &list[bi], &written, &read);
            }
            self.seqs[si] = list;
        }
        self.rec_tokens = self.p.g.max_tokens;
    }

    fn recordSegment(self: *Vulkan, s: *const Segment, seq: *vk.Sequence, written: *std.ArrayList(Range), read: *std.ArrayList(Range)) Error!void {
        const g = self.p.g;
        try seq.begin();
        written.clearRetainingCapacity();
        read.clearRetainingCapacity();
        if (self.staging) |*st| {
            // Staged transfers: the step params and this segment's inputs, host -> device.
            try seq.copy(st, self.stage_params, &self.k.params, 0, @sizeOf(StepParams));
            for (s.pulls) |r| {
                const l = self.loc[r].?;
                try seq.copy(st, self.stage_up[r], l.buf, l.offset, plan_mod.stepBytes(g, r, self.rec_tokens));
            }
            seq.barrier();
        }
        _ = seq.timestamp();
        for (s.nodes) |nid| {
            const t = g.get(nid);
            // Barrier only when this node reads what an earlier dispatch wrote (RAW) or
            // writes what earlier dispatches read or wrote since the last barrier (WAR/WAW,
            // from reused pool memory). (Ranges are of this variant's rows: a smaller variant
            // needs fewer barriers.) Scratch counts as written by its node.
            const out = rangeOf(self.view(nid));
            const scr: ?Range = if (self.scratchView(nid)) |v| rangeOf(v) else null;
            var need = overlaps(written.items, out) or overlaps(read.items, out);
            if (scr) |x| need = need or overlaps(written.items, x) or overlaps(read.items, x);
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
                kops.scale(&self.k, seq, self.view(nid), 1.1, self.view(nid)) catch return error.BadShape;
            }
            try written.append(out);
            if (scr) |x| try written.append(x);
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
                const l = self.loc[r].?;
                try seq.copy(l.buf, l.offset, st, self.stage_down[r], plan_mod.stepBytes(g, r, self.rec_tokens));
            }
        };
        try seq.end();
        self.stats.recordings += 1;
    }

    /// A view as rows of `row` elements (the kernels' 2-D layout of KV caches and their rows).
    fn asRows(v: kernels.View, row: u64) kernels.View {
        var out = v;
        // (Rows computed first: an aggregate assignment may write ne before reading it.)
        const n_rows = v.nElements() / row;
        out.ne = .{ row, n_rows, 1, 1 };
        return out;
    }

    /// A KV cache view [head_dim, n_head_kv, n_ctx] as [head_dim · n_head_kv, n_ctx].
    fn cacheRows(v: kernels.View) kernels.View {
        return asRows(v, v.ne[0] * v.ne[1]);
    }

    fn recordNode(self: *Vulkan, seq: *vk.Sequence, nid: Id) Error!void {
        const k = &self.k;
        const t = self.p.g.get(nid);
        const s0 = t.src[0];
        const out = self.view(nid);
        const e = switch (t.op) {
            .add => kops.add(k, seq, self.view(s0.?), self.view(t.src[1].?), out),
            .mul => kops.mul(k, seq, self.view(s0.?), self.view(t.src[1].?), out),
            .get_rows => kmat.getRows(k, seq, self.view(s0.?), self.view(t.src[1].?), out),
            .mul_mat => if (self.scratchView(nid)) |xq|
                kmat.mulMatQ(k, seq, self.view(s0.?), self.view(t.src[1].?), xq, out)
            else
                kmat.mulMat(k, seq, self.view(s0.?), self.view(t.src[1].?), out),
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
            .rope => kops.rope(k, seq, self.view(s0.?), @intCast(t.ne[1]), @intCast(t.ne[0]), t.params.rope, out),
            .kv_store => kops.kvStore(k, seq, asRows(self.view(t.src[1].?), out.ne[0] * out.ne[1]), cacheRows(out)),
            .attention => kops.attention(k, seq, self.view(s0.?), cacheRows(self.view(t.src[1].?)), cacheRows(self.view(t.src[2].?)), t.params.attention, self.scratchView(nid), out),
            .none, .view => error.Unsupported,
        };
        e catch |err| {
            self.ctx.log.warn("graph: recording node {d} ({s}) failed: {s}", .{ nid, @tagName(t.op), @errorName(err) });
            return switch (err) {
                error.BadShape, error.InvalidArgument => error.BadShape,
                else => |x| x,
            };
        };
    }

    // ---- per step ----

    /// Sets the step values every recorded sequence reads (before any segment of the step runs).
    pub fn setStep(self: *Vulkan, params: StepParams) Error!void {
        if (self.staging != null) {
            // Copied into the params buffer by every GPU segment's command buffer.
            @memcpy(self.stageHost(self.stage_params, @sizeOf(StepParams)), std.mem.asBytes(&params));
        } else try self.k.setParams(params);
    }

    /// Submits segment `si`'s sequence of bucket `bi` and waits for it. With profiling, `ns`
    /// receives each node's time (nodes.len entries).
    pub fn run(self: *Vulkan, si: usize, bi: usize, ns: ?[]u64) Error!void {
        const seq = &self.seqs[si][bi];
        try seq.submit();
        if (ns) |out| {
            var ts: [512]u64 = undefined;
            const got = try seq.readTimestamps(&ts);
            for (out, 0..) |*o, i| o.* = if (i + 1 < got) ts[i + 1] -| ts[i] else 0;
        }
    }

    /// Copies root `r`'s step rows between `host` (its CPU copy) and the device: into the
    /// device (`to_gpu`) or out of it. Through its staging region when it has one (the device
    /// side of that copy is recorded in the segment), else an upload/download (a memcpy
    /// through the mapping on UMA devices).
    pub fn transfer(self: *Vulkan, r: Id, to_gpu: bool, host: []u8) Error!void {
        if (self.staging != null) {
            const off = if (to_gpu) self.stage_up[r] else self.stage_down[r];
            if (off != none) {
                if (to_gpu) @memcpy(self.stageHost(off, host.len), host) else @memcpy(host, self.stageHost(off, host.len));
                return;
            }
        }
        const l = self.loc[r].?;
        if (to_gpu) try self.ctx.mem.upload(l.buf, l.offset, host) else try self.ctx.mem.download(l.buf, l.offset, host);
    }

    /// Reads `out.len` bytes of root `r` from byte `offset` after the last step.
    pub fn readRoot(self: *Vulkan, r: Id, offset: u64, out: []u8) Error!void {
        if (self.staging != null and self.stage_down[r] != none) {
            // Copied out by the last GPU segment of the step.
            @memcpy(out, self.stageHost(self.stage_down[r] + offset, out.len));
            return;
        }
        const l = self.loc[r].?;
        try self.ctx.mem.download(l.buf, l.offset + offset, out);
    }

    /// Writes `data` at the start of root `r` (a state).
    pub fn writeRoot(self: *Vulkan, r: Id, data: []const u8) Error!void {
        const l = self.loc[r].?;
        try self.ctx.mem.upload(l.buf, l.offset, data);
    }

    /// Fills the pools (intermediates and scratch) with NaN bytes.
    pub fn poison(self: *Vulkan) Error!void {
        var seq = try vk.Sequence.init(self.ctx, 0);
        defer seq.deinit();
        try seq.begin();
        for (self.pools) |*b| seq.fill(b, 0xffffffff);
        try seq.end();
        try seq.submit();
    }
};
