"""The run pipeline: case file -> protocol -> run on each host -> output files, checkpoints, resume.

* :mod:`~hostsim.run.case` — case files (TOML), validated before any heavy work;
* :mod:`~hostsim.run.protocol` — plate / rest / strip segments and cycles;
* :mod:`~hostsim.run.simulation` — one host's run: protocol, summary metrics, output files;
* :mod:`~hostsim.run.pipeline` — the pipeline as a library (``run_host``, ``run_hosts``, checkpoints);
* :mod:`~hostsim.run.snapshots` — field snapshots (``.vti`` + ``.pvd``);
* :mod:`~hostsim.run.io` — volume readers and ``.vti`` writer;
* :mod:`~hostsim.run.results` — reading a finished run directory.
"""
