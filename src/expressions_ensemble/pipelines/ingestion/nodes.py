"""Ingestion nodes: plan the searches, fetch what is new, and account for every hit in a manifest."""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from expressions_ensemble.datasets.photo_folder import IMAGE_SUFFIXES
from expressions_ensemble.imaging import ImageDecodeError, extension_for, probe_image
from expressions_ensemble.labels import EMOTIONS, validate_classes
from expressions_ensemble.sources import PhotoSource, Query, build_source, check_source_keys
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

#: Keys of the ``ingestion`` parameters; any other is a typo and an error.
INGESTION_KEYS = frozenset({"keyword_variants", "duplicate_label_policy", "drop_classes", "sources"})

_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
#: Longest source id kept as it is, and longest readable stem before the hash of an id made safe.
MAX_ID_LENGTH = 120
MAX_STEM_LENGTH = 80
#: Hex digits of the hash of the whole source id in an id made safe (48 bits: no clash among millions).
ID_HASH_LENGTH = 12


def image_id_for(source_id: str) -> str:
    """A file-name-safe image id, stable and unique for each id a source gives a photo.

    A source id that is already a safe file name (a service's ``12345``, the simulator's hex ids) is the
    image id, so photos stored by earlier runs are found again. Any other becomes a readable ASCII stem
    plus a hash of the whole source id, keeping an image extension (``happy/été 1.jpg`` ->
    ``happy_ete_1-<hash>.jpg``): stripping alone made ``été 1.jpg`` and ``ütü 1.jpg`` one file.
    """
    if _SAFE.fullmatch(source_id) and len(source_id) <= MAX_ID_LENGTH:
        return source_id
    suffix = PurePosixPath(source_id).suffix
    ext = suffix.lower() if suffix.lower() in IMAGE_SUFFIXES else ""
    stem = source_id[: -len(suffix)] if ext else source_id
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    safe = _UNSAFE.sub("_", ascii_stem).strip("._-")[:MAX_STEM_LENGTH].rstrip("._-")
    digest = hashlib.sha256(source_id.encode()).hexdigest()[:ID_HASH_LENGTH]
    return f"{safe}-{digest}{ext}" if safe else f"{digest}{ext}"


def _file_name(image_id: str, fmt: str) -> str:
    """Store a photo under its id, adding the extension of its format unless the id has one."""
    return (
        image_id
        if PurePosixPath(image_id).suffix.lower() in IMAGE_SUFFIXES
        else image_id + extension_for(fmt)
    )


def check_ingestion_parameters(ingestion: Mapping[str, Any]) -> None:
    """Fail on an unknown key of ``ingestion`` or of any source entry, and on bad ``drop_classes``.

    Run by each source's first node, before anything is written: a typo must never overwrite a good
    manifest with one read under the wrong settings.
    """
    if unknown := sorted(set(map(str, ingestion)) - INGESTION_KEYS):
        raise ValueError(
            f"{', '.join(f'ingestion.{key}' for key in unknown)}: unknown key; "
            f"allowed: {', '.join(sorted(INGESTION_KEYS))}"
        )
    sources = ingestion.get("sources") or {}
    if not isinstance(sources, Mapping):
        raise ValueError("ingestion.sources: expected a mapping of source name to its parameters")
    for name, entry in sources.items():
        # a disabled entry without a kind (an env switching off what it never defined): nothing to check
        if isinstance(entry, Mapping) and "kind" not in entry and entry.get("enabled", True) is False:
            continue
        check_source_keys(str(name), entry)
        drop_classes(str(name), entry, ingestion)


def drop_classes(source_name: str, source: Mapping[str, Any], ingestion: Mapping[str, Any]) -> frozenset[str]:
    """The canonical emotions whose photos a source drops: its own ``drop_classes``, else ingestion's.

    The study dropped neutral and disgust; a dropped photo stays in the manifest as ``class_dropped``.
    """
    key = f"ingestion.sources.{source_name}.drop_classes"
    if "drop_classes" not in source:
        key, value = "ingestion.drop_classes", ingestion.get("drop_classes")
    else:
        value = source["drop_classes"]
    if value is None or (isinstance(value, list | tuple) and not value):
        return frozenset()
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{key}: expected a list of emotions, got {value!r}; allowed: {', '.join(EMOTIONS)}")
    return frozenset(validate_classes(value, key))


def plan_searches(source_name: str, source: Mapping[str, Any], ingestion: Mapping[str, Any]) -> pd.DataFrame:
    """The queries of one source as a table (empty for a labelled folder), once the parameters are checked."""
    check_ingestion_parameters(ingestion)
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

    Returns the new or changed photos (file name -> bytes) and one row per hit with its fetch status.
    A photo already stored (same image id) is read back instead of fetched again, so re-runs skip
    downloads; a local folder's files are read again instead (they may have been replaced).
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
    owner: dict[str, str] = {}  # image id -> the source id it was made from
    rows = []
    n_fetched = n_reused = 0
    for hit in tqdm(src.hits(queries), desc=f"{source_name}: hits", unit="hit", leave=False, disable=None):
        image_id = image_id_for(hit.source_id)
        if owner.setdefault(image_id, hit.source_id) != hit.source_id:
            raise ValueError(
                f"{source_name}: photos {owner[image_id]!r} and {hit.source_id!r} get the same image id "
                f"{image_id!r}; rename one of them"
            )
        if image_id not in seen:
            info: dict[str, Any] = dict.fromkeys(("sha256", "width", "height", "format", "n_bytes", "path"))
            info["fetch_status"] = "ok"
            try:
                reuse = src.reuse_stored and image_id in stored
                if reuse:
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
                if not reuse and (name not in existing or existing[name] != data):
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
        "%s: %d hits, %d photos fetched (%d new or changed), %d already stored",
        source_name, len(rows), n_fetched, len(new), n_reused,
    )  # fmt: skip
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


def build_photo_manifest(
    source_name: str, hits: pd.DataFrame, source: Mapping[str, Any], ingestion: Mapping[str, Any]
) -> pd.DataFrame:
    """One row per hit with its outcome; exactly one ``kept`` row per distinct photo content.

    Outcomes: ``kept``; ``duplicate`` (same sha256 as the kept row, named in ``duplicate_of``);
    ``label_conflict`` (copies disagree and the policy is ``drop``); ``unlabelled`` / ``unknown_label``;
    ``class_dropped`` (its label is in the source's ``drop_classes``; a copy under a kept class still
    wins); or the fetch status (``fetch_failed``, ``empty_file``, ``not_an_image``, ``truncated``,
    ``too_large``).
    """
    dropped = drop_classes(source_name, source, ingestion)
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
    manifest.loc[manifest["weak_label"].isin(dropped), "outcome"] = "class_dropped"
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
    logger.info("%s: photo manifest outcomes: %s", source_name, counts)
    return manifest[MANIFEST_COLUMNS]
