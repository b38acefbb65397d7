// Shared test helpers: the built package (dist/) and the native library (zig-out/lib).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const LIB = process.env.PI5_LLM_RT_LIB ?? join(ROOT, 'zig-out', 'lib', 'libpi5_llm_rt.so');

if (!existsSync(LIB)) throw new Error(`tests need the native library at ${LIB}: run \`npm run build:native\``);
if (!existsSync(join(ROOT, 'dist', 'index.js'))) throw new Error('tests run over the built package: run `npm run build`');

/** Environment for child processes: the test library, no inherited backend/limits overrides. */
export function childEnv(extra = {}) {
  const env = { ...process.env, PI5_LLM_RT_LIB: LIB, PI5_MODELS_DIR: MODELS_DIR, ...extra };
  for (const k of ['PI5_BACKEND', 'PI5_LIMITS', 'PI5_DEVICE', 'PI5_VALIDATE', 'PI5_LOG']) if (!(k in extra)) delete env[k];
  return env;
}

/** The shared models folder: $PI5_MODELS_DIR, else ../shared/models beside the checkout. */
export const MODELS_DIR = process.env.PI5_MODELS_DIR ?? join(ROOT, '..', 'shared', 'models');
export const MODEL = join(MODELS_DIR, 'stories260K.gguf');
export const BAD_MODEL = join(MODELS_DIR, 'stories260K-q8_0.gguf');
export const GOLDEN = join(MODELS_DIR, 'golden', 'stories260K-llama2c-expected.txt');
/** node:test `skip` value: false when the fixture exists, else a message saying what is missing. */
export const needs = (...paths) => {
  const missing = paths.filter((p) => !existsSync(p));
  return missing.length ? `fixture missing: ${missing.join(', ')} (set PI5_MODELS_DIR to the shared models folder)` : false;
};
export const NATIVE_CLI = join(ROOT, 'zig-out', 'bin', 'pi5_llm_rt');
