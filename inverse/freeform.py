"""Free-form 3D design: a host density field and a lithiophilicity field on the
host slab, each read through filter -> projection, the topology-optimisation pipeline.

    x (unconstrained, two fields on the slab)
      -> rho = sigmoid(x_rho)              design density in (0, 1)
      -> rho_f = HelmholtzFilter(rho)      smooth over the minimum feature size
      -> s = Heaviside(rho_f; beta, mu*)   crisp as beta grows; the threshold mu* makes the mean exact
      -> l = HelmholtzFilter(sigmoid(x_l)) lithiophilicity, smooth (no projection: a coating share)

* :class:`HelmholtzFilter` — the PDE filter of Lazarov & Sigmund (2011, Int. J. Numer. Meth.
  Eng. 86, 765): ``-r^2 lap(rho_f) + rho_f = rho`` with zero flux on the slab's ends (periodic or
  no-flux sides as the grid), applied twice with ``r = d / sqrt 3`` for a minimum feature size
  ``d`` (a calibration measured here, see the class; their single pass with ``r = R / (2 sqrt 3)``
  matches a cone filter's second moment but leaves grid-scale features). Each pass is one
  multigrid-PCG solve (implicit adjoint); it keeps ``0 <= rho_f <= 1`` (an M-matrix: a positive
  kernel of unit mass).
* :func:`heaviside` — the smooth tanh projection of Wang, Lazarov & Sigmund (2011, Struct.
  Multidiscip. Optim. 43, 767), eq. 9; ``beta`` grows by a schedule (continuation: the loop
  doubles it every ``beta_every`` iterations up to ``beta_max``, at once or geometrically,
  :func:`beta_at`).
* :func:`exact_mean_shift` — the threshold (a shift of the filtered density in logit space,
  :func:`projected`) at which the projected field's mean is the target solid fraction, found by
  bisection and differentiated by the implicit function theorem (one Newton correction from the
  stopped root carries the exact derivative ``d mu* = -dm / (dm/d mu)``). The porosity is held
  exactly (to round-off), by construction, not by a penalty.

Only the slab between the collector and ``host_top`` is designed; the collector (dense Cu) and
the electrolyte above stay as the base host has them. Host material conducts (``k = 1``: the
free-form host is Cu), so the design chooses where metal is and how lithiophilic its surface is.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from geometries import HostFields
from hostsim import Grid, InputError, Neumann, PCG, assemble, linear_solve

from .bounds import AbstractBox, SigmoidBox
from .connectivity import virtual_temperature
from .constraints import connected_host_fraction, feature_sizes
from .parameterisations import AbstractParameterisation


class HelmholtzFilter(eqx.Module):
    """``-r^2 lap(u) + u = f`` on a grid, applied ``passes`` times, ``r = feature_size / sqrt(3)`` [m].

    Two passes, not one: one pass (kernel spectrum ``1 / (1 + r^2 k^2)``) leaves grid-scale
    roughness on the level set of a rough design, because the gradient's spectrum does not decay;
    measured on random 32³ starts projected at beta = 64, the median solid local thickness was one
    voxel even at r = 3 voxels. Two passes decay as ``k^-4``: with ``r = d / sqrt 3`` the median
    local thickness of each phase is >= d and its lower quartile >= d - 1 voxel (d = 2, 3, 4
    voxels, 3 seeds; ``tests/test_freeform.py``)."""

    feature_size: float = eqx.field(static=True)
    passes: int = eqx.field(static=True, default=2)
    solver: PCG = PCG(rtol=1e-6)

    def __call__(self, grid: Grid, f):
        r = self.feature_size / np.sqrt(3.0)
        h = grid.voxel_size
        u = f
        for _ in range(self.passes):
            # scaled to O(1) coefficients: (r/h)^2 on the faces, 1 on the diagonal
            op, rhs = assemble(grid, jnp.full(grid.shape, (r / h) ** 2, grid.dtype), Neumann(0.0), Neumann(0.0),
                               reaction=1.0 / (h * h), source=u / (h * h))
            u, _ = linear_solve(op, rhs, self.solver, initial_guess=u, throw=False)
        return u


def heaviside(rho, beta, eta):
    """Smooth projection onto {0, 1}: ``(tanh(b e) + tanh(b (rho - e))) / (tanh(b e) + tanh(b (1 - e)))``;
    ``rho`` at ``beta -> 0``, a step at ``eta`` as ``beta -> inf``; 0 -> 0 and 1 -> 1 at every beta."""
    return (jnp.tanh(beta * eta) + jnp.tanh(beta * (rho - eta))) / (jnp.tanh(beta * eta) + jnp.tanh(beta * (1.0 - eta)))


def _shifted(rho, shift):
    """``rho`` moved by ``shift`` in logit space: ``sigmoid(logit(rho) + shift)``, in (0, 1)."""
    r = jnp.clip(rho, 1e-6, 1.0 - 1e-6)
    return jax.nn.sigmoid(jnp.log(r) - jnp.log1p(-r) + shift)


def projected(rho, beta, shift):
    """The projection the design uses: ``heaviside(sigmoid(logit(rho) + shift), beta, 1/2)``. As
    ``beta`` grows it is a step at ``rho = sigmoid(-shift)``: the shift is the threshold, but on
    the whole real line, so any mean in (0, 1) is reachable at every ``beta`` (a threshold
    ``eta`` confined to [0, 1] cannot move the mean far at ``beta = 1``)."""
    return heaviside(_shifted(rho, shift), beta, 0.5)


def _bisect(rho, beta, target, steps: int = 64):
    """The shift in [-40, 40] where ``mean(projected(rho, beta, shift)) = target`` (increasing)."""
    def body(_, bounds):
        lo, hi = bounds
        mid = 0.5 * (lo + hi)
        above = jnp.mean(projected(rho, beta, mid)) > target
        return jnp.where(above, lo, mid), jnp.where(above, mid, hi)

    bounds = (jnp.asarray(-40.0, rho.dtype), jnp.asarray(40.0, rho.dtype))
    lo, hi = jax.lax.fori_loop(0, steps, body, bounds)
    return 0.5 * (lo + hi)


def exact_mean_shift(rho, beta, target):
    """The shift with ``mean(projected(rho, beta, shift)) = target``, differentiable in ``rho``.

    The root is found without derivatives (bisection, 64 halvings); one Newton step from it,
    ``shift = s0 - (m(s0) - target) / m'(s0)`` with ``s0`` stopped, changes the value by round-off
    and gives exactly the implicit-function derivative ``-(dm/drho) / (dm/dshift)``."""
    s0 = jax.lax.stop_gradient(_bisect(jax.lax.stop_gradient(rho), beta, target))
    mean = lambda v: jnp.mean(projected(rho, beta, v))  # noqa: E731
    m, slope = jax.jvp(mean, (s0,), (jnp.ones_like(s0),))
    return s0 - (m - target) / jax.lax.stop_gradient(slope)


class FreeForm(AbstractParameterisation):
    """Density + lithiophilicity per voxel of the host slab of ``base`` (see the module docstring).

    Attributes:
        base: the host whose grid, collector and slab (``collector_layers .. host_top``) are used;
            its slab ``s`` is the starting density, its ``l`` the starting lithiophilicity.
        porosity: pore fraction of the slab, held exactly [-].
        feature_size: minimum feature size (diameter) [m], the filter's.
        beta: the projection's sharpness now (an array: the loop changes it without recompiling).
        design: which fields are designed: ``("s",)`` or ``("s", "l")``.
    """

    base: HostFields
    porosity: float = eqx.field(static=True)
    feature_size: float = eqx.field(static=True)
    beta: jax.Array = eqx.field(converter=lambda b: jnp.asarray(b, jnp.float32), default=1.0)
    design: tuple = eqx.field(static=True, default=("s", "l"))
    # density and lithiophilicity enter through a sigmoid before their filter (their bounds are the
    # projection's 0 and 1, not a parameter's range)
    box: AbstractBox = eqx.field(static=True, default=SigmoidBox())

    def __check_init__(self):
        if not 0.05 <= self.porosity <= 0.95:
            raise InputError(f"free-form: porosity must be in [0.05, 0.95]; got {self.porosity}")
        if not self.feature_size >= 2 * self.base.grid.voxel_size:
            raise InputError(f"free-form: the minimum feature size ({self.feature_size * 1e6:g} µm) must be at least two "
                             f"voxels ({2 * self.base.grid.voxel_size * 1e6:g} µm)")
        if self.design not in (("s",), ("s", "l")):
            raise InputError(f"free-form: design must be [\"s\"] or [\"s\", \"l\"]; got {list(self.design)}")
        if self.base.host_top - self.base.collector_layers < 2:
            raise InputError("free-form: the host slab must be at least 2 voxel layers thick")

    @property
    def slab(self) -> slice:
        return slice(self.base.collector_layers, self.base.host_top)

    def slab_grid(self) -> Grid:
        g = self.base.grid
        return Grid.create(g.shape[:2] + (self.base.host_top - self.base.collector_layers,), g.voxel_size, g.lateral,
                           "z", str(jnp.dtype(g.dtype)))

    def with_beta(self, beta) -> "FreeForm":
        return eqx.tree_at(lambda p: p.beta, self, jnp.asarray(beta, jnp.float32))

    def initial(self) -> jax.Array:
        """The base host's slab (density clipped into (0.02, 0.98)) and lithiophilicity, as logits."""
        logit = lambda v: np.log(v / (1.0 - v))  # noqa: E731
        s = np.clip(np.asarray(self.base.s[:, :, self.slab], np.float64), 0.02, 0.98)
        parts = [logit(s)]
        if "l" in self.design:
            parts.append(logit(np.clip(np.asarray(self.base.l[:, :, self.slab], np.float64), 0.02, 0.98)))
        return jnp.asarray(np.stack(parts), self.base.grid.dtype)

    def density(self, x):
        """Filtered, projected slab density with the exact mean ``1 - porosity``."""
        grid = self.slab_grid()
        rho = HelmholtzFilter(self.feature_size)(grid, jax.nn.sigmoid(x[0]))
        beta = self.beta.astype(rho.dtype)
        return projected(rho, beta, exact_mean_shift(rho, beta, 1.0 - self.porosity))

    def lithiophilicity(self, x):
        if "l" not in self.design:
            return self.base.l[:, :, self.slab]
        return HelmholtzFilter(self.feature_size)(self.slab_grid(), jax.nn.sigmoid(x[1]))

    def fields(self, x):
        b = self.base
        s = b.s.at[:, :, self.slab].set(self.density(x))
        k = b.k.at[:, :, self.slab].set(1.0)
        l = b.l.at[:, :, self.slab].set(self.lithiophilicity(x))
        theta = jnp.zeros_like(b.theta).at[:, :, :self.base.collector_layers].set(b.theta[:, :, :self.base.collector_layers])
        return s, k, l, theta

    def measures(self, s, k) -> dict:
        """The slab's grey share and the conducting host connected to the collector."""
        b = self.base
        slab = s[:, :, b.collector_layers:b.host_top]
        connected = connected_host_fraction(s, k, b.collector_layers, b.grid.lateral == "periodic")
        return {"grey_fraction": float(np.mean((slab > 0.05) & (slab < 0.95))), "connected_host_fraction": connected}

    def bound_names(self, at_bound) -> list[str]:
        """Per designed field, how many voxels sit at a bound (``s: 12 voxels``): one name per voxel
        would be thousands."""
        mask = np.asarray(at_bound)
        fields = ["s", "l"] if "l" in self.design else ["s"]
        return [f"{name}: {int(mask[i].sum())} voxels" for i, name in enumerate(fields) if mask[i].any()]

    def log_entries(self) -> dict:
        return {"beta": float(self.beta)}

    def summary(self, x, constraints: dict) -> dict:
        """The porosity, feature size, final beta and constraints; the design vector (two fields per
        slab voxel) is left to the checkpoint."""
        return {"x": None, "free_form": {"porosity": self.porosity, "feature_size_um": self.feature_size * 1e6,
                                         "beta_final": float(self.beta), **constraints}}

    def as_built(self, s, k) -> tuple:
        """Made crisp: a voxel is host or electrolyte (threshold 1/2), as a real host would be built;
        measured: its porosity, feature sizes and connection to the collector (the connected share of
        the conductor and its virtual temperature)."""
        b = self.base
        periodic = b.grid.lateral == "periodic"
        s = jnp.where(s > 0.5, 1.0, 0.0).astype(s.dtype)
        slab = np.asarray(s)[:, :, b.collector_layers:b.host_top]
        hot = crisp_virtual_temperature(b.grid, s, k, b.collector_layers, b.host_top)
        return s, {"porosity": 1.0 - float(slab.mean()), **feature_sizes(slab, b.grid.voxel_size, periodic),
                   "connected_host_fraction": connected_host_fraction(s, k, b.collector_layers, periodic),
                   "virtual_temperature": float(hot)}

    def add_verification(self, record: dict) -> None:
        """The crisp designs' measures join the free-form entries."""
        record["free_form"].update(record["verification"].pop("crisp"))


crisp_virtual_temperature = eqx.filter_jit(virtual_temperature)


BETA_GROWTHS = ("doubling", "geometric")


def beta_at(iteration: int, start: float, every: int, maximum: float, growth: str = "geometric") -> float:
    """The continuation schedule, at most ``maximum``: ``start`` multiplied by ``2^(1/every)`` every
    iteration (``"geometric"``), or doubled at once every ``every`` iterations (``"doubling"``, the
    topology-optimisation classic). Both reach the same beta at every multiple of ``every``;
    doubling at once jolts a design at each doubling (docs/design.md)."""
    if growth not in BETA_GROWTHS:
        raise ValueError(f"beta growth must be one of {BETA_GROWTHS}; got {growth!r}")
    every = max(every, 1)
    exponent = iteration // every if growth == "doubling" else iteration / every
    return float(min(start * 2.0 ** exponent, maximum))


__all__ = ["BETA_GROWTHS", "FreeForm", "HelmholtzFilter", "beta_at", "exact_mean_shift", "heaviside", "projected"]
