"""Open volume that passes ions but takes no Li metal (``li_excluded``: a mesoporous shell's pores).

Oracles: with none, every field is bit for bit what it was (the default); a conducting
mesoporous layer on a foil takes no Li and the Li plates on top of it, every coulomb as metal or
SEI; a cavity behind such a layer still reacts (its ions come through the pores); Au-seeded
capsules mark their walls closed to Li (that their Li stays inside is a seed-paper claim:
tests/test_seed_papers.py); the field has a derivative, checked against central differences in
float64."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import geometries as geo
from hostsim import FARADAY, LI_MOLAR_VOLUME, Grid, Kinetics, get_electrolyte
from hostsim.electrochemistry.interfaces import face_areas, li_fill, li_room
from hostsim.electrochemistry.metrics import COULOMB_PER_MAH_CM2
from hostsim.electrochemistry.potential import solve_potential
from hostsim.run.protocol import Protocol, Segment
from hostsim.run.simulation import simulate

LP30 = get_electrolyte("lp30")


def _random_host(g, seed=0):
    rng = np.random.default_rng(seed)
    s = rng.uniform(0.0, 1.0, g.shape) * (rng.uniform(size=g.shape) < 0.4)
    theta = (1.0 - s) * rng.uniform(0.0, 1.0, g.shape) * (rng.uniform(size=g.shape) < 0.3)
    return (jnp.asarray(x, g.dtype) for x in (s, (s > 0.3).astype(float), theta))


def test_no_excluded_volume_is_the_default_bit_for_bit():
    """``li_excluded`` of zeros gives exactly the faces of ``None`` (the code path every existing
    host takes), and the room is ``1 - s``."""
    g = Grid.create((6, 5, 7), voxel_size=1e-6, precision="float32")
    s, k, theta = _random_host(g)
    zero = jnp.zeros_like(s)
    for stripping in (False, True):
        for a, b in zip(face_areas(g, s, k, theta, stripping=stripping),
                        face_areas(g, s, k, theta, stripping=stripping, excluded=zero)):
            assert np.array_equal(np.asarray(a), np.asarray(b))
    assert np.array_equal(np.asarray(li_room(s)), np.asarray(li_room(s, zero)))
    assert np.array_equal(np.asarray(li_fill(s, theta)), np.asarray(li_fill(s, theta, zero)))


def _mesoporous_foil(g, layer=(1, 3)):
    """A Cu foil (layer 0) under a conducting, lithiophobic layer of 50 % solid whose pores pass
    ions but take no Li (``li_excluded = 0.5`` in layers ``layer``)."""
    s = np.zeros(g.shape)
    s[:, :, 0] = 1.0
    s[:, :, layer[0]:layer[1]] = 0.5
    excluded = np.zeros(g.shape)
    excluded[:, :, layer[0]:layer[1]] = 0.5
    return (jnp.asarray(x, g.dtype) for x in (s, np.ones(g.shape), np.zeros(g.shape), excluded))


def test_a_mesoporous_layer_takes_no_li_and_the_li_plates_on_top():
    """0.2 mAh/cm² plated onto a foil under a two-layer conducting mesoporous film: no Li in the
    film (its room is zero), all of it in the first layers above, Li metal + SEI = the charge
    passed (to 1e-6)."""
    g = Grid.create((2, 2, 12), voxel_size=0.5e-6, lateral="periodic", precision="float32")
    s, k, l, excluded = _mesoporous_foil(g)
    res = simulate("film", g, s, k, l, jnp.zeros_like(s), LP30, Kinetics(), Protocol((Segment.plate(1.0, 0.2),)),
                   collector_layers=1, host_top=3, li_excluded=excluded)
    theta = np.asarray(res.state.theta, np.float64)
    assert res.summary["message"] == "completed"
    assert np.abs(theta[:, :, 1:3]).max() < 1e-6
    metal = theta.sum() * g.voxel_size**3 / LI_MOLAR_VOLUME * FARADAY / (g.length[0] * g.length[1])  # [C/m²]
    sei = res.summary["sei_loss_mAh_cm2"] * COULOMB_PER_MAH_CM2
    assert metal + sei == pytest.approx(0.2 * COULOMB_PER_MAH_CM2, rel=1e-5)
    assert theta[:, :, 3].mean() > 0.9  # the first layer above the film is dense Li


def test_a_cavity_behind_a_mesoporous_wall_still_reacts():
    """The faces into a cell closed to Li carry no current, but a cell behind it is no sealed
    pocket: its ions come through the excluded pores (``ion_access`` counts them)."""
    g = Grid.create((1, 1, 6), voxel_size=1e-6, lateral="no_flux", precision="float64")
    s = jnp.asarray(np.r_[1.0, 0.0, 0.7, 0.0, 0.0, 0.0][None, None, :], g.dtype)
    k = jnp.ones(g.shape, g.dtype)
    excluded = jnp.asarray(np.r_[0.0, 0.0, 0.3, 0.0, 0.0, 0.0][None, None, :], g.dtype)
    areas = [np.asarray(a) for a in face_areas(g, s, k, jnp.zeros(g.shape, g.dtype), excluded=excluded)]
    total = sum(areas)[0, 0]
    h2 = g.voxel_size**2
    assert total[1] == pytest.approx(1.7 * h2, rel=1e-12)  # the cavity reacts: on the Cu and the wall's inside
    assert total[2] == 0.0  # nothing deposits into the wall
    assert total[3] == pytest.approx(0.7 * h2, rel=1e-12)  # the wall's outer face, on the carbon
    # a wall without pores seals the cavity off (ion_access): the pores are what reach it
    dense = s.at[0, 0, 2].set(1.0)
    sealed = sum(np.asarray(a) for a in face_areas(g, dense, k, jnp.zeros(g.shape, g.dtype)))[0, 0]
    assert sealed[1] == 0.0


def _capsules():
    family = geo.SeededCapsules(width_um=0.9, height_um=1.2, thickness_um=0.9, voxel_size_um=0.02)
    return family, family.fields()


def test_capsule_walls_take_no_li_and_keep_the_cavities_reachable():
    """The seeded-capsule family marks its shells' mesopores (and voxels mostly wall) closed to Li:
    ``0 <= li_excluded <= 1 - s``, zero outside the walls."""
    family, f = _capsules()
    x, s = np.asarray(f.li_excluded, np.float64), np.asarray(f.s, np.float64)
    assert x.min() >= 0.0 and np.all(x <= 1.0 - s + 1e-6)
    wall = (np.asarray(f.l) == 0.0) & (s >= 0.7 * 0.75)  # at least 3/4 wall (and no Au)
    wall[:, :, : f.collector_layers] = False
    assert wall.sum() > 100 and np.abs(np.asarray(f.li_fillable)[wall]).max() < 1e-6
    assert np.allclose(x[wall & (s > 0.699)], 0.3, atol=1e-3)  # a whole wall voxel: its 30 % mesopores
    assert np.all(x[:, :, : f.collector_layers] == 0.0) and np.all(x[:, :, f.host_top:] == 0.0)
    assert np.asarray(f.li_fillable).min() >= 0.0


def _share_into_the_layer(precision):
    """``scale -> share of the current deposited into a mesoporous layer whose li_excluded is
    scaled by it`` (one galvanostatic potential solve)."""
    g = Grid.create((2, 2, 6), voxel_size=1e-6, lateral="periodic", precision=precision)
    s, k, l, excluded = _mesoporous_foil(g, layer=(1, 2))
    theta = jnp.zeros_like(s)
    c = jnp.full(g.shape, LP30.concentration, g.dtype)
    current = 10.0 * g.length[0] * g.length[1]

    def into_the_layer(scale):
        # the layer's pores partly open to Li: some current deposits into it, the rest on top
        sol = solve_potential(g, s, k, l, theta, c, LP30, Kinetics(), current=current, li_excluded=excluded * scale)
        return jnp.sum(sol.reaction[:, :, 1]) * g.voxel_size**3 / current

    return into_the_layer


def test_the_excluded_volume_has_a_derivative():
    """d(current into the cell above a mesoporous layer)/d(li_excluded of the layer): float64
    against central differences (1e-5); float32 finite and within 2 % of float64."""
    into_the_layer = _share_into_the_layer("float64")
    value, grad = jax.value_and_grad(into_the_layer)(0.6)
    step = 1e-4
    central = (into_the_layer(0.6 + step) - into_the_layer(0.6 - step)) / (2 * step)
    assert 0.0 < float(value) < 1.0 and float(grad) < 0.0
    assert float(grad) == pytest.approx(float(central), rel=1e-5)
    grad32 = jax.grad(_share_into_the_layer("float32"))(jnp.float32(0.6))
    assert np.isfinite(float(grad32)) and float(grad32) == pytest.approx(float(grad), rel=0.02)


def test_label_maps_and_vti_files_carry_the_excluded_volume(tmp_path):
    """An imported volume takes ``li_excluded`` from its materials (``mesoporous_carbon``: 0.3 of
    the voxel), None when no material has any; a saved host's ``.vti`` carries it back."""
    volume = np.zeros((3, 3, 4), np.uint8)
    volume[:, :, 1] = 2
    volume[1, 1, 0] = 1
    f = geo.fields_from_labels(volume, 0.5, {0: "electrolyte", 1: "cu", 2: "mesoporous_carbon"}, add_collector=True,
                               precision="float64")
    x = np.asarray(f.li_excluded)
    assert np.all(x[:, :, 2] == 0.3) and x.sum() == pytest.approx(0.3 * 9)  # layer 1 of the volume, after the collector
    assert np.allclose(np.asarray(f.li_fillable)[:, :, 2], 0.0) and np.asarray(f.s)[0, 0, 2] == 0.7
    assert geo.fields_from_labels(volume, 0.5, {0: "electrolyte", 1: "cu", 2: "carbon"}).li_excluded is None
    path = tmp_path / "host.vti"
    geo.save_host_vti(path, f)
    back = geo.load_host_vti(path, precision="float64")
    assert np.array_equal(np.asarray(back.li_excluded), x)
