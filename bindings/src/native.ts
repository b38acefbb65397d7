// Finds and loads libpi5_llm_rt.so and binds the generated declarations (once per process).
import koffi from 'koffi';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bindPi5, PI5_API_VERSION_MAJOR, type Pi5Native } from '../generated.js';
import { Pi5Error, Pi5LibraryError, pi5_status } from './errors.js';

export const LIBRARY_NAME = process.platform === 'darwin' ? 'libpi5_llm_rt.dylib' : process.platform === 'win32' ? 'pi5_llm_rt.dll' : 'libpi5_llm_rt.so';

/** The directory of this package (the one holding package.json named pi5-llm-rt), if found. */
export function packageRoot(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        if (JSON.parse(readFileSync(pj, 'utf8')).name === 'pi5-llm-rt') return dir;
      } catch { /* keep looking */ }
    }
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return undefined;
}

/** Candidate paths in search order: PI5_LLM_RT_LIB, <pkg>/lib, <pkg>/zig-out/lib, then the system loader. */
export function libraryCandidates(env: NodeJS.ProcessEnv = process.env): { path: string; explicit: boolean }[] {
  if (env.PI5_LLM_RT_LIB) return [{ path: env.PI5_LLM_RT_LIB, explicit: true }];
  const out: { path: string; explicit: boolean }[] = [];
  const root = packageRoot();
  if (root) {
    out.push({ path: join(root, 'lib', LIBRARY_NAME), explicit: false });
    out.push({ path: join(root, 'zig-out', 'lib', LIBRARY_NAME), explicit: false });
  }
  out.push({ path: LIBRARY_NAME, explicit: false }); // dlopen's own search (LD_LIBRARY_PATH, ldconfig)
  return out;
}

export interface LoadedLibrary {
  native: Pi5Native;
  path: string;
  /** Header functions the loaded library lacks (it is older than the bindings). */
  missing: string[];
}

let loaded: LoadedLibrary | undefined;

/** Loads the library on first use and returns the bound functions. */
export function loadLibrary(): LoadedLibrary {
  if (loaded) return loaded;
  const tried: string[] = [];
  for (const c of libraryCandidates()) {
    const isPath = c.path.includes('/') || c.path.includes('\\');
    if (isPath && !existsSync(c.path)) {
      tried.push(`${c.path} (not found)`);
      if (c.explicit) break;
      continue;
    }
    let lib: koffi.IKoffiLib;
    try {
      lib = koffi.load(c.path);
    } catch (e) {
      tried.push(`${c.path} (${(e as Error).message.split('\n')[0]})`);
      if (c.explicit) break;
      continue;
    }
    const { native, missing } = bindPi5(lib, (name) => () => {
      throw new Pi5Error(pi5_status.PI5_ERR_UNSUPPORTED, `${name} is not exported by ${c.path}: the library is older than these bindings; rebuild it (npm run build:native)`);
    });
    const version = native.pi5_api_version();
    if (version >>> 16 !== PI5_API_VERSION_MAJOR) {
      throw new Pi5LibraryError(`${c.path} has API version ${version >>> 16}.${(version >>> 8) & 255}.${version & 255}; these bindings need major version ${PI5_API_VERSION_MAJOR}`, [c.path]);
    }
    loaded = { native, path: c.path, missing };
    return loaded;
  }
  throw new Pi5LibraryError(
    `cannot load ${LIBRARY_NAME}. Tried:\n  ${tried.join('\n  ')}\n` +
      'Build it with `npm run build:native` (needs Zig; `npm install` provides one on x86-64 Linux), ' +
      'or set PI5_LLM_RT_LIB to the library path.',
    tried,
  );
}

/** The bound native functions (loads the library on first use). */
export function native(): Pi5Native {
  return loadLibrary().native;
}
