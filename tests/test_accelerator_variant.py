"""The accelerator variant of the programs (``hostsim.numerics.operators.fusion_barriers`` off):
no loop with a hidden trip count (on a GPU each iteration of one reads the predicate back to the
host), and the same numbers as the CPU variant, run here on the CPU. The GPU itself is measured
by scripts/bench_gpu.sh, never in tests."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hostsim as hs
from hostsim.numerics import operators


@pytest.fixture
def variant(monkeypatch):
    """Run a function under the CPU variant and the accelerator one; traces are dropped on both
    sides (jit caches do not key on the variant)."""

    def run(barriers, fn, *args):
        monkeypatch.setattr(operators, "_BARRIERS", barriers)
        jax.clear_caches()
        try:
            return fn(*args)
        finally:
            monkeypatch.setattr(operators, "_BARRIERS", None)
            jax.clear_caches()

    return run


def _transport_system(n=12):
    k = np.where(hs.random_two_phase((n, n, n + 3), 0.6, 1.5, 4) == 1, 1.0, 1e-3)
    grid = hs.Grid.create(k.shape, lateral="periodic", axis="z", precision="float64")
    op, b = hs.assemble(grid, jnp.asarray(k), hs.Dirichlet(1.0), hs.Dirichlet(0.0))
    return op, b


def _solve(op, b):
    return jax.jit(lambda op, b: hs.linear_solve(op, b, hs.PCG(rtol=1e-12)))(op, b)


def test_accelerator_variant_hides_no_trip_count():
    """The multigrid PCG compiled for this CPU in the accelerator variant has one loop whose trip
    count XLA cannot see (PCG's own), and in the CPU variant more (so the check can fail)."""
    from hostsim.run import audit

    device = audit.target_device("cpu")
    loops = {}
    for name in ("cpu", "accelerator"):
        with audit.traced_as(name):
            loops[name] = audit.transport_program(16, device)["dynamic_loops"]
    assert loops["accelerator"] == 1 and loops["cpu"] > 1


def test_accelerator_variant_solves_alike(variant):
    """Multigrid-PCG (W-cycle) solution and iteration count equal between the variants (float64; at
    this size the accelerator's truncated W-cycle is the whole W-cycle)."""
    op, b = _transport_system()
    u_cpu, s_cpu = variant(True, _solve, op, b)
    u_acc, s_acc = variant(False, _solve, op, b)
    assert bool(s_cpu.converged) and bool(s_acc.converged)
    assert int(s_acc.iterations) == int(s_cpu.iterations)
    np.testing.assert_allclose(np.asarray(u_acc), np.asarray(u_cpu), rtol=0, atol=1e-10)


def _plating_host():
    """A 6x6x12 host (0.25 µm voxels, float64) with partly solid, partly conducting, partly
    lithiophilic cells of distinct values and some pre-infused Li."""
    g = hs.Grid.create((6, 6, 12), voxel_size=0.25e-6, lateral="periodic", precision="float64")
    rng = np.random.default_rng(3)
    s = np.zeros(g.shape)
    s[:, :, 0] = 1.0
    s[1:5, 1:5, 1:6] = rng.uniform(0.25, 0.75, (4, 4, 5))
    k = np.where(s > 0, 1.0, 0.0)
    k[1:5, 1:5, 1:6] = rng.uniform(0.4, 0.9, (4, 4, 5))
    l = np.zeros(g.shape)
    l[1:5, 1:5, 1:6] = rng.uniform(0.1, 0.9, (4, 4, 5))
    theta = np.zeros(g.shape)
    theta[0, :, 1:3] = rng.uniform(0.5, 0.95, (6, 2))
    return g, [jnp.asarray(x, g.dtype) for x in (s, k, l, theta)]


def _deposit_height(grid):
    """Mean height [voxels] of the Li plated in 4 steps of the plating physics at 1 mA/cm²
    (0.004 mAh/cm² each; fixed steps: the variants differ in the solves, not in the controller)."""
    from segments import fixed_steps, system

    from hostsim.electrochemistry.plating import initial_state

    lp30 = hs.get_electrolyte("lp30")
    area = grid.length[0] * grid.length[1]
    z = jnp.arange(grid.shape[2], dtype=grid.dtype)[None, None, :]

    def objective(s, k, l, theta0):
        plating = system(grid, s, k, l, lp30, hs.Kinetics())
        state, _, _ = fixed_steps(plating, initial_state(grid, theta0, lp30), 10.0 * area, 0.004 * 36000.0 / 10.0, 4)
        gained = state.theta - theta0
        return jnp.sum(z * gained) / jnp.sum(gained)

    return objective


def test_accelerator_variant_plates_and_differentiates_alike(variant):
    """Value and gradient (w.r.t. s, k, l, theta0) of the deposit height through 4 plating steps
    agree between the variants to 1e-8 relative (float64; the derivative solves' tolerance)."""

    def value_and_grad():
        g, fields = _plating_host()
        value, grads = jax.jit(jax.value_and_grad(_deposit_height(g), argnums=(0, 1, 2, 3)))(*fields)
        return float(value), [np.asarray(x) for x in grads]

    v_cpu, g_cpu = variant(True, value_and_grad)
    v_acc, g_acc = variant(False, value_and_grad)
    assert 1.0 < v_cpu < 6.0  # the deposit sits in the host, above the collector
    assert v_acc == pytest.approx(v_cpu, rel=1e-10)
    for name, a, b in zip("s k l theta0".split(), g_acc, g_cpu):
        assert np.linalg.norm(b) > 0, name
        assert np.linalg.norm(a - b) <= 1e-8 * np.linalg.norm(b), name
