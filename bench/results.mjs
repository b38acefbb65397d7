#!/usr/bin/env node
// The results log of the benchmark runner (zig-out/bin/pi5-bench), its comparison with earlier
// runs, and its charts (vega-lite specs rendered to SVG by the `vega` npm package, no browser).
//
//   node bench/results.mjs record RUN.jsonl [--summary RUN.md] [--results DIR]
//        files the run as DIR/<date>_<machine>_<commit>[_<profile>].jsonl (+ .md with the charts and the
//        comparison), draws DIR/charts/<stem>-*.svg, appends an entry to DIR/benchmark_log.md, and
//        prints the comparison against the previous runs of the same machine. DIR = results/.
//   node bench/results.mjs compare NEW.jsonl [PREVIOUS.jsonl ...] [--results DIR] [--last N]
//        without PREVIOUS: the last N (5) runs in DIR of the same machine. Exit status 3 when a
//        measurement got worse beyond the run-to-run spread, 0 otherwise.
//   node bench/results.mjs charts RUN.jsonl OUTDIR [--stem NAME]
//
// Each measurement's best repetition (`best`, else `value`) is set against the median of the previous
// runs' (the baseline). A run-wide move (the median worse-factor over all measurements beyond 10%) is
// reported once, and each measurement is then judged on what it moved beyond it; a measurement is
// flagged when that passes its noise threshold: max(10%, 3 x the largest within-run spread (MAD /
// median of the repetitions, new run and previous ones), 1.5 x the previous runs' largest deviation
// from their median). Timings are never asserted anywhere; this only reports.
import fs from "node:fs";
import path from "node:path";
import {fileURLToPath} from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "..");

export function readRun(file) {
    const lines = fs.readFileSync(file, "utf8").split("\n").filter((l) => l.trim().startsWith("{"));
    const objs = lines.map((l, i) => {
        try {
            return JSON.parse(l);
        } catch (e) {
            throw new Error(`${file}:${i + 1}: not JSON: ${e.message}`);
        }
    });
    const header = objs.find((o) => o.suite === "run" && o.date);
    if (!header) throw new Error(`${file}: no run header (is this pi5-bench output?)`);
    const records = objs.filter((o) => typeof o.key === "string" && o.key.length > 0);
    const devices = objs.filter((o) => o.suite === "device");
    return {file, header, records, devices};
}

export function stemOf(h) {
    const d = h.date.replace(/[-:]/g, "").replace(/T(\d{6})Z?$/, "-$1");
    const clean = (s) => String(s).replace(/[^A-Za-z0-9.+-]+/g, "-").replace(/^-|-$/g, "").slice(0, 40) || "unknown";
    return `${d}_${clean(h.machine)}_${clean(h.commit).slice(0, 12)}${h.profile && h.profile !== "none" ? "_" + h.profile : ""}`;
}

const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    const n = s.length;
    return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};

export const MIN_THRESHOLD = 0.10;

// The number compared across runs: the best repetition where the run recorded it (load from other
// processes only ever makes a repetition worse), else the median.
const val = (r) => (typeof r.best === "number" && r.best > 0 ? r.best : r.value);
// How much worse `v` is than `base` as a factor (> 1 worse), whichever way is better.
const worseFactor = (r, v, base) => (r.better === "lower" ? v / base : base / v);

/// Compares `cur` with `prevs` (oldest first): {rows, shift}. One row per comparable measurement;
/// `shift` is the run-wide move (median worse-factor over all compared measurements, > 1 = slower).
/// When the whole run moved (a busier machine, or a change that slows everything) that is reported
/// once as a run-wide change and each measurement is judged on what it moved beyond it.
export function compareRuns(cur, prevs) {
    const rows = [];
    for (const r of cur.records) {
        if (r.better !== "lower" && r.better !== "higher") continue;
        if (typeof r.value !== "number" || !(val(r) > 0)) continue;
        const hist = prevs.map((p) => p.records.find((q) => q.key === r.key)).filter((q) => q && typeof q.value === "number" && val(q) > 0);
        if (hist.length === 0) {
            rows.push({key: r.key, status: "new", value: val(r), unit: r.unit});
            continue;
        }
        const vals = hist.map(val);
        const base = median(vals);
        const within = Math.max(r.spread ?? 0, ...hist.map((q) => q.spread ?? 0));
        const across = vals.length > 1 ? Math.max(...vals.map((v) => Math.abs(v / base - 1))) : 0;
        const threshold = Math.max(MIN_THRESHOLD, 3 * within, 1.5 * across);
        rows.push({key: r.key, better: r.better, value: val(r), base, factor: worseFactor(r, val(r), base), threshold, unit: r.unit, n_prev: hist.length});
    }
    const cmp = rows.filter((r) => r.status !== "new");
    const shift = cmp.length >= 5 ? Math.exp(median(cmp.map((r) => Math.log(r.factor)))) : 1;
    const runWide = Math.abs(shift - 1) > MIN_THRESHOLD;
    for (const r of cmp) {
        const f = runWide ? r.factor / shift : r.factor;
        r.change = r.better === "lower" ? r.value / r.base - 1 : r.value / r.base - 1;
        r.status = f - 1 > r.threshold ? "regression" : 1 / f - 1 > r.threshold ? "improvement" : "same";
        if (runWide) r.beyond_run = f;
    }
    return {rows, shift, runWide};
}

/// Rows only (see compareRuns).
export function compare(cur, prevs) {
    return compareRuns(cur, prevs).rows;
}

export function compareText(res) {
    const {rows, shift, runWide} = Array.isArray(res) ? {rows: res, shift: 1, runWide: false} : res;
    const flagged = rows.filter((r) => r.status === "regression" || r.status === "improvement");
    const pct = (x) => `${x >= 0 ? "+" : ""}${(100 * x).toFixed(1)}%`;
    const lines = [];
    const n = (s) => rows.filter((r) => r.status === s).length;
    lines.push(`${rows.length} measurements: ${n("regression")} regressions, ${n("improvement")} improvements, ${n("same")} within the run-to-run spread, ${n("new")} new`);
    if (runWide) lines.push(`RUN-WIDE ${shift > 1 ? "REGRESSION" : "improvement"}: the median measurement is ${((shift > 1 ? shift - 1 : 1 / shift - 1) * 100).toFixed(1)}% ${shift > 1 ? "slower" : "faster"} than in the previous runs (a busier or quieter machine, or a change that moves everything); the lines below are judged beyond that`);
    else if (rows.length) lines.push(`run-wide: the median measurement moved ${pct(shift - 1)} (within ±${(100 * MIN_THRESHOLD).toFixed(0)}%)`);
    for (const r of flagged) lines.push(`${r.status === "regression" ? "REGRESSION " : "improvement"} ${r.key}: ${fmt(r.base)} -> ${fmt(r.value)} ${r.unit} (${pct(r.change)}, threshold ±${(100 * r.threshold).toFixed(0)}%, ${r.n_prev} previous)`);
    return lines.join("\n");
}

const fmt = (x) => (x >= 100 ? x.toFixed(1) : x >= 1 ? x.toFixed(3) : x.toPrecision(3));

/// Previous runs in `dir` of the same machine and arch, oldest first, without `cur` itself.
export function previousRuns(dir, cur, last = 5) {
    if (!fs.existsSync(dir)) return [];
    const runs = [];
    for (const f of fs.readdirSync(dir).filter((f) => f.endsWith(".jsonl")).sort()) {
        const p = path.join(dir, f);
        if (path.resolve(p) === path.resolve(cur.file)) continue;
        let r;
        try {
            r = readRun(p);
        } catch {
            continue;
        }
        if (r.header.machine === cur.header.machine && r.header.arch === cur.header.arch && r.header.date < cur.header.date) runs.push(r);
    }
    runs.sort((a, b) => (a.header.date < b.header.date ? -1 : 1));
    return runs.slice(-last);
}

// ---- charts ----

async function toSvg(spec) {
    const vl = await import("vega-lite");
    const vega = await import("vega");
    const view = new vega.View(vega.parse(vl.compile(spec).spec), {renderer: "none"});
    const svg = await view.toSVG();
    view.finalize();
    return svg;
}

const base = (title) => ({$schema: "https://vega.github.io/schema/vega-lite/v6.json", title, config: {font: "sans-serif", view: {stroke: "#ccc"}}});

/// [name, spec] for every chart this run has data for.
export function chartSpecs(run) {
    const out = [];
    const k = run.records.filter((r) => r.suite === "kernels" && typeof r.value === "number" && r.value > 0);
    const dev = (r) => `${r.backend}: ${String(r.device).slice(0, 32)}`;
    for (const [op, name, title] of [
        ["mul_mat_vec", "kernels-matvec", "mat-vec (decode): GB/s vs weight size"],
        ["mul_mat", "kernels-matmat", "mat-mat (prompt batch): GFLOPS vs weight size"],
    ]) {
        const vals = k.filter((r) => r.op === op).map((r) => ({type: r.type, mib: r.size_bytes / 1048576, gbps: r.gbps, gflops: r.gflops, device: dev(r)}));
        if (vals.length === 0) continue;
        const y = op === "mul_mat" ? "gflops" : "gbps";
        out.push([name, {
            ...base(`${title} (${run.header.machine}, limits ${run.header.profile})`),
            data: {values: vals},
            facet: {column: {field: "device", type: "nominal", title: null}},
            spec: {
                width: 300, height: 220,
                mark: {type: "line", point: true},
                encoding: {
                    x: {field: "mib", type: "quantitative", scale: {type: "log"}, title: "operand bytes (MiB)"},
                    y: {field: y, type: "quantitative", scale: {type: "log"}, title: y === "gbps" ? "GB/s" : "GFLOPS"},
                    color: {field: "type", type: "nominal", title: "weights"},
                },
            },
            resolve: {scale: {y: "independent"}},
        }]);
    }
    const ops = k.filter((r) => !r.op.startsWith("mul_mat")).map((r) => ({op: r.op, mib: r.size_bytes / 1048576, gbps: r.gbps, device: dev(r)}));
    if (ops.length) out.push(["kernels-ops", {
        ...base(`softmax, rms_norm, rope, attention: GB/s vs size (${run.header.machine})`),
        data: {values: ops},
        facet: {column: {field: "device", type: "nominal", title: null}},
        spec: {
            width: 300, height: 220, mark: {type: "line", point: true},
            encoding: {
                x: {field: "mib", type: "quantitative", scale: {type: "log"}, title: "operand bytes (MiB)"},
                y: {field: "gbps", type: "quantitative", scale: {type: "log"}, title: "GB/s"},
                color: {field: "op", type: "nominal"},
            },
        },
        resolve: {scale: {y: "independent"}},
    }]);
    const m = run.records.filter((r) => r.suite === "models" && r.value > 0);
    if (m.length) {
        const vals = [];
        for (const r of m) {
            vals.push({model: `${r.model} (${r.backend})`, test: r.test, who: "pi5-llm-rt", tps: r.value});
            if (r.llamacpp > 0) vals.push({model: `${r.model} (${r.backend})`, test: r.test, who: "llama.cpp", tps: r.llamacpp});
        }
        out.push(["models", {
            ...base(`tokens/s, ours vs llama.cpp in the same run (${run.header.machine})`),
            data: {values: vals},
            facet: {column: {field: "model", type: "nominal", title: null}},
            spec: {
                width: {step: 18}, height: 220, mark: "bar",
                encoding: {
                    x: {field: "test", type: "nominal", title: null},
                    xOffset: {field: "who"},
                    y: {field: "tps", type: "quantitative", scale: {type: "log"}, stack: null, title: "tokens/s (log scale)"},
                    color: {field: "who", type: "nominal", title: null},
                },
            },
            resolve: {scale: {y: "independent"}},
        }]);
    }
    const s = run.records.filter((r) => r.kind === "sustain_sample" && r.value > 0);
    for (const backend of [...new Set(s.map((r) => r.backend))]) {
        const vals = s.filter((r) => r.backend === backend).map((r) => ({t: r.t_s, us: r.value, temp: r.temp_c ?? null}));
        const hasTemp = vals.some((v) => v.temp != null);
        const layers = [{mark: {type: "line", color: "#4c78a8", point: true}, encoding: {x: {field: "t", type: "quantitative", title: "seconds"}, y: {field: "us", type: "quantitative", title: "µs per dispatch", scale: {zero: false}}}}];
        if (hasTemp) layers.push({mark: {type: "line", color: "#e45756", strokeDash: [4, 2]}, encoding: {x: {field: "t", type: "quantitative"}, y: {field: "temp", type: "quantitative", title: "hottest thermal zone °C", scale: {zero: false}}}});
        const d = s.find((r) => r.backend === backend);
        out.push([`sustain-${backend}`, {
            ...base(`sustained Q4_0 4096x4096 mat-vec on ${dev(d)}: time${hasTemp ? " (blue), temperature (red, dashed)" : " (no thermal sensors here)"}`),
            data: {values: vals}, width: 420, height: 200, layer: layers,
            resolve: {scale: {y: "independent"}},
        }]);
    }
    return out;
}

export async function writeCharts(run, dir, stem) {
    fs.mkdirSync(dir, {recursive: true});
    const files = [];
    for (const [name, spec] of chartSpecs(run)) {
        const f = path.join(dir, `${stem}-${name}.svg`);
        fs.writeFileSync(f, await toSvg(spec));
        files.push(f);
    }
    return files;
}

// ---- record ----

function logEntry(run, stem, mdRel, cmpText) {
    const h = run.header;
    const lines = [`## ${h.date} · ${h.machine} · \`${h.commit}\` · limits ${h.profile}`, ""];
    lines.push(`${h.cpu} (${h.arch}); suites ${h.suites.join(", ")}${h.quick ? " (quick)" : ""}; ${run.records.length} measurements; [summary](${mdRel}), data \`${stem}.jsonl\`.`, "");
    const copies = run.records.filter((r) => r.kind === "copy" && r.value > 0);
    if (copies.length) lines.push("Copy bandwidth: " + copies.map((r) => `${r.backend} ${r.op} ${fmt(r.value)} GB/s`).join(", ") + ".", "");
    const ratios = run.records.filter((r) => r.suite === "models" && r.ratio > 0);
    if (ratios.length) lines.push("Versus llama.cpp (same run): " + ratios.map((r) => `${r.model} ${r.backend} ${r.test} ${r.ratio.toFixed(3)}`).join(", ") + ".", "");
    lines.push("```", cmpText, "```", "", "");
    return lines.join("\n");
}

export async function record(file, opts) {
    const dir = opts.results ?? path.join(repo, "results");
    fs.mkdirSync(dir, {recursive: true});
    const run = readRun(file);
    const stem = stemOf(run.header);
    const dest = path.join(dir, `${stem}.jsonl`);
    if (path.resolve(dest) !== path.resolve(file)) fs.copyFileSync(file, dest);
    run.file = dest;
    const prevs = previousRuns(dir, run, opts.last ?? 5);
    const res = compareRuns(run, prevs);
    const rows = res.rows;
    const cmpText = prevs.length ? compareText(res) : "first run of this machine in the log: nothing to compare with";
    const charts = await writeCharts(run, path.join(dir, "charts"), stem);
    let md = opts.summary && fs.existsSync(opts.summary) ? fs.readFileSync(opts.summary, "utf8") : `# Benchmark run ${run.header.date} on ${run.header.machine}\n\n`;
    if (charts.length) md += "## Charts\n\n" + charts.map((c) => `![${path.basename(c, ".svg")}](charts/${path.basename(c)})`).join("\n\n") + "\n\n";
    md += `## Compared with the previous runs of ${run.header.machine}\n\n\`\`\`\n${cmpText}\n\`\`\`\n`;
    const mdFile = path.join(dir, `${stem}.md`);
    fs.writeFileSync(mdFile, md);
    const log = path.join(dir, "benchmark_log.md");
    if (!fs.existsSync(log)) fs.writeFileSync(log, "# Benchmark log\n\nOne entry per `pi5-bench` run, appended by `node bench/results.mjs record` (newest last).\n\n");
    fs.appendFileSync(log, logEntry(run, stem, `${stem}.md`, cmpText));
    return {stem, dest, mdFile, charts, rows, cmpText};
}

// ---- CLI ----

function parse(argv) {
    const pos = [];
    const o = {};
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (a === "--results") o.results = argv[++i];
        else if (a === "--summary") o.summary = argv[++i];
        else if (a === "--stem") o.stem = argv[++i];
        else if (a === "--last") o.last = Number(argv[++i]);
        else if (a.startsWith("--")) throw new Error(`unknown option ${a}`);
        else pos.push(a);
    }
    if (o.last !== undefined && !(o.last >= 1)) throw new Error("--last needs a number ≥ 1");
    return {pos, o};
}

async function main() {
    const [cmd, ...rest] = process.argv.slice(2);
    const {pos, o} = parse(rest);
    if (cmd === "record" && pos.length === 1) {
        const r = await record(pos[0], o);
        console.log(`results: ${path.relative(process.cwd(), r.dest)}, ${path.relative(process.cwd(), r.mdFile)}, ${r.charts.length} charts`);
        console.log(r.cmpText);
        return 0;
    }
    if (cmd === "compare" && pos.length >= 1) {
        const cur = readRun(pos[0]);
        const prevs = pos.length > 1 ? pos.slice(1).map(readRun) : previousRuns(o.results ?? path.join(repo, "results"), cur, o.last ?? 5);
        if (prevs.length === 0) {
            console.log("no previous runs to compare with");
            return 0;
        }
        const res = compareRuns(cur, prevs);
        console.log(compareText(res));
        return res.rows.some((r) => r.status === "regression") || (res.runWide && res.shift > 1) ? 3 : 0;
    }
    if (cmd === "charts" && pos.length === 2) {
        const run = readRun(pos[0]);
        for (const f of await writeCharts(run, pos[1], o.stem ?? stemOf(run.header))) console.log(f);
        return 0;
    }
    console.error("usage: node bench/results.mjs record RUN.jsonl [--summary RUN.md] [--results DIR]\n" +
        "       node bench/results.mjs compare NEW.jsonl [PREVIOUS.jsonl ...] [--results DIR] [--last N]\n" +
        "       node bench/results.mjs charts RUN.jsonl OUTDIR [--stem NAME]");
    return 2;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
    main().then((c) => process.exit(c), (e) => {
        console.error(`results: ${e.message}`);
        process.exit(1);
    });
}
