// Parses include/pi5_llm_rt.h into a small declaration model (no dependencies, no C compiler).
//
// Understood: integer #defines (expressions over earlier macros), #if/#ifdef/#ifndef/#else/#endif
// over defined()/!/&&/||, enums, opaque struct typedefs, struct definitions (scalars, pointers,
// fixed arrays, function-pointer fields), scalar typedef aliases, function-pointer typedefs and
// PI5_API function declarations, each with the /** ... */ comment that precedes it.
// Anything else at top level throws a ParseError naming the line, so the header cannot silently
// outgrow the bindings.

export class ParseError extends Error {
  constructor(message, line) {
    super(line ? `pi5_llm_rt.h:${line}: ${message}` : message);
    this.name = 'ParseError';
  }
}

/** C scalar types the generator knows (after typedef resolution). */
export const SCALARS = new Set([
  'void', 'bool', '_Bool', 'char', 'signed char', 'unsigned char', 'short', 'unsigned short',
  'int', 'unsigned int', 'unsigned', 'long', 'unsigned long', 'long long', 'unsigned long long',
  'int8_t', 'uint8_t', 'int16_t', 'uint16_t', 'int32_t', 'uint32_t', 'int64_t', 'uint64_t',
  'size_t', 'ptrdiff_t', 'intptr_t', 'uintptr_t', 'float', 'double',
]);

/** Macros the preprocessor treats as defined (we generate for a C, non-Windows host). */
const PREDEFINED = new Set(['__linux__', '__GNUC__']);

/** Object-like macros that are not API constants (they have no integer value on purpose). */
const IGNORED_MACROS = new Set(['PI5_API']);

function cleanDoc(raw) {
  // raw is the text between /** and */
  const lines = raw.split('\n').map((l) => l.replace(/^\s*\*(?!\/) ?/, '').replace(/\s+$/, ''));
  while (lines.length && lines[0].trim() === '') lines.shift();
  while (lines.length && lines[lines.length - 1].trim() === '') lines.pop();
  return lines.length === 1 ? lines[0].trim() : lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Preprocessor: returns the lines that survive conditionals, with #defines collected.

function evalCondition(expr, macros, line) {
  const src = expr.replace(/\/\*.*?\*\//g, '').replace(/\/\/.*$/, '').trim();
  const toks = src.match(/defined\s*\(\s*\w+\s*\)|defined\s+\w+|\|\||&&|!|\(|\)|\w+/g) || [];
  let i = 0;
  const isDefined = (name) => PREDEFINED.has(name) || macros.defined.has(name);
  function primary() {
    const t = toks[i++];
    if (t === undefined) throw new ParseError(`cannot evaluate #if ${expr}`, line);
    if (t === '!') return !primary();
    if (t === '(') {
      const v = or();
      if (toks[i++] !== ')') throw new ParseError(`unbalanced parentheses in #if ${expr}`, line);
      return v;
    }
    const m = t.match(/^defined\s*\(?\s*(\w+)\s*\)?$/);
    if (m) return isDefined(m[1]);
    if (/^\d+$/.test(t)) return Number(t) !== 0;
    if (macros.values.has(t)) return macros.values.get(t) !== 0;
    if (/^\w+$/.test(t)) return false; // undefined identifiers are 0 in #if
    throw new ParseError(`cannot evaluate #if ${expr}`, line);
  }
  function and() {
    let v = primary();
    while (toks[i] === '&&') { i++; const r = primary(); v = v && r; }
    return v;
  }
  function or() {
    let v = and();
    while (toks[i] === '||') { i++; const r = and(); v = v || r; }
    return v;
  }
  const v = or();
  if (i !== toks.length) throw new ParseError(`cannot evaluate #if ${expr}`, line);
  return v;
}

function evalIntExpr(expr, macros, line, name) {
  // Replace known macro names by their values, then allow only integer-expression characters.
  let s = expr.replace(/\/\*.*?\*\//g, '').replace(/\/\/.*$/, '').trim();
  s = s.replace(/\b([A-Za-z_]\w*)\b/g, (id) => {
    if (macros.values.has(id)) return `(${macros.values.get(id)})`;
    throw new ParseError(`#define ${name}: unknown identifier ${id} in "${expr}"`, line);
  });
  s = s.replace(/\b(0x[0-9a-fA-F]+|\d+)[uUlL]*\b/g, '$1');
  if (!/^[\s\d()xXa-fA-F+\-*/%<>|&^~]*$/.test(s)) {
    throw new ParseError(`#define ${name}: not an integer expression: "${expr}"`, line);
  }
  // eslint-disable-next-line no-new-func
  const v = Function(`"use strict"; return (${s});`)();
  if (!Number.isInteger(v)) throw new ParseError(`#define ${name}: not an integer: "${expr}"`, line);
  return v;
}

function preprocess(text) {
  // Join continuation lines but keep line numbering by padding.
  const raw = text.split('\n');
  const out = []; // { text, line }
  const macros = { values: new Map(), defined: new Set(), defines: [] };
  const stack = []; // { active, taken }
  const active = () => stack.every((s) => s.active);
  let pendingDoc = null;
  let inComment = false;
  for (let n = 0; n < raw.length; n++) {
    let line = raw[n];
    const lineNo = n + 1;
    while (line.endsWith('\\') && n + 1 < raw.length) { line = line.slice(0, -1) + ' ' + raw[++n]; out.push({ text: '', line: n + 1 }); }
    // Track whether this line starts inside a block comment (preprocessor lines never do here).
    const trimmed = line.trim();
    if (!inComment && trimmed.startsWith('#')) {
      const m = trimmed.match(/^#\s*(\w+)\s*(.*)$/);
      const [, dir, rest] = m;
      if (dir === 'ifdef' || dir === 'ifndef') {
        const name = rest.trim();
        const def = PREDEFINED.has(name) || macros.defined.has(name);
        const v = dir === 'ifdef' ? def : !def;
        stack.push({ active: v, taken: v });
      } else if (dir === 'if') {
        const v = evalCondition(rest, macros, lineNo);
        stack.push({ active: v, taken: v });
      } else if (dir === 'elif') {
        const top = stack[stack.length - 1];
        if (!top) throw new ParseError('#elif without #if', lineNo);
        const v = !top.taken && evalCondition(rest, macros, lineNo);
        top.active = v; top.taken = top.taken || v;
      } else if (dir === 'else') {
        const top = stack[stack.length - 1];
        if (!top) throw new ParseError('#else without #if', lineNo);
        top.active = !top.taken; top.taken = true;
      } else if (dir === 'endif') {
        if (!stack.pop()) throw new ParseError('#endif without #if', lineNo);
      } else if (!active()) {
        // skipped
      } else if (dir === 'include') {
        // system headers only; nothing to do
      } else if (dir === 'define') {
        const dm = rest.match(/^(\w+)(\([^)]*\))?\s*(.*)$/);
        if (!dm) throw new ParseError(`cannot parse #define ${rest}`, lineNo);
        const [, name, params, body] = dm;
        macros.defined.add(name);
        if (params) throw new ParseError(`function-like macro ${name} is not supported by the codegen`, lineNo);
        const value = body.replace(/\/\*.*?\*\//g, '').replace(/\/\/.*$/, '').trim();
        if (value === '' || IGNORED_MACROS.has(name)) { pendingDoc = null; continue; }
        const v = evalIntExpr(value, macros, lineNo, name);
        macros.values.set(name, v);
        macros.defines.push({ kind: 'define', name, value: v, expr: value, doc: pendingDoc, line: lineNo });
        pendingDoc = null;
      } else if (dir === 'undef') {
        macros.defined.delete(rest.trim());
        macros.values.delete(rest.trim());
      } else if (dir === 'pragma' || dir === 'error' || dir === 'warning') {
        // ignore
      } else {
        throw new ParseError(`unsupported preprocessor directive #${dir}`, lineNo);
      }
      // A marker token so that a doc comment before a directive never attaches to the next declaration.
      out.push({ text: active() ? '@' : '', line: lineNo });
      continue;
    }
    if (!active()) { out.push({ text: '', line: lineNo }); continue; }
    // Remember a doc comment that directly precedes a #define (for macro docs).
    const docm = trimmed.match(/^\/\*\*([\s\S]*?)\*\/$/);
    if (docm) pendingDoc = cleanDoc(docm[1]);
    else if (trimmed !== '') pendingDoc = null;
    // Update block comment state for this line.
    let i = 0;
    while (i < line.length) {
      if (inComment) { const e = line.indexOf('*/', i); if (e < 0) break; inComment = false; i = e + 2; }
      else { const s = line.indexOf('/*', i); const sl = line.indexOf('//', i); if (s < 0 || (sl >= 0 && sl < s)) break; inComment = true; i = s + 2; }
    }
    out.push({ text: line, line: lineNo });
  }
  if (stack.length) throw new ParseError('unterminated #if');
  return { lines: out, macros };
}

// ---------------------------------------------------------------------------------------------
// Tokenizer over the surviving text.

function tokenize(lines) {
  const text = lines.map((l) => l.text).join('\n');
  const toks = [];
  let line = 1;
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '\n') { line++; i++; continue; }
    if (/\s/.test(c)) { i++; continue; }
    if (text.startsWith('/*', i)) {
      const e = text.indexOf('*/', i + 2);
      if (e < 0) throw new ParseError('unterminated comment', line);
      const body = text.slice(i + 2, e);
      if (body.startsWith('*') && !body.startsWith('**')) toks.push({ t: 'doc', v: cleanDoc(body.slice(1)), line });
      line += (body.match(/\n/g) || []).length;
      i = e + 2;
      continue;
    }
    if (text.startsWith('//', i)) { while (i < text.length && text[i] !== '\n') i++; continue; }
    if (c === '@') { toks.push({ t: 'dir', v: '@', line }); i++; continue; }
    let m;
    const rest = text.slice(i, i + 200);
    if ((m = rest.match(/^[A-Za-z_]\w*/))) { toks.push({ t: 'id', v: m[0], line }); i += m[0].length; continue; }
    if ((m = rest.match(/^(0x[0-9a-fA-F]+|\d+)[uUlL]*/))) { toks.push({ t: 'num', v: m[0], line }); i += m[0].length; continue; }
    if ((m = rest.match(/^"(?:[^"\\]|\\.)*"/))) { toks.push({ t: 'str', v: m[0], line }); i += m[0].length; continue; }
    if ('{}()[];,*=-+<>|&~!'.includes(c)) { toks.push({ t: 'p', v: c, line }); i++; continue; }
    throw new ParseError(`unexpected character ${JSON.stringify(c)}`, line);
  }
  toks.push({ t: 'eof', v: '', line });
  return toks;
}

// ---------------------------------------------------------------------------------------------
// Declarations.

const QUALIFIERS = new Set(['const', 'volatile', 'restrict', '__restrict']);
const MULTIWORD = ['unsigned', 'signed', 'long', 'short', 'int', 'char'];

/**
 * A C type: { base: 'int32_t' | 'pi5_runtime' | ..., baseConst: bool, ptr: [{const}], array?: n }
 * ptr[k].const is whether pointer level k itself is const (rarely used).
 */
export function typeToString(t) {
  let s = (t.baseConst ? 'const ' : '') + t.base;
  for (const p of t.ptr) s += p.const ? ' *const' : ' *';
  return s.replace(/ \*/g, ' *').replace(/\* \*/g, '**');
}

export function parseHeader(text) {
  const { lines, macros } = preprocess(text);
  const toks = tokenize(lines);
  let i = 0;
  const peek = (k = 0) => toks[i + k];
  const next = () => toks[i++];
  const fail = (msg, tok = peek()) => { throw new ParseError(`${msg} (at ${JSON.stringify(tok.v || tok.t)})`, tok.line); };
  const expect = (v) => { const t = next(); if (t.v !== v) fail(`expected "${v}"`, t); return t; };
  const expectId = () => { const t = next(); if (t.t !== 'id') fail('expected an identifier', t); return t.v; };

  const decls = [];
  const enumConsts = new Map(); // name -> value (for enum value expressions)
  const known = new Map(); // type name -> decl

  function parseTypeSpecifier() {
    // [const] base-type  where base-type may be multiword, `struct X`, `enum X` or a typedef name.
    let baseConst = false;
    while (peek().t === 'id' && QUALIFIERS.has(peek().v)) { if (next().v === 'const') baseConst = true; }
    let base;
    if (peek().v === 'struct' || peek().v === 'enum' || peek().v === 'union') {
      const kw = next().v;
      base = expectId();
      if (kw === 'union') fail('unions are not supported by the codegen');
    } else if (peek().t === 'id' && MULTIWORD.includes(peek().v)) {
      const words = [];
      while (peek().t === 'id' && MULTIWORD.includes(peek().v)) words.push(next().v);
      base = words.join(' ');
      if (base === 'signed int' || base === 'signed') base = 'int';
      if (base === 'unsigned int') base = 'unsigned int';
      if (base === 'long int') base = 'long';
      if (base === 'long long int') base = 'long long';
      if (base === 'unsigned long long int') base = 'unsigned long long';
    } else {
      base = expectId();
    }
    while (peek().t === 'id' && QUALIFIERS.has(peek().v)) { if (next().v === 'const') baseConst = true; }
    return { base, baseConst };
  }

  function parsePointers() {
    const ptr = [];
    while (peek().v === '*') {
      next();
      let c = false;
      while (peek().t === 'id' && QUALIFIERS.has(peek().v)) { if (next().v === 'const') c = true; }
      ptr.push({ const: c });
    }
    return ptr;
  }

  function parseArraySuffix() {
    if (peek().v !== '[') return undefined;
    next();
    const parts = [];
    while (peek().v !== ']') { if (peek().t === 'eof') fail('unterminated array'); parts.push(next().v); }
    next();
    const expr = parts.join(' ');
    const v = evalIntExpr(expr.replace(/\b([A-Za-z_]\w*)\b/g, (id) => (enumConsts.has(id) ? String(enumConsts.get(id)) : id)), macros, peek().line, 'array size');
    return v;
  }

  /** Parses `( params )` after a function name; returns [{name, type}] ([] for (void)). */
  function parseParams() {
    expect('(');
    const params = [];
    if (peek().v === 'void' && peek(1).v === ')') { next(); next(); return params; }
    if (peek().v === ')') fail('empty parameter list: write (void)');
    for (;;) {
      if (peek().v === '.') fail('variadic functions are not supported');
      const spec = parseTypeSpecifier();
      const ptr = parsePointers();
      let name = null;
      let fnptr = null;
      if (peek().v === '(') fail('inline function-pointer parameters are not supported: typedef the callback');
      if (peek().t === 'id') name = next().v;
      const array = parseArraySuffix();
      if (array !== undefined) ptr.push({ const: false }); // T x[n] in a parameter is T *
      if (!name) fail('every parameter needs a name (the bindings use it)');
      params.push({ name, type: { ...spec, ptr }, fnptr });
      if (peek().v === ',') { next(); continue; }
      expect(')');
      return params;
    }
  }

  function parseEnumBody(name, doc, line) {
    expect('{');
    const members = [];
    let value = -1;
    let memberDoc = null;
    for (;;) {
      if (peek().t === 'doc') { memberDoc = next().v; continue; }
      if (peek().v === '}') { next(); break; }
      const mline = peek().line;
      const mname = expectId();
      if (peek().v === '=') {
        next();
        const parts = [];
        while (peek().v !== ',' && peek().v !== '}') {
          if (peek().t === 'eof') fail('unterminated enum');
          if (peek().t === 'doc') { next(); continue; }
          parts.push(next().v);
        }
        const expr = parts.join(' ');
        const subst = expr.replace(/\b([A-Za-z_]\w*)\b/g, (id) => (enumConsts.has(id) ? `(${enumConsts.get(id)})` : id));
        value = evalIntExpr(subst, macros, mline, mname);
      } else {
        value += 1;
      }
      enumConsts.set(mname, value);
      members.push({ name: mname, value, doc: memberDoc, line: mline });
      memberDoc = null;
      if (peek().v === ',') next();
    }
    return { kind: 'enum', name, doc, members, line };
  }

  function parseStructBody(name, doc, line) {
    expect('{');
    const fields = [];
    let fieldDoc = null;
    for (;;) {
      if (peek().t === 'doc') { fieldDoc = next().v; continue; }
      if (peek().v === '}') { next(); break; }
      const fline = peek().line;
      if (peek().v === 'struct' && peek(2).v === '{') fail('nested struct definitions are not supported');
      const spec = parseTypeSpecifier();
      for (;;) {
        const ptr = parsePointers();
        let fname;
        let fnptr = null;
        if (peek().v === '(') {
          // function-pointer field: ret (*name)(params)
          next(); expect('*'); fname = expectId(); expect(')');
          const params = parseParams();
          fnptr = { ret: { ...spec, ptr }, params };
        } else {
          fname = expectId();
        }
        const array = parseArraySuffix();
        fields.push({ name: fname, type: fnptr ? null : { ...spec, ptr }, fnptr, array, doc: fieldDoc, line: fline });
        if (peek().v === ',') { next(); continue; }
        break;
      }
      fieldDoc = null;
      expect(';');
    }
    if (!fields.length) fail(`struct ${name} has no fields`);
    return { kind: 'struct', name, doc, fields, line };
  }

  function add(decl) {
    if (known.has(decl.name) && !(known.get(decl.name).kind === 'opaque' && decl.kind === 'struct')) {
      throw new ParseError(`${decl.name} declared twice`, decl.line);
    }
    if (known.has(decl.name)) {
      const idx = decls.indexOf(known.get(decl.name));
      decls.splice(idx, 1);
    }
    known.set(decl.name, decl);
    decls.push(decl);
  }

  let doc = null;
  for (;;) {
    const tok = peek();
    if (tok.t === 'eof') break;
    if (tok.t === 'doc') { doc = next().v; continue; }
    if (tok.t === 'dir') { next(); doc = null; continue; }
    const line = tok.line;
    if (tok.v === 'extern' && peek(1).t === 'str') { next(); next(); expect('{'); doc = null; continue; }
    if (tok.v === '}') { next(); doc = null; continue; } // closing an extern "C" block
    if (tok.v === 'typedef') {
      next();
      if (peek().v === 'enum' && (peek(1).v === '{' || peek(2).v === '{')) {
        next();
        const tag = peek().t === 'id' ? next().v : null;
        const e = parseEnumBody(tag, doc, line);
        const name = expectId();
        e.name = name; e.tag = tag;
        expect(';');
        add(e);
      } else if (peek().v === 'struct' && (peek(1).v === '{' || peek(2).v === '{')) {
        next();
        const tag = peek().t === 'id' ? next().v : null;
        const s = parseStructBody(tag, doc, line);
        const name = expectId();
        s.name = name; s.tag = tag;
        expect(';');
        add(s);
      } else if (peek().v === 'struct' && peek(1).t === 'id' && peek(2).t === 'id' && peek(3).v === ';') {
        next(); const tag = next().v; const name = next().v; next();
        if (!known.has(name)) add({ kind: 'opaque', name, tag, doc, line });
      } else {
        const spec = parseTypeSpecifier();
        const ptr = parsePointers();
        if (peek().v === '(') {
          next(); expect('*'); const name = expectId(); expect(')');
          const params = parseParams();
          expect(';');
          add({ kind: 'callback', name, doc, ret: { ...spec, ptr }, params, line });
        } else {
          const name = expectId();
          if (peek().v === '[') fail('array typedefs are not supported');
          expect(';');
          add({ kind: 'alias', name, doc, type: { ...spec, ptr }, line });
        }
      }
      doc = null;
      continue;
    }
    if (tok.v === 'PI5_API') {
      next();
      const spec = parseTypeSpecifier();
      const ptr = parsePointers();
      const name = expectId();
      const params = parseParams();
      expect(';');
      add({ kind: 'function', name, doc, ret: { ...spec, ptr }, params, line });
      doc = null;
      continue;
    }
    if ((tok.v === 'struct' || tok.v === 'enum') && peek(1).t === 'id' && peek(2).v === '{') {
      const kw = next().v; const tag = next().v;
      const d = kw === 'struct' ? parseStructBody(tag, doc, line) : parseEnumBody(tag, doc, line);
      expect(';');
      add(d);
      doc = null;
      continue;
    }
    fail('cannot parse this top-level declaration (the codegen must learn it)');
  }

  // Resolve and validate every type name used.
  const typeKinds = new Map(decls.filter((d) => d.kind !== 'function').map((d) => [d.name, d]));
  for (const d of decls) if (d.tag && !typeKinds.has(d.tag)) typeKinds.set(d.tag, d);
  const checkType = (t, where, line) => {
    if (!t) return;
    if (SCALARS.has(t.base) || typeKinds.has(t.base)) return;
    throw new ParseError(`unknown type ${t.base} in ${where}`, line);
  };
  for (const d of decls) {
    if (d.kind === 'struct') for (const f of d.fields) {
      checkType(f.type, `${d.name}.${f.name}`, f.line);
      if (f.fnptr) { checkType(f.fnptr.ret, `${d.name}.${f.name}`, f.line); f.fnptr.params.forEach((p) => checkType(p.type, `${d.name}.${f.name}`, f.line)); }
    }
    if (d.kind === 'function' || d.kind === 'callback') {
      checkType(d.ret, d.name, d.line);
      for (const p of d.params) checkType(p.type, `${d.name}(${p.name})`, d.line);
    }
    if (d.kind === 'alias') checkType(d.type, d.name, d.line);
  }
  const functions = decls.filter((d) => d.kind === 'function');
  if (!functions.length) throw new ParseError('no PI5_API functions found');
  return { defines: macros.defines, decls, typeKinds };
}
