//! The C ABI (include/pi5_llm_rt.h): thin exports that check arguments, call the Zig API and
//! map every Zig error to a pi5_status. The only module that knows C; no panic, exit or Zig
//! error crosses callconv(.c).
const std = @import("std");
const pi5 = @import("root.zig");
const Runtime = pi5.runtime.Runtime;

/// The general-purpose allocator of the library: libc's malloc, thread-safe, leak-checked by
/// valgrind in the test suite.
const gpa = std.heap.c_allocator;

comptime {
    _ = @import("abi_graph.zig");
    _ = @import("abi_model.zig");
    _ = @import("abi_files.zig");
}

pub const Status = enum(c_int) {
    ok = 0,
    invalid_argument = -1,
    out_of_memory = -2,
    buffer_too_small = -3,
    no_device = -4,
    out_of_device_memory = -5,
    device_lost = -6,
    timeout = -7,
    unsupported = -8,
    io = -9,
    invalid_model = -10,
    no_model = -11,
    context_full = -12,
    aborted = -13,
    vulkan = -14,
    internal = -15,
};

pub const BackendC = enum(c_int) { auto = 0, cpu = 1, vulkan = 2 };
pub const LimitsC = enum(c_int) { from_env = 0, none = 1, v3dv = 2 };

pub const RuntimeOptionsC = extern struct {
    struct_size: u32,
    backend: c_int,
    device: ?[*:0]const u8,
    limits: c_int,
    validate: i32,
    timeout_ms: u32,
    n_threads: i32,
    log_level: c_int,
    log_callback: ?pi5.log.Callback,
    log_user_data: ?*anyopaque,
};

/// Every error that can reach the C ABI: the union of the error sets of the Zig functions the
/// exports call. Closed on purpose: each export coerces its callee's (inferred) error set into
/// this one, so an error added anywhere in the core is a compile error at that export until it
/// is listed here and mapped in statusOf; it is never silently PI5_ERR_INTERNAL. The table in
/// include/pi5_llm_rt.h (above pi5_status) documents the same mapping; a test checks it.
pub const Error = error{
    // caller's arguments
    InvalidArgument,
    InvalidOption,
    BadShape,
    InvalidConfig,
    UnrepresentableText,
    // host resources
    OutOfMemory,
    SystemResources,
    ThreadQuotaExceeded,
    LockedMemoryLimitExceeded,
    // Vulkan
    VulkanLoaderMissing,
    NoVulkanDevice,
    DeviceNotFound,
    ValidationLayerMissing,
    VulkanInitFailed,
    OutOfDeviceMemory,
    DeviceLost,
    GpuTimeout,
    VulkanFailed,
    DeviceError,
    // capabilities
    Unsupported,
    UnsupportedModel,
    TimerUnsupported,
    // files (std.fs, std.posix: open, read, write, mmap, rename, delete)
    FileNotFound,
    AccessDenied,
    PermissionDenied,
    IsDir,
    NotAFile,
    NotDir,
    LinkQuotaExceeded,
    ReadOnlyFileSystem,
    RenameAcrossMountPoints,
    InputOutput,
    NoSpaceLeft,
    DiskQuota,
    FileTooBig,
    FileBusy,
    DeviceBusy,
    WouldBlock,
    NoDevice,
    SymLinkLoop,
    NameTooLong,
    BadPathName,
    InvalidUtf8,
    InvalidWtf8,
    PathAlreadyExists,
    FileLocksNotSupported,
    LockViolation,
    NetworkNotFound,
    SharingViolation,
    PipeBusy,
    AntivirusInterference,
    ProcessFdQuotaExceeded,
    SystemFdQuotaExceeded,
    MemoryMappingNotSupported,
    Unseekable,
    NotOpenForReading,
    NotOpenForWriting,
    BrokenPipe,
    OperationAborted,
    ConnectionResetByPeer,
    ConnectionTimedOut,
    SocketNotConnected,
    ProcessNotFound,
    Canceled,
    Unexpected,
    // model files: malformed input, or input that would make a malformed GGUF
    InvalidGguf,
    InvalidCheckpoint,
    InvalidGgjt,
    DataSizeMismatch,
    DuplicateKey,
    DuplicateTensor,
    InvalidTensor,
    InvalidAlignment,
    InvalidValue,
    // state of the session
    NoModel,
    ContextFull,
    Aborted,
    // broken invariants of the core itself
    BadLength,
    EmptyLogits,
    NeedQuantizer,
};

/// The one error -> status map of the C ABI (TigerBeetle's init_error_to_status): a switch with
/// no `else` over the closed set above. Decisions worth a word:
///  - BadShape is the graph builder's "shapes or types do not fit the op": the caller's
///    argument at pi5_graph_*; the model code validates its tensors before it builds.
///    InvalidConfig is synth's shape that does not fit (n_embd not a multiple of n_head ...).
///  - UnsupportedModel (an architecture or tensor type this build does not run) is
///    PI5_ERR_UNSUPPORTED, as pi5_load_model documents; a malformed file is InvalidGguf.
///  - NoDevice is the OS's ENODEV from opening a file (io), not a missing Vulkan device.
///  - The GGUF writer's errors (DuplicateKey ... InvalidValue) come only from names, shapes and
///    values copied from an input file, so they are that input's fault: invalid_model.
///  - SystemResources, ThreadQuotaExceeded, LockedMemoryLimitExceeded: the host ran out of
///    something other than a file: out_of_memory. Unexpected (an unknown errno of a file call): io.
///  - BadLength (a row that is not whole blocks reaching the quantizer), EmptyLogits (sampling
///    no logits) and NeedQuantizer (synth of a quantized type without its hook) cannot be
///    caused by a caller: internal, a bug to report.
pub fn statusOf(err: Error) Status {
    return switch (err) {
        error.InvalidArgument, error.InvalidOption, error.BadShape, error.InvalidConfig => .invalid_argument,
        error.OutOfMemory, error.SystemResources, error.ThreadQuotaExceeded, error.LockedMemoryLimitExceeded => .out_of_memory,
        error.VulkanLoaderMissing, error.NoVulkanDevice, error.DeviceNotFound, error.ValidationLayerMissing, error.VulkanInitFailed => .no_device,
        error.OutOfDeviceMemory => .out_of_device_memory,
        error.DeviceLost => .device_lost,
        error.GpuTimeout => .timeout,
        error.Unsupported, error.UnsupportedModel, error.TimerUnsupported => .unsupported,
        error.FileNotFound,
        error.AccessDenied,
        error.PermissionDenied,
        error.IsDir,
        error.NotAFile,
        error.LinkQuotaExceeded,
        error.ReadOnlyFileSystem,
        error.RenameAcrossMountPoints,
        error.NotDir,
        error.InputOutput,
        error.NoSpaceLeft,
        error.DiskQuota,
        error.FileTooBig,
        error.FileBusy,
        error.DeviceBusy,
        error.WouldBlock,
        error.NoDevice,
        error.SymLinkLoop,
        error.NameTooLong,
        error.BadPathName,
        error.InvalidUtf8,
        error.InvalidWtf8,
        error.PathAlreadyExists,
        error.FileLocksNotSupported,
        error.LockViolation,
        error.NetworkNotFound,
        error.SharingViolation,
        error.PipeBusy,
        error.AntivirusInterference,
        error.ProcessFdQuotaExceeded,
        error.SystemFdQuotaExceeded,
        error.MemoryMappingNotSupported,
        error.Unseekable,
        error.NotOpenForReading,
        error.NotOpenForWriting,
        error.BrokenPipe,
        error.OperationAborted,
        error.ConnectionResetByPeer,
        error.ConnectionTimedOut,
        error.SocketNotConnected,
        error.ProcessNotFound,
        error.Canceled,
        error.Unexpected,
        => .io,
        error.InvalidGguf,
        error.InvalidCheckpoint,
        error.InvalidGgjt,
        error.DataSizeMismatch,
        error.DuplicateKey,
        error.DuplicateTensor,
        error.InvalidTensor,
        error.InvalidAlignment,
        error.InvalidValue,
        => .invalid_model,
        error.UnrepresentableText => .invalid_argument,
        error.NoModel => .no_model,
        error.ContextFull => .context_full,
        error.Aborted => .aborted,
        error.VulkanFailed, error.DeviceError => .vulkan,
        error.BadLength, error.EmptyLogits, error.NeedQuantizer => .internal,
    };
}

/// Why the calling thread's last pi5_create_runtime[_ex] failed: pi5_last_error(NULL) returns
/// it. Thread-local like errno, so no runtime is needed to read it and threads do not race.
threadlocal var create_error: [512]u8 = [_]u8{0} ** 512;

fn setCreateError(comptime fmt: []const u8, args: anytype) void {
    const s = std.fmt.bufPrintZ(&create_error, fmt, args) catch blk: {
        create_error[create_error.len - 1] = 0;
        break :blk create_error[0 .. create_error.len - 1 :0];
    };
    _ = s;
}

fn fail(rt: ?*Runtime, err: Error) c_int {
    const st = statusOf(err);
    if (rt) |r| {
        if (st == .internal) r.setError("internal error: {s}", .{@errorName(err)}) else if (r.last_error_len == 0) r.setError("{s}", .{pi5.runtime.describe(err)});
    }
    return @intFromEnum(st);
}

fn begin(rt: *Runtime) void {
    rt.last_error_len = 0;
}

pub export fn pi5_api_version() callconv(.c) u32 {
    const v = pi5.runtime.version;
    return @intCast((v.major << 16) | (v.minor << 8) | v.patch);
}

pub export fn pi5_version_string() callconv(.c) [*:0]const u8 {
    return pi5.runtime.version_string;
}

pub export fn pi5_status_string(status: c_int) callconv(.c) [*:0]const u8 {
    const st = std.meta.intToEnum(Status, status) catch return "unknown status";
    return switch (st) {
        .ok => "ok",
        .invalid_argument => "invalid argument",
        .out_of_memory => "out of host memory",
        .buffer_too_small => "buffer too small",
        .no_device => "no usable Vulkan device",
        .out_of_device_memory => "out of device memory",
        .device_lost => "Vulkan device lost",
        .timeout => "GPU submission timed out",
        .unsupported => "not supported by this device or build",
        .io => "file input/output error",
        .invalid_model => "invalid or unsupported model file",
        .no_model => "no model loaded",
        .context_full => "context full",
        .aborted => "aborted by callback",
        .vulkan => "Vulkan error",
        .internal => "internal error",
    };
}

pub export fn pi5_runtime_default_options() callconv(.c) RuntimeOptionsC {
    return .{
        .struct_size = @sizeOf(RuntimeOptionsC),
        .backend = 0,
        .device = null,
        .limits = 0,
        .validate = -1,
        .timeout_ms = 0,
        .n_threads = 0,
        .log_level = @intFromEnum(pi5.log.Level.warn),
        .log_callback = null,
        .log_user_data = null,
    };
}

pub export fn pi5_create_runtime() callconv(.c) ?*Runtime {
    var rt: ?*Runtime = null;
    _ = pi5_create_runtime_ex(null, &rt);
    return rt;
}

/// Validates the C options and converts them; error.InvalidOption (naming the field in `bad`)
/// on an out-of-range value.
fn convertOptions(o: *const RuntimeOptionsC, bad: *[]const u8) error{InvalidOption}!pi5.runtime.Options {
    errdefer |e| if (e == error.InvalidOption and bad.len == 0) {
        bad.* = "?";
    };
    if (o.struct_size != @sizeOf(RuntimeOptionsC)) {
        bad.* = "struct_size";
        return error.InvalidOption;
    }
    const level = std.meta.intToEnum(pi5.log.Level, o.log_level) catch {
        bad.* = "log_level";
        return error.InvalidOption;
    };
    const backend: ?pi5.runtime.Backend = switch (std.meta.intToEnum(BackendC, o.backend) catch {
        bad.* = "backend";
        return error.InvalidOption;
    }) {
        .auto => null,
        .cpu => .cpu,
        .vulkan => .vulkan,
    };
    const profile: ?pi5.vk.Profile = switch (std.meta.intToEnum(LimitsC, o.limits) catch {
        bad.* = "limits";
        return error.InvalidOption;
    }) {
        .from_env => null,
        .none => .none,
        .v3dv => .v3dv,
    };
    const validate: ?bool = switch (o.validate) {
        -1 => null,
        0 => false,
        1 => true,
        else => {
            bad.* = "validate";
            return error.InvalidOption;
        },
    };
    if (o.n_threads < 0) {
        bad.* = "n_threads";
        return error.InvalidOption;
    }
    return .{
        .backend = backend,
        .device = if (o.device) |d| std.mem.span(d) else null,
        .profile = profile,
        .validate = validate,
        .timeout_ms = if (o.timeout_ms == 0) 5000 else o.timeout_ms,
        .n_threads = @intCast(o.n_threads),
        .log = .{ .callback = o.log_callback, .user = o.log_user_data, .level = level },
    };
}

pub export fn pi5_create_runtime_ex(options: ?*const RuntimeOptionsC, out_runtime: ?*?*Runtime) callconv(.c) c_int {
    const out = out_runtime orelse return @intFromEnum(Status.invalid_argument);
    out.* = null;
    const defaults = pi5_runtime_default_options();
    var bad: []const u8 = "";
    const opts = convertOptions(options orelse &defaults, &bad) catch |e| {
        const log: pi5.log.Log = if (options) |o| .{ .callback = o.log_callback, .user = o.log_user_data } else .{};
        setCreateError("pi5_create_runtime_ex: invalid options: {s} is out of range", .{bad});
        log.err("{s}", .{std.mem.sliceTo(&create_error, 0)});
        return fail(null, e);
    };
    const rt = Runtime.create(gpa, opts) catch |e| {
        setCreateError("pi5_create_runtime: {s}", .{pi5.runtime.describe(e)});
        opts.log.warn("{s}", .{std.mem.sliceTo(&create_error, 0)});
        return fail(null, e);
    };
    create_error[0] = 0;
    out.* = rt;
    return @intFromEnum(Status.ok);
}

pub export fn pi5_destroy_runtime(rt: ?*Runtime) callconv(.c) void {
    if (rt) |r| r.destroy();
}

pub export fn pi5_runtime_backend(rt: ?*const Runtime) callconv(.c) c_int {
    const r = rt orelse return @intFromEnum(BackendC.cpu);
    return @intFromEnum(@as(BackendC, switch (r.backend) {
        .vulkan => .vulkan,
        else => .cpu,
    }));
}

pub export fn pi5_last_error(rt: ?*Runtime) callconv(.c) [*:0]const u8 {
    const r = rt orelse return @ptrCast(&create_error);
    // The buffer holds the message plus a terminating NUL written here.
    const n = @min(r.last_error_len, r.last_error.len - 1);
    r.last_error[n] = 0;
    return @ptrCast(&r.last_error);
}

/// Copies `s` into a caller buffer per the header's convention.
pub fn writeOut(s: []const u8, buf: ?[*]u8, buf_size: usize, out_len: ?*usize) Status {
    if (out_len) |l| l.* = s.len;
    // (NULL, 0, &len) asks for the size; with no buffer and nowhere to put the size, nothing is asked.
    const b = buf orelse return if (buf_size == 0 and out_len != null) .buffer_too_small else .invalid_argument;
    if (s.len + 1 > buf_size) {
        if (buf_size > 0) b[0] = 0;
        return .buffer_too_small;
    }
    @memcpy(b[0..s.len], s);
    b[s.len] = 0;
    return .ok;
}

pub export fn pi5_runtime_report(rt: ?*Runtime, buf: ?[*]u8, buf_size: usize, out_len: ?*usize) callconv(.c) c_int {
    if (out_len) |l| l.* = 0;
    const r = rt orelse return @intFromEnum(Status.invalid_argument);
    begin(r);
    const json = r.reportJson(gpa) catch |e| return fail(r, e);
    defer gpa.free(json);
    const st = writeOut(json, buf, buf_size, out_len);
    if (st == .invalid_argument) r.setError("pi5_runtime_report: buf is NULL with a nonzero size, or both buf and out_len are NULL", .{});
    return @intFromEnum(st);
}

test {
    _ = pi5;
    _ = @import("abi_header_test.zig");
    _ = @import("tidy_test.zig");
    _ = @import("hostile_test.zig");
    _ = @import("hostile_fuzz_test.zig");
}

test "NULL and invalid arguments return a status" {
    try std.testing.expectEqual(@as(c_int, -1), pi5_create_runtime_ex(null, null));
    var opts = pi5_runtime_default_options();
    opts.backend = 7;
    var rt: ?*Runtime = undefined;
    opts.log_level = 0;
    opts.log_callback = quiet;
    try std.testing.expectEqual(@as(c_int, -1), pi5_create_runtime_ex(&opts, &rt));
    try std.testing.expect(rt == null);
    opts = pi5_runtime_default_options();
    opts.struct_size = 3;
    opts.log_callback = quiet;
    try std.testing.expectEqual(@as(c_int, -1), pi5_create_runtime_ex(&opts, &rt));
    pi5_destroy_runtime(null);
    try std.testing.expectEqual(@as(c_int, -1), pi5_runtime_report(null, null, 0, null));
    try std.testing.expect(std.mem.indexOf(u8, std.mem.span(pi5_last_error(null)), "struct_size") != null);
    try std.testing.expectEqualStrings("unknown status", std.mem.span(pi5_status_string(-999)));
}

fn quiet(level: i32, message: [*:0]const u8, user: ?*anyopaque) callconv(.c) void {
    _ = level;
    _ = message;
    _ = user;
}

test "report fits or says how much it needs" {
    var opts = pi5_runtime_default_options();
    opts.backend = 1;
    var rt: ?*Runtime = null;
    try std.testing.expectEqual(@as(c_int, 0), pi5_create_runtime_ex(&opts, &rt));
    defer pi5_destroy_runtime(rt);
    var need: usize = 0;
    var small: [4]u8 = undefined;
    try std.testing.expectEqual(@as(c_int, -3), pi5_runtime_report(rt, &small, small.len, &need));
    try std.testing.expect(need > 4);
    const big = try std.testing.allocator.alloc(u8, need + 1);
    defer std.testing.allocator.free(big);
    var got: usize = 0;
    try std.testing.expectEqual(@as(c_int, 0), pi5_runtime_report(rt, big.ptr, big.len, &got));
    try std.testing.expectEqual(need, got);
    try std.testing.expectEqual(@as(c_int, 1), pi5_runtime_backend(rt));
}
