#!/usr/bin/env bash
# The accelerator benchmarks (batched transport, plating, transport, memory) in one go, each part
# under its own time limit so that one slow part does not take the others with it, and all of them
# within BENCH_GPU_BUDGET_S (default 470 s: the whole script in 8 minutes; a part gets at most what
# is left, and is skipped under 10 s). Writes each part's JSON into OUT_DIR (default results/gpu),
# prints the tables, and ends with OUT_DIR/summary.json and its table (scripts/gpu_summary.py;
# parts that failed or did not run this time read null). Run from the repository root on a GPU
# machine:
#
#     scripts/bench_gpu.sh [OUT_DIR]
#
# BENCH_GPU_SMALL=1 runs every part small (16³ batch of 8, 32³ plating skeleton, a sweep of 2,
# 16³/32³ and 64³ transport, small capacities; limits x4, budget 1800 s): a check of the script
# on a CPU in minutes, not a measurement:
#
#     BENCH_GPU_SMALL=1 scripts/bench_gpu.sh /tmp/gpu_small
#
# TauFactor (torch) joins the 128³/256³ transport part on the same GPU when it imports.
set -u
out=${1:-results/gpu}
mkdir -p "$out"
py=${PYTHON:-python3}
small=${BENCH_GPU_SMALL:-0}
[ "$small" = 1 ] && budget=${BENCH_GPU_BUDGET_S:-1800} || budget=${BENCH_GPU_BUDGET_S:-470}
start=$(date +%s.%N)  # the summary ignores part JSONs older than this (an earlier run's)
# JAX must not take 75 % of the GPU up front: TauFactor's torch shares the card, and the peak
# memory read from JAX's allocator should be what the solve used.
export XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1

part() {  # part NAME LIMIT_S COMMAND...: at most LIMIT_S (x4 small), never past the budget
  local name=$1 limit=$2 t0=$SECONDS left
  shift 2
  [ "$small" = 1 ] && limit=$((limit * 4))
  left=$((budget - SECONDS - 10))  # 10 s: a killed part's grace (5 s) and the summary
  [ "$limit" -gt "$left" ] && limit=$left
  if [ "$limit" -lt 10 ]; then
    echo "== $name: skipped, $left s of the ${budget} s budget left"
    return 0
  fi
  echo "== $name (limit ${limit} s)"
  timeout -k 5 "$limit" "$@"
  echo "== $name: exit $?, $((SECONDS - t0)) s"
  [ -n "${AFTER_PART:-}" ] && eval "$AFTER_PART"
  return 0
}

if [ "$small" = 1 ]; then
  batch=(--size 16 --count 8) default=(--default-capacity 0.05)
  big=(--big 32 --big-capacity 0.05 --warm-capacity 0.02)
  sweep=(--members 2 --sweep-capacity 0.05 --warm-capacity 0.02)
  transport=(--sizes 16 32 --taufactor-device cpu --repeats 2) transport512=(--sizes 64 --repeats 1)
  memory=(--size 32) batch64=(--size 16 --count 4) platform=cpu
else
  batch=(--size 64 --count 256) default=()
  big=(--big 128 --big-capacity 0.5)
  sweep=(--members 16 --sweep-capacity 0.2)
  transport=(--sizes 128 256 --taufactor-device cuda --repeats 3) transport512=(--sizes 512 --repeats 2)
  memory=(--size 256) batch64=(--size 64 --count 64) platform=cuda
fi

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null
$py -c "import jax; print('jax', jax.__version__, jax.devices())"
# The parts the summary reads first (their limits add up to 460 s), then the others while time is left.
part batch256 60 $py scripts/bench_batch.py "${batch[@]}" --output "$out/bench_batch_256.json"
part default 90 $py scripts/bench_plating_device.py --parts default "${default[@]}" \
  --output "$out/bench_plating_default.json"
part big 80 $py scripts/bench_plating_device.py --parts big "${big[@]}" --output "$out/bench_plating_big.json"
part sweep 100 $py scripts/bench_plating_device.py --parts sweep "${sweep[@]}" --output "$out/bench_plating_sweep.json"
part transport 70 $py scripts/bench_transport.py "${transport[@]}" --output "$out/bench_transport.json"
part transport512 60 $py scripts/bench_transport.py "${transport512[@]}" --skip-taufactor --no-float64-reference \
  --output "$out/bench_transport_512.json"
part memory 30 env JAX_PLATFORMS=$platform $py scripts/bench_memory.py "${memory[@]}" --devices 1 \
  --output "$out/bench_memory.json"
part batch64 40 $py scripts/bench_batch.py "${batch64[@]}" --output "$out/bench_batch_64.json"
$py scripts/gpu_summary.py "$out" --since "$start"
