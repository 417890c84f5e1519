"""Gradual self-training (Kumar, Ma and Liang 2020) along an ordered path of unlabelled
chunks, and IDOL-style progressive ordering (Chen and Chao 2021) that re-scores the rest
of the pool with a domain discriminator after each step.

At each step the current model (teacher) pseudo-labels the next chunk, the least confident
`drop_fraction` of it is dropped, and a copy of the teacher (student) is trained on the
rest, plus the labelled target rows when there are any. The last step is the target's own
unlabelled data. With `neighbours` k > 1 a row's label comes from the mean probability of
its k nearest rows in the teacher's features (soft k-NN voting, as AdaContrast: Chen et al.,
CVPR 2022), so one mislabelled image is outvoted by the similar images around it.
`jittered_paths` walks several cuts of one order side by side, each step's pseudo-labels
coming from all the current teachers' mean.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import numpy as np
import torch
from sklearn.neighbors import NearestNeighbors
from torch import nn

from components.adaptation.spec import GradualSpec, mix
from components.errors import StepstoneError
from components.models.loop import fit
from components.models.rows import Inputs, Labelled, take
from components.models.training import embed, predict_proba
from components.progress import Progress
from components.selection import Selection, SelectionSpec, domain_scores
from components.selection.base import jitter_chunks

StepHook = Callable[[int, nn.Module], dict[str, float]]
Scorer = Callable[[np.ndarray, np.ndarray, np.ndarray, int], np.ndarray]


def neighbour_vote(model: nn.Module, x: Inputs, neighbours: int) -> np.ndarray:
    """The model's class probabilities on `x`, each row's averaged over its `neighbours`
    nearest rows of `x` (itself included) by cosine distance of the model's features."""
    p = predict_proba(model, x)
    k = min(neighbours, len(p))
    if k <= 1:
        return p
    e = embed(model, x)
    nearest = NearestNeighbors(n_neighbors=k, metric="cosine").fit(e).kneighbors(e)[1]
    return p[nearest].mean(1)


def pseudo_label(
    teachers: nn.Module | Sequence[nn.Module],
    x: Inputs,
    drop_fraction: float,
    neighbours: int = 0,
) -> Labelled:
    """Hard labels on `x` from the teacher's probabilities (the mean of several teachers'),
    each voted over its `neighbours` nearest rows, keeping the (1 - drop_fraction) most
    confident rows."""
    models = [teachers] if isinstance(teachers, nn.Module) else teachers
    p = np.mean([neighbour_vote(m, x, neighbours) for m in models], axis=0)
    if p.ndim == 1:
        labels, confidence = (p > 0.5).astype(np.float32), np.maximum(p, 1 - p)
    else:
        labels, confidence = p.argmax(1).astype(np.int64), p.max(1)
    n_keep = max(1, int(np.ceil(len(confidence) * (1 - drop_fraction))))
    kept = np.sort(np.argsort(-confidence, kind="stable")[:n_keep])
    return Labelled.of(take(x, kept), labels[kept])


def with_target(step: Labelled, target: Labelled | None, target_weight: float) -> Labelled:
    """Add labelled target rows so they make up `target_weight` of the loss."""
    if target is None or len(target) == 0 or target_weight <= 0:
        return step
    return mix([(step, 1 - target_weight), (target, target_weight)])


def check_steps(steps: list, spec: GradualSpec) -> None:
    """Fail before training on an empty path, an empty step or a bad confidence cut."""
    if not steps:
        raise StepstoneError("gradual adaptation needs at least one step of unlabelled data.")
    if any(len(s) == 0 for s in steps):
        raise StepstoneError("a gradual step is empty; lower selection.chunks or add pool rows.")


def self_train_step(
    teacher: nn.Module,
    step: Inputs | Labelled,
    spec: GradualSpec,
    seed: int,
    target: Labelled | None = None,
    device: torch.device | None = None,
) -> tuple[nn.Module, dict[str, float]]:
    """One teacher -> student step on a chunk (pseudo-labelled unless it is `Labelled`)."""
    data = (
        step
        if isinstance(step, Labelled)
        else pseudo_label(teacher, step, spec.drop_fraction, spec.neighbours)
    )
    student = copy.deepcopy(teacher)
    mixed = with_target(data, target, spec.target_weight)
    history = fit(student, mixed, spec.train, seed=seed, device=device, desc="self-train")
    return student, {"rows": float(len(data)), "loss": history[-1]["loss"]}


def gradual_self_train(
    model: nn.Module,
    steps: list[Inputs | Labelled],
    spec: GradualSpec,
    seed: int = 0,
    target: Labelled | None = None,
    on_step: StepHook | None = None,
    device: torch.device | None = None,
) -> tuple[nn.Module, list[dict[str, float]]]:
    """Self-train through `steps` in order (the last should be the target's unlabelled data);
    return the final model and one history row per step (with `on_step`'s metrics)."""
    check_steps(steps, spec)
    history, progress = [], Progress(len(steps), "gradual", "step")
    for i, step in enumerate(steps):
        model, row = self_train_step(model, step, spec, seed + i, target, device)
        history.append({"step": float(i), **row, **(on_step(i, model) if on_step else {})})
        progress.update(i + 1, rows=int(row["rows"]), loss=row["loss"])
    progress.close()
    return model, history


def chunk_path(selection: Selection, chunks: int, pool_x: Inputs, target_x: Inputs) -> list[Inputs]:
    """The steps of a gradual path: the pool rows of chunk 0, 1, ..., `chunks` - 1 of the
    selection (row ids index `pool_x`), then the target."""
    table = selection.table
    steps = [table.loc[table["chunk"] == c, "row_id"].to_numpy() for c in range(chunks)]
    return [*(take(pool_x, ids) for ids in steps), target_x]


def jittered_paths(
    model: nn.Module,
    selection: Selection,
    selection_spec: SelectionSpec,
    pool_x: Inputs,
    target_x: Inputs,
    draws: int,
    spec: GradualSpec,
    seed: int = 0,
    on_step: StepHook | None = None,
    device: torch.device | None = None,
    target: Labelled | None = None,
) -> list[tuple[nn.Module, list[dict[str, float]]]]:
    """Gradual self-training from `model` along `draws` cuts of the selection's order into
    `selection_spec.chunks` steps (row ids index `pool_x`), each ending on the target, walked
    side by side: at every step each draw's chunk is pseudo-labelled by the mean of all the
    draws' current models, and each draw's student starts from its own teacher. Draw d is cut
    by `jitter_chunks` with seed `seed + d`, so draw 0 is `select()`'s own cut, and one draw
    is plain gradual self-training along it. Labelled `target` rows join every step's loss
    (`spec.target_weight`). Returns each draw's (model, history); `on_step` follows draw 0."""
    cuts = [
        chunk_path(
            jitter_chunks(selection, selection_spec, seed + draw),
            selection_spec.chunks,
            pool_x,
            target_x,
        )
        for draw in range(draws)
    ]
    for steps in cuts:
        check_steps(steps, spec)
    models, histories = [model] * draws, [[] for _ in range(draws)]
    progress = Progress(len(cuts[0]), "gradual", "step")
    for i in range(len(cuts[0])):
        teachers = list(models)
        for draw, steps in enumerate(cuts):
            data = pseudo_label(teachers, steps[i], spec.drop_fraction, spec.neighbours)
            models[draw], row = self_train_step(
                teachers[draw], data, spec, seed + i, target, device
            )
            histories[draw].append({"step": float(i), **row})
        if on_step:
            histories[0][-1].update(on_step(i, models[0]))
        progress.update(i + 1, loss=float(np.mean([h[-1]["loss"] for h in histories])))
    progress.close()
    return list(zip(models, histories, strict=True))


def progressive_self_train(
    model: nn.Module,
    source: Inputs,
    pool: Inputs,
    target_x: Inputs,
    n_steps: int,
    spec: GradualSpec,
    seed: int = 0,
    target: Labelled | None = None,
    on_step: StepHook | None = None,
    device: torch.device | None = None,
    sample: int = 2000,
    scorer: Scorer = domain_scores,
) -> tuple[nn.Module, list[dict[str, float]]]:
    """Gradual self-training whose next chunk is, at every step, the most source-like part
    of the remaining pool under a source-vs-target discriminator on the CURRENT model's
    features (IDOL's progressive refinement); ends on the target. `scorer(source, pool,
    target, seed)` gives p(target)-like pool scores: the logistic discriminator by default."""
    if n_steps < 1 or len(pool) < n_steps:
        raise StepstoneError(f"{len(pool)} pool rows cannot fill {n_steps} progressive steps.")
    rng = np.random.default_rng(seed)
    src = take(source, rng.choice(len(source), min(sample, len(source)), replace=False))
    tgt = take(target_x, rng.choice(len(target_x), min(sample, len(target_x)), replace=False))
    remaining, history = np.arange(len(pool)), []
    progress = Progress(n_steps + 1, "gradual", "step")
    for i in range(n_steps):
        size = int(np.ceil(len(remaining) / (n_steps - i)))
        scores = scorer(
            embed(model, src), embed(model, take(pool, remaining)), embed(model, tgt), seed
        )
        chunk = remaining[np.argsort(scores, kind="stable")[:size]]
        remaining = np.setdiff1d(remaining, chunk)
        model, row = self_train_step(model, take(pool, chunk), spec, seed + i, target, device)
        history.append({"step": float(i), **row, **(on_step(i, model) if on_step else {})})
        progress.update(i + 1, rows=int(row["rows"]), loss=row["loss"])
    model, row = self_train_step(model, target_x, spec, seed + n_steps, target, device)
    history.append({"step": float(n_steps), **row, **(on_step(n_steps, model) if on_step else {})})
    progress.update(n_steps + 1, rows=int(row["rows"]), loss=row["loss"])
    progress.close()
    return model, history
