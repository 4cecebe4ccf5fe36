"""The virtual temperature (inverse.virtual_temperature): the conductor's connection to the collector
as a differentiable design term. Checked against the exact finite-volume profile of a full slab,
on a connected vs a floating block, for its gradient (float64 central differences, float32
finiteness), and by gradient descent reconnecting a floating block of a free-form design."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from geometries import HostFields
from hostsim import Grid
from inverse.constraints import connected_host_fraction
from inverse.freeform import FreeForm
from inverse.connectivity import virtual_temperature, virtual_temperature_field

H = 0.25e-6


def test_a_full_slab_has_the_exact_finite_volume_profile():
    """Host filling the lateral plane up to ``host_top`` = 14 layers: a 1D heat problem with unit
    source, ``T(z) = H z - z²/2``. The finite-volume solution carries every face's flux exactly
    (the heat of the cells above), so at the cell centres it is the exact profile plus the
    Dirichlet half cell's ``h²/8``: to the PCG tolerance (1e-6), and 1 at the top in units of
    ``H²/2`` to ``h²/(4 H²)``."""
    g = Grid.create((4, 4, 20), H, "periodic", "z", "float64")
    s = np.zeros(g.shape)
    s[:, :, :14] = 1.0
    t_hat, stats = virtual_temperature_field(g, s, np.ones(g.shape), 14)
    height = 14 * H
    z = (np.arange(14) + 0.5) * H
    expected = (height * z - z * z / 2 + H * H / 8) / (height * height / 2)
    np.testing.assert_allclose(np.asarray(t_hat)[0, 0, :14], expected, rtol=1e-5)
    assert float(t_hat[0, 0, 13]) == pytest.approx(1.0, abs=2e-3)
    assert bool(stats.converged)


def _block(g, lift: int):
    """Collector (2 layers) and a 4x4x10 conductor block on it (``lift = 0``) or ``lift`` layers above it."""
    s = np.zeros(g.shape, g.dtype)
    s[:, :, :2] = 1.0
    s[4:8, 4:8, 2 + lift:12 + lift] = 1.0
    return s


def test_a_floating_block_runs_hundreds_of_times_hotter_than_a_connected_one():
    """The same block on the collector and one electrolyte layer above it (float32): the term tells
    them apart as the voxel count does (connected share 1 vs 0), by a factor above 100 (measured
    0.58 vs 339: the block sheds its heat through electrolyte at KAPPA_FLOOR = 1e-4, over its
    whole surface, not only its footprint); the connected block reads below 1 (a column's top cell
    is 1, its p-norm over the column less)."""
    g = Grid.create((12, 12, 20), H, "periodic", "z", "float32")
    k = np.ones(g.shape, np.float32)
    on, off = _block(g, 0), _block(g, 1)
    t_on = float(virtual_temperature(g, on, k, 2, 14))
    t_off = float(virtual_temperature(g, off, k, 2, 14))
    assert connected_host_fraction(on, k, 2) == 1.0 and connected_host_fraction(off, k, 2) == 0.0
    assert 0.3 < t_on < 1.0
    assert t_off > 100 * t_on
    _, stats = virtual_temperature_field(g, off, k, 14)
    assert bool(stats.converged) and int(stats.iterations) < 60


def test_gradient_matches_central_differences_in_float64_and_is_finite_in_float32():
    """d/ds and d/dk along random directions of a grey random design vs central differences
    (1e-4 relative, float64); in float32 the gradients of a crisp design with a floating block (T
    of the block ~1e3 before scaling) are finite in every cell."""
    g = Grid.create((8, 8, 12), H, "periodic", "z", "float64")
    rng = np.random.default_rng(3)
    s = jnp.asarray(rng.uniform(0.1, 0.9, g.shape))
    k = jnp.asarray(rng.uniform(0.3, 1.0, g.shape))
    f = lambda s_, k_: virtual_temperature(g, s_, k_, 1, 9)  # noqa: E731
    gs, gk = jax.grad(f, argnums=(0, 1))(s, k)
    for grad, which in ((gs, 0), (gk, 1)):
        d = jnp.asarray(rng.normal(size=g.shape))
        eps = 1e-5
        plus = [s, k]
        minus = [s, k]
        plus[which] = plus[which] + eps * d
        minus[which] = minus[which] - eps * d
        fd = (f(*plus) - f(*minus)) / (2 * eps)
        assert float(jnp.sum(grad * d)) == pytest.approx(float(fd), rel=1e-4)
    g32 = Grid.create((12, 12, 20), H, "periodic", "z", "float32")
    off = jnp.asarray(_block(g32, 1))
    gs, gk = jax.grad(lambda s_, k_: virtual_temperature(g32, s_, k_, 2, 14), argnums=(0, 1))(off, jnp.ones_like(off))
    assert bool(jnp.all(jnp.isfinite(gs))) and bool(jnp.all(jnp.isfinite(gk)))
    assert float(jnp.max(jnp.abs(gs))) > 0


def test_descent_on_the_virtual_temperature_reconnects_a_floating_block():
    """A free-form design (float32, beta = 4, porosity held) whose start is an 8x8x6 block four
    layers above the collector: its crisp design (threshold 1/2) is 0 % connected and reads ~1e3.
    Fifteen Adam steps on the virtual temperature alone connect all of it (measured: at step 15)
    and bring the crisp term below a column's."""
    g = Grid.create((12, 12, 16), H, "periodic", "z", "float32")
    s = np.zeros(g.shape, np.float32)
    s[:, :, :2] = 1.0
    s[2:10, 2:10, 6:12] = 1.0
    base = HostFields(jnp.asarray(s), jnp.ones(g.shape, jnp.float32), jnp.full(g.shape, 0.5, jnp.float32),
                      jnp.zeros(g.shape, jnp.float32), g, 2, 12, "floating block")
    design = FreeForm(base, porosity=float(1.0 - s[:, :, 2:12].mean()), feature_size=3 * H, beta=4.0, design=("s",))
    fields = eqx.filter_jit(lambda p, x: p.fields(x))

    def crisp(x):
        s_, k_, _, _ = fields(design, x)
        solid = jnp.where(s_ > 0.5, 1.0, 0.0).astype(jnp.float32)
        return connected_host_fraction(solid, k_, 2), float(virtual_temperature(g, solid, k_, 2, 12))

    x = design.initial()
    connected, t_start = crisp(x)
    assert connected == 0.0 and t_start > 300
    value_and_grad = eqx.filter_jit(jax.value_and_grad(lambda x, p: virtual_temperature(g, *p.fields(x)[:2], 2, 12)))
    opt = optax.adam(0.3)
    state = opt.init(x)
    for _ in range(15):
        _, grad = value_and_grad(x, design)
        updates, state = opt.update(grad, state, x)
        x = optax.apply_updates(x, updates)
    connected, t_end = crisp(x)
    assert connected == 1.0 and t_end < 1.0
