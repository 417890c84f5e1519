"""torchvision classification backbones (resnet18 and the like) as stepstone networks:
`features` is the pooled representation, `head` a new linear layer over the scenario's
classes. Weights load from a local file when given; nothing is downloaded."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from components.errors import StepstoneError


def _split(net: nn.Module) -> tuple[nn.Module, int]:
    """Replace the net's final classifier by identity; return (trunk, feature width)."""
    if hasattr(net, "fc") and isinstance(net.fc, nn.Linear):  # resnets, regnets
        width, net.fc = net.fc.in_features, nn.Identity()
        return net, width
    if hasattr(net, "classifier"):  # mobilenets, efficientnets, convnexts
        last = net.classifier[-1]
        width = last.in_features
        net.classifier[-1] = nn.Identity()
        return net, width
    raise StepstoneError(f"{type(net).__name__} has no `fc` or `classifier` layer to replace.")


class TorchvisionNet(nn.Module):
    """A torchvision architecture `arch` (see torchvision.models.list_models()) over RGB images,
    with its classifier replaced by a linear head over `n_classes`."""

    def __init__(self, arch: str, n_classes: int, weights: str | None = None):
        import torchvision  # here, not at the top: it takes seconds to import (startup time)

        super().__init__()
        if arch not in torchvision.models.list_models(module=torchvision.models):
            raise StepstoneError(
                f"model.arch {arch!r} is not a torchvision classification model; use one of "
                "torchvision.models.list_models(), e.g. resnet18."
            )
        net = torchvision.models.get_model(arch, weights=None)
        if weights is not None:
            net.load_state_dict(load_weights(weights))
        self.arch, self.n_classes = arch, n_classes
        self.trunk, width = _split(net)
        self.head = nn.Linear(width, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def init_args(self) -> dict:
        # The trained weights travel in the checkpoint's state dict, not the weights file.
        return {"arch": self.arch, "n_classes": self.n_classes}

    @classmethod
    def from_init_args(cls, args: dict) -> TorchvisionNet:
        return cls(args["arch"], args["n_classes"])


def load_weights(path: str | Path) -> dict:
    """A torchvision state dict saved with torch.save; a missing file names the key to fix."""
    path = Path(path)
    if not path.is_file():
        raise StepstoneError(
            f"backbone weights file {path} not found; set model.weights to a local .pth "
            "state dict (nothing is downloaded), or remove it to start from random weights."
        )
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several kinds for a bad file
        raise StepstoneError(f"cannot read backbone weights {path}: {exc}") from exc
