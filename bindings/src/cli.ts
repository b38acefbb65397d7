#!/usr/bin/env node
// pi5-llm-rt CLI: mirrors the native CLI (zig-out/bin/pi5_llm_rt). Grows with the model API.
import { parseArgs } from 'node:util';
import { Pi5Error, Pi5LibraryError, Runtime, type RuntimeOptions } from './index.js';
import { loadLibrary } from './native.js';

const USAGE = `usage: pi5-llm-rt [options] [command]

commands:
  info                 print the runtime and device report (JSON)
  version              print the library and binding versions

options:
  --backend cpu|vulkan|auto   backend (default: PI5_BACKEND or auto)
  --device N|NAME             Vulkan device by index or name substring
  --limits v3dv|none          limits profile (v3dv: behave like the Raspberry Pi 5)
  --threads N                 CPU threads (default: all cores)
  --timeout MS                longest wait for one GPU submission
  --validate                  enable the Khronos validation layer
  --verbose                   log at info level
  -m, --model PATH            model file (GGUF)            [needs the model API: not in this library yet]
  -p, --prompt TEXT           prompt                       [needs the model API]
  -n N                        tokens to generate           [needs the model API]
  --temp T, --top-k K, --top-p P, --seed S, --ctx N       [need the model API]
  -h, --help                  this text

PI5_LLM_RT_LIB selects the native library file.`;

function fail(message: string, code = 2): never {
  process.stderr.write(`pi5-llm-rt: ${message}\n`);
  process.exit(code);
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
        verbose: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
        model: { type: 'string', short: 'm' }, prompt: { type: 'string', short: 'p' }, n: { type: 'string', short: 'n' },
        temp: { type: 'string' }, 'top-k': { type: 'string' }, 'top-p': { type: 'string' }, seed: { type: 'string' }, ctx: { type: 'string' },
      },
    });
  } catch (e) {
    fail(`${(e as Error).message}\n${USAGE}`);
  }
  const { values: v, positionals } = parsed;
  if (v.help) { process.stdout.write(USAGE + '\n'); return; }
  const command = positionals[0] ?? (v.model || v.prompt ? 'generate' : 'info');
  const num = (name: string, s: string | undefined) => {
    if (s === undefined) return undefined;
    const x = Number(s);
    if (!Number.isInteger(x)) fail(`--${name}: expected an integer, got ${JSON.stringify(s)}`);
    return x;
  };
  const opts: RuntimeOptions = {
    backend: v.backend as RuntimeOptions['backend'],
    device: v.device,
    limits: v.limits as RuntimeOptions['limits'],
    threads: num('threads', v.threads),
    timeoutMs: num('timeout', v.timeout),
    validate: v.validate ? true : undefined,
    logLevel: v.verbose ? 'info' : undefined,
  };
  if (command === 'version') {
    const lib = loadLibrary();
    process.stdout.write(`pi5-llm-rt library ${Runtime.libraryVersion} (${lib.path})\n`);
    return;
  }
  if (command === 'generate') {
    fail('generation needs pi5_load_model and the generation API, which the loaded library does not provide yet');
  }
  if (command !== 'info') fail(`unknown command ${JSON.stringify(command)}\n${USAGE}`);
  const rt = await Runtime.create(opts);
  try {
    process.stdout.write(rt.reportJson().trimEnd() + '\n');
  } finally {
    rt.dispose();
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  if (e instanceof Pi5Error || e instanceof Pi5LibraryError) fail(e.message, 1);
  throw e;
});
