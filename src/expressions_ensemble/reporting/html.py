"""One self-contained HTML page: figures embedded as base64 PNG, tables, and a short reading guide.

No script, no stylesheet or font from elsewhere: the page opens from a file, offline, anywhere.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from expressions_ensemble.reporting.config import ReportConfig

Figures = Mapping[str, bytes]
_TEXT = ' class="text"'

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 auto;max-width:1280px;
padding:0 24px 48px;color:#222;line-height:1.45}
h1{margin-top:24px}h2{border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:40px}
table{border-collapse:collapse;font-size:13px;margin:8px 0 16px}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:right;overflow-wrap:anywhere}
th{background:#f3f3f3;text-align:left}
.table{max-width:100%;overflow-x:auto}
td:first-child,th:first-child,td.text{text-align:left}
figure{margin:12px 0;display:inline-block;vertical-align:top;max-width:100%}
figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:12px;color:#555}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(600px,1fr));gap:8px}
.supported{background:#d9f2d9}.not-supported{background:#f8d7d7}.inconclusive{background:#fff3cd}
.not-evaluated{background:#eee}.note{color:#555;font-size:14px}
details{margin:8px 0}summary{cursor:pointer;font-weight:600}
"""


@dataclass(frozen=True)
class ReportContent:
    """Everything the page shows; tables may be empty and figure groups may hold nothing."""

    metrics: pd.DataFrame
    claims: pd.DataFrame
    quality: pd.DataFrame
    study_check: pd.DataFrame
    film_metrics: pd.DataFrame
    summary: pd.DataFrame
    separation: pd.DataFrame
    divergence: pd.DataFrame
    agreement: pd.DataFrame
    truth: pd.DataFrame
    figures: Mapping[str, Figures] = field(default_factory=dict)


def _img(name: str, png: bytes, caption: str | None = None) -> str:
    data = base64.b64encode(png).decode("ascii")
    label = html.escape(caption or name.removesuffix(".png").replace("_", " "))
    return (
        f'<figure><img alt="{label}" src="data:image/png;base64,{data}">'
        f"<figcaption>{label}</figcaption></figure>"
    )


def _figures(group: Figures | None, grid: bool = False) -> str:
    if not group:
        return ""
    items = "".join(_img(name, group[name]) for name in sorted(group))
    return f'<div class="grid">{items}</div>' if grid else items


def _fmt(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return "–"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, float | np.floating):
        return f"{value:.3f}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int | np.integer):
        return f"{value:,}"
    return str(value)


def _table(frame: pd.DataFrame, row_class: str | None = None, empty: str = "nothing to show") -> str:
    if frame is None or frame.empty:
        return f'<p class="note">{html.escape(empty)}</p>'
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for _, row in frame.iterrows():
        css = ""
        if row_class and row_class in frame.columns:
            css = f' class="{html.escape(str(row[row_class]).replace(" ", "-"))}"'
        cells = "".join(
            f"<td{_TEXT if isinstance(v, str) else ''}>{html.escape(_fmt(v))}</td>"
            for v in row.to_numpy(dtype=object)
        )
        rows.append(f"<tr{css}>{cells}</tr>")
    body = "".join(rows)
    return f'<div class="table"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _metrics_table(metrics: pd.DataFrame) -> str:
    if metrics.empty:
        return _table(metrics)
    shown = metrics.set_index("model").T.reset_index().rename(columns={"index": "metric"})
    return _table(shown)


def _reading_guide(config: ReportConfig, content: ReportContent, classes: tuple[str, ...]) -> str:
    models = ", ".join(sorted(content.metrics["model"])) if not content.metrics.empty else "none"
    n_films = content.summary["movie"].nunique() if not content.summary.empty else 0
    n_faces = int(content.metrics["n_faces"].sum()) if not content.metrics.empty else 0
    a, b = config.focus_genres
    return f"""
<p><b>{n_faces:,}</b> face predictions of <b>{html.escape(models)}</b> on <b>{n_films}</b> films,
emotions {html.escape(", ".join(classes))}.</p>
<h2>Reading guide</h2>
<ul>
<li><b>Claims</b> checks each of the study's statements against the numbers below, with the rule used.</li>
<li><b>Collapse</b> is the share of a model's most frequent emotion; a model that calls most faces the
same one or two emotions whatever the film is not measuring the film. <b>Entropy</b> (normalised, 0–1)
is high when a model uses all emotions; higher is not better by itself, but a model stuck near 0 on
every film has collapsed.</li>
<li><b>Genre separation</b> asks whether a model sees comedies differently from crime films: the
difference of the mean film shares ({html.escape(a)} − {html.escape(b)}) with a
{config.confidence:.0%} bootstrap interval over films. An interval that crosses 0 means the films do
not tell the genres apart for that emotion. Jensen–Shannon divergence (0–1) sums this over emotions.</li>
<li><b>Temporal variation</b>: how often the dominant emotion of a {config.rolling_window_sec:g} s
window changes per minute, and how much the window's mix moves between consecutive faces.</li>
<li><b>Agreement</b> (Cohen's kappa): 0 is chance-level agreement between two models on the same
faces, 1 is perfect. Models that disagree at chance level cannot all be right.</li>
<li>Shares count each face once: exact duplicate rows in the inputs are counted once (see <i>Data
quality</i>). Every metric is defined in <code>docs/metrics.md</code>.</li>
</ul>"""


def build_report(
    config: ReportConfig,
    classes: tuple[str, ...],
    content: ReportContent,
    evaluation_notes: Mapping[str, str],
) -> str:
    """The report page as one string; ``evaluation_notes`` says why an optional figure group is empty."""
    figs = content.figures
    a, b = config.focus_genres
    focus = content.separation[
        ((content.separation["genre_a"] == a) & (content.separation["genre_b"] == b))
        | ((content.separation["genre_a"] == b) & (content.separation["genre_b"] == a))
    ]
    focus_div = content.divergence[
        ((content.divergence["genre_a"] == a) & (content.divergence["genre_b"] == b))
        | ((content.divergence["genre_a"] == b) & (content.divergence["genre_b"] == a))
    ]
    evaluation = []
    for key, heading in (
        ("recall", "Per-class recall by training run"),
        ("confusion", "Confusion matrices"),
        ("cross_domain", "Cross-domain macro-F1"),
    ):
        body = _figures(figs.get(key)) or f'<p class="note">{html.escape(evaluation_notes.get(key, ""))}</p>'
        evaluation.append(f"<h3>{heading}</h3>{body}")
    quality = content.quality
    genre_figs = figs.get("genres") or {}
    sections = [
        f"<h1>{html.escape(config.title)}</h1>",
        _reading_guide(config, content, classes),
        "<h2>The study's claims</h2>",
        _table(content.claims, row_class="verdict", empty="no claims configured (reporting.claims)"),
        "<h2>Ecological-validity metrics per model</h2>",
        _metrics_table(content.metrics),
        f"<h2>Genre separation: {html.escape(a)} vs {html.escape(b)}</h2>",
        _figures(figs.get("genre_separation")),
        _table(focus, empty=f"no films of {a} or {b} with faces"),
        _table(focus_div),
        "<details><summary>All genre pairs (Jensen–Shannon divergence)</summary>",
        _table(content.divergence),
        "</details>",
        "<h2>Emotion shares by film</h2>",
        _figures(figs.get("shares")),
        _figures(genre_figs, grid=True),
        "<h2>How the models differ</h2>",
        _figures(figs.get("benchmark")),
        _figures(figs.get("confidence")),
        "<h3>Agreement between models</h3>",
        _table(content.agreement, empty="one model only: no agreement to measure"),
        "<h2>Against a ground truth</h2>",
        _table(content.truth, empty="no ground-truth timeline given (reporting.ground_truth)"),
        "<h2>Model evaluation</h2>",
        *evaluation,
        "<h2>Data quality</h2>",
        _table(quality[(quality["count"] > 0)], empty="no data issues found"),
        "<h3>Check against the study's own summary</h3>",
        _table(content.study_check, empty="no study summary given"),
        "<h2>Timelines</h2>",
        _figures(figs.get("timelines"), grid=True) or '<p class="note">no timelines drawn</p>',
        "<details><summary>Per-film metrics</summary>",
        _table(content.film_metrics),
        "</details>",
        "<details><summary>Per-film summary (the study's table)</summary>",
        _table(content.summary),
        "</details>",
    ]
    body = "\n".join(sections)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="icon" href="data:,"><title>{html.escape(config.title)}</title>'
        f"<style>{_CSS}</style></head><body>\n{body}\n</body></html>\n"
    )
