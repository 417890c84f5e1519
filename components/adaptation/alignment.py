"""Discrepancy-based adaptation: multi-kernel MMD (DAN) and Deep CORAL, losses and methods."""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn

from components.adaptation.spec import AdaptData, AdaptSpec, labelled_all
from components.models.loop import Step, head_logits, train_joint, unlabelled

# DAN's kernel family: Gaussian bandwidths at 2^-3 .. 2^1 times the mean squared distance.
DEFAULT_BANDWIDTHS: tuple[float, ...] = (0.125, 0.25, 0.5, 1.0, 2.0)


def mk_mmd(
    source: torch.Tensor, target: torch.Tensor, bandwidths: Sequence[float] = DEFAULT_BANDWIDTHS
) -> torch.Tensor:
    """Squared multi-kernel MMD (biased V-statistic) between two samples [n, d] and [m, d].

    The kernel is the mean of Gaussians exp(-||a - b||^2 / (s * mean squared distance)) over
    the bandwidth multipliers `s`; the estimate is 0 for identical samples."""
    joint = torch.cat([source, target]).flatten(1)
    sq = torch.cdist(joint, joint).pow(2)
    scale = sq.detach().mean().clamp_min(1e-8)
    kernel = sum(torch.exp(-sq / (scale * s)) for s in bandwidths) / len(bandwidths)
    n = len(source)
    k_ss, k_tt, k_st = kernel[:n, :n], kernel[n:, n:], kernel[:n, n:]
    return (k_ss.mean() + k_tt.mean() - 2 * k_st.mean()).clamp_min(0.0)


def covariance(x: torch.Tensor) -> torch.Tensor:
    """Unbiased sample covariance [d, d] of rows [n, d]."""
    centred = x - x.mean(dim=0, keepdim=True)
    return centred.T @ centred / max(len(x) - 1, 1)


def coral(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Deep CORAL (Sun & Saenko 2016): ||C_source - C_target||_F^2 / (4 d^2)."""
    d = source.shape[1]
    return (covariance(source) - covariance(target)).pow(2).sum() / (4 * d * d)


def _layer(step_features: torch.Tensor, logits: torch.Tensor, name: str) -> torch.Tensor:
    """A named layer's activations as [n, d] rows."""
    return step_features if name == "features" else logits.reshape(len(logits), -1)


def mmd(source: nn.Module, data: AdaptData, spec: AdaptSpec, seed: int, device):
    """DAN (Long et al. 2015): labelled loss plus multi-kernel MMD between labelled-side and
    target features at each of `align_layers`."""
    model = copy.deepcopy(source)

    def extra(step: Step) -> dict[str, torch.Tensor]:
        target_logits = head_logits(model.head, step.aux_features)
        total = sum(
            mk_mmd(
                _layer(step.features, step.logits, name),
                _layer(step.aux_features, target_logits, name),
            )
            for name in spec.align_layers
        )
        return {"mmd": spec.align_weight * total}

    return model, train_aligned(model, data, spec, seed, device, extra)


def coral_adapter(source: nn.Module, data: AdaptData, spec: AdaptSpec, seed: int, device):
    """Deep CORAL: labelled loss plus the CORAL distance between feature covariances."""
    model = copy.deepcopy(source)

    def extra(step: Step) -> dict[str, torch.Tensor]:
        return {"coral": spec.align_weight * coral(step.features, step.aux_features)}

    return model, train_aligned(model, data, spec, seed, device, extra)


def train_aligned(model, data: AdaptData, spec: AdaptSpec, seed: int, device, extra, modules=()):
    """Train on every labelled row (source, pool, target) with `extra` against target inputs."""
    return train_joint(
        model,
        labelled_all(data, spec),
        spec.train,
        aux=unlabelled(data.target_inputs()),
        extra=extra,
        modules=modules,
        iterations=spec.iterations,
        seed=seed,
        device=device,
        desc="adapt",
    )
