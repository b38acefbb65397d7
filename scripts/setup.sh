#!/usr/bin/env bash
# Installs what pi5-llm-rt needs on a fresh Debian machine: the system packages (as root, via
# apt-get) and the npm packages (koffi, tsup, typescript, the pinned Zig compiler, and
# node-llama-cpp as the test-only reference). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
# openssh-server, qemu-user-static, libc6-arm64-cross: the benchmark runner's ssh test (a loopback
# sshd; the aarch64 runner under qemu-aarch64 there).
pkgs="glslc libvulkan-dev libvulkan1 mesa-vulkan-drivers vulkan-validationlayers valgrind file openssh-server qemu-user-static libc6-arm64-cross"
missing=""
for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: apt-get install$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
  else
    echo "setup: missing system packages:$missing (run as root, or: sudo apt-get install$missing)" >&2
    exit 1
  fi
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # `npm install` with the committed lock (npm 11's `npm ci` rejects this lock over other
  # platforms' optional packages of node-llama-cpp and rollup).
  echo "setup: npm install"
  npm install --no-audit --no-fund --loglevel=error
fi
