"""Device handling: auto/cpu/cuda resolution, bf16 autocast and pinned copies on CUDA only.
There is no GPU here, so only the GPU itself is mocked (torch.cuda availability)."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch
from torch import nn

from components.errors import StepstoneError
from components.models import training
from components.models.loop import fit, train_joint, unlabelled
from components.models.rows import Labelled
from components.models.spec import TrainSpec
from components.models.training import autocast, predict_proba, resolve_device, to_device

CPU = torch.device("cpu")


def test_auto_picks_cuda_when_present_else_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == CPU
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")
    assert resolve_device("cpu") == CPU  # the config override wins


def test_asking_for_cuda_without_a_gpu_says_what_to_set(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(StepstoneError, match="CUDA is not available.*device: auto"):
        resolve_device("cuda")
    with pytest.raises(StepstoneError, match="not a torch device"):
        resolve_device("gpu0")


def test_autocast_is_bf16_on_cuda_and_off_on_cpu(monkeypatch):
    assert isinstance(autocast(CPU), contextlib.nullcontext)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    context = autocast(torch.device("cuda"))
    assert isinstance(context, torch.autocast) and context.fast_dtype == torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert isinstance(autocast(torch.device("cuda")), contextlib.nullcontext)


class FakeCudaTensor:
    """Records how a tensor is moved, standing in for a CPU tensor bound for a GPU."""

    def __init__(self):
        self.calls = []

    def pin_memory(self):
        self.calls.append("pin_memory")
        return self

    def to(self, device, non_blocking=False):
        self.calls.append(("to", str(device), non_blocking))
        return self


def test_copies_to_cuda_are_pinned_and_non_blocking_and_plain_on_cpu():
    fake = FakeCudaTensor()
    to_device(fake, torch.device("cuda"))
    assert fake.calls == ["pin_memory", ("to", "cuda", True)]
    cpu = to_device(torch.ones(3), CPU)
    assert cpu.device == CPU and not cpu.is_pinned()


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.head = nn.Linear(4, 1)

    def features(self, x):
        return x

    def forward(self, x):
        return self.head(self.features(x)).squeeze(1)


def test_same_config_trains_on_cpu_with_a_configurable_batch_size(monkeypatch):
    """`auto` on a machine without CUDA trains on CPU in float32; batch size sets the steps."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4)).astype(np.float32)
    data = Labelled.of(x, (x[:, 0] > 0).astype(np.float32))
    steps = []
    model = Tiny()
    model.head.register_forward_hook(lambda m, i, o: steps.append(o.dtype))
    fit(model, data, TrainSpec(epochs=2, batch_size=50), device=resolve_device("auto"))
    assert len(steps) == 2 * 4 and set(steps) == {torch.float32}
    assert next(model.parameters()).device == CPU
    assert predict_proba(model, x).dtype == np.float32


def test_autocast_path_still_learns(monkeypatch):
    """The training loop under a bf16 autocast (CPU autocast standing in for CUDA's)."""
    monkeypatch.setattr(
        training, "autocast", lambda device: torch.autocast("cpu", dtype=torch.bfloat16)
    )
    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 4)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.float32)
    model = Tiny()
    dtypes = []
    model.head.register_forward_hook(lambda m, i, o: dtypes.append(o.dtype))
    fit(model, Labelled.of(x, y), TrainSpec(epochs=30, batch_size=64, lr=0.05), device=CPU)
    assert torch.bfloat16 in dtypes
    p = predict_proba(model, x)
    assert p.dtype == np.float32 and ((p > 0.5) == y).mean() > 0.9


def test_adaptation_terms_are_float32_under_autocast(monkeypatch):
    """Forward passes of the joint loop run under autocast; losses and extra terms see float32."""
    monkeypatch.setattr(
        training, "autocast", lambda device: torch.autocast("cpu", dtype=torch.bfloat16)
    )
    rng = np.random.default_rng(2)
    x, aux = (
        rng.normal(size=(64, 4)).astype(np.float32),
        rng.normal(size=(64, 4)).astype(np.float32),
    )
    model, head_dtypes, seen = Tiny(), [], []
    model.head.register_forward_hook(lambda m, i, o: head_dtypes.append(o.dtype))

    def extra(step):
        seen.append((step.logits.dtype, step.aux_features.dtype))
        return {"align": (step.features.mean() - step.aux_features.mean()) ** 2}

    history = train_joint(
        model,
        Labelled.of(x, (x[:, 0] > 0).astype(np.float32)),
        TrainSpec(batch_size=16),
        aux=unlabelled(aux),
        extra=extra,
        iterations=5,
        device=CPU,
    )
    assert head_dtypes == [torch.bfloat16] * 5
    assert set(seen) == {(torch.float32, torch.float32)}
    assert set(history[-1]) == {"epoch", "loss", "align"}
