"""Every kind of bad input: a message naming the problem and the fix, a non-zero exit,
the MLflow parent run FAILED, and nothing registered or moved in the registry."""

from __future__ import annotations

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from pipelines.cli import main
from tests.pipelines.conftest import write_config


def registry_state(client: MlflowClient) -> dict:
    versions = client.search_model_versions("name = 'stepstone-test'")
    return {
        (v.version, tuple(sorted(client.get_model_version(v.name, v.version).aliases)))
        for v in versions
    }


def latest_run(client: MlflowClient, experiment: str):
    """The newest parent (flow-level) run of `experiment`."""
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs(
        [exp.experiment_id], order_by=["attributes.start_time DESC"], max_results=20
    )
    return next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)


def run_bad(config, capsys, experiment="stepstone-test"):
    """Run the CLI on a bad scenario; return (exit code, stderr, the latest parent run)."""
    client = MlflowClient()
    before = registry_state(client)
    code = main(["run", "--config", str(config)])
    err = capsys.readouterr().err
    assert registry_state(client) == before, "a failed run must not register or move aliases"
    assert "Traceback" not in err, err
    return code, err, latest_run(client, experiment)


def assert_logged_without_traceback(caplog, expected: str) -> None:
    """Prefect logged the failed run's error in one line: the user caused it, so no traceback."""
    failures = [
        r for r in caplog.records if r.name.startswith("prefect.") and expected in r.getMessage()
    ]
    assert failures, "Prefect should log the failed run with its error"
    assert all(r.exc_info is None for r in failures)


def break_data(bank_slice: pd.DataFrame, how: str) -> pd.DataFrame:
    rows = bank_slice.copy()
    if how == "missing_column":
        return rows.drop(columns=["job"])
    if how == "unknown_category":
        rows.loc[rows.index[:3], "marital"] = "complicated"
        return rows
    if how == "nan":
        rows["age"] = rows["age"].astype("float64")
        rows.loc[rows.index[5], "age"] = float("nan")
        return rows
    if how == "unknown_label":
        rows.loc[rows.index[7], "y"] = "maybe"
        return rows
    raise ValueError(how)


@pytest.mark.parametrize(
    ("how", "expected"),
    [
        ("missing_column", "'job' is missing"),
        ("unknown_category", "complicated"),
        ("nan", "age"),
        ("unknown_label", "maybe"),
    ],
)
def test_bad_data_fails_validation(how, expected, first_run, bank_slice, tmp_path, capsys, caplog):
    data = tmp_path / "bank.csv"
    break_data(bank_slice, how).to_csv(data, sep=";", index=False)
    code, err, run = run_bad(write_config(tmp_path / "c.yaml", data), capsys)
    assert code == 2
    assert "data validation failed" in err and expected in err
    assert run.info.status == "FAILED" and expected in run.data.tags["error"]
    assert_logged_without_traceback(caplog, expected)


def test_empty_domain(first_run, bank_slice, tmp_path, capsys):
    data = tmp_path / "bank.csv"
    bank_slice.to_csv(data, sep=";", index=False)
    config = write_config(tmp_path / "c.yaml", data)
    text = config.read_text().replace("year == 2009", "year == 2042")
    config.write_text(text)
    code, err, run = run_bad(config, capsys)
    assert code == 2 and "intermediate" in err and "row" in err
    assert run.info.status == "FAILED"


def test_one_class_labelled_target(first_run, bank_slice, tmp_path, capsys):
    data = tmp_path / "bank.csv"
    rows = bank_slice.copy()
    year = (
        rows["month"]
        .map(["mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"].index)
        .diff()
        .lt(0)
        .cumsum()
    )
    rows.loc[year == 2, "y"] = "no"  # every 2010 customer declined
    rows.to_csv(data, sep=";", index=False)
    code, err, run = run_bad(write_config(tmp_path / "c.yaml", data), capsys)
    assert code == 2 and "target" in err and "class" in err
    assert run.info.status == "FAILED"


def test_missing_and_unreadable_files(first_run, tmp_path, capsys):
    code, err, run = run_bad(write_config(tmp_path / "c.yaml", tmp_path / "nope.csv"), capsys)
    assert code == 2 and "not found" in err and "nope.csv" in err and "data.path" in err
    assert run.info.status == "FAILED"

    garbage = tmp_path / "garbage.csv.gz"
    garbage.write_bytes(b"\x00\x01 not gzip at all")
    code, err, run = run_bad(write_config(tmp_path / "g.yaml", garbage), capsys)
    assert code == 2 and "cannot read" in err and "garbage.csv.gz" in err
    assert run.info.status == "FAILED"


def test_malformed_yaml_and_unknown_key(first_run, scenario_config, tmp_path, capsys, caplog):
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n")
    code, err, run = run_bad(broken, capsys, experiment="stepstone")
    assert code == 2 and "not valid YAML" in err
    assert run.info.status == "FAILED" and "YAML" in run.data.tags["error"]
    assert_logged_without_traceback(caplog, "not valid YAML")

    typo = tmp_path / "typo.yaml"
    typo.write_text(scenario_config.read_text().replace("pretrain:", "pretrian:"))
    code, err, run = run_bad(typo, capsys, experiment="stepstone")
    assert code == 2 and "pretrian" in err and "unknown key" in err
    assert run.info.status == "FAILED"
