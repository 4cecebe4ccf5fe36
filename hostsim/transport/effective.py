"""Effective transport through a voxel volume: D_eff/D, porosity, tortuosity factor, flux field.

The problem (the one TauFactor and PuMA solve): steady diffusion ``div(k grad c) = 0`` with
``c = 1`` on the first face and ``c = 0`` on the last face of the chosen axis (imposed on the
voxel faces, half a voxel from the first cell centre), lateral faces no-flux (default, as in
TauFactor and right for non-periodic images) or periodic. Then

    D_eff / D = J L / (A * 1),          tau = eps D / D_eff  (TauFactor's convention),

with ``J`` the mean total flux over all ``n + 1`` face layers along the axis (identical at
convergence; averaging damps the solver's residual), ``L = n h`` and ``A`` the cross-section.
``D`` is the pore phase's diffusivity; other phases may conduct too (two-phase media with a
conductivity per phase), their values taken relative to ``D``.

Model choices and their consequences:

* Clusters of conducting voxels that do not connect the two end faces (6-connectivity, across
  periodic faces when lateral is periodic) are removed before the solve; they carry no
  flux at steady state, and removing them keeps the operator positive definite. Their
  concentration is reported as 0.
* A pore phase that does not percolate gives ``D_eff = 0`` and ``tau = inf`` with a message,
  and no solve is run.
* The reported ``relative_residual`` is the *true* residual ``||b - A c|| / ||b||`` recomputed
  after the solve, not the recursive one.

``transport_solve`` and ``effective_diffusivity_ratio`` are pure JAX (``jit``/``vmap``/``grad``);
``effective_transport`` is the user-facing wrapper that validates input with clear errors.
"""

from __future__ import annotations

import dataclasses
import math
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from hostsim.errors import InputError
from hostsim.numerics.grid import Grid, axis_index, resolve_dtype
from hostsim.numerics.linsolve import PCG, SolveStats, linear_solve
from hostsim.numerics.operators import DiffusionOperator, Dirichlet, assemble
from hostsim.numerics.percolation import percolating_mask

_AXIS_LETTERS = "xyz"


def _transport_system(grid: Grid, conductivity: jax.Array, active: jax.Array | None):
    """Operator, right-hand side and initial guess of the through-plane problem."""
    op, rhs = assemble(grid, conductivity, Dirichlet(1.0), Dirichlet(0.0), active=active)
    # Start from the straight-channel solution (linear from 1 to 0 across the axis): it is exact
    # for layered media and cuts the initial residual of a random medium by ~20x.
    n = grid.shape[grid.axis]
    shape = [1, 1, 1]
    shape[grid.axis] = n
    linear = (1.0 - (jnp.arange(n, dtype=rhs.dtype) + 0.5) / n).reshape(shape)
    guess = jnp.broadcast_to(linear, grid.shape)
    if active is not None:
        guess = guess * active.astype(rhs.dtype)
    return op, rhs, guess


def transport_solve(
    grid: Grid,
    conductivity: jax.Array,
    active: jax.Array | None = None,
    solver: PCG = PCG(),
    *,
    throw: bool = True,
) -> tuple[jax.Array, DiffusionOperator, SolveStats]:
    """Solve the through-plane problem (c = 1 / c = 0 on the faces of ``grid.axis``).

    ``conductivity`` is relative (O(1)); ``active`` (optional 0/1) masks cells out.
    Returns ``(concentration, operator, stats)``.
    """
    op, rhs, guess = _transport_system(grid, conductivity, active)
    c, stats = linear_solve(op, rhs, solver, initial_guess=guess, throw=throw)
    return c, op, stats


def _boundary_fluxes(grid: Grid, k: jax.Array, c: jax.Array):
    """Flux through the inlet and outlet faces, per boundary cell (wrap-free)."""
    d = grid.axis
    k0 = jnp.take(k, 0, axis=d)
    kn = jnp.take(k, -1, axis=d)
    inlet = 2.0 * k0 * (1.0 - jnp.take(c, 0, axis=d))
    outlet = 2.0 * kn * jnp.take(c, -1, axis=d)
    return inlet, outlet


def layer_fluxes(grid: Grid, op: DiffusionOperator, k: jax.Array, c: jax.Array) -> jax.Array:
    """Total flux through each of the ``n + 1`` face layers normal to ``grid.axis`` (voxel units)."""
    d = grid.axis
    lateral = grid.lateral_axes
    interior = op.fluxes(c, d).sum(axis=lateral)[:-1]
    inlet, outlet = _boundary_fluxes(grid, k, c)
    return jnp.concatenate([inlet.sum()[None], interior, outlet.sum()[None]])


def effective_diffusivity_ratio(
    grid: Grid,
    conductivity: jax.Array,
    active: jax.Array | None = None,
    solver: PCG = PCG(),
) -> jax.Array:
    """``D_eff / D`` for relative conductivities (differentiable scalar)."""
    k = conductivity if active is None else conductivity * active.astype(conductivity.dtype)
    c, op, _ = transport_solve(grid, k, active, solver)
    n = grid.shape[grid.axis]
    area = math.prod(grid.shape[a] for a in grid.lateral_axes)
    return jnp.mean(layer_fluxes(grid, op, k, c)) * n / area


def _cell_flux_field(grid: Grid, op: DiffusionOperator, k, c) -> jax.Array:
    """Cell-centred flux vector (mean of the two faces), normalised by D dc / L."""
    n = grid.shape[grid.axis]
    comps = []
    for d in range(3):
        f = op.fluxes(c, d)
        if d == grid.axis:
            inlet, outlet = _boundary_fluxes(grid, k, c)
            lower = jnp.concatenate(
                [jnp.expand_dims(inlet, d), jax.lax.slice_in_dim(f, 0, f.shape[d] - 1, axis=d)], axis=d
            )
            upper = jnp.concatenate(
                [jax.lax.slice_in_dim(f, 0, f.shape[d] - 1, axis=d), jnp.expand_dims(outlet, d)], axis=d
            )
        else:
            lower, upper = jnp.roll(f, 1, axis=d), f
        comps.append(0.5 * (lower + upper) * n)
    return jnp.stack(comps)


@eqx.filter_jit
def _solve_volume(grid: Grid, k: jax.Array, active: jax.Array, solver: PCG):
    k = k * active
    op, rhs, guess = _transport_system(grid, k, active)
    c, stats = linear_solve(op, rhs, solver, initial_guess=guess, throw=False)
    true_res = jnp.linalg.norm(rhs - op(c)) / jnp.linalg.norm(rhs)
    fluxes = layer_fluxes(grid, op, k, c)
    flux_field = _cell_flux_field(grid, op, k, c)
    return c, fluxes, flux_field, stats, true_res


@dataclasses.dataclass(frozen=True)
class TransportResult:
    """Effective transport of one volume along one axis. Ratios are dimensionless."""

    effective_diffusivity_ratio: float
    """D_eff / D, with D the pore phase's diffusivity."""
    tortuosity_factor: float
    """eps D / D_eff (TauFactor's convention); ``inf`` when the pore phase does not percolate."""
    porosity: float
    """Volume fraction of the pore phase."""
    percolating_porosity: float
    """Volume fraction of pore voxels in conducting clusters that connect the two end faces."""
    percolates: bool
    axis: str
    shape: tuple
    lateral: str
    precision: str
    iterations: int
    relative_residual: float
    """True residual ||b - A c|| / ||b|| after the solve."""
    converged: bool
    flux_spread: float
    """(max - min) / mean of the layer fluxes: 0 for an exactly conservative solution."""
    seconds: float
    message: str
    concentration: np.ndarray = dataclasses.field(repr=False)
    """Normalised concentration (1 at the inlet face, 0 at the outlet face); 0 outside the
    percolating clusters."""
    flux: np.ndarray = dataclasses.field(repr=False)
    """Cell-centred flux vector, shape (3, nx, ny, nz), normalised by D dc / L, so the mean of
    the through-plane component is D_eff / D."""

    def to_dict(self) -> dict:
        """Scalars only, JSON-ready (``tortuosity_factor`` is ``None`` when infinite)."""
        tau = self.tortuosity_factor
        return {
            "effective_diffusivity_ratio": self.effective_diffusivity_ratio,
            "tortuosity_factor": tau if math.isfinite(tau) else None,
            "porosity": self.porosity,
            "percolating_porosity": self.percolating_porosity,
            "percolates": self.percolates,
            "axis": self.axis,
            "shape": list(self.shape),
            "lateral": self.lateral,
            "precision": self.precision,
            "iterations": self.iterations,
            "relative_residual": self.relative_residual,
            "converged": self.converged,
            "flux_spread": self.flux_spread,
            "seconds": self.seconds,
            "message": self.message,
            "units": {
                "effective_diffusivity_ratio": "1 (D_eff/D)",
                "tortuosity_factor": "1 (eps D / D_eff)",
                "porosity": "1 (volume fraction)",
                "seconds": "s (wall clock, including compilation)",
            },
        }


def _phase_list(phases) -> str:
    shown = ", ".join(str(p) for p in phases[:10])
    return shown + (f", ... ({len(phases)} phases)" if len(phases) > 10 else "")


def _phase_conductivity(volume: np.ndarray, pore_value, conductivities, source: str):
    """Relative conductivity per voxel (pore phase = 1) and the pore phase value."""
    phases = np.unique(volume)

    def check_phase(value, what):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise InputError(f"{source}: {what} must be a number; got {value!r}")
        if not np.any(phases == value):
            raise InputError(f"{source}: {what} {value!r} does not occur in the volume (phases present: {_phase_list(phases)})")

    if pore_value is None:
        if not np.any(phases == 1):
            raise InputError(
                f"{source}: cannot tell the pore phase: the volume has no phase 1 (phases present: "
                f"{_phase_list(phases)}); pass pore_value (CLI: --pore-value V)"
            )
        pore_value = 1
    check_phase(pore_value, "pore value")
    table = {} if conductivities is None else dict(conductivities)
    for value, kappa in table.items():
        check_phase(value, "phase")
        if isinstance(kappa, (bool, np.bool_)) or not isinstance(kappa, (int, float, np.integer, np.floating)) or not (
            np.isfinite(kappa) and kappa >= 0
        ):
            raise InputError(f"{source}: diffusivity of phase {value!r} must be a finite number >= 0; got {kappa!r}")
    d_pore = float(table.setdefault(pore_value, 1.0))
    if d_pore <= 0:
        raise InputError(f"{source}: the pore phase {pore_value!r} must have a positive diffusivity; got {d_pore}")
    k = np.zeros(volume.shape, np.float64)
    for value, kappa in table.items():
        k[volume == value] = float(kappa) / d_pore
    return k, pore_value


def validate_volume(volume, source: str = "volume") -> np.ndarray:
    """Check a phase volume is a finite real 3-D array (bool, integer or float); return it."""
    arr = np.asarray(volume)
    if arr.dtype.kind not in "biuf":
        raise InputError(
            f"{source}: expected a real numeric array of phase values (bool, integer or float), got dtype {arr.dtype}"
        )
    if arr.ndim != 3:
        raise InputError(f"{source}: expected a 3-D volume, got {arr.ndim}-D array of shape {arr.shape}")
    if arr.size == 0:
        raise InputError(f"{source}: the volume is empty (shape {arr.shape})")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise InputError(f"{source}: {bad} voxel(s) are NaN or infinite; phase values must be finite")
    if arr.dtype == bool:
        arr = arr.astype(np.uint8)
    if arr.dtype == np.float16:
        arr = arr.astype(np.float32)
    return arr


def effective_transport(
    volume,
    axis: int | str = "z",
    *,
    pore_value=None,
    conductivities: dict | None = None,
    lateral: str = "no_flux",
    precision: str = "float32",
    solver: PCG | None = None,
    source: str = "volume",
    mesh=None,
) -> TransportResult:
    """Effective diffusivity, porosity and tortuosity factor of a phase volume along ``axis``.

    Args:
        volume: 3-D array of phase values indexed ``[x, y, z]``.
        axis: transport axis, ``"x"``, ``"y"``, ``"z"`` or 0, 1, 2.
        pore_value: the phase value of the pore (electrolyte) phase; default 1 (an error if the
            volume has no phase 1).
        conductivities: optional ``{phase value: diffusivity}`` for two (or more) conducting
            phases, relative to the pore phase's diffusivity (1 unless listed). Phases not
            listed are insulating. Default: pore phase 1, everything else 0. With conducting
            non-pore phases, ``tortuosity_factor`` (eps_pore D / D_eff, TauFactor's definition)
            can fall below 1 and ``percolating_porosity`` counts pore voxels of conducting
            clusters that span the axis through any conducting phase.
        lateral: ``"no_flux"`` (default, TauFactor's sides) or ``"periodic"``.
        precision: ``"float32"`` (default) or ``"float64"``.
        solver: a :class:`~hostsim.PCG` (default: multigrid-preconditioned, ``rtol=1e-6``).
        source: name used in error messages (e.g. the file name).
        mesh: a 1-D ``jax.sharding.Mesh`` (:func:`hostsim.numerics.sharding.z_mesh`) to split the
            volume along z over its devices, for a volume too large for one device; every field of
            the solve, the multigrid levels included, stays split (same answer to round-off).

    Raises:
        InputError: for a malformed volume, an unknown axis, an absent phase, an axis of length
            1, or a solve that did not converge.
    """
    t0 = time.perf_counter()
    prepared = _prepare(volume, axis, pore_value, conductivities, lateral, precision, source)
    if isinstance(prepared, TransportResult):
        return dataclasses.replace(prepared, seconds=time.perf_counter() - t0)
    grid, k, active, common = prepared
    solver = PCG() if solver is None else solver
    from hostsim.numerics.sharding import shard_cells

    k, active = shard_cells((np.asarray(k, grid.dtype), np.asarray(active, grid.dtype)), mesh)
    c, fluxes, flux_field, stats, true_res = _solve_volume(grid, jnp.asarray(k), jnp.asarray(active), solver)
    return _finish(grid, common, solver, c, fluxes, flux_field, stats, true_res, time.perf_counter() - t0, source)


def _prepare(volume, axis, pore_value, conductivities, lateral, precision, source):
    """Validate a volume and set up its solve: ``(grid, k, active, common)``, or the finished
    :class:`TransportResult` of a volume with no percolating path."""
    t0 = time.perf_counter()
    vol = validate_volume(volume, source)
    try:
        d = axis_index(axis)
        dtype = resolve_dtype(precision)
    except ValueError as e:
        raise InputError(f"{source}: {e}") from None
    if lateral not in ("periodic", "no_flux"):
        raise InputError(f"{source}: lateral must be 'periodic' or 'no_flux'; got {lateral!r}")
    if vol.shape[d] < 2:
        raise InputError(
            f"{source}: the transport axis {_AXIS_LETTERS[d]} has length {vol.shape[d]}; need at least 2 voxels"
        )
    k, pore_value = _phase_conductivity(vol, pore_value, conductivities, source)
    grid = Grid(shape=vol.shape, voxel_size=1.0, lateral=lateral, axis=d, dtype=dtype)
    periodic_axes = [a for a in grid.lateral_axes if lateral == "periodic"]
    active = percolating_mask(k > 0, d, periodic_axes)
    pore = vol == pore_value
    porosity = float(pore.mean())
    percolating_porosity = float((pore & active).mean())
    common = dict(
        porosity=porosity,
        percolating_porosity=percolating_porosity,
        axis=_AXIS_LETTERS[d],
        shape=tuple(int(n) for n in vol.shape),
        lateral=lateral,
        precision=str(np.dtype(dtype)),
    )
    if not active.any():
        return TransportResult(
            effective_diffusivity_ratio=0.0,
            tortuosity_factor=math.inf,
            percolates=False,
            iterations=0,
            relative_residual=0.0,
            converged=True,
            flux_spread=0.0,
            seconds=time.perf_counter() - t0,
            message=(
                f"no conducting path connects the two faces along {_AXIS_LETTERS[d]} "
                "(6-connectivity): D_eff = 0, tortuosity factor infinite"
            ),
            concentration=np.zeros(vol.shape, dtype),
            flux=np.zeros((3,) + vol.shape, dtype),
            **common,
        )
    return grid, k, active, common


def _finish(grid, common, solver, c, fluxes, flux_field, stats, true_res, seconds, source):
    """The :class:`TransportResult` of a solved volume."""
    vol_shape = grid.shape
    d = grid.axis
    porosity, percolating_porosity = common["porosity"], common["percolating_porosity"]
    fluxes = np.asarray(fluxes, np.float64)
    n = vol_shape[d]
    area = math.prod(vol_shape[a] for a in grid.lateral_axes)
    ratio = float(fluxes.mean() * n / area)
    converged = bool(stats.converged)
    if not converged:
        raise InputError(
            f"{source}: the solve did not converge in {int(stats.iterations)} iterations "
            f"(relative residual {float(stats.relative_residual):.2e}, asked {solver.rtol:.1e}); "
            "loosen rtol, raise max_steps or use precision float64"
        )
    mean = fluxes.mean()
    spread = float((fluxes.max() - fluxes.min()) / mean) if mean > 0 else 0.0
    tau = porosity / ratio if ratio > 0 else math.inf
    message = "ok"
    if percolating_porosity < porosity:
        message = (
            f"{100 * (porosity - percolating_porosity) / max(porosity, 1e-300):.2f}% of the pore "
            "volume is in clusters that do not span the axis (removed before the solve)"
        )
    return TransportResult(
        effective_diffusivity_ratio=ratio,
        tortuosity_factor=tau,
        percolates=True,
        iterations=int(stats.iterations),
        relative_residual=float(true_res),
        converged=converged,
        flux_spread=spread,
        seconds=seconds,
        message=message,
        concentration=np.asarray(c),
        flux=np.asarray(flux_field),
        **common,
    )


def _member_bytes(shape, dtype) -> int:
    """Memory one batch member needs while it is solved [bytes]: ~24 cell fields (k, mask,
    solution, the flux field's 3 components, CG's 5 vectors, the operator's 7 coefficient arrays,
    and the multigrid hierarchy's ~1/7 more of all of it): an estimate, of the order of XLA's own
    memory analysis (docs/performance.md: memory)."""
    return int(24 * math.prod(shape) * np.dtype(dtype).itemsize * 8 / 7)


def effective_transport_batch(
    volumes,
    axis: int | str = "z",
    *,
    pore_value=None,
    conductivities: dict | None = None,
    lateral: str = "no_flux",
    precision: str = "float32",
    solver: PCG | None = None,
    sources=None,
    memory_bytes: int | None = None,
    sharding=None,
) -> list:
    """:func:`effective_transport` of many volumes, same-shape volumes solved together.

    Volumes of the same shape are stacked and solved by one ``vmap``-ped multigrid PCG per chunk
    (a batched ``while_loop`` runs until its slowest member converges; the others' iterations
    are reported per member). Chunks are sized so a chunk's members fit in ``memory_bytes``
    (default: a quarter of the available memory, :func:`_member_bytes` per member). With
    ``sharding`` (a ``jax.sharding.NamedSharding`` over a 1-D ``batch`` mesh), a chunk's batch
    axis is split over the devices. Returns one :class:`TransportResult` per volume, in order;
    ``seconds`` is the member's share of its chunk's wall time.
    """
    sources = [f"volume {i}" for i in range(len(volumes))] if sources is None else list(sources)
    solver = PCG() if solver is None else solver
    results: list = [None] * len(volumes)
    groups: dict = {}
    for i, (vol, src) in enumerate(zip(volumes, sources)):
        prepared = _prepare(vol, axis, pore_value, conductivities, lateral, precision, src)
        if isinstance(prepared, TransportResult):
            results[i] = prepared
            continue
        grid, k, active, common = prepared
        groups.setdefault(grid, []).append((i, k, active, common))
    if memory_bytes is None:
        memory_bytes = _available_memory() // 4
    for grid, members in groups.items():
        per_chunk = max(1, memory_bytes // _member_bytes(grid.shape, grid.dtype))
        if sharding is not None:  # whole multiples of the device count
            n_dev = sharding.mesh.size
            per_chunk = max(n_dev, per_chunk // n_dev * n_dev)
        for start in range(0, len(members), per_chunk):
            chunk = members[start:start + per_chunk]
            t0 = time.perf_counter()
            k = jnp.asarray(np.stack([m[1] for m in chunk]), grid.dtype)
            active = jnp.asarray(np.stack([m[2] for m in chunk]), grid.dtype)
            pad = 0
            if sharding is not None and len(chunk) % sharding.mesh.size:
                pad = sharding.mesh.size - len(chunk) % sharding.mesh.size  # repeat the last member
                k = jnp.concatenate([k, jnp.repeat(k[-1:], pad, 0)])
                active = jnp.concatenate([active, jnp.repeat(active[-1:], pad, 0)])
            if sharding is not None:
                k, active = jax.device_put(k, sharding), jax.device_put(active, sharding)
                out = _solve_sharded(grid, k, active, solver, sharding.mesh)
            else:
                out = _solve_batch(grid, k, active, solver)
            out = jax.tree.map(np.asarray, out)
            seconds = (time.perf_counter() - t0) / len(chunk)
            for j, (i, _, _, common) in enumerate(chunk):
                c, fluxes, flux_field, stats, true_res = jax.tree.map(lambda a: a[j], out)
                results[i] = _finish(grid, common, solver, c, fluxes, flux_field, stats, true_res, seconds, sources[i])
    return results


@eqx.filter_jit
def _solve_batch(grid: Grid, k, active, solver: PCG):
    return jax.vmap(lambda kk, aa: _solve_volume.__wrapped__(grid, kk, aa, solver))(k, active)


@eqx.filter_jit
def _solve_sharded(grid: Grid, k, active, solver: PCG, mesh):
    """The batch split over ``mesh``'s one axis with ``shard_map``: each device solves its own
    members with its own ``while_loop``. (Partitioning the vmapped solve with ``jit`` instead
    turns the loop's stop test into a cross-device all-reduce every iteration, which deadlocked in
    XLA's rendezvous; docs/batch.md.)"""
    from jax.sharding import PartitionSpec

    spec = PartitionSpec(mesh.axis_names[0])
    local = jax.shard_map(lambda kk, aa: _solve_batch.__wrapped__(grid, kk, aa, solver), mesh=mesh,
                          in_specs=(spec, spec), out_specs=spec, check_vma=False)
    return local(k, active)


def _available_memory() -> int:
    """Bytes free on the default device (host RAM for CPU)."""
    try:
        stats = jax.local_devices()[0].memory_stats()
        if stats and "bytes_limit" in stats:
            return int(stats["bytes_limit"] - stats.get("bytes_in_use", 0))
    except Exception:  # noqa: BLE001 - a backend without memory stats
        pass
    try:
        import os

        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 2 << 30
