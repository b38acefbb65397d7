#!/usr/bin/env node
// pi5-llm-rt CLI: mirrors the native CLI (zig-out/bin/pi5_llm_rt): generation by default, info, version.
import { parseArgs } from 'node:util';
import { Pi5Error, Pi5LibraryError, Runtime, type RuntimeOptions } from './index.js';
import { loadLibrary } from './native.js';
import { defaultModelPath } from './defaults.js';
import type { GenerateOptions, LoadModelOptions } from './model.js';

const USAGE = `usage: pi5-llm-rt [options]            generate text (the default command)
       pi5-llm-rt info [options]     runtime and device report (JSON)
       pi5-llm-rt version            library and binding versions

generation:
  -m, --model FILE            GGUF model (default: stories260K.gguf from $PI5_MODELS_DIR or ../shared/models)
  -p, --prompt TEXT           prompt (default: empty, generation starts from BOS)
  -n N                        tokens to generate (default 128; 0 = until EOS or the context is full)
  --temp T                    temperature (default 0.8; 0 = greedy)
  --top-k N  --top-p P  --min-p P  --repeat-penalty R  --seed N
  --ctx N                     context length (default: the model's, at most 4096)
  --kv-type f16|f32           KV cache type (default f16)
  --gpu-layers N              layers on the GPU (-1 = all that fit)
  --batch N                   prompt tokens per step (default 64)
  --no-echo                   do not print the prompt before the generated text
  --quiet                     no progress bar or summary on stderr

runtime:
  --backend cpu|vulkan|auto   backend (default: PI5_BACKEND or auto)
  --device N|NAME             Vulkan device by index or name substring
  --limits v3dv|none          limits profile (v3dv: behave like the Raspberry Pi 5)
  --threads N                 CPU threads (default: all cores)
  --timeout MS                longest wait for one GPU submission
  --validate                  enable the Khronos validation layer
  --verbose                   log at info level
  -h, --help                  this text

PI5_LLM_RT_LIB selects the native library file.`;

function fail(message: string, code = 2): never {
  process.stderr.write(`pi5-llm-rt: ${message}\n`);
  process.exit(code);
}

function progressBar(quiet: boolean): { update(p: number): void; done(): void } {
  const tty = process.stderr.isTTY;
  let last = -1;
  return {
    update(p) {
      if (quiet) return;
      const pct = Math.round(p * 100);
      if (pct === last) return;
      last = pct;
      const width = 30;
      const fill = Math.round(p * width);
      const bar = `loading [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${String(pct).padStart(3)}%`;
      if (tty) process.stderr.write(`\r${bar}`);
      else if (pct === 100) process.stderr.write(`${bar}\n`);
    },
    done() {
      if (!quiet && tty && last >= 0) process.stderr.write('\n');
    },
  };
}

async function main(argv: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        backend: { type: 'string' }, device: { type: 'string' }, limits: { type: 'string' },
        threads: { type: 'string' }, timeout: { type: 'string' }, validate: { type: 'boolean' },
        verbose: { type: 'boolean' }, help: { type: 'boolean', short: 'h' }, quiet: { type: 'boolean' },
        model: { type: 'string', short: 'm' }, prompt: { type: 'string', short: 'p' }, n: { type: 'string', short: 'n' },
        temp: { type: 'string' }, 'top-k': { type: 'string' }, 'top-p': { type: 'string' }, 'min-p': { type: 'string' },
        'repeat-penalty': { type: 'string' }, seed: { type: 'string' }, ctx: { type: 'string' },
        'kv-type': { type: 'string' }, 'gpu-layers': { type: 'string' }, batch: { type: 'string' }, 'no-echo': { type: 'boolean' },
      },
    });
  } catch (e) {
    fail(`${(e as Error).message}\n${USAGE}`);
  }
  const { values: v, positionals } = parsed;
  if (v.help) { process.stdout.write(USAGE + '\n'); return; }
  const command = positionals[0] ?? 'generate';
  const int = (name: string, s: string | undefined) => {
    if (s === undefined) return undefined;
    const x = Number(s);
    if (s.trim() === '' || !Number.isInteger(x)) fail(`--${name}: expected an integer, got ${JSON.stringify(s)}`);
    return x;
  };
  const float = (name: string, s: string | undefined) => {
    if (s === undefined) return undefined;
    const x = Number(s);
    if (s.trim() === '' || !Number.isFinite(x)) fail(`--${name}: expected a number, got ${JSON.stringify(s)}`);
    return x;
  };
  const opts: RuntimeOptions = {
    backend: v.backend as RuntimeOptions['backend'],
    device: v.device,
    limits: v.limits as RuntimeOptions['limits'],
    threads: int('threads', v.threads),
    timeoutMs: int('timeout', v.timeout),
    validate: v.validate ? true : undefined,
    logLevel: v.verbose ? 'info' : undefined,
  };
  if (command === 'version') {
    const lib = loadLibrary();
    process.stdout.write(`pi5-llm-rt library ${Runtime.libraryVersion} (${lib.path})\n`);
    return;
  }
  if (command === 'info') {
    const rt = await Runtime.create(opts);
    try {
      process.stdout.write(rt.reportJson().trimEnd() + '\n');
    } finally {
      rt.dispose();
    }
    return;
  }
  if (command !== 'generate') fail(`unknown command ${JSON.stringify(command)}\n${USAGE}`);

  const load: LoadModelOptions = {
    contextSize: int('ctx', v.ctx),
    gpuLayers: int('gpu-layers', v['gpu-layers']),
    batchSize: int('batch', v.batch),
    kvType: v['kv-type'] as LoadModelOptions['kvType'],
  };
  let seed: bigint | undefined;
  if (v.seed !== undefined) {
    try { seed = BigInt(v.seed); } catch { fail(`--seed: expected an integer, got ${JSON.stringify(v.seed)}`); }
    if (seed === -1n) seed = 0xffffffffffffffffn; // -1 = random, as the native CLI and llama.cpp
  }
  const gen: GenerateOptions = {
    maxTokens: int('n', v.n),
    temperature: float('temp', v.temp),
    topK: int('top-k', v['top-k']),
    topP: float('top-p', v['top-p']),
    minP: float('min-p', v['min-p']),
    repeatPenalty: float('repeat-penalty', v['repeat-penalty']),
    seed,
  };
  const modelPath = v.model ?? defaultModelPath();
  if (!modelPath) fail('no --model given and the default model (stories260K.gguf) is not in $PI5_MODELS_DIR or ../shared/models');
  const prompt = v.prompt ?? '';
  const quiet = !!v.quiet;
  const rt = await Runtime.create(opts);
  const ac = new AbortController();
  let interrupted = false;
  const onSigint = () => { interrupted = true; ac.abort(); };
  process.once('SIGINT', onSigint);
  try {
    const bar = progressBar(quiet);
    const model = await rt.loadModel(modelPath, { ...load, onProgress: (p) => bar.update(p) });
    bar.done();
    const stream = model.generate(prompt, { ...gen, signal: ac.signal });
    if (!v['no-echo']) process.stdout.write(prompt);
    for await (const piece of stream) process.stdout.write(piece);
    process.stdout.write('\n');
    const r = await stream.result;
    if (!quiet) {
      process.stderr.write(
        `pi5-llm-rt: prompt ${r.promptTokens} tokens in ${r.promptMs.toFixed(1)} ms (${r.promptTokensPerSecond.toFixed(1)} tok/s), ` +
          `generated ${r.generatedTokens} tokens in ${r.generateMs.toFixed(1)} ms (${r.tokensPerSecond.toFixed(1)} tok/s), ` +
          `stop: ${interrupted ? 'interrupted' : r.stopReason}, backend: ${rt.backend}\n`,
      );
    }
    // Ctrl-C: the summary above, then the shell's exit status for SIGINT.
    if (interrupted) process.exitCode = 130;
  } finally {
    process.off('SIGINT', onSigint);
    rt.dispose();
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  if (e instanceof Pi5Error || e instanceof Pi5LibraryError) fail(e.message, 1);
  throw e;
});
