"""Salt transport in the electrolyte: backward-Euler steps of the porous-medium balance

    d(eps c)/dt = div(D_eff grad c) - (1 - t+) R_v / F

on the voxel grid, with ``D_eff`` a cell field [m²/s] (harmonic means on faces), the porosity
``eps`` a cell field, a volumetric sink [mol/(m³ s)], and end-face conditions on the
through-plane axis: a flux [mol/(m² s)] *into* the electrolyte, or a fixed concentration
(reservoir, c = c0). One step is one SPD solve with the multigrid-preconditioned CG of
:mod:`hostsim.numerics.linsolve` (implicit adjoint, so steps can be differentiated and scanned).

The system is scaled by a reference diffusivity ``d_ref`` so that its coefficients are O(1)
(the solver's convergence test assumes that).

Backward Euler is first order in time and unconditionally stable: a step may be as long as the
plating protocol needs. The surface concentration at a flux face is extrapolated from the first
cell with the known flux, ``c_face = c_1 + J h / (2 D_eff)``, which is exact for the linear
profile of a boundary layer resolved by a few cells.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from hostsim.numerics.grid import Grid
from hostsim.numerics.linsolve import PCG, linear_solve
from hostsim.numerics.operators import Dirichlet, Neumann, assemble, materialized, shift


def salt_step(
    grid: Grid,
    concentration,
    porosity,
    effective_diffusivity,
    dt: float,
    *,
    sink=0.0,
    lo=Neumann(0.0),
    hi=Neumann(0.0),
    d_ref: float = 1e-10,
    solver: PCG = PCG(rtol=1e-8),
    initial_guess=None,
):
    """One backward-Euler step; returns the new concentration [mol/m³] and the solve stats.

    Args:
        concentration: c at the start of the step [mol/m³], shape ``grid.shape``.
        porosity: electrolyte fraction eps [-] (cell field or scalar, > 0 where c is defined).
        effective_diffusivity: D_eff [m²/s] (cell field or scalar).
        dt: step [s].
        sink: salt removed per volume and time [mol/(m³ s)] (``(1 - t+) R_v / F`` when plating).
        lo, hi: :class:`Neumann` (flux into the electrolyte [mol/(m² s)]) or :class:`Dirichlet`
            (concentration [mol/m³]) on the two end faces of ``grid.axis``.
        initial_guess: where PCG starts (default: ``concentration``); the tolerance stays relative
            to the right-hand side, so the guess changes the work, not the answer.
    """
    c = grid.as_field(concentration)
    eps = jnp.broadcast_to(jnp.asarray(porosity, c.dtype), c.shape)
    k = jnp.broadcast_to(jnp.asarray(effective_diffusivity, c.dtype), c.shape) / d_ref
    op, rhs = assemble(
        grid, k, lo.per_coefficient(d_ref), hi.per_coefficient(d_ref),
        reaction=eps / (d_ref * dt),
        source=(eps * c / dt - sink) / d_ref,
    )
    # no run-time error here: a host callback (equinox.error_if) keeps its program out of JAX's persistent
    # compilation cache, so every command recompiled (docs/performance.md: wall time of `hostsim simulate`).
    # The caller sees ``stats.converged`` and stops the run on an unconverged step.
    return linear_solve(op, rhs, solver, initial_guess=c if initial_guess is None else initial_guess, throw=False)


DRY = 1e-6  # electrolyte fraction at or below which a cell holds no electrolyte (the operators' floor)
STRANDED_REACH = 4  # [cells]: how far a sink stranded in a closed pore is carried to the nearest electrolyte


def _route_stranded(grid: Grid, out, dry, inside):
    """Carry the sink that sits in dry cells to the nearest electrolyte: each pass hands a dry
    cell's sink, in equal shares, to its neighbours one cell nearer electrolyte (a distance field
    of :data:`STRANDED_REACH` min-plus passes), so after that many passes all of it sits in wet
    cells, the total unchanged. Sink farther than that from any electrolyte stays."""
    from hostsim.electrochemistry.interfaces import neighbours

    far = jnp.asarray(STRANDED_REACH + 1, out.dtype)
    distance = jnp.where(dry, far, 0.0)
    for _ in range(STRANDED_REACH):
        near = [jnp.where(i > 0, n, far) for n, i in zip(neighbours(grid, distance), inside)]
        distance = materialized(jnp.minimum(distance, 1.0 + jnp.min(jnp.stack(near), axis=0)))
    near = [(i > 0) & (n < distance) for n, i in zip(neighbours(grid, distance), inside)]
    closer = sum(x.astype(out.dtype) for x in near)
    moves = dry & (closer > 0)
    shares = [jnp.where(moves, x / jnp.where(moves, closer, 1.0), 0.0) for x in near]
    for _ in range(STRANDED_REACH):
        # stored before it is shifted (else XLA recomputes every pass before it inside every shift)
        stranded = materialized(jnp.where(moves, out, 0.0))
        out = out - stranded
        d = 0
        for axis in range(3):
            if grid.shape[axis] == 1:
                continue
            for offset in (-1, 1):
                out = out + shift(stranded * shares[d], -offset, axis, grid.periodic[axis])
                d += 1
    return out


def shared_sink(grid: Grid, sink, porosity, threshold: float = 0.5):
    """Hand part of the salt sink of nearly full cells to their electrolyte neighbours.

    A cell keeps the share ``smoothstep(eps / threshold)`` of its sink [mol/(m³ s)] (all of it
    while half or more of it is electrolyte) and gives the rest to its face neighbours in
    proportion to their electrolyte fraction. The total is unchanged. Why: a Li front inside a
    cell that is 95 % Li faces the electrolyte of the cells next to it; the full sink on its 5 %
    of electrolyte made backward Euler drive c negative there, because the faces that could resupply
    it carry only ~eps of a full face's conductance (docs/electrochemistry.md: salt at the front).
    The kept sink per electrolyte volume, ~3 eps / threshold² x sink, vanishes as eps -> 0.

    **A pore that closes within the step.** A cell left without electrolyte whose neighbours hold
    none either (a narrow channel of nearly full cells that all fill in one step) cannot keep its
    sink: on the operators' electrolyte floor (1e-6) backward Euler drove its c far below zero and
    the run stopped as "depleted" (docs/electrochemistry.md: where the reaction sits). The salt that
    reaction consumed came from the nearest electrolyte, so such a stranded sink is carried there, cell by cell
    along the shortest path, up to :data:`STRANDED_REACH` cells. Steps without a closing pore
    skip this (nothing is stranded) and are unchanged.
    """
    from hostsim.electrochemistry.interfaces import neighbours, smoothstep

    eps = jnp.broadcast_to(jnp.asarray(porosity, grid.dtype), grid.shape)
    sink = jnp.broadcast_to(jnp.asarray(sink, grid.dtype), grid.shape)
    around = neighbours(grid, eps)
    total = sum(around)
    wet = total > 1e-12
    keep = jnp.where(wet, smoothstep(eps / threshold), 1.0)
    safe_total = jnp.where(wet, total, 1.0)  # not max(total, tiny): its reverse pass overflows in float32 (NaN)
    # a cell p receives from its neighbour q the share eps_p / total_q of q's moved sink: the moved
    # sink per unit of its neighbours' electrolyte is stored before it is shifted, and each cell
    # multiplies what reaches it by its own eps (shifting moved x share instead made XLA recompute the
    # neighbour sum inside every shift; docs/solver.md: measurements behind the code)
    per_share = materialized(sink * (1.0 - keep) / safe_total)
    arriving = []
    for axis in range(3):
        if grid.shape[axis] == 1:
            continue
        for offset in (-1, 1):
            arriving.append(shift(per_share, -offset, axis, grid.periodic[axis]))
    out = sink * keep + eps * sum(arriving)
    dry = jax.lax.stop_gradient(eps) <= DRY
    inside = neighbours(grid, jnp.ones(grid.shape, grid.dtype))  # 0 across the grid's non-periodic ends
    # only a step in which a pore closes pays for the routing
    return jax.lax.cond(jnp.any(dry & (out != 0.0)), lambda o: _route_stranded(grid, o, dry, inside), lambda o: o,
                        materialized(out))


def face_concentration(first_cell, flux_into, effective_diffusivity, voxel_size):
    """Concentration on a flux face, extrapolated from its cell: ``c_1 + J h / (2 D)``
    (``flux_into`` is the flux into the electrolyte; a sink face has ``flux_into < 0``)."""
    return first_cell + flux_into * voxel_size / (2.0 * effective_diffusivity)


__all__ = ["Dirichlet", "Neumann", "face_concentration", "salt_step", "shared_sink"]
