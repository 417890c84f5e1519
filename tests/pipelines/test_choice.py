"""The choice among candidates, through `stepstone run` on a user's own table: CV on the
labelled target rows picks a transfer candidate where the source helps, a candidate
without transfer where the source is harmful (flipped labels), never looks at a test row,
and refuses more folds than the labels can fill, before any training."""

from __future__ import annotations

import json

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient

from pipelines.cli import main
from pipelines.config import load_config
from pipelines.data_checks import build_splits
from tests.pipelines.conftest import stage_runs, tracked_scenario
from tests.pipelines.test_bad_input import run_bad
from tests.pipelines.user_images import image_config, write_user_images

SCHEMA = {
    "label": {"column": "y", "positive": "yes", "negative": "no"},
    "categorical": {"colour": ["red", "green", "blue"], "size": ["S", "M", "L"]},
    "numeric": {"age": {"min": 0, "max": 120}, "income": {"min": 0}},
}
DOMAINS = {"source": "year == 1", "intermediate": "year == 2", "target": "year == 3"}
PLAIN = ["target_only", "lgbm_target_only"]


def customers(flip_source: bool, seed: int = 0) -> pd.DataFrame:
    """Three years of customers who answer by the same rule (age and colour); with
    `flip_source`, the first two years' answers are the opposite (a harmful source)."""
    rng = np.random.default_rng(seed)
    sizes = {1: 1500, 2: 500, 3: 400}
    year = np.concatenate([np.full(n, y) for y, n in sizes.items()])
    n = len(year)
    colour = rng.choice(["red", "green", "blue"], n)
    age = rng.uniform(18, 90, n).round()
    answer = (age - 50) / 12 + (colour == "red") * 1.5 + rng.normal(0, 0.6, n) > 0
    answer ^= flip_source & (year < 3)
    return pd.DataFrame(
        {
            "colour": colour,
            "size": rng.choice(["S", "M", "L"], n),
            "age": age,
            "income": rng.uniform(0, 200, n).round(1),
            "year": year,
            "y": np.where(answer, "yes", "no"),
        }
    )


def scenario(home, flip_source: bool, name: str, **changes) -> str:
    return tracked_scenario(
        home,
        customers(flip_source),
        name,
        f"stepstone-{name}",
        data={"schema": SCHEMA, "domains": DOMAINS, "derive": [], "drop": []},
        target={"labelled": 40},
        **changes,
    )


def run(config: str, tmp_path) -> dict:
    out = tmp_path / "summary.json"
    assert main(["run", "--config", config, "--summary-json", str(out)]) == 0
    return json.loads(out.read_text())


def test_where_the_source_helps_a_transfer_candidate_is_registered(
    prefect_server, mlflow_store, tmp_path
):
    config = scenario(
        tmp_path,
        flip_source=False,
        name="helps",
        choice={"candidates": [*PLAIN, "transfer", "lgbm_weighted", "lgbm_source_features"]},
    )
    summary = run(config, tmp_path)
    model, choice = summary["registered_model"], summary["choice"]
    assert choice["transfer"] and model["candidate"] == choice["name"]
    assert choice["baseline"] in PLAIN and choice["margin"] > 0
    cv = summary["cv"]
    assert cv[choice["name"]]["mean"] > cv[choice["baseline"]]["mean"]
    assert all(0 < c["se"] < 0.2 for c in cv.values() if c["mean"] < 1)  # bootstrap SE
    assert "SE" in choice["reason"] or "is the best by CV" in choice["reason"]
    version = MlflowClient().get_model_version("stepstone-helps", model["version"])
    assert version.tags["candidate"] == choice["name"]

    # Folds hold labelled target rows only: never a test row (by row id).
    parent = MlflowClient().get_run(summary["parent_run_id"])
    choose_run = stage_runs(MlflowClient(), parent)["choose"]
    folds = mlflow.artifacts.load_dict(f"runs:/{choose_run.info.run_id}/choice/folds.json")
    _, splits = build_splits(load_config(config))
    held = {i for fold in folds for i in fold["held_out_row_ids"]}
    assert held == set(splits["target_labelled"]["row_id"])
    assert not held & set(splits["target_test"]["row_id"])
    assert len(folds) == 5  # 5 folds x 1 repeat, the default
    # The out-of-fold predictions behind the CV table are logged, labelled rows only.
    uri = f"runs:/{choose_run.info.run_id}/choice/cv_predictions.csv"
    predictions = pd.read_csv(mlflow.artifacts.download_artifacts(uri))
    assert set(predictions["row_id"]) == held and len(predictions) == len(held)
    assert {choice["name"], choice["baseline"]} <= set(predictions.columns)


def test_where_the_source_is_harmful_a_model_without_transfer_is_registered(
    prefect_server, mlflow_store, tmp_path
):
    config = scenario(tmp_path, flip_source=True, name="hurts", choice={"repeats": 2})
    summary = run(config, tmp_path)
    choice = summary["choice"]
    assert not choice["transfer"] and summary["registered_model"]["candidate"] in PLAIN
    assert "registered the model without transfer" in choice["reason"]
    # Racing: blends and their members run every repeat; the rest one or both.
    cv = summary["cv"]
    blends = {name: c["members"] for name, c in cv.items() if c["members"]}
    assert blends and all(cv[m]["repeats"] == 2 for ms in blends.values() for m in ms)
    assert all(cv[name]["repeats"] == 2 for name in blends)
    assert {c["repeats"] for c in cv.values()} <= {1, 2}
    # The guard holds on the test rows too: the registered model beats the pooled ones.
    metrics = summary["metrics"]
    assert metrics[choice["name"]]["auc"] > max(
        metrics[c]["auc"] for c in ("pooled", "lgbm_pooled")
    )
    assert summary["registered_model"]["promoted"]


def test_more_folds_than_labelled_rows_of_a_class_stops_before_training(
    prefect_server, mlflow_store, tmp_path, capsys
):
    config = scenario(tmp_path, flip_source=False, name="folds", choice={"folds": 30})
    code, err, parent = run_bad(config, capsys, experiment="stepstone-folds")
    assert code == 2 and "choice.folds is 30" in err and "Lower choice.folds" in err
    assert parent.info.status == "FAILED"
    assert "pretrain_source" not in stage_runs(MlflowClient(), parent)
    assert not MlflowClient().search_model_versions("name = 'stepstone-folds'")


@pytest.mark.parametrize(
    "choice", [{"candidates": ["nonsense"]}, {"candidates": []}, {"prefer": ["nonsense"]}]
)
def test_unknown_candidates_are_a_config_error(tmp_path, capsys, choice):
    config = scenario(tmp_path, flip_source=False, name="names", choice=choice)
    assert main(["validate", "--config", config]) == 2
    key = next(iter(choice))
    assert f"choice.{key} names" in capsys.readouterr().err


def test_images_with_labelled_target_rows_choose_by_cv_too(prefect_server, mlflow_store, tmp_path):
    """An image scenario with 40 labelled target images: the adapted network and a network
    trained on those images alone are cross-validated the same way (accuracy)."""
    manifest = write_user_images(tmp_path / "images", {"north": 200, "harbour": 80, "south": 160})
    raw = image_config(
        manifest,
        name="image-choice",
        target={"labelled": 40, "unlabelled": 40},
        transit={"path": "direct"},
    )
    raw["adaptation"] = {"method": "finetune", "train": {"epochs": 3, "batch_size": 32}}
    raw["choice"] = {"folds": 4, "repeats": 1}
    config = tmp_path / "images.yaml"
    config.write_text(yaml.safe_dump(raw))
    summary = run(str(config), tmp_path)
    cv, choice = summary["cv"], summary["choice"]
    assert set(cv) == {"transfer", "network_target_only"}
    assert choice["baseline"] == "network_target_only"
    assert 0.0 <= cv["transfer"]["mean"] <= 1.0
    best = max(cv, key=lambda c: cv[c]["mean"])
    assert summary["registered_model"]["candidate"] == (
        best if cv[best]["mean"] > cv["network_target_only"]["mean"] else "network_target_only"
    )
