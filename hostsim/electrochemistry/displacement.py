"""The electrolyte that growing Li displaces, and the salt it carries to the reservoir.

Li growing into a cell takes the volume ``(eps_old - eps_new) h³`` of its electrolyte within a
step. The electrolyte is incompressible, so that volume flows through the connected pores to the
top face (the reservoir, or a counter electrode that recedes by the deposit's volume), and back in
where Li strips. It flows with its salt: in the frame of a planar front the electrolyte is then at
rest, and Sand's time is the textbook value (docs/model.md §3, docs/electrochemistry.md).

**The flow.** A potential flow through the open fraction of each cell, the electrolyte's own
conductance for it: ``-div(eps grad u) = q`` with ``q = (eps_old - eps_new) / dt`` [1/s] per cell,
``u = 0`` on the top face and no flux through the collector side (the lateral sides as the grid
has them). The rate from cell p to its neighbour r is ``w = eps_f (u_p - u_r)`` [1/s of a cell's
volume], ``eps_f`` the faces' harmonic mean, and ``2 eps_p u_p`` through the top face; a cell's
rates sum to its ``q`` (to the solve's tolerance). Porous-medium flow (Darcy's law) has the
permeability in place of eps; which conductance is used changes the paths the volume takes
through a 3D host, not the volume nor the salt it carries.

**The salt.** Each face carries its rate times the upwind concentration (the cell it leaves;
the reservoir's c0 flowing in from a reservoir, the top cell's own c from a counter electrode).
The salt step's accumulation term holds ``eps_new``, which deletes the displaced salt in place;
the source gives that back (``q c``) and adds what the faces bring in and take out. The rates are
antisymmetric across every face, so no salt is created or deleted whatever the flow solve's
residual, and the top face's flows are the salt that leaves or enters the box
(``displaced_salt``). Where the solve is exact a cell's own outflow cancels ``q c`` and what
remains is ``sum over inflowing faces of |w| (c_upwind - c_p)`` [mol/(m³ s)]. The term is
explicit (the concentrations at the step's start) and needs no step limit of its own: at the voxel
scale the salt's diffusion, implicit in the same step, is far faster than the displacement flow
(D / h² ~ 20 /s at 0.125 µm against rates ~0.01 /s; a cell Péclet number ~1e-3), so it smooths
what the explicit term overshoots in a small cell (a Courant bound would hold the steps to the
nearly closed cells next to the front: docs/model.md §3).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from hostsim.numerics.grid import Grid
from hostsim.numerics.linsolve import PCG, linear_solve
from hostsim.numerics.operators import Dirichlet, Neumann, assemble, face_coefficients, shift

FLOW_RTOL = 1e-4  # the flow's relative tolerance: it routes the salt (conserved exactly whatever it is)
OPEN_FLOOR = 1e-6  # open fraction of a closed cell: its electrolyte still connects (as the salt's floor)
OPEN_CELL = 1e-3  # cells with less electrolyte than this are left out of the Courant number


class Displacement(NamedTuple):
    """What the displaced electrolyte does in one step."""

    salt_source: jax.Array  # [mol/(m³ s)] per cell: the salt the inflow brings beyond the cell's own c
    top_outflow: jax.Array  # [mol/s]: salt leaving through the top face with the flow (< 0: entering)
    courant: jax.Array  # largest inflow of a step into an open cell over its electrolyte [-] (a diagnostic)
    iterations: jax.Array  # PCG iterations of the flow


def face_rates(grid: Grid, eps, u):
    """Per axis, the rate from cell i to i+1 [1/s] (wrap-around layout: the last entry is the
    periodic face, zero on a non-periodic axis), and the rate out through the top face."""
    faces = face_coefficients(eps, grid.periodic)
    rates = tuple(f * (u - shift(u, 1, d, grid.periodic[d])) for d, f in enumerate(faces))
    top = jnp.zeros_like(u).at[:, :, -1].set(2.0 * eps[:, :, -1] * u[:, :, -1])
    return rates, top


def displacement(grid: Grid, eps_old, eps_new, concentration, dt, *, inflow_concentration=None,
                 solver: PCG = PCG(rtol=FLOW_RTOL)) -> Displacement:
    """The displaced electrolyte's flow over a step of ``dt`` [s] (module docstring).
    ``inflow_concentration``: what flows in through the top face [mol/m³] (None: the top cell's
    own, as from a counter electrode)."""
    eps_old, eps_new = jnp.maximum(eps_old, OPEN_FLOOR), jnp.maximum(eps_new, OPEN_FLOOR)
    q = (eps_old - eps_new) / jnp.where(dt > 0, dt, 1.0)
    op, rhs = assemble(grid, eps_new, Neumann(0.0), Dirichlet(0.0), source=q / grid.voxel_size**2)
    u, stats = linear_solve(op, rhs, solver, throw=False)
    rates, top = face_rates(grid, eps_new, u)
    c = concentration
    # what the salt step's accumulation term (on eps_new) deletes in place is given back, and every
    # face carries its upwind salt: exactly conservative, whatever the flow solve's residual
    source = q * c
    inflow = jnp.zeros_like(c)  # the rate flowing into each cell [1/s]
    for d, w in enumerate(rates):
        periodic = grid.periodic[d]
        # the face to i+1 (w > 0: out of i; w < 0: into i, from i+1), and the face from i-1
        out_next, from_next = jnp.maximum(w, 0.0), jnp.maximum(-w, 0.0)
        from_previous, out_previous = shift(out_next, -1, d, periodic), shift(from_next, -1, d, periodic)
        source = (source + from_next * shift(c, 1, d, periodic) + from_previous * shift(c, -1, d, periodic)
                  - (out_next + out_previous) * c)
        inflow = inflow + from_next + from_previous
    c_in = c if inflow_concentration is None else jnp.broadcast_to(jnp.asarray(inflow_concentration, c.dtype), c.shape)
    source = source + jnp.maximum(-top, 0.0) * c_in - jnp.maximum(top, 0.0) * c
    inflow = inflow + jnp.maximum(-top, 0.0)
    outflow = jnp.sum(jnp.maximum(top, 0.0) * c - jnp.maximum(-top, 0.0) * c_in) * grid.voxel_size**3
    # the Courant number, a diagnostic (module docstring: the step needs no limit from it)
    open_cells = eps_new > OPEN_CELL
    courant = jnp.max(jnp.where(open_cells, inflow * dt / jnp.where(open_cells, eps_new, 1.0), 0.0))
    return Displacement(source, outflow, courant, stats.iterations)
