"""Domain-adversarial pieces (DANN, Ganin et al. 2016): a gradient reversal layer, the
coefficient schedule, and a domain discriminator over features."""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
from torch import nn

from components.adaptation.alignment import train_aligned
from components.adaptation.spec import AdaptData, AdaptSpec
from components.models.loop import Step
from components.models.training import Inputs, take, to_tensors


class _ReverseGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, coeff: float) -> torch.Tensor:
        ctx.coeff = coeff
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return -ctx.coeff * grad, None


def reverse_gradient(x: torch.Tensor, coeff: float = 1.0) -> torch.Tensor:
    """Identity on the forward pass; multiplies the gradient by -coeff on the way back."""
    return _ReverseGradient.apply(x, coeff)


def dann_coefficient(progress: float, gamma: float = 10.0) -> float:
    """The DANN schedule 2 / (1 + exp(-gamma p)) - 1: 0 at the start, towards 1 at the end."""
    return 2.0 / (1.0 + math.exp(-gamma * progress)) - 1.0


class DomainDiscriminator(nn.Module):
    """A two-hidden-layer MLP returning the logit of "this feature row is from the target"."""

    def __init__(self, in_features: int, hidden: int = 256):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(in_features, hidden),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(hidden, 1),
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features).squeeze(1)


def domain_loss(
    discriminator: nn.Module, source: torch.Tensor, target: torch.Tensor, coeff: float
) -> torch.Tensor:
    """BCE of the discriminator on reversed source (label 0) and target (label 1) features."""
    logits = discriminator(reverse_gradient(torch.cat([source, target]), coeff))
    labels = torch.cat([torch.zeros(len(source)), torch.ones(len(target))]).to(logits.device)
    return nn.functional.binary_cross_entropy_with_logits(logits, labels)


def dann(source: nn.Module, data: AdaptData, spec: AdaptSpec, seed: int, device):
    """DANN: labelled loss plus a domain discriminator trained through a gradient reversal
    layer whose coefficient rises from 0 to `align_weight` on the DANN schedule."""
    model = copy.deepcopy(source)
    width = feature_width(model, data.target_inputs(), device)
    torch.manual_seed(seed)
    discriminator = DomainDiscriminator(width, spec.discriminator_hidden)

    def extra(step: Step) -> dict[str, torch.Tensor]:
        coeff = spec.align_weight * dann_coefficient(step.progress)
        return {"domain": domain_loss(discriminator, step.features, step.aux_features, coeff)}

    history = train_aligned(model, data, spec, seed, device, extra, modules=(discriminator,))
    return model, history


@torch.no_grad()
def feature_width(model: nn.Module, x: Inputs, device: torch.device) -> int:
    """The size of `model.features` for these inputs (one row is run through the model)."""
    model.to(device).eval()
    return model.features(*to_tensors(take(x, np.arange(1)), device)).shape[1]
