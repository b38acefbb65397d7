//! The interval allocator: every tensor that needs storage on a backend gets a lifetime (first
//! and last node index that touches it there) and a byte offset such that tensors alive at the
//! same time never overlap in memory. Per-node scratch (workspace a kernel needs only while its
//! node runs) is one more interval, alive at that node only. One arena per backend, split into
//! several when one would pass a size limit (the GPU's maxStorageBufferRange).
const std = @import("std");
const graph = @import("graph.zig");
const plan_mod = @import("plan.zig");

const Id = graph.Id;
const Backend = plan_mod.Backend;
const Plan = plan_mod.Plan;
const none = plan_mod.none;

pub const Interval = struct {
    /// The root tensor, or the node whose scratch this is.
    id: Id,
    start: u64,
    end: u64,
    size: u64,
    scratch: bool = false,
};

/// Lifetime of root `r`'s storage on backend `b` in node indices, or null if not needed there.
pub fn lifetime(p: *const Plan, r: Id, b: Backend) ?[2]u64 {
    const g = p.g;
    const t = g.get(r);
    if (t.kind == .weight) return null;
    const owned_here = p.home[r] == b;
    var last: ?u64 = null;
    for (g.tensors.items, 0..) |u, i| {
        // The home copy feeds transfers to the other side too: it lives to the last use
        // anywhere; a mirror lives to the last use on its side.
        if (!plan_mod.isCompute(&u) or (p.place[i] != b and !owned_here)) continue;
        for (p.srcRoots(@intCast(i))) |s| if (s == r) {
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

/// The intervals of every root stored on backend `b`.
pub fn collect(p: *const Plan, b: Backend, list: *std.ArrayList(Interval)) !void {
    for (p.g.tensors.items, 0..) |t, i| {
        const id: Id = @intCast(i);
        if (p.g.root(id).id != id or t.kind == .weight) continue;
        if (t.op == .none and t.kind == .intermediate) continue;
        const lt = lifetime(p, id, b) orelse continue;
        try list.append(.{ .id = id, .start = lt[0], .end = lt[1], .size = t.nBytes() });
    }
}

/// First-fit offsets for intervals (placed by size, descending, so `items` is reordered).
/// Intervals that overlap in time never overlap in memory. `limit`: an offset+size bound per
/// arena; items that do not fit start a new arena (`arena_of`); `sizes` receives the size of
/// each arena. error.Unsupported when one item alone passes `limit`.
pub fn assign(alloc: std.mem.Allocator, items: []Interval, alignment: u64, limit: u64, offs: []u64, arena_of: []u32, sizes: *std.ArrayList(u64)) !void {
    const Ctx = struct {
        fn lessThan(_: void, a: Interval, b: Interval) bool {
            if (a.size != b.size) return a.size > b.size;
            if (a.id != b.id) return a.id < b.id;
            return @intFromBool(a.scratch) < @intFromBool(b.scratch);
        }
    };
    std.mem.sort(Interval, items, {}, Ctx.lessThan);
    var placed = std.ArrayList(usize).init(alloc);
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
                    const q = items[pj];
                    if (arena_of[pj] != arena) continue;
                    if (q.end < it.start or it.end < q.start) continue;
                    const po = offs[pj];
                    if (off < po + q.size and po < off + it.size) {
                        off = std.mem.alignForward(u64, po + q.size, alignment);
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

/// One arena's layout: intervals with their offsets and arenas (parallel slices).
pub const Layout = struct {
    items: []Interval,
    offs: []u64,
    arena_of: []u32,
    sizes: []u64,

    pub fn deinit(self: *Layout, alloc: std.mem.Allocator) void {
        alloc.free(self.items);
        alloc.free(self.offs);
        alloc.free(self.arena_of);
        alloc.free(self.sizes);
        self.* = undefined;
    }
};

/// assign() over `items` (taken over: freed by Layout.deinit).
pub fn layout(alloc: std.mem.Allocator, items: []Interval, alignment: u64, limit: u64) !Layout {
    errdefer alloc.free(items);
    const offs = try alloc.alloc(u64, items.len);
    errdefer alloc.free(offs);
    const arena_of = try alloc.alloc(u32, items.len);
    errdefer alloc.free(arena_of);
    var sizes = std.ArrayList(u64).init(alloc);
    defer sizes.deinit();
    try assign(alloc, items, alignment, limit, offs, arena_of, &sizes);
    return .{ .items = items, .offs = offs, .arena_of = arena_of, .sizes = try sizes.toOwnedSlice() };
}

test "intervals: live-overlapping items never share bytes, dead ones reuse them" {
    const a = std.testing.allocator;
    var items = [_]Interval{
        .{ .id = 0, .start = 0, .end = 2, .size = 100 },
        .{ .id = 1, .start = 1, .end = 3, .size = 50 },
        .{ .id = 2, .start = 3, .end = 4, .size = 100 },
        .{ .id = 3, .start = 2, .end = 2, .size = 10, .scratch = true },
    };
    var offs: [4]u64 = undefined;
    var arena_of: [4]u32 = undefined;
    var sizes = std.ArrayList(u64).init(a);
    defer sizes.deinit();
    try assign(a, &items, 16, 1 << 20, &offs, &arena_of, &sizes);
    for (items, 0..) |x, i| for (items[i + 1 ..], i + 1..) |y, j| {
        const live = !(x.end < y.start or y.end < x.start);
        const mem = offs[i] < offs[j] + y.size and offs[j] < offs[i] + x.size;
        try std.testing.expect(!(live and mem));
    };
    // 0 and 2 do not overlap in time: 2 reuses 0's bytes, the arena is 100 + 50 + 10 aligned.
    try std.testing.expectEqual(@as(usize, 1), sizes.items.len);
    try std.testing.expect(sizes.items[0] <= 192);
    // A limit smaller than the items splits them over arenas; one larger than the limit fails.
    var small = std.ArrayList(u64).init(a);
    defer small.deinit();
    try assign(a, &items, 16, 128, &offs, &arena_of, &small);
    try std.testing.expect(small.items.len >= 2);
    small.clearRetainingCapacity();
    try std.testing.expectError(error.Unsupported, assign(a, &items, 16, 64, &offs, &arena_of, &small));
}
