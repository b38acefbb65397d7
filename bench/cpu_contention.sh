#!/bin/bash
# Our CPU generation speed with the default thread count, idle and then with one busy-loop
# process holding a core, in one run: prints both tg figures and their ratio (issue 12 asks
# for >= 0.8). usage: bash bench/cpu_contention.sh MODEL.gguf [N=64] [R=3]
set -euo pipefail
model=${1:?usage: bash bench/cpu_contention.sh MODEL.gguf [N] [R]}
n=${2:-64}; r=${3:-3}
cli=${PI5_CLI:-$(dirname "$0")/../zig-out/bin/pi5_llm_rt}
tg() { "$cli" bench --model "$model" --backend cpu -p 16 -n "$n" -r "$r" | grep '^{' | tail -1 | sed 's/.*"tg_med":\([0-9.]*\).*/\1/'; }
idle=$(tg)
( while :; do :; done ) &
busy_pid=$!
trap 'kill $busy_pid 2>/dev/null || true' EXIT
sleep 0.2
busy=$(tg)
kill $busy_pid; wait $busy_pid 2>/dev/null || true; trap - EXIT
echo "{\"model\":\"$(basename "$model")\",\"tg_idle\":$idle,\"tg_busy_core\":$busy,\"ratio\":$(awk "BEGIN{printf \"%.3f\", $busy/$idle}")}"
