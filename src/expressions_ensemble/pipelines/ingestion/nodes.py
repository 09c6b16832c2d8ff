"""Ingestion nodes: plan the searches, fetch what is new, and account for every hit in a manifest."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from expressions_ensemble.datasets.photo_folder import IMAGE_SUFFIXES
from expressions_ensemble.imaging import ImageDecodeError, extension_for, probe_image
from expressions_ensemble.sources import PhotoSource, Query, build_source
from expressions_ensemble.sources.base import FetchError
from expressions_ensemble.sources.plan import build_search_plan

logger = logging.getLogger(__name__)

#: What to do when identical photos (same sha256) come with different weak labels.
DUPLICATE_LABEL_POLICIES = ("first", "majority", "drop")

PLAN_COLUMNS = ["query", "keyword", "weak_label"]

HIT_COLUMNS = [
    "image_id", "source", "query", "keyword", "weak_label", "raw_label", "page", "rank", "reference", "tags",
    "attribution", "license", "sha256", "width", "height", "format", "n_bytes", "path", "fetch_status",
]  # fmt: skip

MANIFEST_COLUMNS = [*HIT_COLUMNS, "label", "outcome", "duplicate_of"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def image_id_for(source_id: str) -> str:
    """A file-name-safe, stable image id from the id a source gives a photo."""
    safe = _UNSAFE.sub("_", source_id).strip("._")
    return safe or hashlib.sha1(source_id.encode()).hexdigest()[:16]


def _file_name(image_id: str, fmt: str) -> str:
    """Store a photo under its id, adding the extension of its format unless the id has one."""
    return (
        image_id
        if PurePosixPath(image_id).suffix.lower() in IMAGE_SUFFIXES
        else image_id + extension_for(fmt)
    )


def plan_searches(source_name: str, source: Mapping[str, Any], ingestion: Mapping[str, Any]) -> pd.DataFrame:
    """The queries of one source as a table (empty for a labelled folder)."""
    plan = build_search_plan(source_name, source, ingestion.get("keyword_variants") or {})
    return pd.DataFrame([q.__dict__ for q in plan], columns=PLAN_COLUMNS)


def fetch_photos(
    source_name: str,
    plan: pd.DataFrame,
    source: Mapping[str, Any],
    existing: Mapping[str, bytes],
    credentials: Mapping[str, Any],
) -> tuple[dict[str, bytes], pd.DataFrame]:
    """Run the plan against the source; fetch each photo not stored yet; describe every hit.

    Returns the new photos (file name -> bytes) and one row per hit with its fetch status. A photo
    already stored (same image id) is read back instead of fetched again, so re-runs skip downloads.
    """
    src = build_source(source_name, source, credentials)
    try:
        new, rows = _fetch_all(source_name, src, plan, existing)
    finally:
        src.close()
    hits = pd.DataFrame(rows, columns=HIT_COLUMNS)
    return new, hits.astype({"page": "int64", "rank": "int64"})


def _fetch_all(
    source_name: str, src: PhotoSource, plan: pd.DataFrame, existing: Mapping[str, bytes]
) -> tuple[dict[str, bytes], list[dict[str, Any]]]:
    stored = {key: name for name in existing for key in (name, PurePosixPath(name).stem)}
    queries = [Query(**row) for row in plan[PLAN_COLUMNS].to_dict("records")]
    new: dict[str, bytes] = {}
    seen: dict[str, dict[str, Any]] = {}
    rows = []
    n_fetched = n_reused = 0
    for hit in tqdm(src.hits(queries), desc=f"{source_name}: hits", unit="hit", leave=False, disable=None):
        image_id = image_id_for(hit.source_id)
        if image_id not in seen:
            info: dict[str, Any] = dict.fromkeys(("sha256", "width", "height", "format", "n_bytes", "path"))
            info["fetch_status"] = "ok"
            try:
                if image_id in stored:
                    data = existing[stored[image_id]]
                    n_reused += 1
                else:
                    data = hit.fetch()
                    n_fetched += 1
                meta = probe_image(data)
                name = stored.get(image_id) or _file_name(image_id, meta.format)
                info.update(
                    sha256=hashlib.sha256(data).hexdigest(), width=meta.width, height=meta.height,
                    format=meta.format, n_bytes=len(data), path=name,
                )  # fmt: skip
                if image_id not in stored:
                    new[name] = data
            except (ImageDecodeError, FetchError) as exc:
                info["fetch_status"] = exc.reason
                logger.info("%s: %s rejected (%s)", source_name, hit.source_id, exc)
            except Exception as exc:  # a source's failure for one photo must not end the run
                info["fetch_status"] = "fetch_failed"
                logger.warning("%s: fetching %s failed: %s", source_name, hit.reference, exc)
            seen[image_id] = info
        rows.append(
            {
                "image_id": image_id, "source": source_name, "query": hit.query, "keyword": hit.keyword,
                "weak_label": hit.weak_label, "raw_label": hit.raw_label, "page": hit.page, "rank": hit.rank,
                "reference": hit.reference, "tags": ",".join(hit.tags), "attribution": hit.attribution,
                "license": hit.license, **seen[image_id],
            }
        )  # fmt: skip
    logger.info(
        "%s: %d hits, %d photos fetched, %d already stored", source_name, len(rows), n_fetched, n_reused
    )
    if not rows:
        logger.warning("%s: the source returned no photo at all", source_name)
    return new, rows


def _resolve_label(labels: list[str], policy: str) -> str | None:
    if len(set(labels)) == 1 or policy == "first":
        return labels[0]
    if policy == "drop":
        return None
    counts = pd.Series(labels).value_counts(sort=False)
    return str(counts.idxmax())  # ties: first seen (value_counts keeps first-seen order)


def build_photo_manifest(hits: pd.DataFrame, ingestion: Mapping[str, Any]) -> pd.DataFrame:
    """One row per hit with its outcome; exactly one ``kept`` row per distinct photo content.

    Outcomes: ``kept``; ``duplicate`` (same sha256 as the kept row, named in ``duplicate_of``);
    ``label_conflict`` (copies disagree and the policy is ``drop``); ``unlabelled`` / ``unknown_label``;
    or the fetch status (``fetch_failed``, ``empty_file``, ``not_an_image``, ``truncated``, ``too_large``).
    """
    policy = ingestion.get("duplicate_label_policy", "first")
    if policy not in DUPLICATE_LABEL_POLICIES:
        raise ValueError(
            f"ingestion.duplicate_label_policy: unknown value {policy!r}; "
            f"allowed: {', '.join(DUPLICATE_LABEL_POLICIES)}"
        )
    manifest = hits.copy()
    manifest["label"] = None
    manifest["duplicate_of"] = None
    manifest["outcome"] = manifest["fetch_status"]
    no_label = manifest["weak_label"].isna()
    manifest.loc[no_label & (manifest["raw_label"].fillna("") == ""), "outcome"] = "unlabelled"
    manifest.loc[no_label & (manifest["raw_label"].fillna("") != ""), "outcome"] = "unknown_label"
    manifest.loc[manifest["fetch_status"] != "ok", "outcome"] = manifest["fetch_status"]
    usable = manifest["outcome"] == "ok"
    for _sha, group in manifest[usable].groupby("sha256", sort=False):
        first = group.index[0]
        label = _resolve_label(group["weak_label"].tolist(), policy)
        if label is None:
            manifest.loc[group.index, "outcome"] = "label_conflict"
            continue
        manifest.loc[first, ["outcome", "label"]] = ["kept", label]
        manifest.loc[group.index[1:], "outcome"] = "duplicate"
        manifest.loc[group.index[1:], "duplicate_of"] = manifest.at[first, "image_id"]
    counts = manifest["outcome"].value_counts().to_dict()
    logger.info("photo manifest outcomes: %s", counts)
    return manifest[MANIFEST_COLUMNS]
