"""Interlayer families (hollow carbon spheres on Cu, a defective 2-D membrane over Cu): built
volumes and open areas against their analytic values, the fields the model reads (no reaction
and no nucleation on the interlayer, electrolyte in the porous shells, walls Li metal cannot
cross), one-line errors for bad
parameters, and gradients against central differences in float64."""

from __future__ import annotations

import math

import equinox as eqx
import jax.numpy as jnp
import numpy as np
import pytest

import geometries as geo
from hostsim import InputError

# small boxes (32 x 32 x 24 and 16^3 voxels at 50 nm) for the gradient and field checks
SPHERES = dict(width_um=1.6, height_um=1.2, thickness_um=0.4, sphere_diameter_um=0.4)
MEMBRANE = dict(width_um=0.8, height_um=0.8)


def lens_volume(distance: float, radius: float) -> float:
    """Volume [m³] shared by two balls of ``radius`` whose centres are ``distance`` apart."""
    if distance >= 2 * radius:
        return 0.0
    return math.pi * (4 * radius + distance) * (2 * radius - distance) ** 2 / 12


def analytic_shell_solid(family) -> float:
    """Solid volume [m³] of the packed shells: count x 4/3 pi (R³ - (R - t)³), less the lens each
    fused contact shares (the walls overlap by one shell thickness), times (1 - shell porosity)."""
    r = 0.5 * float(family.sphere_diameter_um) * 1e-6
    t = float(family.shell_thickness_um) * 1e-6
    centres = np.asarray(family.centres) * 1e-6
    width = family.width_um * 1e-6
    shared = 0.0
    for i in range(len(centres)):
        for j in range(i + 1, len(centres)):
            delta = centres[i] - centres[j]
            delta[:2] -= width * np.round(delta[:2] / width)
            shared += lens_volume(float(np.linalg.norm(delta)), r)
    shells = len(centres) * 4.0 / 3.0 * math.pi * (r**3 - (r - t) ** 3)
    return (shells - shared) * (1.0 - float(family.shell_porosity))


def slab_solid(fields) -> float:
    h = fields.grid.voxel_size
    return float(np.asarray(fields.s, np.float64)[:, :, fields.collector_layers:fields.host_top].sum()) * h**3


# ---------------------------------------------------------------- hollow sphere layer

@pytest.mark.parametrize("params,tolerance", [
    # default box (64^3 at 50 nm): 20 nm walls (0.4 voxel), thinner and thicker walls, two layers.
    # The collector layer overwrites the walls' smoothing tail where each sphere touches it, so the
    # built volume is low by 0.5 % (20 nm) to 1.2 % (5 nm; measured); crisp bands within 0.7 %.
    ({}, 0.008),
    ({"shell_thickness_um": 0.005}, 0.015),
    ({"shell_thickness_um": 0.06, "shell_porosity": 0.5}, 0.008),
    ({"layers": 2, "thickness_um": 1.4}, 0.008),
    ({"sharp": True, "shell_thickness_um": 0.06}, 0.012),
])
def test_shell_volume_matches_the_analytic_shells(params, tolerance):
    family = geo.make_family("hollow_sphere_layer", precision="float64", **params)
    fields = family.fields()
    assert len(family.centres) >= 10  # the default box holds a monolayer of ~14 spheres
    expected = analytic_shell_solid(family)
    assert slab_solid(fields) == pytest.approx(expected, rel=tolerance)


def test_spheres_rest_on_the_collector_in_the_requested_layers():
    one = geo.make_family("hollow_sphere_layer")
    z = np.asarray(one.centres)[:, 2]
    np.testing.assert_allclose(z, 0.05 + 0.35, atol=1e-12)  # every sphere touches the Cu (one voxel collector)
    two = geo.make_family("hollow_sphere_layer", layers=2, thickness_um=1.4)
    z2 = np.asarray(two.centres)[:, 2]
    assert (z2 > 0.4 + 0.3).any() and z2.max() + 0.35 <= 0.05 + 1.4 + 1e-9  # a second layer, within two diameters
    assert two.host_top * 0.05 == pytest.approx(np.ceil((z2.max() + 0.35) / 0.05 - 1e-6) * 0.05)


def test_shells_are_porous_insulating_and_lithiophobic():
    fields = geo.make_family("hollow_sphere_layer", **SPHERES).fields()
    s, k, l = (np.asarray(a, np.float64) for a in (fields.s, fields.k, fields.l))
    slab = (slice(None), slice(None), slice(fields.collector_layers, None))
    shell = s[slab] > 1e-3
    assert shell.sum() > 500
    assert np.all(l[slab] == 0) and np.all(k[slab] == 0)  # carbon: no nucleation, no reaction
    # a 20 nm wall on a 50 nm voxel is a partial fraction, and the shell's pores hold electrolyte:
    # no voxel is more than (1 - shell_porosity) solid
    assert 0.25 < s[slab].max() <= 0.7 + 1e-6
    assert np.all(1.0 - s[slab] >= 0.3 - 1e-6)
    conducting = geo.make_family("hollow_sphere_layer", shell_conducting_share=1.0, **SPHERES).fields()
    assert np.all(np.asarray(conducting.k)[slab][shell] == 1.0)
    crisp = geo.make_family("hollow_sphere_layer", sharp=True, **SPHERES).fields()
    values = np.unique(np.asarray(crisp.s, np.float64)[slab])
    np.testing.assert_allclose(values, [0.0, 0.7 * 0.4], rtol=1e-6)  # the band holds the wall's volume


def _interior(family, shape):
    """Voxels whose centre lies inside a sphere's inner wall by more than half a voxel."""
    h, width, t = family.voxel_size_um, family.width_um, float(family.shell_thickness_um)
    x, y, z = np.meshgrid(*((np.arange(n) + 0.5) * h for n in shape), indexing="ij")
    inside = np.zeros(shape, bool)
    for cx, cy, cz in family.centres:
        dx, dy = np.abs(x - cx), np.abs(y - cy)
        dx, dy = np.minimum(dx, width - dx), np.minimum(dy, width - dy)
        inside |= np.sqrt(dx * dx + dy * dy + (z - cz) ** 2) < 0.5 * float(family.sphere_diameter_um) - t - 0.5 * h
    return inside


@pytest.mark.parametrize("params", [
    {"voxel_size_um": 0.07, "sphere_diameter_um": 0.7, "thickness_um": 0.7, "width_um": 2.1, "height_um": 2.8},  # the example's box
    {},  # 20 nm walls on 50 nm voxels
    {"shell_thickness_um": 0.06},  # walls thicker than a voxel
    {"sharp": True},
])
def test_li_cannot_cross_the_sphere_walls(params):
    """The walls pass ions but not Li metal: no 6-connected path of voxels Li can fill leads from
    the electrolyte above the spheres into their interiors (laterally periodic), while the
    interiors themselves stay open to ions and Li (``0 <= li_excluded <= 1 - s``)."""
    from scipy import ndimage

    fields = geo.make_family("hollow_sphere_layer", **{**SPHERES, **params}).fields()
    s, x = np.asarray(fields.s, np.float64), np.asarray(fields.li_excluded, np.float64)
    assert x.min() >= 0.0 and np.all(x <= 1.0 - s + 1e-6)
    fillable = np.asarray(fields.li_fillable, np.float64) > 1e-3
    fillable[:, :, : fields.collector_layers] = False
    family = geo.make_family("hollow_sphere_layer", **{**SPHERES, **params})
    interior = _interior(family, s.shape)
    assert interior.sum() > 100 and fillable[interior].mean() > 0.9  # (the walls' smoothed tails close a few)
    tiled = np.tile(fillable, (3, 3, 1))  # the lateral wrap, as paths across it
    labels, _ = ndimage.label(tiled)
    from_top = np.isin(labels, np.setdiff1d(np.unique(labels[:, :, -1]), [0]))
    nx, ny = s.shape[:2]
    assert not from_top[nx:2 * nx, ny:2 * ny][interior].any()


@pytest.mark.parametrize("param", ["sphere_diameter_um", "shell_thickness_um", "shell_porosity"])
def test_sphere_solid_gradient_matches_central_differences(param):
    family = geo.make_family("hollow_sphere_layer", precision="float64", **SPHERES)
    total = lambda m: jnp.sum(m.fields().s)  # noqa: E731
    g = _gradient_matches_central_differences(family, total, param)
    if param == "shell_porosity":  # the shell solid is linear in the porosity (the collector layer is not)
        shells = float(total(family)) - 32 * 32
        assert g == pytest.approx(-shells / 0.7, rel=1e-9)


# ---------------------------------------------------------------- membrane

@pytest.mark.parametrize("params,tolerance", [
    # smooth defects: each disc's open fraction integrates to its area exactly; sampling it on the
    # voxel centres leaves a random error per disc (measured: at most 2e-5 of the layer's area)
    ({}, 1e-4),  # 66 defects of 0.1 µm (2 voxels)
    ({"defect_fraction": 0.01}, 1e-4),
    ({"defect_fraction": 0.2}, 1e-4),
    ({"defect_diameter_um": 0.02, "defect_fraction": 0.01}, 1e-4),  # 326 defects of 0.4 voxel
    ({"defect_diameter_um": 0.3, "defect_fraction": 0.1}, 1e-4),
    ({"sharp": True, "defect_diameter_um": 0.3}, 0.005),  # crisp pixels of 6-voxel discs (measured 0.001)
    ({"lateral": "no_flux"}, 1e-4),  # defects kept off the walls
])
def test_membrane_open_area_meets_the_defect_fraction(params, tolerance):
    family = geo.make_family("membrane", precision="float64", **params)
    fields = family.fields()
    s = np.asarray(fields.s, np.float64)
    layer = s[:, :, fields.host_top - 1]
    fraction = float(family.defect_fraction)
    assert 1.0 - layer.mean() == pytest.approx(fraction, abs=tolerance)
    d = float(family.defect_diameter_um)
    assert len(family.defects) == math.ceil(fraction * family.width_um**2 / (math.pi * d * d / 4) - 1e-9)


def test_membrane_layout_gap_layer_and_sealed_layer():
    fields = geo.make_family("membrane", gap_um=0.1).fields()
    s, k, l = (np.asarray(a, np.float64) for a in (fields.s, fields.k, fields.l))
    c = fields.collector_layers
    assert fields.host_top == c + 3  # two gap voxels, then the layer
    assert np.all(s[:, :, c:c + 2] == 0) and np.all(s[:, :, fields.host_top:] == 0)
    layer = s[:, :, fields.host_top - 1]
    assert layer.max() > 1 - 1e-6 and layer.min() < 0.5  # solid, with open defects
    assert np.all(k[:, :, c:] == 0) and np.all(l[:, :, c:] == 0)  # h-BN: insulating, lithiophobic
    sealed = geo.make_family("membrane", defect_fraction=0.0).fields()
    assert np.all(np.asarray(sealed.s)[:, :, sealed.host_top - 1] == 1.0)


def test_membrane_gradients_match_central_differences():
    family = geo.make_family("membrane", precision="float64", **MEMBRANE)
    total = lambda m: jnp.sum(m.fields().s)  # noqa: E731
    interface = lambda m: jnp.sum(m.fields().s * (1 - m.fields().s))  # noqa: E731
    grads = eqx.filter_grad(total)(family)
    # the open area is the fraction times the box area: d(solid voxels)/d(fraction) = -(nx ny), up
    # to how the last defect's voxel samples follow its area (1.2 % here)
    assert float(grads.defect_fraction) == pytest.approx(-16 * 16, rel=0.03)
    # at a fixed fraction the diameter moves no area (the last defect takes up the rest), up to the
    # sampling: under 1 % of the 2 x (open voxels) / d that the defects alone would move (0.6 % here) ...
    open_voxels = 16 * 16 * float(family.defect_fraction)
    assert abs(float(grads.defect_diameter_um)) < 0.01 * 2 * open_voxels / float(family.defect_diameter_um)
    # ... but it changes the layer's edges
    for param, scalar in (("defect_fraction", total), ("defect_diameter_um", interface)):
        _gradient_matches_central_differences(family, scalar, param)


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("name,params,message", [
    ("hollow_sphere_layer", {"shell_porosity": 1.0}, "hollow_sphere_layer: shell_porosity must be in [0, 1); got 1"),
    ("hollow_sphere_layer", {"sphere_diameter_um": 0.15}, "spans fewer than 4 voxels"),
    ("hollow_sphere_layer", {"shell_thickness_um": 0.2}, "shell_thickness_um (0.2) must be at most sphere_diameter_um / 4"),
    ("hollow_sphere_layer", {"layers": 2}, "layers x sphere_diameter_um (2 x 0.7 µm) exceeds thickness_um (0.7 µm)"),
    ("hollow_sphere_layer", {"layers": 1.5, "thickness_um": 1.4}, "layers must be a whole number"),
    ("hollow_sphere_layer", {"shell_conducting_share": -0.1}, "shell_conducting_share must be in [0, 1]"),
    ("membrane", {"defect_fraction": 0.6}, "membrane: defect_fraction must be in [0, 0.5]; got 0.6"),
    ("membrane", {"gap_um": 0.07}, "gap_um = 0.07 µm must be a whole number (at least 1) of voxels"),
    ("membrane", {"gap_um": 0.0}, "gap_um must be in (0, inf) µm"),
    ("membrane", {"thickness_um": 0.5}, "thickness_um is gap_um + one voxel (0.1 µm)"),
    ("membrane", {"defect_fraction": 0.5}, "do not fit"),
    ("membrane", {"defect_diameter_um": "big"}, "membrane: defect_diameter_um must be a number [µm]; got 'big'"),
])
def test_a_bad_parameter_is_one_input_error_line(name, params, message):
    with pytest.raises(InputError) as error:
        geo.make_family(name, **params)
    text = str(error.value)
    assert message in text and "\n" not in text


def test_cli_builds_and_refuses_the_interlayers(capsys):
    from hostsim.cli import main

    assert main(["geometry", "membrane", "--width", "0.8", "--height", "0.8"]) == 0
    assert main(["geometry", "hollow_sphere_layer", "--width", "1.6", "--height", "1.2", "--thickness", "0.4",
                 "--sphere-diameter", "0.4"]) == 0
    out = capsys.readouterr().out
    assert "porosity" in out
    assert main(["geometry", "membrane", "--gap", "0.07"]) == 2
    assert main(["geometry", "hollow_sphere_layer", "--shell-porosity", "1.5"]) == 2


def _gradient_matches_central_differences(family, scalar, param):
    """d scalar / d param by autodiff against central differences (float64, step 1e-4 of the value):
    to 1e-5, on a derivative that is not negligible (> 1); returns the autodiff derivative."""
    g = float(getattr(eqx.filter_grad(scalar)(family), param))
    value = float(getattr(family, param))
    step = 1e-4 * value

    def at(v):
        return float(scalar(eqx.tree_at(lambda m: getattr(m, param), family, jnp.asarray(v, jnp.float64))))

    fd = (at(value + step) - at(value - step)) / (2 * step)
    assert abs(fd) > 1.0
    assert g == pytest.approx(fd, rel=1e-5)
    return g
