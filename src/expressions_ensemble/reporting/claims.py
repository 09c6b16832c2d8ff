"""The study's claims, each checked against the metrics with a stated rule and the numbers behind it.

Verdicts: ``supported``, ``not supported``, ``inconclusive`` (an interval that includes 0) and
``not evaluated`` (the model or genre is not in the data). The rules are in ``docs/metrics.md``.
"""

from __future__ import annotations

import pandas as pd

from expressions_ensemble.reporting.config import Claim

CLAIM_COLUMNS = ["claim", "model", "verdict", "evidence", "rule"]
#: An interval end this close to 0 (a share difference of 1 point) makes a verdict fragile: say so.
BORDERLINE = 0.01


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _collapse(claim: Claim, metrics: pd.DataFrame, classes: tuple[str, ...]) -> list[tuple]:
    rule = (
        f"the named emotions are the model's {len(claim.emotions)} most frequent and together hold "
        f"≥ {_pct(claim.min_share)} of its faces"
    )
    row = metrics[metrics["model"] == claim.model]
    if row.empty:
        return [
            (claim.text, claim.model, "not evaluated", f"model {claim.model!r} not in the predictions", rule)
        ]
    row = row.iloc[0]
    ranked = sorted(classes, key=lambda e: -row[f"share_{e}"])
    top = ranked[: len(claim.emotions)]
    held = sum(row[f"share_{e}"] for e in claim.emotions)
    named = ", ".join(f"{e} {_pct(row[f'share_{e}'])}" for e in claim.emotions)
    ranking = " > ".join(f"{e} {_pct(row[f'share_{e}'])}" for e in ranked)
    ok = set(top) == set(claim.emotions) and held >= claim.min_share
    evidence = f"{named}; together {_pct(held)}. Ranking: {ranking}"
    return [(claim.text, claim.model, "supported" if ok else "not supported", evidence, rule)]


def _entropy(claim: Claim, metrics: pd.DataFrame) -> list[tuple]:
    rule = "the model's entropy is the highest of all models, pooled over all faces and as mean per film"
    if claim.model not in set(metrics["model"]):
        return [
            (claim.text, claim.model, "not evaluated", f"model {claim.model!r} not in the predictions", rule)
        ]
    pooled = metrics.set_index("model")["entropy"]
    per_film = metrics.set_index("model")["entropy_film_mean"]
    ok = pooled.idxmax() == claim.model and per_film.idxmax() == claim.model
    evidence = "pooled: " + ", ".join(f"{m} {v:.3f}" for m, v in pooled.sort_values(ascending=False).items())
    evidence += "; per film: " + ", ".join(
        f"{m} {v:.3f}" for m, v in per_film.sort_values(ascending=False).items()
    )
    return [(claim.text, claim.model, "supported" if ok else "not supported", evidence, rule)]


def _genre(claim: Claim, separation: pd.DataFrame, models: list[str]) -> list[tuple]:
    assert claim.genres is not None and claim.emotion is not None
    first, second = claim.genres
    sign = ">" if claim.direction == "greater" else "<"
    rule = (
        f"{claim.emotion} share of {first} films {sign} {second} films: the bootstrap interval of the "
        "difference (over films) excludes 0 on that side; an interval with 0 inside is inconclusive"
    )
    out = []
    for model in [claim.model] if claim.model else models:
        rows = separation[(separation["model"] == model) & (separation["emotion"] == claim.emotion)]
        direct = rows[(rows["genre_a"] == first) & (rows["genre_b"] == second)]
        flipped = rows[(rows["genre_a"] == second) & (rows["genre_b"] == first)]
        if not direct.empty:
            r = direct.iloc[0]
            diff, low, high = r["diff"], r["ci_low"], r["ci_high"]
            sa, sb, na, nb = r["share_a"], r["share_b"], r["n_films_a"], r["n_films_b"]
        elif not flipped.empty:
            r = flipped.iloc[0]
            diff, low, high = -r["diff"], -r["ci_high"], -r["ci_low"]
            sa, sb, na, nb = r["share_b"], r["share_a"], r["n_films_b"], r["n_films_a"]
        else:
            why = f"no separation row for {first} vs {second} (genre absent or with too few films)"
            out.append((claim.text, model, "not evaluated", why, rule))
            continue
        above, below = low > 0, high < 0
        if claim.direction == "less":
            above, below = below, above
        verdict = "supported" if above else "not supported" if below else "inconclusive"
        evidence = (
            f"{first} {_pct(sa)} ({int(na)} films) vs {second} {_pct(sb)} ({int(nb)} films): "
            f"difference {100 * diff:+.2f} points, interval {100 * low:+.2f} to {100 * high:+.2f}"
        )
        if min(abs(low), abs(high)) < BORDERLINE and (low > 0 or high < 0):
            evidence += "; borderline: an end of the interval is within 1 point of 0 (seed-sensitive)"
        out.append((claim.text, model, verdict, evidence, rule))
    return out


def evaluate_claims(
    claims: tuple[Claim, ...], metrics: pd.DataFrame, separation: pd.DataFrame, classes: tuple[str, ...]
) -> pd.DataFrame:
    """One row per claim (per model for genre claims without a model): verdict, evidence and rule."""
    rows: list[tuple] = []
    models = sorted(metrics["model"]) if not metrics.empty else []
    for claim in claims:
        if claim.kind == "collapse":
            rows += _collapse(claim, metrics, classes)
        elif claim.kind == "highest_entropy":
            rows += _entropy(claim, metrics)
        else:
            rows += _genre(claim, separation, models)
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS)
