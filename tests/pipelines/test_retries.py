"""Stage retries: a transient API error (here a real one, from the MLflow client against a port
nobody listens on) runs the task again; an error the user must fix fails at once."""

from __future__ import annotations

import mlflow
import pytest
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import TEMPORARILY_UNAVAILABLE
from prefect import flow, task

from components.errors import StepstoneError
from pipelines.retries import STAGE_RETRIES, is_transient, retry_transient
from pipelines.stages.adapt import adapt_target
from pipelines.stages.choose import choose_model
from pipelines.stages.evaluate import evaluate
from pipelines.stages.load_data import load_data
from pipelines.stages.pretrain import pretrain_source
from pipelines.stages.register import register
from pipelines.stages.select import select_intermediate
from pipelines.stages.validate import validate
from tests.pipelines.servers import free_port


def unreachable_mlflow_error(monkeypatch) -> MlflowException:
    """What the MLflow client raises when its server is down (one try, no client retries)."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    client = mlflow.MlflowClient(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(MlflowException) as caught:
        client.search_experiments()
    return caught.value


def test_a_down_server_is_transient_and_a_user_error_is_not(monkeypatch):
    assert is_transient(unreachable_mlflow_error(monkeypatch))
    assert is_transient(MlflowException("busy", error_code=TEMPORARILY_UNAVAILABLE))
    assert not is_transient(MlflowException("a bug, or a bad request"))
    assert not is_transient(ValueError("lr must be > 0"))
    try:
        try:
            raise ConnectionRefusedError("nobody listens on that port")
        except OSError:
            raise StepstoneError("cannot reach http://... (set by MLFLOW_TRACKING_URI)") from None
    except StepstoneError as error:
        assert not is_transient(error)  # the URL is wrong: retrying would not help


def test_prefect_retries_a_transient_failure_and_not_a_permanent_one(
    prefect_server, monkeypatch, tmp_path
):
    error = unreachable_mlflow_error(monkeypatch)
    calls = {"flaky": 0, "bad": 0}

    @task(**{**STAGE_RETRIES, "retry_delay_seconds": 0})
    def flaky() -> str:
        calls["flaky"] += 1
        if calls["flaky"] == 1:
            raise error
        return "done"

    @task(**{**STAGE_RETRIES, "retry_delay_seconds": 0})
    def bad() -> None:
        calls["bad"] += 1
        raise StepstoneError("data.path does not exist")

    @flow
    def both():
        first = flaky()
        bad()
        return first

    with pytest.raises(StepstoneError):
        both()
    assert calls == {"flaky": 2, "bad": 1}


def test_every_stage_but_register_retries_transient_errors():
    stages = [validate, load_data, pretrain_source, select_intermediate, adapt_target, choose_model]
    for stage in [*stages, evaluate]:
        assert stage.retries == STAGE_RETRIES["retries"] > 0, stage.name
        assert stage.retry_condition_fn is retry_transient, stage.name
    assert register.retries == 0  # a rerun after the version was created would add another
