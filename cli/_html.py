"""A self-contained HTML report: inline CSS, figures embedded as data URIs, no external URLs."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cli._common import data_uri

_CSS = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #444; padding-bottom: .2em; }
h2 { margin-top: 2em; border-bottom: 1px solid #bbb; }
table { border-collapse: collapse; margin: 1em 0; font-size: .92em; }
th, td { border: 1px solid #ccc; padding: .3em .7em; text-align: right; }
th { background: #f2f2f2; } td:first-child, th:first-child { text-align: left; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: .9em; color: #555; }
.meta td { text-align: left; }
"""


@dataclass
class Table:
    """A table: a caption, a header row and body rows (cells already formatted or numbers)."""

    caption: str
    header: list[str]
    rows: list[list[Any]]


@dataclass
class Section:
    """One report section: heading, paragraphs, tables and figures (paths to PNGs)."""

    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    figures: list[tuple[Path, str]] = field(default_factory=list)  # (png, caption)


def _cell(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.4g}"
    return html.escape(str(v))


def _table(t: Table) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in t.header)
    body = "".join("<tr>" + "".join(f"<td>{_cell(c)}</td>" for c in r) + "</tr>" for r in t.rows)
    return (
        f"<table><caption>{html.escape(t.caption)}</caption>"
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def _figure_caption(number: int, caption: str) -> str:
    """``"Figure 4: radial ..."`` -> ``"Figure 2. Radial ... (BlurNet figure 4)"``."""
    m = re.match(r"Figure (\d+):\s*(.*)", caption)
    if m:
        return f"Figure {number}. {m.group(2)} (as BlurNet figure {m.group(1)})"
    return f"Figure {number}. {caption}"


def render(
    title: str,
    meta: dict[str, Any],
    sections: list[Section],
    *,
    summary: list[str] | None = None,
) -> str:
    """Render the report as one HTML string with every figure embedded.

    The page has the title, the run's metadata (command line, versions), the summary
    (``summary``: the headline numbers, one line each), a table of contents, and the
    sections numbered in order, with figures numbered in the order they appear.
    """
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        '<table class="meta">'
        + "".join(f"<tr><th>{html.escape(k)}</th><td>{_cell(v)}</td></tr>" for k, v in meta.items())
        + "</table>",
    ]
    if summary:
        parts.append('<section id="summary"><h2>Summary</h2><ul>')
        parts += [f"<li>{html.escape(line)}</li>" for line in summary]
        parts.append("</ul></section>")
    parts.append('<nav id="contents"><h2>Contents</h2><ol>')
    parts += [
        f'<li><a href="#s{i}">{html.escape(s.title)}</a></li>' for i, s in enumerate(sections, 1)
    ]
    parts.append("</ol></nav>")
    n_fig = 0
    for i, s in enumerate(sections, 1):
        parts.append(f'<section id="s{i}"><h2>{i}. {html.escape(s.title)}</h2>')
        parts += [f"<p>{html.escape(p)}</p>" for p in s.paragraphs]
        parts += [_table(t) for t in s.tables]
        for png, caption in s.figures:
            n_fig += 1
            text = _figure_caption(n_fig, caption)
            parts.append(
                f'<figure id="fig{n_fig}"><img src="{data_uri(png)}" alt="{html.escape(text)}">'
                f"<figcaption>{html.escape(text)}</figcaption></figure>"
            )
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)
