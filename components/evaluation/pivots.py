"""Pivot report: the words a model's decisions lean on, shared across domains or not.

A logistic probe on TF-IDF terms imitates the model's predicted classes (model-agnostic);
its coefficient per term is how the decisions lean on that term. The term's document share
in source and in target rows labels it a pivot (common in both) or source/target-specific."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

KINDS = ("pivot", "source-specific", "target-specific")
COLUMNS = ["term", "kind", "weight", "direction", "df_source", "df_target"]


def _classes(predicted: np.ndarray) -> np.ndarray:
    """Class indices from class indices, P(positive) in [0, 1], or [n, k] probabilities."""
    p = np.asarray(predicted)
    if p.ndim == 2:
        return p.argmax(1)
    if p.dtype.kind == "f":
        if np.all((p >= 0) & (p <= 1)):
            return (p >= 0.5).astype(int)
        if not np.all(p == np.round(p)):
            raise ValueError("predicted floats must be P(positive) in [0, 1] or whole classes")
    return p.astype(int)


def pivot_table(
    texts: Sequence[str],
    domains: Sequence[str],
    predicted: np.ndarray,
    source: str,
    target: str,
    top: int = 20,
    seed: int = 0,
    *,
    min_share: float = 0.01,
    max_ratio: float = 3.0,
    min_count: int = 3,
    max_terms: int = 20000,
    C: float = 1.0,
) -> pd.DataFrame:
    """The `top` terms by |probe weight| for each kind and direction, sorted by kind then
    |weight| descending; df.attrs["probe_agreement"] is the probe's accuracy against
    `predicted` on these rows (how faithfully the weights describe the model).

    `predicted` covers every row (all domains; all train the probe, only source and target
    rows give the document shares). A term is a pivot if it is in at least `min_share` of
    the source documents and of the target documents, with the two shares within a factor
    `max_ratio`; source-specific if in at least `min_share` of the source documents and
    more than `max_ratio` times as common there as in the target (target-specific
    likewise). Terms that are neither are left out. The vocabulary is unigrams and bigrams
    in at least `min_count` documents, at most `max_terms` of them, stop words kept ("not").
    Binary: weight > 0 pushes toward the higher class ("positive"). k classes: direction
    is the class a term pushes toward most (its largest coefficient) and weight that
    coefficient (a term's softmax coefficients sum to ~0, so a negative one names no class).
    """
    n = len(texts)
    if n == 0:
        raise ValueError("pivot_table needs at least one text")
    y = _classes(predicted)
    if len(domains) != n or len(y) != n:
        raise ValueError(
            f"texts ({n}), domains ({len(domains)}) and predicted ({len(y)}) differ in length"
        )
    dom = np.asarray(domains, dtype=object)
    for name in (source, target):
        if not (dom == name).any():
            raise ValueError(f"domain {name!r} is not in domains {sorted(set(dom))}")
    if len(np.unique(y)) < 2:
        raise ValueError("predicted holds a single class; a probe needs at least two")

    vec = TfidfVectorizer(
        ngram_range=(1, 2), sublinear_tf=True, min_df=min(min_count, n), max_features=max_terms
    )
    X = vec.fit_transform(texts)
    probe = LogisticRegression(C=C, max_iter=2000, random_state=seed).fit(X, y)
    agreement = float((probe.predict(X) == y).mean())

    coef = probe.coef_
    if coef.shape[0] == 1:
        weight = coef[0]
        direction = np.where(weight > 0, "positive", "negative").astype(object)
    else:
        best = coef.argmax(0)
        weight = coef[best, np.arange(coef.shape[1])]
        direction = probe.classes_[best]

    present = X > 0
    df_s = np.asarray(present[dom == source].mean(0)).ravel()
    df_t = np.asarray(present[dom == target].mean(0)).ravel()
    kind = np.full(len(weight), None, dtype=object)
    both = (df_s >= min_share) & (df_t >= min_share)
    kind[both & (df_s <= max_ratio * df_t) & (df_t <= max_ratio * df_s)] = "pivot"
    kind[(df_s >= min_share) & (df_s > max_ratio * df_t)] = "source-specific"
    kind[(df_t >= min_share) & (df_t > max_ratio * df_s)] = "target-specific"

    terms = pd.DataFrame(
        {
            "term": vec.get_feature_names_out(),
            "kind": kind,
            "weight": weight,
            "direction": direction,
            "df_source": df_s,
            "df_target": df_t,
        }
    ).dropna(subset=["kind"])
    terms["kind"] = pd.Categorical(terms["kind"], categories=KINDS, ordered=True)
    terms["abs"] = terms["weight"].abs()
    terms = terms.sort_values(["kind", "abs", "term"], ascending=[True, False, True])
    table = (
        terms.groupby(["kind", "direction"], observed=True)
        .head(top)[COLUMNS]
        .reset_index(drop=True)
    )
    table["kind"] = table["kind"].astype(str)
    table.attrs.update(probe_agreement=agreement, n_rows=n, source=source, target=target)
    return table


def _pipe(rows: pd.DataFrame, source: str, target: str) -> str:
    head = f"| term | direction | weight | df {source} | df {target} |"
    lines = [head, "| --- | --- | ---: | ---: | ---: |"]
    for r in rows.itertuples():
        lines.append(
            f"| {r.term} | {r.direction} | {r.weight:+.2f} "
            f"| {100 * r.df_source:.1f}% | {100 * r.df_target:.1f}% |"
        )
    return "\n".join(lines)


def pivot_markdown(table: pd.DataFrame) -> str:
    """A Markdown section: one line on the method and probe agreement, then a table per kind."""
    source = table.attrs.get("source", "source")
    target = table.attrs.get("target", "target")
    agreement = table.attrs.get("probe_agreement", float("nan"))
    titles = {
        "pivot": f"Pivots (shared by {source} and {target})",
        "source-specific": f"Source-specific ({source})",
        "target-specific": f"Target-specific ({target})",
    }
    intro = (
        f"A TF-IDF logistic probe imitating the model's predictions (agreement "
        f"{100 * agreement:.1f}%) gives each term's weight (+ pushes toward the positive / "
        f"named class); df is the share of {source} / {target} documents containing it."
    )
    parts = ["## Pivot report", intro]
    for kind in KINDS:
        rows = table[table["kind"] == kind]
        parts += [f"### {titles[kind]}", _pipe(rows, source, target) if len(rows) else "_none_"]
    return "\n\n".join(parts) + "\n"
