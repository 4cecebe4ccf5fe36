"""The program audit: the accelerator variant compiled for an H100 on this machine (XLA's GPU
compiler, no GPU) holds the shape a GPU needs; the HLO reader counts what it claims to; the
variant switch; batched solves that stop member by member."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hostsim as hs
from hostsim.errors import InputError
from hostsim.numerics import operators
from hostsim.run import audit

ROOT = Path(__file__).resolve().parents[1]

HLO = """HloModule m

%fused (p0: f32[8,8,8]) -> f32[8,8,8] {
  %p0 = f32[8,8,8]{2,1,0} parameter(0)
  ROOT %n = f32[8,8,8]{2,1,0} negate(%p0)
}

%body (t: (s32[], f32[8,8,8])) -> (s32[], f32[8,8,8]) {
  %t = (s32[], f32[8,8,8]{2,1,0}) parameter(0)
  %i = s32[] get-tuple-element(%t), index=0
  %x = f32[8,8,8]{2,1,0} get-tuple-element(%t), index=1
  %f = f32[8,8,8]{2,1,0} fusion(%x), kind=kLoop, calls=%fused
  %c = f32[8,8,8]{2,1,0} copy(%f)
  ROOT %r = (s32[], f32[8,8,8]{2,1,0}) tuple(%i, %c)
}

%cond (t: (s32[], f32[8,8,8])) -> pred[] {
  %t = (s32[], f32[8,8,8]{2,1,0}) parameter(0)
  %i = s32[] get-tuple-element(%t), index=0
  ROOT %lt = pred[] compare(%i, %i), direction=LT
}

ENTRY %main (a: f32[8,8,8]) -> f32[8,8,8] {
  %a = f32[8,8,8]{2,1,0} parameter(0)
  %z = s32[] constant(0)
  %t0 = (s32[], f32[8,8,8]{2,1,0}) tuple(%z, %a)
  %w1 = (s32[], f32[8,8,8]{2,1,0}) while(%t0), condition=%cond, body=%body, backend_config={"known_trip_count":{"n":"3"}}
  %w2 = (s32[], f32[8,8,8]{2,1,0}) while(%w1), condition=%cond, body=%body, metadata={op_name="jit(f)/jit(_solve)/while"}
  ROOT %out = f32[8,8,8]{2,1,0} get-tuple-element(%w2), index=1
}
"""


def test_the_hlo_reader_counts_kernels_bytes_loops_and_copies():
    """A hand-written module: a counted loop (3 trips) and a dynamic one (a solve), each body a
    fusion and a full-grid copy (2 kernels of 2 x 2 KiB) and a compare in the condition."""
    program = audit.Program(HLO, 8**3)
    total = program.total()
    grid_bytes = 4 * 8**3
    body_bytes = 2 * (2 * grid_bytes) + 2 * 4 + 1  # fusion and copy; the compare reads two s32, writes a pred
    assert total.kernels == 3 * 3 + 3
    assert total.bytes == 4 * body_bytes
    assert total.dynamic_loops == 1 and total.full_copies_in_loops == 2 and total.conditionals_in_loops == 0
    (ins, body), = program.solve_loops()
    assert ins.name == "w2" and body.kernels == 3 and body.full_copies == 1
    numbers = audit.summary(program, grid_bytes)
    assert numbers["apply_equivalents_per_iteration"] == pytest.approx(body_bytes / grid_bytes, abs=0.01)
    assert numbers["full_copies_in_solves"] == 1 and numbers["linear_solve_loops"] == 1


def test_the_variant_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(operators.VARIANT_VARIABLE, "accelerator")
    assert operators.program_variant() == "accelerator" and not operators.fusion_barriers()
    monkeypatch.setenv(operators.VARIANT_VARIABLE, "cpu")
    assert operators.fusion_barriers()
    monkeypatch.setenv(operators.VARIANT_VARIABLE, "auto")
    assert operators.program_variant() == ("cpu" if jax.default_backend() == "cpu" else "accelerator")
    monkeypatch.setenv(operators.VARIANT_VARIABLE, "gpu")
    with pytest.raises(InputError, match="HOSTSIM_PROGRAM_VARIANT: expected one of auto, cpu, accelerator"):
        operators.program_variant()


@pytest.fixture(scope="module")
def h100():
    pytest.importorskip("jax_plugins.xla_cuda12", reason="JAX's CUDA plugin (the test extra) compiles for a GPU")
    return audit.target_device("h100")


@pytest.mark.parametrize("n", [128, 256])
def test_the_accelerator_transport_solve_has_a_gpu_shape(h100, n):
    """Compiled for an H100: one data-dependent loop (PCG's), nothing dynamic or conditional in
    the multigrid cycle, no full-grid copy in a loop, <= 25 operator applications of traffic per
    PCG iteration."""
    with audit.traced_as("accelerator"):
        numbers = audit.transport_program(n, h100)
    assert numbers["linear_solve_loops"] == 1 and numbers["dynamic_loops"] == 1, numbers
    assert numbers["dynamic_loops_in_cycle"] == 0 and numbers["conds_in_loops"] == 0, numbers
    assert numbers["full_copies_in_loops"] == 0, numbers
    assert numbers["apply_equivalents_per_iteration"] <= 25.0, numbers


def test_the_cpu_variant_fails_the_gpu_shape(h100):
    """The same audit of the CPU variant (hidden trip counts, on purpose) finds its dynamic loops
    in the cycle: the check can fail."""
    with audit.traced_as("cpu"):
        numbers = audit.transport_program(32, h100)
    assert numbers["dynamic_loops_in_cycle"] >= 5 and numbers["dynamic_loops"] > numbers["linear_solve_loops"]


def test_the_accelerator_plating_step_solves_have_a_gpu_shape(h100):
    """A plating step's linear solves (potential, salt, displaced electrolyte) compiled for an
    H100: no dynamic loop, conditional or full-grid copy inside a solve, <= 25 operator
    applications per PCG iteration, its dynamic loops are the solves, Newton's and the
    connectivity search's, and one branch is left in a loop (docs/solver.md)."""
    with audit.traced_as("accelerator"):
        numbers = audit.plating_step_program(128, h100)
    assert numbers["linear_solve_loops"] >= 3, numbers
    assert numbers["dynamic_loops_in_cycle"] == 0 and numbers["conds_in_solves"] == 0, numbers
    assert numbers["full_copies_in_solves"] == 0, numbers
    assert numbers["apply_equivalents_per_iteration"] <= 25.0, numbers
    assert numbers["dynamic_loops"] <= numbers["linear_solve_loops"] + 2, numbers
    assert numbers["conds_in_loops"] <= 1, numbers  # Newton's second solve, skipped when its start is fresh


def test_the_audit_script_prints_json(h100, tmp_path):
    out = tmp_path / "audit.json"
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "program_audit.py"), "--target", "h100", "--variant",
                           "accelerator", "--size", "32", "--programs", "transport", "--json", "--output", str(out)],
                          capture_output=True, text=True, env={**os.environ, "JAX_PLATFORMS": "cpu"}, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    import json

    printed = json.loads(proc.stdout)
    assert set(printed) == {"transport"} and printed["transport"]["dynamic_loops"] == 1
    assert json.loads(out.read_text())["size"] == 32


def _two_members():
    """Two 24³ media: an easy one (conductivity 0.5-1.5) and a hard one (random, 1e-3 contrast)."""
    n = 24
    easy = np.random.default_rng(0).uniform(0.5, 1.5, (n, n, n))
    hard = np.where(hs.random_two_phase((n, n, n), 0.5, 2.0, 1) == 1, 1.0, 1e-3)
    k = jnp.asarray(np.stack([easy, hard]), jnp.float64)
    grid = hs.Grid.create((n, n, n), lateral="periodic", axis="z", precision="float64")
    return grid, k


@pytest.mark.parametrize("variant", ["cpu", "accelerator"])
def test_batched_members_report_their_own_iterations_and_stop_when_converged(variant):
    """vmapped transport solves: each member reports its own iteration count and residual (those
    of its own solve), and a member that has converged stops changing, bit for bit (the batch's
    loop runs on for the other, the converged member's state is kept)."""
    grid, k = _two_members()

    def batch(max_steps):
        solver = hs.PCG(rtol=1e-10, max_steps=max_steps)
        return jax.jit(jax.vmap(lambda k: hs.transport_solve(grid, k, None, solver, throw=False)[::2]))(k)

    with audit.traced_as(variant):
        (c, stats) = batch(500)
        singles = [jax.jit(lambda k: hs.transport_solve(grid, k, None, hs.PCG(rtol=1e-10), throw=False)[2])(k[i])
                   for i in range(2)]
        its = [int(s.iterations) for s in singles]
        (c_short, _) = batch(its[0])
    assert np.asarray(stats.converged).all()
    assert [int(i) for i in stats.iterations] == its and its[0] < its[1]
    np.testing.assert_allclose(np.asarray(stats.relative_residual), [float(s.relative_residual) for s in singles],
                               rtol=1e-6)
    # the easy member at the end of its own iterations and after the hard one's: the same bits
    assert np.array_equal(np.asarray(c_short[0]), np.asarray(c[0]))
