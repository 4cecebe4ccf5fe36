"""The interactive 3D view of report.html (hostsim.pictures.interactive).

A fast unit test of the voxel-surface builder (boundary faces counted, coplanar faces merged,
normals outward) and of the view's size on a tiny run; and a browser test: a report of a tiny
synthetic run opened in headless Chromium (software WebGL), offline, that checks the view's
canvas draws the meshes and that no request leaves the machine (Chromium's own network log).
The browser test is skipped when no Chromium/Chrome binary is installed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from run_fixture import write_fake_run  # noqa: E402

from hostsim.pictures.interactive import boundary_faces, interactive_section, voxel_mesh  # noqa: E402

VIEW_LIMIT = 200_000  # bytes: one host's view of the 8x8x16 fake run (4 frames), without plotly.js
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def _outward(mesh: dict, centre: np.ndarray) -> bool:
    """Every triangle's normal points away from ``centre`` (a convex solid's centre)."""
    p = np.stack([mesh["x"], mesh["y"], mesh["z"]], axis=1).astype(float)
    a, b, c = p[mesh["i"].astype(int)], p[mesh["j"].astype(int)], p[mesh["k"].astype(int)]
    normal = np.cross(b - a, c - a)
    return bool(np.all(np.einsum("ij,ij->i", normal, (a + b + c) / 3 - centre) > 0))


def test_voxel_mesh_counts_boundary_faces_and_merges_coplanar_ones():
    one = np.zeros((3, 3, 3), bool)
    one[1, 1, 1] = True
    m = voxel_mesh(one)
    assert (m["faces"], m["rectangles"], len(m["x"]), len(m["i"])) == (6, 6, 8, 12)
    assert _outward(m, np.array([1.5, 1.5, 1.5]))
    cube = np.ones((3, 3, 3), bool)  # 54 outer unit faces, merged to one square per side
    m = voxel_mesh(cube, spacing=0.5)
    assert (m["faces"], m["rectangles"], len(m["x"])) == (54, 6, 8)
    assert m["x"].dtype == np.float32 and m["i"].dtype == np.uint16 and float(m["z"].max()) == 1.5
    assert _outward(m, np.array([0.75, 0.75, 0.75]))
    hollow = cube.copy()
    hollow[1, 1, 1] = False  # + the 6 faces of the cavity
    assert sum(int(f.sum()) for f in boundary_faces(hollow).values()) == 60
    assert voxel_mesh(hollow)["rectangles"] == 12
    bar = np.ones((2, 1, 1), bool)  # 10 unit faces; with two values the long sides do not merge
    assert (voxel_mesh(bar)["faces"], voxel_mesh(bar)["rectangles"]) == (10, 6)
    two = voxel_mesh(bar, value=np.array([1.0, 2.0]).reshape(2, 1, 1))
    assert two["rectangles"] == 10 and sorted(set(two["value"].tolist())) == [1.0, 2.0]
    assert voxel_mesh(np.zeros((2, 2, 2), bool))["faces"] == 0


def test_view_of_a_tiny_run_is_small(tmp_path):
    from hostsim.run.results import load_run

    runs = load_run(write_fake_run(tmp_path / "run", names=("skeleton",), frames=4))
    section = interactive_section(runs)
    script = re.search(r"<script type='text/javascript'>.*?</script>", section, re.S).group(0)
    view = section.replace(script, "")
    assert section.count(script) == 1 and "Plotly.newPlot" in view and "Plotly.addFrames" in view
    assert len(view.encode()) < VIEW_LIMIT, len(view.encode())
    assert "host (conducting)" in view and "Cu collector" in view and "Li (plating time)" in view
    # a run without snapshots gets a line, not an exception
    for f in (tmp_path / "run").glob("skeleton_fields*"):
        shutil.rmtree(f) if f.is_dir() else f.unlink()
    note = interactive_section(load_run(tmp_path / "run"))
    assert "no snapshot files" in note and "Plotly.newPlot" not in note and "<script" not in note


def _browser():
    return next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)


_INSTALL_TRIED = []


def _headless_browser() -> str:
    """A Chromium binary: on the PATH, else installed once from Debian's packages (root with
    apt-get: a CI image), else the test is skipped saying why."""
    if _browser() is None and not _INSTALL_TRIED and shutil.which("apt-get") and os.geteuid() == 0:
        _INSTALL_TRIED.append(True)
        try:
            subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], capture_output=True, timeout=600,
                           env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        except (OSError, subprocess.TimeoutExpired):
            pass
    if _browser() is None:
        pytest.skip(f"no headless browser ({', '.join(BROWSERS)}) on PATH, and apt-get install chromium did not "
                    f"provide one")
    return _browser()


def _page_requests(netlog: Path) -> list:
    """URLs of the requests a page made, from Chromium's network log (``--log-net-log``): the
    URL_REQUEST_START_JOB events with an initiator (the browser's own background requests, to
    Google's update and time servers, have "not an origin")."""
    text = netlog.read_text(errors="replace").rstrip().rstrip(",")
    log = json.loads(text if text.endswith("}") else text + "]}")  # a log cut at exit: close the events list
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [e["params"]["url"] for e in log["events"] if e["type"] == start and "url" in e.get("params", {})
            and e["params"].get("initiator") != "not an origin"]


PLACEHOLDER = (238, 238, 238)  # plotly's "WebGL is not supported" box: where each scene's canvas goes


def _shoot(browser: str, page: Path, png: Path, profile: Path, extra=()) -> None:
    """A screenshot of the whole page (a window taller than the report) in headless Chromium,
    offline: every host name resolves to nothing and any proxied request goes to a dead port."""
    proc = subprocess.run([browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--use-gl=swiftshader",
                           "--enable-unsafe-swiftshader", "--host-resolver-rules=MAP * ~NOTFOUND",
                           "--proxy-server=127.0.0.1:9", "--disable-background-networking", "--disable-component-update",
                           "--no-first-run", f"--user-data-dir={profile}", "--window-size=1200,12000",
                           "--virtual-time-budget=15000", *extra, f"--screenshot={png}", page.resolve().as_uri()],
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0 and png.stat().st_size > 1_000, proc.stderr[-2000:]


def _scene_rows(no_webgl: np.ndarray) -> np.ndarray:
    """Rows of the page where a scene's canvas is (the placeholder fills most of the row when WebGL is off)."""
    return np.flatnonzero((no_webgl == PLACEHOLDER).all(axis=2).mean(axis=1) > 0.5)


def _colour_pixels(rgb: np.ndarray) -> int:
    """Pixels with a clear hue: the meshes (copper, plasma), never the page's black/grey text or axes."""
    rgb = rgb.astype(int)
    return int(((rgb.max(axis=2) - rgb.min(axis=2)) > 60).sum())


def test_report_view_renders_offline_in_headless_chromium(tmp_path):
    from hostsim.cli import main

    run = write_fake_run(tmp_path / "run", names=("foil", "skeleton"), frames=4)
    assert main(["report", str(run), "--quiet"]) == 0
    _check_offline_view(run / "report.html", tmp_path, scenes=2)


@pytest.mark.slow
def test_the_default_case_report_view_renders_offline(tmp_path):
    """The built-in default case (a foil and a Cu skeleton, 1 mAh/cm² at 1 mA/cm²): its report is
    at most 15 MB and its two views render offline in headless Chromium (~5 min on 2 cores)."""
    from hostsim.cli import main

    _headless_browser()  # skip before the run when there is none
    run = tmp_path / "default"
    assert main(["simulate", "--out", str(run), "--quiet"]) == 0
    assert (run / "report.html").stat().st_size <= 15e6
    _check_offline_view(run / "report.html", tmp_path, scenes=2)


def _check_offline_view(page: Path, tmp_path: Path, scenes: int) -> None:
    """``page``'s views: plotly inlined once and nothing fetched by a tag; every scene's canvas
    drawn (coloured pixels where the placeholder sits with WebGL off); no request leaves the page
    (Chromium's network log, checked against a control page that makes one). The screenshot of
    the views is kept beside the page (``interactive_view.png``)."""
    from PIL import Image

    run = page.parent
    text = page.read_text(encoding="utf-8")
    # statically: plotly inlined once, nothing fetched by a tag (scripts' bodies aside, which hold URLs as strings)
    tags = re.sub(r"(<script[^>]*>).*?(</script>)", r"\1\2", text, flags=re.S | re.I)
    assert not re.search(r"<script[^>]*\bsrc\s*=", tags, re.I)
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", tags, re.I)
    assert "Interactive 3D view" in text and text.count("Plotly.newPlot") == scenes
    browser = _headless_browser()
    netlog, full, off = run / "netlog.json", tmp_path / "page.png", tmp_path / "page_no_webgl.png"
    _shoot(browser, page, full, tmp_path / "profile", [f"--log-net-log={netlog}"])
    _shoot(browser, page, off, tmp_path / "profile2", ["--disable-3d-apis"])
    # the two scenes' canvases: where plotly puts its placeholder when WebGL is off
    rows = _scene_rows(np.asarray(Image.open(off).convert("RGB")))
    assert len(rows) > 300 * scenes, len(rows)  # scenes of ~500 px each
    shot = np.asarray(Image.open(full).convert("RGB"))
    scenes = shot[rows, :1000]  # left of the colour bars
    assert _colour_pixels(scenes) > 20_000, _colour_pixels(scenes)  # the meshes are drawn
    Image.fromarray(shot[max(rows[0] - 120, 0): rows[-1] + 200]).save(run / "interactive_view.png")
    # the log sees a page's requests: a control page with one remote image shows it, the report none
    control = tmp_path / "control.html"
    control.write_text('<!doctype html><img src="http://example.invalid/x.png">')
    _shoot(browser, control, tmp_path / "control.png", tmp_path / "profile3", [f"--log-net-log={tmp_path / 'c.json'}"])
    assert any("example.invalid" in u for u in _page_requests(tmp_path / "c.json"))
    assert _page_requests(netlog) == []
