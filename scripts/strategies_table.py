"""The strategy comparison's table from a batch of ``scripts/studies/strategies.toml``.

Reads ``DIR/results.csv`` and prints, per host and current, one row per combination of the levers
(LiPON film, polar separator coating, Cs+ additive): hot-spot ratio, top growth, envelope growth,
SEI proxy, final overpotential and Sand margin (the plate's time over Sand's time at the projected
current: < 1 means the plate ended before the planar limit would deplete). A run that did not
pass its charge keeps its message and loses its numbers (in the figure: no bar). Writes the Markdown to
``DIR/strategies.md`` and a figure of the hot-spot ratio and top growth to ``DIR/strategies.png``::

    python scripts/strategies_table.py strategies/
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

COLUMNS = (("hotspot_ratio", "hot-spot ratio [-]", "{:.2f}"), ("top_growth_fraction", "top growth [-]", "{:.3f}"),
           ("envelope_growth_um", "envelope growth [µm]", "{:.3f}"), ("sei_loss_mAh_cm2", "SEI [mAh/cm²]", "{:.4f}"),
           ("film_cracked_share", "film cracked [-]", "{:.3f}"), ("final_voltage_V", "final V [mV]", "{:.1f}"),
           ("sand_time_ratio", "t / Sand [-]", "{:.3f}"))


def lever_names(row: dict) -> str:
    levers = []
    if float(row.get("coating.0.thickness_nm") or 0) > 0:
        levers.append("LiPON")
    if float(row.get("separator.thickness_um") or 0) > 0:
        levers.append("separator")
    if float(row.get("electrolyte.additive.concentration_mol_L") or 0) > 0:
        levers.append("Cs+")
    return " + ".join(levers) or "bare"


def host_name(row: dict) -> str:
    geometry = str(row.get("geometry", ""))
    return "rough Cu (dealloyed skin)" if "dealloyed" in geometry else "Cu skeleton"


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    folder = Path(args[0])
    rows = list(csv.DictReader(open(folder / "results.csv")))
    lines = ["| host | mA/cm² | levers | " + " | ".join(label for _, label, _ in COLUMNS) + " | message |",
             "|---|---|---|" + "---|" * len(COLUMNS) + "---|"]
    order = ("bare", "LiPON", "separator", "Cs+", "LiPON + separator", "LiPON + Cs+", "separator + Cs+",
             "LiPON + separator + Cs+")
    rows.sort(key=lambda r: (host_name(r), float(r["protocol.segment.0.current_mA_cm2"]), order.index(lever_names(r))))
    for r in rows:
        cells = []
        for key, _, fmt in COLUMNS:
            # a run that did not pass its charge is no comparison: its numbers are left out, its message kept
            value = r.get(key) if r.get("message") == "completed" else None
            scale = 1e3 if key == "final_voltage_V" else 1.0
            cells.append(fmt.format(float(value) * scale) if value not in (None, "") else "—")
        lines.append(f"| {host_name(r)} | {float(r['protocol.segment.0.current_mA_cm2']):g} | {lever_names(r)} | "
                     + " | ".join(cells) + f" | {r.get('message')} |")
    text = "\n".join(lines)
    print(text)
    (folder / "strategies.md").write_text(text + "\n")
    figure(rows, order, folder / "strategies.png")
    return 0


def figure(rows: list, order: tuple, path: Path) -> None:
    """Hot-spot ratio and top growth per combination of levers, a panel per host, bars per current."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    hosts = sorted({host_name(r) for r in rows})
    currents = sorted({float(r["protocol.segment.0.current_mA_cm2"]) for r in rows})
    fig, axes = plt.subplots(2, len(hosts), figsize=(6 * len(hosts), 7), squeeze=False, sharex=True)
    x = np.arange(len(order))
    for col, host in enumerate(hosts):
        for row_index, (key, label) in enumerate((("hotspot_ratio", "hot-spot ratio [-]"),
                                                   ("top_growth_fraction", "top growth [-]"))):
            ax = axes[row_index, col]
            for i, current in enumerate(currents):
                values = {lever_names(r): float(r.get(key) or "nan") if r.get("message") == "completed" else np.nan
                          for r in rows
                          if host_name(r) == host and float(r["protocol.segment.0.current_mA_cm2"]) == current}
                ax.bar(x + (i - 0.5) * 0.4, [values.get(name, np.nan) for name in order], 0.4, label=f"{current:g} mA/cm²")
            ax.set_ylabel(label)
            ax.set_title(host if row_index == 0 else "")
            ax.set_xticks(x, order, rotation=45, ha="right")
        axes[0, col].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    raise SystemExit(main())
