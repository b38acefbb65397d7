//! Tests of the Vulkan layer on whatever device is present (lavapipe in CI), run by the build
//! with PI5_VALIDATE=1 and once more with PI5_LIMITS=v3dv. Every test ends by asserting that the
//! validation layer said nothing.
const std = @import("std");
const vk = @import("vk.zig");
const testing = std.testing;

/// A context as the test environment asks for (limits profile, validation); skips when no
/// Vulkan device exists unless PI5_REQUIRE_VULKAN=1 (CI sets it, so a missing driver fails).
pub fn testContext(opts: struct { timeout_ns: u64 = 10 * std.time.ns_per_s }) !*vk.Context {
    const profile = vk.Profile.parse(std.posix.getenv("PI5_LIMITS") orelse "") orelse .none;
    const validate = if (std.posix.getenv("PI5_VALIDATE")) |v| std.mem.eql(u8, v, "1") else false;
    return vk.Context.create(testing.allocator, .{
        .profile = profile,
        .validate = validate,
        .timeout_ns = opts.timeout_ns,
        .device = std.posix.getenv("PI5_DEVICE"),
        .log = .{ .level = .warn },
    }) catch |e| {
        const required = if (std.posix.getenv("PI5_REQUIRE_VULKAN")) |v| std.mem.eql(u8, v, "1") else false;
        if (!required and (e == error.VulkanLoaderMissing or e == error.NoVulkanDevice)) return error.SkipZigTest;
        return e;
    };
}

/// Fails the test when validation is on and reported anything.
pub fn expectNoValidationMessages(ctx: *vk.Context) !void {
    if (std.posix.getenv("PI5_VALIDATE")) |v| {
        if (std.mem.eql(u8, v, "1")) try testing.expect(ctx.validation_active);
    }
    try testing.expectEqual(@as(u32, 0), ctx.validation_messages.load(.monotonic));
}

test "vk: the device report is filled and the profile is applied" {
    const ctx = try testContext(.{});
    defer ctx.destroy();
    const r = &ctx.report;
    try testing.expect(r.deviceName().len > 0);
    try testing.expect(r.maxWorkgroup1D() >= 64);
    try testing.expect(r.max_storage_buffer_range >= 1 << 20);
    try testing.expect(r.n_heaps > 0 and r.n_types > 0);
    if (r.profile == .v3dv) {
        try testing.expect(r.maxWorkgroup1D() <= 256);
        try testing.expect(r.max_compute_shared_memory_size <= 16384);
        try testing.expect(!r.shader_float16 and !r.shader_int8 and !r.cooperative_matrix_nv and !r.hasSubgroupArithmetic());
        try testing.expect(r.max_storage_buffers_per_stage <= 8 and r.max_push_constants_size <= 128);
    }
    var buf = std.ArrayList(u8).init(testing.allocator);
    defer buf.deinit();
    try r.writeJson(buf.writer());
    const parsed = try std.json.parseFromSlice(std.json.Value, testing.allocator, buf.items, .{});
    defer parsed.deinit();
    try testing.expectEqualStrings(r.deviceName(), parsed.value.object.get("name").?.string);
    try expectNoValidationMessages(ctx);
}

fn pattern(buf: []u8, seed: u64) void {
    var rng = std.Random.DefaultPrng.init(seed);
    rng.random().bytes(buf);
}

test "vk: host -> device -> host round trip of 1 KiB" {
    const ctx = try testContext(.{});
    defer ctx.destroy();
    var src: [1024]u8 = undefined;
    pattern(&src, 1);
    var buf = try ctx.mem.createBuffer(src.len, .{});
    defer ctx.mem.destroyBuffer(&buf);
    try ctx.mem.upload(&buf, 0, &src);
    var dst: [1024]u8 = undefined;
    @memset(&dst, 0xAA);
    try ctx.mem.download(&buf, 0, &dst);
    try testing.expectEqualSlices(u8, &src, &dst);
    // Partial, unaligned ranges too.
    try ctx.mem.upload(&buf, 3, src[0..100]);
    try ctx.mem.download(&buf, 3, dst[0..100]);
    try testing.expectEqualSlices(u8, src[0..100], dst[0..100]);
    try expectNoValidationMessages(ctx);
}

test "vk: a buffer larger than maxStorageBufferRange is split and round-trips" {
    const ctx = try testContext(.{});
    defer ctx.destroy();
    // The real limit where it is modest (lavapipe and v3dv: 128 MiB); a forced 256 MiB chunk on
    // devices whose limit is gigabytes, so the test stays affordable there too.
    const range = @min(ctx.report.max_storage_buffer_range, 256 << 20);
    const size = range + 4096 + 17;
    const unit: u64 = 4096;
    var buf = try ctx.mem.createBuffer(size, .{ .split_unit = unit, .max_chunk_bytes = range });
    defer ctx.mem.destroyBuffer(&buf);
    try testing.expect(buf.chunks.len >= 2);
    for (buf.chunks) |ch| {
        try testing.expect(ch.size_bytes <= ctx.report.max_storage_buffer_range);
    }
    try testing.expect(buf.chunk_bytes % unit == 0);
    const src = try testing.allocator.alloc(u8, size);
    defer testing.allocator.free(src);
    pattern(src, 2);
    try ctx.mem.upload(&buf, 0, src);
    const dst = try testing.allocator.alloc(u8, size);
    defer testing.allocator.free(dst);
    @memset(dst, 0);
    try ctx.mem.download(&buf, 0, dst);
    try testing.expect(std.mem.eql(u8, src, dst));
    // A range that straddles the chunk boundary.
    const at = buf.chunk_bytes - 100;
    try ctx.mem.download(&buf, at, dst[0..300]);
    try testing.expectEqualSlices(u8, src[at..][0..300], dst[0..300]);
    try expectNoValidationMessages(ctx);
}

fn runBinary(ctx: *vk.Context, name: vk.Shader, a: []const f32, b: []const f32, out: []f32) !void {
    var ba = try ctx.mem.createBuffer(a.len * 4, .{});
    defer ctx.mem.destroyBuffer(&ba);
    var bb = try ctx.mem.createBuffer(b.len * 4, .{});
    defer ctx.mem.destroyBuffer(&bb);
    var bd = try ctx.mem.createBuffer(out.len * 4, .{});
    defer ctx.mem.destroyBuffer(&bd);
    try ctx.mem.upload(&ba, 0, std.mem.sliceAsBytes(a));
    try ctx.mem.upload(&bb, 0, std.mem.sliceAsBytes(b));
    const local = ctx.report.maxWorkgroup1D();
    const pl = try ctx.pipelines.get(.{ .shader = name, .n_buffers = 3, .push_bytes = 12, .spec = &.{local} });
    const groups = vk.grid1D(&ctx.report, a.len, local);
    const push = [3]u32{ @intCast(a.len), @intCast(b.len), groups[0] * local };
    var seq = try vk.Sequence.init(ctx, 0);
    defer seq.deinit();
    try seq.begin();
    seq.fill(&bd, 0x7fc00001); // poison: a NaN that no add/mul of finite inputs produces
    seq.barrier();
    try seq.dispatch(pl, &.{ .{ .buffer = &ba }, .{ .buffer = &bb }, .{ .buffer = &bd } }, std.mem.asBytes(&push), groups);
    try seq.end();
    try seq.submit();
    try ctx.mem.download(&bd, 0, std.mem.sliceAsBytes(out));
}

test "vk: a compute dispatch matches the CPU" {
    const ctx = try testContext(.{});
    defer ctx.destroy();
    const n = 100_003; // not a multiple of any workgroup size
    const n_b = 37;
    const a = try testing.allocator.alloc(f32, n);
    defer testing.allocator.free(a);
    var b: [n_b]f32 = undefined;
    var rng = std.Random.DefaultPrng.init(3);
    for (a) |*x| x.* = rng.random().floatNorm(f32);
    for (&b) |*x| x.* = rng.random().floatNorm(f32);
    const out = try testing.allocator.alloc(f32, n);
    defer testing.allocator.free(out);
    for ([_]vk.Shader{ .add_f32, .mul_f32 }) |op| {
        try runBinary(ctx, op, a, &b, out);
        for (a, out, 0..) |x, y, i| {
            const want = if (op == .add_f32) x + b[i % n_b] else x * b[i % n_b];
            try testing.expectEqual(want, y);
        }
    }
    try expectNoValidationMessages(ctx);
}

test "vk: a replayed sequence re-runs without re-recording" {
    const ctx = try testContext(.{});
    defer ctx.destroy();
    const n = 1000;
    var a: [n]f32 = undefined;
    for (&a, 0..) |*x, i| x.* = @floatFromInt(i);
    var ba = try ctx.mem.createBuffer(n * 4, .{});
    defer ctx.mem.destroyBuffer(&ba);
    var one = try ctx.mem.createBuffer(4, .{});
    defer ctx.mem.destroyBuffer(&one);
    try ctx.mem.upload(&ba, 0, std.mem.sliceAsBytes(&a));
    try ctx.mem.upload(&one, 0, std.mem.asBytes(&@as(f32, 1.0)));
    const local = ctx.report.maxWorkgroup1D();
    const pl = try ctx.pipelines.get(.{ .shader = .add_f32, .n_buffers = 3, .push_bytes = 12, .spec = &.{local} });
    const created = ctx.pipelines.created;
    _ = try ctx.pipelines.get(.{ .shader = .add_f32, .n_buffers = 3, .push_bytes = 12, .spec = &.{local} });
    try testing.expectEqual(created, ctx.pipelines.created);
    const groups = vk.grid1D(&ctx.report, n, local);
    const push = [3]u32{ n, 1, groups[0] * local };
    var seq = try vk.Sequence.init(ctx, 4);
    defer seq.deinit();
    try seq.begin();
    // In place: a += 1.
    try seq.dispatch(pl, &.{ .{ .buffer = &ba }, .{ .buffer = &one }, .{ .buffer = &ba } }, std.mem.asBytes(&push), groups);
    try seq.end();
    for (0..5) |_| try seq.submit();
    try testing.expectEqual(@as(u32, 1), seq.n_recordings);
    var out: [n]f32 = undefined;
    try ctx.mem.download(&ba, 0, std.mem.sliceAsBytes(&out));
    for (out, 0..) |y, i| try testing.expectEqual(@as(f32, @floatFromInt(i)) + 5, y);
    try expectNoValidationMessages(ctx);
}

test "vk: a submission that outlives the timeout returns GpuTimeout, then refuses work" {
    const ctx = try testContext(.{ .timeout_ns = 1 * std.time.ns_per_ms });
    defer ctx.destroy();
    const local: u32 = @min(64, ctx.report.maxWorkgroup1D());
    // llvmpipe caps shader loops (~65535 iterations), so length comes from many dependent
    // dispatches of one workgroup: ~1 s on lavapipe, ~0.1 s on an H100, far past 1 ms anywhere.
    const n_inv = local;
    var out = try ctx.mem.createBuffer(n_inv * 4, .{});
    defer ctx.mem.destroyBuffer(&out);
    const pl = try ctx.pipelines.get(.{ .shader = .spin, .n_buffers = 1, .push_bytes = 4, .spec = &.{local} });
    const outer: u32 = 1;
    var seq = try vk.Sequence.init(ctx, 0);
    defer seq.deinit();
    try seq.begin();
    for (0..300) |_| {
        try seq.dispatch(pl, &.{.{ .buffer = &out }}, std.mem.asBytes(&outer), .{ 1, 1, 1 });
        seq.barrier();
    }
    try seq.end();
    try testing.expectError(error.GpuTimeout, seq.submit());
    try testing.expectError(error.GpuTimeout, seq.submit());
    var buf: [4]u8 = undefined;
    try testing.expectError(error.GpuTimeout, ctx.mem.download(&out, 0, &buf));
    try expectNoValidationMessages(ctx);
}

test "vk: requests beyond the device report fail with Unsupported" {
    const ctx = try testContext(.{});
    defer ctx.destroy();
    const r = &ctx.report;
    // (A variant that does not exist is a compile error: Desc.shader is an enum of the table.)
    try testing.expectError(error.Unsupported, ctx.pipelines.get(.{ .shader = .add_f32, .n_buffers = 3, .push_bytes = 12, .spec = &.{r.maxWorkgroup1D() + 1} }));
    try testing.expectError(error.Unsupported, ctx.pipelines.get(.{ .shader = .add_f32, .n_buffers = r.max_storage_buffers_per_stage + 1, .push_bytes = 12, .spec = &.{64} }));
    try testing.expectError(error.Unsupported, ctx.pipelines.get(.{ .shader = .add_f32, .n_buffers = 3, .push_bytes = r.max_push_constants_size + 4, .spec = &.{64} }));
    var b = try ctx.mem.createBuffer(16, .{});
    defer ctx.mem.destroyBuffer(&b);
    const pl = try ctx.pipelines.get(.{ .shader = .add_f32, .n_buffers = 3, .push_bytes = 12, .spec = &.{64} });
    var seq = try vk.Sequence.init(ctx, 0);
    defer seq.deinit();
    try seq.begin();
    const push = [3]u32{ 4, 4, 4 };
    try testing.expectError(error.Unsupported, seq.dispatch(pl, &.{ .{ .buffer = &b }, .{ .buffer = &b }, .{ .buffer = &b } }, std.mem.asBytes(&push), .{ r.max_compute_work_group_count[0] + 1, 1, 1 }));
    try testing.expectError(error.Unsupported, seq.dispatch(pl, &.{.{ .buffer = &b }}, std.mem.asBytes(&push), .{ 1, 1, 1 }));
    try seq.end();
    var big: [32]u8 = undefined;
    try testing.expectError(error.VulkanFailed, ctx.mem.download(&b, 0, &big));
    try expectNoValidationMessages(ctx);
}

test "vk: an unknown device name is an error" {
    const profile = vk.Profile.parse(std.posix.getenv("PI5_LIMITS") orelse "") orelse .none;
    const r = vk.Context.create(testing.allocator, .{ .device = "no-such-gpu-xyz", .profile = profile, .log = .{ .level = .err } });
    if (r) |ctx| {
        ctx.destroy();
        return error.TestUnexpectedResult;
    } else |e| switch (e) {
        error.DeviceNotFound => {},
        error.VulkanLoaderMissing, error.NoVulkanDevice => return error.SkipZigTest,
        else => return e,
    }
}
