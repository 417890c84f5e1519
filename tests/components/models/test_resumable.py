"""Per-epoch checkpoints: training stopped mid-way and run again in the same checkpoint
folder ends with exactly the weights of a run that was never stopped."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from components.models import resumable
from components.models.loop import Step, train_joint, unlabelled
from components.models.rows import Labelled
from components.models.spec import TrainSpec
from tests.components.models.test_models_training import CPU, _encoded, _model

TRAIN = TrainSpec(epochs=6, batch_size=64, lr=1e-2, lr_decay="annealed")


class Killed(Exception):
    pass


def _train(pre, data, aux, stop_at: int | None = None) -> tuple[torch.nn.Module, list]:
    """A fresh seeded model trained with an auxiliary stream (both batch orders matter) and
    dropout (the global RNG matters); `stop_at` raises at that step, as a kill would."""
    model, calls = _model(pre, 2), [0]

    def extra(step: Step) -> dict[str, torch.Tensor]:
        calls[0] += 1
        if stop_at is not None and calls[0] > stop_at:
            raise Killed
        return {"align": (step.features.mean(0) - step.aux_features.mean(0)).pow(2).sum()}

    history = train_joint(model, data, TRAIN, aux=aux, extra=extra, seed=3, device=CPU)
    return model, history


def test_a_stopped_run_resumes_to_the_same_weights(table, schema, tmp_path):
    pre, x, y = _encoded(table, schema)
    data = Labelled.of(x.take(np.arange(400)), y[:400])
    aux = unlabelled(x.take(np.arange(400, 600)))
    reference, reference_history = _train(pre, data, aux)  # no checkpoints: never stopped

    with resumable.epoch_checkpoints(tmp_path, "adapt"), pytest.raises(Killed):
        _train(pre, data, aux, stop_at=17)  # 7 steps per epoch: killed in the third epoch
    saved = torch.load(tmp_path / "adapt-0.pt", weights_only=False)
    assert saved["step"] == 14 and len(saved["history"]) == 2

    with resumable.epoch_checkpoints(tmp_path, "adapt"):
        resumed, history = _train(pre, data, aux)
    assert history == reference_history
    a, b = reference.state_dict(), resumed.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_each_loop_claims_its_own_file_and_other_shapes_start_over(table, schema, tmp_path):
    pre, x, y = _encoded(table, schema)
    data = Labelled.of(x.take(np.arange(400)), y[:400])
    with resumable.epoch_checkpoints(tmp_path, "pretrain"):
        train_joint(_model(pre, 2), data, TRAIN, seed=1, device=CPU)
        train_joint(_model(pre, 2), data.take(np.arange(200)), TRAIN, seed=1, device=CPU)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pretrain-0.pt", "pretrain-1.pt"]
    # Rows differ from what pretrain-0.pt was written for: it is not restored, but retrained.
    with resumable.epoch_checkpoints(tmp_path, "pretrain"):
        history = train_joint(_model(pre, 2), data.take(np.arange(300)), TRAIN, seed=1, device=CPU)
    assert len(history) == TRAIN.epochs
    assert torch.load(tmp_path / "pretrain-0.pt", weights_only=False)["signature"]["rows"] == 300
    # Outside the context nothing is written.
    assert resumable.claim() is None
