//! The C header against its Zig mirrors, checked by the compiler (TigerBeetle's C client does
//! the same): include/pi5_llm_rt.h is @cImported and, at comptime, every enum constant, struct
//! size, alignment and field offset, and every function's parameters and result are compared
//! with core/abi*.zig, in both directions (nothing in the header without a mirror, nothing
//! exported without a declaration). A mismatch is a compile error of the test binary naming
//! what differs. A run-time test checks the header's error -> status table against statusOf.
const std = @import("std");
const abi = @import("abi.zig");
const abi_model = @import("abi_model.zig");
const abi_graph = @import("abi_graph.zig");
const abi_files = @import("abi_files.zig");
const pi5 = @import("root.zig");

const h = @cImport(@cInclude("pi5_llm_rt.h"));

/// The Zig files that export the ABI.
const exporters = .{ abi, abi_model, abi_graph, abi_files };

/// Each header enum: its C typedef, the Zig enum, the constants' prefix, and Zig field names
/// whose C name is not simply the upper-cased field name.
const enums = .{
    .{ "pi5_status", abi.Status, "PI5_ERR_", .{.{ "ok", "PI5_OK" }} },
    .{ "pi5_backend", abi.BackendC, "PI5_BACKEND_", .{} },
    .{ "pi5_limits_profile", abi.LimitsC, "PI5_LIMITS_", .{} },
    .{ "pi5_log_level", pi5.log.Level, "PI5_LOG_", .{.{ "err", "PI5_LOG_ERROR" }} },
    .{ "pi5_kv_type", abi_model.KvTypeC, "PI5_KV_", .{} },
    .{ "pi5_stop_reason", pi5.generate.StopReason, "PI5_STOP_", .{.{ "stop_string", "PI5_STOP_STRING" }} },
    .{ "pi5_graph_policy", abi_graph.PolicyC, "PI5_GRAPH_POLICY_", .{} },
    .{ "pi5_graph_op_kind", abi_graph.OpC, "PI5_GRAPH_OP_", .{} },
};

/// Each header struct passed by value or pointer, and its Zig mirror.
const structs = .{
    .{ "pi5_runtime_options", abi.RuntimeOptionsC },
    .{ "pi5_model_options", abi_model.ModelOptionsC },
    .{ "pi5_sampling_params", abi_model.SamplingParamsC },
    .{ "pi5_generate_options", abi_model.GenerateOptionsC },
    .{ "pi5_generate_result", abi_model.GenerateResultC },
    .{ "pi5_synth_options", abi_files.SynthOptionsC },
    .{ "pi5_graph_options", abi_graph.GraphOptionsC },
};

/// Handles: opaque in the header.
const opaques = .{ "pi5_runtime", "pi5_graph" };

/// Callback typedefs and their Zig types.
const callbacks = .{
    .{ "pi5_log_callback", pi5.log.Callback },
    .{ "pi5_progress_callback", abi_model.ProgressCallback },
    .{ "pi5_token_callback", abi_model.TokenCallback },
};

fn upper(comptime s: []const u8) []const u8 {
    comptime {
        @setEvalBranchQuota(10_000);
        var out: [s.len]u8 = undefined;
        for (s, 0..) |c, i| out[i] = std.ascii.toUpper(c);
        const final = out;
        return &final;
    }
}

fn cName(comptime prefix: []const u8, comptime renames: anytype, comptime field: []const u8) []const u8 {
    inline for (renames) |r| if (comptime std.mem.eql(u8, r[0], field)) return r[1];
    return prefix ++ upper(field);
}

fn isRenamed(comptime renames: anytype, comptime c_name: []const u8) bool {
    inline for (renames) |r| if (comptime std.mem.eql(u8, r[1], c_name)) return true;
    return false;
}

fn startsWith(comptime s: []const u8, comptime p: []const u8) bool {
    return s.len >= p.len and std.mem.eql(u8, s[0..p.len], p);
}

fn isListed(comptime list: anytype, comptime name: []const u8) bool {
    inline for (list) |e| {
        const n = if (@typeInfo(@TypeOf(e)) == .pointer) e else e[0];
        if (comptime std.mem.eql(u8, n, name)) return true;
    }
    return false;
}

/// What must agree between a C type and its Zig mirror: integers and floats by width (C enums
/// are int-sized either signedness), pointers as pointers (nullable or not: C cannot say).
const Shape = union(enum) { int: u16, float: u16, pointer, void, bool, aggregate: struct { size: usize, alignment: usize } };

fn shapeOf(comptime T: type) Shape {
    return switch (@typeInfo(T)) {
        .int => |i| .{ .int = i.bits },
        .@"enum" => |e| .{ .int = @typeInfo(e.tag_type).int.bits },
        .float => |f| .{ .float = f.bits },
        .pointer => .pointer,
        .optional => |o| switch (@typeInfo(o.child)) {
            .pointer => .pointer,
            else => @compileError("optional of a non-pointer in the ABI: " ++ @typeName(T)),
        },
        .void => .void,
        .bool => .bool,
        .@"struct" => .{ .aggregate = .{ .size = @sizeOf(T), .alignment = @alignOf(T) } },
        else => @compileError("unexpected type in the ABI: " ++ @typeName(T)),
    };
}

fn expectSameShape(comptime what: []const u8, comptime C: type, comptime Z: type) void {
    if (!std.meta.eql(shapeOf(C), shapeOf(Z)))
        @compileError(what ++ ": the header has " ++ @typeName(C) ++ ", Zig has " ++ @typeName(Z));
}

fn expectSameFn(comptime what: []const u8, comptime C: type, comptime Z: type) void {
    const c = @typeInfo(C).@"fn";
    const z = @typeInfo(Z).@"fn";
    if (c.params.len != z.params.len)
        @compileError(std.fmt.comptimePrint("{s}: {d} parameters in the header, {d} in Zig", .{ what, c.params.len, z.params.len }));
    if (!std.meta.eql(z.calling_convention, std.builtin.CallingConvention.c)) @compileError(what ++ ": not callconv(.c)");
    for (c.params, z.params, 0..) |cp, zp, i|
        expectSameShape(std.fmt.comptimePrint("{s} parameter {d}", .{ what, i }), cp.type.?, zp.type.?);
    expectSameShape(what ++ " result", c.return_type.?, z.return_type.?);
}

fn fnPointee(comptime T: type) type {
    const P = switch (@typeInfo(T)) {
        .optional => |o| o.child,
        else => T,
    };
    return @typeInfo(P).pointer.child;
}

comptime {
    @setEvalBranchQuota(1_000_000);
    // Enums: every Zig value is the header's, and every header constant has a Zig value.
    for (enums) |e| {
        const Z = e[1];
        if (@sizeOf(@field(h, e[0])) != @sizeOf(Z)) @compileError(e[0] ++ " is not the size of " ++ @typeName(Z));
        for (@typeInfo(Z).@"enum".fields) |f| {
            const name = cName(e[2], e[3], f.name);
            if (!@hasDecl(h, name)) @compileError(@typeName(Z) ++ "." ++ f.name ++ ": the header has no " ++ name);
            if (@field(h, name) != f.value)
                @compileError(std.fmt.comptimePrint("{s} is {d} in the header, {s}.{s} is {d}", .{ name, @field(h, name), @typeName(Z), f.name, f.value }));
        }
    }
    for (@typeInfo(h).@"struct".decls) |d| {
        const n = d.name;
        // Enum typedefs and their constants.
        if (startsWith(n, "enum_pi5_") and !isListed(enums, n["enum_".len..]))
            @compileError("the header's enum " ++ n ++ " has no Zig mirror in abi_header_test.zig");
        const macro = startsWith(n, "PI5_API") or std.mem.eql(u8, n, "PI5_LLM_RT_H");
        if (startsWith(n, "PI5_") and !macro and !std.mem.endsWith(u8, n, "_FORCE_INT")) {
            const e = for (enums) |e| {
                if (startsWith(n, e[2]) or isRenamed(e[3], n)) break e;
            } else @compileError("the header's constant " ++ n ++ " belongs to no enum checked here");
            const found = for (@typeInfo(e[1]).@"enum".fields) |f| {
                if (std.mem.eql(u8, cName(e[2], e[3], f.name), n)) break true;
            } else false;
            if (!found) @compileError("the header's " ++ n ++ " has no value in " ++ @typeName(e[1]));
        }
        // Structs: each has a mirror of the same layout.
        if (startsWith(n, "struct_pi5_")) {
            const C = @field(h, n);
            const cn = n["struct_".len..];
            if (@typeInfo(C) == .@"opaque") {
                if (!isListed(opaques, cn)) @compileError("opaque " ++ cn ++ " is not listed in abi_header_test.zig");
            } else if (!isListed(structs, cn)) @compileError("the header's struct " ++ cn ++ " has no Zig mirror in abi_header_test.zig");
        }
        // Functions: each is exported by one of core/abi*.zig with the same signature.
        if (startsWith(n, "pi5_") and @typeInfo(@TypeOf(@field(h, n))) == .@"fn") {
            var n_found = 0;
            for (exporters) |m| if (@hasDecl(m, n)) {
                expectSameFn(n, @TypeOf(@field(h, n)), @TypeOf(@field(m, n)));
                n_found += 1;
            };
            if (n_found != 1) @compileError(std.fmt.comptimePrint("{s} is exported by {d} of core/abi*.zig (want 1; a pub export fn)", .{ n, n_found }));
        }
    }
    // Every pi5_* function the Zig side exports is declared in the header.
    for (exporters) |m| for (@typeInfo(m).@"struct".decls) |d| {
        if (startsWith(d.name, "pi5_") and @typeInfo(@TypeOf(@field(m, d.name))) == .@"fn" and !@hasDecl(h, d.name))
            @compileError(d.name ++ " is exported but not declared in include/pi5_llm_rt.h");
    };
    for (structs) |s| {
        const C = @field(h, "struct_" ++ s[0]);
        const Z = s[1];
        if (@sizeOf(C) != @sizeOf(Z) or @alignOf(C) != @alignOf(Z))
            @compileError(std.fmt.comptimePrint("{s}: size {d} align {d} in the header, {s}: size {d} align {d}", .{ s[0], @sizeOf(C), @alignOf(C), @typeName(Z), @sizeOf(Z), @alignOf(Z) }));
        const cf = @typeInfo(C).@"struct".fields;
        const zf = @typeInfo(Z).@"struct".fields;
        if (cf.len != zf.len) @compileError(std.fmt.comptimePrint("{s}: {d} fields in the header, {d} in Zig", .{ s[0], cf.len, zf.len }));
        for (zf) |f| {
            if (!@hasField(C, f.name)) @compileError(s[0] ++ " has no field " ++ f.name);
            if (@offsetOf(C, f.name) != @offsetOf(Z, f.name))
                @compileError(std.fmt.comptimePrint("{s}.{s}: offset {d} in the header, {d} in Zig", .{ s[0], f.name, @offsetOf(C, f.name), @offsetOf(Z, f.name) }));
            expectSameShape(s[0] ++ "." ++ f.name, @FieldType(C, f.name), f.type);
        }
    }
    for (callbacks) |cb| expectSameFn(cb[0], fnPointee(@field(h, cb[0])), fnPointee(cb[1]));
    if (h.PI5_API_VERSION != abi.pi5_api_version()) @compileError("PI5_API_VERSION differs from pi5_api_version()");
}

/// The table above pi5_status in the header: (status constant, Zig error names) rows.
fn readTable(alloc: std.mem.Allocator, header: []const u8) !std.StringHashMap([]const u8) {
    var map = std.StringHashMap([]const u8).init(alloc);
    errdefer map.deinit();
    const start = std.mem.indexOf(u8, header, "Which error of the Zig core becomes which status") orelse return error.TableMissing;
    var lines = std.mem.splitScalar(u8, header[start..], '\n');
    var status: ?[]const u8 = null;
    while (lines.next()) |line| {
        if (std.mem.startsWith(u8, line, " */") or std.mem.startsWith(u8, line, " * Why:")) break;
        if (!std.mem.startsWith(u8, line, " *   ")) continue;
        var words = std.mem.tokenizeScalar(u8, line[" *".len..], ' ');
        const first = words.next() orelse continue;
        if (std.mem.startsWith(u8, first, "PI5_")) status = first else words.reset();
        while (words.next()) |w| {
            const s = status orelse return error.TableMalformed;
            if (try map.fetchPut(w, s)) |_| {
                std.debug.print("error.{s} is listed twice in the header's table\n", .{w});
                return error.TableMalformed;
            }
        }
    }
    return map;
}

test "the header's error -> status table is statusOf, both ways" {
    @setEvalBranchQuota(100_000);
    const alloc = std.testing.allocator;
    const root = std.process.getEnvVarOwned(alloc, "PI5_TEST_ROOT") catch try alloc.dupe(u8, ".");
    defer alloc.free(root);
    const path = try std.fs.path.join(alloc, &.{ root, "include", "pi5_llm_rt.h" });
    defer alloc.free(path);
    const header = try std.fs.cwd().readFileAlloc(alloc, path, 1 << 20);
    defer alloc.free(header);
    var table = try readTable(alloc, header);
    defer table.deinit();
    var bad: usize = 0;
    inline for (@typeInfo(abi.Error).error_set.?) |e| {
        const c_name = comptime statusName(abi.statusOf(@field(abi.Error, e.name)));
        if (table.get(e.name)) |listed| {
            if (!std.mem.eql(u8, listed, c_name)) {
                std.debug.print("error.{s}: the header lists {s}, statusOf gives {s}\n", .{ e.name, listed, c_name });
                bad += 1;
            }
        } else {
            std.debug.print("error.{s} ({s}) is missing from the header's table\n", .{ e.name, c_name });
            bad += 1;
        }
    }
    var it = table.keyIterator();
    while (it.next()) |k| {
        const known = inline for (@typeInfo(abi.Error).error_set.?) |e| {
            if (std.mem.eql(u8, e.name, k.*)) break true;
        } else false;
        if (!known) {
            std.debug.print("the header's table lists {s}, which is not in abi.Error\n", .{k.*});
            bad += 1;
        }
    }
    try std.testing.expectEqual(@as(usize, 0), bad);
}

fn statusName(comptime s: abi.Status) []const u8 {
    return cName("PI5_ERR_", .{.{ "ok", "PI5_OK" }}, @tagName(s));
}
