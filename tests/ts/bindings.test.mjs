import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from './helpers.mjs';
import { generate, staleOutputs, HEADER } from '../../codegen/codegen.mjs';
import { parseHeader } from '../../codegen/parse-header.mjs';

test('bindings freshness: committed generated files equal what codegen produces from the header now', () => {
  assert.deepEqual(staleOutputs(), [], 'run `npm run codegen` and commit the result');
});

test('every header function is bound, with its doc comment', () => {
  const header = readFileSync(HEADER, 'utf8');
  const declared = [...header.matchAll(/^PI5_API\s[^;(]*?\b(pi5_\w+)\s*\(/gm)].map((m) => m[1]);
  assert.ok(declared.length >= 10);
  const ts = readFileSync(join(ROOT, 'bindings', 'generated.ts'), 'utf8');
  for (const name of declared) {
    assert.match(ts, new RegExp(`  ${name}: NativeFunction<`), name);
    assert.match(ts, new RegExp(`${name}: bind\\("${name}"`), name);
  }
  assert.match(ts, /\/\*\* The library version, e\.g\. "0\.1\.0"\. Static string\. Thread-safe\. \*\/\n  pi5_version_string:/);
});

const FUTURE = `
#define PI5X_MAX_STOP 4
/** A token id. */
typedef int32_t pi5x_token;
typedef struct pi5x_model pi5x_model;
/** Per-token callback; return false to stop. */
typedef bool (*pi5x_token_callback)(pi5x_token token, const char *piece, void *user_data);
typedef enum pi5x_kv_type { PI5X_KV_F16 = 0, PI5X_KV_Q8_0, PI5X_KV_F32 = PI5X_KV_Q8_0 + 1 } pi5x_kv_type;
typedef struct pi5x_model_options {
    uint32_t struct_size;
    /** Context length; 0 = from the model. */
    uint32_t n_ctx;
    pi5x_kv_type kv_type;
    float budget[PI5X_MAX_STOP];
    void (*on_progress)(float fraction, void *user_data);
    void *user_data;
} pi5x_model_options;
/** Loads a model. */
PI5_API pi5_status pi5x_load_model_ex(pi5_runtime *rt, const char *path, const pi5x_model_options *options, pi5x_model **out_model);
PI5_API pi5_status pi5x_tokenize(pi5x_model *model, const char *text, size_t text_len, pi5x_token *tokens, size_t n_max, size_t *out_n);
PI5_API pi5_status pi5x_infer(pi5x_model *model, const pi5x_token *tokens, size_t n, float *logits);
PI5_API pi5_status pi5x_generate(pi5x_model *m, const char *const *stop, size_t n_stop, pi5x_token_callback cb, void *user_data);
`;

test('the parser handles the constructs the model API will bring', () => {
  const header = readFileSync(HEADER, 'utf8').replace('#ifdef __cplusplus\n}', FUTURE + '\n#ifdef __cplusplus\n}');
  const { ts, py } = generate(header);
  assert.match(ts, /T\.pi5x_token_callback = koffi\.proto\("bool", \["int32_t", "const char \*", "void \*"\]\)/);
  assert.match(ts, /budget: koffi\.array\("float", 4\)/);
  assert.match(ts, /on_progress: koffi\.pointer\(koffi\.proto\("void", \["float", "void \*"\]\)\)/);
  assert.match(ts, /PI5X_KV_F32: 2,/);
  assert.match(ts, /out_model: \[Pi5Handle<'pi5x_model'> \| null\]/);
  assert.match(ts, /tokens: Int32Array \| Buffer \| null/);
  assert.match(ts, /logits: Float32Array \| Buffer \| null/);
  assert.match(ts, /stop: \(string \| null\)\[\] \| null/);
  assert.match(ts, /\/\*\* Context length; 0 = from the model\. \*\/\n  n_ctx: number;/);
  assert.match(py, /pi5x_token_callback = ctypes\.CFUNCTYPE\(ctypes\.c_bool, ctypes\.c_int32, ctypes\.c_char_p, ctypes\.c_void_p\)/);
  assert.match(py, /"pi5x_infer": \(ctypes\.c_int32, \[ctypes\.c_void_p, ctypes\.POINTER\(ctypes\.c_int32\), ctypes\.c_size_t, ctypes\.POINTER\(ctypes\.c_float\)\]\)/);
});

test('a callback (const char *x, size_t x_len) byte range is bound as a pointer, not a C string', () => {
  const header = readFileSync(HEADER, 'utf8').replace('#ifdef __cplusplus\n}', `
typedef int32_t (*pi5x_bytes_cb)(const char *data, size_t data_len, const char *name, void *user_data);
#ifdef __cplusplus
}`);
  const { ts, py } = generate(header);
  assert.match(ts, /T\.pi5x_bytes_cb = koffi\.proto\("int32_t", \[koffi\.pointer\("uint8_t"\), "size_t", "const char \*", "void \*"\]\)/);
  assert.match(ts, /export type pi5x_bytes_cb = \(data: unknown, data_len: number, name: string \| null, user_data: unknown\) => number;/);
  assert.match(py, /pi5x_bytes_cb = ctypes\.CFUNCTYPE\(ctypes\.c_int32, ctypes\.c_void_p, ctypes\.c_size_t, ctypes\.c_char_p, ctypes\.c_void_p\)/);
  // The real header's token callback is one.
  assert.match(readFileSync(join(ROOT, 'bindings', 'generated.ts'), 'utf8'), /T\.pi5_token_callback = koffi\.proto\("int32_t", \["int32_t", koffi\.pointer\("uint8_t"\), "size_t", "void \*"\]\)/);
});

test('the parser fails loudly on declarations it cannot map', () => {
  const header = readFileSync(HEADER, 'utf8');
  const inject = (s) => header.replace('#ifdef __cplusplus\n}', `${s}\n#ifdef __cplusplus\n}`);
  const cases = [
    ['PI5_API int pi5_printf(const char *fmt, ...);', /unexpected character|variadic/],
    ['PI5_API pi5_status pi5_x(pi5_unknown_t *p);', /unknown type pi5_unknown_t/],
    ['static inline int helper(void) { return 0; }', /cannot parse this top-level declaration/],
    ['#define PI5_NAME "pi5"', /not an integer|unknown identifier/],
    ['typedef union u { int a; float b; } u;', /unions are not supported/],
    ['PI5_API void pi5_y(int);', /every parameter needs a name/],
  ];
  for (const [snippet, re] of cases) {
    assert.throws(() => generate(inject(snippet)), (e) => e.name === 'ParseError' && re.test(e.message) && /pi5_llm_rt\.h:\d+/.test(e.message), snippet);
  }
  assert.throws(() => parseHeader('/* nothing */'), /no PI5_API functions/);
});
