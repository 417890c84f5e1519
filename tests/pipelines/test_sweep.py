"""`stepstone sweep` end to end on a bank slice and on a user's images: real Prefect,
MLflow, DVC and GX; methods and transit paths in one grid."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
import yaml
from mlflow.tracking import MlflowClient

from pipelines.cli import main
from tests.pipelines.conftest import write_config
from tests.pipelines.user_images import image_config, write_user_images

SWEEP = {
    "methods": {"source_only": {}, "l2sp": {"alpha": [0.01, 1.0]}, "dann": {}},
    "paths": {"gradual": {"drop_fraction": [0.2]}},
    "seeds": [0, 1],
    "source_rows": 600,
    "validation_rows": 200,
    "max_workers": 2,
}
SCORERS = {"iwv", "dev", "entropy", "snd"}
CRITERIA = SCORERS | {"cv"}  # cv: the default, on the 60 labelled target rows
CONFIGS = ("source_only", "l2sp[alpha=0.01]", "l2sp[alpha=1.0]", "dann")


@pytest.fixture(scope="module")
def sweep_run(prefect_server, mlflow_store, dvc_repo, tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("sweep")
    config = write_config(
        folder / "sweep.yaml",
        dvc_repo / "data" / "bank.csv",
        name="sweeptest",
        registry={"model_name": "stepstone-sweeptest"},
        target={"labelled": 60, "unlabelled": 60},
        choice={"folds": 3, "repeats": 1},
        sweep=SWEEP,
    )
    out = folder / "summary.json"
    assert main(["sweep", "--config", str(config), "--summary-json", str(out)]) == 0
    return json.loads(out.read_text())


def test_one_parent_run_one_source_model_and_a_child_run_per_arm(sweep_run):
    client = MlflowClient()
    parent = client.get_run(sweep_run["parent_run_id"])
    assert parent.info.status == "FINISHED" and parent.data.tags["flow"] == "sweep"
    children = client.search_runs(
        [parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    assert all(c.info.status == "FINISHED" for c in children)
    stages = [c.data.tags["stage"] for c in children]
    assert stages.count("pretrain_source") == 1  # trained once, reused by every arm
    arms = {c.data.tags["arm"]: c for c in children if "arm" in c.data.tags}
    expected = {
        f"{name}/seed{s}" for name in (*CONFIGS, "gradual[drop_fraction=0.2]") for s in (0, 1)
    }
    assert set(arms) == expected
    for run in arms.values():
        assert CRITERIA | {"test_auc"} <= set(run.data.metrics)
    gradual = arms["gradual[drop_fraction=0.2]/seed0"]
    assert gradual.data.tags["path"] == "gradual" and gradual.data.params["path"] == "gradual"
    # A path arm trains with the scenario's own method (l2sp in the loan YAML), and says so.
    assert gradual.data.tags["method"] == "l2sp"
    assert any(k.startswith("transit_gradual_") for k in gradual.data.metrics)
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id, "sweep")}
    assert {"sweep/configs.json", "sweep/arms.json", "sweep/agreement.json"} <= artifacts


def test_table_has_mean_spread_scores_and_negative_transfer(sweep_run):
    configs = {row["config"]: row for row in sweep_run["configs"]}
    assert set(configs) == {*CONFIGS, "gradual[drop_fraction=0.2]"}
    assert configs["gradual[drop_fraction=0.2]"]["path"] == "gradual"
    assert configs["gradual[drop_fraction=0.2]"]["method"] == "l2sp"
    assert configs["dann"]["path"] == "direct" and configs["dann"]["method"] == "dann"
    for row in configs.values():
        assert row["seeds"] == 2 and 0 <= row["auc_mean"] <= 1 and row["auc_std"] >= 0
        assert CRITERIA <= set(row) and 0 <= row["cv"] <= 1
    # The source model is not retrained per seed: its two arms are identical.
    assert configs["source_only"]["auc_std"] == pytest.approx(0.0, abs=1e-12)
    assert sweep_run["baseline"]["name"] == "target_only"  # logistic regression, 60 rows
    baseline = sweep_run["baseline"]["value"]
    for arm in sweep_run["arms"]:
        assert arm["negative_transfer"] == (arm["auc"] < baseline)
    agreement = {row["scorer"]: row for row in sweep_run["agreement"]}
    assert set(agreement) == CRITERIA
    best = max(configs.values(), key=lambda r: r["auc_mean"])["auc_mean"]
    for row in agreement.values():  # regret: best test AUC minus that of the pick
        assert row["regret"] == pytest.approx(best - configs[row["picked"]]["auc_mean"])
    assert "negative_transfer" in sweep_run["table"] and "auc_std" in sweep_run["table"]


def test_best_arm_by_the_criterion_is_registered_with_lineage(sweep_run):
    configs = {row["config"]: row for row in sweep_run["configs"]}
    criterion = sweep_run["criterion"]
    assert criterion == "cv"  # auto: the 60 labelled rows allow 3 folds
    assert sweep_run["best_config"] == max(configs, key=lambda c: configs[c][criterion])
    model = sweep_run["registered_model"]
    version = MlflowClient().get_model_version("stepstone-sweeptest", model["version"])
    assert version.tags["sweep_arm"] == sweep_run["best_arm"]
    assert version.tags["parent_run_id"] == sweep_run["parent_run_id"]
    assert "challenger" in model["aliases"]


def test_prefect_ran_the_arms_as_tasks_and_published_the_table(sweep_run):
    from prefect.client.orchestration import get_client

    async def read():
        async with get_client() as client:
            tasks = await client.read_task_runs()
            artifacts = await client.read_artifacts()
            return tasks, artifacts

    tasks, artifacts = asyncio.run(read())
    assert sum(t.name.startswith("adapt_arm") for t in tasks) >= 8
    table = [a for a in artifacts if a.key == "stepstone-sweep"]
    assert table and table[0].type == "table"


def test_a_sweep_over_a_users_images_crosses_methods_and_paths(
    prefect_server, mlflow_store, tmp_path
):
    """The same sweep on PNG files and a manifest, no labelled target row: accuracy is the
    metric, the label-free DEV chooses, the source model is the reference."""
    raw = image_config(write_user_images(tmp_path / "photos"), name="image-sweep")
    raw["sweep"] = {
        "methods": {"source_only": {}, "dann": {"iterations": [30]}},
        "paths": {"gradual": {}},
        "seeds": [0],
        "validation_rows": 40,
    }
    config = tmp_path / "sweep.yaml"
    config.write_text(yaml.safe_dump(raw))
    out = tmp_path / "summary.json"
    assert main(["sweep", "--config", str(config), "--summary-json", str(out)]) == 0
    summary = json.loads(out.read_text())
    assert summary["criterion"] == "dev"  # no labelled target row: no folds
    assert summary["baseline"]["name"] == "source_model"
    assert summary["baseline"]["metric"] == "accuracy"
    configs = {row["config"]: row for row in summary["configs"]}
    assert set(configs) == {"source_only", "dann[iterations=30]", "gradual"}
    assert all(0 <= row["accuracy_mean"] <= 1 for row in configs.values())
    assert configs["gradual"]["path"] == "gradual"
    assert summary["best_config"] == max(configs, key=lambda c: configs[c]["dev"])
    version = MlflowClient().get_model_version("stepstone-image-sweep", "1")
    assert version.tags["sweep_arm"] == summary["best_arm"]


@pytest.mark.parametrize(
    ("sweep", "target", "message"),
    [
        ({"methods": {"danm": {}}}, {}, "unknown method 'danm'; valid: .*'dann'"),
        ({"methods": {"l2sp": {"alfa": [1.0]}}}, {}, r"sweep.methods.l2sp\[alfa=1.0\] is invalid"),
        ({"methods": {"dann": {}}}, {"unlabelled": 0}, "needs unlabelled target rows"),
        ({"paths": {"gradul": {}}}, {}, "unknown path 'gradul'; valid: .*'gradual'"),
        ({"paths": {"joint": {"pool_wieght": [1]}}}, {}, "transit.joint.pool_wieght: unknown key"),
        ({"paths": {"gradual": {"draws": [3]}}}, {}, "draws > 1 needs selection.jitter"),
    ],
)
def test_bad_sweeps_fail_before_training(tmp_path, dvc_repo, capsys, sweep, target, message):
    config = write_config(
        tmp_path / "bad.yaml",
        dvc_repo / "data" / "bank.csv",
        target={"labelled": 60, **target},
        sweep=sweep,
    )
    assert main(["sweep", "--config", str(config)]) == 2
    assert re.search(message, capsys.readouterr().err)


@pytest.mark.parametrize(
    ("runner", "expected"),
    [
        ("threads", "ThreadPoolTaskRunner"),
        ("processes", "ProcessPoolTaskRunner"),
        ("dask", "DaskTaskRunner"),
    ],
)
def test_the_configured_task_runner_is_used(runner, expected):
    from pipelines.sweep import SweepSpec, task_runner

    assert type(task_runner(SweepSpec(runner=runner, max_workers=3))).__name__ == expected


@pytest.mark.parametrize(
    ("method", "message"),
    [("danm", "'danm' is unknown; valid: .*'dann'"), ("dann", "needs unlabelled target rows")],
)
def test_a_run_config_with_an_unusable_method_fails_when_read(method, message):
    from components.errors import StepstoneError
    from pipelines.config import load_config

    with pytest.raises(StepstoneError, match=message):
        load_config(None, {"adaptation.method": method})
    assert load_config(None, {"adaptation.method": "dann", "target.unlabelled": 300})
