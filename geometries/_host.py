"""Host fields on a hostsim grid, the parameter table every family publishes, and the base class
of the family builders.

A family is an :class:`equinox.Module`: its continuous parameters (porosity, diameters, coating
thickness, grading values...) are array leaves, so ``eqx.filter_grad`` differentiates any
summary of :meth:`HostFamily.fields` with respect to all of them at once; its discrete and
extent parameters (seed, box size, voxel size, thickness, lateral boundary, ``sharp``) are
static. Parameters are checked when the module is constructed — before any field is computed —
and every violation names the parameter, its unit and the allowed range.

Layout of every built host: ``z = 0`` is the current collector. The bottom
``collector_layers`` voxel layers are the Cu collector itself (``s = k = 1``, ``l`` = the
collector's lithiophilicity, 0 for bare Cu); the host occupies the slab above it, ``thickness``
thick; above the host, electrolyte up to ``height`` (room for top growth, the separator side).
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any, ClassVar, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from hostsim import Grid, Host, InputError

from ._checks import collecting


# the fields bundle lives in the engine (a run, a batch member or a design iterate hands it over);
# the families build it under this name
HostFields = Host


class Parameter(NamedTuple):
    """One entry of a family's parameter table (``hostsim geometry --list`` prints these)."""

    name: str
    unit: str
    doc: str
    source: str = ""
    low: float | None = None  # allowed range, exclusive unless low_inclusive
    high: float | None = None
    low_inclusive: bool = False
    high_inclusive: bool = False
    choices: tuple = ()

    def check(self, value, family: str) -> None:
        if self.choices:
            if value not in self.choices:
                raise InputError(f"{family}: {self.name} must be one of {', '.join(map(str, self.choices))}; got {value!r}")
            return
        if not _is_concrete(value):
            return
        v = float(np.asarray(value))
        if not np.isfinite(v):
            raise InputError(f"{family}: {self.name} must be a finite number [{self.unit}]; got {v}")
        bad_low = self.low is not None and (v < self.low if self.low_inclusive else v <= self.low)
        bad_high = self.high is not None and (v > self.high if self.high_inclusive else v >= self.high)
        if bad_low or bad_high:
            lo = "(-inf" if self.low is None else ("[" if self.low_inclusive else "(") + f"{self.low:g}"
            hi = "inf)" if self.high is None else f"{self.high:g}" + ("]" if self.high_inclusive else ")")
            unit = f" {self.unit}" if self.unit not in ("", "-") else ""
            raise InputError(f"{family}: {self.name} must be in {lo}, {hi}{unit}; got {v:g}")


def _is_concrete(value) -> bool:
    return not isinstance(value, jax.core.Tracer)


def real(x) -> jax.Array:
    """Converter for continuous parameters: a floating array leaf (float32 unless x64 is on)."""
    return jnp.asarray(x, dtype=float)


def continuous(default: float):
    """A differentiable parameter field (array leaf)."""
    return eqx.field(default=default, converter=real)


def static(default):
    return eqx.field(default=default, static=True)


DOMAIN_PARAMETERS = (
    Parameter("width_um", "µm", "lateral box edge (x and y)", low=0),
    Parameter("height_um", "µm", "box height through-plane, collector to separator side (z)", low=0),
    Parameter("thickness_um", "µm", "host thickness above the collector", low=0, low_inclusive=True),
    Parameter("voxel_size_um", "µm", "voxel edge", low=0),
    Parameter("seed", "-", "random seed (integer); same seed, same host", low=0, low_inclusive=True),
    Parameter("sharp", "-", "crisp 0/1 voxels instead of smooth fractions", choices=(False, True)),
    Parameter("lateral", "-", "lateral boundaries", choices=("periodic", "no_flux")),
    Parameter("precision", "-", "field dtype", choices=("float32", "float64")),
)

_FIELDS_IN_MEMORY = 12  # four fields plus working copies while building (measured peak ~10)


def available_memory_bytes() -> int:
    """MemAvailable from /proc/meminfo (Linux); physical memory otherwise."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


class HostFamily(eqx.Module):
    """Base of every family: box, voxel size, seed and the common checks.

    Subclasses set ``name``, ``title``, ``source`` and ``PARAMETERS`` (their own parameter
    table; defaults come from the dataclass fields) and implement :meth:`_host` returning the
    host-slab fields.
    """

    width_um: float = static(8.0)
    height_um: float = static(8.0)
    thickness_um: float = static(5.0)
    voxel_size_um: float = static(0.125)
    seed: int = static(0)
    sharp: bool = static(False)
    lateral: str = static("periodic")
    precision: str = static("float32")

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    source: ClassVar[str] = ""
    PARAMETERS: ClassVar[tuple[Parameter, ...]] = ()
    collector_layers: ClassVar[int] = 1

    # -- checks --------------------------------------------------------------------------
    def __post_init__(self):
        self._check_all()
        self._derive()

    def _derive(self) -> None:
        """Set derived static fields (counts drawn from concrete parameter values); subclasses
        use ``object.__setattr__`` here, once, at construction."""

    def _check_all(self):
        for p in DOMAIN_PARAMETERS + self.PARAMETERS:
            p.check(getattr(self, p.name), self.name)
        h = self.voxel_size_um
        if self.thickness_um + self.collector_layers * h > self.height_um + 1e-9:
            raise InputError(
                f"{self.name}: thickness_um + collector ({self.thickness_um:g} + {self.collector_layers * h:g} µm) "
                f"exceeds height_um ({self.height_um:g} µm)"
            )
        for name in ("width_um", "height_um", "thickness_um"):
            cells = getattr(self, name) / h
            if abs(cells - round(cells)) > 1e-6 * max(1.0, cells):
                raise InputError(
                    f"{self.name}: {name} = {getattr(self, name):g} µm is not a whole number of voxels of {h:g} µm "
                    f"({cells:.4g}); the box would be silently rounded"
                )
        if self.width_um < 2 * h:
            raise InputError(f"{self.name}: width_um ({self.width_um:g} µm) must span at least 2 voxels of {h:g} µm")
        itemsize = 8 if self.precision == "float64" else 4
        need = math.prod(self.shape) * itemsize * _FIELDS_IN_MEMORY  # Python ints: no overflow
        have = available_memory_bytes()
        if need > have:
            raise InputError(
                f"{self.name}: a {'x'.join(map(str, self.shape))} grid needs about {need / 2**30:.1f} GiB to build "
                f"but {have / 2**30:.1f} GiB is available; use a larger voxel_size_um or a smaller box"
            )
        self._check()

    def _check(self) -> None:
        """Family-specific checks (feature sizes against the voxel size...)."""

    def _at_least_two_voxels(self, name: str, value_um) -> None:
        if _is_concrete(value_um) and float(np.asarray(value_um)) < 2 * self.voxel_size_um - 1e-12:
            raise InputError(
                f"{self.name}: {name} = {float(np.asarray(value_um)):g} µm is thinner than two voxels "
                f"(2 x {self.voxel_size_um:g} µm); lower voxel_size_um or raise {name}"
            )

    # -- geometry ------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int, int]:
        h = self.voxel_size_um
        n = max(1, int(round(self.width_um / h)))
        return (n, n, max(1, int(round(self.height_um / h))))

    @property
    def grid(self) -> Grid:
        return Grid.create(self.shape, voxel_size=self.voxel_size_um * 1e-6, lateral=self.lateral, precision=self.precision)

    @property
    def host_top(self) -> int:
        """Index of the first layer above the host slab."""
        return min(self.shape[2], self.collector_layers + int(round(self.thickness_um / self.voxel_size_um)))

    @property
    def host_shape(self) -> tuple[int, int, int]:
        """Shape of the sub-box the host lives in (collector plus slab)."""
        nx, ny, _ = self.shape
        return (nx, ny, self.host_top)

    def parameters(self) -> dict[str, Any]:
        """All parameters as plain Python values (for reports and case files)."""
        out = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            out[f.name] = float(np.asarray(v)) if isinstance(v, jax.Array) and _is_concrete(v) else v
        return out

    # -- building ------------------------------------------------------------------------
    def _host(self, centres, h: float, dtype) -> tuple:
        """Return ``(s, k, l, theta)`` on the host sub-box (collector layers are overwritten), or
        ``(s, k, l, theta, li_excluded)`` where part of the open volume passes ions but takes no Li
        metal (a mesoporous shell: :class:`hostsim.Host`)."""
        raise NotImplementedError

    def fields(self) -> HostFields:
        """Build the voxel fields (pure JAX; differentiable in the continuous parameters).

        One compiled program per family and static settings, with the continuous parameters as
        its arguments: a sweep over porosities or diameters reuses it, and a run's set-up reads
        one program from the compilation cache instead of ~160 single-operation ones (measured
        on the default case). A failed run-time check of the builder
        (:mod:`geometries._checks`) raises :class:`~hostsim.InputError` naming the family."""
        family, drawn = self._program()
        fields, failures = _compiled_fields(family, drawn)
        for failed, message in failures:
            if isinstance(failed, jax.core.Tracer):  # traced (a design loop's gradient): checked at run time
                fields = eqx.error_if(fields, failed, f"{self.name}: {message}")
            elif bool(failed):
                raise InputError(f"{self.name}: {message}")
        return fields

    def _program(self):
        """``(family, drawn)``: what :meth:`fields` compiles. ``family`` keys the program by its
        static settings; ``drawn`` (arrays or None) is what the seed drew, passed as the program's
        argument where a family can (then a seed sweep reuses one program: see
        :class:`geometries._fibre_family.FibreFamily`). Default: the family itself, nothing drawn."""
        return self, None

    def _fields(self, drawn=None) -> HostFields:
        from ._sdf import cell_centres

        grid = self.grid
        h = grid.voxel_size
        centres = cell_centres(self.host_shape, h, grid.dtype)
        # continuous parameters in the grid's dtype (float64 leaves under x64 with float32 fields)
        family = jax.tree.map(lambda x: x.astype(grid.dtype) if eqx.is_inexact_array(x) else x, self)
        built = family._host(centres, h, grid.dtype) if drawn is None else family._host(centres, h, grid.dtype, drawn)
        # (s, k, l, theta), and a family whose open volume is partly closed to Li metal adds li_excluded
        s, k, l, theta, *excluded = (jnp.broadcast_to(jnp.asarray(f, grid.dtype), self.host_shape) for f in built)
        c = self.collector_layers
        below = (jnp.arange(self.host_shape[2]) < c)[None, None, :]
        s = jnp.where(below, 1.0, s)
        k = jnp.where(below, 1.0, k)
        l = jnp.where(below, family.collector_lithiophilicity(), l)
        theta = jnp.where(below, 0.0, theta)
        pad = ((0, 0), (0, 0), (0, grid.shape[2] - self.host_shape[2]))
        excluded = [jnp.pad(jnp.where(below, 0.0, x), pad).astype(grid.dtype) for x in excluded]
        return HostFields(
            *(jnp.pad(f, pad).astype(grid.dtype) for f in (s, k, l, theta)),
            grid=grid, collector_layers=c, host_top=self.host_top, family=self.name,
            li_excluded=excluded[0] if excluded else None,
        )

    def collector_lithiophilicity(self):
        """Bare Cu: lithiophobic (tens of mV nucleation overpotential; Yan et al., Nat. Energy 1, 16010 (2016))."""
        return 0.0

    def slab_bounds(self, h: float) -> tuple[float, float]:
        """Bottom and top of the host slab [m]."""
        bottom = self.collector_layers * h
        return bottom, self.host_top * h


@eqx.filter_jit
def _compiled_fields(family: HostFamily, drawn=None):
    with collecting() as failures:
        fields = family._fields(drawn)
    return fields, failures


def dense_infusion(solid, region, fraction):
    """Pre-infused Li as dense Li filling the pores from the collector side up (per column).

    Molten Li wicks into a lithiophilic host and solidifies as dense metal (Lin et al. 2016 for
    sparked rGO, Liu et al. 2016 for the ZnO-coated PI mat, Liang et al. 2016 for Si-coated
    carbon): a partial infusion leaves open pores, not a uniform 10 % electrolyte film in every
    pore voxel. Here each column's pore volume in ``region`` is filled in order from the
    collector until ``fraction`` of it holds Li, so whole voxels are dense and the open pores sit
    on the electrolyte side (where the separator is, and where the infusion front stops). The
    partly filled voxel at the fill front is continuous in ``fraction`` and in ``solid``, so
    both can be differentiated. Measured before this: a uniform 0.9 fill wetted the whole film,
    stripped every layer at once (-96 % each) and left 35 % of the top gap layer's Li dead.
    """
    pore = (1.0 - solid) * region
    before = jnp.cumsum(pore, axis=2) - pore  # pore volume below each voxel in its column
    target = fraction * jnp.sum(pore, axis=2, keepdims=True)
    return jnp.clip(target - before, 0.0, pore)
