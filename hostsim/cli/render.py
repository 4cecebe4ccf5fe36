"""``hostsim render``: an off-screen 3-D picture (PNG) or animation (GIF) of a run.

    hostsim render RUN_DIR --out final.png                     # every case side by side, iso view
    hostsim render RUN_DIR --case cu_skeleton --view section --out section.png
    hostsim render RUN_DIR/cu_skeleton_fields.pvd --field plating_current_A_m2 --out current.png
    hostsim render RUN_DIR --case cu_skeleton --animate plating.gif

pyvista/VTK are imported only when the subcommand runs, so ``hostsim --help`` stays fast.
"""

from __future__ import annotations

import argparse

VIEWS = ("iso", "side", "top", "section")  # hostsim.pictures.render.VIEWS, repeated to keep VTK out of --help


def _size(text: str) -> tuple[int, int]:
    """``WxH`` in pixels, e.g. ``1200x900``."""
    parts = text.lower().split("x")
    try:
        if len(parts) != 2:
            raise ValueError
        size = int(parts[0]), int(parts[1])
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT in pixels (e.g. 1200x900); got {text!r}") from None
    if not all(64 <= n <= 8192 for n in size):
        raise argparse.ArgumentTypeError(f"width and height must be in [64, 8192] pixels; got {text!r}")
    return size


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "render",
        help="off-screen 3-D render (PNG) or animation (GIF) of a run's snapshots",
        description="Render a run directory (every case side by side, or --case), a NAME_fields.pvd or a "
        ".vti snapshot off-screen: host grey, Cu collector copper, Li coloured by --field. Views: iso, side, "
        "top (3-D voxels) and section (2-D cut through the host with the host top marked).",
    )
    p.add_argument("source", metavar="DIR|FILE", help="run directory, NAME_fields.pvd or .vti snapshot")
    p.add_argument("--view", default="iso", choices=VIEWS, help="camera preset (default iso)")
    p.add_argument("--field", default=None, metavar="NAME",
                   help="cell field for the colours (default plating_time_s; concentration_mol_m3 for section)")
    p.add_argument("--case", default=None, metavar="NAME", help="the one case to draw from a run directory")
    p.add_argument("--size", type=_size, default=None, metavar="WxH",
                   help="image size in pixels (default 1200x900; 800x600 for --animate)")
    p.add_argument("--time", type=float, default=None, metavar="SECONDS",
                   help="render the snapshot nearest to this time [s] (default: the final state)")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--out", metavar="PNG", help="write the picture to this .png")
    target.add_argument("--animate", metavar="GIF", help="write an animation of the snapshots to this .gif")
    p.add_argument("--max-frames", type=int, default=40, help="--animate: at most this many frames (default 40)")
    p.add_argument("--fps", type=float, default=8.0, help="--animate: frames per second (default 8)")
    p.set_defaults(handler=run)


def run(args) -> int:
    from hostsim.errors import InputError
    from hostsim.pictures.render import animate, render

    common = dict(view=args.view, field=args.field, case=args.case)
    if args.animate is not None:
        if args.time is not None:
            raise InputError("--time picks one snapshot for --out; --animate shows them all")
        path = animate(args.source, args.animate, max_frames=args.max_frames, fps=args.fps,
                       size=args.size or (800, 600), **common)
        print(f"animation written to {path}")
    else:
        render(args.source, out=args.out, size=args.size or (1200, 900), time=args.time, **common)
        print(f"picture written to {args.out}")
    return 0
