#!/usr/bin/env bash
# Benchmarks on a remote machine (a Raspberry Pi 5) over ssh: builds the runner for the target,
# copies it and its models over scp, runs it over ssh, brings the JSON lines and the Markdown
# summary back, files them under results/ (bench/results.mjs record: log entry, charts,
# comparison with the previous runs of that machine) and prints the summary.
#
# usage: scripts/run_benchmarks_pi.sh HOST USER [--target aarch64|x86_64] [--suites kernels,models,health]
#            [--port N] [--model M.gguf]... [--bin PREFIX] [--remote-dir DIR] [--results DIR]
#            [--llama-bench REMOTE_PATH] [--dry-run] [-- more pi5-bench flags]
#
#   --target     aarch64 (default; the Pi 5, built with -Dcpu=cortex_a76) or x86_64. When the remote's
#                `uname -m` is not the target's, the binary runs under qemu-aarch64(-static) -L
#                /usr/aarch64-linux-gnu there: correctness only, its timings mean nothing.
#   --bin PREFIX an existing install prefix (PREFIX/bin/pi5-bench) instead of building.
#   --model      models to copy and benchmark (default with the models suite: stories260K.gguf from
#                PI5_MODELS_DIR or ../shared/models).
#   --dry-run    print the commands, run nothing.
#   SSH_OPTS     extra ssh/scp options (an identity file, a known-hosts file), e.g. "-i key -o UserKnownHostsFile=f".
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "run_benchmarks_pi: $*" >&2; exit 2; }
[ $# -ge 2 ] || die "usage: $0 HOST USER [--target aarch64|x86_64] [--suites LIST] [--port N] [--model M]... [--bin PREFIX] [--dry-run] [-- runner flags]"
host=$1 user=$2; shift 2
case "$host" in -*|"") die "HOST must come first (got '$host')";; esac
case "$user" in -*|"") die "USER must come second (got '$user')";; esac
target=aarch64 suites=kernels,models,health port=22 bin="" remote_dir="" results=results dry=0 llama=""
models=() extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --target) target=${2:?--target needs aarch64 or x86_64}; shift 2;;
    --suites) suites=${2:?--suites needs a list}; shift 2;;
    --port) port=${2:?--port needs a number}; shift 2;;
    --model) models+=("${2:?--model needs a file}"); shift 2;;
    --bin) bin=${2:?--bin needs an install prefix}; shift 2;;
    --remote-dir) remote_dir=${2:?--remote-dir needs a path}; shift 2;;
    --results) results=${2:?--results needs a directory}; shift 2;;
    --llama-bench) llama=${2:?--llama-bench needs a remote path}; shift 2;;
    --dry-run) dry=1; shift;;
    --) shift; extra=("$@"); break;;
    *) die "unknown argument '$1'";;
  esac
done
case "$target" in
  aarch64) triple=aarch64-linux-gnu; cpu_flag=(-Dcpu=cortex_a76);;
  x86_64) triple=x86_64-linux-gnu; cpu_flag=();;
  *) die "--target must be aarch64 or x86_64 (got '$target')";;
esac
[[ "$port" =~ ^[0-9]+$ ]] || die "--port must be a number (got '$port')"
if [[ ",$suites," == *,models,* ]] && [ ${#models[@]} -eq 0 ]; then
  models=("${PI5_MODELS_DIR:-$(cd .. && pwd)/shared/models}/stories260K.gguf")
fi
for m in "${models[@]}"; do [ $dry = 1 ] || [ -f "$m" ] || die "model not found: $m"; done

commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD 2>/dev/null || commit="$commit+dirty"
remote_dir=${remote_dir:-/tmp/pi5-bench-$commit-$target}
# shellcheck disable=SC2206
ssh_opts=(-p "$port" -o BatchMode=yes -o ConnectTimeout=15 -o ServerAliveInterval=15 ${SSH_OPTS:-})
# shellcheck disable=SC2206
scp_opts=(-q -P "$port" -o BatchMode=yes -o ConnectTimeout=15 ${SSH_OPTS:-})
dest="$user@$host"

# Shell-quotes one word, readably: bare when safe, else in single quotes.
sq() { if [[ $1 =~ ^[A-Za-z0-9_./:@%+=,-]+$ ]]; then printf %s "$1"; else printf "'%s'" "${1//\'/\'\\\'\'}"; fi; }
run() {
  printf '+'; for a in "$@"; do printf ' %s' "$(sq "$a")"; done; printf '\n'
  [ $dry = 1 ] || "$@"
}

# 1. build for the target (or take a prefix already built)
if [ -z "$bin" ]; then
  bin=.bench-build/$target
  run scripts/zig.sh build bench-bin -Dtarget="$triple" "${cpu_flag[@]}" --prefix "$bin"
fi
exe=$bin/bin/pi5-bench
[ $dry = 1 ] || [ -x "$exe" ] || die "no runner at $exe (zig build puts it in PREFIX/bin/pi5-bench)"
if [ $dry = 0 ] && command -v file >/dev/null; then
  want=$([ "$target" = aarch64 ] && echo "ARM aarch64" || echo "x86-64")
  file -L "$exe" | grep -q "$want" || die "$exe is not a $target binary: $(file -L "$exe")"
fi

# 2. copy the runner and its models
run ssh "${ssh_opts[@]}" "$dest" "mkdir -p $(sq "$remote_dir")/models"
run scp "${scp_opts[@]}" "$exe" "$dest:$remote_dir/pi5-bench"
margs=()
for m in "${models[@]}"; do
  run scp "${scp_opts[@]}" "$m" "$dest:$remote_dir/models/"
  margs+=(--model "models/$(basename "$m")")
done
[ -n "$llama" ] && margs+=(--llama-bench "$llama") || margs+=(--llama-bench none)

# 3. run it there (under qemu when the remote is another architecture)
rargs=(--suites "$suites" --out run.jsonl --md summary.md --commit "$commit" "${margs[@]}" "${extra[@]}")
q=$(for a in "${rargs[@]}"; do printf ' %s' "$(sq "$a")"; done)
remote="cd $(sq "$remote_dir") && if [ \"\$(uname -m)\" = $target ]; then ./pi5-bench$q; \
else qemu=\$(command -v qemu-$target-static || command -v qemu-$target) || { echo 'remote is '\$(uname -m)' and has no qemu-$target' >&2; exit 3; }; \
echo \"running under \$qemu (correctness only)\" >&2; \$qemu -L /usr/$triple ./pi5-bench$q --machine \"\$(hostname)-under-qemu\"; fi"
run ssh "${ssh_opts[@]}" "$dest" "$remote"

# 4. collect and file under results/
got=$(mktemp -d); trap 'rm -rf "$got"' EXIT
run scp "${scp_opts[@]}" "$dest:$remote_dir/run.jsonl" "$dest:$remote_dir/summary.md" "$got/"
run node bench/results.mjs record "$got/run.jsonl" --summary "$got/summary.md" --results "$results"
if [ $dry = 0 ]; then
  echo
  cat "$got/summary.md"
fi
