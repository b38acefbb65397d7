#!/usr/bin/env bash
# Runs on the GPU machine (see scripts/device-pack.sh): the core test suite under both limits
# profiles, the stories260K golden check, then a TinyLlama-1.1B-shaped synthetic model made by our
# own generator: fidelity against llama.cpp's Vulkan build and speed side by side with llama.cpp
# (../shared/device/bench_llamacpp.mjs) in the same run. Results go to $OUT.
set -uo pipefail
source .device/on-device.sh
X=$PWD/.devextra; export PI5_MODELS_DIR=$X/models PI5_LIB=$X/lib/libpi5_llm_rt.so PI5_CLI=$X/bin/pi5_llm_rt
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT" node_modules; cp -r $X/node_modules/koffi node_modules/
cli=$X/bin/pi5_llm_rt
$cli info > $OUT/report.json
for p in none v3dv; do
  PI5_LIMITS=$p PI5_REQUIRE_VULKAN=1 PI5_VALIDATE=1 PI5_LOG=${DEVICE_LOG:-warn} $X/bin/core-tests > $OUT/tests_$p.log 2>&1
  echo "core tests ($p): rc=$? $(grep -E 'passed|failed' $OUT/tests_$p.log | tail -1)"
  grep -B3 -A12 "FAIL" $OUT/tests_$p.log | head -40
done
golden=$(sed -n '1p' $PI5_MODELS_DIR/golden/stories260K-llama2c-expected.txt)
for p in none v3dv; do
  $cli --limits $p --temp 0 -n 200 2> $OUT/golden_$p.err > $OUT/golden_$p.txt
  echo "stories260K greedy ($p): $(tail -1 $OUT/golden_$p.err)"
done
models=${DEVICE_MODELS:-q4_0 q8_0 f16}
export LLAMACPP_BENCH=/tmp/ref/bench_llamacpp.mjs
for t in $models; do
  m=/tmp/tl-$t.gguf
  $cli synth --arch llama --preset tinyllama-1.1b --type $t --vocab $PI5_MODELS_DIR/vocab/ggml-vocab-llama-spm.gguf $m > /dev/null 2>&1 || echo "synth $t failed"
  echo "== TinyLlama-1.1B-shaped $t ($(du -h $m | cut -f1))"
  node bench/vs_llamacpp.mjs $m vulkan 512 128 3 | tee $OUT/bench_$t.json
  node bench/vs_llamacpp.mjs $m vulkan 512 128 3 -- --limits v3dv | tee $OUT/bench_v3dv_$t.json
done
echo "== fidelity against llama.cpp (Vulkan) on the GPU"
ms=""; for t in $models; do ms="$ms --model /tmp/tl-$t.gguf"; done
FIDELITY_NODE_MODULES=/tmp/ref/node_modules node tests/fidelity/compare.mjs --backend vulkan --ref vulkan $ms 2>&1 | tee $OUT/fidelity.txt | grep -v '^    at'
