"""Baselines: the same recipe on curated comparison datasets (FER2013, RAF-DB, Aff-Wild2, the lab look)."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
