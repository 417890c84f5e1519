"""Every numeric knob of the component specs is bounded: a bad value is refused by pydantic
(so by the config loader, naming the key) instead of failing deep in PyTorch or running a
meaningless job (`epochs: 0`)."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from components.adaptation.spec import AdaptSpec, GradualSpec, JointSpec
from components.data.images import RotationSpec
from components.errors import StepstoneError
from components.models.cnn import CNNSpec
from components.models.spec import TrainSpec
from components.models.tabular_mlp import MLPSpec
from components.selection.base import SelectionSpec

# (spec, field, a refused value, an accepted edge value)
BOUNDS = [
    (TrainSpec, "epochs", 0, 1),
    (TrainSpec, "batch_size", 0, 1),
    (TrainSpec, "lr", 0.0, 1e-9),
    (TrainSpec, "lr", -1.0, 1.0),
    (TrainSpec, "weight_decay", -1e-4, 0.0),
    (MLPSpec, "embedding_dim", 0, 1),
    (MLPSpec, "hidden", (64, 0), (1,)),
    (MLPSpec, "dropout", 1.0, 0.0),
    (MLPSpec, "dropout", -0.1, 0.99),
    (CNNSpec, "channels", 0, 1),
    (CNNSpec, "kernel", 0, 1),
    (CNNSpec, "dropout", 1.0, 0.0),
    (CNNSpec, "dropout", -0.5, 0.5),
    (SelectionSpec, "fraction", 0.0, 1.0),
    (SelectionSpec, "fraction", 1.5, 0.01),
    (SelectionSpec, "chunks", 0, 1),
    (SelectionSpec, "jitter", -0.1, 0.0),
    (SelectionSpec, "rff_features", 0, 1),
    (SelectionSpec, "graph_neighbours", 0, 1),
    (SelectionSpec, "graph_components", 0, 1),
    (SelectionSpec, "ddtl_steps", 0, 1),
    (SelectionSpec, "ddtl_epochs", 0, 1),
    (SelectionSpec, "ddtl_hidden", 0, 1),
    (AdaptSpec, "alpha", -0.01, 0.0),
    (AdaptSpec, "beta", -0.01, 0.0),
    (AdaptSpec, "target_weight", -0.5, 0.0),
    (AdaptSpec, "pool_weight", -0.5, 0.0),
    (AdaptSpec, "source_weight", -0.5, 0.0),
    (AdaptSpec, "freeze_layers", -1, 0),
    (AdaptSpec, "temperature", 0.0, 0.1),
    (AdaptSpec, "confidence", 1.5, 1.0),
    (AdaptSpec, "rounds", 0, 1),
    (GradualSpec, "drop_fraction", 1.0, 0.0),
    (GradualSpec, "drop_fraction", -0.1, 0.9),
    (GradualSpec, "neighbours", -1, 0),
    (GradualSpec, "target_weight", 1.5, 1.0),
    (GradualSpec, "target_weight", -0.1, 0.0),
    (JointSpec, "source_weight", -1.0, 0.0),
    (JointSpec, "pool_weight", -1.0, 0.0),
    (JointSpec, "target_weight", -1.0, 0.0),
    (JointSpec, "drop_fraction", 1.0, 0.0),
    (RotationSpec, "source", 0, 1),
    (RotationSpec, "val", -1, 0),
    (RotationSpec, "pool", 0, 1),
    (RotationSpec, "target", 0, 1),
    (RotationSpec, "test", 0, 1),
]


@pytest.mark.parametrize(
    ("spec", "field", "bad", "edge"),
    BOUNDS,
    ids=[f"{s.__name__}.{f}={b}" for s, f, b, _ in BOUNDS],
)
def test_bound_refuses_bad_value_and_accepts_edge(spec: type[BaseModel], field, bad, edge):
    with pytest.raises(ValidationError) as info:
        spec(**{field: bad})
    assert info.value.errors()[0]["loc"][0] == field
    assert getattr(spec(**{field: edge}), field) == edge


@pytest.mark.parametrize(
    "spec",
    [TrainSpec, MLPSpec, CNNSpec, SelectionSpec, AdaptSpec, GradualSpec, JointSpec, RotationSpec],
)
def test_defaults_validate(spec: type[BaseModel]):
    spec.model_validate(spec().model_dump())


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("adaptation.train.lr", -1),
        ("adaptation.train.epochs", 0),
        ("pretrain.batch_size", 0),
        ("selection.fraction", 0),
        ("adaptation.target_weight", -0.5),
    ],
)
def test_config_loader_names_the_key(key, value):
    from pipelines.config import load_config

    with pytest.raises(StepstoneError) as info:
        load_config(overrides={key: value})
    message = str(info.value)
    assert key in message and "is invalid" in message
