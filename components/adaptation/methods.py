"""Target adaptation methods, chosen by name (`adaptation.method`) in the scenario YAML.

Every adapter starts from a copy of the source model and returns (adapted model, per-epoch
history). What each one needs beyond the labelled target rows is declared in NEEDS and
checked before any training starts.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn

from components.adaptation.adversarial import cdan, dann
from components.adaptation.alignment import coral_adapter, mmd
from components.adaptation.conservative import finetune, l2sp, layer_transfer, lwf
from components.adaptation.multitask import multitask
from components.adaptation.self_training import self_training
from components.adaptation.spec import NEEDS, AdaptData, AdaptSpec
from components.errors import StepstoneError
from components.models import training
from components.models.rows import Inputs, Labelled


def source_only(source: nn.Module, data: AdaptData, spec: AdaptSpec, seed: int, device):
    """The source model unchanged (the reference every method should beat)."""
    return copy.deepcopy(source).to(device), []


Adapter = Callable[[nn.Module, AdaptData, AdaptSpec, int, torch.device], tuple[nn.Module, list]]
ADAPTERS: dict[str, Adapter] = {
    "source_only": source_only,
    "finetune": finetune,
    "layer_transfer": layer_transfer,
    "l2sp": l2sp,
    "lwf": lwf,
    "mmd": mmd,
    "coral": coral_adapter,
    "dann": dann,
    "cdan": cdan,
    "multitask": multitask,
    "self_training": self_training,
}
assert ADAPTERS.keys() == NEEDS.keys(), "every method declares what it needs (spec.NEEDS)"
_MISSING = {
    "target": "labelled target rows (target.labelled > 0)",
    "labelled": "labelled rows: pass source rows, a labelled pool or labelled target rows",
    "unlabelled": "unlabelled target rows (set target.unlabelled > 0 in the scenario YAML)",
    "source": "labelled source rows",
}


def check_inputs(method: str, data: AdaptData) -> None:
    """Raise before training when `method` is unknown or lacks data it needs."""
    if method not in ADAPTERS:
        raise StepstoneError(f"unknown adaptation.method {method!r}; valid: {sorted(ADAPTERS)}.")
    have = {
        "target": len(data.target) > 0,
        "labelled": any(d is not None and len(d) for d in (data.target, data.pool, data.source)),
        "unlabelled": data.unlabelled is not None and len(data.unlabelled) > 0,
        "source": data.source is not None and len(data.source) > 0,
    }
    missing = [_MISSING[need] for need in sorted(NEEDS[method]) if not have[need]]
    if missing:
        raise StepstoneError(
            f"adaptation.method {method!r} needs {'; and '.join(missing)}, but none were given."
        )


def adapt(
    source: nn.Module,
    target: Labelled,
    pool: Labelled | None,
    spec: AdaptSpec,
    seed: int = 0,
    device: torch.device | None = None,
    *,
    unlabelled: Inputs | None = None,
    source_data: Labelled | None = None,
) -> tuple[nn.Module, list[dict[str, float]]]:
    """Run the adapter named by `spec.method` on `device` (default: cuda if available);
    return (adapted model, per-epoch history)."""
    data = AdaptData(target, pool, unlabelled, source_data)
    check_inputs(spec.method, data)
    device = device or training.resolve_device()
    return ADAPTERS[spec.method](source, data, spec, seed, device)
