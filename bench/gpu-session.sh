#!/usr/bin/env bash
# The GPU machine's one prepared call: checks the adapter, runs the WebGPU tests on the real
# GPU, then every GPU benchmark, each step under its own time limit (a failing or slow step
# does not stop the next), writing logs and JSON into $OUT (default ./gpu-out).
#
# Prepare on the development machine (the GPU machine has no network):
#   ../shared/tools/device-prep.sh                      # .device/: deno binary, Vulkan loader
#   DENO_DIR=.device/cache deno cache tests/gpu/*.ts bench/*.ts   # npm packages for the tests
# Then, on the GPU machine, carrying .device:
#   bash bench/gpu-session.sh [quick|full]   # quick: about 5 minutes, full: about 10 on an H200
#
# What to do with the output: fill BENCHMARKS.md's GPU-machine table (figure, value, baseline,
# ratio, date, command; PyTorch's 51 TFLOP/s at 4096³ and 42.1 ms per M step) and add a dated
# History entry.
set -uo pipefail
cd "$(dirname "$0")/.."
plan=${1:-quick}
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
export DENO_NO_UPDATE_CHECK=1 NO_COLOR=1
if [ -f .device/deno.xz ] && [ ! -x .device/deno ]; then
  for f in .device/debs/*.deb; do dpkg -x "$f" /; done
  ldconfig
  xz -dc .device/deno.xz > .device/deno && chmod +x .device/deno
fi
DENO=${DENO:-deno}
[ -x .device/deno ] && DENO=.device/deno
[ -d .device/cache ] && export DENO_DIR=.device/cache
if [ -z "${XDG_RUNTIME_DIR:-}" ]; then
  XDG_RUNTIME_DIR=$(mktemp -d) && chmod 700 "$XDG_RUNTIME_DIR" && export XDG_RUNTIME_DIR
fi
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -z "${VK_DRIVER_FILES:-}" ] && [ -f "$icd" ] && export VK_DRIVER_FILES=$icd

# step NAME SECONDS COMMAND...: runs it with a limit, keeps its log, prints the tail.
step() {
  local name=$1 limit=$2
  shift 2
  local start=$SECONDS
  timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
  local rc=$?
  echo "== $name: rc $rc in $((SECONDS - start)) s (log $OUT/$name.log)"
  tail -n 30 "$OUT/$name.log"
}

step adapter 60 "$DENO" eval 'const a = await navigator.gpu?.requestAdapter();
  const i = a?.info; console.log(i ? [i.vendor, i.architecture, i.device, i.description,
  i.isFallbackAdapter ? "fallback" : "hardware"].join(" | ") : "no adapter")'
step tests-gpu 240 "$DENO" test -A tests/gpu/
if [ "$plan" = quick ]; then
  step gpu-bench 180 "$DENO" run -A bench/gpu.ts --quick --json "$OUT/gpu.json"
  step train 150 "$DENO" run -A bench/train.ts --config S,M --steps 5 --json "$OUT/train.json"
else
  step gpu-bench 300 "$DENO" run -A bench/gpu.ts --json "$OUT/gpu.json"
  step train 200 "$DENO" run -A bench/train.ts --config flagship,S,M --json "$OUT/train.json"
  step train-composed-attention 120 "$DENO" run -A bench/train.ts --config M --no-check \
    --attention composed --json "$OUT/train-composed.json"
  step attention 120 "$DENO" run -A bench/attention.ts --shapes S,M,long
  step losses 180 "$DENO" run -A bench/losses.ts
fi
echo "== done: $OUT"
