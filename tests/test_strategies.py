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
from hostsim.run.batch import AbstractSchedule, Concurrent, OneByOne, Together
from hostsim.run.batching import AbstractBatching, MembersSharded, MembersTogether, OneHost
from hostsim.run.observer import RunObserver
from hostsim.run.protocol import Protocol, Segment, run_protocol
from inverse.freeform import FreeForm
from inverse.loop import design_constraints
from inverse.bounds import AbstractBox, ProjectedBox
from inverse.parameterisations import AbstractParameterisation, FamilyParameters, LayerProfile

ORACLE = get_electrolyte("spec_oracle")


def _family():
    import geometries as geo

    return geo.CuSkeleton(width_um=3.0, height_um=4.0, thickness_um=2.0, fibre_length_um=2.0, voxel_size_um=0.25,
                          fibre_diameter_um=0.5, precision="float64")


@pytest.mark.parametrize("base", [AbstractNewton, AbstractPreconditioner, AbstractCellTop, AbstractParameterisation,
                                  AbstractBatching, AbstractSchedule])
def test_an_abstract_strategy_cannot_be_instantiated(base):
    with pytest.raises(TypeError):
        base()


def test_every_concrete_strategy_is_an_instance_of_its_base():
    assert NewtonSolver is AbstractNewton  # the earlier name still types a Newton strategy
    assert all(isinstance(n, AbstractNewton) for n in (AdaptiveNewton(), FixedNewton()))
    assert all(isinstance(p, AbstractPreconditioner) for p in (Multigrid(), Jacobi(), Identity()))
    assert all(isinstance(t, AbstractCellTop) for t in (Reservoir(), LithiumCounterElectrode()))
    assert all(isinstance(b, AbstractBatching) for b in (OneHost(), MembersTogether(), MembersSharded(None)))
    assert all(isinstance(s, AbstractSchedule) for s in (OneByOne(), Concurrent(), Together()))
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
    box: AbstractBox = ProjectedBox()

    def initial(self):
        return jnp.zeros(1, self.base.grid.dtype)

    def fields(self, x):
        b = self.base
        return b.s, jnp.where(b.s > 0, self.box.fraction(x[0]), b.k), b.l, b.theta

    def measures(self, s, k):
        return {"mean_k": float(np.mean(k[s > 0]))}

    def log_entries(self):
        return {}

    def summary(self, x, constraints):
        return {"k": float(self.box.fraction(x[0]))}

    def as_built(self, s, k):
        return s, {}

    def add_verification(self, record):
        pass


def test_a_custom_parameterisation_is_measured_by_the_loop():
    param = UniformConductor(_family().fields())
    out = design_constraints(param, param.initial())
    assert list(out) == ["solid_fraction", "mean_k"] and out["mean_k"] == pytest.approx(0.5)


class _Recorder(RunObserver):
    """Keeps what the run reports."""

    def __init__(self):
        self.done, self.checkpoints = [], []

    @property
    def wants_checkpoints(self):
        return True

    def progress(self, done_s, total_s, segment):
        self.done.append((done_s, total_s, segment.kind))

    def checkpoint(self, checkpoint):
        self.checkpoints.append(checkpoint)


def test_one_observer_hears_every_chunk_and_members_together_give_the_one_host_run():
    """A foil plated 0.1 mAh/cm² then stripped 0.05 (float64): the run's one observer hears
    progress after every chunk, rising to the protocol's 540 s, with a checkpoint each time; two
    copies of the foil as members together (``MembersTogether``) give the one-host series to 1e-9."""
    g = Grid.create((2, 2, 8), voxel_size=0.5e-6, lateral="periodic", precision="float64")
    s = jnp.zeros(g.shape).at[:, :, 0].set(1.0)
    k, l = jnp.ones(g.shape), jnp.zeros(g.shape)
    proto = Protocol((Segment.plate(1.0, 0.1), Segment.strip(1.0, 0.05)))
    state0 = initial_state(g, jnp.zeros(g.shape), ORACLE)
    seen = _Recorder()
    _, one, logs = run_protocol(g, s, k, l, state0, ORACLE, Kinetics(), proto, observer=seen)
    times = [d for d, _, _ in seen.done]
    assert times == sorted(times) and times[-1] == pytest.approx(540.0, rel=1e-9)
    assert all(t == pytest.approx(540.0) for _, t, _ in seen.done) and seen.done[-1][2] == "strip"
    assert len(seen.checkpoints) == len(seen.done) and seen.checkpoints[-1]["segment"] == 1
    assert [log["outcome"] for log in logs] == ["completed", "completed"]

    two = lambda a: jnp.stack([a, a])  # noqa: E731
    _, series, member_logs = run_protocol(g, two(s), two(k), two(l), jax.tree.map(two, state0), ORACLE, Kinetics(), proto,
                                          batching=MembersTogether())
    assert len(series) == 2 and member_logs[0] == member_logs[1]
    for name in ("voltage", "time", "li_metal_charge"):
        np.testing.assert_allclose(series[1][name], one[name], rtol=1e-9, atol=1e-15)
