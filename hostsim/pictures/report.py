"""``report.html``: one self-contained page per run directory.

:func:`write_report` makes the plots (:mod:`hostsim.pictures.plots`) into ``DIR/figures/``, the 3D renders
and an animation (:mod:`hostsim.pictures.render`) into ``DIR/renders/``, and writes ``DIR/report.html``
with every image embedded (base64), so the page opens from the folder or travels as one file:
the case (``case.toml`` or "built-in default"), each host's summary numbers with units, the
renders (host + plated Li coloured by plating time, a cross-section, side by side for all
hosts), an interactive 3D view per host (:mod:`hostsim.pictures.interactive`: rotate, zoom, time
slider, cuts; plotly's script inlined, so it works offline), the voltage, depth-profile,
current-histogram and envelope plots, the per-cycle plot of a run of two or more cycles, and the
animation.
A part that cannot be made (no snapshots; no off-screen OpenGL on the machine) is left out with
a one-line note in the page instead of failing the run.
"""

from __future__ import annotations

import base64
import html
import json
import warnings
from pathlib import Path

# summary keys shown, in order, with a label and unit (the key's own suffix is the unit in the file)
SUMMARY_ROWS = [
    ("plated_mAh_cm2", "charge passed plating", "mAh/cm²", 1.0, "{:.4f}"),
    ("stripped_mAh_cm2", "charge passed stripping", "mAh/cm²", 1.0, "{:.4f}"),
    ("net_plated_mAh_cm2", "net charge (plated - stripped)", "mAh/cm²", 1.0, "{:.4f}"),
    ("li_metal_mAh_cm2", "of it Li metal", "mAh/cm²", 1.0, "{:.4f}"),
    ("coulombic_efficiency", "Coulombic efficiency (run)", "%", 100.0, "{:.2f}"),
    ("envelope_growth_um", "envelope growth (mean)", "µm", 1.0, "{:.3f}"),
    ("relative_volume_change", "relative volume change", "%", 100.0, "{:.1f}"),
    ("top_growth_fraction", "Li on top of the host", "%", 100.0, "{:.1f}"),
    ("pore_volume_use", "pore volume used", "%", 100.0, "{:.1f}"),
    ("flux_cv", "interfacial current CV (last plating step)", "-", 1.0, "{:.3g}"),
    ("flux_cv_mean", "interfacial current CV (mean over plating)", "-", 1.0, "{:.3g}"),
    ("hotspot_ratio", "hot-spot ratio max/mean", "-", 1.0, "{:.3g}"),
    ("min_concentration_ratio", "lowest c / c0 (electrolyte cells)", "-", 1.0, "{:.3g}"),
    ("sand_time_ratio", "plating time / Sand's time at the projected current", "-", 1.0, "{:.3g}"),
    ("dead_li_fraction", "dead Li", "%", 100.0, "{:.2f}"),
    ("sei_loss_mAh_cm2", "Li lost to SEI (proxy)", "mAh/cm²", 1.0, "{:.4f}"),
    ("final_voltage_V", "final voltage", "mV", 1000.0, "{:.2f}"),
    ("film_overpotential_mean_V", "film drop the mean coulomb crosses (last plating step)", "mV", 1000.0, "{:.2f}"),
    ("coated_current_share", "current crossing a film (last plating step)", "%", 100.0, "{:.1f}"),
    ("film_cracked_share", "Li area under a cracked film (last plating step)", "%", 100.0, "{:.1f}"),
    ("separator_min_concentration_ratio", "lowest c / c0 in the separator", "-", 1.0, "{:.3g}"),
    ("separator_sand_margin", "separator's Sand time / plating time", "-", 1.0, "{:.3g}"),
    ("additive_coverage_mean", "additive coverage of the plating Li (mean)", "-", 1.0, "{:.3g}"),
    ("conservation_error", "conservation error", "-", 1.0, "{:.1e}"),
    ("time_tolerance", "time tolerance (step controller)", "-", 1.0, "{:.3g}"),
    ("steps", "time steps", "-", 1.0, "{:.0f}"),
    ("rejected_steps", "rejected steps", "-", 1.0, "{:.0f}"),
    ("step_median_s", "median step", "s", 1.0, "{:.3g}"),
    ("wall_time_s", "wall time", "s", 1.0, "{:.1f}"),
]

_STYLE = """body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1150px;
color:#222;line-height:1.4}h1{font-size:1.6em}h2{margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0}td,th{padding:.25em .8em;border-bottom:1px solid #eee;text-align:right}
th:first-child,td:first-child{text-align:left}img{max-width:100%;border:1px solid #eee;margin:.4em 0}
pre{background:#f6f6f6;padding:.8em;overflow-x:auto}.note{color:#8a5a00}figcaption{color:#555;font-size:.9em}"""


def _img(path: Path, caption: str) -> str:
    mime = "image/gif" if path.suffix == ".gif" else "image/png"
    data = base64.b64encode(path.read_bytes()).decode()
    return (f'<figure><img alt="{html.escape(caption)}" src="data:{mime};base64,{data}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def _summary_table(runs: dict) -> str:
    names = list(runs)
    head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    rows = []
    for key, label, unit, scale, fmt in SUMMARY_ROWS:
        if not any(key in r.summary and r.summary[key] is not None for r in runs.values()):
            continue
        cells = []
        for r in runs.values():
            v = r.summary.get(key)
            cells.append("<td>—</td>" if v is None else f"<td>{fmt.format(float(v) * scale)}</td>")
        rows.append(f"<tr><td>{html.escape(label)} [{unit}]</td>{''.join(cells)}</tr>")
    def note(s):
        why = s.get("coulombic_efficiency_note")
        return str(s.get("message", "")) + ("" if not why or not s.get("stripped_mAh_cm2") else
                                            f"; no Coulombic efficiency: {why}")

    messages = "".join(f"<li><b>{html.escape(n)}</b>: {html.escape(note(r.summary))}</li>" for n, r in runs.items())
    return f"<table><tr><th>quantity</th>{head}</tr>{''.join(rows)}</table><ul>{messages}</ul>"


def _renders(directory: Path, runs: dict, notes: list, progress) -> list:
    """(path, caption) of the renders and the animation; failures become notes. They are drawn in
    a child process (:mod:`hostsim.pictures.isolated`: VTK's and XLA's LLVMs apart)."""
    from hostsim.pictures.isolated import run_jobs

    out = directory / "renders"
    out.mkdir(parents=True, exist_ok=True)
    jobs, captions = [], []
    spec = [("iso", "plating_time_s", None, "all hosts, iso view: host (grey), collector, plated Li coloured by "
             "the mean time it was plated")]
    for name in runs:
        spec.append(("section", None, name, f"{name}: cross-section — Li inside the host vs on top of it"))
        spec.append(("iso", "concentration_mol_m3", name, f"{name}: salt concentration on cut planes"))
    for view, field, case, caption in spec:
        target = out / f"{case or 'all'}_{view}{'_' + field if field else ''}.png"
        jobs.append({"kind": "render", "source": str(directory), "view": view, "field": field, "case": case,
                     "out": str(target), "size": [1200, 800]})
        captions.append((target, caption))
    first = next(iter(runs), None)
    if first is not None and len(runs[first].snapshots) > 1:
        for name in runs:
            target = out / f"{name}_plating.gif"
            jobs.append({"kind": "animate", "source": str(directory), "out": str(target), "case": name,
                         "max_frames": 24, "size": [640, 480]})
            captions.append((target, f"{name}: plating over time (animation)"))
    if progress:
        progress(f"rendering {len(jobs)} images")
    made = []
    for (target, caption), error in zip(captions, run_jobs(jobs)):
        if error is None:
            made.append((target, caption))
        else:
            notes.append(f"render {target.name} left out: {error}")
    return made


def write_report(directory, *, progress=None, renders: bool = True) -> Path:
    """Make plots, renders and ``report.html`` for the run in ``directory``; returns the page."""
    from hostsim.pictures import plots
    from hostsim.run.results import load_run

    directory = Path(directory)
    runs = load_run(directory)  # InputError with the file named if the run is incomplete
    notes: list = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if progress:
            progress("plotting")
        figures = plots.plot_run(directory, out_dir=directory / "figures")
    notes += [str(w.message) for w in caught]
    images = _renders(directory, runs, notes, progress) if renders else []
    case_file = directory / "case.toml"
    case_text = case_file.read_text() if case_file.exists() else "built-in default (hostsim simulate without a case)"
    captions = {"voltage": "Voltage vs time and capacity (plating: negative; nucleation dip, then plateau)",
                "depth_profile": "Where in the thickness the plated Li went, over the run",
                "current_histogram": "Interfacial current density at the last plating snapshot, normalised by its mean",
                "envelope": "Envelope growth vs capacity (dashed: a planar foil, 4.85 µm per mAh/cm²)",
                "cycles": "Per cycle: Coulombic efficiency, Li lost to dead Li and SEI, voltage of the first, a middle "
                          "and the last cycle, envelope after plating and after stripping"}
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>hostsim report — {html.escape(directory.name)}"
             f"</title><style>{_STYLE}</style></head><body>",
             f"<h1>hostsim run: {html.escape(directory.resolve().name)}</h1>",
             f"<p>Hosts: {', '.join(html.escape(n) for n in runs)}. Files: see docs/outputs.md; open "
             f"<code>*_fields.pvd</code> in ParaView for the fields over time.</p>",
             "<h2>Summary</h2>", _summary_table(runs)]
    renders_html = [_img(p, c) for p, c in images if p.suffix == ".png"]
    if renders_html:
        parts += ["<h2>Host and deposit</h2>", *renders_html]
    if renders:  # the rotatable view of the same scene (hostsim.pictures.interactive); --no-renders leaves it out too
        from hostsim.pictures.interactive import interactive_section

        if progress:
            progress("interactive 3D view")
        parts.append(interactive_section(runs))
    parts.append("<h2>Plots</h2>")
    for path in figures:
        parts.append(_img(Path(path), captions.get(Path(path).stem, Path(path).stem)))
    gifs = [_img(p, c) for p, c in images if p.suffix == ".gif"]
    if gifs:
        parts += ["<h2>Animation</h2>", *gifs]
    parts += ["<h2>Case</h2>", f"<pre>{html.escape(case_text)}</pre>"]
    for name, r in runs.items():
        parts.append(f"<details><summary>{html.escape(name)}: full summary.json</summary><pre>"
                     f"{html.escape(json.dumps(r.summary, indent=1, default=str))}</pre></details>")
    if notes:
        parts += ["<h2>Notes</h2><ul>", *(f"<li class='note'>{html.escape(n)}</li>" for n in notes), "</ul>"]
    parts.append("</body></html>")
    page = directory / "report.html"
    tmp = page.with_name("report.html.tmp")
    tmp.write_text("\n".join(parts), encoding="utf-8")
    tmp.replace(page)
    return page


__all__ = ["write_report"]


# for other packages' pages (the design report of inverse/): the same style and embedded images
PAGE_STYLE = _STYLE
embed_image = _img
