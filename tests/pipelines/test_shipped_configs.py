"""Every YAML in configs/ passes `stepstone validate` on its data, and the small ones run
end to end. The image and review cases that need prepared files are prepared small, into a temp dir,
by the same `components.data.prepare` code `stepstone data` uses; a variant names the
shipped config as its `base` and changes only the data path and sizes."""

from __future__ import annotations

import pytest
import yaml

from components.data.amazon_reviews import prepare_amazon_reviews
from components.data.images import RotationSpec
from components.data.prepare import prepare_mnist_usps, prepare_rotating_mnist
from pipelines.cli import main
from pipelines.config import REPO_ROOT

CONFIGS = sorted((REPO_ROOT / "configs").glob("*.yaml"))
SMALL = {  # what each prepared case changes, besides data.path
    "rotating_mnist.yaml": {"target": {"unlabelled": 100}},
    "mnist_usps.yaml": {"target": {"unlabelled": 60}},
    "usps_mnist.yaml": {"target": {"unlabelled": 60}},
    "amazon_books_kitchen.yaml": {},
}


def prepared_variant(config, tmp_path):
    """The config itself, or (for cases needing prepared files) a small variant of it."""
    if config.name not in SMALL:
        return config
    out = tmp_path / "prepared"
    if config.name == "rotating_mnist.yaml":
        spec = RotationSpec(source=120, val=0, pool=200, target=100, test=100)
        manifest = prepare_rotating_mnist(out, spec=spec)
    elif config.name == "amazon_books_kitchen.yaml":
        manifest = prepare_amazon_reviews(out)
    else:
        manifest = prepare_mnist_usps(out, mnist_rows=150, usps_rows=320, pool_rows=60)
    variant = {"base": str(config), "data": {"path": str(manifest)}, **SMALL[config.name]}
    path = tmp_path / config.name
    path.write_text(yaml.safe_dump(variant))
    return path


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_every_shipped_config_validates_its_data(config, tmp_path, capsys):
    assert main(["validate", "--config", str(prepared_variant(config, tmp_path))]) == 0
    assert "| fail |" not in capsys.readouterr().out


def test_the_digits_demo_runs_end_to_end(prefect_server, mlflow_store, tmp_path):
    variant = {
        "base": str(REPO_ROOT / "configs" / "digits_demo.yaml"),
        "pretrain": {"epochs": 3},
        "selection": {"chunks": 3},
        "transit": {"gradual": {"train": {"epochs": 1}}},
        "registry": {"model_name": "stepstone-digits-smoke"},
    }
    path = tmp_path / "digits.yaml"
    path.write_text(yaml.safe_dump(variant))
    assert main(["run", "--config", str(path)]) == 0
