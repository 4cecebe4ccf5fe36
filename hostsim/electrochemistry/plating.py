"""Plating and stripping of Li into the voxels of a host (SPEC 4, time stepping).

One step (galvanostatic, fixed charge per step, so ``dt`` is constant and the loop is a
``lax.scan``):

1. quasi-static potential and electrode potential ``V`` (:func:`hostsim.solve_potential`);
2. Li update, face by face: a face with plating current (``i > 0``) deposits
   ``V_m i A dt / F`` of Li into its electrolyte-side cell; a face with stripping current
   (``i < 0``) removes Li from its conducting-side cell. Li never goes below zero and never
   enters host volume (``theta <= 1 - s``); no cell changes by more than ``max_dtheta`` per step
   (SPEC 4: default 0.1). Charge that a limit holds back is counted as ``capped_charge`` and the
   step reports the cap as binding — the run says so instead of silently losing Li;
3. backward-Euler salt update with the sink ``(1 - t+) R_v / F`` in the electrolyte-side cells,
   on the new electrolyte fraction (:func:`hostsim.electrochemistry.salt.shared_sink`: a cell with less than half
   its volume electrolyte hands part of its sink to its electrolyte neighbours — the Li front in
   it faces them — which keeps c positive in nearly full front cells). Salt displaced by growing
   Li (``(eps_old - eps_new) c``) is removed locally — physically it is pushed out through the
   reservoir, or in a closed cell (a Li counter electrode on top, :mod:`hostsim.electrochemistry.cell`) it is
   the salt of the volume the receding counter electrode frees — and is reported as
   ``displaced_salt`` [mol]. Charge the galvanostat asks for but the electrode cannot pass (a strip
   with no Li left: the potential runs away until the protocol's cutoff) is ``undelivered_charge``;
   ``plated + capped + undelivered = I t`` always.

Units: ``theta`` [-], ``c`` [mol/m³], ``V`` [V], currents [A], charge [C], time [s].
"""

from __future__ import annotations

import dataclasses
from functools import partial
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp

from hostsim.electrochemistry.constants import FARADAY, LI_MOLAR_VOLUME
from hostsim.numerics.grid import Grid
from hostsim.numerics.linsolve import PCG
from hostsim.numerics.linsolve import SOLUTION_NAME as LINEAR_SOLUTION
from hostsim.numerics.connectivity import attached, conducting_nodes, update_connected
from hostsim.numerics.newton import SOLUTION_NAME as NEWTON_SOLUTION
from hostsim.numerics.newton import AdaptiveNewton, NewtonSolver
from hostsim.electrochemistry.metrics import RESOLVED_FACE, flux_statistics, li_interface_area
from hostsim.electrochemistry.cell import Reservoir
from hostsim.numerics.operators import Dirichlet, Neumann, cotangent_stored, materialized, shift_stored, stored
from hostsim.electrochemistry.potential import FaceInterface, potential_problem, solve_potential, solve_problem
from hostsim.electrochemistry.salt import salt_step, shared_sink


# What a rematerialised step keeps for the backward pass: the converged potential (phi, V, A^-1 b)
# and the salt solve's solution — a few fields per step — so the backward pass repeats neither the
# Newton iterations nor the salt solve, only the cheap elementwise work around them
SAVED_IN_STEPS = jax.checkpoint_policies.save_only_these_names(NEWTON_SOLUTION, LINEAR_SOLUTION)


FLOAT32_DERIVATIVE_RTOL = 1e-3  # the plating step's derivative solves in float32 (measured choice: see plating_step)


class PlatingState(NamedTuple):
    theta: jax.Array  # Li-metal fraction [-]
    concentration: jax.Array  # salt [mol/m³]
    phi: jax.Array  # electrolyte potential [V] at the current that passed
    voltage: jax.Array  # electrode potential [V]
    time: jax.Array  # [s]
    plated_charge: jax.Array  # net charge turned into Li metal [C] (plating > 0)
    capped_charge: jax.Array  # charge held back by the limits [C]
    displaced_salt: jax.Array  # salt pushed out by growing Li [mol]
    undelivered_charge: jax.Array  # requested charge the electrode could not pass (no Li left to strip) [C]
    interfacial_current: jax.Array  # per cell, area-weighted mean current density of its interface faces in the last step [A/m²] (0 below 1e-3 h² of area)
    plated_time: jax.Array  # per cell, sum of t dtheta+ over plating increments [s] (mean plating time = this / plated_amount)
    plated_amount: jax.Array  # per cell, sum of dtheta+ [-]
    electrode_potential: jax.Array  # working electrode vs the electrolyte at the top face [V] at the step's requested current (Newton's warm start)
    connected: jax.Array  # bool per cell: conducting node connected to the collector at the last step (hostsim.numerics.connectivity)
    border_solution: jax.Array  # Newton's A^-1 dF/dV at the last step (warm start of the next step's; not differentiated)
    newton_phi: jax.Array  # phi at the step's requested current [V] (Newton's warm start; = phi unless a limit bound)
    concentration_change: jax.Array  # c of the last step minus c before it [mol/m³] (the salt solve's starting guess extrapolates with it)


class StepRecord(NamedTuple):
    time: jax.Array
    voltage: jax.Array
    plated_charge: jax.Array
    max_dtheta: jax.Array  # largest |dtheta| of the step
    cap_binding: jax.Array  # a limit held charge back in this step
    min_concentration: jax.Array  # [mol/m³] over electrolyte cells
    potential_residual: jax.Array
    flux_mean: jax.Array  # area-weighted mean interfacial current density [A/m²] (sign of the step)
    flux_cv: jax.Array  # [-]
    hotspot_ratio: jax.Array  # max / mean [-]
    hotspot_pnorm: jax.Array  # p-norm / mean [-] (p = 8)
    min_interface_concentration: jax.Array  # [mol/m³] lowest surface concentration (extrapolated to the interface) over cells owning interface area
    li_interface_area: jax.Array  # Li/electrolyte area [m²]
    current_error: jax.Array  # (passed - requested) / requested current of the potential solve [-]
    newton_iterations: jax.Array  # Newton iterations of the potential solve
    linear_iterations: jax.Array  # PCG iterations of the potential solve (all inner solves; -1: not counted)
    newton_converged: jax.Array  # the potential solve met its tolerances
    salt_inflow: jax.Array  # salt entering through the top face [mol/s] (0 for a rejected step)
    salt_iterations: jax.Array  # PCG iterations of the salt solve


def initial_state(grid: Grid, theta, electrolyte) -> PlatingState:
    z = jnp.zeros((), grid.dtype)
    # connected: none known yet, so the first step finds the connected set from the collector
    return PlatingState(grid.as_field(theta), grid.full(electrolyte.concentration), grid.zeros(), z, z, z, z, z, z,
                        grid.zeros(), grid.zeros(), grid.zeros(), z, jnp.zeros(grid.shape, bool), grid.zeros(),
                        grid.zeros(), grid.zeros())


def mean_plating_time(state: PlatingState):
    """Per cell, the mean time [s] at which the Li plated into it was plated (0 where none was)."""
    return jnp.where(state.plated_amount > 1e-9, state.plated_time / jnp.maximum(state.plated_amount, 1e-30), 0.0)


def _lesser(a, b):
    """``min(a, b)`` whose derivative at a tie follows ``a`` alone.

    ``jnp.minimum`` splits the derivative 1/2-1/2 at a tie, and the limits of a step tie all the
    time at zero (an empty cell: nothing to strip, no Li): measured, d(theta_new)/d(theta) of an
    empty electrolyte cell was -1 instead of +1, the sensitivity doubled every step, the gradient
    of the top growth w.r.t. the initial Li reached 1e9 after 40 steps where central differences
    give 1e-8, and overflowed float32 (NaN everywhere) after ~85 steps. At a tie the limit does
    not bind for a perturbation that keeps the order, so the unlimited value's derivative is the
    right one."""
    return jnp.where(a <= b, a, b)


def electrolyte_fraction(s, theta):
    """``eps = 1 - s - theta`` in [0, 1], with the derivative of the inside at the bounds (an empty
    cell, eps = 1, has d(eps)/d(theta) = -1, not the -1/2 of ``jnp.clip`` at a tie)."""
    x = 1.0 - s - theta
    return jnp.where(x > 1.0, 1.0, jnp.where(x < 0.0, 0.0, x))


def _li_change(grid, currents, dt, s, theta):
    """Li volume-fraction change per cell from the face currents (before limits).

    Plating through the face p|q deposits into the electrolyte-side cell p. Stripping through it
    takes Li back from p while p holds Li (the Li that face deposited), else from the conducting
    cell q — so a dense film strips from its top cell down, the reverse of how it grew.
    """
    h3 = grid.voxel_size**3
    k = LI_MOLAR_VOLUME * dt / (FARADAY * h3)
    plate = jnp.zeros(grid.shape, grid.dtype)
    strip = jnp.zeros(grid.shape, grid.dtype)
    d = 0
    for axis in range(3):
        if grid.shape[axis] == 1:
            continue
        for offset in (-1, 1):
            a, i = currents[d]
            plate = plate + k * a * jnp.maximum(i, 0.0)
            removed = k * a * jnp.maximum(-i, 0.0)
            from_p = _lesser(removed, theta)  # p's own Li first, the rest from q
            # stored before it is shifted (else XLA recomputes the face's kinetics inside the shift)
            strip = strip + from_p + shift_stored(materialized(removed - from_p), -offset, axis, grid.periodic[axis])
            d += 1
    return plate, strip


def _resolve_at_passed_current(sol, binding, solve, change):
    """``solve(phi_guess, voltage_guess)``'s potential fields, voltages and residuals where
    ``binding``, else ``sol``'s; the face areas and currents stay those of the step (they made the Li
    change). The second solve starts from the linear predictor of ``sol`` for the current
    ``change`` [A] (phi held in charge balance, only the galvanostatic constraint moves): measured on
    the default skeleton, where 150 of its 400 steps are capped at ~3 % held back, it then needs one
    Newton iteration instead of two."""
    def again(_):
        slope = sol.newton.current_slope * sol.projected_area  # dI/dV [A/V]
        dv = jnp.where(jnp.isfinite(slope) & (slope != 0), change / jnp.where(slope != 0, slope, 1.0), 0.0)
        new = solve(sol.phi - sol.border_solution * dv, sol.voltage + dv)
        return sol._replace(phi=new.phi, voltage=new.voltage, cell_voltage=new.cell_voltage, residual=new.residual,
                            current_error=new.current_error, counter_overpotential=new.counter_overpotential)

    return jax.lax.cond(binding, again, lambda _: sol, None)


@eqx.filter_jit
def plating_step(grid: Grid, s, k, l, state: PlatingState, electrolyte, kinetics, current, dt,
                 *, top=Reservoir(), max_dtheta: float = 0.1, newton: NewtonSolver = AdaptiveNewton(),
                 solver: PCG = PCG(rtol=1e-8), interface=FaceInterface()):
    """Advance one galvanostatic step of ``dt`` seconds at ``current`` [A] (> 0 plates) with
    ``top`` (:mod:`hostsim.electrochemistry.cell`) closing the cell; ``interface``: where the
    reaction sits (:class:`~hostsim.electrochemistry.potential.FaceInterface` or
    :class:`~hostsim.electrochemistry.potential.CentreInterface`)."""
    if jnp.dtype(grid.dtype) == jnp.float32 and solver.rtol < 1e-6:
        # float32 cannot reach 1e-8 (round-off of the operator is ~1e-7 of ||rhs||): measured, a closed
        # cell (flux on both ends) failed to converge at 1e-8 and converges at 1e-6
        solver = eqx.tree_at(lambda p: p.rtol, solver, 1e-6)
    if jnp.dtype(grid.dtype) == jnp.float32 and solver.derivative_rtol is None:
        # the derivative's solves (the potential's adjoint, the salt's adjoint) to 1e-3, not to float32's
        # floor: the float32 trajectory itself is what limits a float32 gradient. Measured 2026-12-03
        # (16x16x40 skeleton, 20 steps, gradient w.r.t. s, k, l, theta0, i0): relative L2 distance to the
        # float64 gradient 2.2 / 2.3 / 2.3 / 2.4 / 3.2 % at 1e-3, 1e-4 and 3e-4 alike (100 steps: 0.5 /
        # 0.1 / 0.1 / 0.6 / 1.8 %, 1e-3 and 1e-4 alike); distance to the float32 gradient with 1e-6
        # solves <= 1e-4 at 1e-3 (3e-3: 6e-4 in theta0). Per step the two adjoint solves took ~6 PCG
        # iterations each at 1e-4; value_and_grad 0.26-0.30 s at 1e-4, 0.23 s at 1e-3 (forward 0.09 s).
        # (2026-11-30: 1e-6 -> 1e-4 took the gradient from 0.58 to 0.53 s.)
        solver = dataclasses.replace(solver, derivative_rtol=FLOAT32_DERIVATIVE_RTOL)
    # one dtype, not weak: the capped step's second potential solve (at current x passed) then has the
    # first one's argument types and reuses its trace (a weak-typed float here traced it twice: ~1 s)
    current = jnp.asarray(current, grid.dtype)
    # warm start from the last step's electrode potential while the current keeps its direction
    # (plating: V < 0, stripping: V > 0); otherwise Newton starts from the inverted Butler-Volmer guess
    same_direction = (state.time > 0) & (jnp.sign(state.electrode_potential) == -jnp.sign(current)) & (current != 0)
    guess = jnp.where(same_direction, state.electrode_potential, jnp.nan)
    # (the named scopes, connect / potential / resolve / salt, prefix the kernels' names in a profile of the step)
    # only conductor connected to the collector is at V (SPEC 4): floating host and Li neither plate nor strip
    with jax.named_scope("connect"):
        connected, _ = update_connected(grid, conducting_nodes(s, k, jax.lax.stop_gradient(state.theta)), state.connected)
    # Newton's A^-1 dF/dV changes little from step to step: the last one is the first iteration's guess
    border_guess = jnp.where(same_direction, state.border_solution, 0.0)
    with jax.named_scope("potential"):
        problem, phi0, v0, c_top, _ = potential_problem(
            grid, s, k, l, state.theta, state.concentration, electrolyte, kinetics, current=current, top=top,
            phi_guess=state.newton_phi, voltage_guess=guess, attached=attached(grid, connected), interface=interface)
        sol = solve_problem(problem, phi0, v0, c_top=c_top, top=top, border_guess=border_guess, newton=newton,
                            solver=solver)
    currents = list(zip(sol.face_area, sol.face_current))
    plate, strip = _li_change(grid, currents, dt, s, state.theta)
    room = jnp.clip(1.0 - s - state.theta, 0.0, None)
    dtheta = _lesser(plate, _lesser(room, max_dtheta)) - _lesser(strip, _lesser(state.theta, max_dtheta))
    # its cotangent (the salt's, through the new electrolyte fraction, and the records') stored once:
    # else each face direction's transposed Li change and kinetics recomputed it (~300 operations
    # from ~120 arrays, 18 times a step, measured in the compiled gradient)
    dtheta = cotangent_stored(dtheta)
    theta = state.theta + dtheta
    h3 = grid.voxel_size**3
    wanted = (jnp.sum(plate) - jnp.sum(strip)) * h3 * FARADAY / LI_MOLAR_VOLUME
    done = jnp.sum(dtheta) * h3 * FARADAY / LI_MOLAR_VOLUME
    capped = jnp.abs(wanted - done) > 1e-4 * jnp.abs(wanted) + 1e-30  # binding: > 0.01 % of the step held back
    # salt: sink in the electrolyte-side cells, on the new electrolyte fraction
    eps_old = electrolyte_fraction(s, state.theta)
    eps_new = cotangent_stored(electrolyte_fraction(s, theta))  # read by the salt (coefficients, sink, displaced salt)
    floor = 1e-6
    c0 = electrolyte.concentration
    d_ref = electrolyte.diffusivity(c0)
    d_eff = electrolyte.diffusivity(state.concentration) * jnp.maximum(eps_new, floor)
    # the charge the limits held back never passes: the salt sees the share of the face currents that
    # became (or came from) Li, and so does the external circuit (``plated_charge`` counts ``done``)
    passed = jnp.where(jnp.abs(wanted) > 0, done / jnp.where(jnp.abs(wanted) > 0, wanted, 1.0), 0.0)
    # its cotangent (the salt sink's and the flux records') stored once: else every face direction's
    # transposed kinetics recomputed it (~450 operations from ~120 arrays, 18 times a step, measured)
    reaction = cotangent_stored(sol.reaction) * passed
    # ... and so does the potential: a step whose limits bind re-solves the potential at the current
    # that passed, so its V, phi and residual are those of the delivered charge, not of the request
    # (before: V of the full request in the last steps of a strip). Only capped steps pay for it.
    requested = sol  # Newton's warm start for the next step: the next step asks for this current again
    if type(top) is Reservoir:  # the problem depends on the current only through its constraint: built once
        def again(phi_guess, voltage_guess):
            return solve_problem(eqx.tree_at(lambda p: p.current, problem, current * passed), phi_guess, voltage_guess,
                                 c_top=c_top, top=top, border_guess=sol.border_solution, newton=newton, solver=solver)
    else:  # a counter electrode's face concentration follows the current: the problem is built again
        def again(phi_guess, voltage_guess):
            return solve_potential(grid, s, k, l, state.theta, state.concentration, electrolyte, kinetics,
                                   current=current * passed, top=top, phi_guess=phi_guess, voltage_guess=voltage_guess,
                                   border_guess=sol.border_solution, newton=newton, solver=solver,
                                   attached=attached(grid, connected), interface=interface)
    with jax.named_scope("resolve"):
        sol = _resolve_at_passed_current(sol, capped & (passed > 0), again, current * (passed - 1.0))
    sink = shared_sink(grid, (1.0 - electrolyte.transference) * reaction / FARADAY, eps_new)
    pushed = (eps_old - eps_new) * state.concentration  # [mol/m³ of cell]
    displaced = jnp.sum(pushed) * h3
    projected = grid.length[0] * grid.length[1]
    top_salt = top.salt_condition(electrolyte, jnp.sum(reaction) * h3, projected)
    # the solve starts from c extrapolated with the last step's change while the current keeps its direction
    # (steps of a segment are alike, so the change is nearly the same again)
    salt_guess = state.concentration + jnp.where(same_direction, state.concentration_change, 0.0)
    with jax.named_scope("salt"):
        c_new, salt_stats = salt_step(grid, state.concentration, jnp.maximum(eps_new, floor), d_eff, dt, sink=sink,
                                      lo=Neumann(0.0), hi=top_salt, d_ref=d_ref, solver=solver,
                                      initial_guess=salt_guess)
    # salt entering through the top face [mol/s], as the discretisation has it (half-cell conductance
    # 2 D_eff / h to a Dirichlet value; the flux itself for a Neumann top): for the salt balance
    if isinstance(top_salt, Dirichlet):
        salt_inflow = jnp.sum(2.0 * d_eff[:, :, -1] * (top_salt.value - c_new[:, :, -1])) * grid.voxel_size
    else:
        salt_inflow = jnp.asarray(top_salt.flux, c_new.dtype) * projected
    # an unconverged salt solve is a failed step: non-finite, so the protocol keeps the state before it
    c_new = jnp.where(salt_stats.converged, c_new, jnp.nan)
    area = sum(sol.face_area)
    cell_current = sum(a * i for a, i in zip(sol.face_area, sol.face_current)) / jnp.where(area > 0, area, 1.0)
    gained = jnp.where(dtheta > 0, dtheta, 0.0)
    new = PlatingState(theta, c_new, sol.phi, sol.cell_voltage, state.time + dt, state.plated_charge + done,
                       # magnitudes (the same sign for plating and stripping steps)
                       state.capped_charge + (jnp.abs(wanted) - jnp.abs(done)), state.displaced_salt + displaced,
                       state.undelivered_charge + (jnp.abs(current * dt) - jnp.abs(wanted)),
                       jnp.where(area > RESOLVED_FACE * grid.voxel_size**2, cell_current, 0.0),
                       state.plated_time + (state.time + 0.5 * dt) * gained,
                       state.plated_amount + gained, requested.voltage, connected, requested.border_solution,
                       requested.phi,
                       jax.lax.stop_gradient(jnp.where(jnp.isfinite(c_new), c_new - state.concentration, 0.0)))
    electrolyte_cells = eps_new > 0.5
    plating = current >= 0
    mean, cv, hot, pn = flux_statistics(sol.face_area, sol.face_current, plating=plating)
    # cells owning a resolved interface (slivers below 1e-3 h², e.g. a sealed pocket's last electrolyte,
    # carry no measurable charge and their salt balance is meaningless: measured, one such pocket went to
    # -8 c0 and stopped the default skeleton run as "depleted")
    owns = area > RESOLVED_FACE * grid.voxel_size**2
    # surface concentration at the interfaces: the cell value extrapolated over the electrolyte's
    # half-thickness eps h / 2 with the cell's flux (SPEC 6.2: "extrapolate c to the face")
    d_cell = electrolyte.diffusivity(c_new)
    # the cell's whole reaction counts as a flux through one face (R_v h [A/m²]): for a planar front
    # that is its current density; a sliver face's (unphysical) density does not enter
    flux = (1.0 - electrolyte.transference) * reaction * grid.voxel_size / FARADAY
    surface = c_new - flux * eps_new * grid.voxel_size / (2.0 * d_cell)
    record = StepRecord(new.time, sol.cell_voltage, new.plated_charge, jnp.max(jnp.abs(dtheta)), capped,
                        jnp.min(jnp.where(electrolyte_cells, c_new, jnp.inf)), sol.residual,
                        mean, cv, hot, pn, jnp.min(jnp.where(owns, surface, jnp.inf)),
                        li_interface_area(sol.face_area, sol.face_cover), sol.current_error,
                        sol.newton.iterations, sol.newton.linear_iterations, sol.newton.converged,
                        salt_inflow, salt_stats.iterations)
    return new, record


def plate(grid: Grid, s, k, l, state: PlatingState, electrolyte, kinetics, current, dt, steps: int, **kw):
    """``steps`` galvanostatic steps as a ``lax.scan`` with each step under ``jax.checkpoint``
    (memory for reverse-mode gradients grows with the state, not with the Newton/PCG work; the
    converged potential and salt solutions are kept, :data:`SAVED_IN_STEPS`)."""

    @partial(jax.checkpoint, policy=SAVED_IN_STEPS)
    def body(st, _):
        # the host fields are stored at the step's boundary, so in reverse mode each step's cotangent of
        # s, k and l is formed once before the scan sums it (XLA fused the same ~2,100-operation
        # expression into two fusions, one per consumer: measured, 20 steps of the 16x16x40 skeleton
        # 0.53 s -> 0.49 s)
        return plating_step(grid, stored(s), stored(k), stored(l), st, electrolyte, kinetics, current, dt, **kw)

    return jax.lax.scan(body, state, None, length=steps)
