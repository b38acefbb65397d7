#!/usr/bin/env node
// CPU speed against llama.cpp's own llama-bench in one run, as a table of ratios.
// For each model: llama-bench (-ngl 0 -t T, pp P / tg N, R repetitions), then ours
// (`pi5_llm_rt bench --backend cpu --threads T`), back to back, so that both see the same
// machine load. The machine may be shared: run it twice and compare before trusting a ratio.
//
// usage: node bench/cpu_vs_llamabench.mjs [-t 2] [-p 64] [-n 16] [-r 3] MODEL.gguf...
// env:   PI5_CLI (default zig-out/bin/pi5_llm_rt), LLAMA_BENCH (default .llama-bench/run, built by
//        ../shared/device/build_llama_bench.sh), OURS_ENV (extra env for ours, e.g. PI5_CPU_ISA=avx2)
import {execFileSync} from "node:child_process";
import path from "node:path";
import {fileURLToPath} from "node:url";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const opt = {t: "2", p: "64", n: "16", r: "3"};
const models = [];
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
    const m = /^-([tpnr])$/.exec(argv[i]);
    if (m) opt[m[1]] = argv[++i];
    else models.push(argv[i]);
}
if (models.length === 0) {
    console.error("usage: node bench/cpu_vs_llamabench.mjs [-t T] [-p P] [-n N] [-r R] MODEL.gguf...");
    process.exit(2);
}
const cli = process.env.PI5_CLI ?? path.join(repo, "zig-out", "bin", "pi5_llm_rt");
const lb = process.env.LLAMA_BENCH ?? path.join(repo, ".llama-bench", "run");
const oursEnv = {...process.env};
for (const kv of (process.env.OURS_ENV ?? "").split(/\s+/).filter(Boolean)) {
    const [k, v] = kv.split("=");
    oursEnv[k] = v;
}

function llamaBench(model) {
    const out = execFileSync(lb, ["-m", model, "-p", opt.p, "-n", opt.n, "-ngl", "0", "-t", opt.t, "-r", opt.r, "-o", "jsonl"],
        {encoding: "utf8", stdio: ["ignore", "pipe", "ignore"]});
    const rows = out.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
    const pp = rows.find((r) => r.n_prompt > 0 && r.n_gen === 0);
    const tg = rows.find((r) => r.n_gen > 0 && r.n_prompt === 0);
    return {pp: pp?.avg_ts, tg: tg?.avg_ts, pp_sd: pp?.stddev_ts, tg_sd: tg?.stddev_ts};
}
function ours(model) {
    const out = execFileSync(cli, ["bench", "--model", model, "--backend", "cpu", "--threads", opt.t, "-p", opt.p, "-n", opt.n, "-r", opt.r],
        {encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], env: oursEnv});
    const j = JSON.parse(out.trim().split("\n").filter((l) => l.startsWith("{")).pop());
    return {pp: j.pp_med, tg: j.tg_med, pp_all: j.pp, tg_all: j.tg};
}

const f = (x) => (x === undefined ? "-" : x.toFixed(1));
console.log(`| model | llama.cpp pp${opt.p} | ours | ratio | llama.cpp tg${opt.n} | ours | ratio |`);
console.log("|---|---|---|---|---|---|---|");
for (const m of models) {
    const ref = llamaBench(m);
    const o = ours(m);
    console.log(`| ${path.basename(m)} | ${f(ref.pp)} ±${f(ref.pp_sd)} | ${f(o.pp)} | ${(o.pp / ref.pp).toFixed(3)} | ${f(ref.tg)} ±${f(ref.tg_sd)} | ${f(o.tg)} | ${(o.tg / ref.tg).toFixed(3)} |`);
    console.error(JSON.stringify({model: m, threads: opt.t, llamacpp: ref, ours: o}));
}
