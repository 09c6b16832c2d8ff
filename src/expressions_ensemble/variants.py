"""Which variants (Kedro namespaces) the active conf env enables: photo sources and comparison datasets.

The pipelines are instantiated once per enabled source (``sim_v1``, ``pexels_v2``, …) and once per
comparison dataset (``lab``, ``fer2013``, …), so their shape depends on configuration: ``kedro run
--env paper`` must build the paper's namespaces. A hook records the parameters of the session's
environment before the pipelines are registered; commands that register pipelines without a session
(``kedro registry list``) fall back to reading the configuration of ``KEDRO_ENV`` themselves.
"""

from __future__ import annotations

import copy
import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

#: ``role`` of a source: trained (and a test set by its validation split), or a test set only.
ROLES = ("train", "test")

#: ``members`` value of an ensemble meaning every enabled weak-label source of the environment.
ALL_SOURCES = "weak_label_sources"

logger = logging.getLogger(__name__)

#: variant kind -> (top-level parameter key, nested key holding the named entries)
KINDS = {
    "sources": ("ingestion", "sources"),
    "baselines": ("baselines", "datasets"),
    "ensembles": ("ensemble", "ensembles"),
}

_recorded: dict[str, Any] | None = None


def _enabled(parameters: Mapping[str, Any], kind: str) -> list[str]:
    top, nested = KINDS[kind]
    entries = (parameters.get(top) or {}).get(nested) or {}
    where = f"{top}.{nested}"
    if not isinstance(entries, Mapping):
        raise ValueError(f"{where} must be a mapping of name to its parameters")
    names = []
    for name, spec in entries.items():
        if not _NAME.match(str(name)):
            raise ValueError(f"{where}: {name!r} is not a valid namespace (lower-case letters, digits, '_')")
        if isinstance(spec, Mapping) and spec.get("enabled", True):
            names.append(str(name))
    return sorted(names)


def enabled_sources(parameters: Mapping[str, Any]) -> list[str]:
    """Names of the enabled sources in ``ingestion.sources``, validated as namespaces."""
    return _enabled(parameters, "sources")


def enabled_baselines(parameters: Mapping[str, Any]) -> list[str]:
    """Names of the enabled comparison datasets in ``baselines.datasets``; none may clash with a source."""
    names = _enabled(parameters, "baselines")
    if clash := sorted(set(names) & set(enabled_sources(parameters))):
        raise ValueError(f"baselines.datasets: {clash} are also source names; namespaces must be unique")
    return names


def test_only_sources(parameters: Mapping[str, Any]) -> list[str]:
    """Enabled sources with ``role: test``: ingested and face-extracted, never trained, scored on whole
    (e.g. the hand-labelled muxspace photos as an in-the-wild test set)."""
    entries = parameters["ingestion"]["sources"] if enabled_sources(parameters) else {}
    out = []
    for name in enabled_sources(parameters):
        role = entries[name].get("role", "train")
        if role not in ROLES:
            raise ValueError(f"ingestion.sources.{name}.role: got {role!r}; allowed: {', '.join(ROLES)}")
        if role == "test":
            if entries[name].get("bagging") is not None:
                raise ValueError(f"ingestion.sources.{name}: a source with role test cannot have bagging")
            out.append(name)
    return out


def enabled_bags(parameters: Mapping[str, Any], kind: str) -> dict[str, tuple[str, int]]:
    """Bag namespaces of the enabled sources (``kind="sources"``) or comparison datasets that ask for
    ``bagging``: ``{"<parent>_bag<i>": (parent, i)}``."""
    from expressions_ensemble.training.bagging import BaggingParams, bag_names

    top, nested = KINDS[kind]
    entries = (parameters.get(top) or {}).get(nested) or {}
    names = enabled_sources(parameters) if kind == "sources" else enabled_baselines(parameters)
    out: dict[str, tuple[str, int]] = {}
    for parent in names:
        bagging = entries[parent].get("bagging")
        if bagging is None:
            continue
        key = f"{top}.{nested}.{parent}.bagging"
        if not isinstance(bagging, Mapping):
            raise ValueError(f"{key}: expected a mapping with k (and boost, seed)")
        params = BaggingParams.from_params(bagging, key)
        out |= {name: (parent, i) for i, name in enumerate(bag_names(parent, params.k), start=1)}
    return out


def enabled_ensembles(parameters: Mapping[str, Any]) -> dict[str, list[str]]:
    """Enabled ensembles in ``ensemble.ensembles`` with their members; every member must be a trained
    model of the environment (a source, a comparison dataset or a bag), every name a new namespace."""
    from expressions_ensemble.models.ensemble import EnsembleParams

    names = _enabled(parameters, "ensembles")
    trained_sources = set(enabled_sources(parameters)) - set(test_only_sources(parameters))
    models = (
        trained_sources | set(enabled_baselines(parameters))
        | set(enabled_bags(parameters, "sources")) | set(enabled_bags(parameters, "baselines"))
    )  # fmt: skip
    if clash := sorted(set(names) & (models | set(enabled_sources(parameters)))):
        raise ValueError(f"ensemble.ensembles: {clash} are also model names; namespaces must be unique")
    entries = parameters["ensemble"]["ensembles"] if names else {}
    out = {}
    for name in names:
        key = f"ensemble.ensembles.{name}"
        entry = dict(entries[name])
        if entry.get("members") == ALL_SOURCES:
            tests = set(test_only_sources(parameters))
            entry["members"] = [m for m in enabled_sources(parameters) if m not in tests]
            if len(entry["members"]) < 2:
                logger.warning(
                    "%s: members %r names %d source(s) in this environment; an ensemble needs 2, skipped",
                    key, ALL_SOURCES, len(entry["members"]),
                )  # fmt: skip
                continue
        members = EnsembleParams.from_params(entry, key).members
        if unknown := [m for m in members if m not in models]:
            raise ValueError(
                f"{key}.members: {unknown} are not trained in this environment; allowed: {sorted(models)}"
            )
        out[name] = list(members)
    return out


def trained_models(found: Mapping[str, Any]) -> dict[str, str]:
    """Every model the environment trains or builds, and what it is (weak_label, bag, baseline, ensemble)."""
    tests = set(found["test_sources"])
    kinds = {s: "weak_label" for s in found["sources"] if s not in tests}
    kinds |= {b: "bag" for b in found["source_bags"]}
    kinds |= {d: "baseline" for d in found["baselines"]}
    kinds |= {b: "bag" for b in found["baseline_bags"]}
    kinds |= {e: "ensemble" for e in found["ensembles"]}
    return kinds


def film_models(parameters: Mapping[str, Any], models: Mapping[str, str]) -> list[str]:
    """The models ``movie_eval.models`` names (``all``: every model of the env), each one that exists."""
    wanted = (parameters.get("movie_eval") or {}).get("models", "all")
    if wanted == "all":
        return list(models)
    if isinstance(wanted, str) or not isinstance(wanted, list) or not wanted:
        raise ValueError(f"movie_eval.models: got {wanted!r}; allowed: all, or a list of model names")
    if unknown := [m for m in wanted if m not in models]:
        raise ValueError(
            f"movie_eval.models: {unknown} are not models of this environment; allowed: {list(models)}"
        )
    return [str(m) for m in wanted]


def _find(parameters: Mapping[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {
        "sources": enabled_sources(parameters),
        "test_sources": test_only_sources(parameters),
        "baselines": enabled_baselines(parameters),
        "source_bags": enabled_bags(parameters, "sources"),
        "baseline_bags": enabled_bags(parameters, "baselines"),
        "ensembles": enabled_ensembles(parameters),
    }
    found["models"] = trained_models(found)
    found["film_models"] = film_models(parameters, found["models"])
    simulated = ((parameters.get("movie_eval") or {}).get("simulated_films") or {}).get("enabled", False)
    if not isinstance(simulated, bool):
        raise ValueError(f"movie_eval.simulated_films.enabled: got {simulated!r}; allowed: true or false")
    found["simulated_films"] = simulated
    return found


def record_parameters(parameters: Mapping[str, Any]) -> bool:
    """Remember the session's variants; True when they differ from what was recorded before."""
    global _recorded
    found = _find(parameters)
    changed = found != _recorded
    _recorded = found
    return changed


def _active(kind: str) -> Any:
    if _recorded is not None:
        return copy.deepcopy(_recorded[kind])
    from kedro.config import OmegaConfigLoader
    from kedro.utils import find_kedro_project

    project = find_kedro_project(Path.cwd()) or Path(__file__).resolve().parents[2]
    loader = OmegaConfigLoader(
        conf_source=str(Path(project) / "conf"),
        env=os.environ.get("KEDRO_ENV"),
        base_env="base",
        default_run_env="local",
    )
    return _find(loader["parameters"])[kind]


def active_sources() -> list[str]:
    """Enabled sources of the current session (or of ``KEDRO_ENV`` when no session recorded any)."""
    return _active("sources")


def active_baselines() -> list[str]:
    """Enabled comparison datasets of the current session (or of ``KEDRO_ENV``)."""
    return _active("baselines")


def active_test_sources() -> list[str]:
    """Enabled sources with ``role: test`` (scored, never trained)."""
    return _active("test_sources")


def active_bags(kind: str) -> dict[str, tuple[str, int]]:
    """Bags of the session's sources (``kind="sources"``) or comparison datasets (``"baselines"``)."""
    return _active("source_bags" if kind == "sources" else "baseline_bags")


def active_models() -> dict[str, str]:
    """Every model of the session's environment and its kind (see :func:`trained_models`)."""
    return _active("models")


def active_film_models() -> list[str]:
    """The models the film evaluation runs."""
    return _active("film_models")


def simulated_films_enabled() -> bool:
    """Whether the film evaluation renders the simulator's films (the offline default)."""
    return _active("simulated_films")


def active_ensembles() -> dict[str, list[str]]:
    """Enabled ensembles of the current session (or of ``KEDRO_ENV``), with their members."""
    return _active("ensembles")
