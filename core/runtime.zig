//! The runtime: which backend runs the work (a Vulkan device, or the CPU), chosen once from
//! options and the environment, with a report that says what was found and why.
const std = @import("std");
const builtin = @import("builtin");
const vk = @import("vk/vk.zig");
const log_mod = @import("log.zig");
const Model = @import("model/model.zig").Model;
const Tokenizer = @import("tokenizer/tokenizer.zig").Tokenizer;

pub const version = std.SemanticVersion{ .major = 0, .minor = 1, .patch = 0 };
pub const version_string = "0.1.0";

pub const Backend = enum { auto, cpu, vulkan };

pub const Options = struct {
    /// auto: Vulkan when a usable device that is not CPU-type exists, else the CPU (with the
    /// reason in the report).
    /// null = PI5_BACKEND or auto.
    backend: ?Backend = null,
    /// Device index or name substring; null = PI5_DEVICE or the best device by type.
    device: ?[]const u8 = null,
    /// null = PI5_LIMITS or none.
    profile: ?vk.Profile = null,
    /// null = PI5_VALIDATE.
    validate: ?bool = null,
    timeout_ms: u32 = 5000,
    /// 0 = every core.
    n_threads: u32 = 0,
    log: log_mod.Log = .{},
    /// Vulkan loader library; null = PI5_VULKAN_LIB or libvulkan.so.1.
    vulkan_lib: ?[]const u8 = null,
};

pub const Error = vk.Error || error{InvalidOption};

pub const Runtime = struct {
    alloc: std.mem.Allocator,
    log: log_mod.Log,
    backend: Backend,
    gpu: ?*vk.Context,
    n_threads: u32,
    /// The loaded model with its KV cache (at most one; loading another replaces it).
    model: ?*Model = null,
    /// The vocabulary of a vocab-only load (then `model` is null): tokenizer calls work, evaluation does not.
    vocab: ?*Tokenizer = null,
    /// Why the runtime runs on the CPU when Vulkan was not forced off (empty otherwise).
    fallback_reason: [256]u8 = undefined,
    fallback_reason_len: usize = 0,
    /// Message of the last failed call on this runtime (the C ABI's pi5_last_error).
    last_error: [1024]u8 = undefined,
    last_error_len: usize = 0,

    pub fn create(alloc: std.mem.Allocator, opts: Options) Error!*Runtime {
        var log = opts.log;
        if (std.posix.getenv("PI5_LOG")) |s| {
            if (log_mod.Level.parse(s)) |l| log.level = l;
        }
        const backend = opts.backend orelse blk: {
            const s = std.posix.getenv("PI5_BACKEND") orelse break :blk .auto;
            break :blk std.meta.stringToEnum(Backend, s) orelse {
                log.err("PI5_BACKEND={s}: expected cpu, vulkan or auto", .{s});
                return error.InvalidOption;
            };
        };
        const profile = opts.profile orelse blk: {
            const s = std.posix.getenv("PI5_LIMITS") orelse break :blk .none;
            break :blk vk.Profile.parse(s) orelse {
                log.err("PI5_LIMITS={s}: expected v3dv or none", .{s});
                return error.InvalidOption;
            };
        };
        const validate = opts.validate orelse envFlag("PI5_VALIDATE");
        const device = opts.device orelse std.posix.getenv("PI5_DEVICE");
        const cpus: u32 = @intCast(std.Thread.getCpuCount() catch 1);

        const self = try alloc.create(Runtime);
        errdefer alloc.destroy(self);
        self.* = .{
            .alloc = alloc,
            .log = log,
            .backend = .cpu,
            .gpu = null,
            .n_threads = if (opts.n_threads > 0) opts.n_threads else cpus,
        };
        if (backend == .cpu) return self;

        const loader_path = opts.vulkan_lib orelse std.posix.getenv("PI5_VULKAN_LIB");
        const ctx = vk.Context.create(alloc, .{
            .device = device,
            .profile = profile,
            .validate = validate,
            .timeout_ns = @as(u64, opts.timeout_ms) * std.time.ns_per_ms,
            .loader_path = loader_path,
            .log = log,
        }) catch |e| {
            if (backend == .vulkan) {
                log.err("vulkan backend requested but unusable: {s}", .{describe(e)});
                if (e == error.VulkanLoaderMissing) if (loader_path) |lp| log.err("the Vulkan loader tried was '{s}' (PI5_VULKAN_LIB or the vulkan_lib option)", .{lp});
                return e;
            }
            if (e == error.VulkanLoaderMissing) if (loader_path) |lp| {
                self.setFallback("the Vulkan loader '{s}' could not be opened", .{lp});
                log.info("running on the CPU: {s}", .{self.fallbackReason()});
                return self;
            };
            // An explicit device that does not exist is the caller's mistake, not a reason to
            // run somewhere else; only the automatic choice falls back.
            if (e == error.DeviceNotFound and device != null) {
                log.err("device '{s}': {s}", .{ device.?, describe(e) });
                return e;
            }
            self.setFallback("{s}", .{describe(e)});
            log.info("running on the CPU: {s}", .{self.fallbackReason()});
            return self;
        };
        // llama.cpp ignores CPU-type Vulkan devices (lavapipe, SwiftShader): on the same cores
        // our CPU backend is ~100x faster. Only the automatic choice skips them; a device named
        // or indexed, or backend vulkan, still gets one.
        if (backend == .auto and device == null and ctx.report.device_type == .cpu) {
            self.setFallback("the only Vulkan device, '{s}', is a CPU-type device: the CPU backend is faster on the same cores (ask for the device by name or index, or backend vulkan, to use it)", .{ctx.report.deviceName()});
            ctx.destroy();
            log.info("running on the CPU: {s}", .{self.fallbackReason()});
            return self;
        }
        self.gpu = ctx;
        self.backend = .vulkan;
        return self;
    }

    pub fn destroy(self: *Runtime) void {
        if (self.model) |m| m.destroy();
        self.dropVocab();
        if (self.gpu) |g| g.destroy();
        self.alloc.destroy(self);
    }

    /// Frees a vocab-only load, if any.
    pub fn dropVocab(self: *Runtime) void {
        if (self.vocab) |v| {
            v.deinit();
            self.alloc.destroy(v);
            self.vocab = null;
        }
    }

    fn setFallback(self: *Runtime, comptime fmt: []const u8, args: anytype) void {
        const s = std.fmt.bufPrint(&self.fallback_reason, fmt, args) catch self.fallback_reason[0..];
        self.fallback_reason_len = s.len;
    }

    pub fn fallbackReason(self: *const Runtime) []const u8 {
        return self.fallback_reason[0..self.fallback_reason_len];
    }

    pub fn setError(self: *Runtime, comptime fmt: []const u8, args: anytype) void {
        const s = std.fmt.bufPrint(&self.last_error, fmt, args) catch self.last_error[0..];
        self.last_error_len = s.len;
    }

    pub fn lastError(self: *const Runtime) []const u8 {
        return self.last_error[0..self.last_error_len];
    }

    /// The runtime and device report as one JSON object, allocated with `alloc`.
    pub fn reportJson(self: *const Runtime, alloc: std.mem.Allocator) ![]u8 {
        var out = std.ArrayList(u8).init(alloc);
        errdefer out.deinit();
        var jw = std.json.writeStream(out.writer(), .{ .whitespace = .indent_2 });
        try jw.beginObject();
        try jw.objectField("version");
        try jw.write(version_string);
        try jw.objectField("backend");
        try jw.write(@tagName(self.backend));
        try jw.objectField("fallback_reason");
        if (self.fallback_reason_len > 0) try jw.write(self.fallbackReason()) else try jw.write(null);
        try jw.objectField("cpu");
        try jw.beginObject();
        try jw.objectField("arch");
        try jw.write(@tagName(builtin.cpu.arch));
        try jw.objectField("threads");
        try jw.write(self.n_threads);
        try jw.objectField("simd_bytes");
        try jw.write(std.simd.suggestVectorLength(u8) orelse 0);
        try jw.endObject();
        try jw.objectField("validation");
        try jw.write(if (self.gpu) |g| g.validation_active else false);
        try jw.objectField("device");
        if (self.gpu) |g| try g.writeReportJson(&jw) else try jw.write(null);
        try jw.endObject();
        return out.toOwnedSlice();
    }
};

fn envFlag(name: []const u8) bool {
    const s = std.posix.getenv(name) orelse return false;
    return s.len > 0 and !std.mem.eql(u8, s, "0") and !std.ascii.eqlIgnoreCase(s, "false");
}

/// A sentence for the report and logs: what went wrong, and what to do about it.
pub fn describe(e: anyerror) []const u8 {
    return switch (e) {
        error.VulkanLoaderMissing => "libvulkan.so.1 could not be opened (install the Vulkan loader: apt-get install libvulkan1)",
        error.NoVulkanDevice => "the Vulkan loader found no usable device (Vulkan 1.1 with a compute queue; install a driver such as mesa-vulkan-drivers)",
        error.DeviceNotFound => "no Vulkan device matches the requested index or name",
        error.ValidationLayerMissing => "validation was requested but VK_LAYER_KHRONOS_validation is not installed (apt-get install vulkan-validationlayers)",
        error.VulkanInitFailed => "Vulkan instance or device creation failed",
        error.OutOfMemory => "out of host memory",
        error.OutOfDeviceMemory => "out of device memory",
        error.DeviceLost => "the Vulkan device was lost",
        error.GpuTimeout => "a GPU submission did not finish within the timeout",
        error.Unsupported => "the device does not support the request",
        error.InvalidOption => "an option or environment variable has an invalid value",
        error.UnrepresentableText => "the text has characters the model's vocabulary cannot represent (no byte tokens, no <unk>)",
        error.NotAFile => "not a regular file",
        else => @errorName(e),
    };
}

test "the runtime falls back to the CPU with a reason when libvulkan cannot be opened" {
    const rt = try Runtime.create(std.testing.allocator, .{ .backend = .auto, .vulkan_lib = "/nonexistent/libvulkan.so.1", .log = .{ .level = .err } });
    defer rt.destroy();
    try std.testing.expectEqual(Backend.cpu, rt.backend);
    try std.testing.expect(std.mem.indexOf(u8, rt.fallbackReason(), "libvulkan") != null);
    const json = try rt.reportJson(std.testing.allocator);
    defer std.testing.allocator.free(json);
    try std.testing.expect(std.mem.indexOf(u8, json, "\"backend\": \"cpu\"") != null);
}

test "forcing vulkan without a loader is an error, not a fallback" {
    try std.testing.expectError(error.VulkanLoaderMissing, Runtime.create(std.testing.allocator, .{ .backend = .vulkan, .vulkan_lib = "/nonexistent/libvulkan.so.1", .log = .{ .level = .err } }));
}

test "auto skips a CPU-type Vulkan device (lavapipe) unless one is asked for; the report says why" {
    if (std.posix.getenv("PI5_DEVICE") != null) return error.SkipZigTest; // the device is asked for
    const rt = try Runtime.create(std.testing.allocator, .{ .backend = .auto, .log = .{ .level = .err } });
    defer rt.destroy();
    const probe = Runtime.create(std.testing.allocator, .{ .backend = .vulkan, .log = .{ .level = .err } }) catch |e| {
        if (std.posix.getenv("PI5_REQUIRE_VULKAN") != null) return e;
        return error.SkipZigTest;
    };
    defer probe.destroy();
    if (probe.gpu.?.report.device_type == .cpu) {
        try std.testing.expectEqual(Backend.cpu, rt.backend);
        try std.testing.expect(std.mem.indexOf(u8, rt.fallbackReason(), "CPU-type device") != null);
        const json = try rt.reportJson(std.testing.allocator);
        defer std.testing.allocator.free(json);
        try std.testing.expect(std.mem.indexOf(u8, json, "CPU-type device") != null);
        // Asked for by index, the same device is used.
        const by_index = try Runtime.create(std.testing.allocator, .{ .backend = .auto, .device = "0", .log = .{ .level = .err } });
        defer by_index.destroy();
        try std.testing.expectEqual(Backend.vulkan, by_index.backend);
    } else {
        try std.testing.expectEqual(Backend.vulkan, rt.backend);
    }
}
