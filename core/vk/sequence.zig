//! A recorded sequence of dispatches: one command buffer and its descriptor sets, recorded once
//! and submitted as often as wanted (a graph replays one per token). Each submission waits on a
//! fence for at most the context's timeout and returns error.GpuTimeout rather than hanging.
const std = @import("std");
const c = @import("loader.zig").c;
const ctx_mod = @import("context.zig");
const memory = @import("memory.zig");
const pipeline = @import("pipeline.zig");
const Context = ctx_mod.Context;
const Error = ctx_mod.Error;

/// One storage-buffer binding: a chunk of a buffer, or a range of it.
pub const Binding = struct {
    buffer: *const memory.Buffer,
    chunk: usize = 0,
    offset: u64 = 0,
    /// Bytes from `offset`; null = to the end of the chunk.
    size: ?u64 = null,
};

const sets_per_pool = 256;

pub const Sequence = struct {
    ctx: *Context,
    cmd: c.VkCommandBuffer = null,
    fence: c.VkFence = null,
    pools: std.ArrayListUnmanaged(c.VkDescriptorPool) = .{},
    pool_used: u32 = 0,
    query_pool: c.VkQueryPool = null,
    max_queries: u32 = 0,
    n_queries: u32 = 0,
    n_dispatches: u32 = 0,
    /// Times the command buffer was (re-)recorded; replay tests assert it stays put.
    n_recordings: u32 = 0,
    state: enum { empty, recording, ready } = .empty,
    /// A submission was made whose fence has not been seen signaled (a wait timed out).
    in_flight: bool = false,

    /// `max_timestamps` > 0 reserves a query pool for `timestamp()` (when the device has them).
    pub fn init(ctx: *Context, max_timestamps: u32) Error!Sequence {
        var self = Sequence{ .ctx = ctx };
        errdefer self.deinit();
        const ai = c.VkCommandBufferAllocateInfo{
            .sType = c.VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
            .commandPool = ctx.cmd_pool,
            .level = c.VK_COMMAND_BUFFER_LEVEL_PRIMARY,
            .commandBufferCount = 1,
        };
        try ctx.checkResult(ctx.d.vkAllocateCommandBuffers(ctx.device, &ai, &self.cmd), "vkAllocateCommandBuffers");
        const fi = c.VkFenceCreateInfo{ .sType = c.VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };
        try ctx.checkResult(ctx.d.vkCreateFence(ctx.device, &fi, null, &self.fence), "vkCreateFence");
        if (max_timestamps > 0 and ctx.report.timestamps) {
            const qi = c.VkQueryPoolCreateInfo{
                .sType = c.VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
                .queryType = c.VK_QUERY_TYPE_TIMESTAMP,
                .queryCount = max_timestamps,
            };
            try ctx.checkResult(ctx.d.vkCreateQueryPool(ctx.device, &qi, null, &self.query_pool), "vkCreateQueryPool");
            self.max_queries = max_timestamps;
        }
        return self;
    }

    pub fn deinit(self: *Sequence) void {
        const ctx = self.ctx;
        // A timed-out submission may still be running: wait before freeing what it uses.
        // (Finite waits: some drivers mishandle UINT64_MAX as a relative timeout.)
        var tries: u32 = 0;
        while (self.in_flight and tries < 60) : (tries += 1) {
            if (ctx.d.vkWaitForFences(ctx.device, 1, &self.fence, c.VK_TRUE, std.time.ns_per_s) != c.VK_TIMEOUT) break;
        }
        for (self.pools.items) |p| ctx.d.vkDestroyDescriptorPool(ctx.device, p, null);
        self.pools.deinit(ctx.alloc);
        if (self.query_pool != null) ctx.d.vkDestroyQueryPool(ctx.device, self.query_pool, null);
        if (self.fence != null) ctx.d.vkDestroyFence(ctx.device, self.fence, null);
        if (self.cmd != null) ctx.d.vkFreeCommandBuffers(ctx.device, ctx.cmd_pool, 1, &self.cmd);
        self.* = undefined;
    }

    /// Starts (re-)recording; descriptor sets of the previous recording are recycled.
    pub fn begin(self: *Sequence) Error!void {
        const ctx = self.ctx;
        try ctx.usable();
        for (self.pools.items) |p| try ctx.checkResult(ctx.d.vkResetDescriptorPool(ctx.device, p, 0), "vkResetDescriptorPool");
        self.pool_used = 0;
        self.n_dispatches = 0;
        self.n_queries = 0;
        try ctx.checkResult(ctx.d.vkResetCommandBuffer(self.cmd, 0), "vkResetCommandBuffer");
        const bi = c.VkCommandBufferBeginInfo{ .sType = c.VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO };
        try ctx.checkResult(ctx.d.vkBeginCommandBuffer(self.cmd, &bi), "vkBeginCommandBuffer");
        if (self.query_pool != null) ctx.d.vkCmdResetQueryPool(self.cmd, self.query_pool, 0, self.max_queries);
        self.state = .recording;
        self.n_recordings += 1;
    }

    fn allocSet(self: *Sequence, layout: c.VkDescriptorSetLayout) Error!c.VkDescriptorSet {
        const ctx = self.ctx;
        const pool_index = self.pool_used / sets_per_pool;
        if (pool_index >= self.pools.items.len) {
            const size = c.VkDescriptorPoolSize{ .type = c.VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, .descriptorCount = sets_per_pool * pipeline.max_bindings };
            const pi = c.VkDescriptorPoolCreateInfo{
                .sType = c.VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
                .maxSets = sets_per_pool,
                .poolSizeCount = 1,
                .pPoolSizes = &size,
            };
            var pool: c.VkDescriptorPool = null;
            try ctx.checkResult(ctx.d.vkCreateDescriptorPool(ctx.device, &pi, null, &pool), "vkCreateDescriptorPool");
            self.pools.append(ctx.alloc, pool) catch {
                ctx.d.vkDestroyDescriptorPool(ctx.device, pool, null);
                return error.OutOfMemory;
            };
        }
        const ai = c.VkDescriptorSetAllocateInfo{
            .sType = c.VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
            .descriptorPool = self.pools.items[pool_index],
            .descriptorSetCount = 1,
            .pSetLayouts = &layout,
        };
        var set: c.VkDescriptorSet = null;
        try ctx.checkResult(ctx.d.vkAllocateDescriptorSets(ctx.device, &ai, &set), "vkAllocateDescriptorSets");
        self.pool_used += 1;
        return set;
    }

    /// Records one dispatch of `groups` workgroups with its bindings and push constants.
    pub fn dispatch(self: *Sequence, pl: *const pipeline.Pipeline, bindings: []const Binding, push: []const u8, groups: [3]u32) Error!void {
        const ctx = self.ctx;
        std.debug.assert(self.state == .recording);
        if (bindings.len != pl.n_buffers or push.len != pl.push_bytes) return error.Unsupported;
        const maxg = ctx.report.max_compute_work_group_count;
        if (groups[0] > maxg[0] or groups[1] > maxg[1] or groups[2] > maxg[2]) {
            ctx.log.warn("vulkan: {s}: grid {any} exceeds {any}", .{ pl.name, groups, maxg });
            return error.Unsupported;
        }
        if (groups[0] == 0 or groups[1] == 0 or groups[2] == 0) return;
        const set = try self.allocSet(pl.set_layout);
        var infos: [pipeline.max_bindings]c.VkDescriptorBufferInfo = undefined;
        var writes: [pipeline.max_bindings]c.VkWriteDescriptorSet = undefined;
        for (bindings, 0..) |b, i| {
            const ch = &b.buffer.chunks[b.chunk];
            const avail = std.mem.alignForward(u64, ch.size_bytes, 4) - b.offset;
            infos[i] = .{ .buffer = ch.handle, .offset = b.offset, .range = b.size orelse avail };
            writes[i] = .{
                .sType = c.VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
                .dstSet = set,
                .dstBinding = @intCast(i),
                .descriptorCount = 1,
                .descriptorType = c.VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                .pBufferInfo = &infos[i],
            };
        }
        ctx.d.vkUpdateDescriptorSets(ctx.device, @intCast(bindings.len), &writes, 0, null);
        ctx.d.vkCmdBindPipeline(self.cmd, c.VK_PIPELINE_BIND_POINT_COMPUTE, pl.handle);
        ctx.d.vkCmdBindDescriptorSets(self.cmd, c.VK_PIPELINE_BIND_POINT_COMPUTE, pl.layout, 0, 1, &set, 0, null);
        if (push.len > 0) ctx.d.vkCmdPushConstants(self.cmd, pl.layout, c.VK_SHADER_STAGE_COMPUTE_BIT, 0, @intCast(push.len), push.ptr);
        ctx.d.vkCmdDispatch(self.cmd, groups[0], groups[1], groups[2]);
        self.n_dispatches += 1;
    }

    /// Makes every earlier write visible to every later read (between dependent dispatches).
    pub fn barrier(self: *Sequence) void {
        memory.fullBarrier(self.ctx, self.cmd);
    }

    /// Fills a whole buffer with a 32-bit pattern (poisoning outputs in tests).
    pub fn fill(self: *Sequence, buf: *const memory.Buffer, pattern: u32) void {
        for (buf.chunks) |ch| self.ctx.d.vkCmdFillBuffer(self.cmd, ch.handle, 0, c.VK_WHOLE_SIZE, pattern);
    }

    /// Copies `size` bytes from `src` at `src_off` to `dst` at `dst_off` (each range within one
    /// chunk of its buffer, else error.Unsupported). Order it against dispatches with barrier().
    pub fn copy(self: *Sequence, src: *const memory.Buffer, src_off: u64, dst: *const memory.Buffer, dst_off: u64, size: u64) Error!void {
        if (size == 0) return;
        const a = src.locate(src_off);
        const b = dst.locate(dst_off);
        if (a.offset + size > src.chunks[a.chunk].size_bytes or b.offset + size > dst.chunks[b.chunk].size_bytes) return error.Unsupported;
        const region = c.VkBufferCopy{ .srcOffset = a.offset, .dstOffset = b.offset, .size = size };
        self.ctx.d.vkCmdCopyBuffer(self.cmd, src.chunks[a.chunk].handle, dst.chunks[b.chunk].handle, 1, &region);
    }

    /// Records a timestamp after all earlier work; returns its index, or null without a query pool.
    pub fn timestamp(self: *Sequence) ?u32 {
        if (self.query_pool == null or self.n_queries >= self.max_queries) return null;
        self.ctx.d.vkCmdWriteTimestamp(self.cmd, c.VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, self.query_pool, self.n_queries);
        self.n_queries += 1;
        return self.n_queries - 1;
    }

    pub fn end(self: *Sequence) Error!void {
        std.debug.assert(self.state == .recording);
        memory.fullBarrier(self.ctx, self.cmd);
        try self.ctx.checkResult(self.ctx.d.vkEndCommandBuffer(self.cmd), "vkEndCommandBuffer");
        self.state = .ready;
    }

    /// Runs the recorded commands and waits for them (at most the context's timeout).
    pub fn submit(self: *Sequence) Error!void {
        std.debug.assert(self.state == .ready);
        self.in_flight = true;
        memory.submitWait(self.ctx, self.cmd, self.fence) catch |e| {
            // Only a wait that timed out leaves the work running; anything else never started it.
            if (e != error.GpuTimeout or self.ctx.broken == null) self.in_flight = false;
            return e;
        };
        self.in_flight = false;
    }

    /// Nanoseconds between timestamps recorded by the last submission (index i to i+1 ...).
    pub fn readTimestamps(self: *Sequence, out_ns: []u64) Error!usize {
        if (self.query_pool == null or self.n_queries == 0) return 0;
        const n = @min(out_ns.len, self.n_queries);
        var raw: [512]u64 = undefined;
        const m = @min(n, raw.len);
        try self.ctx.checkResult(self.ctx.d.vkGetQueryPoolResults(self.ctx.device, self.query_pool, 0, @intCast(m), m * 8, &raw, 8, c.VK_QUERY_RESULT_64_BIT | c.VK_QUERY_RESULT_WAIT_BIT), "vkGetQueryPoolResults");
        const period = self.ctx.report.timestamp_period_ns;
        for (0..m) |i| out_ns[i] = @intFromFloat(@as(f64, @floatFromInt(raw[i])) * period);
        return m;
    }
};

/// Workgroups for `n` invocations of `local` each, folded into y when x would pass the grid
/// limit; shaders index with gl_GlobalInvocationID.y * grid_x + x where grid_x = groups[0] * local.
pub fn grid1D(report: anytype, n: u64, local: u32) [3]u32 {
    const groups = (n + local - 1) / local;
    const max_x: u64 = report.max_compute_work_group_count[0];
    if (groups <= max_x) return .{ @intCast(@max(groups, 1)), 1, 1 };
    const y = (groups + max_x - 1) / max_x;
    const x = (groups + y - 1) / y;
    return .{ @intCast(x), @intCast(y), 1 };
}
