"""Training settings, data and device helpers, and batched inference, for tabular and image
models (the training loop itself is `components.models.loop`).

Inputs are either `Encoded` tabular rows (the model is called as `model(cat, num)`) or an
array (called as `model(x)`): floats such as images [n, c, h, w] or TF-IDF vectors, or
integer token ids [n, 2, length]. A model returning logits
of shape [n] is a binary classifier (BCE); one returning [n, k] is a k-class one (CE).

On CUDA, inputs are copied from pinned memory without blocking and forward passes run
under bf16 autocast; on CPU the same code runs in float32.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable
from functools import partial

import numpy as np
import torch
from torch import nn

from components.data.preprocess import Encoded
from components.errors import StepstoneError
from components.models.rows import Inputs
from components.models.spec import TrainSpec


def to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Copy a CPU tensor to `device`; to a GPU from pinned memory, without blocking."""
    if device.type != "cuda":
        return tensor.to(device)
    return tensor.pin_memory().to(device, non_blocking=True)


def to_tensors(x: Inputs, device: torch.device) -> tuple[torch.Tensor, ...]:
    """The positional arguments of the model's forward pass."""
    if isinstance(x, Encoded):
        return to_device(torch.from_numpy(x.cat), device), to_device(
            torch.from_numpy(x.num), device
        )
    if x.dtype.kind in "iu":  # token ids and masks stay integers
        return (to_device(torch.as_tensor(x, dtype=torch.int64), device),)
    return (to_device(torch.as_tensor(x, dtype=torch.float32), device),)


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast on a CUDA device that supports it; a no-op elsewhere (float32)."""
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


Penalty = Callable[[nn.Module], torch.Tensor]


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch; return a torch generator for data order."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def resolve_device(name: str = "auto") -> torch.device:
    """`auto` picks cuda when available, else cpu; `cuda`, `cuda:N` and `cpu` are taken as given."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise StepstoneError(
            f"device {name!r} is not a torch device; use auto, cpu, cuda or cuda:N."
        ) from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise StepstoneError(
            f"device {name!r} was asked for but CUDA is not available on this machine; "
            "set device: auto (CUDA when present, else CPU) or device: cpu."
        )
    return device


def classification_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-row loss: BCE for [n] logits, cross-entropy for [n, k]."""
    if logits.ndim == 1:
        return nn.functional.binary_cross_entropy_with_logits(logits, y.float(), reduction="none")
    return nn.functional.cross_entropy(logits, y.long(), reduction="none")


def lr_factor(total: int, spec: TrainSpec, step: int) -> float:
    """The learning-rate factor at `step` of `total`: 1, or (1 + 10 p) ** -0.75 when annealed."""
    if spec.lr_decay == "constant":
        return 1.0
    return (1.0 + 10.0 * step / max(total - 1, 1)) ** -0.75


def lr_schedule(
    optimiser: torch.optim.Optimizer, spec: TrainSpec, total: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """`spec.lr_decay` over `total` optimiser steps; call `.step()` after each optimiser step."""
    return torch.optim.lr_scheduler.LambdaLR(optimiser, partial(lr_factor, total, spec))


@torch.no_grad()
def _batched(
    fn: Callable[..., torch.Tensor], model: nn.Module, x: Inputs, batch_size: int
) -> np.ndarray:
    model.eval()
    batch_size = min(batch_size, getattr(model, "inference_batch", batch_size))
    device = next(model.parameters()).device
    inputs = to_tensors(x, device)
    n = len(inputs[0])
    with autocast(device):
        parts = [fn(*(t[i : i + batch_size] for t in inputs)) for i in range(0, n, batch_size)]
    return torch.cat(parts).float().cpu().numpy()


def predict_proba(model: nn.Module, x: Inputs, batch_size: int = 4096) -> np.ndarray:
    """P(positive) [n] for a binary model, class probabilities [n, k] for a k-class one."""

    def probabilities(*batch: torch.Tensor) -> torch.Tensor:
        logits = model(*batch).float()  # probabilities in float32 even under autocast
        return torch.sigmoid(logits) if logits.ndim == 1 else torch.softmax(logits, dim=1)

    return (
        _batched(probabilities, model, x, batch_size) if len(x) else np.zeros(0, dtype=np.float32)
    )


def embed(model: nn.Module, x: Inputs, batch_size: int = 4096) -> np.ndarray:
    """The model's learned features (`model.features`) for each row."""
    return _batched(model.features, model, x, batch_size)
