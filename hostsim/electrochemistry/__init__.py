"""Electrochemistry: constants, electrolytes, Butler–Volmer kinetics with the nucleation gate,
face-based interfaces, the quasi-static potential, salt transport, the cell's top, the plating
step, its adaptive time integration with events, and the run metrics.

* :mod:`~hostsim.electrochemistry.constants` — F, R, T, Li molar volume;
* :mod:`~hostsim.electrochemistry.electrolyte` — electrolyte parameter sets (constant and Valøen–Reimers);
* :mod:`~hostsim.electrochemistry.kinetics` — Butler–Volmer with the nucleation gate, Sand's time;
* :mod:`~hostsim.electrochemistry.interfaces` — face-based electrode/electrolyte interfaces;
* :mod:`~hostsim.electrochemistry.potential` — quasi-static potential, galvanostatic/potentiostatic problem;
* :mod:`~hostsim.electrochemistry.salt` — backward-Euler salt transport steps;
* :mod:`~hostsim.electrochemistry.cell` — what closes the cell on top (reservoir or Li counter electrode);
* :mod:`~hostsim.electrochemistry.plating` — the physics of one plating/stripping step (Li, SEI, salt, the new potential);
* :mod:`~hostsim.electrochemistry.integrate` — a segment's adaptive steps, its exact charge and its events;
* :mod:`~hostsim.electrochemistry.events` — what ends a segment early (voltage cutoff, depletion, Li at the top);
* :mod:`~hostsim.electrochemistry.metrics` — flux CV, hot spots, envelope, top growth, dead Li, SEI.
"""
