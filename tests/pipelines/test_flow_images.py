"""The image branch end to end on the bundled rotated digits: gradual adaptation along the
discriminator's order, selection reports against the hidden angles, an image pyfunc."""

from __future__ import annotations

import json

import mlflow
import numpy as np
import pytest
import yaml
from mlflow.tracking import MlflowClient

from components.data.images import rotated_digits
from components.models.cnn import CNNEnsemble
from components.models.training import predict_proba
from pipelines.cli import main
from pipelines.config import REPO_ROOT, merge
from tests.pipelines.conftest import STAGES, stage_runs


def run_digits(tmp_path, **changes) -> dict:
    """The digits demo, shortened (3 chunks, few epochs), with `changes` per section; returns
    the run's summary (`changes` merged key by key, as a config's `base:`)."""
    raw = yaml.safe_load((REPO_ROOT / "configs" / "digits_demo.yaml").read_text())
    raw["pretrain"]["epochs"] = 5
    raw["selection"]["chunks"] = 3
    raw["transit"]["gradual"]["train"]["epochs"] = 2
    raw["registry"]["model_name"] = "stepstone-digits-test"
    raw = merge(raw, changes)
    config = tmp_path / "digits.yaml"
    config.write_text(yaml.safe_dump(raw))
    out = tmp_path / "summary.json"
    assert main(["run", "--config", str(config), "--summary-json", str(out)]) == 0
    return json.loads(out.read_text())


def test_digits_demo_runs_and_serves_images(prefect_server, mlflow_store, tmp_path):
    summary = run_digits(tmp_path)
    assert set(summary["metrics"]) == {"source_model", "transfer"}
    client = MlflowClient()
    stages = stage_runs(client, client.get_run(summary["parent_run_id"]))
    assert STAGES <= set(stages)
    selection = stages["select_intermediate"]
    assert "order_spearman_with_truth" in selection.data.metrics
    artifacts = {a.path for a in client.list_artifacts(selection.info.run_id, "selection")}
    assert {"selection/embedding_after.png", "selection/adapt_gradual_steps.json"} <= artifacts
    steps = client.get_metric_history(stages["adapt_target"].info.run_id, "transit_test_accuracy")
    assert len(steps) == 4  # three pool chunks, then the target
    images = rotated_digits().test_x[:4]
    served = mlflow.pyfunc.load_model(summary["model_uri"]).predict(images)
    assert list(served.columns) == ["label", "probability"] and len(served) == 4
    assert served["label"].between(0, 9).all() and np.all(served["probability"] <= 1.0)


def test_draws_average_the_jittered_paths_into_one_served_model(
    prefect_server, mlflow_store, tmp_path
):
    transit = {"draws": 2, "gradual": {"neighbours": 5}}
    summary = run_digits(tmp_path, selection={"jitter": 0.3}, transit=transit)
    client = MlflowClient()
    adapt = stage_runs(client, client.get_run(summary["parent_run_id"]))["adapt_target"]
    assert adapt.data.params["transit_draws"] == "2"
    assert adapt.data.params["neighbours"] == "5" and "'epochs': 2" in adapt.data.params["train"]
    draws = client.get_metric_history(adapt.info.run_id, "draw_test_accuracy")
    assert [m.step for m in draws] == [0, 1]
    # the first draw's steps are the transit history: three pool chunks, then the target
    assert len(client.get_metric_history(adapt.info.run_id, "transit_test_accuracy")) == 4
    served = mlflow.pyfunc.load_model(summary["model_uri"])
    model = served.unwrap_python_model().model
    assert isinstance(model, CNNEnsemble) and len(model.members) == 2
    data = rotated_digits()
    mean = np.mean([predict_proba(m, data.test_x) for m in model.members], 0)
    assert np.allclose(served.predict(data.test_x)["probability"], mean.max(1), atol=1e-6)
    accuracy = summary["metrics"]["transfer"]["accuracy"]
    assert accuracy == pytest.approx(float((mean.argmax(1) == data.test_y).mean()))


def test_image_config_loads_and_a_table_scenario_needs_data(tmp_path):

    from components.errors import StepstoneError
    from pipelines.config import load_config

    demo = load_config(REPO_ROOT / "configs" / "digits_demo.yaml")
    assert demo.modality == "image" and demo.data is None and demo.transit.path == "gradual"
    bare = tmp_path / "bare.yaml"
    bare.write_text("name: x\n")
    with pytest.raises(StepstoneError, match="needs a `data` section"):
        load_config(bare)
