"""Gradients through an adaptive plating transient: the implicit derivative of the adaptive
Newton and the derivative of the step sizes the controller chose, checked against central
differences in float64 w.r.t. every field (s, k, l and the initial Li theta0), and float32
gradients finite and within 2 % of float64, for the fields and for the continuous parameters
of the host families."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from segments import accepted, completed, replay, run_segment, system

from hostsim import Grid, Kinetics, get_electrolyte
from hostsim.electrochemistry.plating import initial_state

LP30 = get_electrolyte("lp30")
MAH_CM2 = 36000.0  # C/m² per mAh/cm²
CAPACITY = 0.016 * MAH_CM2  # [C/m²]
TOLERANCE = 0.01  # the controller's


def _steps(grid, s, k, l, theta0, kinetics=Kinetics()):
    """The accepted steps [s] of the adaptive transient of :func:`_deposit_height`."""
    current = 10.0 * grid.length[0] * grid.length[1]
    carry, rows = run_segment(grid, s, k, l, initial_state(grid, theta0, LP30), LP30, kinetics, current,
                              CAPACITY / 10.0, rtol=TOLERANCE, max_steps=200)
    assert completed(carry)
    return accepted(rows).dt[1:]


def _deposit_height(grid, dts=None, kinetics=Kinetics()):
    """Mean height [voxels] of the Li plated at 1 mA/cm² to 0.016 mAh/cm²: where the deposit goes,
    the quantity a host design shapes. With adaptive steps, or at the steps ``dts`` [s] (the
    adaptive transient's derivative is the one at its steps: their lengths carry none)."""
    current = 10.0 * grid.length[0] * grid.length[1]
    z = jnp.arange(grid.shape[2], dtype=grid.dtype)[None, None, :]

    def objective(s, k, l, theta0):
        start = initial_state(grid, theta0, LP30)
        if dts is None:
            carry, _ = run_segment(grid, s, k, l, start, LP30, kinetics, current, CAPACITY / 10.0, rtol=TOLERANCE,
                                   max_steps=200)
            end = carry.state
        else:
            end = replay(system(grid, s, k, l, LP30, kinetics), start, current, dts)
        gained = end.theta - theta0
        return jnp.sum(z * gained) / jnp.sum(gained)

    return objective


def _host(precision):
    """A 6x6x12 host (0.25 µm voxels) with partly solid, partly conducting, partly lithiophilic
    cells of distinct values (no two equal neighbours: the interface weight's kink) and some
    pre-infused Li."""
    g = Grid.create((6, 6, 12), voxel_size=0.25e-6, lateral="periodic", precision=precision)
    rng = np.random.default_rng(3)
    s = np.zeros(g.shape)
    s[:, :, 0] = 1.0
    s[1:5, 1:5, 1:6] = rng.uniform(0.25, 0.75, (4, 4, 5))
    k = np.where(s > 0, 1.0, 0.0)
    k[1:5, 1:5, 1:6] = rng.uniform(0.4, 0.9, (4, 4, 5))
    l = np.zeros(g.shape)
    l[1:5, 1:5, 1:6] = rng.uniform(0.1, 0.9, (4, 4, 5))
    theta = np.zeros(g.shape)
    theta[0, :, 1:3] = rng.uniform(0.5, 0.95, (6, 2))  # connected (> NODE), some within the front ramp
    return g, [jnp.asarray(x, g.dtype) for x in (s, k, l, theta)]


def _directions(fields):
    """Random directions on the cells where each field is strictly inside its range."""
    s, k, l, theta = (np.asarray(x, np.float64) for x in fields)
    rng = np.random.default_rng(7)
    inside = [(s > 0.05) & (s < 0.95), (s > 0.05) & (s < 0.95), (s > 0.05) & (s < 0.95), theta > 0.05]
    return [jnp.asarray(rng.normal(size=s.shape) * m) for m in inside]


@pytest.fixture(scope="module")
def float64_gradients():
    g, fields = _host("float64")
    dts = _steps(g, *fields)
    value, grads = jax.jit(jax.value_and_grad(_deposit_height(g), argnums=(0, 1, 2, 3)))(*fields)
    return g, fields, dts, float(value), grads


def test_gradient_through_plating_matches_central_differences(float64_gradients):
    """d(deposit height)/d(s, k, l, theta0) through an adaptive plating transient (Newton solved to
    1e-9, implicit derivative) equals central differences of the transient at its steps to 1e-4
    relative along random directions."""
    g, fields, dts, value, grads = float64_gradients
    assert 1.0 < value < 6.0 and len(dts) > 3  # the deposit sits in the host, above the collector
    objective = jax.jit(_deposit_height(g, dts))
    assert float(objective(*fields)) == pytest.approx(value, rel=1e-12)
    d = 1e-6
    for i, (grad, direction) in enumerate(zip(grads, _directions(fields))):
        plus = [f + d * direction if j == i else f for j, f in enumerate(fields)]
        minus = [f - d * direction if j == i else f for j, f in enumerate(fields)]
        fd = (float(objective(*plus)) - float(objective(*minus))) / (2 * d)
        ad = float(jnp.sum(grad * direction))
        assert abs(fd) > 1e-6, f"field {i}: the objective must depend on it for the test to mean anything"
        assert ad == pytest.approx(fd, rel=1e-4), f"field {'s k l theta0'.split()[i]}"


def test_float32_gradients_through_plating_are_finite_and_match_float64(float64_gradients):
    """float32 gradients w.r.t. every field are finite, with float32's own adaptive steps, and
    within 2 % of float64 at the same steps (as a whole field, and along random directions)."""
    _, fields64, dts, value64, grads64 = float64_gradients
    g32, fields32 = _host("float32")
    own = jax.jit(jax.grad(_deposit_height(g32), argnums=(0, 1, 2, 3)))(*fields32)
    assert all(np.all(np.isfinite(np.asarray(x))) for x in own)
    value32, grads32 = jax.jit(jax.value_and_grad(_deposit_height(g32, dts), argnums=(0, 1, 2, 3)))(*fields32)
    assert float(value32) == pytest.approx(value64, rel=1e-4)
    for name, a, b, direction in zip("s k l theta0".split(), grads32, grads64, _directions(fields64)):
        a, b = np.asarray(a, np.float64), np.asarray(b)
        assert a.dtype == np.float64 and np.all(np.isfinite(a)), name
        assert np.linalg.norm(a - b) <= 0.02 * np.linalg.norm(b), name
        if name != "theta0":  # theta0's gradient is ~1e-4 of the others here: per cell it sits at float32's floor
            # along a random direction: 2 % of the functional's scale sum |b d| (the sum itself cancels)
            d = np.asarray(direction)
            assert abs(np.sum((a - b) * d)) <= 0.02 * np.sum(np.abs(b * d)), name


def _family_gradient(name, precision, dts=None, **params):
    import geometries as geo
    from test_plating import SMALL_HOSTS

    fam = geo.make_family(name, precision=precision, **{**SMALL_HOSTS[name], **params})
    fields, pullback = eqx.filter_vjp(lambda m: (lambda f: (f.s, f.k, f.l, f.theta))(m.fields()), fam)
    f = fam.fields()
    if dts is None:
        dts = _steps(f.grid, f.s, f.k, f.l, f.theta, WETTING)
    objective = _deposit_height(f.grid, dts, WETTING)
    value, field_grads = jax.jit(jax.value_and_grad(objective, argnums=(0, 1, 2, 3)))(*fields)
    (grads,) = pullback(tuple(field_grads))
    leaves = {k: float(getattr(grads, k)) for k in fam.parameters() if eqx.is_inexact_array(getattr(fam, k, None))}
    return float(value), leaves, dts


# Without a nucleation barrier: on bare Cu the first Li nucleates where it first gets ahead, an
# instability the adaptive steps resolve (tens of steps before any cell holds 5 % Li), and the
# deposit's sensitivity to a parameter that moves every fibre grows with each of them (measured:
# d(deposit height)/d(porosity) 4e9 for a height of 5 voxels). That is the physics' own sensitivity;
# these tests check the derivative of a transient that does not have it.
WETTING = Kinetics(nucleation_overpotential_bare=0.0)


def _check_family(name):
    """float32 against float64 at the float64 transient's steps: a family's fields move with a
    parameter everywhere, and the two precisions' own controllers may then take the steps a
    little differently (each a derivative of its own transient)."""
    v64, g64, dts = _family_gradient(name, "float64")
    v32, g32, _ = _family_gradient(name, "float32", dts)
    assert v32 == pytest.approx(v64, rel=1e-3)
    assert g64, f"{name}: no continuous parameter"
    scale = max(abs(x) for x in g64.values())
    for key, value in g64.items():
        assert np.isfinite(g32[key]), f"{name}.{key}"
        # within 2 % (of the largest parameter gradient for one that is nearly zero)
        # (and 1e-9 absolute: a foil's deposit height does not depend on its parameters at all)
        assert abs(g32[key] - value) <= max(0.02 * max(abs(value), 0.05 * scale), 1e-9), f"{name}.{key}: {g32[key]} vs {value}"


def test_float32_family_parameter_gradients_through_plating():
    """d(deposit height)/d(every continuous parameter) of a Cu skeleton through an adaptive plating
    transient: finite in float32 and within 2 % of float64 (the other families: slow test below)."""
    _check_family("cu_skeleton")


FAMILIES = ["foil", "cu_nanowires", "dealloyed_cu", "layered_rgo", "fibre_scaffold", "seeded_capsules", "graded"]


@pytest.mark.slow
@pytest.mark.parametrize("name", FAMILIES)
def test_float32_family_parameter_gradients_through_plating_every_family(name):
    _check_family(name)


def test_the_reverse_pass_stays_finite_where_a_cell_holds_a_trace_of_li():
    """A cell holding 1e-30 of Li (what a first plating step leaves beside a fibre) next to bare
    host, float32: the stripping shares and the solved state's cell current have finite
    derivatives in theta. Their quotients were divided wherever the denominator was above zero, so
    the derivative overflowed at such a cell and every design gradient through a 10 mA/cm² plate
    of the layer-profile showcase was NaN (0 x inf in the reverse pass)."""
    from hostsim.electrochemistry.plating import PlatingSystem, solve_state, stripping_shares
    from hostsim.electrochemistry.cell import Reservoir

    g = Grid.create((4, 4, 8), voxel_size=0.375e-6, lateral="periodic", precision="float32")
    s = jnp.zeros(g.shape, g.dtype).at[:, :, 0].set(1.0).at[1:3, 1:3, 1:4].set(1.0)
    k, l = jnp.ones(g.shape, g.dtype), jnp.zeros(g.shape, g.dtype)
    theta = jnp.zeros(g.shape, g.dtype).at[0, 1, 2].set(1e-30).at[0, 0, 1].set(0.05)
    cotangent = jnp.asarray(np.random.default_rng(0).normal(size=(6,) + g.shape), g.dtype)
    grad = jax.grad(lambda th: jnp.sum(stripping_shares(g, s, k, th) * cotangent))(theta)
    assert np.all(np.isfinite(np.asarray(grad)))
    sys_ = PlatingSystem(g, s, k, l, LP30, Kinetics(), top=Reservoir())
    state = initial_state(g, theta, LP30)
    weights = jnp.asarray(np.random.default_rng(1).normal(size=g.shape), g.dtype)

    def cell_current(th):
        new, _ = solve_state(sys_, state._replace(theta=th), 100.0 * g.length[0] * g.length[1], fresh=True)
        return jnp.sum(new.interfacial_current * weights)

    assert np.all(np.isfinite(np.asarray(eqx.filter_jit(jax.grad(cell_current))(theta))))
