// Loads a model, streams a generation, prints the stats.
//   node examples/ts/generate.mjs [model.gguf] [prompt] [n_tokens]     (after `npm run build`)
// Model: default stories260K.gguf from $PI5_MODELS_DIR or ../shared/models.
import { Runtime, defaultModelPath } from 'pi5-llm-rt';

const modelPath = process.argv[2] || defaultModelPath();
if (!modelPath) throw new Error('no model: pass a path or set PI5_MODELS_DIR');
const prompt = process.argv[3] ?? 'Once upon a time';
const maxTokens = Number(process.argv[4] ?? 64);

const rt = await Runtime.create({ backend: process.env.PI5_BACKEND ?? 'cpu' });
try {
  const model = await rt.loadModel(modelPath, { onProgress: (p) => process.stderr.write(`\rloading ${Math.round(p * 100)}%`) });
  process.stderr.write('\n');
  console.error(`${model.info.architecture}, ${model.nVocab} tokens, context ${model.contextSize}`);

  const stream = model.generate(prompt, { maxTokens, temperature: 0.8, seed: 42 });
  process.stdout.write(prompt);
  for await (const piece of stream) process.stdout.write(piece);
  process.stdout.write('\n');
  const r = await stream.result;
  console.error(`${r.generatedTokens} tokens, ${r.tokensPerSecond.toFixed(1)} tok/s, stop: ${r.stopReason}`);
} finally {
  rt.dispose();
}
