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
  const env = { ...process.env, PI5_LLM_RT_LIB: LIB, ...extra };
  for (const k of ['PI5_BACKEND', 'PI5_LIMITS', 'PI5_DEVICE', 'PI5_VALIDATE', 'PI5_LOG']) if (!(k in extra)) delete env[k];
  return env;
}
