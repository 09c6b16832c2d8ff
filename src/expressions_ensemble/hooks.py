"""Project hooks."""

from __future__ import annotations

import difflib
import logging
import pkgutil
from collections.abc import Mapping
from typing import Any

from kedro.framework.context import KedroContext
from kedro.framework.hooks import hook_impl

from expressions_ensemble import pipelines as pipeline_packages
from expressions_ensemble import variants

logger = logging.getLogger(__name__)

#: Top-level parameter keys that are not a pipeline's name: ``evaluation`` (scoring batch sizes, read
#: by the ensemble pipeline's matrix, kept apart so every scorer can share it).
SHARED_PARAMETER_KEYS = frozenset({"evaluation"})


def known_parameter_keys() -> frozenset[str]:
    """Each pipeline's own key (its package name under ``pipelines/``, so a new pipeline needs no list)
    and the shared keys."""
    names = {m.name for m in pkgutil.iter_modules(pipeline_packages.__path__) if m.ispkg}
    return frozenset(n for n in names if not n.startswith("_")) | SHARED_PARAMETER_KEYS


def check_top_level_keys(parameters: Mapping[str, Any], env: str | None) -> None:
    """Fail on a top-level parameter key no pipeline reads: a typo (``trainig:``) would otherwise be
    ignored and the run go on with the defaults it meant to change."""
    allowed = known_parameter_keys()
    unknown = sorted(set(map(str, parameters)) - allowed)
    if unknown:
        hints = "".join(
            f" ({key!r}: did you mean {close[0]!r}?)"
            for key in unknown
            if (close := difflib.get_close_matches(key, allowed, n=1))
        )
        raise ValueError(
            f"parameters of env {env!r}: unknown top-level key(s) {', '.join(map(repr, unknown))}{hints}; "
            f"allowed: {', '.join(sorted(allowed))}"
        )


class SourceVariantsHook:
    """Check the top-level parameter keys and record the environment's enabled sources before the
    pipelines are registered (see :mod:`variants`)."""

    @hook_impl
    def after_context_created(self, context: KedroContext) -> None:
        parameters = context.config_loader["parameters"]
        check_top_level_keys(parameters, context.env)
        if variants.record_parameters(parameters):
            from kedro.framework.project import pipelines

            # Pipelines registered for another environment's sources in this process are stale.
            pipelines.configure(pipelines._pipelines_module)
        logger.info(
            "Variants of env %r: sources %s; baselines %s",
            context.env,
            ", ".join(variants.active_sources()) or "none",
            ", ".join(variants.active_baselines()) or "none",
        )
