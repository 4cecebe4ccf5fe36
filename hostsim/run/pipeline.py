"""The run pipeline as a library: case -> hosts -> runs -> output files, with checkpoints and resume.

``hostsim simulate`` is a thin shell over this module (and over :func:`geometries.case_hosts`,
which turns a case's ``[geometry]`` into hosts: the engine never builds hosts itself). The design
loop and batch runs call the same functions:

* :func:`prepare_output` makes (or, for a resume, checks) the output directory and clears what an
  earlier run left there;
* :func:`simulation_options` turns a case's ``[numerics]`` and ``[cell]`` into the keyword
  arguments of :func:`hostsim.run.simulation.simulate`;
* :func:`run_host` runs one host with snapshots, a checkpoint after every compiled chunk and the
  final files; an interrupted host continues from its checkpoint to the same result;
* :func:`run_hosts` runs a list of hosts into one directory and writes ``summary.json``.

A *host* here is anything with the fields ``grid, s, k, l, theta, collector_layers, host_top``
(:class:`geometries.HostFields` is one).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Callable

import numpy as np

from hostsim.run.batching import OneHost, members_batching
from hostsim.run.case import Case
from hostsim.run.host import Host, host_fields
from hostsim.run.observer import Observers, OnCheckpoint
from hostsim.run.concurrency import Interrupted, run_in_threads, stop_check  # Interrupted: re-exported
from hostsim.run.io import write_json
from hostsim.errors import InputError

OUTPUT_PATTERNS = ("*_summary.json", "*_timeseries.csv", "*_fields.pvd", "*_fields_final.vti", "*_checkpoint.npz",
                   "*_checkpoint.tmp.npz", "summary.json", "report.html")
OUTPUT_FOLDERS = ("*_fields", "figures", "renders")




def clear_outputs(out: Path) -> None:
    """Remove what an earlier run wrote into ``out`` (only hostsim's own file patterns), so stale
    hosts never reach the report or pass for finished."""
    for pattern in OUTPUT_PATTERNS:
        for path in out.glob(pattern):
            path.unlink()
    for pattern in OUTPUT_FOLDERS:
        for path in out.glob(pattern):
            if path.is_dir():
                shutil.rmtree(path)


def prepare_output(out, case_file=None, *, resume: bool = False) -> Path:
    """The output directory of a run. A fresh run creates it, clears earlier outputs and stores
    the case file (``case.toml``) there; a resume checks that it exists."""
    out = Path(out)
    if resume:
        if not out.is_dir():
            raise InputError(f"{out}: no such run directory to resume")
        return out
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    clear_outputs(out)
    if case_file is not None:
        shutil.copyfile(case_file, out / "case.toml")
    elif (out / "case.toml").exists():
        (out / "case.toml").unlink()
    return out


CHECKPOINT_FORMAT = 5  # the carry with a film's crack state (1: fixed steps; 2: before coatings; 3: before the surface
# overpotential's column; 4: before cracks)


def save_checkpoint(path: Path, checkpoint: dict) -> None:
    """Write a :func:`hostsim.run.protocol.run_protocol` checkpoint atomically (``.npz``; the
    segment logs as JSON)."""
    flat = {f"state/{k}": v for k, v in checkpoint["state"].items()}
    flat.update({f"stepper/{k}": v for k, v in checkpoint["stepper"].items()})
    flat.update({f"series/{k}": v for k, v in checkpoint["series"].items()})
    flat["logs"] = np.asarray(json.dumps(checkpoint["logs"]))
    for key in ("segment", "done_time", "total_time"):
        flat[key] = np.asarray(checkpoint[key])
    flat["format"] = np.asarray(CHECKPOINT_FORMAT)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **flat)
    os.replace(tmp, path)  # atomic: an interrupt never leaves a half-written checkpoint


def load_checkpoint(path: Path) -> dict:
    """Read a checkpoint written by :func:`save_checkpoint`; a damaged or foreign one is an
    :class:`InputError` that says what to do."""
    from hostsim.electrochemistry.integrate import Stepper
    from hostsim.electrochemistry.plating import PlatingState

    try:
        with np.load(path) as z:
            cp = {"state": {}, "stepper": {}, "series": {}}
            for key in z.files:
                group, _, name = key.partition("/")
                if name:
                    cp[group][name] = z[key]
                else:
                    cp[key] = z[key].item()
    except Exception as e:
        raise InputError(f"{path}: unreadable checkpoint ({type(e).__name__}: {e}); delete it to restart that host") from None
    missing = sorted(set(PlatingState._fields) - set(cp["state"]))
    if cp.get("format") != CHECKPOINT_FORMAT or missing or not set(Stepper._fields[2:]) <= set(cp["stepper"]):
        raise InputError(f"{path}: checkpoint from another hostsim version (fixed time steps, or fields missing); "
                         f"delete it to restart that host")
    cp["logs"] = json.loads(cp["logs"])
    cp["together"] = False
    return cp


def with_separator(fields: Host, separator) -> Host:
    """``fields`` with ``separator``'s polymer and pores in its top layers
    (:meth:`hostsim.electrochemistry.separator.Separator.overlay`)."""
    s, k, l, theta, excluded = separator.overlay(fields.grid, *fields.arrays())
    return dataclasses.replace(fields, s=s, k=k, l=l, theta=theta, li_excluded=excluded)


def simulation_options(case: Case) -> dict:
    """Keyword arguments of :func:`hostsim.run.simulation.simulate` from a case's ``[numerics]`` and
    ``[cell]`` sections (``batching``: the host's cells split over ``devices`` local devices, when
    the case asks for more than one)."""
    numerics = case.numerics
    kw = {"time_tolerance": numerics.time_tolerance, "sei_charge_density": case.sei_charge_density,
          "voltage_cutoff": numerics.voltage_cutoff_V}
    if numerics.newton_steps is not None:  # the cap on the adaptive Newton's iterations per step
        from hostsim.numerics.newton import AdaptiveNewton

        kw["newton"] = AdaptiveNewton(max_steps=numerics.newton_steps)
    if numerics.interface is not None:  # where the reaction sits: on the interface face (default) or the cell centre
        from hostsim.electrochemistry.potential import CentreInterface, FaceInterface

        kw["interface"] = {"face": FaceInterface(), "centre": CentreInterface()}[numerics.interface]
    kw["top"] = case.top
    if case.separator is not None:
        kw["separator"] = case.separator
    if numerics.devices != 1:
        import jax

        from hostsim.numerics.sharding import z_mesh

        local = jax.local_devices()
        wanted = len(local) if numerics.devices == "all" else numerics.devices
        if wanted > len(local):
            raise InputError(f"{case.source}: [numerics] devices = {wanted}, but this process sees {len(local)} "
                             f"device(s) ({local[0].platform})")
        if wanted > 1:
            kw["batching"] = OneHost(z_mesh(local[:wanted]))
    return kw


class CheckpointFile(OnCheckpoint):
    """A run observer that writes each checkpoint to ``path`` (:func:`save_checkpoint`, atomic)."""

    def __init__(self, path):
        self.path = Path(path)
        super().__init__(self._save)

    def _save(self, checkpoint: dict) -> None:
        save_checkpoint(self.path, checkpoint)  # looked up at call time (a test may wrap it)


def run_host(out: Path, name: str, fields, case: Case, *, resume: bool = False, max_frames: int = 40,
             progress: Callable | None = None):
    """Run ``case``'s protocol on one host into ``out``; returns the
    :class:`~hostsim.run.simulation.SimulationResult`. With ``resume`` it continues from the host's
    checkpoint when there is one. ``progress(done, total, segment)`` is called between chunks
    (``done`` and ``total``: protocol time [s]).
    Raises :class:`Interrupted` on Ctrl-C (the checkpoint is kept)."""
    options = simulation_options(case)
    batching = options.pop("batching", OneHost())
    return _run_into([Path(out)], name, [fields], case, batching, options, resume=resume, max_frames=max_frames,
                     progress=progress)[0]


def run_members(outs: list, name: str, fields_list: list, case: Case, *, resume: bool = False, max_frames: int = 40,
                progress: Callable | None = None, mesh=None) -> list:
    """:func:`run_host` of several hosts of one grid, each into its own folder of ``outs`` (host
    ``name`` in each), as one ``vmap``-ped run (members of a batch). Each member writes what
    :func:`run_host` writes, its checkpoint included (a single run's format). With ``resume``:
    when every member has a checkpoint in the same segment they continue together; when only some
    have one (a kill between two members' checkpoint files), each continues alone. ``mesh``
    splits the members over its devices. Returns the members' results."""
    checkpoints = [Path(out) / f"{name}_checkpoint.npz" for out in outs]
    starts = [cp.exists() for cp in checkpoints] if resume else [False] * len(outs)
    if any(starts) and not all(starts):
        return [run_host(Path(out), name, f, case, resume=True, max_frames=max_frames) for out, f in zip(outs, fields_list)]
    options = simulation_options(case)
    options.pop("batching", None)  # a member's grid is not split: the members are
    return _run_into([Path(out) for out in outs], name, fields_list, case, members_batching(mesh), options,
                     resume=resume, max_frames=max_frames, progress=progress)


def _run_into(outs: list, name: str, fields_list: list, case: Case, batching, options: dict, *, resume: bool,
              max_frames: int, progress: Callable | None) -> list:
    """The hosts of ``fields_list`` (one grid) as one run of ``batching``, each with its snapshots
    and checkpoint file in its own folder of ``outs``, then each one's result files."""
    from hostsim.run.simulation import simulate_hosts, write_outputs
    from hostsim.run.snapshots import SnapshotWriter

    checkpoints = [out / f"{name}_checkpoint.npz" for out in outs]
    starts = [load_checkpoint(cp) if resume and cp.exists() else None for cp in checkpoints]
    if len(outs) > 1 and any(st is not None for st in starts) and len({int(st["segment"]) for st in starts}) > 1:
        return [run_host(out, name, f, case, resume=True, max_frames=max_frames) for out, f in zip(outs, fields_list)]
    if case.separator is not None:  # the snapshots and the final fields show its polymer
        fields_list = [with_separator(f, case.separator) for f in fields_list]
    first = fields_list[0]
    hosts = [{"s": f.s, "k": f.k, "l": f.l} for f in fields_list]
    try:
        separator_layers = 0 if case.separator is None else case.separator.layers(first.grid)
        observers = [Observers(SnapshotWriter(out, name, first.grid, host, collector_layers=first.collector_layers,
                                              host_top=first.host_top, max_frames=max_frames, resume=st is not None,
                                              separator_layers=separator_layers),
                               CheckpointFile(cp))
                     for out, host, st, cp in zip(outs, hosts, starts, checkpoints)]
        results = simulate_hosts(
            [name] * len(outs), first.grid, [f.arrays() for f in fields_list], case.electrolyte,
            case.kinetics, case.protocol, batching=batching, observers=observers, progress=progress,
            resume=None if all(st is None for st in starts) else starts, collector_layers=first.collector_layers,
            host_top=first.host_top, **options)
    except KeyboardInterrupt:
        message = (f"interrupted: the last checkpoint is in {checkpoints[0]}; continue with 'hostsim simulate --resume "
                   f"{outs[0]}'" if len(outs) == 1 else
                   "interrupted: the members' last checkpoints are in their folders; continue with --resume")
        raise Interrupted(message) from None
    except Exception as e:  # a solver that fails under jit arrives as a runtime error
        _solver_failure(e, name, checkpoints[0])
        raise
    for out, result, host, cp in zip(outs, results, hosts, checkpoints):
        try:
            write_outputs(out, result, first.grid, host, collector_layers=first.collector_layers,
                          host_top=first.host_top)
        except KeyboardInterrupt:
            raise Interrupted(f"interrupted while writing {name}'s results; 'hostsim simulate --resume {out}' writes "
                              f"them again from {cp}") from None
        cp.unlink(missing_ok=True)
    return results


def _solver_failure(error: Exception, name: str, checkpoint: Path) -> None:
    """A linear solver that did not converge (under jit: a runtime error) as one line."""
    text = str(error)
    if "converge" not in text.lower():
        return
    first = next((line.strip() for line in text.splitlines() if "converge" in line.lower()), text[:200])
    raise InputError(f"{name}: the linear solver failed ({first}); the last checkpoint is in {checkpoint}. "
                     f"Try [numerics] precision = \"float64\" or a larger grid") from None


def run_hosts(out: Path, hosts, case: Case, *, resume: bool = False, max_frames: int = 40,
              progress: Callable | None = None, on_host: Callable | None = None, workers: int = 1,
              cases: dict | None = None) -> dict:
    """Run every ``(name, host)`` of ``hosts`` into ``out`` (``host`` has ``fields()`` or is the
    fields); writes ``summary.json`` and returns the summaries by name (in the order of ``hosts``).
    With ``resume``, finished hosts are read back and interrupted ones continue from their
    checkpoints. ``progress(name, done_s, total_s, segment, elapsed_s)`` (protocol time done and in
    all, and wall time; raising in it stops the run
    at that chunk); ``on_host(name, summary, finished_before)``. ``workers`` > 1 runs that many
    hosts at a time, each in a thread (:mod:`hostsim.run.concurrency`; the same numbers, bit for
    bit): one host's program loading, host building and snapshot writing then overlap another's
    steps. ``cases``: a host's own case by name (a design's coating), ``case`` for the others."""
    summaries = {}
    pending = []
    for name, host in hosts:
        done_file = out / f"{name}_summary.json"
        if resume and done_file.exists():
            summaries[name] = json.loads(done_file.read_text())
            if on_host is not None:
                on_host(name, summaries[name], True)
        else:
            pending.append((name, host))
    lock = threading.Lock()  # progress lines and on_host from several threads, one at a time

    def one(item, stop=None):
        name, host = item
        fields = host_fields(host)
        started = time.perf_counter()
        stopping = stop_check(stop)

        def step_progress(done, total, seg):
            stopping()
            if progress is not None:
                with lock:
                    progress(name, done, total, seg, time.perf_counter() - started)

        own = case if cases is None else cases.get(name, case)
        result = run_host(out, name, fields, own, resume=resume, max_frames=max_frames, progress=step_progress)
        if on_host is not None:
            with lock:
                on_host(name, result.summary, False)
        return name, result.summary

    if workers > 1 and len(pending) > 1:
        try:
            done = run_in_threads(pending, one, workers)
        except Interrupted:
            raise Interrupted(f"interrupted: the hosts' last checkpoints are in {out}; continue with "
                              f"'hostsim simulate --resume {out}'") from None
    else:
        done = [one(item) for item in pending]
    summaries.update(done)
    summaries = {name: summaries[name] for name, _ in hosts}
    write_json(out / "summary.json", summaries)  # atomic: a batch beside this run reads it
    return summaries
