"""The scoring door: `stepstone score` and `mlflow models serve` on a real logged model refuse
rows they cannot score with a message naming the column (and row) -- exit 2 / HTTP 400 --
and score unknown categories, counting them per column."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import mlflow
import pandas as pd
import pytest
import torch
import yaml

from components.data.preprocess import TabularPreprocessor
from components.data.schema import TableSchema
from components.models import checkpoint
from components.models.tabular_mlp import TabularMLP
from pipelines.cli import main
from pipelines.packaging import log_scorer
from pipelines.settings import REPO_ROOT
from tests.pipelines.servers import served_model

MODEL = "stepstone-door"


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('door') / 'mlflow.db'}"


@pytest.fixture(scope="module")
def customers(bank_slice) -> pd.DataFrame:
    """Raw rows as a user would score them: no label, no `duration`."""
    return bank_slice.drop(columns=["y", "duration"]).head(40).reset_index(drop=True)


@pytest.fixture(scope="module")
def model_uri(store, bank_slice, tmp_path_factory) -> str:
    """A real tabular model (preprocessing fitted on the bank slice, a seeded network; its
    weights do not matter at this door), logged and registered the way the pipeline does it
    (pipelines.packaging.log_scorer)."""
    raw = yaml.safe_load((REPO_ROOT / "configs" / "loan_marketing.yaml").read_text())
    schema = TableSchema(**raw["data"]["schema"])
    preprocessor = TabularPreprocessor.fit(bank_slice, schema)
    torch.manual_seed(0)
    net = TabularMLP(preprocessor.cardinalities, len(preprocessor.means)).eval()
    path = checkpoint.save(tmp_path_factory.mktemp("ck") / "model.pt", net, preprocessor)
    mlflow.set_tracking_uri(store)
    mlflow.set_registry_uri(store)
    experiment = mlflow.create_experiment(
        "door", artifact_location=(path.parent / "artifacts").as_uri()
    )
    with mlflow.start_run(experiment_id=experiment) as run:
        log_scorer(path, bank_slice.drop(columns=["y"]))
    mlflow.register_model(f"runs:/{run.info.run_id}/model", MODEL)
    return f"models:/{MODEL}/1"


def test_loading_the_model_leaves_the_process_thread_budget_alone(model_uri, store, customers):
    """MLflow loads the model in-process when it logs it (to check the input example); a
    scorer that set torch's threads there slowed every later stage of the run to one core."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        mlflow.set_tracking_uri(store)
        mlflow.pyfunc.load_model(model_uri).predict(customers.head(3))
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def score(model_uri, store, frame_or_text, tmp_path, monkeypatch, capsys, name="in.csv"):
    """`stepstone score` on a CSV; returns (exit code, stdout, stderr, output path)."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    source = tmp_path / name
    if isinstance(frame_or_text, pd.DataFrame):
        frame_or_text.to_csv(source, index=False)
    else:
        source.write_text(frame_or_text)
    out = tmp_path / "ranked.csv"
    code = main(["score", "--model", model_uri, "--input", str(source), "--output", str(out)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err, out


def with_value(frame: pd.DataFrame, column: str, row: int, value) -> pd.DataFrame:
    changed = frame.astype({column: object}).copy()
    changed.loc[row, column] = value
    return changed


BAD = {
    "missing age": (lambda f: f.drop(columns=["age"]), ["lacks column(s) ['age']"]),
    "missing two": (
        lambda f: f.drop(columns=["job", "euribor3m"]),
        ["lacks column(s) ['job', 'euribor3m']"],
    ),
    "text in age": (
        lambda f: with_value(f, "age", 2, "forty"),
        ["column 'age' must be numeric", "row 3 holds 'forty'"],
    ),
    "comma decimal": (
        lambda f: with_value(f, "euribor3m", 0, "4,857"),
        ["column 'euribor3m' must be numeric", "row 1 holds '4,857'"],
    ),
    "true/false in campaign": (
        lambda f: f.assign(campaign=True),
        ["column 'campaign' must be numeric but holds true/false"],
    ),
    "header only": (lambda f: f.head(0), ["no rows to score"]),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_csv_exits_2_with_the_column(
    case, model_uri, store, customers, tmp_path, monkeypatch, capsys
):
    make, expected = BAD[case]
    code, out, err, ranked = score(model_uri, store, make(customers), tmp_path, monkeypatch, capsys)
    assert code == 2, (out, err)
    assert err.startswith("stepstone: error: cannot score")
    for text in expected:
        assert text in err
    assert "Traceback" not in err and "Failed to enforce schema" not in err
    assert not ranked.exists()


def test_empty_file_and_missing_file(model_uri, store, tmp_path, monkeypatch, capsys):
    code, _, err, _ = score(model_uri, store, "", tmp_path, monkeypatch, capsys)
    assert code == 2 and "is empty" in err
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    code = main(
        [
            "score",
            "--model",
            model_uri,
            "--input",
            str(tmp_path / "nope.csv"),
            "--output",
            str(tmp_path / "o.csv"),
        ]
    )
    assert code == 2 and "input file not found" in capsys.readouterr().err


def test_unknown_model_is_a_clear_error(model_uri, store, customers, tmp_path, monkeypatch, capsys):
    code, _, err, _ = score(f"models:/{MODEL}/9", store, customers, tmp_path, monkeypatch, capsys)
    assert code == 2 and "cannot load model" in err and "MLFLOW_TRACKING_URI points at" in err


def test_unknown_categories_are_scored_and_counted(
    model_uri, store, customers, tmp_path, monkeypatch, capsys
):
    rows = customers.copy()
    rows.loc[[1, 5], "job"] = "astronaut"
    rows.loc[7, "marital"] = "complicated"
    rows.loc[3, "age"] = None  # a blank numeric cell is scored (as the training mean)
    code, out, err, ranked = score(model_uri, store, rows, tmp_path, monkeypatch, capsys)
    assert code == 0, err
    counted = (
        "unknown categories (scored as unseen): job 2 ('astronaut'); marital 1 ('complicated')"
    )
    assert f"stepstone: warning: {tmp_path / 'in.csv'}: {counted}" in err
    assert out.strip() == f"scored {len(rows)} rows -> {ranked}; {counted}"
    scored = pd.read_csv(ranked)
    assert len(scored) == len(rows) and scored["score"].between(0, 1).all()


def test_good_rows_have_no_warning(model_uri, store, customers, tmp_path, monkeypatch, capsys):
    code, out, err, ranked = score(model_uri, store, customers, tmp_path, monkeypatch, capsys)
    assert code == 0 and "warning" not in err and "unknown" not in out
    assert list(pd.read_csv(ranked)["rank"]) == list(range(1, len(customers) + 1))


def test_columns_the_model_never_saw_are_kept_not_sent(
    model_uri, store, customers, tmp_path, monkeypatch, capsys, caplog
):
    rows = customers.assign(customer_id=[f"c{i}" for i in range(len(customers))])
    code, _, err, ranked = score(model_uri, store, rows, tmp_path, monkeypatch, capsys)
    assert code == 0, err
    assert "extra inputs" not in err + caplog.text  # MLflow's warning, logged
    scored = pd.read_csv(ranked).sort_values("customer_id", key=lambda c: c.str[1:].astype(int))
    assert list(scored["customer_id"]) == list(rows["customer_id"])
    assert scored["score"].between(0, 1).all()


def post(port: int, frame: pd.DataFrame) -> tuple[int, dict]:
    body = json.dumps({"dataframe_split": json.loads(frame.to_json(orient="split", index=False))})
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/invocations", body.encode(), {"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_mlflow_models_serve_answers_400_with_our_message(model_uri, store, customers, tmp_path):
    with served_model(model_uri, store, tmp_path / "serve.log") as port:
        status, good = post(port, customers.head(5))
        assert status == 200 and len(good["predictions"]) == 5

        status, missing = post(port, customers.head(5).drop(columns=["age"]))
        assert status == 400 and missing["error_code"] == "INVALID_PARAMETER_VALUE"
        assert "lacks column(s) ['age']" in missing["message"]
        assert "stack_trace" not in missing

        status, bad = post(port, with_value(customers.head(5), "age", 1, "forty"))
        assert status == 400 and "row 2 holds 'forty'" in bad["message"]

        status, unknown = post(port, customers.head(3).assign(job="astronaut"))
        assert status == 200 and len(unknown["predictions"]) == 3
    assert (
        "unknown categories (scored as unseen): job 3 ('astronaut')"
        in (tmp_path / "serve.log").read_text()
    )
