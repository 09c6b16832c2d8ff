"""The report's figures, drawn with matplotlib's object API (no pyplot state) and returned as PNG bytes.

Each ``*_figure`` function returns a :class:`matplotlib.figure.Figure`; :func:`to_png` renders and
forgets it. Emotions keep one colour everywhere (their position in :data:`labels.EMOTIONS`).
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Sequence

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from expressions_ensemble import metrics
from expressions_ensemble.labels import EMOTIONS, normalise_label
from expressions_ensemble.reporting.validity import share_matrix

_PALETTE = mpl.colormaps["tab10"]
MODEL_COLOURS = mpl.colormaps["Set2"]


def emotion_colour(emotion: str) -> tuple[float, float, float, float]:
    """The colour of an emotion in every figure."""
    return _PALETTE(EMOTIONS.index(emotion) if emotion in EMOTIONS else len(EMOTIONS))


def to_png(fig: Figure, dpi: int, tight: bool = True) -> bytes:
    """Render a figure to PNG bytes; ``tight`` crops to the drawn area (costs a second draw)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight" if tight else None)
    return buf.getvalue()


def _legend(fig: Figure, classes: Sequence[str]) -> None:
    handles = [mpl.patches.Patch(color=emotion_colour(e), label=e) for e in classes]
    fig.legend(
        handles=handles, loc="upper center", ncol=len(classes), frameon=False, bbox_to_anchor=(0.5, 1.0)
    )


def shares_by_film_figure(summary: pd.DataFrame, classes: Sequence[str], title: str) -> Figure:
    """Stacked emotion share of each film, one panel per model, films in the same order in every panel.

    Films are ordered by genre, then name, as in the summary's film order; films without faces
    keep an empty slot so that panels line up.
    """
    models = sorted(summary["model"].unique())
    films = summary.drop_duplicates("movie")[["movie", "title", "genre"]]
    films = films.assign(genre=films["genre"].fillna("(no genre)")).sort_values(
        ["genre", "title"], kind="stable"
    )
    order = list(films["movie"])
    fig = Figure(figsize=(max(6.0, 0.22 * len(order) + 2), 1.9 * len(models) + 1.4))
    axes = fig.subplots(len(models), 1, sharex=True, squeeze=False)[:, 0]
    x = np.arange(len(order))
    for ax, model in zip(axes, models, strict=True):
        part = summary[summary["model"] == model].set_index("movie").reindex(order)
        sh = np.nan_to_num(share_matrix(part, classes))
        bottom = np.zeros(len(order))
        for k, e in enumerate(classes):
            ax.bar(x, sh[:, k], bottom=bottom, width=0.85, color=emotion_colour(e), linewidth=0)
            bottom += sh[:, k]
        ax.set_ylim(0, 1)
        ax.set_ylabel(model)
        ax.set_yticks([0, 0.5, 1])
        genres = films["genre"].to_numpy()
        edges = [i for i in range(1, len(order)) if genres[i] != genres[i - 1]]
        for i in edges:
            ax.axvline(i - 0.5, color="black", linewidth=0.8)
    axes[-1].set_xticks(x)
    axes[-1].set_xticklabels(films["title"], rotation=90, fontsize=7)
    genres = films["genre"].to_numpy()
    starts = [0] + [i for i in range(1, len(order)) if genres[i] != genres[i - 1]] + [len(order)]
    if len(starts) > 2:  # label genre blocks only when there are several
        for a, b in itertools.pairwise(starts):
            axes[0].text((a + b - 1) / 2, 1.04, genres[a], ha="center", va="bottom", fontsize=8)
    fig.suptitle(title, y=1.06)
    _legend(fig, classes)
    return fig


#: Resolution of a timeline band: columns along the film, pixel rows per model.
TIMELINE_COLUMNS = 720
TIMELINE_ROWS = 48
_GAP_ROWS = 8


def _share_band(times: np.ndarray, sh: np.ndarray, grid: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """A stacked-area picture (rows × columns × RGBA) of shares sampled on ``grid`` (step-wise).

    Drawing the stacked area as an image instead of polygons keeps a 3-model, 2-hour film at a few
    hundredths of a second, which matters with one figure per film.
    """
    white = len(colours) - 1
    if len(times) == 0:
        return np.broadcast_to(colours[white], (TIMELINE_ROWS, len(grid), 4)).copy()
    at = np.clip(np.searchsorted(times, grid, side="right") - 1, 0, len(times) - 1)
    cum = np.cumsum(np.nan_to_num(sh[at]), axis=1)
    empty = np.isnan(sh[at]).any(axis=1)
    height = (np.arange(TIMELINE_ROWS)[::-1] + 0.5) / TIMELINE_ROWS
    idx = (cum[:, None, :] < height[None, :, None]).sum(axis=-1)
    idx[empty] = white
    return colours[np.minimum(idx, white)].transpose(1, 0, 2)


def timeline_figure(
    film: pd.DataFrame,
    classes: Sequence[str],
    window_sec: float,
    title: str,
    truth: pd.DataFrame | None = None,
) -> Figure:
    """Rolling emotion shares against minutes, one band per model (and a truth band where given)."""
    models = sorted(film["model"].unique())
    colours = np.array([emotion_colour(e) for e in classes] + [(1.0, 1.0, 1.0, 1.0)])
    times_all = film["timestamp_sec"].to_numpy(float)
    if truth is not None:
        times_all = np.concatenate([times_all, truth["timestamp_sec"].to_numpy(float)])
    times_all = times_all[np.isfinite(times_all)]
    start, stop = (times_all.min(), times_all.max()) if len(times_all) else (0.0, 1.0)
    grid = np.linspace(start, max(stop, start + 1.0), TIMELINE_COLUMNS)
    bands, labels = [], []
    for model in models:
        part = film[film["model"] == model]
        codes = metrics.encode_labels(part["emotion"].to_numpy(), classes)
        times, sh = metrics.rolling_shares(part["timestamp_sec"].to_numpy(), codes, len(classes), window_sec)
        bands.append(_share_band(times, sh, grid, colours))
        labels.append(model)
    if truth is not None and not truth.empty:
        t = truth.dropna(subset=["timestamp_sec"]).sort_values("timestamp_sec")
        codes = metrics.encode_labels(t["emotion"].to_numpy(), classes)
        onehot = np.full((len(codes), len(classes)), np.nan)
        known = codes >= 0
        onehot[known] = np.eye(len(classes))[codes[known]]
        bands.append(_share_band(t["timestamp_sec"].to_numpy(float), onehot, grid, colours))
        labels.append("truth")
    gap = np.ones((_GAP_ROWS, TIMELINE_COLUMNS, 4))
    image = np.concatenate([x for band in bands for x in (band, gap)][:-1])
    fig = Figure(figsize=(9.0, 0.55 * len(bands) + 1.3))
    fig.subplots_adjust(
        left=0.1, right=0.99, top=1 - 0.75 / (0.55 * len(bands) + 1.3), bottom=0.5 / (0.55 * len(bands) + 1.3)
    )
    ax = fig.subplots()
    ax.imshow(
        image, aspect="auto", interpolation="nearest", extent=(grid[0] / 60, grid[-1] / 60, 0, image.shape[0])
    )
    centres = [
        image.shape[0] - (i * (TIMELINE_ROWS + _GAP_ROWS) + TIMELINE_ROWS / 2) for i in range(len(bands))
    ]
    ax.set_yticks(centres, labels)
    ax.tick_params(axis="y", length=0)
    ax.set_xlabel("minutes")
    ax.set_title(f"{title} — rolling shares, {window_sec:g} s window", fontsize=10, pad=22)
    handles = [mpl.patches.Patch(color=emotion_colour(e), label=e) for e in classes]
    ax.legend(
        handles=handles,
        loc="lower center",
        bbox_to_anchor=(0.5, 1.0),
        ncol=len(classes),
        frameon=False,
        fontsize=8,
    )
    return fig


def benchmark_difference_figure(summary: pd.DataFrame, classes: Sequence[str]) -> Figure:
    """Per emotion, each model's film share minus the mean share of the other models (boxes over films)."""
    models = sorted(summary["model"].unique())
    with_faces = summary[summary["total_faces"] > 0]
    films = sorted(
        set.intersection(*(set(with_faces.loc[with_faces["model"] == m, "movie"]) for m in models))
    )
    shares = {
        m: share_matrix(with_faces[with_faces["model"] == m].set_index("movie").reindex(films), classes)
        for m in models
    }
    fig = Figure(figsize=(1.6 * len(classes) + 2, 4.2))
    ax = fig.subplots()
    width = 0.8 / max(len(models), 1)
    for i, m in enumerate(models):
        others = [shares[o] for o in models if o != m]
        if not others:
            continue
        diff = 100 * (shares[m] - np.mean(others, axis=0))
        pos = np.arange(len(classes)) + (i - (len(models) - 1) / 2) * width
        box = ax.boxplot(
            [diff[:, k] for k in range(len(classes))], positions=pos, widths=width * 0.9, patch_artist=True
        )
        for patch in box["boxes"]:
            patch.set_facecolor(MODEL_COLOURS(i))
        ax.plot([], [], color=MODEL_COLOURS(i), linewidth=8, label=m)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(np.arange(len(classes)))
    ax.set_xticklabels(classes)
    ax.set_ylabel("share − mean share of the other models (points)")
    ax.set_title(f"How each model's emotion shares differ from the others ({len(films)} films)")
    ax.legend(frameon=False)
    return fig


def confidence_figure(table: pd.DataFrame, classes: Sequence[str]) -> Figure:
    """Distribution of prediction confidence by predicted emotion, one panel per model."""
    models = sorted(table["model"].unique())
    fig = Figure(figsize=(3.2 * len(models) + 1, 3.6))
    axes = fig.subplots(1, len(models), sharey=True, squeeze=False)[0]
    for ax, m in zip(axes, models, strict=True):
        part = table[table["model"] == m]
        data = [part.loc[part["emotion"] == e, "confidence"].dropna().to_numpy() for e in classes]
        present = [k for k, d in enumerate(data) if len(d)]
        if present:
            box = ax.boxplot(
                [data[k] for k in present], positions=present, patch_artist=True, showfliers=False
            )
            for patch, k in zip(box["boxes"], present, strict=True):
                patch.set_facecolor(emotion_colour(classes[k]))
        ax.set_xticks(range(len(classes)))
        ax.set_xticklabels(classes, rotation=45)
        ax.set_xlim(-0.5, len(classes) - 0.5)
        ax.set_title(m)
    axes[0].set_ylabel("confidence")
    axes[0].set_ylim(0, 1.02)
    return fig


def genre_separation_figure(
    separation: pd.DataFrame, genres: tuple[str, str], classes: Sequence[str]
) -> Figure:
    """Share difference between two genres per emotion and model, with bootstrap intervals."""
    a, b = genres
    rows = separation[(separation["genre_a"] == a) & (separation["genre_b"] == b)]
    sign = 1.0
    if rows.empty:
        rows = separation[(separation["genre_a"] == b) & (separation["genre_b"] == a)]
        sign = -1.0
    models = sorted(rows["model"].unique())
    fig = Figure(figsize=(1.4 * len(classes) + 2, 3.8))
    ax = fig.subplots()
    width = 0.8 / max(len(models), 1)
    for i, m in enumerate(models):
        part = rows[rows["model"] == m].set_index("emotion").reindex(list(classes))
        diff = 100 * sign * part["diff"].to_numpy()
        lo = 100 * np.where(sign > 0, part["ci_low"], -part["ci_high"])
        hi = 100 * np.where(sign > 0, part["ci_high"], -part["ci_low"])
        pos = np.arange(len(classes)) + (i - (len(models) - 1) / 2) * width
        ax.errorbar(
            pos, diff, yerr=[diff - lo, hi - diff], fmt="o", color=MODEL_COLOURS(i), label=m, capsize=3
        )
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(np.arange(len(classes)))
    ax.set_xticklabels(classes)
    ax.set_ylabel(f"share {a} − share {b} (points)")
    ax.set_title(f"{a} vs {b}: difference of mean film shares, bootstrap interval over films")
    if models:
        ax.legend(frameon=False)
    else:
        ax.text(0.5, 0.5, f"no films for {a} or {b}", transform=ax.transAxes, ha="center")
    return fig


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what}: columns {missing} are missing; it has {list(frame.columns)}")


def recall_by_run_figure(training: pd.DataFrame) -> Figure:
    """Per-class recall of each training run: ``run, emotion, recall`` or ``run, recall_<emotion>``."""
    if "emotion" not in training.columns:
        _require(training, ["run"], "training metrics")
        wide = [c for c in training.columns if str(c).startswith("recall_")]
        training = training.melt(id_vars="run", value_vars=wide, var_name="emotion", value_name="recall")
        training["emotion"] = training["emotion"].str.removeprefix("recall_")
    _require(training, ["run", "emotion", "recall"], "training metrics")
    training = training.assign(emotion=training["emotion"].map(lambda e: normalise_label(e) or str(e)))
    pivot = training.pivot_table(index="emotion", columns="run", values="recall", aggfunc="mean")
    pivot = pivot.reindex(sorted(pivot.index, key=lambda e: EMOTIONS.index(e) if e in EMOTIONS else 99))
    fig = Figure(figsize=(1.2 * len(pivot) + 2, 3.8))
    ax = fig.subplots()
    width = 0.8 / max(len(pivot.columns), 1)
    for i, run in enumerate(pivot.columns):
        ax.bar(np.arange(len(pivot)) + i * width - 0.4 + width / 2, pivot[run], width, label=str(run))
    ax.set_xticks(np.arange(len(pivot)))
    ax.set_xticklabels(pivot.index)
    ax.set_ylim(0, 1)
    ax.set_ylabel("recall")
    ax.set_title("Per-class recall by training run")
    ax.legend(frameon=False, fontsize=7, ncol=2)
    return fig


def _confusion_labels(part: pd.DataFrame) -> list[str]:
    labels = [e for e in EMOTIONS if e in set(part["true"]) | set(part["pred"])]
    return labels + sorted((set(part["true"]) | set(part["pred"])) - set(labels))


def _draw_confusion(ax: mpl.axes.Axes, part: pd.DataFrame, title: str, fontsize: int = 7) -> None:
    """Row-normalised shading with the counts written in: one ``true, pred, count`` table on one axis."""
    labels = _confusion_labels(part)
    cm = part.pivot_table(index="true", columns="pred", values="count", aggfunc="sum", fill_value=0)
    cm = cm.reindex(index=labels, columns=labels, fill_value=0).to_numpy(float)
    row = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    ax.imshow(row, vmin=0, vmax=1, cmap="Blues")
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(j, i, f"{int(cm[i, j])}", ha="center", va="center", fontsize=fontsize)
    ax.set_xticks(range(len(labels)), labels, rotation=45, fontsize=fontsize)
    ax.set_yticks(range(len(labels)), labels, fontsize=fontsize)
    ax.set_title(title, fontsize=fontsize + 1)


def confusion_figures(confusion: pd.DataFrame) -> dict[str, Figure]:
    """One confusion matrix per model (and domain): ``model, [domain,] true, pred, count``."""
    _require(confusion, ["model", "true", "pred", "count"], "confusion")
    keys = ["model", "domain"] if "domain" in confusion.columns else ["model"]
    out = {}
    for key, part in confusion.groupby(keys, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        n = len(_confusion_labels(part))
        fig = Figure(figsize=(0.6 * n + 2, 0.6 * n + 1.5))
        ax = fig.subplots()
        _draw_confusion(ax, part, " / ".join(str(k) for k in key))
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        out["confusion_" + "_".join(str(k) for k in key)] = fig
    return out


def confusion_grid_figure(confusion: pd.DataFrame) -> Figure:
    """Every model's confusion matrix on every domain in one figure: rows = models, columns = domains."""
    _require(confusion, ["model", "domain", "true", "pred", "count"], "confusion")
    models = list(dict.fromkeys(confusion["model"]))
    domains = list(dict.fromkeys(confusion["domain"]))
    fig = Figure(figsize=(2.6 * len(domains) + 0.5, 2.5 * len(models) + 0.5))
    axes = fig.subplots(len(models), len(domains), squeeze=False)
    parts = dict(iter(confusion.groupby(["model", "domain"], sort=False)))
    for (i, model), (j, domain) in itertools.product(enumerate(models), enumerate(domains)):
        ax = axes[i, j]
        part = parts.get((model, domain))
        if part is None or part.empty:
            ax.set_axis_off()
            continue
        _draw_confusion(ax, part, f"{model} on {domain}", fontsize=6)
    fig.tight_layout()
    return fig


def cross_domain_figure(evaluation: pd.DataFrame) -> Figure:
    """Macro-F1 heatmap: rows = model (training source), columns = test domain."""
    _require(evaluation, ["model", "domain", "macro_f1"], "evaluation matrix")
    pivot = evaluation.pivot_table(index="model", columns="domain", values="macro_f1", aggfunc="mean")
    fig = Figure(figsize=(1.1 * len(pivot.columns) + 3, 0.5 * len(pivot) + 2))
    ax = fig.subplots()
    image = ax.imshow(pivot.to_numpy(float), vmin=0, vmax=1, cmap="viridis", aspect="auto")
    for i in range(len(pivot)):
        for j in range(len(pivot.columns)):
            value = pivot.iat[i, j]
            if np.isfinite(value):
                ax.text(
                    j, i, f"{value:.2f}", ha="center", va="center", color="white" if value < 0.5 else "black"
                )
    ax.set_xticks(range(len(pivot.columns)), pivot.columns, rotation=30)
    ax.set_yticks(range(len(pivot)), pivot.index)
    ax.set_title("Cross-domain macro-F1")
    fig.colorbar(image, ax=ax)
    return fig
