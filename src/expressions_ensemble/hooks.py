"""Project hooks."""

from __future__ import annotations

import logging

from kedro.framework.context import KedroContext
from kedro.framework.hooks import hook_impl

from expressions_ensemble import variants

logger = logging.getLogger(__name__)


class SourceVariantsHook:
    """Record the environment's enabled sources before pipelines are registered (see :mod:`variants`)."""

    @hook_impl
    def after_context_created(self, context: KedroContext) -> None:
        if variants.record_parameters(context.config_loader["parameters"]):
            from kedro.framework.project import pipelines

            # Pipelines registered for another environment's sources in this process are stale.
            pipelines.configure(pipelines._pipelines_module)
        logger.info(
            "Variants of env %r: sources %s; baselines %s",
            context.env,
            ", ".join(variants.active_sources()) or "none",
            ", ".join(variants.active_baselines()) or "none",
        )
