"""Training: one recipe for every weak-label source, tracked in MLflow."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
