"""Effective transport oracles (exact channel values, TauFactor as a peer) and invariance (lateral
translation and mirroring)."""

import math

import numpy as np
import pytest

import hostsim as hs


def _f64(vol, axis="z", **kw):
    kw.setdefault("solver", hs.PCG(rtol=1e-11, max_steps=500))
    return hs.effective_transport(vol, axis, precision="float64", **kw)


def test_straight_channels_give_porosity_exactly():
    vol = np.zeros((10, 12, 16), np.uint8)
    vol[2:5, 3:9, :] = 1
    vol[7, 1, :] = 1
    r = _f64(vol, "z")
    eps = vol.mean()
    assert r.porosity == pytest.approx(eps, abs=0)
    assert r.effective_diffusivity_ratio == pytest.approx(eps, rel=1e-10)
    assert r.tortuosity_factor == pytest.approx(1.0, rel=1e-10)
    # float32 default reaches the same value to float32 round-off
    r32 = hs.effective_transport(vol, "z")
    assert r32.effective_diffusivity_ratio == pytest.approx(eps, rel=1e-5)


@pytest.mark.parametrize("axis", ["x", "y", "z"])
def test_insulating_layers_parallel_and_across(axis):
    d = "xyz".index(axis)
    vol = np.zeros((9, 10, 11), np.uint8)
    other = (d + 1) % 3
    idx = [slice(None)] * 3
    idx[other] = slice(0, None, 3)  # every third layer along another axis is pore
    vol[tuple(idx)] = 1
    r = _f64(vol, axis)
    assert r.effective_diffusivity_ratio == pytest.approx(vol.mean(), rel=1e-10)

    across = np.ones((9, 10, 11), np.uint8)
    idx = [slice(None)] * 3
    idx[d] = 4
    across[tuple(idx)] = 0  # one insulating layer across the flux
    r = _f64(across, axis)
    assert r.effective_diffusivity_ratio == 0.0
    assert r.tortuosity_factor == math.inf and not r.percolates
    assert "no conducting path" in r.message
    assert np.all(np.isfinite(r.concentration)) and r.to_dict()["tortuosity_factor"] is None


def test_two_conducting_phases_wiener_means_exact():
    k1, k2 = 1.0, 0.05
    vol = np.ones((8, 8, 12), np.uint8)
    vol[:, ::2, :] = 2  # layers normal to y, so parallel to a z flux and across a y flux
    cond = {1: k1, 2: k2}
    f = (vol == 1).mean()
    arithmetic = f * k1 + (1 - f) * k2
    harmonic = 1.0 / (f / k1 + (1 - f) / k2)
    r_par = _f64(vol, "z", conductivities=cond)
    r_ser = _f64(vol, "y", conductivities=cond)
    assert r_par.effective_diffusivity_ratio == pytest.approx(arithmetic, rel=1e-10)
    assert r_ser.effective_diffusivity_ratio == pytest.approx(harmonic, rel=1e-10)


def test_random_two_phase_lies_between_wiener_bounds():
    vol = hs.random_two_phase((24, 24, 24), 0.5, 2.0, 3) + 1  # phases 1 and 2
    k1, k2 = 1.0, 0.1
    f = (vol == 1).mean()
    r = _f64(vol, "z", conductivities={1: k1, 2: k2})
    lower = 1.0 / (f / k1 + (1 - f) / k2)
    upper = f * k1 + (1 - f) * k2
    assert lower < r.effective_diffusivity_ratio < upper
    # and strictly inside: a random medium is neither pure series nor pure parallel
    assert (r.effective_diffusivity_ratio - lower) > 0.05 * (upper - lower)
    assert (upper - r.effective_diffusivity_ratio) > 0.05 * (upper - lower)


def test_invariance_under_lateral_translation_and_mirroring():
    vol = hs.random_two_phase((20, 20, 16), 0.55, 1.5, 11)
    base = _f64(vol, "z", lateral="periodic").effective_diffusivity_ratio
    variants = {
        "shift x": np.roll(vol, 7, axis=0),
        "shift y": np.roll(vol, -5, axis=1),
        "mirror x": vol[::-1],
        "mirror y": vol[:, ::-1],
        "swap x,y": vol.transpose(1, 0, 2),
        "flip z (swap faces)": vol[:, :, ::-1],
    }
    for name, v in variants.items():
        r = _f64(v, "z", lateral="periodic").effective_diffusivity_ratio
        assert r == pytest.approx(base, rel=1e-9), name
    # no-flux sides: mirroring is an invariance too
    nf = _f64(vol, "z").effective_diffusivity_ratio
    assert _f64(vol[::-1, ::-1], "z").effective_diffusivity_ratio == pytest.approx(nf, rel=1e-9)


def test_periodic_lateral_joins_clusters_across_the_wrap():
    vol = np.zeros((6, 6, 8), np.uint8)
    vol[0, 2, :4] = 1  # lower half of a channel at x = 0 ...
    vol[5, 2, 3:] = 1  # ... upper half at x = 5, touching it only through the periodic face
    assert not _f64(vol, "z", lateral="no_flux").percolates
    r = _f64(vol, "z", lateral="periodic")
    assert r.percolates and r.effective_diffusivity_ratio > 0


def test_dead_ends_and_isolated_pores_carry_no_flux():
    vol = np.zeros((8, 8, 10), np.uint8)
    vol[1, 1, :] = 1  # a straight channel
    vol[5, 5, :6] = 1  # a dead end from the inlet
    vol[3, 6, 3:6] = 1  # an isolated pore
    r = _f64(vol, "z")
    assert r.effective_diffusivity_ratio == pytest.approx(1.0 / 64, rel=1e-10)
    assert r.percolating_porosity == pytest.approx(10 / 640)
    assert "do not span" in r.message


@pytest.mark.parametrize(
    "volume,kwargs,match",
    [
        (np.ones((4, 4)), {}, "3-D"),
        (np.full((4, 4, 4), np.nan), {}, "NaN"),
        (np.ones((4, 4, 1)), {"axis": "z"}, "length 1"),
        (np.ones((4, 4, 4)), {"pore_value": 7}, "does not occur"),
        (np.full((4, 4, 4), 3), {}, "cannot tell the pore phase"),
        (np.ones((4, 4, 4)), {"axis": "w"}, "axis"),
        (np.ones((4, 4, 4)), {"conductivities": {1: -1.0}}, ">= 0"),
    ],
)
def test_bad_input_gets_a_specific_error(volume, kwargs, match):
    with pytest.raises(hs.InputError, match=match):
        hs.effective_transport(volume, **kwargs)


def test_unconverged_transport_raises():
    vol = hs.random_two_phase((16, 16, 16), 0.5, 1.5, 0)
    with pytest.raises(hs.InputError, match="did not converge"):
        hs.effective_transport(vol, solver=hs.PCG(rtol=1e-9, max_steps=2))


@pytest.mark.slow
def test_agrees_with_taufactor_within_one_percent():
    """Peer check against TauFactor (needs the bench extra: torch + taufactor)."""
    tau = pytest.importorskip("taufactor")
    vol = hs.random_two_phase((48, 48, 48), 0.5, 2.0, 1)
    r = _f64(vol, "x")
    s = tau.Solver(vol.astype(np.float32), device="cpu")
    s.solve(iter_limit=100000, verbose=False, conv_crit=1e-4)
    d_rel = float(np.asarray(s.D_rel).reshape(-1)[0])
    # the requirement is 1 %; measured agreement is ~1e-6, so hold it to the benchmark's 1e-4
    assert r.effective_diffusivity_ratio == pytest.approx(d_rel, rel=1e-4)
