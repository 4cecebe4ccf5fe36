"""``report.html`` of a batch run: the results table and, for every swept parameter, the headline
metrics against it (one line per host; other axes averaged out are not: each member is a point).
"""

from __future__ import annotations

import html
from pathlib import Path

from hostsim.pictures.report import PAGE_STYLE, SUMMARY_ROWS, embed_image

PLOTTED = ("envelope_growth_um", "top_growth_fraction", "flux_cv", "hotspot_ratio", "sand_time_ratio",
           "final_voltage_V", "sei_loss_mAh_cm2", "dead_li_fraction")
LABELS = {key: (label, unit, scale) for key, label, unit, scale, _ in SUMMARY_ROWS}


def _numeric(values):
    try:
        return [float(v) for v in values]
    except (TypeError, ValueError):
        return None


def write_batch_report(out, sweep, rows) -> Path:
    """Write ``out/report.html`` (plots in ``out/figures/``) from the batch's rows."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    figures = out / "figures"
    figures.mkdir(exist_ok=True)
    ok = [r for r in rows if r["status"] != "failed"]
    parts = [f"<!doctype html><meta charset='utf-8'><title>hostsim batch</title><style>{PAGE_STYLE}</style>",
             f"<h1>Batch: {html.escape(str(sweep.source))}</h1>",
             f"<p>{len(sweep.members)} members ({sweep.mode} of {', '.join(map(html.escape, sweep.axes))}); "
             f"{len({r['member'] for r in rows})} in the table, {sum(r['status'] == 'failed' for r in rows)} failed. "
             f"Table: <code>results.csv</code>, <code>results.parquet</code>; each member's run in "
             f"<code>members/&lt;key&gt;/</code>.</p>"]
    for axis in sweep.axes:
        xs = _numeric([r.get(axis) for r in ok])
        if not ok:
            break
        metrics = [m for m in PLOTTED if all(isinstance(r.get(m), (int, float)) for r in ok)]
        if not metrics:
            continue
        fig, axs = plt.subplots(2, (len(metrics) + 1) // 2, figsize=(3.2 * ((len(metrics) + 1) // 2), 5.6),
                                squeeze=False)
        for ax, m in zip(axs.flat, metrics):
            label, unit, scale = LABELS.get(m, (m, "-", 1.0))
            for host in sorted({r["host"] for r in ok}):
                pts = [(r.get(axis), r[m] * scale) for r in ok if r["host"] == host]
                if xs is not None:
                    pts.sort(key=lambda p: float(p[0]))
                    ax.plot([float(p[0]) for p in pts], [p[1] for p in pts], "o", label=host)
                else:
                    ax.plot([str(p[0]) for p in pts], [p[1] for p in pts], "o", label=host)
            ax.set_title(f"{label} [{unit}]", fontsize=8)
            ax.set_xlabel(axis, fontsize=8)
            ax.tick_params(labelsize=7)
        for ax in list(axs.flat)[len(metrics):]:
            ax.axis("off")
        axs.flat[0].legend(fontsize=7)
        fig.tight_layout()
        path = figures / f"vs_{axis.replace('.', '_')}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        parts.append(f"<h2>Against {html.escape(axis)}</h2>" + embed_image(path, f"headline metrics vs {axis}"))
    failed = [r for r in rows if r["status"] == "failed"]
    if failed:
        parts.append("<h2>Failed members</h2><table><tr><th>member</th><th>parameters</th><th>message</th></tr>" + "".join(
            f"<tr><td>{r['member']}</td><td>{html.escape(', '.join(f'{a} = {r.get(a)}' for a in sweep.axes))}</td>"
            f"<td>{html.escape(str(r['message']))}</td></tr>" for r in failed) + "</table>")
    page = out / "report.html"
    page.write_text("\n".join(parts))
    return page


__all__ = ["write_batch_report"]
