"""Render a model report (sections of markdown + PNG figures) as markdown with linked images
and as one self-contained HTML page with the images embedded as base64 data URIs."""

from __future__ import annotations

import base64
import html
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import markdown as md

ABSENT = "_absent: {what} was not recorded for this run._"


@dataclass(frozen=True)
class Figure:
    """One PNG plot: a caption, a file name unique within the report, and its bytes."""

    caption: str
    name: str
    png: bytes


@dataclass(frozen=True)
class Section:
    """A report section: a title, a markdown body and the figures shown after it."""

    title: str
    body: str
    figures: tuple[Figure, ...] = ()


@dataclass(frozen=True)
class Report:
    """A rendered report: `markdown` links its images as `images/NAME`; `html` embeds them."""

    title: str
    markdown: str
    html: str
    figures: tuple[Figure, ...] = field(default=())

    def write_markdown(self, path: Path) -> None:
        """Write the markdown to `path` and its images to `images/` beside it."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.markdown)
        if self.figures:
            (path.parent / "images").mkdir(exist_ok=True)
            for figure in self.figures:
                (path.parent / "images" / figure.name).write_bytes(figure.png)

    def write_html(self, path: Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(self.html)


def cell(value: object, digits: int = 4) -> str:
    """A markdown table cell: numbers with fixed decimals, text with `|` and HTML escaped."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.{digits}f}"
    return html.escape(str(value)).replace("|", "\\|").replace("\n", " ")


def table(header: list[str], rows: list[list[object]], digits: int = 4) -> str:
    """A GitHub-style pipe table (one header row, then `rows`)."""
    if not rows:
        return ""
    lines = ["| " + " | ".join(cell(h) for h in header) + " |"]
    lines.append("| " + " | ".join("---" for _ in header) + " |")
    lines += ["| " + " | ".join(cell(v, digits) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def key_values(pairs: dict[str, object], header: tuple[str, str] = ("field", "value")) -> str:
    """A two-column table of `pairs`."""
    return table(list(header), [[k, v] for k, v in pairs.items()])


def absent(what: str) -> str:
    return ABSENT.format(what=what)


def demote_headings(text: str, levels: int = 2) -> str:
    """Push the markdown headings of an embedded document `levels` levels down."""
    return re.sub(
        r"^(#{1,6})(?=\s)",
        lambda m: "#" * min(6, len(m.group(1)) + levels),
        text,
        flags=re.MULTILINE,
    )


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def render_markdown(title: str, sections: list[Section], images: bool = True) -> str:
    """The report as markdown; figures link `images/NAME` (or are named only, `images=False`)."""
    parts = [f"# {title}\n"]
    for section in sections:
        parts.append(f"## {section.title}\n\n{section.body.strip()}\n")
        for figure in section.figures:
            parts.append(
                f"![{figure.caption}](images/{figure.name})\n"
                if images
                else f"- plot: {figure.caption} (`{figure.name}`, in the HTML report)\n"
            )
    return "\n".join(parts)


CSS = """
body { font-family: system-ui, sans-serif; max-width: 72rem; margin: 2rem auto; padding: 0 1rem;
       color: #1b1b1b; line-height: 1.45; }
h1 { border-bottom: 2px solid #333; } h2 { border-bottom: 1px solid #bbb; margin-top: 2.2rem; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: left; }
th { background: #f2f2f2; } tr:nth-child(even) td { background: #fafafa; }
code { background: #f4f4f4; padding: 0 0.2rem; }
figure { display: inline-block; margin: 0.5rem 1rem 0.5rem 0; vertical-align: top; }
figure img { max-width: 34rem; border: 1px solid #ddd; }
figcaption { font-size: 0.85rem; color: #555; }
nav ul { columns: 2; }
"""


def _to_html(text: str) -> str:
    return md.markdown(text, extensions=["tables", "fenced_code", "sane_lists"])


def render_html(title: str, sections: list[Section]) -> str:
    """One self-contained HTML page: a table of contents, the sections, embedded PNGs."""
    toc = "".join(
        f'<li><a href="#{_slug(s.title)}">{html.escape(s.title)}</a></li>' for s in sections
    )
    body = []
    for section in sections:
        body.append(f'<section id="{_slug(section.title)}">')
        body.append(f"<h2>{html.escape(section.title)}</h2>")
        body.append(_to_html(section.body))
        for figure in section.figures:
            data = base64.b64encode(figure.png).decode("ascii")
            caption = html.escape(figure.caption)
            body.append(
                f'<figure><img src="data:image/png;base64,{data}" alt="{caption}" '
                f'data-name="{html.escape(figure.name)}"><figcaption>{caption}</figcaption></figure>'
            )
        body.append("</section>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><nav><ul>{toc}</ul></nav>"
        + "\n".join(body)
        + "</body></html>\n"
    )


def build(title: str, sections: list[Section]) -> Report:
    """Render `sections` both ways."""
    figures = tuple(f for s in sections for f in s.figures)
    names = [f.name for f in figures]
    if len(set(names)) != len(names):
        raise ValueError(f"figure names must be unique: {names}")
    return Report(title, render_markdown(title, sections), render_html(title, sections), figures)
