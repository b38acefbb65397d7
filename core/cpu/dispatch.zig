//! Run-time choice of the matmul micro-kernels (core/cpu/kern.zig) from the CPU's features.
//!
//! The library is built for the target's baseline CPU (build.zig); kern.zig is compiled once
//! more per richer instruction set as its own module (`cpu_kern_*` imports, see
//! build.zig's addCpuKernels) and the best one the running CPU supports is used. PI5_CPU_ISA
//! (a variant name such as `baseline`, `avx2`, `avx512vnni`) caps the choice, for tests and
//! comparisons; an unknown or unsupported name is ignored with the default kept.
const std = @import("std");
const builtin = @import("builtin");
const quant = @import("../quant/quant.zig");

const base = @import("cpu_kern_base");
pub const TileFn = base.TileFn;

/// One variant's kernels. Each compiled copy of kern.zig has its own (equal) struct type; the
/// function pointer types are structural, so the tables convert field by field.
pub const Kernels = struct {
    isa: []const u8,
    q4_0: TileFn,
    q8_0: TileFn,
    q4_k: TileFn,
    q6_k: TileFn,

    fn of(comptime k: anytype) Kernels {
        return .{ .isa = k.isa, .q4_0 = k.q4_0, .q8_0 = k.q8_0, .q4_k = k.q4_k, .q6_k = k.q6_k };
    }
};
pub const max_rows = base.max_rows;
pub const max_tokens = base.max_tokens;

comptime {
    // kern.zig mirrors the block layouts (it cannot import quant.zig): keep them identical.
    const pairs = .{
        .{ base.BlockQ4_0, quant.BlockQ4_0 }, .{ base.BlockQ8_0, quant.BlockQ8_0 },
        .{ base.BlockQ4_K, quant.BlockQ4_K }, .{ base.BlockQ6_K, quant.BlockQ6_K },
        .{ base.BlockQ8_K, quant.BlockQ8_K },
    };
    for (pairs) |p| {
        if (@sizeOf(p[0]) != @sizeOf(p[1])) @compileError("kern.zig block layout differs from quant.zig");
        for (std.meta.fields(p[0]), std.meta.fields(p[1])) |a, b| {
            if (@offsetOf(p[0], a.name) != @offsetOf(p[1], b.name) or a.type != b.type)
                @compileError("kern.zig block field differs from quant.zig: " ++ a.name);
        }
    }
}

pub const Variant = struct {
    name: []const u8,
    kernels: *const Kernels,
    need: Need,

    pub fn supported(v: *const Variant, f: Features) bool {
        return switch (v.need) {
            .none => true,
            .avx2 => f.avx2_fma_f16c,
            .avx512_vnni => f.avx512_vnni,
            .dotprod => f.dotprod,
        };
    }
};

pub const Need = enum { none, avx2, avx512_vnni, dotprod };

pub const Features = struct {
    avx2_fma_f16c: bool = false,
    avx512_vnni: bool = false,
    dotprod: bool = false,
    i8mm: bool = false,
};

/// Every compiled variant, worst first. The first is the target's own CPU (always runs).
/// Test binaries hold only that one: this Zig (0.14.0-dev.2456) emits no code for modules of
/// another CPU model under `zig test` (referencing them is an LLVM "Global is external"
/// error), so the tests exercise the kernels built for the test target's CPU.
pub const variants: []const Variant = if (builtin.is_test) &.{
    .{ .name = "baseline", .kernels = &Kernels.of(base.kernels), .need = .none },
} else switch (builtin.cpu.arch) {
    .x86_64 => &.{
        .{ .name = "baseline", .kernels = &Kernels.of(base.kernels), .need = .none },
        .{ .name = "avx2", .kernels = &Kernels.of(@import("cpu_kern_avx2").kernels), .need = .avx2 },
        .{ .name = "avx512vnni", .kernels = &Kernels.of(@import("cpu_kern_avx512").kernels), .need = .avx512_vnni },
    },
    .aarch64 => &.{
        .{ .name = "baseline", .kernels = &Kernels.of(base.kernels), .need = .none },
        .{ .name = "dotprod", .kernels = &Kernels.of(@import("cpu_kern_dotprod").kernels), .need = .dotprod },
    },
    else => &.{.{ .name = "baseline", .kernels = &Kernels.of(base.kernels), .need = .none }},
};

pub fn detect() Features {
    var f = Features{};
    switch (builtin.cpu.arch) {
        .x86_64 => {
            const l1 = cpuid(1, 0);
            const max_leaf = cpuid(0, 0).a;
            const osxsave = l1.c & (1 << 27) != 0;
            const xcr0: u64 = if (osxsave) xgetbv() else 0;
            const ymm_os = xcr0 & 0x6 == 0x6;
            const zmm_os = xcr0 & 0xE6 == 0xE6;
            const l7 = if (max_leaf >= 7) cpuid(7, 0) else Regs{ .a = 0, .b = 0, .c = 0, .d = 0 };
            const avx = l1.c & (1 << 28) != 0;
            const fma = l1.c & (1 << 12) != 0;
            const f16c = l1.c & (1 << 29) != 0;
            const avx2 = l7.b & (1 << 5) != 0;
            f.avx2_fma_f16c = ymm_os and avx and avx2 and fma and f16c;
            const avx512f = l7.b & (1 << 16) != 0;
            const avx512bw = l7.b & (1 << 30) != 0;
            const avx512vl = l7.b & (1 << 31) != 0;
            const avx512dq = l7.b & (1 << 17) != 0;
            const avx512cd = l7.b & (1 << 28) != 0;
            const vnni = l7.c & (1 << 11) != 0;
            f.avx512_vnni = f.avx2_fma_f16c and zmm_os and avx512f and avx512bw and avx512vl and avx512dq and avx512cd and vnni;
        },
        .aarch64 => if (builtin.os.tag == .linux) {
            const hwcap = std.os.linux.getauxval(std.elf.AT_HWCAP);
            const hwcap2 = std.os.linux.getauxval(std.elf.AT_HWCAP2);
            f.dotprod = hwcap & (1 << 20) != 0; // HWCAP_ASIMDDP
            f.i8mm = hwcap2 & (1 << 13) != 0; // HWCAP2_I8MM
        },
        else => {},
    }
    return f;
}

const Regs = struct { a: u32, b: u32, c: u32, d: u32 };

fn cpuid(leaf: u32, sub: u32) Regs {
    var a: u32 = undefined;
    var b: u32 = undefined;
    var c: u32 = undefined;
    var d: u32 = undefined;
    asm volatile ("cpuid"
        : [a] "={eax}" (a),
          [b] "={ebx}" (b),
          [c] "={ecx}" (c),
          [d] "={edx}" (d),
        : [leaf] "{eax}" (leaf),
          [sub] "{ecx}" (sub),
    );
    return .{ .a = a, .b = b, .c = c, .d = d };
}

fn xgetbv() u64 {
    var lo: u32 = undefined;
    var hi: u32 = undefined;
    asm volatile ("xgetbv"
        : [lo] "={eax}" (lo),
          [hi] "={edx}" (hi),
        : [c] "{ecx}" (@as(u32, 0)),
    );
    return (@as(u64, hi) << 32) | lo;
}

/// The best variant this CPU runs, capped by `cap` (a variant name) when it names one.
pub fn choose(f: Features, cap: ?[]const u8) *const Variant {
    var best: *const Variant = &variants[0];
    inline for (variants) |*v| {
        if (!v.supported(f)) return best;
        best = v;
        if (cap) |c| if (std.mem.eql(u8, c, v.name)) return best;
    }
    return best;
}

var chosen: ?*const Variant = null;
var chosen_once = std.once(initChosen);

fn initChosen() void {
    const cap = std.posix.getenv("PI5_CPU_ISA");
    const v = choose(detect(), cap);
    chosen = v;
}

/// The process-wide choice, made once.
pub fn current() *const Variant {
    chosen_once.call();
    return chosen.?;
}

pub fn currentKernels() *const Kernels {
    return current().kernels;
}

/// The tile kernel for weights of type `t`, or null when only the generic dot path has it.
pub fn tileFor(k: *const Kernels, t: quant.GgmlType) ?TileFn {
    return switch (t) {
        .q4_0 => k.q4_0,
        .q8_0 => k.q8_0,
        .q4_k => k.q4_k,
        .q6_k => k.q6_k,
        else => null,
    };
}

test "the CPU feature detection picks a variant that runs here" {
    const f = detect();
    const v = choose(f, null);
    try std.testing.expect(v.supported(f));
    // A cap names the variant, or leaves the best one when unknown.
    try std.testing.expectEqualStrings("baseline", choose(f, "baseline").name);
    try std.testing.expectEqualStrings(v.name, choose(f, "no-such-isa").name);
}

test "every tile kernel variant this CPU runs agrees with the reference dot on odd shapes" {
    const a = std.testing.allocator;
    var prng = std.Random.DefaultPrng.init(21);
    const rng = prng.random();
    const f = detect();
    const shapes = [_][3]usize{ .{ 256, 1, 1 }, .{ 256, 7, 5 }, .{ 512, 13, 9 }, .{ 768, 4, 4 }, .{ 256, 3, 2 } };
    for ([_]quant.GgmlType{ .q4_0, .q8_0, .q4_k, .q6_k }) |t| {
        const at = quant.vecDotType(t).?;
        const dot = quant.vecDotFn(t).?;
        for (shapes) |shape| {
            const n_in, const n_rows, const n_tok = shape;
            const rb: usize = @intCast(t.rowBytes(n_in).?);
            const ab: usize = @intCast(at.rowBytes(n_in).?);
            const wq = try a.alloc(u8, rb * n_rows);
            defer a.free(wq);
            const aq = try a.alloc(u8, ab * n_tok);
            defer a.free(aq);
            const x = try a.alloc(f32, n_in);
            defer a.free(x);
            for (0..n_rows) |r| {
                for (x) |*v| v.* = rng.floatNorm(f32);
                try quant.quantizeRow(t, x, wq[r * rb ..][0..rb]);
            }
            for (0..n_tok) |tk| {
                for (x) |*v| v.* = rng.floatNorm(f32) * 3;
                try quant.quantizeRow(at, x, aq[tk * ab ..][0..ab]);
            }
            const ref = try a.alloc(f32, n_rows * n_tok);
            defer a.free(ref);
            var scale: f32 = 1e-30;
            for (0..n_tok) |tk| for (0..n_rows) |r| {
                ref[tk * n_rows + r] = dot(n_in, wq[r * rb ..].ptr, aq[tk * ab ..].ptr);
                scale = @max(scale, @abs(ref[tk * n_rows + r]));
            };
            const got = try a.alloc(f32, n_rows * n_tok);
            defer a.free(got);
            const blk = t.traits().?.block_elems;
            inline for (variants) |*v| if (v.supported(f)) {
                const tile = tileFor(v.kernels, t).?;
                @memset(got, std.math.nan(f32)); // poison: every output must be written
                var r0: usize = 0;
                while (r0 < n_rows) : (r0 += max_rows) {
                    var t0: usize = 0;
                    while (t0 < n_tok) : (t0 += max_tokens) {
                        tile(n_in / blk, wq[r0 * rb ..].ptr, rb, @min(max_rows, n_rows - r0), aq[t0 * ab ..].ptr, ab, @min(max_tokens, n_tok - t0), got[t0 * n_rows + r0 ..].ptr, n_rows);
                    }
                }
                // Same exact integer sums per block; only the f32 summation order differs.
                for (ref, got) |rv, gv| {
                    if (!(@abs(rv - gv) <= 2e-6 * scale)) {
                        std.debug.print("{s} {s} {any}: ref {d} got {d}\n", .{ v.name, t.name(), shape, rv, gv });
                        return error.TestUnexpectedResult;
                    }
                }
            };
        }
    }
}
