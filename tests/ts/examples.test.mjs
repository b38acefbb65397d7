import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ROOT, LIB, childEnv } from './helpers.mjs';

const tmp = mkdtempSync(join(tmpdir(), 'pi5-ts-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { cwd: ROOT, env: childEnv(), encoding: 'utf8', ...opts });

function checkReportOutput(out) {
  assert.match(out, /^backend cpu$/m);
  const json = JSON.parse(out.slice(out.indexOf('{')));
  assert.equal(json.backend, 'cpu');
  assert.equal(json.device, null);
}

test('C example: dlopen/dlsym host compiled with cc', () => {
  const exe = join(tmp, 'report');
  run('cc', ['-Wall', '-Wextra', '-Werror', '-I', join(ROOT, 'include'), join(ROOT, 'examples/c/report.c'), '-ldl', '-o', exe]);
  const out = run(exe, ['cpu']);
  assert.match(out, /^library \d+\.\d+\.\d+ \(API \d+\.\d+\.\d+\)$/m);
  checkReportOutput(out);
});

test('Python example: ctypes over the generated declarations', () => {
  const out = run('python3', [join(ROOT, 'examples/python/report.py'), 'cpu']);
  assert.match(out, /^library \d+\.\d+\.\d+$/m);
  checkReportOutput(out);
});

test('TS example: runtime report', () => {
  const out = run(process.execPath, [join(ROOT, 'examples/ts/report.mjs'), 'cpu']);
  assert.match(out, /^backend cpu\ncpu \S+, \d+ threads\n$/);
});

test('CLI: info, --help, bad flags', () => {
  const cli = join(ROOT, 'dist/cli.js');
  const info = JSON.parse(run(process.execPath, [cli, 'info', '--backend', 'cpu', '--threads', '1']));
  assert.equal(info.backend, 'cpu');
  assert.match(run(process.execPath, [cli, '--help']), /--model PATH/);
  const bad = spawnSync(process.execPath, [cli, 'info', '--backend', 'gpu'], { env: childEnv(), encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /PI5_ERR_INVALID_ARGUMENT/);
  const gen = spawnSync(process.execPath, [cli, '--model', 'x.gguf', '--prompt', 'hi'], { env: childEnv(), encoding: 'utf8' });
  assert.equal(gen.status, 2);
  assert.match(gen.stderr, /does not provide yet/);
});

test('npm pack: the README example works from a clean directory', () => {
  const packDir = join(tmp, 'pack');
  const appDir = join(tmp, 'app');
  run('mkdir', ['-p', packDir, appDir]);
  // --ignore-scripts: dist/ is already built by pretest; prepack would rebuild it.
  run('npm', ['pack', '--ignore-scripts', '--pack-destination', packDir], { stdio: ['ignore', 'pipe', 'ignore'] });
  const tarball = join(packDir, readdirSync(packDir).find((f) => f.endsWith('.tgz')));
  const listing = run('tar', ['tzf', tarball]);
  for (const f of ['package/dist/index.js', 'package/dist/index.cjs', 'package/dist/index.d.ts', 'package/dist/cli.js', 'package/include/pi5_llm_rt.h']) {
    assert.ok(listing.includes(f), `${f} missing from the tarball`);
  }
  assert.ok(!listing.includes('package/node_modules'), 'tarball must not ship node_modules');
  writeFileSync(join(appDir, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball], { cwd: appDir, stdio: ['ignore', 'pipe', 'pipe'] });
  const readme = readFileSync(join(ROOT, 'bindings/README.md'), 'utf8');
  const example = readme.match(/## Example\n\n```js\n([\s\S]*?)```/)[1];
  writeFileSync(join(appDir, 'example.mjs'), example);
  const out = run(process.execPath, ['example.mjs'], { cwd: appDir });
  assert.match(out, /^pi5-llm-rt \d+\.\d+\.\d+ on cpu: \S+, \d+ threads\nPI5_ERR_INVALID_ARGUMENT\n$/);
  // CommonJS consumers and the bin too.
  const cjs = run(process.execPath, ['-e', "const { Runtime } = require('pi5-llm-rt'); const r = Runtime.createSync({ backend: 'cpu' }); console.log(r.backend); r.dispose();"], { cwd: appDir });
  assert.equal(cjs, 'cpu\n');
  const bin = JSON.parse(run(join(appDir, 'node_modules/.bin/pi5-llm-rt'), ['info', '--backend', 'cpu'], { cwd: appDir }));
  assert.equal(bin.backend, 'cpu');
});
