"""The design loop: parameterisation -> fields -> plating run -> objective -> optax update.

:func:`run_study` optimises a :class:`~inverse.study.Study` into a directory:

* ``log.jsonl`` and ``log.csv``: one row per iteration (objective, every design term, gradient
  norm, the projected-gradient norm, the relative objective change and the parameters at a bound
  (:mod:`inverse.verdict`), step time);
* ``design.pvd`` with ``design/design_NNNN.vti``: the design (``s, k, l``) after every update,
  iteration 0 the start (ParaView opens it as a time series);
* ``checkpoint.npz``: written atomically after every iteration (design vector, optimiser state,
  iteration, the start's reference terms). ``resume=True`` continues from it; the log is cut back
  to the checkpoint, so an interrupted study (Ctrl-C or ``kill -9``) ends with the same
  trajectory, bit for bit, as an uninterrupted one (CPU, same machine);
* ``design.json``: the final design (per-layer profiles or family parameters) and its terms
  beside the start's, and the verification: the start and the final design re-simulated by the
  ordinary run pipeline (``verification/``, ``final_host.vti``), and the verdict
  (:func:`inverse.verdict.study_verdict`: converged, stalled or budget exhausted).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from hostsim import InputError

from .objectives import TERM_RESOLUTION, TERMS, plating_terms, steady_terms, weighted_objective
from .lagrangian import constraint_names, constraint_values, penalty_terms, updated_multipliers
from .freeform import FreeForm, beta_at
from .parameterisations import AbstractParameterisation, FamilyParameters, FilmDesign, LayerProfile
from .bounds import box
from .starts import best_start, member, one_by_one, over_starts, spread_starts, spread_summary
from .study import Study
from .verdict import projected_gradient, relative_change, study_verdict


def parameterisation(study: Study) -> AbstractParameterisation:
    """The study's parameterisation over its base host."""
    import geometries as geo

    precision = study.case.numerics.precision
    name, family = geo.geometry_host(study.case.geometry, precision)
    d = study.design
    held = box(study.optimizer.bounds)
    if d.parameterisation == "family":
        return FamilyParameters(family, None if d.parameters is None else tuple(d.parameters), box=held)
    base = family.fields()
    if d.parameterisation == "free_form":
        porosity = d.porosity
        if porosity is None:  # the base host's own slab porosity
            porosity = 1.0 - float(np.mean(np.asarray(base.s)[:, :, base.collector_layers:base.host_top]))
        return FreeForm(base, porosity=float(porosity), feature_size=d.feature_size_um * 1e-6, beta=d.beta_start,
                        design=tuple(d.fields))
    return LayerProfile(base, layers=d.layers, design=tuple(d.fields), start_k=d.start_k, start_l=d.start_l, box=held,
                        start_film=d.start_film, film=designed_film(study))


def designed_film(study: Study):
    """The :class:`~inverse.parameterisations.FilmDesign` of a study that designs ``film`` (its one
    coating), else None."""
    if "film" not in study.design.fields:
        return None
    coating = study.case.coatings[0]
    return FilmDesign(coating.on, coating.film()[1], coating.thickness_nm, coating.strain)


def beta_at_iteration(study: Study, iteration: int) -> float | None:
    """The free-form projection's sharpness at ``iteration`` (None for the other parameterisations):
    a pure function of the iteration, so a resumed study continues the same schedule."""
    d = study.design
    if d.parameterisation != "free_form":
        return None
    return beta_at(iteration, d.beta_start, d.beta_every, d.beta_max, d.beta_growth)


def at_iteration(study: Study, param, iteration: int):
    """``param`` as it is used at ``iteration`` (its projection's beta for a free-form design)."""
    beta = beta_at_iteration(study, iteration)
    return param if beta is None else param.with_beta(beta)


def design_terms(study: Study, base):
    """``(param, x) -> terms`` of the study's plating transient on ``base``'s grid (not jitted; the
    parameterisation is an argument, so a new beta does not recompile)."""
    seg, strip = study.segment, study.strip_segment

    def terms(param, x):
        return plating_terms(base.grid, param.fields(x), study.case.electrolyte, param.kinetics(x, study.case.kinetics),
                             current_density=seg.current_density, capacity=seg.capacity,
                             collector_layers=base.collector_layers, host_top=base.host_top, top=study.case.top,
                             strip=None if strip is None else (strip.current_density, strip.capacity),
                             time_tolerance=study.case.numerics.time_tolerance,
                             max_steps=study.design.max_steps, sei_charge_density=study.case.sei_charge_density,
                             separator=study.case.separator)

    return terms


def surrogate_terms(study: Study, base):
    """``(param, x) -> terms`` of the steady surrogate (:func:`inverse.objectives.steady_terms`):
    the first plating step's current distribution, for the warm-up iterations."""
    seg = study.segment

    def terms(param, x):
        return steady_terms(base.grid, param.fields(x), study.case.electrolyte, param.kinetics(x, study.case.kinetics),
                            current_density=seg.current_density, capacity=seg.capacity,
                            collector_layers=base.collector_layers, host_top=base.host_top, top=study.case.top)

    return terms


def warming_up(study: Study, iteration: int) -> bool:
    """Whether ``iteration`` optimises the steady surrogate (the first ``warmup_iterations``)."""
    return iteration < study.design.warmup_iterations


def slab_porosity(param, x):
    """The host slab's porosity of the design ``x`` (1 - mean solid fraction of the slab)."""
    b = param.base
    return 1.0 - jnp.mean(param.fields(x)[0][:, :, b.collector_layers:b.host_top])


@eqx.filter_jit
def design_fields(param, x):
    """``param.fields(x)``, compiled (eager, a free-form design's filter solves op by op: ~12 s
    where the compiled call takes 2 ms, measured on a 12 x 12 x 8 slab)."""
    return param.fields(x)


def design_constraints(param: AbstractParameterisation, x) -> dict:
    """Constraint values of the design ``x`` (logged every iteration): the slab's solid fraction
    and the parameterisation's own (:meth:`~inverse.parameterisations.AbstractParameterisation.measures`;
    a free-form design's grey share and the conducting host connected to the collector)."""
    s, k = (np.asarray(v) for v in design_fields(param, x)[:2])
    b = param.base
    slab = s[:, :, b.collector_layers:b.host_top]
    return {"solid_fraction": float(slab.mean()), **param.measures(s, k)}


def learning_rate(study: Study):
    """The study's learning rate: a number, or an optax schedule falling from ``learning_rate`` to
    ``final_fraction`` of it over the study file's iterations (cosine: Loshchilov & Hutter 2017,
    SGDR; exponential: a constant factor per iteration). The schedule's count is part of the
    optimiser state, so a resumed study continues it."""
    o = study.optimizer
    lr, horizon, fraction, schedule = o.learning_rate, o.schedule_iterations, o.final_fraction, o.schedule
    if schedule == "cosine":
        return optax.cosine_decay_schedule(lr, decay_steps=max(horizon - 1, 1), alpha=fraction)
    if schedule == "exponential":
        # end_value: held there, as the cosine holds alpha, when a resumed study runs past the file's budget
        return optax.exponential_decay(lr, transition_steps=1, decay_rate=fraction ** (1.0 / max(horizon - 1, 1)),
                                       end_value=lr * fraction)
    return lr


def optimizer(study: Study):
    o = study.optimizer
    lr = learning_rate(study)
    step = optax.adam(lr) if o.name == "adam" else optax.sgd(lr)
    return optax.chain(optax.clip_by_global_norm(o.clip), step) if o.clip > 0 else step


def design_update(opt, starts: int = 1):
    """``update(x, grad, opt_state, param) -> (x, opt_state)``: the optimiser's step, then the
    parameterisation's projection onto its bounds (:mod:`inverse.bounds`); with several
    ``starts``, of every start's design (stacked, :mod:`inverse.starts`)."""
    def update(x, grad, opt_state, param):
        updates, opt_state = opt.update(grad, opt_state, x)
        return param.project(optax.apply_updates(x, updates)), opt_state

    return eqx.filter_jit(over_starts(update, starts, (0, 0, 0, None)))


def _save(path: Path, x, opt_state, iteration: int, reference: dict, multipliers: dict | None = None,
          beta_growth: str | None = None) -> None:
    leaves = jax.tree.leaves(opt_state)
    arrays = {"x": np.asarray(x), "iteration": np.asarray(iteration)}
    if beta_growth is not None:
        arrays["beta_growth"] = np.asarray(beta_growth)
    arrays.update({f"multiplier/{k}": np.asarray(v) for k, v in (multipliers or {}).items()})
    arrays.update({f"opt/{i}": np.asarray(leaf) for i, leaf in enumerate(leaves)})
    arrays.update({f"reference/{k}": np.asarray(v) for k, v in reference.items()})
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)  # atomic: a kill never leaves half a checkpoint


def _load(path: Path, opt_state_like, opt_state_like_x):
    try:
        with np.load(path) as z:
            x = jnp.asarray(z["x"])
            if x.shape != opt_state_like_x.shape:
                raise InputError(f"{path}: this study's checkpoint holds designs of shape {x.shape} and its study "
                                 f"file now asks for {opt_state_like_x.shape} ([optimizer] starts or the design "
                                 f"changed); put it back, or delete the checkpoint to restart")
            iteration = int(z["iteration"])
            treedef = jax.tree.structure(opt_state_like)
            like = jax.tree.leaves(opt_state_like)
            leaves = [jnp.asarray(z[f"opt/{i}"], dtype=jnp.asarray(leaf).dtype) for i, leaf in enumerate(like)]
            reference = {k[len("reference/"):]: jnp.asarray(z[k]) for k in z.files if k.startswith("reference/")}
            multipliers = {k[len("multiplier/"):]: jnp.asarray(z[k]) for k in z.files if k.startswith("multiplier/")}
    except InputError:
        raise
    except Exception as e:
        raise InputError(f"{path}: unreadable design checkpoint ({type(e).__name__}: {e}); delete it to restart") from None
    return x, jax.tree.unflatten(treedef, leaves), iteration, reference, multipliers


def _check_reference(study: Study, reference: dict) -> None:
    """Every weighted or bounded term is normalised by the start design's value: one that is 0 there,
    or below the term's resolution (e.g. an envelope growth of 1e-16 µm: round-off), would make a
    weight's unit meaningless. One line, before any iteration."""
    for section, names in (("objective", [k for k, w in study.weights.items() if w]),
                           ("constraints", [k[:-len("_max")] for k in study.constraints if k.endswith("_max")
                                            and k[:-len("_max")] in reference])):
        for name in names:
            value, resolution = float(jnp.abs(reference[name])), TERM_RESOLUTION.get(name, 0.0)
            if value == 0.0 or value < resolution:
                key = name if section == "objective" else f"{name}_max"
                raise InputError(f"study [{section}] {key}: the start design's {name} is {value:.3g} (0 to within "
                                 f"{resolution:g}), so it cannot be measured relative to the start; drop it or start "
                                 f"from a design where it is not 0")


def _beta_growth(study: Study) -> str | None:
    """The beta schedule a checkpoint records: a free-form design's (None for the others)."""
    return study.design.beta_growth if study.design.parameterisation == "free_form" else None


def _check_beta_growth(path: Path, study: Study) -> None:
    """A free-form study resumes on the beta schedule it started with: a checkpoint without one was
    written when doubling was the only (and default) schedule."""
    if study.design.parameterisation != "free_form":
        return
    with np.load(path) as z:
        stored = str(z["beta_growth"]) if "beta_growth" in z.files else "doubling"
    if stored != study.design.beta_growth:
        raise InputError(f"{path}: this study started with beta_growth = \"{stored}\" and its study file now gives "
                         f"\"{study.design.beta_growth}\" (the default changed on 2026-12-02); add beta_growth = "
                         f"\"{stored}\" to its [design] section to resume it")


def _cut_log(out: Path, rows: int) -> None:
    """Keep the first ``rows`` iterations of the logs (a kill between a log row and its checkpoint
    leaves one row too many)."""
    jl = out / "log.jsonl"
    if jl.exists():
        lines = jl.read_text().splitlines(keepends=True)[:rows]
        jl.write_text("".join(lines))
    cv = out / "log.csv"
    if cv.exists():
        lines = cv.read_text().splitlines(keepends=True)[:rows + 1]
        cv.write_text("".join(lines))


def _snapshot(out: Path, param, x, iteration: int) -> None:
    """Write the design after ``iteration`` updates as ``design/design_NNNN.vti`` (``s, k, l``) and
    rewrite ``design.pvd`` from the frames on disk (time = iteration)."""
    from hostsim.run.io import write_vti

    folder = out / "design"
    folder.mkdir(exist_ok=True)
    s, k, l = design_fields(param, x)[:3]
    voxel = param.base.grid.voxel_size
    write_vti(folder / f"design_{iteration:04d}.vti", {"s": np.asarray(s), "k": np.asarray(k), "l": np.asarray(l)},
              voxel_size=voxel, metadata={"iteration": iteration})
    _write_design_pvd(out)


def _write_design_pvd(out: Path, keep: int | None = None) -> None:
    """``design.pvd`` from the snapshot frames on disk; with ``keep``, frames after that iteration
    (written past the last checkpoint) are deleted first."""
    from hostsim.run.io import write_pvd

    folder = out / "design"
    frames = []
    for path in sorted(folder.glob("design_*.vti")):
        n = int(path.stem.split("_")[1])
        if keep is not None and n > keep:
            path.unlink()
            continue
        frames.append((n, f"design/{path.name}"))
    write_pvd(out / "design.pvd", frames)


def _check_transient(study: Study, iteration: int, terms: dict, warm: bool) -> None:
    """Stop the study (one line, exit code 2; the checkpoint keeps the iterations before) when the
    design's transient did not complete: its terms and gradient would be finite and wrong
    (:func:`inverse.objectives.plating_terms`' ``failed_steps``)."""
    failed = int(np.sum(np.asarray(terms.get("failed_steps", 0))))  # summed over the starts
    if not failed:
        return
    if warm:
        raise InputError(f"design iteration {iteration}: the steady surrogate's potential solve did not converge, "
                         f"so its terms and gradient are not the physics; lower [optimizer] learning_rate")
    segments = 2 if study.strip_segment is not None else 1
    raise InputError(f"design iteration {iteration}: {failed} of the {segments} segment(s) of the design transient did "
                     f"not complete (an event ended it early, e.g. the electrolyte depleted or a strip ran out of Li, "
                     f"or [design] max_steps = {study.design.max_steps} attempts ran out), so its terms and gradient "
                     f"are not the physics asked for; raise max_steps or lower [optimizer] learning_rate (the "
                     f"checkpoint keeps the iterations before)")


def _to_float(d: dict) -> dict:
    return {k: float(v) for k, v in d.items()}


def _begin(study: Study, out: Path, param, terms, surrogate, opt, resume: bool):
    """The loop's starting point: ``(x, opt_state, start, reference, multipliers)``, from the
    checkpoint when resuming (the log and design frames cut back to it), else fresh (earlier
    outputs removed, the reference terms computed, the start's design frame written)."""
    starts = study.optimizer.starts
    x = param.initial() if starts == 1 else spread_starts(param, starts)
    opt_state = over_starts(opt.init, starts, 0)(x)
    checkpoint = out / "checkpoint.npz"
    multipliers = {name: jnp.zeros(x.shape[:-1], x.dtype) for name in constraint_names(study.constraints)}
    if resume and checkpoint.exists():
        x, opt_state, start, reference, stored = _load(checkpoint, opt_state, x)
        _check_beta_growth(checkpoint, study)
        multipliers.update(stored)
        _cut_log(out, start * starts)
        _write_design_pvd(out, keep=start)
        return x, opt_state, start, reference, multipliers
    for name in ("log.jsonl", "log.csv", "checkpoint.npz", "design.json", "design.pvd"):
        (out / name).unlink(missing_ok=True)
    for path in (out / "design").glob("design_*.vti") if (out / "design").is_dir() else ():
        path.unlink()
    # every start is measured against the file's start design (start 0 when there are several)
    first = param.initial()
    reference = eqx.filter_jit(terms)(at_iteration(study, param, 0), first)
    _check_reference(study, reference)
    if warming_up(study, 0):  # the surrogate's terms are normalised by the start's surrogate values
        steady = eqx.filter_jit(surrogate)(at_iteration(study, param, 0), first)
        reference = {**reference, **{f"steady_{k}": v for k, v in steady.items()}}
    _snapshot(out, at_iteration(study, param, 0), first, 0)
    return x, opt_state, 0, reference, multipliers


def _gradients(study: Study, terms, surrogate, reference, names):
    """The compiled ``value_and_grad`` of the constrained objective on the transient terms and on
    the steady surrogate's (each normalised by its own reference): ``(x, param, multipliers) ->
    ((value, (terms, g)), grad)``."""
    weights, mu = study.weights, study.constraints.get("penalty", 0.0)
    steady_reference = {k[len("steady_"):]: v for k, v in reference.items() if k.startswith("steady_")}

    def constrained(t, ref, param, x, multipliers):
        """The weighted objective plus the augmented-Lagrangian terms; (value, (terms, g))."""
        values = constraint_values(study.constraints, t, ref, slab_porosity(param, x)) if names else {}
        value = weighted_objective(t, weights, ref)
        if names:
            value = value + penalty_terms(values, multipliers, mu)
        return value, (t, values)

    def loss(x, param, multipliers):
        return constrained(terms(param, x), reference, param, x, multipliers)

    def surrogate_loss(x, param, multipliers):
        return constrained(surrogate(param, x), steady_reference, param, x, multipliers)

    starts = study.optimizer.starts
    return tuple(one_by_one(eqx.filter_jit(jax.value_and_grad(f, has_aux=True)), starts, (0, None, 0))
                 for f in (loss, surrogate_loss))


def _append_log(out: Path, row: dict) -> None:
    """One iteration's row, appended to ``log.jsonl`` and ``log.csv`` (its header first)."""
    with open(out / "log.jsonl", "a") as fh:
        fh.write(json.dumps(row) + "\n")
    new_csv = not (out / "log.csv").exists()
    with open(out / "log.csv", "a", newline="") as fh:
        w = csv.writer(fh)
        if new_csv:
            w.writerow(list(row))
        w.writerow([_csv_cell(v) for v in row.values()])


def _csv_cell(v):
    """A log value as a CSV cell: a list (the parameters at a bound) joined by ``;``, none empty."""
    if isinstance(v, float):
        return f"{v:.9g}"
    if isinstance(v, list):
        return ";".join(v)
    return "" if v is None else v


def _row(it, value, t, g, grad, now, x, warm, multipliers, names, seconds, previous) -> dict:
    """The log row of iteration ``it`` (its terms, constraints, multipliers, gradient norm, and what
    the verdict reads: the projected-gradient norm, the objective's change from ``previous`` (the
    last row's objective, None first) and the parameters at a bound)."""
    norm, at_bound = projected_gradient(now.bound_fraction(x), grad)
    row = {"iteration": it, "objective": float(value), **_to_float(t), **design_constraints(now, x),
           "gradient_norm": float(jnp.linalg.norm(grad)), "projected_gradient_norm": norm,
           "relative_change": relative_change(float(value), previous), "active_bounds": now.bound_names(at_bound),
           "step_s": seconds}
    row.update(now.log_entries())
    row["surrogate"] = int(warm)  # 1: the terms and objective are the steady surrogate's
    for name in names:  # each constraint (feasible where <= 0) and the multiplier it was weighed with
        row[f"g_{name}"] = float(g[name])
        row[f"lambda_{name}"] = float(multipliers[name])
    return row


def _iteration_rows(it, value, t, g, grad, now, x, warm, multipliers, names, seconds, rows, starts) -> list[dict]:
    """The log rows of iteration ``it``: one (:func:`_row`), or one per start (``start`` its index,
    each start's relative change from its own last row)."""
    if starts == 1:
        return [_row(it, value, t, g, grad, now, x, warm, multipliers, names, seconds,
                     rows[-1]["objective"] if rows else None)]
    out = []
    for m in range(starts):
        mine = _start_rows(rows, m)
        row = _row(it, value[m], member(t, m), member(g, m), grad[m], now, x[m], warm, member(multipliers, m), names,
                   seconds, mine[-1]["objective"] if mine else None)
        out.append({"iteration": it, "start": m, **row})
    return out


def _start_rows(rows: list[dict], index: int) -> list[dict]:
    """The log rows of start ``index`` (every row when the study has one start)."""
    return [r for r in rows if r.get("start", 0) == index]


def _logged_rows(out: Path) -> list[dict]:
    """The rows of ``log.jsonl`` (none for a fresh study)."""
    path = out / "log.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _final_record(study: Study, last: dict, terms, param, x, reference, multipliers, names, final=None) -> dict:
    """The design record (``design.json``) of the final design ``x``, before verification
    (``last``: its start's last log row; ``final``: its terms when already computed)."""
    weights = study.weights
    final = eqx.filter_jit(terms)(param, x) if final is None else final
    record = {"parameterisation": study.design.parameterisation, "iterations": study.optimizer.iterations,
              "start": _to_float(reference), "final": _to_float(final),
              "objective_start": float(weighted_objective(reference, weights, reference)),
              "objective_final": float(weighted_objective(final, weights, reference)), "x": np.asarray(x).tolist()}
    if names:  # the last iteration's constraints (g <= 0: feasible) and the multipliers reached
        record["constraints"] = {name: {"bound": study.constraints[name], "g": last[f"g_{name}"],
                                        "multiplier": float(multipliers[name])} for name in names}
    record.update(param.summary(x, design_constraints(param, x)))
    return record


def run_study(study: Study, out, *, resume: bool = False, progress=None, verify: bool = True) -> dict:
    """Optimise ``study`` into ``out``; returns the final design record (``design.json``). With
    ``verify`` the start and the final design are re-simulated by the run pipeline
    (:func:`verify_design`). With ``[optimizer] starts = N`` the N starts run together and the
    best is kept (:mod:`inverse.starts`; ``design.json``'s ``starts`` says how the others ended)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    param = parameterisation(study)
    terms = design_terms(study, param.base)
    surrogate = surrogate_terms(study, param.base)
    opt = optimizer(study)
    names = constraint_names(study.constraints)
    x, opt_state, start, reference, multipliers = _begin(study, out, param, terms, surrogate, opt, resume)
    value_and_grad, surrogate_value_and_grad = _gradients(study, terms, surrogate, reference, names)
    mu = study.constraints.get("penalty", 0.0)

    starts = study.optimizer.starts
    update = design_update(opt, starts)
    iterations, stop = study.optimizer.iterations, study.optimizer.stop
    rows = _logged_rows(out)  # a resumed study's verdict reads the rows before the checkpoint too
    started = time.perf_counter()
    for it in range(start, iterations):
        t0 = time.perf_counter()
        now = at_iteration(study, param, it)
        warm = warming_up(study, it)
        (value, (t, g)), grad = (surrogate_value_and_grad if warm else value_and_grad)(x, now, multipliers)
        # an unfinished transient first: its terms can be 0/0 (nothing plated), and its cause is the message
        _check_transient(study, it, t, warm)
        if not bool(jnp.all(jnp.isfinite(value))) or not bool(jnp.all(jnp.isfinite(grad))):
            raise InputError(f"design iteration {it}: the objective or its gradient is not finite; lower "
                             f"[optimizer] learning_rate or check the study")
        x_next, opt_state = update(x, grad, opt_state, now)
        new = _iteration_rows(it, value, t, g, grad, now, x, warm, multipliers, names, time.perf_counter() - t0, rows,
                              starts)
        multipliers = updated_multipliers(g, multipliers, mu) if names else multipliers
        for row in new:
            _append_log(out, row)
        rows.extend(new)
        x = x_next
        leader = min(new, key=lambda r: r["objective"])  # the design frames follow the best start
        _snapshot(out, at_iteration(study, param, it + 1), x if starts == 1 else x[leader.get("start", 0)], it + 1)
        _save(out / "checkpoint.npz", x, opt_state, it + 1, reference, multipliers, _beta_growth(study))
        if progress is not None:
            elapsed = time.perf_counter() - started
            progress(it + 1, iterations, leader, elapsed / (it + 1 - start) * (iterations - it - 1))
        if stop.early and all(study_verdict(_start_rows(rows, m), stop)["verdict"] == "converged"
                              for m in range(starts)):
            iterations = it + 1  # the design after this update is the study's final one
            break
    param = at_iteration(study, param, iterations)
    x, multipliers, kept, spread, final = _keep_best(study, terms, param, x, reference, multipliers, names, rows)
    mine = _start_rows(rows, kept)
    record = _final_record(study, mine[-1], terms, param, x, reference, multipliers, names, final)
    record["iterations"] = len(mine)
    record["verdict"] = study_verdict(mine, stop)
    if spread is not None:
        record["starts"] = spread
    if verify:
        record["verification"] = verify_design(study, param, param.initial(), x, out)
        param.add_verification(record)
    (out / "design.json").write_text(json.dumps(record, indent=1))
    return record


def _keep_best(study: Study, terms, param, x, reference, multipliers, names, rows):
    """``(x, multipliers, index, spread, terms)`` of the start kept: the one whose final design has
    the lowest constrained objective (the objective plus its constraints' augmented-Lagrangian
    terms), with ``spread`` the ``starts`` record (:func:`inverse.starts.spread_summary`) and its
    final design's terms; the design itself, ``None`` and ``None`` for a study of one start."""
    starts = study.optimizer.starts
    if starts == 1:
        return x, multipliers, 0, None, None
    finals = one_by_one(eqx.filter_jit(terms), starts, (None, 0))(param, x)
    mu = study.constraints.get("penalty", 0.0)
    values = []
    for m in range(starts):
        t, lam = member(finals, m), member(multipliers, m)
        value = weighted_objective(t, study.weights, reference)
        if names:
            value = value + penalty_terms(constraint_values(study.constraints, t, reference, slab_porosity(param, x[m])),
                                          lam, mu)
        values.append(float(value))
    kept = best_start(values)
    verdicts = [study_verdict(_start_rows(rows, m), study.optimizer.stop)["verdict"] for m in range(starts)]
    spread = spread_summary(values, verdicts, spread_starts(param, starts), x, kept)
    return x[kept], member(multipliers, kept), kept, spread, member(finals, kept)


VERIFIED = ("top_growth_fraction", "envelope_growth_um", "relative_volume_change", "flux_cv", "flux_cv_mean", "hotspot_ratio",
            "sei_loss_mAh_cm2", "final_voltage_V", "mean_plating_voltage_V", "plated_mAh_cm2", "dead_li_fraction",
            "message")


def verify_design(study: Study, param, x_start, x_final, out: Path) -> dict:
    """Re-simulate the start and the final design with the ordinary run pipeline
    (:func:`hostsim.run.pipeline.run_hosts`, the study's case and its time tolerance, no cap on the
    steps) into ``out/verification``; the final host is also saved as
    ``final_host.vti``. Returns the summaries' headline numbers (units in the keys): the report's
    claims come from here, not from the optimiser's model."""
    import geometries as geo
    from hostsim.run.pipeline import prepare_output, run_hosts

    base = param.base
    hosts, crisp = [], {}
    for name, x in (("start", x_start), ("final", x_final)):
        s, k, l, theta, *excluded = design_fields(param, x)
        s, measured = param.as_built(s, k)  # a free-form design made crisp, as it would be built
        if measured:
            crisp[name] = measured
        hosts.append((name, geo.HostFields(s, k, l, theta, base.grid, base.collector_layers, base.host_top,
                                           f"design {name}", li_excluded=excluded[0] if excluded else None)))
    geo.save_host_vti(out / "final_host.vti", hosts[1][1], metadata={"study": study.source})
    folder = prepare_output(out / "verification")
    # each design plates with its own kinetics (a designed coating's films)
    cases = {name: dataclasses.replace(study.case, kinetics=param.kinetics(x, study.case.kinetics))
             for name, x in (("start", x_start), ("final", x_final))}
    summaries = run_hosts(folder, hosts, study.case, max_frames=2, cases=cases)
    result = {name: {key: summaries[name][key] for key in VERIFIED} for name, _ in hosts}
    if crisp:
        result["crisp"] = {"crisp_" + name: values for name, values in crisp.items()}
    return result


__all__ = ["TERMS", "at_iteration", "beta_at_iteration", "design_constraints", "design_fields", "design_terms", "learning_rate", "optimizer", "parameterisation", "run_study", "verify_design"]
