"""Networks over text: an MLP over TF-IDF vectors, and a pretrained transformer encoder
(e.g. all-MiniLM-L6-v2) with mean pooling, fine-tuned end to end. Both expose `features`
(what selectors and adaptation methods see) and a linear `head` over k classes."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn


class TextMLP(nn.Module):
    """Dense vectors [n, width] -> ReLU layers with dropout -> logits [n, k]."""

    def __init__(self, width: int, n_classes: int, hidden: list[int], dropout: float = 0.5):
        super().__init__()
        self.width, self.n_classes, self.hidden, self.dropout = width, n_classes, hidden, dropout
        layers: list[nn.Module] = [nn.Dropout(dropout)]
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(dropout)]
            width = size
        self.trunk = nn.Sequential(*layers)
        self.head = nn.Linear(width, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def init_args(self) -> dict:
        return {
            "width": self.width,
            "n_classes": self.n_classes,
            "hidden": list(self.hidden),
            "dropout": self.dropout,
        }

    @classmethod
    def from_init_args(cls, args: dict) -> TextMLP:
        return cls(**args)


class TextTransformer(nn.Module):
    """A Hugging Face encoder over [n, 2, length] int inputs (token ids, attention mask):
    the mean of the unmasked token states (as sentence-transformers pools MiniLM) is
    `features`; dropout and a linear `head` give logits [n, k]."""

    inference_batch = 64  # attention over long sequences: keep forward passes small

    def __init__(self, encoder: nn.Module, n_classes: int, dropout: float = 0.1):
        super().__init__()
        self.encoder, self.n_classes, self.dropout = encoder, n_classes, dropout
        self.head = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(encoder.config.hidden_size, n_classes)
        )

    @classmethod
    def pretrained(cls, folder: Path, n_classes: int, dropout: float) -> TextTransformer:
        """The encoder weights from a local model folder (nothing is downloaded)."""
        from transformers import AutoModel

        return cls(
            AutoModel.from_pretrained(str(folder), local_files_only=True), n_classes, dropout
        )

    def features(self, x: torch.Tensor) -> torch.Tensor:
        ids, mask = x[:, 0], x[:, 1]
        states = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        weights = mask.unsqueeze(-1).to(states.dtype)
        return (states * weights).sum(1) / weights.sum(1).clamp(min=1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def init_args(self) -> dict:
        return {
            "config": json.loads(self.encoder.config.to_json_string()),
            "n_classes": self.n_classes,
            "dropout": self.dropout,
        }

    @classmethod
    def from_init_args(cls, args: dict) -> TextTransformer:
        from transformers import AutoConfig, AutoModel

        config = dict(args["config"])
        config = AutoConfig.for_model(config.pop("model_type"), **config)
        return cls(AutoModel.from_config(config), args["n_classes"], args["dropout"])
