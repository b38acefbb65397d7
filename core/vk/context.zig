//! A Vulkan compute context: instance, the chosen physical device, its capability report (after
//! the limits profile), one compute queue, and the pools everything above shares. Knows nothing
//! of models or tensors: it could serve any compute job.
const std = @import("std");
const loader = @import("loader.zig");
const c = loader.c;
const report_mod = @import("report.zig");
const memory = @import("memory.zig");
const pipeline = @import("pipeline.zig");
const log_mod = @import("../log.zig");

pub const Report = report_mod.Report;
pub const Profile = report_mod.Profile;

pub const Error = error{
    VulkanLoaderMissing,
    VulkanInitFailed,
    NoVulkanDevice,
    DeviceNotFound,
    ValidationLayerMissing,
    OutOfMemory,
    OutOfDeviceMemory,
    DeviceLost,
    GpuTimeout,
    VulkanFailed,
    /// The request exceeds what the (profiled) device reports: too many bindings, a workgroup
    /// or grid too large, a shader variant missing.
    Unsupported,
};

pub const Options = struct {
    /// Device index or a case-insensitive substring of its name; null = best by type.
    device: ?[]const u8 = null,
    profile: Profile = .none,
    /// Enable VK_LAYER_KHRONOS_validation and count its messages.
    validate: bool = false,
    /// Longest wait for one submission before error.GpuTimeout.
    timeout_ns: u64 = 5 * std.time.ns_per_s,
    /// Loader library to dlopen instead of libvulkan.so.1.
    loader_path: ?[]const u8 = null,
    log: log_mod.Log = .{},
};

/// Maps a VkResult to the error set above (the result is logged where the context exists).
pub fn check(r: c.VkResult) Error!void {
    return switch (r) {
        c.VK_SUCCESS => {},
        c.VK_ERROR_OUT_OF_HOST_MEMORY => error.OutOfMemory,
        c.VK_ERROR_OUT_OF_DEVICE_MEMORY, c.VK_ERROR_TOO_MANY_OBJECTS, c.VK_ERROR_FRAGMENTED_POOL, c.VK_ERROR_OUT_OF_POOL_MEMORY => error.OutOfDeviceMemory,
        c.VK_ERROR_DEVICE_LOST => error.DeviceLost,
        c.VK_TIMEOUT => error.GpuTimeout,
        else => error.VulkanFailed,
    };
}

pub const Context = struct {
    alloc: std.mem.Allocator,
    log: log_mod.Log,
    loader: loader.Loader,
    instance: c.VkInstance,
    ifn: loader.InstanceFns,
    dbg: ?loader.DebugFns = null,
    messenger: c.VkDebugUtilsMessengerEXT = null,
    phys: c.VkPhysicalDevice,
    device: c.VkDevice,
    d: loader.DeviceFns,
    queue: c.VkQueue,
    queue_family: u32,
    report: Report,
    timeout_ns: u64,
    validation_active: bool = false,
    /// Validation messages (warning or error) seen since creation; tests require zero.
    validation_messages: std.atomic.Value(u32) = std.atomic.Value(u32).init(0),
    /// Set once a wait timed out or the device was lost: further GPU work is refused.
    broken: ?Error = null,
    mem: memory.Allocator = undefined,
    pipelines: pipeline.Cache = undefined,
    cmd_pool: c.VkCommandPool = null,

    /// Heap-allocated so that the debug callback and sub-objects can keep a stable pointer.
    pub fn create(alloc: std.mem.Allocator, opts: Options) Error!*Context {
        const self = try alloc.create(Context);
        errdefer alloc.destroy(self);
        self.* = .{
            .alloc = alloc,
            .log = opts.log,
            .loader = try loader.Loader.open(opts.loader_path),
            .instance = null,
            .ifn = undefined,
            .phys = null,
            .device = null,
            .d = undefined,
            .queue = null,
            .queue_family = 0,
            .report = .{},
            .timeout_ns = opts.timeout_ns,
        };
        errdefer self.loader.close();
        try self.createInstance(opts.validate);
        errdefer self.destroyInstance();
        try self.choosePhysical(opts.device);
        self.report.applyProfile(opts.profile);
        try self.createDevice();
        errdefer self.d.vkDestroyDevice(self.device, null);
        var pool_info = c.VkCommandPoolCreateInfo{
            .sType = c.VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
            .flags = c.VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
            .queueFamilyIndex = self.queue_family,
        };
        try check(self.d.vkCreateCommandPool(self.device, &pool_info, null, &self.cmd_pool));
        errdefer self.d.vkDestroyCommandPool(self.device, self.cmd_pool, null);
        self.mem = memory.Allocator.init(self);
        self.pipelines = pipeline.Cache.init(self);
        self.log.info("vulkan: {s} ({s}, {s}), limits profile {s}", .{ self.report.deviceName(), @tagName(self.report.device_type), self.report.driverName(), @tagName(self.report.profile) });
        return self;
    }

    pub fn destroy(self: *Context) void {
        _ = self.d.vkDeviceWaitIdle(self.device);
        self.pipelines.deinit();
        self.mem.deinit();
        self.d.vkDestroyCommandPool(self.device, self.cmd_pool, null);
        self.d.vkDestroyDevice(self.device, null);
        self.destroyInstance();
        self.loader.close();
        self.alloc.destroy(self);
    }

    fn destroyInstance(self: *Context) void {
        if (self.dbg) |dbg| dbg.vkDestroyDebugUtilsMessengerEXT(self.instance, self.messenger, null);
        self.ifn.vkDestroyInstance(self.instance, null);
    }

    fn hasLayer(self: *Context, name: []const u8) bool {
        var n: u32 = 0;
        if (self.loader.global.vkEnumerateInstanceLayerProperties(&n, null) != c.VK_SUCCESS) return false;
        const props = self.alloc.alloc(c.VkLayerProperties, n) catch return false;
        defer self.alloc.free(props);
        if (self.loader.global.vkEnumerateInstanceLayerProperties(&n, props.ptr) != c.VK_SUCCESS) return false;
        for (props[0..n]) |p| if (std.mem.eql(u8, std.mem.sliceTo(&p.layerName, 0), name)) return true;
        return false;
    }

    fn createInstance(self: *Context, validate: bool) Error!void {
        var api: u32 = c.VK_API_VERSION_1_1;
        _ = self.loader.global.vkEnumerateInstanceVersion(&api);
        const app = c.VkApplicationInfo{
            .sType = c.VK_STRUCTURE_TYPE_APPLICATION_INFO,
            .pApplicationName = "pi5-llm-rt",
            .applicationVersion = 1,
            .pEngineName = "pi5-llm-rt",
            .engineVersion = 1,
            .apiVersion = @min(api, c.VK_API_VERSION_1_3),
        };
        const layer_name: [*:0]const u8 = "VK_LAYER_KHRONOS_validation";
        const ext_name: [*:0]const u8 = c.VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
        if (validate and !self.hasLayer("VK_LAYER_KHRONOS_validation")) {
            self.log.err("vulkan: PI5_VALIDATE is set but VK_LAYER_KHRONOS_validation is not installed (Debian: vulkan-validationlayers)", .{});
            return error.ValidationLayerMissing;
        }
        const info = c.VkInstanceCreateInfo{
            .sType = c.VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
            .pApplicationInfo = &app,
            .enabledLayerCount = if (validate) 1 else 0,
            .ppEnabledLayerNames = @ptrCast(&layer_name),
            .enabledExtensionCount = if (validate) 1 else 0,
            .ppEnabledExtensionNames = @ptrCast(&ext_name),
        };
        const r = self.loader.global.vkCreateInstance(&info, null, &self.instance);
        if (r != c.VK_SUCCESS) {
            self.log.warn("vulkan: vkCreateInstance failed ({d})", .{r});
            return if (r == c.VK_ERROR_INCOMPATIBLE_DRIVER) error.NoVulkanDevice else error.VulkanInitFailed;
        }
        if (!self.loader.loadTable(loader.InstanceFns, &self.ifn, self.instance)) {
            // Without vkDestroyInstance resolved there is nothing safe to call; leak the instance.
            return error.VulkanInitFailed;
        }
        if (validate) {
            var dbg: loader.DebugFns = undefined;
            if (self.loader.loadTable(loader.DebugFns, &dbg, self.instance)) {
                const mi = c.VkDebugUtilsMessengerCreateInfoEXT{
                    .sType = c.VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
                    .messageSeverity = c.VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | c.VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
                    .messageType = c.VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT | c.VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
                    .pfnUserCallback = debugCallback,
                    .pUserData = self,
                };
                if (dbg.vkCreateDebugUtilsMessengerEXT(self.instance, &mi, null, &self.messenger) == c.VK_SUCCESS) {
                    self.dbg = dbg;
                    self.validation_active = true;
                }
            }
        }
    }

    fn debugCallback(
        severity: c.VkDebugUtilsMessageSeverityFlagBitsEXT,
        types: c.VkDebugUtilsMessageTypeFlagsEXT,
        data: [*c]const c.VkDebugUtilsMessengerCallbackDataEXT,
        user: ?*anyopaque,
    ) callconv(.c) c.VkBool32 {
        _ = types;
        const self: *Context = @ptrCast(@alignCast(user.?));
        _ = self.validation_messages.fetchAdd(1, .monotonic);
        const msg: []const u8 = if (data != null and data.*.pMessage != null) std.mem.span(data.*.pMessage) else "(no message)";
        if (severity & c.VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT != 0)
            self.log.err("vulkan validation: {s}", .{msg})
        else
            self.log.warn("vulkan validation: {s}", .{msg});
        return c.VK_FALSE;
    }

    /// Lists the physical devices as (index, name, type) for reports and error messages.
    pub fn enumerate(self: *Context, alloc: std.mem.Allocator) Error![]c.VkPhysicalDevice {
        var n: u32 = 0;
        try check(self.ifn.vkEnumeratePhysicalDevices(self.instance, &n, null));
        const devs = try alloc.alloc(c.VkPhysicalDevice, n);
        errdefer alloc.free(devs);
        try check(self.ifn.vkEnumeratePhysicalDevices(self.instance, &n, devs.ptr));
        return devs[0..n];
    }

    fn typeRank(t: c.VkPhysicalDeviceType) u32 {
        return switch (t) {
            c.VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU => 4,
            c.VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU => 3,
            c.VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU => 2,
            c.VK_PHYSICAL_DEVICE_TYPE_CPU => 1,
            else => 0,
        };
    }

    fn choosePhysical(self: *Context, want: ?[]const u8) Error!void {
        const devs = try self.enumerate(self.alloc);
        defer self.alloc.free(devs);
        if (devs.len == 0) return error.NoVulkanDevice;
        var best: ?usize = null;
        var best_rank: u32 = 0;
        for (devs, 0..) |pd, i| {
            var props: c.VkPhysicalDeviceProperties = undefined;
            self.ifn.vkGetPhysicalDeviceProperties(pd, &props);
            // Everything here needs Vulkan 1.1 (16-bit storage, subgroup properties).
            if (props.apiVersion < c.VK_API_VERSION_1_1 or !hasComputeQueue(self, pd)) continue;
            const name = std.mem.sliceTo(&props.deviceName, 0);
            if (want) |w| {
                const as_index = std.fmt.parseInt(usize, w, 10) catch null;
                const hit = if (as_index) |ix| ix == i else std.ascii.indexOfIgnoreCase(name, w) != null;
                if (hit) {
                    best = i;
                    break;
                }
                continue;
            }
            const rank = typeRank(props.deviceType) + 1;
            if (rank > best_rank) {
                best_rank = rank;
                best = i;
            }
        }
        const idx = best orelse {
            if (want) |w| {
                self.log.err("vulkan: no usable device matches '{s}' ({d} present)", .{ w, devs.len });
                return error.DeviceNotFound;
            }
            return error.NoVulkanDevice;
        };
        self.phys = devs[idx];
        self.report.device_index = @intCast(idx);
        self.fillReport();
    }

    fn hasComputeQueue(self: *Context, pd: c.VkPhysicalDevice) bool {
        return findQueueFamily(self, pd) != null;
    }

    fn findQueueFamily(self: *Context, pd: c.VkPhysicalDevice) ?u32 {
        var n: u32 = 0;
        self.ifn.vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, null);
        var props: [16]c.VkQueueFamilyProperties = undefined;
        n = @min(n, props.len);
        self.ifn.vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, &props);
        // Prefer a compute family without graphics (a dedicated compute queue), else any compute one.
        var any: ?u32 = null;
        for (props[0..n], 0..) |p, i| {
            if (p.queueFlags & c.VK_QUEUE_COMPUTE_BIT == 0) continue;
            if (p.queueFlags & c.VK_QUEUE_GRAPHICS_BIT == 0 and p.timestampValidBits > 0) return @intCast(i);
            if (any == null) any = @intCast(i);
        }
        return any;
    }

    fn hasExtension(self: *Context, name: []const u8) bool {
        var n: u32 = 0;
        if (self.ifn.vkEnumerateDeviceExtensionProperties(self.phys, null, &n, null) != c.VK_SUCCESS) return false;
        const props = self.alloc.alloc(c.VkExtensionProperties, n) catch return false;
        defer self.alloc.free(props);
        if (self.ifn.vkEnumerateDeviceExtensionProperties(self.phys, null, &n, props.ptr) != c.VK_SUCCESS) return false;
        for (props[0..n]) |p| if (std.mem.eql(u8, std.mem.sliceTo(&p.extensionName, 0), name)) return true;
        return false;
    }

    /// Feature structs queried from the device and later passed, trimmed, to vkCreateDevice.
    const Features = struct {
        f2: c.VkPhysicalDeviceFeatures2 = .{ .sType = c.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2 },
        s16: c.VkPhysicalDevice16BitStorageFeatures = .{ .sType = c.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES },
        s8: c.VkPhysicalDevice8BitStorageFeatures = .{ .sType = c.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_8BIT_STORAGE_FEATURES },
        f16i8: c.VkPhysicalDeviceShaderFloat16Int8Features = .{ .sType = c.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES },
        dot: c.VkPhysicalDeviceShaderIntegerDotProductFeatures = .{ .sType = c.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES },
        coop: c.VkPhysicalDeviceCooperativeMatrixFeaturesNV = .{ .sType = c.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV },
        ssc: c.VkPhysicalDeviceSubgroupSizeControlFeatures = .{ .sType = c.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES },
        // The Vulkan memory model: glslang emits it for every NV cooperative matrix load/store.
        vmm: c.VkPhysicalDeviceVulkanMemoryModelFeatures = .{ .sType = c.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_MEMORY_MODEL_FEATURES },
        has_vmm: bool = false,
        has_dot_ext: bool = false,
        has_coop_ext: bool = false,
        has_ssc_ext: bool = false,
        has_s8_ext: bool = false,
        has_f16i8_ext: bool = false,

        /// Links only the structs whose features the device may have, then queries them.
        fn query(self: *Features, ctx: *Context, api: u32) void {
            const v12 = api >= c.VK_API_VERSION_1_2;
            const v13 = api >= c.VK_API_VERSION_1_3;
            self.has_s8_ext = v12 or ctx.hasExtension("VK_KHR_8bit_storage");
            self.has_f16i8_ext = v12 or ctx.hasExtension("VK_KHR_shader_float16_int8");
            self.has_dot_ext = v13 or ctx.hasExtension("VK_KHR_shader_integer_dot_product");
            self.has_ssc_ext = v13 or ctx.hasExtension("VK_EXT_subgroup_size_control");
            self.has_coop_ext = ctx.hasExtension("VK_NV_cooperative_matrix");
            self.has_vmm = self.has_coop_ext and (v12 or ctx.hasExtension("VK_KHR_vulkan_memory_model"));
            self.chain();
            ctx.ifn.vkGetPhysicalDeviceFeatures2(ctx.phys, &self.f2);
        }

        fn chain(self: *Features) void {
            var tail: *?*anyopaque = &self.f2.pNext;
            tail.* = null;
            self.s16.pNext = null;
            tail.* = &self.s16;
            tail = &self.s16.pNext;
            if (self.has_s8_ext) {
                self.s8.pNext = null;
                tail.* = &self.s8;
                tail = &self.s8.pNext;
            }
            if (self.has_f16i8_ext) {
                self.f16i8.pNext = null;
                tail.* = &self.f16i8;
                tail = &self.f16i8.pNext;
            }
            if (self.has_dot_ext) {
                self.dot.pNext = null;
                tail.* = &self.dot;
                tail = &self.dot.pNext;
            }
            if (self.has_ssc_ext) {
                self.ssc.pNext = null;
                tail.* = &self.ssc;
                tail = &self.ssc.pNext;
            }
            if (self.has_coop_ext) {
                self.coop.pNext = null;
                tail.* = &self.coop;
                tail = &self.coop.pNext;
            }
            if (self.has_vmm) {
                self.vmm.pNext = null;
                tail.* = &self.vmm;
                tail = &self.vmm.pNext;
            }
        }
    };

    fn fillReport(self: *Context) void {
        const r = &self.report;
        var sub = c.VkPhysicalDeviceSubgroupProperties{ .sType = c.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES };
        var m3 = c.VkPhysicalDeviceMaintenance3Properties{ .sType = c.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES, .pNext = &sub };
        var p2 = c.VkPhysicalDeviceProperties2{ .sType = c.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &m3 };
        var drv = c.VkPhysicalDeviceDriverProperties{ .sType = c.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES };
        var ssc = c.VkPhysicalDeviceSubgroupSizeControlProperties{ .sType = c.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_PROPERTIES };
        var m4 = c.VkPhysicalDeviceMaintenance4Properties{ .sType = c.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_4_PROPERTIES };
        var base: c.VkPhysicalDeviceProperties = undefined;
        self.ifn.vkGetPhysicalDeviceProperties(self.phys, &base);
        const api = base.apiVersion;
        if (api >= c.VK_API_VERSION_1_2) {
            drv.pNext = p2.pNext;
            p2.pNext = &drv;
        }
        if (api >= c.VK_API_VERSION_1_3 or self.hasExtension("VK_EXT_subgroup_size_control")) {
            ssc.pNext = p2.pNext;
            p2.pNext = &ssc;
        }
        if (api >= c.VK_API_VERSION_1_3) {
            m4.pNext = p2.pNext;
            p2.pNext = &m4;
        }
        self.ifn.vkGetPhysicalDeviceProperties2(self.phys, &p2);
        const p = p2.properties;
        const name = std.mem.sliceTo(&p.deviceName, 0);
        r.device_name_len = @min(name.len, r.device_name.len);
        @memcpy(r.device_name[0..r.device_name_len], name[0..r.device_name_len]);
        if (api >= c.VK_API_VERSION_1_2) {
            const dn = std.mem.sliceTo(&drv.driverName, 0);
            r.driver_name_len = @min(dn.len, r.driver_name.len);
            @memcpy(r.driver_name[0..r.driver_name_len], dn[0..r.driver_name_len]);
            const di = std.mem.sliceTo(&drv.driverInfo, 0);
            r.driver_info_len = @min(di.len, r.driver_info.len);
            @memcpy(r.driver_info[0..r.driver_info_len], di[0..r.driver_info_len]);
        }
        r.api_version = api;
        r.driver_version = p.driverVersion;
        r.vendor_id = p.vendorID;
        r.device_id = p.deviceID;
        r.device_type = switch (p.deviceType) {
            c.VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU => .discrete,
            c.VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU => .integrated,
            c.VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU => .virtual,
            c.VK_PHYSICAL_DEVICE_TYPE_CPU => .cpu,
            else => .other,
        };
        const l = p.limits;
        r.max_storage_buffer_range = l.maxStorageBufferRange;
        r.max_memory_allocation_size = m3.maxMemoryAllocationSize;
        r.max_buffer_size = if (api >= c.VK_API_VERSION_1_3) m4.maxBufferSize else m3.maxMemoryAllocationSize;
        r.max_compute_shared_memory_size = l.maxComputeSharedMemorySize;
        r.max_compute_work_group_invocations = l.maxComputeWorkGroupInvocations;
        r.max_compute_work_group_size = l.maxComputeWorkGroupSize;
        r.max_compute_work_group_count = l.maxComputeWorkGroupCount;
        r.max_push_constants_size = l.maxPushConstantsSize;
        r.max_storage_buffers_per_stage = l.maxPerStageDescriptorStorageBuffers;
        r.min_storage_buffer_offset_alignment = l.minStorageBufferOffsetAlignment;
        r.non_coherent_atom_size = l.nonCoherentAtomSize;
        r.timestamp_period_ns = l.timestampPeriod;
        r.subgroup_size = sub.subgroupSize;
        r.min_subgroup_size = if (ssc.minSubgroupSize != 0) ssc.minSubgroupSize else sub.subgroupSize;
        r.max_subgroup_size = if (ssc.maxSubgroupSize != 0) ssc.maxSubgroupSize else sub.subgroupSize;
        r.subgroup_in_compute = sub.supportedStages & c.VK_SHADER_STAGE_COMPUTE_BIT != 0;
        r.subgroup_ops = @bitCast(sub.supportedOperations & 0xff);

        const qf = self.findQueueFamily(self.phys).?;
        self.queue_family = qf;
        var n: u32 = 0;
        self.ifn.vkGetPhysicalDeviceQueueFamilyProperties(self.phys, &n, null);
        var qprops: [16]c.VkQueueFamilyProperties = undefined;
        n = @min(n, qprops.len);
        self.ifn.vkGetPhysicalDeviceQueueFamilyProperties(self.phys, &n, &qprops);
        r.timestamps = qprops[qf].timestampValidBits > 0 and l.timestampPeriod > 0;

        var feats = Features{};
        feats.query(self, api);
        r.storage_16bit = feats.s16.storageBuffer16BitAccess != 0;
        r.shader_int16 = feats.f2.features.shaderInt16 != 0;
        r.storage_8bit = feats.has_s8_ext and feats.s8.storageBuffer8BitAccess != 0;
        r.shader_float16 = feats.has_f16i8_ext and feats.f16i8.shaderFloat16 != 0;
        r.shader_int8 = feats.has_f16i8_ext and feats.f16i8.shaderInt8 != 0;
        r.integer_dot_product = feats.has_dot_ext and feats.dot.shaderIntegerDotProduct != 0;
        r.cooperative_matrix_nv = feats.has_coop_ext and feats.coop.cooperativeMatrix != 0 and feats.has_vmm and feats.vmm.vulkanMemoryModel != 0 and feats.vmm.vulkanMemoryModelDeviceScope != 0;
        r.subgroup_size_control = feats.has_ssc_ext and feats.ssc.subgroupSizeControl != 0 and feats.ssc.computeFullSubgroups != 0;

        var mp: c.VkPhysicalDeviceMemoryProperties = undefined;
        self.ifn.vkGetPhysicalDeviceMemoryProperties(self.phys, &mp);
        r.n_heaps = @min(mp.memoryHeapCount, r.heaps.len);
        for (0..r.n_heaps) |i| r.heaps[i] = .{
            .size_bytes = mp.memoryHeaps[i].size,
            .device_local = mp.memoryHeaps[i].flags & c.VK_MEMORY_HEAP_DEVICE_LOCAL_BIT != 0,
        };
        r.n_types = @min(mp.memoryTypeCount, r.types.len);
        for (0..r.n_types) |i| {
            const f = mp.memoryTypes[i].propertyFlags;
            r.types[i] = .{
                .heap = mp.memoryTypes[i].heapIndex,
                .device_local = f & c.VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT != 0,
                .host_visible = f & c.VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT != 0,
                .host_coherent = f & c.VK_MEMORY_PROPERTY_HOST_COHERENT_BIT != 0,
                .host_cached = f & c.VK_MEMORY_PROPERTY_HOST_CACHED_BIT != 0,
            };
        }
        // UMA: every device-local heap can be reached by a host-visible, coherent, device-local type.
        var uma = true;
        for (r.heaps[0..r.n_heaps], 0..) |h, hi| {
            if (!h.device_local) continue;
            var reachable = false;
            for (r.types[0..r.n_types]) |t| {
                if (t.heap == hi and t.device_local and t.host_visible and t.host_coherent) reachable = true;
            }
            uma = uma and reachable;
        }
        // A discrete GPU with resizable BAR also maps all its VRAM, but host reads through the
        // BAR are uncached and slow: only integrated and CPU devices count as unified memory.
        r.uma = uma and (r.device_type == .integrated or r.device_type == .cpu);
    }

    fn createDevice(self: *Context) Error!void {
        const r = &self.report;
        var feats = Features{};
        feats.query(self, r.api_version);
        // Enable exactly what the (profiled) report says we use, so that validation catches a
        // shader reaching for a feature the Pi 5 lacks.
        const base_f = feats.f2.features;
        feats.f2.features = std.mem.zeroes(c.VkPhysicalDeviceFeatures);
        feats.f2.features.shaderInt16 = @intFromBool(r.shader_int16);
        // Int64 only where present and outside the Pi 5 profile (V3DV lacks it).
        feats.f2.features.shaderInt64 = if (r.profile == .v3dv) 0 else base_f.shaderInt64;
        feats.s16.storageBuffer16BitAccess = @intFromBool(r.storage_16bit);
        feats.s16.uniformAndStorageBuffer16BitAccess = 0;
        feats.s16.storagePushConstant16 = 0;
        feats.s16.storageInputOutput16 = 0;
        feats.s8.storageBuffer8BitAccess = @intFromBool(r.storage_8bit);
        feats.s8.uniformAndStorageBuffer8BitAccess = 0;
        feats.s8.storagePushConstant8 = 0;
        feats.f16i8.shaderFloat16 = @intFromBool(r.shader_float16);
        feats.f16i8.shaderInt8 = @intFromBool(r.shader_int8);
        feats.dot.shaderIntegerDotProduct = @intFromBool(r.integer_dot_product);
        feats.coop.cooperativeMatrix = @intFromBool(r.cooperative_matrix_nv);
        feats.coop.cooperativeMatrixRobustBufferAccess = 0;
        feats.vmm.vulkanMemoryModel = @intFromBool(r.cooperative_matrix_nv);
        // With the memory model on, every shader's Device-scope atomics and barriers need
        // DeviceScope too (validation: VUID-RuntimeSpirv-vulkanMemoryModel-06265).
        feats.vmm.vulkanMemoryModelDeviceScope = if (r.cooperative_matrix_nv) feats.vmm.vulkanMemoryModelDeviceScope else 0;
        feats.vmm.vulkanMemoryModelAvailabilityVisibilityChains = 0;
        feats.ssc.subgroupSizeControl = @intFromBool(r.subgroup_size_control);
        feats.ssc.computeFullSubgroups = @intFromBool(r.subgroup_size_control);
        feats.chain();

        var exts: [8][*:0]const u8 = undefined;
        var n_ext: u32 = 0;
        const v12 = r.api_version >= c.VK_API_VERSION_1_2;
        const v13 = r.api_version >= c.VK_API_VERSION_1_3;
        if (!v12 and r.storage_8bit) {
            exts[n_ext] = "VK_KHR_8bit_storage";
            n_ext += 1;
        }
        if (!v12 and (r.shader_float16 or r.shader_int8)) {
            exts[n_ext] = "VK_KHR_shader_float16_int8";
            n_ext += 1;
        }
        if (!v13 and r.integer_dot_product) {
            exts[n_ext] = "VK_KHR_shader_integer_dot_product";
            n_ext += 1;
        }
        if (!v13 and r.subgroup_size_control) {
            exts[n_ext] = "VK_EXT_subgroup_size_control";
            n_ext += 1;
        }
        if (r.cooperative_matrix_nv) {
            exts[n_ext] = "VK_NV_cooperative_matrix";
            n_ext += 1;
            if (!v12) {
                exts[n_ext] = "VK_KHR_vulkan_memory_model";
                n_ext += 1;
            }
        }
        const prio: f32 = 1.0;
        const qi = c.VkDeviceQueueCreateInfo{
            .sType = c.VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
            .queueFamilyIndex = self.queue_family,
            .queueCount = 1,
            .pQueuePriorities = &prio,
        };
        const info = c.VkDeviceCreateInfo{
            .sType = c.VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
            .pNext = &feats.f2,
            .queueCreateInfoCount = 1,
            .pQueueCreateInfos = &qi,
            .enabledExtensionCount = n_ext,
            .ppEnabledExtensionNames = &exts,
        };
        const res = self.ifn.vkCreateDevice(self.phys, &info, null, &self.device);
        if (res != c.VK_SUCCESS) {
            self.log.warn("vulkan: vkCreateDevice failed ({d})", .{res});
            return error.VulkanInitFailed;
        }
        if (!loader.loadDeviceTable(self.ifn.vkGetDeviceProcAddr, self.device, &self.d)) {
            self.log.warn("vulkan: device entry points missing", .{});
            return error.VulkanInitFailed;
        }
        self.d.vkGetDeviceQueue(self.device, self.queue_family, 0, &self.queue);
    }

    /// Refuses new GPU work after a timeout or device loss: the device's state is unknown.
    pub fn usable(self: *const Context) Error!void {
        if (self.broken) |e| return e;
    }

    /// Maps a VkResult, remembering the errors that leave the device unusable.
    pub fn checkResult(self: *Context, r: c.VkResult, what: []const u8) Error!void {
        check(r) catch |e| {
            self.log.warn("vulkan: {s} failed ({d})", .{ what, r });
            if (e == error.DeviceLost or e == error.GpuTimeout) self.broken = e;
            return e;
        };
    }

    /// Writes `{"backend":"vulkan", ...report...}`-ready fields through a std.json write stream.
    pub fn writeReportJson(self: *const Context, jw: anytype) !void {
        try self.report.jsonFields(jw);
    }
};
