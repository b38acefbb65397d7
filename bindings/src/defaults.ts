// The default model and a one-call loader.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { packageRoot } from './native.js';
import { Runtime, type RuntimeOptions } from './runtime.js';
import type { LoadModelOptions, Model } from './model.js';

export const DEFAULT_MODEL_FILE = 'stories260K.gguf';

/**
 * Where the default model (stories260K.gguf) is: $PI5_MODELS_DIR, else ../shared/models beside
 * the package's checkout, else ./models. Returns the first candidate that exists, or undefined.
 */
export function defaultModelPath(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dirs: string[] = [];
  if (env.PI5_MODELS_DIR) dirs.push(env.PI5_MODELS_DIR);
  const root = packageRoot();
  if (root) dirs.push(resolve(root, '..', 'shared', 'models'));
  dirs.push(resolve('models'));
  for (const d of dirs) {
    const p = join(d, DEFAULT_MODEL_FILE);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/**
 * Creates a runtime and loads a model on it in one call; disposing the runtime
 * (`model.runtime.dispose()`) frees both.
 */
export async function loadModel(path: string, options: LoadModelOptions & { runtime?: RuntimeOptions } = {}): Promise<Model> {
  const rt = await Runtime.create(options.runtime ?? {});
  try {
    return await rt.loadModel(path, options);
  } catch (e) {
    rt.dispose();
    throw e;
  }
}
