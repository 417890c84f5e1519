"""LeNet for 28x28 one-channel digits (the Transfer-Learning-Library variant): two conv
blocks and a 500-unit bottleneck as `features`, a linear `head` over k classes."""

from __future__ import annotations

import torch
from torch import nn


class LeNet(nn.Module):
    """conv(20, 5) -> pool -> ReLU -> conv(50, 5) -> dropout -> pool -> ReLU -> fc(500) -> ReLU."""

    def __init__(self, n_classes: int = 10, bottleneck: int = 500, dropout: float = 0.5):
        super().__init__()
        self.n_classes, self.bottleneck_dim, self.dropout = n_classes, bottleneck, dropout
        self.trunk = nn.Sequential(
            nn.Conv2d(1, 20, kernel_size=5),
            nn.MaxPool2d(2),
            nn.ReLU(),
            nn.Conv2d(20, 50, kernel_size=5),
            nn.Dropout2d(dropout),
            nn.MaxPool2d(2),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(50 * 4 * 4, bottleneck),
            nn.ReLU(),
        )
        self.head = nn.Linear(bottleneck, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The 500-unit representation adaptation methods align."""
        return self.trunk(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def init_args(self) -> dict:
        """Constructor arguments, so a checkpoint can rebuild the network."""
        return {
            "n_classes": self.n_classes,
            "bottleneck": self.bottleneck_dim,
            "dropout": self.dropout,
        }

    @classmethod
    def from_init_args(cls, args: dict) -> LeNet:
        return cls(**args)
