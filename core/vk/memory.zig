//! Device memory: buffers sub-allocated from large blocks, written in place where the device is
//! unified (V3DV, integrated GPUs, lavapipe) and through a staging buffer where it is not. A
//! buffer larger than maxStorageBufferRange is split into chunks, each one a separate VkBuffer
//! that a shader can bind whole, cut at a multiple of the caller's unit (a row, a block).
const std = @import("std");
const c = @import("loader.zig").c;
const ctx_mod = @import("context.zig");
const Context = ctx_mod.Context;
const Error = ctx_mod.Error;

const Range = struct { offset: u64, size: u64 };

const Block = struct {
    memory: c.VkDeviceMemory,
    size: u64,
    mapped: ?[*]u8,
    /// Free ranges sorted by offset, coalesced on free.
    free: std.ArrayListUnmanaged(Range) = .{},
    dedicated: bool,
    type_index: u32 = 0,

    fn take(self: *Block, alloc: std.mem.Allocator, size: u64, alignment: u64) ?u64 {
        for (self.free.items, 0..) |*r, i| {
            const start = std.mem.alignForward(u64, r.offset, alignment);
            if (start + size > r.offset + r.size) continue;
            const end = start + size;
            const tail = Range{ .offset = end, .size = r.offset + r.size - end };
            const head = Range{ .offset = r.offset, .size = start - r.offset };
            if (head.size > 0) {
                r.* = head;
                if (tail.size > 0) self.free.insert(alloc, i + 1, tail) catch return null;
            } else if (tail.size > 0) {
                r.* = tail;
            } else {
                _ = self.free.orderedRemove(i);
            }
            return start;
        }
        return null;
    }

    fn give(self: *Block, alloc: std.mem.Allocator, offset: u64, size: u64) void {
        var i: usize = 0;
        while (i < self.free.items.len and self.free.items[i].offset < offset) i += 1;
        // Merging never needs memory; insertion may, and on failure the range is only lost to reuse.
        const merge_prev = i > 0 and self.free.items[i - 1].offset + self.free.items[i - 1].size == offset;
        const merge_next = i < self.free.items.len and offset + size == self.free.items[i].offset;
        if (merge_prev and merge_next) {
            self.free.items[i - 1].size += size + self.free.items[i].size;
            _ = self.free.orderedRemove(i);
        } else if (merge_prev) {
            self.free.items[i - 1].size += size;
        } else if (merge_next) {
            self.free.items[i].offset = offset;
            self.free.items[i].size += size;
        } else {
            self.free.insert(alloc, i, .{ .offset = offset, .size = size }) catch {};
        }
    }

    fn isEmpty(self: *const Block) bool {
        return self.free.items.len == 1 and self.free.items[0].size == self.size;
    }
};

pub const Chunk = struct {
    handle: c.VkBuffer,
    size_bytes: u64,
    /// Host address of the chunk where its memory is host-visible (always on UMA devices).
    mapped: ?[*]u8,
    block: *Block,
    offset: u64,
    taken: u64,
};

pub const Buffer = struct {
    chunks: []Chunk,
    size_bytes: u64,
    /// Bytes in every chunk but the last: a multiple of the unit the buffer was created with.
    chunk_bytes: u64,

    /// The chunk holding byte `offset` and the offset inside it.
    pub fn locate(self: *const Buffer, offset: u64) struct { chunk: usize, offset: u64 } {
        const i: usize = @intCast(offset / self.chunk_bytes);
        return .{ .chunk = i, .offset = offset - i * self.chunk_bytes };
    }
};

pub const CreateOptions = struct {
    /// Chunks are cut at multiples of this many bytes (a row or quantization block of a tensor).
    split_unit: u64 = 16,
    /// Force a chunk size below maxStorageBufferRange (tests use it to split small buffers).
    max_chunk_bytes: ?u64 = null,
};

pub const Allocator = struct {
    ctx: *Context,
    blocks: std.ArrayListUnmanaged(*Block) = .{},
    device_type: u32 = 0,
    device_mapped: bool = false,
    staging_type: ?u32 = null,
    block_bytes: u64 = 256 << 20,
    /// Bytes of device memory held in blocks (what a GPU budget counts).
    allocated_bytes: u64 = 0,
    staging: ?Buffer = null,
    copy_cmd: c.VkCommandBuffer = null,
    copy_fence: c.VkFence = null,

    pub fn init(ctx: *Context) Allocator {
        var self = Allocator{ .ctx = ctx };
        const r = &ctx.report;
        // Tensors: device-local; on UMA take the host-visible coherent device-local type so that
        // uploads are plain memcpy. Staging (non-UMA only): host-visible coherent, cached preferred.
        var best: ?u32 = null;
        for (r.types[0..r.n_types], 0..) |t, i| {
            if (!t.device_local) continue;
            if (r.uma and !(t.host_visible and t.host_coherent)) continue;
            if (best == null) best = @intCast(i);
        }
        if (best == null) {
            for (r.types[0..r.n_types], 0..) |t, i| if (t.host_visible and t.host_coherent) {
                best = @intCast(i);
                break;
            };
        }
        self.device_type = best orelse 0;
        const dt = r.types[self.device_type];
        self.device_mapped = dt.host_visible and dt.host_coherent;
        if (!self.device_mapped) {
            var st: ?u32 = null;
            for (r.types[0..r.n_types], 0..) |t, i| {
                if (!(t.host_visible and t.host_coherent)) continue;
                if (st == null or (t.host_cached and !r.types[st.?].host_cached)) st = @intCast(i);
            }
            self.staging_type = st;
        }
        self.block_bytes = @min(self.block_bytes, r.max_memory_allocation_size);
        return self;
    }

    pub fn deinit(self: *Allocator) void {
        const d = &self.ctx.d;
        if (self.staging) |*s| self.destroyBuffer(s);
        if (self.copy_fence != null) d.vkDestroyFence(self.ctx.device, self.copy_fence, null);
        if (self.copy_cmd != null) d.vkFreeCommandBuffers(self.ctx.device, self.ctx.cmd_pool, 1, &self.copy_cmd);
        for (self.blocks.items) |b| self.freeBlock(b);
        self.blocks.deinit(self.ctx.alloc);
    }

    fn freeBlock(self: *Allocator, b: *Block) void {
        if (b.mapped != null) self.ctx.d.vkUnmapMemory(self.ctx.device, b.memory);
        self.ctx.d.vkFreeMemory(self.ctx.device, b.memory, null);
        self.allocated_bytes -= b.size;
        b.free.deinit(self.ctx.alloc);
        self.ctx.alloc.destroy(b);
    }

    fn newBlock(self: *Allocator, size: u64, type_index: u32, dedicated: bool) Error!*Block {
        const ctx = self.ctx;
        const b = try ctx.alloc.create(Block);
        errdefer ctx.alloc.destroy(b);
        b.* = .{ .memory = null, .size = size, .mapped = null, .dedicated = dedicated, .type_index = type_index };
        const ai = c.VkMemoryAllocateInfo{ .sType = c.VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, .allocationSize = size, .memoryTypeIndex = type_index };
        try ctx.checkResult(ctx.d.vkAllocateMemory(ctx.device, &ai, null, &b.memory), "vkAllocateMemory");
        errdefer ctx.d.vkFreeMemory(ctx.device, b.memory, null);
        if (ctx.report.types[type_index].host_visible) {
            var p: ?*anyopaque = null;
            try ctx.checkResult(ctx.d.vkMapMemory(ctx.device, b.memory, 0, c.VK_WHOLE_SIZE, 0, &p), "vkMapMemory");
            b.mapped = @ptrCast(p);
        }
        try b.free.append(ctx.alloc, .{ .offset = 0, .size = size });
        errdefer b.free.deinit(ctx.alloc);
        try self.blocks.append(ctx.alloc, b);
        self.allocated_bytes += size;
        return b;
    }

    fn createChunk(self: *Allocator, size: u64, type_index: u32) Error!Chunk {
        const ctx = self.ctx;
        const bi = c.VkBufferCreateInfo{
            .sType = c.VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
            .size = size,
            .usage = c.VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | c.VK_BUFFER_USAGE_TRANSFER_SRC_BIT | c.VK_BUFFER_USAGE_TRANSFER_DST_BIT,
            .sharingMode = c.VK_SHARING_MODE_EXCLUSIVE,
        };
        var handle: c.VkBuffer = null;
        try ctx.checkResult(ctx.d.vkCreateBuffer(ctx.device, &bi, null, &handle), "vkCreateBuffer");
        errdefer ctx.d.vkDestroyBuffer(ctx.device, handle, null);
        var req: c.VkMemoryRequirements = undefined;
        ctx.d.vkGetBufferMemoryRequirements(ctx.device, handle, &req);
        if (req.memoryTypeBits & (@as(u32, 1) << @intCast(type_index)) == 0) return error.VulkanFailed;
        const alignment = @max(req.alignment, ctx.report.min_storage_buffer_offset_alignment, ctx.report.non_coherent_atom_size);
        var block: ?*Block = null;
        var offset: u64 = 0;
        if (req.size <= self.block_bytes / 2) {
            for (self.blocks.items) |b| {
                if (b.dedicated or b.type_index != type_index) continue;
                if (b.take(ctx.alloc, req.size, alignment)) |o| {
                    block = b;
                    offset = o;
                    break;
                }
            }
            if (block == null) {
                const b = try self.newBlock(self.block_bytes, type_index, false);
                offset = b.take(ctx.alloc, req.size, alignment) orelse return error.OutOfDeviceMemory;
                block = b;
            }
        } else {
            const b = try self.newBlock(req.size, type_index, true);
            offset = b.take(ctx.alloc, req.size, alignment) orelse return error.OutOfDeviceMemory;
            block = b;
        }
        const b = block.?;
        errdefer self.release(b, offset, req.size);
        try ctx.checkResult(ctx.d.vkBindBufferMemory(ctx.device, handle, b.memory, offset), "vkBindBufferMemory");
        return .{
            .handle = handle,
            .size_bytes = size,
            .mapped = if (b.mapped) |m| m + offset else null,
            .block = b,
            .offset = offset,
            .taken = req.size,
        };
    }

    fn release(self: *Allocator, b: *Block, offset: u64, size: u64) void {
        b.give(self.ctx.alloc, offset, size);
        if (b.isEmpty() and b.dedicated) {
            for (self.blocks.items, 0..) |x, i| if (x == b) {
                _ = self.blocks.swapRemove(i);
                break;
            };
            self.freeBlock(b);
        }
    }

    /// A device buffer of `size_bytes`, split into chunks no larger than maxStorageBufferRange.
    pub fn createBuffer(self: *Allocator, size_bytes: u64, opts: CreateOptions) Error!Buffer {
        return self.createTyped(size_bytes, opts, self.device_type);
    }

    /// A host-visible, mapped buffer for copies recorded into command buffers (a graph's staging
    /// regions): the staging memory type on non-UMA devices, the device type where that is
    /// mapped (UMA). error.VulkanFailed when the device has no host-visible memory.
    pub fn createHostBuffer(self: *Allocator, size_bytes: u64) Error!Buffer {
        const t = if (self.device_mapped) self.device_type else self.staging_type orelse return error.VulkanFailed;
        return self.createTyped(size_bytes, .{}, t);
    }

    fn createTyped(self: *Allocator, size_bytes: u64, opts: CreateOptions, type_index: u32) Error!Buffer {
        try self.ctx.usable();
        const r = &self.ctx.report;
        if (size_bytes == 0) return error.VulkanFailed;
        const unit = @max(opts.split_unit, 4);
        var limit = @min(r.max_storage_buffer_range, r.max_buffer_size, self.block_bytes);
        if (opts.max_chunk_bytes) |m| limit = @min(limit, m);
        const chunk_bytes = @max(limit / unit * unit, unit);
        if (chunk_bytes > limit) return error.VulkanFailed; // one unit exceeds a binding
        const n: usize = @intCast((size_bytes + chunk_bytes - 1) / chunk_bytes);
        const chunks = try self.ctx.alloc.alloc(Chunk, n);
        errdefer self.ctx.alloc.free(chunks);
        var done: usize = 0;
        errdefer for (chunks[0..done]) |*ch| self.destroyChunk(ch);
        while (done < n) : (done += 1) {
            const start = done * chunk_bytes;
            const len = @min(chunk_bytes, size_bytes - start);
            // Round to 4 bytes so that every chunk can be filled and bound as uint words.
            chunks[done] = try self.createChunk(std.mem.alignForward(u64, len, 4), type_index);
            chunks[done].size_bytes = len;
        }
        return .{ .chunks = chunks, .size_bytes = size_bytes, .chunk_bytes = chunk_bytes };
    }

    fn destroyChunk(self: *Allocator, ch: *Chunk) void {
        self.ctx.d.vkDestroyBuffer(self.ctx.device, ch.handle, null);
        self.release(ch.block, ch.offset, ch.taken);
    }

    pub fn destroyBuffer(self: *Allocator, buf: *Buffer) void {
        for (buf.chunks) |*ch| self.destroyChunk(ch);
        self.ctx.alloc.free(buf.chunks);
        buf.* = undefined;
    }

    /// Host address of a whole buffer when it lives in one mapped chunk (UMA devices).
    pub fn mapped(buf: *const Buffer) ?[*]u8 {
        if (buf.chunks.len != 1) return null;
        return buf.chunks[0].mapped;
    }

    pub fn upload(self: *Allocator, buf: *const Buffer, offset: u64, data: []const u8) Error!void {
        try self.transfer(buf, offset, @constCast(data), .upload);
    }

    pub fn download(self: *Allocator, buf: *const Buffer, offset: u64, out: []u8) Error!void {
        try self.transfer(buf, offset, out, .download);
    }

    const Dir = enum { upload, download };

    fn transfer(self: *Allocator, buf: *const Buffer, offset: u64, host: []u8, dir: Dir) Error!void {
        try self.ctx.usable();
        if (offset + host.len > buf.size_bytes) return error.VulkanFailed;
        var done: u64 = 0;
        while (done < host.len) {
            const at = buf.locate(offset + done);
            const ch = &buf.chunks[at.chunk];
            const n = @min(host.len - done, ch.size_bytes - at.offset);
            const h = host[@intCast(done)..][0..@intCast(n)];
            if (ch.mapped) |m| {
                const dev = m[@intCast(at.offset)..][0..@intCast(n)];
                switch (dir) {
                    .upload => @memcpy(dev, h),
                    .download => @memcpy(h, dev),
                }
            } else {
                try self.staged(ch, at.offset, h, dir);
            }
            done += n;
        }
    }

    /// Copies through the staging buffer in pieces of its size, waiting for each piece.
    fn staged(self: *Allocator, ch: *const Chunk, offset: u64, host: []u8, dir: Dir) Error!void {
        const ctx = self.ctx;
        if (self.staging == null) {
            const st = self.staging_type orelse return error.VulkanFailed;
            self.staging = try self.createTyped(32 << 20, .{}, st);
            const ai = c.VkCommandBufferAllocateInfo{
                .sType = c.VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                .commandPool = ctx.cmd_pool,
                .level = c.VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                .commandBufferCount = 1,
            };
            try ctx.checkResult(ctx.d.vkAllocateCommandBuffers(ctx.device, &ai, &self.copy_cmd), "vkAllocateCommandBuffers");
            const fi = c.VkFenceCreateInfo{ .sType = c.VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };
            try ctx.checkResult(ctx.d.vkCreateFence(ctx.device, &fi, null, &self.copy_fence), "vkCreateFence");
        }
        const st = &self.staging.?.chunks[0];
        var done: usize = 0;
        while (done < host.len) {
            const n = @min(host.len - done, st.size_bytes);
            const m = st.mapped.?;
            if (dir == .upload) @memcpy(m[0..n], host[done..][0..n]);
            const region = c.VkBufferCopy{
                .srcOffset = if (dir == .upload) 0 else offset + done,
                .dstOffset = if (dir == .upload) offset + done else 0,
                .size = n,
            };
            const bi = c.VkCommandBufferBeginInfo{ .sType = c.VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO, .flags = c.VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT };
            try ctx.checkResult(ctx.d.vkBeginCommandBuffer(self.copy_cmd, &bi), "vkBeginCommandBuffer");
            // Earlier dispatches may still write or read this buffer.
            fullBarrier(ctx, self.copy_cmd);
            if (dir == .upload)
                ctx.d.vkCmdCopyBuffer(self.copy_cmd, st.handle, ch.handle, 1, &region)
            else
                ctx.d.vkCmdCopyBuffer(self.copy_cmd, ch.handle, st.handle, 1, &region);
            fullBarrier(ctx, self.copy_cmd);
            try ctx.checkResult(ctx.d.vkEndCommandBuffer(self.copy_cmd), "vkEndCommandBuffer");
            try submitWait(ctx, self.copy_cmd, self.copy_fence);
            if (dir == .download) @memcpy(host[done..][0..n], m[0..n]);
            done += n;
        }
    }
};

/// Compute and transfer writes made visible to later compute, transfer and host access.
pub fn fullBarrier(ctx: *Context, cmd: c.VkCommandBuffer) void {
    const mb = c.VkMemoryBarrier{
        .sType = c.VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = c.VK_ACCESS_SHADER_WRITE_BIT | c.VK_ACCESS_TRANSFER_WRITE_BIT | c.VK_ACCESS_HOST_WRITE_BIT,
        .dstAccessMask = c.VK_ACCESS_SHADER_READ_BIT | c.VK_ACCESS_SHADER_WRITE_BIT | c.VK_ACCESS_TRANSFER_READ_BIT | c.VK_ACCESS_TRANSFER_WRITE_BIT | c.VK_ACCESS_HOST_READ_BIT,
    };
    ctx.d.vkCmdPipelineBarrier(
        cmd,
        c.VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | c.VK_PIPELINE_STAGE_TRANSFER_BIT | c.VK_PIPELINE_STAGE_HOST_BIT,
        c.VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | c.VK_PIPELINE_STAGE_TRANSFER_BIT | c.VK_PIPELINE_STAGE_HOST_BIT,
        0,
        1,
        &mb,
        0,
        null,
        0,
        null,
    );
}

/// Submits one command buffer and waits on `fence` for at most the context's timeout.
pub fn submitWait(ctx: *Context, cmd: c.VkCommandBuffer, fence: c.VkFence) Error!void {
    try ctx.usable();
    try ctx.checkResult(ctx.d.vkResetFences(ctx.device, 1, &fence), "vkResetFences");
    const si = c.VkSubmitInfo{ .sType = c.VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &cmd };
    try ctx.checkResult(ctx.d.vkQueueSubmit(ctx.queue, 1, &si, fence), "vkQueueSubmit");
    try ctx.checkResult(ctx.d.vkWaitForFences(ctx.device, 1, &fence, c.VK_TRUE, ctx.timeout_ns), "vkWaitForFences");
}

test "block free list takes, aligns and coalesces" {
    const a = std.testing.allocator;
    var b = Block{ .memory = null, .size = 1024, .mapped = null, .dedicated = false };
    defer b.free.deinit(a);
    try b.free.append(a, .{ .offset = 0, .size = 1024 });
    const x = b.take(a, 100, 64).?;
    const y = b.take(a, 100, 64).?;
    try std.testing.expectEqual(@as(u64, 0), x);
    try std.testing.expectEqual(@as(u64, 128), y);
    try std.testing.expect(b.take(a, 2000, 64) == null);
    b.give(a, x, 100);
    b.give(a, y, 100);
    try std.testing.expect(b.isEmpty());
}
