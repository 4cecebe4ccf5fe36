"""The voxel fields of a host, as one pytree: what a run, a batch member or a design iterate
hands to the engine (the families in ``geometries`` build it; importers read it from files)."""

from __future__ import annotations

import equinox as eqx
import jax
import numpy as np

from hostsim.errors import InputError
from hostsim.numerics.grid import Grid


class Host(eqx.Module):
    """Voxel fields of a host (all shaped ``grid.shape``, dtype ``grid.dtype``).

    Attributes:
        s: host solid fraction [-].
        k: electronically conducting share of the host in the voxel [-] (conducting volume
            fraction is ``s * k``).
        l: lithiophilicity of the host surface in the voxel [-] (1 = Au/Ag/Zn, lithiated
            ZnO/Si; 0 = bare Cu/C).
        theta: pre-infused Li-metal fraction [-] (``theta <= 1 - s``).
        grid: the hostsim grid (voxel size in metres, through-plane axis z).
        collector_layers: number of voxel layers at ``z = 0`` that are the current collector.
        host_top: index of the first voxel layer above the host slab.
        family: the family that built the fields.
        li_excluded: open volume fraction [-] that passes ions and salt but takes no Li metal
            (the mesopores of a carbon shell), ``<= 1 - s``; ``None``: none (Li can fill all of
            ``1 - s``). A reacting face needs volume Li can fill on its electrolyte side.
    """

    s: jax.Array
    k: jax.Array
    l: jax.Array
    theta: jax.Array
    grid: Grid
    collector_layers: int = eqx.field(static=True, default=1)
    host_top: int = eqx.field(static=True, default=1)
    family: str = eqx.field(static=True, default="imported")
    li_excluded: jax.Array | None = None

    @property
    def electrolyte_fraction(self) -> jax.Array:
        """``eps = 1 - s - theta`` [-]."""
        return 1.0 - self.s - self.theta

    @property
    def li_fillable(self) -> jax.Array:
        """``m = 1 - s - li_excluded`` [-]: the volume fraction Li metal can fill."""
        from hostsim.electrochemistry.interfaces import li_room

        return li_room(self.s, self.li_excluded)

    def as_numpy(self) -> dict[str, np.ndarray]:
        """The fields as numpy arrays (for writing): ``s, k, l, theta`` and ``li_excluded`` where set."""
        names = ("s", "k", "l", "theta") + (() if self.li_excluded is None else ("li_excluded",))
        return {name: np.asarray(getattr(self, name)) for name in names}

    def arrays(self) -> tuple:
        """``(s, k, l, theta, li_excluded)``: what a run takes of a host (``li_excluded`` may be None)."""
        return self.s, self.k, self.l, self.theta, self.li_excluded


def host_fields(host) -> Host:
    """The fields of ``host``: a :class:`Host` itself, or what a builder gives (a family's
    ``fields()`` method, a built host's ``fields`` attribute)."""
    if isinstance(host, Host):
        return host
    build = getattr(host, "fields", None)
    fields = build() if callable(build) else build
    if not isinstance(fields, Host):
        raise InputError(f"simulate: host: expected a hostsim.Host or a family with fields(); got {type(host).__name__}")
    return fields
