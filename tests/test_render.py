"""Off-screen 3-D renders and animations (hostsim.pictures.render, ``hostsim render``) of the synthetic run
of tests/run_fixture.py (cases foil and skeleton, 8x8x16 voxels of 0.5 µm, 4 frames)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from run_fixture import write_fake_run  # noqa: E402

from hostsim.errors import InputError  # noqa: E402
from hostsim.pictures.render import VIEWS, animate, render  # noqa: E402

SIZE = (320, 240)  # small: fast, and the layout must still work


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return write_fake_run(tmp_path_factory.mktemp("run"))


def _differ(a, b) -> float:
    return float(np.abs(a.astype(float) - b.astype(float)).mean())


def _assert_picture(img, size=SIZE):
    assert img.dtype == np.uint8 and img.shape == (size[1], size[0], 3)
    assert img.std() > 20  # not a blank frame
    drawn = (img < 235).any(axis=2).mean()
    assert 0.05 < drawn < 0.9, drawn  # something drawn on a white background


def test_render_is_a_nonblank_picture_of_the_requested_size(run_dir, tmp_path):
    import imageio.v3 as iio

    out = tmp_path / "skeleton.png"
    img = render(run_dir, case="skeleton", size=SIZE, out=out)
    _assert_picture(img)
    np.testing.assert_array_equal(iio.imread(out)[..., :3], img)
    again = render(run_dir / "skeleton_fields.pvd", size=SIZE)  # same case, same final snapshot
    np.testing.assert_array_equal(again, img)  # fixed camera presets: reproducible pixels


def test_views_differ_and_section_shows_host_li_and_host_top(run_dir):
    images = {v: render(run_dir, case="skeleton", view=v, size=SIZE) for v in VIEWS}
    for img in images.values():
        _assert_picture(img)
    for i, a in enumerate(VIEWS):
        for b in VIEWS[i + 1:]:
            assert _differ(images[a], images[b]) > 1.0, (a, b)
    section = images["section"].astype(int)

    def has(colour, tol=12):
        return (np.abs(section - np.array(colour)).max(axis=2) <= tol).sum()

    assert has((0xd6, 0x27, 0x28)) > 20  # the red host-top line
    assert has((0x8f, 0x8f, 0x8f)) > 200  # grey host (unlit, exact colour)
    assert has((0xa8, 0xc0, 0xdc)) > 200  # silver-blue Li (concentration colours the electrolyte)
    assert has((0xb8, 0x73, 0x33)) > 50  # copper collector


def test_pixels_follow_the_field_values(run_dir, tmp_path):
    import pyvista as pv

    snapshot = run_dir / "skeleton_fields_final.vti"
    mesh = pv.read(snapshot)
    t = np.asarray(mesh.cell_data["plating_time_s"])
    mesh.cell_data["plating_time_s"] = np.where(t > 0, t.max() + 1.0 - t, 0.0)  # late <-> early
    changed = tmp_path / "changed.vti"
    mesh.save(changed)
    base = render(snapshot, size=SIZE)
    assert _differ(base, render(changed, size=SIZE)) > 1.0
    assert _differ(base, render(snapshot, field="plating_current_A_m2", size=SIZE)) > 1.0
    assert _differ(base, render(snapshot, field="concentration_mol_m3", size=SIZE)) > 1.0


def test_multi_case_directory_renders_side_by_side(run_dir):
    both = render(run_dir, size=(480, 240))
    _assert_picture(both, (480, 240))
    one = render(run_dir, case="skeleton", size=(480, 240))
    assert _differ(both, one) > 1.0
    left, middle = both[:, :150], both[:, 150:300]  # the foil and skeleton panels
    assert (left < 235).any(axis=2).mean() > 0.05 and (middle < 235).any(axis=2).mean() > 0.05
    assert _differ(left, middle) > 1.0
    earlier = render(run_dir, size=(480, 240), time=1200.0)
    assert _differ(both, earlier) > 1.0


def test_animate_writes_a_gif_with_fixed_key(run_dir, tmp_path):
    import imageio.v3 as iio

    out = animate(run_dir, tmp_path / "a.gif", case="skeleton", size=SIZE)
    frames = iio.imread(out, index=None)
    assert frames.shape[:3] == (4, SIZE[1], SIZE[0])
    assert _differ(frames[0], frames[-1]) > 1.0
    key = frames[:, :, -80:, :3].astype(float)  # legend and colour bar: the same in every frame
    assert np.abs(key - key[0]).mean() < 1.0
    fewer = iio.imread(animate(run_dir, tmp_path / "b.gif", max_frames=3, size=SIZE), index=None)
    assert fewer.shape[0] == 3  # subsampled: first, middle, last


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(field="no_such_field"), "no_such_field"),
        (dict(field="no_such_field"), "plating_time_s"),  # lists the available ones
        (dict(case="nope"), "nope"),
        (dict(case="nope"), "foil, skeleton"),
        (dict(view="diagonal"), "diagonal"),
        (dict(view="diagonal"), "section"),
        (dict(size=(10, 10)), "size"),
        (dict(size="big"), "size"),
        (dict(time=1e9), "outside"),
        (dict(out="picture.jpg"), ".png"),
    ],
)
def test_bad_arguments_raise_input_error(run_dir, tmp_path, kwargs, match):
    if "out" in kwargs:
        kwargs["out"] = tmp_path / kwargs["out"]
    with pytest.raises(InputError, match=match):
        render(run_dir, size=kwargs.pop("size", SIZE), **kwargs)


def test_bad_sources_raise_input_error(run_dir, tmp_path):
    bad = tmp_path / "corrupt.vti"
    bad.write_text("this is not VTK XML at all")
    with pytest.raises(InputError, match="corrupt.vti"):
        render(bad, size=SIZE)
    (tmp_path / "empty.vti").write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        render(tmp_path / "empty.vti", size=SIZE)
    with pytest.raises(InputError, match="not found"):
        render(tmp_path / "missing_dir", size=SIZE)
    with pytest.raises(InputError, match=r"\.pvd or a \.vti"):
        render(run_dir / "foil_timeseries.csv", size=SIZE)
    empty_dir = tmp_path / "nothing"
    empty_dir.mkdir()
    with pytest.raises(InputError, match="_fields.pvd"):
        render(empty_dir, size=SIZE)
    broken = tmp_path / "broken"
    shutil.copytree(run_dir, broken)
    (broken / "foil_fields" / "foil_0002.vti").unlink()
    with pytest.raises(InputError, match="foil_0002.vti"):
        render(broken, case="foil", size=SIZE)
    (broken / "foil_fields.pvd").write_text("<VTKFile><Collection>")
    with pytest.raises(InputError, match="foil_fields.pvd"):
        render(broken, case="foil", size=SIZE)


def test_animate_rejects_bad_output_and_frame_count(run_dir, tmp_path):
    with pytest.raises(InputError, match="max_frames"):
        animate(run_dir, tmp_path / "a.gif", max_frames=1)
    with pytest.raises(InputError, match=r"\.gif"):
        animate(run_dir, tmp_path / "a.avi")
    try:
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        with pytest.raises(InputError, match=r"imageio-ffmpeg.*\.gif"):
            animate(run_dir, tmp_path / "a.mp4")


def test_cli_writes_a_png_and_fails_in_one_line(run_dir, tmp_path, capsys):
    import imageio.v3 as iio

    from hostsim.cli import main

    out = tmp_path / "cli.png"
    assert main(["render", str(run_dir), "--case", "skeleton", "--view", "section", "--size", "320x240",
                 "--out", str(out)]) == 0
    assert iio.imread(out).shape[:2] == (240, 320)
    capsys.readouterr()
    for args, match in ((["--field", "no_such_field", "--out", str(out)], "no_such_field"),
                        (["--size", "huge", "--out", str(out)], "WIDTHxHEIGHT"),
                        ([], "--out")):
        with pytest.raises(SystemExit) as exc:
            raise SystemExit(main(["render", str(run_dir), *args]))
        assert exc.value.code == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and err.startswith("hostsim: error:") and match in err, err
