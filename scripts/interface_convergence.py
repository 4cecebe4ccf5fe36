"""Convergence of the interface placement: the reaction on the interface face
(``FaceInterface``, second order) against the reaction at the electrolyte cell's centre
(``CentreInterface``, first order), on two cases at halving voxel sizes.

1. **Planar electrode** with the steady salt profile of plating against a reservoir (1D): the
   electrode potential V against the exact value (Butler–Volmer at the face concentration plus
   the ohmic and diffusion drops over L).
2. **A resolved 3D feature**: a square Cu pillar (2 x 2 x 4 µm) on a Cu foil in a periodic
   8 µm box, fast kinetics (i0 = 100 mA/cm², so the geometry sets the current), 1 mA/cm²: the
   share of the current the pillar takes. Every size is whole voxels at every h, so the voxel
   geometry is exact and only the fields' discretisation converges (a curved feature's voxel
   area itself converges at first order whatever the interface placement: measured on a
   hemispherical cap, docs/electrochemistry.md). The reference is the Richardson extrapolation
   of the three finest face-placement values.

Prints a table and writes JSON (``--output``). float64, potential solves only (no transient).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from hostsim import FARADAY, Grid, Kinetics, get_electrolyte  # noqa: E402
from hostsim.electrochemistry.potential import CentreInterface, FaceInterface, solve_potential  # noqa: E402

ORACLE = get_electrolyte("spec_oracle")
PLACEMENTS = {"centre": CentreInterface(), "face": FaceInterface()}


def planar(nz: int, interface, J=100.0, L=100e-6) -> float:
    """Relative error of V against the exact planar value (relative to the drop V - eta)."""
    kin = Kinetics(nucleation_overpotential_bare=0.0)
    e = ORACLE
    q = (1 - e.transference) * J / FARADAY
    kd, kappa = float(e.diffusional_conductivity(e.concentration)), float(e.conductivity(e.concentration))
    c_face = e.concentration - q * L / e.diffusivity_value
    phi_face = -(J * L + kd * np.log(e.concentration / c_face)) / kappa
    i0 = kin.exchange_current_density * (c_face / kin.reference_concentration) ** kin.alpha_a
    eta = -2 / kin.f * np.arcsinh(J / (2 * i0))  # alpha_a = alpha_c = 1/2
    exact = eta + phi_face
    h = L / nz
    g = Grid.create((1, 1, nz + 1), voxel_size=h, lateral="no_flux", precision="float64")
    z = (np.arange(nz + 1) - 0.5) * h
    c = e.concentration - q * (L - z) / e.diffusivity_value
    c[0] = e.concentration
    s = jnp.zeros(g.shape).at[:, :, 0].set(1.0)
    sol = solve_potential(g, s, jnp.ones_like(s), jnp.zeros_like(s), jnp.zeros_like(s),
                          jnp.asarray(c.reshape(1, 1, -1)), e, kin, current=J * h * h, interface=interface)
    return (float(sol.voltage) - exact) / (exact - eta)


def pillar_fields(n: int, width=8e-6, height=16e-6, foil=1e-6, side=2e-6, tall=4e-6):
    """A square Cu pillar (``side`` x ``side`` x ``tall``) on a Cu foil in a periodic box; every
    size is a whole number of voxels at each ``n`` (voxels across ``width``), so the voxel
    geometry is exact at every h and only the discretisation of the fields converges."""
    h = width / n
    cells = [int(round(x / h)) for x in (height, foil, side, tall)]
    nz, nf, ns, nt = cells
    assert all(abs(c * h - x) < 1e-12 for c, x in zip(cells, (height, foil, side, tall))), "sizes must be whole voxels"
    s = np.zeros((n, n, nz))
    s[:, :, :nf] = 1.0
    lo = (n - ns) // 2
    pillar = np.zeros_like(s, bool)
    pillar[lo:lo + ns, lo:lo + ns, nf:nf + nt] = True
    s[pillar] = 1.0
    return Grid.create((n, n, nz), voxel_size=h, lateral="periodic", precision="float64"), s, pillar


def pillar_share(n: int, interface) -> tuple[float, float]:
    """The share of the current (and of the interface area) on faces whose conducting side is
    the pillar; fast kinetics (i0 = 100 mA/cm², Wa = 0.003 over the pillar's height), 1 mA/cm²."""
    from hostsim.electrochemistry.interfaces import neighbours

    g, solid, pillar = pillar_fields(n)
    s = jnp.asarray(solid)
    kin = Kinetics(exchange_current_density=1000.0, nucleation_overpotential_bare=0.0)
    sol = solve_potential(g, s, jnp.ones_like(s), jnp.ones_like(s), jnp.zeros_like(s), jnp.full(g.shape, 1000.0),
                          ORACLE, kin, current=10.0 * g.length[0] ** 2, interface=interface)
    on_pillar = [np.asarray(m) for m in neighbours(g, jnp.asarray(pillar, jnp.float64))]
    a = [np.asarray(x) for x in sol.face_area]
    i = [np.asarray(x) for x in sol.face_current]
    current = sum((aq * iq).sum() for aq, iq in zip(a, i))
    share = sum((aq * iq * m).sum() for aq, iq, m in zip(a, i, on_pillar)) / current
    area = sum((aq * m).sum() for aq, m in zip(a, on_pillar)) / sum(aq.sum() for aq in a)
    return float(share), float(area)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--planar", type=int, nargs="+", default=[5, 10, 20, 40])
    p.add_argument("--pillar", type=int, nargs="+", default=[8, 16, 32, 64])
    p.add_argument("--output", default="results/interface_convergence.json")
    args = p.parse_args(argv)
    out = {"planar": [], "pillar": []}
    print("| planar: cells over L = 100 µm | h [µm] | V error / drop, centre | face |\n|---|---|---|---|")
    for nz in args.planar:
        row = {"cells": nz, "h_um": 100.0 / nz, **{name: planar(nz, itf) for name, itf in PLACEMENTS.items()}}
        out["planar"].append(row)
        print(f"| {nz} | {row['h_um']:.2f} | {row['centre']:+.3e} | {row['face']:+.3e} |", flush=True)
    for n in args.pillar:
        start = time.perf_counter()
        row = {"cells": n, "h_um": 8.0 / n}
        for name, itf in PLACEMENTS.items():
            row[name], row["area_share"] = pillar_share(n, itf)
        row["seconds"] = time.perf_counter() - start
        out["pillar"].append(row)
    face = [r["face"] for r in out["pillar"]]
    if len(face) >= 3:
        ratio = (face[-3] - face[-2]) / (face[-2] - face[-1])
        order = math.log2(abs(ratio))
        reference = face[-1] + (face[-1] - face[-2]) / (2**order - 1)
    else:
        order, reference = float("nan"), face[-1]
    out["pillar_reference"], out["pillar_observed_order"] = reference, order
    print("\n| pillar: voxels across 8 µm | h [µm] | pillar's current share, centre | face | area share | error, centre | face |")
    print("|---|---|---|---|---|---|---|")
    for r in out["pillar"]:
        print(f"| {r['cells']} | {r['h_um']:.3f} | {r['centre']:.5f} | {r['face']:.5f} | {r['area_share']:.5f} | "
              f"{r['centre'] - reference:+.2e} | {r['face'] - reference:+.2e} |")
    print(f"reference (Richardson, face, observed order {order:.2f}): {reference:.5f}")
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(out, indent=1))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
