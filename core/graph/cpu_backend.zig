//! The CPU backend of the executor: one arena for every tensor the CPU touches (intervals from
//! the plan), the matmul scratch, the thread pool, and the interpreter that runs one node with
//! core/cpu/ops.zig. Every op has a CPU entry (the switch in `run` has no `else`), so the CPU is
//! the backend of last resort for any node.
const std = @import("std");
const graph = @import("graph.zig");
const plan_mod = @import("plan.zig");
const intervals = @import("intervals.zig");
const ops = @import("../cpu/ops.zig");
const pool_mod = @import("../cpu/pool.zig");

const Graph = graph.Graph;
const Id = graph.Id;
const Plan = plan_mod.Plan;
const none = plan_mod.none;

pub const Error = error{ BadShape, Unsupported, OutOfMemory };

pub const alignment = 64;

/// The step values a CPU node reads.
pub const Step = struct { pos: u32, n_tokens: u32, positions: []const i32 };

pub const Cpu = struct {
    alloc: std.mem.Allocator,
    g: *const Graph,
    /// Byte offset of each root in the arena (none when it has no CPU storage).
    off: []u64,
    arena: []align(alignment) u8 = &.{},
    matmul_scratch: []u8 = &.{},
    pool: ?*pool_mod.Pool = null,
    /// Bytes of the arena (intervals laid out).
    arena_bytes: u64 = 0,

    /// Lays out the CPU arena for `p`, sizes the matmul scratch, starts the pool (n_threads 0 =
    /// every core, 1 = the caller only).
    pub fn init(alloc: std.mem.Allocator, p: *const Plan, n_threads: u32) Error!Cpu {
        const g = p.g;
        var self = Cpu{ .alloc = alloc, .g = g, .off = try alloc.alloc(u64, g.len()) };
        errdefer self.deinit();
        @memset(self.off, none);
        var list = std.ArrayList(intervals.Interval).init(alloc);
        defer list.deinit();
        try intervals.collect(p, .cpu, &list);
        var lay = try intervals.layout(alloc, try list.toOwnedSlice(), alignment, std.math.maxInt(u64) / 2);
        defer lay.deinit(alloc);
        const total = if (lay.sizes.len > 0) lay.sizes[0] else 0;
        self.arena = try alloc.alignedAlloc(u8, alignment, @intCast(@max(total, alignment)));
        @memset(self.arena, 0);
        for (lay.items, lay.offs) |it, o| self.off[it.id] = o;
        self.arena_bytes = total;
        // Matmul scratch: the largest any CPU matmul needs.
        var scratch: usize = 0;
        for (g.tensors.items, 0..) |t, i| {
            if (t.op != .mul_mat or p.place[i] != .cpu) continue;
            const w = g.get(t.src[0].?);
            const x = g.get(t.src[1].?);
            scratch = @max(scratch, try ops.matmulScratchBytes(w.type, @intCast(w.ne[0]), @intCast(x.nRows())));
        }
        self.matmul_scratch = try alloc.alloc(u8, scratch);
        if (n_threads != 1) {
            const pl = try alloc.create(pool_mod.Pool);
            pl.init(alloc, .{ .n_threads = if (n_threads == 0) null else n_threads }) catch {
                alloc.destroy(pl);
                return error.OutOfMemory;
            };
            self.pool = pl;
        }
        return self;
    }

    pub fn deinit(self: *Cpu) void {
        if (self.pool) |pl| {
            pl.deinit();
            self.alloc.destroy(pl);
        }
        self.alloc.free(self.matmul_scratch);
        self.alloc.free(self.arena);
        self.alloc.free(self.off);
        self.* = undefined;
    }

    /// Host bytes of tensor `id` (a weight's own data, else its slice of the arena).
    pub fn bytes(self: *const Cpu, id: Id) []u8 {
        const rr = self.g.root(id);
        const root = self.g.get(rr.id);
        const t = self.g.get(id);
        if (root.kind == .weight) return @constCast(plan_mod.weightBytes(self.g, id));
        const base = self.off[rr.id];
        std.debug.assert(base != none);
        return self.arena[@intCast(base + plan_mod.byteOffset(root, rr.offset))..][0..@intCast(t.nBytes())];
    }

    /// Fills every reusable intermediate of the arena with NaN bytes (tests: no stale reads).
    pub fn poison(self: *Cpu) void {
        for (self.g.tensors.items, 0..) |t, i| {
            if (t.kind != .intermediate or self.g.root(@intCast(i)).id != i or self.off[i] == none) continue;
            @memset(self.arena[@intCast(self.off[i])..][0..@intCast(t.nBytes())], 0xff);
        }
    }

    fn f32s(self: *const Cpu, id: Id, n_tokens: u32) []f32 {
        const t = self.g.get(id);
        const all: []f32 = @alignCast(std.mem.bytesAsSlice(f32, self.bytes(id)));
        return all[0..@intCast(t.stepElements(n_tokens))];
    }

    fn qtensor(self: *const Cpu, id: Id) ops.QTensor {
        const t = self.g.get(id);
        return .{ .t = t.type, .data = self.bytes(id), .n_rows = @intCast(t.nRows()), .n_cols = @intCast(t.ne[0]) };
    }

    fn kv(self: *const Cpu, id: Id) ops.KvView {
        const b = self.bytes(id);
        return switch (self.g.get(id).type) {
            .f16 => .{ .f16 = @alignCast(std.mem.bytesAsSlice(f16, b)) },
            else => .{ .f32 = @alignCast(std.mem.bytesAsSlice(f32, b)) },
        };
    }

    /// Runs node `nid` on the step's rows.
    pub fn run(self: *Cpu, nid: Id, step: Step) ops.Error!void {
        const g = self.g;
        const t = g.get(nid);
        const nt = step.n_tokens;
        const pool = self.pool;
        const s0 = t.src[0];
        switch (t.op) {
            .none, .view => {},
            .positions => {
                const out: []i32 = @alignCast(std.mem.bytesAsSlice(i32, self.bytes(nid)));
                @memcpy(out[0..nt], step.positions[0..nt]);
            },
            .get_rows => {
                const ids_t = g.get(t.src[1].?);
                const ids_all: []const u32 = @alignCast(std.mem.bytesAsSlice(u32, self.bytes(t.src[1].?)));
                try ops.getRows(self.qtensor(s0.?), ids_all[0..@intCast(ids_t.stepElements(nt))], self.f32s(nid, nt));
            },
            .mul_mat => {
                const x = self.f32s(t.src[1].?, nt);
                const w = self.qtensor(s0.?);
                try ops.matmul(pool, w, x, x.len / w.n_cols, self.f32s(nid, nt), self.matmul_scratch);
            },
            .rms_norm => try ops.rmsNorm(pool, self.f32s(s0.?, nt), null, @intCast(t.stepRows(nt)), @intCast(t.ne[0]), t.params.eps, self.f32s(nid, nt)),
            .layer_norm => {
                const w = if (t.src[1]) |id| self.f32s(id, nt) else null;
                const b = if (t.src[2]) |id| self.f32s(id, nt) else null;
                try ops.layerNorm(pool, self.f32s(s0.?, nt), w, b, @intCast(t.stepRows(nt)), @intCast(t.ne[0]), t.params.eps, self.f32s(nid, nt));
            },
            .add, .mul => {
                const a = self.f32s(s0.?, nt);
                const b = self.f32s(t.src[1].?, nt);
                const out = self.f32s(nid, nt);
                const f = if (t.op == .add) &ops.add else &ops.mul;
                if (b.len == a.len or b.len == t.ne[0]) {
                    try f(pool, a, b, a.len / @as(usize, @intCast(t.ne[0])), @intCast(t.ne[0]), out);
                } else {
                    // b repeats every b.len elements: one call per block.
                    var i: usize = 0;
                    while (i < a.len) : (i += b.len) try f(pool, a[i..][0..b.len], b, 1, b.len, out[i..][0..b.len]);
                }
            },
            .scale => try ops.scale(pool, self.f32s(s0.?, nt), t.params.scale, self.f32s(nid, nt)),
            .silu => try ops.silu(pool, self.f32s(s0.?, nt), self.f32s(nid, nt)),
            .gelu => try ops.gelu(pool, self.f32s(s0.?, nt), self.f32s(nid, nt)),
            .swiglu => try ops.swiglu(pool, self.f32s(s0.?, nt), self.f32s(t.src[1].?, nt), self.f32s(nid, nt)),
            .softmax => {
                const p = t.params.softmax;
                const out = self.f32s(nid, nt);
                @memcpy(out, self.f32s(s0.?, nt));
                const ncols: usize = @intCast(t.ne[0]);
                if (!p.causal) return ops.softmax(pool, out, out.len / ncols, ncols, p.scale, null);
                const per: usize = @intCast(t.perToken());
                for (0..nt) |tk| {
                    const block = out[tk * per ..][0..per];
                    var r: usize = 0;
                    while (r < per) : (r += ncols) try ops.softmax(null, block[r..][0..ncols], 1, ncols, p.scale, .{ .pos0 = step.pos + tk });
                }
            },
            .rope => {
                const out = self.f32s(nid, nt);
                @memcpy(out, self.f32s(s0.?, nt));
                try ops.rope(pool, out, nt, @intCast(t.ne[1]), @intCast(t.ne[0]), step.positions[0..nt], t.params.rope);
            },
            .kv_store => {
                const row: usize = @intCast(t.ne[0] * t.ne[1]);
                const src = self.f32s(t.src[1].?, nt);
                const dst_bytes = self.bytes(nid);
                switch (t.type) {
                    .f32 => {
                        const d: []f32 = @alignCast(std.mem.bytesAsSlice(f32, dst_bytes));
                        @memcpy(d[step.pos * row ..][0 .. nt * row], src);
                    },
                    .f16 => {
                        const d: []f16 = @alignCast(std.mem.bytesAsSlice(f16, dst_bytes));
                        try ops.f32ToF16(src, d[step.pos * row ..][0 .. nt * row]);
                    },
                    else => return error.Unsupported,
                }
            },
            .attention => {
                const kt = g.get(t.src[1].?);
                const at = ops.AttentionStep{ .n_tokens = nt, .pos0 = step.pos, .n_ctx = @intCast(kt.ne[2]) };
                try ops.attention(pool, self.f32s(s0.?, nt), self.kv(t.src[1].?), self.kv(t.src[2].?), t.params.attention, at, self.f32s(nid, nt));
            },
            .cpy => {
                const src_t = g.get(s0.?);
                const n: usize = @intCast(t.stepElements(nt));
                const sb = self.bytes(s0.?);
                const db = self.bytes(nid);
                if (src_t.type == t.type) {
                    const nb: usize = @intCast(t.type.rowBytes(n).?);
                    @memcpy(db[0..nb], sb[0..nb]);
                } else if (t.type == .f16) {
                    const s: []const f32 = @alignCast(std.mem.bytesAsSlice(f32, sb));
                    const d: []f16 = @alignCast(std.mem.bytesAsSlice(f16, db));
                    try ops.f32ToF16(s[0..n], d[0..n]);
                } else {
                    const s: []const f16 = @alignCast(std.mem.bytesAsSlice(f16, sb));
                    const d: []f32 = @alignCast(std.mem.bytesAsSlice(f32, db));
                    try ops.f16ToF32(s[0..n], d[0..n]);
                }
            },
            .last_row => {
                const x = self.f32s(s0.?, nt);
                const ne0: usize = @intCast(t.ne[0]);
                @memcpy(self.f32s(nid, nt), x[(nt - 1) * ne0 ..][0..ne0]);
            },
        }
    }
};
