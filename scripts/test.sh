#!/usr/bin/env bash
# Set-up command 2: install everything, build, and run every test: the Zig core on lavapipe
# (default limits and the Pi 5 profile, validation layers on), the aarch64 cross-build, valgrind
# runs, the GGUF malformed-file corpus, and the TypeScript package with its examples and the
# fidelity checks against llama.cpp. Node's test runner prints the closing summary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PI5_REQUIRE_VULKAN=1           # a missing Vulkan driver is a failure here, not a skip
export PI5_REQUIRE_FIXTURES=1         # a missing model or corpus file fails the suite, not skips
export PI5_MODELS_DIR="${PI5_MODELS_DIR:-$(cd .. && pwd)/shared/models}"
step() { printf '\n=== %s\n' "$*"; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

step "house rules: zig fmt, tsc --noEmit, bindings generated from the header"
scripts/zig.sh build fmt-check
npm run --silent typecheck
npm run --silent check:bindings

step "native build"
scripts/zig.sh build
scripts/zig.sh build examples

step "GGUF malformed corpus (core tests read it through PI5_GGUF_CORPUS)"
python3 tests/gguf/make_corpus.py "$tmp/corpus" >/dev/null
export PI5_GGUF_CORPUS="$tmp/corpus"

step "core tests on $(./zig-out/bin/pi5_llm_rt info --backend vulkan | grep -m1 '"name"' | cut -d'"' -f4): default limits, then PI5_LIMITS=v3dv; validation on"
scripts/zig.sh build test --summary new

step "aarch64 cross-build for the Raspberry Pi 5"
scripts/zig.sh build -Dtarget=aarch64-linux-gnu -Dcpu=cortex_a76 --prefix "$tmp/aarch64"
for f in "$tmp/aarch64/lib/libpi5_llm_rt.so" "$tmp/aarch64/bin/pi5_llm_rt"; do
  file -L "$f" | tee /dev/stderr | grep -q "ARM aarch64" || { echo "not an aarch64 binary: $f"; exit 1; }
done

step "benchmark runner: unit tests, a quick sweep on $(./zig-out/bin/pi5_llm_rt info --backend vulkan | grep -m1 '"name"' | cut -d'"' -f4) and the CPU, results compare"
scripts/zig.sh build test-bench
./zig-out/bin/pi5-bench --suites kernels,health --quick --filter mul_mat_vec/q4_0,mul_mat/q8_0,softmax,attention --sustain-s 1 \
  --out "$tmp/bench.jsonl" --md "$tmp/bench.md"
grep -q "## Kernels: vulkan" "$tmp/bench.md" && grep -q "## Kernels: cpu" "$tmp/bench.md"
node --test tests/bench/

step "run_benchmarks_pi.sh over ssh: a loopback sshd, x86_64, then aarch64 under qemu-aarch64"
bash tests/bench/ssh_loopback.sh x86_64 zig-out
bash tests/bench/ssh_loopback.sh aarch64 "$tmp/aarch64"

step "valgrind (baseline x86-64-v3 build: memcheck cannot decode AVX-512)"
scripts/zig.sh build install examples -Dcpu=x86_64_v3 --prefix "$tmp/vg"
vg="valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=9 --suppressions=tests/valgrind.supp"
PI5_BACKEND=cpu $vg "$tmp/vg/bin/create_destroy" "$tmp/vg/lib/libpi5_llm_rt.so" 1000 | tail -1
$vg "$tmp/vg/bin/create_destroy" "$tmp/vg/lib/libpi5_llm_rt.so" 3 | tail -1
"$tmp/vg/bin/create_destroy" "$tmp/vg/lib/libpi5_llm_rt.so" 1000 | tail -1
$vg "$tmp/vg/bin/gguf_reader_driver" corpus "$tmp/corpus" | tail -1

step "load/unload and concurrency stress (issue 14): 1000 cycles + 100 threads, then a smaller run under valgrind"
"$tmp/vg/bin/stress" "$tmp/vg/lib/libpi5_llm_rt.so" "$PI5_MODELS_DIR/stories260K.gguf" 1000 100
$vg "$tmp/vg/bin/stress" "$tmp/vg/lib/libpi5_llm_rt.so" "$PI5_MODELS_DIR/stories260K.gguf" 20 4

step "fidelity against llama.cpp (node-llama-cpp 3.22.1, CPU reference)"
node tests/fidelity/compare.mjs --backend cpu
node tests/fidelity/compare.mjs --backend vulkan --all   # the same models through the graph on lavapipe

step "TypeScript package and examples (node:test)"
npm test
