"""Scenario YAMLs: every shipped one loads, and a variant names its `base` and only what differs."""

from __future__ import annotations

import pytest
import yaml
from pydantic import ValidationError

from components.errors import StepstoneError
from pipelines.config import DEFAULT_CONFIG, REPO_ROOT, load_config
from pipelines.sweep_grid import SweepConfig

CONFIGS = REPO_ROOT / "configs"


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_config_loads(path):
    schema = {"schema": SweepConfig} if "sweep" in path.name else {}
    assert load_config(path, **schema).name


def test_a_variant_merges_over_its_base_key_by_key(tmp_path):
    (tmp_path / "nested").mkdir()
    variant = tmp_path / "nested" / "variant.yaml"
    variant.write_text(
        f"base: {CONFIGS / 'loan_marketing.yaml'}\n"
        "selection: {method: kernel}\n"
        "adaptation: {train: {epochs: 3}}\n"
    )
    default, changed = load_config(CONFIGS / "loan_marketing.yaml"), load_config(variant)
    assert changed.selection.method == "kernel"
    assert changed.selection.fraction == default.selection.fraction  # sibling keys kept
    assert changed.adaptation.train.epochs == 3
    assert changed.adaptation.train.lr == default.adaptation.train.lr
    assert changed.data == default.data


def test_a_variant_that_names_another_model_kind_replaces_the_model(tmp_path):
    variant = tmp_path / "minilm.yaml"
    variant.write_text(
        f"base: {CONFIGS / 'amazon_books_kitchen.yaml'}\n"
        "model: {kind: transformer, max_length: 64}\n"
        "adaptation: {train: {epochs: 1}}\n"
    )
    changed = load_config(variant)  # the base's TF-IDF keys (max_features, ...) are not kept
    assert changed.model.kind == "transformer" and changed.model.max_length == 64
    assert changed.adaptation.method == "dann"  # mappings without a kind still merge


def test_a_relative_base_is_read_beside_the_variant_and_must_exist(tmp_path):
    (tmp_path / "base.yaml").write_text((CONFIGS / "loan_marketing.yaml").read_text())
    (tmp_path / "variant.yaml").write_text("base: base.yaml\nseed: 7\n")
    assert load_config(tmp_path / "variant.yaml").seed == 7
    (tmp_path / "broken.yaml").write_text("base: missing.yaml\n")
    with pytest.raises(StepstoneError, match="config file not found: .*missing.yaml"):
        load_config(tmp_path / "broken.yaml")


def test_an_unsupervised_scenario_refuses_a_method_that_needs_target_labels(tmp_path):
    variant = tmp_path / "images.yaml"
    variant.write_text(
        f"base: {CONFIGS / 'digits_demo.yaml'}\n"
        "transit: {path: direct}\nadaptation: {method: finetune}\n"
    )
    with pytest.raises(StepstoneError, match="'finetune' needs labelled target rows.*'dann'"):
        load_config(variant)
    variant.write_text(
        f"base: {CONFIGS / 'digits_demo.yaml'}\n"
        "transit: {path: direct}\nadaptation: {method: dann}\n"
    )
    assert load_config(variant).adaptation.method == "dann"  # direct DANN needs no labels


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("model: {kind: mlp}", "model.kind 'mlp' is not a image network.*small_cnn"),
        ("model: {kind: vit}", "model.kind 'vit' is not a image network"),
        (
            "data: {schema: {label: {column: y, positive: 1, negative: 0}}}",
            "data.schema: unknown key",
        ),
        ("images: {dataset: digits}", "images: unknown key"),
        (
            "model: {kind: torchvision, weights: /no/such.pth}",
            "model.weights: Value error, weights file",
        ),
    ],
)
def test_an_image_config_names_the_key_that_does_not_belong(tmp_path, extra, message):
    variant = tmp_path / "images.yaml"
    variant.write_text(f"base: {CONFIGS / 'digits_demo.yaml'}\n{extra}\n")
    with pytest.raises(StepstoneError, match=message):
        load_config(variant)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("transit: {draws: 2, path: gradual}", "needs selection.jitter > 0.*or transit.draws: 1"),
        ("transit: {draws: 2, path: progressive}\nselection: {jitter: 0.3}", "path: gradual"),
        ("transit: {draws: 0}", "transit.draws: Input should be greater than or equal to 1"),
    ],
)
def test_transit_draws_need_a_jittered_gradual_path(tmp_path, extra, message):
    for base in ("digits_demo.yaml", "loan_marketing.yaml"):
        variant = tmp_path / "draws.yaml"
        variant.write_text(f"base: {CONFIGS / base}\n{extra}\n")
        with pytest.raises(StepstoneError, match=message):
            load_config(variant)
    table = tmp_path / "table.yaml"
    table.write_text(
        f"base: {CONFIGS / 'loan_marketing.yaml'}\n"
        "transit: {draws: 3, path: gradual}\nselection: {jitter: 0.2}\n"
    )
    assert load_config(table).transit.draws == 3  # tables walk jittered draws too


def test_listed_stepping_stones_default_to_the_given_order(tmp_path):
    """data.domains.intermediate as a list: the selector is `given`, one chunk per stone,
    unless the scenario names another selector (which then orders the whole pool)."""
    from pipelines.config import PipelineConfig

    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    stones = ["year == 2009 and month <= 'jun'", "year == 2009 and month > 'jun'"]
    raw["data"]["domains"]["intermediate"] = stones
    raw["selection"] = {"fraction": 0.5}  # no method named: the listed order
    config = PipelineConfig.model_validate(raw)
    assert config.selection.method == "given" and config.selection.chunks == 2
    chosen = PipelineConfig.model_validate({**raw, "selection": {"method": "kernel"}})
    assert chosen.selection.method == "kernel" and chosen.selection.chunks == 4  # the default
    for selection, message in [
        ({"method": "given", "chunks": 3}, "lists 2 stepping stones"),
        ({"jitter": 0.2}, "selection.jitter re-cuts the chunks"),
    ]:
        with pytest.raises(ValidationError, match=message):
            PipelineConfig.model_validate({**raw, "selection": selection})
    one = yaml.safe_load(DEFAULT_CONFIG.read_text())
    with pytest.raises(ValidationError, match="needs data.domains.intermediate as an ordered"):
        PipelineConfig.model_validate({**one, "selection": {"method": "given"}})
    one["data"]["domains"]["source"] = ["year == 2008"]
    with pytest.raises(ValidationError, match="data.domains.source must be one query"):
        PipelineConfig.model_validate(one)
