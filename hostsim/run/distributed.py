"""Several processes, on one machine or many, sharing a batch through ``jax.distributed`` (a
batch larger than one process's devices). No scheduler of our own: JAX's coordination service
starts the processes' group, each process takes the members ``index % count == process_index``
and runs them on its own local devices, and a barrier at the end lets process 0 merge one table
from the shared output folder (the members' folders must be on a file system every process
sees).

* :func:`join` — ``jax.distributed.initialize`` with an explicit coordinator, or detected from
  the cluster's environment (Slurm, Open MPI, Kubernetes: JAX's own detection);
* :func:`barrier` — wait until every process reaches the same point (a tiny all-gather).
"""

from __future__ import annotations

import jax

from hostsim.errors import InputError

_joined = False


def join(coordinator: str | None = None, num_processes: int | None = None, process_id: int | None = None,
         *, timeout_s: int = 300) -> tuple:
    """Join the process group; returns ``(process_index, process_count)``.

    ``coordinator="host:port"`` with ``num_processes`` and ``process_id`` (process 0 serves the
    coordinator at that address), or all three None to let JAX read them from the cluster's
    environment. Must run before any JAX computation in the process."""
    global _joined
    explicit = (coordinator, num_processes, process_id)
    if any(v is not None for v in explicit) and any(v is None for v in explicit):
        raise InputError("--coordinator, --num-processes and --process-id go together")
    if coordinator is not None:
        host, _, port = coordinator.rpartition(":")
        if not host or not port.isdigit():
            raise InputError(f"--coordinator: expected HOST:PORT; got {coordinator!r}")
        if num_processes < 1 or not 0 <= process_id < num_processes:
            raise InputError(f"--process-id must be in [0, --num-processes); got {process_id} of {num_processes}")
    # CPU processes need a cross-process collectives backend for the barrier (GPUs have NCCL)
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    try:
        jax.distributed.initialize(coordinator, num_processes, process_id, initialization_timeout=timeout_s)
    except (RuntimeError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InputError(f"jax.distributed could not start the process group: {first}") from None
    _joined = True
    return jax.process_index(), jax.process_count()


def barrier(name: str) -> None:
    """Block until every process of the group has called ``barrier(name)`` (no-op alone)."""
    if _joined and jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def leave() -> None:
    global _joined
    if _joined:
        jax.distributed.shutdown()
        _joined = False


__all__ = ["barrier", "join", "leave"]
