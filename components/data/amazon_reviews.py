"""The Amazon multi-domain sentiment reviews (Blitzer, Dredze & Pereira 2007) as one table.

The raw files are pseudo-XML with no root element and no escaping (review text may hold `<`
and `&`), so each `<review>` block is read with regular expressions, not an XML parser.
"""

from __future__ import annotations

import gzip
import html
import re
from pathlib import Path

import pandas as pd

from components.data.images import data_root
from components.errors import StepstoneError

DOMAINS = ("books", "dvd", "electronics", "kitchen")
LABELS = ("positive", "negative")
COLUMNS = ["review_id", "domain", "label", "rating", "title", "text"]
SUBDIR = Path("amazon_reviews") / "sorted_data_acl_labeled"
TABLE = "reviews.parquet"

# A block starts and ends with a tag on a line of its own; so does each field.
_BLOCK = re.compile(r"^<review>$(.*?)^</review>$", re.DOTALL | re.MULTILINE)


def _field(block: str, tag: str, number: int) -> str:
    """The stripped value between `<tag>` and `</tag>` lines of one review block, with HTML
    entities (`&quot;`, as the crawl left them) turned back into characters."""
    match = re.search(rf"^<{tag}>$(.*?)^</{tag}>$", block, re.DOTALL | re.MULTILINE)
    if match is None:
        raise StepstoneError(f"review {number} has no <{tag}> field; the file is damaged.")
    return html.unescape(match.group(1).strip())


def _rating(value: str, number: int) -> float:
    try:
        return float(value)
    except ValueError:
        raise StepstoneError(f"review {number} has a non-numeric rating {value!r}.") from None


def parse_reviews(text: str) -> list[dict]:
    """Each `<review>` block of `text` as {"title", "text", "rating"}, in file order."""
    reviews = []
    for number, match in enumerate(_BLOCK.finditer(text), start=1):
        block = match.group(1)
        reviews.append(
            {
                "title": _field(block, "title", number),
                "text": _field(block, "review_text", number),
                "rating": _rating(_field(block, "rating", number), number),
            }
        )
    return reviews


def _read_file(path: Path) -> list[dict]:
    if not path.is_file():
        raise StepstoneError(
            f"Amazon reviews file {path} not found; set STEPSTONE_DATA_ROOT to the folder "
            f"holding {SUBDIR}/."
        )
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return parse_reviews(f.read())


def load_amazon_reviews(root: Path | None = None) -> pd.DataFrame:
    """All labelled reviews, ordered by domain, then label, then file order. `root` is the
    data root (default $STEPSTONE_DATA_ROOT) or the folder holding the .review.gz files."""
    root = Path(root) if root is not None else data_root()
    folder = root / SUBDIR if (root / SUBDIR).is_dir() else root
    rows = []
    for domain in DOMAINS:
        for label in LABELS:
            reviews = _read_file(folder / f"{domain}_{label}.review.gz")
            for i, review in enumerate(reviews, start=1):
                review_id = f"{domain}-{label[:3]}-{i:04d}"
                rows.append({"review_id": review_id, "domain": domain, "label": label, **review})
    return pd.DataFrame(rows, columns=COLUMNS)


def prepare_amazon_reviews(out_dir: Path, seed: int = 0) -> Path:
    """Write every review to out_dir/reviews.parquet and return its path. `seed` is unused
    (all rows are kept); it matches the other cases."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / TABLE
    load_amazon_reviews().to_parquet(path, index=False)
    return path
