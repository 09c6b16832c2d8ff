"""Search plans: keyword variants (the study's v1, v2, …) turned into the queries a source runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from expressions_ensemble.labels import normalise_label
from expressions_ensemble.sources.base import Query

SEARCH_KINDS_WITHOUT_PLAN = ("folder",)


def _variant_names(value: Any, key: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Sequence) and value and all(isinstance(v, str) for v in value):
        return list(value)
    raise ValueError(f"{key}: expected a keyword variant name or a list of names, got {value!r}")


def build_search_plan(
    source_name: str, source: Mapping[str, Any], keyword_variants: Mapping[str, Any]
) -> list[Query]:
    """The queries of one source, in a stable order; a folder source has none.

    Every keyword stands for the emotion it is listed under; ``variant`` may name several variants
    (e.g. v1 + v2), whose queries are concatenated with exact repeats removed.
    """
    if source.get("kind") in SEARCH_KINDS_WITHOUT_PLAN:
        return []
    key = f"ingestion.sources.{source_name}.variant"
    if "variant" not in source:
        raise ValueError(f"{key} is required; allowed: {', '.join(sorted(keyword_variants))}")
    plan: list[Query] = []
    seen: set[str] = set()
    for variant in _variant_names(source["variant"], key):
        if variant not in keyword_variants:
            raise ValueError(
                f"{key}: unknown keyword variant {variant!r}; allowed: {', '.join(sorted(keyword_variants))}"
            )
        spec = keyword_variants[variant]
        template = spec.get("template", "{keyword}")
        if "{keyword}" not in template:
            raise ValueError(f"ingestion.keyword_variants.{variant}.template must contain '{{keyword}}'")
        keywords = spec.get("keywords") or {}
        if not keywords:
            raise ValueError(f"ingestion.keyword_variants.{variant}.keywords is empty")
        for emotion, words in keywords.items():
            label = normalise_label(emotion)
            if label is None:
                raise ValueError(
                    f"ingestion.keyword_variants.{variant}.keywords: {emotion!r} is not an emotion"
                )
            for word in [words] if isinstance(words, str) else words:
                text = template.format(keyword=word, emotion=label)
                if text not in seen:
                    seen.add(text)
                    plan.append(Query(query=text, keyword=str(word), weak_label=label))
    return plan
