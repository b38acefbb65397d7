#!/usr/bin/env node
// Speed side by side with llama.cpp in one run, printed as ratios. Both sides use the same method
// (../shared/device/bench_llamacpp.mjs, the anchor): pp = prompt tokens/s evaluating P tokens from
// an empty cache, tg = tokens/s generating N tokens one at a time after an 8-token prompt, median
// of R repetitions.
//
// usage: node bench/vs_llamacpp.mjs MODEL.gguf [vulkan|cpu] [P=512] [N=128] [R=3] [-- extra CLI flags]
// env:   PI5_CLI (default zig-out/bin/pi5_llm_rt), LLAMACPP_BENCH (default ../shared/device/bench_llamacpp.mjs,
//        or /tmp/ref/bench_llamacpp.mjs on the GPU machine), THREADS (llama.cpp CPU threads; set 2 on a 2-core box)
import {execFileSync} from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import {fileURLToPath} from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "..");
const dd = process.argv.indexOf("--");
const args = dd >= 0 ? process.argv.slice(2, dd) : process.argv.slice(2);
const extra = dd >= 0 ? process.argv.slice(dd + 1) : [];
const [model, backend = "vulkan", p = "512", n = "128", r = "3"] = args;
if (!model) {
    console.error("usage: node bench/vs_llamacpp.mjs MODEL.gguf [vulkan|cpu] [P] [N] [R] [-- flags]");
    process.exit(2);
}
const cli = process.env.PI5_CLI ?? path.join(repo, "zig-out", "bin", "pi5_llm_rt");
const anchor = process.env.LLAMACPP_BENCH ?? [path.resolve(repo, "..", "shared", "device", "bench_llamacpp.mjs"), "/tmp/ref/bench_llamacpp.mjs"].find((f) => fs.existsSync(f));
if (!anchor) {
    console.error("bench: llama.cpp anchor script not found (LLAMACPP_BENCH)");
    process.exit(2);
}
// The anchor imports node-llama-cpp by name: run a copy from inside this repo's node_modules so
// that it resolves there (on the GPU machine /tmp/ref has its own node_modules beside it).
let anchorRun = anchor;
if (!fs.existsSync(path.join(path.dirname(anchor), "node_modules", "node-llama-cpp"))) {
    const dir = path.join(repo, "node_modules", ".pi5-bench");
    fs.mkdirSync(dir, {recursive: true});
    anchorRun = path.join(dir, "bench_llamacpp.mjs");
    fs.copyFileSync(anchor, anchorRun);
}
const json = (out) => JSON.parse(out.trim().split("\n").filter((l) => l.startsWith("{")).pop());
const ref = json(execFileSync(process.execPath, [anchorRun, path.resolve(model), backend, p, n, r], {cwd: path.dirname(anchorRun), encoding: "utf8", stdio: ["ignore", "pipe", "inherit"]}));
const ours = json(execFileSync(cli, ["bench", "--model", model, "--backend", backend === "cpu" ? "cpu" : "vulkan", "-p", p, "-n", n, "-r", r, ...extra], {encoding: "utf8", stdio: ["ignore", "pipe", "inherit"]}));
const res = {
    model: path.basename(model), backend, device: ours.device, flags: extra.join(" "),
    llamacpp: {pp: ref.pp_med, tg: ref.tg_med}, ours: {pp: ours.pp_med, tg: ours.tg_med},
    ratio: {pp: +(ours.pp_med / ref.pp_med).toFixed(3), tg: +(ours.tg_med / ref.tg_med).toFixed(3)},
};
console.log(JSON.stringify(res));
