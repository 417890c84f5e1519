"""`stepstone validate` and the CLI's help and error handling (no Prefect or MLflow needed)."""

from __future__ import annotations

import pytest

from pipelines.cli import main
from tests.pipelines.conftest import write_config


@pytest.mark.parametrize("command", ["run", "validate", "lineage", "score"])
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: stepstone" in capsys.readouterr().out


def test_validate_passes_on_good_data_and_prints_the_report(scenario_config, capsys):
    assert main(["validate", "--config", str(scenario_config)]) == 0
    out = capsys.readouterr().out
    assert "md5" in out and "target_labelled" in out and "euribor3m" in out  # drift is reported


def test_validate_fails_on_bad_data_with_the_column_named(bank_slice, tmp_path, capsys):
    data = tmp_path / "bank.csv"
    rows = bank_slice.copy()
    rows.loc[rows.index[:2], "education"] = "phd"
    rows.to_csv(data, sep=";", index=False)
    assert main(["validate", "--config", str(write_config(tmp_path / "c.yaml", data))]) == 1
    out = capsys.readouterr().out
    assert "data validation failed" in out and "education" in out and "phd" in out


def test_unknown_model_uri_is_a_clear_error(mlflow_store, capsys):
    assert main(["lineage", "models:/no-such-model@champion"]) == 2
    assert (
        "no registered model version at models:/no-such-model@champion" in capsys.readouterr().err
    )
