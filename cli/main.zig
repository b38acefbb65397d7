//! pi5_llm_rt: the native command-line host. It uses the same public Zig API that the C ABI
//! exports (core/root.zig), nothing private.
const std = @import("std");
const pi5 = @import("pi5");

const usage =
    \\usage: pi5_llm_rt [options]                          generate text (the default command)
    \\       pi5_llm_rt info [options]                     runtime and device report (JSON)
    \\       pi5_llm_rt tokenize --model M --prompt P|--stdin [--parse-special] [--no-special]
    \\                                                     token ids, space-separated (BOS/EOS as the vocab adds them,
    \\                                                     unless --no-special); reads only the vocabulary, so
    \\                                                     vocab-only files (no weights) work
    \\       pi5_llm_rt model-info --model M               model report (JSON)
    \\       pi5_llm_rt inspect FILE.gguf                  dump GGUF metadata and tensors
    \\       pi5_llm_rt convert --checkpoint X.bin --tokenizer T.bin OUT.gguf   llama2.c → GGUF
    \\       pi5_llm_rt convert --ggjt IN.bin OUT.gguf     GGJT (legacy ggml) → GGUF
    \\       pi5_llm_rt quantize IN.gguf OUT.gguf TYPE     F32/F16 → Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q4_K Q5_K Q6_K Q4_K_M F16 F32
    \\       pi5_llm_rt bench --model M [-p 512] [-n 128] [-r 3]   prompt (pp) and generation (tg) tokens/s, one JSON line
    \\       pi5_llm_rt synth --arch llama|phi2|gpt2 --preset tiny|tinyllama-1.1b|llama2-7b|mistral-7b
    \\                        [--type T] [--vocab V.gguf] [--seed N] [--n-embd N --n-ff N --n-layer N
    \\                        --n-head N --n-head-kv N --n-ctx N] OUT.gguf   random-weight model
    \\
    \\generation:
    \\  --model FILE                GGUF model (default: stories260K.gguf from $PI5_MODELS_DIR or ../shared/models)
    \\  --prompt TEXT, -p TEXT      prompt (default: empty, generation starts from BOS)
    \\  -n N                        tokens to generate (default 128; 0 = until EOS or the context is full;
    \\                              with --logits-out, 0 = only the prompt's logits, no generation)
    \\  --temp T                    temperature (default 0.8; 0 = greedy)
    \\  --top-k N  --top-p P  --min-p P  --repeat-penalty R  --seed N (default -1: random)
    \\  --ctx N                     context length (default: the model's, at most 4096)
    \\  --kv-type f16|f32           KV cache type (default f16)
    \\  --gpu-layers N              layers on the GPU (-1 = all; with --gpu-budget: what fits)
    \\  --gpu-budget BYTES          layers in order on the GPU while their weights fit
    \\  --diff                      check every graph node of every step on the GPU against the CPU;
    \\                              exit 3 naming the first node out of its bound (slow; needs Vulkan)
    \\  --profile                   bench: print per-node and per-op times of the last step (JSON, stderr)
    \\  --batch N                   prompt tokens per step (default 64)
    \\  --no-mmap                   read the model into memory instead of mapping it (llama.cpp's --no-mmap)
    \\  --logits-out FILE           write the last prompt position's logits (n_vocab little-endian f32)
    \\  --no-echo                   do not print the prompt before the generated text
    \\
    \\runtime:
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
    command: ?[]const u8 = null,
    positionals: std.BoundedArray([]const u8, 8) = .{},
    rt: pi5.runtime.Options = .{},
    model: ?[]const u8 = null,
    prompt: []const u8 = "",
    n_predict: u32 = 128,
    sampling: pi5.sampler.Params = .{},
    n_ctx: u32 = 0,
    n_batch: u32 = 0,
    kv_type: pi5.model.KvType = .f16,
    gpu_layers: i32 = -1,
    gpu_budget: u64 = 0,
    no_mmap: bool = false,
    diff: bool = false,
    reps: u32 = 3,
    profile: bool = false,
    logits_out: ?[]const u8 = null,
    echo: bool = true,
    // tokenize
    stdin: bool = false,
    parse_special: bool = false,
    no_special: bool = false,
    // convert / synth
    checkpoint: ?[]const u8 = null,
    tokenizer: ?[]const u8 = null,
    ggjt: ?[]const u8 = null,
    arch: pi5.gguf_synth.Arch = .llama,
    preset: pi5.gguf_synth.Preset = .tiny,
    weight_type: []const u8 = "F32",
    vocab: ?[]const u8 = null,
    seed: ?u64 = null,
    /// synth shape overrides (0 = the preset's)
    shape: struct { n_embd: u32 = 0, n_ff: u32 = 0, n_layer: u32 = 0, n_head: u32 = 0, n_head_kv: u32 = 0, n_ctx: u32 = 0 } = .{},
};

fn die(comptime fmt: []const u8, args: anytype) error{InvalidArgument} {
    std.debug.print("pi5_llm_rt: " ++ fmt ++ "\n", args);
    return error.InvalidArgument;
}

fn parseNum(comptime T: type, s: []const u8, name: []const u8) !T {
    return switch (@typeInfo(T)) {
        .float => std.fmt.parseFloat(T, s) catch die("{s} expects a number, got '{s}'", .{ name, s }),
        else => std.fmt.parseInt(T, s, 10) catch die("{s} expects an integer, got '{s}'", .{ name, s }),
    };
}

fn parseArgs(argv: []const []const u8, out: *Args) !void {
    var i: usize = 0;
    while (i < argv.len) : (i += 1) {
        const a = argv[i];
        const Next = struct {
            v: []const []const u8,
            idx: *usize,
            fn get(self: @This(), name: []const u8) ![]const u8 {
                self.idx.* += 1;
                if (self.idx.* >= self.v.len) return die("{s} needs a value", .{name});
                return self.v[self.idx.*];
            }
        };
        const nx = Next{ .v = argv, .idx = &i };
        const eq = struct {
            fn f(x: []const u8, y: []const u8) bool {
                return std.mem.eql(u8, x, y);
            }
        }.f;
        if (eq(a, "-h") or eq(a, "--help")) {
            try std.io.getStdOut().writeAll(usage);
            std.process.exit(0);
        } else if (eq(a, "--backend")) {
            const v = try nx.get(a);
            out.rt.backend = std.meta.stringToEnum(pi5.runtime.Backend, v) orelse return die("--backend must be cpu, vulkan or auto", .{});
        } else if (eq(a, "--device")) {
            out.rt.device = try nx.get(a);
        } else if (eq(a, "--limits")) {
            out.rt.profile = pi5.vk.Profile.parse(try nx.get(a)) orelse return die("--limits must be v3dv or none", .{});
        } else if (eq(a, "--threads") or eq(a, "-t")) {
            out.rt.n_threads = try parseNum(u32, try nx.get(a), a);
        } else if (eq(a, "--validate")) {
            out.rt.validate = true;
        } else if (eq(a, "--verbose")) {
            out.rt.log.level = .info;
        } else if (eq(a, "--model") or eq(a, "-m")) {
            out.model = try nx.get(a);
        } else if (eq(a, "--prompt") or eq(a, "-p")) {
            out.prompt = try nx.get(a);
        } else if (eq(a, "-n") or eq(a, "--n-predict")) {
            out.n_predict = try parseNum(u32, try nx.get(a), a);
        } else if (eq(a, "--temp")) {
            out.sampling.temperature = try parseNum(f32, try nx.get(a), a);
        } else if (eq(a, "--top-k")) {
            out.sampling.top_k = try parseNum(u32, try nx.get(a), a);
        } else if (eq(a, "--top-p")) {
            out.sampling.top_p = try parseNum(f32, try nx.get(a), a);
        } else if (eq(a, "--min-p")) {
            out.sampling.min_p = try parseNum(f32, try nx.get(a), a);
        } else if (eq(a, "--repeat-penalty")) {
            out.sampling.repeat_penalty = try parseNum(f32, try nx.get(a), a);
        } else if (eq(a, "--seed")) {
            // -1 = a random seed (llama.cpp's LLAMA_DEFAULT_SEED), reported in the summary.
            const v = try nx.get(a);
            const s = if (std.mem.eql(u8, v, "-1")) pi5.sampler.random_seed else try parseNum(u64, v, a);
            out.sampling.seed = s;
            out.seed = s;
        } else if (eq(a, "--ctx") or eq(a, "-c")) {
            out.n_ctx = try parseNum(u32, try nx.get(a), a);
        } else if (eq(a, "--batch") or eq(a, "-b")) {
            out.n_batch = try parseNum(u32, try nx.get(a), a);
        } else if (eq(a, "--kv-type")) {
            out.kv_type = std.meta.stringToEnum(pi5.model.KvType, try nx.get(a)) orelse return die("--kv-type must be f16 or f32", .{});
        } else if (eq(a, "--gpu-layers") or eq(a, "-ngl")) {
            out.gpu_layers = try parseNum(i32, try nx.get(a), a);
        } else if (eq(a, "--gpu-budget")) {
            out.gpu_budget = try parseNum(u64, try nx.get(a), a);
        } else if (eq(a, "--no-mmap")) {
            out.no_mmap = true;
        } else if (eq(a, "--profile")) {
            out.profile = true;
        } else if (eq(a, "--diff")) {
            out.diff = true;
        } else if (eq(a, "-r") or eq(a, "--reps")) {
            out.reps = try parseNum(u32, try nx.get(a), a);
        } else if (eq(a, "--logits-out")) {
            out.logits_out = try nx.get(a);
        } else if (eq(a, "--stdin")) {
            out.stdin = true;
        } else if (eq(a, "--parse-special")) {
            out.parse_special = true;
        } else if (eq(a, "--no-special")) {
            out.no_special = true;
        } else if (eq(a, "--no-echo")) {
            out.echo = false;
        } else if (eq(a, "--checkpoint")) {
            out.checkpoint = try nx.get(a);
        } else if (eq(a, "--tokenizer")) {
            out.tokenizer = try nx.get(a);
        } else if (eq(a, "--ggjt")) {
            out.ggjt = try nx.get(a);
        } else if (eq(a, "--arch")) {
            out.arch = std.meta.stringToEnum(pi5.gguf_synth.Arch, try nx.get(a)) orelse return die("--arch must be one of {s}", .{pi5.model_arch.names});
        } else if (eq(a, "--preset")) {
            out.preset = std.meta.stringToEnum(pi5.gguf_synth.Preset, try nx.get(a)) orelse return die("--preset must be tiny, tinyllama-1.1b, llama2-7b or mistral-7b", .{});
        } else if (eq(a, "--type")) {
            out.weight_type = try nx.get(a);
        } else if (eq(a, "--n-embd")) {
            out.shape.n_embd = try parseNum(u32, try nx.get(a), a);
        } else if (eq(a, "--n-ff")) {
            out.shape.n_ff = try parseNum(u32, try nx.get(a), a);
        } else if (eq(a, "--n-layer")) {
            out.shape.n_layer = try parseNum(u32, try nx.get(a), a);
        } else if (eq(a, "--n-head")) {
            out.shape.n_head = try parseNum(u32, try nx.get(a), a);
        } else if (eq(a, "--n-head-kv")) {
            out.shape.n_head_kv = try parseNum(u32, try nx.get(a), a);
        } else if (eq(a, "--n-ctx")) {
            out.shape.n_ctx = try parseNum(u32, try nx.get(a), a);
        } else if (eq(a, "--vocab")) {
            out.vocab = try nx.get(a);
        } else if (a.len > 0 and a[0] != '-') {
            if (out.command == null) {
                out.command = a;
            } else {
                out.positionals.append(a) catch return die("too many arguments", .{});
            }
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
    const cmd = args.command orelse "generate";
    const eq = std.mem.eql;
    const result = if (eq(u8, cmd, "info"))
        cmdInfo(alloc, &args)
    else if (eq(u8, cmd, "generate"))
        cmdGenerate(alloc, &args)
    else if (eq(u8, cmd, "tokenize"))
        cmdTokenize(alloc, &args)
    else if (eq(u8, cmd, "model-info"))
        cmdModelInfo(alloc, &args)
    else if (eq(u8, cmd, "inspect"))
        cmdInspect(alloc, &args)
    else if (eq(u8, cmd, "convert"))
        cmdConvert(alloc, &args)
    else if (eq(u8, cmd, "quantize"))
        cmdQuantize(alloc, &args)
    else if (eq(u8, cmd, "synth"))
        cmdSynth(alloc, &args)
    else if (eq(u8, cmd, "bench"))
        cmdBench(alloc, &args)
    else {
        std.debug.print("pi5_llm_rt: unknown command '{s}'\n{s}", .{ cmd, usage });
        return 2;
    };
    return result catch |e| switch (e) {
        error.InvalidArgument => 2,
        else => {
            std.debug.print("pi5_llm_rt: {s}\n", .{pi5.runtime.describe(e)});
            return 1;
        },
    };
}

fn cmdInfo(alloc: std.mem.Allocator, args: *Args) !u8 {
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

// ---- model loading ----

const default_model = "stories260K.gguf";

/// $PI5_MODELS_DIR/stories260K.gguf, else ../shared/models relative to the cwd (the repo root)
/// or to the repo root above the executable (zig-out/bin/..). Caller frees.
fn findDefaultModel(alloc: std.mem.Allocator) !?[]u8 {
    var candidates = std.ArrayList([]u8).init(alloc);
    defer {
        for (candidates.items) |c| alloc.free(c);
        candidates.deinit();
    }
    if (std.process.getEnvVarOwned(alloc, "PI5_MODELS_DIR")) |d| {
        defer alloc.free(d);
        try candidates.append(try std.fs.path.join(alloc, &.{ d, default_model }));
    } else |_| {}
    try candidates.append(try std.fs.path.join(alloc, &.{ "..", "shared", "models", default_model }));
    var exe_buf: [std.fs.max_path_bytes]u8 = undefined;
    if (std.fs.selfExeDirPath(&exe_buf)) |exe_dir| {
        for ([_][]const u8{ "../../..", "../..", ".." }) |up| {
            try candidates.append(try std.fs.path.join(alloc, &.{ exe_dir, up, "shared", "models", default_model }));
        }
    } else |_| {}
    for (candidates.items) |c| {
        std.fs.cwd().access(c, .{}) catch continue;
        return try alloc.dupe(u8, c);
    }
    std.debug.print("pi5_llm_rt: no --model given and the default model {s} was not found; looked in:\n", .{default_model});
    for (candidates.items) |c| std.debug.print("  {s}\n", .{c});
    std.debug.print("set PI5_MODELS_DIR to the folder that holds it, or pass --model FILE.gguf\n", .{});
    return null;
}

const Loaded = struct {
    rt: *pi5.Runtime,
    model: *pi5.Model,
    fn deinit(self: Loaded) void {
        self.rt.destroy(); // destroys the model too
    }
};

fn loadModel(alloc: std.mem.Allocator, args: *Args) !?Loaded {
    var owned: ?[]u8 = null;
    defer if (owned) |o| alloc.free(o);
    const path = args.model orelse blk: {
        owned = (try findDefaultModel(alloc)) orelse return null;
        break :blk owned.?;
    };
    const rt = pi5.Runtime.create(alloc, args.rt) catch |e| {
        std.debug.print("pi5_llm_rt: {s}\n", .{pi5.runtime.describe(e)});
        return null;
    };
    errdefer rt.destroy();
    var diag = pi5.gguf.Diagnostic{};
    const placement: pi5.model.Placement = if (args.gpu_budget > 0)
        .{ .gpu_budget = args.gpu_budget }
    else if (args.gpu_layers >= 0)
        .{ .gpu_layers = @intCast(args.gpu_layers) }
    else
        .auto;
    if (args.diff and rt.gpu == null) {
        std.debug.print("pi5_llm_rt: --diff compares the GPU with the CPU and needs a Vulkan device ({s})\n", .{rt.fallbackReason()});
        rt.destroy();
        return null;
    }
    const m = pi5.Model.load(alloc, path, .{
        .n_ctx = args.n_ctx,
        .kv_type = args.kv_type,
        .n_batch = args.n_batch,
        .mmap = !args.no_mmap,
        .n_threads = rt.n_threads,
        .gpu = rt.gpu,
        .placement = placement,
        .profile = args.profile,
        .diff = args.diff,
    }, &diag) catch |e| {
        if (diag.len > 0)
            std.debug.print("pi5_llm_rt: cannot load {s}: {s}\n", .{ path, diag.message() })
        else
            std.debug.print("pi5_llm_rt: cannot load {s}: {s}\n", .{ path, pi5.runtime.describe(e) });
        rt.destroy();
        return null;
    };
    rt.model = m;
    return .{ .rt = rt, .model = m };
}

// ---- generate ----

const Out = struct {
    w: std.fs.File.Writer,
    /// stdout was closed (piped into `head`): stop quietly.
    broken_pipe: bool = false,
    fn onToken(ctx: ?*anyopaque, token: u32, piece: []const u8) bool {
        _ = token;
        const self: *Out = @ptrCast(@alignCast(ctx.?));
        if (interrupted.load(.monotonic)) return false;
        self.w.writeAll(piece) catch {
            self.broken_pipe = true;
            return false;
        };
        return true;
    }
};

/// Set by the first SIGINT: generation stops at the next token and the summary is printed
/// (exit 130); the handler then reverts to the default, so a second Ctrl-C kills at once.
var interrupted = std.atomic.Value(bool).init(false);

fn onSigint(_: i32) callconv(.c) void {
    interrupted.store(true, .monotonic);
    const dfl = std.posix.Sigaction{ .handler = .{ .handler = std.posix.SIG.DFL }, .mask = std.posix.empty_sigset, .flags = 0 };
    std.posix.sigaction(std.posix.SIG.INT, &dfl, null);
}

fn catchSigint() void {
    const act = std.posix.Sigaction{ .handler = .{ .handler = onSigint }, .mask = std.posix.empty_sigset, .flags = 0 };
    std.posix.sigaction(std.posix.SIG.INT, &act, null);
}

fn cmdGenerate(alloc: std.mem.Allocator, args: *Args) !u8 {
    if (pi5.sampler.checkParams(args.sampling)) |why| return die("{s}", .{why.message()});
    const l = (try loadModel(alloc, args)) orelse return 1;
    defer l.deinit();
    const m = l.model;
    const stdout = std.io.getStdOut();
    var out = Out{ .w = stdout.writer() };

    // The prompt is evaluated here (to time it and to capture its logits), then generation
    // continues the session.
    const ids = try m.tok.tokenize(alloc, args.prompt, .{ .add_special = true });
    defer alloc.free(ids);
    if (ids.len == 0) {
        std.debug.print("pi5_llm_rt: the prompt is empty and the model adds no BOS: nothing to start from\n", .{});
        return 1;
    }
    if (ids.len > m.n_ctx) {
        std.debug.print("pi5_llm_rt: the prompt has {d} tokens, the context holds {d}\n", .{ ids.len, m.n_ctx });
        return 1;
    }
    var timer = try std.time.Timer.start();
    try m.eval(.{ .tokens = ids });
    const prompt_ns = timer.read();
    if (args.logits_out) |path| {
        const f = try std.fs.cwd().createFile(path, .{});
        defer f.close();
        try f.writeAll(std.mem.sliceAsBytes(m.logits())); // little-endian hosts only (x86-64, aarch64)
    }
    const generating = args.n_predict > 0 or args.logits_out == null;
    if (args.echo and generating) out.w.writeAll(args.prompt) catch |e| switch (e) {
        error.BrokenPipe => return 0,
        else => return e,
    };
    catchSigint();

    var text = std.ArrayList(u8).init(alloc);
    defer text.deinit();
    var res = pi5.generate.Result{};
    if (generating) {
        pi5.generate.generate(alloc, m, "", .{
            .max_tokens = args.n_predict,
            .sampling = args.sampling,
            .reset = false,
            .on_token = .{ .ctx = &out, .func = Out.onToken },
        }, &text, &res) catch |e| switch (e) {
            error.Aborted => if (out.broken_pipe) return 0,
            else => return e,
        };
        out.w.writeAll("\n") catch |e| switch (e) {
            error.BrokenPipe => return 0,
            else => return e,
        };
    }
    const p_ms = @as(f64, @floatFromInt(prompt_ns)) / 1e6;
    const stop = if (interrupted.load(.monotonic)) "interrupted" else @tagName(res.stop_reason);
    std.debug.print("pi5_llm_rt: prompt {d} tokens in {d:.1} ms ({d:.1} tok/s), generated {d} tokens in {d:.1} ms ({d:.1} tok/s), stop: {s}, seed: {d}, backend: {s} ({s})\n", .{
        ids.len,             p_ms,
        rate(ids.len, p_ms), res.n_generated,
        res.generate_ms,     rate(res.n_generated, res.generate_ms),
        stop,                res.seed,
        m.computeBackend(),  deviceName(l.rt),
    });
    if (args.diff) {
        var buf: [512]u8 = undefined;
        if (m.diffReport(&buf)) |r| {
            std.debug.print("pi5_llm_rt: --diff: the GPU and the CPU differ first at {s}\n", .{r});
            return 3;
        }
        std.debug.print("pi5_llm_rt: --diff: every node of {d} steps within its bound on the GPU\n", .{m.gm.diff.?.steps});
    }
    return if (interrupted.load(.monotonic)) 130 else 0;
}

/// The device that computes (the CPU when the graph runs there).
fn deviceName(rt: *const pi5.Runtime) []const u8 {
    const m = rt.model orelse return "cpu";
    if (!m.onGpu()) return "cpu";
    const g = rt.gpu orelse return "cpu";
    return g.report.deviceName();
}

// ---- bench ----

/// llama.cpp's anchor method (/work/shared/device/bench_llamacpp.mjs): pp = p prompt tokens
/// from an empty cache, tg = n tokens generated one at a time (greedy) after an 8-token
/// prompt; r repetitions, medians. Prompt ids 100 + ((i·7919 + r) mod (n_vocab − 200)).
fn cmdBench(alloc: std.mem.Allocator, args: *Args) !u8 {
    const pp: u32 = if (args.prompt.len > 0) try parseNum(u32, args.prompt, "-p") else 512;
    const tg: u32 = args.n_predict;
    const reps: u32 = @max(args.reps, 1);
    if (pp < 9 or tg == 0) return die("bench needs -p ≥ 9 and -n ≥ 1", .{});
    if (args.n_ctx == 0) args.n_ctx = pp + tg + 16;
    if (args.n_batch == 0) args.n_batch = pp;
    // A whole-graph GPU step of a large model on a software device (lavapipe) can pass the
    // default 5 s fence timeout; a benchmark waits.
    args.rt.timeout_ms = @max(args.rt.timeout_ms, 300_000);
    const l = (try loadModel(alloc, args)) orelse return 1;
    defer l.deinit();
    const m = l.model;
    const vocab = m.hp.n_vocab;
    const span: u32 = if (vocab > 300) vocab - 200 else vocab;
    const base: u32 = if (vocab > 300) 100 else 0;
    const prompt = try alloc.alloc(u32, pp);
    defer alloc.free(prompt);
    var pps = try alloc.alloc(f64, reps);
    defer alloc.free(pps);
    var tgs = try alloc.alloc(f64, reps);
    defer alloc.free(tgs);
    for (0..reps) |r| {
        for (prompt, 0..) |*t, i| t.* = base + @as(u32, @intCast((i * 7919 + r) % span));
        m.clear();
        var timer = try std.time.Timer.start();
        try m.eval(.{ .tokens = prompt });
        pps[r] = @as(f64, @floatFromInt(pp)) / (@as(f64, @floatFromInt(timer.read())) / 1e9);
        m.clear();
        try m.eval(.{ .tokens = prompt[0..8] });
        var tok: u32 = prompt[8];
        timer.reset();
        for (0..tg) |_| {
            try m.eval(.{ .tokens = &.{tok} });
            tok = argmax(m.logits());
        }
        tgs[r] = @as(f64, @floatFromInt(tg)) / (@as(f64, @floatFromInt(timer.read())) / 1e9);
    }
    const w = std.io.getStdOut().writer();
    try w.writeAll("{\"model\":");
    try std.json.stringify(args.model orelse "stories260K.gguf", .{}, w);
    try w.print(",\"backend\":\"{s}\",\"device\":", .{m.computeBackend()});
    try std.json.stringify(deviceName(l.rt), .{}, w);
    try w.print(",\"n_gpu_layers\":{d},\"p\":{d},\"n\":{d},\"pp\":[", .{ m.gm.gpuLayers(), pp, tg });
    for (pps, 0..) |v, i| try w.print("{s}{d:.1}", .{ if (i > 0) "," else "", v });
    try w.writeAll("],\"tg\":[");
    for (tgs, 0..) |v, i| try w.print("{s}{d:.1}", .{ if (i > 0) "," else "", v });
    std.mem.sort(f64, pps, {}, std.sort.asc(f64));
    std.mem.sort(f64, tgs, {}, std.sort.asc(f64));
    try w.print("],\"pp_med\":{d:.1},\"tg_med\":{d:.1}}}\n", .{ pps[reps / 2], tgs[reps / 2] });
    if (args.profile) {
        // Per-op times of the last step (a decode step): where a token's time goes.
        const json = try m.gm.ex.profileJson(alloc);
        defer alloc.free(json);
        try std.io.getStdErr().writer().print("{s}\n", .{json});
    }
    return 0;
}

fn argmax(x: []const f32) u32 {
    var best: usize = 0;
    for (x, 0..) |v, i| if (v > x[best]) {
        best = i;
    };
    return @intCast(best);
}

fn rate(n: usize, ms: f64) f64 {
    return if (ms > 0) @as(f64, @floatFromInt(n)) * 1000.0 / ms else 0;
}

/// Vocabulary-only, as llama.cpp's llama-tokenize: works on files without weights (ggml-vocab-*.gguf).
fn cmdTokenize(alloc: std.mem.Allocator, args: *Args) !u8 {
    var owned: ?[]u8 = null;
    defer if (owned) |o| alloc.free(o);
    const path = args.model orelse blk: {
        owned = (try findDefaultModel(alloc)) orelse return 1;
        break :blk owned.?;
    };
    var diag = pi5.gguf.Diagnostic{};
    var tok = pi5.vocab_file.load(alloc, path, &diag) catch |e| {
        std.debug.print("pi5_llm_rt: cannot load {s}: {s}\n", .{ path, if (diag.len > 0) diag.message() else pi5.runtime.describe(e) });
        return 1;
    };
    defer tok.deinit();
    var stdin_text: ?[]u8 = null;
    defer if (stdin_text) |t| alloc.free(t);
    if (args.stdin) stdin_text = try std.io.getStdIn().readToEndAlloc(alloc, 1 << 30);
    const text = stdin_text orelse args.prompt;
    const ids = try tok.tokenize(alloc, text, .{ .add_special = !args.no_special, .parse_special = args.parse_special });
    defer alloc.free(ids);
    var bw = std.io.bufferedWriter(std.io.getStdOut().writer());
    for (ids, 0..) |id, i| try bw.writer().print("{s}{d}", .{ if (i == 0) "" else " ", id });
    try bw.writer().writeAll("\n");
    try bw.flush();
    return 0;
}

fn cmdModelInfo(alloc: std.mem.Allocator, args: *Args) !u8 {
    const l = (try loadModel(alloc, args)) orelse return 1;
    defer l.deinit();
    const json = try l.model.infoJson(alloc);
    defer alloc.free(json);
    try std.io.getStdOut().writer().print("{s}\n", .{json});
    return 0;
}

// ---- files ----

fn cmdInspect(alloc: std.mem.Allocator, args: *Args) !u8 {
    if (args.positionals.len != 1) return die("inspect needs one FILE.gguf", .{});
    const path = args.positionals.get(0);
    var diag = pi5.gguf.Diagnostic{};
    var bw = std.io.bufferedWriter(std.io.getStdOut().writer());
    pi5.model_files.inspect(alloc, path, bw.writer(), &diag) catch |e| {
        std.debug.print("pi5_llm_rt: {s}: {s}\n", .{ path, if (diag.len > 0) diag.message() else @errorName(e) });
        return 1;
    };
    try bw.flush();
    return 0;
}

const ProgressLine = struct {
    label: []const u8,
    last_pct: u64 = 101,
    fn report(ctx: ?*anyopaque, done: u64, total: u64) void {
        const self: *ProgressLine = @ptrCast(@alignCast(ctx.?));
        const pct = if (total == 0) 100 else done * 100 / total;
        if (pct == self.last_pct) return;
        self.last_pct = pct;
        std.debug.print("\r{s}: {d}%", .{ self.label, pct });
        if (done >= total) std.debug.print("\n", .{});
    }
    fn progress(self: *ProgressLine) pi5.gguf_writer.Progress {
        return .{ .ctx = self, .func = report };
    }
};

fn cmdConvert(alloc: std.mem.Allocator, args: *Args) !u8 {
    if (args.positionals.len != 1) return die("convert needs an output path", .{});
    const out_path = args.positionals.get(0);
    var pl = ProgressLine{ .label = "convert" };
    var diag = pi5.gguf.Diagnostic{};
    if (args.ggjt) |in| {
        pi5.model_files.convertGgjt(alloc, in, out_path, pl.progress(), &diag) catch |e| {
            std.debug.print("pi5_llm_rt: convert {s}: {s}\n", .{ in, if (diag.len > 0) diag.message() else @errorName(e) });
            return 1;
        };
    } else if (args.checkpoint) |ck| {
        const tok = args.tokenizer orelse return die("convert --checkpoint needs --tokenizer T.bin", .{});
        pi5.model_files.convertLlama2c(alloc, ck, tok, out_path, pl.progress(), &diag) catch |e| {
            std.debug.print("pi5_llm_rt: convert {s}: {s}\n", .{ ck, if (diag.len > 0) diag.message() else @errorName(e) });
            return 1;
        };
    } else return die("convert needs --ggjt IN.bin or --checkpoint X.bin --tokenizer T.bin", .{});
    std.debug.print("wrote {s}\n", .{out_path});
    return 0;
}

fn cmdQuantize(alloc: std.mem.Allocator, args: *Args) !u8 {
    if (args.positionals.len != 3) return die("quantize needs IN.gguf OUT.gguf TYPE", .{});
    const p = args.positionals.slice();
    const target = pi5.model_quantize.Target.parse(p[2]) orelse
        return die("unknown type '{s}' (F32 F16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q4_K Q5_K Q6_K Q4_K_M)", .{p[2]});
    var pl = ProgressLine{ .label = "quantize" };
    var diag = pi5.gguf.Diagnostic{};
    pi5.model_files.quantize(alloc, p[0], p[1], target, pl.progress(), &diag) catch |e| {
        std.debug.print("pi5_llm_rt: quantize {s}: {s}\n", .{ p[0], if (diag.len > 0) diag.message() else @errorName(e) });
        return 1;
    };
    if (diag.len > 0) std.debug.print("pi5_llm_rt: quantize: {s}\n", .{diag.message()});
    std.debug.print("wrote {s}\n", .{p[1]});
    return 0;
}

fn cmdSynth(alloc: std.mem.Allocator, args: *Args) !u8 {
    if (args.positionals.len != 1) return die("synth needs an output path", .{});
    const out_path = args.positionals.get(0);
    const t = pi5.quant.GgmlType.fromName(args.weight_type) orelse return die("unknown --type '{s}'", .{args.weight_type});
    var pl = ProgressLine{ .label = "synth" };
    var diag = pi5.gguf.Diagnostic{};
    pi5.model_files.synth(alloc, .{
        .arch = args.arch,
        .preset = args.preset,
        .weight_type = t,
        .vocab_path = args.vocab,
        .seed = args.seed orelse 0,
        .n_embd = args.shape.n_embd,
        .n_ff = args.shape.n_ff,
        .n_layer = args.shape.n_layer,
        .n_head = args.shape.n_head,
        .n_head_kv = args.shape.n_head_kv,
        .n_ctx = args.shape.n_ctx,
        .progress = pl.progress(),
    }, out_path, &diag) catch |e| {
        std.debug.print("pi5_llm_rt: synth: {s}\n", .{if (diag.len > 0) diag.message() else @errorName(e)});
        return 1;
    };
    std.debug.print("wrote {s}\n", .{out_path});
    return 0;
}
