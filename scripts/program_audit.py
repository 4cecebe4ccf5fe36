"""The program audit: compile the transport solve and one plating step for a target (an H100,
described to XLA's GPU compiler, no GPU needed; or this CPU) and print what the compiled
program asks of the hardware, per PCG iteration and over the program
(:mod:`hostsim.run.audit`; docs/solver.md, the program audit).

    python scripts/program_audit.py --target h100 --variant accelerator --size 256 --json
    python scripts/program_audit.py --target cpu --variant cpu --size 128

Exit code 2 with one line when the target cannot be compiled for here (the CUDA plugin missing).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")  # compiling for a GPU needs none, and none is used

COLUMNS = ("kernels_per_iteration", "apply_equivalents_per_iteration", "dynamic_loops_in_cycle", "conds_in_solves",
           "full_copies_in_solves", "linear_solve_loops", "dynamic_loops", "conds_in_loops", "full_copies_in_loops")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--target", choices=("h100", "cpu"), default="h100")
    p.add_argument("--variant", choices=("accelerator", "cpu"), default="accelerator")
    p.add_argument("--size", type=int, default=128, help="edge of the cubic grid [voxels]")
    p.add_argument("--programs", nargs="+", choices=("transport", "plating_step"), default=("transport", "plating_step"))
    p.add_argument("--json", action="store_true", help="print the JSON object only")
    p.add_argument("--output", help="also write the JSON object to this file")
    args = p.parse_args(argv)
    if args.size < 8:
        print(f"program_audit: --size: expected an edge of at least 8 voxels; got {args.size}", file=sys.stderr)
        return 2
    from hostsim.errors import InputError
    from hostsim.run import audit

    t0 = time.perf_counter()
    try:
        result = audit.audit(args.target, args.variant, args.size, tuple(args.programs))
    except (audit.AuditUnavailable, InputError) as err:
        print(f"program_audit: {err}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - t0
    if args.output:
        with open(args.output, "w") as fh:
            json.dump({"target": args.target, "variant": args.variant, "size": args.size, **result}, fh, indent=1)
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    print(f"{args.variant} variant compiled for {args.target} at {args.size}³ in {seconds:.1f} s "
          "(per iteration: of the largest linear solve; bytes in operator applications)")
    print("| measure | " + " | ".join(result) + " |")
    print("|---|" + "---|" * len(result))
    for column in COLUMNS:
        print(f"| {column} | " + " | ".join(str(result[name][column]) for name in result) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
