"""Great Expectations checks of a table of examples (an image manifest: one row per image
file; a table of texts: one row per text): every domain has rows, every example is usable
(its file exists, its text is not empty), labels lie in the declared classes, and the
labelled splits hold more than one class. Images are decoded (and checked) later."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from components.data.classes import label_text
from components.validation.suites import DomainValidation, _examples, run_suite

# great_expectations is imported where a suite is built: it takes seconds (startup time).
if TYPE_CHECKING:
    import great_expectations as gx

USABLE = "_usable"  # added to a copy of the rows: is the row's example usable?


@dataclass(frozen=True)
class Examples:
    """The column that holds each example, the config key that names it, what one example
    is called in messages, and the test of one value (with what a failure means)."""

    column: str
    config_key: str
    noun: str
    usable: Callable[[Any], bool]
    problem: str


def image_files(path_column: str) -> Examples:
    return Examples(
        path_column,
        "data.path_column",
        "images",
        lambda p: isinstance(p, str) and Path(p).is_file(),
        "image file(s) do not exist; fix the manifest's paths (relative to the manifest)",
    )


def texts(text_column: str) -> Examples:
    return Examples(
        text_column,
        "data.text_column",
        "texts",
        lambda t: isinstance(t, str) and bool(t.strip()),
        "empty text(s); fill or drop those rows",
    )


def examples_suite(
    name: str,
    examples: Examples,
    label_column: str,
    classes: list,
    *,
    labelled: bool,
    min_rows: int,
    several_classes: bool,
    required: dict[str, str] | None,
    present: set[str],
) -> gx.ExpectationSuite:
    """The ExpectationSuite one split of a table of examples must meet."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    found = [gxe.ExpectTableRowCountToBeBetween(min_value=min_rows)]
    for column, key in {examples.column: examples.config_key, **(required or {})}.items():
        found.append(gxe.ExpectColumnToExist(column=column, meta={"config_key": key}))
    if examples.column in present:
        found += [
            gxe.ExpectColumnValuesToNotBeNull(column=examples.column),
            gxe.ExpectColumnValuesToBeInSet(column=USABLE, value_set=[True]),
        ]
    if labelled:
        found.append(gxe.ExpectColumnToExist(column=label_column))
        if label_column in present:
            found += [
                gxe.ExpectColumnValuesToNotBeNull(column=label_column),
                gxe.ExpectColumnValuesToBeInSet(
                    column=label_column, value_set=[str(c) for c in classes]
                ),
            ]
            if several_classes:
                found.append(
                    gxe.ExpectColumnUniqueValueCountToBeBetween(column=label_column, min_value=2)
                )
    return gx.ExpectationSuite(name=name, expectations=found)


def validate_examples(
    rows: pd.DataFrame,
    name: str,
    examples: Examples,
    label_column: str,
    classes: list,
    *,
    labelled: bool,
    min_rows: int = 1,
    several_classes: bool = False,
    required: dict[str, str] | None = None,
) -> DomainValidation:
    """Check one split; never raises on bad data, reports it."""
    table = rows.copy()
    if examples.column in table.columns:
        table[USABLE] = [examples.usable(v) for v in table[examples.column]]
    if label_column in table.columns:  # labels compared as text: 3, 3.0 and "3" are one class
        table[label_column] = table[label_column].map(label_text, na_action="ignore")
    suite = examples_suite(
        name,
        examples,
        label_column,
        classes,
        labelled=labelled,
        min_rows=min_rows,
        several_classes=several_classes,
        required=required,
        present=set(table.columns),
    )
    result = run_suite(table, suite)
    failures = [
        _describe(r, table, examples, label_column, classes)
        for r in result.results
        if not r.success
    ]
    return DomainValidation(name, bool(result.success), len(rows), failures, result.to_json_dict())


def _describe(r, table: pd.DataFrame, examples: Examples, label_column: str, classes: list) -> str:
    kind, res = r.expectation_config.type, dict(r.result or {})
    column = r.expectation_config.kwargs.get("column")
    if kind == "expect_table_row_count_to_be_between":
        return (
            f"has {len(table)} {examples.noun}, expected at least "
            f"{r.expectation_config.kwargs.get('min_value')}; check the domain's query under "
            "data.domains, or the data"
        )
    if kind == "expect_column_to_exist":
        key = (r.expectation_config.meta or {}).get("config_key", "data.label.column")
        return f"column '{column}' is missing from the data; add it, or fix {key}"
    if column == USABLE:
        bad = table.index[~table[USABLE].astype(bool)]
        shown = [f"row {i}: {str(table.at[i, examples.column])[:40]!r}" for i in bad[:3]]
        return (
            f"column '{examples.column}': {res.get('unexpected_count')} {examples.problem}; "
            f"e.g. {shown}"
        )
    if kind == "expect_column_values_to_be_in_set":
        return (
            f"label column '{column}' has {res.get('unexpected_count')} value(s) outside the "
            f"declared classes {classes}, e.g. {_examples(res)}; fix the data or "
            "data.label.classes"
        )
    if kind == "expect_column_values_to_not_be_null":
        what = f"missing {examples.noun}" if column == examples.column else "missing label(s)"
        return (
            f"column '{column}' has {res.get('unexpected_count')} {what}; fill or drop those rows"
        )
    if kind == "expect_column_unique_value_count_to_be_between":
        return (
            f"label column '{column}' holds only {res.get('observed_value')} class; at least "
            "two are needed to train and evaluate: check the domain's query"
        )
    return f"column '{column}': {kind} failed ({res})"
