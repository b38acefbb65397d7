// bench/results.mjs on recorded runs, deterministic, no live timings. tests/bench/fixtures/run1..6:
// six real back-to-back runs of one build of pi5-bench on the 2-core CI machine while six other
// engineers compiled on it (`pi5-bench --quick --backends cpu --threads 1 --reps 9 --sustain-s 2`):
// run1..5 are the history, run6 the rerun. Their run-to-run spread is large (most thresholds 30-200%),
// which is what the comparison has to live with on a shared machine.
import {test} from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {fileURLToPath} from "node:url";
import {readRun, compare, compareRuns, compareText, record, stemOf, chartSpecs} from "../../bench/results.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const fx = (f) => path.join(here, "fixtures", f);
const history = () => [1, 2, 3, 4, 5].map((i) => readRun(fx(`run${i}.jsonl`)));
const B = fx("run6.jsonl"); // the same build, run again
const A = fx("run1.jsonl");

/// A copy of `run` whose measurements are `factor` times slower: times (better: lower) x factor,
/// rates (better: higher) / factor, the median and the best repetition alike. Only keys matching `which`.
function slowed(run, factor, which = () => true) {
    const r = structuredClone(run);
    for (const x of r.records) {
        if (!which(x.key)) continue;
        for (const f of ["value", "best"]) {
            if (typeof x[f] !== "number") continue;
            if (x.better === "lower") x[f] *= factor;
            else if (x.better === "higher") x[f] /= factor;
        }
    }
    return r;
}

test("fixtures are runs of the same build on the same machine", () => {
    const b = readRun(B);
    for (const a of history()) {
        assert.equal(a.header.commit, b.header.commit);
        assert.equal(a.header.machine, b.header.machine);
        assert.ok(a.header.date < b.header.date);
        assert.ok(a.records.filter((r) => r.suite === "kernels").length >= 20);
    }
});

test("a rerun of the same build is quiet", () => {
    const res = compareRuns(readRun(B), history());
    const comparable = res.rows.filter((r) => r.status !== "new");
    assert.ok(comparable.length >= 20, `only ${comparable.length} comparable measurements`);
    const flagged = res.rows.filter((r) => r.status === "regression" || r.status === "improvement");
    assert.deepEqual(flagged.map((r) => r.key), [], compareText(res));
    assert.equal(res.runWide, false, compareText(res));
});

test("an injected 30% slowdown of the whole run is flagged as a run-wide regression", () => {
    const res = compareRuns(slowed(readRun(B), 1.3), history());
    assert.equal(res.runWide, true);
    assert.ok(Math.abs(res.shift - 1.3) < 0.1, `shift ${res.shift}`);
    assert.match(compareText(res), /RUN-WIDE REGRESSION/);
    // Nothing moved beyond the run-wide move, so no single measurement is singled out.
    assert.equal(res.rows.filter((r) => r.status === "improvement").length, 0);
});

test("a slowdown in one kernel flags that kernel and nothing else", () => {
    const a = history(), b = readRun(B);
    // Every kernel measurement whose noise threshold is below 30% (the spread of these runs
    // allows telling 30% apart): slowing it alone flags it alone.
    const steady = compare(b, a).filter((r) => r.status === "same" && r.key.startsWith("kernels/") && r.threshold < 0.25);
    assert.ok(steady.length >= 1, "no kernel measurement steady enough to tell 30% apart");
    for (const one of steady) {
        const rows = compare(slowed(b, 1.3, (k) => k === one.key), a);
        const flagged = rows.filter((r) => r.status !== "same" && r.status !== "new");
        assert.deepEqual(flagged.map((r) => [r.key, r.status]), [[one.key, "regression"]]);
    }
    const steadyOne = steady[0];
    // 30% faster is an improvement, not a regression.
    const faster = compare(slowed(b, 1 / 1.3, (k) => k === steadyOne.key), a).filter((r) => r.status !== "same" && r.status !== "new");
    assert.deepEqual(faster.map((r) => [r.key, r.status]), [[steadyOne.key, "improvement"]]);
});

test("a measurement that got faster in a rate unit counts as better", () => {
    const a = readRun(A);
    // The steadiest rate (tokens/s, GB/s) of the run, set against the run itself.
    const copy = a.records.filter((r) => r.better === "higher" && r.spread < 0.1).sort((x, y) => x.spread - y.spread)[0];
    assert.ok(copy, "fixture has a steady higher-is-better measurement");
    const rows = compare(slowed(a, 1.5, (k) => k === copy.key), [a]);
    assert.equal(rows.find((r) => r.key === copy.key).status, "regression");
});

test("record files the run, its summary with charts, the log entry and the comparison", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pi5-results-"));
    try {
        const r1 = await record(A, {results: dir});
        assert.match(r1.cmpText, /first run/);
        for (const i of [2, 3, 4, 5]) await record(fx(`run${i}.jsonl`), {results: dir});
        const r2 = await record(B, {results: dir});
        assert.equal(path.basename(r2.dest), `${stemOf(readRun(B).header)}.jsonl`);
        assert.match(r2.cmpText, /0 regressions, 0 improvements/);
        const md = fs.readFileSync(r2.mdFile, "utf8");
        assert.match(md, /## Charts/);
        assert.ok(r2.charts.length >= 3, `charts: ${r2.charts}`);
        for (const c of r2.charts) {
            const svg = fs.readFileSync(c, "utf8");
            assert.match(svg, /^<svg/);
            assert.ok(md.includes(`charts/${path.basename(c)}`));
        }
        const log = fs.readFileSync(path.join(dir, "benchmark_log.md"), "utf8");
        assert.equal(log.match(/^## /gm).length, 6);
    } finally {
        fs.rmSync(dir, {recursive: true, force: true});
    }
});

test("chart specs cover kernels, models, the sustained run", () => {
    const names = chartSpecs(readRun(A)).map(([n]) => n);
    for (const n of ["kernels-matvec", "kernels-matmat", "kernels-ops", "models", "sustain-cpu"]) assert.ok(names.includes(n), names.join(","));
});

test("bad input: not JSON, no header", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pi5-results-"));
    try {
        fs.writeFileSync(path.join(dir, "x.jsonl"), "{not json\n");
        assert.throws(() => readRun(path.join(dir, "x.jsonl")), /not JSON/);
        fs.writeFileSync(path.join(dir, "y.jsonl"), '{"key":"a","value":1}\n');
        assert.throws(() => readRun(path.join(dir, "y.jsonl")), /no run header/);
    } finally {
        fs.rmSync(dir, {recursive: true, force: true});
    }
});
