"""``report.html`` of a design study: the objective history, the start's and the final design's
verification runs side by side (their numbers and where the Li went through the thickness), and
the design itself. Every claim comes from the verification runs (:func:`inverse.loop.verify_design`),
not from the optimiser's model; the page embeds its images (one file)."""

from __future__ import annotations

import html
import json
from pathlib import Path

ROWS = (("top_growth_fraction", "top growth: Li above the host / all Li [-]", "{:.4f}"),
        ("envelope_growth_um", "envelope growth [µm]", "{:.3f}"),
        ("relative_volume_change", "relative volume change [-]", "{:.4f}"),
        ("flux_cv", "flux CV at the last plating step [-]", "{:.4f}"),
        ("flux_cv_mean", "flux CV, mean over the plating steps (the design term) [-]", "{:.4f}"),
        ("hotspot_ratio", "hot-spot ratio max/mean [-]", "{:.3f}"),
        ("sei_loss_mAh_cm2", "SEI-loss proxy [mAh/cm²]", "{:.4f}"),
        ("final_voltage_V", "final electrode potential [V]", "{:.4f}"),
        ("plated_mAh_cm2", "charge passed plating [mAh/cm²]", "{:.4f}"),
        ("dead_li_fraction", "dead Li [-]", "{:.4f}"))
CRISP_ROWS = (("porosity", "porosity of the slab [-]", "{:.3f}"),
              ("solid_feature_p25_um", "solid feature size, lower quartile [µm]", "{:.2f}"),
              ("solid_feature_median_um", "solid feature size, median [µm]", "{:.2f}"),
              ("connected_host_fraction", "metal connected to the collector [-]", "{:.3f}"),
              ("virtual_temperature", "virtual temperature (connectivity; ~1 connected, 100s with islands) [-]", "{:.3g}"))


def _history_plot(out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    logged = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    best = json.loads((out / "design.json").read_text()).get("starts", {}).get("best", 0)
    rows = [r for r in logged if r.get("start", 0) == best]  # the start kept; the others faint beside it
    it = [r["iteration"] for r in rows]
    constraints = sorted(k[len("g_"):] for k in rows[0] if k.startswith("g_"))
    fig, axes = plt.subplots(1, 3 if constraints else 2, figsize=(15 if constraints else 10, 3.4),
                             constrained_layout=True)
    for other in sorted({r["start"] for r in logged if r.get("start", 0) != best}):
        mine = [r for r in logged if r["start"] == other]
        axes[0].plot([r["iteration"] for r in mine], [r["objective"] for r in mine], "-", color="0.75", lw=0.8)
    axes[0].plot(it, [r["objective"] for r in rows], "o-", color="#1f5fa8")
    axes[0].set(xlabel="iteration", ylabel="objective (start = 1) [-]", title="weighted objective")
    for key in ("top_growth", "flux_cv", "hotspot", "sei_mAh_cm2", "envelope_growth_um", "relative_volume_change",
                "virtual_temperature"):
        first = rows[0].get(key, 0.0)  # a log written before the term existed lacks it
        if abs(first) > 1e-12:
            axes[1].plot(it, [r[key] / first for r in rows], label=key)
    axes[1].set(xlabel="iteration", ylabel="term / its start value [-]", title="design terms (optimiser's model)")
    if constraints:  # augmented Lagrangian: each g (feasible at or below 0)
        for name in constraints:
            axes[2].plot(it, [r[f"g_{name}"] for r in rows], "o-", ms=3, label=name)
        axes[2].axhline(0.0, color="k", lw=0.8)
        axes[2].set(xlabel="iteration", ylabel="g (feasible <= 0) [-]", title="constraints")
        axes[2].legend(fontsize=8)
    warm = [r["iteration"] for r in rows if r.get("surrogate")]
    if warm:  # warm-up iterations optimise the steady surrogate: their values are the surrogate's
        for ax in axes:
            ax.axvspan(min(warm) - 0.5, max(warm) + 0.5, color="0.9", zorder=0, label="steady surrogate (warm-up)")
    axes[1].legend(fontsize=8)
    path = out / "history.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


RENDERS = (("iso", "lithiophilicity", "the host coloured by its lithiophilicity l (plated Li plain): start (left) "
             "and final design"),
           ("iso", "plating_time_s", "the plated Li coloured by when it was plated (host grey): start (left) and "
            "final design"),
           ("section", "plating_time_s", "cross-section at constant y: Li inside the host vs on top of it (red line: "
            "the host top)"))


def _renders(out: Path) -> list:
    """(png, caption) of the verification runs' before/after renders, drawn in a child process
    (:mod:`hostsim.pictures.isolated`). A machine that cannot render gets a note in the page
    instead of a failed study."""
    from hostsim.pictures.isolated import run_jobs

    (out / "renders").mkdir(parents=True, exist_ok=True)
    targets = [out / "renders" / f"verification_{view}_{field}.png" for view, field, _ in RENDERS]
    jobs = [{"kind": "render", "source": str(out / "verification"), "view": view, "field": field,
             "out": str(target), "size": [1200, 700]} for (view, field, _), target in zip(RENDERS, targets)]
    return [(target, caption) if error is None else (None, f"render {target.name} left out: {error}")
            for target, (_, _, caption), error in zip(targets, RENDERS, run_jobs(jobs))]


def write_design_report(out) -> Path:
    """Write ``out/report.html`` from a finished study directory (``design.json``, the logs and
    ``verification/``)."""
    from hostsim.pictures.plots import plot_depth_profile
    from hostsim.pictures.report import PAGE_STYLE, embed_image
    from hostsim.run.results import load_run

    out = Path(out)
    record = json.loads((out / "design.json").read_text())
    parts = [f"<h1>hostsim design study</h1><p>{html.escape(record['parameterisation'])}, "
             f"{record['iterations']} iterations; objective {record['objective_start']:.4f} → "
             f"{record['objective_final']:.4f} (the optimiser's model"
             + (f"; its transient of the final design had {int(record['final']['failed_steps'])} failed steps, so "
                "that number is not the physics: the verification below is" if record["final"].get("failed_steps")
                else "") + ").</p>",
             embed_image(_history_plot(out), "objective and design terms per iteration")]
    if "verdict" in record:  # a record written before the verdict existed has none
        from .verdict import verdict_line

        parts.insert(1, f"<p><strong>{html.escape(verdict_line(record['verdict']).removeprefix('design: '))}"
                        f"</strong></p>")
    v = record.get("verification")
    if v:
        parts.append("<h2>Verification: start and final design through the run pipeline</h2><table>"
                     "<tr><th>metric</th><th>start</th><th>final</th></tr>")
        for key, label, fmt in ROWS:
            a, b = v["start"].get(key), v["final"].get(key)
            if a is None or b is None:  # a record written before the metric existed
                continue
            parts.append(f"<tr><td>{html.escape(label)}</td><td>{fmt.format(a)}</td><td>{fmt.format(b)}</td></tr>")
        parts.append("</table>")
        crisp = record.get("free_form", {})
        if "crisp_start" in crisp and "crisp_final" in crisp:  # the crisp free-form designs that were verified
            parts.append("<h3>The crisp designs (host where s &gt; 1/2)</h3><table><tr><th>measure</th><th>start</th>"
                         "<th>final</th></tr>")
            for key, label, fmt in CRISP_ROWS:
                a, b = crisp["crisp_start"].get(key), crisp["crisp_final"].get(key)
                if a is not None and b is not None:
                    parts.append(f"<tr><td>{html.escape(label)}</td><td>{fmt.format(a)}</td><td>{fmt.format(b)}</td></tr>")
            parts.append("</table>")
        depth = plot_depth_profile(load_run(out / "verification"), out / "depth_profile.png")
        parts.append(embed_image(Path(depth), "where the plated Li went through the thickness: start (left) and final design"))
        parts += [embed_image(path, caption) if path is not None else f"<p><em>{html.escape(caption)}</em></p>"
                  for path, caption in _renders(out)]
        from hostsim.pictures.interactive import interactive_section  # rotatable start and final design

        parts.append(interactive_section(load_run(out / "verification"), "Interactive 3D view: start and final design"))
    if "layer_profiles" in record:
        parts.append("<h2>The design: values per layer, collector to top</h2><table><tr><th>field</th>"
                     + "".join(f"<th>{i}</th>" for i in range(len(next(iter(record['layer_profiles'].values())))))
                     + "</tr>")
        for name, values in record["layer_profiles"].items():
            parts.append(f"<tr><td>{name}</td>" + "".join(f"<td>{x:.3f}</td>" for x in values) + "</tr>")
        if "film_thickness_nm" in record:  # a designed coating: its thickness [nm] per layer
            parts.append(f"<tr><td>film [nm], on {html.escape(record['film_surface'])}</td>"
                         + "".join(f"<td>{x:.1f}</td>" for x in record["film_thickness_nm"]) + "</tr>")
        parts.append("</table>")
    if "family_parameters" in record:
        parts.append("<h2>The design: family parameters</h2><table>"
                     + "".join(f"<tr><td>{html.escape(k)}</td><td>{x:.4g}</td></tr>"
                               for k, x in record["family_parameters"].items()) + "</table>")
    page = out / "report.html"
    page.write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>hostsim design</title>"
                    f"<style>{PAGE_STYLE}</style></head><body>{''.join(parts)}</body></html>")
    return page
