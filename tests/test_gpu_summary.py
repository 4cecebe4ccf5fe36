"""scripts/gpu_summary.py: the summary of scripts/bench_gpu.sh's parts, from fake part JSONs in
the formats the parts write (bench_batch.py, bench_plating_device.py, bench_transport.py)."""

import datetime
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "gpu_summary.py"
spec = importlib.util.spec_from_file_location("gpu_summary", SCRIPT)
gpu_summary = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gpu_summary)

KEYS = ["device", "date_utc", "commit", "d_eff_256_s", "d_eff_512_s", "iterations_512", "taufactor_256_s",
        "batch_256x64_s", "batch_slowest_single_s", "default_case_warm_s", "plating_step_128_ms",
        "sweep16_members_per_hour_ratio"]


def _plating(part: str, body: dict) -> dict:  # bench_plating_device.py's record
    return {"date": "2026-12-06", "machine": "Linux", "cpus": 16, "backend": "gpu", "devices": ["NVIDIA H100 80GB HBM3"],
            "jax": "0.10.2", part: body}


def _case(size: int, warm: float, iterations: int, taufactor: float | None) -> dict:  # bench_transport.py's case
    case = {"size": size, "seed": 0, "shape": [size] * 3,
            "hostsim": {"precision": "float32", "first_call_s": 3.0, "warm_s": [warm + 0.1, warm], "warm_best_s": warm,
                        "warm_median_s": warm + 0.05, "iterations": iterations, "d_eff": 0.237}}
    if taufactor is not None:
        case["taufactor"] = {"device": "cuda", "total_s": [taufactor, taufactor + 1], "total_best_s": taufactor,
                             "total_median_s": taufactor + 0.5}
    return case


def _transport(cases: list) -> dict:
    return {"benchmark": "effective diffusivity: hostsim vs TauFactor, same voxels", "settings": {},
            "environment": {"jax_backend": "gpu", "jax_device_kinds": ["NVIDIA H100 80GB HBM3"]},
            "taufactor_unavailable": None, "cases": cases, "operator": {}}


PARTS = {
    "bench_batch_256.json": {
        "date": "2026-12-06", "backend": "gpu", "size": 64, "count": 256,
        "rows": {"loop": {"cold_s": 16.0, "warm_s": 13.0, "volumes_per_s": 19.7, "iterations_max": 14},
                 "batch": {"cold_s": 7.0, "warm_s": 3.5, "volumes_per_s": 73.1, "iterations_max": 14}},
        "d_eff_max_relative_difference": 3e-7, "slowest_single_s": 0.031, "batch_over_slowest_single": 112.9},
    "bench_plating_default.json": _plating("default", {
        "first_call_s": 40.0, "second_call_s": 9.5, "grids": {"foil": [4, 4, 40], "cu_skeleton": [32, 32, 80]},
        "summaries": {}, "steps": {"foil": 400, "cu_skeleton": 400}, "wall_time_s": {"foil": 1.5, "cu_skeleton": 7.0}}),
    "bench_plating_big.json": _plating("big", {
        "first_call_s": 30.0, "second_call_s": 12.0, "grids": {"cu_skeleton": [128, 128, 128]}, "summaries": {},
        "steps": {"cu_skeleton": 200}, "wall_time_s": {"cu_skeleton": 10.0}, "steps_per_s": 200 / 12.0,
        "step_ms": 50.0}),
    "bench_plating_sweep.json": _plating("sweep", {
        "members": 16, "capacity_mAh_cm2": 0.2, "serial_s": 40.0, "serial_members_per_hour": 1440.0,
        "together_s": 8.0, "together_members_per_hour": 7200.0, "ratio": 5.0, "summary_max_relative_difference": 0.04}),
    "bench_transport.json": _transport([_case(128, 0.12, 10, 0.2), _case(256, 0.9, 12, 1.7)]),
    "bench_transport_512.json": _transport([_case(512, 6.8, 13, None)]),
}


def _write(folder: Path, skip=()) -> Path:
    for name, data in PARTS.items():
        if name not in skip:
            (folder / name).write_text(json.dumps(data))
    return folder


def _summary(folder: Path, *argv) -> dict:
    gpu_summary.main([str(folder), *argv])
    return json.loads((folder / "summary.json").read_text())


def test_every_key_from_its_part(tmp_path, capsys):
    s = _summary(_write(tmp_path))
    assert list(s) == KEYS
    assert s["device"] == "NVIDIA H100 80GB HBM3"
    assert datetime.datetime.fromisoformat(s["date_utc"]).utcoffset() == datetime.timedelta(0)
    assert s["commit"] is None or isinstance(s["commit"], str)
    assert s["d_eff_256_s"] == 0.9 and s["taufactor_256_s"] == 1.7  # the 256³ case, not the 128³ one
    assert s["d_eff_512_s"] == 6.8 and s["iterations_512"] == 13
    assert s["batch_256x64_s"] == 3.5 and s["batch_slowest_single_s"] == 0.031
    assert s["default_case_warm_s"] == 9.5
    assert s["plating_step_128_ms"] == 50.0
    assert s["sweep16_members_per_hour_ratio"] == 5.0
    table = capsys.readouterr().out
    assert "| measure | value |" in table and "| D_eff solve 256³, warm (best) (`d_eff_256_s`) | 0.9 s |" in table


def test_missing_part_and_taufactor_read_null(tmp_path):
    parts = dict(PARTS, **{"bench_transport.json": _transport([_case(256, 0.9, 12, None)])})
    for name, data in parts.items():
        if name not in ("bench_plating_sweep.json", "bench_transport_512.json"):
            (tmp_path / name).write_text(json.dumps(data))
    (tmp_path / "bench_plating_big.json").write_text("{ truncated")  # a part killed while writing
    s = _summary(tmp_path)
    assert list(s) == KEYS
    for key in ("sweep16_members_per_hour_ratio", "d_eff_512_s", "iterations_512", "taufactor_256_s",
                "plating_step_128_ms"):
        assert s[key] is None, key
    assert s["d_eff_256_s"] == 0.9 and s["default_case_warm_s"] == 9.5


def test_stale_parts_ignored(tmp_path):
    _write(tmp_path)
    old = (tmp_path / "bench_batch_256.json").stat().st_mtime - 3600
    os.utime(tmp_path / "bench_batch_256.json", (old, old))  # an earlier run's file
    s = _summary(tmp_path, "--since", str(old + 60))
    assert s["batch_256x64_s"] is None and s["batch_slowest_single_s"] is None
    assert s["d_eff_256_s"] == 0.9


def test_step_from_steps_per_s_before_step_ms(tmp_path):
    big = json.loads(json.dumps(PARTS["bench_plating_big.json"]))
    del big["big"]["step_ms"], big["big"]["wall_time_s"]
    _write(tmp_path)
    (tmp_path / "bench_plating_big.json").write_text(json.dumps(big))
    assert _summary(tmp_path)["plating_step_128_ms"] == pytest.approx(60.0)  # 1000 / (200 steps / 12 s)


def test_command_line(tmp_path):
    _write(tmp_path)
    out = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path)], capture_output=True, text=True, timeout=60,
                         check=True).stdout
    assert "(`sweep16_members_per_hour_ratio`) | 5× |" in out
    assert list(json.loads((tmp_path / "summary.json").read_text())) == KEYS
