"""Seeded mini-batch training and batched inference for the tabular models."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict
from torch import nn

from components.data.preprocess import Encoded


class TrainSpec(BaseModel):
    """Optimiser settings for one training stage."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    epochs: int = 10
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-4


@dataclass(frozen=True)
class Labelled:
    """Encoded rows with labels in {0, 1} and a weight per row."""

    x: Encoded
    y: np.ndarray
    weight: np.ndarray

    @classmethod
    def of(cls, x: Encoded, y: np.ndarray, balance: bool = False) -> "Labelled":
        """Rows with unit weights, or with class-balanced weights (each class sums to n/2) so
        that a domain's base rate does not have to be explained by its features."""
        y = y.astype(np.float32)
        weight = np.ones(len(y), dtype=np.float32)
        n_pos = float(y.sum())
        if balance and 0 < n_pos < len(y):
            weight = np.where(y == 1, len(y) / (2 * n_pos), len(y) / (2 * (len(y) - n_pos)))
        return cls(x, y, weight.astype(np.float32))

    @staticmethod
    def concat(parts: list["Labelled"]) -> "Labelled":
        return Labelled(
            Encoded.concat([p.x for p in parts]),
            np.concatenate([p.y for p in parts]),
            np.concatenate([p.weight for p in parts]),
        )


Penalty = Callable[[nn.Module], torch.Tensor]


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch; return a torch generator for data order."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def resolve_device(name: str = "auto") -> torch.device:
    """`auto` picks cuda when available, else cpu."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def _tensors(x: Encoded, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.from_numpy(x.cat).to(device), torch.from_numpy(x.num).to(device)


def fit(
    model: nn.Module,
    data: Labelled,
    spec: TrainSpec,
    *,
    seed: int = 0,
    penalty: Penalty | None = None,
    device: torch.device | None = None,
) -> list[dict[str, float]]:
    """Train `model` in place with weighted BCE (+ optional penalty); return per-epoch losses."""
    device = device or resolve_device()
    generator = seed_everything(seed)
    model.to(device).train()
    cat, num = _tensors(data.x, device)
    y = torch.from_numpy(data.y).to(device)
    w = torch.from_numpy(data.weight).to(device)
    optimiser = torch.optim.AdamW(model.parameters(), lr=spec.lr, weight_decay=spec.weight_decay)
    history = []
    for epoch in range(spec.epochs):
        order = torch.randperm(len(y), generator=generator).to(device)
        total, total_penalty, batches = 0.0, 0.0, 0
        for start in range(0, len(y), spec.batch_size):
            idx = order[start : start + spec.batch_size]
            logits = model(cat[idx], num[idx])
            losses = nn.functional.binary_cross_entropy_with_logits(logits, y[idx], reduction="none")
            loss = (losses * w[idx]).sum() / w[idx].sum()
            extra = penalty(model) if penalty is not None else torch.zeros((), device=device)
            optimiser.zero_grad(set_to_none=True)
            (loss + extra).backward()
            optimiser.step()
            total, total_penalty, batches = total + loss.item(), total_penalty + extra.item(), batches + 1
        history.append({"epoch": epoch, "loss": total / batches, "penalty": total_penalty / batches})
    model.eval()
    return history


@torch.no_grad()
def predict_proba(model: nn.Module, x: Encoded, batch_size: int = 4096) -> np.ndarray:
    """P(positive) for each row."""
    model.eval()
    device = next(model.parameters()).device
    cat, num = _tensors(x, device)
    out = [torch.sigmoid(model(cat[i : i + batch_size], num[i : i + batch_size])) for i in range(0, len(cat), batch_size)]
    return torch.cat(out).cpu().numpy() if out else np.zeros(0, dtype=np.float32)


@torch.no_grad()
def embed(model: nn.Module, x: Encoded, batch_size: int = 4096) -> np.ndarray:
    """The model's learned features (trunk output) for each row."""
    model.eval()
    device = next(model.parameters()).device
    cat, num = _tensors(x, device)
    out = [model.features(cat[i : i + batch_size], num[i : i + batch_size]) for i in range(0, len(cat), batch_size)]
    return torch.cat(out).cpu().numpy()
