"""What closes the cell above the electrolyte: the top face of the grid.

Two choices, passed as objects (``top=``, an :class:`AbstractCellTop`) to :func:`hostsim.solve_potential`,
the plating transient (:class:`hostsim.electrochemistry.plating.PlatingSystem`) and everything above them:

* :class:`Reservoir` — bulk electrolyte at the top face: ``c = c0`` and ``phi_e = 0``. The
  voltage is the working electrode against a Li reference in the bulk. This suits a host in a
  large cell (a separator many diffusion lengths thick) and plating against a reservoir.
* :class:`LithiumCounterElectrode` — a planar Li electrode at the top face (a Li|host cell with a
  gap = the headroom, the symmetric cell of the analytical tests): it releases salt with the flux
  ``(1 - t+) I / (F A)`` while the host plates (takes it up while it strips), so the salt
  between the electrodes is conserved; the cell voltage includes the counter electrode's
  Butler–Volmer overpotential.

Choices and their consequences:

* the counter electrode carries a **uniform** current density ``I / A`` (A = projected area);
  the electrolyte potential on the top face is one value (``phi_e = -eta_ce``). Both hold for a
  planar electrode several pore sizes away from the host; a counter electrode touching the host
  would need its own current distribution;
* it stays **planar and fixed**: the Li it gives up is not removed from the grid. In a real
  cell the counter electrode recedes by the volume the deposit gains and the electrolyte is
  pushed along; here the electrolyte the deposit displaces flows out through the top face with
  its salt (:mod:`hostsim.electrochemistry.displacement`; ``displaced_salt`` counts what left), so
  the electrolyte near a planar front is at rest in the front's frame, as in the real cell. The
  cost sits at the counter electrode instead: the electrolyte flows out through it, where a real
  one recedes with the electrolyte, so its face concentration sits slightly low (the size is in
  docs/electrochemistry.md);
* its kinetics default to the working electrode's (same Li metal, same electrolyte), without a
  nucleation barrier (it is Li already).
"""

from __future__ import annotations

import abc

import equinox as eqx
import jax.numpy as jnp

from hostsim.electrochemistry.constants import FARADAY
from hostsim.electrochemistry.kinetics import Kinetics
from hostsim.numerics.operators import Dirichlet, Neumann


class AbstractCellTop(eqx.Module):
    """What closes the cell at the grid's top face: its salt boundary condition, its face
    concentration for the diffusion potential, what it passes into the electrolyte and its
    overpotential. ``current`` is the working electrode's [A] (> 0 plates)."""

    @abc.abstractmethod
    def salt_condition(self, electrolyte, current, projected_area):
        """The salt's boundary condition on the top face (:class:`Dirichlet` or :class:`Neumann`)."""

    @abc.abstractmethod
    def face_concentration(self, grid, concentration, effective_diffusivity, electrolyte, current, projected_area):
        """Concentration on the top face [mol/m³] (for the diffusion potential)."""

    @abc.abstractmethod
    def inflow_concentration(self, electrolyte):
        """What electrolyte flowing in through the top face carries [mol/m³] (None: the top cell's)."""

    @abc.abstractmethod
    def salt_inflow(self, grid, condition, effective_diffusivity, concentration, projected_area):
        """Salt entering through the top face [mol/s] as the discretisation has it, given this
        top's ``condition`` (:meth:`salt_condition`) and the step's new ``concentration``."""

    @abc.abstractmethod
    def overpotential(self, kinetics, current, projected_area, face_concentration):
        """Counter-electrode overpotential [V]."""

    @property
    @abc.abstractmethod
    def closed(self) -> bool:
        """Whether the cell holds its salt (a counter electrode) rather than a reservoir's."""


class Reservoir(AbstractCellTop):
    """Bulk electrolyte at the top face: ``c = c0``, ``phi_e = 0``."""

    def salt_condition(self, electrolyte, current, projected_area):
        return Dirichlet(electrolyte.concentration)

    def face_concentration(self, grid, concentration, effective_diffusivity, electrolyte, current, projected_area):
        """Concentration on the top face [mol/m³] (for the diffusion potential)."""
        return jnp.asarray(electrolyte.concentration, grid.dtype)

    def inflow_concentration(self, electrolyte):
        """The bulk's: displaced electrolyte is replaced from the reservoir."""
        return electrolyte.concentration

    def salt_inflow(self, grid, condition, effective_diffusivity, concentration, projected_area):
        """The half-cell conductance ``2 D_eff / h`` to the Dirichlet value, over the top layer."""
        top = concentration[:, :, -1]
        return jnp.sum(2.0 * effective_diffusivity[:, :, -1] * (condition.value - top)) * grid.voxel_size

    def overpotential(self, kinetics, current, projected_area, face_concentration):
        """Counter-electrode overpotential [V] (0: the reservoir is the reference)."""
        return jnp.zeros((), jnp.result_type(current, float))

    @property
    def closed(self) -> bool:
        return False


class LithiumCounterElectrode(AbstractCellTop):
    """A planar Li electrode on the top face (uniform current, fixed position)."""

    kinetics: Kinetics | None = None  # None: the working electrode's kinetics

    def salt_condition(self, electrolyte, current, projected_area):
        # salt released into the electrolyte [mol/(m² s)]: the counter electrode strips while the host plates
        return Neumann((1.0 - electrolyte.transference) * current / (FARADAY * projected_area))

    def face_concentration(self, grid, concentration, effective_diffusivity, electrolyte, current, projected_area):
        """Top-face value per column: the top cell plus the known flux over half a cell
        (exact for the linear profile between the electrodes)."""
        q = (1.0 - electrolyte.transference) * current / (FARADAY * projected_area)
        top = concentration[:, :, -1:]
        d = effective_diffusivity[:, :, -1:]
        return jnp.broadcast_to(top + q * grid.voxel_size / (2.0 * d), concentration.shape)

    def inflow_concentration(self, electrolyte):
        """None: no reservoir behind the electrode, so what flows in is the top cell's electrolyte."""
        return None

    def salt_inflow(self, grid, condition, effective_diffusivity, concentration, projected_area):
        """The Neumann flux itself over the projected area."""
        return jnp.asarray(condition.flux, concentration.dtype) * projected_area

    def overpotential(self, kinetics, current, projected_area, face_concentration):
        """eta_ce [V] of the counter electrode carrying ``-current / area`` (it strips while the
        host plates): Butler–Volmer inverted by Newton (8 steps from the symmetric-BV guess)."""
        kin = self.kinetics if self.kinetics is not None else kinetics
        i = -current / projected_area
        c = jnp.mean(face_concentration)
        eta = -2.0 / kin.f * jnp.arcsinh(i / (2.0 * kin.exchange_current(c)))
        for _ in range(8):
            r = kin.butler_volmer(eta, c) - i
            slope = -kin.exchange_current(c) * kin.f * (kin.alpha_c * jnp.exp(-kin.alpha_c * kin.f * eta)
                                                          + kin.alpha_a * jnp.exp(kin.alpha_a * kin.f * eta))
            eta = eta - r / slope
        return eta

    @property
    def closed(self) -> bool:
        return True


__all__ = ["AbstractCellTop", "LithiumCounterElectrode", "Reservoir"]
