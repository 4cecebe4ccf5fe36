"""One grid split along z over several devices (hostsim.numerics.sharding): on four fake
CPU devices the effective-transport solve and a plating run give the one-device answer to 1e-6
(float64), and the CLI's --devices refuses more devices than there are."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hostsim.cli import main

FOUR = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")


@pytest.fixture(scope="module")
def split():
    proc = subprocess.run([sys.executable, str(Path(__file__).with_name("sharding_fixture.py"))],
                          capture_output=True, text=True, env=FOUR, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


# slow (~75 s on 2 cores: a subprocess with four fake devices compiles both programs twice); run
# before touching hostsim.numerics.sharding
@pytest.mark.slow
def test_split_transport_solve_equals_one_device(split):
    """D_eff/D and the concentration field of a 16x16x36 volume on 4 devices: 1e-6 of one device's
    (the PCG iteration counts may differ by one: dot products summed in another order)."""
    assert split["transport_deff"] < 1e-6
    assert split["transport_concentration"] < 1e-6
    one, four = split["transport_iterations"]
    assert abs(one - four) <= 1


@pytest.mark.slow
def test_split_plating_run_equals_one_device(split):
    """A Cu-skeleton plating run (0.05 mAh/cm² at 2 mA/cm²) with every field split along z: Li
    fraction, concentration and the voltage series within 1e-6 of one device's, and the state
    stays split (no silent gather onto one device)."""
    assert split["plating_steps"] > 5
    assert "z" in split["plating_sharded_output"]
    for key in ("plating_theta", "plating_concentration", "plating_voltage"):
        assert split[key] < 1e-6, key


def test_devices_beyond_what_the_process_sees_is_one_line(capsys):
    import jax

    n = len(jax.local_devices())
    assert main(["transport", "--devices", str(n + 1)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"--devices {n + 1}" in err
    assert main(["transport", "--devices", "two"]) == 2
    assert "--devices" in capsys.readouterr().err
