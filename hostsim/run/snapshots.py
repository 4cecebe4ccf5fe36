"""Field snapshots during a run: compressed ``.vti`` files and a ParaView ``.pvd`` collection
(docs/outputs.md is the contract).

:class:`SnapshotWriter` receives the run's checkpoints (it is a run observer) and
writes a snapshot whenever the run has advanced by ``1 / (max_frames - 1)`` of its protocol's
time, plus the initial and the final state, so a run never writes more than ``max_frames``
frames whatever its length. Each snapshot holds the host, the Li and the electrolyte fields with
units in their names, and the run's scalars as field data. The ``.pvd`` and a small frame list
are rewritten atomically after every frame, so an interrupted run leaves a valid collection and
``resume=True`` continues it (with the ``max_frames`` it started with, kept in
``<name>_fields/frames.json``). Arrays are fetched from the device once per frame (the checkpoint
already holds them as numpy) and written LZ4-compressed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from hostsim.electrochemistry.constants import FARADAY, LI_MOLAR_VOLUME  # noqa: F401  (documented units)
from hostsim.electrochemistry.metrics import COULOMB_PER_MAH_CM2
from hostsim.run.io import write_pvd, write_vti
from hostsim.run.observer import RunObserver

UNITS = {"solid_fraction": "-", "conducting": "-", "lithiophilicity": "-", "li_fraction": "-",
         "concentration_mol_m3": "mol/m^3", "potential_V": "V", "plating_current_A_m2": "A/m^2",
         "plating_time_s": "s"}


def snapshot_fields(host: dict, state) -> dict:
    """The cell fields of a snapshot (docs/outputs.md) from the host ``{s, k, l}`` and a
    :class:`~hostsim.electrochemistry.plating.PlatingState` (or a dict of its numpy fields)."""
    get = (lambda n: np.asarray(state[n])) if isinstance(state, dict) else (lambda n: np.asarray(getattr(state, n)))
    amount = get("plated_amount")
    mean_time = np.where(amount > 1e-9, get("plated_time") / np.maximum(amount, 1e-30), 0.0)
    return {"solid_fraction": np.asarray(host["s"]), "conducting": np.asarray(host["k"]),
            "lithiophilicity": np.asarray(host["l"]), "li_fraction": get("theta"),
            "concentration_mol_m3": get("concentration"), "potential_V": get("phi"),
            "plating_current_A_m2": get("interfacial_current"), "plating_time_s": mean_time}


class SnapshotWriter(RunObserver):
    """Writes ``<name>_fields/<name>_NNNN.vti`` and ``<name>_fields.pvd`` into ``directory``; as a
    run's observer (:mod:`hostsim.run.observer`) it writes the initial state, frames from the
    checkpoints and the final state."""

    def __init__(self, directory, name, grid, host: dict, *, collector_layers=1, host_top=1, max_frames=40,
                 resume=False, separator_layers=0):
        if max_frames < 2:
            raise ValueError(f"max_frames must be >= 2 (initial and final state); got {max_frames}")
        self.directory = Path(directory)
        self.name = name
        self.grid = grid
        self.host = {key: np.asarray(host[key]) for key in ("s", "k", "l")}
        self.collector_layers, self.host_top = collector_layers, host_top
        self.separator_layers = separator_layers  # the top layers that are a separator, not electrode
        self.max_frames = max_frames
        self.folder = self.directory / f"{name}_fields"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.index_file = self.folder / "frames.json"
        self.frames = []  # [(time_s, relative path, protocol time done [s])]
        if resume and self.index_file.exists():  # continue the series with the spacing it started with
            stored = json.loads(self.index_file.read_text())
            self.max_frames = int(stored["max_frames"])
            self.frames = [tuple(f) for f in stored["frames"]]

    @property
    def pvd(self) -> Path:
        return self.directory / f"{self.name}_fields.pvd"

    def _metadata(self, time, voltage, passed_charge):
        projected = self.grid.length[0] * self.grid.length[1]
        return {"time_s": float(time), "voltage_V": float(voltage), "passed_charge_C": float(passed_charge),
                "capacity_mAh_cm2": float(passed_charge) / projected / COULOMB_PER_MAH_CM2,
                "voxel_size_m": self.grid.voxel_size, "collector_layers": self.collector_layers,
                "host_top": self.host_top, "separator_layers": self.separator_layers, "case": self.name,
                "units": json.dumps(UNITS)}

    def write(self, state, time_done=0.0) -> Path:
        """Write one frame of ``state`` (PlatingState or the checkpoint's dict of arrays)."""
        get = (lambda n: state[n]) if isinstance(state, dict) else (lambda n: getattr(state, n))
        rel = f"{self.folder.name}/{self.name}_{len(self.frames):04d}.vti"
        write_vti(self.directory / rel, snapshot_fields(self.host, state), voxel_size=self.grid.voxel_size,
                  metadata=self._metadata(get("time"), get("voltage"), get("passed_charge")))
        self.frames.append((float(get("time")), rel, float(time_done)))
        self._save_index()
        return self.directory / rel

    def _save_index(self):
        write_pvd(self.pvd, [(t, rel) for t, rel, _ in self.frames])
        tmp = self.index_file.with_name(self.index_file.name + ".tmp")
        tmp.write_text(json.dumps({"max_frames": self.max_frames, "frames": self.frames}))
        os.replace(tmp, self.index_file)

    @property
    def wants_checkpoints(self) -> bool:
        return True

    def started(self, state, resumed: bool) -> None:
        """The initial frame (a resumed run keeps the frames it wrote)."""
        if not resumed or not self.frames:
            self.write(state, 0.0)

    def checkpoint(self, checkpoint: dict) -> None:
        self.on_chunk(checkpoint)

    def finished(self, state) -> None:
        self.finish(state)

    def on_chunk(self, checkpoint: dict):
        """A ``run_protocol`` checkpoint: write a frame when the run has passed the next
        ``1/(max_frames - 1)`` of its protocol's time (the final state is left to :meth:`finish`)."""
        done, total = checkpoint["done_time"], checkpoint["total_time"]
        if done >= total or total <= 0:
            return
        last = self.frames[-1][2] if self.frames else 0.0
        spacing = total / (self.max_frames - 1)
        if int(done // spacing) > int(last // spacing) and len(self.frames) < self.max_frames - 1:
            self.write(checkpoint["state"], done)

    def finish(self, state) -> Path:
        """Write the final frame (unless the last frame already is the final state)."""
        if self.frames and len(self.frames) > 1 and self.frames[-1][0] == float(np.asarray(state.time)):
            return self.directory / self.frames[-1][1]
        return self.write(state, float("inf"))


__all__ = ["SnapshotWriter", "UNITS", "snapshot_fields"]
