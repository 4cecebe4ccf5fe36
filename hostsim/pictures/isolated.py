"""Renders in a child process.

Off-screen VTK rendering (Mesa's llvmpipe) and XLA's CPU compiler each carry their own LLVM. In one
process, XLA later crashed while serialising compiled programs for the compilation cache (a
segfault or abort in ``put_executable_and_time``, in four long test sessions that had rendered
before; the same tests pass alone). Rendering in a child process keeps the two apart, and a
renderer that crashes becomes a note instead of taking the run down.

``run_jobs(jobs)`` takes ``[{"kind": "render" | "animate", **keyword arguments}]`` (paths as
strings) and returns one error message or None per job.
"""

from __future__ import annotations

import json
import subprocess
import sys


def run_jobs(jobs: list[dict], timeout: float = 1800.0) -> list:
    if not jobs:
        return []
    try:
        proc = subprocess.run([sys.executable, "-m", "hostsim.pictures.isolated"], input=json.dumps(jobs),
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return [f"rendering timed out after {timeout:.0f} s"] * len(jobs)
    lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULTS ")]
    if not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return [f"the renderer stopped (exit {proc.returncode}): {tail}"] * len(jobs)
    return json.loads(lines[-1][len("RESULTS "):])


def _main() -> None:
    jobs = json.loads(sys.stdin.read())
    errors = []
    try:
        from hostsim.pictures import render
    except Exception as e:  # pyvista/VTK missing or broken
        print("RESULTS " + json.dumps([f"{type(e).__name__}: {e}"] * len(jobs)))
        return
    for job in jobs:
        job = dict(job)
        kind = job.pop("kind")
        try:
            if kind == "render":
                render.render(**job)
            else:
                render.animate(**job)
            errors.append(None)
        except Exception as e:
            errors.append(f"{type(e).__name__}: {e}")
    print("RESULTS " + json.dumps(errors))


if __name__ == "__main__":
    _main()
