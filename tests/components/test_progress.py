"""Training shows its progress: plain `stepstone.progress` lines when stderr is not a terminal
(one per epoch, ~10 for step-based training, one per gradual step), a tqdm bar when it is, and
nothing when quiet."""

from __future__ import annotations

import functools
import io
import logging
import re

import numpy as np
import pytest
import torch
from torch import nn
from tqdm import tqdm

from components import progress
from components.adaptation.gradual import gradual_self_train
from components.adaptation.spec import GradualSpec
from components.models.loop import fit
from components.models.rows import Labelled
from components.models.spec import TrainSpec

torch.set_num_threads(1)
CPU = torch.device("cpu")
LOGGER = "stepstone.progress"


class TinyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(2, 8), nn.ReLU())
        self.head = nn.Linear(8, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).squeeze(1)


def _data(n: int = 96, seed: int = 0) -> Labelled:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2)).astype(np.float32)
    return Labelled.of(x, (x[:, 0] > 0).astype(np.float32))


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def plain_stderr(monkeypatch, caplog):
    """stderr not a terminal, STEPSTONE_QUIET unset, the logger propagating to caplog."""
    monkeypatch.setattr("sys.stderr", io.StringIO())
    monkeypatch.delenv("STEPSTONE_QUIET", raising=False)
    monkeypatch.setattr(logging.getLogger(LOGGER), "propagate", True)
    caplog.set_level(logging.INFO, logger=LOGGER)
    yield
    progress.set_quiet(None)


def _lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER]


def test_fit_logs_one_line_per_epoch_with_the_loss(caplog):
    history = fit(
        TinyNet(), _data(), TrainSpec(epochs=3, batch_size=32), device=CPU, desc="pretrain"
    )
    lines = _lines(caplog)
    assert len(lines) == 3
    for epoch, (line, row) in enumerate(zip(lines, history, strict=True), start=1):
        match = re.fullmatch(rf"pretrain epoch {epoch}/3 loss (\d+\.\d{{4}})", line)
        assert match, line
        assert float(match.group(1)) == pytest.approx(row["loss"], abs=1e-4)


def test_step_based_training_logs_about_every_tenth_of_the_steps(caplog):
    fit(TinyNet(), _data(), TrainSpec(epochs=1, batch_size=32), iterations=50, device=CPU)
    lines = _lines(caplog)
    assert [line.split()[2] for line in lines] == [f"{i}/50" for i in range(5, 51, 5)]
    assert all(re.fullmatch(r"train step \d+/50 loss \d+\.\d{4}", line) for line in lines)


def test_gradual_self_training_logs_one_line_per_step(caplog):
    model = TinyNet()
    fit(model, _data(), TrainSpec(epochs=1, batch_size=32), device=CPU)
    caplog.clear()
    steps = [_data(40, seed).x for seed in (1, 2, 3)]
    spec = GradualSpec(train=TrainSpec(epochs=2, batch_size=32))
    gradual_self_train(model, steps, spec, device=CPU)
    gradual = [line for line in _lines(caplog) if line.startswith("gradual")]
    assert len(gradual) == 3
    assert re.fullmatch(r"gradual step 3/3 rows 36 loss \d+\.\d{4}", gradual[-1])
    assert sum(line.startswith("self-train epoch") for line in _lines(caplog)) == 6


@pytest.mark.parametrize("how", ["set_quiet", "env"])
def test_quiet_logs_nothing(caplog, monkeypatch, how):
    if how == "set_quiet":
        progress.set_quiet(True)
    else:
        monkeypatch.setenv("STEPSTONE_QUIET", "1")
    fit(TinyNet(), _data(), TrainSpec(epochs=2, batch_size=32), device=CPU)
    assert _lines(caplog) == []


def test_a_terminal_gets_a_tqdm_bar_not_log_lines(caplog, monkeypatch):
    terminal = FakeTerminal()
    monkeypatch.setattr("sys.stderr", terminal)
    monkeypatch.setattr(progress, "tqdm", functools.partial(tqdm, mininterval=0))  # draw each
    fit(TinyNet(), _data(), TrainSpec(epochs=2, batch_size=32), device=CPU, desc="pretrain")
    shown = terminal.getvalue()
    assert "pretrain" in shown and "loss=" in shown and "2/2" in shown
    assert _lines(caplog) == []


def test_to_console_writes_lines_to_stderr_not_to_the_root_logger(monkeypatch):
    logger = logging.getLogger(LOGGER)
    stderr = io.StringIO()
    monkeypatch.setattr("sys.stderr", stderr)
    monkeypatch.setattr(logger, "handlers", [])
    monkeypatch.setattr(progress, "_console", None)
    try:
        progress.to_console()
        progress.to_console()  # once only
        assert len(logger.handlers) == 1 and not logger.propagate
        progress.Progress(2, "adapt").update(1, loss=0.5)
    finally:
        logger.setLevel(logging.NOTSET)
    assert stderr.getvalue() == "adapt epoch 1/2 loss 0.5000\n"


@pytest.mark.parametrize("command", ["run", "retrain", "sweep"])
def test_the_cli_takes_quiet(command):
    from pipelines.cli import build_parser

    extra = ["--config", "x.yaml"] if command == "sweep" else []
    args = build_parser().parse_args([command, *extra, "--quiet"])
    assert args.quiet


def test_silenced_hides_progress_inside_the_block_only(caplog):
    spec = TrainSpec(epochs=2, batch_size=32)
    with progress.silenced():
        fit(TinyNet(), _data(), spec, device=CPU, desc="cv")
    assert _lines(caplog) == []
    fit(TinyNet(), _data(), spec, device=CPU, desc="after")
    assert len(_lines(caplog)) == 2
