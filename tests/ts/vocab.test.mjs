// llama.cpp's tokenizer test vectors (ggml-vocab-*.gguf with .inp/.out, no weights) through the
// native CLI's `tokenize` (vocabulary-only, as llama-tokenize) and through the TS API's vocabOnly.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ROOT, LIB, MODELS_DIR, NATIVE_CLI, needs, childEnv } from './helpers.mjs';

process.env.PI5_LLM_RT_LIB = LIB;
const pkg = await import(join(ROOT, 'dist', 'index.js'));
const { Runtime, Pi5Error } = pkg;

const VOCABS = ['llama-spm', 'gpt-2', 'llama-bpe', 'qwen2'];
const vocabPath = (v) => join(MODELS_DIR, 'vocab', `ggml-vocab-${v}.gguf`);
const SEP = '\n__ggml_vocab_test__\n';

/** The cases of a .inp/.out pair, as llama.cpp's test-tokenizer-0 reads them. */
function cases(v) {
  const inp = readFileSync(`${vocabPath(v)}.inp`, 'utf8').split(SEP);
  const out = readFileSync(`${vocabPath(v)}.out`, 'utf8').split('\n');
  inp.pop(); // the file ends with a separator
  assert.equal(inp.length, 46);
  return inp.map((text, i) => ({ text, want: out[i].trim() === '' ? [] : out[i].trim().split(/\s+/).map(Number) }));
}

describe('vocabulary test files', () => {
  for (const v of VOCABS) {
    test(`${v}: every case through \`pi5_llm_rt tokenize\` on the vocab-only file`, { skip: needs(vocabPath(v), NATIVE_CLI) }, () => {
      const bad = [];
      for (const { text, want } of cases(v)) {
        // --no-special: test-tokenizer-0 tokenizes with add_special = false, parse_special = false.
        const r = spawnSync(NATIVE_CLI, ['tokenize', '--model', vocabPath(v), '--stdin', '--no-special'], { input: Buffer.from(text, 'utf8'), env: childEnv(), encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
        const got = r.stdout.trim() === '' ? [] : r.stdout.trim().split(' ').map(Number);
        if (JSON.stringify(got) !== JSON.stringify(want)) bad.push({ text, want, got });
      }
      assert.deepEqual(bad, []);
    });
  }

  test('CLI: BOS by the vocab\'s flags, --parse-special', { skip: needs(vocabPath('llama-bpe'), NATIVE_CLI) }, () => {
    const tok = (...args) => spawnSync(NATIVE_CLI, ['tokenize', '--model', vocabPath('llama-bpe'), ...args], { env: childEnv(), encoding: 'utf8' });
    assert.equal(tok('--prompt', 'Hello world').stdout.trim(), '128000 9906 1917');
    assert.equal(tok('--prompt', '<|begin_of_text|>Hi', '--no-special', '--parse-special').stdout.trim(), '128000 13347');
    assert.notEqual(tok('--prompt', '<|begin_of_text|>Hi', '--no-special').stdout.trim().split(' ')[0], '128000');
  });

  test('TS: vocabOnly load tokenizes, detokenizes, and evaluation rejects saying vocab-only', { skip: needs(vocabPath('qwen2')) }, async () => {
    const rt = await Runtime.create({ backend: 'cpu', threads: 2 });
    try {
      await assert.rejects(rt.loadModel(vocabPath('qwen2')), Pi5Error); // no weights: a full load fails
      const model = await rt.loadModel(vocabPath('qwen2'), { vocabOnly: true });
      assert.equal(model.info.vocab_only, true);
      const { text, want } = cases('qwen2').find((c) => c.text === 'Hello world');
      assert.deepEqual([...model.tokenize(text, { addSpecial: false })], want);
      assert.equal(model.detokenize(want), 'Hello world');
      const im = model.tokenize('<|im_start|>', { addSpecial: false, parseSpecial: true });
      assert.equal(im.length, 1);
      await assert.rejects(model.eval([1]), (e) => e instanceof Pi5Error && /vocab-only/.test(e.message));
    } finally {
      rt.dispose();
    }
  });
});

/** A copy of a tensor-less GGUF with tokenizer.ggml.pre set to `pre` (other keys byte for byte). */
function withPre(src, dst, pre) {
  const d = readFileSync(src);
  const nt = d.readBigUInt64LE(8), nkv = Number(d.readBigUInt64LE(16));
  assert.equal(nt, 0n);
  const fixed = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
  const skip = (t, o) => {
    if (t in fixed) return o + fixed[t];
    if (t === 8) return o + 8 + Number(d.readBigUInt64LE(o));
    assert.equal(t, 9);
    const at = d.readUInt32LE(o), n = Number(d.readBigUInt64LE(o + 4));
    o += 12;
    for (let i = 0; i < n; i++) o = skip(at, o);
    return o;
  };
  const parts = [d.subarray(0, 24)];
  let o = 24;
  for (let i = 0; i < nkv; i++) {
    const kl = Number(d.readBigUInt64LE(o));
    const key = d.subarray(o + 8, o + 8 + kl).toString();
    const vo = o + 8 + kl + 4, end = skip(d.readUInt32LE(o + 8 + kl), vo);
    if (key === 'tokenizer.ggml.pre') {
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(Buffer.byteLength(pre)));
      parts.push(d.subarray(o, vo), len, Buffer.from(pre));
    } else parts.push(d.subarray(o, end));
    o = end;
  }
  const body = Buffer.concat(parts);
  writeFileSync(dst, Buffer.concat([body, Buffer.alloc((32 - (body.length % 32)) % 32)]));
}

describe('pre-tokenizers against llama.cpp (node-llama-cpp, vocab-only)', { skip: needs(vocabPath('llama-bpe'), NATIVE_CLI) }, () => {
  const tmp = mkdtempSync(join(tmpdir(), 'pi5-vocab-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));
  const PRES = ['default', 'gpt-2', 'llama-bpe', 'qwen2', 'smollm', 'deepseek-llm', 'deepseek-coder', 'falcon', 'starcoder', 'refact', 'mpt', 'command-r', 'gpt-4o', 'tekken', 'bloom', 'viking'];
  const texts = [...new Set([...cases('llama-bpe').map((c) => c.text), ...[
    "HelloWORLDfoo BarBAZ ǅungla ǈ x'S I'M we'LL", 'Ωμέγα ΣΊΣΥΦΟΣ αβγ', '你好，世界！　全角ＡＢＣ１２３', '한국어 텍스트 가나다', 'こんにちは カタカナ ひらがな',
    'e\u0301te\u0301 na\u0308ive', 'tab\tsep\r\nline\r\n\r\n  end  ', '12345678 1,234.56 ½ ٣٤٥ ①②', 'a+b=c; x<y>z ^~|` $5 #tag @me',
    '  \n\t \u3000 \u00a0x\u2003y ', '🦙🔥 emoji👍🏽 👨‍👩‍👧', "don't 're 'VE 'Ll", 'path/to/file.js // comment\n/* block */',
    'Ünïcödé ÀÉÎÕÜ ßtraße ǅ ǲ', '...!!!???,,,', 'ab\u200bcd', 'x\u0085y\u2028z', 'ﬁﬂ ＡＢＣａｂｃ', 'Ⅻ ⅻ ℃ №', '\u0600\u0601 ع ربي',
  ]])];

  test('the Llama 3 vocabulary under each tokenizer.ggml.pre: same ids and text as llama.cpp', async () => {
    const { getLlama } = await import('node-llama-cpp');
    const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' });
    const rt = await Runtime.create({ backend: 'cpu', threads: 2 });
    const bad = [];
    const distinct = new Set();
    try {
      for (const pre of PRES) {
        const path = join(tmp, `${pre}.gguf`);
        withPre(vocabPath('llama-bpe'), path, pre);
        const ref = await llama.loadModel({ modelPath: path, vocabOnly: true });
        const ours = await rt.loadModel(path, { vocabOnly: true });
        for (const t of texts) {
          const want = ref.tokenize(t, false);
          const got = [...ours.tokenize(t, { addSpecial: false })];
          if (JSON.stringify(want) !== JSON.stringify(got)) bad.push({ pre, t, want, got });
          if (ref.detokenize(want) !== ours.detokenize(want)) bad.push({ pre, t, detok: true });
          distinct.add(`${t}\u0000${JSON.stringify(want)}`);
        }
        await ref.dispose();
      }
    } finally {
      rt.dispose();
    }
    assert.deepEqual(bad, []);
    // The pre-tokenizers really differ on these texts (the comparison is not of one splitter 16 times).
    assert.ok(distinct.size > texts.length * 1.5, `${distinct.size} distinct results`);
  });

  test('an unsupported tokenizer.ggml.pre fails to load, naming it', () => {
    const path = join(tmp, 'bad.gguf');
    withPre(vocabPath('llama-bpe'), path, 'no-such-pre');
    const r = spawnSync(NATIVE_CLI, ['tokenize', '--model', path, '--prompt', 'x'], { env: childEnv(), encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /tokenizer\.ggml\.pre 'no-such-pre' is not a supported pre-tokenizer/);
  });
});
