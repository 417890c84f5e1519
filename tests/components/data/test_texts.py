"""Text tables and encoders: UTF-8 errors name the line, empty texts name the row, and both
encoders give the same inputs after a round trip through their plain state."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from components.data.texts import TfidfEncoder, TokenEncoder, read_texts
from components.errors import StepstoneError

ROWS = pd.DataFrame(
    {"text": ["great pan", "awful kettle leaks", "great great knife"], "label": ["1", "0", "1"]}
)


def test_bytes_that_are_not_utf8_name_the_line(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"text,label\ngood,1\nbad \xff here,0\n")
    with pytest.raises(StepstoneError, match="line 3 .*not UTF-8"):
        read_texts(path, "text")


def test_a_missing_text_column_names_the_column_and_the_key(tmp_path):
    path = tmp_path / "t.csv"
    ROWS.rename(columns={"text": "body"}).to_csv(path, index=False)
    with pytest.raises(StepstoneError, match="no text column 'text'.*data.text_column"):
        read_texts(path, "text")


def test_tfidf_round_trips_and_refuses_an_empty_text():
    encoder = TfidfEncoder.fit(ROWS, "text", ["0", "1"], max_features=50, ngram_max=2, min_df=1)
    again = TfidfEncoder.from_dict(encoder.to_dict())
    assert np.allclose(encoder.transform(ROWS), again.transform(ROWS))
    assert encoder.transform(ROWS).shape == (3, encoder.width)
    assert list(encoder.labels(ROWS, "label")) == [1, 0, 1]
    with pytest.raises(StepstoneError, match="empty in 1 row"):
        encoder.transform(pd.DataFrame({"text": ["ok", " "]}))


def test_tokens_are_cut_at_max_length_and_counted(tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {"[PAD]": 0, "[UNK]": 1, "great": 2, "pan": 3, "awful": 4}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.save(str(tmp_path / "tokenizer.json"))
    encoder = TokenEncoder.fit(ROWS, "text", ["0", "1"], tmp_path, max_length=2)
    x = TokenEncoder.from_dict(encoder.to_dict()).transform(ROWS)
    assert x.shape == (3, 2, 2) and x.dtype == np.int64
    assert x[0, 0].tolist() == [2, 3] and x[0, 1].tolist() == [1, 1]
    assert encoder.truncated(ROWS) == 2  # "awful kettle leaks", "great great knife"
