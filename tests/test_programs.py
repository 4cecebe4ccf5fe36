"""Step programs kept on disk (hostsim.run.programs): the stored program computes exactly what the
traced one does, a key changes with every value the program closes over, and a damaged store
entry is exported again."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from hostsim import Grid, Kinetics, get_electrolyte
from hostsim.electrochemistry.plating import initial_state
from hostsim.run import programs
from hostsim.run.protocol import Protocol, Segment, run_protocol

ORACLE = get_electrolyte("spec_oracle")


def _run(electrolyte=ORACLE):
    g = Grid.create((2, 2, 12), voxel_size=0.5e-6, lateral="periodic", precision="float64")
    s = jnp.zeros(g.shape).at[:, :, 0].set(1.0)
    k, l = jnp.ones(g.shape), jnp.zeros(g.shape)
    proto = Protocol((Segment.plate(1.0, 0.05),))
    state, series, _ = run_protocol(g, s, k, l, initial_state(g, jnp.zeros(g.shape), electrolyte), electrolyte,
                                 Kinetics(), proto)
    return np.asarray(state.theta), series


@pytest.fixture
def store(tmp_path):
    before = programs._directory
    programs._programs.clear()
    programs.use_directory(tmp_path / "programs")
    yield tmp_path / "programs"
    programs.use_directory(before)
    programs._programs.clear()


def test_stored_program_gives_the_traced_programs_result_bit_for_bit(store):
    programs.use_directory(None)
    theta_traced, series_traced = _run()
    programs._programs.clear()
    programs.use_directory(store)
    theta_exported, _ = _run()  # exports and stores
    files = sorted(store.glob("plating_chunk-*.bin"))
    assert len(files) == 1
    programs._programs.clear()  # a new process: the program comes from the file
    theta_loaded, series_loaded = _run()
    assert np.array_equal(theta_exported, theta_traced) and np.array_equal(theta_loaded, theta_traced)
    assert np.array_equal(series_loaded["voltage"], series_traced["voltage"])
    assert sorted(store.glob("plating_chunk-*.bin")) == files  # no second entry for the same key


def test_a_changed_closed_over_value_makes_a_new_program(store):
    """The electrolyte is closed over by the step program: a different c0 is a different key
    (never the stored program of the first), and its result differs."""
    _, series_a = _run()
    _, series_b = _run(get_electrolyte("spec_oracle", concentration=900.0))
    assert len(list(store.glob("plating_chunk-*.bin"))) == 2
    assert series_b["min_concentration"].max() < 0.95 * series_a["min_concentration"].min()


def test_a_damaged_store_entry_is_exported_again(store):
    theta, _ = _run()
    (path,) = store.glob("plating_chunk-*.bin")
    path.write_bytes(b"not a program")
    programs._programs.clear()
    theta_again, _ = _run()
    assert np.array_equal(theta, theta_again)
    assert path.stat().st_size > 1000  # rewritten


def test_release_frees_the_memory_mappings_of_compiled_programs():
    """Each live XLA CPU program holds memory mappings (a session that kept thousands crashed at
    61,016 of Linux's 65,530): 60 small compiled programs add > 300 mappings (~17 each, measured),
    a release gives at least 80 % of them back, and a release 'when over' a share the process is
    far from does nothing."""
    import jax

    if programs._memory_mappings() is None:
        pytest.skip("no /proc/self/maps on this system")
    programs.release_programs()
    before = programs._memory_mappings()
    kept = [jax.jit(lambda x, i=i: jnp.cumsum(x) * i) for i in range(60)]
    for i, f in enumerate(kept):
        f(jnp.ones(i + 2)).block_until_ready()
    grown = programs._memory_mappings()
    assert grown - before > 300
    assert programs.release_programs(when_over=0.99) is False
    assert programs.release_programs() is True
    assert programs._memory_mappings() - before < 0.2 * (grown - before)
    assert kept[5](jnp.ones(7))[-1] == 35.0  # a released program compiles again when called
