import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT, LIB } from './helpers.mjs';

process.env.PI5_LLM_RT_LIB = LIB;
const { Runtime, Pi5Error, Pi5DisposedError } = await import(join(ROOT, 'dist', 'index.js'));

const rand = (n, seed) => Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 1000 + i * 12.9898) * 0.7);
const close = (got, want, tol, what) => {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= tol, `${what}[${i}]: ${got[i]} vs ${want[i]}`);
};

test('graph builder matches plain TypeScript: rms_norm → matmul → add → swiglu → softmax', async () => {
  const rt = await Runtime.create({ backend: 'cpu', threads: 1 });
  try {
    const nIn = 16, nOut = 8, T = 3, eps = 1e-5;
    const W1 = rand(nIn * nOut, 1), W2 = rand(nIn * nOut, 2), b = rand(nOut, 3), g = rand(nIn, 4), x = rand(nIn * T, 5);
    const graph = rt.createGraph({ maxTokens: 4, profile: true });
    const xin = graph.input('x', nIn);
    const h = xin.rmsNorm(eps).mul(graph.weight('g', [nIn], g));
    const gate = h.matmul(graph.weight('W1', [nIn, nOut], W1)).add(graph.weight('b', [nOut], b));
    const up = h.matmul(graph.weight('W2', [nIn, nOut], W2));
    const act = gate.swiglu(up).output();
    const probs = act.softmax({ scale: 0.5 }).output();
    const last = probs.lastRow().output();
    await graph.compute({ inputs: { x }, nTokens: T });

    // The same in TypeScript.
    const wantAct = [], wantProbs = [];
    for (let t = 0; t < T; t++) {
      const row = x.subarray(t * nIn, (t + 1) * nIn);
      const ms = row.reduce((a, v) => a + v * v, 0) / nIn;
      const hn = Array.from(row, (v, i) => (v / Math.sqrt(ms + eps)) * g[i]);
      const a = [];
      for (let o = 0; o < nOut; o++) {
        let s1 = b[o], s2 = 0;
        for (let i = 0; i < nIn; i++) { s1 += W1[o * nIn + i] * hn[i]; s2 += W2[o * nIn + i] * hn[i]; }
        a.push((s1 / (1 + Math.exp(-s1))) * s2);
      }
      wantAct.push(...a);
      const m = Math.max(...a.map((v) => v * 0.5));
      const e = a.map((v) => Math.exp(v * 0.5 - m));
      const z = e.reduce((p, q) => p + q, 0);
      wantProbs.push(...e.map((v) => v / z));
    }
    close(graph.read(act), wantAct, 1e-4, 'swiglu');
    close(graph.read(probs), wantProbs, 1e-5, 'softmax');
    close(graph.read(last), wantProbs.slice((T - 1) * nOut), 1e-5, 'last row');
    const prof = graph.profile();
    assert.equal(prof.enabled, true);
    assert.ok(prof.nodes.length >= 5 && prof.nodes.every((n) => n.backend === 'cpu'));

    // A second step with other tokens reuses the plan.
    await graph.compute({ inputs: { x: x.subarray(0, nIn) }, nTokens: 1 });
    close(graph.read(act), wantAct.slice(0, nOut), 1e-4, 'step 2');

    // Errors carry codes and name the op.
    assert.throws(() => graph.input('late', 4), (e) => e instanceof Pi5Error && e.code === 'PI5_ERR_INVALID_ARGUMENT');
    assert.throws(() => graph.weight('w', [4, 4], new Float32Array(3)), /holds 16 floats/);
    graph.dispose();
    graph.dispose();
    assert.throws(() => graph.read(act), Pi5DisposedError);
  } finally {
    rt.dispose();
  }
});

test('shape mismatches are PI5_ERR_INVALID_ARGUMENT; runtime dispose destroys its graphs', async () => {
  const rt = await Runtime.create({ backend: 'cpu', threads: 1 });
  const graph = rt.createGraph();
  const x = graph.input('x', 4);
  const w = graph.weight('w', [8, 2], new Float32Array(16));
  assert.throws(() => x.matmul(w), (e) => e instanceof Pi5Error && e.code === 'PI5_ERR_INVALID_ARGUMENT');
  assert.throws(() => rt.createGraph({ policy: 'gpu' }), (e) => e.code === 'PI5_ERR_INVALID_ARGUMENT');
  rt.dispose();
  assert.throws(() => graph.input('y', 4), Pi5DisposedError);
  graph.dispose(); // after the runtime: a no-op
});
