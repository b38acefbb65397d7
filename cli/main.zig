//! pi5_llm_rt: the native command-line host. It uses the same public Zig API that the C ABI
//! exports (core/root.zig), nothing private.
const std = @import("std");
const pi5 = @import("pi5");

const usage =
    \\usage: pi5_llm_rt [options] [command]
    \\
    \\commands:
    \\  info                 print the runtime and device report (JSON)
    \\
    \\options:
    \\  --backend cpu|vulkan|auto   backend (default: PI5_BACKEND or auto)
    \\  --device N|NAME             Vulkan device by index or name substring
    \\  --limits v3dv|none          limits profile (v3dv: behave like the Raspberry Pi 5)
    \\  --threads N                 CPU threads (default: all cores)
    \\  --validate                  enable the Khronos validation layer
    \\  --verbose                   log at info level
    \\  -h, --help                  this text
    \\
;

pub const Args = struct {
    command: []const u8 = "info",
    rt: pi5.runtime.Options = .{},
};

fn parseArgs(argv: []const []const u8, out: *Args) !void {
    var i: usize = 0;
    while (i < argv.len) : (i += 1) {
        const a = argv[i];
        const next = struct {
            fn get(v: []const []const u8, idx: *usize, name: []const u8) ![]const u8 {
                idx.* += 1;
                if (idx.* >= v.len) {
                    std.debug.print("pi5_llm_rt: {s} needs a value\n", .{name});
                    return error.InvalidArgument;
                }
                return v[idx.*];
            }
        }.get;
        if (std.mem.eql(u8, a, "-h") or std.mem.eql(u8, a, "--help")) {
            try std.io.getStdOut().writeAll(usage);
            std.process.exit(0);
        } else if (std.mem.eql(u8, a, "--backend")) {
            const v = try next(argv, &i, a);
            out.rt.backend = std.meta.stringToEnum(pi5.runtime.Backend, v) orelse {
                std.debug.print("pi5_llm_rt: --backend must be cpu, vulkan or auto\n", .{});
                return error.InvalidArgument;
            };
        } else if (std.mem.eql(u8, a, "--device")) {
            out.rt.device = try next(argv, &i, a);
        } else if (std.mem.eql(u8, a, "--limits")) {
            const v = try next(argv, &i, a);
            out.rt.profile = pi5.vk.Profile.parse(v) orelse {
                std.debug.print("pi5_llm_rt: --limits must be v3dv or none\n", .{});
                return error.InvalidArgument;
            };
        } else if (std.mem.eql(u8, a, "--threads")) {
            out.rt.n_threads = std.fmt.parseInt(u32, try next(argv, &i, a), 10) catch return error.InvalidArgument;
        } else if (std.mem.eql(u8, a, "--validate")) {
            out.rt.validate = true;
        } else if (std.mem.eql(u8, a, "--verbose")) {
            out.rt.log.level = .info;
        } else if (a.len > 0 and a[0] != '-') {
            out.command = a;
        } else {
            std.debug.print("pi5_llm_rt: unknown option {s}\n{s}", .{ a, usage });
            return error.InvalidArgument;
        }
    }
}

pub fn main() !u8 {
    var gpa = std.heap.GeneralPurposeAllocator(.{}){};
    defer _ = gpa.deinit();
    const alloc = gpa.allocator();
    const argv = try std.process.argsAlloc(alloc);
    defer std.process.argsFree(alloc, argv);
    var args = Args{};
    parseArgs(argv[1..], &args) catch return 2;

    if (std.mem.eql(u8, args.command, "info")) {
        const rt = pi5.Runtime.create(alloc, args.rt) catch |e| {
            std.debug.print("pi5_llm_rt: {s}\n", .{pi5.runtime.describe(e)});
            return 1;
        };
        defer rt.destroy();
        const json = try rt.reportJson(alloc);
        defer alloc.free(json);
        try std.io.getStdOut().writer().print("{s}\n", .{json});
        return 0;
    }
    std.debug.print("pi5_llm_rt: unknown command '{s}'\n{s}", .{ args.command, usage });
    return 2;
}
