"""Reporting: per-frame predictions into the study's figures, ecological-validity metrics and an HTML page."""

from expressions_ensemble.pipelines.reporting.pipeline import create_pipeline

__all__ = ["create_pipeline"]
