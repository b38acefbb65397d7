#!/usr/bin/env bash
# Packs what a run on the GPU machine needs into .devextra/ (git-ignored, < 20 MB): stripped
# binaries and library, the small fixtures, and koffi for the fidelity script. Send it with
# .device (../shared/device/prepare.sh) in the device tool's carry list; then run
# `bash scripts/device-run.sh` there.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.devextra/' .git/info/exclude 2>/dev/null || echo '/.devextra/' >> .git/info/exclude
scripts/zig.sh build
scripts/zig.sh build test-bin
rm -rf .devextra && mkdir -p .devextra/bin .devextra/lib .devextra/models .devextra/node_modules
cp zig-out/bin/pi5_llm_rt zig-out/bin/core-tests .devextra/bin/
cp zig-out/lib/libpi5_llm_rt.so.0.1.0 .devextra/lib/libpi5_llm_rt.so
strip .devextra/bin/* .devextra/lib/*
models="${PI5_MODELS_DIR:-../shared/models}"
cp -r "$models"/stories260K.gguf "$models"/stories260K-q8_0.gguf "$models"/golden "$models"/vocab "$models"/legacy .devextra/models/
cp -r node_modules/koffi .devextra/node_modules/
(cd .devextra/node_modules/koffi/build/koffi && ls | grep -v '^linux_x64$' | xargs rm -rf)
du -sh .devextra
