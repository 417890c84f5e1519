"""Text rows (a table with a text column) read and turned into model inputs: TF-IDF vectors
for an MLP, or token ids for a transformer. Both encoders keep their fitted state as plain
types (vocabulary and idf weights; the tokenizer's own JSON), so a served model encodes raw
text exactly as training did, with nothing downloaded."""

from __future__ import annotations

import gzip
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from components.data.classes import class_indices
from components.data.denoising import denoised, fit_denoisers
from components.data.loading import ROW_ID
from components.errors import StepstoneError


def read_texts(path: Path, text_column: str) -> pd.DataFrame:
    """A CSV (UTF-8) or Parquet table of texts with a `row_id` added; bytes that are not
    UTF-8 are an error naming the line."""
    path = Path(path)
    if not path.is_file():
        raise StepstoneError(
            f"text table {path} not found; set data.path to a CSV or Parquet file."
        )
    suffix = "".join(path.suffixes[-2:]).lower() if path.suffix == ".gz" else path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            table = pd.read_parquet(path)
        elif suffix in (".csv", ".csv.gz"):
            _check_utf8(path)
            table = pd.read_csv(path, encoding="utf-8", keep_default_na=False, na_values=[""])
        else:
            raise StepstoneError(f"text table {path} must be .csv, .csv.gz or .parquet.")
    except (ValueError, OSError, pd.errors.ParserError) as err:
        raise StepstoneError(f"cannot read text table {path}: {err}") from None
    if table.empty:
        raise StepstoneError(f"{path} has no data rows; point data.path at a non-empty table.")
    if text_column not in table.columns:
        raise StepstoneError(
            f"{path} has no text column {text_column!r} (columns: {list(table.columns)}); "
            "add it or set data.text_column."
        )
    if ROW_ID in table.columns:
        raise StepstoneError(f"{path} already has a column named {ROW_ID!r}; rename it.")
    table.insert(0, ROW_ID, range(len(table)))
    return table


def _check_utf8(path: Path) -> None:
    raw = (gzip.open if path.suffix == ".gz" else open)(path, "rb").read()
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise StepstoneError(
            f"{path} line {line} holds bytes that are not UTF-8 ({raw[err.start : err.end]!r}); "
            "save the file as UTF-8 (or fix that row)."
        ) from None


def texts_of(rows: pd.DataFrame, column: str) -> list[str]:
    """The rows' texts; a missing column or an empty value is an error naming the row."""
    if column not in rows.columns:
        raise StepstoneError(
            f"input rows lack the text column {column!r}; send one row per text with the "
            f"text in {column!r}."
        )
    values = rows[column]
    empty = values.isna() | (values.astype(str).str.strip() == "")
    if empty.any():
        raise StepstoneError(
            f"text column {column!r} is empty in {int(empty.sum())} row(s), e.g. row "
            f"{int(np.argmax(empty.to_numpy()))}; fill or drop those rows."
        )
    return values.astype(str).tolist()


class TextEncoding:
    """What both text encoders share: the text column, the declared classes, and their
    fields as the checkpoint's plain state."""

    @property
    def columns(self) -> list[str]:
        return [self.text_column]

    def labels(self, rows: pd.DataFrame, column: str) -> np.ndarray:
        return class_indices(rows, column, self.classes)

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "kind"}

    @classmethod
    def from_dict(cls, state: dict):
        return cls(**state)


@dataclass(frozen=True)
class TfidfEncoder(TextEncoding):
    """TF-IDF over unigrams..`ngram_max`-grams with the vocabulary and idf weights fitted on
    the source texts; dense float32 rows [n, vocabulary], followed by the outputs of the mSDA
    layers in `denoisers` when there are any (components.data.denoising)."""

    text_column: str
    classes: list
    vocabulary: dict[str, int]
    idf: list[float]
    ngram_max: int = 2
    denoisers: list = field(default_factory=list)  # float16 tensors, one per mSDA layer
    kind: str = field(default="text_tfidf", init=False)

    @classmethod
    def fit(
        cls,
        rows: pd.DataFrame,
        text_column: str,
        classes: list,
        max_features: int,
        ngram_max: int,
        min_df: int,
    ) -> TfidfEncoder:
        from sklearn.feature_extraction.text import TfidfVectorizer

        vectoriser = TfidfVectorizer(
            ngram_range=(1, ngram_max), min_df=min_df, max_features=max_features, sublinear_tf=True
        ).fit(texts_of(rows, text_column))
        vocabulary = {str(t): int(i) for t, i in vectoriser.vocabulary_.items()}
        return cls(text_column, list(classes), vocabulary, vectoriser.idf_.tolist(), ngram_max)

    def with_denoisers(
        self, rows: pd.DataFrame, layers: int, noise: float, width: int
    ) -> TfidfEncoder:
        """This encoder followed by `layers` mSDA layers learned on the rows' texts."""
        import torch

        weights = fit_denoisers(self._tfidf(rows), layers, noise, width)
        state = [torch.from_numpy(w).half() for w in weights]
        return replace(self, denoisers=state)

    @cached_property
    def _vectoriser(self):
        from sklearn.feature_extraction.text import TfidfVectorizer

        vectoriser = TfidfVectorizer(
            ngram_range=(1, self.ngram_max), vocabulary=self.vocabulary, sublinear_tf=True
        )
        vectoriser.idf_ = np.asarray(self.idf)
        return vectoriser

    @property
    def width(self) -> int:
        return len(self.vocabulary) + sum(len(w) for w in self.denoisers)

    def _tfidf(self, rows: pd.DataFrame) -> np.ndarray:
        matrix = self._vectoriser.transform(texts_of(rows, self.text_column))
        return matrix.astype(np.float32).toarray()

    def transform(self, rows: pd.DataFrame) -> np.ndarray:
        vectors = self._tfidf(rows)
        if not self.denoisers:
            return vectors
        return denoised(vectors, self._denoiser_weights)

    @cached_property
    def _denoiser_weights(self) -> list[np.ndarray]:
        return [w.float().numpy() for w in self.denoisers]


@dataclass(frozen=True)
class TokenEncoder(TextEncoding):
    """A transformer's tokenizer (its `tokenizer.json`, kept as text): rows -> int64
    [n, 2, max_length] (token ids, attention mask). Longer texts are cut at `max_length`
    tokens (`truncated` counts them)."""

    text_column: str
    classes: list
    tokenizer_json: str
    max_length: int = 128
    kind: str = field(default="text_tokens", init=False)

    @classmethod
    def fit(
        cls, rows: pd.DataFrame, text_column: str, classes: list, folder: Path, max_length: int
    ) -> TokenEncoder:
        """The tokenizer shipped in the model folder (nothing is fitted on the rows)."""
        file = Path(folder) / "tokenizer.json"
        if not file.is_file():
            raise StepstoneError(
                f"{folder} has no tokenizer.json; model.path must be a Hugging Face model "
                "folder with a fast tokenizer (as saved by save_pretrained)."
            )
        return cls(text_column, list(classes), file.read_text(), max_length)

    @cached_property
    def _tokenizer(self):
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_str(self.tokenizer_json)
        tokenizer.enable_truncation(self.max_length)
        pad = tokenizer.token_to_id("[PAD]") or 0
        tokenizer.enable_padding(length=self.max_length, pad_id=pad)
        return tokenizer

    def _encode(self, rows: pd.DataFrame) -> list:
        return self._tokenizer.encode_batch(texts_of(rows, self.text_column))

    def transform(self, rows: pd.DataFrame) -> np.ndarray:
        encodings = self._encode(rows)
        ids = np.array([e.ids for e in encodings], dtype=np.int64).reshape(-1, self.max_length)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        return np.stack([ids, mask.reshape(-1, self.max_length)], axis=1)

    def truncated(self, rows: pd.DataFrame) -> int:
        """How many of the rows' texts are longer than `max_length` tokens (they are cut)."""
        return sum(bool(e.overflowing) for e in self._encode(rows))
