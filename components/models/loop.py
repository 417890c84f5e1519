"""The one training loop: seeded mini-batches of a row-weighted classification loss on a
labelled stream, plus optional extra terms computed on a second (auxiliary) stream.

`fit` is plain supervised training (source pretraining, fine-tuning, self-training steps),
optionally with a parameter penalty (L2-SP). The adaptation methods call `train_joint` with
their own terms: the auxiliary stream is unlabelled target rows for alignment methods (MMD,
CORAL, DANN, CDAN), target inputs for distillation (LwF) and labelled source rows for multitask
training. Models expose `features(*inputs)` and a `head` module.

On CUDA the forward passes run under bf16 autocast (`training.autocast`); the losses and the
extra terms are computed in float32. On CPU everything is float32.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from components.models import resumable, training
from components.models.rows import Inputs, Labelled
from components.models.spec import TrainSpec
from components.models.training import Penalty, classification_loss
from components.progress import Progress
from components.progress import logger as progress_logger


@dataclass(frozen=True)
class Step:
    """The tensors of one step: labelled batch, auxiliary batch (or None) and progress in [0, 1]."""

    features: torch.Tensor
    logits: torch.Tensor
    aux_inputs: tuple[torch.Tensor, ...] | None
    aux_features: torch.Tensor | None
    aux_y: torch.Tensor | None
    aux_weight: torch.Tensor | None
    progress: float


Extra = Callable[[Step], dict[str, torch.Tensor]]


def head_logits(head: nn.Module, features: torch.Tensor) -> torch.Tensor:
    """Logits as the model returns them: [n] for a one-output head, [n, k] otherwise."""
    out = head(features)
    return out.squeeze(1) if out.ndim == 2 and out.shape[1] == 1 else out


def weighted_loss(logits: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Row-weighted mean classification loss (BCE or CE by the logits' shape)."""
    return (classification_loss(logits, y) * w).sum() / w.sum()


def unlabelled(x: Inputs) -> Labelled:
    """Inputs as a stream with placeholder labels and unit weights."""
    return Labelled(x, np.zeros(len(x), dtype=np.float32), np.ones(len(x), dtype=np.float32))


def total_steps(n_labelled: int, train: TrainSpec, iterations: int) -> tuple[int, int]:
    """(steps in all, steps per logged epoch): `iterations` if set, else `train.epochs` passes."""
    per_epoch = max(1, math.ceil(n_labelled / train.batch_size))
    total = iterations or train.epochs * per_epoch
    return total, min(per_epoch, total)


class _Batches:
    """Endless seeded mini-batches of one stream's tensors (a new order each pass)."""

    def __init__(self, data: Labelled, batch_size: int, generator: torch.Generator, device):
        self.tensors = (
            *training.to_tensors(data.x, device),
            torch.from_numpy(np.asarray(data.y)).to(device),
            torch.from_numpy(np.asarray(data.weight, dtype=np.float32)).to(device),
        )
        self.n, self.batch_size, self.generator = len(data), batch_size, generator
        self.order, self.at = torch.randperm(self.n, generator=generator), 0

    def next(self) -> tuple[torch.Tensor, ...]:
        if self.at >= self.n:
            self.order, self.at = torch.randperm(self.n, generator=self.generator), 0
        idx = self.order[self.at : self.at + self.batch_size].to(self.tensors[0].device)
        self.at += self.batch_size
        return tuple(t[idx] for t in self.tensors)


def train_joint(
    model: nn.Module,
    labelled: Labelled,
    train: TrainSpec,
    *,
    aux: Labelled | None = None,
    extra: Extra | None = None,
    modules: tuple[nn.Module, ...] = (),
    iterations: int = 0,
    seed: int = 0,
    device: torch.device | None = None,
    desc: str = "train",
) -> list[dict[str, float]]:
    """Train `model` (and the extra `modules`, e.g. a discriminator) in place; return one
    history row per epoch with the classification loss and each extra term. Progress (`desc`,
    the running loss) is shown per epoch, or per ~10% of the steps when `iterations` is set."""
    if len(labelled) == 0:
        raise ValueError("training needs at least one labelled row")
    device = device or training.resolve_device()
    generator = training.seed_everything(seed)
    for module in (model, *modules):
        module.to(device).train()
    params = [p for m in (model, *modules) for p in m.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(params, lr=train.lr, weight_decay=train.weight_decay)
    main = _Batches(labelled, train.batch_size, generator, device)
    second = _Batches(aux, train.batch_size, generator, device) if aux is not None else None
    total, per_epoch = total_steps(len(labelled), train, iterations)
    schedule = training.lr_schedule(optimiser, train, total)
    history: list[dict[str, float]] = []
    sums: dict[str, float] = {}
    checkpoint = resumable.claim()
    signature = {"steps": total, "rows": len(labelled), "batch": train.batch_size, "desc": desc}
    trained = [model, *modules]
    start = 0
    saved = resumable.load(checkpoint, signature)
    if saved is not None:  # a killed run's epochs: pick up after the last one written
        for module, weights in zip(trained, saved["modules"], strict=True):
            module.load_state_dict(weights)
        optimiser.load_state_dict(saved["optimiser"])
        schedule.load_state_dict(saved["schedule"])
        generator.set_state(saved["generator"])
        resumable.set_rng_state(saved["rng"])
        for stream, (order, at) in zip((main, second), saved["streams"], strict=True):
            if stream is not None:
                stream.order, stream.at = order.to(stream.order.device), at
        history, start = saved["history"], saved["step"]
        progress_logger.info("%s resumed from its checkpoint at step %d/%d", desc, start, total)
    progress = (
        Progress(total, desc, "step", lines=10) if iterations else Progress(train.epochs, desc)
    )
    for step in range(start, total):
        *inputs, y, w = main.next()
        with training.autocast(device):
            features = model.features(*inputs)
            logits = head_logits(model.head, features)
        features, logits = features.float(), logits.float()
        terms = {"loss": weighted_loss(logits, y, w)}
        if extra is not None:
            aux_inputs = aux_y = aux_w = aux_features = None
            if second is not None:
                *aux_inputs, aux_y, aux_w = second.next()
                with training.autocast(device):
                    aux_features = model.features(*aux_inputs)
                aux_features = aux_features.float()
            batch = Step(
                features,
                logits,
                tuple(aux_inputs) if aux_inputs is not None else None,
                aux_features,
                aux_y,
                aux_w,
                step / max(total - 1, 1),
            )
            terms.update(extra(batch))
        optimiser.zero_grad(set_to_none=True)
        sum(terms.values()).backward()
        optimiser.step()
        schedule.step()
        for name, value in terms.items():
            sums[name] = sums.get(name, 0.0) + value.item()
        count = (step % per_epoch) + 1
        if iterations:
            progress.update(step + 1, loss=sums["loss"] / count)
        if (step + 1) % per_epoch == 0 or step + 1 == total:
            history.append({"epoch": len(history), **{k: v / count for k, v in sums.items()}})
            sums = {}
            if not iterations:
                progress.update(len(history), loss=history[-1]["loss"])
            if checkpoint is not None:
                state = {
                    "signature": signature,
                    "step": step + 1,
                    "history": history,
                    "modules": [m.state_dict() for m in trained],
                    "optimiser": optimiser.state_dict(),
                    "schedule": schedule.state_dict(),
                    "generator": generator.get_state(),
                    "rng": resumable.rng_state(),
                    "streams": [(s.order, s.at) if s else (None, 0) for s in (main, second)],
                }
                resumable.save(checkpoint, state)
    progress.close()
    for module in (model, *modules):
        module.eval()
    return history


def fit(
    model: nn.Module,
    data: Labelled,
    spec: TrainSpec,
    *,
    seed: int = 0,
    penalty: Penalty | None = None,
    iterations: int = 0,
    device: torch.device | None = None,
    desc: str = "train",
) -> list[dict[str, float]]:
    """Train `model` in place on `data` for `spec.epochs` passes (or `iterations` steps), with
    an optional parameter penalty added to the loss; return one history row per epoch
    (`loss`, and `penalty` when there is one). `desc` labels the progress shown."""

    def add_penalty(step: Step) -> dict[str, torch.Tensor]:
        return {"penalty": penalty(model)}

    return train_joint(
        model,
        data,
        spec,
        extra=add_penalty if penalty is not None else None,
        iterations=iterations,
        seed=seed,
        device=device,
        desc=desc,
    )
