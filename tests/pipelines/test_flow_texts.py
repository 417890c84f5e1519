"""Texts as a user brings them: a CSV of reviews from three shops, run through the same
stages as a table (TF-IDF + MLP, and a tiny transformer built here); the champion scores
raw texts in Python, through `stepstone score` and over HTTP from `mlflow models serve`;
bad text input exits 2."""

from __future__ import annotations

import json
import urllib.request
from dataclasses import replace

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient

from components.data.denoising import fit_denoisers
from components.models import checkpoint
from pipelines.cli import main
from pipelines.config import CANDIDATES, load_config
from pipelines.data_checks import build_splits
from tests.pipelines.conftest import STAGES, assert_failed_and_unregistered, stage_runs
from tests.pipelines.servers import served_model
from tests.pipelines.user_texts import text_config, write_user_texts


def run(tmp_path, raw: dict, code: int = 0) -> dict | None:
    config = write_config(tmp_path, raw)
    out = tmp_path / f"{raw['name']}-summary.json"
    assert main(["run", "--config", str(config), "--summary-json", str(out)]) == code
    return json.loads(out.read_text()) if code == 0 else None


@pytest.fixture(scope="module")
def text_run(prefect_server, mlflow_store, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("user-texts")
    raw = text_config(write_user_texts(root), data={"pool_labels": False})
    return run(root, raw)


def test_user_texts_run_end_to_end_and_the_champion_scores_raw_texts(text_run, tmp_path):
    summary = text_run
    assert set(summary["metrics"]) == {"source_model", *CANDIDATES["text"]} - {
        "network_target_only"  # a transformer's baseline; TF-IDF has the regressions
    }
    # "leaks" (kitchen-only, negative) is learnt only from the target rows: transfer beats
    # the source model, which never saw it.
    assert summary["metrics"]["transfer"]["accuracy"] > 0.85
    client = MlflowClient()
    parent = client.get_run(summary["parent_run_id"])
    assert parent.data.tags["modality"] == "text"
    stages = stage_runs(client, parent)
    assert STAGES <= set(stages)
    assert stages["validate"].data.tags["validation_success"] == "true"
    texts = ["this kettle leaks awful", "great pan love it"]
    served = mlflow.pyfunc.load_model(summary["model_uri"]).predict(pd.DataFrame({"text": texts}))
    assert list(served["label"]) == ["negative", "positive"]
    path = tmp_path / "new.csv"
    pd.DataFrame({"text": texts}).to_csv(path, index=False)
    out = tmp_path / "scored.csv"
    assert main(["score", "--model", summary["model_uri"], "--input", str(path), "--output",
                 str(out)]) == 0  # fmt: skip
    scored = pd.read_csv(out)
    assert set(scored["label"]) == {"negative", "positive"} and scored["rank"].tolist() == [1, 2]


def test_the_pivot_report_is_logged_with_the_shared_sentiment_words(text_run):
    client = MlflowClient()
    evaluate = stage_runs(client, client.get_run(text_run["parent_run_id"]))["evaluate"]
    run_id = evaluate.info.run_id
    assert "Pivot report" in mlflow.artifacts.load_text(f"runs:/{run_id}/evaluation/pivots.md")
    table = pd.DataFrame(mlflow.artifacts.load_dict(f"runs:/{run_id}/evaluation/pivots.json"))
    pivots = table[table["kind"] == "pivot"].set_index("term")
    assert pivots.loc["great", "direction"] == "positive"
    assert pivots.loc["awful", "direction"] == "negative"
    kitchen = table.loc[table["kind"] == "target-specific", "term"]
    assert {"blender", "kettle"} & {word for term in kitchen for word in term.split()}


def test_pool_labels_false_hides_the_pool_labels_from_every_stage(tmp_path):
    config = load_config(
        write_config(tmp_path, text_config(write_user_texts(tmp_path), data={"pool_labels": False}))
    )
    _, splits = build_splits(config)
    assert "label" not in splits["intermediate"].columns and len(splits["intermediate"]) == 200
    assert "label" in splits["source"].columns


def test_a_vocabulary_from_all_non_test_texts_never_sees_a_test_review(
    prefect_server, mlflow_store, tmp_path
):
    """model.vocabulary: all fits TF-IDF on every text but the target test rows: each kitchen
    review carries its own word, which is in the source model's vocabulary exactly when the
    review is not a test row."""
    table = write_user_texts(tmp_path)
    rows = pd.read_csv(table)
    kitchen = rows["shop"] == "kitchen"
    rows.loc[kitchen, "text"] += " " + ("tag" + rows.index[kitchen].astype(str)).to_series(
        index=rows.index[kitchen]
    )
    rows.to_csv(table, index=False)
    raw = text_config(
        table,
        name="all-vocabulary",
        model={"vocabulary": "all", "min_df": 1, "max_features": 100000},
    )
    summary = run(tmp_path, raw)
    _, splits = build_splits(load_config(write_config(tmp_path, raw)))
    test_ids = set(splits["target_test"]["row_id"])
    assert test_ids and len(test_ids) < kitchen.sum()
    folder = mlflow.artifacts.download_artifacts(
        run_id=summary["source"]["run_id"], artifact_path="checkpoint", dst_path=str(tmp_path)
    )
    _, encoder = checkpoint.load(f"{folder}/source.pt")
    for i in rows.index[kitchen]:
        assert (f"tag{i}" in encoder.vocabulary) == (i not in test_ids), i


def test_denoising_layers_learn_from_the_non_test_texts_alone(
    prefect_server, mlflow_store, tmp_path
):
    """model.denoise: the mSDA layers in the source checkpoint are exactly those learned from
    the source, pool and non-test kitchen texts; with the test texts they would differ.
    The registered model scores raw texts through them."""
    raw = text_config(
        write_user_texts(tmp_path), name="denoised", model={"denoise": {"layers": 2, "width": 8}}
    )
    summary = run(tmp_path, raw)
    _, splits = build_splits(load_config(write_config(tmp_path, raw)))
    folder = mlflow.artifacts.download_artifacts(
        run_id=summary["source"]["run_id"], artifact_path="checkpoint", dst_path=str(tmp_path)
    )
    _, encoder = checkpoint.load(f"{folder}/source.pt")
    assert [tuple(w.shape) for w in encoder.denoisers] == [(8, encoder.width - 16 + 1), (8, 9)]
    names = ("source", "intermediate", "target_labelled", "target_unlabelled")
    seen = pd.concat([splits[name][["text"]] for name in names])
    bare = replace(encoder, denoisers=[])
    expected = fit_denoisers(bare.transform(seen), 2, 0.5, 8)
    with_test = fit_denoisers(bare.transform(pd.concat([seen, splits["target_test"]])), 2, 0.5, 8)
    stored = encoder.denoisers[0].float().numpy()
    assert np.allclose(stored, expected[0], atol=2e-3 * np.abs(expected[0]).max())
    assert not np.allclose(stored, with_test[0], atol=2e-3 * np.abs(expected[0]).max())
    texts = pd.DataFrame({"text": ["this kettle leaks awful", "great pan love it"]})
    served = mlflow.pyfunc.load_model(summary["model_uri"]).predict(texts)
    assert set(served["label"]) <= {"negative", "positive"} and len(served) == 2


def write_config(tmp_path, raw: dict):
    path = tmp_path / f"{raw['name']}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_scoring_a_table_without_the_text_column_exits_2(text_run, tmp_path, capsys):
    path = tmp_path / "bad.csv"
    pd.DataFrame({"body": ["great"]}).to_csv(path, index=False)
    code = main(["score", "--model", text_run["model_uri"], "--input", str(path), "--output",
                 str(tmp_path / "o.csv")])  # fmt: skip
    assert code == 2 and "text column 'text'" in capsys.readouterr().err


def test_mlflow_models_serve_answers_an_http_request_with_raw_texts(
    text_run, mlflow_store, tmp_path
):
    with served_model(
        text_run["model_uri"], mlflow_store, tmp_path / "serve.log", timeout=90
    ) as port:
        body = {"dataframe_split": {"columns": ["text"], "data": [["the kettle leaks awful"]]}}
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations",
            json.dumps(body).encode(),
            {"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            predictions = json.loads(response.read())["predictions"]
    assert [p["label"] for p in predictions] == ["negative"]


@pytest.fixture(scope="module")
def tiny_transformer(tmp_path_factory):
    """A randomly initialised 2-layer BERT with a word-level tokenizer over the test words,
    saved as a Hugging Face folder (config.json, weights, tokenizer.json)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import BertConfig, BertModel

    from tests.pipelines.user_texts import OWN, SHARED, SHOP_WORDS

    words = {w for group in (*SHARED.values(), *SHOP_WORDS.values()) for w in group}
    words |= {w for own in OWN.values() for group in own.values() for w in group}
    words = sorted({p for w in words for p in w.split()} | {"the", "a", "it", "this"})
    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", *words])}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    folder = tmp_path_factory.mktemp("tiny-bert")
    tokenizer.save(str(folder / "tokenizer.json"))
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)  # fmt: skip
    BertModel(config).save_pretrained(folder)
    return folder


def test_a_transformer_is_fine_tuned_through_the_same_stages(
    prefect_server, mlflow_store, tiny_transformer, tmp_path
):
    raw = text_config(
        write_user_texts(tmp_path, {"books": 120, "music": 60, "kitchen": 140}),
        name="user-texts-bert",
        target={"labelled": 30, "unlabelled": 40},
        pretrain={"epochs": 2, "batch_size": 16, "lr": 0.001},
        adaptation={"method": "finetune", "train": {"epochs": 2, "batch_size": 16, "lr": 0.001}},
        choice={"criterion": "label_free"},
    )
    raw["model"] = {"kind": "transformer", "path": str(tiny_transformer), "max_length": 6}
    summary = run(tmp_path, raw)
    client = MlflowClient()
    stages = stage_runs(client, client.get_run(summary["parent_run_id"]))
    # every review has 7 or 8 words: all 120 source texts are cut at 6 tokens
    assert stages["validate"].data.metrics["texts_truncated_source"] == 120
    served = mlflow.pyfunc.load_model(summary["model_uri"]).predict(
        pd.DataFrame({"text": ["great kettle", "awful pan"]})
    )
    assert set(served["label"]) <= {"negative", "positive"} and len(served) == 2


BAD = {
    "empty text": ("empty", "empty text"),
    "not UTF-8": ("bytes", "not UTF-8"),
    "no text column": ("column", "no text column 'text'"),
    "label outside the set": ("label", "outside the declared classes"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_text_input_exits_2_marks_the_run_failed_and_registers_nothing(
    case, prefect_server, mlflow_store, tmp_path, capsys
):
    kind, message = BAD[case]
    path = write_user_texts(tmp_path, {"books": 80, "music": 60, "kitchen": 80})
    table = pd.read_csv(path)
    name = f"bad-text-{kind}"
    raw = text_config(path, name=name, target={"labelled": 20, "unlabelled": 20})
    if kind == "empty":
        table.loc[3, "text"] = "   "
    elif kind == "label":
        table.loc[2, "label"] = "neutral"
    elif kind == "column":
        table = table.rename(columns={"text": "body"})
    table.to_csv(path, index=False)
    if kind == "bytes":
        path.write_bytes(path.read_bytes().replace(b"novel", b"nov\xe9l", 1))
    run(tmp_path, raw, code=2)
    assert message in capsys.readouterr().err
    assert_failed_and_unregistered(message, name)
