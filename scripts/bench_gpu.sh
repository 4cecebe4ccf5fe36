#!/usr/bin/env bash
# The accelerator benchmarks (batched transport, plating, transport, memory) in one go, each part
# under its own time limit so that one slow part does not take the others with it. Writes each part's JSON into OUT_DIR
# (default results/gpu) and prints the tables. Run from the repository root on a GPU machine:
#
#     scripts/bench_gpu.sh [OUT_DIR]
#
# TauFactor (torch) joins the 128³/256³ transport part on the same GPU when it imports.
set -u
out=${1:-results/gpu}
mkdir -p "$out"
py=${PYTHON:-python3}
# JAX must not take 75 % of the GPU up front: TauFactor's torch shares the card, and the peak
# memory read from JAX's allocator should be what the solve used.
export XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1

part() {  # part NAME LIMIT_S COMMAND...
  local name=$1 limit=$2 t0=$SECONDS
  shift 2
  echo "== $name (limit ${limit} s)"
  timeout "$limit" "$@"
  echo "== $name: exit $?, $((SECONDS - t0)) s"
  [ -n "${AFTER_PART:-}" ] && eval "$AFTER_PART"
  return 0
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null
$py -c "import jax; print('jax', jax.__version__, jax.devices())"
part batch64 40 $py scripts/bench_batch.py --size 64 --count 64 --output "$out/bench_batch_64.json"
part batch256 70 $py scripts/bench_batch.py --size 64 --count 256 --output "$out/bench_batch_256.json"
part default 100 $py scripts/bench_plating_device.py --parts default --output "$out/bench_plating_default.json"
part big 90 $py scripts/bench_plating_device.py --parts big --output "$out/bench_plating_big.json"
part sweep 90 $py scripts/bench_plating_device.py --parts sweep --members 16 --sweep-capacity 0.5 \
  --output "$out/bench_plating_sweep.json"
part transport 80 $py scripts/bench_transport.py --sizes 128 256 --taufactor-device cuda --repeats 3 \
  --output "$out/bench_transport.json"
part transport512 60 $py scripts/bench_transport.py --sizes 512 --skip-taufactor --no-float64-reference \
  --repeats 2 --output "$out/bench_transport_512.json"
part memory 30 env JAX_PLATFORMS=cuda $py scripts/bench_memory.py --size 256 --devices 1 \
  --output "$out/bench_memory.json"
