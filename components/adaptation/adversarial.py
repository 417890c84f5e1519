"""Domain-adversarial adaptation: DANN (Ganin et al. 2016) and CDAN (Long et al. 2018).

The pieces: a gradient reversal layer, the coefficient schedule, a domain discriminator, and
CDAN's multilinear conditioning (the discriminator sees features x class predictions)."""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
from torch import nn

from components.adaptation.alignment import train_aligned
from components.adaptation.spec import AdaptData, AdaptSpec
from components.models.loop import Step, head_logits
from components.models.rows import Inputs, take
from components.models.training import to_tensors


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


def class_probabilities(logits: torch.Tensor) -> torch.Tensor:
    """[n, k] predicted class probabilities, detached: a softmax, or [1 - p, p] for [n] logits."""
    if logits.ndim == 1:
        p = torch.sigmoid(logits)
        return torch.stack([1 - p, p], dim=1).detach()
    return torch.softmax(logits, dim=1).detach()


def multilinear(features: torch.Tensor, probabilities: torch.Tensor) -> torch.Tensor:
    """CDAN's conditioning: each row's flattened outer product probabilities x features."""
    return torch.bmm(probabilities.unsqueeze(2), features.unsqueeze(1)).flatten(1)


def dann(source: nn.Module, data: AdaptData, spec: AdaptSpec, seed: int, device):
    """DANN: labelled loss plus a domain discriminator trained through a gradient reversal
    layer whose coefficient rises from 0 to `align_weight` on the DANN schedule."""
    return _adversarial(source, data, spec, seed, device, conditional=False)


def cdan(source: nn.Module, data: AdaptData, spec: AdaptSpec, seed: int, device):
    """CDAN: DANN whose discriminator sees the multilinear map of features and the model's
    (detached) class probabilities, so it aligns the class-conditional distributions."""
    return _adversarial(source, data, spec, seed, device, conditional=True)


def _adversarial(source, data: AdaptData, spec: AdaptSpec, seed: int, device, conditional: bool):
    model = copy.deepcopy(source)
    width, classes = output_sizes(model, data.target_inputs(), device)
    torch.manual_seed(seed)
    discriminator = DomainDiscriminator(
        width * classes if conditional else width, spec.discriminator_hidden
    )

    def extra(step: Step) -> dict[str, torch.Tensor]:
        coeff = spec.align_weight * dann_coefficient(step.progress)
        source_in, target_in = step.features, step.aux_features
        if conditional:
            aux_logits = head_logits(model.head, step.aux_features)
            source_in = multilinear(source_in, class_probabilities(step.logits))
            target_in = multilinear(target_in, class_probabilities(aux_logits))
        return {"domain": domain_loss(discriminator, source_in, target_in, coeff)}

    history = train_aligned(model, data, spec, seed, device, extra, modules=(discriminator,))
    return model, history


@torch.no_grad()
def output_sizes(model: nn.Module, x: Inputs, device: torch.device) -> tuple[int, int]:
    """(width of `model.features`, number of classes: 2 for one-logit binary models), from
    one row run through the model."""
    model.to(device).eval()
    features = model.features(*to_tensors(take(x, np.arange(1)), device))
    logits = head_logits(model.head, features)
    return features.shape[1], 2 if logits.ndim == 1 else logits.shape[1]
