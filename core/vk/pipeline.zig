//! Compute pipelines created lazily from the embedded SPIR-V and cached by (shader, bindings,
//! push-constant size, specialization constants). Specialization constant 0 is the workgroup
//! size in x by convention (shaders/common.glsl), so one binary serves every device.
const std = @import("std");
const c = @import("loader.zig").c;
const spirv = @import("spirv");
const ctx_mod = @import("context.zig");
const Context = ctx_mod.Context;
const Error = ctx_mod.Error;

pub const max_spec = 8;
pub const max_bindings = 16;

/// A shader variant: a row of shaders/variants.zig, named by its tag (a typo is a compile error).
pub const Shader = spirv.Id;

pub const Desc = struct {
    shader: Shader,
    n_buffers: u32,
    push_bytes: u32 = 0,
    /// Specialization constants with ids 0..len-1; [0] is the workgroup size x.
    spec: []const u32 = &.{},
};

pub const Pipeline = struct {
    handle: c.VkPipeline,
    layout: c.VkPipelineLayout,
    set_layout: c.VkDescriptorSetLayout,
    n_buffers: u32,
    push_bytes: u32,
    local_size_x: u32,
    name: []const u8,
};

pub fn shaderCode(id: Shader) []align(4) const u8 {
    return spirv.shaders[@intFromEnum(id)].spirv;
}

comptime {
    // build.zig writes the code table and the enum in the same (table) order.
    for (spirv.shaders, 0..) |s, i| {
        if (!std.mem.eql(u8, s.name, @tagName(@as(Shader, @enumFromInt(i))))) @compileError("spirv table out of order at " ++ s.name);
    }
}

pub const Cache = struct {
    ctx: *Context,
    map: std.StringHashMapUnmanaged(*Pipeline) = .{},
    set_layouts: [max_bindings + 1]c.VkDescriptorSetLayout = [_]c.VkDescriptorSetLayout{null} ** (max_bindings + 1),
    /// Pipelines created so far (tests count re-creation).
    created: u32 = 0,

    pub fn init(ctx: *Context) Cache {
        return .{ .ctx = ctx };
    }

    pub fn deinit(self: *Cache) void {
        const d = &self.ctx.d;
        var it = self.map.iterator();
        while (it.next()) |e| {
            d.vkDestroyPipeline(self.ctx.device, e.value_ptr.*.handle, null);
            d.vkDestroyPipelineLayout(self.ctx.device, e.value_ptr.*.layout, null);
            self.ctx.alloc.free(e.key_ptr.*);
            self.ctx.alloc.destroy(e.value_ptr.*);
        }
        self.map.deinit(self.ctx.alloc);
        for (self.set_layouts) |l| if (l != null) d.vkDestroyDescriptorSetLayout(self.ctx.device, l, null);
    }

    fn setLayout(self: *Cache, n: u32) Error!c.VkDescriptorSetLayout {
        if (self.set_layouts[n] != null) return self.set_layouts[n];
        var bindings: [max_bindings]c.VkDescriptorSetLayoutBinding = undefined;
        for (0..n) |i| bindings[i] = .{
            .binding = @intCast(i),
            .descriptorType = c.VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
            .descriptorCount = 1,
            .stageFlags = c.VK_SHADER_STAGE_COMPUTE_BIT,
        };
        const info = c.VkDescriptorSetLayoutCreateInfo{
            .sType = c.VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
            .bindingCount = n,
            .pBindings = &bindings,
        };
        try self.ctx.checkResult(self.ctx.d.vkCreateDescriptorSetLayout(self.ctx.device, &info, null, &self.set_layouts[n]), "vkCreateDescriptorSetLayout");
        return self.set_layouts[n];
    }

    /// The pipeline for `desc`, created on first use. Fails with error.Unsupported when the
    /// request exceeds the device report (bindings, push constants, workgroup size).
    pub fn get(self: *Cache, desc: Desc) Error!*const Pipeline {
        const r = &self.ctx.report;
        if (desc.n_buffers > @min(r.max_storage_buffers_per_stage, max_bindings) or desc.push_bytes > r.max_push_constants_size or
            desc.spec.len > max_spec or desc.push_bytes % 4 != 0)
        {
            self.ctx.log.warn("vulkan: pipeline {s} needs {d} buffers / {d} push bytes; device allows {d} / {d}", .{ @tagName(desc.shader), desc.n_buffers, desc.push_bytes, r.max_storage_buffers_per_stage, r.max_push_constants_size });
            return error.Unsupported;
        }
        const local_x: u32 = if (desc.spec.len > 0) desc.spec[0] else 1;
        if (local_x == 0 or local_x > r.maxWorkgroup1D()) {
            self.ctx.log.warn("vulkan: pipeline {s} asks for workgroup {d}; device allows {d}", .{ @tagName(desc.shader), local_x, r.maxWorkgroup1D() });
            return error.Unsupported;
        }
        var key_buf: [256]u8 = undefined;
        var fbs = std.io.fixedBufferStream(&key_buf);
        fbs.writer().print("{s}|{d}|{d}", .{ @tagName(desc.shader), desc.n_buffers, desc.push_bytes }) catch return error.Unsupported;
        for (desc.spec) |s| fbs.writer().print("|{d}", .{s}) catch return error.Unsupported;
        const key = fbs.getWritten();
        if (self.map.get(key)) |p| return p;

        const code = shaderCode(desc.shader);
        const ctx = self.ctx;
        const set_layout = try self.setLayout(desc.n_buffers);
        const range = c.VkPushConstantRange{ .stageFlags = c.VK_SHADER_STAGE_COMPUTE_BIT, .offset = 0, .size = desc.push_bytes };
        const li = c.VkPipelineLayoutCreateInfo{
            .sType = c.VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
            .setLayoutCount = 1,
            .pSetLayouts = &set_layout,
            .pushConstantRangeCount = if (desc.push_bytes > 0) 1 else 0,
            .pPushConstantRanges = &range,
        };
        var layout: c.VkPipelineLayout = null;
        try ctx.checkResult(ctx.d.vkCreatePipelineLayout(ctx.device, &li, null, &layout), "vkCreatePipelineLayout");
        errdefer ctx.d.vkDestroyPipelineLayout(ctx.device, layout, null);

        const mi = c.VkShaderModuleCreateInfo{
            .sType = c.VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
            .codeSize = code.len,
            .pCode = @ptrCast(code.ptr),
        };
        var module: c.VkShaderModule = null;
        try ctx.checkResult(ctx.d.vkCreateShaderModule(ctx.device, &mi, null, &module), "vkCreateShaderModule");
        defer ctx.d.vkDestroyShaderModule(ctx.device, module, null);

        var entries: [max_spec]c.VkSpecializationMapEntry = undefined;
        for (desc.spec, 0..) |_, i| entries[i] = .{ .constantID = @intCast(i), .offset = @intCast(i * 4), .size = 4 };
        const si = c.VkSpecializationInfo{
            .mapEntryCount = @intCast(desc.spec.len),
            .pMapEntries = &entries,
            .dataSize = desc.spec.len * 4,
            .pData = desc.spec.ptr,
        };
        const ci = c.VkComputePipelineCreateInfo{
            .sType = c.VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
            .stage = .{
                .sType = c.VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                .stage = c.VK_SHADER_STAGE_COMPUTE_BIT,
                .module = module,
                .pName = "main",
                .pSpecializationInfo = if (desc.spec.len > 0) &si else null,
            },
            .layout = layout,
        };
        var handle: c.VkPipeline = null;
        try ctx.checkResult(ctx.d.vkCreateComputePipelines(ctx.device, null, 1, &ci, null, &handle), "vkCreateComputePipelines");
        errdefer ctx.d.vkDestroyPipeline(ctx.device, handle, null);

        const p = try ctx.alloc.create(Pipeline);
        errdefer ctx.alloc.destroy(p);
        const owned_key = try ctx.alloc.dupe(u8, key);
        errdefer ctx.alloc.free(owned_key);
        p.* = .{ .handle = handle, .layout = layout, .set_layout = set_layout, .n_buffers = desc.n_buffers, .push_bytes = desc.push_bytes, .local_size_x = local_x, .name = @tagName(desc.shader) };
        try self.map.put(ctx.alloc, owned_key, p);
        self.created += 1;
        ctx.log.debug("vulkan: pipeline {s} created", .{key});
        return p;
    }
};
