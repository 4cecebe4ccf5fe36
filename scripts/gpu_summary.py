"""One summary of scripts/bench_gpu.sh's parts: reads the part JSONs in a folder, writes
``summary.json`` there and prints it as a Markdown table. Every value is read from a part's JSON
(null where that part is missing, failed, older than ``--since`` or did not measure it; nothing is
estimated). The sizes in the key names are bench_gpu.sh's GPU sizes; the table names the sizes the
parts actually ran (``BENCH_GPU_SMALL=1`` runs them small).

    python scripts/gpu_summary.py results/gpu [--since EPOCH_S]
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
from pathlib import Path

PARTS = {"batch": "bench_batch_256.json", "default": "bench_plating_default.json", "big": "bench_plating_big.json",
         "sweep": "bench_plating_sweep.json", "transport": "bench_transport.json",
         "transport512": "bench_transport_512.json"}
"""The parts the summary reads, by the file names bench_gpu.sh gives them."""
KEYS = ("device", "date_utc", "commit", "d_eff_256_s", "d_eff_512_s", "iterations_512", "taufactor_256_s",
        "batch_256x64_s", "batch_slowest_single_s", "default_case_warm_s", "plating_step_128_ms",
        "sweep16_members_per_hour_ratio")
ROOT = Path(__file__).resolve().parents[1]


def load(folder: Path, since: float | None = None) -> dict:
    """Each part's JSON by part name; None where the file is missing, unreadable or (with
    ``since``, seconds since the epoch) written before that time: a stale file of an earlier run."""
    parts = {}
    for name, file in PARTS.items():
        path = folder / file
        try:
            stale = since is not None and path.stat().st_mtime < since
            parts[name] = None if stale else json.loads(path.read_text())
        except (OSError, ValueError):
            parts[name] = None
    return parts


def get(d, *path):
    """``d[path[0]][path[1]]...``, or None where any step is missing."""
    for p in path:
        if not isinstance(d, (dict, list)):
            return None
        try:
            d = d[p]
        except (KeyError, IndexError, TypeError):
            return None
    return d


def n(value) -> str:
    """A size for a label ('?' where the part is missing)."""
    return "?" if value is None else str(value)


def largest_case(transport: dict | None) -> dict | None:
    """The first seed of the largest volume of a bench_transport.py JSON."""
    cases = get(transport, "cases") or []
    return max(cases, key=lambda c: c["size"]) if cases else None  # max keeps the first of equals


def d_eff_256_s(p):
    """transport (bench_transport.py --sizes 128 256): hostsim's warm D_eff solve of the largest
    volume (256³), float32, best of the repeats [s]: ``cases[256].hostsim.warm_best_s``."""
    c = largest_case(p["transport"])
    return get(c, "hostsim", "warm_best_s"), f"D_eff solve {n(get(c, 'size'))}³, warm (best)"


def d_eff_512_s(p):
    """transport512 (bench_transport.py --sizes 512): the same at 512³ [s]."""
    c = largest_case(p["transport512"])
    return get(c, "hostsim", "warm_best_s"), f"D_eff solve {n(get(c, 'size'))}³, warm (best)"


def iterations_512(p):
    """transport512: PCG iterations of the 512³ solve: ``cases[512].hostsim.iterations``."""
    c = largest_case(p["transport512"])
    return get(c, "hostsim", "iterations"), f"PCG iterations, {n(get(c, 'size'))}³"


def taufactor_256_s(p):
    """transport: TauFactor (torch, on the same GPU) on the same 256³ voxels, set-up + solve, best
    of the repeats [s]: ``cases[256].taufactor.total_best_s`` (null where TauFactor did not run)."""
    c = largest_case(p["transport"])
    return get(c, "taufactor", "total_best_s"), f"TauFactor {n(get(c, 'size'))}³, set-up + solve (best)"


def batch_256x64_s(p):
    """batch (bench_batch.py --size 64 --count 256): 256 volumes of 64³ solved batched, warm
    (best of the repeats) [s]: ``rows.batch.warm_s``."""
    b = p["batch"]
    return get(b, "rows", "batch", "warm_s"), f"{n(get(b, 'count'))} volumes of {n(get(b, 'size'))}³ batched, warm"


def batch_slowest_single_s(p):
    """batch: the slowest single solve of the same volumes one by one (the batch's floor) [s]:
    ``slowest_single_s``."""
    b = p["batch"]
    return get(b, "slowest_single_s"), f"slowest single {n(get(b, 'size'))}³ solve of the {n(get(b, 'count'))}"


def default_case_warm_s(p):
    """default (bench_plating_device.py --parts default): the built-in default case (foil +
    skeleton, 1 mAh/cm²) run a second time in the process [s]: ``default.second_call_s``."""
    return get(p["default"], "default", "second_call_s"), "default case, second call"


def plating_step_128_ms(p):
    """big (bench_plating_device.py --parts big --big 128): wall time of the 128³ skeleton's run
    per accepted step [ms]: ``big.step_ms`` (simulate's own wall time / steps); in JSONs written
    before step_ms existed, 1000 / ``big.steps_per_s`` (the timed call, host generation included)."""
    big = get(p["big"], "big")
    ms = get(big, "step_ms")
    if ms is None and get(big, "steps_per_s"):
        ms = 1e3 / big["steps_per_s"]
    shape = "×".join(map(str, get(big, "grids", "cu_skeleton") or ["?"]))
    return ms, f"plating step, {shape} skeleton"


def sweep16_members_per_hour_ratio(p):
    """sweep (bench_plating_device.py --parts sweep --members 16): members per hour of the members
    run together (one vmapped program) over the same members run one by one on the same card:
    ``sweep.ratio`` (serial_s / together_s)."""
    s = get(p["sweep"], "sweep")
    return get(s, "ratio"), f"sweep of {n(get(s, 'members'))} members, together / one by one"


MEASURES = {"d_eff_256_s": (d_eff_256_s, " s"), "d_eff_512_s": (d_eff_512_s, " s"),
            "iterations_512": (iterations_512, ""), "taufactor_256_s": (taufactor_256_s, " s"),
            "batch_256x64_s": (batch_256x64_s, " s"), "batch_slowest_single_s": (batch_slowest_single_s, " s"),
            "default_case_warm_s": (default_case_warm_s, " s"), "plating_step_128_ms": (plating_step_128_ms, " ms"),
            "sweep16_members_per_hour_ratio": (sweep16_members_per_hour_ratio, "×")}


def device(parts) -> str | None:
    """The accelerator: the device kinds the parts recorded (plating: ``devices``; transport:
    ``environment.jax_device_kinds``), else ``nvidia-smi``, else JAX's first device."""
    for name in ("default", "big", "sweep", "transport", "transport512"):
        kinds = get(parts[name], "devices") or get(parts[name], "environment", "jax_device_kinds")
        if kinds:
            return ", ".join(sorted(set(kinds)))
    name = _run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"])
    if name:
        return ", ".join(sorted(set(name.splitlines())))
    try:
        import jax

        return jax.devices()[0].device_kind
    except Exception:  # noqa: BLE001 - no JAX, no device: null
        return None


def _run(cmd) -> str | None:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30, cwd=ROOT)
    except (OSError, subprocess.SubprocessError):
        return None
    return (out.stdout.strip() or None) if out.returncode == 0 else None


def summarize(parts: dict) -> tuple[dict, dict]:
    """(summary with exactly KEYS, the table's label of each measure)."""
    summary = {"device": device(parts),
               "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "commit": _run(["git", "rev-parse", "--short", "HEAD"])}
    labels = {}
    for key, (fn, _) in MEASURES.items():
        summary[key], labels[key] = fn(parts)
    return {k: summary[k] for k in KEYS}, labels


def table(summary: dict, labels: dict) -> str:
    """measure | value (with units), Markdown."""
    lines = ["| measure | value |", "|---|---|"]
    lines += [f"| {k} | {summary[k] if summary[k] is not None else '–'} |" for k in ("device", "date_utc", "commit")]
    for key, (_, unit) in MEASURES.items():
        v = summary[key]
        shown = "– (not measured)" if v is None else f"{v:.4g}{unit}"
        lines.append(f"| {labels[key]} (`{key}`) | {shown} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, nargs="?", default=Path("results/gpu"))
    parser.add_argument("--since", type=float, default=None,
                        help="ignore part JSONs written before this time (seconds since the epoch)")
    args = parser.parse_args(argv)
    parts = load(args.folder, args.since)
    summary, labels = summarize(parts)
    (args.folder / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(table(summary, labels))
    missing = [PARTS[n] for n, d in parts.items() if d is None]
    if missing:
        print(f"\nmissing, failed or stale: {', '.join(missing)}")
    print(f"saved {args.folder / 'summary.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
