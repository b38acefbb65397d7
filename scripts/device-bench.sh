#!/usr/bin/env bash
# The benchmark runner on the GPU machine, both limits profiles, with charts, in one command.
#
# Here (once per commit):   bash scripts/device-bench.sh pack
#   builds and packs into .devbench/ (git-ignored, ~10 MB): the stripped runner and CLI, the Llama 2
#   vocabulary for the synthetic model, and bench/results.mjs bundled with vega/vega-lite (esbuild)
#   so that the charts render there without node_modules. Needs .device (../shared/device/prepare.sh).
# There (device tool, carry [".device", ".devbench"]):   bash scripts/device-bench.sh
#   kernels + health suites on the Vulkan device and the CPU under PI5_LIMITS none and v3dv, then the
#   models suite on a TinyLlama-1.1B-shaped Q4_0 model from our generator with llama-bench ($LLAMA_BENCH,
#   from .device) in the same run. Writes to $OUT/results/: <stem>.jsonl, <stem>.md (summary, chart
#   links, comparison), charts/<stem>-*.svg, benchmark_log.md; copy them into results/ here.
#   env: SUSTAIN_S (default 20), MODELS=0 to skip the model runs, BACKENDS (default vulkan,cpu; the
#   CPU only beside limits none). About 8 minutes on the H200 with the models, 4 without;
#   BACKENDS=vulkan SUSTAIN_S=30: 2.7 minutes. Everything comes back as $OUT/devbench.tgz.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = pack ]; then
  set -e
  grep -qx '/.devbench/' .git/info/exclude 2>/dev/null || echo '/.devbench/' >> "$(git rev-parse --git-path info/exclude)"
  scripts/zig.sh build
  rm -rf .devbench && mkdir -p .devbench
  cp zig-out/bin/pi5-bench zig-out/bin/pi5_llm_rt .devbench/ && strip .devbench/pi5-bench .devbench/pi5_llm_rt
  cp "${PI5_MODELS_DIR:-../shared/models}/vocab/ggml-vocab-llama-spm.gguf" .devbench/
  node_modules/.bin/esbuild bench/results.mjs --bundle --platform=node --format=esm --log-level=warning --outfile=.devbench/results.mjs
  c=$(git rev-parse --short=12 HEAD); git diff --quiet HEAD || c="$c+dirty"; echo "$c" > .devbench/commit
  du -sh .devbench
  exit 0
fi
[ -f .device/on-device.sh ] || { echo "device-bench: no .device (carry it; ../shared/device/prepare.sh makes it)"; exit 1; }
[ -x .devbench/pi5-bench ] || { echo "device-bench: no .devbench (run 'bash scripts/device-bench.sh pack' here and carry it)"; exit 1; }
source .device/on-device.sh
D=$PWD/.devbench
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT/results"
commit=$(cat "$D/commit")
machine=${MACHINE:-gpu-$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 | tr ' ' '-' || hostname)}
for p in none v3dv; do
  echo "== kernels + health, limits $p"
  # The CPU does not depend on the limits profile: it runs once, beside the default profile.
  b=vulkan; [ $p = none ] && b=${BACKENDS:-vulkan,cpu}
  "$D/pi5-bench" --suites kernels,health --backends "$b" --limits "$p" --sustain-s "${SUSTAIN_S:-20}" \
    --commit "$commit" --machine "$machine" --out "$OUT/run_$p.jsonl" --md "$OUT/summary_$p.md" 2> "$OUT/run_$p.err"
  echo "rc=$? $(grep -c '"key"' "$OUT/run_$p.jsonl") records"; tail -3 "$OUT/run_$p.err"
  node "$D/results.mjs" record "$OUT/run_$p.jsonl" --summary "$OUT/summary_$p.md" --results "$OUT/results" | head -5
done
if [ "${MODELS:-1}" != 0 ]; then
  m=/tmp/tl-q4_0.gguf
  "$D/pi5_llm_rt" synth --arch llama --preset tinyllama-1.1b --type q4_0 --vocab "$D/ggml-vocab-llama-spm.gguf" $m > /dev/null 2>&1 || echo "synth failed"
  for p in none v3dv; do
    echo "== models (TinyLlama-1.1B-shaped Q4_0, llama-bench in the same run), limits $p"
    "$D/pi5-bench" --suites models --backends vulkan --limits "$p" --model $m --llama-bench "$LLAMA_BENCH" -p 64,512 -n 128 -d 0,2048 --reps 3 \
      --commit "$commit" --machine "$machine" --out "$OUT/models_$p.jsonl" --md "$OUT/models_$p.md" 2> "$OUT/models_$p.err"
    echo "rc=$?"; tail -3 "$OUT/models_$p.err"
    node "$D/results.mjs" record "$OUT/models_$p.jsonl" --summary "$OUT/models_$p.md" --results "$OUT/results" | head -5
  done
fi
ls -la "$OUT/results" "$OUT/results/charts"
# The device tool brings back only a few files per command: one tarball carries everything.
tar -C "$OUT" -czf "$OUT/devbench.tgz" results run_*.err models_*.err 2>/dev/null && rm -rf "$OUT/results" "$OUT"/run_* "$OUT"/models_* "$OUT"/summary_*
echo "device-bench: results in \$OUT/devbench.tgz (tar -xzf it here, then node bench/results.mjs record ... or copy results/)"
