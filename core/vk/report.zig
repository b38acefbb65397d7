//! The capability report: what the chosen device can do, after the limits profile. Kernels and
//! planners read limits and features only from here, so a profile that clamps this report makes
//! any device take the code paths of the device it imitates.
const std = @import("std");

pub const DeviceType = enum { other, integrated, discrete, virtual, cpu };

/// Subgroup operation classes (VkSubgroupFeatureFlagBits).
pub const SubgroupOps = packed struct(u32) {
    basic: bool = false,
    vote: bool = false,
    arithmetic: bool = false,
    ballot: bool = false,
    shuffle: bool = false,
    shuffle_relative: bool = false,
    clustered: bool = false,
    quad: bool = false,
    _pad: u24 = 0,
};

pub const Heap = struct { size_bytes: u64, device_local: bool };
pub const MemType = struct { heap: u32, device_local: bool, host_visible: bool, host_coherent: bool, host_cached: bool };

pub const Profile = enum {
    none,
    /// Raspberry Pi 5, Mesa V3DV 24-25.
    v3dv,

    pub fn parse(s: []const u8) ?Profile {
        if (s.len == 0 or std.mem.eql(u8, s, "none") or std.mem.eql(u8, s, "default")) return .none;
        if (std.ascii.eqlIgnoreCase(s, "v3dv") or std.ascii.eqlIgnoreCase(s, "pi5")) return .v3dv;
        return null;
    }
};

pub const Report = struct {
    device_name: [256]u8 = undefined,
    device_name_len: usize = 0,
    driver_name: [256]u8 = undefined,
    driver_name_len: usize = 0,
    driver_info: [256]u8 = undefined,
    driver_info_len: usize = 0,
    device_index: u32 = 0,
    api_version: u32 = 0,
    driver_version: u32 = 0,
    vendor_id: u32 = 0,
    device_id: u32 = 0,
    device_type: DeviceType = .other,
    profile: Profile = .none,

    // features (what the device has and we enable, after the profile)
    shader_float16: bool = false,
    shader_int8: bool = false,
    /// 16-bit integer arithmetic (Int16 capability).
    shader_int16: bool = false,
    storage_16bit: bool = false,
    storage_8bit: bool = false,
    integer_dot_product: bool = false,
    cooperative_matrix_nv: bool = false,
    subgroup_size_control: bool = false,

    subgroup_size: u32 = 1,
    min_subgroup_size: u32 = 1,
    max_subgroup_size: u32 = 1,
    subgroup_ops: SubgroupOps = .{},
    subgroup_in_compute: bool = false,

    // limits
    max_storage_buffer_range: u64 = 0,
    max_buffer_size: u64 = 0,
    max_memory_allocation_size: u64 = 0,
    max_compute_shared_memory_size: u32 = 0,
    max_compute_work_group_invocations: u32 = 0,
    max_compute_work_group_size: [3]u32 = .{ 0, 0, 0 },
    max_compute_work_group_count: [3]u32 = .{ 0, 0, 0 },
    max_push_constants_size: u32 = 0,
    max_storage_buffers_per_stage: u32 = 0,
    min_storage_buffer_offset_alignment: u64 = 1,
    non_coherent_atom_size: u64 = 1,
    timestamp_period_ns: f32 = 0,
    timestamps: bool = false,

    heaps: [16]Heap = undefined,
    n_heaps: u32 = 0,
    types: [32]MemType = undefined,
    n_types: u32 = 0,
    /// Every device-local heap is host-visible through some memory type (the Pi 5, integrated
    /// GPUs, lavapipe): tensors are written in place, with no staging copy.
    uma: bool = false,

    pub fn deviceName(self: *const Report) []const u8 {
        return self.device_name[0..self.device_name_len];
    }
    pub fn driverName(self: *const Report) []const u8 {
        return self.driver_name[0..self.driver_name_len];
    }
    pub fn driverInfo(self: *const Report) []const u8 {
        return self.driver_info[0..self.driver_info_len];
    }

    /// Largest workgroup a 1-D kernel may use: the invocation limit, capped by dimension x.
    pub fn maxWorkgroup1D(self: *const Report) u32 {
        return @min(self.max_compute_work_group_invocations, self.max_compute_work_group_size[0]);
    }

    /// Subgroup arithmetic (subgroupAdd and friends) usable in compute shaders.
    pub fn hasSubgroupArithmetic(self: *const Report) bool {
        return self.subgroup_in_compute and self.subgroup_ops.arithmetic;
    }

    /// Total bytes of device-local heaps (the GPU memory budget's ceiling).
    pub fn deviceLocalBytes(self: *const Report) u64 {
        var total: u64 = 0;
        for (self.heaps[0..self.n_heaps]) |h| {
            if (h.device_local) total += h.size_bytes;
        }
        return total;
    }

    /// Clamps limits and switches off features to those of the profile's device. Only ever
    /// lowers: a profile never claims more than the device has.
    pub fn applyProfile(self: *Report, profile: Profile) void {
        self.profile = profile;
        switch (profile) {
            .none => {},
            .v3dv => {
                // V3DV (Mesa 24-25) on the VideoCore VII.
                self.max_compute_work_group_invocations = @min(self.max_compute_work_group_invocations, 256);
                for (&self.max_compute_work_group_size) |*s| s.* = @min(s.*, 256);
                for (&self.max_compute_work_group_count) |*s| s.* = @min(s.*, 65535);
                self.max_compute_shared_memory_size = @min(self.max_compute_shared_memory_size, 16384);
                // 1 GiB since Mesa 22.3, 128 MiB before: take the older bound so every Pi OS works.
                self.max_storage_buffer_range = @min(self.max_storage_buffer_range, 128 << 20);
                self.max_storage_buffers_per_stage = @min(self.max_storage_buffers_per_stage, 8);
                self.max_push_constants_size = @min(self.max_push_constants_size, 128);
                self.max_memory_allocation_size = @min(self.max_memory_allocation_size, 1 << 30);
                self.max_buffer_size = @min(self.max_buffer_size, 1 << 30);
                // No fp16 or int8 arithmetic, no integer dot product, no cooperative matrix; older
                // Mesa has only basic/vote/ballot/shuffle subgroup operations.
                self.shader_float16 = false;
                self.shader_int8 = false;
                self.shader_int16 = false;
                self.integer_dot_product = false;
                self.cooperative_matrix_nv = false;
                self.subgroup_ops = .{
                    .basic = self.subgroup_ops.basic,
                    .vote = self.subgroup_ops.vote,
                    .ballot = self.subgroup_ops.ballot,
                    .shuffle = self.subgroup_ops.shuffle,
                };
                self.subgroup_size_control = false;
                for (self.heaps[0..self.n_heaps]) |*h| h.size_bytes = @min(h.size_bytes, 4 << 30);
            },
        }
    }

    /// Writes the report as one JSON object.
    pub fn writeJson(self: *const Report, w: anytype) !void {
        var jw = std.json.writeStream(w, .{});
        try self.jsonFields(&jw);
    }

    pub fn jsonFields(self: *const Report, jw: anytype) !void {
        try jw.beginObject();
        try jw.objectField("name");
        try jw.write(self.deviceName());
        try jw.objectField("index");
        try jw.write(self.device_index);
        try jw.objectField("type");
        try jw.write(@tagName(self.device_type));
        var buf: [32]u8 = undefined;
        try jw.objectField("api_version");
        try jw.write(versionString(&buf, self.api_version));
        try jw.objectField("driver");
        try jw.write(self.driverName());
        try jw.objectField("driver_info");
        try jw.write(self.driverInfo());
        try jw.objectField("driver_version");
        try jw.write(self.driver_version);
        try jw.objectField("vendor_id");
        try jw.write(self.vendor_id);
        try jw.objectField("device_id");
        try jw.write(self.device_id);
        try jw.objectField("limits_profile");
        try jw.write(@tagName(self.profile));

        try jw.objectField("features");
        try jw.beginObject();
        inline for (.{ "shader_float16", "shader_int8", "shader_int16", "storage_16bit", "storage_8bit", "integer_dot_product", "cooperative_matrix_nv", "subgroup_size_control", "timestamps" }) |f| {
            try jw.objectField(f);
            try jw.write(@field(self, f));
        }
        try jw.endObject();

        try jw.objectField("subgroup");
        try jw.beginObject();
        try jw.objectField("size");
        try jw.write(self.subgroup_size);
        try jw.objectField("min_size");
        try jw.write(self.min_subgroup_size);
        try jw.objectField("max_size");
        try jw.write(self.max_subgroup_size);
        try jw.objectField("in_compute");
        try jw.write(self.subgroup_in_compute);
        try jw.objectField("operations");
        try jw.beginArray();
        inline for (@typeInfo(SubgroupOps).@"struct".fields) |f| {
            if (comptime !std.mem.eql(u8, f.name, "_pad")) {
                if (@field(self.subgroup_ops, f.name)) try jw.write(f.name);
            }
        }
        try jw.endArray();
        try jw.endObject();

        try jw.objectField("limits");
        try jw.beginObject();
        inline for (.{
            "max_storage_buffer_range",            "max_buffer_size",                    "max_memory_allocation_size",
            "max_compute_shared_memory_size",      "max_compute_work_group_invocations", "max_compute_work_group_size",
            "max_compute_work_group_count",        "max_push_constants_size",            "max_storage_buffers_per_stage",
            "min_storage_buffer_offset_alignment", "timestamp_period_ns",
        }) |f| {
            try jw.objectField(f);
            try jw.write(@field(self, f));
        }
        try jw.endObject();

        try jw.objectField("memory");
        try jw.beginObject();
        try jw.objectField("uma");
        try jw.write(self.uma);
        try jw.objectField("heaps");
        try jw.write(self.heaps[0..self.n_heaps]);
        try jw.objectField("types");
        try jw.write(self.types[0..self.n_types]);
        try jw.endObject();
        try jw.endObject();
    }
};

pub fn versionString(buf: []u8, v: u32) []const u8 {
    return std.fmt.bufPrint(buf, "{d}.{d}.{d}", .{ v >> 22 & 0x7f, v >> 12 & 0x3ff, v & 0xfff }) catch "?";
}

test "the v3dv profile only lowers" {
    var r = Report{};
    r.max_compute_work_group_invocations = 1024;
    r.max_compute_work_group_size = .{ 1024, 1024, 64 };
    r.max_compute_shared_memory_size = 49152;
    r.max_storage_buffer_range = 1 << 32;
    r.max_storage_buffers_per_stage = 1 << 20;
    r.max_push_constants_size = 256;
    r.shader_float16 = true;
    r.cooperative_matrix_nv = true;
    r.subgroup_ops = .{ .basic = true, .arithmetic = true, .shuffle = true };
    r.applyProfile(.v3dv);
    try std.testing.expectEqual(@as(u32, 256), r.maxWorkgroup1D());
    try std.testing.expectEqual(@as(u32, 16384), r.max_compute_shared_memory_size);
    try std.testing.expectEqual(@as(u64, 128 << 20), r.max_storage_buffer_range);
    try std.testing.expect(!r.shader_float16 and !r.cooperative_matrix_nv and !r.hasSubgroupArithmetic());
    try std.testing.expect(r.subgroup_ops.shuffle);

    var small = Report{};
    small.max_compute_work_group_invocations = 128;
    small.applyProfile(.v3dv);
    try std.testing.expectEqual(@as(u32, 128), small.max_compute_work_group_invocations);
}
