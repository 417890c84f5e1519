"""Kumar et al. (2020)'s small convolutional classifier for gradual domain adaptation:
3 x conv(32 filters, 5x5, stride 2, ReLU) -> dropout -> batchnorm -> linear to class logits;
and an ensemble of them that averages their class probabilities."""

from __future__ import annotations

from pathlib import Path

import torch
from pydantic import BaseModel, ConfigDict
from torch import nn

from components.errors import StepstoneError


class CNNSpec(BaseModel):
    """Network shape; `features()` (the flattened conv output) is what selectors see."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    channels: int = 32
    kernel: int = 5
    dropout: float = 0.5


class SmallCNN(nn.Module):
    """k-class classifier over images [n, c, h, w]; returns logits [n, k]."""

    def __init__(
        self, image_shape: tuple[int, int, int], n_classes: int, spec: CNNSpec | None = None
    ):
        super().__init__()
        spec = spec or CNNSpec()
        self.image_shape = tuple(image_shape)
        self.n_classes = n_classes
        self.spec = spec
        layers: list[nn.Module] = []
        channels, (height, width) = image_shape[0], image_shape[1:]
        for _ in range(3):
            layers += [
                nn.Conv2d(channels, spec.channels, spec.kernel, stride=2, padding=spec.kernel // 2),
                nn.ReLU(),
            ]
            channels, height, width = spec.channels, (height + 1) // 2, (width + 1) // 2
        self.trunk = nn.Sequential(*layers, nn.Dropout(spec.dropout), nn.BatchNorm2d(channels))
        self.head = nn.Linear(channels * height * width, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Flattened conv features of each image."""
        return self.trunk(x).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def init_args(self) -> dict:
        """Constructor arguments, so a checkpoint can rebuild the network."""
        return {
            "image_shape": list(self.image_shape),
            "n_classes": self.n_classes,
            "spec": self.spec.model_dump(),
        }

    @classmethod
    def from_init_args(cls, args: dict) -> SmallCNN:
        return cls(tuple(args["image_shape"]), args["n_classes"], CNNSpec(**args["spec"]))


class CNNEnsemble(nn.Module):
    """SmallCNNs of one shape whose class probabilities are averaged. The output is the log of
    the mean probability, so its softmax (as `predict_proba` takes it) is that mean."""

    def __init__(self, members: list[SmallCNN]):
        super().__init__()
        if not members:
            raise StepstoneError("a CNN ensemble needs at least one member network.")
        self.members = nn.ModuleList(members)
        self.image_shape, self.n_classes = members[0].image_shape, members[0].n_classes

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Every member's features, side by side."""
        return torch.cat([m.features(x) for m in self.members], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        probs = torch.stack([m(x).float().softmax(1) for m in self.members]).mean(0)
        return probs.clamp_min(1e-12).log()


def _blob(model: SmallCNN) -> dict:
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    return {"init_args": model.init_args(), "state_dict": state}


def _rebuild(blob: dict) -> SmallCNN:
    model = SmallCNN.from_init_args(blob["init_args"])
    model.load_state_dict(blob["state_dict"])
    return model


def save(path: Path, model: SmallCNN | CNNEnsemble) -> Path:
    """Write the network's shape and weights (plain types and tensors only); an ensemble
    writes each member's."""
    if isinstance(model, CNNEnsemble):
        torch.save({"members": [_blob(m) for m in model.members]}, path)
    else:
        torch.save(_blob(model), path)
    return path


def load(path: Path | str) -> SmallCNN | CNNEnsemble:
    """Rebuild the network (or ensemble) from `save`'s file (on CPU, in eval mode)."""
    blob = torch.load(path, map_location="cpu", weights_only=True)
    if "members" in blob:
        return CNNEnsemble([_rebuild(b) for b in blob["members"]]).eval()
    return _rebuild(blob).eval()
