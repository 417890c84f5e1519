"""Scenario YAMLs: every shipped one loads, and a variant names its `base` and only what differs."""

from __future__ import annotations

import pytest

from components.errors import StepstoneError
from pipelines.config import REPO_ROOT, load_config
from pipelines.sweep import SweepConfig

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


def test_a_relative_base_is_read_beside_the_variant_and_must_exist(tmp_path):
    (tmp_path / "base.yaml").write_text((CONFIGS / "loan_marketing.yaml").read_text())
    (tmp_path / "variant.yaml").write_text("base: base.yaml\nseed: 7\n")
    assert load_config(tmp_path / "variant.yaml").seed == 7
    (tmp_path / "broken.yaml").write_text("base: missing.yaml\n")
    with pytest.raises(StepstoneError, match="config file not found: .*missing.yaml"):
        load_config(tmp_path / "broken.yaml")


def test_an_image_scenario_refuses_a_path_that_needs_target_labels(tmp_path):
    variant = tmp_path / "images.yaml"
    variant.write_text(f"base: {CONFIGS / 'digits_demo.yaml'}\ntransit: {{path: direct}}\n")
    with pytest.raises(StepstoneError, match="'direct' needs labelled target rows.*'gradual'"):
        load_config(variant)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("transit: {draws: 2}", "needs selection.jitter > 0.*or transit.draws: 1"),
        ("transit: {draws: 2, path: progressive}\nselection: {jitter: 0.3}", "path: gradual"),
        ("transit: {draws: 0}", "transit.draws: Input should be greater than or equal to 1"),
    ],
)
def test_transit_draws_need_a_jittered_gradual_image_path(tmp_path, extra, message):
    variant = tmp_path / "draws.yaml"
    variant.write_text(f"base: {CONFIGS / 'digits_demo.yaml'}\n{extra}\n")
    with pytest.raises(StepstoneError, match=message):
        load_config(variant)
    table = tmp_path / "table.yaml"
    table.write_text(f"base: {CONFIGS / 'loan_marketing.yaml'}\ntransit: {{draws: 3}}\n")
    with pytest.raises(StepstoneError, match="supported for image scenarios"):
        load_config(table)
