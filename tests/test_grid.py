"""Grid: validation, dtype carried through fields and solves, pytree behaviour under jit."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hostsim as hs


def test_dtype_carried_float32_default_float64_on_request():
    g32 = hs.Grid.create((4, 5, 6))
    g64 = hs.Grid.create((4, 5, 6), precision="float64")
    assert g32.zeros().dtype == jnp.float32 and g64.zeros().dtype == jnp.float64
    for grid in (g32, g64):
        op, b = hs.assemble(grid, np.ones(grid.shape), hs.Dirichlet(1.0), hs.Dirichlet(0.0))
        u, _ = hs.linear_solve(op, b, hs.PCG(rtol=1e-5))
        assert u.dtype == grid.dtype and op.total_diagonal.dtype == grid.dtype


def test_grid_is_a_static_pytree():
    grid = hs.Grid.create((4, 4, 4), voxel_size=2e-7, lateral="no_flux", axis="x")
    assert jax.tree_util.tree_leaves(grid) == []
    f = jax.jit(lambda k: hs.assemble(grid, k, hs.Dirichlet(1.0), hs.Dirichlet(0.0))[1])
    b = f(jnp.ones((4, 4, 4), jnp.float32))
    # Dirichlet value enters on the x = 0 face only: 2 k u_b
    assert float(b[0].sum()) == 2.0 * 16 and float(b[1:].sum()) == 0.0
    assert grid.length == pytest.approx((8e-7, 8e-7, 8e-7))


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"shape": (4, 4)}, "three positive"),
        ({"shape": (4, 0, 4)}, "three positive"),
        ({"shape": (4, 4, 4), "voxel_size": -1.0}, "voxel_size"),
        ({"shape": (4, 4, 4), "lateral": "open"}, "lateral"),
        ({"shape": (4, 4, 4), "axis": "w"}, "axis"),
        ({"shape": (4, 4, 4), "precision": "float16"}, "precision"),
    ],
)
def test_grid_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        hs.Grid.create(**kwargs)
