"""Images as a user brings them: PNG files and a manifest (DVC-tracked), or one folder per
class per domain, run through the same stages as a table; the champion scores raw images
in Python, through `stepstone score` and over HTTP from `mlflow models serve`."""

from __future__ import annotations

import json
import shutil
import urllib.request

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient

from components.models.ensemble import Ensemble
from components.models.training import predict_proba
from pipelines.cli import main
from pipelines.lineage import lineage
from pipelines.retrain import retrain
from tests.pipelines.conftest import STAGES, assert_failed_and_unregistered, dvc, git, stage_runs
from tests.pipelines.servers import served_model
from tests.pipelines.user_images import image_config, write_user_images


def run(tmp_path, raw: dict, code: int = 0) -> dict | None:
    config = tmp_path / f"{raw['name']}.yaml"
    config.write_text(yaml.safe_dump(raw))
    out = tmp_path / f"{raw['name']}-summary.json"
    assert main(["run", "--config", str(config), "--summary-json", str(out)]) == code
    return json.loads(out.read_text()) if code == 0 else None


@pytest.fixture(scope="module")
def user_repo(tmp_path_factory):
    """A git + DVC repository whose images/ folder and manifest are `dvc add`ed."""
    root = tmp_path_factory.mktemp("user-images")
    git(root, "init", "-q")
    dvc(root, "init", "-q")
    dvc(root, "config", "core.analytics", "false")
    write_user_images(root / "photos")
    dvc(root, "add", "-q", "photos")
    return root


@pytest.fixture(scope="module")
def image_run(prefect_server, mlflow_store, user_repo, tmp_path_factory) -> dict:
    raw = image_config(user_repo / "photos" / "manifest.csv")
    return run(tmp_path_factory.mktemp("image-run"), raw)


def test_user_images_run_end_to_end_and_the_champion_scores_raw_images(image_run, user_repo):
    summary = image_run
    assert set(summary["metrics"]) == {"source_model", "transfer"}
    assert summary["registered_model"]["aliases"] in (
        ["champion", "challenger"],
        ["challenger", "champion"],
        ["challenger"],
    )
    client = MlflowClient()
    parent = client.get_run(summary["parent_run_id"])
    assert parent.data.tags["modality"] == "image"
    assert parent.data.tags["dvc_md5"].endswith(".dir")  # the image folder's DVC record
    stages = stage_runs(client, parent)
    assert STAGES <= set(stages)
    assert stages["validate"].data.tags["validation_success"] == "true"
    version = client.get_model_version(
        "stepstone-user-images", summary["registered_model"]["version"]
    )
    assert version.tags["dvc_md5"] == parent.data.tags["dvc_md5"]
    manifest = pd.read_csv(user_repo / "photos" / "manifest.csv")
    south = manifest[manifest["site"] == "south"].head(8)
    paths = south["path"].map(lambda p: str(user_repo / "photos" / p))
    served = mlflow.pyfunc.load_model(summary["model_uri"]).predict(pd.DataFrame({"path": paths}))
    assert list(served.columns) == ["label", "probability"] and len(served) == 8
    assert set(served["label"]) <= {"0", "1"} and served["probability"].between(0.5, 1.0).all()
    assert summary["metrics"]["transfer"]["accuracy"] > 0.6


def test_stepstone_score_ranks_a_folder_and_a_manifest_of_images(image_run, user_repo, tmp_path):
    folder = tmp_path / "incoming"
    folder.mkdir()
    for name in sorted((user_repo / "photos" / "images").glob("south_*.png"))[:5]:
        shutil.copy(name, folder / name.name)
    out = tmp_path / "scored.csv"
    uri = "models:/stepstone-user-images@challenger"
    assert main(["score", "--model", uri, "--input", str(folder), "--output", str(out)]) == 0
    scored = pd.read_csv(out)
    assert len(scored) == 5 and {"path", "label", "probability", "rank"} <= set(scored.columns)
    assert scored["probability"].is_monotonic_decreasing
    manifest = user_repo / "photos" / "manifest.csv"
    assert main(["score", "--model", uri, "--input", str(manifest), "--output", str(out)]) == 0
    assert len(pd.read_csv(out)) == 560


def test_mlflow_models_serve_answers_an_http_request_with_image_paths(
    image_run, user_repo, mlflow_store, tmp_path
):
    files = sorted(str(p) for p in (user_repo / "photos" / "images").glob("south_*.png"))[:3]
    uri = "models:/stepstone-user-images@challenger"
    with served_model(uri, mlflow_store, tmp_path / "serve.log", timeout=90) as port:
        body = {"dataframe_split": {"columns": ["path"], "data": [[f] for f in files]}}
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations",
            json.dumps(body).encode(),
            {"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            predictions = json.loads(response.read())["predictions"]
    assert len(predictions) == 3 and all(p["label"] in ("0", "1") for p in predictions)


def test_listed_stepping_stones_of_images_are_crossed_in_order(
    prefect_server, mlflow_store, tmp_path
):
    """The harbour images as two stepping stones (a `batch` column the user added): no
    selector is named, so every pool image is kept and each stone is one gradual step."""
    manifest = write_user_images(tmp_path / "photos")
    rows = pd.read_csv(manifest)
    rows["batch"] = np.where(rows.index % 2 == 0, "early", "late")
    rows.to_csv(manifest, index=False)
    raw = image_config(manifest, name="image-stones")
    raw["data"]["domains"]["intermediate"] = [
        "site == 'harbour' and batch == 'late'",
        "site == 'harbour' and batch == 'early'",
    ]
    raw["selection"] = {}  # the `given` order, one chunk per stone
    summary = run(tmp_path, raw)
    client = MlflowClient()
    stages = stage_runs(client, client.get_run(summary["parent_run_id"]))
    selection = stages["select_intermediate"]
    assert selection.data.params["selection_method"] == "given"
    table = pd.read_csv(
        client.download_artifacts(selection.info.run_id, "selection/selection.csv", str(tmp_path))
    )
    assert table["selected"].all() and len(table) == (rows["site"] == "harbour").sum()
    batch = rows["batch"].to_numpy()[table["row_id"]]  # row_id is the manifest row
    assert (table["chunk"] == np.where(batch == "late", 0, 1)).all()
    steps = client.get_metric_history(
        stages["adapt_target"].info.run_id, "transit_gradual_test_accuracy"
    )
    assert [m.step for m in steps] == [0, 1, 2]  # two stones, then the target


def test_image_lineage_and_retraining_on_a_new_data_version(prefect_server, mlflow_store, tmp_path):
    """`stepstone lineage` names the image folder's DVC version; `retrain --only-new-data`
    does nothing until new target images are `dvc add`ed, then retrains with the cached
    source model (the source images did not change)."""
    git(tmp_path, "init", "-q")
    dvc(tmp_path, "init", "-q")
    manifest = write_user_images(tmp_path / "photos")
    dvc(tmp_path, "add", "-q", "photos")
    raw = image_config(manifest, name="image-retrain")
    config = tmp_path / "retrain.yaml"
    config.write_text(yaml.safe_dump(raw))
    first = run(tmp_path, raw)
    uri = f"models:/stepstone-image-retrain/{first['registered_model']['version']}"
    info = lineage(uri)["lineage"]
    assert info["data_md5"] == first["data"]["md5"] and info["dvc_md5"].endswith(".dir")
    assert info["source_model_version"] == "stepstone-image-retrain-source/1"
    assert main(["retrain", "--config", str(config), "--only-new-data"]) == 0
    versions = MlflowClient().search_model_versions("name = 'stepstone-image-retrain'")
    assert len(versions) == 1  # nothing new: nothing retrained
    more = write_user_images(tmp_path / "more", per_site={"south": 40}, seed=7)
    rows = pd.read_csv(more)
    for name in rows["path"]:
        shutil.copy(tmp_path / "more" / name, tmp_path / "photos" / name.replace("south", "new"))
    rows["path"] = rows["path"].str.replace("south", "new")
    pd.concat([pd.read_csv(manifest), rows]).to_csv(manifest, index=False)
    dvc(tmp_path, "add", "-q", "photos")
    second = retrain(config_path=str(config))
    assert second["retrained"] and second["source_cached"]
    assert second["data"]["md5"] != first["data"]["md5"]
    assert lineage(second["model_uri"])["lineage"]["dvc_md5"] != info["dvc_md5"]


def test_the_scale_out_flow_runs_an_image_scenario_over_seeds(image_run, user_repo, tmp_path):
    """multi_run (here on local threads) reports the modality's metric, accuracy, for the
    registered model and the transfer arm of every seed's run."""
    from pipelines.scaleout import multi_run

    config = tmp_path / "images.yaml"
    config.write_text(yaml.safe_dump(image_config(user_repo / "photos" / "manifest.csv")))
    result = multi_run(config_paths=[str(config)], seeds=[0, 1])
    assert sorted(r["seed"] for r in result["runs"]) == [0, 1]
    report = result["scenarios"][str(config)]
    assert report["metric"] == "accuracy" and report["registered"]["n"] == 2
    runs = {r["seed"]: r for r in result["runs"]}
    assert runs[0]["transfer"] == pytest.approx(image_run["metrics"]["transfer"]["accuracy"])


def test_a_folder_per_class_per_domain_runs_with_draws(prefect_server, mlflow_store, tmp_path):
    """torchvision's ImageFolder layout per domain (the pool's images directly in its domain
    folder, unlabelled), images of two sizes resized by the transform, and two jittered draws
    averaged into one served ensemble."""
    manifest = pd.read_csv(write_user_images(tmp_path / "flat", size=12))
    write_user_images(tmp_path / "big", per_site={"south": 40}, size=16, seed=1)
    root = tmp_path / "layout"
    for source, rows in (
        (tmp_path / "flat", manifest),
        (tmp_path / "big", pd.read_csv(tmp_path / "big" / "manifest.csv")),
    ):
        for row in rows.itertuples():
            label = "" if pd.isna(row.label) else ("left" if row.label == 1 else "right")
            target = root / row.site / label / f"{source.name}_{row.Index}.png"  # pool: no class
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source / row.path, target)
    raw = image_config(root, name="folders")
    raw["data"] = {
        "path": str(root),
        "domains": {"source": "domain == 'north'", "intermediate": "domain == 'harbour'",
                    "target": "domain == 'south'"},
        "label": {"classes": ["left", "right"]},
        "transform": {"size": [12, 12], "channels": 3},
    }  # fmt: skip
    raw["selection"]["jitter"] = 0.3
    raw["transit"]["draws"] = 2
    summary = run(tmp_path, raw | {"target": {"labelled": 0, "unlabelled": 60}})
    served = mlflow.pyfunc.load_model(summary["model_uri"])
    model = served.unwrap_python_model().predictor.model
    assert isinstance(model, Ensemble) and len(model.members) == 2
    south = sorted((root / "south").rglob("*.png"))[:4]
    x = served.unwrap_python_model().encoder.transform(pd.DataFrame({"path": map(str, south)}))
    mean = np.mean([predict_proba(m, x) for m in model.members], 0)
    out = served.predict(pd.DataFrame({"path": [str(p) for p in south]}))
    assert np.allclose(out["probability"], mean.max(1), atol=1e-6)


BAD = {
    "missing file": ("missing", "do not exist"),
    "not an image": ("text", "not"),
    "label outside the set": ("label", "outside the declared classes"),
    "empty domain": ("empty", "query"),
    "sizes differ without resize": ("sizes", "size"),
    "backbone weights missing": ("weights", "model.weights"),
    "tabular key in an image config": ("schema", "data.schema: unknown key"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_image_input_exits_2_marks_the_run_failed_and_registers_nothing(
    case, prefect_server, mlflow_store, tmp_path, capsys
):
    kind, message = BAD[case]
    manifest_path = write_user_images(
        tmp_path / "photos", {"north": 60, "harbour": 30, "south": 70}
    )
    manifest = pd.read_csv(manifest_path)
    name = f"bad-{kind}"
    raw = image_config(manifest_path, name=name, target={"unlabelled": 20})
    if kind == "missing":
        (tmp_path / "photos" / manifest.loc[3, "path"]).unlink()
    elif kind == "text":
        (tmp_path / "photos" / manifest.loc[3, "path"]).write_text("not a picture")
    elif kind == "label":
        manifest.loc[2, "label"] = 7
        manifest.to_csv(manifest_path, index=False)
    elif kind == "empty":
        raw["data"]["domains"]["target"] = "site == 'nowhere'"
    elif kind == "sizes":
        write_user_images(tmp_path / "other", {"south": 1}, size=20)
        shutil.copy(
            tmp_path / "other" / "images" / "south_0000.png",
            tmp_path / "photos" / manifest.loc[3, "path"],
        )
    elif kind == "weights":
        raw["model"] = {
            "kind": "torchvision",
            "arch": "resnet18",
            "weights": str(tmp_path / "nope.pth"),
        }
    elif kind == "schema":
        raw["data"]["schema"] = {"label": {"column": "label", "positive": 1, "negative": 0}}
    run(tmp_path, raw, code=2)
    assert message in capsys.readouterr().err
    assert_failed_and_unregistered(message, f"stepstone-{name}")
