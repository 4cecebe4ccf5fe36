"""Program audit: what a compiled transport solve or plating step asks of the hardware.

XLA compiles for a GPU target on a machine without a GPU (deviceless ahead-of-time compilation:
a PJRT topology built from a target description, ``jax.experimental.topologies``; the CUDA
plugin ``jax-cuda12-plugin`` holds the compiler, no driver is needed). This module compiles a
program for such a target (or for the CPU) and reads its optimised HLO:

* **kernels**: the instructions of a computation that launch work (fusions, copies, custom
  calls, unfused ops), counted through loops with a known trip count (times the count);
* **bytes**: per kernel, the bytes of its operands and results (what it reads and writes if
  nothing stays in cache), in units of one operator application compiled for the same target;
* **dynamic loops**: ``while`` loops without a ``known_trip_count`` (on a GPU each iteration
  reads its predicate back to the host); **conditionals** and **full-grid copies** inside loops.

The numbers are the compiler's plan, not a timing: docs/solver.md (the program audit) says how
they relate to the GPU measurements.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import warnings

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from hostsim.numerics import operators

# The H100 (SXM, 80 GB) as XLA's GPU compiler describes it (its TargetConfig: device limits,
# bandwidth, compute capability 9.0; the values of NVIDIA's data sheet and CUDA's device query)
H100_TARGET = """gpu_device_info {
  threads_per_block_limit: 1024
  threads_per_warp: 32
  shared_memory_per_block: 49152
  shared_memory_per_core: 233472
  threads_per_core_limit: 2048
  core_count: 132
  fpus_per_core: 128
  block_dim_limit_x: 2147483647
  block_dim_limit_y: 65535
  block_dim_limit_z: 65535
  memory_bandwidth: 3352320000000
  l2_cache_size: 52428800
  clock_rate_ghz: 1.98
  device_memory_size: 84929347584
  shared_memory_per_block_optin: 232448
  cuda_compute_capability { major: 9 }
  registers_per_core_limit: 65536
  registers_per_block_limit: 65536
}
platform_name: "CUDA"
dnn_version_info { major: 9 minor: 8 }
runtime_version { major: 12 minor: 9 }
device_description_str: "NVIDIA H100 80GB HBM3"
"""
TARGETS = ("h100", "cpu")

# opcodes that launch no work of their own (bookkeeping of tuples, views, control flow)
_NOT_KERNELS = {"parameter", "get-tuple-element", "tuple", "bitcast", "constant", "while", "conditional", "call",
                "after-all", "opt-barrier", "partition-id", "replica-id", "add-dependency", "domain"}
_BYTES = {"pred": 1, "s8": 1, "u8": 1, "s16": 2, "u16": 2, "f16": 2, "bf16": 2, "s32": 4, "u32": 4, "f32": 4,
          "s64": 8, "u64": 8, "f64": 8, "c64": 8, "c128": 16}
_ARRAY = re.compile(r"\b(pred|[subfc]\d+|bf16)\[([0-9,]*)\]")
_TRIP = re.compile(r'"known_trip_count":\{"n":"(\d+)"\}')


class AuditUnavailable(RuntimeError):
    """The target cannot be compiled for here (the reason is the message)."""


@dataclasses.dataclass
class Instruction:
    name: str
    opcode: str
    bytes: int  # of its result
    largest: int  # elements of its largest result array
    operands: list
    attributes: str


def _type_and_rest(text: str):
    """Split ``TYPE opcode(...)...`` at the end of the type (a tuple type is parenthesised)."""
    if not text.startswith("("):
        head, _, rest = text.partition(" ")
        return head, rest
    depth = 0
    for i, ch in enumerate(text):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0:
            return text[: i + 1], text[i + 2:]
    return text, ""


def _arrays(type_text: str):
    """``(bytes, largest element count)`` of the arrays in an HLO type."""
    total, largest = 0, 0
    for dtype, dims in _ARRAY.findall(type_text):
        count = int(np.prod([int(d) for d in dims.split(",") if d])) if dims else 1
        total += count * _BYTES.get(dtype, 4)
        largest = max(largest, count)
    return total, largest


def _instruction(line: str) -> Instruction | None:
    body = line.strip()
    if body.startswith("ROOT "):
        body = body[5:]
    name, sep, rest = body.partition(" = ")
    if not sep or not name.startswith("%"):
        return None
    type_text, rest = _type_and_rest(rest)
    opcode, _, rest = rest.partition("(")
    depth, end = 1, len(rest)
    for i, ch in enumerate(rest):
        depth += (ch == "(") - (ch == ")")
        if depth == 0:
            end = i
            break
    size, largest = _arrays(type_text)
    return Instruction(name[1:], opcode.strip(), size, largest, re.findall(r"%([\w.\-]+)", rest[:end]), rest[end + 1:])


def parse_hlo(text: str):
    """``(computations, entry)``: every computation's instructions by name, and the entry's name."""
    computations, entry, current = {}, None, None
    for line in text.splitlines():
        if line.endswith("{") and not line.startswith(" ") and "%" in line.split("(")[0]:
            head = line.split("(")[0].split()
            current = head[-1].lstrip("%")
            computations[current] = []
            if head[0] == "ENTRY":
                entry = current
        elif line.startswith("}"):
            current = None
        elif current is not None:
            instruction = _instruction(line)
            if instruction is not None:
                computations[current].append(instruction)
    return computations, entry


@dataclasses.dataclass
class Work:
    """What a computation (with everything it calls) does once: kernels and bytes times the trip
    counts of the counted loops inside; loops, conditionals and copies as instructions (each
    counted once, however often it runs)."""

    kernels: int = 0
    bytes: int = 0
    dynamic_loops: int = 0  # loops without a known trip count, itself and nested
    conditionals: int = 0
    full_copies: int = 0  # copies of at least a full grid
    conditionals_in_loops: int = 0
    full_copies_in_loops: int = 0

    def add(self, other: "Work", times: int = 1, *, loop: bool = False):
        """Add ``other`` done ``times`` times; ``loop``: it is a loop's body (all it holds is in a loop)."""
        self.kernels += times * other.kernels
        self.bytes += times * other.bytes
        self.dynamic_loops += other.dynamic_loops
        self.conditionals += other.conditionals
        self.full_copies += other.full_copies
        self.conditionals_in_loops += other.conditionals if loop else other.conditionals_in_loops
        self.full_copies_in_loops += other.full_copies if loop else other.full_copies_in_loops


def _called(instruction: Instruction, key: str):
    found = re.search(key + r"=\{?%([\w.\-]+)", instruction.attributes)
    return found.group(1) if found else None


class Program:
    """A parsed optimised HLO module: work per computation, and its loops (each ``while``
    instruction once, as written: a computation called from several places lists its loops once)."""

    def __init__(self, text: str, grid_elements: int):
        self.computations, self.entry = parse_hlo(text)
        self.grid_elements = grid_elements
        self._work = {}
        self.loops = []  # (while instruction, trip count or None, the body's Work)

    def work(self, name: str) -> Work:
        if name not in self._work:
            self._work[name] = self._measure(name)
        return self._work[name]

    def _measure(self, name: str) -> Work:
        shapes = {i.name: i.bytes for i in self.computations[name]}
        work = Work()
        for ins in self.computations[name]:
            if ins.opcode == "while":
                trip = _TRIP.search(ins.attributes)
                body = Work()
                for key in ("body", "condition"):
                    body.add(self.work(_called(ins, key)))
                self.loops.append((ins, int(trip.group(1)) if trip else None, body))
                work.add(body, int(trip.group(1)) if trip else 1, loop=True)
                work.dynamic_loops += trip is None
            elif ins.opcode == "conditional":
                branches = re.findall(r"%([\w.\-]+)", ins.attributes.split("branch_computations=")[-1].split("}")[0]) \
                    if "branch_computations" in ins.attributes else \
                    [_called(ins, "true_computation"), _called(ins, "false_computation")]
                worst = max((self.work(b) for b in branches if b), key=lambda w: w.bytes, default=Work())
                work.add(worst)
                work.conditionals += 1
            elif ins.opcode == "call":
                work.add(self.work(_called(ins, "to_apply")))
            elif ins.opcode not in _NOT_KERNELS:
                work.kernels += 1
                work.bytes += ins.bytes + sum(shapes.get(o, 0) for o in ins.operands)
                work.full_copies += ins.opcode in ("copy", "copy-start") and ins.largest >= self.grid_elements
        return work

    def total(self) -> Work:
        return self.work(self.entry)

    def solve_loops(self):
        """The linear solves' iteration loops (PCG's ``while``, named ``_solve`` in the HLO's
        metadata): ``(instruction, body Work)`` pairs, the largest body first."""
        self.total()
        loops = [(ins, body) for ins, trip, body in self.loops if SOLVE_LOOP.search(ins.attributes)]
        return sorted(loops, key=lambda item: -item[1].bytes)


SOLVE_LOOP = re.compile(r'op_name="[^"]*jit\(_solve\)/while"')  # hostsim.numerics.linsolve's loop


def traced_as(variant: str):
    """A context that traces programs in ``variant`` (``cpu`` or ``accelerator``)."""
    if variant not in ("cpu", "accelerator"):
        raise ValueError(f"variant: expected cpu or accelerator; got {variant!r}")

    @contextlib.contextmanager
    def scope():
        saved = os.environ.get(operators.VARIANT_VARIABLE)
        os.environ[operators.VARIANT_VARIABLE] = variant
        jax.clear_caches()  # jit caches do not key on the variant
        try:
            yield
        finally:
            if saved is None:
                os.environ.pop(operators.VARIANT_VARIABLE, None)
            else:
                os.environ[operators.VARIANT_VARIABLE] = saved
            jax.clear_caches()

    return scope()


def target_device(target: str):
    """A device to compile for: the CPU, or an H100 described to XLA's GPU compiler (no GPU needed)."""
    if target == "cpu":
        return jax.devices("cpu")[0]
    if target != "h100":
        raise ValueError(f"target: expected one of {', '.join(TARGETS)}; got {target!r}")
    try:
        from jax.experimental import topologies

        topology = topologies.get_topology_desc(platform="cuda", topology_name="", target_config=H100_TARGET,
                                                topology="1x1x1")
    except Exception as err:  # the plugin missing or refusing: say which, in one line
        try:
            import jax_plugins.xla_cuda12  # noqa: F401

            # installed, but it registers on a machine without CUDA only when JAX starts with
            # JAX_PLATFORMS=cpu (it then skips its check of the CUDA libraries)
            hint = "start Python with JAX_PLATFORMS=cpu on a machine without CUDA"
        except ImportError:
            hint = "install JAX's CUDA plugin: pip install 'jax[cuda12-local]'"
        raise AuditUnavailable(f"cannot compile for an H100 here: {type(err).__name__}: {(str(err).splitlines() or [''])[0]} "
                               f"({hint})") from err
    return topology.devices[0]


def compiled_text(fn, args, device) -> str:
    """The optimised HLO of ``fn(*args)`` compiled for ``device`` (``args``: a pytree of arrays,
    taken as shapes only)."""
    sharding = jax.sharding.SingleDeviceSharding(device)
    abstract = jax.tree.map(lambda a: jax.ShapeDtypeStruct(jnp.shape(a), jnp.result_type(a), sharding=sharding), args)
    if device.platform == "cpu":
        return jax.jit(fn).lower(*abstract).compile().as_text()
    # a program for a device that is not here cannot be loaded from the persistent compilation
    # cache (no client to load it): none is written (a compile never takes "long enough"), and a
    # stale entry that fails to load is compiled afresh without a warning
    least = jax.config.jax_persistent_cache_min_compile_time_secs
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1e9)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Error reading persistent compilation cache entry")
            return jax.jit(fn).lower(*abstract).compile().as_text()
    finally:
        jax.config.update("jax_persistent_cache_min_compile_time_secs", least)


def apply_bytes(op, device) -> int:
    """Bytes one application of ``op`` moves, compiled alone for ``device``."""
    text = compiled_text(lambda op, x: op(x), (op, jnp.zeros(op.shape, op.diagonal.dtype)), device)
    program = Program(text, int(np.prod(op.shape)))
    return program.total().bytes


def summary(program: Program, apply: int) -> dict:
    """The audit's numbers for a program whose operator application moves ``apply`` bytes: per
    PCG iteration of its largest linear solve, and counts over every solve and the whole program."""
    total = program.total()
    solves = program.solve_loops()
    if not solves:
        raise AuditUnavailable("no linear solve loop found in the program")
    largest = solves[0][1]
    return {
        "kernels_per_iteration": largest.kernels,
        "apply_equivalents_per_iteration": round(largest.bytes / apply, 2),
        "dynamic_loops_in_cycle": sum(b.dynamic_loops for _, b in solves),
        "conds_in_solves": sum(b.conditionals for _, b in solves),
        "full_copies_in_solves": sum(b.full_copies for _, b in solves),
        "linear_solve_loops": len(solves),
        "dynamic_loops": total.dynamic_loops,
        "conds_in_loops": total.conditionals_in_loops,
        "full_copies_in_loops": total.full_copies_in_loops,
        "kernels": total.kernels,
        "operator_apply_bytes": apply,
    }


def transport_program(n: int, device, precision: str = "float32") -> dict:
    """The audit of a through-plane transport solve on an ``n``³ volume (multigrid-PCG to 1e-6)."""
    from hostsim.numerics.grid import Grid
    from hostsim.transport.effective import _transport_system, transport_solve

    grid = Grid.create((n, n, n), lateral="periodic", axis="z", precision=precision)
    k = jax.ShapeDtypeStruct(grid.shape, grid.dtype)
    text = compiled_text(lambda k: transport_solve(grid, k, None, _pcg(), throw=False)[0], (k,), device)
    op = jax.eval_shape(lambda k: _transport_system(grid, k, None)[0], k)
    return summary(Program(text, n**3), apply_bytes(op, device))


def _pcg():
    from hostsim.numerics.linsolve import PCG

    return PCG(rtol=1e-6)


def _skeleton_host(n: int, precision: str):
    """A Cu skeleton in an ``n``³ box of 0.125 µm voxels: a collector layer and a random
    two-phase Cu network (70 % porous) up to 60 % of the height (what the audit compiles for)."""
    from hostsim.numerics.grid import Grid
    from hostsim.transport.media import random_two_phase

    grid = Grid.create((n, n, n), voxel_size=0.125e-6, lateral="periodic", precision=precision)
    s = np.zeros(grid.shape, np.float32)
    s[:, :, 0] = 1.0
    top = max(2, int(0.6 * n))
    s[:, :, 1:top] = random_two_phase((n, n, top - 1), 0.7, 2.0, 0) == 0
    return grid, s


def plating_step_program(n: int, device, precision: str = "float32") -> dict:
    """The audit of one plating step (the Li and salt update, then the potential of the new
    state) on an ``n``³ Cu skeleton at 1 mA/cm²."""
    import equinox as eqx

    from hostsim.electrochemistry.electrolyte import get_electrolyte
    from hostsim.electrochemistry.kinetics import Kinetics
    from hostsim.electrochemistry.plating import PlatingSystem, advance, initial_state, solve_state

    grid, s = _skeleton_host(n, precision)
    lp30 = get_electrolyte("lp30")
    system = PlatingSystem(grid, jnp.asarray(s, grid.dtype), jnp.asarray(s, grid.dtype), jnp.zeros(grid.shape, grid.dtype),
                           lp30, Kinetics())
    arrays, static = eqx.partition(system, eqx.is_array)
    state = jax.eval_shape(lambda: initial_state(grid, jnp.zeros(grid.shape, grid.dtype), lp30))
    current = 10.0 * grid.length[0] * grid.length[1]  # 1 mA/cm² [A]

    def step(arrays, state):
        plating = eqx.combine(arrays, static)
        new, _ = advance(plating, state, current, 1.0)
        return solve_state(plating, new, current)[0]

    text = compiled_text(step, (arrays, state), device)
    from hostsim.numerics.operators import DiffusionOperator

    ones = jax.ShapeDtypeStruct(grid.shape, grid.dtype)
    op = jax.eval_shape(lambda g: DiffusionOperator.from_faces((g, g, g), g, grid.periodic), ones)
    return summary(Program(text, n**3), apply_bytes(op, device))


def audit(target: str, variant: str, n: int, programs=("transport", "plating_step")) -> dict:
    """Compile ``programs`` in ``variant`` for ``target`` at ``n``³: one summary per program."""
    device = target_device(target)
    builders = {"transport": transport_program, "plating_step": plating_step_program}
    with traced_as(variant):
        return {name: builders[name](n, device) for name in programs}
