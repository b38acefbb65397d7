// Graph builder over the graph section of the C ABI: declare inputs and weights, chain ops,
// compute on the runtime's backend, read Float32Array outputs.
import { pi5_graph_op_kind, pi5_graph_policy, pi5_status, type Pi5Handle } from '../generated.js';
import { Pi5DisposedError, Pi5Error } from './errors.js';
import { native } from './native.js';
import type { Runtime } from './runtime.js';

/** ggml type ids the builder uses. */
export const GGML_TYPE = { F32: 0, F16: 1, I32: 26 } as const;

export type GraphPolicyName = 'auto' | 'cpu' | 'gpu-layers' | 'gpu-budget';

export interface GraphOptions {
  /** Placement: 'auto' (GPU when the runtime has one; default), 'cpu', 'gpu-layers', 'gpu-budget'. */
  policy?: GraphPolicyName;
  /** For 'gpu-layers': layers < this on the GPU. */
  gpuLayers?: number;
  /** For 'gpu-budget': bytes of weights allowed on the GPU. */
  gpuBudgetBytes?: number | bigint;
  /** Most tokens of one step (default 1). */
  maxTokens?: number;
  /** Record per-node times for profile() (default false). */
  profile?: boolean;
}

export interface ComputeOptions {
  /** Input data by tensor (or input name): n_tokens whole rows. Float32Array for F32, Int32Array for I32. */
  inputs?: Map<Tensor, Float32Array | Int32Array> | Record<string, Float32Array | Int32Array>;
  /** Tokens of this step (default 1). */
  nTokens?: number;
  /** Position of the first token (default 0). */
  pos?: number;
}

export interface GraphProfile {
  enabled: boolean;
  nodes: { id: number; name: string; op: string; backend: string; layer: number; ns: number }[];
  ops: { op: string; backend: string; count: number; ns: number }[];
  total_ns: number;
  [k: string]: unknown;
}

const POLICIES: Record<GraphPolicyName, number> = {
  auto: pi5_graph_policy.PI5_GRAPH_POLICY_AUTO,
  cpu: pi5_graph_policy.PI5_GRAPH_POLICY_CPU,
  'gpu-layers': pi5_graph_policy.PI5_GRAPH_POLICY_GPU_LAYERS,
  'gpu-budget': pi5_graph_policy.PI5_GRAPH_POLICY_GPU_BUDGET,
};

const invalid = (m: string) => new Pi5Error(pi5_status.PI5_ERR_INVALID_ARGUMENT, m);

/** A shape as ne[4] (ne[0] the row length, ggml order), unused dims 1. */
function ne4(shape: readonly number[]): BigUint64Array {
  if (!Array.isArray(shape) || shape.length < 1 || shape.length > 4 || shape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw invalid(`shape: expected 1 to 4 positive integers (ne[0] first), got ${JSON.stringify(shape)}`);
  }
  const out = new BigUint64Array([1n, 1n, 1n, 1n]);
  shape.forEach((d, i) => { out[i] = BigInt(d); });
  return out;
}

/** A tensor of a Graph; chain ops on it. Ids are valid for their graph only. */
export class Tensor {
  constructor(readonly graph: Graph, readonly id: number, readonly name: string | null = null) {}

  /** weight · this: `weight` is [n_in, n_out], this is [n_in, T] → [n_out, T]. */
  matmul(weight: Tensor): Tensor { return this.graph.op('MUL_MAT', [weight, this]); }
  rmsNorm(eps = 1e-5): Tensor { return this.graph.op('RMS_NORM', [this], [eps]); }
  layerNorm(eps = 1e-5, weight?: Tensor, bias?: Tensor): Tensor { return this.graph.op('LAYER_NORM', [this, weight ?? null, bias ?? null], [eps]); }
  add(b: Tensor): Tensor { return this.graph.op('ADD', [this, b]); }
  mul(b: Tensor): Tensor { return this.graph.op('MUL', [this, b]); }
  scale(factor: number): Tensor { return this.graph.op('SCALE', [this], [factor]); }
  silu(): Tensor { return this.graph.op('SILU', [this]); }
  gelu(): Tensor { return this.graph.op('GELU', [this]); }
  /** silu(this) * up. */
  swiglu(up: Tensor): Tensor { return this.graph.op('SWIGLU', [this, up]); }
  softmax(options: { scale?: number; causal?: boolean } = {}): Tensor { return this.graph.op('SOFTMAX', [this], [options.scale ?? 1, options.causal ? 1 : 0]); }
  /** this is [head_dim, n_head, T]. */
  rope(options: { nRot: number; mode?: 'normal' | 'neox'; freqBase?: number; freqScale?: number }): Tensor {
    return this.graph.op('ROPE', [this], [options.nRot, options.mode === 'neox' ? 2 : 0, options.freqBase ?? 10000, options.freqScale ?? 1]);
  }
  /** Rows of this weight [n_embd, n_rows] picked by I32 ids [1, T]. */
  getRows(ids: Tensor): Tensor { return this.graph.op('GET_ROWS', [this, ids]); }
  /** A copy as F32 or F16. */
  cpy(type: 'f32' | 'f16' = 'f32'): Tensor { return this.graph.op('CPY', [this], [type === 'f16' ? 1 : 0]); }
  /** The last token's row. */
  lastRow(): Tensor { return this.graph.op('LAST_ROW', [this]); }
  /** A reshape (offset 0) or, for weights/state, a contiguous slice from element `offset`. */
  view(shape: number[], offset = 0): Tensor { return this.graph.view(this, shape, offset); }
  /** Marks this tensor as an output (readable after compute). Returns this. */
  output(): this { this.graph.markOutput(this); return this; }
}

const GRAPH_TOKEN = Symbol('Graph');

/** @internal Runtime.createGraph. */
export function createGraphOn(rt: Runtime, options: GraphOptions): Graph {
  const n = native();
  const o = n.pi5_graph_default_options();
  if (options.policy !== undefined) {
    const p = POLICIES[options.policy];
    if (p === undefined) throw invalid(`policy: expected ${Object.keys(POLICIES).map((k) => `'${k}'`).join(' | ')}, got ${JSON.stringify(options.policy)}`);
    o.policy = p;
  }
  if (options.maxTokens !== undefined) {
    if (!Number.isInteger(options.maxTokens) || options.maxTokens < 1) throw invalid(`maxTokens: expected a positive integer, got ${options.maxTokens}`);
    o.max_tokens = options.maxTokens;
  }
  if (options.gpuLayers !== undefined) o.n_gpu_layers = options.gpuLayers;
  if (options.gpuBudgetBytes !== undefined) (o as any).gpu_budget_bytes = options.gpuBudgetBytes;
  if (options.profile) o.profile = 1;
  const out: [Pi5Handle<'pi5_graph'> | null] = [null];
  rt.check(n.pi5_graph_create(rt.syncHandle('createGraph'), o, out), 'createGraph');
  return new Graph(rt, out[0]!, GRAPH_TOKEN);
}

/**
 * A compute graph on a runtime's backend, built once and computed per step.
 *
 * ```ts
 * const g = rt.createGraph();
 * const x = g.input('x', 4);
 * const w = g.weight('w', [4, 2], new Float32Array([...]));
 * const y = x.matmul(w).silu().output();
 * await g.compute({ inputs: { x: new Float32Array([1, 2, 3, 4]) } });
 * console.log(g.read(y)); // Float32Array(2)
 * ```
 */
export class Graph {
  readonly runtime: Runtime;
  #h: Pi5Handle<'pi5_graph'> | null;
  #inputs = new Map<string, Tensor>();
  readonly #entry: { destroy(): void };

  /** @internal Use runtime.createGraph(). */
  constructor(rt: Runtime, handle: Pi5Handle<'pi5_graph'>, token: symbol) {
    if (token !== GRAPH_TOKEN) throw new TypeError('use runtime.createGraph()');
    this.runtime = rt;
    this.#h = handle;
    this.#entry = { destroy: () => this.#destroy() };
    rt.state.graphs.add(this.#entry);
  }

  #handle(what: string): Pi5Handle<'pi5_graph'> {
    if (!this.#h || this.runtime.disposed) throw new Pi5DisposedError('Graph');
    this.runtime.syncHandle(`graph.${what}`);
    return this.#h;
  }

  #id(what: string, call: (out: Int32Array) => number): number {
    const out = new Int32Array([-1]);
    this.runtime.check(call(out), `graph.${what}`);
    return out[0]!;
  }

  /** A per-token input [rowLen, T]: 'f32' activations, or 'i32' token ids (rowLen 1). */
  input(name: string, rowLen: number, type: 'f32' | 'i32' = 'f32'): Tensor {
    const h = this.#handle('input');
    if (!Number.isInteger(rowLen) || rowLen < 1) throw invalid(`input ${name}: rowLen must be a positive integer`);
    const id = this.#id('input', (o) => native().pi5_graph_input(h, name, type === 'i32' ? GGML_TYPE.I32 : GGML_TYPE.F32, rowLen, o));
    const t = new Tensor(this, id, name);
    this.#inputs.set(name, t);
    return t;
  }

  /** A weight of shape `shape` (ne order: row length first) from F32 data (copied). */
  weight(name: string, shape: number[], data: Float32Array): Tensor {
    const h = this.#handle('weight');
    if (!(data instanceof Float32Array)) throw invalid(`weight ${name}: data must be a Float32Array`);
    const ne = ne4(shape);
    const count = shape.reduce((a, b) => a * b, 1);
    if (data.length !== count) throw invalid(`weight ${name}: shape ${JSON.stringify(shape)} holds ${count} floats, data has ${data.length}`);
    return new Tensor(this, this.#id('weight', (o) => native().pi5_graph_weight(h, name, GGML_TYPE.F32, ne, data, data.byteLength, o)), name);
  }

  /** Persistent state (a KV cache [head_dim, n_head_kv, n_ctx]), zeroed when planned. */
  state(name: string, shape: number[], type: 'f32' | 'f16' = 'f32'): Tensor {
    const h = this.#handle('state');
    return new Tensor(this, this.#id('state', (o) => native().pi5_graph_state(h, name, type === 'f16' ? GGML_TYPE.F16 : GGML_TYPE.F32, ne4(shape), o)), name);
  }

  /** Positions pos .. pos+n_tokens-1 as I32 [1, T] (one per graph). */
  positions(): Tensor { return this.op('POSITIONS', []); }

  /** Adds any op by name (see pi5_graph_op_kind); prefer the Tensor methods. */
  op(kind: keyof typeof OPS, src: (Tensor | null)[], params: number[] = []): Tensor {
    const h = this.#handle(kind.toLowerCase());
    const code = OPS[kind];
    if (code === undefined) throw invalid(`unknown op ${kind}`);
    const s = new Int32Array([-1, -1, -1]);
    src.forEach((t, i) => {
      if (t && t.graph !== this) throw invalid(`${kind}: a source tensor belongs to another graph`);
      s[i] = t ? t.id : -1;
    });
    const p = new Float32Array(4);
    params.forEach((v, i) => { p[i] = v; });
    return new Tensor(this, this.#id(kind, (o) => native().pi5_graph_op(h, code, s, p, o)));
  }

  /** A reshape or a slice (see Tensor.view). */
  view(src: Tensor, shape: number[], offset = 0): Tensor {
    const h = this.#handle('view');
    return new Tensor(this, this.#id('view', (o) => native().pi5_graph_view(h, src.id, ne4(shape), offset, o)));
  }

  /** Nodes added after this belong to `layer` (-1: none), for the layer placement policies. */
  setLayer(layer: number): void {
    this.runtime.check(native().pi5_graph_set_layer(this.#handle('setLayer'), layer), 'graph.setLayer');
  }

  markOutput(t: Tensor): void {
    this.runtime.check(native().pi5_graph_mark_output(this.#handle('markOutput'), t.id), 'graph.markOutput');
  }

  /** Plans now (placement, memory, uploads); otherwise the first compute does. */
  plan(): void {
    this.runtime.check(native().pi5_graph_plan(this.#handle('plan')), 'graph.plan');
  }

  /** Sets inputs and runs one step of nTokens tokens at pos (off the JS thread). */
  async compute(options: ComputeOptions = {}): Promise<void> {
    const h = this.#handle('compute');
    const n = native();
    const nTokens = options.nTokens ?? 1;
    const pos = options.pos ?? 0;
    const entries: [Tensor, Float32Array | Int32Array][] = options.inputs instanceof Map
      ? [...options.inputs]
      : Object.entries(options.inputs ?? {}).map(([name, data]) => {
          const t = this.#inputs.get(name);
          if (!t) throw invalid(`compute: no input named ${JSON.stringify(name)}`);
          return [t, data];
        });
    await this.runtime.exclusive('graph.compute', null, async () => {
      for (const [t, data] of entries) {
        this.runtime.check(n.pi5_graph_set_input(h, t.id, data, data.byteLength), `graph.compute: input ${t.name ?? t.id}`);
      }
      const status = await new Promise<number>((resolve, reject) => n.pi5_graph_compute.async(h, pos, nTokens, (e: unknown, r: number) => (e ? reject(e) : resolve(r))));
      this.runtime.check(status, 'graph.compute');
    });
  }

  /** The last step's value of an output (n_tokens rows of a token tensor, else the whole tensor). */
  read(t: Tensor): Float32Array {
    const h = this.#handle('read');
    const n = native();
    const len = new BigUint64Array(1);
    let status = n.pi5_graph_read(h, t.id, null, 0, len);
    if (status !== pi5_status.PI5_ERR_BUFFER_TOO_SMALL && status !== pi5_status.PI5_OK) this.runtime.check(status, 'graph.read');
    const out = new Float32Array(Number(len[0]) / 4);
    status = n.pi5_graph_read(h, t.id, out, out.byteLength, len);
    this.runtime.check(status, 'graph.read');
    return out;
  }

  /** The last step's profile (per-node times when created with profile: true). */
  profile(): GraphProfile {
    const h = this.#handle('profile');
    return JSON.parse(this.runtime.readString((b, s, l) => native().pi5_graph_profile_json(h, b, s, l))) as GraphProfile;
  }

  #destroy(): void {
    if (this.#h) native().pi5_graph_destroy(this.#h);
    this.#h = null;
    this.runtime.state.graphs.delete(this.#entry);
  }

  /** Destroys the native graph. Safe to call more than once (and after the runtime's dispose). */
  dispose(): void {
    if (!this.#h) return;
    if (this.runtime.state.busy === 'graph.compute') throw new Pi5Error(pi5_status.PI5_ERR_INVALID_ARGUMENT, 'graph.dispose: await compute() first');
    this.#destroy();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

const OPS = {
  GET_ROWS: pi5_graph_op_kind.PI5_GRAPH_OP_GET_ROWS,
  MUL_MAT: pi5_graph_op_kind.PI5_GRAPH_OP_MUL_MAT,
  RMS_NORM: pi5_graph_op_kind.PI5_GRAPH_OP_RMS_NORM,
  LAYER_NORM: pi5_graph_op_kind.PI5_GRAPH_OP_LAYER_NORM,
  ADD: pi5_graph_op_kind.PI5_GRAPH_OP_ADD,
  MUL: pi5_graph_op_kind.PI5_GRAPH_OP_MUL,
  SCALE: pi5_graph_op_kind.PI5_GRAPH_OP_SCALE,
  SILU: pi5_graph_op_kind.PI5_GRAPH_OP_SILU,
  GELU: pi5_graph_op_kind.PI5_GRAPH_OP_GELU,
  SWIGLU: pi5_graph_op_kind.PI5_GRAPH_OP_SWIGLU,
  SOFTMAX: pi5_graph_op_kind.PI5_GRAPH_OP_SOFTMAX,
  ROPE: pi5_graph_op_kind.PI5_GRAPH_OP_ROPE,
  KV_STORE: pi5_graph_op_kind.PI5_GRAPH_OP_KV_STORE,
  ATTENTION: pi5_graph_op_kind.PI5_GRAPH_OP_ATTENTION,
  CPY: pi5_graph_op_kind.PI5_GRAPH_OP_CPY,
  LAST_ROW: pi5_graph_op_kind.PI5_GRAPH_OP_LAST_ROW,
  POSITIONS: pi5_graph_op_kind.PI5_GRAPH_OP_POSITIONS,
} as const;
