"""A tabular MLP: an embedding per categorical column, a ReLU trunk, a logit head."""

from __future__ import annotations

import torch
from torch import nn

from components.models.spec import MLPSpec


class TabularMLP(nn.Module):
    """Binary classifier over (category indices, standardised numbers); returns logits."""

    def __init__(self, cardinalities: list[int], n_numeric: int, spec: MLPSpec | None = None):
        super().__init__()
        spec = spec or MLPSpec()
        self.cardinalities = list(cardinalities)
        self.n_numeric = n_numeric
        self.spec = spec
        self.embeddings = nn.ModuleList(nn.Embedding(n, spec.embedding_dim) for n in cardinalities)
        layers: list[nn.Module] = []
        width = spec.embedding_dim * len(cardinalities) + n_numeric
        for size in spec.hidden:
            layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(spec.dropout)]
            width = size
        self.trunk = nn.Sequential(*layers)
        self.head = nn.Linear(width, 1)

    def features(self, cat: torch.Tensor, num: torch.Tensor) -> torch.Tensor:
        """Trunk output: the learned representation of each row."""
        embedded = [emb(cat[:, j]) for j, emb in enumerate(self.embeddings)]
        return self.trunk(torch.cat([*embedded, num], dim=1))

    def forward(self, cat: torch.Tensor, num: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(cat, num)).squeeze(1)

    def init_args(self) -> dict:
        """Constructor arguments, so a checkpoint can rebuild the network."""
        return {
            "cardinalities": self.cardinalities,
            "n_numeric": self.n_numeric,
            "spec": self.spec.model_dump(),
        }

    @classmethod
    def from_init_args(cls, args: dict) -> TabularMLP:
        return cls(args["cardinalities"], args["n_numeric"], MLPSpec(**args["spec"]))
