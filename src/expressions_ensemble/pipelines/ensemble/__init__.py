"""Ensemble: trained models combined into ensembles, and every model scored on every test set."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
