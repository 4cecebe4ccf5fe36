"""Slow validation: multigrid iteration counts do not grow with resolution.

Run with ``python -m pytest -m slow``. Same kind of medium (random blobs, eps = 0.5, blob size
2 voxels, seed 0) at 64^3, 128^3 and 256^3; float32, rtol 1e-6, no-flux sides, as in the
benchmark.
"""

import pytest

import hostsim as hs


@pytest.mark.slow
def test_iterations_256_at_most_1p5x_those_at_64():
    iters = {}
    for n in (64, 128, 256):
        vol = hs.random_two_phase((n, n, n), 0.5, 2.0, 0)
        r = hs.effective_transport(vol, "z")
        assert r.converged and r.relative_residual < 1e-5
        iters[n] = r.iterations
    assert iters[256] <= 1.5 * iters[64], iters
    assert iters[128] <= 1.5 * iters[64], iters
