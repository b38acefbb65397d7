#!/usr/bin/env node
// Generates bindings/generated.ts (koffi + TypeScript) and examples/python/pi5_llm_rt_ctypes.py
// (ctypes) from include/pi5_llm_rt.h.
//
//   node codegen/codegen.mjs            write the generated files
//   node codegen/codegen.mjs --check    exit 1 when a committed file differs from what the
//                                      header produces now (npm run check:bindings)
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseHeader, SCALARS, ParseError } from './parse-header.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const HEADER = join(ROOT, 'include/pi5_llm_rt.h');
export const OUTPUTS = {
  ts: join(ROOT, 'bindings/generated.ts'),
  py: join(ROOT, 'examples/python/pi5_llm_rt_ctypes.py'),
};

// Scalar C type -> [koffi name, TS type for values, TS typed array for pointers, ctypes name]
const SCALAR_MAP = {
  void: ['void', 'void', null, 'None'],
  bool: ['bool', 'boolean', 'Uint8Array', 'ctypes.c_bool'],
  _Bool: ['bool', 'boolean', 'Uint8Array', 'ctypes.c_bool'],
  char: ['char', 'number', 'Uint8Array', 'ctypes.c_char'],
  'signed char': ['int8_t', 'number', 'Int8Array', 'ctypes.c_byte'],
  'unsigned char': ['uint8_t', 'number', 'Uint8Array', 'ctypes.c_ubyte'],
  short: ['int16_t', 'number', 'Int16Array', 'ctypes.c_short'],
  'unsigned short': ['uint16_t', 'number', 'Uint16Array', 'ctypes.c_ushort'],
  int: ['int', 'number', 'Int32Array', 'ctypes.c_int'],
  'unsigned int': ['unsigned int', 'number', 'Uint32Array', 'ctypes.c_uint'],
  unsigned: ['unsigned int', 'number', 'Uint32Array', 'ctypes.c_uint'],
  long: ['long', 'number', 'BigInt64Array', 'ctypes.c_long'],
  'unsigned long': ['unsigned long', 'number', 'BigUint64Array', 'ctypes.c_ulong'],
  'long long': ['int64_t', 'number', 'BigInt64Array', 'ctypes.c_longlong'],
  'unsigned long long': ['uint64_t', 'number', 'BigUint64Array', 'ctypes.c_ulonglong'],
  int8_t: ['int8_t', 'number', 'Int8Array', 'ctypes.c_int8'],
  uint8_t: ['uint8_t', 'number', 'Uint8Array', 'ctypes.c_uint8'],
  int16_t: ['int16_t', 'number', 'Int16Array', 'ctypes.c_int16'],
  uint16_t: ['uint16_t', 'number', 'Uint16Array', 'ctypes.c_uint16'],
  int32_t: ['int32_t', 'number', 'Int32Array', 'ctypes.c_int32'],
  uint32_t: ['uint32_t', 'number', 'Uint32Array', 'ctypes.c_uint32'],
  int64_t: ['int64_t', 'number', 'BigInt64Array', 'ctypes.c_int64'],
  uint64_t: ['uint64_t', 'number', 'BigUint64Array', 'ctypes.c_uint64'],
  size_t: ['size_t', 'number', 'BigUint64Array', 'ctypes.c_size_t'],
  ptrdiff_t: ['intptr_t', 'number', 'BigInt64Array', 'ctypes.c_ssize_t'],
  intptr_t: ['intptr_t', 'number', 'BigInt64Array', 'ctypes.c_ssize_t'],
  uintptr_t: ['uintptr_t', 'number', 'BigUint64Array', 'ctypes.c_size_t'],
  float: ['float', 'number', 'Float32Array', 'ctypes.c_float'],
  double: ['double', 'number', 'Float64Array', 'ctypes.c_double'],
};
for (const k of SCALARS) if (!SCALAR_MAP[k]) throw new Error(`codegen: SCALAR_MAP lacks ${k}`);
const is64 = (base) => ['int64_t', 'uint64_t', 'size_t', 'long long', 'unsigned long long', 'long', 'unsigned long', 'ptrdiff_t', 'intptr_t', 'uintptr_t'].includes(base);

function jsdoc(doc, indent = '', extra = []) {
  const lines = [...(doc ? doc.split('\n') : []), ...extra];
  if (!lines.length) return '';
  const esc = (l) => l.replace(/\*\//g, '*\\/');
  if (lines.length === 1) return `${indent}/** ${esc(lines[0])} */\n`;
  return `${indent}/**\n${lines.map((l) => `${indent} *${l ? ' ' + esc(l) : ''}`).join('\n')}\n${indent} */\n`;
}
const pyComment = (doc, indent = '') => (doc ? doc.split('\n').map((l) => `${indent}# ${l}`.trimEnd()).join('\n') + '\n' : '');

/** Builds a generator context over the parsed header. */
function context(parsed) {
  const { typeKinds } = parsed;
  const resolve = (t) => {
    // Follow aliases: returns { kind, decl, base, baseConst, ptr } with ptr levels merged.
    let cur = { ...t, ptr: [...t.ptr] };
    for (let guard = 0; guard < 32; guard++) {
      if (SCALARS.has(cur.base)) return { ...cur, kind: 'scalar' };
      const d = typeKinds.get(cur.base);
      if (d.kind === 'alias') { cur = { base: d.type.base, baseConst: d.type.baseConst || cur.baseConst, ptr: [...d.type.ptr, ...cur.ptr] }; continue; }
      return { ...cur, kind: d.kind, decl: d };
    }
    throw new ParseError(`typedef cycle at ${t.base}`);
  };
  const enumKoffi = (d) => (d.members.some((m) => m.value > 0x7fffffff) ? 'uint32_t' : 'int32_t');
  const tsName = (d) => d.name;
  return { resolve, enumKoffi, tsName };
}

/**
 * A callback's `const char *x` followed by `size_t x_len` is a byte range, not a C string (it
 * need not be NUL-terminated): bind it as a raw pointer, read with koffi.decode(ptr, 'uint8_t', len)
 * (ctypes.string_at(ptr, len) in Python).
 */
function isByteRange(params, i, resolve) {
  const p = params[i], next = params[i + 1];
  if (!p || !next || next.name !== `${p.name}_len`) return false;
  const r = resolve(p.type), rn = resolve(next.type);
  return r.kind === 'scalar' && r.base === 'char' && r.baseConst && r.ptr.length === 1 && rn.kind === 'scalar' && rn.base === 'size_t' && rn.ptr.length === 0;
}

const pushDoc = (out, d) => { if (d) out.push(d.trimEnd()); };

// ---------------------------------------------------------------------------------------------
// TypeScript + koffi

function genTs(parsed, headerRel) {
  const ctx = context(parsed);
  const { resolve } = ctx;
  const out = [];
  const where = (w) => (msg) => { throw new ParseError(`${w}: ${msg}`); };

  /** koffi type expression + TS type for a C type in a given role. */
  function map(t, role, name, w) {
    const err = where(w);
    const r = resolve(t);
    const n = r.ptr.length;
    if (n === 0) {
      switch (r.kind) {
        case 'scalar': {
          if (r.base === 'void' && role !== 'return') err('void value');
          const [k, ts] = SCALAR_MAP[r.base];
          return { k: JSON.stringify(k), ts: is64(r.base) && role !== 'return' && role !== 'field-out' ? 'number | bigint' : ts };
        }
        case 'enum': return { k: `T.${r.decl.name}`, ts: r.decl.name };
        case 'struct': return { k: `T.${r.decl.name}`, ts: role === 'return' ? r.decl.name : `Partial<${r.decl.name}>` };
        case 'callback': return { k: `koffi.pointer(T.${r.decl.name})`, ts: 'koffi.IKoffiRegisteredCallback | null' };
        default: err(`${r.kind} ${r.base} by value`);
      }
    }
    if (n === 1) {
      if (r.kind === 'scalar' && r.base === 'char' && r.baseConst) return { k: '"const char *"', ts: role === 'return' ? 'string' : 'string | null' };
      if (r.kind === 'scalar' && r.base === 'void') return { k: '"void *"', ts: 'unknown' };
      if (r.kind === 'scalar' || r.kind === 'enum') {
        const base = r.kind === 'enum' ? 'int32_t' : r.base;
        const [k, , arr] = SCALAR_MAP[base];
        if (role === 'return') return { k: `koffi.pointer(${JSON.stringify(k)})`, ts: 'unknown' };
        return { k: `koffi.pointer(${JSON.stringify(k)})`, ts: r.baseConst ? `${arr} | Buffer | number[] | null` : `${arr} | Buffer | null` };
      }
      if (r.kind === 'opaque') return { k: `koffi.pointer(T.${r.decl.name})`, ts: `Pi5Handle<'${r.decl.name}'> | null` };
      if (r.kind === 'struct') {
        if (role === 'return') return { k: `koffi.pointer(T.${r.decl.name})`, ts: 'unknown' };
        if (r.baseConst) return { k: `koffi.pointer(T.${r.decl.name})`, ts: `Partial<${r.decl.name}> | null` };
        return { k: `koffi.inout(koffi.pointer(T.${r.decl.name}))`, ts: `Partial<${r.decl.name}>` };
      }
      err(`pointer to ${r.kind} ${r.base}`);
    }
    if (n === 2 && role === 'param') {
      if (r.kind === 'opaque' && !r.ptr[0].const) {
        return { k: `koffi.out(koffi.pointer(koffi.pointer(T.${r.decl.name})))`, ts: `[Pi5Handle<'${r.decl.name}'> | null]` };
      }
      if (r.kind === 'scalar' && r.base === 'char' && r.baseConst) {
        if (/^out_/.test(name)) return { k: 'koffi.out(koffi.pointer("const char *"))', ts: '[string | null]' };
        return { k: 'koffi.pointer("const char *")', ts: '(string | null)[] | null' };
      }
    }
    if (n === 2 && role === 'field' && r.kind === 'scalar' && r.base === 'char' && r.baseConst) {
      // an array of C strings held by a struct (e.g. stop strings): the caller builds it (koffi.alloc)
      return { k: 'koffi.pointer("const char *")', ts: 'unknown' };
    }
    err(`unsupported type ${JSON.stringify(t)} as ${role}`);
  }

  /** A callback parameter: byte ranges (see isByteRange) arrive as a pointer to decode. */
  function cbParam(params, i, w) {
    if (isByteRange(params, i, resolve)) return { k: 'koffi.pointer("uint8_t")', ts: 'unknown' };
    return map(params[i].type, 'callback-param', params[i].name, w);
  }

  out.push(`// GENERATED by codegen/codegen.mjs from ${headerRel}. DO NOT EDIT.`);
  out.push('// Regenerate with `npm run codegen`; `npm run check:bindings` and the tests fail when this file is stale.');
  out.push('/* eslint-disable */');
  out.push("import koffi from 'koffi';");
  out.push('');
  out.push('/** An opaque native handle (a pointer owned by the library). */');
  out.push("export type Pi5Handle<Name extends string> = { readonly __pi5_handle: Name };");
  out.push('');
  out.push('/** A bound native function: call it synchronously, or with `.async(...args, callback)` on a worker thread. */');
  out.push('export type NativeFunction<A extends unknown[], R> = ((...args: A) => R) & {');
  out.push('  async(...args: [...A, (err: unknown, result: R) => void]): void;');
  out.push('};');
  out.push('');
  out.push('// ---- #define constants');
  for (const d of parsed.defines) {
    out.push(jsdoc(d.doc) + `export const ${d.name} = ${d.value};`.replace(/^\n/, ''));
  }
  out.push('');
  out.push('// ---- enums');
  const enums = parsed.decls.filter((d) => d.kind === 'enum');
  for (const e of enums) {
    pushDoc(out, jsdoc(e.doc));
    out.push(`export const ${e.name} = {`);
    for (const m of e.members) {
      if (/_FORCE_INT$/.test(m.name)) continue; // ABI padding, not a value
      pushDoc(out, jsdoc(m.doc, '  '));
      out.push(`  ${m.name}: ${m.value},`);
    }
    out.push('} as const;');
    out.push(`export type ${e.name} = (typeof ${e.name})[keyof typeof ${e.name}];`);
    out.push(`/** Member name of a ${e.name} value (undefined for unknown values). */`);
    out.push(`export const ${e.name}_names: Readonly<Record<number, keyof typeof ${e.name}>> = Object.freeze(Object.fromEntries(Object.entries(${e.name}).map(([k, v]) => [v, k]))) as Record<number, keyof typeof ${e.name}>;`);
    out.push('');
  }
  out.push('// ---- structs (TypeScript view of the koffi objects)');
  for (const s of parsed.decls.filter((d) => d.kind === 'struct')) {
    pushDoc(out, jsdoc(s.doc));
    out.push(`export interface ${s.name} {`);
    for (const f of s.fields) {
      let ts;
      if (f.fnptr) ts = 'koffi.IKoffiRegisteredCallback | null';
      else if (f.array !== undefined) ts = `${map(f.type, 'field', f.name, `${s.name}.${f.name}`).ts}[]`;
      else ts = map(f.type, 'field', f.name, `${s.name}.${f.name}`).ts;
      pushDoc(out, jsdoc(f.doc, '  '));
      out.push(`  ${f.name}: ${ts};`);
    }
    out.push('}');
    out.push('');
  }
  out.push('// ---- callbacks (signatures for koffi.register)');
  for (const c of parsed.decls.filter((d) => d.kind === 'callback')) {
    const params = c.params.map((p, i) => `${p.name}: ${cbParam(c.params, i, `${c.name}(${p.name})`).ts.replace(' | bigint', '')}`);
    const ret = map(c.ret, 'return', '', `${c.name} result`).ts;
    pushDoc(out, jsdoc(c.doc));
    out.push(`export type ${c.name} = (${params.join(', ')}) => ${ret};`);
    out.push('');
  }
  out.push('// ---- koffi types (anonymous, so that loading this module twice never clashes)');
  out.push('function makeTypes() {');
  out.push('  const T = {} as Record<string, koffi.IKoffiCType | string>;');
  // Order: enums/opaque/aliases first, then callbacks and structs in declaration order.
  for (const d of parsed.decls) {
    if (d.kind === 'enum') out.push(`  T.${d.name} = ${JSON.stringify(ctx.enumKoffi(d))};`);
    else if (d.kind === 'opaque') out.push(`  T.${d.name} = koffi.opaque();`);
  }
  for (const d of parsed.decls) {
    if (d.kind === 'callback') {
      const ret = map(d.ret, 'return', '', d.name).k;
      const params = d.params.map((p, i) => cbParam(d.params, i, `${d.name}(${p.name})`).k);
      out.push(`  T.${d.name} = koffi.proto(${ret}, [${params.join(', ')}]);`);
    } else if (d.kind === 'struct') {
      const fields = d.fields.map((f) => {
        let k;
        if (f.fnptr) {
          const ret = map(f.fnptr.ret, 'return', '', `${d.name}.${f.name}`).k;
          const params = f.fnptr.params.map((p, i) => cbParam(f.fnptr.params, i, `${d.name}.${f.name}`).k);
          k = `koffi.pointer(koffi.proto(${ret}, [${params.join(', ')}]))`;
        } else {
          k = map(f.type, 'field', f.name, `${d.name}.${f.name}`).k;
        }
        if (f.array !== undefined) k = `koffi.array(${k}, ${f.array})`;
        return `    ${f.name}: ${k},`;
      });
      out.push(`  T.${d.name} = koffi.struct({\n${fields.join('\n')}\n  });`);
    }
  }
  out.push('  return T as Record<string, any>;');
  out.push('}');
  out.push('');
  out.push('// ---- functions');
  const fns = parsed.decls.filter((d) => d.kind === 'function');
  out.push('export interface Pi5Native {');
  for (const f of fns) {
    const params = f.params.map((p) => `${p.name}: ${map(p.type, 'param', p.name, `${f.name}(${p.name})`).ts}`);
    const ret = map(f.ret, 'return', '', `${f.name} result`).ts;
    pushDoc(out, jsdoc(f.doc, '  '));
    out.push(`  ${f.name}: NativeFunction<[${params.join(', ')}], ${ret}>;`);
  }
  out.push('}');
  out.push('');
  out.push('/** Every function the header declares, in header order. */');
  out.push('export const PI5_FUNCTIONS = [');
  for (const f of fns) out.push(`  ${JSON.stringify(f.name)},`);
  out.push('] as const;');
  out.push('');
  out.push('/** The koffi types of the header, created on first use. */');
  out.push('let types: Record<string, any> | undefined;');
  out.push('export function pi5Types(): Record<string, any> {');
  out.push('  return (types ??= makeTypes());');
  out.push('}');
  out.push('');
  out.push('/**');
  out.push(' * Binds every header function in `lib`. A function the loaded library does not export (an older');
  out.push(' * library than this header) is replaced by `onMissing(name)` and listed in `missing`.');
  out.push(' */');
  out.push('export function bindPi5(lib: koffi.IKoffiLib, onMissing: (name: string) => (...args: any[]) => never): { native: Pi5Native; missing: string[] } {');
  out.push('  const T = pi5Types();');
  out.push('  const missing: string[] = [];');
  out.push('  const bind = (name: string, ret: any, args: any[]): any => {');
  out.push('    try {');
  out.push('      return lib.func(name, ret, args);');
  out.push('    } catch (e) {');
  out.push('      missing.push(name);');
  out.push('      const f: any = onMissing(name);');
  out.push('      f.async = (...a: any[]) => { const cb = a[a.length - 1]; try { f(); } catch (err) { setImmediate(() => cb(err)); } };');
  out.push('      return f;');
  out.push('    }');
  out.push('  };');
  out.push('  const native = {');
  for (const f of fns) {
    const ret = map(f.ret, 'return', '', f.name).k;
    const params = f.params.map((p) => map(p.type, 'param', p.name, `${f.name}(${p.name})`).k);
    out.push(`    ${f.name}: bind(${JSON.stringify(f.name)}, ${ret}, [${params.join(', ')}]),`);
  }
  out.push('  } as Pi5Native;');
  out.push('  return { native, missing };');
  out.push('}');
  out.push('');
  return out.join('\n').replace(/\n{3,}/g, '\n\n');
}

// ---------------------------------------------------------------------------------------------
// Python ctypes

function genPy(parsed, headerRel) {
  const ctx = context(parsed);
  const { resolve } = ctx;
  function py(t, w) {
    const r = resolve(t);
    const n = r.ptr.length;
    if (n === 0) {
      if (r.kind === 'scalar') return SCALAR_MAP[r.base][3];
      if (r.kind === 'enum') return ctx.enumKoffi(r.decl) === 'uint32_t' ? 'ctypes.c_uint32' : 'ctypes.c_int32';
      if (r.kind === 'struct' || r.kind === 'callback') return r.decl.name;
      throw new ParseError(`${w}: ${r.kind} by value`);
    }
    if (n === 1 && r.kind === 'scalar' && r.base === 'char') return 'ctypes.c_char_p';
    if (n === 1 && r.kind === 'scalar' && r.base === 'void') return 'ctypes.c_void_p';
    if (r.kind === 'opaque') return n === 1 ? 'ctypes.c_void_p' : `ctypes.POINTER(${'ctypes.POINTER('.repeat(n - 2)}ctypes.c_void_p${')'.repeat(n - 2)})`;
    let inner = r.kind === 'scalar' ? SCALAR_MAP[r.base][3] : r.kind === 'enum' ? 'ctypes.c_int32' : r.decl.name;
    if (r.kind === 'scalar' && r.base === 'char') { inner = 'ctypes.c_char_p'; return `${'ctypes.POINTER('.repeat(n - 1)}${inner}${')'.repeat(n - 1)}`; }
    return `${'ctypes.POINTER('.repeat(n)}${inner}${')'.repeat(n)}`;
  }
  const o = [];
  o.push(`# GENERATED by codegen/codegen.mjs from ${headerRel}. DO NOT EDIT.`);
  o.push('# Regenerate with `npm run codegen`; the tests fail when this file is stale.');
  o.push('"""ctypes declarations of the pi5-llm-rt C ABI."""');
  o.push('import ctypes');
  o.push('import enum');
  o.push('');
  for (const d of parsed.defines) o.push(pyComment(d.doc) + `${d.name} = ${d.value}`);
  o.push('');
  for (const e of parsed.decls.filter((d) => d.kind === 'enum')) {
    o.push('');
    o.push(pyComment(e.doc) + `class ${e.name}(enum.IntEnum):`);
    for (const m of e.members) {
      if (/_FORCE_INT$/.test(m.name)) continue;
      o.push(pyComment(m.doc, '    ') + `    ${m.name} = ${m.value}`);
    }
    o.push('');
  }
  o.push('');
  for (const d of parsed.decls) {
    if (d.kind === 'callback') {
      o.push(pyComment(d.doc) + `${d.name} = ctypes.CFUNCTYPE(${[py(d.ret, d.name), ...d.params.map((p, i) => (isByteRange(d.params, i, resolve) ? 'ctypes.c_void_p' : py(p.type, d.name)))].join(', ')})`);
      o.push('');
    } else if (d.kind === 'struct') {
      o.push('');
      o.push(pyComment(d.doc) + `class ${d.name}(ctypes.Structure):`);
      o.push('    _fields_ = [');
      for (const f of d.fields) {
        let ty = f.fnptr ? `ctypes.CFUNCTYPE(${[py(f.fnptr.ret, f.name), ...f.fnptr.params.map((p, i) => (isByteRange(f.fnptr.params, i, resolve) ? 'ctypes.c_void_p' : py(p.type, f.name)))].join(', ')})` : py(f.type, `${d.name}.${f.name}`);
        if (f.array !== undefined) ty = `${ty} * ${f.array}`;
        o.push(pyComment(f.doc, '        ') + `        (${JSON.stringify(f.name)}, ${ty}),`);
      }
      o.push('    ]');
      o.push('');
    }
  }
  o.push('');
  o.push('# name -> (restype, argtypes)');
  o.push('FUNCTIONS = {');
  for (const f of parsed.decls.filter((d) => d.kind === 'function')) {
    o.push(`    ${JSON.stringify(f.name)}: (${f.ret.base === 'void' && !f.ret.ptr.length ? 'None' : py(f.ret, f.name)}, [${f.params.map((p) => py(p.type, `${f.name}(${p.name})`)).join(', ')}]),`);
  }
  o.push('}');
  o.push('');
  o.push('');
  o.push('def declare(lib):');
  o.push('    """Sets restype/argtypes on every function `lib` exports; returns the names it lacks."""');
  o.push('    missing = []');
  o.push('    for name, (restype, argtypes) in FUNCTIONS.items():');
  o.push('        try:');
  o.push('            fn = getattr(lib, name)');
  o.push('        except AttributeError:');
  o.push('            missing.append(name)');
  o.push('            continue');
  o.push('        fn.restype = restype');
  o.push('        fn.argtypes = argtypes');
  o.push('    return missing');
  o.push('');
  return o.join('\n').replace(/\n{4,}/g, '\n\n\n');
}

/** Generates every output from the header text: { ts, py }. */
export function generate(headerText = readFileSync(HEADER, 'utf8')) {
  const parsed = parseHeader(headerText);
  const rel = 'include/pi5_llm_rt.h';
  return { ts: genTs(parsed, rel), py: genPy(parsed, rel) };
}

/** Names of the committed outputs that differ from a fresh generation. */
export function staleOutputs() {
  const fresh = generate();
  const stale = [];
  for (const [k, path] of Object.entries(OUTPUTS)) {
    let cur = null;
    try { cur = readFileSync(path, 'utf8'); } catch { /* missing */ }
    if (cur !== fresh[k]) stale.push(relative(ROOT, path));
  }
  return stale;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    if (process.argv.includes('--check')) {
      const stale = staleOutputs();
      if (stale.length) {
        console.error(`pi5-llm-rt codegen: stale generated files: ${stale.join(', ')}\nRun \`npm run codegen\` and commit the result.`);
        process.exit(1);
      }
      console.log('pi5-llm-rt codegen: generated bindings are up to date');
    } else {
      const fresh = generate();
      for (const [k, path] of Object.entries(OUTPUTS)) {
        writeFileSync(path, fresh[k]);
        console.log(`wrote ${relative(ROOT, path)}`);
      }
    }
  } catch (e) {
    if (e instanceof ParseError) { console.error(`pi5-llm-rt codegen: ${e.message}`); process.exit(2); }
    throw e;
  }
}
