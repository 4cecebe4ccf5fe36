"""Matplotlib plots of run results (docs/outputs.md), one case or several overlaid.

Every function takes one :class:`~hostsim.run.results.RunResult` or a list of them (or the dict of
:func:`~hostsim.run.results.load_run`) and an output path, writes a PNG (Agg canvas, no display
needed, nothing left open in pyplot) and returns the path:

* :func:`plot_voltage` — voltage [mV] vs time and vs capacity; segment boundaries dotted;
* :func:`plot_depth_profile` — where in the thickness the plated Li went: one heatmap per case
  (x: capacity, or time when the capacity is not increasing, e.g. with stripping; y: height;
  colour: Li plated since the first snapshot in µm of Li per µm of height, one colour scale for
  all cases) with the collector top and host top marked, and a right panel overlaying the final
  profiles (their integral, the plated thickness, in the legend);
* :func:`plot_current_histogram` — distribution of i / i_mean over the cells carrying plating
  current in each case's last snapshot that has any (step histograms, CV in the legend);
* :func:`plot_envelope` — envelope growth (mean and max column) vs capacity, with the ideal
  planar line Q V_m / F;
* :func:`plot_cycles` — cycling: Coulombic efficiency, dead Li and SEI per cycle, the voltage of the
  first, a middle and the last cycle, the envelope after each half-cycle (runs of 2+ cycles);
* :func:`plot_run` — all of them for every case of a run directory, overlaid.

A case keeps one colour in every plot of :func:`plot_run` (tab10, in the run's case order); pass
``colors={name: colour}`` to the single functions for the same control.
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path

import numpy as np

from hostsim.electrochemistry.constants import FARADAY, LI_MOLAR_VOLUME
from hostsim.errors import InputError
from hostsim.electrochemistry.metrics import COULOMB_PER_MAH_CM2
from hostsim.run.results import RunResult, depth_profile, initial_envelope_um, load_run, read_snapshot

DPI = 120
STYLE = {
    "font.size": 10, "axes.titlesize": 10.5, "axes.labelsize": 10, "legend.fontsize": 8.5,
    "xtick.labelsize": 9, "ytick.labelsize": 9, "axes.grid": True, "grid.alpha": 0.3,
    "grid.linewidth": 0.6, "legend.framealpha": 0.85, "savefig.facecolor": "white",
}
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf"]
UM_PER_MAH_CM2 = COULOMB_PER_MAH_CM2 * LI_MOLAR_VOLUME / FARADAY * 1e6  # ideal planar Li [µm per mAh/cm²]
HOURS_ABOVE_S = 2e4  # time axes switch from s to h beyond this run length
FILES = {"voltage": "voltage.png", "depth_profile": "depth_profile.png",
         "current_histogram": "current_histogram.png", "envelope": "envelope.png", "cycles": "cycles.png"}


def _styled(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        import matplotlib

        with matplotlib.rc_context(STYLE):
            return func(*args, **kwargs)

    return wrapper


def _as_list(runs) -> list:
    if isinstance(runs, RunResult):
        return [runs]
    if isinstance(runs, dict):
        runs = list(runs.values())
    runs = list(runs)
    if not runs or not all(isinstance(r, RunResult) for r in runs):
        raise TypeError("runs must be a RunResult, a list of them or the dict of load_run()")
    return runs


def _colors(runs, colors=None) -> dict:
    out = {r.name: PALETTE[k % len(PALETTE)] for k, r in enumerate(runs)}
    out.update(colors or {})
    return out


def _figure(width, height):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig, out) -> Path:
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=DPI)
    except OSError as e:
        raise InputError(f"{out}: cannot write the plot: {e.strerror or e}") from None
    finally:
        fig.clear()  # the Figure is not registered with pyplot; this frees its artists now
    return out


def _time_axis(runs):
    t_max = max((float(np.max(r.series["time_s"])) for r in runs if len(r.series["time_s"])), default=0.0)
    return (1 / 3600, "time [h]") if t_max > HOURS_ABOVE_S else (1.0, "time [s]")


def _segment_ends(series) -> np.ndarray:
    """Row indices where a segment ends (the next row belongs to another segment)."""
    seg = series["segment"]
    return np.nonzero(np.diff(seg) != 0)[0] if len(seg) > 1 else np.zeros(0, int)


# ---------------------------------------------------------------------------------------------
@_styled
def plot_voltage(runs, out, colors=None) -> Path:
    """Voltage [mV] vs time (left) and vs capacity [mAh/cm²] (right), one colour per case.
    Plating drives the voltage negative (nucleation dip, then a plateau), stripping positive;
    dotted verticals mark where a protocol segment ends."""
    from matplotlib.lines import Line2D

    runs = _as_list(runs)
    col = _colors(runs, colors)
    scale, t_label = _time_axis(runs)
    fig = _figure(10, 4.2)
    ax_t, ax_q = fig.subplots(1, 2, sharey=True)
    any_seg = False
    for r in runs:
        s, c = r.series, col[r.name]
        v = s["voltage_V"] * 1e3
        ax_t.plot(s["time_s"] * scale, v, color=c, lw=1.5, label=r.name)
        ax_q.plot(s["capacity_mAh_cm2"], v, color=c, lw=1.5, label=r.name)
        for j in _segment_ends(s):
            any_seg = True
            ax_t.axvline(s["time_s"][j] * scale, color=c, lw=0.8, ls=":", alpha=0.6)
            ax_q.axvline(s["capacity_mAh_cm2"][j], color=c, lw=0.8, ls=":", alpha=0.6)
    for ax in (ax_t, ax_q):
        ax.axhline(0.0, color="0.4", lw=0.7)
    ax_t.set_xlabel(t_label)
    ax_q.set_xlabel("capacity [mAh/cm²]")
    ax_t.set_ylabel("voltage [mV]")
    ax_t.set_title("voltage vs time")
    ax_q.set_title("voltage vs capacity")
    handles, labels = ax_t.get_legend_handles_labels()
    if any_seg:
        handles.append(Line2D([], [], color="0.4", lw=0.8, ls=":"))
        labels.append("segment end")
    ax_q.legend(handles, labels, loc="best")
    fig.suptitle("Electrode voltage (plating < 0, stripping > 0)", fontsize=11)
    return _save(fig, out)


# ---------------------------------------------------------------------------------------------
def _edges(x: np.ndarray) -> np.ndarray:
    """Cell edges for column centres ``x``: midpoints inside, the end columns half wide, so the
    axis spans exactly [x[0], x[-1]]."""
    if len(x) == 1:
        w = max(abs(float(x[0])), 1.0) * 0.05
        return np.array([x[0] - w, x[0] + w])
    mid = 0.5 * (x[1:] + x[:-1])
    return np.concatenate([[x[0]], mid, [x[-1]]])


def _strictly_increasing(x) -> bool:
    return bool(np.all(np.isfinite(x)) and (len(x) < 2 or np.all(np.diff(x) > 0)))


def _layers(run: RunResult):
    _, meta = read_snapshot(run.snapshots[0][1], fields=["li_fraction"])
    dz = float(meta["voxel_size_m"]) * 1e6
    return dz, meta.get("collector_layers"), meta.get("host_top")


def _mark_layers(ax, dz, collector_layers, host_top, color, text=True, halo="black"):
    marks = []
    if collector_layers is not None and host_top is not None and collector_layers == host_top:
        marks.append((collector_layers * dz, "--", "collector / host top"))
    else:
        if collector_layers is not None:
            marks.append((collector_layers * dz, "--", "collector top"))
        if host_top is not None:
            marks.append((host_top * dz, ":", "host top"))
    for z, ls, label in marks:
        ax.axhline(z, color=color, lw=1.1, ls=ls)
        if text:
            from matplotlib import patheffects

            ax.annotate(label, (0.02, z), xycoords=("axes fraction", "data"), xytext=(0, 2),
                        textcoords="offset points", color=color, fontsize=8, va="bottom",
                        path_effects=[patheffects.withStroke(linewidth=2, foreground=halo)])


@_styled
def plot_depth_profile(runs, out, x="auto", colors=None) -> Path:
    """Where in the thickness the plated Li went, over the run.

    One heatmap per case, side by side with one colour scale: x = plated capacity [mAh/cm²]
    (``x="capacity"``) or time (``x="time"``; ``"auto"`` takes capacity when it increases from
    snapshot to snapshot in every case, else time), y = height above the bottom of the domain
    [µm], colour = Li plated into the layer since the first snapshot [µm of Li per µm of height]
    (:func:`~hostsim.run.results.depth_profile`; a diverging scale when Li was stripped below its
    initial amount somewhere). Dashed: collector top; dotted: host top. The right panel overlays
    each case's final profile; its integral (the plated thickness) is in the legend. Cases without
    snapshots are left out (InputError when none has any)."""
    runs = _as_list(runs)
    col = _colors(runs, colors)
    usable = [r for r in runs if r.snapshots]
    if not usable:
        raise InputError(f"{runs[0].directory}: no case has field snapshots (NAME_fields.pvd) for a depth profile")
    if x not in ("auto", "capacity", "time"):
        raise ValueError(f"x must be 'auto', 'capacity' or 'time', got {x!r}")
    profiles = {r.name: depth_profile(r, x="capacity") for r in usable}
    if x == "time" or (x == "auto" and not all(_strictly_increasing(p[0]) for p in profiles.values())):
        profiles = {r.name: depth_profile(r, x="time") for r in usable}
        x = "time"
    else:
        x = "capacity"
    layers = {r.name: _layers(r) for r in usable}
    if x == "time":
        scale, x_label = _time_axis(usable)
    else:
        scale, x_label = 1.0, "capacity [mAh/cm²]"

    vmax = max(float(np.max(p[2])) for p in profiles.values())
    vmin = min(float(np.min(p[2])) for p in profiles.values())
    if vmin < -1e-3 * max(vmax, 1e-12):
        lim = max(vmax, -vmin)
        cmap, vmin, vmax = "RdBu_r", -lim, lim
    else:
        cmap, vmin, vmax = "viridis", 0.0, (vmax if vmax > 0 else 1.0)

    n = len(usable)
    fig = _figure(max(7.5, 3.0 * n + 3.6), 4.6)
    axes = fig.subplots(1, n + 1, sharey=True, gridspec_kw={"width_ratios": [3.0] * n + [2.2]})
    mesh = None
    for ax, r in zip(axes[:n], usable):
        xs, z_um, plated = profiles[r.name]
        dz, cl, ht = layers[r.name]
        z_edges = np.arange(len(z_um) + 1) * dz
        mesh = ax.pcolormesh(_edges(xs * scale), z_edges, plated.T, cmap=cmap, vmin=vmin, vmax=vmax,
                             shading="flat", rasterized=True)
        _mark_layers(ax, dz, cl, ht, *(("white", True, "black") if cmap == "viridis" else ("black", True, "white")))
        ax.set_title(r.name, color=col[r.name], fontweight="bold")
        ax.set_xlabel(x_label)
        ax.grid(False)
    axes[0].set_ylabel("height z [µm]")
    cbar = fig.colorbar(mesh, ax=list(axes[:n]), location="right", pad=0.02, aspect=30)
    cbar.set_label("plated Li [µm Li per µm height]")

    ax_p = axes[n]
    for r in usable:
        xs, z_um, plated = profiles[r.name]
        dz, cl, ht = layers[r.name]
        thickness = float(np.sum(plated[-1]) * dz)
        at = f"{xs[-1] * scale:.3g} mAh/cm²" if x == "capacity" else f"{xs[-1] * scale:.4g} {x_label[6:-1]}"
        ax_p.stairs(plated[-1], np.arange(len(z_um) + 1) * dz, orientation="horizontal", color=col[r.name],
                    lw=1.6, label=f"{r.name}: {thickness:.3g} µm at {at}", baseline=None)
        _mark_layers(ax_p, dz, cl, ht, col[r.name], text=False)
    ax_p.axvline(0.0, color="0.4", lw=0.7)
    ax_p.set_xlabel("plated Li [µm/µm]")
    ax_p.set_title("final profile")
    ax_p.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), title="plated thickness",
                title_fontsize=8.5, fontsize=8)
    fig.suptitle("Where the plated Li went (Li since the first snapshot, per layer)", fontsize=11)
    return _save(fig, out)


# ---------------------------------------------------------------------------------------------
def interface_currents(run: RunResult):
    """(values [A/m²], time [s], mode) of the last snapshot with plating current (cells with
    i > 0); if no snapshot has any, the last with stripping current (|i| of cells with i < 0,
    mode "stripping"); None when there is none. Without a .pvd the final snapshot is used."""
    candidates = [p for _, p in run.snapshots] or ([run.final_snapshot] if run.final_snapshot else [])
    loaded = []
    for path in reversed(candidates):
        try:
            fields, meta = read_snapshot(path, fields=["plating_current_A_m2"])
        except InputError:
            if run.snapshots:
                raise
            return None  # an old-style final snapshot without the current field
        i = fields["plating_current_A_m2"].ravel()
        t = float(meta.get("time_s", np.nan))
        if np.any(i > 0):
            return i[i > 0].astype(np.float64), t, "plating"
        loaded.append((i, t))
    for i, t in loaded:
        if np.any(i < 0):
            return -i[i < 0].astype(np.float64), t, "stripping"
    return None


@_styled
def plot_current_histogram(runs, out, bins=40, colors=None) -> Path:
    """Histogram of the interfacial current density normalised by its mean, i / i_mean, over the
    cells carrying plating current (``plating_current_A_m2 > 0``) in each case's last snapshot
    that has any: step histograms, one per case, as fractions of that case's interface cells.
    The legend gives the CV (std / mean over cells, unweighted: the fields hold one area-averaged
    value per cell, so it differs slightly from the face-area-weighted ``flux_cv`` of the time
    series), the mean in mA/cm² and the snapshot time. A perfectly uniform front is one bar at 1."""
    runs = _as_list(runs)
    col = _colors(runs, colors)
    data = {}
    for r in runs:
        got = interface_currents(r)
        if got is not None:
            data[r.name] = got
    if not data:
        raise InputError(f"{runs[0].directory}: no snapshot with interfacial current "
                         "(plating_current_A_m2) in any case")
    ratios = {name: v / np.mean(v) for name, (v, _, _) in data.items()}
    hi = max(2.0, 1.04 * max(float(np.max(q)) for q in ratios.values()))
    per_unit = max(1, round(bins / hi))  # bins per unit of i / i_mean: 1 is a bin centre
    edges = (np.arange(int(np.ceil(hi * per_unit)) + 2) - 0.5) / per_unit
    styles = ["-", "--", "-.", ":"]
    fig = _figure(8, 4.6)
    ax = fig.subplots()
    for k, r in enumerate(runs):
        if r.name not in data:
            ax.plot([], [], color=col[r.name], label=f"{r.name}: no snapshot with interfacial current")
            continue
        v, t, mode = data[r.name]
        q = ratios[r.name]
        cv = float(np.std(v) / np.mean(v))
        label = (f"{r.name}: CV = {cv:.3g}\n"
                 f"mean {np.mean(v) * 0.1:.3g} mA/cm², {v.size} cells, t = {t:.4g} s"
                 + (" (stripping)" if mode == "stripping" else ""))
        ax.hist(q, bins=edges, weights=np.full(q.size, 1.0 / q.size), histtype="step",
                color=col[r.name], lw=1.8, ls=styles[k % len(styles)], label=label)
    ax.axvline(1.0, color="0.35", lw=0.8, ls="--")
    ax.set_xlim(0.0, hi)
    ax.set_xlabel(r"$i\,/\,i_\mathrm{mean}$ [-]  (interfacial current density over its mean)")
    ax.set_ylabel("fraction of interface cells [-]")
    ax.set_title("Interfacial current distribution, last snapshot with plating current")
    ax.legend(loc="upper right")
    return _save(fig, out)


# ---------------------------------------------------------------------------------------------
def envelope_growth(run: RunResult):
    """(capacity [mAh/cm²], mean growth [µm], max-column growth [µm], reference) of a case.

    Growth is relative to the initial envelope: computed from the first snapshot (the initial
    state, ``reference = "initial state"``) as :func:`hostsim.electrochemistry.metrics.envelope_heights` does, with
    the point (0, 0) prepended. Without snapshots, the mean reference is the last value minus the
    summary's ``envelope_growth_um`` (the same definition) and the max-column reference the first
    row (after step 1; ``reference = "first step"``)."""
    s = run.series
    q, mean, mx = s["capacity_mAh_cm2"], s["envelope_mean_um"], s["envelope_max_um"]
    init = initial_envelope_um(run)
    if init is not None:
        z = np.zeros(1)
        return (np.concatenate([z, q]), np.concatenate([z, mean - init[0]]), np.concatenate([z, mx - init[1]]),
                "initial state")
    if not len(q):
        return q, mean, mx, "none"
    growth = run.summary.get("envelope_growth_um")
    m0 = float(mean[-1]) - float(growth) if isinstance(growth, (int, float)) else float(mean[0])
    return q, mean - m0, mx - float(mx[0]), "first step"


@_styled
def plot_envelope(runs, out, colors=None) -> Path:
    """Envelope growth [µm] vs capacity [mAh/cm²]: the mean envelope (solid) and the highest
    column (dash-dot) above their initial values (see :func:`envelope_growth`), one colour per
    case, and the ideal planar line Q V_m / F (black dashed, 4.85 µm per mAh/cm²) that a dense
    flat deposit on a foil follows; a host that takes the Li inside stays below it."""
    runs = _as_list(runs)
    col = _colors(runs, colors)
    fig = _figure(8, 4.6)
    ax = fig.subplots()
    q_max, refs = 0.0, set()
    for r in runs:
        q, gm, gx, ref = envelope_growth(r)
        refs.add(ref)
        ax.plot(q, gm, color=col[r.name], lw=1.8, label=f"{r.name}: mean")
        ax.plot(q, gx, color=col[r.name], lw=1.2, ls="-.", label=f"{r.name}: max column")
        if len(q):
            q_max = max(q_max, float(np.nanmax(q)))
    qq = np.array([0.0, q_max if q_max > 0 else 1.0])
    ax.plot(qq, qq * UM_PER_MAH_CM2, color="k", lw=1.1, ls="--",
            label=f"ideal planar $Q\\,V_m/F$ ({UM_PER_MAH_CM2:.3g} µm per mAh/cm²)")
    ax.axhline(0.0, color="0.4", lw=0.7)
    ax.set_xlabel("capacity [mAh/cm²]")
    ax.set_ylabel("envelope growth [µm]")
    note = "" if refs <= {"initial state", "none"} else " (max column: relative to step 1, no initial snapshot)"
    ax.set_title("Envelope growth above the initial envelope" + note)
    ax.legend(loc="upper left")
    return _save(fig, out)


# ---------------------------------------------------------------------------------------------
def cycle_count(run: RunResult) -> int:
    """Number of protocol cycles in a case's summary (its per-cycle lists)."""
    return len(run.summary.get("cycle_coulombic_efficiency") or [])


def _cycle_values(run: RunResult, key: str, scale: float = 1.0) -> tuple:
    """(cycle numbers from 1, values) of a per-cycle summary list, cycles without a value left out."""
    values = run.summary.get(key) or []
    kept = [(n + 1, v * scale) for n, v in enumerate(values) if v is not None]
    return (np.array([n for n, _ in kept]), np.array([v for _, v in kept])) if kept else (np.zeros(0), np.zeros(0))


def _voltage_of_cycle(run: RunResult, cycle: int):
    """(time since the cycle began [s], voltage [mV]) of one cycle (from 0) of a case's series."""
    s = run.series
    rows = np.asarray(s["cycle"]) == cycle
    t = s["time_s"][rows]
    return t - (t[0] if len(t) else 0.0), s["voltage_V"][rows] * 1e3


@_styled
def plot_cycles(runs, out, colors=None) -> Path:
    """Cycling at a glance, one colour per case: Coulombic efficiency [%] per cycle (stripped over
    plated charge; at least 2 percentage points shown); the Li each cycle leaves behind as dead Li
    and as SEI [mAh/cm²]; the voltage [mV] over the first, a middle and the last cycle (time from the
    cycle's start; solid, dashed, dotted; linear within ±10 mV, logarithmic beyond, so a cutoff and
    the overpotentials both show); and the mean envelope [µm above the initial one] at the end of each plating and each
    stripping. Needs a case with two or more cycles (:class:`InputError` otherwise)."""
    runs = [r for r in _as_list(runs) if cycle_count(r) >= 2]
    if not runs:
        raise InputError("no case of the run has two or more cycles: no per-cycle plot")
    col = _colors(runs, colors)
    fig = _figure(11, 7.6)
    (ax_ce, ax_loss), (ax_v, ax_env) = fig.subplots(2, 2)
    for r in runs:
        c = col[r.name]
        ax_ce.plot(*_cycle_values(r, "cycle_coulombic_efficiency", 100.0), "o-", color=c, ms=3, lw=1.3, label=r.name)
        ax_loss.plot(*_cycle_values(r, "cycle_dead_li_mAh_cm2"), "o-", color=c, ms=3, lw=1.3, label=f"{r.name}: dead Li")
        ax_loss.plot(*_cycle_values(r, "cycle_sei_loss_mAh_cm2"), "s--", color=c, ms=3, lw=1.0, label=f"{r.name}: SEI")
        n = cycle_count(r)
        for cycle, style in zip(sorted({0, n // 2, n - 1}), ("-", "--", ":")):
            t, v = _voltage_of_cycle(r, cycle)
            ax_v.plot(t, v, color=c, lw=1.3, ls=style, label=f"{r.name}: cycle {cycle + 1}")
        ax_env.plot(*_cycle_values(r, "cycle_envelope_plated_um"), "^-", color=c, ms=3, lw=1.3,
                    label=f"{r.name}: after plating")
        ax_env.plot(*_cycle_values(r, "cycle_envelope_stripped_um"), "v--", color=c, ms=3, lw=1.0,
                    label=f"{r.name}: after stripping")
    for ax, ylabel, title in ((ax_ce, "Coulombic efficiency [%]", "Coulombic efficiency per cycle"),
                              (ax_loss, "Li lost in the cycle [mAh/cm²]", "Dead Li and SEI added per cycle"),
                              (ax_env, "mean envelope growth [µm]", "Envelope at the end of each half-cycle")):
        ax.set_xlabel("cycle")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.legend(loc="best")
    ax_v.axhline(0.0, color="0.4", lw=0.7)
    # linear within +-10 mV (the plating and stripping overpotentials), logarithmic out to a cutoff
    ax_v.set_yscale("symlog", linthresh=10.0)
    # round-off of a steady CE must not read as scatter: at least 2 percentage points shown
    low, high = ax_ce.get_ylim()
    ax_ce.set_ylim(min(low, 0.5 * (low + high) - 1.0), max(high, 0.5 * (low + high) + 1.0))
    ax_v.set_xlabel("time since the cycle began [s]")
    ax_v.set_ylabel("voltage [mV] (linear within ±10 mV)")
    ax_v.set_title("Voltage over the first, a middle and the last cycle")
    ax_v.legend(loc="best")
    fig.suptitle("Cycling", fontsize=11)
    return _save(fig, out)


# ---------------------------------------------------------------------------------------------
def plot_run(directory, out_dir=None) -> list:
    """All plots of a run directory, every case overlaid, as PNGs in ``out_dir`` (default: the
    run directory): ``voltage.png``, ``depth_profile.png``, ``current_histogram.png``,
    ``envelope.png``, and ``cycles.png`` when a case has two or more cycles. A plot whose data the run lacks (no snapshots) is skipped with a warning.
    Returns the written paths."""
    runs = list(load_run(directory).values())
    out_dir = Path(directory if out_dir is None else out_dir)
    colors = _colors(runs)
    written = []
    plots = [("voltage", plot_voltage), ("depth_profile", plot_depth_profile),
             ("current_histogram", plot_current_histogram), ("envelope", plot_envelope)]
    if any(cycle_count(r) >= 2 for r in runs):
        plots.append(("cycles", plot_cycles))
    for key, func in plots:
        try:
            written.append(func(runs, out_dir / FILES[key], colors=colors))
        except InputError as e:
            if key in ("voltage", "envelope", "cycles"):
                raise
            warnings.warn(f"{FILES[key]} skipped: {e}", stacklevel=2)
    return written


__all__ = ["FILES", "UM_PER_MAH_CM2", "cycle_count", "envelope_growth", "interface_currents", "plot_current_histogram",
           "plot_cycles", "plot_depth_profile", "plot_envelope", "plot_run", "plot_voltage"]
