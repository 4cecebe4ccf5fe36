"""Pictures of runs: matplotlib plots, off-screen 3-D renders (pyvista) and ``report.html``.

Imported only by the commands that draw, so ``hostsim transport`` and ``simulate --no-report``
never load matplotlib or VTK.
"""
