"""One checkpoint format for every modality: the network's class, shape and weights and the
fitted input encoder (tabular preprocessing, image decoding, TF-IDF or a tokenizer), in one
torch file of plain types and tensors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from components.data.image_encoding import ImageEncoder
from components.data.preprocess import TabularPreprocessor
from components.data.texts import TfidfEncoder, TokenEncoder
from components.models.backbones import TorchvisionNet
from components.models.cnn import SmallCNN
from components.models.ensemble import Ensemble
from components.models.lenet import LeNet
from components.models.tabular_mlp import TabularMLP
from components.models.text_nets import TextMLP, TextTransformer
from components.models.training import predict_proba

NETWORKS: dict[str, type[nn.Module]] = {
    cls.__name__: cls
    for cls in (TabularMLP, SmallCNN, LeNet, TorchvisionNet, TextMLP, TextTransformer)
}
ENCODERS = {
    "tabular": TabularPreprocessor,
    "image": ImageEncoder,
    "text_tfidf": TfidfEncoder,
    "text_tokens": TokenEncoder,
}
Encoder = TabularPreprocessor | ImageEncoder | TfidfEncoder | TokenEncoder


def _network(model: nn.Module) -> dict:
    if isinstance(model, Ensemble):
        return {"members": [_network(m) for m in model.members]}
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    return {"class": type(model).__name__, "init_args": model.init_args(), "state_dict": state}


def _rebuild(blob: dict) -> nn.Module:
    if "members" in blob:
        return Ensemble([_rebuild(b) for b in blob["members"]])
    model = NETWORKS[blob["class"]].from_init_args(blob["init_args"])
    model.load_state_dict(blob["state_dict"])
    return model


def encoder_kind(encoder: Encoder) -> str:
    return getattr(encoder, "kind", "tabular")


def save(path: Path, model: nn.Module, encoder: Encoder) -> Path:
    """Write the network (or ensemble) and its encoder to `path`."""
    blob = {
        "network": _network(model),
        "encoder": {"kind": encoder_kind(encoder), "state": encoder.to_dict()},
    }
    torch.save(blob, path)
    return path


def load(path: Path | str) -> tuple[nn.Module, Encoder]:
    """Rebuild the network (on CPU, eval mode) and its encoder from `save`'s file."""
    blob = torch.load(path, map_location="cpu", weights_only=True)
    model = _rebuild(blob["network"]).eval()
    encoder = ENCODERS[blob["encoder"]["kind"]].from_dict(blob["encoder"]["state"])
    return model, encoder


def answer(encoder: Encoder, proba: np.ndarray) -> pd.DataFrame:
    """The served model's output: `score` = P(positive) for a binary model; the predicted
    `label` (one of the declared classes, as text) and its `probability` for k classes."""
    if proba.ndim == 1:
        return pd.DataFrame({"score": proba.astype(np.float64)})
    classes = [str(c) for c in encoder.classes]
    return pd.DataFrame(
        {
            "label": [classes[i] for i in proba.argmax(1)],
            "probability": proba.max(1).astype(np.float64),
        }
    )


def score_rows(model: nn.Module, encoder: Encoder, rows: pd.DataFrame) -> np.ndarray:
    """P(positive) [n] (binary) or class probabilities [n, k] for raw rows."""
    return predict_proba(model, encoder.transform(rows))
