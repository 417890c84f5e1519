"""Split the target domain into a few labelled rows, optional unlabelled rows and a test set."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from components.errors import StepstoneError


@dataclass(frozen=True)
class TargetSplit:
    """Target rows by use. `test` is never used for training, selection or model choice."""

    labelled: pd.DataFrame
    unlabelled: pd.DataFrame
    test: pd.DataFrame


def split_target(
    target: pd.DataFrame, label: str, n_labelled: int, n_unlabelled: int = 0, seed: int = 0
) -> TargetSplit:
    """Stratified, seeded split: `n_labelled` rows for training (0 for unsupervised
    adaptation), `n_unlabelled` whose labels are hidden, and every remaining row as the test set."""
    n_rows = len(target)
    if n_rows == 0:
        raise StepstoneError(
            "the target domain is empty: its data.domains.target query matched no rows. "
            "Fix the query or the data."
        )
    if label not in target.columns:
        raise StepstoneError(
            f"the target rows have no label column {label!r}; add it or fix data.schema.label.column."
        )
    if target[label].isna().any():
        raise StepstoneError(
            f"{int(target[label].isna().sum())} target rows have no label in column {label!r}; "
            "label them or drop them from the target domain."
        )
    if n_labelled + n_unlabelled >= n_rows:
        raise StepstoneError(
            f"target has {n_rows} rows but target.labelled={n_labelled} and "
            f"target.unlabelled={n_unlabelled} leave no test rows; lower them."
        )
    counts = target[label].value_counts()
    n_classes = len(counts)
    n_test = n_rows - n_labelled - n_unlabelled
    if n_test < n_classes or 0 < n_labelled < n_classes or 0 < n_unlabelled < n_classes:
        raise StepstoneError(
            f"a stratified target split needs at least {n_classes} rows in each part, got "
            f"labelled={n_labelled}, unlabelled={n_unlabelled}, test={n_test}; change "
            "target.labelled / target.unlabelled in the scenario YAML."
        )
    if len(counts) < 2 or counts.min() < 2:
        raise StepstoneError(
            f"target label {label!r} needs at least 2 rows of each class to split, got "
            f"{counts.to_dict()}; add labelled target rows of the missing class."
        )
    from sklearn.model_selection import train_test_split  # ~1 s to import: only to split

    if n_labelled:
        labelled, rest = train_test_split(
            target, train_size=n_labelled, stratify=target[label], random_state=seed
        )
    else:  # unsupervised adaptation: no labelled target rows
        labelled, rest = target.iloc[:0], target
    if n_unlabelled:
        unlabelled, test = train_test_split(
            rest, train_size=n_unlabelled, stratify=rest[label], random_state=seed
        )
        unlabelled = unlabelled.drop(columns=[label])
    else:
        unlabelled, test = rest.iloc[:0].drop(columns=[label]), rest
    return TargetSplit(
        labelled.reset_index(drop=True),
        unlabelled.reset_index(drop=True),
        test.reset_index(drop=True),
    )
