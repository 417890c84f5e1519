"""Target adaptation methods, chosen by name in the scenario YAML.

An adapter starts from a copy of the source model and trains it on the labelled target
rows plus (optionally) labelled rows of the selected intermediate pool.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from components.errors import StepstoneError
from components.models.training import Labelled, Penalty, TrainSpec, fit


class AdaptSpec(BaseModel):
    """Adaptation settings. `target_weight` and `pool_weight` scale each domain's share of
    the loss; `alpha` pulls the trunk toward the source weights (L2-SP), `beta` shrinks the
    head toward zero."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: str = "l2sp"
    alpha: float = 0.01
    beta: float = 0.001
    target_weight: float = 0.5
    pool_weight: float = 0.5
    train: TrainSpec = Field(default_factory=lambda: TrainSpec(epochs=10, lr=5e-4))


def l2sp_penalty(source: nn.Module, alpha: float, beta: float) -> Penalty:
    """L2-SP (Li et al. 2018): alpha/2 ||w - w_source||^2 on shared layers, beta/2 ||w||^2 on the head."""
    anchors = {name: p.detach().clone() for name, p in source.named_parameters()}

    def penalty(model: nn.Module) -> torch.Tensor:
        total_sp = total_head = 0.0
        for name, p in model.named_parameters():
            if name.startswith("head."):
                total_head = total_head + (p**2).sum()
            else:
                total_sp = total_sp + ((p - anchors[name].to(p.device)) ** 2).sum()
        return 0.5 * alpha * total_sp + 0.5 * beta * total_head

    return penalty


def _mix(target: Labelled, pool: Labelled | None, spec: AdaptSpec) -> Labelled:
    """Weight each domain so it contributes its configured share of the loss."""
    parts = [Labelled(target.x, target.y, target.weight * spec.target_weight / target.weight.sum())]
    if pool is not None and len(pool.y):
        parts.append(Labelled(pool.x, pool.y, pool.weight * spec.pool_weight / pool.weight.sum()))
    mixed = Labelled.concat(parts)
    return Labelled(mixed.x, mixed.y, mixed.weight * len(mixed.y) / mixed.weight.sum())


def finetune(
    source: nn.Module,
    target: Labelled,
    pool: Labelled | None,
    spec: AdaptSpec,
    seed: int,
    device: torch.device | None = None,
):
    """All layers trained from the source weights."""
    model = copy.deepcopy(source)
    return model, fit(model, _mix(target, pool, spec), spec.train, seed=seed, device=device)


def l2sp(
    source: nn.Module,
    target: Labelled,
    pool: Labelled | None,
    spec: AdaptSpec,
    seed: int,
    device: torch.device | None = None,
):
    """Fine-tuning with the L2-SP penalty toward the source weights."""
    model = copy.deepcopy(source)
    penalty = l2sp_penalty(source, spec.alpha, spec.beta)
    return model, fit(
        model, _mix(target, pool, spec), spec.train, seed=seed, penalty=penalty, device=device
    )


Adapter = Callable[..., tuple[nn.Module, list]]
ADAPTERS: dict[str, Adapter] = {"finetune": finetune, "l2sp": l2sp}


def adapt(
    source: nn.Module,
    target: Labelled,
    pool: Labelled | None,
    spec: AdaptSpec,
    seed: int = 0,
    device: torch.device | None = None,
):
    """Run the adapter named by `spec.method` on `device` (default: cuda if available);
    return (adapted model, per-epoch history)."""
    if spec.method not in ADAPTERS:
        raise StepstoneError(
            f"unknown adaptation.method {spec.method!r}; valid: {sorted(ADAPTERS)}."
        )
    return ADAPTERS[spec.method](source, target, pool, spec, seed, device)
