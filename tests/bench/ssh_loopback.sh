#!/usr/bin/env bash
# scripts/run_benchmarks_pi.sh against an sshd this test starts: 127.0.0.1 only, a free port, a
# throw-away host key and client key in a temp dir, run as the current user, stopped on exit and
# by a time limit. Checks that the run comes back and is filed (JSON lines with the header and
# records, the summary, a log entry, charts).
#
# usage: tests/bench/ssh_loopback.sh x86_64|aarch64 PREFIX [RESULTS_DIR]
#   PREFIX: an install prefix of that target with bin/pi5-bench (CI passes its builds).
#   aarch64 runs the binary under qemu-aarch64 on the "remote" (this machine): correctness only.
set -euo pipefail
cd "$(dirname "$0")/../.."
target=${1:?usage: $0 x86_64|aarch64 PREFIX [RESULTS_DIR]}
prefix=${2:?usage: $0 x86_64|aarch64 PREFIX [RESULTS_DIR]}
sshd=$(command -v sshd || echo /usr/sbin/sshd)
[ -x "$sshd" ] || { echo "ssh_loopback: no sshd (Debian: apt-get install openssh-server)"; exit 1; }
tmp=$(mktemp -d)
results=${3:-$tmp/results}
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

ssh-keygen -q -t ed25519 -N '' -f "$tmp/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$tmp/id"
cp "$tmp/id.pub" "$tmp/authorized_keys"
chmod 600 "$tmp/authorized_keys"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sftp=$(for f in /usr/lib/openssh/sftp-server /usr/libexec/sftp-server /usr/lib/ssh/sftp-server; do [ -x "$f" ] && echo "$f" && break; done)
cat > "$tmp/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $port
HostKey $tmp/host_key
PidFile $tmp/sshd.pid
AuthorizedKeysFile $tmp/authorized_keys
AuthenticationMethods publickey
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers $(id -un)
StrictModes no
UsePAM no
MaxStartups 20
Subsystem sftp $sftp
EOF
mkdir -p /run/sshd 2>/dev/null || true   # privilege-separation directory sshd insists on
# At most 10 minutes whatever happens; -D keeps it in the foreground so that we own its pid.
timeout 600 "$sshd" -D -e -f "$tmp/sshd_config" 2>"$tmp/sshd.log" &
pid=$!
for _ in $(seq 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || { cat "$tmp/sshd.log"; echo "ssh_loopback: sshd did not start"; exit 1; }
  sleep 0.1
done
export SSH_OPTS="-i $tmp/id -o IdentitiesOnly=yes -o UserKnownHostsFile=$tmp/known_hosts -o StrictHostKeyChecking=accept-new"

# Quick sweeps: the CPU only (the qemu "remote" has no Vulkan for aarch64), the models suite on
# stories260K, a 1 s sustained run; a few kernels under qemu, whose timings mean nothing.
if [ "$target" = aarch64 ]; then
  flags=(--quick --backends cpu --sustain-s 1 --reps 1 --filter mul_mat_vec/q4_0,softmax,attention -p 16 -n 4 -d 0)
else
  flags=(--quick --backends cpu --sustain-s 1 --filter mul_mat_vec/q4_0,mul_mat/q8_0,rms_norm,rope,attention -p 16 -n 4 -d 0,16)
fi
run_dir="/tmp/pi5-bench-loopback-$$-$target"
echo "=== dry run"
scripts/run_benchmarks_pi.sh 127.0.0.1 "$(id -un)" --target "$target" --port "$port" --bin "$prefix" --remote-dir "$run_dir" --results "$results" --suites kernels,models,health --dry-run -- "${flags[@]}" | tee "$tmp/dry.txt"
grep -q "^+ ssh .*127.0.0.1" "$tmp/dry.txt" && grep -q "^+ scp " "$tmp/dry.txt" && grep -q "results.mjs record" "$tmp/dry.txt" || { echo "ssh_loopback: dry run did not print the commands"; exit 1; }
if [ -e "$run_dir" ]; then echo "ssh_loopback: the dry run ran something ($run_dir exists)"; exit 1; fi
mkdir -p "$results"
n_before=$(find "$results" -maxdepth 1 -name '*.jsonl' 2>/dev/null | wc -l)
echo "=== over ssh to 127.0.0.1:$port ($target)"
timeout 900 scripts/run_benchmarks_pi.sh 127.0.0.1 "$(id -un)" --target "$target" --port "$port" --bin "$prefix" --remote-dir "$run_dir" --results "$results" --suites kernels,models,health -- "${flags[@]}" | tee "$tmp/out.txt"
rm -rf "$run_dir"
n_after=$(find "$results" -maxdepth 1 -name '*.jsonl' | wc -l)
[ "$n_after" -eq $((n_before + 1)) ] || { echo "ssh_loopback: expected one new run in $results"; exit 1; }
run=$(ls -t "$results"/*.jsonl | head -1)
node -e '
const fs = require("fs");
const lines = fs.readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
const h = lines[0], want = process.argv[2];
if (h.suite !== "run" || h.arch !== want) throw new Error("header: " + JSON.stringify(h));
const rec = lines.filter((l) => l.key);
for (const s of ["kernels", "models", "health"]) if (!rec.some((r) => r.suite === s && r.value > 0)) throw new Error("no " + s + " measurement");
const bad = rec.filter((r) => r.suite === "kernels" && r.finite === false);
if (bad.length) throw new Error("non-finite kernel output: " + bad.map((r) => r.key).join(", "));
console.log(`ssh_loopback: ${rec.length} records from a ${h.arch} run on ${h.machine}`);
' "$run" "$target"
stem=$(basename "$run" .jsonl)
[ -s "$results/$stem.md" ] && grep -q "## Kernels: cpu" "$results/$stem.md" || { echo "ssh_loopback: no summary $results/$stem.md"; exit 1; }
grep -q "$stem" "$results/benchmark_log.md" || { echo "ssh_loopback: no log entry"; exit 1; }
ls "$results/charts/$stem"-*.svg >/dev/null || { echo "ssh_loopback: no charts"; exit 1; }
grep -q "# Benchmark run" "$tmp/out.txt" || { echo "ssh_loopback: summary not printed"; exit 1; }
echo "ssh_loopback: ok ($target)"
