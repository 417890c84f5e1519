"""Kumar et al. (2020)'s small convolutional classifier for gradual domain adaptation:
3 x conv(32 filters, 5x5, stride 2, ReLU) -> dropout -> batchnorm -> linear to class logits."""

from __future__ import annotations

import torch
from torch import nn

from components.models.spec import CNNSpec


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
