//! Opens the Vulkan loader with dlopen and resolves entry points into typed tables.
//! Nothing links libvulkan: a machine without it gets error.VulkanLoaderMissing and the runtime
//! falls back to the CPU.
const std = @import("std");
pub const c = @import("vulkan_c");

/// The non-optional function pointer type of a Vulkan command, from its PFN_ typedef.
fn Pfn(comptime name: []const u8) type {
    return @typeInfo(@field(c, "PFN_" ++ name)).optional.child;
}

/// Declares a struct with one field per command name, each of the command's pointer type.
fn Table(comptime names: []const []const u8) type {
    var fields: [names.len]std.builtin.Type.StructField = undefined;
    for (names, 0..) |n, i| {
        const T = Pfn(n);
        fields[i] = .{ .name = @ptrCast(n ++ "\x00"), .type = T, .default_value = null, .is_comptime = false, .alignment = @alignOf(T) };
    }
    return @Type(.{ .@"struct" = .{ .layout = .auto, .fields = &fields, .decls = &.{}, .is_tuple = false } });
}

pub const GlobalFns = Table(&.{
    "vkCreateInstance",
    "vkEnumerateInstanceVersion",
    "vkEnumerateInstanceLayerProperties",
    "vkEnumerateInstanceExtensionProperties",
});

pub const InstanceFns = Table(&.{
    "vkDestroyInstance",
    "vkEnumeratePhysicalDevices",
    "vkGetPhysicalDeviceProperties",
    "vkGetPhysicalDeviceProperties2",
    "vkGetPhysicalDeviceFeatures2",
    "vkGetPhysicalDeviceMemoryProperties",
    "vkGetPhysicalDeviceQueueFamilyProperties",
    "vkEnumerateDeviceExtensionProperties",
    "vkCreateDevice",
    "vkGetDeviceProcAddr",
});

pub const DebugFns = Table(&.{
    "vkCreateDebugUtilsMessengerEXT",
    "vkDestroyDebugUtilsMessengerEXT",
});

pub const DeviceFns = Table(&.{
    "vkDestroyDevice",
    "vkGetDeviceQueue",
    "vkDeviceWaitIdle",
    "vkQueueSubmit",
    "vkAllocateMemory",
    "vkFreeMemory",
    "vkMapMemory",
    "vkUnmapMemory",
    "vkCreateBuffer",
    "vkDestroyBuffer",
    "vkGetBufferMemoryRequirements",
    "vkBindBufferMemory",
    "vkCreateShaderModule",
    "vkDestroyShaderModule",
    "vkCreateDescriptorSetLayout",
    "vkDestroyDescriptorSetLayout",
    "vkCreatePipelineLayout",
    "vkDestroyPipelineLayout",
    "vkCreateComputePipelines",
    "vkDestroyPipeline",
    "vkCreatePipelineCache",
    "vkDestroyPipelineCache",
    "vkCreateDescriptorPool",
    "vkDestroyDescriptorPool",
    "vkResetDescriptorPool",
    "vkAllocateDescriptorSets",
    "vkUpdateDescriptorSets",
    "vkCreateCommandPool",
    "vkDestroyCommandPool",
    "vkAllocateCommandBuffers",
    "vkFreeCommandBuffers",
    "vkBeginCommandBuffer",
    "vkEndCommandBuffer",
    "vkResetCommandBuffer",
    "vkCmdBindPipeline",
    "vkCmdBindDescriptorSets",
    "vkCmdPushConstants",
    "vkCmdDispatch",
    "vkCmdPipelineBarrier",
    "vkCmdCopyBuffer",
    "vkCmdFillBuffer",
    "vkCmdResetQueryPool",
    "vkCmdWriteTimestamp",
    "vkCreateQueryPool",
    "vkDestroyQueryPool",
    "vkGetQueryPoolResults",
    "vkCreateFence",
    "vkDestroyFence",
    "vkResetFences",
    "vkWaitForFences",
    "vkGetFenceStatus",
});

pub const Error = error{VulkanLoaderMissing};

/// The dlopened loader and its global entry points.
pub const Loader = struct {
    lib: std.DynLib,
    get_instance_proc_addr: Pfn("vkGetInstanceProcAddr"),
    global: GlobalFns,

    /// Tries `PI5_VULKAN_LIB` (tests point it at a missing file to exercise the CPU fallback),
    /// then libvulkan.so.1, then libvulkan.so.
    pub fn open(override: ?[]const u8) Error!Loader {
        const names: []const []const u8 = if (override) |o| &.{o} else &.{ "libvulkan.so.1", "libvulkan.so" };
        for (names) |name| {
            var lib = std.DynLib.open(name) catch continue;
            const gipa = lib.lookup(Pfn("vkGetInstanceProcAddr"), "vkGetInstanceProcAddr") orelse {
                lib.close();
                continue;
            };
            var self = Loader{ .lib = lib, .get_instance_proc_addr = gipa, .global = undefined };
            if (!self.loadTable(GlobalFns, &self.global, null)) {
                lib.close();
                continue;
            }
            return self;
        }
        return error.VulkanLoaderMissing;
    }

    /// Keeps the library mapped: Vulkan drivers are not written to be unloaded, and the NVIDIA
    /// driver leaked descriptors across a hundred dlopen/dlclose cycles in one process until
    /// vkCreateInstance failed. dlopen is reference-counted, so later opens reuse the mapping.
    pub fn close(self: *Loader) void {
        _ = self;
    }

    /// Fills every field of `table` through vkGetInstanceProcAddr; false if any is missing.
    pub fn loadTable(self: *const Loader, comptime T: type, table: *T, instance: c.VkInstance) bool {
        inline for (@typeInfo(T).@"struct".fields) |f| {
            const p = self.get_instance_proc_addr(instance, f.name) orelse return false;
            @field(table, f.name) = @ptrCast(p);
        }
        return true;
    }
};

/// Fills a device table through vkGetDeviceProcAddr; false if any entry point is missing.
pub fn loadDeviceTable(gdpa: Pfn("vkGetDeviceProcAddr"), device: c.VkDevice, table: *DeviceFns) bool {
    inline for (@typeInfo(DeviceFns).@"struct".fields) |f| {
        const p = gdpa(device, f.name) orelse return false;
        @field(table, f.name) = @ptrCast(p);
    }
    return true;
}

test "a missing loader is reported, not fatal" {
    try std.testing.expectError(error.VulkanLoaderMissing, Loader.open("/nonexistent/libvulkan.so.1"));
}
