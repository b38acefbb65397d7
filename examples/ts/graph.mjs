// A small custom graph: y = silu(W·x + b) for a batch of tokens, computed on the runtime's backend
// and checked against plain JavaScript.
//   node examples/ts/graph.mjs     (after `npm run build`)
import { Runtime } from 'pi5-llm-rt';

const nIn = 8, nOut = 4, nTokens = 3;
const W = Float32Array.from({ length: nIn * nOut }, (_, i) => Math.sin(i) * 0.5); // [nIn, nOut]: row o holds W[o][*]
const b = Float32Array.from({ length: nOut }, (_, i) => 0.1 * i);
const x = Float32Array.from({ length: nIn * nTokens }, (_, i) => Math.cos(i));

const rt = await Runtime.create({ backend: process.env.PI5_BACKEND ?? 'cpu' });
try {
  const g = rt.createGraph({ maxTokens: nTokens, profile: true });
  const input = g.input('x', nIn);
  const w = g.weight('W', [nIn, nOut], W);
  const bias = g.weight('b', [nOut], b);
  const y = input.matmul(w).add(bias).silu().output();
  await g.compute({ inputs: { x }, nTokens });
  const got = g.read(y);

  const silu = (v) => v / (1 + Math.exp(-v));
  let maxErr = 0;
  for (let t = 0; t < nTokens; t++) {
    for (let o = 0; o < nOut; o++) {
      let acc = b[o];
      for (let i = 0; i < nIn; i++) acc += W[o * nIn + i] * x[t * nIn + i];
      maxErr = Math.max(maxErr, Math.abs(silu(acc) - got[t * nOut + o]));
    }
  }
  console.log(`y = ${Array.from(got, (v) => v.toFixed(4)).join(' ')}`);
  console.log(`max |graph - js| = ${maxErr.toExponential(2)}`);
  const prof = g.profile();
  console.log(`profile: ${prof.nodes.length} nodes, ${prof.total_ns} ns`);
  g.dispose();
  if (maxErr > 1e-4) process.exit(1);
} finally {
  rt.dispose();
}
