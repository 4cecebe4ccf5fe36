"""Traced and lowered step programs kept on disk, so a new process skips tracing them.

JAX's persistent compilation cache (``hostsim.cli.enable_compilation_cache``) keeps the
*compiled* programs, but every process still traces and lowers a plating chunk before it can
look it up: ~1.2 s per grid shape on 2 cores (docs/performance.md: wall time). :func:`stored_program` keeps the lowered program itself (``jax.export``, StableHLO), keyed
by everything that enters it, and a later process calls the deserialized program directly; its
compilation still comes from the compilation cache.

The key: hostsim's own source files (any edit makes a new key), the JAX version and backend, the
x64 flag, the abstract arguments, and the *values* of every static object the program closes
over (grid, electrolyte, kinetics, solver settings: each leaf's bytes, not its repr). Off unless
a directory is set (:func:`use_directory`; the CLI sets it next to the compilation cache unless
``HOSTSIM_PROGRAM_STORE=0``).

:func:`release_programs` frees every compiled program of a long process before it runs out of
memory mappings (a sweep over many grid shapes).
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import jaxlib
import numpy as np

from hostsim.numerics.operators import fusion_barriers

_directory: Path | None = None
_source_hash: str | None = None
_programs: "OrderedDict[str, object]" = OrderedDict()  # key -> program, this process's most recent
KEEP = 4  # programs kept in memory: each holds a compiled executable (tens of MB), and a process that
# kept hundreds ran out of memory (docs/performance.md: measurements behind the code)


def use_directory(path) -> None:
    """Keep programs in ``path`` (None: off)."""
    global _directory
    _directory = None if path is None else Path(path)


def _hostsim_source() -> str:
    global _source_hash
    if _source_hash is None:
        root = Path(__file__).resolve().parents[1]
        h = hashlib.sha256()
        for path in sorted(root.rglob("*.py")):
            h.update(str(path.relative_to(root)).encode())
            h.update(path.read_bytes())
        _source_hash = h.hexdigest()
    return _source_hash


def _digest(h, obj) -> None:
    leaves, treedef = jax.tree.flatten(obj)
    h.update(str(treedef).encode())
    for leaf in leaves:
        if isinstance(leaf, (jax.Array, np.ndarray, np.generic)):
            a = np.asarray(leaf)
            h.update(f"{a.dtype}{a.shape}".encode())
            h.update(np.ascontiguousarray(a).tobytes())
        else:
            h.update(repr(leaf).encode())


def stored_program(name: str, fn, statics, *args):
    """``fn`` (a ``jax.jit``-wrapped function of ``args`` that closes over ``statics``) as a
    callable of arguments shaped like ``args``.

    Within a process, the first program made for a key serves every later call with that key (a
    sweep's members, a protocol's segments). Across processes, with a store directory set, the
    program is deserialized when an earlier process exported it with the same key, else exported
    now and stored. Called under a transformation (``args`` traced), ``fn`` itself."""
    if any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree.leaves((statics, args))):
        return fn
    h = hashlib.sha256()
    h.update(_hostsim_source().encode())
    # the program shape (operators.fusion_barriers: the CPU or accelerator variant) is part of the key
    h.update(f"{jax.__version__}|{jaxlib.__version__}|{eqx.__version__}|{jax.default_backend()}|"
             f"{jax.config.jax_enable_x64}|{fusion_barriers()}|{name}".encode())
    _digest(h, statics)
    _digest(h, jax.tree.map(lambda a: jax.ShapeDtypeStruct(np.shape(a), jnp.result_type(a)), args))
    key = f"{name}-{h.hexdigest()[:32]}"
    if key in _programs:
        _programs.move_to_end(key)
    else:
        _programs[key] = fn if _directory is None else _load_or_export(_directory / f"{key}.bin", fn, args)
        while len(_programs) > KEEP:
            _programs.popitem(last=False)
    return _programs[key]


def _load_or_export(path: Path, fn, args):
    exported = None
    if path.exists():
        try:
            exported = jax.export.deserialize(bytearray(path.read_bytes()))
        except Exception:  # a truncated or foreign file: export again
            exported = None
    if exported is None:
        exported = jax.export.export(fn)(*args)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
            tmp.write_bytes(exported.serialize())
            os.replace(tmp, path)
        except OSError:
            pass  # an unwritable store: run without it
    call = jax.jit(exported.call)
    device = jax.local_devices()[0]  # this process's (jax.devices()[0] is process 0's in a process group)

    def run(*args):
        # committed arguments: the first call would otherwise be lowered for uncommitted inputs
        # and the next ones (the last chunk's outputs) again for committed ones
        return call(*jax.device_put(args, device))

    return run


def _register() -> None:
    """Let exported programs carry hostsim's named tuples in their argument and result trees."""
    from hostsim.electrochemistry.integrate import Attempt, Drive, Stepper
    from hostsim.electrochemistry.plating import Observation, PlatingState
    from hostsim.numerics.stepsize import ControllerState

    for cls in (PlatingState, Observation, Stepper, Attempt, Drive, ControllerState):
        try:
            jax.export.register_namedtuple_serialization(cls, serialized_name=f"hostsim.{cls.__name__}")
        except ValueError:
            pass  # already registered


_register()


def _memory_mappings() -> int | None:
    """This process's memory mappings (Linux), or None where /proc is not there."""
    try:
        with open("/proc/self/maps", "rb") as fh:
            return sum(1 for _ in fh)
    except OSError:
        return None


def _mapping_limit() -> int:
    try:
        return int(Path("/proc/sys/vm/max_map_count").read_text())
    except (OSError, ValueError):
        return 65530  # Linux's default


def release_programs(*, when_over: float = 0.0) -> bool:
    """Drop every compiled program this process holds (the programs here and JAX's caches) when
    its memory mappings exceed ``when_over`` x the kernel's limit; returns whether it did.

    Each live XLA CPU executable holds ~17 memory mappings. A long process that keeps compiling
    new programs (a sweep over many grid shapes, a test session) reaches ``vm.max_map_count``
    (65,530 by default) and XLA then segfaults in its next compilation (docs/performance.md: test
    suite). Released programs come back from the persistent compilation
    cache when they are needed again."""
    if when_over > 0:
        count = _memory_mappings()
        if count is None or count <= when_over * _mapping_limit():
            return False
    import gc

    _programs.clear()
    jax.clear_caches()
    gc.collect()
    return True
