"""Movie evaluation: every model on every film, in one decode pass per film."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
