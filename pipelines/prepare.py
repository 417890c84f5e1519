"""`stepstone data CASE --out DIR`: write a built-in case, then version the folder with DVC,
so it runs through `stepstone run` exactly like a user's own data. The image cases (rotated
digits, Rotating MNIST, MNIST->USPS) become image files + a manifest; `amazon-reviews`
becomes one table of labelled review text (reviews.parquet)."""

from __future__ import annotations

from pathlib import Path

from components.data import prepare
from components.data.amazon_reviews import prepare_amazon_reviews
from components.errors import StepstoneError
from pipelines.data_version import find_dvc_file
from pipelines.settings import REPO_ROOT

CASES = {
    "digits": prepare.prepare_digits,
    "rotating-mnist": prepare.prepare_rotating_mnist,
    "mnist-usps": prepare.prepare_mnist_usps,
    "amazon-reviews": prepare_amazon_reviews,
}


def dvc_track(folder: Path) -> str:
    """`dvc add` the folder, or the DVC-tracked folder that holds it; return the .dvc file
    (nothing when the folder is outside this repository)."""
    folder = folder.resolve()
    if REPO_ROOT not in folder.parents:
        return ""
    tracked = find_dvc_file(folder)
    target = tracked.with_suffix("") if tracked is not None else folder
    from dvc.repo import Repo  # slow import, only when something is to be versioned

    try:
        with Repo(str(REPO_ROOT)) as repo:
            repo.add(str(target.relative_to(REPO_ROOT)))
    except Exception as exc:  # DVC raises many kinds; all mean "could not version it"
        raise StepstoneError(f"`dvc add {target}` failed: {exc}") from exc
    return str(target.with_name(target.name + ".dvc").relative_to(REPO_ROOT))


def prepare_case(case: str, out: Path, seed: int = 0, track: bool = True) -> tuple[Path, str]:
    """Write `case` under `out`; return the file to read (manifest or table) and the .dvc
    file that versions it."""
    if case not in CASES:
        raise StepstoneError(f"unknown data case {case!r}; choose one of {sorted(CASES)}.")
    manifest = CASES[case](Path(out), seed=seed)
    return manifest, dvc_track(Path(out)) if track else ""
