// llama.cpp's tokenizer test vectors (ggml-vocab-*.gguf with .inp/.out, no weights) through the
// native CLI's `tokenize` (vocabulary-only, as llama-tokenize) and through the TS API's vocabOnly.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
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
