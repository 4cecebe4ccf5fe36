"""PCG + multigrid: agreement with plain CG, contrast robustness, odd sizes, non-convergence,
jit / vmap / grad / jvp."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hostsim as hs


def _medium(shape, seed=0, contrast=1e6, insulating=0.15):
    rng = np.random.default_rng(seed)
    vol = hs.random_two_phase(shape, 0.5, 1.5, seed)
    k = np.where(vol == 1, 1.0, 1.0 / contrast)
    k[(rng.random(shape) < insulating) & (vol == 0)] = 0.0
    return k


def _solve(shape, k, precond, lateral="periodic", rtol=1e-10, precision="float64", max_steps=3000):
    grid = hs.Grid.create(shape, lateral=lateral, axis="z", precision=precision)
    # zero-conductance inclusions can cut weak cells off from both Dirichlet faces: such
    # floating clusters make the operator singular, so they are masked out (as the front end does)
    periodic = [d for d in range(3) if grid.periodic[d]]
    active = jnp.asarray(hs.anchored_mask(k > 0, grid.axis, periodic))
    op, b = hs.assemble(grid, k, hs.Dirichlet(1.0), hs.Dirichlet(0.0), active=active)
    return hs.linear_solve(op, b, hs.PCG(rtol=rtol, max_steps=max_steps, preconditioner=precond))


@pytest.mark.parametrize("shape,lateral", [((16, 16, 16), "periodic"), ((13, 10, 9), "periodic"), ((12, 7, 11), "no_flux")])
def test_multigrid_agrees_with_plain_cg(shape, lateral):
    """1e6 contrast + insulating inclusions; odd sizes exercise the padded coarsening."""
    k = _medium(shape)
    u_mg, s_mg = _solve(shape, k, hs.Multigrid(), lateral, rtol=1e-12)
    u_cg, s_cg = _solve(shape, k, hs.Jacobi(), lateral, rtol=1e-12)
    assert bool(s_mg.converged) and bool(s_cg.converged)
    # the 1e6-contrast system has a condition number ~1e9, so a 1e-12 residual pins u to ~1e-6
    np.testing.assert_allclose(np.asarray(u_mg), np.asarray(u_cg), rtol=0, atol=2e-6)
    # multigrid needs fewer iterations than Jacobi-CG even on this hardest mix (see below)
    assert int(s_mg.iterations) < int(s_cg.iterations)


def test_multigrid_robust_to_contrast_and_inclusions():
    """Iteration counts at rtol 1e-8, 32^3 (Jacobi-CG needs ~240 on each of these)."""
    shape = (32, 32, 32)
    cases = {"uniform": (1.0, 0.0), "1e3 + inclusions": (1e3, 0.1), "1e6 two-phase": (1e6, 0.0)}
    iters = {}
    for name, (contrast, insulating) in cases.items():
        k = _medium(shape, seed=3, contrast=contrast, insulating=insulating)
        _, s = _solve(shape, k, hs.Multigrid(), rtol=1e-8)
        assert bool(s.converged), name
        iters[name] = int(s.iterations)
    assert max(iters.values()) <= 20, iters
    # Known weak spot (docs/solver.md): 1e6 contrast *and* insulating cells that cut the weak
    # phase into dangling chains; piecewise-constant aggregation cannot see their smooth modes.
    # It still converges and still beats Jacobi-CG.
    k = _medium(shape, seed=3, contrast=1e6, insulating=0.1)
    _, s_mg = _solve(shape, k, hs.Multigrid(), rtol=1e-8)
    _, s_cg = _solve(shape, k, hs.Jacobi(), rtol=1e-8)
    assert bool(s_mg.converged) and int(s_mg.iterations) < 0.5 * int(s_cg.iterations)


def test_nonconvergence_is_reported_not_returned():
    shape = (16, 16, 16)
    k = _medium(shape)
    grid = hs.Grid.create(shape, axis="z", precision="float64")
    op, b = hs.assemble(grid, k, hs.Dirichlet(1.0), hs.Dirichlet(0.0))
    solver = hs.PCG(rtol=1e-12, max_steps=3, preconditioner=hs.Jacobi())
    _, stats = hs.linear_solve(op, b, solver, throw=False)
    assert not bool(stats.converged) and int(stats.iterations) == 3
    assert float(stats.relative_residual) > 1e-12
    with pytest.raises(Exception, match="did not converge"):
        u, _ = hs.linear_solve(op, b, solver, throw=True)
        jax.block_until_ready(u)


def test_float32_matches_float64():
    shape = (24, 24, 24)
    vol = hs.random_two_phase(shape, 0.5, 2.0, 7)
    r32 = hs.effective_transport(vol, "z", precision="float32")
    r64 = hs.effective_transport(vol, "z", precision="float64", solver=hs.PCG(rtol=1e-10))
    assert r32.precision == "float32" and r32.concentration.dtype == np.float32
    assert r64.concentration.dtype == np.float64
    assert abs(r32.effective_diffusivity_ratio - r64.effective_diffusivity_ratio) <= 2e-5 * r64.effective_diffusivity_ratio


def test_vmap_batch_equals_loop():
    shape = (12, 12, 12)
    grid = hs.Grid.create(shape, lateral="periodic", axis="z", precision="float64")
    ks = jnp.stack([jnp.asarray(_medium(shape, seed=s, contrast=1e3, insulating=0.0)) for s in range(3)])
    f = lambda k: hs.effective_diffusivity_ratio(grid, k, solver=hs.PCG(rtol=1e-10))
    batched = jax.jit(jax.vmap(f))(ks)
    looped = jnp.stack([f(k) for k in ks])
    np.testing.assert_allclose(np.asarray(batched), np.asarray(looped), rtol=1e-9)
    assert len(set(np.round(np.asarray(batched), 6))) == 3  # three different media


def _fd_check(f, x, direction, step=1e-6):
    g = jax.grad(f)(x)
    analytic = float(jnp.sum(g * direction))
    fd = (float(f(x + step * direction)) - float(f(x - step * direction))) / (2 * step)
    return analytic, fd


def test_gradient_wrt_coefficients_matches_finite_differences():
    """jax.grad through the steady solve vs central differences, float64, 1e-4."""
    shape = (8, 9, 10)
    rng = np.random.default_rng(5)
    grid = hs.Grid.create(shape, lateral="periodic", axis="z", precision="float64")
    k = jnp.asarray(0.1 + rng.random(shape))
    solver = hs.PCG(rtol=1e-13, max_steps=500)
    f = jax.jit(lambda k: hs.effective_diffusivity_ratio(grid, k, solver=solver))
    direction = jnp.asarray(rng.standard_normal(shape))
    analytic, fd = _fd_check(f, k, direction)
    assert abs(analytic - fd) <= 1e-4 * abs(fd), (analytic, fd)
    # forward mode agrees with reverse mode
    _, tangent = jax.jvp(f, (k,), (direction,))
    assert abs(float(tangent) - analytic) <= 1e-8 * abs(analytic)


@pytest.mark.parametrize("medium", ["layered across", "layered along", "near-layered"])
def test_gradient_exact_when_the_initial_guess_is_good(medium):
    """The transport solve starts from the linear profile, exact for layers along the axis:
    the derivative solves must not inherit the primal solve's scaled tolerance."""
    shape = (8, 8, 16)
    rng = np.random.default_rng(4)
    grid = hs.Grid.create(shape, lateral="periodic", axis="z", precision="float64")
    if medium == "layered across":
        k = np.broadcast_to(0.2 + rng.random((1, 1, 16)), shape)
    elif medium == "layered along":
        k = np.broadcast_to(0.2 + rng.random((8, 1, 1)), shape)
    else:
        k = np.broadcast_to(0.2 + rng.random((8, 1, 1)), shape) * (1 + 1e-3 * rng.random(shape))
    k = jnp.asarray(np.ascontiguousarray(k))
    # rtol 1e-13 so that central differences (step 1e-6) resolve D_eff to ~1e-8 relative
    f = jax.jit(lambda k: hs.effective_diffusivity_ratio(grid, k, solver=hs.PCG(rtol=1e-13)))
    direction = jnp.asarray(rng.standard_normal(shape))
    analytic, fd = _fd_check(f, k, direction)
    assert abs(analytic - fd) <= 1e-5 * abs(fd), (analytic, fd)
    _, tangent = jax.jvp(f, (k,), (direction,))
    assert abs(float(tangent) - fd) <= 1e-5 * abs(fd)


def test_gradient_of_solution_functional_wrt_source():
    shape = (8, 8, 8)
    rng = np.random.default_rng(2)
    grid = hs.Grid.create(shape, lateral="no_flux", axis="z", precision="float64")
    k = jnp.asarray(0.5 + rng.random(shape))
    w = jnp.asarray(rng.random(shape))

    def f(src):
        op, b = hs.assemble(grid, k, hs.Dirichlet(0.0), hs.Neumann(0.0), source=src)
        u, _ = hs.linear_solve(op, b, hs.PCG(rtol=1e-13))
        return jnp.sum(w * u**2)

    src = jnp.asarray(rng.random(shape))
    analytic, fd = _fd_check(f, src, jnp.asarray(rng.standard_normal(shape)))
    assert abs(analytic - fd) <= 1e-4 * abs(fd)


def test_derivative_tolerance_is_used_and_validated():
    """``PCG.derivative_rtol`` sets the implicit derivative's solves (the plating step uses 1e-4 in
    float32): a loose one gives a visibly less exact gradient than the default (rtol), a tight one
    matches central differences; bad values raise."""
    shape = (8, 8, 12)
    rng = np.random.default_rng(7)
    grid = hs.Grid.create(shape, lateral="periodic", axis="z", precision="float64")
    k = jnp.asarray(0.1 + rng.random(shape))
    direction = jnp.asarray(rng.standard_normal(shape))

    def derivative(solver):
        f = jax.jit(lambda k: hs.effective_diffusivity_ratio(grid, k, solver=solver))
        return _fd_check(f, k, direction)

    tight, fd = derivative(hs.PCG(rtol=1e-12))
    loose, _ = derivative(hs.PCG(rtol=1e-12, derivative_rtol=0.3))
    assert abs(tight - fd) <= 1e-6 * abs(fd)
    assert abs(loose - fd) > 100 * abs(tight - fd)
    assert hs.PCG(rtol=1e-6, derivative_rtol=1e-8).derivative_tolerance == 1e-6  # never tighter than rtol
    for bad in (0.0, 1.0, -1e-3):
        with pytest.raises(ValueError, match="derivative_rtol"):
            hs.PCG(derivative_rtol=bad)
