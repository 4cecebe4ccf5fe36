"""Design parameterisations: an unconstrained vector ``x`` -> host fields ``(s, k, l, theta)``.

Each is an :class:`AbstractParameterisation` holding what stays fixed (the base host); ``initial()``
gives the starting ``x`` and ``fields(x)`` the host, and the rest says what the design loop
(:mod:`inverse.loop`) logs and reports of it. How a bounded component is kept in its range is a
strategy the parameterisation holds (``box``, :mod:`inverse.bounds`): by default linear in the
value and projected onto its box after every update, so the gradient does not vanish at a bound.

* :class:`LayerProfile`: the conducting share ``k``, the lithiophilicity ``l`` and a coating's
  thickness (``film``) per layer through the host's thickness (>= 8 layers), over a fixed
  microstructure ``s``: the graded-host and graded-coating design space.
* :class:`FamilyParameters` (2a): any host family's continuous parameters within their published
  ranges (the others fixed).
* :class:`~inverse.freeform.FreeForm` (2c, its own module): density and lithiophilicity per voxel,
  filtered and projected.

Each has ``base`` (the starting host: grid, collector, slab), ``initial()`` and ``fields(x)``.
"""

from __future__ import annotations

import abc

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from geometries import HostFields
from hostsim import InputError

from .bounds import AbstractBox, ProjectedBox


def _excluded(host) -> tuple:
    """``(host.li_excluded,)`` where the host has one, else ``()``: a design's fields carry it."""
    return () if host.li_excluded is None else (host.li_excluded,)


class AbstractParameterisation(eqx.Module):
    """An unconstrained design vector ``x`` -> host fields over a fixed ``base`` host, and what the
    design loop logs and reports of a design."""

    base: eqx.AbstractVar[HostFields]
    # and ``box``, an AbstractBox: how a bounded component is held in its range (a field of each
    # subclass; an AbstractVar here would fix its place among the dataclass fields before theirs)

    def project(self, x):
        """``x`` after an optimiser update, put back into its bounds (:mod:`inverse.bounds`)."""
        return self.box.project(x)

    def bound_fraction(self, x) -> np.ndarray:
        """Each component's position in its range, in [0, 1], float64 on the host (the verdict's
        at-bound test)."""
        return self.box.host_fraction(x)

    @abc.abstractmethod
    def initial(self) -> jax.Array:
        """The starting design vector."""

    @abc.abstractmethod
    def fields(self, x):
        """``(s, k, l, theta)`` of the design ``x`` on ``base``'s grid, differentiable in ``x``, and
        the host's ``li_excluded`` as a fifth where it has one (:class:`hostsim.Host`)."""

    def kinetics(self, x, kinetics):
        """The kinetics the design ``x`` plates with (a designed coating's films); the case's own by
        default."""
        return kinetics

    @abc.abstractmethod
    def measures(self, s, k) -> dict:
        """Constraint values logged every iteration besides the slab's solid fraction, from the
        design's ``s`` and ``k`` (numpy)."""

    @abc.abstractmethod
    def log_entries(self) -> dict:
        """Columns of an iteration's log row that describe the parameterisation as used then."""

    @abc.abstractmethod
    def summary(self, x, constraints: dict) -> dict:
        """Entries of the final design record (``design.json``) for the design ``x``, whose logged
        constraint values are ``constraints``."""

    def bound_names(self, at_bound) -> list[str]:
        """Names of the design's components at a bound, from the mask ``at_bound`` (``x``'s shape;
        :func:`inverse.verdict.projected_gradient`); by default their indices in ``x``."""
        return [f"x[{i}]" for i in np.flatnonzero(np.asarray(at_bound).ravel())]

    @abc.abstractmethod
    def as_built(self, s, k) -> tuple:
        """``(s, measures)``: the solid fraction as the verification runs the design (as it would
        be built) and what is measured of it (empty: nothing)."""

    @abc.abstractmethod
    def add_verification(self, record: dict) -> None:
        """Move what the verification measured of the built design (``record["verification"]``)
        into this parameterisation's own entries of ``record``."""


class FilmDesign(eqx.Module):
    """The coating a layer profile designs: on ``surface`` (``li``, ``host`` or ``all``), at most
    ``resistance`` [Ohm m²] thick (the case's coating: its thickness over its conductivity); a layer's
    design value ``f`` in [0, 1] puts ``f`` of that thickness there."""

    surface: str = eqx.field(static=True)
    resistance: float = eqx.field(static=True)
    thickness_nm: float = eqx.field(static=True, default=float("nan"))  # the coating's, for the record
    critical_strain: float | None = eqx.field(static=True, default=None)  # the coating's (None: never cracks)

    def films(self, fractions):
        """The :class:`~hostsim.electrochemistry.coating.Films` of per-layer thickness fractions."""
        from hostsim.electrochemistry.coating import films_of

        return films_of([(self.surface, self.resistance * fractions, self.critical_strain)])


class LayerProfile(AbstractParameterisation):
    """``k``, ``l`` and a coating's thickness per layer over a fixed host (``base``), ``layers``
    equal layers between the collector and the slab's top. Host voxels take their layer's ``k`` and
    ``l`` (collector layers and cells above the slab keep the base's); ``s`` and the initial Li are
    the base's. The coating's layers are its graded film (:class:`hostsim.electrochemistry.coating.Films`).

    Attributes:
        base: the host fields the profile is laid over (its ``s`` is the fixed microstructure).
        layers: number of layers (>= 8 for the graded-host design space; >= 1 allowed).
        design: which fields are designed, a subset of ``("k", "l", "film")``.
        start_k, start_l, start_film: the uniform starting values (``film``: the share of the
            coating's thickness).
        film: the designed coating (:class:`FilmDesign`; needed with ``film`` in ``design``).
        box: how the values in [0, 1] are held there (:mod:`inverse.bounds`).
    """

    base: HostFields
    layers: int = eqx.field(static=True, default=8)
    design: tuple = eqx.field(static=True, default=("k", "l"))
    start_k: float = eqx.field(static=True, default=1.0)
    start_l: float = eqx.field(static=True, default=0.5)
    box: AbstractBox = eqx.field(static=True, default=ProjectedBox())
    start_film: float = eqx.field(static=True, default=1.0)
    film: FilmDesign | None = None

    def __check_init__(self):
        if int(self.layers) < 1:
            raise InputError(f"layer profile: layers must be >= 1; got {self.layers}")
        if not self.design or set(self.design) - {"k", "l", "film"}:
            raise InputError(f"layer profile: design must name k, l and/or film; got {list(self.design)}")
        if "film" in self.design and self.film is None:
            raise InputError("layer profile: designing film needs the coating it shapes (one [[coating]])")
        slab = self.base.host_top - self.base.collector_layers
        if slab < self.layers:
            raise InputError(f"layer profile: the host slab is {slab} voxel layers thick, fewer than layers = "
                             f"{self.layers}")

    def layer_index(self) -> np.ndarray:
        """Per z layer of the grid: the design layer it belongs to, -1 outside the slab."""
        nz = self.base.grid.shape[2]
        c, top = self.base.collector_layers, self.base.host_top
        z = np.arange(nz)
        index = np.floor((z - c) * self.layers / (top - c)).astype(int)
        return np.where((z >= c) & (z < top), index, -1)

    def initial(self) -> jax.Array:
        start = {"k": self.start_k, "l": self.start_l, "film": self.start_film}
        return jnp.concatenate([jnp.full(self.layers, float(self.box.start(start[name])), self.base.grid.dtype)
                                for name in self.design])

    def profiles(self, x) -> dict:
        """The per-layer values, by field name."""
        return {name: self.box.fraction(x[i * self.layers:(i + 1) * self.layers]) for i, name in enumerate(self.design)}

    def fields(self, x):
        base = self.base
        index = jnp.asarray(self.layer_index())
        in_slab = (index >= 0)[None, None, :]
        out = {"k": base.k, "l": base.l}
        for name, values in self.profiles(x).items():
            if name == "film":  # the coating is the kinetics' (kinetics)
                continue
            per_z = values[jnp.clip(index, 0, self.layers - 1)][None, None, :]
            out[name] = jnp.where(in_slab & (base.s > 0), per_z, out[name])
        return (base.s, out["k"], out["l"], base.theta) + _excluded(base)

    def kinetics(self, x, kinetics):
        """``kinetics`` with the designed coating's graded film (replacing the case's films: a
        film design has one coating), unchanged without ``film`` in the design."""
        if "film" not in self.design:
            return kinetics
        return eqx.tree_at(lambda kin: kin.films, kinetics, self.film.films(self.profiles(x)["film"]),
                           is_leaf=lambda node: node is None)

    def bound_names(self, at_bound) -> list[str]:
        """``k[3]``: the field and its layer (0 at the collector)."""
        return [f"{self.design[i // self.layers]}[{i % self.layers}]" for i in np.flatnonzero(np.asarray(at_bound))]

    def measures(self, s, k) -> dict:
        return {}

    def log_entries(self) -> dict:
        return {}

    def summary(self, x, constraints: dict) -> dict:
        """The per-layer profiles (and a designed coating's thickness per layer [nm])."""
        profiles = self.profiles(x)
        record = {"layer_profiles": {k: np.asarray(v).tolist() for k, v in profiles.items()}}
        if "film" in profiles:
            record["film_thickness_nm"] = (np.asarray(profiles["film"], np.float64) * self.film.thickness_nm).tolist()
            record["film_surface"] = self.film.surface
        return record

    def as_built(self, s, k) -> tuple:
        return s, {}

    def add_verification(self, record: dict) -> None:
        pass


class FamilyParameters(AbstractParameterisation):
    """A host family's continuous parameters ``names`` as the design, each mapped into its
    published range (open bounds get a margin of 1e-3 of the range; a missing upper bound is
    taken as 10x the start); everything else stays as in ``family``. ``box``: how each is held in
    its range (:mod:`inverse.bounds`)."""

    family: eqx.Module
    names: tuple = eqx.field(static=True)
    bounds: tuple = eqx.field(static=True)
    box: AbstractBox = eqx.field(static=True)

    def __init__(self, family, names=None, box: AbstractBox = ProjectedBox()):
        table = {p.name: p for p in type(family).PARAMETERS}
        continuous = [n for n in table if isinstance(getattr(family, n, None), jax.Array)]
        names = tuple(continuous if names is None else names)
        for n in names:
            if n not in continuous:
                raise InputError(f"family parameters: {family.name} has no continuous parameter {n!r}; "
                                 f"continuous: {', '.join(continuous)}")
        bounds = []
        for n in names:
            p, start = table[n], float(np.asarray(getattr(family, n)))
            low = 0.0 if p.low is None else p.low
            high = 10.0 * max(abs(start), 1e-9) if p.high is None else p.high
            margin = 1e-3 * (high - low)
            bounds.append((low + (0.0 if p.low_inclusive else margin), high - (0.0 if p.high_inclusive else margin)))
        self.family, self.names, self.bounds, self.box = family, names, tuple(bounds), box

    @property
    def base(self) -> HostFields:
        """The starting host (the family as given)."""
        return self.family.fields()

    def initial(self) -> jax.Array:
        return jnp.asarray([float(self.box.start((float(np.asarray(getattr(self.family, n))) - lo) / (hi - lo)))
                            for n, (lo, hi) in zip(self.names, self.bounds)])

    def values(self, x) -> dict:
        return {n: self.box.value(x[i], lo, hi) for i, (n, (lo, hi)) in enumerate(zip(self.names, self.bounds))}

    def fields(self, x):
        values = self.values(x)
        fam = eqx.tree_at(lambda f: [getattr(f, n) for n in self.names], self.family,
                          [values[n].astype(getattr(self.family, n).dtype) for n in self.names])
        f = fam.fields()
        return (f.s, f.k, f.l, f.theta) + _excluded(f)

    def measures(self, s, k) -> dict:
        return {}

    def log_entries(self) -> dict:
        return {}

    def bound_names(self, at_bound) -> list[str]:
        return [self.names[i] for i in np.flatnonzero(np.asarray(at_bound))]

    def summary(self, x, constraints: dict) -> dict:
        """The family parameters."""
        return {"family_parameters": {k: float(v) for k, v in self.values(x).items()}}

    def as_built(self, s, k) -> tuple:
        return s, {}

    def add_verification(self, record: dict) -> None:
        pass
