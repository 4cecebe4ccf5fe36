"""Volume readers and the CLI: round trips, JSON output, one-line errors with exit code 2."""

import json
import subprocess
import sys

import numpy as np
import pytest

import hostsim as hs
from hostsim.cli import main


@pytest.fixture
def volume():
    vol = np.zeros((5, 6, 7), np.uint8)
    vol[1:3, 2:5, :] = 1  # straight channels along z: D_eff/D = porosity
    vol[4, 0, 2] = 2
    return vol


def _write_all(tmp_path, vol):
    import tifffile

    paths = {}
    paths["npy"] = tmp_path / "v.npy"
    np.save(paths["npy"], vol)
    paths["npz"] = tmp_path / "v.npz"
    np.savez(paths["npz"], volume=vol, other=np.zeros(3))
    paths["tif"] = tmp_path / "v.tif"
    tifffile.imwrite(paths["tif"], vol.transpose(2, 1, 0))  # pages are z slices of [y, x]
    paths["vti"] = tmp_path / "v.vti"
    hs.write_vti(paths["vti"], {"phase": vol})
    return paths


def test_readers_round_trip_in_xyz_order(tmp_path, volume):
    for fmt, path in _write_all(tmp_path, volume).items():
        loaded = hs.load_volume(path)
        assert loaded.shape == volume.shape, fmt
        np.testing.assert_array_equal(loaded, volume, err_msg=fmt)


def test_cli_json_on_every_format(tmp_path, volume, capsys):
    eps = (volume == 1).mean()
    for fmt, path in _write_all(tmp_path, volume).items():
        assert main(["transport", str(path), "--axis", "z", "--pore-value", "1", "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        for key in ("effective_diffusivity_ratio", "tortuosity_factor", "porosity", "iterations",
                    "relative_residual", "seconds"):
            assert key in out, (fmt, key)
        assert out["effective_diffusivity_ratio"] == pytest.approx(eps, rel=1e-5), fmt
        assert out["tortuosity_factor"] == pytest.approx(1.0, rel=1e-5)
        assert out["porosity"] == pytest.approx(eps)


def test_cli_writes_fields_to_vti(tmp_path, volume, capsys):
    path = tmp_path / "v.npy"
    np.save(path, volume)
    out = tmp_path / "fields.vti"
    assert main(["transport", str(path), "--output", str(out)]) == 0
    import pyvista as pv

    mesh = pv.read(out)
    assert set(mesh.cell_data.keys()) >= {"phase", "concentration", "flux"}
    c = np.asarray(mesh.cell_data["concentration"]).reshape(volume.shape, order="F")
    # linear profile in the straight channels: c = 1 - (k + 1/2) / n
    np.testing.assert_allclose(c[1, 2, :], 1 - (np.arange(7) + 0.5) / 7, atol=1e-5)


def _error_line(capsys):
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("hostsim: error:"), err
    return err


@pytest.mark.parametrize(
    "setup,args,match",
    [
        (None, ["transport", "/nonexistent/vol.npy"], "file not found"),
        ("v.raw", ["transport", "{}"], "unknown volume format"),
        ("flat.npy", ["transport", "{}"], "3-D"),
        ("nan.npy", ["transport", "{}"], "NaN"),
        ("v.npy", ["transport", "{}", "--pore-value", "9"], "does not occur"),
        ("thin.npy", ["transport", "{}", "--axis", "z"], "length 1"),
        ("v.npy", ["transport", "{}", "--axis", "q"], "invalid choice"),
        ("corrupt.tif", ["transport", "{}"], "could not read"),
        ("multi.npz", ["transport", "{}"], "name the volume"),
        ("empty.npy", ["transport", "{}"], "file is empty"),
        ("complex.npy", ["transport", "{}"], "real numeric array"),
        ("v.npy", ["transport", "{}", "--rtol", "inf"], "--rtol"),
        ("v.npy", ["transport", "{}", "--max-steps", "0"], "--max-steps"),
        ("v.npy", ["transport", "{}", "--output", "/proc/hostsim_test.vti"], "cannot write"),
        ("v.npy", ["transport", "{}", "--output", "/nonexistent_dir_hostsim/x.vti"], "does not exist"),
        ("v.npy", ["transport", "{}", "--output", "fields.png"], "expected a .vti"),
        ("v.npy", ["transport", "{}", "--conductivity", "1=0"], "positive diffusivity"),
        ("v.npy", ["transport", "{}", "--conductivity", "7=0.5"], "does not occur"),
        ("v.npy", ["transport", "{}", "--conductivity", "2"], "VALUE=DIFFUSIVITY"),
    ],
)
def test_cli_bad_input_one_line_exit_2(tmp_path, capsys, volume, setup, args, match):
    if setup is not None:
        path = tmp_path / setup
        if setup == "v.raw":
            path.write_bytes(b"\0" * 10)
        elif setup == "flat.npy":
            np.save(path, np.ones((4, 4)))
        elif setup == "nan.npy":
            np.save(path, np.full((3, 3, 3), np.nan))
        elif setup == "v.npy":
            np.save(path, volume)
        elif setup == "thin.npy":
            np.save(path, np.ones((4, 4, 1)))
        elif setup == "corrupt.tif":
            path.write_bytes(b"not a tiff at all")
        elif setup == "multi.npz":
            np.savez(path, a=volume, b=volume)
        elif setup == "empty.npy":
            path.write_bytes(b"")
        elif setup == "complex.npy":
            np.save(path, volume.astype(np.complex64))
        args = [a.replace("{}", str(path)) for a in args]
    with pytest.raises(SystemExit) as exc:
        raise SystemExit(main(args))
    assert exc.value.code == 2
    assert match in _error_line(capsys)


def test_cli_builtin_default_case_end_to_end():
    """The README's main job: `hostsim transport` with no file, as a real subprocess."""
    proc = subprocess.run(
        [sys.executable, "-m", "hostsim.cli", "transport", "--json"], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    from hostsim.cli import DEFAULT_CASE

    vol = hs.random_two_phase(**DEFAULT_CASE)
    reference = hs.effective_transport(vol, "z", precision="float64", solver=hs.PCG(rtol=1e-11))
    assert out["porosity"] == pytest.approx(0.5, abs=1e-6)
    assert out["effective_diffusivity_ratio"] == pytest.approx(reference.effective_diffusivity_ratio, rel=1e-5)
    assert out["relative_residual"] < 1e-5 and out["converged"]


def test_cli_conductivity_adds_a_conducting_phase(tmp_path, capsys):
    """Phase 1 stays the pore (D = 1); --conductivity 2=0.1 makes phase 2 conduct at D/10.
    Channels along z: D_eff/D = f1 * 1 + f2 * 0.1 (arithmetic Wiener mean), tau = f1 / that."""
    vol = np.ones((6, 6, 9), np.uint8)
    vol[:3] = 2
    path = tmp_path / "two.npy"
    np.save(path, vol)
    assert main(["transport", str(path), "--conductivity", "2=0.1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["effective_diffusivity_ratio"] == pytest.approx(0.5 * 1 + 0.5 * 0.1, rel=1e-5)
    assert out["porosity"] == pytest.approx(0.5)
    assert out["tortuosity_factor"] == pytest.approx(0.5 / 0.55, rel=1e-5)
