#!/usr/bin/env node
// Fidelity against llama.cpp (node-llama-cpp 3.22.1, CPU, 2 threads).
//
// For each model: the same prompt tokens go into llama.cpp and into pi5-llm-rt (through the C ABI
// with koffi). Compared:
//   1. tokenization of the prompt (our pi5_tokenize vs llama.cpp's tokenize): equal ids;
//   2. the next-token distribution after the prompt (max |Δp| over the vocabulary <= BOUND_DP0)
//      and after every greedy step while both sequences agree (<= BOUND_DP_ALL);
//   3. top-1 after the prompt: equal;
//   4. the greedy (temperature 0) 64-token continuation: equal ids, except that a divergence at a
//      near-tie is accepted (llama.cpp's probabilities of its token and of ours differ by less than
//      TIE_EPS there; after that the sequences are unrelated, so the comparison stops).
//
// Models: stories260K, TinyLLama-v0 (GGJT v3 Q4_0 imported with our `convert`), and synthetic
// llama / phi2 / gpt2 (n_embd 256 so K-quants apply to every matrix) made by our `synth` in F32
// and requantized by our `quantize` to F16, Q8_0, Q4_0, Q4_K, Q6_K in a temp dir.
//
// With --backend vulkan the model runs through the graph engine on the Vulkan device (lavapipe
// here) and the script checks that it did (pi5_model_info's compute_backend is "gpu"); by default
// only a subset runs there (VULKAN_SUBSET, under ~3 minutes on 2 cores; --all for every model).
// Same bounds on both backends.
//
// usage: node tests/fidelity/compare.mjs [--backend cpu|vulkan] [--only SUBSTR] [--all] [--keep DIR]
//        [--model FILE ...] [--ref cpu|vulkan]
// env:   PI5_MODELS_DIR (default <repo>/../shared/models), PI5_LIB (default zig-out/lib/libpi5_llm_rt.so),
//        PI5_CLI (default zig-out/bin/pi5_llm_rt), FIDELITY_NODE_MODULES (where node-llama-cpp and
//        koffi live, if not resolvable from here). Build first: zig build.
import {createRequire} from "node:module";
import {execFileSync} from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {fileURLToPath, pathToFileURL} from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "../..");
const args = process.argv.slice(2);
const opt = (name, def) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : def;
};
const backend = opt("--backend", "cpu");
const only = opt("--only", null);
const keep = opt("--keep", null);
const all = args.includes("--all");
// --model FILE (repeatable): compare only these files (e.g. a TinyLlama-1.1B-shaped synthetic model
// on the GPU machine). --ref vulkan: llama.cpp's Vulkan build as the reference instead of its CPU.
const extraModels = args.flatMap((a, i) => (a === "--model" ? [args[i + 1]] : []));
const refBackend = opt("--ref", "cpu");
const VULKAN_SUBSET = ["stories260K F32", "TinyLLama-v0 Q4_0 (GGJT import)", "synthetic llama Q4_0", "synthetic llama Q6_K",
    "synthetic phi2 F16", "synthetic phi2 Q4_K", "synthetic gpt2 F32", "synthetic gpt2 Q8_0"];

// After the prompt (step 0) llama.cpp and we see the same tokens through the same cache layout:
// the bound is tight. Along the 64-step greedy trajectory the KV cache is F16 in both, but
// llama.cpp's CPU path also rounds Q and the softmax weights to F16 for its F16 K/V matmuls
// (ours keeps them in F32), and these differences compound in peaky real models.
const BOUND_DP0 = 2e-3;
const BOUND_DP_ALL = 3e-2;
const TIE_EPS = 2e-3;
const N_GREEDY = 64;
const PROMPT = "Once upon a time, there was a little robot who";

async function importDep(name) {
    const dirs = [process.env.FIDELITY_NODE_MODULES, path.join(repo, "node_modules"), path.join(repo, "bindings", "node_modules")].filter(Boolean);
    try {
        return await import(name);
    } catch {}
    for (const d of dirs) {
        const req = createRequire(path.join(d, "noop.js"));
        try {
            const p = req.resolve(name);
            return await import(pathToFileURL(p).href);
        } catch {}
        // ESM-only packages: resolve package.json, then its exports entry
        try {
            const pj = JSON.parse(fs.readFileSync(path.join(d, name, "package.json"), "utf8"));
            const entry = typeof pj.exports === "string" ? pj.exports : pj.exports?.["."]?.import ?? pj.exports?.["."]?.default ?? pj.main ?? "index.js";
            return await import(pathToFileURL(path.join(d, name, typeof entry === "string" ? entry : entry.default)).href);
        } catch {}
    }
    console.error(`fidelity: cannot import ${name}; npm install --no-save node-llama-cpp@3.22.1 koffi, or set FIDELITY_NODE_MODULES`);
    process.exit(2);
}

const modelsDir = process.env.PI5_MODELS_DIR ?? path.resolve(repo, "..", "shared", "models");
const cli = process.env.PI5_CLI ?? path.join(repo, "zig-out", "bin", "pi5_llm_rt");
const libPath = process.env.PI5_LIB ?? path.join(repo, "zig-out", "lib", "libpi5_llm_rt.so");
for (const f of [cli, libPath, path.join(modelsDir, "stories260K.gguf")]) {
    if (!fs.existsSync(f)) {
        console.error(`fidelity: missing ${f} (zig build; PI5_MODELS_DIR)`);
        process.exit(2);
    }
}

// ---- models ----
const tmp = keep ?? fs.mkdtempSync(path.join(os.tmpdir(), "pi5-fidelity-"));
fs.mkdirSync(tmp, {recursive: true});
const run = (...a) => execFileSync(cli, a, {stdio: ["ignore", "ignore", "pipe"]});
const models = [{name: "stories260K F32", file: path.join(modelsDir, "stories260K.gguf"), type: "f32"}];
if (extraModels.length > 0) models.length = 0;
for (const f of extraModels) models.push({name: path.basename(f), file: f, type: "?", always: true});
const tl = path.join(tmp, "TinyLLama-v0.gguf");
if (extraModels.length === 0) {
if (!fs.existsSync(tl)) run("convert", "--ggjt", path.join(modelsDir, "legacy", "TinyLLama-v0.ggmlv3.q4_0.bin"), tl);
// TinyLLama-v0 (head_dim 4) is unusually sensitive to F16 rounding inside attention: our own
// F16-KV and F32-KV logits after this prompt differ by max |Δp| 1.2e-2, so llama.cpp's extra
// F16 rounding of Q and of the softmax weights moves it by as much. Its bound says so.
models.push({name: "TinyLLama-v0 Q4_0 (GGJT import)", file: tl, type: "q4_0", bound0: 2e-2});
const vocab = path.join(modelsDir, "stories260K.gguf");
for (const arch of ["llama", "phi2", "gpt2"]) {
    const f32 = path.join(tmp, `${arch}-F32.gguf`);
    if (!fs.existsSync(f32))
        run("synth", "--arch", arch, "--preset", "tiny", "--n-embd", "256", "--n-ff", "512", "--n-layer", "2", "--n-head", "4", "--n-head-kv", arch === "gpt2" ? "4" : "2", "--n-ctx", "256", "--seed", "7", "--vocab", vocab, f32);
    models.push({name: `synthetic ${arch} F32`, file: f32, type: "f32"});
    for (const t of ["F16", "Q8_0", "Q4_0", "Q4_K", "Q6_K"]) {
        const out = path.join(tmp, `${arch}-${t}.gguf`);
        if (!fs.existsSync(out)) run("quantize", f32, out, t);
        models.push({name: `synthetic ${arch} ${t}`, file: out, type: t.toLowerCase()});
    }
}
}

// ---- pi5-llm-rt through the C ABI ----
process.env.PI5_BACKEND = backend;
const koffi = (await importDep("koffi")).default;
const lib = koffi.load(libPath);
koffi.opaque("pi5_runtime");
const pi5 = {
    create: lib.func("pi5_runtime *pi5_create_runtime(void)"),
    destroy: lib.func("void pi5_destroy_runtime(pi5_runtime *rt)"),
    lastError: lib.func("const char *pi5_last_error(pi5_runtime *rt)"),
    backend: lib.func("int pi5_runtime_backend(pi5_runtime *rt)"),
    load: lib.func("int pi5_load_model(pi5_runtime *rt, const char *path)"),
    nVocab: lib.func("int32_t pi5_n_vocab(pi5_runtime *rt)"),
    isEog: lib.func("int32_t pi5_token_is_eog(pi5_runtime *rt, int32_t token)"),
    tokenize: lib.func("int pi5_tokenize(pi5_runtime *rt, const char *text, size_t len, int32_t add_special, int32_t parse_special, _Out_ int32_t *tokens, size_t max, _Out_ size_t *n)"),
    eval: lib.func("int pi5_eval(pi5_runtime *rt, const int32_t *tokens, size_t n, _Out_ float *logits)"),
    clear: lib.func("int pi5_kv_clear(pi5_runtime *rt)"),
    info: lib.func("int pi5_model_info(pi5_runtime *rt, _Out_ uint8_t *buf, size_t size, _Out_ size_t *len)"),
};
const rt = pi5.create();
if (!rt) throw new Error("pi5_create_runtime failed");
const check = (st, what) => {
    if (st !== 0) throw new Error(`${what}: status ${st}: ${pi5.lastError(rt)}`);
};

function softmax(logits) {
    let m = -Infinity;
    for (const v of logits) m = Math.max(m, v);
    const p = new Float64Array(logits.length);
    let s = 0;
    for (let i = 0; i < logits.length; i++) s += p[i] = Math.exp(logits[i] - m);
    for (let i = 0; i < p.length; i++) p[i] /= s;
    return p;
}
const argmax = (a) => a.reduce((bi, v, i) => (v > a[bi] ? i : bi), 0);

function ours(file) {
    check(pi5.load(rt, file), `pi5_load_model ${file}`);
    const ib = Buffer.alloc(1 << 16), il = [0];
    check(pi5.info(rt, ib, ib.length, il), "pi5_model_info");
    const computed = JSON.parse(ib.subarray(0, il[0]).toString()).compute_backend;
    if (backend === "vulkan" && computed !== "gpu") throw new Error(`--backend vulkan but the model computed on ${computed}`);
    const nv = pi5.nVocab(rt);
    const ids = new Int32Array(512);
    const n = [0];
    check(pi5.tokenize(rt, PROMPT, Buffer.byteLength(PROMPT), 1, 0, ids, ids.length, n), "pi5_tokenize");
    const prompt = Array.from(ids.subarray(0, n[0]));
    const logits = new Float32Array(nv);
    check(pi5.eval(rt, Int32Array.from(prompt), prompt.length, logits), "pi5_eval");
    const dists = [softmax(logits)];
    const gen = [];
    for (let i = 0; i < N_GREEDY; i++) {
        const t = argmax(logits);
        if (pi5.isEog(rt, t)) break;
        gen.push(t);
        if (i + 1 === N_GREEDY) break;
        check(pi5.eval(rt, Int32Array.of(t), 1, logits), "pi5_eval");
        dists.push(softmax(logits));
    }
    return {prompt, gen, dists, nv, computed};
}

// ---- llama.cpp ----
const {getLlama} = await importDep("node-llama-cpp");
const llama = await getLlama({gpu: refBackend === "vulkan" ? "vulkan" : false, build: "never", logLevel: "error"});

async function reference(file, prompt) {
    const model = await llama.loadModel({modelPath: file, gpuLayers: refBackend === "vulkan" ? "max" : 0});
    const ctx = await model.createContext({threads: 2, contextSize: 256, sequences: 1, batchSize: 64});
    const seq = ctx.getSequence();
    const tokenized = Array.from(model.tokenize(PROMPT, false));
    const gen = [];
    const dists = [];
    for await (const out of seq.evaluateWithMetadata(prompt, {probabilities: true}, {temperature: 0})) {
        gen.push(out.token);
        dists.push(out.probabilities);
        if (gen.length >= N_GREEDY) break;
    }
    await ctx.dispose();
    await model.dispose();
    return {tokenized, gen, dists};
}

// ---- compare ----
let failures = 0;
let lastComputed = "?";
const rows = [];
const t0 = Date.now();
for (const m of models) {
    if (only && !m.name.includes(only)) continue;
    if (!only && !all && !m.always && backend === "vulkan" && !VULKAN_SUBSET.includes(m.name)) continue;
    const o = ours(m.file);
    lastComputed = o.computed;
    const r = await reference(m.file, o.prompt);
    const problems = [];
    const ourText = o.prompt[0] === r.tokenized[0] ? o.prompt : o.prompt.slice(1); // without BOS
    if (JSON.stringify(ourText) !== JSON.stringify(r.tokenized)) problems.push(`tokenize differs: ours ${ourText.join(" ")} vs ${r.tokenized.join(" ")}`);
    let maxDp = 0, maxDp0 = 0, steps = 0, note = "", worst = "";
    const n = Math.max(o.gen.length, r.gen.length);
    for (let i = 0; i < n; i++) {
        const pr = r.dists[i], po = o.dists[i];
        if (pr && po) {
            for (let t = 0; t < o.nv; t++) {
                const d = Math.abs(po[t] - (pr.get(t) ?? 0));
                if (d > maxDp) [maxDp, worst] = [d, `step ${i} token ${t}: ${po[t].toFixed(4)} vs ${(pr.get(t) ?? 0).toFixed(4)}`];
            }
            if (i === 0) maxDp0 = maxDp;
            steps++;
        }
        if (o.gen[i] !== r.gen[i]) {
            const a = r.gen[i], b = o.gen[i];
            const gap = pr && a !== undefined && b !== undefined ? Math.abs((pr.get(a) ?? 0) - (pr.get(b) ?? 0)) : Infinity;
            if (i === 0) problems.push(`top-1 after the prompt differs: ${b} vs llama.cpp ${a}`);
            else if (gap < TIE_EPS) note = `near-tie divergence at step ${i} (Δp ${gap.toExponential(1)})`;
            else problems.push(`greedy differs at step ${i}: ${b} vs llama.cpp ${a} (llama.cpp Δp ${gap.toExponential(2)})`);
            break;
        }
    }
    let agree = 0;
    while (agree < o.gen.length && o.gen[agree] === r.gen[agree]) agree++;
    const bound0 = m.bound0 ?? BOUND_DP0;
    if (maxDp0 > bound0) problems.push(`max |Δp| after the prompt ${maxDp0.toExponential(2)} > ${bound0}`);
    if (maxDp > BOUND_DP_ALL) problems.push(`max |Δp| along the greedy steps ${maxDp.toExponential(2)} > ${BOUND_DP_ALL}`);
    const ok = problems.length === 0;
    if (!ok) failures++;
    rows.push(`${ok ? "ok  " : "FAIL"} ${m.name.padEnd(34)} |Δp| prompt ${maxDp0.toExponential(2)}, max ${maxDp.toExponential(2)} over ${String(steps).padStart(2)} steps, greedy ${agree}/${Math.min(o.gen.length, r.gen.length)} tokens equal${process.env.FIDELITY_VERBOSE ? " (worst " + worst + ")" : ""}${note ? ", " + note : ""}${ok ? "" : "\n       " + problems.join("\n       ")}`);
    console.log(rows[rows.length - 1]);
}
pi5.destroy(rt);
await llama.dispose();
if (!keep) fs.rmSync(tmp, {recursive: true, force: true});
console.log(`fidelity (${backend}, computed on ${lastComputed}): ${rows.length - failures}/${rows.length} models within bounds in ${((Date.now() - t0) / 1000).toFixed(1)} s ` +
    `(max |Δp| after the prompt <= ${BOUND_DP0}, TinyLLama-v0 2e-2; along the greedy steps <= ${BOUND_DP_ALL}; top-1 equal; greedy ${N_GREEDY} equal up to near-ties < ${TIE_EPS})`);
process.exit(failures ? 1 : 0);
