"""The strategy contracts: each abstract base cannot be instantiated, each concrete strategy is an
instance of its base, and a custom subclass of a base works where the built-in ones do."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from segments import fixed_steps, system

from hostsim import Grid, Kinetics, get_electrolyte
from hostsim.electrochemistry.cell import AbstractCellTop, LithiumCounterElectrode, Reservoir
from hostsim.electrochemistry.plating import initial_state
from hostsim.electrochemistry.potential import solve_potential
from hostsim.numerics.linsolve import PCG, linear_solve
from hostsim.numerics.multigrid import AbstractPreconditioner, Identity, Jacobi, Multigrid
from hostsim.numerics.newton import AbstractNewton, AdaptiveNewton, FixedNewton, NewtonSolver
from hostsim.numerics.operators import Dirichlet, Neumann, assemble
from inverse.freeform import FreeForm
from inverse.loop import design_constraints
from inverse.parameterisations import AbstractParameterisation, FamilyParameters, LayerProfile, bounded

ORACLE = get_electrolyte("spec_oracle")


def _family():
    import geometries as geo

    return geo.CuSkeleton(width_um=3.0, height_um=4.0, thickness_um=2.0, fibre_length_um=2.0, voxel_size_um=0.25,
                          fibre_diameter_um=0.5, precision="float64")


@pytest.mark.parametrize("base", [AbstractNewton, AbstractPreconditioner, AbstractCellTop, AbstractParameterisation])
def test_an_abstract_strategy_cannot_be_instantiated(base):
    with pytest.raises(TypeError):
        base()


def test_every_concrete_strategy_is_an_instance_of_its_base():
    assert NewtonSolver is AbstractNewton  # the earlier name still types a Newton strategy
    assert all(isinstance(n, AbstractNewton) for n in (AdaptiveNewton(), FixedNewton()))
    assert all(isinstance(p, AbstractPreconditioner) for p in (Multigrid(), Jacobi(), Identity()))
    assert all(isinstance(t, AbstractCellTop) for t in (Reservoir(), LithiumCounterElectrode()))
    family = _family()
    params = (LayerProfile(family.fields(), layers=8), FamilyParameters(family, ("porosity",)),
              FreeForm(family.fields(), porosity=0.6, feature_size=0.5e-6))
    assert all(isinstance(p, AbstractParameterisation) for p in params)


class _Scaled(eqx.Module):
    inverse_diagonal: jax.Array

    def __call__(self, r):
        return self.inverse_diagonal * r


class DiagonalScaling(AbstractPreconditioner):
    """Point Jacobi by another name (its own built callable)."""

    def build(self, op):
        return _Scaled(1.0 / op.total_diagonal)


def test_a_custom_preconditioner_solves_as_jacobi_does():
    """Through PCG and through Newton (which builds the preconditioner once for its two solves)."""
    g = Grid.create((8, 6, 7), voxel_size=1e-6, lateral="periodic", precision="float64")
    k = jnp.exp(jax.random.normal(jax.random.PRNGKey(0), g.shape))
    op, rhs = assemble(g, k, Neumann(0.0), Dirichlet(1.0), source=jax.random.normal(jax.random.PRNGKey(1), g.shape))
    ours, stats = linear_solve(op, rhs, PCG(rtol=1e-10, preconditioner=DiagonalScaling()))
    jacobi, _ = linear_solve(op, rhs, PCG(rtol=1e-10, preconditioner=Jacobi()))
    assert bool(stats.converged) and np.array_equal(np.asarray(ours), np.asarray(jacobi))

    g = Grid.create((3, 3, 8), voxel_size=1e-6, lateral="periodic", precision="float64")
    s = jnp.zeros(g.shape).at[:, :, 0].set(1.0).at[1, 1, 1:4].set(1.0)
    ones = jnp.ones(g.shape)

    def voltage(preconditioner):
        return solve_potential(g, s, ones, ones, jnp.zeros(g.shape), 1000.0 * ones, ORACLE, Kinetics(),
                               current=10.0 * 9e-12, solver=PCG(rtol=1e-8, preconditioner=preconditioner)).voltage

    assert float(voltage(DiagonalScaling())) == float(voltage(Jacobi()))


class BulkTop(AbstractCellTop):
    """A reservoir by another name, delegating every method."""

    def salt_condition(self, electrolyte, current, projected_area):
        return Reservoir().salt_condition(electrolyte, current, projected_area)

    def face_concentration(self, grid, concentration, effective_diffusivity, electrolyte, current, projected_area):
        return Reservoir().face_concentration(grid, concentration, effective_diffusivity, electrolyte, current,
                                              projected_area)

    def inflow_concentration(self, electrolyte):
        return Reservoir().inflow_concentration(electrolyte)

    def salt_inflow(self, grid, condition, effective_diffusivity, concentration, projected_area):
        return Reservoir().salt_inflow(grid, condition, effective_diffusivity, concentration, projected_area)

    def overpotential(self, kinetics, current, projected_area, face_concentration):
        return Reservoir().overpotential(kinetics, current, projected_area, face_concentration)

    @property
    def closed(self) -> bool:
        return False


def test_a_custom_cell_top_plates_as_the_reservoir_does():
    h = 4e-6
    g = Grid.create((1, 1, 9), voxel_size=h, lateral="no_flux", precision="float64")
    s = jnp.zeros(g.shape).at[:, :, 0].set(1.0)
    start = initial_state(g, jnp.zeros(g.shape), ORACLE)

    def run(top):
        return fixed_steps(system(g, s, jnp.ones(g.shape), jnp.ones(g.shape), ORACLE, Kinetics(), top=top), start,
                           100.0 * h * h, 0.05, 3)

    for a, b in zip(jax.tree.leaves(run(BulkTop())), jax.tree.leaves(run(Reservoir()))):
        assert np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)


class UniformConductor(AbstractParameterisation):
    """One number: the conducting share ``k`` of every host voxel."""

    base: object

    def initial(self):
        return jnp.zeros(1, self.base.grid.dtype)

    def fields(self, x):
        b = self.base
        return b.s, jnp.where(b.s > 0, bounded(x[0], 0.0, 1.0), b.k), b.l, b.theta

    def measures(self, s, k):
        return {"mean_k": float(np.mean(k[s > 0]))}

    def log_entries(self):
        return {}

    def summary(self, x, constraints):
        return {"k": float(bounded(x[0], 0.0, 1.0))}

    def as_built(self, s, k):
        return s, {}

    def add_verification(self, record):
        pass


def test_a_custom_parameterisation_is_measured_by_the_loop():
    param = UniformConductor(_family().fields())
    out = design_constraints(param, param.initial())
    assert list(out) == ["solid_fraction", "mean_k"] and out["mean_k"] == pytest.approx(0.5)
