"""Free-form 3D design (density and lithiophilicity per voxel): the Helmholtz filter against its
discrete oracle, the exact porosity of the projection, the feature size it leaves, the
constraint measures on hand-made shapes, and a free-form study through the loop (beta
continuation, resume, crisp verification)."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hostsim import Grid
from inverse.constraints import connected_host_fraction, feature_sizes, local_thickness
from inverse.freeform import FreeForm, HelmholtzFilter, beta_at, exact_mean_shift, projected
from study_fixture import TINY_SKELETON

H = 0.25e-6


def test_one_filter_pass_is_the_discrete_helmholtz_solution_of_a_plane_source():
    """A unit plane source at z = 20 of a 4x4x41 box: one pass decays from the plane by the
    discrete ratio q, q + 1/q = 2 + h²/r² (the exact solution of the 3-point scheme), keeps the
    mass and the bounds (1e-6: the PCG tolerance)."""
    g = Grid.create((4, 4, 41), H, "periodic", "z", "float64")
    d = 3 * H
    f = jnp.zeros(g.shape).at[:, :, 20].set(1.0)
    u = np.asarray(HelmholtzFilter(d, passes=1)(g, f))[0, 0]
    a = 1.0 / ((d / np.sqrt(3.0)) / H) ** 2
    q = ((2 + a) - np.sqrt((2 + a) ** 2 - 4)) / 2
    assert u[21] / u[20] == pytest.approx(q, rel=1e-5) and u[25] / u[24] == pytest.approx(q, rel=1e-5)
    two = np.asarray(HelmholtzFilter(d)(g, f))
    assert two.sum() == pytest.approx(float(f.sum()), rel=1e-6)
    assert two.min() >= -1e-9 and two.max() <= 1.0


@pytest.mark.parametrize("precision,tol", [("float64", 1e-10), ("float32", 1e-6)])
def test_projection_holds_the_porosity_exactly_at_every_beta(precision, tol):
    """The filtered, projected density of a random design has the target mean (1 - porosity) at
    beta = 1, 8, 64; the grey share falls as beta grows."""
    g = Grid.create((16, 16, 12), H, "periodic", "z", precision)
    # a random design with features of 4 voxels (white noise would filter to a nearly flat field)
    coarse = np.random.default_rng(0).normal(size=(4, 4, 3)) * 3
    x = np.repeat(np.repeat(np.repeat(coarse, 4, 0), 4, 1), 4, 2)
    rho = HelmholtzFilter(3 * H)(g, jax.nn.sigmoid(jnp.asarray(x, g.dtype)))
    grey = []
    for beta in (1.0, 8.0, 64.0):
        s = projected(rho, beta, exact_mean_shift(rho, beta, 0.35))
        assert abs(float(jnp.mean(s.astype(jnp.float64))) - 0.35) < tol
        grey.append(float(jnp.mean((s > 0.05) & (s < 0.95))))
    assert grey[0] > 0.9 and grey[1] < grey[0] and grey[2] < 0.25


def test_exact_mean_shift_has_the_implicit_function_derivative():
    """d(sum w s)/d(rho) through the exact-mean projection vs central differences (float64), so the
    constraint holds along the gradient too: the derivative of the mean itself is zero."""
    g = Grid.create((8, 8, 6), H, "periodic", "z", "float64")
    rng = np.random.default_rng(1)
    rho = jnp.asarray(rng.uniform(0.2, 0.8, g.shape))
    w = jnp.asarray(rng.normal(size=g.shape))

    def weighted(r):
        return jnp.sum(w * projected(r, 4.0, exact_mean_shift(r, 4.0, 0.4)))

    def mean(r):
        return jnp.mean(projected(r, 4.0, exact_mean_shift(r, 4.0, 0.4)))

    v = jnp.asarray(rng.normal(size=g.shape))
    e = 1e-6
    fd = (float(weighted(rho + e * v)) - float(weighted(rho - e * v))) / (2 * e)
    assert float(jnp.vdot(jax.grad(weighted)(rho), v)) == pytest.approx(fd, rel=1e-6)
    assert abs(float(jnp.vdot(jax.grad(mean)(rho), v))) < 1e-12


def test_local_thickness_of_slabs_and_rods():
    """Oracles: a slab n voxels thick (odd n; voxel centres resolve odd sizes) reads n everywhere,
    also across the periodic wrap; a square rod 5x5 reads 5."""
    for n in (3, 5, 9):
        m = np.zeros((12, 12, 30), bool)
        m[:, :, 4:4 + n] = True
        assert np.unique(local_thickness(m, True)[m]).tolist() == [n]
    m = np.zeros((20, 20, 20), bool)
    m[-2:] = m[:3] = True  # one 5-voxel slab (normal x) across the x wrap
    assert np.unique(local_thickness(m, True)[m]).tolist() == [5]
    rod = np.zeros((20, 20, 20), bool)
    rod[8:13, 8:13, :] = True
    assert np.median(local_thickness(rod)[rod]) == 5


@pytest.mark.parametrize("size_voxels", [3, 4])
def test_filter_and_projection_respect_the_minimum_feature_size(size_voxels):
    """Random (white-noise) starts, the worst case for a filter, projected crisp (beta = 64) at
    solid fraction 0.4: the median local thickness of each phase is >= the feature size d and the
    lower quartile >= d - 1 voxel (2 seeds). One filter pass of the same r leaves one-voxel
    features (median solid thickness 1): why the filter takes two."""
    g = Grid.create((32, 32, 32), H, "periodic", "z", "float64")
    d = size_voxels * H
    for seed in (0, 1):
        x = jax.nn.sigmoid(jnp.asarray(np.random.default_rng(seed).normal(size=g.shape) * 3))
        rho = HelmholtzFilter(d)(g, x)
        s = np.asarray(projected(rho, 64.0, exact_mean_shift(rho, 64.0, 0.4)))
        sizes = feature_sizes(s, H)
        for phase in ("solid", "pore"):
            assert sizes[f"{phase}_feature_median_um"] >= d * 1e6 - 1e-9
            assert sizes[f"{phase}_feature_p25_um"] >= (d - H) * 1e6 - 1e-9
    rho1 = HelmholtzFilter(d, passes=1)(g, x)
    s1 = np.asarray(projected(rho1, 64.0, exact_mean_shift(rho1, 64.0, 0.4)))
    assert feature_sizes(s1, H)["solid_feature_median_um"] <= H * 1e6 * 1.5


def test_connected_host_fraction_sees_a_floating_block():
    """A Cu post on the collector (connected) and a floating block of the same volume: 1/2; the
    post wrapping across the periodic side stays connected."""
    s = np.zeros((10, 10, 12))
    s[:, :, 0] = 1.0
    s[9, 0:2, 1:6] = s[0, 0:2, 1:6] = 1.0  # a post split by the x wrap
    s[4:6, 4:6, 8:11] = 1.0  # 12 voxels floating; the post is 2 x 2 x 5 = 20 voxels
    k = np.ones_like(s)
    assert connected_host_fraction(s, k, 1) == pytest.approx(20 / 32)
    assert connected_host_fraction(s, np.zeros_like(s), 1) == 0.0


def test_free_form_fields_keep_collector_and_electrolyte():
    """The design touches only the slab: collector layers stay dense Cu, cells above the slab stay
    electrolyte, host conducts (k = 1), and the slab's mean is the study's solid fraction."""
    import geometries as geo

    f = geo.CuSkeleton(width_um=3.0, height_um=4.0, thickness_um=2.0, fibre_length_um=2.0, voxel_size_um=0.25,
                       fibre_diameter_um=0.5, precision="float32").fields()
    from inverse.loop import design_fields

    p = FreeForm(f, porosity=0.55, feature_size=0.75e-6, beta=8.0)
    s, k, l, theta = (np.asarray(v) for v in design_fields(p, p.initial()))
    c, top = f.collector_layers, f.host_top
    assert np.array_equal(s[:, :, :c], np.asarray(f.s)[:, :, :c]) and np.all(s[:, :, top:] == 0)
    assert s[:, :, c:top].mean() == pytest.approx(0.45, abs=1e-6)
    assert np.all(k[:, :, c:top] == 1.0) and np.all((l >= 0) & (l <= 1)) and np.all(theta[:, :, c:] == 0)
    assert beta_at(0, 1.0, 10, 32.0, "doubling") == 1.0 and beta_at(25, 1.0, 10, 32.0, "doubling") == 4.0
    assert beta_at(99, 1.0, 10, 32.0, "doubling") == 32.0
    # geometric growth (the default): the same doublings, spread over the iterations between them
    assert beta_at(25, 1.0, 10, 32.0) == pytest.approx(2.0 ** 2.5)
    assert beta_at(20, 1.0, 10, 32.0) == beta_at(20, 1.0, 10, 32.0, "doubling") == 4.0
    assert beta_at(99, 1.0, 10, 32.0) == 32.0
    with pytest.raises(ValueError, match="beta growth"):
        beta_at(1, 1.0, 10, 32.0, "cubic")


FREE_FORM_STUDY = """
[design]
parameterisation = "free_form"
porosity = 0.6
feature_size_um = 0.5
beta_start = 2.0
beta_every = 1
beta_max = 8.0
max_steps = 100
""" + TINY_SKELETON + """[[protocol.segment]]
kind = "plate"
current_mA_cm2 = 4.0
capacity_mAh_cm2 = 0.03
[numerics]
time_tolerance = 0.2
[objective]
flux_cv = 1.0
[optimizer]
learning_rate = 0.5
iterations = 3
"""


@pytest.mark.slow  # ~100 s: a gradient compile through the plating transient (~50 s) and two verification runs
def test_free_form_study_continues_beta_resumes_and_verifies_crisp(tmp_path):
    """Three iterations (beta 2, 4, 8), then the same study killed after one iteration and resumed:
    the same log and design bit for bit. The verification runs the crisp design (host voxels 0 or
    1) and reports its porosity and feature sizes."""
    from inverse.loop import run_study
    from inverse.study import parse_study, read_toml

    path = tmp_path / "study.toml"
    path.write_text(FREE_FORM_STUDY)
    study = parse_study(read_toml(path, "study"), str(path))
    full = run_study(study, tmp_path / "full")
    rows = [json.loads(line) for line in (tmp_path / "full" / "log.jsonl").read_text().splitlines()]
    assert [r["beta"] for r in rows] == [2.0, 4.0, 8.0]
    assert all(abs(r["solid_fraction"] - 0.4) < 1e-6 for r in rows)
    ff = full["free_form"]
    assert ff["beta_final"] == 8.0 and 0.0 <= ff["crisp_final"]["porosity"] <= 1.0
    assert ff["crisp_final"]["solid_feature_median_um"] > 0
    # the two connectivity measures of the crisp design agree: all metal connected <=> no hot island
    crisp = ff["crisp_final"]
    assert (crisp["connected_host_fraction"] == 1.0) == (crisp["virtual_temperature"] < 5.0)
    assert set(full["verification"]) == {"start", "final"}

    study.optimizer.iterations = 1
    run_study(study, tmp_path / "part", verify=False)
    study.optimizer.iterations = 3
    again = run_study(study, tmp_path / "part", resume=True, verify=False)
    strip = lambda rows: [{k: v for k, v in r.items() if k != "step_s"} for r in rows]  # noqa: E731
    part_rows = [json.loads(line) for line in (tmp_path / "part" / "log.jsonl").read_text().splitlines()]
    assert strip(part_rows) == strip(rows)
    with np.load(tmp_path / "full" / "checkpoint.npz") as a, np.load(tmp_path / "part" / "checkpoint.npz") as b:
        assert np.array_equal(a["x"], b["x"])
    assert again["final"] == full["final"]


def test_a_free_form_study_resumes_only_on_the_beta_schedule_it_started_with(tmp_path):
    """A checkpoint keeps the study's beta_growth; one without it was written when doubling was the
    only schedule. Resuming with another schedule (the default changed) is one line naming the key
    to add, before anything is touched."""
    from hostsim import InputError
    from inverse.loop import _check_beta_growth
    from inverse.study import parse_study, read_toml

    path = tmp_path / "study.toml"
    path.write_text(FREE_FORM_STUDY)
    study = parse_study(read_toml(path, "study"), str(path))
    assert study.design.beta_growth == "geometric"
    old = tmp_path / "old.npz"
    np.savez(old, x=np.zeros(3), iteration=np.asarray(1))
    with pytest.raises(InputError, match='add beta_growth = "doubling"'):
        _check_beta_growth(old, study)
    new = tmp_path / "new.npz"
    np.savez(new, x=np.zeros(3), iteration=np.asarray(1), beta_growth=np.asarray("geometric"))
    _check_beta_growth(new, study)
    pinned = parse_study(read_toml(path, "study") | {"design": {**read_toml(path, "study")["design"],
                                                                 "beta_growth": "doubling"}}, str(path))
    _check_beta_growth(old, pinned)
