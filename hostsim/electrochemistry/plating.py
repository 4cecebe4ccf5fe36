"""Plating and stripping of Li into the voxels of a host: the physics of one time step.

A :class:`PlatingState` carries, besides the Li and the salt, the quasi-static potential *of
that state* at the segment's current, and with it the current on every interface face. A step
of ``dt`` seconds (:func:`advance`) then is:

1. the Li change, face by face, from the stored face currents: a face with plating current
   (``i > 0``) deposits ``V_m i A dt / F`` of Li into its electrolyte-side cell; a face with
   stripping current (``i < 0``) removes Li from that cell while it holds some (the Li that face
   deposited), else from the conducting-side cell. Nothing is clipped: a step that would
   overfill a cell or strip Li that is not there is *inadmissible*, and the time integrator
   (:mod:`hostsim.electrochemistry.integrate`) retries it smaller, so every coulomb the
   galvanostat asks for passes;
2. the SEI proxy's Li: fresh Li/electrolyte area owes ``q_SEI`` per m² (:func:`solve_state`
   books it); a plating step pays what is owed out of the Li it plates, in proportion to where
   it plates (a formation phase: on a bare high-area host most of the first current makes SEI);
3. backward-Euler salt update with the sink ``(1 - t+) R_v / F`` in the electrolyte-side cells,
   on the new electrolyte fraction (:func:`hostsim.electrochemistry.salt.shared_sink` hands part
   of a nearly full cell's sink to its electrolyte neighbours); the electrolyte that growing Li
   displaces flows to the top face with its salt (:mod:`hostsim.electrochemistry.displacement`),
   and the salt it carries out of the box is reported as ``displaced_salt`` [mol].

:func:`solve_state` then solves the potential at the new state (first same as last: the
solution that closes one step is the one the next step plates with). Its face currents are
scaled to pass exactly the requested current (the Newton solve meets it to ``~1e-5``; the scale
moves each face by that much), so the Li plated in a step is exactly ``I dt`` and the salt
consumed exactly ``(1 - t+) I dt / F``.

Units: ``theta`` [-], ``c`` [mol/m³], ``V`` [V], currents [A], charge [C], time [s].
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp

from hostsim.electrochemistry.cell import AbstractCellTop, Reservoir
from hostsim.electrochemistry.constants import FARADAY, LI_MOLAR_VOLUME
from hostsim.electrochemistry.displacement import FLOW_RTOL, displacement
from hostsim.electrochemistry.interfaces import FULL
from hostsim.electrochemistry.metrics import Q_SEI, RESOLVED_FACE, envelope_heights, flux_statistics, li_interface_area
from hostsim.electrochemistry.interfaces import li_fill, li_room, smoothstep
from hostsim.electrochemistry.coating import crack_update, film_statistics
from hostsim.electrochemistry.potential import FaceInterface, li_covers, potential_problem, solve_problem
from hostsim.electrochemistry.salt import salt_step, shared_sink
from hostsim.electrochemistry.separator import Separator
from hostsim.numerics.connectivity import attached, conducting_nodes, update_connected
from hostsim.numerics.grid import Grid
from hostsim.numerics.linsolve import PCG
from hostsim.numerics.linsolve import SOLUTION_NAME as LINEAR_SOLUTION
from hostsim.numerics.newton import SOLUTION_NAME as NEWTON_SOLUTION
from hostsim.numerics.newton import AbstractNewton, AdaptiveNewton
from hostsim.numerics.operators import Neumann, cotangent_stored, materialized, shift_stored

# What a rematerialised step keeps for the backward pass: the converged potential (phi, V, A^-1 b)
# and the salt solve's solution, so the backward pass repeats neither the Newton iterations nor the
# salt solve, only the cheap elementwise work around them
SAVED_IN_STEPS = jax.checkpoint_policies.save_only_these_names(NEWTON_SOLUTION, LINEAR_SOLUTION)

FLOAT32_DERIVATIVE_RTOL = 1e-3  # the derivative solves in float32 (why: see _solver_for)
SATURATION_PASSES = 3  # passes of saturated_flows (one leaves the carried current's own overflow)
TOP_MARGIN_LAYERS = 2  # voxel layers under the top face kept free of Li (the reservoir's boundary cells)


ROUND_OFF_SLACK = 100.0  # a cell may end a step this many eps past empty or full (round-off, not Li)
# the area, in voxel faces, a column's film absorbs beyond its strain before it cracks: a front cell
# filling out of phase with its neighbour shows up to ~0.6 of a face of side area it does not have
# (the faces' weights), so a column's interface area is resolved to about a face (docs/model.md: cracking)
CRACK_SLACK = 1.0

class PlatingState(NamedTuple):
    theta: jax.Array  # Li-metal fraction [-]
    concentration: jax.Array  # salt [mol/m³]
    time: jax.Array  # [s]
    passed_charge: jax.Array  # net charge through the external circuit [C] (plating > 0)
    sei_charge: jax.Array  # Li turned into SEI [C] (paid out of plated Li)
    sei_owed: jax.Array  # SEI charge that fresh Li area owes and plating has not yet paid [C]
    sei_reference_area: jax.Array  # largest Li/electrolyte area [m²] of this plating segment so far
    displaced_salt: jax.Array  # salt pushed out by growing Li [mol]
    plated_time: jax.Array  # per cell, sum of t dtheta+ over plating increments [s]
    plated_amount: jax.Array  # per cell, sum of dtheta+ [-]
    connected: jax.Array  # bool per cell: conducting node connected to the collector
    concentration_change: jax.Array  # c of the last step minus c before it [mol/m³]
    voltage_change: jax.Array  # V of the last step minus V before it [V]
    last_dt: jax.Array  # length of the last step [s] (0: none yet in this segment)
    # the potential of this state at the segment's current (what the next step plates with)
    phi: jax.Array  # electrolyte potential [V]
    voltage: jax.Array  # working electrode against the reference or counter electrode [V]
    electrode_potential: jax.Array  # working electrode vs the electrolyte at the top face [V] (Newton's warm start)
    border_solution: jax.Array  # Newton's A^-1 dF/dV (the next solve's warm start; not differentiated)
    face_flows: jax.Array  # (directions, *grid.shape): current through each interface face [A], owned by its electrolyte-side cell
    interfacial_current: jax.Array  # per cell, area-weighted mean current density of its interface faces [A/m²] (0 below 1e-3 h²)
    # a film on the Li that cracks (hostsim.electrochemistry.coating: cracking), per cell its column's:
    film_reference_area: jax.Array  # largest substrate area the column's film has covered [m²]
    film_cracked: jax.Array  # cracked share of the film [-]


class Observation(NamedTuple):
    """What a state's potential solve shows (one row of a run's time series)."""

    voltage: jax.Array  # [V]
    min_concentration: jax.Array  # [mol/m³] over electrolyte cells (eps > 0.5)
    min_interface_concentration: jax.Array  # [mol/m³] surface c (extrapolated to the interface) over cells owning interface area
    potential_residual: jax.Array  # relative charge-balance residual
    current_error: jax.Array  # (passed - requested) / requested current of the Newton solve, before the faces are scaled
    newton_iterations: jax.Array
    linear_iterations: jax.Array  # PCG iterations of the potential solve (-1: not counted)
    newton_converged: jax.Array
    flux_mean: jax.Array  # area-weighted mean interfacial current density [A/m²] (sign of the segment)
    flux_cv: jax.Array  # [-]
    hotspot_ratio: jax.Array  # max / mean [-]
    hotspot_pnorm: jax.Array  # p-norm / mean [-] (p = 8)
    li_interface_area: jax.Array  # Li/electrolyte area [m²]
    li_metal_charge: jax.Array  # all Li metal in the electrode, attached or not, as charge [C]
    dead_li_charge: jax.Array  # Li not attached to the collector [C]
    top_li: jax.Array  # largest Li fill of a cell in the top TOP_MARGIN_LAYERS layers (the layer under a separator) [-]
    envelope_mean: jax.Array  # electrode height above the collector, mean over the columns [m]
    envelope_max: jax.Array  # ... its highest column [m]
    film_overpotential_mean: jax.Array  # coatings' drop R_f |i| the mean coulomb crosses [V] (0: no coating)
    film_overpotential_max: jax.Array  # ... its largest over the faces [V]
    coated_current_share: jax.Array  # share of the current crossing a coating [-]
    min_overpotential: jax.Array  # most negative V - phi over cells owning interface [V] (plating's surface overpotential)
    separator_min_concentration: jax.Array  # [mol/m³] lowest c in a separator's pores (inf: no separator)
    film_cracked_area: jax.Array  # Li area under the cracked share of a film [m²] (0: none, or no film that cracks)


class StepInfo(NamedTuple):
    """What :func:`advance` reports about one step."""

    max_dtheta: jax.Array  # largest |dtheta| of a cell [-]
    admissible: jax.Array  # no cell overfilled or stripped below zero, salt solved, everything finite
    salt_inflow: jax.Array  # salt entering through the top face [mol/s]
    salt_iterations: jax.Array  # PCG iterations of the salt solve
    sei_paid: jax.Array  # Li turned into SEI in the step [C]
    rate: jax.Array  # per cell, the Li rate the step plated with [1/s] (its faces' net current; for the error estimate)
    moved: jax.Array  # share of the step's face currents moved off cells that filled or emptied within it [-]


class PlatingSystem(eqx.Module):
    """What stays fixed while a host plates: the grid, the host fields, the electrolyte, the
    kinetics and the numerical strategies (passed as objects).

    ``sei_charge_density``: charge [C/m²] one m² of fresh Li/electrolyte area consumes forming
    SEI (the proxy's q_SEI; 0 turns the SEI off). ``collector_layers``, ``host_top``: the host
    slab's layers, for the envelope (:func:`hostsim.electrochemistry.metrics.envelope_heights`)."""

    grid: Grid
    s: jax.Array
    k: jax.Array
    l: jax.Array
    electrolyte: object
    kinetics: object
    top: AbstractCellTop = Reservoir()
    newton: AbstractNewton = AdaptiveNewton()
    solver: PCG = PCG(rtol=1e-8)
    interface: object = FaceInterface()
    sei_charge_density: float = Q_SEI
    host_conductor: jax.Array | None = None  # optional: numerics.connectivity.host_connected, a search's start
    # optional: open volume that passes ions and salt but takes no Li metal (a mesoporous shell's; interfaces.li_room)
    li_excluded: jax.Array | None = None
    separator: Separator | None = None  # optional: a porous layer in the top of the gap (electrochemistry.separator)
    collector_layers: int = eqx.field(default=1, static=True)
    host_top: int | None = eqx.field(default=None, static=True)

    @property
    def projected_area(self):
        return self.grid.length[0] * self.grid.length[1]

    @property
    def coulombs_per_fill(self):
        """Charge [C] that fills one voxel with Li."""
        return self.grid.voxel_size**3 * FARADAY / LI_MOLAR_VOLUME


def initial_state(grid: Grid, theta, electrolyte) -> PlatingState:
    """The state before any current: uniform salt, no potential solved yet."""
    z = jnp.zeros((), grid.dtype)
    directions = 2 * sum(n > 1 for n in grid.shape)
    return PlatingState(grid.as_field(theta), grid.full(electrolyte.concentration), z, z, z, z, z, z,
                        grid.zeros(), grid.zeros(), jnp.zeros(grid.shape, bool), grid.zeros(), z, z,
                        grid.zeros(), z, z, grid.zeros(), jnp.zeros((directions,) + grid.shape, grid.dtype),
                        grid.zeros(), grid.zeros(), grid.zeros())


def mean_plating_time(state: PlatingState):
    """Per cell, the mean time [s] at which the Li plated into it was plated (0 where none was)."""
    return jnp.where(state.plated_amount > 1e-9, state.plated_time / jnp.maximum(state.plated_amount, 1e-30), 0.0)


def _lesser(a, b):
    """``min(a, b)`` whose derivative at a tie follows ``a`` alone.

    ``jnp.minimum`` splits the derivative 1/2-1/2 at a tie, and the limits of a step tie all the
    time at zero (an empty cell: nothing to strip, no Li), where the split gave d(theta_new)/d(theta)
    = -1 instead of +1 and a sensitivity that doubled every step until float32 overflowed
    (docs/electrochemistry.md: derivatives at the limits). At a tie
    the limit does not bind for a perturbation that keeps the order, so the unlimited value's
    derivative is the right one."""
    return jnp.where(a <= b, a, b)


def electrolyte_fraction(s, theta):
    """``eps = 1 - s - theta`` in [0, 1], with the derivative of the inside at the bounds (an empty
    cell, eps = 1, has d(eps)/d(theta) = -1, not the -1/2 of ``jnp.clip`` at a tie)."""
    x = 1.0 - s - theta
    return jnp.where(x > 1.0, 1.0, jnp.where(x < 0.0, 0.0, x))


def _solver_for(grid: Grid, solver: PCG) -> PCG:
    """The inner PCG as the dtype allows."""
    if jnp.dtype(grid.dtype) == jnp.float32 and solver.rtol < 1e-6:
        # float32 cannot reach 1e-8 (round-off of the operator is ~1e-7 of ||rhs||; docs/solver.md:
        # measurements behind the code)
        solver = eqx.tree_at(lambda p: p.rtol, solver, 1e-6)
    if jnp.dtype(grid.dtype) == jnp.float32 and solver.derivative_rtol is None:
        # the derivative's solves to 1e-3, not to float32's floor: the float32 trajectory itself limits a
        # float32 gradient, so tighter solves only cost time (docs/solver.md: reverse mode through a plating step)
        solver = dataclasses.replace(solver, derivative_rtol=FLOAT32_DERIVATIVE_RTOL)
    return solver


def cell_total(per_face):
    """Per cell, the sum over its faces of a ``(directions, *grid)`` array (the six slices added:
    XLA's CPU backend reduced the leading axis in a separate kernel that re-read every slice's
    expression; docs/solver.md: measurements behind the code)."""
    total = per_face[0]
    for d in range(1, per_face.shape[0]):
        total = total + per_face[d]
    return total


def _to_conductor(grid: Grid, per_face):
    """Per cell, the sum of what its neighbours' faces hand to it as their conducting side."""
    total, d = jnp.zeros(per_face.shape[1:], per_face.dtype), 0
    for axis in range(3):
        if grid.shape[axis] == 1:
            continue
        for offset in (-1, 1):
            # stored before it is shifted (else XLA recomputes the face's currents inside the shift)
            total = total + shift_stored(materialized(per_face[d]), -offset, axis, grid.periodic[axis])
            d += 1
    return total


def _from_conductor(grid: Grid, per_cell):
    """Per interface direction, the value of a cell field at each face's conducting cell q."""
    out = []
    for axis in range(3):
        if grid.shape[axis] == 1:
            continue
        for offset in (-1, 1):
            out.append(shift_stored(per_cell, offset, axis, grid.periodic[axis]))
    return jnp.stack(out)


STRIP_OWN_FILL = 0.005  # the fill below which a stripping face turns from its own cell's Li to its conductor's
SHARE_FLOOR = 1e-6  # the Li (own fill share + the conductor's cover) below which a face's stripping share is not divided out


def stripping_shares(grid: Grid, s, k, theta, excluded=None):
    """Per interface direction, the share of a stripping face's Li that comes from its
    electrolyte-side cell p; the rest comes from its conducting cell q. p's own Li (the Li its
    faces deposited) goes first, so a dense film strips from its top cell down, the reverse of how
    it grew; as p's fill falls below :data:`STRIP_OWN_FILL` the face turns, smoothly, to q's Li
    (where q holds Li: ``own_p + cover_q (1 - own_p)`` splits the face, :func:`li_covers`). Each
    side's share vanishes with its Li, so a small enough step never takes more than a cell holds."""
    _, cover = li_covers(s, k, theta, excluded)
    own = smoothstep(li_fill(s, theta, excluded) / STRIP_OWN_FILL)
    own, cover = materialized(own), materialized(cover)  # read at seven offsets: stored once
    shares = []
    for axis in range(3):
        if grid.shape[axis] == 1:
            continue
        for offset in (-1, 1):
            total = own + shift_stored(cover, offset, axis, grid.periodic[axis]) * (1.0 - own)
            # below SHARE_FLOOR neither side holds Li worth a share: p's, whole (a face there strips
            # nothing). Divided only above it: near zero the quotient's derivative overflows, and the
            # reverse pass multiplies it by a zero cotangent (NaN; docs/solver.md: quotients)
            held = total > SHARE_FLOOR
            shares.append(jnp.where(held, own / jnp.where(held, total, 1.0), 1.0))
    return materialized(jnp.stack(shares))


def li_change(grid: Grid, flows, shares, per_coulomb):
    """Li volume-fraction change per cell, ``(plate, strip)`` [-], from the face currents
    ``flows`` [A] over a step (``per_coulomb``: ``dt V_m / (F h³)``): plating through the face p|q
    deposits into the electrolyte-side cell p, stripping takes from p and q in ``shares``
    (:func:`stripping_shares`)."""
    plate = per_coulomb * cell_total(jnp.maximum(flows, 0.0))
    removed = per_coulomb * jnp.maximum(-flows, 0.0)
    strip = cell_total(removed * shares) + _to_conductor(grid, removed * (1.0 - shares))
    return plate, strip


def saturated_flows(grid: Grid, flows, shares, per_coulomb, s, theta, current):
    """The face currents [A] a stripping step of the given length passes: no cell gives more Li
    than it holds. The faces that would drain a cell below empty pass only the share that empties
    it, and what they cannot pass the other stripping faces carry in proportion to their currents,
    so that the faces still pass ``current`` in all: the galvanostat's current moves to the rest
    of the Li surface, as it does within the step when a piece of Li is used up (at the few mV of a
    strip the current density is nearly uniform over the Li, so in proportion is how it moves).
    A piece of Li thus empties within one step instead of holding every step to the time it
    takes; the step's error estimate sees the moved current (:mod:`hostsim.electrochemistry.integrate`)."""
    held = jnp.maximum(theta, 0.0)
    # the carried current can drain another cell: a few passes settle it (what is still over after
    # them makes the step inadmissible, and it is retried shorter)
    for _ in range(SATURATION_PASSES):
        _, strip = li_change(grid, flows, shares, per_coulomb)
        drain = materialized(jnp.where(strip > held, held / jnp.where(strip > held, strip, 1.0), 1.0))
        out_of = jnp.minimum(jnp.where(shares > 0, drain[None], 1.0),
                             jnp.where(shares < 1, _from_conductor(grid, drain), 1.0))
        scale = jnp.where(flows < 0, out_of, 1.0)
        scaled = flows * scale
        short = current - jnp.sum(cell_total(scaled))
        free = (scale >= 1.0) & (flows * short > 0)
        carrying = jnp.sum(cell_total(jnp.where(free, flows, 0.0)))
        factor = jnp.where(carrying != 0, short / jnp.where(carrying != 0, carrying, 1.0), 0.0)
        flows = materialized(jnp.where(free, flows * (1.0 + factor), scaled))
    return flows


def moved_share(original, passed):
    """The share of a step's face currents that :func:`saturated_flows` moved between faces [-]."""
    size = jnp.sum(cell_total(jnp.abs(original)))
    moved = 0.5 * jnp.sum(cell_total(jnp.abs(passed - original)))
    return jnp.where(size > 0, moved / jnp.where(size > 0, size, 1.0), 0.0)


def _scaled_flows(face_area, face_current, current):
    """The faces' currents ``A i`` [A], scaled so that they sum to ``current`` exactly: each face
    moves by ``(current - sum) |A i| / sum |A i|`` (the Newton solve's current error, ~1e-5),
    which also keeps a rest's local currents summing to zero."""
    flows = [a * i for a, i in zip(face_area, face_current)]
    total = sum(jnp.sum(f) for f in flows)
    size = sum(jnp.sum(jnp.abs(f)) for f in flows)
    share = jnp.where(size > 0, (current - total) / jnp.where(size > 0, size, 1.0), 0.0)
    return materialized(jnp.stack([f + share * jnp.abs(f) for f in flows]))


def solve_state(system: PlatingSystem, state: PlatingState, current, *, fresh=False):
    """The potential of ``state`` at ``current`` [A] (> 0 plates), stored in the returned state
    with the face currents the next step plates with, and what it shows (:class:`Observation`).

    ``fresh``: the first solve of a segment (the current changed): the SEI proxy's reference area
    starts from this state's. Otherwise fresh Li/electrolyte area beyond the segment's largest so
    far is booked as owed SEI charge while plating."""
    grid, s, k, l, electrolyte = system.grid, system.s, system.k, system.l, system.electrolyte
    solver = _solver_for(grid, system.solver)
    # one dtype, not weak (a weak-typed float traced the program twice: ~1 s)
    current = jnp.asarray(current, grid.dtype)
    # warm start from the last electrode potential while the current keeps its direction (plating:
    # V < 0, stripping: V > 0); otherwise Newton starts from the inverted Butler-Volmer guess
    same_direction = (state.time > 0) & (jnp.sign(state.electrode_potential) == -jnp.sign(current)) & (current != 0)
    guess = jnp.where(same_direction, state.electrode_potential, jnp.nan)
    # (the named scopes prefix the kernels' names in a profile of the step)
    # only conductor connected to the collector is at V: floating host and Li neither plate nor strip
    with jax.named_scope("connect"):
        connected, _ = update_connected(grid, conducting_nodes(s, k, jax.lax.stop_gradient(state.theta)),
                                        state.connected, system.host_conductor)
        live = attached(grid, connected)
    border_guess = jnp.where(same_direction, state.border_solution, 0.0)
    kinetics = system.kinetics
    cracking = kinetics.films is not None and kinetics.films.can_crack
    if cracking:  # the film's cracks so far (they open after a solve, below)
        kinetics = eqx.tree_at(lambda kin: kin.films, kinetics, _cracked_films(kinetics.films, state.film_cracked))
    if kinetics.shield is not None:  # the additive covers the tips of the last solved state
        plating = same_direction & (current > 0) & (state.interfacial_current > 0)
        shield = kinetics.shield.covering(jax.lax.stop_gradient(state.phi), plating)
        kinetics = eqx.tree_at(lambda kin: kin.shield, kinetics, shield)
    with jax.named_scope("potential"):
        problem, phi0, v0, c_top, _ = potential_problem(
            grid, s, k, l, state.theta, state.concentration, electrolyte, kinetics, current=current,
            top=system.top, phi_guess=state.phi, voltage_guess=guess, attached=live, interface=system.interface,
            collector_layers=system.collector_layers, li_excluded=system.li_excluded,
            transport=None if system.separator is None else system.separator.transport_factor(grid),
            host_top=system.host_top)
        sol = solve_problem(problem, phi0, v0, c_top=c_top, top=system.top, border_guess=border_guess,
                            newton=system.newton, solver=solver)
    flows = _scaled_flows(sol.face_area, sol.face_current, current)
    plating = current >= 0
    area = sum(sol.face_area)
    # divided only where the cell owns a resolved interface, the test of the where below: over a
    # sliver's area the quotient's derivative overflows (NaN in reverse mode; docs/solver.md: quotients)
    owns = area > RESOLVED_FACE * grid.voxel_size**2
    cell_current = sum(a * i for a, i in zip(sol.face_area, sol.face_current)) / jnp.where(owns, area, 1.0)
    li_area = li_interface_area(sol.face_area, sol.face_cover)
    # the SEI proxy: fresh Li area beyond the segment's largest so far owes q_SEI per m² while plating
    # (a running maximum: the area of a filling front wobbles by a layer's worth, which must not count)
    bare = _bare_li_area(system, sol, li_area, problem.film_cracks)
    reference = jnp.where(fresh, bare, state.sei_reference_area)
    owed = jnp.where(plating & ~jnp.asarray(fresh), system.sei_charge_density * jax.nn.relu(bare - reference), 0.0)
    new = state._replace(
        connected=connected, phi=sol.phi, voltage=sol.cell_voltage, electrode_potential=sol.voltage,
        border_solution=sol.border_solution, face_flows=flows,
        interfacial_current=jnp.where(owns, cell_current, 0.0),
        sei_owed=state.sei_owed + owed, sei_reference_area=jnp.maximum(reference, bare))
    cracked_area = jnp.zeros((), grid.dtype)
    if cracking:
        new, cracked_area = _open_cracks(system, kinetics.films, sol, new, plating & (current != 0))
    films = film_statistics(sol.face_area, sol.face_current, problem.films)
    return new, _observe(system, new, sol, live, li_area, plating, films, cracked_area)


def _cracked_films(films, cracked):
    return eqx.tree_at(lambda f: f.cracked, films, cracked, is_leaf=lambda x: x is None)


def _open_cracks(system: PlatingSystem, films, sol, state: PlatingState, plating):
    """The state with the film's cracks after this solve (:func:`hostsim.electrochemistry.coating.crack_update`;
    only while plating: a strip's faces weigh the Li differently, and it stretches nothing), and the
    Li area under the cracked share of the film [m²]."""
    grid = system.grid
    coated, substrate = films.coated_area(grid, sol.face_area, sol.face_cover, system.s, system.collector_layers,
                                          system.host_top)
    reference, cracked = crack_update(state.film_reference_area, state.film_cracked, coated, substrate,
                                      films.crack_strain, CRACK_SLACK * grid.voxel_size**2)
    reference = jnp.where(plating, reference, state.film_reference_area)
    cracked = jnp.where(plating, cracked, state.film_cracked)
    shares = _cracked_films(films, cracked).crack_shares(grid, sol.face_cover, system.collector_layers,
                                                         system.host_top)
    area = li_interface_area(sol.face_area, shares)
    return state._replace(film_reference_area=reference, film_cracked=cracked), area


def _bare_li_area(system: PlatingSystem, sol, li_area, cracks=None):
    """The Li/electrolyte area no intact Li film covers [m²], what the SEI proxy charges: Li grown
    under an intact film forms no SEI. All of it without a Li film, none under an intact film on all
    the Li, the faces of the bare layers under a layered one, and the cracked share of a film
    (``cracks``: per direction, each face's cracked share of its area, as
    :meth:`~hostsim.electrochemistry.coating.Films.crack_shares` gives it)."""
    films = system.kinetics.films
    if films is None or not films.on_li:
        return li_area
    lis = films.li_face_resistances(system.grid, system.collector_layers, system.host_top)
    if cracks is None:
        return li_interface_area(sol.face_area, [c * (r <= 0) for c, r in zip(sol.face_cover, lis)])
    # a crack share is of the face (its Li cover times the column's share): the bare Li of a filmed face
    return li_interface_area(sol.face_area, [c * (r <= 0) + jnp.where(r > 0, f, 0.0)
                                             for c, r, f in zip(sol.face_cover, lis, cracks)])


def _observe(system: PlatingSystem, state: PlatingState, sol, live, li_area, plating, films,
             cracked_area) -> Observation:
    grid, electrolyte, s = system.grid, system.electrolyte, system.s
    c = state.concentration
    eps = electrolyte_fraction(s, state.theta)
    mean, cv, hot, pn = flux_statistics(sol.face_area, sol.face_current, plating=plating)
    area = sum(sol.face_area)
    # cells owning a resolved interface (slivers below 1e-3 h², a sealed pocket's last electrolyte, carry
    # no measurable charge and their salt balance is meaningless)
    owns = area > RESOLVED_FACE * grid.voxel_size**2
    # surface concentration: the cell value extrapolated over the electrolyte's half-thickness eps h / 2
    # with the cell's whole reaction as a flux through one face (R_v h [A/m²])
    reaction = cell_total(state.face_flows) / grid.voxel_size**3
    flux = (1.0 - electrolyte.transference) * reaction * grid.voxel_size / FARADAY
    surface = c - flux * eps * grid.voxel_size / (2.0 * electrolyte.diffusivity(c))
    # Li near the top of the space it may take: in the layers under the top face, or in the one under
    # a separator (its face is where Li stops)
    below = grid.shape[2] - (0 if system.separator is None else system.separator.layers(grid))
    margin = TOP_MARGIN_LAYERS if system.separator is None else 1
    fill = (state.theta / jnp.maximum(li_room(s, system.li_excluded), 1e-6))[:, :, below - margin:below]
    heights = envelope_heights(s, state.theta, grid.voxel_size, system.collector_layers, system.host_top,
                               None if system.separator is None else grid.shape[2] - system.separator.layers(grid))
    return Observation(
        sol.cell_voltage, jnp.min(jnp.where(eps > 0.5, c, jnp.inf)), jnp.min(jnp.where(owns, surface, jnp.inf)),
        sol.residual, sol.current_error, sol.newton.iterations, sol.newton.linear_iterations,
        sol.newton.converged, mean, cv, hot, pn, li_area, jnp.sum(state.theta) * system.coulombs_per_fill,
        jnp.sum(jnp.where(live, 0.0, state.theta)) * system.coulombs_per_fill, jnp.max(fill),
        jnp.mean(heights), jnp.max(heights), *films,
        min_overpotential=jnp.min(jnp.where(owns, sol.voltage - sol.phi, jnp.inf)),
        separator_min_concentration=(jnp.full((), jnp.inf, c.dtype) if system.separator is None
                                     else jnp.min(jnp.where(system.separator.mask(grid), c, jnp.inf))),
        film_cracked_area=cracked_area)


def admissible_step(system: PlatingSystem, state: PlatingState):
    """The longest step [s] that fills no cell past the fill at which its faces close (99 % of its
    free volume: :data:`hostsim.electrochemistry.interfaces.FULL`) and strips no cell below empty
    with the state's face currents (a cell's Li changes linearly with the step; infinite when
    none changes). Past that fill the face's current would have moved on to the next cell: a
    longer step would plate into a closed face, and a filled layer would read as denser than a
    front that moves on does."""
    shares = stripping_shares(system.grid, system.s, system.k, state.theta, system.li_excluded)
    plate, strip = li_change(system.grid, state.face_flows, shares, 1.0 / system.coulombs_per_fill)
    net = plate - strip
    # a cell already at the closing fill (to round-off) is bound by its whole room instead: what its
    # closed faces still pass is round-off, and with the closing fill as bound it would make every
    # step zero (docs/time_integration.md)
    slack = ROUND_OFF_SLACK * jnp.finfo(system.grid.dtype).eps
    free = li_room(system.s, system.li_excluded)
    closing = (1.0 - FULL) * free - state.theta
    room = jnp.where(closing > slack, closing, jnp.maximum(free - state.theta, 0.0) + slack)
    held = jnp.maximum(state.theta, 0.0) + slack
    limit = jnp.where(net > 0, room / jnp.where(net > 0, net, 1.0),
                      jnp.where(net < 0, held / jnp.where(net < 0, -net, 1.0), jnp.inf))
    return jnp.min(limit)


def advance(system: PlatingSystem, state: PlatingState, current, dt):
    """Advance ``state`` by ``dt`` seconds with the face currents stored in it (module docstring).
    Returns the new state (its potential not yet solved: :func:`solve_state`) and a
    :class:`StepInfo`."""
    grid, s, electrolyte = system.grid, system.s, system.electrolyte
    solver = _solver_for(grid, system.solver)
    h3 = grid.voxel_size**3
    current = jnp.asarray(current, grid.dtype)
    dt = jnp.asarray(dt, grid.dtype)
    per_coulomb = dt / system.coulombs_per_fill
    # stripping: a cell emptied within the step hands its current to the rest of the Li surface
    # (plating steps are sized so that no cell fills: :func:`admissible_step`)
    shares = stripping_shares(grid, s, system.k, state.theta, system.li_excluded)
    flows = jax.lax.cond(current < 0, lambda f: saturated_flows(grid, f, shares, per_coulomb, s, state.theta, current),
                         lambda f: f, state.face_flows)
    plate, strip = li_change(grid, flows, shares, per_coulomb)
    # the SEI owed is paid out of this step's plated Li (never more than it plates)
    plated = jnp.sum(plate) * system.coulombs_per_fill
    pay = jnp.where(current > 0, _lesser(state.sei_owed, plated), 0.0)
    dtheta = plate * (1.0 - jnp.where(plated > 0, pay / jnp.where(plated > 0, plated, 1.0), 0.0)) - strip
    # its cotangent (the salt's, through the new electrolyte fraction, and the records') stored once
    dtheta = cotangent_stored(dtheta)
    theta = state.theta + dtheta
    # no cell pushed below empty or above full by more than round-off (a cell already that far
    # outside stays admissible while the step does not push it further)
    slack = ROUND_OFF_SLACK * jnp.finfo(grid.dtype).eps
    low = jnp.minimum(state.theta, -slack)
    high = jnp.maximum(state.theta, li_room(s, system.li_excluded) + slack)
    inside = jnp.all((theta >= low) & (theta <= high))
    eps_old = electrolyte_fraction(s, state.theta)
    eps_new = cotangent_stored(electrolyte_fraction(s, theta))  # read by the salt (coefficients, sink, displaced salt)
    floor = 1e-6
    d_eff = electrolyte.diffusivity(state.concentration) * jnp.maximum(eps_new, floor)
    storage = jnp.maximum(eps_new, floor)
    if system.separator is not None:  # homogenised pores: D eps / tau, and the Li+ they bind
        d_eff = d_eff * system.separator.transport_factor(grid)
        storage = storage + system.separator.binding_storage(grid, state.concentration)
    reaction = cotangent_stored(cell_total(flows) / h3)  # R_v [A/m³] as passed
    sink = shared_sink(grid, (1.0 - electrolyte.transference) * reaction / FARADAY, eps_new)
    top_salt = system.top.salt_condition(electrolyte, jnp.sum(reaction) * h3, system.projected_area)
    with jax.named_scope("displacement"):
        moved = displacement(grid, eps_old, eps_new, state.concentration, dt,
                             inflow_concentration=system.top.inflow_concentration(electrolyte),
                             solver=dataclasses.replace(solver, rtol=max(solver.rtol, FLOW_RTOL)))
    # the solve starts from c extrapolated with the last step's change (steps of a segment are alike)
    salt_guess = state.concentration + jax.lax.stop_gradient(state.concentration_change * dt
                                                             / jnp.where(state.last_dt > 0, state.last_dt, jnp.inf))
    with jax.named_scope("salt"):
        c_new, salt_stats = salt_step(grid, state.concentration, storage, d_eff, dt,
                                      sink=sink - moved.salt_source,
                                      lo=Neumann(0.0), hi=top_salt, d_ref=electrolyte.diffusivity(electrolyte.concentration),
                                      solver=solver, initial_guess=salt_guess)
    # salt entering through the top face [mol/s], as the discretisation has it: for the salt balance
    salt_inflow = system.top.salt_inflow(grid, top_salt, d_eff, c_new, system.projected_area)
    # the faces still pass the whole current (a strip whose Li runs out everywhere within the step has
    # no face left to carry what the emptied ones could not: that step is too long, not a short one)
    passed = jnp.sum(cell_total(flows))
    # (at rest the faces' currents cancel to round-off of the exchange current's scale, not of their own)
    size = jnp.maximum(jnp.maximum(jnp.abs(current), jnp.sum(cell_total(jnp.abs(flows)))),
                       system.kinetics.exchange_current_density * system.projected_area)
    placed = jnp.abs(passed - current) <= 1e3 * jnp.finfo(grid.dtype).eps * size
    admissible = (inside & placed & salt_stats.converged & jnp.all(jnp.isfinite(c_new))
                  & jnp.isfinite(jnp.sum(theta)))
    gained = jnp.where(dtheta > 0, dtheta, 0.0)
    new = state._replace(
        theta=theta, concentration=c_new, time=state.time + dt, passed_charge=state.passed_charge + current * dt,
        sei_charge=state.sei_charge + pay, sei_owed=state.sei_owed - pay,
        displaced_salt=state.displaced_salt + moved.top_outflow * dt,
        plated_time=state.plated_time + (state.time + 0.5 * dt) * gained, plated_amount=state.plated_amount + gained,
        concentration_change=c_new - state.concentration, last_dt=dt)
    return new, StepInfo(jnp.max(jnp.abs(dtheta)), admissible, salt_inflow, salt_stats.iterations, pay,
                         cell_total(flows) / system.coulombs_per_fill, moved_share(state.face_flows, flows))
