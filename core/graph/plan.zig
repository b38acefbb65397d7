//! The device-independent half of planning a graph: which backend runs each node (placement by
//! policy and by what the device supports), where each tensor's value lives between nodes
//! (homes), the segments (maximal runs of nodes on one backend, with the tensors copied in
//! before each and out after each GPU segment) and the token buckets a GPU segment is recorded
//! for. Nothing here names a device API: a backend answers `supports` for each node.
const std = @import("std");
const graph = @import("graph.zig");

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

pub const none = std.math.maxInt(u64);

pub fn isCompute(t: *const Tensor) bool {
    return graph.op_table.isCompute(t.op);
}

/// A run of nodes on one backend.
pub const Segment = struct {
    backend: Backend,
    /// Node ids (compute nodes only, build order).
    nodes: []Id,
    /// Roots to copy to this segment's backend before it runs.
    pulls: []Id,
    /// GPU segments, staged transfers: GPU roots copied to their staging regions at the end
    /// (read by the next CPU segment, or outputs after the last GPU segment).
    pushes: []Id = &.{},
};

/// Placement and segments of one graph.
pub const Plan = struct {
    alloc: std.mem.Allocator,
    g: *const Graph,
    /// Backend of each node.
    place: []Backend,
    /// Backend that owns each root's current value (inputs: cpu).
    home: []Backend,
    segments: []Segment = &.{},
    /// Token counts with a recorded variant, ascending; the last is max_tokens.
    buckets: []u32 = &.{},
    /// Nodes the policy wanted on the GPU that the device cannot run.
    fallbacks: u32 = 0,

    /// `gpu`: the device's "can you run this node" (null: no device). `max_nodes`: longest
    /// segment (profiles read at most that many timestamps).
    pub fn init(alloc: std.mem.Allocator, g: *const Graph, policy: Policy, gpu: anytype, token_buckets: []const u32, max_nodes: usize) !Plan {
        var self = Plan{ .alloc = alloc, .g = g, .place = &.{}, .home = &.{} };
        errdefer self.deinit();
        self.place = try alloc.alloc(Backend, g.len());
        self.home = try alloc.alloc(Backend, g.len());
        try self.makeBuckets(token_buckets);
        try self.placeNodes(policy, gpu);
        try self.buildSegments(max_nodes);
        return self;
    }

    pub fn deinit(self: *Plan) void {
        const a = self.alloc;
        for (self.segments) |s| {
            a.free(s.nodes);
            a.free(s.pulls);
            a.free(s.pushes);
        }
        a.free(self.segments);
        a.free(self.buckets);
        a.free(self.place);
        a.free(self.home);
        self.* = undefined;
    }

    fn makeBuckets(self: *Plan, extra: []const u32) !void {
        const mt = self.g.max_tokens;
        var list = std.ArrayList(u32).init(self.alloc);
        defer list.deinit();
        try list.append(1);
        for (extra) |b| if (b > 1 and b < mt) try list.append(b);
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
    pub fn bucketOf(self: *const Plan, n: u32) usize {
        for (self.buckets, 0..) |b, i| if (b >= n) return i;
        return self.buckets.len - 1;
    }

    // ---- placement ----

    /// Layers the policy puts on the GPU, and whether the layer-less nodes go there.
    fn gpuLayers(self: *Plan, policy: Policy) !struct { n: u32, layerless: bool } {
        const g = self.g;
        const items = g.tensors.items;
        var max_layer: u32 = 0;
        var any_layer = false;
        for (items) |t| if (t.layer) |l| {
            max_layer = @max(max_layer, l);
            any_layer = true;
        };
        const n_layers: u32 = if (any_layer) max_layer + 1 else 0;
        switch (policy) {
            .auto => return .{ .n = n_layers, .layerless = true },
            .cpu => return .{ .n = 0, .layerless = false },
            .gpu_layers => |nl| return .{ .n = @min(nl, n_layers), .layerless = nl >= n_layers and (nl > 0 or n_layers == 0) },
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
                var n: u32 = 0;
                while (n < n_layers and used + bytes[n] <= budget) : (n += 1) used += bytes[n];
                return .{ .n = n, .layerless = used + bytes[n_layers] <= budget };
            },
        }
    }

    fn placeNodes(self: *Plan, policy: Policy, gpu: anytype) !void {
        const g = self.g;
        const items = g.tensors.items;
        const on_gpu = try self.gpuLayers(policy);
        for (items, 0..) |t, i| {
            const id: Id = @intCast(i);
            var want: Backend = .cpu;
            if (gpu != null and isCompute(&t)) {
                const on = if (t.layer) |l| l < on_gpu.n else on_gpu.layerless;
                if (on) {
                    if (gpu.?.supports(id)) want = .gpu else self.fallbacks += 1;
                }
            }
            self.place[i] = want;
        }
        // Homes: roots are owned by their producer's backend; views and kv_store results share
        // their root's; states by the backend of their first kv_store; inputs by the CPU.
        for (items, 0..) |t, i| {
            self.home[i] = switch (t.kind) {
                .input, .weight, .state => .cpu,
                .intermediate => self.place[i],
            };
        }
        for (items, 0..) |t, i| {
            if (t.op == .kv_store) {
                const r = g.root(t.src[0].?).id;
                // First writer decides; later writers of the same cache follow it.
                if (self.firstWriter(r) == i) self.home[r] = self.place[i] else self.place[i] = self.home[r];
            }
        }
        for (items, 0..) |_, i| {
            const r = g.root(@intCast(i)).id;
            if (r != i) self.home[i] = self.home[r];
        }
    }

    fn firstWriter(self: *const Plan, root: Id) ?usize {
        for (self.g.tensors.items, 0..) |t, i| if (t.op == .kv_store and self.g.root(t.src[0].?).id == root) return i;
        return null;
    }

    // ---- segments ----

    fn buildSegments(self: *Plan, max_nodes: usize) !void {
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
        const seen = try self.alloc.alloc(bool, g.len());
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
    }

    /// The storage roots of node `nid`'s sources.
    pub fn srcRoots(self: *const Plan, nid: Id) [3]?Id {
        var out: [3]?Id = .{ null, null, null };
        for (self.g.get(nid).src, 0..) |s, j| {
            if (s) |sid| out[j] = self.g.root(sid).id;
        }
        return out;
    }
};

// ---- tensor bytes (shared by the backends) ----

/// Byte offset of element `elems` of a tensor of root's type.
pub fn byteOffset(root: *const Tensor, elems: u64) u64 {
    const tr = root.type.traits().?;
    return elems / tr.block_elems * tr.block_bytes;
}

/// Bytes of a weight (a root or a slice of one).
pub fn weightBytes(g: *const Graph, id: Id) []const u8 {
    const rr = g.root(id);
    const root = g.get(rr.id);
    const t = g.get(id);
    const off = byteOffset(root, rr.offset);
    return root.data.?[@intCast(off)..][0..@intCast(t.nBytes())];
}

/// Bytes of root r's rows in a step of n tokens (the whole tensor when static).
pub fn stepBytes(g: *const Graph, r: Id, n_tokens: u32) usize {
    const t = g.get(r);
    return @intCast(if (t.tok != null) t.type.rowBytes(t.perToken()).? * n_tokens else t.nBytes());
}
