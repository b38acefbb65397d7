#!/usr/bin/env bash
# Set-up command 1: install everything, build, and generate text with the default model
# (stories260K from ../shared/models or $PI5_MODELS_DIR). Extra arguments go to the CLI.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
scripts/zig.sh build
exec ./zig-out/bin/pi5_llm_rt "$@"
