import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT, LIB, MODEL, childEnv } from './helpers.mjs';

process.env.PI5_LLM_RT_LIB = LIB;
const pkg = await import(join(ROOT, 'dist', 'index.js'));
const { Runtime, Pi5Error, Pi5DisposedError, pi5_status, raw, loadLibrary } = pkg;

test('create (async and sync) on the CPU backend, report, dispose', async () => {
  const rt = await Runtime.create({ backend: 'cpu', threads: 1 });
  assert.equal(rt.backend, 'cpu');
  const report = rt.report();
  assert.equal(report.backend, 'cpu');
  assert.equal(typeof report.version, 'string');
  assert.equal(report.version, Runtime.libraryVersion);
  assert.equal(report.device, null);
  assert.equal(typeof report.cpu.arch, 'string');
  assert.ok(report.cpu.threads >= 1);
  assert.deepEqual(JSON.parse(rt.reportJson()), report);
  assert.equal(rt.lastError, '');
  rt.dispose();
  assert.equal(rt.disposed, true);
  rt.dispose(); // twice is fine

  const s = Runtime.createSync({ backend: 'cpu' });
  assert.equal(s.backend, 'cpu');
  s[Symbol.dispose]();
  assert.equal(s.disposed, true);
});

test('calls after dispose throw Pi5DisposedError', async () => {
  const rt = await Runtime.create({ backend: 'cpu' });
  rt.dispose();
  for (const call of [() => rt.report(), () => rt.reportJson(), () => rt.backend, () => rt.lastError, () => rt.handle]) {
    assert.throws(call, (e) => e instanceof Pi5DisposedError && e.code === 'PI5_DISPOSED' && /disposed/.test(e.message));
  }
});

test('invalid option values are PI5_ERR_INVALID_ARGUMENT', async () => {
  const bad = [
    { backend: 'gpu' }, { limits: 'pi4' }, { logLevel: 'loud' }, { threads: -1 }, { threads: 1.5 },
    { timeoutMs: 0 }, { validate: 'yes' }, { device: -2 }, { onLog: 'stderr' },
  ];
  for (const options of bad) {
    await assert.rejects(Runtime.create(options), (e) => {
      assert.ok(e instanceof Pi5Error, `${JSON.stringify(options)}: ${e}`);
      assert.equal(e.status, pi5_status.PI5_ERR_INVALID_ARGUMENT);
      assert.equal(e.code, 'PI5_ERR_INVALID_ARGUMENT');
      assert.match(e.message, new RegExp(Object.keys(options)[0]));
      return true;
    });
  }
});

test('native status codes reach JS: the C ABI rejects out-of-range enums and bad struct_size', () => {
  const n = loadLibrary().native;
  const defaults = n.pi5_runtime_default_options();
  for (const patch of [{ backend: 7 }, { limits: 9 }, { log_level: 42 }, { struct_size: 3 }]) {
    const out = [null];
    const logs = [];
    const status = n.pi5_create_runtime_ex({ ...defaults, ...patch, log_callback: null }, out);
    assert.equal(status, raw.pi5_status.PI5_ERR_INVALID_ARGUMENT, JSON.stringify(patch));
    assert.equal(out[0], null);
    assert.equal(raw.pi5_status_names[status], 'PI5_ERR_INVALID_ARGUMENT');
    assert.ok(n.pi5_status_string(status).length > 0, logs);
  }
});

test('a forced, unusable Vulkan device is PI5_ERR_NO_DEVICE with the logged reason', async () => {
  const logs = [];
  await assert.rejects(
    Runtime.create({ backend: 'vulkan', device: 'no-such-device-xyz', onLog: (level, m) => logs.push([level, m]) }),
    (e) => e instanceof Pi5Error && e.code === 'PI5_ERR_NO_DEVICE' && e.status === -4 && /no.*device/i.test(e.message),
  );
  assert.ok(logs.some(([level]) => level === 'error'), JSON.stringify(logs));
});

test('PI5_BACKEND=cpu forces the CPU backend under auto', () => {
  const code = `import('${join(ROOT, 'dist', 'index.js')}').then(async ({ Runtime }) => { const rt = await Runtime.create(); console.log(rt.backend, rt.report().backend); rt.dispose(); })`;
  const out = execFileSync(process.execPath, ['-e', code], { env: childEnv({ PI5_BACKEND: 'cpu' }), encoding: 'utf8' });
  assert.equal(out.trim(), 'cpu cpu');
});

test('auto runs stories260K on the CPU backend when the only Vulkan device is CPU-type (lavapipe)', async () => {
  const code = `import('${join(ROOT, 'dist', 'index.js')}').then(async ({ Runtime }) => {
    let type = null;
    try { const v = await Runtime.create({ backend: 'vulkan' }); type = v.report().device?.type ?? null; v.dispose(); } catch {}
    const rt = await Runtime.create();
    const m = await rt.loadModel(process.argv[1]);
    const r = await m.complete('Once upon a time', { maxTokens: 8, temperature: 0 });
    console.log(JSON.stringify({ type, backend: rt.backend, why: rt.report().fallback_reason, text: r }));
    m.dispose(); rt.dispose(); })`;
  const out = execFileSync(process.execPath, ['-e', code, MODEL], { env: childEnv(), encoding: 'utf8' });
  const r = JSON.parse(out.trim().split('\n').pop());
  assert.ok(typeof r.text === "string" && r.text.length > 0, out);
  if (r.type === 'cpu' || r.type === null) {
    assert.equal(r.backend, 'cpu', out);
    if (r.type === 'cpu') assert.match(r.why, /CPU-type device/);
  } else {
    assert.equal(r.backend, 'vulkan', out);
  }
});

test('the CommonJS build works too', () => {
  const require = createRequire(import.meta.url);
  const cjs = require(join(ROOT, 'dist', 'index.cjs'));
  const rt = cjs.Runtime.createSync({ backend: 'cpu' });
  assert.equal(rt.backend, 'cpu');
  rt.dispose();
  assert.throws(() => rt.report(), cjs.Pi5DisposedError);
});

test('a missing library names every path tried and how to build it', () => {
  const code = `import('${join(ROOT, 'dist', 'index.js')}').then(({ Runtime }) => Runtime.create()).catch((e) => { console.log(e.name, e.code, JSON.stringify(e.tried)); console.log(e.message); })`;
  const r = spawnSync(process.execPath, ['-e', code], { env: childEnv({ PI5_LLM_RT_LIB: '/nonexistent/libpi5_llm_rt.so' }), encoding: 'utf8' });
  assert.match(r.stdout, /^Pi5LibraryError PI5_LIBRARY_NOT_FOUND \["\/nonexistent\/libpi5_llm_rt.so \(not found\)"\]/);
  assert.match(r.stdout, /npm run build:native/);
  assert.match(r.stdout, /PI5_LLM_RT_LIB/);
});

test('onLog gets messages and a throwing handler does not crash', async () => {
  const rt = await Runtime.create({ backend: 'cpu', logLevel: 'debug', onLog: () => { throw new Error('handler bug'); } });
  assert.equal(rt.backend, 'cpu');
  rt.dispose();
});
