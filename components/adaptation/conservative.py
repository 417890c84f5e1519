"""Methods that stay close to the source model: fine-tuning, layer transfer, L2-SP and
output distillation (LwF). All train on labelled target rows plus the selected pool."""

from __future__ import annotations

import copy

import torch
from torch import nn

from components.adaptation.spec import AdaptData, AdaptSpec, labelled_target
from components.errors import StepstoneError
from components.models.loop import Step, fit, head_logits, train_joint, unlabelled
from components.models.training import Penalty


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


def train_on_target(
    model: nn.Module,
    data: AdaptData,
    spec: AdaptSpec,
    seed: int,
    device,
    penalty: Penalty | None = None,
) -> list[dict[str, float]]:
    """Train `model` in place on the labelled target rows plus the selected pool."""
    return fit(
        model,
        labelled_target(data, spec),
        spec.train,
        penalty=penalty,
        iterations=spec.iterations,
        seed=seed,
        device=device,
        desc="adapt",
    )


def finetune(source: nn.Module, data: AdaptData, spec: AdaptSpec, seed: int, device):
    """All layers trained from the source weights."""
    model = copy.deepcopy(source)
    return model, train_on_target(model, data, spec, seed, device)


def l2sp(source: nn.Module, data: AdaptData, spec: AdaptSpec, seed: int, device):
    """Fine-tuning with the L2-SP penalty toward the source weights."""
    model = copy.deepcopy(source)
    penalty = l2sp_penalty(source, spec.alpha, spec.beta)
    return model, train_on_target(model, data, spec, seed, device, penalty)


def layers(model: nn.Module) -> list[nn.Module]:
    """The network's layers in forward order: each parameterised entry of a top-level
    Sequential, and every other parameterised top-level child as one layer."""
    found: list[nn.Module] = []
    for child in model.children():
        parts = list(child.children()) if isinstance(child, nn.Sequential) else [child]
        found += [p for p in parts if any(True for _ in p.parameters())]
    return found


def layer_transfer(source: nn.Module, data: AdaptData, spec: AdaptSpec, seed: int, device):
    """Copy the source network, freeze its first `freeze_layers` layers, train the rest."""
    model = copy.deepcopy(source)
    found = layers(model)
    if spec.freeze_layers >= len(found):
        raise StepstoneError(
            f"adaptation.freeze_layers={spec.freeze_layers} would freeze all {len(found)} layers "
            f"of the model; use at most {len(found) - 1}."
        )
    for layer in found[: spec.freeze_layers]:
        layer.requires_grad_(False)
    history = train_on_target(model, data, spec, seed, device)
    model.requires_grad_(True)
    return model, history


def distillation(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    """Hinton's soft-target loss at `temperature` (times T^2): BCE for [n] logits, KL for [n, k]."""
    t = temperature
    if student.ndim == 1:
        return (
            nn.functional.binary_cross_entropy_with_logits(student / t, torch.sigmoid(teacher / t))
            * t
            * t
        )
    return (
        nn.functional.kl_div(
            nn.functional.log_softmax(student / t, dim=1),
            nn.functional.log_softmax(teacher / t, dim=1),
            log_target=True,
            reduction="batchmean",
        )
        * t
        * t
    )


def lwf(source: nn.Module, data: AdaptData, spec: AdaptSpec, seed: int, device):
    """Learning without forgetting: labelled target loss plus distillation toward the source
    model's outputs on target inputs (labelled and unlabelled)."""
    model, teacher = copy.deepcopy(source), copy.deepcopy(source).to(device).eval()
    teacher.requires_grad_(False)

    def extra(step: Step) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            soft = teacher(*step.aux_inputs)
        student = head_logits(model.head, step.aux_features)
        return {"distill": spec.distill_weight * distillation(student, soft, spec.temperature)}

    history = train_joint(
        model,
        labelled_target(data, spec),
        spec.train,
        aux=unlabelled(data.target_inputs()),
        extra=extra,
        iterations=spec.iterations,
        seed=seed,
        device=device,
        desc="adapt",
    )
    return model, history
